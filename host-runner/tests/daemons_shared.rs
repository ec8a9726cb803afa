//! How the harness shares work without changing verdicts: hosts with identical files share one
//! check, results are cached by key, checks take turns in a prepared sandbox root, and a check
//! whose files collide with that root's mounts runs in a sandbox of its own.
//!
//! Built from the hand-written trees in `tests/daemon-inputs/`; needs the daemons and the
//! anycast-healthchecker venv, like `daemons.rs` (a missing daemon fails, nothing is skipped).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failed expectation is the test failing"
)]

use std::path::{Path, PathBuf};

use svcintent_host::daemons::{Daemon, Options, Report, check_tree};

fn inputs(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/daemon-inputs")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), &dst).unwrap();
        }
    }
}

/// A tree whose hosts `names` are each a copy of `host` of the fixture tree `fixture`.
fn copies(fixture: &str, host: &str, names: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for name in names {
        copy_dir(&inputs(fixture).join(host), &tmp.path().join(name));
    }
    tmp
}

/// Replaces the first `from` in `TREE/path` with `to`.
fn edit(tree: &Path, path: &str, from: &str, to: &str) {
    let p = tree.join(path);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{path} lacks {from:?}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

fn check(tree: &Path, opts: &Options) -> Report {
    check_tree(tree, opts).unwrap_or_else(|e| panic!("harness error: {e}"))
}

fn listing(report: &Report) -> String {
    report.failures.iter().map(|f| format!("  {f}\n")).collect()
}

/// (daemon, host, file, line) of every failure.
fn places(report: &Report) -> Vec<(Daemon, String, PathBuf, Option<u32>)> {
    report
        .failures
        .iter()
        .map(|f| (f.daemon, f.host.clone(), f.file.clone(), f.line))
        .collect()
}

const LB_DAEMONS: [Daemon; 4] = [
    Daemon::Haproxy,
    Daemon::Bird,
    Daemon::Nftables,
    Daemon::Healthchecker,
];

/// Every daemon of a balancer is listed as checked on each of `hosts`.
fn assert_all_checked(report: &Report, hosts: &[&str]) {
    for host in hosts {
        for daemon in LB_DAEMONS {
            assert!(
                report
                    .checked
                    .iter()
                    .any(|(d, h, _)| *d == daemon && h == host),
                "{daemon} on {host} not listed as checked: {:?}",
                report.checked
            );
        }
    }
    assert_eq!(report.checked.len(), hosts.len() * LB_DAEMONS.len());
}

#[test]
fn identical_hosts_share_checks_and_every_host_is_reported() {
    let tree = copies("good", "lb1", &["lb1", "lb2"]);
    let report = check(tree.path(), &Options::default());
    assert!(report.is_ok(), "{}", listing(&report));
    assert_all_checked(&report, &["lb1", "lb2"]);
    assert_eq!(report.work.distinct, LB_DAEMONS.len(), "{:?}", report.work);
    assert_eq!(report.work.ran, LB_DAEMONS.len());
    assert_eq!(report.work.private, 0, "{:?}", report.work);
}

#[test]
fn a_broken_file_on_one_of_two_identical_hosts_is_named_on_that_host() {
    // lb2 sorts after lb1: its checks would be the shared copies of lb1's if sharing ignored
    // a difference. Then the same with the break on lb1, the host whose checks run first.
    for (broken, clean) in [("lb2", "lb1"), ("lb1", "lb2")] {
        let tree = copies("good", "lb1", &["lb1", "lb2"]);
        edit(
            tree.path(),
            &format!("{broken}/etc/haproxy/haproxy.cfg"),
            "    option httplog\n",
            "    option httplog-typo\n",
        );
        let report = check(tree.path(), &Options::default());
        assert_eq!(
            places(&report),
            vec![(
                Daemon::Haproxy,
                broken.to_string(),
                PathBuf::from(format!("{broken}/etc/haproxy/haproxy.cfg")),
                Some(14),
            )],
            "broken on {broken}:\n{}",
            listing(&report)
        );
        assert!(report.failures[0].message.contains("httplog-typo"));
        assert!(
            !report.failures.iter().any(|f| f.host == clean),
            "the clean host {clean} was blamed"
        );
        assert_all_checked(&report, &["lb1", "lb2"]);
        // BIRD, nftables and the healthchecker still shared; HAProxy ran twice.
        assert_eq!(report.work.distinct, LB_DAEMONS.len() + 1);
    }

    // The same break on both: one shared check, a finding on each host at its own path.
    let tree = copies("good", "lb1", &["lb1", "lb2"]);
    for host in ["lb1", "lb2"] {
        edit(
            tree.path(),
            &format!("{host}/etc/bird/bird.conf"),
            "router id",
            "router idd",
        );
    }
    let report = check(tree.path(), &Options::default());
    let hosts: Vec<(String, PathBuf)> = report
        .failures
        .iter()
        .map(|f| (f.host.clone(), f.file.clone()))
        .collect();
    assert_eq!(
        hosts,
        vec![
            ("lb1".into(), PathBuf::from("lb1/etc/bird/bird.conf")),
            ("lb2".into(), PathBuf::from("lb2/etc/bird/bird.conf")),
        ],
        "{}",
        listing(&report)
    );
    assert_eq!(report.failures[0].message, report.failures[1].message);
    assert_eq!(report.work.distinct, LB_DAEMONS.len());
}

#[test]
fn the_cache_repeats_results_and_never_hides_a_change() {
    let tree = copies("good", "lb1", &["lb1", "lb2"]);
    let cache = tempfile::tempdir().unwrap();
    let opts = Options {
        cache: Some(cache.path().join("results")),
        ..Options::default()
    };
    let first = check(tree.path(), &opts);
    assert!(first.is_ok(), "{}", listing(&first));
    assert_eq!(
        (first.work.cached, first.work.ran),
        (0, first.work.distinct)
    );

    let again = check(tree.path(), &opts);
    assert_eq!(
        (again.work.cached, again.work.ran),
        (again.work.distinct, 0)
    );
    assert_eq!(
        (&again.checked, &again.failures, &again.notes),
        (&first.checked, &first.failures, &first.notes)
    );

    // A changed file runs again and its failure is reported; the rest comes from the cache.
    let cfg = "lb2/etc/haproxy/haproxy.cfg";
    edit(
        tree.path(),
        cfg,
        "    option httplog\n",
        "    option httplog-typo\n",
    );
    let changed = check(tree.path(), &opts);
    assert_eq!(changed.work.ran, 1, "{:?}", changed.work);
    assert_eq!(
        places(&changed),
        vec![(
            Daemon::Haproxy,
            "lb2".to_string(),
            PathBuf::from(cfg),
            Some(14)
        )]
    );
    // Its failure is cached too, and repeated as such.
    let changed_again = check(tree.path(), &opts);
    assert_eq!(changed_again.work.ran, 0);
    assert_eq!(changed_again.failures, changed.failures);

    // Only the contents count, not when the file was written: back to the cached pass.
    edit(
        tree.path(),
        cfg,
        "    option httplog-typo\n",
        "    option httplog\n",
    );
    let restored = check(tree.path(), &opts);
    assert!(restored.is_ok(), "{}", listing(&restored));
    assert_eq!(restored.work.ran, 0);

    // A damaged cache is a cache miss, never a verdict.
    let mut damaged = 0;
    let mut stack = vec![cache.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                std::fs::write(&path, b"{\"key\":").unwrap();
                damaged += 1;
            }
        }
    }
    assert!(damaged > LB_DAEMONS.len());
    edit(
        tree.path(),
        cfg,
        "    option httplog\n",
        "    option httplog-typo\n",
    );
    let after_damage = check(tree.path(), &opts);
    assert_eq!(after_damage.work.cached, 0);
    assert_eq!(after_damage.failures, changed.failures);
}

#[test]
fn the_cache_key_covers_the_options() {
    // The warning counts only with warnings_are_failures: a pass cached without it must not
    // answer the strict run.
    let cache = tempfile::tempdir().unwrap();
    let lenient = Options {
        warnings_are_failures: false,
        cache: Some(cache.path().to_path_buf()),
        ..Options::default()
    };
    let strict = Options {
        warnings_are_failures: true,
        ..lenient.clone()
    };
    let tree = inputs("bad-haproxy-warning");
    assert!(check(&tree, &lenient).is_ok());
    let report = check(&tree, &strict);
    assert_eq!(report.work.cached, 0);
    assert_eq!(report.failures.len(), 1, "{}", listing(&report));
    // Both results are now cached, each under its own key.
    assert!(check(&tree, &lenient).is_ok());
    assert_eq!(check(&tree, &strict).failures, report.failures);
}

#[test]
fn a_prepared_root_keeps_nothing_of_the_previous_check() {
    // One worker, so both checks take turns in the same prepared root. web1 renders the file
    // its ruleset includes; web2 includes it without rendering it and must fail, as it would
    // in a sandbox of its own. web1's inputs are bigger, so it runs first.
    let tree = copies("good", "web1", &["web1", "web2"]);
    for host in ["web1", "web2"] {
        edit(
            tree.path(),
            &format!("{host}/etc/nftables.conf"),
            "flush ruleset\n",
            "flush ruleset\ninclude \"/etc/nftables.d/extra.nft\"\n",
        );
    }
    std::fs::create_dir_all(tree.path().join("web1/etc/nftables.d")).unwrap();
    std::fs::write(
        tree.path().join("web1/etc/nftables.d/extra.nft"),
        "table inet extra {\n    chain c {\n        tcp dport 80 accept\n    }\n}\n",
    )
    .unwrap();
    let opts = Options {
        daemons: vec![Daemon::Nftables],
        jobs: 1,
        ..Options::default()
    };
    let report = check(tree.path(), &opts);
    assert_eq!(
        places(&report)
            .into_iter()
            .map(|(d, h, f, _)| (d, h, f))
            .collect::<Vec<_>>(),
        vec![(
            Daemon::Nftables,
            "web2".to_string(),
            PathBuf::from("web2/etc/nftables.conf")
        )],
        "{}",
        listing(&report)
    );
    assert!(
        report.failures[0]
            .message
            .contains("File not found: /etc/nftables.d/extra.nft"),
        "{}",
        listing(&report)
    );
    assert_eq!((report.work.ran, report.work.private), (2, 0));
}

#[test]
fn a_file_where_the_prepared_root_mounts_the_machines_runs_privately() {
    // A certificate under /etc/ssl, which the sandbox shows from the machine: the harness's
    // throwaway certificate (not rendered) or the rendered one must be what HAProxy reads.
    let tree = copies("good", "lb1", &["lb1"]);
    edit(
        tree.path(),
        "lb1/etc/haproxy/haproxy.cfg",
        "crt /etc/haproxy/certs/api.example.org.pem",
        "crt /etc/ssl/private/svcintent-test.pem",
    );
    // One worker: the HAProxy check (the bigger) runs first, privately; the nftables check
    // after it still fits the prepared root, so nothing of the private run stayed behind in
    // the worker's staging folder.
    let opts = Options {
        daemons: vec![Daemon::Haproxy, Daemon::Nftables],
        jobs: 1,
        ..Options::default()
    };
    let report = check(tree.path(), &opts);
    assert!(report.is_ok(), "{}", listing(&report));
    assert_eq!((report.work.ran, report.work.private), (2, 1));

    let pem = tree.path().join("lb1/etc/ssl/private/svcintent-test.pem");
    std::fs::create_dir_all(pem.parent().unwrap()).unwrap();
    std::fs::write(&pem, "not a certificate\n").unwrap();
    let report = check(tree.path(), &opts);
    assert_eq!(report.failures.len(), 1, "{}", listing(&report));
    assert!(
        report.failures[0].message.contains("svcintent-test.pem"),
        "{}",
        listing(&report)
    );
    assert_eq!(report.work.private, 1);
}

#[test]
fn a_check_program_this_machine_lacks_is_a_note_not_a_failure() {
    let tree = copies("good", "lb1", &["lb1"]);
    let www = "lb1/etc/anycast-healthchecker.d/www.example.org.conf";
    edit(
        tree.path(),
        www,
        "/usr/lib/nagios/plugins/check_http",
        "/opt/site-plugins/check_http",
    );
    let opts = Options {
        daemons: vec![Daemon::Healthchecker],
        ..Options::default()
    };
    let report = check(tree.path(), &opts);
    assert!(report.is_ok(), "{}", listing(&report));
    let notes: Vec<(PathBuf, Option<u32>)> = report
        .notes
        .iter()
        .map(|n| (n.file.clone(), n.line))
        .collect();
    assert_eq!(notes, vec![(PathBuf::from(www), Some(2))]);
    assert!(
        report.notes[0]
            .message
            .contains("/opt/site-plugins/check_http"),
        "{}",
        report.notes[0]
    );

    // A program that is there but cannot be started still fails, as on the host.
    edit(
        tree.path(),
        www,
        "/opt/site-plugins/check_http",
        "/etc/anycast-healthchecker.conf",
    );
    let report = check(tree.path(), &opts);
    assert_eq!(report.failures.len(), 1, "{}", listing(&report));
    assert!(
        report.failures[0]
            .message
            .contains("failed to run check command"),
        "{}",
        listing(&report)
    );
    assert_eq!(report.failures[0].file, PathBuf::from(www));
}
