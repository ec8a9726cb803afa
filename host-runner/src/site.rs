//! Reading a site from disk: every `*.yaml`/`*.yml` below the site directory (hidden files and
//! directories skipped, symlinked directories not followed), sorted, with site-relative `/`
//! paths. Finding the site a changed file belongs to (for pre-commit). The bundled example.

use std::fmt;
use std::fs;
use std::io;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use svcintent_core::api::InputFile;

use crate::module::{BUNDLED_EXAMPLE, BUNDLED_EXAMPLE_DIR};

/// A site, read.
#[derive(Debug, Clone)]
pub struct Site {
    /// What site paths are prefixed with when shown: the directory as given plus `/` (empty for
    /// the current directory), so that `file:line` in output is valid from where svcintent ran.
    pub prefix: String,
    /// The directory (`None` for the bundled example).
    pub dir: Option<PathBuf>,
    /// The files, sorted by path.
    pub files: Vec<InputFile>,
}

impl Site {
    /// The path a site-relative path is shown as.
    pub fn display_path(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    /// How to name this site in messages.
    pub fn name(&self) -> String {
        match &self.dir {
            Some(dir) => dir.display().to_string(),
            None => format!("the bundled example ({BUNDLED_EXAMPLE_DIR})"),
        }
    }
}

/// Why a site could not be read.
#[derive(Debug)]
pub enum SiteError {
    /// A file or directory could not be read.
    Io {
        /// Which.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A YAML file is not UTF-8.
    NotUtf8 {
        /// Which.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The site path is not a directory.
    NotADirectory(PathBuf),
    /// No SITE given and this build bundles no example.
    NoBundledExample,
    /// Reading a site from a git revision failed (no such revision, not a repository).
    Git {
        /// `REV:DIR` as asked.
        what: String,
        /// What git said.
        message: String,
    },
}

impl SiteError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            SiteError::NoBundledExample | SiteError::NotADirectory(_) | SiteError::Git { .. } => {
                crate::exit::USAGE
            }
            SiteError::Io { .. } | SiteError::NotUtf8 { .. } => crate::exit::IO,
        }
    }
}

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            SiteError::NotUtf8 { path, offset } => write!(
                f,
                "{} is not UTF-8 text (invalid byte at offset {offset}); svcintent reads UTF-8 YAML: convert the file, e.g. with iconv",
                path.display()
            ),
            SiteError::NotADirectory(path) => {
                write!(
                    f,
                    "{} is not a directory; give the site's directory (the one with the `site:` file)",
                    path.display()
                )
            }
            SiteError::NoBundledExample => write!(
                f,
                "no SITE given, and this build of svcintent bundles no example ({BUNDLED_EXAMPLE_DIR} was empty when it was built); \
                 give a site directory"
            ),
            SiteError::Git { what, message } => {
                write!(f, "cannot read the site {what} from git: {message}")
            }
        }
    }
}

impl std::error::Error for SiteError {}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SiteError + '_ {
    move |source| SiteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The bundled example site.
pub fn bundled() -> Result<Site, SiteError> {
    if BUNDLED_EXAMPLE.is_empty() {
        return Err(SiteError::NoBundledExample);
    }
    Ok(Site {
        prefix: format!("{BUNDLED_EXAMPLE_DIR}/"),
        dir: None,
        files: BUNDLED_EXAMPLE
            .iter()
            .map(|(path, text)| InputFile {
                path: (*path).to_owned(),
                text: (*text).to_owned(),
            })
            .collect(),
    })
}

/// The prefix paths below `dir` are shown with: `dir` as given, `/`-separated, plus `/`.
pub fn display_prefix(dir: &Path) -> String {
    let s = dir.to_string_lossy().replace('\\', "/");
    let s = s.trim_end_matches('/');
    let s = s.strip_prefix("./").unwrap_or(s);
    if s.is_empty() || s == "." {
        if dir.is_absolute() {
            "/".to_owned()
        } else {
            String::new()
        }
    } else {
        format!("{s}/")
    }
}

/// Reads the site in `dir`.
pub fn read(dir: &Path) -> Result<Site, SiteError> {
    let meta = fs::metadata(dir).map_err(io_error(dir))?;
    if !meta.is_dir() {
        return Err(SiteError::NotADirectory(dir.to_path_buf()));
    }
    let mut paths = Vec::new();
    walk(dir, dir, &mut paths)?;
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for (rel, path) in paths {
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        let text = String::from_utf8(bytes).map_err(|e| SiteError::NotUtf8 {
            path: path.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        files.push(InputFile { path: rel, text });
    }
    Ok(Site {
        prefix: display_prefix(dir),
        dir: Some(dir.to_path_buf()),
        files,
    })
}

/// Reads the site that directory `dir` (in a git work tree) held at revision `rev`: the same
/// files [`read`] would take (YAML, no hidden path components), from git's object store.
pub fn read_git(rev: &str, dir: &Path) -> Result<Site, SiteError> {
    let what = format!("{rev}:{}", dir.display());
    let git_error = |message: String| SiteError::Git {
        what: what.clone(),
        message,
    };
    if rev.starts_with('-') {
        return Err(git_error("a revision cannot start with `-`".to_owned()));
    }
    // Paths relative to `dir`, restricted to it.
    let listing = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["ls-tree", "-r", "-z", "--name-only", rev, "--", "."])
        .output()
        .map_err(|e| git_error(format!("cannot run git: {e}")))?;
    if !listing.status.success() {
        return Err(git_error(
            String::from_utf8_lossy(&listing.stderr).trim().to_owned(),
        ));
    }
    let mut names: Vec<String> = listing
        .stdout
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .filter(|n| is_yaml(Path::new(n)) && !n.split('/').any(|c| c.starts_with('.')))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(git_error(format!(
            "no YAML files under {} at {rev}",
            dir.display()
        )));
    }
    // One `git cat-file --batch` for all files: `<rev>:./<name>` per line in, and per object
    // `<oid> blob <size>\n<bytes>\n` out.
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| git_error(format!("cannot run git: {e}")))?;
    let input: String = names.iter().map(|n| format!("{rev}:./{n}\n")).collect();
    if let Some(mut stdin) = child.stdin.take() {
        // git reads all of stdin before it exits; writing from another thread avoids a
        // deadlock on large sites (both pipes full).
        std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    }
    let out = child
        .wait_with_output()
        .map_err(|e| git_error(format!("git cat-file failed: {e}")))?;
    if !out.status.success() {
        return Err(git_error(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    let mut rest: &[u8] = &out.stdout;
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let bad = || git_error(format!("unexpected git cat-file output for {name}"));
        let eol = rest.iter().position(|b| *b == b'\n').ok_or_else(bad)?;
        let header = String::from_utf8_lossy(rest.get(..eol).ok_or_else(bad)?).into_owned();
        let size: usize = match header.split(' ').collect::<Vec<_>>().as_slice() {
            [_, "blob", size] => size.parse().map_err(|_| bad())?,
            _ => return Err(git_error(format!("{name}: {header}"))),
        };
        let body = rest.get(eol + 1..eol + 1 + size).ok_or_else(bad)?;
        let text = String::from_utf8(body.to_vec()).map_err(|e| SiteError::NotUtf8 {
            path: PathBuf::from(format!("{rev}:{}", dir.join(&name).display())),
            offset: e.utf8_error().valid_up_to(),
        })?;
        files.push(InputFile { path: name, text });
        rest = rest.get(eol + 2 + size..).unwrap_or_default();
    }
    Ok(Site {
        prefix: format!("{rev}:{}", display_prefix(dir)),
        dir: Some(dir.to_path_buf()),
        files,
    })
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), SiteError> {
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(io_error(&path))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if is_yaml(&path) && (kind.is_file() || (kind.is_symlink() && path.is_file())) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}

/// Whether `dir` directly holds a YAML file with a top-level `site:` key (a line starting with
/// `site:`), which makes it a site root.
pub fn is_site_root(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        is_yaml(&path)
            && path.is_file()
            && fs::read(&path).is_ok_and(|bytes| {
                bytes.split(|b| *b == b'\n').any(|line| {
                    line.strip_prefix(b"site:").is_some_and(|rest| {
                        rest.first()
                            .is_none_or(|c| matches!(c, b' ' | b'\t' | b'\r' | b'#'))
                    })
                })
            })
    })
}

/// The site root of a file: the nearest ancestor directory that [`is_site_root`], shown
/// relative to the current directory when it is below it.
pub fn find_root(file: &Path) -> Result<Option<PathBuf>, SiteError> {
    let abs = fs::canonicalize(file).map_err(io_error(file))?;
    let mut dir = if abs.is_dir() {
        Some(abs.as_path())
    } else {
        abs.parent()
    };
    while let Some(d) = dir {
        if is_site_root(d) {
            return Ok(Some(relative_to_cwd(d)));
        }
        dir = d.parent();
    }
    Ok(None)
}

/// `path` (absolute, canonical) relative to the current directory, with `..` where needed, so
/// that the paths svcintent prints are valid from where it runs.
fn relative_to_cwd(path: &Path) -> PathBuf {
    let Ok(cwd) = std::env::current_dir().and_then(fs::canonicalize) else {
        return path.to_path_buf();
    };
    let common = path
        .components()
        .zip(cwd.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in cwd.components().skip(common) {
        rel.push("..");
    }
    for c in path.components().skip(common) {
        rel.push(c);
    }
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// The sites to lint for the paths given on the command line.
#[derive(Debug, Default)]
pub struct Targets {
    /// Site directories, each once, in the order first named.
    pub sites: Vec<PathBuf>,
    /// YAML files that belong to no site (skipped, with a note).
    pub outside: Vec<PathBuf>,
}

/// Each directory is a site; each file stands for the site it belongs to ([`find_root`]).
/// Files that are not YAML are ignored.
pub fn lint_targets(paths: &[PathBuf]) -> Result<Targets, SiteError> {
    let mut targets = Targets::default();
    let mut seen = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(io_error(path))?;
        let root = if meta.is_dir() {
            path.clone()
        } else if !is_yaml(path) {
            continue;
        } else {
            match find_root(path)? {
                Some(root) => root,
                None => {
                    targets.outside.push(path.clone());
                    continue;
                }
            }
        };
        let key = fs::canonicalize(&root).map_err(io_error(&root))?;
        if !seen.contains(&key) {
            seen.push(key);
            targets.sites.push(root);
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(display_prefix(Path::new(".")), "");
        assert_eq!(display_prefix(Path::new("./")), "");
        assert_eq!(display_prefix(Path::new("sites/campus/")), "sites/campus/");
        assert_eq!(display_prefix(Path::new("./sites/campus")), "sites/campus/");
        assert_eq!(display_prefix(Path::new("/srv/site")), "/srv/site/");
    }
}
