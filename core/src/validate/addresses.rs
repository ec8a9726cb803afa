//! Addresses: VIPs inside the site's prefixes, not host addresses, not shared by two services
//! on one port; address families every serving host can carry; unique host addresses and
//! router ids.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::Locator;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::unknown::Unknowns;
use crate::model::{AnnounceScope, Intent, Service};
use crate::plan::{Announcers, route_reflectors};
use crate::source::Span;

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

pub(super) fn check(
    intent: &Intent,
    announcing: &Announcers<'_>,
    unknown: &Unknowns,
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
        if unknown.host_field(&host.name, "router_id") {
            continue;
        }
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
    // Whether some route reflector may have an address that the intent does not know.
    let reflectors_unknown = unknown.any_host_field("roles")
        || unknown.any_host_field("ipv4")
        || unknown.any_host_field("ipv6");
    vip_conflicts(intent, at, diags);
    site_scope_unrouted(intent, unknown, at, diags);
    for svc in intent.services.values() {
        let name = svc.name.as_str();
        if svc.vips.is_empty()
            && !unknown.service_field(name, "vips")
            && at.service_field(name, "vips") != at.service(name)
        {
            diags.push(Diagnostic::new(
                Code::MissingField,
                at.service_field(name, "vips"),
                format!("service `{name}` lists no VIPs"),
            ));
        }
        if svc.ports.is_empty()
            && !unknown.service_field(name, "ports")
            && at.service_field(name, "ports") != at.service(name)
        {
            diags.push(Diagnostic::new(
                Code::MissingField,
                at.service_field(name, "ports"),
                format!("service `{name}` lists no ports"),
            ));
        }
        let announcers = announcing.of(svc);
        let announcers_unknown = unknown.service_fields(name, &["group", "nodes"]);
        for vip in &svc.vips {
            // Located only for a diagnostic: finding it means searching the service's tree.
            let vip_span =
                || at.service_item(name, "vips", |t| t.parse::<IpAddr>().ok() == Some(*vip));
            if !unknown.site_field("anycast_prefixes")
                && !intent.site.anycast_prefixes.iter().any(|p| p.contains(vip))
            {
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
            // Every announcer must have an address of the VIP's family to carry the route.
            for host in announcers.iter().filter(|_| !announcers_unknown) {
                let field = if vip.is_ipv4() { "ipv4" } else { "ipv6" };
                if host.address_for(*vip).is_none() && !unknown.host_field(&host.name, field) {
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
            if !reflectors.is_empty()
                && !reflectors_unknown
                && !reflectors.iter().any(|rr| rr.address_for(*vip).is_some())
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
        if !svc.allow.is_empty() && !unknown.service_field(name, "allow") {
            for v6 in [false, true] {
                let has_vip = svc.vips.iter().any(|v| v.is_ipv6() == v6);
                let has_source = svc.allow.iter().any(|n| n.addr().is_ipv6() == v6);
                if has_vip && !has_source {
                    let (fam, anywhere) = if v6 {
                        ("IPv6", "\"::/0\"")
                    } else {
                        ("IPv4", "0.0.0.0/0")
                    };
                    diags.push(
                        Diagnostic::new(
                            Code::AllowFamilyGap,
                            at.service_field(name, "allow"),
                            format!("`allow` lists no {fam} source, so the {fam} VIPs of `{name}` are reachable from nowhere"),
                        )
                        .help(format!("add the {fam} sources that may connect ({anywhere} for anywhere), or drop the {fam} VIPs")),
                    );
                }
            }
        }
        // Balancers reach every backend over a shared family.
        if let Some(h) = &svc.haproxy {
            if unknown.service_fields(name, &["group", "backends"]) {
                continue;
            }
            let balancers = announcing.balancers(svc);
            for b in &h.backends {
                let Some(backend) = intent.hosts.get(&b.host) else {
                    continue;
                };
                for lb in balancers {
                    let addresses_unknown = [&lb.name, &b.host]
                        .iter()
                        .any(|h| unknown.host_field(h, "ipv4") || unknown.host_field(h, "ipv6"));
                    let shared = (lb.ipv4.is_some() && backend.ipv4.is_some())
                        || (lb.ipv6.is_some() && backend.ipv6.is_some());
                    if !shared && !addresses_unknown {
                        diags.push(
                            Diagnostic::new(
                                Code::FamilyMismatch,
                                at.service_item(name, "backends", |t| t == b.host),
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
            && !reflectors_unknown
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

/// A VIP belongs to one service (it is announced on that service's health). Each service that
/// uses a VIP already used by a service defined earlier in file order is reported once, at its
/// own VIP, with the earlier definitions as related places and every port they share.
/// `announce: site` keeps a service's VIPs from the upstreams outside the site; when every
/// upstream of a family is outside, no router learns that family's VIPs (the route reflectors
/// are not in the forwarding path). Services that inherit the scope from one place (a template,
/// `defaults`) get one diagnostic there.
fn site_scope_unrouted(
    intent: &Intent,
    unknown: &Unknowns,
    at: &Locator<'_>,
    diags: &mut Diagnostics,
) {
    if unknown.site_field("bgp.upstreams") {
        return;
    }
    let upstreams = &intent.site.bgp.upstreams;
    // (where `announce: site` is written, family) -> services and their VIPs of that family.
    type ServicesWithVips<'a> = Vec<(&'a str, Vec<IpAddr>)>;
    let mut unrouted: BTreeMap<(Span, &str), ServicesWithVips<'_>> = BTreeMap::new();
    for svc in intent.services.values() {
        if svc.announce != AnnounceScope::Site
            || unknown.service_fields(&svc.name, &["announce", "vips"])
        {
            continue;
        }
        for v4 in [true, false] {
            let vips: Vec<IpAddr> = svc
                .vips
                .iter()
                .copied()
                .filter(|v| v.is_ipv4() == v4)
                .collect();
            let of_family = upstreams.iter().filter(|u| u.address.is_ipv4() == v4);
            let (mut any, mut inside) = (false, false);
            for u in of_family {
                any = true;
                inside |= u.internal;
            }
            if vips.is_empty() || !any || inside {
                continue;
            }
            let fam = if v4 { "IPv4" } else { "IPv6" };
            unrouted
                .entry((at.service_field(&svc.name, "announce"), fam))
                .or_default()
                .push((svc.name.as_str(), vips));
        }
    }
    for ((span, fam), services) in unrouted {
        let names: Vec<String> = services.iter().map(|(n, _)| format!("`{n}`")).collect();
        let vips: Vec<String> = services
            .iter()
            .flat_map(|(_, v)| v.iter().map(ToString::to_string))
            .collect();
        let (who, is) = if names.len() == 1 {
            (names.join(""), "is")
        } else {
            (names.join(", "), "are")
        };
        diags.push(
            Diagnostic::new(
                Code::ScopeUnrouted,
                span,
                format!(
                    "{who} {is} announced only inside the site, but no {fam} upstream is inside it: no router learns {}",
                    vips.join(", ")
                ),
            )
            .with_secondary(at.site_field(&["bgp", "upstreams"]), "every upstream here is outside the site")
            .help("mark the site's own routers `internal: true` in site.bgp.upstreams (an upstream in the site's AS is inside by default), or announce the service to the upstreams"),
        );
    }
}

fn vip_conflicts(intent: &Intent, at: &Locator<'_>, diags: &mut Diagnostics) {
    let mut in_file_order: Vec<(Span, &Service)> = intent
        .services
        .values()
        .map(|s| (at.service(&s.name), s))
        .collect();
    crate::collect::sort_by(&mut in_file_order, |a, b| a.0.cmp(&b.0));
    let mut users: BTreeMap<IpAddr, Vec<&Service>> = BTreeMap::new();
    for (_, svc) in &in_file_order {
        for vip in &svc.vips {
            let earlier = users.entry(*vip).or_default();
            if !earlier.is_empty() {
                diags.push(vip_conflict(at, *vip, earlier, svc));
            }
            earlier.push(svc);
        }
    }
}

fn vip_conflict(
    at: &Locator<'_>,
    vip: IpAddr,
    earlier: &[&Service],
    later: &Service,
) -> Diagnostic {
    let is_vip = |t: &str| t.parse::<IpAddr>().ok() == Some(vip);
    let shared: std::collections::BTreeSet<(u16, &str)> = crate::collect::set(
        later
            .ports
            .iter()
            .filter(|p| earlier.iter().any(|e| e.ports.contains(p)))
            .map(|p| (p.port, p.proto.as_str())),
    );
    let mut names: Vec<String> = earlier.iter().map(|e| format!("`{}`", e.name)).collect();
    names.push(format!("`{}`", later.name));
    let last = names.pop().unwrap_or_default();
    let who = format!("{} and {last}", names.join(", "));
    let message = if shared.is_empty() {
        format!("VIP {vip} is used by {who}")
    } else {
        let ports: Vec<String> = shared
            .iter()
            .map(|(port, proto)| format!("{port}/{proto}"))
            .collect();
        let (last_port, rest) = ports
            .split_last()
            .map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
        let ports = if rest.is_empty() {
            last_port.to_owned()
        } else {
            format!("{} and {last_port}", rest.join(", "))
        };
        let all = if earlier.len() == 1 { "both" } else { "all" };
        format!("VIP {vip} is used by {who}, {all} on {ports}")
    };
    let mut d = Diagnostic::new(
        Code::VipPortConflict,
        at.service_item(&later.name, "vips", is_vip),
        message,
    )
    .label("used again here");
    for e in earlier {
        d = d.with_secondary(
            at.service_item(&e.name, "vips", is_vip),
            format!("first used by `{}`", e.name),
        );
    }
    d.help("each VIP is announced on the health of one service: give each service its own VIP")
}
