//! What a deployment needs to know about each host and service: which VIPs a host announces,
//! with whom it holds BGP sessions, what a route reflector accepts from each client, which
//! service ports a backend serves and where a balancer sends. Computed from the plan, written
//! into `manifest.json` (so that a rendered tree alone says what applying it does), kept by
//! `svcintent apply` in each host's state, and read back by the rollout
//! ([`crate::rollout`]) and by `diff`'s announcement statements ([`announced`]), so that both
//! say the same thing from the same computation.
//!
//! Invariant: every list is sorted and free of duplicates, so facts compare by value and the
//! manifest stays byte-stable.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{PeerKind, Plan};
use crate::model::{Balancing, Intent, Role, ServiceDeploy};

/// One host's facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// Roles, sorted.
    pub roles: Vec<Role>,
    /// Balancer group (balancers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// IPv4 address.
    #[serde(default)]
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address.
    #[serde(default)]
    pub ipv6: Option<Ipv6Addr>,
    /// The host is drained.
    #[serde(default)]
    pub drain: bool,
    /// VIPs the host puts on its loopback and announces (unless withdrawn).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub announces: Vec<AnnounceFact>,
    /// BGP sessions, with every setting whose change restarts the session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionFact>,
    /// BIRD's router id, when the configuration sets one: a change restarts every BGP session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_id: Option<Ipv4Addr>,
    /// Route reflectors: the prefixes accepted from each client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepts: Vec<AcceptFact>,
    /// Backends: the service ports the balancers send to on this host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serves: Vec<ServeFact>,
    /// Balancers: the backend servers they send to (servers in maintenance excluded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sends: Vec<SendFact>,
}

/// A VIP on the host's loopback, announced unless `withdrawn` (drained).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AnnounceFact {
    /// `/32` or `/128` of the VIP.
    pub prefix: IpNet,
    /// The service.
    pub service: String,
    /// Drained: on the loopback, never exported.
    #[serde(default, skip_serializing_if = "is_false")]
    pub withdrawn: bool,
}

/// A BGP session as this host configures it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionFact {
    /// Peer (host or upstream name).
    pub peer: String,
    /// What the peer is to this host.
    pub kind: PeerKind,
    /// Local address.
    pub local: IpAddr,
    /// Peer address.
    pub address: IpAddr,
    /// Peer AS.
    pub asn: u32,
    /// Hold, keepalive and connect-delay times (seconds).
    pub timers: [u16; 3],
    /// Local AS (the site's). A record without it (written before it was kept) reads as 0,
    /// which differs from any AS: the rollout then expects the session to restart.
    #[serde(default)]
    pub local_as: u32,
    /// Route-reflector cluster id, on a reflector's sessions (clients, mesh and upstreams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<Ipv4Addr>,
}

/// What BIRD restarts or ends on `birdc configure` when a host moves from `old` to `new`, in
/// words ("restarts every BGP session (...)"), or `None` when it only reloads. A restart drops
/// every route the protocol carries: the host's VIPs are withdrawn and announced again (an
/// announcer), or its clients' routes are dropped by the routers (a reflector). Compares only what the facts record of BIRD's restart rules
/// (`bgp_reconfigure`: the router id and every session setting); filters are reloaded without
/// a restart, and the one protocol that takes the VIPs from `lo` (`svcintent_vips`) has a
/// configuration that never changes (`render::bird`).
pub fn bird_restarts(old: &HostFacts, new: &HostFacts) -> Option<String> {
    fn of<'f>(facts: &'f HostFacts, peer: &str) -> Vec<&'f SessionFact> {
        facts.sessions.iter().filter(|s| s.peer == peer).collect()
    }
    // Peers with a session on both sides: the sessions a configure can restart. A session
    // added starts without touching the others; a session removed takes its routes with it,
    // which the guard cannot see from the reflectors' side (they may still accept the host
    // through it), so it counts like a restart.
    let old_peers: BTreeSet<&str> = old.sessions.iter().map(|s| s.peer.as_str()).collect();
    let new_peers: BTreeSet<&str> = new.sessions.iter().map(|s| s.peer.as_str()).collect();
    let common: Vec<&str> = old_peers.intersection(&new_peers).copied().collect();
    let ended: Vec<&str> = old_peers.difference(&new_peers).copied().collect();
    let mut what = Vec::new();
    if !ended.is_empty() {
        what.push(format!("ends the BGP session(s) with {}", ended.join(", ")));
    }
    if old.router_id != new.router_id && !common.is_empty() {
        what.push("restarts every BGP session (the router id changes)".to_owned());
    } else {
        let changed: Vec<&str> = common
            .into_iter()
            .filter(|p| of(old, p) != of(new, p))
            .collect();
        if !changed.is_empty() {
            what.push(format!(
                "restarts the BGP session(s) with {} (their settings change)",
                changed.join(", ")
            ));
        }
    }
    (!what.is_empty()).then(|| what.join(" and "))
}

/// What a route reflector accepts from one client.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AcceptFact {
    /// The client.
    pub client: String,
    /// Prefixes (both families), sorted.
    pub prefixes: Vec<IpNet>,
}

/// A service port a backend serves to the balancers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServeFact {
    /// The service.
    pub service: String,
    /// The port on the backend.
    pub port: u16,
}

/// A backend server a balancer sends a service's traffic to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SendFact {
    /// The service.
    pub service: String,
    /// The backend host.
    pub backend: String,
    /// The port on the backend.
    pub port: u16,
}

/// One service's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFacts {
    /// Balancing mode.
    pub balancing: Balancing,
    /// VIPs.
    pub vips: Vec<IpAddr>,
    /// Limits during a rollout.
    pub deploy: ServiceDeploy,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Every host's and service's facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// By host name.
    pub hosts: BTreeMap<String, HostFacts>,
    /// By service name.
    pub services: BTreeMap<String, ServiceFacts>,
}

/// The facts of a planned intent.
pub fn facts(intent: &Intent, plan: &Plan) -> Facts {
    let bgp = &intent.site.bgp;
    let timers = [bgp.hold_time, bgp.keepalive_time, bgp.connect_delay_time];
    let cluster_id = super::cluster_id(intent);
    // Every balancer of a group has the same listeners for a service: index them once.
    let mut listeners: BTreeMap<&str, &[super::Listener]> = BTreeMap::new();
    for hp in plan.hosts.values() {
        for (svc, l) in &hp.listeners {
            listeners.entry(svc.as_str()).or_insert(l.as_slice());
        }
    }
    let mut hosts = BTreeMap::new();
    for (name, hp) in &plan.hosts {
        let Some(host) = intent.hosts.get(name) else {
            continue;
        };
        let announces = crate::collect::set(hp.announcements.iter().map(|a| AnnounceFact {
            prefix: a.prefix,
            service: a.service.clone(),
            withdrawn: a.withdrawn,
        }));
        let reflector = host.has(Role::RouteReflector);
        let sessions = crate::collect::set(hp.peers.iter().map(|p| SessionFact {
            peer: p.name.clone(),
            kind: p.kind,
            local: p.local,
            address: p.address,
            asn: p.asn,
            timers,
            local_as: intent.site.asn,
            // Over-approximated: an eBGP upstream session carries no cluster id, but is listed
            // as if it did (a predicted restart that does not happen only makes batches smaller).
            cluster_id: if reflector { cluster_id } else { None },
        }));
        let mut accepts: BTreeMap<&str, BTreeSet<IpNet>> = BTreeMap::new();
        for p in hp.peers.iter().filter(|p| p.kind == PeerKind::RrClient) {
            accepts
                .entry(p.name.as_str())
                .or_default()
                .extend(p.accept.iter().copied());
        }
        let mut serves = BTreeSet::new();
        for svc in &hp.backend_of {
            let unbalanced;
            let of = match listeners.get(svc.as_str()) {
                Some(l) => *l,
                None => {
                    // No balancer serves it (yet): the listeners it would have.
                    unbalanced = intent
                        .services
                        .get(svc)
                        .map(|s| super::listeners_of(intent, s))
                        .unwrap_or_default();
                    unbalanced.as_slice()
                }
            };
            for listener in of {
                for server in listener.servers.iter().filter(|s| s.host == *name) {
                    serves.insert(ServeFact {
                        service: svc.clone(),
                        port: server.port,
                    });
                }
            }
        }
        let mut sends = BTreeSet::new();
        for (svc, listeners) in &hp.listeners {
            for server in listeners.iter().flat_map(|l| &l.servers) {
                if !server.drain {
                    sends.insert(SendFact {
                        service: svc.clone(),
                        backend: server.host.clone(),
                        port: server.port,
                    });
                }
            }
        }
        hosts.insert(
            name.clone(),
            HostFacts {
                roles: host.roles.iter().copied().collect(),
                group: host.has(Role::Balancer).then(|| host.group.clone()),
                ipv4: host.ipv4,
                ipv6: host.ipv6,
                drain: host.drain,
                announces: announces.into_iter().collect(),
                sessions: sessions.into_iter().collect(),
                router_id: super::router_id(host),
                accepts: accepts
                    .into_iter()
                    .map(|(client, prefixes)| AcceptFact {
                        client: client.to_owned(),
                        prefixes: prefixes.into_iter().collect(),
                    })
                    .collect(),
                serves: serves.into_iter().collect(),
                sends: sends.into_iter().collect(),
            },
        );
    }
    let services = crate::collect::map(intent.services.iter().map(|(name, svc)| {
        (
            name.clone(),
            ServiceFacts {
                balancing: svc.balancing,
                vips: svc.vips.clone(),
                deploy: svc.deploy,
            },
        )
    }));
    Facts { hosts, services }
}

/// (VIP, service) → the hosts that announce it (on their loopback and not withdrawn): the one
/// computation behind `diff`'s announcement statements and the rollout's guard.
pub fn announced<'a>(
    hosts: impl IntoIterator<Item = (&'a str, &'a HostFacts)>,
) -> BTreeMap<(IpAddr, &'a str), BTreeSet<&'a str>> {
    let mut out: BTreeMap<(IpAddr, &'a str), BTreeSet<&'a str>> = BTreeMap::new();
    for (name, facts) in hosts {
        for a in facts.announces.iter().filter(|a| !a.withdrawn) {
            out.entry((a.prefix.addr(), a.service.as_str()))
                .or_default()
                .insert(name);
        }
    }
    out
}
