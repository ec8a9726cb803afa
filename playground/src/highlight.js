// Highlighting: YAML through @codemirror/lang-yaml, the rendered configs through one small
// generic highlighter (comments, strings, addresses, numbers, directives); colours come from
// CSS variables so both themes follow the page.
import { StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import { EditorView } from '@codemirror/view';
import { classHighlighter } from '@lezer/highlight';

export const confLanguage = StreamLanguage.define({
  name: 'conf',
  startState: () => ({ first: true, block: false }),
  token(stream, state) {
    if (stream.sol()) state.first = true;
    if (state.block) {
      state.block = !stream.match(/^.*?\*\//);
      if (state.block) stream.skipToEnd();
      return 'comment';
    }
    if (stream.eatSpace()) return null;
    if (stream.match(/^(#|\/\/).*/)) return 'comment';
    if (stream.match('/*')) {
      state.block = !stream.match(/^.*?\*\//);
      if (state.block) stream.skipToEnd();
      return 'comment';
    }
    const wasFirst = state.first;
    state.first = false;
    if (stream.match(/^"(?:[^"\\]|\\.)*"?/) || stream.match(/^'[^']*'?/)) return 'string';
    if (stream.match(/^\[?[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}\]?(?:\/\d+)?(?::\d+)?(?![\w:])/)) return 'number';
    if (stream.match(/^\d{1,3}(?:\.\d{1,3}){3}(?:\/\d+)?(?::\d+)?/)) return 'number';
    if (stream.match(/^\d+(?:\.\d+)?(?:ms|s|m|h|d)?\b/)) return 'number';
    if (stream.match(/^<\/?[A-Za-z]+/) || stream.match(/^>/)) return 'tag';
    if (stream.match(/^[{}()[\];,=]/)) return 'punctuation';
    if (stream.match(/^[A-Za-z_$][\w.\-$]*/)) return wasFirst ? 'keyword' : null;
    stream.next();
    return null;
  },
});

export const highlighting = syntaxHighlighting(classHighlighter);

export const editorTheme = EditorView.theme({
  '&': { height: '100%', fontSize: '13px', backgroundColor: 'var(--bg-editor)', color: 'var(--fg)' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.55' },
  '.cm-gutters': { backgroundColor: 'var(--bg-gutter)', color: 'var(--fg-dim)', borderRight: '1px solid var(--border)' },
  '.cm-activeLine': { backgroundColor: 'var(--bg-active)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--bg-active)' },
  '.cm-cursor': { borderLeftColor: 'var(--fg)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: 'var(--bg-selection) !important' },
  '.cm-tooltip': { backgroundColor: 'var(--bg-panel)', color: 'var(--fg)', border: '1px solid var(--border)' },
  '.cm-panels': { backgroundColor: 'var(--bg-panel)', color: 'var(--fg)' },
});
