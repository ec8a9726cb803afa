// How a page uses the web build (type-checked only, by tsc --noEmit; see tsconfig.json).
import init, { lint, render, type ApiResponse } from "../pkg-web/svcintent.js";

export async function check(yaml: string): Promise<string[]> {
  await init(); // fetches svcintent_bg.wasm next to svcintent.js
  const r: ApiResponse = lint([{ path: "site.yaml", text: yaml }]);
  const out = (r.diagnostics ?? []).map((d) => `${d.location.line}:${d.location.column} ${d.code}`);
  const files = render([{ path: "site.yaml", text: yaml }]).files ?? [];
  return out.concat(files.map((f) => f.path));
}
