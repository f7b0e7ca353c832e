//! A sound run passes; each rule refuses the action that breaks it.

use crate::*;

fn tag(id: u128) -> Tag {
    Tag {
        name: "c1".into(),
        id,
    }
}

fn names(list: &[&str]) -> Vec<Name> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `node` initializes a cluster of its own, tag `tag(id)`, as init `init`: it is the only CMG and
/// Meta Storage voter; the Meta Storage applies version 1 (index 1), the CMG commits the
/// cluster-init (index 2).
fn one_node_cluster(node: &str, init: u64, id: u128) -> Vec<Action> {
    let mut run = vec![Action::InitSent {
        node: node.into(),
        init,
        tag: tag(id),
        cmg: names(&[node]),
        ms: names(&[node]),
    }];
    for group in [Group::Cmg, Group::Ms] {
        run.push(Action::GroupStarted {
            node: node.into(),
            group,
            init,
            from_vault: false,
        });
    }
    run.push(Action::MsConfigApplied {
        node: node.into(),
        version: 1,
        nodes: names(&[node]),
        index: 1,
    });
    run.push(Action::ClusterInit {
        node: node.into(),
        init,
        tag: tag(id),
        cmg: names(&[node]),
        ms_version: 1,
        index: 2,
    });
    run
}

/// Three empty nodes, an init on a, b joins: every action the spec allows.
fn sound_run() -> Vec<Action> {
    let mut run = Vec::new();
    for (i, n) in ["a", "b", "c"].iter().enumerate() {
        run.push(Action::Start {
            node: n.to_string(),
            name: n.to_string(),
            launch: 10 + i as u64,
            stored: None,
        });
    }
    run.push(Action::Admit {
        by: "a".into(),
        member: "b".into(),
        launch: 11,
        tag: None,
    });
    run.extend(one_node_cluster("a", 7, 1));
    run.push(Action::MsLeader {
        node: "a".into(),
        init: 7,
    });
    run.push(Action::InitAnswered {
        node: "a".into(),
        tag: tag(1),
    });
    run.push(Action::JoinRequest {
        node: "b".into(),
        stored: None,
    });
    run.push(Action::Validated {
        node: "a".into(),
        joiner: "b".into(),
        launch: 11,
        index: 3,
    });
    run.push(Action::JoinAccepted {
        node: "b".into(),
        tag: tag(1),
        stored_ms: None,
        cluster_ms: 1,
    });
    run.push(Action::MsVersionStored {
        node: "b".into(),
        from: None,
        to: 1,
    });
    run.push(Action::RecoveryFinished {
        node: "b".into(),
        ms_version: 1,
    });
    run.push(Action::JoinReady { node: "b".into() });
    run.push(Action::LtChanged {
        node: "a".into(),
        version: 1,
        members: vec![("b".into(), 11)],
        index: 4,
    });
    run.push(Action::Joined {
        node: "b".into(),
        lt_version: 1,
    });
    run
}

/// In `run` (the sound run), b starts holding another cluster (tag 9, MS version 1) and its join
/// request at `at` presents it.
fn b_holds_another_cluster(run: &mut [Action], at: usize) {
    run[1] = Action::Start {
        node: "b".into(),
        name: "b".into(),
        launch: 11,
        stored: Some(Stored {
            tag: tag(9),
            ms_version: Some(1),
        }),
    };
    run[at] = Action::JoinRequest {
        node: "b".into(),
        stored: Some((tag(9), 1)),
    };
}

/// Runs `run`; the index and rule of the first refusal.
fn first_refusal(run: &[Action]) -> Option<(usize, Rule)> {
    let mut state = State::default();
    run.iter()
        .enumerate()
        .find_map(|(i, a)| state.step(a).err().map(|r| (i, r.rule)))
}

/// The sound run with the action at `at` replaced by `with`.
fn with(at: usize, action: Action) -> Vec<Action> {
    let mut run = sound_run();
    run[at] = action;
    run
}

fn position(run: &[Action], pred: impl Fn(&Action) -> bool) -> usize {
    run.iter().position(pred).expect("the sound run has it")
}

#[test]
fn the_sound_run_passes_and_builds_the_lt() {
    let mut state = State::default();
    for a in sound_run() {
        state.step(&a).unwrap();
    }
    assert_eq!(state.lt(7), Some((1, vec![("b".to_string(), 11)])));
    assert!(state.answered().contains(&tag(1)));
    assert_eq!(state.steps(), sound_run().len() as u64);
}

#[test]
fn answer_before_commit_is_refused() {
    let mut run = sound_run();
    let commit = position(&run, |a| matches!(a, Action::ClusterInit { .. }));
    let answer = run.remove(position(&run, |a| matches!(a, Action::InitAnswered { .. })));
    run.insert(commit, answer);
    assert_eq!(first_refusal(&run), Some((commit, Rule::AnswerAfterCommit)));
}

#[test]
fn validation_of_another_tag_is_refused() {
    let run = sound_run();
    let at = position(&run, |a| matches!(a, Action::JoinRequest { .. }));
    // b's vault holds another cluster: it presents it, and the CMG validates it anyway.
    let mut run = run;
    b_holds_another_cluster(&mut run, at);
    let refusal = first_refusal(&run);
    // Pre-init let b in only because a was empty then: the CMG must judge the tag.
    assert_eq!(
        refusal,
        Some((at + 1, Rule::ValidationJudgesTagAndMsVersion))
    );
}

#[test]
fn lt_entry_without_join_ready_is_refused() {
    let mut run = sound_run();
    run.retain(|a| !matches!(a, Action::JoinReady { .. }));
    let at = position(&run, |a| matches!(a, Action::LtChanged { .. }));
    assert_eq!(
        first_refusal(&run),
        Some((at, Rule::LtEntryFromValidatedReady))
    );
}

#[test]
fn lt_version_skipping_is_refused() {
    let run = sound_run();
    let at = position(&run, |a| matches!(a, Action::LtChanged { .. }));
    let run = with(
        at,
        Action::LtChanged {
            node: "a".into(),
            version: 2,
            members: vec![("b".into(), 11)],
            index: 4,
        },
    );
    assert_eq!(first_refusal(&run), Some((at, Rule::LtVersionStepsByOne)));
}

#[test]
fn replicas_that_disagree_at_an_index_are_refused() {
    let mut run = sound_run();
    // c hosts a CMG replica too (as if named), and applies another LT at index 4.
    run.push(Action::GroupStarted {
        node: "c".into(),
        group: Group::Cmg,
        init: 7,
        from_vault: true,
    });
    run.push(Action::LtChanged {
        node: "c".into(),
        version: 2,
        members: vec![("b".into(), 11)],
        index: 4,
    });
    assert_eq!(
        first_refusal(&run),
        Some((run.len() - 1, Rule::ReplicasAgree))
    );
}

#[test]
fn a_cancel_of_an_answered_cluster_is_refused() {
    let mut run = sound_run();
    run.push(Action::VaultCleared {
        node: "b".into(),
        init: 7,
    });
    assert_eq!(
        first_refusal(&run),
        Some((run.len() - 1, Rule::NoCancelOfAnsweredCluster))
    );
}

#[test]
fn a_restart_from_another_vault_is_refused_unless_a_storage_fault_struck() {
    let mut run = sound_run();
    run.push(Action::Kill { node: "b".into() });
    run.push(Action::Start {
        node: "b".into(),
        name: "b".into(),
        launch: 21,
        stored: None,
    });
    assert_eq!(
        first_refusal(&run),
        Some((run.len() - 1, Rule::VaultSurvivesRestart))
    );
    // After a storage fault, a vault state held before is allowed.
    let last = run.pop().unwrap();
    run.push(Action::StorageFault { node: "b".into() });
    run.push(last);
    assert_eq!(first_refusal(&run), None);
}

#[test]
fn a_launch_id_used_twice_is_refused() {
    let mut run = sound_run();
    run.push(Action::Kill { node: "b".into() });
    run.push(Action::Start {
        node: "b".into(),
        name: "b".into(),
        launch: 11,
        stored: Some(Stored {
            tag: tag(1),
            ms_version: Some(1),
        }),
    });
    assert_eq!(
        first_refusal(&run),
        Some((run.len() - 1, Rule::LaunchIsNew))
    );
}

#[test]
fn a_stopped_node_takes_no_step() {
    let mut run = sound_run();
    let at = position(&run, |a| matches!(a, Action::JoinReady { .. }));
    run.insert(at, Action::Kill { node: "b".into() });
    assert_eq!(
        first_refusal(&run),
        Some((at + 1, Rule::OnlyRunningNodesAct))
    );
}

#[test]
fn ms_version_stepping_by_two_is_refused() {
    let mut run = sound_run();
    run.push(Action::MsNodesChanged {
        node: "a".into(),
        version: 3,
        nodes: names(&["a", "b"]),
        index: 5,
    });
    assert_eq!(
        first_refusal(&run),
        Some((run.len() - 1, Rule::MsVersionStepsByOne))
    );
}

#[test]
fn every_rule_has_a_distinct_name_and_a_source() {
    let mut seen = std::collections::BTreeSet::new();
    for rule in Rule::ALL {
        assert!(seen.insert(rule.name()), "{rule:?}");
        assert!(!rule.source().is_empty());
    }
}

#[test]
fn a_planted_model_error_allows_what_the_rule_refuses() {
    // b holds another cluster's tag; the CMG validates it: refused as written, allowed with
    // validation-ignores-tag.
    let mut run = sound_run();
    let at = position(&run, |a| matches!(a, Action::JoinRequest { .. }));
    b_holds_another_cluster(&mut run, at);
    let mut flawed = State::default().with_flaw(Some(ModelFlaw::ValidationIgnoresTag));
    for a in &run[..=at + 1] {
        flawed.step(a).unwrap();
    }
    assert_eq!(
        first_refusal(&run[..=at + 1]),
        Some((at + 1, Rule::ValidationJudgesTagAndMsVersion))
    );
    // A cancel after the answer: refused as written, allowed with cancel-ignores-answer.
    let mut run = sound_run();
    run.push(Action::VaultCleared {
        node: "b".into(),
        init: 7,
    });
    let mut flawed = State::default().with_flaw(Some(ModelFlaw::CancelIgnoresAnswer));
    for a in &run {
        flawed.step(a).unwrap();
    }
    assert!(flawed.cancelled().contains(&tag(1)));
    for flaw in ModelFlaw::ALL {
        assert_eq!(ModelFlaw::from_name(flaw.name()), Some(flaw));
    }
}

#[test]
fn the_worlds_start_from_their_vaults_and_their_moves_are_the_models() {
    let stale = World::new(
        WorldKind::Stale,
        3,
        World::default_budgets(WorldKind::Stale),
        None,
    )
    .unwrap();
    let s = stale.initial();
    // The cluster from before the run is committed at version Y, n1 hosts its replicas.
    assert_eq!(s.live_clusters().len(), 1);
    assert_eq!(s.live_clusters()[0].1.ms_version, RESTORED_MS_VERSION);
    assert_eq!(s.leader(RESTORED_INIT, Group::Cmg).as_deref(), Some("n1"));
    assert_eq!(s.vault("n2").and_then(|v| v.ms_version), Some(1));
    assert!(s.vault("n3").is_none());
    // Every enabled move is one the model took; a launch is dense; the step counter stays 0.
    for (m, next) in stale.enabled(&s) {
        assert_eq!(stale.apply(&s, &m).as_ref(), Ok(&next));
        assert_eq!(next.model().steps(), 0);
    }
    assert!(World::new(WorldKind::Empty, 4, Budgets::default(), None).is_err());
    // A move whose action the model refuses is refused: n3 sends join ready unrecovered.
    let refused = Move {
        kind: MoveKind::Kill { node: "n1".into() },
        actions: vec![Action::JoinReady { node: "n3".into() }],
    };
    assert!(stale.apply(&s, &refused).is_err());
}

/// Join ready belongs to the cluster whose acceptance it answers: a launch that sent join ready
/// to one cluster does not enter another cluster's LT on it (the gap the explorer found: join
/// ready was remembered per launch).
#[test]
fn join_ready_sent_to_another_cluster_does_not_admit() {
    let mut run = sound_run();
    // c initializes a cluster of its own (init 8, tag 2) and validates b's same launch.
    run.extend(one_node_cluster("c", 8, 2));
    run.push(Action::Validated {
        node: "c".into(),
        joiner: "b".into(),
        launch: 11,
        index: 3,
    });
    let sound = run.len();
    assert_eq!(first_refusal(&run), None);
    run.push(Action::LtChanged {
        node: "c".into(),
        version: 1,
        members: vec![("b".into(), 11)],
        index: 4,
    });
    assert_eq!(
        first_refusal(&run),
        Some((sound, Rule::LtEntryFromValidatedReady))
    );
}
