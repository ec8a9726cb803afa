//! Icinga2: `icinga2 daemon -C -c /.svcintent-check/icinga2/main.conf` with
//! `-DConfiguration.{CacheDir,DataDir,LogDir,ZonesDir}` pointing into `/.svcintent-check/icinga2/`
//! and `ICINGA2_USER`/`ICINGA2_GROUP` set to `root` (which is the caller's own uid, mapped, in the
//! sandbox's user namespace).
//!
//! The wrapper `main.conf` stands in for Debian's `icinga2.conf` + `constants.conf` +
//! `zones.conf`: it defines `PluginDir`, `PluginContribDir`, `ManubulonPluginDir`
//! (`/usr/lib/nagios/plugins`), `NodeName` (the host folder name), `ZoneName = NodeName`,
//! `TicketSalt`, the node's `Endpoint` and `Zone`, the global zones `global-templates` and
//! `director-global`, includes `<itl>`, `<plugins>`, `<plugins-contrib>`, `<manubulon>`,
//! `<windows-plugins>`, `<nscp>`, then `include "/etc/icinga2/conf.d/svcintent/*.conf"`. It does
//! NOT include the package's sample `conf.d` (`templates.conf` with `generic-host` and friends,
//! `commands.conf`): rendered objects must bring their own templates and notification
//! commands.
//!
//! Errors look like
//! ```text
//! [2026-11-21 23:53:13 +0000] critical/config: Error: Validation failed for object 'web1!bad' ...
//! Location: in /etc/icinga2/conf.d/svcintent/hosts.conf: 12:3-12:29
//! ```
//! `warning/...` lines (an apply rule that matches nothing, ...) are warnings; a location
//! written into the message (`(in FILE: 3:1-3:20)`) is used when there is no `Location:` line.

use std::path::{Path, PathBuf};

use super::sandbox::{HARNESS_DIR, Sandbox};
use super::{Ctx, Finding, HarnessError, Job, args, conclude, include_roots, read_text};

const CONF_DIR: &str = "etc/icinga2/conf.d/svcintent";

pub(crate) fn applies(host_dir: &Path) -> Option<PathBuf> {
    let dir = host_dir.join(CONF_DIR);
    let has_conf = std::fs::read_dir(&dir).ok()?.any(|e| {
        e.ok().is_some_and(|e| {
            e.path().extension().is_some_and(|x| x == "conf") && e.path().is_file()
        })
    });
    has_conf.then(|| PathBuf::from(CONF_DIR))
}

/// `etc/icinga2/`, and any other file the rendered objects include.
pub(crate) fn input_roots(host_dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("etc/icinga2")];
    let mut names: Vec<PathBuf> = std::fs::read_dir(host_dir.join(CONF_DIR))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    names.sort();
    for file in names {
        roots.extend(include_roots(&read_text(&file)));
    }
    roots
}

fn icinga_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The wrapper `main.conf` for a host.
pub fn wrapper(node_name: &str) -> String {
    format!(
        r#"/* Written by the svcintent daemon check: stands in for Debian's icinga2.conf, constants.conf and zones.conf. */
const PluginDir = "/usr/lib/nagios/plugins"
const ManubulonPluginDir = "/usr/lib/nagios/plugins"
const PluginContribDir = "/usr/lib/nagios/plugins"
const NodeName = {node}
const ZoneName = NodeName
const TicketSalt = ""

object Endpoint NodeName {{ }}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
object Zone "global-templates" {{ global = true }}
object Zone "director-global" {{ global = true }}

include <itl>
include <plugins>
include <plugins-contrib>
include <manubulon>
include <windows-plugins>
include <nscp>

include "/{CONF_DIR}/*.conf"
"#,
        node = icinga_string(node_name),
    )
}

pub(crate) fn check(ctx: &Ctx, job: &Job, sb: &mut Sandbox) -> Result<Vec<Finding>, HarnessError> {
    let state = format!("{HARNESS_DIR}/icinga2");
    for d in ["cache", "lib", "log", "zones.d", "run"] {
        sb.mkdir(format!("{state}/{d}"))?;
    }
    let main = format!("{state}/main.conf");
    sb.write(&main, wrapper(&job.host).as_bytes())?;

    let exe = &ctx.binary(job.daemon)?.exe;
    let mut argv = args([exe.as_os_str()]);
    argv.extend(args([
        "daemon".to_string(),
        "-C".into(),
        "-c".into(),
        main,
        format!("-DConfiguration.CacheDir={state}/cache"),
        format!("-DConfiguration.DataDir={state}/lib"),
        format!("-DConfiguration.LogDir={state}/log"),
        format!("-DConfiguration.ZonesDir={state}/zones.d"),
        format!("-DConfiguration.InitRunDir={state}/run"),
    ]));
    let env = [("ICINGA2_USER", "root"), ("ICINGA2_GROUP", "root")];
    let out = sb.run(&argv, &env)?;
    let parsed = parse(job, &out.combined());
    Ok(conclude(ctx, job, &out, parsed))
}

/// `in FILE: L:C-L:C` anywhere in `s`.
fn location(s: &str) -> Option<(&str, u32)> {
    let mut from = 0;
    while let Some(i) = s.get(from..).and_then(|r| r.find("in /")) {
        let start = from + i + 3;
        let rest = s.get(start..)?;
        if let Some(colon) = rest.find(": ") {
            let file = rest.get(..colon)?;
            let after = rest.get(colon + 2..)?;
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && !file.contains(char::is_whitespace) {
                return Some((file, digits.parse().ok()?));
            }
        }
        from = start;
    }
    None
}

fn is_summary(msg: &str) -> bool {
    msg.starts_with("Config validation failed")
        || msg
            .strip_suffix(" errors")
            .or_else(|| msg.strip_suffix(" error"))
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
        || msg
            .strip_suffix(" warnings")
            .or_else(|| msg.strip_suffix(" warning"))
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
}

pub(crate) fn parse(job: &Job, text: &str) -> Vec<(Finding, bool)> {
    struct Rec {
        msg: String,
        warning: bool,
        loc: Option<(String, u32)>,
    }
    let mut recs: Vec<Rec> = Vec::new();
    let mut open = false;
    for raw in text.lines() {
        let mut line = raw;
        if line.starts_with('[')
            && let Some(end) = line.find("] ")
        {
            line = line.get(end + 2..).unwrap_or("");
        }
        let severity = ["critical/", "warning/"]
            .into_iter()
            .find(|s| line.starts_with(s));
        if let Some(sev) = severity {
            let body = line.get(sev.len()..).unwrap_or("");
            let msg = body.split_once(": ").map_or(body, |(_, m)| m).trim();
            let msg = msg.strip_prefix("Error: ").unwrap_or(msg);
            if is_summary(msg) {
                open = false;
                continue;
            }
            let loc = location(msg).map(|(f, l)| (f.to_string(), l));
            recs.push(Rec {
                msg: msg.to_string(),
                warning: sev == "warning/",
                loc,
            });
            open = true;
            continue;
        }
        if line.starts_with("information/")
            || line.starts_with("notice/")
            || line.starts_with("debug/")
        {
            open = false;
            continue;
        }
        if open
            && let Some(l) = line.strip_prefix("Location: ")
            && let Some(rec) = recs.last_mut()
            && let Some((f, n)) = location(l)
        {
            rec.loc = Some((f.to_string(), n));
        }
    }
    recs.into_iter()
        .map(|r| {
            let (file, line) = match &r.loc {
                Some((f, l)) => (Some(f.as_str()), Some(*l)),
                None => (None, None),
            };
            (job.finding(file, line, r.msg), r.warning)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            location("in /etc/icinga2/conf.d/svcintent/hosts.conf: 12:3-12:29"),
            Some(("/etc/icinga2/conf.d/svcintent/hosts.conf", 12))
        );
        assert_eq!(
            location(
                "Apply rule 'x' (in /etc/a.conf: 3:1-3:20) for type 'Service' does not match anywhere!"
            ),
            Some(("/etc/a.conf", 3))
        );
        assert_eq!(location("nothing here"), None);
    }

    #[test]
    fn names_are_quoted() {
        assert!(wrapper("a\"b$").contains(r#"const NodeName = "a\"b$$""#));
    }
}

/// Icinga2 on the host (`svcintent apply`): a reload (Debian's unit runs its `safe-reload`,
/// which checks the configuration before it signals the daemon), verified by the daemon still
/// running afterwards.
pub mod live {
    use std::path::Path;
    use std::time::Duration;

    use crate::deploy::exec;

    /// Debian's pid file (`PIDFile=` of icinga2.service).
    pub const PIDFILE: &str = "/run/icinga2/icinga2.pid";

    /// Reloads with `command` and verifies the daemon runs.
    pub fn reload(command: &[String]) -> Result<(), String> {
        let ran = exec::run(command, Duration::from_secs(120));
        if !ran.ok() {
            return Err(ran.failure());
        }
        exec::wait_for(Duration::from_secs(15), || {
            exec::live_pid(Path::new(PIDFILE))
        })
        .map(|_| ())
        .ok_or_else(|| {
            format!("Icinga2 is not running after the reload (no live process in {PIDFILE})")
        })
    }
}
