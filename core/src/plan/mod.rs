//! Per-host views of a validated [`Intent`]: who announces what, who peers with whom, what each
//! host's firewall lets in. Renderers read only this, so the relations between targets (every
//! bound VIP is announced, allowed, accepted and monitored) are computed once, here.
//!
//! Invariant: every list is sorted (or in a documented order) and contains no duplicates.

pub mod facts;
pub mod topology;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model::{Balancing, Host, Intent, Port, Proto, Role, Service};

/// Port of the HAProxy stats page on each balancer's own addresses.
pub const HAPROXY_STATS_PORT: u16 = 8404;

/// Port of HAProxy's announcement-health frontend, on `127.0.0.1` of each balancer: the health
/// announcer asks it whether a service can be served before announcing the service's VIPs.
pub const HAPROXY_HEALTH_PORT: u16 = 8405;

/// Port of the Icinga2 API on the monitoring hosts: the endpoints of the HA zone connect to
/// each other there (two monitoring hosts only).
pub const ICINGA2_API_PORT: u16 = 5665;

/// The plan for the whole site.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Per-host plans, by host name.
    pub hosts: BTreeMap<String, HostPlan>,
}

/// One VIP announced by one host for one service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Announcement {
    /// The VIP.
    pub vip: IpAddr,
    /// `/32` or `/128` of the VIP.
    pub prefix: IpNet,
    /// The service.
    pub service: String,
    /// Whether the announcing host (or this service on it) is drained: the health announcer
    /// withdraws the prefix regardless of health.
    pub withdrawn: bool,
}

/// A BGP session from this host's point of view.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct BgpPeer {
    /// Peer name (host or upstream name).
    pub name: String,
    /// Peer address (same family as `local`).
    pub address: IpAddr,
    /// Local address used for the session.
    pub local: IpAddr,
    /// Peer AS.
    pub asn: u32,
    /// What the peer is to us.
    pub kind: PeerKind,
    /// Prefixes the peer may announce to us (route reflector clients only).
    pub accept: Vec<IpNet>,
}

/// What a BGP peer is to this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerKind {
    /// We are a client; the peer is a route reflector.
    RouteReflector,
    /// We are a route reflector; the peer is our client.
    RrClient,
    /// Both route reflectors (non-client iBGP).
    RrMesh,
    /// An upstream router of the route reflectors.
    Upstream,
}

/// One firewall allowance: traffic to `daddr` `proto`/`port` from `sources`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Allowance {
    /// Destination address on this host (a VIP or the host's own address).
    pub daddr: IpAddr,
    /// Protocol.
    pub proto: Proto,
    /// Destination port.
    pub port: u16,
    /// Allowed sources (empty: from anywhere).
    pub sources: Vec<IpNet>,
    /// Why (service name or `bgp`, `monitoring`).
    pub reason: String,
}

/// A server line of a haproxy service on a balancer.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedServer {
    /// Host name.
    pub host: String,
    /// Address (same family preference as the VIP: v4 if the backend has one).
    pub address: IpAddr,
    /// Port.
    pub port: u16,
    /// Weight.
    pub weight: u16,
    /// Backup server.
    pub backup: bool,
    /// In maintenance.
    pub drain: bool,
}

/// A group of frontend ports of a haproxy service that go to the same backend port.
#[derive(Debug, Clone, Serialize)]
pub struct Listener {
    /// Frontend/backend section name in HAProxy (`<service>` or `<service>_<port>`).
    pub name: String,
    /// Frontend ports.
    pub ports: Vec<u16>,
    /// Backend servers (sorted by host name).
    pub servers: Vec<PlannedServer>,
}

/// Everything one host gets.
#[derive(Debug, Clone, Serialize)]
pub struct HostPlan {
    /// Host name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Services this host balances with HAProxy (balancer).
    pub balanced: Vec<String>,
    /// Per balanced service, its listeners.
    pub listeners: BTreeMap<String, Vec<Listener>>,
    /// Services this host serves as anycast node.
    pub anycast: Vec<String>,
    /// Services this host is a backend of.
    pub backend_of: Vec<String>,
    /// VIPs this host announces (balancer and anycast node).
    pub announcements: Vec<Announcement>,
    /// VIPs configured on the loopback (all announced VIPs, drained or not), sorted, unique.
    pub loopback_vips: Vec<IpAddr>,
    /// BGP sessions.
    pub peers: Vec<BgpPeer>,
    /// Firewall allowances.
    pub allow: Vec<Allowance>,
}

/// Who announces each service: the balancers of its group (listed once per site, so a lookup
/// does not scan every host) or its anycast nodes. Build one per site and ask it per service.
#[derive(Debug)]
pub struct Announcers<'a> {
    intent: &'a Intent,
    balancers_by_group: BTreeMap<&'a str, Vec<&'a Host>>,
}

impl<'a> Announcers<'a> {
    /// Indexes the balancers of `intent` by group.
    pub fn new(intent: &'a Intent) -> Self {
        let mut balancers_by_group: BTreeMap<&str, Vec<&Host>> = BTreeMap::new();
        for host in intent.hosts.values().filter(|h| h.has(Role::Balancer)) {
            balancers_by_group
                .entry(host.group.as_str())
                .or_default()
                .push(host);
        }
        Announcers {
            intent,
            balancers_by_group,
        }
    }

    /// The balancers serving a haproxy service, sorted by name (none for anycast).
    pub fn balancers(&self, service: &Service) -> &[&'a Host] {
        service
            .haproxy
            .as_ref()
            .and_then(|h| self.balancers_by_group.get(h.group.as_str()))
            .map_or(&[], Vec::as_slice)
    }

    /// The groups that have balancers, sorted.
    pub fn balancer_groups(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.balancers_by_group.keys().copied()
    }

    /// The hosts that announce a service's VIPs (balancers of its group, or its anycast nodes).
    pub fn of(&self, service: &Service) -> Vec<&'a Host> {
        match service.balancing {
            Balancing::Haproxy => self.balancers(service).to_vec(),
            Balancing::Anycast => service
                .anycast
                .as_ref()
                .map(|a| {
                    a.nodes
                        .iter()
                        .filter_map(|n| self.intent.hosts.get(n))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

fn host_prefix(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

/// Route reflectors, sorted by name.
pub fn route_reflectors(intent: &Intent) -> Vec<&Host> {
    intent
        .hosts
        .values()
        .filter(|h| h.has(Role::RouteReflector))
        .collect()
}

/// A host's BGP router id: `router_id`, else its IPv4 address (else BIRD picks one).
pub fn router_id(host: &Host) -> Option<std::net::Ipv4Addr> {
    host.router_id.or(host.ipv4)
}

/// The route-reflector cluster id: `site.bgp.cluster_id`, else the router id of the first
/// reflector (by name).
pub fn cluster_id(intent: &Intent) -> Option<std::net::Ipv4Addr> {
    intent
        .site
        .bgp
        .cluster_id
        .or_else(|| route_reflectors(intent).first().and_then(|h| router_id(h)))
}

/// Monitoring hosts, sorted by name.
pub fn monitors(intent: &Intent) -> Vec<&Host> {
    intent
        .hosts
        .values()
        .filter(|h| h.has(Role::Monitoring))
        .collect()
}

/// Relations computed once per plan, so that building every host's view stays linear in the
/// size of the site (hosts × their own services), not hosts × services × hosts.
struct Index<'a> {
    /// Announcements per host name.
    announcements: BTreeMap<&'a str, Vec<Announcement>>,
    /// Listeners per haproxy service name.
    listeners: BTreeMap<&'a str, Vec<Listener>>,
    /// Sources allowed to a service's backend ports (its balancers and the monitoring hosts).
    backend_sources: BTreeMap<&'a str, Vec<IpNet>>,
    /// Services each host is a backend of.
    backs: BTreeMap<&'a str, Vec<&'a Service>>,
    /// Services each balancer balances, in service order.
    balanced: BTreeMap<&'a str, Vec<&'a str>>,
    /// Anycast services each node serves, in service order.
    anycast: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> Index<'a> {
    fn new(intent: &'a Intent) -> Self {
        let mut by_group: BTreeMap<&str, Vec<&Host>> = BTreeMap::new();
        for h in intent.hosts.values().filter(|h| h.has(Role::Balancer)) {
            by_group.entry(h.group.as_str()).or_default().push(h);
        }
        let monitor_prefixes: Vec<IpNet> = monitors(intent)
            .iter()
            .flat_map(|m| m.addresses())
            .map(host_prefix)
            .collect();
        let mut announcements: BTreeMap<&str, BTreeSet<Announcement>> = BTreeMap::new();
        let mut listeners = BTreeMap::new();
        let mut backend_sources = BTreeMap::new();
        let mut backs: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
        let mut balanced: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut anycast: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for svc in intent.services.values() {
            if let Some(a) = &svc.anycast {
                let nodes = crate::collect::set(a.nodes.iter().map(String::as_str));
                for node in nodes {
                    anycast.entry(node).or_default().push(svc.name.as_str());
                }
            }
            let announcers: Vec<&Host> = match (&svc.haproxy, &svc.anycast) {
                (Some(h), _) => by_group.get(h.group.as_str()).cloned().unwrap_or_default(),
                (None, Some(a)) => a.nodes.iter().filter_map(|n| intent.hosts.get(n)).collect(),
                (None, None) => Vec::new(),
            };
            for host in &announcers {
                let service_drained = svc
                    .anycast
                    .as_ref()
                    .is_some_and(|a| a.drained.contains(&host.name));
                for vip in svc.vips.iter().filter(|v| host.address_for(**v).is_some()) {
                    announcements
                        .entry(host.name.as_str())
                        .or_default()
                        .insert(Announcement {
                            vip: *vip,
                            prefix: host_prefix(*vip),
                            service: svc.name.clone(),
                            withdrawn: host.drain || service_drained,
                        });
                }
            }
            if let Some(h) = &svc.haproxy {
                listeners.insert(svc.name.as_str(), listeners_of(intent, svc));
                let mut sources: Vec<IpNet> = announcers
                    .iter()
                    .flat_map(|b| b.addresses())
                    .map(host_prefix)
                    .chain(monitor_prefixes.iter().copied())
                    .collect();
                crate::collect::sort_by(&mut sources, Ord::cmp);
                sources.dedup();
                backend_sources.insert(svc.name.as_str(), sources);
                for b in &announcers {
                    balanced
                        .entry(b.name.as_str())
                        .or_default()
                        .push(svc.name.as_str());
                }
                let mut seen = BTreeSet::new();
                for b in h.backends.iter().filter(|b| seen.insert(b.host.as_str())) {
                    backs.entry(b.host.as_str()).or_default().push(svc);
                }
            }
        }
        Index {
            announcements: crate::collect::map(
                announcements
                    .into_iter()
                    .map(|(k, v)| (k, v.into_iter().collect())),
            ),
            listeners,
            backend_sources,
            backs,
            balanced,
            anycast,
        }
    }

    fn announcements(&self, host: &str) -> &[Announcement] {
        self.announcements.get(host).map_or(&[], Vec::as_slice)
    }

    fn entitled(&self, host: &str) -> Vec<IpNet> {
        let set = crate::collect::set(self.announcements(host).iter().map(|a| a.prefix));
        set.into_iter().collect()
    }
}

/// Builds the plan. Assumes a validated intent; missing references are skipped, not panicked on.
pub fn plan(intent: &Intent) -> Plan {
    let index = Index::new(intent);
    let hosts = crate::collect::map(
        intent
            .hosts
            .values()
            .map(|host| (host.name.clone(), plan_host(intent, &index, host))),
    );
    Plan { hosts }
}

/// Prefixes a BGP client may announce: the VIPs of the services it announces.
pub fn entitled_prefixes(intent: &Intent, host: &Host) -> Vec<IpNet> {
    Index::new(intent).entitled(&host.name)
}

fn same_family(a: &Host, b: &Host) -> Vec<(IpAddr, IpAddr)> {
    let mut v = Vec::new();
    if let (Some(x), Some(y)) = (a.ipv4, b.ipv4) {
        v.push((IpAddr::V4(x), IpAddr::V4(y)));
    }
    if let (Some(x), Some(y)) = (a.ipv6, b.ipv6) {
        v.push((IpAddr::V6(x), IpAddr::V6(y)));
    }
    v
}

fn peers_of(intent: &Intent, index: &Index<'_>, host: &Host) -> Vec<BgpPeer> {
    let mut peers = BTreeSet::new();
    let asn = intent.site.asn;
    let is_client = |h: &Host| h.has(Role::Balancer) || h.has(Role::AnycastNode);
    if host.has(Role::RouteReflector) {
        for other in intent.hosts.values().filter(|o| o.name != host.name) {
            let kind = if other.has(Role::RouteReflector) {
                PeerKind::RrMesh
            } else if is_client(other) {
                PeerKind::RrClient
            } else {
                continue;
            };
            let accept = if kind == PeerKind::RrClient {
                index.entitled(&other.name)
            } else {
                Vec::new()
            };
            for (local, address) in same_family(host, other) {
                let accept = accept
                    .iter()
                    .copied()
                    .filter(|p| p.addr().is_ipv4() == address.is_ipv4())
                    .collect();
                peers.insert(BgpPeer {
                    name: other.name.clone(),
                    address,
                    local,
                    asn,
                    kind,
                    accept,
                });
            }
        }
        for up in &intent.site.bgp.upstreams {
            if let Some(local) = host.address_for(up.address) {
                peers.insert(BgpPeer {
                    name: up.name.clone(),
                    address: up.address,
                    local,
                    asn: up.asn,
                    kind: PeerKind::Upstream,
                    accept: Vec::new(),
                });
            }
        }
    } else if is_client(host) {
        for rr in route_reflectors(intent) {
            for (local, address) in same_family(host, rr) {
                peers.insert(BgpPeer {
                    name: rr.name.clone(),
                    address,
                    local,
                    asn,
                    kind: PeerKind::RouteReflector,
                    accept: Vec::new(),
                });
            }
        }
    }
    peers.into_iter().collect()
}

pub(crate) fn listeners_of(intent: &Intent, svc: &Service) -> Vec<Listener> {
    let Some(h) = &svc.haproxy else {
        return Vec::new();
    };
    // Group frontend ports by backend port; a fixed backend port gives one listener.
    let mut groups: BTreeMap<u16, Vec<u16>> = BTreeMap::new();
    for p in svc.ports.iter().filter(|p| p.proto == Proto::Tcp) {
        groups
            .entry(h.backend_port.unwrap_or(p.port))
            .or_default()
            .push(p.port);
    }
    let single = groups.len() == 1;
    groups
        .into_iter()
        .map(|(backend_port, ports)| {
            let name = if single {
                svc.name.clone()
            } else {
                format!("{}_{}", svc.name, backend_port)
            };
            let mut servers: Vec<PlannedServer> = h
                .backends
                .iter()
                .filter_map(|b| {
                    let host = intent.hosts.get(&b.host)?;
                    let address = host.ipv4.map(IpAddr::V4).or(host.ipv6.map(IpAddr::V6))?;
                    Some(PlannedServer {
                        host: b.host.clone(),
                        address,
                        port: b.port.unwrap_or(backend_port),
                        weight: b.weight,
                        backup: b.backup,
                        drain: b.drain || host.drain,
                    })
                })
                .collect();
            crate::collect::sort_by(&mut servers, |a, b| a.host.cmp(&b.host));
            Listener {
                name,
                ports,
                servers,
            }
        })
        .collect()
}

fn allowances_of(
    intent: &Intent,
    index: &Index<'_>,
    host: &Host,
    announcements: &[Announcement],
    peers: &[BgpPeer],
) -> Vec<Allowance> {
    let mut out = BTreeSet::new();
    // Service VIPs on balancers and anycast nodes, from the service's allowed sources.
    for a in announcements {
        let Some(svc) = intent.services.get(&a.service) else {
            continue;
        };
        let mut sources: Vec<IpNet> = svc
            .allow
            .iter()
            .copied()
            .filter(|n| n.addr().is_ipv4() == a.vip.is_ipv4())
            .collect();
        // An `allow` list without this family's sources closes the VIP (empty means anywhere).
        if !svc.allow.is_empty() && sources.is_empty() {
            continue;
        }
        // A /0 among the sources means anywhere.
        if sources.iter().any(|n| n.prefix_len() == 0) {
            sources.clear();
        }
        // A restricted VIP still lets the monitoring hosts in, or its checks would be dropped.
        if !sources.is_empty() {
            sources.extend(
                monitors(intent)
                    .iter()
                    .filter_map(|m| m.address_for(a.vip))
                    .map(host_prefix)
                    .filter(|p| !sources.iter().any(|s| s.contains(p)))
                    .collect::<Vec<_>>(),
            );
            crate::collect::sort_by(&mut sources, Ord::cmp);
        }
        for Port { port, proto } in &svc.ports {
            let sources = sources.clone();
            out.insert(Allowance {
                daddr: a.vip,
                proto: *proto,
                port: *port,
                sources,
                reason: svc.name.clone(),
            });
        }
    }
    // Backend ports, from the service's balancers and the monitoring hosts only.
    for svc in index.backs.get(host.name.as_str()).into_iter().flatten() {
        let sources = index
            .backend_sources
            .get(svc.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        for listener in index.listeners.get(svc.name.as_str()).into_iter().flatten() {
            for s in listener.servers.iter().filter(|s| s.host == host.name) {
                for daddr in host.addresses() {
                    let fam: Vec<IpNet> = sources
                        .iter()
                        .copied()
                        .filter(|n| n.addr().is_ipv4() == daddr.is_ipv4())
                        .collect();
                    if fam.is_empty() {
                        continue;
                    }
                    out.insert(Allowance {
                        daddr,
                        proto: Proto::Tcp,
                        port: s.port,
                        sources: fam,
                        reason: svc.name.clone(),
                    });
                }
            }
        }
    }
    // The HAProxy stats page on a balancer's own addresses, for the monitoring hosts.
    if host.has(Role::Balancer) {
        for daddr in host.addresses() {
            let sources: Vec<IpNet> = monitors(intent)
                .iter()
                .filter_map(|m| m.address_for(daddr))
                .map(host_prefix)
                .collect();
            if !sources.is_empty() {
                out.insert(Allowance {
                    daddr,
                    proto: Proto::Tcp,
                    port: HAPROXY_STATS_PORT,
                    sources,
                    reason: "haproxy-stats".to_owned(),
                });
            }
        }
    }
    // The Icinga2 API of the HA zone, from the other monitoring hosts only.
    if host.has(Role::Monitoring) {
        let others: Vec<&Host> = monitors(intent)
            .into_iter()
            .filter(|m| m.name != host.name)
            .collect();
        for daddr in host.addresses() {
            let sources: Vec<IpNet> = others
                .iter()
                .filter_map(|m| m.address_for(daddr))
                .map(host_prefix)
                .collect();
            if !sources.is_empty() {
                out.insert(Allowance {
                    daddr,
                    proto: Proto::Tcp,
                    port: ICINGA2_API_PORT,
                    sources,
                    reason: "icinga2-api".to_owned(),
                });
            }
        }
    }
    // BGP only between the hosts that peer.
    for p in peers {
        out.insert(Allowance {
            daddr: p.local,
            proto: Proto::Tcp,
            port: 179,
            sources: vec![host_prefix(p.address)],
            reason: "bgp".to_owned(),
        });
    }
    let mut merged: BTreeMap<(IpAddr, Proto, u16, String), BTreeSet<IpNet>> = BTreeMap::new();
    let mut open: BTreeSet<(IpAddr, Proto, u16, String)> = BTreeSet::new();
    for a in out {
        let key = (a.daddr, a.proto, a.port, a.reason);
        if a.sources.is_empty() {
            open.insert(key.clone());
        }
        merged.entry(key).or_default().extend(a.sources);
    }
    merged
        .into_iter()
        .map(|(key, sources)| {
            let sources = if open.contains(&key) {
                Vec::new()
            } else {
                sources.into_iter().collect()
            };
            let (daddr, proto, port, reason) = key;
            Allowance {
                daddr,
                proto,
                port,
                sources,
                reason,
            }
        })
        .collect()
}

fn plan_host(intent: &Intent, index: &Index<'_>, host: &Host) -> HostPlan {
    let names = |by_host: &BTreeMap<&str, Vec<&str>>| -> Vec<String> {
        by_host
            .get(host.name.as_str())
            .into_iter()
            .flatten()
            .map(|s| (*s).to_owned())
            .collect()
    };
    let balanced = names(&index.balanced);
    let anycast = names(&index.anycast);
    let listeners = crate::collect::map(balanced.iter().map(|name| {
        let of = index.listeners.get(name.as_str()).cloned();
        (name.clone(), of.unwrap_or_default())
    }));
    let backend_of = index
        .backs
        .get(host.name.as_str())
        .into_iter()
        .flatten()
        .map(|s| s.name.clone())
        .collect();
    let announcements = index.announcements(&host.name).to_vec();
    let loopback_vips = crate::collect::set(announcements.iter().map(|a| a.vip));
    let peers = peers_of(intent, index, host);
    let allow = allowances_of(intent, index, host, &announcements, &peers);
    HostPlan {
        name: host.name.clone(),
        roles: host.roles.iter().copied().collect(),
        balanced,
        listeners,
        anycast,
        backend_of,
        loopback_vips: loopback_vips.into_iter().collect(),
        announcements,
        peers,
        allow,
    }
}
