//! The sandboxed module and the native core give byte-identical responses (diagnostics, every
//! rendered file, the manifest) on generated sites of 100 and 1,000 services. (10,000 takes
//! about a minute in the sandbox; run it with the bench tools, not in every CI run.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use svcintent_host::engine::{CachePolicy, Engine, EngineKind, Limits};

fn render_request(sources: &svcintent_core::Sources) -> String {
    let files: Vec<serde_json::Value> = sources
        .iter()
        .map(|(_, f)| serde_json::json!({"path": f.path, "text": f.text}))
        .collect();
    serde_json::json!({"version": 1, "op": "render", "files": files}).to_string()
}

#[test]
fn native_and_wasm_render_the_same_bytes_on_generated_sites() {
    let cache = tempfile::tempdir().unwrap();
    let policy = CachePolicy::Dir(cache.path().to_path_buf());
    let (native, _) = Engine::new(EngineKind::Native, Limits::default(), &policy).unwrap();
    let (wasm, _) = Engine::new(EngineKind::Wasm, Limits::default(), &policy).unwrap();
    for (services, hosts) in [(100, 40), (1000, 200)] {
        let request = render_request(&svcintent_tests::generate::site(services, hosts));
        let (a, _) = native.call(&request).unwrap();
        let (b, _) = wasm.call(&request).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(parsed["ok"], true, "{services} services did not render");
        assert!(
            parsed["files"].as_array().unwrap().len() > services,
            "too few files"
        );
        assert!(
            a == b,
            "{services} services: native and wasm responses differ"
        );
    }
}

/// The issue's largest site: 10,000 services on 400 hosts (about 140 MB of configuration).
/// Compared by the SHA-256 of each response, so that the two ~300 MB responses are not kept
/// side by side longer than needed.
#[test]
fn native_and_wasm_render_the_same_bytes_at_10000_services() {
    use sha2::{Digest, Sha256};
    let cache = tempfile::tempdir().unwrap();
    let policy = CachePolicy::Dir(cache.path().to_path_buf());
    let request = render_request(&svcintent_tests::generate::site(10_000, 400));
    let digest = |kind| {
        let (engine, _) = Engine::new(kind, Limits::default(), &policy).unwrap();
        let (response, _) = engine.call(&request).unwrap();
        let head: String = response.chars().take(40).collect();
        assert!(
            head.starts_with(r#"{"version":1,"ok":true"#),
            "10,000 services did not render: {head}"
        );
        (Sha256::digest(response.as_bytes()), response.len())
    };
    let (native, native_len) = digest(EngineKind::Native);
    let (wasm, wasm_len) = digest(EngineKind::Wasm);
    assert!(native_len > 100_000_000, "only {native_len} bytes rendered");
    assert_eq!(native_len, wasm_len, "response lengths differ");
    assert_eq!(native, wasm, "native and wasm responses differ");
}
