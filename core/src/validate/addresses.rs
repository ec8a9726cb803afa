//! Addresses: VIPs inside the site's prefixes, not host addresses, not shared by two services
//! on one port; address families every serving host can carry; unique host addresses and
//! router ids.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::Locator;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Intent, Port};
use crate::plan::{Announcers, route_reflectors};

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

pub(super) fn check(
    intent: &Intent,
    announcing: &Announcers<'_>,
    at: &Locator<'_>,
    diags: &mut Diagnostics,
) {
    // Host addresses and router ids are unique.
    let mut seen: BTreeMap<IpAddr, (&str, &str)> = BTreeMap::new();
    for host in intent.hosts.values() {
        for (key, addr) in [
            ("ipv4", host.ipv4.map(IpAddr::V4)),
            ("ipv6", host.ipv6.map(IpAddr::V6)),
        ] {
            let Some(addr) = addr else { continue };
            if let Some((other, other_key)) = seen.get(&addr) {
                diags.push(
                    Diagnostic::new(
                        Code::DuplicateHostAddress,
                        at.host_value(&host.name, key),
                        format!("{addr} is also the address of `{other}`"),
                    )
                    .with_secondary(at.host_value(other, other_key), "first used here"),
                );
            } else {
                seen.insert(addr, (host.name.as_str(), key));
            }
        }
    }
    let mut ids: BTreeMap<std::net::Ipv4Addr, &str> = BTreeMap::new();
    for host in intent.hosts.values().filter(|h| h.speaks_bgp()) {
        let Some(id) = host.router_id else { continue };
        if let Some(other) = ids.get(&id) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateHostAddress,
                    at.host_value(&host.name, "router_id"),
                    format!("router id {id} is also used by `{other}`"),
                )
                .help("BGP router ids must be unique among the site's speakers"),
            );
        } else {
            ids.insert(id, &host.name);
        }
    }

    let reflectors = route_reflectors(intent);
    let mut listeners: std::collections::BTreeSet<(IpAddr, Port)> =
        std::collections::BTreeSet::new();
    let mut owners: BTreeMap<IpAddr, &str> = BTreeMap::new();
    for svc in intent.services.values() {
        if svc.vips.is_empty() && at.service_field(&svc.name, "vips") != at.service(&svc.name) {
            diags.push(Diagnostic::new(
                Code::MissingField,
                at.service_field(&svc.name, "vips"),
                format!("service `{}` lists no VIPs", svc.name),
            ));
        }
        if svc.ports.is_empty() && at.service_field(&svc.name, "ports") != at.service(&svc.name) {
            diags.push(Diagnostic::new(
                Code::MissingField,
                at.service_field(&svc.name, "ports"),
                format!("service `{}` lists no ports", svc.name),
            ));
        }
        let announcers = announcing.of(svc);
        for vip in &svc.vips {
            // Located only for a diagnostic: finding it means searching the service's tree.
            let vip_span = || {
                at.service_item(&svc.name, "vips", |t| {
                    t.parse::<IpAddr>().ok() == Some(*vip)
                })
            };
            if !intent.site.anycast_prefixes.iter().any(|p| p.contains(vip)) {
                diags.push(
                    Diagnostic::new(Code::VipOutsidePrefixes, vip_span(), format!("VIP {vip} is outside the site's anycast prefixes"))
                        .with_secondary(at.site_field(&["anycast_prefixes"]), "the allowed prefixes")
                        .help("route reflectors accept only these prefixes; pick a VIP inside one, or add its prefix"),
                );
            }
            if let Some((owner, key)) = seen.get(vip) {
                diags.push(
                    Diagnostic::new(
                        Code::VipIsHostAddress,
                        vip_span(),
                        format!("VIP {vip} is the address of host `{owner}`"),
                    )
                    .with_secondary(at.host_value(owner, key), "host address"),
                );
            }
            // A VIP is announced on the health of one service, so it belongs to one service.
            if let Some(other) = owners.get(vip).filter(|o| **o != svc.name) {
                let clash = svc.ports.iter().find(|p| listeners.contains(&(*vip, **p)));
                let message = match clash {
                    Some(p) => format!(
                        "{vip} {}/{} is used by `{other}` and `{}`",
                        p.port,
                        p.proto.as_str(),
                        svc.name
                    ),
                    None => format!("{vip} is used by `{other}` and `{}`", svc.name),
                };
                diags.push(
                    Diagnostic::new(Code::VipPortConflict, vip_span(), message)
                        .with_secondary(at.service_item(other, "vips", |t| t.parse::<IpAddr>().ok() == Some(*vip)), "also here")
                        .help("each VIP is announced on the health of one service: give each service its own VIP"),
                );
            } else {
                owners.insert(*vip, &svc.name);
            }
            for port in &svc.ports {
                listeners.insert((*vip, *port));
            }
            // Every announcer must have an address of the VIP's family to carry the route.
            for host in &announcers {
                if host.address_for(*vip).is_none() {
                    diags.push(
                        Diagnostic::new(
                            Code::FamilyMismatch,
                            vip_span(),
                            format!(
                                "{} VIP {vip} cannot be announced by `{}`, which has no {} address",
                                family(*vip),
                                host.name,
                                family(*vip)
                            ),
                        )
                        .with_secondary(at.host(&host.name), "host defined here")
                        .help(format!(
                            "give `{}` an {} address, or drop the VIP",
                            host.name,
                            family(*vip)
                        )),
                    );
                }
            }
            if !reflectors.is_empty() && !reflectors.iter().any(|rr| rr.address_for(*vip).is_some())
            {
                diags.push(
                    Diagnostic::new(
                        Code::FamilyMismatch,
                        vip_span(),
                        format!(
                            "no route reflector has an {} address to carry {vip}",
                            family(*vip)
                        ),
                    )
                    .help("give the route reflectors addresses of both families"),
                );
            }
        }
        // `allow` restricted to one family would leave the other family's VIPs closed.
        if !svc.allow.is_empty() {
            for v6 in [false, true] {
                let has_vip = svc.vips.iter().any(|v| v.is_ipv6() == v6);
                let has_source = svc.allow.iter().any(|n| n.addr().is_ipv6() == v6);
                if has_vip && !has_source {
                    let fam = if v6 { "IPv6" } else { "IPv4" };
                    diags.push(
                        Diagnostic::new(
                            Code::FamilyMismatch,
                            at.service_field(&svc.name, "allow"),
                            format!("`allow` lists no {fam} source, so the {fam} VIPs of `{}` are reachable from nowhere", svc.name),
                        )
                        .severity(crate::Severity::Warning)
                        .help(format!("add the {fam} sources (`::/0` or `0.0.0.0/0` for anywhere), or drop the {fam} VIPs")),
                    );
                }
            }
        }
        // Balancers reach every backend over a shared family.
        if let Some(h) = &svc.haproxy {
            let balancers = announcing.balancers(svc);
            for b in &h.backends {
                let Some(backend) = intent.hosts.get(&b.host) else {
                    continue;
                };
                for lb in balancers {
                    let shared = (lb.ipv4.is_some() && backend.ipv4.is_some())
                        || (lb.ipv6.is_some() && backend.ipv6.is_some());
                    if !shared {
                        diags.push(
                            Diagnostic::new(
                                Code::FamilyMismatch,
                                at.service_item(&svc.name, "backends", |t| t == b.host),
                                format!(
                                    "balancer `{}` and backend `{}` share no address family",
                                    lb.name, b.host
                                ),
                            )
                            .help("give both an address of the same family"),
                        );
                    }
                }
            }
        }
    }

    let mut upstream_names = std::collections::BTreeSet::new();
    for up in &intent.site.bgp.upstreams {
        if !upstream_names.insert(up.name.as_str()) {
            diags.push(Diagnostic::new(
                Code::DuplicateDefinition,
                at.site_field(&["bgp", "upstreams"]),
                format!("upstream `{}` is defined twice", up.name),
            ));
        }
    }
    // Upstreams must be reachable from a route reflector.
    for up in &intent.site.bgp.upstreams {
        if !reflectors.is_empty()
            && !reflectors
                .iter()
                .any(|rr| rr.address_for(up.address).is_some())
        {
            diags.push(Diagnostic::new(
                Code::FamilyMismatch,
                at.site_field(&["bgp", "upstreams"]),
                format!(
                    "no route reflector has an {} address to peer with upstream `{}`",
                    family(up.address),
                    up.name
                ),
            ));
        }
    }
}
