//! A valid-shaped site generated from the bytes (tests/src/random_site.rs), sometimes with one
//! line removed or repeated: lint, render, diff against itself, oracles (tests/src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    svcintent_tests::fuzzing::check_site(data);
});
