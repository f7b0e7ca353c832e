//! The IEP's four join scenarios (docs/spec.md §1 step 5), each over many seeds.

use joinsim::{Event, JoinPhase, RejectionReason, RejectionStage};
use joinsim_sim::{NodeSpec, Sim};

use crate::support::*;

/// 1. An empty node enters a cluster where all nodes are empty: it becomes a physical member and
///    waits for init; after init it joins like the rest.
#[test]
fn scenario_1_empty_node_enters_all_empty_cluster() {
    for seed in seeds(1) {
        let report = Sim::new(seed).nodes(4).run(|w| async move {
            for l in ["n1", "n2", "n3"] {
                w.start(l);
            }
            wait_physical(&w, &["n1", "n2", "n3"]).await;
            w.start("n4");
            wait_physical(&w, &["n1", "n2", "n3", "n4"]).await;
            w.sleep_ms(2_000).await;
            // Before init: a physical member, waiting, holding no tag.
            let n4 = w.view("n4").unwrap();
            assert!(n4.in_topology);
            assert_eq!(n4.join, JoinPhase::Waiting);
            assert!(n4.local.is_none() && w.vault("n4").local.is_none());
            assert!(w.views().values().all(|v| !v.is_joined()));
            let tag = w
                .init("n2", params("c1", &["n1", "n2", "n3"], &[]))
                .await
                .expect("init succeeds");
            wait_joined(&w, &["n1", "n2", "n3", "n4"]).await;
            for l in ["n1", "n2", "n3", "n4"] {
                assert_eq!(
                    w.vault(l).local.unwrap().config.tag,
                    tag,
                    "{l} stores the tag"
                );
            }
            assert_eq!(
                leader_lt(&w).unwrap().1,
                vec!["n1", "n2", "n3", "n4"],
                "all four are in the LT"
            );
        });
        assert_lt_versions_agree(&report.trace);
    }
}

/// 2. An empty node enters an initialized cluster: discovered by the leader, validated, joins.
#[test]
fn scenario_2_empty_node_enters_initialized_cluster() {
    for seed in seeds(2) {
        let report = Sim::new(seed).nodes(4).run(|w| async move {
            let tag = form_cluster(&w, &["n1", "n2", "n3"], &["n1", "n2", "n3"]).await;
            let (before, _) = leader_lt(&w).unwrap();
            w.start("n4");
            wait_joined(&w, &["n4"]).await;
            let (after, members) = leader_lt(&w).unwrap();
            assert_eq!(after, before + 1);
            assert!(members.contains(&"n4".to_string()));
            assert_eq!(w.vault("n4").local.unwrap().config.tag, tag);
        });
        let events = events(&report.trace);
        let n4_launch = report.final_views["n4"].launch;
        // Validated by the CMG (on its replicas), then join ready, then in the LT.
        let validated = events.iter().position(|(_, e)| {
            matches!(e, Event::Validated { node, launch, .. } if node == "n4" && *launch == n4_launch)
        });
        let ready = events
            .iter()
            .position(|(n, e)| *n == "n4" && matches!(e, Event::JoinReadySent { .. }));
        let in_lt = events.iter().position(|(_, e)| {
            matches!(e, Event::LtChanged { members, .. } if members.iter().any(|(n, _)| n == "n4"))
        });
        assert!(validated.is_some() && ready.is_some() && in_lt.is_some());
        assert!(validated < ready && ready < in_lt, "seed {}", report.seed);
    }
}

/// 3. An initialized node enters a cluster where all nodes are empty: it passes pre-init, waits
///    for its old CMG; the empty nodes are then initialized as a new cluster; its join is rejected
///    (tag mismatch) while the empty nodes join; it never enters that cluster's LT.
#[test]
fn scenario_3_initialized_node_enters_all_empty_cluster() {
    for seed in seeds(3) {
        // x was a CMG member of an old cluster whose other members are gone.
        let old = restored("old", 0xA1, &["x", "gone1", "gone2"], 1, &[("x", 3)]);
        let sim = Sim::new(seed).nodes(3).node(
            NodeSpec::new("x")
                .seeds(&["n1"])
                .vault(old.vault_of("x", 1)),
        );
        let report = sim.run(|w| async move {
            w.start_all();
            wait_physical(&w, &["n1", "n2", "n3", "x"]).await;
            w.sleep_ms(3_000).await;
            let x = w.view("x").unwrap();
            assert!(x.halted.is_none(), "x passed pre-init and waits");
            assert_eq!(x.join, JoinPhase::Waiting);
            let tag = w
                .init("n1", params("new", &["n1", "n2", "n3"], &[]))
                .await
                .expect("the empty nodes initialize");
            wait_joined(&w, &["n1", "n2", "n3"]).await;
            w.wait_until("x rejected", 30_000, |w| w.halted(&["x"]))
                .await
                .unwrap();
            let rejection = w.view("x").unwrap().halted.unwrap();
            assert_eq!(rejection.stage, RejectionStage::Join);
            match rejection.reason {
                RejectionReason::TagMismatch { joiner, cluster } => {
                    assert_eq!(joiner, old.config.tag);
                    assert_eq!(cluster, tag);
                }
                other => panic!("unexpected reason {other:?}"),
            }
            // x keeps its old vault: an operator decides.
            assert_eq!(w.vault("x").local.unwrap().config.tag, old.config.tag);
        });
        for (_, e) in events(&report.trace) {
            if let Event::LtChanged { members, .. } = e {
                assert!(members.iter().all(|(n, _)| n != "x"), "x entered an LT");
            }
        }
    }
}

/// A restored cluster a, b, c at Meta Storage version Y = 3, plus node d restored with `x`
/// (its stored version X) and `tag_id` (0xC for the cluster's own tag).
fn scenario_4(
    seed: u64,
    x: u64,
    tag_id: u128,
    d_seed: &str,
) -> joinsim_sim::RunReport<Option<joinsim::Rejection>> {
    let addrs = [("a", 0), ("b", 1), ("c", 2), ("d", 3)];
    let cluster = restored("c4", 0xC, &["a", "b", "c"], 3, &addrs);
    let d_cluster = restored("c4", tag_id, &["a", "b", "c"], 3, &addrs);
    let sim = Sim::new(seed)
        .node(NodeSpec::new("a").vault(cluster.vault_of("a", 3)))
        .node(
            NodeSpec::new("b")
                .seeds(&["a"])
                .vault(cluster.vault_of("b", 3)),
        )
        .node(
            NodeSpec::new("c")
                .seeds(&["a"])
                .vault(cluster.vault_of("c", 3)),
        )
        .node(
            NodeSpec::new("d")
                .seeds(&[d_seed])
                .vault(d_cluster.vault_of("d", x)),
        );
    sim.run(|w| async move {
        for l in ["a", "b", "c"] {
            w.start(l);
        }
        wait_joined(&w, &["a", "b", "c"]).await;
        w.start("d");
        w.wait_until("d decided", 30_000, |w| {
            w.joined(&["d"]) || w.halted(&["d"])
        })
        .await
        .unwrap();
        let d = w.view("d").unwrap();
        if d.halted.is_none() {
            let vault = w.vault("d").local.unwrap();
            assert_eq!(vault.config.ms_version, 3, "d is brought up to Y");
            assert!(leader_lt(&w).unwrap().1.contains(&"d".to_string()));
        }
        d.halted
    })
}

/// 4a. X = Y: accepted.
#[test]
fn scenario_4_same_version_is_accepted() {
    for seed in seeds(41) {
        let report = scenario_4(seed, 3, 0xC, "a");
        assert_eq!(report.value, None, "seed {seed}: d is rejected");
    }
}

/// 4b. X < Y: accepted and brought up to Y.
#[test]
fn scenario_4_stale_version_is_accepted_and_caught_up() {
    for seed in seeds(42) {
        let report = scenario_4(seed, 1, 0xC, "a");
        assert_eq!(report.value, None, "seed {seed}: d is rejected");
        let accepted = events(&report.trace).into_iter().any(|(n, e)| {
            n == "d"
                && matches!(
                    e,
                    Event::JoinAccepted {
                        stored_ms_version: Some(1),
                        cluster_ms_version: 3,
                        ..
                    }
                )
        });
        assert!(accepted, "seed {seed}: d reported X = 1, Y = 3");
        let stored = events(&report.trace).into_iter().any(|(n, e)| {
            n == "d"
                && matches!(
                    e,
                    Event::MsVersionStored {
                        from: Some(1),
                        to: 3
                    }
                )
        });
        assert!(stored, "seed {seed}: d stored version 3");
    }
}

/// 4c. X > Y: rejected, the node saw a newer Meta Storage configuration.
#[test]
fn scenario_4_version_ahead_is_rejected() {
    for seed in seeds(43) {
        let report = scenario_4(seed, 5, 0xC, "a");
        let rejection = report.value.expect("d is rejected");
        assert_eq!(rejection.stage, RejectionStage::Join);
        assert_eq!(
            rejection.reason,
            RejectionReason::MsVersionAhead {
                joiner: 5,
                cluster: 3
            }
        );
        assert!(!report.final_views["a"]
            .lt()
            .unwrap()
            .members
            .contains_key("d"));
    }
}

/// 4d. Another tag: refused at pre-init when the contacted node knows the tag.
#[test]
fn scenario_4_other_tag_is_refused_at_pre_init() {
    for seed in seeds(44) {
        let report = scenario_4(seed, 3, 0xD, "a");
        let rejection = report.value.expect("d is refused");
        assert_eq!(rejection.stage, RejectionStage::PreInit);
        assert!(
            matches!(rejection.reason, RejectionReason::TagMismatch { .. }),
            "{rejection:?}"
        );
        let admitted = events(&report.trace)
            .into_iter()
            .any(|(_, e)| matches!(e, Event::Admitted { member, .. } if member == "d"));
        assert!(!admitted, "seed {seed}: d was admitted");
    }
}

/// 4d'. Another tag, through a node that does not know it (an empty node, before the cluster it
/// belongs to is initialized): rejected by the CMG.
#[test]
fn scenario_4_other_tag_is_rejected_by_the_cmg() {
    for seed in seeds(45) {
        let other = restored("c4", 0xD, &["a", "b", "c"], 3, &[]);
        let sim = Sim::new(seed).nodes(3).node(
            NodeSpec::new("d")
                .seeds(&["n2"])
                .vault(other.vault_of("d", 3)),
        );
        let report = sim.run(|w| async move {
            w.start_all();
            wait_physical(&w, &["n1", "n2", "n3", "d"]).await;
            w.init("n1", params("c4", &["n1", "n2", "n3"], &[]))
                .await
                .expect("init succeeds");
            wait_joined(&w, &["n1", "n2", "n3"]).await;
            w.wait_until("d rejected", 30_000, |w| w.halted(&["d"]))
                .await
                .unwrap();
            w.view("d").unwrap().halted.unwrap()
        });
        assert_eq!(report.value.stage, RejectionStage::Join);
        assert!(matches!(
            report.value.reason,
            RejectionReason::TagMismatch { .. }
        ));
    }
}
