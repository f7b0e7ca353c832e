//! The checkers' shared model of the run, built only from the trace and the vault writes: which
//! launches passed pre-init, which were validated and sent join ready, which tag each CMG
//! incarnation committed, every replica's durable log, ... It never asks a node: a bug that makes
//! a node lie in its own state cannot hide from it.
//!
//! [`Checker`](super::Checker) updates it once per trace entry, after every checker has looked at
//! the entry against the history of the entries before it; checkers only read it.

use std::collections::{BTreeMap, BTreeSet};

use joinsim::{
    ClusterTag, Event, GroupKind, InstanceId, LaunchId, NodeName, ProductVersion, ProtocolVersion,
    Role,
};

use super::durable::DurableLogs;
use super::Invariant;
use crate::trace::{HarnessEvent, TraceEntry, TraceKind};

/// What the checkers must know about a node beyond the trace.
#[derive(Clone, Debug)]
pub struct NodeFacts {
    /// The node's protocol name.
    pub name: NodeName,
    /// Product version.
    pub product: ProductVersion,
    /// Protocol version.
    pub protocol: ProtocolVersion,
}

/// A cluster as its CMG incarnation's first `ClusterInitApplied` committed it.
#[derive(Clone, Debug)]
pub struct ClusterFacts {
    /// The committed tag.
    pub tag: ClusterTag,
    /// The cluster's product version.
    pub product: ProductVersion,
    /// The cluster's protocol version.
    pub protocol: ProtocolVersion,
    /// The cluster's Meta Storage version: the init's, raised by every `MsNodesChanged`.
    pub ms_version: u64,
    /// The CMG voters.
    pub cmg_nodes: Vec<NodeName>,
}

/// A CMG replica's LT as it last reported it: (incarnation, version, members).
pub type ReplicaLt = (InstanceId, u64, Vec<(NodeName, LaunchId)>);

/// An init command normalized for comparison: name, sorted CMG list, sorted MS list.
pub type InitKey = (String, Vec<String>, Vec<String>);

/// A member entering an LT version: a (name, launch) in the LT of `version` of CMG incarnation
/// `instance` and not in the version before it, as the first replica to report that version
/// listed it.
#[derive(Clone, Debug)]
pub struct LtEntrant {
    /// The CMG incarnation.
    pub instance: InstanceId,
    /// The LT version it enters.
    pub version: u64,
    /// Its name.
    pub name: NodeName,
    /// Its launch.
    pub launch: LaunchId,
}

/// A launch within one CMG incarnation: the key of [`History::validated`] and
/// [`History::validation_indexes`].
pub type LaunchKey = (InstanceId, NodeName, LaunchId);

impl LtEntrant {
    /// The entrant's launch in its incarnation, the key the history keeps validations under.
    pub fn launch_key(&self) -> LaunchKey {
        (self.instance, self.name.clone(), self.launch)
    }
}

/// A leave a CMG replica applied: (incarnation, log index, the launches it named).
pub type AppliedLeave = (InstanceId, u64, Vec<(NodeName, LaunchId)>);

/// The shared model of the run (see the module's documentation).
#[derive(Debug, Default)]
pub struct History {
    /// Every node, by label.
    pub nodes: BTreeMap<String, NodeFacts>,
    /// Each label's current launch (its last `Started`).
    pub launch_of: BTreeMap<String, LaunchId>,
    /// The tag each label holds in its vault (`None`: empty).
    pub tag_of: BTreeMap<String, Option<ClusterTag>>,
    /// The CMG incarnation each label hosts a replica of.
    pub cmg_of: BTreeMap<String, InstanceId>,
    /// The MS incarnation each label hosts a replica of.
    pub ms_of: BTreeMap<String, InstanceId>,
    /// Every committed cluster, by CMG incarnation.
    pub clusters: BTreeMap<InstanceId, ClusterFacts>,
    /// Launches some node admitted (or that admitted themselves).
    pub admitted: BTreeSet<(NodeName, LaunchId)>,
    /// Validated launches per CMG incarnation (two clusters may exist at once: the hazard), with
    /// the log index of their latest validation.
    pub validated: BTreeMap<LaunchKey, u64>,
    /// Launches that sent join ready after a validation, with that validation's index.
    pub ready_after_validation: BTreeMap<(InstanceId, NodeName, LaunchId), u64>,
    /// Each launch's last join request: the tag and MS version it stored, if any.
    pub join_requests: BTreeMap<(NodeName, LaunchId), Option<(ClusterTag, u64)>>,
    /// The LT of each (CMG incarnation, version), as the first replica to report it listed it.
    pub lt_versions: BTreeMap<(InstanceId, u64), Vec<(NodeName, LaunchId)>>,
    /// Per CMG incarnation: every label whose vault held a replica of it, and when that vault
    /// was wiped (`None` while the replica may still be in it).
    pub cmg_hosts: BTreeMap<InstanceId, BTreeMap<String, Option<u64>>>,
    /// Tags of each incarnation: the one its init proposed, and the one its CMG committed.
    pub instance_tags: BTreeMap<InstanceId, BTreeSet<ClusterTag>>,
    /// Tags some node gave a user as the successful answer to an init, with the first time.
    pub answered: BTreeMap<ClusterTag, u64>,
    /// Inits their initiator cancelled.
    pub cancelled: BTreeSet<InstanceId>,
    /// Labels in the middle of applying a join acceptance: the time of its `JoinAccepted`.
    pub accepting: BTreeMap<String, u64>,
    /// Each CMG replica's own LT, as it last reported it.
    pub replica_lt: BTreeMap<String, ReplicaLt>,
    /// Each CMG replica that applied its incarnation's cluster-init (since it last started):
    /// the incarnation and the committed tag.
    pub cluster_in_log: BTreeMap<String, (InstanceId, ClusterTag)>,
    /// Each CMG replica's last applied node-leave: (incarnation, log index, the launches it
    /// named). The incarnation is kept so that a leave applied by a replica of an earlier
    /// incarnation (destroyed since) never counts for the same index of a new one (fuzz seeds
    /// 18013773, 18023139).
    pub last_leave: BTreeMap<String, AppliedLeave>,
    /// Per CMG incarnation, the cluster's Meta Storage version set at each log index.
    pub ms_history: BTreeMap<InstanceId, BTreeMap<u64, u64>>,
    /// Log indexes of the validations of each launch still in force, per CMG incarnation.
    pub validation_indexes: BTreeMap<LaunchKey, BTreeSet<u64>>,
    /// The highest Meta Storage version each launch's replica of each incarnation applied.
    pub ms_applied: BTreeMap<(NodeName, LaunchId, InstanceId), u64>,
    /// Every replica's durable log, as the vault writes left it.
    pub durable: DurableLogs,
    /// The init command each tag's cluster was created with (from its `InitStarted`).
    pub commands: BTreeMap<ClusterTag, InitKey>,
    /// The parameters of each init request a node received, by (label, request id).
    pub init_requests: BTreeMap<(String, u64), joinsim::InitParams>,
    /// Labels whose current launch its cluster accepted (`JoinAccepted`), not sent back to join
    /// since (`JoinRequestSent`), nor cleared by a cancel.
    pub accepted: BTreeSet<String>,
    /// Incarnations whose cancel was decided: their CMG applied it as the init's fate, or some
    /// node cleared its vault of them (which only a decided cancel does).
    pub fate_cancelled: BTreeSet<InstanceId>,
    /// When each label's current launch started (its `Started`), in microseconds.
    pub started_us: BTreeMap<String, u64>,
    /// The grace a node started from its vault gets before a refusal by tag may halt it:
    /// `2 * failure_timeout_ms` (docs/protocol.md, "a refusal never halts a live cluster").
    pub start_grace_ms: u64,
    /// Per label and group: whether the replica it hosts knows a leader (its last `RoleChanged`).
    pub knows_leader: BTreeMap<(String, GroupKind), bool>,
    /// Per CMG incarnation: the label that leads it now.
    pub cmg_leader_now: BTreeMap<InstanceId, String>,
}

/// The command a user's init parameters ask for, after trimming, sorting and defaulting (CMG
/// takes the MS list and the reverse); `None` when both lists are empty (the default then
/// depends on the receiving node's topology).
pub fn requested_command(params: &joinsim::InitParams) -> Option<InitKey> {
    let clean = |list: &[String]| {
        let mut list: Vec<String> = list.iter().map(|n| n.trim().to_string()).collect();
        list.sort();
        list
    };
    let (mut cmg, mut ms) = (clean(&params.cmg_nodes), clean(&params.ms_nodes));
    match (cmg.is_empty(), ms.is_empty()) {
        (true, true) => return None,
        (true, false) => cmg = ms.clone(),
        (false, true) => ms = cmg.clone(),
        (false, false) => {}
    }
    Some((params.cluster_name.trim().to_string(), cmg, ms))
}

/// The tag a pre-init refusal by tag refused (`tag_mismatch` or `conflicting_tag`: the joiner's
/// tag); `None` for any other rejection.
pub fn refused_tag(rejection: &joinsim::Rejection) -> Option<&ClusterTag> {
    match &rejection.reason {
        joinsim::RejectionReason::TagMismatch { joiner, .. }
        | joinsim::RejectionReason::ConflictingTag { joiner, .. }
            if rejection.stage == joinsim::RejectionStage::PreInit =>
        {
            Some(joiner)
        }
        _ => None,
    }
}

impl History {
    /// The protocol name of `label`.
    pub fn name_of(&self, label: &str) -> Option<&str> {
        self.nodes.get(label).map(|f| f.name.as_str())
    }

    /// (name, current launch) of a label.
    pub fn identity(&self, label: &str) -> Option<(NodeName, LaunchId)> {
        Some((
            self.name_of(label)?.to_string(),
            *self.launch_of.get(label)?,
        ))
    }

    /// The label whose current launch is (`name`, `launch`), if any.
    pub fn label_of(&self, name: &str, launch: LaunchId) -> Option<&str> {
        self.launch_of
            .iter()
            .find(|(l, la)| **la == launch && self.name_of(l) == Some(name))
            .map(|(l, _)| l.as_str())
    }

    /// The incarnation of `group` that `label` hosts a replica of.
    pub fn hosted(&self, label: &str, group: GroupKind) -> Option<InstanceId> {
        match group {
            GroupKind::Cmg => self.cmg_of.get(label).copied(),
            GroupKind::Ms => self.ms_of.get(label).copied(),
        }
    }

    /// True when `entry` belongs to the step in which its node applies a join acceptance:
    /// `JoinAccepted`, then the stored version, then the replicas of other incarnations destroyed
    /// and the new ones started, all at the time of the `JoinAccepted`.
    pub fn in_acceptance_step(&self, entry: &TraceEntry) -> bool {
        self.accepting.get(entry.node.as_str()) == Some(&entry.time_us)
    }

    /// The tag of `instance` that some user got as an init's answer, with when, if any.
    pub fn answered_tag_of(&self, instance: InstanceId) -> Option<(ClusterTag, u64)> {
        self.instance_tags
            .get(&instance)?
            .iter()
            .find_map(|t| self.answered.get(t).map(|at| (t.clone(), *at)))
    }

    /// True when `label`'s current launch started less than its start grace before `time_us`.
    pub fn within_start_grace(&self, label: &str, time_us: u64) -> bool {
        self.started_us
            .get(label)
            .is_some_and(|s| time_us / 1_000 < s / 1_000 + self.start_grace_ms)
    }

    /// An incarnation with this tag (proposed or committed) whose cancel was decided, if any.
    pub fn cancelled_init_of(&self, tag: &ClusterTag) -> Option<InstanceId> {
        self.instance_tags
            .iter()
            .find(|(i, tags)| tags.contains(tag) && self.fate_cancelled.contains(*i))
            .map(|(i, _)| *i)
    }

    /// When the cluster with this committed tag ceased to exist: the time the last vault holding
    /// a replica of its CMG incarnation was wiped. `None` while any such vault may still hold one
    /// (a replica destroyed by the protocol does not end a cluster here: only a wipe does, which
    /// no protocol can undo), or when no CMG committed the tag.
    pub fn cluster_gone_since(&self, tag: &ClusterTag) -> Option<u64> {
        let mut gone: Option<u64> = None;
        for (instance, cluster) in &self.clusters {
            if &cluster.tag != tag {
                continue;
            }
            let mut last = 0;
            for wiped in self.cmg_hosts.get(instance)?.values() {
                last = last.max((*wiped)?);
            }
            gone = Some(gone.unwrap_or(0).max(last));
        }
        gone
    }

    /// The members `entry` brings into an LT version, when it is an `LtChanged` of a CMG replica
    /// and the first report of that (incarnation, version): the (name, launch)s not in the
    /// version before it. `None` otherwise.
    pub fn lt_entrants(&self, entry: &TraceEntry) -> Option<Vec<LtEntrant>> {
        let TraceKind::Protocol(Event::LtChanged {
            version, members, ..
        }) = &entry.kind
        else {
            return None;
        };
        let instance = *self.cmg_of.get(entry.node.as_str())?;
        if self.lt_versions.contains_key(&(instance, *version)) {
            return None;
        }
        // The version before (a leave of several members raises it by more than one).
        let previous: BTreeSet<&(NodeName, LaunchId)> = self
            .lt_versions
            .range((instance, 0)..(instance, *version))
            .next_back()
            .map(|(_, m)| m.iter().collect())
            .unwrap_or_default();
        Some(
            members
                .iter()
                .filter(|m| !previous.contains(m))
                .map(|(name, launch)| LtEntrant {
                    instance,
                    version: *version,
                    name: name.clone(),
                    launch: *launch,
                })
                .collect(),
        )
    }

    /// Forgets what `label`'s replicas (of `group`, or all) knew of their leaders.
    fn forget_leaders_of(&mut self, label: &str, group: Option<GroupKind>) {
        self.knows_leader
            .retain(|(l, g), _| l != label || group.is_some_and(|k| k != *g));
        if group != Some(GroupKind::Ms) {
            self.cmg_leader_now.retain(|_, l| l != label);
        }
    }

    /// Forgets `label`'s replica of `group` (destroyed or failed).
    fn drop_replica(&mut self, label: &str, group: GroupKind) {
        self.forget_leaders_of(label, Some(group));
        match group {
            GroupKind::Cmg => self.cmg_of.remove(label),
            GroupKind::Ms => self.ms_of.remove(label),
        };
        if group == GroupKind::Cmg {
            self.replica_lt.remove(label);
            self.cluster_in_log.remove(label);
        }
    }

    /// Takes one trace entry into the history. `broken` is the invariant the entry broke, if it
    /// broke one: an event that disagrees with what another replica applied at its log index
    /// (`always_committed_logs_agree`) is not taken in at all, an admission that broke pre-init
    /// does not count as one, and an LT report that broke an LT rule
    /// (`always_lt_version_steps_by_one`, `always_lt_member_removed_only_by_its_leave`) does
    /// not record that LT version.
    pub fn record(&mut self, entry: &TraceEntry, broken: Option<Invariant>) {
        let label = entry.node.as_str();
        let event = match &entry.kind {
            TraceKind::Harness(HarnessEvent::VaultWiped) => {
                self.accepted.remove(label);
                self.tag_of.insert(label.to_string(), None);
                // A wipe legitimately loses everything the node held: its replicas' logs (not a
                // loss of committed entries) and, for the cluster, a CMG replica.
                for hosts in self.cmg_hosts.values_mut() {
                    if let Some(wiped @ None) = hosts.get_mut(label) {
                        *wiped = Some(entry.time_us);
                    }
                }
                self.durable.wipe(label);
                return;
            }
            TraceKind::Harness(HarnessEvent::NodeKilled) => {
                self.accepted.remove(label);
                self.forget_leaders_of(label, None);
                self.cmg_of.remove(label);
                self.ms_of.remove(label);
                self.replica_lt.remove(label);
                self.cluster_in_log.remove(label);
                self.accepting.remove(label);
                return;
            }
            TraceKind::Harness(_) | TraceKind::Message(_) | TraceKind::Verdict(_) => return,
            TraceKind::Protocol(e) => e,
        };
        let disagrees = broken == Some(Invariant::AlwaysCommittedLogsAgree);
        if !matches!(
            event,
            Event::JoinAccepted { .. }
                | Event::MsVersionStored { .. }
                | Event::GroupDestroyed { .. }
                | Event::GroupStarted { .. }
        ) || !self.in_acceptance_step(entry)
        {
            self.accepting.remove(label);
        }
        match event {
            Event::RoleChanged {
                group,
                instance,
                role,
                leader,
                ..
            } => {
                if self.hosted(label, *group) == Some(*instance) {
                    self.knows_leader
                        .insert((label.to_string(), *group), leader.is_some());
                }
                if *group == GroupKind::Cmg {
                    if *role == Role::Leader {
                        self.cmg_leader_now.insert(*instance, label.to_string());
                    } else if self.cmg_leader_now.get(instance).map(String::as_str) == Some(label) {
                        self.cmg_leader_now.remove(instance);
                    }
                }
            }
            Event::Started { launch, tag, .. } => {
                self.accepted.remove(label);
                self.started_us.insert(label.to_string(), entry.time_us);
                self.launch_of.insert(label.to_string(), *launch);
                self.tag_of.insert(label.to_string(), tag.clone());
            }
            Event::VaultCleared { init } => {
                // Only a cancel the CMG decided clears a vault.
                self.fate_cancelled.insert(*init);
                self.accepted.remove(label);
                self.tag_of.insert(label.to_string(), None);
            }
            Event::JoinAccepted { tag, .. } => {
                self.accepted.insert(label.to_string());
                self.tag_of.insert(label.to_string(), Some(tag.clone()));
                self.accepting.insert(label.to_string(), entry.time_us);
            }
            Event::InitStarted {
                init,
                tag,
                cmg_nodes,
                ms_nodes,
                ..
            } => {
                self.instance_tags
                    .entry(*init)
                    .or_default()
                    .insert(tag.clone());
                let sorted = |list: &[NodeName]| {
                    let mut list = list.to_vec();
                    list.sort();
                    list
                };
                let command = (tag.name.clone(), sorted(cmg_nodes), sorted(ms_nodes));
                self.commands.entry(tag.clone()).or_insert(command);
            }
            Event::InitReceived { request, params } => {
                self.init_requests
                    .insert((label.to_string(), request.0), params.clone());
            }
            Event::Halted { .. } => self.forget_leaders_of(label, None),
            Event::InitAnswered {
                result: Ok(tag), ..
            } => {
                self.answered.entry(tag.clone()).or_insert(entry.time_us);
            }
            Event::InitCancelled { init, .. } => {
                self.cancelled.insert(*init);
            }
            Event::InitFateApplied {
                instance,
                fate: Some(joinsim::InitFate::Cancelled),
                ..
            } => {
                self.fate_cancelled.insert(*instance);
            }
            Event::NodesLeft { nodes, index } if !disagrees => {
                // A leave at log index i revokes validations made before i (a lagging replica may
                // report an old leave after a newer validation).
                let Some(instance) = self.cmg_of.get(label).copied() else {
                    return;
                };
                self.last_leave
                    .insert(label.to_string(), (instance, *index, nodes.clone()));
                for (name, launch) in nodes {
                    let key = (instance, name.clone(), *launch);
                    for revoked in [&mut self.validated, &mut self.ready_after_validation] {
                        if revoked.get(&key).is_some_and(|v| *v < *index) {
                            revoked.remove(&key);
                        }
                    }
                    if let Some(indexes) = self.validation_indexes.get_mut(&key) {
                        indexes.retain(|i| *i >= *index);
                        if indexes.is_empty() {
                            self.validation_indexes.remove(&key);
                        }
                    }
                }
            }
            Event::EnteredTopology { via } if Some(via.as_str()) == self.name_of(label) => {
                if let Some(launch) = self.launch_of.get(label) {
                    self.admitted.insert((via.clone(), *launch));
                }
            }
            Event::Admitted { member, launch, .. }
                if broken != Some(Invariant::AlwaysPhysicalMemberPassedPreInit) =>
            {
                self.admitted.insert((member.clone(), *launch));
            }
            Event::GroupStarted {
                group, instance, ..
            } => {
                self.forget_leaders_of(label, Some(*group));
                match group {
                    GroupKind::Cmg => self.cmg_of.insert(label.to_string(), *instance),
                    GroupKind::Ms => self.ms_of.insert(label.to_string(), *instance),
                };
                if *group == GroupKind::Cmg {
                    // A replica (re)starts applying its log from index 1: its LT from version 0.
                    self.replica_lt
                        .insert(label.to_string(), (*instance, 0, Vec::new()));
                    self.cluster_in_log.remove(label);
                    self.cmg_hosts
                        .entry(*instance)
                        .or_default()
                        .insert(label.to_string(), None);
                }
            }
            Event::GroupDestroyed { group, .. } | Event::ReplicaFailed { group, .. } => {
                self.drop_replica(label, *group);
            }
            Event::ClusterInitApplied {
                instance,
                tag,
                product,
                protocol,
                ms_version,
                cmg_nodes,
                index,
            } if !disagrees => {
                self.instance_tags
                    .entry(*instance)
                    .or_default()
                    .insert(tag.clone());
                if self.cmg_of.get(label) == Some(instance) {
                    self.cluster_in_log
                        .insert(label.to_string(), (*instance, tag.clone()));
                }
                self.ms_history
                    .entry(*instance)
                    .or_default()
                    .entry(*index)
                    .or_insert(*ms_version);
                self.clusters
                    .entry(*instance)
                    .or_insert_with(|| ClusterFacts {
                        tag: tag.clone(),
                        product: *product,
                        protocol: *protocol,
                        ms_version: *ms_version,
                        cmg_nodes: cmg_nodes.clone(),
                    });
            }
            Event::JoinRequestSent { stored, .. } => {
                self.accepted.remove(label);
                if let Some(key) = self.identity(label) {
                    self.join_requests.insert(key, stored.clone());
                }
            }
            Event::Validated {
                node,
                launch,
                index,
            } if !disagrees => {
                if let Some(instance) = self.cmg_of.get(label).copied() {
                    let at = self
                        .validated
                        .entry((instance, node.clone(), *launch))
                        .or_insert(*index);
                    *at = (*at).max(*index);
                    self.validation_indexes
                        .entry((instance, node.clone(), *launch))
                        .or_default()
                        .insert(*index);
                }
            }
            Event::JoinReadySent { .. } => {
                // The node may have been validated by more than one cluster (the hazard): its
                // join ready counts for each validation made so far.
                if let Some((name, launch)) = self.identity(label) {
                    let validations: Vec<((InstanceId, NodeName, LaunchId), u64)> = self
                        .validated
                        .iter()
                        .filter(|((_, n, l), _)| *n == name && *l == launch)
                        .map(|(k, v)| (k.clone(), *v))
                        .collect();
                    for (key, index) in validations {
                        self.ready_after_validation.insert(key, index);
                    }
                }
            }
            Event::MsNodesChanged { version, index, .. } if !disagrees => {
                if let Some(instance) = self.cmg_of.get(label).copied() {
                    if let Some(cluster) = self.clusters.get_mut(&instance) {
                        cluster.ms_version = cluster.ms_version.max(*version);
                    }
                    self.ms_history
                        .entry(instance)
                        .or_default()
                        .entry(*index)
                        .or_insert(*version);
                }
            }
            Event::MsConfigApplied { version, .. } if !disagrees => {
                if let Some(instance) = self.ms_of.get(label).copied() {
                    if let Some((name, launch)) = self.identity(label) {
                        let reached = self.ms_applied.entry((name, launch, instance)).or_insert(0);
                        *reached = (*reached).max(*version);
                    }
                }
            }
            Event::LtChanged {
                version, members, ..
            } if !disagrees => {
                let Some(instance) = self.cmg_of.get(label).copied() else {
                    return;
                };
                self.replica_lt
                    .insert(label.to_string(), (instance, *version, members.clone()));
                let lt_rule_broken = matches!(
                    broken,
                    Some(
                        Invariant::AlwaysLtVersionStepsByOne
                            | Invariant::AlwaysLtMemberRemovedOnlyByItsLeave
                    )
                );
                if !lt_rule_broken {
                    self.lt_versions
                        .entry((instance, *version))
                        .or_insert_with(|| members.clone());
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_cluster_is_gone_only_when_every_cmg_vault_was_wiped() {
        let mut checker = Checker::new(facts());
        let history = vec![
            ("a", cmg_started()),
            ("b", cmg_started()),
            ("a", init_applied(1, 1, 2)),
        ];
        for (n, e) in history {
            assert!(checker.observe(&entry(n, e)).is_none());
        }
        let wipe = |node: &str, time_us| TraceEntry {
            time_us,
            node: node.into(),
            kind: TraceKind::Harness(HarnessEvent::VaultWiped),
        };
        assert_eq!(checker.cluster_gone_since(&tag(1)), None);
        // A destroyed replica (a cancel, a replacement) is not a wipe.
        checker.observe(&TraceEntry {
            time_us: 5,
            node: "b".into(),
            kind: TraceKind::Protocol(Event::GroupDestroyed {
                group: GroupKind::Cmg,
                instance: I,
            }),
        });
        checker.observe(&wipe("a", 10));
        assert_eq!(checker.cluster_gone_since(&tag(1)), None);
        checker.observe(&wipe("b", 20));
        assert_eq!(checker.cluster_gone_since(&tag(1)), Some(20));
        assert_eq!(checker.cluster_gone_since(&tag(9)), None);
    }
}
