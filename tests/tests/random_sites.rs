//! Random valid sites (tests/src/random_site.rs): every seed lints without errors (the only
//! warning allowed is SI051, which the generator causes on purpose), and over the seeds every
//! field of the schema is used; the first 40 also pass the `site` fuzz target's oracles. The
//! daemons' checks of seeds run in `random_sites_daemons`.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "tests"
)]

use svcintent_tests::random_site::{Seeded, generate};

#[test]
fn seeds_lint_clean() {
    let n: u64 = std::env::var("SVCINTENT_LINT_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut bad = Vec::new();
    for seed in 0..n {
        let site = generate(&mut Seeded(seed));
        // The `site` fuzz target's oracles (spans, clean output, determinism, self-diff).
        if seed < 40 {
            svcintent_tests::fuzzing::check_generated(&site);
        }
        let compiled = svcintent_core::compile(&site.sources());
        let unexpected: Vec<String> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.code.as_str() != "SI051")
            .map(|d| format!("{} {}", d.code.as_str(), d.message))
            .collect();
        if !unexpected.is_empty() {
            bad.push(format!("seed {seed}: {unexpected:?}"));
        }
    }
    assert!(bad.is_empty(), "{} seeds:\n{}", bad.len(), bad.join("\n"));
}

/// `SVCINTENT_WRITE_SEED=N SVCINTENT_WRITE_DIR=DIR`: writes seed N's site into DIR (for
/// reproducing a failure by hand with `svcintent lint/render/validate`). Does nothing otherwise.
#[test]
fn write_seed_on_request() {
    let (Some(seed), Some(dir)) = (
        std::env::var("SVCINTENT_WRITE_SEED")
            .ok()
            .and_then(|v| v.parse::<u64>().ok()),
        std::env::var_os("SVCINTENT_WRITE_DIR"),
    ) else {
        return;
    };
    let site = generate(&mut Seeded(seed));
    site.write(std::path::Path::new(&dir)).unwrap();
    eprintln!("seed {seed}: {}", site.summary);
}

/// Over the seeds the generator uses every field of the schema table (`core/src/schema.rs`)
/// and every word of every enum field of hosts and services.
#[test]
fn seeds_cover_every_schema_field() {
    let mut used = std::collections::BTreeSet::new();
    for seed in 0..200 {
        used.extend(generate(&mut Seeded(seed)).fields);
    }
    let fields = svcintent_tests::random_site::schema_fields();
    assert!(
        fields.len() > 100,
        "the schema table has {} fields",
        fields.len()
    );
    let missing: Vec<String> = fields.into_iter().filter(|f| !used.contains(f)).collect();
    assert!(missing.is_empty(), "fields no seed uses: {missing:?}");
}
