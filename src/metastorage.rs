//! The Meta Storage: a Raft group whose state is, here, its own configuration — the node list and
//! the Meta Storage version — which is what the join protocol compares.
//!
//! Voters are the nodes named by the cluster's MS list. Every other node of the logical topology
//! follows the log as a learner: after its join is accepted it starts an empty replica and asks the
//! Meta Storage leader to add it ([`Message::MsAddLearner`]). A node has recovered locally when its
//! replica has applied the configuration version the CMG reported and the node is part of that
//! configuration.
//!
//! A change of the MS node list is first committed by the CMG (MS version + 1); the CMG leader
//! then asks the Meta Storage leader ([`Message::MsReconfigure`]) to apply it, as one Raft
//! membership change whose context carries the new version, so the version and the Raft
//! configuration change atomically.

use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::message::{decode, encode, Message};
use crate::node::Node;
use crate::raft_group::Applied;
use crate::types::{raft_id, Addr, NodeName};

/// The Meta Storage's replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsState {
    /// Version of the configuration (0 until the first entry is applied).
    pub version: u64,
    /// Voters by name.
    pub nodes: Vec<NodeName>,
    /// Learners by name.
    pub learners: BTreeSet<NodeName>,
}

/// An application command of the Meta Storage log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MsCommand {
    /// The first entry: the initial configuration.
    Init {
        /// Version (1 for a new cluster).
        version: u64,
        /// Voters.
        nodes: Vec<NodeName>,
    },
    /// A version change that needs no membership change (same voters).
    SetConfig {
        /// Version.
        version: u64,
        /// Voters.
        nodes: Vec<NodeName>,
    },
}

/// What a Raft membership change of the Meta Storage means: the context of the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MsChange {
    /// A node follows the log as a learner.
    AddLearner {
        /// Who.
        name: NodeName,
    },
    /// A new voter list with its version.
    Reconfigure {
        /// Version.
        version: u64,
        /// Voters.
        nodes: Vec<NodeName>,
    },
    /// Leaving a joint configuration.
    LeaveJoint,
}

impl MsState {
    fn set_config(&mut self, version: u64, nodes: &[NodeName]) -> bool {
        if version <= self.version {
            return false;
        }
        self.version = version;
        self.nodes = nodes.to_vec();
        for n in nodes {
            self.learners.remove(n);
        }
        true
    }
}

/// Builds the membership change that makes `target` the voters, demoting voters that leave to
/// learners. `None` when the voters already are `target`.
pub(crate) fn reconfiguration(current: &ConfState, target: &[NodeName]) -> Option<ConfChangeV2> {
    let target_ids: BTreeSet<u64> = target.iter().map(|n| raft_id(n)).collect();
    let current_ids: BTreeSet<u64> = current.voters.iter().copied().collect();
    let mut changes = Vec::new();
    for id in target_ids.difference(&current_ids) {
        changes.push(single(*id, ConfChangeType::AddNode));
    }
    for id in current_ids.difference(&target_ids) {
        changes.push(single(*id, ConfChangeType::AddLearnerNode));
    }
    if changes.is_empty() {
        return None;
    }
    let mut change = ConfChangeV2::default();
    change.set_transition(ConfChangeTransition::Auto);
    change.set_changes(changes.into());
    Some(change)
}

fn single(id: u64, kind: ConfChangeType) -> ConfChangeSingle {
    let mut change = ConfChangeSingle {
        node_id: id,
        ..Default::default()
    };
    change.set_change_type(kind);
    change
}

impl Node {
    /// Applies committed Meta Storage entries to the local state machine.
    pub(crate) fn apply_ms(&mut self, applied: Vec<Applied>) {
        for entry in applied {
            let (index, changed) = match entry {
                Applied::Normal { index, data } => match decode::<MsCommand>(&data) {
                    Ok(
                        MsCommand::Init { version, nodes }
                        | MsCommand::SetConfig { version, nodes },
                    ) => {
                        let Some(ms) = self.ms.as_mut() else { return };
                        (index, ms.state.set_config(version, &nodes))
                    }
                    Err(detail) => {
                        self.fail_replica(crate::types::GroupKind::Ms, index, detail);
                        return;
                    }
                },
                Applied::ConfChange { index, context, .. } => {
                    if context.is_empty() {
                        continue;
                    }
                    match decode::<MsChange>(&context) {
                        Ok(MsChange::AddLearner { name }) => {
                            if let Some(ms) = self.ms.as_mut() {
                                if !ms.state.nodes.contains(&name) {
                                    ms.state.learners.insert(name);
                                }
                            }
                            (index, false)
                        }
                        Ok(MsChange::Reconfigure { version, nodes }) => {
                            let Some(ms) = self.ms.as_mut() else { return };
                            let old_voters = ms.state.nodes.clone();
                            let changed = ms.state.set_config(version, &nodes);
                            if changed {
                                for n in old_voters {
                                    if !nodes.contains(&n) {
                                        ms.state.learners.insert(n);
                                    }
                                }
                            }
                            (index, changed)
                        }
                        Ok(MsChange::LeaveJoint) => (index, false),
                        Err(detail) => {
                            self.fail_replica(crate::types::GroupKind::Ms, index, detail);
                            return;
                        }
                    }
                }
            };
            if let Some(ms) = self.ms.as_ref() {
                let state_digest = crate::message::digest(&ms.state);
                self.emit(crate::event::Event::ReplicaState {
                    group: crate::types::GroupKind::Ms,
                    index,
                    digest: state_digest,
                });
            }
            if changed {
                let Some(ms) = self.ms.as_ref() else { return };
                let (version, nodes) = (ms.state.version, ms.state.nodes.clone());
                self.emit(crate::event::Event::MsConfigApplied {
                    version,
                    nodes: nodes.clone(),
                    index,
                });
                self.store_ms_config(version, nodes);
            }
        }
    }

    /// Records a newer Meta Storage version in the vault, if the node is initialized.
    pub(crate) fn store_ms_config(&mut self, version: u64, nodes: Vec<NodeName>) {
        let Some(local) = self.local.as_mut() else {
            return;
        };
        if version <= local.config.ms_version {
            return;
        }
        let from = local.config.ms_version;
        local.config.ms_version = version;
        local.config.ms_nodes = nodes.clone();
        self.write(crate::vault::VaultWrite::SetMsConfig { version, nodes });
        self.emit(crate::event::Event::MsVersionStored {
            from: Some(from),
            to: version,
        });
    }

    /// The Meta Storage leader adds a learner.
    pub(crate) fn on_ms_add_learner(&mut self, name: NodeName) {
        let Some(ms) = self.ms.as_mut() else { return };
        if !ms.group.is_leader() {
            return;
        }
        let id = raft_id(&name);
        let conf = ms.group.conf_state();
        if conf.voters.contains(&id) || conf.learners.contains(&id) {
            return;
        }
        let mut change = ConfChangeV2::default();
        change.set_changes(vec![single(id, ConfChangeType::AddLearnerNode)].into());
        ms.group
            .propose_conf_change(encode(&MsChange::AddLearner { name }), change);
    }

    /// A Meta Storage replica answers or acts on a reconfiguration request from the CMG leader.
    pub(crate) fn on_ms_reconfigure(&mut self, from: Addr, version: u64, nodes: Vec<NodeName>) {
        let Some(ms) = self.ms.as_mut() else { return };
        if ms.state.version >= version {
            let applied = ms.state.version;
            self.send(from, Message::MsReconfigured { version: applied });
            return;
        }
        if !ms.group.is_leader() {
            return;
        }
        let conf = ms.group.conf_state();
        if !conf.voters_outgoing.is_empty() {
            // Still in a joint configuration: leave it first (see `ms_tick`).
            return;
        }
        match reconfiguration(&conf, &nodes) {
            Some(change) => {
                ms.group
                    .propose_conf_change(encode(&MsChange::Reconfigure { version, nodes }), change);
            }
            None => {
                ms.group
                    .propose(encode(&MsCommand::SetConfig { version, nodes }));
            }
        }
    }

    /// Meta Storage duties on every tick: a leader left in a joint configuration leaves it
    /// (raft-rs does not when leadership changed before the joint change was applied), and a
    /// leader that is no longer a voter (demoted by a reconfiguration; raft-rs keeps it leading)
    /// hands leadership to the first voter.
    pub(crate) fn ms_tick(&mut self) {
        let Some(ms) = self.ms.as_mut() else { return };
        if !ms.group.is_leader() || ms.group.has_pending_conf() {
            return;
        }
        let conf = ms.group.conf_state();
        if !conf.voters_outgoing.is_empty() {
            ms.group
                .propose_conf_change(encode(&MsChange::LeaveJoint), ConfChangeV2::default());
        } else if !conf.voters.contains(&ms.group.id()) {
            let next = ms
                .state
                .nodes
                .iter()
                .map(|n| raft_id(n))
                .find(|id| conf.voters.contains(id));
            if let Some(next) = next {
                ms.group.transfer_leader(next);
            }
        }
    }
}
