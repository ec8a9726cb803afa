// Budgets of the playground, measured (never asserted in tests):
//   lint of a site with a 300-line services file  <= 5 ms p95 (in the worker)
//   full preview render of examples/campus         <= 50 ms p95
//
//   node bench/bench.mjs            # in Debian's chromium: the built page's own worker (npm run build first)
//   node bench/bench.mjs --node     # the same wasm package called directly in Node
//
// Env: SVCINTENT_PKG (default ../wasm/js/pkg-web), BENCH_RUNS (default 200).
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const RUNS = Number(process.env.BENCH_RUNS || 200);
const WARMUP = 20;

function campus() {
  const root = path.join(repo, 'examples/campus');
  const files = ['site.yaml', 'hosts.yaml', ...readdirSync(path.join(root, 'services')).map((f) => `services/${f}`)];
  return files.map((p) => ({ path: p, text: readFileSync(path.join(root, p), 'utf8') }));
}

/** services/bench.yaml: 30 ten-line services = 301 lines, on the campus hosts. */
function benchFile() {
  const lines = ['services:'];
  for (let i = 0; i < 30; i++) {
    lines.push(
      `  bench${String(i).padStart(2, '0')}:`,
      `    description: Generated service ${i}`,
      '    balancing: haproxy',
      '    mode: http',
      `    vips: [192.0.2.${100 + i}]`,
      '    ports: [80/tcp]',
      '    backend_port: 8080',
      `    backends: [web${(i % 4) + 1}, web${((i + 1) % 4) + 1}]`,
      '    check: { http: { path: /healthz, expect: 200 } }',
      '',
    );
  }
  return { path: 'services/bench.yaml', text: `${lines.join('\n')}` };
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { n: s.length, p50: q(0.5), p95: q(0.95), max: s[s.length - 1] };
}

const CASES = () => {
  const big = [...campus(), benchFile()];
  return [
    { name: 'lint campus + 300-line file', op: 'lint', args: [big], budget: 5 },
    { name: 'lint campus', op: 'lint', args: [campus()], budget: 5 },
    { name: 'render campus (full preview)', op: 'render', args: [campus()], budget: 50 },
    { name: 'render campus + 300-line file', op: 'render', args: [big], budget: 50 },
  ];
};

async function inNode() {
  const pkg = path.resolve(process.env.SVCINTENT_PKG || path.join(repo, 'wasm/js/pkg-web'));
  const mod = await import(path.join(pkg, 'svcintent.js'));
  await mod.default({ module_or_path: readFileSync(path.join(pkg, 'svcintent_bg.wasm')) });
  return async (op, args) => {
    const t0 = performance.now();
    const response = mod[op](...args);
    return { response, ms: performance.now() - t0 };
  };
}

async function inBrowser() {
  const { serve, browser, settled } = await import('../tests/harness.mjs');
  const server = await serve();
  const chrome = await browser();
  const page = await chrome.newPage();
  await page.goto(server.url);
  await settled(page);
  const call = (op, args) => page.evaluate(([o, a]) => window.svcintentPlayground.callTimed(o, ...a), [op, args]);
  call.close = async () => {
    await chrome.close();
    await server.close();
  };
  return call;
}

const mode = process.argv.includes('--node') ? 'node' : 'browser (the page worker)';
const call = process.argv.includes('--node') ? await inNode() : await inBrowser();
console.log(`svcintent playground bench: ${mode}, ${RUNS} runs after ${WARMUP} warm-up`);
for (const c of CASES()) {
  const first = await call(c.op, c.args);
  const errors = (first.response.diagnostics || []).filter((d) => d.severity === 'error');
  if (!first.response.ok || errors.length) throw new Error(`${c.name}: not clean: ${JSON.stringify(errors.slice(0, 3))}`);
  for (let i = 0; i < WARMUP; i++) await call(c.op, c.args);
  const ms = [];
  for (let i = 0; i < RUNS; i++) ms.push((await call(c.op, c.args)).ms);
  const s = stats(ms);
  const verdict = s.p95 <= c.budget ? 'within' : 'OVER';
  console.log(`${c.name.padEnd(32)} p50 ${s.p50.toFixed(2).padStart(7)} ms  p95 ${s.p95.toFixed(2).padStart(7)} ms  max ${s.max.toFixed(2).padStart(7)} ms  (budget ${c.budget} ms: ${verdict})`);
}
await call.close?.();
