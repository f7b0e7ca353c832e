//! Scenario files: a join race described in a small TOML file, run over many seeds, with every
//! invariant checked and a liveness phase at the end. See `docs/scenarios.md`.
//!
//! The language in layers, one file each:
//! - `raw.rs`: the file as written — serde types that refuse unknown fields and keep the spans of
//!   values, for errors at file:line:col;
//! - [`model`]: the scenario as the runner uses it ([`Scenario`], [`model::Step`],
//!   [`model::Action`], ...), and the names a file spells, derived from the enums
//!   ([`model::ActionName`], [`model::ConditionEvent`], [`model::OutcomeName`]);
//! - [`validate`]: from raw to model, every mistake a [`ScenarioError`] ([`error`]) at its
//!   position;
//! - [`runner`]: runs one seed of a scenario.
//!
//! Adding an action takes three places, and the compiler points at each: a variant of
//! [`model::Action`], its arm in `validate/step.rs`, its arm in `runner.rs` (`docs/scenarios.md`,
//! "Adding an action").

pub mod at_event;
pub mod error;
mod init_ledger;
mod liveness_facts;
pub mod model;
mod raw;
pub mod runner;
#[cfg(test)]
mod testing;
pub mod validate;

pub use crate::limits::SEEDS;
pub use error::ScenarioError;
pub use model::{Origin, Scenario};
pub use validate::{load_scenario, parse_scenario};

/// The most seeds one `run`, `check` or scenario file goes over.
pub const MAX_SEEDS: u64 = *SEEDS.end();
pub use runner::{replay_command, run_scenario, SeedResult};
