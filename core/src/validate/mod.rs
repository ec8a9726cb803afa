//! Semantic checks over the extracted intent: references, addresses, modes, operations.
//! Each submodule holds one family of checks; every check locates its finding at the exact
//! YAML node through [`Locator`], which searches the resolved (merged) trees, so a value
//! inherited from a template is reported at the template line.

mod addresses;
mod modes;
mod operations;
mod references;
pub mod strings;

use crate::diagnostic::Diagnostics;
use crate::model::Intent;
use crate::model::unknown::Unknowns;
use crate::parse::{Node, Value};
use crate::resolve::Resolved;
use crate::source::{FileId, Span};

/// Runs every semantic check. A check that depends on something `unknown` says nothing (see
/// [`crate::model::unknown`]): the error that made it unknown is already reported.
pub fn validate(intent: &Intent, resolved: &Resolved, unknown: &Unknowns, diags: &mut Diagnostics) {
    let at = Locator { r: resolved };
    let announcers = crate::plan::Announcers::new(intent);
    references::check(intent, &announcers, unknown, &at, diags);
    addresses::check(intent, &announcers, unknown, &at, diags);
    modes::check(intent, unknown, &at, diags);
    operations::check(intent, &announcers, unknown, &at, diags);
}

/// Finds the span of a value in the resolved trees.
pub(crate) struct Locator<'a> {
    r: &'a Resolved,
}

fn scalar_text(n: &Node) -> Option<&str> {
    match &n.value {
        Value::Scalar(s) => Some(&s.text),
        _ => None,
    }
}

impl Locator<'_> {
    fn fallback(&self) -> Span {
        self.r
            .site
            .as_ref()
            .map_or(Span::new(FileId(0), 0, 0), |d| d.key_span)
    }

    /// A field of `site:` (dotted path), or the `site:` key.
    pub fn site_field(&self, path: &[&str]) -> Span {
        let Some(def) = &self.r.site else {
            return self.fallback();
        };
        let mut node = &def.node;
        let mut span = def.key_span;
        for key in path {
            match node.get(key) {
                Some(e) => {
                    span = e.key_span;
                    node = &e.value;
                }
                None => return span,
            }
        }
        span
    }

    /// The name of a service.
    pub fn service(&self, name: &str) -> Span {
        self.r
            .services
            .get(name)
            .map_or_else(|| self.fallback(), |s| s.def.key_span)
    }

    /// The key of a service field (wherever it was set: service, template or defaults).
    pub fn service_field(&self, name: &str, key: &str) -> Span {
        self.r
            .services
            .get(name)
            .and_then(|s| s.effective.get(key))
            .map_or_else(|| self.service(name), |e| e.key_span)
    }

    /// A service field's value node.
    fn service_value(&self, name: &str, key: &str) -> Option<&Node> {
        self.r
            .services
            .get(name)
            .and_then(|s| s.effective.get(key))
            .map(|e| &e.value)
    }

    /// The list item of a service field matching `pred`, or the field's key.
    pub fn service_item(&self, name: &str, key: &str, pred: impl Fn(&str) -> bool) -> Span {
        let found = self
            .service_value(name, key)
            .and_then(|list| match &list.value {
                Value::Seq(items) => items
                    .iter()
                    .find(|n| item_text(n).is_some_and(&pred))
                    .map(|n| n.span),
                _ => None,
            });
        found.unwrap_or_else(|| self.service_field(name, key))
    }

    /// A nested field of a service (`check.http`), or the closest enclosing key.
    pub fn service_path(&self, name: &str, path: &[&str]) -> Span {
        let Some(svc) = self.r.services.get(name) else {
            return self.fallback();
        };
        let mut node = &svc.effective;
        let mut span = svc.def.key_span;
        for key in path {
            match node.get(key) {
                Some(e) => {
                    span = e.key_span;
                    node = &e.value;
                }
                None => return span,
            }
        }
        span
    }

    /// The name of a host.
    pub fn host(&self, name: &str) -> Span {
        self.r
            .hosts
            .get(name)
            .map_or_else(|| self.fallback(), |d| d.key_span)
    }

    /// The value of a host field, or the host name.
    pub fn host_value(&self, name: &str, key: &str) -> Span {
        self.r
            .hosts
            .get(name)
            .and_then(|d| d.node.get(key))
            .map_or_else(|| self.host(name), |e| e.value.span)
    }
}

impl Locator<'_> {
    /// The host names in a service's `drain:` list, as written.
    pub fn drain_list(&self, name: &str) -> Vec<String> {
        match self.service_value(name, "drain").map(|n| &n.value) {
            Some(Value::Seq(items)) => items
                .iter()
                .filter_map(scalar_text)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The text that identifies a list item: a scalar's text, or `host:` of a backend mapping.
fn item_text(n: &Node) -> Option<&str> {
    scalar_text(n).or_else(|| n.get("host").and_then(|e| scalar_text(&e.value)))
}
