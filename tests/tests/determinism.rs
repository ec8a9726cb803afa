//! The sandboxed module and the native core give byte-identical responses (diagnostics, every
//! rendered file, the manifest) on generated sites of 100 and 1,000 services. (10,000 takes
//! about a minute in the sandbox; run it with the bench tools, not in every CI run.) A render
//! streamed in parts gives the same tree as the one-JSON response.
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

/// A render streamed in parts (`docs/abi.md`, "Streamed responses"), taken by the host's own
/// decoder: the tree (path -> bytes, `manifest.json` included) and the head's diagnostics.
fn streamed_tree(
    engine: &Engine,
    request: &str,
) -> (
    std::collections::BTreeMap<String, Vec<u8>>,
    Vec<svcintent_core::diagnostic::json::JsonDiagnostic>,
) {
    use svcintent_host::protocol::{Chunk, Received, RenderParts, StreamError};
    let mut parts = RenderParts::default();
    let mut tree = std::collections::BTreeMap::<String, Vec<u8>>::new();
    let mut manifest = Vec::new();
    let mut failure = None;
    let stats = engine
        .stream(request, &mut |part| {
            let taken = parts.accept(part, &mut |chunk| -> Result<(), String> {
                match chunk {
                    Chunk::File(path, contents) => {
                        if tree.insert(path.to_owned(), contents.to_vec()).is_some() {
                            return Err(format!("{path} came twice"));
                        }
                    }
                    Chunk::ManifestStart(bytes) => manifest = bytes.to_vec(),
                    Chunk::Manifest(bytes) => manifest.extend_from_slice(bytes),
                }
                Ok(())
            });
            match taken {
                Ok(()) => std::ops::ControlFlow::Continue(()),
                Err(StreamError::Protocol(e) | StreamError::Sink(e)) => {
                    failure = Some(e);
                    std::ops::ControlFlow::Break(())
                }
            }
        })
        .unwrap();
    assert_eq!(failure, None);
    assert!(stats.parts >= 3, "a render comes in H, F..., M..., E parts");
    let Received::Tree { head, end } = parts.finish().unwrap() else {
        panic!("the render was not streamed");
    };
    assert!(head.ok && end.ok, "the render failed");
    assert!(
        tree.insert("manifest.json".to_owned(), manifest).is_none(),
        "a file named manifest.json"
    );
    (tree, head.diagnostics)
}

/// The same tree from the one-JSON response.
fn whole_tree(
    engine: &Engine,
    request: &str,
) -> (
    std::collections::BTreeMap<String, Vec<u8>>,
    Vec<svcintent_core::diagnostic::json::JsonDiagnostic>,
) {
    let (text, _) = engine.call(request).unwrap();
    let response = svcintent_host::protocol::Response::parse(&text).unwrap();
    assert!(response.ok, "the render failed");
    let mut tree: std::collections::BTreeMap<String, Vec<u8>> = response
        .files
        .iter()
        .map(|f| (f.path.clone(), f.contents.as_bytes().to_vec()))
        .collect();
    assert_eq!(tree.len(), response.files.len(), "a path came twice");
    tree.insert(
        "manifest.json".to_owned(),
        response.manifest_json().unwrap().into_bytes(),
    );
    (tree, response.diagnostics)
}

/// The streamed render gives exactly the files, bytes and manifest (and warnings) of the
/// one-JSON response, natively and in the sandbox, on the campus example and a generated site.
#[test]
fn a_streamed_render_is_the_json_response_byte_for_byte() {
    let cache = tempfile::tempdir().unwrap();
    let policy = CachePolicy::Dir(cache.path().to_path_buf());
    let campus = svcintent_host::site::read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/campus"),
    )
    .unwrap();
    let campus = svcintent_host::protocol::render(&campus.files);
    let generated = render_request(&svcintent_tests::generate::site(300, 60));
    for kind in [EngineKind::Native, EngineKind::Wasm] {
        let (engine, _) = Engine::new(kind, Limits::default(), &policy).unwrap();
        for (name, request) in [("campus", &campus), ("generated", &generated)] {
            let (streamed, streamed_warnings) = streamed_tree(&engine, request);
            let (whole, whole_warnings) = whole_tree(&engine, request);
            assert!(whole.len() > 20, "{name}: only {} files", whole.len());
            assert_eq!(
                streamed.keys().collect::<Vec<_>>(),
                whole.keys().collect::<Vec<_>>(),
                "{name} ({kind:?}): the streamed tree has other paths"
            );
            for (path, bytes) in &whole {
                assert!(
                    streamed.get(path) == Some(bytes),
                    "{name} ({kind:?}): {path} differs when streamed"
                );
            }
            assert_eq!(
                format!("{streamed_warnings:?}"),
                format!("{whole_warnings:?}"),
                "{name} ({kind:?}): warnings differ"
            );
        }
    }
}
