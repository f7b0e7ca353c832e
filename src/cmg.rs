//! The CMG's replicated state machine: the cluster state, the validated set and the logical
//! topology, changed only by commands applied in log order — identically on every replica.
//!
//! This module is pure: [`CmgState::apply`] takes a command and returns its outcome. The replica
//! that proposed a command sends the outcome to whoever asked: the replica is [`CmgReplica`]
//! (`src/cmg/replica.rs`, with the leader's duties in `src/cmg/leader_duties.rs`), routed by
//! `src/node/cmg.rs` and `src/node/cmg_validation.rs`.

mod leader_duties;
mod replica;
mod wire;

pub(crate) use leader_duties::PendingKey;
pub(crate) use replica::{role_of, CmgReplica};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::bugs::PlantedBug;
use crate::cluster_config::ClusterConfig;
use crate::error::{AdminError, JoinReadyRefusal, RejectionReason};
use crate::init::{InitCommand, InitPlan};
use crate::message::RequestId;
use crate::types::{
    Addr, ClusterTag, InstanceId, LaunchId, NodeInfo, NodeName, ProductVersion, ProtocolVersion,
};

/// The cluster state, set once by the first committed cluster-init command.
///
/// Encoded (in log entries' outcomes, and in the `ReplicaState` digest hashed into the trace) in
/// its original field order: tag, product, protocol, CMG voters, Meta Storage voters, initial
/// Meta Storage voters, Meta Storage version, incarnation, addresses ([`wire::ClusterState`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "wire::ClusterState", into = "wire::ClusterState")]
pub struct ClusterState {
    /// The cluster's configuration: tag (never changes once committed), CMG voters, Meta Storage
    /// voters now, and Meta Storage version (1 at init, +1 at every committed change of the
    /// Meta Storage list).
    pub config: ClusterConfig,
    /// Product version of the cluster (from the initiator).
    pub product: ProductVersion,
    /// Protocol version of the cluster (from the initiator).
    pub protocol: ProtocolVersion,
    /// Meta Storage voters at init (a replica that starts empty starts from them).
    pub initial_ms_nodes: Vec<NodeName>,
    /// The incarnation of both groups.
    pub instance: InstanceId,
    /// Addresses of the nodes named at init, and of every node made a Meta Storage voter since
    /// (from its LT entry when the change was applied).
    pub addrs: BTreeMap<NodeName, Addr>,
}

impl ClusterState {
    /// The init command the cluster was created with (its Meta Storage list at init, whatever
    /// the current one is).
    pub fn init_command(&self) -> InitCommand {
        self.config.init_command(&self.initial_ms_nodes)
    }

    fn from_plan(plan: &InitPlan) -> ClusterState {
        ClusterState {
            config: plan.config.clone(),
            product: plan.product,
            protocol: plan.protocol,
            initial_ms_nodes: plan.config.ms_nodes.clone(),
            instance: plan.init,
            addrs: plan.addrs.clone(),
        }
    }

    /// What this cluster gives a validated joiner.
    fn accept(&self) -> JoinAccept {
        JoinAccept {
            config: self.config.clone(),
            initial_ms_nodes: self.initial_ms_nodes.clone(),
            instance: self.instance,
            addrs: self.addrs.clone(),
        }
    }
}

/// The logical topology: nodes that were validated and sent join ready.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalTopology {
    /// Raised by one at every change.
    pub version: u64,
    /// Members by name.
    pub members: BTreeMap<NodeName, NodeInfo>,
}

impl LogicalTopology {
    /// True when this exact launch is a member.
    pub fn contains(&self, name: &str, launch: LaunchId) -> bool {
        self.members.get(name).is_some_and(|m| m.launch == launch)
    }

    /// Members as (name, launch) pairs, sorted by name.
    pub fn pairs(&self) -> Vec<(NodeName, LaunchId)> {
        self.members
            .iter()
            .map(|(n, i)| (n.clone(), i.launch))
            .collect()
    }
}

/// The CMG's whole replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmgState {
    /// Set by the first cluster-init command.
    pub cluster: Option<ClusterState>,
    /// Validated nodes waiting for their join ready, by name.
    pub validated: BTreeMap<NodeName, NodeInfo>,
    /// The logical topology.
    pub lt: LogicalTopology,
    /// The join attempt each validated node was validated for: only a join ready of that
    /// attempt moves it into the LT (a stale one, sent before a removal and a revalidation, is
    /// refused).
    pub validated_attempts: BTreeMap<NodeName, u64>,
    /// Nodes removed from the LT or the validated set as dead, by name (one entry per name, so
    /// bounded by the cluster's distinct names). They may still hold this cluster's state in
    /// their vaults, so a cancel of this cluster's init must reach them too.
    pub departed: BTreeMap<NodeName, NodeInfo>,
    /// Whether the init of this incarnation was answered to a user with its tag or cancelled:
    /// the first of `InitAnswered` and `InitCancelled` applied wins, and never changes after.
    /// docs/spec.md §5: no cancel destroys a cluster that a user was told exists.
    #[serde(default)]
    pub init_fate: Option<InitFate>,
}

/// What became of an init, decided once by the CMG log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum InitFate {
    /// An initiator recorded, before answering, that it answers a user with the tag: the cluster
    /// exists for good; cancels are refused.
    Answered,
    /// A cancel was committed before any answer: the replicas destroy the incarnation.
    Cancelled,
}

/// A command of the CMG log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmgCommand {
    /// The first entry of every CMG log. Changes nothing.
    Bootstrap,
    /// Set the cluster state (first one wins; later ones are compared).
    ClusterInit(InitPlan),
    /// Validate a joining node.
    Join {
        /// Who.
        info: NodeInfo,
        /// Its stored tag and MS version, if it is initialized.
        stored: Option<(ClusterTag, u64)>,
        /// The node's join attempt.
        attempt: u64,
    },
    /// A validated node finished recovery: move it into the LT.
    JoinReady {
        /// Who.
        info: NodeInfo,
        /// The join attempt it was validated for.
        attempt: u64,
    },
    /// Members declared dead: remove them from the LT and the validated set.
    NodesLeave {
        /// (name, launch) of each.
        nodes: Vec<(NodeName, LaunchId)>,
    },
    /// An initiator is about to answer a user with the cluster's tag (first fate wins).
    InitAnswered,
    /// A cancel of this incarnation's init (first fate wins).
    InitCancelled,
    /// Admin: change the Meta Storage node list (MS version + 1).
    ChangeMsNodes {
        /// New voters.
        nodes: Vec<NodeName>,
        /// The node that forwarded the admin command.
        origin: Addr,
        /// Its request id.
        request: RequestId,
    },
}

/// What a CMG gives a validated node: everything it needs to set up its Meta Storage.
///
/// Encoded (in `JoinResponse`) in its original field order: tag, CMG voters, Meta Storage
/// voters, initial Meta Storage voters, Meta Storage version, incarnation, addresses
/// ([`wire::JoinAccept`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "wire::JoinAccept", into = "wire::JoinAccept")]
pub struct JoinAccept {
    /// The cluster's configuration: its Meta Storage version is the one (Y) the joiner must
    /// catch up to.
    pub config: ClusterConfig,
    /// Meta Storage voters at init.
    pub initial_ms_nodes: Vec<NodeName>,
    /// Incarnation of the groups.
    pub instance: InstanceId,
    /// Known addresses of group members.
    pub addrs: BTreeMap<NodeName, Addr>,
}

/// The outcome of a join request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinResult {
    /// Validated.
    Accepted(JoinAccept),
    /// The cluster is not initialized yet: ask again later.
    RetryLater,
    /// Final rejection.
    Rejected(RejectionReason),
}

/// The outcome of applying a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmgOutcome {
    /// Nothing to report.
    Nothing,
    /// The cluster state was set by this command.
    InitApplied(ClusterState),
    /// The cluster state already existed and equals the command's parameters.
    InitExisting(ClusterState),
    /// The cluster state already existed with other parameters.
    InitMismatch {
        /// What differs.
        detail: String,
    },
    /// A join request was applied.
    Join(JoinResult),
    /// A join ready was applied: the LT version, or why not.
    JoinReady(Result<u64, JoinReadyRefusal>),
    /// These (name, launch) pairs left the LT.
    Left(Vec<(NodeName, LaunchId)>),
    /// A Meta Storage node list change: the new version and list, or why not.
    MsChanged(Result<(u64, Vec<NodeName>), AdminError>),
    /// The init's fate after an `InitAnswered` or `InitCancelled`.
    Fate(Option<InitFate>),
}

/// Join validation, the same on every replica. `Ok` means the node may be validated. `bug` is
/// the node configuration's planted bug (private to the crate, like that field).
pub(crate) fn validate_join(
    cluster: &ClusterState,
    info: &NodeInfo,
    stored: Option<&(ClusterTag, u64)>,
    bug: Option<PlantedBug>,
) -> Result<(), RejectionReason> {
    if info.protocol != cluster.protocol {
        return Err(RejectionReason::ProtocolMismatch {
            joiner: info.protocol,
            cluster: cluster.protocol,
        });
    }
    if !info.product.compatible_with(&cluster.product) {
        return Err(RejectionReason::ProductMismatch {
            joiner: info.product,
            cluster: cluster.product,
        });
    }
    if let Some((tag, ms_version)) = stored {
        if tag != &cluster.config.tag && bug != Some(PlantedBug::SkipJoinTagCheck) {
            return Err(RejectionReason::TagMismatch {
                joiner: tag.clone(),
                cluster: cluster.config.tag.clone(),
            });
        }
        if *ms_version > cluster.config.ms_version && bug != Some(PlantedBug::AcceptMsVersionAhead)
        {
            return Err(RejectionReason::MsVersionAhead {
                joiner: *ms_version,
                cluster: cluster.config.ms_version,
            });
        }
    }
    Ok(())
}

impl CmgState {
    /// Applies one committed command.
    pub fn apply(&mut self, command: &CmgCommand) -> CmgOutcome {
        self.apply_with(command, None)
    }

    /// Applies one committed command, with a planted bug if one is given (the node's
    /// configuration's; private to the crate, like that field).
    pub(crate) fn apply_with(
        &mut self,
        command: &CmgCommand,
        bug: Option<PlantedBug>,
    ) -> CmgOutcome {
        match command {
            CmgCommand::Bootstrap => CmgOutcome::Nothing,
            CmgCommand::ClusterInit(plan) => self.apply_init(plan, bug),
            CmgCommand::Join {
                info,
                stored,
                attempt,
            } => self.apply_join(info, stored.as_ref(), *attempt, bug),
            CmgCommand::JoinReady { info, attempt } => {
                CmgOutcome::JoinReady(self.apply_join_ready(info, *attempt, bug))
            }
            CmgCommand::NodesLeave { nodes } => CmgOutcome::Left(self.apply_leave(nodes)),
            CmgCommand::ChangeMsNodes { nodes, .. } => {
                CmgOutcome::MsChanged(self.apply_ms_change(nodes))
            }
            CmgCommand::InitAnswered => {
                // Only a committed cluster can be answered.
                if self.init_fate.is_none() && self.cluster.is_some() {
                    self.init_fate = Some(InitFate::Answered);
                }
                CmgOutcome::Fate(self.init_fate)
            }
            CmgCommand::InitCancelled => {
                if self.init_fate.is_none() {
                    self.init_fate = Some(InitFate::Cancelled);
                }
                CmgOutcome::Fate(self.init_fate)
            }
        }
    }

    fn apply_init(&mut self, plan: &InitPlan, bug: Option<PlantedBug>) -> CmgOutcome {
        if self.init_fate == Some(InitFate::Cancelled) {
            // Cancelled before its cluster-init was applied: it never will be.
            return CmgOutcome::Nothing;
        }
        match &self.cluster {
            Some(_) if bug == Some(PlantedBug::InitNotIdempotent) => {
                let state = ClusterState::from_plan(plan);
                self.cluster = Some(state.clone());
                CmgOutcome::InitApplied(state)
            }
            None => {
                let state = ClusterState::from_plan(plan);
                self.cluster = Some(state.clone());
                CmgOutcome::InitApplied(state)
            }
            Some(existing) => {
                let difference =
                    plan.command()
                        .difference(&existing.init_command())
                        .or_else(|| {
                            (!plan.product.compatible_with(&existing.product)).then(|| {
                                format!(
                                    "product versions do not match: requested {}, held {}",
                                    plan.product, existing.product
                                )
                            })
                        });
                match difference {
                    None => CmgOutcome::InitExisting(existing.clone()),
                    Some(detail) => CmgOutcome::InitMismatch { detail },
                }
            }
        }
    }

    fn apply_join(
        &mut self,
        info: &NodeInfo,
        stored: Option<&(ClusterTag, u64)>,
        attempt: u64,
        bug: Option<PlantedBug>,
    ) -> CmgOutcome {
        let Some(cluster) = &self.cluster else {
            return CmgOutcome::Join(JoinResult::RetryLater);
        };
        if let Err(reason) = validate_join(cluster, info, stored, bug) {
            return CmgOutcome::Join(JoinResult::Rejected(reason));
        }
        let accept = cluster.accept();
        if !self.lt.contains(&info.name, info.launch) {
            // A new launch of a validated name replaces the old validation.
            self.validated.insert(info.name.clone(), info.clone());
            self.validated_attempts.insert(info.name.clone(), attempt);
        }
        CmgOutcome::Join(JoinResult::Accepted(accept))
    }

    fn apply_join_ready(
        &mut self,
        info: &NodeInfo,
        attempt: u64,
        bug: Option<PlantedBug>,
    ) -> Result<u64, JoinReadyRefusal> {
        if self.lt.contains(&info.name, info.launch) {
            return Ok(self.lt.version);
        }
        let validated = self
            .validated
            .get(&info.name)
            .is_some_and(|v| v.launch == info.launch)
            && self.validated_attempts.get(&info.name) == Some(&attempt);
        if !validated && bug != Some(PlantedBug::LtWithoutValidation) {
            return Err(JoinReadyRefusal::NotValidated {
                name: info.name.clone(),
            });
        }
        self.validated.remove(&info.name);
        self.validated_attempts.remove(&info.name);
        // Same name, new launch: the new entry replaces the old one in a single change.
        self.lt.members.insert(info.name.clone(), info.clone());
        self.lt.version += 1;
        Ok(self.lt.version)
    }

    fn apply_leave(&mut self, nodes: &[(NodeName, LaunchId)]) -> Vec<(NodeName, LaunchId)> {
        let mut left = Vec::new();
        for (name, launch) in nodes {
            if self.lt.contains(name, *launch) {
                if let Some(info) = self.lt.members.remove(name) {
                    self.departed.insert(name.clone(), info);
                }
                self.lt.version += 1;
                left.push((name.clone(), *launch));
            }
            if self
                .validated
                .get(name)
                .is_some_and(|v| v.launch == *launch)
            {
                self.validated_attempts.remove(name);
                if let Some(info) = self.validated.remove(name) {
                    self.departed.insert(name.clone(), info);
                }
            }
        }
        left
    }

    fn apply_ms_change(&mut self, nodes: &[NodeName]) -> Result<(u64, Vec<NodeName>), AdminError> {
        let Some(cluster) = &mut self.cluster else {
            return Err(AdminError::NotJoined);
        };
        if nodes.is_empty() {
            return Err(AdminError::EmptyList);
        }
        let mut sorted = Vec::with_capacity(nodes.len());
        for name in nodes {
            if name.trim().is_empty() {
                return Err(AdminError::BlankNodeName);
            }
            if sorted.contains(name) {
                return Err(AdminError::DuplicateNodeName { name: name.clone() });
            }
            if !self.lt.members.contains_key(name) {
                return Err(AdminError::NotInLogicalTopology { name: name.clone() });
            }
            sorted.push(name.clone());
        }
        sorted.sort();
        // A voter's address is the group's to know (docs/protocol.md, "names are unique among
        // live nodes"): recorded for the new voters too, from their LT entries.
        for name in &sorted {
            if let Some(info) = self.lt.members.get(name) {
                cluster.addrs.insert(name.clone(), info.addr);
            }
        }
        if sorted != cluster.config.ms_nodes {
            cluster.config.ms_nodes = sorted;
            cluster.config.ms_version += 1;
        }
        Ok((cluster.config.ms_version, cluster.config.ms_nodes.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ClusterId;

    fn info(name: &str, launch: u64) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            addr: Addr::new([10, 0, 0, 1], 7000),
            launch: LaunchId(launch),
            protocol: ProtocolVersion(1),
            product: ProductVersion::new(3, 0, 0),
        }
    }

    fn plan(name: &str, id: u128, cmg: &[&str]) -> InitPlan {
        InitPlan {
            init: InstanceId(id as u64),
            config: ClusterConfig {
                tag: ClusterTag {
                    name: name.into(),
                    id: ClusterId(id),
                },
                cmg_nodes: cmg.iter().map(|s| s.to_string()).collect(),
                ms_nodes: cmg.iter().map(|s| s.to_string()).collect(),
                ms_version: 1,
            },
            product: ProductVersion::new(3, 0, 0),
            protocol: ProtocolVersion(1),
            initiator: "a".into(),
            addrs: BTreeMap::new(),
        }
    }

    fn initialized() -> CmgState {
        let mut s = CmgState::default();
        s.apply(&CmgCommand::ClusterInit(plan("c", 1, &["a", "b", "c"])));
        s
    }

    #[test]
    fn first_init_wins_and_later_ones_are_compared() {
        let mut s = CmgState::default();
        let first = s.apply(&CmgCommand::ClusterInit(plan("c", 1, &["a", "b", "c"])));
        assert!(matches!(first, CmgOutcome::InitApplied(_)));
        let same = s.apply(&CmgCommand::ClusterInit(plan("c", 2, &["a", "b", "c"])));
        match same {
            CmgOutcome::InitExisting(state) => assert_eq!(state.config.tag.id, ClusterId(1)),
            other => panic!("{other:?}"),
        }
        let other = s.apply(&CmgCommand::ClusterInit(plan("c", 3, &["a", "b", "d"])));
        match other {
            CmgOutcome::InitMismatch { detail } => assert!(detail.contains("CMG"), "{detail}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.cluster.unwrap().config.tag.id, ClusterId(1));
    }

    /// Validates each named node (launch 1) and moves it into the LT.
    fn join_into_lt(s: &mut CmgState, names: &[&str]) {
        for name in names {
            s.apply(&CmgCommand::Join {
                info: info(name, 1),
                stored: None,
                attempt: 1,
            });
            s.apply(&CmgCommand::JoinReady {
                info: info(name, 1),
                attempt: 1,
            });
        }
    }

    #[test]
    fn a_repeat_is_compared_with_the_init_command_not_the_current_ms_list() {
        let mut s = initialized();
        join_into_lt(&mut s, &["a", "b", "d"]);
        let changed = s.apply(&CmgCommand::ChangeMsNodes {
            nodes: vec!["a".into(), "b".into(), "d".into()],
            origin: Addr::new([10, 0, 0, 1], 7000),
            request: RequestId(1),
        });
        assert!(matches!(changed, CmgOutcome::MsChanged(Ok((2, _)))));
        let original = s.apply(&CmgCommand::ClusterInit(plan("c", 2, &["a", "b", "c"])));
        match original {
            CmgOutcome::InitExisting(state) => assert_eq!(state.config.tag.id, ClusterId(1)),
            other => panic!("{other:?}"),
        }
        let mut current = plan("c", 3, &["a", "b", "c"]);
        current.config.ms_nodes = vec!["a".into(), "b".into(), "d".into()];
        match s.apply(&CmgCommand::ClusterInit(current)) {
            CmgOutcome::InitMismatch { detail } => {
                assert!(detail.starts_with("Meta Storage"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_first_fate_wins_and_a_cancelled_init_is_never_applied() {
        let mut s = CmgState::default();
        // Nothing committed: an answer cannot be recorded.
        assert_eq!(s.apply(&CmgCommand::InitAnswered), CmgOutcome::Fate(None));
        let mut s = initialized();
        assert_eq!(
            s.apply(&CmgCommand::InitAnswered),
            CmgOutcome::Fate(Some(InitFate::Answered))
        );
        assert_eq!(
            s.apply(&CmgCommand::InitCancelled),
            CmgOutcome::Fate(Some(InitFate::Answered))
        );
        let mut s = CmgState::default();
        assert_eq!(
            s.apply(&CmgCommand::InitCancelled),
            CmgOutcome::Fate(Some(InitFate::Cancelled))
        );
        let late = s.apply(&CmgCommand::ClusterInit(plan("c", 1, &["a"])));
        assert_eq!(late, CmgOutcome::Nothing);
        assert!(s.cluster.is_none());
        assert_eq!(
            s.apply(&CmgCommand::InitAnswered),
            CmgOutcome::Fate(Some(InitFate::Cancelled))
        );
    }

    #[test]
    fn join_before_init_asks_to_retry() {
        let mut s = CmgState::default();
        let out = s.apply(&CmgCommand::Join {
            info: info("a", 1),
            stored: None,
            attempt: 1,
        });
        assert_eq!(out, CmgOutcome::Join(JoinResult::RetryLater));
    }

    #[test]
    fn every_rejection_reason() {
        let mut s = initialized();
        let tag = s.cluster.as_ref().unwrap().config.tag.clone();
        let mut old_protocol = info("x", 1);
        old_protocol.protocol = ProtocolVersion(2);
        let mut old_product = info("x", 1);
        old_product.product = ProductVersion::new(3, 1, 0);
        let other_tag = ClusterTag {
            name: "c".into(),
            id: ClusterId(99),
        };
        let cases = [
            (old_protocol, None, "Protocol"),
            (old_product, None, "Product"),
            (info("x", 1), Some((other_tag, 1)), "Tag"),
            (info("x", 1), Some((tag.clone(), 2)), "MsVersionAhead"),
        ];
        for (who, stored, want) in cases {
            let out = s.apply(&CmgCommand::Join {
                info: who,
                stored,
                attempt: 1,
            });
            let CmgOutcome::Join(JoinResult::Rejected(reason)) = out else {
                panic!("expected a rejection, got {out:?}");
            };
            assert!(format!("{reason:?}").starts_with(want), "{reason:?}");
        }
        assert!(s.validated.is_empty());
        // A patch difference is compatible; a stale MS version is accepted.
        let mut patched = info("y", 1);
        patched.product = ProductVersion::new(3, 0, 7);
        let out = s.apply(&CmgCommand::Join {
            info: patched,
            stored: Some((tag, 1)),
            attempt: 1,
        });
        assert!(matches!(out, CmgOutcome::Join(JoinResult::Accepted(_))));
    }

    #[test]
    fn a_join_ready_counts_only_for_the_validated_attempt() {
        let mut s = initialized();
        let join = |attempt| CmgCommand::Join {
            info: info("a", 1),
            stored: None,
            attempt,
        };
        let ready = |attempt| CmgCommand::JoinReady {
            info: info("a", 1),
            attempt,
        };
        s.apply(&join(1));
        // Removed as dead, then validated again for a new attempt: the join ready of the
        // first attempt (still in flight) must not move it into the LT.
        s.apply(&CmgCommand::NodesLeave {
            nodes: vec![("a".into(), LaunchId(1))],
        });
        s.apply(&join(2));
        assert!(matches!(
            s.apply(&ready(1)),
            CmgOutcome::JoinReady(Err(JoinReadyRefusal::NotValidated { .. }))
        ));
        assert!(s.lt.members.is_empty());
        assert_eq!(s.apply(&ready(2)), CmgOutcome::JoinReady(Ok(1)));
        assert!(s.validated_attempts.is_empty());
    }

    #[test]
    fn join_ready_needs_validation_and_same_name_replaces() {
        let mut s = initialized();
        let refused = s.apply(&CmgCommand::JoinReady {
            info: info("a", 1),
            attempt: 1,
        });
        assert!(matches!(refused, CmgOutcome::JoinReady(Err(_))));
        s.apply(&CmgCommand::Join {
            info: info("a", 1),
            stored: None,
            attempt: 1,
        });
        assert_eq!(
            s.apply(&CmgCommand::JoinReady {
                info: info("a", 1),
                attempt: 1
            }),
            CmgOutcome::JoinReady(Ok(1))
        );
        // Idempotent.
        assert_eq!(
            s.apply(&CmgCommand::JoinReady {
                info: info("a", 1),
                attempt: 1
            }),
            CmgOutcome::JoinReady(Ok(1))
        );
        // Restart: new launch replaces the entry.
        s.apply(&CmgCommand::Join {
            info: info("a", 2),
            stored: None,
            attempt: 1,
        });
        assert_eq!(
            s.apply(&CmgCommand::JoinReady {
                info: info("a", 2),
                attempt: 1
            }),
            CmgOutcome::JoinReady(Ok(2))
        );
        assert!(s.lt.contains("a", LaunchId(2)));
        // Leave of the old launch is a no-op; of the new one removes it.
        assert_eq!(
            s.apply(&CmgCommand::NodesLeave {
                nodes: vec![("a".into(), LaunchId(1))]
            }),
            CmgOutcome::Left(vec![])
        );
        assert!(s.departed.is_empty());
        s.apply(&CmgCommand::NodesLeave {
            nodes: vec![("a".into(), LaunchId(2))],
        });
        assert!(s.lt.members.is_empty());
        assert_eq!(s.lt.version, 3);
        // The departed node is remembered: it may still hold this cluster in its vault.
        assert_eq!(s.departed.get("a").map(|i| i.launch), Some(LaunchId(2)));
    }

    #[test]
    fn ms_node_change_validates_and_bumps_version() {
        let mut s = initialized();
        join_into_lt(&mut s, &["a", "b"]);
        let change = |s: &mut CmgState, nodes: &[&str]| {
            s.apply(&CmgCommand::ChangeMsNodes {
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
                origin: Addr::new([10, 0, 0, 1], 7000),
                request: RequestId(1),
            })
        };
        assert_eq!(
            change(&mut s, &[]),
            CmgOutcome::MsChanged(Err(AdminError::EmptyList))
        );
        assert!(matches!(
            change(&mut s, &["a", "z"]),
            CmgOutcome::MsChanged(Err(AdminError::NotInLogicalTopology { .. }))
        ));
        assert!(matches!(
            change(&mut s, &["a", "a"]),
            CmgOutcome::MsChanged(Err(AdminError::DuplicateNodeName { .. }))
        ));
        assert_eq!(
            change(&mut s, &["b", "a"]),
            CmgOutcome::MsChanged(Ok((2, vec!["a".into(), "b".into()])))
        );
        // Same list again: no new version.
        assert_eq!(
            change(&mut s, &["a", "b"]),
            CmgOutcome::MsChanged(Ok((2, vec!["a".into(), "b".into()])))
        );
    }

    #[test]
    fn bootstrap_changes_nothing() {
        let mut s = CmgState::default();
        assert_eq!(s.apply(&CmgCommand::Bootstrap), CmgOutcome::Nothing);
        assert_eq!(s, CmgState::default());
    }

    /// Every CMG command has a unit test in this module: adding a command does not compile
    /// until it is listed here with the test that applies it.
    #[test]
    fn every_command_has_a_test() {
        fn covered_by(command: &CmgCommand) -> &'static str {
            match command {
                CmgCommand::Bootstrap => "bootstrap_changes_nothing",
                CmgCommand::ClusterInit(_) => "first_init_wins_and_later_ones_are_compared",
                CmgCommand::Join { .. } => "every_rejection_reason",
                CmgCommand::JoinReady { .. } => {
                    "join_ready_needs_validation_and_same_name_replaces"
                }
                CmgCommand::NodesLeave { .. } => {
                    "join_ready_needs_validation_and_same_name_replaces"
                }
                CmgCommand::InitAnswered | CmgCommand::InitCancelled => {
                    "the_first_fate_wins_and_a_cancelled_init_is_never_applied"
                }
                CmgCommand::ChangeMsNodes { .. } => "ms_node_change_validates_and_bumps_version",
            }
        }
        let source = include_str!("cmg.rs");
        let plan = plan("c", 1, &["a"]);
        let node = info("a", 1);
        let commands = [
            CmgCommand::Bootstrap,
            CmgCommand::ClusterInit(plan),
            CmgCommand::Join {
                info: node.clone(),
                stored: None,
                attempt: 1,
            },
            CmgCommand::JoinReady {
                info: node.clone(),
                attempt: 1,
            },
            CmgCommand::NodesLeave {
                nodes: vec![("a".into(), node.launch)],
            },
            CmgCommand::InitAnswered,
            CmgCommand::InitCancelled,
            CmgCommand::ChangeMsNodes {
                nodes: vec!["a".into()],
                origin: Addr::new([10, 0, 0, 1], 7000),
                request: RequestId(1),
            },
        ];
        for command in &commands {
            let test = covered_by(command);
            assert!(
                source.contains(&format!("fn {test}()")),
                "{command:?}: no test named {test}"
            );
        }
    }
}
