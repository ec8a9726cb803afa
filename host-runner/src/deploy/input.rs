//! The tree `svcintent apply` installs from: `manifest.json` and the host's folder, read once
//! and checked against each other before anything on the host is looked at.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use svcintent_core::render::{Manifest, Target};

/// One file the tree has for the host.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Absolute path on the host.
    pub path: String,
    /// Which daemon reads it.
    pub target: Target,
    /// SHA-256, hex (checked against the bytes).
    pub sha256: String,
    /// Contents.
    pub contents: Vec<u8>,
    /// A state file: installed only where missing.
    pub state: bool,
}

/// The tree, for one host.
#[derive(Debug)]
pub struct TreeInput {
    /// The generation directory (the link `render --out` made, resolved once).
    pub dir: PathBuf,
    /// The manifest.
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`.
    pub manifest_sha256: String,
    /// The host's files, by path.
    pub files: Vec<NewFile>,
}

/// SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Reads the tree for `host`; `Err` with a sentence saying why it cannot be applied.
pub fn open(tree: &Path, host: &str) -> Result<TreeInput, String> {
    // Resolved once: a render that swaps the link meanwhile does not mix two generations.
    let dir = std::fs::canonicalize(tree)
        .map_err(|e| format!("cannot read the tree {}: {e}", tree.display()))?;
    let manifest_path = dir.join("manifest.json");
    let manifest_bytes = std::fs::read(&manifest_path).map_err(|e| {
        format!(
            "{} is not a rendered tree (no readable manifest.json: {e})",
            tree.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
        format!(
            "{}: not a manifest svcintent can read: {e}",
            manifest_path.display()
        )
    })?;
    let entries: Vec<_> = manifest.files.iter().filter(|f| f.host == host).collect();
    if entries.is_empty() && !manifest.hosts.contains_key(host) {
        let known: Vec<&str> = manifest.hosts.keys().map(String::as_str).collect();
        return Err(format!(
            "host `{host}` is not in this tree (site {}; hosts: {})",
            manifest.site,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ));
    }
    let host_dir = dir.join(host);
    let mut files = Vec::with_capacity(entries.len());
    let mut expected = BTreeSet::new();
    for e in entries {
        let safe = e.host_path.starts_with('/')
            && !e
                .host_path
                .split('/')
                .any(|part| part == ".." || part == ".")
            && e.path == format!("{host}{}", e.host_path);
        if !safe {
            return Err(format!(
                "the manifest lists an unsafe path for {host}: {} ({})",
                e.path, e.host_path
            ));
        }
        let on_tree = dir.join(&e.path);
        let contents = std::fs::read(&on_tree).map_err(|err| {
            format!(
                "the tree does not match its manifest: {} is missing ({err})",
                e.path
            )
        })?;
        let actual = sha256_hex(&contents);
        if actual != e.sha256 {
            return Err(format!(
                "the tree does not match its manifest: {} has sha256 {actual}, the manifest says {}",
                e.path, e.sha256
            ));
        }
        expected.insert(on_tree);
        files.push(NewFile {
            path: e.host_path.clone(),
            target: e.target,
            sha256: e.sha256.clone(),
            contents,
            state: e.state,
        });
    }
    // Nothing in the host's folder that the manifest does not list.
    let mut stack = vec![host_dir.clone()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| format!("{}: {e}", p.display()))?;
            if kind.is_dir() {
                stack.push(p);
            } else if !expected.contains(&p) {
                return Err(format!(
                    "the tree does not match its manifest: {} is not listed in it",
                    p.strip_prefix(&dir).unwrap_or(&p).display()
                ));
            }
        }
    }
    Ok(TreeInput {
        dir,
        manifest_sha256: sha256_hex(&manifest_bytes),
        manifest,
        files,
    })
}
