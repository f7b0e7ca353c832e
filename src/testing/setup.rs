//! How a test network is described before it runs: its nodes, timers, latency, loss and seed.

use crate::bugs::PlantedBug;
use crate::config::Timing;
use crate::types::{NodeName, ProductVersion, ProtocolVersion};
use crate::vault::Vault;

use super::network::Network;

/// The most nodes one network holds (every node gets an address `10.0.x.y`, 250 per `x`).
pub const MAX_NODES: usize = 250 * 250;

/// The madsim world's default latency range (`joinsim_sim::NetSettings`), in milliseconds.
pub const DEFAULT_LATENCY_MS: (u64, u64) = (1, 10);

/// One node of a test network, before the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSetup {
    /// Unique label the harness knows it by (its name, unless two nodes share a name).
    pub label: String,
    /// Its name in the protocol.
    pub name: NodeName,
    /// Product version.
    pub product: ProductVersion,
    /// Protocol version.
    pub protocol: ProtocolVersion,
    /// Its seed members, by label.
    pub seeds: Vec<String>,
    /// Its vault at the start of the run.
    pub vault: Vault,
}

impl NodeSetup {
    /// A node named `name`: version 3.0.0, protocol 1, no seeds, an empty vault.
    pub fn new(name: &str) -> NodeSetup {
        NodeSetup {
            label: name.to_string(),
            name: name.to_string(),
            product: ProductVersion::default(),
            protocol: ProtocolVersion::default(),
            seeds: Vec::new(),
            vault: Vault::empty(),
        }
    }

    /// Sets the seed members (labels).
    pub fn seeds(mut self, seeds: &[&str]) -> NodeSetup {
        self.seeds = seeds.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Sets the product version.
    pub fn product(mut self, product: ProductVersion) -> NodeSetup {
        self.product = product;
        self
    }

    /// Sets the protocol version.
    pub fn protocol(mut self, protocol: ProtocolVersion) -> NodeSetup {
        self.protocol = protocol;
        self
    }

    /// Sets the vault the node starts from (for example [`crate::RestoredCluster::vault_of`]).
    pub fn vault(mut self, vault: Vault) -> NodeSetup {
        self.vault = vault;
        self
    }

    /// Sets a label different from the name (two nodes with one name).
    pub fn label(mut self, label: &str) -> NodeSetup {
        self.label = label.to_string();
        self
    }
}

/// Builds a [`Network`]: `Network::builder().nodes(3).seed(7).build()`.
#[derive(Clone, Debug)]
pub struct NetworkBuilder {
    pub(crate) seed: u64,
    pub(crate) timing: Timing,
    pub(crate) latency_ms: (u64, u64),
    pub(crate) loss: f64,
    pub(crate) bug: Option<PlantedBug>,
    pub(crate) nodes: Vec<NodeSetup>,
}

impl Default for NetworkBuilder {
    fn default() -> Self {
        NetworkBuilder {
            seed: 0,
            timing: Timing::default(),
            latency_ms: DEFAULT_LATENCY_MS,
            loss: 0.0,
            bug: None,
            nodes: Vec::new(),
        }
    }
}

impl NetworkBuilder {
    /// Sets the seed: every random choice of the run (latencies, losses, launch ids, node seeds,
    /// tick phases, election timeouts) comes from it.
    pub fn seed(mut self, seed: u64) -> NetworkBuilder {
        self.seed = seed;
        self
    }

    /// Sets the protocol timers of every node. Its `fixed_election_ticks` is ignored: the
    /// harness fixes each node's own (see [`Network::election_ticks_of`]).
    pub fn timing(mut self, timing: Timing) -> NetworkBuilder {
        self.timing = timing;
        self
    }

    /// Sets the one-way latency range in milliseconds: each message takes a uniform draw in
    /// `[min, max)` at microsecond resolution, or in `[min, min + 1)` when `max == min` (the
    /// madsim world's `min..max(max, min + 1)`).
    ///
    /// # Panics
    /// When `min > max`.
    pub fn latency_ms(mut self, min: u64, max: u64) -> NetworkBuilder {
        assert!(min <= max, "latency range is reversed");
        self.latency_ms = (min, max);
        self
    }

    /// Sets the probability (0 to 1) that a message is lost.
    ///
    /// # Panics
    /// When `loss` is outside `0..=1`.
    pub fn loss(mut self, loss: f64) -> NetworkBuilder {
        assert!((0.0..=1.0).contains(&loss), "loss must be within 0..=1");
        self.loss = loss;
        self
    }

    /// Runs every node with a planted bug (testbed self-measurement only; exists only with the
    /// cargo feature `planted-bugs`).
    #[cfg(feature = "planted-bugs")]
    pub fn bug(mut self, bug: Option<PlantedBug>) -> NetworkBuilder {
        self.bug = bug;
        self
    }

    /// Adds a node.
    ///
    /// # Panics
    /// When its label is taken.
    pub fn node(mut self, setup: NodeSetup) -> NetworkBuilder {
        assert!(
            self.nodes.iter().all(|n| n.label != setup.label),
            "two nodes labelled {}",
            setup.label
        );
        self.nodes.push(setup);
        self
    }

    /// Adds `count` empty nodes `n1`, `n2`, … (numbered on from the nodes already added), each
    /// with `n1` as its seed member: the madsim world's `Sim::nodes`.
    pub fn nodes(mut self, count: usize) -> NetworkBuilder {
        let first = self.nodes.len() + 1;
        for i in first..first + count {
            self = self.node(NodeSetup::new(&format!("n{i}")).seeds(&["n1"]));
        }
        self
    }

    /// The network, every node down (start them with [`Network::start`] or
    /// [`Network::start_all`]), at time 0.
    ///
    /// # Panics
    /// When a seed names no node, or there are more than [`MAX_NODES`] nodes.
    pub fn build(self) -> Network {
        Network::from_builder(self)
    }
}
