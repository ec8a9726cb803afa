//! Arbitrary request bytes into the real wasm module through the runner's engine: a response
//! equal to the native core's, or a documented limit error (tests/src/fuzzing.rs).
#![no_main]

use std::sync::OnceLock;

use svcintent_host::engine::Engine;

static ENGINE: OnceLock<Engine> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let engine = ENGINE.get_or_init(|| {
        let cache = std::env::var_os("SVCINTENT_FUZZ_CACHE").map(std::path::PathBuf::from);
        svcintent_tests::fuzzing::module_engine(cache)
    });
    svcintent_tests::fuzzing::check_module(engine, data);
});
