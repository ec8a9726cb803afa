//! Machine-readable diagnostics: spans resolved to `file:line:col` for editors, CI and the
//! playground. This is the shape every shell (wasm ABI, bindgen, Python) passes through.

use serde::Serialize;

use super::{Code, Diagnostic, Severity};
use crate::source::{Location, Sources};

/// A diagnostic with resolved locations.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct JsonDiagnostic {
    /// Stable code, e.g. `SI010`.
    pub code: Code,
    /// Kebab-case name of the code.
    pub name: String,
    /// error, warning or info.
    pub severity: Severity,
    /// One-line message.
    pub message: String,
    /// Primary location.
    pub location: Location,
    /// Primary label text (may be empty).
    pub label: String,
    /// Related places.
    pub related: Vec<JsonLabel>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// A related place.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct JsonLabel {
    /// Where.
    pub location: Location,
    /// What is there.
    pub message: String,
}

/// Resolves one diagnostic.
pub fn to_json(d: &Diagnostic, sources: &Sources) -> JsonDiagnostic {
    JsonDiagnostic {
        code: d.code,
        name: d.code.name().to_owned(),
        severity: d.severity,
        message: d.message.clone(),
        location: sources.locate(d.primary.span),
        label: d.primary.message.clone(),
        related: d
            .secondary
            .iter()
            .map(|l| JsonLabel {
                location: sources.locate(l.span),
                message: l.message.clone(),
            })
            .collect(),
        help: d.help.clone(),
    }
}

/// Resolves all diagnostics.
pub fn to_json_all(ds: &[Diagnostic], sources: &Sources) -> Vec<JsonDiagnostic> {
    ds.iter().map(|d| to_json(d, sources)).collect()
}
