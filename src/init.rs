//! Step 2: the init command — parameter validation and defaulting, propagation to the named nodes,
//! Raft groups started with those voters, the answer after commit and Meta Storage leader, cancel
//! on failure or timeout, idempotent repeats.
//!
//! The node that receives the user's init is the *initiator*. It validates the parameters against
//! its physical topology, draws the init id (which is also the id of the group incarnations) and
//! the cluster id, and sends [`Message::StartGroups`] to every CMG and Meta Storage node. Each of
//! them (a *target*) starts its replicas and answers; then the initiator asks the targets for the
//! state of their groups until a CMG replica reports the committed cluster state and a Meta
//! Storage replica reports a leader. Only then does the user get the tag.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::cmg::{ClusterState, CmgCommand, InitFate};
use crate::event::Event;
use crate::message::{encode, Message};
use crate::metastorage::MsCommand;
use crate::node::Node;
use crate::raft_group::RaftGroup;
use crate::types::{Addr, ClusterTag, GroupKind, InstanceId, NodeName};
use crate::vault::VaultWrite;

mod cancel;
mod cancelled;
mod coordinator;
mod params;
mod plan;

pub(crate) use cancel::{CancelDue, CancelTracker};
pub(crate) use cancelled::CancelledInits;
pub use coordinator::MAX_INITS_IN_FLIGHT;
pub(crate) use coordinator::{InitCoordinator, InitDue, StartAck, StatusStep};

pub use params::resolve_params;
pub use plan::{HeldCluster, InitCommand, InitParams, InitPlan};

/// A named node's answer to [`Message::StartGroups`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartOutcome {
    /// The node runs the groups of this init.
    Started,
    /// The node already holds an init with equal parameters (another attempt).
    Existing {
        /// That attempt.
        init: InstanceId,
        /// Its tag.
        tag: ClusterTag,
    },
    /// The node already holds an init with other parameters.
    Mismatch {
        /// What differs.
        detail: String,
    },
    /// The node cannot start the groups.
    Failed {
        /// Why.
        detail: String,
    },
}

/// What a named node reports about its groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The CMG incarnation it hosts.
    pub cmg_instance: Option<InstanceId>,
    /// The cluster state its CMG replica has applied.
    pub cluster: Option<ClusterState>,
    /// The Meta Storage incarnation it hosts.
    pub ms_instance: Option<InstanceId>,
    /// The Meta Storage leader it knows.
    pub ms_leader: Option<NodeName>,
    /// The fate its CMG replica applied: answered to a user, or cancelled.
    pub init_fate: Option<InitFate>,
}

impl Node {
    /// Fences this node's CMG replica of `init` (docs/protocol.md Step 2.6, "the fence"): it
    /// keeps the replica and its vault records, drops the group's messages, does not tick it,
    /// and asks the group's voters for the init's fate every `init_retry_ms`.
    fn fence_cmg(&mut self, init: InstanceId) {
        let Some(cmg) = self.cmg.as_mut().filter(|c| c.group.instance() == init) else {
            return;
        };
        if cmg.fence_asked_ms.is_some() {
            return;
        }
        cmg.fence_asked_ms = Some(self.now_ms);
        self.write(VaultWrite::FenceCmg(Some(init)));
        self.emit(Event::CmgFenced { init });
    }

    /// Lifts the fence of this node's CMG replica of `init`: the init was answered.
    pub(crate) fn unfence_cmg(&mut self, init: InstanceId) {
        let Some(cmg) = self.cmg.as_mut().filter(|c| c.group.instance() == init) else {
            return;
        };
        if cmg.fence_asked_ms.take().is_none() {
            return;
        }
        self.write(VaultWrite::FenceCmg(None));
        self.emit(Event::CmgUnfenced { init });
    }

    /// The voters of a CMG replica's group: its init's CMG list, or (a replica of a restored
    /// cluster) its configuration's voters.
    fn cmg_voter_names(&self, cmg: &crate::leader::CmgReplica) -> Vec<NodeName> {
        match &cmg.plan {
            Some(plan) => plan.config.cmg_nodes.clone(),
            None => cmg
                .group
                .conf_state()
                .voters
                .iter()
                .filter_map(|id| self.name_of_raft_id(*id))
                .collect(),
        }
    }

    /// A fenced replica asks its group's voters for the init's fate (a canceller that stopped
    /// must not leave it fenced for ever).
    pub(crate) fn fence_tick(&mut self) {
        let retry_ms = self.timing.init_retry_ms;
        let now = self.now_ms;
        let Some(cmg) = self.cmg.as_mut() else { return };
        let Some(asked_ms) = cmg.fence_asked_ms else {
            return;
        };
        if now < asked_ms + retry_ms {
            return;
        }
        cmg.fence_asked_ms = Some(now);
        let init = cmg.group.instance();
        let Some(cmg) = self.cmg.as_ref() else { return };
        let voters = self.cmg_voter_names(cmg);
        let addrs: Vec<Addr> = voters
            .iter()
            .filter(|n| **n != self.cfg.name)
            .filter_map(|n| self.addr_of(n))
            .collect();
        for addr in addrs.iter().copied() {
            let answering = None;
            self.send(addr, Message::StatusQuery { init, answering });
        }
        // A fenced replica carries the cancel on itself when no cancel of that init runs here
        // (its canceller stopped, or ran out of time while a voter was away, fuzz seed
        // 14005110): it tells the group's voters and itself, counts their answers as any
        // canceller does, and its fence ends with the decision or a refusal.
        if !self.cancels.contains(init) {
            let plan_addrs: BTreeMap<NodeName, Addr> = self
                .cmg
                .as_ref()
                .and_then(|c| c.plan.as_ref())
                .map(|p| {
                    p.addrs
                        .iter()
                        .filter(|(n, _)| voters.contains(n))
                        .map(|(n, a)| (n.clone(), *a))
                        .collect()
                })
                .unwrap_or_default();
            let mut pending: BTreeSet<Addr> = addrs.into_iter().collect();
            pending.insert(self.cfg.addr);
            self.start_cancel(init, pending.clone(), now);
            let voters = voters.iter().cloned().collect();
            self.cancels.know_voters(init, voters, plan_addrs);
            for addr in pending {
                let reason = "a fenced CMG replica carries its init's cancel on".to_string();
                self.send(
                    addr,
                    Message::CancelInit {
                        init,
                        reason,
                        decided: false,
                    },
                );
            }
        }
    }

    // --- Target side ---

    pub(crate) fn on_start_groups(&mut self, from: Addr, plan: InitPlan) {
        let init = plan.init;
        // A CMG replica of another init that an undecided cancel fences says nothing about what
        // this node holds until its fate is known (cleared, or answered): the node does not
        // answer yet, and the initiator resends every init_retry_ms (a repeat of an init must not
        // be refused by the leftover of a refused attempt).
        if self
            .cmg
            .as_ref()
            .is_some_and(|c| c.fence_asked_ms.is_some() && c.group.instance() != init)
        {
            return;
        }
        let outcome = if let Some(rejection) = &self.halted {
            StartOutcome::Failed {
                detail: format!("node has stopped: {rejection}"),
            }
        } else if !plan.config.cmg_nodes.contains(&self.cfg.name)
            && !plan.config.ms_nodes.contains(&self.cfg.name)
        {
            StartOutcome::Failed {
                detail: "node is not named in the init".into(),
            }
        } else if let Some(held) = self.held_init_outcome(&plan) {
            held
        } else {
            self.start_groups(&plan);
            StartOutcome::Started
        };
        self.send(from, Message::StartGroupsAck { init, outcome });
    }

    /// How an init compares with what this node already holds, if it holds anything.
    fn held_init_outcome(&self, plan: &InitPlan) -> Option<StartOutcome> {
        if self.cancelled.contains(plan.init) {
            return Some(StartOutcome::Failed {
                detail: "this init was cancelled".into(),
            });
        }

        let hosted = [
            self.cmg
                .as_ref()
                .map(|c| (c.group.instance(), c.plan.clone())),
            self.ms
                .as_ref()
                .map(|m| (m.group.instance(), m.plan.clone())),
        ];
        for (instance, held_plan) in hosted.into_iter().flatten() {
            if instance == plan.init {
                return Some(StartOutcome::Started);
            }
            if let Some(held) = held_plan {
                let outcome = compare(plan, &held.command(), &held.config.tag, held.init);
                let repeat = matches!(outcome, StartOutcome::Existing { .. });
                if repeat && self.cfg.bug == Some(crate::bugs::PlantedBug::InitNotIdempotent) {
                    // Planted bug: a repeat is taken for a new init.
                    return None;
                }
                return Some(outcome);
            }
        }
        if self.local.is_none() && self.joiner.phase != crate::join::JoinPhase::Waiting {
            // Not initialized, but already asking another cluster to let it in.
            if let Some((tag, instance)) = &self.joiner.cluster {
                if *instance != plan.init {
                    return Some(StartOutcome::Mismatch {
                        detail: format!("node is joining cluster {tag}"),
                    });
                }
            }
        }
        let local = self.local.as_ref()?;
        let held = self.held_init_command(local);
        Some(compare(plan, &held, &local.config.tag, local.cmg_instance))
    }

    /// The init command this node compares a requested init with: the one its cluster was
    /// created with (`LocalState::init`).
    pub(crate) fn held_init_command(&self, local: &crate::vault::LocalState) -> InitCommand {
        if self.cfg.bug == Some(crate::bugs::PlantedBug::InitComparesCurrentMsList) {
            // Planted bug: the current Meta Storage list instead of the one given at init.
            let mut ms_nodes = local.config.ms_nodes.clone();
            ms_nodes.sort();
            return InitCommand {
                ms_nodes,
                ..local.init.clone()
            };
        }
        local.init.clone()
    }

    fn start_groups(&mut self, plan: &InitPlan) {
        for (name, addr) in &plan.addrs {
            self.learn_addr(name, *addr);
        }
        let me = self.cfg.name.clone();
        if plan.config.cmg_nodes.contains(&me) {
            let record = RaftGroup::bootstrap_record(
                plan.init,
                plan.config.cmg_nodes.clone(),
                Some(plan.clone()),
                vec![encode(&CmgCommand::Bootstrap)],
            );
            self.create_group(GroupKind::Cmg, record);
            if plan.config.cmg_nodes.first() == Some(&me) {
                if let Some(cmg) = self.cmg.as_mut() {
                    cmg.group.campaign();
                }
            }
        }
        if plan.config.ms_nodes.contains(&me) {
            let first = MsCommand::Init {
                version: plan.config.ms_version,
                nodes: plan.config.ms_nodes.clone(),
            };
            let record = RaftGroup::bootstrap_record(
                plan.init,
                plan.config.ms_nodes.clone(),
                Some(plan.clone()),
                vec![encode(&first)],
            );
            self.create_group(GroupKind::Ms, record);
            if plan.config.ms_nodes.first() == Some(&me) {
                if let Some(ms) = self.ms.as_mut() {
                    ms.group.campaign();
                }
            }
        }
    }

    pub(crate) fn on_status_query(
        &mut self,
        from: Addr,
        init: InstanceId,
        answering: Option<InstanceId>,
    ) {
        if let Some(instance) = answering {
            self.propose_init_fate(instance, true);
        }
        let status = GroupStatus {
            cmg_instance: self.cmg.as_ref().map(|c| c.group.instance()),
            cluster: self.cmg.as_ref().and_then(|c| c.state.cluster.clone()),
            ms_instance: self.ms.as_ref().map(|m| m.group.instance()),
            ms_leader: self.ms.as_ref().and_then(|m| {
                let leader = m.group.role_state().leader;
                self.name_of_raft_id(leader)
            }),
            init_fate: self.cmg.as_ref().and_then(|c| c.state.init_fate),
        };
        self.send(from, Message::StatusReply { init, status });
    }

    /// A cancel reaches a node (docs/protocol.md Step 2.6). The CMG log decides between a cancel
    /// and an answer to a user (`InitFate`, first applied wins): a replica of an answered init
    /// refuses; a replica of a committed or led group acts only once the cancel is committed
    /// (its leader proposes it); only a replica that has neither applied a cluster state nor
    /// known a leader (its group could not have answered anyone) destroys on its own. Other
    /// nodes clear what they hold of the init only on a cancel the CMG decided.
    pub(crate) fn on_cancel_init(&mut self, from: Addr, init: InstanceId, decided: bool) {
        if self.cfg.bug == Some(crate::bugs::PlantedBug::CancelLeavesVault) {
            self.send(
                from,
                Message::CancelAck {
                    init,
                    members: Vec::new(),
                    decided,
                    unanswered: None,
                },
            );
            return;
        }
        let replica = self
            .cmg
            .as_ref()
            .filter(|c| c.group.instance() == init)
            .map(|c| {
                let answered_in_log = c.group.log_holds(|data| {
                    matches!(
                        crate::message::decode::<CmgCommand>(data),
                        Ok(CmgCommand::InitAnswered)
                    )
                });
                let voters = self.cmg_voter_names(c);
                (
                    c.state.init_fate,
                    c.state.cluster.as_ref().map(|cl| cl.config.tag.clone()),
                    c.group.role_state().leader != 0 || answered_in_log,
                    voters,
                )
            });
        let decided = decided || self.cancelled.is_decided(init);
        let decided = match replica {
            Some((Some(InitFate::Answered), tag, _, _)) => {
                let tag = tag.expect("an answered init has a cluster state");
                self.emit(Event::CancelRefused {
                    init,
                    tag: tag.clone(),
                });
                self.send(from, Message::CancelRefused { init, tag });
                return;
            }
            Some((Some(InitFate::Cancelled), _, _, _)) => true,
            Some((None, _, _, _)) if decided => true,
            Some((None, _, led_or_answering, _)) => {
                if led_or_answering {
                    // Its group has a leader, or its log holds an answer that may be committed:
                    // the log decides. The leader proposes the cancel and acknowledges when it
                    // applies it; the initiator resends until the decision is known.
                    self.propose_init_fate(init, false);
                    if let Some(d) = self.cmg.as_mut().and_then(|c| c.duties.as_mut()) {
                        d.cancel_requesters.insert(from);
                    }
                    return;
                }
                // No leader, and no answer in its log: this replica fences itself — it keeps
                // its replica (an answer may have been committed by a majority it cannot
                // hear) but takes no part in its group until it learns the init's fate, so it
                // can never help commit an answer. Once enough voters are fenced that no
                // majority is left without them, the canceller takes the cancel as decided
                // and they destroy their replicas; a refusal lifts the fence.
                if self.cfg.bug == Some(crate::bugs::PlantedBug::CancelDestroysLeaderlessReplica) {
                    false
                } else {
                    let voters = replica.map(|(_, _, _, voters)| voters).unwrap_or_default();
                    self.fence_cmg(init);
                    self.send(
                        from,
                        Message::CancelAck {
                            init,
                            members: Vec::new(),
                            decided: false,
                            unanswered: Some(voters),
                        },
                    );
                    return;
                }
            }
            None => {
                let holds = self.local.as_ref().is_some_and(|l| l.cmg_instance == init)
                    || self.ms.as_ref().is_some_and(|m| m.group.instance() == init);
                if holds && !decided {
                    // A joined node or a Meta Storage replica cannot tell whether a user was
                    // answered: it waits for the CMG's decision.
                    return;
                }
                decided
            }
        };
        let unanswered = (!decided).then(|| {
            replica
                .as_ref()
                .map(|(_, _, _, voters)| voters.clone())
                .unwrap_or_default()
        });
        // Remembered even by a node that holds nothing: a late start of this init must not
        // give it a replica that could still help commit an answer.
        let members = self.clear_cancelled_init(init, decided);
        self.send(
            from,
            Message::CancelAck {
                init,
                members,
                decided,
                unanswered,
            },
        );
    }

    /// Destroys what this node holds of a cancelled init — its replicas of that incarnation
    /// (vault records included) and, if its stored cluster state is of that incarnation, that
    /// state — and remembers the cancel. Returns the nodes its CMG replica knew as joined,
    /// validated or departed (they may hold the cluster in their vaults and must be told).
    pub(crate) fn clear_cancelled_init(&mut self, init: InstanceId, decided: bool) -> Vec<Addr> {
        let members: Vec<Addr> = self
            .cmg
            .as_ref()
            .filter(|c| c.group.instance() == init)
            .map(|c| {
                c.state
                    .lt
                    .members
                    .values()
                    .chain(c.state.validated.values())
                    .chain(c.state.departed.values())
                    .map(|i| i.addr)
                    .collect()
            })
            .unwrap_or_default();
        let tag = self
            .cmg
            .as_ref()
            .filter(|c| c.group.instance() == init)
            .and_then(|c| c.state.cluster.as_ref().map(|cl| cl.config.tag.clone()))
            .or_else(|| {
                self.local
                    .as_ref()
                    .filter(|l| l.cmg_instance == init)
                    .map(|l| l.config.tag.clone())
            });
        let remembered = self.cancelled.remember(init, decided, members, tag);
        if remembered.newly_decided {
            self.write(VaultWrite::RecordCleared(init, remembered.tag));
        }
        for kind in [GroupKind::Cmg, GroupKind::Ms] {
            self.destroy_group(kind, init);
        }
        if self.local.as_ref().is_some_and(|l| l.cmg_instance == init) {
            self.local = None;
            self.write(VaultWrite::ClearLocal);
            self.emit(Event::VaultCleared { init });
            self.reset_join();
        } else if self.local.is_none()
            && self
                .joiner
                .cluster
                .as_ref()
                .is_some_and(|(_, i)| *i == init)
        {
            // It was asking a cluster that no longer exists to let it in.
            self.reset_join();
        }
        remembered.members
    }
}

/// How a requested init compares with the init command a node holds.
fn compare(
    plan: &InitPlan,
    held: &InitCommand,
    held_tag: &ClusterTag,
    held_init: InstanceId,
) -> StartOutcome {
    match plan.command().difference(held) {
        None => StartOutcome::Existing {
            init: held_init,
            tag: held_tag.clone(),
        },
        Some(detail) => StartOutcome::Mismatch { detail },
    }
}
