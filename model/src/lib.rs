//! A small, pure reference model of IEP-77, the cluster join and initialization protocol of
//! Apache Ignite 3, written from the product spec (docs/spec.md; the project's copy of the IEP)
//! and not from joinsim's code, so that it can disagree with the code.
//!
//! The model is a state machine at the level of the IEP: per node its vault (empty, or a tag and
//! a Meta Storage version), its replicas and its join progress; per CMG incarnation the committed
//! state (tag, validated set, LT and its version, Meta Storage version and voters, the init's
//! fate), built from the effects its replicas report at each log index. It has no Raft inside:
//! Raft's job, as the model sees it, is only that replicas agree on each index.
//!
//! [`State::step`] takes one [`Action`] — a step of the protocol with its observed outcome — and
//! allows it or refuses it with the [`Rule`] it breaks ([`Rule::source`] quotes the spec). Every
//! choice the model could make is fixed by the action (which node, which outcome), so a run's
//! actions lead to exactly one model state: trace validation (joinsim-sim's `model_check`) maps
//! every trace entry of a simulated run to an action and reports the first one the model refuses
//! as the run's `model_divergence`.
//!
//! The model knows nothing of time, addresses, messages or Raft terms. docs/model.md lists its
//! rules beside the decisions of docs/protocol.md, one by one.

mod action;
mod flaw;
mod ids;
mod join;
mod log;
mod rule;
mod state;
mod step;
mod world;

#[cfg(test)]
mod tests;

pub use action::Action;
pub use flaw::ModelFlaw;
pub use ids::{Fate, Group, Init, JoinRejection, Launch, Name, Stored, Tag};
pub use rule::{Refusal, Rule};
pub use state::{Cluster, InitSent, NodeState, State};
pub use world::{
    Budgets, Mark, Move, MoveKind, World, WorldKind, WorldState, CLUSTER_NAME, NODES,
    RESTORED_INIT, RESTORED_MS_VERSION, RESTORED_VOTERS,
};
