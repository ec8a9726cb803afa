//! Which hosts a change touches, in which batches a deployment applies them, and whether the
//! change is safe at all: the *guard*. Computed from the facts of what the hosts run (old)
//! and of the generation they move to (new) — the facts `manifest.json` carries and
//! `svcintent apply` keeps in each host's state ([`HostState`]) — beside `diff`, whose
//! announcement statements come from the same computation ([`crate::plan::facts::announced`]).
//!
//! # The model
//!
//! Between batches every host runs either its old or its new files. While a batch is applied,
//! its hosts are *in flight*: `svcintent apply` withdraws first what a host stops announcing and
//! adds new announcements last, so an in-flight host keeps exporting the VIPs it announces both
//! before and after, unless BIRD restarts what carries them on `birdc configure`
//! ([`bird_restarts`]: a BGP session whose settings or router id change), which withdraws them
//! all and announces them again, or ends a BGP session, which takes its routes with it.
//! A VIP reaches the upstreams through a host that announces it and a route reflector
//! that accepts it from that host (with the reflector's old, new or, in flight, both lists).
//!
//! # The guard
//!
//! For each VIP, with `m` its service's `deploy.min_announcers`, `before` and `after` the
//! number of hosts through which it reaches the upstreams before and after the whole change:
//!
//! - a change that leaves it with `after < min(m, before)` is **refused** (draining every
//!   balancer of a group, removing every announcer, removing the service or the VIP itself),
//!   unless the service is named in `allow_withdraw`;
//! - at every moment of the rollout (each batch in flight, and after it) it keeps at least
//!   `min(m, before, after)` such hosts;
//! - at most `deploy.max_in_flight` of a service's announcers, and at most that many of its
//!   backends, are in one batch; at most one route reflector and one monitoring host.
//!
//! A host that leaves the site while it still announces a VIP is refused: drain it and roll
//! that out first (nothing can be applied to a host that is not in the new tree).
//!
//! # The order
//!
//! Batches are built greedily. Each takes, in this order of preference, every host that keeps
//! the guard and whose predecessors are done: announcers that withdraw something (withdrawals
//! go first), route reflectors, backends and other hosts, announcers that only add or change,
//! monitoring hosts last (they wait for every other host). Predecessors, where a balancer carries
//! the service's traffic before the change: a backend that starts serving a port goes before
//! the balancers that start sending to it; a balancer that stops sending to a port goes before
//! the backend that stops serving it. A VIP that moves from one set of announcers to another is
//! announced by the new ones before the old ones withdraw it, because the guard allows nothing
//! else.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::diff::{Change, ChangeKind, host_list};
use crate::model::Role;
use crate::plan::facts::{HostFacts, ServiceFacts, announced, bird_restarts};
use crate::render::Manifest;

/// What `svcintent apply` records on a host about what it runs (`state.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    /// Format version of this record.
    pub format: u32,
    /// The site.
    pub site: String,
    /// The host.
    pub host: String,
    /// The generator of the applied tree (`svcintent 0.1.0`).
    pub generator: String,
    /// SHA-256 of the applied tree's `manifest.json`.
    pub manifest_sha256: String,
    /// The host's facts in that tree.
    pub facts: HostFacts,
    /// The facts of the services the host announces, serves or sends to.
    pub services: BTreeMap<String, ServiceFacts>,
    /// The installed files.
    pub files: Vec<StateFile>,
}

/// Version of [`HostState`]'s format.
pub const HOST_STATE_FORMAT: u32 = 1;

/// One installed file in a [`HostState`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StateFile {
    /// Absolute path on the host.
    pub path: String,
    /// SHA-256 of what was installed.
    pub sha256: String,
    /// The target it belongs to (which daemon reads it).
    pub target: crate::render::Target,
    /// A state file (installed only where missing; its daemon changes it).
    #[serde(default)]
    pub state: bool,
}

/// One host as the rollout sees it: its facts and its files (path → sha256, state files left
/// out: a deployment never overwrites them, so they never make a host change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostView {
    /// Facts.
    pub facts: HostFacts,
    /// Files that are not state, by absolute path.
    pub files: BTreeMap<String, String>,
}

/// Every host and service of one side of a rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fleet {
    /// Hosts by name.
    pub hosts: BTreeMap<String, HostView>,
    /// Services by name.
    pub services: BTreeMap<String, ServiceFacts>,
}

impl Fleet {
    /// The fleet a rendered tree describes.
    pub fn from_manifest(manifest: &Manifest) -> Self {
        let mut hosts: BTreeMap<String, HostView> = BTreeMap::new();
        for (name, facts) in &manifest.hosts {
            hosts.entry(name.clone()).or_default().facts = facts.clone();
        }
        for f in manifest.files.iter().filter(|f| !f.state) {
            hosts
                .entry(f.host.clone())
                .or_default()
                .files
                .insert(f.host_path.clone(), f.sha256.clone());
        }
        Fleet {
            hosts,
            services: manifest.services.clone(),
        }
    }

    /// The fleet as the hosts' own records say it runs (a host without a record runs nothing).
    pub fn from_states<'a>(states: impl IntoIterator<Item = &'a HostState>) -> Self {
        let mut fleet = Fleet::default();
        for state in states {
            let files = crate::collect::map(
                state
                    .files
                    .iter()
                    .filter(|f| !f.state)
                    .map(|f| (f.path.clone(), f.sha256.clone())),
            );
            fleet.hosts.insert(
                state.host.clone(),
                HostView {
                    facts: state.facts.clone(),
                    files,
                },
            );
            for (name, svc) in &state.services {
                fleet
                    .services
                    .entry(name.clone())
                    .or_insert_with(|| svc.clone());
            }
        }
        fleet
    }
}

/// Why a change may not run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Refusal {
    /// The service concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The statement.
    pub summary: String,
}

/// What one host does in the rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStep {
    /// Files added, changed or removed on it.
    pub files: usize,
    /// Prefixes it stops announcing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdraws: Vec<IpNet>,
    /// Prefixes it starts announcing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub announces: Vec<IpNet>,
    /// What BIRD restarts on it while it is applied ([`bird_restarts`]): its VIPs are withdrawn
    /// and announced again (or, on a reflector, its clients' routes dropped), so in flight it
    /// counts for no VIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bird_restarts: Option<String>,
}

/// The plan of a rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// False when the guard refuses the change: nothing may run.
    pub ok: bool,
    /// Hosts to apply, batch after batch (each batch may run in parallel).
    pub batches: Vec<Vec<String>>,
    /// Hosts of the new generation whose files do not change.
    pub unchanged: Vec<String>,
    /// Why the change may not run.
    pub refusals: Vec<Refusal>,
    /// What the change does to the announcements, and why hosts wait for others.
    pub statements: Vec<Change>,
    /// What each host to apply does.
    pub hosts: BTreeMap<String, HostStep>,
}

/// Settings of one rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Services whose VIPs may lose announcers below their minimum (intended withdrawals).
    #[serde(default)]
    pub allow_withdraw: Vec<String>,
    /// At most this many hosts in one batch (0: no limit beyond the guard's).
    #[serde(default)]
    pub max_batch: usize,
}

/// Where a host is while the rollout runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Old,
    InFlight,
    New,
}

/// A VIP the guard watches.
#[derive(Debug)]
struct Watched<'a> {
    vip: IpAddr,
    service: &'a str,
    /// Hosts through which it must keep reaching the upstreams.
    need: usize,
}

/// The two sides and everything derived from them once.
struct World<'a> {
    old: &'a Fleet,
    new: &'a Fleet,
    /// Route reflectors of either side.
    reflectors: BTreeSet<&'a str>,
    /// Hosts on which BIRD restarts what carries their routes.
    bird_restarts: BTreeMap<&'a str, String>,
}

fn host_announces(view: Option<&HostView>, vip: IpAddr, service: &str) -> bool {
    view.is_some_and(|v| {
        v.facts
            .announces
            .iter()
            .any(|a| !a.withdrawn && a.prefix.addr() == vip && a.service == service)
    })
}

fn accepts(view: Option<&HostView>, client: &str, vip: IpAddr) -> bool {
    view.is_some_and(|v| {
        v.facts
            .accepts
            .iter()
            .any(|a| a.client == client && a.prefixes.iter().any(|p| p.addr() == vip))
    })
}

impl World<'_> {
    fn phase(&self, host: &str, done: &BTreeSet<&str>, flying: &BTreeSet<&str>) -> Phase {
        if flying.contains(host) {
            Phase::InFlight
        } else if done.contains(host) {
            Phase::New
        } else {
            Phase::Old
        }
    }

    fn announces(&self, host: &str, vip: IpAddr, service: &str, phase: Phase) -> bool {
        let old = host_announces(self.old.hosts.get(host), vip, service);
        let new = host_announces(self.new.hosts.get(host), vip, service);
        match phase {
            Phase::Old => old,
            Phase::New => new,
            Phase::InFlight => old && new && !self.bird_restarts.contains_key(host),
        }
    }

    fn accepted(&self, reflector: &str, client: &str, vip: IpAddr, phase: Phase) -> bool {
        let old = accepts(self.old.hosts.get(reflector), client, vip);
        let new = accepts(self.new.hosts.get(reflector), client, vip);
        match phase {
            Phase::Old => old,
            Phase::New => new,
            Phase::InFlight => old && new && !self.bird_restarts.contains_key(reflector),
        }
    }

    /// The hosts through which `vip` reaches the upstreams in the given moment.
    fn reaching<'h>(
        &self,
        vip: IpAddr,
        service: &str,
        hosts: &BTreeSet<&'h str>,
        phase_of: &dyn Fn(&str) -> Phase,
    ) -> BTreeSet<&'h str> {
        hosts
            .iter()
            .copied()
            .filter(|h| self.announces(h, vip, service, phase_of(h)))
            .filter(|h| {
                self.reflectors.is_empty()
                    || self
                        .reflectors
                        .iter()
                        .any(|r| self.accepted(r, h, vip, phase_of(r)))
            })
            .collect()
    }
}

/// The statements about announcements between two fleets: the same words as `diff`.
pub fn announcement_changes(old: &Fleet, new: &Fleet) -> Vec<Change> {
    let mut out = BTreeSet::new();
    crate::diff::announcement_statements(
        old.hosts.iter().map(|(n, v)| (n.as_str(), &v.facts)),
        new.hosts.iter().map(|(n, v)| (n.as_str(), &v.facts)),
        &mut |kind, summary| {
            out.insert(Change { kind, summary });
        },
    );
    out.into_iter().collect()
}

/// Plans the rollout from `old` (what the hosts run) to `new`.
pub fn plan(old: &Fleet, new: &Fleet, options: &Options) -> Rollout {
    let allowed: BTreeSet<&str> = options.allow_withdraw.iter().map(String::as_str).collect();
    let reflectors: BTreeSet<&str> = old
        .hosts
        .iter()
        .chain(&new.hosts)
        .filter(|(_, v)| v.facts.roles.contains(&Role::RouteReflector))
        .map(|(n, _)| n.as_str())
        .collect();
    let bird_restarts: BTreeMap<&str, String> = new
        .hosts
        .iter()
        .filter_map(|(n, v)| {
            let o = old.hosts.get(n)?;
            Some((n.as_str(), bird_restarts(&o.facts, &v.facts)?))
        })
        .collect();
    let world = World {
        old,
        new,
        reflectors,
        bird_restarts,
    };

    // The hosts to apply: those of the new generation whose files differ from what they run.
    let mut changed: BTreeSet<&str> = BTreeSet::new();
    let mut unchanged = Vec::new();
    let empty = HostView::default();
    let mut steps = BTreeMap::new();
    for (name, view) in &new.hosts {
        let before = old.hosts.get(name).unwrap_or(&empty);
        if before.files == view.files {
            unchanged.push(name.clone());
            continue;
        }
        changed.insert(name.as_str());
        let files = crate::collect::set(before.files.keys().chain(view.files.keys()))
            .into_iter()
            .filter(|p| before.files.get(*p) != view.files.get(*p))
            .count();
        let prefixes = |v: &HostView| {
            crate::collect::set(
                v.facts
                    .announces
                    .iter()
                    .filter(|a| !a.withdrawn)
                    .map(|a| a.prefix),
            )
        };
        let (was, is) = (prefixes(before), prefixes(view));
        steps.insert(
            name.clone(),
            HostStep {
                files,
                withdraws: was.difference(&is).copied().collect(),
                announces: is.difference(&was).copied().collect(),
                bird_restarts: world.bird_restarts.get(name.as_str()).cloned(),
            },
        );
    }

    let mut refusals = BTreeSet::new();
    let mut statements: BTreeSet<Change> = announcement_changes(old, new).into_iter().collect();
    for (host, what) in &world.bird_restarts {
        statements.insert(Change {
            kind: ChangeKind::Session,
            summary: format!(
                "{host}: BIRD {what} when it is applied; while in flight it counts for none of the VIPs it announces or accepts"
            ),
        });
    }

    // Hosts that leave the site while they announce: nothing can be applied to them.
    for (name, view) in &old.hosts {
        if new.hosts.contains_key(name) {
            continue;
        }
        let live: Vec<String> = view
            .facts
            .announces
            .iter()
            .filter(|a| !a.withdrawn)
            .map(|a| a.prefix.addr().to_string())
            .collect();
        if live.is_empty() {
            statements.insert(Change {
                kind: ChangeKind::Host,
                summary: format!("{name} leaves the site: nothing is applied to it"),
            });
        } else {
            refusals.insert(Refusal {
                service: None,
                summary: format!(
                    "{name} leaves the site while it announces {}: drain it (drain: true) and roll that out first, then remove it",
                    live.join(", ")
                ),
            });
        }
    }

    // Every VIP announced before or after, with its service's limits.
    let service_facts = |service: &str| new.services.get(service).or(old.services.get(service));
    let old_announced = announced(old.hosts.iter().map(|(n, v)| (n.as_str(), &v.facts)));
    let new_announced = announced(new.hosts.iter().map(|(n, v)| (n.as_str(), &v.facts)));
    let all_hosts: BTreeSet<&str> = old
        .hosts
        .keys()
        .chain(new.hosts.keys())
        .map(String::as_str)
        .collect();
    let mut watched = Vec::new();
    for (vip, service) in crate::collect::set(old_announced.keys().chain(new_announced.keys())) {
        let (vip, service) = (*vip, *service);
        let min = service_facts(service).map_or(1, |s| usize::from(s.deploy.min_announcers));
        let before = world.reaching(vip, service, &all_hosts, &|_| Phase::Old);
        let after = world.reaching(vip, service, &all_hosts, &|_| Phase::New);
        let required = min.min(before.len());
        if after.len() < required {
            if allowed.contains(service) {
                statements.insert(Change {
                    kind: ChangeKind::Announce,
                    summary: format!(
                        "{service} ({vip}) drops below its minimum of {min} announcer(s), as --allow-withdraw {service} allows"
                    ),
                });
            } else {
                let names = |s: &BTreeSet<&str>| {
                    let v: Vec<&str> = s.iter().copied().collect();
                    if v.is_empty() {
                        "none".to_owned()
                    } else {
                        host_list(&v)
                    }
                };
                refusals.insert(Refusal {
                    service: Some(service.to_owned()),
                    summary: format!(
                        "{service} ({vip}) would be announced by {} after the change (now {}): fewer than its minimum of {}; if the withdrawal is intended, pass --allow-withdraw {service}",
                        names(&after),
                        names(&before),
                        required
                    ),
                });
            }
        }
        let need = if allowed.contains(service) {
            0
        } else {
            min.min(before.len()).min(after.len())
        };
        if need > 0 {
            watched.push(Watched { vip, service, need });
        }
    }

    let refusals: Vec<Refusal> = refusals.into_iter().collect();
    if !refusals.is_empty() {
        return Rollout {
            ok: false,
            batches: Vec::new(),
            unchanged,
            refusals,
            statements: statements.into_iter().collect(),
            hosts: steps,
        };
    }

    let limits = Limits::new(old, new, &changed);
    let order = Order::new(old, new, &changed, &steps);
    for (host, waits) in &order.waits_for {
        for (other, why) in waits {
            statements.insert(Change {
                kind: ChangeKind::Backend,
                summary: format!("{host} waits for {other}: {why}"),
            });
        }
    }

    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut remaining: BTreeSet<&str> = changed.clone();
    let mut batches = Vec::new();
    let mut refusals = Vec::new();
    let guard_holds = |done: &BTreeSet<&str>, flying: &BTreeSet<&str>| -> Option<String> {
        let mut after = done.clone();
        after.extend(flying.iter().copied());
        let empty = BTreeSet::new();
        for w in &watched {
            for (moment, (d, f)) in [("during", (done, flying)), ("after", (&after, &empty))] {
                let phase_of = |h: &str| world.phase(h, d, f);
                let reach = world.reaching(w.vip, w.service, &all_hosts, &phase_of);
                if reach.len() < w.need {
                    return Some(format!(
                        "{} ({}) would reach the upstreams through {} host(s) {moment} that batch, fewer than {}",
                        w.service,
                        w.vip,
                        reach.len(),
                        w.need
                    ));
                }
            }
        }
        None
    };
    while !remaining.is_empty() {
        let mut batch: BTreeSet<&str> = BTreeSet::new();
        let mut first_reason: Option<String> = None;
        for host in order.preference(&remaining) {
            if options.max_batch > 0 && batch.len() >= options.max_batch {
                break;
            }
            if order.blocked(host, &remaining) {
                continue;
            }
            let mut candidate = batch.clone();
            candidate.insert(host);
            if !limits.allow(&candidate) {
                continue;
            }
            match guard_holds(&done, &candidate) {
                None => batch = candidate,
                Some(reason) => {
                    first_reason.get_or_insert(format!("{host}: {reason}"));
                }
            }
        }
        if batch.is_empty() {
            // Predecessors that cannot go first (a cycle) must not stop the rollout: take the
            // first host the guard allows alone, whatever waits for what.
            if let Some(host) = order.preference(&remaining).into_iter().find(|h| {
                let one = BTreeSet::from([*h]);
                limits.allow(&one) && guard_holds(&done, &one).is_none()
            }) {
                statements.insert(Change {
                    kind: ChangeKind::Backend,
                    summary: format!(
                        "{host} goes before what it waits for: the waits form a cycle"
                    ),
                });
                batch.insert(host);
            } else {
                refusals.push(Refusal {
                    service: None,
                    summary: format!(
                        "no order keeps every VIP announced: {}",
                        first_reason.unwrap_or_else(|| "no host can be applied".to_owned())
                    ),
                });
                break;
            }
        }
        for h in &batch {
            remaining.remove(h);
            done.insert(h);
        }
        batches.push(batch.iter().map(|h| (*h).to_owned()).collect());
    }
    let ok = refusals.is_empty();
    Rollout {
        ok,
        batches: if ok { batches } else { Vec::new() },
        unchanged,
        refusals,
        statements: statements.into_iter().collect(),
        hosts: steps,
    }
}

/// How many hosts of a kind may be in one batch.
struct Limits<'a> {
    /// (members, at most this many in one batch).
    groups: Vec<(BTreeSet<&'a str>, usize)>,
}

impl<'a> Limits<'a> {
    fn new(old: &'a Fleet, new: &'a Fleet, changed: &BTreeSet<&'a str>) -> Self {
        let mut announcers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut backends: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut reflectors = BTreeSet::new();
        let mut monitors = BTreeSet::new();
        for fleet in [old, new] {
            for (name, view) in &fleet.hosts {
                let name = name.as_str();
                if !changed.contains(name) {
                    continue;
                }
                for a in &view.facts.announces {
                    announcers.entry(&a.service).or_default().insert(name);
                }
                for s in &view.facts.serves {
                    backends.entry(&s.service).or_default().insert(name);
                }
                if view.facts.roles.contains(&Role::RouteReflector) {
                    reflectors.insert(name);
                }
                if view.facts.roles.contains(&Role::Monitoring) {
                    monitors.insert(name);
                }
            }
        }
        let max_for = |service: &str| {
            new.services
                .get(service)
                .or(old.services.get(service))
                .map_or(1, |s| usize::from(s.deploy.max_in_flight.max(1)))
        };
        let mut groups = Vec::new();
        for (service, members) in announcers.into_iter().chain(backends) {
            if members.len() > 1 {
                groups.push((members, max_for(service)));
            }
        }
        groups.push((reflectors, 1));
        groups.push((monitors, 1));
        Limits { groups }
    }

    fn allow(&self, batch: &BTreeSet<&str>) -> bool {
        self.groups
            .iter()
            .all(|(members, max)| members.intersection(batch).count() <= *max)
    }
}

/// The preference class of monitoring hosts: last.
const MONITORING: u8 = 4;

/// The order of preference and what each host waits for.
struct Order<'a> {
    /// Preference class of each host to apply (lower first).
    class: BTreeMap<&'a str, u8>,
    /// host → hosts it must come after, with why.
    waits_for: BTreeMap<&'a str, BTreeMap<&'a str, String>>,
}

impl<'a> Order<'a> {
    fn new(
        old: &'a Fleet,
        new: &'a Fleet,
        changed: &BTreeSet<&'a str>,
        steps: &BTreeMap<String, HostStep>,
    ) -> Self {
        let mut class = BTreeMap::new();
        for host in changed {
            let facts = new.hosts.get(*host).map(|v| &v.facts);
            let has = |role: Role| facts.is_some_and(|f| f.roles.contains(&role));
            let step = steps.get(*host);
            let c = if step.is_some_and(|s| !s.withdraws.is_empty()) {
                0
            } else if has(Role::RouteReflector) {
                1
            } else if has(Role::Monitoring) {
                MONITORING
            } else if has(Role::Balancer) || has(Role::AnycastNode) {
                3
            } else {
                2
            };
            class.insert(*host, c);
        }
        let serves = |fleet: &'a Fleet, host: &str, service: &str, port: u16| {
            fleet.hosts.get(host).is_some_and(|v| {
                v.facts
                    .serves
                    .iter()
                    .any(|s| s.service == service && s.port == port)
            })
        };
        // Whether a balancer carries a service's traffic before the change: only then can the
        // order of it and a backend drop a request (a service new on a balancer is announced
        // only once HAProxy finds a usable server).
        let live = |balancer: &str, service: &str| {
            old.hosts.get(balancer).is_some_and(|v| {
                v.facts
                    .announces
                    .iter()
                    .any(|a| !a.withdrawn && a.service == service)
            })
        };
        let mut waits_for: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
        for balancer in changed {
            let sends = |fleet: &'a Fleet| {
                fleet
                    .hosts
                    .get(*balancer)
                    .map(|v| crate::collect::set(v.facts.sends.iter()))
                    .unwrap_or_default()
            };
            let (was, is) = (sends(old), sends(new));
            // Provide before use: the backend serves the port before the balancer sends to it.
            for s in is.difference(&was) {
                let backend = s.backend.as_str();
                if changed.contains(backend)
                    && live(balancer, &s.service)
                    && serves(new, backend, &s.service, s.port)
                    && !serves(old, backend, &s.service, s.port)
                {
                    waits_for.entry(balancer).or_default().insert(
                        backend,
                        format!("{backend} serves {} on {} first", s.service, s.port),
                    );
                }
            }
            // Stop using before stop providing.
            for s in was.difference(&is) {
                let backend = s.backend.as_str();
                if changed.contains(backend)
                    && live(balancer, &s.service)
                    && serves(old, backend, &s.service, s.port)
                    && !serves(new, backend, &s.service, s.port)
                {
                    waits_for.entry(backend).or_default().insert(
                        balancer,
                        format!(
                            "{balancer} stops sending {} to {backend}:{} first",
                            s.service, s.port
                        ),
                    );
                }
            }
        }
        Order { class, waits_for }
    }

    /// `remaining` in order of preference.
    fn preference(&self, remaining: &BTreeSet<&'a str>) -> Vec<&'a str> {
        let mut v: Vec<&str> = remaining.iter().copied().collect();
        crate::collect::sort_by(&mut v, |a, b| {
            (self.class.get(a), a).cmp(&(self.class.get(b), b))
        });
        v
    }

    /// Whether `host` still waits for a host that is not applied yet. Monitoring hosts wait
    /// for every other host: they check the new state once it exists.
    fn blocked(&self, host: &str, remaining: &BTreeSet<&str>) -> bool {
        let monitoring = self.class.get(host) == Some(&MONITORING);
        (monitoring
            && remaining
                .iter()
                .any(|h| self.class.get(h) != Some(&MONITORING)))
            || self
                .waits_for
                .get(host)
                .is_some_and(|w| w.keys().any(|other| remaining.contains(other)))
    }
}
