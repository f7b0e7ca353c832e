//! The CMG's replicated state ([`CmgState`]): the cluster state, the validated set, the logical
//! topology and the init's fate, and how a committed command changes them — identically on
//! every replica, in log order.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::validation::validate_join;
use super::{CmgCommand, CmgOutcome, JoinAccept, JoinResult};
use crate::bugs::PlantedBug;
use crate::cluster_config::ClusterConfig;
use crate::error::{AdminError, JoinReadyRefusal};
use crate::init_command::{InitCommand, InitFate, InitPlan};
use crate::types::{
    Addr, ClusterTag, InstanceId, LaunchId, NodeInfo, NodeName, ProductVersion, ProtocolVersion,
};

/// The cluster state, set once by the first committed cluster-init command.
///
/// Encoded (in log entries' outcomes, and in the `ReplicaState` digest hashed into the trace) in
/// its original field order: tag, product, protocol, CMG voters, Meta Storage voters, initial
/// Meta Storage voters, Meta Storage version, incarnation, addresses ([`super::wire::ClusterState`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "super::wire::ClusterState")]
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
        InitCommand::of_cluster(&self.config, &self.initial_ms_nodes)
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
    /// The join attempt whose validation a leave revoked, by name, with its launch (one entry per
    /// name, the latest revocation: bounded by the cluster's distinct names). **Decision (a
    /// revoked attempt is never validated again, issue 11, fuzz seed 30002849):** a join request
    /// of that launch under that attempt or an earlier one is answered `StaleAttempt` and
    /// validates nothing. Its join readies may still be on their way (sent before the
    /// revocation, or by the joiner as it resumed from a pause); were the attempt validated
    /// again by a stale copy of its join request, one of those would count for the new
    /// validation and put the node in the LT without a join ready sent after it.
    #[serde(default)]
    pub revoked_attempts: BTreeMap<NodeName, (LaunchId, u64)>,
}

impl CmgState {
    /// The logical topology once a cluster is committed (`None` before: the LT of a replica
    /// without a cluster state means nothing).
    pub fn committed_lt(&self) -> Option<&LogicalTopology> {
        self.cluster.as_ref().map(|_| &self.lt)
    }

    /// What the cluster gives a validated joiner (docs/protocol.md Step 4): its configuration,
    /// the Meta Storage voters at init, the groups' incarnation and the members' addresses.
    /// `None` before the cluster is committed. Built by the leader that answers a join
    /// ([`CmgOutcome::JoinAccepted`]), not by every replica that applies it.
    pub fn join_accept(&self) -> Option<JoinAccept> {
        self.cluster.as_ref().map(ClusterState::accept)
    }

    /// The address at which this cluster knows the node named `name`: its validation's (the
    /// latest admission decision of the CMG, docs/protocol.md Step 4), else its LT entry's;
    /// `None` when the cluster holds no node of that name. Within a cluster names are unique
    /// (the CMG refuses a second live holder), so this is the node the cluster's groups mean by
    /// `name` — whatever node of another cluster shares the name in the physical topology.
    pub fn member_addr(&self, name: &str) -> Option<Addr> {
        self.validated
            .get(name)
            .or_else(|| self.lt.members.get(name))
            .map(|info| info.addr)
    }

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
        let revoked = self
            .revoked_attempts
            .get(&info.name)
            .is_some_and(|(launch, revoked)| *launch == info.launch && attempt <= *revoked);
        if revoked {
            return CmgOutcome::Join(JoinResult::StaleAttempt);
        }
        if bug == Some(PlantedBug::RejoinRemovesOwnLtEntry)
            && self.lt.contains(&info.name, info.launch)
        {
            // Planted bug: the member's own launch is taken for an older one, whose LT entry a
            // new validation replaces (IGNITE-19179).
            self.lt.members.remove(&info.name);
            self.lt.version += 1;
        }
        if !self.lt.contains(&info.name, info.launch) {
            // A new launch of a validated name replaces the old validation.
            self.validated.insert(info.name.clone(), info.clone());
            self.validated_attempts.insert(info.name.clone(), attempt);
        }
        CmgOutcome::JoinAccepted
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
                if let Some(attempt) = self.validated_attempts.remove(name) {
                    self.revoked_attempts
                        .insert(name.clone(), (*launch, attempt));
                }
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
