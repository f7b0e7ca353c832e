//! Step 3 and the CMG side of step 4: a CMG replica applies committed commands, and the CMG
//! leader does its duties — propose the cluster-init command, send the cluster state to members
//! outside the logical topology (on commit of init, on every election, when a member appears, and
//! again every `cluster_state_retry_ms`), turn join requests, join readies, admin commands and
//! deaths into CMG commands, answer the node that asked once its command is applied, and drive the
//! Meta Storage to the node list the CMG committed.

use std::collections::BTreeMap;

use crate::admin::AdminOutcome;
use crate::bugs::PlantedBug;
use crate::cmg::{CmgCommand, CmgOutcome, CmgState, JoinResult};
use crate::error::AdminError;
use crate::event::{Event, Role};
use crate::init::InitPlan;
use crate::message::{decode, digest, encode, ClusterStateNotice, Message, RequestId};
use crate::node::Node;
use crate::raft_group::{Applied, RaftGroup, RoleState};
use crate::types::{Addr, ClusterTag, GroupKind, LaunchId, NodeInfo, NodeName};

/// Who asked for a proposed command, so the proposer can answer when it is applied.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PendingKey {
    Join(NodeName, LaunchId, u64),
    Ready(NodeName, LaunchId, u64),
    Admin(Addr, RequestId),
}

/// Bound on the commands a leader tracks for answering.
const MAX_PENDING: usize = 4096;

/// What only the current leader keeps (dropped when it loses leadership).
#[derive(Debug, Default)]
pub(crate) struct LeaderDuties {
    term: u64,
    init_proposed: bool,
    /// An `InitAnswered` or `InitCancelled` was proposed in this term.
    fate_proposed: bool,
    /// Who sent the cancel this leader proposed: acknowledged once it is applied.
    pub(crate) cancel_requesters: std::collections::BTreeSet<Addr>,
    /// Last cluster-state notice per member address: (launch, time).
    notices: BTreeMap<Addr, (LaunchId, u64)>,
    pending: BTreeMap<PendingKey, Addr>,
    /// The Meta Storage list the CMG committed and the MS has not confirmed: (version, nodes,
    /// last time asked).
    ms_target: Option<(u64, Vec<NodeName>, u64)>,
    /// Admin commands waiting for the Meta Storage: (origin, request, version).
    admin_waiters: Vec<(Addr, RequestId, u64)>,
    /// LT members and validated nodes this leader proposed to remove as absent from its
    /// physical topology, with when (proposed again after `cluster_state_retry_ms`).
    absent_proposed: BTreeMap<(NodeName, LaunchId), u64>,
}

/// How a joiner's name is held by another instance (`Node::namesake`).
enum Namesake {
    /// Nobody else holds it.
    None,
    /// A live holder at this address: the joiner is refused (`duplicate_name`).
    Alive(Addr),
    /// A holder this leader does not see: the joiner waits.
    Absent,
    /// A group voter at this address, not seen alive, and the joiner has an empty vault: the
    /// joiner is refused (`duplicate_name`) all the same — an empty node is never that voter.
    Voter(Addr),
}

/// A CMG replica with its state machine.
pub(crate) struct CmgReplica {
    pub group: RaftGroup,
    pub state: CmgState,
    pub plan: Option<InitPlan>,
    pub duties: Option<LeaderDuties>,
    /// Set while an undecided cancel fences this replica: the time it last asked the group's
    /// voters for the init's fate (docs/protocol.md Step 2.6, "the fence").
    pub fence_asked_ms: Option<u64>,
}

impl Node {
    /// True when this node's CMG replica leads (and does the leader's duties).
    pub(crate) fn leads_cmg(&self) -> bool {
        self.cmg.as_ref().is_some_and(|c| c.duties.is_some())
    }

    /// Applies committed CMG entries in log order.
    pub(crate) fn apply_cmg(&mut self, applied: Vec<Applied>) {
        for entry in applied {
            let Applied::Normal { index, data } = entry else {
                continue;
            };
            let command = match decode::<CmgCommand>(&data) {
                Ok(c) => c,
                Err(detail) => {
                    self.fail_replica(GroupKind::Cmg, index, detail);
                    return;
                }
            };
            let Some(cmg) = self.cmg.as_mut() else { return };
            let lt_before = cmg.state.lt.version;
            let tag_before = cmg.state.cluster.as_ref().map(|c| c.config.tag.clone());
            let outcome = cmg.state.apply_with(&command, self.cfg.bug);
            // Invariant: the tag never changes once committed.
            if let Some(before) = &tag_before {
                assert_eq!(
                    Some(before),
                    cmg.state.cluster.as_ref().map(|c| &c.config.tag),
                    "CMG tag changed after commit"
                );
            }
            let instance = cmg.group.instance();
            let lt_after = (cmg.state.lt.version != lt_before).then(|| cmg.state.lt.pairs());
            let lt_version = cmg.state.lt.version;
            let state_digest = digest(&cmg.state);
            self.report_cmg_outcome(index, &command, &outcome, instance);
            self.emit(Event::ReplicaState {
                group: GroupKind::Cmg,
                index,
                digest: state_digest,
            });
            if let Some(members) = lt_after {
                self.emit(Event::LtChanged {
                    version: lt_version,
                    members,
                    index,
                });
            }
            let cancelled = matches!(
                (&command, &outcome),
                (
                    CmgCommand::InitCancelled,
                    CmgOutcome::Fate(Some(crate::cmg::InitFate::Cancelled))
                )
            );
            self.answer_applied(&command, outcome);
            if cancelled {
                // The CMG committed the cancel before any answer: this replica destroys the
                // incarnation now, and the leader tells whoever asked for it.
                let requesters = self
                    .cmg
                    .as_mut()
                    .and_then(|c| c.duties.as_mut())
                    .map(|d| std::mem::take(&mut d.cancel_requesters))
                    .unwrap_or_default();
                let members = self.clear_cancelled_init(instance, true);
                // Every member it knew is told now (fuzz seed 20033506): the cancel's initiator
                // may stop before it tells them, and nothing of the groups is left to reach them.
                let me = self.cfg.addr;
                for to in members
                    .iter()
                    .filter(|a| **a != me && !requesters.contains(*a))
                {
                    self.tell_decided_cancel(*to, instance, "cancelled: the CMG committed it");
                }
                for to in requesters {
                    let ack = Message::CancelAck {
                        init: instance,
                        members: members.clone(),
                        decided: true,
                        unanswered: None,
                    };
                    self.send(to, ack);
                }
                return;
            }
        }
    }

    fn report_cmg_outcome(
        &mut self,
        index: u64,
        command: &CmgCommand,
        outcome: &CmgOutcome,
        instance: crate::types::InstanceId,
    ) {
        match (command, outcome) {
            (_, CmgOutcome::InitApplied(state)) => {
                for (name, addr) in &state.addrs {
                    self.learn_addr(name, *addr);
                }
                self.emit(Event::ClusterInitApplied {
                    instance,
                    tag: state.config.tag.clone(),
                    product: state.product,
                    protocol: state.protocol,
                    ms_version: state.config.ms_version,
                    cmg_nodes: state.config.cmg_nodes.clone(),
                    index,
                });
            }
            (CmgCommand::Join { info, .. }, CmgOutcome::Join(JoinResult::Accepted(_))) => {
                self.emit(Event::Validated {
                    node: info.name.clone(),
                    launch: info.launch,
                    index,
                });
            }
            (CmgCommand::Join { info, .. }, CmgOutcome::Join(JoinResult::Rejected(reason))) => {
                self.emit(Event::JoinRejected {
                    node: info.name.clone(),
                    launch: info.launch,
                    reason: reason.clone(),
                    index,
                });
            }
            (CmgCommand::NodesLeave { nodes }, _) => {
                self.emit(Event::NodesLeft {
                    nodes: nodes.clone(),
                    index,
                });
            }
            (CmgCommand::InitAnswered | CmgCommand::InitCancelled, CmgOutcome::Fate(fate)) => {
                self.emit(Event::InitFateApplied {
                    instance,
                    fate: *fate,
                    index,
                });
            }
            (_, CmgOutcome::MsChanged(Ok((version, nodes)))) => {
                self.emit(Event::MsNodesChanged {
                    version: *version,
                    nodes: nodes.clone(),
                    index,
                });
            }
            _ => {}
        }
    }

    /// The proposer of a command answers whoever asked for it.
    fn answer_applied(&mut self, command: &CmgCommand, outcome: CmgOutcome) {
        // Whoever leads drives the Meta Storage to a newly committed node list, whether or not it
        // proposed the change (its proposer may have lost leadership before it was applied).
        if let CmgOutcome::MsChanged(Ok((version, nodes))) = &outcome {
            if let Some(d) = self.cmg.as_mut().and_then(|c| c.duties.as_mut()) {
                if d.ms_target.as_ref().is_none_or(|(v, _, _)| v < version) {
                    d.ms_target = Some((*version, nodes.clone(), 0));
                }
            }
        }
        if let CmgOutcome::InitApplied(_) = outcome {
            if self.cmg.as_ref().is_some_and(|c| c.group.is_leader()) {
                self.send_cluster_state_to_members(true);
            }
        }
        let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties.as_mut()) else {
            return;
        };
        let key = match command {
            CmgCommand::Join { info, attempt, .. } => {
                PendingKey::Join(info.name.clone(), info.launch, *attempt)
            }
            CmgCommand::JoinReady { info, attempt } => {
                PendingKey::Ready(info.name.clone(), info.launch, *attempt)
            }
            CmgCommand::ChangeMsNodes {
                origin, request, ..
            } => PendingKey::Admin(*origin, *request),
            _ => return,
        };
        let Some(to) = duties.pending.remove(&key) else {
            return;
        };
        match (key, outcome) {
            (PendingKey::Join(_, launch, attempt), CmgOutcome::Join(result)) => {
                let response = Message::JoinResponse {
                    launch,
                    attempt,
                    result,
                };
                self.send(to, response);
            }
            (PendingKey::Ready(_, launch, attempt), CmgOutcome::JoinReady(result)) => {
                let response = Message::JoinReadyResponse {
                    launch,
                    attempt,
                    result,
                };
                self.send(to, response);
            }
            (PendingKey::Admin(origin, request), CmgOutcome::MsChanged(result)) => match result {
                Err(e) => self.send(
                    origin,
                    Message::AdminForwardResult {
                        request,
                        result: Err(e),
                    },
                ),
                Ok((version, _)) => {
                    if let Some(d) = self.cmg.as_mut().and_then(|c| c.duties.as_mut()) {
                        d.admin_waiters.push((to, request, version));
                    }
                    self.drive_ms_target();
                }
            },
            _ => {}
        }
    }

    /// Called when the CMG replica's role, term or leader changed.
    pub(crate) fn on_cmg_role_change(&mut self, change: RoleState) {
        let leader_name = self.name_of_raft_id(change.leader);
        let Some(cmg) = self.cmg.as_mut() else { return };
        let instance = cmg.group.instance();
        let role = role_of(change.role);
        if role == Role::Leader {
            if cmg.duties.as_ref().map(|d| d.term) != Some(change.term) {
                cmg.duties = Some(LeaderDuties {
                    term: change.term,
                    ..Default::default()
                });
                if self.cfg.bug == Some(PlantedBug::ForgetValidatedOnLeaderChange) {
                    cmg.state.validated.clear();
                    cmg.state.validated_attempts.clear();
                }
            }
        } else {
            cmg.duties = None;
        }
        self.emit(Event::RoleChanged {
            group: GroupKind::Cmg,
            instance,
            role,
            term: change.term,
            leader: leader_name,
        });
        if role == Role::Leader {
            self.on_elected();
        }
    }

    fn on_elected(&mut self) {
        self.propose_init_if_needed();
        let Some(cmg) = self.cmg.as_ref() else { return };
        let Some(cluster) = cmg.state.cluster.clone() else {
            return;
        };
        // Remove LT members this node has declared dead.
        let dead: Vec<(NodeName, LaunchId)> = cmg
            .state
            .lt
            .members
            .values()
            .chain(cmg.state.validated.values())
            .filter(|i| self.topo_buried(i))
            .map(|i| (i.name.clone(), i.launch))
            .collect();
        if !dead.is_empty() {
            self.propose_cmg(CmgCommand::NodesLeave { nodes: dead });
        }
        if let Some(d) = self.cmg.as_mut().and_then(|c| c.duties.as_mut()) {
            d.ms_target = Some((
                cluster.config.ms_version,
                cluster.config.ms_nodes.clone(),
                0,
            ));
        }
        self.send_cluster_state_to_all(true);
    }

    fn topo_buried(&self, info: &NodeInfo) -> bool {
        self.is_buried(info.addr, info.launch)
    }

    fn propose_init_if_needed(&mut self) {
        let Some(cmg) = self.cmg.as_mut() else { return };
        let Some(duties) = cmg.duties.as_mut() else {
            return;
        };
        if cmg.state.cluster.is_some() || duties.init_proposed || cmg.state.init_fate.is_some() {
            return;
        }
        let Some(plan) = cmg.plan.clone() else { return };
        duties.init_proposed = cmg.group.propose(encode(&CmgCommand::ClusterInit(plan)));
    }

    /// Proposes a command if this replica leads. False otherwise.
    pub(crate) fn propose_cmg(&mut self, command: CmgCommand) -> bool {
        let Some(cmg) = self.cmg.as_mut() else {
            return false;
        };
        cmg.group.propose(encode(&command))
    }

    /// The leader's duties on every tick.
    pub(crate) fn leader_tick(&mut self) {
        if !self.leads_cmg() {
            return;
        }
        self.propose_init_if_needed();
        self.send_cluster_state_to_all(false);
        self.drive_ms_target();
        self.remove_absent_members();
    }

    /// Whether the LT (or validated-set) entry `info` is a live node in this leader's eyes: the
    /// leader itself, or a member of its physical topology with that launch — or the same address
    /// with a newer launch (a restart, whose join will replace the entry).
    fn present(&self, info: &NodeInfo) -> bool {
        info.addr == self.cfg.addr || self.topo.contains(info.addr)
    }

    /// Decision (down members leave the LT within a bound, docs/spec.md §5; Ignite's new CMG
    /// leader removes LT members missing from its physical topology): once this node's own
    /// topology has had `failure_timeout_ms` to fill (since its admission), the leader proposes
    /// to remove every LT member and validated node whose address is not in its view. With the
    /// removal by failure detection (`on_member_gone`, for members the leader saw die) this
    /// bounds how long a down member stays in the LT whoever leads and whenever it was elected:
    /// see docs/protocol.md, "LT hygiene".
    fn remove_absent_members(&mut self) {
        if self.cfg.bug == Some(PlantedBug::KeepAbsentMembers) {
            // Planted bug: absent members stay in the LT.
            return;
        }
        let now = self.now_ms;
        let Some(admitted_ms) = self.topo.me().map(|me| me.admitted_at_ms) else {
            return;
        };
        if now < admitted_ms + self.timing.failure_timeout_ms {
            return;
        }
        let retry = self.timing.cluster_state_retry_ms;
        let Some(cmg) = self.cmg.as_ref() else { return };
        let Some(duties) = cmg.duties.as_ref() else {
            return;
        };
        let absent: Vec<(NodeName, LaunchId)> = cmg
            .state
            .lt
            .members
            .values()
            .chain(cmg.state.validated.values())
            .filter(|info| !self.present(info))
            .map(|info| (info.name.clone(), info.launch))
            .filter(|key| {
                duties
                    .absent_proposed
                    .get(key)
                    .is_none_or(|at| now >= at + retry)
            })
            .collect();
        if absent.is_empty() {
            return;
        }
        if let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties.as_mut()) {
            duties.absent_proposed.retain(|_, at| now < *at + retry);
            for key in &absent {
                duties.absent_proposed.insert(key.clone(), now);
            }
        }
        self.emit(Event::AbsentMembersRemoved {
            nodes: absent.clone(),
        });
        self.propose_cmg(CmgCommand::NodesLeave { nodes: absent });
    }

    /// Sends the cluster state to every physical member (this node included) outside the LT;
    /// `force` ignores the resend interval.
    fn send_cluster_state_to_all(&mut self, force: bool) {
        if self.cfg.bug == Some(PlantedBug::LeaderStopsClusterState) {
            return;
        }
        self.send_cluster_state_to_members(force);
    }

    fn send_cluster_state_to_members(&mut self, force: bool) {
        let targets: Vec<(NodeName, Addr, LaunchId)> = self.physical_members();
        for (name, addr, launch) in targets {
            self.send_cluster_state(&name, addr, launch, force);
        }
    }

    fn send_cluster_state(&mut self, name: &str, addr: Addr, launch: LaunchId, force: bool) {
        let now = self.now_ms;
        let retry = self.timing.cluster_state_retry_ms;
        let leader = self.info();
        let Some(cmg) = self.cmg.as_mut() else { return };
        let Some(cluster) = cmg.state.cluster.as_ref() else {
            return;
        };
        let Some(duties) = cmg.duties.as_mut() else {
            return;
        };
        if cmg.state.lt.contains(name, launch) {
            duties.notices.remove(&addr);
            return;
        }
        if let Some((sent_launch, sent_ms)) = duties.notices.get(&addr) {
            if !force && *sent_launch == launch && now < sent_ms + retry {
                return;
            }
        }
        duties.notices.insert(addr, (launch, now));
        let notice = ClusterStateNotice {
            term: duties.term,
            leader,
            cmg_instance: cmg.group.instance(),
            cmg_nodes: cluster.config.cmg_nodes.clone(),
            tag: cluster.config.tag.clone(),
        };
        let term = duties.term;
        self.emit(Event::ClusterStateSent {
            to: name.to_string(),
            term,
        });
        self.send(addr, Message::ClusterState(notice));
    }

    /// A member appeared in the physical topology (new, or restarted).
    pub(crate) fn on_member_appeared(&mut self, addr: Addr) {
        self.tell_cancels_to(addr);
        if self.cfg.bug == Some(PlantedBug::LeaderStopsClusterState) {
            return;
        }
        let Some(member) = self.topo.member(addr) else {
            return;
        };
        let info = member.identity.info.clone();
        self.send_cluster_state(&info.name, info.addr, info.launch, true);
    }

    /// A member was removed from the physical topology: the leader removes it from the LT.
    pub(crate) fn on_member_gone(&mut self, name: &str, launch: LaunchId) {
        let Some(cmg) = self.cmg.as_ref() else { return };
        if cmg.duties.is_none() {
            return;
        }
        let known = cmg.state.lt.contains(name, launch)
            || cmg
                .state
                .validated
                .get(name)
                .is_some_and(|v| v.launch == launch);
        if known {
            self.propose_cmg(CmgCommand::NodesLeave {
                nodes: vec![(name.to_string(), launch)],
            });
        }
    }

    fn remember_pending(&mut self, key: PendingKey, to: Addr) -> bool {
        let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties.as_mut()) else {
            return false;
        };
        if let Some(existing) = duties.pending.get_mut(&key) {
            *existing = to;
            return false;
        }
        if duties.pending.len() >= MAX_PENDING {
            return false;
        }
        duties.pending.insert(key, to);
        true
    }

    /// True when this node leads the CMG; otherwise tells the sender who does, if known.
    fn leader_or_redirect(&mut self, from: Addr) -> bool {
        if self.leads_cmg() {
            return true;
        }
        let leader = self.cmg.as_ref().and_then(|c| {
            let id = c.group.role_state().leader;
            self.name_of_raft_id(id)
                .and_then(|n| self.addr_of(&n).map(|a| (n, a)))
        });
        self.send(from, Message::NotLeader { leader });
        false
    }

    /// The address of a live node that holds `info`'s name in the LT or the validated set at
    /// another address. Alive means: this (leader) node itself, or a member of its physical
    /// topology with that entry's launch (not declared dead, not replaced by a restart).
    /// Whether another instance holds `info`'s name (docs/protocol.md, "names are unique among
    /// live nodes"): an LT member or validated node of that name at another address.
    ///
    /// A joiner with an empty vault (`empty_vault`) named like a CMG or Meta Storage voter whose
    /// replica the group knows at another address also meets a namesake there: a voter's Raft
    /// id belongs to the node that hosts its replica, and an empty node is never that node
    /// (fuzz seed 9100015).
    fn namesake(&self, info: &NodeInfo, empty_vault: bool) -> Namesake {
        let Some(cmg) = self.cmg.as_ref() else {
            return Namesake::None;
        };
        let voter_addr = cmg.state.cluster.as_ref().and_then(|c| {
            // Any node that was ever a group voter (named at init, or made a Meta Storage voter
            // since): a Meta Storage change the CMG committed may not have reached the Meta
            // Storage yet, whose voters are then still the old ones (fuzz seed 15006630).
            let voter = c.config.cmg_nodes.contains(&info.name)
                || c.config.ms_nodes.contains(&info.name)
                || c.addrs.contains_key(&info.name);
            if !empty_vault || !voter {
                return None;
            }
            c.addrs
                .get(&info.name)
                .copied()
                .or_else(|| self.addr_of(&info.name))
                .filter(|a| *a != info.addr)
        });
        let mut found = Namesake::None;
        if let Some(addr) = voter_addr {
            let alive = addr == self.cfg.addr
                || self
                    .topo
                    .member(addr)
                    .is_some_and(|m| m.identity.info.name == info.name);
            if alive {
                return Namesake::Alive(addr);
            }
            // Decision (an empty namesake of a voter is refused, dead or alive): it can never
            // be that voter (the voter's replica holds its log), so waiting for the voter's
            // name to be free would be waiting for ever when the voter never comes back.
            return Namesake::Voter(addr);
        }
        let entries = cmg
            .state
            .lt
            .members
            .get(&info.name)
            .into_iter()
            .chain(cmg.state.validated.get(&info.name));
        for entry in entries {
            if entry.addr == info.addr {
                continue;
            }
            let alive = (entry.addr == self.cfg.addr && entry.launch == self.launch)
                || self
                    .topo
                    .member(entry.addr)
                    .is_some_and(|m| m.identity.info.launch == entry.launch);
            if alive {
                return Namesake::Alive(entry.addr);
            }
            found = Namesake::Absent;
        }
        found
    }

    pub(crate) fn on_join_request(
        &mut self,
        from: Addr,
        info: NodeInfo,
        stored: Option<(ClusterTag, u64)>,
        attempt: u64,
    ) {
        if !self.leader_or_redirect(from) {
            return;
        }
        // Decision (names are unique among live nodes, docs/spec.md §5): a join under the name
        // of a live LT member or validated node at another address is refused for good, before
        // any command is proposed and before the name's address is learnt (so no Raft message of
        // the name's replica ever goes to the newcomer). Pre-init refuses such a node first; this
        // is the CMG's line of defence for one that got past a view that lacked the holder.
        //
        // Decision (a leader judges only nodes it sees): a join request from a node missing
        // from this leader's physical topology waits (the joiner resends every
        // join_retry_ms) until the topology admits it. The leader removes absent LT members and
        // validated nodes (LT hygiene); validating one it does not see would be undone at once,
        // and would let its name be judged without its holder (fuzz seed 9100044).
        if !self.present(&info) {
            return;
        }
        let namesake = if self.cfg.bug == Some(PlantedBug::AcceptDuplicateName) {
            // Planted bug: nobody else's hold on the name is looked at.
            Namesake::None
        } else {
            self.namesake(&info, stored.is_none())
        };
        let holder = match namesake {
            Namesake::None => None,
            Namesake::Alive(holder) | Namesake::Voter(holder) => Some(holder),
            // The holder is missing from this leader's view but still holds the name: it may
            // be alive in a part of the topology this leader does not see (a new leader, a
            // topology split). The join waits (the joiner resends every join_retry_ms) until
            // the holder is seen alive (refused) or leaves the LT: by failure detection, or as
            // an absent member within the LT-hygiene bound (then the name is free).
            Namesake::Absent => return,
        };
        if let Some(holder) = holder {
            self.emit(Event::JoinRefusedDuplicateName {
                node: info.name.clone(),
                launch: info.launch,
                holder,
            });
            let result = JoinResult::Rejected(crate::error::RejectionReason::DuplicateName {
                name: info.name.clone(),
                holder,
                joiner: info.addr,
            });
            self.send(
                from,
                Message::JoinResponse {
                    launch: info.launch,
                    attempt,
                    result,
                },
            );
            return;
        }
        // Another launch's join under this name is in flight (proposed, not yet applied): this
        // one waits (it resends every join_retry_ms) and is judged once that one is applied, so
        // two namesakes are never both validated.
        let in_flight = self
            .cmg
            .as_ref()
            .and_then(|c| c.duties.as_ref())
            .is_some_and(|d| {
                d.pending.keys().any(|k| {
                    matches!(k, PendingKey::Join(name, launch, _)
                        if *name == info.name && *launch != info.launch)
                })
            });
        if in_flight {
            return;
        }
        self.learn_addr(&info.name, info.addr);
        let key = PendingKey::Join(info.name.clone(), info.launch, attempt);
        if self.remember_pending(key, from) {
            self.propose_cmg(CmgCommand::Join {
                info,
                stored,
                attempt,
            });
        }
    }

    pub(crate) fn on_join_ready(&mut self, from: Addr, info: NodeInfo, attempt: u64) {
        if !self.leader_or_redirect(from) {
            return;
        }
        // As for join requests: only a node this leader sees.
        if !self.present(&info) {
            return;
        }
        let key = PendingKey::Ready(info.name.clone(), info.launch, attempt);
        if self.remember_pending(key, from) {
            self.propose_cmg(CmgCommand::JoinReady { info, attempt });
        }
    }

    pub(crate) fn on_admin_forward(
        &mut self,
        from: Addr,
        request: RequestId,
        nodes: Vec<NodeName>,
    ) {
        if !self.leads_cmg() {
            return;
        }
        let key = PendingKey::Admin(from, request);
        if self.remember_pending(key, from) {
            self.propose_cmg(CmgCommand::ChangeMsNodes {
                nodes,
                origin: from,
                request,
            });
        }
    }

    /// Asks the Meta Storage to adopt the node list the CMG committed, every `ms_retry_ms` until
    /// a replica confirms. Every member of the physical topology is asked: the Meta Storage
    /// leader may be a new voter, an old one, or a node that is rejoining.
    fn drive_ms_target(&mut self) {
        let now = self.now_ms;
        let retry = self.timing.ms_retry_ms;
        let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties.as_mut()) else {
            return;
        };
        let Some((version, nodes, last)) = duties.ms_target.as_mut() else {
            return;
        };
        if *last != 0 && now < *last + retry {
            return;
        }
        *last = now.max(1);
        let (version, nodes) = (*version, nodes.clone());
        let targets: Vec<Addr> = self
            .physical_members()
            .into_iter()
            .map(|(_, addr, _)| addr)
            .collect();
        for addr in targets {
            self.send(
                addr,
                Message::MsReconfigure {
                    version,
                    nodes: nodes.clone(),
                },
            );
        }
    }

    /// A Meta Storage replica confirmed a version: answer admin commands waiting for it.
    pub(crate) fn on_ms_reconfigured(&mut self, version: u64) {
        let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties.as_mut()) else {
            return;
        };
        if duties
            .ms_target
            .as_ref()
            .is_some_and(|(v, _, _)| *v <= version)
        {
            duties.ms_target = None;
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = duties
            .admin_waiters
            .drain(..)
            .partition(|(_, _, v)| *v <= version);
        duties.admin_waiters = waiting;
        let nodes = self
            .cmg
            .as_ref()
            .and_then(|c| c.state.cluster.as_ref())
            .map(|c| c.config.ms_nodes.clone())
            .unwrap_or_default();
        for (origin, request, v) in ready {
            let result: Result<AdminOutcome, AdminError> = Ok(AdminOutcome::MsReconfigured {
                version: v,
                nodes: nodes.clone(),
            });
            self.send(origin, Message::AdminForwardResult { request, result });
        }
    }
}

impl Node {
    /// The CMG leader of `instance` proposes the init's fate (once per term, while none is
    /// committed): `InitAnswered` when an initiator is about to answer a user, `InitCancelled`
    /// when an initiator cancels. Whichever the log applies first wins.
    pub(crate) fn propose_init_fate(&mut self, instance: crate::types::InstanceId, answered: bool) {
        let Some(cmg) = self.cmg.as_mut() else { return };
        if cmg.group.instance() != instance || cmg.state.init_fate.is_some() {
            return;
        }
        if answered && cmg.state.cluster.is_none() {
            return;
        }
        let Some(duties) = cmg.duties.as_mut() else {
            return;
        };
        if duties.fate_proposed {
            return;
        }
        let command = if answered {
            CmgCommand::InitAnswered
        } else {
            CmgCommand::InitCancelled
        };
        duties.fate_proposed = cmg.group.propose(encode(&command));
    }
}

pub(crate) fn role_of(role: raft::StateRole) -> Role {
    match role {
        raft::StateRole::Leader => Role::Leader,
        raft::StateRole::Follower => Role::Follower,
        raft::StateRole::Candidate | raft::StateRole::PreCandidate => Role::Candidate,
    }
}
