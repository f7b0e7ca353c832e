//! Node leave by CMG command when a member is declared dead, and a Meta Storage reconfiguration
//! followed by a stale node's rejoin (X < Y).

use joinsim::{AdminOutcome, Event};
use joinsim_sim::Sim;

use crate::support::*;

#[test]
fn a_dead_member_leaves_the_logical_topology() {
    for seed in seeds(50) {
        let report = Sim::new(seed).nodes(4).run(|w| async move {
            form_cluster(&w, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]).await;
            let (version, _) = leader_lt(&w).unwrap();
            w.kill("n4");
            w.wait_until("n4 left the LT", 20_000, |w| {
                leader_lt(w).is_some_and(|(_, m)| !m.contains(&"n4".to_string()))
            })
            .await
            .unwrap();
            assert_eq!(leader_lt(&w).unwrap().0, version + 1);
        });
        assert_lt_versions_agree(&report.trace);
    }
}

#[test]
fn ms_reconfiguration_then_stale_node_rejoins_and_catches_up() {
    for seed in seeds(51) {
        let report = Sim::new(seed).nodes(5).run(|w| async move {
            form_cluster(&w, &["n1", "n2", "n3", "n4", "n5"], &["n1", "n2", "n3"]).await;
            assert_eq!(w.vault("n5").local.unwrap().config.ms_version, 1);
            w.kill("n5");
            w.wait_until("n5 left the LT", 20_000, |w| {
                leader_lt(w).is_some_and(|(_, m)| !m.contains(&"n5".to_string()))
            })
            .await
            .unwrap();
            let outcome = w
                .reconfigure_ms("n4", &["n1", "n2", "n4"])
                .await
                .expect("reconfiguration succeeds");
            assert_eq!(
                outcome,
                AdminOutcome::MsReconfigured {
                    version: 2,
                    nodes: vec!["n1".into(), "n2".into(), "n4".into()]
                }
            );
            // The MS group's voters changed.
            let n4 = w.view("n4").unwrap();
            w.wait_until("n4 is an MS voter", 10_000, |w| {
                w.view("n4").unwrap().ms.unwrap().voters == vec!["n1", "n2", "n4"]
            })
            .await
            .unwrap();
            assert!(n4.ms_state.is_some());
            // n5 still holds X = 1; the cluster holds Y = 2.
            assert_eq!(w.vault("n5").local.unwrap().config.ms_version, 1);
            w.start("n5");
            wait_joined(&w, &["n5"]).await;
            let vault = w.vault("n5").local.unwrap();
            assert_eq!(vault.config.ms_version, 2, "n5 is brought up to Y");
            assert_eq!(vault.config.ms_nodes, vec!["n1", "n2", "n4"]);
        });
        // n5 came back stale (X = 1 against Y = 2) and moved to version 2: either it asked to
        // join with X = 1 and was brought up to Y, or its Meta Storage replica, which follows the
        // log from its start (docs/protocol.md, "Restart"), caught up before its join request.
        let events = events(&report.trace);
        let asked_stale = events.iter().any(|(n, e)| {
            *n == "n5"
                && matches!(
                    e,
                    Event::JoinRequestSent {
                        stored: Some((_, 1)),
                        ..
                    }
                )
        });
        let n5_events: Vec<&Event> = events
            .iter()
            .filter(|(n, _)| *n == "n5")
            .map(|(_, e)| *e)
            .collect();
        let caught_up_first = n5_events
            .iter()
            .position(|e| {
                matches!(
                    e,
                    Event::MsVersionStored {
                        from: Some(1),
                        to: 2
                    }
                )
            })
            .zip(n5_events.iter().position(|e| {
                matches!(
                    e,
                    Event::JoinRequestSent {
                        stored: Some(_),
                        ..
                    }
                )
            }))
            .is_some_and(|(stored, asked)| stored < asked);
        let caught_up = events.iter().any(|(n, e)| {
            *n == "n5"
                && matches!(
                    e,
                    Event::MsVersionStored {
                        from: Some(1),
                        to: 2
                    }
                )
        });
        assert!(
            asked_stale || caught_up_first,
            "seed {seed}: n5 neither asked with X = 1 nor caught up from the log first"
        );
        assert!(caught_up, "seed {seed}");
    }
}

/// A graceful stop (`World::leave`) takes the node out of every CMG replica's LT well before
/// failure detection would (a quarter of `failure_timeout_ms`), whether it is a plain member, a
/// CMG voter or the CMG leader; it restarts and rejoins.
#[test]
fn a_node_that_leaves_gracefully_is_out_of_the_lt_before_failure_detection() {
    for (i, seed) in seeds(53).enumerate() {
        let leaver = ["n4", "n2", "leader"][i % 3];
        Sim::new(seed).nodes(4).run(move |w| async move {
            form_cluster(&w, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]).await;
            let label = if leaver == "leader" {
                cmg_leader(&w).expect("a CMG leader")
            } else {
                leaver.to_string()
            };
            let bound_ms = w.timing().failure_timeout_ms / 4;
            w.leave(&label);
            assert!(!w.is_running(&label));
            let others: Vec<String> = ["n1", "n2", "n3", "n4"]
                .iter()
                .map(|l| l.to_string())
                .filter(|l| *l != label)
                .collect();
            w.wait_until("the leaver out of every LT", bound_ms, |w| {
                others.iter().all(|l| {
                    w.view(l).is_some_and(|v| {
                        v.lt()
                            .is_none_or(|lt| !lt.members.contains_key(label.as_str()))
                    })
                })
            })
            .await
            .unwrap_or_else(|e| panic!("{label} left gracefully: {e}"));
            w.start(&label);
            wait_joined(&w, &["n1", "n2", "n3", "n4"]).await;
        });
    }
}
