//! anycast-healthchecker (PyPI `anycast-healthchecker`, 0.9.x) on balancers and anycast nodes:
//! health-driven announcement of the VIPs through BIRD.
//!
//! # What a host gets
//!
//! Every host with role `balancer` or `anycast-node`:
//!
//! - [`MAIN_CONF`] `/etc/anycast-healthchecker.conf`: the `[daemon]` section. `ipv4`/`ipv6` are
//!   on when the host announces a VIP of that family (drained or not: the daemon refuses a
//!   service of a disabled family). Both prefix files are the package defaults, and both
//!   reconfigure commands are `/usr/sbin/birdc configure` (BIRD 2 is one daemon for both
//!   families; `birdc6` does not exist). `purge_ip_prefixes = true`: at startup, prefixes left
//!   in a prefix file by a check that no longer exists are removed. `loglevel = info`.
//! - [`SERVICE_DIR`]`/<service>.conf` per announced service: one section `[<service>-<vip>]` per
//!   VIP this host announces for it (the split at the last `-` is unique because addresses have
//!   no `-`, so section names never collide). One file per service rather than a separate
//!   `-v6` file: `<service>-v6.conf` could also be the file of a service named `<service>-v6`.
//!   A host that announces nothing gets [`EMPTY_SERVICE_FILE`] (comments only) instead, as
//!   the daemon refuses to start without the folder.
//! - [`BIRD_CONF4`] and [`BIRD_CONF6`] (for each family the daemon runs): the initial prefix
//!   lists, holding only the dummy prefix, in exactly the layout the daemon writes itself
//!   (`utils.write_temp_bird_conf`, with our header instead of its timestamp line), so nothing is
//!   announced before the first healthy check and the daemon's startup sanity check leaves the
//!   file alone. **These are state files**: the daemon rewrites them on every health change and
//!   only ever adds a prefix on a *transition* to healthy, so a deployment must install them
//!   only when missing (overwriting them under a running daemon withdraws every VIP until the
//!   daemon is restarted).
//!
//! BIRD (`render::bird`) includes the prefix files by these absolute paths and exports a VIP
//! only when it is in the daemon's list *and* planned for this host (not drained); the dummy
//! prefixes are never exported.
//!
//! # The daemon's configuration format (read from the 0.9.10 source)
//!
//! - One `configparser.ConfigParser()` with the stock settings reads the built-in defaults, then
//!   the main file and `glob(DIR/*.conf)`. Every section but `[daemon]` is a service check.
//!   Keys are case-insensitive; values are stripped of surrounding whitespace; comments are
//!   whole lines starting with `#` or `;` (there are no inline comments, so `#` and `;` inside a
//!   value are literal); an indented line continues the previous value (we never write one:
//!   no value contains a line break).
//! - **BasicInterpolation is on**: `%(key)s` expands another key and a literal `%` must be
//!   written `%%`; a lone `%` is an error. Every value is therefore passed through
//!   [`ini_value`] (filter `healthchecker_value`).
//! - Built-in `[DEFAULT]`s that matter: `check_disabled = true` (a section that does not say
//!   `check_disabled = false` is never checked) and `on_disabled = withdraw`; we write every
//!   service key explicitly.
//! - `check_cmd` is read with interpolation, then split with `shlex.split()` (POSIX mode,
//!   `comments=False`) and run with `subprocess.Popen(argv)` without a shell; exit 0 means
//!   healthy, and it is killed after `check_timeout`. We quote each argument with the rules of
//!   Python's `shlex.quote` ([`shell_quote`]) and then apply the INI `%` escaping
//!   ([`check_cmd`], filter `healthchecker_cmd`).
//! - `check_interval` and `check_timeout` are floats (`getfloat`): written as exact decimal
//!   seconds (`2`, `0.5`), not rounded. `check_rise`, `check_fail` are ints.
//! - Unless `ip_check_disabled = true`, each check first runs
//!   `/sbin/ip address show dev lo to <prefix>` and counts as failed when the output does not
//!   contain `<vip>/32` (`/128`): the VIP must be on `lo` with exactly that length, which is
//!   what `render::loopback` configures. We leave that check on.
//! - `ip_prefix` must be unique among the sections of one daemon ("is used by 2 service
//!   checks"), so two services announcing the same VIP from one host cannot be configured.
//! - Check mode: `anycast-healthchecker -c [-f FILE] [-d DIR]` validates the files (it also
//!   starts and kills each `check_cmd`, touches the prefix files and needs the pidfile folder),
//!   prints `OK` and exits 0.
//!
//! # The check commands
//!
//! On a **balancer**, the question is whether this balancer can serve the service, which
//! HAProxy knows best: `check_http -I 127.0.0.1 -p 8405 -u /<service> -e 200 -t <timeout>` asks
//! its announcement-health frontend (`render::haproxy`), which answers 200 while every backend
//! of the service has a usable server by HAProxy's own checks (the service's `check`), 503
//! otherwise, and nothing when HAProxy is down. Checking *through* the VIP instead would
//! withdraw the VIP from every balancer at once whenever one backend server fails (the check
//! lands on the failing server before HAProxy has marked it down): the netns lab
//! (tests/tests/lab.rs, scenario 4) showed exactly that. End-to-end checks through the VIP are
//! Icinga2's job (`render::icinga2`).
//!
//! On an **anycast node** the node is the server: the service's `check` runs against the VIP
//! on this host (`{vip}`, `{port}`: the check's `port`, else the first tcp port of the service,
//! else its first port, `{address}`: this host's address of the VIP's family), with the plugins
//! of `site.paths.plugins`:
//!
//! - `http` → `check_http -I <vip> -p <port> -u <path> -e <status> [-H <host>] [-j <method>]
//!   -t <timeout>`.
//! - `tcp` → `check_tcp -H <vip> -p <port> -t <timeout>`.
//! - `tls` → `check_tcp -H <vip> -p <port> -S [--sni <sni>] -t <timeout>`.
//! - `command` → the plugin (a bare name under `site.paths.plugins`, or an absolute path) and
//!   its arguments with the placeholders substituted.
//!
//! `-t` is the check timeout rounded up to whole seconds (the plugins take integers); the
//! daemon kills the plugin at the exact `check_timeout` anyway.
//!
//! Drain: an announcement with `withdrawn` (drained host or service) gets
//! `check_disabled = true` and `on_disabled = withdraw`: the daemon removes the prefix at
//! startup and never checks it. The VIP stays on `lo` (see `render::loopback`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

use super::{Context, RenderError, RenderedFile, Target};
use crate::model::{CheckKind, Intent, Proto, Role, Service};
use crate::plan::{Announcement, HostPlan};

/// The daemon's main file.
pub const MAIN_CONF: &str = "/etc/anycast-healthchecker.conf";
/// The folder of the service check files.
pub const SERVICE_DIR: &str = "/etc/anycast-healthchecker.d";
/// The IPv4 prefix list the daemon maintains (BIRD include file).
pub const BIRD_CONF4: &str = "/var/lib/anycast-healthchecker/anycast-prefixes.conf";
/// The IPv6 prefix list the daemon maintains (BIRD include file).
pub const BIRD_CONF6: &str = "/var/lib/anycast-healthchecker/6/anycast-prefixes.conf";
/// The BIRD constant holding the healthy IPv4 prefixes.
pub const BIRD_VARIABLE4: &str = "ACAST_PS_ADVERTISE";
/// The BIRD constant holding the healthy IPv6 prefixes.
pub const BIRD_VARIABLE6: &str = "ACAST6_PS_ADVERTISE";
/// How the daemon makes BIRD reread its configuration (both families).
pub const RECONFIGURE_CMD: &str = "/usr/sbin/birdc configure";

/// Dummy IPv4 prefixes, in order of preference (documentation ranges TEST-NET-2, -3, -1).
const DUMMY4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 51, 100, 255),
    Ipv4Addr::new(203, 0, 113, 255),
    Ipv4Addr::new(192, 0, 2, 255),
];
/// Dummy IPv6 prefixes, in order of preference (2001:db8::/32 and 3fff::/20, documentation).
const DUMMY6: [Ipv6Addr; 3] = [
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(
        0x2001, 0xdb8, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xfffe,
    ),
];

/// The only file of [`SERVICE_DIR`] on a host that announces nothing.
pub const EMPTY_SERVICE_FILE: &str = "00-no-checks.conf";

const MAIN_TEMPLATE: &str = "healthchecker/anycast-healthchecker.conf.j2";
const SERVICE_TEMPLATE: &str = "healthchecker/service.conf.j2";
const PREFIXES_TEMPLATE: &str = "healthchecker/anycast-prefixes.conf.j2";

/// The dummy prefixes of a site (IPv4, IPv6): the first candidate outside every anycast prefix,
/// else the first that is no VIP of the site. They keep the daemon's prefix lists from ever
/// being empty and are never exported by BIRD. The same on every host of the site.
pub fn dummy_prefixes(intent: &Intent) -> Result<(IpNet, IpNet), String> {
    let vips: BTreeSet<IpAddr> = crate::collect::set(
        intent
            .services
            .values()
            .flat_map(|s| s.vips.iter().copied()),
    );
    let pick = |candidates: &[IpAddr]| -> Option<IpNet> {
        let outside = |ip: &IpAddr| !intent.site.anycast_prefixes.iter().any(|p| p.contains(ip));
        candidates
            .iter()
            .find(|ip| outside(ip) && !vips.contains(ip))
            .or_else(|| candidates.iter().find(|ip| !vips.contains(ip)))
            .map(|ip| IpNet::from(*ip))
    };
    let v4: Vec<IpAddr> = DUMMY4.iter().copied().map(IpAddr::V4).collect();
    let v6: Vec<IpAddr> = DUMMY6.iter().copied().map(IpAddr::V6).collect();
    match (pick(&v4), pick(&v6)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err("no dummy prefix is free: every candidate is a VIP".to_owned()),
    }
}

/// Whether a host runs anycast-healthchecker (and announces VIPs with BIRD).
pub fn runs_on(host: &HostPlan) -> bool {
    host.roles
        .iter()
        .any(|r| matches!(r, Role::Balancer | Role::AnycastNode))
}

/// Whether the daemon handles the IPv4 / IPv6 family on this host: when the host announces a
/// VIP of that family, drained or not.
pub fn families(host: &HostPlan) -> (bool, bool) {
    (
        host.announcements.iter().any(|a| a.vip.is_ipv4()),
        host.announcements.iter().any(|a| a.vip.is_ipv6()),
    )
}

/// Python's `shlex.quote`: words of `[A-Za-z0-9_@%+=:,./-]` stay as they are, anything else
/// goes in single quotes with each `'` written `'"'"'`; the empty word is `''`. `shlex.split()`
/// (POSIX mode) reads every result back as exactly one word: inside single quotes nothing is
/// special, and the pieces of one word concatenate.
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '-')
    };
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', "'\"'\"'"))
}

/// A configparser value: `%` doubled (BasicInterpolation). Refuses line breaks and the other
/// characters validation keeps out of every string (a line break would end the value, and an
/// indented next line would continue it), and leading or trailing whitespace (configparser
/// strips it).
pub fn ini_value(value: &str) -> Result<String, String> {
    if let Some(c) = value
        .chars()
        .find(|c| crate::validate::strings::forbidden_char(*c))
    {
        return Err(format!(
            "U+{:04X} cannot be written in an INI value",
            c as u32
        ));
    }
    if value.trim() != value {
        return Err(format!(
            "{value:?} has surrounding whitespace, which configparser strips"
        ));
    }
    Ok(value.replace('%', "%%"))
}

/// The `check_cmd` value of an argument vector: each argument [`shell_quote`]d, joined by
/// spaces, then written as an INI value ([`ini_value`]).
pub fn check_cmd(argv: &[String]) -> Result<String, String> {
    if argv.is_empty() {
        return Err("empty check command".to_owned());
    }
    let line = argv
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    ini_value(&line)
}

/// An INI section name: refuses `]`, line breaks and surrounding whitespace.
fn ini_section(name: &str) -> Result<String, String> {
    if name.is_empty()
        || name.contains(']')
        || name.trim() != name
        || name.chars().any(crate::validate::strings::forbidden_char)
    {
        return Err(format!("{name:?} cannot be an INI section name"));
    }
    Ok(name.to_owned())
}

fn filter_err(m: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, m)
}

/// Registers this target's templates and escaping filters.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("healthchecker_value", |s: &str| {
        ini_value(s).map_err(filter_err)
    });
    env.add_filter("healthchecker_cmd", |argv: Vec<String>| {
        check_cmd(&argv).map_err(filter_err)
    });
    env.add_filter("healthchecker_section", |s: &str| {
        ini_section(s).map_err(filter_err)
    });
    // A template that does not parse shows up as "template not found" when rendering, and in
    // this module's tests.
    let _ = env.add_template(
        MAIN_TEMPLATE,
        include_str!("../../templates/healthchecker/anycast-healthchecker.conf.j2"),
    );
    let _ = env.add_template(
        SERVICE_TEMPLATE,
        include_str!("../../templates/healthchecker/service.conf.j2"),
    );
    let _ = env.add_template(
        PREFIXES_TEMPLATE,
        include_str!("../../templates/healthchecker/anycast-prefixes.conf.j2"),
    );
}

/// Seconds from milliseconds, as an exact decimal (`2`, `0.5`, `1.25`).
fn seconds(ms: u32) -> String {
    let (whole, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:03}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// The service port: the first tcp port, else the first port.
pub fn service_port(svc: &Service) -> Option<u16> {
    svc.ports
        .iter()
        .find(|p| p.proto == Proto::Tcp)
        .or(svc.ports.first())
        .map(|p| p.port)
}

/// Substitutes `{vip}`, `{port}` and `{address}` in one command argument (one left-to-right
/// pass: substituted text is never scanned again).
pub fn substitute(
    arg: &str,
    vip: IpAddr,
    port: Option<u16>,
    address: Option<IpAddr>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(i) = rest.find('{') {
        let (before, at) = rest.split_at(i);
        out.push_str(before);
        let value = if at.starts_with("{vip}") {
            Some(("{vip}", vip.to_string()))
        } else if at.starts_with("{port}") {
            let port = port.ok_or_else(|| "`{port}` but the service has no port".to_owned())?;
            Some(("{port}", port.to_string()))
        } else if at.starts_with("{address}") {
            let address = address.ok_or_else(|| {
                "`{address}` but the host has no address of the VIP's family".to_owned()
            })?;
            Some(("{address}", address.to_string()))
        } else {
            None
        };
        match value {
            Some((token, text)) => {
                out.push_str(&text);
                rest = at.get(token.len()..).unwrap_or_default();
            }
            None => {
                out.push('{');
                rest = at.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn plugin(intent: &Intent, name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!(
            "{}/{}",
            intent.site.paths.plugins.trim_end_matches('/'),
            name
        )
    }
}

/// The argument vector checking `vip` of `svc` on a host whose address of the VIP's family is
/// `address` (see the module docs for the port rules).
pub fn check_argv(
    intent: &Intent,
    svc: &Service,
    vip: IpAddr,
    address: Option<IpAddr>,
) -> Result<Vec<String>, String> {
    let port = service_port(svc);
    let timeout = svc.check.timeout_ms.div_ceil(1000).max(1).to_string();
    if svc.haproxy.is_some() {
        // HAProxy's own view: can it serve the service (every backend has a usable server)?
        return Ok(vec![
            plugin(intent, "check_http"),
            "-I".into(),
            "127.0.0.1".into(),
            "-p".into(),
            crate::plan::HAPROXY_HEALTH_PORT.to_string(),
            "-u".into(),
            format!("/{}", svc.name),
            "-e".into(),
            "200".into(),
            "-t".into(),
            timeout,
        ]);
    }
    // An anycast node serves the service itself: check it on the VIP, at the check's port.
    let choose = |over: Option<u16>| -> Result<u16, String> {
        over.or(port)
            .ok_or_else(|| format!("service {} has no port to check", svc.name))
    };
    let vip_s = vip.to_string();
    let argv = match &svc.check.kind {
        CheckKind::Http {
            path,
            expect,
            host,
            method,
            port: over,
        } => {
            let p = choose(*over)?;
            let mut v = vec![
                plugin(intent, "check_http"),
                "-I".into(),
                vip_s,
                "-p".into(),
                p.to_string(),
            ];
            v.extend(["-u".into(), path.clone(), "-e".into(), expect.to_string()]);
            if let Some(h) = &host {
                v.extend(["-H".into(), h.clone()]);
            }
            if method != "GET" {
                v.extend(["-j".into(), method.clone()]);
            }
            v.extend(["-t".into(), timeout]);
            v
        }
        CheckKind::Tcp { port: over } => {
            let p = choose(*over)?;
            vec![
                plugin(intent, "check_tcp"),
                "-H".into(),
                vip_s,
                "-p".into(),
                p.to_string(),
                "-t".into(),
                timeout,
            ]
        }
        CheckKind::Tls { sni, port: over } => {
            let p = choose(*over)?;
            let mut v = vec![
                plugin(intent, "check_tcp"),
                "-H".into(),
                vip_s,
                "-p".into(),
                p.to_string(),
                "-S".into(),
            ];
            if let Some(s) = sni {
                v.extend(["--sni".into(), s.clone()]);
            }
            v.extend(["-t".into(), timeout]);
            v
        }
        CheckKind::Command { argv } => {
            let Some((first, args)) = argv.split_first() else {
                return Err(format!("service {} has an empty check command", svc.name));
            };
            let mut v = vec![plugin(intent, first)];
            for a in args {
                v.push(substitute(a, vip, port, address)?);
            }
            v
        }
    };
    Ok(argv)
}

#[derive(Serialize)]
struct Daemon {
    header: String,
    ipv4: bool,
    ipv6: bool,
    bird_conf: &'static str,
    bird6_conf: &'static str,
    bird_variable: &'static str,
    bird6_variable: &'static str,
    reconfigure_cmd: &'static str,
    dummy4: String,
    dummy6: String,
}

#[derive(Serialize)]
struct Check {
    section: String,
    service: String,
    vip: String,
    prefix: String,
    argv: Vec<String>,
    interval: String,
    timeout: String,
    rise: u8,
    fall: u8,
    disabled: bool,
}

#[derive(Serialize)]
struct ServiceFile {
    header: String,
    checks: Vec<Check>,
}

#[derive(Serialize)]
struct Prefixes {
    header: String,
    variable: &'static str,
    dummy: String,
}

/// Files this host gets from this target (see the module docs).
pub fn render(cx: &Context<'_>, host: &HostPlan) -> Result<Vec<RenderedFile>, RenderError> {
    if !runs_on(host) {
        return Ok(Vec::new());
    }
    let err = |message: String| RenderError {
        target: Target::Healthchecker,
        host: host.name.clone(),
        message,
    };
    let (dummy4, dummy6) = cx.dummy_prefixes().map_err(err)?;
    let (ipv4, ipv6) = families(host);
    let mut by_service: BTreeMap<&str, Vec<&Announcement>> = BTreeMap::new();
    for a in &host.announcements {
        by_service.entry(a.service.as_str()).or_default().push(a);
    }
    let services: Vec<String> = by_service.keys().map(|s| (*s).to_owned()).collect();
    let file = |path: String, contents: String, services: Vec<String>| RenderedFile {
        host: host.name.clone(),
        path,
        target: Target::Healthchecker,
        contents,
        services,
        origins: Vec::new(),
    };
    let mut files = Vec::new();

    let daemon = Daemon {
        header: cx.header("#", &host.name, &services),
        ipv4,
        ipv6,
        bird_conf: BIRD_CONF4,
        bird6_conf: BIRD_CONF6,
        bird_variable: BIRD_VARIABLE4,
        bird6_variable: BIRD_VARIABLE6,
        reconfigure_cmd: RECONFIGURE_CMD,
        dummy4: dummy4.to_string(),
        dummy6: dummy6.to_string(),
    };
    let contents = cx.render_shared(Target::Healthchecker, &host.name, MAIN_TEMPLATE, &daemon)?;
    files.push(file(MAIN_CONF.to_owned(), contents, services.clone()));

    let own = cx.host(host);
    for (name, announcements) in &by_service {
        let Some(svc) = cx.intent.services.get(*name) else {
            return Err(err(format!("announced service {name} is not defined")));
        };
        let mut checks = Vec::new();
        for a in announcements {
            let address = own.and_then(|h| h.address_for(a.vip));
            let argv = check_argv(cx.intent, svc, a.vip, address).map_err(err)?;
            checks.push(Check {
                section: format!("{}-{}", svc.name, a.vip),
                service: svc.name.clone(),
                vip: a.vip.to_string(),
                prefix: a.prefix.to_string(),
                argv,
                interval: seconds(svc.check.interval_ms),
                timeout: seconds(svc.check.timeout_ms),
                rise: svc.check.rise,
                fall: svc.check.fall,
                disabled: a.withdrawn,
            });
        }
        let one = vec![(*name).to_owned()];
        let ctx = ServiceFile {
            header: cx.header("#", &host.name, &one),
            checks,
        };
        let contents =
            cx.render_shared(Target::Healthchecker, &host.name, SERVICE_TEMPLATE, &ctx)?;
        files.push(file(format!("{SERVICE_DIR}/{name}.conf"), contents, one));
    }

    if by_service.is_empty() {
        // The daemon refuses to start without its service folder; a deployment makes folders
        // only for files. The name starts with a digit, so it is never a service's file.
        let contents = format!(
            "{}\n# No VIP is announced from this host: no service checks. This file keeps the folder.\n",
            cx.header("#", &host.name, &[])
        );
        files.push(file(
            format!("{SERVICE_DIR}/{EMPTY_SERVICE_FILE}"),
            contents,
            Vec::new(),
        ));
    }

    for (on, path, variable, dummy) in [
        (ipv4, BIRD_CONF4, BIRD_VARIABLE4, dummy4),
        (ipv6, BIRD_CONF6, BIRD_VARIABLE6, dummy6),
    ] {
        if !on {
            continue;
        }
        let ctx = Prefixes {
            header: cx.header("#", &host.name, &[]),
            variable,
            dummy: dummy.to_string(),
        };
        let contents =
            cx.render_shared(Target::Healthchecker, &host.name, PREFIXES_TEMPLATE, &ctx)?;
        files.push(file(path.to_owned(), contents, Vec::new()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_shlex_quote() {
        assert_eq!(shell_quote("check_http"), "check_http");
        assert_eq!(
            shell_quote("/usr/lib/x-y_z.1:2,3@4+5=6%7"),
            "/usr/lib/x-y_z.1:2,3@4+5=6%7"
        );
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shell_quote("$x;#\\"), "'$x;#\\'");
        assert_eq!(shell_quote("é"), "'é'");
    }

    #[test]
    fn ini_doubles_percent_and_refuses_breaks() {
        assert_eq!(ini_value("100%").as_deref(), Ok("100%%"));
        assert_eq!(ini_value("%(x)s").as_deref(), Ok("%%(x)s"));
        assert!(ini_value("a\nb").is_err());
        assert!(ini_value("a\u{2028}b").is_err());
        assert!(ini_value(" a").is_err());
        assert_eq!(
            check_cmd(&["/p/c".into(), "50%".into(), "a b".into()]).as_deref(),
            Ok("/p/c 50%% 'a b'")
        );
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(2000), "2");
        assert_eq!(seconds(500), "0.5");
        assert_eq!(seconds(1250), "1.25");
        assert_eq!(seconds(1001), "1.001");
    }

    #[test]
    fn placeholders_substitute_once() {
        let vip: IpAddr = "192.0.2.1"
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let me: IpAddr = "198.18.0.1"
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(
            substitute("{vip}:{port}/{address}", vip, Some(53), Some(me)).as_deref(),
            Ok("192.0.2.1:53/198.18.0.1")
        );
        assert_eq!(
            substitute("{{vip}}{", vip, None, None).as_deref(),
            Ok("{192.0.2.1}{")
        );
        assert_eq!(
            substitute("{other}", vip, None, None).as_deref(),
            Ok("{other}")
        );
        assert!(substitute("{port}", vip, None, None).is_err());
    }
}
