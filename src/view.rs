//! A god's-eye view of one node: everything a test or checker may want to read, copied out of
//! the node without changing it (by `Node::view`, in `src/node/view.rs`).

use std::sync::Arc;

use serde::Serialize;

use crate::cmg::{CmgState, LogicalTopology};
use crate::error::Rejection;
use crate::event::Role;
use crate::init::{CancelInFlight, InitInFlight};
use crate::join::{JoinPhase, JoinProgress};
use crate::metastorage::MsState;
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
    /// Set when the node stopped for good on a rejection.
    pub halted: Option<Rejection>,
    /// Set when the node left the cluster on purpose (`Node::leave`), at this time (ms): it has
    /// stopped for good, as after a rejection, but was not refused. `None` while it runs.
    pub left_at_ms: Option<u64>,
    /// True once admitted to the physical topology.
    pub in_topology: bool,
    /// The physical topology as this node sees it (itself included), sorted by name.
    pub physical: Vec<(NodeName, LaunchId)>,
    /// Where its join stands.
    pub join: JoinPhase,
    /// Since when, with whom and through which last messages (the joiner's account).
    pub join_progress: JoinProgress,
    /// The inits it runs as initiator, in init order (at most `MAX_INITS_IN_FLIGHT`).
    pub inits: Vec<InitInFlight>,
    /// The cancels it tells, in init order (at most `vault::MAX_RECORDED_CANCELS`).
    pub cancels: Vec<CancelInFlight>,
    /// Its vault's cluster state (present when initialized).
    pub local: Option<Arc<LocalState>>,
    /// Its CMG replica.
    pub cmg: Option<GroupView>,
    /// Its CMG replica's state machine.
    pub cmg_state: Option<Arc<CmgState>>,
    /// Its Meta Storage replica.
    pub ms: Option<GroupView>,
    /// Its Meta Storage replica's state machine.
    pub ms_state: Option<Arc<MsState>>,
}

impl NodeView {
    /// True when the node is in the logical topology, by its own account.
    pub fn is_joined(&self) -> bool {
        matches!(self.join, JoinPhase::Joined { .. })
    }

    /// The LT of its CMG replica, if it hosts one with a cluster state.
    pub fn lt(&self) -> Option<&LogicalTopology> {
        self.cmg_state.as_deref().and_then(CmgState::committed_lt)
    }

    /// True when the node stopped for good: halted on a rejection, or left on purpose.
    pub fn is_stopped(&self) -> bool {
        self.halted.is_some() || self.left_at_ms.is_some()
    }

    /// True when its CMG replica leads.
    pub fn is_cmg_leader(&self) -> bool {
        self.cmg.as_ref().is_some_and(|g| g.role == Role::Leader)
    }
}
