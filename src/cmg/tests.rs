//! The CMG state machine's unit tests: every command, applied in log order.

use std::collections::BTreeMap;

use super::*;
use crate::cluster_config::ClusterConfig;
use crate::error::{AdminError, JoinReadyRefusal};
use crate::init_command::InitPlan;
use crate::types::RequestId;
use crate::types::{
    Addr, ClusterId, ClusterTag, InstanceId, LaunchId, NodeInfo, ProductVersion, ProtocolVersion,
};

fn info(name: &str, launch: u64) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        addr: Addr::new([10, 0, 0, 1], 7000),
        launch: LaunchId(launch),
        protocol: ProtocolVersion(1),
        product: ProductVersion::new(3, 0, 0),
    }
}

fn plan(name: &str, id: u128, cmg: &[&str]) -> InitPlan {
    InitPlan {
        init: InstanceId(id as u64),
        config: ClusterConfig {
            tag: ClusterTag {
                name: name.into(),
                id: ClusterId(id),
            },
            cmg_nodes: cmg.iter().map(|s| s.to_string()).collect(),
            ms_nodes: cmg.iter().map(|s| s.to_string()).collect(),
            ms_version: 1,
        },
        product: ProductVersion::new(3, 0, 0),
        protocol: ProtocolVersion(1),
        initiator: "a".into(),
        addrs: BTreeMap::new(),
    }
}

fn initialized() -> CmgState {
    let mut s = CmgState::default();
    s.apply(&CmgCommand::ClusterInit(plan("c", 1, &["a", "b", "c"])));
    s
}

#[test]
fn first_init_wins_and_later_ones_are_compared() {
    let mut s = CmgState::default();
    let first = s.apply(&CmgCommand::ClusterInit(plan("c", 1, &["a", "b", "c"])));
    assert!(matches!(first, CmgOutcome::InitApplied(_)));
    let same = s.apply(&CmgCommand::ClusterInit(plan("c", 2, &["a", "b", "c"])));
    match same {
        CmgOutcome::InitExisting(state) => assert_eq!(state.config.tag.id, ClusterId(1)),
        other => panic!("{other:?}"),
    }
    let other = s.apply(&CmgCommand::ClusterInit(plan("c", 3, &["a", "b", "d"])));
    match other {
        CmgOutcome::InitMismatch { detail } => assert!(detail.contains("CMG"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.cluster.unwrap().config.tag.id, ClusterId(1));
}

/// Validates each named node (launch 1) and moves it into the LT.
fn join_into_lt(s: &mut CmgState, names: &[&str]) {
    for name in names {
        s.apply(&CmgCommand::Join {
            info: info(name, 1),
            stored: None,
            attempt: 1,
        });
        s.apply(&CmgCommand::JoinReady {
            info: info(name, 1),
            attempt: 1,
        });
    }
}

#[test]
fn a_repeat_is_compared_with_the_init_command_not_the_current_ms_list() {
    let mut s = initialized();
    join_into_lt(&mut s, &["a", "b", "d"]);
    let changed = s.apply(&CmgCommand::ChangeMsNodes {
        nodes: vec!["a".into(), "b".into(), "d".into()],
        origin: Addr::new([10, 0, 0, 1], 7000),
        request: RequestId(1),
    });
    assert!(matches!(changed, CmgOutcome::MsChanged(Ok((2, _)))));
    let original = s.apply(&CmgCommand::ClusterInit(plan("c", 2, &["a", "b", "c"])));
    match original {
        CmgOutcome::InitExisting(state) => assert_eq!(state.config.tag.id, ClusterId(1)),
        other => panic!("{other:?}"),
    }
    let mut current = plan("c", 3, &["a", "b", "c"]);
    current.config.ms_nodes = vec!["a".into(), "b".into(), "d".into()];
    match s.apply(&CmgCommand::ClusterInit(current)) {
        CmgOutcome::InitMismatch { detail } => {
            assert!(detail.starts_with("Meta Storage"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_first_fate_wins_and_a_cancelled_init_is_never_applied() {
    let mut s = CmgState::default();
    // Nothing committed: an answer cannot be recorded.
    assert_eq!(s.apply(&CmgCommand::InitAnswered), CmgOutcome::Fate(None));
    let mut s = initialized();
    assert_eq!(
        s.apply(&CmgCommand::InitAnswered),
        CmgOutcome::Fate(Some(InitFate::Answered))
    );
    assert_eq!(
        s.apply(&CmgCommand::InitCancelled),
        CmgOutcome::Fate(Some(InitFate::Answered))
    );
    let mut s = CmgState::default();
    assert_eq!(
        s.apply(&CmgCommand::InitCancelled),
        CmgOutcome::Fate(Some(InitFate::Cancelled))
    );
    let late = s.apply(&CmgCommand::ClusterInit(plan("c", 1, &["a"])));
    assert_eq!(late, CmgOutcome::Nothing);
    assert!(s.cluster.is_none());
    assert_eq!(
        s.apply(&CmgCommand::InitAnswered),
        CmgOutcome::Fate(Some(InitFate::Cancelled))
    );
}

#[test]
fn join_before_init_asks_to_retry() {
    let mut s = CmgState::default();
    let out = s.apply(&CmgCommand::Join {
        info: info("a", 1),
        stored: None,
        attempt: 1,
    });
    assert_eq!(out, CmgOutcome::Join(JoinResult::RetryLater));
}

#[test]
fn every_rejection_reason() {
    let mut s = initialized();
    let tag = s.cluster.as_ref().unwrap().config.tag.clone();
    let mut old_protocol = info("x", 1);
    old_protocol.protocol = ProtocolVersion(2);
    let mut old_product = info("x", 1);
    old_product.product = ProductVersion::new(3, 1, 0);
    let other_tag = ClusterTag {
        name: "c".into(),
        id: ClusterId(99),
    };
    let cases = [
        (old_protocol, None, "Protocol"),
        (old_product, None, "Product"),
        (info("x", 1), Some((other_tag, 1)), "Tag"),
        (info("x", 1), Some((tag.clone(), 2)), "MsVersionAhead"),
    ];
    for (who, stored, want) in cases {
        let out = s.apply(&CmgCommand::Join {
            info: who,
            stored,
            attempt: 1,
        });
        let CmgOutcome::Join(JoinResult::Rejected(reason)) = out else {
            panic!("expected a rejection, got {out:?}");
        };
        assert!(format!("{reason:?}").starts_with(want), "{reason:?}");
    }
    assert!(s.validated.is_empty());
    // A patch difference is compatible; a stale MS version is accepted.
    let mut patched = info("y", 1);
    patched.product = ProductVersion::new(3, 0, 7);
    let out = s.apply(&CmgCommand::Join {
        info: patched,
        stored: Some((tag, 1)),
        attempt: 1,
    });
    assert!(matches!(out, CmgOutcome::JoinAccepted));
}

#[test]
fn a_join_ready_counts_only_for_the_validated_attempt() {
    let mut s = initialized();
    let join = |attempt| CmgCommand::Join {
        info: info("a", 1),
        stored: None,
        attempt,
    };
    let ready = |attempt| CmgCommand::JoinReady {
        info: info("a", 1),
        attempt,
    };
    s.apply(&join(1));
    // Removed as dead, then validated again for a new attempt: the join ready of the
    // first attempt (still in flight) must not move it into the LT.
    s.apply(&CmgCommand::NodesLeave {
        nodes: vec![("a".into(), LaunchId(1))],
    });
    s.apply(&join(2));
    assert!(matches!(
        s.apply(&ready(1)),
        CmgOutcome::JoinReady(Err(JoinReadyRefusal::NotValidated { .. }))
    ));
    assert!(s.lt.members.is_empty());
    assert_eq!(s.apply(&ready(2)), CmgOutcome::JoinReady(Ok(1)));
    assert!(s.validated_attempts.is_empty());
}

#[test]
fn join_ready_needs_validation_and_same_name_replaces() {
    let mut s = initialized();
    let refused = s.apply(&CmgCommand::JoinReady {
        info: info("a", 1),
        attempt: 1,
    });
    assert!(matches!(refused, CmgOutcome::JoinReady(Err(_))));
    s.apply(&CmgCommand::Join {
        info: info("a", 1),
        stored: None,
        attempt: 1,
    });
    assert_eq!(
        s.apply(&CmgCommand::JoinReady {
            info: info("a", 1),
            attempt: 1
        }),
        CmgOutcome::JoinReady(Ok(1))
    );
    // Idempotent.
    assert_eq!(
        s.apply(&CmgCommand::JoinReady {
            info: info("a", 1),
            attempt: 1
        }),
        CmgOutcome::JoinReady(Ok(1))
    );
    // Restart: new launch replaces the entry.
    s.apply(&CmgCommand::Join {
        info: info("a", 2),
        stored: None,
        attempt: 1,
    });
    assert_eq!(
        s.apply(&CmgCommand::JoinReady {
            info: info("a", 2),
            attempt: 1
        }),
        CmgOutcome::JoinReady(Ok(2))
    );
    assert!(s.lt.contains("a", LaunchId(2)));
    // Leave of the old launch is a no-op; of the new one removes it.
    assert_eq!(
        s.apply(&CmgCommand::NodesLeave {
            nodes: vec![("a".into(), LaunchId(1))]
        }),
        CmgOutcome::Left(vec![])
    );
    assert!(s.departed.is_empty());
    s.apply(&CmgCommand::NodesLeave {
        nodes: vec![("a".into(), LaunchId(2))],
    });
    assert!(s.lt.members.is_empty());
    assert_eq!(s.lt.version, 3);
    // The departed node is remembered: it may still hold this cluster in its vault.
    assert_eq!(s.departed.get("a").map(|i| i.launch), Some(LaunchId(2)));
}

/// A leave revokes a validation; a stale copy of that attempt's join request (still on its way,
/// or resent by a joiner that was paused) validates nothing, so none of that attempt's join
/// readies can count; a new attempt is validated as any (fuzz seed 30002849).
#[test]
fn a_revoked_attempt_is_never_validated_again() {
    let mut s = initialized();
    let join = |s: &mut CmgState, attempt: u64| {
        s.apply(&CmgCommand::Join {
            info: info("a", 1),
            stored: None,
            attempt,
        })
    };
    let ready = |s: &mut CmgState, attempt: u64| {
        s.apply(&CmgCommand::JoinReady {
            info: info("a", 1),
            attempt,
        })
    };
    assert!(matches!(join(&mut s, 3), CmgOutcome::JoinAccepted));
    s.apply(&CmgCommand::NodesLeave {
        nodes: vec![("a".into(), LaunchId(1))],
    });
    assert_eq!(
        s.revoked_attempts.get("a"),
        Some(&(LaunchId(1), 3)),
        "the revocation is remembered"
    );
    for stale in [2, 3] {
        assert_eq!(
            join(&mut s, stale),
            CmgOutcome::Join(JoinResult::StaleAttempt)
        );
    }
    assert!(s.validated.is_empty(), "a stale attempt validates nothing");
    assert!(matches!(ready(&mut s, 3), CmgOutcome::JoinReady(Err(_))));
    assert!(matches!(join(&mut s, 4), CmgOutcome::JoinAccepted));
    assert!(matches!(ready(&mut s, 3), CmgOutcome::JoinReady(Err(_))));
    assert_eq!(ready(&mut s, 4), CmgOutcome::JoinReady(Ok(1)));
    // Another launch of the name is not held to the old launch's attempts.
    s.apply(&CmgCommand::NodesLeave {
        nodes: vec![("a".into(), LaunchId(1))],
    });
    assert!(matches!(
        s.apply(&CmgCommand::Join {
            info: info("a", 2),
            stored: None,
            attempt: 1,
        }),
        CmgOutcome::JoinAccepted
    ));
}

#[test]
fn ms_node_change_validates_and_bumps_version() {
    let mut s = initialized();
    join_into_lt(&mut s, &["a", "b"]);
    let change = |s: &mut CmgState, nodes: &[&str]| {
        s.apply(&CmgCommand::ChangeMsNodes {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            origin: Addr::new([10, 0, 0, 1], 7000),
            request: RequestId(1),
        })
    };
    assert_eq!(
        change(&mut s, &[]),
        CmgOutcome::MsChanged(Err(AdminError::EmptyList))
    );
    assert!(matches!(
        change(&mut s, &["a", "z"]),
        CmgOutcome::MsChanged(Err(AdminError::NotInLogicalTopology { .. }))
    ));
    assert!(matches!(
        change(&mut s, &["a", "a"]),
        CmgOutcome::MsChanged(Err(AdminError::DuplicateNodeName { .. }))
    ));
    assert_eq!(
        change(&mut s, &["b", "a"]),
        CmgOutcome::MsChanged(Ok((2, vec!["a".into(), "b".into()])))
    );
    // Same list again: no new version.
    assert_eq!(
        change(&mut s, &["a", "b"]),
        CmgOutcome::MsChanged(Ok((2, vec!["a".into(), "b".into()])))
    );
}

#[test]
fn bootstrap_changes_nothing() {
    let mut s = CmgState::default();
    assert_eq!(s.apply(&CmgCommand::Bootstrap), CmgOutcome::Nothing);
    assert_eq!(s, CmgState::default());
}

/// Every CMG command has a unit test in this module: adding a command does not compile
/// until it is listed here with the test that applies it.
#[test]
fn every_command_has_a_test() {
    fn covered_by(command: &CmgCommand) -> &'static str {
        match command {
            CmgCommand::Bootstrap => "bootstrap_changes_nothing",
            CmgCommand::ClusterInit(_) => "first_init_wins_and_later_ones_are_compared",
            CmgCommand::Join { .. } => "every_rejection_reason",
            CmgCommand::JoinReady { .. } => "join_ready_needs_validation_and_same_name_replaces",
            CmgCommand::NodesLeave { .. } => "join_ready_needs_validation_and_same_name_replaces",
            CmgCommand::InitAnswered | CmgCommand::InitCancelled => {
                "the_first_fate_wins_and_a_cancelled_init_is_never_applied"
            }
            CmgCommand::ChangeMsNodes { .. } => "ms_node_change_validates_and_bumps_version",
        }
    }
    let source = include_str!("tests.rs");
    let plan = plan("c", 1, &["a"]);
    let node = info("a", 1);
    let commands = [
        CmgCommand::Bootstrap,
        CmgCommand::ClusterInit(plan),
        CmgCommand::Join {
            info: node.clone(),
            stored: None,
            attempt: 1,
        },
        CmgCommand::JoinReady {
            info: node.clone(),
            attempt: 1,
        },
        CmgCommand::NodesLeave {
            nodes: vec![("a".into(), node.launch)],
        },
        CmgCommand::InitAnswered,
        CmgCommand::InitCancelled,
        CmgCommand::ChangeMsNodes {
            nodes: vec!["a".into()],
            origin: Addr::new([10, 0, 0, 1], 7000),
            request: RequestId(1),
        },
    ];
    for command in &commands {
        let test = covered_by(command);
        assert!(
            source.contains(&format!("fn {test}()")),
            "{command:?}: no test named {test}"
        );
    }
}

/// IGNITE-19179: a join request of a launch already in the LT is answered at once and changes
/// nothing; the planted bug `rejoin-removes-own-lt-entry` takes the member out of the LT.
#[test]
fn a_rejoin_of_a_member_keeps_its_lt_entry() {
    let join = CmgCommand::Join {
        info: info("d", 1),
        stored: None,
        attempt: 2,
    };
    let mut s = initialized();
    join_into_lt(&mut s, &["d"]);
    let version = s.lt.version;
    assert!(matches!(s.apply(&join), CmgOutcome::JoinAccepted));
    assert!(s.lt.contains("d", LaunchId(1)));
    assert_eq!(s.lt.version, version);
    assert!(s.validated.is_empty());
    let mut s = initialized();
    join_into_lt(&mut s, &["d"]);
    s.apply_with(
        &join,
        Some(crate::bugs::PlantedBug::RejoinRemovesOwnLtEntry),
    );
    assert!(!s.lt.members.contains_key("d"), "its own entry removed");
    assert_eq!(s.lt.version, version + 1);
    assert!(s.validated.contains_key("d"));
}

#[test]
fn the_acceptance_is_the_committed_clusters_and_only_after_init() {
    assert_eq!(CmgState::default().join_accept(), None);
    let mut s = initialized();
    let out = s.apply(&CmgCommand::Join {
        info: info("y", 1),
        stored: None,
        attempt: 1,
    });
    assert!(matches!(out, CmgOutcome::JoinAccepted));
    let cluster = s.cluster.clone().expect("initialized");
    let accept = s.join_accept().expect("a committed cluster");
    assert_eq!(accept.config, cluster.config);
    assert_eq!(accept.initial_ms_nodes, cluster.initial_ms_nodes);
    assert_eq!(accept.instance, cluster.instance);
    assert_eq!(accept.addrs, cluster.addrs);
}
