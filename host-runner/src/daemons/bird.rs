//! BIRD 2: `bird -p -c /etc/bird/bird.conf` (parse only; no socket, no kernel).
//!
//! Includes by absolute path (`include "/var/lib/anycast-healthchecker/anycast-prefixes.conf";`)
//! resolve to the host's rendered files because the check runs in the host's root. Errors look
//! like `bird: /etc/bird/bird.conf:11:1 syntax error, unexpected '}'`, naming the included file
//! when the error is there.

use std::path::{Path, PathBuf};

use super::sandbox::Sandbox;
use super::{Ctx, Finding, HarnessError, Job, args, conclude, output};

const CONFIG: &str = "/etc/bird/bird.conf";

pub(crate) fn applies(host_dir: &Path) -> Option<PathBuf> {
    let rel = Path::new("etc/bird/bird.conf");
    host_dir.join(rel).is_file().then(|| rel.to_path_buf())
}

pub(crate) fn check(ctx: &Ctx, job: &Job, sb: &mut Sandbox) -> Result<Vec<Finding>, HarnessError> {
    let exe = &ctx.binary(job.daemon)?.exe;
    let argv = args([
        exe.as_os_str(),
        "-p".as_ref(),
        "-c".as_ref(),
        CONFIG.as_ref(),
    ]);
    let out = sb.run(&argv, &[])?;
    let parsed = parse(job, &out.combined());
    Ok(conclude(ctx, job, &out, parsed))
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
