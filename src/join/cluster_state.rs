//! A cluster state reaches a node (docs/protocol.md Steps 3 and 4): whether it acts on it, and
//! how. The rule is [`Joiner::on_cluster_state`], with the "one cluster per node" decision in
//! [`foreign_cluster`]; both take what other components know as plain values
//! ([`ClusterStateFacts`], [`OwnCluster`], gathered by `src/node/join.rs` and
//! `src/node/membership.rs`) and return what the node does ([`ClusterStateStep`]).

use super::{JoinSend, Joiner};
use crate::config::Timing;
use crate::message::ClusterStateNotice;
use crate::types::{ClusterTag, InstanceId};

/// What binds a node to a cluster of its own ([`foreign_cluster`]): facts of its stored
/// cluster, its physical topology and its replicas. Times are milliseconds of the node's clock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OwnCluster {
    /// The tag of its stored cluster (`None`: its vault holds no cluster).
    pub stored_tag: Option<ClusterTag>,
    /// A majority of its own cluster's CMG voters (itself included) is in its physical topology.
    pub own_cmg_in_sight: bool,
    /// When such a majority was last in sight (or when the node started).
    pub own_cmg_seen_ms: u64,
    /// It is a CMG voter of its own cluster whose log says the init was answered to a user.
    pub voter_of_answered_cluster: bool,
    /// The incarnation of the replicas it hosts, if any.
    pub hosted_instance: Option<InstanceId>,
    /// A replica it hosts knows a leader.
    pub hosted_group_has_leader: bool,
    /// When it last opened a replica.
    pub hosted_since_ms: u64,
    /// Its CMG replica's log committed the cluster-init and applied no cancel of it.
    pub hosted_cmg_committed: bool,
}

/// What the node knows, besides its joiner, when a cluster state reaches it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClusterStateFacts {
    /// The node is in its physical topology.
    pub admitted: bool,
    /// The node cancelled the notice's init (its CMG incarnation) on its side: `Some(decided)`,
    /// whether the CMG committed that cancel.
    pub cancelled: Option<bool>,
    /// What binds it to a cluster of its own.
    pub own: OwnCluster,
}

/// What the node does with a cluster state ([`Joiner::on_cluster_state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClusterStateStep {
    /// Nothing yet: the node is not in its physical topology; the notice is kept and acted on
    /// when it enters it ([`Joiner::take_early`]; the leader also resends).
    NotAdmitted,
    /// The node cancelled this init on its side: it tells the leader (`CancelInit`, `decided`)
    /// and does not join a cluster that no longer exists.
    TellCancelled {
        /// The cancel is decided.
        decided: bool,
    },
    /// Reported (`ClusterStateReceived`, stale) and ignored: a term below the highest seen for
    /// its tag.
    Stale,
    /// Reported (`ClusterStateReceived`, foreign) and ignored: a cluster this node must not
    /// follow; it asks its view whether its own init was cancelled.
    Foreign,
    /// Reported, and followed: the node learns the leader's address and sends it this message
    /// (`None`: nothing now).
    Follow(Option<JoinSend>),
}

impl Joiner {
    /// A cluster state `notice` reaches the node at `now_ms` (docs/protocol.md Steps 3 and 4),
    /// in order:
    ///
    /// 1. Decision (step 1 before step 3): a node acts on a cluster state only once it is in
    ///    the physical topology (the notice can overtake the admission): the last such notice is
    ///    kept and acted on when the node enters it ([`Joiner::take_early`]).
    /// 2. A leader of a cluster whose init this node cancelled on its side missed the cancel: it
    ///    is told, and the node does not join it.
    /// 3. A term below the highest seen for the notice's tag is stale.
    /// 4. A cluster the node must not follow ([`foreign_cluster`]) is foreign.
    /// 5. Otherwise the node follows its leader ([`Joiner::follow`]: the join message to send).
    pub fn on_cluster_state(
        &mut self,
        notice: &ClusterStateNotice,
        facts: &ClusterStateFacts,
        now_ms: u64,
        timing: &Timing,
    ) -> ClusterStateStep {
        if !facts.admitted {
            self.early = Some((Box::new(notice.clone()), now_ms));
            return ClusterStateStep::NotAdmitted;
        }
        if let Some(decided) = facts.cancelled {
            return ClusterStateStep::TellCancelled { decided };
        }
        if self.is_stale(&notice.tag, notice.term) {
            return ClusterStateStep::Stale;
        }
        if foreign_cluster(notice, self.is_accepted(), &facts.own, now_ms, timing) {
            return ClusterStateStep::Foreign;
        }
        ClusterStateStep::Follow(self.follow(notice, now_ms, timing.failure_timeout_ms))
    }
}

impl Joiner {
    /// The node entered its physical topology at `now_ms`: the cluster state that overtook its
    /// admission, if one came within the last `retry_ms` (`cluster_state_retry_ms`; an older one
    /// the leader has resent since, or gave up on). Taken once.
    pub fn take_early(&mut self, now_ms: u64, retry_ms: u64) -> Option<ClusterStateNotice> {
        let (notice, at_ms) = self.early.take()?;
        (now_ms <= at_ms + retry_ms).then_some(*notice)
    }
}

/// Decision (one cluster per node, docs/protocol.md Step 4): whether `notice` comes from a
/// cluster the node must not follow at `now_ms`. `accepted`: a cluster accepted the node
/// (catching up, ready, or joined).
///
/// - (a) An accepted node follows only its own cluster's leaders.
/// - (b) An initialized node not yet accepted waits for its own CMG while a majority of it is in
///   its physical topology, or was within `2 * failure_timeout_ms` (a node that just started
///   has not seen its topology form yet); a CMG it cannot see a majority of (its cluster is
///   gone, scenario 3) does not hold it back.
/// - (d) A CMG voter of its own cluster whose log says the init was answered to a user is held
///   by that cluster for good: a user was told it exists (docs/spec.md §5), and another
///   cluster's CMG would refuse the voter (tag mismatch, final) while its own waits for it
///   (fuzz seed 19037789).
/// - (c) An empty node hosting a replica of an init follows only that incarnation while its
///   group has a leader or is younger than `2 * init_timeout_ms`; a stray group (its init died
///   with its initiator) lets go after that — unless its CMG log committed the cluster-init:
///   its cluster exists, and the node is one of its voters (fuzz seed 19014854).
pub(crate) fn foreign_cluster(
    notice: &ClusterStateNotice,
    accepted: bool,
    own: &OwnCluster,
    now_ms: u64,
    timing: &Timing,
) -> bool {
    match &own.stored_tag {
        Some(tag) if accepted => *tag != notice.tag,
        Some(tag) => {
            *tag != notice.tag
                && (own.own_cmg_in_sight
                    || now_ms < own.own_cmg_seen_ms + 2 * timing.failure_timeout_ms
                    || own.voter_of_answered_cluster)
        }
        None => {
            own.hosted_instance
                .is_some_and(|instance| instance != notice.cmg_instance)
                && (own.hosted_group_has_leader
                    || now_ms < own.hosted_since_ms + 2 * timing.init_timeout_ms
                    || own.hosted_cmg_committed)
        }
    }
}

#[cfg(test)]
mod tests;
