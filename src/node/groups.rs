//! The node's two Raft groups as replicas: opening one (from the vault, or created by an init),
//! destroying or failing it, routing Raft messages to it, and driving it — processing its
//! readiness (vault writes, messages to its peers, committed entries, role changes) and the
//! node's messages to itself until nothing is left.

use crate::bugs::PlantedBug;
use crate::cmg::{CmgCommand, CmgReplica};
use crate::codec::decode;
use crate::early_raft::EarlyMessage;
use crate::error::Result;
use crate::event::Event;
use crate::marks::Mark;
use crate::message::{Message, RaftPayload};
use crate::metastorage::MsReplica;
use crate::node::Node;
use crate::raft_group::{GroupStep, RaftGroup};
use crate::types::{raft_id, Addr, GroupKind, InstanceId, SharedName};
use crate::vault::{EntryKind, GroupRecord, VaultWrite};

/// Bound on the rounds of group processing and local delivery within one input.
const MAX_DRIVE_ROUNDS: usize = 256;

impl Node {
    pub(super) fn on_raft(
        &mut self,
        from: Addr,
        group: GroupKind,
        instance: InstanceId,
        from_name: SharedName,
        payload: RaftPayload,
    ) {
        self.learn_addr(&from_name, from);
        let now_ms = self.now_ms;
        let replica = match group {
            // A fenced replica takes no part in its group (docs/protocol.md Step 2.6).
            GroupKind::Cmg => self
                .cmg
                .as_mut()
                .filter(|c| !c.is_fenced())
                .map(|c| c.group_mut()),
            GroupKind::Ms => self
                .ms
                .as_mut()
                .filter(|m| m.instance() == instance)
                .map(|m| {
                    m.heard(now_ms);
                    m.group_mut()
                }),
        };
        let Some(replica) = replica.filter(|r| r.instance() == instance) else {
            let hosted = match group {
                GroupKind::Cmg => self.cmg.as_ref().map(|c| c.group().instance()),
                GroupKind::Ms => self.ms.as_ref().map(|m| m.instance()),
            };
            if hosted != Some(instance) && self.cancelled.decided(instance).is_none() {
                // Decision (Raft traffic ahead of its replica, `src/early_raft.rs`): kept for
                // the replica this node may be about to create.
                let max_age_ms = self.timing.election_timeout_ms();
                let early = EarlyMessage {
                    at_ms: now_ms,
                    from,
                    group,
                    instance,
                    from_name,
                    payload,
                };
                self.early_raft.hold(early, max_age_ms);
                return;
            }
            self.tell_replica_of_cancelled(from, instance);
            return;
        };
        if let Err(e) = replica.step(payload) {
            self.mark(Mark::CorruptMessage);
            self.emit(Event::CorruptMessage {
                from,
                detail: e.to_string(),
            });
            return;
        }
        self.peer_seen(instance, &from_name, from);
    }

    /// Processes Raft readiness and local deliveries until nothing is left.
    pub(super) fn drive(&mut self) {
        for _ in 0..MAX_DRIVE_ROUNDS {
            let mut progressed = self.drive_group(GroupKind::Cmg);
            progressed |= self.drive_group(GroupKind::Ms);
            self.check_recovery();
            if let Some(msg) = self.loopback.pop_front() {
                let (addr, launch) = (self.cfg.addr, self.launch);
                if !self.is_stopped() {
                    self.dispatch(addr, launch, msg);
                }
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    fn drive_group(&mut self, kind: GroupKind) -> bool {
        let mut step = GroupStep::default();
        let result = match kind {
            GroupKind::Cmg => match self.cmg.as_mut() {
                Some(c) => c.group_mut().process(&mut step),
                None => return false,
            },
            GroupKind::Ms => match self.ms.as_mut() {
                Some(m) => m.group_mut().process(&mut step),
                None => return false,
            },
        };
        let progressed =
            !step.writes.is_empty() || !step.messages.is_empty() || !step.applied.is_empty();
        self.out.writes.append(&mut step.writes);
        let instance = match kind {
            GroupKind::Cmg => self.cmg.as_ref().map(|c| c.group().instance()),
            GroupKind::Ms => self.ms.as_ref().map(|m| m.group().instance()),
        };
        if let Some(instance) = instance {
            for (to, payload) in step.messages {
                if let Some(addr) = self
                    .names_by_raft_id
                    .get(&to)
                    .and_then(|n| self.peer_addr(instance, n))
                {
                    self.send(
                        addr,
                        Message::Raft {
                            group: kind,
                            instance,
                            from_name: self.shared_name.clone(),
                            payload,
                        },
                    );
                }
            }
        }
        match kind {
            GroupKind::Cmg => self.apply_cmg(step.applied),
            GroupKind::Ms => self.apply_ms(step.applied),
        }
        if let Err(e) = result {
            self.fail_replica(kind, 0, e.to_string());
            return true;
        }
        let change = match kind {
            GroupKind::Cmg => self
                .cmg
                .as_mut()
                .and_then(|c| c.group_mut().take_role_change()),
            GroupKind::Ms => self
                .ms
                .as_mut()
                .and_then(|m| m.group_mut().take_role_change()),
        };
        if let Some(change) = change {
            match kind {
                GroupKind::Cmg => self.on_cmg_role_change(change),
                GroupKind::Ms => {
                    let leader = self.name_of_raft_id(change.leader);
                    let known = leader.is_some();
                    self.emit(Event::RoleChanged {
                        group: GroupKind::Ms,
                        instance: instance.unwrap_or(InstanceId(0)),
                        role: crate::cmg::role_of(change.role),
                        term: change.term,
                        leader,
                    });
                    if let (true, Some(instance)) = (known, instance) {
                        self.ask_own_status(instance);
                    }
                }
            }
            return true;
        }
        progressed
    }

    /// A replica with an empty log, or whose leader believes it holds more than it does
    /// (`RaftGroup::leader_overestimates`, docs/protocol.md "Replicas that lost their log"), asks
    /// the voters of its group (the leader acts) to replicate to it from the start, every
    /// `ms_retry_ms`, until it holds what the leader believes.
    pub(super) fn empty_replica_tick(&mut self) {
        if self.now_ms < self.last_empty_ask_ms + self.timing.ms_retry_ms {
            return;
        }
        if self.local.is_none() {
            return;
        }
        for kind in [GroupKind::Cmg, GroupKind::Ms] {
            // Only a replica that lacks entries asks: the voter list is copied for it alone (it
            // used to copy the node's whole local state at every tick).
            let lacking = |g: &crate::raft_group::RaftGroup| {
                (
                    g.instance(),
                    // A leader is never told it holds less than it does (a flag from a
                    // heartbeat heard before its election would otherwise stay set).
                    g.last_index() == 0 || (g.leader_overestimates() && !g.is_leader()),
                )
            };
            let (instance, empty) = match kind {
                GroupKind::Cmg => match self.cmg.as_ref() {
                    Some(c) => lacking(c.group()),
                    None => continue,
                },
                GroupKind::Ms => match self.ms.as_ref() {
                    Some(m) => lacking(m.group()),
                    None => continue,
                },
            };
            if !empty {
                continue;
            }
            let Some(config) = self.local.as_ref().map(|l| &l.config) else {
                return;
            };
            let voters = match kind {
                GroupKind::Cmg => config.cmg_nodes.clone(),
                GroupKind::Ms => config.ms_nodes.clone(),
            };
            self.last_empty_ask_ms = self.now_ms;
            let me = self.cfg.name.clone();
            for voter in voters.iter().filter(|v| **v != me) {
                if let Some(addr) = self.peer_addr(instance, voter) {
                    self.send(
                        addr,
                        Message::ReplicaEmpty {
                            group: kind,
                            instance,
                            name: me.clone(),
                        },
                    );
                }
            }
        }
    }

    pub(super) fn on_replica_empty(
        &mut self,
        from: Addr,
        group: GroupKind,
        instance: InstanceId,
        name: &str,
    ) {
        let replica = match group {
            GroupKind::Cmg => self.cmg.as_mut().map(|c| c.group_mut()),
            GroupKind::Ms => self.ms.as_mut().map(|m| m.group_mut()),
        };
        if let Some(replica) = replica {
            if replica.instance() == instance {
                replica.reset_peer(raft_id(name));
                self.peer_seen(instance, name, from);
            }
        }
    }

    /// Opens a replica from a record.
    pub(super) fn open_group(
        &mut self,
        kind: GroupKind,
        record: &GroupRecord,
        from_vault: bool,
    ) -> Result<()> {
        let group = RaftGroup::open(kind, &self.cfg.name, record, &self.timing, &self.logger)?;
        self.hosted_since_ms = self.now_ms;
        for name in &record.initial_voters {
            self.names_by_raft_id.insert(raft_id(name), name.clone());
        }
        if let Some(plan) = &record.plan {
            for (name, addr) in &plan.addrs {
                self.learn_addr(name, *addr);
            }
        }
        self.emit(Event::GroupStarted {
            group: kind,
            instance: record.instance,
            from_vault,
        });
        match kind {
            GroupKind::Cmg => {
                let mut cmg = CmgReplica::new(group, record.plan.clone());
                if from_vault && self.cfg.bug == Some(PlantedBug::CmgCommandAppliedTwiceOnRestart) {
                    // Planted bug: the replica keeps the state its committed log produced (as
                    // Ignite's persisted store did), and the log is replayed on top of it
                    // (IGNITE-21588).
                    let commit = record.hard_state.commit;
                    let committed = record
                        .entries
                        .iter()
                        .filter(|e| e.index <= commit && e.kind == EntryKind::Normal)
                        .filter_map(|e| decode::<CmgCommand>(&e.data).ok());
                    cmg.preload(committed);
                }
                self.cmg = Some(cmg);
            }
            GroupKind::Ms => {
                self.ms = Some(MsReplica::new(group, record.plan.clone(), self.now_ms))
            }
        }
        if let Some(plan) = &record.plan {
            for (name, addr) in &plan.addrs {
                self.peer_named(record.instance, name, *addr);
            }
        }
        Ok(())
    }

    /// Creates a new replica: writes its record to the vault and opens it.
    pub(crate) fn create_group(&mut self, kind: GroupKind, record: GroupRecord) {
        self.write(VaultWrite::CreateGroup(kind, Box::new(record.clone())));
        if let Err(e) = self.open_group(kind, &record, false) {
            self.fail_replica(kind, 0, e.to_string());
            return;
        }
        // The traffic that reached this node ahead of the replica is its now (an election
        // timeout bounds its age: a candidate campaigns again after one).
        let max_age_ms = self.timing.election_timeout_ms();
        let early = self
            .early_raft
            .take(kind, record.instance, self.now_ms, max_age_ms);
        for m in early {
            self.on_raft(m.from, m.group, m.instance, m.from_name, m.payload);
        }
    }

    /// Destroys the replica of `kind` if it is of this incarnation.
    pub(crate) fn destroy_group(&mut self, kind: GroupKind, instance: InstanceId) {
        let hosted = match kind {
            GroupKind::Cmg => self.cmg.as_ref().map(|c| c.group().instance()),
            GroupKind::Ms => self.ms.as_ref().map(|m| m.group().instance()),
        };
        if hosted != Some(instance) {
            return;
        }
        match kind {
            GroupKind::Cmg => self.cmg = None,
            GroupKind::Ms => self.ms = None,
        }
        self.write(VaultWrite::DestroyGroup(kind, instance));
        self.emit(Event::GroupDestroyed {
            group: kind,
            instance,
        });
    }

    /// A replica that cannot go on (a corrupt entry) stops; its vault is kept for an operator.
    pub(crate) fn fail_replica(&mut self, kind: GroupKind, index: u64, detail: String) {
        match kind {
            GroupKind::Cmg => self.cmg = None,
            GroupKind::Ms => self.ms = None,
        }
        self.mark(Mark::ReplicaFailed);
        self.emit(Event::ReplicaFailed {
            group: kind,
            index,
            detail,
        });
    }
}
