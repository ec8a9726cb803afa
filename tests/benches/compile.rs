//! Native compiler benchmarks on generated sites: lint (parse → validate) and full render
//! (plan + every target). Run: `cargo bench -p svcintent-tests --bench compile`.
//! Results and the machine are recorded in docs/performance.md.

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("native");
    group.sample_size(10);
    for (services, hosts) in [(100, 40), (1000, 200)] {
        let site = svcintent_tests::generate::site(services, hosts);
        group.bench_function(format!("lint/{services}x{hosts}"), |b| {
            b.iter(|| svcintent_core::compile(&site))
        });
        group.bench_function(format!("render/{services}x{hosts}"), |b| {
            b.iter(|| svcintent_core::render(&site))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
