//! Arbitrary request bytes into the real wasm module through the runner's engine: a response
//! equal to the native core's, or a documented limit error (tests/src/fuzzing.rs).
#![no_main]

use std::sync::OnceLock;

use svcintent_host::engine::Engine;

static ENGINE: OnceLock<Engine> = OnceLock::new();

libfuzzer_sys::fuzz_target!(
    // The engine (the module compiled by the instrumented cranelift, tens of seconds on a cold
    // cache) is built once, before libFuzzer starts timing units: built inside the first unit,
    // it counted against that unit's -timeout and a cold CI run reported a false timeout on the
    // empty input.
    init: {
        let cache = std::env::var_os("SVCINTENT_FUZZ_CACHE").map(std::path::PathBuf::from);
        let _ = ENGINE.set(svcintent_tests::fuzzing::module_engine(cache));
    },
    |data: &[u8]| {
        let engine = ENGINE.get().expect("the engine is built by init before any unit");
        svcintent_tests::fuzzing::check_module(engine, data);
    }
);
