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
/// that validation refuses in strings, and only ASCII where its target can carry nothing else.
pub fn check_output(output: &svcintent_core::render::Output) {
    for f in &output.files {
        if let Some((i, c, what)) = unclean_char(&f.contents, f.target) {
            panic!(
                "oracle clean-output: {} ({}) has {what}U+{:04X} at byte {i}",
                f.tree_path(),
                f.target.as_str(),
                c as u32
            );
        }
    }
}

/// Whether all eight bytes of `word` are printable ASCII (`0x20..=0x7E`): none is a control
/// character, outside ASCII, or anything [`forbidden_char`] refuses (control characters, U+007F
/// to U+009F among them, and a few characters above U+2000), and each is a whole character.
fn printable_ascii_word(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // A byte below 0x20 borrows through its high bit when 0x20 is subtracted (`& !word` keeps
    // only the bytes that had it clear); a byte equal to 0x7F is zero after `^ 0x7F` and
    // borrows likewise; a byte at or above 0x80 has its own high bit. A borrow can only spill
    // into a higher byte when a lower byte was already caught, so the "any" answer is exact.
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let delete = word ^ (ONES * 0x7f);
    let is_delete = delete.wrapping_sub(ONES) & !delete;
    (below_space | is_delete | word) & HIGH_BITS == 0
}

/// Whether [`check_output`] refuses character `c` in a file of `target`: `Some("")` for a
/// character nothing may hold, `Some("non-ASCII ")` when only its target's lack of escapes
/// refuses it. `indentation` says whether everything since the line's start was a tab, and is
/// updated past `c`: tabs indent the nftables and Icinga2 templates (their tools' own style)
/// and are allowed only in a line's leading whitespace, where no value is ever written.
fn refused_char(c: char, indentation: &mut bool, target: Target) -> Option<&'static str> {
    let indent = *indentation && c == '\t';
    *indentation = c == '\n' || indent;
    if c != '\n' && !indent && forbidden_char(c) {
        return Some("");
    }
    if !c.is_ascii() && !target_carries_unicode(target) {
        return Some("non-ASCII ");
    }
    None
}

/// The first character of a file's `text` that [`check_output`] refuses in a file of `target`:
/// its byte offset, the character, and `"non-ASCII "` when only its target's lack of escapes
/// refuses it. Runs of printable ASCII, nearly all of every file, are skipped eight bytes at a
/// time (the fuzz build instruments every comparison: checking every character one by one was
/// a fifth of a `site` execution); every other character is checked one by one.
fn unclean_char(text: &str, target: Target) -> Option<(usize, char, &'static str)> {
    let bytes = text.as_bytes();
    // See [`refused_char`]; printable ASCII is never refused and ends the indentation.
    let mut indentation = true;
    let mut i = 0;
    while i < bytes.len() {
        // Invariant: `i` is a char boundary (only whole ASCII bytes or whole chars are skipped).
        let run_start = i;
        while let Some(word) = bytes
            .get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        {
            if !printable_ascii_word(u64::from_le_bytes(word)) {
                break;
            }
            i += 8;
        }
        while bytes.get(i).is_some_and(|b| (0x20..0x7f).contains(b)) {
            i += 1;
        }
        if i > run_start {
            indentation = false;
        }
        let c = text.get(i..).and_then(|rest| rest.chars().next())?;
        if let Some(what) = refused_char(c, &mut indentation, target) {
            return Some((i, c, what));
        }
        i += c.len_utf8();
    }
    None
}

/// Whether two builds of one input rendered the same: every file's host, path, target,
/// contents, services and origins, and the manifest (the diagnostics are compared beside it).
/// Compared with `==`, without formatting either build: every type in them derives `PartialEq`
/// over all its fields and holds no float and no hash map (core has none), so equal values are
/// equal bytes, the manifest's JSON included.
fn same_output(a: Option<&svcintent_core::Built>, b: Option<&svcintent_core::Built>) -> bool {
    fn observable(
        built: &svcintent_core::Built,
    ) -> (
        &[svcintent_core::render::RenderedFile],
        &svcintent_core::render::Manifest,
    ) {
        (&built.output.files, &built.output.manifest)
    }
    a.map(observable) == b.map(observable)
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
        diagnostics == again_diagnostics && same_output(built.as_ref(), again.as_ref()),
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

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    reason = "test inputs: every index is below its array's length (a position of 0..8, or modulo the length)"
)]
mod tests {
    use super::*;

    /// SplitMix64, for reproducible test inputs.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn printable_ascii_word_is_the_bytewise_check() {
        let bytewise = |w: u64| w.to_le_bytes().iter().all(|b| (0x20..0x7f).contains(b));
        let mut words = Vec::new();
        // Every byte value at every position, among printable neighbours and among others.
        for fill in [b'a', b' ', b'~', 0x00, 0x1f, 0x7f, 0x80, 0xff] {
            for pos in 0..8 {
                for v in 0..=255u8 {
                    let mut bytes = [fill; 8];
                    bytes[pos] = v;
                    words.push(u64::from_le_bytes(bytes));
                }
            }
        }
        let mut state = 7;
        for _ in 0..100_000 {
            words.push(next(&mut state));
            // Mostly printable bytes, sometimes one of the edges.
            let edges = [0x00, 0x09, 0x0a, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xc3, 0xff];
            let bytes: [u8; 8] = std::array::from_fn(|_| {
                let r = next(&mut state);
                if r.is_multiple_of(4) {
                    edges[(r >> 8) as usize % edges.len()]
                } else {
                    0x20 + (r >> 8) as u8 % 0x5f
                }
            });
            words.push(u64::from_le_bytes(bytes));
        }
        for w in words {
            assert_eq!(printable_ascii_word(w), bytewise(w), "{:016x}", w);
        }
    }

    /// The character-by-character check `unclean_char` replaced: every character through
    /// [`refused_char`], none skipped.
    fn unclean_char_one_by_one(text: &str, target: Target) -> Option<(usize, char, &'static str)> {
        let mut indentation = true;
        text.char_indices()
            .find_map(|(i, c)| Some((i, c, refused_char(c, &mut indentation, target)?)))
    }

    #[test]
    fn unclean_char_finds_what_the_one_by_one_check_finds() {
        let pieces = [
            // The first seven are clean anywhere.
            "a",
            "backend www",
            " ",
            "    ",
            "\t",
            "\n",
            "0123456789abcdef",
            "\r",
            "\u{1}",
            "\u{7f}",
            "\u{85}",
            "\u{a0}",
            "é",
            "日本",
            "\u{200b}",
            "\u{2028}",
            "\u{202e}",
            "\u{feff}",
            "\u{1f600}",
        ];
        let mut state = 11;
        let mut refused = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..next(&mut state) % 24 {
                // Mostly clean pieces, so that a refused character comes after long runs.
                let r = next(&mut state);
                let i = if r.is_multiple_of(3) {
                    (r >> 8) as usize % pieces.len()
                } else {
                    (r >> 8) as usize % 7
                };
                text.push_str(pieces[i]);
            }
            for target in [Target::Nftables, Target::Haproxy] {
                let found = unclean_char(&text, target);
                refused += usize::from(found.is_some());
                assert_eq!(found, unclean_char_one_by_one(&text, target), "{text:?}");
            }
        }
        assert!(
            refused > 1000,
            "the inputs must hold refused characters: {refused}"
        );
    }
}
