//! Writing a rendered tree atomically, keeping previous generations for rollback.
//!
//! `render --out DIR` keeps every tree it writes as a *generation* and makes `DIR` a symbolic
//! link to the current one:
//!
//! ```text
//! DIR -> DIR.generations/000042        (relative symlink, swapped atomically)
//! DIR.generations/000041/              previous generation (kept for rollback)
//! DIR.generations/000042/              current generation: <host>/<path>..., manifest.json
//! DIR.generations/.lock                held while a render writes
//! ```
//!
//! A render builds the new tree in `DIR.generations/.tmp-<pid>`, fsyncs every file and
//! directory, renames it to the next generation number, creates a symlink to it under a
//! temporary name beside `DIR` and renames that over `DIR` (`rename(2)` replaces a symlink
//! atomically), then fsyncs the parent. Whoever opens `DIR` at any moment, even if svcintent is
//! killed half-way, sees the complete old tree or the complete new one. Generations beyond the
//! current one and the `--keep` newest previous ones are removed afterwards. A render whose
//! result equals the current generation writes nothing.
//!
//! Rolling back is pointing the link at an older generation, atomically as well:
//! `ln -sfn DIR.generations/000041 DIR.new && mv -T DIR.new DIR` (with `DIR.generations` named
//! relative to DIR's parent).
//!
//! If `DIR` is an ordinary directory (a tree written by other means), it is first moved into
//! `DIR.generations/` as a generation of its own; that one move is not atomic.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

/// One file of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// Tree-relative path with `/` separators.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
}

/// Why a tree could not be written or compared.
#[derive(Debug)]
pub enum TreeError {
    /// A file system operation failed.
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Another process holds the lock.
    Locked {
        /// The lock file.
        lock: PathBuf,
    },
    /// `DIR` exists but is not something svcintent manages.
    NotOurs {
        /// The path.
        path: PathBuf,
        /// What it is.
        reason: String,
    },
    /// A rendered path would escape the tree (a bug in the compiler, refused here).
    UnsafePath {
        /// The path.
        path: String,
    },
}

impl TreeError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            TreeError::UnsafePath { .. } => crate::exit::INTERNAL,
            TreeError::Io { .. } | TreeError::Locked { .. } | TreeError::NotOurs { .. } => {
                crate::exit::IO
            }
        }
    }
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            TreeError::Locked { lock } => write!(
                f,
                "another svcintent render is writing this output (it holds {}); try again when it has finished",
                lock.display()
            ),
            TreeError::NotOurs { path, reason } => write!(
                f,
                "{} {reason}; svcintent only replaces a link to its own generations: choose another --out",
                path.display()
            ),
            TreeError::UnsafePath { path } => write!(
                f,
                "the compiler produced the output path {path:?}, which is not a plain relative path; nothing was written \
                 (this is a bug in svcintent: please report it)"
            ),
        }
    }
}

impl std::error::Error for TreeError {}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> TreeError + '_ {
    move |source| TreeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuses any path that could land outside the tree: empty, absolute, `..`, `.`, empty
/// components, backslashes or NUL bytes.
pub fn check_path(path: &str) -> Result<(), TreeError> {
    let bad = path.is_empty()
        || path.contains(['\\', '\0'])
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        || !Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if bad {
        Err(TreeError::UnsafePath {
            path: path.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// How one file of `DIR` differs from the rendered tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Drift {
    /// Rendered, but not in `DIR`.
    Missing(String),
    /// In both, with different contents.
    Changed(String),
    /// In `DIR`, but not rendered.
    Unexpected(String),
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing(p) => write!(f, "missing     {p}"),
            Drift::Changed(p) => write!(f, "changed     {p}"),
            Drift::Unexpected(p) => write!(f, "unexpected  {p}"),
        }
    }
}

/// Where the pieces of an output live.
#[derive(Debug, Clone)]
struct Layout {
    /// `DIR`.
    link: PathBuf,
    /// Its parent.
    parent: PathBuf,
    /// `DIR`'s file name.
    name: String,
    /// `DIR.generations`.
    generations: PathBuf,
}

impl Layout {
    fn new(out: &Path) -> Result<Layout, TreeError> {
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .ok_or_else(|| TreeError::NotOurs {
                path: out.to_path_buf(),
                reason: "has no final name (like `.` or `/`)".to_owned(),
            })?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let generations = parent.join(format!("{name}.generations"));
        Ok(Layout {
            link: out.to_path_buf(),
            parent,
            name,
            generations,
        })
    }

    /// The link target for a generation, relative to the parent.
    fn target(&self, generation: &str) -> PathBuf {
        PathBuf::from(format!("{}.generations", self.name)).join(generation)
    }

    /// Generation numbers present, ascending.
    fn generations(&self) -> Result<Vec<u64>, TreeError> {
        let mut numbers = Vec::new();
        let entries = match fs::read_dir(&self.generations) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(numbers),
            Err(e) => return Err(io_error(&self.generations)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_error(&self.generations))?;
            if let Some(n) = parse_generation(&entry.file_name().to_string_lossy()) {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        Ok(numbers)
    }
}

fn parse_generation(name: &str) -> Option<u64> {
    if name.len() >= 6 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

fn generation_name(n: u64) -> String {
    format!("{n:06}")
}

/// What `DIR` is now.
enum Current {
    /// Nothing there.
    None,
    /// A link to one of our generations.
    Generation(String),
    /// An ordinary directory.
    Directory,
}

fn current(layout: &Layout) -> Result<Current, TreeError> {
    let meta = match fs::symlink_metadata(&layout.link) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Current::None),
        Err(e) => return Err(io_error(&layout.link)(e)),
    };
    if meta.is_dir() {
        return Ok(Current::Directory);
    }
    if !meta.file_type().is_symlink() {
        return Err(TreeError::NotOurs {
            path: layout.link.clone(),
            reason: "is a file".to_owned(),
        });
    }
    let target = fs::read_link(&layout.link).map_err(io_error(&layout.link))?;
    let generation = target
        .strip_prefix(format!("{}.generations", layout.name))
        .ok()
        .and_then(|rest| rest.to_str())
        .filter(|g| parse_generation(g).is_some())
        .map(str::to_owned);
    match generation {
        Some(g) => Ok(Current::Generation(g)),
        None => Err(TreeError::NotOurs {
            path: layout.link.clone(),
            reason: format!(
                "is a symbolic link to {}, not to a generation in {}",
                target.display(),
                layout.generations.display()
            ),
        }),
    }
}

/// The directory `DIR` currently shows, resolved once (so that a concurrent swap cannot mix
/// two generations in one comparison); `None` when `DIR` does not exist.
fn resolved(layout: &Layout) -> Result<Option<PathBuf>, TreeError> {
    Ok(match current(layout)? {
        Current::None => None,
        Current::Generation(g) => Some(layout.generations.join(g)),
        Current::Directory => Some(layout.link.clone()),
    })
}

/// Every entry below `dir` that is not a directory (regular files, symbolic links, ...),
/// tree-relative.
fn read_tree(dir: &Path) -> Result<BTreeSet<String>, TreeError> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> Result<(), TreeError> {
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io_error(&path))?;
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                out.insert(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
        Ok(())
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

fn drift_path(d: &Drift) -> &str {
    match d {
        Drift::Missing(p) | Drift::Changed(p) | Drift::Unexpected(p) => p,
    }
}

/// How `out` differs from `files` (empty: up to date). Writes nothing and takes no lock.
pub fn diff(out: &Path, files: &[TreeFile]) -> Result<Vec<Drift>, TreeError> {
    let mut incoming = Incoming::compare(out)?;
    for f in files {
        incoming.file(&f.path, &f.contents)?;
    }
    incoming.drift()
}

/// What [`write`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The current generation already has exactly these files.
    Unchanged {
        /// The current generation.
        generation: String,
    },
    /// A new generation was written and `DIR` now links to it.
    Written {
        /// The new generation.
        generation: String,
        /// The generation `DIR` showed before, if any.
        previous: Option<String>,
        /// Old generations removed (beyond `--keep`).
        removed: Vec<String>,
        /// The generation an ordinary directory at `DIR` was moved to.
        migrated: Option<String>,
    },
}

/// Writes `files` as a new generation and points `out` at it (see the module docs). Keeps the
/// `keep` newest previous generations.
pub fn write(out: &Path, files: &[TreeFile], keep: usize) -> Result<WriteOutcome, TreeError> {
    let mut incoming = Incoming::write(out)?;
    for f in files {
        incoming.file(&f.path, &f.contents)?;
    }
    incoming.commit(keep)
}

/// A tree arriving a piece at a time (a streamed render): each file is written to the staging
/// directory and compared with the tree `DIR` shows as it arrives, so the tree is never in
/// memory. [`Incoming::write`] stages a new generation that [`Incoming::commit`] makes current
/// (dropping it unfinished removes the staging directory and leaves `DIR` untouched);
/// [`Incoming::compare`] only compares ([`Incoming::drift`]).
///
/// Invariant: `seen` holds every path given so far, each at most once; `open` is the last one,
/// still receiving bytes; `drift` describes every file given before it.
///
/// Writing over a current generation is lazy: while everything received equals that
/// generation, nothing is written (an unchanged render writes nothing, needs no space and
/// fsyncs nothing). At the first difference the staging directory is *materialized*: the files
/// received so far are copied from the current generation (they are equal to it), the open
/// file's prefix too, and from then on every byte is written as it arrives.
#[derive(Debug)]
pub struct Incoming {
    layout: Layout,
    /// The directory compared against, resolved once (a concurrent swap cannot mix two
    /// generations in one comparison).
    base: Option<PathBuf>,
    /// Writing: the lock, the staging directory and the directories made in it.
    staging: Option<Staging>,
    seen: BTreeSet<String>,
    drift: Vec<Drift>,
    open: Option<OpenFile>,
    /// Writing: the staging directory holds every file received so far (see above).
    materialized: bool,
}

#[derive(Debug)]
struct Staging {
    /// Held until the new generation is in place.
    _lock: File,
    root: PathBuf,
    dirs: BTreeSet<PathBuf>,
    /// What `DIR` is (read with the lock held).
    current: CurrentKind,
    /// Moved into place: nothing to clean up.
    committed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CurrentKind {
    None,
    Generation(String),
    Directory,
}

#[derive(Debug)]
struct OpenFile {
    path: String,
    written: Option<File>,
    /// Bytes received so far.
    received: u64,
    /// The file of the same path in the base, while it still matches what arrived.
    old: Option<io::BufReader<File>>,
    /// The base has the path, whether or not it still matches.
    in_base: bool,
}

impl Incoming {
    /// Starts comparing with what `out` shows; writes nothing and takes no lock.
    pub fn compare(out: &Path) -> Result<Incoming, TreeError> {
        let layout = Layout::new(out)?;
        let base = resolved(&layout)?;
        Ok(Incoming {
            layout,
            base,
            staging: None,
            seen: BTreeSet::new(),
            drift: Vec::new(),
            open: None,
            materialized: false,
        })
    }

    /// Starts writing a new generation of `out`: takes the lock and creates the staging
    /// directory.
    pub fn write(out: &Path) -> Result<Incoming, TreeError> {
        let layout = Layout::new(out)?;
        fs::create_dir_all(&layout.generations).map_err(io_error(&layout.generations))?;
        let lock_path = layout.generations.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(TreeError::Locked { lock: lock_path }),
            Err(TryLockError::Error(e)) => return Err(io_error(&lock_path)(e)),
        }
        remove_leftovers(&layout);
        let current = match current(&layout)? {
            Current::None => CurrentKind::None,
            Current::Generation(g) => CurrentKind::Generation(g),
            Current::Directory => CurrentKind::Directory,
        };
        let base = match &current {
            CurrentKind::None => None,
            CurrentKind::Generation(g) => Some(layout.generations.join(g)),
            CurrentKind::Directory => Some(layout.link.clone()),
        };
        let root = layout
            .generations
            .join(format!(".tmp-{}", std::process::id()));
        fs::create_dir(&root).map_err(io_error(&root))?;
        // Lazy only over a generation: a first render has nothing to copy from, and a plain
        // directory is migrated into a generation by the commit.
        let materialized = !matches!(current, CurrentKind::Generation(_));
        Ok(Incoming {
            base,
            staging: Some(Staging {
                _lock: lock,
                dirs: BTreeSet::from([root.clone()]),
                root,
                current,
                committed: false,
            }),
            layout,
            seen: BTreeSet::new(),
            drift: Vec::new(),
            open: None,
            materialized,
        })
    }

    /// A new file of the tree, `path` (each path may come once), starting with `bytes`;
    /// [`Incoming::append`] adds to it.
    pub fn file(&mut self, path: &str, bytes: &[u8]) -> Result<(), TreeError> {
        self.close()?;
        self.open_file(path)?;
        self.append(bytes)
    }

    /// More bytes of the file [`Incoming::file`] started last.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), TreeError> {
        let Some(open) = &mut self.open else {
            return Err(io_error(&self.layout.link)(io::Error::other(
                "bytes for no file",
            )));
        };
        if let Some(old) = &mut open.old {
            let mut buffer = vec![0; bytes.len()];
            let same = io::Read::read_exact(old, &mut buffer).is_ok() && buffer == bytes;
            if !same {
                open.old = None;
            }
        }
        // The open file differs from the base (or the base has no such file): from here on the
        // staging directory must hold everything.
        if open.old.is_none() && !self.materialized {
            self.materialize()?;
        }
        let Some(open) = &mut self.open else {
            return Ok(());
        };
        if let Some(f) = &mut open.written {
            let full = self
                .staging
                .as_ref()
                .map_or_else(PathBuf::new, |s| s.root.join(&open.path));
            f.write_all(bytes).map_err(io_error(&full))?;
        }
        open.received += bytes.len() as u64;
        Ok(())
    }

    /// Writes into the staging directory, from the base, every file received so far and the
    /// open file's prefix, all equal to the base (nothing differed before); the open file then
    /// stays open for the bytes still to come. Only while writing, and once.
    fn materialize(&mut self) -> Result<(), TreeError> {
        if self.materialized {
            return Ok(());
        }
        self.materialized = true;
        let (Some(staging), Some(base)) = (self.staging.as_mut(), self.base.as_ref()) else {
            return Ok(());
        };
        let open_path = self.open.as_ref().map(|o| o.path.as_str());
        for path in &self.seen {
            if Some(path.as_str()) == open_path {
                continue;
            }
            let to = staging.prepare(path)?;
            let from = base.join(path);
            fs::copy(&from, &to).map_err(io_error(&to))?;
        }
        if let Some(open) = self.open.as_mut() {
            let to = staging.prepare(&open.path)?;
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&to)
                .map_err(io_error(&to))?;
            if open.received > 0 {
                let from = base.join(&open.path);
                let source = File::open(&from).map_err(io_error(&from))?;
                io::copy(&mut io::Read::take(source, open.received), &mut file)
                    .map_err(io_error(&to))?;
            }
            open.written = Some(file);
        }
        Ok(())
    }

    fn open_file(&mut self, path: &str) -> Result<(), TreeError> {
        check_path(path)?;
        if !self.seen.insert(path.to_owned()) {
            return Err(TreeError::UnsafePath {
                path: format!("{path} (given twice)"),
            });
        }
        let written = match &mut self.staging {
            Some(staging) if self.materialized => {
                let full = staging.prepare(path)?;
                Some(
                    OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&full)
                        .map_err(io_error(&full))?,
                )
            }
            _ => None,
        };
        let (old, in_base) = match &self.base {
            Some(base) => {
                let at = base.join(path);
                match fs::symlink_metadata(&at) {
                    Ok(meta) if meta.is_file() => (
                        Some(io::BufReader::new(File::open(&at).map_err(io_error(&at))?)),
                        true,
                    ),
                    Ok(_) => (None, true),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => (None, false),
                    // A parent that is a file, say: the path is not there as a file.
                    Err(e) if e.kind() == io::ErrorKind::NotADirectory => (None, false),
                    Err(e) => return Err(io_error(&at)(e)),
                }
            }
            None => (None, false),
        };
        self.open = Some(OpenFile {
            path: path.to_owned(),
            written,
            received: 0,
            old,
            in_base,
        });
        Ok(())
    }

    /// Finishes the file being received: records how it differs from the base.
    fn close(&mut self) -> Result<(), TreeError> {
        let Some(open) = &mut self.open else {
            return Ok(());
        };
        let same = match &mut open.old {
            // Equal so far: equal if the old file has nothing more.
            Some(old) => matches!(io::Read::read(old, &mut [0u8; 1]), Ok(0)),
            None => false,
        };
        if !same {
            // A base file longer than what arrived: its prefix is staged now.
            self.materialize()?;
        }
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        if !open.in_base {
            self.drift.push(Drift::Missing(open.path));
        } else if !same {
            self.drift.push(Drift::Changed(open.path));
        }
        Ok(())
    }

    /// How the base differs from the tree received (empty: up to date), sorted by path.
    pub fn drift(mut self) -> Result<Vec<Drift>, TreeError> {
        self.close()?;
        let mut drift = std::mem::take(&mut self.drift);
        if let Some(base) = &self.base {
            for path in read_tree(base)? {
                if !self.seen.contains(&path) {
                    drift.push(Drift::Unexpected(path));
                }
            }
        }
        drift.sort_by(|a, b| drift_path(a).cmp(drift_path(b)));
        Ok(drift)
    }

    /// Makes the staged tree the current generation (see the module docs), or writes nothing
    /// when the current generation already has exactly these files. Keeps the `keep` newest
    /// previous generations. Only for [`Incoming::write`].
    pub fn commit(mut self, keep: usize) -> Result<WriteOutcome, TreeError> {
        self.close()?;
        let Some(current) = self.staging.as_ref().map(|s| s.current.clone()) else {
            return Err(io_error(&self.layout.link)(io::Error::other(
                "a compared tree cannot be committed",
            )));
        };
        let layout = self.layout.clone();
        if let CurrentKind::Generation(g) = &current
            && self.drift.is_empty()
            && read_tree(&layout.generations.join(g))?
                .iter()
                .all(|p| self.seen.contains(p))
        {
            return Ok(WriteOutcome::Unchanged {
                generation: g.clone(),
            });
        }
        // Everything received equals the current generation, which has more files: the staging
        // directory gets the received ones now.
        self.materialize()?;
        let Some(staging) = self.staging.as_mut() else {
            return Err(io_error(&layout.link)(io::Error::other(
                "no staging directory",
            )));
        };
        // 1. The new tree, complete and durable, under a temporary name.
        for path in &self.seen {
            let full = staging.root.join(path);
            File::open(&full)
                .and_then(|f| f.sync_all())
                .map_err(io_error(&full))?;
        }
        staging.dirs.iter().try_for_each(|d| sync_dir(d))?;
        let mut migrated = None;
        let previous = match current {
            CurrentKind::None => None,
            CurrentKind::Generation(g) => Some(g),
            CurrentKind::Directory => {
                if fs::read_dir(&layout.link)
                    .map_err(io_error(&layout.link))?
                    .next()
                    .is_none()
                {
                    fs::remove_dir(&layout.link).map_err(io_error(&layout.link))?;
                    None
                } else {
                    let g = generation_name(layout.generations()?.last().map_or(1, |n| n + 1));
                    let to = layout.generations.join(&g);
                    fs::rename(&layout.link, &to).map_err(io_error(&layout.link))?;
                    sync_dir(&layout.parent)?;
                    migrated = Some(g.clone());
                    Some(g)
                }
            }
        };
        let generation = generation_name(layout.generations()?.last().map_or(1, |n| n + 1));
        let dest = layout.generations.join(&generation);
        fs::rename(&staging.root, &dest).map_err(io_error(&dest))?;
        staging.committed = true;
        sync_dir(&layout.generations)?;

        // 2. The swap: a new symlink under a temporary name, renamed over DIR.
        let tmp_link = layout
            .parent
            .join(format!(".{}.link-{}", layout.name, std::process::id()));
        let _ = fs::remove_file(&tmp_link);
        std::os::unix::fs::symlink(layout.target(&generation), &tmp_link)
            .map_err(io_error(&tmp_link))?;
        fs::rename(&tmp_link, &layout.link).map_err(io_error(&layout.link))?;
        sync_dir(&layout.parent)?;

        // 3. Old generations beyond `keep`.
        let mut removed = Vec::new();
        let numbers = layout.generations()?;
        let keep_from = numbers.len().saturating_sub(keep.saturating_add(1));
        for n in numbers.iter().take(keep_from) {
            let name = generation_name(*n);
            if name != generation && fs::remove_dir_all(layout.generations.join(&name)).is_ok() {
                removed.push(name);
            }
        }
        Ok(WriteOutcome::Written {
            generation,
            previous,
            removed,
            migrated,
        })
    }
}

impl Staging {
    /// The staging path of tree path `path`, its parent directories created (each recorded in
    /// `dirs`, which the commit fsyncs).
    fn prepare(&mut self, path: &str) -> Result<PathBuf, TreeError> {
        let full = self.root.join(path);
        if let Some(parent) = full.parent()
            && !self.dirs.contains(parent)
        {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
            let mut d = parent;
            while d != self.root && self.dirs.insert(d.to_path_buf()) {
                match d.parent() {
                    Some(p) => d = p,
                    None => break,
                }
            }
        }
        Ok(full)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// Removes what a killed render left behind (only ever called with the lock held).
fn remove_leftovers(layout: &Layout) {
    if let Ok(entries) = fs::read_dir(&layout.generations) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    let link_prefix = format!(".{}.link-", layout.name);
    if let Ok(entries) = fs::read_dir(&layout.parent) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(&link_prefix)
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), TreeError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a\\b",
            "a/",
            "a\0b",
            "..",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["lb1/etc/haproxy/haproxy.cfg", "manifest.json", "h/.hidden"] {
            assert!(check_path(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn generation_names() {
        assert_eq!(generation_name(42), "000042");
        assert_eq!(parse_generation("000042"), Some(42));
        assert_eq!(parse_generation("1234567"), Some(1_234_567));
        assert_eq!(parse_generation(".tmp-1"), None);
        assert_eq!(parse_generation("42"), None);
    }

    #[allow(clippy::unwrap_used, reason = "tests")]
    fn tree(dir: &Path) -> BTreeSet<String> {
        read_tree(dir).unwrap()
    }

    /// Over a current generation, nothing is staged until something differs; then the files
    /// received before (equal to the base) are copied, the open file's prefix too. Each case
    /// must end with exactly the new files in the new generation.
    #[test]
    #[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    fn staging_starts_at_the_first_difference_and_holds_every_file() {
        let base = [("h/a", &b"alpha"[..]), ("h/b", b"beta"), ("h/c", b"gamma")];
        let cases: [&[(&str, &[u8])]; 5] = [
            // The last file changes: a and b are copied from the base.
            &[("h/a", b"alpha"), ("h/b", b"beta"), ("h/c", b"GAMMA")],
            // A change in the middle of a file, in pieces: its prefix is copied.
            &[
                ("h/a", b"alpha"),
                ("h/b", b"be"),
                ("h/b", b"TA"),
                ("h/c", b"gamma"),
            ],
            // A file shorter than the base's: found when it closes.
            &[("h/a", b"alpha"), ("h/b", b"bet"), ("h/c", b"gamma")],
            // The base has a file the new tree has not: found at the commit.
            &[("h/a", b"alpha"), ("h/b", b"beta")],
            // A new file.
            &[
                ("h/a", b"alpha"),
                ("h/b", b"beta"),
                ("h/c", b"gamma"),
                ("h/d", b"delta"),
            ],
        ];
        for (i, case) in cases.iter().enumerate() {
            let tmp = tempfile::tempdir().unwrap();
            let out = tmp.path().join("out");
            let files: Vec<TreeFile> = base
                .iter()
                .map(|(p, c)| TreeFile {
                    path: (*p).into(),
                    contents: c.to_vec(),
                })
                .collect();
            write(&out, &files, 1).unwrap();
            let mut incoming = Incoming::write(&out).unwrap();
            let mut want = std::collections::BTreeMap::<String, Vec<u8>>::new();
            let mut last = "";
            for (path, bytes) in case.iter() {
                if *path == last {
                    incoming.append(bytes).unwrap();
                } else {
                    incoming.file(path, bytes).unwrap();
                }
                want.entry((*path).to_owned())
                    .or_default()
                    .extend_from_slice(bytes);
                last = path;
            }
            assert!(
                matches!(incoming.commit(1).unwrap(), WriteOutcome::Written { .. }),
                "case {i}"
            );
            let got: std::collections::BTreeMap<String, Vec<u8>> = tree(&out)
                .into_iter()
                .filter(|p| p.starts_with("h/"))
                .map(|p| {
                    let bytes = fs::read(out.join(&p)).unwrap();
                    (p, bytes)
                })
                .collect();
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    #[allow(clippy::unwrap_used, reason = "tests")]
    fn an_incoming_tree_is_compared_piece_by_piece_and_dropping_it_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let files = [
            TreeFile {
                path: "h/a".into(),
                contents: b"alpha".to_vec(),
            },
            TreeFile {
                path: "h/b".into(),
                contents: b"beta".to_vec(),
            },
        ];
        assert!(matches!(
            write(&out, &files, 1).unwrap(),
            WriteOutcome::Written { .. }
        ));

        // The same bytes in other pieces: unchanged.
        let mut same = Incoming::write(&out).unwrap();
        same.file("h/a", b"al").unwrap();
        same.append(b"pha").unwrap();
        same.file("h/b", b"beta").unwrap();
        assert!(matches!(
            same.commit(1).unwrap(),
            WriteOutcome::Unchanged { .. }
        ));

        // A shorter file, a longer one, a missing one, one left out; a path twice is refused.
        let mut other = Incoming::compare(&out).unwrap();
        other.file("h/a", b"alph").unwrap();
        other.file("h/c", b"").unwrap();
        assert!(other.file("h/c", b"").is_err());
        assert_eq!(
            other.drift().unwrap(),
            vec![
                Drift::Changed("h/a".into()),
                Drift::Unexpected("h/b".into()),
                Drift::Missing("h/c".into()),
            ]
        );
        let mut longer = Incoming::compare(&out).unwrap();
        longer.file("h/a", b"alpha").unwrap();
        longer.append(b"!").unwrap();
        longer.file("h/b", b"beta").unwrap();
        assert_eq!(longer.drift().unwrap(), vec![Drift::Changed("h/a".into())]);

        // A write abandoned half-way leaves DIR as it was and no staging directory.
        let before = tree(&out);
        let mut abandoned = Incoming::write(&out).unwrap();
        abandoned.file("h/z", b"zzz").unwrap();
        drop(abandoned);
        assert_eq!(tree(&out), before);
        let leftovers: Vec<_> = fs::read_dir(tmp.path().join("out.generations"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
