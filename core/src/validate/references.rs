//! References between services and hosts: defined, and with a role that fits.

use super::Locator;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::model::unknown::Unknowns;
use crate::model::{Intent, Role};
use crate::plan::Announcers;

fn unknown_host(
    intent: &Intent,
    at: &Locator<'_>,
    service: &str,
    key: &str,
    host: &str,
) -> Diagnostic {
    let d = Diagnostic::new(
        Code::UnknownHost,
        at.service_item(service, key, |t| t == host),
        format!("unknown host `{host}`"),
    );
    match did_you_mean(host, intent.hosts.keys().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help("define it under `hosts:`"),
    }
}

pub(super) fn check(
    intent: &Intent,
    announcing: &Announcers<'_>,
    unknown: &Unknowns,
    at: &Locator<'_>,
    diags: &mut Diagnostics,
) {
    for host in intent.hosts.values() {
        if host.has(Role::RouteReflector)
            && (host.has(Role::Balancer) || host.has(Role::AnycastNode))
        {
            diags.push(
                Diagnostic::new(
                    Code::RoleMismatch,
                    at.host_value(&host.name, "roles"),
                    format!("`{}` cannot be both a route reflector and an announcer", host.name),
                )
                .help("a route reflector's configuration does not announce its own VIPs; use separate hosts"),
            );
        }
    }
    for svc in intent.services.values() {
        let name = svc.name.as_str();
        if let Some(h) = &svc.haproxy {
            if h.backends.is_empty() && !unknown.service_field(name, "backends") {
                diags.push(
                    Diagnostic::new(
                        Code::NoBackends,
                        at.service(&svc.name),
                        format!("service `{}` has no backends", svc.name),
                    )
                    .help("list the hosts that serve it: `backends: [web1, web2]`"),
                );
            }
            for b in &h.backends {
                match intent.hosts.get(&b.host) {
                    None if unknown.host_may_exist(&b.host) => {}
                    None => diags.push(unknown_host(intent, at, &svc.name, "backends", &b.host)),
                    Some(_) if unknown.host_field(&b.host, "roles") => {}
                    Some(host) if !(host.has(Role::Web) || host.has(Role::Backend)) => diags.push(
                        Diagnostic::new(
                            Code::RoleMismatch,
                            at.service_item(&svc.name, "backends", |t| t == b.host),
                            format!(
                                "`{}` is a backend of `{}` but has neither role web nor backend",
                                b.host, svc.name
                            ),
                        )
                        .with_secondary(at.host_value(&b.host, "roles"), "its roles")
                        .help("add `web` or `backend` to its roles"),
                    ),
                    Some(_) => {}
                }
            }
            // Which hosts are balancers of the group is unknown when the group, or some host's
            // roles or group, is.
            let balancers_unknown = unknown.service_field(name, "group")
                || unknown.any_host_field("roles")
                || unknown.any_host_field("group");
            if announcing.balancers(svc).is_empty() && !balancers_unknown {
                let groups: Vec<&str> = announcing.balancer_groups().collect();
                let mut d = Diagnostic::new(
                    Code::NoBalancers,
                    at.service_field(&svc.name, "group"),
                    format!(
                        "no balancer is in group `{}`, so nothing serves `{}`",
                        h.group, svc.name
                    ),
                );
                d = if groups.is_empty() {
                    d.help("add a host with `roles: [balancer]`")
                } else {
                    d.help(format!("balancer groups: {}", groups.join(", ")))
                };
                diags.push(d);
            }
        }
        if let Some(a) = &svc.anycast {
            if a.nodes.is_empty() && !unknown.service_field(name, "nodes") {
                diags.push(
                    Diagnostic::new(
                        Code::NoAnycastNodes,
                        at.service(&svc.name),
                        format!("anycast service `{}` has no nodes", svc.name),
                    )
                    .help("list the hosts that announce it: `nodes: [kdc1, kdc2]`"),
                );
            }
            for n in &a.nodes {
                match intent.hosts.get(n) {
                    None if unknown.host_may_exist(n) => {}
                    None => diags.push(unknown_host(intent, at, &svc.name, "nodes", n)),
                    Some(_) if unknown.host_field(n, "roles") => {}
                    Some(host) if !host.has(Role::AnycastNode) => diags.push(
                        Diagnostic::new(
                            Code::RoleMismatch,
                            at.service_item(&svc.name, "nodes", |t| t == n),
                            format!(
                                "`{n}` announces `{}` but lacks the role anycast-node",
                                svc.name
                            ),
                        )
                        .with_secondary(at.host_value(n, "roles"), "its roles")
                        .help("add `anycast-node` to its roles"),
                    ),
                    Some(_) => {}
                }
            }
        }
        // `drain:` names a host that exists and serves this service.
        let drained = svc
            .anycast
            .as_ref()
            .map(|a| a.drained.clone())
            .unwrap_or_default();
        // As written (the extracted backends carry the drain as a flag); a name that is not an
        // identifier is reported as such (SI016), not as an unknown host.
        let drained_backends: Vec<String> = svc.haproxy.as_ref().map_or_else(Vec::new, |_| {
            let mut listed = at.drain_list(&svc.name);
            listed.retain(|h| super::strings::ident(h).is_ok());
            listed
        });
        for host in drained.iter().chain(drained_backends.iter()) {
            if !intent.hosts.contains_key(host) {
                if !unknown.host_may_exist(host) {
                    diags.push(unknown_host(intent, at, &svc.name, "drain", host));
                }
                continue;
            }
            if unknown.service_fields(name, &["backends", "nodes"]) {
                continue;
            }
            let serves = svc.anycast.as_ref().is_some_and(|a| a.nodes.contains(host))
                || svc
                    .haproxy
                    .as_ref()
                    .is_some_and(|h| h.backends.iter().any(|b| &b.host == host));
            if !serves {
                diags.push(
                    Diagnostic::new(
                        Code::IdleDrain,
                        at.service_item(&svc.name, "drain", |t| t == host),
                        format!(
                            "`{host}` is drained from `{}` but does not serve it",
                            svc.name
                        ),
                    )
                    .help("drain lists backends (haproxy) or nodes (anycast) of this service"),
                );
            }
        }
    }
}
