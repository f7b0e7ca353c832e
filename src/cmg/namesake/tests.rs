//! Unit tests of the leader's judgement of a join request: the cases of docs/protocol.md Step 4
//! ("a leader judges only nodes it sees", "names are unique among live nodes").

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::cluster_config::ClusterConfig;
use crate::cmg::{ClusterState, PendingKey};
use crate::types::{ClusterId, ClusterTag, InstanceId, LaunchId, ProductVersion, ProtocolVersion};

fn addr(n: u8) -> Addr {
    Addr::new([10, 0, 0, n], 7000)
}

fn info(name: &str, at: u8, launch: u64) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        addr: addr(at),
        launch: LaunchId(launch),
        protocol: ProtocolVersion(1),
        product: ProductVersion::new(3, 0, 0),
    }
}

/// A cluster whose CMG and Meta Storage voters are `a` (at 1, the leader) and `b` (at 2); `b`'s
/// address is known to the group only when `b_known`.
fn state(b_known: bool) -> CmgState {
    let voters = vec!["a".to_string(), "b".to_string()];
    let mut addrs = BTreeMap::from([("a".to_string(), addr(1))]);
    if b_known {
        addrs.insert("b".into(), addr(2));
    }
    CmgState {
        cluster: Some(ClusterState {
            config: ClusterConfig {
                tag: ClusterTag {
                    name: "c".into(),
                    id: ClusterId(1),
                },
                cmg_nodes: voters.clone(),
                ms_nodes: voters.clone(),
                ms_version: 1,
            },
            product: ProductVersion::new(3, 0, 0),
            protocol: ProtocolVersion(1),
            initial_ms_nodes: voters,
            instance: InstanceId(1),
            addrs,
        }),
        ..CmgState::default()
    }
}

/// `state(true)` with `holder` in the LT.
fn held_in_lt(holder: NodeInfo) -> CmgState {
    let mut s = state(true);
    s.lt.members.insert(holder.name.clone(), holder);
    s
}

/// Leader `a` at 1 (launch 1) seeing `members`: (address, name, launch).
fn sight<'a>(
    members: &[(u8, &'a str, u64)],
    buried: &'a BTreeSet<(Addr, LaunchId)>,
) -> LeaderSight<'a> {
    LeaderSight {
        me: addr(1),
        launch: LaunchId(1),
        admitted_at_ms: Some(0),
        members: members
            .iter()
            .map(|(at, name, launch)| (addr(*at), (*name, LaunchId(*launch))))
            .collect(),
        buried,
        silent: BTreeSet::new(),
    }
}

/// An empty vault when `empty`, else another cluster's (judged as any non-empty vault).
fn vault(empty: bool) -> JoinerVault {
    if empty {
        JoinerVault::Empty
    } else {
        JoinerVault::OtherCluster
    }
}

/// At time 0 with the default timers.
fn at_start() -> (u64, &'static Timing) {
    static TIMING: std::sync::OnceLock<Timing> = std::sync::OnceLock::new();
    (0, TIMING.get_or_init(Timing::default))
}

/// The step for `joiner` (a non-empty vault unless `empty`), with no join in flight.
fn step(s: &CmgState, joiner: &NodeInfo, empty: bool, view: &LeaderSight<'_>) -> JoinRequestStep {
    let duties = LeaderDuties::new(1);
    join_request_step(
        s,
        &duties,
        joiner,
        vault(empty),
        view,
        None,
        at_start(),
        None,
    )
}

#[test]
fn a_joiner_the_leader_does_not_see_waits() {
    let none = BTreeSet::new();
    let view = sight(&[], &none);
    assert_eq!(
        step(&state(true), &info("z", 9, 1), false, &view),
        JoinRequestStep::Wait
    );
}

#[test]
fn a_free_name_is_proposed() {
    let none = BTreeSet::new();
    let view = sight(&[(9, "z", 1)], &none);
    assert_eq!(
        step(&state(true), &info("z", 9, 1), false, &view),
        JoinRequestStep::Propose
    );
}

#[test]
fn a_live_holder_at_another_address_refuses_the_joiner() {
    let s = held_in_lt(info("z", 3, 1));
    let none = BTreeSet::new();
    let view = sight(&[(3, "z", 1), (9, "z", 1)], &none);
    assert_eq!(
        step(&s, &info("z", 9, 1), false, &view),
        JoinRequestStep::Refuse { holder: addr(3) }
    );
    // The same for a validated holder.
    let mut s = state(true);
    s.validated.insert("z".into(), info("z", 3, 1));
    assert_eq!(
        step(&s, &info("z", 9, 1), false, &view),
        JoinRequestStep::Refuse { holder: addr(3) }
    );
}

/// Decision (a leader judges a join on what its failure detector says now, fuzz seed
/// 50037096): a holder in the view but silent for a failure timeout (not swept yet: the leader
/// is back from a pause) is not a live holder — the joiner waits instead of being refused.
#[test]
fn a_silent_holder_makes_the_joiner_wait_not_refused() {
    let s = held_in_lt(info("z", 3, 1));
    let none = BTreeSet::new();
    let mut view = sight(&[(3, "z", 1), (9, "z", 1)], &none);
    view.silent.insert(addr(3));
    assert_eq!(
        step(&s, &info("z", 9, 1), false, &view),
        JoinRequestStep::Wait
    );
}

#[test]
fn the_leader_itself_is_a_live_holder() {
    let s = held_in_lt(info("a", 1, 1));
    let none = BTreeSet::new();
    let view = sight(&[(9, "a", 1)], &none);
    assert_eq!(
        step(&s, &info("a", 9, 1), false, &view),
        JoinRequestStep::Refuse { holder: addr(1) }
    );
}

/// A joiner the leader does not see, named like a node alive in the leader's sight (here the
/// leader itself), is refused all the same: the refusal judges the holder. One whose vault holds
/// this cluster waits (it may be that node, moved) (fuzz seed 31343358).
#[test]
fn an_unseen_duplicate_of_a_live_holder_is_refused() {
    let s = held_in_lt(info("a", 1, 1));
    let none = BTreeSet::new();
    let view = sight(&[], &none);
    assert_eq!(
        step(&s, &info("a", 9, 1), true, &view),
        JoinRequestStep::Refuse { holder: addr(1) }
    );
    let duties = LeaderDuties::new(1);
    let this_cluster = join_request_step(
        &s,
        &duties,
        &info("a", 9, 1),
        JoinerVault::ThisCluster,
        &view,
        None,
        at_start(),
        None,
    );
    assert_eq!(this_cluster, JoinRequestStep::Wait);
    // A free name, unseen: it waits to be seen.
    assert_eq!(
        step(&s, &info("q", 9, 1), true, &view),
        JoinRequestStep::Wait
    );
}

#[test]
fn a_holder_the_leader_does_not_see_makes_the_joiner_wait() {
    let s = held_in_lt(info("z", 3, 1));
    let none = BTreeSet::new();
    let view = sight(&[(9, "z", 1)], &none);
    assert_eq!(
        namesake(&s, &info("z", 9, 1), false, &view, None),
        Namesake::Absent
    );
    assert_eq!(
        step(&s, &info("z", 9, 1), false, &view),
        JoinRequestStep::Wait
    );
    // A holder replaced by a restart at its address (another launch) is not alive either.
    let view = sight(&[(3, "z", 2), (9, "z", 1)], &none);
    assert_eq!(
        step(&s, &info("z", 9, 1), false, &view),
        JoinRequestStep::Wait
    );
}

#[test]
fn a_restart_at_the_holders_address_replaces_the_entry() {
    let s = held_in_lt(info("z", 9, 1));
    let none = BTreeSet::new();
    let view = sight(&[(9, "z", 2)], &none);
    assert_eq!(
        step(&s, &info("z", 9, 2), false, &view),
        JoinRequestStep::Propose
    );
}

#[test]
fn an_empty_namesake_of_a_voter_is_refused_dead_or_alive() {
    let none = BTreeSet::new();
    let joiner = info("b", 9, 1);
    let dead = sight(&[(9, "b", 1)], &none);
    assert_eq!(
        namesake(&state(true), &joiner, true, &dead, None),
        Namesake::Voter(addr(2))
    );
    assert_eq!(
        step(&state(true), &joiner, true, &dead),
        JoinRequestStep::Refuse { holder: addr(2) }
    );
    let alive = sight(&[(2, "b", 1), (9, "b", 1)], &none);
    assert_eq!(
        namesake(&state(true), &joiner, true, &alive, None),
        Namesake::Alive(addr(2))
    );
    // A joiner with a stored cluster may be that voter moved: the LT decides.
    assert_eq!(
        step(&state(true), &joiner, false, &dead),
        JoinRequestStep::Propose
    );
    // The voter itself, empty at its own address (it lost its vault), is no namesake.
    let own = sight(&[(2, "b", 1)], &none);
    assert_eq!(
        step(&state(true), &info("b", 2, 1), true, &own),
        JoinRequestStep::Propose
    );
}

#[test]
fn a_voters_address_unknown_to_the_group_comes_from_the_address_book() {
    let none = BTreeSet::new();
    let joiner = info("b", 9, 1);
    let view = sight(&[(9, "b", 1)], &none);
    assert_eq!(
        namesake(&state(false), &joiner, true, &view, None),
        Namesake::None
    );
    assert_eq!(
        namesake(&state(false), &joiner, true, &view, Some(addr(4))),
        Namesake::Voter(addr(4))
    );
}

#[test]
fn another_launchs_join_in_flight_makes_the_joiner_wait() {
    let none = BTreeSet::new();
    let view = sight(&[(9, "z", 2)], &none);
    let mut duties = LeaderDuties::new(1);
    duties.remember_pending(PendingKey::Join("z".into(), LaunchId(1), 1), addr(8));
    let s = state(true);
    let ask = |launch| {
        let joiner = info("z", 9, launch);
        join_request_step(
            &s,
            &duties,
            &joiner,
            vault(false),
            &view,
            None,
            at_start(),
            None,
        )
    };
    assert_eq!(ask(2), JoinRequestStep::Wait);
    assert_eq!(ask(1), JoinRequestStep::Propose, "its own launch");
}

#[test]
fn the_planted_bug_ignores_namesakes() {
    let s = held_in_lt(info("z", 3, 1));
    let none = BTreeSet::new();
    let view = sight(&[(3, "z", 1), (9, "z", 1)], &none);
    let duties = LeaderDuties::new(1);
    let bug = Some(PlantedBug::AcceptDuplicateName);
    assert_eq!(
        join_request_step(
            &s,
            &duties,
            &info("z", 9, 1),
            vault(false),
            &view,
            None,
            at_start(),
            bug
        ),
        JoinRequestStep::Propose
    );
}

#[test]
fn what_a_joiner_stores_is_judged_against_the_cluster() {
    let s = state(true);
    let own = s.cluster.as_ref().unwrap().config.tag.clone();
    let other = ClusterTag {
        name: "c".into(),
        id: ClusterId(2),
    };
    let instance = s.cluster.as_ref().unwrap().instance;
    assert_eq!(JoinerVault::of(None, None, &s), JoinerVault::Empty);
    assert_eq!(
        JoinerVault::of(Some(&own), None, &s),
        JoinerVault::ThisCluster
    );
    assert_eq!(
        JoinerVault::of(Some(&other), None, &s),
        JoinerVault::OtherCluster
    );
    // A named node that moved before it was ever validated stores no cluster but hosts the
    // group's replica (fuzz seed 5355); a replica of another incarnation is no such claim.
    assert_eq!(
        JoinerVault::of(None, Some(instance), &s),
        JoinerVault::ThisCluster
    );
    let other_instance = crate::types::InstanceId(instance.0 ^ 1);
    assert_eq!(
        JoinerVault::of(None, Some(other_instance), &s),
        JoinerVault::Empty
    );
}

/// A member of this cluster restarted at another address (moved) while its old instance is
/// still in sight waits for the old one to be declared dead, for `2 × failure_timeout_ms` from
/// the first judgement; a holder still alive after that is a live copy, refused.
#[test]
fn a_member_of_this_cluster_at_another_address_waits_for_its_old_instance() {
    let s = held_in_lt(info("z", 3, 1));
    let none = BTreeSet::new();
    let both = sight(&[(3, "z", 1), (9, "z", 2)], &none);
    let moved = info("z", 9, 2);
    let timing = Timing::default();
    let limit = 2 * timing.failure_timeout_ms;
    let mut duties = LeaderDuties::new(1);
    let judge = |duties: &LeaderDuties, view: &LeaderSight<'_>, now: u64| {
        let vault = JoinerVault::ThisCluster;
        join_request_step(&s, duties, &moved, vault, view, None, (now, &timing), None)
    };
    assert_eq!(judge(&duties, &both, 1_000), JoinRequestStep::WaitForHolder);
    duties.note_holder_wait("z", LaunchId(2), 1_000);
    duties.note_holder_wait("z", LaunchId(2), 2_500);
    assert_eq!(
        duties.holder_wait_since("z", LaunchId(2)),
        Some(1_000),
        "the first counts"
    );
    assert_eq!(
        judge(&duties, &both, 1_000 + limit - 1),
        JoinRequestStep::WaitForHolder
    );
    // The old instance declared dead: its entry is absent, then leaves the LT; the name is free.
    let buried: BTreeSet<_> = [(addr(3), LaunchId(1))].into();
    let moved_only = sight(&[(9, "z", 2)], &buried);
    assert_eq!(judge(&duties, &moved_only, 3_000), JoinRequestStep::Wait);
    let freed = state(true);
    let vault = JoinerVault::ThisCluster;
    assert_eq!(
        join_request_step(
            &freed,
            &duties,
            &moved,
            vault,
            &moved_only,
            None,
            (3_000, &timing),
            None
        ),
        JoinRequestStep::Propose
    );
    // Still alive after the wait: a second live instance of the vault.
    assert_eq!(
        judge(&duties, &both, 1_000 + limit),
        JoinRequestStep::Refuse { holder: addr(3) }
    );
    // Another cluster's node (or an empty one) is refused at once, as before.
    let other = join_request_step(
        &s,
        &duties,
        &moved,
        vault_of_other(),
        &both,
        None,
        (0, &timing),
        None,
    );
    assert_eq!(other, JoinRequestStep::Refuse { holder: addr(3) });
}

fn vault_of_other() -> JoinerVault {
    vault(false)
}
