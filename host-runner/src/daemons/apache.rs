//! Apache 2.4: `apache2 -t -f /.svcintent-check/apache2/apache2.conf`.
//!
//! The wrapper stands in for Debian's `apache2.conf` + `envvars` + `mods-enabled`: it `Define`s
//! the `APACHE_*` variables Debian's `envvars` exports (`APACHE_LOG_DIR` = `/var/log/apache2`,
//! ...), sets `ServerRoot "/etc/apache2"`, `ServerName localhost` (so the main server does not
//! warn), `DefaultRuntimeDir`, `PidFile`, `Mutex` and `ErrorLog` under `/.svcintent-check/`,
//! Debian's `LogFormat` nicknames, loads [`MODULES`] (those present in
//! `/usr/lib/apache2/modules`), then `Include`s the host's
//! `/etc/apache2/conf-available/svcintent*.conf` and `/etc/apache2/sites-available/svcintent-*.conf`
//! one by one, sorted by name (conf first, as Debian's `conf-enabled` comes before
//! `sites-enabled`).
//!
//! Not rendered but needed, so made in the sandbox: each `DocumentRoot` folder (content is
//! deployed separately; Apache warns when it is missing), the throwaway certificate at each
//! `SSLCertificateFile`/`SSLCertificateChainFile`/`SSLCACertificateFile` and its key at each
//! `SSLCertificateKeyFile` the tree lacks, and Debian's `/var/log/apache2`, `/var/run/apache2`,
//! `/var/lock/apache2`.
//!
//! Errors look like `AH00526: Syntax error on line 6 of /etc/apache2/sites-available/x.conf:`
//! followed by the message on the next line (or after the colon, nested for includes: the
//! innermost place is used). Other lines besides `Syntax OK` are warnings when Apache exits 0.

use std::path::{Path, PathBuf};

use super::inputs::identity;
use super::sandbox::{HARNESS_DIR, Sandbox};
use super::{Ctx, Finding, HarnessError, Job, args, conclude, literal_root, read_text};

const MODULE_DIR: &str = "/usr/lib/apache2/modules";

/// Modules the wrapper loads (when present): Debian's default set plus what svcintent vhosts
/// use (headers, remoteip, rewrite, proxy, proxy_http, ssl with socache_shmcb).
pub const MODULES: &[&str] = &[
    "mpm_event",
    "access_compat",
    "alias",
    "auth_basic",
    "authn_core",
    "authn_file",
    "authz_core",
    "authz_host",
    "authz_user",
    "autoindex",
    "deflate",
    "dir",
    "env",
    "filter",
    "mime",
    "negotiation",
    "reqtimeout",
    "setenvif",
    "status",
    "headers",
    "remoteip",
    "rewrite",
    "proxy",
    "proxy_http",
    "socache_shmcb",
    "ssl",
];

fn rendered(host_dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for (dir, prefix) in [
        ("etc/apache2/conf-available", "svcintent"),
        ("etc/apache2/sites-available", "svcintent-"),
    ] {
        let Ok(entries) = std::fs::read_dir(host_dir.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with(prefix) && n.ends_with(".conf"))
            .collect();
        names.sort();
        files.extend(names.into_iter().map(|n| format!("/{dir}/{n}")));
    }
    files
}

pub(crate) fn applies(host_dir: &Path) -> Option<PathBuf> {
    (!rendered(host_dir).is_empty()).then(|| PathBuf::from("etc/apache2"))
}

/// `etc/apache2/`, and what its files name by absolute path: `Include`d files, `DocumentRoot`
/// folders and TLS files (the rendered ones are checked where the tree has them; elsewhere
/// the harness makes a folder or writes its throwaway certificate).
pub(crate) fn input_roots(host_dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("etc/apache2")];
    for file in rendered(host_dir) {
        let text = read_text(&host_dir.join(file.trim_start_matches('/')));
        for (directive, value) in directives(&text) {
            let named = matches!(
                directive.as_str(),
                "include"
                    | "includeoptional"
                    | "documentroot"
                    | "sslcertificatefile"
                    | "sslcertificatechainfile"
                    | "sslcacertificatefile"
                    | "sslcertificatekeyfile"
            );
            if named && value.starts_with('/') && !value.contains('$') {
                roots.push(literal_root(&value));
            }
        }
    }
    roots
}

/// The identities of the modules the wrapper loads, for the checks' key (a module installed
/// or removed changes what the wrapper loads).
pub(crate) fn module_identities() -> Vec<String> {
    MODULES
        .iter()
        .map(|m| identity(&Path::new(MODULE_DIR).join(format!("mod_{m}.so"))))
        .collect()
}

/// The wrapper config including `files` (absolute paths inside the host root).
pub fn wrapper(files: &[String], modules: &[String]) -> String {
    let state = format!("{HARNESS_DIR}/apache2");
    let mut s = format!(
        r#"# Written by the svcintent daemon check: stands in for Debian's apache2.conf and envvars.
Define APACHE_RUN_USER www-data
Define APACHE_RUN_GROUP www-data
Define APACHE_PID_FILE /var/run/apache2/apache2.pid
Define APACHE_RUN_DIR /var/run/apache2
Define APACHE_LOCK_DIR /var/lock/apache2
Define APACHE_LOG_DIR /var/log/apache2
ServerRoot "/etc/apache2"
ServerName localhost
DefaultRuntimeDir "{state}/run"
PidFile "{state}/run/apache2.pid"
Mutex file:{state}/run default
ErrorLog "{state}/error.log"
"#
    );
    for m in modules {
        s.push_str(&format!("LoadModule {m}_module {MODULE_DIR}/mod_{m}.so\n"));
    }
    s.push_str(
        r#"LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined
LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
LogFormat "%h %l %u %t \"%r\" %>s %O" common
LogFormat "%{Referer}i -> %U" referer
LogFormat "%{User-agent}i" agent
"#,
    );
    for f in files {
        s.push_str(&format!("Include \"{f}\"\n"));
    }
    s
}

/// `(directive, value)` pairs of the rendered files, directive lowercased, quotes removed.
fn directives(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with('<') {
            continue;
        }
        let mut parts = line.splitn(2, char::is_whitespace);
        let (Some(d), Some(v)) = (parts.next(), parts.next()) else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|x| x.split('"').next())
            .unwrap_or_else(|| v.split_whitespace().next().unwrap_or(""));
        out.push((d.to_ascii_lowercase(), v.to_string()));
    }
    out
}

pub(crate) fn check(ctx: &Ctx, job: &Job, sb: &mut Sandbox) -> Result<Vec<Finding>, HarnessError> {
    let files = rendered(&job.host_dir);
    let state = format!("{HARNESS_DIR}/apache2");
    sb.mkdir(format!("{state}/run"))?;
    for d in ["/var/log/apache2", "/run/apache2", "/run/lock/apache2"] {
        if !sb.exists(d) {
            sb.mkdir(d)?;
        }
    }
    for f in &files {
        let text = sb.read(f).unwrap_or_default();
        for (directive, value) in directives(&text) {
            if !value.starts_with('/') || value.contains('$') {
                continue;
            }
            match directive.as_str() {
                "documentroot" if !sb.exists(&value) => sb.mkdir(&value)?,
                "sslcertificatefile" | "sslcertificatechainfile" | "sslcacertificatefile"
                    if !sb.exists(&value) =>
                {
                    let pem = ctx.certs.get(&ctx.tools, job)?;
                    sb.write(&value, &pem.cert)?;
                }
                "sslcertificatekeyfile" if !sb.exists(&value) => {
                    let pem = ctx.certs.get(&ctx.tools, job)?;
                    sb.write(&value, &pem.key)?;
                }
                _ => {}
            }
        }
    }
    let modules: Vec<String> = MODULES
        .iter()
        .filter(|m| Path::new(MODULE_DIR).join(format!("mod_{m}.so")).is_file())
        .map(|m| (*m).to_string())
        .collect();
    let conf = format!("{state}/apache2.conf");
    sb.write(&conf, wrapper(&files, &modules).as_bytes())?;

    let exe = &ctx.binary(job.daemon)?.exe;
    let argv = args([exe.as_os_str(), "-t".as_ref(), "-f".as_ref(), conf.as_ref()]);
    let out = sb.run(&argv, &[])?;
    let parsed = parse(job, &out.combined(), out.success());
    Ok(conclude(ctx, job, &out, parsed))
}

/// `[Sun Nov 22 00:16:55.865374 2026] [core:warn] [pid 1:tid 1] AH00111: ...` -> `AH00111: ...`.
fn strip_log_prefix(line: &str) -> &str {
    let mut rest = line;
    for _ in 0..3 {
        match rest.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((_, after)) => rest = after,
            None => break,
        }
    }
    rest.trim()
}

const SYNTAX: &str = "Syntax error on line ";

pub(crate) fn parse(job: &Job, text: &str, ok: bool) -> Vec<(Finding, bool)> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line == "Syntax OK" {
            continue;
        }
        if let Some(pos) = line.rfind(SYNTAX) {
            let rest = line.get(pos + SYNTAX.len()..).unwrap_or("");
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = rest.get(digits.len()..).unwrap_or("");
            if let (Ok(n), Some(file_and_msg)) = (digits.parse::<u32>(), after.strip_prefix(" of "))
            {
                let (file, msg) = file_and_msg
                    .split_once(": ")
                    .or_else(|| file_and_msg.strip_suffix(':').map(|f| (f, "")))
                    .unwrap_or((file_and_msg, ""));
                let mut msg = msg.trim().to_string();
                if msg.is_empty()
                    && let Some(next) = lines.next()
                {
                    msg = next.trim().to_string();
                }
                out.push((job.finding(Some(file), Some(n), msg), false));
                continue;
            }
        }
        let is_warning = ok || line.to_ascii_lowercase().contains("warn");
        out.push((job.finding(None, None, strip_log_prefix(line)), is_warning));
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn log_prefix() {
        assert_eq!(
            strip_log_prefix(
                "[Sun Nov 22 00:16:55.865374 2026] [core:warn] [pid 1:tid 1] AH00111: x"
            ),
            "AH00111: x"
        );
        assert_eq!(
            strip_log_prefix("AH00112: Warning: y"),
            "AH00112: Warning: y"
        );
    }

    #[test]
    fn directive_values() {
        let d = directives(
            "  DocumentRoot \"/var/www/a b\"\n<Directory /x>\nSSLCertificateFile /etc/ssl/x.pem # c\n",
        );
        assert_eq!(d[0], ("documentroot".into(), "/var/www/a b".into()));
        assert_eq!(d[1], ("sslcertificatefile".into(), "/etc/ssl/x.pem".into()));
    }
}

/// Apache on the host (`svcintent apply`): a graceful reload (`apachectl graceful` checks the
/// configuration first and keeps the old server on an error). A config can pass that check and
/// still make the server exit after the reload (a `Listen` on an address the host lacks), so the
/// reload is verified: the server still runs a moment later and listens on every rendered port.
pub mod live {
    use std::collections::BTreeSet;
    use std::path::Path;
    use std::time::Duration;

    use crate::deploy::exec;

    /// Debian's pid file (`APACHE_PID_FILE` in /etc/apache2/envvars).
    pub const PIDFILE: &str = "/run/apache2/apache2.pid";

    /// The `Listen` ports of a rendered `conf-available/svcintent.conf`.
    pub fn listen_ports(conf: &str) -> BTreeSet<u16> {
        conf.lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                (words.next()? == "Listen").then_some(())?;
                let addr = words.next()?;
                addr.rsplit(':').next()?.parse().ok()
            })
            .collect()
    }

    /// TCP ports some socket of this network namespace listens on (/proc/net/tcp, tcp6).
    pub fn listening() -> BTreeSet<u16> {
        let mut out = BTreeSet::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let words: Vec<&str> = line.split_whitespace().collect();
                // local_address is HEXADDR:HEXPORT, st 0A is LISTEN.
                if let (Some(local), Some(&"0A")) = (words.get(1), words.get(3))
                    && let Some(port) = local.rsplit(':').next()
                    && let Ok(port) = u16::from_str_radix(port, 16)
                {
                    out.insert(port);
                }
            }
        }
        out
    }

    /// Reloads with `command` and verifies the server runs and listens on `ports`.
    pub fn reload(command: &[String], ports: &BTreeSet<u16>) -> Result<(), String> {
        let ran = exec::run(command, Duration::from_secs(60));
        if !ran.ok() {
            return Err(ran.failure());
        }
        verify(ports)
    }

    /// The server runs (twice, a second apart: a bad `Listen` makes it exit just after a
    /// graceful reload) and listens on every port of `ports`.
    pub fn verify(ports: &BTreeSet<u16>) -> Result<(), String> {
        let pidfile = Path::new(PIDFILE);
        let check = || -> Result<(), String> {
            if exec::live_pid(pidfile).is_none() {
                return Err(format!(
                    "Apache is not running after the reload (no live process in {PIDFILE})"
                ));
            }
            let missing: Vec<String> = ports
                .difference(&listening())
                .map(ToString::to_string)
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "Apache does not listen on port(s) {} after the reload",
                    missing.join(", ")
                ))
            }
        };
        exec::wait_for(Duration::from_secs(10), || check().ok()).ok_or_else(|| {
            check()
                .err()
                .unwrap_or_else(|| "Apache did not come up".to_owned())
        })?;
        std::thread::sleep(Duration::from_secs(1));
        check()
    }
}
