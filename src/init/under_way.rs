//! Cancels under way at a node ([`CancelsUnderWay`], docs/protocol.md Step 2.6, "a cancel under
//! way is no ground for a refusal"): the inits this node holds something of (a CMG replica that
//! lets its log decide, a Meta Storage replica, its vault's cluster) whose cancel reached it
//! undecided, and whose fate it does not know yet. While a cancel is under way, the node does not
//! judge another init against that init (neither a user's request nor a `StartGroups`): the
//! cancel may already be decided elsewhere — its initiator answers the user "cancelled" at the
//! moment it learns the decision, and the user's retry can overtake the decided cancel on its way
//! here — so a refusal citing the cancelled init would be wrong. The request is left unanswered
//! (the user resends every 3 s, an initiator every `init_retry_ms`) until the fate is known.
//!
//! A cancel stops being under way when its fate is known here (the node cleared what it held, its
//! CMG replica applied `InitAnswered` as the fate, or a `CancelRefused` reached it), and at the
//! latest `UNDER_WAY_INIT_TIMEOUTS` init timeouts after it first reached the node: a fate that
//! never arrives (a canceller that stopped, a CMG that lost its quorum) must not leave the node
//! unanswering for ever. Past that, the node judges as before: against what it holds, which can
//! only refuse (never answer an init it should not).

use std::collections::BTreeMap;

use crate::types::InstanceId;

/// How long (in init timeouts, `Timing::init_timeout_ms`) a cancel stays under way at a node
/// without its fate arriving. Two: the canceller holds its user's answer up to one init timeout
/// waiting for the decision, and the user's retry (resent every 3 s) needs the fate known here
/// within about one more.
pub(crate) const UNDER_WAY_INIT_TIMEOUTS: u64 = 2;

/// How many cancels under way a node keeps. A node holds something of at most three inits at once
/// (its CMG replica, its Meta Storage replica, its vault's cluster), so more never matter; past
/// the bound the one that reached the node first is forgotten.
pub(crate) const MAX_CANCELS_UNDER_WAY: usize = 4;

/// The cancels under way at this node: init id → when its cancel first reached the node (the
/// node's clock, ms). In memory only (a restart forgets them: the canceller tells the node again,
/// and a fenced replica's fence is in the vault). At most [`MAX_CANCELS_UNDER_WAY`].
#[derive(Clone, Debug, Default)]
pub(crate) struct CancelsUnderWay {
    since_ms: BTreeMap<InstanceId, u64>,
}

impl CancelsUnderWay {
    /// None under way.
    pub(crate) fn new() -> CancelsUnderWay {
        CancelsUnderWay::default()
    }

    /// An undecided cancel of `init` reached this node at `now_ms`, while it holds something of
    /// that init. The first receipt counts: the canceller's resends do not extend the lapse.
    /// Makes room first by forgetting the earliest one when full.
    pub(crate) fn note(&mut self, init: InstanceId, now_ms: u64) {
        if self.since_ms.contains_key(&init) {
            return;
        }
        if self.since_ms.len() >= MAX_CANCELS_UNDER_WAY {
            let earliest = self
                .since_ms
                .iter()
                .min_by_key(|(id, at)| (**at, **id))
                .map(|(id, _)| *id);
            if let Some(earliest) = earliest {
                self.since_ms.remove(&earliest);
            }
        }
        self.since_ms.insert(init, now_ms);
    }

    /// The fate of `init` is known here (cleared, answered, or the cancel refused).
    pub(crate) fn end(&mut self, init: InstanceId) {
        self.since_ms.remove(&init);
    }

    /// The inits whose cancel is under way at `now_ms`: noted, no fate known, and noted less than
    /// `UNDER_WAY_INIT_TIMEOUTS × init_timeout_ms` ago. In id order.
    pub(crate) fn under_way(&self, now_ms: u64, init_timeout_ms: u64) -> Vec<InstanceId> {
        let lapse_ms = UNDER_WAY_INIT_TIMEOUTS.saturating_mul(init_timeout_ms);
        self.since_ms
            .iter()
            .filter(|(_, since)| now_ms < since.saturating_add(lapse_ms))
            .map(|(init, _)| *init)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT_MS: u64 = 5_000;

    #[test]
    fn a_cancel_is_under_way_from_its_first_receipt_until_its_fate_or_the_lapse() {
        let mut u = CancelsUnderWay::new();
        let (a, b) = (InstanceId(1), InstanceId(2));
        assert!(u.under_way(0, TIMEOUT_MS).is_empty());
        u.note(a, 100);
        u.note(b, 200);
        u.note(a, 5_000); // a resend: the first receipt counts
        assert_eq!(u.under_way(300, TIMEOUT_MS), vec![a, b]);
        let lapse = UNDER_WAY_INIT_TIMEOUTS * TIMEOUT_MS;
        assert_eq!(u.under_way(100 + lapse - 1, TIMEOUT_MS), vec![a, b]);
        assert_eq!(u.under_way(100 + lapse, TIMEOUT_MS), vec![b], "a lapsed");
        u.end(b);
        assert!(u.under_way(300, TIMEOUT_MS) == vec![a], "b's fate is known");
    }

    #[test]
    fn at_most_max_cancels_under_way_the_earliest_forgotten_first() {
        let mut u = CancelsUnderWay::new();
        for i in 0..MAX_CANCELS_UNDER_WAY as u64 {
            u.note(InstanceId(10 - i), i);
        }
        u.note(InstanceId(100), 50);
        let now = u.under_way(60, TIMEOUT_MS);
        assert_eq!(now.len(), MAX_CANCELS_UNDER_WAY);
        assert!(!now.contains(&InstanceId(10)), "the earliest is forgotten");
        assert!(now.contains(&InstanceId(100)) && now.contains(&InstanceId(9)));
    }
}
