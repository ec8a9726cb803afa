//! Source files and byte spans into them.
//!
//! Invariant: a [`Span`] is a half-open byte range `start..end` into the text of the
//! [`SourceFile`] named by `file`, always on `char` boundaries.

use serde::Serialize;

/// Index of a file inside a [`Sources`] set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FileId(pub u32);

/// A located byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// File the range belongs to.
    pub file: FileId,
    /// Start byte offset (inclusive).
    pub start: u32,
    /// End byte offset (exclusive).
    pub end: u32,
}

impl Span {
    /// A span covering `start..end` of `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            file,
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    /// The smallest span covering both `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One input file: its site-relative path and its full text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the site root, with `/` separators (e.g. `services/www.yaml`).
    pub path: String,
    /// The file's text.
    pub text: String,
    line_starts: Vec<u32>,
}

impl SourceFile {
    /// A file from its path and text.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0u32];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
            }
        }
        Self {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let line_idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let line_start = self.line_starts.get(line_idx).copied().unwrap_or(0);
        let col = self
            .text
            .get(line_start as usize..offset as usize)
            .map_or(0, |s| s.chars().count());
        (
            u32::try_from(line_idx + 1).unwrap_or(u32::MAX),
            u32::try_from(col + 1).unwrap_or(u32::MAX),
        )
    }
}

/// The set of files that make up one site, in sorted path order.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Builds the set; files are sorted by path so that merge order never depends on the caller.
    pub fn new(mut files: Vec<SourceFile>) -> Self {
        crate::collect::sort_by(&mut files, |a, b| a.path.cmp(&b.path));
        Self { files }
    }

    /// Convenience: from `(path, text)` pairs.
    pub fn from_pairs<P: Into<String>, T: Into<String>>(
        pairs: impl IntoIterator<Item = (P, T)>,
    ) -> Self {
        Self::new(
            pairs
                .into_iter()
                .map(|(p, t)| SourceFile::new(p, t))
                .collect(),
        )
    }

    /// The file behind an id.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The file with a given site-relative path.
    pub fn by_path(&self, path: &str) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// All files with their ids, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(u32::try_from(i).unwrap_or(u32::MAX)), f))
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Resolves a span to a serialisable location.
    pub fn locate(&self, span: Span) -> Location {
        let Some(file) = self.get(span.file) else {
            return Location {
                file: String::new(),
                line: 0,
                column: 0,
                end_line: 0,
                end_column: 0,
                start: 0,
                end: 0,
            };
        };
        let (line, column) = file.line_col(span.start);
        let (end_line, end_column) = file.line_col(span.end);
        Location {
            file: file.path.clone(),
            line,
            column,
            end_line,
            end_column,
            start: span.start,
            end: span.end,
        }
    }
}

/// A span resolved to file path, lines and columns (1-based), plus byte offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Location {
    /// Site-relative file path.
    pub file: String,
    /// 1-based start line.
    pub line: u32,
    /// 1-based start column, in characters.
    pub column: u32,
    /// 1-based end line.
    pub end_line: u32,
    /// 1-based end column (exclusive), in characters.
    pub end_column: u32,
    /// Start byte offset.
    pub start: u32,
    /// End byte offset (exclusive).
    pub end: u32,
}
