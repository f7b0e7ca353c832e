//! Scenario files: a join race described in a small TOML file, run over many seeds, with every
//! invariant checked and a liveness phase at the end. See `docs/scenarios.md`.

pub mod file;
pub mod runner;

pub use crate::limits::SEEDS;
pub use file::{load_scenario, parse_scenario, Origin, Scenario, ScenarioError};

/// The most seeds one `run`, `check` or scenario file goes over.
pub const MAX_SEEDS: u64 = *SEEDS.end();
pub use runner::{replay_command, run_scenario, SeedResult};
