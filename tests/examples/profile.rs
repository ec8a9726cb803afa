//! Where the time goes: each pipeline stage on a generated site (`cargo run --release -p
//! svcintent-tests --example profile -- 1000 200`).
#![allow(clippy::print_stdout, clippy::unwrap_used, reason = "a measuring tool")]

use std::time::Instant;

use svcintent_core::diagnostic::Diagnostics;

fn main() {
    let (services, hosts) = svcintent_tests::generate::size_from_args(1000, 200);
    let sources = svcintent_tests::generate::site(services, hosts);
    let mut diags = Diagnostics::default();
    let t = Instant::now();
    let docs = svcintent_core::parse::parse_all(&sources, &mut diags);
    println!("parse    {:>8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let resolved = svcintent_core::resolve::resolve(&sources, &docs, &mut diags);
    println!("resolve  {:>8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let (intent, unknowns) =
        svcintent_core::model::extract::extract(&sources, &resolved, &mut diags);
    let intent = intent.unwrap();
    println!("extract  {:>8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    svcintent_core::validate::validate(&intent, &resolved, &unknowns, &mut diags);
    println!("validate {:>8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let plan = svcintent_core::plan::plan(&intent);
    println!("plan     {:>8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let out = svcintent_core::render::render(&intent, &plan, &sources).unwrap();
    println!(
        "render   {:>8.1} ms ({} files, {} bytes)",
        t.elapsed().as_secs_f64() * 1e3,
        out.files.len(),
        out.files.iter().map(|f| f.contents.len()).sum::<usize>()
    );
    let mut by_target = std::collections::BTreeMap::new();
    for f in &out.files {
        *by_target.entry(f.target.as_str()).or_insert(0usize) += f.contents.len();
    }
    for (target, bytes) in by_target {
        println!("  {target:<14} {bytes:>12} bytes");
    }
}
