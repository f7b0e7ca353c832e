//! The node's side of [`NodeView`]: copying everything observable out of the node (its
//! components' state, its groups as [`GroupView`]s) without changing it. The view types are in
//! `src/view.rs`.

use crate::cmg::role_of;
use crate::node::Node;
use crate::raft_group::RaftGroup;
use crate::types::{LaunchId, NodeName};
use crate::view::{GroupView, NodeView};

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
            left_at_ms: self.left_at_ms,
            in_topology: self.topo.is_admitted(),
            physical,
            join: self.joiner.phase().clone(),
            join_progress: self.joiner.progress(),
            inits: self.inits.in_flight_view(),
            cancels: self.cancels.in_flight_view(),
            local: self.local.clone(),
            cmg: self.cmg.as_ref().map(|c| self.group_view(c.group())),
            cmg_state: self.cmg.as_ref().map(|c| c.shared_state()),
            ms: self.ms.as_ref().map(|m| self.group_view(m.group())),
            ms_state: self.ms.as_ref().map(|m| m.shared_state()),
        }
    }
}
