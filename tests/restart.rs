//! Restarts of initialized nodes: a CMG node and a non-CMG node both rejoin with their new launch,
//! and all CMG replicas agree on the LT at every version.

use joinsim::{Event, JoinPhase};
use joinsim_sim::Sim;

use crate::support::*;

#[test]
fn restart_of_a_cmg_node_and_of_a_non_cmg_node() {
    for seed in seeds(30) {
        let report = Sim::new(seed).nodes(5).run(|w| async move {
            let tag = form_cluster(&w, &["n1", "n2", "n3", "n4", "n5"], &["n1", "n2", "n3"]).await;
            let old_n2 = w.view("n2").unwrap().launch;
            let old_n5 = w.view("n5").unwrap().launch;
            w.restart("n2");
            w.restart("n5");
            w.wait_until("restarted", 1_000, |w| {
                w.view("n2").is_some() && w.view("n5").is_some()
            })
            .await
            .unwrap();
            // Restarted from the vault: still initialized, replicas back.
            let n2 = w.view("n2").unwrap();
            assert_eq!(n2.local.as_ref().unwrap().config.tag, tag);
            assert!(n2.cmg.is_some() && n2.ms.is_some());
            assert_ne!(n2.launch, old_n2);
            wait_joined(&w, &["n2", "n5"]).await;
            let leader = cmg_leader(&w).unwrap();
            let lt = w.view(&leader).unwrap().lt().unwrap().clone();
            assert_eq!(lt.members["n2"].launch, w.view("n2").unwrap().launch);
            assert_eq!(lt.members["n5"].launch, w.view("n5").unwrap().launch);
            assert_ne!(lt.members["n5"].launch, old_n5);
            // Every CMG replica converges on the same LT.
            w.wait_until("replicas agree", 10_000, |w| {
                ["n1", "n2", "n3"]
                    .iter()
                    .all(|l| w.view(l).and_then(|v| v.lt().cloned()).as_ref() == Some(&lt))
            })
            .await
            .unwrap();
            assert!(matches!(
                w.view("n5").unwrap().join,
                JoinPhase::Joined { .. }
            ));
        });
        assert_lt_versions_agree(&report.trace);
        let from_vault = events(&report.trace)
            .into_iter()
            .filter(|(n, e)| {
                *n == "n2"
                    && matches!(
                        e,
                        Event::GroupStarted {
                            from_vault: true,
                            ..
                        }
                    )
            })
            .count();
        assert_eq!(
            from_vault, 2,
            "seed {seed}: n2 restarted its CMG and MS replicas from the vault"
        );
    }
}
