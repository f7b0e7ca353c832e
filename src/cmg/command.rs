//! The CMG log's commands ([`CmgCommand`]) and what applying one gives back ([`CmgOutcome`],
//! with a join request's [`JoinResult`] and the [`JoinAccept`] a validated node gets).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{ClusterState, InitFate};
use crate::cluster_config::ClusterConfig;
use crate::error::{AdminError, JoinReadyRefusal, RejectionReason};
use crate::init_command::InitPlan;
use crate::types::RequestId;
use crate::types::{Addr, ClusterTag, InstanceId, LaunchId, NodeInfo, NodeName};

/// A command of the CMG log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmgCommand {
    /// The first entry of every CMG log. Changes nothing.
    Bootstrap,
    /// Set the cluster state (first one wins; later ones are compared).
    ClusterInit(InitPlan),
    /// Validate a joining node.
    Join {
        /// Who.
        info: NodeInfo,
        /// Its stored tag and MS version, if it is initialized.
        stored: Option<(ClusterTag, u64)>,
        /// The node's join attempt.
        attempt: u64,
    },
    /// A validated node finished recovery: move it into the LT.
    JoinReady {
        /// Who.
        info: NodeInfo,
        /// The join attempt it was validated for.
        attempt: u64,
    },
    /// Members declared dead: remove them from the LT and the validated set.
    NodesLeave {
        /// (name, launch) of each.
        nodes: Vec<(NodeName, LaunchId)>,
    },
    /// An initiator is about to answer a user with the cluster's tag (first fate wins).
    InitAnswered,
    /// A cancel of this incarnation's init (first fate wins).
    InitCancelled,
    /// Admin: change the Meta Storage node list (MS version + 1).
    ChangeMsNodes {
        /// New voters.
        nodes: Vec<NodeName>,
        /// The node that forwarded the admin command.
        origin: Addr,
        /// Its request id.
        request: RequestId,
    },
}

/// What a CMG gives a validated node: everything it needs to set up its Meta Storage.
///
/// Encoded (in `JoinResponse`) in its original field order: tag, CMG voters, Meta Storage
/// voters, initial Meta Storage voters, Meta Storage version, incarnation, addresses
/// ([`super::wire::JoinAccept`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "super::wire::JoinAccept")]
pub struct JoinAccept {
    /// The cluster's configuration: its Meta Storage version is the one (Y) the joiner must
    /// catch up to.
    pub config: ClusterConfig,
    /// Meta Storage voters at init.
    pub initial_ms_nodes: Vec<NodeName>,
    /// Incarnation of the groups.
    pub instance: InstanceId,
    /// Known addresses of group members.
    pub addrs: BTreeMap<NodeName, Addr>,
}

/// The outcome of a join request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinResult {
    /// Validated.
    Accepted(JoinAccept),
    /// The cluster is not initialized yet: ask again later.
    RetryLater,
    /// Final rejection.
    Rejected(RejectionReason),
    /// The validation of this join attempt was revoked (the node was removed as dead after it):
    /// the joiner asks again under a new attempt (`CmgState::revoked_attempts`).
    StaleAttempt,
}

/// The outcome of applying a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmgOutcome {
    /// Nothing to report.
    Nothing,
    /// The cluster state was set by this command.
    InitApplied(ClusterState),
    /// The cluster state already existed and equals the command's parameters.
    InitExisting(ClusterState),
    /// The cluster state already existed with other parameters.
    InitMismatch {
        /// What differs.
        detail: String,
    },
    /// A join request was applied and refused, or asked to wait or to try again.
    Join(JoinResult),
    /// A join request was validated. The acceptance the joiner gets
    /// ([`crate::cmg::CmgState::join_accept`]) is built only by the leader that answers it: every
    /// replica applies the join, and a copy of the cluster's configuration per replica was a
    /// twentieth of a run's allocations (issue 13).
    JoinAccepted,
    /// A join ready was applied: the LT version, or why not.
    JoinReady(Result<u64, JoinReadyRefusal>),
    /// These (name, launch) pairs left the LT.
    Left(Vec<(NodeName, LaunchId)>),
    /// A Meta Storage node list change: the new version and list, or why not.
    MsChanged(Result<(u64, Vec<NodeName>), AdminError>),
    /// The init's fate after an `InitAnswered` or `InitCancelled`.
    Fate(Option<InitFate>),
}
