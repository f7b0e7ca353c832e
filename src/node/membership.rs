//! What the node can tell about the cluster it belongs to, from its components together: its
//! stored cluster (`local`), its [`Joiner`](crate::join::Joiner), its replicas and its physical
//! topology. The join (`src/node/join.rs`), the init side (`src/init.rs`) and the physical
//! topology's routing ask these questions; none of them is one component's alone. For a cluster
//! state they are gathered into [`OwnCluster`], the facts the joiner's rule judges by.

use crate::bugs::PlantedBug;
use crate::init_command::InitFate;
use crate::join::OwnCluster;
use crate::node::Node;
use crate::types::InstanceId;

impl Node {
    /// True when a majority of this node's own cluster's CMG voters (itself included) is in its
    /// physical topology.
    pub(crate) fn own_cmg_in_sight(&self) -> bool {
        let Some(local) = &self.local else {
            return false;
        };
        // Read in place: this runs at every tick (copying the members' names was 4% of a fuzz
        // run).
        let in_view = |n: &str| {
            *n == *self.cfg.name || self.topo.records().any(|r| r.identity.info.name == n)
        };
        let visible = local
            .config
            .cmg_nodes
            .iter()
            .filter(|n| in_view(n.as_str()))
            .count();
        visible > local.config.cmg_nodes.len() / 2
    }

    /// True when this node is a member of a live cluster of its own: initialized, and accepted by
    /// its cluster, or hosting a replica that knows a leader, or with a majority of its cluster's
    /// CMG voters in sight — or just started from its vault, within the `2 * failure_timeout_ms`
    /// its own CMG is given to come into sight (the same grace as for following another
    /// cluster's leader).
    pub(crate) fn member_of_live_cluster(&self) -> bool {
        // Planted bug: no grace after a start from the vault (for a cancel to reach the node).
        let young = self.now_ms < self.own_cmg_seen_ms + 2 * self.timing.failure_timeout_ms
            && self.cfg.bug != Some(PlantedBug::CancelledMemberHalts);
        self.local.is_some() && (young || self.member_of_established_cluster())
    }

    /// True when this node is a member of a live cluster of its own by what it has seen, not
    /// by the grace after a start: initialized, and accepted by its cluster, or hosting a
    /// replica that knows a leader, or with a majority of its cluster's CMG voters in sight.
    pub(crate) fn member_of_established_cluster(&self) -> bool {
        let accepted = self.joiner.is_accepted();
        self.local.is_some()
            && (accepted || self.hosted_group_has_leader() || self.own_cmg_in_sight())
    }

    /// The init's fate in this node's CMG replica of its own cluster (the replica's incarnation
    /// and committed tag are its local state's): `None` when it hosts no such replica, else the
    /// fate its log holds (`Some(None)`: undecided).
    fn own_cluster_fate(&self) -> Option<Option<InitFate>> {
        let (Some(local), Some(cmg)) = (&self.local, &self.cmg) else {
            return None;
        };
        let own = cmg.group().instance() == local.cmg_instance
            && cmg
                .state()
                .cluster
                .as_ref()
                .is_some_and(|c| c.config.tag == local.config.tag);
        own.then_some(cmg.state().init_fate)
    }

    /// True when this node is a CMG voter of its own cluster and its log says the init was
    /// answered to a user.
    pub(crate) fn voter_of_answered_cluster(&self) -> bool {
        self.own_cluster_fate() == Some(Some(InitFate::Answered))
    }

    /// True when this node hosts a CMG replica whose log committed the cluster-init, no cancel
    /// of it applied: the node is a voter of a cluster that exists, whether or not it joined it.
    pub(crate) fn hosted_cmg_committed(&self) -> bool {
        self.cmg.as_ref().is_some_and(|cmg| {
            cmg.state().cluster.is_some() && cmg.state().init_fate != Some(InitFate::Cancelled)
        })
    }

    /// True when this node is a CMG voter of its own cluster whose replica applied the
    /// cluster-init (the cluster state is committed in its log) and has not applied a cancel of
    /// it. Such a node is its cluster, not a newcomer: halting it on a "first admitted wins"
    /// refusal may leave the CMG without a majority for good once the other voters come back
    /// (fuzz seeds 17009011, 17011047: the other voter was down longer than the start grace).
    pub(crate) fn holds_committed_cluster(&self) -> bool {
        self.own_cluster_fate()
            .is_some_and(|fate| fate != Some(InitFate::Cancelled))
    }

    /// True when a replica this node hosts knows a leader: its CMG replica's group or its
    /// Meta Storage replica's (either; fuzz seed 4709 with scenario seed 9: a CMG voter cut off
    /// from its CMG partner, whose Meta Storage replica followed that partner as leader, was
    /// taken for a node of no live cluster and halted by another cluster's refusal).
    fn hosted_group_has_leader(&self) -> bool {
        let cmg = self.cmg.as_ref().map(|c| c.group().role_state().leader);
        let ms = self.ms.as_ref().map(|m| m.group().role_state().leader);
        [cmg, ms].into_iter().flatten().any(|leader| leader != 0)
    }

    /// The incarnation of the replicas this node hosts, if any.
    pub(crate) fn hosted_instance(&self) -> Option<InstanceId> {
        self.cmg
            .as_ref()
            .map(|c| c.group().instance())
            .or_else(|| self.ms.as_ref().map(|m| m.instance()))
    }

    /// What binds this node to a cluster of its own, as the facts the joiner's "one cluster per
    /// node" rule judges a cluster state by (`join::foreign_cluster`).
    pub(super) fn own_cluster(&self) -> OwnCluster {
        OwnCluster {
            stored_tag: self.local.as_ref().map(|l| l.config.tag.clone()),
            own_cmg_in_sight: self.own_cmg_in_sight(),
            own_cmg_seen_ms: self.own_cmg_seen_ms,
            voter_of_answered_cluster: self.voter_of_answered_cluster(),
            hosted_instance: self.hosted_instance(),
            hosted_group_has_leader: self.hosted_group_has_leader(),
            hosted_since_ms: self.hosted_since_ms,
            hosted_cmg_committed: self.hosted_cmg_committed(),
        }
    }
}
