//! Scenario files: a join race described in a small TOML file, run over many seeds, with every
//! invariant checked and a liveness phase at the end. See `docs/scenarios.md`.

pub mod file;
pub mod runner;

pub use file::{load_scenario, parse_scenario, Scenario, ScenarioError};
pub use runner::{replay_command, run_scenario, SeedResult};
