//! nftables target: `/etc/nftables.conf` on every host (Debian's `nftables.service` loads it).
//!
//! # Policy: drop for the service addresses, accept for everything else
//!
//! The file owns one table, `inet svcintent`, and nothing else. It is declared, deleted and
//! defined again in the same file (`table inet svcintent` / `delete table inet svcintent` /
//! `table inet svcintent { ... }`), which nft applies as one transaction: reloading is
//! idempotent and atomic whether or not the table existed, and other tables (Docker's, the
//! operator's own SSH rules) are never touched. That is also why the file does not use
//! `flush ruleset`.
//!
//! Its input chain has `policy accept` and drops exactly the traffic svcintent is responsible
//! for, unless the plan allows it:
//!
//! - anything addressed to a VIP the host announces (`svc4_vips`/`svc6_vips`): only the
//!   service's ports from the service's allowed sources get in (plus ICMP, loopback and
//!   established flows);
//! - the service ports on the host's own addresses that the plan guards (backend ports, which
//!   only the balancers and the monitoring hosts may reach; BGP 179/tcp, which only the
//!   session's peer may reach): `svc4_ports`/`svc6_ports`.
//!
//! Everything else keeps the host's existing behaviour. A full default-drop was rejected
//! because the intent knows no management network: it would lock operators out of SSH (and the
//! monitoring host out of `check_by_ssh`), and because in nftables an `accept` in one table
//! does not override a `drop` in another: a policy-drop chain here would make every other
//! table's SSH or agent rules useless. A site that wants a host-wide default drop adds its own
//! table for it.
//!
//! Lookups are sets with concatenations, one element per (address, protocol, port[, source
//! prefix]), never a rule per service:
//!
//! | set | type | meaning |
//! | --- | --- | --- |
//! | `svcN_vips` | address | VIPs announced here: everything else to them is dropped |
//! | `svcN_ports` | address . proto . port | guarded ports on host addresses |
//! | `svcN_open` | address . proto . port | allowed from anywhere |
//! | `svcN_allowed` | address . proto . port . source (interval) | allowed from a prefix |
//!
//! The kernel rejects overlapping elements in an interval concatenation ("File exists"), so the
//! sources of one (address, proto, port) are aggregated first; a `/0` source, or an allowance
//! without sources, makes the key open. Element comments carry only identifiers (service names
//! and `bgp`), checked by the `nftables_comment` filter: nft's quoted strings have no escape
//! at all.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

use super::{Context, RenderError, RenderedFile, Target};
use crate::model::Proto;
use crate::plan::HostPlan;

const TEMPLATE: &str = "nftables/nftables.conf.j2";
const PATH: &str = "/etc/nftables.conf";
/// nft stores element comments in 128 bytes (`NFTNL_UDATA_COMMENT_MAXLEN`).
const COMMENT_MAX: usize = 127;

/// Registers this target's templates and escaping filters.
pub fn register(env: &mut Environment<'static>) {
    if let Err(e) = env.add_template(
        TEMPLATE,
        include_str!("../../templates/nftables/nftables.conf.j2"),
    ) {
        debug_assert!(false, "nftables template: {e}");
    }
    env.add_filter("nftables_comment", |s: &str| {
        comment(s).map_err(|m| Error::new(ErrorKind::InvalidOperation, m))
    });
}

/// An nft quoted string for a comment. nft strings (`"[^"]*"`) have no escape sequences, so
/// only characters that can never end or break the string are accepted: ASCII letters,
/// digits, space and `-_.,:+/`. Everything that reaches comments is an identifier.
pub fn comment(s: &str) -> Result<String, String> {
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || " -_.,:+/".contains(*c)))
    {
        return Err(format!("{c:?} cannot be written in an nftables comment"));
    }
    if s.len() > COMMENT_MAX {
        return Err(format!(
            "comment of {} bytes is longer than nft allows",
            s.len()
        ));
    }
    Ok(format!("\"{s}\""))
}

/// One set element.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Element {
    /// Destination address.
    pub daddr: IpAddr,
    /// `tcp` or `udp` (an nft `inet_proto` keyword).
    pub proto: &'static str,
    /// Destination port.
    pub port: u16,
    /// Source prefix (`svcN_allowed` only).
    pub source: Option<IpNet>,
    /// Why (service names or `bgp`), for the element comment.
    pub comment: String,
}

/// The sets of one address family.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FamilySets {
    /// VIPs announced by the host.
    pub vips: Vec<IpAddr>,
    /// Guarded (address, proto, port) on the host's own addresses.
    pub ports: Vec<Element>,
    /// Allowed from anywhere.
    pub open: Vec<Element>,
    /// Allowed from a source prefix.
    pub allowed: Vec<Element>,
}

/// What the template renders for one host.
#[derive(Debug, Clone, Serialize)]
pub struct Ruleset {
    /// The file header (comment lines).
    pub header: String,
    /// IPv4 sets.
    pub v4: FamilySets,
    /// IPv6 sets.
    pub v6: FamilySets,
    /// Services that contributed.
    pub services: Vec<String>,
}

fn proto(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

/// `a,b` for one or two reasons, `a +N` beyond (the comment stays short).
fn reasons_comment(reasons: &BTreeSet<String>) -> String {
    let list: Vec<&str> = reasons.iter().map(String::as_str).collect();
    match list.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [a, b] => format!("{a},{b}"),
        [a, rest @ ..] => format!("{a} +{}", rest.len()),
    }
}

type Key = (IpAddr, Proto, u16);

/// Computes the sets of a host from its plan.
pub fn ruleset(host: &HostPlan) -> (FamilySets, FamilySets, Vec<String>) {
    let vips: BTreeSet<IpAddr> = crate::collect::set(host.announcements.iter().map(|a| a.vip));
    let mut reasons: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    let mut open: BTreeSet<Key> = BTreeSet::new();
    let mut sources: BTreeMap<Key, Vec<IpNet>> = BTreeMap::new();
    let mut services = BTreeSet::new();
    for a in &host.allow {
        let key = (a.daddr, a.proto, a.port);
        reasons.entry(key).or_default().insert(a.reason.clone());
        // BGP sessions and the Icinga2 zone's API belong to no service.
        if a.reason != "bgp" && a.reason != "icinga2-api" {
            services.insert(a.reason.clone());
        }
        // Sources of the other family can never match (the plan filters them; be sure).
        let fam: Vec<IpNet> = a
            .sources
            .iter()
            .filter(|n| n.addr().is_ipv4() == a.daddr.is_ipv4())
            .map(IpNet::trunc)
            .collect();
        if a.sources.is_empty() || fam.iter().any(|n| n.prefix_len() == 0) {
            open.insert(key);
        } else {
            sources.entry(key).or_default().extend(fam);
        }
    }
    let mut v4 = FamilySets::default();
    let mut v6 = FamilySets::default();
    for vip in &vips {
        if vip.is_ipv4() { &mut v4 } else { &mut v6 }
            .vips
            .push(*vip);
    }
    for (key, why) in &reasons {
        let (daddr, p, port) = *key;
        let fam = if daddr.is_ipv4() { &mut v4 } else { &mut v6 };
        let comment = reasons_comment(why);
        let element = |source| Element {
            daddr,
            proto: proto(p),
            port,
            source,
            comment: comment.clone(),
        };
        if !vips.contains(&daddr) {
            fam.ports.push(element(None));
        }
        if open.contains(key) {
            fam.open.push(element(None));
        } else if let Some(nets) = sources.get(key) {
            for net in IpNet::aggregate(nets) {
                fam.allowed.push(element(Some(net)));
            }
        }
    }
    (v4, v6, services.into_iter().collect())
}

/// Files this host gets from this target: `/etc/nftables.conf`, on every host.
pub fn render(cx: &Context<'_>, host: &HostPlan) -> Result<Vec<RenderedFile>, RenderError> {
    let (v4, v6, services) = ruleset(host);
    let header = cx.header("#", &host.name, &services);
    let ctx = Ruleset {
        header,
        v4,
        v6,
        services: services.clone(),
    };
    let contents = cx.render_template(Target::Nftables, &host.name, TEMPLATE, &ctx)?;
    Ok(vec![RenderedFile {
        host: host.name.clone(),
        path: PATH.to_owned(),
        target: Target::Nftables,
        contents,
        services,
        origins: Vec::new(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_take_identifiers_only() {
        assert_eq!(
            comment("www,intranet +2").as_deref(),
            Ok("\"www,intranet +2\"")
        );
        for bad in ["a\"b", "a\nb", "a;b", "a#b", "a\\b", "a$b", "a{b}", "é"] {
            assert!(comment(bad).is_err(), "{bad:?}");
        }
        assert!(comment(&"a".repeat(128)).is_err());
    }

    #[test]
    fn template_parses() {
        let mut env = Environment::new();
        register(&mut env);
        assert!(env.get_template(TEMPLATE).is_ok());
    }

    #[test]
    fn reasons_stay_short() {
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(reasons_comment(&set(&["b", "a"])), "a,b");
        assert_eq!(reasons_comment(&set(&["c", "b", "a"])), "a +2");
    }
}
