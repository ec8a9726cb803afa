//! Failure injection on `render --out` (docs/reliability.md): a full file system, a read-only
//! target and a target on another file system. Each must end in a clear error (the path and the
//! system's reason, exit code 4) with the previous tree exactly as it was, or, where the
//! layout allows it, succeed.
//!
//! Mounting needs a mount namespace: each scenario runs as a child of this test binary under
//! `unshare --user --map-root-user --mount` (root inside it, nothing visible outside, works as an
//! unprivileged user too), mounts small tmpfs file systems in a temporary directory and calls
//! the same `svcintent render --out` code path (`svcintent_host::cli::run`, native engine).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser as _;
use svcintent_host::cli::{Cli, run};
use svcintent_tests::random_site::{Seeded, generate};

const CHILD: &str = "SVCINTENT_FAILURE_INJECTION_CHILD";

/// Runs the test `name` of this binary again inside a new user and mount namespace.
fn in_mount_namespace(name: &str) {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--propagation",
            "private",
        ])
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("unshare (util-linux) runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{name} in a mount namespace:\n{text}"
    );
}

fn mount_tmpfs(dir: &Path, size: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success(), "mount tmpfs on {}", dir.display());
}

/// Writes a site with `services` services (a generated seed) and returns its directory.
fn site(root: &Path, seed: u64) -> PathBuf {
    let dir = root.join(format!("site-{seed}"));
    generate(&mut Seeded(seed)).write(&dir).unwrap();
    dir
}

/// `svcintent render SITE --out OUT --engine native`: the exit code.
fn render(site: &Path, out: &Path) -> u8 {
    let cli = Cli::try_parse_from([
        "svcintent".as_ref(),
        "render".as_ref(),
        site.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--engine".as_ref(),
        "native".as_ref(),
    ])
    .unwrap();
    run(&cli)
}

/// Every file below `dir` (following the `--out` link) with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The files written by `tree::write`, for the messages the command prints.
fn tree_files(site: &Path) -> Vec<svcintent_host::tree::TreeFile> {
    let sources = svcintent_tests::load_site(site);
    let out = svcintent_core::render(&sources).output.unwrap();
    let mut files: Vec<svcintent_host::tree::TreeFile> = out
        .files
        .iter()
        .map(|f| svcintent_host::tree::TreeFile {
            path: f.tree_path(),
            contents: f.contents.clone().into_bytes(),
        })
        .collect();
    files.push(svcintent_host::tree::TreeFile {
        path: "manifest.json".to_owned(),
        contents: out.manifest_json().into_bytes(),
    });
    files
}

#[test]
fn full_file_system() {
    in_mount_namespace("full_file_system");
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let small = site(tmp.path(), 2);
    let large = site(tmp.path(), 16);
    let fs = tmp.path().join("fs");
    mount_tmpfs(&fs, "256k");
    let out = fs.join("out");
    assert_eq!(render(&small, &out), 0, "the small tree fits");
    let before = snapshot(&out);
    let target_before = std::fs::read_link(&out).unwrap();

    let code = render(&large, &out);
    assert_eq!(
        code,
        svcintent_host::exit::IO,
        "a full disk is an I/O error"
    );
    let err = svcintent_host::tree::write(&out, &tree_files(&large), 3).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("No space left on device") && message.contains(&*fs.to_string_lossy()),
        "the error names the path and the reason: {message}"
    );
    assert_eq!(
        std::fs::read_link(&out).unwrap(),
        target_before,
        "the link did not move"
    );
    assert_eq!(snapshot(&out), before, "the previous tree is untouched");
    // Nothing half-written is left behind: the space is free again for the next render.
    let leftovers: Vec<_> = std::fs::read_dir(fs.join("out.generations"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "leftovers: {leftovers:?}");
    assert_eq!(
        render(&small, &out),
        0,
        "rendering the small site again works"
    );
}

#[test]
fn read_only_target() {
    in_mount_namespace("read_only_target");
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let first = site(tmp.path(), 3);
    let second = site(tmp.path(), 4);
    let fs = tmp.path().join("fs");
    mount_tmpfs(&fs, "16m");
    let out = fs.join("out");
    assert_eq!(render(&first, &out), 0);
    let before = snapshot(&out);
    let status = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&fs)
        .status()
        .unwrap();
    assert!(status.success(), "remount read-only");

    assert_eq!(render(&second, &out), svcintent_host::exit::IO);
    let message = svcintent_host::tree::write(&out, &tree_files(&second), 3)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("Read-only file system") && message.contains(&*fs.to_string_lossy()),
        "the error names the path and the reason: {message}"
    );
    assert_eq!(snapshot(&out), before, "the previous tree is untouched");
}

#[test]
fn target_on_another_file_system() {
    in_mount_namespace("target_on_another_file_system");
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let first = site(tmp.path(), 5);
    let second = site(tmp.path(), 6);

    // 1. `--out` is an ordinary directory that is itself a mount point (a tree written by
    // other means on its own file system): it cannot be moved into the generations, so the
    // render fails with the reason and leaves that tree as it was.
    let out = tmp.path().join("mounted-out");
    mount_tmpfs(&out, "16m");
    svcintent_tests::write_tree(
        &svcintent_core::render(&svcintent_tests::load_site(&first))
            .output
            .unwrap(),
        &out,
    )
    .unwrap();
    let before = snapshot(&out);
    assert_eq!(render(&second, &out), svcintent_host::exit::IO);
    let message = svcintent_host::tree::write(&out, &tree_files(&second), 3)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&*out.to_string_lossy())
            && (message.contains("busy") || message.contains("cross-device")),
        "the error names the path and the reason: {message}"
    );
    assert!(
        out.is_dir() && !out.is_symlink(),
        "still the mounted directory"
    );
    assert_eq!(snapshot(&out), before, "the previous tree is untouched");

    // 2. `OUT.generations` on another file system than `OUT`'s directory: every rename stays
    // within one file system (generations among themselves, the link within its directory), so
    // rendering works, twice.
    let out = tmp.path().join("split-out");
    mount_tmpfs(&tmp.path().join("split-out.generations"), "16m");
    assert_eq!(render(&first, &out), 0);
    assert_eq!(render(&second, &out), 0);
    assert_eq!(
        std::fs::read_link(&out).unwrap(),
        Path::new("split-out.generations/000002")
    );
    assert_eq!(
        snapshot(&out),
        snapshot(&tmp.path().join("split-out.generations/000002"))
    );
}
