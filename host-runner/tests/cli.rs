//! The `svcintent` command end to end: every command and output format, failure paths, atomic
//! renders (including SIGKILL at many points), the sandbox limits and engine determinism.
//!
//! Wasm runs share one compiled-module cache under the target directory; the first test to need
//! it compiles the module once (slow in a debug build) while the others wait.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: failing loudly is the point"
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Helpers

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_svcintent"))
        .parent()
        .unwrap()
        .join("svcintent-test-cache")
}

/// The command, with a private cache, no colour and no inherited cache settings.
fn svcintent(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_svcintent"));
    cmd.current_dir(cwd)
        .env("SVCINTENT_CACHE_DIR", cache_dir())
        .env("NO_COLOR", "1")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("WASM_OPT");
    cmd
}

/// Compiles the module into the shared cache once, before any test uses the wasm engine.
fn warm() {
    static WARM: OnceLock<()> = OnceLock::new();
    WARM.get_or_init(|| {
        let out = svcintent(Path::new(".")).arg("version").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Exit code and both streams, for snapshots.
    fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run(cwd: &Path, args: &[&str]) -> Run {
    if !args.contains(&"native") {
        warm();
    }
    let out = svcintent(cwd).args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

const SITE: &str = "\
site:
  name: mini
  asn: 65010
  anycast_prefixes: [192.0.2.0/24]

templates:
  web:
    balancing: haproxy
    mode: http
    ports: [80/tcp]
    backend_port: 8080
    check: { http: { path: /healthz, expect: 200 } }
";

const HOSTS: &str = "\
hosts:
  rr1:  { roles: [route-reflector], ipv4: 198.18.0.1 }
  lb1:  { roles: [balancer], ipv4: 198.18.1.1 }
  web1: { roles: [web], ipv4: 198.18.2.1 }
  mon1: { roles: [monitoring], ipv4: 198.18.9.1 }
";

const WWW: &str = "\
services:
  www:
    extends: web
    vips: [192.0.2.10]
    backends: [web1]
    web: { server_names: [www.example.org], document_root: /srv/www }
";

/// A second service: the "new" version of the site in render tests.
const BLOG: &str = "\
services:
  blog:
    extends: web
    vips: [192.0.2.11]
    backends: [web1]
    web: { server_names: [blog.example.org], document_root: /srv/blog }
";

/// Two mistakes: a misspelt key and a VIP outside the anycast prefixes.
const BROKEN_WWW: &str = "\
services:
  www:
    extends: web
    vips: [203.0.113.10]
    backend: [web1]
    web: { server_names: [www.example.org], document_root: /srv/www }
";

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

/// A temporary directory holding the mini site in `site/`.
fn mini_site() -> TempDir {
    let tmp = TempDir::new().unwrap();
    write(
        &tmp.path().join("site"),
        &[
            ("site.yaml", SITE),
            ("hosts.yaml", HOSTS),
            ("services/www.yaml", WWW),
        ],
    );
    tmp
}

/// Every regular file below `dir` (following a symlinked `dir`), tree-relative.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// help, version, explain, schema

#[test]
fn help_teaches() {
    let r = run(Path::new("."), &["--help", "--engine", "native"]);
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("help", r.stdout);
    let r = run(Path::new("."), &["help", "render"]);
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("help_render", r.stdout);
}

#[test]
fn version_names_every_part() {
    let r = run(Path::new("."), &["version"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with(&format!("svcintent {}\n", env!("CARGO_PKG_VERSION"))),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "compiler  svcintent-core {}",
            svcintent_core::VERSION
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("wasmtime  48."), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "module    sha256 {}",
            svcintent_host::module::MODULE_SHA256
        )),
        "{}",
        r.stdout
    );
}

#[test]
fn explain_and_schema() {
    let r = run(Path::new("."), &["explain", "SI010"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("## SI010 unknown-key"), "{}", r.stdout);
    let by_name = run(
        Path::new("."),
        &["explain", "unknown-key", "--engine", "native"],
    );
    assert_eq!(by_name.stdout, r.stdout);

    let r = run(Path::new("."), &["explain", "SI999"]);
    insta::assert_snapshot!("explain_unknown", r.transcript());

    let r = run(Path::new("."), &["schema"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let schema: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(schema.get("$schema").is_some());
}

#[test]
fn bad_usage_exits_2() {
    let r = run(
        Path::new("."),
        &["lint", "--engine", "native", "--fuel", "lots"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(
        Path::new("."),
        &["lint", "--engine", "native", "--max-stack", "0"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(Path::new("."), &["render", "--engine", "native"]);
    assert_eq!(r.code, 2, "--out is required: {}", r.stderr);
}

#[test]
fn validate_a_missing_tree_is_an_io_error() {
    let tmp = TempDir::new().unwrap();
    let r = run(tmp.path(), &["validate", "nowhere", "--engine", "native"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("nowhere"), "{}", r.stderr);
}

/// `validate` counts failed checks (a daemon on a host), not the lines a daemon complained
/// about, and lists each check's lines under it.
#[test]
fn validate_counts_failed_checks_and_lists_their_lines() {
    let inputs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/daemon-inputs");
    let tmp = TempDir::new().unwrap();
    let tree = tmp.path().join("tree");
    // lb1: HAProxy with two bad lines, and a bad BIRD configuration.
    for (from, file) in [
        ("bad-haproxy", "etc/haproxy/haproxy.cfg"),
        ("bad-bird", "etc/bird/bird.conf"),
        (
            "bad-bird",
            "var/lib/anycast-healthchecker/anycast-prefixes.conf",
        ),
        (
            "bad-bird",
            "var/lib/anycast-healthchecker/6/anycast-prefixes.conf",
        ),
    ] {
        let to = tree.join("lb1").join(file);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(inputs.join(from).join("lb1").join(file), &to).unwrap();
    }
    let cfg = tree.join("lb1/etc/haproxy/haproxy.cfg");
    let text = fs::read_to_string(&cfg).unwrap();
    fs::write(
        &cfg,
        text.replace(
            "    timeout client 30s\n",
            "    timeout client 30s\n    option httplog-typo\n",
        ),
    )
    .unwrap();
    let r = run(
        tmp.path(),
        &[
            "validate", "tree", "--daemon", "haproxy", "--daemon", "bird", "--engine", "native",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.transcript());
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"2 check(s) ran, 2 failed"),
        "{}",
        r.stdout
    );
    let haproxy = lines
        .iter()
        .position(|l| l.starts_with("haproxy rejected lb1 (lb1/etc/haproxy"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let under: Vec<&&str> = lines[haproxy + 1..]
        .iter()
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(
        under.len() >= 2,
        "both HAProxy lines under its check: {}",
        r.stdout
    );
    assert!(
        under.iter().all(|l| l.contains(": haproxy: ")),
        "{}",
        r.stdout
    );
    assert!(
        lines.iter().any(|l| l.starts_with("bird rejected lb1 (")),
        "{}",
        r.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// lint

#[test]
fn lint_bundled_example_is_clean() {
    if svcintent_host::module::BUNDLED_EXAMPLE.is_empty() {
        let r = run(Path::new("."), &["lint", "--engine", "native"]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("bundles no example"), "{}", r.stderr);
        return;
    }
    let r = run(Path::new("."), &["lint"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.ends_with("0 error(s), 0 warning(s), 0 info(s)\n"),
        "{}",
        r.stdout
    );
}

fn broken_site() -> TempDir {
    let tmp = mini_site();
    write(
        &tmp.path().join("site"),
        &[("services/www.yaml", BROKEN_WWW)],
    );
    tmp
}

#[test]
fn lint_human() {
    let tmp = broken_site();
    let r = run(tmp.path(), &["lint", "site"]);
    insta::assert_snapshot!("lint_human", r.transcript());
    assert_eq!(r.code, 1);
}

#[test]
fn lint_github() {
    let tmp = broken_site();
    let r = run(tmp.path(), &["lint", "site", "--format", "github"]);
    insta::assert_snapshot!("lint_github", r.transcript());
    assert_eq!(r.code, 1);
}

#[test]
fn lint_json() {
    let tmp = broken_site();
    let r = run(tmp.path(), &["lint", "site", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let ds = v["diagnostics"].as_array().unwrap();
    assert!(ds.iter().any(|d| d["code"] == "SI010"), "{}", r.stdout);
    assert!(
        ds.iter()
            .all(|d| d["location"]["file"] == "site/services/www.yaml"),
        "{}",
        r.stdout
    );
}

#[test]
fn lint_sarif() {
    let tmp = broken_site();
    let r = run(tmp.path(), &["lint", "site", "--format", "sarif"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run0 = &v["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run0["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "site/services/www.yaml"
        );
        assert!(
            result["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
}

#[test]
fn lint_files_lint_their_whole_site_once() {
    let tmp = broken_site();
    write(
        tmp.path(),
        &[("other/config.yaml", "key: value\n"), ("README.md", "hi\n")],
    );
    let r = run(
        tmp.path(),
        &[
            "lint",
            "site/services/www.yaml",
            "site/hosts.yaml",
            "other/config.yaml",
            "README.md",
            "--format",
            "github",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let whole = run(tmp.path(), &["lint", "site", "--format", "github"]);
    assert_eq!(r.stdout, whole.stdout, "each site once, as a whole");
    assert!(
        r.stderr
            .contains("skipped 1 YAML file(s) that belong to no site"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("other/config.yaml"), "{}", r.stderr);

    // From inside the site, paths stay valid from the current directory.
    let r = run(
        &tmp.path().join("site/services"),
        &["lint", "www.yaml", "--format", "github"],
    );
    assert!(
        r.stdout.contains("::error file=../services/www.yaml,"),
        "{}",
        r.stdout
    );

    // --site wins over PATHS.
    let clean = mini_site();
    let r = run(
        clean.path(),
        &["lint", "--site", "site", "nothing-here.yaml"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn lint_non_utf8_is_a_clear_error() {
    let tmp = mini_site();
    fs::write(
        tmp.path().join("site/services/latin1.yaml"),
        b"services: {}\n# caf\xe9\n",
    )
    .unwrap();
    let r = run(tmp.path(), &["lint", "site", "--engine", "native"]);
    insta::assert_snapshot!("lint_non_utf8", r.transcript());
    assert_eq!(r.code, 4);
}

#[test]
fn lint_missing_site_dir() {
    let tmp = TempDir::new().unwrap();
    let r = run(tmp.path(), &["lint", "nowhere", "--engine", "native"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("cannot read nowhere"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// render

#[test]
fn render_writes_generations_and_manifest() {
    let tmp = mini_site();
    let r = run(tmp.path(), &["render", "site", "--out", "out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("(generation 000001)"), "{}", r.stdout);
    let link = fs::read_link(tmp.path().join("out")).unwrap();
    assert_eq!(link, Path::new("out.generations/000001"));
    let first = read_tree(&tmp.path().join("out"));
    assert!(first.contains_key("manifest.json"));
    assert!(
        first.keys().any(|k| k.starts_with("lb1/")),
        "{:?}",
        first.keys()
    );

    // manifest.json is exactly what the core itself writes.
    let sources = svcintent_core::Sources::from_pairs([
        ("hosts.yaml", HOSTS),
        ("services/www.yaml", WWW),
        ("site.yaml", SITE),
    ]);
    let output = svcintent_core::render(&sources).output.unwrap();
    assert_eq!(first["manifest.json"], output.manifest_json().into_bytes());
    for f in &output.files {
        assert_eq!(
            first[&f.tree_path()],
            f.contents.as_bytes(),
            "{}",
            f.tree_path()
        );
    }

    // Unchanged: nothing written.
    let r = run(tmp.path(), &["render", "site", "--out", "out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("up to date (generation 000001); nothing written"),
        "{}",
        r.stdout
    );

    // Changed: a new generation, the previous one kept.
    write(&tmp.path().join("site"), &[("services/blog.yaml", BLOG)]);
    let r = run(tmp.path(), &["render", "site", "--out", "out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("(generation 000002; previous: 000001)"),
        "{}",
        r.stdout
    );
    assert_eq!(
        fs::read_link(tmp.path().join("out")).unwrap(),
        Path::new("out.generations/000002")
    );
    assert_eq!(read_tree(&tmp.path().join("out.generations/000001")), first);
    assert_ne!(read_tree(&tmp.path().join("out")), first);
}

#[test]
fn render_keeps_only_keep_previous_generations() {
    let tmp = mini_site();
    let site = tmp.path().join("site");
    for i in 0..4 {
        let vip = format!("192.0.2.{}", 20 + i);
        write(
            &site,
            &[("services/extra.yaml", &BLOG.replace("192.0.2.11", &vip))],
        );
        let r = run(
            tmp.path(),
            &[
                "render", "site", "--out", "out", "--keep", "1", "--engine", "native",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut gens: Vec<String> = fs::read_dir(tmp.path().join("out.generations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    gens.sort();
    assert_eq!(gens, ["000003", "000004"]);
}

#[test]
fn render_with_errors_writes_nothing() {
    let tmp = broken_site();
    let r = run(tmp.path(), &["render", "site", "--out", "out"]);
    insta::assert_snapshot!("render_errors", r.transcript());
    assert_eq!(r.code, 1);
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn render_check_reports_drift() {
    let tmp = mini_site();
    let r = run(
        tmp.path(),
        &[
            "render", "site", "--out", "out", "--check", "--engine", "native",
        ],
    );
    assert_eq!(r.code, 3, "a missing DIR differs: {}", r.stderr);
    assert!(!tmp.path().join("out").exists(), "--check writes nothing");

    let r = run(
        tmp.path(),
        &["render", "site", "--out", "out", "--engine", "native"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(tmp.path(), &["render", "site", "--out", "out", "--check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("out is up to date"), "{}", r.stdout);

    let gen_dir = tmp.path().join("out.generations/000001");
    let manifest = fs::read(gen_dir.join("manifest.json")).unwrap();
    fs::write(
        gen_dir.join("manifest.json"),
        [manifest.as_slice(), b" "].concat(),
    )
    .unwrap();
    fs::write(gen_dir.join("stray.conf"), "x").unwrap();
    fs::remove_dir_all(gen_dir.join("mon1")).unwrap();
    let r = run(
        tmp.path(),
        &[
            "render", "site", "--out", "out", "--check", "--engine", "native",
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stdout.contains("changed     manifest.json\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("unexpected  stray.conf\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.lines().any(|l| l.starts_with("missing     mon1/")),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("out differs from what site renders to"),
        "{}",
        r.stderr
    );
}

#[test]
fn render_refuses_foreign_outputs_and_adopts_plain_directories() {
    let tmp = mini_site();
    fs::write(tmp.path().join("file"), "x").unwrap();
    let r = run(
        tmp.path(),
        &["render", "site", "--out", "file", "--engine", "native"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("file is a file"), "{}", r.stderr);

    std::os::unix::fs::symlink("/etc", tmp.path().join("link")).unwrap();
    let r = run(
        tmp.path(),
        &["render", "site", "--out", "link", "--engine", "native"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("is a symbolic link to /etc"),
        "{}",
        r.stderr
    );

    write(tmp.path(), &[("plain/old.conf", "old\n")]);
    let r = run(
        tmp.path(),
        &["render", "site", "--out", "plain", "--engine", "native"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("kept as generation 000001"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fs::read_link(tmp.path().join("plain")).unwrap(),
        Path::new("plain.generations/000002")
    );
    assert_eq!(
        fs::read(tmp.path().join("plain.generations/000001/old.conf")).unwrap(),
        b"old\n"
    );
}

#[test]
fn concurrent_render_is_refused() {
    let tmp = mini_site();
    let r = run(
        tmp.path(),
        &["render", "site", "--out", "out", "--engine", "native"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lock = fs::File::open(tmp.path().join("out.generations/.lock")).unwrap();
    lock.lock().unwrap();
    write(&tmp.path().join("site"), &[("services/blog.yaml", BLOG)]);
    let r = run(
        tmp.path(),
        &["render", "site", "--out", "out", "--engine", "native"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("another svcintent render is writing this output"),
        "{}",
        r.stderr
    );
    lock.unlock().unwrap();
    let r = run(
        tmp.path(),
        &["render", "site", "--out", "out", "--engine", "native"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Kills `render --out` at many points of its run; `out` must always be the complete old tree or
/// the complete new one, and the next render must succeed.
#[test]
fn sigkill_never_leaves_a_partial_tree() {
    let tmp = mini_site();
    let site = tmp.path().join("site");
    let render = |extra: &[&str]| {
        let mut args = vec!["render", "site", "--out", "out", "--engine", "native"];
        args.extend_from_slice(extra);
        run(tmp.path(), &args)
    };
    // The two trees the site alternates between.
    let r = render(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let old = read_tree(&tmp.path().join("out"));
    write(&site, &[("services/blog.yaml", BLOG)]);
    let start = Instant::now();
    let r = render(&[]);
    let full = start.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let new = read_tree(&tmp.path().join("out"));
    assert_ne!(old, new);

    let steps = 40u32;
    let mut killed = 0;
    for i in 0..steps {
        // Alternate the site so that every run has something to write.
        if i % 2 == 0 {
            fs::remove_file(site.join("services/blog.yaml")).unwrap();
        } else {
            write(&site, &[("services/blog.yaml", BLOG)]);
        }
        let mut child = svcintent(tmp.path())
            .args([
                "render", "site", "--out", "out", "--engine", "native", "--keep", "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(f64::from(i) / f64::from(steps) * 1.2));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().ok();
        child.wait().unwrap();
        let seen = read_tree(&tmp.path().join("out"));
        assert!(
            seen == old || seen == new,
            "step {i}: out is neither the old nor the new tree"
        );
    }
    assert!(
        killed > steps / 4,
        "only {killed} of {steps} runs were killed before finishing"
    );
    // Whatever was left behind, the next render cleans up and succeeds.
    let r = render(&["--keep", "0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let leftovers: Vec<_> = fs::read_dir(tmp.path().join("out.generations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!fs::read_dir(tmp.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".out.link-")
    }));
}

// ---------------------------------------------------------------------------------------------
// Engines and limits

/// The sandboxed module and the native core give byte-identical trees.
#[test]
fn wasm_and_native_render_the_same_bytes() {
    let tmp = TempDir::new().unwrap();
    let site_args: Vec<&str> = if svcintent_host::module::BUNDLED_EXAMPLE.is_empty() {
        write(
            &tmp.path().join("site"),
            &[
                ("site.yaml", SITE),
                ("hosts.yaml", HOSTS),
                ("services/www.yaml", WWW),
            ],
        );
        vec!["site"]
    } else {
        vec![]
    };
    let mut trees = Vec::new();
    for engine in ["wasm", "native"] {
        let out = format!("out-{engine}");
        let mut args = vec!["render"];
        args.extend(&site_args);
        args.extend(["--out", &out, "--engine", engine]);
        let r = run(tmp.path(), &args);
        assert_eq!(r.code, 0, "{engine}: {}", r.stderr);
        trees.push(read_tree(&tmp.path().join(&out)));
    }
    assert!(trees[0].len() > 1);
    assert!(trees[0] == trees[1], "the engines rendered different trees");
}

fn limit_site(files: &[(&str, &str)]) -> TempDir {
    let tmp = TempDir::new().unwrap();
    write(&tmp.path().join("site"), files);
    tmp
}

const SITE_LINE: &str = "site: { name: x, asn: 65010, anycast_prefixes: [192.0.2.0/24] }\n";

fn alias_bomb() -> String {
    let mut text = format!("{SITE_LINE}a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text
}

#[test]
fn alias_bomb_is_a_clean_error() {
    let tmp = limit_site(&[("site.yaml", &alias_bomb())]);
    let r = run(tmp.path(), &["lint", "site", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("\"SI003\""), "{}", r.stdout);
}

#[test]
fn deep_nesting_is_a_clean_error() {
    let deep = format!(
        "{SITE_LINE}deep: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let tmp = limit_site(&[("site.yaml", &deep)]);
    let r = run(tmp.path(), &["lint", "site", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("\"SI003\""), "{}", r.stdout);
}

#[test]
fn fifty_megabytes_is_a_clean_error_and_can_hit_the_memory_limit() {
    let big = format!("{SITE_LINE}# {}\n", "x".repeat(50 << 20));
    let tmp = limit_site(&[("site.yaml", &big)]);
    let r = run(tmp.path(), &["lint", "site", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("\"SI003\""), "{}", r.stdout);

    let r = run(tmp.path(), &["lint", "site", "--max-memory", "32MiB"]);
    insta::assert_snapshot!("limit_memory", r.transcript());
    assert_eq!(r.code, 11);
}

#[test]
fn tiny_fuel_is_out_of_fuel() {
    let tmp = mini_site();
    let r = run(tmp.path(), &["lint", "site", "--fuel", "100k"]);
    insta::assert_snapshot!("limit_fuel", r.transcript());
    assert_eq!(r.code, 10);
}

#[test]
fn timeout_is_its_own_error() {
    let tmp = limit_site(&[("site.yaml", &alias_bomb())]);
    let r = run(tmp.path(), &["lint", "site", "--timeout", "1ms"]);
    insta::assert_snapshot!("limit_timeout", r.transcript());
    assert_eq!(r.code, 12);
}

#[test]
fn tiny_stack_is_out_of_stack() {
    let tmp = mini_site();
    let r = run(tmp.path(), &["lint", "site", "--max-stack", "1KiB"]);
    insta::assert_snapshot!("limit_stack", r.transcript());
    assert_eq!(r.code, 13);
}

#[test]
fn stats_and_cache() {
    let tmp = mini_site();
    let r = run(tmp.path(), &["lint", "site", "--stats"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("compiled module loaded from"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(", fuel "), "{}", r.stderr);
    let shared = r
        .stderr
        .split("loaded from ")
        .nth(1)
        .and_then(|rest| rest.split(" in ").next())
        .map(PathBuf::from)
        .unwrap();
    assert!(
        shared.starts_with(cache_dir()) && shared.exists(),
        "{}",
        shared.display()
    );

    // A corrupted cache entry is recompiled, never loaded. (Compiling takes about a minute in a
    // debug build, so this part runs in release builds only.)
    if cfg!(debug_assertions) {
        return;
    }
    let private = TempDir::new().unwrap();
    let dir = private.path().join("cache");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let entry = dir.join(shared.file_name().unwrap());
    let mut bytes = fs::read(&shared).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&entry, bytes).unwrap();
    let out = svcintent(tmp.path())
        .env("SVCINTENT_CACHE_DIR", &dir)
        .args(["version", "--stats"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("module compiled in"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// diff

/// The mini site in `old/`, and in `new/` with a second service and the web backend drained.
fn two_versions() -> TempDir {
    let tmp = TempDir::new().unwrap();
    let base = [
        ("site.yaml", SITE),
        ("hosts.yaml", HOSTS),
        ("services/www.yaml", WWW),
    ];
    write(&tmp.path().join("old"), &base);
    write(&tmp.path().join("new"), &base);
    write(
        &tmp.path().join("new"),
        &[
            ("services/blog.yaml", BLOG),
            (
                "hosts.yaml",
                &HOSTS.replace(
                    "lb1:  { roles: [balancer], ipv4: 198.18.1.1 }",
                    "lb1:  { roles: [balancer], ipv4: 198.18.1.1 }\n  lb2:  { roles: [balancer], ipv4: 198.18.1.2 }",
                ),
            ),
        ],
    );
    tmp
}

#[test]
fn diff_states_the_change_then_the_files() {
    let tmp = two_versions();
    let summary = run(tmp.path(), &["diff", "old", "new", "--summary"]);
    insta::assert_snapshot!("diff_summary", summary.transcript());
    assert_eq!(summary.code, 0);
    for statement in [
        "adds host lb2 (balancer; 198.18.1.2)",
        "adds service blog (haproxy; 192.0.2.11; 80/tcp)",
        "announces blog (192.0.2.11) from lb1, lb2",
        "announces www (192.0.2.10) from lb2",
        "adds BGP session lb2 - rr1",
    ] {
        assert!(summary.stdout.contains(statement), "{statement}");
    }
    let full = run(tmp.path(), &["diff", "old", "new"]);
    assert!(
        full.stdout
            .contains("--- /dev/null\n+++ b/lb2/etc/haproxy/haproxy.cfg\n")
    );
    assert!(full.stdout.contains("+frontend blog\n"));
    let same = run(tmp.path(), &["diff", "old", "old", "--exit-code"]);
    assert_eq!(same.code, 0);
    assert!(same.stdout.starts_with("no changes"));
    let changed = run(
        tmp.path(),
        &["diff", "old", "new", "--exit-code", "--summary"],
    );
    assert_eq!(changed.code, 3);
}

#[test]
fn diff_json_and_native_engine_agree() {
    let tmp = two_versions();
    let wasm = run(tmp.path(), &["diff", "old", "new", "--format", "json"]);
    let native = run(
        tmp.path(),
        &[
            "diff", "old", "new", "--format", "json", "--engine", "native",
        ],
    );
    assert_eq!(wasm.code, 0, "{}", wasm.stderr);
    assert_eq!(wasm.stdout, native.stdout);
    let v: serde_json::Value = serde_json::from_str(&wasm.stdout).unwrap();
    assert!(
        v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "session")
    );
    assert!(
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["status"] == "added")
    );
}

#[test]
fn diff_against_a_git_revision() {
    let tmp = mini_site();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(tmp.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "one"]);
    write(
        &tmp.path().join("site"),
        &[("services/blog.yaml", BLOG), (".hidden.yaml", "not: [yaml")],
    );
    // A bare revision: the NEW directory as of that revision.
    let r = run(tmp.path(), &["diff", "HEAD", "site", "--summary"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("adds service blog"), "{}", r.stdout);
    // REV:DIR on both sides: nothing changed between them.
    let r = run(tmp.path(), &["diff", "HEAD:site", "HEAD:site"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("no changes"));
    let r = run(tmp.path(), &["diff", "no-such-rev", "site"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cannot read the site no-such-rev:site from git"),
        "{}",
        r.stderr
    );
}

#[test]
fn diff_with_a_broken_old_site_shows_its_errors() {
    let tmp = two_versions();
    write(
        &tmp.path().join("old"),
        &[("services/www.yaml", BROKEN_WWW)],
    );
    let r = run(tmp.path(), &["diff", "old", "new"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("old/services/www.yaml:5:5"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("the old site has 2 error(s)"),
        "{}",
        r.stderr
    );
}
