// The page's side of the worker: checks (latest wins, stale answers dropped) and one-off calls.
export class Compiler {
  constructor({ onLint, onRender, onFatal }) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.seq = 0;
    this.nextId = 1;
    this.pending = new Map();
    this.worker.onmessage = ({ data }) => {
      if (data.kind === 'lint' || data.kind === 'render') {
        if (data.seq !== this.seq) return; // an older check: a newer one is on its way
        (data.kind === 'lint' ? onLint : onRender)(data.response, data.ms, data.seq);
      } else if (data.kind === 'reply') {
        const p = this.pending.get(data.id);
        this.pending.delete(data.id);
        p?.resolve(data);
      } else if (data.kind === 'fatal') {
        onFatal(data.message);
      }
    };
    this.worker.onerror = (e) => onFatal(`compiler worker failed: ${e.message || e}`);
  }

  /** Lint (and, when clean, render) these files; only the latest check's answers are delivered. */
  check(files) {
    this.seq += 1;
    this.worker.postMessage({ kind: 'check', seq: this.seq, files });
    return this.seq;
  }

  /** One protocol call in the worker; resolves to its response. */
  async call(op, ...args) {
    return (await this.callTimed(op, ...args)).response;
  }

  /** One protocol call; resolves to {response, ms} (ms: the call inside the worker). */
  callTimed(op, ...args) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      this.worker.postMessage({ kind: 'call', id, op, args });
    });
  }
}
