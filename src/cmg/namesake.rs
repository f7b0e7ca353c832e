//! The CMG leader's judgement of a join request before any command is proposed (docs/protocol.md
//! Step 4: "a leader judges only nodes it sees" and "names are unique among live nodes"): wait,
//! refuse the joiner for good as a duplicate name, or propose its join. Pure functions of the
//! replicated state, the leader's duties and what the leader sees ([`LeaderSight`]); the node
//! carries out the [`JoinRequestStep`] (`src/node/cmg_validation.rs`).

use super::leader_duties::LeaderDuties;
use super::sight::LeaderSight;
use super::CmgState;
use crate::bugs::PlantedBug;
use crate::config::Timing;
use crate::types::{Addr, ClusterTag, InstanceId, NodeInfo};

/// What a joiner's vault holds, as its join request says (`stored`), against the CMG's cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinerVault {
    /// No cluster: an empty node.
    Empty,
    /// Another cluster's tag (the CMG rejects it by tag).
    OtherCluster,
    /// This cluster's tag, or a replica of this cluster's incarnation: a member (or a named
    /// node) of this cluster before, restarted (perhaps at another address: a node moved to
    /// another host with its vault).
    ThisCluster,
}

impl JoinerVault {
    /// What a joiner that stores `stored` and hosts a replica of incarnation `replica_of` holds,
    /// against `state`'s cluster. **Decision (a moved voter is known by its replica, issue 11,
    /// fuzz seed 5355):** a named node of the init that moved to another host before it was
    /// ever validated stores no cluster, but its vault holds the group's replica; it is this
    /// cluster's node, not an empty namesake of a voter (which is refused for good). Before, it
    /// was refused as a duplicate of its own previous instance and halted, and the CMG lost a
    /// voter for good.
    pub fn of(
        stored: Option<&ClusterTag>,
        replica_of: Option<InstanceId>,
        state: &CmgState,
    ) -> JoinerVault {
        let instance = state.cluster.as_ref().map(|c| c.instance);
        match stored {
            None if replica_of.is_some() && replica_of == instance => JoinerVault::ThisCluster,
            None => JoinerVault::Empty,
            Some(tag) if state.cluster.as_ref().is_some_and(|c| &c.config.tag == tag) => {
                JoinerVault::ThisCluster
            }
            Some(_) => JoinerVault::OtherCluster,
        }
    }
}

/// How a joiner's name is held by another instance ([`namesake`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Namesake {
    /// Nobody else holds it.
    None,
    /// A live holder at this address: the joiner is refused (`duplicate_name`).
    Alive(Addr),
    /// A holder this leader does not see: the joiner waits.
    Absent,
    /// A group voter at this address, not seen alive, and the joiner has an empty vault: the
    /// joiner is refused (`duplicate_name`) all the same — an empty node is never that voter.
    Voter(Addr),
}

/// What the CMG leader does with a join request ([`join_request_step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinRequestStep {
    /// Leave it unanswered: the joiner resends every `join_retry_ms`.
    Wait,
    /// Refuse it for good, without a CMG command: `DuplicateName`, the name held at `holder`.
    Refuse {
        /// The address of the node that holds the name.
        holder: Addr,
    },
    /// Leave it unanswered and remember since when (`LeaderDuties::note_holder_wait`): the
    /// joiner's vault holds this cluster and a live-looking namesake holds its name at another
    /// address — its own previous instance, moved away and not yet declared dead, or a live copy.
    WaitForHolder,
    /// Propose the join (`CmgCommand::Join`), unless the same request is already pending.
    Propose,
}

/// Whether another instance holds `info`'s name (docs/protocol.md, "names are unique among live
/// nodes"): an LT member or validated node of that name at another address — [`Namesake::Alive`]
/// when the leader sees that launch, else [`Namesake::Absent`].
///
/// A joiner with an empty vault (`empty_vault`) named like a CMG or Meta Storage voter whose
/// replica the group knows at another address also meets a namesake there: a voter's Raft id
/// belongs to the node that hosts its replica, and an empty node is never that node (fuzz seed
/// 9100015). The voter's address is the cluster state's, else `book_addr` (the address the
/// leader's address book holds for the name).
pub(crate) fn namesake(
    state: &CmgState,
    info: &NodeInfo,
    empty_vault: bool,
    sight: &LeaderSight<'_>,
    book_addr: Option<Addr>,
) -> Namesake {
    let voter_addr = state.cluster.as_ref().and_then(|c| {
        // Any node that was ever a group voter (named at init, or made a Meta Storage voter
        // since): a Meta Storage change the CMG committed may not have reached the Meta
        // Storage yet, whose voters are then still the old ones (fuzz seed 15006630).
        let voter = c.config.cmg_nodes.contains(&info.name)
            || c.config.ms_nodes.contains(&info.name)
            || c.addrs.contains_key(&info.name);
        if !empty_vault || !voter {
            return None;
        }
        c.addrs
            .get(&info.name)
            .copied()
            .or(book_addr)
            .filter(|a| *a != info.addr)
    });
    if let Some(addr) = voter_addr {
        if sight.alive_named(addr, &info.name) {
            return Namesake::Alive(addr);
        }
        // Decision (an empty namesake of a voter is refused, dead or alive): it can never be
        // that voter (the voter's replica holds its log), so waiting for the voter's name to be
        // free would be waiting for ever when the voter never comes back.
        return Namesake::Voter(addr);
    }
    let entries = state
        .lt
        .members
        .get(&info.name)
        .into_iter()
        .chain(state.validated.get(&info.name));
    let mut found = Namesake::None;
    for entry in entries {
        if entry.addr == info.addr {
            continue;
        }
        if sight.alive_launch(entry.addr, entry.launch) {
            return Namesake::Alive(entry.addr);
        }
        found = Namesake::Absent;
    }
    found
}

/// What the CMG leader does with the join request of `info` (`vault`: what its vault holds) at
/// `now_ms`, in order:
///
/// 1. Decision (a leader judges only nodes it sees, fuzz seed 9100044): a joiner missing from
///    the leader's physical topology waits until the topology admits it. The leader removes
///    absent LT members and validated nodes (LT hygiene); validating one it does not see would
///    be undone at once, and would let its name be judged without its holder.
/// 2. Decision (names are unique among live nodes, docs/spec.md §5): a live holder of the name
///    at another address ([`namesake`]), or an empty joiner's voter namesake, refuses it for
///    good, before any command is proposed and before the name's address is learnt (so no Raft
///    message of the name's replica ever goes to the newcomer). A holder the leader does not
///    see makes it wait: the holder may be alive in a part of the topology this leader does not
///    see (a new leader, a topology split); the join waits until the holder is seen alive
///    (refused) or leaves the LT (then the name is free).
///    **Decision (a node moved to another host, docs/protocol.md "Restart at another
///    address"):** a joiner whose vault holds this cluster is not refused at once for a live
///    holder: its own previous instance, at its old address, is still in sight until failure
///    detection declares it dead. It waits (`WaitForHolder`) for up to `2 × failure_timeout_ms`
///    from this leader's first judgement of it: a dead holder leaves the leader's view
///    `failure_timeout_ms` after it was last heard (before the joiner started), and then its
///    entry leaves the LT and the name is free; a holder still in sight after that lives — a
///    second live instance (a copy of the vault) — and the joiner is refused as any duplicate.
/// 3. Another launch's join under this name is in flight (proposed, not yet applied,
///    `duties`): it waits, and is judged once that one is applied, so two namesakes are never
///    both validated.
///
/// Otherwise its join is proposed. `bug` may plant `AcceptDuplicateName` (no namesake is looked
/// at).
#[allow(clippy::too_many_arguments)]
pub(crate) fn join_request_step(
    state: &CmgState,
    duties: &LeaderDuties,
    info: &NodeInfo,
    vault: JoinerVault,
    sight: &LeaderSight<'_>,
    book_addr: Option<Addr>,
    (now_ms, timing): (u64, &Timing),
    bug: Option<PlantedBug>,
) -> JoinRequestStep {
    let empty_vault = vault == JoinerVault::Empty;
    let namesake = if bug == Some(PlantedBug::AcceptDuplicateName) {
        // Planted bug: nobody else's hold on the name is looked at.
        Namesake::None
    } else {
        namesake(state, info, empty_vault, sight, book_addr)
    };
    if !sight.present(info) {
        // Decision (a duplicate of a live holder is refused even unseen, fuzz seed 31343358):
        // the refusal judges the holder, not the joiner — a joiner that is not this cluster's
        // node (nothing in its vault says so) named like a node alive in the leader's sight
        // (the leader itself, say) is refused though the leader does not see it. Before, a
        // namesake of the leader that the leader's view never admitted (its own name at another
        // address) asked to join for ever, unanswered.
        return match namesake {
            Namesake::Alive(holder) if vault != JoinerVault::ThisCluster => {
                JoinRequestStep::Refuse { holder }
            }
            _ => JoinRequestStep::Wait,
        };
    }
    match namesake {
        Namesake::Alive(holder) if vault == JoinerVault::ThisCluster => {
            let since = duties.holder_wait_since(&info.name, info.launch);
            match since {
                Some(since) if now_ms >= since + 2 * timing.failure_timeout_ms => {
                    JoinRequestStep::Refuse { holder }
                }
                _ => JoinRequestStep::WaitForHolder,
            }
        }
        Namesake::Alive(holder) | Namesake::Voter(holder) => JoinRequestStep::Refuse { holder },
        Namesake::Absent => JoinRequestStep::Wait,
        Namesake::None if duties.join_in_flight(&info.name, info.launch) => JoinRequestStep::Wait,
        Namesake::None => JoinRequestStep::Propose,
    }
}

#[cfg(test)]
mod tests;
