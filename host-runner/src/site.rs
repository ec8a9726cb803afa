//! Reading a site from disk: every `*.yaml`/`*.yml` below the site directory (hidden files and
//! directories skipped, symlinked directories not followed), sorted, with site-relative `/`
//! paths. Finding the site a changed file belongs to (for pre-commit). The bundled example.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

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
}

impl SiteError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            SiteError::NoBundledExample | SiteError::NotADirectory(_) => crate::exit::USAGE,
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
