//! `diff`: what a change to the campus site does, in statements, and which files it touches.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use svcintent_core::diff::{ChangeKind, FileStatus, SiteDiff, diff};
use svcintent_core::{Sources, build};
use svcintent_tests::{load_site, repo_root};

fn campus() -> Sources {
    load_site(&repo_root().join("examples/campus"))
}

/// Campus with `edit` applied to the text of `path`.
fn edited(path: &str, edit: impl Fn(&str) -> String) -> Sources {
    svcintent_tests::edited(&campus(), path, edit)
}

fn site_diff(old: &Sources, new: &Sources) -> SiteDiff {
    let (a, da) = build(old);
    let (b, db) = build(new);
    diff(
        &a.unwrap_or_else(|| panic!("old: {da:?}")),
        &b.unwrap_or_else(|| panic!("new: {db:?}")),
    )
}

fn statements(d: &SiteDiff, kind: ChangeKind) -> Vec<&str> {
    d.changes
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.summary.as_str())
        .collect()
}

#[test]
fn the_same_site_has_no_diff() {
    let d = site_diff(&campus(), &campus());
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn draining_a_balancer_withdraws_its_vips_and_touches_its_announcer() {
    let new = edited("hosts.yaml", |t| {
        t.replace(
            r#"lb2:   { roles: [balancer], ipv4: 198.18.1.2, ipv6: "2001:db8:ff:1::2" }"#,
            r#"lb2:   { roles: [balancer], ipv4: 198.18.1.2, ipv6: "2001:db8:ff:1::2", drain: true }"#,
        )
    });
    let d = site_diff(&campus(), &new);
    assert_eq!(statements(&d, ChangeKind::Drain), ["drains lb2"]);
    let announce = statements(&d, ChangeKind::Announce);
    assert!(
        announce.contains(&"withdraws www (192.0.2.10, 2001:db8:100::10) from lb2"),
        "{announce:?}"
    );
    assert!(
        announce
            .iter()
            .all(|s| s.starts_with("withdraws") && s.ends_with("from lb2"))
    );
    // Still bound and allowed: the firewall and the sessions do not change.
    assert!(statements(&d, ChangeKind::Firewall).is_empty());
    assert!(statements(&d, ChangeKind::Session).is_empty());
    let www = d
        .files
        .iter()
        .find(|f| f.path == "lb2/etc/anycast-healthchecker.d/www.conf")
        .expect("lb2's www announcer changes");
    assert_eq!(www.status, FileStatus::Changed);
    assert!(
        www.unified
            .contains("-check_disabled = false\n+check_disabled = true\n")
    );
    assert!(d.files.iter().all(|f| !f.path.starts_with("lb1/")));
}

#[test]
fn draining_a_backend_names_it_and_its_service() {
    let new = edited("services/web.yaml", |t| {
        t.replacen(
            "backends: [web1, web2, web3, web4]",
            "backends: [web1, { host: web2, drain: true }, web3, web4]",
            1,
        )
    });
    let d = site_diff(&campus(), &new);
    assert_eq!(statements(&d, ChangeKind::Drain), ["drains web2 from www"]);
    assert!(statements(&d, ChangeKind::Announce).is_empty());
    let haproxy = d
        .files
        .iter()
        .find(|f| f.path == "lb1/etc/haproxy/haproxy.cfg")
        .unwrap();
    assert!(
        haproxy.unified.contains(" disabled\n"),
        "{}",
        haproxy.unified
    );
}

#[test]
fn opening_a_port_names_the_hosts_and_sources() {
    let new = edited("services/web.yaml", |t| {
        t.replacen(
            r#"vips: [192.0.2.11, "2001:db8:100::11"]
    allow: [198.18.0.0/15, "2001:db8:ff::/48"]"#,
            r#"vips: [192.0.2.11, "2001:db8:100::11"]
    allow: [198.18.0.0/15, 203.0.113.0/24, "2001:db8:ff::/48"]"#,
            1,
        )
    });
    let d = site_diff(&campus(), &new);
    let firewall = statements(&d, ChangeKind::Firewall);
    assert_eq!(
        firewall,
        [
            "opens 443/tcp from 203.0.113.0/24 on lb1..lb3 (to 192.0.2.11)",
            "opens 80/tcp from 203.0.113.0/24 on lb1..lb3 (to 192.0.2.11)"
        ]
    );
    assert!(d.files.iter().all(|f| f.path.ends_with("nftables.conf")));
}

#[test]
fn removing_a_service_withdraws_and_closes_everything_it_had() {
    // Drop the whole `intranet` entry, up to the next service key.
    let new = edited("services/web.yaml", |t| {
        let mut skipping = false;
        let mut kept = String::new();
        for line in t.lines() {
            if line.starts_with("  ") && !line.starts_with("   ") {
                skipping = line == "  intranet:";
            }
            if !skipping {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        kept
    });
    let d = site_diff(&campus(), &new);
    assert_eq!(
        statements(&d, ChangeKind::Service),
        ["removes service intranet"]
    );
    assert!(
        statements(&d, ChangeKind::Announce)
            .contains(&"withdraws intranet (192.0.2.11, 2001:db8:100::11) from lb1, lb2"),
        "{:?}",
        d.changes
    );
    assert!(
        statements(&d, ChangeKind::Firewall)
            .iter()
            .all(|s| s.starts_with("closes"))
    );
    assert!(d.files.iter().any(|f| f.path
        == "web1/etc/apache2/sites-available/svcintent-intranet.conf"
        && f.status == FileStatus::Removed));
}

fn diff_request(old: &Sources, new: &Sources) -> svcintent_core::api::Response {
    svcintent_core::api::handle(svcintent_core::api::Request::Diff {
        old: svcintent_tests::input_files(old),
        new: svcintent_tests::input_files(new),
    })
}

fn broken() -> Sources {
    edited("services/web.yaml", |t| t.replacen("web2", "wbe2", 1))
}

#[test]
fn an_old_site_with_errors_comes_back_with_its_diagnostics() {
    let r = diff_request(&broken(), &campus());
    assert!(!r.ok);
    assert!(r.diff.is_none());
    assert!(r.diagnostics.is_empty(), "the new site is clean");
    let found: Vec<(&str, &str)> = r
        .old_diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.location.file.as_str()))
        .collect();
    assert_eq!(found, [("SI020", "services/web.yaml")]);
    assert_eq!(
        r.error.as_deref(),
        Some("the old site has 1 error(s): fix them, or compare against a version that renders")
    );
}

#[test]
fn a_new_site_with_errors_comes_back_with_its_diagnostics_only() {
    let r = diff_request(&campus(), &broken());
    assert!(!r.ok);
    assert!(r.diff.is_none());
    assert!(r.error.is_none());
    assert!(r.old_diagnostics.is_empty());
    let codes: Vec<&str> = r.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["SI020"]);
}

#[test]
fn announcing_a_service_only_inside_the_site_says_which_upstreams_keep_it() {
    let new = edited("services/web.yaml", |t| {
        t.replace(
            "    description: Main university website\n",
            "    description: Main university website\n    announce: site\n",
        )
    });
    let d = site_diff(&campus(), &new);
    assert_eq!(
        statements(&d, ChangeKind::Service),
        ["www announce: upstream -> site (exported to core1, core1-v6; kept from no upstream)"]
    );
    // Nothing else changes on the network; the reflectors' export filters do.
    assert!(statements(&d, ChangeKind::Announce).is_empty());
    let paths: Vec<&str> = d.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["rr1/etc/bird/bird.conf", "rr2/etc/bird/bird.conf"]);

    // The campus core moved outside the site: said once, and what it stops getting shows in
    // the reflectors' filters (and in a warning: nothing inside the site is left for ldap).
    let outside = edited("site.yaml", |t| t.replace(", internal: true }", " }"));
    let d = site_diff(&campus(), &outside);
    assert_eq!(
        statements(&d, ChangeKind::Session),
        [
            "upstream core1 is now outside the site: it no longer gets the VIPs of `announce: site` services",
            "upstream core1-v6 is now outside the site: it no longer gets the VIPs of `announce: site` services"
        ]
    );
    let rr1 = d
        .files
        .iter()
        .find(|f| f.path == "rr1/etc/bird/bird.conf")
        .unwrap();
    assert!(
        rr1.unified.contains(
            "+    export where source = RTS_BGP && net ~ SVCINTENT_SITE4 && net !~ SVCINTENT_SITE_ONLY4;\n"
        ),
        "{}",
        rr1.unified
    );
}

#[test]
fn a_new_site_only_service_says_so() {
    let new = edited("services/web.yaml", |t| {
        format!(
            "{t}\n  wiki:\n    extends: http-web\n    announce: site\n    vips: [192.0.2.15]\n    backend_port: 8091\n    backends: [web1]\n    web: {{ server_names: [wiki.example.edu], document_root: /srv/www/wiki }}\n"
        )
    });
    let d = site_diff(&campus(), &new);
    assert_eq!(
        statements(&d, ChangeKind::Service),
        ["adds service wiki (haproxy; 192.0.2.15; 80/tcp; announced only inside the site)"]
    );
}
