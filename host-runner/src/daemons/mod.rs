//! Real-daemon checks of a rendered tree.
//!
//! A rendered tree has one folder per host, each holding that host's files at the path they get
//! on the host (`TREE/lb1/etc/haproxy/haproxy.cfg`, `TREE/lb1/etc/bird/bird.conf`, ...).
//! [`check_tree`] runs each daemon's own configuration check on each host's files and turns the
//! daemon's complaints into [`Finding`]s that point at the tree file and line.
//!
//! | daemon | runs for a host that has | sees of the host folder | command (inside the sandbox) |
//! | --- | --- | --- | --- |
//! | HAProxy | `etc/haproxy/haproxy.cfg` | `etc/haproxy/`, rendered `crt`/`ca-file` paths | `haproxy -c -dW -f /etc/haproxy/haproxy.cfg` |
//! | BIRD 2 | `etc/bird/bird.conf` | `etc/bird/`, `var/lib/anycast-healthchecker/`, rendered `include`s | `bird -p -c /etc/bird/bird.conf` |
//! | nftables | `etc/nftables.conf` | `etc/nftables.conf`, `etc/nftables{,.d}/`, rendered `include`s | `nft -c -f /etc/nftables.conf` |
//! | Icinga2 | `etc/icinga2/conf.d/svcintent/*.conf` | `etc/icinga2/`, rendered `include`s | `icinga2 daemon -C -c WRAPPER ...` ([`icinga2`]) |
//! | Apache2 | `etc/apache2/{conf,sites}-available/svcintent*.conf` | `etc/apache2/`, rendered `Include`s, `DocumentRoot`s and `SSL*File`s | `apache2 -t -f WRAPPER` ([`apache`]) |
//! | anycast-healthchecker | `etc/anycast-healthchecker.conf` | its `.conf` and `.d/`, `var/lib/anycast-healthchecker/`, the files its `[daemon]` names, rendered check programs | its own configuration check ([`healthchecker`]) |
//!
//! # Absolute paths: a throwaway root per check
//!
//! Configs name other files by absolute path (`include "/var/lib/anycast-healthchecker/..."`,
//! `crt /etc/haproxy/certs/x.pem`, `Include /etc/apache2/...`). Each check therefore runs in a
//! root of its own ([`sandbox`]): the host files the check reads (the column above: its
//! inputs, nothing else of the host folder) are copied into a fresh temporary directory `R`,
//! the few things the daemon needs but we do not render are written into that
//! copy (a throwaway self-signed certificate at each `crt` path, the Apache and Icinga2 wrapper
//! files under `/.svcintent-check/`, runtime directories), and the daemon runs as
//!
//! ```text
//! timeout -v -k 5 SECS unshare --user --map-root-user --mount --net -- sh -c '
//!     mount --rbind /usr R/usr; mount -o remount,bind,ro R/usr; ...; exec chroot R DAEMON ARGS'
//! ```
//!
//! or, what comes to the same root for the daemon but is paid once per worker instead of once
//! per check, inside a namespace prepared with those mounts whose root takes the check's files
//! in turn (see [`sandbox`]).
//!
//! The user namespace makes this work unprivileged as well as for root (mapped root may
//! bind-mount and chroot inside its own mount namespace, and holds `CAP_NET_ADMIN` over the new,
//! empty network namespace, which is what `nft -c` needs). Inside the root, `/usr` (and
//! `/bin`, `/sbin`, `/lib*` as the same symlinks or binds the machine has), `/dev`, `/proc` and a
//! short list of system files from `/etc` (`passwd`, `group`, `ld.so.cache`, `ssl`, `mime.types`,
//! `alternatives`, ... see [`sandbox::SYSTEM_ETC`]) are bind-mounted read-only from the machine,
//! but only where the rendered tree has no file of its own: rendered files always win, and a
//! rendered directory is merged entry by entry. Nothing else of the machine is visible, so a
//! check cannot pass because the build machine happens to have some `/etc` file, and it never
//! reads or writes the real `/etc` or `/var`. The rendered tree is only read (copied); the mounts
//! vanish with the namespace; the temporary directory is removed afterwards.
//!
//! The new network namespace has only `lo` (down): `iif "eth0"` in nftables fails there (render
//! `iifname`), host names in HAProxy `server` lines do not resolve (render addresses).
//!
//! Each run is bounded by coreutils `timeout(1)` ([`Options::timeout`]); it signals the whole
//! process group, so no daemon outlives its check. A timeout is reported as a [`Finding`].
//!
//! # Findings
//!
//! [`Finding::file`] is tree-relative (`lb1/etc/haproxy/haproxy.cfg`) when the daemon blamed a
//! rendered file (one of the check's inputs). When it blamed a file that is not (a harness
//! wrapper under `/.svcintent-check/`, an ITL file) the path stays absolute, as the daemon saw
//! it. When the
//! daemon named no file, it is the file the check started from. Warnings count as failures
//! unless [`Options::warnings_are_failures`] is off (HAProxy then runs without `-dW`).
//!
//! A daemon (or tool) that is needed and missing is a [`HarnessError`], never a silent skip.
//! Something a check could not test on this machine without failing for a reason that has
//! nothing to do with the config (a healthchecker `check_cmd` program that this machine lacks)
//! is a note ([`Report::notes`]), not a failure.
//!
//! # Each distinct check once
//!
//! Every check has a key: the daemon, the content of every input, the host's name
//! where the check uses it (Icinga2's node name), the options that change verdicts, the
//! daemon's executable and this harness build. Hosts whose checks have the same key share one
//! run, and the report still names every host: a finding of the shared run is reported on each
//! of them, at its own path. With [`Options::cache`], results are also kept by key across runs
//! (one small file per key, written atomically; a damaged entry is a miss): a re-run checks
//! only what changed. Checks stopped by their timeout are never cached.
//!
//! The distinct checks run on [`Options::jobs`] worker threads, biggest first.

pub mod apache;
pub mod bird;
mod cache;
mod certs;
pub mod haproxy;
pub mod healthchecker;
pub mod icinga2;
mod inputs;
pub mod nftables;
mod output;
pub mod sandbox;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::cache::{Cache, Outcome, Relative};
use self::certs::CertStore;
use self::inputs::{Inputs, Key};
use self::sandbox::{RunOutput, Runners, Sandbox, Tools};

/// The daemons the harness knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Daemon {
    /// HAProxy (`haproxy -c`).
    Haproxy,
    /// BIRD 2 (`bird -p`).
    Bird,
    /// nftables (`nft -c`).
    Nftables,
    /// Icinga2 (`icinga2 daemon -C`).
    Icinga2,
    /// Apache 2.4 (`apache2 -t`).
    Apache,
    /// anycast-healthchecker (`anycast-healthchecker -c` plus a startup dry run).
    Healthchecker,
}

impl Daemon {
    /// Every daemon, in the order checks run and reports list them.
    pub const ALL: [Daemon; 6] = [
        Daemon::Haproxy,
        Daemon::Bird,
        Daemon::Nftables,
        Daemon::Icinga2,
        Daemon::Apache,
        Daemon::Healthchecker,
    ];

    /// Short lowercase name (`haproxy`, `bird`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Haproxy => "haproxy",
            Daemon::Bird => "bird",
            Daemon::Nftables => "nftables",
            Daemon::Icinga2 => "icinga2",
            Daemon::Apache => "apache",
            Daemon::Healthchecker => "healthchecker",
        }
    }

    /// The file or folder of a host (relative to the host folder) whose presence makes this
    /// daemon's check run for that host, or `None` when the host has nothing for it.
    pub fn applies_to(self, host_dir: &Path) -> Option<PathBuf> {
        match self {
            Daemon::Haproxy => haproxy::applies(host_dir),
            Daemon::Bird => bird::applies(host_dir),
            Daemon::Nftables => nftables::applies(host_dir),
            Daemon::Icinga2 => icinga2::applies(host_dir),
            Daemon::Apache => apache::applies(host_dir),
            Daemon::Healthchecker => healthchecker::applies(host_dir),
        }
    }

    /// The host files (or folders, taken whole) this daemon's check reads: the only part of
    /// the host folder copied into its root, and what its key covers.
    fn input_roots(self, host_dir: &Path) -> Vec<PathBuf> {
        match self {
            Daemon::Haproxy => haproxy::input_roots(host_dir),
            Daemon::Bird => bird::input_roots(host_dir),
            Daemon::Nftables => nftables::input_roots(host_dir),
            Daemon::Icinga2 => icinga2::input_roots(host_dir),
            Daemon::Apache => apache::input_roots(host_dir),
            Daemon::Healthchecker => healthchecker::input_roots(host_dir),
        }
    }

    /// Whether the check depends on the host's name as well as its files: Icinga2's wrapper
    /// names the node after the host folder.
    pub fn reads_host_name(self) -> bool {
        matches!(self, Daemon::Icinga2)
    }

    /// Machine programs the check starts (beyond the daemon itself), whose state belongs in
    /// its key: the healthchecker's `check_cmd`s.
    fn machine_inputs(self, inputs: &Inputs) -> Vec<PathBuf> {
        match self {
            Daemon::Healthchecker => healthchecker::machine_inputs(inputs),
            _ => Vec::new(),
        }
    }

    /// Rough relative cost of one check, to start the longest first: a daemon whose checks
    /// take long per byte, times the bytes.
    fn cost(self, bytes: u64) -> u64 {
        let per_byte = match self {
            Daemon::Icinga2 => 8,
            Daemon::Healthchecker => 4,
            Daemon::Haproxy => 2,
            Daemon::Apache | Daemon::Bird | Daemon::Nftables => 1,
        };
        bytes.saturating_mul(per_byte)
    }
}

impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One complaint of a daemon about a host's files.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// The daemon that complained.
    pub daemon: Daemon,
    /// The host folder name.
    pub host: String,
    /// Tree-relative path of the blamed file (`lb1/etc/bird/bird.conf`); absolute when the daemon
    /// blamed a file that is not in the tree (see the module docs).
    pub file: PathBuf,
    /// 1-based line, when the daemon gave one.
    pub line: Option<u32>,
    /// The daemon's message, without its log prefixes.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}: {}", self.daemon, self.message)
    }
}

/// What [`check_tree`] did and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every check that ran: daemon, host and the tree-relative file or folder it checked
    /// (a check shared with identical hosts, or served by the cache, is listed for each host).
    pub checked: Vec<(Daemon, String, PathBuf)>,
    /// Every complaint, sorted by host, daemon, file and line.
    pub failures: Vec<Finding>,
    /// What a check could not test on this machine, without it being a failure of the config
    /// (a healthchecker check program this machine lacks), sorted like `failures`.
    pub notes: Vec<Finding>,
    /// How the checks were carried out.
    pub work: Work,
}

/// How [`check_tree`] carried out the checks of [`Report::checked`]: none of this changes a
/// verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Work {
    /// Distinct checks (hosts whose checks have the same inputs share one).
    pub distinct: usize,
    /// Distinct checks whose result came from [`Options::cache`].
    pub cached: usize,
    /// Distinct checks that ran now.
    pub ran: usize,
    /// Of those, checks that needed a namespace of their own (a rendered file where the
    /// prepared sandbox mounts one of the machine's, or `keep_sandboxes`).
    pub private: usize,
}

impl Report {
    /// True when every check passed.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Settings for [`check_tree`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Daemons to check (default: all). A host without files for a daemon is not checked for it.
    pub daemons: Vec<Daemon>,
    /// Host folders to check (default, empty: all).
    pub hosts: Vec<String>,
    /// The anycast-healthchecker venv folder, or its `bin/anycast-healthchecker`. `None`: the
    /// `SVCINTENT_HEALTHCHECKER` environment variable, else [`DEFAULT_HEALTHCHECKER_VENV`].
    pub healthchecker: Option<PathBuf>,
    /// Bound on each daemon run (default 60 s).
    pub timeout: Duration,
    /// Report warnings as failures (default true; HAProxy runs with `-dW`).
    pub warnings_are_failures: bool,
    /// Checks run at once (default 0: [`WORKERS_PER_CPU`] per CPU).
    pub jobs: usize,
    /// Keep each check's temporary root (its path is printed in timeouts and sandbox errors) for
    /// debugging; each check then runs in a namespace of its own. Default false.
    pub keep_sandboxes: bool,
    /// A folder for the result cache (created when missing; see the module docs). Default
    /// `None`: no cache.
    pub cache: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            daemons: Daemon::ALL.to_vec(),
            hosts: Vec::new(),
            healthchecker: None,
            timeout: Duration::from_secs(60),
            warnings_are_failures: true,
            jobs: 0,
            keep_sandboxes: false,
            cache: None,
        }
    }
}

/// Where `.ci/install-daemons.sh` puts the anycast-healthchecker venv.
pub const DEFAULT_HEALTHCHECKER_VENV: &str = "/opt/svcintent-venv";

/// Environment variable naming the anycast-healthchecker venv.
pub const HEALTHCHECKER_ENV: &str = "SVCINTENT_HEALTHCHECKER";

/// Why the harness could not check (as opposed to a daemon rejecting a config).
#[derive(Debug)]
#[non_exhaustive]
pub enum HarnessError {
    /// A daemon the tree needs is not installed.
    MissingDaemon {
        /// The daemon.
        daemon: Daemon,
        /// Where it was looked for.
        looked: Vec<PathBuf>,
    },
    /// A tool the harness itself runs (`unshare`, `mount`, `chroot`, `timeout`, `openssl`, `sh`).
    MissingTool {
        /// Its name.
        tool: &'static str,
        /// Where it was looked for.
        looked: Vec<PathBuf>,
    },
    /// Reading the tree or preparing a sandbox failed.
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The tree is not usable (not a folder, a symlink that would lead out of a host folder...).
    BadTree {
        /// The path involved.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The sandbox did not come up (user namespaces disabled, a mount refused...), or a helper
    /// behaved unexpectedly.
    Sandbox {
        /// The daemon being checked.
        daemon: Daemon,
        /// The host being checked.
        host: String,
        /// What happened, with the helper's output.
        detail: String,
    },
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::MissingDaemon { daemon, looked } => write!(
                f,
                "{daemon} is needed but not installed (looked for {}); run .ci/install-daemons.sh",
                join_paths(looked)
            ),
            HarnessError::MissingTool { tool, looked } => write!(
                f,
                "`{tool}` is needed by the daemon checks but not found (looked for {})",
                join_paths(looked)
            ),
            HarnessError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            HarnessError::BadTree { path, reason } => write!(f, "{}: {reason}", path.display()),
            HarnessError::Sandbox {
                daemon,
                host,
                detail,
            } => write!(f, "sandbox for {daemon} on {host} failed: {detail}"),
        }
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HarnessError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> HarnessError + '_ {
    move |source| HarnessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks every host of a rendered tree with every daemon that has files there.
///
/// Returns the checks that ran and the findings; `Err` only when the harness itself cannot
/// work (a needed daemon or tool is missing, the sandbox does not come up).
pub fn check_tree(tree: &Path, opts: &Options) -> Result<Report, HarnessError> {
    let hosts = list_hosts(tree, opts)?;
    // Files are read from one generation of a `render --out` tree, even if a render swaps the
    // link meanwhile (messages about the tree itself keep the path as given).
    let tree = std::fs::canonicalize(tree).map_err(io_err(tree))?;
    let mut jobs = Vec::new();
    for host in &hosts {
        let host_dir = tree.join(host);
        for daemon in Daemon::ALL {
            if !opts.daemons.contains(&daemon) {
                continue;
            }
            if let Some(checked) = daemon.applies_to(&host_dir) {
                let inputs = Inputs::collect(&host_dir, &daemon.input_roots(&host_dir))?;
                jobs.push(Job {
                    daemon,
                    host: host.clone(),
                    host_dir: host_dir.clone(),
                    checked: Path::new(host).join(checked),
                    inputs,
                });
            }
        }
    }
    if jobs.is_empty() {
        return Ok(Report::default());
    }

    let tools = Tools::find()?;
    let mut binaries = BTreeMap::new();
    for job in &jobs {
        if let std::collections::btree_map::Entry::Vacant(slot) = binaries.entry(job.daemon) {
            slot.insert(DaemonBinary::find(job.daemon, opts)?);
        }
    }
    let contexts: BTreeMap<Daemon, String> = binaries
        .iter()
        .map(|(daemon, binary)| {
            let context = inputs::context(
                *daemon,
                &binary.exe,
                &binary.identities,
                opts.warnings_are_failures,
                opts.timeout,
            );
            (*daemon, context)
        })
        .collect();

    // Group the jobs by key; the first job of a group (in host order) runs for all.
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: BTreeMap<Key, usize> = BTreeMap::new();
    for (index, job) in jobs.iter().enumerate() {
        let machine: Vec<String> = job
            .daemon
            .machine_inputs(&job.inputs)
            .iter()
            .map(|p| inputs::identity(p))
            .collect();
        let context = contexts.get(&job.daemon).map_or("", String::as_str);
        let host = job.daemon.reads_host_name().then_some(job.host.as_str());
        let key = inputs::key(context, job.daemon, host, &job.inputs, &machine);
        match by_key.get(&key) {
            Some(&g) => {
                if let Some(group) = groups.get_mut(g) {
                    group.members.push(index);
                }
            }
            None => {
                by_key.insert(key, groups.len());
                groups.push(Group {
                    key,
                    daemon: job.daemon,
                    members: vec![index],
                    outcome: None,
                });
            }
        }
    }

    let cache = opts.cache.as_deref().map(Cache::open).transpose()?;
    let mut work = Work {
        distinct: groups.len(),
        ..Work::default()
    };
    for group in &mut groups {
        if let Some(outcome) = cache.as_ref().and_then(|c| c.get(&group.key, group.daemon)) {
            group.outcome = Some(outcome);
            work.cached += 1;
        }
    }
    // Only the first job of a group that still has to run keeps its files' contents.
    for group in &groups {
        for (n, &index) in group.members.iter().enumerate() {
            if (n > 0 || group.outcome.is_some())
                && let Some(job) = jobs.get_mut(index)
            {
                job.inputs.drop_contents();
            }
        }
    }
    // (group, the job that runs for it), biggest first.
    let mut to_run: Vec<(usize, &Job)> = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.outcome.is_none())
        .filter_map(|(n, g)| g.members.first().and_then(|&i| jobs.get(i)).map(|j| (n, j)))
        .collect();
    to_run.sort_by_key(|(_, j)| std::cmp::Reverse(j.daemon.cost(j.inputs.bytes())));

    let ctx = Ctx {
        opts: opts.clone(),
        tools,
        binaries,
        certs: CertStore::default(),
    };
    let run: Vec<&Job> = to_run.iter().map(|(_, j)| *j).collect();
    let results = run_checks(&ctx, &run, opts.jobs)?;
    let ran_groups: Vec<usize> = to_run.iter().map(|(g, _)| *g).collect();
    for (g, ran) in ran_groups.into_iter().zip(results) {
        work.ran += 1;
        if ran.private {
            work.private += 1;
        }
        let outcome = Outcome {
            failures: ran.failures.iter().map(Relative::of).collect(),
            notes: ran.notes.iter().map(Relative::of).collect(),
        };
        if let (Some(cache), false, Some(group)) = (&cache, ran.timed_out, groups.get(g)) {
            // A cache that cannot be written only costs time on the next run.
            let _ = cache.put(&group.key, group.daemon, &outcome);
        }
        if let Some(group) = groups.get_mut(g) {
            group.outcome = Some(outcome);
        }
    }

    let mut report = Report {
        work,
        ..Report::default()
    };
    let mut outcome_of = vec![None; jobs.len()];
    for group in &groups {
        for &index in &group.members {
            if let Some(slot) = outcome_of.get_mut(index) {
                *slot = group.outcome.as_ref();
            }
        }
    }
    for (job, outcome) in jobs.iter().zip(outcome_of) {
        report
            .checked
            .push((job.daemon, job.host.clone(), job.checked.clone()));
        if let Some(outcome) = outcome {
            report
                .failures
                .extend(outcome.failures.iter().map(|f| f.on(job.daemon, &job.host)));
            report
                .notes
                .extend(outcome.notes.iter().map(|f| f.on(job.daemon, &job.host)));
        }
    }
    for list in [&mut report.failures, &mut report.notes] {
        list.sort_by(|a, b| {
            (&a.host, a.daemon, &a.file, a.line, &a.message)
                .cmp(&(&b.host, b.daemon, &b.file, b.line, &b.message))
        });
        list.dedup();
    }
    Ok(report)
}

/// Jobs whose checks have one key.
#[derive(Debug)]
struct Group {
    key: Key,
    daemon: Daemon,
    /// Indices into the job list, in host order.
    members: Vec<usize>,
    /// The check's findings, once run or read from the cache.
    outcome: Option<Outcome>,
}

fn list_hosts(tree: &Path, opts: &Options) -> Result<Vec<String>, HarnessError> {
    let meta = std::fs::metadata(tree).map_err(io_err(tree))?;
    if !meta.is_dir() {
        return Err(HarnessError::BadTree {
            path: tree.to_path_buf(),
            reason: "not a folder".into(),
        });
    }
    let mut hosts = Vec::new();
    for entry in std::fs::read_dir(tree).map_err(io_err(tree))? {
        let entry = entry.map_err(io_err(tree))?;
        let kind = entry.file_type().map_err(io_err(&entry.path()))?;
        if !kind.is_dir() {
            continue; // manifest.json and the like
        }
        let Ok(name) = entry.file_name().into_string() else {
            return Err(HarnessError::BadTree {
                path: entry.path(),
                reason: "host folder name is not UTF-8".into(),
            });
        };
        if name.starts_with('.') {
            continue;
        }
        if opts.hosts.is_empty() || opts.hosts.contains(&name) {
            hosts.push(name);
        }
    }
    for wanted in &opts.hosts {
        if !hosts.contains(wanted) {
            return Err(HarnessError::BadTree {
                path: tree.join(wanted),
                reason: "no such host folder".into(),
            });
        }
    }
    hosts.sort();
    Ok(hosts)
}

/// One daemon on one host.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) daemon: Daemon,
    pub(crate) host: String,
    /// `TREE/host`.
    pub(crate) host_dir: PathBuf,
    /// Tree-relative file or folder reported in [`Report::checked`].
    pub(crate) checked: PathBuf,
    /// The host files the check reads (and nothing else of the host folder).
    pub(crate) inputs: Inputs,
}

/// What every job shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) opts: Options,
    pub(crate) tools: Tools,
    pub(crate) binaries: BTreeMap<Daemon, DaemonBinary>,
    pub(crate) certs: CertStore,
}

/// Where a daemon's executable is, as seen both outside and inside the sandbox (same path).
#[derive(Debug, Clone)]
pub(crate) struct DaemonBinary {
    pub(crate) exe: PathBuf,
    /// Folders outside `/usr` to bind at the same path (the healthchecker venv).
    pub(crate) extra_binds: Vec<PathBuf>,
    /// [`inputs::identity`] of the daemon's other files that its checks depend on (the
    /// healthchecker's interpreter and package, Apache's modules), for the key.
    pub(crate) identities: Vec<String>,
}

impl DaemonBinary {
    fn find(daemon: Daemon, opts: &Options) -> Result<Self, HarnessError> {
        let name = match daemon {
            Daemon::Haproxy => "haproxy",
            Daemon::Bird => "bird",
            Daemon::Nftables => "nft",
            Daemon::Icinga2 => "icinga2",
            Daemon::Apache => "apache2",
            Daemon::Healthchecker => return healthchecker::find_binary(opts),
        };
        let looked = sandbox::candidates(name);
        for path in &looked {
            if sandbox::is_executable(path) && sandbox::visible_in_sandbox(path) {
                let identities = match daemon {
                    Daemon::Apache => apache::module_identities(),
                    _ => Vec::new(),
                };
                return Ok(DaemonBinary {
                    exe: path.clone(),
                    extra_binds: Vec::new(),
                    identities,
                });
            }
        }
        Err(HarnessError::MissingDaemon { daemon, looked })
    }
}

impl Ctx {
    pub(crate) fn binary(&self, daemon: Daemon) -> Result<&DaemonBinary, HarnessError> {
        self.binaries
            .get(&daemon)
            .ok_or_else(|| HarnessError::MissingDaemon {
                daemon,
                looked: Vec::new(),
            })
    }
}

impl Job {
    /// A finding blaming `file` as the daemon named it inside the sandbox (absolute), or the
    /// checked file when the daemon named none.
    pub(crate) fn finding(
        &self,
        file: Option<&str>,
        line: Option<u32>,
        message: impl Into<String>,
    ) -> Finding {
        let file = match file {
            Some(f) => self.tree_path(f),
            None => self.checked.clone(),
        };
        Finding {
            daemon: self.daemon,
            host: self.host.clone(),
            file,
            line,
            message: message.into(),
        }
    }

    /// Maps a path as seen inside the sandbox to the tree-relative path of the rendered file, or
    /// keeps it (absolute) when it is not one of the check's input files.
    pub(crate) fn tree_path(&self, inside: &str) -> PathBuf {
        let inside = inside.trim();
        let rel = sandbox::normalize(Path::new(inside));
        if !rel.as_os_str().is_empty()
            && Path::new(inside).is_absolute()
            && self.inputs.has_file(&rel)
        {
            return Path::new(&self.host).join(rel);
        }
        PathBuf::from(inside)
    }
}

/// What running one check gave, for the job that ran it.
#[derive(Debug)]
struct Ran {
    failures: Vec<Finding>,
    notes: Vec<Finding>,
    timed_out: bool,
    private: bool,
}

/// Workers per CPU when [`Options::jobs`] is 0. A check is not all CPU: `nft -c` waits in one
/// netlink call while the kernel validates and aborts its transaction (8–18 ms per ruleset),
/// and every check starts processes. With two workers per CPU, `validate` of 1,000 services ×
/// 200 hosts took 7.7–8.6 s on 2 CPUs (medians of 3) against 9.5–10.4 s with one; three
/// workers in all took 9.1 s, eight 10.0 s with more CPU time lost to contention
/// (docs/performance.md).
pub const WORKERS_PER_CPU: usize = 2;

/// Runs `jobs` on `wanted` worker threads (0: [`WORKERS_PER_CPU`] per CPU), each with its own
/// prepared namespaces; results in the order of `jobs`. After a harness error the workers take
/// no new job, and the error of the first job that had one is returned.
fn run_checks(ctx: &Ctx, jobs: &[&Job], wanted: usize) -> Result<Vec<Ran>, HarnessError> {
    let workers = if wanted == 0 {
        std::thread::available_parallelism().map_or(1, usize::from) * WORKERS_PER_CPU
    } else {
        wanted
    }
    .clamp(1, jobs.len().max(1));
    let next = Mutex::new(0usize);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results: Mutex<BTreeMap<usize, Result<Ran, HarnessError>>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut runners = Runners::default();
                loop {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let index = {
                        let Ok(mut guard) = next.lock() else { return };
                        let index = *guard;
                        *guard += 1;
                        index
                    };
                    let Some(job) = jobs.get(index) else { return };
                    let prepared = (!ctx.opts.keep_sandboxes).then_some(&mut runners);
                    let result = run_check(ctx, job, prepared);
                    if result.is_err() {
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    if let Ok(mut guard) = results.lock() {
                        guard.insert(index, result);
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    if let Some(i) = results.iter().find_map(|(i, r)| r.is_err().then_some(*i))
        && let Some(Err(err)) = results.remove(&i)
    {
        return Err(err);
    }
    (0..jobs.len())
        .map(|i| match results.remove(&i) {
            Some(result) => result,
            None => Err(HarnessError::Sandbox {
                daemon: jobs.get(i).map_or(Daemon::Haproxy, |j| j.daemon),
                host: jobs.get(i).map(|j| j.host.clone()).unwrap_or_default(),
                detail: "the worker thread died".into(),
            }),
        })
        .collect()
}

fn run_check(ctx: &Ctx, job: &Job, runners: Option<&mut Runners>) -> Result<Ran, HarnessError> {
    let binary = ctx.binary(job.daemon)?;
    let mut sb = Sandbox::new(ctx, job, &binary.extra_binds, runners)?;
    let failures = match job.daemon {
        Daemon::Haproxy => haproxy::check(ctx, job, &mut sb),
        Daemon::Bird => bird::check(ctx, job, &mut sb),
        Daemon::Nftables => nftables::check(ctx, job, &mut sb),
        Daemon::Icinga2 => icinga2::check(ctx, job, &mut sb),
        Daemon::Apache => apache::check(ctx, job, &mut sb),
        Daemon::Healthchecker => healthchecker::check(ctx, job, &mut sb),
    }?;
    Ok(Ran {
        failures,
        notes: sb.take_notes(),
        timed_out: sb.timed_out(),
        private: sb.ran_private(),
    })
}

/// Shared tail of a check: a run that timed out, or failed without any parsed finding, still
/// yields a finding; warnings are dropped when they do not count.
pub(crate) fn conclude(
    ctx: &Ctx,
    job: &Job,
    out: &RunOutput,
    parsed: Vec<(Finding, bool)>,
) -> Vec<Finding> {
    if out.timed_out {
        return vec![job.finding(
            None,
            None,
            format!(
                "check did not finish within {:?} (output: {})",
                ctx.opts.timeout,
                output::tail(&out.combined(), 800)
            ),
        )];
    }
    let mut findings: Vec<Finding> = parsed
        .into_iter()
        .filter(|(_, is_warning)| ctx.opts.warnings_are_failures || !*is_warning)
        .map(|(f, _)| f)
        .collect();
    if !out.success() && findings.is_empty() {
        findings.push(job.finding(
            None,
            None,
            format!(
                "exited with {} (output: {})",
                out.status_text(),
                output::tail(&out.combined(), 800)
            ),
        ));
    }
    findings
}

/// The tree-relative path of the file a host has at `on_host` (an absolute on-host path), when
/// the host has it: how a daemon with one fixed config file decides that it applies.
pub(crate) fn rendered_file(host_dir: &Path, on_host: &str) -> Option<PathBuf> {
    let rel = Path::new(on_host.trim_start_matches('/'));
    host_dir.join(rel).is_file().then(|| rel.to_path_buf())
}

/// A file's text (lossy UTF-8), empty when it cannot be read: for finding a check's inputs,
/// where an unreadable file simply names nothing.
pub(crate) fn read_text(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Host-relative paths named by absolute `include "PATH"` lines (BIRD, nftables, Icinga2's
/// `include` and `include_recursive`): inputs of the check when the host renders them. A path
/// with a wildcard gives the folder before its first wildcard.
pub(crate) fn include_roots(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        let Some(first) = line.split_whitespace().next() else {
            continue;
        };
        if !first.starts_with("include") {
            continue;
        }
        let rest = line.get(first.len()..).unwrap_or("").trim_start();
        let Some(path) = rest
            .strip_prefix('"')
            .and_then(|r| r.split('"').next())
            .filter(|p| p.starts_with('/'))
        else {
            continue;
        };
        let root = literal_root(path);
        if !root.as_os_str().is_empty() && !out.contains(&root) {
            out.push(root);
        }
    }
    out
}

/// The host-relative path of an absolute `path`, cut before its first component with a
/// wildcard (`/etc/nftables.d/*.nft` -> `etc/nftables.d`).
pub(crate) fn literal_root(path: &str) -> PathBuf {
    let mut root = PathBuf::new();
    for comp in Path::new(path).components() {
        if comp.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
            break;
        }
        root.push(comp);
    }
    sandbox::normalize(&root)
}

/// Runs the daemon with `flags` followed by `config` (its on-host path) and parses its output:
/// the whole check for daemons that need nothing materialised.
pub(crate) fn run_config_check(
    ctx: &Ctx,
    job: &Job,
    sb: &mut Sandbox,
    flags: &[&str],
    config: &str,
    parse: fn(&Job, &str) -> Vec<(Finding, bool)>,
) -> Result<Vec<Finding>, HarnessError> {
    let exe = &ctx.binary(job.daemon)?.exe;
    let mut argv = args([exe.as_os_str()]);
    argv.extend(flags.iter().map(OsString::from));
    argv.push(config.into());
    let out = sb.run(&argv, &[])?;
    let parsed = parse(job, &out.combined());
    Ok(conclude(ctx, job, &out, parsed))
}

/// Arguments as `OsString`s.
pub(crate) fn args<I, S>(items: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    items.into_iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes() {
        let text = "include \"/var/lib/a.conf\";\n  include \"/etc/nftables.d/*.nft\"\n\
                    include_recursive \"/etc/icinga2/zones\"\ninclude <itl>\n# include \"/x\"\n\
                    include \"relative.conf\";\n";
        assert_eq!(
            include_roots(text),
            vec![
                PathBuf::from("var/lib/a.conf"),
                PathBuf::from("etc/nftables.d"),
                PathBuf::from("etc/icinga2/zones"),
            ]
        );
    }
}
