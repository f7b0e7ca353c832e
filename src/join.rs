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
//!
//! For a reader (the stall report of a failed run) the joiner also keeps, in a few fixed-size
//! fields, when its phase began and the last message of its join it sent and received
//! ([`JoinProgress`], copied into the node's view). Keeping them changes nothing it decides.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::message::{ClusterStateNotice, MessageKind};
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

/// The kinds of message a joiner receives about its own join: a leader's cluster state, the
/// answers to its join request and join ready, and a redirect from a node that does not lead.
/// (It sends two kinds: `join_request` and `join_ready`.)
pub const JOIN_REPLY_KINDS: [MessageKind; 4] = [
    MessageKind::ClusterState,
    MessageKind::JoinResponse,
    MessageKind::JoinReadyResponse,
    MessageKind::NotLeader,
];

/// One message of a node's own join, as the joiner remembers it: what, with whom, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinMessage {
    /// Its kind: `join_request` or `join_ready` sent, one of [`JOIN_REPLY_KINDS`] received.
    pub kind: MessageKind,
    /// The other end: the leader it went to, or the node it came from (its name where the node
    /// knows it, its address otherwise).
    pub peer: NodeName,
    /// When (the node's clock, simulated ms since the run started).
    pub at_ms: u64,
}

/// Where a node's join stands beyond its phase, as the node alone knows it: a read-only copy for
/// a reader (`NodeView::join_progress`, the stall report). Fixed size: nothing in it grows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinProgress {
    /// When the join entered its current phase (the node's clock, ms); the node's start for a
    /// node that has waited since.
    pub since_ms: u64,
    /// This launch's join attempt (0 before the first join request).
    pub attempt: u64,
    /// The CMG leader the node believes in and talks to, if any.
    pub leader: Option<NodeName>,
    /// The cluster whose leader it follows, if any.
    pub cluster: Option<ClusterTag>,
    /// The last join request or join ready it sent.
    pub last_sent: Option<JoinMessage>,
    /// The last message of [`JOIN_REPLY_KINDS`] it received (acted on or not: a stale cluster
    /// state, an answer to an old attempt count too).
    pub last_received: Option<JoinMessage>,
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
    /// The CMG voters of the cluster it follows, as its last cluster state named them: whom it
    /// asks when its leader has left its view ([`Joiner::ask_voter`]).
    voters: Vec<NodeName>,
    /// Highest leader term seen per cluster tag.
    terms: BTreeMap<ClusterTag, u64>,
    /// The cluster (tag, CMG incarnation) it follows (read through [`Joiner::cluster`]).
    cluster: Option<(ClusterTag, InstanceId)>,
    last_sent_ms: u64,
    /// When it last asked to be added as a Meta Storage learner (`None`: not since it was
    /// accepted, so the first ask is due at once).
    last_learner_ask_ms: Option<u64>,
    /// How many times it asked to be added as a learner since it was accepted.
    learner_asks: u64,
    /// When it last asked its view whether its init was cancelled (`Node::ask_if_cancelled`).
    last_cancel_query_ms: u64,
    /// This launch's join attempt: a new one each time the node starts asking to be validated.
    attempt: u64,
    /// When `phase` last changed (or the joiner was made).
    since_ms: u64,
    /// The last join request or join ready sent.
    last_sent: Option<JoinMessage>,
    /// The last message of [`JOIN_REPLY_KINDS`] received.
    last_received: Option<JoinMessage>,
    /// The last cluster state that reached the node before it was in its physical topology, and
    /// when (ms): acted on once the node enters it ([`Joiner::take_early`]).
    early: Option<(Box<ClusterStateNotice>, u64)>,
}

impl Joiner {
    /// A joiner waiting for a cluster state since `now_ms`, at attempt 0.
    pub fn new(now_ms: u64) -> Joiner {
        Joiner {
            phase: JoinPhase::Waiting,
            leader: None,
            voters: Vec::new(),
            terms: BTreeMap::new(),
            cluster: None,
            last_sent_ms: 0,
            last_learner_ask_ms: None,
            learner_asks: 0,
            last_cancel_query_ms: 0,
            attempt: 0,
            since_ms: now_ms,
            last_sent: None,
            last_received: None,
            early: None,
        }
    }

    /// Moves the join to `phase` at `now_ms`; the clock of the phase restarts only when the phase
    /// changes.
    fn enter(&mut self, phase: JoinPhase, now_ms: u64) {
        if self.phase != phase {
            self.phase = phase;
            self.since_ms = now_ms;
        }
    }

    /// Where the join stands beyond its phase (a copy, for a reader).
    pub fn progress(&self) -> JoinProgress {
        JoinProgress {
            since_ms: self.since_ms,
            attempt: self.attempt,
            leader: self.leader.as_ref().map(|(n, _)| n.clone()),
            cluster: self.cluster.as_ref().map(|(t, _)| t.clone()),
            last_sent: self.last_sent.clone(),
            last_received: self.last_received.clone(),
        }
    }

    /// Records a message of `kind` from `peer` at `now_ms` as the last one of the join received,
    /// when `kind` is one of [`JOIN_REPLY_KINDS`] (any other kind is not the join's: ignored).
    pub fn received(&mut self, kind: MessageKind, peer: NodeName, now_ms: u64) {
        if JOIN_REPLY_KINDS.contains(&kind) {
            self.last_received = Some(JoinMessage {
                kind,
                peer,
                at_ms: now_ms,
            });
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

    /// The CMG leader followed, by name and address, if any (a leaving node tells it).
    pub fn leader(&self) -> Option<&(NodeName, Addr)> {
        self.leader.as_ref()
    }

    /// The name of the leader followed ("" when none): who a join rejection came from.
    pub fn leader_name(&self) -> NodeName {
        self.leader
            .as_ref()
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    }

    /// Back to waiting for a cluster state at `now_ms`: the cluster followed is gone (the
    /// attempt, the terms, the clocks and the last messages are kept).
    pub fn reset(&mut self, now_ms: u64) {
        self.enter(JoinPhase::Waiting, now_ms);
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
        if self.voters != notice.cmg_nodes {
            self.voters.clone_from(&notice.cmg_nodes);
        }
        // Decision (a notice says whether its receiver is a member, docs/protocol.md Step 4):
        // a node the leader has in its LT is joined, whatever answer it missed; a joined node
        // ignores a notice sent before it joined (older than its LT version), which reached it
        // late (fuzz seeds 31101701, 31100691).
        if !cluster_changed {
            match self.phase {
                JoinPhase::Requesting | JoinPhase::ReadySent | JoinPhase::Joined { .. }
                    if notice.member =>
                {
                    if !self.is_joined() {
                        self.enter(
                            JoinPhase::Joined {
                                lt_version: notice.lt_version,
                            },
                            now_ms,
                        );
                    }
                    return None;
                }
                JoinPhase::Joined { lt_version } if notice.lt_version < lt_version => return None,
                _ => {}
            }
        }
        match self.phase {
            JoinPhase::Waiting | JoinPhase::Requesting | JoinPhase::Joined { .. } => {
                if self.phase != JoinPhase::Requesting || cluster_changed {
                    self.attempt += 1;
                }
                self.enter(JoinPhase::Requesting, now_ms);
                Some(JoinSend::Request)
            }
            JoinPhase::ReadySent => Some(JoinSend::Ready),
            JoinPhase::Recovering { .. } => {
                if now_ms >= self.last_sent_ms + failure_timeout_ms {
                    self.attempt += 1;
                    self.enter(JoinPhase::Requesting, now_ms);
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

    /// The node's address book moved `name` to `addr` (`Node::learn_addr`): if `name` is the
    /// leader it follows, its messages go there from now on. **Decision (a joiner's leader is
    /// addressed where its name lives):** the address a joiner took from a cluster state or a
    /// redirect goes stale when the leader restarts at another address; its join requests and
    /// join readies were then lost at the old one for ever (fuzz seed 31411059: a CMG voter in
    /// the LT whose join ready answer was lost, and whose leader moved, never joined). True when
    /// the joiner's leader moved.
    pub fn leader_moved(&mut self, name: &str, addr: Addr) -> bool {
        match self.leader.as_mut() {
            Some((leader, at)) if leader.as_str() == name && *at != addr => {
                *at = addr;
                true
            }
            _ => false,
        }
    }

    /// The CMG voters of the cluster it follows (its last cluster state's `cmg_nodes`).
    pub fn voters(&self) -> &[NodeName] {
        &self.voters
    }

    /// Its leader has left the node's view: the joiner turns to `voter` (a CMG voter of the
    /// cluster it follows, in the view), which answers if it leads and redirects it to the
    /// leader it knows otherwise (`on_not_leader` takes a redirect from the node it asked).
    /// **Decision (a joiner whose leader left its view asks a voter; found with fuzz seed
    /// 31411059's class):** a joiner in the LT whose join ready answer was lost, and whose
    /// leader died, sent its join ready to the dead leader for ever: the new leader tells LT
    /// members its cluster state only once, at its election, and that notice may be lost too.
    pub fn ask_voter(&mut self, voter: (NodeName, Addr)) {
        self.leader = Some(voter);
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

    /// Records `what` (a join request or join ready) sent at `now_ms`: where it goes and its
    /// attempt. `None` (nothing sent) when no leader is known.
    pub fn sending(&mut self, what: JoinSend, now_ms: u64) -> Option<LeaderAddress> {
        let (name, addr) = self.leader.clone()?;
        self.last_sent_ms = now_ms;
        let kind = match what {
            JoinSend::Request => MessageKind::JoinRequest,
            JoinSend::Ready => MessageKind::JoinReady,
        };
        self.last_sent = Some(JoinMessage {
            kind,
            peer: name.clone(),
            at_ms: now_ms,
        });
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

    /// Validated at `now_ms`: the node catches up its Meta Storage to `target_ms_version`,
    /// asking to be a learner at once if it must.
    pub fn accepted(&mut self, target_ms_version: u64, now_ms: u64) {
        self.enter(JoinPhase::Recovering { target_ms_version }, now_ms);
        self.last_learner_ask_ms = None;
        self.learner_asks = 0;
    }

    /// The Meta Storage version a recovering node catches up to (`None` when not recovering).
    pub fn recovery_target(&self) -> Option<u64> {
        match self.phase {
            JoinPhase::Recovering { target_ms_version } => Some(target_ms_version),
            _ => None,
        }
    }

    /// Caught up at `now_ms`: the node sends join ready.
    pub fn recovered(&mut self, now_ms: u64) {
        self.enter(JoinPhase::ReadySent, now_ms);
    }

    /// When a recovering node outside the Meta Storage's configuration asks again to be added
    /// as a learner (every `ms_retry_ms`): `Some(n)`, the number of asks before this one since
    /// it was accepted (0 for the first), and the clock restarts; else `None`.
    pub fn learner_ask_due(&mut self, now_ms: u64, ms_retry_ms: u64) -> Option<u64> {
        if self
            .last_learner_ask_ms
            .is_none_or(|last_ms| now_ms >= last_ms + ms_retry_ms)
        {
            self.last_learner_ask_ms = Some(now_ms);
            self.learner_asks += 1;
            Some(self.learner_asks - 1)
        } else {
            None
        }
    }

    /// The CMG put the node in the logical topology at `lt_version` (told at `now_ms`).
    pub fn joined(&mut self, lt_version: u64, now_ms: u64) {
        self.enter(JoinPhase::Joined { lt_version }, now_ms);
    }

    /// Join ready was refused at `now_ms`: the node asks to join again, under a new attempt.
    pub fn ready_refused(&mut self, now_ms: u64) {
        self.new_attempt(now_ms);
    }

    /// The CMG answered the current attempt's join request `StaleAttempt` at `now_ms` (its
    /// validation was revoked): the node asks again, under a new attempt.
    pub fn attempt_revoked(&mut self, now_ms: u64) {
        self.new_attempt(now_ms);
    }

    /// Asks to join again at `now_ms`, under a new attempt.
    fn new_attempt(&mut self, now_ms: u64) {
        self.attempt += 1;
        self.enter(JoinPhase::Requesting, now_ms);
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
mod tests;
