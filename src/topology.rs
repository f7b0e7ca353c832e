//! Step 1: the physical topology — seed-based discovery, pre-init validation in the handshake,
//! announcement to members, failure detection by probes, restarts replacing old entries.
//!
//! Rules as implemented (the decisions docs/spec.md leaves open are in `docs/protocol.md`):
//! - A node with no other seed admits itself. Otherwise it sends a handshake to a random seed and
//!   tries another one every `handshake_retry_ms` until it is admitted or refused.
//! - Only an admitted node admits others. An unadmitted node contacted by an unadmitted node with
//!   a higher address admits itself first (so nodes that seed each other cannot wait forever).
//! - Pre-init validation at the contacted node: equal protocol versions; equal product
//!   major.minor; if both are initialized, equal tags; if the contacted node is empty, the joiner's
//!   tag must be one its members already hold, when any member holds one ("first admitted wins").
//! - The admitting node sends the new member's record to every member. Records carry the time and
//!   node of admission, so all nodes order conflicting admissions the same way: an empty node that
//!   learns of members that empty nodes admitted with different tags, while no cluster has been
//!   initialized among its members, evicts every such member whose tag differs from the
//!   earliest-admitted one — except members it has known as empty (a cluster formed among its
//!   members initialized them).
//! - A member not heard from for `probe_interval_ms` is probed; one not heard from for
//!   `failure_timeout_ms` is removed. Probe answers carry the responder's view (anti-entropy).
//!   Removed (address, launch) pairs are remembered so that gossip does not bring them back; a
//!   message from the member itself does.
//! - Every `rejoin_probe_ms` a node also probes its seeds and the removed members that are not in
//!   its view, so that the two sides of a healed partition find each other again.
//! - A record with a newer admission for the same address (a restart: new launch id) replaces the
//!   old entry.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::bugs::PlantedBug;
use crate::error::{Rejection, RejectionReason, RejectionStage};
use crate::event::{Event, RemovalCause};
use crate::init::{HeldCluster, InitCommand};
use crate::message::Message;
use crate::node::Node;
use crate::types::{Addr, ClusterTag, LaunchId, NodeInfo, NodeName};

/// How many removed (address, launch) pairs a node remembers.
const MAX_TOMBSTONES: usize = 1024;
/// How many names of empty members a node remembers.
const MAX_SEEN_EMPTY: usize = 4096;
/// How many absent seeds and removed members a node probes per round.
const MAX_REJOIN_PROBES: usize = 16;

/// What a node says about itself in a handshake or probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Name, address, launch, versions.
    pub info: NodeInfo,
    /// Its cluster tag, if it is initialized.
    pub tag: Option<ClusterTag>,
    /// Its Meta Storage version, if it is initialized.
    pub ms_version: Option<u64>,
    /// The init command its cluster was created with, if it is initialized.
    pub init: Option<InitCommand>,
}

/// A member of the physical topology: its identity and how it was admitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// The member as last heard of.
    pub identity: Identity,
    /// The tag it presented when it was admitted (fixed for this launch).
    pub admitted_tag: Option<ClusterTag>,
    /// When it was admitted (milliseconds of the admitting node's clock).
    pub admitted_at_ms: u64,
    /// Who admitted it (itself, for a node that formed its own topology).
    pub admitted_by: NodeName,
    /// The admitter's tag at admission (`None`: an empty node admitted it).
    pub admitter_tag: Option<ClusterTag>,
}

impl MemberRecord {
    /// An initialized node that an empty node let in: the only kind of member that can conflict
    /// with another one (the race "initialized nodes of different clusters entering an empty
    /// cluster"). A node that admitted itself, or that an initialized node admitted (with the
    /// same tag, by pre-init), is not such a member.
    fn entered_empty_topology(&self) -> bool {
        self.admitted_tag.is_some()
            && self.admitter_tag.is_none()
            && self.admitted_by != self.identity.info.name
    }

    fn admission_key(&self) -> (u64, &str) {
        (self.admitted_at_ms, self.identity.info.name.as_str())
    }

    fn addr(&self) -> Addr {
        self.identity.info.addr
    }

    fn launch(&self) -> LaunchId {
        self.identity.info.launch
    }
}

/// One member in a node's view.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub record: MemberRecord,
    pub last_heard_ms: u64,
    pub last_probe_ms: u64,
}

/// Whether the node itself has entered the physical topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Waiting for an answer from `target`, sent at `sent_ms`.
    Handshaking { target: Addr, sent_ms: u64 },
    /// Admitted.
    Admitted,
}

/// A node's view of the physical topology.
#[derive(Clone, Debug)]
pub(crate) struct PhysicalTopology {
    pub entry: Entry,
    /// The node's own admission record, once admitted.
    pub me: Option<MemberRecord>,
    /// Other members, by address.
    pub members: BTreeMap<Addr, Member>,
    tombstones: BTreeSet<(Addr, LaunchId)>,
    tombstone_order: VecDeque<(Addr, LaunchId)>,
    last_rejoin_probe_ms: u64,
    /// Names this node has known as empty members: when such a name comes back with a tag, it is
    /// a member of this topology that a cluster formed among us initialized, not an intruder.
    seen_empty: BTreeSet<NodeName>,
}

impl PhysicalTopology {
    pub fn new() -> PhysicalTopology {
        PhysicalTopology {
            entry: Entry::Admitted,
            me: None,
            members: BTreeMap::new(),
            tombstones: BTreeSet::new(),
            tombstone_order: VecDeque::new(),
            last_rejoin_probe_ms: 0,
            seen_empty: BTreeSet::new(),
        }
    }

    fn bury(&mut self, addr: Addr, launch: LaunchId) {
        if self.tombstones.insert((addr, launch)) {
            self.tombstone_order.push_back((addr, launch));
            if self.tombstone_order.len() > MAX_TOMBSTONES {
                if let Some(old) = self.tombstone_order.pop_front() {
                    self.tombstones.remove(&old);
                }
            }
        }
    }

    /// True when this (address, launch) was removed from the view.
    pub fn is_buried(&self, addr: Addr, launch: LaunchId) -> bool {
        self.tombstones.contains(&(addr, launch))
    }
}

impl Node {
    /// This node's identity as it stands now.
    pub(crate) fn identity(&self) -> Identity {
        Identity {
            info: self.info(),
            tag: self.local.as_ref().map(|l| l.config.tag.clone()),
            ms_version: self.local.as_ref().map(|l| l.config.ms_version),
            init: self.local.as_ref().map(|l| l.init.clone()),
        }
    }

    /// This node's record, with its identity refreshed.
    fn my_record(&self) -> Option<MemberRecord> {
        self.topo.me.clone().map(|mut me| {
            me.identity = self.identity();
            me
        })
    }

    /// All admitted records this node knows, itself included.
    fn known_records(&self) -> Vec<MemberRecord> {
        let mut all: Vec<MemberRecord> = self.my_record().into_iter().collect();
        all.extend(self.topo.members.values().map(|m| m.record.clone()));
        all
    }

    pub(crate) fn start_topology(&mut self) {
        let own = self.cfg.addr;
        if self.cfg.seeds.iter().all(|s| *s == own) {
            self.admit_self();
        } else {
            self.send_handshake();
        }
    }

    fn admit_self(&mut self) {
        let record = MemberRecord {
            identity: self.identity(),
            admitted_tag: self.local.as_ref().map(|l| l.config.tag.clone()),
            admitted_at_ms: self.now_ms,
            admitted_by: self.cfg.name.clone(),
            admitter_tag: self.local.as_ref().map(|l| l.config.tag.clone()),
        };
        self.topo.me = Some(record);
        self.topo.entry = Entry::Admitted;
        self.emit(Event::EnteredTopology {
            via: self.cfg.name.clone(),
        });
    }

    fn send_handshake(&mut self) {
        let own = self.cfg.addr;
        let seeds: Vec<Addr> = self
            .cfg
            .seeds
            .iter()
            .copied()
            .filter(|s| *s != own)
            .collect();
        let Some(target) = self.rng.pick(&seeds).copied() else {
            self.admit_self();
            return;
        };
        self.topo.entry = Entry::Handshaking {
            target,
            sent_ms: self.now_ms,
        };
        self.emit(Event::HandshakeSent { to: target });
        let joiner = self.identity();
        self.send(target, Message::Handshake { joiner });
    }

    pub(crate) fn topology_tick(&mut self) {
        if let Entry::Handshaking { sent_ms, .. } = self.topo.entry {
            if self.now_ms >= sent_ms + self.timing.handshake_retry_ms {
                self.send_handshake();
            }
        }
        let now = self.now_ms;
        let mut dead = Vec::new();
        let mut probe = Vec::new();
        for (addr, member) in &self.topo.members {
            let silent_ms = now.saturating_sub(member.last_heard_ms);
            if silent_ms >= self.timing.failure_timeout_ms {
                dead.push(*addr);
            } else {
                // A silent member is probed; every member is probed at least every
                // `rejoin_probe_ms` even when other traffic (Raft) keeps it heard, so that views
                // keep being exchanged (anti-entropy) and the member learns of this node.
                let since_probe_ms = now.saturating_sub(member.last_probe_ms);
                if (silent_ms >= self.timing.probe_interval_ms
                    && since_probe_ms >= self.timing.probe_interval_ms)
                    || since_probe_ms >= self.timing.rejoin_probe_ms
                {
                    probe.push(*addr);
                }
            }
        }
        for addr in dead {
            self.remove_member(addr, RemovalCause::Dead);
        }
        if now >= self.topo.last_rejoin_probe_ms + self.timing.rejoin_probe_ms {
            self.topo.last_rejoin_probe_ms = now;
            probe.extend(self.rejoin_targets());
        }
        if let Some(sender) = self.my_record() {
            for addr in probe {
                if let Some(m) = self.topo.members.get_mut(&addr) {
                    m.last_probe_ms = now;
                }
                self.send(
                    addr,
                    Message::Probe {
                        sender: sender.clone(),
                    },
                );
            }
        }
    }

    /// Seeds, removed members and the known addresses of this node's own CMG voters that are
    /// not in the view (at most `MAX_REJOIN_PROBES`): probing them is how the two sides of a
    /// healed partition, a restarted member, or voters of one cluster that each formed a
    /// topology of their own after their seeds refused them, are found again.
    fn rejoin_targets(&self) -> Vec<Addr> {
        let own = self.cfg.addr;
        let mut targets: BTreeSet<Addr> = self.cfg.seeds.iter().copied().collect();
        if let Some(local) = &self.local {
            targets.extend(
                local
                    .config
                    .cmg_nodes
                    .iter()
                    .filter_map(|n| self.addr_of(n)),
            );
        }
        targets.extend(self.topo.tombstone_order.iter().rev().map(|(a, _)| *a));
        targets
            .into_iter()
            .filter(|a| *a != own && !self.topo.members.contains_key(a))
            .take(MAX_REJOIN_PROBES)
            .collect()
    }

    /// Any message from a member proves it is alive.
    pub(crate) fn heard_from(&mut self, addr: Addr, launch: LaunchId) {
        if let Some(m) = self.topo.members.get_mut(&addr) {
            if m.record.launch() == launch {
                m.last_heard_ms = self.now_ms;
            }
        }
    }

    pub(crate) fn on_handshake(&mut self, from: Addr, joiner: Identity) {
        if self.topo.me.is_none() {
            if self.cfg.addr < joiner.info.addr {
                self.admit_self();
            } else {
                return;
            }
        }
        // A member of a cluster whose init this node saw cancelled (decided) is told so rather
        // than refused: it clears the cancelled cluster and hands-shakes again as an empty node
        // (docs/spec.md §5, "a cancelled member is told, whoever it meets").
        let cancelled = joiner.tag.as_ref().and_then(|t| {
            self.cancelled
                .iter()
                .find(|(_, c)| c.decided && c.tag.as_ref() == Some(t))
                .map(|(init, _)| *init)
        });
        // Planted bug: the member is refused like any other, not told.
        let cancelled =
            cancelled.filter(|_| self.cfg.bug != Some(PlantedBug::CancelledMemberHalts));
        if let Some(init) = cancelled {
            let reason = "cancelled: met at pre-init by a node that cleared it";
            self.tell_decided_cancel(from, init, reason);
            return;
        }
        if let Err(reason) = self.pre_init_check(&joiner) {
            self.emit(Event::PreInitRefused {
                joiner: joiner.info.name.clone(),
                launch: joiner.info.launch,
                reason: reason.clone(),
            });
            let rejection = Rejection {
                stage: RejectionStage::PreInit,
                by: self.cfg.name.clone(),
                reason,
            };
            self.send(from, Message::HandshakeRefused { rejection });
            return;
        }
        let record = MemberRecord {
            admitted_tag: joiner.tag.clone(),
            identity: joiner,
            admitted_at_ms: self.now_ms,
            admitted_by: self.cfg.name.clone(),
            admitter_tag: self.local.as_ref().map(|l| l.config.tag.clone()),
        };
        self.emit(Event::Admitted {
            member: record.identity.info.name.clone(),
            launch: record.launch(),
            tag: record.admitted_tag.clone(),
        });
        let members = self.known_records();
        self.merge_record(record.clone(), true);
        for addr in self.topo.members.keys().copied().collect::<Vec<_>>() {
            if addr != record.addr() {
                self.send(
                    addr,
                    Message::Announce {
                        member: record.clone(),
                    },
                );
            }
        }
        self.send(
            from,
            Message::HandshakeAccepted {
                you: record,
                members,
            },
        );
    }

    /// The part of pre-init validation that holds on every path by which a member enters this
    /// node's view (handshake, announce, probe, probe ack, a merge after a heal): equal protocol
    /// versions and compatible product versions. **Decision (pre-init on every path):** a
    /// member met through gossip or a probe, not a handshake (say, a node that formed its own
    /// topology and is found by a rejoin probe), is checked the same way; tags are left to the
    /// rules of the handshake and the crossing-admissions eviction, and then to the CMG.
    fn entry_check(&self, joiner: &Identity) -> Result<(), RejectionReason> {
        if joiner.info.protocol != self.cfg.protocol {
            return Err(RejectionReason::ProtocolMismatch {
                joiner: joiner.info.protocol,
                cluster: self.cfg.protocol,
            });
        }
        if !joiner.info.product.compatible_with(&self.cfg.product) {
            return Err(RejectionReason::ProductMismatch {
                joiner: joiner.info.product,
                cluster: self.cfg.product,
            });
        }
        Ok(())
    }

    /// Pre-init validation of a joiner against what this node knows locally.
    fn pre_init_check(&self, joiner: &Identity) -> Result<(), RejectionReason> {
        self.entry_check(joiner)?;
        let Some(joiner_tag) = &joiner.tag else {
            return Ok(());
        };
        if self.cfg.bug == Some(crate::bugs::PlantedBug::SkipPreInitTagCheck) {
            return Ok(());
        }
        if let Some(local) = &self.local {
            if &local.config.tag != joiner_tag {
                return Err(RejectionReason::TagMismatch {
                    joiner: joiner_tag.clone(),
                    cluster: local.config.tag.clone(),
                });
            }
            return Ok(());
        }
        // Empty contacted node: a tag already present among members wins — unless the joiner is a
        // member this node knew as empty (initialized since by a cluster formed among us).
        if self.topo.seen_empty.contains(&joiner.info.name) {
            return Ok(());
        }
        let mut tagged: Vec<&MemberRecord> = self
            .topo
            .members
            .values()
            .map(|m| &m.record)
            .filter(|r| r.identity.tag.is_some() && r.addr() != joiner.info.addr)
            .collect();
        if tagged.is_empty()
            || tagged
                .iter()
                .any(|r| r.identity.tag.as_ref() == Some(joiner_tag))
        {
            return Ok(());
        }
        tagged.sort_by(|a, b| a.admission_key().cmp(&b.admission_key()));
        let first = tagged[0];
        Err(RejectionReason::ConflictingTag {
            joiner: joiner_tag.clone(),
            member: first.identity.info.name.clone(),
            member_tag: first
                .identity
                .tag
                .clone()
                .unwrap_or_else(|| joiner_tag.clone()),
        })
    }

    pub(crate) fn on_handshake_accepted(&mut self, you: MemberRecord, members: Vec<MemberRecord>) {
        if self.topo.me.is_some() || you.identity.info.launch != self.launch {
            return;
        }
        let via = you.admitted_by.clone();
        self.topo.me = Some(you);
        self.topo.entry = Entry::Admitted;
        self.emit(Event::EnteredTopology { via });
        for record in members {
            self.merge_record(record, true);
        }
        self.after_membership_change();
    }

    pub(crate) fn on_handshake_refused(&mut self, from: Addr, rejection: Rejection) {
        // A refusal counts while handshaking, as an eviction by a member of the view, or — for
        // a version mismatch, a fact about the two nodes — from any node that met this one
        // outside a handshake (a probe, gossip after a heal) and found it the newcomer.
        let from_member = self.topo.members.contains_key(&from);
        let handshaking =
            matches!(self.topo.entry, Entry::Handshaking { target, .. } if target == from);
        let by_version = matches!(
            rejection.reason,
            RejectionReason::ProtocolMismatch { .. } | RejectionReason::ProductMismatch { .. }
        );
        if !(handshaking || from_member || by_version || self.topo.me.is_none()) {
            return;
        }
        // Decision (a refusal never halts a live cluster, docs/spec.md §5): "first admitted wins"
        // decides between newcomers; a node that is already a member of a live cluster of its
        // own is not a newcomer, so a refusal by tag leaves it running. The refuser keeps it out
        // of its view; the CMG decides what happens to the refuser.
        let refused_tag = match &rejection.reason {
            RejectionReason::TagMismatch { joiner, .. }
            | RejectionReason::ConflictingTag { joiner, .. } => Some(joiner),
            _ => None,
        };
        // A refusal of a tag this node no longer holds (its vault was cleared by a cancel since)
        // is stale: it says nothing about the node as it is now.
        let stale = refused_tag.is_some_and(|t| self.local.as_ref().map(|l| &l.config.tag) != Some(t))
            // Planted bug: a refusal of a tag the node no longer holds counts.
            && self.cfg.bug != Some(PlantedBug::CancelledMemberHalts);
        // A CMG voter whose replica committed its cluster is not a newcomer either: "first
        // admitted wins" (`ConflictingTag`, from an empty node) does not halt it, however long
        // the rest of its CMG is away. A `TagMismatch` (the refuser holds another cluster) still
        // halts it once it is not live: it was pointed at another cluster's nodes.
        let voter = matches!(rejection.reason, RejectionReason::ConflictingTag { .. })
            && self.holds_committed_cluster();
        // Planted bug: a member of a live cluster halts like a newcomer.
        let live = self.cfg.bug != Some(PlantedBug::RefusalHaltsMember)
            && (self.member_of_live_cluster() || voter);
        if refused_tag.is_some() && (stale || live) {
            self.emit(Event::RefusalIgnored {
                by: rejection.by,
                reason: rejection.reason,
            });
            // A live member refused at its handshake forms its own topology, as a node with no
            // reachable seed does: its own view is where it rejoins its LT (a restarted CMG
            // leader must replace its old launch there), and its rejoin probes keep looking
            // for the rest of its cluster (found by the fuzzer, seed 4170). A node that is live
            // only by the grace after its start keeps hand-shaking: the grace is for a cancel
            // to reach it, and a member of another cluster still halts when it runs out.
            if live
                && !stale
                && self.topo.me.is_none()
                && (self.member_of_established_cluster() || voter)
            {
                self.admit_self();
                self.after_membership_change();
            }
            return;
        }
        self.halt(rejection);
    }

    pub(crate) fn on_announce(&mut self, member: MemberRecord) {
        self.merge_record(member, false);
        self.after_membership_change();
    }

    pub(crate) fn on_probe(&mut self, from: Addr, sender: MemberRecord) {
        let Some(me) = self.my_record() else {
            return;
        };
        self.merge_record(sender, true);
        let members = self.known_records();
        self.send(
            from,
            Message::ProbeAck {
                sender: me,
                members,
            },
        );
        self.after_membership_change();
    }

    pub(crate) fn on_probe_ack(&mut self, sender: MemberRecord, members: Vec<MemberRecord>) {
        self.merge_record(sender, true);
        for record in members {
            self.merge_record(record, false);
        }
        self.after_membership_change();
    }

    pub(crate) fn on_leaving(&mut self, from: Addr, launch: LaunchId) {
        if self
            .topo
            .members
            .get(&from)
            .is_some_and(|m| m.record.launch() == launch)
        {
            self.remove_member(from, RemovalCause::Left);
        }
    }

    /// Adds or refreshes a member. `direct` when the record came from the member itself or from
    /// its admitter (it may override a tombstone).
    fn merge_record(&mut self, record: MemberRecord, direct: bool) {
        let addr = record.addr();
        let launch = record.launch();
        if addr == self.cfg.addr || self.halted.is_some() {
            return;
        }
        if record.identity.tag.is_none() && self.topo.seen_empty.len() < MAX_SEEN_EMPTY {
            self.topo
                .seen_empty
                .insert(record.identity.info.name.clone());
        }
        if self.topo.tombstones.contains(&(addr, launch)) {
            if !direct {
                return;
            }
            self.topo.tombstones.remove(&(addr, launch));
        }
        let known_launch = self
            .topo
            .members
            .get(&addr)
            .is_some_and(|m| m.record.launch() == launch);
        // Planted bug: only the handshake checks versions.
        if !known_launch && self.cfg.bug != Some(PlantedBug::SkipPreInitOnMerge) {
            if let Err(reason) = self.entry_check(&record.identity) {
                self.refuse_entry(&record, reason, direct);
                return;
            }
        }
        let now = self.now_ms;
        match self.topo.members.get_mut(&addr) {
            Some(existing) if existing.record.launch() == launch => {
                existing.record.identity = record.identity;
                if direct {
                    existing.last_heard_ms = now;
                }
            }
            Some(existing) => {
                if record.admitted_at_ms <= existing.record.admitted_at_ms {
                    return;
                }
                let old = existing.record.launch();
                let name = record.identity.info.name.clone();
                *existing = Member {
                    record,
                    last_heard_ms: now,
                    last_probe_ms: now,
                };
                self.topo.bury(addr, old);
                self.emit(Event::MemberReplaced {
                    member: name,
                    old,
                    new: launch,
                });
                self.on_member_appeared(addr);
            }
            None => {
                let name = record.identity.info.name.clone();
                self.topo.members.insert(
                    addr,
                    Member {
                        record,
                        last_heard_ms: now,
                        last_probe_ms: now,
                    },
                );
                // After the insert: `learn_addr` looks at the new member's vault state.
                self.learn_addr(&name, addr);
                self.emit(Event::MemberAdded {
                    member: name,
                    launch,
                });
                self.on_member_appeared(addr);
            }
        }
    }

    /// A member met outside a handshake failed pre-init validation: it does not enter the view.
    /// **Decision (first admitted wins, on the probe path):** of two nodes of different versions
    /// that meet outside a handshake, the one admitted later is the newcomer: when that is this
    /// node, it stops (as if the older node had refused its handshake); otherwise the member is
    /// told, when the record came from itself, and stops.
    fn refuse_entry(&mut self, record: &MemberRecord, reason: RejectionReason, direct: bool) {
        let mine = self
            .topo
            .me
            .as_ref()
            .map(|me| (me.admitted_at_ms, self.cfg.addr));
        if mine.is_some_and(|mine| (record.admitted_at_ms, record.addr()) < mine) {
            let info = &record.identity.info;
            let reason = if info.protocol != self.cfg.protocol {
                RejectionReason::ProtocolMismatch {
                    joiner: self.cfg.protocol,
                    cluster: info.protocol,
                }
            } else {
                RejectionReason::ProductMismatch {
                    joiner: self.cfg.product,
                    cluster: info.product,
                }
            };
            self.halt(Rejection {
                stage: RejectionStage::PreInit,
                by: info.name.clone(),
                reason,
            });
            return;
        }
        self.emit(Event::PreInitRefused {
            joiner: record.identity.info.name.clone(),
            launch: record.launch(),
            reason: reason.clone(),
        });
        if direct {
            let rejection = Rejection {
                stage: RejectionStage::PreInit,
                by: self.cfg.name.clone(),
                reason,
            };
            self.send(record.addr(), Message::HandshakeRefused { rejection });
        }
    }

    pub(crate) fn remove_member(&mut self, addr: Addr, cause: RemovalCause) {
        let Some(member) = self.topo.members.remove(&addr) else {
            return;
        };
        let name = member.record.identity.info.name.clone();
        let launch = member.record.launch();
        self.topo.bury(addr, launch);
        // The name's address moves to another live member of that name, if there is one (the
        // holder is gone: a node that took the name after it must now get its messages).
        if self.addr_of(&name) == Some(addr) {
            let next = self
                .topo
                .members
                .values()
                .map(|m| &m.record.identity.info)
                .find(|info| info.name == name)
                .map(|info| info.addr);
            if let Some(next) = next {
                self.learn_addr(&name, next);
            }
        }
        self.emit(Event::MemberRemoved {
            member: name.clone(),
            launch,
            cause,
        });
        self.on_member_gone(&name, launch);
    }

    /// After a merge: an empty node resolves conflicting admissions (first admitted wins).
    fn after_membership_change(&mut self) {
        if self.local.is_some() {
            return;
        }
        let records: Vec<&MemberRecord> = self.topo.members.values().map(|m| &m.record).collect();
        // Once a cluster has been initialized among the members, the CMG decides, not us.
        let initialized_here = records
            .iter()
            .any(|r| r.admitted_tag.is_none() && r.identity.tag.is_some());
        let mut tagged: Vec<&MemberRecord> = records
            .into_iter()
            .filter(|r| r.entered_empty_topology())
            .filter(|r| !self.topo.seen_empty.contains(&r.identity.info.name))
            .collect();
        if initialized_here || tagged.len() < 2 {
            return;
        }
        tagged.sort_by(|a, b| a.admission_key().cmp(&b.admission_key()));
        let winner = tagged[0].clone();
        let winner_tag = winner.admitted_tag.clone();
        let losers: Vec<MemberRecord> = tagged
            .into_iter()
            .filter(|r| r.admitted_tag != winner_tag)
            .cloned()
            .collect();
        for loser in losers {
            let (Some(joiner), Some(member_tag)) = (loser.admitted_tag.clone(), winner_tag.clone())
            else {
                continue;
            };
            self.emit(Event::PreInitRefused {
                joiner: loser.identity.info.name.clone(),
                launch: loser.launch(),
                reason: RejectionReason::ConflictingTag {
                    joiner: joiner.clone(),
                    member: winner.identity.info.name.clone(),
                    member_tag: member_tag.clone(),
                },
            });
            self.remove_member(loser.addr(), RemovalCause::Evicted);
            let rejection = Rejection {
                stage: RejectionStage::PreInit,
                by: self.cfg.name.clone(),
                reason: RejectionReason::ConflictingTag {
                    joiner,
                    member: winner.identity.info.name.clone(),
                    member_tag,
                },
            };
            self.send(loser.addr(), Message::HandshakeRefused { rejection });
        }
    }

    /// Names of every member (this node included) with their addresses and launches.
    pub(crate) fn physical_members(&self) -> Vec<(NodeName, Addr, LaunchId)> {
        let mut all = vec![(self.cfg.name.clone(), self.cfg.addr, self.launch)];
        all.extend(self.topo.members.values().map(|m| {
            let info = &m.record.identity.info;
            (info.name.clone(), info.addr, info.launch)
        }));
        all
    }

    /// The cluster each initialized member holds, as last heard (this node included).
    pub(crate) fn member_clusters(&self) -> BTreeMap<NodeName, HeldCluster> {
        let mut held = BTreeMap::new();
        if let Some(local) = &self.local {
            let own = HeldCluster {
                tag: local.config.tag.clone(),
                init: Some(local.init.clone()),
            };
            held.insert(self.cfg.name.clone(), own);
        }
        for m in self.topo.members.values() {
            if let Some(tag) = &m.record.identity.tag {
                let cluster = HeldCluster {
                    tag: tag.clone(),
                    init: m.record.identity.init.clone(),
                };
                held.insert(m.record.identity.info.name.clone(), cluster);
            }
        }
        held
    }
}
