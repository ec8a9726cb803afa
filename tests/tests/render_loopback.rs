//! Loopback target: the `.network` files (snapshots) and the real systemd-networkd applying
//! them to `lo` in a private network namespace (and, as documented, not removing VIPs that are
//! gone).
//!
//! Needs: systemd-networkd (`/lib/systemd/systemd-networkd`, systemd 252 on Debian 12), the
//! `systemd-network` user, `ip`, `unshare`, and real root: networkd drops its privileges to
//! `systemd-network`, which a user namespace cannot map. A missing one fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use svcintent_core::render::{Output, Target};
use svcintent_tests::{render_dir, repo_root};

const PATH: &str = "/etc/systemd/network/50-svcintent-vips.network";

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/render").join(name)
}

fn network_file<'a>(out: &'a Output, host: &str) -> &'a str {
    out.files
        .iter()
        .find(|f| f.host == host && f.path == PATH)
        .map(|f| f.contents.as_str())
        .unwrap_or_else(|| panic!("{host} has no {PATH}"))
}

#[test]
fn network_files() {
    let (_s, out) = render_dir(&fixture("loopback_vips"));
    for host in ["lb1", "lb2", "n1", "spare1"] {
        insta::assert_snapshot!(format!("vips_{host}"), network_file(&out, host));
    }
    // Only announcers get one.
    for host in ["rr1", "app1"] {
        assert!(
            !out.files
                .iter()
                .any(|f| f.host == host && f.target == Target::Loopback),
            "{host}"
        );
    }
    // Nothing but the header, comments, the two sections, Name=lo and addresses: the hostile
    // descriptions do not reach the file.
    for f in out.files.iter().filter(|f| f.target == Target::Loopback) {
        for line in f.contents.lines() {
            let ok = line.is_empty()
                || line.starts_with("# ")
                || ["[Match]", "[Network]", "Name=lo"].contains(&line)
                || line
                    .strip_prefix("Address=")
                    .and_then(|a| a.split_once('/'))
                    .is_some_and(|(ip, len)| {
                        ip.parse::<std::net::IpAddr>()
                            .is_ok_and(|ip| len == if ip.is_ipv4() { "32" } else { "128" })
                    });
            assert!(ok, "{}: unexpected line {line:?}", f.host);
            assert!(!line.contains("10.0.0."), "{}: {line:?}", f.host);
        }
    }
}

/// Runs systemd-networkd in a private network and mount namespace, once per given file (each
/// run starting from the addresses the previous one left), and returns the addresses on `lo`
/// after each run, plus networkd's logs.
fn networkd_runs(files: &[&str]) -> (Vec<BTreeSet<String>>, String) {
    assert!(
        Path::new("/lib/systemd/systemd-networkd").is_file(),
        "systemd-networkd is not installed"
    );
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "this test runs systemd-networkd and needs real root"
    );
    let work = tempfile::tempdir().unwrap();
    for (i, f) in files.iter().enumerate() {
        std::fs::write(work.path().join(format!("{i}.network")), f).unwrap();
    }
    let script = r#"
set -eu
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/netif /run/udev
chown systemd-network:systemd-network /run/systemd/netif
# Read-only /sys: networkd then does not wait for udev (as in a container).
mount -t sysfs -o ro sysfs /sys
mkdir -p $W/net
mount --bind $W/net /etc/systemd/network
ip link set lo up
i=0
while [ -f $W/$i.network ]; do
  rm -f $W/net/*
  cp $W/$i.network $W/net/50-svcintent-vips.network
  SYSTEMD_LOG_LEVEL=debug /lib/systemd/systemd-networkd > $W/log.$i 2>&1 &
  pid=$!
  n=0
  until grep -q 'lo: State changed: configuring -> configured' $W/log.$i; do
    n=$((n+1)); if [ $n -gt 100 ]; then echo "networkd did not configure lo"; cat $W/log.$i; exit 1; fi
    sleep 0.1
  done
  kill $pid; wait $pid || true
  ip -o addr show dev lo | awk '{print $4}' > $W/addrs.$i
  # What anycast-healthchecker runs before each check.
  for a in $(cat $W/addrs.$i); do ip address show dev lo to $a | grep -q " $a " || { echo "ip ... to $a does not print $a"; exit 1; }; done
  i=$((i+1))
done
"#;
    let out = Command::new("timeout")
        .args([
            "-k",
            "5",
            "120",
            "unshare",
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--mount-proc",
            "--",
            "bash",
            "-c",
            script,
        ])
        .env("W", work.path())
        .output()
        .expect("timeout and unshare are needed");
    let mut logs = String::new();
    let mut sets = Vec::new();
    for i in 0..files.len() {
        logs.push_str(
            &std::fs::read_to_string(work.path().join(format!("log.{i}"))).unwrap_or_default(),
        );
        if let Ok(text) = std::fs::read_to_string(work.path().join(format!("addrs.{i}"))) {
            sets.push(text.lines().map(str::to_owned).collect());
        }
    }
    assert!(
        out.status.success(),
        "networkd run failed: {}\n{}\n{logs}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (sets, logs)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn networkd_puts_the_vips_on_lo_and_leaves_stale_ones() {
    let (_s, out) = render_dir(&fixture("loopback_vips"));
    let lb1 = network_file(&out, "lb1");
    let n1 = network_file(&out, "n1");
    let spare1 = network_file(&out, "spare1");
    let (sets, logs) = networkd_runs(&[lb1, n1, spare1]);
    let base = ["127.0.0.1/8", "::1/128"];
    let mut want = set(&base);
    want.extend(set(&[
        "192.0.2.9/32",
        "192.0.2.200/32",
        "2001:db8:100::9/128",
        "2001:db8:100::20/128",
    ]));
    assert_eq!(sets[0], want, "lb1's VIPs on lo");
    // networkd adds n1's VIP but does not remove lb1's from lo (loopback is exempt from its
    // cleanup of foreign addresses): documented in render::loopback. If this ever changes,
    // update the module docs.
    let mut want = sets[0].clone();
    want.insert("192.0.2.53/32".to_owned());
    assert_eq!(sets[1], want, "n1's VIP added, lb1's left in place");
    assert_eq!(sets[2], want, "a file without addresses changes nothing");
    // networkd complained about nothing in our file.
    for line in logs
        .lines()
        .filter(|l| l.contains("50-svcintent-vips.network"))
    {
        assert!(
            !line.contains("ignoring") && !line.contains("rror"),
            "networkd: {line}"
        );
    }
}
