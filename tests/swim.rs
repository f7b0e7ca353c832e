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

#[test]
fn swim_sends_far_fewer_messages_than_all_pairs_at_fifty_nodes() {
    let all_pairs = run_demo_detecting(1, 50, FailureDetector::AllPairs);
    let swim = run_demo_detecting(1, 50, FailureDetector::Swim);
    assert!(all_pairs.value.all_joined && swim.value.all_joined);
    assert!(
        swim.deliveries * 2 < all_pairs.deliveries,
        "swim {} against all pairs {} deliveries",
        swim.deliveries,
        all_pairs.deliveries
    );
}
