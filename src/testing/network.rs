//! The synchronous test network: nodes, their vaults, links, the user, and the event queue that
//! drives them, one event per [`Network::step`].
//!
//! A node's input is handled the way the madsim host handles it (`sim/src/host.rs`): the node gets
//! the input with the current time, then its [`Output`] is made real — vault writes first, then
//! the events (logged), then the messages (scheduled on the network).

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::config::{NodeConfig, Timing};
use crate::event::Event;
use crate::message::{Envelope, MessageKind};
use crate::rng::Rng;
use crate::types::{Addr, LaunchId};
use crate::vault::Vault;
use crate::view::NodeView;
use crate::{Node, Output};

use super::log::{LogEntry, LogKind, MAX_LOG_ENTRIES};
use super::queue::{Queue, Scheduled, Target};
use super::setup::{NetworkBuilder, MAX_NODES};
use super::user::{User, USER_ADDR};

mod lifecycle;
mod links;
mod views;

/// The port every node listens on (the madsim world's `NODE_PORT`).
pub const NODE_PORT: u16 = 7000;

/// The most steps one [`Network::run_until`] or [`Network::run_for`] takes. Time always moves on
/// (every node ticks every `tick_ms`), so only a flood of same-instant messages could reach it:
/// the run panics rather than spin.
pub const MAX_STEPS_PER_RUN: u64 = 20_000_000;

/// The address of the `index`-th node: `10.0.x.y:7000`, as in the madsim world.
pub fn node_addr(index: usize) -> Addr {
    assert!(index < MAX_NODES, "more than {MAX_NODES} nodes");
    Addr::new(
        [10, 0, (index / 250) as u8, (index % 250) as u8 + 1],
        NODE_PORT,
    )
}

/// One node of the network: durable vault, volatile state machine.
pub(crate) struct Slot {
    pub label: String,
    pub config: NodeConfig,
    /// Its fixed Raft election timeout, in ticks (kept across restarts).
    pub election_ticks: usize,
    /// Durable: survives kill and restart.
    pub vault: Vault,
    /// Volatile: `None` while the node is down.
    pub node: Option<Node>,
    /// Bumped at every start and kill, so that the ticks of an earlier start are ignored.
    pub generation: u64,
    /// The node's view, computed on first read after the node last changed.
    pub view: OnceCell<NodeView>,
}

/// What one [`Network::step`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// When, in microseconds of simulated time.
    pub at_us: u64,
    /// What.
    pub what: StepKind,
}

/// The kinds of step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A node's timer fired.
    Tick {
        /// The node.
        node: String,
    },
    /// A node got a message.
    Delivered {
        /// Sender label (`"user"` for the user).
        from: String,
        /// Receiver label.
        to: String,
        /// The message's kind.
        kind: MessageKind,
    },
    /// A message arrived at a node that is down, and was lost.
    Undeliverable {
        /// Receiver label.
        to: String,
        /// The message's kind.
        kind: MessageKind,
    },
    /// A message reached the user.
    ToUser {
        /// The message's kind.
        kind: MessageKind,
    },
    /// The user sent an unanswered request again (or gave up on it).
    UserResend,
    /// A timer of a start that has since ended: nothing happened.
    StaleTick,
}

/// A condition that did not come true before its deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeout {
    /// Simulated time when the run gave up (the deadline), in milliseconds.
    pub at_ms: u64,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "condition still false at the deadline, {} ms",
            self.at_ms
        )
    }
}

impl std::error::Error for Timeout {}

/// A deterministic, single-threaded network of protocol nodes (see [`crate::testing`]).
pub struct Network {
    pub(crate) now_us: u64,
    pub(crate) timing: Timing,
    /// One-way latency range, in microseconds: `[min, max)`.
    latency_us: (u64, u64),
    loss: f64,
    pub(crate) rng: Rng,
    pub(crate) queue: Queue,
    pub(crate) slots: Vec<Slot>,
    by_label: BTreeMap<String, usize>,
    by_addr: BTreeMap<Addr, usize>,
    cut: BTreeSet<(usize, usize)>,
    /// Unused election timeouts of the current round, drawn without replacement so that nodes
    /// get different values while there are enough.
    election_pool: Vec<usize>,
    bug: Option<crate::bugs::PlantedBug>,
    pub(crate) user: User,
    log: Vec<LogEntry>,
    steps: u64,
    deliveries: u64,
    /// Messages sent to an address where no node is (any more), by address.
    unroutable: BTreeMap<Addr, u64>,
    /// Nodes moved to another address so far (`Network::restart_at_new_addr`).
    pub(crate) moves: usize,
    /// Shown every node output before it is applied ([`Network::observe_outputs`]).
    observer: Option<OutputObserver>,
}

/// A function shown every node output before the network applies it: the node's label, the
/// simulated time in microseconds, and the output ([`Network::observe_outputs`]).
pub type OutputObserver = Box<dyn FnMut(&str, u64, &Output) + Send>;

impl Network {
    /// A builder: `Network::builder().nodes(3).seed(7).build()`.
    pub fn builder() -> NetworkBuilder {
        NetworkBuilder::default()
    }

    pub(crate) fn from_builder(b: NetworkBuilder) -> Network {
        let mut net = Network {
            now_us: 0,
            timing: b.timing,
            latency_us: (0, 0),
            loss: 0.0,
            rng: Rng::new(b.seed),
            queue: Queue::default(),
            slots: Vec::new(),
            by_label: BTreeMap::new(),
            by_addr: BTreeMap::new(),
            cut: BTreeSet::new(),
            election_pool: Vec::new(),
            bug: b.bug,
            user: User::default(),
            log: Vec::new(),
            steps: 0,
            deliveries: 0,
            unroutable: BTreeMap::new(),
            moves: 0,
            observer: None,
        };
        net.set_latency(b.latency_ms.0, b.latency_ms.1, b.loss);
        // Every address first, so that seeds may name nodes added after them.
        let labels: Vec<String> = b.nodes.iter().map(|n| n.label.clone()).collect();
        for setup in b.nodes {
            net.create_slot(setup, &labels);
        }
        net
    }

    pub(crate) fn index(&self, label: &str) -> usize {
        *self
            .by_label
            .get(label)
            .unwrap_or_else(|| panic!("no node labelled {label:?}"))
    }

    pub(crate) fn label_of_addr(&self, addr: Addr) -> String {
        if addr == USER_ADDR {
            return "user".into();
        }
        match self.by_addr.get(&addr) {
            Some(&i) => self.slots[i].label.clone(),
            None => addr.to_string(),
        }
    }

    pub(crate) fn record(&mut self, node: &str, kind: LogKind) {
        assert!(
            self.log.len() < MAX_LOG_ENTRIES,
            "the run's log holds {MAX_LOG_ENTRIES} entries: a runaway run?"
        );
        self.log.push(LogEntry {
            at_us: self.now_us,
            node: node.to_string(),
            kind,
        });
    }

    /// Shows `observer` every node output (vault writes, events, messages) before the network
    /// applies it, with the node's label and the simulated time in microseconds; replaces an
    /// observer set before. What a host does besides running the protocol — checking invariants,
    /// hashing a trace — can be done there (the `harness` bench does the madsim world's host
    /// work so; issue 13).
    pub fn observe_outputs(&mut self, observer: impl FnMut(&str, u64, &Output) + Send + 'static) {
        self.observer = Some(Box::new(observer));
    }

    // --- Time ---

    /// Simulated milliseconds since the network was built.
    pub fn now_ms(&self) -> u64 {
        self.now_us / 1_000
    }

    /// Simulated microseconds since the network was built.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// The protocol timers every node runs with (without the per-node election timeout).
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    // --- Nodes ---

    /// Every node's label, in the order they were added.
    pub fn labels(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.label.clone()).collect()
    }

    /// Puts a message on the network: lost on a cut link or by the loss rate (both decided now,
    /// at sending, as madsim does), else due after a latency draw. A message to an address where
    /// no node is (never was, or one moved away from) is lost, and counted
    /// ([`Network::sent_to_nowhere`]).
    pub(crate) fn send(&mut self, from: Option<usize>, to: Addr, envelope: Envelope) {
        let target = if to == USER_ADDR {
            Target::User
        } else {
            match self.by_addr.get(&to) {
                Some(&i) => Target::Node(i),
                None => {
                    *self.unroutable.entry(to).or_default() += 1;
                    return;
                }
            }
        };
        if let (Some(from), Target::Node(to)) = (from, target) {
            if self.cut.contains(&(from, to)) {
                return;
            }
        }
        if self.loss > 0.0 {
            let draw = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            if draw < self.loss {
                return;
            }
        }
        let (min, max) = self.latency_us;
        let latency = min + self.rng.below(max - min);
        self.queue.push(
            self.now_us + latency,
            Scheduled::Deliver {
                to: target,
                envelope: Box::new(envelope),
            },
        );
    }

    /// Makes a node's output real: vault writes, then events, then messages.
    ///
    /// # Panics
    /// When the node wrote an invalid vault change (a protocol bug).
    pub(crate) fn apply_output(&mut self, index: usize, output: Output) {
        if let Some(observer) = self.observer.as_mut() {
            observer(&self.slots[index].label, self.now_us, &output);
        }
        let Output {
            writes,
            messages,
            events,
        } = output;
        let slot = &mut self.slots[index];
        for write in &writes {
            if let Err(e) = slot.vault.apply(write) {
                panic!(
                    "node {}: the state machine wrote an invalid vault change: {e}",
                    slot.label
                );
            }
        }
        let label = slot.label.clone();
        let launch = slot
            .node
            .as_ref()
            .map(|n| n.launch())
            .unwrap_or(LaunchId(0));
        for event in events {
            self.record(&label, LogKind::Protocol { launch, event });
        }
        for (to, envelope) in messages {
            self.send(Some(index), to, envelope);
        }
    }

    // --- Running ---

    /// Runs the earliest scheduled event, moving the clock to its time. `None` when nothing is
    /// scheduled (no node runs and no message is on its way).
    pub fn step(&mut self) -> Option<Step> {
        let (at_us, item) = self.queue.pop()?;
        self.now_us = self.now_us.max(at_us);
        self.steps += 1;
        let now_ms = self.now_ms();
        let what = match item {
            Scheduled::Tick { node, generation } => {
                let slot = &mut self.slots[node];
                let current = slot.generation == generation;
                match slot.node.as_mut().filter(|_| current) {
                    None => StepKind::StaleTick,
                    Some(running) => {
                        let output = running.tick(now_ms);
                        slot.view = OnceCell::new();
                        let label = slot.label.clone();
                        self.apply_output(node, output);
                        let next = self.now_us + self.timing.tick_ms * 1_000;
                        self.queue.push(next, Scheduled::Tick { node, generation });
                        StepKind::Tick { node: label }
                    }
                }
            }
            Scheduled::Deliver {
                to: Target::Node(node),
                envelope,
            } => {
                let kind = envelope.msg.kind();
                let from = self.label_of_addr(envelope.from);
                let slot = &mut self.slots[node];
                let to = slot.label.clone();
                match slot.node.as_mut() {
                    None => StepKind::Undeliverable { to, kind },
                    Some(running) => {
                        let output = running.receive(now_ms, *envelope);
                        slot.view = OnceCell::new();
                        self.deliveries += 1;
                        self.apply_output(node, output);
                        StepKind::Delivered { from, to, kind }
                    }
                }
            }
            Scheduled::Deliver {
                to: Target::User,
                envelope,
            } => {
                let kind = envelope.msg.kind();
                self.user_receives(*envelope);
                StepKind::ToUser { kind }
            }
            Scheduled::UserResend { request } => {
                self.user_resend(request);
                StepKind::UserResend
            }
        };
        Some(Step { at_us, what })
    }

    /// Steps until `done` holds (checked before the first step and after every step), or until
    /// the next event would come after `deadline_ms` (simulated time, absolute): then the clock
    /// moves to the deadline and the answer is [`Timeout`]. `Ok` carries the time it held, in
    /// milliseconds.
    ///
    /// # Panics
    /// After [`MAX_STEPS_PER_RUN`] steps.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&Network) -> bool,
        deadline_ms: u64,
    ) -> Result<u64, Timeout> {
        let deadline_us = deadline_ms.saturating_mul(1_000);
        for _ in 0..MAX_STEPS_PER_RUN {
            if done(self) {
                return Ok(self.now_ms());
            }
            match self.queue.next_time() {
                Some(at) if at <= deadline_us => {
                    self.step();
                }
                _ => {
                    self.now_us = self.now_us.max(deadline_us);
                    return Err(Timeout {
                        at_ms: self.now_ms(),
                    });
                }
            }
        }
        panic!("run_until took {MAX_STEPS_PER_RUN} steps without reaching its deadline");
    }

    /// Runs every event due in the next `ms` milliseconds; the clock ends `ms` later.
    pub fn run_for(&mut self, ms: u64) {
        let deadline = self.now_ms() + ms;
        // `done` never holds, so this ends at the deadline.
        let _ = self.run_until(|_| false, deadline);
    }

    /// Runs for `timeout_ms` at most until `done` holds: [`Network::run_until`] with a deadline
    /// relative to now.
    pub fn wait_until(
        &mut self,
        done: impl FnMut(&Network) -> bool,
        timeout_ms: u64,
    ) -> Result<u64, Timeout> {
        let deadline = self.now_ms() + timeout_ms;
        self.run_until(done, deadline)
    }

    // --- Log ---

    /// Everything that happened, in order: every node's protocol events and every harness action.
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    /// One node's protocol events (every launch), in order, with their time in milliseconds.
    pub fn events<'a>(&'a self, label: &'a str) -> impl Iterator<Item = (u64, &'a Event)> + 'a {
        self.log
            .iter()
            .filter(move |e| e.node == label)
            .filter_map(|e| e.event().map(|ev| (e.at_ms(), ev)))
    }

    /// Every protocol event of every node, in order, with the node's label.
    pub fn all_events(&self) -> impl Iterator<Item = (&str, &Event)> + '_ {
        self.log
            .iter()
            .filter_map(|e| e.event().map(|ev| (e.node.as_str(), ev)))
    }

    /// Steps run so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Messages delivered to running nodes so far.
    pub fn deliveries(&self) -> u64 {
        self.deliveries
    }

    /// How many messages were sent to `addr` while no node was there (say, the old address of a
    /// node restarted elsewhere), so far.
    pub fn sent_to_nowhere(&self, addr: Addr) -> u64 {
        self.unroutable.get(&addr).copied().unwrap_or(0)
    }

    /// Events scheduled and not yet run.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}
