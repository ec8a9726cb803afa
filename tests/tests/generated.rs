//! Generated sites lint clean at every size the benchmarks and determinism tests use.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

#[test]
fn generated_sites_are_clean() {
    for (services, hosts) in [(10, 16), (100, 40), (1000, 200)] {
        let s = svcintent_tests::generate::site(services, hosts);
        let c = svcintent_core::compile(&s);
        let errors: Vec<_> = c
            .diagnostics
            .iter()
            .take(5)
            .map(|d| (d.code, d.message.clone()))
            .collect();
        assert!(c.diagnostics.is_empty(), "{services} services: {errors:?}");
        assert_eq!(c.intent.unwrap().services.len(), services);
    }
}
