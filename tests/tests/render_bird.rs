//! BIRD target: the rendered configurations (snapshots), `bird -p` on rendered trees, hostile
//! strings that must never reach bird.conf, and a lab run in network namespaces where the real
//! BIRD and anycast-healthchecker announce, reflect, drain and withdraw VIPs end to end.
//!
//! Needs: `bird` (BIRD 2), the anycast-healthchecker venv (`SVCINTENT_HEALTHCHECKER` or
//! `/opt/svcintent-venv`), `unshare` with user, mount, network and PID namespaces, `ip`
//! (iproute2, with bridge and veth support). A missing one fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use svcintent_core::render::{Output, Target};
use svcintent_host::daemons::{Daemon, Options, check_tree};
use svcintent_tests::{render_dir, repo_root, write_tree};

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/render").join(name)
}

fn render_tree(site: &Path) -> (Output, tempfile::TempDir) {
    let (_sources, out) = render_dir(site);
    let dir = tempfile::tempdir().unwrap();
    write_tree(&out, dir.path()).unwrap();
    (out, dir)
}

fn bird_conf<'a>(out: &'a Output, host: &str) -> &'a str {
    out.files
        .iter()
        .find(|f| f.host == host && f.path == "/etc/bird/bird.conf")
        .map(|f| f.contents.as_str())
        .unwrap_or_else(|| panic!("{host} has no bird.conf"))
}

fn bird_accepts(tree: &Path) {
    let opts = Options {
        daemons: vec![Daemon::Bird, Daemon::Healthchecker],
        ..Options::default()
    };
    let report =
        check_tree(tree, &opts).unwrap_or_else(|e| panic!("daemon checks could not run: {e}"));
    let text: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert!(report.is_ok(), "rejected:\n{}", text.join("\n"));
    assert!(
        report.checked.iter().any(|(d, _, _)| *d == Daemon::Bird),
        "bird checked nothing"
    );
}

#[test]
fn sessions_of_every_kind() {
    let (out, _tree) = render_tree(&fixture("bird_sessions"));
    for host in ["rr1", "lb1", "lb3", "spare1", "n2"] {
        insta::assert_snapshot!(format!("sessions_{host}"), bird_conf(&out, host));
    }
    // Hosts that speak no BGP get no bird.conf.
    assert!(
        !out.files
            .iter()
            .any(|f| f.host == "app1" && f.target == Target::Bird)
    );
    // Both reflectors share the cluster id; each client is a client of both.
    let rr2 = bird_conf(&out, "rr2");
    assert!(rr2.contains("rr cluster id 198.18.0.100;"));
    assert!(rr2.contains("protocol bgp cl_lb1_v6 {"));
    assert!(rr2.contains("protocol bgp mesh_rr1_v4 {"));
}

#[test]
fn rendered_trees_pass_bird() {
    for site in [
        fixture("bird_sessions"),
        fixture("healthchecker_checks"),
        fixture("healthchecker_injection"),
        repo_root().join("examples/campus"),
    ] {
        let (_out, tree) = render_tree(&site);
        bird_accepts(tree.path());
    }
}

/// No user string is written to bird.conf: only identifiers (mapped to symbols), addresses and
/// numbers. The hostile fixture's descriptions, paths and arguments must not appear, and every
/// character of the file is from a small set.
#[test]
fn hostile_strings_never_reach_bird() {
    let (out, tree) = render_tree(&fixture("healthchecker_injection"));
    let mut seen = 0;
    for f in out.files.iter().filter(|f| f.target == Target::Bird) {
        seen += 1;
        // The header's second line names source files; everything else is ours.
        for (n, line) in f.contents.lines().enumerate().skip(2) {
            let ok = line
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " _.,:;/{}[]()=~&\"#-!*+'".contains(c));
            assert!(
                ok,
                "{} line {}: unexpected character in {line:?}",
                f.host,
                n + 1
            );
            for marker in ["reboot", "$HOME", "%(", "check_cmd", "example.edu", "\\"] {
                assert!(
                    !line.contains(marker),
                    "{} line {}: {marker:?} in {line:?}",
                    f.host,
                    n + 1
                );
            }
        }
    }
    assert!(seen >= 3);
    bird_accepts(tree.path());
}

/// The upstream router of the lab: eBGP from the route reflector rr1 in both families, all paths
/// (ADD-PATH receive) merged into ECMP kernel routes.
const CORE_CONF: &str = r#"
router id 198.18.0.254;
protocol device { }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol kernel { ipv6 { import none; export all; }; merge paths on; }
protocol bgp rr1_v4 {
  local 198.18.0.254 as 65000; neighbor 198.18.0.1 as 65010; connect delay time 1;
  ipv4 { import all; export none; add paths rx; };
}
protocol bgp rr1_v6 {
  local 2001:db8:ff::fe as 65000; neighbor 2001:db8:ff::1 as 65010; connect delay time 1;
  ipv6 { import all; export none; add paths rx; };
}
"#;

/// A hostile client of rr1: announces a VIP it is not entitled to and one outside any service.
const ROGUE_CONF: &str = r#"
router id 198.18.1.9;
protocol device { }
protocol static { ipv4; route 192.0.2.10/32 blackhole; route 192.0.2.99/32 blackhole; route 10.9.9.0/24 blackhole; }
protocol bgp rr_rr1_v4 {
  local 198.18.1.9 as 65010; neighbor 198.18.0.1 as 65010; connect delay time 1;
  ipv4 { import none; export all; next hop self; };
}
"#;

const LAB: &str = r#"
set -eu
mount -t tmpfs tmpfs /run
ip netns add sw
ip -n sw link add br0 type bridge
ip -n sw link set br0 up

add_host() {
  ip netns add $1
  ip -n sw link add v$1 type veth peer name eth0 netns $1
  ip -n sw link set v$1 master br0 up
  ip -n $1 link set lo up
  ip -n $1 link set eth0 up
  ip -n $1 addr add $2/15 dev eth0
  if [ -n "${3:-}" ]; then ip -n $1 addr add $3/48 dev eth0 nodad; fi
}

# A rendered host: its VIPs on lo (from the .network file), BIRD with its rendered bird.conf
# on the default control socket, anycast-healthchecker with its rendered files. /run and the
# prefix files' folder are private per host; every plugin exits 0 iff /run/healthy exists.
start_host() {
  h=$1
  mkdir -p $W/$h/run/bird $W/$h/run/anycast-healthchecker $W/$h/state
  if [ -d $T/$h/var/lib/anycast-healthchecker ]; then cp -r $T/$h/var/lib/anycast-healthchecker/. $W/$h/state/; fi
  ip netns exec $h sh -c "
    set -e
    mount --bind $W/$h/run /run
    mount -t tmpfs tmpfs /var/lib
    mkdir -p /var/lib/anycast-healthchecker
    mount --bind $W/$h/state /var/lib/anycast-healthchecker
    if [ -d $T/$h/var/lib/svcintent ]; then cp -r $T/$h/var/lib/svcintent /var/lib/; fi
    for p in check_http check_tcp check_ntp_time; do mount --bind $W/plugin /usr/lib/nagios/plugins/\$p; done
    if [ -f $T/$h/etc/systemd/network/50-svcintent-vips.network ]; then
      for a in \$(sed -n 's/^Address=//p' $T/$h/etc/systemd/network/50-svcintent-vips.network); do ip addr add \$a dev lo; done
    fi
    bird -c $T/$h/etc/bird/bird.conf -P /run/bird/bird.pid
    if [ -f $T/$h/etc/anycast-healthchecker.conf ]; then
      $VENV/bin/anycast-healthchecker -f $T/$h/etc/anycast-healthchecker.conf -d $T/$h/etc/anycast-healthchecker.d > $W/$h/hc.log 2>&1 &
    fi
  "
}

dump() {
  echo "--- core routes"; birdc -s $W/core.ctl show route all || true
  echo "--- rr1"; birdc -s $W/rr1/run/bird/bird.ctl show protocols || true
  birdc -s $W/rr1/run/bird/bird.ctl show route all || true
  for h in lb1 lb2 lb3 n1 n2; do
    echo "--- $h prefixes"; cat $W/$h/state/anycast-prefixes.conf || true
    echo "--- $h log"; tail -n 20 $W/$h/hc.log || true
  done
}

# routes FAMILY DEST: the sorted next hops of DEST in core's kernel table, one line.
routes() { ip -n core $1 route show $2 | grep -o 'via [0-9a-f:.]*' | sort | tr '\n' ' ' | sed 's/ $//'; }

expect() {
  i=0
  while [ "$(routes $1 $2)" != "$3" ]; do
    i=$((i+1))
    if [ $i -gt 200 ]; then echo "FAIL: $2 via '$(routes $1 $2)', want '$3'"; dump; exit 1; fi
    sleep 0.1
  done
  echo "ok: $2 -> '$3'"
}

healthy() { touch $W/$1/run/healthy; }
sick() { rm -f $W/$1/run/healthy; }

add_host rr1 198.18.0.1 2001:db8:ff::1
add_host lb1 198.18.1.1 2001:db8:ff:1::1
add_host lb2 198.18.1.2 2001:db8:ff:1::2
add_host lb3 198.18.1.3 2001:db8:ff:1::3
add_host n1 198.18.3.1 2001:db8:ff:3::1
add_host n2 198.18.3.2
add_host spare1 198.18.1.9
add_host core 198.18.0.254 2001:db8:ff::fe
for h in rr1 lb1 lb2 lb3 n1 n2; do start_host $h; done
ip netns exec spare1 bird -c $W/rogue.conf -s $W/rogue.ctl -P $W/rogue.pid
ip netns exec core bird -c $W/core.conf -s $W/core.ctl -P $W/core.pid

# The sessions come up; with every check failing nothing is announced.
i=0
until birdc -s $W/core.ctl show protocols | grep -q 'rr1_v4.*Established' && birdc -s $W/core.ctl show protocols | grep -q 'rr1_v6.*Established' \
   && birdc -s $W/rr1/run/bird/bird.ctl show protocols | grep -q 'cl_spare1_v4.*Established'; do
  i=$((i+1)); if [ $i -gt 300 ]; then echo "FAIL: sessions"; dump; exit 1; fi; sleep 0.1
done
sleep 3
expect -4 192.0.2.10 ''
expect -4 192.0.2.53 ''
expect -4 192.0.2.99 ''
expect -4 10.9.9.0/24 ''

# Healthy: announced by each healthy, undrained announcer; lb3 is drained, spare1 is entitled
# to nothing.
healthy lb1; healthy lb3; healthy n1; healthy n2
expect -4 192.0.2.10 'via 198.18.1.1'
expect -6 2001:db8:100::10 'via 2001:db8:ff:1::1'
expect -4 192.0.2.53 'via 198.18.3.1'
expect -6 2001:db8:100::53 'via 2001:db8:ff:3::1'
expect -4 192.0.2.123 'via 198.18.3.1 via 198.18.3.2'
expect -4 192.0.2.99 ''
expect -4 10.9.9.0/24 ''

# A second healthy balancer: ECMP over both (ADD-PATH through the reflector).
healthy lb2
expect -4 192.0.2.10 'via 198.18.1.1 via 198.18.1.2'
expect -6 2001:db8:100::10 'via 2001:db8:ff:1::1 via 2001:db8:ff:1::2'

# A failing check withdraws.
sick lb1
expect -4 192.0.2.10 'via 198.18.1.2'
expect -6 2001:db8:100::10 'via 2001:db8:ff:1::2'
sick n2
expect -4 192.0.2.123 'via 198.18.3.1'

# lb3 stayed out throughout, although its checks would pass: it is drained.
if grep -q 192.0.2.10 $W/lb3/state/anycast-prefixes.conf; then echo "FAIL: drained lb3 lists 192.0.2.10"; dump; exit 1; fi
echo LAB-OK
"#;

/// The whole chain in network namespaces: anycast-healthchecker (rendered config, plugins
/// replaced by a switch) writes the prefix files, BIRD (rendered bird.conf) announces to the
/// route reflector (rendered), which passes only entitled routes on to an upstream router with
/// every path. Runs unprivileged in a user namespace; everything dies with its PID namespace.
#[test]
fn lab_announces_healthy_undrained_entitled_vips_only() {
    let venv = svcintent_tests::healthchecker_venv();
    let (_out, tree) = render_tree(&fixture("bird_sessions"));
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("core.conf"), CORE_CONF).unwrap();
    std::fs::write(work.path().join("rogue.conf"), ROGUE_CONF).unwrap();
    let plugin = work.path().join("plugin");
    std::fs::write(&plugin, "#!/bin/sh\n[ -e /run/healthy ]\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("timeout")
        .args([
            "-k",
            "5",
            "240",
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--mount-proc",
            "--",
        ])
        .args(["bash", "-c", LAB])
        .env("W", work.path())
        .env("T", tree.path())
        .env("VENV", &venv)
        .output()
        .expect("timeout, unshare and bash are needed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("LAB-OK"),
        "lab failed:\n{stdout}\n{stderr}"
    );
    eprintln!("{stdout}");
}
