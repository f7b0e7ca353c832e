//! # joinsim-sim — the IEP-77 protocol on madsim's simulated network and clock
//!
//! This crate hosts the protocol state machines of the `joinsim` crate on
//! [madsim](https://docs.rs/madsim): one simulated node per cluster node with its own address, a
//! vault per node that survives kill and restart, a network with latency, loss, partitions and
//! message holds, a simulated user who sends init and admin commands, a god's-eye view of every
//! node, and a trace whose hash identifies the run. Same build + same seed ⇒ same trace.
//!
//! Start with [`Sim`]: it builds a world, runs a test body against it on a fresh thread, and
//! returns a [`RunReport`] with the trace hash.
//!
//! This crate only builds with `--cfg madsim` (the repository's `.cargo/config.toml` sets it).

#![deny(missing_docs)]

pub mod artifacts;
pub mod campaign;
pub mod checkers;
pub mod clock;
pub mod demo;
pub mod explore;
pub mod failure;
pub mod fuzz;
pub mod host;
pub mod limits;
pub mod memory;
pub mod model_check;
pub mod network;
pub mod record;
pub mod render;
pub mod scale;
pub mod scenario;
pub mod seed_list;
pub mod shell;
pub mod sim;
pub mod stall;
pub mod stats;
pub mod storage;
pub mod test_runner;
pub mod test_seeds;
pub mod trace;
pub mod trace_file;
pub mod user;
pub mod world;

/// The joinsim version of this build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit this build comes from (40 hex digits), or `unknown` outside a git checkout.
pub const COMMIT: &str = env!("JOINSIM_COMMIT");
/// What `joinsim --version` prints after the tool's name: the version and the commit.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("JOINSIM_COMMIT"),
    ")"
);

pub use checkers::{Checker, Hazard, HazardKind, Invariant, Violation};
pub use demo::{
    format_demo, format_demo_batch, run_demo, run_demo_detecting, run_demo_inside, run_demos,
    run_demos_detecting, DemoBatch, DemoOutcome,
};
/// `#[joinsim_sim::test]`: an `async fn NAME(world: World)` as a seeded simulation test (see
/// [`test_runner`]).
pub use joinsim_macros::test;
pub use network::{MessageFilter, RuleAction, RuleId};
pub use scenario::{
    load_scenario, parse_scenario, run_scenario, Scenario, ScenarioError, SeedResult,
};
pub use sim::{NetSettings, RunReport, Sim};
pub use trace::{HarnessEvent, TraceEntry, TraceKind};
pub use user::{AdminAnswer, InitAnswer};
pub use world::{NodeSpec, UserError, WaitTimeout, World};
