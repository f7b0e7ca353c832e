//! A god's-eye view of one node: everything a test or checker may want to read, copied out of
//! the node without changing it.

use serde::Serialize;

use crate::cmg::role_of;
use crate::cmg::{CmgState, LogicalTopology};
use crate::error::Rejection;
use crate::event::Role;
use crate::join::JoinPhase;
use crate::metastorage::MsState;
use crate::node::Node;
use crate::raft_group::RaftGroup;
use crate::types::{InstanceId, LaunchId, NodeName};
use crate::vault::LocalState;

/// One Raft replica as seen from outside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupView {
    /// Incarnation.
    pub instance: InstanceId,
    /// Role.
    pub role: Role,
    /// Term.
    pub term: u64,
    /// The leader it knows.
    pub leader: Option<NodeName>,
    /// Commit index.
    pub commit: u64,
    /// Last log index.
    pub last_index: u64,
    /// Voters (by name, where known).
    pub voters: Vec<NodeName>,
    /// Learners (by name, where known).
    pub learners: Vec<NodeName>,
}

/// One node as seen from outside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// Name.
    pub name: NodeName,
    /// This start's launch.
    pub launch: LaunchId,
    /// Set when the node stopped for good.
    pub halted: Option<Rejection>,
    /// True once admitted to the physical topology.
    pub in_topology: bool,
    /// The physical topology as this node sees it (itself included), sorted by name.
    pub physical: Vec<(NodeName, LaunchId)>,
    /// Where its join stands.
    pub join: JoinPhase,
    /// Its vault's cluster state (present when initialized).
    pub local: Option<LocalState>,
    /// Its CMG replica.
    pub cmg: Option<GroupView>,
    /// Its CMG replica's state machine.
    pub cmg_state: Option<CmgState>,
    /// Its Meta Storage replica.
    pub ms: Option<GroupView>,
    /// Its Meta Storage replica's state machine.
    pub ms_state: Option<MsState>,
}

impl NodeView {
    /// True when the node is in the logical topology, by its own account.
    pub fn is_joined(&self) -> bool {
        matches!(self.join, JoinPhase::Joined { .. })
    }

    /// The LT of its CMG replica, if it hosts one with a cluster state.
    pub fn lt(&self) -> Option<&LogicalTopology> {
        self.cmg_state
            .as_ref()
            .filter(|s| s.cluster.is_some())
            .map(|s| &s.lt)
    }

    /// True when its CMG replica leads.
    pub fn is_cmg_leader(&self) -> bool {
        self.cmg.as_ref().is_some_and(|g| g.role == Role::Leader)
    }
}

impl Node {
    fn group_view(&self, group: &RaftGroup) -> GroupView {
        let role = group.role_state();
        let conf = group.conf_state();
        let names = |ids: &[u64]| -> Vec<NodeName> {
            let mut names: Vec<NodeName> = ids
                .iter()
                .map(|id| {
                    self.name_of_raft_id(*id)
                        .unwrap_or_else(|| format!("#{id:x}"))
                })
                .collect();
            names.sort();
            names
        };
        GroupView {
            instance: group.instance(),
            role: role_of(role.role),
            term: role.term,
            leader: self.name_of_raft_id(role.leader),
            commit: group.commit_index(),
            last_index: group.last_index(),
            voters: names(&conf.voters),
            learners: names(&conf.learners),
        }
    }

    /// A copy of everything observable about this node.
    pub fn view(&self) -> NodeView {
        let mut physical: Vec<(NodeName, LaunchId)> = self
            .physical_members()
            .into_iter()
            .map(|(n, _, l)| (n, l))
            .collect();
        physical.sort();
        NodeView {
            name: self.cfg.name.clone(),
            launch: self.launch,
            halted: self.halted.clone(),
            in_topology: self.topo.is_admitted(),
            physical,
            join: self.joiner.phase().clone(),
            local: self.local.clone(),
            cmg: self.cmg.as_ref().map(|c| self.group_view(c.group())),
            cmg_state: self.cmg.as_ref().map(|c| c.state().clone()),
            ms: self.ms.as_ref().map(|m| self.group_view(m.group())),
            ms_state: self.ms.as_ref().map(|m| m.state().clone()),
        }
    }
}
