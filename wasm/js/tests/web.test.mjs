// The web build (pkg-web, ES module) works too: instantiated from its bytes with initSync, as a
// page or worker does after fetching svcintent_bg.wasm, it gives the nodejs build's answers.
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const pkgWeb = new URL("../pkg-web/", import.meta.url);
const web = await import(new URL("svcintent.js", pkgWeb).href);
const node = require("../pkg-node/svcintent.js");

test("pkg-web: initSync, then the same responses as pkg-node", () => {
  web.initSync({ module: fs.readFileSync(new URL("svcintent_bg.wasm", pkgWeb)) });
  assert.deepEqual(web.version(), node.version());
  assert.match(web.version().text, /^svcintent-core /);
  const files = [
    {
      path: "site.yaml",
      text: fs.readFileSync(
        new URL("../../../tests/fixtures/invalid/SI010_unknown_key_with_suggestion/site.yaml", import.meta.url),
        "utf8",
      ),
    },
  ];
  const r = web.lint(files);
  assert.equal(r.diagnostics[0].code, "SI010");
  assert.deepEqual(r, node.lint(files));
  assert.deepEqual(web.explain("SI020"), node.explain("SI020"));
  const changed = files.map((f) => ({ ...f, text: f.text.replace("prots", "ports") }));
  assert.deepEqual(web.diff(files, changed), node.diff(files, changed));
  assert.match(web.diff(files, changed).error, /^the old site has 1 error\(s\)/);
});

test("pkg-web and pkg-node are the package `svcintent` with types", () => {
  for (const dir of ["../pkg-web/", "../pkg-node/"]) {
    const pkg = JSON.parse(fs.readFileSync(new URL(`${dir}package.json`, import.meta.url), "utf8"));
    assert.equal(pkg.name, "svcintent");
    assert.equal(pkg.types, "svcintent.d.ts");
    const dts = fs.readFileSync(new URL(`${dir}svcintent.d.ts`, import.meta.url), "utf8");
    assert.match(dts, /export function render\(files: InputFile\[\]\): ApiResponse;/);
    assert.match(dts, /export function diff\(oldFiles: InputFile\[\], newFiles: InputFile\[\]\): ApiResponse;/);
  }
});
