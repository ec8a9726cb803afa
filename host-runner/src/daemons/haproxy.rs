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
