//! Lints (or renders) a site directory N times in one process and prints the time per call:
//! what a long-lived caller such as the browser playground pays on every keystroke.
//!
//! `cargo run --release -p svcintent-tests --example repeat -- DIR [N] [--render]`
//! (`perf stat -e instructions:u` on it gives counts that do not depend on the machine's load).
#![allow(clippy::print_stdout, clippy::unwrap_used, reason = "a measuring tool")]

use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let render = args.iter().any(|a| a == "--render");
    let mut positional = args.iter().filter(|a| !a.starts_with("--"));
    let dir = PathBuf::from(positional.next().map_or("examples/campus", String::as_str));
    let n: u32 = positional
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let mut pairs = Vec::new();
    for path in yaml_files(&dir) {
        let rel = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        pairs.push((rel, std::fs::read_to_string(&path).unwrap()));
    }
    pairs.sort();
    let sources = svcintent_core::Sources::from_pairs(pairs);
    let start = Instant::now();
    let mut diagnostics = 0;
    for _ in 0..n {
        diagnostics += if render {
            svcintent_core::render(&sources).diagnostics.len()
        } else {
            svcintent_core::compile(&sources).diagnostics.len()
        };
    }
    println!(
        "{} {:.3} ms per call ({n} calls, {diagnostics} diagnostics)",
        if render { "render" } else { "lint" },
        start.elapsed().as_secs_f64() * 1e3 / f64::from(n)
    );
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(path);
        }
    }
    out
}
