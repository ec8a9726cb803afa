//! HAProxy: `haproxy -c -dW -f /etc/haproxy/haproxy.cfg` (without `-dW` when warnings do not
//! count).
//!
//! Before the run, every certificate the config names and the tree does not render gets the
//! throwaway self-signed certificate+key bundle: `crt PATH` (on `bind`, `server`,
//! `default-server`; a relative PATH is taken from `crt-base`, a PATH ending in `/` is a folder
//! and gets one bundle inside) and `ca-file PATH` (relative to `ca-base`; `@system-ca` is left
//! alone). `crt-list` and `crl-file` are not materialised.
//!
//! Output lines look like
//! `[ALERT]    (8337) : config : parsing [/etc/haproxy/haproxy.cfg:18] : unknown keyword ...`;
//! `[WARNING]` lines are warnings. The closing summaries (`Error(s) found in configuration file`,
//! `Fatal errors found in configuration.`, `Some warnings were found and 'zero-warning' is set`)
//! are dropped when a more precise line exists.

use std::path::{Path, PathBuf};

use super::sandbox::{Sandbox, normalize};
use super::{Ctx, Finding, HarnessError, Job, args, conclude, output, read_text, rendered_file};

const CONFIG: &str = "/etc/haproxy/haproxy.cfg";

pub(crate) fn applies(host_dir: &Path) -> Option<PathBuf> {
    rendered_file(host_dir, CONFIG)
}

/// `etc/haproxy/`, and each certificate the config names (the rendered one is checked where
/// the tree has it; elsewhere the harness writes its throwaway certificate).
pub(crate) fn input_roots(host_dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("etc/haproxy")];
    let config = read_text(&host_dir.join(CONFIG.trim_start_matches('/')));
    roots.extend(cert_paths(&config).iter().map(|p| normalize(p)));
    roots
}

pub(crate) fn check(ctx: &Ctx, job: &Job, sb: &mut Sandbox) -> Result<Vec<Finding>, HarnessError> {
    let config = sb.read(CONFIG).unwrap_or_default();
    let wanted = cert_paths(&config);
    if !wanted.is_empty() {
        let pem = ctx.certs.get(&ctx.tools, job)?;
        for path in wanted {
            let s = path.to_string_lossy();
            if sb.exists(&path) {
                continue; // rendered: checked as it is
            }
            if s.ends_with('/') {
                sb.write(path.join("svcintent-check.pem"), &pem.bundle())?;
            } else {
                sb.write(&path, &pem.bundle())?;
            }
        }
    }

    let exe = &ctx.binary(job.daemon)?.exe;
    let mut argv = args([exe.as_os_str(), "-c".as_ref()]);
    if ctx.opts.warnings_are_failures {
        argv.push("-dW".into());
    }
    argv.extend(args(["-f", CONFIG]));
    let out = sb.run(&argv, &[])?;
    let parsed = parse(job, &out.combined());
    Ok(conclude(ctx, job, &out, parsed))
}

/// Certificate files and folders the config names, as absolute paths.
pub(crate) fn cert_paths(config: &str) -> Vec<PathBuf> {
    let mut crt_base: Option<String> = None;
    let mut ca_base: Option<String> = None;
    let mut out: Vec<PathBuf> = Vec::new();
    for line in config.lines() {
        let words = words(line);
        let mut iter = words.iter().peekable();
        while let Some(word) = iter.next() {
            let keyword = word.as_str();
            if !matches!(keyword, "crt" | "ca-file" | "crt-base" | "ca-base") {
                continue;
            }
            let Some(value) = iter.peek().map(|v| v.to_string()) else {
                continue;
            };
            match keyword {
                "crt-base" => crt_base = Some(value),
                "ca-base" => ca_base = Some(value),
                _ => {
                    if value.starts_with('@') {
                        continue;
                    }
                    let base = if keyword == "crt" {
                        &crt_base
                    } else {
                        &ca_base
                    };
                    let path = if value.starts_with('/') {
                        value
                    } else {
                        let base = base.clone().unwrap_or_else(|| "/".into());
                        format!("{}/{value}", base.trim_end_matches('/'))
                    };
                    let path = PathBuf::from(path);
                    if !out.contains(&path) {
                        out.push(path);
                    }
                }
            }
        }
    }
    out
}

/// Splits a config line into words the way HAProxy does for the simple cases: whitespace
/// separates, `#` outside quotes starts a comment, quotes group, backslash escapes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '#') => break,
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

const SUMMARIES: &[&str] = &[
    "Error(s) found in configuration file",
    "Fatal errors found in configuration",
    "Some warnings were found and 'zero-warning' is set",
];

pub(crate) fn parse(job: &Job, text: &str) -> Vec<(Finding, bool)> {
    let mut precise = Vec::new();
    let mut summaries = Vec::new();
    for line in text.lines() {
        let (is_warning, rest) = if let Some(r) = line.strip_prefix("[ALERT]") {
            (false, r)
        } else if let Some(r) = line.strip_prefix("[WARNING]") {
            (true, r)
        } else {
            continue;
        };
        let mut msg = rest.trim_start();
        // "(pid) : "
        if msg.starts_with('(')
            && let Some(end) = msg.find(") : ")
        {
            msg = msg.get(end + 4..).unwrap_or("");
        }
        for section in ["config : ", "parsing : "] {
            if let Some(r) = msg.strip_prefix(section) {
                msg = r;
            }
        }
        let mut file = None;
        let mut line_no = None;
        let mut message = msg.trim().to_string();
        if let Some(open) = msg.find("[/")
            && let Some((f, l, after)) = output::file_line(msg.get(open + 1..).unwrap_or(""))
            && after.starts_with(']')
        {
            file = Some(f.to_string());
            line_no = Some(l);
            if msg.starts_with("parsing [") {
                message = after
                    .trim_start_matches(']')
                    .trim_start()
                    .trim_start_matches(':')
                    .trim()
                    .to_string();
            }
        }
        let finding = job.finding(file.as_deref(), line_no, message);
        if SUMMARIES.iter().any(|s| msg.starts_with(s)) {
            summaries.push((finding, is_warning));
        } else {
            precise.push((finding, is_warning));
        }
    }
    if precise.is_empty() {
        summaries
    } else {
        precise
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn finds_certs() {
        let cfg = "global\n  crt-base /etc/haproxy/certs\n  ca-base /etc/ssl/certs\n\
                   frontend f\n  bind :443 ssl crt www.pem crt /etc/x/y.pem ca-file ca.pem # crt no.pem\n\
                   backend b\n  server s 10.0.0.1:443 ssl ca-file @system-ca crt \"/etc/haproxy/dir/\"\n";
        assert_eq!(
            cert_paths(cfg),
            vec![
                PathBuf::from("/etc/haproxy/certs/www.pem"),
                PathBuf::from("/etc/x/y.pem"),
                PathBuf::from("/etc/ssl/certs/ca.pem"),
                PathBuf::from("/etc/haproxy/dir/"),
            ]
        );
    }
}

/// HAProxy on the host (`svcintent apply`): the master CLI (master-worker mode, Debian's unit
/// starts HAProxy with `-S /run/haproxy-master.sock`). A reload keeps the old worker serving
/// its connections until they end; a reload that fails keeps the old worker alone. `reload` on
/// the master CLI answers nothing either way, so the outcome is read from `show proc`: the
/// master's reload counter and its `[failed: N]` count.
pub mod live {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    use std::time::Duration;

    /// The master's counters.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Reloads {
        /// Reloads so far.
        pub total: u64,
        /// Reloads that failed.
        pub failed: u64,
    }

    /// One master CLI command's answer (the CLI ends an answer with an empty line, or closes).
    pub fn master_command(
        socket: &Path,
        command: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        let mut stream = UnixStream::connect(socket).map_err(|e| {
            format!(
                "cannot reach HAProxy's master CLI at {}: {e}",
                socket.display()
            )
        })?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        stream
            .write_all(format!("{command}\n").as_bytes())
            .map_err(|e| format!("writing to HAProxy's master CLI: {e}"))?;
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(buf.get(..n).unwrap_or_default());
                    if out.ends_with(b"\n\n") {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    // `reload` answers nothing: a quiet socket is its answer.
                    break;
                }
                Err(e) => return Err(format!("reading HAProxy's master CLI: {e}")),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The master's line of `show proc`: `<pid> master <reloads> [failed: <n>] ...`.
    pub fn parse_reloads(show_proc: &str) -> Option<Reloads> {
        let line = show_proc
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("master"))?;
        let mut words = line.split_whitespace().skip(2);
        let total = words.next()?.parse().ok()?;
        let failed = line
            .split("[failed:")
            .nth(1)?
            .trim_start()
            .split(']')
            .next()?
            .trim()
            .parse()
            .ok()?;
        Some(Reloads { total, failed })
    }

    /// The master's counters now.
    pub fn reloads(socket: &Path) -> Result<Reloads, String> {
        let text = master_command(socket, "show proc", Duration::from_secs(5))?;
        parse_reloads(&text).ok_or_else(|| {
            format!(
                "HAProxy's master CLI answered `show proc` with: {}",
                text.trim()
            )
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn show_proc_gives_the_counters() {
            let text = "#<PID>          <type>          <reloads>       <uptime>        <version>\n19954           master          2 [failed: 1]   0d00h10m13s     2.6.12-1+deb12u4\n# workers\n5527            worker          1               0d00h00m00s     2.6.12-1+deb12u4\n# programs\n\n";
            assert_eq!(
                parse_reloads(text),
                Some(Reloads {
                    total: 2,
                    failed: 1
                })
            );
            assert_eq!(parse_reloads("Unknown command\n"), None);
        }
    }
}
