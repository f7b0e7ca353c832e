//! A CMG leader crash between a node's validation and its join ready: the node still joins,
//! because the validated set is replicated.

use joinsim::{JoinPhase, MessageKind};
use joinsim_sim::{MessageFilter, Sim};

use crate::support::*;

#[test]
fn leader_crash_between_validation_and_join_ready() {
    for seed in seeds(20) {
        let report = Sim::new(seed).nodes(4).run(|w| async move {
            form_cluster(&w, &["n1", "n2", "n3"], &["n1", "n2", "n3"]).await;
            let leader = cmg_leader(&w).expect("a CMG leader");
            let hold = w.hold(MessageFilter::kind(MessageKind::JoinReady).from("n4"), None);
            w.start("n4");
            w.wait_until("n4 validated", 30_000, |w| {
                w.view("n4").is_some_and(|v| v.join == JoinPhase::ReadySent)
            })
            .await
            .unwrap();
            // n4 is in the validated set on the replicas, not in the LT.
            let replicas = w.view(&leader).unwrap().cmg_state.unwrap();
            assert!(replicas.validated.contains_key("n4"));
            assert!(!replicas.lt.members.contains_key("n4"));
            w.kill(&leader);
            w.release(hold);
            wait_joined(&w, &["n4"]).await;
            let new_leader = cmg_leader(&w).expect("a new leader");
            assert_ne!(new_leader, leader);
            assert!(leader_lt(&w).unwrap().1.contains(&"n4".to_string()));
        });
        assert_lt_versions_agree(&report.trace);
    }
}
