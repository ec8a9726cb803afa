//! Icinga2 target: files on monitoring hosts only, `icinga2 daemon -C` through the shared
//! harness, the objects Icinga2 actually builds (`icinga2 object list` on the object cache of
//! our own `daemon -C` run), a features fixture (snapshots), BGP checks naming the BIRD
//! protocols the BIRD target renders, and hostile strings: parsed exactly (object list), and
//! delivered exactly to a probe plugin by a running daemon.
//!
//! Needs root (the daemon runs checks as `ICINGA2_USER=root`), `icinga2` 2.13 with the ITL, and
//! `sh`; a missing one fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use svcintent_core::render::{Output, Target};
use svcintent_host::daemons::{Daemon, Options, check_tree};
use svcintent_tests::{render_dir, repo_root, write_tree};

const DIR: &str = "/etc/icinga2/conf.d/svcintent";
const FILES: [&str; 5] = [
    "commands.conf",
    "downtimes.conf",
    "hosts.conf",
    "notifications.conf",
    "services.conf",
];
/// `site.paths.plugins` of the injection fixture: the runtime test puts its probe there.
const PROBE_DIR: &str = "/tmp/svcintent-icinga2-probe";

fn fixture(name: &str) -> Output {
    render_dir(&repo_root().join("tests/fixtures/render").join(name)).1
}

fn campus() -> Output {
    render_dir(&repo_root().join("examples/campus")).1
}

fn file<'a>(out: &'a Output, host: &str, name: &str) -> &'a str {
    let path = format!("{DIR}/{name}");
    out.files
        .iter()
        .find(|f| f.host == host && f.path == path)
        .map(|f| f.contents.as_str())
        .unwrap_or_else(|| panic!("{host} has no {path}"))
}

/// `icinga2 daemon -C` on every monitoring host through the shared harness.
fn assert_harness_accepts(out: &Output) {
    let dir = tempfile::tempdir().unwrap();
    write_tree(out, dir.path()).unwrap();
    let opts = Options {
        daemons: vec![Daemon::Icinga2],
        ..Options::default()
    };
    let report =
        check_tree(dir.path(), &opts).unwrap_or_else(|e| panic!("daemon check could not run: {e}"));
    assert!(!report.checked.is_empty(), "no Icinga2 files were checked");
    let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "icinga2 rejected the config:\n{}",
        failures.join("\n")
    );
}

/// A scratch Icinga2 instance: the rendered files of one host, a wrapper `main.conf` standing
/// in for Debian's icinga2.conf, and state folders.
struct Icinga {
    dir: tempfile::TempDir,
}

impl Icinga {
    /// Writes `host`'s rendered files and a wrapper that includes them (plus `extra`).
    fn new(out: &Output, host: &str, extra: &str) -> Icinga {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        for name in FILES {
            std::fs::write(conf.join(name), file(out, host, name)).unwrap();
        }
        for d in ["cache", "lib", "log", "zones.d", "spool", "run/icinga2"] {
            std::fs::create_dir_all(dir.path().join("state").join(d)).unwrap();
        }
        let main = format!(
            r#"const PluginDir = "/usr/lib/nagios/plugins"
const ManubulonPluginDir = "/usr/lib/nagios/plugins"
const PluginContribDir = "/usr/lib/nagios/plugins"
const NodeName = "{host}"
const ZoneName = NodeName
const TicketSalt = ""
object Endpoint NodeName {{ }}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
include <itl>
include <plugins>
include <plugins-contrib>
include "{}/*.conf"
{extra}
"#,
            conf.display()
        );
        std::fs::write(dir.path().join("main.conf"), main).unwrap();
        Icinga { dir }
    }

    fn conf_dir(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    fn command(&self, args: &[&str]) -> Command {
        let state = self.dir.path().join("state");
        let mut cmd = Command::new("icinga2");
        cmd.args(args)
            .arg(format!(
                "-DConfiguration.CacheDir={}",
                state.join("cache").display()
            ))
            .arg(format!(
                "-DConfiguration.DataDir={}",
                state.join("lib").display()
            ))
            .arg(format!(
                "-DConfiguration.LogDir={}",
                state.join("log").display()
            ))
            .arg(format!(
                "-DConfiguration.ZonesDir={}",
                state.join("zones.d").display()
            ))
            .arg(format!(
                "-DConfiguration.SpoolDir={}",
                state.join("spool").display()
            ))
            .arg(format!(
                "-DConfiguration.InitRunDir={}",
                state.join("run").display()
            ))
            .env("ICINGA2_USER", "root")
            .env("ICINGA2_GROUP", "root");
        cmd
    }

    /// `daemon -C`: must succeed without a single warning (it also writes the object cache).
    fn validate(&self) {
        let main = self.dir.path().join("main.conf");
        let out = self
            .command(&["daemon", "-C", "-c", main.to_str().unwrap()])
            .output()
            .expect("cannot run icinga2");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let bad: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("warning/") || l.contains("critical/"))
            .collect();
        assert!(
            out.status.success() && bad.is_empty(),
            "icinga2 daemon -C:\n{text}"
        );
    }

    /// `object list --type TYPE` parsed: object name -> attribute (`vars.x` for variables) -> raw value.
    fn objects(&self, ty: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let out = self
            .command(&["object", "list", "--type", ty])
            .output()
            .expect("cannot run icinga2");
        assert!(
            out.status.success(),
            "object list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_object_list(&String::from_utf8_lossy(&out.stdout))
    }
}

fn parse_object_list(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut objects: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut parent = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Object '") {
            let name = rest.split("' of type '").next().unwrap().to_owned();
            objects.insert(name.clone(), BTreeMap::new());
            current = Some(name);
            continue;
        }
        let Some(obj) = current.as_ref().and_then(|c| objects.get_mut(c)) else {
            continue;
        };
        if let Some(attr) = line.strip_prefix("  * ") {
            let (k, v) = attr.split_once(" = ").unwrap_or((attr, ""));
            parent = k.to_owned();
            obj.insert(k.to_owned(), v.to_owned());
        } else if let Some(attr) = line.strip_prefix("    * ") {
            let (k, v) = attr.split_once(" = ").unwrap_or((attr, ""));
            obj.insert(format!("{parent}.{k}"), v.to_owned());
        }
    }
    objects
}

/// How `object list` prints a string: between double quotes, not escaped.
fn shown(s: &str) -> String {
    format!("\"{s}\"")
}

#[test]
fn only_monitoring_hosts_get_icinga2_files() {
    let out = campus();
    let mut hosts: Vec<&str> = out
        .files
        .iter()
        .filter(|f| f.target == Target::Icinga2)
        .map(|f| f.host.as_str())
        .collect();
    hosts.dedup();
    assert_eq!(hosts, ["mon1"]);
    let paths: Vec<&str> = out
        .files
        .iter()
        .filter(|f| f.target == Target::Icinga2)
        .map(|f| f.path.as_str())
        .collect();
    let expected: Vec<String> = FILES.iter().map(|f| format!("{DIR}/{f}")).collect();
    assert_eq!(paths, expected);
    for f in out.files.iter().filter(|f| f.target == Target::Icinga2) {
        assert!(
            f.contents.starts_with("// Generated by svcintent"),
            "{}",
            f.path
        );
    }
}

#[test]
fn output_is_byte_stable() {
    let (a, b) = (campus(), campus());
    for (x, y) in a
        .files
        .iter()
        .zip(&b.files)
        .filter(|(x, _)| x.target == Target::Icinga2)
    {
        assert_eq!(x.contents, y.contents, "{}", x.tree_path());
    }
}

#[test]
fn campus_passes_icinga2_check() {
    let out = campus();
    assert_harness_accepts(&out);
    let ic = Icinga::new(&out, "mon1", "");
    ic.validate();
    let hosts = ic.objects("Host");
    let services = ic.objects("Service");
    // Every site host and every (monitored) service's VIP host.
    assert_eq!(hosts.len(), 18 + 11, "{:?}", hosts.keys());
    assert_eq!(hosts["lb3"]["vars.svcintent_drain"], "true");
    assert_eq!(
        hosts["lb3"]["notes"],
        shown("Hardware swap, ticket NET-4711")
    );
    assert_eq!(hosts["vip_www"]["address"], shown("192.0.2.10"));
    assert_eq!(hosts["vip_www"]["address6"], shown("2001:db8:100::10"));
    // Every VIP port of every service is checked.
    let intent = svcintent_core::compile(&svcintent_tests::load_site(
        &repo_root().join("examples/campus"),
    ))
    .intent
    .unwrap();
    for svc in intent.services.values() {
        for vip in &svc.vips {
            assert!(
                services.contains_key(&format!("vip_{}!ping_{vip}", svc.name)),
                "{} {vip}",
                svc.name
            );
            for p in svc
                .ports
                .iter()
                .filter(|p| p.proto == svcintent_core::model::Proto::Tcp)
            {
                let name = format!("vip_{}!tcp_{}_{vip}", svc.name, p.port);
                assert!(services.contains_key(&name), "{name}");
            }
        }
    }
    assert_eq!(
        services["vip_resolver!health_192.0.2.53"]["check_command"],
        shown("svcintent-check-resolver")
    );
    assert_eq!(
        services["vip_resolver!health_2001:db8:100::53"]["vars.svcintent_address"],
        shown("2001:db8:ff:9::1")
    );
    // docs/output.md: 53/udp gets `dig` only without a command check; the resolver's own DNS
    // check (`health_<vip>`) covers it, and no other UDP port gets a port check.
    assert!(!services.contains_key("vip_resolver!udp_53_192.0.2.53"));
    assert!(!services.contains_key("vip_kerberos!udp_88_192.0.2.88"));
    // Drains: lb3 and its sessions, web2 in moodle only.
    let downtimes = ic.objects("ScheduledDowntime");
    assert!(downtimes.contains_key("lb3!svcintent-drain"));
    assert!(downtimes.contains_key("lb3!bgp_rr1_198.18.0.1!svcintent-drain"));
    assert!(downtimes.contains_key("web2!backend_moodle_8080!svcintent-drain"));
    assert!(!downtimes.contains_key("web2!backend_www_8080!svcintent-drain"));
    // Everything notifies netops.
    let notifications = ic.objects("Notification");
    assert_eq!(notifications.len(), hosts.len() + services.len());
    assert_eq!(
        notifications["vip_www!tcp_443_192.0.2.10!svcintent-mail"]["users"],
        "[ \"netops\" ]"
    );
}

#[test]
fn bgp_checks_name_the_protocols_bird_renders() {
    let out = campus();
    let ic = Icinga::new(&out, "mon1", "");
    ic.validate();
    let mut checked = 0;
    for (name, attrs) in ic.objects("Service") {
        let Some(proto) = attrs.get("vars.svcintent_bird_protocol") else {
            continue;
        };
        let host = name.split('!').next().unwrap();
        let bird = out
            .files
            .iter()
            .find(|f| f.host == host && f.path == "/etc/bird/bird.conf")
            .unwrap_or_else(|| panic!("{host} has a BGP check but no bird.conf"));
        let proto = proto.trim_matches('"');
        assert!(
            bird.contents.contains(&format!("protocol bgp {proto} {{")),
            "{name}: no `protocol bgp {proto}` in {host}'s bird.conf"
        );
        checked += 1;
    }
    // 7 clients x 2 RRs x 2 families, seen from both ends, + RR mesh (2 x 2) + 2 upstreams x 2 RRs.
    assert_eq!(checked, 7 * 2 * 2 * 2 + 4 + 4);
}

#[test]
fn features_fixture_snapshots_and_checks() {
    let out = fixture("icinga2_features");
    for name in FILES {
        insta::assert_snapshot!(format!("icinga2_features_{name}"), file(&out, "mon1", name));
    }
    assert_harness_accepts(&out);
    let ic = Icinga::new(&out, "mon1", "");
    ic.validate();
    let s = ic.objects("Service");
    let get = |svc: &str, k: &str| {
        s.get(svc)
            .and_then(|a| a.get(k))
            .cloned()
            .unwrap_or_else(|| panic!("{svc} has no {k}"))
    };
    // TLS terminated: https with SNI, the http check's path, status and method.
    assert_eq!(
        get("vip_site!tcp_443_192.0.2.10", "check_command"),
        shown("http")
    );
    assert_eq!(get("vip_site!tcp_443_192.0.2.10", "vars.http_ssl"), "true");
    assert_eq!(
        get("vip_site!tcp_443_192.0.2.10", "vars.http_expect"),
        shown("204")
    );
    assert_eq!(
        get("vip_site!tcp_443_192.0.2.10", "vars.http_method"),
        shown("HEAD")
    );
    assert_eq!(
        get("vip_site!tcp_443_192.0.2.10", "vars.http_vhost"),
        shown("site.example.edu")
    );
    // The redirecting plain port expects a redirect.
    assert_eq!(
        get("vip_site!tcp_80_2001:db8:100::10", "vars.http_expect"),
        shown("301,302,303,307,308")
    );
    // http mode with a tcp check: plain GET / through the frontend.
    assert_eq!(
        get("vip_plain!tcp_80_192.0.2.11", "vars.http_uri"),
        shown("/")
    );
    // TLS passthrough: handshake with SNI; the PROXY-protocol backend only gets a TCP connect.
    assert_eq!(
        get("vip_imaps!tcp_993_192.0.2.25", "check_command"),
        shown("ssl")
    );
    assert_eq!(
        get("vip_imaps!tcp_993_192.0.2.25", "vars.ssl_sni"),
        shown("imap.example.edu")
    );
    assert_eq!(
        get("mail1!backend_imaps_993", "check_command"),
        shown("tcp")
    );
    assert_eq!(get("mail1!backend_smtp_25", "check_command"), shown("tcp"));
    // The http backend check is the balancers' check; web2 (IPv4 only) is drained.
    assert_eq!(
        get("web1!backend_site_8080", "check_command"),
        shown("http")
    );
    assert_eq!(
        get("web1!backend_site_8080", "vars.http_address"),
        shown("198.18.2.1")
    );
    assert_eq!(
        get("web1!backend_site_8080", "vars.http_uri"),
        shown("/healthz")
    );
    assert_eq!(
        get("web2!backend_site_8080", "vars.svcintent_drain"),
        "true"
    );
    // Anycast DNS without a command check: dig; UDP 88 has no port check, TCP 88 has.
    assert_eq!(
        get("vip_dns!udp_53_192.0.2.53", "check_command"),
        shown("dig")
    );
    assert!(!s.contains_key("vip_kdc!udp_88_192.0.2.88"));
    assert_eq!(
        get("vip_kdc!tcp_88_192.0.2.88", "check_command"),
        shown("tcp")
    );
    // An anycast node's tls check speaks TLS on its own port only.
    assert_eq!(
        get("vip_anytls!tcp_8443_192.0.2.89", "check_command"),
        shown("ssl")
    );
    assert_eq!(
        get("vip_anytls!tcp_8443_192.0.2.89", "vars.ssl_sni"),
        shown("any.example.edu")
    );
    assert_eq!(
        get("vip_anytls!tcp_443_192.0.2.89", "check_command"),
        shown("tcp")
    );
    // Unmonitored services are not rendered.
    assert!(!s.keys().any(|k| k.contains("hidden")));
    assert!(!ic.objects("Host").contains_key("vip_hidden"));
    // Per-service notify lists; users for all of them.
    assert_eq!(
        get("vip_site!ping_192.0.2.10", "vars.svcintent_notify"),
        "[ \"web-team\" ]"
    );
    assert_eq!(
        get("vip_dns!ping_192.0.2.53", "vars.svcintent_notify"),
        "[ \"netops\" ]"
    );
    let users: Vec<String> = ic.objects("User").into_keys().collect();
    assert_eq!(users, ["netops", "web-team"]);
    let downtimes: Vec<String> = ic.objects("ScheduledDowntime").into_keys().collect();
    assert!(
        downtimes.contains(&"lb2!svcintent-drain".to_owned()),
        "{downtimes:?}"
    );
    assert!(
        downtimes.contains(&"web2!backend_site_8080!svcintent-drain".to_owned()),
        "{downtimes:?}"
    );
}

/// The injection fixture's free texts, by object.
fn hostile_notes() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("rr1", r#"it's "quoted" and 'twice'  '' "" "#),
        ("lb1", r"# not a comment // nor this /* nor this */ \# "),
        (
            "app1",
            r#"$HOME ${HOME} $host.name$ $$ $ $address$ "$HOME""#,
        ),
        (
            "dns1",
            r#"\ \\ \' \" \101 \0 \n \t \x41 ends in a backslash \"#,
        ),
        ("mon1", "; } }}} {{ x }} {% if y %} {# z #} %s %% % {vip}"),
        ("vip_web", r#""; object Host "evil" { } // $icinga.ca$ \"#),
        (
            "vip_resolver",
            r"ünïcödé ✓ — {{vip}} ${vip} $vip$ \$ trailing \",
        ),
    ])
}

/// The injection fixture's check command arguments (after the plugin name).
const HOSTILE_ARGS: [&str; 11] = [
    "{vip}",
    r#"it's "quoted""#,
    "# not a comment",
    "$HOME ${HOME} $host.name$ $$ $",
    "; } }}} {{ x }} {% y %} %s %%",
    r#"\ \\ \" \101 \n"#,
    r"ends in a backslash \",
    "{port} {address} {{vip}} {vip {port",
    "http://[{vip}]:{port}/x?a=$1&b=%41",
    r#""; exit 2; ""#,
    "--opt=$(id)",
];

#[test]
fn hostile_strings_parse_into_the_intended_values() {
    let out = fixture("icinga2_injection");
    assert_harness_accepts(&out);
    let ic = Icinga::new(&out, "mon1", "");
    ic.validate();
    let hosts = ic.objects("Host");
    assert_eq!(
        hosts.len(),
        7,
        "no object may appear from a string: {:?}",
        hosts.keys()
    );
    for (host, text) in hostile_notes() {
        // notes is macro-expanded when a command uses $host.notes$: `$` is written as `$$`.
        assert_eq!(
            hosts[host]["notes"],
            shown(&text.replace('$', "$$")),
            "{host}"
        );
    }
    // display_name never holds free text.
    assert_eq!(
        hosts["vip_resolver"]["display_name"],
        shown("resolver (VIP)")
    );
    assert_eq!(hosts["lb1"]["display_name"], shown("lb1"));
    let services = ic.objects("Service");
    for (name, attrs) in &services {
        let dn = attrs["display_name"].trim_matches('"');
        assert!(
            dn.chars()
                .all(|c| c.is_ascii_alphanumeric() || " _-.:/()".contains(c)),
            "{name}: {dn}"
        );
        if let Some(svc) = attrs.get("vars.svcintent_service") {
            let host = format!("vip_{}", svc.trim_matches('"'));
            assert_eq!(
                attrs["notes"],
                shown(&hostile_notes()[host.as_str()].replace('$', "$$")),
                "{name}"
            );
        }
    }
    // The command array: `$` doubled, placeholders as the service's macros.
    let commands = ic.objects("CheckCommand");
    let expected: Vec<String> = std::iter::once(format!("{PROBE_DIR}/check_probe"))
        .chain(HOSTILE_ARGS.iter().map(|a| {
            a.replace('$', "$$")
                .replace("{vip}", "$svcintent_vip$")
                .replace("{port}", "$svcintent_port$")
                .replace("{address}", "$svcintent_address$")
        }))
        .map(|a| shown(&a))
        .collect();
    assert_eq!(
        commands["svcintent-check-resolver"]["command"],
        format!("[ {} ]", expected.join(", "))
    );
    let health = &services["vip_resolver!health_192.0.2.53"];
    assert_eq!(health["vars.svcintent_vip"], shown("192.0.2.53"));
    assert_eq!(health["vars.svcintent_port"], "53");
    assert_eq!(health["vars.svcintent_address"], shown("198.18.9.1"));
}

/// Runs the daemon with checks every second until the probe has written `want`, then kills it.
fn run_until_probed(ic: &Icinga, want: &[String]) -> BTreeMap<String, Vec<String>> {
    use std::os::unix::process::CommandExt;
    let out_dir = Path::new(PROBE_DIR).join("out");
    let main = ic.dir.path().join("main.conf");
    let log = std::fs::File::create(ic.dir.path().join("daemon.log")).unwrap();
    let mut child = ic
        .command(&["daemon", "-c", main.to_str().unwrap()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("cannot run icinga2");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !want.iter().all(|w| out_dir.join(w).exists()) {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(ic.dir.path().join("daemon.log")).unwrap_or_default();
            panic!("icinga2 exited early ({status}):\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
    let mut got = BTreeMap::new();
    for w in want {
        let bytes = std::fs::read(out_dir.join(w)).unwrap_or_else(|_| {
            let log = std::fs::read_to_string(ic.dir.path().join("daemon.log")).unwrap_or_default();
            panic!("the probe never wrote {w}; daemon log:\n{log}")
        });
        let text = String::from_utf8(bytes).unwrap();
        let args: Vec<String> = text
            .strip_suffix('\0')
            .unwrap_or(&text)
            .split('\0')
            .map(str::to_owned)
            .collect();
        got.insert(w.clone(), args);
    }
    got
}

#[test]
fn hostile_strings_reach_the_plugin_exactly() {
    let out = fixture("icinga2_injection");
    // The probe plugin: writes its arguments, NUL-separated, to out/<first argument>.
    let _ = std::fs::remove_dir_all(PROBE_DIR);
    std::fs::create_dir_all(Path::new(PROBE_DIR).join("out")).unwrap();
    let probe = Path::new(PROBE_DIR).join("check_probe");
    std::fs::write(
        &probe,
        "#!/bin/sh\nf=\"$(dirname \"$0\")/out/$1\"\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$f.$$\" && mv \"$f.$$\" \"$f\"\necho 'OK - probe'\n",
    )
    .unwrap();
    Command::new("chmod")
        .args(["755", probe.to_str().unwrap()])
        .status()
        .unwrap();

    // Extra objects: a probe of `$host.notes$`/`$host.display_name$` on each Host with notes.
    let mut extra = String::from(
        "object CheckerComponent \"checker\" { }\n\
         object CheckCommand \"svcintent-test-notes\" {\n  command = [ \"/tmp/svcintent-icinga2-probe/check_probe\", \"$probe_out$\", \"$host.notes$\", \"$host.display_name$\" ]\n}\n",
    );
    for host in hostile_notes().keys() {
        extra.push_str(&format!(
            "object Service \"svcintent_test_notes\" {{\n  host_name = \"{host}\"\n  check_command = \"svcintent-test-notes\"\n  check_interval = 1s\n  vars.probe_out = \"notes-{host}\"\n}}\n"
        ));
    }
    let ic = Icinga::new(&out, "mon1", &extra);
    ic.validate();
    // Our checks run every minute; make this copy's run every second so the test is quick.
    let services = ic.conf_dir().join("services.conf");
    let text = std::fs::read_to_string(&services).unwrap();
    let fast = text.replacen("check_interval = 1m", "check_interval = 1s", 1);
    assert_ne!(text, fast);
    std::fs::write(&services, fast).unwrap();

    let vips = [
        ("192.0.2.53", "198.18.9.1"),
        ("2001:db8:100::53", "2001:db8:ff:9::1"),
    ];
    let mut want: Vec<String> = vips.iter().map(|(v, _)| (*v).to_owned()).collect();
    want.extend(hostile_notes().keys().map(|h| format!("notes-{h}")));
    let got = run_until_probed(&ic, &want);

    for (vip, me) in vips {
        let expected: Vec<String> = HOSTILE_ARGS
            .iter()
            .map(|a| {
                a.replace("{vip}", vip)
                    .replace("{port}", "53")
                    .replace("{address}", me)
            })
            .collect();
        assert_eq!(got[vip], expected, "arguments for {vip}");
    }
    for (host, text) in hostile_notes() {
        let display = if let Some(svc) = host.strip_prefix("vip_") {
            format!("{svc} (VIP)")
        } else {
            host.to_owned()
        };
        assert_eq!(
            got[&format!("notes-{host}")],
            [format!("notes-{host}"), text.to_owned(), display],
            "{host}"
        );
    }
    let _ = std::fs::remove_dir_all(PROBE_DIR);
}
