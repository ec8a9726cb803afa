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

/// The announcer index (validation, rendering and the topology use it) gives what scanning
/// every host gives: a haproxy service's balancers are the site's balancers of its group, in
/// name order; an anycast service's announcers are its nodes. For every service of the campus
/// example and of a generated site (several balancer groups, anycast).
#[test]
fn the_announcer_index_agrees_with_the_scans() {
    use svcintent_core::model::{Balancing, Host, Intent, Role, Service};
    use svcintent_core::plan::Announcers;
    fn balancers_of<'a>(intent: &'a Intent, svc: &Service) -> Vec<&'a Host> {
        let Some(h) = &svc.haproxy else {
            return Vec::new();
        };
        intent
            .hosts
            .values()
            .filter(|host| host.has(Role::Balancer) && host.group == h.group)
            .collect()
    }
    fn announcers_of<'a>(intent: &'a Intent, svc: &Service) -> Vec<&'a Host> {
        match svc.balancing {
            Balancing::Haproxy => balancers_of(intent, svc),
            Balancing::Anycast => svc
                .anycast
                .iter()
                .flat_map(|a| a.nodes.iter().filter_map(|n| intent.hosts.get(n)))
                .collect(),
        }
    }
    let campus = svcintent_tests::load_site(&svcintent_tests::repo_root().join("examples/campus"));
    for sources in [campus, svcintent_tests::generate::site(100, 40)] {
        let intent = svcintent_core::compile(&sources).intent.unwrap();
        let index = Announcers::new(&intent);
        let names = |hosts: &[&svcintent_core::model::Host]| -> Vec<String> {
            hosts.iter().map(|h| h.name.clone()).collect()
        };
        let mut announced = 0;
        for svc in intent.services.values() {
            let scanned = announcers_of(&intent, svc);
            assert_eq!(names(&index.of(svc)), names(&scanned), "{}", svc.name);
            assert_eq!(
                names(index.balancers(svc)),
                names(&balancers_of(&intent, svc)),
                "{}",
                svc.name
            );
            announced += usize::from(!scanned.is_empty());
        }
        assert!(announced > 0, "the sites have announced services");
    }
}
