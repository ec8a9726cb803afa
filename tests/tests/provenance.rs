//! Where rendered lines come from (`origins`) and the site's picture (`topology`), as the
//! protocol's render response carries them to the playground.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use serde_json::Value;
use svcintent_core::api::{InputFile, Request, handle};
use svcintent_tests::{load_site, repo_root};

fn campus_files() -> Vec<InputFile> {
    svcintent_tests::input_files(&load_site(&repo_root().join("examples/campus")))
}

fn render_campus() -> Value {
    let response = handle(Request::Render {
        files: campus_files(),
    });
    assert!(
        response.ok,
        "campus must render: {:?}",
        response.diagnostics
    );
    serde_json::to_value(&response).unwrap()
}

fn file<'a>(response: &'a Value, path: &str) -> &'a Value {
    response["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not rendered"))
}

/// The service a 1-based line belongs to, per the file's origins.
fn service_of_line(file: &Value, line: u64) -> Option<String> {
    file["origins"]
        .as_array()
        .unwrap()
        .iter()
        .take_while(|o| o["line"].as_u64().unwrap() <= line)
        .last()
        .and_then(|o| o["service"].as_str().map(str::to_owned))
}

fn lines(file: &Value) -> Vec<&str> {
    file["contents"].as_str().unwrap().lines().collect()
}

#[test]
fn haproxy_lines_belong_to_the_service_of_their_section() {
    let response = render_campus();
    let cfg = file(&response, "lb1/etc/haproxy/haproxy.cfg");
    let text = lines(cfg);
    let mut sections = 0;
    for (i, line) in text.iter().enumerate() {
        let n = i as u64 + 1;
        let owner = service_of_line(cfg, n);
        if *line == "frontend svcintent_health" {
            assert_eq!(owner, None, "host-level line {n} attributed: {line}");
        } else if let Some(name) = line
            .strip_prefix("frontend ")
            .or_else(|| line.strip_prefix("backend "))
        {
            sections += 1;
            // Listener names are `<service>` or `<service>_<port>`.
            let service = name.split('_').next().unwrap();
            assert_eq!(owner.as_deref(), Some(service), "line {n}: {line}");
        }
        if line.starts_with("global")
            || line.starts_with("defaults")
            || line.starts_with("listen svcintent_stats")
        {
            assert_eq!(owner, None, "host-level line {n} attributed: {line}");
        }
    }
    assert!(sections >= 10, "only {sections} sections seen");
    // Each block starts on its `# Service` comment.
    for o in cfg["origins"].as_array().unwrap() {
        let service = o["service"].as_str().unwrap();
        let start = text[o["line"].as_u64().unwrap() as usize - 1];
        assert!(
            start.starts_with(&format!("# Service {service}")),
            "block of {service} starts at {start:?}"
        );
    }
}

#[test]
fn origins_point_at_the_service_definition() {
    let response = render_campus();
    let sources = load_site(&repo_root().join("examples/campus"));
    let mut checked = 0;
    for f in response["files"].as_array().unwrap() {
        for o in f["origins"].as_array().unwrap() {
            let Some(service) = o["service"].as_str() else {
                continue;
            };
            let source = &o["source"];
            let text = &sources
                .by_path(source["file"].as_str().unwrap())
                .expect("origin names a source file")
                .text;
            let line = text
                .lines()
                .nth(source["line"].as_u64().unwrap() as usize - 1)
                .unwrap();
            let at = &line[source["column"].as_u64().unwrap() as usize - 1..];
            assert!(
                at.starts_with(service),
                "{service} defined at {source}: {line:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} origins checked");
}

#[test]
fn every_target_with_service_blocks_reports_them() {
    let response = render_campus();
    for path in [
        "lb1/etc/haproxy/haproxy.cfg",
        "lb1/etc/anycast-healthchecker.d/www.conf",
        "lb1/etc/nftables.conf",
        "mon1/etc/icinga2/conf.d/svcintent/services.conf",
        "mon1/etc/icinga2/conf.d/svcintent/hosts.conf",
        "web1/etc/apache2/sites-available/svcintent-intranet.conf",
    ] {
        let f = file(&response, path);
        let named: Vec<&str> = f["origins"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["service"].as_str())
            .collect();
        assert!(!named.is_empty(), "{path} has no service origins");
        for s in &named {
            assert!(
                f["services"].as_array().unwrap().iter().any(|x| x == s),
                "{path}: origin {s} is not among the file's services"
            );
        }
    }
    // Host-level lines in Icinga2: BGP session checks belong to no service.
    let services = file(&response, "mon1/etc/icinga2/conf.d/svcintent/services.conf");
    for (i, line) in lines(services).iter().enumerate() {
        if line.starts_with("object Service \"bgp_") {
            assert_eq!(service_of_line(services, i as u64 + 1), None, "{line}");
        }
    }
}

#[test]
fn topology_has_every_host_session_and_service_path() {
    let response = render_campus();
    let t = &response["topology"];
    let hosts: Vec<&str> = t["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    // Every host gets at least its firewall, so the golden tree has a folder per host.
    let mut golden: Vec<String> = std::fs::read_dir(repo_root().join("tests/golden/campus"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    golden.sort();
    assert_eq!(hosts, golden);
    assert!(hosts.windows(2).all(|w| w[0] < w[1]), "hosts sorted");
    let lb3 = t["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "lb3")
        .unwrap();
    assert_eq!(lb3["drained"], true);
    assert_eq!(lb3["roles"], serde_json::json!(["balancer"]));

    let sessions: Vec<(String, String)> = t["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["a"].as_str().unwrap().to_owned(),
                s["b"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for speaker in ["lb1", "lb2", "lb3", "kdc1", "kdc2", "dns1", "dns2"] {
        for rr in ["rr1", "rr2"] {
            assert!(
                sessions.contains(&(speaker.to_owned(), rr.to_owned())),
                "no session {speaker}-{rr}: {sessions:?}"
            );
        }
    }
    assert!(sessions.contains(&("rr1".to_owned(), "rr2".to_owned())));
    assert!(sessions.contains(&("rr1".to_owned(), "core1".to_owned())));
    assert!(
        !sessions
            .iter()
            .any(|(a, b)| a.starts_with("web") || b.starts_with("web"))
    );

    let www = t["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "www")
        .unwrap();
    assert_eq!(www["balancing"], "haproxy");
    assert_eq!(
        www["announcers"],
        serde_json::json!([
            {"host": "lb1", "drained": false},
            {"host": "lb2", "drained": false},
            {"host": "lb3", "drained": true}
        ])
    );
    assert!(
        www["backends"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["host"].as_str().unwrap().starts_with("web"))
    );
    assert!(www["vips"].as_array().unwrap().len() >= 2);
    assert!(
        www["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "443/tcp")
    );
    let kerberos = t["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["balancing"] == "anycast")
        .unwrap();
    assert_eq!(kerberos["backends"], serde_json::json!([]));
    assert!(!kerberos["announcers"].as_array().unwrap().is_empty());

    // The announce scope: campus-only services reach the campus core (inside the site) only.
    let service = |name: &str| {
        t["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(www["announce"], "upstream");
    assert_eq!(service("ldap")["announce"], "site");
    assert_eq!(
        service("ldap")["upstreams"],
        serde_json::json!(["core1", "core1-v6"])
    );
    assert_eq!(t["upstreams"][0]["internal"], true);
}

/// The topology names the upstreams each service's VIPs reach: every upstream of a family it
/// has VIPs of, and for `announce: site` only those inside the site (the BIRD fixture: core1
/// is an eBGP router outside, core1-v6 an eBGP router inside, agg an iBGP router).
#[test]
fn topology_says_which_upstreams_get_each_service() {
    let files = svcintent_tests::input_files(&load_site(
        &repo_root().join("tests/fixtures/render/bird_sessions"),
    ));
    let response = handle(Request::Render { files });
    assert!(response.ok);
    let t = &serde_json::to_value(&response).unwrap()["topology"];
    let upstreams_of = |name: &str| {
        t["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["upstreams"]
            .clone()
    };
    assert_eq!(
        upstreams_of("www"),
        serde_json::json!(["core1", "core1-v6", "agg"])
    );
    assert_eq!(upstreams_of("dns"), serde_json::json!(["core1-v6", "agg"]));
    assert_eq!(upstreams_of("ntp"), serde_json::json!(["core1", "agg"]));
    let internal: Vec<bool> = t["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["internal"].as_bool().unwrap())
        .collect();
    assert_eq!(internal, [false, true, true]);
}
