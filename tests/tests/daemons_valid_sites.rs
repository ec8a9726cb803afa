//! Valid intents the documentation allows render configurations the real daemons accept: a
//! valid intent that a daemon rejects is a bug, never a note in the docs. Each site here is a
//! case a random valid site once hit (issue 16); the whole rendered tree goes through every
//! daemon's own check, as for the campus example.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use svcintent_core::Sources;
use svcintent_core::diagnostic::{human, json};
use svcintent_host::daemons::{Options, check_tree};
use svcintent_tests::write_tree;

const HOSTS: &str = r#"
site: { name: t, asn: 65000, anycast_prefixes: [192.0.2.0/24, "2001:db8:100::/48"] }
hosts:
  rr1: { roles: [route-reflector], ipv4: 198.18.0.1, ipv6: "2001:db8:ff::1" }
  lb1: { roles: [balancer], ipv4: 198.18.1.1, ipv6: "2001:db8:ff:1::1" }
  web1: { roles: [web], ipv4: 198.18.2.1, ipv6: "2001:db8:ff:2::1" }
  web2: { roles: [web], ipv4: 198.18.2.2, ipv6: "2001:db8:ff:2::2" }
  ntp1: { roles: [anycast-node], ipv4: 198.18.3.21, ipv6: "2001:db8:ff:3::21" }
  mon1: { roles: [monitoring], ipv4: 198.18.9.1, ipv6: "2001:db8:ff:9::1" }
"#;

/// Renders `services` over [`HOSTS`] (no diagnostic at all allowed), runs every daemon's
/// check on the tree and returns the rendered files by tree path.
fn render_and_check(services: &str) -> std::collections::BTreeMap<String, String> {
    let sources = Sources::from_pairs([("site.yaml", format!("{HOSTS}{services}"))]);
    let rendered = svcintent_core::render(&sources);
    let ds = json::to_json_all(&rendered.diagnostics, &sources);
    assert!(
        ds.is_empty(),
        "the site is valid:\n{}",
        human::render_all(&ds, &sources, human::Color::Never)
    );
    let out = rendered.output.unwrap();
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
    assert!(
        report
            .checked
            .iter()
            .any(|(d, _, _)| d.to_string() == "apache"),
        "apache checked nothing: {:?}",
        report.checked
    );
    out.files
        .iter()
        .map(|f| (f.tree_path(), f.contents.clone()))
        .collect()
}

/// `server_names` may be wildcards only (docs/format.md): Apache refuses a wildcard
/// `ServerName`, so the vhost gets a name under `.invalid` and the wildcards as aliases.
#[test]
fn wildcard_server_names_pass_apache() {
    let files = render_and_check(
        r#"
services:
  sites:
    mode: http
    vips: [192.0.2.10]
    ports: [80/tcp]
    backend_port: 8080
    backends: [web1, web2]
    web: { server_names: ["*.example.org", "*.example.net"], document_root: /srv/www }
  mixed:
    mode: http
    vips: [192.0.2.11]
    ports: [80/tcp]
    backend_port: 8081
    backends: [web1, web2]
    web: { server_names: ["*.example.com", www.example.com], document_root: /srv/www }
"#,
    );
    let vhost = |svc: &str| {
        files
            .iter()
            .find(|(p, _)| p.starts_with("web1/") && p.ends_with(&format!("svcintent-{svc}.conf")))
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("no vhost of {svc}: {:?}", files.keys()))
    };
    let sites = vhost("sites");
    assert!(sites.contains("ServerName \"sites.invalid\""), "{sites}");
    assert!(sites.contains("ServerAlias \"*.example.org\""), "{sites}");
    assert!(sites.contains("ServerAlias \"*.example.net\""), "{sites}");
    let mixed = vhost("mixed");
    assert!(mixed.contains("ServerName \"www.example.com\""), "{mixed}");
    assert!(mixed.contains("ServerAlias \"*.example.com\""), "{mixed}");
}

/// `client_ip: x-forwarded-for` and `none` on one vhost port of one web host are valid (SI048
/// is about the PROXY protocol only, which Apache switches on per port): Apache accepts both
/// vhosts, each with its own `RemoteIPHeader` setting.
#[test]
fn forwarded_for_and_none_share_a_vhost_port() {
    let files = render_and_check(
        r#"
services:
  app:
    mode: http
    vips: [192.0.2.10]
    ports: [80/tcp]
    backend_port: 8080
    client_ip: x-forwarded-for
    backends: [web1, web2]
    web: { server_names: [app.example.org], document_root: /srv/app }
  docs:
    mode: http
    vips: [192.0.2.11]
    ports: [80/tcp]
    backend_port: 8080
    client_ip: none
    backends: [web1, web2]
    web: { server_names: [docs.example.org], document_root: /srv/docs }
"#,
    );
    let vhost = |svc: &str| {
        files
            .get(&format!(
                "web1/etc/apache2/sites-available/svcintent-{svc}.conf"
            ))
            .cloned()
            .unwrap_or_else(|| panic!("no vhost of {svc}"))
    };
    assert!(vhost("app").contains("RemoteIPHeader X-Forwarded-For"));
    assert!(!vhost("docs").contains("RemoteIPHeader"));
    assert!(vhost("app").contains("<VirtualHost *:8080>"));
    assert!(vhost("docs").contains("<VirtualHost *:8080>"));
}

/// A UDP-only anycast service may have a tcp check with an explicit `port` (SI043 refuses only
/// a check without one): the node's anycast-healthchecker checks that port on the VIP.
#[test]
fn udp_only_service_with_an_explicit_check_port() {
    let files = render_and_check(
        r#"
services:
  www:
    mode: http
    vips: [192.0.2.10]
    ports: [80/tcp]
    backend_port: 8080
    backends: [web1, web2]
    web: { server_names: [www.example.org], document_root: /srv/www }
  ntp:
    balancing: anycast
    vips: [192.0.2.123]
    ports: [123/udp]
    nodes: [ntp1]
    check: { tcp: { port: 4460 } }
"#,
    );
    let conf = files
        .iter()
        .find(|(p, _)| p.starts_with("ntp1/") && p.ends_with("/ntp.conf"))
        .map(|(_, c)| c.as_str())
        .unwrap_or_else(|| panic!("no healthchecker check of ntp: {:?}", files.keys()));
    assert!(conf.contains("-p 4460"), "{conf}");
}
