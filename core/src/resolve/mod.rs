//! Merging files, then inheritance: `defaults` → per-mode defaults → `extends` templates (in
//! order, later wins) → the service itself.
//!
//! Merge semantics (documented in `docs/format.md`):
//! - mappings merge key by key, recursively;
//! - scalars and lists from the more specific layer replace the inherited ones;
//! - `key+: [...]` appends to the inherited list instead of replacing it;
//! - `key: ~` (null) removes an inherited value, restoring the built-in default.
//!
//! Nodes keep their spans through merging, so every resolved value still points at the line
//! (in a template, in defaults or in the service) that set it.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::parse::{Document, Entry, Node, Value};
use crate::schema;
use crate::source::{Sources, Span};

/// A named definition (host, template, service).
#[derive(Debug, Clone)]
pub struct Def {
    /// Where the name is written.
    pub key_span: Span,
    /// Its value.
    pub node: Node,
}

/// A service after inheritance.
#[derive(Debug, Clone)]
pub struct ResolvedService {
    /// The service as written.
    pub def: Def,
    /// The merged value (defaults, templates, service).
    pub effective: Node,
    /// Templates it inherits from, transitively, in application order.
    pub chain: Vec<String>,
    /// Its `extends` failed somewhere along the chain (an unknown template, a cycle, too deep):
    /// the merged value lacks layers, so the service is unknown (see `model::unknown`).
    pub extends_failed: bool,
}

/// The merged site.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// `site:`.
    pub site: Option<Def>,
    /// `defaults:`.
    pub defaults: Option<Def>,
    /// Hosts.
    pub hosts: BTreeMap<String, Def>,
    /// Templates as written.
    pub templates: BTreeMap<String, Def>,
    /// Services, resolved.
    pub services: BTreeMap<String, ResolvedService>,
    /// Templates some service uses.
    pub used_templates: std::collections::BTreeSet<String>,
    /// Some file could not be parsed: findings about what is missing may be spurious.
    pub incomplete: bool,
    /// The top-level sections that the files which could not be parsed may hold: their
    /// entries may be missing here (see `model::unknown`).
    pub unknown_sections: std::collections::BTreeSet<&'static str>,
}

fn insert_unique(
    map: &mut BTreeMap<String, Def>,
    kind: &str,
    key: &str,
    def: Def,
    diags: &mut Diagnostics,
) {
    if let Some(first) = map.get(key) {
        diags.push(
            Diagnostic::new(
                Code::DuplicateDefinition,
                def.key_span,
                format!("{kind} `{key}` is defined twice"),
            )
            .label("defined again here")
            .with_secondary(first.key_span, "first defined here")
            .help(format!(
                "each {kind} is defined once in the whole site; remove or rename one"
            )),
        );
        return;
    }
    map.insert(key.to_owned(), def);
}

/// Merges all files and resolves every service's inheritance.
pub fn resolve(sources: &Sources, docs: &[Document], diags: &mut Diagnostics) -> Resolved {
    let mut r = Resolved::default();
    let mut service_defs: BTreeMap<String, Def> = BTreeMap::new();
    for doc in docs {
        let Some(root) = &doc.root else {
            r.incomplete = true;
            let text = sources.get(doc.file).map_or("", |f| f.text.as_str());
            r.unknown_sections.extend(sections_written(text));
            continue;
        };
        match &root.value {
            Value::Null => continue,
            Value::Map(_) => {}
            _ => {
                let text = sources.get(doc.file).map_or("", |f| f.text.as_str());
                diags.push(
                    Diagnostic::new(Code::WrongType, root.head_span(text), format!("expected a mapping at the top of the file, found a {}", root.kind_name()))
                        .help("a site file is a mapping with keys site, defaults, hosts, templates, services"),
                );
                continue;
            }
        }
        for entry in root.entries() {
            let def = Def {
                key_span: entry.key_span,
                node: entry.value.clone(),
            };
            match entry.key.as_str() {
                "site" | "defaults" => {
                    let slot = if entry.key == "site" {
                        &mut r.site
                    } else {
                        &mut r.defaults
                    };
                    if let Some(first) = slot {
                        diags.push(
                            Diagnostic::new(
                                Code::DuplicateDefinition,
                                entry.key_span,
                                format!("`{}` is defined twice", entry.key),
                            )
                            .label("defined again here")
                            .with_secondary(first.key_span, "first defined here")
                            .help(format!(
                                "keep one `{}:` section for the whole site",
                                entry.key
                            )),
                        );
                    } else {
                        *slot = Some(def);
                    }
                }
                "hosts" | "templates" | "services" => {
                    let kind = &entry.key[..entry.key.len() - 1];
                    match &entry.value.value {
                        Value::Map(items) => {
                            for item in items.iter() {
                                let def = Def {
                                    key_span: item.key_span,
                                    node: item.value.clone(),
                                };
                                let map = match entry.key.as_str() {
                                    "hosts" => &mut r.hosts,
                                    "templates" => &mut r.templates,
                                    _ => &mut service_defs,
                                };
                                insert_unique(map, kind, &item.key, def, diags);
                            }
                        }
                        Value::Null => {}
                        _ => {
                            let text = sources.get(doc.file).map_or("", |f| f.text.as_str());
                            diags.push(Diagnostic::new(
                                Code::WrongType,
                                entry.value.head_span(text),
                                format!(
                                    "`{}` must be a mapping of names to definitions, found a {}",
                                    entry.key,
                                    entry.value.kind_name()
                                ),
                            ));
                        }
                    }
                }
                other => {
                    let mut d = Diagnostic::new(
                        Code::UnknownKey,
                        entry.key_span,
                        format!("unknown top-level key `{other}`"),
                    );
                    d = match did_you_mean(other, schema::names(schema::TOP)) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => {
                            d.help("top-level keys are site, defaults, hosts, templates, services")
                        }
                    };
                    diags.push(d);
                }
            }
        }
    }

    report_cycles(&r.templates, diags);
    let templates_may_be_missing = r.unknown_sections.contains("templates");
    for (name, def) in &service_defs {
        let (chain, extends_failed) =
            template_chain(&def.node, &r.templates, templates_may_be_missing, diags);
        r.used_templates.extend(chain.iter().cloned());
        let effective = effective_service(&r, &def.node, &chain);
        r.services.insert(
            name.clone(),
            ResolvedService {
                def: def.clone(),
                effective,
                chain,
                extends_failed,
            },
        );
    }
    r
}

/// The top-level sections a file that could not be parsed may hold, read from its raw text:
/// every line that starts in the first column with one of the five keys. A line that starts
/// in the first column with anything else that could open a mapping (a flow collection, a
/// quoted key) makes every section possible.
fn sections_written(text: &str) -> Vec<&'static str> {
    const ALL: [&str; 5] = ["site", "defaults", "hosts", "templates", "services"];
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut found = Vec::new();
    for line in text.lines() {
        let Some(first) = line.chars().next() else {
            continue;
        };
        if first.is_whitespace() || matches!(first, '#' | '%') || line.starts_with("---") {
            continue;
        }
        if line.starts_with("...") {
            continue;
        }
        let key = line.split(':').next().unwrap_or("").trim_end();
        match ALL.iter().find(|k| **k == key) {
            Some(k) => found.push(*k),
            None if first.is_ascii_alphanumeric() || first == '_' => {}
            // `{`, `[`, `?`, a quote, an anchor or tag: the file's shape is not readable
            // line by line.
            None => return ALL.to_vec(),
        }
    }
    found
}

/// Names listed in an `extends` value, with their spans.
pub fn extends_of(node: &Node) -> Vec<(String, Span)> {
    let Some(entry) = node.get("extends") else {
        return Vec::new();
    };
    match &entry.value.value {
        Value::Scalar(s) => vec![(s.text.clone(), entry.value.span)],
        Value::Seq(items) => items
            .iter()
            .filter_map(|n| match &n.value {
                Value::Scalar(s) => Some((s.text.clone(), n.span)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The templates a definition inherits from, transitively, in application order (most
/// general first), and whether any `extends` along the way failed. Unknown templates and
/// excessive depth are reported here (an unknown template only when no file that failed to
/// parse may define it); cycles are reported once by [`report_cycles`] and only skipped here.
fn template_chain(
    node: &Node,
    templates: &BTreeMap<String, Def>,
    templates_may_be_missing: bool,
    diags: &mut Diagnostics,
) -> (Vec<String>, bool) {
    let mut walk = Walk {
        templates,
        templates_may_be_missing,
        path: Vec::new(),
        order: Vec::new(),
        failed: false,
    };
    walk.visit(node, diags);
    (walk.order, walk.failed)
}

struct Walk<'a> {
    templates: &'a BTreeMap<String, Def>,
    templates_may_be_missing: bool,
    path: Vec<String>,
    order: Vec<String>,
    failed: bool,
}

impl Walk<'_> {
    fn visit(&mut self, node: &Node, diags: &mut Diagnostics) {
        for (name, span) in extends_of(node) {
            if self.path.contains(&name) {
                // A cycle: reported once for the whole site by `report_cycles`.
                self.failed = true;
                continue;
            }
            let Some(def) = self.templates.get(&name) else {
                self.failed = true;
                if !self.templates_may_be_missing {
                    diags.push(unknown_template(&name, span, self.templates));
                }
                continue;
            };
            if self.path.len() >= 32 {
                self.failed = true;
                diags.push(Diagnostic::new(
                    Code::InputLimit,
                    span,
                    "`extends` nests deeper than 32 templates",
                ));
                continue;
            }
            self.path.push(name.clone());
            self.visit(&def.node, diags);
            self.path.pop();
            if !self.order.contains(&name) {
                self.order.push(name);
            }
        }
    }
}

fn unknown_template(name: &str, span: Span, templates: &BTreeMap<String, Def>) -> Diagnostic {
    let d = Diagnostic::new(
        Code::UnknownTemplate,
        span,
        format!("unknown template `{name}`"),
    );
    match did_you_mean(name, templates.keys().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None if templates.is_empty() => d.help("define it under `templates:`"),
        None => d.help(format!(
            "defined templates: {}",
            templates
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Reports every cycle of templates extending each other once (`SI022`), whether or not a
/// service uses it: at the `extends` entry of the member defined first in file order, naming
/// the whole chain from that member back to itself.
fn report_cycles(templates: &BTreeMap<String, Def>, diags: &mut Diagnostics) {
    let mut in_file_order: Vec<(&String, &Def)> = templates.iter().collect();
    crate::collect::sort_by(&mut in_file_order, |a, b| a.1.key_span.cmp(&b.1.key_span));
    let position = |name: &str| {
        in_file_order
            .iter()
            .position(|(n, _)| n.as_str() == name)
            .unwrap_or(usize::MAX)
    };
    let mut done: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut cycles: Vec<Vec<String>> = Vec::new();
    for (start, _) in &in_file_order {
        if done.contains(start.as_str()) {
            continue;
        }
        // Iterative depth-first search: (template, index of its next `extends` entry).
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        while let Some((name, next)) = stack.last().copied() {
            let targets = templates
                .get(name)
                .map(|d| extends_of(&d.node))
                .unwrap_or_default();
            let Some((target, _)) = targets.get(next) else {
                done.insert(name);
                stack.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            let Some((target_name, _)) = templates.get_key_value(target) else {
                continue;
            };
            if let Some(at) = stack.iter().position(|(n, _)| *n == target_name.as_str()) {
                let members: Vec<String> = stack
                    .get(at..)
                    .unwrap_or(&[])
                    .iter()
                    .map(|(n, _)| (*n).to_owned())
                    .collect();
                // The same cycle from another member is a rotation of it: keep one, starting
                // at the member first in file order.
                let first = members
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, n)| position(n))
                    .map_or(0, |(i, _)| i);
                let mut rotated = members.clone();
                rotated.rotate_left(first);
                if !cycles.contains(&rotated) {
                    cycles.push(rotated);
                }
            } else if !done.contains(target_name.as_str()) && stack.len() <= 64 {
                stack.push((target_name.as_str(), 0));
            }
        }
    }
    for cycle in cycles {
        let (Some(first), Some(second)) = (cycle.first(), cycle.get(1).or(cycle.first())) else {
            continue;
        };
        let Some(def) = templates.get(first) else {
            continue;
        };
        let span = extends_of(&def.node)
            .into_iter()
            .find(|(n, _)| n == second)
            .map_or(def.key_span, |(_, s)| s);
        let shown = cycle
            .iter()
            .chain(std::iter::once(first))
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" → ");
        diags.push(
            Diagnostic::new(
                Code::ExtendsCycle,
                span,
                format!("templates extend each other in a cycle: {shown}"),
            )
            .help("remove one `extends` so that inheritance forms a tree"),
        );
    }
}

/// Merges `over` onto `base` in place, following the documented semantics. Top-level keys of
/// `over` listed in `skip` (as written, `+` included) are left out, as if `over` lacked them.
///
/// Only the collections that change are copied: an inherited subtree that `over` does not
/// touch stays shared with the layer it came from.
pub fn merge_into(base: &mut Node, over: &Node, skip: &[&str]) {
    let (Value::Map(out), Value::Map(o)) = (&mut base.value, &over.value) else {
        // Anything but two mappings: the more specific value replaces the inherited one.
        *base = without_keys(over, skip);
        return;
    };
    let out = Rc::make_mut(out);
    for e in o.iter().filter(|e| !skip.contains(&e.key.as_str())) {
        let (key, append) = match e.key.strip_suffix('+') {
            Some(k) if !k.is_empty() => (k, true),
            _ => (e.key.as_str(), false),
        };
        let existing = out.iter().position(|x| x.key == key);
        match (existing, &e.value.value) {
            (Some(i), Value::Null) if !append => {
                out.remove(i);
            }
            (Some(i), _) => {
                if let Some(slot) = out.get_mut(i) {
                    // The key stays; it is now located where `over` sets it.
                    slot.key_span = e.key_span;
                    if append {
                        append_into(&mut slot.value, &e.value);
                    } else {
                        merge_into(&mut slot.value, &e.value, &[]);
                    }
                }
            }
            (None, Value::Null) if !append => {}
            (None, _) => out.push(Entry {
                key: key.to_owned(),
                key_span: e.key_span,
                value: e.value.clone(),
            }),
        }
    }
    base.span = over.span;
}

/// `key+:`: appends `over`'s items to the inherited list; anything else replaces it.
fn append_into(base: &mut Node, over: &Node) {
    match (&mut base.value, &over.value) {
        (Value::Seq(b), Value::Seq(o)) => {
            Rc::make_mut(b).extend(o.iter().cloned());
            base.span = over.span;
        }
        _ => *base = over.clone(),
    }
}

/// `node` without the top-level keys in `skip` (compared as written).
fn without_keys(node: &Node, skip: &[&str]) -> Node {
    match &node.value {
        Value::Map(entries) if !skip.is_empty() => Node {
            value: Value::Map(Rc::new(
                entries
                    .iter()
                    .filter(|e| !skip.contains(&e.key.as_str()))
                    .cloned()
                    .collect(),
            )),
            span: node.span,
        },
        _ => node.clone(),
    }
}

fn mode_of(node: &Node) -> Option<&str> {
    match node.get("balancing").map(|e| &e.value.value) {
        Some(Value::Scalar(s)) => Some(&s.text),
        _ => None,
    }
}

/// Folds the layers in order: defaults, defaults.<mode>, each template (most general first),
/// the service. Each layer merges onto the result so far, so `key: ~` and `key+:` act on
/// everything inherited before it, defaults included. Keys that only steer inheritance
/// (`extends`) or hold the per-mode blocks of `defaults` are not merged.
fn effective_service(r: &Resolved, own: &Node, chain: &[String]) -> Node {
    const COMMON_SKIP: &[&str] = &["haproxy", "anycast", "extends"];
    const LAYER_SKIP: &[&str] = &["extends"];
    let common = r.defaults.as_ref().map(|d| &d.node);
    let templates: Vec<&Node> = chain
        .iter()
        .filter_map(|n| r.templates.get(n))
        .map(|t| &t.node)
        .collect();
    // The mode decides which per-mode defaults apply: the most specific `balancing` wins.
    let mode = std::iter::once(own)
        .chain(templates.iter().rev().copied())
        .chain(common)
        .find_map(mode_of)
        .unwrap_or("haproxy");
    let per_mode = common.and_then(|d| d.get(mode)).map(|e| &e.value);
    let mut result = Node::empty_map(own.span);
    if let Some(common) = common {
        merge_into(&mut result, common, COMMON_SKIP);
    }
    for layer in per_mode
        .into_iter()
        .chain(templates)
        .chain(std::iter::once(own))
    {
        merge_into(&mut result, layer, LAYER_SKIP);
    }
    // The result is located at the service's own mapping.
    result.span = own.span;
    result
}
