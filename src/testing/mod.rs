//! A synchronous, deterministic test network for the protocol: no madsim, no threads, no wall
//! clock.
//!
//! [`Network`] holds [`Node`](crate::Node)s, their vaults and the links between them, and drives
//! them from one event queue keyed by (simulated time, sequence): each [`Network::step`] runs the
//! earliest event — a node's tick or a message's arrival — and makes the node's
//! [`Output`](crate::Output) real the way the madsim host does (vault writes first, then events,
//! then messages). Every random choice — latencies, losses, launch ids, node seeds, tick phases,
//! election timeouts — comes from the network's seed through [`crate::rng::Rng`], so the same
//! seed gives the same run, event for event.
//!
//! What it models, like the madsim world: one-way latency drawn uniformly from a range (default
//! 1–10 ms), an optional loss rate, two-way and one-way partitions decided when a message is
//! sent, nodes that tick every `tick_ms` from a random phase, kill / restart (the vault stays, the
//! launch id is new) and wipe, and a user who sends init commands and resends them until
//! answered. What it does not: madsim's task scheduling and its RNG streams (a run here is not
//! the madsim run of the same seed), hold/drop message rules, the invariant checker and the
//! trace hash; and each node's Raft election timeout is one fixed value drawn from the seed (see
//! [`Timing::fixed_election_ticks`](crate::Timing::fixed_election_ticks)) instead of a new draw
//! at every election. `docs/testing.md` says more.
//!
//! ```
//! use joinsim::testing::{Network, NodeSetup};
//! use joinsim::InitParams;
//!
//! // Three empty nodes n1, n2, n3 (seed member n1), then a fourth one.
//! let mut net = Network::builder()
//!     .seed(7)
//!     .nodes(3)
//!     .node(NodeSetup::new("n4").seeds(&["n2"]))
//!     .build();
//! net.start_all();
//! net.wait_until(|n| n.view("n1").is_some_and(|v| v.physical.len() == 4), 30_000)
//!     .expect("the physical topology forms");
//! let params = InitParams {
//!     cluster_name: "demo".into(),
//!     cmg_nodes: vec!["n1".into(), "n2".into(), "n3".into()],
//!     ms_nodes: vec![],
//! };
//! let tag = net.init("n2", params).expect("init succeeds");
//! net.wait_until(|n| n.all_joined(), 60_000).expect("every node joins");
//! assert_eq!(net.leader_lt().unwrap().1, vec!["n1", "n2", "n3", "n4"]);
//! assert_eq!(net.vault("n4").local.as_ref().unwrap().config.tag, tag);
//! // Every node's events, in order, with their time.
//! assert!(net
//!     .events("n4")
//!     .any(|(_, e)| matches!(e, joinsim::Event::Joined { .. })));
//! ```

mod log;
mod network;
mod queue;
mod setup;
mod user;

#[cfg(test)]
mod tests;

pub use log::{HarnessAction, LogEntry, LogKind, MAX_LOG_ENTRIES};
pub use network::{
    node_addr, Network, OutputObserver, Step, StepKind, Timeout, MAX_STEPS_PER_RUN, NODE_PORT,
};
pub use queue::MAX_QUEUED;
pub use setup::{NetworkBuilder, NodeSetup, DEFAULT_LATENCY_MS, MAX_NODES};
pub use user::{
    InitAnswer, InitFailure, MAX_USER_REQUESTS, USER_ADDR, USER_PATIENCE_MS, USER_RESEND_MS,
};
