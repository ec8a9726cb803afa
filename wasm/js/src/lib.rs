//! svcintent for JavaScript and TypeScript: [`svcintent_core`] behind wasm-bindgen.
//!
//! Each exported function builds one [`api::Request`], serves it with [`api::handle`] and returns
//! the [`api::Response`] as a plain JavaScript object (serde-wasm-bindgen with
//! [`Serializer::json_compatible`], so maps arrive as objects, never `Map`). The shapes are those
//! of the JSON protocol (`docs/abi.md`); the TypeScript declarations below name them. Nothing
//! here decides anything about the intent: that is the core's job.
//!
//! The only error these functions throw is for an argument of the wrong shape (`files`,
//! `oldFiles` or `newFiles` that is not an array of `{path, text}` strings); everything about the intent itself, including a
//! request the core cannot serve, comes back in the response (`ok`, `diagnostics`, `error`).
//!
//! Built with wasm-pack by `scripts/build-js.sh` (`--target web` and `--target nodejs`);
//! documented in `docs/js.md`.

use serde::Serialize;
use serde_wasm_bindgen::Serializer;
use svcintent_core::api::{self, InputFile, Request};
use wasm_bindgen::prelude::{JsError, JsValue, wasm_bindgen};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** One input file: a site-relative `/` path and its YAML text. */
export interface InputFile {
  path: string;
  text: string;
}

export type Severity = "error" | "warning" | "info";

/** A span: 1-based lines, columns in characters (end exclusive), byte offsets. */
export interface Location {
  file: string;
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  start: number;
  end: number;
}

/** A related place of a diagnostic. */
export interface RelatedLabel {
  location: Location;
  message: string;
}

export interface Diagnostic {
  /** Stable code, e.g. `SI010`. */
  code: string;
  /** Kebab-case name of the code, e.g. `unknown-key`. */
  name: string;
  severity: Severity;
  message: string;
  /** Primary location. */
  location: Location;
  /** Primary label text (may be empty). */
  label: string;
  related: RelatedLabel[];
  /** How to fix it. */
  help?: string;
}

export type Target =
  | "haproxy"
  | "bird"
  | "healthchecker"
  | "loopback"
  | "nftables"
  | "icinga2"
  | "apache";

/** A place in the intent: file, 1-based line and column. */
export interface SourceRef {
  file: string;
  line: number;
  column: number;
}

/**
 * A block of a rendered file: lines from `line` up to (not including) the next origin's `line`
 * belong to `service` (`null`: host-level boilerplate).
 */
export interface Origin {
  line: number;
  service: string | null;
  /** Where the service is defined in the intent. */
  source: SourceRef | null;
}

export interface OutputFile {
  /** Path in the output tree, `<host>/<host_path without the leading />`. */
  path: string;
  host: string;
  /** Absolute path on the host. */
  host_path: string;
  target: Target;
  contents: string;
  /** Services that contributed. */
  services: string[];
  /** Per-service blocks, sorted by line (may be empty). */
  origins: Origin[];
}

export interface ManifestEntry {
  path: string;
  host: string;
  host_path: string;
  target: Target;
  /** SHA-256 of the contents, hex. */
  sha256: string;
  services: string[];
  /** A state file: a deployment installs it only where it is missing. */
  state?: boolean;
}

/** What deploying a host means (`manifest.json` `hosts`; docs/deploy.md). */
export interface HostFacts {
  roles: Role[];
  group?: string;
  ipv4: string | null;
  ipv6: string | null;
  drain: boolean;
  announces?: { prefix: string; service: string; withdrawn?: boolean }[];
  sessions?: {
    peer: string;
    kind: "route-reflector" | "rr-client" | "rr-mesh" | "upstream";
    local: string;
    address: string;
    asn: number;
    /** Hold, keepalive, connect delay (seconds). */
    timers: [number, number, number];
  }[];
  accepts?: { client: string; prefixes: string[] }[];
  serves?: { service: string; port: number }[];
  sends?: { service: string; backend: string; port: number }[];
}

export interface ServiceFacts {
  balancing: "haproxy" | "anycast";
  vips: string[];
  deploy: { min_announcers: number; max_in_flight: number };
}

/** `site.deploy`, defaults filled in. */
export interface DeploySettings {
  min_announcers: number;
  max_in_flight: number;
  withdraw_timeout_ms: number;
  bird_undo_timeout_ms: number;
  bird_socket: string;
  haproxy_master_socket: string;
  haproxy_reload: string[];
  apache_reload: string[];
  icinga2_reload: string[];
  healthchecker_restart: string[];
}

/** `manifest.json`. */
export interface Manifest {
  generator: string;
  site: string;
  sources: string[];
  /** Sorted by path. */
  files: ManifestEntry[];
  hosts: Record<string, HostFacts>;
  services: Record<string, ServiceFacts>;
  deploy: DeploySettings;
}

export type Role =
  | "route-reflector"
  | "balancer"
  | "anycast-node"
  | "web"
  | "backend"
  | "monitoring";

export interface TopologyHost {
  name: string;
  roles: Role[];
  group: string;
  ipv4: string | null;
  ipv6: string | null;
  drained: boolean;
}

export interface TopologyUpstream {
  name: string;
  address: string;
  asn: number;
}

/** A BGP session; `b` may be an upstream name. */
export interface TopologySession {
  a: string;
  b: string;
}

export interface TopologyHostRef {
  host: string;
  drained: boolean;
}

export interface TopologyService {
  name: string;
  description: string | null;
  balancing: "haproxy" | "anycast";
  vips: string[];
  /** `80/tcp`, ... */
  ports: string[];
  /** The balancers of its group, or its anycast nodes. */
  announcers: TopologyHostRef[];
  /** Empty for anycast services. */
  backends: TopologyHostRef[];
  source: SourceRef | null;
}

/** The site as a graph (render without errors). Arrays sorted; hosts and services by name. */
export interface Topology {
  site: string;
  asn: number;
  hosts: TopologyHost[];
  upstreams: TopologyUpstream[];
  sessions: TopologySession[];
  services: TopologyService[];
}

/**
 * What a change statement is about; statements come grouped by kind, in this order:
 * `host` (hosts added, removed, given other roles or addresses), `service` (services added or
 * removed, their balancing, VIPs and ports), `backend` (backends and anycast nodes added or
 * removed, weights), `drain` (hosts, and hosts within a service, drained or undrained),
 * `announce` (VIPs announced or withdrawn, per service and announcing hosts), `session` (BGP
 * sessions), `firewall` (openings and closings per port and source).
 */
export type ChangeKind =
  | "host"
  | "service"
  | "backend"
  | "drain"
  | "announce"
  | "session"
  | "firewall";

/** One statement about what a change does on the network. */
export interface Change {
  kind: ChangeKind;
  /** `drains web2 from www`, `opens 636/tcp from anywhere on lb1..lb3 (to 192.0.2.36)`, ... */
  summary: string;
}

/** `added`: only in the new tree; `removed`: only in the old one; `changed`: other contents. */
export type FileStatus = "added" | "removed" | "changed";

/** One rendered file that changes. */
export interface FileDiff {
  /** Path in the output tree, `<host>/<host_path without the leading />`. */
  path: string;
  status: FileStatus;
  /**
   * Unified diff, 3 lines of context: `--- a/<path>` / `+++ b/<path>` (`/dev/null` for the side
   * of an added or removed file).
   */
  unified: string;
}

/**
 * What changes from one site to another (diff, when both are free of errors). Statements grouped
 * by kind in `ChangeKind` order and sorted within a kind; files sorted by path. Both empty when
 * nothing changes.
 */
export interface SiteDiff {
  changes: Change[];
  files: FileDiff[];
}

/** The response of every function (protocol version 1). Absent fields are empty. */
export interface ApiResponse {
  version: number;
  /** False when the request failed or the intent has errors. */
  ok: boolean;
  /** lint, render; diff: the new site's. */
  diagnostics?: Diagnostic[];
  /** diff, when the old site has errors: its diagnostics. */
  old_diagnostics?: Diagnostic[];
  /** render without errors: every host's files, sorted by path. */
  files?: OutputFile[];
  /** render without errors. */
  manifest?: Manifest;
  /** render without errors. */
  topology?: Topology;
  /** diff, when both sites are free of errors. */
  diff?: SiteDiff;
  /** explain, schema (the JSON Schema as text), version, trace. */
  text?: string;
  /** Why the request itself failed (unknown code, unknown service, diff: the old site has errors). */
  error?: string;
}
"#;

/// Serves `request` and converts the response to a plain JS object.
fn serve(request: Request) -> Result<JsValue, JsError> {
    let response = api::handle(request);
    response
        .serialize(&Serializer::json_compatible())
        .map_err(|e| JsError::new(&format!("svcintent: cannot convert the response: {e}")))
}

/// Converts the `files` argument.
fn input_files(files: JsValue) -> Result<Vec<InputFile>, JsError> {
    input_files_named(files, "files")
}

/// Converts a files argument; `name` is its JavaScript name, for the error.
fn input_files_named(files: JsValue, name: &str) -> Result<Vec<InputFile>, JsError> {
    serde_wasm_bindgen::from_value(files).map_err(|e| {
        JsError::new(&format!(
            "svcintent: `{name}` must be an array of {{path: string, text: string}}: {e}"
        ))
    })
}

/// Diagnostics for a site: `ok` is false when there are errors.
///
/// @throws {Error} when `files` is not an array of `{path, text}` strings.
#[wasm_bindgen(unchecked_return_type = "ApiResponse")]
pub fn lint(
    #[wasm_bindgen(unchecked_param_type = "InputFile[]")] files: JsValue,
) -> Result<JsValue, JsError> {
    serve(Request::Lint {
        files: input_files(files)?,
    })
}

/// Diagnostics and, when there are no errors, every host's files, the manifest and the topology.
///
/// @throws {Error} when `files` is not an array of `{path, text}` strings.
#[wasm_bindgen(unchecked_return_type = "ApiResponse")]
pub fn render(
    #[wasm_bindgen(unchecked_param_type = "InputFile[]")] files: JsValue,
) -> Result<JsValue, JsError> {
    serve(Request::Render {
        files: input_files(files)?,
    })
}

/// The effective settings of one service, each with the place that set it (`text`); `error` when
/// the site has no such service.
///
/// @throws {Error} when `files` is not an array of `{path, text}` strings.
#[wasm_bindgen(unchecked_return_type = "ApiResponse")]
pub fn trace(
    #[wasm_bindgen(unchecked_param_type = "InputFile[]")] files: JsValue,
    service: String,
) -> Result<JsValue, JsError> {
    serve(Request::Trace {
        files: input_files(files)?,
        service,
    })
}

/// What changes from `oldFiles` to `newFiles`: statements about the network and the unified diff
/// of every rendered file that changes (`diff`), with the new site's `diagnostics`. `ok` is false
/// when either site has errors: the new site's errors are in `diagnostics`; when the old site has
/// errors, `error` says so and its diagnostics are in `old_diagnostics`.
///
/// @throws {Error} when `oldFiles` or `newFiles` is not an array of `{path, text}` strings.
#[wasm_bindgen(unchecked_return_type = "ApiResponse")]
pub fn diff(
    #[wasm_bindgen(js_name = "oldFiles", unchecked_param_type = "InputFile[]")] old_files: JsValue,
    #[wasm_bindgen(js_name = "newFiles", unchecked_param_type = "InputFile[]")] new_files: JsValue,
) -> Result<JsValue, JsError> {
    serve(Request::Diff {
        old: input_files_named(old_files, "oldFiles")?,
        new: input_files_named(new_files, "newFiles")?,
    })
}

/// The documentation of a diagnostic code (`SI010` or `unknown-key`) in `text`; `error` for an
/// unknown code.
#[wasm_bindgen(unchecked_return_type = "ApiResponse")]
pub fn explain(code: String) -> Result<JsValue, JsError> {
    serve(Request::Explain { code })
}

/// The JSON Schema of the input format, as JSON text in `text`.
#[wasm_bindgen(unchecked_return_type = "ApiResponse")]
pub fn schema() -> Result<JsValue, JsError> {
    serve(Request::Schema)
}

/// The core's and the protocol's versions, in `text`.
#[wasm_bindgen(unchecked_return_type = "ApiResponse")]
pub fn version() -> Result<JsValue, JsError> {
    serve(Request::Version)
}
