//! Operations: drains that would take a service down, monitoring coverage, BGP topology,
//! backend port clashes.

use std::collections::BTreeMap;

use super::Locator;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::unknown::Unknowns;
use crate::model::{Host, Intent, Mode, Role};
use crate::plan::{Announcers, monitors, route_reflectors};

pub(super) fn check(
    intent: &Intent,
    announcing: &Announcers<'_>,
    unknown: &Unknowns,
    at: &Locator<'_>,
    diags: &mut Diagnostics,
) {
    let monitoring_hosts = monitors(intent);
    let has_monitor = !monitoring_hosts.is_empty();
    // Whether some host's roles (or drain) are unknown, or hosts may be missing.
    let roles_unknown = unknown.any_host_field("roles");
    let mut clashes: BTreeMap<(&str, u16), &str> = BTreeMap::new();
    for svc in intent.services.values() {
        let name = svc.name.as_str();
        let known = |fields: &[&str]| !unknown.service_fields(name, fields);
        if let Some(h) = svc.haproxy.as_ref().filter(|_| known(&["backends"])) {
            let serving = h
                .backends
                .iter()
                .filter(|b| !b.drain && !intent.hosts.get(&b.host).is_some_and(|x| x.drain))
                .count();
            if !h.backends.is_empty() && serving == 0 {
                diags.push(
                    Diagnostic::new(
                        Code::AllDrained,
                        at.service_field(name, "backends"),
                        format!("every backend of `{name}` is drained"),
                    )
                    .help("undrain one backend first, or disable the service deliberately"),
                );
            }
            // Two L4 services cannot share a port on one backend; http vhosts can.
            let ports_known = known(&["ports", "backend_port", "mode"]);
            for b in h.backends.iter().filter(|_| ports_known) {
                for p in svc.ports.iter() {
                    let port = b.port.or(h.backend_port).unwrap_or(p.port);
                    let key = (b.host.as_str(), port);
                    match clashes.get(&key) {
                        Some(other) if *other != name && !(h.mode == Mode::Http && both_http(intent, other)) => diags.push(
                            Diagnostic::new(
                                Code::PortClash,
                                at.service_item(name, "backends", |t| t == b.host),
                                format!("`{name}` and `{other}` both use port {port} on backend `{}`", b.host),
                            )
                            .help("set `backend_port` (or a backend's `port`) so that each L4 service has its own"),
                        ),
                        Some(_) => {}
                        None => {
                            clashes.insert(key, name);
                        }
                    }
                }
            }
        }
        let announcers = announcing.of(svc);
        let drained_here = svc
            .anycast
            .as_ref()
            .map(|a| a.drained.clone())
            .unwrap_or_default();
        let announcers_known = known(&["group", "nodes", "drain"])
            && !announcers
                .iter()
                .any(|h| unknown.host_field(&h.name, "drain"));
        if !announcers.is_empty()
            && announcers_known
            && announcers
                .iter()
                .all(|h| h.drain || drained_here.contains(&h.name))
        {
            let what = if svc.anycast.is_some() {
                "node"
            } else {
                "balancer"
            };
            diags.push(
                Diagnostic::new(
                    Code::AllDrained,
                    at.service(name),
                    format!("every {what} announcing `{name}` is drained: its VIPs would vanish"),
                )
                .help(format!("undrain one {what} first")),
            );
        }
        if !svc.monitoring.enabled {
            diags.push(
                Diagnostic::new(
                    Code::Unmonitored,
                    at.service_path(name, &["monitoring", "enabled"]),
                    format!("service `{name}` is not monitored"),
                )
                .help("remove `enabled: false` unless nobody needs to know when it fails"),
            );
        } else if !has_monitor && !roles_unknown {
            diags.push(
                Diagnostic::new(
                    Code::Unmonitored,
                    at.service(name),
                    format!("service `{name}` is not monitored: no host has the role monitoring"),
                )
                .help("add a host with `roles: [monitoring]`"),
            );
        } else if has_monitor
            && !roles_unknown
            && !unknown.any_host_field("ipv4")
            && !unknown.any_host_field("ipv6")
            && let Some(vip) = svc.vips.iter().find(|vip| {
                monitoring_hosts.iter().all(|m| m.address_for(**vip).is_none())
                // A VIP its announcers cannot carry is already an error (SI034).
                && announcers.iter().all(|h| h.address_for(**vip).is_some())
            })
        {
            // Icinga2 checks a VIP only from a monitoring host of its family.
            let family = if vip.is_ipv4() { "IPv4" } else { "IPv6" };
            diags.push(
                Diagnostic::new(
                    Code::Unmonitored,
                    at.service_field(name, "vips"),
                    format!(
                        "the {family} VIPs of `{name}` are not monitored: no monitoring host has an {family} address"
                    ),
                )
                .help(format!("give a monitoring host an {family} address")),
            );
        }
    }
    let speakers: Vec<&str> = intent
        .hosts
        .values()
        .filter(|h| h.has(Role::Balancer) || h.has(Role::AnycastNode))
        .map(|h| h.name.as_str())
        .collect();
    if route_reflectors(intent).is_empty()
        && !roles_unknown
        && let Some(first) = speakers.first()
    {
        diags.push(
            Diagnostic::new(
                Code::NoRouteReflector,
                at.host(first),
                format!("`{first}` announces VIPs over BGP but the site has no route reflector"),
            )
            .help("add a host with `roles: [route-reflector]`"),
        );
    }
    if !roles_unknown {
        monitoring_zone(intent, unknown, at, diags);
    }
    // Whether a drained host serves something is unknown when some service, or who serves it,
    // is.
    let served_unknown = unknown.any_service_unknown()
        || ["backends", "nodes", "group"]
            .iter()
            .any(|f| unknown.any_service_field(f))
        || roles_unknown;
    for host in intent.hosts.values().filter(|h| h.drain && !served_unknown) {
        let serves = intent.services.values().any(|s| {
            announcing.of(s).iter().any(|a| a.name == host.name)
                || s.haproxy
                    .as_ref()
                    .is_some_and(|h| h.backends.iter().any(|b| b.host == host.name))
        });
        if !serves {
            diags.push(Diagnostic::new(
                Code::IdleDrain,
                at.host_value(&host.name, "drain"),
                format!("`{}` is drained but serves no service", host.name),
            ));
        }
    }
}

/// The monitoring hosts form one Icinga2 zone (`render::icinga2`): at most two endpoints
/// (Icinga2 2.13 warns that more are "strongly discouraged"), which connect to each other over
/// an address family both have, and which load the same checks, so that a family only one of
/// them has is checked by neither.
fn monitoring_zone(intent: &Intent, unknown: &Unknowns, at: &Locator<'_>, diags: &mut Diagnostics) {
    let zone = monitors(intent);
    if let (Some(first), Some(third)) = (zone.first(), zone.get(2)) {
        diags.push(
            Diagnostic::new(
                Code::MonitoringZone,
                at.host(&third.name),
                format!(
                    "`{}` is a monitoring host beyond two: the site has {}, and Icinga2 runs at most two endpoints in its zone",
                    third.name,
                    zone.len()
                ),
            )
            .with_secondary(at.host(&first.name), "first monitoring host")
            .help("keep two monitoring hosts (an HA pair that shares every check and notification); give the others other roles"),
        );
        return;
    }
    let [a, b] = zone.as_slice() else {
        return;
    };
    let addresses_unknown = [a, b]
        .iter()
        .any(|h| unknown.host_field(&h.name, "ipv4") || unknown.host_field(&h.name, "ipv6"));
    if addresses_unknown {
        return;
    }
    let (v4, v6) = (
        a.ipv4.is_some() && b.ipv4.is_some(),
        a.ipv6.is_some() && b.ipv6.is_some(),
    );
    if !v4 && !v6 {
        diags.push(
            Diagnostic::new(
                Code::MonitoringZone,
                at.host(&b.name),
                format!(
                    "monitoring hosts `{}` and `{}` share no address family: their Icinga2 endpoints cannot connect",
                    a.name, b.name
                ),
            )
            .with_secondary(at.host(&a.name), "the other monitoring host")
            .help("give both an IPv4 address, or both an IPv6 address"),
        );
        return;
    }
    for (family, key) in [("IPv4", "ipv4"), ("IPv6", "ipv6")] {
        let has = |h: &Host| {
            if key == "ipv4" {
                h.ipv4.is_some()
            } else {
                h.ipv6.is_some()
            }
        };
        let (with, without) = match (has(a), has(b)) {
            (true, false) => (a, b),
            (false, true) => (b, a),
            _ => continue,
        };
        diags.push(
            Diagnostic::new(
                Code::MonitoringFamilyGap,
                at.host(&without.name),
                format!(
                    "monitoring host `{}` has no {family} address, so the monitoring zone checks nothing over {family}: `{}` could, but both endpoints load the same checks",
                    without.name, with.name
                ),
            )
            .with_secondary(at.host_value(&with.name, key), format!("`{}`'s {family} address", with.name))
            .help(format!("give `{}` an {family} address", without.name)),
        );
    }
}

fn both_http(intent: &Intent, other: &str) -> bool {
    intent
        .services
        .get(other)
        .and_then(|s| s.haproxy.as_ref())
        .is_some_and(|h| h.mode == Mode::Http)
}
