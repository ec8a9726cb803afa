//! nftables: `nft -c -f /etc/nftables.conf`, in the sandbox's own network namespace (where mapped
//! root holds `CAP_NET_ADMIN`), so the kernel validates the ruleset too (unknown jump targets,
//! missing interfaces for `iif`: the namespace has only `lo`, so render `iifname`).
//!
//! Errors look like `/etc/nftables.conf:7:10-16: Error: Could not process rule: ...`, followed by
//! the source line and a caret line (skipped).

use std::path::{Path, PathBuf};

use super::sandbox::Sandbox;
use super::{
    Ctx, Finding, HarnessError, Job, include_roots, output, read_text, rendered_file,
    run_config_check,
};

const CONFIG: &str = "/etc/nftables.conf";

pub(crate) fn applies(host_dir: &Path) -> Option<PathBuf> {
    rendered_file(host_dir, CONFIG)
}

/// `etc/nftables.conf`, Debian's `etc/nftables{,.d}/` folders, and any other file it includes.
pub(crate) fn input_roots(host_dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![
        PathBuf::from("etc/nftables.conf"),
        PathBuf::from("etc/nftables"),
        PathBuf::from("etc/nftables.d"),
    ];
    roots.extend(include_roots(&read_text(
        &host_dir.join(CONFIG.trim_start_matches('/')),
    )));
    roots
}

pub(crate) fn check(ctx: &Ctx, job: &Job, sb: &mut Sandbox) -> Result<Vec<Finding>, HarnessError> {
    run_config_check(ctx, job, sb, &["-c", "-f"], CONFIG, parse)
}

pub(crate) fn parse(job: &Job, text: &str) -> Vec<(Finding, bool)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        let (file, line_no, rest) = match output::file_line(line) {
            Some((f, l, rest)) => (Some(f), Some(l), rest),
            None => (None, None, line),
        };
        for (tag, is_warning) in [("Error: ", false), ("Warning: ", true)] {
            let found = if file.is_some() {
                rest.find(&format!(": {tag}")).map(|i| i + 2)
            } else if rest.starts_with(tag) {
                Some(0)
            } else {
                None
            };
            if let Some(i) = found {
                let msg = rest.get(i + tag.len()..).unwrap_or("").trim();
                out.push((job.finding(file, line_no, msg), is_warning));
                break;
            }
        }
    }
    out
}

/// nftables on the host (`svcintent apply`): the rendered file replaces `table inet svcintent`
/// in one transaction (`nft -f`; any error leaves the ruleset as it was). Never `flush ruleset`,
/// never a stop of the unit (Debian's `nftables.service` flushes everything on stop).
pub mod live {
    use std::path::Path;
    use std::time::Duration;

    use crate::deploy::exec::{self, argv};

    const TIMEOUT: Duration = Duration::from_secs(30);

    /// Loads `file` (the rendered `/etc/nftables.conf`) and checks the table is there.
    pub fn load(file: &Path) -> Result<(), String> {
        let ran = exec::run(&argv(["nft", "-f", &file.to_string_lossy()]), TIMEOUT);
        if !ran.ok() {
            return Err(ran.failure());
        }
        verify()
    }

    /// The table svcintent owns is loaded.
    pub fn verify() -> Result<(), String> {
        let ran = exec::run(
            &argv(["nft", "list", "table", "inet", "svcintent"]),
            TIMEOUT,
        );
        if ran.ok() {
            Ok(())
        } else {
            Err(format!("the table is not loaded: {}", ran.failure()))
        }
    }

    /// Removes the table (rolling back a first deployment, which had no table before).
    pub fn remove() -> Result<(), String> {
        if !exec::run(
            &argv(["nft", "list", "table", "inet", "svcintent"]),
            TIMEOUT,
        )
        .ok()
        {
            return Ok(());
        }
        let ran = exec::run(
            &argv(["nft", "delete", "table", "inet", "svcintent"]),
            TIMEOUT,
        );
        if ran.ok() { Ok(()) } else { Err(ran.failure()) }
    }
}
