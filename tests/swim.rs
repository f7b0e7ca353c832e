//! SWIM, the opt-in failure detector (`FailureDetector::Swim`, docs/protocol.md "Failure
//! detection"): a cluster forms and joins with it, a killed member leaves every view, no live
//! member is removed, and it sends far fewer messages than all pairs as the cluster grows.

use joinsim::{FailureDetector, Timing};
use joinsim_sim::{run_demo_detecting, Sim};

use crate::support::*;

fn swim() -> Timing {
    Timing {
        failure_detector: FailureDetector::Swim,
        ..Timing::default()
    }
}

#[test]
fn the_demo_joins_every_node_with_swim() {
    for seed in seeds(93) {
        let report = run_demo_detecting(seed, 12, FailureDetector::Swim);
        assert!(
            report.value.init.is_ok(),
            "seed {seed}: {:?}",
            report.value.init
        );
        assert!(
            report.value.all_joined,
            "seed {seed}: not every node joined"
        );
    }
}

#[test]
fn a_killed_member_leaves_every_view_and_the_live_ones_stay() {
    for seed in seeds(94) {
        Sim::new(seed)
            .nodes(8)
            .timing(swim())
            .run(move |w| async move {
                let labels: Vec<String> = (1..=8).map(|i| format!("n{i}")).collect();
                w.start_all();
                let all = labels.clone();
                w.wait_until("views formed", 20_000, move |w| {
                    all.iter()
                        .all(|l| w.view(l).is_some_and(|v| v.physical.len() == 8))
                })
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
                w.kill("n3");
                let rest: Vec<String> = labels.iter().filter(|l| *l != "n3").cloned().collect();
                let gone = rest.clone();
                // The bound of docs/protocol.md ("SWIM, opt-in"): the slowest member reaches
                // n3 within 2 × (n − 1) periods of its last probe there, and its suspicion then
                // runs `failure_timeout_ms`: (2n − 1) × probe_interval_ms + failure_timeout_ms,
                // n = 8 (plus a tick); gossip is usually much faster.
                let bound_ms =
                    15 * swim().probe_interval_ms + swim().failure_timeout_ms + swim().tick_ms;
                w.wait_until("n3 left every view", bound_ms, move |w| {
                    gone.iter().all(|l| {
                        w.view(l)
                            .is_some_and(|v| v.physical.iter().all(|(name, _)| name != "n3"))
                    })
                })
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
                // Calm network: nobody else was removed.
                for label in &rest {
                    let view = w.view(label).unwrap();
                    assert_eq!(
                        view.physical.len(),
                        7,
                        "seed {seed}: {label}: {:?}",
                        view.physical
                    );
                }
            });
    }
}

/// Deliveries in 10 s of simulated time of a formed 50-node physical topology (no init: the
/// failure detector's own traffic) under `detector`.
fn steady_deliveries(detector: FailureDetector) -> u64 {
    const NODES: usize = 50;
    let timing = Timing {
        failure_detector: detector,
        ..Timing::default()
    };
    Sim::new(1)
        .nodes(NODES)
        .timing(timing)
        .run(move |w| async move {
            w.start_all();
            w.wait_until("views formed", 60_000, move |w| {
                (1..=NODES).all(|i| {
                    w.view(&format!("n{i}"))
                        .is_some_and(|v| v.physical.len() == NODES)
                })
            })
            .await
            .expect("the topology forms");
            let before: u64 = w.deliveries_by_kind().values().sum();
            w.sleep_ms(10_000).await;
            let after: u64 = w.deliveries_by_kind().values().sum();
            after - before
        })
        .value
}

#[test]
fn swim_sends_far_fewer_messages_than_all_pairs_at_fifty_nodes() {
    // Whole demos no longer compare: at 50 nodes a demo is over in about a second of simulated
    // time, mostly the joins' own traffic. The detectors differ in what a formed topology sends
    // every second.
    let all_pairs = steady_deliveries(FailureDetector::AllPairs);
    let swim = steady_deliveries(FailureDetector::Swim);
    assert!(
        swim * 4 < all_pairs,
        "swim {swim} against all pairs {all_pairs} deliveries in 10 s"
    );
}
