//! Storage faults on the vault (sim/src/storage.rs): a write torn by a crash is refused at the
//! next start with a clear error and the node starts from the records before it; a crash after a
//! write makes nothing more of that output real; a power loss kills the node; in each case the
//! node rejoins and no invariant breaks.

use joinsim_sim::storage::StorageFault;
use joinsim_sim::trace::{HarnessEvent, MessageFate, TraceEntry, TraceKind};
use joinsim_sim::Sim;

use crate::support::*;

fn harness<'a>(trace: &'a [TraceEntry], node: &str) -> Vec<(u64, &'a HarnessEvent)> {
    trace
        .iter()
        .filter(|e| e.node == node)
        .filter_map(|e| match &e.kind {
            TraceKind::Harness(h) => Some((e.time_us, h)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_torn_last_record_is_refused_and_the_node_rejoins() {
    for seed in seeds(90) {
        let report = Sim::new(seed).nodes(4).run(|w| async move {
            form_cluster(&w, &["n1", "n2", "n3"], &["n1", "n2", "n3"]).await;
            w.storage_fault("n2", StorageFault::TornWrite);
            // n4's join makes the CMG voters write.
            w.start("n4");
            w.wait_until("n2 crashed", 10_000, |w| !w.is_running("n2"))
                .await
                .unwrap();
            w.start("n2");
            wait_joined(&w, &["n1", "n2", "n3", "n4"]).await;
        });
        let n2 = harness(&report.trace, "n2");
        let torn = n2
            .iter()
            .find_map(|(_, h)| match h {
                HarnessEvent::StorageFault { fault, detail } if fault == "torn_write" => {
                    Some(detail.clone())
                }
                _ => None,
            })
            .expect("the torn write is in the trace");
        assert!(torn.contains("bytes into the record of"), "{torn}");
        let refused = n2
            .iter()
            .find_map(|(_, h)| match h {
                HarnessEvent::VaultRecordRefused { detail } => Some(detail.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("seed {seed}: the torn record was not refused"));
        assert!(refused.contains("torn"), "seed {seed}: {refused}");
    }
}

#[test]
fn a_crash_after_a_write_sends_nothing_of_that_output() {
    for seed in seeds(91) {
        let report = Sim::new(seed).nodes(4).run(|w| async move {
            form_cluster(&w, &["n1", "n2", "n3"], &["n1", "n2", "n3"]).await;
            w.storage_fault("n3", StorageFault::CrashAfterWrite);
            w.start("n4");
            w.wait_until("n3 crashed", 10_000, |w| !w.is_running("n3"))
                .await
                .unwrap();
            w.start("n3");
            wait_joined(&w, &["n1", "n2", "n3", "n4"]).await;
        });
        let crash = report
            .trace
            .iter()
            .position(|e| {
                e.node == "n3"
                    && matches!(&e.kind, TraceKind::Harness(HarnessEvent::StorageFault { fault, .. }) if fault == "crash_after_write")
            })
            .expect("the crash is in the trace");
        let at = report.trace[crash].time_us;
        let after_crash_same_instant = report.trace[crash + 1..]
            .iter()
            .take_while(|e| e.time_us == at)
            .filter(|e| e.node == "n3")
            .filter(|e| match &e.kind {
                TraceKind::Protocol(_) => true,
                TraceKind::Message(m) => m.fate == MessageFate::Sent,
                _ => false,
            })
            .count();
        assert_eq!(
            after_crash_same_instant, 0,
            "seed {seed}: n3 went on after its crash"
        );
    }
}

#[test]
fn a_power_loss_kills_the_node_and_it_rejoins() {
    for seed in seeds(92) {
        let report = Sim::new(seed).nodes(3).run(|w| async move {
            form_cluster(&w, &["n1", "n2", "n3"], &["n1", "n2", "n3"]).await;
            w.storage_fault("n1", StorageFault::PowerLoss);
            assert!(!w.is_running("n1"));
            w.start("n1");
            wait_joined(&w, &["n1", "n2", "n3"]).await;
        });
        assert!(harness(&report.trace, "n1").iter().any(|(_, h)| matches!(
            h,
            HarnessEvent::StorageFault { fault, detail } if fault == "power_loss" && detail.contains("lazy write")
        )));
    }
}
