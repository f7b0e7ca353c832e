//! SWIM's failure detection (`FailureDetector::Swim`, docs/protocol.md "Failure detection"):
//! one probe per period to the next member of a shuffled round, indirect probes at half the
//! period, suspicion at its end, removal when a suspicion outlives `failure_timeout_ms`. Part of
//! the [`PhysicalTopology`] component; the node routes what it decides (`src/node/swim.rs`).

use std::collections::BTreeMap;

use super::rumor::Rumors;
use super::PhysicalTopology;
use crate::config::Timing;
use crate::rng::Rng;
use crate::types::{Addr, LaunchId};

/// How many members are asked to probe a member that did not answer (SWIM's k).
pub(crate) const SWIM_INDIRECT_PROBES: usize = 3;

/// A node's SWIM state: its probe round, the probe in flight, the rumors it passes on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Swim {
    /// The rest of this round's probe order (popped from the back); a new round is a new
    /// shuffle of the view.
    order: Vec<Addr>,
    /// The probe of this period, until its target answered or was suspected.
    pending: Option<Pending>,
    /// When the next period starts.
    next_probe_ms: u64,
    /// What this node passes on.
    pub rumors: Rumors,
    /// The members this node suspects, each since when: a word from the member itself, a
    /// newer incarnation or its removal ends it.
    pub suspects: BTreeMap<Addr, u64>,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    target: Addr,
    launch: LaunchId,
    sent_ms: u64,
    indirect_sent: bool,
    /// A word from the target (any message, or a helper's relay) came after the probe.
    answered: bool,
}

/// What one SWIM tick decided ([`PhysicalTopology::swim_tick`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SwimTick {
    /// Suspects whose suspicion outlived `failure_timeout_ms`: to remove, in address order.
    pub dead: Vec<Addr>,
    /// The member this period's probe did not reach, now suspected.
    pub suspected: Option<Addr>,
    /// A probe that has had no answer for half a period: its target and the members asked to
    /// probe it.
    pub indirect: Option<(Addr, Vec<Addr>)>,
    /// This period's probe target.
    pub probe: Option<Addr>,
}

impl PhysicalTopology {
    /// One tick of SWIM at `now_ms`: suspicions that ran out, the probe in flight (answered,
    /// due for indirect probes, or failed: its target suspected), and the next period's probe.
    /// At most one probe per `probe_interval_ms`.
    pub(crate) fn swim_tick(&mut self, now_ms: u64, timing: &Timing, rng: &mut Rng) -> SwimTick {
        let mut out = SwimTick::default();
        for (addr, since_ms) in &self.swim.suspects {
            if now_ms >= since_ms + timing.failure_timeout_ms && self.members.contains_key(addr) {
                out.dead.push(*addr);
            }
        }
        if let Some(mut pending) = self.swim.pending {
            let answered = pending.answered
                || self
                    .members
                    .get(&pending.target)
                    .is_none_or(|m| m.record.launch() != pending.launch);
            if answered {
                self.swim.pending = None;
            } else if now_ms >= pending.sent_ms + timing.probe_interval_ms {
                self.swim.pending = None;
                let incarnation = self.member(pending.target).map(|r| r.identity.incarnation);
                if self.suspect(pending.target, pending.launch, incarnation, now_ms) {
                    out.suspected = Some(pending.target);
                }
            } else if !pending.indirect_sent
                && now_ms >= pending.sent_ms + timing.probe_interval_ms / 2
            {
                pending.indirect_sent = true;
                self.swim.pending = Some(pending);
                let mut others: Vec<Addr> = self
                    .members
                    .keys()
                    .copied()
                    .filter(|a| *a != pending.target)
                    .collect();
                let mut helpers = Vec::new();
                while helpers.len() < SWIM_INDIRECT_PROBES && !others.is_empty() {
                    let i = rng.below(others.len() as u64) as usize;
                    helpers.push(others.swap_remove(i));
                }
                helpers.sort();
                out.indirect = Some((pending.target, helpers));
            }
        }
        if self.swim.pending.is_none() && now_ms >= self.swim.next_probe_ms {
            // A member about to be removed is not probed: the period goes to a live one.
            if let Some(target) = self
                .next_probe_target(rng)
                .filter(|t| !out.dead.contains(t))
            {
                let launch = self.members[&target].record.launch();
                self.swim.pending = Some(Pending {
                    target,
                    launch,
                    sent_ms: now_ms,
                    indirect_sent: false,
                    answered: false,
                });
                self.swim.next_probe_ms = now_ms + timing.probe_interval_ms;
                out.probe = Some(target);
            }
        }
        out
    }

    /// The next member of this round's probe order; a new round (a fresh shuffle of the view)
    /// when the round is over. `None` for an empty view.
    fn next_probe_target(&mut self, rng: &mut Rng) -> Option<Addr> {
        // Bounded: at most one refill, and each pop either returns or drops a gone member.
        for _ in 0..2 {
            while let Some(addr) = self.swim.order.pop() {
                if self.members.contains_key(&addr) {
                    return Some(addr);
                }
            }
            let mut order: Vec<Addr> = self.members.keys().copied().collect();
            for i in (1..order.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                order.swap(i, j);
            }
            self.swim.order = order;
        }
        None
    }

    /// A word came from the member at `addr` of `launch`: it answers this period's probe, if
    /// that probe went to it.
    pub(crate) fn swim_heard(&mut self, addr: Addr, launch: LaunchId) {
        if let Some(pending) = self.swim.pending.as_mut() {
            if pending.target == addr && pending.launch == launch {
                pending.answered = true;
            }
        }
    }

    /// True while this period's probe, unanswered, went to `target` (a helper's relay about
    /// it counts; one about another member is stale).
    pub(crate) fn probing(&self, target: Addr) -> bool {
        self.swim
            .pending
            .is_some_and(|p| p.target == target && !p.answered)
    }

    /// Suspects the member at `addr` of launch `launch` from `now_ms`, when `incarnation` (the
    /// one suspected) is not older than the one held: true when it was not suspected before.
    pub(crate) fn suspect(
        &mut self,
        addr: Addr,
        launch: LaunchId,
        incarnation: Option<u64>,
        now_ms: u64,
    ) -> bool {
        let Some(member) = self.members.get_mut(&addr) else {
            return false;
        };
        if member.record.launch() != launch
            || incarnation.is_some_and(|i| i < member.record.identity.incarnation)
            || self.swim.suspects.contains_key(&addr)
        {
            return false;
        }
        self.swim.suspects.insert(addr, now_ms);
        true
    }

    /// True when the member at `addr` is suspected.
    #[cfg(test)]
    pub(crate) fn is_suspected(&self, addr: Addr) -> bool {
        self.swim.suspects.contains_key(&addr)
    }

    /// This node heard it is suspected or dead: it refutes with a higher incarnation, which the
    /// next record it sends carries ([`current_me`](Self::current_me)).
    pub(crate) fn refute(&mut self) {
        self.incarnation += 1;
        self.me_now = None;
    }

    /// Starts passing `rumor` on (`Rumors::spread`).
    pub(crate) fn spread(&mut self, rumor: super::Rumor) {
        self.swim.rumors.spread(rumor);
    }

    /// The rumors for one message (`Rumors::take`).
    pub(crate) fn take_rumors(&mut self) -> Vec<super::Rumor> {
        let members = self.members.len();
        self.swim.rumors.take(members)
    }
}

#[cfg(test)]
mod tests;
