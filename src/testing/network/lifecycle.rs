//! Nodes of the test network coming and going: adding one (its slot, address, seeds and fixed
//! election timeout), starting, killing, restarting it, and wiping its vault.

use std::cell::OnceCell;

use super::{node_addr, Network, Slot};
use crate::config::{NodeConfig, Timing};
use crate::testing::log::{HarnessAction, LogKind};
use crate::testing::queue::Scheduled;
use crate::testing::setup::{NodeSetup, MAX_NODES};
use crate::types::{Addr, LaunchId};
use crate::vault::Vault;
use crate::Node;

impl Network {
    pub(super) fn create_slot(&mut self, setup: NodeSetup, known: &[String]) {
        assert!(
            !self.by_label.contains_key(&setup.label),
            "node {} exists",
            setup.label
        );
        let index = self.slots.len();
        let addr_of = |label: &str| -> Option<Addr> {
            let position = known.iter().position(|l| l == label)?;
            Some(node_addr(position))
        };
        let seeds = setup
            .seeds
            .iter()
            .map(|s| {
                self.by_label
                    .get(s)
                    .map(|&i| node_addr(i))
                    .or_else(|| addr_of(s))
                    .unwrap_or_else(|| panic!("node {}: unknown seed {s}", setup.label))
            })
            .collect();
        let addr = node_addr(index);
        let config = NodeConfig {
            name: setup.name.clone(),
            addr,
            product: setup.product,
            protocol: setup.protocol,
            seeds,
            bug: self.bug,
        };
        let election_ticks = self.draw_election_ticks();
        self.by_label.insert(setup.label.clone(), index);
        self.by_addr.insert(addr, index);
        self.slots.push(Slot {
            label: setup.label,
            config,
            election_ticks,
            vault: setup.vault,
            node: None,
            generation: 0,
            view: OnceCell::new(),
        });
    }

    /// A fixed election timeout in `[election_ticks, 2 * election_ticks)`, from the seed, distinct
    /// from the other nodes' while the range has values left.
    fn draw_election_ticks(&mut self) -> usize {
        if self.election_pool.is_empty() {
            let base = self.timing.election_ticks;
            let mut pool: Vec<usize> = (base..2 * base).collect();
            // Fisher-Yates with the network's generator.
            for i in (1..pool.len()).rev() {
                let j = self.rng.below(i as u64 + 1) as usize;
                pool.swap(i, j);
            }
            self.election_pool = pool;
        }
        self.election_pool
            .pop()
            .expect("election_ticks is positive (Timing::validate)")
    }

    /// Adds a node during the run, down (start it with [`Network::start`]). Its seeds must name
    /// existing nodes.
    ///
    /// # Panics
    /// When the label is taken, a seed is unknown, or the network is full.
    pub fn add_node(&mut self, setup: NodeSetup) {
        self.create_slot(setup, &[]);
    }

    /// Starts a node that is down: a first start, or a restart from its vault, with a new launch
    /// id and a new seed. A node whose vault `Node::new` refuses stays down (logged as
    /// [`HarnessAction::StartFailed`]).
    ///
    /// # Panics
    /// When the node is running.
    pub fn start(&mut self, label: &str) {
        let index = self.index(label);
        assert!(
            self.slots[index].node.is_none(),
            "node {label} is already running"
        );
        let launch = LaunchId(self.rng.next_u64() | 1);
        let seed = self.rng.next_u64();
        let phase_ms = self.rng.below(self.timing.tick_ms);
        let now_ms = self.now_ms();
        let slot = &mut self.slots[index];
        slot.generation += 1;
        slot.view = OnceCell::new();
        let generation = slot.generation;
        let election_ticks = slot.election_ticks;
        let timing = Timing {
            fixed_election_ticks: Some(election_ticks),
            ..self.timing.clone()
        };
        let config = slot.config.clone();
        let started = Node::new(config, timing, launch, seed, &slot.vault, now_ms);
        self.record(
            label,
            LogKind::Harness(HarnessAction::Started {
                launch,
                election_ticks,
            }),
        );
        match started {
            Ok((node, output)) => {
                self.slots[index].node = Some(node);
                self.apply_output(index, output);
                // As the madsim host: the first tick comes `phase` (at least 1 ms) and then one
                // `tick_ms` after the start.
                let first = self.now_us + (phase_ms.max(1) + self.timing.tick_ms) * 1_000;
                self.queue.push(
                    first,
                    Scheduled::Tick {
                        node: index,
                        generation,
                    },
                );
            }
            Err(e) => {
                self.record(
                    label,
                    LogKind::Harness(HarnessAction::StartFailed {
                        detail: e.to_string(),
                    }),
                );
            }
        }
    }

    /// Starts every node that is down, in the order they were added.
    pub fn start_all(&mut self) {
        for label in self.labels() {
            if !self.is_running(&label) {
                self.start(&label);
            }
        }
    }

    /// Kills a node: its state machine and the messages still on their way to it are lost, its
    /// vault stays. Killing a node that is down does nothing but log.
    pub fn kill(&mut self, label: &str) {
        let index = self.index(label);
        let slot = &mut self.slots[index];
        slot.node = None;
        slot.generation += 1;
        slot.view = OnceCell::new();
        self.record(label, LogKind::Harness(HarnessAction::Killed));
    }

    /// Kills the node if it runs, then starts it again from its vault with a new launch id.
    pub fn restart(&mut self, label: &str) {
        if self.is_running(label) {
            self.kill(label);
        }
        self.start(label);
    }

    /// Wipes a node's vault. A running node is killed first; it stays down.
    pub fn wipe(&mut self, label: &str) {
        if self.is_running(label) {
            self.kill(label);
        }
        let index = self.index(label);
        self.slots[index].vault = Vault::empty();
        self.record(label, LogKind::Harness(HarnessAction::Wiped));
    }

    /// Gives a node that is down another vault (a storage fault: say, the vault it had before a
    /// lazy write that a crash lost, `VaultWrite::durability`). It starts from it at its next
    /// [`Network::start`].
    ///
    /// # Panics
    /// When the node is running.
    pub fn set_vault(&mut self, label: &str, vault: Vault) {
        assert!(!self.is_running(label), "node {label} is running");
        let index = self.index(label);
        self.slots[index].vault = vault;
        self.record(label, LogKind::Harness(HarnessAction::VaultReplaced));
    }

    /// Asks a running node to leave the cluster on purpose ([`Node::leave`]): its output is made
    /// real like any other (its `Leaving` messages are subject to cuts and loss). The node stays
    /// up, stopped; [`Network::restart`] starts it again from its vault.
    ///
    /// # Panics
    /// When the node is down.
    pub fn leave(&mut self, label: &str) {
        let index = self.index(label);
        let now_ms = self.now_ms();
        self.record(label, LogKind::Harness(HarnessAction::Left));
        let slot = &mut self.slots[index];
        let node = slot
            .node
            .as_mut()
            .unwrap_or_else(|| panic!("node {label} is down"));
        let output = node.leave(now_ms);
        slot.view = OnceCell::new();
        self.apply_output(index, output);
    }

    /// Kills the node if it runs, moves it to a new address (`10.1.x.y:7000`, never used
    /// before in this network) and starts it again from its vault: a node moved to another host
    /// with its data (docs/protocol.md, "Restart at another address"). Its old address is left
    /// empty: messages sent there are lost and counted ([`Network::sent_to_nowhere`]). Other
    /// nodes' seeds still name the old address; its own seeds that named itself name its new
    /// address (a seed label is the node wherever it runs). Returns the new address.
    ///
    /// # Panics
    /// After `MAX_NODES` moves.
    pub fn restart_at_new_addr(&mut self, label: &str) -> Addr {
        if self.is_running(label) {
            self.kill(label);
        }
        assert!(self.moves < MAX_NODES, "more than {MAX_NODES} moves");
        let n = self.moves;
        self.moves += 1;
        let to = Addr::new(
            [10, 1, (n / 250) as u8, (n % 250) as u8 + 1],
            super::NODE_PORT,
        );
        let index = self.index(label);
        let from = self.slots[index].config.addr;
        self.by_addr.remove(&from);
        self.by_addr.insert(to, index);
        // A seed naming the node itself names it at its new address (its own label).
        let config = &mut self.slots[index].config;
        config.addr = to;
        for seed in config.seeds.iter_mut().filter(|s| **s == from) {
            *seed = to;
        }
        self.record(label, LogKind::Harness(HarnessAction::Moved { from, to }));
        self.start(label);
        to
    }
}
