//! SARIF 2.1.0 (the Static Analysis Results Interchange Format), for GitHub code scanning and
//! other SARIF viewers: one run whose tool lists every diagnostic code as a rule (so rule
//! indices are stable), and one result per diagnostic.
//!
//! Columns count Unicode code points (`columnKind: unicodeCodePoints`), end columns are
//! exclusive, as SARIF defines them. Artifact URIs are the diagnostics' paths, percent-encoded;
//! a shell that wants them relative to the repository root prefixes them first.

use serde::Serialize;

use super::json::JsonDiagnostic;
use super::{Code, Severity};
use crate::source::Location;

/// The SARIF schema this output follows.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The tool that produced the diagnostics.
#[derive(Debug, Clone)]
pub struct Tool<'a> {
    /// Name (`svcintent`).
    pub name: &'a str,
    /// Version.
    pub version: &'a str,
    /// Where to read about it (may be empty).
    pub information_uri: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: ToolJson<'a>,
    column_kind: &'static str,
    results: Vec<ResultJson>,
}

#[derive(Serialize)]
struct ToolJson<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    information_uri: &'a str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: &'static str,
    short_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_description: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Help>,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultJson {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<LocationJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<RelatedJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocationJson {
    physical_location: Physical,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RelatedJson {
    id: usize,
    physical_location: Physical,
    message: Text,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Physical {
    artifact_location: Artifact,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
struct Artifact {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
    byte_offset: u32,
    byte_length: u32,
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Percent-encodes a relative path for a URI (RFC 3986: unreserved characters and `/` stay).
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn physical(l: &Location) -> Physical {
    Physical {
        artifact_location: Artifact { uri: uri(&l.file) },
        region: (l.line > 0).then(|| Region {
            start_line: l.line,
            start_column: l.column.max(1),
            end_line: l.end_line.max(l.line),
            end_column: if l.end_line > l.line {
                l.end_column.max(1)
            } else {
                l.end_column.max(l.column).max(1)
            },
            byte_offset: l.start,
            byte_length: l.end.saturating_sub(l.start),
        }),
    }
}

/// The paragraph of an explanation that starts with `**{name}**:`, without that label.
fn paragraph<'a>(explanation: &'a str, name: &str) -> Option<&'a str> {
    let label = format!("**{name}**:");
    explanation
        .split("\n\n")
        .find_map(|p| p.trim().strip_prefix(label.as_str()))
        .map(str::trim)
}

fn rule(code: Code) -> Rule {
    let explanation = code.explanation();
    let what = explanation.and_then(|e| paragraph(e, "What"));
    let why = explanation.and_then(|e| paragraph(e, "Why"));
    let full = match (what, why) {
        (Some(what), Some(why)) => Some(format!("{what} {why}")),
        (Some(what), None) => Some(what.to_owned()),
        _ => None,
    };
    Rule {
        id: code.as_str(),
        name: code.name(),
        short_description: Text {
            text: what.map_or_else(|| code.name().replace('-', " "), str::to_owned),
        },
        full_description: full.map(|text| Text { text }),
        help: explanation.map(|e| Help {
            text: e.to_owned(),
            markdown: e.to_owned(),
        }),
        default_configuration: Configuration {
            level: level(code.severity()),
        },
    }
}

fn result(d: &JsonDiagnostic) -> ResultJson {
    let mut text = d.message.clone();
    if let Some(help) = &d.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    ResultJson {
        rule_id: d.code.as_str(),
        rule_index: Code::ALL.iter().position(|c| *c == d.code).unwrap_or(0),
        level: level(d.severity),
        message: Text { text },
        locations: vec![LocationJson {
            physical_location: physical(&d.location),
        }],
        related_locations: d
            .related
            .iter()
            .enumerate()
            .map(|(id, l)| RelatedJson {
                id,
                physical_location: physical(&l.location),
                message: Text {
                    text: l.message.clone(),
                },
            })
            .collect(),
    }
}

/// The SARIF log for `ds`, pretty-printed, with a trailing newline.
pub fn render(ds: &[JsonDiagnostic], tool: &Tool<'_>) -> String {
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: ToolJson {
                driver: Driver {
                    name: tool.name,
                    version: tool.version,
                    information_uri: tool.information_uri,
                    rules: Code::ALL.iter().copied().map(rule).collect(),
                },
            },
            column_kind: "unicodeCodePoints",
            results: ds.iter().map(result).collect(),
        }],
    };
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, reason = "tests index into known JSON")]
mod tests {
    use super::*;
    use crate::diagnostic::json::JsonLabel;

    fn diag() -> JsonDiagnostic {
        let location = |line, column, end_column, start| Location {
            file: "sites/a b/www.yaml".to_owned(),
            line,
            column,
            end_line: line,
            end_column,
            start,
            end: start + 4,
        };
        JsonDiagnostic {
            code: Code::UnknownKey,
            name: "unknown-key".to_owned(),
            severity: Severity::Error,
            message: "unknown key `prot`".to_owned(),
            location: location(3, 5, 9, 20),
            label: String::new(),
            related: vec![JsonLabel {
                location: location(1, 1, 5, 0),
                message: "here".to_owned(),
            }],
            help: Some("did you mean `port`?".to_owned()),
        }
    }

    #[test]
    fn log_shape() {
        let tool = Tool {
            name: "svcintent",
            version: "0.1.0",
            information_uri: "",
        };
        let out = render(&[diag()], &tool);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(v["$schema"], SCHEMA);
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "svcintent");
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().map(Vec::len),
            Some(Code::ALL.len())
        );
        let r = &run["results"][0];
        assert_eq!(r["ruleId"], "SI010");
        assert_eq!(
            run["tool"]["driver"]["rules"][r["ruleIndex"].as_u64().unwrap_or(999) as usize]["id"],
            "SI010"
        );
        assert_eq!(r["level"], "error");
        assert_eq!(
            r["message"]["text"],
            "unknown key `prot`\nhelp: did you mean `port`?"
        );
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "sites/a%20b/www.yaml");
        assert_eq!(loc["region"]["startLine"], 3);
        assert_eq!(loc["region"]["startColumn"], 5);
        assert_eq!(loc["region"]["endColumn"], 9);
        assert_eq!(loc["region"]["byteOffset"], 20);
        assert_eq!(loc["region"]["byteLength"], 4);
        assert_eq!(r["relatedLocations"][0]["message"]["text"], "here");
        assert!(out.ends_with("}\n"));
    }

    #[test]
    fn rules_describe_themselves() {
        let explanation =
            "## SI010 unknown-key\n\nSeverity: error.\n\n**What**: A key.\n\n**Why**: Ignored.\n";
        assert_eq!(paragraph(explanation, "What"), Some("A key."));
        assert_eq!(paragraph(explanation, "Why"), Some("Ignored."));
        assert_eq!(paragraph(explanation, "Fix"), None);
        let r = rule(Code::UnknownKey);
        assert!(!r.short_description.text.is_empty());
    }

    #[test]
    fn no_diagnostics_is_an_empty_run() {
        let tool = Tool {
            name: "svcintent",
            version: "0.1.0",
            information_uri: "",
        };
        let v: serde_json::Value = serde_json::from_str(&render(&[], &tool)).unwrap_or_default();
        assert_eq!(v["runs"][0]["results"], serde_json::json!([]));
    }
}
