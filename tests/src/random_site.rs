//! A generator of random *valid* sites, driven by a stream of choices: a seeded PRNG
//! ([`Seeded`], for `scripts/random-sites.sh` and the regression seeds) or the fuzzer's bytes
//! ([`Fuzzed`], for the `site` fuzz target). Every site it makes must lint without errors and
//! render files every daemon accepts; the only warning it may cause is `SI051` (a service with
//! `monitoring.enabled: false`, or a site without a monitoring host), which it records.
//!
//! It varies every field of the schema (`core/src/schema.rs`; [`GeneratedSite::fields`] lists
//! the field paths a site uses, so a test can check that the seeds cover the table) and the
//! topology: 1 to 4 balancer groups or none (anycast-only sites), v4-only, v6-only and dual-stack
//! services and hosts, drained hosts and backends, services sharing backends and vhost ports,
//! many ports, every TLS mode, PROXY protocol and X-Forwarded-For backends, templates with
//! `extends` chains, `key+:` and `key: ~`, defaults per mode, several files.
//!
//! Addresses come from the documentation and benchmarking ranges only.
#![allow(
    clippy::indexing_slicing,
    reason = "generator: every index is below its slice's length by construction"
)]

use std::collections::BTreeSet;
use std::fmt::Write as _;

use svcintent_core::{SourceFile, Sources};

/// A source of choices.
pub trait Choices {
    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize;

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (which must not be empty).
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.below(items.len());
        &items[i]
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }
}

/// Choices from a seed (SplitMix64): the same seed gives the same site on every machine.
#[derive(Debug, Clone)]
pub struct Seeded(pub u64);

impl Choices for Seeded {
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n as u64) as usize
    }
}

/// Choices from fuzzer bytes; when they run out every choice is 0 (the smallest site).
#[derive(Debug)]
pub struct Fuzzed<'a, 'b>(pub &'a mut arbitrary::Unstructured<'b>);

impl Choices for Fuzzed<'_, '_> {
    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        self.0.int_in_range(0..=n - 1).unwrap_or(0)
    }
}

/// A YAML value as the generator writes it.
#[derive(Debug, Clone, PartialEq)]
enum Y {
    /// A plain scalar written as is (numbers, booleans, words).
    Plain(String),
    /// A string, quoted when it is not a plain word.
    Str(String),
    /// `~`.
    Null,
    List(Vec<Y>),
    Map(Vec<(String, Y)>),
}

fn plain(s: impl ToString) -> Y {
    Y::Plain(s.to_string())
}
fn text(s: impl Into<String>) -> Y {
    Y::Str(s.into())
}
fn list<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> Y) -> Y {
    Y::List(items.into_iter().map(f).collect())
}

/// A mapping under construction.
#[derive(Debug, Default, Clone)]
struct M(Vec<(String, Y)>);

impl M {
    fn set(&mut self, key: &str, value: Y) -> &mut Self {
        self.0.push((key.to_owned(), value));
        self
    }
    fn y(self) -> Y {
        Y::Map(self.0)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn quoted(s: &str) -> String {
    let simple = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        && !matches!(
            s,
            "yes" | "no" | "on" | "off" | "y" | "n" | "true" | "false" | "null"
        );
    if simple {
        return s.to_owned();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn scalar(y: &Y) -> Option<String> {
    match y {
        Y::Plain(s) => Some(s.clone()),
        Y::Str(s) => Some(quoted(s)),
        Y::Null => Some("~".to_owned()),
        _ => None,
    }
}

/// Flow style for lists of scalars and small maps of scalars; block style otherwise.
fn flow(y: &Y) -> Option<String> {
    match y {
        Y::List(items) => {
            let parts: Option<Vec<String>> = items.iter().map(scalar).collect();
            Some(format!("[{}]", parts?.join(", ")))
        }
        Y::Map(entries) if entries.len() <= 4 => {
            let parts: Option<Vec<String>> = entries
                .iter()
                .map(|(k, v)| {
                    scalar(v)
                        .or_else(|| flow_list(v))
                        .map(|v| format!("{k}: {v}"))
                })
                .collect();
            Some(format!("{{ {} }}", parts?.join(", ")))
        }
        _ => scalar(y),
    }
}

fn flow_list(y: &Y) -> Option<String> {
    match y {
        Y::List(_) => flow(y),
        _ => None,
    }
}

fn emit(out: &mut String, indent: usize, entries: &[(String, Y)]) {
    let pad = " ".repeat(indent);
    for (k, v) in entries {
        if let Some(s) = scalar(v).or_else(|| flow(v)) {
            let _ = writeln!(out, "{pad}{k}: {s}");
            continue;
        }
        let _ = writeln!(out, "{pad}{k}:");
        match v {
            Y::Map(inner) => emit(out, indent + 2, inner),
            Y::List(items) => {
                for item in items {
                    match item {
                        Y::Map(inner) => {
                            let mut block = String::new();
                            emit(&mut block, indent + 4, inner);
                            let block = block.trim_start();
                            let _ = write!(out, "{pad}  - {block}");
                        }
                        other => {
                            let _ = writeln!(
                                out,
                                "{pad}  - {}",
                                scalar(other).or_else(|| flow(other)).unwrap_or_default()
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Field paths of a YAML tree, as the schema names them: `services.*.tls.mode`,
/// `services.*.backends[].weight`, `hosts.*.roles=balancer` for enum words.
fn collect_fields(path: &str, y: &Y, out: &mut BTreeSet<String>) {
    match y {
        Y::Map(entries) => {
            for (k, v) in entries {
                let named = matches!(path, "hosts" | "templates" | "services");
                let key = k.trim_end_matches('+');
                let p = match (path.is_empty(), named) {
                    (true, _) => key.to_owned(),
                    (false, true) => format!("{path}.*"),
                    (false, false) => format!("{path}.{key}"),
                };
                if k.ends_with('+') {
                    out.insert(format!("{p}+"));
                }
                out.insert(p.clone());
                collect_fields(&p, v, out);
            }
        }
        Y::List(items) => {
            let p = format!("{path}[]");
            for item in items {
                match item {
                    Y::Map(_) => collect_fields(&p, item, out),
                    Y::Plain(s) | Y::Str(s) => {
                        out.insert(format!("{path}={s}"));
                    }
                    _ => {}
                }
            }
        }
        Y::Plain(s) | Y::Str(s) => {
            out.insert(format!("{path}={s}"));
        }
        Y::Null => {
            out.insert(format!("{path}=~"));
        }
    }
}

/// A generated site.
#[derive(Debug, Clone)]
pub struct GeneratedSite {
    /// `(path, text)` of each file.
    pub files: Vec<(String, String)>,
    /// Field paths (and `path=value` for scalar values) the site sets.
    pub fields: BTreeSet<String>,
    /// Whether the site has a monitoring host (without one, `SI051` warns for every service).
    pub monitored: bool,
    /// Whether one line was removed or repeated (then it need not be valid).
    pub edited_line: bool,
    /// What the site looks like, for failure messages: groups, services per mode...
    pub summary: String,
}

impl GeneratedSite {
    /// The files as a site.
    pub fn sources(&self) -> Sources {
        Sources::new(
            self.files
                .iter()
                .map(|(p, t)| SourceFile::new(p.clone(), t.clone()))
                .collect(),
        )
    }

    /// Every file, one after the other, for failure messages.
    pub fn yaml(&self) -> String {
        let mut s = String::new();
        for (p, t) in &self.files {
            let _ = writeln!(s, "# ---- {p}\n{t}");
        }
        s
    }

    /// Writes the site's files below `dir`.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        for (p, t) in &self.files {
            let path = dir.join(p);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, t)?;
        }
        Ok(())
    }

    /// The site with line `at` (modulo the line count, over all files) removed (`kind` 1) or
    /// repeated (`kind` 2, 3), for the fuzzer to reach the diagnostics of near-valid sites.
    pub fn edited(&self, kind: u8, at: usize) -> GeneratedSite {
        let total: usize = self.files.iter().map(|(_, t)| t.lines().count()).sum();
        let mut target = at % total.max(1);
        let mut files = Vec::new();
        for (p, t) in &self.files {
            let n = t.lines().count();
            if target < n {
                let mut lines: Vec<&str> = t.lines().collect();
                if kind == 1 {
                    lines.remove(target);
                } else if let Some(line) = lines.get(target).copied() {
                    lines.insert(target, line);
                }
                files.push((p.clone(), lines.join("\n") + "\n"));
                target = usize::MAX;
            } else {
                target = target.saturating_sub(n);
                files.push((p.clone(), t.clone()));
            }
        }
        GeneratedSite {
            files,
            edited_line: true,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fams {
    v4: bool,
    v6: bool,
}

impl Fams {
    const DUAL: Fams = Fams { v4: true, v6: true };
    const V4: Fams = Fams {
        v4: true,
        v6: false,
    };
    const V6: Fams = Fams {
        v4: false,
        v6: true,
    };
    fn covers(self, other: Fams) -> bool {
        (self.v4 || !other.v4) && (self.v6 || !other.v6)
    }
    fn and(self, other: Fams) -> Fams {
        Fams {
            v4: self.v4 && other.v4,
            v6: self.v6 && other.v6,
        }
    }
}

#[derive(Debug, Clone)]
struct Host {
    name: String,
    roles: Vec<&'static str>,
    fams: Fams,
    index: usize,
    group: Option<String>,
    router_id: Option<String>,
    drain: bool,
    description: Option<String>,
}

impl Host {
    fn v4(&self) -> Option<String> {
        self.fams
            .v4
            .then(|| format!("198.18.{}.{}", 1 + self.index / 200, self.index % 200 + 1))
    }
    fn v6(&self) -> Option<String> {
        self.fams.v6.then(|| {
            format!(
                "2001:db8:ff:{:x}::{:x}",
                1 + self.index / 200,
                self.index % 200 + 1
            )
        })
    }
    fn has(&self, role: &str) -> bool {
        self.roles.contains(&role)
    }
}

/// One backend of a haproxy service.
#[derive(Debug, Clone)]
struct Backend {
    host: String,
    long: bool,
    port: Option<u16>,
    weight: Option<u16>,
    backup: bool,
    drain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tpl {
    Http,
    Https,
    L4,
    Anycast,
}

impl Tpl {
    fn name(self) -> &'static str {
        match self {
            Tpl::Http => "http-web",
            Tpl::Https => "https-web",
            Tpl::L4 => "l4",
            Tpl::Anycast => "anycast-node",
        }
    }
}

/// What the templates of a site fix (decided once per site).
#[derive(Debug, Clone)]
struct Templates {
    enabled: BTreeSet<&'static str>,
    http_port: u16,
    http_client_ip: &'static str,
    http_path: &'static str,
    https_redirect: bool,
    l4_passthrough: bool,
}

const DESCRIPTIONS: &[&str] = &[
    "Main website",
    "Staff intranet (campus only)",
    "it's \"quoted\" \\ back${slash} #1 ; {braces} % é ü 日本",
    "Hardware swap, ticket NET-4711",
    "no",
    "a: colon, [brackets] and 'single' quotes",
    "100% <html> & ampersand `tick`",
];
const CERTS: &[&str] = &[
    "campus-wildcard.pem",
    "site_2024.pem",
    "www-example.edu.pem",
];
const NOTIFY: &[&str] = &["netops", "webteam", "oncall"];
const BALANCES: &[&str] = &["roundrobin", "leastconn", "source", "first"];
const METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];
const HTTP_PATHS: &[&str] = &["/healthz", "/", "/status?full=1", "/api/v1/health%20check"];
const TIMEOUTS: &[&str] = &["750ms", "5s", "30s", "10m", "1h"];
const V4_ALLOW: &[&str] = &[
    "0.0.0.0/0",
    "198.18.0.0/15",
    "203.0.113.0/24",
    "192.0.2.128/25",
];
const V6_ALLOW: &[&str] = &["::/0", "2001:db8:ff::/48", "2001:db8:abcd::/64"];

fn duration(ms: u32) -> String {
    if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Check timings: interval and timeout together (timeout shorter), rise, fall.
fn timings(c: &mut impl Choices, m: &mut M) {
    if c.chance(50) {
        let interval: u32 = *c.pick(&[1000, 2000, 3000, 5000, 10_000, 60_000]);
        let timeouts: Vec<u32> = [200, 500, 800, 1000, 1500]
            .into_iter()
            .filter(|t| *t < interval)
            .collect();
        let timeout = *c.pick(&timeouts);
        m.set("interval", plain(duration(interval)));
        m.set("timeout", plain(duration(timeout)));
    }
    if c.chance(40) {
        let most = if c.chance(10) { 100 } else { 5 };
        m.set("rise", plain(c.range(1, most)));
    }
    if c.chance(40) {
        let most = if c.chance(10) { 100 } else { 5 };
        m.set("fall", plain(c.range(1, most)));
    }
}

fn port_y(c: &mut impl Choices) -> Y {
    plain(*c.pick(&[80u16, 443, 8080, 5666, 65535, 1, 3306]))
}

/// A check kind block: `(key, value)`; `http` only when `http_ok`.
fn check_kind(c: &mut impl Choices, http_ok: bool, web_names: &[String]) -> Option<(String, Y)> {
    let kinds: &[&str] = if http_ok {
        &["none", "http", "tcp", "tls", "command"]
    } else {
        &["none", "tcp", "tls", "command"]
    };
    match *c.pick(kinds) {
        "http" => {
            let mut m = M::default();
            if c.chance(70) {
                m.set("path", text(*c.pick(HTTP_PATHS)));
            }
            if c.chance(40) {
                m.set("expect", plain(*c.pick(&[200u16, 204, 301, 401, 100, 599])));
            }
            if c.chance(30) {
                let host = web_names
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "health.example.edu".to_owned());
                m.set("host", text(host));
            }
            if c.chance(30) {
                m.set("method", plain(*c.pick(METHODS)));
            }
            if c.chance(20) {
                m.set("port", port_y(c));
            }
            Some(("http".to_owned(), m.y()))
        }
        "tcp" => {
            let mut m = M::default();
            if c.chance(50) {
                m.set("port", port_y(c));
            }
            Some(("tcp".to_owned(), m.y()))
        }
        "tls" => {
            let mut m = M::default();
            if c.chance(50) {
                m.set(
                    "sni",
                    text(*c.pick(&["ldap.example.edu", "www.example.edu."])),
                );
            }
            if c.chance(50) {
                m.set("port", port_y(c));
            }
            Some(("tls".to_owned(), m.y()))
        }
        "command" => {
            let argv: &[&str] = match c.below(4) {
                0 => &["check_tcp", "-H", "{vip}", "-p", "{port}"],
                1 => &["check_dns", "-H", "www.example.edu", "-s", "{vip}"],
                2 => &[
                    "/usr/lib/nagios/plugins/check_http",
                    "-I",
                    "{address}",
                    "-u",
                    "/x?a=1&b={unknown}",
                ],
                _ => &["check_dummy", "0", "it's \"ok\" $HOME \\ ; #"],
            };
            Some(("command".to_owned(), list(argv.iter(), |a| text(*a))))
        }
        _ => None,
    }
}

struct Gen<'c, C: Choices> {
    c: &'c mut C,
    hosts: Vec<Host>,
    next_v4_vip: usize,
    next_v6_vip: usize,
    next_port: u16,
    next_router_id: usize,
    second_v4_prefix: bool,
    /// `defaults.allow` lists both families (then `allow+:` keeps both).
    defaults_allow: bool,
}

impl<C: Choices> Gen<'_, C> {
    fn host(&mut self, name: String, roles: Vec<&'static str>, fams: Fams) -> usize {
        let index = self.hosts.len();
        let speaker = roles
            .iter()
            .any(|r| matches!(*r, "balancer" | "route-reflector" | "anycast-node"));
        let router_id = if speaker && (!fams.v4 || self.c.chance(10)) {
            self.next_router_id += 1;
            Some(format!("198.18.250.{}", self.next_router_id))
        } else {
            None
        };
        let description = self
            .c
            .chance(15)
            .then(|| (*self.c.pick(DESCRIPTIONS)).to_owned());
        self.hosts.push(Host {
            name,
            roles,
            fams,
            index,
            group: None,
            router_id,
            drain: false,
            description,
        });
        index
    }

    fn vips(&mut self, fams: Fams) -> Vec<String> {
        let mut out = Vec::new();
        if fams.v4 {
            let n = self.next_v4_vip;
            self.next_v4_vip += 1;
            out.push(if n < 254 || !self.second_v4_prefix {
                format!("192.0.2.{}", n % 254 + 1)
            } else {
                format!("198.51.100.{}", (n - 254) % 254 + 1)
            });
        }
        if fams.v6 {
            self.next_v6_vip += 1;
            out.push(format!("2001:db8:100::{:x}", self.next_v6_vip));
        }
        out
    }

    /// A port no other service uses (frontend or backend): L4 services never share a backend
    /// port by accident (`SI057`).
    fn unique_port(&mut self) -> u16 {
        self.next_port += 1;
        self.next_port
    }

    fn fams_choice(&mut self, allowed: Fams) -> Fams {
        let mut options = Vec::new();
        if allowed.v4 && allowed.v6 {
            options.extend([Fams::DUAL, Fams::DUAL]);
        }
        if allowed.v4 {
            options.push(Fams::V4);
        }
        if allowed.v6 {
            options.push(Fams::V6);
        }
        *self.c.pick(&options)
    }

    fn allow(&mut self, fams: Fams) -> Y {
        let mut items = Vec::new();
        if fams.v4 {
            items.push(text(*self.c.pick(V4_ALLOW)));
        }
        if fams.v6 {
            items.push(text(*self.c.pick(V6_ALLOW)));
        }
        if self.c.chance(20) {
            items.push(text("198.18.0.0/15"));
            if fams.v6 {
                items.push(text("2001:db8:ff::/48"));
            }
        }
        let mut seen = BTreeSet::new();
        items.retain(|y| seen.insert(format!("{y:?}")));
        Y::List(items)
    }
}

/// One service as generated: its YAML and the facts the drain pass needs.
struct Svc {
    name: String,
    anycast: bool,
    group: String,
    body: M,
    backends: Vec<Backend>,
    nodes: Vec<String>,
    drain: Vec<String>,
}

/// Generates a valid site.
pub fn generate(c: &mut impl Choices) -> GeneratedSite {
    let mut g = Gen {
        c,
        hosts: Vec::new(),
        next_v4_vip: 0,
        next_v6_vip: 0,
        next_port: 20_000,
        next_router_id: 0,
        second_v4_prefix: false,
        defaults_allow: false,
    };
    let mut summary = String::new();

    // Topology.
    let anycast_only = g.c.chance(12);
    let groups: Vec<String> = if anycast_only {
        Vec::new()
    } else {
        let n = g.c.range(1, 4);
        ["default", "edge", "dmz", "g4"][..n]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    };
    let rr_count = g.c.range(1, 2);
    for i in 1..=rr_count {
        let fams = if i == 1 || g.c.chance(60) {
            Fams::DUAL
        } else {
            Fams::V4
        };
        let mut roles = vec!["route-reflector"];
        // Two monitoring hosts form one Icinga2 HA zone: both must have the same families, else
        // the family only one has goes unchecked (SI060).
        if g.c.chance(10)
            && !g
                .hosts
                .iter()
                .any(|h| h.has("monitoring") && h.fams != fams)
        {
            roles.push("monitoring");
        }
        g.host(format!("rr{i}"), roles, fams);
    }
    let mut any_v6_only_balancer = false;
    for group in &groups {
        let n = g.c.range(1, 3);
        let mut shared = Fams::DUAL;
        for i in 1..=n {
            let mut fams = match g.c.below(8) {
                0 => Fams::V4,
                1 => Fams::V6,
                _ => Fams::DUAL,
            };
            // The group's balancers share a family, which its services' VIPs use.
            if !shared.and(fams).v4 && !shared.and(fams).v6 {
                fams = Fams::DUAL;
            }
            shared = shared.and(fams);
            any_v6_only_balancer |= fams == Fams::V6;
            let h = g.host(format!("lb-{group}{i}"), vec!["balancer"], fams);
            if let Some(host) = g.hosts.get_mut(h) {
                host.group = (group != "default" || g.c.chance(30)).then(|| group.clone());
            }
        }
    }
    let node_count = if anycast_only {
        g.c.range(1, 4)
    } else {
        g.c.range(0, 4)
    };
    for i in 1..=node_count {
        let fams = match g.c.below(6) {
            0 => Fams::V4,
            1 => Fams::V6,
            _ => Fams::DUAL,
        };
        g.host(format!("node{i}"), vec!["anycast-node"], fams);
    }
    let web_count = if anycast_only { 0 } else { g.c.range(1, 4) };
    let backend_fams = |c: &mut dyn FnMut() -> bool| {
        if !any_v6_only_balancer && c() {
            Fams::V4
        } else {
            Fams::DUAL
        }
    };
    for i in 1..=web_count {
        let fams = backend_fams(&mut || g.c.chance(15));
        let mut roles = vec!["web"];
        if g.c.chance(15) {
            roles.push("backend");
        }
        g.host(format!("web{i}"), roles, fams);
    }
    let backend_count = if anycast_only { 0 } else { g.c.range(1, 3) };
    for i in 1..=backend_count {
        let fams = backend_fams(&mut || g.c.chance(15));
        g.host(format!("app{i}"), vec!["backend"], fams);
    }
    let monitored = g.hosts.iter().any(|h| h.has("monitoring")) || g.c.chance(92);
    if !g.hosts.iter().any(|h| h.has("monitoring")) && monitored {
        let fams = if g.c.chance(80) { Fams::DUAL } else { Fams::V4 };
        g.host("mon1".to_owned(), vec!["monitoring"], fams);
    }
    g.second_v4_prefix = g.c.chance(30);

    // Templates and defaults.
    let tpl = Templates {
        enabled: [Tpl::Http, Tpl::Https, Tpl::L4, Tpl::Anycast]
            .into_iter()
            .filter(|_| g.c.chance(50))
            .map(Tpl::name)
            .collect(),
        http_port: 8080,
        http_client_ip: Clone::clone(g.c.pick(&["none", "proxy-protocol", "x-forwarded-for"])),
        http_path: Clone::clone(g.c.pick(HTTP_PATHS)),
        https_redirect: g.c.chance(60),
        l4_passthrough: g.c.chance(50),
    };
    let defaults_allow = g.c.chance(40);
    g.defaults_allow = defaults_allow;
    let mut defaults = M::default();
    let mut defaults_check = M::default();
    timings(g.c, &mut defaults_check);
    if !defaults_check.is_empty() {
        defaults.set("check", defaults_check.y());
    }
    if defaults_allow {
        defaults.set("allow", list(["0.0.0.0/0", "::/0"], text));
    }
    if g.c.chance(20) {
        defaults.set(
            "monitoring",
            M::default()
                .set("notify", list([*g.c.pick(NOTIFY)], text))
                .clone()
                .y(),
        );
    }
    let mut dh = M::default();
    if g.c.chance(40) {
        dh.set("balance", plain(*g.c.pick(BALANCES)));
    }
    if g.c.chance(40) {
        let mut t = M::default();
        t.set("connect", plain(*g.c.pick(TIMEOUTS)));
        t.set("client", plain(*g.c.pick(TIMEOUTS)));
        t.set("server", plain(*g.c.pick(TIMEOUTS)));
        dh.set("timeouts", t.y());
    }
    if g.c.chance(20) {
        dh.set("maxconn", plain(g.c.range(1, 1_000_000)));
    }
    if !dh.is_empty() && !anycast_only {
        defaults.set("haproxy", dh.y());
    }
    let mut da = M::default();
    let mut dac = M::default();
    timings(g.c, &mut dac);
    if !dac.is_empty() {
        da.set("check", dac.y());
    }
    if !da.is_empty() {
        defaults.set("anycast", da.y());
    }

    // Services: every group gets at least one; then more of either kind.
    let nodes: Vec<usize> = (0..g.hosts.len())
        .filter(|i| g.hosts.get(*i).is_some_and(|h| h.has("anycast-node")))
        .collect();
    let most = if g.c.chance(10) { 14 } else { 5 };
    let extra = g.c.range(0, most);
    let mut plan: Vec<Option<String>> = groups.iter().cloned().map(Some).collect();
    for _ in 0..extra {
        let anycast = !nodes.is_empty() && (groups.is_empty() || g.c.chance(35));
        if anycast {
            plan.push(None);
        } else if !groups.is_empty() {
            plan.push(Some(g.c.pick(&groups).clone()));
        }
    }
    if !nodes.is_empty() && !plan.iter().any(Option::is_none) {
        plan.push(None);
    }
    let mut services: Vec<Svc> = Vec::new();
    let mut used_templates: BTreeSet<&'static str> = BTreeSet::new();
    for (i, group) in plan.iter().enumerate() {
        let name = format!("svc{}", i + 1);
        let svc = match group {
            Some(group) => haproxy_service(&mut g, &tpl, &mut used_templates, name, group),
            None => anycast_service(&mut g, &tpl, &mut used_templates, name, &nodes),
        };
        services.push(svc);
    }

    // Anycast nodes no service uses would be idle: give them to a service they can carry.
    let node_names: Vec<String> = nodes
        .iter()
        .filter_map(|i| g.hosts.get(*i).map(|h| h.name.clone()))
        .collect();
    let fams_of = |hosts: &[Host], n: &str| hosts.iter().find(|h| h.name == n).map(|h| h.fams);
    for n in &node_names {
        if services.iter().any(|s| s.nodes.contains(n)) {
            continue;
        }
        let Some(f) = fams_of(&g.hosts, n) else {
            continue;
        };
        let carrier = services.iter_mut().find(|s| s.anycast && svc_fams_ok(s, f));
        match carrier {
            Some(s) => s.nodes.push(n.clone()),
            None => g.hosts.retain(|h| &h.name != n),
        }
    }

    drains(&mut g, &mut services);

    // Emit.
    let mut site = M::default();
    site.set(
        "name",
        plain(*g.c.pick(&[
            "generated",
            "campus-x",
            "a",
            "site-with-a-long-name-of-forty-eight-characters1",
        ])),
    );
    site.set(
        "asn",
        plain(if g.c.chance(20) {
            4_200_000_000 + g.c.below(1000) as u64
        } else {
            64_512 + g.c.below(1000) as u64
        }),
    );
    let mut prefixes = vec![text("192.0.2.0/24"), text("2001:db8:100::/48")];
    if g.second_v4_prefix {
        prefixes.insert(1, text("198.51.100.0/24"));
    }
    site.set("anycast_prefixes", Y::List(prefixes));
    if g.c.chance(50) {
        let mut bgp = M::default();
        if g.c.chance(30) {
            bgp.set("cluster_id", plain("198.18.251.1"));
        }
        if g.c.chance(40) {
            let hold = g.c.range(3, 90);
            bgp.set("hold_time", plain(hold));
            bgp.set("keepalive_time", plain(g.c.range(1, hold / 3)));
        }
        if g.c.chance(30) {
            bgp.set("connect_delay_time", plain(g.c.range(1, 30)));
        }
        if g.c.chance(60) {
            let mut ups = Vec::new();
            let asn = *g.c.pick(&[65000u64, 4_200_000_001]);
            ups.push(
                M::default()
                    .set("name", plain("core1"))
                    .set("address", text("198.18.0.254"))
                    .set("asn", plain(asn))
                    .clone()
                    .y(),
            );
            if g.c.chance(50) {
                ups.push(
                    M::default()
                        .set("name", plain("core1-v6"))
                        .set("address", text("2001:db8:ff::fe"))
                        .set("asn", plain(asn))
                        .clone()
                        .y(),
                );
            }
            bgp.set("upstreams", Y::List(ups));
        }
        if !bgp.is_empty() {
            site.set("bgp", bgp.y());
        }
    }
    if g.c.chance(30) {
        // The versions the daemon checks run (Debian 12): newer ones may use other syntax.
        let mut v = M::default();
        v.set("haproxy", text("2.6"))
            .set("bird", text("2.0"))
            .set("nftables", text("1.0"))
            .set("icinga2", text("2.13"))
            .set("apache", text("2.4"));
        site.set("versions", v.y());
    }
    if g.c.chance(60) {
        let n = g.c.range(1, 2);
        site.set(
            "monitoring",
            M::default()
                .set("notify", list(NOTIFY[..n].iter(), |s| text(*s)))
                .clone()
                .y(),
        );
    }
    if g.c.chance(30) {
        let mut p = M::default();
        if g.c.chance(60) {
            p.set("tls_certificates", text("/etc/ssl/private/haproxy/"));
        }
        p.set("plugins", text("/usr/lib/nagios/plugins"));
        site.set("paths", p.y());
    }

    let mut hosts = M::default();
    for h in &g.hosts {
        let mut m = M::default();
        m.set("roles", list(h.roles.iter(), |r| plain(*r)));
        if let Some(a) = h.v4() {
            m.set("ipv4", plain(a));
        }
        if let Some(a) = h.v6() {
            m.set("ipv6", text(a));
        }
        if let Some(gr) = &h.group {
            m.set("group", plain(gr));
        }
        if let Some(r) = &h.router_id {
            m.set("router_id", plain(r));
        }
        if h.drain {
            m.set("drain", plain("true"));
        } else if g.c.chance(5) {
            m.set("drain", plain("false"));
        }
        if let Some(d) = &h.description {
            m.set("description", text(d.clone()));
        }
        hosts.set(&h.name, m.y());
    }

    let mut templates = M::default();
    for t in [Tpl::Http, Tpl::Https, Tpl::L4, Tpl::Anycast] {
        if !used_templates.contains(t.name()) {
            continue;
        }
        let mut m = M::default();
        match t {
            Tpl::Http => {
                m.set("balancing", plain("haproxy"))
                    .set("mode", plain("http"))
                    .set("ports", list(["80/tcp"], plain))
                    .set("backend_port", plain(tpl.http_port))
                    .set("client_ip", plain(tpl.http_client_ip))
                    .set(
                        "check",
                        M::default()
                            .set(
                                "http",
                                M::default().set("path", text(tpl.http_path)).clone().y(),
                            )
                            .clone()
                            .y(),
                    );
            }
            Tpl::Https => {
                m.set("extends", plain("http-web"))
                    .set("ports", list(["80/tcp", "443/tcp"], plain))
                    .set(
                        "tls",
                        M::default()
                            .set("mode", plain("terminate"))
                            .set("certificate", text(CERTS[0]))
                            .set("ports", list([443], plain))
                            .set("redirect_http", plain(tpl.https_redirect))
                            .clone()
                            .y(),
                    );
            }
            Tpl::L4 => {
                m.set("balancing", plain("haproxy"))
                    .set("mode", plain("tcp"))
                    .set("balance", plain("leastconn"))
                    .set(
                        "timeouts",
                        M::default()
                            .set("client", plain("10m"))
                            .set("server", plain("10m"))
                            .clone()
                            .y(),
                    );
                if tpl.l4_passthrough {
                    m.set(
                        "tls",
                        M::default().set("mode", plain("passthrough")).clone().y(),
                    );
                }
            }
            Tpl::Anycast => {
                m.set("balancing", plain("anycast")).set(
                    "check",
                    M::default()
                        .set("interval", plain("1s"))
                        .set("timeout", plain("500ms"))
                        .set("tcp", M::default().y())
                        .clone()
                        .y(),
                );
            }
        }
        if g.c.chance(20) {
            m.set("description", text(format!("template {}", t.name())));
        }
        templates.set(t.name(), m.y());
    }
    // `https-web` extends `http-web`: that one is used too.

    // Deployment settings (`site.deploy`, `services.*.deploy`), drawn after everything else so
    // that a seed's site up to here does not depend on them. They change what `apply` and
    // `rollout` do, not the rendered files, and must stay valid to the linter.
    if g.c.chance(30) {
        let mut d = M::default();
        if g.c.chance(50) {
            d.set("min_announcers", plain(g.c.range(0, 2)));
        }
        if g.c.chance(50) {
            d.set("max_in_flight", plain(g.c.range(1, 3)));
        }
        if g.c.chance(50) {
            d.set("withdraw_timeout", plain(*g.c.pick(&["15s", "30s", "1m"])));
            d.set(
                "withdraw_settle",
                plain(*g.c.pick(&["100ms", "500ms", "2s"])),
            );
            d.set("announce_timeout", plain(*g.c.pick(&["5s", "20s", "1m"])));
        }
        if g.c.chance(50) {
            d.set("bird_undo_timeout", plain(*g.c.pick(&["1s", "90s", "2m"])));
            d.set("bird_socket", text("/run/bird/bird.ctl"));
        }
        if g.c.chance(50) {
            d.set("haproxy_master_socket", text("/run/haproxy-master.sock"));
            d.set(
                "haproxy_reload",
                list(["systemctl", "reload", "haproxy.service"], text),
            );
        }
        if g.c.chance(50) {
            d.set(
                "apache_reload",
                list(["/usr/sbin/apache2ctl", "graceful"], text),
            );
            d.set(
                "icinga2_reload",
                list(["systemctl", "reload", "icinga2.service"], text),
            );
            d.set(
                "healthchecker_restart",
                list(
                    ["systemctl", "restart", "anycast-healthchecker@main.service"],
                    text,
                ),
            );
        }
        site.set("deploy", d.y());
    }
    // Which upstreams are inside the site, and how far each service is announced. `announce:
    // site` only where every upstream says it is inside, so that each family's VIPs reach a
    // router (else SI058 warns, which a generated site must not).
    let mut all_inside = true;
    if let Some((_, Y::Map(bgp))) = site.0.iter_mut().find(|(k, _)| k == "bgp")
        && let Some((_, Y::List(ups))) = bgp.iter_mut().find(|(k, _)| k == "upstreams")
    {
        for up in ups.iter_mut() {
            let Y::Map(entries) = up else { continue };
            let inside = g.c.chance(40).then(|| g.c.chance(70));
            if let Some(inside) = inside {
                entries.push(("internal".to_owned(), plain(inside)));
            }
            all_inside &= inside == Some(true);
        }
    }
    for svc in services.iter_mut() {
        if g.c.chance(15) {
            let scope = if all_inside {
                *g.c.pick(&["site", "upstream"])
            } else {
                "upstream"
            };
            svc.body.set("announce", plain(scope));
        }
    }
    for svc in services.iter_mut() {
        if g.c.chance(10) {
            let mut d = M::default();
            if g.c.chance(50) {
                d.set("min_announcers", plain(g.c.range(0, 1)));
            } else {
                d.set("max_in_flight", plain(g.c.range(1, 4)));
            }
            svc.body.set("deploy", d.y());
        }
    }

    let mut top_site = M::default();
    top_site.set("site", site.y());
    if !defaults.is_empty() {
        top_site.set("defaults", defaults.y());
    }
    if !templates.is_empty() {
        top_site.set("templates", templates.y());
    }
    let mut fields = BTreeSet::new();
    let mut files = Vec::new();
    let mut file = |path: &str, m: M, fields: &mut BTreeSet<String>| {
        let y = m.y();
        collect_fields("", &y, fields);
        let mut text = String::from("# generated by svcintent-tests random_site\n");
        if let Y::Map(entries) = &y {
            emit(&mut text, 0, entries);
        }
        files.push((path.to_owned(), text));
    };
    file("site.yaml", top_site, &mut fields);
    let mut h = M::default();
    h.set("hosts", hosts.y());
    file("hosts.yaml", h, &mut fields);
    let parts = g.c.range(1, 3).min(services.len().max(1));
    let per = services.len().div_ceil(parts).max(1);
    for (k, chunk) in services.chunks(per).enumerate() {
        let mut s = M::default();
        for svc in chunk {
            s.set(&svc.name, svc.body.clone().y());
        }
        let mut top = M::default();
        top.set("services", s.y());
        file(&format!("services/part{k}.yaml"), top, &mut fields);
    }
    let haproxy_count = services.iter().filter(|s| !s.anycast).count();
    let _ = write!(
        summary,
        "{} groups, {} haproxy and {} anycast services, {} hosts",
        groups.len(),
        haproxy_count,
        services.len() - haproxy_count,
        g.hosts.len()
    );
    GeneratedSite {
        files,
        fields,
        monitored,
        edited_line: false,
        summary,
    }
}

/// Whether a node of families `f` can announce every VIP of `s`.
fn svc_fams_ok(s: &Svc, f: Fams) -> bool {
    let Some((_, Y::List(vips))) = s.body.0.iter().find(|(k, _)| k == "vips") else {
        return false;
    };
    vips.iter().all(|v| match v {
        Y::Plain(a) | Y::Str(a) => {
            if a.contains(':') {
                f.v6
            } else {
                f.v4
            }
        }
        _ => false,
    })
}

fn backends_y(backends: &[Backend]) -> Y {
    list(backends.iter(), |b| {
        if !b.long {
            return plain(&b.host);
        }
        let mut m = M::default();
        m.set("host", plain(&b.host));
        if let Some(p) = b.port {
            m.set("port", plain(p));
        }
        if let Some(w) = b.weight {
            m.set("weight", plain(w));
        }
        if b.backup {
            m.set("backup", plain("true"));
        }
        if b.drain {
            m.set("drain", plain("true"));
        }
        m.y()
    })
}

fn haproxy_service<C: Choices>(
    g: &mut Gen<'_, C>,
    tpl: &Templates,
    used: &mut BTreeSet<&'static str>,
    name: String,
    group: &str,
) -> Svc {
    let balancers: Vec<Host> = g
        .hosts
        .iter()
        .filter(|h| h.has("balancer") && h.group.as_deref().unwrap_or("default") == group)
        .cloned()
        .collect();
    let group_fams = balancers.iter().fold(Fams::DUAL, |acc, h| acc.and(h.fams));
    let webs: Vec<String> = g
        .hosts
        .iter()
        .filter(|h| h.has("web"))
        .map(|h| h.name.clone())
        .collect();
    let others: Vec<String> = g
        .hosts
        .iter()
        .filter(|h| h.has("web") || h.has("backend"))
        .map(|h| h.name.clone())
        .collect();

    // Which template, if any: it fixes mode and more.
    let mut options: Vec<Option<Tpl>> = vec![None, None];
    for t in [Tpl::Http, Tpl::Https, Tpl::L4] {
        if tpl.enabled.contains(t.name()) && (t == Tpl::L4 || !webs.is_empty()) {
            options.push(Some(t));
        }
    }
    let template = *g.c.pick(&options);
    let mut body = M::default();
    if let Some(t) = template {
        used.insert(t.name());
        if t == Tpl::Https {
            used.insert(Tpl::Http.name());
        }
        if g.c.chance(20) {
            body.set("extends", list([t.name()], plain));
        } else {
            body.set("extends", plain(t.name()));
        }
    } else if g.c.chance(20) {
        body.set("balancing", plain("haproxy"));
    }
    if g.c.chance(30) {
        body.set("description", text(*g.c.pick(DESCRIPTIONS)));
    }
    if group != "default" || g.c.chance(15) {
        body.set("group", plain(group));
    }
    let fams = g.fams_choice(group_fams);
    let vips = g.vips(fams);
    body.set("vips", list(vips, text));

    let http = match template {
        Some(Tpl::Http | Tpl::Https) => true,
        Some(Tpl::L4) => false,
        _ => g.c.chance(55),
    };
    let web = match template {
        Some(Tpl::Http | Tpl::Https) => true,
        Some(_) => false,
        None => http && !webs.is_empty() && g.c.chance(70),
    };
    if template.is_none() {
        body.set("mode", plain(if http { "http" } else { "tcp" }));
    }

    // Ports, TLS, client address.
    let mut backend_port: Option<u16> = None;
    let mut client_ip;
    let mut tls_plain_port = false;
    match template {
        Some(t @ (Tpl::Http | Tpl::Https)) => {
            backend_port = Some(tpl.http_port);
            client_ip = tpl.http_client_ip;
            let mut extra_ports = Vec::new();
            if g.c.chance(25) {
                extra_ports.push(format!("{}/tcp", 8000 + g.c.below(100)));
            }
            if t == Tpl::Https && g.c.chance(25) {
                extra_ports.push("8443/tcp".to_owned());
                body.set(
                    "tls",
                    M::default().set("ports+", list([8443], plain)).clone().y(),
                );
            }
            if !extra_ports.is_empty() {
                body.set("ports+", list(extra_ports, plain));
            }
            if g.c.chance(15) {
                // Its own vhost port: then it may pass the client address its own way.
                let p = g.unique_port();
                backend_port = Some(p);
                body.set("backend_port", plain(p));
                if g.c.chance(50) {
                    body.set("client_ip", Y::Null);
                    client_ip = "none";
                } else {
                    client_ip = *g.c.pick(&[
                        "none",
                        "proxy-protocol",
                        "proxy-protocol-v1",
                        "proxy-protocol-v2",
                        "x-forwarded-for",
                    ]);
                    body.set("client_ip", plain(client_ip));
                }
            }
        }
        _ => {
            let many = g.c.chance(15);
            let n = if many {
                g.c.range(5, 16)
            } else {
                g.c.range(1, 3)
            };
            let mut ports: Vec<u16> = Vec::new();
            let tls_mode = if http {
                *g.c.pick(&["none", "none", "terminate"])
            } else if template == Some(Tpl::L4) && tpl.l4_passthrough {
                "passthrough"
            } else {
                *g.c.pick(&["none", "terminate", "passthrough"])
            };
            if http && g.c.chance(60) {
                ports.push(80);
                tls_plain_port = true;
            }
            if tls_mode == "terminate" {
                ports.push(443);
            }
            while ports.len() < n {
                let p = g.unique_port();
                ports.push(p);
                tls_plain_port |= http;
            }
            body.set(
                "ports",
                list(ports.iter().enumerate(), |(k, p)| {
                    if k % 2 == 0 {
                        plain(format!("{p}/tcp"))
                    } else {
                        plain(*p)
                    }
                }),
            );
            if tls_mode != "none" || g.c.chance(10) {
                let mut t = M::default();
                if tls_mode != "passthrough" || template != Some(Tpl::L4) {
                    t.set("mode", plain(tls_mode));
                }
                if tls_mode == "terminate" {
                    t.set("certificate", text(*g.c.pick(CERTS)));
                    if g.c.chance(50) {
                        t.set("ports", list([443], plain));
                    }
                    if http && tls_plain_port && g.c.chance(50) {
                        t.set("redirect_http", plain("true"));
                    } else if g.c.chance(20) {
                        t.set("redirect_http", plain("false"));
                    }
                }
                if !t.is_empty() {
                    body.set("tls", t.y());
                }
            }
            client_ip = if http {
                *g.c.pick(&[
                    "none",
                    "proxy-protocol",
                    "proxy-protocol-v1",
                    "proxy-protocol-v2",
                    "x-forwarded-for",
                ])
            } else {
                *g.c.pick(&[
                    "none",
                    "proxy-protocol",
                    "proxy-protocol-v1",
                    "proxy-protocol-v2",
                ])
            };
            if client_ip != "none" || g.c.chance(20) {
                body.set("client_ip", plain(client_ip));
            }
            // Every web vhost and every L4 service gets a port of its own on the backends.
            let shared_port = ports.iter().any(|p| *p < 20_000);
            if web || shared_port || g.c.chance(70) {
                let p = g.unique_port();
                backend_port = Some(p);
                body.set("backend_port", plain(p));
            }
        }
    }
    let _ = client_ip;

    // Settings.
    if g.c.chance(30) {
        body.set("balance", plain(*g.c.pick(BALANCES)));
    }
    if g.c.chance(20) {
        body.set("maxconn", plain(g.c.range(1, 1_000_000)));
    }
    if g.c.chance(25) {
        let mut t = M::default();
        for k in ["connect", "client", "server"] {
            if g.c.chance(60) {
                t.set(k, plain(*g.c.pick(TIMEOUTS)));
            }
        }
        if !t.is_empty() {
            body.set("timeouts", t.y());
        }
    }
    if g.c.chance(60) {
        body.set("allow", g.allow(fams));
    } else if g.defaults_allow && g.c.chance(20) {
        body.set("allow+", list(["198.18.0.0/15"], text));
    }

    // Backends: web hosts for a vhost, any web or backend host otherwise.
    let pool = if web { &webs } else { &others };
    let mut chosen: Vec<String> = pool.clone();
    while chosen.len() > 1 && g.c.chance(40) {
        let k = g.c.below(chosen.len());
        chosen.remove(k);
    }
    let mut backends: Vec<Backend> = Vec::new();
    for (k, host) in chosen.iter().enumerate() {
        let long = g.c.chance(35);
        let mut b = Backend {
            host: host.clone(),
            long,
            port: None,
            weight: None,
            backup: false,
            drain: false,
        };
        if long {
            if !web && backend_port.is_none() && g.c.chance(40) {
                b.port = Some(g.unique_port());
            } else if web && g.c.chance(20) {
                b.port = backend_port;
            }
            if g.c.chance(40) {
                b.weight = Some(if k == 0 {
                    g.c.range(1, 256)
                } else {
                    g.c.range(0, 256)
                } as u16);
            }
            b.backup = k > 0 && g.c.chance(25);
            b.drain = k > 0 && g.c.chance(15);
        }
        backends.push(b);
    }

    // Check: http only in mode http; a template's http check is kept, its timings may change.
    let names: Vec<String> = vec![format!("{name}.example.edu")];
    let mut check = M::default();
    timings(g.c, &mut check);
    let mut http_path: Option<String> = None;
    if matches!(template, Some(Tpl::Http | Tpl::Https)) {
        http_path = Some(tpl.http_path.to_owned());
    } else if let Some((k, v)) = check_kind(g.c, http, &names) {
        if k == "http" {
            http_path = Some(match &v {
                Y::Map(m) => m
                    .iter()
                    .find(|(k, _)| k == "path")
                    .and_then(|(_, v)| match v {
                        Y::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "/".to_owned()),
                _ => "/".to_owned(),
            });
        }
        check.set(&k, v);
    }
    if !check.is_empty() {
        body.set("check", check.y());
    }

    if web {
        let mut w = M::default();
        let mut server_names = vec![text(format!("{name}.example.edu"))];
        if g.c.chance(40) {
            server_names.push(text(format!("{name}-alias.example.org.")));
        }
        if g.c.chance(25) {
            server_names.push(text(format!("*.{name}.example.edu")));
        }
        w.set("server_names", Y::List(server_names));
        if g.c.chance(50) {
            w.set("document_root", text(format!("/srv/www/{name}")));
        } else {
            let url = match g.c.below(4) {
                0 => "http://127.0.0.1:3000".to_owned(),
                1 => "http://[::1]:8080/app".to_owned(),
                2 => format!("http://{name}-app.example.edu/base/"),
                _ => "https://app.example.edu:8443/x_y-z".to_owned(),
            };
            w.set("proxy_to", text(url));
        }
        if let Some(p) = backend_port
            && g.c.chance(25)
        {
            w.set("listen_port", plain(p));
        }
        if let Some(p) = &http_path
            && g.c.chance(25)
        {
            w.set("health_path", text(p.clone()));
        }
        body.set("web", w.y());
    }
    if g.c.chance(15) {
        let mut m = M::default();
        if g.c.chance(50) {
            m.set("enabled", plain(!g.c.chance(30)));
        }
        m.set("notify", list([*g.c.pick(NOTIFY)], text));
        body.set("monitoring", m.y());
    }
    Svc {
        name,
        anycast: false,
        group: group.to_owned(),
        body,
        backends,
        nodes: Vec::new(),
        drain: Vec::new(),
    }
}

fn anycast_service<C: Choices>(
    g: &mut Gen<'_, C>,
    tpl: &Templates,
    used: &mut BTreeSet<&'static str>,
    name: String,
    nodes: &[usize],
) -> Svc {
    let node_hosts: Vec<Host> = nodes
        .iter()
        .filter_map(|i| g.hosts.get(*i).cloned())
        .collect();
    let first = node_hosts
        .get(g.c.below(node_hosts.len()))
        .map_or(Fams::DUAL, |h| h.fams);
    let fams = g.fams_choice(first);
    let candidates: Vec<&Host> = node_hosts.iter().filter(|h| h.fams.covers(fams)).collect();
    let mut chosen: Vec<String> = candidates.iter().map(|h| h.name.clone()).collect();
    while chosen.len() > 1 && g.c.chance(35) {
        let k = g.c.below(chosen.len());
        chosen.remove(k);
    }
    let mut body = M::default();
    let template = tpl.enabled.contains(Tpl::Anycast.name()) && g.c.chance(60);
    if template {
        used.insert(Tpl::Anycast.name());
        body.set("extends", plain(Tpl::Anycast.name()));
    } else {
        body.set("balancing", plain("anycast"));
    }
    if g.c.chance(30) {
        body.set("description", text(*g.c.pick(DESCRIPTIONS)));
    }
    let vips = g.vips(fams);
    body.set("vips", list(vips, text));
    let many = g.c.chance(15);
    let n = if many {
        g.c.range(4, 12)
    } else {
        g.c.range(1, 3)
    };
    let mut ports = Vec::new();
    for k in 0..n {
        let p = g.unique_port();
        // The first port has tcp: a tcp, http or tls check needs one (SI043).
        match if k == 0 {
            1 + g.c.below(2)
        } else {
            g.c.below(3)
        } {
            0 => ports.push(plain(format!("{p}/udp"))),
            1 => ports.push(plain(format!("{p}/tcp"))),
            _ => {
                ports.push(plain(format!("{p}/tcp")));
                ports.push(plain(format!("{p}/udp")));
            }
        }
    }
    body.set("ports", Y::List(ports));
    if g.c.chance(50) {
        body.set("allow", g.allow(fams));
    }
    let mut check = M::default();
    timings(g.c, &mut check);
    if let Some((k, v)) = check_kind(g.c, true, &[]) {
        if template && k != "tcp" {
            check.set("tcp", Y::Null);
        }
        check.set(&k, v);
    }
    if !check.is_empty() {
        body.set("check", check.y());
    }
    if g.c.chance(15) {
        let mut m = M::default();
        if g.c.chance(50) {
            m.set("enabled", plain(!g.c.chance(30)));
        }
        m.set("notify", list([*g.c.pick(NOTIFY)], text));
        body.set("monitoring", m.y());
    }
    Svc {
        name,
        anycast: true,
        group: String::new(),
        body,
        backends: Vec::new(),
        nodes: chosen,
        drain: Vec::new(),
    }
}

/// Host drains and per-service drains that leave every service served and announced, and
/// drain no host that serves nothing (`SI050`, `SI056`). Then writes `backends`, `nodes` and
/// `drain` into each service.
fn drains<C: Choices>(g: &mut Gen<'_, C>, services: &mut [Svc]) {
    // Service-level drains first.
    for s in services.iter_mut() {
        if s.anycast {
            if s.nodes.len() > 1 && g.c.chance(20) {
                let k = g.c.below(s.nodes.len());
                if let Some(n) = s.nodes.get(k) {
                    s.drain.push(n.clone());
                }
            }
        } else if s.backends.len() > 1 && g.c.chance(20) {
            let k = 1 + g.c.below(s.backends.len() - 1);
            if let Some(b) = s.backends.get(k)
                && !b.drain
            {
                s.drain.push(b.host.clone());
            }
        }
    }
    let names: Vec<String> = g.hosts.iter().map(|h| h.name.clone()).collect();
    let mut drained: BTreeSet<String> = BTreeSet::new();
    for name in names {
        if !g.c.chance(12) {
            continue;
        }
        let Some(host) = g.hosts.iter().find(|h| h.name == name).cloned() else {
            continue;
        };
        if services.iter().any(|s| s.drain.contains(&name)) {
            continue;
        }
        let mut next = drained.clone();
        next.insert(name.clone());
        let mut serves = false;
        let mut ok = true;
        if host.has("balancer") {
            let group = host.group.clone().unwrap_or_else(|| "default".to_owned());
            serves |= services.iter().any(|s| !s.anycast && s.group == group);
            ok &= g.hosts.iter().any(|h| {
                h.has("balancer")
                    && h.group.as_deref().unwrap_or("default") == group
                    && !next.contains(&h.name)
            });
        }
        for s in services.iter() {
            if s.anycast && s.nodes.contains(&name) {
                serves = true;
                ok &= s
                    .nodes
                    .iter()
                    .any(|n| !next.contains(n) && !s.drain.contains(n));
            }
            if !s.anycast && s.backends.iter().any(|b| b.host == name) {
                serves = true;
                ok &= s.backends.iter().any(|b| {
                    !next.contains(&b.host)
                        && !s.drain.contains(&b.host)
                        && !b.drain
                        && !b.backup
                        && b.weight != Some(0)
                });
            }
        }
        if serves && ok {
            drained = next;
        }
    }
    for h in &mut g.hosts {
        h.drain = drained.contains(&h.name);
    }
    for s in services.iter_mut() {
        if !s.anycast {
            // At least one backend that carries traffic: not drained, not a backup, weighted.
            let active = |b: &Backend| {
                !drained.contains(&b.host) && !s.drain.contains(&b.host) && !b.drain && !b.backup
            };
            if !s.backends.iter().any(|b| active(b) && b.weight != Some(0))
                && let Some(first) = s.backends.iter_mut().find(|b| active(b))
            {
                first.weight = None;
            }
            if !s.backends.iter().any(|b| active(b) && b.weight != Some(0)) {
                // Undo this service's own drains rather than leave it without traffic.
                s.drain.clear();
                for b in &mut s.backends {
                    b.drain = false;
                    b.backup = false;
                }
            }
            s.body.set("backends", backends_y(&s.backends));
        } else {
            s.body.set("nodes", list(s.nodes.iter(), plain));
        }
        if !s.drain.is_empty() {
            s.body.set("drain", list(s.drain.iter(), plain));
        }
    }
}

/// Every field path of the schema (`core/src/schema.rs`) the generator must cover: the site,
/// hosts and services in full; of `defaults` and `templates` their own keys. With `=word` for
/// every word of an enum field of a service or host.
pub fn schema_fields() -> BTreeSet<String> {
    use svcintent_core::schema::{self, Field, Ty};
    fn walk(path: &str, fields: &[Field], out: &mut BTreeSet<String>) {
        for f in fields {
            let p = format!("{path}.{}", f.name);
            out.insert(p.clone());
            ty(&p, &f.ty, out);
        }
    }
    fn ty(p: &str, t: &Ty, out: &mut BTreeSet<String>) {
        match t {
            Ty::Object(fields) => walk(p, fields, out),
            Ty::List(inner) => match inner {
                Ty::Object(fields) => walk(&format!("{p}[]"), fields, out),
                Ty::Either(_, Ty::Object(fields)) => walk(&format!("{p}[]"), fields, out),
                Ty::Enum(words) => {
                    for w in *words {
                        out.insert(format!("{p}={w}"));
                    }
                }
                _ => {}
            },
            Ty::Enum(words) => {
                for w in *words {
                    out.insert(format!("{p}={w}"));
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk("site", schema::SITE, &mut out);
    out.insert("site".to_owned());
    walk("hosts.*", schema::HOST, &mut out);
    walk("services.*", schema::SERVICE, &mut out);
    for f in schema::DEFAULTS_EXTRA {
        out.insert(format!("defaults.{}", f.name));
    }
    out.insert("templates.*.extends".to_owned());
    out
}
