//! Inheritance and defaults: order (defaults → defaults.<mode> → templates in order → service),
//! merge semantics (maps merge, scalars and lists replace, `key+:` appends, `~` resets), and
//! that inherited values keep the location of the line that set them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use svcintent_core::model::{Algorithm, CheckKind, ClientIp, Mode, Tls};
use svcintent_core::{Code, Sources, compile};

const BASE: &str = r#"
site: { name: t, asn: 65000, anycast_prefixes: [192.0.2.0/24] }
hosts:
  rr1: { roles: [route-reflector], ipv4: 198.18.0.1 }
  lb1: { roles: [balancer], ipv4: 198.18.1.1 }
  web1: { roles: [web], ipv4: 198.18.2.1 }
  web2: { roles: [web], ipv4: 198.18.2.2 }
  kdc1: { roles: [anycast-node], ipv4: 198.18.3.1 }
  mon1: { roles: [monitoring], ipv4: 198.18.9.1 }
"#;

fn site(extra: &str) -> Sources {
    Sources::from_pairs([("site.yaml", format!("{BASE}{extra}"))])
}

#[test]
fn layers_apply_in_documented_order() {
    let s = site(
        r#"
defaults:
  check: { interval: 5s, timeout: 1s, rise: 4 }
  allow: [198.18.0.0/15]
  haproxy:
    balance: leastconn
    check: { fall: 7 }
  anycast:
    check: { rise: 9 }
templates:
  base: { mode: http, balance: source, check: { http: { path: /a } } }
  tls: { extends: base, balance: first, tls: { mode: terminate, certificate: c.pem }, ports: [80/tcp, 443/tcp] }
services:
  www:
    extends: tls
    vips: [192.0.2.10]
    backends: [web1]
    check: { interval: 3s }
  krb:
    balancing: anycast
    vips: [192.0.2.88]
    ports: [88/udp, 88/tcp]
    nodes: [kdc1]
"#,
    );
    let c = compile(&s);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let intent = c.intent.unwrap();
    let www = &intent.services["www"];
    let h = www.haproxy.as_ref().unwrap();
    // template `tls` (later, more specific) beats `base`, which beats defaults.haproxy
    assert_eq!(h.balance, Algorithm::First);
    assert_eq!(h.mode, Mode::Http);
    assert!(matches!(&h.tls, Tls::Terminate { certificate, .. } if certificate == "c.pem"));
    // maps merge across all layers: interval from the service, timeout/rise from defaults,
    // fall from the per-mode defaults, http kind from a template
    assert_eq!(www.check.interval_ms, 3000);
    assert_eq!(www.check.timeout_ms, 1000);
    assert_eq!(www.check.rise, 4);
    assert_eq!(www.check.fall, 7);
    assert!(matches!(&www.check.kind, CheckKind::Http { path, .. } if path == "/a"));
    assert_eq!(www.extends, vec!["tls".to_owned(), "base".to_owned()]);
    assert_eq!(www.allow.len(), 1);
    // per-mode defaults apply only to their mode
    let krb = &intent.services["krb"];
    assert_eq!(krb.check.rise, 9);
    assert_eq!(
        krb.check.fall, 3,
        "defaults.haproxy must not reach an anycast service"
    );
}

#[test]
fn lists_replace_append_and_null_resets() {
    let s = site(
        r#"
templates:
  t:
    allow: [198.18.0.0/15]
    client_ip: proxy-protocol
    ports: [80/tcp]
services:
  replaced:
    extends: t
    vips: [192.0.2.10]
    backends: [web1]
    allow: [203.0.113.0/24]
  appended:
    extends: t
    vips: [192.0.2.11]
    backends: [web1]
    allow+: [203.0.113.0/24]
  reset:
    extends: t
    vips: [192.0.2.12]
    backends: [web1]
    client_ip: ~
"#,
    );
    let c = compile(&s);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let i = c.intent.unwrap();
    let allow = |n: &str| {
        i.services[n]
            .allow
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(allow("replaced"), ["203.0.113.0/24"]);
    assert_eq!(allow("appended"), ["198.18.0.0/15", "203.0.113.0/24"]);
    assert_eq!(
        i.services["reset"].haproxy.as_ref().unwrap().client_ip,
        ClientIp::None
    );
    assert_eq!(
        i.services["replaced"].haproxy.as_ref().unwrap().client_ip,
        ClientIp::ProxyProtocol
    );
}

#[test]
fn inherited_problem_is_reported_once_at_the_template_line() {
    let s = site(
        r#"
templates:
  t: { mode: tcp, check: { interval: 2 } }
services:
  a: { extends: t, vips: [192.0.2.10], ports: [80/tcp], backends: [web1] }
  b: { extends: t, vips: [192.0.2.11], ports: [80/tcp], backends: [web2] }
"#,
    );
    let c = compile(&s);
    let hits: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::InvalidDuration)
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let loc = s.locate(hits[0].primary.span);
    let line = s
        .get(hits[0].primary.span.file)
        .unwrap()
        .text
        .lines()
        .nth(loc.line as usize - 1)
        .unwrap();
    assert!(line.contains("t: { mode: tcp"), "points at {line:?}");
}

#[test]
fn files_merge_in_path_order_and_definitions_stay_unique() {
    let s = Sources::from_pairs([
        (
            "services/b.yaml",
            "services:\n  b: { vips: [192.0.2.11], ports: [80/tcp], backends: [web1] }\n"
                .to_owned(),
        ),
        ("site.yaml", BASE.to_owned()),
        (
            "services/a.yaml",
            "services:\n  a: { vips: [192.0.2.10], ports: [80/tcp], backends: [web1] }\n"
                .to_owned(),
        ),
    ]);
    let c = compile(&s);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let i = c.intent.unwrap();
    assert_eq!(
        i.source_files,
        ["services/a.yaml", "services/b.yaml", "site.yaml"]
    );
    assert_eq!(i.services.keys().collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn the_same_input_gives_the_same_output() {
    let s =
        site("services:\n  www: { vips: [192.0.2.10], ports: [80/tcp], backends: [web1, web2] }\n");
    let a = svcintent_core::api::handle_json(&serde_json::json!({"version": 1, "op": "render", "files": [{"path": "site.yaml", "text": s.get(svcintent_core::source::FileId(0)).unwrap().text}]}).to_string());
    let b = svcintent_core::api::handle_json(&serde_json::json!({"version": 1, "op": "render", "files": [{"path": "site.yaml", "text": s.get(svcintent_core::source::FileId(0)).unwrap().text}]}).to_string());
    assert_eq!(a, b);
}

#[test]
fn trace_names_the_layer_and_line_of_each_value() {
    let sources = svcintent_tests::load_site(&svcintent_tests::repo_root().join("examples/campus"));
    let t = svcintent_core::trace::trace_service(&sources, "www").unwrap();
    let line = |key: &str| {
        t.lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("{key} not in\n{t}"))
    };
    assert!(
        line("mode:").contains("site.yaml:") && line("mode:").contains("(template http-web)"),
        "{t}"
    );
    assert!(
        line("vips:").contains("services/web.yaml:") && line("vips:").contains("(service)"),
        "{t}"
    );
    assert!(line("balance:").contains("(defaults.haproxy)"), "{t}");
    assert!(line("certificate:").contains("(template https-web)"), "{t}");
    assert!(
        t.contains("extends (applied in this order): http-web, https-web"),
        "{t}"
    );
}

#[test]
fn null_and_append_act_on_defaults_too() {
    let s = site(
        r#"
defaults:
  allow: [198.18.0.0/15]
  maxconn: 100
  check: { http: { path: /d } }
services:
  a: { mode: http, vips: [192.0.2.10], ports: [80/tcp], backends: [web1], allow+: [203.0.113.0/24], maxconn: ~ }
  b: { mode: http, vips: [192.0.2.11], ports: [80/tcp], backends: [web2], allow: ~, check: { http: ~, tls: {} } }
"#,
    );
    let c = compile(&s);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let i = c.intent.unwrap();
    let a = &i.services["a"];
    assert_eq!(
        a.allow.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["198.18.0.0/15", "203.0.113.0/24"]
    );
    assert_eq!(a.haproxy.as_ref().unwrap().maxconn, None);
    let b = &i.services["b"];
    assert!(b.allow.is_empty());
    assert!(
        matches!(b.check.kind, CheckKind::Tls { .. }),
        "{:?}",
        b.check.kind
    );
}

#[test]
fn append_only_on_inherited_lists() {
    let s = site(
        "services:\n  a: { vips: [192.0.2.10], ports: [80/tcp], backends: [web1], mode+: http }\n",
    );
    let c = compile(&s);
    assert!(
        c.diagnostics
            .iter()
            .any(|d| d.code == Code::WrongType && d.message.contains("`mode+`")),
        "{:?}",
        c.diagnostics
    );
    let s = Sources::from_pairs([(
        "site.yaml",
        BASE.replace(
            "roles: [web], ipv4: 198.18.2.2",
            "roles+: [web], ipv4: 198.18.2.2",
        ),
    )]);
    let c = compile(&s);
    assert!(
        c.diagnostics
            .iter()
            .any(|d| d.code == Code::WrongType && d.message.contains("`roles+`")),
        "{:?}",
        c.diagnostics
    );
}

#[test]
fn one_family_allow_closes_the_other_family() {
    let s = Sources::from_pairs([(
        "site.yaml",
        r#"
site: { name: t, asn: 65000, anycast_prefixes: [192.0.2.0/24, "2001:db8:100::/48"] }
hosts:
  rr1: { roles: [route-reflector], ipv4: 198.18.0.1, ipv6: "2001:db8:ff::1" }
  lb1: { roles: [balancer], ipv4: 198.18.1.1, ipv6: "2001:db8:ff::2" }
  web1: { roles: [web], ipv4: 198.18.2.1 }
  mon1: { roles: [monitoring], ipv4: 198.18.9.1 }
services:
  a: { vips: [192.0.2.10, "2001:db8:100::10"], ports: [80/tcp], backends: [web1], allow: [198.18.0.0/15] }
"#,
    )]);
    let c = compile(&s);
    assert!(
        c.diagnostics
            .iter()
            .any(|d| d.code == Code::AllowFamilyGap && d.message.contains("IPv6")),
        "{:?}",
        c.diagnostics
    );
    let intent = c.intent.unwrap();
    let plan = svcintent_core::plan::plan(&intent);
    let lb = &plan.hosts["lb1"];
    assert!(
        lb.allow
            .iter()
            .all(|a| a.daddr.is_ipv4() || a.reason != "a"),
        "IPv6 VIP must stay closed: {:?}",
        lb.allow
    );
    assert!(
        lb.allow
            .iter()
            .any(|a| a.daddr.is_ipv4() && a.reason == "a" && !a.sources.is_empty())
    );
}

#[test]
fn extends_and_balancing_in_defaults_are_refused() {
    let s = site(
        "defaults:\n  extends: x\n  anycast: { nodes: [kdc1] }\n  balancing: anycast\nservices:\n  a: { vips: [192.0.2.10], ports: [80/tcp], backends: [web1] }\n",
    );
    let c = compile(&s);
    let msgs: Vec<_> = c
        .diagnostics
        .iter()
        .map(|d| (d.code, d.message.clone()))
        .collect();
    assert!(
        msgs.iter()
            .any(|(c, m)| *c == Code::FieldNotApplicable && m.contains("`extends`")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|(c, m)| *c == Code::FieldNotApplicable && m.contains("`balancing`")),
        "{msgs:?}"
    );
    assert!(
        !msgs.iter().any(|(_, m)| m.contains("`nodes` applies only")),
        "nodes in defaults.anycast is fine: {msgs:?}"
    );
}

/// Every mapping field of a service (and every mapping inside one) merges key by key: a
/// service that restates one key of an inherited block, from a template or from `defaults`,
/// keeps every other key of it, and the result compiles without an error (restating
/// `tls.mode` once lost the inherited certificate: SI047). The table must cover every key of
/// every such block of the schema, so a new block or key fails here until it is added.
#[test]
fn overriding_one_key_of_an_inherited_mapping_keeps_the_others() {
    use svcintent_core::schema::{self, Ty};
    // Per block (dotted path): variants of keys that can be set together, each key with the
    // inherited value and the service's own value.
    type Variant = &'static [(&'static str, &'static str, &'static str)];
    const BLOCKS: &[(&str, &[Variant])] = &[
        (
            "check",
            &[
                &[
                    ("interval", "3s", "4s"),
                    ("timeout", "1s", "2s"),
                    ("rise", "2", "3"),
                    ("fall", "3", "4"),
                    ("http", "{ path: /healthz }", "{ expect: 204 }"),
                ],
                &[
                    ("interval", "3s", "4s"),
                    ("tcp", "{ port: 8080 }", "{ port: 8081 }"),
                ],
                &[
                    ("rise", "2", "5"),
                    ("tls", "{ sni: a.example.edu }", "{ port: 8443 }"),
                ],
                &[
                    ("fall", "3", "5"),
                    (
                        "command",
                        "[check_tcp, -H, \"{vip}\"]",
                        "[check_http, -I, \"{vip}\"]",
                    ),
                ],
            ],
        ),
        (
            "check.http",
            &[&[
                ("path", "/healthz", "/ready"),
                ("expect", "200", "204"),
                ("host", "a.example.edu", "b.example.edu"),
                ("method", "GET", "HEAD"),
                ("port", "8080", "8081"),
            ]],
        ),
        ("check.tcp", &[&[("port", "8080", "8081")]]),
        (
            "check.tls",
            &[&[
                ("sni", "a.example.edu", "b.example.edu"),
                ("port", "8443", "8444"),
            ]],
        ),
        (
            "monitoring",
            &[&[
                ("enabled", "true", "true"),
                ("notify", "[netops]", "[webteam]"),
            ]],
        ),
        (
            "deploy",
            &[&[("min_announcers", "2", "1"), ("max_in_flight", "1", "2")]],
        ),
        (
            "timeouts",
            &[&[
                ("connect", "5s", "6s"),
                ("client", "30s", "31s"),
                ("server", "30s", "31s"),
            ]],
        ),
        (
            "tls",
            &[&[
                ("mode", "terminate", "terminate"),
                ("certificate", "a.pem", "b.pem"),
                ("ports", "[443]", "[443]"),
                ("redirect_http", "true", "false"),
            ]],
        ),
        (
            "web",
            &[
                &[
                    (
                        "server_names",
                        "[a.example.edu]",
                        "[b.example.edu, c.example.edu]",
                    ),
                    ("document_root", "/srv/a", "/srv/b"),
                    ("listen_port", "8080", "8080"),
                    ("health_path", "/healthz", "/healthz"),
                ],
                &[
                    ("server_names", "[a.example.edu]", "[b.example.edu]"),
                    (
                        "proxy_to",
                        "\"http://127.0.0.1:3000\"",
                        "\"http://127.0.0.1:3001\"",
                    ),
                ],
            ],
        ),
    ];

    // Coverage: every mapping reachable from a service field has a row, and its variants
    // name every key of it.
    fn blocks(fields: &[schema::Field], prefix: &str, out: &mut Vec<(String, Vec<&'static str>)>) {
        for f in fields {
            if let Ty::Object(inner) = f.ty {
                let path = format!("{prefix}{}", f.name);
                out.push((path.clone(), inner.iter().map(|f| f.name).collect()));
                blocks(inner, &format!("{path}."), out);
            }
        }
    }
    let mut schema_blocks = Vec::new();
    blocks(schema::SERVICE, "", &mut schema_blocks);
    for (path, keys) in &schema_blocks {
        let row = BLOCKS.iter().find(|(p, _)| p == path);
        let row = row.unwrap_or_else(|| panic!("no row for the mapping `{path}`"));
        for key in keys {
            assert!(
                row.1.iter().any(|v| v.iter().any(|(k, _, _)| k == key)),
                "`{path}.{key}` is not covered"
            );
        }
    }

    // `{ b: { c: INNER } }` for the path `a.b.c` (the value of `a:`).
    fn nest(path: &str, inner: &str) -> String {
        let below: Vec<&str> = path.split('.').skip(1).collect();
        below
            .iter()
            .rev()
            .fold(inner.to_owned(), |acc, key| format!("{{ {key}: {acc} }}"))
    }
    fn show(n: &svcintent_core::parse::Node) -> String {
        use svcintent_core::parse::Value;
        match &n.value {
            Value::Null => "~".to_owned(),
            Value::Scalar(s) => s.text.clone(),
            Value::Seq(items) => format!(
                "[{}]",
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            Value::Map(entries) => format!(
                "{{ {} }}",
                entries
                    .iter()
                    .map(|e| format!("{}: {}", e.key, show(&e.value)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    fn node(yaml: &str) -> svcintent_core::parse::Node {
        let sources = Sources::from_pairs([("v.yaml", format!("v: {yaml}\n"))]);
        let mut diags = svcintent_core::diagnostic::Diagnostics::default();
        let docs = svcintent_core::parse::parse_all(&sources, &mut diags);
        docs[0]
            .root
            .as_ref()
            .unwrap()
            .get("v")
            .unwrap()
            .value
            .clone()
    }
    // A value as `show` prints it, from its YAML text.
    fn shown(yaml: &str) -> String {
        show(&node(yaml))
    }
    // The documented merge of a restated mapping (one level, as the samples are): the
    // inherited keys in order, the restated ones replacing theirs, new ones after.
    fn merged(inherited: &str, own: &str) -> String {
        let (a, b) = (node(inherited), node(own));
        let mut parts: Vec<String> = a
            .entries()
            .iter()
            .map(|e| {
                let v = b.get(&e.key).map_or(&e.value, |o| &o.value);
                format!("{}: {}", e.key, show(v))
            })
            .collect();
        for e in b.entries().iter().filter(|e| a.get(&e.key).is_none()) {
            parts.push(format!("{}: {}", e.key, show(&e.value)));
        }
        format!("{{ {} }}", parts.join(", "))
    }

    let mut checked = 0;
    for (path, variants) in BLOCKS {
        for variant in *variants {
            let all = variant
                .iter()
                .map(|(k, a, _)| format!("{k}: {a}"))
                .collect::<Vec<_>>()
                .join(", ");
            let inherited = nest(path, &format!("{{ {all} }}"));
            let top = path.split('.').next().unwrap();
            for (key, _, own) in *variant {
                let restated = nest(path, &format!("{{ {key}: {own} }}"));
                for layer in ["template", "defaults"] {
                    let (defaults, template) = if layer == "template" {
                        (String::new(), format!("    {top}: {inherited}\n"))
                    } else {
                        (format!("defaults:\n  {top}: {inherited}\n"), String::new())
                    };
                    let yaml = format!(
                        "{defaults}templates:\n  base:\n    mode: http\n    ports: [80/tcp, 443/tcp]\n    backend_port: 8080\n    backends: [web1, web2]\n{}{template}services:\n  www:\n    extends: base\n    vips: [192.0.2.10]\n    {top}: {restated}\n",
                        if top == "check" {
                            ""
                        } else {
                            "    check: { http: { path: /healthz } }\n"
                        },
                    );
                    let s = site(&yaml);
                    let c = compile(&s);
                    assert!(
                        !c.has_errors(),
                        "{layer} {path}, restating `{key}`:\n{yaml}\n{:?}",
                        c.diagnostics
                    );
                    let mut diags = svcintent_core::diagnostic::Diagnostics::default();
                    let docs = svcintent_core::parse::parse_all(&s, &mut diags);
                    let r = svcintent_core::resolve::resolve(&s, &docs, &mut diags);
                    let mut block = &r.services["www"].effective;
                    for part in path.split('.') {
                        block = &block
                            .get(part)
                            .unwrap_or_else(|| panic!("{path} lost"))
                            .value;
                    }
                    for (k, a, b) in *variant {
                        let got = block.get(k).map(|e| show(&e.value));
                        let want = match () {
                            // A restated mapping merges too.
                            () if k == key && b.starts_with('{') => merged(a, b),
                            () if k == key => shown(b),
                            () => shown(a),
                        };
                        assert_eq!(
                            got.as_deref(),
                            Some(want.as_str()),
                            "{layer} {path}: restating `{key}` changed `{k}`"
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 40, "{checked}");
}
