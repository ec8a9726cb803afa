//! The request/response protocol every shell speaks (wasm ABI, wasm-bindgen, Python, native
//! CLI): one JSON request in, one JSON response out. Keeping it here means the shells carry no
//! logic of their own. Versioned by [`PROTOCOL_VERSION`]; documented in `docs/abi.md`.

mod stream;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::diagnostic::json::{JsonDiagnostic, to_json_all};
use crate::diff::SiteDiff;
use crate::plan::topology::Topology;
use crate::render::{Manifest, Target};
use crate::rollout::{Fleet, HostState, Rollout};
use crate::source::{SourceFile, Sources};
use crate::{Code, Severity};

/// Version of the request/response protocol.
pub const PROTOCOL_VERSION: u32 = 1;

pub use stream::{
    PART_SIZE, Stream, TAG_END, TAG_FILES, TAG_HEAD, TAG_MANIFEST, TAG_RESPONSE, files_of,
};

/// One input file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputFile {
    /// Site-relative path.
    pub path: String,
    /// Text.
    pub text: String,
}

/// A request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// Diagnostics for a site.
    Lint {
        /// The site's files.
        files: Vec<InputFile>,
    },
    /// Diagnostics and, without errors, every host's files.
    Render {
        /// The site's files.
        files: Vec<InputFile>,
    },
    /// The documentation of a diagnostic code.
    Explain {
        /// `SI010` or `unknown-key`.
        code: String,
    },
    /// The effective settings of one service, each with the place that set it.
    Trace {
        /// The site's files.
        files: Vec<InputFile>,
        /// Service name.
        service: String,
    },
    /// What changes from one version of a site to another: statements about the network and
    /// the unified diff of every rendered file.
    Diff {
        /// The old site's files.
        old: Vec<InputFile>,
        /// The new site's files.
        new: Vec<InputFile>,
    },
    /// In which batches a deployment applies the hosts that change from `old` (what they run)
    /// to `new`, and whether the guard allows the change at all (see [`crate::rollout`]).
    Rollout {
        /// What the hosts run.
        old: RolloutSide,
        /// What they move to (a site or a rendered tree's manifest).
        new: RolloutSide,
        /// Intended withdrawals and the batch size limit.
        #[serde(default)]
        options: crate::rollout::Options,
    },
    /// JSON Schema of the input format.
    Schema,
    /// Versions.
    Version,
}

/// One side of a rollout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RolloutSide {
    /// A site, rendered first.
    Site {
        /// The site's files.
        files: Vec<InputFile>,
    },
    /// A rendered tree's `manifest.json`.
    Manifest {
        /// The manifest.
        manifest: Box<Manifest>,
    },
    /// What each host's `svcintent apply` recorded (`state.json`); a host without a record runs
    /// nothing (old side only).
    States {
        /// The records.
        states: Vec<HostState>,
    },
    /// Nothing: a first deployment (old side only).
    None,
}

/// A request with its protocol version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Must equal [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The request.
    #[serde(flatten)]
    pub request: Request,
}

/// A rendered file in a response.
#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    /// Path in the output tree (`<host>/<path>`).
    pub path: String,
    /// Host.
    pub host: String,
    /// Absolute path on the host.
    pub host_path: String,
    /// Target.
    pub target: Target,
    /// Contents.
    pub contents: String,
    /// Services that contributed.
    pub services: Vec<String>,
    /// Where blocks of lines come from: each entry starts a block that runs to the next one.
    pub origins: Vec<OutputOrigin>,
}

/// The start of a block of rendered lines and the service it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct OutputOrigin {
    /// 1-based line where the block starts.
    pub line: u32,
    /// The service; `None` for host-level lines.
    pub service: Option<String>,
    /// Where the service is defined.
    pub source: Option<SourcePoint>,
}

/// A point in a source file.
#[derive(Debug, Clone, Serialize)]
pub struct SourcePoint {
    /// Site-relative path.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// A response.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    /// Protocol version.
    pub version: u32,
    /// False when the request could not be served (bad request) or the intent has errors.
    pub ok: bool,
    /// Diagnostics (lint, render; diff: the new site's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<JsonDiagnostic>,
    /// diff: the old site's diagnostics, when the old site has errors (then `error` says so and
    /// there is no `diff`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub old_diagnostics: Vec<JsonDiagnostic>,
    /// Rendered files (render without errors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<OutputFile>,
    /// The manifest (render without errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    /// The site's hosts, sessions and service paths (render without errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology: Option<Topology>,
    /// What changes (diff, when both sites are free of errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<SiteDiff>,
    /// The rollout's batches or refusals (rollout, when both sides are usable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// Text payload (explain, schema as JSON text, version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Why the request itself failed (malformed JSON, unknown code...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    fn empty(ok: bool) -> Self {
        Response {
            version: PROTOCOL_VERSION,
            ok,
            diagnostics: Vec::new(),
            old_diagnostics: Vec::new(),
            files: Vec::new(),
            manifest: None,
            topology: None,
            diff: None,
            rollout: None,
            text: None,
            error: None,
        }
    }

    fn error(message: impl Into<String>) -> Self {
        Response {
            error: Some(message.into()),
            ..Response::empty(false)
        }
    }
}

fn sources(files: Vec<InputFile>) -> Sources {
    Sources::new(
        files
            .into_iter()
            .map(|f| SourceFile::new(f.path, f.text))
            .collect(),
    )
}

/// Serves a parsed request.
pub fn handle(request: Request) -> Response {
    match request {
        Request::Lint { files } => {
            let sources = sources(files);
            let compiled = crate::compile(&sources);
            let ok = !compiled.has_errors();
            Response {
                diagnostics: to_json_all(&compiled.diagnostics, &sources),
                ..Response::empty(ok)
            }
        }
        Request::Render { files } => {
            let sources = sources(files);
            let rendered = crate::render(&sources);
            let diagnostics = to_json_all(&rendered.diagnostics, &sources);
            match rendered.output {
                Some(output) => {
                    let topology = rendered.topology;
                    let definitions: BTreeMap<&str, SourcePoint> = crate::collect::map(
                        topology.iter().flat_map(|t| &t.services).filter_map(|s| {
                            let l = s.source.as_ref()?;
                            Some((
                                s.name.as_str(),
                                SourcePoint {
                                    file: l.file.clone(),
                                    line: l.line,
                                    column: l.column,
                                },
                            ))
                        }),
                    );
                    let defined_at = |service: &str| definitions.get(service).cloned();
                    Response {
                        diagnostics,
                        files: output
                            .files
                            .into_iter()
                            .map(|f| OutputFile {
                                path: f.tree_path(),
                                origins: f
                                    .origins
                                    .into_iter()
                                    .map(|o| OutputOrigin {
                                        line: o.line,
                                        source: o.service.as_deref().and_then(defined_at),
                                        service: o.service,
                                    })
                                    .collect(),
                                host: f.host,
                                host_path: f.path,
                                target: f.target,
                                contents: f.contents,
                                services: f.services,
                            })
                            .collect(),
                        manifest: Some(output.manifest),
                        topology,
                        ..Response::empty(true)
                    }
                }
                None => Response {
                    diagnostics,
                    ..Response::empty(false)
                },
            }
        }
        Request::Explain { code } => match code.parse::<Code>() {
            Ok(code) => {
                let text = code.explanation().map_or_else(
                    || {
                        format!(
                            "{} ({}): {}",
                            code.as_str(),
                            code.name(),
                            severity_word(code.severity())
                        )
                    },
                    str::to_owned,
                );
                Response {
                    text: Some(text),
                    ..Response::empty(true)
                }
            }
            Err(()) => Response::error(format!(
                "unknown diagnostic code {code:?}; codes look like SI010"
            )),
        },
        Request::Trace { files, service } => {
            match crate::trace::trace_service(&sources(files), &service) {
                Some(text) => Response {
                    text: Some(text),
                    ..Response::empty(true)
                },
                None => Response::error(format!("no service `{service}` in this site")),
            }
        }
        Request::Diff { old, new } => {
            let (old_sources, new_sources) = (sources(old), sources(new));
            let (old_built, old_diagnostics) = crate::build(&old_sources);
            let (new_built, new_diagnostics) = crate::build(&new_sources);
            match (old_built, new_built) {
                (Some(a), Some(b)) => Response {
                    diagnostics: to_json_all(&new_diagnostics, &new_sources),
                    diff: Some(crate::diff::diff(&a, &b)),
                    ..Response::empty(true)
                },
                (Some(_), None) => Response {
                    diagnostics: to_json_all(&new_diagnostics, &new_sources),
                    ..Response::empty(false)
                },
                (None, _) => {
                    let old_errors = old_diagnostics.iter().filter(|d| d.is_error()).count();
                    Response {
                        diagnostics: to_json_all(&new_diagnostics, &new_sources),
                        old_diagnostics: to_json_all(&old_diagnostics, &old_sources),
                        error: Some(format!(
                            "the old site has {old_errors} error(s): fix them, or compare against a version that renders"
                        )),
                        ..Response::empty(false)
                    }
                }
            }
        }
        Request::Rollout { old, new, options } => rollout(old, new, &options),
        Request::Schema => Response {
            text: Some(crate::schema::json_schema()),
            ..Response::empty(true)
        },
        Request::Version => Response {
            text: Some(format!(
                "svcintent-core {} (protocol {PROTOCOL_VERSION})",
                crate::VERSION
            )),
            ..Response::empty(true)
        },
    }
}

/// A side of a rollout as a fleet; `Err` with the response to give when it cannot be one
/// (a site with errors).
fn fleet_of(side: RolloutSide, is_old: bool) -> Result<Fleet, Box<Response>> {
    match side {
        RolloutSide::Site { files } => {
            let sources = sources(files);
            let (built, diagnostics) = crate::build(&sources);
            match built {
                Some(b) => Ok(Fleet::from_manifest(&b.output.manifest)),
                None => {
                    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                    let json = to_json_all(&diagnostics, &sources);
                    let which = if is_old { "old" } else { "new" };
                    Err(Box::new(Response {
                        error: Some(format!("the {which} site has {errors} error(s)")),
                        diagnostics: if is_old { Vec::new() } else { json.clone() },
                        old_diagnostics: if is_old { json } else { Vec::new() },
                        ..Response::empty(false)
                    }))
                }
            }
        }
        RolloutSide::Manifest { manifest } => Ok(Fleet::from_manifest(&manifest)),
        RolloutSide::States { states } if is_old => Ok(Fleet::from_states(&states)),
        RolloutSide::None if is_old => Ok(Fleet::default()),
        RolloutSide::States { .. } | RolloutSide::None => Err(Box::new(Response::error(
            "the new side of a rollout must be a site or a rendered tree",
        ))),
    }
}

fn rollout(old: RolloutSide, new: RolloutSide, options: &crate::rollout::Options) -> Response {
    let new = match fleet_of(new, false) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let old = match fleet_of(old, true) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let plan = crate::rollout::plan(&old, &new, options);
    Response {
        rollout: Some(plan),
        ..Response::empty(true)
    }
}

fn severity_word(s: Severity) -> &'static str {
    s.as_str()
}

/// The request in `request`, or the response that says why it cannot be served.
fn parse_envelope(request: &str) -> Result<Envelope, Box<Response>> {
    match serde_json::from_str::<Envelope>(request) {
        Ok(env) if env.version == PROTOCOL_VERSION => Ok(env),
        Ok(env) => Err(Box::new(Response::error(format!(
            "protocol version {} not supported; this module speaks {PROTOCOL_VERSION}",
            env.version
        )))),
        Err(e) => Err(Box::new(Response::error(format!("malformed request: {e}")))),
    }
}

/// The response when a response cannot be serialised (never seen: responses are plain data).
fn serialisation_failure() -> String {
    format!(
        "{{\"version\":{PROTOCOL_VERSION},\"ok\":false,\"error\":\"the response could not be serialised\"}}"
    )
}

/// Serves a JSON request, returning a JSON response. Never panics; a malformed request yields
/// `{"ok": false, "error": ...}`.
pub fn handle_json(request: &str) -> String {
    let response = match parse_envelope(request) {
        Ok(env) => handle(env.request),
        Err(response) => *response,
    };
    serde_json::to_string(&response).unwrap_or_else(|e| {
        format!("{{\"version\":{PROTOCOL_VERSION},\"ok\":false,\"error\":\"{e}\"}}")
    })
}
