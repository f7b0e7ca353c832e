//! The node: one cluster member as a synchronous state machine.
//!
//! The host (the simulator) creates a [`Node`] from its configuration, a launch id, a seed and its
//! vault, then feeds it inputs — [`Node::tick`] every `tick_ms` and [`Node::receive`] for every
//! message — each with the current time. Every call returns an [`Output`]: vault writes (to make
//! durable first), messages to send, and events. The node never reads a clock, never draws from a
//! global RNG, and does no I/O.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::admin::AdminRequests;
use crate::cmg::CmgReplica;
use crate::config::{NodeConfig, Timing};
use crate::error::Rejection;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::init::{
    CancelTracker, CancelledInits, CancelsUnderWay, DeferredInitRequests, InitCoordinator,
};
use crate::join::Joiner;
use crate::message::{Envelope, Message};
use crate::metastorage::MsReplica;
use crate::raft_group::discard_logger;
use crate::rng::Rng;
use crate::topology::PhysicalTopology;
use crate::types::{Addr, GroupKind, InstanceId, LaunchId, NodeInfo, NodeName, SharedName};
use crate::vault::{LocalState, Vault, VaultWrite};

mod addresses;
mod admin;
mod cancel;
mod cmg;
mod cmg_validation;
mod fence;
mod groups;
mod handshake;
mod init;
mod join;
mod leave;
mod membership;
mod ms;
mod physical;
mod swim;
mod target;
mod view;

/// Bound on messages a node sends to itself within one input.
const MAX_LOOPBACK: usize = 1024;

/// What one input ([`Node::new`], [`Node::tick`], [`Node::receive`], [`Node::leave`],
/// [`Node::corrupt_message`]) produced: the node's whole effect on the world for that input.
///
/// **Contract** (as raft-rs's `Ready`): the host handles every `Output`, in the order the inputs
/// were given, and within one `Output`
///
/// 1. applies `writes` to the vault with [`Vault::apply`], in order, and makes them durable —
///    Raft needs its entries and hard state durable before any message that depends on them
///    leaves, and a restart rebuilds the node from the vault alone;
/// 2. then reports `events` (they describe steps already taken; the simulator stamps, logs and
///    hashes them into the trace in this order);
/// 3. then sends `messages`, in order, each to its address (none is addressed to the node
///    itself: the node delivers those internally within the same input).
///
/// The simulator (`sim/src/host.rs`) applies the writes, records the events, then sends. Dropping
/// an `Output` loses those effects, hence `#[must_use]`. Within each list the order is the order
/// the node produced them, and the trace hash depends on it.
#[must_use = "an Output holds vault writes, messages and events the host must apply"]
#[derive(Debug, Default)]
pub struct Output {
    /// Vault writes, in order. Apply them all before sending any message.
    pub writes: Vec<VaultWrite>,
    /// Messages to send: destination and envelope, in order.
    pub messages: Vec<(Addr, Envelope)>,
    /// What the node did, in order.
    pub events: Vec<Event>,
}

/// One cluster node.
pub struct Node {
    cfg: NodeConfig,
    /// `cfg.name`, shared with every Raft message the node sends.
    shared_name: SharedName,
    timing: Timing,
    launch: LaunchId,
    rng: Rng,
    now_ms: u64,
    halted: Option<Rejection>,
    /// When the node left on purpose (`Node::leave`): stopped for good, like `halted`.
    left_at_ms: Option<u64>,
    local: Option<Arc<LocalState>>,
    topo: PhysicalTopology,
    cmg: Option<CmgReplica>,
    ms: Option<MsReplica>,
    joiner: Joiner,
    /// Init commands this node runs as initiator.
    inits: InitCoordinator,
    /// Inits this node cancelled as initiator, still being told to others (mirrored in the vault).
    cancels: CancelTracker,
    /// Init ids this node cancelled on its side (in memory only), each with whether the CMG
    /// committed that cancel (`true`), or this node only destroyed a replica that could not have
    /// committed anything (`false`).
    cancelled: CancelledInits,
    /// Inits this node holds something of whose cancel reached it undecided and whose fate it
    /// does not know yet (in memory only): it judges no other init against them.
    under_way: CancelsUnderWay,
    /// User init requests held back while a cancel is under way here, judged when its fate is
    /// known (in memory only).
    deferred_inits: DeferredInitRequests,
    /// When a majority of its own cluster's CMG was last in its physical topology (or its start).
    own_cmg_seen_ms: u64,
    /// When this node last opened a replica.
    hosted_since_ms: u64,
    /// Admin commands in flight on this node (routed by `node/admin.rs`).
    admins: AdminRequests,
    addrs: BTreeMap<NodeName, Addr>,
    /// Where each peer of a hosted group listens, by (incarnation, name): learnt from the
    /// group's own traffic and from the cluster's word (`src/node/addresses.rs`, "a group's
    /// peers are where its own messages come from"); at most `MAX_PEER_ADDRS` entries.
    peer_addrs: BTreeMap<InstanceId, BTreeMap<NodeName, Addr>>,
    names_by_raft_id: BTreeMap<u64, NodeName>,
    loopback: VecDeque<Message>,
    /// Raft traffic for replicas not created yet (`src/early_raft.rs`).
    early_raft: crate::early_raft::EarlyRaft,
    last_empty_ask_ms: u64,
    logger: slog::Logger,
    out: Output,
}

impl Node {
    /// Starts a node from its vault. `launch` must be new at every start; `seed` decides every
    /// random choice the node makes.
    pub fn new(
        cfg: NodeConfig,
        timing: Timing,
        launch: LaunchId,
        seed: u64,
        vault: &Vault,
        now_ms: u64,
    ) -> Result<(Node, Output)> {
        cfg.validate()?;
        timing.validate()?;
        let mut node = Node {
            shared_name: SharedName::from(cfg.name.as_str()),
            cfg,
            timing,
            launch,
            rng: Rng::new(seed),
            now_ms,
            halted: None,
            left_at_ms: None,
            local: vault.local.clone().map(Arc::new),
            topo: PhysicalTopology::new(),
            cmg: None,
            ms: None,
            joiner: Joiner::new(now_ms),
            inits: InitCoordinator::new(),
            cancels: CancelTracker::new(),
            cancelled: CancelledInits::new(),
            under_way: CancelsUnderWay::new(),
            deferred_inits: DeferredInitRequests::new(),
            own_cmg_seen_ms: now_ms,
            hosted_since_ms: now_ms,
            admins: AdminRequests::new(),
            addrs: BTreeMap::new(),
            peer_addrs: BTreeMap::new(),
            names_by_raft_id: BTreeMap::new(),
            loopback: VecDeque::new(),
            early_raft: crate::early_raft::EarlyRaft::new(),
            last_empty_ask_ms: 0,
            logger: discard_logger(),
            out: Output::default(),
        };
        let own = (node.cfg.name.clone(), node.cfg.addr);
        node.learn_addr(&own.0, own.1);
        node.emit(Event::Started {
            launch,
            tag: node.local.as_ref().map(|l| l.config.tag.clone()),
            ms_version: node.local.as_ref().map(|l| l.config.ms_version),
        });
        for kind in [GroupKind::Cmg, GroupKind::Ms] {
            if let Some(record) = vault.group(kind) {
                node.open_group(kind, record, true)?;
            }
        }
        if let Some(cmg) = node.cmg.as_mut() {
            if vault.cmg_fenced == Some(cmg.group().instance()) {
                cmg.fence(0);
            }
        }
        for (init, tag) in &vault.cleared {
            node.cancelled.restore_cleared(*init, tag.clone());
        }
        // A cancel this node was telling when it stopped resumes: everyone who appears is told,
        // for at least two init timeouts (time for the physical topology to fill).
        let resume_until_ms = now_ms + 2 * node.timing.init_timeout_ms;
        for init in &vault.cancels {
            node.mark(crate::marks::Mark::CancelResumedAtStart);
            let own = std::iter::once(node.cfg.addr).collect();
            node.start_cancel(*init, own, resume_until_ms);
        }
        node.start_topology();
        node.drive();
        let output = std::mem::take(&mut node.out);
        Ok((node, output))
    }

    /// Advances the node's timers to `now_ms`.
    pub fn tick(&mut self, now_ms: u64) -> Output {
        self.now_ms = self.now_ms.max(now_ms);
        if !self.is_stopped() {
            self.topology_tick();
            if let Some(cmg) = self.cmg.as_mut().filter(|c| !c.is_fenced()) {
                cmg.group_mut().tick();
            }
            if let Some(ms) = self.ms.as_mut() {
                ms.group_mut().tick();
            }
            self.leader_tick();
            self.ms_tick();
            self.join_tick();
            self.init_tick();
            self.fence_tick();
            self.admin_tick();
            self.empty_replica_tick();
            self.drive();
        }
        self.resume_deferred_inits();
        std::mem::take(&mut self.out)
    }

    /// Handles one message.
    pub fn receive(&mut self, now_ms: u64, envelope: Envelope) -> Output {
        self.now_ms = self.now_ms.max(now_ms);
        let Envelope {
            from,
            from_launch,
            msg,
        } = envelope;
        if self.is_stopped() {
            // A stopped node still answers the user, so that no command waits forever.
            match msg {
                Message::InitRequest { request, params } => {
                    self.on_init_request(from, request, params)
                }
                Message::AdminRequest { request, command } => {
                    self.on_admin_request(from, request, command)
                }
                _ => {}
            }
        } else {
            self.heard_from(from, from_launch);
            self.dispatch(from, from_launch, msg);
            self.drive();
        }
        std::mem::take(&mut self.out)
    }

    /// Hands back an output the host has applied: its buffers, emptied here, serve the next
    /// call's output (their capacity, not their contents), so that a call does not allocate
    /// them anew (issue 13, "reuse output buffers between steps"). Optional: a host that drops
    /// its outputs loses nothing but the allocations. Ignored while the node holds output of
    /// its own (none is held between calls).
    pub fn recycle(&mut self, mut output: Output) {
        let Output {
            writes,
            messages,
            events,
        } = &self.out;
        if writes.is_empty() && messages.is_empty() && events.is_empty() {
            output.writes.clear();
            output.messages.clear();
            output.events.clear();
            self.out = output;
        }
    }

    /// The host's seed names resolve to these addresses now (a seed node moved to another host:
    /// docs/network.md, "Graceful leave and address change"). Seeds are probed every
    /// `seed_probe_ms` until the node is in a physical topology; the new list is used from the
    /// next probe. Produces no output.
    pub fn set_seeds(&mut self, seeds: Vec<Addr>) {
        self.cfg.seeds = seeds;
    }

    /// Reports bytes that did not decode as a message (the host decodes).
    pub fn corrupt_message(&mut self, from: Addr, error: &Error) -> Output {
        self.mark(crate::marks::Mark::CorruptMessage);
        self.emit(Event::CorruptMessage {
            from,
            detail: error.to_string(),
        });
        std::mem::take(&mut self.out)
    }

    fn dispatch(&mut self, from: Addr, from_launch: LaunchId, msg: Message) {
        self.note_join_reply(from, msg.kind());
        match msg {
            Message::Handshake { joiner } => self.on_handshake(from, joiner),
            Message::HandshakeAccepted { you, members } => self.on_handshake_accepted(you, members),
            Message::HandshakeRefused { rejection } => self.on_handshake_refused(from, rejection),
            Message::Announce { member } => self.on_announce(member),
            Message::Probe {
                sender,
                view,
                rumors,
                relay_for,
            } => self.on_probe(from, sender, view, rumors, relay_for),
            Message::ProbeAck {
                sender,
                members,
                rumors,
                relay_for,
            } => self.on_probe_ack(sender, members, rumors, relay_for),
            Message::ProbeRequest { target } => self.on_probe_request(from, target),
            Message::ProbeRelay { target, launch } => self.on_probe_relay(target, launch),
            Message::Leaving => self.on_leaving(from, from_launch),
            Message::InitRequest { request, params } => self.on_init_request(from, request, params),
            Message::InitResponse { .. } | Message::AdminResponse { .. } => {}
            Message::StartGroups { plan } => self.on_start_groups(from, plan),
            Message::StartGroupsAck { init, outcome } => {
                self.on_start_groups_ack(from, init, outcome)
            }
            Message::StatusQuery { init, answering } => self.on_status_query(from, init, answering),
            Message::StatusReply { init, status } => self.on_status_reply(from, init, status),
            Message::CancelInit { init, decided, .. } => self.on_cancel_init(from, init, decided),
            Message::CancelAck {
                init,
                members,
                decided,
                unanswered,
            } => self.on_cancel_ack(from, init, members, decided, unanswered),
            Message::CancelRefused { init, tag } => self.on_cancel_refused(init, tag),
            Message::CancelQuery { init } => self.on_cancel_query(from, init),
            Message::Raft {
                group,
                instance,
                from_name,
                payload,
            } => self.on_raft(from, group, instance, from_name, payload),
            Message::ReplicaEmpty {
                group,
                instance,
                name,
            } => self.on_replica_empty(from, group, instance, &name),
            Message::ClusterState(notice) => self.on_cluster_state(notice),
            Message::JoinRequest {
                info,
                stored,
                replica_of,
                attempt,
            } => self.on_join_request(from, info, stored, replica_of, attempt),
            Message::JoinResponse {
                launch,
                attempt,
                result,
            } => self.on_join_response(launch, attempt, result),
            Message::JoinReady { info, attempt } => self.on_join_ready(from, info, attempt),
            Message::JoinReadyResponse {
                launch,
                attempt,
                result,
            } => self.on_join_ready_response(launch, attempt, result),
            Message::NotLeader { leader } => self.on_not_leader(from, leader),
            Message::MsAddLearner { name, instance } => {
                self.on_ms_add_learner(from, name, instance)
            }
            Message::MsReconfigure {
                version,
                nodes,
                instance,
            } => self.on_ms_reconfigure(from, version, nodes, instance),
            Message::MsReconfigured { version, instance } => {
                self.on_ms_reconfigured(version, instance)
            }
            Message::AdminRequest { request, command } => {
                self.on_admin_request(from, request, command)
            }
            Message::AdminForward { request, command } => match command {
                crate::admin::AdminCommand::ReconfigureMs { nodes } => {
                    self.on_admin_forward(from, request, nodes)
                }
            },
            Message::AdminForwardResult { request, result } => {
                self.on_admin_forward_result(request, result)
            }
        }
    }

    // --- Output helpers ---

    pub(crate) fn emit(&mut self, event: Event) {
        self.out.events.push(event);
    }

    /// Reports that the node took the decision `mark` names (`src/marks.rs`): called beside
    /// the code that decides.
    pub(crate) fn mark(&mut self, mark: crate::marks::Mark) {
        self.out.events.push(Event::Mark(mark));
    }

    pub(crate) fn write(&mut self, write: VaultWrite) {
        self.out.writes.push(write);
    }

    pub(crate) fn send(&mut self, to: Addr, msg: Message) {
        if to == self.cfg.addr {
            assert!(
                self.loopback.len() < MAX_LOOPBACK,
                "node {} sent itself more than {MAX_LOOPBACK} messages in one step",
                self.cfg.name
            );
            self.loopback.push_back(msg);
            return;
        }
        let envelope = Envelope {
            from: self.cfg.addr,
            from_launch: self.launch,
            msg,
        };
        self.out.messages.push((to, envelope));
    }

    /// True when the node is in the logical topology by its own account (what
    /// [`NodeView::is_joined`](crate::view::NodeView::is_joined) says, read in place).
    pub fn is_joined(&self) -> bool {
        matches!(self.joiner.phase(), crate::join::JoinPhase::Joined { .. })
    }

    /// True when the node halted on a rejection ([`NodeView::halted`](crate::view::NodeView)
    /// is set), read in place.
    pub fn is_halted(&self) -> bool {
        self.halted.is_some()
    }

    /// How many members the node's physical topology has, itself included (the length of
    /// [`NodeView::physical`](crate::view::NodeView)), counted in place.
    pub fn physical_len(&self) -> usize {
        1 + self.topo.records().count()
    }

    /// This node's identity.
    pub fn info(&self) -> NodeInfo {
        self.cfg.info(self.launch)
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// This start's launch id.
    pub fn launch(&self) -> LaunchId {
        self.launch
    }

    /// The rejection the node halted on, if any ([`NodeView::halted`](crate::view::NodeView)),
    /// read in place.
    pub fn rejection(&self) -> Option<&Rejection> {
        self.halted.as_ref()
    }

    /// True when the node is in a physical topology (`NodeView::in_topology`), read in place.
    pub fn in_topology(&self) -> bool {
        self.topo.is_admitted()
    }

    /// The node's local state (`NodeView::local`), shared, not copied.
    pub fn local_state(&self) -> Option<Arc<LocalState>> {
        self.local.clone()
    }

    /// Its CMG replica's state (`NodeView::cmg_state`), shared, not copied.
    pub fn cmg_state(&self) -> Option<Arc<crate::cmg::CmgState>> {
        self.cmg.as_ref().map(|c| c.shared_state())
    }

    /// True when it hosts a replica of group `kind` (`NodeView::cmg` or `NodeView::ms` is set).
    pub fn has_replica(&self, kind: GroupKind) -> bool {
        match kind {
            GroupKind::Cmg => self.cmg.is_some(),
            GroupKind::Ms => self.ms.is_some(),
        }
    }

    /// True when its CMG replica leads (`NodeView::is_cmg_leader`), read in place.
    pub fn is_cmg_leader(&self) -> bool {
        self.cmg.as_ref().is_some_and(|c| c.group().is_leader())
    }

    /// Where its join stands (`NodeView::join`), read in place.
    pub fn join_phase(&self) -> &crate::join::JoinPhase {
        self.joiner.phase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_output_lends_its_buffers_and_none_of_its_contents() {
        let seed = Addr::new([10, 0, 0, 1], 7000);
        let cfg = NodeConfig {
            name: "b".into(),
            addr: Addr::new([10, 0, 0, 2], 7000),
            product: Default::default(),
            protocol: Default::default(),
            seeds: vec![seed],
            bug: None,
        };
        let (mut node, _) =
            Node::new(cfg, Timing::default(), LaunchId(3), 1, &Vault::empty(), 0).unwrap();
        let mut junk = Output::default();
        junk.messages.reserve(64);
        junk.messages.push((
            seed,
            Envelope {
                from: seed,
                from_launch: LaunchId(1),
                msg: Message::Leaving,
            },
        ));
        junk.events.push(Event::CorruptMessage {
            from: seed,
            detail: "junk".into(),
        });
        let capacity = junk.messages.capacity();
        node.recycle(junk);
        let out = node.tick(10_000);
        assert!(out.messages.capacity() >= capacity, "the buffer was lent");
        assert!(
            out.messages.iter().any(|(to, _)| *to == seed),
            "the node asked its seed: {:?}",
            out.messages
        );
        assert!(out
            .messages
            .iter()
            .all(|(_, e)| !matches!(e.msg, Message::Leaving)));
        assert!(!out
            .events
            .iter()
            .any(|e| matches!(e, Event::CorruptMessage { .. })));
    }
}
