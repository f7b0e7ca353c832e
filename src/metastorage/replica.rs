//! A Meta Storage replica: this node's member of the Meta Storage Raft group with its
//! [`MsState`], and the Meta Storage's own duties — applying committed entries, adding a learner,
//! carrying out a reconfiguration the CMG committed, leaving a joint configuration, handing
//! leadership to a voter. It returns what the node must report or record
//! ([`MsApplied`], an answer to send); the node routes it (`src/node/ms.rs`).

use std::collections::BTreeSet;
use std::sync::Arc;

use raft::eraftpb::{ConfChangeType, ConfChangeV2};

use super::{reconfiguration, single, MsChange, MsCommand, MsState};
use crate::bugs::PlantedBug;
use crate::codec::{decode, digest, encode};
use crate::init::InitPlan;
use crate::raft_group::{Applied, RaftGroup};
use crate::types::{raft_id, InstanceId, NodeName};

/// What applying one committed Meta Storage entry produced, in log order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MsApplied {
    /// The state after the entry at `index`: its digest (reported as `Event::ReplicaState`).
    State {
        /// The entry's index.
        index: u64,
        /// `codec::digest` of the [`MsState`].
        digest: u64,
    },
    /// The entry at `index` installed a newer configuration (reported as
    /// `Event::MsConfigApplied`, and stored in the vault if the node is initialized).
    ConfigApplied {
        /// The new Meta Storage version.
        version: u64,
        /// Its voters.
        nodes: Vec<NodeName>,
        /// The entry's index.
        index: u64,
    },
    /// The entry at `index` did not decode: the replica cannot go on (the node drops it and
    /// reports `Event::ReplicaFailed`). Nothing after it was applied.
    Failed {
        /// The entry's index.
        index: u64,
        /// The decoding error.
        detail: String,
    },
}

/// A Meta Storage replica with its state machine.
pub(crate) struct MsReplica {
    /// The Raft group (read through [`MsReplica::group`], driven through
    /// [`MsReplica::group_mut`]).
    group: RaftGroup,
    state: Arc<MsState>,
    /// The init plan the replica was created with (`None`: caught up from a leader, or
    /// restored).
    plan: Option<Arc<InitPlan>>,
    /// When this replica last heard its group (a Raft message of its incarnation arrived) or led
    /// it: a joined node whose group stays silent for `2 × failure_timeout_ms` asks whether its
    /// init was cancelled (`Node::join_tick`).
    heard_ms: u64,
    /// On the leader: the nodes that asked to be learners and wait for the next membership
    /// change, which admits them all at once (at most [`MAX_WAITING_LEARNERS`]; a node asked
    /// for beyond that asks again later). Emptied when leadership is lost.
    waiting_learners: BTreeSet<NodeName>,
}

/// The most nodes a Meta Storage leader keeps waiting to be admitted as learners in its next
/// membership change.
pub const MAX_WAITING_LEARNERS: usize = 1024;

impl MsReplica {
    /// A replica of `group`, created with `plan`, opened at `now_ms`; its state is rebuilt as
    /// the group applies its log from index 1.
    pub fn new(group: RaftGroup, plan: Option<Arc<InitPlan>>, now_ms: u64) -> MsReplica {
        MsReplica {
            group,
            state: Arc::default(),
            plan,
            heard_ms: now_ms,
            waiting_learners: BTreeSet::new(),
        }
    }

    /// The init plan the replica was created with (`None`: caught up from a leader, or
    /// restored); the init glue compares it with a requested init.
    pub fn plan(&self) -> Option<&InitPlan> {
        self.plan.as_deref()
    }

    /// The Raft group.
    pub fn group(&self) -> &RaftGroup {
        &self.group
    }

    /// The Raft group, to tick, step and process it.
    pub fn group_mut(&mut self) -> &mut RaftGroup {
        &mut self.group
    }

    /// The group's incarnation.
    pub fn instance(&self) -> InstanceId {
        self.group.instance()
    }

    /// The replicated state as applied so far.
    pub fn state(&self) -> &MsState {
        &self.state
    }

    /// The replicated state, shared (copied on the replica's next write only while this copy
    /// lives): how a [`crate::NodeView`] holds it without a copy.
    pub fn shared_state(&self) -> Arc<MsState> {
        Arc::clone(&self.state)
    }

    /// A Raft message of this replica's incarnation arrived at `now_ms`.
    pub fn heard(&mut self, now_ms: u64) {
        self.heard_ms = now_ms;
    }

    /// True when the group has been silent for `bound_ms` at `now_ms`; a leader hears itself
    /// (its clock restarts).
    pub fn silent(&mut self, now_ms: u64, bound_ms: u64) -> bool {
        if self.group.is_leader() {
            self.heard_ms = now_ms;
        }
        now_ms >= self.heard_ms + bound_ms
    }

    /// True when the node of Raft id `id` is a voter or a learner of the group.
    pub fn holds(&self, id: u64) -> bool {
        let conf = self.group.conf_state();
        conf.voters.contains(&id) || conf.learners.contains(&id)
    }

    /// Applies committed entries in log order, stopping at one that does not decode. `bug` may
    /// plant `LearnerChangesOutOfOrder` (an older configuration is installed too).
    pub fn apply(&mut self, applied: Vec<Applied>, bug: Option<PlantedBug>) -> Vec<MsApplied> {
        let mut out = Vec::new();
        for entry in applied {
            let (index, changed) = match entry {
                Applied::Normal { index, data } => match decode::<MsCommand>(&data) {
                    Ok(
                        MsCommand::Init { version, nodes }
                        | MsCommand::SetConfig { version, nodes },
                    ) => (
                        index,
                        Arc::make_mut(&mut self.state).set_config(version, &nodes, bug),
                    ),
                    Err(detail) => {
                        out.push(MsApplied::Failed { index, detail });
                        return out;
                    }
                },
                Applied::ConfChange { index, context } => {
                    if context.is_empty() {
                        continue;
                    }
                    match decode::<MsChange>(&context) {
                        Ok(MsChange::AddLearner { name }) => {
                            if !self.state.nodes.contains(&name) {
                                Arc::make_mut(&mut self.state).learners.insert(name);
                            }
                            (index, false)
                        }
                        Ok(MsChange::AddLearners { names }) => {
                            for name in names {
                                if !self.state.nodes.contains(&name) {
                                    Arc::make_mut(&mut self.state).learners.insert(name);
                                }
                            }
                            (index, false)
                        }
                        Ok(MsChange::Reconfigure { version, nodes }) => {
                            let state = Arc::make_mut(&mut self.state);
                            let old_voters = state.nodes.clone();
                            let changed = state.set_config(version, &nodes, bug);
                            if changed {
                                for n in old_voters {
                                    if !nodes.contains(&n) {
                                        state.learners.insert(n);
                                    }
                                }
                            }
                            (index, changed)
                        }
                        Ok(MsChange::LeaveJoint) => (index, false),
                        Err(detail) => {
                            out.push(MsApplied::Failed { index, detail });
                            return out;
                        }
                    }
                }
            };
            out.push(MsApplied::State {
                index,
                digest: digest(&*self.state),
            });
            if changed {
                out.push(MsApplied::ConfigApplied {
                    version: self.state.version,
                    nodes: self.state.nodes.clone(),
                    index,
                });
            }
        }
        out
    }

    /// The leader adds `name` as a learner, unless it is already a voter or a learner: at once
    /// when no membership change is pending, else with every other node that asked meanwhile,
    /// in one change, as soon as the pending one is applied ([`MsReplica::tick_duties`]).
    /// **Decision (learners admitted in batches, issue 13).**
    pub fn add_learner(&mut self, name: NodeName) {
        if !self.group.is_leader() {
            self.waiting_learners.clear();
            return;
        }
        if self.holds(raft_id(&name)) {
            return;
        }
        if self.waiting_learners.len() < MAX_WAITING_LEARNERS {
            self.waiting_learners.insert(name);
        }
        self.admit_waiting_learners();
    }

    /// The leader proposes one membership change that adds every waiting learner the group
    /// does not hold yet, unless a change is pending or the group is joint (Raft: one change at
    /// a time). A single learner is proposed as before (`MsChange::AddLearner`).
    fn admit_waiting_learners(&mut self) {
        if !self.group.is_leader() {
            self.waiting_learners.clear();
            return;
        }
        if self.waiting_learners.is_empty() {
            // Nothing to propose (the configuration is not copied for nothing at every tick).
            return;
        }
        let conf = self.group.conf_state();
        if self.group.has_pending_conf() || !conf.voters_outgoing.is_empty() {
            return;
        }
        let names: Vec<NodeName> = std::mem::take(&mut self.waiting_learners)
            .into_iter()
            .filter(|n| {
                let id = raft_id(n);
                !conf.voters.contains(&id) && !conf.learners.contains(&id)
            })
            .collect();
        let mut change = ConfChangeV2::default();
        change.set_changes(
            names
                .iter()
                .map(|n| single(raft_id(n), ConfChangeType::AddLearnerNode))
                .collect::<Vec<_>>()
                .into(),
        );
        let context = match names.len() {
            0 => return,
            1 => MsChange::AddLearner {
                name: names[0].clone(),
            },
            _ => MsChange::AddLearners {
                names: names.clone(),
            },
        };
        if !self.group.propose_conf_change(encode(&context), change) {
            // raft-rs dropped it (a leadership transfer under way): they wait for the next one.
            self.waiting_learners.extend(names);
        }
    }

    /// The CMG leader asks for `nodes` at `version`. A replica that already applied `version`
    /// (or a newer one) returns the version it applied, to confirm; a leader outside a joint
    /// configuration proposes the change (a membership change, or only the version when the
    /// voters stay); anything else does nothing (`None`). One membership change at a time (Raft):
    /// none is proposed while the previous one is pending (`RaftGroup::propose_conf_change`) or
    /// the group is still joint. `bug` may plant `LearnerChangesOutOfOrder` (an older version is
    /// carried out too) or `MsReconfigurationOverlaps` (neither guard is asked).
    pub fn reconfigure(
        &mut self,
        version: u64,
        nodes: Vec<NodeName>,
        bug: Option<PlantedBug>,
    ) -> Option<u64> {
        let done = if bug == Some(PlantedBug::LearnerChangesOutOfOrder) {
            // Planted bug: only the very version applied counts as done (IGNITE-22818).
            self.state.version == version
        } else {
            self.state.version >= version
        };
        if done {
            return Some(self.state.version);
        }
        if !self.group.is_leader() {
            return None;
        }
        let overlap = bug == Some(PlantedBug::MsReconfigurationOverlaps);
        let conf = self.group.conf_state();
        if !conf.voters_outgoing.is_empty() && !overlap {
            // Still in a joint configuration: leave it first (see `tick`).
            return None;
        }
        match reconfiguration(&conf, &nodes) {
            Some(change) => {
                let context = encode(&MsChange::Reconfigure { version, nodes });
                if overlap {
                    // Planted bug: proposed whatever change is still pending.
                    self.group.propose_conf_change_overlapping(context, change);
                } else {
                    self.group.propose_conf_change(context, change);
                }
            }
            None => {
                self.group
                    .propose(encode(&MsCommand::SetConfig { version, nodes }));
            }
        }
        None
    }

    /// Meta Storage duties on every tick: a leader left in a joint configuration leaves it
    /// (raft-rs does not when leadership changed before the joint change was applied), and a
    /// leader that is no longer a voter (demoted by a reconfiguration; raft-rs keeps it leading)
    /// hands leadership to the first voter; any other leader admits the learners waiting
    /// ([`MsReplica::add_learner`]). A replica that does not lead forgets who waited.
    pub fn tick_duties(&mut self) {
        if !self.group.is_leader() {
            self.waiting_learners.clear();
            return;
        }
        if self.group.has_pending_conf() {
            return;
        }
        let conf = self.group.conf_state();
        if !conf.voters_outgoing.is_empty() {
            self.group
                .propose_conf_change(encode(&MsChange::LeaveJoint), ConfChangeV2::default());
        } else if !conf.voters.contains(&self.group.id()) {
            let next = self
                .state
                .nodes
                .iter()
                .map(|n| raft_id(n))
                .find(|id| conf.voters.contains(id));
            if let Some(next) = next {
                self.group.transfer_leader(next);
            }
        } else {
            self.admit_waiting_learners();
        }
    }
}

#[cfg(test)]
mod tests;
