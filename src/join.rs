//! Step 4, the joining node's side: on the cluster state it sends a join request to the CMG
//! leader; once validated it stores the tag (it is now initialized), starts its Meta Storage part,
//! catches up, and sends join ready; it is joined when the CMG puts it in the logical topology.
//! A rejection is final: the node stops and leaves the physical topology.
//!
//! This module is the component: [`Joiner`] owns the join's phase, the CMG leader followed, the
//! highest leader term seen per cluster tag, the join attempt and the retry clocks, and decides
//! what only they decide — whether a cluster state is stale, which message goes to the leader
//! next, whether an answer belongs to the current attempt, when to resend — and, given what the
//! node's other components know as plain values, how a cluster state is handled
//! (`src/join/cluster_state.rs`: stale, foreign, or followed). What follows (events, the
//! messages themselves, the vault, the replicas) the node routes: `src/node/join.rs`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::message::ClusterStateNotice;
use crate::types::{Addr, ClusterTag, InstanceId, NodeName};

/// How many cluster tags a node remembers the highest leader term of.
const MAX_TAGS_REMEMBERED: usize = 16;

mod cluster_state;
pub(crate) use cluster_state::{ClusterStateFacts, ClusterStateStep, OwnCluster};

/// Where a node stands in its join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinPhase {
    /// Waiting for a CMG leader's cluster state (an empty node: waiting for init).
    Waiting,
    /// Join request sent; waiting for validation.
    Requesting,
    /// Validated; catching up the Meta Storage to `target_ms_version`.
    Recovering {
        /// The cluster's Meta Storage version at validation.
        target_ms_version: u64,
    },
    /// Join ready sent.
    ReadySent,
    /// In the logical topology.
    Joined {
        /// The LT version that included it.
        lt_version: u64,
    },
}

/// Which message the joiner sends its leader next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinSend {
    /// A join request (`Message::JoinRequest`).
    Request,
    /// A join ready (`Message::JoinReady`).
    Ready,
}

/// Where a join request or join ready goes, and under which attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LeaderAddress {
    /// The leader's name.
    pub name: NodeName,
    /// Its address.
    pub addr: Addr,
    /// The joiner's attempt the message carries.
    pub attempt: u64,
}

/// The joining node's state.
#[derive(Clone, Debug)]
pub(crate) struct Joiner {
    /// Where the join stands (read through [`Joiner::phase`]).
    phase: JoinPhase,
    /// The CMG leader it talks to.
    leader: Option<(NodeName, Addr)>,
    /// Highest leader term seen per cluster tag.
    terms: BTreeMap<ClusterTag, u64>,
    /// The cluster (tag, CMG incarnation) it follows (read through [`Joiner::cluster`]).
    cluster: Option<(ClusterTag, InstanceId)>,
    last_sent_ms: u64,
    last_learner_ask_ms: u64,
    /// When it last asked its view whether its init was cancelled (`Node::ask_if_cancelled`).
    last_cancel_query_ms: u64,
    /// This launch's join attempt: a new one each time the node starts asking to be validated.
    attempt: u64,
}

impl Joiner {
    /// A joiner waiting for a cluster state, at attempt 0.
    pub fn new() -> Joiner {
        Joiner {
            phase: JoinPhase::Waiting,
            leader: None,
            terms: BTreeMap::new(),
            cluster: None,
            last_sent_ms: 0,
            last_learner_ask_ms: 0,
            last_cancel_query_ms: 0,
            attempt: 0,
        }
    }

    /// Where the join stands.
    pub fn phase(&self) -> &JoinPhase {
        &self.phase
    }

    /// The cluster (tag, CMG incarnation) it follows, if any: the init glue asks whether a
    /// requested init's cluster is the one it is asking to join.
    pub fn cluster(&self) -> Option<&(ClusterTag, InstanceId)> {
        self.cluster.as_ref()
    }

    /// True once a cluster accepted the node: catching up, ready, or joined.
    pub fn is_accepted(&self) -> bool {
        matches!(
            self.phase,
            JoinPhase::Recovering { .. } | JoinPhase::ReadySent | JoinPhase::Joined { .. }
        )
    }

    /// True when the node is in its cluster's logical topology.
    pub fn is_joined(&self) -> bool {
        matches!(self.phase, JoinPhase::Joined { .. })
    }

    /// The name of the leader followed ("" when none): who a join rejection came from.
    pub fn leader_name(&self) -> NodeName {
        self.leader
            .as_ref()
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    }

    /// Back to waiting for a cluster state: the cluster followed is gone (the attempt, the terms
    /// and the clocks are kept).
    pub fn reset(&mut self) {
        self.phase = JoinPhase::Waiting;
        self.leader = None;
        self.cluster = None;
    }

    /// True when a cluster state of `tag` at `term` is older than one seen for that tag.
    pub fn is_stale(&self, tag: &ClusterTag, term: u64) -> bool {
        term < self.terms.get(tag).copied().unwrap_or(0)
    }

    /// Follows the leader of a cluster state the node acts on (neither stale nor foreign): it
    /// remembers the cluster, the term (for at most `MAX_TAGS_REMEMBERED` tags) and the leader,
    /// and says what to send it. A waiting, requesting or joined node asks to join (under a new
    /// attempt unless it was already requesting from the same cluster, so that a late answer of
    /// another cluster is ignored); a ready node resends join ready; a recovering node that has
    /// been catching up for `failure_timeout_ms` since it last sent asks again under a new
    /// attempt (docs/protocol.md, "a recovering node asks again").
    pub fn follow(
        &mut self,
        notice: &ClusterStateNotice,
        now_ms: u64,
        failure_timeout_ms: u64,
    ) -> Option<JoinSend> {
        let followed = Some((notice.tag.clone(), notice.cmg_instance));
        let cluster_changed = self.cluster != followed;
        self.cluster = followed;
        if self.terms.len() >= MAX_TAGS_REMEMBERED && !self.terms.contains_key(&notice.tag) {
            if let Some(first) = self.terms.keys().next().cloned() {
                self.terms.remove(&first);
            }
        }
        self.terms.insert(notice.tag.clone(), notice.term);
        self.leader = Some((notice.leader.name.clone(), notice.leader.addr));
        match self.phase {
            JoinPhase::Waiting | JoinPhase::Requesting | JoinPhase::Joined { .. } => {
                if self.phase != JoinPhase::Requesting || cluster_changed {
                    self.attempt += 1;
                }
                self.phase = JoinPhase::Requesting;
                Some(JoinSend::Request)
            }
            JoinPhase::ReadySent => Some(JoinSend::Ready),
            JoinPhase::Recovering { .. } => {
                if now_ms >= self.last_sent_ms + failure_timeout_ms {
                    self.attempt += 1;
                    self.phase = JoinPhase::Requesting;
                    Some(JoinSend::Request)
                } else {
                    None
                }
            }
        }
    }

    /// A node that is not the leader (`from`) named another (`hint`): the joiner turns to it if
    /// `from` is the leader it follows and the hint names someone else. True when it did.
    pub fn redirect(&mut self, from: Addr, hint: (NodeName, Addr)) -> bool {
        if self.leader.as_ref().map(|(_, a)| *a) != Some(from) || hint.1 == from {
            return false;
        }
        self.leader = Some(hint);
        true
    }

    /// The message the joiner waits for an answer to, if any.
    pub fn awaiting(&self) -> Option<JoinSend> {
        match self.phase {
            JoinPhase::Requesting => Some(JoinSend::Request),
            JoinPhase::ReadySent => Some(JoinSend::Ready),
            _ => None,
        }
    }

    /// The message to send again at `now_ms`: the one it waits an answer to, once
    /// `join_retry_ms` passed since it last sent.
    pub fn resend_due(&self, now_ms: u64, join_retry_ms: u64) -> Option<JoinSend> {
        if now_ms >= self.last_sent_ms + join_retry_ms {
            self.awaiting()
        } else {
            None
        }
    }

    /// Records a join request or join ready sent at `now_ms`: where it goes and its attempt.
    /// `None` (nothing sent) when no leader is known.
    pub fn sending(&mut self, now_ms: u64) -> Option<LeaderAddress> {
        let (name, addr) = self.leader.clone()?;
        self.last_sent_ms = now_ms;
        Some(LeaderAddress {
            name,
            addr,
            attempt: self.attempt,
        })
    }

    /// True when a join response of `attempt` answers the request the joiner waits on.
    pub fn expects_response(&self, attempt: u64) -> bool {
        attempt == self.attempt && self.phase == JoinPhase::Requesting
    }

    /// True when a join ready response of `attempt` answers the join ready the joiner waits on.
    pub fn expects_ready_response(&self, attempt: u64) -> bool {
        attempt == self.attempt && self.phase == JoinPhase::ReadySent
    }

    /// Validated: the node catches up its Meta Storage to `target_ms_version`, asking to be a
    /// learner at once if it must.
    pub fn accepted(&mut self, target_ms_version: u64) {
        self.phase = JoinPhase::Recovering { target_ms_version };
        self.last_learner_ask_ms = 0;
    }

    /// The Meta Storage version a recovering node catches up to (`None` when not recovering).
    pub fn recovery_target(&self) -> Option<u64> {
        match self.phase {
            JoinPhase::Recovering { target_ms_version } => Some(target_ms_version),
            _ => None,
        }
    }

    /// Caught up: the node sends join ready.
    pub fn recovered(&mut self) {
        self.phase = JoinPhase::ReadySent;
    }

    /// True (and the clock restarts) when a recovering node outside the Meta Storage's
    /// configuration asks again to be added as a learner: every `ms_retry_ms`.
    pub fn learner_ask_due(&mut self, now_ms: u64, ms_retry_ms: u64) -> bool {
        if now_ms >= self.last_learner_ask_ms + ms_retry_ms {
            self.last_learner_ask_ms = now_ms;
            true
        } else {
            false
        }
    }

    /// The CMG put the node in the logical topology at `lt_version`.
    pub fn joined(&mut self, lt_version: u64) {
        self.phase = JoinPhase::Joined { lt_version };
    }

    /// Join ready was refused: the node asks to join again, under a new attempt.
    pub fn ready_refused(&mut self) {
        self.attempt += 1;
        self.phase = JoinPhase::Requesting;
    }

    /// True when `failure_timeout_ms` passed since the node last asked whether its init was
    /// cancelled.
    pub fn cancel_query_waited(&self, now_ms: u64, failure_timeout_ms: u64) -> bool {
        now_ms >= self.last_cancel_query_ms + failure_timeout_ms
    }

    /// Records that the node asked whether its init was cancelled at `now_ms`.
    pub fn cancel_query_sent(&mut self, now_ms: u64) {
        self.last_cancel_query_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ClusterId, LaunchId, NodeInfo, ProductVersion, ProtocolVersion};

    fn tag(id: u128) -> ClusterTag {
        ClusterTag {
            name: "c".into(),
            id: ClusterId(id),
        }
    }

    fn addr(n: u8) -> Addr {
        Addr::new([10, 0, 0, n], 7000)
    }

    /// A cluster state of cluster `id` (CMG incarnation `id`) from leader `n{leader}` at `term`.
    fn notice(id: u128, leader: u8, term: u64) -> ClusterStateNotice {
        ClusterStateNotice {
            term,
            leader: NodeInfo {
                name: format!("n{leader}"),
                addr: addr(leader),
                launch: LaunchId(1),
                protocol: ProtocolVersion(1),
                product: ProductVersion::new(3, 0, 0),
            },
            cmg_instance: InstanceId(id as u64),
            cmg_nodes: vec![format!("n{leader}")],
            tag: tag(id),
        }
    }

    #[test]
    fn a_waiting_joiner_follows_the_leader_and_requests() {
        let mut j = Joiner::new();
        assert_eq!(j.follow(&notice(1, 1, 3), 0, 100), Some(JoinSend::Request));
        assert_eq!(j.phase(), &JoinPhase::Requesting);
        assert_eq!(j.cluster, Some((tag(1), InstanceId(1))));
        let to = j.sending(5).unwrap();
        assert_eq!((to.name.as_str(), to.addr, to.attempt), ("n1", addr(1), 1));
        assert!(j.expects_response(1));
        assert!(!j.expects_response(2));
        assert!(!j.expects_ready_response(1));
    }

    #[test]
    fn a_term_below_the_highest_seen_for_its_tag_is_stale() {
        let mut j = Joiner::new();
        assert!(!j.is_stale(&tag(1), 0));
        j.follow(&notice(1, 1, 3), 0, 100);
        assert!(j.is_stale(&tag(1), 2));
        assert!(!j.is_stale(&tag(1), 3));
        assert!(!j.is_stale(&tag(2), 0), "terms are per tag");
    }

    #[test]
    fn only_a_change_of_cluster_makes_a_requesting_joiner_start_a_new_attempt() {
        let mut j = Joiner::new();
        j.follow(&notice(1, 1, 3), 0, 100);
        j.follow(&notice(1, 2, 4), 0, 100);
        assert_eq!(j.sending(0).unwrap().attempt, 1, "same cluster, new leader");
        j.follow(&notice(2, 3, 1), 0, 100);
        assert_eq!(j.sending(0).unwrap().attempt, 2, "another cluster");
    }

    #[test]
    fn a_recovering_joiner_asks_again_only_after_a_failure_timeout() {
        let mut j = Joiner::new();
        j.follow(&notice(1, 1, 3), 0, 100);
        j.sending(50);
        j.accepted(7);
        assert_eq!(j.recovery_target(), Some(7));
        assert!(j.is_accepted());
        assert_eq!(j.follow(&notice(1, 1, 3), 149, 100), None);
        assert_eq!(
            j.follow(&notice(1, 1, 3), 150, 100),
            Some(JoinSend::Request)
        );
        assert_eq!(j.phase(), &JoinPhase::Requesting);
        assert_eq!(j.sending(150).unwrap().attempt, 2);
    }

    #[test]
    fn a_ready_joiner_resends_join_ready_and_a_joined_one_requests_anew() {
        let mut j = Joiner::new();
        j.follow(&notice(1, 1, 3), 0, 100);
        j.accepted(1);
        j.recovered();
        assert_eq!(j.follow(&notice(1, 1, 3), 0, 100), Some(JoinSend::Ready));
        assert!(j.expects_ready_response(1));
        j.joined(4);
        assert!(j.is_joined());
        assert_eq!(j.follow(&notice(1, 1, 3), 0, 100), Some(JoinSend::Request));
        assert_eq!(j.sending(0).unwrap().attempt, 2);
    }

    #[test]
    fn a_refused_join_ready_starts_a_new_attempt() {
        let mut j = Joiner::new();
        j.follow(&notice(1, 1, 3), 0, 100);
        j.accepted(1);
        j.recovered();
        j.ready_refused();
        assert_eq!(j.phase(), &JoinPhase::Requesting);
        assert!(j.expects_response(2));
    }

    #[test]
    fn at_most_sixteen_tags_are_remembered_the_smallest_goes_first() {
        let mut j = Joiner::new();
        for id in 1..=16 {
            j.follow(&notice(id, 1, 5), 0, 100);
        }
        assert!(j.is_stale(&tag(1), 4));
        j.follow(&notice(17, 1, 5), 0, 100);
        assert!(!j.is_stale(&tag(1), 4), "tag 1 was forgotten");
        assert!(j.is_stale(&tag(2), 4));
    }

    #[test]
    fn a_redirect_counts_only_from_the_leader_followed_to_another_node() {
        let mut j = Joiner::new();
        j.follow(&notice(1, 1, 3), 0, 100);
        assert!(
            !j.redirect(addr(9), ("n2".into(), addr(2))),
            "not from the leader"
        );
        assert!(!j.redirect(addr(1), ("n1".into(), addr(1))), "names itself");
        assert!(j.redirect(addr(1), ("n2".into(), addr(2))));
        assert_eq!(j.sending(0).unwrap().addr, addr(2));
        assert_eq!(j.awaiting(), Some(JoinSend::Request));
    }

    #[test]
    fn a_join_message_is_resent_after_join_retry_ms() {
        let mut j = Joiner::new();
        assert_eq!(j.resend_due(1_000, 100), None, "waiting: nothing to resend");
        j.follow(&notice(1, 1, 3), 0, 100);
        j.sending(10);
        assert_eq!(j.resend_due(109, 100), None);
        assert_eq!(j.resend_due(110, 100), Some(JoinSend::Request));
    }

    #[test]
    fn nothing_is_sent_without_a_leader() {
        let mut j = Joiner::new();
        assert_eq!(j.sending(10), None);
        j.follow(&notice(1, 1, 3), 0, 100);
        j.reset();
        assert_eq!(j.sending(10), None);
        assert_eq!(j.phase(), &JoinPhase::Waiting);
        assert_eq!(j.cluster, None);
        assert_eq!(j.leader_name(), "");
    }

    #[test]
    fn learner_asks_and_cancel_queries_have_their_clocks() {
        let mut j = Joiner::new();
        j.accepted(1);
        assert!(
            j.learner_ask_due(1_000, 50),
            "asked at once after acceptance"
        );
        assert!(!j.learner_ask_due(1_049, 50));
        assert!(j.learner_ask_due(1_050, 50));
        assert!(j.cancel_query_waited(100, 100));
        j.cancel_query_sent(100);
        assert!(!j.cancel_query_waited(199, 100));
        assert!(j.cancel_query_waited(200, 100));
    }
}
