// The compiler runs here, off the page's thread: typing never waits for it.
// Messages in:  {kind: 'check', seq, files}          -> lint, then (no errors, still latest) render
//               {kind: 'call', id, op, args}          -> one protocol call (explain, version, trace...)
// Messages out: {kind: 'lint'|'render', seq, response, ms}, {kind: 'reply', id, response, ms},
//               {kind: 'fatal', message}
import init, * as svcintent from 'svcintent-pkg/svcintent.js';
import wasmUrl from 'svcintent-pkg/svcintent_bg.wasm?url';

const ready = init({ module_or_path: wasmUrl });
let latest = 0;

const OPS = {
  lint: (files) => svcintent.lint(files),
  render: (files) => svcintent.render(files),
  explain: (code) => svcintent.explain(code),
  trace: (files, service) => svcintent.trace(files, service),
  schema: () => svcintent.schema(),
  version: () => svcintent.version(),
};

function timed(fn) {
  const t0 = performance.now();
  const response = fn();
  return { response, ms: performance.now() - t0 };
}

// Lets messages that arrived meanwhile be delivered, so a superseded check can be dropped.
const yieldToQueue = () => new Promise((resolve) => setTimeout(resolve, 0));

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.kind === 'check') latest = Math.max(latest, msg.seq);
  try {
    await ready;
  } catch (err) {
    self.postMessage({ kind: 'fatal', message: `cannot load the compiler: ${err}` });
    return;
  }
  try {
    if (msg.kind === 'check') {
      if (msg.seq !== latest) return;
      const lint = timed(() => svcintent.lint(msg.files));
      self.postMessage({ kind: 'lint', seq: msg.seq, ...lint });
      const hasErrors = (lint.response.diagnostics || []).some((d) => d.severity === 'error');
      if (hasErrors || !lint.response.ok) return;
      await yieldToQueue();
      if (msg.seq !== latest) return;
      const render = timed(() => svcintent.render(msg.files));
      self.postMessage({ kind: 'render', seq: msg.seq, ...render });
    } else if (msg.kind === 'call') {
      const op = OPS[msg.op];
      if (!op) throw new Error(`unknown op ${msg.op}`);
      self.postMessage({ kind: 'reply', id: msg.id, ...timed(() => op(...msg.args)) });
    }
  } catch (err) {
    self.postMessage({ kind: 'fatal', message: `compiler call failed: ${err}` });
  }
};
