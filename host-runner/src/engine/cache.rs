//! The compiled-module cache: compiling the module with cranelift takes seconds, loading the
//! compiled artifact takes milliseconds.
//!
//! One file per key, `DIR/module-<key>.cwasm`, where the key is the SHA-256 of the module's
//! hash, this binary's build identity ([`crate::module::BUILD_ID`]: module, versions, target,
//! profile, compiler), the wasmtime version and wasmtime's own compatibility hash of the engine
//! configuration. A file holds a magic string, the SHA-256 of the artifact and the artifact as
//! `Module::serialize` wrote it. Files are written to a temporary name (mode 0600) and renamed
//! into place, so a reader sees a complete file or none. The directory (`$SVCINTENT_CACHE_DIR`,
//! `$XDG_CACHE_HOME/svcintent` or `~/.cache/svcintent`) is created with mode 0700 and may be
//! deleted at any time; artifacts unused for 30 days are removed when a new one is written.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use super::EngineError;
use crate::module::{BUILD_ID, MODULE_SHA256, WASMTIME_VERSION};

const MAGIC: &[u8; 16] = b"svcintent-cwasm1";
const PRUNE_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);

/// Where compiled modules are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePolicy {
    /// In this directory.
    Dir(PathBuf),
    /// Nowhere: compile on every run.
    Disabled,
}

/// What happened to the compiled module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// The native engine compiles nothing.
    NotUsed,
    /// Loaded from the cache.
    Loaded {
        /// The artifact.
        path: PathBuf,
        /// Time to load it.
        elapsed: Duration,
    },
    /// Compiled (and stored when `stored` is set).
    Compiled {
        /// Where it was stored.
        stored: Option<PathBuf>,
        /// Time to compile (and store) it.
        elapsed: Duration,
        /// Why the cache could not be used or written, when it could not.
        warning: Option<String>,
    },
}

impl CacheOutcome {
    /// A problem worth telling the user (the cache directory is unusable).
    pub fn warning(&self) -> Option<&str> {
        match self {
            CacheOutcome::Compiled { warning, .. } => warning.as_deref(),
            _ => None,
        }
    }
}

/// Feeds `Hash` output into SHA-256.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache key of the embedded module for `engine`.
fn key(engine: &Engine) -> String {
    let mut h = ShaHasher(Sha256::new());
    for part in [MODULE_SHA256, BUILD_ID, WASMTIME_VERSION] {
        h.write(part.as_bytes());
        h.write(&[0]);
    }
    engine.precompile_compatibility_hash().hash(&mut h);
    hex(&h.0.finalize())
}

/// The compiled module: from the cache, or compiled (and then stored).
pub(super) fn load_or_compile(
    engine: &Engine,
    wasm: &[u8],
    policy: &CachePolicy,
) -> Result<(Module, CacheOutcome), EngineError> {
    let start = Instant::now();
    let compile = || {
        Module::new(engine, wasm)
            .map_err(|e| EngineError::Module(format!("compiling the module failed: {e:#}")))
    };
    let dir = match policy {
        CachePolicy::Disabled => {
            let module = compile()?;
            return Ok((
                module,
                CacheOutcome::Compiled {
                    stored: None,
                    elapsed: start.elapsed(),
                    warning: None,
                },
            ));
        }
        CachePolicy::Dir(dir) => dir,
    };
    let path = dir.join(format!("module-{}.cwasm", key(engine)));
    let warning = match load(engine, dir, &path) {
        Ok(Some(module)) => {
            return Ok((
                module,
                CacheOutcome::Loaded {
                    path,
                    elapsed: start.elapsed(),
                },
            ));
        }
        Ok(None) => None,
        Err(reason) => Some(reason),
    };
    let module = compile()?;
    if let Some(warning) = warning {
        return Ok((
            module,
            CacheOutcome::Compiled {
                stored: None,
                elapsed: start.elapsed(),
                warning: Some(warning),
            },
        ));
    }
    let outcome = match store(&module, dir, &path) {
        Ok(()) => CacheOutcome::Compiled {
            stored: Some(path),
            elapsed: start.elapsed(),
            warning: None,
        },
        Err(e) => CacheOutcome::Compiled {
            stored: None,
            elapsed: start.elapsed(),
            warning: Some(format!(
                "cannot write the compiled-module cache {}: {e}",
                dir.display()
            )),
        },
    };
    Ok((module, outcome))
}

/// The user id this process runs as (the owner of `/proc/self`), where that can be known.
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Only files this user wrote into a directory only this user can write are trusted.
fn trusted(path: &Path, meta: &fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by other users; not using the compiled-module cache",
            path.display()
        ));
    }
    if let Some(uid) = own_uid()
        && meta.uid() != uid
    {
        return Err(format!(
            "{} belongs to another user; not using the compiled-module cache",
            path.display()
        ));
    }
    Ok(())
}

/// `Ok(None)`: no usable artifact (missing, truncated, from another wasmtime), compile anew.
/// `Err`: the directory must not be used at all.
fn load(engine: &Engine, dir: &Path, path: &Path) -> Result<Option<Module>, String> {
    let dir_meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot use the compiled-module cache {}: {e}",
                dir.display()
            ));
        }
    };
    if !dir_meta.is_dir() {
        return Err(format!(
            "{} is not a directory; not using the compiled-module cache",
            dir.display()
        ));
    }
    trusted(dir, &dir_meta)?;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    trusted(path, &meta)?;
    let Ok(bytes) = fs::read(path) else {
        return Ok(None);
    };
    let Some(artifact) = verified_artifact(&bytes) else {
        return Ok(None);
    };
    Ok(deserialize(engine, artifact))
}

/// The artifact inside a cache file, if its magic and checksum are right.
fn verified_artifact(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (digest, artifact) = rest.split_at_checked(32)?;
    (Sha256::digest(artifact).as_slice() == digest).then_some(artifact)
}

#[allow(
    unsafe_code,
    reason = "loading a compiled module is unsafe by wasmtime's contract; see the SAFETY comment"
)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> Option<Module> {
    // SAFETY: `Module::deserialize` requires bytes that `Module::serialize` produced, unmodified.
    // These bytes are exactly what `store` below wrote: the file name carries a key that covers
    // this binary's build identity, the module and the engine configuration; the file was
    // written whole and renamed into place by this user into a directory only this user can
    // write (checked by `trusted`), and the SHA-256 stored in front of the artifact matches it,
    // so neither a torn write nor corruption on disk reaches this call. (wasmtime itself turns
    // artifacts of other wasmtime versions or configurations into an `Err`, not into UB.)
    unsafe { Module::deserialize(engine, artifact) }.ok()
}

fn store(module: &Module, dir: &Path, path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let artifact = module
        .serialize()
        .map_err(|e| io::Error::other(format!("{e:#}")))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = fs::symlink_metadata(dir)?;
    trusted(dir, &meta).map_err(io::Error::other)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(MAGIC)?;
        file.write_all(&Sha256::digest(&artifact))?;
        file.write_all(&artifact)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    prune(dir, path);
    Ok(())
}

/// Removes artifacts (and leftover temporary files) not modified for [`PRUNE_AFTER`].
fn prune(dir: &Path, keep: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.ends_with(".cwasm") || name.ends_with(".tmp");
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > PRUNE_AFTER));
        if ours && old && path != keep {
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_guards_the_artifact() {
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&Sha256::digest(b"artifact"));
        file.extend_from_slice(b"artifact");
        assert_eq!(verified_artifact(&file), Some(b"artifact".as_slice()));
        if let Some(last) = file.last_mut() {
            *last ^= 1;
        }
        assert_eq!(verified_artifact(&file), None);
        assert_eq!(verified_artifact(file.get(..20).unwrap_or_default()), None);
    }
}
