//! The node's routing of the physical topology (step 1): handshakes, announcements, probes and
//! departures go to the [`PhysicalTopology`](crate::topology::PhysicalTopology) component, and what its decisions imply — events,
//! messages, the address book, a halt, the CMG leader's reaction to a member that came or went —
//! is done here. The rules themselves are in `src/topology.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::bugs::PlantedBug;
use crate::error::{Rejection, RejectionReason, RejectionStage};
use crate::event::{Event, RemovalCause};
use crate::init::HeldCluster;
use crate::message::Message;
use crate::node::Node;
use crate::topology::{entry_check, Identity, MemberRecord, Merged, Sweep};
use crate::types::{Addr, LaunchId, NodeName};

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
        self.topo.me().cloned().map(|mut me| {
            me.identity = self.identity();
            me
        })
    }

    /// All admitted records this node knows, itself included.
    fn known_records(&self) -> Vec<MemberRecord> {
        let mut all: Vec<MemberRecord> = self.my_record().into_iter().collect();
        all.extend(self.topo.records().cloned());
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
        self.topo.enter(record);
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
        self.topo.handshaking(target, self.now_ms);
        self.emit(Event::HandshakeSent { to: target });
        let joiner = self.identity();
        self.send(target, Message::Handshake { joiner });
    }

    pub(crate) fn topology_tick(&mut self) {
        if self
            .topo
            .handshake_due(self.now_ms, self.timing.handshake_retry_ms)
        {
            self.send_handshake();
        }
        let now = self.now_ms;
        let Sweep { dead, mut probe } = self.topo.sweep(now, &self.timing);
        for addr in dead {
            self.remove_member(addr, RemovalCause::Dead);
        }
        if self.topo.rejoin_round_due(now, self.timing.rejoin_probe_ms) {
            probe.extend(self.rejoin_targets());
        }
        if let Some(sender) = self.my_record() {
            for addr in probe {
                self.topo.probed(addr, now);
                self.send(
                    addr,
                    Message::Probe {
                        sender: sender.clone(),
                    },
                );
            }
        }
    }

    /// The rejoin round's targets: seeds and the known addresses of this node's own CMG voters
    /// (and removed members) not in the view; see `PhysicalTopology::rejoin_targets`.
    fn rejoin_targets(&self) -> Vec<Addr> {
        let mut wanted: BTreeSet<Addr> = self.cfg.seeds.iter().copied().collect();
        if let Some(local) = &self.local {
            wanted.extend(
                local
                    .config
                    .cmg_nodes
                    .iter()
                    .filter_map(|n| self.addr_of(n)),
            );
        }
        self.topo.rejoin_targets(wanted, self.cfg.addr)
    }

    /// Any message from a member proves it is alive.
    pub(crate) fn heard_from(&mut self, addr: Addr, launch: LaunchId) {
        self.topo.heard_from(addr, launch, self.now_ms);
    }

    pub(crate) fn on_handshake(&mut self, from: Addr, joiner: Identity) {
        if !self.topo.is_admitted() {
            if self.cfg.addr < joiner.info.addr {
                self.admit_self();
            } else {
                return;
            }
        }
        // A member of a cluster whose init this node saw cancelled (decided) is told so rather
        // than refused: it clears the cancelled cluster and hands-shakes again as an empty node
        // (docs/spec.md §5, "a cancelled member is told, whoever it meets").
        let cancelled = joiner
            .tag
            .as_ref()
            .and_then(|t| self.cancelled.decided_with_tag(t));
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
        for addr in self.topo.addrs() {
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
    /// node's view: [`entry_check`] against this node's versions.
    fn entry_check(&self, joiner: &Identity) -> Result<(), RejectionReason> {
        entry_check(self.cfg.protocol, self.cfg.product, joiner)
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
        self.topo.first_tag_wins(joiner)
    }

    pub(crate) fn on_handshake_accepted(&mut self, you: MemberRecord, members: Vec<MemberRecord>) {
        if self.topo.is_admitted() || you.identity.info.launch != self.launch {
            return;
        }
        let via = you.admitted_by.clone();
        self.topo.enter(you);
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
        let from_member = self.topo.contains(from);
        let handshaking = self.topo.is_handshaking_with(from);
        let by_version = matches!(
            rejection.reason,
            RejectionReason::ProtocolMismatch { .. } | RejectionReason::ProductMismatch { .. }
        );
        if !(handshaking || from_member || by_version || !self.topo.is_admitted()) {
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
                && !self.topo.is_admitted()
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
        if self.topo.member(from).is_some_and(|m| m.launch() == launch) {
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
        let Some(known_launch) = self.topo.admit_check(&record, direct) else {
            return;
        };
        // Planted bug: only the handshake checks versions.
        if !known_launch && self.cfg.bug != Some(PlantedBug::SkipPreInitOnMerge) {
            if let Err(reason) = self.entry_check(&record.identity) {
                self.refuse_entry(&record, reason, direct);
                return;
            }
        }
        let name = record.identity.info.name.clone();
        match self.topo.merge(record, direct, self.now_ms) {
            Merged::Kept => {}
            Merged::Replaced { old } => {
                self.emit(Event::MemberReplaced {
                    member: name,
                    old,
                    new: launch,
                });
                self.on_member_appeared(addr);
            }
            Merged::Added => {
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
        let mine = self.topo.me().map(|me| (me.admitted_at_ms, self.cfg.addr));
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
        let Some(record) = self.topo.remove(addr) else {
            return;
        };
        let name = record.identity.info.name.clone();
        let launch = record.launch();
        // The name's address moves to another live member of that name, if there is one (the
        // holder is gone: a node that took the name after it must now get its messages).
        if self.addr_of(&name) == Some(addr) {
            if let Some(next) = self.topo.addr_named(&name) {
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
        let Some((winner, losers)) = self.topo.conflicting_admissions() else {
            return;
        };
        let winner_tag = winner.admitted_tag.clone();
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
        all.extend(self.topo.records().map(|r| {
            let info = &r.identity.info;
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
        for r in self.topo.records() {
            if let Some(tag) = &r.identity.tag {
                let cluster = HeldCluster {
                    tag: tag.clone(),
                    init: r.identity.init.clone(),
                };
                held.insert(r.identity.info.name.clone(), cluster);
            }
        }
        held
    }
}
