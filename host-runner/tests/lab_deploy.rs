//! Deploying in the lab (docs/lab.md "Deploying", docs/deploy.md): the lab's real daemons run
//! generation 0 of `examples/lab`; every change reaches them through `svcintent rollout` and
//! `svcintent apply` (this crate's binary), run inside each host's namespaces while the lab's
//! client sends requests. `tests/lab/deploy.sh` runs the scenarios; this test renders the
//! generations with the same binary, from edited copies of the lab site, and fails unless the
//! script ends with `LAB-OK`.
//!
//! Needs root and what `.ci/install-daemons.sh` installs; nothing is skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn svcintent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_svcintent"))
}

/// A copy of the lab site with `edits` (file, old text, new text) made, each of which must
/// change its file.
fn site(dir: &Path, name: &str, edits: &[(&str, &str, &str)]) -> PathBuf {
    let out = dir.join(name);
    let src = repo().join("examples/lab");
    for sub in ["", "services"] {
        std::fs::create_dir_all(out.join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap().flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), out.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    for (file, old, new) in edits {
        let path = out.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(old), "{name}: {file} has no {old:?}");
        std::fs::write(&path, text.replacen(old, new, 1)).unwrap();
    }
    out
}

/// Renders `site` with the binary into `DIR/<name>.tree` (a `render --out` link).
fn render(dir: &Path, site: &Path, name: &str) -> PathBuf {
    let out = dir.join(format!("{name}.tree"));
    let run = svcintent()
        .args(["render", "--engine", "native"])
        .arg(site)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "render {name}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// Breaks `host`'s `path` in `tree` after rendering (as a hand-edited or wrongly generated tree
/// would be), keeping the manifest consistent so that only the daemon's check can tell.
fn tamper(tree: &Path, host: &str, path: &str, edit: impl Fn(&str) -> String) {
    use sha2::{Digest, Sha256};
    let tree = std::fs::canonicalize(tree).unwrap();
    let file = tree.join(host).join(path.trim_start_matches('/'));
    let text = edit(&std::fs::read_to_string(&file).unwrap());
    std::fs::write(&file, &text).unwrap();
    let manifest = tree.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let sha = format!("{:x}", Sha256::digest(text.as_bytes()));
    for f in m["files"].as_array_mut().unwrap() {
        if f["host"] == host && f["host_path"] == path {
            f["sha256"] = serde_json::Value::String(sha.clone());
        }
    }
    std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap() + "\n").unwrap();
}

const BLOG: &str = "
  # A new service, on the same backends.
  blog:
    balancing: haproxy
    mode: http
    vips: [192.0.2.12, \"2001:db8:100::12\"]
    ports: [80/tcp]
    backend_port: 8095
    check: { http: { path: /healthz, expect: 200 } }
    client_ip: x-forwarded-for
    backends: [web1, web2]
    web:
      server_names: [blog.lab.example]
      document_root: /srv/www/blog
";

#[test]
fn lab_deploys_through_rollout_and_apply() {
    let venv = {
        let configured = svcintent_host::daemons::healthchecker::configured_path(
            &svcintent_host::daemons::Options::default(),
        );
        if configured.is_dir() {
            configured
        } else {
            configured
                .parent()
                .and_then(Path::parent)
                .unwrap()
                .to_path_buf()
        }
    };
    assert!(
        venv.join("bin/anycast-healthchecker").is_file(),
        "anycast-healthchecker is not installed in {} (run .ci/install-daemons.sh)",
        venv.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // www's pool changes: web2 becomes a backup (serves only when web1 is down).
    let www_pool = (
        "services/web.yaml",
        "    backends: [web1, web2]\n    web:\n      server_names: [www.lab.example]",
        "    backends: [web1, { host: web2, backup: true }]\n    web:\n      server_names: [www.lab.example]",
    );
    let shop_check = (
        "services/web.yaml",
        "    backend_port: 8090\n    check: { http: { path: /healthz, expect: 200 } }",
        "    backend_port: 8090\n    check: { http: { path: /healthz, expect: 200 }, interval: 2s, fall: 3 }",
    );
    let blog = (
        "services/web.yaml",
        "      document_root: /srv/www/shop\n",
        &*format!("      document_root: /srv/www/shop\n{BLOG}"),
    );
    let a_edits = [www_pool, shop_check, blog];
    let shop_v4_only = (
        "services/web.yaml",
        "    vips: [192.0.2.11, \"2001:db8:100::11\"]",
        "    vips: [192.0.2.11]",
    );
    let drain = |host: &'static str, v4: &'static str| {
        (
            "hosts.yaml",
            Box::leak(format!("  {host}:  {{ roles: [balancer], ipv4: {v4},").into_boxed_str())
                as &str,
            Box::leak(
                format!("  {host}:  {{ roles: [balancer], drain: true, ipv4: {v4},")
                    .into_boxed_str(),
            ) as &str,
        )
    };

    let site0 = repo().join("examples/lab");
    let t0 = render(d, &site0, "t0");
    let ta = render(d, &site(d, "a", &a_edits), "ta");
    let mut b_edits = a_edits.to_vec();
    b_edits.push((
        "services/web.yaml",
        "    client_ip: proxy-protocol\n",
        "    client_ip: proxy-protocol\n    balance: leastconn\n",
    ));
    let tb = render(d, &site(d, "b", &b_edits), "tb");
    tamper(&tb, "lb1", "/etc/haproxy/haproxy.cfg", |t| {
        t.replacen("defaults\n", "defaults\n    option no-such-option\n", 1)
    });
    let sc1 = site(
        d,
        "c1",
        &[drain("lb1", "198.18.1.1"), drain("lb2", "198.18.1.2")],
    );
    let c2 = site(d, "c2", &a_edits);
    {
        let path = c2.join("services/web.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text
            .find("  # Client address by the PROXY protocol")
            .unwrap();
        let end = text.find("  # A new service").unwrap();
        std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).unwrap();
    }
    let tc2 = render(d, &c2, "tc2");
    let mut e_edits = a_edits.to_vec();
    e_edits.push(shop_v4_only);
    e_edits.push((
        "services/web.yaml",
        "    vips: [192.0.2.10, \"2001:db8:100::10\"]",
        "    vips: [192.0.2.10, 192.0.2.13, \"2001:db8:100::10\"]",
    ));
    let te = render(d, &site(d, "e", &e_edits), "te");
    let mut g_edits = a_edits.to_vec();
    g_edits.push(shop_v4_only);
    let tg = render(d, &site(d, "g", &g_edits), "tg");
    let mut d_edits = g_edits.clone();
    d_edits.push(drain("lb1", "198.18.1.1"));
    let td = render(d, &site(d, "d", &d_edits), "td");
    // h: from d, lb1 back in service, a new anycast prefix (filters only: nothing restarts),
    // new router ids on the balancers and DNS nodes (BIRD restarts their BGP sessions), up
    // to two announcers of a service per batch, and apply waiting for each host's VIPs to be
    // exported before the next batch.
    let mut h_edits = g_edits.clone();
    h_edits.push((
        "site.yaml",
        "anycast_prefixes: [192.0.2.0/24, 2001:db8:100::/48]",
        "anycast_prefixes: [192.0.2.0/24, 198.51.100.0/24, 2001:db8:100::/48]",
    ));
    h_edits.push((
        "site.yaml",
        "  deploy:\n    icinga2_reload:",
        "  deploy:\n    max_in_flight: 2\n    announce_timeout: 30s\n    icinga2_reload:",
    ));
    for (host, kind, ipv4, id) in [
        ("lb1:  ", "balancer", "198.18.1.1", "10.255.0.1"),
        ("lb2:  ", "balancer", "198.18.1.2", "10.255.0.2"),
        ("dns1: ", "anycast-node", "198.18.3.1", "10.255.0.3"),
        ("dns2: ", "anycast-node", "198.18.3.2", "10.255.0.4"),
    ] {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        h_edits.push((
            "hosts.yaml",
            leak(format!("  {host}{{ roles: [{kind}], ipv4: {ipv4},")),
            leak(format!(
                "  {host}{{ roles: [{kind}], router_id: {id}, ipv4: {ipv4},"
            )),
        ));
    }
    let th = render(d, &site(d, "h", &h_edits), "th");

    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("timeout");
    cmd.args([
        "-k",
        "5",
        "900",
        "unshare",
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--mount-proc",
        "--",
    ])
    .arg("bash")
    .arg(repo().join("tests/lab/deploy.sh"))
    .env("W", work.path())
    .env("T", &t0)
    .env("TA", &ta)
    .env("TB", &tb)
    .env("SC1", &sc1)
    .env("TC2", &tc2)
    .env("TE", &te)
    .env("TG", &tg)
    .env("TD", &td)
    .env("TH", &th)
    .env("SITE0", &site0)
    .env("SVCINTENT", env!("CARGO_BIN_EXE_svcintent"))
    .env("VENV", &venv)
    .env("LAB", repo().join("tests/lab"));
    let started = std::time::Instant::now();
    let run = cmd.output().expect("timeout, unshare and bash are needed");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stdout}");
    eprintln!("deploy lab took {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        run.status.success() && stdout.contains("\nLAB-OK"),
        "deploy lab failed ({}):\n{stdout}\n--- stderr\n{stderr}",
        run.status
    );
}
