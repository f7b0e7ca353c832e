//! The host of one cluster node inside madsim: the node's vault (which outlives the node), its
//! live state machine, its clock, and the task that ticks it. Messages reach it from the network
//! ([`crate::network`]) at the instant they arrive.
//!
//! Every input goes through the same path: lock the state machine, give it the input, unlock,
//! then make the output real — vault writes first, then trace events, then messages onto the
//! network. None of it takes simulated time. A node that stops while its output is being made
//! real (a step that kills it at one of its events) makes nothing more of that output real.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use joinsim::vault::Durability;
use joinsim::{Addr, Envelope, LaunchId, Node, NodeConfig, NodeView, Output, Vault, VaultWrite};

use crate::clock::NodeClock;
use crate::network::RuleAction;
use crate::storage::{StorageFault, LAZY_FLUSH_MS};
use crate::trace::{HarnessEvent, MessageFate, TraceKind};
use crate::world::World;

/// The port every node listens on.
pub const NODE_PORT: u16 = 7000;
/// The most messages a node buffers for hold rules, and the most that wait for a paused node;
/// beyond either, a message is dropped (and recorded so).
pub const MAX_HELD_MESSAGES: usize = 10_000;

/// What travels on the network: a protocol envelope with the message's trace id
/// ([`crate::trace::MessageRecord::id`]; 0 for raw bytes the trace does not follow, such as a
/// corrupt message the user sends).
#[derive(Clone, Debug)]
pub(crate) struct Packet {
    /// The message's id in the trace (0: not followed).
    pub id: u64,
    /// The sender's address.
    pub from: Addr,
    /// What is carried.
    pub payload: Payload,
}

/// What a packet carries. Nothing leaves the process, so a protocol envelope travels as a value
/// (shared by the copies a `duplicate` rule makes and by a user's resends) and is never encoded;
/// only raw bytes — the corrupt-message fault, `World::send_raw` — go through the wire decoder
/// at arrival, where a node meets them as it would meet a corrupt frame.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    /// A protocol envelope, as sent.
    Envelope(Arc<Envelope>),
    /// Raw wire bytes, decoded at arrival ([`Envelope::decode`]).
    Bytes(Arc<[u8]>),
}

impl Payload {
    /// The envelope, decoded from raw bytes if need be; `Err` for bytes that are no envelope
    /// (`from` names the sender in the error). Takes the envelope without a copy when this is
    /// its last holder.
    pub fn open(self, from: &Addr) -> joinsim::Result<Envelope> {
        match self {
            Payload::Envelope(envelope) => {
                Ok(Arc::try_unwrap(envelope).unwrap_or_else(|shared| (*shared).clone()))
            }
            Payload::Bytes(bytes) => Envelope::decode(&bytes, from),
        }
    }

    /// The kind of the message carried, if it is one.
    pub fn kind(&self) -> Option<joinsim::MessageKind> {
        match self {
            Payload::Envelope(envelope) => Some(envelope.msg.kind()),
            Payload::Bytes(bytes) => Envelope::decode(bytes, &"").ok().map(|e| e.msg.kind()),
        }
    }
}

/// Converts a protocol address to a socket address.
pub fn socket_of(addr: Addr) -> SocketAddr {
    let [a, b, c, d] = addr.ip;
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), addr.port)
}

/// Everything the world keeps about one node.
pub(crate) struct NodeSlot {
    /// Unique label (the node's name unless two nodes share a name).
    pub label: String,
    /// The node's configuration; its address changes when the node moves.
    pub config: Mutex<NodeConfig>,
    /// The labels of its seeds.
    pub seed_labels: Vec<String>,
    /// Durable: survives kill and restart (what is on disk; lazy writes wait in `lazy`).
    pub vault: Mutex<Vault>,
    /// Lazy writes not yet written back, with the world microsecond of each (`crate::storage`).
    pub lazy: Mutex<Vec<(u64, VaultWrite)>>,
    /// The bytes of a last record a torn write cut short, until the next start refuses them.
    pub torn_tail: Mutex<Option<Vec<u8>>>,
    /// A storage fault set to strike at the node's next output that writes.
    pub armed_fault: Mutex<Option<StorageFault>>,
    /// Volatile: the running state machine, `None` while the node is down.
    pub node: Mutex<Option<Node>>,
    /// Volatile: messages held by rules, with their trace ids.
    pub held: Mutex<Vec<(u64, Envelope)>>,
    /// Volatile: messages that arrived while the node was paused, in arrival order.
    pub inbox: Mutex<Vec<Packet>>,
    /// Simulated microsecond at which a pause ends (0: not paused).
    pub paused_until_us: AtomicU64,
    /// The madsim node, once created.
    pub madsim_id: Mutex<Option<madsim::task::NodeId>>,
    /// True from `start` to `kill`: the node runs (or is about to, its task not yet polled).
    pub up: AtomicBool,
    /// Counts starts: an output is made real only while the incarnation that made it runs.
    pub incarnation: AtomicU64,
    /// The machine's clock (skew and drift), which outlives the node.
    pub clock: Mutex<NodeClock>,
}

impl NodeSlot {
    pub fn view(&self) -> Option<NodeView> {
        self.node
            .lock()
            .expect("node lock")
            .as_ref()
            .map(|n| n.view())
    }

    /// Applies `f` to the node's state machine in place, without a view's copies; `None` when
    /// it has none (not started, or killed).
    pub fn with_node<R>(&self, f: impl FnOnce(&Node) -> R) -> Option<R> {
        self.node.lock().expect("node lock").as_ref().map(f)
    }

    pub fn is_running(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The node's address now.
    pub fn addr(&self) -> Addr {
        self.config.lock().expect("config lock").addr
    }

    /// True while incarnation `incarnation` runs.
    fn alive(&self, incarnation: u64) -> bool {
        self.is_running() && self.incarnation.load(Ordering::Relaxed) == incarnation
    }

    /// True while the node is paused at simulated microsecond `now_us`.
    pub fn is_paused(&self, now_us: u64) -> bool {
        now_us < self.paused_until_us.load(Ordering::Relaxed)
    }

    /// The node's own clock reading, in milliseconds, at the world's `now_us`.
    pub fn local_ms(&self, now_us: u64) -> u64 {
        self.clock.lock().expect("clock lock").local_ms(now_us)
    }
}

/// The task a madsim node runs at every (re)start: it starts the state machine from the vault,
/// then ticks it every `tick_ms` of the node's own clock.
///
/// The start is a plain function ([`start_node`]): what it builds (the node, its first output)
/// would otherwise be laid out inside the future, which madsim moves at every spawn and
/// restart (5,152 bytes before, 192 now; `tests::node_task_future_is_small`).
pub(crate) async fn run_node(world: World, slot: Arc<NodeSlot>) {
    let Some(incarnation) = start_node(&world, &slot) else {
        return;
    };
    tick_node(world, slot, incarnation).await;
}

/// Starts the state machine of `slot` from its vault and applies its first output: the
/// incarnation it runs as, or `None` when the vault did not load (`start_failed` recorded).
fn start_node(world: &World, slot: &Arc<NodeSlot>) -> Option<u64> {
    let incarnation = slot.incarnation.load(Ordering::Relaxed);
    let launch = LaunchId(madsim::rand::random::<u64>() | 1);
    let seed = madsim::rand::random::<u64>();
    let vault = recover_vault(world, slot);
    // Seeds are names resolved at each start (like host names): a seed that moved is found at
    // its new address by a node started after the move.
    let mut config = slot.config.lock().expect("config lock").clone();
    config.seeds = slot.seed_labels.iter().map(|l| world.addr(l)).collect();
    let started = Node::new(
        config,
        world.timing().clone(),
        launch,
        seed,
        &vault,
        slot.local_ms(world.now_us()),
    );
    let output = match started {
        Ok((node, output)) => {
            *slot.node.lock().expect("node lock") = Some(node);
            output
        }
        Err(e) => {
            slot.up.store(false, Ordering::Relaxed);
            world.record(
                &slot.label,
                TraceKind::Harness(HarnessEvent::StartFailed {
                    detail: e.to_string(),
                }),
            );
            return None;
        }
    };
    slot.held.lock().expect("held lock").clear();
    apply_output(world, slot, incarnation, output);
    Some(incarnation)
}

/// Ticks the started node of `slot` every `tick_ms` of its own clock (after a random phase)
/// until its incarnation ends.
async fn tick_node(world: World, slot: Arc<NodeSlot>, incarnation: u64) {
    let tick_ms = world.timing().tick_ms;
    let phase_ms = madsim::rand::random::<u64>() % tick_ms;
    sleep_local(&slot, phase_ms.max(1)).await;
    loop {
        sleep_local(&slot, tick_ms).await;
        resume_if_paused(&world, &slot, incarnation).await;
        if !slot.alive(incarnation) {
            return;
        }
        for (id, envelope) in release_held(&world, &slot) {
            let sender = world.label_of(envelope.from);
            let link = (&*sender, slot.label.as_str());
            let kind = envelope.msg.kind();
            world.message(&slot.label, id, link, kind, MessageFate::Released);
            let now_ms = slot.local_ms(world.now_us());
            let output = {
                let mut guard = slot.node.lock().expect("node lock");
                let Some(node) = guard.as_mut() else { return };
                node.receive(now_ms, envelope)
            };
            apply_output(&world, &slot, incarnation, output);
            if !slot.alive(incarnation) {
                return;
            }
        }
        write_back_old_lazy(&slot, world.now_us());
        let now_ms = slot.local_ms(world.now_us());
        let output = {
            let mut guard = slot.node.lock().expect("node lock");
            let Some(node) = guard.as_mut() else { return };
            node.tick(now_ms)
        };
        apply_output(&world, &slot, incarnation, output);
    }
}

/// The vault the node starts from: a torn last record is handed to [`Vault::recover`], which
/// refuses it (recorded as `vault_record_refused`); the vault on disk becomes the recovered one.
fn recover_vault(world: &World, slot: &NodeSlot) -> Vault {
    let tail = slot.torn_tail.lock().expect("tail lock").take();
    let mut vault = slot.vault.lock().expect("vault lock");
    if tail.is_none() {
        return vault.clone();
    }
    let recovered = vault.recover(tail.as_deref());
    *vault = recovered.vault.clone();
    drop(vault);
    if let Some(refused) = recovered.refused {
        world.record(
            &slot.label,
            TraceKind::Harness(HarnessEvent::VaultRecordRefused {
                detail: refused.to_string(),
            }),
        );
    }
    recovered.vault
}

/// Writes back every lazy write (in order) to the vault on disk.
pub(crate) fn write_back_lazy(slot: &NodeSlot) {
    let pending = std::mem::take(&mut *slot.lazy.lock().expect("lazy lock"));
    if pending.is_empty() {
        return;
    }
    let mut vault = slot.vault.lock().expect("vault lock");
    for (_, write) in &pending {
        apply_write(&slot.label, &mut vault, write);
    }
}

/// Writes back the lazy writes once the oldest is [`LAZY_FLUSH_MS`] old.
fn write_back_old_lazy(slot: &NodeSlot, now_us: u64) {
    let due = slot
        .lazy
        .lock()
        .expect("lazy lock")
        .first()
        .is_some_and(|(at_us, _)| now_us >= at_us + LAZY_FLUSH_MS * 1_000);
    if due {
        write_back_lazy(slot);
    }
}

fn apply_write(label: &str, vault: &mut Vault, write: &VaultWrite) {
    if let Err(e) = vault.apply(write) {
        panic!("node {label}: the state machine wrote an invalid vault change: {e}");
    }
}

/// Sleeps `ms` of the node's own clock.
async fn sleep_local(slot: &NodeSlot, ms: u64) {
    let us = slot.clock.lock().expect("clock lock").world_us_for(ms);
    madsim::time::sleep(Duration::from_micros(us.max(1))).await;
}

/// While the node is paused, waits for the pause to end; then gives it, in arrival order, what
/// arrived meanwhile.
async fn resume_if_paused(world: &World, slot: &Arc<NodeSlot>, incarnation: u64) {
    let mut paused = false;
    loop {
        let until_us = slot.paused_until_us.load(Ordering::Relaxed);
        let now_us = world.now_us();
        if now_us >= until_us {
            break;
        }
        paused = true;
        madsim::time::sleep(Duration::from_micros(until_us - now_us)).await;
    }
    if !paused || !slot.alive(incarnation) {
        return;
    }
    world.record(&slot.label, TraceKind::Harness(HarnessEvent::Resumed));
    let waiting = std::mem::take(&mut *slot.inbox.lock().expect("inbox lock"));
    for packet in waiting {
        if !slot.alive(incarnation) {
            return;
        }
        process(world, slot, incarnation, packet, None);
    }
}

/// A message arrives at the node (called by the network at the instant of arrival). Lost when
/// the node is down; kept for later while it is paused; otherwise handled at once.
pub(crate) fn arrive(world: &World, slot: &Arc<NodeSlot>, packet: Packet, sender: Arc<str>) {
    if !slot.is_running() || slot.node.lock().expect("node lock").is_none() {
        return;
    }
    let incarnation = slot.incarnation.load(Ordering::Relaxed);
    if slot.is_paused(world.now_us()) {
        let mut inbox = slot.inbox.lock().expect("inbox lock");
        if inbox.len() < MAX_HELD_MESSAGES {
            inbox.push(packet);
            return;
        }
        drop(inbox);
        if let Some(kind) = packet.payload.kind() {
            let link = (&*sender, slot.label.as_str());
            world.message(&slot.label, packet.id, link, kind, MessageFate::Dropped);
        }
        return;
    }
    process(world, slot, incarnation, packet, Some(sender));
}

/// Gives one arrived message to the running node: decodes it, applies the arrival rules (hold,
/// drop), and makes the node's output real. `sender` is the label of the packet's sender
/// ([`World::label_of`]) when the caller looked it up at this instant.
fn process(
    world: &World,
    slot: &NodeSlot,
    incarnation: u64,
    packet: Packet,
    sender: Option<Arc<str>>,
) {
    let now_ms = slot.local_ms(world.now_us());
    let output = match packet.payload.open(&packet.from) {
        Err(e) => {
            let mut guard = slot.node.lock().expect("node lock");
            let Some(node) = guard.as_mut() else { return };
            node.corrupt_message(packet.from, &e)
        }
        Ok(envelope) => {
            let sender = sender.unwrap_or_else(|| world.label_of(packet.from));
            let kind = envelope.msg.kind();
            let link = (&*sender, slot.label.as_str());
            let (id, at) = (packet.id, slot.label.as_str());
            match world.rule_action((&sender, &slot.label, kind), false) {
                Some(RuleAction::Hold) => {
                    let mut held = slot.held.lock().expect("held lock");
                    let fate = if held.len() < MAX_HELD_MESSAGES {
                        held.push((id, envelope));
                        MessageFate::Held
                    } else {
                        MessageFate::Dropped
                    };
                    drop(held);
                    world.message(at, id, link, kind, fate);
                    return;
                }
                Some(_) => {
                    world.message(at, id, link, kind, MessageFate::Dropped);
                    return;
                }
                None => {
                    world.message(at, id, link, kind, MessageFate::Delivered);
                    let mut guard = slot.node.lock().expect("node lock");
                    let Some(node) = guard.as_mut() else { return };
                    node.receive(now_ms, envelope)
                }
            }
        }
    };
    apply_output(world, slot, incarnation, output);
}

/// Makes `writes` durable the way the disk would: a synced write first writes back the lazy
/// ones before it, then itself; a lazy one waits in the page cache. The checker sees them all.
fn write(world: &World, slot: &NodeSlot, writes: &[VaultWrite]) {
    if writes.is_empty() {
        return;
    }
    for write in writes {
        match write.durability() {
            Durability::Lazy => slot
                .lazy
                .lock()
                .expect("lazy lock")
                .push((world.now_us(), write.clone())),
            Durability::Synced => {
                write_back_lazy(slot);
                apply_write(
                    &slot.label,
                    &mut slot.vault.lock().expect("vault lock"),
                    write,
                );
            }
        }
    }
    world.observe_writes(&slot.label, writes);
}

/// A write's variant name, for a fault's description.
fn write_name(write: &VaultWrite) -> String {
    let text = format!("{write:?}");
    text.split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Held messages that no hold rule matches any more, in arrival order, with their ids; the ones a
/// drop rule matches now are dropped (and recorded so).
fn release_held(world: &World, slot: &NodeSlot) -> Vec<(u64, Envelope)> {
    let mut held = slot.held.lock().expect("held lock");
    if held.is_empty() {
        return Vec::new();
    }
    let mut released = Vec::new();
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (id, envelope) in held.drain(..) {
        let sender = world.label_of(envelope.from);
        let kind = envelope.msg.kind();
        match world.rule_action((&sender, &slot.label, kind), false) {
            Some(RuleAction::Hold) => kept.push((id, envelope)),
            Some(_) => dropped.push((id, sender, kind)),
            None => released.push((id, envelope)),
        }
    }
    *held = kept;
    drop(held);
    for (id, sender, kind) in dropped {
        let link = (&*sender, slot.label.as_str());
        world.message(&slot.label, id, link, kind, MessageFate::Dropped);
    }
    released
}

/// Makes a node's output real: vault writes, then trace events, then messages (handed to the
/// network, all at this instant). Stops as soon as incarnation `incarnation` no longer runs (a
/// step acting at one of the events killed it): what follows is lost with the node.
pub(crate) fn apply_output(world: &World, slot: &NodeSlot, incarnation: u64, mut output: Output) {
    apply(world, slot, incarnation, &mut output);
    // The emptied buffers serve the node's next output (`Node::recycle`).
    if slot.alive(incarnation) {
        if let Some(node) = slot.node.lock().expect("node lock").as_mut() {
            node.recycle(output);
        }
    }
}

/// [`apply_output`]'s work: takes the events and messages out of `output` as it goes (what an
/// early return leaves is dropped with the buffers' contents).
fn apply(world: &World, slot: &NodeSlot, incarnation: u64, output: &mut Output) {
    if !slot.alive(incarnation) {
        return;
    }
    if !output.writes.is_empty() {
        let fault = slot.armed_fault.lock().expect("fault lock").take();
        let whole = match fault {
            // A torn write tears the output's first record: nothing of the output becomes
            // durable, so its events (the checkers' view of its decisions) never happened either,
            // and the node restarts from the vault before it.
            Some(StorageFault::TornWrite) => 0,
            _ => output.writes.len(),
        };
        write(world, slot, &output.writes[..whole]);
        if let Some(fault) = fault {
            let detail = match fault {
                StorageFault::TornWrite => {
                    let first = &output.writes[0];
                    let bytes = joinsim::vault::record::encode(first);
                    let cut =
                        1 + (madsim::rand::random::<u64>() % (bytes.len() as u64 - 1)) as usize;
                    *slot.torn_tail.lock().expect("tail lock") = Some(bytes[..cut].to_vec());
                    format!(
                        "the machine crashed {cut} of {} bytes into the record of {}, the first of {} write(s) of its output: nothing of that output is durable",
                        bytes.len(),
                        write_name(first),
                        output.writes.len()
                    )
                }
                _ => format!(
                    "the machine crashed after {} write(s), before the output's messages",
                    output.writes.len()
                ),
            };
            // After a whole write the node's decisions are durable: its events (what it
            // decided, which the checkers judge) happened; only its messages never leave. (A
            // torn write's events are not: its last record is refused at the next start.)
            if fault == StorageFault::CrashAfterWrite {
                for event in output.events.drain(..) {
                    world.record(&slot.label, TraceKind::Protocol(event));
                    if !slot.alive(incarnation) {
                        return;
                    }
                }
            }
            world.record(
                &slot.label,
                TraceKind::Harness(HarnessEvent::StorageFault {
                    fault: fault.name().to_string(),
                    detail,
                }),
            );
            world.crash(&slot.label);
            return;
        }
    }
    for event in output.events.drain(..) {
        world.record(&slot.label, TraceKind::Protocol(event));
        if !slot.alive(incarnation) {
            return;
        }
    }
    let from = slot.addr();
    // The sender's label as the network names it ([`World::label_of`]), looked up once.
    let sender = (!output.messages.is_empty()).then(|| world.label_of(from));
    for (to, envelope) in output.messages.drain(..) {
        let id = world.next_message_id();
        let receiver = world.label_of(to);
        let link = (slot.label.as_str(), &*receiver);
        let kind = envelope.msg.kind();
        world.message(&slot.label, id, link, kind, MessageFate::Sent);
        // What encoding the envelope used to check: a message no receiver would accept is a
        // fault of the state machine, not weather.
        assert!(
            envelope.wire_len().is_some(),
            "node {}: a {kind:?} envelope exceeds MAX_MESSAGE_BYTES",
            slot.label
        );
        let payload = Payload::Envelope(Arc::new(envelope));
        let sender = sender.clone().expect("looked up when there are messages");
        world.transmit_between(Packet { id, from, payload }, to, kind, (sender, receiver));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns, without calling it.
    fn future_size<A, B, F: std::future::Future>(_: impl Fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn node_task_future_is_small() {
        // madsim moves a node's task future at every spawn and restart: what the start builds
        // stays out of it (5,152 bytes when the start was part of the task, 192 after).
        let bytes = future_size(run_node);
        assert!(bytes <= 384, "the node task's future takes {bytes} bytes");
    }
}
