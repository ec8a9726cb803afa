//! The native render call as the `svcintent` command makes it with `--engine native`: the JSON
//! request in, the JSON response out, N times in one process.
//!
//! `cargo run --release -p svcintent-tests --example render_call -- SERVICES HOSTS [N]` renders a
//! generated site (`tests/src/generate.rs`); `-- DIR [N]` a site directory. It prints the time of
//! each call and the response's size; `RENDER_CALL_DUMP=FILE` writes the response. Under
//! `valgrind --tool=callgrind` (one call) it gives an instruction count that does not depend on
//! the machine's load (`scripts/bench-render.sh`).
#![allow(clippy::print_stdout, clippy::unwrap_used, reason = "a measuring tool")]

use std::path::{Path, PathBuf};
use std::time::Instant;

use svcintent_core::api::{Envelope, InputFile, PROTOCOL_VERSION, Request};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let (files, calls) = match args.first() {
        Some(dir) if dir.parse::<usize>().is_err() => (
            site_dir(Path::new(dir)),
            numbers.first().copied().unwrap_or(1),
        ),
        _ => {
            let services = numbers.first().copied().unwrap_or(1000);
            let hosts = numbers.get(1).copied().unwrap_or(200);
            let sources = svcintent_tests::generate::site(services, hosts);
            let files = sources
                .iter()
                .map(|(_, f)| InputFile {
                    path: f.path.clone(),
                    text: f.text.clone(),
                })
                .collect();
            (files, numbers.get(2).copied().unwrap_or(1))
        }
    };
    let request = serde_json::to_string(&Envelope {
        version: PROTOCOL_VERSION,
        request: Request::Render { files },
    })
    .unwrap();
    let dump = std::env::var_os("RENDER_CALL_DUMP");
    for _ in 0..calls {
        let start = Instant::now();
        let response = svcintent_core::api::handle_json(&request);
        let elapsed = start.elapsed();
        if let Some(path) = &dump {
            std::fs::write(path, &response).unwrap();
        }
        println!(
            "render call {:.1} ms, response {} bytes",
            elapsed.as_secs_f64() * 1e3,
            response.len()
        );
    }
}

/// The YAML files below `dir`, with site-relative paths.
fn site_dir(dir: &Path) -> Vec<InputFile> {
    let mut files: Vec<InputFile> = yaml_files(dir)
        .into_iter()
        .map(|path| InputFile {
            path: path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            text: std::fs::read_to_string(&path).unwrap(),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
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
