//! svcintent-core: the pure, deterministic intent compiler.
//!
//! Pipeline (one module each): [`source`] files → [`parse`] (YAML with spans) → [`resolve`]
//! (merge files, defaults, `extends`) → [`model::extract`] (typed, with structural
//! diagnostics) → [`validate`] (semantic checks) → [`plan`] (per-host views) → [`render`]
//! (one module per target, templates embedded).
//!
//! The crate does no I/O and reads no clock, environment or randomness: the same [`Sources`]
//! always give the same bytes, natively and in WebAssembly. No input makes it panic; every
//! problem is a [`Diagnostic`].
#![deny(missing_docs)]

pub mod api;
mod collect;
pub mod diagnostic;
pub mod diff;
pub mod model;
pub mod parse;
pub mod plan;
pub mod render;
pub mod resolve;
pub mod rollout;
pub mod schema;
pub mod source;
pub mod trace;
pub mod validate;

pub use diagnostic::{Code, Diagnostic, Severity};
pub use source::{SourceFile, Sources, Span};

/// This compiler's version (also written into every generated file's header).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The result of compiling a site up to the validated intent.
#[derive(Debug)]
pub struct Compiled {
    /// The resolved intent, when structurally sound enough to build (may still carry errors).
    pub intent: Option<model::Intent>,
    /// All diagnostics, sorted by location.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, resolves and validates a site.
pub fn compile(sources: &Sources) -> Compiled {
    let mut diags = diagnostic::Diagnostics::default();
    let docs = parse::parse_all(sources, &mut diags);
    let resolved = resolve::resolve(sources, &docs, &mut diags);
    let (intent, unknowns) = model::extract::extract(sources, &resolved, &mut diags);
    if let Some(intent) = &intent {
        validate::validate(intent, &resolved, &unknowns, &mut diags);
    }
    Compiled {
        intent,
        diagnostics: diags.finish(),
    }
}

/// The result of rendering a site.
#[derive(Debug)]
pub struct Rendered {
    /// Files and manifest; `None` when the intent has errors.
    pub output: Option<render::Output>,
    /// The site's picture, alongside `output`.
    pub topology: Option<plan::topology::Topology>,
    /// All diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

/// A site compiled, planned and rendered: what [`render`] and [`diff::diff`] work from.
#[derive(Debug)]
pub struct Built {
    /// The validated intent.
    pub intent: model::Intent,
    /// Its per-host plan.
    pub plan: plan::Plan,
    /// Every host's files.
    pub output: render::Output,
}

/// Compiles, plans and renders; `None` (with the diagnostics saying why) when the intent has
/// errors.
pub fn build(sources: &Sources) -> (Option<Built>, Vec<Diagnostic>) {
    let compiled = compile(sources);
    let mut diagnostics = compiled.diagnostics;
    let built = match compiled.intent {
        Some(intent) if !diagnostics.iter().any(Diagnostic::is_error) => {
            let plan = plan::plan(&intent);
            match render::render(&intent, &plan, sources) {
                Ok(output) => Some(Built {
                    intent,
                    plan,
                    output,
                }),
                Err(errors) => {
                    let span = Span::new(source::FileId(0), 0, 0);
                    for e in errors {
                        diagnostics.push(
                            Diagnostic::new(Code::InternalError, span, e.to_string()).help(
                                "this is a bug in svcintent: please report it with the input",
                            ),
                        );
                    }
                    None
                }
            }
        }
        _ => None,
    };
    (built, diagnostics)
}

/// Compiles and, when there are no errors, renders every host's files.
pub fn render(sources: &Sources) -> Rendered {
    let (built, diagnostics) = build(sources);
    match built {
        Some(b) => Rendered {
            topology: Some(plan::topology::topology(&b.intent, &b.plan, sources)),
            output: Some(b.output),
            diagnostics,
        },
        None => Rendered {
            output: None,
            topology: None,
            diagnostics,
        },
    }
}
