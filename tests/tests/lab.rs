//! The anycast lab (docs/lab.md): the rendered files of `examples/lab`, unmodified, run by the
//! real daemons (BIRD, HAProxy, Apache, anycast-healthchecker with the real monitoring-plugins
//! checks, nftables, dnsmasq) with one network namespace per host, and an upstream router that
//! merges every path into ECMP routes. `tests/lab/lab.sh` runs the scenarios: bring-up,
//! health-driven withdrawal, graceful drain, backend failure, firewall, route-reflector filter
//! and the rendered Icinga2 checks.
//!
//! Needs (installed by `.ci/install-daemons.sh`): bird2, haproxy, apache2, nftables,
//! monitoring-plugins, dnsmasq-base, bind9-dnsutils, iputils-ping, curl, iproute2, util-linux
//! (`unshare`, `nsenter`), python3, the anycast-healthchecker venv. A missing one fails the test.
//!
//! Runs in its own mount, network and PID namespaces: every process it starts dies with the
//! PID namespace (and is killed by PID in the script's EXIT trap). As root (CI) no user
//! namespace is used, so that HAProxy and Apache can drop to their users as on a real host; as
//! another user it runs in a user namespace mapping only that user to root, where those
//! privilege drops fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "tests"
)]

use std::process::Command;

use svcintent_core::Sources;
use svcintent_tests::{edited, load_site, render_dir, repo_root, write_tree};

/// The site with `drain: true` set on lb2, as an operator would edit hosts.yaml.
fn drained_lb2(sources: &Sources) -> Sources {
    edited(sources, "hosts.yaml", |text| {
        let lines: Vec<String> = text
            .lines()
            .map(|line| {
                if line.trim_start().starts_with("lb2:") {
                    line.replacen(" }", ", drain: true }", 1)
                } else {
                    line.to_owned()
                }
            })
            .collect();
        lines.join("\n") + "\n"
    })
}

#[test]
fn lab_anycast_end_to_end() {
    let venv = svcintent_tests::healthchecker_venv();

    let site = repo_root().join("examples/lab");
    let (_sources, out) = render_dir(&site);
    let drained = svcintent_core::render(&drained_lb2(&load_site(&site)));
    assert!(
        drained.diagnostics.is_empty(),
        "the drained lab site has diagnostics"
    );
    let drained = drained.output.expect("the drained lab site renders");
    let tree = tempfile::tempdir().unwrap();
    let tree2 = tempfile::tempdir().unwrap();
    write_tree(&out, tree.path()).unwrap();
    write_tree(&drained, tree2.path()).unwrap();
    let work = tempfile::tempdir().unwrap();

    // The effective user, from `id -u` (std has no geteuid).
    let uid = Command::new("id").arg("-u").output().expect("id");
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "240", "unshare"]);
    if !root {
        cmd.args(["--user", "--map-root-user"]);
    }
    cmd.args(["--mount", "--net", "--pid", "--fork", "--mount-proc", "--"])
        .arg("bash")
        .arg(repo_root().join("tests/lab/lab.sh"))
        .env("W", work.path())
        .env("T", tree.path())
        .env("T2", tree2.path())
        .env("VENV", &venv)
        .env("LAB", repo_root().join("tests/lab"));
    let started = std::time::Instant::now();
    let run = cmd.output().expect("timeout, unshare and bash are needed");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stdout}");
    eprintln!("lab took {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        run.status.success() && stdout.contains("\nLAB-OK"),
        "lab failed ({}):\n{stdout}\n--- stderr\n{stderr}",
        run.status
    );
}
