// How a Node tool uses the package (type-checked only, by tsc --noEmit; see tsconfig.json).
import {
  lint,
  render,
  explain,
  schema,
  version,
  trace,
  diff,
  type ApiResponse,
  type Change,
  type ChangeKind,
  type Diagnostic,
  type FileDiff,
  type FileStatus,
  type InputFile,
  type OutputFile,
  type SiteDiff,
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

const older: InputFile[] = files.map((f) => ({ ...f, text: f.text.replace("65000", "65001") }));
const compared: ApiResponse = diff(older, files);
const siteDiff: SiteDiff | undefined = compared.diff;
if (compared.ok && siteDiff !== undefined) {
  for (const c of siteDiff.changes) {
    const kind: ChangeKind = c.kind;
    lines.push(`${kind.padEnd(9)} ${c.summary}`);
  }
  const changed: FileDiff[] = siteDiff.files.filter((f) => f.status === "changed");
  for (const f of siteDiff.files) {
    const status: FileStatus = f.status;
    lines.push(`${status} ${f.path}`, f.unified);
  }
  lines.push(String(changed.length));
} else {
  lines.push(compared.error ?? "", ...(compared.diagnostics ?? []).map(where));
}
const firstChange: Change | undefined = siteDiff?.changes[0];

// The declarations are not `any`: wrong arguments do not type-check.
// @ts-expect-error files must be InputFile[]
lint("site.yaml");
// @ts-expect-error an InputFile needs its text
render([{ path: "site.yaml" }]);
// @ts-expect-error trace needs a service name
trace(files);
// @ts-expect-error diff needs the old and the new site
diff(files);
// @ts-expect-error the old site must be InputFile[] too
diff("old/", files);
// @ts-expect-error not a change kind
const port: ChangeKind = "port";
// @ts-expect-error not a file status
const status: FileStatus = "modified";
// @ts-expect-error not a field of the response
linted.warnings;

export { lines, text, jsonSchema, v, traced, firstChange, port, status };
