//! The simulated world: cluster nodes on madsim, their vaults, the network controls, the user, a
//! god's-eye view, and the trace.
//!
//! A [`World`] exists inside one madsim runtime; [`crate::Sim`] builds it and runs a test body
//! against it. All controls act at the current simulated instant.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use joinsim::{Addr, MessageKind, NodeConfig, NodeName, NodeView, PlantedBug, Timing, Vault};
use madsim::runtime::Handle;
use madsim::time::Instant;

use crate::checkers::{committed_logs_agree, Checker, Hazard, Invariant, NodeFacts, Violation};
use crate::host::{run_node, NodeSlot, NODE_PORT};
use crate::network::{MessageFilter, MessageRules, RuleAction, RuleId};
use crate::trace::{
    HarnessEvent, MessageFate, MessageRecord, Trace, TraceEntry, TraceKind, VerdictRecord,
};

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
    t0: Instant,
    timing: Timing,
    slots: Mutex<BTreeMap<String, Arc<NodeSlot>>>,
    labels_by_addr: Mutex<BTreeMap<Addr, String>>,
    rules: Mutex<MessageRules>,
    cut_links: Mutex<BTreeSet<(String, String)>>,
    trace: Mutex<Trace>,
    checker: Mutex<Checker>,
    violations: Mutex<Vec<Violation>>,
    user: madsim::task::NodeId,
    next_request: AtomicU64,
    /// The next message id ([`MessageRecord::id`]), from 1.
    next_message: AtomicU64,
    user_patience_ms: u64,
    bug: Option<PlantedBug>,
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
    ) -> World {
        let handle = Handle::current();
        let user = handle
            .create_node()
            .name("user")
            .ip(IpAddr::V4(Ipv4Addr::from(USER_IP)))
            .build()
            .id();
        let checker = Checker::with_timing(BTreeMap::new(), &timing);
        let world = World {
            inner: Arc::new(WorldInner {
                t0: Instant::now(),
                timing,
                slots: Mutex::new(BTreeMap::new()),
                labels_by_addr: Mutex::new(BTreeMap::new()),
                rules: Mutex::new(MessageRules::default()),
                cut_links: Mutex::new(BTreeSet::new()),
                trace: Mutex::new(Trace::new(keep_messages)),
                checker: Mutex::new(checker),
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
        world
    }

    fn create_slot(&self, spec: NodeSpec, addrs: &BTreeMap<String, Addr>) {
        let addr = addrs[&spec.label];
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
            config,
            seed_labels: spec.seeds.clone(),
            vault: Mutex::new(spec.vault),
            node: Mutex::new(None),
            held: Mutex::new(Vec::new()),
            madsim_id: Mutex::new(None),
            up: std::sync::atomic::AtomicBool::new(false),
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
            .insert(addr, spec.label.clone());
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
        Instant::now().duration_since(self.inner.t0).as_millis() as u64
    }

    /// Simulated microseconds since the run started.
    pub fn now_us(&self) -> u64 {
        Instant::now().duration_since(self.inner.t0).as_micros() as u64
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
            .map(|(a, l)| (l.clone(), *a))
            .collect();
        assert!(
            !addrs.contains_key(&spec.label),
            "node {} exists",
            spec.label
        );
        addrs.insert(spec.label.clone(), Addr::new(ip_of(addrs.len()), NODE_PORT));
        self.create_slot(spec, &addrs);
    }

    /// Starts a stopped node (a first start, or a restart from its vault).
    pub fn start(&self, label: &str) {
        let slot = self.slot(label);
        assert!(!slot.is_running(), "node {label} is already running");
        self.record(label, TraceKind::Harness(HarnessEvent::NodeStarted));
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
    /// stays.
    pub fn kill(&self, label: &str) {
        let slot = self.slot(label);
        Handle::current().kill(self.madsim_id(label));
        slot.up.store(false, Ordering::Relaxed);
        *slot.node.lock().expect("node lock") = None;
        slot.held.lock().expect("held lock").clear();
        self.record(label, TraceKind::Harness(HarnessEvent::NodeKilled));
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
        *self.slot(label).vault.lock().expect("vault lock") = Vault::empty();
        self.record(label, TraceKind::Harness(HarnessEvent::VaultWiped));
    }

    /// True while the node runs.
    pub fn is_running(&self, label: &str) -> bool {
        self.slot(label).is_running()
    }

    /// The node's current state, without touching it. `None` while it is down.
    pub fn view(&self, label: &str) -> Option<NodeView> {
        self.slot(label).view()
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

    /// A copy of the node's vault.
    pub fn vault(&self, label: &str) -> Vault {
        self.slot(label).vault.lock().expect("vault lock").clone()
    }

    /// The node's protocol name.
    pub fn name_of(&self, label: &str) -> NodeName {
        self.slot(label).config.name.clone()
    }

    /// The node's address.
    pub fn addr(&self, label: &str) -> Addr {
        self.slot(label).config.addr
    }

    // --- Network ---

    fn cut(&self, from: &str, to: &str) -> bool {
        let net = madsim::net::NetSim::current();
        let inserted = self
            .inner
            .cut_links
            .lock()
            .expect("links lock")
            .insert((from.to_string(), to.to_string()));
        if inserted {
            net.clog_link(self.madsim_id(from), self.madsim_id(to));
        }
        inserted
    }

    /// Splits the nodes into groups that cannot reach each other (both ways). Nodes in no group
    /// keep their links.
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
        let net = madsim::net::NetSim::current();
        let links = std::mem::take(&mut *self.inner.cut_links.lock().expect("links lock"));
        for (from, to) in links {
            net.unclog_link(self.madsim_id(&from), self.madsim_id(&to));
        }
        self.record("-", TraceKind::Harness(HarnessEvent::Healed));
    }

    /// Links currently cut, as (from, to) labels.
    pub fn cut_links(&self) -> BTreeSet<(String, String)> {
        self.inner.cut_links.lock().expect("links lock").clone()
    }

    /// Sets the latency range and loss rate of every message.
    pub fn set_network(&self, latency_min_ms: u64, latency_max_ms: u64, loss: f64) {
        assert!(
            latency_min_ms <= latency_max_ms,
            "latency range is reversed"
        );
        assert!((0.0..=1.0).contains(&loss), "loss must be within 0..=1");
        madsim::net::NetSim::current().update_config(|c| {
            c.send_latency = Duration::from_millis(latency_min_ms)
                ..Duration::from_millis(latency_max_ms.max(latency_min_ms + 1));
            c.packet_loss_rate = loss;
        });
        self.record(
            "-",
            TraceKind::Harness(HarnessEvent::NetworkChanged {
                latency_min_ms,
                latency_max_ms,
                loss_ppm: (loss * 1e6) as u64,
            }),
        );
    }

    fn add_rule(&self, filter: MessageFilter, action: RuleAction, for_ms: Option<u64>) -> RuleId {
        let until = for_ms.map(|ms| self.now_ms() + ms);
        let description = format!(
            "{action:?} {filter}{}",
            for_ms.map(|ms| format!(" for {ms} ms")).unwrap_or_default()
        );
        let id = self
            .inner
            .rules
            .lock()
            .expect("rules lock")
            .add(filter, action, until);
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
        self.add_rule(filter, RuleAction::Hold, for_ms)
    }

    /// Drops matching messages, for `for_ms` or until [`World::release`].
    pub fn drop_messages(&self, filter: MessageFilter, for_ms: Option<u64>) -> RuleId {
        self.add_rule(filter, RuleAction::Drop, for_ms)
    }

    /// Ends a hold or drop rule. Held messages are delivered at their receiver's next tick.
    pub fn release(&self, rule: RuleId) {
        if self.inner.rules.lock().expect("rules lock").remove(rule) {
            self.record(
                "-",
                TraceKind::Harness(HarnessEvent::RuleRemoved { rule: rule.0 }),
            );
        }
    }

    /// Ends every hold and drop rule.
    pub fn release_all(&self) {
        let ended = self.inner.rules.lock().expect("rules lock").take_all();
        for id in ended {
            self.record(
                "-",
                TraceKind::Harness(HarnessEvent::RuleRemoved { rule: id.0 }),
            );
        }
    }

    pub(crate) fn rule_action(
        &self,
        from: &str,
        to: &str,
        kind: MessageKind,
    ) -> Option<RuleAction> {
        let rules = self.inner.rules.lock().expect("rules lock");
        if rules.is_empty() {
            return None;
        }
        rules.action(from, to, kind, self.now_ms())
    }

    pub(crate) fn label_of(&self, addr: Addr) -> String {
        if addr.ip == USER_IP {
            return "user".into();
        }
        self.inner
            .labels_by_addr
            .lock()
            .expect("labels lock")
            .get(&Addr::new(addr.ip, NODE_PORT))
            .cloned()
            .unwrap_or_else(|| addr.to_string())
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
        for slot in self.inner.slots.lock().expect("slots lock").values() {
            slot.up.store(false, Ordering::Relaxed);
            *slot.node.lock().expect("node lock") = None;
            slot.held.lock().expect("held lock").clear();
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
        self.inner.trace.lock().expect("trace lock").record(entry);
        if let Some(violation) = violation {
            self.push_violation(violation);
        }
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
        let vaults: BTreeMap<String, Vault> = self
            .labels()
            .into_iter()
            .map(|l| (l.clone(), self.vault(&l)))
            .collect();
        if let Err(detail) = committed_logs_agree(&vaults) {
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
        self.record(
            at,
            TraceKind::Message(MessageRecord {
                id,
                from: from.to_string(),
                to: to.to_string(),
                kind,
                fate,
            }),
        );
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
