//! Every diagnostic code has a fixture that triggers it (`tests/fixtures/invalid/<CODE>_<what>/`),
//! the human output of each fixture is a reviewed snapshot (carets under the exact node), and
//! every code is documented in docs/diagnostics.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeSet;

use svcintent_core::diagnostic::{human, json};
use svcintent_core::{Code, Severity};
use svcintent_tests::{load_site, repo_root};

fn fixture_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(repo_root().join("tests/fixtures/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn each_fixture_triggers_its_code() {
    insta::glob!("../fixtures/invalid", "*/site.yaml", |path| {
        let dir = path.parent().unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let code: Code = name
            .split('_')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|()| panic!("{name}: no code prefix"));
        let sources = load_site(dir);
        let compiled = svcintent_core::compile(&sources);
        let ds = json::to_json_all(&compiled.diagnostics, &sources);
        let hit = ds.iter().find(|d| d.code == code);
        assert!(
            hit.is_some(),
            "{name}: {code} not reported; got {:?}",
            ds.iter().map(|d| d.code).collect::<Vec<_>>()
        );
        let hit = hit.unwrap();
        // Every finding is located inside the site, on a real line.
        for d in &ds {
            assert!(
                !d.location.file.is_empty() && d.location.line >= 1,
                "{name}: unlocated {d:?}"
            );
        }
        assert!(hit.location.end >= hit.location.start);
        // Every diagnostic is reported with its code's severity: one table decides it.
        for d in &ds {
            assert_eq!(d.severity, d.code.severity(), "{name}: {d:?}");
        }
        // A fixture with `expected.txt` states its whole diagnostic list, one
        // `CODE file:line:col` per line: nothing may be added to it (no knock-on findings).
        if let Ok(expected) = std::fs::read_to_string(dir.join("expected.txt")) {
            let got: Vec<String> = ds
                .iter()
                .map(|d| {
                    format!(
                        "{} {}:{}:{}",
                        d.code, d.location.file, d.location.line, d.location.column
                    )
                })
                .collect();
            let want: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(got, want, "{name}: the exact diagnostic list");
        }
        insta::assert_snapshot!(human::render_all(&ds, &sources, human::Color::Never));
    });
}

#[test]
fn every_code_has_a_fixture() {
    let covered: BTreeSet<String> = fixture_dirs()
        .iter()
        .map(|d| {
            d.file_name()
                .unwrap()
                .to_string_lossy()
                .split('_')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    // SI099 reports a bug in svcintent itself; no input can (or should) trigger it.
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| *c != "SI099" && !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}

#[test]
fn every_code_is_documented() {
    for code in Code::ALL {
        let doc = code
            .explanation()
            .unwrap_or_else(|| panic!("{code} has no section in docs/diagnostics.md"));
        assert!(
            doc.contains(code.name()),
            "{code}: section does not name `{}`",
            code.name()
        );
        for part in ["**What**", "**Why**", "**Fix**"] {
            assert!(doc.contains(part), "{code}: section lacks {part}");
        }
    }
}

#[test]
fn errors_are_collected_not_first_one_wins() {
    let sources =
        load_site(&repo_root().join("tests/fixtures/invalid/SI010_unknown_key_with_suggestion"));
    let mut files: Vec<(String, String)> = sources
        .iter()
        .map(|(_, f)| (f.path.clone(), f.text.clone()))
        .collect();
    // Add three independent problems to the same site.
    files[0].1.push_str("    check: { interval: 2 }\n  other:\n    vips: [198.51.100.1]\n    ports: [80/tcp]\n    backends: [nobody]\n");
    let sources = svcintent_core::Sources::from_pairs(files);
    let compiled = svcintent_core::compile(&sources);
    let codes: BTreeSet<&str> = compiled
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    for want in ["SI010", "SI041", "SI031", "SI020"] {
        assert!(codes.contains(want), "{want} missing from {codes:?}");
    }
    assert!(
        compiled
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
            >= 4
    );
}

/// One mistake, one diagnostic: typical single mistakes made in the campus example are each
/// reported exactly once, at the mistake, with nothing that follows from it (a value that
/// failed is unknown, not its default; see `core/src/model/unknown.rs`).
#[test]
fn one_mistake_in_the_campus_example_gives_one_diagnostic() {
    // (file, text, replacement, expected code)
    const MISTAKES: &[(&str, &str, &str, &str)] = &[
        ("hosts.yaml", "  lb2:   {", "\tlb2:   {", "SI001"),
        (
            "site.yaml",
            "    extends: http-web",
            "    extends: htp-web",
            "SI021",
        ),
        (
            "site.yaml",
            "check: { interval: 2s, timeout: 1s,",
            "check: { interval: 2, timeout: 1s,",
            "SI041",
        ),
        (
            "hosts.yaml",
            "roles: [balancer], ipv4: 198.18.1.1,",
            "roles: [balancr], ipv4: 198.18.1.1,",
            "SI014",
        ),
        ("site.yaml", "    mode: http\n", "    mode: htp\n", "SI014"),
        (
            "services/web.yaml",
            "vips: [192.0.2.10,",
            "vips: [192.0.2.300,",
            "SI030",
        ),
        (
            "hosts.yaml",
            "ipv4: 198.18.1.1,",
            "ipv4: 198.18.1.999,",
            "SI030",
        ),
        (
            "services/web.yaml",
            "[web1, web2, web3, web4]",
            "[web1, web2, wbe3, web4]",
            "SI020",
        ),
        (
            "site.yaml",
            "tls: { mode: terminate,",
            "tls: { mode: terminat,",
            "SI014",
        ),
        (
            "site.yaml",
            "    client_ip: proxy-protocol",
            "    client_ip: proxy-protocl",
            "SI014",
        ),
        (
            "services/mail.yaml",
            "ports: [587/tcp]",
            "ports: [587/tpc]",
            "SI040",
        ),
        ("hosts.yaml", "    drain: true", "    drain: yes", "SI011"),
        (
            "services/web.yaml",
            "    backend_port: 8090",
            "    backend_port: 80900",
            "SI040",
        ),
        (
            "services/infra.yaml",
            "nodes: [dns1, dns2]",
            "nodes: [dns1, DNS2]",
            "SI016",
        ),
        (
            "services/web.yaml",
            "[intranet.example.edu]",
            "[intranet..example.edu]",
            "SI014",
        ),
        (
            "site.yaml",
            "anycast_prefixes: [192.0.2.0/24,",
            "anycast_prefixes: [192.0.2.0/33,",
            "SI030",
        ),
        (
            "hosts.yaml",
            "  web4:  { roles: [web],",
            "  web4:  { roles: web,",
            "SI011",
        ),
        (
            "services/web.yaml",
            "\"http://127.0.0.1:3000\"",
            "\"htp://127.0.0.1:3000\"",
            "SI014",
        ),
        (
            "site.yaml",
            "    keepalive_time: 3",
            "    keepalive_time: 3s",
            "SI011",
        ),
        (
            "hosts.yaml",
            "  rr1:   { roles: [route-reflector],",
            "  rr1:   { roles: [route-reflectr],",
            "SI014",
        ),
        (
            "services/web.yaml",
            "    backends: [web1, web4]",
            "    backend: [web1, web4]",
            "SI010",
        ),
        (
            "services/infra.yaml",
            "check: { tcp: { port: 88 } }",
            "check: { tpc: { port: 88 } }",
            "SI010",
        ),
        (
            "site.yaml",
            "    balancing: haproxy\n    mode: http",
            "    balancing: haprox\n    mode: http",
            "SI014",
        ),
        (
            "services/directory.yaml",
            "    extends: tls-passthrough",
            "    extends: tls-passthru",
            "SI021",
        ),
        (
            "hosts.yaml",
            "  mon1:  { roles: [monitoring],",
            "  mon1:  { roles: [monitorng],",
            "SI014",
        ),
        (
            "services/web.yaml",
            "    drain: [web2]",
            "    drain: [web2, 7]",
            "SI016",
        ),
        (
            "hosts.yaml",
            "  kdc2:  { roles: [anycast-node],",
            "  kdc2:  { roles: [anycast-nod],",
            "SI014",
        ),
        (
            "services/mail.yaml",
            "    ports: [993/tcp]",
            "    ports: [993/tcp",
            "SI001",
        ),
        ("site.yaml", "  asn: 65010", "  asn: [65010", "SI001"),
        (
            "hosts.yaml",
            "ipv4: 198.18.2.4,",
            "ipv4: 198.18.2.4, ipv4: 198.18.2.44,",
            "SI002",
        ),
        (
            "services/web.yaml",
            "vips: [192.0.2.12,",
            "vips: [192.0.3.12,",
            "SI031",
        ),
        ("services/web.yaml", "  moodle:", "  Moodle:", "SI016"),
        (
            "services/web.yaml",
            "{ host: web4, weight: 2 }",
            "{ host: web4, weight: 300 }",
            "SI045",
        ),
        (
            "services/web.yaml",
            "description: Learning platform",
            "description: \"Learning\\tplatform\"",
            "SI017",
        ),
        (
            "services/infra.yaml",
            "    balancing: anycast\n    description: Kerberos",
            "    balancing: anycats\n    description: Kerberos",
            "SI014",
        ),
        (
            "site.yaml",
            "    timeouts: { client: 10m, server: 10m }",
            "    timeouts: { client: 10m, server: 10 }",
            "SI041",
        ),
    ];
    let campus = load_site(&repo_root().join("examples/campus"));
    let clean = svcintent_core::compile(&campus);
    assert!(clean.diagnostics.is_empty(), "{:?}", clean.diagnostics);
    let mut problems = Vec::new();
    for (file, from, to, code) in MISTAKES {
        let files: Vec<(String, String)> = campus
            .iter()
            .map(|(_, f)| {
                let text = if f.path == *file {
                    assert!(f.text.contains(from), "{file} lacks {from:?}");
                    f.text.replacen(from, to, 1)
                } else {
                    f.text.clone()
                };
                (f.path.clone(), text)
            })
            .collect();
        let text = &files.iter().find(|(p, _)| p == file).unwrap().1;
        let at = text.find(to).unwrap();
        let lines =
            text[..at].matches('\n').count() + 1..=text[..at + to.len()].matches('\n').count() + 1;
        let sources = svcintent_core::Sources::from_pairs(files.clone());
        let compiled = svcintent_core::compile(&sources);
        let ds = json::to_json_all(&compiled.diagnostics, &sources);
        // At the mistake: the primary place, or (for a syntax error found further on, where
        // the parser gave up) a related place.
        let at_the_mistake = |d: &json::JsonDiagnostic| {
            std::iter::once(&d.location)
                .chain(d.related.iter().map(|r| &r.location))
                .any(|l| l.file == *file && lines.contains(&(l.line as usize)))
        };
        let one_at_the_mistake =
            ds.len() == 1 && ds[0].code.as_str() == *code && at_the_mistake(&ds[0]);
        if !one_at_the_mistake {
            problems.push(format!(
                "{file}: {from:?} -> {to:?} should give one {code} on line {lines:?}, got:\n{}",
                human::render_all(&ds, &sources, human::Color::Never)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each code's section states the code's one severity, exactly as the code table
/// (`core/src/diagnostic/codes.rs`) has it: `Severity: error.` (a diagnostic never overrides
/// its code's severity, see `each_fixture_triggers_its_code`).
#[test]
fn documented_severity_is_the_code_table() {
    let mut problems = Vec::new();
    for code in Code::ALL {
        let doc = code.explanation().unwrap();
        let lines: Vec<&str> = doc.lines().filter(|l| l.starts_with("Severity:")).collect();
        let want = format!("Severity: {}.", code.severity().as_str());
        if lines != [want.as_str()] {
            problems.push(format!("{code}: {lines:?}, the code table says {want:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A documented rule: `- "MESSAGE": sentence.` under `**Rules**:`, where `…` in MESSAGE stands
/// for any text (names, addresses, numbers).
struct Rule {
    code: Code,
    pattern: String,
    sentence: String,
}

impl Rule {
    fn matches(&self, message: &str) -> bool {
        let parts: Vec<&str> = self.pattern.split('…').collect();
        let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
            return false;
        };
        if parts.len() == 1 {
            return message == self.pattern;
        }
        let Some(mut rest) = message.strip_prefix(first) else {
            return false;
        };
        for part in &parts[1..parts.len() - 1] {
            match rest.find(part) {
                Some(i) => rest = &rest[i + part.len()..],
                None => return false,
            }
        }
        rest.ends_with(last)
    }
}

fn documented_rules() -> Vec<Rule> {
    let mut rules = Vec::new();
    for code in Code::ALL {
        let doc = code.explanation().unwrap();
        let Some(start) = doc.find("**Rules**:") else {
            continue;
        };
        for line in doc[start..].lines().skip(1) {
            let Some(item) = line.strip_prefix("- \"") else {
                if line.trim().is_empty() {
                    continue;
                }
                break;
            };
            let (pattern, sentence) = item.split_once("\": ").unwrap_or_else(|| {
                panic!("{code}: rule {line:?} is not `- \"MESSAGE\": sentence`")
            });
            rules.push(Rule {
                code: *code,
                pattern: pattern.to_owned(),
                sentence: sentence.trim().to_owned(),
            });
        }
    }
    rules
}

/// Every semantic rule has its sentence in docs/diagnostics.md. The rules are the checks of
/// `core/src/validate/`: each `Diagnostic::new(Code::X, ...)` there is one rule, so a code
/// must document at least as many rules as it has there (a new check without a documented
/// rule fails here); and every diagnostic of such a code that a fixture produces must match
/// one of its documented messages, each of which some fixture produces.
#[test]
fn every_rule_has_a_documented_sentence() {
    // Checks per code in core/src/validate/.
    let mut sites: std::collections::BTreeMap<Code, usize> = std::collections::BTreeMap::new();
    let dir = repo_root().join("core/src/validate");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("Diagnostic::new(") {
            let rest = text[at + "Diagnostic::new(".len()..].trim_start();
            let variant: String = rest
                .strip_prefix("Code::")
                .unwrap_or_else(|| {
                    panic!("{}: a diagnostic without a literal code", path.display())
                })
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            let code = *Code::ALL
                .iter()
                .find(|c| format!("{c:?}") == variant)
                .unwrap_or_else(|| panic!("unknown code variant {variant}"));
            *sites.entry(code).or_default() += 1;
        }
    }
    let rules = documented_rules();
    let mut problems = Vec::new();
    for (code, n) in &sites {
        let documented = rules.iter().filter(|r| r.code == *code).count();
        if documented < *n {
            problems.push(format!(
                "{code}: {n} checks in core/src/validate/, {documented} documented rules"
            ));
        }
    }
    for r in &rules {
        if r.sentence.len() < 20 || !r.sentence.ends_with('.') {
            problems.push(format!("{}: rule {:?} has no sentence", r.code, r.pattern));
        }
    }
    // What the fixtures produce.
    let mut used = vec![false; rules.len()];
    for dir in fixture_dirs() {
        let sources = load_site(&dir);
        for d in svcintent_core::compile(&sources).diagnostics {
            if !rules.iter().any(|r| r.code == d.code) {
                continue;
            }
            let mut matched = false;
            for (i, r) in rules.iter().enumerate() {
                if r.code == d.code && r.matches(&d.message) {
                    used[i] = true;
                    matched = true;
                }
            }
            if !matched {
                problems.push(format!(
                    "{}: {} {:?} matches no documented rule",
                    dir.file_name().unwrap().to_string_lossy(),
                    d.code,
                    d.message
                ));
            }
        }
    }
    for (r, used) in rules.iter().zip(used) {
        if !used {
            problems.push(format!("{}: no fixture produces {:?}", r.code, r.pattern));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
