//! The root each check runs in (see the [module docs](super) for the why).
//!
//! `Sandbox::new` stages a check's input files (only those, see [`super::inputs`]) in
//! `TMP/root`; the daemon module then writes what the daemon needs but we do not render
//! ([`Sandbox::write()`], [`Sandbox::mkdir`]). The first [`Sandbox::run`] decides where the
//! check runs:
//!
//! - In the worker's prepared namespace ([`Runners`]), when the staged files fit around its
//!   mounts: they are moved into its root, and the daemon runs as
//!   `timeout -v -k 5 SECS chroot ROOT ARGV...` inside the namespace. Setting up the namespace
//!   (about fifty `mount` commands) is paid once per worker, not once per check.
//! - Otherwise (a rendered file where the sandbox would mount one of the machine's, or
//!   `--keep-sandboxes`) in a namespace of its own, bind mounts planned from what is then in
//!   the root, every run executing
//!
//! ```text
//! timeout -v -k 5 SECS unshare --user --map-root-user --mount --propagation private --net \
//!     -- sh -c 'mount ...; : > TMP/ready; exec chroot TMP/root "$@"' sandbox ARGV...
//! ```
//!
//! Either way the daemon sees the same root: the prepared namespace has exactly the mounts a
//! private one plans for a root without rendered files in their way. `TMP/ready` tells a
//! sandbox that did not come up (no marker) from a daemon that failed. The mounts exist only
//! in the private mount namespace, so removing `TMP` afterwards never reaches the machine's
//! folders.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Ctx, Daemon, Finding, HarnessError, Job, io_err};

/// Entries of the machine's `/etc` that the sandbox shows (read-only) unless the rendered tree
/// has its own: user and group names, the dynamic linker cache, name resolution, TLS trust,
/// MIME types, protocol and service names, iproute2 tables, alternatives symlinks and HAProxy's
/// packaged error pages.
pub const SYSTEM_ETC: &[&str] = &[
    "alternatives",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "resolv.conf",
    "gai.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "ssl",
    "ca-certificates",
    "mime.types",
    "protocols",
    "services",
    "ethertypes",
    "iproute2",
    "os-release",
    "haproxy/errors",
];

/// Top-level system folders shown from the machine (as the same symlink when the machine has a
/// merged `/usr`).
const SYSTEM_TOP: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// `PATH` inside the sandbox.
pub const SANDBOX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Folder inside the sandbox root for files the harness writes (wrappers, state dirs).
pub const HARNESS_DIR: &str = "/.svcintent-check";

/// The external tools the harness runs outside the sandbox.
#[derive(Debug, Clone)]
pub struct Tools {
    pub(crate) sh: PathBuf,
    pub(crate) unshare: PathBuf,
    pub(crate) mount: PathBuf,
    pub(crate) chroot: PathBuf,
    pub(crate) timeout: PathBuf,
    pub(crate) openssl: PathBuf,
}

impl Tools {
    /// Finds every tool, or names the first missing one.
    pub fn find() -> Result<Self, HarnessError> {
        Ok(Tools {
            sh: find_tool("sh")?,
            unshare: find_tool("unshare")?,
            mount: find_tool("mount")?,
            chroot: find_tool("chroot")?,
            timeout: find_tool("timeout")?,
            openssl: find_tool("openssl")?,
        })
    }
}

fn find_tool(tool: &'static str) -> Result<PathBuf, HarnessError> {
    let looked = candidates(tool);
    looked
        .iter()
        .find(|p| is_executable(p))
        .cloned()
        .ok_or(HarnessError::MissingTool { tool, looked })
}

/// Where an executable called `name` may be: the `PATH` folders, then the system folders
/// (`/usr/sbin` is not on every user's `PATH`).
pub fn candidates(name: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(std::env::split_paths(SANDBOX_PATH));
    let mut out: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        if !dir.is_absolute() {
            continue;
        }
        let path = dir.join(name);
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// A regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// True when `path` resolves to somewhere under `/usr`, which every sandbox shows at the same
/// path (pyenv or rustup shims in a home folder are not).
pub fn visible_in_sandbox(path: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|p| p.starts_with("/usr"))
}

/// Lexically normalises a path to one relative to the root: `/a/./b/../c` -> `a/c`; `..` never
/// climbs above the root.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary folder removed on drop (unless kept).
#[derive(Debug)]
pub(crate) struct TempDir {
    pub(crate) path: PathBuf,
    pub(crate) keep: bool,
}

impl TempDir {
    pub(crate) fn new() -> Result<Self, HarnessError> {
        let base = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("svcintent-check-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path, keep: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(&base)(e)),
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            // Files the daemons made are ours (mapped root is our uid); folders they made
            // read-only would stop removal, so open them up first.
            let _ = make_writable(&self.path);
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn make_writable(dir: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_dir() {
        let mut perms = meta.permissions();
        if perms.mode() & 0o700 != 0o700 {
            perms.set_mode(perms.mode() | 0o700);
            std::fs::set_permissions(dir, perms)?;
        }
        for entry in std::fs::read_dir(dir)? {
            make_writable(&entry?.path())?;
        }
    }
    Ok(())
}

/// What a sandboxed run printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct RunOutput {
    /// Exit code (`None`: killed by a signal).
    pub status: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error, without `timeout`'s own notices.
    pub stderr: String,
    /// `timeout(1)` had to stop it.
    pub timed_out: bool,
}

impl RunOutput {
    /// Exited with 0.
    pub fn success(&self) -> bool {
        self.status == Some(0) && !self.timed_out
    }

    /// Standard error then standard output.
    pub fn combined(&self) -> String {
        let mut s = self.stderr.clone();
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&self.stdout);
        s
    }

    /// `code 1` or `a signal`.
    pub fn status_text(&self) -> String {
        match self.status {
            Some(code) => format!("code {code}"),
            None => "a signal".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Bind {
    src: PathBuf,
    /// Outside path of the mount point.
    dst: PathBuf,
    dir: bool,
    read_only: bool,
}

/// Where a check's root is.
#[derive(Debug)]
enum Place {
    /// Being filled in the check's own temporary folder; nothing ran yet.
    Staged,
    /// Ran in its own temporary folder, with its own namespace per run.
    Private { binds: Vec<Bind> },
    /// Moved into the worker's prepared root `runners.list[index]`.
    Prepared { index: usize },
}

/// One check's root. See the module docs.
#[derive(Debug)]
pub struct Sandbox<'w> {
    /// The folder holding `root` (and a private run's `ready` marker): the worker's shared
    /// staging folder, or `own`.
    home: PathBuf,
    /// A staging folder of this check's own (removed on drop unless kept).
    own: Option<TempDir>,
    /// `home/root`: where the check's files are staged (and stay, for a private run).
    staged: PathBuf,
    /// Where the check's files are now: `staged`, or the prepared root they moved into.
    root: PathBuf,
    tools: Tools,
    daemon: Daemon,
    host: String,
    timeout: std::time::Duration,
    extra_binds: Vec<PathBuf>,
    runners: Option<&'w mut Runners>,
    place: Place,
    timed_out: bool,
    notes: Vec<Finding>,
}

impl<'w> Sandbox<'w> {
    /// Stages the job's input files in a root with the usual runtime folders. With `runners`,
    /// the root is the worker's staging folder (its runtime folders made once, emptied again
    /// after each check), and the first [`Sandbox::run`] moves the files into the worker's
    /// prepared namespace when they fit there (see [`Runners`]).
    pub(crate) fn new(
        ctx: &Ctx,
        job: &Job,
        extra_binds: &[PathBuf],
        mut runners: Option<&'w mut Runners>,
    ) -> Result<Self, HarnessError> {
        // Inputs at a runtime path that only a root of their own gets as a private sandbox
        // would have it (a rendered `/tmp/x` makes `/tmp` 0755 there, not 1777).
        let shared = match runners.as_deref_mut() {
            Some(runners) if !job.inputs.any(runtime_conflict) => Some(runners.staging()?),
            _ => None,
        };
        let (home, own) = match shared {
            Some(home) => (home, None),
            None => {
                let mut dir = TempDir::new()?;
                dir.keep = ctx.opts.keep_sandboxes;
                let staged = dir.path.join("root");
                std::fs::create_dir(&staged).map_err(io_err(&staged))?;
                (dir.path.clone(), Some(dir))
            }
        };
        let staged = home.join("root");
        let sb = Sandbox {
            home,
            own,
            root: staged.clone(),
            staged,
            tools: ctx.tools.clone(),
            daemon: job.daemon,
            host: job.host.clone(),
            timeout: ctx.opts.timeout,
            extra_binds: extra_binds.to_vec(),
            runners,
            place: Place::Staged,
            timed_out: false,
            notes: Vec::new(),
        };
        // From here a failure leaves the shared staging folder to `Drop`, which empties it.
        job.inputs.copy_to(&sb.staged)?;
        add_runtime_dirs(&sb.staged)?;
        Ok(sb)
    }

    /// The root folder (outside view).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The outside path of `inside` (absolute or root-relative), refusing to pass through a
    /// symlink of the copied tree, so a write never lands outside the root.
    pub fn host_path(&self, inside: impl AsRef<Path>) -> Result<PathBuf, HarnessError> {
        if let Place::Prepared { index } = self.place
            && let Some(runner) = self.runners.as_ref().and_then(|r| r.list.get(index))
            && runner.skeleton.is_reserved(&normalize(inside.as_ref()))
        {
            // Every daemon module writes before its first run; a later write here would be
            // hidden by a mount of the prepared namespace.
            return Err(self.sandbox_err(format!(
                "internal: {} written after the first run, where the prepared root mounts the machine's",
                inside.as_ref().display()
            )));
        }
        path_in(&self.root, inside.as_ref())
    }

    /// Whether anything (file, folder, symlink) is at `inside`.
    pub fn exists(&self, inside: impl AsRef<Path>) -> bool {
        std::fs::symlink_metadata(self.root.join(normalize(inside.as_ref()))).is_ok()
    }

    /// Creates a folder (and its parents) inside the root.
    pub fn mkdir(&self, inside: impl AsRef<Path>) -> Result<(), HarnessError> {
        let p = self.host_path(inside)?;
        std::fs::create_dir_all(&p).map_err(io_err(&p))
    }

    /// Writes a file inside the root, creating its folder.
    pub fn write(&self, inside: impl AsRef<Path>, contents: &[u8]) -> Result<(), HarnessError> {
        let inside = inside.as_ref();
        if let Some(parent) = normalize(inside).parent() {
            self.mkdir(parent)?;
        }
        let p = self.host_path(inside)?;
        std::fs::write(&p, contents).map_err(io_err(&p))
    }

    /// Reads a file of the root (following symlinks inside the root is not attempted).
    pub fn read(&self, inside: impl AsRef<Path>) -> Option<String> {
        let p = self.root.join(normalize(inside.as_ref()));
        std::fs::read(p)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Records something the check could not test on this machine (not a failure).
    pub(crate) fn note(&mut self, note: Finding) {
        self.notes.push(note);
    }

    /// The notes recorded so far.
    pub(crate) fn take_notes(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.notes)
    }

    /// Whether a run had to be stopped by its timeout.
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Whether the check ran in a namespace of its own instead of a prepared one.
    pub(crate) fn ran_private(&self) -> bool {
        matches!(self.place, Place::Private { .. })
    }

    /// Runs `argv` inside the sandbox with a clean environment plus `env`.
    pub fn run(
        &mut self,
        argv: &[OsString],
        env: &[(&str, &str)],
    ) -> Result<RunOutput, HarnessError> {
        if matches!(self.place, Place::Staged) {
            self.place = self.settle()?;
        }
        let out = match &self.place {
            Place::Prepared { index } => {
                let index = *index;
                let runner = self
                    .runners
                    .as_deref_mut()
                    .and_then(|r| r.list.get_mut(index));
                match runner {
                    Some(runner) => runner.run(argv, env, self.timeout),
                    None => Err("the prepared namespace is gone".to_string()),
                }
                .map_err(|detail| self.sandbox_err(detail))?
            }
            Place::Private { binds } => self.run_private(binds, argv, env)?,
            Place::Staged => return Err(self.sandbox_err("internal: root not settled".into())),
        };
        self.timed_out |= out.timed_out;
        Ok(out)
    }

    /// Decides where the staged root runs: in the worker's prepared root when every staged
    /// entry fits around its mounts (see [`Skeleton::fits`]), else privately, with bind mounts
    /// planned from what the root holds now.
    fn settle(&mut self) -> Result<Place, HarnessError> {
        if let Some(runners) = self.runners.as_deref_mut() {
            let index = runners
                .index_for(&self.tools, &self.extra_binds)
                .map_err(|detail| HarnessError::Sandbox {
                    daemon: self.daemon,
                    host: self.host.clone(),
                    detail,
                })?;
            if let Some(runner) = runners.list.get_mut(index) {
                let fits = runner.skeleton.fits(&self.staged, Path::new(""))?;
                if fits {
                    runner
                        .skeleton
                        .move_in(&self.staged, &runner.root, Path::new(""))?;
                    self.root = runner.root.clone();
                    return Ok(Place::Prepared { index });
                }
            }
        }
        Ok(Place::Private {
            binds: plan_binds(&self.staged, &self.extra_binds)?,
        })
    }

    /// One run in a namespace of its own (see the module docs).
    fn run_private(
        &self,
        binds: &[Bind],
        argv: &[OsString],
        env: &[(&str, &str)],
    ) -> Result<RunOutput, HarnessError> {
        let marker = self.home.join("ready");
        let _ = std::fs::remove_file(&marker);
        let script = private_script(&self.tools, binds, &marker, &self.staged);

        let secs = self.timeout.as_secs_f64().max(0.001);
        let mut cmd = Command::new(&self.tools.timeout);
        cmd.arg("-v")
            .arg("-k")
            .arg("5s")
            .arg(format!("{secs}s"))
            .arg(&self.tools.unshare)
            .args(UNSHARE_FLAGS)
            .arg(&self.tools.sh)
            .arg("-c")
            .arg(script)
            .arg("svcintent-sandbox")
            .args(argv)
            .env_clear()
            .envs(BASE_ENV.iter().copied())
            .envs(env.iter().copied())
            .current_dir(&self.home)
            .stdin(Stdio::null());
        let out = cmd.output().map_err(|e| {
            self.sandbox_err(format!("cannot run {}: {e}", self.tools.timeout.display()))
        })?;
        let run = RunOutput::from_streams(
            out.status.code(),
            &out.stdout,
            &String::from_utf8_lossy(&out.stderr),
        );
        if !marker.exists() && !run.timed_out {
            return Err(self.sandbox_err(format!(
                "the sandbox did not come up ({}): {}",
                out.status,
                super::output::tail(&format!("{}{}", run.stderr, run.stdout), 2000)
            )));
        }
        Ok(run)
    }

    pub(crate) fn sandbox_err(&self, detail: String) -> HarnessError {
        let detail = match &self.own {
            Some(dir) if dir.keep => format!("{detail} (sandbox kept at {})", dir.path.display()),
            _ => detail,
        };
        HarnessError::Sandbox {
            daemon: self.daemon,
            host: self.host.clone(),
            detail,
        }
    }
}

impl Drop for Sandbox<'_> {
    fn drop(&mut self) {
        if let Some(runners) = self.runners.as_deref_mut() {
            if let Place::Prepared { index } = self.place {
                runners.reset(index);
            }
            if self.own.is_none() {
                runners.reset_staging();
            }
        }
    }
}

/// The runtime folders and symlinks every root gets ([`add_runtime_dirs`]).
const RUNTIME: &[&str] = &[
    "tmp",
    "var",
    "var/tmp",
    "run",
    "run/lock",
    "var/log",
    "var/lib",
    "var/cache",
    ".svcintent-check",
    "var/run",
    "var/lock",
];

/// Whether an input at `path` (a folder when `is_dir`) needs a staging folder of its own: it
/// is at or under a runtime path whose mode or kind a private root takes from the tree
/// (`tmp`, `var/tmp`, the `var/run` and `var/lock` symlinks), or it is a runtime path but not
/// a folder.
fn runtime_conflict(path: &Path, is_dir: bool) -> bool {
    ["tmp", "var/tmp", "var/run", "var/lock"]
        .iter()
        .any(|p| path.starts_with(p))
        || (!is_dir && RUNTIME.iter().any(|p| path == Path::new(p)))
}

/// `unshare` flags of every sandbox: a user namespace mapping us to root (so mounts and
/// `chroot` work unprivileged), a private mount namespace and an empty network namespace.
const UNSHARE_FLAGS: &[&str] = &[
    "--user",
    "--map-root-user",
    "--mount",
    "--propagation",
    "private",
    "--net",
    "--",
];

/// The whole environment of a sandboxed run, before the daemon's own variables.
const BASE_ENV: &[(&str, &str)] = &[
    ("PATH", SANDBOX_PATH),
    ("LANG", "C"),
    ("LC_ALL", "C"),
    ("HOME", "/root"),
    ("TZ", "UTC"),
];

impl RunOutput {
    /// Splits `timeout -v`'s own notice (which names itself by the path it was started with)
    /// from the daemon's standard error.
    fn from_streams(status: Option<i32>, stdout: &[u8], raw_err: &str) -> Self {
        let mut timed_out = false;
        let mut stderr = String::new();
        for line in raw_err.lines() {
            if line.contains("timeout: sending signal ") {
                timed_out = true;
            } else {
                stderr.push_str(line);
                stderr.push('\n');
            }
        }
        RunOutput {
            status,
            stdout: String::from_utf8_lossy(stdout).into_owned(),
            stderr,
            timed_out,
        }
    }
}

/// The prepared namespaces of one worker thread, one per set of extra binds (the
/// healthchecker's venv is shown only to its own checks, as in a private sandbox).
///
/// A prepared namespace is one `unshare` process (`sh` reading job scripts from a pipe) whose
/// root already has every bind mount of [`plan_binds`] for a root without rendered files: the
/// mounts are made once, not once per check. A check's staged files are moved in when they fit
/// around those mounts ([`Skeleton::fits`]): then the daemon sees exactly what it would see in
/// a private sandbox of its own, because a private sandbox plans the same mounts for them.
/// After the check everything that is not the skeleton is removed from the root; a root
/// whose skeleton a daemon damaged is discarded, and the next check starts a fresh one.
#[derive(Debug, Default)]
pub(crate) struct Runners {
    list: Vec<Runner>,
    /// The staging folder of this worker's checks: `root/` holds only the runtime folders
    /// between checks.
    staging: Option<TempDir>,
}

impl Runners {
    /// The staging folder (made on first use), whose `root/` holds only the runtime folders.
    fn staging(&mut self) -> Result<PathBuf, HarnessError> {
        if let Some(dir) = &self.staging {
            return Ok(dir.path.clone());
        }
        let dir = TempDir::new()?;
        let root = dir.path.join("root");
        std::fs::create_dir(&root).map_err(io_err(&root))?;
        add_runtime_dirs(&root)?;
        let home = dir.path.clone();
        self.staging = Some(dir);
        Ok(home)
    }

    /// Empties the staging root down to its runtime folders, or drops it (a fresh one is made
    /// for the next check) when that fails or they changed.
    fn reset_staging(&mut self) {
        let Some(dir) = &self.staging else { return };
        if empty_to_runtime(&dir.path.join("root"), Path::new("")).is_err() {
            self.staging = None;
        }
    }

    /// The index of the prepared namespace for `extra_binds`, started on first use.
    fn index_for(&mut self, tools: &Tools, extra_binds: &[PathBuf]) -> Result<usize, String> {
        if let Some(i) = self.list.iter().position(|r| r.extra_binds == extra_binds) {
            return Ok(i);
        }
        self.list.push(Runner::start(tools, extra_binds)?);
        Ok(self.list.len() - 1)
    }

    /// Empties the root of `list[index]` after a check, or drops the namespace when that fails.
    fn reset(&mut self, index: usize) {
        let broken = self.list.get(index).is_some_and(|r| r.reset().is_err());
        if broken {
            self.list.remove(index);
        }
    }
}

/// One prepared namespace.
#[derive(Debug)]
struct Runner {
    /// Temporary folder: `root/`, the job script, the daemon's output files, the runner's log.
    dir: TempDir,
    root: PathBuf,
    extra_binds: Vec<PathBuf>,
    skeleton: Skeleton,
    tools: Tools,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Runner {
    fn start(tools: &Tools, extra_binds: &[PathBuf]) -> Result<Self, String> {
        let dir = TempDir::new().map_err(|e| e.to_string())?;
        let root = dir.path.join("root");
        std::fs::create_dir(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        add_runtime_dirs(&root).map_err(|e| e.to_string())?;
        let binds = plan_binds(&root, extra_binds).map_err(|e| e.to_string())?;
        let skeleton = Skeleton::read(&root, &binds).map_err(|e| e.to_string())?;
        let log_path = dir.path.join("runner.log");
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut child = Command::new(&tools.unshare)
            .args(UNSHARE_FLAGS)
            .arg(&tools.sh)
            .arg("-c")
            .arg(runner_script(tools, &binds))
            .arg("svcintent-runner")
            .env_clear()
            .envs(BASE_ENV.iter().copied())
            .current_dir(&dir.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", tools.unshare.display()))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the prepared namespace has no pipes".into());
        };
        let mut runner = Runner {
            dir,
            root,
            extra_binds: extra_binds.to_vec(),
            skeleton,
            tools: tools.clone(),
            child,
            input,
            output: BufReader::new(output),
        };
        let mut line = String::new();
        let _ = runner.output.read_line(&mut line);
        if line.trim_end() != "ready" {
            return Err(format!(
                "the sandbox did not come up: {}",
                runner.log_tail()
            ));
        }
        Ok(runner)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read(self.dir.path.join("runner.log")).unwrap_or_default();
        super::output::tail(&String::from_utf8_lossy(&text), 2000)
    }

    /// Runs `argv` chrooted into the prepared root, bounded by `timeout(1)` as a private run is.
    fn run(
        &mut self,
        argv: &[OsString],
        env: &[(&str, &str)],
        timeout: std::time::Duration,
    ) -> Result<RunOutput, String> {
        let out = self.dir.path.join("out");
        let err = self.dir.path.join("err");
        let job = self.dir.path.join("job.sh");
        let secs = timeout.as_secs_f64().max(0.001);
        let mut s: Vec<u8> = Vec::new();
        line(
            &mut s,
            &[
                b"exec >",
                &quote(out.as_os_str()),
                b" 2>",
                &quote(err.as_os_str()),
                b" </dev/null",
            ],
        );
        for (name, value) in env {
            let valid = name
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
            if !valid || name.is_empty() {
                return Err(format!("internal: bad environment variable name {name:?}"));
            }
            line(
                &mut s,
                &[b"export ", name.as_bytes(), b"=", &quote(OsStr::new(value))],
            );
        }
        let mut exec: Vec<u8> = Vec::new();
        exec.extend_from_slice(b"exec ");
        exec.extend_from_slice(&quote(self.tools.timeout.as_os_str()));
        exec.extend_from_slice(format!(" -v -k 5s {secs}s ").as_bytes());
        exec.extend_from_slice(&quote(self.tools.chroot.as_os_str()));
        exec.push(b' ');
        exec.extend_from_slice(&quote(self.root.as_os_str()));
        for arg in argv {
            exec.push(b' ');
            exec.extend_from_slice(&quote(arg));
        }
        line(&mut s, &[&exec]);
        std::fs::write(&job, &s).map_err(|e| format!("{}: {e}", job.display()))?;

        let mut request = job.as_os_str().as_bytes().to_vec();
        request.push(b'\n');
        self.input
            .write_all(&request)
            .and_then(|()| self.input.flush())
            .map_err(|e| format!("the prepared namespace stopped ({e}): {}", self.log_tail()))?;
        let mut reply = String::new();
        let _ = self.output.read_line(&mut reply);
        let Some(code) = reply
            .trim_end()
            .strip_prefix("done ")
            .and_then(|c| c.parse::<i32>().ok())
        else {
            return Err(format!(
                "the prepared namespace stopped: {}",
                self.log_tail()
            ));
        };
        let stdout = std::fs::read(&out).unwrap_or_default();
        let stderr = std::fs::read(&err).unwrap_or_default();
        Ok(RunOutput::from_streams(
            Some(code),
            &stdout,
            &String::from_utf8_lossy(&stderr),
        ))
    }

    /// Removes everything a check left in the root; errs when the skeleton is damaged.
    fn reset(&self) -> Result<(), HarnessError> {
        self.skeleton.clean(&self.root, Path::new(""))?;
        self.skeleton.verify(&self.root)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // The namespace (and with it every mount) ends with its process; only then is the
        // temporary folder removed (fields drop after this).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a prepared root holds before any check: runtime folders, mount points, symlinks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Skel {
    /// A plain folder (with these permission bits) that may take a check's files.
    Dir { mode: u32 },
    /// A symlink the root has (`var/run -> /run`, `bin -> usr/bin`).
    Symlink { target: PathBuf },
    /// A mount point (or anything else): nothing of a check may be at or under it.
    Fixed,
}

#[derive(Debug)]
struct Skeleton {
    /// Root-relative path -> what is there.
    entries: std::collections::BTreeMap<PathBuf, Skel>,
}

impl Skeleton {
    fn read(root: &Path, binds: &[Bind]) -> Result<Self, HarnessError> {
        let mut entries = std::collections::BTreeMap::new();
        let mounts: Vec<PathBuf> = binds
            .iter()
            .filter_map(|b| b.dst.strip_prefix(root).ok().map(Path::to_path_buf))
            .collect();
        fn walk(
            root: &Path,
            rel: &Path,
            mounts: &[PathBuf],
            out: &mut std::collections::BTreeMap<PathBuf, Skel>,
        ) -> Result<(), HarnessError> {
            let dir = root.join(rel);
            for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
                let entry = entry.map_err(io_err(&dir))?;
                let path = rel.join(entry.file_name());
                let meta = entry.metadata().map_err(io_err(&entry.path()))?;
                if mounts.contains(&path) {
                    out.insert(path, Skel::Fixed);
                } else if meta.file_type().is_symlink() {
                    let target = std::fs::read_link(entry.path()).map_err(io_err(&entry.path()))?;
                    out.insert(path, Skel::Symlink { target });
                } else if meta.is_dir() {
                    out.insert(
                        path.clone(),
                        Skel::Dir {
                            mode: meta.permissions().mode() & 0o7777,
                        },
                    );
                    walk(root, &path, mounts, out)?;
                } else {
                    out.insert(path, Skel::Fixed);
                }
            }
            Ok(())
        }
        walk(root, Path::new(""), &mounts, &mut entries)?;
        Ok(Skeleton { entries })
    }

    /// True when `rel` is at or under a mount point or symlink of the skeleton.
    fn is_reserved(&self, rel: &Path) -> bool {
        let mut cur = PathBuf::new();
        for comp in rel.components() {
            cur.push(comp);
            match self.entries.get(&cur) {
                Some(Skel::Dir { .. }) => {}
                Some(_) => return true,
                None => return false,
            }
        }
        false
    }

    /// Whether every entry of the staged folder `staged/rel` fits the skeleton: absent from it,
    /// or a folder with the same permissions whose entries fit, or the same symlink. A rendered
    /// file where the skeleton has a mount point (an `/etc/hosts` of the tree, a certificate
    /// under `/etc/ssl`) does not fit: such a check runs privately, where its file wins.
    fn fits(&self, staged: &Path, rel: &Path) -> Result<bool, HarnessError> {
        let dir = staged.join(rel);
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let path = rel.join(entry.file_name());
            let Some(skel) = self.entries.get(&path) else {
                continue;
            };
            let meta = entry.metadata().map_err(io_err(&entry.path()))?;
            let fits = match skel {
                Skel::Dir { mode } => {
                    meta.is_dir()
                        && meta.permissions().mode() & 0o7777 == *mode
                        && self.fits(staged, &path)?
                }
                Skel::Symlink { target } => {
                    meta.file_type().is_symlink()
                        && std::fs::read_link(entry.path()).ok().as_ref() == Some(target)
                }
                Skel::Fixed => false,
            };
            if !fits {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Moves the staged entries that the skeleton lacks into `root` (after [`Skeleton::fits`]).
    fn move_in(&self, staged: &Path, root: &Path, rel: &Path) -> Result<(), HarnessError> {
        let dir = staged.join(rel);
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let path = rel.join(entry.file_name());
            match self.entries.get(&path) {
                None => {
                    let to = root.join(&path);
                    std::fs::rename(entry.path(), &to).map_err(io_err(&to))?;
                }
                Some(Skel::Dir { .. }) => self.move_in(staged, root, &path)?,
                Some(_) => {} // the same symlink is there already
            }
        }
        Ok(())
    }

    /// Removes from `root/rel` everything that is not the skeleton (never entering mount points,
    /// which are empty folders or files from outside the namespace).
    fn clean(&self, root: &Path, rel: &Path) -> Result<(), HarnessError> {
        let dir = root.join(rel);
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let path = rel.join(entry.file_name());
            let full = entry.path();
            match self.entries.get(&path) {
                None => {
                    let kind = entry.file_type().map_err(io_err(&full))?;
                    if kind.is_dir() {
                        let _ = make_writable(&full);
                        std::fs::remove_dir_all(&full).map_err(io_err(&full))?;
                    } else {
                        std::fs::remove_file(&full).map_err(io_err(&full))?;
                    }
                }
                Some(Skel::Dir { mode }) => {
                    let meta = std::fs::symlink_metadata(&full).map_err(io_err(&full))?;
                    if !meta.is_dir() {
                        return Err(HarnessError::BadTree {
                            path: full,
                            reason: "a check replaced a folder of the prepared root".into(),
                        });
                    }
                    if meta.permissions().mode() & 0o7777 != *mode {
                        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(*mode))
                            .map_err(io_err(&full))?;
                    }
                    self.clean(root, &path)?;
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Errs unless every skeleton entry is still there, of its kind.
    fn verify(&self, root: &Path) -> Result<(), HarnessError> {
        for (rel, skel) in &self.entries {
            let full = root.join(rel);
            let meta = std::fs::symlink_metadata(&full).map_err(io_err(&full))?;
            let same = match skel {
                Skel::Dir { .. } => meta.is_dir(),
                Skel::Symlink { target } => {
                    meta.file_type().is_symlink()
                        && std::fs::read_link(&full).ok().as_ref() == Some(target)
                }
                Skel::Fixed => true,
            };
            if !same {
                return Err(HarnessError::BadTree {
                    path: full,
                    reason: "a check changed the prepared root".into(),
                });
            }
        }
        Ok(())
    }
}

/// Removes from `root/rel` everything but the runtime folders and symlinks, and errs when one
/// of those is missing or changed.
fn empty_to_runtime(root: &Path, rel: &Path) -> Result<(), HarnessError> {
    let dir = root.join(rel);
    for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
        let entry = entry.map_err(io_err(&dir))?;
        let path = rel.join(entry.file_name());
        let full = entry.path();
        let kind = entry.file_type().map_err(io_err(&full))?;
        let runtime = RUNTIME.iter().any(|p| path == Path::new(p));
        if runtime && kind.is_dir() {
            empty_to_runtime(root, &path)?;
        } else if !runtime || !kind.is_symlink() {
            if kind.is_dir() {
                let _ = make_writable(&full);
                std::fs::remove_dir_all(&full).map_err(io_err(&full))?;
            } else {
                std::fs::remove_file(&full).map_err(io_err(&full))?;
            }
        }
    }
    if rel.as_os_str().is_empty() {
        for path in ["tmp", "var/tmp"] {
            let full = root.join(path);
            let meta = std::fs::symlink_metadata(&full).map_err(io_err(&full))?;
            if !meta.is_dir() || meta.permissions().mode() & 0o7777 != 0o1777 {
                return Err(HarnessError::BadTree {
                    path: full,
                    reason: "a check changed a runtime folder of the staging root".into(),
                });
            }
        }
        for (link, target) in [("var/run", "/run"), ("var/lock", "/run/lock")] {
            let full = root.join(link);
            if std::fs::read_link(&full).ok().as_deref() != Some(Path::new(target)) {
                return Err(HarnessError::BadTree {
                    path: full,
                    reason: "a check changed a runtime symlink of the staging root".into(),
                });
            }
        }
    }
    Ok(())
}

/// The outside path of `inside` under `root`, refusing to pass through a symlink, so a write
/// never lands outside the root.
fn path_in(root: &Path, inside: &Path) -> Result<PathBuf, HarnessError> {
    let rel = normalize(inside);
    let mut cur = root.to_path_buf();
    for comp in rel.components() {
        if let Ok(meta) = std::fs::symlink_metadata(&cur)
            && meta.file_type().is_symlink()
        {
            return Err(HarnessError::BadTree {
                path: cur,
                reason: "symlink on the way to a file the harness must write".into(),
            });
        }
        cur.push(comp);
    }
    if let Ok(meta) = std::fs::symlink_metadata(&cur)
        && meta.file_type().is_symlink()
    {
        return Err(HarnessError::BadTree {
            path: cur,
            reason: "the harness must write here but the tree has a symlink".into(),
        });
    }
    Ok(cur)
}

fn mkdir_in(root: &Path, inside: &Path) -> Result<(), HarnessError> {
    let p = path_in(root, inside)?;
    std::fs::create_dir_all(&p).map_err(io_err(&p))
}

/// The runtime folders every root gets unless the tree renders something there: `/tmp` and
/// `/var/tmp` (1777), `/run/lock`, `/var/{log,lib,cache}`, the harness folder, and Debian's
/// `/var/run -> /run` and `/var/lock -> /run/lock`.
fn add_runtime_dirs(root: &Path) -> Result<(), HarnessError> {
    let exists = |d: &str| std::fs::symlink_metadata(root.join(d)).is_ok();
    for d in ["tmp", "var/tmp"] {
        if !exists(d) {
            mkdir_in(root, Path::new(d))?;
            let p = root.join(d);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o1777))
                .map_err(io_err(&p))?;
        }
    }
    for d in ["run/lock", "var/log", "var/lib", "var/cache", HARNESS_DIR] {
        if !exists(d.trim_start_matches('/')) {
            mkdir_in(root, Path::new(d))?;
        }
    }
    for (link, target) in [("var/run", "/run"), ("var/lock", "/run/lock")] {
        if !exists(link) {
            let p = path_in(root, Path::new(link))?;
            std::os::unix::fs::symlink(target, &p).map_err(io_err(&p))?;
        }
    }
    Ok(())
}

/// The bind mounts that show the machine's system folders in `root`, around what `root`
/// holds (see [`merge`]).
fn plan_binds(root: &Path, extra_binds: &[PathBuf]) -> Result<Vec<Bind>, HarnessError> {
    let mut binds = Vec::new();
    for top in SYSTEM_TOP {
        merge(
            root,
            &Path::new("/").join(top),
            Path::new(top),
            false,
            &mut binds,
        )?;
    }
    for entry in SYSTEM_ETC {
        merge(
            root,
            &Path::new("/etc").join(entry),
            &Path::new("etc").join(entry),
            true,
            &mut binds,
        )?;
    }
    for extra in extra_binds {
        merge(root, extra, &normalize(extra), true, &mut binds)?;
    }
    for special in ["dev", "proc"] {
        let dst = path_in(root, Path::new(special))?;
        if !dst.is_dir() {
            std::fs::create_dir_all(&dst).map_err(io_err(&dst))?;
        }
        binds.push(Bind {
            src: Path::new("/").join(special),
            dst,
            dir: true,
            read_only: false,
        });
    }
    Ok(binds)
}

/// Shows the machine's `src` at `rel` inside `root`: bind it where the root has nothing,
/// recurse where both are folders, leave rendered files alone. Symlinks are copied as
/// symlinks (they resolve inside the root), except `src` itself when `follow` is set.
fn merge(
    root: &Path,
    src: &Path,
    rel: &Path,
    follow: bool,
    binds: &mut Vec<Bind>,
) -> Result<(), HarnessError> {
    let meta = if follow {
        std::fs::metadata(src)
    } else {
        std::fs::symlink_metadata(src)
    };
    let Ok(meta) = meta else { return Ok(()) };
    let dst = path_in(root, rel)?;
    let here = std::fs::symlink_metadata(&dst);
    if meta.file_type().is_symlink() {
        if here.is_err() {
            if let Some(parent) = rel.parent() {
                mkdir_in(root, parent)?;
            }
            let target = std::fs::read_link(src).map_err(io_err(src))?;
            std::os::unix::fs::symlink(target, &dst).map_err(io_err(&dst))?;
        }
        return Ok(());
    }
    match here {
        Err(_) => {
            if !(meta.is_dir() || meta.is_file()) {
                return Ok(());
            }
            if let Some(parent) = rel.parent() {
                mkdir_in(root, parent)?;
            }
            if meta.is_dir() {
                std::fs::create_dir(&dst).map_err(io_err(&dst))?;
            } else {
                std::fs::write(&dst, b"").map_err(io_err(&dst))?;
            }
            binds.push(Bind {
                src: src.to_path_buf(),
                dst,
                dir: meta.is_dir(),
                read_only: true,
            });
        }
        Ok(mine) if mine.is_dir() && meta.is_dir() => {
            let Ok(entries) = std::fs::read_dir(src) else {
                return Ok(()); // unreadable for us: nothing to show
            };
            let mut names: Vec<OsString> = entries
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            names.sort();
            for name in names {
                merge(root, &src.join(&name), &rel.join(&name), false, binds)?;
            }
        }
        Ok(_) => {} // the rendered file wins
    }
    Ok(())
}

/// The mount commands for `binds`, one per line (`set -e` stops at the first that fails).
fn mount_lines(tools: &Tools, binds: &[Bind]) -> Vec<u8> {
    let mount = quote(tools.mount.as_os_str());
    let mut s: Vec<u8> = b"set -e\n".to_vec();
    for b in binds {
        let src = quote(b.src.as_os_str());
        let dst = quote(b.dst.as_os_str());
        let flag: &[u8] = if b.dir { b"--rbind" } else { b"--bind" };
        line(&mut s, &[&mount, b" ", flag, b" ", &src, b" ", &dst]);
        if b.read_only {
            // Defence in depth only: a remount refused because the source carries locked
            // flags leaves a read-write bind, through which mapped root still cannot write
            // what our user cannot.
            line(
                &mut s,
                &[
                    &mount,
                    b" -o remount,bind,ro ",
                    &dst,
                    b" 2>/dev/null || true",
                ],
            );
        }
    }
    s
}

/// A private run: mount, mark the sandbox as up, become the daemon in the root.
fn private_script(tools: &Tools, binds: &[Bind], marker: &Path, root: &Path) -> OsString {
    let mut s = mount_lines(tools, binds);
    line(&mut s, &[b": > ", &quote(marker.as_os_str())]);
    line(
        &mut s,
        &[
            b"exec ",
            &quote(tools.chroot.as_os_str()),
            b" ",
            &quote(root.as_os_str()),
            b" \"$@\"",
        ],
    );
    OsString::from_vec(s)
}

/// A prepared namespace: mount once, say `ready`, then run each job script named on standard
/// input in a subshell (a fork, no new `sh`: the script ends by `exec`ing the daemon) and
/// answer `done STATUS`. It ends when its standard input closes.
fn runner_script(tools: &Tools, binds: &[Bind]) -> OsString {
    let mut s = mount_lines(tools, binds);
    s.extend_from_slice(
        b"set +e\necho ready\nwhile IFS= read -r job; do\n  ( . \"$job\" )\n  echo \"done $?\"\ndone\n",
    );
    OsString::from_vec(s)
}

fn line(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for p in parts {
        out.extend_from_slice(p);
    }
    out.push(b'\n');
}

/// Single-quotes a word for `sh`.
fn quote(s: &OsStr) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &b in s.as_bytes() {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}
