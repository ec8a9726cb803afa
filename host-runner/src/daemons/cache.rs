//! The opt-in result cache ([`super::Options::cache`]): one small JSON file per check key.
//!
//! `DIR/v1/KK/KEY.json` holds what the check with key `KEY` (see [`super::inputs`]) found:
//! its failures and notes, with paths relative to the host folder (absolute when the daemon
//! blamed a file outside the tree). A hit replaces running the check; the key covers every
//! input the check reads, the options that change verdicts, the daemon's executable and this
//! harness build, so a hit can only repeat what the same check said before.
//!
//! Only finished checks are stored: a check stopped by its timeout, or one the harness could
//! not run, is never cached. Entries are written to a temporary name and renamed into place,
//! so a reader sees a whole entry or none; an entry that does not parse, or that names another
//! key, is a miss and is overwritten. The folder may be deleted at any time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::inputs::{Key, hex};
use super::{Daemon, Finding, HarnessError, io_err};

/// A check's findings, without the host: `file` is relative to the host folder unless
/// absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Relative {
    pub(crate) file: PathBuf,
    pub(crate) line: Option<u32>,
    pub(crate) message: String,
}

/// What a check found, host-independent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub(crate) failures: Vec<Relative>,
    pub(crate) notes: Vec<Relative>,
}

impl Relative {
    /// `finding` with its host folder taken off the file (the tree-relative paths of a check's
    /// findings all start with the host that ran it).
    pub(crate) fn of(finding: &Finding) -> Self {
        let file = if finding.file.is_absolute() {
            finding.file.clone()
        } else {
            finding
                .file
                .strip_prefix(&finding.host)
                .map_or_else(|_| finding.file.clone(), Path::to_path_buf)
        };
        Relative {
            file,
            line: finding.line,
            message: finding.message.clone(),
        }
    }

    /// The finding on `host`.
    pub(crate) fn on(&self, daemon: Daemon, host: &str) -> Finding {
        let file = if self.file.is_absolute() {
            self.file.clone()
        } else {
            Path::new(host).join(&self.file)
        };
        Finding {
            daemon,
            host: host.to_string(),
            file,
            line: self.line,
            message: self.message.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    key: String,
    daemon: Daemon,
    #[serde(flatten)]
    outcome: Outcome,
}

/// An open cache folder.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
}

static TEMP: AtomicU64 = AtomicU64::new(0);

impl Cache {
    /// Opens (creates) the cache under `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Self, HarnessError> {
        let dir = dir.join("v1");
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Cache { dir })
    }

    fn path(&self, key: &Key) -> PathBuf {
        let hex = hex(key);
        let shard = hex.get(..2).unwrap_or("00").to_string();
        self.dir.join(shard).join(format!("{hex}.json"))
    }

    /// The stored outcome of `key`, if a whole entry for that key is there.
    pub(crate) fn get(&self, key: &Key, daemon: Daemon) -> Option<Outcome> {
        let text = std::fs::read(self.path(key)).ok()?;
        let stored: Stored = serde_json::from_slice(&text).ok()?;
        (stored.key == hex(key) && stored.daemon == daemon).then_some(stored.outcome)
    }

    /// Stores the outcome of `key`. A failure to write is returned for the caller to report;
    /// it never changes a verdict.
    pub(crate) fn put(
        &self,
        key: &Key,
        daemon: Daemon,
        outcome: &Outcome,
    ) -> Result<(), HarnessError> {
        let path = self.path(key);
        let Some(shard) = path.parent() else {
            return Ok(());
        };
        std::fs::create_dir_all(shard).map_err(io_err(shard))?;
        let stored = Stored {
            key: hex(key),
            daemon,
            outcome: outcome.clone(),
        };
        let text = serde_json::to_vec(&stored).map_err(|e| HarnessError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let temp = shard.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&temp, text).map_err(io_err(&temp))?;
        std::fs::rename(&temp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            io_err(&path)(e)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damaged_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let key = [7u8; 32];
        assert_eq!(cache.get(&key, Daemon::Bird), None);
        let outcome = Outcome {
            failures: vec![Relative {
                file: "etc/bird/bird.conf".into(),
                line: Some(3),
                message: "syntax error".into(),
            }],
            notes: Vec::new(),
        };
        cache.put(&key, Daemon::Bird, &outcome).unwrap();
        assert_eq!(cache.get(&key, Daemon::Bird), Some(outcome.clone()));
        // Another daemon under the same key (impossible by construction) is not served.
        assert_eq!(cache.get(&key, Daemon::Nftables), None);
        // A truncated entry is a miss.
        let path = cache.path(&key);
        let text = std::fs::read(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert_eq!(cache.get(&key, Daemon::Bird), None);
        // An entry copied under another key's name is a miss.
        let other = [8u8; 32];
        std::fs::create_dir_all(cache.path(&other).parent().unwrap()).unwrap();
        std::fs::write(cache.path(&other), &text).unwrap();
        assert_eq!(cache.get(&other, Daemon::Bird), None);
    }

    #[test]
    fn findings_move_between_hosts() {
        let f = Finding {
            daemon: Daemon::Haproxy,
            host: "lb1".into(),
            file: "lb1/etc/haproxy/haproxy.cfg".into(),
            line: Some(9),
            message: "m".into(),
        };
        let rel = Relative::of(&f);
        assert_eq!(rel.file, PathBuf::from("etc/haproxy/haproxy.cfg"));
        let on = rel.on(Daemon::Haproxy, "lb2");
        assert_eq!(on.file, PathBuf::from("lb2/etc/haproxy/haproxy.cfg"));
        assert_eq!(on.host, "lb2");
        let outside = Finding {
            file: "/.svcintent-check/apache2/apache2.conf".into(),
            ..f
        };
        assert_eq!(
            Relative::of(&outside).on(Daemon::Haproxy, "lb2").file,
            PathBuf::from("/.svcintent-check/apache2/apache2.conf")
        );
    }
}
