//! The node's routing of its CMG replica (step 3 and the CMG side of step 4): committed entries
//! and role changes go to the [`CmgReplica`](crate::cmg::CmgReplica) component, and what follows
//! is done here — events, answers to whoever asked for an applied command, the leader's duties:
//! propose the cluster-init command, send the cluster state to members outside the logical
//! topology (on commit of init, on every election, when a member appears, and again every
//! `cluster_state_retry_ms`), remove dead and absent members (LT hygiene: the rules are
//! `src/cmg/hygiene.rs`'s, judged by the [`LeaderSight`] gathered here), and drive the Meta
//! Storage to the node list the CMG committed. The leader's join validation is routed in
//! `src/node/cmg_validation.rs`.

use crate::admin::AdminOutcome;
use crate::bugs::PlantedBug;
use crate::cmg::{
    absent_members, dead_members, leaves_on_failure, CmgCommand, CmgOutcome, InitFate, JoinResult,
    LeaderSight, PendingKey,
};
use crate::codec::decode;
use crate::error::AdminError;
use crate::event::{Event, Role};
use crate::marks::Mark;
use crate::message::{ClusterStateNotice, Message};
use crate::node::Node;
use crate::raft_group::{Applied, RoleState};
use crate::topology::MemberRecord;
use crate::types::{Addr, GroupKind, InstanceId, LaunchId};
use std::sync::Arc;

impl Node {
    /// True when this node's CMG replica leads (and does the leader's duties).
    pub(crate) fn leads_cmg(&self) -> bool {
        self.cmg.as_ref().is_some_and(|c| c.leads())
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
            let applied = cmg.apply(&command, self.cfg.bug);
            let instance = applied.instance;
            self.report_cmg_outcome(index, &command, &applied.outcome, instance);
            self.emit(Event::ReplicaState {
                group: GroupKind::Cmg,
                index,
                digest: applied.digest,
            });
            for (node, launch) in applied.revoked {
                self.mark(Mark::ValidationRevoked);
                self.emit(Event::ValidationRevoked {
                    node,
                    launch,
                    index,
                });
            }
            if let Some(members) = applied.lt_after {
                self.emit(Event::LtChanged {
                    version: applied.lt_version,
                    members,
                    index,
                });
            }
            let outcome = applied.outcome;
            if matches!(outcome, CmgOutcome::Fate(Some(InitFate::Answered))) {
                // The init was answered to a user: a cancel of it is no longer under way here,
                // and another init is judged against it again (idempotence).
                self.under_way.end(instance);
            }
            let cancelled = matches!(
                (&command, &outcome),
                (
                    CmgCommand::InitCancelled,
                    CmgOutcome::Fate(Some(InitFate::Cancelled))
                )
            );
            self.answer_applied(&command, outcome);
            if cancelled {
                // The CMG committed the cancel before any answer: this replica destroys the
                // incarnation now, and the leader tells whoever asked for it.
                let requesters = self
                    .cmg
                    .as_mut()
                    .and_then(|c| c.duties_mut())
                    .map(|d| d.take_cancel_requesters())
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
        instance: InstanceId,
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
                self.ask_own_status(instance);
            }
            (CmgCommand::Join { info, .. }, CmgOutcome::JoinAccepted) => {
                // The cluster now knows the name at this address (`learn_addr`: the CMG says
                // who a name is in its cluster).
                self.learn_addr(&info.name, info.addr);
                self.mark(Mark::JoinValidated);
                self.emit(Event::Validated {
                    node: info.name.clone(),
                    launch: info.launch,
                    index,
                });
            }
            (CmgCommand::Join { info, .. }, CmgOutcome::Join(JoinResult::Rejected(reason))) => {
                if let Some(mark) = Mark::of_join_rejection(reason) {
                    self.mark(mark);
                }
                self.emit(Event::JoinRejected {
                    node: info.name.clone(),
                    launch: info.launch,
                    reason: reason.clone(),
                    index,
                });
            }
            (CmgCommand::NodesLeave { nodes }, _) => {
                self.mark(Mark::NodesLeftLt);
                self.emit(Event::NodesLeft {
                    nodes: nodes.clone(),
                    index,
                });
            }
            (CmgCommand::InitAnswered | CmgCommand::InitCancelled, CmgOutcome::Fate(fate)) => {
                match fate {
                    Some(InitFate::Answered) => self.mark(Mark::InitFateAnswered),
                    Some(InitFate::Cancelled) => self.mark(Mark::InitFateCancelled),
                    None => {}
                }
                self.emit(Event::InitFateApplied {
                    instance,
                    fate: *fate,
                    index,
                });
                self.ask_own_status(instance);
            }
            (_, CmgOutcome::MsChanged(Ok((version, nodes)))) => {
                self.mark(Mark::MsReconfigured);
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
            if let Some(d) = self.cmg.as_mut().and_then(|c| c.duties_mut()) {
                d.raise_ms_target(*version, nodes);
            }
        }
        if let CmgOutcome::InitApplied(_) = outcome {
            if self.cmg.as_ref().is_some_and(|c| c.group().is_leader()) {
                self.send_cluster_state_to_members(true);
            }
        }
        let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties_mut()) else {
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
        let Some(to) = duties.take_pending(&key) else {
            return;
        };
        let outcome = match outcome {
            // The acceptance is built here, by the leader that answers, from the state the join
            // was applied to (nothing was applied since).
            CmgOutcome::JoinAccepted => {
                let accept = self.cmg.as_ref().and_then(|c| c.state().join_accept());
                CmgOutcome::Join(JoinResult::Accepted(
                    accept.expect("a validated join has a committed cluster"),
                ))
            }
            other => other,
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
                    if let Some(d) = self.cmg.as_mut().and_then(|c| c.duties_mut()) {
                        d.wait_for_ms(to, request, version);
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
        let bug = self.cfg.bug;
        let Some(cmg) = self.cmg.as_mut() else { return };
        let instance = cmg.group().instance();
        let role = cmg.role_changed(change, bug);
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
        if let Some(cmg) = self.cmg.as_mut() {
            cmg.propose_init_if_needed();
        }
        let Some(cmg) = self.cmg.as_ref() else { return };
        let Some(cluster) = cmg.state().cluster.clone() else {
            return;
        };
        // Remove LT members this node has declared dead.
        let dead = dead_members(cmg.state(), &self.leader_sight(), self.cfg.bug);
        if !dead.is_empty() {
            self.propose_cmg(CmgCommand::NodesLeave { nodes: dead });
        }
        if let Some(d) = self.cmg.as_mut().and_then(|c| c.duties_mut()) {
            d.set_ms_target(cluster.config.ms_version, cluster.config.ms_nodes.clone());
        }
        self.send_cluster_state_to_all(true);
    }

    /// Proposes a command if this replica leads. False otherwise.
    pub(crate) fn propose_cmg(&mut self, command: CmgCommand) -> bool {
        let Some(cmg) = self.cmg.as_mut() else {
            return false;
        };
        cmg.propose(&command)
    }

    /// The leader's duties on every tick.
    pub(crate) fn leader_tick(&mut self) {
        if !self.leads_cmg() {
            return;
        }
        if let Some(cmg) = self.cmg.as_mut() {
            cmg.propose_init_if_needed();
        }
        self.send_cluster_state_to_all(false);
        self.drive_ms_target();
        self.remove_absent_members();
    }

    /// What this node sees of its physical topology, as the facts the CMG leader's rules judge
    /// by (`src/cmg/sight.rs`).
    pub(super) fn leader_sight(&self) -> LeaderSight<'_> {
        LeaderSight {
            me: self.cfg.addr,
            launch: self.launch,
            admitted_at_ms: self.topo.me().map(|me| me.admitted_at_ms),
            members: self
                .topo
                .records()
                .map(|r| (r.addr(), (r.identity.info.name.as_str(), r.launch())))
                .collect(),
            buried: self.topo.tombstones(),
            silent: std::collections::BTreeSet::new(),
        }
    }

    /// LT hygiene on every tick: the leader proposes to remove the absent LT members and
    /// validated nodes the rule names (`cmg::absent_members`, docs/protocol.md "LT hygiene").
    fn remove_absent_members(&mut self) {
        let now = self.now_ms;
        let retry = self.timing.cluster_state_retry_ms;
        let Some(cmg) = self.cmg.as_ref() else { return };
        let Some(duties) = cmg.duties() else {
            return;
        };
        let sight = self.leader_sight();
        let absent = absent_members(cmg.state(), duties, &sight, now, &self.timing, self.cfg.bug);
        if absent.is_empty() {
            return;
        }
        if let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties_mut()) {
            duties.note_absent_proposed(&absent, now, retry);
        }
        self.mark(Mark::AbsentMembersRemoved);
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
        // The records are shared, not copied: this runs at every tick of a CMG leader.
        let (me, addr, launch) = (self.cfg.name.clone(), self.cfg.addr, self.launch);
        self.send_cluster_state(&me, addr, launch, force);
        let members: Vec<Arc<MemberRecord>> = self.topo.shared_records().collect();
        for member in members {
            let info = &member.identity.info;
            self.send_cluster_state(&info.name, info.addr, info.launch, force);
        }
    }

    fn send_cluster_state(&mut self, name: &str, addr: Addr, launch: LaunchId, force: bool) {
        let now = self.now_ms;
        let retry = self.timing.cluster_state_retry_ms;
        let bug = self.cfg.bug;
        let Some(cmg) = self.cmg.as_mut() else { return };
        let cmg_instance = cmg.group().instance();
        let (state, duties) = cmg.state_and_duties_mut();
        let Some(cluster) = state.cluster.as_ref() else {
            return;
        };
        let Some(duties) = duties else {
            return;
        };
        // Decision (a notice says whether its receiver is a member, fuzz seeds 31100691 and
        // 31101701): LT members get the notice too, but only when it is forced — at this
        // leader's election and when the member appears in its view — never every
        // `cluster_state_retry_ms`: a member whose join ready answer was lost (its leader moved
        // or died) learns it joined.
        let member = if bug == Some(PlantedBug::AcceptLtMemberName) {
            // Planted bug: membership judged by the name alone (IGNITE-23934).
            state.lt.members.contains_key(name)
        } else {
            state.lt.contains(name, launch)
        };
        if member {
            duties.forget_notice(addr);
            if !force {
                return;
            }
        } else if !duties.notice_due(addr, launch, now, retry, force) {
            return;
        }
        let term = duties.term();
        let (cmg_nodes, tag) = (cluster.config.cmg_nodes.clone(), cluster.config.tag.clone());
        let lt_version = state.lt.version;
        let notice = ClusterStateNotice {
            term,
            leader: self.info(),
            cmg_instance,
            cmg_nodes,
            tag,
            lt_version,
            member,
            receiver_launch: launch,
        };
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
        if !cmg.leads() {
            return;
        }
        if leaves_on_failure(cmg.state(), name, launch) {
            self.propose_cmg(CmgCommand::NodesLeave {
                nodes: vec![(name.to_string(), launch)],
            });
        }
    }

    /// Asks the Meta Storage to adopt the node list the CMG committed, every `ms_retry_ms` until
    /// a replica confirms. Every member of the physical topology is asked: the Meta Storage
    /// leader may be a new voter, an old one, or a node that is rejoining.
    fn drive_ms_target(&mut self) {
        let now = self.now_ms;
        let retry = self.timing.ms_retry_ms;
        let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties_mut()) else {
            return;
        };
        let Some((version, nodes)) = duties.ms_target_due(now, retry) else {
            return;
        };
        // The Meta Storage incarnation is the cluster's (one init id for both groups).
        let Some(instance) = self
            .cmg
            .as_ref()
            .and_then(|c| c.state().cluster.as_ref())
            .map(|c| c.instance)
        else {
            return;
        };
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
                    instance,
                },
            );
        }
    }

    /// A Meta Storage replica of this cluster's incarnation confirmed a version: answer admin
    /// commands waiting for it (a replica of another cluster's Meta Storage confirms nothing).
    pub(crate) fn on_ms_reconfigured(&mut self, version: u64, instance: InstanceId) {
        let ours = self
            .cmg
            .as_ref()
            .and_then(|c| c.state().cluster.as_ref())
            .is_some_and(|c| c.instance == instance);
        if !ours {
            return;
        }
        let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties_mut()) else {
            return;
        };
        let ready = duties.ms_confirmed(version);
        let nodes = self
            .cmg
            .as_ref()
            .and_then(|c| c.state().cluster.as_ref())
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

    /// The CMG leader of `instance` proposes the init's fate (once per term, while none is
    /// committed): `InitAnswered` when an initiator is about to answer a user, `InitCancelled`
    /// when an initiator cancels. Whichever the log applies first wins.
    pub(crate) fn propose_init_fate(&mut self, instance: InstanceId, answered: bool) {
        if let Some(cmg) = self.cmg.as_mut() {
            cmg.propose_fate(instance, answered);
        }
    }
}
