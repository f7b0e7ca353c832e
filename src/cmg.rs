//! The CMG's replicated state machine: the cluster state, the validated set and the logical
//! topology, changed only by commands applied in log order — identically on every replica.
//!
//! This module is pure: [`CmgState::apply`] takes a command and returns its outcome. The replica
//! that proposed a command sends the outcome to whoever asked: the replica is [`CmgReplica`]
//! (`src/cmg/replica.rs`, with the leader's duties in `src/cmg/leader_duties.rs`), routed by
//! `src/node/cmg.rs` and `src/node/cmg_validation.rs`.
//!
//! Files: the state and how commands change it (`src/cmg/state.rs`), the commands and outcomes
//! (`src/cmg/command.rs`), join validation (`src/cmg/validation.rs`), their wire encoding
//! (`src/cmg/wire.rs`), unit tests (`src/cmg/tests.rs`).

mod command;
mod leader_duties;
mod replica;
mod state;
mod validation;
mod wire;

pub use crate::init_command::InitFate;
pub use command::{CmgCommand, CmgOutcome, JoinAccept, JoinResult};
pub(crate) use leader_duties::PendingKey;
pub(crate) use replica::{role_of, CmgReplica};
pub use state::{ClusterState, CmgState, LogicalTopology};

#[cfg(test)]
mod tests;
