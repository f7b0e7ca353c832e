//! Unit tests of `src/metastorage/replica.rs`.

use super::*;
use crate::config::Timing;
use crate::raft_group::{discard_logger, GroupStep};
use crate::types::GroupKind;

fn names(list: &[&str]) -> Vec<NodeName> {
    list.iter().map(|n| n.to_string()).collect()
}

/// Node `a`'s replica of a new Meta Storage whose voters are `voters` (`a` first), at
/// version 1, and what its first processing applied.
fn replica(voters: &[&str]) -> (MsReplica, Vec<MsApplied>) {
    let first = MsCommand::Init {
        version: 1,
        nodes: names(voters),
    };
    let record =
        RaftGroup::bootstrap_record(InstanceId(7), names(voters), None, vec![encode(&first)]);
    let group = RaftGroup::open(
        GroupKind::Ms,
        "a",
        &record,
        &Timing::default(),
        &discard_logger(),
    )
    .unwrap();
    let mut ms = MsReplica::new(group, None, 0);
    let applied = process(&mut ms);
    (ms, applied)
}

fn process(ms: &mut MsReplica) -> Vec<MsApplied> {
    let mut step = GroupStep::default();
    ms.group_mut().process(&mut step).unwrap();
    ms.apply(step.applied, None)
}

/// Node `a` alone: it campaigns and leads.
fn leader() -> MsReplica {
    let (mut ms, _) = replica(&["a"]);
    ms.group_mut().campaign();
    process(&mut ms);
    assert!(ms.group().is_leader());
    ms
}

#[test]
fn the_first_entry_installs_the_initial_configuration() {
    let (ms, applied) = replica(&["a", "b"]);
    assert_eq!(ms.state().version, 1);
    assert_eq!(ms.state().nodes, names(&["a", "b"]));
    assert_eq!(ms.instance(), InstanceId(7));
    assert!(matches!(applied[0], MsApplied::State { index: 1, .. }));
    assert_eq!(
        applied[1],
        MsApplied::ConfigApplied {
            version: 1,
            nodes: names(&["a", "b"]),
            index: 1
        }
    );
    assert!(ms.holds(raft_id("b")));
    assert!(!ms.holds(raft_id("c")));
}

#[test]
fn an_entry_that_does_not_decode_stops_the_replica_there() {
    let (mut ms, _) = replica(&["a"]);
    let applied = ms.apply(
        vec![
            Applied::Normal {
                index: 2,
                data: vec![0xff; 3],
            },
            Applied::Normal {
                index: 3,
                data: encode(&MsCommand::SetConfig {
                    version: 5,
                    nodes: names(&["a"]),
                }),
            },
        ],
        None,
    );
    assert_eq!(applied.len(), 1);
    assert!(matches!(applied[0], MsApplied::Failed { index: 2, .. }));
    assert_eq!(ms.state().version, 1, "nothing after it was applied");
}

#[test]
fn an_older_version_changes_nothing_and_a_reconfiguration_demotes_leavers() {
    let (mut ms, _) = replica(&["a", "b"]);
    let stale = encode(&MsCommand::SetConfig {
        version: 1,
        nodes: names(&["z"]),
    });
    let applied = ms.apply(
        vec![Applied::Normal {
            index: 2,
            data: stale,
        }],
        None,
    );
    assert!(matches!(applied[..], [MsApplied::State { index: 2, .. }]));
    let change = MsChange::Reconfigure {
        version: 2,
        nodes: names(&["a", "c"]),
    };
    ms.apply(
        vec![Applied::ConfChange {
            index: 3,
            context: encode(&change),
        }],
        None,
    );
    assert_eq!(ms.state().version, 2);
    assert!(ms.state().learners.contains("b"));
    let empty = ms.apply(
        vec![Applied::ConfChange {
            index: 4,
            context: vec![],
        }],
        None,
    );
    assert!(empty.is_empty(), "a change without context is not reported");
}

#[test]
fn a_replica_that_applied_the_version_confirms_it_and_a_follower_does_nothing() {
    let (mut ms, _) = replica(&["a", "b"]);
    assert_eq!(ms.reconfigure(1, names(&["a"]), None), Some(1));
    assert_eq!(ms.reconfigure(2, names(&["a"]), None), None);
    assert_eq!(ms.group().last_index(), 1, "a follower proposes nothing");
}

#[test]
fn the_leader_applies_a_new_version_of_the_same_voters() {
    let mut ms = leader();
    assert_eq!(ms.reconfigure(2, names(&["a"]), None), None);
    let applied = process(&mut ms);
    assert!(applied.contains(&MsApplied::ConfigApplied {
        version: 2,
        nodes: names(&["a"]),
        index: 3
    }));
    assert_eq!(ms.reconfigure(2, names(&["a"]), None), Some(2));
}

/// Issue 13: nodes that ask while a membership change is pending wait, and the next tick
/// admits them all in one change (one more log entry, not one per learner).
#[test]
fn learners_that_ask_during_a_pending_change_are_admitted_together() {
    let mut ms = leader();
    ms.add_learner("b".into());
    assert!(ms.group().has_pending_conf(), "b is proposed at once");
    let after_b = ms.group().last_index();
    for name in ["c", "d", "e"] {
        ms.add_learner(name.into());
    }
    assert_eq!(ms.group().last_index(), after_b, "c, d, e wait");
    process(&mut ms);
    assert!(ms.state().learners.contains("b"));
    assert!(!ms.holds(raft_id("c")));
    ms.tick_duties();
    assert_eq!(
        ms.group().last_index(),
        after_b + 1,
        "one change for the three"
    );
    // The joint configuration the change enters is left at once (raft-rs's auto leave).
    for _ in 0..3 {
        process(&mut ms);
        ms.tick_duties();
    }
    for name in ["c", "d", "e"] {
        assert!(ms.state().learners.contains(name), "{name} is a learner");
        assert!(ms.holds(raft_id(name)));
    }
    assert!(ms.group().conf_state().voters_outgoing.is_empty());
    assert!(!ms.group().has_pending_conf());
}

/// A replica that does not lead keeps nobody waiting: a learner that asked it asks again
/// (its next leader admits it).
#[test]
fn a_follower_keeps_no_learner_waiting() {
    let (mut ms, _) = replica(&["a", "b"]);
    ms.add_learner("c".into());
    ms.tick_duties();
    assert!(ms.waiting_learners.is_empty());
    assert!(!ms.holds(raft_id("c")));
}

#[test]
fn the_leader_adds_a_learner_once() {
    let mut ms = leader();
    ms.add_learner("b".into());
    process(&mut ms);
    assert!(ms.state().learners.contains("b"));
    assert!(ms.holds(raft_id("b")));
    let last = ms.group().last_index();
    ms.add_learner("b".into());
    assert_eq!(ms.group().last_index(), last, "already a learner");
}

#[test]
fn a_leader_hears_itself_and_a_follower_goes_silent() {
    let (mut follower, _) = replica(&["a", "b"]);
    assert!(!follower.silent(99, 100));
    assert!(follower.silent(100, 100));
    follower.heard(100);
    assert!(!follower.silent(199, 100));
    let mut ms = leader();
    assert!(!ms.silent(1_000, 100));
}

#[test]
fn the_planted_bug_carries_out_an_older_reconfiguration() {
    let mut ms = leader();
    assert_eq!(ms.reconfigure(3, names(&["a"]), None), None);
    process(&mut ms);
    assert_eq!(ms.state().version, 3);
    assert_eq!(
        ms.reconfigure(2, names(&["a"]), None),
        Some(3),
        "older: done"
    );
    let bug = Some(PlantedBug::LearnerChangesOutOfOrder);
    assert_eq!(ms.reconfigure(2, names(&["a"]), bug), None, "proposed");
    let mut step = GroupStep::default();
    ms.group_mut().process(&mut step).unwrap();
    let applied = ms.apply(step.applied, bug);
    assert!(applied.contains(&MsApplied::ConfigApplied {
        version: 2,
        nodes: names(&["a"]),
        index: 4
    }));
    assert_eq!(ms.state().version, 2, "the version went back");
}

#[test]
fn the_planted_bug_proposes_a_change_while_one_is_pending() {
    let mut ms = leader();
    ms.add_learner("b".into());
    assert!(ms.group().has_pending_conf());
    let last = ms.group().last_index();
    assert_eq!(ms.reconfigure(2, names(&["a", "c"]), None), None);
    assert_eq!(ms.group().last_index(), last, "one change at a time");
    let bug = Some(PlantedBug::MsReconfigurationOverlaps);
    assert_eq!(ms.reconfigure(2, names(&["a", "c"]), bug), None);
    assert_eq!(
        ms.group().last_index(),
        last + 1,
        "a second change proposed"
    );
}
