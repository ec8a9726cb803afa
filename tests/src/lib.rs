//! Shared helpers for the integration tests: loading fixture sites from disk.

use std::path::Path;

use svcintent_core::{SourceFile, Sources};

/// Loads every `*.yaml`/`*.yml` below `dir` as a site, paths relative to `dir`.
pub fn load_site(dir: &Path) -> Sources {
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    Sources::new(files)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            if let Ok(text) = std::fs::read_to_string(&path) {
                out.push(SourceFile::new(rel, text));
            }
        }
    }
}

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}
