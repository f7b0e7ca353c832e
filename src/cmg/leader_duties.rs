//! What only the current CMG leader keeps (dropped when it loses leadership): whom to answer once
//! a proposed command is applied, when it last sent the cluster state to each member, the Meta
//! Storage node list it drives the Meta Storage to, the admin commands waiting for the Meta
//! Storage, and the absent members it proposed to remove (LT hygiene). The node routes the
//! leader's duties (`src/node/cmg.rs`, `src/node/cmg_validation.rs`); the leader's rules that
//! read them are `src/cmg/hygiene.rs` and `src/cmg/namesake.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::types::RequestId;
use crate::types::{Addr, LaunchId, NodeName};

/// Bound on the commands a leader tracks for answering.
const MAX_PENDING: usize = 4096;

/// Bound on the joiners a leader remembers waiting for a namesake holder to show whether it
/// lives ([`LeaderDuties::holder_wait_since`]); past it the oldest wait is forgotten (that joiner
/// waits again from its next request).
const MAX_HOLDER_WAITS: usize = 1024;

/// Who asked for a proposed command, so the proposer can answer when it is applied.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PendingKey {
    /// A join request: the joiner's name, launch and attempt.
    Join(NodeName, LaunchId, u64),
    /// A join ready: the joiner's name, launch and attempt.
    Ready(NodeName, LaunchId, u64),
    /// An admin command forwarded by the node at this address under this request id.
    Admin(Addr, RequestId),
}

/// What only the current leader keeps (dropped when it loses leadership).
#[derive(Debug, Default)]
pub(crate) struct LeaderDuties {
    term: u64,
    init_proposed: bool,
    /// An `InitAnswered` or `InitCancelled` was proposed in this term.
    fate_proposed: bool,
    /// Who sent the cancel this leader proposed: acknowledged once it is applied. Crate-visible
    /// only for `src/init.rs` (`on_cancel_init` inserts); others use
    /// [`LeaderDuties::take_cancel_requesters`].
    cancel_requesters: BTreeSet<Addr>,
    /// Last cluster-state notice per member address: (launch, time).
    notices: BTreeMap<Addr, (LaunchId, u64)>,
    pending: BTreeMap<PendingKey, Addr>,
    /// The Meta Storage list the CMG committed and the MS has not confirmed: (version, nodes,
    /// last time asked).
    ms_target: Option<(u64, Vec<NodeName>, u64)>,
    /// Admin commands waiting for the Meta Storage: (origin, request, version).
    admin_waiters: Vec<(Addr, RequestId, u64)>,
    /// LT members and validated nodes this leader proposed to remove as absent from its
    /// physical topology, with when (proposed again after `cluster_state_retry_ms`).
    absent_proposed: BTreeMap<(NodeName, LaunchId), u64>,
    /// Joiners whose vault holds this cluster, waiting since then (ms) for a namesake holder at
    /// another address to be declared dead (a node moved to another host) or to show it lives
    /// (`cmg::join_request_step`); at most `MAX_HOLDER_WAITS`.
    holder_waits: BTreeMap<(NodeName, LaunchId), u64>,
}

impl LeaderDuties {
    /// The duties of a leader elected at `term`.
    pub fn new(term: u64) -> LeaderDuties {
        LeaderDuties {
            term,
            ..Default::default()
        }
    }

    /// Since when (ms) the joiner `name` of `launch` waits for a namesake holder (`None`: it
    /// does not, or this leader has not judged it yet).
    pub fn holder_wait_since(&self, name: &str, launch: LaunchId) -> Option<u64> {
        self.holder_waits.get(&(name.to_string(), launch)).copied()
    }

    /// The joiner `name` of `launch` waits for a namesake holder from `now_ms`, unless it already
    /// does (the first judgement counts). The oldest wait is forgotten beyond
    /// `MAX_HOLDER_WAITS`.
    pub fn note_holder_wait(&mut self, name: &str, launch: LaunchId, now_ms: u64) {
        let key = (name.to_string(), launch);
        if self.holder_waits.contains_key(&key) {
            return;
        }
        if self.holder_waits.len() >= MAX_HOLDER_WAITS {
            let oldest = self
                .holder_waits
                .iter()
                .min_by_key(|(k, since)| (**since, (*k).clone()))
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.holder_waits.remove(&oldest);
            }
        }
        self.holder_waits.insert(key, now_ms);
    }

    /// The term this node leads.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// True once the cluster-init command was proposed (and accepted by Raft) in this term.
    pub fn init_proposed(&self) -> bool {
        self.init_proposed
    }

    /// Records whether Raft took the cluster-init proposal.
    pub fn note_init_proposed(&mut self, taken: bool) {
        self.init_proposed = taken;
    }

    /// True once the init's fate was proposed (and accepted by Raft) in this term.
    pub fn fate_proposed(&self) -> bool {
        self.fate_proposed
    }

    /// Records whether Raft took the fate proposal.
    pub fn note_fate_proposed(&mut self, taken: bool) {
        self.fate_proposed = taken;
    }

    /// Records that `from` asked for the cancel this leader proposes: it is answered when the
    /// cancel is applied.
    pub fn note_cancel_requester(&mut self, from: Addr) {
        self.cancel_requesters.insert(from);
    }

    /// Who sent the cancel this leader proposed, taken (once it is applied, each is answered).
    pub fn take_cancel_requesters(&mut self) -> BTreeSet<Addr> {
        std::mem::take(&mut self.cancel_requesters)
    }

    /// The member at `addr` is in the LT: no notice is owed to it.
    pub fn forget_notice(&mut self, addr: Addr) {
        self.notices.remove(&addr);
    }

    /// True (and the send recorded at `now_ms`) when the cluster state goes to the member at
    /// `addr` of `launch`: forced, or never sent to that launch, or last sent `retry_ms` ago.
    pub fn notice_due(
        &mut self,
        addr: Addr,
        launch: LaunchId,
        now_ms: u64,
        retry_ms: u64,
        force: bool,
    ) -> bool {
        if let Some((sent_launch, sent_ms)) = self.notices.get(&addr) {
            if !force && *sent_launch == launch && now_ms < sent_ms + retry_ms {
                return false;
            }
        }
        self.notices.insert(addr, (launch, now_ms));
        true
    }

    /// Remembers to answer `to` once the command of `key` is applied. True when the command is
    /// to be proposed: it was not pending (a repeat only updates whom to answer) and fewer than
    /// `MAX_PENDING` are.
    pub fn remember_pending(&mut self, key: PendingKey, to: Addr) -> bool {
        if let Some(existing) = self.pending.get_mut(&key) {
            *existing = to;
            return false;
        }
        if self.pending.len() >= MAX_PENDING {
            return false;
        }
        self.pending.insert(key, to);
        true
    }

    /// Whom to answer for the applied command of `key`, if this leader proposed it.
    pub fn take_pending(&mut self, key: &PendingKey) -> Option<Addr> {
        self.pending.remove(key)
    }

    /// True when a join under `name` by another launch than `launch` is proposed and not yet
    /// applied.
    pub fn join_in_flight(&self, name: &str, launch: LaunchId) -> bool {
        self.pending
            .keys()
            .any(|k| matches!(k, PendingKey::Join(n, l, _) if n == name && *l != launch))
    }

    /// Drives the Meta Storage to `nodes` at `version` from now on (asked at the next
    /// [`LeaderDuties::ms_target_due`]).
    pub fn set_ms_target(&mut self, version: u64, nodes: Vec<NodeName>) {
        self.ms_target = Some((version, nodes, 0));
    }

    /// As [`LeaderDuties::set_ms_target`], unless the target is already `version` or newer.
    pub fn raise_ms_target(&mut self, version: u64, nodes: &[NodeName]) {
        if self.ms_target.as_ref().is_none_or(|(v, _, _)| *v < version) {
            self.set_ms_target(version, nodes.to_vec());
        }
    }

    /// The Meta Storage target to ask for at `now_ms`: at once when new, then every `retry_ms`
    /// until confirmed.
    pub fn ms_target_due(&mut self, now_ms: u64, retry_ms: u64) -> Option<(u64, Vec<NodeName>)> {
        let (version, nodes, last) = self.ms_target.as_mut()?;
        if *last != 0 && now_ms < *last + retry_ms {
            return None;
        }
        *last = now_ms.max(1);
        Some((*version, nodes.clone()))
    }

    /// The admin command forwarded by `to` under `request` waits for the Meta Storage to confirm
    /// `version`; then `to` is answered.
    pub fn wait_for_ms(&mut self, to: Addr, request: RequestId, version: u64) {
        self.admin_waiters.push((to, request, version));
    }

    /// A Meta Storage replica confirmed `version`: the target is reached if it was no newer, and
    /// the admin commands waiting for it or an older version are returned, in order: (to,
    /// request, version).
    pub fn ms_confirmed(&mut self, version: u64) -> Vec<(Addr, RequestId, u64)> {
        if self
            .ms_target
            .as_ref()
            .is_some_and(|(v, _, _)| *v <= version)
        {
            self.ms_target = None;
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = self
            .admin_waiters
            .drain(..)
            .partition(|(_, _, v)| *v <= version);
        self.admin_waiters = waiting;
        ready
    }

    /// True when the absent entry `key` may be proposed for removal at `now_ms`: never proposed,
    /// or last proposed `retry_ms` ago.
    pub fn absent_due(&self, key: &(NodeName, LaunchId), now_ms: u64, retry_ms: u64) -> bool {
        self.absent_proposed
            .get(key)
            .is_none_or(|at| now_ms >= at + retry_ms)
    }

    /// Records the removal of `absent` proposed at `now_ms`, forgetting proposals `retry_ms` old.
    pub fn note_absent_proposed(
        &mut self,
        absent: &[(NodeName, LaunchId)],
        now_ms: u64,
        retry_ms: u64,
    ) {
        self.absent_proposed.retain(|_, at| now_ms < *at + retry_ms);
        for key in absent {
            self.absent_proposed.insert(key.clone(), now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> Addr {
        Addr::new([10, 0, 0, n], 7000)
    }

    #[test]
    fn a_notice_is_resent_after_the_retry_or_to_a_new_launch() {
        let mut d = LeaderDuties::new(3);
        assert_eq!(d.term(), 3);
        assert!(d.notice_due(addr(1), LaunchId(1), 100, 50, false));
        assert!(!d.notice_due(addr(1), LaunchId(1), 149, 50, false));
        assert!(d.notice_due(addr(1), LaunchId(1), 149, 50, true), "forced");
        assert!(
            d.notice_due(addr(1), LaunchId(2), 150, 50, false),
            "a restart"
        );
        assert!(d.notice_due(addr(1), LaunchId(2), 200, 50, false));
        d.forget_notice(addr(1));
        assert!(d.notice_due(addr(1), LaunchId(2), 201, 50, false));
    }

    #[test]
    fn a_pending_command_is_proposed_once_and_answered_to_the_last_asker() {
        let mut d = LeaderDuties::new(1);
        let key = PendingKey::Join("z".into(), LaunchId(1), 1);
        assert!(d.remember_pending(key.clone(), addr(1)));
        assert!(!d.remember_pending(key.clone(), addr(2)), "a repeat");
        assert!(d.join_in_flight("z", LaunchId(2)));
        assert!(!d.join_in_flight("z", LaunchId(1)), "its own launch");
        assert_eq!(d.take_pending(&key), Some(addr(2)));
        assert_eq!(d.take_pending(&key), None);
    }

    #[test]
    fn at_most_max_pending_commands_are_tracked() {
        let mut d = LeaderDuties::new(1);
        for i in 0..MAX_PENDING as u64 {
            assert!(d.remember_pending(PendingKey::Admin(addr(1), RequestId(i)), addr(1)));
        }
        assert!(!d.remember_pending(PendingKey::Admin(addr(1), RequestId(u64::MAX)), addr(1)));
    }

    #[test]
    fn the_ms_target_is_asked_for_until_confirmed_and_answers_its_waiters() {
        let mut d = LeaderDuties::new(1);
        assert_eq!(d.ms_target_due(0, 100), None);
        d.set_ms_target(2, vec!["a".into()]);
        d.raise_ms_target(2, &["b".into()]);
        assert_eq!(d.ms_target_due(0, 100), Some((2, vec!["a".into()])));
        assert_eq!(d.ms_target_due(100, 100), None, "last asked at 1");
        assert!(d.ms_target_due(101, 100).is_some());
        d.raise_ms_target(3, &["b".into()]);
        d.wait_for_ms(addr(1), RequestId(1), 3);
        d.wait_for_ms(addr(2), RequestId(2), 4);
        assert!(d.ms_confirmed(2).is_empty());
        assert!(d.ms_target_due(102, 100).is_some(), "3 is not confirmed");
        assert_eq!(d.ms_confirmed(3), vec![(addr(1), RequestId(1), 3)]);
        assert_eq!(d.ms_target_due(10_000, 100), None);
    }

    #[test]
    fn an_absent_member_is_proposed_again_only_after_the_retry() {
        let mut d = LeaderDuties::new(1);
        let key = ("z".to_string(), LaunchId(1));
        assert!(d.absent_due(&key, 0, 50));
        d.note_absent_proposed(std::slice::from_ref(&key), 10, 50);
        assert!(!d.absent_due(&key, 59, 50));
        assert!(d.absent_due(&key, 60, 50));
    }

    #[test]
    fn proposals_and_cancel_requesters_are_per_term() {
        let mut d = LeaderDuties::new(1);
        assert!(!d.init_proposed() && !d.fate_proposed());
        d.note_init_proposed(true);
        d.note_fate_proposed(true);
        assert!(d.init_proposed() && d.fate_proposed());
        d.note_cancel_requester(addr(4));
        assert_eq!(d.take_cancel_requesters().len(), 1);
        assert!(d.take_cancel_requesters().is_empty());
    }
}
