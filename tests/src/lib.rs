//! Shared helpers for the integration tests: loading fixture sites from disk, writing rendered
//! trees, generating large sites.

pub mod generate;

use std::path::Path;

use svcintent_core::{SourceFile, Sources};

/// Loads every `*.yaml`/`*.yml` below `dir` as a site, paths relative to `dir`.
pub fn load_site(dir: &Path) -> Sources {
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    Sources::new(files)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Hidden files and directories (.git, editor swap files) are not part of the site.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
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

/// Renders a site directory; panics with the human diagnostics if it has errors.
#[allow(
    clippy::panic,
    reason = "test helper: a failing render is a test failure"
)]
pub fn render_dir(dir: &Path) -> (Sources, svcintent_core::render::Output) {
    let sources = load_site(dir);
    let rendered = svcintent_core::render(&sources);
    match rendered.output {
        Some(out) => (sources, out),
        None => {
            let ds = svcintent_core::diagnostic::json::to_json_all(&rendered.diagnostics, &sources);
            panic!(
                "{} did not render:\n{}",
                dir.display(),
                svcintent_core::diagnostic::human::render_all(
                    &ds,
                    &sources,
                    svcintent_core::diagnostic::human::Color::Never
                )
            )
        }
    }
}

/// Writes a rendered output as a tree (`<host>/<path>` plus `manifest.json`) below `dir`.
pub fn write_tree(out: &svcintent_core::render::Output, dir: &Path) -> std::io::Result<()> {
    for f in &out.files {
        let path = dir.join(f.tree_path());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, &f.contents)?;
    }
    std::fs::write(dir.join("manifest.json"), out.manifest_json())
}
