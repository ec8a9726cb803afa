//! GitHub Actions workflow commands: one annotation line per diagnostic, which GitHub shows on
//! the pull request's diff.
//!
//! ```text
//! ::error file=services/www.yaml,line=3,col=5,endLine=3,endColumn=10,title=SI010::unknown key `prot` in service `www`%0Ahelp: did you mean `port`?
//! ```
//!
//! Errors become `::error`, warnings `::warning`, infos `::notice`. Columns are given only when
//! the span is on one line (GitHub ignores them otherwise). The help and related places follow
//! the message on their own lines (`%0A`). Paths are used as they are in the diagnostics: a
//! shell that wants them relative to the repository root prefixes them first.

use super::Severity;
use super::json::JsonDiagnostic;

/// Escapes the message part of a workflow command.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One annotation line (without a trailing newline).
pub fn render(d: &JsonDiagnostic) -> String {
    let command = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let loc = &d.location;
    let mut props = Vec::new();
    if !loc.file.is_empty() {
        props.push(format!("file={}", escape_property(&loc.file)));
        if loc.line > 0 {
            props.push(format!("line={}", loc.line));
            if loc.end_line == loc.line {
                props.push(format!("col={}", loc.column));
            }
            props.push(format!("endLine={}", loc.end_line.max(loc.line)));
            if loc.end_line == loc.line {
                props.push(format!("endColumn={}", loc.end_column.max(loc.column)));
            }
        }
    }
    props.push(format!("title={}", escape_property(d.code.as_str())));

    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    for related in &d.related {
        let l = &related.location;
        message.push_str(&format!(
            "\nnote: {}:{}:{}: {}",
            l.file, l.line, l.column, related.message
        ));
    }
    format!("::{command} {}::{}", props.join(","), escape_data(&message))
}

/// One line per diagnostic, each ending in a newline.
pub fn render_all(ds: &[JsonDiagnostic]) -> String {
    ds.iter().map(|d| render(d) + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;
    use crate::diagnostic::json::JsonLabel;
    use crate::source::Location;

    fn loc(file: &str, line: u32, column: u32, end_line: u32, end_column: u32) -> Location {
        Location {
            file: file.to_owned(),
            line,
            column,
            end_line,
            end_column,
            start: 0,
            end: 0,
        }
    }

    fn diag(code: Code, location: Location) -> JsonDiagnostic {
        JsonDiagnostic {
            code,
            name: code.name().to_owned(),
            severity: code.severity(),
            message: "unknown key `prot`, in: service".to_owned(),
            location,
            label: String::new(),
            related: Vec::new(),
            help: None,
        }
    }

    #[test]
    fn one_line_span() {
        let mut d = diag(Code::UnknownKey, loc("sites/a,b/www.yaml", 3, 5, 3, 9));
        d.help = Some("did you mean `port`? 100%".to_owned());
        assert_eq!(
            render(&d),
            "::error file=sites/a%2Cb/www.yaml,line=3,col=5,endLine=3,endColumn=9,title=SI010::\
             unknown key `prot`, in: service%0Ahelp: did you mean `port`? 100%25"
        );
    }

    #[test]
    fn multi_line_span_and_related() {
        let mut d = diag(Code::DuplicateEntry, loc("a.yaml", 3, 5, 4, 2));
        d.related.push(JsonLabel {
            location: loc("a.yaml", 1, 3, 1, 6),
            message: "first listed here".to_owned(),
        });
        assert_eq!(
            render(&d),
            "::warning file=a.yaml,line=3,endLine=4,title=SI018::unknown key `prot`, in: service\
             %0Anote: a.yaml:1:3: first listed here"
        );
    }

    #[test]
    fn info_without_file() {
        let d = diag(Code::IdleDrain, loc("", 0, 0, 0, 0));
        assert_eq!(
            render_all(&[d]),
            "::notice title=SI056::unknown key `prot`, in: service\n"
        );
    }
}
