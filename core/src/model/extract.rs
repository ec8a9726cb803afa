//! Typed extraction: resolved [`Node`]s → [`Intent`], reporting every structural problem
//! (unknown keys with "did you mean", wrong types, YAML 1.1 traps, missing fields, values out
//! of range, unsafe strings) at the exact node. Never stops at the first problem: a bad field
//! is reported and skipped (or defaulted), and extraction goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;

use ipnet::IpNet;

use super::types::*;
use super::unknown::{Unknowns, WHOLE};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::parse::{Entry, Node, Style, Value};
use crate::resolve::{Def, Resolved};
use crate::schema::{self, Applies, Field};
use crate::source::{Sources, Span};
use crate::validate::strings;

/// Extraction context: where diagnostics go and where spans resolve.
struct Cx<'a> {
    sources: &'a Sources,
    diags: &'a mut Diagnostics,
    /// Errors pushed so far: a field whose reading pushed one is unknown.
    errors: usize,
    /// The unknown fields of the entity being read (see [`Cx::track`]).
    unknown: BTreeSet<String>,
    /// A file that failed to parse may hold `defaults:`: a service field that no parsed layer
    /// sets may come from there, so it is unknown rather than missing.
    absent_is_unknown: bool,
    /// Fields that an unknown key probably misspells, by the span of their mapping: such a
    /// field is unknown, not missing.
    misspelled: BTreeSet<(Span, String)>,
}

const YAML11_BOOLS: &[&str] = &[
    "yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF", "Y",
    "N",
];

/// A mapping whose keys were checked against a field table.
#[derive(Clone, Copy)]
struct Obj<'n> {
    node: &'n Node,
}

impl<'n> Obj<'n> {
    /// The value of `key`, treating explicit null as absent.
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.node
            .get(key)
            .map(|e| &e.value)
            .filter(|n| !matches!(n.value, Value::Null))
    }

    fn key_span(&self, key: &str) -> Option<Span> {
        self.node.get(key).map(|e| e.key_span)
    }
}

impl Cx<'_> {
    fn new<'a>(sources: &'a Sources, diags: &'a mut Diagnostics) -> Cx<'a> {
        Cx {
            sources,
            diags,
            errors: 0,
            unknown: BTreeSet::new(),
            absent_is_unknown: false,
            misspelled: BTreeSet::new(),
        }
    }

    fn push(&mut self, d: Diagnostic) {
        if d.is_error() {
            self.errors += 1;
        }
        self.diags.push(d);
    }

    /// Reads a field with `read`; when that reports an error, the field is unknown: later
    /// checks must not take the default (or the partial value) read in its place.
    fn track<T>(&mut self, field: &str, read: impl FnOnce(&mut Self) -> T) -> T {
        let before = self.errors;
        let value = read(self);
        if self.errors > before {
            self.unknown.insert(field.to_owned());
        }
        value
    }

    fn head(&self, n: &Node) -> Span {
        let text = self
            .sources
            .get(n.span.file)
            .map_or("", |f| f.text.as_str());
        n.head_span(text)
    }

    fn wrong_type(&mut self, n: &Node, expected: &str) {
        let found = n.kind_name();
        let mut d = Diagnostic::new(
            Code::WrongType,
            self.head(n),
            format!("expected {expected}, found a {found}"),
        );
        if let Value::Scalar(s) = &n.value
            && s.style == Style::Quoted
            && (expected.contains("integer")
                || expected.contains("boolean")
                || expected.contains("port"))
        {
            d = d.help("remove the quotes: quoted values are always strings");
        }
        self.push(d);
    }

    /// Checks `n` is a mapping and reports unknown keys (with "did you mean").
    fn object<'n>(&mut self, n: &'n Node, fields: &[Field], what: &str) -> Option<Obj<'n>> {
        match &n.value {
            Value::Map(entries) => {
                for e in entries.iter() {
                    let key = e.key.strip_suffix('+').unwrap_or(&e.key);
                    if key != e.key {
                        let field = fields.iter().find(|f| f.name == key);
                        let is_list = field.is_some_and(|f| matches!(f.ty, schema::Ty::List(_)));
                        let mergeable = is_mergeable(fields);
                        if field.is_some() && !(is_list && mergeable) {
                            self.push(
                                Diagnostic::new(Code::WrongType, e.key_span, format!("`{}` appends to an inherited list, but `{key}` {}", e.key, if is_list { "is not inherited here" } else { "is not a list" }))
                                    .help(format!("write `{key}:`; `+` works on list fields of services, templates and defaults")),
                            );
                            continue;
                        }
                    }
                    if !fields.iter().any(|f| f.name == key) {
                        let mut d = Diagnostic::new(
                            Code::UnknownKey,
                            e.key_span,
                            format!("unknown key `{}` in {what}", e.key),
                        );
                        let meant = did_you_mean(key, schema::names(fields));
                        if let Some(field) = meant {
                            // The key meant to set `field`: its value is unknown, not absent.
                            self.misspelled.insert((n.span, field.to_owned()));
                            let path = match what.split_once(' ') {
                                // A service or host itself ("service `www`"), or `site:`.
                                Some(_) => field.to_owned(),
                                None if what == "site" => field.to_owned(),
                                None => format!("{what}.{field}"),
                            };
                            self.unknown.insert(path);
                        }
                        d = match (self.comma_in_flow_mapping(n, entries, e), meant) {
                            (Some(hint), _) => d.help(hint),
                            (None, Some(s)) => d.help(format!("did you mean `{s}`?")),
                            (None, None) => d.help(format!(
                                "known keys: {}",
                                fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                            )),
                        };
                        self.push(d);
                    }
                }
                Some(Obj { node: n })
            }
            Value::Null => Some(Obj { node: n }),
            _ => {
                self.wrong_type(n, &format!("a mapping ({what})"));
                None
            }
        }
    }

    /// An unknown key right after a plain scalar in a flow mapping is most often the rest of
    /// that scalar: in `{ description: Old box, backup only }` the comma ends the value. The
    /// hint quotes the whole text.
    fn comma_in_flow_mapping(&self, map: &Node, entries: &[Entry], e: &Entry) -> Option<String> {
        let text = self.sources.get(e.key_span.file)?.text.as_str();
        let i = entries.iter().position(|x| std::ptr::eq(x, e))?;
        let prev = entries.get(i.checked_sub(1)?)?;
        let Value::Scalar(s) = &prev.value.value else {
            return None;
        };
        let same_file = prev.value.span.file == e.key_span.file && map.span.file == e.key_span.file;
        if s.style != Style::Plain || !same_file {
            return None;
        }
        let opens_flow = text.get(map.span.start as usize..)?.starts_with('{');
        let between = text.get(prev.value.span.end as usize..e.key_span.start as usize)?;
        if !opens_flow || between.trim() != "," {
            return None;
        }
        let end = if matches!(e.value.value, Value::Null) || e.value.span.file != e.key_span.file {
            e.key_span.end
        } else {
            e.value.span.end.max(e.key_span.end)
        };
        let whole = text.get(prev.value.span.start as usize..end as usize)?;
        Some(format!(
            "in a flow mapping `{{ ... }}` a comma ends a plain value, so `{}: {}` stopped at the comma; if the comma belongs to the value, quote it: `{}: \"{}\"`",
            prev.key, s.text, prev.key, whole
        ))
    }

    /// Whether an unknown key of `obj` probably misspells `key` (reported as SI010 already).
    fn is_misspelled(&self, obj: Obj<'_>, key: &str) -> bool {
        self.misspelled.contains(&(obj.node.span, key.to_owned()))
    }

    /// A required field of a block that is taken as written (`site`, a host, a backend).
    fn require<'n>(&mut self, obj: Obj<'n>, at: Span, key: &str, what: &str) -> Option<&'n Node> {
        let v = obj.get(key);
        if v.is_none() && !self.is_misspelled(obj, key) {
            self.push(
                Diagnostic::new(Code::MissingField, at, format!("{what} has no `{key}`"))
                    .label(format!("`{key}` is required here"))
                    .help(format!("add `{key}:`")),
            );
        }
        v
    }

    /// A required field of a service, which it may inherit. Not reported when the field is
    /// unknown (a file that failed to parse may hold the `defaults:` that set it).
    fn require_inherited<'n>(
        &mut self,
        obj: Obj<'n>,
        at: Span,
        key: &str,
        what: &str,
    ) -> Option<&'n Node> {
        let v = obj.get(key);
        if v.is_none() && !self.absent_is_unknown && !self.is_misspelled(obj, key) {
            self.push(
                Diagnostic::new(Code::MissingField, at, format!("{what} has no `{key}`"))
                    .label(format!("`{key}` is required here"))
                    .help(format!(
                        "add `{key}:` (directly, or through a template or defaults)"
                    )),
            );
        }
        v
    }

    /// A scalar's text, for string-typed fields. Plain booleans are refused; YAML 1.1 boolean
    /// words get a warning, since other YAML tools read them as booleans.
    fn scalar<'n>(&mut self, n: &'n Node, expected: &str) -> Option<&'n str> {
        match &n.value {
            Value::Scalar(s) => {
                if s.style == Style::Plain {
                    if matches!(
                        s.text.as_str(),
                        "true" | "false" | "True" | "False" | "TRUE" | "FALSE"
                    ) {
                        self.wrong_type(n, expected);
                        return None;
                    }
                    if YAML11_BOOLS.contains(&s.text.as_str()) {
                        self.push(
                            Diagnostic::new(
                                Code::Yaml11Trap,
                                n.span,
                                format!(
                                    "`{}` is a boolean to YAML 1.1 tools but a string here",
                                    s.text
                                ),
                            )
                            .help(format!(
                                "quote it (\"{}\") so that every tool reads the same string",
                                s.text
                            )),
                        );
                    }
                }
                Some(s.text.as_str())
            }
            _ => {
                self.wrong_type(n, expected);
                None
            }
        }
    }

    fn checked(
        &mut self,
        n: &Node,
        what: &str,
        check: fn(&str) -> Result<(), String>,
        code: Code,
    ) -> Option<String> {
        let s = self.scalar(n, what)?;
        match check(s) {
            Ok(()) => Some(s.to_owned()),
            Err(why) => {
                let unsafe_char = why.starts_with("contains");
                let code = if unsafe_char && code != Code::InvalidName {
                    Code::UnsafeString
                } else {
                    code
                };
                let mut d = Diagnostic::new(code, n.span, format!("{what} {why}"));
                if code == Code::UnsafeString {
                    d = d.help(
                        "this string would be written into generated configs; remove the character",
                    );
                }
                self.push(d);
                None
            }
        }
    }

    fn ident(&mut self, n: &Node, what: &str) -> Option<String> {
        self.checked(n, what, strings::ident, Code::InvalidName)
    }

    fn int(&mut self, n: &Node, min: i64, max: i64, what: &str, code: Code) -> Option<i64> {
        let Value::Scalar(s) = &n.value else {
            self.wrong_type(n, &format!("an integer ({what})"));
            return None;
        };
        if s.style == Style::Quoted {
            self.wrong_type(n, &format!("an integer ({what})"));
            return None;
        }
        let digits = s.text.strip_prefix('+').unwrap_or(&s.text);
        let Ok(v) = digits.parse::<i64>() else {
            self.wrong_type(n, &format!("an integer ({what})"));
            return None;
        };
        if digits.len() > 1 && digits.starts_with('0') {
            self.push(
                Diagnostic::new(
                    Code::Yaml11Trap,
                    n.span,
                    format!(
                        "`{}` is octal to YAML 1.1 tools but decimal {v} here",
                        s.text
                    ),
                )
                .help(format!("write {v} without the leading zero")),
            );
        }
        if v < min || v > max {
            self.push(Diagnostic::new(
                code,
                n.span,
                format!("{what} {v} is out of range {min}..={max}"),
            ));
            return None;
        }
        Some(v)
    }

    fn boolean(&mut self, n: &Node, what: &str) -> Option<bool> {
        match &n.value {
            Value::Scalar(s) if s.style == Style::Plain => match s.text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                t if YAML11_BOOLS.contains(&t) => {
                    let meant = matches!(t.to_ascii_lowercase().as_str(), "yes" | "on" | "y");
                    self.push(
                        Diagnostic::new(
                            Code::WrongType,
                            n.span,
                            format!("`{t}` is not a boolean in YAML 1.2 ({what})"),
                        )
                        .help(format!(
                            "write `{meant}`: YAML 1.1 tools read `{t}` as {meant}, YAML 1.2 as a string"
                        )),
                    );
                    None
                }
                _ => {
                    self.wrong_type(n, &format!("a boolean ({what})"));
                    None
                }
            },
            _ => {
                self.wrong_type(n, &format!("a boolean ({what})"));
                None
            }
        }
    }

    fn duration_ms(&mut self, n: &Node, what: &str) -> Option<u32> {
        let Value::Scalar(s) = &n.value else {
            self.wrong_type(n, &format!("a duration ({what})"));
            return None;
        };
        let t = s.text.as_str();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let factor: u64 = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => 0,
        };
        let value = num.parse::<u64>().ok();
        match (value, factor) {
            (Some(v), f) if f > 0 => {
                let ms = v.saturating_mul(f);
                if ms == 0 || ms > 86_400_000 {
                    self.push(Diagnostic::new(
                        Code::InvalidDuration,
                        n.span,
                        format!("{what} `{t}` must be between 1ms and 24h"),
                    ));
                    None
                } else {
                    u32::try_from(ms).ok()
                }
            }
            _ => {
                let help = if unit.is_empty() && value.is_some() {
                    format!("add a unit: `{t}s` or `{t}ms`")
                } else {
                    "durations look like 500ms, 2s, 1m or 1h".to_owned()
                };
                self.push(
                    Diagnostic::new(
                        Code::InvalidDuration,
                        n.span,
                        format!("{what} `{t}` is not a duration"),
                    )
                    .help(help),
                );
                None
            }
        }
    }

    fn ip(&mut self, n: &Node, what: &str) -> Option<IpAddr> {
        let s = self.scalar(n, what)?;
        match s.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let help = if s.contains('/') {
                    "write the address without a prefix length"
                } else {
                    "write an IPv4 (192.0.2.1) or IPv6 (2001:db8::1) address"
                };
                self.push(
                    Diagnostic::new(
                        Code::InvalidAddress,
                        n.span,
                        format!("{what} `{s}` is not an IP address"),
                    )
                    .help(help),
                );
                None
            }
        }
    }

    fn ipv4(&mut self, n: &Node, what: &str) -> Option<Ipv4Addr> {
        match self.ip(n, what)? {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => {
                self.push(Diagnostic::new(
                    Code::InvalidAddress,
                    n.span,
                    format!("{what} must be an IPv4 address"),
                ));
                None
            }
        }
    }

    fn ipv6(&mut self, n: &Node, what: &str) -> Option<Ipv6Addr> {
        match self.ip(n, what)? {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => {
                self.push(Diagnostic::new(
                    Code::InvalidAddress,
                    n.span,
                    format!("{what} must be an IPv6 address"),
                ));
                None
            }
        }
    }

    fn net(&mut self, n: &Node, what: &str) -> Option<IpNet> {
        let s = self.scalar(n, what)?;
        let parsed = s
            .parse::<IpNet>()
            .ok()
            .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from));
        match parsed {
            Some(net) => {
                if net.trunc() != net {
                    self.push(
                        Diagnostic::new(
                            Code::PrefixHostBits,
                            n.span,
                            format!("{what} `{s}` has host bits set"),
                        )
                        .help(format!("did you mean `{}`?", net.trunc())),
                    );
                }
                Some(net.trunc())
            }
            None => {
                let too_long = s.split_once('/').and_then(|(addr, len)| {
                    let max = match addr.parse::<IpAddr>().ok()? {
                        IpAddr::V4(_) => 32,
                        IpAddr::V6(_) => 128,
                    };
                    let len = len.parse::<u32>().ok()?;
                    (len > max).then_some((len, max))
                });
                let d = match too_long {
                    Some((len, max)) => Diagnostic::new(
                        Code::InvalidAddress,
                        n.span,
                        format!(
                            "{what} `{s}` is not a prefix: /{len} is longer than {max}, the longest {} prefix",
                            if max == 32 { "IPv4" } else { "IPv6" }
                        ),
                    )
                    .help(format!("write a prefix length from 0 to {max}")),
                    None => Diagnostic::new(
                        Code::InvalidAddress,
                        n.span,
                        format!("{what} `{s}` is not a prefix"),
                    )
                    .help("write a prefix like 198.51.100.0/24 or 2001:db8::/32"),
                };
                self.push(d);
                None
            }
        }
    }

    fn port(&mut self, n: &Node, what: &str) -> Option<u16> {
        self.int(n, 1, 65535, what, Code::InvalidPort)
            .and_then(|v| u16::try_from(v).ok())
    }

    fn port_spec(&mut self, n: &Node) -> Option<Port> {
        if let Value::Scalar(s) = &n.value {
            if s.style == Style::Plain && s.text.parse::<i64>().is_ok() {
                return self.port(n, "port").map(|port| Port {
                    port,
                    proto: Proto::Tcp,
                });
            }
            let Some((num, proto)) = s.text.split_once('/') else {
                self.push(
                    Diagnostic::new(
                        Code::InvalidPort,
                        n.span,
                        format!("`{}` is not a port", s.text),
                    )
                    .help("write 443/tcp, 53/udp or 443"),
                );
                return None;
            };
            let proto = match proto {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                other => {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidPort,
                            n.span,
                            format!("unknown protocol `{other}`"),
                        )
                        .help("use tcp or udp"),
                    );
                    return None;
                }
            };
            return match num.parse::<u32>() {
                Ok(p) if (1..=65535).contains(&p) => {
                    u16::try_from(p).ok().map(|port| Port { port, proto })
                }
                Ok(p) => {
                    self.push(Diagnostic::new(
                        Code::InvalidPort,
                        n.span,
                        format!("port {p} is out of range 1..=65535"),
                    ));
                    None
                }
                Err(_) => {
                    self.push(Diagnostic::new(
                        Code::InvalidPort,
                        n.span,
                        format!("`{num}` is not a port number"),
                    ));
                    None
                }
            };
        }
        self.wrong_type(n, "a port like 443/tcp");
        None
    }

    fn word<'w>(&mut self, n: &Node, words: &[&'w str], what: &str) -> Option<&'w str> {
        let s = self.scalar(n, what)?;
        if let Some(w) = words.iter().find(|w| **w == s) {
            return Some(w);
        }
        let mut d = Diagnostic::new(
            Code::InvalidValue,
            n.span,
            format!("`{s}` is not a valid {what}"),
        );
        d = match did_you_mean(s, words.iter().copied()) {
            Some(w) => d.help(format!(
                "did you mean `{w}`? ({} are allowed)",
                words.join(", ")
            )),
            None => d.help(format!("allowed: {}", words.join(", "))),
        };
        self.push(d);
        None
    }

    /// Items of a list; a lone scalar is refused with a hint.
    fn list<'n>(&mut self, n: &'n Node, what: &str) -> &'n [Node] {
        match &n.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                let found = n.kind_name();
                let mut d = Diagnostic::new(
                    Code::WrongType,
                    self.head(n),
                    format!("expected a list ({what}), found a {found}"),
                );
                if matches!(n.value, Value::Scalar(_)) {
                    d = d.help("write a one-item list: `[value]`");
                }
                self.push(d);
                &[]
            }
        }
    }

    /// Maps each list item; warns on repeated entries.
    fn list_of<T: PartialEq>(
        &mut self,
        n: &Node,
        what: &str,
        mut f: impl FnMut(&mut Self, &Node) -> Option<T>,
    ) -> Vec<T> {
        let mut out: Vec<T> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        for item in self.list(n, what) {
            if let Some(v) = f(self, item) {
                if let Some(i) = out.iter().position(|x| *x == v) {
                    let first = spans.get(i).copied().unwrap_or(item.span);
                    self.push(
                        Diagnostic::new(
                            Code::DuplicateEntry,
                            item.span,
                            format!("{what} lists this entry twice"),
                        )
                        .with_secondary(first, "first listed here"),
                    );
                    continue;
                }
                out.push(v);
                spans.push(item.span);
            }
        }
        out
    }
}

/// Whether a table is inherited (service fields and their blocks), so that `key+:` can append.
fn is_mergeable(fields: &[Field]) -> bool {
    let fixed: [&[Field]; 9] = [
        schema::SITE,
        schema::DEPLOY,
        schema::BGP,
        schema::UPSTREAM,
        schema::VERSIONS,
        schema::SITE_MONITORING,
        schema::PATHS,
        schema::HOST,
        schema::BACKEND,
    ];
    !fixed.iter().any(|t| std::ptr::eq(*t, fields))
}

fn opt<T>(v: Option<&Node>, f: impl FnOnce(&Node) -> Option<T>) -> Option<T> {
    v.and_then(f)
}

/// Extracts the typed intent, and what of it is unknown because part of the input failed
/// (see [`super::unknown`]). The intent is `None` when there is no usable `site:`.
pub fn extract(
    sources: &Sources,
    r: &Resolved,
    diags: &mut Diagnostics,
) -> (Option<Intent>, Unknowns) {
    let mut cx = Cx::new(sources, diags);
    let mut unknowns = Unknowns {
        sections: r.unknown_sections.clone(),
        extends_failed: r.services.values().any(|s| s.extends_failed),
        ..Unknowns::default()
    };
    let site = match &r.site {
        Some(def) => {
            let site = site(&mut cx, def);
            unknowns.site = std::mem::take(&mut cx.unknown);
            site
        }
        None if r.incomplete => None,
        None => {
            let span = sources
                .iter()
                .next()
                .map_or(Span::new(crate::source::FileId(0), 0, 0), |(id, f)| {
                    Span::new(id, 0, f.text.find('\n').unwrap_or(f.text.len()))
                });
            cx.push(
                Diagnostic::new(Code::MissingSite, span, "the site has no `site:` section")
                    .help("add `site: { name: campus, asn: 65010, anycast_prefixes: [192.0.2.0/24] }` to one file"),
            );
            None
        }
    };

    let mut hosts = BTreeMap::new();
    for (name, def) in &r.hosts {
        cx.unknown.clear();
        let h = host(&mut cx, name, def);
        let mut fields = std::mem::take(&mut cx.unknown);
        match h {
            Some(h) => {
                hosts.insert(name.clone(), h);
            }
            None => {
                fields.insert(WHOLE.to_owned());
            }
        }
        if !fields.is_empty() {
            unknowns.hosts.insert(name.clone(), fields);
        }
    }

    // Templates and defaults are checked as written too, so a typo in an unused template is
    // still found; duplicates with the inherited copies are removed by `Diagnostics::finish`.
    for (name, def) in &r.templates {
        cx.ident(
            &Node {
                value: Value::Scalar(crate::parse::Scalar {
                    text: name.clone(),
                    style: Style::Quoted,
                }),
                span: def.key_span,
            },
            "template name",
        );
        partial_service(&mut cx, &def.node, "a template");
        // Whether it is used is unknown when some `extends` failed, or when a file that failed
        // to parse may hold services.
        let use_unknown = unknowns.extends_failed || unknowns.section_may_be_missing("services");
        if !r.used_templates.contains(name) && !use_unknown {
            cx.push(
                Diagnostic::new(
                    Code::UnusedTemplate,
                    def.key_span,
                    format!("template `{name}` is not used by any service"),
                )
                .help("remove it, or `extends:` it from a service"),
            );
        }
    }
    if let Some(d) = &r.defaults {
        partial_service(&mut cx, &d.node, "defaults");
        let mut blocks = vec![&d.node];
        for mode in ["haproxy", "anycast"] {
            if let Some(block) = d.node.get(mode) {
                partial_service(&mut cx, &block.value, &format!("defaults.{mode}"));
                blocks.push(&block.value);
            }
        }
        for block in blocks {
            if let Some(e) = block.get("extends") {
                cx.push(
                    Diagnostic::new(Code::FieldNotApplicable, e.key_span, "`extends` has no effect in `defaults`")
                        .help("defaults apply to every service; put `extends:` on the services or templates"),
                );
            }
            if let Some(e) = block.get("balancing") {
                cx.push(
                    Diagnostic::new(Code::FieldNotApplicable, e.key_span, "`balancing` cannot be set in `defaults`")
                        .help("the mode picks the defaults (`defaults.haproxy`, `defaults.anycast`), so each service states its own"),
                );
            }
        }
    }

    // Services as written too: `key+:` misuse disappears in the merged view.
    for (name, rs) in &r.services {
        partial_service(&mut cx, &rs.def.node, &format!("service `{name}`"));
    }

    let notify_default = site
        .as_ref()
        .map(|s| s.monitoring.notify.clone())
        .unwrap_or_default();
    let deploy_default = site.as_ref().map_or_else(
        || {
            let d = Deploy::default();
            ServiceDeploy {
                min_announcers: d.min_announcers,
                max_in_flight: d.max_in_flight,
            }
        },
        |s| ServiceDeploy {
            min_announcers: s.deploy.min_announcers,
            max_in_flight: s.deploy.max_in_flight,
        },
    );
    let mut services = BTreeMap::new();
    cx.absent_is_unknown = unknowns.section_may_be_missing("defaults");
    for (name, rs) in &r.services {
        cx.unknown.clear();
        let s = if rs.extends_failed {
            // Unknown as a whole: it lacks the layers its `extends` would give. Its own
            // mistakes were reported above, as written; nothing is concluded from the rest.
            cx.ident(&name_node(name, rs.def.key_span), "service name");
            None
        } else {
            service(
                &mut cx,
                name,
                &rs.def,
                &rs.effective,
                &rs.chain,
                &notify_default,
                deploy_default,
            )
        };
        let mut fields = std::mem::take(&mut cx.unknown);
        match s {
            Some(s) => {
                if cx.absent_is_unknown {
                    fields.extend(absent_fields(&rs.effective));
                }
                services.insert(name.clone(), s);
            }
            None => {
                fields.insert(WHOLE.to_owned());
            }
        }
        if !fields.is_empty() {
            unknowns.services.insert(name.clone(), fields);
        }
    }
    let intent = site.map(|site| Intent {
        site,
        hosts,
        services,
        source_files: sources.iter().map(|(_, f)| f.path.clone()).collect(),
    });
    (intent, unknowns)
}

/// The service fields (and fields of its blocks, as `check.interval`) that no parsed layer
/// sets: when a file that failed to parse may hold `defaults:`, they are unknown.
fn absent_fields(effective: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for field in schema::SERVICE {
        match (effective.get(field.name), field.ty) {
            (None, _) => out.push(field.name.to_owned()),
            (Some(e), schema::Ty::Object(inner)) => {
                for sub in inner {
                    if e.value.get(sub.name).is_none() {
                        out.push(format!("{}.{}", field.name, sub.name));
                    }
                }
            }
            (Some(_), _) => {}
        }
    }
    // A check that names no kind may get one from the missing defaults.
    if let Some(check) = effective.get("check")
        && ["http", "tcp", "tls", "command"]
            .iter()
            .all(|k| check.value.get(k).is_none())
    {
        out.push("check.kind".to_owned());
    }
    out
}

fn site(cx: &mut Cx<'_>, def: &Def) -> Option<Site> {
    let obj = cx.object(&def.node, schema::SITE, "site")?;
    let at = def.key_span;
    let name = cx
        .require(obj, at, "name", "site")
        .and_then(|n| cx.ident(n, "site name"));
    let asn = cx
        .require(obj, at, "asn", "site")
        .and_then(|n| cx.int(n, 1, 4_294_967_294, "AS number", Code::AsnOutOfRange))
        .and_then(|v| u32::try_from(v).ok());
    if let (Some(23456), Some(n)) = (asn, obj.get("asn")) {
        cx.push(Diagnostic::new(
            Code::AsnOutOfRange,
            n.span,
            "AS 23456 is AS_TRANS, reserved for 4-byte AS transition",
        ));
    }
    let prefixes = cx.track("anycast_prefixes", |cx| {
        cx.require(obj, at, "anycast_prefixes", "site")
            .map(|n| cx.list_of(n, "anycast_prefixes", |cx, n| cx.net(n, "anycast prefix")))
            .unwrap_or_default()
    });

    // Errors from here to the timers make them unknown (a misspelt `hold_tme` included).
    let timers_before = cx.errors;
    let bgp_obj = obj
        .get("bgp")
        .and_then(|n| cx.object(n, schema::BGP, "site.bgp"));
    let get = |o: Option<Obj<'_>>, k: &str| o.and_then(|o| o.get(k)).cloned();
    let u16_of =
        |cx: &mut Cx<'_>, n: Option<Node>, min: i64, max: i64, what: &str, default: u16| {
            n.and_then(|n| cx.int(&n, min, max, what, Code::OutOfRange))
                .and_then(|v| u16::try_from(v).ok())
                .unwrap_or(default)
        };
    let hold_time = u16_of(cx, get(bgp_obj, "hold_time"), 3, 65535, "hold_time", 9);
    let keepalive_time = u16_of(
        cx,
        get(bgp_obj, "keepalive_time"),
        1,
        21845,
        "keepalive_time",
        3,
    );
    // A timer that failed is unknown: comparing its default with the other would be a guess.
    let timers_known = cx.errors == timers_before;
    let connect_delay_time = u16_of(
        cx,
        get(bgp_obj, "connect_delay_time"),
        1,
        65535,
        "connect_delay_time",
        1,
    );
    if timers_known
        && keepalive_time.saturating_mul(3) > hold_time
        && let Some(n) = get(bgp_obj, "keepalive_time").or(get(bgp_obj, "hold_time"))
    {
        {
            cx.push(
                Diagnostic::new(Code::OutOfRange, n.span, format!("keepalive_time {keepalive_time}s is more than a third of hold_time {hold_time}s"))
                    .help("BGP sends at least three keepalives per hold time"),
            );
        }
    }
    let cluster_id = get(bgp_obj, "cluster_id").and_then(|n| cx.ipv4(&n, "cluster_id"));
    let site_asn = asn;
    let upstreams = cx.track("bgp.upstreams", |cx| {
        get(bgp_obj, "upstreams")
            .map(|n| {
                cx.list_of(&n, "upstreams", |cx, item| {
                    let o = cx.object(item, schema::UPSTREAM, "an upstream")?;
                    let at = cx.head(item);
                    let name = cx
                        .require(o, at, "name", "upstream")
                        .and_then(|n| cx.ident(n, "upstream name"));
                    let address = cx
                        .require(o, at, "address", "upstream")
                        .and_then(|n| cx.ip(n, "upstream address"));
                    let asn = cx
                        .require(o, at, "asn", "upstream")
                        .and_then(|n| cx.int(n, 1, 4_294_967_294, "AS number", Code::AsnOutOfRange))
                        .and_then(|v| u32::try_from(v).ok());
                    let internal = o.get("internal").and_then(|n| cx.boolean(n, "internal"));
                    let asn = asn?;
                    Some(Upstream {
                        name: name?,
                        address: address?,
                        internal: internal.unwrap_or(Some(asn) == site_asn),
                        asn,
                    })
                })
            })
            .unwrap_or_default()
    });

    let versions_obj = obj
        .get("versions")
        .and_then(|n| cx.object(n, schema::VERSIONS, "site.versions"));
    let mut version = |key: &str, default: &str, min: (u32, u32), max_major: u32| -> String {
        let Some(n) = versions_obj.and_then(|o| o.get(key)) else {
            return default.to_owned();
        };
        let text = match &n.value {
            Value::Scalar(s) => s.text.clone(),
            _ => {
                cx.wrong_type(n, "a version like 2.6");
                return default.to_owned();
            }
        };
        match strings::version(&text) {
            Ok(v) if v >= min && v.0 <= max_major => text,
            Ok(_) => {
                cx.push(
                    Diagnostic::new(
                        Code::UnsupportedVersion,
                        n.span,
                        format!("{key} {text} is not supported"),
                    )
                    .help(format!(
                        "svcintent renders for {key} {}.{} up to {max_major}.x",
                        min.0, min.1
                    )),
                );
                default.to_owned()
            }
            Err(why) => {
                cx.push(Diagnostic::new(
                    Code::UnsupportedVersion,
                    n.span,
                    format!("{key} version `{text}` {why}"),
                ));
                default.to_owned()
            }
        }
    };
    let versions = Versions {
        haproxy: version("haproxy", "2.6", (2, 6), 3),
        bird: version("bird", "2.0", (2, 0), 2),
        nftables: version("nftables", "1.0", (1, 0), 1),
        icinga2: version("icinga2", "2.13", (2, 13), 2),
        apache: version("apache", "2.4", (2, 4), 2),
    };
    let mon_obj = obj
        .get("monitoring")
        .and_then(|n| cx.object(n, schema::SITE_MONITORING, "site.monitoring"));
    let notify = mon_obj
        .and_then(|o| o.get("notify"))
        .map(|n| cx.list_of(n, "notify", |cx, n| cx.ident(n, "user name")))
        .unwrap_or_default();
    let paths_obj = obj
        .get("paths")
        .and_then(|n| cx.object(n, schema::PATHS, "site.paths"));
    let mut path = |key: &str, default: &str| {
        paths_obj
            .and_then(|o| o.get(key))
            .and_then(|n| cx.checked(n, key, strings::path, Code::InvalidValue))
            .map_or_else(
                || default.to_owned(),
                |p| p.trim_end_matches('/').to_owned(),
            )
    };
    let paths = Paths {
        tls_certificates: path("tls_certificates", "/etc/haproxy/certs"),
        plugins: path("plugins", "/usr/lib/nagios/plugins"),
    };
    let deploy = deploy_settings(cx, obj.get("deploy"));
    Some(Site {
        name: name?,
        asn: asn?,
        anycast_prefixes: prefixes,
        bgp: Bgp {
            cluster_id,
            hold_time,
            keepalive_time,
            connect_delay_time,
            upstreams,
        },
        versions,
        monitoring: SiteMonitoring { notify },
        paths,
        deploy,
    })
}

/// `site.deploy`, with the defaults of [`Deploy::default`] for what it does not say.
fn deploy_settings(cx: &mut Cx<'_>, node: Option<&Node>) -> Deploy {
    let defaults = Deploy::default();
    let Some(obj) = node.and_then(|n| cx.object(n, schema::DEPLOY, "site.deploy")) else {
        return defaults;
    };
    let count = |cx: &mut Cx<'_>, key: &str, min: i64, default: u16| {
        obj.get(key)
            .and_then(|n| cx.int(n, min, 1000, key, Code::OutOfRange))
            .and_then(|v| u16::try_from(v).ok())
            .unwrap_or(default)
    };
    let min_announcers = count(cx, "min_announcers", 0, defaults.min_announcers);
    let max_in_flight = count(cx, "max_in_flight", 1, defaults.max_in_flight);
    let withdraw_timeout_ms = obj
        .get("withdraw_timeout")
        .and_then(|n| cx.duration_ms(n, "withdraw_timeout"))
        .unwrap_or(defaults.withdraw_timeout_ms);
    let withdraw_settle_ms = obj
        .get("withdraw_settle")
        .and_then(|n| cx.duration_ms(n, "withdraw_settle"))
        .unwrap_or(defaults.withdraw_settle_ms);
    let announce_timeout_ms = obj
        .get("announce_timeout")
        .and_then(|n| cx.duration_ms(n, "announce_timeout"))
        .unwrap_or(defaults.announce_timeout_ms);
    let bird_undo_timeout_ms = match obj.get("bird_undo_timeout") {
        Some(n) => match cx.duration_ms(n, "bird_undo_timeout") {
            // BIRD takes whole seconds.
            Some(ms) if ms < 1000 => {
                cx.push(
                    Diagnostic::new(
                        Code::InvalidDuration,
                        n.span,
                        "bird_undo_timeout must be at least 1s",
                    )
                    .help("BIRD counts this timeout in whole seconds"),
                );
                defaults.bird_undo_timeout_ms
            }
            Some(ms) => ms,
            None => defaults.bird_undo_timeout_ms,
        },
        None => defaults.bird_undo_timeout_ms,
    };
    let socket = |cx: &mut Cx<'_>, key: &str, default: String| {
        obj.get(key)
            .and_then(|n| cx.checked(n, key, strings::path, Code::InvalidValue))
            .unwrap_or(default)
    };
    let bird_socket = socket(cx, "bird_socket", defaults.bird_socket);
    let haproxy_master_socket = socket(cx, "haproxy_master_socket", defaults.haproxy_master_socket);
    let command = |cx: &mut Cx<'_>, key: &str, default: Vec<String>| -> Vec<String> {
        let Some(n) = obj.get(key) else {
            return default;
        };
        let argv: Vec<String> = cx
            .list(n, key)
            .iter()
            .filter_map(|i| cx.checked(i, "command argument", strings::arg, Code::UnsafeString))
            .collect();
        if let Some(first) = argv.first()
            && strings::file_name(first).is_err()
            && strings::path(first).is_err()
        {
            cx.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    n.span,
                    format!("`{first}` is not a program name or absolute path"),
                )
                .help("the first element names the program, run without a shell: e.g. [systemctl, reload, haproxy.service]"),
            );
        }
        argv
    };
    let haproxy_reload = command(cx, "haproxy_reload", defaults.haproxy_reload);
    let required = |cx: &mut Cx<'_>, key: &str, default: Vec<String>| {
        let argv = command(cx, key, default);
        if argv.is_empty()
            && let Some(n) = obj.get(key)
        {
            cx.push(
                Diagnostic::new(Code::MissingField, n.span, format!("`{key}` is empty"))
                    .help("name the program first, e.g. [systemctl, reload, icinga2.service]"),
            );
        }
        argv
    };
    let apache_reload = required(cx, "apache_reload", defaults.apache_reload);
    let icinga2_reload = required(cx, "icinga2_reload", defaults.icinga2_reload);
    let healthchecker_restart =
        required(cx, "healthchecker_restart", defaults.healthchecker_restart);
    Deploy {
        min_announcers,
        max_in_flight,
        withdraw_timeout_ms,
        withdraw_settle_ms,
        bird_undo_timeout_ms,
        announce_timeout_ms,
        bird_socket,
        haproxy_master_socket,
        haproxy_reload,
        apache_reload,
        icinga2_reload,
        healthchecker_restart,
    }
}

fn name_node(name: &str, span: Span) -> Node {
    Node {
        value: Value::Scalar(crate::parse::Scalar {
            text: name.to_owned(),
            style: Style::Quoted,
        }),
        span,
    }
}

fn host(cx: &mut Cx<'_>, name: &str, def: &Def) -> Option<Host> {
    let valid_name = cx.ident(&name_node(name, def.key_span), "host name");
    let obj = cx.object(&def.node, schema::HOST, &format!("host `{name}`"))?;
    let at = def.key_span;
    let roles: BTreeSet<Role> = cx.track("roles", |cx| {
        crate::collect::set(
            cx.require(obj, at, "roles", &format!("host `{name}`"))
                .map(|n| {
                    cx.list_of(n, "roles", |cx, n| {
                        let w = cx.word(n, schema::ROLES, "role")?;
                        Role::ALL.iter().copied().find(|r| r.as_str() == w)
                    })
                })
                .unwrap_or_default(),
        )
    });
    let ipv4 = cx.track("ipv4", |cx| opt(obj.get("ipv4"), |n| cx.ipv4(n, "ipv4")));
    let ipv6 = cx.track("ipv6", |cx| opt(obj.get("ipv6"), |n| cx.ipv6(n, "ipv6")));
    let group = cx
        .track("group", |cx| {
            opt(obj.get("group"), |n| cx.ident(n, "group"))
        })
        .unwrap_or_else(|| "default".to_owned());
    let router_id = cx
        .track("router_id", |cx| {
            opt(obj.get("router_id"), |n| cx.ipv4(n, "router_id"))
        })
        .or(ipv4);
    let drain = cx
        .track("drain", |cx| {
            opt(obj.get("drain"), |n| cx.boolean(n, "drain"))
        })
        .unwrap_or(false);
    let description = opt(obj.get("description"), |n| {
        cx.checked(n, "description", strings::text, Code::UnsafeString)
    });
    if ipv4.is_none() && ipv6.is_none() && obj.get("ipv4").is_none() && obj.get("ipv6").is_none() {
        cx.push(
            Diagnostic::new(
                Code::MissingAddress,
                def.key_span,
                format!("host `{name}` has no address"),
            )
            .help("add `ipv4:` and/or `ipv6:`"),
        );
    }
    let speaks_bgp = roles
        .iter()
        .any(|r| matches!(r, Role::Balancer | Role::AnycastNode | Role::RouteReflector));
    if speaks_bgp && router_id.is_none() && obj.get("ipv4").is_none() {
        cx.push(
            Diagnostic::new(
                Code::MissingAddress,
                def.key_span,
                format!("BGP speaker `{name}` has no IPv4 router id"),
            )
            .help("add `router_id:` (an IPv4 address unique in the site) or an `ipv4:` address"),
        );
    }
    Some(Host {
        name: valid_name?,
        roles,
        ipv4,
        ipv6,
        group,
        router_id,
        drain,
        description,
        span: Some(def.key_span),
    })
}

/// Checks a template or defaults block as written: keys, types and values, but no required
/// fields (a template may be partial).
fn partial_service(cx: &mut Cx<'_>, node: &Node, what: &str) {
    let defaults_fields: Vec<Field>;
    let fields: &[Field] = if what == "defaults" {
        defaults_fields = schema::SERVICE
            .iter()
            .chain(schema::DEFAULTS_EXTRA)
            .copied()
            .collect();
        &defaults_fields
    } else {
        schema::SERVICE
    };
    let Some(_) = cx.object(node, fields, what) else {
        return;
    };
    // Normalise `key+:` to `key:` and drop the per-mode blocks, then type-check every field.
    // Merging onto an empty mapping normalises; the result's top-level mapping is its own
    // (only the subtrees are shared with `node`), so it is filtered in place.
    let mut stripped = Node::empty_map(node.span);
    crate::resolve::merge_into(&mut stripped, node, &[]);
    if let Value::Map(entries) = &mut stripped.value {
        Rc::make_mut(entries).retain(|e| {
            !matches!(
                e.key.as_str(),
                "haproxy" | "anycast" | "extends" | "balancing"
            )
        });
    }
    // A template or defaults block is checked in the mode it will be used in.
    let mode = if what == "defaults.anycast" {
        Some("anycast")
    } else if what == "defaults.haproxy" {
        Some("haproxy")
    } else {
        node.get("balancing").and_then(|e| match &e.value.value {
            Value::Scalar(s) if s.text == "anycast" || s.text == "haproxy" => {
                Some(if s.text == "anycast" {
                    "anycast"
                } else {
                    "haproxy"
                })
            }
            _ => None,
        })
    };
    if let (Some(mode), Value::Map(entries)) = (mode, &mut stripped.value) {
        Rc::make_mut(entries).push(crate::parse::Entry {
            key: "balancing".to_owned(),
            key_span: node.span,
            value: Node {
                value: Value::Scalar(crate::parse::Scalar {
                    text: mode.to_owned(),
                    style: Style::Quoted,
                }),
                span: node.span,
            },
        });
    }
    let mut scratch = Diagnostics::default();
    {
        let mut inner = Cx::new(cx.sources, &mut scratch);
        service_fields(
            &mut inner,
            Obj { node: &stripped },
            "template",
            stripped.span,
            &[],
            ServiceDeploy {
                min_announcers: 1,
                max_in_flight: 1,
            },
        );
    }
    // A partial block may lack required fields, and fields that only make sense together
    // (a TLS certificate for `mode: terminate`) may come from another layer: those are checked
    // on the merged service. Without a known mode, mode-specific fields are fine.
    for d in scratch.finish() {
        let partial_is_fine = matches!(d.code, Code::MissingField | Code::TlsConflict)
            || (mode.is_none() && d.code == Code::FieldNotApplicable);
        if !partial_is_fine {
            cx.push(d);
        }
    }
}

fn service(
    cx: &mut Cx<'_>,
    name: &str,
    def: &Def,
    effective: &Node,
    chain: &[String],
    notify_default: &[String],
    deploy_default: ServiceDeploy,
) -> Option<Service> {
    let valid_name = cx.ident(&name_node(name, def.key_span), "service name");
    let obj = cx.object(effective, schema::SERVICE, &format!("service `{name}`"))?;
    let mut s = service_fields(cx, obj, name, def.key_span, notify_default, deploy_default)?;
    s.name = valid_name?;
    s.extends = chain.iter().rev().cloned().collect();
    s.span = Some(def.key_span);
    Some(s)
}

/// Reads every service field from a (merged) mapping.
fn service_fields(
    cx: &mut Cx<'_>,
    obj: Obj<'_>,
    name: &str,
    at: Span,
    notify_default: &[String],
    deploy_default: ServiceDeploy,
) -> Option<Service> {
    let what = format!("service `{name}`");
    let balancing = match obj.get("balancing") {
        Some(n) => match cx.word(n, &["haproxy", "anycast"], "balancing mode")? {
            "anycast" => Balancing::Anycast,
            _ => Balancing::Haproxy,
        },
        None => Balancing::Haproxy,
    };
    // Fields of the other mode.
    for field in schema::SERVICE {
        let wrong = match (field.applies, balancing) {
            (Applies::Haproxy, Balancing::Anycast) => Some("haproxy"),
            (Applies::Anycast, Balancing::Haproxy) => Some("anycast"),
            _ => None,
        };
        if let (Some(mode), Some(span)) = (wrong, obj.key_span(field.name))
            && obj.get(field.name).is_some()
        {
            {
                cx.push(
                    Diagnostic::new(
                        Code::FieldNotApplicable,
                        span,
                        format!(
                            "`{}` applies only to `balancing: {mode}` services",
                            field.name
                        ),
                    )
                    .help(format!("remove it, or set `balancing: {mode}`")),
                );
            }
        }
    }

    let vips = cx.track("vips", |cx| {
        cx.require_inherited(obj, at, "vips", &what)
            .map(|n| cx.list_of(n, "vips", |cx, n| cx.ip(n, "VIP")))
            .unwrap_or_default()
    });
    let ports = cx.track("ports", |cx| {
        cx.require_inherited(obj, at, "ports", &what)
            .map(|n| cx.list_of(n, "ports", Cx::port_spec))
            .unwrap_or_default()
    });
    let allow = cx.track("allow", |cx| {
        obj.get("allow")
            .map(|n| cx.list_of(n, "allow", |cx, n| cx.net(n, "allowed source")))
            .unwrap_or_default()
    });
    let announce = match cx.track("announce", |cx| {
        obj.get("announce")
            .and_then(|n| cx.word(n, schema::ANNOUNCE, "announce scope"))
    }) {
        Some("site") => AnnounceScope::Site,
        _ => AnnounceScope::Upstream,
    };
    let description = opt(obj.get("description"), |n| {
        cx.checked(n, "description", strings::text, Code::UnsafeString)
    });
    let drain = cx.track("drain", |cx| {
        obj.get("drain")
            .map(|n| cx.list_of(n, "drain", |cx, n| cx.ident(n, "host name")))
            .unwrap_or_default()
    });
    let check = check(cx, obj.get("check"), balancing);
    let monitoring = cx.track("monitoring", |cx| {
        let o = obj
            .get("monitoring")
            .and_then(|n| cx.object(n, schema::MONITORING, "monitoring"));
        let enabled = o
            .and_then(|o| o.get("enabled"))
            .and_then(|n| cx.boolean(n, "enabled"))
            .unwrap_or(true);
        let notify = o
            .and_then(|o| o.get("notify"))
            .map(|n| cx.list_of(n, "notify", |cx, n| cx.ident(n, "user name")))
            .unwrap_or_else(|| notify_default.to_vec());
        Monitoring { enabled, notify }
    });
    let deploy = {
        let o = obj
            .get("deploy")
            .and_then(|n| cx.object(n, schema::SERVICE_DEPLOY, "deploy"));
        let mut count = |key: &str, min: i64, default: u16| {
            o.and_then(|o| o.get(key))
                .and_then(|n| cx.int(n, min, 1000, key, Code::OutOfRange))
                .and_then(|v| u16::try_from(v).ok())
                .unwrap_or(default)
        };
        ServiceDeploy {
            min_announcers: count("min_announcers", 0, deploy_default.min_announcers),
            max_in_flight: count("max_in_flight", 1, deploy_default.max_in_flight),
        }
    };

    let (haproxy, anycast) = match balancing {
        Balancing::Haproxy => (Some(haproxy_fields(cx, obj, &drain)), None),
        Balancing::Anycast => {
            let nodes = cx.track("nodes", |cx| {
                obj.get("nodes")
                    .map(|n| cx.list_of(n, "nodes", |cx, n| cx.ident(n, "host name")))
                    .unwrap_or_default()
            });
            (
                None,
                Some(AnycastService {
                    nodes,
                    drained: drain,
                }),
            )
        }
    };
    Some(Service {
        name: name.to_owned(),
        description,
        balancing,
        vips,
        ports,
        allow,
        announce,
        check: check?,
        monitoring,
        deploy,
        haproxy,
        anycast,
        extends: Vec::new(),
        span: None,
    })
}

fn haproxy_fields(cx: &mut Cx<'_>, obj: Obj<'_>, drain: &[String]) -> HaproxyService {
    let mode = match cx.track("mode", |cx| {
        obj.get("mode")
            .and_then(|n| cx.word(n, &["http", "tcp"], "mode"))
    }) {
        Some("http") => Mode::Http,
        _ => Mode::Tcp,
    };
    let group = cx
        .track("group", |cx| {
            opt(obj.get("group"), |n| cx.ident(n, "group"))
        })
        .unwrap_or_else(|| "default".to_owned());
    let balance = match obj.get("balance").and_then(|n| {
        cx.word(
            n,
            &["roundrobin", "leastconn", "source", "first"],
            "balance algorithm",
        )
    }) {
        Some("leastconn") => Algorithm::Leastconn,
        Some("source") => Algorithm::Source,
        Some("first") => Algorithm::First,
        _ => Algorithm::Roundrobin,
    };
    let maxconn = opt(obj.get("maxconn"), |n| {
        cx.int(n, 1, 1_000_000, "maxconn", Code::OutOfRange)
    })
    .and_then(|v| u32::try_from(v).ok());
    let timeouts = cx.track("timeouts", |cx| {
        let t = obj
            .get("timeouts")
            .and_then(|n| cx.object(n, schema::TIMEOUTS, "timeouts"));
        let mut timeout = |k: &str, d: u32| {
            t.and_then(|o| o.get(k))
                .and_then(|n| cx.duration_ms(n, k))
                .unwrap_or(d)
        };
        Timeouts {
            connect_ms: timeout("connect", 5000),
            client_ms: timeout("client", 30_000),
            server_ms: timeout("server", 30_000),
        }
    });
    let tls = cx.track("tls", |cx| tls(cx, obj));
    let client_ip = match cx.track("client_ip", |cx| {
        obj.get("client_ip")
            .and_then(|n| cx.word(n, schema::CLIENT_IP, "client_ip method"))
    }) {
        Some("proxy-protocol" | "proxy-protocol-v2") => ClientIp::ProxyProtocol,
        Some("proxy-protocol-v1") => ClientIp::ProxyProtocolV1,
        Some("x-forwarded-for") => ClientIp::XForwardedFor,
        _ => ClientIp::None,
    };
    let backend_port = cx.track("backend_port", |cx| {
        opt(obj.get("backend_port"), |n| cx.port(n, "backend_port"))
    });
    let backends = cx.track("backends", |cx| backends(cx, obj, drain));
    let web = cx.track("web", |cx| web(cx, obj));
    HaproxyService {
        mode,
        group,
        balance,
        maxconn,
        timeouts,
        tls,
        client_ip,
        backend_port,
        backends,
        web,
    }
}

fn tls(cx: &mut Cx<'_>, obj: Obj<'_>) -> Tls {
    match obj
        .get("tls")
        .and_then(|n| cx.object(n, schema::TLS, "tls"))
    {
        None => Tls::None,
        Some(o) => match o
            .get("mode")
            .and_then(|n| cx.word(n, &["none", "terminate", "passthrough"], "tls mode"))
        {
            Some("terminate") => {
                let certificate = o.get("certificate").and_then(|n| {
                    cx.checked(n, "certificate", strings::file_name, Code::InvalidValue)
                });
                // A certificate no parsed layer sets may come from `defaults:` in a file that
                // failed to parse.
                if o.get("certificate").is_none() && !cx.absent_is_unknown {
                    let at = o.key_span("mode").unwrap_or(o.node.span);
                    cx.push(
                        Diagnostic::new(Code::TlsConflict, at, "`tls: { mode: terminate }` needs a `certificate`")
                            .help("name the PEM file (certificate and key) under site.paths.tls_certificates"),
                    );
                }
                let ports = o
                    .get("ports")
                    .map(|n| cx.list_of(n, "tls ports", |cx, n| cx.port(n, "port")))
                    .unwrap_or_else(|| vec![443]);
                let redirect_http = o
                    .get("redirect_http")
                    .and_then(|n| cx.boolean(n, "redirect_http"))
                    .unwrap_or(false);
                Tls::Terminate {
                    certificate: certificate.unwrap_or_default(),
                    ports,
                    redirect_http,
                }
            }
            Some("passthrough") => Tls::Passthrough,
            _ => Tls::None,
        },
    }
}

fn backends(cx: &mut Cx<'_>, obj: Obj<'_>, drain: &[String]) -> Vec<Backend> {
    obj.get("backends")
        .map(|n| {
            cx.list_of(n, "backends", |cx, item| match &item.value {
                Value::Scalar(_) => cx.ident(item, "backend host").map(|host| Backend {
                    drain: drain.contains(&host),
                    host,
                    port: None,
                    weight: 1,
                    backup: false,
                }),
                Value::Map(_) => {
                    let o = cx.object(item, schema::BACKEND, "a backend")?;
                    let at = cx.head(item);
                    let host = cx
                        .require(o, at, "host", "backend")
                        .and_then(|n| cx.ident(n, "backend host"))?;
                    let port = opt(o.get("port"), |n| cx.port(n, "backend port"));
                    let weight = opt(o.get("weight"), |n| {
                        cx.int(n, 0, 256, "weight", Code::OutOfRange)
                    })
                    .and_then(|v| u16::try_from(v).ok())
                    .unwrap_or(1);
                    let backup = opt(o.get("backup"), |n| cx.boolean(n, "backup")).unwrap_or(false);
                    let own_drain =
                        opt(o.get("drain"), |n| cx.boolean(n, "drain")).unwrap_or(false);
                    Some(Backend {
                        drain: own_drain || drain.contains(&host),
                        host,
                        port,
                        weight,
                        backup,
                    })
                }
                _ => {
                    cx.wrong_type(item, "a host name or a mapping with `host:`");
                    None
                }
            })
        })
        .unwrap_or_default()
}

fn web(cx: &mut Cx<'_>, obj: Obj<'_>) -> Option<Web> {
    obj.get("web").and_then(|n| {
        let o = cx.object(n, schema::WEB, "web")?;
        let at = cx.head(n);
        let server_names = cx
            .require_inherited(o, at, "server_names", "web")
            .map(|n| {
                cx.list_of(n, "server_names", |cx, n| {
                    cx.checked(n, "server name", strings::hostname, Code::InvalidValue)
                })
            })
            .unwrap_or_default();
        let document_root = opt(o.get("document_root"), |n| {
            cx.checked(n, "document_root", strings::path, Code::InvalidValue)
        });
        let proxy_to = opt(o.get("proxy_to"), |n| {
            cx.checked(n, "proxy_to", strings::url, Code::InvalidValue)
        });
        let listen_port = opt(o.get("listen_port"), |n| cx.port(n, "listen_port"));
        let health_path = opt(o.get("health_path"), |n| {
            cx.checked(n, "health_path", strings::url_path, Code::InvalidValue)
        });
        Some(Web {
            server_names,
            document_root,
            proxy_to,
            listen_port: listen_port.unwrap_or(0),
            health_path,
        })
    })
}

fn check(cx: &mut Cx<'_>, node: Option<&Node>, _balancing: Balancing) -> Option<Check> {
    let o = match node {
        Some(n) => cx.object(n, schema::CHECK, "check")?,
        None => {
            return Some(Check {
                interval_ms: 2000,
                timeout_ms: 1000,
                rise: 2,
                fall: 3,
                kind: CheckKind::Tcp { port: None },
            });
        }
    };
    let interval_ms = cx
        .track("check.interval", |cx| {
            o.get("interval")
                .and_then(|n| cx.duration_ms(n, "check interval"))
        })
        .unwrap_or(2000);
    let timeout_ms = cx
        .track("check.timeout", |cx| {
            o.get("timeout")
                .and_then(|n| cx.duration_ms(n, "check timeout"))
        })
        .unwrap_or(1000);
    let small = |cx: &mut Cx<'_>, k: &str, d: u8| {
        o.get(k)
            .and_then(|n| cx.int(n, 1, 100, k, Code::OutOfRange))
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(d)
    };
    let rise = small(cx, "rise", 2);
    let fall = small(cx, "fall", 3);
    let kinds: Vec<&str> = ["http", "tcp", "tls", "command"]
        .into_iter()
        .filter(|k| o.get(k).is_some())
        .collect();
    if kinds.len() > 1 {
        let span = kinds
            .get(1)
            .and_then(|k| o.key_span(k))
            .unwrap_or(o.node.span);
        let mut d = Diagnostic::new(
            Code::CheckMismatch,
            span,
            format!("check sets several kinds: {}", kinds.join(", ")),
        );
        if let Some(first) = kinds.first().and_then(|k| o.key_span(k)) {
            d = d.with_secondary(first, "also set here");
        }
        cx.push(d.help("keep one; to replace an inherited kind, reset it with `http: ~`"));
        cx.unknown.insert("check.kind".to_owned());
    }
    let first_kind = kinds.first().copied();
    let kind_field = format!("check.{}", first_kind.unwrap_or("tcp"));
    let kind = cx.track(&kind_field, |cx| check_kind(cx, o, first_kind));
    Some(Check {
        interval_ms,
        timeout_ms,
        rise,
        fall,
        kind,
    })
}

fn check_kind(cx: &mut Cx<'_>, o: Obj<'_>, kind: Option<&str>) -> CheckKind {
    match kind {
        Some("http") => {
            let h = o
                .get("http")
                .and_then(|n| cx.object(n, schema::CHECK_HTTP, "check.http"));
            let g = |k: &str| h.and_then(|h| h.get(k));
            CheckKind::Http {
                path: g("path")
                    .and_then(|n| {
                        cx.checked(n, "check path", strings::url_path, Code::InvalidValue)
                    })
                    .unwrap_or_else(|| "/".to_owned()),
                expect: g("expect")
                    .and_then(|n| cx.int(n, 100, 599, "expected status", Code::OutOfRange))
                    .and_then(|v| u16::try_from(v).ok())
                    .unwrap_or(200),
                host: g("host").and_then(|n| {
                    cx.checked(n, "check host", strings::hostname, Code::InvalidValue)
                }),
                method: g("method")
                    .and_then(|n| cx.word(n, &["GET", "HEAD", "OPTIONS"], "method"))
                    .unwrap_or("GET")
                    .to_owned(),
                port: g("port").and_then(|n| cx.port(n, "check port")),
            }
        }
        Some("tls") => {
            let t = o
                .get("tls")
                .and_then(|n| cx.object(n, schema::CHECK_TLS, "check.tls"));
            CheckKind::Tls {
                sni: t
                    .and_then(|t| t.get("sni"))
                    .and_then(|n| cx.checked(n, "sni", strings::hostname, Code::InvalidValue)),
                port: t
                    .and_then(|t| t.get("port"))
                    .and_then(|n| cx.port(n, "check port")),
            }
        }
        Some("command") => {
            let argv: Vec<String> = o
                .get("command")
                .map(|n| {
                    let items = cx.list(n, "command");
                    items
                        .iter()
                        .filter_map(|i| {
                            cx.checked(i, "command argument", strings::arg, Code::UnsafeString)
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let (Some(first), Some(n)) = (argv.first(), o.get("command")) {
                let plugin_ok = strings::file_name(first).is_ok() || strings::path(first).is_ok();
                if !plugin_ok {
                    cx.push(
                        Diagnostic::new(Code::InvalidValue, n.span, format!("`{first}` is not a plugin name or absolute path"))
                            .help("the first element names the check program, e.g. check_dns or /usr/local/bin/check_x"),
                    );
                }
            } else if let Some(n) = o.get("command") {
                cx.push(
                    Diagnostic::new(Code::MissingField, n.span, "check command is empty")
                        .help("name the check program first"),
                );
            }
            CheckKind::Command { argv }
        }
        _ => CheckKind::Tcp {
            port: o
                .get("tcp")
                .and_then(|n| cx.object(n, schema::CHECK_TCP, "check.tcp"))
                .and_then(|t| t.get("port"))
                .and_then(|n| cx.port(n, "check port")),
        },
    }
}
