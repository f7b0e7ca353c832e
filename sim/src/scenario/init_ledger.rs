//! What the trace says about init commands, read once: the liveness phase's two init checks
//! (every init a running node received is answered; a cancelled init leaves no state behind).
//!
//! The liveness phase asks its question every 20 ms of simulated time for up to its timeout
//! (60 s by default): reading the whole trace each time made a run that fails liveness
//! quadratic in its length (a planted-bug hunt shrinking a liveness failure spent most of its
//! 14 minutes here). The ledger keeps a cursor into the trace, which only grows (`Trace::record`
//! appends up to `MAX_TRACE_ENTRIES`), and folds each entry in once.

use std::collections::{BTreeMap, BTreeSet};

use joinsim::{Event, InitFate, InstanceId, LaunchId};

use crate::trace::{TraceEntry, TraceKind};
use crate::world::World;

/// The init commands of a run so far, folded from its trace (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct InitLedger {
    /// Trace entries folded in so far.
    cursor: usize,
    /// Per node label, the init requests it received since its last start and has not answered.
    unanswered: BTreeMap<String, BTreeSet<u64>>,
    /// Per node label, its latest launch.
    launches: BTreeMap<String, LaunchId>,
    /// Cancels as they happened: (init's CMG instance, initiator's label, initiator's launch).
    cancelled: Vec<(InstanceId, String, LaunchId)>,
    /// Inits whose fate a replica applied as answered to a user.
    answered: BTreeSet<InstanceId>,
    /// Inits whose fate a replica applied as cancelled.
    committed_cancels: BTreeSet<InstanceId>,
}

impl InitLedger {
    /// Folds in the trace entries recorded since the last call (the trace only grows).
    pub(crate) fn advance(&mut self, world: &World) {
        world.with_trace(|trace| {
            let start = self.cursor.min(trace.len());
            for entry in &trace[start..] {
                self.fold(entry);
            }
            self.cursor = trace.len();
        });
    }

    fn fold(&mut self, entry: &TraceEntry) {
        let TraceKind::Protocol(event) = &entry.kind else {
            return;
        };
        match event {
            Event::Started { launch, .. } => {
                self.unanswered.remove(&entry.node);
                self.launches.insert(entry.node.clone(), *launch);
            }
            Event::InitReceived { request, .. } => {
                self.unanswered
                    .entry(entry.node.clone())
                    .or_default()
                    .insert(request.0);
            }
            Event::InitAnswered { request, .. } => {
                if let Some(requests) = self.unanswered.get_mut(&entry.node) {
                    requests.remove(&request.0);
                }
            }
            Event::InitCancelled { init, .. } => {
                if let Some(launch) = self.launches.get(&entry.node) {
                    self.cancelled.push((*init, entry.node.clone(), *launch));
                }
            }
            Event::InitFateApplied {
                instance,
                fate: Some(InitFate::Answered),
                ..
            } => {
                self.answered.insert(*instance);
            }
            Event::InitFateApplied {
                instance,
                fate: Some(InitFate::Cancelled),
                ..
            } => {
                self.committed_cancels.insert(*instance);
            }
            _ => {}
        }
    }

    /// Init commands a running node received (since its last start) and has not answered, one
    /// line per node. Call [`InitLedger::advance`] first.
    pub(crate) fn unanswered_inits(&self, world: &World) -> Vec<String> {
        self.unanswered
            .iter()
            .filter(|(label, requests)| !requests.is_empty() && world.is_running(label))
            .map(|(label, requests)| format!("{label} never answered init request(s) {requests:?}"))
            .collect()
    }

    /// Groups and stored cluster states of a cancelled init that are still on a running node
    /// that has not halted, for cancels whose initiator still runs and for every cancel the CMG
    /// committed: a cancel must clear them (docs/spec.md §1, step 2, and the decision that it
    /// reaches every member) — unless the init was answered to a user, whose cancel is refused
    /// (docs/spec.md §5). Call [`InitLedger::advance`] first.
    pub(crate) fn state_left_by_cancelled_inits(&self, world: &World) -> Vec<String> {
        // Whose cancel must be complete: the cancels of an initiator that still runs (it keeps
        // telling), and every cancel the CMG committed (a replica applied `InitCancelled` as the
        // init's fate), whoever started it: the nodes that cleared it tell whoever still holds
        // it (fuzz seed 20033506, where the initiator halted right after the commit).
        let mut pending: BTreeMap<InstanceId, String> = BTreeMap::new();
        for (init, initiator, launch) in &self.cancelled {
            // A user was told this cluster exists: its cancel is refused (docs/spec.md §5).
            if world.with_node(initiator, |n| n.launch()) == Some(*launch)
                && !self.answered.contains(init)
            {
                pending
                    .entry(*init)
                    .or_insert_with(|| format!("that {initiator} cancelled"));
            }
        }
        for init in &self.committed_cancels {
            pending.insert(*init, "whose cancel the CMG committed".to_string());
        }
        let mut problems = Vec::new();
        if pending.is_empty() {
            return problems;
        }
        // A stopped (rejected) node keeps its vault for an operator.
        let judged: Vec<String> = world
            .labels()
            .into_iter()
            .filter(|label| world.with_node(label, |n| !n.is_halted()) == Some(true))
            .collect();
        for (init, why) in pending {
            for label in &judged {
                // Read in place: a vault holds the Raft logs.
                let (group, local) = world.with_vault(label, |vault| {
                    let group = [vault.cmg.as_ref(), vault.ms.as_ref()]
                        .into_iter()
                        .flatten()
                        .any(|g| g.instance == init);
                    let local = vault.local.as_ref().is_some_and(|l| l.cmg_instance == init);
                    (group, local)
                });
                if group || local {
                    problems.push(format!(
                        "{label} still holds state of the init {init:?} {why}"
                    ));
                }
            }
        }
        problems
    }
}
