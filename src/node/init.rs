//! The node's routing of the initiator's side of an init (docs/protocol.md Step 2): the user's
//! init command is checked here against the node's physical topology and what it holds
//! ([`resolve_params`]), the plan drawn, and the attempt handed to the
//! [`InitCoordinator`](crate::init::InitCoordinator); what the coordinator decides — messages to
//! the named nodes, the user's answer, a cancel — is done here. The named node's side is in
//! `src/node/target.rs`, cancels in `src/node/cancel.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster_config::ClusterConfig;
use crate::error::InitError;
use crate::event::Event;
use crate::init::{
    resolve_params, GroupStatus, HeldCluster, InitDue, InitParams, InitPlan, StartAck,
    StartOutcome, StatusStep, MAX_DEFERRED_INIT_REQUESTS, MAX_INITS_IN_FLIGHT,
};
use crate::init_command::InitFate;
use crate::marks::Mark;
use crate::message::Message;
use crate::node::Node;
use crate::types::RequestId;
use crate::types::{Addr, ClusterId, ClusterTag, InstanceId, NodeName};

impl Node {
    pub(crate) fn on_init_request(&mut self, from: Addr, request: RequestId, params: InitParams) {
        self.emit(Event::InitReceived {
            request,
            params: params.clone(),
        });
        self.consider_init_request(from, request, params);
    }

    /// What happens to an init request, received now or deferred until now: answered at once
    /// (stopped, busy, refused), left to an attempt already in flight, deferred while a cancel
    /// is under way, or judged.
    fn consider_init_request(&mut self, from: Addr, request: RequestId, params: InitParams) {
        if self.is_stopped() {
            let reason = self.stop_reason();
            self.answer_init(from, request, Err(InitError::NodeStopped { reason }));
            return;
        }
        let in_flight = self.inits.in_flight(from, request);
        let answer_held = self.cancels.holds_answer_for(from, request);
        if in_flight || answer_held {
            return;
        }
        if self.inits.is_full() {
            let error = InitError::Busy {
                max: MAX_INITS_IN_FLIGHT,
            };
            self.answer_init(from, request, Err(error));
            return;
        }
        // An initialized node judges the request against its cluster (its init command, its
        // tag) — but not while a cancel of that cluster is under way here, its fate unknown:
        // the cancel may be decided already and the user told so, and a refusal citing the
        // cancelled cluster would be wrong. The request is held back and judged the moment the
        // fate is known (`resume_deferred_inits`), at most `MAX_DEFERRED_INIT_REQUESTS` of them
        // (docs/protocol.md Step 2.6, "a cancel under way is no ground for a refusal").
        if let Some(held) = self.held_undecided_init() {
            if self
                .deferred_inits
                .defer(from, request, params.clone(), held)
            {
                self.mark(Mark::InitDeferred);
                self.emit(Event::InitDeferred { request, held });
            } else {
                let max = MAX_DEFERRED_INIT_REQUESTS;
                self.answer_init(from, request, Err(InitError::Busy { max }));
            }
            return;
        }
        self.judge_init_request(from, request, &params);
    }

    /// The init of the cluster this node holds, if a cancel of it is under way here (its fate
    /// unknown): no init request is judged against it yet.
    pub(super) fn held_undecided_init(&mut self) -> Option<InstanceId> {
        let held = self.local.as_ref().map(|l| l.cmg_instance)?;
        self.undecided_inits().contains(&held).then_some(held)
    }

    /// Judges the deferred init requests whose cancel's fate is now known (or lapsed), as if
    /// each had just arrived; a stopped node answers them all with its reason. Called every
    /// tick, so a deferred request is answered at most one tick after the fate is known, even
    /// if the user stopped resending.
    pub(crate) fn resume_deferred_inits(&mut self) {
        if self.deferred_inits.is_empty() {
            return;
        }
        if self.is_stopped() {
            let reason = self.stop_reason();
            for (from, request, _) in self.deferred_inits.take_all() {
                let error = InitError::NodeStopped {
                    reason: reason.clone(),
                };
                self.answer_init(from, request, Err(error));
            }
            return;
        }
        let waiting = self.held_undecided_init();
        for (from, request, params) in self.deferred_inits.take_ready(|held| Some(held) == waiting)
        {
            self.consider_init_request(from, request, params);
        }
    }

    /// The judgement of an init request no cancel holds back: against the physical topology
    /// and what the node holds ([`resolve_params`]); an attempt starts or the user is answered.
    fn judge_init_request(&mut self, from: Addr, request: RequestId, params: &InitParams) {
        let members: Vec<(NodeName, Addr)> = self
            .physical_members()
            .into_iter()
            .map(|(n, a, _)| (n, a))
            .collect();
        let own = self.local.as_ref().map(|l| HeldCluster {
            tag: l.config.tag.clone(),
            init: Some(self.held_init_command(l)),
        });
        let own_name = self.cfg.name.clone();
        let held = self.member_clusters();
        let resolved = match resolve_params(
            params,
            &members,
            &held,
            own.as_ref().map(|o| (&own_name, o)),
        ) {
            Ok(r) => r,
            Err(e) => {
                self.answer_init(from, request, Err(e));
                return;
            }
        };
        // An initialized node that got this far was asked for the very command its cluster was
        // created with (`resolve_params` refuses any other): it answers with its own cluster
        // and starts nothing (docs/protocol.md Step 2.1, "an initialized initiator answers a
        // repeat with its own cluster").
        // (The planted bug `init-not-idempotent` takes the repeat for a new init here too.)
        let repeat_kept = self.cfg.bug != Some(crate::bugs::PlantedBug::InitNotIdempotent);
        if let Some(local) = self.local.as_deref().filter(|_| repeat_kept) {
            if resolved
                .difference(&self.held_init_command(local))
                .is_none()
            {
                let held = local.cmg_instance;
                let config = local.config.clone();
                self.watch_own_cluster(from, request, resolved, config, held, &members);
                return;
            }
        }
        let init = InstanceId(self.rng.nonzero_u64());
        let tag = ClusterTag {
            name: resolved.cluster_name.clone(),
            id: ClusterId(self.rng.next_u128()),
        };
        let addrs: BTreeMap<NodeName, Addr> = members
            .iter()
            .filter(|(n, _)| resolved.cmg_nodes.contains(n) || resolved.ms_nodes.contains(n))
            .cloned()
            .collect();
        let plan = InitPlan {
            init,
            config: ClusterConfig {
                tag: tag.clone(),
                cmg_nodes: resolved.cmg_nodes.clone(),
                ms_nodes: resolved.ms_nodes.clone(),
                ms_version: 1,
            },
            product: self.cfg.product,
            protocol: self.cfg.protocol,
            initiator: self.cfg.name.clone(),
            addrs,
        };
        self.mark(Mark::InitStarted);
        self.emit(Event::InitStarted {
            request,
            init,
            tag,
            cmg_nodes: plan.config.cmg_nodes.clone(),
            ms_nodes: plan.config.ms_nodes.clone(),
        });
        let now = self.now_ms;
        for addr in self.inits.start(plan.clone(), from, request, now) {
            self.send(addr, Message::StartGroups { plan: plan.clone() });
        }
    }

    /// A repeat of the init command this node's cluster (incarnation `held`, configuration
    /// `config`) was created with: the node is itself a holder of an equal init, as a named
    /// node answering `Existing` is, so it draws no new cluster and sends no `StartGroups` —
    /// a named node that holds nothing (wiped, or an empty namesake of the cluster's voter)
    /// would start a second cluster of the same command. It asks the named nodes, where its own
    /// cluster reaches them (its replicas' peers, its address book, else its view), for
    /// `held`'s status, and answers the cluster's tag once the CMG recorded the answer, as
    /// after `Existing` (Step 2.5).
    fn watch_own_cluster(
        &mut self,
        from: Addr,
        request: RequestId,
        resolved: crate::init::InitCommand,
        config: ClusterConfig,
        held: InstanceId,
        members: &[(NodeName, Addr)],
    ) {
        let named: BTreeSet<NodeName> = resolved
            .cmg_nodes
            .iter()
            .chain(resolved.ms_nodes.iter())
            .cloned()
            .collect();
        let addrs: BTreeMap<NodeName, Addr> = named
            .into_iter()
            .filter_map(|n| {
                let addr = if n == self.cfg.name {
                    Some(self.cfg.addr)
                } else {
                    self.peer_addr(held, &n)
                        .or_else(|| members.iter().find(|(m, _)| *m == n).map(|(_, a)| *a))
                };
                addr.map(|a| (n, a))
            })
            .collect();
        let plan = InitPlan {
            // Names the attempt only: no group of it is ever started.
            init: InstanceId(self.rng.nonzero_u64()),
            config: ClusterConfig {
                cmg_nodes: resolved.cmg_nodes.clone(),
                ms_nodes: resolved.ms_nodes.clone(),
                ms_version: 1,
                ..config
            },
            product: self.cfg.product,
            protocol: self.cfg.protocol,
            initiator: self.cfg.name.clone(),
            addrs,
        };
        self.mark(Mark::InitRepeatOfOwnCluster);
        let init = plan.init;
        let now = self.now_ms;
        for addr in self.inits.start_repeat(plan, held, from, request, now) {
            let answering = None;
            self.send(addr, Message::StatusQuery { init, answering });
        }
    }

    /// Answers `user`'s init `request` with `result` (and reports it).
    pub(crate) fn answer_init(
        &mut self,
        user: Addr,
        request: RequestId,
        result: Result<ClusterTag, InitError>,
    ) {
        self.mark(match &result {
            Ok(_) => Mark::InitAnsweredOk,
            Err(error) => Mark::of_init_error(error),
        });
        self.emit(Event::InitAnswered {
            request,
            result: result.clone(),
        });
        self.send(user, Message::InitResponse { request, result });
    }

    /// Answers the user with an error and tells every named node (and every member, for vault
    /// state holding the tag) to cancel.
    fn cancel_init(&mut self, init: InstanceId, error: InitError) {
        let Some(attempt) = self.inits.remove(init) else {
            return;
        };
        let (user, request) = attempt.user_request();
        if attempt.is_repeat() {
            // A repeat of this node's own cluster's init started no groups: nothing to cancel
            // (its cluster is not this attempt's to cancel). The user hears why at once.
            let error = match error {
                InitError::Timeout { node, waiting_for }
                | InitError::NodeFailed {
                    node,
                    detail: waiting_for,
                } => InitError::RepeatUnconfirmed { node, waiting_for },
                other => other,
            };
            self.answer_init(user, request, Err(error));
            return;
        }
        let plan = attempt.plan();
        let mut pending: BTreeSet<Addr> = self.topo.addrs().into_iter().collect();
        pending.extend(plan.addrs.values().copied());
        pending.insert(self.cfg.addr);
        let reason = error.to_string();
        if let Some(mark) = Mark::of_init_cancel(&error) {
            self.mark(mark);
        }
        self.emit(Event::InitCancelled {
            init,
            reason: reason.clone(),
        });
        self.start_cancel(init, pending.clone(), self.now_ms);
        let voters = plan.config.cmg_nodes.iter().cloned().collect();
        let voter_addrs = plan
            .addrs
            .iter()
            .filter(|(n, _)| plan.config.cmg_nodes.contains(n))
            .map(|(n, a)| (n.clone(), *a))
            .collect();
        self.cancels.know_voters(init, voters, voter_addrs);
        if matches!(error, InitError::ParametersDiffer { .. }) {
            // Another init holds the named nodes: the user is answered now; the cancel only
            // cleans up what this attempt started.
            self.answer_init(user, request, Err(error));
        } else {
            // The user hears of the failure once the CMG decided the cancel: if the init was
            // answered to another user meanwhile, this one gets the tag too.
            let cmg = plan
                .config
                .cmg_nodes
                .iter()
                .filter_map(|n| plan.addrs.get(n).copied())
                .collect();
            self.hold_cancel_answer(init, user, request, error, cmg);
        }
        for addr in pending {
            self.send(
                addr,
                Message::CancelInit {
                    init,
                    reason: reason.clone(),
                    decided: false,
                },
            );
        }
    }

    pub(crate) fn on_start_groups_ack(
        &mut self,
        from: Addr,
        init: InstanceId,
        outcome: StartOutcome,
    ) {
        let now = self.now_ms;
        match self
            .inits
            .on_start_ack(init, from, outcome, now, self.cfg.bug)
        {
            StartAck::Nothing => {}
            StartAck::Answer {
                user,
                request,
                result,
            } => self.answer_init(user, request, result),
            StartAck::Cancel(error) => self.cancel_init(init, error),
            StartAck::QueryStatus(to) => {
                for addr in to {
                    let answering = None;
                    self.send(addr, Message::StatusQuery { init, answering });
                }
            }
        }
    }

    /// A replica of incarnation `instance` on this node changed what its status says (the
    /// cluster-init or the init's fate applied, a Meta Storage leader known): an init this node
    /// runs that waits for that incarnation asks itself now (`StatusQuery` through the loopback)
    /// instead of at its next `init_retry_ms`, so the user hears as soon as the CMG recorded the
    /// answer (docs/protocol.md Step 2.5).
    pub(crate) fn ask_own_status(&mut self, instance: InstanceId) {
        for init in self.inits.awaiting(instance) {
            let me = self.cfg.addr;
            let answering = None;
            self.send(me, Message::StatusQuery { init, answering });
        }
    }

    pub(crate) fn on_status_reply(&mut self, from: Addr, init: InstanceId, status: GroupStatus) {
        let fenced = self
            .cmg
            .as_ref()
            .is_some_and(|c| c.group().instance() == init && c.is_fenced());
        if fenced && status.cmg_instance == Some(init) {
            match status.init_fate {
                Some(InitFate::Answered) => self.unfence_cmg(init),
                Some(InitFate::Cancelled) => {
                    self.clear_cancelled_init(init, true);
                }
                None => {}
            }
        }
        let mut status = status;
        if self.cfg.bug == Some(crate::bugs::PlantedBug::AnswerBeforeMsLeader)
            && status.cmg_instance == Some(init)
            && status.cluster.is_some()
        {
            // The planted divergence: a committed cluster-init is taken as enough, as if the
            // Meta Storage had a leader.
            status.ms_instance = Some(init);
            status.ms_leader = Some(self.cfg.name.clone());
        }
        let (now, retry_ms) = (self.now_ms, self.timing.init_retry_ms);
        match self
            .inits
            .on_status_reply(init, from, status, now, retry_ms)
        {
            StatusStep::Nothing => {}
            StatusStep::Answer {
                user,
                request,
                result,
            } => self.answer_init(user, request, result),
            StatusStep::Cancel(error) => self.cancel_init(init, error),
            StatusStep::RecordAnswer { to, watch } => {
                for addr in to {
                    let answering = Some(watch);
                    self.send(addr, Message::StatusQuery { init, answering });
                }
            }
        }
    }

    /// Runs the init attempts' timers ([`InitCoordinator::tick`](crate::init::InitCoordinator::tick)),
    /// then the cancels'.
    pub(crate) fn init_tick(&mut self) {
        let now = self.now_ms;
        for (init, due) in self.inits.tick(now, &self.timing) {
            match due {
                InitDue::Cancel(error) => self.cancel_init(init, error),
                InitDue::ResendStart { plan, to } => {
                    for addr in to {
                        self.send(addr, Message::StartGroups { plan: plan.clone() });
                    }
                }
                InitDue::QueryStatus { to, answering } => {
                    for addr in to {
                        self.send(addr, Message::StatusQuery { init, answering });
                    }
                }
            }
        }
        self.cancel_tick();
    }
}
