//! Requests to and responses from an engine, in the JSON protocol of [`svcintent_core::api`].
//! Only (de)serialisation: what the answers mean is decided by the core.

use serde::Deserialize;
use serde_json::value::RawValue;
use svcintent_core::api::{Envelope, InputFile, PROTOCOL_VERSION, Request};
use svcintent_core::diagnostic::json::JsonDiagnostic;

/// The JSON text of a request.
pub fn request(request: Request) -> String {
    let envelope = Envelope {
        version: PROTOCOL_VERSION,
        request,
    };
    // Serialising plain strings and vectors cannot fail.
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// A lint request for `files`.
pub fn lint(files: &[InputFile]) -> String {
    request(Request::Lint {
        files: files.to_vec(),
    })
}

/// A render request for `files`.
pub fn render(files: &[InputFile]) -> String {
    request(Request::Render {
        files: files.to_vec(),
    })
}

/// A diff request from `old` to `new`.
pub fn diff(old: &[InputFile], new: &[InputFile]) -> String {
    request(Request::Diff {
        old: old.to_vec(),
        new: new.to_vec(),
    })
}

/// A response.
#[derive(Debug, Deserialize)]
pub struct Response {
    /// Protocol version.
    pub version: u32,
    /// False when the request failed or the intent has errors.
    pub ok: bool,
    /// Diagnostics.
    #[serde(default)]
    pub diagnostics: Vec<JsonDiagnostic>,
    /// diff: the old site's diagnostics when it has errors.
    #[serde(default)]
    pub old_diagnostics: Vec<JsonDiagnostic>,
    /// Rendered files.
    #[serde(default)]
    pub files: Vec<ResponseFile>,
    /// The manifest, as the core serialised it.
    #[serde(default)]
    pub manifest: Option<Box<RawValue>>,
    /// What changes (diff).
    #[serde(default)]
    pub diff: Option<svcintent_core::diff::SiteDiff>,
    /// The rollout's batches or refusals (rollout).
    #[serde(default)]
    pub rollout: Option<svcintent_core::rollout::Rollout>,
    /// Text payload.
    #[serde(default)]
    pub text: Option<String>,
    /// Why the request failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// A rendered file (the fields the host uses).
#[derive(Debug, Deserialize)]
pub struct ResponseFile {
    /// Tree path, `<host>/<path>`.
    pub path: String,
    /// Contents.
    pub contents: String,
}

impl Response {
    /// Parses a response; an `Err` is a protocol violation (a bug).
    pub fn parse(text: &str) -> Result<Response, String> {
        let response: Response = serde_json::from_str(text)
            .map_err(|e| format!("the module's response is not valid protocol JSON: {e}"))?;
        if response.version != PROTOCOL_VERSION {
            return Err(format!(
                "the module answered in protocol version {}; this host speaks {PROTOCOL_VERSION}",
                response.version
            ));
        }
        Ok(response)
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == svcintent_core::Severity::Error)
    }

    /// `manifest.json`: the manifest pretty-printed with its keys in the core's order, plus a
    /// trailing newline (the same bytes as `svcintent_core::render::Output::manifest_json`).
    pub fn manifest_json(&self) -> Option<String> {
        let raw = self.manifest.as_ref()?;
        let mut out = Vec::new();
        let mut de = serde_json::Deserializer::from_str(raw.get());
        let mut ser = serde_json::Serializer::pretty(&mut out);
        serde_transcode::transcode(&mut de, &mut ser).ok()?;
        let mut text = String::from_utf8(out).ok()?;
        text.push('\n');
        Some(text)
    }
}
