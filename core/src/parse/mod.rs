//! YAML text → [`Node`] trees with spans, one per file.
//!
//! Safety limits (each a clean `SI003` diagnostic, never a crash or a hang): file size
//! ([`MAX_FILE_BYTES`]), total size ([`MAX_TOTAL_BYTES`]), nesting depth ([`MAX_DEPTH`]) and
//! the number of nodes after alias expansion ([`MAX_NODES`], which stops alias bombs).
//! The builder is iterative, so deep input cannot overflow the stack.

pub mod node;

use std::collections::BTreeMap;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

pub use node::{Entry, Node, Scalar, Style, Value};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, SourceFile, Sources, Span};

/// Largest accepted file.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// Largest accepted site (all files).
pub const MAX_TOTAL_BYTES: usize = 48 * 1024 * 1024;
/// Deepest accepted nesting of collections.
pub const MAX_DEPTH: usize = 64;
/// Most nodes one file may expand to (aliases included).
pub const MAX_NODES: usize = 2_000_000;

/// A parsed file: its root node (`None` when the file could not be parsed).
#[derive(Debug, Clone)]
pub struct Document {
    /// The file.
    pub file: FileId,
    /// Root node; a null node for an empty file.
    pub root: Option<Node>,
}

/// Parses every file; problems go to `diags`.
pub fn parse_all(sources: &Sources, diags: &mut Diagnostics) -> Vec<Document> {
    let mut total = 0usize;
    let mut docs = Vec::new();
    for (id, file) in sources.iter() {
        total = total.saturating_add(file.text.len());
        let whole = Span::new(id, 0, file.text.len().min(1));
        if file.text.len() > MAX_FILE_BYTES {
            diags.push(
                Diagnostic::new(
                    Code::InputLimit,
                    whole,
                    format!(
                        "file is {} bytes; the limit is {MAX_FILE_BYTES}",
                        file.text.len()
                    ),
                )
                .help("split the site into several files"),
            );
            docs.push(Document {
                file: id,
                root: None,
            });
            continue;
        }
        if total > MAX_TOTAL_BYTES {
            diags.push(Diagnostic::new(
                Code::InputLimit,
                whole,
                format!("the site exceeds {MAX_TOTAL_BYTES} bytes in all; this file and later ones were not read"),
            ));
            docs.push(Document {
                file: id,
                root: None,
            });
            continue;
        }
        let root = parse_file(id, file, diags);
        docs.push(Document { file: id, root });
    }
    docs
}

/// Converts saphyr's character indices to byte offsets.
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    /// (char index, byte offset) of the last conversion; events arrive roughly in order.
    cursor: (usize, usize),
}

impl Offsets<'_> {
    fn byte(&mut self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        let (mut ci, mut bi) = if char_index >= self.cursor.0 {
            self.cursor
        } else {
            (0, 0)
        };
        let rest = self.text.get(bi..).unwrap_or("");
        for ch in rest.chars() {
            if ci == char_index {
                break;
            }
            ci += 1;
            bi += ch.len_utf8();
        }
        self.cursor = (ci, bi);
        bi
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: usize,
        anchor: usize,
    },
    Map {
        entries: Vec<Entry>,
        key: Option<(String, Span)>,
        start: usize,
        anchor: usize,
        bad_key: bool,
    },
}

struct Builder<'a> {
    file: FileId,
    offsets: Offsets<'a>,
    stack: Vec<Frame>,
    anchors: BTreeMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
    diags: Vec<Diagnostic>,
    fatal: bool,
}

impl Builder<'_> {
    fn span(&mut self, s: saphyr_parser::Span) -> Span {
        let start = self.offsets.byte(s.start.index());
        let end = self.offsets.byte(s.end.index());
        Span::new(self.file, start, end)
    }

    fn limit(&mut self, span: Span, message: String) {
        self.diags.push(Diagnostic::new(Code::InputLimit, span, message).help(
            "svcintent bounds nesting, aliases and size so that no input can exhaust memory or time",
        ));
        self.fatal = true;
    }

    /// Adds a finished node to the enclosing collection (or makes it the root).
    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                bad_key,
                ..
            }) => match key.take() {
                None => {
                    // This node is a key.
                    match node.value {
                        Value::Scalar(s) => *key = Some((s.text, node.span)),
                        Value::Null => *key = Some((String::new(), node.span)),
                        _ => {
                            *bad_key = true;
                            *key = Some((String::new(), node.span));
                            self.diags.push(
                                Diagnostic::new(
                                    Code::UnsupportedYaml,
                                    node.span,
                                    "complex mapping keys are not supported",
                                )
                                .help("keys are plain names"),
                            );
                        }
                    }
                }
                Some((k, key_span)) => {
                    if *bad_key {
                        *bad_key = false;
                        return;
                    }
                    if k == "<<" {
                        self.diags.push(
                            Diagnostic::new(
                                Code::UnsupportedYaml,
                                key_span,
                                "YAML merge keys (`<<`) are not supported",
                            )
                            .help("use `extends: <template>` to share settings"),
                        );
                        return;
                    }
                    if let Some(first) = entries.iter().find(|e| e.key == k) {
                        let first_span = first.key_span;
                        self.diags.push(
                            Diagnostic::new(
                                Code::DuplicateKey,
                                key_span,
                                format!("duplicate key `{k}`"),
                            )
                            .label("defined again here")
                            .with_secondary(first_span, "first defined here")
                            .help("YAML mappings keep one value per key; remove one of them"),
                        );
                        return;
                    }
                    entries.push(Entry {
                        key: k,
                        key_span,
                        value: node,
                    });
                }
            },
        }
    }

    fn event(&mut self, ev: Event<'_>, raw: saphyr_parser::Span) {
        let span = self.span(raw);
        match ev {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    self.diags.push(
                        Diagnostic::new(
                            Code::UnsupportedYaml,
                            span,
                            "a file may hold only one YAML document",
                        )
                        .help("put each document in its own file"),
                    );
                    self.fatal = true;
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(tag) = tag {
                    let ok = tag.is_yaml_core_schema() && tag.suffix == "str";
                    if !ok {
                        self.diags.push(
                            Diagnostic::new(
                                Code::UnsupportedYaml,
                                span,
                                format!("YAML tag `{tag}` is not supported"),
                            )
                            .help("write the value without a tag; quote it to make it a string"),
                        );
                    }
                }
                self.nodes += 1;
                let plain = style == ScalarStyle::Plain;
                let value = if plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Value::Null
                } else {
                    Value::Scalar(Scalar {
                        text: text.into_owned(),
                        style: if plain { Style::Plain } else { Style::Quoted },
                    })
                };
                self.push_node(Node { value, span }, anchor);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.limit(span, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                self.nodes += 1;
                let start = span.start as usize;
                if matches!(ev, Event::SequenceStart(..)) {
                    self.stack.push(Frame::Seq {
                        items: Vec::new(),
                        start,
                        anchor,
                    });
                } else {
                    self.stack.push(Frame::Map {
                        entries: Vec::new(),
                        key: None,
                        start,
                        anchor,
                        bad_key: false,
                    });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                let (value, start, anchor) = match frame {
                    Frame::Seq {
                        items,
                        start,
                        anchor,
                    } => (Value::Seq(Rc::new(items)), start, anchor),
                    Frame::Map {
                        entries,
                        start,
                        anchor,
                        ..
                    } => (Value::Map(Rc::new(entries)), start, anchor),
                };
                let last_end = match &value {
                    Value::Seq(items) => items.last().map(|n| n.span.end),
                    Value::Map(entries) => {
                        entries.last().map(|e| e.value.span.end.max(e.key_span.end))
                    }
                    _ => None,
                };
                let end = last_end
                    .map_or(span.end as usize, |e| (e as usize).max(start))
                    .max(start);
                // Flow collections end at their closing bracket.
                let end = if self
                    .offsets
                    .text
                    .get(span.start as usize..span.end as usize)
                    .is_some_and(|s| s == "]" || s == "}")
                {
                    span.end as usize
                } else {
                    end
                };
                self.push_node(
                    Node {
                        value,
                        span: Span::new(self.file, start, end),
                    },
                    anchor,
                );
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id) else {
                    self.diags.push(Diagnostic::new(
                        Code::YamlSyntax,
                        span,
                        "alias to an unknown anchor",
                    ));
                    return;
                };
                let size = node.size();
                if self.nodes.saturating_add(size) > MAX_NODES {
                    self.limit(
                        span,
                        format!("aliases expand to more than {MAX_NODES} nodes (an alias bomb?)"),
                    );
                    return;
                }
                self.nodes += size;
                let mut copy = node.clone();
                // The copy is located at the alias, so diagnostics point where it is used.
                relocate(&mut copy, span);
                self.push_node(copy, 0);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

/// Points every span of an alias copy at the alias itself. The copy shares its collections
/// with the anchored node until `Rc::make_mut` copies them here, so the anchor keeps its spans.
fn relocate(node: &mut Node, span: Span) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        n.span = span;
        match &mut n.value {
            Value::Seq(items) => stack.extend(Rc::make_mut(items).iter_mut()),
            Value::Map(entries) => {
                for e in Rc::make_mut(entries).iter_mut() {
                    e.key_span = span;
                    stack.push(&mut e.value);
                }
            }
            Value::Null | Value::Scalar(_) => {}
        }
    }
}

/// The tab a "tabs disallowed" error is about: at the parser's marker, else the nearest one
/// before it on its line, else the first one on the lines just after it (the parser may stop at
/// the end of the line before the tab).
fn tab_near(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.get(at) == Some(&b'\t') {
        return Some(at);
    }
    let line_start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    if let Some(i) = text.get(line_start..at)?.rfind('\t') {
        return Some(line_start + i);
    }
    let rest = text.get(at..)?;
    let window = rest
        .match_indices('\n')
        .nth(1)
        .map_or(rest.len(), |(i, _)| i);
    rest.get(..window)?.find('\t').map(|i| at + i)
}

fn syntax_error(file: FileId, offsets: &mut Offsets<'_>, e: &ScanError) -> Diagnostic {
    let marker = offsets.byte(e.marker().index());
    if e.info().contains("tab")
        && let Some(tab) = tab_near(offsets.text, marker)
    {
        return Diagnostic::new(
            Code::YamlSyntax,
            Span::new(file, tab, tab + 1),
            format!("invalid YAML: a tab here ({})", e.info()),
        )
        .label("tab")
        .help("YAML indents with spaces only, and a tab cannot follow a plain value: replace the tab with spaces");
    }
    let mut at = marker;
    // At the end of input or on blank space, point at the last character written instead.
    let here = offsets.text.get(at..).and_then(|s| s.chars().next());
    if here.is_none_or(char::is_whitespace)
        && let Some((i, _)) = offsets
            .text
            .get(..at)
            .and_then(|s| s.char_indices().rev().find(|(_, c)| !c.is_whitespace()))
    {
        at = i;
    }
    let end = offsets
        .text
        .get(at..)
        .and_then(|s| s.chars().next())
        .map_or(at, |c| at + c.len_utf8());
    let span = Span::new(file, at, end);
    if e.info().contains("recursion limit") {
        return Diagnostic::new(Code::InputLimit, span, format!("nesting deeper than the parser's limit ({})", e.info()))
            .help("svcintent bounds nesting, aliases and size so that no input can exhaust memory or time");
    }
    Diagnostic::new(
        Code::YamlSyntax,
        span,
        format!("invalid YAML: {}", e.info()),
    )
    .help("check indentation, colons after keys and matching quotes or brackets")
}

/// Parses one file. Returns `None` when it could not be parsed (diagnostics say why).
pub fn parse_file(file: FileId, source: &SourceFile, diags: &mut Diagnostics) -> Option<Node> {
    let text = source.text.as_str();
    let mut b = Builder {
        file,
        offsets: Offsets {
            text,
            ascii: text.is_ascii(),
            cursor: (0, 0),
        },
        stack: Vec::new(),
        anchors: BTreeMap::new(),
        nodes: 0,
        root: None,
        documents: 0,
        diags: Vec::new(),
        fatal: false,
    };
    let mut parser = Parser::new_from_str(text).keep_tags(true);
    let mut ok = true;
    while let Some(item) = parser.next_event() {
        match item {
            Ok((ev, span)) => {
                b.event(ev, span);
                if b.fatal {
                    ok = false;
                    break;
                }
            }
            Err(e) => {
                let mut d = syntax_error(file, &mut b.offsets, &e);
                // A flow collection still open where the parser gave up is most often the
                // mistake (a missing `]` or `}`): show where it was opened.
                let open_flow = b.stack.iter().rev().find_map(|frame| {
                    let start = match frame {
                        Frame::Seq { start, .. } | Frame::Map { start, .. } => *start,
                    };
                    let opener = text.get(start..start + 1)?;
                    matches!(opener, "[" | "{").then_some((start, opener))
                });
                if let Some((start, opener)) = open_flow
                    && d.primary.span.start as usize != start
                {
                    let closer = if opener == "[" { "]" } else { "}" };
                    d = d.with_secondary(
                        Span::new(file, start, start + 1),
                        format!("this `{opener}` has no matching `{closer}`"),
                    );
                }
                b.diags.push(d);
                ok = false;
                break;
            }
        }
    }
    diags.extend(b.diags);
    if !ok {
        return None;
    }
    Some(b.root.unwrap_or_else(|| Node::null(Span::new(file, 0, 0))))
}
