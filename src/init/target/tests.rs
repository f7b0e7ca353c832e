//! Unit tests of the init target's rules (`src/init/target.rs`).

use super::*;
use crate::cluster_config::ClusterConfig;
use crate::types::{Addr, ClusterId};

fn tag(id: u128) -> ClusterTag {
    ClusterTag {
        name: "c".into(),
        id: ClusterId(id),
    }
}

fn command(ms: &[&str]) -> InitCommand {
    InitCommand {
        cluster_name: "c".into(),
        cmg_nodes: vec!["a".into(), "b".into()],
        ms_nodes: ms.iter().map(|s| s.to_string()).collect(),
    }
}

/// The init of cluster "c" with CMG a, b and Meta Storage `ms`, as attempt `init`.
fn plan(init: u64, ms: &[&str]) -> InitPlan {
    let command = command(ms);
    InitPlan {
        init: InstanceId(init),
        config: ClusterConfig {
            tag: tag(init as u128),
            cmg_nodes: command.cmg_nodes,
            ms_nodes: command.ms_nodes,
            ms_version: 1,
        },
        product: Default::default(),
        protocol: Default::default(),
        initiator: "a".into(),
        addrs: [("a".to_string(), Addr::new([10, 0, 0, 1], 7000))]
            .into_iter()
            .collect(),
    }
}

fn nothing() -> Holdings<'static> {
    Holdings {
        cancelled: false,
        hosted: [None, None],
        joining: None,
        local: None,
        undecided: &[],
    }
}

#[test]
fn a_cancelled_init_fails_and_its_own_replica_is_started() {
    let p = plan(1, &["a"]);
    let cancelled = Holdings {
        cancelled: true,
        hosted: [Some((InstanceId(1), Some(&p))), None],
        ..nothing()
    };
    assert!(matches!(
        held_outcome(&p, cancelled, None),
        HeldOutcome::Answer(StartOutcome::Failed { .. })
    ));
    let own = Holdings {
        hosted: [None, Some((InstanceId(1), Some(&p)))],
        ..nothing()
    };
    assert_eq!(
        held_outcome(&p, own, None),
        HeldOutcome::Answer(StartOutcome::Started)
    );
    assert_eq!(
        held_outcome(&p, nothing(), None),
        HeldOutcome::Nothing,
        "nothing held: start"
    );
}

#[test]
fn a_repeat_is_existing_and_other_parameters_a_mismatch() {
    let earlier = plan(1, &["a"]);
    let hosting = Holdings {
        hosted: [Some((InstanceId(1), Some(&earlier))), None],
        ..nothing()
    };
    assert_eq!(
        held_outcome(&plan(2, &["a"]), hosting, None),
        HeldOutcome::Answer(StartOutcome::Existing {
            init: InstanceId(1),
            tag: tag(1)
        })
    );
    assert!(matches!(
        held_outcome(&plan(2, &["b"]), hosting, None),
        HeldOutcome::Answer(StartOutcome::Mismatch { .. })
    ));
    // Planted bug: a repeat is taken for a new init.
    let bug = Some(PlantedBug::InitNotIdempotent);
    assert_eq!(
        held_outcome(&plan(2, &["a"]), hosting, bug),
        HeldOutcome::Nothing
    );
}

#[test]
fn a_joining_node_mismatches_another_init() {
    let joined = tag(5);
    let joining = Holdings {
        joining: Some((&joined, InstanceId(5))),
        ..nothing()
    };
    assert!(matches!(
        held_outcome(&plan(2, &["a"]), joining, None),
        HeldOutcome::Answer(StartOutcome::Mismatch { detail }) if detail.contains("joining")
    ));
    assert_eq!(
        held_outcome(&plan(5, &["a"]), joining, None),
        HeldOutcome::Nothing
    );
}

/// docs/spec.md §5: an initialized node compares with the init command its cluster was created
/// with, not with its current Meta Storage list (unless the planted bug says so).
#[test]
fn an_initialized_node_compares_with_its_creation_command() {
    let local = LocalState {
        config: ClusterConfig {
            tag: tag(1),
            cmg_nodes: vec!["a".into(), "b".into()],
            ms_nodes: vec!["b".into(), "a".into()],
            ms_version: 2,
        },
        cmg_instance: InstanceId(1),
        ms_instance: InstanceId(1),
        init: command(&["a"]),
    };
    let initialized = Holdings {
        local: Some(&local),
        ..nothing()
    };
    assert_eq!(
        held_outcome(&plan(2, &["a"]), initialized, None),
        HeldOutcome::Answer(StartOutcome::Existing {
            init: InstanceId(1),
            tag: tag(1)
        })
    );
    let bug = Some(PlantedBug::InitComparesCurrentMsList);
    assert_eq!(held_init_command(&local, bug).ms_nodes, vec!["a", "b"]);
    assert!(matches!(
        held_outcome(&plan(2, &["a"]), initialized, bug),
        HeldOutcome::Answer(StartOutcome::Mismatch { .. })
    ));
}

/// docs/protocol.md Step 2.6, "a cancel under way is no ground for a refusal": an init held whose
/// fate the node does not know yet is not compared with — neither a replica's plan nor the
/// vault's cluster — while its own init and a cancelled one are answered as before.
#[test]
fn an_init_whose_fate_is_unknown_is_not_compared_with() {
    let earlier = plan(1, &["a"]);
    let undecided = [InstanceId(1)];
    let hosting = Holdings {
        hosted: [Some((InstanceId(1), Some(&earlier))), None],
        undecided: &undecided,
        ..nothing()
    };
    for requested in [plan(2, &["b"]), plan(2, &["a"])] {
        assert_eq!(
            held_outcome(&requested, hosting, None),
            HeldOutcome::Undecided {
                held: InstanceId(1)
            },
            "neither a mismatch nor a repeat is judged"
        );
    }
    assert_eq!(
        held_outcome(&earlier, hosting, None),
        HeldOutcome::Answer(StartOutcome::Started),
        "its own init is still started"
    );
    let cancelled = Holdings {
        cancelled: true,
        ..hosting
    };
    assert!(matches!(
        held_outcome(&plan(2, &["b"]), cancelled, None),
        HeldOutcome::Answer(StartOutcome::Failed { .. })
    ));
    let local = LocalState {
        config: earlier.config.clone(),
        cmg_instance: InstanceId(1),
        ms_instance: InstanceId(1),
        init: earlier.command(),
    };
    let initialized = Holdings {
        local: Some(&local),
        undecided: &undecided,
        ..nothing()
    };
    assert_eq!(
        held_outcome(&plan(2, &["b"]), initialized, None),
        HeldOutcome::Undecided {
            held: InstanceId(1)
        }
    );
    // Its fate known (answered): other parameters are refused again (idempotence).
    let answered = Holdings {
        undecided: &[],
        ..initialized
    };
    assert!(matches!(
        held_outcome(&plan(2, &["b"]), answered, None),
        HeldOutcome::Answer(StartOutcome::Mismatch { .. })
    ));
    let other_undecided = [InstanceId(7)];
    let unrelated = Holdings {
        undecided: &other_undecided,
        ..initialized
    };
    assert!(
        matches!(
            held_outcome(&plan(2, &["b"]), unrelated, None),
            HeldOutcome::Answer(StartOutcome::Mismatch { .. })
        ),
        "only the held init's own cancel defers"
    );
}

fn replica(fate: Option<InitFate>, led_or_answering: bool) -> ReplicaFacts {
    ReplicaFacts {
        fate,
        tag: Some(tag(1)),
        led_or_answering,
        voters: vec!["a".into(), "b".into()],
    }
}

#[test]
fn the_cmg_log_decides_between_an_answer_and_a_cancel() {
    let answered = Some(replica(Some(InitFate::Answered), true));
    assert_eq!(
        cancel_step(answered, true, true, None),
        CancelStep::Refuse(tag(1))
    );
    let cancelled = Some(replica(Some(InitFate::Cancelled), false));
    assert_eq!(
        cancel_step(cancelled, false, true, None),
        CancelStep::Clear {
            decided: true,
            unanswered: None
        }
    );
    let led = Some(replica(None, true));
    assert_eq!(
        cancel_step(led.clone(), false, true, None),
        CancelStep::Propose
    );
    assert_eq!(
        cancel_step(led, true, true, None),
        CancelStep::Clear {
            decided: true,
            unanswered: None
        }
    );
}

#[test]
fn a_leaderless_replica_fences_unless_the_bug_destroys_it() {
    let leaderless = Some(replica(None, false));
    let voters = vec!["a".to_string(), "b".to_string()];
    assert_eq!(
        cancel_step(leaderless.clone(), false, true, None),
        CancelStep::Fence(voters.clone())
    );
    let bug = Some(PlantedBug::CancelDestroysLeaderlessReplica);
    assert_eq!(
        cancel_step(leaderless, false, true, bug),
        CancelStep::Clear {
            decided: false,
            unanswered: Some(voters)
        }
    );
}

#[test]
fn a_node_without_a_replica_clears_only_a_decided_cancel() {
    assert_eq!(cancel_step(None, false, true, None), CancelStep::Wait);
    assert_eq!(
        cancel_step(None, true, true, None),
        CancelStep::Clear {
            decided: true,
            unanswered: None
        }
    );
    // Holding nothing, it remembers the cancel (a late start must not recreate it).
    assert_eq!(
        cancel_step(None, false, false, None),
        CancelStep::Clear {
            decided: false,
            unanswered: Some(Vec::new())
        }
    );
}
