//! Replays every committed fuzz input (tests/fixtures/fuzz/TARGET/*: crashes the fuzzer found,
//! minimised, and hand-written edge cases) through the oracles of its target
//! (tests/src/fuzzing.rs), on the stable toolchain: no nightly, no libFuzzer.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "tests"
)]

use std::path::PathBuf;

use svcintent_tests::{fuzzing, repo_root};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = repo_root().join("tests/fixtures/fuzz").join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
}

/// Runs `check` on each input, naming the input when an oracle fails.
fn replay(target: &str, check: impl Fn(&[u8])) {
    for (path, bytes) in inputs(target) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        if let Err(e) = result {
            let message = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{target} input {} fails: {message}", path.display());
        }
    }
}

#[test]
fn compile_inputs() {
    replay("compile", fuzzing::check_compile);
}

#[test]
fn site_inputs() {
    replay("site", fuzzing::check_site);
}

#[test]
fn module_inputs() {
    let cache = tempfile::tempdir().unwrap();
    let engine = fuzzing::module_engine(Some(cache.path().join("cache")));
    replay("module", |bytes| fuzzing::check_module(&engine, bytes));
}
