//! Rendering: one module per target, each beside its embedded minijinja templates
//! (`core/templates/<target>/`). Every module exposes `render(&Context, &HostPlan)` returning
//! the files that host gets from that target, and registers the escaping filters for its
//! syntax. Templates run with strict undefined behaviour and no auto-escaping: each
//! interpolation is explicitly passed through its target's filter.
//!
//! Output invariants: byte-stable (sorted inputs, no timestamps), every file begins with a
//! header naming svcintent, its version and the source files it came from.

pub mod apache;
pub mod bird;
pub mod haproxy;
pub mod healthchecker;
pub mod icinga2;
pub mod loopback;
mod memo;
pub mod nftables;

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::OnceLock;

use ipnet::IpNet;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Deploy, Host, Intent};
use crate::plan::facts::{HostFacts, ServiceFacts};
use crate::plan::{Announcers, HostPlan, Plan};
use crate::source::{FileId, Sources};

/// The configuration targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// HAProxy on balancers.
    Haproxy,
    /// BIRD 2 on BGP speakers.
    Bird,
    /// anycast-healthchecker: health-driven VIP announcement.
    Healthchecker,
    /// VIPs on the loopback (systemd-networkd).
    Loopback,
    /// nftables on every host.
    Nftables,
    /// Icinga2 on monitoring hosts.
    Icinga2,
    /// Apache2 on web backends.
    Apache,
}

impl Target {
    /// Every target, in render order.
    pub const ALL: &'static [Target] = &[
        Target::Haproxy,
        Target::Bird,
        Target::Healthchecker,
        Target::Loopback,
        Target::Nftables,
        Target::Icinga2,
        Target::Apache,
    ];

    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Haproxy => "haproxy",
            Target::Bird => "bird",
            Target::Healthchecker => "healthchecker",
            Target::Loopback => "loopback",
            Target::Nftables => "nftables",
            Target::Icinga2 => "icinga2",
            Target::Apache => "apache",
        }
    }

    fn render_fn(self) -> RenderFn {
        match self {
            Target::Haproxy => haproxy::render,
            Target::Bird => bird::render,
            Target::Healthchecker => healthchecker::render,
            Target::Loopback => loopback::render,
            Target::Nftables => nftables::render,
            Target::Icinga2 => icinga2::render,
            Target::Apache => apache::render,
        }
    }
}

type RenderFn = fn(&Context<'_>, &HostPlan) -> Result<Vec<RenderedFile>, RenderError>;

/// A file for one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedFile {
    /// Host the file is for.
    pub host: String,
    /// Absolute path on the host (`/etc/haproxy/haproxy.cfg`).
    pub path: String,
    /// Target that produced it.
    pub target: Target,
    /// Contents.
    pub contents: String,
    /// Services that contributed to it, sorted.
    pub services: Vec<String>,
    /// Which service each block of lines comes from, in line order (see [`Origin`]).
    pub origins: Vec<Origin>,
}

/// The start of a block of lines that comes from one service (or from none: host-level lines).
/// A block runs up to the next origin's line; lines before the first origin are host-level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// 1-based line where the block starts.
    pub line: u32,
    /// The service, `None` for host-level lines.
    pub service: Option<String>,
}

/// Templates mark where a service's block starts with `{{ origin(name) }}` (and where
/// host-level lines resume with `{{ origin(none) }}`): the function writes `ORIGIN_OPEN name
/// ORIGIN_CLOSE`, which [`split_origins`] removes from the output after rendering, recording the
/// line. Validation keeps control characters out of every user string, so these two can only
/// come from `origin()`.
const ORIGIN_OPEN: char = '\u{1}';
const ORIGIN_CLOSE: char = '\u{2}';

fn origin_marker(service: Option<String>) -> String {
    let mut s = String::with_capacity(2 + service.as_ref().map_or(0, String::len));
    s.push(ORIGIN_OPEN);
    s.push_str(service.as_deref().unwrap_or(""));
    s.push(ORIGIN_CLOSE);
    s
}

/// Spare capacity of a rendered file worth giving back (see [`split_origins`]).
const LARGE_SPARE_CAPACITY: usize = 64 << 10;

/// Removes the origin markers from `contents`, returning the cleaned text and the origins.
/// Names that are not services (e.g. `bgp` in a firewall comment) count as host-level;
/// consecutive blocks of the same service merge. A marker without its end is a template bug.
fn split_origins(
    contents: String,
    is_service: impl Fn(&str) -> bool,
) -> Result<(String, Vec<Origin>), String> {
    // Most files have no marker at all (BIRD, loopback, the per-service files): kept as they are.
    if !contents.contains(ORIGIN_OPEN) {
        // A template's output grows by doubling: a large file gives back what it did not use
        // (a small one is dropped soon enough that a reallocation would cost more than it saves).
        let mut contents = contents;
        if contents.capacity() - contents.len() > LARGE_SPARE_CAPACITY {
            contents.shrink_to_fit();
        }
        return Ok((contents, Vec::new()));
    }
    let mut clean = String::with_capacity(contents.len());
    let mut origins: Vec<Origin> = Vec::new();
    let mut line: u32 = 1;
    let mut rest = contents.as_str();
    while let Some(open) = rest.find(ORIGIN_OPEN) {
        let (before, marked) = rest.split_at(open);
        clean.push_str(before);
        let newlines = before.bytes().filter(|b| *b == b'\n').count();
        line = line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
        let marked = marked.get(ORIGIN_OPEN.len_utf8()..).unwrap_or_default();
        let Some(close) = marked.find(ORIGIN_CLOSE) else {
            return Err("unterminated origin marker".to_owned());
        };
        let name = marked.get(..close).unwrap_or_default();
        let service = is_service(name).then(|| name.to_owned());
        let current = origins.last().map_or(&None, |o| &o.service);
        if *current != service {
            match origins.last_mut() {
                Some(last) if last.line == line => last.service = service,
                _ => origins.push(Origin { line, service }),
            }
        }
        rest = marked
            .get(close + ORIGIN_CLOSE.len_utf8()..)
            .unwrap_or_default();
    }
    clean.push_str(rest);
    if origins.first().is_some_and(|o| o.service.is_none()) {
        origins.remove(0);
    }
    Ok((clean, origins))
}

impl RenderedFile {
    /// Path in the output tree: `<host>/<path without leading slash>`.
    pub fn tree_path(&self) -> String {
        format!("{}/{}", self.host, self.path.trim_start_matches('/'))
    }
}

/// One entry of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path in the output tree.
    pub path: String,
    /// Host.
    pub host: String,
    /// Absolute path on the host.
    pub host_path: String,
    /// Target.
    pub target: Target,
    /// SHA-256 of the contents, hex.
    pub sha256: String,
    /// Services that contributed.
    pub services: Vec<String>,
    /// A state file (see [`is_state_path`]): a deployment installs it only where it is missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub state: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Whether a file at `host_path` is *state*: its daemon rewrites it at run time (the health
/// checker's prefix files; `svcintent apply`'s BIRD hold list), so the rendered contents are
/// only its initial value, installed where the file is missing and never over a running
/// daemon's. Invariant: exactly the rendered files under `/var/lib/`.
pub fn is_state_path(host_path: &str) -> bool {
    host_path.starts_with("/var/lib/")
}

/// `manifest.json`: every file of the tree, and what deploying the tree means (the facts of
/// every host and service, the site's deployment settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Generator.
    pub generator: String,
    /// Site name.
    pub site: String,
    /// Source files.
    pub sources: Vec<String>,
    /// Files, sorted by path.
    pub files: Vec<ManifestEntry>,
    /// Every host's facts (announcements, sessions, ...), by name.
    #[serde(default)]
    pub hosts: BTreeMap<String, HostFacts>,
    /// Every service's facts, by name.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceFacts>,
    /// The site's deployment settings.
    #[serde(default)]
    pub deploy: Deploy,
}

/// A rendered site.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// All files, sorted by tree path.
    pub files: Vec<RenderedFile>,
    /// The manifest.
    pub manifest: Manifest,
}

impl Output {
    /// The manifest as pretty JSON with a trailing newline (written as `manifest.json`).
    pub fn manifest_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.manifest).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// An internal rendering failure (a template bug, never bad input: input is validated first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// Target.
    pub target: Target,
    /// Host.
    pub host: String,
    /// What failed.
    pub message: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "internal error rendering {} for {}: {}",
            self.target.as_str(),
            self.host,
            self.message
        )
    }
}

/// What every target module renders from.
#[derive(Debug)]
pub struct Context<'a> {
    /// The validated intent.
    pub intent: &'a Intent,
    /// The per-host plan.
    pub plan: &'a Plan,
    /// Templates of every target, with every target's filters.
    pub env: &'static Environment<'static>,
    sources: &'a Sources,
    /// Who announces each service.
    pub announcers: Announcers<'a>,
    /// What the render keeps from one host to the next.
    shared: &'a Shared,
}

/// What a render keeps from one host to the next: the renderings shared between hosts
/// ([`Context::render_shared`]) and each source path as file headers print it. [`render`]
/// makes one; a caller that renders host by host ([`render_host`]) keeps one for the whole site.
#[derive(Debug, Default)]
pub struct Shared {
    memo: RefCell<memo::Memo>,
    /// Each source file's path as headers print it, by file id.
    header_paths: OnceCell<Vec<String>>,
    /// The health checker's dummy prefixes, once worked out.
    dummy_prefixes: OnceCell<Result<(IpNet, IpNet), String>>,
    /// The monitoring hosts' addresses, once looked up.
    monitor_addresses: OnceCell<Vec<IpAddr>>,
}

impl Shared {
    /// Forgets the renderings kept for reuse when they hold more than about `budget` bytes
    /// (between hosts, so that a streamed render's memory stays bounded). The output does not
    /// change: what is not found is rendered again.
    pub fn forget_renderings_over(&self, budget: usize) {
        if let Ok(mut memo) = self.memo.try_borrow_mut() {
            memo.forget_if_over(budget);
        }
    }

    /// About how many bytes the renderings kept for reuse hold.
    pub fn renderings_held(&self) -> usize {
        self.memo.try_borrow().map_or(0, |memo| memo.held())
    }
}

/// A shared rendering as a whole file: its text without origin markers (`None` when it has
/// none), its origins and the SHA-256 of the clean text.
#[derive(Debug, Clone)]
struct FinishedText {
    clean: Option<String>,
    origins: Vec<Origin>,
    sha256: String,
}

/// A file ready for the tree: its tree path, the file with its origins split off, and the
/// SHA-256 of its contents (hex).
#[derive(Debug, Clone)]
pub struct Finished {
    /// `<host>/<path>` ([`RenderedFile::tree_path`]).
    pub path: String,
    /// The file.
    pub file: RenderedFile,
    /// SHA-256 of `file.contents`, hex.
    pub sha256: String,
}

impl<'a> Context<'a> {
    /// The context for rendering the hosts of `plan`, keeping what is shared in `shared`.
    pub fn new(
        intent: &'a Intent,
        plan: &'a Plan,
        sources: &'a Sources,
        shared: &'a Shared,
    ) -> Self {
        Context {
            intent,
            plan,
            env: environment(),
            sources,
            announcers: Announcers::new(intent),
            shared,
        }
    }

    /// The addresses of the monitoring hosts ([`crate::plan::monitors`]), looked up once.
    pub fn monitor_addresses(&self) -> &[IpAddr] {
        self.shared.monitor_addresses.get_or_init(|| {
            crate::plan::monitors(self.intent)
                .into_iter()
                .flat_map(|m| m.addresses())
                .collect()
        })
    }

    /// The health checker's dummy prefixes ([`healthchecker::dummy_prefixes`]), worked out once.
    pub fn dummy_prefixes(&self) -> Result<(IpNet, IpNet), String> {
        self.shared
            .dummy_prefixes
            .get_or_init(|| healthchecker::dummy_prefixes(self.intent))
            .clone()
    }
}

impl Context<'_> {
    /// Renders template `name` with `ctx`, mapping errors to [`RenderError`].
    pub fn render_template<S: Serialize>(
        &self,
        target: Target,
        host: &str,
        name: &str,
        ctx: S,
    ) -> Result<String, RenderError> {
        // Converted here, rendered by one non-generic function: `Template::render` would do the
        // same conversion, and a `Value` passes through it unchanged.
        self.render_value(target, host, name, minijinja::Value::from_serialize(&ctx))
    }

    fn render_value(
        &self,
        target: Target,
        host: &str,
        name: &str,
        ctx: minijinja::Value,
    ) -> Result<String, RenderError> {
        let err = |e: minijinja::Error| RenderError {
            target,
            host: host.to_owned(),
            message: format!("{e:#}"),
        };
        let tmpl = self.env.get_template(name).map_err(err)?;
        tmpl.render(ctx).map_err(err)
    }

    /// Renders like [`Context::render_template`], but once per distinct input: a text that is
    /// identical on several hosts (a service's HAProxy section on each balancer of its group,
    /// its vhost on each backend, its check file on each announcer) is rendered once. The key is
    /// the template and the input's serde events ([`memo`]), and a template sees nothing but its
    /// converted input, so a hit returns exactly what rendering again would. The input is
    /// converted to a template value only on a miss.
    pub fn render_shared<S: Serialize>(
        &self,
        target: Target,
        host: &str,
        name: &'static str,
        ctx: &S,
    ) -> Result<String, RenderError> {
        let missing = match self.shared.memo.borrow_mut().lookup(name, ctx) {
            Ok(text) => return Ok(text.to_owned()),
            Err(missing) => missing,
        };
        let text = self.render_template(target, host, name, ctx)?;
        if let Some(key) = missing {
            self.shared.memo.borrow_mut().store(key, text.clone());
        }
        Ok(text)
    }

    /// The host definition behind a plan.
    pub fn host(&self, plan: &HostPlan) -> Option<&Host> {
        self.intent.hosts.get(&plan.name)
    }

    /// The header comment for a file, each line prefixed by `comment` (e.g. `#`).
    /// Lists the files defining the host and the contributing services.
    pub fn header(&self, comment: &str, host: &str, services: &[String]) -> String {
        let files = self
            .intent
            .hosts
            .get(host)
            .and_then(|h| h.span)
            .into_iter()
            .chain(
                services
                    .iter()
                    .filter_map(|s| self.intent.services.get(s).and_then(|s| s.span)),
            )
            .map(|span| span.file);
        // Source files are numbered in path order, so sorting ids sorts paths; two ids with the
        // same path (a request may repeat one) are listed once.
        let mut ids: Vec<FileId> = files.filter(|f| self.sources.get(*f).is_some()).collect();
        ids.sort_unstable();
        ids.dedup_by(|a, b| {
            self.sources.get(*a).map(|f| &f.path) == self.sources.get(*b).map(|f| &f.path)
        });
        let paths = self.shared.header_paths.get_or_init(|| {
            // Paths come from the file system, not the validated model: keep them on one line.
            self.sources
                .iter()
                .map(|(_, f)| {
                    f.path
                        .chars()
                        .map(|c| {
                            if crate::validate::strings::forbidden_char(c) {
                                '?'
                            } else {
                                c
                            }
                        })
                        .collect()
                })
                .collect()
        });
        let mut list = String::new();
        for path in ids.iter().filter_map(|id| paths.get(id.0 as usize)) {
            if !list.is_empty() {
                list.push_str(", ");
            }
            list.push_str(path);
        }
        if list.is_empty() {
            list.push_str("(site defaults)");
        }
        format!(
            "{comment} Generated by svcintent {} from the site {:?}. Do not edit: change the intent.\n{comment} Sources: {list}\n",
            crate::VERSION,
            self.intent.site.name,
        )
    }

    /// Makes a file rendered by a target ready for the tree: origin markers split off, contents
    /// hashed. A file that is a shared rendering as a whole (a vhost, a check file, identical on
    /// several hosts) is worked out once.
    fn finish(&self, mut file: RenderedFile) -> Result<Finished, String> {
        let is_service = |s: &str| self.intent.services.contains_key(s);
        let mut memo = self.shared.memo.borrow_mut();
        let sha256 = match memo.entry_for_text(&file.contents) {
            Some(entry) => {
                let finished = match &entry.finished {
                    Some(f) => f.clone(),
                    None => {
                        let (clean, origins) = split_origins(entry.text.clone(), is_service)?;
                        let finished = FinishedText {
                            sha256: sha256_hex(&clean),
                            clean: (clean != entry.text).then_some(clean),
                            origins,
                        };
                        entry.finished = Some(finished.clone());
                        finished
                    }
                };
                if let Some(clean) = finished.clean {
                    file.contents = clean;
                }
                file.origins = finished.origins;
                finished.sha256
            }
            None => {
                let (clean, origins) =
                    split_origins(std::mem::take(&mut file.contents), is_service)?;
                file.contents = clean;
                file.origins = origins;
                sha256_hex(&file.contents)
            }
        };
        Ok(Finished {
            path: file.tree_path(),
            file,
            sha256,
        })
    }
}

/// The templates, compiled once per process: they are constants, so a long-lived caller (the
/// browser playground, a native tool) does not parse them again on every render.
fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(new_environment)
}

fn new_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // What minijinja's own formatter writes (nothing is auto-escaped), with strings, nearly every
    // value a template prints, copied straight into the output instead of through `Display`.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(s) if value.kind() == minijinja::value::ValueKind::String => {
            out.write_str(s).map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    env.add_function("origin", origin_marker);
    haproxy::register(&mut env);
    bird::register(&mut env);
    healthchecker::register(&mut env);
    loopback::register(&mut env);
    nftables::register(&mut env);
    icinga2::register(&mut env);
    apache::register(&mut env);
    env
}

fn sha256_hex(s: &str) -> String {
    format!("{:x}", Sha256::digest(s.as_bytes()))
}

/// Every file `host` gets from every target, ready for the tree and sorted by tree path; or
/// every failure (each a bug: the intent is validated first).
pub fn render_host(cx: &Context<'_>, host: &HostPlan) -> Result<Vec<Finished>, Vec<RenderError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for target in Target::ALL {
        match (target.render_fn())(cx, host) {
            Ok(fs) => {
                for file in fs {
                    match cx.finish(file) {
                        Ok(f) => files.push(f),
                        Err(message) => errors.push(RenderError {
                            target: *target,
                            host: host.name.clone(),
                            message,
                        }),
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    crate::collect::sort_by(&mut files, |a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The manifest entry of a finished file.
pub fn manifest_entry(f: &Finished) -> ManifestEntry {
    ManifestEntry {
        path: f.path.clone(),
        host: f.file.host.clone(),
        host_path: f.file.path.clone(),
        target: f.file.target,
        sha256: f.sha256.clone(),
        services: f.file.services.clone(),
        state: is_state_path(&f.file.path),
    }
}

/// The manifest of a site whose files are `entries` (sorted by path).
pub fn manifest(intent: &Intent, plan: &Plan, entries: Vec<ManifestEntry>) -> Manifest {
    let facts = crate::plan::facts::facts(intent, plan);
    Manifest {
        generator: format!("svcintent {}", crate::VERSION),
        site: intent.site.name.clone(),
        sources: intent.source_files.clone(),
        files: entries,
        hosts: facts.hosts,
        services: facts.services,
        deploy: intent.site.deploy.clone(),
    }
}

/// Renders every target for every host.
pub fn render(intent: &Intent, plan: &Plan, sources: &Sources) -> Result<Output, Vec<RenderError>> {
    let shared = Shared::default();
    let cx = Context::new(intent, plan, sources, &shared);
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for host in plan.hosts.values() {
        match render_host(&cx, host) {
            Ok(fs) => files.extend(fs),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Hosts come in name order and each host's files in path order; tree paths (`<host>/...`)
    // order hosts a little differently (`lb1-a/` before `lb1/`).
    crate::collect::sort_by(&mut files, |a, b| a.path.cmp(&b.path));
    let entries = files.iter().map(manifest_entry).collect();
    Ok(Output {
        manifest: manifest(intent, plan, entries),
        files: files.into_iter().map(|f| f.file).collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn split(text: &str) -> Result<(String, Vec<Origin>), String> {
        split_origins(text.to_owned(), |s| s == "www" || s == "mail")
    }

    fn at(line: u32, service: Option<&str>) -> Origin {
        Origin {
            line,
            service: service.map(str::to_owned),
        }
    }

    #[test]
    fn markers_are_removed_and_their_lines_recorded() {
        let text = format!(
            "head\n{}a\n{}b\nc\n{}tail\n",
            origin_marker(Some("www".into())),
            origin_marker(Some("mail".into())),
            origin_marker(None)
        );
        let (clean, origins) = split(&text).unwrap();
        assert_eq!(clean, "head\na\nb\nc\ntail\n");
        assert_eq!(
            origins,
            vec![at(2, Some("www")), at(3, Some("mail")), at(5, None)]
        );
    }

    #[test]
    fn unknown_names_are_host_level_and_repeats_merge() {
        let m = |s: &str| origin_marker(Some(s.into()));
        let text = format!(
            "{}a\n{}b\n{}c\n{}d\n",
            m("www"),
            m("www"),
            m("bgp"),
            m("mail")
        );
        let (clean, origins) = split(&text).unwrap();
        assert_eq!(clean, "a\nb\nc\nd\n");
        assert_eq!(
            origins,
            vec![at(1, Some("www")), at(3, None), at(4, Some("mail"))]
        );
        // A leading host-level origin says nothing: lines before the first origin are host-level.
        let (_, origins) = split(&format!("{}a\n", origin_marker(None))).unwrap();
        assert!(origins.is_empty());
    }

    #[test]
    fn a_text_without_markers_is_kept_as_it_is() {
        let (clean, origins) = split("a\n\nb\u{2}\n").unwrap();
        assert_eq!(clean, "a\n\nb\u{2}\n");
        assert!(origins.is_empty());
    }

    #[test]
    fn an_unterminated_marker_is_an_error() {
        assert!(split("a\n\u{1}www").is_err());
    }
}
