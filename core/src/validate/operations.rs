//! Operations: drains that would take a service down, monitoring coverage, BGP topology,
//! backend port clashes.

use std::collections::BTreeMap;

use super::Locator;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::unknown::Unknowns;
use crate::model::{Intent, Mode, Role};
use crate::plan::{Announcers, monitors, route_reflectors};

pub(super) fn check(
    intent: &Intent,
    announcing: &Announcers<'_>,
    unknown: &Unknowns,
    at: &Locator<'_>,
    diags: &mut Diagnostics,
) {
    let has_monitor = !monitors(intent).is_empty();
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

fn both_http(intent: &Intent, other: &str) -> bool {
    intent
        .services
        .get(other)
        .and_then(|s| s.haproxy.as_ref())
        .is_some_and(|h| h.mode == Mode::Http)
}
