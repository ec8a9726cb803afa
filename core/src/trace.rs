//! Where each resolved value came from: the effective settings of a service, each line
//! annotated with the file, line and layer (service, template, defaults) that set it.
//! Served by the `trace` request (`svcintent trace SERVICE`).

use std::fmt::Write as _;

use crate::diagnostic::Diagnostics;
use crate::parse::{Node, Value, parse_all};
use crate::resolve::{Def, Resolved, resolve};
use crate::source::{Sources, Span};

fn contains(outer: &Node, span: Span) -> bool {
    outer.span.file == span.file && outer.span.start <= span.start && span.end <= outer.span.end
}

fn layer(r: &Resolved, service: &str, span: Span) -> String {
    if let Some(s) = r.services.get(service)
        && contains(&s.def.node, span)
    {
        return "service".to_owned();
    }
    let in_def = |d: &Def| contains(&d.node, span);
    if let Some((name, _)) = r.templates.iter().find(|(_, d)| in_def(d)) {
        return format!("template {name}");
    }
    if let Some(d) = &r.defaults {
        for mode in ["haproxy", "anycast"] {
            if d.node.get(mode).is_some_and(|e| contains(&e.value, span)) {
                return format!("defaults.{mode}");
            }
        }
        if in_def(d) {
            return "defaults".to_owned();
        }
    }
    "?".to_owned()
}

fn scalar(n: &Node) -> String {
    match &n.value {
        Value::Null => "~".to_owned(),
        Value::Scalar(s) => serde_json::to_string(&s.text).unwrap_or_default(),
        Value::Seq(items) => format!(
            "[{}]",
            items.iter().map(scalar).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(entries) => {
            format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|e| format!("{}: {}", e.key, scalar(&e.value)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

fn walk(
    out: &mut String,
    sources: &Sources,
    r: &Resolved,
    service: &str,
    node: &Node,
    depth: usize,
) {
    for e in node.entries() {
        let indent = "  ".repeat(depth);
        let loc = sources.locate(e.key_span);
        let origin = format!(
            "{}:{}:{} ({})",
            loc.file,
            loc.line,
            loc.column,
            layer(r, service, e.key_span)
        );
        match &e.value.value {
            Value::Map(_) => {
                let _ = writeln!(out, "{indent}{}:", e.key);
                walk(out, sources, r, service, &e.value, depth + 1);
            }
            _ => {
                let line = format!("{indent}{}: {}", e.key, scalar(&e.value));
                let _ = writeln!(out, "{line:<60} # {origin}");
            }
        }
    }
}

/// The effective settings of `service` with the origin of each value, or `None` when the
/// service is not defined (or the site does not parse).
pub fn trace_service(sources: &Sources, service: &str) -> Option<String> {
    let mut diags = Diagnostics::default();
    let docs = parse_all(sources, &mut diags);
    let r = resolve(sources, &docs, &mut diags);
    let s = r.services.get(service)?;
    let mut out = String::new();
    let _ = writeln!(out, "{service}:");
    if !s.chain.is_empty() {
        let _ = writeln!(
            out,
            "  # extends (applied in this order): {}",
            s.chain.join(", ")
        );
    }
    walk(&mut out, sources, &r, service, &s.effective, 1);
    Some(out)
}
