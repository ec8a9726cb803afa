// How a page uses the web build (type-checked only, by tsc --noEmit; see tsconfig.json).
import init, { lint, render, diff, type ApiResponse, type SiteDiff } from "../pkg-web/svcintent.js";

export async function check(yaml: string): Promise<string[]> {
  await init(); // fetches svcintent_bg.wasm next to svcintent.js
  const r: ApiResponse = lint([{ path: "site.yaml", text: yaml }]);
  const out = (r.diagnostics ?? []).map((d) => `${d.location.line}:${d.location.column} ${d.code}`);
  const files = render([{ path: "site.yaml", text: yaml }]).files ?? [];
  return out.concat(files.map((f) => f.path));
}

export async function review(before: string, after: string): Promise<string[]> {
  await init();
  const r = diff([{ path: "site.yaml", text: before }], [{ path: "site.yaml", text: after }]);
  const d: SiteDiff | undefined = r.diff;
  return d === undefined ? [r.error ?? "has errors"] : d.changes.map((c) => `${c.kind}: ${c.summary}`);
}
