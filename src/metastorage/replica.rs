//! A Meta Storage replica: this node's member of the Meta Storage Raft group with its
//! [`MsState`], and the Meta Storage's own duties — applying committed entries, adding a learner,
//! carrying out a reconfiguration the CMG committed, leaving a joint configuration, handing
//! leadership to a voter. It returns what the node must report or record
//! ([`MsApplied`], an answer to send); the node routes it (`src/node/ms.rs`).

use raft::eraftpb::{ConfChangeType, ConfChangeV2};

use super::{reconfiguration, single, MsChange, MsCommand, MsState};
use crate::bugs::PlantedBug;
use crate::codec::{decode, digest, encode};
use crate::init::InitPlan;
use crate::raft_group::{Applied, RaftGroup};
use crate::types::{raft_id, InstanceId, NodeName};

/// What applying one committed Meta Storage entry produced, in log order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MsApplied {
    /// The state after the entry at `index`: its digest (reported as `Event::ReplicaState`).
    State {
        /// The entry's index.
        index: u64,
        /// `codec::digest` of the [`MsState`].
        digest: u64,
    },
    /// The entry at `index` installed a newer configuration (reported as
    /// `Event::MsConfigApplied`, and stored in the vault if the node is initialized).
    ConfigApplied {
        /// The new Meta Storage version.
        version: u64,
        /// Its voters.
        nodes: Vec<NodeName>,
        /// The entry's index.
        index: u64,
    },
    /// The entry at `index` did not decode: the replica cannot go on (the node drops it and
    /// reports `Event::ReplicaFailed`). Nothing after it was applied.
    Failed {
        /// The entry's index.
        index: u64,
        /// The decoding error.
        detail: String,
    },
}

/// A Meta Storage replica with its state machine.
pub(crate) struct MsReplica {
    /// The Raft group (read through [`MsReplica::group`], driven through
    /// [`MsReplica::group_mut`]).
    group: RaftGroup,
    state: MsState,
    /// The init plan the replica was created with (`None`: caught up from a leader, or
    /// restored).
    plan: Option<InitPlan>,
    /// When this replica last heard its group (a Raft message of its incarnation arrived) or led
    /// it: a joined node whose group stays silent for `2 × failure_timeout_ms` asks whether its
    /// init was cancelled (`Node::join_tick`).
    heard_ms: u64,
}

impl MsReplica {
    /// A replica of `group`, created with `plan`, opened at `now_ms`; its state is rebuilt as
    /// the group applies its log from index 1.
    pub fn new(group: RaftGroup, plan: Option<InitPlan>, now_ms: u64) -> MsReplica {
        MsReplica {
            group,
            state: MsState::default(),
            plan,
            heard_ms: now_ms,
        }
    }

    /// The init plan the replica was created with (`None`: caught up from a leader, or
    /// restored); the init glue compares it with a requested init.
    pub fn plan(&self) -> Option<&InitPlan> {
        self.plan.as_ref()
    }

    /// The Raft group.
    pub fn group(&self) -> &RaftGroup {
        &self.group
    }

    /// The Raft group, to tick, step and process it.
    pub fn group_mut(&mut self) -> &mut RaftGroup {
        &mut self.group
    }

    /// The group's incarnation.
    pub fn instance(&self) -> InstanceId {
        self.group.instance()
    }

    /// The replicated state as applied so far.
    pub fn state(&self) -> &MsState {
        &self.state
    }

    /// A Raft message of this replica's incarnation arrived at `now_ms`.
    pub fn heard(&mut self, now_ms: u64) {
        self.heard_ms = now_ms;
    }

    /// True when the group has been silent for `bound_ms` at `now_ms`; a leader hears itself
    /// (its clock restarts).
    pub fn silent(&mut self, now_ms: u64, bound_ms: u64) -> bool {
        if self.group.is_leader() {
            self.heard_ms = now_ms;
        }
        now_ms >= self.heard_ms + bound_ms
    }

    /// True when the node of Raft id `id` is a voter or a learner of the group.
    pub fn holds(&self, id: u64) -> bool {
        let conf = self.group.conf_state();
        conf.voters.contains(&id) || conf.learners.contains(&id)
    }

    /// Applies committed entries in log order, stopping at one that does not decode. `bug` may
    /// plant `LearnerChangesOutOfOrder` (an older configuration is installed too).
    pub fn apply(&mut self, applied: Vec<Applied>, bug: Option<PlantedBug>) -> Vec<MsApplied> {
        let mut out = Vec::new();
        for entry in applied {
            let (index, changed) = match entry {
                Applied::Normal { index, data } => match decode::<MsCommand>(&data) {
                    Ok(
                        MsCommand::Init { version, nodes }
                        | MsCommand::SetConfig { version, nodes },
                    ) => (index, self.state.set_config(version, &nodes, bug)),
                    Err(detail) => {
                        out.push(MsApplied::Failed { index, detail });
                        return out;
                    }
                },
                Applied::ConfChange { index, context } => {
                    if context.is_empty() {
                        continue;
                    }
                    match decode::<MsChange>(&context) {
                        Ok(MsChange::AddLearner { name }) => {
                            if !self.state.nodes.contains(&name) {
                                self.state.learners.insert(name);
                            }
                            (index, false)
                        }
                        Ok(MsChange::Reconfigure { version, nodes }) => {
                            let old_voters = self.state.nodes.clone();
                            let changed = self.state.set_config(version, &nodes, bug);
                            if changed {
                                for n in old_voters {
                                    if !nodes.contains(&n) {
                                        self.state.learners.insert(n);
                                    }
                                }
                            }
                            (index, changed)
                        }
                        Ok(MsChange::LeaveJoint) => (index, false),
                        Err(detail) => {
                            out.push(MsApplied::Failed { index, detail });
                            return out;
                        }
                    }
                }
            };
            out.push(MsApplied::State {
                index,
                digest: digest(&self.state),
            });
            if changed {
                out.push(MsApplied::ConfigApplied {
                    version: self.state.version,
                    nodes: self.state.nodes.clone(),
                    index,
                });
            }
        }
        out
    }

    /// The leader adds `name` as a learner, unless it is already a voter or a learner.
    pub fn add_learner(&mut self, name: NodeName) {
        if !self.group.is_leader() {
            return;
        }
        let id = raft_id(&name);
        if self.holds(id) {
            return;
        }
        let mut change = ConfChangeV2::default();
        change.set_changes(vec![single(id, ConfChangeType::AddLearnerNode)].into());
        self.group
            .propose_conf_change(encode(&MsChange::AddLearner { name }), change);
    }

    /// The CMG leader asks for `nodes` at `version`. A replica that already applied `version`
    /// (or a newer one) returns the version it applied, to confirm; a leader outside a joint
    /// configuration proposes the change (a membership change, or only the version when the
    /// voters stay); anything else does nothing (`None`). One membership change at a time (Raft):
    /// none is proposed while the previous one is pending (`RaftGroup::propose_conf_change`) or
    /// the group is still joint. `bug` may plant `LearnerChangesOutOfOrder` (an older version is
    /// carried out too) or `MsReconfigurationOverlaps` (neither guard is asked).
    pub fn reconfigure(
        &mut self,
        version: u64,
        nodes: Vec<NodeName>,
        bug: Option<PlantedBug>,
    ) -> Option<u64> {
        let done = if bug == Some(PlantedBug::LearnerChangesOutOfOrder) {
            // Planted bug: only the very version applied counts as done (IGNITE-22818).
            self.state.version == version
        } else {
            self.state.version >= version
        };
        if done {
            return Some(self.state.version);
        }
        if !self.group.is_leader() {
            return None;
        }
        let overlap = bug == Some(PlantedBug::MsReconfigurationOverlaps);
        let conf = self.group.conf_state();
        if !conf.voters_outgoing.is_empty() && !overlap {
            // Still in a joint configuration: leave it first (see `tick`).
            return None;
        }
        match reconfiguration(&conf, &nodes) {
            Some(change) => {
                let context = encode(&MsChange::Reconfigure { version, nodes });
                if overlap {
                    // Planted bug: proposed whatever change is still pending.
                    self.group.propose_conf_change_overlapping(context, change);
                } else {
                    self.group.propose_conf_change(context, change);
                }
            }
            None => {
                self.group
                    .propose(encode(&MsCommand::SetConfig { version, nodes }));
            }
        }
        None
    }

    /// Meta Storage duties on every tick: a leader left in a joint configuration leaves it
    /// (raft-rs does not when leadership changed before the joint change was applied), and a
    /// leader that is no longer a voter (demoted by a reconfiguration; raft-rs keeps it leading)
    /// hands leadership to the first voter.
    pub fn tick_duties(&mut self) {
        if !self.group.is_leader() || self.group.has_pending_conf() {
            return;
        }
        let conf = self.group.conf_state();
        if !conf.voters_outgoing.is_empty() {
            self.group
                .propose_conf_change(encode(&MsChange::LeaveJoint), ConfChangeV2::default());
        } else if !conf.voters.contains(&self.group.id()) {
            let next = self
                .state
                .nodes
                .iter()
                .map(|n| raft_id(n))
                .find(|id| conf.voters.contains(id));
            if let Some(next) = next {
                self.group.transfer_leader(next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Timing;
    use crate::raft_group::{discard_logger, GroupStep};
    use crate::types::GroupKind;

    fn names(list: &[&str]) -> Vec<NodeName> {
        list.iter().map(|n| n.to_string()).collect()
    }

    /// Node `a`'s replica of a new Meta Storage whose voters are `voters` (`a` first), at
    /// version 1, and what its first processing applied.
    fn replica(voters: &[&str]) -> (MsReplica, Vec<MsApplied>) {
        let first = MsCommand::Init {
            version: 1,
            nodes: names(voters),
        };
        let record =
            RaftGroup::bootstrap_record(InstanceId(7), names(voters), None, vec![encode(&first)]);
        let group = RaftGroup::open(
            GroupKind::Ms,
            "a",
            &record,
            &Timing::default(),
            &discard_logger(),
        )
        .unwrap();
        let mut ms = MsReplica::new(group, None, 0);
        let applied = process(&mut ms);
        (ms, applied)
    }

    fn process(ms: &mut MsReplica) -> Vec<MsApplied> {
        let mut step = GroupStep::default();
        ms.group_mut().process(&mut step).unwrap();
        ms.apply(step.applied, None)
    }

    /// Node `a` alone: it campaigns and leads.
    fn leader() -> MsReplica {
        let (mut ms, _) = replica(&["a"]);
        ms.group_mut().campaign();
        process(&mut ms);
        assert!(ms.group().is_leader());
        ms
    }

    #[test]
    fn the_first_entry_installs_the_initial_configuration() {
        let (ms, applied) = replica(&["a", "b"]);
        assert_eq!(ms.state().version, 1);
        assert_eq!(ms.state().nodes, names(&["a", "b"]));
        assert_eq!(ms.instance(), InstanceId(7));
        assert!(matches!(applied[0], MsApplied::State { index: 1, .. }));
        assert_eq!(
            applied[1],
            MsApplied::ConfigApplied {
                version: 1,
                nodes: names(&["a", "b"]),
                index: 1
            }
        );
        assert!(ms.holds(raft_id("b")));
        assert!(!ms.holds(raft_id("c")));
    }

    #[test]
    fn an_entry_that_does_not_decode_stops_the_replica_there() {
        let (mut ms, _) = replica(&["a"]);
        let applied = ms.apply(
            vec![
                Applied::Normal {
                    index: 2,
                    data: vec![0xff; 3],
                },
                Applied::Normal {
                    index: 3,
                    data: encode(&MsCommand::SetConfig {
                        version: 5,
                        nodes: names(&["a"]),
                    }),
                },
            ],
            None,
        );
        assert_eq!(applied.len(), 1);
        assert!(matches!(applied[0], MsApplied::Failed { index: 2, .. }));
        assert_eq!(ms.state().version, 1, "nothing after it was applied");
    }

    #[test]
    fn an_older_version_changes_nothing_and_a_reconfiguration_demotes_leavers() {
        let (mut ms, _) = replica(&["a", "b"]);
        let stale = encode(&MsCommand::SetConfig {
            version: 1,
            nodes: names(&["z"]),
        });
        let applied = ms.apply(
            vec![Applied::Normal {
                index: 2,
                data: stale,
            }],
            None,
        );
        assert!(matches!(applied[..], [MsApplied::State { index: 2, .. }]));
        let change = MsChange::Reconfigure {
            version: 2,
            nodes: names(&["a", "c"]),
        };
        ms.apply(
            vec![Applied::ConfChange {
                index: 3,
                context: encode(&change),
            }],
            None,
        );
        assert_eq!(ms.state().version, 2);
        assert!(ms.state().learners.contains("b"));
        let empty = ms.apply(
            vec![Applied::ConfChange {
                index: 4,
                context: vec![],
            }],
            None,
        );
        assert!(empty.is_empty(), "a change without context is not reported");
    }

    #[test]
    fn a_replica_that_applied_the_version_confirms_it_and_a_follower_does_nothing() {
        let (mut ms, _) = replica(&["a", "b"]);
        assert_eq!(ms.reconfigure(1, names(&["a"]), None), Some(1));
        assert_eq!(ms.reconfigure(2, names(&["a"]), None), None);
        assert_eq!(ms.group().last_index(), 1, "a follower proposes nothing");
    }

    #[test]
    fn the_leader_applies_a_new_version_of_the_same_voters() {
        let mut ms = leader();
        assert_eq!(ms.reconfigure(2, names(&["a"]), None), None);
        let applied = process(&mut ms);
        assert!(applied.contains(&MsApplied::ConfigApplied {
            version: 2,
            nodes: names(&["a"]),
            index: 3
        }));
        assert_eq!(ms.reconfigure(2, names(&["a"]), None), Some(2));
    }

    #[test]
    fn the_leader_adds_a_learner_once() {
        let mut ms = leader();
        ms.add_learner("b".into());
        process(&mut ms);
        assert!(ms.state().learners.contains("b"));
        assert!(ms.holds(raft_id("b")));
        let last = ms.group().last_index();
        ms.add_learner("b".into());
        assert_eq!(ms.group().last_index(), last, "already a learner");
    }

    #[test]
    fn a_leader_hears_itself_and_a_follower_goes_silent() {
        let (mut follower, _) = replica(&["a", "b"]);
        assert!(!follower.silent(99, 100));
        assert!(follower.silent(100, 100));
        follower.heard(100);
        assert!(!follower.silent(199, 100));
        let mut ms = leader();
        assert!(!ms.silent(1_000, 100));
    }

    #[test]
    fn the_planted_bug_carries_out_an_older_reconfiguration() {
        let mut ms = leader();
        assert_eq!(ms.reconfigure(3, names(&["a"]), None), None);
        process(&mut ms);
        assert_eq!(ms.state().version, 3);
        assert_eq!(
            ms.reconfigure(2, names(&["a"]), None),
            Some(3),
            "older: done"
        );
        let bug = Some(PlantedBug::LearnerChangesOutOfOrder);
        assert_eq!(ms.reconfigure(2, names(&["a"]), bug), None, "proposed");
        let mut step = GroupStep::default();
        ms.group_mut().process(&mut step).unwrap();
        let applied = ms.apply(step.applied, bug);
        assert!(applied.contains(&MsApplied::ConfigApplied {
            version: 2,
            nodes: names(&["a"]),
            index: 4
        }));
        assert_eq!(ms.state().version, 2, "the version went back");
    }

    #[test]
    fn the_planted_bug_proposes_a_change_while_one_is_pending() {
        let mut ms = leader();
        ms.add_learner("b".into());
        assert!(ms.group().has_pending_conf());
        let last = ms.group().last_index();
        assert_eq!(ms.reconfigure(2, names(&["a", "c"]), None), None);
        assert_eq!(ms.group().last_index(), last, "one change at a time");
        let bug = Some(PlantedBug::MsReconfigurationOverlaps);
        assert_eq!(ms.reconfigure(2, names(&["a", "c"]), bug), None);
        assert_eq!(
            ms.group().last_index(),
            last + 1,
            "a second change proposed"
        );
    }
}
