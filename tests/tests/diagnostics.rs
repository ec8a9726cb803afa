//! Every diagnostic code has a fixture that triggers it (`tests/fixtures/invalid/<CODE>_<what>/`),
//! the human output of each fixture is a reviewed snapshot (carets under the exact node), and
//! every code is documented in docs/diagnostics.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeSet;

use svcintent_core::diagnostic::{human, json};
use svcintent_core::{Code, Severity};
use svcintent_tests::{load_site, repo_root};

fn fixture_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(repo_root().join("tests/fixtures/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn each_fixture_triggers_its_code() {
    insta::glob!("../fixtures/invalid", "*/site.yaml", |path| {
        let dir = path.parent().unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let code: Code = name
            .split('_')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|()| panic!("{name}: no code prefix"));
        let sources = load_site(dir);
        let compiled = svcintent_core::compile(&sources);
        let ds = json::to_json_all(&compiled.diagnostics, &sources);
        let hit = ds.iter().find(|d| d.code == code);
        assert!(
            hit.is_some(),
            "{name}: {code} not reported; got {:?}",
            ds.iter().map(|d| d.code).collect::<Vec<_>>()
        );
        let hit = hit.unwrap();
        // Every finding is located inside the site, on a real line.
        for d in &ds {
            assert!(
                !d.location.file.is_empty() && d.location.line >= 1,
                "{name}: unlocated {d:?}"
            );
        }
        assert!(hit.location.end >= hit.location.start);
        // Every diagnostic is reported with its code's severity: one table decides it.
        for d in &ds {
            assert_eq!(d.severity, d.code.severity(), "{name}: {d:?}");
        }
        // A fixture with `expected.txt` states its whole diagnostic list, one
        // `CODE file:line:col` per line: nothing may be added to it (no knock-on findings).
        if let Ok(expected) = std::fs::read_to_string(dir.join("expected.txt")) {
            let got: Vec<String> = ds
                .iter()
                .map(|d| {
                    format!(
                        "{} {}:{}:{}",
                        d.code, d.location.file, d.location.line, d.location.column
                    )
                })
                .collect();
            let want: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(got, want, "{name}: the exact diagnostic list");
        }
        insta::assert_snapshot!(human::render_all(&ds, &sources, human::Color::Never));
    });
}

#[test]
fn every_code_has_a_fixture() {
    let covered: BTreeSet<String> = fixture_dirs()
        .iter()
        .map(|d| {
            d.file_name()
                .unwrap()
                .to_string_lossy()
                .split('_')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    // SI099 reports a bug in svcintent itself; no input can (or should) trigger it.
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| *c != "SI099" && !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}

#[test]
fn every_code_is_documented() {
    for code in Code::ALL {
        let doc = code
            .explanation()
            .unwrap_or_else(|| panic!("{code} has no section in docs/diagnostics.md"));
        assert!(
            doc.contains(code.name()),
            "{code}: section does not name `{}`",
            code.name()
        );
        for part in ["**What**", "**Why**", "**Fix**"] {
            assert!(doc.contains(part), "{code}: section lacks {part}");
        }
    }
}

#[test]
fn errors_are_collected_not_first_one_wins() {
    let sources =
        load_site(&repo_root().join("tests/fixtures/invalid/SI010_unknown_key_with_suggestion"));
    let mut files: Vec<(String, String)> = sources
        .iter()
        .map(|(_, f)| (f.path.clone(), f.text.clone()))
        .collect();
    // Add three independent problems to the same site.
    files[0].1.push_str("    check: { interval: 2 }\n  other:\n    vips: [198.51.100.1]\n    ports: [80/tcp]\n    backends: [nobody]\n");
    let sources = svcintent_core::Sources::from_pairs(files);
    let compiled = svcintent_core::compile(&sources);
    let codes: BTreeSet<&str> = compiled
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    for want in ["SI010", "SI041", "SI031", "SI020"] {
        assert!(codes.contains(want), "{want} missing from {codes:?}");
    }
    assert!(
        compiled
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
            >= 4
    );
}
