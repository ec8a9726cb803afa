//! `rollout`: the batches a change to the campus site is applied in, and the guard that refuses
//! a change leaving a VIP with fewer announcers than its minimum at any moment.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeSet;

use svcintent_core::rollout::{Fleet, HostState, Options, Rollout, StateFile, plan};
use svcintent_core::{Sources, build};
use svcintent_tests::{load_site, repo_root};

fn campus() -> Sources {
    load_site(&repo_root().join("examples/campus"))
}

fn edited(sources: &Sources, path: &str, edit: impl Fn(&str) -> String) -> Sources {
    svcintent_tests::edited(sources, path, edit)
}

fn fleet(sources: &Sources) -> Fleet {
    let (built, diagnostics) = build(sources);
    let built = built.unwrap_or_else(|| panic!("does not build: {diagnostics:?}"));
    Fleet::from_manifest(&built.output.manifest)
}

fn rollout(old: &Sources, new: &Sources, allow: &[&str]) -> Rollout {
    let options = Options {
        allow_withdraw: allow.iter().map(|s| (*s).to_owned()).collect(),
        max_batch: 0,
    };
    plan(&fleet(old), &fleet(new), &options)
}

/// The batch index of each host.
fn batch_of(r: &Rollout, host: &str) -> usize {
    r.batches
        .iter()
        .position(|b| b.iter().any(|h| h == host))
        .unwrap_or_else(|| panic!("{host} is in no batch: {:?}", r.batches))
}

fn all_batched(r: &Rollout) -> BTreeSet<&str> {
    r.batches.iter().flatten().map(String::as_str).collect()
}

fn set_host(text: &str, host: &str, extra: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with(&format!("{host}:")) && line.contains('}') {
            out.push_str(&line.replacen(" }", &format!(", {extra} }}"), 1));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn nothing_changes_nothing_to_apply() {
    let r = rollout(&campus(), &campus(), &[]);
    assert!(r.ok, "{r:?}");
    assert!(r.batches.is_empty(), "{:?}", r.batches);
    assert_eq!(r.unchanged.len(), 18);
}

#[test]
fn draining_one_balancer_applies_it_first_and_monitoring_last() {
    let new = edited(&campus(), "hosts.yaml", |t| {
        set_host(t, "lb2", "drain: true")
    });
    let r = rollout(&campus(), &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    // lb2 withdraws; the monitoring host (a downtime for lb2) checks the new state once it exists.
    assert_eq!(r.batches, [["lb2"], ["mon1"]], "{:?}", r.batches);
    let step = &r.hosts["lb2"];
    assert!(
        step.withdraws
            .iter()
            .any(|p| p.to_string() == "192.0.2.10/32")
    );
    assert!(
        r.statements
            .iter()
            .any(|c| c.summary == "withdraws www (192.0.2.10, 2001:db8:100::10) from lb2"),
        "{:?}",
        r.statements
    );
}

#[test]
fn moving_a_drain_from_one_balancer_to_another_undrains_first() {
    // Old: lb1 drained (with lb3), lb2 announces. New: lb2 drained, lb1 undrained. Each
    // generation is valid; draining lb2 first would leave nobody announcing.
    let old = edited(&campus(), "hosts.yaml", |t| {
        set_host(t, "lb1", "drain: true")
    });
    let new = edited(&campus(), "hosts.yaml", |t| {
        set_host(t, "lb2", "drain: true")
    });
    let r = rollout(&old, &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    assert!(
        batch_of(&r, "lb1") < batch_of(&r, "lb2"),
        "lb2 withdraws before lb1 announces: {:?}",
        r.batches
    );
}

#[test]
fn a_change_below_the_minimum_is_refused_even_when_each_step_looks_harmless() {
    let site = |s: &Sources| {
        edited(s, "site.yaml", |t| {
            t.replacen("site:\n", "site:\n  deploy: { min_announcers: 2 }\n", 1)
        })
    };
    // www is announced by lb1 and lb2 (lb3 is drained): draining lb1 leaves one.
    let old = site(&campus());
    let new = edited(&old, "hosts.yaml", |t| set_host(t, "lb1", "drain: true"));
    let r = rollout(&old, &new, &[]);
    assert!(!r.ok);
    assert!(r.batches.is_empty(), "a refused rollout has no batches");
    let www = r
        .refusals
        .iter()
        .find(|f| f.service.as_deref() == Some("www"))
        .unwrap_or_else(|| panic!("no refusal for www: {:?}", r.refusals));
    assert!(
        www.summary
            .contains("would be announced by lb2 after the change (now lb1, lb2)")
            && www.summary.contains("minimum of 2")
            && www.summary.contains("--allow-withdraw www"),
        "{}",
        www.summary
    );
    // Named as intended, it runs.
    let every = [
        "www",
        "intranet",
        "library",
        "moodle",
        "status",
        "imaps",
        "submission",
        "ldaps",
        "ldap",
    ];
    let r = rollout(&old, &new, &every);
    assert!(r.ok, "{:?}", r.refusals);
}

#[test]
fn removing_a_service_needs_allow_withdraw() {
    let new = edited(&campus(), "services/infra.yaml", |t| {
        let start = t.find("  resolver:").unwrap();
        t[..start].to_owned()
    });
    let r = rollout(&campus(), &new, &[]);
    assert!(!r.ok);
    assert!(
        r.refusals
            .iter()
            .all(|f| f.service.as_deref() == Some("resolver")),
        "{:?}",
        r.refusals
    );
    let r = rollout(&campus(), &new, &["resolver"]);
    assert!(r.ok, "{:?}", r.refusals);
    assert!(all_batched(&r).contains("dns1") && all_batched(&r).contains("dns2"));
    // Both nodes withdraw, so nothing keeps them apart but the service's max_in_flight... of a
    // service that no longer needs announcers: they may go together.
    assert!(
        r.statements
            .iter()
            .any(|c| c.summary.contains("as --allow-withdraw resolver allows")),
        "{:?}",
        r.statements
    );
}

#[test]
fn balancers_of_a_group_never_fly_together_and_backends_serve_first() {
    // A new service on the default group with a new backend port on web1 and web2.
    let new = edited(&campus(), "services/web.yaml", |t| {
        format!(
            "{t}\n  wiki:\n    extends: https-web\n    vips: [192.0.2.15, \"2001:db8:100::15\"]\n    backend_port: 8099\n    backends: [web1, web2]\n    web:\n      server_names: [wiki.example.edu]\n      document_root: /srv/www/wiki\n"
        )
    });
    let r = rollout(&campus(), &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    let (lb1, lb2) = (batch_of(&r, "lb1"), batch_of(&r, "lb2"));
    assert_ne!(
        lb1, lb2,
        "two balancers of a group in one batch: {:?}",
        r.batches
    );
    // wiki is new on the balancers: announced only once HAProxy finds a usable server, so the
    // backends need not go first.
    assert!(
        !r.statements
            .iter()
            .any(|c| c.summary.contains(" waits for ")),
        "{:?}",
        r.statements
    );
    // Route reflectors learn the new VIP's entitlement; they too go one at a time.
    assert_ne!(batch_of(&r, "rr1"), batch_of(&r, "rr2"));
    // The monitoring host comes last.
    assert_eq!(batch_of(&r, "mon1"), r.batches.len() - 1, "{:?}", r.batches);
}

#[test]
fn a_backend_serves_before_live_balancers_send_to_it_and_stops_after() {
    // intranet (announced by lb1, lb2) gains web3 and loses web2.
    let new = edited(&campus(), "services/web.yaml", |t| {
        t.replacen(
            "    allow: [198.18.0.0/15, \"2001:db8:ff::/48\"]\n    backends: [web1, web2]",
            "    allow: [198.18.0.0/15, \"2001:db8:ff::/48\"]\n    backends: [web1, web3]",
            1,
        )
    });
    let r = rollout(&campus(), &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    for lb in ["lb1", "lb2"] {
        assert!(
            batch_of(&r, "web3") < batch_of(&r, lb),
            "web3 must serve intranet before {lb} sends to it: {:?}",
            r.batches
        );
        assert!(
            batch_of(&r, lb) < batch_of(&r, "web2"),
            "{lb} must stop sending intranet to web2 before web2 stops serving it: {:?}",
            r.batches
        );
    }
    assert!(
        r.statements
            .iter()
            .any(|c| c.summary == "lb1 waits for web3: web3 serves intranet on 8080 first"),
        "{:?}",
        r.statements
    );
}

#[test]
fn max_in_flight_lets_balancers_go_together() {
    let site = |s: &Sources| {
        edited(s, "site.yaml", |t| {
            t.replacen("site:\n", "site:\n  deploy: { max_in_flight: 3 }\n", 1)
        })
    };
    let old = site(&campus());
    let new = edited(&old, "services/web.yaml", |t| {
        t.replacen("balance: source", "balance: leastconn", 1)
    });
    let r = rollout(&old, &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    assert_eq!(batch_of(&r, "lb1"), batch_of(&r, "lb2"), "{:?}", r.batches);
}

#[test]
fn a_vip_moving_to_another_group_is_announced_there_before_it_is_withdrawn() {
    // Two balancers in a new group `edge`; www moves there.
    let old = edited(&campus(), "hosts.yaml", |t| {
        t.replacen(
            "  kdc1:",
            "  lb4:   { roles: [balancer], group: edge, ipv4: 198.18.1.4, ipv6: \"2001:db8:ff:1::4\" }\n  lb5:   { roles: [balancer], group: edge, ipv4: 198.18.1.5, ipv6: \"2001:db8:ff:1::5\" }\n\n  kdc1:",
            1,
        )
    });
    let new = edited(&old, "services/web.yaml", |t| {
        t.replacen(
            "    description: Main university website\n",
            "    description: Main university website\n    group: edge\n",
            1,
        )
    });
    let r = rollout(&old, &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    // With a minimum of one, one old balancer may withdraw early; the last one waits until an
    // edge balancer announces www.
    let first_new = batch_of(&r, "lb4").min(batch_of(&r, "lb5"));
    let last_old = batch_of(&r, "lb1").max(batch_of(&r, "lb2"));
    assert!(
        last_old > first_new,
        "www unannounced in between: {:?}",
        r.batches
    );
    // With a minimum of two, both edge balancers announce before either old one withdraws.
    let two = |s: &Sources| {
        edited(s, "services/web.yaml", |t| {
            t.replacen(
                "    description: Main university website\n",
                "    description: Main university website\n    deploy: { min_announcers: 2 }\n",
                1,
            )
        })
    };
    let r = rollout(&two(&old), &two(&new), &[]);
    assert!(r.ok, "{:?}", r.refusals);
    // Checked independently of the planner: while each batch is in flight, count the old
    // balancers not yet applied and the edge balancers already applied.
    for (k, batch) in r.batches.iter().enumerate() {
        let applied = |h: &str| r.batches[..k].iter().flatten().any(|b| b == h);
        let flying = |h: &str| batch.iter().any(|b| b == h);
        let live = ["lb1", "lb2"]
            .into_iter()
            .filter(|h| !applied(h) && !flying(h))
            .chain(["lb4", "lb5"].into_iter().filter(|h| applied(h)))
            .count();
        assert!(
            live >= 2,
            "www by {live} balancer(s) during batch {k}: {:?}",
            r.batches
        );
    }
}

#[test]
fn a_first_deployment_applies_every_host_and_keeps_groups_apart() {
    let new = fleet(&campus());
    let r = plan(&Fleet::default(), &new, &Options::default());
    assert!(r.ok, "{:?}", r.refusals);
    assert_eq!(all_batched(&r).len(), 18);
    assert_ne!(batch_of(&r, "lb1"), batch_of(&r, "lb2"));
    assert_ne!(batch_of(&r, "kdc1"), batch_of(&r, "kdc2"));
}

#[test]
fn host_states_say_what_each_host_runs() {
    // lb1 already runs the new generation (an earlier rollout stopped after it): only the
    // hosts still on the old one are applied.
    let old_sources = campus();
    let new_sources = edited(&campus(), "services/web.yaml", |t| {
        t.replacen("balance: source", "balance: leastconn", 1)
    });
    let (old_built, _) = build(&old_sources);
    let (new_built, _) = build(&new_sources);
    let (old_m, new_m) = (
        old_built.unwrap().output.manifest,
        new_built.unwrap().output.manifest,
    );
    let state = |m: &svcintent_core::render::Manifest, host: &str| HostState {
        format: svcintent_core::rollout::HOST_STATE_FORMAT,
        site: m.site.clone(),
        host: host.to_owned(),
        generator: m.generator.clone(),
        manifest_sha256: String::new(),
        facts: m.hosts[host].clone(),
        services: m.services.clone(),
        files: m
            .files
            .iter()
            .filter(|f| f.host == host)
            .map(|f| StateFile {
                path: f.host_path.clone(),
                sha256: f.sha256.clone(),
                target: f.target,
                state: f.state,
            })
            .collect(),
    };
    let states: Vec<HostState> = new_m
        .hosts
        .keys()
        .map(|h| {
            if h == "lb1" {
                state(&new_m, h)
            } else {
                state(&old_m, h)
            }
        })
        .collect();
    let r = plan(
        &Fleet::from_states(&states),
        &Fleet::from_manifest(&new_m),
        &Options::default(),
    );
    assert!(r.ok, "{:?}", r.refusals);
    let batched = all_batched(&r);
    assert!(!batched.contains("lb1"), "{:?}", r.batches);
    assert!(batched.contains("lb2"), "{:?}", r.batches);
}

#[test]
fn removing_an_announcing_host_is_refused_until_it_is_drained() {
    let new = edited(&campus(), "hosts.yaml", |t| {
        t.lines()
            .filter(|l| !l.trim_start().starts_with("kdc2:"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    let new = edited(&new, "services/infra.yaml", |t| {
        t.replacen("nodes: [kdc1, kdc2]", "nodes: [kdc1]", 1)
    });
    let r = rollout(&campus(), &new, &[]);
    assert!(!r.ok);
    assert!(
        r.refusals.iter().any(|f| f
            .summary
            .starts_with("kdc2 leaves the site while it announces")),
        "{:?}",
        r.refusals
    );
}

fn with_max_in_flight(sources: &Sources, n: u8) -> Sources {
    edited(sources, "site.yaml", |t| {
        t.replacen(
            "site:\n",
            &format!("site:\n  deploy: {{ max_in_flight: {n} }}\n"),
            1,
        )
    })
}

#[test]
fn new_router_ids_restart_an_announcers_sessions_so_a_group_never_flies_together() {
    // BIRD restarts every BGP session when the router id changes: every VIP of the host is
    // withdrawn and announced again. Two balancers restarting in one batch would withdraw www
    // from everywhere at once, though max_in_flight allows three.
    let old = with_max_in_flight(&campus(), 3);
    let mut new = old.clone();
    for (i, h) in ["lb1", "lb2", "kdc1", "kdc2"].into_iter().enumerate() {
        new = edited(&new, "hosts.yaml", |t| {
            set_host(t, h, &format!("router_id: 10.255.0.{}", i + 1))
        });
    }
    let r = rollout(&old, &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    for (a, b) in [("lb1", "lb2"), ("kdc1", "kdc2")] {
        assert_ne!(batch_of(&r, a), batch_of(&r, b), "{a} {b}: {:?}", r.batches);
        for h in [a, b] {
            let what = r.hosts[h].bird_restarts.as_deref().unwrap_or_default();
            assert!(what.contains("router id"), "{h}: {what:?}");
        }
    }
    assert!(
        r.statements.iter().any(|s| s
            .summary
            .starts_with("lb1: BIRD restarts every BGP session")),
        "{:?}",
        r.statements
    );
}

#[test]
fn a_new_anycast_prefix_restarts_nothing_so_a_group_may_fly_together() {
    // Only filters change (re-fed on configure); `svcintent_vips` imports all of `lo` whatever
    // the prefixes, so its configuration does not change either.
    let old = with_max_in_flight(&campus(), 3);
    let new = edited(&old, "site.yaml", |t| {
        t.replacen(
            "anycast_prefixes: [192.0.2.0/24,",
            "anycast_prefixes: [192.0.2.0/24, 198.51.100.0/24,",
            1,
        )
    });
    let r = rollout(&old, &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    assert!(all_batched(&r).contains("lb1"), "{:?}", r.batches);
    assert!(
        r.hosts.values().all(|h| h.bird_restarts.is_none()),
        "{:?}",
        r.hosts
    );
    assert_eq!(batch_of(&r, "lb1"), batch_of(&r, "lb2"), "{:?}", r.batches);
}

#[test]
fn a_reflectors_new_router_id_restarts_its_sessions_and_the_others_cluster_id() {
    // rr1's router id is also the site's cluster id (none is set): both reflectors restart
    // their sessions, so they never fly together and each, in flight, accepts nothing.
    let old = with_max_in_flight(&campus(), 3);
    let new = edited(&old, "hosts.yaml", |t| {
        set_host(t, "rr1", "router_id: 198.18.0.101")
    });
    let r = rollout(&old, &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    assert_ne!(batch_of(&r, "rr1"), batch_of(&r, "rr2"), "{:?}", r.batches);
    let rr1 = r.hosts["rr1"].bird_restarts.as_deref().unwrap_or_default();
    assert!(rr1.contains("router id"), "{rr1:?}");
    let rr2 = r.hosts["rr2"].bird_restarts.as_deref().unwrap_or_default();
    assert!(rr2.contains("BGP session(s) with"), "{rr2:?}");
    // The clients' side of those sessions does not change: they are not even applied.
    assert!(!all_batched(&r).contains("lb1"), "{:?}", r.batches);
}

#[test]
fn a_state_recorded_before_restart_facts_were_kept_expects_a_restart() {
    // A host record written by an older svcintent has no router id or local AS facts: the rollout cannot know BIRD keeps its sessions, so it expects them to restart.
    let sources = with_max_in_flight(&campus(), 3);
    let (built, _) = build(&sources);
    let manifest = built.unwrap().output.manifest;
    let mut old_record = serde_json::to_value(&manifest.hosts["lb1"]).unwrap();
    let facts = old_record.as_object_mut().unwrap();
    facts.remove("router_id");
    for s in facts["sessions"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("local_as");
    }
    let old_facts: svcintent_core::plan::facts::HostFacts =
        serde_json::from_value(old_record).unwrap();
    let new_facts = &manifest.hosts["lb1"];
    assert_eq!(
        svcintent_core::plan::facts::bird_restarts(new_facts, new_facts),
        None
    );
    let what = svcintent_core::plan::facts::bird_restarts(&old_facts, new_facts);
    assert!(
        what.as_deref()
            .is_some_and(|w| w.contains("every BGP session")),
        "{what:?}"
    );
}

#[test]
fn removing_a_reflector_ends_its_clients_sessions_so_a_group_never_flies_together() {
    // Every client loses its session to rr2 and the routes it carried; the reflectors' facts
    // alone would still count rr1's acceptance, so a client in flight counts for nothing.
    let old = with_max_in_flight(&campus(), 3);
    let new = edited(&old, "hosts.yaml", |t| {
        t.lines()
            .filter(|l| !l.trim_start().starts_with("rr2:"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    let r = rollout(&old, &new, &[]);
    assert!(r.ok, "{:?}", r.refusals);
    assert_ne!(batch_of(&r, "lb1"), batch_of(&r, "lb2"), "{:?}", r.batches);
    let what = r.hosts["lb1"].bird_restarts.as_deref().unwrap_or_default();
    assert_eq!(
        what, "ends the BGP session(s) with rr2",
        "{:?}",
        r.hosts["lb1"]
    );
}
