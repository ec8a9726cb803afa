//! The real-daemon harness against hand-written trees in `tests/daemon-inputs/`.
//!
//! Needs the daemons and the anycast-healthchecker venv (`.ci/install-daemons.sh`). A missing
//! daemon makes these tests fail (`check_tree` returns `HarnessError::MissingDaemon`); nothing is
//! skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failed expectation is the test failing"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use svcintent_host::daemons::{Daemon, HarnessError, Options, Report, check_tree};

fn inputs(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/daemon-inputs")
        .join(name)
}

fn check(name: &str, opts: &Options) -> Report {
    match check_tree(&inputs(name), opts) {
        Ok(report) => report,
        Err(e) => panic!("harness error on {name}: {e}"),
    }
}

/// Every file of a tree with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn listing(report: &Report) -> String {
    report.failures.iter().map(|f| format!("  {f}\n")).collect()
}

/// Asserts the report has exactly one failure, from `daemon` on `host`, at `file`:`line`, with a
/// message containing `text`.
fn assert_single(
    report: &Report,
    daemon: Daemon,
    host: &str,
    file: &str,
    line: Option<u32>,
    text: &str,
) {
    assert_eq!(
        report.failures.len(),
        1,
        "expected exactly one failure, got:\n{}",
        listing(report)
    );
    let f = &report.failures[0];
    assert_eq!(
        (f.daemon, f.host.as_str(), f.file.as_path(), f.line),
        (daemon, host, Path::new(file), line),
        "wrong place: {f}"
    );
    assert!(
        f.message.contains(text),
        "message {:?} lacks {text:?}",
        f.message
    );
    assert!(
        report
            .checked
            .iter()
            .any(|(d, h, _)| *d == daemon && h == host),
        "{daemon} on {host} not listed as checked: {:?}",
        report.checked
    );
}

#[test]
fn good_tree_passes_every_daemon() {
    let tree = inputs("good");
    let before = snapshot(&tree);
    let report = check("good", &Options::default());
    assert!(
        report.failures.is_empty(),
        "good tree failed:\n{}",
        listing(&report)
    );
    let checked: Vec<(Daemon, &str, &str)> = report
        .checked
        .iter()
        .map(|(d, h, p)| (*d, h.as_str(), p.to_str().unwrap()))
        .collect();
    assert_eq!(
        checked,
        vec![
            (Daemon::Haproxy, "lb1", "lb1/etc/haproxy/haproxy.cfg"),
            (Daemon::Bird, "lb1", "lb1/etc/bird/bird.conf"),
            (Daemon::Nftables, "lb1", "lb1/etc/nftables.conf"),
            (
                Daemon::Healthchecker,
                "lb1",
                "lb1/etc/anycast-healthchecker.conf"
            ),
            (Daemon::Nftables, "mon1", "mon1/etc/nftables.conf"),
            (Daemon::Icinga2, "mon1", "mon1/etc/icinga2/conf.d/svcintent"),
            (Daemon::Nftables, "web1", "web1/etc/nftables.conf"),
            (Daemon::Apache, "web1", "web1/etc/apache2"),
        ]
    );
    for daemon in Daemon::ALL {
        assert!(
            report.checked.iter().any(|(d, _, _)| *d == daemon),
            "{daemon} never ran on the good tree"
        );
    }
    // Certificates, wrappers and runtime folders went into the sandbox, not the tree.
    assert_eq!(
        before,
        snapshot(&tree),
        "the check changed the rendered tree"
    );
}

#[test]
fn haproxy_error_points_at_the_line() {
    // Line 12 also names a certificate the tree does not have: the harness supplies one, so the
    // only failure is the typo.
    let report = check("bad-haproxy", &Options::default());
    assert_single(
        &report,
        Daemon::Haproxy,
        "lb1",
        "lb1/etc/haproxy/haproxy.cfg",
        Some(9),
        "unknown option 'forwardfor-typo'",
    );
}

#[test]
fn haproxy_warnings_fail_unless_tolerated() {
    let report = check("bad-haproxy-warning", &Options::default());
    assert_single(
        &report,
        Daemon::Haproxy,
        "lb1",
        "lb1/etc/haproxy/haproxy.cfg",
        Some(10),
        "'http-request' rule placed after a 'use_backend' rule",
    );

    let lenient = Options {
        warnings_are_failures: false,
        ..Options::default()
    };
    let report = check("bad-haproxy-warning", &lenient);
    assert!(report.is_ok(), "warnings counted:\n{}", listing(&report));
    assert_eq!(report.checked.len(), 1);
}

#[test]
fn bird_error_in_the_included_prefix_file() {
    // bird.conf includes the healthchecker's file by absolute path; the error is reported in
    // the rendered copy of that file.
    let report = check("bad-bird", &Options::default());
    assert_single(
        &report,
        Daemon::Bird,
        "lb1",
        "lb1/var/lib/anycast-healthchecker/anycast-prefixes.conf",
        Some(5),
        "Invalid IPv4 address 192.0.2.300",
    );
}

#[test]
fn nftables_kernel_rejects_unknown_jump_target() {
    let report = check("bad-nftables", &Options::default());
    assert_single(
        &report,
        Daemon::Nftables,
        "web1",
        "web1/etc/nftables.conf",
        Some(7),
        "Could not process rule",
    );
}

#[test]
fn icinga2_unknown_check_command() {
    let report = check("bad-icinga2", &Options::default());
    assert_single(
        &report,
        Daemon::Icinga2,
        "mon1",
        "mon1/etc/icinga2/conf.d/svcintent/services.conf",
        Some(3),
        "Object 'htttp' of type 'CheckCommand' does not exist",
    );
}

#[test]
fn apache_bad_remoteip_proxy() {
    let report = check("bad-apache", &Options::default());
    assert_single(
        &report,
        Daemon::Apache,
        "web1",
        "web1/etc/apache2/sites-available/svcintent-www.example.org.conf",
        Some(5),
        "RemoteIPTrustedProxy",
    );
}

#[test]
fn healthchecker_inline_comment_is_part_of_the_value() {
    let report = check("bad-healthchecker", &Options::default());
    assert_single(
        &report,
        Daemon::Healthchecker,
        "lb1",
        "lb1/etc/anycast-healthchecker.d/www.example.org.conf",
        Some(6),
        "invalid data for 'check_fail' option in service check www.example.org",
    );
}

#[test]
fn healthchecker_would_rewrite_an_unreadable_prefix_file() {
    // `-c` accepts this tree; the startup dry run sees that the daemon cannot read the one-line
    // list and would rewrite the rendered file.
    let report = check("bad-healthchecker-prefixes", &Options::default());
    assert_single(
        &report,
        Daemon::Healthchecker,
        "lb1",
        "lb1/var/lib/anycast-healthchecker/anycast-prefixes.conf",
        None,
        "dummy IP prefix 10.189.200.255/32 is missing",
    );
}

#[test]
fn missing_daemon_is_an_error_not_a_skip() {
    let opts = Options {
        healthchecker: Some(PathBuf::from("/nonexistent/svcintent-venv")),
        ..Options::default()
    };
    match check_tree(&inputs("good"), &opts) {
        Err(HarnessError::MissingDaemon {
            daemon: Daemon::Healthchecker,
            ..
        }) => {}
        other => panic!("expected MissingDaemon(healthchecker), got {other:?}"),
    }
}

#[test]
fn selects_hosts_and_daemons() {
    let mut opts = Options {
        hosts: vec!["lb1".into()],
        daemons: vec![Daemon::Bird, Daemon::Apache],
        ..Options::default()
    };
    let report = check("good", &opts);
    assert!(report.is_ok(), "{}", listing(&report));
    assert_eq!(
        report.checked,
        vec![(
            Daemon::Bird,
            "lb1".to_string(),
            PathBuf::from("lb1/etc/bird/bird.conf")
        )]
    );

    opts.hosts = vec!["nosuchhost".into()];
    assert!(matches!(
        check_tree(&inputs("good"), &opts),
        Err(HarnessError::BadTree { .. })
    ));
}
