//! Shared helpers for the integration tests: loading fixture sites from disk, writing rendered
//! trees, generating large sites.

pub mod fuzzing;
pub mod generate;
pub mod random_site;
pub mod tree_checks;

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

/// A site's files as the protocol's requests carry them.
pub fn input_files(sources: &Sources) -> Vec<svcintent_core::api::InputFile> {
    sources
        .iter()
        .map(|(_, f)| svcintent_core::api::InputFile {
            path: f.path.clone(),
            text: f.text.clone(),
        })
        .collect()
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

/// The contents of the file `path` (absolute on-host path) rendered for `host`.
#[allow(
    clippy::panic,
    reason = "test helper: a missing file is a test failure"
)]
pub fn file<'a>(out: &'a svcintent_core::render::Output, host: &str, path: &str) -> &'a str {
    let f = out.files.iter().find(|f| f.host == host && f.path == path);
    &f.unwrap_or_else(|| panic!("{host} has no {path}")).contents
}

/// Writes `out` as a tree and runs `daemon`'s own check through the shared harness, asserting
/// that every host with a file of `target` was checked and that nothing failed (warnings count).
#[cfg(feature = "runner")]
#[allow(
    clippy::panic,
    reason = "test helper: a failing check is a test failure"
)]
pub fn assert_daemon_accepts(
    out: &svcintent_core::render::Output,
    daemon: svcintent_host::daemons::Daemon,
    target: svcintent_core::render::Target,
    name: &str,
) {
    use svcintent_host::daemons::{Options, check_tree};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    write_tree(out, dir.path()).unwrap_or_else(|e| panic!("writing the tree: {e}"));
    let opts = Options {
        daemons: vec![daemon],
        ..Options::default()
    };
    let report =
        check_tree(dir.path(), &opts).unwrap_or_else(|e| panic!("daemon check could not run: {e}"));
    let hosts: std::collections::BTreeSet<&str> = out
        .files
        .iter()
        .filter(|f| f.target == target)
        .map(|f| f.host.as_str())
        .collect();
    assert!(
        !hosts.is_empty(),
        "{name}: no {} file rendered",
        target.as_str()
    );
    assert_eq!(
        report.checked.len(),
        hosts.len(),
        "{name}: not every host was checked: {:?}",
        report.checked
    );
    let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "{name}: {daemon} rejected the config:\n{}",
        failures.join("\n")
    );
}

/// `sources` with the text of `path` replaced by `edit(text)`, as an operator would edit one
/// file. Panics when no file has that path or the edit changes nothing (a test's edit that
/// silently misses would make the test pass for the wrong reason).
#[allow(clippy::panic, reason = "test helper: a missed edit is a test failure")]
pub fn edited(sources: &Sources, path: &str, edit: impl Fn(&str) -> String) -> Sources {
    let mut found = false;
    let files = sources
        .iter()
        .map(|(_, f)| {
            if f.path != path {
                return SourceFile::new(f.path.clone(), f.text.clone());
            }
            found = true;
            let text = edit(&f.text);
            if text == f.text {
                panic!("the edit of {path} changed nothing");
            }
            SourceFile::new(f.path.clone(), text)
        })
        .collect();
    if !found {
        panic!("no file {path} in the site");
    }
    Sources::new(files)
}

/// The anycast-healthchecker venv the daemon checks use (`SVCINTENT_HEALTHCHECKER` names the
/// venv or its `bin/anycast-healthchecker`; default `/opt/svcintent-venv`). Panics when the
/// daemon is not installed there: the tests that need it must fail, not skip.
#[cfg(feature = "runner")]
#[allow(
    clippy::panic,
    reason = "test helper: a missing daemon is a test failure"
)]
pub fn healthchecker_venv() -> std::path::PathBuf {
    let configured = svcintent_host::daemons::healthchecker::configured_path(
        &svcintent_host::daemons::Options::default(),
    );
    let venv = if configured.is_dir() {
        configured
    } else {
        configured
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or(configured)
    };
    if !venv.join("bin/anycast-healthchecker").is_file() {
        panic!(
            "anycast-healthchecker is not installed in {} (run .ci/install-daemons.sh)",
            venv.display()
        );
    }
    venv
}
