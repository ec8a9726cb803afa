//! Resident memory after each stage of a native render of a generated site:
//! `cargo run --release -p svcintent-tests --example memstages -- SERVICES HOSTS` prints the
//! current and peak RSS (`/proc/self/status`) after parsing, resolving, ..., rendering and
//! serialising the manifest, and the sizes of the manifest and of the files. It shows what a
//! render holds at once (docs/performance.md, "The render response, streamed").
#![allow(clippy::print_stdout, clippy::unwrap_used, reason = "a measuring tool")]
fn status(key: &str) -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap()
        * 1024
}
fn mb(x: usize) -> f64 {
    x as f64 / 1048576.0
}
fn show(s: &str) {
    println!(
        "{s:10} cur {:8.1} MiB peak {:8.1} MiB",
        mb(status("VmRSS:")),
        mb(status("VmHWM:"))
    );
}
fn main() {
    let (services, hosts) = svcintent_tests::generate::size_from_args(10_000, 400);
    let sources = svcintent_tests::generate::site(services, hosts);
    show("sources");
    let mut diags = svcintent_core::diagnostic::Diagnostics::default();
    let docs = svcintent_core::parse::parse_all(&sources, &mut diags);
    show("parse");
    let resolved = svcintent_core::resolve::resolve(&sources, &docs, &mut diags);
    show("resolve");
    let (intent, unknowns) =
        svcintent_core::model::extract::extract(&sources, &resolved, &mut diags);
    let intent = intent.unwrap();
    show("extract");
    svcintent_core::validate::validate(&intent, &resolved, &unknowns, &mut diags);
    drop(docs);
    drop(resolved);
    show("validate");
    let plan = svcintent_core::plan::plan(&intent);
    show("plan");
    let out = svcintent_core::render::render(&intent, &plan, &sources).unwrap();
    show("render");
    let m = out.manifest_json();
    show("manifest");
    println!(
        "manifest json {:.1} MiB, files {:.1} MiB",
        mb(m.len()),
        mb(out.files.iter().map(|f| f.contents.len()).sum())
    );
}
