// What each host gets: pick a host and one of its files (read-only, highlighted), see which
// service and which intent line produced the line under the cursor (the render's `origins`),
// and a diff of the whole tree against a baseline render.
import { EditorState } from '@codemirror/state';
import { EditorView, hoverTooltip, lineNumbers, highlightActiveLine, highlightActiveLineGutter } from '@codemirror/view';
import { structuredPatch } from 'diff';
import { h } from './dom.js';
import { confLanguage, editorTheme, highlighting } from './highlight.js';

/** The origins entry that covers 1-based `line` (the last one starting at or before it). */
export function originAt(origins, line) {
  let lo = 0;
  let hi = (origins?.length || 0) - 1;
  let found = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (origins[mid].line <= line) {
      found = origins[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

export class Preview {
  constructor({ hostEl, filesEl, originEl, previewEl, diffEl, staleEl, modeFile, modeDiff, baselineBtn, onJump }) {
    Object.assign(this, { hostEl, filesEl, originEl, previewEl, diffEl, staleEl, modeFile, modeDiff, onJump });
    this.render = null;
    this.baseline = null;
    this.host = null;
    this.path = null;
    this.mode = 'file';
    this.view = new EditorView({ parent: previewEl, state: this.stateFor('', null) });
    hostEl.addEventListener('change', () => this.selectHost(hostEl.value));
    modeFile.addEventListener('click', () => this.setMode('file'));
    modeDiff.addEventListener('click', () => this.setMode('diff'));
    baselineBtn.addEventListener('click', () => {
      this.baseline = this.render;
      this.draw();
    });
  }

  stateFor(text, file) {
    return EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(),
        highlightActiveLine(),
        highlightActiveLineGutter(),
        confLanguage,
        highlighting,
        editorTheme,
        EditorState.readOnly.of(true),
        EditorView.editable.of(true), // keeps a cursor for "where did this line come from"
        EditorView.contentAttributes.of({ 'aria-label': file ? `${file.path} (read-only)` : 'preview' }),
        EditorView.updateListener.of((u) => {
          if (u.selectionSet || u.docChanged) this.showOrigin(u.state);
        }),
        hoverTooltip((view, pos) => {
          const line = view.state.doc.lineAt(pos).number;
          const o = originAt(file?.origins, line);
          if (!o) return null;
          return { pos, above: true, create: () => ({ dom: this.originDom(o, line, false) }) };
        }),
      ],
    });
  }

  /** A new clean render; `stale` says whether the intent now has errors. */
  update(render) {
    this.render = render;
    if (!this.baseline) this.baseline = render;
    this.draw();
  }

  setStale(stale) {
    this.staleEl.hidden = !stale;
  }

  setMode(mode) {
    this.mode = mode;
    this.modeFile.setAttribute('aria-pressed', String(mode === 'file'));
    this.modeDiff.setAttribute('aria-pressed', String(mode === 'diff'));
    this.draw();
  }

  reset() {
    this.render = null;
    this.baseline = null;
    this.draw();
  }

  hosts() {
    return [...new Set((this.render?.files || []).map((f) => f.host))].sort();
  }

  selectHost(host) {
    this.host = host;
    this.path = null;
    this.draw();
  }

  selectFile(path) {
    this.path = path;
    this.draw();
  }

  draw() {
    const files = this.render?.files || [];
    const hosts = this.hosts();
    if (!hosts.includes(this.host)) this.host = hosts.includes('lb1') ? 'lb1' : hosts[0] || null;
    this.hostEl.replaceChildren(...hosts.map((name) => h('option', { value: name, selected: name === this.host }, name)));
    const mine = files.filter((f) => f.host === this.host);
    if (!mine.some((f) => f.path === this.path)) this.path = mine[0]?.path || null;
    const changed = this.changedPaths();
    this.filesEl.replaceChildren(
      ...mine.map((f) =>
        h('li', {},
          h('button', {
            type: 'button', class: 'host-file', 'data-file-path': f.path, 'aria-pressed': String(f.path === this.path),
            title: `${f.target}: ${f.services.join(', ') || 'host-level'}`, onclick: () => this.selectFile(f.path),
          }, f.host_path, changed.has(f.path) ? h('span', { class: 'changed', title: 'differs from the baseline' }, '●') : null)),
      ),
    );
    const file = mine.find((f) => f.path === this.path) || null;
    this.file = file;
    const diff = this.mode === 'diff';
    this.previewEl.hidden = diff;
    this.originEl.hidden = diff;
    this.diffEl.hidden = !diff;
    if (diff) this.drawDiff(changed);
    else if (this.view.state.doc.toString() !== (file?.contents || '') || this.shown !== file) {
      this.shown = file;
      this.view.setState(this.stateFor(file?.contents || '', file));
      this.showOrigin(this.view.state);
    }
  }

  showOrigin(state) {
    const line = state.doc.lineAt(state.selection.main.head).number;
    const o = originAt(this.shown?.origins, line);
    this.originEl.replaceChildren(o ? this.originDom(o, line, true) : h('span', { class: 'dim' }, this.shown?.origins ? `line ${line}: host-level` : 'no origin information'));
  }

  originDom(o, line, withJump) {
    const where = o.source ? `${o.source.file}:${o.source.line}` : null;
    return h('div', { class: 'origin-info', 'data-service': o.service || '' },
      h('span', { class: 'dim' }, `line ${line} · `),
      o.service ? h('span', { class: 'svc' }, `service ${o.service}`) : h('span', {}, 'host-level'),
      where && withJump
        ? h('button', { type: 'button', class: 'jump', title: 'Open the intent', onclick: () => this.onJump(o.source) }, where)
        : where ? h('span', { class: 'dim' }, ` · ${where}`) : null);
  }

  changedPaths() {
    const out = new Set();
    if (!this.render || !this.baseline || this.render === this.baseline) return out;
    const before = new Map(this.baseline.files.map((f) => [f.path, f.contents]));
    for (const f of this.render.files) if (before.get(f.path) !== f.contents) out.add(f.path);
    return out;
  }

  drawDiff(changed) {
    const before = new Map((this.baseline?.files || []).map((f) => [f.path, f.contents]));
    const after = new Map((this.render?.files || []).map((f) => [f.path, f.contents]));
    const removed = [...before.keys()].filter((p) => !after.has(p));
    const summary = h('div', { class: 'diff-summary' },
      changed.size + removed.length === 0
        ? h('p', { class: 'dim' }, 'No change against the baseline (the render when the files were loaded, or "Set baseline").')
        : h('ul', {}, ...[...changed].map((p) => h('li', {}, h('button', { type: 'button', class: 'jump', onclick: () => { const f = this.render.files.find((x) => x.path === p); this.host = f.host; this.path = p; this.draw(); } }, p), before.has(p) ? '' : ' (new)')),
          ...removed.map((p) => h('li', {}, `${p} (removed)`))));
    const body = [summary];
    if (this.path) {
      const patch = structuredPatch(this.path, this.path, before.get(this.path) || '', after.get(this.path) || '', 'baseline', 'now', { context: 3 });
      body.push(h('h3', {}, this.path));
      if (!patch.hunks.length) body.push(h('p', { class: 'dim' }, 'This file is unchanged.'));
      for (const hunk of patch.hunks) {
        body.push(h('div', { class: 'hunk dim' }, `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`));
        body.push(h('pre', { class: 'hunk-lines' }, ...hunk.lines.filter((l) => !l.startsWith('\\')).map((l) =>
          h('div', { class: l[0] === '+' ? 'add' : l[0] === '-' ? 'del' : 'ctx' }, l))));
      }
    }
    this.diffEl.replaceChildren(...body);
  }
}
