// The intent editor: one CodeMirror view, one EditorState per file (each keeps its own undo
// history), tabs to add, rename, delete and switch files, and the compiler's diagnostics as
// squiggles, gutter markers, hover tooltips and a problems list over all files.
import { yaml } from '@codemirror/lang-yaml';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { byteToIndex } from './bytes.js';
import { h } from './dom.js';
import { editorTheme, highlighting } from './highlight.js';

const SEVERITY = { error: 'error', warning: 'warning', info: 'info', note: 'info', help: 'hint', hint: 'hint' };
const RANK = { error: 0, warning: 1, info: 2, hint: 3 };

export class Workspace {
  constructor({ editorEl, tabsEl, problemsEl, countEl, onChange, onExplain }) {
    this.tabsEl = tabsEl;
    this.problemsEl = problemsEl;
    this.countEl = countEl;
    this.onChange = onChange;
    this.onExplain = onExplain;
    this.states = new Map(); // path -> EditorState (the active one lives in the view)
    this.order = [];
    this.active = null;
    this.diagnostics = [];
    this.view = new EditorView({ parent: editorEl, state: EditorState.create({ doc: '' }) });
  }

  extensions() {
    return [
      basicSetup,
      yaml(),
      highlighting,
      editorTheme,
      lintGutter(),
      EditorState.tabSize.of(2),
      EditorView.updateListener.of((u) => {
        if (u.docChanged) this.onChange();
      }),
    ];
  }

  stateOf(path) {
    return path === this.active ? this.view.state : this.states.get(path);
  }

  files() {
    return this.order.map((path) => ({ path, text: this.stateOf(path).doc.toString() }));
  }

  load(files) {
    this.states.clear();
    this.order = [];
    for (const f of files) {
      this.states.set(f.path, EditorState.create({ doc: f.text, extensions: this.extensions() }));
      this.order.push(f.path);
    }
    this.active = null;
    this.diagnostics = [];
    this.open(this.order.find((p) => p.startsWith('services/')) || this.order[0]);
    this.renderProblems();
  }

  open(path) {
    if (!this.states.has(path) && path !== this.active) return false;
    if (this.active && this.active !== path) this.states.set(this.active, this.view.state);
    if (path !== this.active) {
      this.active = path;
      this.view.setState(this.states.get(path));
    }
    this.renderTabs();
    return true;
  }

  /** Opens `file` with the cursor at line/column (1-based; column counts characters). */
  jump(file, line, column = 1) {
    if (!this.open(file)) return;
    const doc = this.view.state.doc;
    const l = doc.line(Math.min(Math.max(1, line), doc.lines));
    const pos = Math.min(l.from + [...l.text].slice(0, column - 1).join('').length, l.to);
    this.view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
    this.view.focus();
  }

  add(path, text) {
    this.states.set(path, EditorState.create({ doc: text, extensions: this.extensions() }));
    this.order.push(path);
    this.open(path);
    this.onChange();
  }

  rename(from, to) {
    const state = this.stateOf(from);
    this.order[this.order.indexOf(from)] = to;
    this.states.delete(from);
    this.states.set(to, state);
    if (this.active === from) this.active = to;
    this.renderTabs();
    this.onChange();
  }

  remove(path) {
    this.order = this.order.filter((p) => p !== path);
    this.states.delete(path);
    if (this.active === path) {
      this.active = null;
      if (this.order.length) this.open(this.order[0]);
      else this.add('site.yaml', '');
    }
    this.renderTabs();
    this.onChange();
  }

  checkPath(path, except) {
    if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\.ya?ml$/.test(path) || path.split('/').some((p) => p === '..' || p === '.'))
      return 'a relative path of letters, digits, . _ - and /, ending in .yaml';
    if (path !== except && this.order.includes(path)) return `${path} already exists`;
    return null;
  }

  worstSeverity(path) {
    let worst = null;
    for (const d of this.diagnostics) {
      if (d.location?.file !== path) continue;
      const sev = SEVERITY[d.severity] || 'info';
      if (worst === null || RANK[sev] < RANK[worst]) worst = sev;
    }
    return worst;
  }

  renderTabs() {
    const input = (value, except, done) => {
      const el = h('input', { class: 'tab-input', value, 'aria-label': 'File name', spellcheck: 'false' });
      const finish = (commit) => {
        if (el.dataset.done) return;
        const name = el.value.trim();
        const problem = commit ? this.checkPath(name, except) : null;
        if (problem) {
          el.setCustomValidity(problem);
          el.reportValidity();
          return;
        }
        el.dataset.done = '1';
        if (commit) done(name);
        else this.renderTabs();
      };
      el.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') finish(true);
        if (e.key === 'Escape') finish(false);
      });
      el.addEventListener('input', () => el.setCustomValidity(''));
      el.addEventListener('blur', () => finish(false));
      setTimeout(() => {
        el.focus();
        el.select();
      });
      return el;
    };
    const tabs = this.order.map((path) => {
      const sev = this.worstSeverity(path);
      const tab = h(
        'div',
        { class: 'tab', role: 'tab', 'data-path': path, 'aria-selected': String(path === this.active) },
        h('button', { type: 'button', class: 'tab-name', title: `${path} (double-click to rename)`, onclick: () => this.open(path) },
          h('span', { class: `dot ${sev || ''}`, 'aria-label': sev || 'clean' }), path),
        h('button', {
          type: 'button', class: 'tab-close', title: `Delete ${path}`, 'aria-label': `Delete ${path}`,
          onclick: () => { if (confirm(`Delete ${path}?`)) this.remove(path); },
        }, '×'),
      );
      tab.querySelector('.tab-name').addEventListener('dblclick', () => {
        tab.replaceChildren(input(path, path, (to) => this.rename(path, to)));
      });
      return tab;
    });
    const add = h('button', { type: 'button', class: 'tab-add', title: 'Add a file', 'aria-label': 'Add a file' }, '+');
    add.addEventListener('click', () => {
      let n = 1;
      while (this.order.includes(`services/new${n}.yaml`)) n++;
      add.replaceWith(input(`services/new${n}.yaml`, null, (path) => this.add(path, 'services:\n  \n')));
    });
    this.tabsEl.replaceChildren(...tabs, add);
  }

  /** Shows the compiler's diagnostics (protocol JSON) in every file and in the problems list. */
  setDiagnostics(diagnostics) {
    this.diagnostics = diagnostics;
    for (const path of this.order) {
      const state = this.stateOf(path);
      const text = state.doc.toString();
      const list = diagnostics.filter((d) => d.location?.file === path).map((d) => this.toCodeMirror(d, text));
      if (path === this.active) this.view.dispatch(setDiagnostics(state, list));
      else this.states.set(path, state.update(setDiagnostics(state, list)).state);
    }
    this.renderTabs();
    this.renderProblems();
  }

  toCodeMirror(d, text) {
    const from = byteToIndex(text, d.location.start);
    const to = Math.max(from, byteToIndex(text, d.location.end));
    return {
      from,
      to,
      severity: SEVERITY[d.severity] || 'info',
      message: `${d.code} ${d.message}${d.help ? `\nhelp: ${d.help}` : ''}`,
      renderMessage: () =>
        h('div', { class: 'diag' },
          h('button', { type: 'button', class: 'code-link', 'data-code': d.code, title: 'Explain this code', onclick: () => this.onExplain(d.code) },
            `${d.code} ${d.name}`),
          h('div', { class: 'diag-message' }, d.message),
          d.label ? h('div', { class: 'diag-label dim' }, d.label) : null,
          d.help ? h('div', { class: 'diag-help' }, h('strong', {}, 'help: '), d.help) : null),
    };
  }

  renderProblems() {
    const sorted = [...this.diagnostics].sort(
      (a, b) =>
        (a.location?.file || '').localeCompare(b.location?.file || '') ||
        (a.location?.line || 0) - (b.location?.line || 0) ||
        (a.location?.column || 0) - (b.location?.column || 0),
    );
    this.countEl.textContent = String(sorted.length);
    this.countEl.dataset.count = String(sorted.length);
    if (!sorted.length) {
      this.problemsEl.replaceChildren(h('li', { class: 'none dim' }, 'No problems.'));
      return;
    }
    this.problemsEl.replaceChildren(
      ...sorted.map((d) => {
        const loc = d.location;
        const sev = SEVERITY[d.severity] || 'info';
        return h('li', { class: `problem ${sev}`, 'data-code': d.code, 'data-file': loc?.file, 'data-line': loc?.line },
          h('span', { class: `sev ${sev}` }, d.severity),
          h('button', { type: 'button', class: 'code-link', 'data-code': d.code, title: 'Explain this code', onclick: () => this.onExplain(d.code) }, d.code),
          h('button', {
            type: 'button', class: 'problem-jump', disabled: !loc,
            onclick: () => loc && this.jump(loc.file, loc.line, loc.column),
          }, h('span', { class: 'problem-message' }, d.message), loc ? h('span', { class: 'loc dim' }, `${loc.file}:${loc.line}:${loc.column}`) : null));
      }),
    );
  }
}
