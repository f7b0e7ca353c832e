//! The world's controls do what they say: a partitioned node is removed from the LT and rejoins
//! after the heal; a one-way cut is one-way; a wiped node comes back empty and joins again.

use joinsim::{Event, JoinPhase};
use joinsim_sim::Sim;

use crate::support::*;

#[test]
fn partition_removes_a_node_and_heal_brings_it_back() {
    for seed in seeds(70) {
        let report = Sim::new(seed).nodes(4).run(|w| async move {
            form_cluster(&w, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]).await;
            w.partition(&[&["n4"], &["n1", "n2", "n3"]]);
            w.wait_until("n4 out of the LT", 20_000, |w| {
                leader_lt(w).is_some_and(|(_, m)| !m.contains(&"n4".to_string()))
            })
            .await
            .unwrap();
            w.heal();
            assert!(w.cut_links().is_empty());
            w.wait_until("n4 back in the LT", 20_000, |w| {
                leader_lt(w).is_some_and(|(_, m)| m.contains(&"n4".to_string()))
            })
            .await
            .unwrap();
            wait_joined(&w, &["n4"]).await;
        });
        assert_lt_versions_agree(&report.trace);
    }
}

#[test]
fn one_way_cut_blocks_one_direction_only() {
    for seed in seeds(71) {
        Sim::new(seed).nodes(3).run(|w| async move {
            form_cluster(&w, &["n1", "n2", "n3"], &["n1", "n2", "n3"]).await;
            // n3 hears nobody: it keeps sending probes, but every answer is cut.
            w.partition_oneway("n1", "n3");
            w.partition_oneway("n2", "n3");
            w.wait_until("n3 lost its members", 10_000, |w| {
                w.view("n3").is_some_and(|v| v.physical.len() == 1)
            })
            .await
            .unwrap();
            // The others still hear n3 (its probes arrive), so they keep it.
            assert!(w
                .view("n1")
                .unwrap()
                .physical
                .iter()
                .any(|(n, _)| n == "n3"));
            w.heal();
        });
    }
}

#[test]
fn a_wiped_node_comes_back_empty_and_joins_again() {
    for seed in seeds(72) {
        let report = Sim::new(seed).nodes(4).run(|w| async move {
            let tag = form_cluster(&w, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]).await;
            w.wipe("n4");
            assert!(!w.is_running("n4"));
            assert_eq!(w.vault("n4"), joinsim::Vault::empty());
            w.start("n4");
            w.wait_until("n4 up", 1_000, |w| w.view("n4").is_some())
                .await
                .unwrap();
            assert!(w.view("n4").unwrap().local.is_none());
            wait_joined(&w, &["n4"]).await;
            assert_eq!(w.vault("n4").local.unwrap().config.tag, tag);
            assert!(matches!(
                w.view("n4").unwrap().join,
                JoinPhase::Joined { .. }
            ));
        });
        let empty_restart = events(&report.trace)
            .into_iter()
            .filter(|(n, e)| *n == "n4" && matches!(e, Event::Started { tag: None, .. }))
            .count();
        assert_eq!(empty_restart, 2, "seed {seed}: n4 started empty twice");
    }
}

#[test]
fn a_node_moved_to_a_new_address_rejoins_under_its_name() {
    for seed in seeds(73) {
        let report = Sim::new(seed).nodes(4).run(|w| async move {
            form_cluster(&w, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]).await;
            let old = w.addr("n4");
            let new = w.move_node("n4");
            assert_ne!(old, new);
            assert_eq!(w.addr("n4"), new);
            w.wait_until("n4 back in the LT at its new address", 30_000, |w| {
                w.joined(&["n4"])
                    && ["n1", "n2", "n3"].iter().all(|l| {
                        w.view(l).is_some_and(|v| {
                            v.lt().is_some_and(|lt| {
                                lt.members.get("n4").is_some_and(|m| m.addr == new)
                            })
                        })
                    })
            })
            .await
            .unwrap();
        });
        assert_lt_versions_agree(&report.trace);
    }
}
