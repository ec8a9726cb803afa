//! Human-readable diagnostics in the rustc style: a header line with code and message, then a
//! source excerpt with carets under the exact node, related places, and help.

use annotate_snippets::{Level, Message, Renderer, Snippet};

use super::Severity;
use super::json::JsonDiagnostic;
use crate::source::Sources;

/// Whether to emit ANSI colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Plain text (files, CI logs, snapshots).
    Never,
    /// ANSI colours (a terminal).
    Always,
}

fn level(sev: Severity) -> Level {
    match sev {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Info => Level::Info,
    }
}

/// Renders one diagnostic with its source excerpt. Works from the resolved (JSON) form so that
/// diagnostics coming back from the wasm module render exactly like native ones.
pub fn render(d: &JsonDiagnostic, sources: &Sources, color: Color) -> String {
    let lvl = level(d.severity);
    let title = d.message.clone();
    let mut msg: Message<'_> = lvl.title(&title).id(d.code.as_str());

    // One snippet per file, primary file first; labels in the same file share a snippet.
    let mut files: Vec<&str> = vec![d.location.file.as_str()];
    for l in &d.related {
        if !files.contains(&l.location.file.as_str()) {
            files.push(l.location.file.as_str());
        }
    }
    for path in files {
        let Some(file) = sources.by_path(path) else {
            continue;
        };
        let clamp = |n: u32| (n as usize).min(file.text.len());
        let mut snippet = Snippet::source(&file.text)
            .origin(&file.path)
            .line_start(1)
            .fold(true);
        if d.location.file == path {
            let range = clamp(d.location.start)..clamp(d.location.end);
            snippet = snippet.annotation(lvl.span(range).label(&d.label));
        }
        for l in d.related.iter().filter(|l| l.location.file == path) {
            let range = clamp(l.location.start)..clamp(l.location.end);
            snippet = snippet.annotation(Level::Note.span(range).label(&l.message));
        }
        msg = msg.snippet(snippet);
    }
    if let Some(help) = &d.help {
        msg = msg.footer(Level::Help.title(help));
    }
    let renderer = match color {
        Color::Never => Renderer::plain(),
        Color::Always => Renderer::styled(),
    };
    renderer.render(msg).to_string()
}

/// Renders all diagnostics, separated by blank lines, followed by a summary line.
pub fn render_all(ds: &[JsonDiagnostic], sources: &Sources, color: Color) -> String {
    let mut out = String::new();
    for d in ds {
        out.push_str(&render(d, sources, color));
        out.push_str("\n\n");
    }
    let count = |s: Severity| ds.iter().filter(|d| d.severity == s).count();
    out.push_str(&format!(
        "{} error(s), {} warning(s), {} info(s)\n",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    ));
    out
}
