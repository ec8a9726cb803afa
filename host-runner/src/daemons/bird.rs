//! BIRD 2: `bird -p -c /etc/bird/bird.conf` (parse only; no socket, no kernel).
//!
//! Includes by absolute path (`include "/var/lib/anycast-healthchecker/anycast-prefixes.conf";`)
//! resolve to the host's rendered files because the check runs in the host's root. Errors look
//! like `bird: /etc/bird/bird.conf:11:1 syntax error, unexpected '}'`, naming the included file
//! when the error is there.

use std::path::{Path, PathBuf};

use super::sandbox::Sandbox;
use super::{
    Ctx, Finding, HarnessError, Job, include_roots, output, read_text, rendered_file,
    run_config_check,
};

const CONFIG: &str = "/etc/bird/bird.conf";

pub(crate) fn applies(host_dir: &Path) -> Option<PathBuf> {
    rendered_file(host_dir, CONFIG)
}

/// `etc/bird/`, the healthchecker's prefix files it includes, and any other file it includes.
pub(crate) fn input_roots(host_dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![
        PathBuf::from("etc/bird"),
        PathBuf::from("var/lib/anycast-healthchecker"),
    ];
    roots.extend(include_roots(&read_text(
        &host_dir.join(CONFIG.trim_start_matches('/')),
    )));
    roots
}

pub(crate) fn check(ctx: &Ctx, job: &Job, sb: &mut Sandbox) -> Result<Vec<Finding>, HarnessError> {
    run_config_check(ctx, job, sb, &["-p", "-c"], CONFIG, parse)
}

pub(crate) fn parse(job: &Job, text: &str) -> Vec<(Finding, bool)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let rest = line.strip_prefix("bird: ").unwrap_or(line).trim();
        if rest.is_empty() {
            continue;
        }
        if let Some((file, line_no, after)) = output::file_line(rest) {
            // after = ":COL message"
            let msg = after
                .strip_prefix(':')
                .map(|a| a.trim_start_matches(|c: char| c.is_ascii_digit()))
                .unwrap_or(after)
                .trim();
            out.push((job.finding(Some(file), Some(line_no), msg), false));
        } else {
            out.push((job.finding(None, None, rest), false));
        }
    }
    out
}
