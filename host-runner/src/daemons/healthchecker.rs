//! anycast-healthchecker (PyPI `anycast-healthchecker`, 0.9.10 read for this; Python 3, deps
//! `docopt`, `prometheus-client`, `python-json-logger`).
//!
//! # The check run here
//!
//! One run of the venv's Python, in the sandbox, with two steps:
//!
//! 1. The program's own check mode (`anycast-healthchecker -c -f /etc/anycast-healthchecker.conf
//!    -d /etc/anycast-healthchecker.d`), called as its `main()` does: `utils.load_configuration`,
//!    which loads and validates the configuration exactly as at startup; on `ValueError` it
//!    prints `Invalid configuration: MESSAGE` on stderr and exits 1, as `-c` does. The messages
//!    name no line except for INI syntax errors, so the harness finds the file and line from
//!    the section, option or value the message names.
//! 2. Only when 1 passed: a startup dry run. `-c` stops before the daemon's startup "sanity
//!    check" of the BIRD prefix files, so `utils.ip_prefixes_sanity_check` runs with
//!    `utils.reconfigure_bird` replaced by a no-op, and the harness reports what the daemon
//!    would log at WARNING or above: the rendered prefix file would be rewritten at startup
//!    (dummy prefix missing, variable name missing or different, a one-line list it cannot
//!    read) or holds prefixes no service check owns. These count as warnings.
//!
//! Step 1 starts every `check_cmd` (`subprocess.Popen(argv)`, killed at once): it tests only
//! that each program can be started. The harness starts each distinct program once (the
//! arguments cannot change whether `exec` succeeds: the same answer for 500 services that all
//! use `check_http`, for a fraction of the time), and a program that is not in the sandbox (the
//! machine's `/usr` and the rendered tree: the monitoring plugins of `site.paths.plugins` are
//! installed on the hosts, not necessarily where `validate` runs) is not a failure: it becomes
//! a note naming the program and the service file that uses it, and the rest of the
//! configuration is checked. A program that is there but cannot be started (not executable)
//! still fails the check, as on the host.
//!
//! Prepared in the sandbox, because the package or systemd makes them on a real host: the folder
//! of `pidfile` (`-c` fails when it is missing: "`/run/anycast-healthchecker doesn't exit`"),
//! and the folders of `log_file` and `stderr_file` (`-c` touches both files).
//!
//! The venv is `Options::healthchecker`, else `$SVCINTENT_HEALTHCHECKER`, else
//! `/opt/svcintent-venv` (made by `.ci/install-daemons.sh` with `/usr/bin/python3 -m venv`, so its
//! interpreter lives under `/usr`, which the sandbox shows). The venv is bind-mounted at its own
//! path.
//!
//! # What the renderer needs to know about the configuration
//!
//! Command line: `anycast-healthchecker [-f FILE] [-c] [-p] [-P] [-d DIR | -F FILE]`; defaults
//! `-f /etc/anycast-healthchecker.conf -d /etc/anycast-healthchecker.d`. `-p` prints the built-in
//! defaults, `-P` the merged configuration. The main file must exist, and so must the folder
//! (even with no service files in it).
//!
//! Parsing: one `configparser.ConfigParser()` with the stock settings, loaded first with the
//! built-in defaults (`read_dict`), then `read([main] + glob(DIR/*.conf))` (glob order is not
//! sorted). So:
//! - INI with `[section]` headers; `key = value` or `key: value`; keys are case-insensitive;
//!   surrounding whitespace is stripped; indented lines continue the previous value.
//! - Comments only on whole lines starting with `#` or `;`. There are NO inline comments:
//!   `check_rise = 2 # two` makes the value `2 # two` (an int parse error).
//! - `strict`: a section or a key repeated within ONE file is an error
//!   (`While reading from 'FILE' [line  N]: section 'x' already exists`); the same section in two
//!   files merges silently, the later file's keys win.
//! - BasicInterpolation: a literal `%` must be written `%%` (`curl -w '%%{http_code}'`), and
//!   `%(key)s` expands another key of the same section or `[DEFAULT]`. Every known option is
//!   read with interpolation during validation, so a lone `%` in one fails the check.
//! - Unknown keys are silently ignored (`check_intervall = 5` leaves the default in force):
//!   `-c` cannot catch a misspelt key, so the renderer must spell them from one list.
//! - Every section other than `[daemon]` (and `[DEFAULT]`) is a service check, also in the main
//!   file. Section names must be unique across all services; the same `ip_prefix` in two
//!   services is an error.
//! - Booleans: `1/yes/true/on`, `0/no/false/off` (any case). Numbers: Python `int()`/`float()`.
//!
//! `[DEFAULT]` built-ins, inherited by every service (a rendered `[DEFAULT]` overrides them):
//! `interface = lo`, `check_interval = 10`, `check_timeout = 2`, `check_rise = 2`,
//! `check_fail = 2`, **`check_disabled = true`**, `on_disabled = withdraw`,
//! `ip_check_disabled = false`, `custom_bird_reconfigure_cmd_timeout = 2`. Note the
//! `check_disabled` default: a service that does not say `check_disabled = false` is never
//! checked, and its prefix is withdrawn (`on_disabled = withdraw`) or advertised forever
//! (`advertise`).
//!
//! `[daemon]` keys and built-in defaults: `ipv4 = true`, `ipv6 = false`,
//! `bird_conf = /var/lib/anycast-healthchecker/anycast-prefixes.conf`,
//! `bird6_conf = /var/lib/anycast-healthchecker/6/anycast-prefixes.conf`,
//! `bird_variable = ACAST_PS_ADVERTISE`, `bird6_variable = ACAST6_PS_ADVERTISE`,
//! `bird_reconfigure_cmd = sudo /usr/sbin/birdc configure`,
//! `bird6_reconfigure_cmd = sudo /usr/sbin/birdc6 configure`,
//! `dummy_ip_prefix = 10.189.200.255/32`, `dummy_ip6_prefix = 2001:db8::1/128`,
//! `bird_keep_changes = false`, `bird6_keep_changes = false`, `bird_changes_counter = 128`,
//! `bird6_changes_counter = 128`, `purge_ip_prefixes = false`,
//! `pidfile = /var/run/anycast-healthchecker/anycast-healthchecker.pid`, `loglevel = debug`,
//! `log_server_port = 514`, `json_stdout = false`, `json_log_file = false`,
//! `json_log_server = false`, `log_maxbytes = 104857600`, `log_backups = 8`,
//! `log_format_journalctl = false`, `prometheus_exporter = false`,
//! `prometheus_collector_textfile_dir = /var/cache/textfile_collector/`,
//! `prometheus_exporter_interval = 10`; optional without default: `log_file`, `stderr_file`,
//! `log_server`, `stderr_log_server`, `splay_startup`. With `ipv6 = false` an IPv6 service is an
//! error, likewise IPv4 with `ipv4 = false`; the bird6 keys are only used when `ipv6 = true`.
//! `birdc6` does not exist with BIRD 2: set `bird6_reconfigure_cmd` to `birdc configure` too.
//!
//! Service keys: `check_cmd` (required), `ip_prefix` (required), `check_interval` and
//! `check_timeout` (float seconds), `check_rise`, `check_fail` (int), `check_disabled`,
//! `ip_check_disabled` (bool), `on_disabled` (`withdraw` | `advertise`), `interface`, optional
//! `custom_bird_reconfigure_cmd` (run instead of `bird_reconfigure_cmd` for this service, with
//! `up` or `down` appended as last argument) and `custom_bird_reconfigure_cmd_timeout`.
//! `ip_prefix` goes through `ipaddress.ip_network()` (strict: host bits must be zero); the
//! intended "/32 or /128 only" test compares `max_prefixlen` and so accepts any length; a bare
//! address means /32 (/128). The daemon writes prefixes in `with_prefixlen` form, so render
//! `10.52.12.1/32`, not `10.52.12.1`, or the startup check sees a prefix without a check.
//! Unless `ip_check_disabled = true`, each check first runs
//! `/sbin/ip address show dev INTERFACE to PREFIX` and treats the service as down when the VIP is
//! not on that interface.
//!
//! `check_cmd` quoting: `shlex.split()` (POSIX rules: `'...'`, `"..."`, backslash escapes) and
//! `subprocess.Popen(argv)` with NO shell: pipes, redirections, `&&`, `$VAR` and globs are
//! passed as literal arguments; wrap shell logic as `/bin/sh -c '...'`. Exit 0 = healthy; it is
//! killed after `check_timeout`. In check mode each `check_cmd` is actually started (and killed
//! at once), so its program must exist and be executable on the host. `bird_reconfigure_cmd` is
//! also `shlex.split()`; it succeeds when its output has a line `Reconfigured` (2 s timeout).
//!
//! # The BIRD prefix files
//!
//! `bird_conf` (`bird6_conf`) is created empty (touched) in check mode if missing; its folder
//! must exist and be writable by the daemon. At startup, per enabled IP version, the daemon
//! reads the file LINE BY LINE: a line that, stripped of spaces and commas, is a valid prefix
//! counts; the variable name comes from the first line matching `^\s*define\s+(\S+\b)\s+=`
//! (whitespace before `=` required). It then rewrites the file when the variable name is
//! missing or differs from `bird_variable`, or the dummy prefix is missing (and, with
//! `purge_ip_prefixes = true`, when prefixes without a service check are present — otherwise
//! those are only logged). Every later health change rewrites it the same way (dummy first,
//! changed prefixes appended or removed) and runs `bird_reconfigure_cmd`. The written format
//! (`write_temp_bird_conf`; written to a temp file in the same folder, then renamed over):
//!
//! ```text
//! # Generated 2025-01-01 12:00:00.000000 by anycast-healthchecker (pid=1234)
//! # 10.189.200.255/32 is a dummy IP Prefix. It should NOT be used and REMOVED from the constant.
//! define ACAST_PS_ADVERTISE =
//!     [
//!         10.189.200.255/32,
//!         10.52.12.1/32
//!     ];
//! ```
//!
//! (4 spaces before the brackets, 8 before each prefix, a comma after each but the last.) The
//! dummy prefix keeps the set from ever being empty; it must never be routed. A rendered initial
//! state of "dummy only" passes the startup check unchanged; services are added after
//! `check_rise` successful checks. With `bird_keep_changes = true` a copy of each version goes
//! to `history/` beside the file. One instance per network namespace (abstract socket lock
//! `\0anycast-healthchecker`).

use std::path::{Path, PathBuf};

use super::Daemon;
use super::inputs::{Inputs, identity};
use super::sandbox::{SANDBOX_PATH, Sandbox, normalize, visible_in_sandbox};
use super::{
    Ctx, DEFAULT_HEALTHCHECKER_VENV, DaemonBinary, Finding, HEALTHCHECKER_ENV, HarnessError, Job,
    Options, args, conclude, output,
};

const MAIN: &str = "/etc/anycast-healthchecker.conf";
const DIR: &str = "/etc/anycast-healthchecker.d";
const DEFAULT_PIDFILE: &str = "/var/run/anycast-healthchecker/anycast-healthchecker.pid";

pub(crate) fn applies(host_dir: &Path) -> Option<PathBuf> {
    super::rendered_file(host_dir, MAIN)
}

/// The venv (or executable) to use, per [`Options::healthchecker`].
pub fn configured_path(opts: &Options) -> PathBuf {
    opts.healthchecker
        .clone()
        .or_else(|| {
            std::env::var_os(HEALTHCHECKER_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_HEALTHCHECKER_VENV))
}

pub(crate) fn find_binary(opts: &Options) -> Result<DaemonBinary, HarnessError> {
    let configured = configured_path(opts);
    let (venv, exe) = if configured.is_dir() {
        (
            configured.clone(),
            configured.join("bin/anycast-healthchecker"),
        )
    } else {
        let venv = configured
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        (venv, configured.clone())
    };
    let python = venv.join("bin/python");
    let missing = || HarnessError::MissingDaemon {
        daemon: Daemon::Healthchecker,
        looked: vec![exe.clone(), python.clone()],
    };
    if !venv.is_absolute()
        || !super::sandbox::is_executable(&exe)
        || !super::sandbox::is_executable(&python)
        || !visible_in_sandbox(&python)
    {
        return Err(missing());
    }
    // For the key: the interpreter, and the installed packages (a pip install or upgrade
    // changes site-packages and the package's files).
    let mut identities = vec![identity(&python)];
    let mut packages: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path().join("site-packages")))
                .collect()
        })
        .unwrap_or_default();
    packages.sort();
    for site in packages {
        identities.push(identity(&site));
        let package = site.join("anycast_healthchecker");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&package)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        identities.extend(files.iter().map(|f| identity(f)));
    }
    Ok(DaemonBinary {
        exe,
        extra_binds: vec![venv],
        identities,
    })
}

/// The main file, the service folder and the prefix files; the files the `[daemon]` section
/// names (`bird_conf`, `bird6_conf`, `pidfile`, `log_file`, `stderr_file`) and their folders;
/// and check programs the tree renders.
pub(crate) fn input_roots(host_dir: &Path) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = [MAIN, DIR, "/var/lib/anycast-healthchecker"]
        .iter()
        .map(|p| normalize(Path::new(p)))
        .collect();
    let ini = Ini::load(host_dir);
    for key in [
        "bird_conf",
        "bird6_conf",
        "pidfile",
        "log_file",
        "stderr_file",
    ] {
        if let Some(value) = ini.value("daemon", key).filter(|v| v.starts_with('/')) {
            let path = Path::new(&value);
            roots.push(normalize(path));
            if let Some(parent) = path.parent() {
                roots.push(normalize(parent));
            }
        }
    }
    roots.extend(
        check_programs(&ini)
            .iter()
            .filter(|p| p.starts_with('/'))
            .map(|p| normalize(Path::new(p))),
    );
    roots
}

/// The machine paths the check programs of `inputs` may be at (a bare name: each folder of
/// the sandbox's `PATH`): whether they are there decides between starting them and a note.
pub(crate) fn machine_inputs(inputs: &Inputs) -> Vec<PathBuf> {
    let mut ini = Ini::default();
    for file in inputs.files() {
        let inside = Path::new("/").join(file);
        let inside = inside.to_string_lossy();
        if (inside == MAIN || inside.starts_with(&format!("{DIR}/")))
            && let Some(text) = inputs.text(file)
        {
            ini.parse(&inside, &text);
        }
    }
    let mut out = Vec::new();
    for program in check_programs(&ini) {
        if program.starts_with('/') {
            out.push(PathBuf::from(program));
        } else {
            out.extend(std::env::split_paths(SANDBOX_PATH).map(|d| d.join(&program)));
        }
    }
    out
}

/// The distinct programs (first words) of every `check_cmd`.
fn check_programs(ini: &Ini) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in &ini.entries {
        if e.key.as_deref() == Some("check_cmd")
            && let Some(program) = first_word(&e.value)
            && !out.contains(&program)
        {
            out.push(program);
        }
    }
    out
}

/// The first word of a command line as `shlex.split` reads the simple cases: up to
/// whitespace, or inside one pair of quotes.
fn first_word(command: &str) -> Option<String> {
    let command = command.trim_start();
    let word = match command.chars().next()? {
        q @ ('\'' | '"') => command.get(1..)?.split(q).next()?,
        _ => command.split_whitespace().next()?,
    };
    (!word.is_empty()).then(|| word.to_string())
}

/// One line of an INI file as configparser sees it.
#[derive(Debug, Clone)]
struct Entry {
    /// Inside path.
    file: String,
    section: String,
    /// Lowercased key; `None` for the section header.
    key: Option<String>,
    value: String,
    line: u32,
}

/// The rendered INI files, enough of configparser's rules to find where a message points.
#[derive(Debug, Default)]
struct Ini {
    entries: Vec<Entry>,
}

impl Ini {
    /// The main file and the service files under `root` (a sandbox root or a host folder).
    fn load(root: &Path) -> Self {
        let mut ini = Ini::default();
        let mut files = vec![MAIN.to_string()];
        if let Ok(rd) = std::fs::read_dir(root.join(&DIR[1..])) {
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".conf"))
                .collect();
            names.sort();
            files.extend(names.into_iter().map(|n| format!("{DIR}/{n}")));
        }
        for f in files {
            if let Ok(bytes) = std::fs::read(root.join(f.trim_start_matches('/'))) {
                ini.parse(&f, &String::from_utf8_lossy(&bytes));
            }
        }
        ini
    }

    fn parse(&mut self, file: &str, text: &str) {
        let mut section: Option<String> = None;
        let mut last_key_indent: Option<usize> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let stripped = raw.trim();
            if stripped.is_empty() || stripped.starts_with('#') || stripped.starts_with(';') {
                continue;
            }
            let indent = raw.len() - raw.trim_start().len();
            if let Some(key_indent) = last_key_indent
                && indent > key_indent
            {
                if let Some(last) = self.entries.last_mut() {
                    last.value.push('\n');
                    last.value.push_str(stripped);
                }
                continue;
            }
            if stripped.starts_with('[')
                && let Some(end) = stripped.rfind(']')
            {
                let name = stripped.get(1..end).unwrap_or("").to_string();
                self.entries.push(Entry {
                    file: file.to_string(),
                    section: name.clone(),
                    key: None,
                    value: String::new(),
                    line,
                });
                section = Some(name);
                last_key_indent = None;
                continue;
            }
            let Some(sec) = &section else { continue };
            let Some(pos) = stripped.find(['=', ':']) else {
                continue;
            };
            let key = stripped.get(..pos).unwrap_or("").trim().to_lowercase();
            let value = stripped.get(pos + 1..).unwrap_or("").trim().to_string();
            self.entries.push(Entry {
                file: file.to_string(),
                section: sec.clone(),
                key: Some(key),
                value,
                line,
            });
            last_key_indent = Some(indent);
        }
    }

    fn header(&self, section: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key.is_none() && e.section == section)
    }

    /// Where `key` of `section` is set (the winning, i.e. last, place), else where `[DEFAULT]`
    /// sets it, else the section header.
    fn key(&self, section: &str, key: &str) -> Option<&Entry> {
        let key = key.to_lowercase();
        let find = |sec: &str| {
            self.entries
                .iter()
                .rev()
                .find(|e| e.section == sec && e.key.as_deref() == Some(key.as_str()))
        };
        find(section)
            .or_else(|| find("DEFAULT"))
            .or_else(|| self.header(section))
    }

    fn value(&self, section: &str, key: &str) -> Option<String> {
        let key = key.to_lowercase();
        self.entries
            .iter()
            .rev()
            .find(|e| e.section == section && e.key.as_deref() == Some(key.as_str()))
            .map(|e| e.value.clone())
    }
}

fn until<'a>(s: &'a str, open: &str, ends: &[&str]) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let rest = s.get(start..)?;
    let end = ends
        .iter()
        .filter_map(|e| rest.find(e))
        .min()
        .unwrap_or(rest.len());
    rest.get(..end)
}

fn line_after(s: &str, marker: &str) -> Option<u32> {
    let rest = s.get(s.find(marker)? + marker.len()..)?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Where a `-c` message points: inside path and line.
fn locate(ini: &Ini, msg: &str) -> Option<(String, Option<u32>)> {
    let at = |e: &Entry| Some((e.file.clone(), Some(e.line)));
    // configparser's own syntax errors carry file and line.
    for (file_open, line_marker) in [
        ("While reading from '", "[line"),
        ("file: '", "line:"),
        ("Source contains parsing errors: '", "[line"),
    ] {
        if let Some(file) = output::between(msg, file_open, "'") {
            return Some((file.to_string(), line_after(msg, line_marker)));
        }
    }
    // "... option 'X' in section 'Y' ..." (interpolation errors)
    if let Some(opt) = output::between(msg, "option '", "' in section '")
        && let Some(sec) = until(msg, "' in section '", &["'"])
    {
        return ini.key(sec, opt).and_then(at);
    }
    if let Some(sec) =
        until(msg, "No option '", &["'"]).and(output::between(msg, "in section: '", "'"))
    {
        return ini.header(sec).and_then(at);
    }
    if let Some(opt) = output::between(msg, "invalid data for '", "' option in daemon section") {
        return ini.key("daemon", opt).and_then(at);
    }
    if let Some(opt) = output::between(msg, "invalid data for '", "' option in service check ")
        && let Some(name) = until(msg, "' option in service check ", &[": "])
    {
        return ini.key(name, opt).and_then(at);
    }
    if let Some(name) = until(
        msg,
        "for 'ip_prefix' option in service check ",
        &[". It should"],
    ) {
        return ini.key(name, "ip_prefix").and_then(at);
    }
    if msg.starts_with("'on_disabled' option has invalid value")
        && let Some(name) = until(msg, ") for service check ", &[", 'on_disabled"])
    {
        return ini.key(name, "on_disabled").and_then(at);
    }
    if let Some(name) = until(msg, "' for service check ", &[": "])
        && msg.starts_with("failed to run check command")
    {
        return ini.key(name, "check_cmd").and_then(at);
    }
    if let Some(name) = until(msg, " prefix configured for ", &[" service check"]) {
        return ini.key(name, "ip_prefix").and_then(at);
    }
    if let Some((prefix, _)) = msg.split_once(" is used by ")
        && msg.ends_with("service checks")
    {
        return ini
            .entries
            .iter()
            .filter(|e| e.key.as_deref() == Some("ip_prefix") && e.value == prefix)
            .nth(1)
            .and_then(at);
    }
    if msg.ends_with("doesn't exit") {
        return ini.key("daemon", "pidfile").and_then(at);
    }
    if msg.starts_with("Invalid log level") {
        return ini.key("daemon", "loglevel").and_then(at);
    }
    if msg.starts_with("invalid dummy IPv4 prefix") {
        return ini.key("daemon", "dummy_ip_prefix").and_then(at);
    }
    if msg.starts_with("invalid dummy IPv6 prefix") {
        return ini.key("daemon", "dummy_ip6_prefix").and_then(at);
    }
    // "'%' must be followed by '%' or '(', found: '%{x}'" and other interpolation syntax errors
    // name only the rest of the raw value.
    if let Some(found) = msg.split_once("found: ").map(|(_, f)| f) {
        let frag = found.trim().trim_matches(|c| c == '\'' || c == '"');
        if !frag.is_empty()
            && let Some(e) = ini.entries.iter().find(|e| e.value.contains(frag))
        {
            return at(e);
        }
    }
    output::first_abs_path(msg).map(|p| (p.to_string(), None))
}

/// Makes the runtime folders the daemon expects from its package/systemd.
fn prepare(sb: &Sandbox, ini: &Ini) -> Result<(), HarnessError> {
    let pidfile = ini
        .value("daemon", "pidfile")
        .unwrap_or_else(|| DEFAULT_PIDFILE.to_string());
    let mut dirs = vec![pidfile];
    dirs.extend(ini.value("daemon", "log_file"));
    dirs.extend(ini.value("daemon", "stderr_file"));
    for file in dirs {
        let Some(parent) = Path::new(&file).parent() else {
            continue;
        };
        if parent.is_absolute() && !sb.exists(parent) {
            // `/var/run` is a symlink to `/run` in the sandbox as on Debian: make the target.
            let parent = match parent.strip_prefix("/var/run") {
                Ok(rest) => Path::new("/run").join(rest),
                Err(_) => parent.to_path_buf(),
            };
            if !sb.exists(&parent) {
                sb.mkdir(&parent)?;
            }
        }
    }
    Ok(())
}

/// The check (see the module docs): argv `MAIN DIR`. Exit 3 and a `HARNESS:` line when the
/// installed package lacks what it calls.
const CHECK: &str = r#"
import logging, subprocess, sys
try:
    from anycast_healthchecker import utils
except Exception as exc:
    sys.stderr.write("svcintent-check: HARNESS: cannot import anycast_healthchecker.utils: %s\n" % exc)
    sys.exit(3)
for name in ("load_configuration", "reconfigure_bird", "ip_prefixes_sanity_check"):
    if not hasattr(utils, name):
        sys.stderr.write("svcintent-check: HARNESS: anycast_healthchecker.utils lacks %s\n" % name)
        sys.exit(3)

class Report(logging.Handler):
    def emit(self, record):
        sys.stderr.write("svcintent-dryrun: %s: %s\n" % (record.levelname, record.getMessage().replace("\n", " ")))

log = logging.getLogger("anycast-healthchecker")
log.addHandler(Report())
log.setLevel(logging.WARNING)
log.propagate = False

# load_configuration starts every check_cmd and kills it at once, to test that it can be
# started. Start each program once (not when the arguments are so long that exec could fail
# with E2BIG); report a program that is not there instead of failing on it.
real_popen = subprocess.Popen
started = set()

class NotStarted:
    def kill(self):
        pass

def popen(cmd, *args, **kwargs):
    program = cmd[0] if isinstance(cmd, list) and cmd and isinstance(cmd[0], str) else None
    once = program is not None and sum(len(a) for a in cmd if isinstance(a, str)) < 65536
    if once and program in started:
        return NotStarted()
    try:
        proc = real_popen(cmd, *args, **kwargs)
    except FileNotFoundError:
        if program is None:
            raise
        sys.stderr.write("svcintent-missing: %s\n" % program.replace("\n", " "))
        started.add(program)
        return NotStarted()
    if once:
        started.add(program)
    return proc

subprocess.Popen = popen
try:
    config, bird = utils.load_configuration(sys.argv[1], sys.argv[2], None)
except ValueError as exc:
    sys.exit("Invalid configuration: " + str(exc))
subprocess.Popen = real_popen

utils.reconfigure_bird = lambda cmd: None
try:
    utils.ip_prefixes_sanity_check(config, bird)
except SystemExit as exc:
    sys.stderr.write("svcintent-dryrun: ERROR: the daemon would exit at startup (%s)\n" % (exc.code,))
    sys.exit(1)
except ValueError as exc:
    sys.stderr.write("svcintent-dryrun: ERROR: %s\n" % exc)
    sys.exit(1)
"#;

pub(crate) fn check(ctx: &Ctx, job: &Job, sb: &mut Sandbox) -> Result<Vec<Finding>, HarnessError> {
    let ini = Ini::load(sb.root());
    prepare(sb, &ini)?;
    let python = ctx.binary(job.daemon)?.exe.with_file_name("python");
    let argv = args([
        python.as_os_str(),
        "-c".as_ref(),
        CHECK.as_ref(),
        MAIN.as_ref(),
        DIR.as_ref(),
    ]);
    let out = sb.run(&argv, &[])?;
    if out.status == Some(3) || out.stderr.contains("svcintent-check: HARNESS:") {
        return Err(sb.sandbox_err(format!(
            "the healthchecker check could not run: {}",
            output::tail(&out.combined(), 1000)
        )));
    }
    for line in out.stderr.lines() {
        if let Some(program) = line.strip_prefix("svcintent-missing: ") {
            sb.note(missing_program(job, &ini, program));
        }
    }
    let parsed = if out.stderr.contains("Invalid configuration: ") {
        parse_check(job, &ini, &out.stderr)
    } else {
        parse_dry_run(job, &out.stderr)
    };
    Ok(conclude(ctx, job, &out, parsed))
}

/// The note for a check program the sandbox lacks, at the first `check_cmd` that names it.
fn missing_program(job: &Job, ini: &Ini, program: &str) -> Finding {
    let at = ini.entries.iter().find(|e| {
        e.key.as_deref() == Some("check_cmd") && first_word(&e.value).as_deref() == Some(program)
    });
    job.finding(
        at.map(|e| e.file.as_str()),
        at.map(|e| e.line),
        format!(
            "check program {program} is not on this machine (the sandbox shows its /usr and the \
             rendered tree), so it was not started: anycast-healthchecker's configuration check \
             starts every check_cmd, and the host needs this program; the rest of the \
             configuration was checked"
        ),
    )
}

fn parse_check(job: &Job, ini: &Ini, stderr: &str) -> Vec<(Finding, bool)> {
    let Some(pos) = stderr.find("Invalid configuration: ") else {
        return Vec::new();
    };
    let msg = stderr
        .get(pos + "Invalid configuration: ".len()..)
        .unwrap_or("")
        .trim();
    let (file, line) = match locate(ini, msg) {
        Some((f, l)) => (Some(f), l),
        None => (None, None),
    };
    let one_line = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    vec![(job.finding(file.as_deref(), line, one_line), false)]
}

fn parse_dry_run(job: &Job, stderr: &str) -> Vec<(Finding, bool)> {
    let mut out = Vec::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("svcintent-dryrun: ") else {
            continue;
        };
        let (level, msg) = rest.split_once(": ").unwrap_or(("ERROR", rest));
        let is_warning = level == "WARNING";
        let file = output::first_abs_path(msg);
        out.push((
            job.finding(
                file,
                None,
                format!("at startup the daemon would log: {msg}"),
            ),
            is_warning,
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn ini() -> Ini {
        let mut ini = Ini::default();
        ini.parse(
            "/etc/anycast-healthchecker.conf",
            "[daemon]\npidfile = /run/x/y.pid\n\n[DEFAULT]\ncheck_fail = 3\n",
        );
        ini.parse(
            "/etc/anycast-healthchecker.d/www.conf",
            "# c\n[www.example]\ncheck_cmd = /usr/bin/curl\n   -w '%{x}'\nip_prefix = 10.0.0.1/32\n[b]\nip_prefix = 10.0.0.1/32\n",
        );
        ini
    }

    #[test]
    fn locates_messages() {
        let ini = ini();
        let www = "/etc/anycast-healthchecker.d/www.conf".to_string();
        assert_eq!(
            locate(
                &ini,
                "invalid data for 'check_cmd' option in service check www.example: x"
            ),
            Some((www.clone(), Some(3)))
        );
        assert_eq!(
            locate(
                &ini,
                "invalid data for 'check_fail' option in service check b: x"
            ),
            Some(("/etc/anycast-healthchecker.conf".into(), Some(5)))
        );
        assert_eq!(
            locate(&ini, "10.0.0.1/32 is used by 2 service checks"),
            Some((www.clone(), Some(7)))
        );
        assert_eq!(
            locate(&ini, "'%' must be followed by '%' or '(', found: \"%{x}'\""),
            Some((www.clone(), Some(3)))
        );
        assert_eq!(
            locate(
                &ini,
                "While reading from '/etc/a.conf' [line  9]: section 'a' already exists"
            ),
            Some(("/etc/a.conf".into(), Some(9)))
        );
        assert_eq!(
            locate(&ini, "/run/x doesn't exit"),
            Some(("/etc/anycast-healthchecker.conf".into(), Some(2)))
        );
        assert_eq!(ini.value("daemon", "pidfile").unwrap(), "/run/x/y.pid");
    }
}

/// anycast-healthchecker on the host (`svcintent apply`). It has no reload (HUP, TERM and INT
/// all make it exit), so a changed configuration means a restart: while it is down, its prefix
/// files and BIRD keep the announcements as they were; at start it reads the files again (and
/// with `purge_ip_prefixes` drops the prefixes of services it no longer checks). Verified by a
/// new process in its pid file.
pub mod live {
    use std::path::Path;
    use std::time::Duration;

    use crate::deploy::exec;

    /// The daemon's default pid file (the rendered configuration keeps the default).
    pub const PIDFILE: &str = "/run/anycast-healthchecker/anycast-healthchecker.pid";

    /// Restarts with `command` and waits for a new process.
    pub fn restart(command: &[String]) -> Result<(), String> {
        let pidfile = Path::new(PIDFILE);
        let before = exec::live_pid(pidfile);
        let ran = exec::run(command, Duration::from_secs(60));
        if !ran.ok() {
            return Err(ran.failure());
        }
        exec::wait_for(Duration::from_secs(15), || {
            exec::live_pid(pidfile).filter(|pid| Some(*pid) != before)
        })
        .map(|_| ())
        .ok_or_else(|| {
            format!("anycast-healthchecker did not start again (no new live process in {PIDFILE})")
        })
    }
}
