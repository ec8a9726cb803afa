//! The spanned YAML tree every later stage reads. serde_yaml keeps no spans for values, so the
//! parser builds this tree from located events: every node, and every mapping key, knows the
//! exact byte range it came from, and keeps it through merging (`extends`, defaults), so a
//! diagnostic about an inherited value points at the template line that set it.
//!
//! Collections are shared (`Rc`): cloning a node copies no children, so inheritance can hand
//! the same template subtree to every service that uses it. A tree is changed only through
//! [`Rc::make_mut`], which copies a collection the moment it is shared, so no change made
//! through one owner is ever seen through another.

use std::rc::Rc;

use crate::source::Span;

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unquoted: subject to YAML's type resolution (`true`, `80`, `null`).
    Plain,
    /// Single- or double-quoted, or a block scalar: always a string.
    Quoted,
}

/// A scalar as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    /// The scalar's value after YAML unescaping.
    pub text: String,
    /// How it was written.
    pub style: Style,
}

/// One mapping entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key (always a scalar in accepted input).
    pub key: String,
    /// Where the key is.
    pub key_span: Span,
    /// The value.
    pub value: Node,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// A scalar.
    Scalar(Scalar),
    /// A sequence.
    Seq(Rc<Vec<Node>>),
    /// A mapping, in document order, keys unique.
    Map(Rc<Vec<Entry>>),
}

/// A located YAML value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it is. For collections, from the opening token to the last child.
    pub span: Span,
}

impl Node {
    /// A null node at `span`.
    pub fn null(span: Span) -> Self {
        Node {
            value: Value::Null,
            span,
        }
    }

    /// An empty mapping at `span`.
    pub fn empty_map(span: Span) -> Self {
        Node {
            value: Value::Map(Rc::default()),
            span,
        }
    }

    /// Looks up a mapping entry.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The entries of a mapping.
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// Number of nodes in this tree (itself included).
    pub fn size(&self) -> usize {
        1 + match &self.value {
            Value::Null | Value::Scalar(_) => 0,
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|e| e.value.size()).sum(),
        }
    }

    /// The span to underline for "this value": a scalar whole, a collection only its
    /// first line (so carets stay readable).
    pub fn head_span(&self, text: &str) -> Span {
        match self.value {
            Value::Seq(_) | Value::Map(_) => {
                let start = self.span.start as usize;
                let line_end = text
                    .get(start..self.span.end as usize)
                    .and_then(|s| s.find('\n'))
                    .map_or(self.span.end as usize, |i| start + i);
                let trimmed = text.get(start..line_end).map_or(0, |s| s.trim_end().len());
                // At least one character where there is one; never past the end of the file
                // (a collection whose only item is empty at the end of the file starts there).
                let end = (start + trimmed.max(1).min(line_end - start + 1))
                    .min(text.len())
                    .max(start);
                Span::new(self.span.file, start, end)
            }
            _ => self.span,
        }
    }

    /// A short word for the kind of value, for messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar(s) if s.style == Style::Quoted => "string",
            Value::Scalar(s) => match s.text.as_str() {
                "true" | "false" | "True" | "False" | "TRUE" | "FALSE" => "boolean",
                t if t.parse::<i64>().is_ok() => "integer",
                t if t.parse::<f64>().is_ok() => "number",
                _ => "string",
            },
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }
}
