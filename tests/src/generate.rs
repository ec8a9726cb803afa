//! A deterministic generator of large synthetic sites, for determinism tests (native vs wasm)
//! and benchmarks: `site(services, hosts)` gives a valid, lint-clean site of that size.
//! Addresses come only from the documentation and benchmarking ranges.

use std::fmt::Write as _;

use svcintent_core::Sources;

/// The size the measuring examples take from their command line: `SERVICES HOSTS`, each
/// defaulting to the given value (arguments that are not numbers are skipped).
pub fn size_from_args(services: usize, hosts: usize) -> (usize, usize) {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    (
        numbers.first().copied().unwrap_or(services),
        numbers.get(1).copied().unwrap_or(hosts),
    )
}

/// Builds a site with `services` services on `hosts` hosts (at least 16).
pub fn site(services: usize, hosts: usize) -> Sources {
    let hosts = hosts.max(16);
    let balancers_per_group = 3;
    let groups = 2;
    let anycast_nodes = 4;
    let fixed = 2 + groups * balancers_per_group + anycast_nodes + 1;
    let webs = hosts - fixed;

    let mut s = String::new();
    s.push_str("site:\n  name: generated\n  asn: 65020\n  anycast_prefixes: [198.19.0.0/16, 2001:db8:100::/48]\n");
    s.push_str("  monitoring: { notify: [noc] }\n");
    s.push_str("defaults:\n  check: { interval: 2s, timeout: 1s, rise: 2, fall: 3 }\n");
    s.push_str("templates:\n  web:\n    mode: http\n    ports: [80/tcp, 443/tcp]\n    backend_port: 8080\n");
    s.push_str("    tls: { mode: terminate, certificate: site.pem, ports: [443] }\n");
    s.push_str("    check: { http: { path: /healthz } }\n    client_ip: proxy-protocol\n");
    s.push_str("hosts:\n");
    let host = |s: &mut String, name: &str, role: &str, n: usize, extra: &str| {
        let _ = writeln!(
            s,
            "  {name}: {{ roles: [{role}], ipv4: 198.18.{}.{}, ipv6: \"2001:db8:ff::{:x}\"{extra} }}",
            n / 250,
            n % 250 + 1,
            n + 1
        );
    };
    let mut n = 0;
    for i in 1..=2 {
        host(&mut s, &format!("rr{i}"), "route-reflector", n, "");
        n += 1;
    }
    for g in 0..groups {
        for i in 1..=balancers_per_group {
            host(
                &mut s,
                &format!("lb{g}x{i}"),
                "balancer",
                n,
                &format!(", group: g{g}"),
            );
            n += 1;
        }
    }
    for i in 1..=anycast_nodes {
        host(&mut s, &format!("node{i}"), "anycast-node", n, "");
        n += 1;
    }
    host(&mut s, "mon1", "monitoring", n, "");
    n += 1;
    for i in 0..webs {
        host(&mut s, &format!("web{i}"), "web", n, "");
        n += 1;
    }

    let mut files = vec![("site.yaml".to_owned(), s)];
    // Services in files of 100, as a real site would split them.
    for (chunk, start) in (0..services).step_by(100).enumerate() {
        let mut f = String::from("services:\n");
        for i in start..(start + 100).min(services) {
            let v4 = format!("198.19.{}.{}", i / 250, i % 250 + 1);
            let v6 = format!("2001:db8:100::{:x}", i + 1);
            if i % 10 == 9 {
                let a = i % anycast_nodes + 1;
                let b = (i + 1) % anycast_nodes + 1;
                let _ = writeln!(
                    f,
                    "  svc{i}:\n    balancing: anycast\n    vips: [{v4}, \"{v6}\"]\n    ports: [{}/udp, {}/tcp]\n    nodes: [node{a}, node{b}]\n    check: {{ tcp: {{ port: {} }} }}",
                    1000 + i,
                    1000 + i,
                    1000 + i
                );
            } else {
                let backends: Vec<String> = (0..3)
                    .map(|k| format!("web{}", (i * 7 + k * 13) % webs))
                    .collect();
                let mut uniq = backends.clone();
                uniq.sort();
                uniq.dedup();
                let _ = writeln!(
                    f,
                    "  svc{i}:\n    extends: web\n    group: g{}\n    vips: [{v4}, \"{v6}\"]\n    backends: [{}]\n    web: {{ server_names: [svc{i}.example.edu], proxy_to: \"http://127.0.0.1:3000\" }}",
                    i % groups,
                    uniq.join(", ")
                );
            }
        }
        files.push((format!("services/part{chunk:03}.yaml"), f));
    }
    Sources::from_pairs(files)
}
