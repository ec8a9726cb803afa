//! Failure injection on the compiled-module cache (docs/reliability.md): an entry that is
//! corrupt or truncated (artifact, stored digest, half the file, empty file, trailing bytes) is
//! detected by its SHA-256 and recompiled, never loaded, and the recompiled entry replaces it;
//! the engine then serves requests as before.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use svcintent_host::engine::{CacheOutcome, CachePolicy, Engine, EngineKind, Limits};

fn engine(dir: &Path) -> (Engine, CacheOutcome) {
    Engine::new(
        EngineKind::Wasm,
        Limits::default(),
        &CachePolicy::Dir(dir.to_path_buf()),
    )
    .unwrap_or_else(|e| panic!("engine: {e}"))
}

/// The engine answers a request (it runs the module it loaded or compiled).
fn serves(engine: &Engine) {
    let (response, _) = engine
        .call(r#"{"version":1,"op":"version"}"#)
        .unwrap_or_else(|e| panic!("call: {e}"));
    assert!(response.contains("\"ok\":true"), "{response}");
}

fn entry(dir: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "one cache entry: {entries:?}");
    entries.into_iter().next().unwrap()
}

#[test]
fn corrupt_or_truncated_entries_are_recompiled_never_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    let (first, outcome) = engine(&dir);
    assert!(
        matches!(
            outcome,
            CacheOutcome::Compiled {
                stored: Some(_),
                warning: None,
                ..
            }
        ),
        "{outcome:?}"
    );
    serves(&first);
    let path = entry(&dir);
    let good = std::fs::read(&path).unwrap();
    let (_, outcome) = engine(&dir);
    assert!(
        matches!(outcome, CacheOutcome::Loaded { .. }),
        "{outcome:?}"
    );

    // Layout: 16 bytes of magic, the 32-byte SHA-256 of the artifact, the artifact.
    let flip = |at: usize| {
        let mut b = good.clone();
        b[at] ^= 0x40;
        b
    };
    let corruptions: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped byte in the artifact", flip(good.len() / 2)),
        ("a flipped byte in the stored digest", flip(20)),
        ("truncated to half", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("trailing garbage", [good.as_slice(), b"garbage"].concat()),
    ];
    for (what, bytes) in corruptions {
        std::fs::write(&path, &bytes).unwrap();
        let (engine_after, outcome) = engine(&dir);
        match &outcome {
            CacheOutcome::Compiled {
                stored: Some(stored),
                warning: None,
                ..
            } => assert_eq!(stored, &path, "{what}: stored under the same key"),
            other => panic!("{what}: expected a recompilation, got {other:?}"),
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            good,
            "{what}: the entry is whole again"
        );
        serves(&engine_after);
    }
}
