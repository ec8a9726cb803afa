//! Addresses: VIPs inside the site's prefixes, not host addresses, not shared by two services
//! on one port; address families every serving host can carry; unique host addresses and
//! router ids.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::Locator;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Intent, Port, Role};
use crate::plan::{announcers_of, balancers_of, route_reflectors};

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

pub(super) fn check(intent: &Intent, at: &Locator<'_>, diags: &mut Diagnostics) {
    // Host addresses and router ids are unique.
    let mut seen: BTreeMap<IpAddr, (&str, &str)> = BTreeMap::new();
    for host in intent.hosts.values() {
        for (key, addr) in [("ipv4", host.ipv4.map(IpAddr::V4)), ("ipv6", host.ipv6.map(IpAddr::V6))] {
            let Some(addr) = addr else { continue };
            if let Some((other, other_key)) = seen.get(&addr) {
                diags.push(
                    Diagnostic::new(Code::DuplicateHostAddress, at.host_value(&host.name, key), format!("{addr} is also the address of `{other}`"))
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
                Diagnostic::new(Code::DuplicateHostAddress, at.host_value(&host.name, "router_id"), format!("router id {id} is also used by `{other}`"))
                    .help("BGP router ids must be unique among the site's speakers"),
            );
        } else {
            ids.insert(id, &host.name);
        }
    }

    let mut listeners: BTreeMap<(IpAddr, Port), &str> = BTreeMap::new();
    for svc in intent.services.values() {
        if svc.vips.is_empty() && at.service_field(&svc.name, "vips") != at.service(&svc.name) {
            diags.push(Diagnostic::new(Code::MissingField, at.service_field(&svc.name, "vips"), format!("service `{}` lists no VIPs", svc.name)));
        }
        if svc.ports.is_empty() && at.service_field(&svc.name, "ports") != at.service(&svc.name) {
            diags.push(Diagnostic::new(Code::MissingField, at.service_field(&svc.name, "ports"), format!("service `{}` lists no ports", svc.name)));
        }
        let announcers = announcers_of(intent, svc);
        for vip in &svc.vips {
            let vip_span = at.service_item(&svc.name, "vips", |t| t.parse::<IpAddr>().ok() == Some(*vip));
            if !intent.site.anycast_prefixes.iter().any(|p| p.contains(vip)) {
                diags.push(
                    Diagnostic::new(Code::VipOutsidePrefixes, vip_span, format!("VIP {vip} is outside the site's anycast prefixes"))
                        .with_secondary(at.site_field(&["anycast_prefixes"]), "the allowed prefixes")
                        .help("route reflectors accept only these prefixes; pick a VIP inside one, or add its prefix"),
                );
            }
            if let Some((owner, key)) = seen.get(vip) {
                diags.push(
                    Diagnostic::new(Code::VipIsHostAddress, vip_span, format!("VIP {vip} is the address of host `{owner}`"))
                        .with_secondary(at.host_value(owner, key), "host address"),
                );
            }
            for port in &svc.ports {
                if let Some(other) = listeners.get(&(*vip, *port)) {
                    diags.push(
                        Diagnostic::new(
                            Code::VipPortConflict,
                            vip_span,
                            format!("{vip} {}/{} is used by `{other}` and `{}`", port.port, port.proto.as_str(), svc.name),
                        )
                        .with_secondary(at.service_item(other, "vips", |t| t.parse::<IpAddr>().ok() == Some(*vip)), "also here")
                        .help("each VIP, port and protocol belongs to one service"),
                    );
                } else {
                    listeners.insert((*vip, *port), &svc.name);
                }
            }
            // Every announcer must have an address of the VIP's family to carry the route.
            for host in &announcers {
                if host.address_for(*vip).is_none() {
                    diags.push(
                        Diagnostic::new(
                            Code::FamilyMismatch,
                            vip_span,
                            format!("{} VIP {vip} cannot be announced by `{}`, which has no {} address", family(*vip), host.name, family(*vip)),
                        )
                        .with_secondary(at.host(&host.name), "host defined here")
                        .help(format!("give `{}` an {} address, or drop the VIP", host.name, family(*vip))),
                    );
                }
            }
            if !route_reflectors(intent).is_empty() && !route_reflectors(intent).iter().any(|rr| rr.address_for(*vip).is_some()) {
                diags.push(
                    Diagnostic::new(Code::FamilyMismatch, vip_span, format!("no route reflector has an {} address to carry {vip}", family(*vip)))
                        .help("give the route reflectors addresses of both families"),
                );
            }
        }
        // Balancers reach every backend over a shared family.
        if let Some(h) = &svc.haproxy {
            for b in &h.backends {
                let Some(backend) = intent.hosts.get(&b.host) else { continue };
                for lb in balancers_of(intent, svc) {
                    let shared = (lb.ipv4.is_some() && backend.ipv4.is_some()) || (lb.ipv6.is_some() && backend.ipv6.is_some());
                    if !shared {
                        diags.push(
                            Diagnostic::new(
                                Code::FamilyMismatch,
                                at.service_item(&svc.name, "backends", |t| t == b.host),
                                format!("balancer `{}` and backend `{}` share no address family", lb.name, b.host),
                            )
                            .help("give both an address of the same family"),
                        );
                    }
                }
            }
        }
    }

    // Upstreams must be reachable from a route reflector.
    for up in &intent.site.bgp.upstreams {
        let rrs = route_reflectors(intent);
        if !rrs.is_empty() && !rrs.iter().any(|rr| rr.address_for(up.address).is_some()) {
            diags.push(
                Diagnostic::new(Code::FamilyMismatch, at.site_field(&["bgp", "upstreams"]), format!("no route reflector has an {} address to peer with upstream `{}`", family(up.address), up.name)),
            );
        }
    }
    let _ = Role::Balancer;
}
