//! A CMG replica: this node's member of the CMG Raft group with its replicated [`CmgState`],
//! the init plan it was created with, the fence of an undecided cancel, and — while it leads —
//! the [`LeaderDuties`]. It applies committed commands and reports what changed
//! ([`CmgApplied`]), takes the leader's duties on and off with its role, and proposes the
//! cluster-init and the init's fate. The node routes it: `src/node/cmg.rs` (applying, cluster
//! state, carrying out LT hygiene — its rules are `src/cmg/hygiene.rs` — Meta Storage target)
//! and `src/node/cmg_validation.rs` (carrying out the leader's judgement of a join request,
//! `src/cmg/namesake.rs`).

use super::leader_duties::LeaderDuties;
use super::{CmgCommand, CmgOutcome, CmgState};
use crate::bugs::PlantedBug;
use crate::codec::{digest, encode};
use crate::event::Role;
use crate::init_command::InitPlan;
use crate::raft_group::{RaftGroup, RoleState};
use crate::types::{InstanceId, LaunchId, NodeName};
use std::sync::Arc;

/// What applying one committed CMG command did to the replica's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CmgApplied {
    /// The state machine's outcome.
    pub outcome: CmgOutcome,
    /// The group's incarnation.
    pub instance: InstanceId,
    /// The LT's members when the command changed it (`None`: unchanged).
    pub lt_after: Option<Vec<(NodeName, LaunchId)>>,
    /// The LT version after the command.
    pub lt_version: u64,
    /// The validations the command took away, (name, launch), sorted: validated before and
    /// neither validated nor in the LT with that launch after (reported as
    /// `Event::ValidationRevoked`).
    pub revoked: Vec<(NodeName, LaunchId)>,
    /// `codec::digest` of the state after the command (reported as `Event::ReplicaState`).
    pub digest: u64,
}

/// A CMG replica with its state machine.
///
/// Its fields are private: the glue under `src/node/` reads them through the accessors below
/// and changes them only through the methods (Raft through [`CmgReplica::group_mut`]).
pub(crate) struct CmgReplica {
    /// The Raft group.
    group: RaftGroup,
    /// The replicated state, as applied so far.
    state: Arc<CmgState>,
    /// The init plan the replica was created with (`None`: caught up from a leader, restored).
    plan: Option<Arc<InitPlan>>,
    /// The leader's duties, while this replica leads.
    duties: Option<LeaderDuties>,
    /// Set while an undecided cancel fences this replica: the time it last asked the group's
    /// voters for the init's fate (docs/protocol.md Step 2.6, "the fence").
    fence_asked_ms: Option<u64>,
}

impl CmgReplica {
    /// A replica of `group`, created with `plan`, not fenced, not leading; its state is rebuilt
    /// as the group applies its log from index 1.
    pub fn new(group: RaftGroup, plan: Option<Arc<InitPlan>>) -> CmgReplica {
        CmgReplica {
            group,
            state: Arc::default(),
            plan,
            duties: None,
            fence_asked_ms: None,
        }
    }

    /// Planted bug `CmgCommandAppliedTwiceOnRestart` only: applies `committed` (the commands of
    /// the committed log, in order) to the state before the group replays its log from index 1,
    /// as if the state were persisted; nothing is reported.
    pub fn preload(&mut self, committed: impl Iterator<Item = CmgCommand>) {
        for command in committed {
            Arc::make_mut(&mut self.state).apply(&command);
        }
    }

    /// The Raft group.
    pub fn group(&self) -> &RaftGroup {
        &self.group
    }

    /// The Raft group, to tick, step, process and campaign it.
    pub fn group_mut(&mut self) -> &mut RaftGroup {
        &mut self.group
    }

    /// The replicated state, as applied so far.
    pub fn state(&self) -> &CmgState {
        &self.state
    }

    /// The replicated state, shared (copied on the replica's next write only while this copy
    /// lives): how a [`crate::NodeView`] holds it without a copy.
    pub fn shared_state(&self) -> Arc<CmgState> {
        Arc::clone(&self.state)
    }

    /// The init plan the replica was created with (`None`: caught up from a leader, restored).
    pub fn plan(&self) -> Option<&InitPlan> {
        self.plan.as_deref()
    }

    /// True while an undecided cancel fences this replica (docs/protocol.md Step 2.6, "the
    /// fence"): it takes no part in its group.
    pub fn is_fenced(&self) -> bool {
        self.fence_asked_ms.is_some()
    }

    /// While fenced: when the replica last asked its group's voters for the init's fate.
    pub fn fence_asked_ms(&self) -> Option<u64> {
        self.fence_asked_ms
    }

    /// Fences the replica at `now_ms` (its first ask for the fate counts from then). False when
    /// it was fenced already (and nothing changed).
    pub fn fence(&mut self, now_ms: u64) -> bool {
        if self.fence_asked_ms.is_some() {
            return false;
        }
        self.fence_asked_ms = Some(now_ms);
        true
    }

    /// A fenced replica asked its group's voters for the fate at `now_ms`.
    pub fn note_fence_asked(&mut self, now_ms: u64) {
        if self.fence_asked_ms.is_some() {
            self.fence_asked_ms = Some(now_ms);
        }
    }

    /// Lifts the fence. False when the replica was not fenced.
    pub fn unfence(&mut self) -> bool {
        self.fence_asked_ms.take().is_some()
    }

    /// True while this replica leads (and does the leader's duties).
    pub fn leads(&self) -> bool {
        self.duties.is_some()
    }

    /// The leader's duties, while it leads.
    pub fn duties(&self) -> Option<&LeaderDuties> {
        self.duties.as_ref()
    }

    /// The replicated state with the leader's duties (while it leads), to act on both at once.
    pub fn state_and_duties_mut(&mut self) -> (&CmgState, Option<&mut LeaderDuties>) {
        (&self.state, self.duties.as_mut())
    }

    /// The leader's duties, while it leads.
    pub fn duties_mut(&mut self) -> Option<&mut LeaderDuties> {
        self.duties.as_mut()
    }

    /// Applies one committed command (with the planted bug `bug`, if any) and reports what
    /// changed.
    ///
    /// # Panics
    /// If the command changed a committed tag (an invariant of the state machine).
    pub fn apply(&mut self, command: &CmgCommand, bug: Option<PlantedBug>) -> CmgApplied {
        let lt_before = self.state.lt.version;
        let validated_before: Vec<(NodeName, LaunchId)> = self
            .state
            .validated
            .iter()
            .map(|(name, info)| (name.clone(), info.launch))
            .collect();
        let tag_before = self.state.cluster.as_ref().map(|c| c.config.tag.clone());
        let outcome = Arc::make_mut(&mut self.state).apply_with(command, bug);
        // Invariant: the tag never changes once committed.
        if let Some(before) = &tag_before {
            assert_eq!(
                Some(before),
                self.state.cluster.as_ref().map(|c| &c.config.tag),
                "CMG tag changed after commit"
            );
        }
        CmgApplied {
            outcome,
            instance: self.group.instance(),
            lt_after: (self.state.lt.version != lt_before).then(|| self.state.lt.pairs()),
            lt_version: self.state.lt.version,
            revoked: validated_before
                .into_iter()
                .filter(|(name, launch)| {
                    self.state.validated.get(name).map(|v| v.launch) != Some(*launch)
                        && !self.state.lt.contains(name, *launch)
                })
                .collect(),
            digest: digest(&*self.state),
        }
    }

    /// The replica's role, term or leader changed: a leader of a new term takes fresh duties
    /// (keeping them within its term), any other role drops them. Returns the role.
    pub fn role_changed(&mut self, change: RoleState, bug: Option<PlantedBug>) -> Role {
        let role = role_of(change.role);
        if role == Role::Leader {
            if self.duties.as_ref().map(|d| d.term()) != Some(change.term) {
                self.duties = Some(LeaderDuties::new(change.term));
                if bug == Some(PlantedBug::ForgetValidatedOnLeaderChange) {
                    let state = Arc::make_mut(&mut self.state);
                    state.validated.clear();
                    state.validated_attempts.clear();
                }
            }
        } else {
            self.duties = None;
        }
        role
    }

    /// A leader of a replica created by an init proposes the cluster-init command, once per
    /// term, while no cluster state and no fate is committed.
    pub fn propose_init_if_needed(&mut self) {
        let Some(duties) = self.duties.as_mut() else {
            return;
        };
        if self.state.cluster.is_some() || duties.init_proposed() || self.state.init_fate.is_some()
        {
            return;
        }
        let Some(plan) = self.plan.as_deref().cloned() else {
            return;
        };
        let taken = self.group.propose(encode(&CmgCommand::ClusterInit(plan)));
        duties.note_init_proposed(taken);
    }

    /// Proposes `command` (Raft drops it unless this replica leads). True when Raft took it.
    pub fn propose(&mut self, command: &CmgCommand) -> bool {
        self.group.propose(encode(command))
    }

    /// The leader of `instance` proposes the init's fate (once per term, while none is
    /// committed): `InitAnswered` (`answered`, only once the cluster state is committed) or
    /// `InitCancelled`.
    pub fn propose_fate(&mut self, instance: InstanceId, answered: bool) {
        if self.group.instance() != instance || self.state.init_fate.is_some() {
            return;
        }
        if answered && self.state.cluster.is_none() {
            return;
        }
        let Some(duties) = self.duties.as_mut() else {
            return;
        };
        if duties.fate_proposed() {
            return;
        }
        let command = if answered {
            CmgCommand::InitAnswered
        } else {
            CmgCommand::InitCancelled
        };
        let taken = self.group.propose(encode(&command));
        duties.note_fate_proposed(taken);
    }
}

/// The reported role of a raft-rs role (a pre-candidate is a candidate).
pub(crate) fn role_of(role: raft::StateRole) -> Role {
    match role {
        raft::StateRole::Leader => Role::Leader,
        raft::StateRole::Follower => Role::Follower,
        raft::StateRole::Candidate | raft::StateRole::PreCandidate => Role::Candidate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Timing;
    use crate::raft_group::{discard_logger, GroupStep};
    use crate::types::GroupKind;

    /// Node `a`'s replica of a one-voter CMG, bootstrapped, leading.
    fn leader() -> CmgReplica {
        let record = RaftGroup::bootstrap_record(
            InstanceId(9),
            vec!["a".into()],
            None,
            vec![encode(&CmgCommand::Bootstrap)],
        );
        let group = RaftGroup::open(
            GroupKind::Cmg,
            "a",
            &record,
            &Timing::default(),
            &discard_logger(),
        )
        .unwrap();
        let mut cmg = CmgReplica::new(group, None);
        cmg.group.campaign();
        cmg.group.process(&mut GroupStep::default()).unwrap();
        let change = cmg.group.take_role_change().unwrap();
        assert_eq!(cmg.role_changed(change, None), Role::Leader);
        cmg
    }

    fn role(role: raft::StateRole, term: u64) -> RoleState {
        RoleState {
            role,
            term,
            leader: 1,
        }
    }

    #[test]
    fn duties_live_for_a_term_of_leadership() {
        let mut cmg = leader();
        assert!(cmg.leads());
        let term = cmg.duties.as_ref().unwrap().term();
        cmg.duties_mut().unwrap().note_init_proposed(true);
        cmg.role_changed(role(raft::StateRole::Leader, term), None);
        assert!(
            cmg.duties.as_ref().unwrap().init_proposed(),
            "same term: kept"
        );
        cmg.role_changed(role(raft::StateRole::Leader, term + 1), None);
        assert!(
            !cmg.duties.as_ref().unwrap().init_proposed(),
            "new term: fresh"
        );
        let r = cmg.role_changed(role(raft::StateRole::PreCandidate, term + 2), None);
        assert_eq!(r, Role::Candidate);
        assert!(!cmg.leads());
    }

    #[test]
    fn applying_reports_the_digest_and_an_unchanged_lt() {
        let mut cmg = leader();
        let applied = cmg.apply(&CmgCommand::Bootstrap, None);
        assert_eq!(applied.outcome, CmgOutcome::Nothing);
        assert_eq!(applied.instance, InstanceId(9));
        assert_eq!(applied.lt_after, None);
        assert_eq!(applied.digest, digest(&CmgState::default()));
    }

    /// A validation taken away by a leave or replaced by a new launch's is reported as revoked;
    /// one that the join ready moves into the LT is not.
    #[test]
    fn applying_reports_the_validations_it_revokes() {
        use crate::cluster_config::ClusterConfig;
        use crate::init_command::InitPlan;
        use crate::types::{Addr, ClusterId, ClusterTag, NodeInfo, ProductVersion};
        let info = |name: &str, launch: u64| NodeInfo {
            name: name.into(),
            addr: Addr::new([10, 0, 0, 1], 7000),
            launch: LaunchId(launch),
            protocol: crate::types::ProtocolVersion(1),
            product: ProductVersion::new(3, 0, 0),
        };
        let join = |name: &str, launch: u64| CmgCommand::Join {
            info: info(name, launch),
            stored: None,
            attempt: 1,
        };
        let mut cmg = leader();
        cmg.apply(
            &CmgCommand::ClusterInit(InitPlan {
                init: InstanceId(9),
                config: ClusterConfig {
                    tag: ClusterTag {
                        name: "c".into(),
                        id: ClusterId(1),
                    },
                    cmg_nodes: vec!["a".into()],
                    ms_nodes: vec!["a".into()],
                    ms_version: 1,
                },
                product: ProductVersion::new(3, 0, 0),
                protocol: crate::types::ProtocolVersion(1),
                initiator: "a".into(),
                addrs: Default::default(),
            }),
            None,
        );
        assert!(cmg.apply(&join("b", 1), None).revoked.is_empty());
        let replaced = cmg.apply(&join("b", 2), None);
        assert_eq!(replaced.revoked, vec![("b".to_string(), LaunchId(1))]);
        let ready = CmgCommand::JoinReady {
            info: info("b", 2),
            attempt: 1,
        };
        assert!(cmg.apply(&ready, None).revoked.is_empty(), "into the LT");
        cmg.apply(&join("c", 1), None);
        let leave = CmgCommand::NodesLeave {
            nodes: vec![("b".into(), LaunchId(2)), ("c".into(), LaunchId(1))],
        };
        assert_eq!(
            cmg.apply(&leave, None).revoked,
            vec![("c".to_string(), LaunchId(1))],
            "b left the LT; only c's validation is revoked"
        );
    }

    #[test]
    fn the_fate_is_proposed_once_per_term_and_answered_only_with_a_cluster() {
        let mut cmg = leader();
        let last = cmg.group.last_index();
        cmg.propose_fate(InstanceId(9), true);
        assert_eq!(cmg.group.last_index(), last, "no cluster state: no answer");
        cmg.propose_fate(InstanceId(8), false);
        assert_eq!(cmg.group.last_index(), last, "another incarnation");
        cmg.propose_fate(InstanceId(9), false);
        assert_eq!(cmg.group.last_index(), last + 1);
        cmg.propose_fate(InstanceId(9), false);
        assert_eq!(cmg.group.last_index(), last + 1, "once per term");
        cmg.propose_init_if_needed();
        assert_eq!(cmg.group.last_index(), last + 1, "no plan: no cluster-init");
    }

    #[test]
    fn a_fence_is_set_once_asked_again_only_while_set_and_lifted_once() {
        let mut cmg = leader();
        assert!(!cmg.is_fenced());
        cmg.note_fence_asked(5);
        assert_eq!(cmg.fence_asked_ms(), None, "not fenced: nothing asked");
        assert!(cmg.fence(10));
        assert!(!cmg.fence(20), "already fenced");
        assert_eq!(cmg.fence_asked_ms(), Some(10));
        cmg.note_fence_asked(30);
        assert_eq!(cmg.fence_asked_ms(), Some(30));
        assert!(cmg.unfence());
        assert!(!cmg.unfence(), "not fenced any more");
        assert!(!cmg.is_fenced());
    }
}
