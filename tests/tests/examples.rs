//! The bundled examples lint clean.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing,
    reason = "tests"
)]

use svcintent_core::diagnostic::{human, json};
use svcintent_tests::{load_site, repo_root};

#[test]
fn campus_lints_clean() {
    let sources = load_site(&repo_root().join("examples/campus"));
    assert!(sources.len() >= 5, "campus example not found");
    let compiled = svcintent_core::compile(&sources);
    let ds = json::to_json_all(&compiled.diagnostics, &sources);
    let text = human::render_all(&ds, &sources, human::Color::Never);
    assert!(
        compiled.diagnostics.is_empty(),
        "campus is not clean:\n{text}"
    );
    let intent = compiled.intent.expect("intent");
    assert!(intent.services.len() >= 10);
}

#[test]
fn lab_lints_clean() {
    let sources = load_site(&repo_root().join("examples/lab"));
    assert!(sources.len() >= 4, "lab example not found");
    let compiled = svcintent_core::compile(&sources);
    let ds = json::to_json_all(&compiled.diagnostics, &sources);
    let text = human::render_all(&ds, &sources, human::Color::Never);
    assert!(compiled.diagnostics.is_empty(), "lab is not clean:\n{text}");
    let intent = compiled.intent.expect("intent");
    assert_eq!(intent.services.len(), 4);
    assert_eq!(
        intent.services["intdns"].announce,
        svcintent_core::model::AnnounceScope::Site
    );
}
