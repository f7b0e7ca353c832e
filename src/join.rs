//! Step 4, the joining node's side: on the cluster state it sends a join request to the CMG
//! leader; once validated it stores the tag (it is now initialized), starts its Meta Storage part,
//! catches up, and sends join ready; it is joined when the CMG puts it in the logical topology.
//! A rejection is final: the node stops and leaves the physical topology.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::bugs::PlantedBug;
use crate::cluster_config::ClusterConfig;
use crate::cmg::{JoinAccept, JoinResult};
use crate::error::{JoinReadyRefusal, Rejection, RejectionStage};
use crate::event::Event;
use crate::message::{ClusterStateNotice, Message};
use crate::node::Node;
use crate::raft_group::RaftGroup;
use crate::types::{raft_id, Addr, ClusterTag, GroupKind, LaunchId, NodeName};
use crate::vault::{LocalState, VaultWrite};

/// How many cluster tags a node remembers the highest leader term of.
const MAX_TAGS_REMEMBERED: usize = 16;

/// Where a node stands in its join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinPhase {
    /// Waiting for a CMG leader's cluster state (an empty node: waiting for init).
    Waiting,
    /// Join request sent; waiting for validation.
    Requesting,
    /// Validated; catching up the Meta Storage to `target_ms_version`.
    Recovering {
        /// The cluster's Meta Storage version at validation.
        target_ms_version: u64,
    },
    /// Join ready sent.
    ReadySent,
    /// In the logical topology.
    Joined {
        /// The LT version that included it.
        lt_version: u64,
    },
}

/// The joining node's state.
#[derive(Clone, Debug)]
pub(crate) struct Joiner {
    pub phase: JoinPhase,
    /// The CMG leader it talks to.
    pub leader: Option<(NodeName, Addr)>,
    /// Highest leader term seen per cluster tag.
    terms: BTreeMap<ClusterTag, u64>,
    /// The cluster (tag, CMG incarnation) it follows.
    pub cluster: Option<(ClusterTag, crate::types::InstanceId)>,
    last_sent_ms: u64,
    last_learner_ask_ms: u64,
    /// When it last asked its view whether its init was cancelled (`ask_if_cancelled`).
    last_cancel_query_ms: u64,
    /// This launch's join attempt: a new one each time the node starts asking to be validated.
    pub attempt: u64,
}

impl Joiner {
    pub fn new() -> Joiner {
        Joiner {
            phase: JoinPhase::Waiting,
            leader: None,
            terms: BTreeMap::new(),
            cluster: None,
            last_sent_ms: 0,
            last_learner_ask_ms: 0,
            last_cancel_query_ms: 0,
            attempt: 0,
        }
    }
}

impl Node {
    pub(crate) fn reset_join(&mut self) {
        self.joiner.phase = JoinPhase::Waiting;
        self.joiner.leader = None;
        self.joiner.cluster = None;
    }

    /// True when a majority of this node's own cluster's CMG voters (itself included) is in its
    /// physical topology.
    pub(crate) fn own_cmg_in_sight(&self) -> bool {
        let Some(local) = &self.local else {
            return false;
        };
        let members = self.physical_members();
        let visible = local
            .config
            .cmg_nodes
            .iter()
            .filter(|n| members.iter().any(|(m, _, _)| m == *n))
            .count();
        visible > local.config.cmg_nodes.len() / 2
    }

    /// True when this node is a member of a live cluster of its own: initialized, and accepted by
    /// its cluster, or hosting a replica that knows a leader, or with a majority of its cluster's
    /// CMG voters in sight — or just started from its vault, within the `2 * failure_timeout_ms`
    /// its own CMG is given to come into sight (the same grace as for following another
    /// cluster's leader).
    pub(crate) fn member_of_live_cluster(&self) -> bool {
        // Planted bug: no grace after a start from the vault (for a cancel to reach the node).
        let young = self.now_ms < self.own_cmg_seen_ms + 2 * self.timing.failure_timeout_ms
            && self.cfg.bug != Some(PlantedBug::CancelledMemberHalts);
        self.local.is_some() && (young || self.member_of_established_cluster())
    }

    /// True when this node is a member of a live cluster of its own by what it has seen, not
    /// by the grace after a start: initialized, and accepted by its cluster, or hosting a
    /// replica that knows a leader, or with a majority of its cluster's CMG voters in sight.
    pub(crate) fn member_of_established_cluster(&self) -> bool {
        let accepted = matches!(
            self.joiner.phase,
            JoinPhase::Recovering { .. } | JoinPhase::ReadySent | JoinPhase::Joined { .. }
        );
        self.local.is_some()
            && (accepted || self.hosted_group_has_leader() || self.own_cmg_in_sight())
    }

    /// The init's fate in this node's CMG replica of its own cluster (the replica's incarnation
    /// and committed tag are its local state's): `None` when it hosts no such replica, else the
    /// fate its log holds (`Some(None)`: undecided).
    fn own_cluster_fate(&self) -> Option<Option<crate::cmg::InitFate>> {
        let (Some(local), Some(cmg)) = (&self.local, &self.cmg) else {
            return None;
        };
        let own = cmg.group.instance() == local.cmg_instance
            && cmg
                .state
                .cluster
                .as_ref()
                .is_some_and(|c| c.config.tag == local.config.tag);
        own.then_some(cmg.state.init_fate)
    }

    /// True when this node is a CMG voter of its own cluster and its log says the init was
    /// answered to a user.
    pub(crate) fn voter_of_answered_cluster(&self) -> bool {
        self.own_cluster_fate() == Some(Some(crate::cmg::InitFate::Answered))
    }

    /// True when this node hosts a CMG replica whose log committed the cluster-init, no cancel
    /// of it applied: the node is a voter of a cluster that exists, whether or not it joined it.
    pub(crate) fn hosted_cmg_committed(&self) -> bool {
        self.cmg.as_ref().is_some_and(|cmg| {
            cmg.state.cluster.is_some()
                && cmg.state.init_fate != Some(crate::cmg::InitFate::Cancelled)
        })
    }

    /// True when this node is a CMG voter of its own cluster whose replica applied the
    /// cluster-init (the cluster state is committed in its log) and has not applied a cancel of
    /// it. Such a node is its cluster, not a newcomer: halting it on a "first admitted wins"
    /// refusal may leave the CMG without a majority for good once the other voters come back
    /// (fuzz seeds 17009011, 17011047: the other voter was down longer than the start grace).
    pub(crate) fn holds_committed_cluster(&self) -> bool {
        self.own_cluster_fate()
            .is_some_and(|fate| fate != Some(crate::cmg::InitFate::Cancelled))
    }

    /// True when a replica this node hosts knows a leader.
    fn hosted_group_has_leader(&self) -> bool {
        let cmg = self.cmg.as_ref().map(|c| c.group.role_state().leader);
        let ms = self.ms.as_ref().map(|m| m.group.role_state().leader);
        cmg.or(ms).is_some_and(|leader| leader != 0)
    }

    /// The incarnation of the replicas this node hosts, if any.
    pub(crate) fn hosted_instance(&self) -> Option<crate::types::InstanceId> {
        self.cmg
            .as_ref()
            .map(|c| c.group.instance())
            .or_else(|| self.ms.as_ref().map(|m| m.group.instance()))
    }

    /// Whether a cluster state comes from a cluster this node must not follow: a node that was
    /// accepted by a cluster (catching up, ready, or joined) follows only that cluster's leaders;
    /// a node that hosts a replica of an init in progress (not accepted anywhere yet) follows
    /// only that incarnation's leaders.
    fn foreign_cluster(&self, notice: &ClusterStateNotice) -> bool {
        let accepted = matches!(
            self.joiner.phase,
            JoinPhase::Recovering { .. } | JoinPhase::ReadySent | JoinPhase::Joined { .. }
        );
        match &self.local {
            Some(local) if accepted => local.config.tag != notice.tag,
            // Initialized, not yet accepted: while a majority of its own cluster's CMG is in its
            // physical topology, the node waits for that CMG; a CMG it cannot see a majority of
            // (its cluster is gone, scenario 3) does not hold it back.
            // A node that just started has not seen its topology form yet: it gives its own CMG
            // `2 * failure_timeout_ms` to come into sight.
            // A CMG voter of its own cluster whose log says the init was answered to a user
            // (`InitFate::Answered`) is held by that cluster for good: a user was told it exists
            // (docs/spec.md §5), and another cluster's CMG would refuse the voter (tag mismatch,
            // final) while its own waits for it (fuzz seed 19037789: a voter of an answered
            // two-voter cluster, its partner down, followed another cluster's leader, was
            // refused and halted, and its cluster never had a leader again).
            Some(local) => {
                local.config.tag != notice.tag
                    && (self.own_cmg_in_sight()
                        || self.now_ms < self.own_cmg_seen_ms + 2 * self.timing.failure_timeout_ms
                        || self.voter_of_answered_cluster())
            }
            // Empty, hosting a replica of an init: bound to it while that group has a leader or is
            // young; a stray group (its init died with its initiator) lets go after
            // `2 * init_timeout_ms`. A CMG replica whose log committed the cluster-init is no
            // stray: its cluster exists, and the node is one of its voters (fuzz seed 19014854:
            // it followed another cluster's leader and its acceptance destroyed the replica, and
            // its own cluster lost its CMG majority for good).
            None => {
                self.hosted_instance()
                    .is_some_and(|instance| instance != notice.cmg_instance)
                    && (self.hosted_group_has_leader()
                        || self.now_ms < self.hosted_since_ms + 2 * self.timing.init_timeout_ms
                        || self.hosted_cmg_committed())
            }
        }
    }

    pub(crate) fn on_cluster_state(&mut self, notice: ClusterStateNotice) {
        // Decision (step 1 before step 3): a node acts on a cluster state only once it is in the
        // physical topology. The notice can overtake the admission (they travel separately); the
        // leader resends it every `cluster_state_retry_ms` to members outside the LT.
        if !self.topo.is_admitted() {
            return;
        }
        if let Some(decided) = self.cancelled.decided(notice.cmg_instance) {
            // A leader of a cluster whose init this node cancelled on its side: that replica
            // missed the cancel (it was out of reach, or its initiator died). It is told now, and
            // this node does not join a cluster that no longer exists — unless the leader answers
            // that the init was answered to a user (`CancelRefused`).
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
        let seen = self.joiner.terms.get(&notice.tag).copied().unwrap_or(0);
        let stale = notice.term < seen;
        let foreign = !stale && self.foreign_cluster(&notice);
        self.emit(Event::ClusterStateReceived {
            leader: notice.leader.name.clone(),
            term: notice.term,
            stale,
            foreign,
        });
        if foreign {
            self.ask_if_cancelled(false);
        }
        if stale || foreign {
            return;
        }
        let followed = Some((notice.tag.clone(), notice.cmg_instance));
        let cluster_changed = self.joiner.cluster != followed;
        self.joiner.cluster = followed;
        if self.joiner.terms.len() >= MAX_TAGS_REMEMBERED
            && !self.joiner.terms.contains_key(&notice.tag)
        {
            if let Some(first) = self.joiner.terms.keys().next().cloned() {
                self.joiner.terms.remove(&first);
            }
        }
        self.joiner.terms.insert(notice.tag.clone(), notice.term);
        self.learn_addr(&notice.leader.name, notice.leader.addr);
        self.joiner.leader = Some((notice.leader.name.clone(), notice.leader.addr));
        match self.joiner.phase {
            JoinPhase::Waiting | JoinPhase::Requesting | JoinPhase::Joined { .. } => {
                // A new attempt also when the node turns to another cluster's leader: a late
                // answer of the previous cluster (an acceptance, or a rejection) is ignored.
                if self.joiner.phase != JoinPhase::Requesting || cluster_changed {
                    self.joiner.attempt += 1;
                }
                self.joiner.phase = JoinPhase::Requesting;
                self.send_join_request();
            }
            JoinPhase::ReadySent => self.send_join_ready(),
            // Decision (a recovering node asks again): the leader keeps sending the cluster
            // state to a node outside the LT; one that has been catching up its Meta Storage
            // for a failure timeout starts a new join attempt (at most once per
            // failure_timeout_ms; its replicas and vault are kept). Its validation may have been
            // revoked meanwhile (it was absent from the leader's view) and its name taken by
            // another live node, whose replica now holds its Raft id so that it can never catch
            // up: the leader then refuses it (`duplicate_name`); otherwise it validates it
            // again, and the join ready follows that validation (fuzz seeds 9100376, 9100636).
            JoinPhase::Recovering { .. } => {
                if self.now_ms >= self.joiner.last_sent_ms + self.timing.failure_timeout_ms {
                    self.joiner.attempt += 1;
                    self.joiner.phase = JoinPhase::Requesting;
                    self.send_join_request();
                }
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
                cmg.group.instance(),
                cmg.state.cluster.as_ref().map(|c| c.config.tag.clone()),
            )),
            (None, None) => None,
        };
        let Some((init, tag)) = held else {
            return;
        };
        self.joiner.last_cancel_query_ms = self.now_ms;
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

    fn send_join_request(&mut self) {
        let Some((leader, addr)) = self.joiner.leader.clone() else {
            return;
        };
        let stored = self
            .local
            .as_ref()
            .map(|l| (l.config.tag.clone(), l.config.ms_version));
        self.joiner.last_sent_ms = self.now_ms;
        self.emit(Event::JoinRequestSent {
            leader,
            stored: stored.clone(),
        });
        let info = self.info();
        let attempt = self.joiner.attempt;
        let request = Message::JoinRequest {
            info,
            stored,
            attempt,
        };
        self.send(addr, request);
    }

    fn send_join_ready(&mut self) {
        let Some((leader, addr)) = self.joiner.leader.clone() else {
            return;
        };
        self.joiner.last_sent_ms = self.now_ms;
        self.emit(Event::JoinReadySent { leader });
        let info = self.info();
        let attempt = self.joiner.attempt;
        self.send(addr, Message::JoinReady { info, attempt });
    }

    pub(crate) fn on_not_leader(&mut self, from: Addr, leader: Option<(NodeName, Addr)>) {
        let Some(hint) = leader else { return };
        if self.joiner.leader.as_ref().map(|(_, a)| *a) != Some(from) || hint.1 == from {
            return;
        }
        self.learn_addr(&hint.0, hint.1);
        self.joiner.leader = Some(hint);
        match self.joiner.phase {
            JoinPhase::Requesting => self.send_join_request(),
            JoinPhase::ReadySent => self.send_join_ready(),
            _ => {}
        }
    }

    pub(crate) fn on_join_response(&mut self, launch: LaunchId, attempt: u64, result: JoinResult) {
        if launch != self.launch
            || attempt != self.joiner.attempt
            || self.joiner.phase != JoinPhase::Requesting
        {
            return;
        }
        match result {
            JoinResult::RetryLater => {}
            JoinResult::Rejected(reason) => {
                let by = self
                    .joiner
                    .leader
                    .as_ref()
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                self.halt(Rejection {
                    stage: RejectionStage::Join,
                    by,
                    reason,
                });
            }
            JoinResult::Accepted(accept) if self.cancelled.contains(accept.instance) => {}
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
            init: accept.config.init_command(&accept.initial_ms_nodes),
        };
        self.emit(Event::JoinAccepted {
            tag: accept.config.tag.clone(),
            stored_ms_version: stored,
            cluster_ms_version: accept.config.ms_version,
        });
        if self.local.as_ref() != Some(&new_local) {
            if stored != Some(ms_version) {
                self.emit(Event::MsVersionStored {
                    from: stored,
                    to: ms_version,
                });
            }
            self.local = Some(new_local.clone());
            self.write(VaultWrite::SetLocal(new_local));
        }
        for (name, addr) in &accept.addrs {
            self.learn_addr(name, *addr);
        }
        let me = self.cfg.name.clone();
        let hosted_cmg = self.cmg.as_ref().map(|c| c.group.instance());
        if accept.config.cmg_nodes.contains(&me) && hosted_cmg != Some(accept.instance) {
            self.replace_group(
                GroupKind::Cmg,
                RaftGroup::empty_record(accept.instance, accept.config.cmg_nodes.clone()),
            );
        } else if let Some(other) = hosted_cmg.filter(|i| *i != accept.instance) {
            // A node belongs to one cluster: a stray replica of another init goes.
            self.destroy_group(GroupKind::Cmg, other);
        }
        if self.ms.as_ref().map(|m| m.group.instance()) != Some(accept.instance) {
            self.replace_group(
                GroupKind::Ms,
                RaftGroup::empty_record(accept.instance, accept.initial_ms_nodes.clone()),
            );
        }
        self.joiner.phase = JoinPhase::Recovering {
            target_ms_version: accept.config.ms_version,
        };
        self.joiner.last_learner_ask_ms = 0;
        self.check_recovery();
    }

    fn replace_group(&mut self, kind: GroupKind, record: crate::vault::GroupRecord) {
        let old = match kind {
            GroupKind::Cmg => self.cmg.as_ref().map(|c| c.group.instance()),
            GroupKind::Ms => self.ms.as_ref().map(|m| m.group.instance()),
        };
        if let Some(old) = old {
            self.destroy_group(kind, old);
        }
        self.create_group(kind, record);
    }

    /// A recovering node whose Meta Storage has caught up sends join ready; one that is not yet
    /// in the Meta Storage's configuration asks to be added as a learner.
    pub(crate) fn check_recovery(&mut self) {
        let JoinPhase::Recovering { target_ms_version } = self.joiner.phase else {
            return;
        };
        let me = raft_id(&self.cfg.name);
        let Some(ms) = self.ms.as_ref() else { return };
        let conf = ms.group.conf_state();
        let member = conf.voters.contains(&me) || conf.learners.contains(&me);
        let version = ms.state.version;
        if member && version >= target_ms_version {
            self.emit(Event::RecoveryFinished {
                ms_version: version,
            });
            self.joiner.phase = JoinPhase::ReadySent;
            self.send_join_ready();
            return;
        }
        if !member && self.now_ms >= self.joiner.last_learner_ask_ms + self.timing.ms_retry_ms {
            self.joiner.last_learner_ask_ms = self.now_ms;
            // The leader may be a voter or, for a moment after a reconfiguration, a former one:
            // ask every member of the physical topology; only the leader acts.
            let name = self.cfg.name.clone();
            let members: Vec<Addr> = self.topo.addrs();
            for addr in members {
                self.send(addr, Message::MsAddLearner { name: name.clone() });
            }
        }
    }

    pub(crate) fn on_join_ready_response(
        &mut self,
        launch: LaunchId,
        attempt: u64,
        result: Result<u64, JoinReadyRefusal>,
    ) {
        if launch != self.launch
            || attempt != self.joiner.attempt
            || self.joiner.phase != JoinPhase::ReadySent
        {
            return;
        }
        match result {
            Ok(lt_version) => {
                self.joiner.phase = JoinPhase::Joined { lt_version };
                self.emit(Event::Joined { lt_version });
            }
            Err(refusal) => {
                self.emit(Event::JoinReadyRefused {
                    reason: refusal.to_string(),
                });
                self.joiner.attempt += 1;
                self.joiner.phase = JoinPhase::Requesting;
                self.send_join_request();
            }
        }
    }

    pub(crate) fn join_tick(&mut self) {
        if self.own_cmg_in_sight() {
            self.own_cmg_seen_ms = self.now_ms;
        }
        let due = self.now_ms >= self.joiner.last_sent_ms + self.timing.join_retry_ms;
        match self.joiner.phase {
            JoinPhase::Requesting if due => self.send_join_request(),
            JoinPhase::ReadySent if due => self.send_join_ready(),
            JoinPhase::Recovering { .. } => self.check_recovery(),
            _ => {}
        }
        // An initialized node that has not joined for a failure timeout asks too: its CMG may
        // be a cancelled init's (fuzz seed 3807: its other voter cleared it while it was down).
        let waited =
            self.now_ms >= self.joiner.last_cancel_query_ms + self.timing.failure_timeout_ms;
        if waited && !matches!(self.joiner.phase, JoinPhase::Joined { .. }) {
            self.ask_if_cancelled(false);
        }
        // A joined node whose Meta Storage group has been silent for two failure timeouts asks
        // every member (fuzz seed 20033506): the replicas that applied a committed cancel
        // destroyed the groups at once, so nothing else would ever reach it, and the members
        // that cleared it no longer hold the tag the filter above looks for.
        let now_ms = self.now_ms;
        let silent = self.ms.as_mut().is_some_and(|ms| {
            if ms.group.is_leader() {
                ms.heard_ms = now_ms;
            }
            now_ms >= ms.heard_ms + 2 * self.timing.failure_timeout_ms
        });
        if waited && silent && matches!(self.joiner.phase, JoinPhase::Joined { .. }) {
            self.ask_if_cancelled(true);
        }
    }

    /// Stops the node for good: it reports the reason, leaves the physical topology and ignores
    /// everything from now on. Its vault is kept (an operator decides what to do with it).
    pub(crate) fn halt(&mut self, rejection: Rejection) {
        if self.halted.is_some() {
            return;
        }
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
