//! `svcintent apply`: one host, from what it runs to a rendered tree's files, in an order that
//! never sends a flow to a host that cannot serve it. **The order of the steps lives here, in
//! [`Step::ORDER`]**; what each daemon needs to be activated and verified lives with that
//! daemon (`crate::daemons::<daemon>::live`).
//!
//! 1. Read the tree (`manifest.json`, the host's folder, checked against each other), what the
//!    host runs (`state.json`) and what is installed, and plan: which files change, which VIPs
//!    the host stops announcing, which VIPs go onto or off the loopback. Refuse unsafe input
//!    (another site, files changed by hand since the last apply) before anything else.
//! 2. Nothing changes: touch nothing, reload nothing.
//! 3. Check the host's whole new file set with each daemon's own check, at the real paths, in
//!    the sandbox harness ([`crate::daemons::check_tree`]). Rejected: nothing changes.
//! 4. Back up every file the run may change, write the journal, then run the steps; each one
//!    installs its daemon's files, activates the daemon and verifies the result before the next
//!    begins, and the journal records its progress.
//! 5. Any failure: put back every file, re-activate what had been activated, exit non-zero
//!    with the daemon's own words. A run that was killed leaves its journal: the next run
//!    completes it (all steps were done) or rolls it back first.
//!
//! Steps ([`Step::ORDER`]):
//!
//! | step | does | why here |
//! | --- | --- | --- |
//! | `withdraw` | lists the VIPs the host stops announcing in BIRD's hold list (`/var/lib/svcintent/bird-hold.conf`), `birdc configure`, waits until no BGP session exports them | first: routers move the flows away before anything that serves them changes |
//! | `nftables` | `nft -f /etc/nftables.conf` (replaces `table inet svcintent` in one transaction) | the new services' ports are open before they serve |
//! | `haproxy` | `haproxy -c`, then a master-worker reload, verified on the master's reload counters | serves the new VIPs (bound `transparent`, before they are local) |
//! | `apache` | links the enabled sites, `apachectl graceful`, verified running and listening | backends serve before a balancer sends to them (the rollout orders hosts) |
//! | `icinga2` | reload | |
//! | `loopback-add` | new VIPs onto `lo` | only once the services that answer on them run |
//! | `healthchecker` | restart with the new checks (it has no reload); state files only where missing | new announcements go through the health path |
//! | `bird` | `birdc configure timeout N`, checks that nothing outside the host's announcements is exported, `configure confirm` | last: if apply dies before confirming, BIRD goes back by itself |
//! | `loopback-remove` | withdrawn VIPs off `lo` | only once no router sends flows to them |

pub mod exec;
pub mod input;
pub mod loopback;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use serde::Serialize;
use svcintent_core::model::Deploy;
use svcintent_core::plan::facts::HostFacts;
use svcintent_core::render::Target;
use svcintent_core::rollout::{HOST_STATE_FORMAT, HostState, StateFile};

use crate::daemons::{self, Finding};
use input::{NewFile, TreeInput};
use state::{Journal, JournalFile, JournalLink, Progress, StateDir};

/// The steps of an apply, in the order they run (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Withdraw what the host stops announcing.
    Withdraw,
    /// Load the firewall table.
    Nftables,
    /// Reload HAProxy.
    Haproxy,
    /// Reload Apache.
    Apache,
    /// Reload Icinga2.
    Icinga2,
    /// Add new VIPs to the loopback.
    LoopbackAdd,
    /// Restart anycast-healthchecker.
    Healthchecker,
    /// Reconfigure BIRD (with an undo timeout), then confirm.
    Bird,
    /// Remove withdrawn VIPs from the loopback.
    LoopbackRemove,
}

impl Step {
    /// Every step, in order.
    pub const ORDER: [Step; 9] = [
        Step::Withdraw,
        Step::Nftables,
        Step::Haproxy,
        Step::Apache,
        Step::Icinga2,
        Step::LoopbackAdd,
        Step::Healthchecker,
        Step::Bird,
        Step::LoopbackRemove,
    ];

    /// Its name (journal, reports, `SVCINTENT_APPLY_KILL_AFTER`).
    pub fn name(self) -> &'static str {
        match self {
            Step::Withdraw => "withdraw",
            Step::Nftables => "nftables",
            Step::Haproxy => "haproxy",
            Step::Apache => "apache",
            Step::Icinga2 => "icinga2",
            Step::LoopbackAdd => "loopback-add",
            Step::Healthchecker => "healthchecker",
            Step::Bird => "bird",
            Step::LoopbackRemove => "loopback-remove",
        }
    }

    /// The target whose files this step installs.
    fn target(self) -> Option<Target> {
        match self {
            Step::Nftables => Some(Target::Nftables),
            Step::Haproxy => Some(Target::Haproxy),
            Step::Apache => Some(Target::Apache),
            Step::Icinga2 => Some(Target::Icinga2),
            Step::LoopbackAdd => Some(Target::Loopback),
            Step::Healthchecker => Some(Target::Healthchecker),
            Step::Bird => Some(Target::Bird),
            Step::Withdraw | Step::LoopbackRemove => None,
        }
    }

    /// The daemon it reloads, for reports.
    fn reloads(self) -> Option<&'static str> {
        match self {
            Step::Withdraw | Step::LoopbackAdd | Step::LoopbackRemove => None,
            other => Some(other.name()),
        }
    }
}

/// How an apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Nothing to do.
    Unchanged,
    /// Applied.
    Changed,
    /// `--check`: would change.
    WouldChange,
    /// A daemon's check rejected the new files; nothing changed.
    CheckFailed,
    /// Unsafe input; nothing changed.
    Refused,
    /// A step failed; the previous state is back.
    RolledBack,
    /// A step failed, and putting the previous state back failed too.
    RollbackFailed,
    /// Applied, but BIRD did not export every VIP the host announces in time.
    NotAnnounced,
}

impl Outcome {
    /// The process exit code (docs/deploy.md).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Unchanged => crate::exit::OK,
            Outcome::Changed | Outcome::WouldChange => crate::exit::CHANGED,
            Outcome::CheckFailed => crate::exit::ERRORS,
            Outcome::Refused => crate::exit::REFUSED,
            Outcome::RolledBack => crate::exit::ROLLED_BACK,
            Outcome::RollbackFailed => crate::exit::ROLLBACK_FAILED,
            Outcome::NotAnnounced => crate::exit::NOT_ANNOUNCED,
        }
    }
}

/// How a file changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    /// New on the host.
    Added,
    /// Other contents.
    Changed,
    /// No longer rendered: removed.
    Removed,
}

/// One file in the report.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// Absolute path on the host.
    pub path: String,
    /// What happens to it.
    pub status: FileStatus,
    /// Unified diff, with `--diff`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One step in the report.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// `done`, `failed`, `rolled-back`.
    pub status: &'static str,
    /// When it began (seconds since the Unix epoch), to line it up with other observations.
    pub started_at: f64,
    /// How long it took.
    pub ms: u64,
    /// What it did, in a few words.
    pub detail: String,
}

/// What failed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The step (or `check`, `plan`).
    pub step: String,
    /// The daemon concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon: Option<String>,
    /// The message, with the daemon's own words.
    pub message: String,
}

/// What `apply` did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The host.
    pub host: String,
    /// The tree's site.
    pub site: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// SHA-256 of the tree's manifest.json.
    pub manifest_sha256: Option<String>,
    /// Files that change.
    pub files: Vec<FileReport>,
    /// Daemons reloaded (or that would be).
    pub reloads: Vec<String>,
    /// Prefixes the host stops announcing.
    pub withdrawn: Vec<String>,
    /// VIPs added to the loopback.
    pub vips_added: Vec<String>,
    /// VIPs removed from the loopback.
    pub vips_removed: Vec<String>,
    /// The steps that ran.
    pub steps: Vec<StepReport>,
    /// What failed.
    pub failure: Option<Failure>,
    /// The daemons' checks' complaints (outcome `check-failed`).
    pub findings: Vec<Finding>,
    /// A killed run found at the start, and what became of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<String>,
    /// Notes worth reading (files taken over, a confirm somebody else made...).
    pub notes: Vec<String>,
}

impl Report {
    fn new(host: &str) -> Self {
        Report {
            host: host.to_owned(),
            site: None,
            outcome: Outcome::Unchanged,
            manifest_sha256: None,
            files: Vec::new(),
            reloads: Vec::new(),
            withdrawn: Vec::new(),
            vips_added: Vec::new(),
            vips_removed: Vec::new(),
            steps: Vec::new(),
            failure: None,
            findings: Vec::new(),
            recovered: None,
            notes: Vec::new(),
        }
    }

    fn refuse(mut self, step: &str, message: impl Into<String>) -> Self {
        self.outcome = Outcome::Refused;
        self.failure = Some(Failure {
            step: step.to_owned(),
            daemon: None,
            message: message.into(),
        });
        self
    }

    /// The report for people.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let host = &self.host;
        if let Some(r) = &self.recovered {
            let _ = writeln!(out, "{host}: {r}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "{host}: note: {n}");
        }
        for s in &self.steps {
            let _ = writeln!(
                out,
                "{host}: {:<15} {:<11} {:.3} {:>6} ms  {}",
                s.step.name(),
                s.status,
                s.started_at,
                s.ms,
                s.detail
            );
        }
        let verb = match self.outcome {
            Outcome::WouldChange => "would change",
            _ => "changes",
        };
        if !self.files.is_empty()
            && matches!(
                self.outcome,
                Outcome::WouldChange | Outcome::Refused | Outcome::CheckFailed
            )
        {
            let _ = writeln!(out, "{host}: {verb} {} file(s):", self.files.len());
            for f in &self.files {
                let status = match f.status {
                    FileStatus::Added => "added",
                    FileStatus::Changed => "changed",
                    FileStatus::Removed => "removed",
                };
                let _ = writeln!(out, "  {status:<8} {}", f.path);
            }
        }
        for f in self.files.iter().filter_map(|f| f.diff.as_deref()) {
            out.push_str(f);
            if !f.ends_with('\n') {
                out.push('\n');
            }
        }
        for f in &self.findings {
            let _ = writeln!(out, "{f}");
        }
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        let summary = match self.outcome {
            Outcome::Unchanged => "unchanged: the host already runs these files".to_owned(),
            Outcome::WouldChange => format!(
                "would change {} file(s); would reload {}; would withdraw {}",
                self.files.len(),
                list(&self.reloads),
                list(&self.withdrawn)
            ),
            Outcome::Changed => format!(
                "changed {} file(s); reloaded {}; withdrew {}",
                self.files.len(),
                list(&self.reloads),
                list(&self.withdrawn)
            ),
            Outcome::CheckFailed => {
                "a daemon's check rejected the new files: nothing was changed".to_owned()
            }
            Outcome::Refused => "refused: nothing was changed".to_owned(),
            Outcome::RolledBack => "rolled back: the previous files are back and active".to_owned(),
            Outcome::RollbackFailed => {
                "ROLLBACK FAILED: the host may run a mix of old and new; see the journal".to_owned()
            }
            Outcome::NotAnnounced => format!(
                "changed {} file(s); reloaded {}; withdrew {}; NOT ANNOUNCED: stop the rollout",
                self.files.len(),
                list(&self.reloads),
                list(&self.withdrawn)
            ),
        };
        if let Some(f) = &self.failure {
            let _ = writeln!(out, "{host}: {} failed: {}", f.step, f.message);
        }
        let _ = writeln!(out, "{host}: {summary}");
        out
    }
}

/// Settings of one apply.
#[derive(Debug, Clone)]
pub struct Options {
    /// The host (a folder of the tree).
    pub host: String,
    /// The tree.
    pub tree: PathBuf,
    /// Say what would change; touch nothing.
    pub check: bool,
    /// Unified diffs of the host's files in the report.
    pub diff: bool,
    /// Apply over files changed by hand, and over another site's state.
    pub force: bool,
    /// Where the host's files are (`/`). Another root only reads and compares: it never
    /// activates anything (the daemons run on `/`).
    pub root: PathBuf,
    /// The state directory (default `ROOT/var/lib/svcintent`).
    pub state_dir: Option<PathBuf>,
    /// The daemon checks' settings (timeout, warnings).
    pub checks: daemons::Options,
}

/// What to do with one path.
#[derive(Debug, Clone)]
struct FileOp {
    path: String,
    target: Target,
    status: FileStatus,
    /// New contents (added, changed).
    new: Option<Vec<u8>>,
    /// Installed contents now (changed, removed).
    old: Option<Vec<u8>>,
}

/// What the run will do, computed before anything changes.
#[derive(Debug, Default)]
struct Plan {
    ops: Vec<FileOp>,
    /// State files the host lacks: installed with their step, never replaced.
    missing_state: Vec<NewFile>,
    /// Apache's enabled links to create (path, target) or remove (path, None).
    links: Vec<(String, Option<String>)>,
    withdraw: BTreeSet<IpNet>,
    vips_add: Vec<IpAddr>,
    vips_remove: Vec<IpAddr>,
    steps: Vec<Step>,
    /// Files changed on the host since svcintent installed them, with a diff.
    modified_by_hand: Vec<(String, String)>,
    /// Files of other origin the first apply replaces.
    takeovers: Vec<String>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.ops.is_empty()
            && self.missing_state.is_empty()
            && self.links.is_empty()
            && self.vips_add.is_empty()
            && self.vips_remove.is_empty()
            && self.withdraw.is_empty()
    }

    fn step_has_files(&self, step: Step) -> bool {
        let Some(target) = step.target() else {
            return false;
        };
        self.ops.iter().any(|o| o.target == target)
            || self.missing_state.iter().any(|f| f.target == target)
            || (step == Step::Apache && !self.links.is_empty())
    }
}

/// The path of `host_path` below `root`.
fn on_root(root: &Path, host_path: &str) -> PathBuf {
    root.join(host_path.trim_start_matches('/'))
}

fn read_installed(root: &Path, host_path: &str) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(on_root(root, host_path)) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {host_path}: {e}")),
    }
}

fn unified(path: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> String {
    let text = |b: Option<&[u8]>| {
        b.map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    let (a, b) = (text(old), text(new));
    let old_name = if old.is_some() {
        format!("a{path}")
    } else {
        "/dev/null".to_owned()
    };
    let new_name = if new.is_some() {
        format!("b{path}")
    } else {
        "/dev/null".to_owned()
    };
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(&old_name, &new_name)
        .to_string()
}

/// Loopback VIPs of a host's facts (drained ones stay on `lo`).
fn loopback_vips(facts: Option<&HostFacts>) -> BTreeSet<IpAddr> {
    facts
        .map(|f| f.announces.iter().map(|a| a.prefix.addr()).collect())
        .unwrap_or_default()
}

fn announced_prefixes(facts: Option<&HostFacts>) -> BTreeSet<IpNet> {
    facts
        .map(|f| {
            f.announces
                .iter()
                .filter(|a| !a.withdrawn)
                .map(|a| a.prefix)
                .collect()
        })
        .unwrap_or_default()
}

/// Apache's enabled links for the rendered sites and conf (`a2ensite`/`a2enconf` make the same).
fn apache_link(host_path: &str) -> Option<(String, String)> {
    let (dir, enabled) = if let Some(name) = host_path.strip_prefix("/etc/apache2/sites-available/")
    {
        (name, "sites")
    } else if let Some(name) = host_path.strip_prefix("/etc/apache2/conf-available/") {
        (name, "conf")
    } else {
        return None;
    };
    Some((
        format!("/etc/apache2/{enabled}-enabled/{dir}"),
        format!("../{enabled}-available/{dir}"),
    ))
}

fn plan(
    opts: &Options,
    input: &TreeInput,
    state: Option<&HostState>,
    on_lo: &BTreeSet<IpAddr>,
) -> Result<Plan, String> {
    let root = &opts.root;
    let mut plan = Plan::default();
    let recorded: BTreeMap<&str, &StateFile> = state
        .map(|s| s.files.iter().map(|f| (f.path.as_str(), f)).collect())
        .unwrap_or_default();
    let mut new_paths = BTreeSet::new();
    for f in &input.files {
        new_paths.insert(f.path.as_str());
        let installed = read_installed(root, &f.path)?;
        if f.state {
            if installed.is_none() {
                plan.missing_state.push(f.clone());
            }
            continue;
        }
        let Some(installed) = installed else {
            plan.ops.push(FileOp {
                path: f.path.clone(),
                target: f.target,
                status: FileStatus::Added,
                new: Some(f.contents.clone()),
                old: None,
            });
            continue;
        };
        let installed_sha = input::sha256_hex(&installed);
        if installed_sha == f.sha256 {
            continue;
        }
        match recorded.get(f.path.as_str()) {
            Some(r) if r.sha256 != installed_sha => plan.modified_by_hand.push((
                f.path.clone(),
                unified(&f.path, Some(&installed), Some(&f.contents)),
            )),
            Some(_) => {}
            None if state.is_some() => plan.modified_by_hand.push((
                f.path.clone(),
                unified(&f.path, Some(&installed), Some(&f.contents)),
            )),
            None => plan.takeovers.push(f.path.clone()),
        }
        plan.ops.push(FileOp {
            path: f.path.clone(),
            target: f.target,
            status: FileStatus::Changed,
            new: Some(f.contents.clone()),
            old: Some(installed),
        });
    }
    // Files svcintent installed before and renders no more.
    for r in recorded
        .values()
        .filter(|r| !r.state && !new_paths.contains(r.path.as_str()))
    {
        let Some(installed) = read_installed(root, &r.path)? else {
            continue;
        };
        if input::sha256_hex(&installed) != r.sha256 {
            plan.modified_by_hand
                .push((r.path.clone(), unified(&r.path, Some(&installed), None)));
        }
        plan.ops.push(FileOp {
            path: r.path.clone(),
            target: r.target,
            status: FileStatus::Removed,
            new: None,
            old: Some(installed),
        });
    }
    // Apache's enabled links follow the rendered sites.
    for f in input.files.iter().filter(|f| f.target == Target::Apache) {
        if let Some((link, target)) = apache_link(&f.path) {
            let now = std::fs::read_link(on_root(root, &link)).ok();
            if now.as_deref() != Some(Path::new(&target)) {
                plan.links.push((link, Some(target)));
            }
        }
    }
    for op in plan.ops.iter().filter(|o| o.status == FileStatus::Removed) {
        if let Some((link, _)) = apache_link(&op.path)
            && std::fs::symlink_metadata(on_root(root, &link)).is_ok()
        {
            plan.links.push((link, None));
        }
    }
    // Announcements and the loopback.
    let old_facts = state.map(|s| &s.facts);
    let new_facts = input.manifest.hosts.get(&opts.host);
    plan.withdraw = announced_prefixes(old_facts)
        .difference(&announced_prefixes(new_facts))
        .copied()
        .collect();
    let (was, is) = (loopback_vips(old_facts), loopback_vips(new_facts));
    plan.vips_add = is.iter().filter(|v| !on_lo.contains(v)).copied().collect();
    plan.vips_remove = was
        .difference(&is)
        .filter(|v| on_lo.contains(v))
        .copied()
        .collect();
    plan.steps = Step::ORDER
        .into_iter()
        .filter(|s| match s {
            Step::Withdraw => !plan.withdraw.is_empty(),
            Step::LoopbackAdd => !plan.vips_add.is_empty() || plan.step_has_files(*s),
            Step::LoopbackRemove => !plan.vips_remove.is_empty(),
            Step::Bird => plan.step_has_files(*s) || !plan.withdraw.is_empty(),
            other => plan.step_has_files(*other),
        })
        .collect();
    Ok(plan)
}

/// The state to record once the run is done.
fn new_state(opts: &Options, input: &TreeInput) -> HostState {
    let facts = input
        .manifest
        .hosts
        .get(&opts.host)
        .cloned()
        .unwrap_or_default();
    let mut services: BTreeSet<&str> = facts.announces.iter().map(|a| a.service.as_str()).collect();
    services.extend(facts.serves.iter().map(|s| s.service.as_str()));
    services.extend(facts.sends.iter().map(|s| s.service.as_str()));
    HostState {
        format: HOST_STATE_FORMAT,
        site: input.manifest.site.clone(),
        host: opts.host.clone(),
        generator: input.manifest.generator.clone(),
        manifest_sha256: input.manifest_sha256.clone(),
        services: input
            .manifest
            .services
            .iter()
            .filter(|(n, _)| services.contains(n.as_str()))
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect(),
        facts,
        files: input
            .files
            .iter()
            .map(|f| StateFile {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                target: f.target,
                state: f.state,
            })
            .collect(),
    }
}

/// Applies the tree to the host. Never panics; every outcome is in the report.
pub fn apply(opts: &Options) -> Report {
    let mut report = Report::new(&opts.host);
    let state_dir = StateDir::new(&opts.root, opts.state_dir.as_deref());
    let _lock = match state_dir.lock() {
        Ok(l) => l,
        Err(e) => return report.refuse("lock", e),
    };
    let live = opts.root == Path::new("/");

    // A run that was killed: complete it or put the old state back first.
    match state_dir.read_journal() {
        Ok(Some(journal)) => {
            if opts.check || !live {
                return report.refuse(
                    "journal",
                    format!(
                        "an apply was interrupted ({}); run apply without --check to complete it or roll it back",
                        journal.txid
                    ),
                );
            }
            match recover(&state_dir, &journal) {
                Ok(what) => report.recovered = Some(what),
                Err(e) => {
                    report.outcome = Outcome::RollbackFailed;
                    report.failure = Some(Failure {
                        step: "recover".to_owned(),
                        daemon: None,
                        message: e,
                    });
                    return report;
                }
            }
        }
        Ok(None) => {}
        Err(e) => return report.refuse("journal", e),
    }
    state_dir.sweep(None);

    let input = match input::open(&opts.tree, &opts.host) {
        Ok(i) => i,
        Err(e) => return report.refuse("tree", e),
    };
    report.site = Some(input.manifest.site.clone());
    report.manifest_sha256 = Some(input.manifest_sha256.clone());
    let state = match state_dir.read_state() {
        Ok(s) => s,
        Err(e) if opts.force => {
            report.notes.push(format!("{e} (ignored: --force)"));
            None
        }
        Err(e) => return report.refuse("state", format!("{e}; pass --force to start over")),
    };
    if let Some(s) = &state
        && s.site != input.manifest.site
        && !opts.force
    {
        return report.refuse(
            "state",
            format!(
                "this host runs site {} and the tree is site {}; pass --force if the host really moves to another site",
                s.site, input.manifest.site
            ),
        );
    }
    let on_lo = if live {
        match loopback::addresses() {
            Ok(a) => a,
            Err(e) => {
                return report.refuse("plan", format!("cannot list the loopback's addresses: {e}"));
            }
        }
    } else {
        BTreeSet::new()
    };
    let plan = match plan(opts, &input, state.as_ref(), &on_lo) {
        Ok(p) => p,
        Err(e) => return report.refuse("plan", e),
    };
    report.files = plan
        .ops
        .iter()
        .map(|o| FileReport {
            path: o.path.clone(),
            status: o.status,
            diff: opts
                .diff
                .then(|| unified(&o.path, o.old.as_deref(), o.new.as_deref())),
        })
        .chain(plan.missing_state.iter().map(|f| FileReport {
            path: f.path.clone(),
            status: FileStatus::Added,
            diff: opts.diff.then(|| unified(&f.path, None, Some(&f.contents))),
        }))
        .collect();
    report.withdrawn = plan.withdraw.iter().map(ToString::to_string).collect();
    report.vips_added = plan.vips_add.iter().map(ToString::to_string).collect();
    report.vips_removed = plan.vips_remove.iter().map(ToString::to_string).collect();
    report.reloads = plan
        .steps
        .iter()
        .filter_map(|s| s.reloads())
        .map(str::to_owned)
        .collect();
    if !plan.modified_by_hand.is_empty() {
        let paths: Vec<&str> = plan
            .modified_by_hand
            .iter()
            .map(|(p, _)| p.as_str())
            .collect();
        if !opts.force {
            for (_, diff) in &plan.modified_by_hand {
                report
                    .notes
                    .push(format!("modified by hand (installed -> rendered):\n{diff}"));
            }
            return report.refuse(
                "plan",
                format!(
                    "{} changed on this host since svcintent installed it (or was not installed by svcintent): change the intent instead, or pass --force to replace it",
                    paths.join(", ")
                ),
            );
        }
        report.notes.push(format!(
            "replacing files changed by hand (--force): {}",
            paths.join(", ")
        ));
    }
    for t in &plan.takeovers {
        report.notes.push(format!(
            "takes over {t} (first apply on this host; the previous file is kept in {})",
            state_dir.originals().display()
        ));
    }

    if plan.is_empty() {
        // Same files: record the generation if the record is older, touch nothing else.
        if !opts.check
            && state.as_ref().map(|s| s.manifest_sha256.as_str()) != Some(&input.manifest_sha256)
            && let Err(e) = state_dir.write_state(&new_state(opts, &input))
        {
            return report.refuse("state", e);
        }
        report.outcome = Outcome::Unchanged;
        return report;
    }

    // Every daemon checks the whole new file set before anything changes.
    let checks = daemons::Options {
        hosts: vec![opts.host.clone()],
        ..opts.checks.clone()
    };
    match daemons::check_tree(&input.dir, &checks) {
        Ok(r) if r.is_ok() => {}
        Ok(r) => {
            report.outcome = Outcome::CheckFailed;
            let first = r
                .failures
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            report.failure = Some(Failure {
                step: "check".to_owned(),
                daemon: r.failures.first().map(|f| f.daemon.name().to_owned()),
                message: first,
            });
            report.findings = r.failures;
            return report;
        }
        Err(e) => {
            return report.refuse("check", format!("the daemon checks could not run: {e}"));
        }
    }
    if opts.check {
        report.outcome = Outcome::WouldChange;
        return report;
    }
    if !live {
        return report.refuse(
            "activate",
            format!(
                "--root {} only reads and compares: the daemons run on /; add --check",
                opts.root.display()
            ),
        );
    }
    execute(opts, &state_dir, &input, state.as_ref(), plan, report)
}

fn kill_point(step: &str) {
    // Test hook (the lab's "killed at every step boundary" scenario): the process dies like
    // `kill -9`, right after the journal recorded `step` as done.
    if std::env::var("SVCINTENT_APPLY_KILL_AFTER").ok().as_deref() == Some(step) {
        let pid = std::process::id().to_string();
        let _ = exec::run(&exec::argv(["kill", "-KILL", &pid]), Duration::from_secs(5));
        std::process::abort();
    }
}

fn execute(
    opts: &Options,
    state_dir: &StateDir,
    input: &TreeInput,
    state: Option<&HostState>,
    plan: Plan,
    mut report: Report,
) -> Report {
    let root = &opts.root;
    let settings = &input.manifest.deploy;
    let txid = format!(
        "{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        std::process::id()
    );
    // Backups of everything the run may change, then the journal.
    let txn = state_dir.txn(&txid);
    let mut files = Vec::new();
    let mut paths: Vec<&str> = plan.ops.iter().map(|o| o.path.as_str()).collect();
    paths.extend(plan.missing_state.iter().map(|f| f.path.as_str()));
    if !plan.withdraw.is_empty() || plan.steps.contains(&Step::Bird) {
        paths.push(svcintent_core::render::bird::HOLD_PATH);
    }
    paths.sort_unstable();
    paths.dedup();
    for (n, path) in paths.iter().enumerate() {
        let on = on_root(root, path);
        let backup = match std::fs::read(&on) {
            Ok(bytes) => {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&on)
                    .map(|m| m.permissions().mode() & 0o7777)
                    .ok();
                let name = format!("{n:04}");
                if let Err(e) = state::write_atomic(&txn.join(&name), &bytes, Some(0o600)) {
                    return report.refuse("backup", format!("cannot back up {path}: {e}"));
                }
                if plan.takeovers.iter().any(|t| t == path) {
                    let keep = state_dir.originals().join(path.trim_start_matches('/'));
                    if let Err(e) = state::write_atomic(&keep, &bytes, Some(0o600)) {
                        return report.refuse("backup", format!("cannot keep {path}: {e}"));
                    }
                }
                JournalFile {
                    path: (*path).to_owned(),
                    backup: Some(name),
                    mode,
                    ours: state.is_some_and(|s| s.files.iter().any(|f| f.path == *path)),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => JournalFile {
                path: (*path).to_owned(),
                backup: None,
                mode: None,
                ours: false,
            },
            Err(e) => return report.refuse("backup", format!("cannot read {path}: {e}")),
        };
        files.push(backup);
    }
    let links = plan
        .links
        .iter()
        .map(|(path, _)| JournalLink {
            path: path.clone(),
            target: std::fs::read_link(on_root(root, path))
                .ok()
                .map(|t| t.to_string_lossy().into_owned()),
        })
        .collect();
    let mut journal = Journal {
        format: 1,
        txid: txid.clone(),
        host: opts.host.clone(),
        manifest_sha256: input.manifest_sha256.clone(),
        files,
        links,
        vips_added: plan.vips_add.clone(),
        vips_removed: plan.vips_remove.clone(),
        held: {
            // What differs: the withdrawals and the new announcements.
            let (was, is) = (
                announced_prefixes(state.map(|s| &s.facts)),
                announced_prefixes(input.manifest.hosts.get(&opts.host)),
            );
            was.symmetric_difference(&is).copied().collect()
        },
        deploy: settings.clone(),
        planned: plan.steps.iter().map(|s| s.name().to_owned()).collect(),
        commit: Some(new_state(opts, input)),
        steps: Vec::new(),
    };
    if let Err(e) = state_dir.write_journal(&journal) {
        return report.refuse("journal", e);
    }
    kill_point("journal");

    for step in plan.steps.clone() {
        journal
            .steps
            .push((step.name().to_owned(), Progress::Begun));
        if let Err(e) = state_dir.write_journal(&journal) {
            return roll_back_after(state_dir, &journal, report, step, e);
        }
        let started = Instant::now();
        let started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let result = run_step(step, opts, input, state, &plan, settings);
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(detail) => {
                report.steps.push(StepReport {
                    step,
                    status: "done",
                    started_at,
                    ms,
                    detail,
                });
                if let Some(last) = journal.steps.last_mut() {
                    last.1 = Progress::Done;
                }
                if let Err(e) = state_dir.write_journal(&journal) {
                    return roll_back_after(state_dir, &journal, report, step, e);
                }
                kill_point(step.name());
            }
            Err(message) => {
                report.steps.push(StepReport {
                    step,
                    status: "failed",
                    started_at,
                    ms,
                    detail: message.clone(),
                });
                return roll_back_after(state_dir, &journal, report, step, message);
            }
        }
    }
    if let Some(commit) = &journal.commit
        && let Err(e) = state_dir.write_state(commit)
    {
        return roll_back_after(state_dir, &journal, report, Step::LoopbackRemove, e);
    }
    kill_point("commit");
    if let Err(e) = state_dir.finish(&txid) {
        report.notes.push(e);
    }
    report.outcome = Outcome::Changed;
    // Verified last: the host carries what it announces before the rollout moves on (another
    // batch may withdraw the same VIPs elsewhere). Not rolled back when it does not: the files
    // are right, the health checks decide.
    match wait_announced(opts, input) {
        Ok(Some(note)) => report.notes.push(note),
        Ok(None) => {}
        Err(message) => {
            report.outcome = Outcome::NotAnnounced;
            report.failure = Some(Failure {
                step: "announce".to_owned(),
                daemon: Some("bird".to_owned()),
                message,
            });
        }
    }
    report
}

/// Once a host is applied: waits up to `site.deploy.announce_timeout` until BIRD exports every
/// VIP the host announces (not drained), which the health checker lists only once its checks
/// rise. `Ok(None)` when there is nothing to wait for.
fn wait_announced(opts: &Options, input: &TreeInput) -> Result<Option<String>, String> {
    use crate::daemons::bird;
    let settings = &input.manifest.deploy;
    let want = announced_prefixes(input.manifest.hosts.get(&opts.host));
    if want.is_empty() || settings.announce_timeout_ms == 0 {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let mut birdc =
        bird::live::Birdc::connect(Path::new(&settings.bird_socket), Duration::from_secs(30))
            .map_err(|e| format!("cannot ask BIRD what it exports: {e}"))?;
    let up = exec::wait_for(secs(settings.announce_timeout_ms), || {
        birdc
            .exported(&want)
            .ok()
            .filter(|exported| exported.is_superset(&want))
    });
    if up.is_some() {
        return Ok(Some(format!(
            "announced: BIRD exports all {} VIP prefix(es) of this host, {:.1} s after the apply",
            want.len(),
            started.elapsed().as_secs_f64()
        )));
    }
    let exported = birdc.exported(&want).unwrap_or_default();
    let missing: Vec<String> = want
        .difference(&exported)
        .map(ToString::to_string)
        .collect();
    Err(format!(
        "applied, but BIRD does not export {} after {} s (their health checks on this host have not passed, or BIRD has no session up): do not apply the next batch until it does",
        missing.join(", "),
        settings.announce_timeout_ms / 1000
    ))
}

fn roll_back_after(
    state_dir: &StateDir,
    journal: &Journal,
    mut report: Report,
    step: Step,
    message: String,
) -> Report {
    report.failure = Some(Failure {
        step: step.name().to_owned(),
        daemon: step.reloads().map(str::to_owned),
        message,
    });
    match roll_back(state_dir, journal) {
        Ok(notes) => {
            report.notes.extend(notes);
            report.outcome = Outcome::RolledBack;
        }
        Err(errors) => {
            report.notes.extend(errors);
            report.outcome = Outcome::RollbackFailed;
        }
    }
    report
}

/// Installs `step`'s files (state files only where missing; removed files deleted).
fn install(step: Step, opts: &Options, plan: &Plan) -> Result<usize, String> {
    let Some(target) = step.target() else {
        return Ok(0);
    };
    let mut n = 0;
    for op in plan.ops.iter().filter(|o| o.target == target) {
        let on = on_root(&opts.root, &op.path);
        match &op.new {
            Some(bytes) => state::write_atomic(&on, bytes, Some(0o644))
                .map_err(|e| format!("cannot install {}: {e}", op.path))?,
            None => match std::fs::remove_file(&on) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove {}: {e}", op.path)),
            },
        }
        n += 1;
    }
    for f in plan.missing_state.iter().filter(|f| f.target == target) {
        let on = on_root(&opts.root, &f.path);
        if !on.exists() {
            state::write_atomic(&on, &f.contents, Some(0o644))
                .map_err(|e| format!("cannot install {}: {e}", f.path))?;
            n += 1;
        }
    }
    if step == Step::Apache {
        for (link, target) in &plan.links {
            let on = on_root(&opts.root, link);
            let _ = std::fs::remove_file(&on);
            if let Some(t) = target {
                if let Some(parent) = on.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("{}: {e}", parent.display()))?;
                }
                std::os::unix::fs::symlink(t, &on)
                    .map_err(|e| format!("cannot link {link}: {e}"))?;
            }
            n += 1;
        }
    }
    Ok(n)
}

fn secs(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

/// One step: install, activate, verify. `Ok` with a few words on what it did.
fn run_step(
    step: Step,
    opts: &Options,
    input: &TreeInput,
    state: Option<&HostState>,
    plan: &Plan,
    settings: &Deploy,
) -> Result<String, String> {
    use crate::daemons::{apache, bird, haproxy, healthchecker, icinga2, nftables};
    let root = &opts.root;
    let installed = install(step, opts, plan)?;
    let bird_socket = Path::new(&settings.bird_socket);
    match step {
        Step::Withdraw => {
            let config = std::fs::read_to_string(on_root(root, svcintent_core::render::bird::PATH))
                .unwrap_or_default();
            if !bird::live::includes(&config, svcintent_core::render::bird::HOLD_PATH) {
                return Ok("the running BIRD configuration has no hold list: the withdrawal happens with the new configuration".to_owned());
            }
            if !bird_socket.exists() {
                return Ok("BIRD is not running: nothing is exported".to_owned());
            }
            let held: Vec<IpNet> = plan.withdraw.iter().copied().collect();
            state::write_atomic(
                &on_root(root, svcintent_core::render::bird::HOLD_PATH),
                svcintent_core::render::bird::hold_list(&held).as_bytes(),
                Some(0o644),
            )
            .map_err(|e| format!("cannot write the hold list: {e}"))?;
            let mut birdc = bird::live::Birdc::connect(bird_socket, Duration::from_secs(30))?;
            birdc.configure(None, None)?;
            let started = Instant::now();
            let gone = exec::wait_for(secs(settings.withdraw_timeout_ms), || {
                birdc
                    .exported(&plan.withdraw)
                    .ok()
                    .filter(BTreeSet::is_empty)
            });
            match gone {
                Some(_) => {
                    let unexported = started.elapsed().as_secs_f64();
                    // BIRD's export table is this host's view: the routers need a moment more.
                    std::thread::sleep(secs(settings.withdraw_settle_ms));
                    Ok(format!(
                        "held {}; no BGP session exports it after {unexported:.2} s, then {} ms for the routers",
                        plan.withdraw
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        settings.withdraw_settle_ms
                    ))
                }
                None => Err(format!(
                    "BIRD still exports {:?} after {} ms",
                    birdc.exported(&plan.withdraw).unwrap_or_default(),
                    settings.withdraw_timeout_ms
                )),
            }
        }
        Step::Nftables => {
            nftables::live::load(&on_root(root, "/etc/nftables.conf"))?;
            Ok(format!("{installed} file(s); table inet svcintent loaded"))
        }
        Step::Haproxy => {
            let after = haproxy::live::reload(
                Path::new(&settings.haproxy_master_socket),
                &settings.haproxy_reload,
                &on_root(root, "/etc/haproxy/haproxy.cfg"),
            )?;
            Ok(format!(
                "{installed} file(s); reload {} done, old workers finish their connections",
                after.total
            ))
        }
        Step::Apache => {
            let conf = std::fs::read_to_string(on_root(
                root,
                "/etc/apache2/conf-available/svcintent.conf",
            ))
            .unwrap_or_default();
            apache::live::reload(&settings.apache_reload, &apache::live::listen_ports(&conf))?;
            Ok(format!(
                "{installed} file(s) and link(s); graceful reload, listening"
            ))
        }
        Step::Icinga2 => {
            icinga2::live::reload(&settings.icinga2_reload)?;
            Ok(format!("{installed} file(s); reloaded"))
        }
        Step::LoopbackAdd => {
            loopback::add(&plan.vips_add)?;
            Ok(format!(
                "{installed} file(s); added {}",
                if plan.vips_add.is_empty() {
                    "nothing".to_owned()
                } else {
                    plan.vips_add
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))
        }
        Step::Healthchecker => {
            let changed = plan.ops.iter().any(|o| o.target == Target::Healthchecker);
            if !changed {
                return Ok(format!(
                    "{installed} state file(s) installed; no restart needed"
                ));
            }
            healthchecker::live::restart(&settings.healthchecker_restart)?;
            Ok(format!("{installed} file(s); restarted"))
        }
        Step::Bird => {
            // The hold list goes back to holding nothing: the new configuration does not
            // announce what was held.
            if let Some(rendered) = input
                .files
                .iter()
                .find(|f| f.path == svcintent_core::render::bird::HOLD_PATH)
            {
                state::write_atomic(
                    &on_root(root, &rendered.path),
                    &rendered.contents,
                    Some(0o644),
                )
                .map_err(|e| format!("cannot reset the hold list: {e}"))?;
            }
            if !bird_socket.exists() {
                return Err(format!(
                    "BIRD is not running (no control socket at {})",
                    settings.bird_socket
                ));
            }
            let mut birdc = bird::live::Birdc::connect(bird_socket, Duration::from_secs(30))?;
            let protocols_before = birdc.protocols()?;
            birdc.configure(None, Some(secs(settings.bird_undo_timeout_ms)))?;
            // Post-checks before confirming: nothing outside the host's announcements leaves it.
            let new_facts = input.manifest.hosts.get(&opts.host);
            let mut watch = announced_prefixes(new_facts);
            watch.extend(announced_prefixes(state.map(|s| &s.facts)));
            watch.extend(loopback_vips(new_facts).into_iter().map(IpNet::from));
            let allowed = announced_prefixes(new_facts);
            let stray = exec::wait_for(Duration::from_secs(5), || {
                birdc
                    .exported(&watch)
                    .ok()
                    .filter(|e| e.is_subset(&allowed))
            });
            if stray.is_none() {
                let exported = birdc.exported(&watch)?;
                let extra: Vec<String> = exported
                    .difference(&allowed)
                    .map(ToString::to_string)
                    .collect();
                return Err(format!(
                    "the new configuration exports {} which this host does not announce; BIRD goes back by itself",
                    extra.join(", ")
                ));
            }
            // What the configure restarted (its routes withdrawn and announced again), against
            // what the rollout expected from the facts (core's `bird_restarts`): an unexpected
            // restart is reported, not undone (undoing would restart it once more).
            let restarted = bird::live::restarted(&protocols_before, &birdc.protocols()?);
            let expected = state
                .zip(new_facts)
                .and_then(|(s, n)| svcintent_core::plan::facts::bird_restarts(&s.facts, n));
            let restarts = match (restarted.is_empty(), expected) {
                (true, _) => String::new(),
                (false, Some(why)) => format!(
                    "; BIRD restarted {} as planned (BIRD {why})",
                    restarted.join(", ")
                ),
                (false, None) => format!(
                    "; BIRD restarted {}, which no change of this host's settings explains: their routes were withdrawn and announced again (a peer that restarted, or a restart svcintent does not model: please report it)",
                    restarted.join(", ")
                ),
            };
            let confirmed = birdc.confirm()?;
            Ok(format!(
                "{installed} file(s); reconfigured with undo after {} s, {}{restarts}",
                settings.bird_undo_timeout_ms / 1000,
                if confirmed {
                    "confirmed"
                } else {
                    "already confirmed by a plain configure (the health checker's)"
                }
            ))
        }
        Step::LoopbackRemove => {
            loopback::remove(&plan.vips_remove)?;
            Ok(format!(
                "removed {}",
                plan.vips_remove
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

/// A journal found at the start: the run was killed. Every step done: complete it (record the
/// state). Otherwise roll it back.
fn recover(state_dir: &StateDir, journal: &Journal) -> Result<String, String> {
    let all_done = journal.steps.len() == journal.planned.len()
        && journal.steps.iter().all(|(_, p)| *p == Progress::Done);
    if all_done && let Some(commit) = &journal.commit {
        state_dir.write_state(commit)?;
        state_dir.finish(&journal.txid)?;
        return Ok(format!(
            "completed the interrupted apply {} (every step was done)",
            journal.txid
        ));
    }
    match roll_back(state_dir, journal) {
        Ok(_) => Ok(format!(
            "rolled back the interrupted apply {} ({} step(s) begun)",
            journal.txid,
            journal.steps.len()
        )),
        Err(errors) => Err(format!(
            "could not roll back the interrupted apply {}: {}",
            journal.txid,
            errors.join("; ")
        )),
    }
}

/// Puts back every journaled file and link, then re-activates what the run had begun to
/// change, in the same safe order as a forward run (putting the old state back is itself a
/// change that must not send a flow where nobody serves it): first BIRD stops exporting
/// everything that differs between the two states (the hold list lists the run's withdrawals
/// and its new announcements), then the daemons serve the old files again (each verified), the
/// VIPs the run removed come back onto `lo`, the health checker restarts, and only then BIRD
/// exports the old announcements again (the hold list's backup), and the VIPs the run added
/// leave `lo`. `Ok` with notes, or every error.
fn roll_back(state_dir: &StateDir, journal: &Journal) -> Result<Vec<String>, Vec<String>> {
    use crate::daemons::{apache, bird, haproxy, healthchecker, icinga2, nftables};
    use svcintent_core::render::bird::{HOLD_PATH, hold_list};
    let root = Path::new("/");
    let txn = state_dir.txn(&journal.txid);
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    let restore = |f: &JournalFile| -> Result<(), String> {
        let on = on_root(root, &f.path);
        match &f.backup {
            Some(name) => std::fs::read(txn.join(name))
                .map_err(|e| format!("backup of {}: {e}", f.path))
                .and_then(|bytes| {
                    state::write_atomic(&on, &bytes, f.mode.or(Some(0o644)))
                        .map_err(|e| format!("restoring {}: {e}", f.path))
                }),
            None => match std::fs::remove_file(&on) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("removing {}: {e}", f.path)),
            },
        }
    };
    // Every file but the hold list now; the hold list last, below.
    for f in journal.files.iter().filter(|f| f.path != HOLD_PATH) {
        if let Err(e) = restore(f) {
            errors.push(e);
        }
    }
    for l in &journal.links {
        let on = on_root(root, &l.path);
        let _ = std::fs::remove_file(&on);
        if let Some(t) = &l.target
            && let Err(e) = std::os::unix::fs::symlink(t, &on)
        {
            errors.push(format!("restoring the link {}: {e}", l.path));
        }
    }
    let settings = &journal.deploy;
    let bird_socket = Path::new(&settings.bird_socket);
    let begun = |step: Step| journal.steps.iter().any(|(n, _)| n == step.name());
    let touches_bird = begun(Step::Withdraw) || begun(Step::Bird);
    let hold_entry = journal.files.iter().find(|f| f.path == HOLD_PATH);
    let holds = hold_entry.is_some_and(|f| f.backup.is_some())
        && bird::live::includes(
            &std::fs::read_to_string(on_root(root, svcintent_core::render::bird::PATH))
                .unwrap_or_default(),
            HOLD_PATH,
        );
    let configure = |what: &str, notes: &mut Vec<String>| -> Result<(), String> {
        if !bird_socket.exists() {
            notes.push(format!(
                "BIRD is not running: nothing to reconfigure ({what})"
            ));
            return Ok(());
        }
        bird::live::Birdc::connect(bird_socket, Duration::from_secs(30))
            .and_then(|mut b| b.configure(None, None).map(|_| ()))
    };
    let step = |result: Result<(), String>, what: &str, errors: &mut Vec<String>| {
        if let Err(e) = result {
            errors.push(format!("re-activating {what}: {e}"));
        }
    };
    // 1. BIRD exports nothing that differs between the two states.
    if touches_bird {
        if holds {
            let r = state::write_atomic(
                &on_root(root, HOLD_PATH),
                hold_list(&journal.held).as_bytes(),
                Some(0o644),
            )
            .map_err(|e| format!("writing the hold list: {e}"));
            step(r, "the hold list", &mut errors);
        }
        let r = configure("hold", &mut notes);
        step(r, "bird", &mut errors);
    }
    // 2. The daemons serve the old files again.
    if begun(Step::Nftables) {
        let conf = on_root(root, "/etc/nftables.conf");
        let ours = journal
            .files
            .iter()
            .any(|f| f.path == "/etc/nftables.conf" && f.ours);
        // Only svcintent's own file is loaded again; before the first apply the host had no
        // table of ours, so it goes, and the rest of the ruleset is left as it is.
        let r = if ours && conf.exists() {
            nftables::live::load(&conf)
        } else {
            nftables::live::remove()
        };
        step(r, "nftables", &mut errors);
    }
    if begun(Step::Haproxy) {
        let r = haproxy::live::reload(
            Path::new(&settings.haproxy_master_socket),
            &settings.haproxy_reload,
            &on_root(root, "/etc/haproxy/haproxy.cfg"),
        )
        .map(|_| ());
        step(r, "haproxy", &mut errors);
    }
    if begun(Step::Apache) {
        let conf =
            std::fs::read_to_string(on_root(root, "/etc/apache2/conf-available/svcintent.conf"))
                .unwrap_or_default();
        let r = apache::live::reload(&settings.apache_reload, &apache::live::listen_ports(&conf));
        step(r, "apache", &mut errors);
    }
    if begun(Step::Icinga2) {
        let r = icinga2::live::reload(&settings.icinga2_reload);
        step(r, "icinga2", &mut errors);
    }
    if begun(Step::LoopbackRemove) {
        let r = loopback::add(&journal.vips_removed);
        step(r, "the loopback's removed VIPs", &mut errors);
    }
    if begun(Step::Healthchecker) {
        // Its configuration as restored: none means the host had none before this run.
        if on_root(root, "/etc/anycast-healthchecker.conf").exists() {
            let r = healthchecker::live::restart(&settings.healthchecker_restart);
            step(r, "healthchecker", &mut errors);
        } else {
            notes.push("anycast-healthchecker had no configuration before this apply: it was not restarted".to_owned());
        }
    }
    // 3. The old announcements again, now that their services serve.
    if let Some(f) = hold_entry {
        let r = restore(f);
        step(r, "the hold list", &mut errors);
    }
    if touches_bird {
        let r = configure("old configuration", &mut notes);
        step(r, "bird", &mut errors);
    }
    if begun(Step::LoopbackAdd) {
        let r = loopback::remove(&journal.vips_added);
        step(r, "the loopback's added VIPs", &mut errors);
    }
    if errors.is_empty() {
        if let Err(e) = state_dir.finish(&journal.txid) {
            errors.push(e);
            return Err(errors);
        }
        Ok(notes)
    } else {
        Err(errors)
    }
}
