//! What one check reads, and the key its result is known by.
//!
//! A check's root holds only its *inputs*: the files of the host folder under the daemon's own
//! paths (`etc/haproxy`, `etc/bird` and the healthchecker's prefix files, ...: see the table in
//! the [module docs](super)), plus the rendered files its config names where the harness would
//! otherwise put a stand-in (a certificate, a `DocumentRoot`, a check command). Nothing else of
//! the host folder is visible to the daemon, so the inputs are everything of the tree that can
//! change its verdict.
//!
//! The key of a check is the SHA-256 of: the run's context (this harness build, the options
//! that change verdicts, the daemon's executable and the machine files the sandbox shows, see
//! [`context`]), the daemon, the host's name for a daemon whose check names the host
//! ([`super::Daemon::reads_host_name`]), every input (path, kind, permissions, content digest
//! or symlink target), and the state of the machine programs the check starts (the
//! healthchecker's `check_cmd`s). Checks with equal keys see byte-identical roots and run the
//! same command, so one result serves them all: within a run (hosts with the same files share
//! one check) and across runs (the result cache, [`super::cache`]). Everything the harness
//! writes into a root (certificates, wrappers, runtime folders) is a function of these inputs
//! and of this harness build.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::sandbox::normalize;
use super::{Daemon, HarnessError, io_err};

/// A check's key: the SHA-256 described in the module docs.
pub(crate) type Key = [u8; 32];

/// One input of a check, by its path relative to the host folder.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// A folder (it exists; its entries are entries of their own).
    Dir,
    /// A regular file: permission bits, SHA-256 of the contents, and the contents read for the
    /// digest (so the check copies exactly what its key names), dropped once not needed.
    File {
        mode: u32,
        digest: [u8; 32],
        data: Option<Arc<[u8]>>,
    },
    /// A symlink, copied as a symlink.
    Symlink { target: PathBuf },
}

/// The inputs of one check.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inputs {
    entries: BTreeMap<PathBuf, Entry>,
    bytes: u64,
}

impl Inputs {
    /// Collects, under `host_dir`, each of `roots` (host-relative; a file, a symlink, or a
    /// folder with everything below it). A root the host lacks is skipped; a symlink on the
    /// way to a root is itself the input (it is copied as a symlink, as the folder would be).
    pub(crate) fn collect(host_dir: &Path, roots: &[PathBuf]) -> Result<Self, HarnessError> {
        let mut inputs = Inputs::default();
        for root in roots {
            let rel = normalize(root);
            if rel.as_os_str().is_empty() || inputs.entries.contains_key(&rel) {
                continue;
            }
            let mut cur = PathBuf::new();
            let mut reachable = true;
            let count = rel.components().count();
            for (i, comp) in rel.components().enumerate() {
                cur.push(comp);
                let full = host_dir.join(&cur);
                let Ok(meta) = std::fs::symlink_metadata(&full) else {
                    reachable = false;
                    break;
                };
                if meta.file_type().is_symlink() || (i + 1 < count && !meta.is_dir()) {
                    if meta.file_type().is_symlink() {
                        inputs.add(host_dir, &cur)?;
                    }
                    reachable = false;
                    break;
                }
            }
            if reachable {
                inputs.add(host_dir, &rel)?;
            }
        }
        Ok(inputs)
    }

    fn add(&mut self, host_dir: &Path, rel: &Path) -> Result<(), HarnessError> {
        let full = host_dir.join(rel);
        let meta = std::fs::symlink_metadata(&full).map_err(io_err(&full))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(&full).map_err(io_err(&full))?;
            self.entries
                .insert(rel.to_path_buf(), Entry::Symlink { target });
        } else if kind.is_dir() {
            self.entries.insert(rel.to_path_buf(), Entry::Dir);
            let mut names: Vec<_> = std::fs::read_dir(&full)
                .map_err(io_err(&full))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()
                .map_err(io_err(&full))?;
            names.sort();
            for name in names {
                self.add(host_dir, &rel.join(name))?;
            }
        } else if kind.is_file() {
            let data: Arc<[u8]> = std::fs::read(&full).map_err(io_err(&full))?.into();
            self.bytes += data.len() as u64;
            self.entries.insert(
                rel.to_path_buf(),
                Entry::File {
                    mode: meta.permissions().mode() & 0o7777,
                    digest: Sha256::digest(&data).into(),
                    data: Some(data),
                },
            );
        }
        // Sockets, pipes and devices are not part of a rendered tree: left out, as before.
        Ok(())
    }

    /// Whether the host file `rel` is an input (a file or a symlink): a path the daemon blames
    /// is reported tree-relative only then.
    pub(crate) fn has_file(&self, rel: &Path) -> bool {
        matches!(
            self.entries.get(rel),
            Some(Entry::File { .. } | Entry::Symlink { .. })
        )
    }

    /// The text of an input file (lossy UTF-8), when it is one and its contents are kept.
    pub(crate) fn text(&self, rel: &Path) -> Option<String> {
        match self.entries.get(rel) {
            Some(Entry::File {
                data: Some(data), ..
            }) => Some(String::from_utf8_lossy(data).into_owned()),
            _ => None,
        }
    }

    /// Whether `test(path, is_dir)` holds for any input.
    pub(crate) fn any(&self, test: impl Fn(&Path, bool) -> bool) -> bool {
        self.entries
            .iter()
            .any(|(p, e)| test(p, matches!(e, Entry::Dir)))
    }

    /// Host-relative paths of the input files.
    pub(crate) fn files(&self) -> impl Iterator<Item = &Path> {
        self.entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::File { .. }))
            .map(|(p, _)| p.as_path())
    }

    /// Total size of the input files (to start the biggest checks first).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Forgets the contents (the digests stay): for a check whose result comes from another
    /// host's identical check or from the cache.
    pub(crate) fn drop_contents(&mut self) {
        for entry in self.entries.values_mut() {
            if let Entry::File { data, .. } = entry {
                *data = None;
            }
        }
    }

    /// Writes the inputs under `root` (folders, files with their permission bits, symlinks).
    pub(crate) fn copy_to(&self, root: &Path) -> Result<(), HarnessError> {
        for (rel, entry) in &self.entries {
            let to = root.join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            match entry {
                Entry::Dir => std::fs::create_dir_all(&to).map_err(io_err(&to))?,
                Entry::Symlink { target } => {
                    std::os::unix::fs::symlink(target, &to).map_err(io_err(&to))?;
                }
                Entry::File { mode, data, .. } => {
                    let Some(data) = data else {
                        return Err(HarnessError::BadTree {
                            path: rel.clone(),
                            reason: "internal: the contents of a check's input were dropped".into(),
                        });
                    };
                    std::fs::write(&to, data).map_err(io_err(&to))?;
                    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(*mode))
                        .map_err(io_err(&to))?;
                }
            }
        }
        Ok(())
    }
}

/// Appends a length-prefixed field, so that no two different field lists hash alike.
fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// The key of a check (see the module docs). `context` is the run's context for the daemon,
/// `machine` the identities ([`identity`]) of the machine programs the check starts.
pub(crate) fn key(
    context: &str,
    daemon: Daemon,
    host: Option<&str>,
    inputs: &Inputs,
    machine: &[String],
) -> Key {
    let mut h = Sha256::new();
    field(&mut h, b"svcintent daemon check key, format 1");
    field(&mut h, context.as_bytes());
    field(&mut h, daemon.name().as_bytes());
    match host {
        Some(name) => {
            field(&mut h, b"host");
            field(&mut h, name.as_bytes());
        }
        None => field(&mut h, b"any host"),
    }
    for (rel, entry) in &inputs.entries {
        field(&mut h, rel.as_os_str().as_bytes());
        match entry {
            Entry::Dir => field(&mut h, b"dir"),
            Entry::File { mode, digest, .. } => {
                field(&mut h, b"file");
                field(&mut h, &mode.to_le_bytes());
                field(&mut h, digest);
            }
            Entry::Symlink { target } => {
                field(&mut h, b"symlink");
                field(&mut h, target.as_os_str().as_bytes());
            }
        }
    }
    field(&mut h, b"machine");
    for m in machine {
        field(&mut h, m.as_bytes());
    }
    h.finalize().into()
}

/// Lowercase hex of a key.
pub(crate) fn hex(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the machine has at `path` now: where it leads, its size, permissions and modification
/// time, or that it is absent. Part of a key where a check depends on a machine file: a
/// package upgrade or a changed `/etc/services` changes it.
pub(crate) fn identity(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            format!(
                "{} -> {} size {} mode {:o} mtime {}.{:09}",
                path.display(),
                real.display(),
                meta.len(),
                meta.mode(),
                meta.mtime(),
                meta.mtime_nsec()
            )
        }
        Err(_) => format!("{} absent", path.display()),
    }
}

/// The part of every key of `daemon` that is the same for a whole run: this harness build
/// (version and executable), the options that change verdicts, the daemon's executable and
/// `extra` identities of its other files, the machine's package database and the system files
/// the sandbox shows.
pub(crate) fn context(
    daemon: Daemon,
    exe: &Path,
    extra: &[String],
    warnings_are_failures: bool,
    timeout: std::time::Duration,
) -> String {
    let mut lines = vec![
        format!("svcintent {}", env!("CARGO_PKG_VERSION")),
        match std::env::current_exe() {
            Ok(me) => format!("harness {}", identity(&me)),
            Err(_) => "harness unknown".into(),
        },
        format!("warnings_are_failures {warnings_are_failures}"),
        format!("timeout_ms {}", timeout.as_millis()),
        format!("daemon {} {}", daemon.name(), identity(exe)),
        identity(Path::new("/var/lib/dpkg/status")),
    ];
    lines.extend(extra.iter().cloned());
    for entry in super::sandbox::SYSTEM_ETC {
        lines.push(identity(&Path::new("/etc").join(entry)));
    }
    lines.join("\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str, u32)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text, mode) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        dir
    }

    fn key_of(dir: &Path, host: Option<&str>) -> Key {
        let inputs = Inputs::collect(dir, &[PathBuf::from("etc/haproxy")]).unwrap();
        key("ctx", Daemon::Haproxy, host, &inputs, &[])
    }

    #[test]
    fn key_covers_every_input_and_nothing_else() {
        let base = [
            ("etc/haproxy/haproxy.cfg", "global\n", 0o644),
            ("etc/haproxy/errors/503.http", "x", 0o644),
            ("etc/bird/bird.conf", "router id 1.1.1.1;\n", 0o644),
        ];
        let a = tree(&base);
        let same = tree(&base);
        assert_eq!(key_of(a.path(), None), key_of(same.path(), None));

        // A file outside the daemon's paths is not an input.
        let mut other = base.to_vec();
        other[2].1 = "router id 2.2.2.2;\n";
        assert_eq!(key_of(a.path(), None), key_of(tree(&other).path(), None));

        // Content, permissions, a new file, a renamed file and the host name all count.
        let mut content = base.to_vec();
        content[0].1 = "global\n ";
        let mut mode = base.to_vec();
        mode[0].2 = 0o600;
        let mut extra = base.to_vec();
        extra.push(("etc/haproxy/certs/a.pem", "", 0o644));
        let mut renamed = base.to_vec();
        renamed[1].0 = "etc/haproxy/errors/502.http";
        for (what, files) in [
            ("content", content),
            ("mode", mode),
            ("extra file", extra),
            ("renamed", renamed),
        ] {
            assert_ne!(
                key_of(a.path(), None),
                key_of(tree(&files).path(), None),
                "{what} did not change the key"
            );
        }
        assert_ne!(key_of(a.path(), None), key_of(a.path(), Some("lb1")));
        assert_ne!(key_of(a.path(), Some("lb1")), key_of(a.path(), Some("lb2")));

        let inputs = Inputs::collect(a.path(), &[PathBuf::from("etc/haproxy")]).unwrap();
        assert_ne!(
            key("ctx", Daemon::Haproxy, None, &inputs, &[]),
            key("ctx2", Daemon::Haproxy, None, &inputs, &[])
        );
        assert_ne!(
            key("ctx", Daemon::Haproxy, None, &inputs, &[]),
            key("ctx", Daemon::Haproxy, None, &inputs, &["/x absent".into()])
        );
    }

    #[test]
    fn symlinks_are_inputs_as_symlinks() {
        let a = tree(&[("etc/real/haproxy.cfg", "global\n", 0o644)]);
        std::os::unix::fs::symlink("/etc/real", a.path().join("etc/haproxy")).unwrap();
        let inputs =
            Inputs::collect(a.path(), &[PathBuf::from("etc/haproxy/haproxy.cfg")]).unwrap();
        assert!(inputs.has_file(Path::new("etc/haproxy")));
        assert!(!inputs.has_file(Path::new("etc/real/haproxy.cfg")));
        let copy = tempfile::tempdir().unwrap();
        inputs.copy_to(copy.path()).unwrap();
        assert_eq!(
            std::fs::read_link(copy.path().join("etc/haproxy")).unwrap(),
            PathBuf::from("/etc/real")
        );
    }
}
