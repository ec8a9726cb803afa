// Tests of the built npm package (nodejs target, wasm/js/pkg-node), run with `node --test`
// by scripts/test-js.sh after scripts/build-js.sh. They exercise the wasm module itself, through
// the generated bindings, against the repository's examples, fixtures and golden tree.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..", "..");
const PKG = path.join(ROOT, "wasm", "js", "pkg-node", "svcintent.js");
const svcintent = require(PKG);

/** Every regular file under `dir`, as sorted `/`-separated paths relative to it. */
function walk(dir, prefix = "") {
  const out = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...walk(dir, rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

/** A site directory as the `files` argument. */
function site(dir) {
  const abs = path.join(ROOT, dir);
  return walk(abs).map((p) => ({ path: p, text: fs.readFileSync(path.join(abs, p), "utf8") }));
}

const CAMPUS = site("examples/campus");
const GOLDEN = path.join(ROOT, "tests/golden/campus");

function isPlainObject(v) {
  return v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype;
}

test("the package exports exactly the protocol's operations", () => {
  for (const name of ["lint", "render", "explain", "schema", "version", "trace", "diff"]) {
    assert.equal(typeof svcintent[name], "function", name);
  }
});

test("lint of examples/campus is clean", () => {
  assert.equal(CAMPUS.length, 6, "campus has site.yaml, hosts.yaml and four service files");
  const r = svcintent.lint(CAMPUS);
  assert.equal(r.version, 1);
  assert.equal(r.ok, true);
  assert.equal(r.diagnostics, undefined, JSON.stringify(r.diagnostics));
  assert.equal(r.error, undefined);
});

test("unknown key: SI010 at its exact span, with the suggestion", () => {
  const r = svcintent.lint(site("tests/fixtures/invalid/SI010_unknown_key_with_suggestion"));
  assert.equal(r.ok, false);
  assert.equal(r.diagnostics.length, 1);
  const d = r.diagnostics[0];
  assert.equal(d.code, "SI010");
  assert.equal(d.name, "unknown-key");
  assert.equal(d.severity, "error");
  assert.equal(d.message, "unknown key `prots` in service `www`");
  assert.equal(d.help, "did you mean `ports`?");
  const { start, end, ...where } = d.location;
  assert.deepEqual(where, { file: "site.yaml", line: 13, column: 5, end_line: 13, end_column: 10 });
  // Byte offsets point at the key itself.
  const text = site("tests/fixtures/invalid/SI010_unknown_key_with_suggestion")[0].text;
  assert.equal(Buffer.from(text).subarray(start, end).toString(), "prots");
  assert.deepEqual(d.related, []);
});

test("unknown host reference: SI020 on the misspelled backend", () => {
  const r = svcintent.lint(site("tests/fixtures/invalid/SI020_unknown_backend_host"));
  assert.equal(r.ok, false);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ["SI020"]);
  const d = r.diagnostics[0];
  assert.equal(d.message, "unknown host `wbe2`");
  assert.equal(d.help, "did you mean `web2`?");
  const { file, line, column, end_column } = d.location;
  assert.deepEqual({ file, line, column, end_column }, { file: "site.yaml", line: 12, column: 22, end_column: 26 });
});

test("a service defined in two files: SI015 with the related place in the other file", () => {
  const files = site("tests/fixtures/invalid/SI015_service_defined_in_two_files");
  assert.deepEqual(files.map((f) => f.path), ["services/www.yaml", "site.yaml"]);
  const r = svcintent.lint(files);
  assert.equal(r.ok, false);
  const d = r.diagnostics.find((x) => x.code === "SI015");
  assert.ok(d, JSON.stringify(r.diagnostics));
  assert.equal(d.location.file, "site.yaml");
  assert.equal(d.location.line, 9);
  assert.equal(d.location.column, 3);
  assert.equal(d.label, "defined again here");
  assert.equal(d.related.length, 1);
  assert.equal(d.related[0].message, "first defined here");
  assert.equal(d.related[0].location.file, "services/www.yaml");
  assert.equal(d.related[0].location.line, 2);
  assert.equal(d.related[0].location.column, 3);
});

test("invalid YAML: SI001 where the flow sequence breaks", () => {
  const r = svcintent.lint(site("tests/fixtures/invalid/SI001_unclosed_flow_mapping"));
  assert.equal(r.ok, false);
  const d = r.diagnostics[0];
  assert.equal(d.code, "SI001");
  assert.equal(d.location.line, 9);
  assert.equal(d.location.column, 43);
});

test("render of examples/campus equals tests/golden/campus byte for byte", () => {
  const r = svcintent.render(CAMPUS);
  assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
  assert.equal(r.diagnostics, undefined);

  const golden = walk(GOLDEN).filter((p) => p !== "manifest.json");
  const rendered = r.files.map((f) => f.path);
  assert.deepEqual([...rendered].sort(), golden, "same set of files as the golden tree");
  assert.ok(golden.length >= 100, `golden tree has ${golden.length} files`);
  for (const f of r.files) {
    const want = fs.readFileSync(path.join(GOLDEN, f.path));
    assert.ok(Buffer.from(f.contents, "utf8").equals(want), `${f.path} differs from the golden file`);
    assert.equal(f.path, `${f.host}${f.host_path}`);
  }

  const manifest = JSON.parse(fs.readFileSync(path.join(GOLDEN, "manifest.json"), "utf8"));
  assert.deepEqual(r.manifest, manifest);
  // The manifest's hashes are those of the returned contents.
  const byPath = new Map(r.files.map((f) => [f.path, f]));
  for (const e of r.manifest.files) {
    const f = byPath.get(e.path);
    assert.ok(f, e.path);
    assert.equal(crypto.createHash("sha256").update(f.contents, "utf8").digest("hex"), e.sha256);
    assert.equal(e.target, f.target);
  }
});

test("render with errors returns the diagnostics and no files", () => {
  const r = svcintent.render(site("tests/fixtures/invalid/SI020_unknown_backend_host"));
  assert.equal(r.ok, false);
  assert.equal(r.diagnostics[0].code, "SI020");
  assert.equal(r.files, undefined);
  assert.equal(r.manifest, undefined);
  assert.equal(r.topology, undefined);
});

test("responses are plain objects and arrays, never Map", () => {
  const r = svcintent.render(CAMPUS);
  const seen = [r, r.manifest, r.files[0], r.manifest.files[0]];
  const l = svcintent.lint(site("tests/fixtures/invalid/SI015_service_defined_in_two_files"));
  seen.push(l, l.diagnostics[0], l.diagnostics[0].location, l.diagnostics[0].related[0]);
  for (const v of seen) {
    assert.ok(isPlainObject(v), `not a plain object: ${Object.prototype.toString.call(v)}`);
  }
  assert.ok(Array.isArray(r.files) && Array.isArray(r.manifest.sources));
  // A JSON round trip loses nothing: no Map, undefined-valued key, BigInt or class instance.
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
  assert.deepEqual(JSON.parse(JSON.stringify(l)), l);
});

test("explain returns the documentation of a code, by code or by name", () => {
  const r = svcintent.explain("SI010");
  assert.equal(r.ok, true);
  assert.match(r.text, /^## SI010 unknown-key\n/);
  assert.match(r.text, /Severity: error\./);
  // The same entry as docs/diagnostics.md.
  const docs = fs.readFileSync(path.join(ROOT, "docs/diagnostics.md"), "utf8");
  assert.ok(docs.includes(r.text.split("\n\n")[2]), "the explanation's first paragraph is in docs/diagnostics.md");
  assert.equal(svcintent.explain("unknown-key").text, r.text);
  const bad = svcintent.explain("SI999");
  assert.equal(bad.ok, false);
  assert.match(bad.error, /unknown diagnostic code "SI999"/);
  assert.equal(bad.text, undefined);
});

test("schema is a JSON Schema as JSON text", () => {
  const r = svcintent.schema();
  assert.equal(r.ok, true);
  const schema = JSON.parse(r.text);
  assert.ok(isPlainObject(schema));
  assert.equal(typeof schema.$schema, "string");
  assert.ok(schema.properties && schema.properties.services, Object.keys(schema).join(","));
});

test("version names the core and the protocol", () => {
  const r = svcintent.version();
  assert.equal(r.version, 1);
  assert.equal(r.ok, true);
  assert.match(r.text, /^svcintent-core \d+\.\d+\.\d+ \(protocol 1\)$/);
});

test("trace shows where a service's settings come from", () => {
  const r = svcintent.trace(CAMPUS, "www");
  assert.equal(r.ok, true, r.error);
  assert.match(r.text, /www/);
  assert.match(r.text, /services\/web\.yaml/);
  const bad = svcintent.trace(CAMPUS, "no-such-service");
  assert.equal(bad.ok, false);
  assert.match(bad.error, /no service `no-such-service`/);
});

test("files of the wrong shape throw a descriptive error", () => {
  assert.throws(() => svcintent.lint("site.yaml"), /`files` must be an array of \{path: string, text: string\}/);
  assert.throws(() => svcintent.render([{ path: "site.yaml" }]), /`files` must be an array/);
  assert.throws(() => svcintent.trace([{ path: 1, text: "" }], "www"), /`files` must be an array/);
  assert.throws(() => svcintent.diff("old", CAMPUS), /`oldFiles` must be an array of \{path: string, text: string\}/);
  assert.throws(() => svcintent.diff(CAMPUS, [{ path: "site.yaml" }]), /`newFiles` must be an array/);
});

test("an empty site is reported, not thrown", () => {
  const r = svcintent.lint([]);
  assert.equal(r.ok, false);
  assert.ok(r.diagnostics.length >= 1);
});

test("render: each file's origins map blocks of lines to the services defined in the intent", () => {
  const r = svcintent.render(CAMPUS);
  assert.equal(r.ok, true);
  const sources = new Map(CAMPUS.map((f) => [f.path, f.text.split("\n")]));
  let blocks = 0;
  for (const f of r.files) {
    assert.ok(Array.isArray(f.origins), `${f.path}: origins`);
    const lineCount = f.contents.split("\n").length;
    let previous = 0;
    for (const o of f.origins) {
      assert.ok(isPlainObject(o));
      assert.ok(Number.isInteger(o.line) && o.line > previous && o.line <= lineCount, `${f.path}: line ${o.line}`);
      previous = o.line;
      if (o.service === null) {
        assert.equal(o.source, null);
        continue;
      }
      blocks += 1;
      assert.ok(f.services.includes(o.service), `${f.path}: ${o.service} not in ${f.services}`);
      // The source points at the service's key in its intent file.
      const lines = sources.get(o.source.file);
      assert.ok(lines, `${f.path}: unknown source file ${o.source.file}`);
      const at = lines[o.source.line - 1].slice(o.source.column - 1);
      assert.ok(at.startsWith(`${o.service}:`), `${o.source.file}:${o.source.line}: ${at}`);
    }
  }
  assert.ok(blocks >= 50, `${blocks} service blocks`);
  const haproxy = r.files.find((f) => f.path === "lb1/etc/haproxy/haproxy.cfg");
  const www = haproxy.origins.find((o) => o.service === "www");
  assert.ok(www, "lb1's haproxy.cfg has a www block");
  assert.match(haproxy.contents.split("\n")[www.line - 1], /www/);
});

test("render: the topology describes the site's hosts, sessions and services", () => {
  const t = svcintent.render(CAMPUS).topology;
  assert.ok(isPlainObject(t));
  assert.equal(t.site, "campus");
  assert.equal(t.asn, 65010);
  const hosts = t.hosts.map((h) => h.name);
  assert.deepEqual(hosts, [...hosts].sort(), "hosts sorted by name");
  // Every host with rendered files is in the topology.
  const rendered = new Set(walk(GOLDEN).filter((p) => p.includes("/")).map((p) => p.split("/")[0]));
  for (const h of rendered) assert.ok(hosts.includes(h), h);
  const lb3 = t.hosts.find((h) => h.name === "lb3");
  assert.deepEqual(lb3.roles, ["balancer"]);
  const names = new Set([...hosts, ...t.upstreams.map((u) => u.name)]);
  assert.ok(t.sessions.length > 0);
  for (const s of t.sessions) assert.ok(names.has(s.a) && names.has(s.b), JSON.stringify(s));

  const services = t.services.map((s) => s.name);
  assert.deepEqual(services, [...services].sort(), "services sorted by name");
  const www = t.services.find((s) => s.name === "www");
  assert.equal(www.balancing, "haproxy");
  assert.deepEqual(www.vips, ["192.0.2.10", "2001:db8:100::10"]);
  assert.deepEqual(www.ports, ["80/tcp", "443/tcp"]);
  assert.ok(www.backends.length > 0);
  assert.equal(www.source.file, "services/web.yaml");
  const resolver = t.services.find((s) => s.name === "resolver");
  assert.equal(resolver.balancing, "anycast");
  assert.deepEqual(resolver.backends, []);
  assert.deepEqual(resolver.announcers.map((a) => a.host), ["dns1", "dns2"]);
});

/** examples/campus with `from` replaced by `to` in one file (which must contain it once). */
function campusWith(file, from, to) {
  const files = CAMPUS.map((f) => ({ ...f }));
  const f = files.find((x) => x.path === file);
  assert.ok(f, file);
  assert.equal(f.text.split(from).length, 2, `${file} contains ${JSON.stringify(from)} once`);
  f.text = f.text.replace(from, to);
  return files;
}

test("diff: a site against itself changes nothing", () => {
  const r = svcintent.diff(CAMPUS, CAMPUS);
  assert.equal(r.ok, true, r.error);
  assert.deepEqual(r.diff, { changes: [], files: [] });
  assert.equal(r.diagnostics, undefined);
  assert.equal(r.error, undefined);
  assert.equal(r.files, undefined, "no rendered files, only the diff");
});

test("diff: draining a host is a drain statement and the balancers' haproxy.cfg changes", () => {
  const drained = campusWith(
    "hosts.yaml",
    "web2:  { roles: [web], ipv4",
    "web2:  { roles: [web], drain: true, ipv4",
  );
  const r = svcintent.diff(CAMPUS, drained);
  assert.equal(r.ok, true, r.error ?? JSON.stringify(r.diagnostics));
  assert.deepEqual(r.diff.changes, [{ kind: "drain", summary: "drains web2" }]);
  const paths = r.diff.files.map((f) => f.path);
  assert.deepEqual(paths, [...paths].sort(), "files sorted by path");
  for (const lb of ["lb1", "lb2", "lb3"]) {
    const f = r.diff.files.find((x) => x.path === `${lb}/etc/haproxy/haproxy.cfg`);
    assert.ok(f, `${lb}'s haproxy.cfg changes: ${paths}`);
    assert.equal(f.status, "changed");
    assert.ok(
      f.unified.startsWith(`--- a/${lb}/etc/haproxy/haproxy.cfg\n+++ b/${lb}/etc/haproxy/haproxy.cfg\n@@ `),
      f.unified,
    );
    assert.match(f.unified, /^-\s+server web2 198\.18\.2\.2:8080 .*$/m);
    assert.match(f.unified, /^\+\s+server web2 198\.18\.2\.2:8080 .*disabled$/m);
  }
  // Every changed file's diff names its own path, and is a real unified diff.
  for (const f of r.diff.files) {
    assert.ok(isPlainObject(f));
    assert.ok(f.unified.startsWith(`--- a/${f.path}\n+++ b/${f.path}\n`), f.path);
    assert.match(f.unified, /^@@ -\d+(,\d+)? \+\d+(,\d+)? @@$/m);
  }
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r, "plain objects and arrays");
});

test("diff: a new source in an allowance opens the firewall on the balancers", () => {
  const opened = campusWith(
    "services/web.yaml",
    'allow: [198.18.0.0/15, "2001:db8:ff::/48"]\n    backends: [web1, web2]',
    'allow: [198.18.0.0/15, 203.0.113.0/24, "2001:db8:ff::/48"]\n    backends: [web1, web2]',
  );
  const r = svcintent.diff(CAMPUS, opened);
  assert.equal(r.ok, true, r.error ?? JSON.stringify(r.diagnostics));
  assert.deepEqual(r.diff.changes, [
    { kind: "firewall", summary: "opens 443/tcp from 203.0.113.0/24 on lb1..lb3 (to 192.0.2.11)" },
    { kind: "firewall", summary: "opens 80/tcp from 203.0.113.0/24 on lb1..lb3 (to 192.0.2.11)" },
  ]);
  assert.deepEqual(
    r.diff.files.map((f) => [f.path, f.status]),
    ["lb1", "lb2", "lb3"].map((lb) => [`${lb}/etc/nftables.conf`, "changed"]),
  );
  const lb1 = r.diff.files[0].unified;
  assert.ok(lb1.startsWith("--- a/lb1/etc/nftables.conf\n+++ b/lb1/etc/nftables.conf\n@@ "), lb1);
  assert.match(lb1, /^\+\s+192\.0\.2\.11 \. tcp \. 443 \. 203\.0\.113\.0\/24 comment "intranet",$/m);
  assert.match(lb1, /^\+\s+192\.0\.2\.11 \. tcp \. 80 \. 203\.0\.113\.0\/24 comment "intranet",$/m);
  assert.doesNotMatch(lb1, /^-(?!-- a\/)/m, "only additions");
  // Reversed, the same change closes what it opened.
  const back = svcintent.diff(opened, CAMPUS);
  assert.deepEqual(
    back.diff.changes.map((c) => c.summary),
    r.diff.changes.map((c) => c.summary.replace(/^opens/, "closes")),
  );
});

test("diff: errors in the new site fail with its diagnostics and no diff", () => {
  const broken = campusWith(
    "services/web.yaml",
    "backends: [web1, web2, web3, web4]",
    "backends: [web1, wbe2, web3, web4]",
  );
  const r = svcintent.diff(CAMPUS, broken);
  assert.equal(r.ok, false);
  assert.equal(r.diff, undefined);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ["SI020"]);
  const d = r.diagnostics[0];
  assert.equal(d.message, "unknown host `wbe2`");
  assert.equal(d.location.file, "services/web.yaml");
  assert.equal(d.help, "did you mean `web2`?");
});

test("diff: errors in the old site fail with an error, and the new site's diagnostics", () => {
  const r = svcintent.diff(site("tests/fixtures/invalid/SI020_unknown_backend_host"), CAMPUS);
  assert.equal(r.ok, false);
  assert.equal(r.diff, undefined);
  assert.match(r.error, /^the old site has 1 error\(s\)/);
  assert.equal(r.diagnostics, undefined, "campus, the new site, is clean");
  // The old site's own diagnostics come with it, exactly as lint reports them.
  const old = site("tests/fixtures/invalid/SI020_unknown_backend_host");
  assert.deepEqual(r.old_diagnostics.map((d) => d.code), ["SI020"]);
  assert.deepEqual(r.old_diagnostics, svcintent.lint(old).diagnostics);
});
