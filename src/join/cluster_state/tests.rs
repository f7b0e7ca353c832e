//! Unit tests of a cluster state's handling on the joining node's side: the cases of
//! docs/protocol.md Steps 3 and 4 ("step 1 before step 3", cancelled inits, stale terms, "one
//! cluster per node").

use super::*;
use crate::join::JoinPhase;
use crate::types::{Addr, ClusterId, LaunchId, NodeInfo, ProductVersion, ProtocolVersion};

fn tag(id: u128) -> ClusterTag {
    ClusterTag {
        name: "c".into(),
        id: ClusterId(id),
    }
}

/// A cluster state of cluster `id` (CMG incarnation `id`) from leader `n1` at `term`.
fn notice(id: u128, term: u64) -> ClusterStateNotice {
    ClusterStateNotice {
        term,
        leader: NodeInfo {
            name: "n1".into(),
            addr: Addr::new([10, 0, 0, 1], 7000),
            launch: LaunchId(1),
            protocol: ProtocolVersion(1),
            product: ProductVersion::new(3, 0, 0),
        },
        cmg_instance: InstanceId(id as u64),
        cmg_nodes: vec!["n1".into()],
        tag: tag(id),
        lt_version: 0,
        member: false,
        receiver_launch: LaunchId(0),
    }
}

/// failure_timeout_ms 2000, init_timeout_ms 5000 (the defaults).
fn timing() -> Timing {
    Timing::default()
}

/// An admitted node, no cancel, bound as `own` says.
fn facts(own: OwnCluster) -> ClusterStateFacts {
    ClusterStateFacts {
        admitted: true,
        cancelled: None,
        own,
    }
}

/// An initialized node of cluster 1, last in sight of its CMG at `seen_ms`.
fn initialized(seen_ms: u64) -> OwnCluster {
    OwnCluster {
        stored_tag: Some(tag(1)),
        own_cmg_seen_ms: seen_ms,
        ..OwnCluster::default()
    }
}

/// An empty node hosting a replica of incarnation 1 opened at `since_ms`.
fn hosting(since_ms: u64) -> OwnCluster {
    OwnCluster {
        hosted_instance: Some(InstanceId(1)),
        hosted_since_ms: since_ms,
        ..OwnCluster::default()
    }
}

fn step(
    j: &mut Joiner,
    n: &ClusterStateNotice,
    f: &ClusterStateFacts,
    now: u64,
) -> ClusterStateStep {
    j.on_cluster_state(n, f, now, &timing())
}

#[test]
fn a_node_outside_the_physical_topology_ignores_a_cluster_state() {
    let mut j = Joiner::new(0);
    let f = ClusterStateFacts::default();
    assert_eq!(
        step(&mut j, &notice(1, 1), &f, 0),
        ClusterStateStep::NotAdmitted
    );
    assert_eq!(j.phase(), &JoinPhase::Waiting);
}

#[test]
fn a_cluster_state_that_overtook_the_admission_is_kept_for_it() {
    let mut j = Joiner::new(0);
    let outside = ClusterStateFacts::default();
    step(&mut j, &notice(1, 1), &outside, 100);
    step(&mut j, &notice(1, 2), &outside, 150);
    assert_eq!(
        j.take_early(160, 1_000),
        Some(notice(1, 2)),
        "the last one that came"
    );
    assert_eq!(j.take_early(160, 1_000), None, "taken once");
    step(&mut j, &notice(1, 3), &outside, 200);
    assert_eq!(
        j.take_early(1_201, 1_000),
        None,
        "older than a resend interval: the leader resent it or gave up"
    );
    // An admitted node acts at once and keeps nothing.
    step(&mut j, &notice(1, 4), &facts(OwnCluster::default()), 300);
    assert_eq!(j.take_early(300, 1_000), None);
}

#[test]
fn the_leader_of_an_init_this_node_cancelled_is_told_and_not_followed() {
    let mut j = Joiner::new(0);
    for decided in [false, true] {
        let f = ClusterStateFacts {
            cancelled: Some(decided),
            ..facts(OwnCluster::default())
        };
        assert_eq!(
            step(&mut j, &notice(1, 1), &f, 0),
            ClusterStateStep::TellCancelled { decided }
        );
    }
    assert_eq!(j.cluster(), None);
}

#[test]
fn an_empty_node_follows_the_leader_and_a_lower_term_is_stale() {
    let mut j = Joiner::new(0);
    let f = facts(OwnCluster::default());
    assert_eq!(
        step(&mut j, &notice(1, 3), &f, 0),
        ClusterStateStep::Follow(Some(JoinSend::Request))
    );
    assert_eq!(j.cluster(), Some(&(tag(1), InstanceId(1))));
    assert_eq!(step(&mut j, &notice(1, 2), &f, 0), ClusterStateStep::Stale);
    assert_eq!(
        step(&mut j, &notice(1, 3), &f, 0),
        ClusterStateStep::Follow(Some(JoinSend::Request))
    );
}

#[test]
fn an_accepted_node_follows_only_its_own_cluster() {
    let mut j = Joiner::new(0);
    let f = facts(initialized(0));
    // Long after its start, its CMG out of sight: not held by (b).
    let late = 100_000;
    assert!(matches!(
        step(&mut j, &notice(1, 1), &f, late),
        ClusterStateStep::Follow(_)
    ));
    j.accepted(1, 0);
    j.recovered(0);
    j.joined(2, 0);
    assert_eq!(
        step(&mut j, &notice(2, 1), &f, late),
        ClusterStateStep::Foreign
    );
    // A joined node that gets its own cluster's state (it was removed from the LT: a newer LT
    // version than the one it joined at) joins again.
    let mut removed = notice(1, 1);
    removed.lt_version = 3;
    assert_eq!(
        step(&mut j, &removed, &f, late),
        ClusterStateStep::Follow(Some(JoinSend::Request))
    );
}

#[test]
fn an_initialized_node_waits_for_its_own_cmg_while_it_is_or_was_lately_in_sight() {
    let t = timing();
    let own = initialized(1_000);
    let other = notice(2, 1);
    let bound = 1_000 + 2 * t.failure_timeout_ms;
    assert!(foreign_cluster(&other, false, &own, bound - 1, &t));
    assert!(
        !foreign_cluster(&other, false, &own, bound, &t),
        "its cluster is gone (scenario 3): it follows, and is rejected by tag"
    );
    let in_sight = OwnCluster {
        own_cmg_in_sight: true,
        ..own.clone()
    };
    assert!(foreign_cluster(&other, false, &in_sight, bound, &t));
    assert!(
        !foreign_cluster(&notice(1, 1), false, &in_sight, bound, &t),
        "its own"
    );
}

#[test]
fn a_voter_of_an_answered_cluster_is_held_by_it_for_good() {
    let t = timing();
    let own = OwnCluster {
        voter_of_answered_cluster: true,
        ..initialized(0)
    };
    assert!(foreign_cluster(
        &notice(2, 1),
        false,
        &own,
        u64::MAX / 2,
        &t
    ));
}

#[test]
fn an_empty_node_hosting_a_replica_follows_only_its_incarnation_until_it_is_a_stray() {
    let t = timing();
    let other = notice(2, 1);
    let bound = 1_000 + 2 * t.init_timeout_ms;
    let own = hosting(1_000);
    assert!(foreign_cluster(&other, false, &own, bound - 1, &t), "young");
    assert!(!foreign_cluster(&other, false, &own, bound, &t), "a stray");
    assert!(
        !foreign_cluster(&notice(1, 1), false, &own, 0, &t),
        "its own"
    );
    let led = OwnCluster {
        hosted_group_has_leader: true,
        ..own.clone()
    };
    assert!(foreign_cluster(&other, false, &led, bound, &t));
    let committed = OwnCluster {
        hosted_cmg_committed: true,
        ..own
    };
    assert!(
        foreign_cluster(&other, false, &committed, bound, &t),
        "a voter of a cluster that exists is no stray"
    );
}

#[test]
fn a_foreign_cluster_state_changes_nothing_of_the_join() {
    let mut j = Joiner::new(0);
    let f = facts(hosting(0));
    assert_eq!(
        step(&mut j, &notice(2, 5), &f, 0),
        ClusterStateStep::Foreign
    );
    assert_eq!(j.phase(), &JoinPhase::Waiting);
    assert_eq!(j.cluster(), None);
    assert!(!j.is_stale(&tag(2), 4), "its term is not remembered");
}
