//! One replica of a Raft group (the CMG or the Meta Storage), driven through raft-rs's `RawNode`.
//!
//! The replica is synchronous and does no I/O: ticks and messages go in, and [`GroupStep`] comes
//! out with the messages to send, the vault writes that must be durable first, and the committed
//! entries to apply, in log order.
//!
//! Logs are never compacted, and every replica of one incarnation starts from the same initial
//! voters and the same first entry, so a replica that starts empty (a node that follows the Meta
//! Storage as a learner, or a voter that lost its replica) catches up by plain log replication:
//! the log's membership changes, applied in order on top of the initial voters, rebuild the
//! current configuration. No snapshots are ever made.

use protobuf::Message as PbMessage;
use raft::eraftpb::{
    ConfChangeV2, ConfState, Entry, EntryType, HardState, Message as RaftMessage, MessageType,
};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};

use crate::config::Timing;
use crate::error::{Error, Result};
use crate::init_command::InitPlan;
use crate::raft_payload::RaftPayload;
use crate::types::{raft_id, GroupKind, InstanceId, NodeName};
use crate::vault::{EntryKind, EntryRecord, GroupRecord, HardStateRecord, VaultWrite};

/// How many ready rounds one call to [`RaftGroup::process`] handles at most.
const MAX_READY_ROUNDS: usize = 64;

/// A committed entry, ready to be applied to the group's state machine.
#[derive(Debug, Clone)]
pub(crate) enum Applied {
    /// An application command.
    Normal { index: u64, data: Vec<u8> },
    /// A membership change, already applied to the Raft configuration.
    ConfChange { index: u64, context: Vec<u8> },
}

/// What one round of processing produced.
#[derive(Debug, Default)]
pub(crate) struct GroupStep {
    /// Raft messages: destination Raft id and the message (a value, encoded only if it leaves
    /// the process).
    pub messages: Vec<(u64, RaftPayload)>,
    /// Vault writes, to be made durable before the messages are sent.
    pub writes: Vec<VaultWrite>,
    /// Committed entries, in log order.
    pub applied: Vec<Applied>,
}

/// A replica's role, term and leader, as last observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoleState {
    pub role: StateRole,
    pub term: u64,
    pub leader: u64,
}

/// One Raft replica.
pub(crate) struct RaftGroup {
    kind: GroupKind,
    instance: InstanceId,
    raw: RawNode<MemStorage>,
    observed: RoleState,
    /// True when [`RaftGroup::process`] last found nothing ready and raft-rs has not been
    /// called since: nothing can be ready, so the next `process` returns at once (most drives of
    /// a group find nothing; raft-rs's `has_ready` was asked at every one). Every method that
    /// calls into raft-rs clears it.
    settled: bool,
    /// True when the last heartbeat of the current term (or a later one) named a commit index
    /// beyond this replica's log: its leader believes this Raft id holds entries it does not
    /// hold ([`RaftGroup::leader_overestimates`]).
    overestimated: bool,
}

impl RaftGroup {
    /// The record of a freshly created replica of a new group: every voter gets the same first
    /// entry(ies) at term 1, already committed.
    pub fn bootstrap_record(
        instance: InstanceId,
        voters: Vec<NodeName>,
        plan: Option<InitPlan>,
        entries: Vec<Vec<u8>>,
    ) -> GroupRecord {
        assert!(!entries.is_empty(), "a bootstrap log needs a first entry");
        let entries: Vec<EntryRecord> = entries
            .into_iter()
            .enumerate()
            .map(|(i, data)| EntryRecord {
                index: i as u64 + 1,
                term: 1,
                kind: EntryKind::Normal,
                data,
                context: vec![],
            })
            .collect();
        GroupRecord {
            instance,
            plan: plan.map(std::sync::Arc::new),
            initial_voters: voters,
            hard_state: HardStateRecord {
                term: 1,
                vote: 0,
                commit: entries.len() as u64,
            },
            entries,
        }
    }

    /// The record of a replica that starts with an empty log and catches up from the leader.
    pub fn empty_record(instance: InstanceId, initial_voters: Vec<NodeName>) -> GroupRecord {
        GroupRecord {
            instance,
            plan: None,
            initial_voters,
            hard_state: HardStateRecord::default(),
            entries: vec![],
        }
    }

    /// Opens a replica from its durable record. Committed entries are delivered again from index
    /// 1 by the first [`RaftGroup::process`], which rebuilds the state machine.
    pub fn open(
        kind: GroupKind,
        self_name: &str,
        record: &GroupRecord,
        timing: &Timing,
        logger: &slog::Logger,
    ) -> Result<RaftGroup> {
        let raft_err = |e: raft::Error| Error::Raft {
            group: kind,
            detail: e.to_string(),
        };
        let storage = MemStorage::new();
        {
            let mut core = storage.wl();
            core.set_conf_state(ConfState {
                voters: record.initial_voters.iter().map(|n| raft_id(n)).collect(),
                ..Default::default()
            });
            let entries: Vec<Entry> = record.entries.iter().map(to_entry).collect();
            core.append(&entries).map_err(raft_err)?;
            if record.hard_state.commit > record.entries.len() as u64 {
                return Err(Error::CorruptVault {
                    detail: format!(
                        "{kind} commit index {} beyond the log's end {}",
                        record.hard_state.commit,
                        record.entries.len()
                    ),
                });
            }
            core.set_hardstate(HardState {
                term: record.hard_state.term,
                vote: record.hard_state.vote,
                commit: record.hard_state.commit,
                ..Default::default()
            });
        }
        let config = Config {
            id: raft_id(self_name),
            election_tick: timing.election_ticks,
            heartbeat_tick: timing.heartbeat_ticks,
            // 0 and 0 are raft-rs's defaults (a randomized timeout); a fixed timeout is the
            // one-value range [fixed, fixed + 1).
            min_election_tick: timing.fixed_election_ticks.unwrap_or(0),
            max_election_tick: timing.fixed_election_ticks.map_or(0, |t| t + 1),
            applied: 0,
            check_quorum: true,
            pre_vote: true,
            max_size_per_msg: 256 * 1024,
            max_inflight_msgs: 64,
            // Commit indexes ride on the next append or heartbeat instead of a round of their own.
            skip_bcast_commit: true,
            ..Default::default()
        };
        config.validate().map_err(raft_err)?;
        let raw = RawNode::new(&config, storage, logger).map_err(raft_err)?;
        let observed = RoleState {
            role: raw.raft.state,
            term: raw.raft.term,
            leader: raw.raft.leader_id,
        };
        Ok(RaftGroup {
            kind,
            instance: record.instance,
            raw,
            observed,
            settled: false,
            overestimated: false,
        })
    }

    /// The incarnation.
    pub fn instance(&self) -> InstanceId {
        self.instance
    }

    /// Advances the replica's logical clock by one tick.
    pub fn tick(&mut self) {
        self.settled = false;
        self.raw.tick();
    }

    /// Starts an election now.
    pub fn campaign(&mut self) {
        self.settled = false;
        // Only fails for a replica that is not promotable, which then simply does not campaign.
        let _ = self.raw.campaign();
    }

    /// Steps a message received from a peer.
    pub fn step(&mut self, payload: RaftPayload) -> Result<()> {
        let mut msg = payload
            .into_message()
            .map_err(|detail| Error::CorruptRaftMessage {
                group: self.kind,
                detail,
            })?;
        if msg.to != self.raw.raft.id {
            return Ok(());
        }
        self.settled = false;
        // A replica that lost its log (a wiped vault), or whose Raft id another instance used
        // (a namesake that acknowledged entries this one never had), hears a leader that believes
        // it holds entries up to the commit index; raft-rs treats that as fatal. The replica
        // instead keeps its commit within its log and notes the overestimate, so that it asks the
        // leader to replicate to it again (`Node::empty_replica_tick`, `ReplicaEmpty`): a
        // heartbeat commit is at most what the leader believes the peer holds, and raft-rs's
        // leader sends entries on a heartbeat answer only when that belief is behind its log.
        if msg.get_msg_type() == MessageType::MsgHeartbeat {
            let last = self.raw.raft.raft_log.last_index();
            if msg.term >= self.raw.raft.term {
                self.overestimated = msg.commit > last;
            }
            msg.commit = msg.commit.min(last);
        }
        // raft-rs refuses local message types and responses from unknown peers; both are noise
        // that a replica must survive, not errors of the protocol.
        let _ = self.raw.step(msg);
        Ok(())
    }

    /// On the leader: forget what a peer was known to hold, because it lost its log (its vault was
    /// wiped), and replicate to it again from the first entry. Without this the leader, which
    /// believes the peer caught up, would never send it anything but heartbeats.
    pub fn reset_peer(&mut self, id: u64) -> bool {
        if !self.is_leader() || id == self.raw.raft.id {
            return false;
        }
        let Some(progress) = self.raw.raft.mut_prs().get_mut(id) else {
            return false;
        };
        if progress.matched == 0 {
            return false;
        }
        progress.matched = 0;
        progress.become_probe();
        self.settled = false;
        self.raw.raft.send_append(id);
        true
    }

    /// Proposes an application command. False when this replica is not the leader.
    pub fn propose(&mut self, data: Vec<u8>) -> bool {
        self.settled = false;
        self.is_leader() && self.raw.propose(vec![], data).is_ok()
    }

    /// Proposes a membership change with a context the state machine applies with it. False when
    /// this replica is not the leader or a change is still pending.
    pub fn propose_conf_change(&mut self, context: Vec<u8>, change: ConfChangeV2) -> bool {
        if !self.is_leader() || self.raw.raft.has_pending_conf() {
            return false;
        }
        self.settled = false;
        self.raw.propose_conf_change(context, change).is_ok()
    }

    /// Planted bug `MsReconfigurationOverlaps` only: proposes a membership change even while
    /// another is pending — neither this replica's guard ([`RaftGroup::propose_conf_change`])
    /// nor raft-rs's (its `pending_conf_index`, reset to the applied index here) is asked. False
    /// when this replica is not the leader.
    pub fn propose_conf_change_overlapping(
        &mut self,
        context: Vec<u8>,
        change: ConfChangeV2,
    ) -> bool {
        if !self.is_leader() {
            return false;
        }
        self.settled = false;
        self.raw.raft.pending_conf_index = self.raw.raft.raft_log.applied;
        self.raw.propose_conf_change(context, change).is_ok()
    }

    /// Hands leadership to `to` (a voter).
    pub fn transfer_leader(&mut self, to: u64) {
        self.settled = false;
        self.raw.transfer_leader(to);
    }

    /// On the leader: the first voter (by Raft id) other than itself that holds the whole log,
    /// the one a leadership transfer hands over to at once (raft-rs sends it `MsgTimeoutNow`
    /// without first replicating). `None` when not leading, or no other voter is up to date.
    pub fn up_to_date_voter(&self) -> Option<u64> {
        if !self.is_leader() {
            return None;
        }
        let last = self.last_index();
        let me = self.id();
        let mut voters: Vec<u64> = self.conf_state().voters;
        voters.sort_unstable();
        voters.into_iter().find(|id| {
            *id != me
                && self
                    .raw
                    .raft
                    .prs()
                    .get(*id)
                    .is_some_and(|p| p.matched == last)
        })
    }

    /// This replica's Raft id.
    pub fn id(&self) -> u64 {
        self.raw.raft.id
    }

    /// True when this replica leads its group.
    pub fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    /// Role, term and leader right now.
    pub fn role_state(&self) -> RoleState {
        RoleState {
            role: self.raw.raft.state,
            term: self.raw.raft.term,
            leader: self.raw.raft.leader_id,
        }
    }

    /// The current configuration (voters, learners, joint state).
    pub fn conf_state(&self) -> ConfState {
        self.raw.raft.prs().conf().to_conf_state()
    }

    /// True when a membership change is proposed but not yet applied.
    pub fn has_pending_conf(&self) -> bool {
        self.raw.raft.has_pending_conf()
    }

    /// Commit index.
    pub fn commit_index(&self) -> u64 {
        self.raw.raft.raft_log.committed
    }

    /// True when some normal entry of the log (committed or not) satisfies `matches`.
    pub fn log_holds(&self, matches: impl Fn(&[u8]) -> bool) -> bool {
        self.raw.raft.raft_log.all_entries().iter().any(|e| {
            e.get_entry_type() == raft::eraftpb::EntryType::EntryNormal && matches(&e.data)
        })
    }

    /// True when the leader's last heartbeat (of this term or a later one) said it believes this
    /// replica holds more of the log than it does: the replica must ask to be replicated to
    /// again (fuzz seed 60014523: a learner's Raft id acknowledged entries through a namesake
    /// that held the name while it was down).
    pub fn leader_overestimates(&self) -> bool {
        self.overestimated
    }

    /// Last log index.
    pub fn last_index(&self) -> u64 {
        self.raw.raft.raft_log.last_index()
    }

    /// If the role, term or leader changed since the last call, the new state.
    pub fn take_role_change(&mut self) -> Option<RoleState> {
        let now = self.role_state();
        if now == self.observed {
            return None;
        }
        self.observed = now;
        Some(now)
    }

    /// Handles every pending `Ready`: persists, collects messages, applies committed entries.
    pub fn process(&mut self, out: &mut GroupStep) -> Result<()> {
        if self.settled {
            return Ok(());
        }
        for _ in 0..MAX_READY_ROUNDS {
            if !self.raw.has_ready() {
                self.settled = true;
                return Ok(());
            }
            let mut ready = self.raw.ready();
            self.collect_messages(ready.take_messages(), out);
            if !ready.snapshot().is_empty() {
                return Err(Error::Raft {
                    group: self.kind,
                    detail: "received a snapshot, but this protocol never makes one".into(),
                });
            }
            self.apply_committed(ready.take_committed_entries(), out)?;
            if !ready.entries().is_empty() {
                self.raw
                    .mut_store()
                    .wl()
                    .append(ready.entries())
                    .map_err(|e| Error::Raft {
                        group: self.kind,
                        detail: e.to_string(),
                    })?;
                let records = ready.entries().iter().map(to_record).collect();
                out.writes.push(VaultWrite::Append(self.kind, records));
            }
            if let Some(hs) = ready.hs() {
                self.raw.mut_store().wl().set_hardstate(hs.clone());
                out.writes
                    .push(VaultWrite::HardState(self.kind, hard_state_record(hs)));
            }
            self.collect_messages(ready.take_persisted_messages(), out);
            let mut light = self.raw.advance(ready);
            if let Some(commit) = light.commit_index() {
                let hs = {
                    let mut core = self.raw.mut_store().wl();
                    core.mut_hard_state().commit = commit;
                    core.hard_state().clone()
                };
                out.writes
                    .push(VaultWrite::HardState(self.kind, hard_state_record(&hs)));
            }
            self.collect_messages(light.take_messages(), out);
            self.apply_committed(light.take_committed_entries(), out)?;
            self.raw.advance_apply();
        }
        Ok(())
    }

    fn collect_messages(&self, messages: Vec<RaftMessage>, out: &mut GroupStep) {
        out.messages.extend(
            messages
                .into_iter()
                .map(|msg| (msg.to, RaftPayload::from(msg))),
        );
    }

    fn apply_committed(&mut self, entries: Vec<Entry>, out: &mut GroupStep) -> Result<()> {
        for entry in entries {
            match entry.get_entry_type() {
                EntryType::EntryNormal => {
                    if !entry.data.is_empty() {
                        out.applied.push(Applied::Normal {
                            index: entry.index,
                            data: entry.data.to_vec(),
                        });
                    }
                }
                EntryType::EntryConfChangeV2 => {
                    let change = ConfChangeV2::parse_from_bytes(&entry.data).map_err(|e| {
                        Error::CorruptEntry {
                            group: self.kind,
                            index: entry.index,
                            detail: e.to_string(),
                        }
                    })?;
                    let conf =
                        self.raw
                            .apply_conf_change(&change)
                            .map_err(|e| Error::CorruptEntry {
                                group: self.kind,
                                index: entry.index,
                                detail: e.to_string(),
                            })?;
                    self.raw.mut_store().wl().set_conf_state(conf);
                    out.applied.push(Applied::ConfChange {
                        index: entry.index,
                        context: entry.context.to_vec(),
                    });
                }
                EntryType::EntryConfChange => {
                    return Err(Error::CorruptEntry {
                        group: self.kind,
                        index: entry.index,
                        detail: "version-1 membership changes are never proposed".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn hard_state_record(hs: &HardState) -> HardStateRecord {
    HardStateRecord {
        term: hs.term,
        vote: hs.vote,
        commit: hs.commit,
    }
}

fn to_record(entry: &Entry) -> EntryRecord {
    EntryRecord {
        index: entry.index,
        term: entry.term,
        kind: match entry.get_entry_type() {
            EntryType::EntryNormal => EntryKind::Normal,
            _ => EntryKind::ConfChange,
        },
        data: entry.data.to_vec(),
        context: entry.context.to_vec(),
    }
}

fn to_entry(record: &EntryRecord) -> Entry {
    let mut entry = Entry {
        index: record.index,
        term: record.term,
        data: record.data.clone().into(),
        context: record.context.clone().into(),
        ..Default::default()
    };
    entry.set_entry_type(match record.kind {
        EntryKind::Normal => EntryType::EntryNormal,
        EntryKind::ConfChange => EntryType::EntryConfChangeV2,
    });
    entry
}

/// A silent logger for raft-rs: the protocol reports what matters as its own events.
pub(crate) fn discard_logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

#[cfg(test)]
mod tests;
