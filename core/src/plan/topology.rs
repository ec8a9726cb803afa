//! The site as a picture: hosts, BGP sessions and each service's path (VIPs → announcers →
//! backends). Shells draw it (the playground's SVG) without deciding anything themselves: who
//! announces, who peers with whom and what is drained all come from the plan.
//!
//! Invariant: every list is sorted (hosts and services by name, sessions by their ends) and
//! free of duplicates.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;

use super::{Announcers, PeerKind, Plan};
use crate::model::{AnnounceScope, Intent, Port, Service, Upstream};
use crate::source::{Location, Sources};

/// The whole picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// Site name.
    pub site: String,
    /// The site's AS.
    pub asn: u32,
    /// Every host.
    pub hosts: Vec<TopologyHost>,
    /// The route reflectors' upstream routers.
    pub upstreams: Vec<TopologyUpstream>,
    /// BGP sessions, one per pair of speakers (both families count once).
    pub sessions: Vec<Session>,
    /// Every service and its path.
    pub services: Vec<TopologyService>,
}

/// A host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopologyHost {
    /// Name.
    pub name: String,
    /// Roles, YAML spelling.
    pub roles: Vec<&'static str>,
    /// Balancer group.
    pub group: String,
    /// IPv4 address.
    pub ipv4: Option<IpAddr>,
    /// IPv6 address.
    pub ipv6: Option<IpAddr>,
    /// Drained as a whole.
    pub drained: bool,
}

/// An upstream router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopologyUpstream {
    /// Name.
    pub name: String,
    /// Address.
    pub address: IpAddr,
    /// AS.
    pub asn: u32,
    /// Inside the site: it also gets the VIPs of `announce: site` services.
    pub internal: bool,
}

/// A BGP session between two speakers (`b` may be an upstream's name). `a < b` for sessions
/// between hosts; an upstream is always `b`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Session {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
}

/// One end of a service path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathNode {
    /// Host.
    pub host: String,
    /// Drained for this service (the host, or the host within this service).
    pub drained: bool,
}

/// A service and its path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopologyService {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// `haproxy` or `anycast`.
    pub balancing: &'static str,
    /// VIPs.
    pub vips: Vec<IpAddr>,
    /// How far the VIPs are announced: `site` or `upstream`.
    pub announce: &'static str,
    /// The upstream routers that get the VIPs (all of them, or those inside the site for
    /// `announce: site`), in `site.bgp.upstreams` order.
    pub upstreams: Vec<String>,
    /// Ports, `443/tcp`.
    pub ports: Vec<String>,
    /// Balancers of its group, or its anycast nodes.
    pub announcers: Vec<PathNode>,
    /// Backends behind the balancers (empty for anycast).
    pub backends: Vec<PathNode>,
    /// Where the service is defined.
    pub source: Option<Location>,
}

fn port(p: &Port) -> String {
    format!("{}/{}", p.port, p.proto.as_str())
}

/// Every BGP session of a plan, once per pair of speakers.
pub fn sessions(plan: &Plan) -> BTreeSet<Session> {
    let mut sessions = BTreeSet::new();
    for host in plan.hosts.values() {
        for peer in &host.peers {
            let (a, b) = match peer.kind {
                PeerKind::Upstream => (&host.name, &peer.name),
                _ if host.name <= peer.name => (&host.name, &peer.name),
                _ => (&peer.name, &host.name),
            };
            sessions.insert(Session {
                a: a.clone(),
                b: b.clone(),
            });
        }
    }
    sessions
}

/// The upstream routers a service's VIPs are exported to: those of a family it has VIPs of,
/// and for `announce: site` only those inside the site.
pub fn exported_to<'a>(
    intent: &'a Intent,
    svc: &'a Service,
) -> impl Iterator<Item = &'a Upstream> + 'a {
    intent.site.bgp.upstreams.iter().filter(move |u| {
        svc.vips.iter().any(|v| v.is_ipv4() == u.address.is_ipv4())
            && (svc.announce == AnnounceScope::Upstream || u.internal)
    })
}

/// The topology of a validated intent and its plan.
pub fn topology(intent: &Intent, plan: &Plan, sources: &Sources) -> Topology {
    let hosts = intent
        .hosts
        .values()
        .map(|h| TopologyHost {
            name: h.name.clone(),
            roles: h.roles.iter().map(|r| r.as_str()).collect(),
            group: h.group.clone(),
            ipv4: h.ipv4.map(IpAddr::V4),
            ipv6: h.ipv6.map(IpAddr::V6),
            drained: h.drain,
        })
        .collect();
    let announcing = Announcers::new(intent);
    let services = intent
        .services
        .values()
        .map(|svc| {
            let service_drained: BTreeSet<&str> = crate::collect::set(
                svc.anycast
                    .iter()
                    .flat_map(|a| a.drained.iter().map(String::as_str)),
            );
            let announcers = announcing
                .of(svc)
                .into_iter()
                .map(|h| PathNode {
                    host: h.name.clone(),
                    drained: h.drain || service_drained.contains(h.name.as_str()),
                })
                .collect();
            let backends = svc
                .haproxy
                .iter()
                .flat_map(|h| &h.backends)
                .map(|b| PathNode {
                    host: b.host.clone(),
                    drained: b.drain || intent.hosts.get(&b.host).is_some_and(|h| h.drain),
                })
                .collect();
            TopologyService {
                name: svc.name.clone(),
                description: svc.description.clone(),
                balancing: match svc.balancing {
                    crate::model::Balancing::Haproxy => "haproxy",
                    crate::model::Balancing::Anycast => "anycast",
                },
                vips: svc.vips.clone(),
                announce: svc.announce.as_str(),
                upstreams: exported_to(intent, svc).map(|u| u.name.clone()).collect(),
                ports: svc.ports.iter().map(port).collect(),
                announcers,
                backends,
                source: svc.span.map(|s| sources.locate(s)),
            }
        })
        .collect();
    Topology {
        site: intent.site.name.clone(),
        asn: intent.site.asn,
        hosts,
        upstreams: intent
            .site
            .bgp
            .upstreams
            .iter()
            .map(|u| TopologyUpstream {
                name: u.name.clone(),
                address: u.address,
                asn: u.asn,
                internal: u.internal,
            })
            .collect(),
        sessions: sessions(plan).into_iter().collect(),
        services,
    }
}
