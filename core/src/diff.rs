//! What changes between two versions of a site, in the words a reviewer reads ("announces
//! 192.0.2.12 (www) from lb1..lb3", "opens 636/tcp from anywhere on lb1..lb3", "drains web2 from
//! www"), followed by the unified diff of every rendered file that changes.
//!
//! The statements come from the two validated intents and their plans, not from the rendered
//! text, so they say what the change does on the network whatever the targets' syntax.
//!
//! Invariant: the statements are grouped by [`ChangeKind`] in declaration order and sorted
//! within a kind; files are sorted by tree path. The same two sites always give the same diff.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::Built;
use crate::model::{Balancing, Intent, Service};
use crate::plan::facts::{HostFacts, announced, facts};
use crate::plan::topology::sessions;

/// What a statement is about, in the order statements are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// Hosts added, removed or given other roles.
    Host,
    /// Services added or removed, their balancing, VIPs and ports.
    Service,
    /// Backends and anycast nodes added to or removed from services, their weights.
    Backend,
    /// Hosts, backends and anycast nodes drained or undrained.
    Drain,
    /// VIPs announced or withdrawn, per announcing host.
    Announce,
    /// BGP sessions.
    Session,
    /// Firewall openings and closings.
    Firewall,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Change {
    /// What it is about.
    pub kind: ChangeKind,
    /// The statement.
    pub summary: String,
}

/// How a rendered file changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    /// Only in the new tree.
    Added,
    /// Only in the old tree.
    Removed,
    /// In both, with other contents.
    Changed,
}

/// One rendered file that changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileDiff {
    /// Tree path (`<host>/<path>`).
    pub path: String,
    /// Added, removed or changed.
    pub status: FileStatus,
    /// Unified diff (`--- a/<path>` / `+++ b/<path>`, 3 lines of context).
    pub unified: String,
}

/// The difference between two sites.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteDiff {
    /// Statements about the network.
    pub changes: Vec<Change>,
    /// Rendered files that change.
    pub files: Vec<FileDiff>,
}

impl SiteDiff {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.files.is_empty()
    }
}

/// The difference between two built sites.
pub fn diff(old: &Built, new: &Built) -> SiteDiff {
    let mut changes = BTreeSet::new();
    let mut say = |kind, summary: String| {
        changes.insert(Change { kind, summary });
    };
    hosts(&old.intent, &new.intent, &mut say);
    services(&old.intent, &new.intent, &mut say);
    announcements(old, new, &mut say);
    for session in sessions(&new.plan).difference(&sessions(&old.plan)) {
        say(
            ChangeKind::Session,
            format!("adds BGP session {} - {}", session.a, session.b),
        );
    }
    for session in sessions(&old.plan).difference(&sessions(&new.plan)) {
        say(
            ChangeKind::Session,
            format!("removes BGP session {} - {}", session.a, session.b),
        );
    }
    firewall(old, new, &mut say);
    SiteDiff {
        changes: changes.into_iter().collect(),
        files: files(old, new),
    }
}

pub(crate) type Say<'a> = dyn FnMut(ChangeKind, String) + 'a;

fn roles(intent: &Intent, host: &str) -> String {
    intent.hosts.get(host).map_or_else(String::new, |h| {
        h.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    })
}

fn hosts(old: &Intent, new: &Intent, say: &mut Say<'_>) {
    for (name, host) in &new.hosts {
        match old.hosts.get(name) {
            None => {
                let addresses: Vec<String> =
                    host.addresses().iter().map(ToString::to_string).collect();
                say(
                    ChangeKind::Host,
                    format!(
                        "adds host {name} ({}; {})",
                        roles(new, name),
                        addresses.join(", ")
                    ),
                );
                if host.drain {
                    say(ChangeKind::Drain, format!("drains {name}"));
                }
            }
            Some(before) => {
                if before.roles != host.roles {
                    say(
                        ChangeKind::Host,
                        format!("{name} roles: {} -> {}", roles(old, name), roles(new, name)),
                    );
                }
                if before.addresses() != host.addresses() {
                    let list = |h: &crate::model::Host| {
                        h.addresses()
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    say(
                        ChangeKind::Host,
                        format!("{name} addresses: {} -> {}", list(before), list(host)),
                    );
                }
                match (before.drain, host.drain) {
                    (false, true) => say(ChangeKind::Drain, format!("drains {name}")),
                    (true, false) => say(ChangeKind::Drain, format!("undrains {name}")),
                    _ => {}
                }
            }
        }
    }
    for name in old.hosts.keys().filter(|n| !new.hosts.contains_key(*n)) {
        say(ChangeKind::Host, format!("removes host {name}"));
    }
}

fn ports(svc: &Service) -> String {
    svc.ports
        .iter()
        .map(|p| format!("{}/{}", p.port, p.proto.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn vips(list: &[IpAddr]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn balancing(svc: &Service) -> &'static str {
    match svc.balancing {
        Balancing::Haproxy => "haproxy",
        Balancing::Anycast => "anycast",
    }
}

/// Members of a service's path: backends (with weight) or anycast nodes, and which are drained.
fn members(svc: &Service) -> BTreeMap<&str, (Option<u16>, bool)> {
    let mut out = BTreeMap::new();
    if let Some(h) = &svc.haproxy {
        for b in &h.backends {
            out.insert(b.host.as_str(), (Some(b.weight), b.drain));
        }
    }
    if let Some(a) = &svc.anycast {
        for n in &a.nodes {
            out.insert(n.as_str(), (None, a.drained.contains(n)));
        }
    }
    out
}

fn services(old: &Intent, new: &Intent, say: &mut Say<'_>) {
    for (name, svc) in &new.services {
        let Some(before) = old.services.get(name) else {
            say(
                ChangeKind::Service,
                format!(
                    "adds service {name} ({}; {}; {})",
                    balancing(svc),
                    vips(&svc.vips),
                    ports(svc)
                ),
            );
            continue;
        };
        if before.balancing != svc.balancing {
            say(
                ChangeKind::Service,
                format!(
                    "{name} balancing: {} -> {}",
                    balancing(before),
                    balancing(svc)
                ),
            );
        }
        for vip in svc.vips.iter().filter(|v| !before.vips.contains(v)) {
            say(ChangeKind::Service, format!("{name} gains VIP {vip}"));
        }
        for vip in before.vips.iter().filter(|v| !svc.vips.contains(v)) {
            say(ChangeKind::Service, format!("{name} loses VIP {vip}"));
        }
        if ports(before) != ports(svc) {
            say(
                ChangeKind::Service,
                format!("{name} ports: {} -> {}", ports(before), ports(svc)),
            );
        }
        let (was, is) = (members(before), members(svc));
        for (host, (weight, drained)) in &is {
            match was.get(host) {
                None => {
                    say(ChangeKind::Backend, format!("adds {host} to {name}"));
                    if *drained {
                        say(ChangeKind::Drain, format!("drains {host} from {name}"));
                    }
                }
                Some((old_weight, old_drained)) => {
                    if let (Some(a), Some(b)) = (old_weight, weight)
                        && a != b
                    {
                        say(
                            ChangeKind::Backend,
                            format!("{host} weight in {name}: {a} -> {b}"),
                        );
                    }
                    match (old_drained, drained) {
                        (false, true) => {
                            say(ChangeKind::Drain, format!("drains {host} from {name}"));
                        }
                        (true, false) => {
                            say(ChangeKind::Drain, format!("undrains {host} in {name}"));
                        }
                        _ => {}
                    }
                }
            }
        }
        for host in was.keys().filter(|h| !is.contains_key(*h)) {
            say(ChangeKind::Backend, format!("removes {host} from {name}"));
        }
    }
    for name in old
        .services
        .keys()
        .filter(|n| !new.services.contains_key(*n))
    {
        say(ChangeKind::Service, format!("removes service {name}"));
    }
}

/// The `announce` statements between two sets of host facts: one statement per service, set
/// of hosts and direction. Shared with the rollout ([`crate::rollout`]), which states the same
/// change from the manifests' facts.
pub(crate) fn announcement_statements<'a>(
    old: impl IntoIterator<Item = (&'a str, &'a HostFacts)>,
    new: impl IntoIterator<Item = (&'a str, &'a HostFacts)>,
    say: &mut Say<'_>,
) {
    let (was, is) = (announced(old), announced(new));
    let none = BTreeSet::new();
    // (announces?, service, hosts) → VIPs: one statement per service and set of hosts.
    let mut groups: BTreeMap<(bool, &str, Vec<&str>), Vec<IpAddr>> = BTreeMap::new();
    for key in crate::collect::set(was.keys().chain(is.keys())) {
        let before = was.get(key).unwrap_or(&none);
        let after = is.get(key).unwrap_or(&none);
        let (vip, service) = *key;
        for (announces, hosts) in [
            (true, after.difference(before).copied().collect::<Vec<_>>()),
            (false, before.difference(after).copied().collect()),
        ] {
            if !hosts.is_empty() {
                groups
                    .entry((announces, service, hosts))
                    .or_default()
                    .push(vip);
            }
        }
    }
    for ((announces, service, hosts), vip_list) in groups {
        say(
            ChangeKind::Announce,
            format!(
                "{} {service} ({}) from {}",
                if announces { "announces" } else { "withdraws" },
                vips(&vip_list),
                host_list(&hosts)
            ),
        );
    }
}

fn announcements(old: &Built, new: &Built, say: &mut Say<'_>) {
    let (was, is) = (
        facts(&old.intent, &old.plan).hosts,
        facts(&new.intent, &new.plan).hosts,
    );
    announcement_statements(
        was.iter().map(|(n, f)| (n.as_str(), f)),
        is.iter().map(|(n, f)| (n.as_str(), f)),
        say,
    );
}

/// One opening of a host's firewall: to `daddr`, `proto`/`port`, from `source` (`None`: anywhere).
type Opening = (IpAddr, &'static str, u16, Option<IpNet>);

fn openings(built: &Built) -> BTreeMap<&str, BTreeSet<Opening>> {
    let mut out: BTreeMap<&str, BTreeSet<Opening>> = BTreeMap::new();
    for host in built.plan.hosts.values() {
        let set = out.entry(host.name.as_str()).or_default();
        for a in &host.allow {
            let family: Vec<IpNet> = a
                .sources
                .iter()
                .filter(|n| n.addr().is_ipv4() == a.daddr.is_ipv4())
                .map(IpNet::trunc)
                .collect();
            // As the firewall renders it: no sources, or a /0, is open to anyone.
            if a.sources.is_empty() || family.iter().any(|n| n.prefix_len() == 0) {
                set.insert((a.daddr, a.proto.as_str(), a.port, None));
            } else {
                for n in family {
                    set.insert((a.daddr, a.proto.as_str(), a.port, Some(n)));
                }
            }
        }
    }
    out
}

fn firewall(old: &Built, new: &Built, say: &mut Say<'_>) {
    let (was, is) = (openings(old), openings(new));
    let none = BTreeSet::new();
    // (opens?, port, proto, source) → (hosts, destinations)
    type Group<'a> =
        BTreeMap<(bool, u16, &'static str, Option<IpNet>), (BTreeSet<&'a str>, BTreeSet<IpAddr>)>;
    let mut groups: Group<'_> = BTreeMap::new();
    for host in crate::collect::set(was.keys().chain(is.keys()).copied()) {
        let before = was.get(host).unwrap_or(&none);
        let after = is.get(host).unwrap_or(&none);
        for (opens, set) in [
            (true, after.difference(before)),
            (false, before.difference(after)),
        ] {
            for (daddr, proto, port, source) in set {
                let g = groups.entry((opens, *port, proto, *source)).or_default();
                g.0.insert(host);
                g.1.insert(*daddr);
            }
        }
    }
    for ((opens, port, proto, source), (hosts, daddrs)) in groups {
        let hosts: Vec<&str> = hosts.into_iter().collect();
        let daddrs: Vec<IpAddr> = daddrs.into_iter().collect();
        say(
            ChangeKind::Firewall,
            format!(
                "{} {port}/{proto} from {} on {} (to {})",
                if opens { "opens" } else { "closes" },
                source.map_or_else(|| "anywhere".to_owned(), |n| n.to_string()),
                host_list(&hosts),
                vips(&daddrs)
            ),
        );
    }
}

/// `lb1..lb3, web2`: runs of three or more names that differ only in a consecutive trailing
/// number are shortened. `names` must be sorted.
pub fn host_list(names: &[&str]) -> String {
    fn split(name: &str) -> (&str, Option<u64>) {
        let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
        let digits = name.get(stem.len()..).unwrap_or_default();
        // Leading zeros would not survive the round trip through a number.
        if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
            (name, None)
        } else {
            (stem, digits.parse().ok())
        }
    }
    let mut numbered: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    let mut plain = BTreeSet::new();
    for name in names {
        match split(name) {
            (stem, Some(n)) => {
                numbered.entry(stem).or_default().insert(n);
            }
            _ => {
                plain.insert((*name).to_owned());
            }
        }
    }
    let mut parts: BTreeSet<String> = plain;
    for (stem, numbers) in numbered {
        let numbers: Vec<u64> = numbers.into_iter().collect();
        let mut i = 0;
        while let Some(&first) = numbers.get(i) {
            let mut j = i;
            while numbers
                .get(j + 1)
                .is_some_and(|&n| Some(n) == numbers.get(j).map(|m| m + 1))
            {
                j += 1;
            }
            let last = numbers.get(j).copied().unwrap_or(first);
            if j - i >= 2 {
                parts.insert(format!("{stem}{first}..{stem}{last}"));
            } else {
                for n in numbers.get(i..=j).unwrap_or_default() {
                    parts.insert(format!("{stem}{n}"));
                }
            }
            i = j + 1;
        }
    }
    parts.into_iter().collect::<Vec<_>>().join(", ")
}

fn files(old: &Built, new: &Built) -> Vec<FileDiff> {
    let by_path = |b: &Built| -> BTreeMap<String, String> {
        crate::collect::map(
            b.output
                .files
                .iter()
                .map(|f| (f.tree_path(), f.contents.clone())),
        )
    };
    let (was, is) = (by_path(old), by_path(new));
    let mut out = Vec::new();
    for path in crate::collect::set(was.keys().chain(is.keys()).map(String::as_str)) {
        let (status, before, after) = match (was.get(path), is.get(path)) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => (FileStatus::Changed, a.as_str(), b.as_str()),
            (None, Some(b)) => (FileStatus::Added, "", b.as_str()),
            (Some(a), None) => (FileStatus::Removed, a.as_str(), ""),
            (None, None) => continue,
        };
        let old_name = match status {
            FileStatus::Added => "/dev/null".to_owned(),
            _ => format!("a/{path}"),
        };
        let new_name = match status {
            FileStatus::Removed => "/dev/null".to_owned(),
            _ => format!("b/{path}"),
        };
        let unified = similar::TextDiff::from_lines(before, after)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
            .to_string();
        out.push(FileDiff {
            path: path.to_owned(),
            status,
            unified,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::host_list;

    #[test]
    fn host_lists_shorten_runs_of_three_or_more() {
        assert_eq!(host_list(&["lb1", "lb2", "lb3"]), "lb1..lb3");
        assert_eq!(host_list(&["lb1", "lb2"]), "lb1, lb2");
        assert_eq!(
            host_list(&["lb1", "lb3", "lb4", "lb5", "mon"]),
            "lb1, lb3..lb5, mon"
        );
        assert_eq!(
            host_list(&["kdc1", "web01", "web02", "web03"]),
            "kdc1, web01, web02, web03"
        );
        assert_eq!(host_list(&[]), "");
    }
}
