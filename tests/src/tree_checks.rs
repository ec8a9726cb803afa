//! Cross-daemon consistency of any rendered tree, read back from the files themselves and held
//! against the intent: for every service and every host that announces it (the balancers of its
//! group, or its nodes), each VIP is
//!
//! - **bound**: on the host's loopback (systemd-networkd), and on a balancer in a HAProxy
//!   frontend `bind` for each tcp port;
//! - **announced**: an anycast-healthchecker section, disabled exactly when the host or (anycast)
//!   the service drains it;
//! - **exported**: in the host's BIRD config unless drained;
//! - **allowed**: an nftables element `VIP . proto . port` for each port;
//! - **filtered in**: in the import filter of the host's session on every route reflector of
//!   the VIP's family;
//! - **monitored**: an Icinga2 service for the VIP and for each of its tcp ports on every
//!   monitoring host of the VIP's family, unless the service turns monitoring off (a udp port
//!   has no check Icinga2 could run on it; the VIP's ping covers it);
//!
//! and nothing is bound or announced on a host that the intent does not give it. The campus
//! example's own checks (`tests/tests/consistency.rs`) are the same ones with its names written
//! in, reading the files with this module's readers; this module derives everything from the
//! intent, for generated sites.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use svcintent_core::model::{Balancing, Intent, Proto, Role, Service};

fn read(root: &Path, host: &str, path: &str) -> Option<String> {
    std::fs::read_to_string(root.join(host).join(path.trim_start_matches('/'))).ok()
}

pub fn prefix_of(ip: IpAddr) -> String {
    if ip.is_ipv4() {
        format!("{ip}/32")
    } else {
        format!("{ip}/128")
    }
}

/// `(prefix, disabled)` of every anycast-healthchecker section on a host.
pub fn announced(root: &Path, host: &str) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(root.join(host).join("etc/anycast-healthchecker.d")) else {
        return out;
    };
    for e in entries.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let mut prefix: Option<String> = None;
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("ip_prefix = ") {
                prefix = Some(p.trim().to_owned());
            }
            if let (Some(p), Some(d)) = (&prefix, line.strip_prefix("check_disabled = ")) {
                out.insert(p.clone(), d.trim() == "true");
                prefix = None;
            }
        }
    }
    out
}

/// `bind ADDR:PORT` of the service frontends of a haproxy.cfg.
pub fn haproxy_binds(cfg: &str) -> BTreeSet<(IpAddr, u16)> {
    let mut out = BTreeSet::new();
    let mut in_frontend = false;
    for line in cfg.lines() {
        if !line.starts_with(char::is_whitespace) && !line.is_empty() {
            in_frontend = line.starts_with("frontend ") && line != "frontend svcintent_health";
            continue;
        }
        let Some(rest) = line.trim().strip_prefix("bind ") else {
            continue;
        };
        if !in_frontend {
            continue;
        }
        let addr = rest.split_whitespace().next().unwrap_or_default();
        let Some((host, port)) = addr.rsplit_once(':') else {
            continue;
        };
        if let (Ok(ip), Ok(port)) = (
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>(),
            port.parse::<u16>(),
        ) {
            out.insert((ip, port));
        }
    }
    out
}

/// `Address=` lines of the loopback network file.
fn loopback(root: &Path, host: &str) -> BTreeSet<String> {
    read(root, host, "/etc/systemd/network/50-svcintent-vips.network")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Address="))
        .map(str::to_owned)
        .collect()
}

/// The body of BIRD protocol `name`.
pub fn bird_protocol<'a>(conf: &'a str, name: &str) -> Option<&'a str> {
    let start = conf.find(&format!("protocol bgp {name} {{"))?;
    let body = conf.get(start..)?;
    let end = body.find("\n}\n").map_or(body.len(), |i| i + 3);
    body.get(..end)
}

pub fn icinga_monitors(services: &str, vip: IpAddr, port: u16) -> bool {
    services.split("object Service ").any(|block| {
        block.contains(&format!("vars.svcintent_vip = \"{vip}\""))
            && block.contains(&format!("vars.svcintent_port = {port}\n"))
    })
}

/// The hosts that announce `svc`.
fn announcers<'a>(intent: &'a Intent, svc: &'a Service) -> Vec<&'a str> {
    match (&svc.balancing, &svc.haproxy, &svc.anycast) {
        (Balancing::Haproxy, Some(h), _) => intent
            .hosts
            .values()
            .filter(|host| host.roles.contains(&Role::Balancer) && host.group == h.group)
            .map(|host| host.name.as_str())
            .collect(),
        (Balancing::Anycast, _, Some(a)) => a.nodes.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Every violation of the consistency rules in the tree at `root` rendered from `intent`
/// (empty: consistent).
pub fn violations(intent: &Intent, root: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let reflectors: Vec<(&str, bool, bool, String)> = intent
        .hosts
        .values()
        .filter(|h| h.roles.contains(&Role::RouteReflector))
        .map(|h| {
            (
                h.name.as_str(),
                h.ipv4.is_some(),
                h.ipv6.is_some(),
                read(root, &h.name, "/etc/bird/bird.conf").unwrap_or_default(),
            )
        })
        .collect();
    let monitors: Vec<(&str, bool, bool, String)> = intent
        .hosts
        .values()
        .filter(|h| h.roles.contains(&Role::Monitoring))
        .map(|h| {
            (
                h.name.as_str(),
                h.ipv4.is_some(),
                h.ipv6.is_some(),
                read(root, &h.name, "/etc/icinga2/conf.d/svcintent/services.conf")
                    .unwrap_or_default(),
            )
        })
        .collect();
    // What each announcing host should bind and announce: prefix -> drained.
    let mut expected: BTreeMap<&str, BTreeMap<String, bool>> = BTreeMap::new();
    let mut expected_binds: BTreeMap<&str, BTreeSet<(IpAddr, u16)>> = BTreeMap::new();
    for svc in intent.services.values() {
        for host in announcers(intent, svc) {
            let Some(h) = intent.hosts.get(host) else {
                bad.push(format!("{}: announcer {host} is not a host", svc.name));
                continue;
            };
            let drained = h.drain
                || svc
                    .anycast
                    .as_ref()
                    .is_some_and(|a| a.drained.iter().any(|d| d == host));
            let haproxy_cfg = read(root, host, "/etc/haproxy/haproxy.cfg");
            let binds = haproxy_cfg
                .as_deref()
                .map(haproxy_binds)
                .unwrap_or_default();
            let on_loopback = loopback(root, host);
            let ann = announced(root, host);
            let bird = read(root, host, "/etc/bird/bird.conf").unwrap_or_default();
            let nft = read(root, host, "/etc/nftables.conf").unwrap_or_default();
            for vip in &svc.vips {
                let prefix = prefix_of(*vip);
                expected
                    .entry(host)
                    .or_default()
                    .insert(prefix.clone(), drained);
                let name = &svc.name;
                if !on_loopback.contains(&prefix) {
                    bad.push(format!("{host}: {name} {prefix} not on the loopback"));
                }
                match ann.get(&prefix) {
                    None => bad.push(format!("{host}: {name} {prefix} not announced")),
                    Some(d) if *d != drained => bad.push(format!(
                        "{host}: {name} {prefix} check_disabled = {d}, drained = {drained}"
                    )),
                    Some(_) => {}
                }
                if !drained && !bird.contains(&prefix) {
                    bad.push(format!("{host}: {name} {prefix} not exported by BIRD"));
                }
                let fam = if vip.is_ipv4() { "v4" } else { "v6" };
                for (rr, v4, v6, conf) in &reflectors {
                    if (vip.is_ipv4() && !v4) || (vip.is_ipv6() && !v6) {
                        continue;
                    }
                    let session = format!("cl_{}_{fam}", host.replace('-', "_"));
                    match bird_protocol(conf, &session) {
                        None => bad.push(format!("{rr}: no session {session} for {name}")),
                        Some(p) if !p.contains(&prefix) => bad.push(format!(
                            "{rr}: the filter of {session} does not accept {prefix} ({name})"
                        )),
                        Some(_) => {}
                    }
                }
                // A monitoring host checks the VIPs of its own families.
                let watchers = monitors
                    .iter()
                    .filter(|(_, v4, v6, _)| if vip.is_ipv4() { *v4 } else { *v6 })
                    .map(|(mon, _, _, services)| (mon, services));
                if svc.monitoring.enabled {
                    for (mon, services) in watchers.clone() {
                        if !services.contains(&format!("vars.svcintent_vip = \"{vip}\"")) {
                            bad.push(format!("{mon}: Icinga2 does not monitor {vip} ({name})"));
                        }
                    }
                }
                for port in &svc.ports {
                    let proto = port.proto.as_str();
                    if !nft.contains(&format!("{vip} . {proto} . {}", port.port)) {
                        bad.push(format!(
                            "{host}: nftables does not allow {vip} {proto} {} ({name})",
                            port.port
                        ));
                    }
                    if svc.balancing == Balancing::Haproxy {
                        expected_binds
                            .entry(host)
                            .or_default()
                            .insert((*vip, port.port));
                        if !binds.contains(&(*vip, port.port)) {
                            bad.push(format!(
                                "{host}: HAProxy does not bind {vip}:{} ({name})",
                                port.port
                            ));
                        }
                    }
                    // Icinga2 checks every tcp port (a udp port has no check it could run:
                    // its VIP's ping covers it, below).
                    if svc.monitoring.enabled && port.proto == Proto::Tcp {
                        for (mon, services) in watchers.clone() {
                            if !icinga_monitors(services, *vip, port.port) {
                                bad.push(format!(
                                    "{mon}: Icinga2 does not monitor {vip}:{} ({name})",
                                    port.port
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    // Nothing else is announced or bound.
    for h in intent.hosts.values() {
        let host = h.name.as_str();
        let none = BTreeMap::new();
        let want = expected.get(host).unwrap_or(&none);
        for prefix in announced(root, host).keys() {
            if !want.contains_key(prefix) {
                bad.push(format!(
                    "{host}: announces {prefix}, which it does not serve"
                ));
            }
        }
        for prefix in loopback(root, host) {
            if !want.contains_key(&prefix) {
                bad.push(format!("{host}: {prefix} on the loopback, not served here"));
            }
        }
        if let Some(cfg) = read(root, host, "/etc/haproxy/haproxy.cfg") {
            let none = BTreeSet::new();
            let want = expected_binds.get(host).unwrap_or(&none);
            for (ip, port) in haproxy_binds(&cfg) {
                if !want.contains(&(ip, port)) {
                    bad.push(format!(
                        "{host}: HAProxy binds {ip}:{port}, not served here"
                    ));
                }
            }
        }
    }
    bad
}
