//! Random valid sites through every real daemon: each seed's site (tests/src/random_site.rs)
//! lints without errors, renders, passes the cross-daemon consistency checks
//! (tests/src/tree_checks.rs: VIP bound = announced = exported = allowed = filtered in =
//! monitored) and every daemon's own check (haproxy -c, bird -p, nft -c, icinga2 -C,
//! apache2 -t, anycast-healthchecker), warnings included.
//!
//! `cargo test` runs the regression seeds (every seed that once failed, kept after its fix)
//! and a few more through the library (the same daemon harness `svcintent validate` uses).
//! `scripts/random-sites.sh N [FIRST]` runs N seeds through the `svcintent` command itself:
//! `SVCINTENT_BIN` (the command), `SVCINTENT_RANDOM_SITES` (how many), `SVCINTENT_RANDOM_FIRST`
//! (the first seed).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "tests"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use svcintent_tests::random_site::{Seeded, generate};

/// Seeds that found a bug, kept after the fix (see docs/reliability.md).
const REGRESSION_SEEDS: &[u64] = &[
    // v6-only services, a v4-only monitoring host: Icinga2 silently skipped them (now SI051).
    24,
    // A service with 14 ports and no backend_port (a backend per port): the health frontend's
    // one `http-request` line had more than the 64 words HAProxy reads (now one line each).
    43,
];

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Lints, renders (through `bin` or the library), checks consistency and runs the daemons.
/// `Err` says what failed.
fn run_seed(seed: u64, bin: Option<&Path>) -> Result<String, String> {
    let site = generate(&mut Seeded(seed));
    let sources = site.sources();
    let compiled = svcintent_core::compile(&sources);
    let unexpected: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.code.as_str() != "SI051")
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect();
    if !unexpected.is_empty() {
        return Err(format!("lint: {unexpected:?}"));
    }
    let intent = compiled.intent.ok_or("no intent")?;
    // A VIP no monitoring host can reach (none of its family) is unmonitored: SI051 says so.
    let monitors: Vec<_> = intent
        .hosts
        .values()
        .filter(|h| h.roles.contains(&svcintent_core::model::Role::Monitoring))
        .collect();
    for svc in intent.services.values() {
        let blind = !monitors.is_empty()
            && svc.monitoring.enabled
            && svc
                .vips
                .iter()
                .any(|v| monitors.iter().all(|m| m.address_for(*v).is_none()));
        let warned = compiled
            .diagnostics
            .iter()
            .any(|d| d.code.as_str() == "SI051" && d.message.contains(&format!("`{}`", svc.name)));
        if blind && !warned {
            return Err(format!(
                "{}: VIPs no monitoring host can reach, and no SI051",
                svc.name
            ));
        }
    }
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let site_dir = tmp.path().join("site");
    let tree = tmp.path().join("tree");
    site.write(&site_dir).map_err(|e| e.to_string())?;
    let run = |args: &[&std::ffi::OsStr]| -> Result<(), String> {
        let bin = bin.ok_or("no binary")?;
        let out = Command::new(bin)
            .args(args)
            .env(
                "SVCINTENT_CACHE_DIR",
                std::env::temp_dir().join("svcintent-random-sites-cache"),
            )
            .output()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "svcintent {:?} exited {}:\n{}{}",
                args,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    match bin {
        Some(_) => run(&[
            "render".as_ref(),
            site_dir.as_os_str(),
            "--out".as_ref(),
            tree.as_os_str(),
        ])?,
        None => {
            let rendered = svcintent_core::render(&sources);
            let out = rendered.output.ok_or("render failed")?;
            std::fs::create_dir_all(&tree).map_err(|e| e.to_string())?;
            svcintent_tests::write_tree(&out, &tree).map_err(|e| e.to_string())?;
        }
    }
    let violations = svcintent_tests::tree_checks::violations(&intent, &tree);
    if !violations.is_empty() {
        return Err(format!("consistency:\n  {}", violations.join("\n  ")));
    }
    match bin {
        Some(_) => run(&["validate".as_ref(), tree.as_os_str()])?,
        None => {
            use svcintent_host::daemons::{Options, check_tree};
            let report = check_tree(&tree, &Options::default()).map_err(|e| e.to_string())?;
            if report.checked.is_empty() {
                return Err("no daemon checked anything".to_owned());
            }
            let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
            if !failures.is_empty() {
                return Err(format!("daemons:\n{}", failures.join("\n")));
            }
        }
    }
    Ok(site.summary)
}

fn run_seeds(seeds: impl Iterator<Item = u64>, bin: Option<&Path>) {
    let mut failed = Vec::new();
    let mut passed = 0;
    let start = Instant::now();
    for seed in seeds {
        let t = Instant::now();
        match run_seed(seed, bin) {
            Ok(summary) => {
                passed += 1;
                eprintln!(
                    "seed {seed}: ok ({summary}) {:.1}s",
                    t.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                eprintln!("seed {seed}: FAILED {e}");
                failed.push(seed);
            }
        }
    }
    eprintln!(
        "random sites: {passed} passed, {} failed in {:.0}s; failed seeds: {failed:?}",
        failed.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(failed.is_empty(), "failed seeds: {failed:?}");
}

#[test]
fn random_sites_pass_every_daemon() {
    let bin: Option<PathBuf> = std::env::var_os("SVCINTENT_BIN").map(PathBuf::from);
    match env_u64("SVCINTENT_RANDOM_SITES") {
        Some(n) => {
            let first = env_u64("SVCINTENT_RANDOM_FIRST").unwrap_or(0);
            run_seeds(first..first + n, bin.as_deref());
        }
        None => run_seeds(
            REGRESSION_SEEDS.iter().copied().chain([1, 2, 3]),
            bin.as_deref(),
        ),
    }
}
