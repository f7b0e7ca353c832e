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
//! (`src/cmg/wire.rs`), unit tests (`src/cmg/tests.rs`). The leader's rules that judge by what
//! it sees of its physical topology ([`LeaderSight`], `src/cmg/sight.rs`) are pure functions
//! with their own unit tests: LT hygiene (`src/cmg/hygiene.rs`) and the judgement of a join
//! request, the namesake check included (`src/cmg/namesake.rs`).

mod command;
mod hygiene;
mod leader_duties;
mod namesake;
mod replica;
mod sight;
mod state;
mod validation;
mod wire;

pub use crate::init_command::InitFate;
pub use command::{CmgCommand, CmgOutcome, JoinAccept, JoinResult};
pub(crate) use hygiene::{absent_members, dead_members, leaves_on_failure};
pub(crate) use leader_duties::PendingKey;
pub(crate) use namesake::{join_request_step, JoinRequestStep, JoinerVault};
pub(crate) use replica::{role_of, CmgReplica};
pub(crate) use sight::LeaderSight;
pub use state::{ClusterState, CmgState, LogicalTopology};

#[cfg(test)]
mod tests;
