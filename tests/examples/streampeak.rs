//! Live heap of a streamed render, natively, part by part: `cargo run --release -p
//! svcintent-tests --example streampeak -- SERVICES HOSTS` serves a render request for a
//! generated site through `svcintent_core::api::Stream` (what the module's `svcintent_stream`
//! serves) under a counting allocator (peak_alloc) and prints, above what the request holds, the
//! live bytes after the first part, the peak and the part that reached it, and the peak before
//! the manifest (`STREAMPEAK_PARTS=1`: every part's). The module's linear memory is this peak
//! plus its allocator's fragmentation (docs/performance.md).
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a measuring tool"
)]

use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

fn live() -> usize {
    ALLOCATOR.current_usage()
}

fn peak() -> usize {
    ALLOCATOR.peak_usage()
}

fn mib(x: usize) -> f64 {
    x as f64 / 1_048_576.0
}

fn main() {
    let (services, hosts) = svcintent_tests::generate::size_from_args(10_000, 400);
    let request = {
        let sources = svcintent_tests::generate::site(services, hosts);
        let files: Vec<_> = sources
            .iter()
            .map(|(_, f)| serde_json::json!({"path": f.path, "text": f.text}))
            .collect();
        serde_json::json!({"version": 1, "op": "render", "files": files}).to_string()
    };
    let every_part = std::env::var_os("STREAMPEAK_PARTS").is_some();
    let base = live();
    ALLOCATOR.reset_peak_usage();
    println!("request {:.1} MiB", mib(request.len()));
    let (mut stream, first) = svcintent_core::api::Stream::start(&request);
    drop(request);
    println!(
        "after the head: live {:.1} MiB (peak {:.1})",
        mib(live().saturating_sub(base)),
        mib(peak().saturating_sub(base))
    );
    let mut part_index = 0usize;
    let mut peak_seen = peak();
    let mut peak_part = (0usize, first[0]);
    let mut before_manifest = None;
    let mut bytes = first.len();
    drop(first);
    while let Some(part) = stream.next_part() {
        part_index += 1;
        let tag = part[0];
        if tag == b'M' && before_manifest.is_none() {
            before_manifest = Some(peak_seen);
        }
        let now_peak = peak();
        if now_peak > peak_seen {
            peak_seen = now_peak;
            peak_part = (part_index, tag);
        }
        bytes += part.len();
        if every_part {
            println!(
                "part {part_index} {} {:.1} MiB: live {:.1} MiB, peak {:.1} MiB",
                char::from(tag),
                mib(part.len()),
                mib(live().saturating_sub(base)),
                mib(peak().saturating_sub(base))
            );
        }
    }
    println!(
        "{part_index} parts, {:.1} MiB; peak live {:.1} MiB above the request, at part {} ({}); \
         peak before the manifest {:.1} MiB",
        mib(bytes),
        mib(peak_seen.saturating_sub(base)),
        peak_part.0,
        char::from(peak_part.1),
        mib(before_manifest.unwrap_or(peak_seen).saturating_sub(base)),
    );
}
