//! The cancels this node tells ([`CancelTracker`]): an init its initiator answered with an error
//! (or a fenced CMG replica carries on) is told to every node that may hold something of it —
//! the named nodes, the physical members, the members a CMG replica of it knew, and every member
//! that appears meanwhile — until each acknowledges, for at most `MAX_CANCEL_RETRY_TIMEOUTS`
//! init timeouts (docs/protocol.md Step 2.6). Each cancel is mirrored in the vault
//! (`VaultWrite::RecordCancel` / `ForgetCancel`, done by the caller) so that a restart resumes it.
//!
//! The tracker also holds the user's answer of a cancelled init until the CMG decides the cancel,
//! and counts the CMG voters that can never help commit an answer: once they leave no majority
//! without them, the cancel is decided.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::bugs::PlantedBug;
use crate::config::Timing;
use crate::error::InitError;
use crate::types::RequestId;
use crate::types::{Addr, InstanceId, NodeName};
use crate::vault::MAX_RECORDED_CANCELS;

/// How long (in init timeouts) an initiator keeps telling unanswering nodes to cancel.
const MAX_CANCEL_RETRY_TIMEOUTS: u64 = 24;

/// An init its initiator answered with an error and now tells everyone to cancel. Recorded in
/// the initiator's vault, so that a restart resumes it.
#[derive(Clone, Debug)]
struct CancelAttempt {
    /// Told, not yet acknowledged: the named nodes, the physical members, the nodes a CMG replica
    /// of the cancelled cluster named, and every member that appears while the cancel runs.
    pending: BTreeSet<Addr>,
    acked: BTreeSet<Addr>,
    started_ms: u64,
    last_sent_ms: u64,
    /// The cancel does not end before this, even with nobody pending: a cancel resumed after a
    /// restart first waits for its physical topology to fill.
    min_end_ms: u64,
    /// A CMG replica reported the cancel committed (`InitFate::Cancelled`): from then on every
    /// node is told that, and may clear what it holds.
    decided: bool,
    /// The user's answer, held until the CMG decides (an error once the cancel is committed or
    /// every CMG node confirmed; the tag if the cancel is refused), at most one init timeout.
    answer: Option<HeldAnswer>,
    /// The CMG voters of the cancelled incarnation, as far as known (from the plan, or from
    /// the replicas that report them: a cancel resumed after a restart).
    cmg_voters: BTreeSet<NodeName>,
    /// The voters' addresses in the init plan (empty for a cancel resumed after a restart): an
    /// acknowledgement counts as a voter's only from that address.
    voter_addrs: BTreeMap<NodeName, Addr>,
    /// Nodes that host no CMG replica of it able to help commit an answer, and will not.
    unanswered: BTreeSet<NodeName>,
}

impl CancelAttempt {
    /// Nobody is left to tell, and the cancel has run long enough.
    fn done(&self, now_ms: u64) -> bool {
        self.pending.is_empty() && now_ms >= self.min_end_ms
    }
}

/// One cancel this node tells, as a reader sees it (`NodeView::cancels`, the stall report).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CancelInFlight {
    /// The cancelled init.
    pub init: InstanceId,
    /// When the cancel started (the node's clock, ms).
    pub started_ms: u64,
    /// How many nodes it told have not acknowledged yet.
    pub unacknowledged: usize,
    /// A CMG replica reported the cancel committed.
    pub decided: bool,
    /// The user's answer of that init is held until the cancel is decided.
    pub holds_answer: bool,
}

/// The user's answer of a cancelled init, held until the cancel is decided.
#[derive(Clone, Debug)]
struct HeldAnswer {
    user: Addr,
    request: RequestId,
    error: InitError,
    /// Answer with the error by then whatever happened.
    by_ms: u64,
    /// The CMG nodes that have not confirmed yet: once all have, nothing of the group is left.
    cmg: BTreeSet<Addr>,
}

/// What an acknowledgement of a cancel ([`CancelTracker::on_ack`]) asks of the caller, in this
/// order: release the held answer, end the cancel, tell `tell`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AckOutcome {
    /// The user's held answer (an error) is due now: the cancel is decided, or every CMG node
    /// of the plan confirmed.
    pub release_answer: bool,
    /// Nobody is pending and the cancel ran long enough: it ends.
    pub done: bool,
    /// Nodes to send `CancelInit` to, in order.
    pub tell: Vec<Addr>,
    /// Whether the cancel is decided (what `tell` is told).
    pub decided: bool,
}

/// What a cancel's timers ask of the caller ([`CancelTracker::tick`]), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CancelDue {
    /// The held answer of this cancel is due (one init timeout passed): answer with the error.
    Answer(InstanceId),
    /// The cancel ends: nobody is pending (and it ran long enough), or it ran out of time.
    End(InstanceId),
    /// Tell the pending nodes again (`decided` as known).
    Resend {
        /// The cancelled init.
        init: InstanceId,
        /// The nodes still pending, in address order.
        to: Vec<Addr>,
        /// Whether the cancel is decided.
        decided: bool,
    },
}

/// The cancels this node tells, by init id: at most `MAX_RECORDED_CANCELS` (the vault's bound)
/// at once; starting one more ends the oldest first ([`CancelTracker::evictee`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct CancelTracker {
    cancels: BTreeMap<InstanceId, CancelAttempt>,
}

impl CancelTracker {
    /// No cancel running.
    pub(crate) fn new() -> CancelTracker {
        CancelTracker::default()
    }

    /// Every cancel running, in init order, as a reader sees it (at most
    /// `MAX_RECORDED_CANCELS`).
    pub(crate) fn in_flight_view(&self) -> Vec<CancelInFlight> {
        self.cancels
            .iter()
            .map(|(init, c)| CancelInFlight {
                init: *init,
                started_ms: c.started_ms,
                unacknowledged: c.pending.len(),
                decided: c.decided,
                holds_answer: c.answer.is_some(),
            })
            .collect()
    }

    /// A cancel of `init` runs here.
    pub(crate) fn contains(&self, init: InstanceId) -> bool {
        self.cancels.contains_key(&init)
    }

    /// The cancel to end before one of `init` can start: the oldest (by start time, then id)
    /// when `MAX_RECORDED_CANCELS` run and none of them is of `init`.
    pub(crate) fn evictee(&self, init: InstanceId) -> Option<InstanceId> {
        if self.cancels.len() >= MAX_RECORDED_CANCELS && !self.cancels.contains_key(&init) {
            self.cancels
                .iter()
                .min_by_key(|(id, c)| (c.started_ms, **id))
                .map(|(id, _)| *id)
        } else {
            None
        }
    }

    /// Starts (or restarts) telling the cancel of `init` to `pending`, from `now_ms`; it does
    /// not end before `min_end_ms`. The caller records it in the vault first.
    pub(crate) fn start(
        &mut self,
        init: InstanceId,
        pending: BTreeSet<Addr>,
        now_ms: u64,
        min_end_ms: u64,
    ) {
        self.cancels.insert(
            init,
            CancelAttempt {
                pending,
                acked: BTreeSet::new(),
                started_ms: now_ms,
                last_sent_ms: now_ms,
                min_end_ms,
                decided: false,
                answer: None,
                cmg_voters: BTreeSet::new(),
                voter_addrs: BTreeMap::new(),
                unanswered: BTreeSet::new(),
            },
        );
    }

    /// Sets the CMG voters of the cancelled incarnation and their addresses in its plan (an
    /// acknowledgement counts as a voter's only from that address).
    pub(crate) fn know_voters(
        &mut self,
        init: InstanceId,
        voters: BTreeSet<NodeName>,
        voter_addrs: BTreeMap<NodeName, Addr>,
    ) {
        if let Some(cancel) = self.cancels.get_mut(&init) {
            cancel.cmg_voters = voters;
            cancel.voter_addrs = voter_addrs;
        }
    }

    /// Holds the answer to `user`'s `request` (with `error`, at the latest at `by_ms`) until the
    /// cancel is decided, or every node of `cmg` confirmed, or the cancel is refused.
    pub(crate) fn hold_answer(
        &mut self,
        init: InstanceId,
        user: Addr,
        request: RequestId,
        error: InitError,
        by_ms: u64,
        cmg: BTreeSet<Addr>,
    ) {
        if let Some(cancel) = self.cancels.get_mut(&init) {
            cancel.answer = Some(HeldAnswer {
                user,
                request,
                error,
                by_ms,
                cmg,
            });
        }
    }

    /// Some cancel holds the answer to `user`'s `request` (a resent request waits for it).
    pub(crate) fn holds_answer_for(&self, user: Addr, request: RequestId) -> bool {
        self.cancels.values().any(|c| {
            c.answer
                .as_ref()
                .is_some_and(|a| a.request == request && a.user == user)
        })
    }

    /// Takes the held answer of `init`'s cancel, if still held: (user, request, error).
    pub(crate) fn take_answer(&mut self, init: InstanceId) -> Option<(Addr, RequestId, InitError)> {
        let held = self.cancels.get_mut(&init).and_then(|c| c.answer.take())?;
        Some((held.user, held.request, held.error))
    }

    /// Ends the cancel of `init`; `true` if it ran (the caller forgets it in the vault).
    pub(crate) fn remove(&mut self, init: InstanceId) -> bool {
        self.cancels.remove(&init).is_some()
    }

    /// The nodes `init`'s cancel was told to, in address order: those that acknowledged it
    /// undecided (they may hold a fenced replica) and those that have not acknowledged it (they
    /// may be waiting for its fate: a cancel under way there). A refusal is forwarded to them.
    pub(crate) fn told(&self, init: InstanceId) -> Vec<Addr> {
        self.cancels
            .get(&init)
            .map(|c| c.acked.union(&c.pending).copied().collect())
            .unwrap_or_default()
    }

    /// A member at `addr` appeared (or came back): every running cancel tells it again. Returns
    /// each cancel's init and whether it is decided, in init order.
    pub(crate) fn retell(&mut self, addr: Addr) -> Vec<(InstanceId, bool)> {
        self.cancels
            .iter_mut()
            .map(|(init, c)| {
                c.acked.remove(&addr);
                c.pending.insert(addr);
                (*init, c.decided)
            })
            .collect()
    }

    /// Counts an acknowledgement of `init`'s cancel from `from`. `name` is the name this node
    /// knows for `from` and `known_addr` the address it knows for that name: the ack counts as a
    /// voter's only at the voter's plan address (or, without a plan, at the known address).
    /// `members` are nodes the acknowledging replica knew (told next); `decided` whether the
    /// sender applied the cancel as decided; `unanswered` the voters it named when it fenced its
    /// replica. `None` when no cancel of `init` runs. `bug` may plant
    /// `CancelDestroysAnsweredCluster` (one fenced voter decides the cancel).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_ack(
        &mut self,
        init: InstanceId,
        from: Addr,
        name: Option<NodeName>,
        known_addr: Option<Addr>,
        members: Vec<Addr>,
        decided: bool,
        unanswered: Option<Vec<NodeName>>,
        now_ms: u64,
        bug: Option<PlantedBug>,
    ) -> Option<AckOutcome> {
        let cancel = self.cancels.get_mut(&init)?;
        // Counted as a voter only at the address this node knows for that name: a namesake of
        // a voter at another address (an empty node) must not decide a cancel. **Decision (a
        // moved voter is known by its replica, issue 11, fuzz seed 4545):** a voter that moved
        // to another address keeps its vault, so its acknowledgement names the voters of the
        // replica of this incarnation it fenced; an empty namesake holds no replica of it (the
        // init was only ever started at the plan's addresses) and names none. Such an ack, from
        // where this node knows the name now, counts as the voter's, and the plan address
        // nobody answers at any more is no longer told. Before, the cancel of a cluster whose
        // voter moved was never decided, and every member kept the cancelled cluster.
        let hosts_replica = unanswered.as_ref().is_some_and(|v| !v.is_empty());
        let name = name.filter(|n| match cancel.voter_addrs.get(n) {
            Some(addr) => *addr == from || (hosts_replica && known_addr == Some(from)),
            None => known_addr.is_none_or(|a| a == from),
        });
        if let Some(old) = name
            .as_ref()
            .and_then(|n| cancel.voter_addrs.get(n))
            .filter(|a| **a != from)
        {
            cancel.pending.remove(old);
        }
        if let Some(voters) = unanswered {
            // A cancel resumed after a restart learns the CMG's voters from its replicas.
            cancel.cmg_voters.extend(voters);
            cancel.unanswered.extend(name);
        }
        // Once the voters that can never help commit an answer leave no majority without them,
        // no answer can ever be committed: the cancel is decided.
        let voters = cancel.cmg_voters.len();
        let blocking = if bug == Some(PlantedBug::CancelDestroysAnsweredCluster) {
            // Planted bug: one fenced voter is taken for the group's decision.
            1
        } else {
            voters - voters / 2
        };
        let out = cancel.unanswered.intersection(&cancel.cmg_voters).count();
        let ack_decided = decided;
        let decided = decided || (voters > 0 && out >= blocking);
        let flipped = decided && !cancel.decided;
        let mut tell = Vec::new();
        if flipped {
            // The CMG committed the cancel: every node still pending, and everyone who
            // acknowledged it undecided (and so kept what it holds of this init), is told at
            // once that it is decided.
            cancel.decided = true;
            let acked: Vec<Addr> = std::mem::take(&mut cancel.acked).into_iter().collect();
            for addr in acked {
                cancel.pending.insert(addr);
            }
            // The node whose acknowledgement decided it is told too: it acknowledged
            // undecided, and so only fenced its replica.
            if !ack_decided {
                cancel.pending.insert(from);
            }
            tell.extend(
                cancel
                    .pending
                    .iter()
                    .copied()
                    .filter(|a| !ack_decided || *a != from),
            );
        }
        let cmg_done = cancel.answer.as_mut().is_some_and(|a| {
            a.cmg.remove(&from);
            a.cmg.is_empty()
        });
        if cancel.decided && !ack_decided {
            // It acknowledged an undecided cancel (it may only have fenced its replica) while
            // the cancel is decided: it stays pending and is told that it is decided.
            cancel.pending.insert(from);
            if !flipped {
                tell.push(from);
            }
        } else {
            cancel.pending.remove(&from);
            cancel.acked.insert(from);
        }
        for member in members {
            if !cancel.acked.contains(&member) && cancel.pending.insert(member) {
                tell.push(member);
            }
        }
        let decided = cancel.decided;
        Some(AckOutcome {
            release_answer: decided || cmg_done,
            done: cancel.done(now_ms),
            tell,
            decided,
        })
    }

    /// Cancels are resent every `init_retry_ms` until each told node confirms — a node cut off
    /// for a while (a named one, or one that joined the cluster before the cancel) must still
    /// clear what the init wrote — for at most `MAX_CANCEL_RETRY_TIMEOUTS * init_timeout_ms`: a
    /// node that never answers (dead for good, or stopped) does not keep a cancel running
    /// forever. A held answer is due after its `by_ms`. Returns what is due, cancel by cancel
    /// in init order; a resend is counted as sent now.
    pub(crate) fn tick(&mut self, now_ms: u64, timing: &Timing) -> Vec<CancelDue> {
        let mut due = Vec::new();
        for (init, cancel) in self.cancels.iter_mut() {
            if cancel.answer.as_ref().is_some_and(|a| now_ms >= a.by_ms) {
                due.push(CancelDue::Answer(*init));
            }
            let limit = cancel.started_ms + MAX_CANCEL_RETRY_TIMEOUTS * timing.init_timeout_ms;
            if cancel.done(now_ms) || now_ms >= limit {
                due.push(CancelDue::End(*init));
                continue;
            }
            if now_ms < cancel.last_sent_ms + timing.init_retry_ms {
                continue;
            }
            due.push(CancelDue::Resend {
                init: *init,
                to: cancel.pending.iter().copied().collect(),
                decided: cancel.decided,
            });
            cancel.last_sent_ms = now_ms;
        }
        due
    }
}

#[cfg(test)]
mod tests;
