//! # joinsim — the IEP-77 join and initialization protocol as a state machine
//!
//! This crate is the protocol of Apache Ignite 3's cluster join and initialization (IEP-77), built
//! the way raft-rs is built: a synchronous, deterministic state machine with no I/O. Inputs and
//! ticks go in; vault writes, messages and events come out. It never reads a clock, never draws
//! from a global random generator, never spawns a thread. The companion crate `joinsim-sim` runs
//! it on madsim's simulated network and clock, so every run replays from its seed.
//!
//! ## The protocol in five steps
//!
//! 1. **Physical topology** ([`topology`]): a starting node contacts a random seed member and
//!    passes *pre-init validation* in the handshake (protocol version, product major.minor, cluster
//!    tag) before it is admitted and announced. Probes detect failures.
//! 2. **Init** ([`init`]): a user sends the init command to any node. It validates the parameters,
//!    draws the cluster id, and has the named nodes start the two Raft groups — the Cluster
//!    Management Group ([`cmg`]) and the Meta Storage ([`metastorage`]). The CMG leader commits the
//!    cluster-init command; the user gets the [`ClusterTag`] after that commit and once the Meta
//!    Storage has a leader. Failures cancel everything the init started.
//! 3. **CMG leader discovery** ([`cmg`], the CMG replica's leader duties): the CMG leader sends the cluster state to every
//!    physical member outside the logical topology (LT).
//! 4. **Join** ([`join`]): the member sends a join request; every CMG replica validates it in log
//!    order; the accepted node stores the tag, catches up its Meta Storage, and sends join ready,
//!    which puts it in the LT.
//! 5. **The four join scenarios** of the IEP all follow from these rules; see `docs/protocol.md`.
//!
//! To run whole protocol paths without madsim, in plain `#[test]`s, use the synchronous test
//! network in [`testing`].
//!
//! ## Driving a node
//!
//! ```
//! use joinsim::{Addr, Node, NodeConfig, Timing, Vault, LaunchId, ProductVersion, ProtocolVersion};
//!
//! let cfg = NodeConfig::new(
//!     "n1".into(),                   // name
//!     Addr::new([10, 0, 0, 1], 7000), // address
//!     ProductVersion::new(3, 0, 0),
//!     ProtocolVersion(1),
//!     vec![],                        // seeds
//! );
//! // A node with no seed forms a physical topology of its own.
//! let (mut node, output) = Node::new(cfg, Timing::default(), LaunchId(1), 42, &Vault::empty(), 0)
//!     .expect("valid configuration");
//! assert!(output.events.iter().any(|e| matches!(e, joinsim::Event::EnteredTopology { .. })));
//! // The host calls tick every `tick_ms` and receive for every message, applying
//! // `output.writes` to the vault before sending `output.messages`.
//! let output = node.tick(100);
//! assert!(output.messages.is_empty());
//! assert!(node.view().in_topology);
//! ```

#![deny(missing_docs)]

pub mod admin;
pub mod bugs;
pub mod cluster_config;
pub mod cmg;
mod codec;
pub mod config;
pub mod early_raft;
pub mod error;
pub mod event;
pub mod hash;
pub mod init;
pub mod init_command;
pub mod join;
pub mod marks;
pub mod message;
pub mod metastorage;
pub mod node;
pub mod raft_group;
pub mod raft_payload;
pub mod restore;
pub mod rng;
pub mod testing;
pub mod topology;
pub mod types;
pub mod vault;
pub mod view;

#[cfg(test)]
mod import_graph;

// The crate's own tests may name it as a user does (`use joinsim::...`: docs/testing.md's
// example, compiled in `src/testing/tests/doc_example.rs`).
#[cfg(test)]
extern crate self as joinsim;

pub use admin::{AdminCommand, AdminOutcome};
pub use bugs::PlantedBug;
pub use cluster_config::ClusterConfig;
pub use cmg::{ClusterState, CmgState, InitFate, JoinResult, LogicalTopology};
pub use config::{FailureDetector, NodeConfig, Timing};
pub use error::{
    AdminError, Error, InitError, JoinReadyRefusal, NodeList, Rejection, RejectionReason,
    RejectionStage, Result,
};
pub use event::{Event, RemovalCause, Role};
pub use init::{InitCommand, InitParams};
pub use join::{JoinMessage, JoinPhase, JoinProgress};
pub use marks::{Mark, Rarity};
pub use message::{Envelope, Message, MessageKind, RequestId};
pub use node::{Node, Output};
pub use restore::RestoredCluster;
pub use types::{
    Addr, ClusterId, ClusterTag, GroupKind, InstanceId, LaunchId, NodeInfo, NodeName,
    ProductVersion, ProtocolVersion,
};
pub use vault::{Vault, VaultWrite};
pub use view::{GroupView, NodeView};
