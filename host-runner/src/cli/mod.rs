//! The command line: what the arguments are (clap), and one function per command. The
//! compiler work happens in the engine; this only reads files, calls the engine, prints and
//! writes. Exit codes are in [`crate::exit`].

mod commands;
pub mod output;
mod parse;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::{self, CacheOutcome, CachePolicy, Engine, EngineError, EngineKind, Limits};
use crate::protocol::Response;
use crate::site::SiteError;
use crate::tree::TreeError;
use output::{ColorChoice, Output};

const ABOUT: &str = "Compile a directory of service YAML into every host's HAProxy, BIRD, nftables, Icinga2 and Apache configs";

const LONG_ABOUT: &str = "\
svcintent compiles an intent (a directory of YAML: the site, its hosts, service templates and
services) into the configuration files of every host: HAProxy and anycast-healthchecker on the
balancers, BIRD on every BGP speaker, nftables everywhere, Icinga2 on the monitoring hosts and
Apache on the web backends.

The compiler runs as a sandboxed WebAssembly module embedded in this binary: it sees only the
YAML files svcintent passes it, and every call is bounded in fuel, memory, time and stack
(see the Sandbox options). The first run compiles the module (a few seconds) and caches the
result in ~/.cache/svcintent.

Typical use:

  svcintent lint sites/campus                  check the intent; errors point at the YAML
  svcintent render sites/campus --out out      write every host's files to out/, atomically
  svcintent render sites/campus --out out --check
                                               is out/ what the intent renders to? (CI)
  svcintent validate out                       run the daemons' own config checks on out/
  svcintent explain SI010                      what a diagnostic means and how to fix it
  svcintent rollout HEAD sites/campus          which hosts change, in which batches; safe?
  svcintent apply --host lb1 out               on lb1: install and activate its files

Without a SITE, commands use the example site bundled with svcintent (examples/campus).";

const EXIT_CODES: &str = "\
Exit codes:
  0   success (warnings allowed); render --check: up to date
  1   the intent has errors (lint, render), or a daemon rejected the tree (validate)
  2   bad command line: unknown option or diagnostic code, no site to work on
  3   render --check: the output differs from what the intent renders to; apply: changed
  4   reading the site or writing the output failed (not UTF-8, permissions, locked)
  5   internal error: a bug in svcintent (please report it with the input)
  6   validate: the daemon checks could not run (a daemon or tool is missing)
  7   apply: a step failed and the previous state is back
  8   apply: refused (unsafe input, files changed by hand); rollout: the guard refuses
  9   apply: the rollback failed too (the journal says what)
  10  out of fuel: raise --fuel
  11  out of memory: raise --max-memory
  12  timed out: raise --timeout
  13  out of stack: raise --max-stack

Documentation: docs/cli.md (commands, pre-commit, CI), docs/abi.md (the module).";

/// The `svcintent` command line.
#[derive(Debug, Parser)]
#[command(
    name = "svcintent",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = EXIT_CODES,
    after_help = "Run `svcintent help COMMAND` for a command's details and examples, `svcintent --help` for exit codes.",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Run the compiler as the sandboxed WebAssembly module (wasm) or linked into this binary
    /// without limits (native; for comparison and debugging). Both give the same bytes.
    #[arg(long, global = true, value_enum, default_value_t = EngineArg::Wasm, help_heading = "Sandbox")]
    pub engine: EngineArg,

    /// Fuel for each compiler call: about one unit per WebAssembly instruction. Suffixes k, M, G, T
    /// (powers of 1000). The default is about 10 times what rendering a 10,000-service site takes.
    #[arg(long, global = true, value_name = "N", default_value = "1T", value_parser = parse::count, help_heading = "Sandbox")]
    pub fuel: u64,

    /// Most memory the compiler may use (at most 4GiB). Suffixes KiB, MiB, GiB (or K, M, G).
    #[arg(long, global = true, value_name = "SIZE", default_value = "3GiB", value_parser = parse::size, help_heading = "Sandbox")]
    pub max_memory: u64,

    /// Wall-clock limit for each compiler call: 90s, 2m, 1500ms (a bare number is seconds).
    #[arg(long, global = true, value_name = "DURATION", default_value = "10m", value_parser = parse::duration, help_heading = "Sandbox")]
    pub timeout: Duration,

    /// Most native stack the compiler's WebAssembly code may use.
    #[arg(long, global = true, value_name = "SIZE", default_value = "4MiB", value_parser = parse::nonzero_size, help_heading = "Sandbox")]
    pub max_stack: u64,

    /// Do not use the compiled-module cache ($SVCINTENT_CACHE_DIR, $XDG_CACHE_HOME/svcintent or
    /// ~/.cache/svcintent): compile the module on every run.
    #[arg(long, global = true, help_heading = "Sandbox")]
    pub no_cache: bool,

    /// Print timings, fuel and memory used to stderr.
    #[arg(long, global = true, help_heading = "Output")]
    pub stats: bool,

    /// Colour diagnostics: auto (when writing to a terminal and NO_COLOR is unset), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, help_heading = "Output")]
    pub color: ColorChoice,
}

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// The sandboxed module in wasmtime.
    Wasm,
    /// The compiler linked into this binary, without limits.
    Native,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a site and report diagnostics.
    #[command(long_about = "\
Check a site and report every diagnostic: errors (which block rendering), warnings and infos.
Exits 1 when there is an error.

PATHS are site directories, or files: a file stands for the site it belongs to, the nearest
directory above it that holds a YAML file with a top-level `site:` key. So pre-commit, which
passes the changed files, gets each touched site linted whole. YAML files outside any site are
skipped with a note. Without PATHS, the bundled example is linted.

Formats: human (source excerpts with carets, coloured on a terminal), json (for scripts and
editors), github (annotations on the pull request when run in GitHub Actions), sarif (SARIF
2.1.0 for code scanning). File paths in the output are as seen from the current directory.

Examples:
  svcintent lint sites/campus
  svcintent lint sites/campus/services/www.yaml      lints all of sites/campus
  svcintent lint sites/campus --format github         in a GitHub Actions step
  svcintent lint sites/campus --format sarif > svcintent.sarif")]
    Lint(LintArgs),

    /// Render every host's files into a directory, atomically.
    #[command(long_about = "\
Render every host's configuration files into DIR: DIR/<host>/<path on the host>, plus
DIR/manifest.json (every file with its host, target, sha256 and contributing services).

When the intent has errors, nothing is written: the diagnostics are printed and svcintent exits 1.

The write is atomic: DIR is a symbolic link to a generation in DIR.generations/, and a render
builds the new generation completely (fsynced) before swapping the link with one rename. Readers
of DIR always see a whole tree, old or new, even if svcintent is killed. The previous --keep
generations stay for rollback. A render that changes nothing writes nothing. A lock in
DIR.generations/ stops concurrent renders into the same DIR.

--check writes nothing: it lists the files of DIR that differ from what the intent renders to and
exits 3 when there are any (0 when DIR is up to date).

Examples:
  svcintent render sites/campus --out /srv/svcintent/campus
  svcintent render sites/campus --out out --check || echo 'run svcintent render'
  svcintent render --out /tmp/example          the bundled example")]
    Render(RenderArgs),

    /// Explain a diagnostic code (what, why, example, fix).
    #[command(long_about = "\
Print the documentation of a diagnostic code: what it means, why it matters, an example and the
fix. CODE is the code (SI010) or its name (unknown-key).

Example:
  svcintent explain SI010")]
    Explain {
        /// The code (SI010) or its name (unknown-key).
        code: String,
    },

    /// Print the JSON Schema of the YAML input format (for editors).
    #[command(long_about = "\
Print the JSON Schema of the input format. YAML language servers use it for completion and
checks while editing, e.g. with this first line in each file:

  # yaml-language-server: $schema=./svcintent.schema.json

Example:
  svcintent schema > svcintent.schema.json")]
    Schema,

    /// Print the versions of svcintent, the compiler, wasmtime and the module.
    Version,

    /// Show what changes between two versions of a site, then the rendered files' diff.
    #[command(long_about = "\
Show what changes between two versions of a site: first in words a reviewer reads (hosts and
services added or removed, VIPs announced or withdrawn and by whom, drains, backends, BGP
sessions, firewall openings), then the unified diff of every rendered file that changes.

OLD and NEW are site directories, or git revisions: `REV:DIR` is DIR as of revision REV, and a
bare revision as OLD means NEW's directory at that revision. So `svcintent diff HEAD sites/campus`
reviews the uncommitted change, `svcintent diff main:sites/campus sites/campus` a branch.

Exits 0 (or 3 with --exit-code when something changes), 1 when either site has errors.

Examples:
  svcintent diff HEAD sites/campus
  svcintent diff origin/main:sites/campus sites/campus --summary
  svcintent diff old-site/ new-site/ --format json")]
    Diff(DiffArgs),

    /// Run the daemons' own configuration checks on a rendered tree.
    #[command(long_about = "\
Run each daemon's own configuration check on every host of a rendered tree (haproxy -c,
bird -p, nft -c, icinga2 daemon -C, apache2 -t, anycast-healthchecker), each in a throwaway
sandbox. Hosts whose files for a daemon are identical share one check; every host is still
reported. With --cache DIR (or $SVCINTENT_VALIDATE_CACHE) results are kept by the checked
files' contents, so a re-run checks only what changed. Exits 1 when a daemon rejects a file,
6 when a needed daemon or tool is missing (.ci/install-daemons.sh installs them).

Examples:
  svcintent render sites/campus --out out && svcintent validate out
  svcintent validate out --cache ~/.cache/svcintent-validate")]
    Validate(ValidateArgs),

    /// Order the hosts a change touches into batches, or refuse an unsafe change.
    #[command(long_about = "\
Compute how a change reaches the fleet: which hosts change, in which batches a deployment
applies them (each batch may run in parallel, the next waits for it), and whether the change is
safe at all. The guard: every VIP keeps at least its service's deploy.min_announcers announcing
hosts at every moment of the rollout, at most deploy.max_in_flight of a service's announcers
(and of its backends) are applied at once, withdrawals go first and additions last where the
order matters. A change that would leave a VIP with fewer announcers than its minimum, even
step by step, is refused with a statement; --allow-withdraw SERVICE names an intended one.

OLD is what the hosts run: a site directory, REV:DIR, a rendered tree (a directory with
manifest.json), a directory of host states (<host>.json: each host's
/var/lib/svcintent/state.json, for a fleet where hosts run different generations), or `none`
(first deployment). NEW is a site directory, REV:DIR or a rendered tree.

Exits 0 with the batches, 8 when the guard refuses, 1 when a site has errors.

Examples:
  svcintent rollout HEAD sites/campus
  svcintent rollout /srv/svcintent/campus.generations/000041 /srv/svcintent/campus
  svcintent rollout none sites/campus --format json
  svcintent rollout main:sites/campus sites/campus --allow-withdraw oldwiki")]
    Rollout(RolloutArgs),

    /// Apply a rendered tree to this host, in the anycast-safe order, with rollback.
    #[command(long_about = "\
Bring this host from what it runs to the files TREE has for HOST, as root. Nothing changed:
nothing is touched or reloaded (exit 0). Otherwise the host's whole new file set is first
checked by each daemon's own check (rejected: exit 1, nothing touched), then applied step by
step, each verified before the next: withdraw the VIPs the host stops announcing (and wait
until BIRD no longer exports them), nftables (one transaction), HAProxy (reload, never a
restart), Apache (graceful), Icinga2 (reload), new VIPs onto lo, anycast-healthchecker
(restart: it has no reload), BIRD (configure with an undo timeout, confirmed once the
post-checks pass), withdrawn VIPs off lo. A failure puts the previous files back, re-activates
what was changed and exits 7 with the daemon's own words. A journal in /var/lib/svcintent
makes the next run complete or roll back a run that was killed.

TREE is a tree render --out wrote (its link is read once), one generation of it, or a copy
holding only manifest.json and TREE/HOST/. A file changed by hand since svcintent installed
it is refused (exit 8, with its diff) unless --force.

Exit codes: 0 unchanged, 3 changed (--check: would change), 1 a daemon check rejected the
files, 7 rolled back, 8 refused, 9 rollback failed (see the journal), 4 the lock is held.

Examples:
  svcintent apply --host lb1 /srv/svcintent/campus --check --diff
  svcintent apply --host lb1 /srv/svcintent/campus
  svcintent apply --host lb1 /tmp/incoming --format json")]
    Apply(ApplyArgs),
}

/// `rollout`.
#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// What the hosts run: a site directory, REV:DIR, a rendered tree, a directory of host
    /// states, or `none`.
    #[arg(value_name = "OLD")]
    pub old: String,

    /// What they move to: a site directory, REV:DIR or a rendered tree.
    #[arg(value_name = "NEW")]
    pub new: String,

    /// A service whose VIPs may lose announcers below its minimum (repeatable).
    #[arg(long = "allow-withdraw", value_name = "SERVICE")]
    pub allow_withdraw: Vec<String>,

    /// At most this many hosts in one batch (0: only the guard limits).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_batch: usize,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
}

/// `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// This host's name in the tree.
    #[arg(long, value_name = "NAME")]
    pub host: String,

    /// The rendered tree.
    #[arg(value_name = "TREE")]
    pub tree: PathBuf,

    /// Say what would change and which daemons would reload; touch nothing.
    #[arg(long)]
    pub check: bool,

    /// Show the unified diff of each file that changes.
    #[arg(long)]
    pub diff: bool,

    /// Replace files changed by hand, and apply over another site's state.
    #[arg(long)]
    pub force: bool,

    /// Read and compare the host's files below DIR instead of / (only with --check: the
    /// daemons run on /).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// Where apply keeps the host's state and journal (default ROOT/var/lib/svcintent).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Bound on each daemon check.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse::duration)]
    pub check_timeout: Duration,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
}

/// `lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Site directories or files in sites (default: the bundled example).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,

    /// Lint this site, whatever PATHS are given.
    #[arg(long, value_name = "DIR")]
    pub site: Option<PathBuf>,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `lint --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source excerpts with carets.
    Human,
    /// `{"ok": ..., "diagnostics": [...]}`.
    Json,
    /// GitHub Actions annotations (`::error file=...`).
    Github,
    /// SARIF 2.1.0.
    Sarif,
}

/// `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The site directory (default: the bundled example).
    #[arg(value_name = "SITE")]
    pub site: Option<PathBuf>,

    /// The output directory (a symbolic link to the current generation).
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,

    /// Previous generations to keep for rollback.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub keep: usize,

    /// Write nothing; list the files of DIR that differ and exit 3 if any do.
    #[arg(long)]
    pub check: bool,
}

/// `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old site: a directory, `REV:DIR`, or a revision of NEW's directory.
    #[arg(value_name = "OLD")]
    pub old: String,

    /// The new site: a directory or `REV:DIR`.
    #[arg(value_name = "NEW")]
    pub new: String,

    /// Only the statements, not the rendered files' diff.
    #[arg(long)]
    pub summary: bool,

    /// Exit 3 when something changes (like `git diff --exit-code`).
    #[arg(long)]
    pub exit_code: bool,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
}

/// `diff --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Statements, then unified diffs.
    Human,
    /// `{"ok": ..., "changes": [...], "files": [...]}`.
    Json,
}

/// `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The rendered tree (`render --out` DIR).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Check only with this daemon (repeatable): haproxy, bird, nftables, icinga2, apache,
    /// healthchecker.
    #[arg(long = "daemon", value_name = "NAME", value_parser = parse::daemon)]
    pub daemons: Vec<crate::daemons::Daemon>,

    /// Check only this host (repeatable).
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,

    /// Bound on each daemon run.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse::duration)]
    pub check_timeout: Duration,

    /// Do not count daemon warnings as failures.
    #[arg(long)]
    pub allow_warnings: bool,

    /// Checks to run at once (0: two per CPU).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub jobs: usize,

    /// Keep each check's sandbox directory, for debugging (each check then runs in a sandbox
    /// of its own, which is slower).
    #[arg(long)]
    pub keep_sandboxes: bool,

    /// Keep each check's result in DIR, keyed by everything the check reads, and reuse it when
    /// nothing of that changed (default: $SVCINTENT_VALIDATE_CACHE; none when unset or with
    /// --no-cache).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = ValidateFormat::Human)]
    pub format: ValidateFormat,
}

/// `validate --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// One line per finding: `file:line: daemon: message`.
    Human,
    /// The report as JSON.
    Json,
}

/// Why a command failed (as opposed to finding errors in the intent).
#[derive(Debug)]
pub enum CliError {
    /// Bad usage.
    Usage(String),
    /// Reading the site.
    Site(SiteError),
    /// Running the compiler.
    Engine(EngineError),
    /// Writing or comparing the output.
    Tree(TreeError),
    /// The module broke the protocol.
    Protocol(String),
    /// The daemon checks could not run.
    Harness(crate::daemons::HarnessError),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => crate::exit::USAGE,
            CliError::Site(e) => e.exit_code(),
            CliError::Engine(e) => e.exit_code(),
            CliError::Tree(e) => e.exit_code(),
            CliError::Protocol(_) => crate::exit::INTERNAL,
            CliError::Harness(
                crate::daemons::HarnessError::Io { .. }
                | crate::daemons::HarnessError::BadTree { .. },
            ) => crate::exit::IO,
            CliError::Harness(_) => crate::exit::HARNESS,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) => f.write_str(m),
            CliError::Site(e) => e.fmt(f),
            CliError::Engine(e) => e.fmt(f),
            CliError::Tree(e) => e.fmt(f),
            CliError::Protocol(m) => {
                write!(f, "{m} (this is a bug in svcintent: please report it)")
            }
            CliError::Harness(e) => write!(f, "the daemon checks could not run: {e}"),
        }
    }
}

impl From<SiteError> for CliError {
    fn from(e: SiteError) -> Self {
        CliError::Site(e)
    }
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> Self {
        CliError::Engine(e)
    }
}

impl From<TreeError> for CliError {
    fn from(e: TreeError) -> Self {
        CliError::Tree(e)
    }
}

/// What every command works with.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) global: &'a Global,
    pub(crate) out: Output,
}

impl Ctx<'_> {
    fn limits(&self) -> Limits {
        Limits {
            fuel: self.global.fuel,
            max_memory: self.global.max_memory,
            timeout: self.global.timeout,
            max_stack: usize::try_from(self.global.max_stack).unwrap_or(usize::MAX),
        }
    }

    /// The engine `--engine` asks for.
    pub(crate) fn engine(&self) -> Result<Engine, CliError> {
        let kind = match self.global.engine {
            EngineArg::Wasm => EngineKind::Wasm,
            EngineArg::Native => EngineKind::Native,
        };
        let cache = match (self.global.no_cache, engine::default_cache_dir()) {
            (false, Some(dir)) => CachePolicy::Dir(dir),
            _ => CachePolicy::Disabled,
        };
        let (engine, outcome) = Engine::new(kind, self.limits(), &cache)?;
        if let Some(warning) = outcome.warning() {
            self.out.warning(&format!(
                "{warning}; each run compiles the module again (pass --no-cache to silence this)"
            ));
        }
        if self.global.stats {
            let line = match &outcome {
                CacheOutcome::NotUsed => "engine: native".to_owned(),
                CacheOutcome::Loaded { path, elapsed } => {
                    format!(
                        "engine: wasm, compiled module loaded from {} in {:.1}ms",
                        path.display(),
                        ms(*elapsed)
                    )
                }
                CacheOutcome::Compiled {
                    stored, elapsed, ..
                } => format!(
                    "engine: wasm, module compiled in {:.1}ms{}",
                    ms(*elapsed),
                    stored
                        .as_ref()
                        .map_or_else(String::new, |p| format!(", cached as {}", p.display()))
                ),
            };
            self.out.err(&format!("stats: {line}\n"));
        }
        Ok(engine)
    }

    /// One request through the engine, parsed.
    pub(crate) fn call(&self, engine: &Engine, request: &str) -> Result<Response, CliError> {
        let (text, stats) = engine.call(request)?;
        if self.global.stats {
            let wasm = sandbox_stats(engine, stats.fuel_used, stats.memory);
            self.out.err(&format!(
                "stats: call {:.1}ms{wasm}, request {}, response {}\n",
                ms(stats.elapsed),
                engine::human_bytes(request.len() as u64),
                engine::human_bytes(text.len() as u64)
            ));
        }
        Response::parse(&text).map_err(CliError::Protocol)
    }
    /// One request through the engine in parts ([`Engine::stream`]), each handed to `consume`.
    pub(crate) fn stream(
        &self,
        engine: &Engine,
        request: &str,
        consume: &mut (dyn FnMut(&[u8]) -> engine::Flow + Send),
    ) -> Result<(), CliError> {
        let stats = engine.stream(request, consume)?;
        if self.global.stats {
            let wasm = sandbox_stats(engine, stats.fuel_used, stats.memory);
            self.out.err(&format!(
                "stats: call {:.1}ms{wasm}, request {}, response {} in {} part(s)\n",
                ms(stats.elapsed),
                engine::human_bytes(request.len() as u64),
                engine::human_bytes(stats.response_bytes),
                stats.parts
            ));
        }
        Ok(())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `svcintent` command: parses the process's arguments and runs them.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(run(&Cli::parse()))
}

/// Runs a parsed command line; returns the exit code.
pub fn run(cli: &Cli) -> u8 {
    let ctx = Ctx {
        global: &cli.global,
        out: Output::new(cli.global.color),
    };
    let result = match &cli.command {
        Command::Lint(args) => commands::lint(&ctx, args),
        Command::Render(args) => commands::render(&ctx, args),
        Command::Explain { code } => commands::explain(&ctx, code),
        Command::Schema => commands::schema(&ctx),
        Command::Version => commands::version(&ctx),
        Command::Validate(args) => commands::validate(&ctx, args),
        Command::Diff(args) => commands::diff(&ctx, args),
        Command::Rollout(args) => commands::rollout(&ctx, args),
        Command::Apply(args) => commands::apply(&ctx, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            ctx.out.error(&e.to_string());
            e.exit_code()
        }
    }
}

/// The sandbox's part of a `--stats` line (fuel and memory), empty for the native engine.
fn sandbox_stats(engine: &Engine, fuel_used: u64, memory: u64) -> String {
    match engine.kind() {
        EngineKind::Wasm => format!(", fuel {fuel_used}, memory {}", engine::human_bytes(memory)),
        EngineKind::Native => String::new(),
    }
}
