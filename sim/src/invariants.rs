//! The safety invariants of docs/spec.md §3, each a named checker, run after every trace entry; the
//! two-cluster hazard; and the liveness property checked after faults stop.
//!
//! The checker is fed the trace as it is recorded. It keeps its own model of what happened —
//! which launches passed pre-init, which were validated, which sent join ready, which tag each CMG
//! incarnation committed — and compares every new event against it. It never asks a node: a bug
//! that makes a node lie in its own state cannot hide from it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use joinsim::{
    ClusterTag, Event, GroupKind, InstanceId, LaunchId, NodeName, ProductVersion, ProtocolVersion,
    Role, Vault,
};
use serde::Serialize;

use crate::trace::{HarnessEvent, TraceEntry, TraceKind};

/// The safety invariants, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    /// One tag per CMG incarnation, never changed once committed.
    AlwaysOneTagPerCmg,
    /// Every LT member was validated and then sent join ready, for that launch.
    AlwaysLtMemberValidatedThenReady,
    /// Every LT member holds the cluster's tag (or was empty), has compatible versions, and an MS
    /// version no higher than the cluster's.
    AlwaysLtMemberCompatible,
    /// All CMG replicas agree on the LT at each LT version.
    AlwaysReplicasAgreeOnLt,
    /// Every member of any physical-topology view passed pre-init validation.
    AlwaysPhysicalMemberPassedPreInit,
    /// A node's stored Meta Storage version never decreases.
    AlwaysMsVersionMonotonic,
    /// At most one Raft leader per term per group.
    AlwaysOneLeaderPerTerm,
    /// Replicas apply the same command at the same log index, and committed logs agree.
    AlwaysCommittedLogsAgree,
    /// Two successful answers to inits with the same parameters carry the same tag.
    AlwaysInitIdempotent,
}

impl Invariant {
    /// Every invariant.
    pub const ALL: [Invariant; 9] = [
        Invariant::AlwaysOneTagPerCmg,
        Invariant::AlwaysLtMemberValidatedThenReady,
        Invariant::AlwaysLtMemberCompatible,
        Invariant::AlwaysReplicasAgreeOnLt,
        Invariant::AlwaysPhysicalMemberPassedPreInit,
        Invariant::AlwaysMsVersionMonotonic,
        Invariant::AlwaysOneLeaderPerTerm,
        Invariant::AlwaysCommittedLogsAgree,
        Invariant::AlwaysInitIdempotent,
    ];

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::AlwaysOneTagPerCmg => "always_one_tag_per_cmg",
            Invariant::AlwaysLtMemberValidatedThenReady => "always_lt_member_validated_then_ready",
            Invariant::AlwaysLtMemberCompatible => "always_lt_member_compatible",
            Invariant::AlwaysReplicasAgreeOnLt => "always_replicas_agree_on_lt",
            Invariant::AlwaysPhysicalMemberPassedPreInit => {
                "always_physical_member_passed_pre_init"
            }
            Invariant::AlwaysMsVersionMonotonic => "always_ms_version_monotonic",
            Invariant::AlwaysOneLeaderPerTerm => "always_one_leader_per_term",
            Invariant::AlwaysCommittedLogsAgree => "always_committed_logs_agree",
            Invariant::AlwaysInitIdempotent => "always_init_idempotent",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which.
    pub invariant: Invariant,
    /// Simulated time of the entry that broke it, in microseconds.
    pub time_us: u64,
    /// Nodes involved (labels or names).
    pub nodes: Vec<String>,
    /// What exactly.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated at {:.3} ms (nodes {:?}): {}",
            self.invariant,
            self.time_us as f64 / 1e3,
            self.nodes,
            self.detail
        )
    }
}

/// A dangerous state the testbed reports without calling it a bug of the run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Hazard {
    /// Its kind: `two_clusters`.
    pub kind: String,
    /// Simulated time when it was first seen, in milliseconds.
    pub at_ms: u64,
    /// What exactly.
    pub detail: String,
}

/// What the checker must know about a node beyond the trace.
#[derive(Clone, Debug)]
pub struct NodeFacts {
    /// The node's protocol name.
    pub name: NodeName,
    /// Product version.
    pub product: ProductVersion,
    /// Protocol version.
    pub protocol: ProtocolVersion,
}

#[derive(Clone, Debug)]
struct ClusterFacts {
    tag: ClusterTag,
    product: ProductVersion,
    protocol: ProtocolVersion,
    ms_version: u64,
    cmg_nodes: Vec<NodeName>,
}

/// The incremental checker of every safety invariant.
#[derive(Debug, Default)]
pub struct Checker {
    nodes: BTreeMap<String, NodeFacts>,
    launch_of: BTreeMap<String, LaunchId>,
    tag_of: BTreeMap<String, Option<ClusterTag>>,
    cmg_of: BTreeMap<String, InstanceId>,
    ms_of: BTreeMap<String, InstanceId>,
    clusters: BTreeMap<InstanceId, ClusterFacts>,
    admitted: BTreeSet<(NodeName, LaunchId)>,
    /// Validated launches per CMG incarnation (two clusters may exist at once: the hazard), with
    /// the log index of their latest validation.
    validated: BTreeMap<(InstanceId, NodeName, LaunchId), u64>,
    /// Launches that sent join ready after a validation, with that validation's index.
    ready_after_validation: BTreeMap<(InstanceId, NodeName, LaunchId), u64>,
    join_requests: BTreeMap<(NodeName, LaunchId), Option<(ClusterTag, u64)>>,
    lt_versions: BTreeMap<(InstanceId, u64), Vec<(NodeName, LaunchId)>>,
    ms_version_of: BTreeMap<String, Option<u64>>,
    leaders: BTreeMap<(GroupKind, InstanceId, u64), String>,
    /// Per (group, incarnation, log index, kind of outcome): who reported it first, and a digest.
    applied: BTreeMap<(GroupKind, InstanceId, u64, u8), (String, u64)>,
    hazards: Vec<Hazard>,
}

impl Checker {
    /// A checker for a world with these nodes (by label).
    pub fn new(nodes: BTreeMap<String, NodeFacts>) -> Checker {
        Checker {
            nodes,
            ..Default::default()
        }
    }

    /// Learns about a node added during the run.
    pub fn add_node(&mut self, label: &str, facts: NodeFacts) {
        self.nodes.insert(label.to_string(), facts);
    }

    /// The hazards reported so far.
    pub fn hazards(&self) -> &[Hazard] {
        &self.hazards
    }

    /// Checks one new trace entry.
    pub fn observe(&mut self, entry: &TraceEntry) -> Option<Violation> {
        let label = entry.node.as_str();
        let violation = |invariant, nodes: Vec<String>, detail: String| {
            Some(Violation {
                invariant,
                time_us: entry.time_us,
                nodes,
                detail,
            })
        };
        let event = match &entry.kind {
            TraceKind::Harness(HarnessEvent::VaultWiped) => {
                self.ms_version_of.insert(label.to_string(), None);
                self.tag_of.insert(label.to_string(), None);
                return None;
            }
            TraceKind::Harness(HarnessEvent::NodeKilled) => {
                self.cmg_of.remove(label);
                self.ms_of.remove(label);
                return None;
            }
            TraceKind::Harness(_) => return None,
            TraceKind::Protocol(e) => e,
        };
        match event {
            Event::Started {
                launch,
                ms_version,
                tag,
            } => {
                self.launch_of.insert(label.to_string(), *launch);
                self.tag_of.insert(label.to_string(), tag.clone());
                let before = self.ms_version_of.get(label).copied().flatten();
                self.ms_version_of.insert(label.to_string(), *ms_version);
                if let (Some(before), after) = (before, ms_version) {
                    if after.is_none_or(|a| a < before) {
                        return violation(
                            Invariant::AlwaysMsVersionMonotonic,
                            vec![label.into()],
                            format!("restarted with Meta Storage version {after:?} after storing {before}, without a wipe"),
                        );
                    }
                }
            }
            Event::VaultCleared { .. } => {
                self.ms_version_of.insert(label.to_string(), None);
                self.tag_of.insert(label.to_string(), None);
            }
            Event::JoinAccepted { tag, .. } => {
                self.tag_of.insert(label.to_string(), Some(tag.clone()));
            }
            Event::NodesLeft { nodes, index } => {
                if let Some(instance) = self.cmg_of.get(label).copied() {
                    if let Some(v) = self.agree(
                        GroupKind::Cmg,
                        instance,
                        *index,
                        label,
                        event,
                        entry.time_us,
                    ) {
                        return Some(v);
                    }
                }
                // A leave at log index i revokes validations made before i (a lagging replica may
                // report an old leave after a newer validation).
                let instance = self.cmg_of.get(label).copied();
                for (name, launch) in nodes {
                    let Some(instance) = instance else { break };
                    let key = (instance, name.clone(), *launch);
                    for revoked in [&mut self.validated, &mut self.ready_after_validation] {
                        if revoked.get(&key).is_some_and(|v| *v < *index) {
                            revoked.remove(&key);
                        }
                    }
                }
            }
            Event::MsVersionStored { from, to } => {
                let before = self.ms_version_of.get(label).copied().flatten();
                self.ms_version_of.insert(label.to_string(), Some(*to));
                let known = before.or(*from);
                if let Some(before) = known {
                    if *to < before {
                        return violation(
                            Invariant::AlwaysMsVersionMonotonic,
                            vec![label.into()],
                            format!("Meta Storage version went from {before} down to {to}"),
                        );
                    }
                }
            }
            Event::EnteredTopology { via } if Some(via.as_str()) == self.name_of(label) => {
                if let Some(launch) = self.launch_of.get(label) {
                    self.admitted.insert((via.clone(), *launch));
                }
            }
            Event::Admitted {
                member,
                launch,
                tag,
            } => {
                if let Some(problem) = self.admission_problem(label, member, *launch, tag.as_ref())
                {
                    return violation(
                        Invariant::AlwaysPhysicalMemberPassedPreInit,
                        vec![label.into(), member.clone()],
                        problem,
                    );
                }
                self.admitted.insert((member.clone(), *launch));
            }
            Event::MemberAdded { member, launch }
            | Event::MemberReplaced {
                member,
                new: launch,
                ..
            } if !self.admitted.contains(&(member.clone(), *launch)) => {
                return violation(
                    Invariant::AlwaysPhysicalMemberPassedPreInit,
                    vec![label.into(), member.clone()],
                    format!("{label} added {member} (launch {launch:?}), which no node admitted"),
                );
            }
            Event::GroupStarted {
                group, instance, ..
            } => {
                let map = match group {
                    GroupKind::Cmg => &mut self.cmg_of,
                    GroupKind::Ms => &mut self.ms_of,
                };
                map.insert(label.to_string(), *instance);
            }
            Event::GroupDestroyed { group, .. } | Event::ReplicaFailed { group, .. } => {
                let map = match group {
                    GroupKind::Cmg => &mut self.cmg_of,
                    GroupKind::Ms => &mut self.ms_of,
                };
                map.remove(label);
            }
            Event::RoleChanged {
                group,
                instance,
                role: Role::Leader,
                term,
                ..
            } => {
                let key = (*group, *instance, *term);
                match self.leaders.get(&key) {
                    Some(other) if other != label => {
                        return violation(
                            Invariant::AlwaysOneLeaderPerTerm,
                            vec![other.clone(), label.into()],
                            format!(
                                "{other} and {label} both led {group} {instance:?} in term {term}"
                            ),
                        );
                    }
                    _ => {
                        self.leaders.insert(key, label.to_string());
                    }
                }
            }
            Event::ClusterInitApplied {
                instance,
                tag,
                product,
                protocol,
                ms_version,
                cmg_nodes,
                index,
            } => {
                if let Some(v) = self.agree(
                    GroupKind::Cmg,
                    *instance,
                    *index,
                    label,
                    event,
                    entry.time_us,
                ) {
                    return Some(v);
                }
                match self.clusters.get(instance) {
                    Some(known) if &known.tag != tag => {
                        return violation(
                            Invariant::AlwaysOneTagPerCmg,
                            vec![label.into()],
                            format!("CMG {instance:?} committed {} and then {tag}", known.tag),
                        );
                    }
                    Some(_) => {}
                    None => {
                        self.clusters.insert(
                            *instance,
                            ClusterFacts {
                                tag: tag.clone(),
                                product: *product,
                                protocol: *protocol,
                                ms_version: *ms_version,
                                cmg_nodes: cmg_nodes.clone(),
                            },
                        );
                    }
                }
            }
            Event::JoinRequestSent { stored, .. } => {
                if let Some(key) = self.identity(label) {
                    self.join_requests.insert(key, stored.clone());
                }
            }
            Event::Validated {
                node,
                launch,
                index,
            } => {
                let instance = self.cmg_of.get(label).copied();
                if let Some(instance) = instance {
                    if let Some(v) = self.agree(
                        GroupKind::Cmg,
                        instance,
                        *index,
                        label,
                        event,
                        entry.time_us,
                    ) {
                        return Some(v);
                    }
                }
                if let Some(instance) = instance {
                    let at = self
                        .validated
                        .entry((instance, node.clone(), *launch))
                        .or_insert(*index);
                    *at = (*at).max(*index);
                }
            }
            Event::JoinRejected { index, .. } => {
                if let Some(instance) = self.cmg_of.get(label).copied() {
                    if let Some(v) = self.agree(
                        GroupKind::Cmg,
                        instance,
                        *index,
                        label,
                        event,
                        entry.time_us,
                    ) {
                        return Some(v);
                    }
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
            Event::MsNodesChanged { version, index, .. } => {
                if let Some(instance) = self.cmg_of.get(label).copied() {
                    if let Some(v) = self.agree(
                        GroupKind::Cmg,
                        instance,
                        *index,
                        label,
                        event,
                        entry.time_us,
                    ) {
                        return Some(v);
                    }
                    if let Some(cluster) = self.clusters.get_mut(&instance) {
                        cluster.ms_version = cluster.ms_version.max(*version);
                    }
                }
            }
            Event::ReplicaState { group, index, .. } => {
                let instance = match group {
                    GroupKind::Cmg => self.cmg_of.get(label).copied(),
                    GroupKind::Ms => self.ms_of.get(label).copied(),
                };
                if let Some(instance) = instance {
                    if let Some(v) =
                        self.agree(*group, instance, *index, label, event, entry.time_us)
                    {
                        return Some(v);
                    }
                }
            }
            Event::MsConfigApplied { index, .. } => {
                if let Some(instance) = self.ms_of.get(label).copied() {
                    if let Some(v) =
                        self.agree(GroupKind::Ms, instance, *index, label, event, entry.time_us)
                    {
                        return Some(v);
                    }
                }
            }
            Event::LtChanged {
                version,
                members,
                index,
            } => {
                let instance = self.cmg_of.get(label).copied()?;
                if let Some(v) = self.agree(
                    GroupKind::Cmg,
                    instance,
                    *index,
                    label,
                    event,
                    entry.time_us,
                ) {
                    return Some(v);
                }
                return self.check_lt(instance, *version, members, label, entry.time_us);
            }
            _ => {}
        }
        None
    }

    /// Why admitting `member` at `admitter` broke the pre-init rules, if it did: versions must be
    /// compatible, and two initialized nodes must hold one tag.
    fn admission_problem(
        &self,
        admitter: &str,
        member: &str,
        launch: LaunchId,
        member_tag: Option<&ClusterTag>,
    ) -> Option<String> {
        let mine = self.nodes.get(admitter)?;
        let theirs = self
            .launch_of
            .iter()
            .find(|(l, la)| **la == launch && self.name_of(l) == Some(member))
            .and_then(|(l, _)| self.nodes.get(l))?;
        if mine.protocol != theirs.protocol || !mine.product.compatible_with(&theirs.product) {
            return Some(format!(
                "{admitter} ({} / protocol {}) admitted {member} ({} / protocol {})",
                mine.product, mine.protocol, theirs.product, theirs.protocol
            ));
        }
        if let (Some(Some(own)), Some(other)) = (self.tag_of.get(admitter), member_tag) {
            if own != other {
                return Some(format!(
                    "{admitter}, initialized with {own}, admitted {member} initialized with {other}"
                ));
            }
        }
        None
    }

    fn name_of(&self, label: &str) -> Option<&str> {
        self.nodes.get(label).map(|f| f.name.as_str())
    }

    /// (name, current launch) of a label.
    fn identity(&self, label: &str) -> Option<(NodeName, LaunchId)> {
        Some((
            self.name_of(label)?.to_string(),
            *self.launch_of.get(label)?,
        ))
    }

    /// Replicas must report the same thing at the same log index of the same incarnation.
    fn agree(
        &mut self,
        group: GroupKind,
        instance: InstanceId,
        index: u64,
        label: &str,
        event: &Event,
        time_us: u64,
    ) -> Option<Violation> {
        let digest = {
            let mut hasher = crate::trace::Fnv64::default();
            std::hash::Hash::hash(event, &mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        // Events that are alternative outcomes of one command share a slot.
        let slot = match event {
            Event::Validated { .. } | Event::JoinRejected { .. } => 0u8,
            Event::LtChanged { .. } => 1,
            Event::NodesLeft { .. } => 2,
            Event::ClusterInitApplied { .. } => 3,
            Event::MsNodesChanged { .. } => 4,
            Event::ReplicaState { .. } => 5,
            _ => 6,
        };
        let key = (group, instance, index, slot);
        match self.applied.get(&key) {
            Some((other, seen)) if *seen != digest => Some(Violation {
                invariant: Invariant::AlwaysCommittedLogsAgree,
                time_us,
                nodes: vec![other.clone(), label.to_string()],
                detail: format!(
                    "{group} {instance:?} index {index}: {label} applied {event:?}, which differs from what {other} applied there"
                ),
            }),
            Some(_) => None,
            None => {
                self.applied.insert(key, (label.to_string(), digest));
                None
            }
        }
    }

    fn check_lt(
        &mut self,
        instance: InstanceId,
        version: u64,
        members: &[(NodeName, LaunchId)],
        label: &str,
        time_us: u64,
    ) -> Option<Violation> {
        let violation = |invariant, nodes: Vec<String>, detail: String| {
            Some(Violation {
                invariant,
                time_us,
                nodes,
                detail,
            })
        };
        match self.lt_versions.get(&(instance, version)) {
            Some(seen) if seen.as_slice() != members => {
                return violation(
                    Invariant::AlwaysReplicasAgreeOnLt,
                    vec![label.into()],
                    format!("LT version {version}: {label} has {members:?}, another replica had {seen:?}"),
                );
            }
            Some(_) => return None,
            None => {}
        }
        self.lt_versions
            .insert((instance, version), members.to_vec());
        let previous: BTreeSet<(NodeName, LaunchId)> = self
            .lt_versions
            .get(&(instance, version.saturating_sub(1)))
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default();
        let cluster = self.clusters.get(&instance).cloned();
        for member in members {
            if previous.contains(member) {
                continue;
            }
            let (name, launch) = member;
            let key = (instance, name.clone(), *launch);
            if !self.validated.contains_key(&key) || !self.ready_after_validation.contains_key(&key)
            {
                return violation(
                    Invariant::AlwaysLtMemberValidatedThenReady,
                    vec![name.clone()],
                    format!(
                        "{name} (launch {launch:?}) entered LT version {version} (validated: {}, join ready after validation: {})",
                        self.validated.contains_key(&key),
                        self.ready_after_validation.contains_key(&key)
                    ),
                );
            }
            let Some(cluster) = &cluster else { continue };
            let member_label = self
                .launch_of
                .iter()
                .find(|(l, la)| **la == *launch && self.name_of(l) == Some(name.as_str()))
                .map(|(l, _)| l.clone());
            // The node holds another cluster's tag (two clusters at once: the hazard).
            if let Some(Some(Some(held))) = member_label.as_ref().map(|l| self.tag_of.get(l)) {
                if held != &cluster.tag {
                    return violation(
                        Invariant::AlwaysLtMemberCompatible,
                        vec![name.clone()],
                        format!(
                            "{name} entered the LT of {} while it holds the tag {held}",
                            cluster.tag
                        ),
                    );
                }
            }
            let facts = member_label.as_ref().and_then(|l| self.nodes.get(l));
            if let Some(facts) = facts {
                if facts.protocol != cluster.protocol
                    || !facts.product.compatible_with(&cluster.product)
                {
                    return violation(
                        Invariant::AlwaysLtMemberCompatible,
                        vec![name.clone()],
                        format!(
                            "{name} ({} / protocol {}) entered the LT of a {} / protocol {} cluster",
                            facts.product, facts.protocol, cluster.product, cluster.protocol
                        ),
                    );
                }
            }
            if let Some(Some((tag, ms_version))) = self.join_requests.get(member) {
                if tag != &cluster.tag || *ms_version > cluster.ms_version {
                    return violation(
                        Invariant::AlwaysLtMemberCompatible,
                        vec![name.clone()],
                        format!(
                            "{name} asked to join with tag {tag} and MS version {ms_version}, and entered the LT of {} at MS version {}",
                            cluster.tag, cluster.ms_version
                        ),
                    );
                }
            }
        }
        None
    }

    /// Looks for two different committed clusters, each with a running majority of its CMG,
    /// whose CMG members can reach each other. `running(a)` tells whether node `a` (a label)
    /// runs; `reachable(a, b)` whether running nodes `a` and `b` can exchange messages.
    pub fn look_for_hazards(
        &mut self,
        now_ms: u64,
        running: impl Fn(&str) -> bool,
        reachable: impl Fn(&str, &str) -> bool,
    ) {
        if self.clusters.len() < 2 || self.hazards.iter().any(|h| h.kind == "two_clusters") {
            return;
        }
        let hosts = |instance: &InstanceId| -> Vec<String> {
            self.cmg_of
                .iter()
                .filter(|(l, i)| *i == instance && running(l))
                .map(|(l, _)| l.clone())
                .collect()
        };
        // A cluster whose CMG cannot reach a majority (a lone replica of an old cluster) cannot
        // act as a cluster: it is not half of a hazard.
        let clusters: Vec<(&InstanceId, &ClusterFacts)> = self
            .clusters
            .iter()
            .filter(|(i, c)| hosts(i).len() > c.cmg_nodes.len() / 2)
            .collect();
        for (i, (a_id, a)) in clusters.iter().enumerate() {
            for (b_id, b) in clusters.iter().skip(i + 1) {
                if a.tag == b.tag {
                    continue;
                }
                for x in hosts(a_id) {
                    for y in hosts(b_id) {
                        if reachable(&x, &y) {
                            let detail = format!(
                                "cluster {} (CMG {:?}) and cluster {} (CMG {:?}) are both committed, and CMG members {x} and {y} can reach each other",
                                a.tag, a.cmg_nodes, b.tag, b.cmg_nodes
                            );
                            self.hazards.push(Hazard {
                                kind: "two_clusters".into(),
                                at_ms: now_ms,
                                detail,
                            });
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Compares the committed prefixes of every replica's durable log, group by group and
/// incarnation by incarnation.
pub fn committed_logs_agree(vaults: &BTreeMap<String, Vault>) -> Result<(), String> {
    for kind in [GroupKind::Cmg, GroupKind::Ms] {
        let mut by_instance: BTreeMap<InstanceId, Vec<(&String, &joinsim::vault::GroupRecord)>> =
            BTreeMap::new();
        for (label, vault) in vaults {
            if let Some(record) = vault.group(kind) {
                by_instance
                    .entry(record.instance)
                    .or_default()
                    .push((label, record));
            }
        }
        for (instance, replicas) in by_instance {
            for (i, (a_label, a)) in replicas.iter().enumerate() {
                for (b_label, b) in replicas.iter().skip(i + 1) {
                    let common = a.hard_state.commit.min(b.hard_state.commit) as usize;
                    for index in 0..common.min(a.entries.len()).min(b.entries.len()) {
                        let (x, y) = (&a.entries[index], &b.entries[index]);
                        if x.term != y.term || x.data != y.data || x.context != y.context {
                            return Err(format!(
                                "{kind} {instance:?}: committed entry {} differs between {a_label} (term {}) and {b_label} (term {})",
                                index + 1,
                                x.term,
                                y.term
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Each checker is tripped by a deliberately broken history, and stays quiet on a sound one.

    use super::*;
    use joinsim::{ClusterId, RemovalCause};

    fn facts() -> BTreeMap<String, NodeFacts> {
        ["a", "b", "c"]
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    NodeFacts {
                        name: n.to_string(),
                        product: ProductVersion::new(3, 0, 0),
                        protocol: ProtocolVersion(1),
                    },
                )
            })
            .collect()
    }

    fn tag(id: u128) -> ClusterTag {
        ClusterTag {
            name: "c".into(),
            id: ClusterId(id),
        }
    }

    const I: InstanceId = InstanceId(7);

    fn entry(node: &str, event: Event) -> TraceEntry {
        TraceEntry {
            time_us: 1,
            node: node.into(),
            kind: TraceKind::Protocol(event),
        }
    }

    fn init_applied(id: u128, ms_version: u64, index: u64) -> Event {
        Event::ClusterInitApplied {
            instance: I,
            tag: tag(id),
            product: ProductVersion::new(3, 0, 0),
            protocol: ProtocolVersion(1),
            ms_version,
            cmg_nodes: vec!["a".into()],
            index,
        }
    }

    /// Feeds events; returns the first violation.
    fn feed(events: Vec<(&str, Event)>) -> Option<Violation> {
        let mut checker = Checker::new(facts());
        events
            .into_iter()
            .find_map(|(node, e)| checker.observe(&entry(node, e)))
    }

    fn started(launch: u64, ms_version: Option<u64>) -> Event {
        Event::Started {
            launch: LaunchId(launch),
            tag: None,
            ms_version,
        }
    }

    fn cmg_started() -> Event {
        Event::GroupStarted {
            group: GroupKind::Cmg,
            instance: I,
            from_vault: false,
        }
    }

    /// A sound history: `b` (launch 2) is validated, sends join ready, enters the LT.
    fn sound_join() -> Vec<(&'static str, Event)> {
        vec![
            ("a", started(1, None)),
            ("a", cmg_started()),
            ("a", init_applied(1, 1, 2)),
            ("b", started(2, None)),
            (
                "b",
                Event::JoinRequestSent {
                    leader: "a".into(),
                    stored: None,
                },
            ),
            (
                "a",
                Event::Validated {
                    node: "b".into(),
                    launch: LaunchId(2),
                    index: 3,
                },
            ),
            ("b", Event::JoinReadySent { leader: "a".into() }),
            (
                "a",
                Event::LtChanged {
                    version: 1,
                    members: vec![("b".into(), LaunchId(2))],
                    index: 4,
                },
            ),
        ]
    }

    #[test]
    fn a_sound_history_passes() {
        assert_eq!(feed(sound_join()), None);
    }

    #[test]
    fn one_tag_per_cmg_trips() {
        let v = feed(vec![
            ("a", started(1, None)),
            ("a", cmg_started()),
            ("a", init_applied(1, 1, 2)),
            ("b", started(2, None)),
            (
                "b",
                Event::GroupStarted {
                    group: GroupKind::Cmg,
                    instance: I,
                    from_vault: false,
                },
            ),
            // Another replica of the same incarnation commits another tag at another index.
            ("b", init_applied(2, 1, 3)),
        ]);
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysOneTagPerCmg);
    }

    #[test]
    fn lt_member_without_validation_or_ready_trips() {
        let mut history = sound_join();
        history.retain(|(_, e)| !matches!(e, Event::JoinReadySent { .. }));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
        let mut history = sound_join();
        history.retain(|(_, e)| !matches!(e, Event::Validated { .. }));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
        // Join ready before validation does not count.
        let mut history = sound_join();
        history.swap(5, 6);
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
    }

    #[test]
    fn lt_member_with_foreign_tag_or_newer_ms_version_trips() {
        for stored in [Some((tag(9), 1)), Some((tag(1), 5))] {
            let mut history = sound_join();
            history[4].1 = Event::JoinRequestSent {
                leader: "a".into(),
                stored,
            };
            assert_eq!(
                feed(history).unwrap().invariant,
                Invariant::AlwaysLtMemberCompatible
            );
        }
        // An incompatible product version.
        let mut f = facts();
        f.get_mut("b").unwrap().product = ProductVersion::new(4, 0, 0);
        let mut checker = Checker::new(f);
        let v = sound_join()
            .into_iter()
            .find_map(|(n, e)| checker.observe(&entry(n, e)));
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysLtMemberCompatible);
    }

    #[test]
    fn replicas_disagreeing_on_an_lt_version_trips() {
        let mut history = sound_join();
        history.push(("c", started(3, None)));
        history.push(("c", cmg_started()));
        history.push((
            "c",
            Event::LtChanged {
                version: 1,
                members: vec![("c".into(), LaunchId(3))],
                index: 9,
            },
        ));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysReplicasAgreeOnLt
        );
    }

    #[test]
    fn physical_member_never_admitted_trips() {
        let ok = feed(vec![
            (
                "a",
                Event::Admitted {
                    member: "b".into(),
                    launch: LaunchId(2),
                    tag: None,
                },
            ),
            (
                "c",
                Event::MemberAdded {
                    member: "b".into(),
                    launch: LaunchId(2),
                },
            ),
        ]);
        assert_eq!(ok, None);
        let v = feed(vec![(
            "c",
            Event::MemberAdded {
                member: "b".into(),
                launch: LaunchId(2),
            },
        )]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysPhysicalMemberPassedPreInit
        );
        // Self-admission counts for the node itself.
        let ok = feed(vec![
            ("a", started(1, None)),
            ("a", Event::EnteredTopology { via: "a".into() }),
            (
                "b",
                Event::MemberAdded {
                    member: "a".into(),
                    launch: LaunchId(1),
                },
            ),
            (
                "b",
                Event::MemberRemoved {
                    member: "a".into(),
                    launch: LaunchId(1),
                    cause: RemovalCause::Dead,
                },
            ),
        ]);
        assert_eq!(ok, None);
    }

    #[test]
    fn ms_version_going_down_trips() {
        let v = feed(vec![
            ("a", started(1, Some(3))),
            (
                "a",
                Event::MsVersionStored {
                    from: Some(3),
                    to: 2,
                },
            ),
        ]);
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysMsVersionMonotonic);
        // A restart that lost the version without a wipe.
        let v = feed(vec![("a", started(1, Some(3))), ("a", started(2, Some(1)))]);
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysMsVersionMonotonic);
        // After a wipe, starting empty is fine.
        let mut checker = Checker::new(facts());
        assert!(checker.observe(&entry("a", started(1, Some(3)))).is_none());
        let wipe = TraceEntry {
            time_us: 2,
            node: "a".into(),
            kind: TraceKind::Harness(HarnessEvent::VaultWiped),
        };
        assert!(checker.observe(&wipe).is_none());
        assert!(checker.observe(&entry("a", started(2, None))).is_none());
    }

    #[test]
    fn two_leaders_in_one_term_trips() {
        let leader = |term| Event::RoleChanged {
            group: GroupKind::Ms,
            instance: I,
            role: Role::Leader,
            term,
            leader: None,
        };
        assert_eq!(feed(vec![("a", leader(2)), ("b", leader(3))]), None);
        let v = feed(vec![("a", leader(2)), ("b", leader(2))]);
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysOneLeaderPerTerm);
    }

    #[test]
    fn replicas_applying_different_commands_at_one_index_trips() {
        let mut history = sound_join();
        history.push(("c", started(3, None)));
        history.push(("c", cmg_started()));
        history.push((
            "c",
            Event::JoinRejected {
                node: "b".into(),
                launch: LaunchId(2),
                reason: joinsim::RejectionReason::MsVersionAhead {
                    joiner: 2,
                    cluster: 1,
                },
                index: 3,
            },
        ));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysCommittedLogsAgree
        );
    }

    #[test]
    fn diverging_durable_logs_are_found() {
        use joinsim::vault::{EntryKind, EntryRecord, GroupRecord, HardStateRecord};
        let record = |term| GroupRecord {
            instance: I,
            plan: None,
            initial_voters: vec!["a".into()],
            hard_state: HardStateRecord {
                term,
                vote: 0,
                commit: 1,
            },
            entries: vec![EntryRecord {
                index: 1,
                term,
                kind: EntryKind::Normal,
                data: vec![1],
                context: vec![],
            }],
        };
        let vault = |term| Vault {
            local: None,
            cmg: Some(record(term)),
            ms: None,
            cancels: Vec::new(),
        };
        let mut vaults = BTreeMap::new();
        vaults.insert("a".to_string(), vault(1));
        vaults.insert("b".to_string(), vault(1));
        assert!(committed_logs_agree(&vaults).is_ok());
        vaults.insert("c".to_string(), vault(2));
        assert!(committed_logs_agree(&vaults).is_err());
    }

    #[test]
    fn two_committed_clusters_that_can_talk_are_a_hazard() {
        let mut checker = Checker::new(facts());
        let other = InstanceId(8);
        let history = vec![
            ("a", cmg_started()),
            ("a", init_applied(1, 1, 2)),
            (
                "c",
                Event::GroupStarted {
                    group: GroupKind::Cmg,
                    instance: other,
                    from_vault: false,
                },
            ),
            (
                "c",
                Event::ClusterInitApplied {
                    instance: other,
                    tag: tag(2),
                    product: ProductVersion::new(3, 0, 0),
                    protocol: ProtocolVersion(1),
                    ms_version: 1,
                    cmg_nodes: vec!["c".into()],
                    index: 2,
                },
            ),
        ];
        for (n, e) in history {
            assert!(checker.observe(&entry(n, e)).is_none());
        }
        checker.look_for_hazards(10, |_| true, |_, _| false);
        assert!(checker.hazards().is_empty(), "partitioned apart: no hazard");
        checker.look_for_hazards(15, |l| l != "a", |_, _| true);
        assert!(
            checker.hazards().is_empty(),
            "a CMG without a running majority: no hazard"
        );
        checker.look_for_hazards(20, |_| true, |_, _| true);
        assert_eq!(checker.hazards().len(), 1);
        assert_eq!(checker.hazards()[0].kind, "two_clusters");
    }

    #[test]
    fn a_leave_revokes_only_earlier_validations() {
        let leave = |index| {
            (
                "a",
                Event::NodesLeft {
                    nodes: vec![("b".into(), LaunchId(2))],
                    index,
                },
            )
        };
        // A lagging replica reports a leave at index 2 after the validation at index 3: no effect.
        let mut history = sound_join();
        history.insert(6, leave(2));
        assert_eq!(feed(history), None);
        // A leave at index 4, after validation and join ready, revokes both: the LT entry at
        // index 5 breaks the rule.
        let mut history = sound_join();
        history.insert(7, leave(4));
        if let (_, Event::LtChanged { index, .. }) = &mut history[8] {
            *index = 5;
        }
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
    }

    #[test]
    fn an_admission_that_breaks_pre_init_rules_trips() {
        let admitted = |tag| Event::Admitted {
            member: "b".into(),
            launch: LaunchId(2),
            tag,
        };
        let initialized_a = Event::Started {
            launch: LaunchId(1),
            tag: Some(tag(1)),
            ms_version: Some(1),
        };
        // An initialized node admits a node of another cluster.
        let v = feed(vec![
            ("a", initialized_a.clone()),
            ("b", started(2, None)),
            ("a", admitted(Some(tag(9)))),
        ]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysPhysicalMemberPassedPreInit
        );
        // Same tag, or an empty joiner: fine.
        assert_eq!(
            feed(vec![
                ("a", initialized_a.clone()),
                ("b", started(2, None)),
                ("a", admitted(Some(tag(1)))),
                ("a", admitted(None)),
            ]),
            None
        );
        // Incompatible product versions.
        let mut f = facts();
        f.get_mut("b").unwrap().product = ProductVersion::new(3, 1, 0);
        let mut checker = Checker::new(f);
        let v = [
            ("a", started(1, None)),
            ("b", started(2, None)),
            ("a", admitted(None)),
        ]
        .into_iter()
        .find_map(|(n, e)| checker.observe(&entry(n, e)));
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysPhysicalMemberPassedPreInit
        );
    }

    #[test]
    fn replica_state_digests_must_agree() {
        let digest = |node: &'static str, d| {
            (
                node,
                Event::ReplicaState {
                    group: GroupKind::Cmg,
                    index: 4,
                    digest: d,
                },
            )
        };
        let base = vec![("a", cmg_started()), ("b", cmg_started()), digest("a", 1)];
        let mut same = base.clone();
        same.push(digest("b", 1));
        assert_eq!(feed(same), None);
        let mut differ = base;
        differ.push(digest("b", 2));
        assert_eq!(
            feed(differ).unwrap().invariant,
            Invariant::AlwaysCommittedLogsAgree
        );
    }
}
