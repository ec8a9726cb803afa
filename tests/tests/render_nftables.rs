//! nftables target: `/etc/nftables.conf` on every host, checked three ways: `nft -c` through
//! the shared harness, a real load (twice, beside a foreign table) in a throwaway network
//! namespace, and a packet lab where a client namespace probes a server namespace running a
//! rendered ruleset (accepted = the TCP SYN reaches the stack and is refused; dropped = it
//! times out). Plus snapshots, byte stability and hostile strings that must never appear.
//!
//! Needs root, `nft`, `ip` (iproute2 with veth) and `curl`; a missing one fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;
use std::process::{Command, Output as ProcOutput};

use svcintent_core::render::{Output, Target};
use svcintent_host::daemons::{Daemon, Options, check_tree};
use svcintent_tests::{render_dir, repo_root, write_tree};

const CONF: &str = "/etc/nftables.conf";

fn fixture(name: &str) -> Output {
    render_dir(&repo_root().join("tests/fixtures/render").join(name)).1
}

fn campus() -> Output {
    render_dir(&repo_root().join("examples/campus")).1
}

fn conf<'a>(out: &'a Output, host: &str) -> &'a str {
    out.files
        .iter()
        .find(|f| f.host == host && f.path == CONF)
        .map(|f| f.contents.as_str())
        .unwrap_or_else(|| panic!("{host} has no {CONF}"))
}

fn run(cmd: &str, args: &[&str]) -> ProcOutput {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (is it installed?): {e}"))
}

fn run_ok(cmd: &str, args: &[&str]) -> String {
    let out = run(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `nft -c` on every host through the shared harness.
fn assert_nft_accepts(out: &Output) {
    let dir = tempfile::tempdir().unwrap();
    write_tree(out, dir.path()).unwrap();
    let opts = Options {
        daemons: vec![Daemon::Nftables],
        ..Options::default()
    };
    let report =
        check_tree(dir.path(), &opts).unwrap_or_else(|e| panic!("daemon check could not run: {e}"));
    let expected = out
        .files
        .iter()
        .filter(|f| f.target == Target::Nftables)
        .count();
    assert!(expected > 0);
    assert_eq!(
        report.checked.len(),
        expected,
        "not every nftables.conf was checked: {:?}",
        report.checked
    );
    let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "nft rejected:\n{}",
        failures.join("\n")
    );
}

/// A named network namespace, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(name: String) -> Self {
        let _ = run("ip", &["netns", "del", &name]);
        run_ok("ip", &["netns", "add", &name]);
        Netns(name)
    }

    fn exec(&self, args: &[&str]) -> ProcOutput {
        let mut all = vec!["netns", "exec", self.0.as_str()];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    fn exec_ok(&self, args: &[&str]) -> String {
        let out = self.exec(args);
        assert!(
            out.status.success(),
            "in {}: {args:?} failed: {}{}",
            self.0,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.0.as_str()];
        all.extend_from_slice(args);
        run_ok("ip", &all);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.0]);
    }
}

/// Loads `file` in a fresh namespace that already has a foreign table: twice (idempotent,
/// same ruleset both times), and the foreign table survives.
fn assert_loads(tag: &str, file: &Path) {
    let ns = Netns::new(format!("svcnft-{tag}-{}", std::process::id()));
    ns.exec_ok(&[
        "nft",
        "add table inet foreign; add chain inet foreign c { type filter hook input priority 10; }",
    ]);
    let path = file.to_str().unwrap();
    ns.exec_ok(&["nft", "-f", path]);
    let first = ns.exec_ok(&["nft", "list", "ruleset"]);
    ns.exec_ok(&["nft", "-f", path]);
    let second = ns.exec_ok(&["nft", "list", "ruleset"]);
    assert_eq!(first, second, "{tag}: reloading changed the ruleset");
    assert!(
        second.contains("table inet foreign"),
        "{tag}: the foreign table was removed:\n{second}"
    );
    assert!(
        second.contains("table inet svcintent"),
        "{tag}: our table is missing:\n{second}"
    );
}

#[test]
fn every_host_gets_one_ruleset() {
    let out = campus();
    let hosts: std::collections::BTreeSet<&str> =
        out.files.iter().map(|f| f.host.as_str()).collect();
    for host in hosts {
        let files: Vec<_> = out
            .files
            .iter()
            .filter(|f| f.host == host && f.target == Target::Nftables)
            .collect();
        assert_eq!(files.len(), 1, "{host}");
        assert_eq!(files[0].path, CONF);
        let text = &files[0].contents;
        assert!(
            text.starts_with("#!/usr/sbin/nft -f\n# Generated by svcintent"),
            "{host}: {text}"
        );
        assert!(
            !text.contains("flush ruleset"),
            "{host} must not flush other tables"
        );
    }
    // Services are listed where they allow something: lb1 balances every haproxy service.
    let lb1 = out
        .files
        .iter()
        .find(|f| f.host == "lb1" && f.target == Target::Nftables)
        .unwrap();
    assert!(lb1.services.contains(&"www".to_owned()) && !lb1.services.contains(&"bgp".to_owned()));
}

#[test]
fn campus_passes_nft_check_and_loads_in_a_namespace() {
    let out = campus();
    assert_nft_accepts(&out);
    let dir = tempfile::tempdir().unwrap();
    write_tree(&out, dir.path()).unwrap();
    for f in out.files.iter().filter(|f| f.target == Target::Nftables) {
        assert_loads(&f.host, &dir.path().join(f.tree_path()));
    }
}

#[test]
fn output_is_byte_stable() {
    let a = campus();
    let b = campus();
    for (x, y) in a
        .files
        .iter()
        .zip(&b.files)
        .filter(|(x, _)| x.target == Target::Nftables)
    {
        assert_eq!(x.contents, y.contents, "{}", x.tree_path());
    }
}

#[test]
fn policy_fixture_snapshots() {
    let out = fixture("nftables_policy");
    for host in ["lb1", "app1", "dns1", "mon1"] {
        insta::assert_snapshot!(format!("nftables_policy_{host}"), conf(&out, host));
    }
}

#[test]
fn overlapping_sources_are_aggregated() {
    let out = fixture("nftables_policy");
    let lb1 = conf(&out, "lb1");
    // 10.99.0.0/16 + 10.99.1.0/24 + 10.98.0.0/16: one /15 (the kernel refuses overlaps).
    assert!(
        lb1.contains("192.0.2.11 . tcp . 8443 . 10.98.0.0/15 comment \"restricted\""),
        "{lb1}"
    );
    assert!(
        !lb1.contains("10.99.1.0/24") && !lb1.contains("2001:db8:99:1::/64"),
        "{lb1}"
    );
    // 0.0.0.0/0 is "from anywhere"; a family without sources is closed.
    assert!(
        lb1.contains("192.0.2.12 . tcp . 25 comment \"anywhere\""),
        "{lb1}"
    );
    assert_nft_accepts(&out);
}

#[test]
fn hostile_strings_never_reach_nftables() {
    let out = fixture("nftables_injection");
    for f in out.files.iter().filter(|f| f.target == Target::Nftables) {
        assert!(
            !f.contents.contains("HOSTILE"),
            "{}:\n{}",
            f.tree_path(),
            f.contents
        );
        // Only the header, the fixed rules and identifier comments are quoted.
        for line in f.contents.lines().filter(|l| l.contains("comment \"")) {
            let c = line.split("comment \"").nth(1).unwrap();
            assert!(
                c.trim_end_matches([',', '"'])
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-, +".contains(c)),
                "{line}"
            );
        }
    }
    assert_nft_accepts(&out);
    let dir = tempfile::tempdir().unwrap();
    write_tree(&out, dir.path()).unwrap();
    for f in out.files.iter().filter(|f| f.target == Target::Nftables) {
        assert_loads(&format!("inj-{}", f.host), &dir.path().join(f.tree_path()));
    }
}

/// What a TCP connection attempt met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// The SYN reached the host's stack (no listener: refused): the firewall let it in.
    Reached,
    /// Nothing came back: dropped.
    Dropped,
}

/// A server namespace running a rendered ruleset, and a client namespace behind a veth pair.
/// Every address is a host address on `lo`; the two sides route to each other over the veth.
struct Lab {
    server: Netns,
    client: Netns,
}

impl Lab {
    fn new(tag: &str, ruleset: &Path, server_addrs: &[&str], client_addrs: &[&str]) -> Lab {
        let pid = std::process::id();
        let server = Netns::new(format!("svcnft-{tag}-s-{pid}"));
        let client = Netns::new(format!("svcnft-{tag}-c-{pid}"));
        run_ok(
            "ip",
            &[
                "link", "add", "vs", "netns", &server.0, "type", "veth", "peer", "name", "vc",
                "netns", &client.0,
            ],
        );
        for (ns, dev, v4, ll) in [
            (&server, "vs", "192.168.255.1/30", "fe80::1/64"),
            (&client, "vc", "192.168.255.2/30", "fe80::2/64"),
        ] {
            ns.exec_ok(&[
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ]);
            ns.exec_ok(&[
                "sysctl",
                "-qw",
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0",
            ]);
            ns.ip(&["link", "set", "lo", "up"]);
            ns.ip(&["addr", "add", v4, "dev", dev]);
            ns.ip(&["addr", "add", ll, "dev", dev, "nodad"]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        // Own addresses on `lo`; the other side's addresses routed over the veth.
        let sides = [
            (
                &server,
                server_addrs,
                client_addrs,
                "vs",
                "192.168.255.2",
                "fe80::2",
            ),
            (
                &client,
                client_addrs,
                server_addrs,
                "vc",
                "192.168.255.1",
                "fe80::1",
            ),
        ];
        for (ns, own, other, dev, via4, via6) in sides {
            for a in own {
                let plen = if a.contains(':') { "128" } else { "32" };
                ns.ip(&["addr", "add", &format!("{a}/{plen}"), "dev", "lo", "nodad"]);
            }
            for a in other {
                if a.contains(':') {
                    ns.ip(&[
                        "-6",
                        "route",
                        "add",
                        &format!("{a}/128"),
                        "via",
                        via6,
                        "dev",
                        dev,
                    ]);
                } else {
                    ns.ip(&["route", "add", &format!("{a}/32"), "via", via4, "dev", dev]);
                }
            }
        }
        server.exec_ok(&["nft", "-f", ruleset.to_str().unwrap()]);
        Lab { server, client }
    }

    /// A TCP connection attempt from `src` to `dst` port `port`.
    fn connect(&self, src: &str, dst: &str, port: u16) -> Fate {
        let host = if dst.contains(':') {
            format!("[{dst}]")
        } else {
            dst.to_owned()
        };
        let url = format!("http://{host}:{port}/");
        let out = self.client.exec(&[
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "--noproxy",
            "*",
            "--connect-timeout",
            "1.5",
            "--interface",
            src,
            &url,
        ]);
        match out.status.code() {
            Some(7) => Fate::Reached,
            Some(28) => Fate::Dropped,
            other => panic!(
                "curl {src} -> {url}: unexpected exit {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    fn ping(&self, src: &str, dst: &str) -> bool {
        self.client
            .exec(&["ping", "-c", "1", "-W", "2", "-I", src, dst])
            .status
            .success()
    }

    /// Runs the probes concurrently (each dropped one waits for its timeout).
    fn expect(&self, probes: &[(&str, &str, u16, Fate)]) {
        let results: Vec<(String, Fate, Fate)> = std::thread::scope(|s| {
            let handles: Vec<_> = probes
                .iter()
                .map(|(src, dst, port, want)| {
                    s.spawn(move || {
                        (
                            format!("{src} -> {dst} port {port}"),
                            *want,
                            self.connect(src, dst, *port),
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let wrong: Vec<String> = results
            .iter()
            .filter(|(_, want, got)| want != got)
            .map(|(p, want, got)| format!("{p}: expected {want:?}, got {got:?}"))
            .collect();
        let rules = self.server.exec_ok(&["nft", "list", "ruleset"]);
        assert!(
            wrong.is_empty(),
            "{}\n\nruleset:\n{rules}",
            wrong.join("\n")
        );
    }
}

#[test]
fn rulesets_filter_packets_as_planned() {
    use Fate::{Dropped, Reached};
    let out = fixture("nftables_policy");
    let dir = tempfile::tempdir().unwrap();
    write_tree(&out, dir.path()).unwrap();

    // A balancer: VIPs open, restricted (aggregated prefixes), closed ports; BGP from its peer.
    let lb1 = Lab::new(
        "lb1",
        &dir.path().join("lb1/etc/nftables.conf"),
        &[
            "198.18.1.1",
            "192.0.2.10",
            "192.0.2.11",
            "192.0.2.12",
            "2001:db8:ff:1::1",
            "2001:db8:100::10",
            "2001:db8:100::11",
        ],
        &[
            "172.16.0.5",
            "10.99.5.5",
            "10.98.5.5",
            "10.97.5.5",
            "198.18.0.1",
            "2001:db8:77::5",
            "2001:db8:99::5",
            "2001:db8:98::5",
            "2001:db8:ff::1",
        ],
    );
    lb1.expect(&[
        ("172.16.0.5", "192.0.2.10", 443, Reached),
        ("172.16.0.5", "192.0.2.10", 444, Dropped),
        ("172.16.0.5", "192.0.2.12", 25, Reached),
        ("10.99.5.5", "192.0.2.11", 8443, Reached),
        ("10.98.5.5", "192.0.2.11", 8443, Reached),
        ("10.97.5.5", "192.0.2.11", 8443, Dropped),
        ("10.99.5.5", "192.0.2.11", 443, Dropped),
        ("198.18.0.1", "198.18.1.1", 179, Reached),
        ("172.16.0.5", "198.18.1.1", 179, Dropped),
        ("172.16.0.5", "198.18.1.1", 22, Reached),
        ("2001:db8:77::5", "2001:db8:100::10", 443, Reached),
        ("2001:db8:99::5", "2001:db8:100::11", 8443, Reached),
        ("2001:db8:98::5", "2001:db8:100::11", 8443, Dropped),
        ("2001:db8:ff::1", "2001:db8:ff:1::1", 179, Reached),
        ("2001:db8:77::5", "2001:db8:ff:1::1", 179, Dropped),
        ("2001:db8:77::5", "2001:db8:ff:1::1", 22, Reached),
    ]);
    assert!(
        lb1.ping("172.16.0.5", "192.0.2.11"),
        "ICMP to a VIP must pass"
    );
    assert!(
        lb1.ping("2001:db8:77::5", "2001:db8:100::11"),
        "ICMPv6 to a VIP must pass"
    );
    drop(lb1);

    // A backend: its service ports only from the balancer and the monitoring host.
    let app1 = Lab::new(
        "app1",
        &dir.path().join("app1/etc/nftables.conf"),
        &["198.18.2.1", "2001:db8:ff:2::1"],
        &[
            "198.18.1.1",
            "198.18.9.1",
            "172.16.0.5",
            "2001:db8:ff:1::1",
            "2001:db8:ff:9::1",
            "2001:db8:77::5",
        ],
    );
    app1.expect(&[
        ("198.18.1.1", "198.18.2.1", 9443, Reached),
        ("198.18.9.1", "198.18.2.1", 9443, Reached),
        ("172.16.0.5", "198.18.2.1", 9443, Dropped),
        ("172.16.0.5", "198.18.2.1", 443, Dropped),
        ("172.16.0.5", "198.18.2.1", 22, Reached),
        ("2001:db8:ff:1::1", "2001:db8:ff:2::1", 443, Reached),
        ("2001:db8:ff:9::1", "2001:db8:ff:2::1", 2525, Reached),
        ("2001:db8:77::5", "2001:db8:ff:2::1", 443, Dropped),
    ]);
    drop(app1);

    // An anycast node: TCP 53 only from the allowed prefix.
    let dns1 = Lab::new(
        "dns1",
        &dir.path().join("dns1/etc/nftables.conf"),
        &[
            "198.18.3.1",
            "192.0.2.53",
            "2001:db8:ff:3::1",
            "2001:db8:100::53",
        ],
        &[
            "10.99.5.5",
            "172.16.0.5",
            "2001:db8:99::5",
            "2001:db8:77::5",
        ],
    );
    dns1.expect(&[
        ("10.99.5.5", "192.0.2.53", 53, Reached),
        ("172.16.0.5", "192.0.2.53", 53, Dropped),
        ("2001:db8:99::5", "2001:db8:100::53", 53, Reached),
        ("2001:db8:77::5", "2001:db8:100::53", 53, Dropped),
    ]);
}
