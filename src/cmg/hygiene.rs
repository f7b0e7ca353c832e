//! LT hygiene (docs/protocol.md, "Node leave" and "LT hygiene"): which LT members and validated
//! nodes the CMG leader proposes to remove (`CmgCommand::NodesLeave`). Three rules, each a
//! pure function of the replicated state, the leader's duties and what the leader sees
//! ([`LeaderSight`]); the node carries out what they return (`src/node/cmg.rs`: the event, the
//! proposal, [`LeaderDuties::note_absent_proposed`]).
//!
//! - [`dead_members`]: a newly elected leader removes the entries its failure detection
//!   declared dead;
//! - [`leaves_on_failure`]: a member the leader's failure detection removes leaves the LT;
//! - [`absent_members`]: once the leader's topology has had `failure_timeout_ms` to fill, every
//!   entry whose address is not in its view leaves (again after `cluster_state_retry_ms`).

use super::leader_duties::LeaderDuties;
use super::sight::LeaderSight;
use super::CmgState;
use crate::bugs::PlantedBug;
use crate::config::Timing;
use crate::types::{LaunchId, NodeInfo, NodeName};

/// The LT members, then the validated nodes (each in name order).
fn entries(state: &CmgState) -> impl Iterator<Item = &NodeInfo> {
    state.lt.members.values().chain(state.validated.values())
}

/// On election ("a new leader also removes LT members it has itself declared dead"): the LT
/// members and validated nodes whose (address, launch) the leader's failure detection removed
/// from its view, as (name, launch), LT first. Empty: nothing to propose. `bug` may plant
/// `NewLeaderKeepsDeadMembers` (nobody is dead).
pub(crate) fn dead_members(
    state: &CmgState,
    sight: &LeaderSight<'_>,
    bug: Option<PlantedBug>,
) -> Vec<(NodeName, LaunchId)> {
    if bug == Some(PlantedBug::NewLeaderKeepsDeadMembers) {
        // Planted bug: the new leader skips its election-time duty.
        return Vec::new();
    }
    entries(state)
        .filter(|i| sight.is_buried(i.addr, i.launch))
        .map(|i| (i.name.clone(), i.launch))
        .collect()
}

/// On failure detection removing `name` of `launch` from the leader's physical topology: true
/// when that launch is in the LT or the validated set, and so leaves it (the leader proposes
/// `NodesLeave` for it).
pub(crate) fn leaves_on_failure(state: &CmgState, name: &str, launch: LaunchId) -> bool {
    state.lt.contains(name, launch)
        || state
            .validated
            .get(name)
            .is_some_and(|v| v.launch == launch)
}

/// Decision (down members leave the LT within a bound, docs/spec.md §5; Ignite's new CMG
/// leader removes LT members missing from its physical topology): at `now_ms`, once the
/// leader's own topology has had `timing.failure_timeout_ms` to fill (since its admission),
/// every LT member and validated node that is not [present](LeaderSight::present) in its view
/// and not proposed within the last `timing.cluster_state_retry_ms` (`duties`), as (name,
/// launch), LT first. Empty: nothing to propose. With [`leaves_on_failure`] this bounds how long
/// a down member stays in the LT whoever leads and whenever it was elected (docs/protocol.md,
/// "LT hygiene"). `bug` may plant `KeepAbsentMembers` (nobody is ever absent) or
/// `NewLeaderKeepsDeadMembers` (entries its failure detection declared dead are left to
/// [`dead_members`]).
pub(crate) fn absent_members(
    state: &CmgState,
    duties: &LeaderDuties,
    sight: &LeaderSight<'_>,
    now_ms: u64,
    timing: &Timing,
    bug: Option<PlantedBug>,
) -> Vec<(NodeName, LaunchId)> {
    if bug == Some(PlantedBug::KeepAbsentMembers) {
        // Planted bug: absent members stay in the LT.
        return Vec::new();
    }
    let Some(admitted_ms) = sight.admitted_at_ms else {
        return Vec::new();
    };
    if now_ms < admitted_ms + timing.failure_timeout_ms {
        return Vec::new();
    }
    let retry = timing.cluster_state_retry_ms;
    entries(state)
        .filter(|info| !sight.present(info))
        .filter(|info| {
            // Planted bug: the dead are the election-time duty's, which skips them.
            bug != Some(PlantedBug::NewLeaderKeepsDeadMembers)
                || !sight.is_buried(info.addr, info.launch)
        })
        .map(|info| (info.name.clone(), info.launch))
        .filter(|key| duties.absent_due(key, now_ms, retry))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::types::{Addr, ProductVersion, ProtocolVersion};

    fn addr(n: u8) -> Addr {
        Addr::new([10, 0, 0, n], 7000)
    }

    /// Node `n{n}` at `addr(n)`, launch `launch`.
    fn info(n: u8, launch: u64) -> NodeInfo {
        NodeInfo {
            name: format!("n{n}"),
            addr: addr(n),
            launch: LaunchId(launch),
            protocol: ProtocolVersion(1),
            product: ProductVersion::new(3, 0, 0),
        }
    }

    fn key(n: u8, launch: u64) -> (NodeName, LaunchId) {
        (format!("n{n}"), LaunchId(launch))
    }

    /// A state whose LT holds `lt` and whose validated set holds `validated`.
    fn state(lt: &[NodeInfo], validated: &[NodeInfo]) -> CmgState {
        let mut s = CmgState::default();
        for i in lt {
            s.lt.members.insert(i.name.clone(), i.clone());
        }
        for i in validated {
            s.validated.insert(i.name.clone(), i.clone());
        }
        s
    }

    /// Leader n1 (launch 1), admitted at 1000 ms, seeing `members` (launch 1 each).
    fn sight<'a>(
        members: &[u8],
        names: &'a [String],
        buried: &'a BTreeSet<(Addr, LaunchId)>,
    ) -> LeaderSight<'a> {
        let members: BTreeMap<_, _> = members
            .iter()
            .map(|n| (addr(*n), (names[*n as usize].as_str(), LaunchId(1))))
            .collect();
        LeaderSight {
            me: addr(1),
            launch: LaunchId(1),
            admitted_at_ms: Some(1_000),
            members,
            buried,
            silent: BTreeSet::new(),
        }
    }

    fn names() -> Vec<String> {
        (0..10).map(|n| format!("n{n}")).collect()
    }

    fn timing() -> Timing {
        Timing {
            failure_timeout_ms: 3_000,
            cluster_state_retry_ms: 1_000,
            ..Timing::default()
        }
    }

    #[test]
    fn a_new_leader_removes_the_entries_it_declared_dead() {
        let s = state(&[info(1, 1), info(2, 1)], &[info(3, 1)]);
        let buried: BTreeSet<_> = [(addr(2), LaunchId(1)), (addr(3), LaunchId(1))].into();
        let names = names();
        let view = sight(&[], &names, &buried);
        assert_eq!(dead_members(&s, &view, None), vec![key(2, 1), key(3, 1)]);
        // A restart at a buried address is another launch: left to its join.
        let s = state(&[info(2, 2)], &[]);
        assert!(dead_members(&s, &view, None).is_empty());
    }

    #[test]
    fn a_member_failure_detection_removes_leaves_when_that_launch_is_held() {
        let s = state(&[info(2, 1)], &[info(3, 1)]);
        assert!(leaves_on_failure(&s, "n2", LaunchId(1)));
        assert!(leaves_on_failure(&s, "n3", LaunchId(1)), "validated");
        assert!(!leaves_on_failure(&s, "n2", LaunchId(2)), "another launch");
        assert!(!leaves_on_failure(&s, "n4", LaunchId(1)), "not held");
    }

    #[test]
    fn absent_entries_leave_once_the_leaders_topology_had_a_failure_timeout_to_fill() {
        let s = state(&[info(1, 1), info(2, 1), info(3, 1)], &[info(4, 1)]);
        let duties = LeaderDuties::new(1);
        let buried = BTreeSet::new();
        let names = names();
        let view = sight(&[2], &names, &buried);
        let t = timing();
        assert!(
            absent_members(&s, &duties, &view, 3_999, &t, None).is_empty(),
            "admitted at 1000: the topology is still filling"
        );
        assert_eq!(
            absent_members(&s, &duties, &view, 4_000, &t, None),
            vec![key(3, 1), key(4, 1)],
            "the leader itself and a member in sight stay"
        );
        let unadmitted = LeaderSight {
            admitted_at_ms: None,
            ..view.clone()
        };
        assert!(absent_members(&s, &duties, &unadmitted, 9_000, &t, None).is_empty());
    }

    #[test]
    fn a_restart_at_the_entrys_address_is_present() {
        let s = state(&[info(2, 1)], &[]);
        let duties = LeaderDuties::new(1);
        let buried = BTreeSet::new();
        let names = names();
        let mut view = sight(&[], &names, &buried);
        view.members.insert(addr(2), ("n2", LaunchId(2)));
        assert!(absent_members(&s, &duties, &view, 10_000, &timing(), None).is_empty());
    }

    #[test]
    fn an_absent_entry_is_proposed_again_only_after_cluster_state_retry_ms() {
        let s = state(&[info(3, 1)], &[]);
        let mut duties = LeaderDuties::new(1);
        let buried = BTreeSet::new();
        let names = names();
        let view = sight(&[], &names, &buried);
        let t = timing();
        duties.note_absent_proposed(&[key(3, 1)], 5_000, t.cluster_state_retry_ms);
        assert!(absent_members(&s, &duties, &view, 5_999, &t, None).is_empty());
        assert_eq!(
            absent_members(&s, &duties, &view, 6_000, &t, None),
            vec![key(3, 1)]
        );
    }

    #[test]
    fn the_planted_bug_keeps_absent_members() {
        let s = state(&[info(3, 1)], &[]);
        let duties = LeaderDuties::new(1);
        let buried = BTreeSet::new();
        let names = names();
        let view = sight(&[], &names, &buried);
        let bug = Some(PlantedBug::KeepAbsentMembers);
        assert!(absent_members(&s, &duties, &view, 10_000, &timing(), bug).is_empty());
    }

    #[test]
    fn the_planted_bug_keeps_the_members_a_new_leader_declared_dead() {
        // n2 died under another leader (buried here); n3 is absent but never declared dead.
        let s = state(&[info(2, 1), info(3, 1)], &[]);
        let duties = LeaderDuties::new(1);
        let buried: BTreeSet<_> = [(addr(2), LaunchId(1))].into();
        let names = names();
        let view = sight(&[], &names, &buried);
        let bug = Some(PlantedBug::NewLeaderKeepsDeadMembers);
        assert_eq!(dead_members(&s, &view, None), vec![key(2, 1)]);
        assert!(dead_members(&s, &view, bug).is_empty());
        let t = timing();
        assert_eq!(
            absent_members(&s, &duties, &view, 10_000, &t, None),
            vec![key(2, 1), key(3, 1)]
        );
        assert_eq!(
            absent_members(&s, &duties, &view, 10_000, &t, bug),
            vec![key(3, 1)],
            "the dead are left to the election-time duty"
        );
    }
}
