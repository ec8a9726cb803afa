//! What `svcintent apply` keeps on the host, under its state directory (`/var/lib/svcintent`):
//!
//! ```text
//! state.json     what the host runs: site, manifest sha256, the host's facts, installed files
//! journal.json   only while an apply runs: its files' backups, links, VIPs and steps
//! txn/           the backups the journal points at
//! original/      files of other origin that the first apply took over (kept, never read)
//! lock           one apply at a time (flock, released when the process dies)
//! ```
//!
//! Every write is a temporary file, fsync, rename, fsync of the folder: a reader (or the next
//! apply after a kill) sees the old record or the new one, never a torn one.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use svcintent_core::rollout::HostState;

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// Its path.
    pub dir: PathBuf,
}

/// The held lock; released on drop (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, fsync, rename,
/// fsync of the folder), with `mode` when it is a new file or replaces one.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let parent = path.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.svcintent-{}", std::process::id()));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if let Some(mode) = mode {
            f.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(parent)?.sync_all()
}

/// One step's progress in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Progress {
    /// Started: files may be installed, the daemon may have been told.
    Begun,
    /// Done and verified.
    Done,
}

/// A file the run may change, and where its previous contents are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalFile {
    /// Absolute path on the host (below the root).
    pub path: String,
    /// Backup file name in `txn/`, `None` when the file did not exist.
    pub backup: Option<String>,
    /// The previous file's mode.
    #[serde(default)]
    pub mode: Option<u32>,
}

/// A symbolic link the run may change (Apache's enabled sites), and what it was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalLink {
    /// Absolute path of the link.
    pub path: String,
    /// Its previous target, `None` when there was no link.
    pub target: Option<String>,
}

/// The record of a run in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    /// Format version.
    pub format: u32,
    /// This run's id (in backup names and messages).
    pub txid: String,
    /// The host.
    pub host: String,
    /// The manifest being applied.
    pub manifest_sha256: String,
    /// Files the run may change.
    pub files: Vec<JournalFile>,
    /// Links the run may change.
    pub links: Vec<JournalLink>,
    /// Loopback VIPs the run adds.
    pub vips_added: Vec<IpAddr>,
    /// Loopback VIPs the run removes.
    pub vips_removed: Vec<IpAddr>,
    /// The site's deployment settings (the commands that put the old state back too).
    pub deploy: svcintent_core::model::Deploy,
    /// The steps the run planned, in order.
    pub planned: Vec<String>,
    /// Steps begun so far, in order, with their progress.
    pub steps: Vec<(String, Progress)>,
    /// What `state.json` says once the run is done: written by the run, or by the next one
    /// when this one was killed after its last step.
    pub commit: Option<HostState>,
}

impl StateDir {
    /// The state directory below `root` (`ROOT/var/lib/svcintent`), or `dir` when given.
    pub fn new(root: &Path, dir: Option<&Path>) -> Self {
        StateDir {
            dir: dir.map_or_else(|| root.join("var/lib/svcintent"), Path::to_path_buf),
        }
    }

    /// Takes the lock, creating the directory.
    pub fn lock(&self) -> Result<Lock, String> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Lock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(format!(
                "another svcintent apply is running on this host (it holds {})",
                path.display()
            )),
            Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join("journal.json")
    }

    /// The backups' folder of a run.
    pub fn txn(&self, txid: &str) -> PathBuf {
        self.dir.join("txn").join(txid)
    }

    /// Where files of other origin that the first apply replaced are kept.
    pub fn originals(&self) -> PathBuf {
        self.dir.join("original")
    }

    /// What the host runs, if an apply ever finished here.
    pub fn read_state(&self) -> Result<Option<HostState>, String> {
        let path = self.state_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{} is not a state svcintent can read: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Records what the host runs.
    pub fn write_state(&self, state: &HostState) -> Result<(), String> {
        let mut text = serde_json::to_string_pretty(state).map_err(|e| e.to_string())?;
        text.push('\n');
        write_atomic(&self.state_path(), text.as_bytes(), Some(0o644))
            .map_err(|e| format!("cannot write {}: {e}", self.state_path().display()))
    }

    /// The journal of a run that did not finish.
    pub fn read_journal(&self) -> Result<Option<Journal>, String> {
        let path = self.journal_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                format!(
                    "{} is not a journal svcintent can read: {e}",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the journal (every progress change).
    pub fn write_journal(&self, journal: &Journal) -> Result<(), String> {
        let text = serde_json::to_string_pretty(journal).map_err(|e| e.to_string())?;
        write_atomic(&self.journal_path(), text.as_bytes(), Some(0o600))
            .map_err(|e| format!("cannot write {}: {e}", self.journal_path().display()))
    }

    /// Removes the journal and the run's backups: the run is over (done or rolled back).
    pub fn finish(&self, txid: &str) -> Result<(), String> {
        match fs::remove_file(self.journal_path()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove the journal: {e}")),
        }
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        let _ = fs::remove_dir_all(self.txn(txid));
        Ok(())
    }

    /// Removes backups of runs that never wrote a journal (killed while backing up).
    pub fn sweep(&self, keep: Option<&str>) {
        let Ok(entries) = fs::read_dir(self.dir.join("txn")) else {
            return;
        };
        for e in entries.flatten() {
            if Some(e.file_name().to_string_lossy().as_ref()) != keep {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}
