//! The init coordinator ([`InitCoordinator`]): the initiator's side of an init (IEP-77 step 2,
//! docs/protocol.md Step 2). For each init command in flight it keeps the plan, what every named
//! node (target) said to `StartGroups`, and what their status replies showed — the committed
//! cluster state, a Meta Storage leader, the init's fate in the CMG — and decides when the user
//! is answered, when the attempt is cancelled, and what is resent every `init_retry_ms`.
//!
//! It sends nothing itself: each method returns what the caller (the node) does next.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bugs::PlantedBug;
use crate::cmg::ClusterState;
use crate::config::Timing;
use crate::error::InitError;
use crate::init::{GroupStatus, InitPlan, StartOutcome};
use crate::init_command::InitFate;
use crate::types::RequestId;
use crate::types::{Addr, ClusterTag, InstanceId, NodeName};

/// How many init commands one node runs at once.
pub const MAX_INITS_IN_FLIGHT: usize = 8;

/// Where an init attempt stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for every named node to start its groups.
    Starting,
    /// Waiting for the commit and a Meta Storage leader, since `since_ms`.
    AwaitCommit { since_ms: u64 },
}

/// One init this node runs as initiator, as a reader sees it (`NodeView::inits`, the stall
/// report): what it still waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InitInFlight {
    /// The init id (the incarnation of its groups).
    pub init: InstanceId,
    /// When the attempt started (the node's clock, ms).
    pub started_ms: u64,
    /// The named nodes that have not said they run the groups, by name (empty once all have: it
    /// then waits for the commit and a Meta Storage leader). At most the plan's nodes.
    pub awaiting_start: Vec<NodeName>,
    /// A CMG replica reported the committed cluster state.
    pub committed: bool,
    /// A Meta Storage replica reported a leader.
    pub ms_leader: bool,
}

/// What a named node said.
#[derive(Clone, Debug, PartialEq, Eq)]
enum TargetState {
    Pending,
    Running,
}

/// One init command in progress on its initiator.
#[derive(Clone, Debug)]
pub(crate) struct InitAttempt {
    request: RequestId,
    user: Addr,
    plan: InitPlan,
    targets: BTreeMap<NodeName, TargetState>,
    /// The incarnation whose commit we wait for: ours, or an equal earlier one a target holds.
    watch: InstanceId,
    committed: Option<(NodeName, ClusterState)>,
    ms_leader: bool,
    /// The fate a CMG replica of the watched incarnation reported.
    fate: Option<InitFate>,
    phase: Phase,
    started_ms: u64,
    last_sent_ms: u64,
    /// The CMG nodes were asked to record the answer at least once: the first ask goes out as
    /// soon as the commit and a Meta Storage leader are seen, later ones are paced.
    answer_asked: bool,
    /// A repeat of the initiator's own cluster's init command (docs/protocol.md Step 2.1,
    /// "an initialized initiator answers a repeat with its own cluster"): no groups were
    /// started, so nothing is cancelled when it fails.
    repeat: bool,
}

impl InitAttempt {
    /// The user who asked and its request id.
    pub(crate) fn user_request(&self) -> (Addr, RequestId) {
        (self.user, self.request)
    }

    /// The plan sent to the named nodes.
    pub(crate) fn plan(&self) -> &InitPlan {
        &self.plan
    }

    /// The attempt only watches the initiator's own cluster (a repeat of its init command): it
    /// started no groups, so a failure is answered without a cancel.
    pub(crate) fn is_repeat(&self) -> bool {
        self.repeat
    }

    fn target_of(&self, addr: Addr) -> Option<NodeName> {
        self.plan
            .addrs
            .iter()
            .find(|(_, a)| **a == addr)
            .map(|(n, _)| n.clone())
    }

    /// The first named node (by name) that has not said it runs the groups.
    fn first_pending(&self) -> NodeName {
        self.targets
            .iter()
            .find(|(_, s)| **s == TargetState::Pending)
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    }

    /// The addresses of the plan's CMG nodes, in CMG-list order.
    fn cmg_addrs(&self) -> Vec<Addr> {
        self.plan
            .config
            .cmg_nodes
            .iter()
            .filter_map(|n| self.plan.addrs.get(n).copied())
            .collect()
    }
}

/// What a target's answer to `StartGroups` asks of the initiator
/// ([`InitCoordinator::on_start_ack`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StartAck {
    /// Nothing (an unknown init, not starting any more, not a target, or other targets pending).
    Nothing,
    /// A target refused: the attempt is cancelled with this error.
    Cancel(InitError),
    /// Every target runs the groups: ask each of these (the plan's nodes, by name) for its
    /// groups' status (`StatusQuery` with no answer to record).
    QueryStatus(Vec<Addr>),
    /// The attempt is over (removed): answer the user (only with the planted bug
    /// `InitAnsweredBeforeCommit`, before anything is committed).
    Answer {
        /// Who asked.
        user: Addr,
        /// Their request.
        request: RequestId,
        /// The attempt's tag.
        result: Result<ClusterTag, InitError>,
    },
}

/// What a target's status reply asks of the initiator ([`InitCoordinator::on_status_reply`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StatusStep {
    /// Nothing yet.
    Nothing,
    /// The attempt is over (removed): answer the user.
    Answer {
        /// The user.
        user: Addr,
        /// Its request.
        request: RequestId,
        /// The tag, or why not.
        result: Result<ClusterTag, InitError>,
    },
    /// The attempt is cancelled with this error.
    Cancel(InitError),
    /// Ask the CMG nodes (in CMG-list order) to record the answer of incarnation `watch`
    /// (`StatusQuery` with `answering: Some(watch)`); counted as sent now.
    RecordAnswer {
        /// The plan's CMG nodes.
        to: Vec<Addr>,
        /// The incarnation whose answer is recorded.
        watch: InstanceId,
    },
}

/// What an attempt's timers ask of the initiator ([`InitCoordinator::tick`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum InitDue {
    /// The attempt timed out: it is cancelled with this error.
    Cancel(InitError),
    /// Send `StartGroups` with `plan` again to the targets that have not answered.
    ResendStart {
        /// The attempt's plan.
        plan: InitPlan,
        /// The pending targets, by name.
        to: Vec<Addr>,
    },
    /// Send `StatusQuery` again to every named node.
    QueryStatus {
        /// The plan's nodes, by name.
        to: Vec<Addr>,
        /// The incarnation whose answer the CMG leader should record, once the commit and a
        /// Meta Storage leader were seen.
        answering: Option<InstanceId>,
    },
}

/// The init commands this node runs as initiator, by init id (at most [`MAX_INITS_IN_FLIGHT`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct InitCoordinator {
    attempts: BTreeMap<InstanceId, InitAttempt>,
}

impl InitCoordinator {
    /// No init in flight.
    pub(crate) fn new() -> InitCoordinator {
        InitCoordinator::default()
    }

    /// `user`'s `request` is in flight here (a resend of it waits for the answer).
    pub(crate) fn in_flight(&self, user: Addr, request: RequestId) -> bool {
        self.attempts
            .values()
            .any(|a| a.request == request && a.user == user)
    }

    /// Every attempt in flight, in init order, as a reader sees it (at most
    /// [`MAX_INITS_IN_FLIGHT`]).
    pub(crate) fn in_flight_view(&self) -> Vec<InitInFlight> {
        self.attempts
            .iter()
            .map(|(init, a)| InitInFlight {
                init: *init,
                started_ms: a.started_ms,
                awaiting_start: a
                    .targets
                    .iter()
                    .filter(|(_, s)| **s == TargetState::Pending)
                    .map(|(n, _)| n.clone())
                    .collect(),
                committed: a.committed.is_some(),
                ms_leader: a.ms_leader,
            })
            .collect()
    }

    /// [`MAX_INITS_IN_FLIGHT`] inits run: another is refused (`InitError::Busy`).
    pub(crate) fn is_full(&self) -> bool {
        self.attempts.len() >= MAX_INITS_IN_FLIGHT
    }

    /// Starts an attempt of `plan` for `user`'s `request` at `now_ms`, every named node pending.
    /// Returns where to send `StartGroups`: the plan's nodes, by name.
    pub(crate) fn start(
        &mut self,
        plan: InitPlan,
        user: Addr,
        request: RequestId,
        now_ms: u64,
    ) -> Vec<Addr> {
        let to = plan.addrs.values().copied().collect();
        let attempt = InitAttempt {
            request,
            user,
            targets: plan
                .addrs
                .keys()
                .map(|n| (n.clone(), TargetState::Pending))
                .collect(),
            watch: plan.init,
            committed: None,
            ms_leader: false,
            fate: None,
            phase: Phase::Starting,
            started_ms: now_ms,
            last_sent_ms: now_ms,
            answer_asked: false,
            repeat: false,
            plan,
        };
        self.attempts.insert(attempt.plan.init, attempt);
        to
    }

    /// Starts an attempt for `user`'s `request` that repeats the init command of the cluster
    /// this node holds, whose incarnation is `held` (docs/protocol.md Step 2.1, "an initialized
    /// initiator answers a repeat with its own cluster"): the initiator is itself a holder of an
    /// equal init, as a target answering `Existing` is, so the attempt starts no groups — every
    /// named node counts as running — and waits for the commit of `held` at once. `plan.init`
    /// only names the attempt. Returns whom to ask for their status: the plan's nodes.
    pub(crate) fn start_repeat(
        &mut self,
        plan: InitPlan,
        held: InstanceId,
        user: Addr,
        request: RequestId,
        now_ms: u64,
    ) -> Vec<Addr> {
        let init = plan.init;
        let to = self.start(plan, user, request, now_ms);
        let attempt = self.attempts.get_mut(&init).expect("just started");
        for state in attempt.targets.values_mut() {
            *state = TargetState::Running;
        }
        attempt.watch = held;
        attempt.phase = Phase::AwaitCommit { since_ms: now_ms };
        attempt.repeat = true;
        to
    }

    /// Ends the attempt of `init` (it is cancelled), returning it.
    pub(crate) fn remove(&mut self, init: InstanceId) -> Option<InitAttempt> {
        self.attempts.remove(&init)
    }

    /// Every attempt, in init order, consumed (a stopping node answers their users).
    pub(crate) fn into_values(self) -> impl Iterator<Item = InitAttempt> {
        self.attempts.into_values()
    }

    /// A target at `from` answered `StartGroups` of `init` with `outcome` at `now_ms`. `Started`
    /// and `Existing` mark it running (`Existing` makes the attempt watch that earlier equal
    /// init); `Mismatch` and `Failed` cancel the attempt; once every target runs, the attempt
    /// waits for the commit (docs/spec.md §5, IGNITE-17067: the user is answered only once a
    /// replica showed the committed cluster state and the CMG recorded the answer). `bug` may
    /// plant `InitAnsweredBeforeCommit` (answered with the attempt's tag at once).
    pub(crate) fn on_start_ack(
        &mut self,
        init: InstanceId,
        from: Addr,
        outcome: StartOutcome,
        now_ms: u64,
        bug: Option<PlantedBug>,
    ) -> StartAck {
        let Some(attempt) = self.attempts.get_mut(&init) else {
            return StartAck::Nothing;
        };
        if attempt.phase != Phase::Starting {
            return StartAck::Nothing;
        }
        let Some(node) = attempt.target_of(from) else {
            return StartAck::Nothing;
        };
        match outcome {
            StartOutcome::Started => {
                attempt.targets.insert(node, TargetState::Running);
            }
            StartOutcome::Existing { init: held, .. } => {
                attempt.targets.insert(node, TargetState::Running);
                if attempt.watch == attempt.plan.init {
                    attempt.watch = held;
                }
            }
            StartOutcome::Mismatch { detail } => {
                // Refused without touching what the other node holds; the groups this attempt
                // started elsewhere are cleaned up.
                return StartAck::Cancel(InitError::ParametersDiffer { node, detail });
            }
            StartOutcome::Failed { detail } => {
                return StartAck::Cancel(InitError::NodeFailed { node, detail });
            }
        }
        if attempt.targets.values().all(|t| *t == TargetState::Running) {
            if bug == Some(PlantedBug::InitAnsweredBeforeCommit)
                && attempt.watch == attempt.plan.init
            {
                // Planted bug: the user is told the tag before anything is committed.
                let tag = attempt.plan.config.tag.clone();
                if let StatusStep::Answer {
                    user,
                    request,
                    result,
                } = self.finish(init, Ok(tag))
                {
                    return StartAck::Answer {
                        user,
                        request,
                        result,
                    };
                }
                return StartAck::Nothing;
            }
            attempt.phase = Phase::AwaitCommit { since_ms: now_ms };
            attempt.last_sent_ms = now_ms;
            return StartAck::QueryStatus(attempt.plan.addrs.values().copied().collect());
        }
        StartAck::Nothing
    }

    /// A target at `from` reported `status` for `init` at `now_ms`. Once a CMG replica of the
    /// watched incarnation showed the committed cluster state and a Meta Storage replica a
    /// leader: a cluster of other parameters is `ParametersDiffer`; an init whose answer the CMG
    /// recorded is answered with the tag; one whose cancel it recorded is cancelled; otherwise
    /// the CMG nodes are asked to record the answer (docs/spec.md §5), at most every `retry_ms`.
    pub(crate) fn on_status_reply(
        &mut self,
        init: InstanceId,
        from: Addr,
        status: GroupStatus,
        now_ms: u64,
        retry_ms: u64,
    ) -> StatusStep {
        let Some(attempt) = self.attempts.get_mut(&init) else {
            return StatusStep::Nothing;
        };
        if !matches!(attempt.phase, Phase::AwaitCommit { .. }) {
            return StatusStep::Nothing;
        }
        let Some(node) = attempt.target_of(from) else {
            return StatusStep::Nothing;
        };
        if status.cmg_instance == Some(attempt.watch) {
            if let Some(cluster) = status.cluster {
                attempt.committed = Some((node, cluster));
            }
            if status.init_fate.is_some() {
                attempt.fate = status.init_fate;
            }
        }
        if status.ms_instance == Some(attempt.watch) && status.ms_leader.is_some() {
            attempt.ms_leader = true;
        }
        let (Some((node, cluster)), true) = (attempt.committed.clone(), attempt.ms_leader) else {
            return StatusStep::Nothing;
        };
        if let Some(detail) = attempt.plan.command().difference(&cluster.init_command()) {
            return self.finish(init, Err(InitError::ParametersDiffer { node, detail }));
        }
        match attempt.fate {
            // Recorded in the CMG: no cancel will clear it now, so the user may be told.
            Some(InitFate::Answered) => self.finish(init, Ok(cluster.config.tag.clone())),
            // Another initiator's cancel was committed first: this cluster is being destroyed.
            Some(InitFate::Cancelled) => {
                let detail = format!("the init of {} was cancelled", cluster.config.tag);
                StatusStep::Cancel(InitError::NodeFailed { node, detail })
            }
            // Ask the CMG leader to record the answer first (docs/spec.md §5): at once the first
            // time, then paced like every resend (init_retry_ms): a reply per query would flood.
            None if !attempt.answer_asked || now_ms >= attempt.last_sent_ms + retry_ms => {
                attempt.answer_asked = true;
                attempt.last_sent_ms = now_ms;
                StatusStep::RecordAnswer {
                    to: attempt.cmg_addrs(),
                    watch: attempt.watch,
                }
            }
            None => StatusStep::Nothing,
        }
    }

    /// The attempts waiting for the commit of incarnation `instance` (by init id, ascending): a
    /// replica of it on this node changed what a status reply would say (its cluster state, its
    /// init's fate, its Meta Storage leader), so the initiator asks itself at once rather than
    /// at its next `init_retry_ms` (docs/protocol.md Step 2.5).
    pub(crate) fn awaiting(&self, instance: InstanceId) -> Vec<InstanceId> {
        self.attempts
            .iter()
            .filter(|(_, a)| a.watch == instance && matches!(a.phase, Phase::AwaitCommit { .. }))
            .map(|(init, _)| *init)
            .collect()
    }

    /// Ends the attempt of `init` with `result` for its user.
    fn finish(&mut self, init: InstanceId, result: Result<ClusterTag, InitError>) -> StatusStep {
        match self.attempts.remove(&init) {
            Some(attempt) => StatusStep::Answer {
                user: attempt.user,
                request: attempt.request,
                result,
            },
            None => StatusStep::Nothing,
        }
    }

    /// The attempts' timers at `now_ms`: an attempt still starting after `init_timeout_ms`, or
    /// waiting for the commit that long since every target ran, times out (naming the first
    /// pending target, the first CMG node, or the first Meta Storage node); otherwise every
    /// `init_retry_ms` its pending targets get `StartGroups` again, or every named node a status
    /// query. Returns what is due, in init order; a resend is counted as sent now.
    pub(crate) fn tick(&mut self, now_ms: u64, timing: &Timing) -> Vec<(InstanceId, InitDue)> {
        let mut due = Vec::new();
        for (init, attempt) in self.attempts.iter_mut() {
            let resend = now_ms >= attempt.last_sent_ms + timing.init_retry_ms;
            match attempt.phase {
                Phase::Starting => {
                    if now_ms >= attempt.started_ms + timing.init_timeout_ms {
                        let node = attempt.first_pending();
                        let waiting_for = "its answer to start the groups".into();
                        let error = InitError::Timeout { node, waiting_for };
                        due.push((*init, InitDue::Cancel(error)));
                    } else if resend {
                        let plan = attempt.plan.clone();
                        let to = attempt
                            .targets
                            .iter()
                            .filter(|(_, s)| **s == TargetState::Pending)
                            .filter_map(|(n, _)| plan.addrs.get(n).copied())
                            .collect();
                        due.push((*init, InitDue::ResendStart { plan, to }));
                        attempt.last_sent_ms = now_ms;
                    }
                }
                Phase::AwaitCommit { since_ms } => {
                    if now_ms >= since_ms + timing.init_timeout_ms {
                        let config = &attempt.plan.config;
                        let (node, waiting_for) = if attempt.committed.is_none() {
                            (
                                config.cmg_nodes.first().cloned().unwrap_or_default(),
                                "the CMG to commit the cluster state".to_string(),
                            )
                        } else {
                            (
                                config.ms_nodes.first().cloned().unwrap_or_default(),
                                "the Meta Storage to elect a leader".to_string(),
                            )
                        };
                        let error = InitError::Timeout { node, waiting_for };
                        due.push((*init, InitDue::Cancel(error)));
                    } else if resend {
                        let to = attempt.plan.addrs.values().copied().collect();
                        // Once the commit and a Meta Storage leader are seen, every query also
                        // asks the CMG leader to record the answer.
                        let answering = (attempt.committed.is_some() && attempt.ms_leader)
                            .then_some(attempt.watch);
                        attempt.answer_asked |= answering.is_some();
                        due.push((*init, InitDue::QueryStatus { to, answering }));
                        attempt.last_sent_ms = now_ms;
                    }
                }
            }
        }
        due
    }
}

#[cfg(test)]
pub(crate) mod tests;
