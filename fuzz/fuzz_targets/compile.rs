//! Arbitrary bytes as one to three site files: lint, render, oracles (tests/src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    svcintent_tests::fuzzing::check_compile(data);
});
