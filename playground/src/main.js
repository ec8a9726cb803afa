// The playground page: wires the editor, the compiler worker, the preview, the topology picture,
// explanations, sharing and the zip download. Every decision about the intent is the compiler's.
import './style.css';
import { Compiler } from './compiler.js';
import { Workspace } from './editor.js';
import { EXAMPLES, sortFiles } from './examples.js';
import { renderMarkdown } from './markdown.js';
import { Preview } from './preview.js';
import { decodeFragment, encodeFragment, renderZip } from './share.js';
import { Topology } from './topology.js';

const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 120;

let lastRender = null; // the last clean render response
let site = 'site';

function banner(text) {
  $('banner').textContent = text || '';
  $('banner').hidden = !text;
}

// ---- side panels -------------------------------------------------------------------------
function showPanel(name) {
  for (const b of document.querySelectorAll('.side-tabs button')) b.setAttribute('aria-selected', String(b.dataset.panel === name));
  for (const p of ['preview', 'topology', 'explain']) $(`panel-${p}`).hidden = p !== name;
}
for (const b of document.querySelectorAll('.side-tabs button')) b.addEventListener('click', () => showPanel(b.dataset.panel));

// ---- compiler ------------------------------------------------------------------------------
const compiler = new Compiler({
  onLint(response, ms) {
    document.body.dataset.lintMs = ms.toFixed(2);
    if (response.error) banner(`The compiler refused the request: ${response.error}`);
    const diagnostics = response.diagnostics || [];
    workspace.setDiagnostics(diagnostics);
    const errors = diagnostics.some((d) => d.severity === 'error');
    preview.setStale(errors && lastRender !== null);
    document.body.dataset.state = errors ? 'errors' : 'rendering';
    $('timing').textContent = `lint ${ms.toFixed(1)} ms`;
  },
  onRender(response, ms) {
    if (!response.ok) {
      workspace.setDiagnostics(response.diagnostics || []);
      document.body.dataset.state = 'errors';
      return;
    }
    lastRender = response;
    site = response.manifest?.site || site;
    preview.update(response);
    preview.setStale(false);
    topology.update(response.topology);
    $('download').disabled = false;
    $('timing').textContent = `lint ${document.body.dataset.lintMs} ms · render ${ms.toFixed(1)} ms · ${response.files.length} files`;
    document.body.dataset.state = 'clean';
    document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
  },
  onFatal(message) {
    banner(message);
  },
});

let timer = null;
function scheduleCheck() {
  document.body.dataset.state = 'pending';
  clearTimeout(timer);
  timer = setTimeout(() => compiler.check(workspace.files()), DEBOUNCE_MS);
}

async function explain(code) {
  showPanel('explain');
  const r = await compiler.call('explain', code);
  $('explain').classList.remove('dim');
  $('explain').replaceChildren(r.ok && r.text ? renderMarkdown(r.text) : document.createTextNode(r.error || `no explanation for ${code}`));
  $('explain').dataset.code = code;
}

async function trace(service) {
  showPanel('explain');
  const r = await compiler.call('trace', workspace.files(), service);
  const el = $('explain');
  el.classList.remove('dim');
  el.dataset.code = '';
  const pre = document.createElement('pre');
  pre.className = 'trace-text';
  pre.textContent = r.ok && r.text ? r.text : r.error || `no trace for ${service}`;
  const title = document.createElement('h2');
  title.textContent = `trace ${service}`;
  el.replaceChildren(title, pre);
}

const workspace = new Workspace({
  editorEl: $('editor'),
  tabsEl: $('tabs'),
  problemsEl: $('problems'),
  countEl: $('problem-count'),
  onChange: scheduleCheck,
  onExplain: explain,
});

const jumpToIntent = (source) => source && workspace.jump(source.file, source.line, source.column);

const preview = new Preview({
  hostEl: $('host'),
  filesEl: $('host-files'),
  originEl: $('origin'),
  previewEl: $('preview'),
  diffEl: $('diff'),
  staleEl: $('stale'),
  modeFile: $('mode-file'),
  modeDiff: $('mode-diff'),
  baselineBtn: $('set-baseline'),
  onJump: jumpToIntent,
});

const topology = new Topology({
  el: $('topology'),
  cardEl: $('service-card'),
  onJump: jumpToIntent,
  onHost(host) {
    preview.selectHost(host);
    showPanel('preview');
  },
  onTrace: trace,
});

// ---- loading files -------------------------------------------------------------------------
function load(files) {
  lastRender = null;
  preview.reset();
  topology.update(null);
  $('download').disabled = true;
  workspace.load(sortFiles(files));
  scheduleCheck();
}

const select = $('example');
select.replaceChildren(...EXAMPLES.map((e) => new Option(e.title, e.id)));
select.append(new Option('(from a shared link)', 'shared'));
select.addEventListener('change', () => {
  const ex = EXAMPLES.find((e) => e.id === select.value);
  if (ex) {
    history.replaceState(null, '', location.pathname + location.search);
    load(ex.files);
  }
});

function loadFromLocation() {
  let shared = null;
  try {
    shared = decodeFragment(location.hash);
  } catch (err) {
    banner(`The shared link is damaged (${err.message}); the campus example is loaded instead.`);
  }
  if (shared) {
    select.value = 'shared';
    load(shared);
  } else {
    const ex = EXAMPLES.find((e) => e.id === 'campus') || EXAMPLES[0];
    select.value = ex.id;
    load(ex.files);
  }
}
window.addEventListener('hashchange', loadFromLocation);

// ---- share, download, theme ----------------------------------------------------------------
$('share').addEventListener('click', async () => {
  const hash = encodeFragment(workspace.files());
  history.replaceState(null, '', hash);
  const url = location.href;
  $('share-url').value = url;
  $('share-box').hidden = false;
  $('share-url').select();
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    // no clipboard permission: the link is selected in the box
  }
});
$('share-close').addEventListener('click', () => {
  $('share-box').hidden = true;
});

$('download').addEventListener('click', () => {
  if (!lastRender) return;
  const blob = new Blob([renderZip(lastRender)], { type: 'application/zip' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `${site}-render.zip`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
});

const THEMES = ['auto', 'light', 'dark'];
function applyTheme(theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  $('theme').textContent = `Theme: ${theme}`;
}
let theme = localStorage.getItem('svcintent-theme') || 'auto';
applyTheme(theme);
$('theme').addEventListener('click', () => {
  theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  localStorage.setItem('svcintent-theme', theme);
  applyTheme(theme);
});

compiler.call('version').then((r) => {
  $('version').textContent = r.text || '';
});

// Read-only hooks for tests and the browser console.
window.svcintentPlayground = {
  files: () => workspace.files(),
  previewText: () => preview.view.state.doc.toString(),
  previewPath: () => preview.path,
  lastRender: () => lastRender,
  callTimed: (op, ...args) => compiler.callTimed(op, ...args),
};

loadFromLocation();
