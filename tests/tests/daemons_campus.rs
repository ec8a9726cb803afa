//! The rendered campus tree passes every real daemon's own check (haproxy -c, bird -p, nft -c,
//! icinga2 daemon -C, apache2 -t, anycast-healthchecker -c), each host's files at their on-host
//! paths. A missing daemon is a failure, never a skip.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::BTreeSet;

use svcintent_host::daemons::{Daemon, Options, check_tree};
use svcintent_tests::{render_dir, repo_root, write_tree};

#[test]
fn campus_passes_every_daemon_check() {
    let (_, out) = render_dir(&repo_root().join("examples/campus"));
    let tmp = tempfile::tempdir().unwrap();
    write_tree(&out, tmp.path()).unwrap();
    let report =
        check_tree(tmp.path(), &Options::default()).unwrap_or_else(|e| panic!("harness: {e}"));
    let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "daemon checks failed:\n{}",
        failures.join("\n")
    );
    let checked: BTreeSet<Daemon> = report.checked.iter().map(|(d, _, _)| *d).collect();
    for d in Daemon::ALL {
        assert!(
            checked.contains(&d),
            "{d} checked no file of the campus tree"
        );
    }
    // Every host that gets a config of a daemon had it checked.
    let hosts_checked = |d: Daemon| report.checked.iter().filter(|(x, _, _)| *x == d).count();
    assert_eq!(
        hosts_checked(Daemon::Nftables),
        out.manifest
            .files
            .iter()
            .filter(|f| f.host_path == "/etc/nftables.conf")
            .count()
    );
    assert_eq!(hosts_checked(Daemon::Haproxy), 3, "three balancers");
}
