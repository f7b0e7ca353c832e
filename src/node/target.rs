//! The node's routing of the init target's side (docs/protocol.md Step 2): a node named in an
//! init answers `StartGroups` after comparing the init with what it holds, starts its replicas,
//! reports its groups to status queries, and handles a cancel that reaches it (Step 2.6) —
//! gathering the facts the rules in `src/init/target.rs` decide on, and applying the result. The
//! fence is in `src/node/fence.rs`.

use crate::cmg::{CmgCommand, CmgReplica};
use crate::codec::encode;
use crate::event::Event;
use crate::init::{
    cancel_step, held_init_command, held_outcome, CancelStep, GroupStatus, HeldOutcome, Holdings,
    InitCommand, InitPlan, ReplicaFacts, StartOutcome,
};
use crate::join::JoinPhase;
use crate::marks::Mark;
use crate::message::Message;
use crate::metastorage::MsCommand;
use crate::node::Node;
use crate::raft_group::RaftGroup;
use crate::types::{Addr, GroupKind, InstanceId};
use crate::vault::{LocalState, VaultWrite};

impl Node {
    pub(crate) fn on_start_groups(&mut self, from: Addr, plan: InitPlan) {
        let init = plan.init;
        let outcome = if self.is_stopped() {
            StartOutcome::Failed {
                detail: format!("node has stopped: {}", self.stop_reason()),
            }
        } else if !plan.config.cmg_nodes.contains(&self.cfg.name)
            && !plan.config.ms_nodes.contains(&self.cfg.name)
        {
            StartOutcome::Failed {
                detail: "node is not named in the init".into(),
            }
        } else {
            match self.held_init_outcome(&plan) {
                HeldOutcome::Answer(held) => held,
                HeldOutcome::Nothing => {
                    self.start_groups(&plan);
                    StartOutcome::Started
                }
                // What it holds is of an init whose fate it does not know yet (a cancel of it
                // is under way here, or its CMG replica of it is fenced): that says nothing
                // about what it holds until the fate is known (cleared, or answered), so it
                // does not answer yet, and the initiator resends every init_retry_ms (a repeat
                // of an init must not be refused by the leftover of a refused attempt; a retry
                // after a cancel must not be refused by the cancelled init).
                HeldOutcome::Undecided { .. } => return,
            }
        };
        self.send(from, Message::StartGroupsAck { init, outcome });
    }

    /// The inits whose fate this node does not know yet: the cancels under way here
    /// ([`CancelsUnderWay`](crate::init::CancelsUnderWay)) and the init of its fenced CMG
    /// replica. In id order, the fenced one last. A CMG replica whose log holds a cancel
    /// (`InitCancelled`, committed or not) while no fate is applied has a cancel under way
    /// whether or not a `CancelInit` reached it: it is noted here, the first time it is seen (a
    /// cancel the CMG decided without this node is in a majority's logs, and this replica may
    /// be one of that majority that has not learnt the commit yet).
    pub(crate) fn undecided_inits(&mut self) -> Vec<InstanceId> {
        let cancel_in_log = self
            .cmg
            .as_ref()
            .filter(|c| c.state().init_fate.is_none())
            .filter(|c| cmg_log_holds(c, |cmd| matches!(cmd, CmgCommand::InitCancelled)))
            .map(|c| c.group().instance());
        if let Some(init) = cancel_in_log {
            self.under_way.note(init, self.now_ms);
        }
        let mut undecided = self
            .under_way
            .under_way(self.now_ms, self.timing.init_timeout_ms);
        if let Some(cmg) = self.cmg.as_ref().filter(|c| c.is_fenced()) {
            undecided.push(cmg.group().instance());
        }
        undecided
    }

    /// How an init compares with what this node already holds, if it holds anything
    /// ([`held_outcome`]).
    fn held_init_outcome(&mut self, plan: &InitPlan) -> HeldOutcome {
        let undecided = self.undecided_inits();
        let hosted = [
            self.cmg.as_ref().map(|c| (c.group().instance(), c.plan())),
            self.ms.as_ref().map(|m| (m.group().instance(), m.plan())),
        ];
        // Not initialized, but already asking another cluster to let it in.
        let joining = self
            .joiner
            .cluster()
            .filter(|_| self.local.is_none() && *self.joiner.phase() != JoinPhase::Waiting)
            .map(|(tag, instance)| (tag, *instance));
        let holdings = Holdings {
            cancelled: self.cancelled.contains(plan.init),
            hosted,
            joining,
            local: self.local.as_deref(),
            undecided: &undecided,
        };
        held_outcome(plan, holdings, self.cfg.bug)
    }

    /// The init command this node compares a requested init with: the one its cluster was
    /// created with (`LocalState::init`; [`held_init_command`]).
    pub(crate) fn held_init_command(&self, local: &LocalState) -> InitCommand {
        held_init_command(local, self.cfg.bug)
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
                    cmg.group_mut().campaign();
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
                    ms.group_mut().campaign();
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
            cmg_instance: self.cmg.as_ref().map(|c| c.group().instance()),
            cluster: self.cmg.as_ref().and_then(|c| c.state().cluster.clone()),
            ms_instance: self.ms.as_ref().map(|m| m.group().instance()),
            ms_leader: self.ms.as_ref().and_then(|m| {
                let leader = m.group().role_state().leader;
                self.name_of_raft_id(leader)
            }),
            init_fate: self.cmg.as_ref().and_then(|c| c.state().init_fate),
        };
        self.send(from, Message::StatusReply { init, status });
    }

    /// A cancel reaches a node (docs/protocol.md Step 2.6): the node gathers what its CMG
    /// replica of the init knows and what it holds, and applies what [`cancel_step`] decides —
    /// refuse, let the CMG log decide, fence, wait, or clear and acknowledge.
    pub(crate) fn on_cancel_init(&mut self, from: Addr, init: InstanceId, decided: bool) {
        self.emit(Event::CancelReceived {
            init,
            from,
            decided,
        });
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
            .filter(|c| c.group().instance() == init)
            .map(|c| {
                let answered_in_log =
                    cmg_log_holds(c, |cmd| matches!(cmd, CmgCommand::InitAnswered));
                ReplicaFacts {
                    fate: c.state().init_fate,
                    tag: c.state().cluster.as_ref().map(|cl| cl.config.tag.clone()),
                    led_or_answering: c.group().role_state().leader != 0 || answered_in_log,
                    voters: self.cmg_voter_names(c),
                }
            });
        let decided = decided || self.cancelled.is_decided(init);
        let holds = self.local.as_ref().is_some_and(|l| l.cmg_instance == init)
            || self
                .ms
                .as_ref()
                .is_some_and(|m| m.group().instance() == init);
        match cancel_step(replica, decided, holds, self.cfg.bug) {
            CancelStep::Refuse(tag) => {
                self.mark(Mark::CancelRefusedAsAnswered);
                self.under_way.end(init);
                self.emit(Event::CancelRefused {
                    init,
                    tag: tag.clone(),
                });
                self.send(from, Message::CancelRefused { init, tag });
            }
            CancelStep::Propose => {
                self.mark(Mark::CancelProposedToCmg);
                // Its fate comes from the log; until then it is no ground for a refusal.
                self.under_way.note(init, self.now_ms);
                self.propose_init_fate(init, false);
                if let Some(d) = self.cmg.as_mut().and_then(|c| c.duties_mut()) {
                    d.note_cancel_requester(from);
                }
            }
            CancelStep::Fence(voters) => {
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
            }
            CancelStep::Wait => {
                self.mark(Mark::CancelWaitsForFate);
                self.under_way.note(init, self.now_ms);
            }
            CancelStep::Clear {
                decided,
                unanswered,
            } => {
                // Remembered even by a node that holds nothing: a late start of this init must
                // not give it a replica that could still help commit an answer.
                self.mark(if decided {
                    Mark::CancelClearedDecided
                } else {
                    Mark::CancelClearedUndecided
                });
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
        }
    }

    /// Destroys what this node holds of a cancelled init — its replicas of that incarnation
    /// (vault records included) and, if its stored cluster state is of that incarnation, that
    /// state — and remembers the cancel. Returns the nodes its CMG replica knew as joined,
    /// validated or departed (they may hold the cluster in their vaults and must be told).
    pub(crate) fn clear_cancelled_init(&mut self, init: InstanceId, decided: bool) -> Vec<Addr> {
        let members: Vec<Addr> = self
            .cmg
            .as_ref()
            .filter(|c| c.group().instance() == init)
            .map(|c| {
                c.state()
                    .lt
                    .members
                    .values()
                    .chain(c.state().validated.values())
                    .chain(c.state().departed.values())
                    .map(|i| i.addr)
                    .collect()
            })
            .unwrap_or_default();
        let tag = self
            .cmg
            .as_ref()
            .filter(|c| c.group().instance() == init)
            .and_then(|c| c.state().cluster.as_ref().map(|cl| cl.config.tag.clone()))
            .or_else(|| {
                self.local
                    .as_ref()
                    .filter(|l| l.cmg_instance == init)
                    .map(|l| l.config.tag.clone())
            });
        self.under_way.end(init);
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
            self.mark(Mark::VaultClearedByCancel);
            self.emit(Event::VaultCleared { init });
            self.reset_join();
        } else if self.local.is_none() && self.joiner.cluster().is_some_and(|(_, i)| *i == init) {
            // It was asking a cluster that no longer exists to let it in.
            self.reset_join();
        }
        remembered.members
    }
}

/// True when some entry of a CMG replica's log (committed or not) is a command `matches` holds
/// for (entries that do not decode never match).
fn cmg_log_holds(cmg: &CmgReplica, matches: fn(&CmgCommand) -> bool) -> bool {
    cmg.group()
        .log_holds(|data| crate::codec::decode::<CmgCommand>(data).is_ok_and(|c| matches(&c)))
}

#[cfg(test)]
mod tests;
