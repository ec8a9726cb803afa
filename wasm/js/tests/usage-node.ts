// How a Node tool uses the package (type-checked only, by tsc --noEmit; see tsconfig.json).
import {
  lint,
  render,
  explain,
  schema,
  version,
  trace,
  type ApiResponse,
  type Diagnostic,
  type InputFile,
  type OutputFile,
  type Target,
  type Topology,
} from "../pkg-node/svcintent.js";

const files: InputFile[] = [
  { path: "site.yaml", text: "site: { name: t, asn: 65000 }\n" },
  { path: "services/www.yaml", text: "services: {}\n" },
];

function where(d: Diagnostic): string {
  const l = d.location;
  const help = d.help === undefined ? "" : ` (${d.help})`;
  return `${l.file}:${l.line}:${l.column}: ${d.severity}[${d.code}] ${d.message}${help}`;
}

const linted: ApiResponse = lint(files);
const lines: string[] = (linted.diagnostics ?? []).map(where);

const rendered = render(files);
if (rendered.ok && rendered.files !== undefined) {
  const byTarget = new Map<Target, OutputFile[]>();
  for (const f of rendered.files) {
    byTarget.set(f.target, [...(byTarget.get(f.target) ?? []), f]);
    for (const o of f.origins) {
      const owner: string = o.service ?? "(host)";
      const at: string = o.source === null ? "" : `${o.source.file}:${o.source.line}`;
      lines.push(`${f.path}:${o.line} ${owner} ${at}`);
    }
  }
  const sha: string | undefined = rendered.manifest?.files[0]?.sha256;
  lines.push(sha ?? "");
}

const topology: Topology | undefined = rendered.topology;
if (topology !== undefined) {
  for (const s of topology.services) {
    const kind: "haproxy" | "anycast" = s.balancing;
    lines.push(`${s.name} ${kind} ${s.vips.join(",")} via ${s.announcers.map((a) => a.host).join(",")}`);
  }
  const asn: number = topology.asn;
  lines.push(String(asn), ...topology.sessions.map((x) => `${x.a}-${x.b}`));
}

const text: string | undefined = explain("SI010").text;
const jsonSchema: unknown = JSON.parse(schema().text ?? "{}");
const v: number = version().version;
const traced: string = trace(files, "www").text ?? trace(files, "www").error ?? "";

// The declarations are not `any`: wrong arguments do not type-check.
// @ts-expect-error files must be InputFile[]
lint("site.yaml");
// @ts-expect-error an InputFile needs its text
render([{ path: "site.yaml" }]);
// @ts-expect-error trace needs a service name
trace(files);
// @ts-expect-error not a field of the response
linted.warnings;

export { lines, text, jsonSchema, v, traced };
