//! The simulated world: cluster nodes on madsim, their vaults, the network controls, the user, a
//! god's-eye view, and the trace.
//!
//! A [`World`] exists inside one madsim runtime; [`crate::Sim`] builds it and runs a test body
//! against it. All controls act at the current simulated instant.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use joinsim::{Addr, MessageKind, NodeConfig, NodeName, NodeView, PlantedBug, Timing, Vault};
use madsim::runtime::Handle;

use crate::checkers::{committed_logs_agree, Checker, Hazard, Invariant, NodeFacts, Violation};
use crate::clock::NodeClock;
use crate::host::{arrive, run_node, NodeSlot, Packet, NODE_PORT};
use crate::model_check::{Divergence, TraceValidator};
use crate::network::delivery::Wait;
use crate::network::{
    DeliveryQueue, LinkSettings, MessageFilter, MessageRules, NetworkModel, RuleAction, RuleId,
    ALWAYS_PPM,
};
use crate::sim::NetSettings;
use crate::storage::StorageFault;
use crate::trace::{
    HarnessEvent, MessageFate, MessageParts, Trace, TraceEntry, TraceKind, VerdictRecord,
};
use crate::user::UserInbox;

/// The longest pause, milliseconds (ten minutes).
pub const MAX_PAUSE_MS: u64 = 600_000;

/// The address of the simulated user (the operator's CLI), who sends init and admin commands.
pub const USER_IP: [u8; 4] = [10, 0, 255, 254];

/// How a node is set up before the run: the core harness's [`NodeSetup`] (label, name, versions,
/// seeds by label, starting vault, with its builder methods), one description for both the
/// synchronous test network and the madsim world.
///
/// [`NodeSetup`]: joinsim::testing::NodeSetup
pub type NodeSpec = joinsim::testing::NodeSetup;

/// An answer the user got, or did not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserError<E> {
    /// The node answered with an error.
    Refused(E),
    /// No answer within the user's patience.
    NoAnswer,
}

impl<E: std::fmt::Display> std::fmt::Display for UserError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserError::Refused(e) => write!(f, "{e}"),
            UserError::NoAnswer => f.write_str("no answer"),
        }
    }
}

/// A condition that did not come true in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitTimeout {
    /// What was awaited.
    pub what: String,
    /// Simulated time when the wait gave up.
    pub at_ms: u64,
}

impl std::fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "timed out at {} ms waiting for {}",
            self.at_ms, self.what
        )
    }
}

impl std::error::Error for WaitTimeout {}

pub(crate) struct WorldInner {
    /// madsim's clock, read directly: `Instant::now()` goes through madsim's `clock_gettime`
    /// override, which looks the runtime up and converts twice at every read (4% of a fuzz run).
    time: madsim::time::TimeHandle,
    /// The clock's reading when the world was made: simulated time 0.
    t0: Duration,
    timing: Timing,
    slots: Mutex<BTreeMap<String, Arc<NodeSlot>>>,
    labels_by_addr: Mutex<BTreeMap<Addr, Arc<str>>>,
    rules: Mutex<MessageRules>,
    net: Mutex<NetworkModel>,
    /// The madsim machine whose one task, the pump ([`World::pump`]), hands the messages in
    /// flight over (it outlives every node).
    carrier: madsim::runtime::NodeHandle,
    /// The messages in flight, by arrival time (`network::delivery`).
    deliveries: Mutex<DeliveryQueue<Carried>>,
    /// The user's open requests' mailboxes, by port.
    user_inboxes: Mutex<BTreeMap<u16, UserInbox>>,
    next_user_port: AtomicU64,
    /// The labels of moved nodes at their former addresses (nobody listens there any more).
    former_addrs: Mutex<BTreeMap<Addr, Arc<str>>>,
    /// The user's label, `user`, shared by every message to or from the user.
    user_label: Arc<str>,
    /// The index of the next fresh address ([`ip_of`]).
    next_ip: AtomicU64,
    /// Steps that act at an event (see [`World::on_entry`]).
    hooks: Mutex<Vec<EntryHook>>,
    hooked: std::sync::atomic::AtomicBool,
    trace: Mutex<Trace>,
    checker: Mutex<Checker>,
    /// Trace validation against the reference model (`crate::model_check`).
    validator: Mutex<TraceValidator>,
    violations: Mutex<Vec<Violation>>,
    user: madsim::task::NodeId,
    next_request: AtomicU64,
    /// The next message id ([`MessageRecord::id`]), from 1.
    next_message: AtomicU64,
    user_patience_ms: u64,
    bug: Option<PlantedBug>,
}

/// A packet on its way to `to`, with the labels of its link as [`World::label_of`] named them at
/// the send: an address keeps its label for good (a moved node's old address keeps its label),
/// so the arrival need not look them up again.
struct Carried {
    packet: Packet,
    to: Addr,
    sender: Arc<str>,
    receiver: Arc<str>,
}

/// A hook on the trace (see [`World::on_entry`]): called right after each entry that is not a
/// message's is recorded; it returns true when it is done (and is then removed).
pub type EntryHook = Box<dyn FnMut(&World) -> bool + Send>;

/// The converted loss rate: parts per million, rounded down.
fn loss_ppm(loss: f64) -> u32 {
    (loss.clamp(0.0, 1.0) * f64::from(ALWAYS_PPM)) as u32
}

/// The simulated world, seen from the test body. Cheap to clone.
#[derive(Clone)]
pub struct World {
    inner: Arc<WorldInner>,
}

pub(crate) fn ip_of(index: usize) -> [u8; 4] {
    assert!(index < 250 * 250, "too many nodes");
    [10, 0, (index / 250) as u8, (index % 250) as u8 + 1]
}

impl World {
    pub(crate) fn setup(
        specs: Vec<NodeSpec>,
        timing: Timing,
        user_patience_ms: u64,
        bug: Option<PlantedBug>,
        keep_messages: bool,
        net: &NetSettings,
    ) -> World {
        let handle = Handle::current();
        let user = handle
            .create_node()
            .name("user")
            .ip(IpAddr::V4(Ipv4Addr::from(USER_IP)))
            .build()
            .id();
        let carrier = handle.create_node().name("network").build();
        let time = madsim::time::TimeHandle::current();
        let settings = LinkSettings {
            latency_min_ms: net.latency_min_ms,
            latency_max_ms: net.latency_max_ms,
            loss_ppm: loss_ppm(net.loss),
        };
        let checker = Checker::with_timing(BTreeMap::new(), &timing);
        let world = World {
            inner: Arc::new(WorldInner {
                t0: time.elapsed(),
                time,
                timing,
                slots: Mutex::new(BTreeMap::new()),
                labels_by_addr: Mutex::new(BTreeMap::new()),
                rules: Mutex::new(MessageRules::default()),
                net: Mutex::new(NetworkModel::new(settings)),
                carrier,
                deliveries: Mutex::new(DeliveryQueue::default()),
                user_inboxes: Mutex::new(BTreeMap::new()),
                next_user_port: AtomicU64::new(0),
                next_ip: AtomicU64::new(specs.len() as u64),
                former_addrs: Mutex::new(BTreeMap::new()),
                user_label: Arc::from("user"),
                hooks: Mutex::new(Vec::new()),
                hooked: std::sync::atomic::AtomicBool::new(false),
                trace: Mutex::new(Trace::new(keep_messages)),
                checker: Mutex::new(checker),
                validator: Mutex::new(TraceValidator::default()),
                violations: Mutex::new(Vec::new()),
                user,
                next_request: AtomicU64::new(1),
                next_message: AtomicU64::new(1),
                user_patience_ms,
                bug,
            }),
        };
        let mut addrs = BTreeMap::new();
        for (i, spec) in specs.iter().enumerate() {
            addrs.insert(spec.label.clone(), Addr::new(ip_of(i), NODE_PORT));
        }
        for spec in specs {
            world.create_slot(spec, &addrs);
        }
        drop(world.inner.carrier.spawn(world.clone().pump()));
        world
    }

    fn create_slot(&self, spec: NodeSpec, addrs: &BTreeMap<String, Addr>) {
        let addr = addrs[&spec.label];
        self.inner
            .validator
            .lock()
            .expect("validator lock")
            .name_node(&spec.label, &spec.name);
        {
            let mut checker = self.inner.checker.lock().expect("checker lock");
            checker.add_node(
                &spec.label,
                NodeFacts {
                    name: spec.name.clone(),
                    product: spec.product,
                    protocol: spec.protocol,
                },
            );
            checker.load_vault(&spec.label, &spec.vault);
        }
        let seeds = spec
            .seeds
            .iter()
            .map(|s| {
                *addrs
                    .get(s)
                    .unwrap_or_else(|| panic!("node {}: unknown seed {s}", spec.label))
            })
            .collect();
        let config = NodeConfig::new(spec.name.clone(), addr, spec.product, spec.protocol, seeds)
            .with_planted_bug(self.inner.bug);
        let slot = Arc::new(NodeSlot {
            label: spec.label.clone(),
            config: Mutex::new(config),
            seed_labels: spec.seeds.clone(),
            vault: Mutex::new(spec.vault),
            lazy: Mutex::new(Vec::new()),
            torn_tail: Mutex::new(None),
            armed_fault: Mutex::new(None),
            node: Mutex::new(None),
            held: Mutex::new(Vec::new()),
            inbox: Mutex::new(Vec::new()),
            paused_until_us: AtomicU64::new(0),
            madsim_id: Mutex::new(None),
            up: std::sync::atomic::AtomicBool::new(false),
            incarnation: AtomicU64::new(0),
            clock: Mutex::new(NodeClock::default()),
        });
        let init_world = self.clone();
        let init_slot = slot.clone();
        let [a, b, c, d] = addr.ip;
        let id = Handle::current()
            .create_node()
            .name(spec.label.clone())
            .ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
            .init(move || run_node(init_world.clone(), init_slot.clone()))
            .build()
            .id();
        // Created stopped: the first `start` runs it.
        Handle::current().kill(id);
        *slot.madsim_id.lock().expect("id lock") = Some(id);
        self.inner
            .labels_by_addr
            .lock()
            .expect("labels lock")
            .insert(addr, Arc::from(spec.label.as_str()));
        self.inner
            .slots
            .lock()
            .expect("slots lock")
            .insert(spec.label, slot);
    }

    /// A weak handle on the world's state: tests use it to prove that nothing of a run
    /// outlives it.
    #[cfg(test)]
    pub(crate) fn downgrade(&self) -> std::sync::Weak<WorldInner> {
        Arc::downgrade(&self.inner)
    }

    fn slot(&self, label: &str) -> Arc<NodeSlot> {
        self.inner
            .slots
            .lock()
            .expect("slots lock")
            .get(label)
            .cloned()
            .unwrap_or_else(|| panic!("no node labelled {label:?}"))
    }

    fn madsim_id(&self, label: &str) -> madsim::task::NodeId {
        self.slot(label)
            .madsim_id
            .lock()
            .expect("id lock")
            .expect("node created")
    }

    // --- Time ---

    /// Simulated milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        self.since_t0().as_millis() as u64
    }

    /// Simulated microseconds since the run started.
    pub fn now_us(&self) -> u64 {
        self.since_t0().as_micros() as u64
    }

    /// Simulated time since the run started.
    fn since_t0(&self) -> Duration {
        self.inner.time.elapsed().saturating_sub(self.inner.t0)
    }

    /// Waits `ms` of simulated time.
    pub async fn sleep_ms(&self, ms: u64) {
        madsim::time::sleep(Duration::from_millis(ms)).await;
    }

    /// Waits until `condition` holds, checking every 20 ms of simulated time, for at most
    /// `timeout_ms`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout_ms: u64,
        mut condition: impl FnMut(&World) -> bool,
    ) -> Result<(), WaitTimeout> {
        let deadline = self.now_ms() + timeout_ms;
        loop {
            if condition(self) {
                return Ok(());
            }
            if self.now_ms() >= deadline {
                return Err(WaitTimeout {
                    what: what.to_string(),
                    at_ms: self.now_ms(),
                });
            }
            self.sleep_ms(20).await;
        }
    }

    /// The protocol timers every node runs with.
    pub fn timing(&self) -> &Timing {
        &self.inner.timing
    }

    // --- Nodes ---

    /// Labels of every node, sorted.
    pub fn labels(&self) -> Vec<String> {
        self.inner
            .slots
            .lock()
            .expect("slots lock")
            .keys()
            .cloned()
            .collect()
    }

    /// Adds a node during the run (stopped; start it with [`World::start`]).
    pub fn add_node(&self, spec: NodeSpec) {
        let mut addrs: BTreeMap<String, Addr> = self
            .inner
            .labels_by_addr
            .lock()
            .expect("labels lock")
            .iter()
            .map(|(a, l)| (l.to_string(), *a))
            .collect();
        assert!(
            !addrs.contains_key(&spec.label),
            "node {} exists",
            spec.label
        );
        let index = self.inner.next_ip.fetch_add(1, Ordering::Relaxed) as usize;
        addrs.insert(spec.label.clone(), Addr::new(ip_of(index), NODE_PORT));
        self.create_slot(spec, &addrs);
    }

    /// Moves a node to a new address with its vault (Ignite's case of a node moved to another
    /// host while its old instance may still be in the LT): a running node is killed, takes a
    /// fresh address nobody had, and starts again from its vault there. Messages to the old
    /// address are lost from now on. Returns the new address.
    pub fn move_node(&self, label: &str) -> Addr {
        if self.is_running(label) {
            self.kill(label);
        }
        let slot = self.slot(label);
        let index = self.inner.next_ip.fetch_add(1, Ordering::Relaxed) as usize;
        let new = Addr::new(ip_of(index), NODE_PORT);
        let old = {
            let mut config = slot.config.lock().expect("config lock");
            std::mem::replace(&mut config.addr, new)
        };
        {
            let mut labels = self.inner.labels_by_addr.lock().expect("labels lock");
            labels.remove(&old);
            labels.insert(new, Arc::from(label));
            self.inner
                .former_addrs
                .lock()
                .expect("former lock")
                .insert(old, Arc::from(label));
        }
        // Seeds are names: every node that names this one as a seed resolves it anew.
        let slots: Vec<Arc<NodeSlot>> = self
            .inner
            .slots
            .lock()
            .expect("slots lock")
            .values()
            .filter(|s| s.seed_labels.iter().any(|l| l == label))
            .cloned()
            .collect();
        for other in slots {
            let seeds: Vec<Addr> = other.seed_labels.iter().map(|l| self.addr(l)).collect();
            other.config.lock().expect("config lock").seeds = seeds.clone();
            if let Some(node) = other.node.lock().expect("node lock").as_mut() {
                node.set_seeds(seeds);
            }
        }
        self.record(
            label,
            TraceKind::Harness(HarnessEvent::AddressChanged {
                from: old.to_string(),
                to: new.to_string(),
            }),
        );
        self.start(label);
        new
    }

    /// Starts a stopped node (a first start, or a restart from its vault).
    pub fn start(&self, label: &str) {
        let slot = self.slot(label);
        assert!(!slot.is_running(), "node {label} is already running");
        self.record(label, TraceKind::Harness(HarnessEvent::NodeStarted));
        slot.incarnation.fetch_add(1, Ordering::Relaxed);
        slot.paused_until_us.store(0, Ordering::Relaxed);
        slot.up.store(true, Ordering::Relaxed);
        Handle::current().restart(self.madsim_id(label));
    }

    /// Starts every stopped node, in label order.
    pub fn start_all(&self) {
        for label in self.labels() {
            if !self.slot(&label).is_running() {
                self.start(&label);
            }
        }
    }

    /// Kills a node: its tasks stop, its in-memory state and held messages are lost, its vault
    /// stays (with its lazy writes: the operating system writes them back after a process
    /// crash).
    pub fn kill(&self, label: &str) {
        crate::host::write_back_lazy(&self.slot(label));
        self.crash(label);
    }

    /// Stops the machine at once: like [`World::kill`], but lazy writes not yet written back
    /// are lost (a machine crash loses the page cache), and an armed storage fault is disarmed.
    pub(crate) fn crash(&self, label: &str) {
        let slot = self.slot(label);
        slot.lazy.lock().expect("lazy lock").clear();
        *slot.armed_fault.lock().expect("fault lock") = None;
        Handle::current().kill(self.madsim_id(label));
        slot.up.store(false, Ordering::Relaxed);
        *slot.node.lock().expect("node lock") = None;
        slot.held.lock().expect("held lock").clear();
        slot.inbox.lock().expect("inbox lock").clear();
        slot.paused_until_us.store(0, Ordering::Relaxed);
        self.record(label, TraceKind::Harness(HarnessEvent::NodeKilled));
    }

    /// Stops a running node gracefully (docs/protocol.md, "Graceful leave"): it hands over the
    /// groups it leads, tells its members it leaves (`Node::leave`), and its process exits once
    /// that output is on the network (recorded as `left`, then `node_killed`). Its vault stays,
    /// with its lazy writes written back (a clean stop); a start rejoins.
    ///
    /// # Panics
    /// When the node is not running.
    pub fn leave(&self, label: &str) {
        let slot = self.slot(label);
        assert!(slot.is_running(), "node {label} is not running");
        let incarnation = slot.incarnation.load(Ordering::Relaxed);
        let now_ms = slot.local_ms(self.now_us());
        let output = slot
            .node
            .lock()
            .expect("node lock")
            .as_mut()
            .map(|node| node.leave(now_ms));
        self.record(label, TraceKind::Harness(HarnessEvent::Left));
        if let Some(output) = output {
            crate::host::apply_output(self, &slot, incarnation, output);
        }
        if slot.is_running() {
            self.kill(label);
        }
    }

    /// Kills a running node and starts it again from its vault.
    pub fn restart(&self, label: &str) {
        if self.is_running(label) {
            self.kill(label);
        }
        self.start(label);
    }

    /// Wipes a node's vault. A running node is killed first; it stays down.
    pub fn wipe(&self, label: &str) {
        if self.is_running(label) {
            self.kill(label);
        }
        let slot = self.slot(label);
        *slot.vault.lock().expect("vault lock") = Vault::empty();
        slot.lazy.lock().expect("lazy lock").clear();
        *slot.torn_tail.lock().expect("tail lock") = None;
        *slot.armed_fault.lock().expect("fault lock") = None;
        self.record(label, TraceKind::Harness(HarnessEvent::VaultWiped));
    }

    /// Pauses a running node for `for_ms` (docs/network.md, "Pauses"): it neither ticks nor
    /// handles messages, which wait in its inbox; it keeps its state, and at the end it is given
    /// what arrived, in arrival order. Pausing a paused node extends the pause to the later end.
    ///
    /// # Panics
    /// When the node is not running, or `for_ms` is above [`MAX_PAUSE_MS`].
    pub fn pause(&self, label: &str, for_ms: u64) {
        assert!(
            for_ms <= MAX_PAUSE_MS,
            "pause of {for_ms} ms is above {MAX_PAUSE_MS} ms"
        );
        let slot = self.slot(label);
        assert!(slot.is_running(), "node {label} is not running");
        let until_us = self.now_us() + for_ms * 1_000;
        slot.paused_until_us.fetch_max(until_us, Ordering::Relaxed);
        self.record(label, TraceKind::Harness(HarnessEvent::Paused { for_ms }));
    }

    /// Strikes the node's vault with a storage fault (`crate::storage`): `power_loss` at once
    /// (the node must run: it dies and its lazy writes not yet written back are lost),
    /// `crash_after_write` and `torn_write` at the node's next output that writes (armed now,
    /// recorded as `armed:<name>`; a kill or wipe disarms it).
    ///
    /// # Panics
    /// When the node is not running.
    pub fn storage_fault(&self, label: &str, fault: StorageFault) {
        let slot = self.slot(label);
        assert!(slot.is_running(), "node {label} is not running");
        match fault {
            StorageFault::PowerLoss => {
                let lost = std::mem::take(&mut *slot.lazy.lock().expect("lazy lock"));
                self.record(
                    label,
                    TraceKind::Harness(HarnessEvent::StorageFault {
                        fault: fault.name().to_string(),
                        detail: format!("{} lazy write(s) lost", lost.len()),
                    }),
                );
                self.crash(label);
            }
            StorageFault::CrashAfterWrite | StorageFault::TornWrite => {
                *slot.armed_fault.lock().expect("fault lock") = Some(fault);
                self.record(
                    label,
                    TraceKind::Harness(HarnessEvent::StorageFault {
                        fault: format!("armed:{}", fault.name()),
                        detail: "strikes at the node's next output that writes".into(),
                    }),
                );
            }
        }
    }

    /// True while the node is paused.
    pub fn is_paused(&self, label: &str) -> bool {
        self.slot(label).is_paused(self.now_us())
    }

    /// Puts a machine's clock ahead by `skew_ms` and gives it a drift of `drift_ppm` parts per
    /// million from now on (docs/network.md, "Clocks"); the clock outlives restarts.
    ///
    /// # Errors
    /// A skew or drift beyond its bound ([`crate::clock::check`]); nothing changes then.
    pub fn adjust_clock(&self, label: &str, skew_ms: u64, drift_ppm: i64) -> Result<(), String> {
        let slot = self.slot(label);
        slot.clock
            .lock()
            .expect("clock lock")
            .adjust(self.now_us(), skew_ms, drift_ppm)?;
        self.record(
            label,
            TraceKind::Harness(HarnessEvent::ClockAdjusted { skew_ms, drift_ppm }),
        );
        Ok(())
    }

    /// The machine's clock reading, milliseconds.
    pub fn local_ms(&self, label: &str) -> u64 {
        self.slot(label).local_ms(self.now_us())
    }

    /// True while the node runs.
    pub fn is_running(&self, label: &str) -> bool {
        self.slot(label).is_running()
    }

    /// The node's current state, without touching it. `None` while it is down.
    pub fn view(&self, label: &str) -> Option<NodeView> {
        self.slot(label).view()
    }

    /// Applies `f` to the node's state machine in place (`None` when it has none, as
    /// [`World::view`] is `None`): a condition polled every 20 ms reads what it needs without
    /// copying the node's state into a view (issue 13). Panics on an unknown label, as
    /// [`World::view`] does.
    pub fn with_node<R>(&self, label: &str, f: impl FnOnce(&joinsim::Node) -> R) -> Option<R> {
        self.slot(label).with_node(f)
    }

    /// The labels of a node's seeds.
    pub fn seeds_of(&self, label: &str) -> Vec<String> {
        self.slot(label).seed_labels.clone()
    }

    /// Every running node's state, by label.
    pub fn views(&self) -> BTreeMap<String, NodeView> {
        self.labels()
            .into_iter()
            .filter_map(|l| self.view(&l).map(|v| (l, v)))
            .collect()
    }

    /// Applies `f` to the node's vault without copying it (a vault holds the Raft logs).
    pub fn with_vault<R>(&self, label: &str, f: impl FnOnce(&Vault) -> R) -> R {
        f(&self.slot(label).vault.lock().expect("vault lock"))
    }

    /// A copy of the node's vault.
    pub fn vault(&self, label: &str) -> Vault {
        self.slot(label).vault.lock().expect("vault lock").clone()
    }

    /// The node's protocol name.
    pub fn name_of(&self, label: &str) -> NodeName {
        self.slot(label)
            .config
            .lock()
            .expect("config lock")
            .name
            .clone()
    }

    /// The node's address.
    pub fn addr(&self, label: &str) -> Addr {
        self.slot(label).addr()
    }

    // --- Network ---

    fn cut(&self, from: &str, to: &str) -> bool {
        self.inner.net.lock().expect("net lock").cut(from, to)
    }

    /// Splits the nodes into groups that cannot reach each other (both ways). Nodes in no group
    /// keep their links. A message is lost when its link is cut at its send or at its arrival.
    pub fn partition(&self, groups: &[&[&str]]) {
        let mut links = Vec::new();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i == j {
                    continue;
                }
                for from in a.iter() {
                    for to in b.iter() {
                        if self.cut(from, to) {
                            links.push((from.to_string(), to.to_string()));
                        }
                    }
                }
            }
        }
        self.record("-", TraceKind::Harness(HarnessEvent::Partitioned { links }));
    }

    /// Cuts messages from `from` to `to` only.
    pub fn partition_oneway(&self, from: &str, to: &str) {
        let mut links = Vec::new();
        if self.cut(from, to) {
            links.push((from.to_string(), to.to_string()));
        }
        self.record("-", TraceKind::Harness(HarnessEvent::Partitioned { links }));
    }

    /// Restores every cut link.
    pub fn heal(&self) {
        self.inner.net.lock().expect("net lock").heal();
        self.record("-", TraceKind::Harness(HarnessEvent::Healed));
    }

    /// Links currently cut, as (from, to) labels.
    pub fn cut_links(&self) -> BTreeSet<(String, String)> {
        self.inner.net.lock().expect("net lock").cut_links()
    }

    /// Sets the default latency range (milliseconds, inclusive) and loss rate of every message
    /// on a link without settings of its own.
    ///
    /// # Panics
    /// On a reversed range, a latency above [`crate::network::MAX_LATENCY_MS`] or a loss outside
    /// 0..=1 (scenario files and flags are validated before).
    pub fn set_network(&self, latency_min_ms: u64, latency_max_ms: u64, loss: f64) {
        assert!((0.0..=1.0).contains(&loss), "loss must be within 0..=1");
        let settings = LinkSettings {
            latency_min_ms,
            latency_max_ms,
            loss_ppm: loss_ppm(loss),
        };
        if let Err(e) = settings.check() {
            panic!("network settings: {e}");
        }
        self.inner
            .net
            .lock()
            .expect("net lock")
            .set_default(settings);
        self.record(
            "-",
            TraceKind::Harness(HarnessEvent::NetworkChanged {
                latency_min_ms,
                latency_max_ms,
                loss_ppm: u64::from(settings.loss_ppm),
            }),
        );
    }

    /// Gives the link `from -> to` (one direction: links may be asymmetric) its own latency
    /// range and loss rate, until [`World::clear_links`].
    ///
    /// # Panics
    /// On settings outside their bounds ([`LinkSettings::check`]).
    pub fn set_link(&self, from: &str, to: &str, settings: LinkSettings) {
        if let Err(e) = settings.check() {
            panic!("link {from} -> {to}: {e}");
        }
        self.inner
            .net
            .lock()
            .expect("net lock")
            .set_link(from, to, settings);
        self.record(
            "-",
            TraceKind::Harness(HarnessEvent::LinkChanged {
                from: from.to_string(),
                to: to.to_string(),
                latency_min_ms: settings.latency_min_ms,
                latency_max_ms: settings.latency_max_ms,
                loss_ppm: u64::from(settings.loss_ppm),
            }),
        );
    }

    /// Forgets every link's own settings (they take the default ones again).
    pub fn clear_links(&self) {
        self.inner.net.lock().expect("net lock").clear_links();
        self.record("-", TraceKind::Harness(HarnessEvent::LinksCleared));
    }

    /// The default link settings now.
    pub fn network_settings(&self) -> LinkSettings {
        self.inner.net.lock().expect("net lock").default_settings()
    }

    fn add_rule(
        &self,
        filter: MessageFilter,
        action: RuleAction,
        for_ms: Option<u64>,
        chance_ppm: u32,
    ) -> RuleId {
        let until = for_ms.map(|ms| self.now_ms() + ms);
        let chance = if chance_ppm < ALWAYS_PPM {
            format!(
                " with chance {}",
                f64::from(chance_ppm) / f64::from(ALWAYS_PPM)
            )
        } else {
            String::new()
        };
        let description = format!(
            "{action:?} {filter}{chance}{}",
            for_ms.map(|ms| format!(" for {ms} ms")).unwrap_or_default()
        );
        let id = self
            .inner
            .rules
            .lock()
            .expect("rules lock")
            .add_with_chance(filter, action, until, chance_ppm);
        self.record(
            "-",
            TraceKind::Harness(HarnessEvent::RuleAdded {
                rule: id.0,
                description,
            }),
        );
        id
    }

    /// Holds matching messages at their receivers, for `for_ms` or until [`World::release`].
    pub fn hold(&self, filter: MessageFilter, for_ms: Option<u64>) -> RuleId {
        self.add_rule(filter, RuleAction::Hold, for_ms, ALWAYS_PPM)
    }

    /// Drops matching messages, for `for_ms` or until [`World::release`].
    pub fn drop_messages(&self, filter: MessageFilter, for_ms: Option<u64>) -> RuleId {
        self.add_rule(filter, RuleAction::Drop, for_ms, ALWAYS_PPM)
    }

    /// Adds a rule of any action that applies to a matching message with chance `chance_ppm`
    /// (parts per million), for `for_ms` or until [`World::release`]: `duplicate` and `delay`
    /// act when a message is sent, `hold` and `drop` when it arrives (docs/network.md).
    ///
    /// # Panics
    /// On a chance above one or a delay range out of bounds (validated before by callers).
    pub fn add_message_rule(
        &self,
        filter: MessageFilter,
        action: RuleAction,
        for_ms: Option<u64>,
        chance_ppm: u32,
    ) -> RuleId {
        self.add_rule(filter, action, for_ms, chance_ppm)
    }

    /// Ends a message rule. Held messages are delivered at their receiver's next tick.
    pub fn release(&self, rule: RuleId) {
        if self.inner.rules.lock().expect("rules lock").remove(rule) {
            self.record(
                "-",
                TraceKind::Harness(HarnessEvent::RuleRemoved { rule: rule.0 }),
            );
        }
    }

    /// Ends every message rule.
    pub fn release_all(&self) {
        let ended = self.inner.rules.lock().expect("rules lock").take_all();
        for id in ended {
            self.record(
                "-",
                TraceKind::Harness(HarnessEvent::RuleRemoved { rule: id.0 }),
            );
        }
    }

    /// The rule action for a message on one side (`on_send`), drawing the chances from madsim's
    /// seeded generator.
    pub(crate) fn rule_action(
        &self,
        message: (&str, &str, MessageKind),
        on_send: bool,
    ) -> Option<RuleAction> {
        let rules = self.inner.rules.lock().expect("rules lock");
        if rules.is_empty() {
            return None;
        }
        let mut draw = || (madsim::rand::random::<u64>() % u64::from(ALWAYS_PPM)) as u32;
        rules.action(message, self.now_ms(), on_send, &mut draw)
    }

    /// Hands a packet to the network at this instant: it is lost if its link is cut or by the
    /// link's loss rate; otherwise it arrives after its drawn latency (plus a `delay` rule's),
    /// twice if a `duplicate` rule says so (each copy with its own latency and loss).
    pub(crate) fn transmit(&self, packet: Packet, to: Addr, kind: MessageKind) {
        let labels = (self.label_of(packet.from), self.label_of(to));
        self.transmit_between(packet, to, kind, labels);
    }

    /// [`World::transmit`] with the labels of the sender's and the receiver's addresses
    /// ([`World::label_of`]) looked up by the caller at this instant: a node's output looks its
    /// own up once, not once per message.
    pub(crate) fn transmit_between(
        &self,
        packet: Packet,
        to: Addr,
        kind: MessageKind,
        (sender, receiver): (Arc<str>, Arc<str>),
    ) {
        let send_rule = self.rule_action((&sender, &receiver, kind), true);
        let copies = if send_rule == Some(RuleAction::Duplicate) {
            2
        } else {
            1
        };
        if copies == 2 && packet.id != 0 {
            let link = (&*sender, &*receiver);
            self.message(&sender, packet.id, link, kind, MessageFate::Duplicated);
        }
        let mut packet = Some(packet);
        for copy in 0..copies {
            let latency_us = {
                let net = self.inner.net.lock().expect("net lock");
                if net.is_cut(&sender, &receiver) {
                    return;
                }
                net.draw(&sender, &receiver, &mut || madsim::rand::random::<u64>())
            };
            let Some(mut latency_us) = latency_us else {
                continue;
            };
            if let Some(RuleAction::Delay { min_ms, max_ms }) = send_rule {
                let span_us = (max_ms - min_ms) * 1_000;
                latency_us += min_ms * 1_000 + madsim::rand::random::<u64>() % (span_us + 1);
            }
            let packet = if copy + 1 == copies {
                packet.take()
            } else {
                packet.clone()
            }
            .expect("a packet for every copy");
            // At least a microsecond on the way: a message answered at the instant it arrives
            // would otherwise let two nodes exchange messages for ever without time passing.
            let latency_us = latency_us.max(1);
            let arrival_us = self.now_us() + latency_us;
            let pushed = self.inner.deliveries.lock().expect("deliveries lock").push(
                arrival_us,
                Carried {
                    packet,
                    to,
                    sender: sender.clone(),
                    receiver: receiver.clone(),
                },
            );
            match pushed {
                Ok(Some(pump)) => self.set_timer(arrival_us, &pump),
                Ok(None) => {}
                Err(Carried { packet: lost, .. }) => {
                    if lost.id != 0 {
                        let link = (&*sender, &*receiver);
                        self.message(&sender, lost.id, link, kind, MessageFate::Dropped);
                    }
                }
            }
        }
    }

    /// Sets a madsim timer that wakes the pump (`waker`) at `arrival_us`, which lies ahead. A
    /// madsim sleep sets its timer when first polled, and the timer outlives the sleep; `sleep`
    /// waits at least 1 ms (tokio's rule), and `reset` sets the exact deadline, so that an
    /// arrival less than 1 ms away is not late.
    fn set_timer(&self, arrival_us: u64, waker: &std::task::Waker) {
        let time = &self.inner.time;
        let ahead_us = arrival_us.saturating_sub(self.now_us());
        let mut sleep = time.sleep(Duration::ZERO);
        Pin::new(&mut sleep).reset(time.now_instant() + Duration::from_micros(ahead_us));
        let pending = Pin::new(&mut sleep)
            .poll(&mut std::task::Context::from_waker(waker))
            .is_pending();
        assert!(pending, "a delivery timer is set for an arrival ahead");
    }

    /// The network's one task: hands every message in flight over at its arrival, in (arrival,
    /// send) order, and sleeps until the next arrival in between (`network::delivery`). Runs on
    /// the carrier machine until the world's end kills it.
    async fn pump(self) {
        loop {
            let now_us = self.now_us();
            loop {
                let due = self
                    .inner
                    .deliveries
                    .lock()
                    .expect("deliveries lock")
                    .pop_due(now_us);
                let Some(carried) = due else { break };
                self.arrive_at(carried);
            }
            std::future::poll_fn(|cx| {
                let now_us = self.now_us();
                let wait = self
                    .inner
                    .deliveries
                    .lock()
                    .expect("deliveries lock")
                    .next_wait(now_us, cx.waker());
                match wait {
                    Wait::Due => Poll::Ready(()),
                    Wait::Arm(arrival_us) => {
                        self.set_timer(arrival_us, cx.waker());
                        Poll::Pending
                    }
                    Wait::Idle => Poll::Pending,
                }
            })
            .await;
        }
    }

    /// A packet reaches `to`: lost if the link is cut now or nobody listens there; else given
    /// to the user's request or to the node at that address.
    fn arrive_at(&self, carried: Carried) {
        let Carried {
            packet,
            to,
            sender,
            receiver,
        } = carried;
        if self
            .inner
            .net
            .lock()
            .expect("net lock")
            .is_cut(&sender, &receiver)
        {
            return;
        }
        if to.ip == USER_IP {
            crate::user::arrive_at_user(self, packet, to.port);
            return;
        }
        let slot = self
            .inner
            .slots
            .lock()
            .expect("slots lock")
            .get(&*receiver)
            .cloned();
        if let Some(slot) = slot.filter(|s| s.addr() == to) {
            arrive(self, &slot, packet, sender);
        }
    }

    /// The user's request mailboxes.
    pub(crate) fn user_inboxes(&self) -> std::sync::MutexGuard<'_, BTreeMap<u16, UserInbox>> {
        self.inner.user_inboxes.lock().expect("inboxes lock")
    }

    /// A fresh port for one user request's mailbox (1..=60,000, then around again).
    pub(crate) fn next_user_port(&self) -> u16 {
        (self.inner.next_user_port.fetch_add(1, Ordering::Relaxed) % 60_000 + 1) as u16
    }

    /// The label of the node at `addr` (kept at its former addresses after a move: a message
    /// from before the move still names its sender), `user` for the user's machine, else the
    /// address itself. Shared, not copied: it is asked for several times per message.
    pub(crate) fn label_of(&self, addr: Addr) -> Arc<str> {
        if addr.ip == USER_IP {
            return self.inner.user_label.clone();
        }
        let key = Addr::new(addr.ip, NODE_PORT);
        if let Some(label) = self
            .inner
            .labels_by_addr
            .lock()
            .expect("labels lock")
            .get(&key)
        {
            return label.clone();
        }
        if let Some(label) = self
            .inner
            .former_addrs
            .lock()
            .expect("former lock")
            .get(&key)
        {
            return label.clone();
        }
        Arc::from(addr.to_string())
    }

    // --- User ---

    pub(crate) fn next_request(&self) -> u64 {
        self.inner.next_request.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn user_node(&self) -> madsim::task::NodeId {
        self.inner.user
    }

    pub(crate) fn user_patience_ms(&self) -> u64 {
        self.inner.user_patience_ms
    }

    /// Runs `task` on the simulated user's machine, detached: it ends with the run (see
    /// [`World::shutdown`]). Use it for anything a test body starts and does not await, so that
    /// nothing is left on madsim's main node when the run ends.
    pub fn spawn_user_task(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let user = Handle::current()
            .get_node(self.user_node())
            .expect("user node exists");
        drop(user.spawn(task));
    }

    /// Ends every task of the run: kills every simulated machine (the nodes and the user), so
    /// that madsim drops their futures before the runtime goes. Called once, at the end of a run,
    /// after the trace hash is taken; records nothing.
    ///
    /// Why: madsim 0.2.34 does not cancel the tasks still parked when a runtime is dropped. A
    /// parked task is kept alive by its own waker, which sits in a timer or a socket mailbox
    /// that the task's future itself keeps alive (`Sleep` holds the timer, an endpoint holds the
    /// network). That cycle never breaks, so every run's whole world (nodes, vaults, trace,
    /// channels) would leak. Killing a machine wakes each of its tasks, and madsim's executor
    /// drops the future of a task whose machine is dead the next time it picks it, in the same
    /// pass that finishes the main task.
    pub(crate) fn shutdown(&self) {
        let handle = Handle::current();
        let ids: Vec<madsim::task::NodeId> = self
            .inner
            .slots
            .lock()
            .expect("slots lock")
            .values()
            .filter_map(|slot| *slot.madsim_id.lock().expect("id lock"))
            .collect();
        for id in ids {
            handle.kill(id);
        }
        handle.kill(self.inner.user);
        handle.kill(self.inner.carrier.id());
        self.inner
            .deliveries
            .lock()
            .expect("deliveries lock")
            .clear();
        self.inner.hooks.lock().expect("hooks lock").clear();
        self.inner
            .user_inboxes
            .lock()
            .expect("inboxes lock")
            .clear();
        for slot in self.inner.slots.lock().expect("slots lock").values() {
            slot.up.store(false, Ordering::Relaxed);
            *slot.node.lock().expect("node lock") = None;
            slot.held.lock().expect("held lock").clear();
            slot.inbox.lock().expect("inbox lock").clear();
        }
    }

    // --- Trace ---

    pub(crate) fn record(&self, node: &str, kind: TraceKind) {
        let entry = TraceEntry {
            time_us: self.now_us(),
            node: node.to_string(),
            kind,
        };
        // The checkers judge events and harness actions; a message's moments are only recorded.
        let violation = match entry.kind {
            TraceKind::Message(_) => None,
            _ => self
                .inner
                .checker
                .lock()
                .expect("checker lock")
                .observe(&entry),
        };
        let divergence = match entry.kind {
            TraceKind::Message(_) => None,
            _ => self
                .inner
                .validator
                .lock()
                .expect("validator lock")
                .observe(&entry),
        };
        let hooked = !matches!(entry.kind, TraceKind::Message(_))
            && self.inner.hooked.load(Ordering::Relaxed);
        self.inner.trace.lock().expect("trace lock").record(entry);
        if let Some(violation) = violation {
            self.push_violation(violation);
        }
        if let Some(divergence) = divergence {
            // A verdict of its own in the trace (verdicts are not hashed), for the pictures.
            let verdict = TraceEntry {
                time_us: divergence.time_us,
                node: "-".into(),
                kind: TraceKind::Verdict(VerdictRecord {
                    invariant: "model_divergence".into(),
                    nodes: vec![divergence.node.clone()],
                    detail: format!("rule {}: {}", divergence.rule, divergence.detail),
                }),
            };
            self.inner.trace.lock().expect("trace lock").record(verdict);
        }
        if hooked {
            self.run_hooks();
        }
    }

    /// Calls `hook` right after every later entry that is not a message's is recorded (events,
    /// harness actions), before anything else happens, until it returns true. So a scenario step
    /// acts exactly at an event: a node a hook kills makes nothing more of its current output
    /// real. While a hook runs, the entries its own actions record are shown to no hook.
    pub fn on_entry(&self, hook: EntryHook) {
        self.inner.hooks.lock().expect("hooks lock").push(hook);
        self.inner.hooked.store(true, Ordering::Relaxed);
    }

    /// Runs every hook once (see [`World::on_entry`]); a runner also calls it when something a
    /// hook waits for changed outside the trace, such as an answer the user got.
    pub fn run_hooks(&self) {
        let mut hooks = std::mem::take(&mut *self.inner.hooks.lock().expect("hooks lock"));
        if hooks.is_empty() {
            return;
        }
        self.inner.hooked.store(false, Ordering::Relaxed);
        hooks.retain_mut(|hook| !hook(self));
        let mut kept = self.inner.hooks.lock().expect("hooks lock");
        hooks.append(&mut kept);
        *kept = hooks;
        self.inner.hooked.store(!kept.is_empty(), Ordering::Relaxed);
    }

    /// Keeps a violation and puts its verdict in the trace (not hashed).
    fn push_violation(&self, violation: Violation) {
        let verdict = TraceEntry {
            time_us: violation.time_us,
            node: "-".into(),
            kind: TraceKind::Verdict(VerdictRecord {
                invariant: <&str>::from(violation.invariant).to_string(),
                nodes: violation.nodes.clone(),
                detail: violation.detail.clone(),
            }),
        };
        self.inner.trace.lock().expect("trace lock").record(verdict);
        self.inner
            .violations
            .lock()
            .expect("violations lock")
            .push(violation);
    }

    /// Lets the checker see the vault writes a node just made durable (commit indexes and logs:
    /// they are not in the trace).
    pub(crate) fn observe_writes(&self, label: &str, writes: &[joinsim::vault::VaultWrite]) {
        let now = self.now_us();
        let found: Vec<Violation> = {
            let mut checker = self.inner.checker.lock().expect("checker lock");
            writes
                .iter()
                .filter_map(|w| checker.observe_write(label, now, w))
                .collect()
        };
        for violation in found {
            self.push_violation(violation);
        }
    }

    /// The longest committed log prefix of any incarnation of `kind` the checker has seen.
    pub fn committed_prefix_len(&self, kind: joinsim::GroupKind) -> usize {
        self.inner
            .checker
            .lock()
            .expect("checker lock")
            .committed_prefix_len(kind)
    }

    /// When the cluster with this committed tag ceased to exist (every vault that held a replica
    /// of its CMG was wiped), in microseconds of simulated time; `None` while it may exist.
    pub fn cluster_gone_since(&self, tag: &joinsim::ClusterTag) -> Option<u64> {
        self.inner
            .checker
            .lock()
            .expect("checker lock")
            .cluster_gone_since(tag)
    }

    // --- Invariants ---

    /// Every invariant violation seen so far, in order.
    pub fn violations(&self) -> Vec<Violation> {
        self.inner
            .violations
            .lock()
            .expect("violations lock")
            .clone()
    }

    /// The first trace entry the reference model could not explain, if any
    /// (`crate::model_check`).
    pub fn divergence(&self) -> Option<Divergence> {
        self.inner
            .validator
            .lock()
            .expect("validator lock")
            .divergence()
            .cloned()
    }

    /// Records a violation found outside the trace checker (by a runner that sees user answers).
    pub fn report_violation(&self, invariant: Invariant, nodes: Vec<String>, detail: String) {
        self.push_violation(Violation {
            invariant,
            time_us: self.now_us(),
            nodes,
            detail,
        });
    }

    /// True once any invariant was violated.
    pub fn violated(&self) -> bool {
        !self
            .inner
            .violations
            .lock()
            .expect("violations lock")
            .is_empty()
    }

    /// Looks for the two-cluster hazard now (two committed tags whose CMG members can reach each
    /// other) and returns every hazard seen so far.
    pub fn check_hazards(&self) -> Vec<Hazard> {
        let now = self.now_ms();
        let cut = self.cut_links();
        let reachable = |a: &str, b: &str| {
            self.is_running(a)
                && self.is_running(b)
                && !cut.contains(&(a.to_string(), b.to_string()))
                && !cut.contains(&(b.to_string(), a.to_string()))
        };
        let running = |a: &str| self.is_running(a);
        let mut checker = self.inner.checker.lock().expect("checker lock");
        checker.look_for_hazards(now, running, reachable);
        checker.hazards().to_vec()
    }

    /// Compares every replica's committed log with every other replica's of the same group
    /// incarnation (from the vaults), and records a violation if two differ.
    pub fn check_committed_logs(&self) {
        // Every vault read in place, locked in label order (no other lock is taken meanwhile).
        let slots: Vec<(String, Arc<NodeSlot>)> = self
            .inner
            .slots
            .lock()
            .expect("slots lock")
            .iter()
            .map(|(l, s)| (l.clone(), s.clone()))
            .collect();
        let guards: Vec<_> = slots
            .iter()
            .map(|(l, s)| (l.as_str(), s.vault.lock().expect("vault lock")))
            .collect();
        let vaults: Vec<(&str, &Vault)> = guards.iter().map(|(l, g)| (*l, &**g)).collect();
        let agree = committed_logs_agree(&vaults);
        drop(vaults);
        drop(guards);
        if let Err(detail) = agree {
            self.push_violation(Violation {
                invariant: Invariant::AlwaysCommittedLogsAgree,
                time_us: self.now_us(),
                nodes: Vec::new(),
                detail,
            });
        }
    }

    /// A fresh message id: unique in the run, counted from 1 in the order of sends.
    pub(crate) fn next_message_id(&self) -> u64 {
        self.inner.next_message.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a moment of message `id`'s life at node `at` (the sender for `sent`, the
    /// receiver otherwise).
    pub(crate) fn message(
        &self,
        at: &str,
        id: u64,
        (from, to): (&str, &str),
        kind: MessageKind,
        fate: MessageFate,
    ) {
        // A message's moment goes to the trace only: the checkers, the model and the hooks
        // judge events and harness actions (`World::record`).
        let parts = MessageParts {
            id,
            from,
            to,
            kind,
            fate,
        };
        let now_us = self.now_us();
        self.inner
            .trace
            .lock()
            .expect("trace lock")
            .record_message(now_us, at, parts);
    }

    /// The trace hash so far.
    pub fn trace_hash(&self) -> u64 {
        self.inner.trace.lock().expect("trace lock").hash()
    }

    /// A copy of the trace entries so far.
    pub fn trace(&self) -> Vec<TraceEntry> {
        self.inner
            .trace
            .lock()
            .expect("trace lock")
            .entries()
            .to_vec()
    }

    /// Applies `f` to the trace entries without copying them.
    pub fn with_trace<R>(&self, f: impl FnOnce(&[TraceEntry]) -> R) -> R {
        f(self.inner.trace.lock().expect("trace lock").entries())
    }

    /// The trace keeps no entry from now on (all are still hashed, counted and judged):
    /// `Sim::summary_only`.
    pub(crate) fn keep_no_events(&self) {
        self.inner
            .trace
            .lock()
            .expect("trace lock")
            .keep_no_events();
    }

    /// Messages delivered so far, by kind.
    pub fn deliveries_by_kind(&self) -> BTreeMap<MessageKind, u64> {
        self.inner
            .trace
            .lock()
            .expect("trace lock")
            .deliveries_by_kind()
            .clone()
    }

    /// The run's trace at its end: (hash, kept entries, hash after each, deliveries, entries
    /// recorded).
    pub(crate) fn finish(&self) -> (u64, Vec<TraceEntry>, Vec<u64>, u64, u64) {
        let mut trace = self.inner.trace.lock().expect("trace lock");
        let hash = trace.hash();
        let deliveries = trace.deliveries();
        let recorded = trace.recorded();
        let (entries, hash_after) = trace.take_entries();
        (hash, entries, hash_after, deliveries, recorded)
    }
}
