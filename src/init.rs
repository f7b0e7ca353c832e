//! Step 2: the init command — parameter validation and defaulting, propagation to the named nodes,
//! Raft groups started with those voters, the answer after commit and Meta Storage leader, cancel
//! on failure or timeout, idempotent repeats.
//!
//! The node that receives the user's init is the *initiator*. It validates the parameters against
//! its physical topology, draws the init id (which is also the id of the group incarnations) and
//! the cluster id, and sends [`Message::StartGroups`](crate::message::Message::StartGroups) to
//! every CMG and Meta Storage node. Each of them (a *target*) starts its replicas and answers;
//! then the initiator asks the targets for the state of their groups until a CMG replica reports
//! the committed cluster state and a Meta Storage replica reports a leader. Only then does the
//! user get the tag.
//!
//! One file per concept; none of them knows the [`Node`](crate::Node) (its routing is in
//! `src/node/init.rs`, `target.rs`, `fence.rs` and `cancel.rs`):
//!
//! - the command and the plan ([`InitParams`], [`InitCommand`], [`InitPlan`], [`HeldCluster`])
//!   are a type module of their own, `src/init_command.rs`, re-exported here;
//! - `params.rs`: validation and defaulting of the parameters ([`resolve_params`]);
//! - `coordinator.rs`: the initiator's attempts in flight (`InitCoordinator`);
//! - `target.rs`: a named node's answers ([`StartOutcome`], [`GroupStatus`]) and its rules for
//!   a start and for a cancel;
//! - `cancel.rs`: the cancels a node tells (`CancelTracker`);
//! - `cancelled.rs`: the inits a node cancelled on its side (`CancelledInits`);
//! - `under_way.rs`: the cancels that reached a node whose fate it does not know yet
//!   (`CancelsUnderWay`);
//! - `deferred.rs`: the user requests a node holds back while such a cancel is under way
//!   (`DeferredInitRequests`), judged when the fate is known.

mod cancel;
mod cancelled;
mod coordinator;
mod deferred;
mod params;
mod target;
mod under_way;

pub use crate::init_command::{HeldCluster, InitCommand, InitParams, InitPlan};
pub use cancel::CancelInFlight;
pub(crate) use cancel::{CancelDue, CancelTracker};
pub(crate) use cancelled::CancelledInits;
/// For the check that every init error kind is reached (`src/testing/tests/init.rs`).
#[cfg(test)]
pub(crate) use coordinator::tests::a_failed_target;
pub(crate) use coordinator::{InitCoordinator, InitDue, StartAck, StatusStep};
pub use coordinator::{InitInFlight, MAX_INITS_IN_FLIGHT};
pub(crate) use deferred::DeferredInitRequests;
pub use deferred::MAX_DEFERRED_INIT_REQUESTS;
pub use params::resolve_params;
pub(crate) use target::{
    cancel_step, held_init_command, held_outcome, CancelStep, HeldOutcome, Holdings, ReplicaFacts,
};
pub use target::{GroupStatus, StartOutcome};
pub(crate) use under_way::CancelsUnderWay;
#[cfg(test)]
pub(crate) use under_way::UNDER_WAY_INIT_TIMEOUTS;
