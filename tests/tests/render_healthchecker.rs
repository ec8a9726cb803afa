//! anycast-healthchecker target: escaping proven against Python's own `configparser` and
//! `shlex`, the check commands of every check kind (snapshots), the real daemon's check mode on
//! rendered trees, and a run of the real daemon showing that hostile check arguments arrive at
//! the plugin exactly as written.
//!
//! Needs: `/usr/bin/python3`, the anycast-healthchecker venv (`SVCINTENT_HEALTHCHECKER` or
//! `/opt/svcintent-venv`, made by `.ci/install-daemons.sh`), `unshare` with user namespaces,
//! `ip`. A missing one fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use svcintent_core::render::Output;
use svcintent_core::render::healthchecker::{check_cmd, ini_value, shell_quote};
use svcintent_host::daemons::{Daemon, Options, check_tree};
use svcintent_tests::{render_dir, repo_root, write_tree};

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/render").join(name)
}

fn render_tree(site: &Path) -> (Output, tempfile::TempDir) {
    let (_sources, out) = render_dir(site);
    let dir = tempfile::tempdir().unwrap();
    write_tree(&out, dir.path()).unwrap();
    (out, dir)
}

fn file<'a>(out: &'a Output, host: &str, path: &str) -> &'a str {
    out.files
        .iter()
        .find(|f| f.host == host && f.path == path)
        .map(|f| f.contents.as_str())
        .unwrap_or_else(|| panic!("{host} has no {path}"))
}

/// Runs the real daemons' checks on a tree; every complaint fails the test.
fn daemons_accept(tree: &Path, daemons: &[Daemon]) {
    let opts = Options {
        daemons: daemons.to_vec(),
        ..Options::default()
    };
    let report =
        check_tree(tree, &opts).unwrap_or_else(|e| panic!("daemon checks could not run: {e}"));
    let text: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert!(
        report.is_ok(),
        "daemons rejected the tree:\n{}",
        text.join("\n")
    );
    for d in daemons {
        assert!(
            report.checked.iter().any(|(c, _, _)| c == d),
            "{d} checked nothing"
        );
    }
}

/// Strings that are hard for an INI value and a POSIX shell-like split.
fn hostile_words() -> Vec<String> {
    let mut v: Vec<String> = [
        "plain",
        "",
        " ",
        "'",
        "\"",
        "''",
        "it's \"x\"",
        "# c",
        ";",
        "; x",
        "$HOME",
        "${HOME}",
        "$(id)",
        "`id`",
        "}",
        "}}}",
        "{{",
        "{{ x }}",
        "{% y %}",
        "\\",
        "a\\",
        "\\\\",
        "\\'",
        "\\\"",
        "%",
        "%%",
        "%(interface)s",
        "%(x)s",
        "100%",
        " a ",
        "a  b",
        "naïve ☕",
        "nbsp\u{a0}",
        "\u{a0}x",
        "\u{3000}",
        "é'\"",
        "* ~ && | > <",
        "-x",
        "--y=z",
        "=",
        ":",
        "[daemon]",
        "key = value",
        "#",
        ";#",
        "a=b:c",
        "\u{1F600}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // Deterministic pseudo-random words over a nasty alphabet.
    let alphabet: Vec<char> = " '\"#;$%{}\\()[]=:,.@+*?!`&|<>~-_aZ9é\u{a0}\u{2003}"
        .chars()
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..400 {
        let mut w = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 12) as usize;
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            w.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        v.push(w);
    }
    v
}

#[test]
fn shell_quote_matches_python_shlex_quote() {
    let words = hostile_words();
    let script = "import json, shlex, sys\nfor w in json.load(sys.stdin): print(json.dumps(shlex.quote(w)))\n";
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&words).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let theirs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ours: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
    assert_eq!(ours, theirs);
}

/// Every hostile argument vector, written as `check_cmd`, reads back through the daemon's own
/// configuration loader (`utils.load_configuration`: configparser with interpolation) and
/// `shlex.split` (what `ServiceCheck._run_check` does) as exactly the same vector.
#[test]
fn check_cmd_reads_back_through_the_daemons_parser() {
    let venv = svcintent_tests::healthchecker_venv();
    let words = hostile_words();
    let dir = tempfile::tempdir().unwrap();
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    let argvs: Vec<Vec<String>> = words
        .chunks(5)
        .map(|c| {
            std::iter::once("/bin/true".to_owned())
                .chain(c.iter().filter(|w| !w.is_empty()).cloned())
                .collect()
        })
        .collect();
    let mut services = String::new();
    for (i, argv) in argvs.iter().enumerate() {
        services.push_str(&format!(
            "[s{i}]\nip_prefix = 192.0.2.{}/32\ncheck_cmd = {}\ncheck_disabled = false\n\n",
            i % 250 + 1,
            check_cmd(argv).unwrap()
        ));
        if i % 250 == 249 {
            break;
        }
    }
    std::fs::write(conf_d.join("s.conf"), services).unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("6")).unwrap();
    std::fs::create_dir_all(dir.path().join("run")).unwrap();
    std::fs::write(
        dir.path().join("main.conf"),
        format!(
            "[daemon]\nbird_conf = {s}/p4.conf\nbird6_conf = {s}/6/p6.conf\npidfile = {r}/pid\n",
            s = state.display(),
            r = dir.path().join("run").display()
        ),
    )
    .unwrap();
    let script = r#"
import json, shlex, sys
from anycast_healthchecker.utils import load_configuration
config, _ = load_configuration(sys.argv[1], sys.argv[2], None)
out = {}
for s in config.sections():
    if s != 'daemon':
        out[s] = shlex.split(config.get(s, 'check_cmd'))
print(json.dumps(out))
"#;
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", script])
        .arg(dir.path().join("main.conf"))
        .arg(&conf_d)
        .output()
        .expect("the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&out.stdout).unwrap();
    assert!(!back.is_empty());
    for (name, argv) in &back {
        let i: usize = name.trim_start_matches('s').parse().unwrap();
        assert_eq!(argv, &argvs[i], "section {name}");
    }
}

#[test]
fn ini_value_refuses_what_cannot_be_written() {
    for bad in [
        "a\nb", "a\rb", "\u{2028}", "\u{85}", "x\u{0}", " lead", "trail\t",
    ] {
        assert!(ini_value(bad).is_err(), "{bad:?}");
    }
    assert_eq!(ini_value("%(a)s%").unwrap(), "%%(a)s%%");
}

#[test]
fn check_commands_of_every_kind() {
    let (out, _tree) = render_tree(&fixture("healthchecker_checks"));
    for (host, path) in [
        ("lb1", "/etc/anycast-healthchecker.conf"),
        ("lb1", "/etc/anycast-healthchecker.d/www.conf"),
        ("lb1", "/etc/anycast-healthchecker.d/api.conf"),
        ("lb1", "/etc/anycast-healthchecker.d/smtp.conf"),
        ("lb1", "/etc/anycast-healthchecker.d/ldaps.conf"),
        (
            "lb1",
            "/var/lib/anycast-healthchecker/anycast-prefixes.conf",
        ),
        (
            "lb1",
            "/var/lib/anycast-healthchecker/6/anycast-prefixes.conf",
        ),
        ("lb2", "/etc/anycast-healthchecker.d/www.conf"),
        ("n1", "/etc/anycast-healthchecker.d/dns.conf"),
        ("n1", "/etc/anycast-healthchecker.d/kdc.conf"),
        ("n1", "/etc/anycast-healthchecker.d/ntp.conf"),
        ("n2", "/etc/anycast-healthchecker.conf"),
        ("n3", "/etc/anycast-healthchecker.d/dns.conf"),
    ] {
        let name = format!("checks_{host}{}", path.replace(['/', '.', '-'], "_"));
        insta::assert_snapshot!(name, file(&out, host, path));
    }
    // Hosts that announce nothing get nothing from this target.
    assert!(
        !out.files
            .iter()
            .any(|f| matches!(f.host.as_str(), "rr1" | "app1")
                && f.path.contains("anycast-healthchecker"))
    );
    // The IPv4-only node runs IPv4 only and has no IPv6 prefix file.
    assert!(
        !out.files
            .iter()
            .any(|f| f.host == "n2" && f.path.contains("/6/"))
    );
}

/// The dummy prefixes avoid the anycast prefixes (and so every VIP), and BIRD's filter rejects
/// them by name.
#[test]
fn dummy_prefixes_avoid_the_anycast_prefixes() {
    let (out, tree) = render_tree(&fixture("healthchecker_dummy"));
    let main = file(&out, "n1", "/etc/anycast-healthchecker.conf");
    assert!(
        main.contains("dummy_ip_prefix = 203.0.113.255/32\n"),
        "{main}"
    );
    assert!(main.contains("dummy_ip6_prefix = 3fff::1/128\n"), "{main}");
    assert!(
        file(
            &out,
            "n1",
            "/var/lib/anycast-healthchecker/anycast-prefixes.conf"
        )
        .contains("        203.0.113.255/32\n")
    );
    assert!(
        file(
            &out,
            "n1",
            "/var/lib/anycast-healthchecker/6/anycast-prefixes.conf"
        )
        .contains("        3fff::1/128\n")
    );
    let bird = file(&out, "n1", "/etc/bird/bird.conf");
    assert!(
        bird.contains("if net = 203.0.113.255/32 then reject;"),
        "{bird}"
    );
    assert!(bird.contains("if net = 3fff::1/128 then reject;"), "{bird}");
    daemons_accept(tree.path(), &[Daemon::Healthchecker, Daemon::Bird]);
}

#[test]
fn fixtures_pass_the_daemons_own_checks() {
    for site in [
        fixture("healthchecker_checks"),
        fixture("healthchecker_injection"),
        repo_root().join("examples/campus"),
    ] {
        let (_out, tree) = render_tree(&site);
        daemons_accept(tree.path(), &[Daemon::Healthchecker, Daemon::Bird]);
    }
}

/// The hostile check arguments of `healthchecker_injection`, as written in its site.yaml.
fn hostile_cmd_args() -> Vec<&'static str> {
    vec![
        "0",
        "it's \"quoted\"",
        "# not a comment",
        "$HOME ${HOME} $(id) `id`",
        "; reboot; }",
        "}}}",
        "{{ x }} {% y %} {# z #}",
        "\\",
        "trailing backslash \\",
        "\\\\ \\\" \\' \\n",
        "%",
        "%%",
        "%(interface)s",
        "100%",
        " surrounded by spaces ",
        "double  spaces",
        "naïve ☕ “typographic”",
        "nbsp at the end\u{a0}",
        "\u{a0}nbsp at the start",
        "'",
        "\"",
        "* ~ && | > < ( ) !",
        "-x",
        "{vip}:{port}@{address}",
        "{{vip}} {nope} {",
        "--opt={vip}",
    ]
}

const PLUGINS: &str = "/usr/lib/nagios/plugins";

fn expected_argvs(host: &str) -> BTreeSet<Vec<String>> {
    let mut set = BTreeSet::new();
    let s = |x: &str| x.to_owned();
    match host {
        "n1" => {
            for (vip, me) in [
                ("192.0.2.1", "198.18.3.1"),
                ("2001:db8:100::1", "2001:db8:ff:3::1"),
            ] {
                let mut argv = vec![format!("{PLUGINS}/check_dummy")];
                argv.extend(hostile_cmd_args().into_iter().map(|a| {
                    a.replace("{{vip}}", &format!("{{{vip}}}"))
                        .replace("{vip}:{port}@{address}", &format!("{vip}:5353@{me}"))
                        .replace("--opt={vip}", &format!("--opt={vip}"))
                }));
                set.insert(argv);
            }
        }
        // Balancers ask HAProxy's announcement-health frontend, whatever the service's check:
        // the hostile http path, Host header and SNI reach HAProxy's backend checks instead.
        "lb1" => {
            for service in ["hostile-http", "hostile-tls"] {
                set.insert(vec![
                    format!("{PLUGINS}/check_http"),
                    s("-I"),
                    s("127.0.0.1"),
                    s("-p"),
                    s("8405"),
                    s("-u"),
                    format!("/{service}"),
                    s("-e"),
                    s("200"),
                    s("-t"),
                    s("1"),
                ]);
            }
        }
        _ => unreachable!(),
    }
    set
}

/// Runs the real daemon on a rendered host, in a private user, mount and network namespace with
/// the host's VIPs on `lo`, and the plugins replaced by a script recording its argv. Returns
/// the argument vectors the plugins were started with, once `want` are all seen.
fn run_daemon_and_record(
    tree: &Path,
    host: &str,
    vips: &[&str],
    want: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let venv = svcintent_tests::healthchecker_venv();
    let work = tempfile::tempdir().unwrap();
    let recorder = work.path().join("record");
    std::fs::write(
        &recorder,
        "#!/usr/bin/python3\nimport json, os, sys\nwith open('/run/argv/%d.json' % os.getpid(), 'w') as f:\n    json.dump(sys.argv, f)\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&recorder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let host_dir = tree.join(host);
    let addrs: Vec<String> = vips
        .iter()
        .map(|v| format!("ip addr add {v} dev lo;"))
        .collect();
    let script = format!(
        r#"set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/argv /run/anycast-healthchecker
mount -t tmpfs tmpfs /var/lib
mkdir -p /var/lib/anycast-healthchecker/6
cp -r {hd}/var/lib/anycast-healthchecker/. /var/lib/anycast-healthchecker/
for p in check_dummy check_http check_tcp; do mount --bind {rec} {plugins}/$p; done
ip link set lo up
{addrs}
{venv}/bin/anycast-healthchecker -f {hd}/etc/anycast-healthchecker.conf -d {hd}/etc/anycast-healthchecker.d > {work}/log 2>&1 &
pid=$!
i=0
while [ $i -lt 200 ]; do
  n=$(ls /run/argv | wc -l)
  if [ "$n" -ge {n} ]; then sleep 1; break; fi
  sleep 0.1; i=$((i+1))
done
kill $pid || true
wait $pid || true
mkdir -p {work}/argv
cp /run/argv/* {work}/argv/ 2>/dev/null || true
"#,
        hd = host_dir.display(),
        rec = recorder.display(),
        plugins = PLUGINS,
        addrs = addrs.join(" "),
        venv = venv.display(),
        work = work.path().display(),
        n = want.len() * 2,
    );
    let out = Command::new("timeout")
        .args([
            "-k",
            "5",
            "60",
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "--net",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .expect("timeout and unshare are needed");
    let log = std::fs::read_to_string(work.path().join("log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "sandbox failed: {}\n{}\ndaemon log:\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = BTreeSet::new();
    let start = Instant::now();
    for entry in std::fs::read_dir(work.path().join("argv")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let argv: Vec<String> = serde_json::from_str(&text).unwrap();
        got.insert(argv);
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!got.is_empty(), "no check ran; daemon log:\n{log}");
    got
}

#[test]
fn hostile_arguments_reach_the_plugin_intact() {
    let (_out, tree) = render_tree(&fixture("healthchecker_injection"));
    for (host, vips) in [
        ("n1", vec!["192.0.2.1/32", "2001:db8:100::1/128"]),
        (
            "lb1",
            vec!["192.0.2.2/32", "2001:db8:100::2/128", "192.0.2.3/32"],
        ),
    ] {
        let want = expected_argvs(host);
        let got = run_daemon_and_record(tree.path(), host, &vips, &want);
        assert_eq!(
            got, want,
            "{host}: the plugins were not started with the intended arguments"
        );
    }
}

#[test]
fn hostile_descriptions_reach_no_healthchecker_file() {
    let (out, _tree) = render_tree(&fixture("healthchecker_injection"));
    for f in out
        .files
        .iter()
        .filter(|f| f.target == svcintent_core::render::Target::Healthchecker)
    {
        for marker in [
            "reboot #",
            "check_cmd = /bin/false",
            "'; check_cmd",
            "it's \"x\" #",
            "lb' \"x\"",
        ] {
            assert!(
                !f.contents.contains(marker),
                "{} {} contains {marker:?}",
                f.host,
                f.path
            );
        }
        // Every section header is a service-VIP pair or [daemon].
        for line in f.contents.lines().filter(|l| l.starts_with('[')) {
            assert!(
                line == "[daemon]" || line.starts_with("[hostile-"),
                "{}: unexpected section {line}",
                f.host
            );
        }
    }
}
