//! Cross-daemon consistency of the rendered campus tree, read back from the files themselves
//! (not from the plan that produced them): every VIP:port HAProxy binds is announced through the
//! health announcer, allowed by nftables, accepted by every route reflector's filter for that
//! balancer and monitored by Icinga2; every prefix a host would announce is served there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;

use svcintent_tests::tree_checks::{
    self, bird_protocol, haproxy_binds, icinga_monitors, prefix_of,
};
use svcintent_tests::{render_dir, repo_root, write_tree};

struct Tree {
    root: PathBuf,
}

impl Tree {
    fn read(&self, host: &str, path: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(host).join(path.trim_start_matches('/'))).ok()
    }
    fn hosts(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.root)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
    /// `(prefix, disabled)` of every anycast-healthchecker section on a host.
    fn announced(&self, host: &str) -> BTreeMap<String, bool> {
        tree_checks::announced(&self.root, host)
    }
}

fn bird_symbol(host: &str) -> String {
    host.replace('-', "_")
}

fn nft_allows(conf: &str, vip: IpAddr, proto: &str, port: u16) -> bool {
    conf.contains(&format!("{vip} . {proto} . {port}"))
}

#[test]
fn every_bound_vip_is_announced_allowed_accepted_and_monitored() {
    let (_, out) = render_dir(&repo_root().join("examples/campus"));
    let tmp = tempfile::tempdir().unwrap();
    write_tree(&out, tmp.path()).unwrap();
    let tree = Tree {
        root: tmp.path().to_path_buf(),
    };
    let rrs: Vec<(String, String)> = ["rr1", "rr2"]
        .iter()
        .map(|r| {
            (
                (*r).to_owned(),
                tree.read(r, "/etc/bird/bird.conf").expect("rr bird.conf"),
            )
        })
        .collect();
    let icinga = tree
        .read("mon1", "/etc/icinga2/conf.d/svcintent/services.conf")
        .expect("icinga services");
    let drained: BTreeSet<&str> = ["lb3"].into();

    let mut balancers_seen = 0;
    for host in tree.hosts() {
        let Some(cfg) = tree.read(&host, "/etc/haproxy/haproxy.cfg") else {
            continue;
        };
        balancers_seen += 1;
        let binds = haproxy_binds(&cfg);
        assert!(!binds.is_empty(), "{host} binds nothing");
        let announced = tree.announced(&host);
        let nft = tree
            .read(&host, "/etc/nftables.conf")
            .expect("nftables.conf");
        let bird = tree.read(&host, "/etc/bird/bird.conf").expect("bird.conf");
        for (vip, port) in &binds {
            let prefix = prefix_of(*vip);
            let disabled = announced
                .get(&prefix)
                .unwrap_or_else(|| panic!("{host}: {vip}:{port} bound but not announced"));
            assert_eq!(
                *disabled,
                drained.contains(host.as_str()),
                "{host}: {prefix} drain state"
            );
            assert!(
                nft_allows(&nft, *vip, "tcp", *port),
                "{host}: nftables does not allow {vip} tcp {port}"
            );
            if !drained.contains(host.as_str()) {
                assert!(
                    bird.contains(&prefix),
                    "{host}: BIRD does not export {prefix}"
                );
            }
            let fam = if vip.is_ipv4() { "v4" } else { "v6" };
            for (rr, conf) in &rrs {
                let proto = bird_protocol(conf, &format!("cl_{}_{fam}", bird_symbol(&host)))
                    .unwrap_or_else(|| panic!("{rr}: no session for {host} {fam}"));
                assert!(
                    proto.contains(&prefix),
                    "{rr}: filter for {host} does not accept {prefix}"
                );
            }
            assert!(
                icinga_monitors(&icinga, *vip, *port),
                "Icinga2 does not monitor {vip}:{port}"
            );
        }
        // Nothing is announced that is not served here.
        let bound: BTreeSet<String> = binds.iter().map(|(v, _)| prefix_of(*v)).collect();
        for prefix in announced.keys() {
            assert!(
                bound.contains(prefix),
                "{host}: announces {prefix} but HAProxy does not bind it"
            );
        }
    }
    assert_eq!(balancers_seen, 3);

    // Anycast nodes: every announced prefix is allowed on some port, accepted and monitored.
    let mut nodes_seen = 0;
    for host in ["kdc1", "kdc2", "dns1", "dns2"] {
        nodes_seen += 1;
        let nft = tree
            .read(host, "/etc/nftables.conf")
            .expect("nftables.conf");
        let announced = tree.announced(host);
        assert!(!announced.is_empty(), "{host} announces nothing");
        for prefix in announced.keys() {
            let vip: IpAddr = prefix.split('/').next().unwrap().parse().unwrap();
            let ports: Vec<(String, u16)> = nft
                .lines()
                .filter_map(|l| {
                    let l = l.trim().trim_end_matches(',');
                    let mut parts = l.split(" . ");
                    let (a, p, n) = (parts.next()?, parts.next()?, parts.next()?);
                    if a != vip.to_string() {
                        return None;
                    }
                    let port: u16 = n.split_whitespace().next()?.parse().ok()?;
                    Some((p.to_owned(), port))
                })
                .collect();
            assert!(
                !ports.is_empty(),
                "{host}: announces {prefix} but nftables allows no port on it"
            );
            let fam = if vip.is_ipv4() { "v4" } else { "v6" };
            for (rr, conf) in &rrs {
                let proto =
                    bird_protocol(conf, &format!("cl_{}_{fam}", bird_symbol(host))).unwrap();
                assert!(
                    proto.contains(prefix.as_str()),
                    "{rr}: filter for {host} does not accept {prefix}"
                );
            }
            for (_, port) in &ports {
                assert!(
                    icinga_monitors(&icinga, vip, *port),
                    "Icinga2 does not monitor {vip}:{port}"
                );
            }
        }
    }
    assert_eq!(nodes_seen, 4);
}

#[test]
fn route_reflectors_accept_nothing_a_client_is_not_entitled_to() {
    let (_, out) = render_dir(&repo_root().join("examples/campus"));
    let tmp = tempfile::tempdir().unwrap();
    write_tree(&out, tmp.path()).unwrap();
    let tree = Tree {
        root: tmp.path().to_path_buf(),
    };
    let rr = tree.read("rr1", "/etc/bird/bird.conf").unwrap();
    // kdc1 serves Kerberos only: its filter must not list the resolver's or www's VIPs.
    let kdc = bird_protocol(&rr, "cl_kdc1_v4").unwrap();
    assert!(kdc.contains("192.0.2.88/32"));
    for other in ["192.0.2.53/32", "192.0.2.10/32"] {
        assert!(!kdc.contains(other), "kdc1 may not announce {other}");
    }
}
