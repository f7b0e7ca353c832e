//! What the liveness phase reads of each running node, read in place.
//!
//! The phase judges the cluster every 20 ms of simulated time until it converges (issue 13):
//! building every node's whole [`joinsim::NodeView`] at each poll — its physical members, its
//! groups' voters and learners by name, its join's progress, its inits in flight — was a
//! twentieth of a fuzz run's instructions, though the judgment reads a handful of facts. This
//! module reads those facts with [`World::with_node`]; the states it needs whole (the node's
//! local state, its CMG replica's state) are shared, not copied.

use std::collections::BTreeMap;
use std::sync::Arc;

use joinsim::vault::LocalState;
use joinsim::{CmgState, GroupKind, JoinPhase, LaunchId, LogicalTopology, Rejection};

use crate::world::World;

/// One running node as the liveness judgment sees it: the fields of [`joinsim::NodeView`] it
/// reads, with the same meaning.
#[derive(Clone, Debug)]
pub(crate) struct LiveNode {
    /// `NodeView::name`.
    pub name: String,
    /// `NodeView::launch`.
    pub launch: LaunchId,
    /// `NodeView::halted`.
    pub halted: Option<Rejection>,
    /// `NodeView::in_topology`.
    pub in_topology: bool,
    /// `NodeView::physical.len()`: members of its physical topology, itself included.
    pub physical_len: usize,
    /// `NodeView::local`.
    pub local: Option<Arc<LocalState>>,
    /// `NodeView::cmg_state`.
    pub cmg_state: Option<Arc<CmgState>>,
    /// `NodeView::is_cmg_leader()`.
    pub cmg_leader: bool,
    /// `NodeView::ms.is_some()`: it hosts a Meta Storage replica.
    pub hosts_ms: bool,
    /// `NodeView::join`.
    pub join: JoinPhase,
}

impl LiveNode {
    /// `NodeView::lt()`: the LT of its CMG replica, if it hosts one with a cluster state.
    pub fn lt(&self) -> Option<&LogicalTopology> {
        self.cmg_state.as_deref().and_then(CmgState::committed_lt)
    }

    /// `NodeView::cmg.is_some()`: it hosts a CMG replica (whose state `cmg_state` is).
    pub fn hosts_cmg(&self) -> bool {
        self.cmg_state.is_some()
    }

    /// `NodeView::is_joined()`.
    pub fn is_joined(&self) -> bool {
        matches!(self.join, JoinPhase::Joined { .. })
    }

    /// True when its physical topology holds it alone (`NodeView::physical` is itself only: a
    /// node's own entry is always in its list).
    pub fn alone(&self) -> bool {
        self.physical_len == 1
    }
}

/// Every node with a running state machine, by label (the keys of [`World::views`]).
pub(crate) fn live_nodes(world: &World) -> BTreeMap<String, LiveNode> {
    world
        .labels()
        .into_iter()
        .filter_map(|label| {
            let node = world.with_node(&label, |n| LiveNode {
                name: n.name().to_string(),
                launch: n.launch(),
                halted: n.rejection().cloned(),
                in_topology: n.in_topology(),
                physical_len: n.physical_len(),
                local: n.local_state(),
                cmg_state: n.cmg_state(),
                cmg_leader: n.is_cmg_leader(),
                hosts_ms: n.has_replica(GroupKind::Ms),
                join: n.join_phase().clone(),
            })?;
            Some((label, node))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Sim;

    /// The facts read in place say what the views say, for every node, at every moment of a
    /// run that initializes a cluster and joins every node.
    #[test]
    fn live_nodes_agree_with_the_views() {
        let report = Sim::new(5).nodes(4).run(|w| async move {
            w.start_all();
            let mut compared = 0;
            let mut inited = false;
            for _ in 0..150 {
                w.sleep_ms(20).await;
                if !inited && w.view("n1").is_some_and(|v| v.physical.len() == 4) {
                    inited = w.init_default("n1", "c").await.is_ok();
                }
                let views = w.views();
                let live = live_nodes(&w);
                assert_eq!(
                    views.keys().collect::<Vec<_>>(),
                    live.keys().collect::<Vec<_>>()
                );
                for (label, view) in &views {
                    let node = &live[label];
                    assert_eq!(node.name, view.name);
                    assert_eq!(node.launch, view.launch);
                    assert_eq!(node.halted, view.halted);
                    assert_eq!(node.in_topology, view.in_topology);
                    assert_eq!(node.physical_len, view.physical.len());
                    assert_eq!(node.alone(), view.physical.len() == 1);
                    assert_eq!(node.local, view.local);
                    assert_eq!(node.cmg_state, view.cmg_state);
                    assert_eq!(node.cmg_leader, view.is_cmg_leader());
                    assert_eq!(node.hosts_cmg(), view.cmg.is_some());
                    assert_eq!(node.hosts_ms, view.ms.is_some());
                    assert_eq!(node.join, view.join);
                    // Spelled out here, not through `CmgState::committed_lt`, which both use.
                    let lt = view
                        .cmg_state
                        .as_ref()
                        .filter(|s| s.cluster.is_some())
                        .map(|s| &s.lt);
                    assert_eq!(node.lt(), lt);
                    assert_eq!(node.is_joined(), view.is_joined());
                    compared += 1;
                }
            }
            (compared, w.all_joined())
        });
        let (compared, joined) = report.value;
        assert!(compared > 400, "{compared} node states compared");
        assert!(joined, "the run ends with every node joined");
    }
}
