//! Unit tests of the init coordinator (`src/init/coordinator.rs`).

use super::*;
use crate::cluster_config::ClusterConfig;
use crate::types::ClusterId;

const USER: Addr = Addr {
    ip: [10, 9, 9, 9],
    port: 1,
};

fn addr(i: u8) -> Addr {
    Addr::new([10, 0, 0, i], 7000)
}

/// A plan naming a (CMG), b (CMG, MS) at addresses 1 and 2.
fn plan(init: u64) -> InitPlan {
    InitPlan {
        init: InstanceId(init),
        config: ClusterConfig {
            tag: ClusterTag {
                name: "c".into(),
                id: ClusterId(init as u128),
            },
            cmg_nodes: vec!["a".into(), "b".into()],
            ms_nodes: vec!["b".into()],
            ms_version: 1,
        },
        product: Default::default(),
        protocol: Default::default(),
        initiator: "a".into(),
        addrs: [("a".to_string(), addr(1)), ("b".to_string(), addr(2))]
            .into_iter()
            .collect(),
    }
}

fn cluster_of(plan: &InitPlan) -> ClusterState {
    ClusterState {
        config: plan.config.clone(),
        product: plan.product,
        protocol: plan.protocol,
        initial_ms_nodes: plan.config.ms_nodes.clone(),
        instance: plan.init,
        addrs: plan.addrs.clone(),
    }
}

fn running(init: u64) -> InitCoordinator {
    let mut c = InitCoordinator::new();
    assert_eq!(
        c.start(plan(init), USER, RequestId(1), 0),
        vec![addr(1), addr(2)]
    );
    let i = InstanceId(init);
    assert_eq!(
        c.on_start_ack(i, addr(1), StartOutcome::Started, 5, None),
        StartAck::Nothing
    );
    assert_eq!(
        c.on_start_ack(i, addr(2), StartOutcome::Started, 10, None),
        StartAck::QueryStatus(vec![addr(1), addr(2)])
    );
    c
}

#[test]
fn a_refusing_target_cancels_and_strangers_are_ignored() {
    let mut c = InitCoordinator::new();
    c.start(plan(1), USER, RequestId(1), 0);
    assert!(c.in_flight(USER, RequestId(1)) && !c.in_flight(USER, RequestId(2)));
    let i = InstanceId(1);
    assert_eq!(
        c.on_start_ack(i, addr(9), StartOutcome::Started, 0, None),
        StartAck::Nothing
    );
    let refused = StartOutcome::Mismatch { detail: "x".into() };
    assert_eq!(
        c.on_start_ack(i, addr(2), refused, 0, None),
        StartAck::Cancel(InitError::ParametersDiffer {
            node: "b".into(),
            detail: "x".into()
        })
    );
}

#[test]
fn the_user_is_answered_only_once_the_cmg_recorded_the_answer() {
    let mut c = running(1);
    let i = InstanceId(1);
    let p = plan(1);
    let committed = GroupStatus {
        cmg_instance: Some(i),
        cluster: Some(cluster_of(&p)),
        ms_instance: Some(i),
        ms_leader: Some("b".into()),
        init_fate: None,
    };
    // The first sight of the commit and a Meta Storage leader asks at once, though the last
    // query went out at 10; later asks are paced.
    let record = StatusStep::RecordAnswer {
        to: vec![addr(1), addr(2)],
        watch: i,
    };
    assert_eq!(
        c.on_status_reply(i, addr(1), committed.clone(), 11, 300),
        record
    );
    assert_eq!(
        c.on_status_reply(i, addr(2), committed.clone(), 12, 300),
        StatusStep::Nothing,
        "paced after the first ask"
    );
    assert_eq!(
        c.on_status_reply(i, addr(1), committed.clone(), 311, 300),
        record
    );
    let answered = GroupStatus {
        init_fate: Some(InitFate::Answered),
        ..committed
    };
    assert_eq!(
        c.on_status_reply(i, addr(2), answered, 320, 300),
        StatusStep::Answer {
            user: USER,
            request: RequestId(1),
            result: Ok(p.config.tag.clone())
        }
    );
    assert!(!c.in_flight(USER, RequestId(1)));
}

#[test]
fn only_attempts_awaiting_the_commit_of_an_incarnation_are_awaiting_it() {
    let mut c = running(1);
    assert_eq!(c.awaiting(InstanceId(1)), vec![InstanceId(1)]);
    assert!(c.awaiting(InstanceId(2)).is_empty(), "another incarnation");
    let mut starting = InitCoordinator::new();
    starting.start(plan(1), USER, RequestId(1), 0);
    assert!(
        starting.awaiting(InstanceId(1)).is_empty(),
        "an attempt still starting its groups waits for no commit yet"
    );
    let answered = GroupStatus {
        cmg_instance: Some(InstanceId(1)),
        cluster: Some(cluster_of(&plan(1))),
        ms_instance: Some(InstanceId(1)),
        ms_leader: Some("b".into()),
        init_fate: Some(InitFate::Answered),
    };
    c.on_status_reply(InstanceId(1), addr(1), answered, 20, 300);
    assert!(c.awaiting(InstanceId(1)).is_empty(), "answered and removed");
}

#[test]
fn a_committed_cluster_of_other_parameters_is_refused() {
    let mut c = running(1);
    let i = InstanceId(1);
    let mut other = cluster_of(&plan(1));
    other.config.cmg_nodes = vec!["b".into()];
    let status = GroupStatus {
        cmg_instance: Some(i),
        cluster: Some(other),
        ms_instance: Some(i),
        ms_leader: Some("b".into()),
        init_fate: None,
    };
    assert!(matches!(
        c.on_status_reply(i, addr(1), status, 20, 300),
        StatusStep::Answer {
            result: Err(InitError::ParametersDiffer { .. }),
            ..
        }
    ));
}

/// A target that fails to start its groups: the init is cancelled with `NodeFailed`, returned
/// (also for `src/testing/tests/init.rs`'s check that every error kind is reached).
pub(crate) fn a_failed_target() -> InitError {
    let mut c = InitCoordinator::new();
    c.start(plan(1), USER, RequestId(1), 0);
    let i = InstanceId(1);
    let failed = StartOutcome::Failed {
        detail: "this init was cancelled".into(),
    };
    let want = InitError::NodeFailed {
        node: "b".into(),
        detail: "this init was cancelled".into(),
    };
    assert_eq!(
        c.on_start_ack(i, addr(2), failed, 0, None),
        StartAck::Cancel(want.clone())
    );
    want
}

#[test]
fn a_target_that_fails_to_start_its_groups_cancels_as_node_failed() {
    a_failed_target();
}

#[test]
fn a_watched_init_whose_cancel_the_cmg_committed_cancels_as_node_failed() {
    let mut c = running(1);
    let i = InstanceId(1);
    let p = plan(1);
    let cancelled = GroupStatus {
        cmg_instance: Some(i),
        cluster: Some(cluster_of(&p)),
        ms_instance: Some(i),
        ms_leader: Some("b".into()),
        init_fate: Some(InitFate::Cancelled),
    };
    // Never answered with the tag: the cluster is being destroyed (docs/spec.md §5).
    assert_eq!(
        c.on_status_reply(i, addr(1), cancelled, 20, 300),
        StatusStep::Cancel(InitError::NodeFailed {
            node: "a".into(),
            detail: format!("the init of {} was cancelled", p.config.tag)
        })
    );
}

#[test]
fn timers_resend_then_time_out() {
    let timing = Timing::default();
    let mut c = InitCoordinator::new();
    c.start(plan(1), USER, RequestId(1), 0);
    c.on_start_ack(InstanceId(1), addr(1), StartOutcome::Started, 0, None);
    let retry = timing.init_retry_ms;
    assert!(c.tick(retry - 1, &timing).is_empty());
    assert_eq!(
        c.tick(retry, &timing),
        vec![(
            InstanceId(1),
            InitDue::ResendStart {
                plan: plan(1),
                to: vec![addr(2)]
            }
        )]
    );
    assert!(c.tick(retry, &timing).is_empty(), "counted as sent");
    assert_eq!(
        c.tick(timing.init_timeout_ms, &timing),
        vec![(
            InstanceId(1),
            InitDue::Cancel(InitError::Timeout {
                node: "b".into(),
                waiting_for: "its answer to start the groups".into()
            })
        )]
    );
    let mut c = running(2);
    assert_eq!(
        c.tick(10 + retry, &timing),
        vec![(
            InstanceId(2),
            InitDue::QueryStatus {
                to: vec![addr(1), addr(2)],
                answering: None
            }
        )]
    );
    assert!(matches!(
        &c.tick(10 + timing.init_timeout_ms, &timing)[..],
        [(_, InitDue::Cancel(InitError::Timeout { node, .. }))] if node == "a"
    ));
}

#[test]
fn at_most_max_inits_in_flight() {
    let mut c = InitCoordinator::new();
    for i in 0..MAX_INITS_IN_FLIGHT as u64 {
        assert!(!c.is_full());
        c.start(plan(i + 1), USER, RequestId(i), 0);
    }
    assert!(c.is_full());
    assert!(c.remove(InstanceId(1)).is_some());
    assert!(!c.is_full());
    assert_eq!(c.into_values().count(), MAX_INITS_IN_FLIGHT - 1);
}

#[test]
fn the_view_of_an_attempt_says_what_it_still_waits_for() {
    let mut c = InitCoordinator::new();
    assert!(c.in_flight_view().is_empty());
    c.start(plan(1), USER, RequestId(1), 40);
    let i = InstanceId(1);
    c.on_start_ack(i, addr(2), StartOutcome::Started, 45, None);
    let view = c.in_flight_view();
    assert_eq!(
        view,
        vec![InitInFlight {
            init: i,
            started_ms: 40,
            awaiting_start: vec!["a".into()],
            committed: false,
            ms_leader: false,
        }]
    );
    c.on_start_ack(i, addr(1), StartOutcome::Started, 50, None);
    let p = plan(1);
    let committed = GroupStatus {
        cmg_instance: Some(i),
        cluster: Some(cluster_of(&p)),
        ms_instance: Some(i),
        ms_leader: None,
        init_fate: None,
    };
    c.on_status_reply(i, addr(1), committed, 400, 300);
    let view = c.in_flight_view();
    assert!(view[0].awaiting_start.is_empty(), "{view:?}");
    assert!(view[0].committed && !view[0].ms_leader, "{view:?}");
}

#[test]
fn the_planted_bug_answers_once_every_target_runs_before_any_commit() {
    let mut c = InitCoordinator::new();
    c.start(plan(1), USER, RequestId(1), 0);
    let i = InstanceId(1);
    let bug = Some(PlantedBug::InitAnsweredBeforeCommit);
    assert_eq!(
        c.on_start_ack(i, addr(1), StartOutcome::Started, 5, bug),
        StartAck::Nothing
    );
    assert_eq!(
        c.on_start_ack(i, addr(2), StartOutcome::Started, 10, bug),
        StartAck::Answer {
            user: USER,
            request: RequestId(1),
            result: Ok(plan(1).config.tag),
        }
    );
    assert!(c.in_flight_view().is_empty(), "the attempt is over");
}
