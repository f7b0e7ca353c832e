//! The node's routing of the join (step 4, the joining node's side): cluster states, join and
//! join-ready answers, leader redirects and the join's timers go to the
//! [`Joiner`](crate::join::Joiner) component, and what its decisions imply — events, the join
//! messages, the stored cluster and the replicas of an accepted node, the learner asks of a
//! recovering node, the cancel queries, a halt — is done here. The join's rules are in
//! `src/join.rs`, a cluster state's handling (stale, foreign, followed) in
//! `src/join/cluster_state.rs`; the facts about the node's own cluster it judges by are
//! gathered in `src/node/membership.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::cluster_config::ClusterConfig;
use crate::cmg::{JoinAccept, JoinResult};
use crate::error::{JoinReadyRefusal, Rejection, RejectionStage};
use crate::event::Event;
use crate::init_command::InitCommand;
use crate::join::{ClusterStateFacts, ClusterStateStep, JoinSend, JOIN_REPLY_KINDS};
use crate::marks::Mark;
use crate::message::{ClusterStateNotice, Message, MessageKind};
use crate::node::Node;
use crate::raft_group::RaftGroup;
use crate::topology::MemberRecord;
use crate::types::{raft_id, Addr, GroupKind, LaunchId, NodeName};
use crate::vault::{GroupRecord, LocalState, VaultWrite};

/// Every how many learner asks a recovering node asks every member of its physical topology
/// rather than only the Meta Storage voters it knows of (for a former voter that still leads
/// for a moment after a reconfiguration): 4, so at most `4 × ms_retry_ms` pass before such a
/// leader hears the ask.
pub(crate) const LEARNER_ASK_WIDE_EVERY: u64 = 4;

impl Node {
    /// The cluster the node followed is gone: it waits for a cluster state again.
    pub(crate) fn reset_join(&mut self) {
        self.joiner.reset(self.now_ms);
    }

    /// A message of `kind` from `from` arrived: the joiner remembers it when it is a message
    /// of the join ([`JOIN_REPLY_KINDS`]), for a reader (`NodeView::join_progress`). It decides
    /// nothing.
    pub(crate) fn note_join_reply(&mut self, from: Addr, kind: MessageKind) {
        if !JOIN_REPLY_KINDS.contains(&kind) {
            return;
        }
        let peer = self.name_of_addr(from).unwrap_or_else(|| from.to_string());
        self.joiner.received(kind, peer, self.now_ms);
    }

    /// A cluster state reached the node: the joiner's rule (`Joiner::on_cluster_state`,
    /// `src/join/cluster_state.rs`) decides from what the other components know, and this
    /// carries out its step.
    pub(crate) fn on_cluster_state(&mut self, mut notice: ClusterStateNotice) {
        // A notice judged for an earlier launch at this address says nothing of this one's
        // membership (`ClusterStateNotice::receiver_launch`).
        notice.member &= notice.receiver_launch == self.launch;
        let facts = ClusterStateFacts {
            admitted: self.topo.is_admitted(),
            cancelled: self.cancelled.decided(notice.cmg_instance),
            own: self.own_cluster(),
        };
        let was_joined = self.joiner.is_joined();
        let step = self
            .joiner
            .on_cluster_state(&notice, &facts, self.now_ms, &self.timing);
        let (stale, foreign) = match step {
            ClusterStateStep::NotAdmitted => return,
            ClusterStateStep::TellCancelled { decided } => {
                self.mark(Mark::CancelToldToLeaderOfCancelledCluster);
                // A leader of a cluster whose init this node cancelled on its side: that replica
                // missed the cancel (it was out of reach, or its initiator died). It is told now,
                // and this node does not join a cluster that no longer exists — unless the
                // leader answers that the init was answered to a user (`CancelRefused`).
                let init = notice.cmg_instance;
                let reason = "cancelled: its cluster state reached a node that cancelled it".into();
                let cancel = Message::CancelInit {
                    init,
                    reason,
                    decided,
                };
                self.send(notice.leader.addr, cancel);
                return;
            }
            ClusterStateStep::Stale => (true, false),
            ClusterStateStep::Foreign => (false, true),
            ClusterStateStep::Follow(_) => (false, false),
        };
        self.emit(Event::ClusterStateReceived {
            leader: notice.leader.name.clone(),
            term: notice.term,
            stale,
            foreign,
        });
        if stale {
            self.mark(Mark::ClusterStateStale);
        }
        if foreign {
            self.mark(Mark::ClusterStateForeign);
            self.ask_if_cancelled(false);
        }
        if let ClusterStateStep::Follow(next) = step {
            self.learn_addr(&notice.leader.name, notice.leader.addr);
            if !was_joined && self.joiner.is_joined() {
                // The leader has it in its LT: its join ready's answer was lost.
                self.mark(Mark::JoinedViaClusterState);
                self.emit(Event::Joined {
                    lt_version: notice.lt_version,
                });
            }
            // Decision (a recovering node asks again, docs/protocol.md): `Joiner::follow` may
            // start a new join attempt for a node that has been catching up for a failure
            // timeout (fuzz seeds 9100376, 9100636).
            if let Some(next) = next {
                self.send_to_leader(next);
            }
        }
    }

    /// Decision (a cancelled member learns it from any node that knows, fuzz seed 9200472): an
    /// initialized node that another cluster's leader reaches — its own cluster looks alive to
    /// it, so it ignores that leader — asks every member of its view that holds another tag
    /// whether its init was cancelled (`CancelQuery`; once per cluster state, which the leader
    /// resends every `cluster_state_retry_ms`). A node that remembers a decided cancel of it
    /// answers with the decided `CancelInit`, and this node clears the cancelled cluster.
    ///
    /// `everyone`: ask every member of the view, whatever tag its handshake showed (a joined
    /// node whose own groups went silent).
    fn ask_if_cancelled(&mut self, everyone: bool) {
        // Its stored cluster, or (a CMG replica that never joined, fuzz seed 13021790) the
        // incarnation of the replica it hosts.
        let held = match (self.local.as_ref(), self.cmg.as_ref()) {
            (Some(local), _) => Some((local.cmg_instance, Some(local.config.tag.clone()))),
            (None, Some(cmg)) => Some((
                cmg.group().instance(),
                cmg.state().cluster.as_ref().map(|c| c.config.tag.clone()),
            )),
            (None, None) => None,
        };
        let Some((init, tag)) = held else {
            return;
        };
        self.mark(Mark::CancelQuerySent);
        self.joiner.cancel_query_sent(self.now_ms);
        let asked: Vec<Addr> = self
            .topo
            .records()
            .filter(|r| everyone || tag.is_none() || r.identity.tag != tag)
            .map(|r| r.addr())
            .collect();
        for addr in asked {
            self.send(addr, Message::CancelQuery { init });
        }
    }

    /// Where a join resend goes when the joiner's leader has left the view: the first CMG voter
    /// of the followed cluster (in its cluster state's order) that the view holds, other than
    /// the gone leader and this node. `None`: the leader is in the view (or is this node), or
    /// no such voter is.
    fn voter_in_sight(&self) -> Option<(NodeName, Addr)> {
        let (leader, addr) = self.joiner.leader()?;
        if *leader == self.cfg.name || self.topo.member(*addr).is_some() {
            return None;
        }
        self.joiner
            .voters()
            .iter()
            .filter(|v| *v != leader && **v != self.cfg.name)
            .find_map(|v| {
                self.topo
                    .records()
                    .find(|r| r.identity.info.name == *v && self.of_followed_cluster(r))
                    .map(|r| (v.clone(), r.addr()))
            })
    }

    /// True when `record` is a node of the cluster the joiner follows: it holds that cluster's
    /// tag, or hosts a replica of its CMG incarnation (a voter that moved before its init
    /// committed). A namesake of another cluster, or an empty duplicate, is not asked and not
    /// followed (`voter_in_sight`, `Joiner::leader_moved`).
    pub(crate) fn of_followed_cluster(&self, record: &MemberRecord) -> bool {
        let Some((tag, instance)) = self.joiner.cluster() else {
            return false;
        };
        record.identity.tag.as_ref() == Some(tag) || record.identity.replica_of == Some(*instance)
    }

    fn send_to_leader(&mut self, what: JoinSend) {
        match what {
            JoinSend::Request => self.send_join_request(),
            JoinSend::Ready => self.send_join_ready(),
        }
    }

    fn send_join_request(&mut self) {
        let stored = self
            .local
            .as_ref()
            .map(|l| (l.config.tag.clone(), l.config.ms_version));
        let Some(to) = self.joiner.sending(JoinSend::Request, self.now_ms) else {
            return;
        };
        self.emit(Event::JoinRequestSent {
            leader: to.name,
            stored: stored.clone(),
        });
        let info = self.info();
        let request = Message::JoinRequest {
            info,
            stored,
            replica_of: self.hosted_replica(),
            attempt: to.attempt,
        };
        self.send(to.addr, request);
    }

    fn send_join_ready(&mut self) {
        let Some(to) = self.joiner.sending(JoinSend::Ready, self.now_ms) else {
            return;
        };
        self.emit(Event::JoinReadySent { leader: to.name });
        let info = self.info();
        let attempt = to.attempt;
        self.send(to.addr, Message::JoinReady { info, attempt });
    }

    pub(crate) fn on_not_leader(&mut self, from: Addr, leader: Option<(NodeName, Addr)>) {
        let Some(hint) = leader else { return };
        let (name, addr) = (hint.0.clone(), hint.1);
        if !self.joiner.redirect(from, hint) {
            return;
        }
        self.mark(Mark::JoinRedirected);
        self.learn_addr(&name, addr);
        if let Some(next) = self.joiner.awaiting() {
            self.send_to_leader(next);
        }
    }

    pub(crate) fn on_join_response(&mut self, launch: LaunchId, attempt: u64, result: JoinResult) {
        if launch != self.launch || !self.joiner.expects_response(attempt) {
            return;
        }
        match result {
            JoinResult::RetryLater => {}
            JoinResult::StaleAttempt => {
                // Its validation was revoked: a new attempt, so that only a join ready sent
                // after the new validation counts (docs/protocol.md Step 4).
                self.mark(Mark::JoinAttemptStale);
                self.emit(Event::JoinAttemptStale { attempt });
                self.joiner.attempt_revoked(self.now_ms);
                self.send_join_request();
            }
            JoinResult::Rejected(reason) => {
                let by = self.joiner.leader_name();
                self.halt(Rejection {
                    stage: RejectionStage::Join,
                    by,
                    reason,
                });
            }
            JoinResult::Accepted(accept) if self.cancelled.contains(accept.instance) => {
                self.mark(Mark::AcceptanceOfCancelledInitIgnored);
            }
            JoinResult::Accepted(accept) => self.on_join_accepted(accept),
        }
    }

    fn on_join_accepted(&mut self, accept: JoinAccept) {
        let stored = self.local.as_ref().map(|l| l.config.ms_version);
        let ms_version = stored.unwrap_or(0).max(accept.config.ms_version);
        let new_local = LocalState {
            config: ClusterConfig {
                tag: accept.config.tag.clone(),
                cmg_nodes: accept.config.cmg_nodes.clone(),
                ms_nodes: if ms_version > accept.config.ms_version {
                    self.local
                        .as_ref()
                        .map(|l| l.config.ms_nodes.clone())
                        .unwrap_or_else(|| accept.config.ms_nodes.clone())
                } else {
                    accept.config.ms_nodes.clone()
                },
                ms_version,
            },
            cmg_instance: accept.instance,
            ms_instance: accept.instance,
            init: InitCommand::of_cluster(&accept.config, &accept.initial_ms_nodes),
        };
        if stored.is_some_and(|x| x < accept.config.ms_version) {
            self.mark(Mark::StaleMsCatchUp);
        }
        self.emit(Event::JoinAccepted {
            tag: accept.config.tag.clone(),
            stored_ms_version: stored,
            cluster_ms_version: accept.config.ms_version,
        });
        if self.local.as_deref() != Some(&new_local) {
            if stored != Some(ms_version) {
                self.emit(Event::MsVersionStored {
                    from: stored,
                    to: ms_version,
                });
            }
            self.local = Some(Arc::new(new_local.clone()));
            self.write(VaultWrite::SetLocal(new_local));
        }
        for (name, addr) in &accept.addrs {
            self.learn_addr(name, *addr);
        }
        let me = self.cfg.name.clone();
        let hosted_cmg = self.cmg.as_ref().map(|c| c.group().instance());
        if accept.config.cmg_nodes.contains(&me) && hosted_cmg != Some(accept.instance) {
            self.replace_group(
                GroupKind::Cmg,
                RaftGroup::empty_record(accept.instance, accept.config.cmg_nodes.clone()),
            );
        } else if let Some(other) = hosted_cmg.filter(|i| *i != accept.instance) {
            // A node belongs to one cluster: a stray replica of another init goes.
            self.destroy_group(GroupKind::Cmg, other);
        }
        if self.ms.as_ref().map(|m| m.instance()) != Some(accept.instance) {
            self.replace_group(
                GroupKind::Ms,
                RaftGroup::empty_record(accept.instance, accept.initial_ms_nodes.clone()),
            );
        }
        // The cluster's word on where its group voters listen, for the groups' own messages
        // (`peer_named`): the address book may hold a voter's name at another cluster's
        // namesake.
        for (name, addr) in &accept.addrs {
            self.peer_named(accept.instance, name, *addr);
        }
        self.joiner.accepted(accept.config.ms_version, self.now_ms);
        self.check_recovery();
    }

    fn replace_group(&mut self, kind: GroupKind, record: GroupRecord) {
        let old = match kind {
            GroupKind::Cmg => self.cmg.as_ref().map(|c| c.group().instance()),
            GroupKind::Ms => self.ms.as_ref().map(|m| m.instance()),
        };
        if let Some(old) = old {
            self.destroy_group(kind, old);
        }
        self.create_group(kind, record);
    }

    /// A recovering node whose Meta Storage has caught up sends join ready; one that is not yet
    /// in the Meta Storage's configuration asks to be added as a learner.
    pub(crate) fn check_recovery(&mut self) {
        let Some(target_ms_version) = self.joiner.recovery_target() else {
            return;
        };
        let me = raft_id(&self.cfg.name);
        let Some(ms) = self.ms.as_ref() else { return };
        let member = ms.holds(me);
        let version = ms.state().version;
        if member && version >= target_ms_version {
            self.mark(Mark::RecoveryFinished);
            self.emit(Event::RecoveryFinished {
                ms_version: version,
            });
            self.joiner.recovered(self.now_ms);
            self.send_join_ready();
            return;
        }
        if member {
            return;
        }
        if let Some(asked) = self
            .joiner
            .learner_ask_due(self.now_ms, self.timing.ms_retry_ms)
        {
            // Only the leader acts, and it is a Meta Storage voter — but for a moment after a
            // reconfiguration, when a former voter may still lead. **Decision (learner requests
            // to the voters, issue 13):** ask the voters this node knows of, at the addresses
            // its group knows them by (`peer_addr`: not a namesake of another cluster); every
            // `LEARNER_ASK_WIDE_EVERY`-th ask, or when no voter's address is known, ask every
            // member of the physical topology. (Asking every member every time made the asks
            // grow as n² and half of all deliveries at 50 nodes.)
            let name = self.cfg.name.clone();
            let instance = ms.instance();
            let mut voters: BTreeSet<&str> = ms.state().nodes.iter().map(String::as_str).collect();
            if let Some(local) = &self.local {
                voters.extend(local.config.ms_nodes.iter().map(String::as_str));
            }
            let voter_addrs: Vec<Addr> = voters
                .into_iter()
                .filter(|v| *v != self.cfg.name)
                .filter_map(|v| self.peer_addr(instance, v))
                .collect::<BTreeSet<Addr>>()
                .into_iter()
                .collect();
            self.mark(Mark::RecoveryAskedForLearner);
            let wide = voter_addrs.is_empty()
                || asked % LEARNER_ASK_WIDE_EVERY == LEARNER_ASK_WIDE_EVERY - 1;
            let members: Vec<Addr> = if wide { self.topo.addrs() } else { voter_addrs };
            for addr in members {
                self.send(
                    addr,
                    Message::MsAddLearner {
                        name: name.clone(),
                        instance,
                    },
                );
            }
        }
    }

    pub(crate) fn on_join_ready_response(
        &mut self,
        launch: LaunchId,
        attempt: u64,
        result: Result<u64, JoinReadyRefusal>,
    ) {
        if launch != self.launch || !self.joiner.expects_ready_response(attempt) {
            return;
        }
        match result {
            Ok(lt_version) => {
                self.joiner.joined(lt_version, self.now_ms);
                self.mark(Mark::JoinedViaJoinReady);
                self.emit(Event::Joined { lt_version });
            }
            Err(refusal) => {
                self.mark(Mark::JoinReadyRefused);
                self.emit(Event::JoinReadyRefused {
                    reason: refusal.to_string(),
                });
                self.joiner.ready_refused(self.now_ms);
                self.send_join_request();
            }
        }
    }

    pub(crate) fn join_tick(&mut self) {
        if self.own_cmg_in_sight() {
            self.own_cmg_seen_ms = self.now_ms;
        }
        match self
            .joiner
            .resend_due(self.now_ms, self.timing.join_retry_ms)
        {
            Some(next) => {
                if let Some(voter) = self.voter_in_sight() {
                    self.joiner.ask_voter(voter);
                }
                self.send_to_leader(next)
            }
            // A recovering node checks its Meta Storage (any other phase: nothing to do).
            None => self.check_recovery(),
        }
        // An initialized node that has not joined for a failure timeout asks too: its CMG may
        // be a cancelled init's (fuzz seed 3807: its other voter cleared it while it was down).
        let waited = self
            .joiner
            .cancel_query_waited(self.now_ms, self.timing.failure_timeout_ms);
        if waited && !self.joiner.is_joined() {
            self.ask_if_cancelled(false);
        }
        // A joined node whose Meta Storage group has been silent for two failure timeouts asks
        // every member (fuzz seed 20033506): the replicas that applied a committed cancel
        // destroyed the groups at once, so nothing else would ever reach it, and the members
        // that cleared it no longer hold the tag the filter above looks for.
        let silent_ms = 2 * self.timing.failure_timeout_ms;
        let now_ms = self.now_ms;
        let silent = self
            .ms
            .as_mut()
            .is_some_and(|ms| ms.silent(now_ms, silent_ms));
        if waited && silent && self.joiner.is_joined() {
            self.ask_if_cancelled(true);
        }
    }

    /// Stops the node for good: it reports the reason, leaves the physical topology and ignores
    /// everything from now on. Its vault is kept (an operator decides what to do with it).
    pub(crate) fn halt(&mut self, rejection: Rejection) {
        if self.is_stopped() {
            return;
        }
        self.mark(match rejection.stage {
            RejectionStage::PreInit => Mark::HaltedAtPreInit,
            RejectionStage::Join => Mark::HaltedAtJoin,
        });
        self.emit(Event::Halted {
            rejection: rejection.clone(),
        });
        self.halted = Some(rejection);
        let members: Vec<Addr> = self.topo.addrs();
        for addr in members {
            self.send(addr, Message::Leaving);
        }
        self.cmg = None;
        self.ms = None;
        self.answer_all_stopped();
    }
}

#[cfg(test)]
mod tests;
