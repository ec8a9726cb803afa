//! The oracles of the fuzz targets (`fuzz/fuzz_targets/`), shared with the stable
//! `cargo test` that replays every committed crash (`tests/tests/fuzz_regressions.rs`): a fuzz
//! target is a one-line call into this module, so a fixture replays exactly what the fuzzer ran.
//!
//! Each `check_*` function panics (the fuzzer's crash signal, a test's failure) when an oracle
//! is violated, with a message naming the oracle:
//!
//! - `compile`: bytes split into one to three site files ([`split_files`]); lint, and render
//!   when there are no errors. No panic; every diagnostic span inside its file and on char
//!   boundaries; a clean render holds no control character but `\n` (and tabs as a line's
//!   leading indentation, the nftables and Icinga2 style), nothing
//!   [`forbidden_char`] refuses, and only ASCII in the targets that have no escaping for
//!   anything else (nftables, BIRD, systemd-networkd); the same input gives the same bytes twice
//!   (it is built twice: what `render` does, without the topology).
//! - `site`: a valid-shaped site from [`crate::random_site`] driven by the bytes, optionally
//!   with one line removed or repeated: the same oracles, plus: lint-clean implies the render
//!   succeeds, and `diff(site, site)` is empty.
//! - `module`: the bytes as a request to the real wasm module under the runner's engine: a
//!   response (the same bytes the core linked natively gives) or a documented limit error (fuel,
//!   memory, stack, time), never another trap or an ABI failure.
#![allow(
    clippy::panic,
    reason = "oracle helpers: a violated oracle is the crash the fuzzer reports"
)]

use svcintent_core::render::Target;
use svcintent_core::validate::strings::forbidden_char;
use svcintent_core::{Code, Diagnostic, SourceFile, Sources};

/// The byte that separates site files in a `compile` input (never part of UTF-8 text, so a
/// seed made from real files is their bytes joined by it).
pub const FILE_SEPARATOR: u8 = 0xff;

/// File names of the (at most three) files of a `compile` input.
const FILE_NAMES: [&str; 3] = ["site.yaml", "hosts.yaml", "services/all.yaml"];

/// A `compile` input as a site: the bytes split at [`FILE_SEPARATOR`] into at most three files
/// (anything after a third separator is dropped), each decoded as UTF-8 with replacement.
pub fn split_files(data: &[u8]) -> Sources {
    let files = data
        .split(|b| *b == FILE_SEPARATOR)
        .zip(FILE_NAMES)
        .map(|(bytes, name)| SourceFile::new(name, String::from_utf8_lossy(bytes).into_owned()))
        .collect();
    Sources::new(files)
}

/// Every diagnostic (primary and secondary labels) points inside its file, on char boundaries,
/// and none is an internal error.
pub fn check_diagnostics(sources: &Sources, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        assert!(
            d.code != Code::InternalError,
            "oracle internal-error: {} {}",
            d.code.as_str(),
            d.message
        );
        let spans = std::iter::once(&d.primary).chain(&d.secondary);
        for label in spans {
            let span = label.span;
            let Some(file) = sources.get(span.file) else {
                panic!(
                    "oracle span-in-file: {} points at file {:?}, which does not exist",
                    d.code.as_str(),
                    span.file
                );
            };
            let (start, end) = (span.start as usize, span.end as usize);
            assert!(
                start <= end && end <= file.text.len(),
                "oracle span-in-file: {} span {start}..{end} outside {} ({} bytes): {}",
                d.code.as_str(),
                file.path,
                file.text.len(),
                d.message
            );
            assert!(
                file.text.is_char_boundary(start) && file.text.is_char_boundary(end),
                "oracle span-char-boundary: {} span {start}..{end} splits a character in {}: {}",
                d.code.as_str(),
                file.path,
                d.message
            );
        }
    }
}

/// Whether `target` can carry characters outside ASCII at all (quoted strings with escapes).
/// nftables strings have no escapes, BIRD comments and systemd-networkd files get only
/// identifiers and addresses: svcintent writes only ASCII there.
fn target_carries_unicode(target: Target) -> bool {
    !matches!(target, Target::Nftables | Target::Bird | Target::Loopback)
}

/// Every rendered file holds no control character except `\n` and indenting tabs, no character
/// that validation
/// refuses in strings, and only ASCII where its target can carry nothing else.
pub fn check_output(output: &svcintent_core::render::Output) {
    for f in &output.files {
        let mut indentation = true;
        for (i, c) in f.contents.char_indices() {
            // Tabs indent the nftables and Icinga2 templates (their tools' own style): allowed
            // only in a line's leading whitespace, where no value is ever written.
            let indent = indentation && c == '\t';
            indentation = c == '\n' || indent;
            assert!(
                c == '\n' || indent || !forbidden_char(c),
                "oracle clean-output: {} ({}) has U+{:04X} at byte {i}",
                f.tree_path(),
                f.target.as_str(),
                c as u32
            );
            assert!(
                c.is_ascii() || target_carries_unicode(f.target),
                "oracle clean-output: {} ({}) has non-ASCII U+{:04X} at byte {i}",
                f.tree_path(),
                f.target.as_str(),
                c as u32
            );
        }
    }
}

/// The observable result of building, as one comparable string: diagnostics (code, severity,
/// spans, messages, help) and every file's path, target, contents and origins, and the manifest.
fn fingerprint(built: Option<&svcintent_core::Built>, diagnostics: &[Diagnostic]) -> String {
    format!(
        "{diagnostics:?}\n{:?}",
        built.map(|b| (&b.output.files, b.output.manifest_json()))
    )
}

/// The `compile` oracles on one site. Builds it twice (what `render` does, without the
/// topology); returns both builds and the diagnostics.
pub fn check_sources(
    sources: &Sources,
) -> (
    Option<svcintent_core::Built>,
    Option<svcintent_core::Built>,
    Vec<Diagnostic>,
) {
    let (built, diagnostics) = svcintent_core::build(sources);
    check_diagnostics(sources, &diagnostics);
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    match &built {
        Some(b) => check_output(&b.output),
        None if !has_errors => panic!(
            "oracle clean-renders: lint found no error but render failed: {:?}",
            diagnostics
                .iter()
                .map(|d| (d.code.as_str(), &d.message))
                .collect::<Vec<_>>()
        ),
        None => {}
    }
    let (again, again_diagnostics) = svcintent_core::build(sources);
    assert!(
        fingerprint(built.as_ref(), &diagnostics)
            == fingerprint(again.as_ref(), &again_diagnostics),
        "oracle deterministic: the same input rendered to different bytes"
    );
    (built, again, diagnostics)
}

/// The `compile` fuzz target: arbitrary bytes as one to three site files.
pub fn check_compile(data: &[u8]) {
    check_sources(&split_files(data));
}

/// The `site` fuzz target: a valid-shaped site generated from the bytes, sometimes with one
/// line removed or repeated. Besides the `compile` oracles: a site of the generator that was
/// not edited must lint without errors, and `diff(site, site)` is empty.
pub fn check_site(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let mut choices = crate::random_site::Fuzzed(&mut u);
    let generated = crate::random_site::generate(&mut choices);
    let edit: u8 = choices.0.arbitrary().unwrap_or(0);
    let site = match edit % 4 {
        0 => generated.clone(),
        kind => {
            let at: u16 = choices.0.arbitrary().unwrap_or(0);
            generated.edited(kind, usize::from(at))
        }
    };
    check_generated(&site);
}

/// The `site` oracles on one generated (maybe edited) site.
pub fn check_generated(site: &crate::random_site::GeneratedSite) {
    let sources = site.sources();
    let (built, again, diagnostics) = check_sources(&sources);
    if !site.edited_line {
        let errors: Vec<_> = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {}", d.code.as_str(), d.message))
            .collect();
        assert!(
            errors.is_empty(),
            "oracle valid-site: the generator's site has errors: {errors:?}\n{}",
            site.yaml()
        );
    }
    if let (Some(a), Some(b)) = (&built, &again) {
        let d = svcintent_core::diff::diff(a, b);
        assert!(
            d.is_empty(),
            "oracle self-diff: diff(site, site) is not empty: {:?}",
            d.changes
        );
    }
}

/// Limits of the `module` target: small enough that a pathological request ends in
/// milliseconds, large enough that every seed (the campus example) renders.
#[cfg(feature = "runner")]
pub fn module_limits() -> svcintent_host::engine::Limits {
    svcintent_host::engine::Limits {
        fuel: 20_000_000_000,
        max_memory: 512 << 20,
        timeout: std::time::Duration::from_secs(120),
        max_stack: svcintent_host::engine::Limits::DEFAULT_MAX_STACK,
    }
}

/// The engine of the `module` target: the embedded module under wasmtime, compiled once (the
/// compiled-module cache in `cache_dir`, when given).
#[cfg(feature = "runner")]
pub fn module_engine(cache_dir: Option<std::path::PathBuf>) -> svcintent_host::engine::Engine {
    use svcintent_host::engine::{CachePolicy, Engine, EngineKind};
    let policy = cache_dir.map_or(CachePolicy::Disabled, CachePolicy::Dir);
    match Engine::new(EngineKind::Wasm, module_limits(), &policy) {
        Ok((engine, _)) => engine,
        Err(e) => panic!("the module cannot be loaded: {e}"),
    }
}

/// The `module` fuzz target: the bytes (decoded as UTF-8 with replacement: requests are text)
/// as one request. A response must be what the native core answers; an error must be a
/// documented limit.
#[cfg(feature = "runner")]
pub fn check_module(engine: &svcintent_host::engine::Engine, data: &[u8]) {
    use svcintent_host::engine::EngineError;
    let request = String::from_utf8_lossy(data);
    match engine.call(&request) {
        Ok((response, _)) => {
            let native = svcintent_core::api::handle_json(&request);
            assert!(
                response == native,
                "oracle module-matches-native: the module answered\n{response}\nthe native core\n{native}"
            );
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&response);
            assert!(
                parsed
                    .as_ref()
                    .is_ok_and(|v| v.get("ok").is_some_and(serde_json::Value::is_boolean)),
                "oracle module-response: not a JSON response with `ok`: {response}"
            );
        }
        Err(
            EngineError::OutOfFuel { .. }
            | EngineError::OutOfMemory { .. }
            | EngineError::StackOverflow { .. }
            | EngineError::Timeout { .. },
        ) => {}
        Err(e @ (EngineError::Trap(_) | EngineError::Module(_))) => {
            panic!("oracle module-limits-only: {e}")
        }
    }
}
