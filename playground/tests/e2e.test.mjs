// End-to-end: the BUILT playground (dist/) in Debian's chromium, served from 127.0.0.1.
// Run: npm run build && node --test tests/
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { unzipSync, strFromU8 } from 'fflate';
import { browser, PLAYGROUND, REPO, serve, settled } from './harness.mjs';

const CAMPUS = path.join(REPO, 'examples/campus');
const GOLDEN = path.join(REPO, 'tests/golden/campus');
const RESULTS = path.join(PLAYGROUND, 'test-results');

let server;
let chrome;
let page;

before(async () => {
  mkdirSync(RESULTS, { recursive: true });
  server = await serve();
  chrome = await browser();
  page = await chrome.newPage();
  await page.goto(server.url);
  await settled(page);
});

after(async () => {
  if (page) await page.screenshot({ path: path.join(RESULTS, 'playground.png') }).catch(() => {});
  await chrome?.close();
  await server?.close();
});

const count = () => page.locator('#problem-count').getAttribute('data-count');

test('the campus example loads and lints clean', async () => {
  assert.equal(await page.locator('#example').inputValue(), 'campus');
  const tabs = await page.locator('.file-tabs .tab').evaluateAll((els) => els.map((e) => e.dataset.path));
  assert.deepEqual(tabs.sort(), ['hosts.yaml', 'site.yaml', ...readdirSync(path.join(CAMPUS, 'services')).map((f) => `services/${f}`)].sort());
  assert.equal(await count(), '0');
  assert.equal(await page.locator('#problems .problem').count(), 0);
});

test('an unknown backend host is marked on its line with its code, and fixing it clears it', async () => {
  const file = 'services/web.yaml';
  const lines = readFileSync(path.join(CAMPUS, file), 'utf8').split('\n');
  const n = lines.findIndex((l) => /^\s*backends: \[web1, web2, web3, web4\]\s*$/.test(l)) + 1;
  assert.ok(n > 0, 'the example has the backends line this test edits');

  await page.locator(`.tab[data-path="${file}"] .tab-name`).click();
  const line = page.locator('#editor .cm-line').nth(n - 1);
  assert.equal(await line.textContent(), lines[n - 1]);
  await line.click();
  await page.keyboard.press('End');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.type(', web9');
  assert.match(await line.textContent(), /web4, web9\]$/);
  await settled(page, 'errors');

  const problem = page.locator(`#problems .problem[data-file="${file}"][data-line="${n}"]`);
  await problem.waitFor();
  const code = await problem.getAttribute('data-code');
  assert.match(code, /^SI\d{3}$/);
  assert.match(await problem.textContent(), /web9/);
  // The squiggle covers exactly `web9` on line n...
  const squiggle = line.locator('.cm-lintRange-error');
  await squiggle.waitFor();
  assert.equal(await squiggle.textContent(), 'web9');
  // ...and the gutter marker sits on line n.
  const marker = page.locator('#editor .cm-gutter-lint .cm-gutterElement:has(.cm-lint-marker-error)');
  assert.equal(await marker.count(), 1);
  const [mb, lb] = [await marker.boundingBox(), await line.boundingBox()];
  assert.ok(Math.abs(mb.y - lb.y) < 3, `gutter marker at y=${mb.y}, line ${n} at y=${lb.y}`);
  // Hovering shows the message with its code; the code opens its explanation.
  await squiggle.hover();
  const tooltip = page.locator('.cm-tooltip-lint');
  await tooltip.waitFor();
  assert.match(await tooltip.textContent(), new RegExp(code));
  await tooltip.locator(`.code-link[data-code="${code}"]`).click();
  await page.waitForFunction((c) => document.getElementById('explain').dataset.code === c && /\S/.test(document.getElementById('explain').textContent), code);
  assert.match(await page.locator('#explain').textContent(), new RegExp(code));
  // The file's tab shows it has an error.
  assert.equal(await page.locator(`.tab[data-path="${file}"] .dot.error`).count(), 1);

  await line.click();
  await page.keyboard.press('End');
  await page.keyboard.press('ArrowLeft');
  for (let i = 0; i < ', web9'.length; i++) await page.keyboard.press('Backspace');
  assert.equal(await line.textContent(), lines[n - 1]);
  await settled(page);
  assert.equal(await count(), '0');
  assert.equal(await line.locator('.cm-lintRange-error').count(), 0);
  assert.equal(await page.locator('#editor .cm-lint-marker-error').count(), 0);
});

test('balancer lb1 gets a haproxy.cfg with the VIP binds of www', async () => {
  await page.locator('.side-tabs button[data-panel="preview"]').click();
  await page.locator('#host').selectOption('lb1');
  await page.locator('.host-file[data-file-path="lb1/etc/haproxy/haproxy.cfg"]').click();
  const text = await page.evaluate(() => window.svcintentPlayground.previewText());
  const golden = readFileSync(path.join(GOLDEN, 'lb1/etc/haproxy/haproxy.cfg'), 'utf8');
  for (const bind of ['bind 192.0.2.10:443 transparent ssl', 'bind [2001:db8:100::10]:80 transparent']) {
    assert.ok(golden.includes(bind), `golden has ${bind}`);
    assert.ok(text.includes(bind), `preview shows ${bind}`);
  }
  assert.equal(text, golden);
});

test('the rendered line under the cursor names its service and source, and jumps to it', async () => {
  await page.locator('#host').selectOption('lb1');
  await page.locator('.host-file[data-file-path="lb1/etc/haproxy/haproxy.cfg"]').click();
  const golden = readFileSync(path.join(GOLDEN, 'lb1/etc/haproxy/haproxy.cfg'), 'utf8').split('\n');
  const n = golden.findIndex((l) => l.includes('bind 192.0.2.10:443')) + 1;
  // Put the preview's cursor on line n through the keyboard: Ctrl+Home, then n-1 lines down.
  await page.locator('#preview .cm-content').click();
  await page.keyboard.press('Control+Home');
  for (let i = 1; i < n; i++) await page.keyboard.press('ArrowDown');
  const origin = page.locator('#origin .origin-info');
  await origin.waitFor();
  assert.equal(await origin.getAttribute('data-service'), 'www');
  const web = readFileSync(path.join(CAMPUS, 'services/web.yaml'), 'utf8').split('\n');
  const defined = web.findIndex((l) => /^  www:/.test(l)) + 1;
  assert.match(await origin.textContent(), new RegExp(`services/web\\.yaml:${defined}\\b`));
  await origin.locator('button.jump').click();
  assert.equal(await page.locator('.tab[aria-selected="true"]').getAttribute('data-path'), 'services/web.yaml');
  assert.equal(await page.locator('#editor .cm-activeLine').textContent(), web[defined - 1]);
});

test('the topology has one node per host, drained hosts marked, and a service path', async () => {
  await page.locator('.side-tabs button[data-panel="topology"]').click();
  const hostsYaml = readFileSync(path.join(CAMPUS, 'hosts.yaml'), 'utf8');
  const hosts = [...hostsYaml.matchAll(/^  ([A-Za-z0-9_-]+):/gm)].map((m) => m[1]).sort();
  assert.ok(hosts.length > 10);
  const nodes = await page.locator('#topology svg [data-host]').evaluateAll((els) => els.map((e) => e.dataset.host));
  assert.deepEqual(nodes.sort(), hosts);
  assert.match(await page.locator('#topology [data-host="lb3"]').getAttribute('class'), /\bdrained\b/);
  assert.doesNotMatch(await page.locator('#topology [data-host="lb1"]').getAttribute('class'), /\bdrained\b/);
  assert.ok((await page.locator('#topology .bgp').count()) > 0, 'BGP sessions drawn');
  await page.locator('#topology [data-service="www"]').click();
  const lit = await page.locator('#topology [data-host].lit').evaluateAll((els) => els.map((e) => e.dataset.host).sort());
  assert.deepEqual(lit, ['lb1', 'lb2', 'lb3', 'web1', 'web2', 'web3', 'web4']);
  assert.ok((await page.locator('#topology .path').count()) >= 3 + 3 * 4);
  assert.ok((await page.locator('#topology .path.drained').count()) >= 1, 'the drained balancer path is drawn as drained');
  // The service card traces where each effective setting of www comes from.
  await page.locator('#service-card button.trace').click();
  await page.waitForFunction(() => /^www:/m.test(document.querySelector('#explain .trace-text')?.textContent || ''));
  assert.match(await page.locator('#explain .trace-text').textContent(), /site\.yaml:\d+:\d+/);
});

test('the share link round-trips the files', async () => {
  await page.locator('.tab[data-path="site.yaml"] .tab-name').click();
  await page.locator('#editor .cm-line').first().click();
  await page.keyboard.press('Control+Home');
  await page.keyboard.type('# shared: ünïcødé ✓\n');
  await settled(page);
  const files = await page.evaluate(() => window.svcintentPlayground.files());
  assert.match(files.find((f) => f.path === 'site.yaml').text, /^# shared: ünïcødé ✓\n/);
  await page.locator('#share').click();
  const url = await page.locator('#share-url').inputValue();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/#z=[A-Za-z0-9_-]+$/);
  const other = await chrome.newPage();
  await other.goto(url);
  await settled(other);
  assert.deepEqual(await other.evaluate(() => window.svcintentPlayground.files()), files);
  assert.equal(await other.locator('#example').inputValue(), 'shared');
  await other.close();
});

test('the zip download is the rendered tree, byte for byte the golden campus tree', async () => {
  // Back to the unmodified example.
  await page.locator('#example').selectOption('tiny');
  await settled(page);
  await page.locator('#example').selectOption('campus');
  await settled(page);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
  const zip = unzipSync(new Uint8Array(readFileSync(await download.path())));
  const golden = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir)) {
      const p = path.join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else golden.push(path.relative(GOLDEN, p));
    }
  };
  walk(GOLDEN);
  assert.deepEqual(Object.keys(zip).sort(), golden.sort());
  for (const rel of golden) assert.equal(strFromU8(zip[rel]), readFileSync(path.join(GOLDEN, rel), 'utf8'), rel);
});

test('a narrow screen still shows the editor and the preview', async () => {
  const narrow = await chrome.newPage();
  await narrow.setViewportSize({ width: 400, height: 800 });
  await narrow.goto(server.url);
  await settled(narrow);
  const width = await narrow.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 400, `no horizontal overflow (scrollWidth ${width})`);
  assert.ok(await narrow.locator('#editor .cm-content').isVisible());
  await narrow.screenshot({ path: path.join(RESULTS, 'playground-narrow.png'), fullPage: true });
  await narrow.close();
});

test('the theme follows the system until the button picks light or dark', async () => {
  const themed = await chrome.newPage();
  await themed.emulateMedia({ colorScheme: 'dark' });
  await themed.goto(server.url);
  await settled(themed);
  const background = () => themed.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const button = themed.locator('#theme');
  assert.equal(await button.textContent(), 'Theme: auto');
  assert.equal(await background(), 'rgb(20, 23, 28)', 'auto + a dark system: the dark palette');
  await button.click();
  assert.equal(await button.textContent(), 'Theme: light');
  assert.equal(await background(), 'rgb(246, 247, 249)', 'light, whatever the system says');
  await button.click();
  assert.equal(await button.textContent(), 'Theme: dark');
  assert.equal(await background(), 'rgb(20, 23, 28)');
  await themed.emulateMedia({ colorScheme: 'light' });
  assert.equal(await background(), 'rgb(20, 23, 28)', 'dark, whatever the system says');
  await themed.screenshot({ path: path.join(RESULTS, 'playground-dark.png') });
  await button.click();
  assert.equal(await button.textContent(), 'Theme: auto');
  assert.equal(await background(), 'rgb(246, 247, 249)', 'auto + a light system: the light palette');
  await themed.close();
});

test('no console errors and no request outside loopback', async () => {
  await page.screenshot({ path: path.join(RESULTS, 'playground.png') });
  assert.deepEqual(chrome.errors, []);
  assert.deepEqual(chrome.outside, []);
  assert.ok(statSync(path.join(RESULTS, 'playground.png')).size > 10_000);
});
