//! Writing to stdout and stderr. Output goes through `io::Write` on the locked streams (not
//! `println!`), so that a closed pipe (`svcintent schema | head`) ends output quietly instead of
//! panicking.

use std::io::{self, IsTerminal, Write};

use svcintent_core::diagnostic::human::Color;

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// When writing to a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The two output streams, with their colour decisions.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Colour for stdout.
    pub stdout_color: Color,
    /// Colour for stderr.
    pub stderr_color: Color,
}

fn decide(choice: ColorChoice, terminal: bool) -> Color {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => Color::Always,
        ColorChoice::Never => Color::Never,
        ColorChoice::Auto if terminal && !no_color => Color::Always,
        ColorChoice::Auto => Color::Never,
    }
}

impl Output {
    /// Decides colours for `choice`.
    pub fn new(choice: ColorChoice) -> Output {
        Output {
            stdout_color: decide(choice, io::stdout().is_terminal()),
            stderr_color: decide(choice, io::stderr().is_terminal()),
        }
    }

    /// Writes `text` to stdout as is.
    pub fn out(&self, text: &str) {
        let mut stdout = io::stdout().lock();
        let _ = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
    }

    /// Writes `text` to stderr as is.
    pub fn err(&self, text: &str) {
        let mut stderr = io::stderr().lock();
        let _ = stderr
            .write_all(text.as_bytes())
            .and_then(|()| stderr.flush());
    }

    fn tagged(&self, tag: &str, ansi: &str, message: &str) {
        let tag = match self.stderr_color {
            Color::Always => format!("\x1b[1;{ansi}m{tag}\x1b[0m"),
            Color::Never => tag.to_owned(),
        };
        self.err(&format!("{tag}: {message}\n"));
    }

    /// `error: message` on stderr.
    pub fn error(&self, message: &str) {
        self.tagged("error", "31", message);
    }

    /// `warning: message` on stderr.
    pub fn warning(&self, message: &str) {
        self.tagged("warning", "33", message);
    }

    /// `note: message` on stderr.
    pub fn note(&self, message: &str) {
        self.tagged("note", "36", message);
    }
}
