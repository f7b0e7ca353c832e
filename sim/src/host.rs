//! The host of one cluster node inside madsim: the node's vault (which outlives the node), its
//! live state machine, and the two tasks that feed it — one receiving messages, one ticking.
//!
//! Every input goes through the same path: lock the state machine, give it the input, then make
//! the output real — vault writes first, then trace events, then messages onto madsim's network.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use joinsim::{Addr, Envelope, LaunchId, Node, NodeConfig, NodeView, Output, Vault};
use madsim::net::Endpoint;

use crate::network::RuleAction;
use crate::trace::{HarnessEvent, MessageFate, TraceKind};
use crate::world::World;

/// The port every node listens on.
pub const NODE_PORT: u16 = 7000;
/// The madsim message tag of the protocol.
pub const PROTOCOL_TAG: u64 = 0x1e77;
/// The most messages a node buffers for hold rules.
pub const MAX_HELD_MESSAGES: usize = 10_000;

/// What travels on madsim's network: a protocol envelope's bytes with the message's trace id
/// ([`crate::trace::MessageRecord::id`]; 0 for raw bytes the trace does not follow, such as a
/// corrupt message the user sends).
pub(crate) struct Packet {
    /// The message's id in the trace (0: not followed).
    pub id: u64,
    /// The envelope's wire bytes.
    pub bytes: Vec<u8>,
}

/// Converts a protocol address to a socket address.
pub fn socket_of(addr: Addr) -> SocketAddr {
    let [a, b, c, d] = addr.ip;
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), addr.port)
}

/// Converts a socket address to a protocol address.
pub fn addr_of(socket: SocketAddr) -> Addr {
    match socket.ip() {
        IpAddr::V4(v4) => Addr::new(v4.octets(), socket.port()),
        IpAddr::V6(_) => Addr::new([0, 0, 0, 0], socket.port()),
    }
}

/// Everything the world keeps about one node.
pub(crate) struct NodeSlot {
    /// Unique label (the node's name unless two nodes share a name).
    pub label: String,
    pub config: NodeConfig,
    /// The labels of its seeds.
    pub seed_labels: Vec<String>,
    /// Durable: survives kill and restart.
    pub vault: Mutex<Vault>,
    /// Volatile: the running state machine, `None` while the node is down.
    pub node: Mutex<Option<Node>>,
    /// Volatile: messages held by rules, with their trace ids.
    pub held: Mutex<Vec<(u64, Envelope)>>,
    /// The madsim node, once created.
    pub madsim_id: Mutex<Option<madsim::task::NodeId>>,
    /// True from `start` to `kill`: the node runs (or is about to, its task not yet polled).
    pub up: std::sync::atomic::AtomicBool,
}

impl NodeSlot {
    pub fn view(&self) -> Option<NodeView> {
        self.node
            .lock()
            .expect("node lock")
            .as_ref()
            .map(|n| n.view())
    }

    pub fn is_running(&self) -> bool {
        self.up.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The task a madsim node runs at every (re)start.
pub(crate) async fn run_node(world: World, slot: Arc<NodeSlot>) {
    let endpoint = match Endpoint::bind(socket_of(slot.config.addr)).await {
        Ok(ep) => Arc::new(ep),
        Err(e) => panic!("node {} cannot bind {}: {e}", slot.label, slot.config.addr),
    };
    let launch = LaunchId(madsim::rand::random::<u64>() | 1);
    let seed = madsim::rand::random::<u64>();
    let vault = slot.vault.lock().expect("vault lock").clone();
    let started = Node::new(
        slot.config.clone(),
        world.timing().clone(),
        launch,
        seed,
        &vault,
        world.now_ms(),
    );
    let output = match started {
        Ok((node, output)) => {
            *slot.node.lock().expect("node lock") = Some(node);
            output
        }
        Err(e) => {
            slot.up.store(false, std::sync::atomic::Ordering::Relaxed);
            world.record(
                &slot.label,
                TraceKind::Harness(HarnessEvent::StartFailed {
                    detail: e.to_string(),
                }),
            );
            return;
        }
    };
    slot.held.lock().expect("held lock").clear();
    apply_output(&world, &slot, &endpoint, output).await;
    let phase_ms = madsim::rand::random::<u64>() % world.timing().tick_ms;
    madsim::task::spawn(tick_loop(
        world.clone(),
        slot.clone(),
        endpoint.clone(),
        phase_ms,
    ));
    receive_loop(world, slot, endpoint).await;
}

async fn receive_loop(world: World, slot: Arc<NodeSlot>, endpoint: Arc<Endpoint>) {
    loop {
        let Ok((payload, from)) = endpoint.recv_from_raw(PROTOCOL_TAG).await else {
            return;
        };
        let Ok(packet) = payload.downcast::<Packet>() else {
            continue;
        };
        let from_addr = addr_of(from);
        let decoded = Envelope::decode(&packet.bytes, &from);
        let output = {
            let mut guard = slot.node.lock().expect("node lock");
            let Some(node) = guard.as_mut() else { return };
            match decoded {
                Err(e) => node.corrupt_message(from_addr, &e),
                Ok(envelope) => {
                    let sender = world.label_of(from_addr);
                    let kind = envelope.msg.kind();
                    let link = (sender.as_str(), slot.label.as_str());
                    let fate = match world.rule_action(&sender, &slot.label, kind) {
                        Some(RuleAction::Drop) => MessageFate::Dropped,
                        Some(RuleAction::Hold) => MessageFate::Held,
                        None => MessageFate::Delivered,
                    };
                    match fate {
                        MessageFate::Held => {
                            let mut held = slot.held.lock().expect("held lock");
                            if held.len() < MAX_HELD_MESSAGES {
                                held.push((packet.id, envelope));
                                drop(held);
                                world.message(&slot.label, packet.id, link, kind, fate);
                            } else {
                                drop(held);
                                let fate = MessageFate::Dropped;
                                world.message(&slot.label, packet.id, link, kind, fate);
                            }
                            continue;
                        }
                        MessageFate::Dropped => {
                            world.message(&slot.label, packet.id, link, kind, fate);
                            continue;
                        }
                        _ => {
                            world.message(&slot.label, packet.id, link, kind, fate);
                            node.receive(world.now_ms(), envelope)
                        }
                    }
                }
            }
        };
        apply_output(&world, &slot, &endpoint, output).await;
    }
}

async fn tick_loop(world: World, slot: Arc<NodeSlot>, endpoint: Arc<Endpoint>, phase_ms: u64) {
    let tick_ms = world.timing().tick_ms;
    madsim::time::sleep(Duration::from_millis(phase_ms.max(1))).await;
    loop {
        madsim::time::sleep(Duration::from_millis(tick_ms)).await;
        let released = release_held(&world, &slot);
        for (id, envelope) in released {
            let output = {
                let mut guard = slot.node.lock().expect("node lock");
                let Some(node) = guard.as_mut() else { return };
                let sender = world.label_of(envelope.from);
                let link = (sender.as_str(), slot.label.as_str());
                let kind = envelope.msg.kind();
                world.message(&slot.label, id, link, kind, MessageFate::Released);
                node.receive(world.now_ms(), envelope)
            };
            apply_output(&world, &slot, &endpoint, output).await;
        }
        let output = {
            let mut guard = slot.node.lock().expect("node lock");
            let Some(node) = guard.as_mut() else { return };
            node.tick(world.now_ms())
        };
        apply_output(&world, &slot, &endpoint, output).await;
    }
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
        match world.rule_action(&sender, &slot.label, envelope.msg.kind()) {
            Some(RuleAction::Hold) => kept.push((id, envelope)),
            Some(RuleAction::Drop) => dropped.push((id, sender, envelope.msg.kind())),
            None => released.push((id, envelope)),
        }
    }
    *held = kept;
    drop(held);
    for (id, sender, kind) in dropped {
        let link = (sender.as_str(), slot.label.as_str());
        world.message(&slot.label, id, link, kind, MessageFate::Dropped);
    }
    released
}

/// Makes a node's output real: vault writes, then trace events, then messages.
pub(crate) async fn apply_output(
    world: &World,
    slot: &NodeSlot,
    endpoint: &Endpoint,
    output: Output,
) {
    if !output.writes.is_empty() {
        let mut vault = slot.vault.lock().expect("vault lock");
        for write in &output.writes {
            if let Err(e) = vault.apply(write) {
                panic!(
                    "node {}: the state machine wrote an invalid vault change: {e}",
                    slot.label
                );
            }
        }
        drop(vault);
        world.observe_writes(&slot.label, &output.writes);
    }
    for event in output.events {
        world.record(&slot.label, TraceKind::Protocol(event));
    }
    for (to, envelope) in output.messages {
        let bytes = envelope.encode();
        let id = world.next_message_id();
        let receiver = world.label_of(to);
        let link = (slot.label.as_str(), receiver.as_str());
        world.message(
            &slot.label,
            id,
            link,
            envelope.msg.kind(),
            MessageFate::Sent,
        );
        // A send fails only when the network is down for this node; the protocol retries.
        let _ = endpoint
            .send_to_raw(socket_of(to), PROTOCOL_TAG, Box::new(Packet { id, bytes }))
            .await;
    }
}
