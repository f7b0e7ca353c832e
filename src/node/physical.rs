//! The node's routing of the physical topology (step 1): handshakes, announcements, probes and
//! departures go to the [`PhysicalTopology`](crate::topology::PhysicalTopology) component, and what its decisions imply — events,
//! messages, the address book, a halt, the CMG leader's reaction to a member that came or went —
//! is done here. The handshake's side (pre-init validation, acceptance, refusal) is
//! `src/node/handshake.rs`; the rules themselves are in `src/topology.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::bugs::PlantedBug;
use crate::error::{Rejection, RejectionReason, RejectionStage};
use crate::event::{Event, RemovalCause};
use crate::init::HeldCluster;
use crate::marks::Mark;
use crate::message::Message;
use crate::node::Node;
use crate::topology::{Identity, MemberRecord, Merged, Rumor, Sweep};
use crate::types::{Addr, LaunchId, NodeName};

impl Node {
    /// This node's identity as it stands now, at its current incarnation (which
    /// `PhysicalTopology::current_me` raises when the rest changed).
    pub(crate) fn identity(&self) -> Identity {
        Identity {
            info: self.info(),
            tag: self.local.as_ref().map(|l| l.config.tag.clone()),
            init: self.local.as_ref().map(|l| l.init.clone()),
            replica_of: self.hosted_replica(),
            incarnation: self.topo.incarnation(),
        }
    }

    /// This node's record, with its identity refreshed (shared: the same record while the
    /// identity is unchanged).
    pub(super) fn my_record(&mut self) -> Option<Arc<MemberRecord>> {
        // The fast path: the published record still says what `identity()` would say (no copy
        // of the init command and names at every probe; issue 13).
        if let Some(published) = self.topo.published_me() {
            if self.identity_is(&published.identity) {
                return Some(published.clone());
            }
        }
        let identity = self.identity();
        self.topo.current_me(identity)
    }

    /// True when `identity` equals what [`Node::identity`] builds now, read in place.
    fn identity_is(&self, identity: &Identity) -> bool {
        let info = &identity.info;
        let local = self.local.as_ref();
        info.name == self.cfg.name
            && info.addr == self.cfg.addr
            && info.launch == self.launch
            && info.protocol == self.cfg.protocol
            && info.product == self.cfg.product
            && identity.tag.as_ref() == local.map(|l| &l.config.tag)
            && identity.init.as_ref() == local.map(|l| &l.init)
            && identity.replica_of == self.hosted_replica()
            && identity.incarnation == self.topo.incarnation()
    }

    /// All admitted records this node knows, itself included.
    pub(super) fn known_records(&mut self) -> Vec<Arc<MemberRecord>> {
        let mut all: Vec<Arc<MemberRecord>> = self.my_record().into_iter().collect();
        all.extend(self.topo.shared_records());
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

    pub(super) fn admit_self(&mut self) {
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
        let mut seeds: Vec<Addr> = self
            .cfg
            .seeds
            .iter()
            .copied()
            .filter(|s| *s != own)
            .collect();
        // Decision (a node no seed answers turns to its own CMG's voters, fuzz seeds 1418,
        // 50045683; docs/protocol.md Step 1): before admission each handshake raises the
        // incarnation, so once a failure timeout's worth of handshakes went unanswered, the
        // voters its replica or vault knows are candidates too. Its seeds may all be gone for
        // good (the only seed halted on a refusal), while the voters that hold its cluster live.
        let unanswered = self.topo.incarnation();
        if !seeds.is_empty()
            && unanswered.saturating_mul(self.timing.handshake_retry_ms)
                >= self.timing.failure_timeout_ms
        {
            for addr in self.own_voter_addrs() {
                if !seeds.contains(&addr) {
                    seeds.push(addr);
                }
            }
        }
        let Some(target) = self.rng.pick(&seeds).copied() else {
            self.admit_self();
            return;
        };
        self.topo.handshaking(target, self.now_ms);
        self.emit(Event::HandshakeSent { to: target });
        let joiner = self.identity();
        self.send(target, Message::Handshake { joiner });
    }

    /// The addresses of the CMG voters of this node's own cluster (its replica's cluster state
    /// and init plan, its vault's configuration through the address book), itself left out, in
    /// address order.
    fn own_voter_addrs(&self) -> Vec<Addr> {
        let me = self.cfg.name.as_str();
        // Voters other than itself (a node that moved is named at its old address there).
        let others = |voters: &[NodeName], addrs: &BTreeMap<NodeName, Addr>| -> Vec<Addr> {
            addrs
                .iter()
                .filter(|(n, _)| n.as_str() != me && voters.contains(n))
                .map(|(_, a)| *a)
                .collect()
        };
        let mut addrs = BTreeSet::new();
        if let Some(cmg) = self.cmg.as_ref() {
            if let Some(cluster) = cmg.state().cluster.as_ref() {
                addrs.extend(others(&cluster.config.cmg_nodes, &cluster.addrs));
            }
            if let Some(plan) = cmg.plan() {
                addrs.extend(others(&plan.config.cmg_nodes, &plan.addrs));
            }
        }
        if let Some(local) = self.local.as_ref() {
            let voters = local.config.cmg_nodes.iter().filter(|n| n.as_str() != me);
            addrs.extend(voters.filter_map(|n| self.addr_of(n)));
        }
        addrs.remove(&self.cfg.addr);
        addrs.into_iter().collect()
    }

    pub(crate) fn topology_tick(&mut self) {
        if self
            .topo
            .handshake_due(self.now_ms, self.timing.handshake_retry_ms)
        {
            self.send_handshake();
        }
        if self.is_swim() {
            self.swim_topology_tick();
            return;
        }
        let now = self.now_ms;
        let Sweep { dead, mut probe } = self.topo.sweep(now, &self.timing);
        for addr in dead {
            self.remove_member(addr, RemovalCause::Dead);
        }
        if self.topo.rejoin_round_due(now, self.timing.rejoin_probe_ms) {
            probe.extend(self.rejoin_targets());
        }
        if probe.is_empty() {
            return;
        }
        if let Some(sender) = self.my_record() {
            let view = self.topo.view_digest(&sender);
            for addr in probe {
                let sync = self.topo.probed(addr, now, self.timing.rejoin_probe_ms);
                self.send(
                    addr,
                    Message::Probe {
                        sender: Arc::clone(&sender),
                        view: sync.then_some(view),
                        rumors: Vec::new(),
                        relay_for: None,
                    },
                );
            }
        }
    }

    /// The members the failure detector finds silent for `failure_timeout_ms` now, which the
    /// next tick's sweep will remove (all-pairs detection; SWIM judges by suspicion at its own
    /// ticks: none). The view is left as it is: a member whose message waits behind in the
    /// inbox of a node back from a pause is heard before that tick (`LeaderSight::silent`).
    pub(crate) fn silent_members(&self) -> std::collections::BTreeSet<Addr> {
        if self.is_swim() {
            return Default::default();
        }
        self.topo
            .sweep(self.now_ms, &self.timing)
            .dead
            .into_iter()
            .collect()
    }

    /// The rejoin round's targets: seeds and the known addresses of this node's own CMG voters
    /// (and removed members) not in the view; see `PhysicalTopology::rejoin_targets`.
    pub(super) fn rejoin_targets(&self) -> Vec<Addr> {
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
        // A namesake reported alive within two view exchanges (one per `rejoin_probe_ms` per
        // member) is looked for.
        self.topo.rejoin_targets(
            wanted,
            self.cfg.addr,
            self.now_ms,
            2 * self.timing.rejoin_probe_ms,
        )
    }

    /// Any message from a member proves it is alive.
    pub(crate) fn heard_from(&mut self, addr: Addr, launch: LaunchId) {
        self.topo.heard_from(addr, launch, self.now_ms);
    }

    pub(crate) fn on_announce(&mut self, member: Arc<MemberRecord>) {
        self.merge_record(member, false);
        self.after_membership_change();
    }

    /// A probe from `from`: the prober's record is merged, and the answer carries this node's
    /// view when the probe is a sync probe whose digest `view` differs from this node's
    /// (`PhysicalTopology::view_digest`, `PhysicalTopology::probed`).
    pub(crate) fn on_probe(
        &mut self,
        from: Addr,
        sender: Arc<MemberRecord>,
        view: Option<u64>,
        rumors: Vec<Rumor>,
        relay_for: Option<Addr>,
    ) {
        if !self.topo.is_admitted() {
            return;
        }
        self.merge_record_spreading(sender, true, true);
        self.hear_rumors(rumors);
        // This node's record as it stands after the merge: the one the digest compared holds.
        let Some(me) = self.my_record() else {
            return;
        };
        let members = match view {
            Some(view) if self.topo.view_digest(&me) != view => self.known_records(),
            _ => Vec::new(),
        };
        let rumors = self.rumors_to_send();
        self.send(
            from,
            Message::ProbeAck {
                sender: me,
                members,
                rumors,
                relay_for,
            },
        );
        self.after_membership_change();
    }

    pub(crate) fn on_probe_ack(
        &mut self,
        sender: Arc<MemberRecord>,
        members: Vec<Arc<MemberRecord>>,
        rumors: Vec<Rumor>,
        relay_for: Option<Addr>,
    ) {
        if let Some(asker) = relay_for.filter(|_| self.is_swim()) {
            // An indirect probe this node made for `asker`: tell it the target answered.
            self.send(
                asker,
                Message::ProbeRelay {
                    target: sender.addr(),
                    launch: sender.launch(),
                },
            );
        }
        self.merge_record_spreading(sender, true, true);
        for record in members {
            self.merge_record(record, false);
        }
        self.hear_rumors(rumors);
        self.after_membership_change();
    }

    pub(crate) fn on_leaving(&mut self, from: Addr, launch: LaunchId) {
        if self.topo.member(from).is_some_and(|m| m.launch() == launch) {
            self.remove_member(from, RemovalCause::Left);
        }
    }

    /// Adds or refreshes a member. `direct` when the record came from the member itself or from
    /// its admitter (it may override a tombstone).
    pub(super) fn merge_record(&mut self, record: impl Into<Arc<MemberRecord>>, direct: bool) {
        self.merge_record_spreading(record, direct, false);
    }

    /// [`merge_record`](Self::merge_record), and with SWIM, when `spread` and the record changed
    /// the view, the record is passed on as a rumor: a member's own record, an admission, a
    /// rumor — not the records of a whole view (a handshake's answer, a sync ack), which would
    /// flood the rumor queue with what its receivers mostly know.
    pub(super) fn merge_record_spreading(
        &mut self,
        record: impl Into<Arc<MemberRecord>>,
        direct: bool,
        spread: bool,
    ) {
        let record: Arc<MemberRecord> = record.into();
        let addr = record.addr();
        let launch = record.launch();
        if addr == self.cfg.addr || self.is_stopped() {
            return;
        }
        if self.topo.refresh_if_current(&record, direct, self.now_ms) {
            return;
        }
        let Some(known_launch) = self.topo.admit_check(&record, direct, self.now_ms) else {
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
        let rumor = (spread && self.is_swim()).then(|| Arc::clone(&record));
        let merged = self.topo.merge(record, direct, self.now_ms);
        if let Some(record) = rumor.filter(|_| merged != Merged::Kept) {
            // SWIM: what changed this view is passed on.
            self.spread(Rumor::Alive(record));
        }
        match merged {
            Merged::Kept | Merged::Refreshed => {}
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
        self.mark(Mark::EntryRefusedOutsideHandshake);
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
            self.mark(Mark::NewcomerStoppedOutsideHandshake);
            self.halt(Rejection {
                stage: RejectionStage::PreInit,
                by: info.name.clone(),
                reason,
            });
            return;
        }
        if let Some(mark) = Mark::of_pre_init_refusal(&reason) {
            self.mark(mark);
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
    pub(super) fn after_membership_change(&mut self) {
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
            self.mark(Mark::ConflictingAdmissionEvicted);
            self.mark(Mark::PreInitRefusedConflictingTag);
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

#[cfg(test)]
mod tests;
