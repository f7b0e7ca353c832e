//! The safety invariants of docs/spec.md §3, one checker each, run after every trace entry and
//! every vault write; and the two-cluster hazard.
//!
//! A checker is one type behind [`Check`], in a file named after its invariant
//! (`always_one_tag_per_cmg.rs`, ...), listed once in [`registry`]. The checkers are fed the
//! trace as it is recorded. They share one read-only [`History`] of the run — which launches
//! passed pre-init, which were validated, which sent join ready, which tag each CMG incarnation
//! committed, every replica's durable log — that [`Checker`] updates once per entry, after every
//! checker looked at the entry against the history of the entries before it. A checker may keep
//! state of its own besides (what only its invariant needs). Nothing here asks a node: a bug that
//! makes a node lie in its own state cannot hide from the checkers.
//!
//! Adding an invariant (docs/invariants.md, "Adding an invariant"): its name (a variant of
//! [`Invariant`] and a row in docs/invariants.md's safety table), one file here with the checker
//! and its tests, and one line in the list of [`registry`].

use std::collections::BTreeMap;
use std::fmt;

use joinsim::vault::VaultWrite;
use joinsim::{ClusterTag, GroupKind, Vault};

use crate::trace::TraceEntry;

mod durable;
mod hazards;
mod history;
mod invariant;
mod lt_step;

#[cfg(test)]
mod testing;

pub use self::always_committed_logs_agree::committed_logs_agree;
pub use durable::{DurableLogs, DurableReplica, EntryDigest};
pub use hazards::{Hazard, HazardKind};
pub use history::{ClusterFacts, History, LtEntrant, NodeFacts};
pub use invariant::{Invariant, Violation};

/// One invariant's checker. Every hook sees the [`History`] as it was before the entry or write
/// it is given; a hook that finds the invariant broken returns the violation (the nodes
/// involved, the simulated time, what exactly).
pub trait Check: fmt::Debug + Send {
    /// The invariant it checks.
    fn invariant(&self) -> Invariant;

    /// Checks one trace entry.
    fn observe(&mut self, _entry: &TraceEntry, _history: &History) -> Option<Violation> {
        None
    }

    /// Checks one member entering an LT version (see [`History::lt_entrants`]), as `entry`
    /// reported it. Called only when no checker found `entry` itself broke an invariant.
    fn observe_lt_entrant(
        &mut self,
        _entrant: &LtEntrant,
        _entry: &TraceEntry,
        _history: &History,
    ) -> Option<Violation> {
        None
    }

    /// Checks one vault write that node `label` made durable at `time_us` (microseconds).
    fn observe_write(
        &mut self,
        _label: &str,
        _time_us: u64,
        _write: &VaultWrite,
        _history: &History,
    ) -> Option<Violation> {
        None
    }
}

/// Declares each checker's module and lists the checkers in [`registry`], in order: one line
/// `module::Type` per invariant.
macro_rules! checkers {
    ($($module:ident :: $checker:ident),* $(,)?) => {
        $(mod $module;)*

        /// Every checker, in the order their violations are reported when one trace entry
        /// breaks more than one invariant (the first decides a run's failure kind, and with it
        /// the fuzzer's findings and file names). Where two checkers can trip on one entry the
        /// order is: the replicas' agreement on what they applied
        /// (`always_committed_logs_agree`) before anything that reads the applied event; the
        /// committed tag; an LT report's step rules, then the agreement on the LT; then, for
        /// each member entering an LT version in turn, validation and join ready, Meta Storage
        /// catch-up, group incarnation, compatibility; of the refusal checkers, a stale or
        /// premature refusal of a cancelled init before the sparing of members.
        pub fn registry() -> Vec<Box<dyn Check>> {
            vec![$(Box::new($module::$checker::default())),*]
        }
    };
}

checkers! {
    always_committed_logs_agree::AlwaysCommittedLogsAgree,
    always_one_tag_per_cmg::AlwaysOneTagPerCmg,
    always_lt_version_steps_by_one::AlwaysLtVersionStepsByOne,
    always_lt_member_removed_only_by_its_leave::AlwaysLtMemberRemovedOnlyByItsLeave,
    always_replicas_agree_on_lt::AlwaysReplicasAgreeOnLt,
    always_lt_member_validated_then_ready::AlwaysLtMemberValidatedThenReady,
    always_lt_member_ms_caught_up::AlwaysLtMemberMsCaughtUp,
    always_one_group_incarnation_per_node::AlwaysOneGroupIncarnationPerNode,
    always_lt_member_compatible::AlwaysLtMemberCompatible,
    always_physical_member_passed_pre_init::AlwaysPhysicalMemberPassedPreInit,
    always_ms_version_monotonic::AlwaysMsVersionMonotonic,
    always_one_leader_per_term::AlwaysOneLeaderPerTerm,
    always_init_idempotent::AlwaysInitIdempotent,
    always_answered_cluster_never_cancelled::AlwaysAnsweredClusterNeverCancelled,
    always_commit_index_monotonic::AlwaysCommitIndexMonotonic,
    always_committed_entries_durable::AlwaysCommittedEntriesDurable,
    always_cancelled_member_told::AlwaysCancelledMemberTold,
    always_refusal_spares_members::AlwaysRefusalSparesMembers,
    always_one_cmg_replica_per_name::AlwaysOneCmgReplicaPerName,
    always_init_answered_after_commit::AlwaysInitAnsweredAfterCommit,
    always_ms_config_applied_in_version_order::AlwaysMsConfigAppliedInVersionOrder,
    always_join_sends_paced::AlwaysJoinSendsPaced,
}

/// The incremental checker of every safety invariant: the [`History`], every checker of
/// [`registry`], and the hazards seen.
#[derive(Debug)]
pub struct Checker {
    history: History,
    checks: Vec<Box<dyn Check>>,
    hazards: Vec<Hazard>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker {
            history: History::default(),
            checks: registry(),
            hazards: Vec::new(),
        }
    }
}

impl Checker {
    /// A checker for a world with these nodes (by label).
    pub fn new(nodes: BTreeMap<String, NodeFacts>) -> Checker {
        let mut checker = Checker::default();
        checker.history.nodes = nodes;
        checker
    }

    /// A checker for a world with these nodes, run with these timers.
    pub fn with_timing(nodes: BTreeMap<String, NodeFacts>, timing: &joinsim::Timing) -> Checker {
        let mut checker = Checker::new(nodes);
        checker.history.start_grace_ms = 2 * timing.failure_timeout_ms;
        checker
    }

    /// Learns about a node added during the run.
    pub fn add_node(&mut self, label: &str, facts: NodeFacts) {
        self.history.nodes.insert(label.to_string(), facts);
    }

    /// The history of the run so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The hazards reported so far.
    pub fn hazards(&self) -> &[Hazard] {
        &self.hazards
    }

    /// Checks one new trace entry; returns the first violation in [`registry`] order. Every
    /// checker sees every entry (so that what a checker keeps of its own never misses one). When
    /// the entry itself broke nothing, the members it brings into an LT version are checked one
    /// after the other, each by the checkers in order, up to the first violation.
    pub fn observe(&mut self, entry: &TraceEntry) -> Option<Violation> {
        let history = &self.history;
        let mut found = None;
        for check in &mut self.checks {
            let violation = check.observe(entry, history);
            if found.is_none() {
                found = violation;
            }
        }
        if found.is_none() {
            found = history.lt_entrants(entry).and_then(|entrants| {
                entrants.iter().find_map(|entrant| {
                    self.checks
                        .iter_mut()
                        .find_map(|check| check.observe_lt_entrant(entrant, entry, history))
                })
            });
        }
        self.history
            .record(entry, found.as_ref().map(|v| v.invariant));
        found
    }

    /// Checks one vault write of a node, as the host makes it durable (a replica's commit index
    /// never goes down, and no committed entry is lost from every replica that held it); returns
    /// the first violation in [`registry`] order.
    pub fn observe_write(
        &mut self,
        label: &str,
        time_us: u64,
        write: &VaultWrite,
    ) -> Option<Violation> {
        let history = &self.history;
        let mut found = None;
        for check in &mut self.checks {
            let violation = check.observe_write(label, time_us, write, history);
            if found.is_none() {
                found = violation;
            }
        }
        self.history.durable.record(label, write);
        found
    }

    /// Learns the durable state a node starts the run with (a restored cluster's vault).
    pub fn load_vault(&mut self, label: &str, vault: &Vault) {
        self.history.durable.load_vault(label, vault);
    }

    /// When the cluster with this committed tag ceased to exist (see
    /// [`History::cluster_gone_since`]).
    pub fn cluster_gone_since(&self, tag: &ClusterTag) -> Option<u64> {
        self.history.cluster_gone_since(tag)
    }

    /// The longest committed prefix the checker has seen in any incarnation of `kind`, from the
    /// vault writes (a test's proof that the host shows it every write).
    pub fn committed_prefix_len(&self, kind: GroupKind) -> usize {
        self.history.durable.committed_prefix_len(kind)
    }

    /// Looks for two different committed clusters, each with a running majority of its CMG,
    /// whose CMG members can reach each other, and reports the first such pair as the
    /// `two_clusters` hazard (once a run). `running(a)` tells whether node `a` (a label) runs;
    /// `reachable(a, b)` whether running nodes `a` and `b` can exchange messages; `now_ms` is the
    /// simulated time.
    pub fn look_for_hazards(
        &mut self,
        now_ms: u64,
        running: impl Fn(&str) -> bool,
        reachable: impl Fn(&str, &str) -> bool,
    ) {
        if self
            .hazards
            .iter()
            .any(|h| h.kind == HazardKind::TwoClusters)
        {
            return;
        }
        if let Some(hazard) = hazards::two_clusters(&self.history, now_ms, running, reachable) {
            self.hazards.push(hazard);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The registry holds every invariant once; sound histories pass.

    use std::collections::BTreeSet;

    use strum::IntoEnumIterator;

    use super::testing::*;
    use super::*;

    #[test]
    fn the_registry_checks_every_invariant_once() {
        let listed: Vec<Invariant> = registry().iter().map(|c| c.invariant()).collect();
        let distinct: BTreeSet<Invariant> = listed.iter().copied().collect();
        assert_eq!(listed.len(), distinct.len(), "{listed:?}");
        assert_eq!(distinct, Invariant::iter().collect::<BTreeSet<_>>());
    }

    #[test]
    fn a_sound_history_passes() {
        assert_eq!(feed(sound_join()), None);
    }
}
