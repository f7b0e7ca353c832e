//! The Meta Storage: a Raft group whose state is, here, its own configuration — the node list and
//! the Meta Storage version — which is what the join protocol compares.
//!
//! Voters are the nodes named by the cluster's MS list. Every other node of the logical topology
//! follows the log as a learner: after its join is accepted it starts an empty replica and asks the
//! Meta Storage leader to add it ([`Message::MsAddLearner`](crate::message::Message::MsAddLearner)). A node has recovered locally when its
//! replica has applied the configuration version the CMG reported and the node is part of that
//! configuration.
//!
//! A change of the MS node list is first committed by the CMG (MS version + 1); the CMG leader
//! then asks the Meta Storage leader ([`Message::MsReconfigure`](crate::message::Message::MsReconfigure)) to apply it, as one Raft
//! membership change whose context carries the new version, so the version and the Raft
//! configuration change atomically.
//!
//! This module holds the replicated state and its commands (pure); the replica that runs them is
//! [`MsReplica`] (`src/metastorage/replica.rs`), routed by `src/node/ms.rs`.

use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::bugs::PlantedBug;
use crate::types::{raft_id, NodeName};

mod replica;

pub(crate) use replica::{MsApplied, MsReplica};

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
    /// Several nodes follow the log as learners, admitted in one membership change (issue 13:
    /// one change per learner made a cluster of n nodes take n round trips of the leader to
    /// admit them all).
    AddLearners {
        /// Who, sorted.
        names: Vec<NodeName>,
    },
}

impl MsState {
    /// Installs `nodes` at `version` if it is newer than the configuration applied (true when it
    /// did): a configuration is the CMG's decision for its version, and an older one never comes
    /// back. `bug` may plant `LearnerChangesOutOfOrder` (any other version is installed).
    fn set_config(&mut self, version: u64, nodes: &[NodeName], bug: Option<PlantedBug>) -> bool {
        let out_of_order = bug == Some(PlantedBug::LearnerChangesOutOfOrder);
        if version == self.version || (version < self.version && !out_of_order) {
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
