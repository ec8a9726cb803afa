//! Diagnostics: what the compiler tells an operator about their intent.
//!
//! A [`Diagnostic`] has a stable [`Code`], a [`Severity`], a message, one primary [`Label`]
//! (the exact YAML node at fault), optional secondary labels ("first defined here") and help.
//! Output formats live in their own modules: [`human`] (source excerpt with carets) and
//! [`json`] (machine-readable, locations resolved to file:line:col).

mod codes;
pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

use serde::Serialize;

pub use codes::Code;

use crate::source::Span;

/// How bad a diagnostic is. Errors block rendering; warnings and infos do not.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The intent cannot be rendered.
    Error,
    /// Probably a mistake; rendering proceeds.
    Warning,
    /// Worth knowing.
    Info,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A span with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there (may be empty for the primary label).
    pub message: String,
}

/// One finding about the intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// Severity: always the code's own ([`Code::severity`], the one table the documentation
    /// is checked against).
    pub severity: Severity,
    /// One-line message.
    pub message: String,
    /// The node at fault.
    pub primary: Label,
    /// Related places.
    pub secondary: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic of `code` at `span`.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.severity(),
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            help: None,
        }
    }

    /// Sets the primary label's text.
    #[must_use]
    pub fn label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    /// Adds a related place.
    #[must_use]
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Adds help text.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this blocks rendering.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Collects diagnostics; sorted and de-duplicated on [`Diagnostics::finish`].
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Adds many.
    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(ds);
    }

    /// Whether any error was collected so far.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Sorted by location, then code; repeats of a code at the same span are removed (that
    /// happens when a template line is inherited by several services: it is reported once,
    /// at the template).
    pub fn finish(mut self) -> Vec<Diagnostic> {
        crate::collect::sort_by(&mut self.items, |a, b| {
            (a.primary.span, a.code).cmp(&(b.primary.span, b.code))
        });
        self.items
            .dedup_by(|a, b| a.code == b.code && a.primary.span == b.primary.span);
        self.items
    }
}

/// "did you mean" suggestion: the closest candidate by Jaro-Winkler similarity, if close.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
