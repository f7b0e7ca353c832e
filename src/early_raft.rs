//! Raft traffic that reaches a node before the replica it is for ([`EarlyRaft`]).
//!
//! An init's first voter creates its groups and campaigns at once, in the same output as the
//! `StartGroups` that tells the other named nodes to create theirs. Each message has its own
//! latency, so a vote request can overtake the `StartGroups` it depends on: the receiver hosts
//! no replica of that incarnation yet and the request is lost, and with it the election, until
//! an election timeout (1–2 s) starts another. The same happens to a leader's first append to a
//! joiner whose learner replica is about to start. **Decision (docs/protocol.md Step 2, "Raft
//! traffic ahead of its replica", issue 13):** a node keeps such messages, for incarnations it
//! has not cancelled, and hands them to the replica when it creates it; it keeps at most
//! [`MAX_EARLY_RAFT`] of them (the oldest dropped first), forgets those older than an election
//! timeout (a candidate campaigns again after one, so older traffic is superseded) and hands the
//! rest over. Raft tolerates any delay of a message, so
//! handing a kept one over late is as safe as a slow link.

use std::collections::VecDeque;

use crate::raft_payload::RaftPayload;
use crate::types::{Addr, GroupKind, InstanceId, SharedName};

/// The most Raft messages a node keeps for replicas it does not host yet (the oldest is dropped
/// first): a round of vote requests and appends of both groups from a few peers.
pub const MAX_EARLY_RAFT: usize = 16;

/// One Raft message kept for a replica the node does not host yet.
#[derive(Clone, Debug)]
pub struct EarlyMessage {
    /// When it arrived (the node's clock, ms).
    pub at_ms: u64,
    /// Where it came from.
    pub from: Addr,
    /// Its group.
    pub group: GroupKind,
    /// Its group's incarnation.
    pub instance: InstanceId,
    /// Its sender's name.
    pub from_name: SharedName,
    /// The Raft message.
    pub payload: RaftPayload,
}

/// The Raft messages kept for replicas not hosted yet, in arrival order (at most
/// [`MAX_EARLY_RAFT`]).
#[derive(Clone, Debug, Default)]
pub struct EarlyRaft {
    held: VecDeque<EarlyMessage>,
}

impl EarlyRaft {
    /// Nothing kept.
    pub fn new() -> EarlyRaft {
        EarlyRaft::default()
    }

    /// Keeps `message` (arrived at `message.at_ms`), first forgetting every kept one older than
    /// `max_age_ms` (it would not be handed over), then dropping the oldest when
    /// [`MAX_EARLY_RAFT`] are kept: stale traffic of a group this node will never host does not
    /// crowd out a young vote request.
    pub fn hold(&mut self, message: EarlyMessage, max_age_ms: u64) {
        let now_ms = message.at_ms;
        self.held.retain(|m| now_ms <= m.at_ms + max_age_ms);
        if self.held.len() == MAX_EARLY_RAFT {
            self.held.pop_front();
        }
        self.held.push_back(message);
        debug_assert!(self.held.len() <= MAX_EARLY_RAFT);
    }

    /// The kept messages of `group`'s incarnation `instance` that arrived within `max_age_ms`
    /// of `now_ms`, in arrival order, taken out; every message older than that is forgotten.
    pub fn take(
        &mut self,
        group: GroupKind,
        instance: InstanceId,
        now_ms: u64,
        max_age_ms: u64,
    ) -> Vec<EarlyMessage> {
        self.held.retain(|m| now_ms <= m.at_ms + max_age_ms);
        let (taken, kept): (VecDeque<_>, VecDeque<_>) = self
            .held
            .drain(..)
            .partition(|m| m.group == group && m.instance == instance);
        self.held = kept;
        taken.into()
    }

    /// How many messages are kept.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// True when none is kept.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::eraftpb::Message as RaftMessage;

    fn message(at_ms: u64, group: GroupKind, instance: u64) -> EarlyMessage {
        EarlyMessage {
            at_ms,
            from: Addr::new([10, 0, 0, 1], 7000),
            group,
            instance: InstanceId(instance),
            from_name: SharedName::from("n1"),
            payload: RaftPayload::from(RaftMessage::default()),
        }
    }

    #[test]
    fn kept_messages_go_to_their_replica_in_arrival_order_while_young() {
        let mut early = EarlyRaft::new();
        early.hold(message(10, GroupKind::Ms, 1), 1_000);
        early.hold(message(11, GroupKind::Cmg, 1), 1_000);
        early.hold(message(12, GroupKind::Ms, 1), 1_000);
        early.hold(message(13, GroupKind::Ms, 2), 1_000);
        let taken = early.take(GroupKind::Ms, InstanceId(1), 20, 1_000);
        assert_eq!(
            taken.iter().map(|m| m.at_ms).collect::<Vec<_>>(),
            vec![10, 12],
            "its group and incarnation only, oldest first"
        );
        assert_eq!(early.len(), 2, "the others stay");
        assert!(early
            .take(GroupKind::Ms, InstanceId(1), 20, 1_000)
            .is_empty());
        // Older than the bound: forgotten, whatever they are for.
        assert!(early
            .take(GroupKind::Cmg, InstanceId(1), 1_014, 1_000)
            .is_empty());
        assert!(early.is_empty());
    }

    #[test]
    fn at_most_max_early_raft_are_kept_the_oldest_dropped_first() {
        let mut early = EarlyRaft::new();
        for at_ms in 0..(MAX_EARLY_RAFT as u64 + 3) {
            early.hold(message(at_ms, GroupKind::Cmg, 1), 1_000);
        }
        assert_eq!(early.len(), MAX_EARLY_RAFT);
        let taken = early.take(GroupKind::Cmg, InstanceId(1), 100, 1_000);
        assert_eq!(taken.first().map(|m| m.at_ms), Some(3));
        // Old traffic is forgotten as new comes, so it never crowds out a young message.
        for at_ms in 0..MAX_EARLY_RAFT as u64 {
            early.hold(message(at_ms, GroupKind::Ms, 9), 1_000);
        }
        early.hold(message(5_000, GroupKind::Cmg, 2), 1_000);
        assert_eq!(early.len(), 1, "the stale ones are gone");
    }
}
