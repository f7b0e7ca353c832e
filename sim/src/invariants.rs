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
    /// Two successful answers to inits with the same parameters carry the same tag, within one
    /// cluster incarnation (a cluster whose every CMG replica was wiped is gone); and a node of
    /// a cluster never answers a repeat of the command its cluster was created with by saying
    /// that its own cluster's parameters differ.
    AlwaysInitIdempotent,
    /// No cancel destroys a replica of, or clears the vault of, a cluster whose tag a user got as
    /// the answer to an init.
    AlwaysAnsweredClusterNeverCancelled,
    /// A replica's durable commit index never goes down.
    AlwaysCommitIndexMonotonic,
    /// A committed entry stays in the durable log of at least one replica of its incarnation.
    AlwaysCommittedEntriesDurable,
    /// Each LT change (a member in, out, or replaced) raises the LT version by exactly one.
    AlwaysLtVersionStepsByOne,
    /// A node enters the LT only after its Meta Storage applied the version it was validated at.
    AlwaysLtMemberMsCaughtUp,
    /// A member leaves the LT only by a leave that names its launch.
    AlwaysLtMemberRemovedOnlyByItsLeave,
    /// A node entering the LT hosts replicas of that cluster's incarnation only.
    AlwaysOneGroupIncarnationPerNode,
    /// A pre-init refusal by tag never halts a member of a cluster: a node its cluster accepted
    /// (validated, and not sent back to join since) keeps running (docs/spec.md §5).
    AlwaysRefusalSparesMembers,
    /// A node holding an init whose cancel its CMG decided is told of the cancel and goes on as
    /// an empty node: a pre-init refusal of that init's tag never halts it (docs/spec.md §5).
    AlwaysCancelledMemberTold,
}

impl Invariant {
    /// Every invariant.
    pub const ALL: [Invariant; 18] = [
        Invariant::AlwaysOneTagPerCmg,
        Invariant::AlwaysLtMemberValidatedThenReady,
        Invariant::AlwaysLtMemberCompatible,
        Invariant::AlwaysReplicasAgreeOnLt,
        Invariant::AlwaysPhysicalMemberPassedPreInit,
        Invariant::AlwaysMsVersionMonotonic,
        Invariant::AlwaysOneLeaderPerTerm,
        Invariant::AlwaysCommittedLogsAgree,
        Invariant::AlwaysInitIdempotent,
        Invariant::AlwaysAnsweredClusterNeverCancelled,
        Invariant::AlwaysCommitIndexMonotonic,
        Invariant::AlwaysCommittedEntriesDurable,
        Invariant::AlwaysLtVersionStepsByOne,
        Invariant::AlwaysLtMemberMsCaughtUp,
        Invariant::AlwaysLtMemberRemovedOnlyByItsLeave,
        Invariant::AlwaysOneGroupIncarnationPerNode,
        Invariant::AlwaysRefusalSparesMembers,
        Invariant::AlwaysCancelledMemberTold,
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
            Invariant::AlwaysAnsweredClusterNeverCancelled => {
                "always_answered_cluster_never_cancelled"
            }
            Invariant::AlwaysCommitIndexMonotonic => "always_commit_index_monotonic",
            Invariant::AlwaysCommittedEntriesDurable => "always_committed_entries_durable",
            Invariant::AlwaysLtVersionStepsByOne => "always_lt_version_steps_by_one",
            Invariant::AlwaysLtMemberMsCaughtUp => "always_lt_member_ms_caught_up",
            Invariant::AlwaysLtMemberRemovedOnlyByItsLeave => {
                "always_lt_member_removed_only_by_its_leave"
            }
            Invariant::AlwaysOneGroupIncarnationPerNode => "always_one_group_incarnation_per_node",
            Invariant::AlwaysRefusalSparesMembers => "always_refusal_spares_members",
            Invariant::AlwaysCancelledMemberTold => "always_cancelled_member_told",
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
    /// Per CMG incarnation: every label whose vault held a replica of it, and when that vault
    /// was wiped (`None` while the replica may still be in it).
    cmg_hosts: BTreeMap<InstanceId, BTreeMap<String, Option<u64>>>,
    /// Tags of each incarnation: the one its init proposed, and the one its CMG committed.
    instance_tags: BTreeMap<InstanceId, BTreeSet<ClusterTag>>,
    /// Tags some node gave a user as the successful answer to an init, with the first time.
    answered: BTreeMap<ClusterTag, u64>,
    /// Inits their initiator cancelled.
    cancelled: BTreeSet<InstanceId>,
    /// Labels in the middle of applying a join acceptance: the time of its `JoinAccepted`.
    accepting: BTreeMap<String, u64>,
    /// Each CMG replica's own LT, as it last reported it: (incarnation, version, members).
    replica_lt: BTreeMap<String, ReplicaLt>,
    /// Each CMG replica that applied its incarnation's cluster-init (since it last started):
    /// the incarnation and the committed tag.
    cluster_in_log: BTreeMap<String, (InstanceId, ClusterTag)>,
    /// Each CMG replica's last applied node-leave: (incarnation, log index, the launches it named).
    /// Keyed by label; the incarnation is kept so that a leave applied by a replica of an
    /// earlier incarnation (destroyed since) never counts for the same index of a new one.
    last_leave: BTreeMap<String, AppliedLeave>,
    /// Per CMG incarnation, the cluster's Meta Storage version set at each log index.
    ms_history: BTreeMap<InstanceId, BTreeMap<u64, u64>>,
    /// Log indexes of the validations of each launch still in force, per CMG incarnation.
    validation_indexes: BTreeMap<(InstanceId, NodeName, LaunchId), BTreeSet<u64>>,
    /// The highest Meta Storage version each launch's replica of each incarnation applied.
    ms_applied: BTreeMap<(NodeName, LaunchId, InstanceId), u64>,
    /// Every replica's durable log, as the vault writes left it.
    durable: BTreeMap<(String, GroupKind), DurableReplica>,
    /// The init command each tag's cluster was created with (from its `InitStarted`).
    commands: BTreeMap<ClusterTag, InitKey>,
    /// The parameters of each init request a node received, by (label, request id).
    init_requests: BTreeMap<(String, u64), joinsim::InitParams>,
    /// Labels whose current launch its cluster accepted (`JoinAccepted`), not sent back to join
    /// since (`JoinRequestSent`), nor cleared by a cancel.
    accepted: BTreeSet<String>,
    /// Incarnations whose cancel was decided: their CMG applied it as the init's fate, or some
    /// node cleared its vault of them (which only a decided cancel does).
    fate_cancelled: BTreeSet<InstanceId>,
    /// When each label's current launch started (its `Started`), in microseconds.
    started_us: BTreeMap<String, u64>,
    /// The grace a node started from its vault gets before a refusal by tag may halt it:
    /// `2 * failure_timeout_ms` (docs/protocol.md, "a refusal never halts a live cluster").
    start_grace_ms: u64,
    /// Per label and group: whether the replica it hosts knows a leader (its last `RoleChanged`).
    knows_leader: BTreeMap<(String, GroupKind), bool>,
    /// Per CMG incarnation: the label that leads it now.
    cmg_leader_now: BTreeMap<InstanceId, String>,
    /// The committed prefix of each group incarnation: (term, digest) of each entry.
    committed: BTreeMap<(GroupKind, InstanceId), Vec<(u64, u64)>>,
}

/// A leave a CMG replica applied: (incarnation, log index, the launches it named).
type AppliedLeave = (InstanceId, u64, Vec<(NodeName, LaunchId)>);

/// A CMG replica's LT as it last reported it: (incarnation, version, members).
type ReplicaLt = (InstanceId, u64, Vec<(NodeName, LaunchId)>);

/// An init command normalized for comparison: name, sorted CMG list, sorted MS list.
type InitKey = (String, Vec<String>, Vec<String>);

/// The command a user's init parameters ask for, after trimming, sorting and defaulting (CMG
/// takes the MS list and the reverse); `None` when both lists are empty (the default then
/// depends on the receiving node's topology).
fn requested_command(params: &joinsim::InitParams) -> Option<InitKey> {
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

/// The checker's copy of one replica's durable Raft state (from the vault writes).
#[derive(Clone, Debug)]
struct DurableReplica {
    instance: InstanceId,
    commit: u64,
    /// (term, digest of kind, data and context) of each entry, from index 1.
    entries: Vec<(u64, u64)>,
    /// How much of this replica's committed prefix was already merged into `committed`.
    merged: usize,
}

fn entry_digest(entry: &joinsim::vault::EntryRecord) -> (u64, u64) {
    use std::hash::Hasher;
    let mut hasher = crate::trace::Fnv64::default();
    hasher.write_u8(match entry.kind {
        joinsim::vault::EntryKind::Normal => 0,
        joinsim::vault::EntryKind::ConfChange => 1,
    });
    hasher.write_u64(entry.data.len() as u64);
    hasher.write(&entry.data);
    hasher.write(&entry.context);
    (entry.term, hasher.finish())
}

impl DurableReplica {
    fn of(record: &joinsim::vault::GroupRecord) -> DurableReplica {
        DurableReplica {
            instance: record.instance,
            commit: record.hard_state.commit,
            entries: record.entries.iter().map(entry_digest).collect(),
            merged: 0,
        }
    }
}

impl Checker {
    /// A checker for a world with these nodes (by label).
    pub fn new(nodes: BTreeMap<String, NodeFacts>) -> Checker {
        Checker {
            nodes,
            ..Default::default()
        }
    }

    /// A checker for a world with these nodes, run with these timers.
    pub fn with_timing(nodes: BTreeMap<String, NodeFacts>, timing: &joinsim::Timing) -> Checker {
        Checker {
            nodes,
            start_grace_ms: 2 * timing.failure_timeout_ms,
            ..Default::default()
        }
    }

    /// Forgets what `label`'s replicas (of `group`, or all) knew of their leaders.
    fn forget_leaders_of(&mut self, label: &str, group: Option<GroupKind>) {
        self.knows_leader
            .retain(|(l, g), _| l != label || group.is_some_and(|k| k != *g));
        if group != Some(GroupKind::Ms) {
            self.cmg_leader_now.retain(|_, l| l != label);
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
                self.accepted.remove(label);
                self.ms_version_of.insert(label.to_string(), None);
                self.tag_of.insert(label.to_string(), None);
                // A wipe legitimately loses everything the node held: its replicas' logs (not a
                // loss of committed entries) and, for the cluster, a CMG replica.
                for hosts in self.cmg_hosts.values_mut() {
                    if let Some(wiped @ None) = hosts.get_mut(label) {
                        *wiped = Some(entry.time_us);
                    }
                }
                self.durable.retain(|(l, _), _| l != label);
                return None;
            }
            TraceKind::Harness(HarnessEvent::NodeKilled) => {
                self.accepted.remove(label);
                self.forget_leaders_of(label, None);
                self.cmg_of.remove(label);
                self.ms_of.remove(label);
                self.replica_lt.remove(label);
                self.cluster_in_log.remove(label);
                self.accepting.remove(label);
                return None;
            }
            TraceKind::Harness(_) => return None,
            TraceKind::Protocol(e) => e,
        };
        // A join acceptance is applied in one step: `JoinAccepted`, then the stored version, then
        // the replicas of other incarnations destroyed and the new ones started.
        let acceptance_step = self.accepting.get(label) == Some(&entry.time_us);
        if !matches!(
            event,
            Event::JoinAccepted { .. }
                | Event::MsVersionStored { .. }
                | Event::GroupDestroyed { .. }
                | Event::GroupStarted { .. }
        ) || !acceptance_step
        {
            self.accepting.remove(label);
        }
        if let Event::RoleChanged {
            group,
            instance,
            role,
            leader,
            ..
        } = event
        {
            let hosted = match group {
                GroupKind::Cmg => self.cmg_of.get(label),
                GroupKind::Ms => self.ms_of.get(label),
            };
            if hosted == Some(instance) {
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
        match event {
            Event::Started {
                launch,
                ms_version,
                tag,
            } => {
                self.accepted.remove(label);
                self.started_us.insert(label.to_string(), entry.time_us);
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
            Event::VaultCleared { init } => {
                // Only a cancel the CMG decided clears a vault.
                self.fate_cancelled.insert(*init);
                self.accepted.remove(label);
                self.ms_version_of.insert(label.to_string(), None);
                self.tag_of.insert(label.to_string(), None);
                // Only a cancel clears a vault.
                if let Some((tag, at)) = self.answered_tag_of(*init) {
                    return violation(
                        Invariant::AlwaysAnsweredClusterNeverCancelled,
                        vec![label.into()],
                        format!(
                            "a cancel cleared {label}'s vault of cluster {tag} (init {init:?}), whose tag a user got as an init's answer at {:.3} ms",
                            at as f64 / 1e3
                        ),
                    );
                }
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
            Event::InitAnswered {
                request,
                result: Err(joinsim::InitError::ParametersDiffer { node, detail }),
            } => {
                // A node of a cluster compares an init with the command its cluster was created
                // with (docs/spec.md §5): a repeat of that command is never "its parameters
                // differ" by the node's own word.
                let params = self.init_requests.get(&(label.to_string(), request.0));
                let own = self.tag_of.get(label).cloned().flatten();
                let created = own.as_ref().and_then(|t| self.commands.get(t));
                if Some(node.as_str()) == self.name_of(label)
                    && created.is_some()
                    && params.and_then(requested_command).as_ref() == created
                {
                    let tag = own.expect("a created command has a tag");
                    return violation(
                        Invariant::AlwaysInitIdempotent,
                        vec![label.into()],
                        format!(
                            "{label}, a node of cluster {tag}, refused a repeat of the init command {tag} was created with as parameters_differ: {detail}"
                        ),
                    );
                }
            }
            Event::Halted { rejection } => {
                let violation = self.refusal_problem(label, rejection, entry.time_us);
                self.forget_leaders_of(label, None);
                return violation;
            }
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
                if let Some(instance) = instance {
                    self.last_leave
                        .insert(label.to_string(), (instance, *index, nodes.clone()));
                }
                for (name, launch) in nodes {
                    let Some(instance) = instance else { break };
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
            } => {
                if !self.admitted.contains(&(member.clone(), *launch)) {
                    return violation(
                        Invariant::AlwaysPhysicalMemberPassedPreInit,
                        vec![label.into(), member.clone()],
                        format!(
                            "{label} added {member} (launch {launch:?}), which no node admitted"
                        ),
                    );
                }
                // Pre-init holds on every path into a view (docs/protocol.md, "pre-init on
                // every path"): whoever admitted the member, this node's view takes it only if
                // their versions are compatible.
                if let Some(problem) = self.version_problem(label, member, *launch) {
                    return violation(
                        Invariant::AlwaysPhysicalMemberPassedPreInit,
                        vec![label.into(), member.clone()],
                        format!("{problem}, into its view"),
                    );
                }
            }
            Event::GroupStarted {
                group, instance, ..
            } => {
                self.forget_leaders_of(label, Some(*group));
                let map = match group {
                    GroupKind::Cmg => &mut self.cmg_of,
                    GroupKind::Ms => &mut self.ms_of,
                };
                map.insert(label.to_string(), *instance);
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
            Event::GroupDestroyed { group, instance } => {
                self.forget_leaders_of(label, Some(*group));
                let map = match group {
                    GroupKind::Cmg => &mut self.cmg_of,
                    GroupKind::Ms => &mut self.ms_of,
                };
                map.remove(label);
                if *group == GroupKind::Cmg {
                    self.replica_lt.remove(label);
                    self.cluster_in_log.remove(label);
                }
                // Outside a join acceptance (which drops a stray replica of another init), only
                // a cancel destroys a replica.
                if !acceptance_step && self.cancelled.contains(instance) {
                    if let Some((tag, at)) = self.answered_tag_of(*instance) {
                        return violation(
                            Invariant::AlwaysAnsweredClusterNeverCancelled,
                            vec![label.into()],
                            format!(
                                "a cancel destroyed {label}'s {group} replica of cluster {tag} (init {instance:?}), whose tag a user got as an init's answer at {:.3} ms",
                                at as f64 / 1e3
                            ),
                        );
                    }
                }
            }
            Event::ReplicaFailed { group, .. } => {
                self.forget_leaders_of(label, Some(*group));
                let map = match group {
                    GroupKind::Cmg => &mut self.cmg_of,
                    GroupKind::Ms => &mut self.ms_of,
                };
                map.remove(label);
                if *group == GroupKind::Cmg {
                    self.replica_lt.remove(label);
                    self.cluster_in_log.remove(label);
                }
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
                self.accepted.remove(label);
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
                    self.validation_indexes
                        .entry((instance, node.clone(), *launch))
                        .or_default()
                        .insert(*index);
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
                    self.ms_history
                        .entry(instance)
                        .or_default()
                        .entry(*index)
                        .or_insert(*version);
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
            Event::MsConfigApplied { index, version, .. } => {
                if let Some(instance) = self.ms_of.get(label).copied() {
                    if let Some(v) =
                        self.agree(GroupKind::Ms, instance, *index, label, event, entry.time_us)
                    {
                        return Some(v);
                    }
                    if let Some((name, launch)) = self.identity(label) {
                        let reached = self.ms_applied.entry((name, launch, instance)).or_insert(0);
                        *reached = (*reached).max(*version);
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
                if let Some(v) =
                    self.check_lt_step(label, instance, *version, members, *index, entry.time_us)
                {
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
        if let Some(problem) = self.version_problem(admitter, member, launch) {
            return Some(problem);
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

    /// Why `label` must not have been halted by `rejection`, if it must not: a pre-init refusal
    /// by tag spares (docs/spec.md §5; docs/protocol.md, "a refusal never halts a live cluster")
    /// a node that holds the state of an init its CMG cancelled, within its start grace (it must
    /// be given the time to learn the cancel and go on as an empty node), or that no longer holds
    /// the refused tag (a stale refusal); and a member of a live cluster of its own: accepted by
    /// its cluster, hosting a replica that knows a leader, or within its start grace while its
    /// cluster has a CMG leader; and, from a "first admitted wins" refusal (`ConflictingTag`),
    /// a CMG voter whose replica applied its cluster's init (not cancelled since).
    fn refusal_problem(
        &self,
        label: &str,
        rejection: &joinsim::Rejection,
        time_us: u64,
    ) -> Option<Violation> {
        let refused = match &rejection.reason {
            joinsim::RejectionReason::TagMismatch { joiner, .. }
            | joinsim::RejectionReason::ConflictingTag { joiner, .. }
                if rejection.stage == joinsim::RejectionStage::PreInit =>
            {
                joiner
            }
            _ => return None,
        };
        let violation = |invariant, detail: String| {
            Some(Violation {
                invariant,
                time_us,
                nodes: vec![label.to_string(), rejection.by.clone()],
                detail,
            })
        };
        let young = self
            .started_us
            .get(label)
            .is_some_and(|s| time_us / 1_000 < s / 1_000 + self.start_grace_ms);
        let held = self.tag_of.get(label).cloned().flatten();
        if held.as_ref() != Some(refused) {
            return violation(
                Invariant::AlwaysCancelledMemberTold,
                format!(
                    "{label} was halted by a refusal of tag {refused}, which it no longer holds (it holds {held:?}): {rejection}"
                ),
            );
        }
        let cancelled = self
            .instance_tags
            .iter()
            .find(|(i, tags)| tags.contains(refused) && self.fate_cancelled.contains(*i));
        if let Some((init, _)) = cancelled {
            if young {
                return violation(
                    Invariant::AlwaysCancelledMemberTold,
                    format!(
                        "{label} was halted {:.3} ms after it started by a refusal of tag {refused}, whose init {init:?} its CMG had cancelled, before the cancel could reach it: {rejection}",
                        (time_us - self.started_us[label]) as f64 / 1e3
                    ),
                );
            }
            return None;
        }
        let hosted_leader = if self.cmg_of.contains_key(label) {
            self.knows_leader.get(&(label.to_string(), GroupKind::Cmg))
        } else {
            self.knows_leader.get(&(label.to_string(), GroupKind::Ms))
        };
        let live = self
            .cmg_leader_now
            .keys()
            .any(|i| self.clusters.get(i).is_some_and(|c| &c.tag == refused));
        let voter_of_committed = matches!(
            rejection.reason,
            joinsim::RejectionReason::ConflictingTag { .. }
        ) && self
            .cluster_in_log
            .get(label)
            .is_some_and(|(i, t)| t == refused && !self.fate_cancelled.contains(i));
        let why = if self.accepted.contains(label) {
            "accepted by its cluster"
        } else if hosted_leader == Some(&true) {
            "hosting a replica that knows a leader"
        } else if young && live {
            "within its start grace while its cluster has a CMG leader"
        } else if voter_of_committed {
            "a CMG voter whose replica committed its cluster, refused by an empty node (\"first admitted wins\" is for newcomers)"
        } else {
            return None;
        };
        violation(
            Invariant::AlwaysRefusalSparesMembers,
            format!("{label}, a member of a live cluster ({why}), was halted: {rejection}"),
        )
    }

    /// Why `member` (that launch) may not be in `viewer`'s view, if their versions are
    /// incompatible: another protocol version, or another product major.minor.
    fn version_problem(&self, viewer: &str, member: &str, launch: LaunchId) -> Option<String> {
        let mine = self.nodes.get(viewer)?;
        let theirs = self
            .launch_of
            .iter()
            .find(|(l, la)| **la == launch && self.name_of(l) == Some(member))
            .and_then(|(l, _)| self.nodes.get(l))?;
        if mine.protocol != theirs.protocol || !mine.product.compatible_with(&theirs.product) {
            return Some(format!(
                "{viewer} ({} / protocol {}) admitted {member} ({} / protocol {})",
                mine.product, mine.protocol, theirs.product, theirs.protocol
            ));
        }
        None
    }

    /// The tag of `instance` that some user got as an init's answer, with when, if any.
    fn answered_tag_of(&self, instance: InstanceId) -> Option<(ClusterTag, u64)> {
        self.instance_tags
            .get(&instance)?
            .iter()
            .find_map(|t| self.answered.get(t).map(|at| (t.clone(), *at)))
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

    /// The longest committed prefix the checker has seen in any incarnation of `kind`, from the
    /// vault writes (a test's proof that the host shows it every write).
    pub fn committed_prefix_len(&self, kind: GroupKind) -> usize {
        self.committed
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, c)| c.len())
            .max()
            .unwrap_or(0)
    }

    /// Learns the durable state a node starts the run with (a restored cluster's vault).
    pub fn load_vault(&mut self, label: &str, vault: &Vault) {
        for kind in [GroupKind::Cmg, GroupKind::Ms] {
            if let Some(record) = vault.group(kind) {
                let mut replica = DurableReplica::of(record);
                self.merge_committed(kind, &mut replica);
                self.durable.insert((label.to_string(), kind), replica);
            }
        }
    }

    /// Checks one vault write of a node, as the host makes it durable: a replica's commit index
    /// never goes down, and no committed entry is lost from every replica that held it.
    pub fn observe_write(
        &mut self,
        label: &str,
        time_us: u64,
        write: &joinsim::vault::VaultWrite,
    ) -> Option<Violation> {
        use joinsim::vault::VaultWrite;
        let violation = |invariant, detail: String| {
            Some(Violation {
                invariant,
                time_us,
                nodes: vec![label.to_string()],
                detail,
            })
        };
        let key = |kind: &GroupKind| (label.to_string(), *kind);
        match write {
            VaultWrite::CreateGroup(kind, record) => {
                let mut replica = DurableReplica::of(record);
                self.merge_committed(*kind, &mut replica);
                self.durable.insert(key(kind), replica);
            }
            VaultWrite::DestroyGroup(kind, instance)
                if self
                    .durable
                    .get(&key(kind))
                    .is_some_and(|r| r.instance == *instance) =>
            {
                self.durable.remove(&key(kind));
            }
            VaultWrite::HardState(kind, hard_state) => {
                let mut replica = self.durable.remove(&key(kind))?;
                let before = replica.commit;
                replica.commit = hard_state.commit;
                self.merge_committed(*kind, &mut replica);
                let instance = replica.instance;
                self.durable.insert(key(kind), replica);
                if hard_state.commit < before {
                    return violation(
                        Invariant::AlwaysCommitIndexMonotonic,
                        format!(
                            "{label}'s {kind} replica {instance:?} lowered its durable commit index from {before} to {}",
                            hard_state.commit
                        ),
                    );
                }
            }
            VaultWrite::Append(kind, new) => {
                let first = new.first()?.index;
                let mut replica = self.durable.remove(&key(kind))?;
                let instance = replica.instance;
                let new: Vec<(u64, u64)> = new.iter().map(entry_digest).collect();
                let old_len = replica.entries.len() as u64;
                let committed_len = self
                    .committed
                    .get(&(*kind, instance))
                    .map_or(0, |c| c.len() as u64);
                let mut lost = None;
                for index in first..=old_len.min(committed_len) {
                    let at = (index - 1) as usize;
                    let held = replica.entries[at];
                    let is_committed = self.committed[&(*kind, instance)][at] == held;
                    let kept = new.get((index - first) as usize) == Some(&held);
                    if is_committed
                        && !kept
                        && !self.held_elsewhere(label, *kind, instance, at, held)
                    {
                        lost = Some((index, held, new.get((index - first) as usize).copied()));
                        break;
                    }
                }
                replica.entries.truncate((first - 1) as usize);
                replica.entries.extend(new);
                replica.merged = replica.merged.min(replica.entries.len());
                self.merge_committed(*kind, &mut replica);
                self.durable.insert(key(kind), replica);
                if let Some((index, (term, _), now)) = lost {
                    return violation(
                        Invariant::AlwaysCommittedEntriesDurable,
                        format!(
                            "{label}'s {kind} replica {instance:?} dropped committed entry {index} (term {term}), which no other replica holds; {}",
                            match now {
                                Some((t, _)) => format!("it wrote an entry of term {t} there"),
                                None => "nothing was written at its index".to_string(),
                            }
                        ),
                    );
                }
            }
            _ => {}
        }
        None
    }

    /// True when a replica other than `label`'s holds entry `at` (0-based) of this incarnation.
    fn held_elsewhere(
        &self,
        label: &str,
        kind: GroupKind,
        instance: InstanceId,
        at: usize,
        entry: (u64, u64),
    ) -> bool {
        self.durable.iter().any(|((l, k), r)| {
            l != label && *k == kind && r.instance == instance && r.entries.get(at) == Some(&entry)
        })
    }

    /// Extends the committed prefix of the replica's incarnation with what it has committed.
    /// Where it committed another entry than the one recorded, and no replica holds the recorded
    /// one any more (all that did were wiped: the loss was legitimate or already reported), the
    /// replica's entry is recorded instead; a live disagreement is `always_committed_logs_agree`'s.
    fn merge_committed(&mut self, kind: GroupKind, replica: &mut DurableReplica) {
        let upto = (replica.commit as usize).min(replica.entries.len());
        if upto <= replica.merged {
            return;
        }
        let instance = replica.instance;
        let recorded = self.committed.remove(&(kind, instance)).unwrap_or_default();
        let mut recorded = recorded;
        for at in replica.merged..upto {
            let mine = replica.entries[at];
            match recorded.get(at).copied() {
                None => recorded.push(mine),
                Some(theirs) if theirs != mine => {
                    if !self.durable.iter().any(|((_, k), r)| {
                        *k == kind && r.instance == instance && r.entries.get(at) == Some(&theirs)
                    }) {
                        recorded[at] = mine;
                    }
                }
                Some(_) => {}
            }
        }
        replica.merged = upto;
        self.committed.insert((kind, instance), recorded);
    }

    /// Each LT change of one replica raises its version by exactly one, and a member leaves only
    /// by a leave naming its launch (a same-name join ready may replace it).
    fn check_lt_step(
        &mut self,
        label: &str,
        instance: InstanceId,
        version: u64,
        members: &[(NodeName, LaunchId)],
        index: u64,
        time_us: u64,
    ) -> Option<Violation> {
        let previous = self
            .replica_lt
            .insert(label.to_string(), (instance, version, members.to_vec()));
        let (before, old) = match previous {
            Some((i, v, m)) if i == instance => (v, m),
            _ => return None,
        };
        let violation = |invariant, detail: String| {
            Some(Violation {
                invariant,
                time_us,
                nodes: vec![label.to_string()],
                detail,
            })
        };
        let old_map: BTreeMap<&NodeName, LaunchId> = old.iter().map(|(n, l)| (n, *l)).collect();
        let new_map: BTreeMap<&NodeName, LaunchId> = members.iter().map(|(n, l)| (n, *l)).collect();
        let mut removed = Vec::new();
        let mut replaced = Vec::new();
        for (name, launch) in &old_map {
            match new_map.get(name) {
                None => removed.push(((*name).clone(), *launch)),
                Some(new) if new != launch => replaced.push(((*name).clone(), *launch, *new)),
                Some(_) => {}
            }
        }
        let added = new_map.keys().filter(|n| !old_map.contains_key(*n)).count();
        let changes = (removed.len() + replaced.len() + added) as u64;
        if version != before + changes {
            return violation(
                Invariant::AlwaysLtVersionStepsByOne,
                format!(
                    "{label}'s LT went from version {before} to {version} (index {index}) with {changes} change(s): {old:?} -> {members:?}"
                ),
            );
        }
        let leave = self
            .last_leave
            .get(label)
            .filter(|(i, at, _)| *i == instance && *at == index)
            .map(|(_, _, nodes)| nodes);
        for (name, launch) in &removed {
            if !leave.is_some_and(|nodes| nodes.contains(&(name.clone(), *launch))) {
                return violation(
                    Invariant::AlwaysLtMemberRemovedOnlyByItsLeave,
                    format!(
                        "{label} removed {name} (launch {launch:?}) from the LT at index {index} (version {version}), {}",
                        match leave {
                            Some(nodes) => format!("by a leave that names {nodes:?}"),
                            None => "without a leave".to_string(),
                        }
                    ),
                );
            }
        }
        if let (Some(nodes), Some((name, old, new))) = (leave, replaced.first()) {
            return violation(
                Invariant::AlwaysLtMemberRemovedOnlyByItsLeave,
                format!(
                    "{label} applied a leave of {nodes:?} at index {index} that replaced {name}'s launch {old:?} by {new:?}"
                ),
            );
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
        // The version before (a leave of several members raises it by more than one).
        let previous: BTreeSet<(NodeName, LaunchId)> = self
            .lt_versions
            .range((instance, 0)..(instance, version))
            .next_back()
            .map(|(_, m)| m.iter().cloned().collect())
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
            let member_label = self
                .launch_of
                .iter()
                .find(|(l, la)| **la == *launch && self.name_of(l) == Some(name.as_str()))
                .map(|(l, _)| l.clone());
            // Its Meta Storage caught up to the cluster's version at its (first standing)
            // validation before it entered.
            let validated_at = self
                .validation_indexes
                .get(&key)
                .and_then(|indexes| indexes.first().copied());
            let needed = validated_at.and_then(|at| {
                self.ms_history
                    .get(&instance)?
                    .range(..at)
                    .next_back()
                    .map(|(_, v)| *v)
            });
            if let Some(needed) = needed {
                let reached = self
                    .ms_applied
                    .get(&(name.clone(), *launch, instance))
                    .copied()
                    .unwrap_or(0);
                if reached < needed {
                    return violation(
                        Invariant::AlwaysLtMemberMsCaughtUp,
                        vec![name.clone()],
                        format!(
                            "{name} (launch {launch:?}) entered LT version {version} with its Meta Storage at version {reached}; it was validated (index {}) at version {needed}",
                            validated_at.unwrap_or(0)
                        ),
                    );
                }
            }
            // It hosts no replica of another incarnation (a stray of another init).
            if let Some(member) = &member_label {
                let hosted = [
                    (GroupKind::Cmg, self.cmg_of.get(member)),
                    (GroupKind::Ms, self.ms_of.get(member)),
                ];
                for (group, hosted) in hosted {
                    if let Some(other) = hosted.filter(|i| **i != instance) {
                        return violation(
                            Invariant::AlwaysOneGroupIncarnationPerNode,
                            vec![name.clone()],
                            format!(
                                "{name} entered the LT of incarnation {instance:?} while it hosts a {group} replica of {other:?}"
                            ),
                        );
                    }
                }
            }
            let Some(cluster) = &cluster else { continue };
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
            // b's Meta Storage replica caught up to version 1 (before its join ready, in truth;
            // listed here so that the positions above stay put).
            ("b", ms_started()),
            ("b", ms_applied(1, 1)),
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

    fn ms_started() -> Event {
        Event::GroupStarted {
            group: GroupKind::Ms,
            instance: I,
            from_vault: false,
        }
    }

    fn ms_applied(version: u64, index: u64) -> Event {
        Event::MsConfigApplied {
            version,
            nodes: vec!["a".into()],
            index,
        }
    }

    fn lt(version: u64, members: &[(&str, u64)], index: u64) -> Event {
        Event::LtChanged {
            version,
            members: members
                .iter()
                .map(|(n, l)| (n.to_string(), LaunchId(*l)))
                .collect(),
            index,
        }
    }

    fn left(nodes: &[(&str, u64)], index: u64) -> Event {
        Event::NodesLeft {
            nodes: nodes
                .iter()
                .map(|(n, l)| (n.to_string(), LaunchId(*l)))
                .collect(),
            index,
        }
    }

    /// Feeds events with their times; returns the first violation.
    fn feed_timed(events: Vec<(u64, &str, Event)>) -> Option<Violation> {
        feed_timed_to(Checker::new(facts()), events)
    }

    /// Feeds `checker` events with their times; returns the first violation.
    fn feed_timed_to(mut checker: Checker, events: Vec<(u64, &str, Event)>) -> Option<Violation> {
        events.into_iter().find_map(|(time_us, node, e)| {
            checker.observe(&TraceEntry {
                time_us,
                node: node.into(),
                kind: TraceKind::Protocol(e),
            })
        })
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
        assert_eq!(self_admitted_a_in_the_view_of_b(facts()), None);
    }

    /// `a` admits itself; `b` takes it into its view (through a probe, say), and later drops it.
    fn self_admitted_a_in_the_view_of_b(facts: BTreeMap<String, NodeFacts>) -> Option<Violation> {
        let mut checker = Checker::new(facts);
        [
            ("a", started(1, None)),
            ("b", started(2, None)),
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
        ]
        .into_iter()
        .find_map(|(n, e)| checker.observe(&entry(n, e)))
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
            cmg_fenced: None,
            cleared: Vec::new(),
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
        for (_, e) in history.iter_mut() {
            if let Event::LtChanged { index, .. } = e {
                *index = 5;
            }
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

    #[test]
    fn a_join_ready_of_another_launch_does_not_count() {
        // b restarted (launch 5) after launch 2 was validated: launch 5's join ready does not
        // make launch 2 ready, nor is launch 5 validated.
        let mut history = sound_join();
        history.insert(6, ("b", started(5, None)));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
        let mut history = sound_join();
        let last = history.len() - 1;
        history[last].1 = lt(1, &[("b", 5)], 4);
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
    }

    /// `a` starts init `I` of cluster `tag(1)`, CMG and MS [a, b].
    fn init_started_ab() -> Event {
        Event::InitStarted {
            request: joinsim::RequestId(1),
            init: I,
            tag: tag(1),
            cmg_nodes: vec!["a".into(), "b".into()],
            ms_nodes: vec!["a".into(), "b".into()],
        }
    }

    fn answered_then(destroy: Vec<(u64, &'static str, Event)>) -> Option<Violation> {
        let mut history = vec![
            (1, "a", init_started_ab()),
            (2, "a", cmg_started()),
            (2, "b", cmg_started()),
            (3, "a", init_applied(1, 1, 2)),
        ];
        history.extend(destroy);
        feed_timed(history)
    }

    fn answered(time: u64, node: &'static str) -> (u64, &'static str, Event) {
        (
            time,
            node,
            Event::InitAnswered {
                request: joinsim::RequestId(2),
                result: Ok(tag(1)),
            },
        )
    }

    fn cancelled(time: u64) -> (u64, &'static str, Event) {
        (
            time,
            "a",
            Event::InitCancelled {
                init: I,
                reason: "timeout".into(),
            },
        )
    }

    fn destroyed(time: u64, node: &'static str) -> (u64, &'static str, Event) {
        (
            time,
            node,
            Event::GroupDestroyed {
                group: GroupKind::Cmg,
                instance: I,
            },
        )
    }

    #[test]
    fn a_cancel_that_destroys_an_answered_cluster_trips() {
        // A retry through b answered the tag; then a's own attempt timed out and cancelled.
        let v = answered_then(vec![answered(4, "b"), cancelled(5), destroyed(6, "b")]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysAnsweredClusterNeverCancelled
        );
        let v = answered_then(vec![
            answered(4, "b"),
            cancelled(5),
            (6, "c", Event::VaultCleared { init: I }),
        ]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysAnsweredClusterNeverCancelled
        );
        // A cluster committed but never answered is cleared by a cancel.
        let ok = answered_then(vec![
            cancelled(5),
            destroyed(6, "b"),
            (6, "c", Event::VaultCleared { init: I }),
            answered(7, "b"),
        ]);
        assert_eq!(ok, None);
        // A join acceptance into another cluster drops a stray replica: not a cancel.
        let accepted = Event::JoinAccepted {
            tag: tag(2),
            stored_ms_version: None,
            cluster_ms_version: 1,
        };
        let ok = answered_then(vec![
            answered(4, "b"),
            cancelled(5),
            (8, "b", accepted.clone()),
            destroyed(8, "b"),
        ]);
        assert_eq!(ok, None);
        // ... but the same destroy in a later step is a cancel's.
        let v = answered_then(vec![
            answered(4, "b"),
            cancelled(5),
            (8, "b", accepted),
            destroyed(9, "b"),
        ]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysAnsweredClusterNeverCancelled
        );
    }

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

    use joinsim::vault::{EntryKind, EntryRecord, GroupRecord, HardStateRecord, VaultWrite};

    fn log_entry(index: u64, term: u64) -> EntryRecord {
        EntryRecord {
            index,
            term,
            kind: EntryKind::Normal,
            data: vec![index as u8],
            context: vec![],
        }
    }

    fn create() -> VaultWrite {
        VaultWrite::CreateGroup(
            GroupKind::Cmg,
            Box::new(GroupRecord {
                instance: I,
                plan: None,
                initial_voters: vec!["a".into(), "b".into()],
                hard_state: HardStateRecord::default(),
                entries: Vec::new(),
            }),
        )
    }

    fn append(first: u64, terms: &[u64]) -> VaultWrite {
        VaultWrite::Append(
            GroupKind::Cmg,
            terms
                .iter()
                .enumerate()
                .map(|(i, t)| log_entry(first + i as u64, *t))
                .collect(),
        )
    }

    fn commit(commit: u64) -> VaultWrite {
        VaultWrite::HardState(
            GroupKind::Cmg,
            HardStateRecord {
                term: 1,
                vote: 0,
                commit,
            },
        )
    }

    enum Step {
        Write(&'static str, VaultWrite),
        Harness(&'static str, HarnessEvent),
    }

    fn replay(steps: Vec<Step>) -> Option<Violation> {
        let mut checker = Checker::new(facts());
        steps.into_iter().find_map(|step| match step {
            Step::Write(node, w) => checker.observe_write(node, 1, &w),
            Step::Harness(node, h) => checker.observe(&TraceEntry {
                time_us: 1,
                node: node.into(),
                kind: TraceKind::Harness(h),
            }),
        })
    }

    #[test]
    fn a_commit_index_going_down_trips() {
        use Step::*;
        let base = || {
            vec![
                Write("a", create()),
                Write("a", append(1, &[1, 1, 1])),
                Write("a", commit(3)),
            ]
        };
        let mut history = base();
        history.push(Write("a", commit(3)));
        history.push(Harness("a", HarnessEvent::NodeKilled));
        history.push(Write("a", commit(3)));
        assert_eq!(replay(history), None, "a restart keeps the commit index");
        let mut history = base();
        history.push(Harness("a", HarnessEvent::NodeKilled));
        history.push(Write("a", commit(2)));
        assert_eq!(
            replay(history).unwrap().invariant,
            Invariant::AlwaysCommitIndexMonotonic
        );
        // A wiped replica starts again from nothing.
        let mut history = base();
        history.push(Harness("a", HarnessEvent::VaultWiped));
        history.push(Write("a", create()));
        history.push(Write("a", commit(0)));
        assert_eq!(replay(history), None);
    }

    #[test]
    fn a_committed_entry_lost_on_every_replica_trips() {
        use Step::*;
        // a and b hold entries 1..3; a committed all three.
        let base = || {
            vec![
                Write("a", create()),
                Write("b", create()),
                Write("a", append(1, &[1, 1, 1])),
                Write("b", append(1, &[1, 1, 1])),
                Write("a", commit(3)),
            ]
        };
        // a drops entry 3 (rewrites 2 as it was, nothing at 3) while b still holds it: kept.
        let mut history = base();
        history.push(Write("a", append(2, &[1])));
        assert_eq!(replay(history), None);
        // b is wiped (legitimately losing everything), then a drops entry 3: lost everywhere.
        let mut history = base();
        history.push(Harness("b", HarnessEvent::VaultWiped));
        history.push(Write("a", append(2, &[1])));
        assert_eq!(
            replay(history).unwrap().invariant,
            Invariant::AlwaysCommittedEntriesDurable
        );
        // b drops it first, then a: the last copy goes with a.
        let mut history = base();
        history.push(Write("b", append(3, &[2])));
        history.push(Write("a", append(3, &[2])));
        assert_eq!(
            replay(history).unwrap().invariant,
            Invariant::AlwaysCommittedEntriesDurable
        );
        // Uncommitted entries may be replaced.
        let mut history = base();
        history.push(Write("a", append(4, &[1, 1])));
        history.push(Write("b", append(4, &[1])));
        history.push(Write("a", append(4, &[2])));
        history.push(Write("b", append(4, &[2])));
        assert_eq!(replay(history), None);
        // Wiping every holder loses the entry without a fault.
        let mut history = base();
        history.push(Harness("a", HarnessEvent::VaultWiped));
        history.push(Harness("b", HarnessEvent::VaultWiped));
        assert_eq!(replay(history), None);
    }

    #[test]
    fn an_lt_version_that_skips_or_stalls_trips() {
        let with_c = |version, index| {
            let mut history = sound_join();
            history.push(("c", started(3, None)));
            history.push((
                "a",
                Event::Validated {
                    node: "c".into(),
                    launch: LaunchId(3),
                    index: index - 1,
                },
            ));
            history.push(("c", Event::JoinReadySent { leader: "a".into() }));
            history.push(("c", ms_started()));
            history.push(("c", ms_applied(1, 1)));
            history.push(("a", lt(version, &[("b", 2), ("c", 3)], index)));
            history
        };
        assert_eq!(feed(with_c(2, 6)), None);
        assert_eq!(
            feed(with_c(3, 6)).unwrap().invariant,
            Invariant::AlwaysLtVersionStepsByOne
        );
        // Two members leave in one command: two changes, two versions.
        let mut history = with_c(2, 6);
        history.push(("a", left(&[("b", 2), ("c", 3)], 7)));
        history.push(("a", lt(4, &[], 7)));
        assert_eq!(feed(history), None);
        let mut history = with_c(2, 6);
        history.push(("a", left(&[("b", 2), ("c", 3)], 7)));
        history.push(("a", lt(3, &[], 7)));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtVersionStepsByOne
        );
        // A restarted replica replays from version 0.
        let mut history = with_c(2, 6);
        history.push(("a", cmg_started()));
        history.push(("a", lt(1, &[("b", 2)], 4)));
        history.push(("a", lt(2, &[("b", 2), ("c", 3)], 6)));
        assert_eq!(feed(history), None);
    }

    #[test]
    fn a_member_removed_other_than_by_its_own_leave_trips() {
        let mut history = sound_join();
        history.push(("a", left(&[("b", 2)], 5)));
        history.push(("a", lt(2, &[], 5)));
        assert_eq!(feed(history), None);
        // A leave of an old launch of b removes b's current launch.
        let mut history = sound_join();
        history.push(("a", left(&[("b", 1)], 5)));
        history.push(("a", lt(2, &[], 5)));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberRemovedOnlyByItsLeave
        );
        // A member gone without any leave.
        let mut history = sound_join();
        history.push(("a", lt(2, &[], 5)));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberRemovedOnlyByItsLeave
        );
        // A leave that a's replica of an earlier incarnation applied at index 5 says nothing
        // about index 5 of the next incarnation, where a member's new launch replaces its old
        // one (fuzz seeds 18013773, 18023139: a false alarm before).
        const J: InstanceId = InstanceId(8);
        let replaced_at_5 = |leave_of: InstanceId| {
            let mut checker = Checker::new(facts());
            checker
                .last_leave
                .insert("a".into(), (leave_of, 5, vec![("b".into(), LaunchId(2))]));
            checker
                .replica_lt
                .insert("a".into(), (J, 1, vec![("c".into(), LaunchId(3))]));
            checker.check_lt_step("a", J, 2, &[("c".into(), LaunchId(4))], 5, 0)
        };
        assert_eq!(replaced_at_5(I), None);
        // Within one incarnation, a leave whose index brings a replacement still trips.
        assert_eq!(
            replaced_at_5(J).unwrap().invariant,
            Invariant::AlwaysLtMemberRemovedOnlyByItsLeave
        );
    }

    #[test]
    fn a_member_whose_meta_storage_lags_its_validation_trips() {
        let mut history = sound_join();
        history.retain(|(_, e)| !matches!(e, Event::MsConfigApplied { .. }));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberMsCaughtUp
        );
        // The Meta Storage moved to version 2 before b's validation: version 1 is not enough.
        let reconfigured = |applied: u64| {
            let mut history = sound_join();
            history.insert(
                3,
                (
                    "a",
                    Event::MsNodesChanged {
                        version: 2,
                        nodes: vec!["a".into()],
                        index: 3,
                    },
                ),
            );
            for (_, e) in history.iter_mut() {
                match e {
                    Event::Validated { index, .. } => *index = 4,
                    Event::LtChanged { index, .. } => *index = 5,
                    _ => {}
                }
            }
            let at = history.len() - 1;
            history.insert(at, ("b", ms_applied(applied, 2)));
            history
        };
        assert_eq!(feed(reconfigured(2)), None);
        assert_eq!(
            feed(reconfigured(1)).unwrap().invariant,
            Invariant::AlwaysLtMemberMsCaughtUp
        );
    }

    #[test]
    fn a_member_hosting_a_replica_of_another_init_trips() {
        let mut history = sound_join();
        let at = history.len() - 1;
        history.insert(
            at,
            (
                "b",
                Event::GroupStarted {
                    group: GroupKind::Cmg,
                    instance: InstanceId(99),
                    from_vault: false,
                },
            ),
        );
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysOneGroupIncarnationPerNode
        );
    }
    /// Feeds timed events to a checker run with the default timers (a start grace of 4 s).
    fn feed_with_timing(events: Vec<(u64, &str, Event)>) -> Option<Violation> {
        feed_timed_to(
            Checker::with_timing(facts(), &joinsim::Timing::default()),
            events,
        )
    }

    #[test]
    fn a_member_of_another_version_added_to_a_view_trips() {
        // a runs another product and admitted itself: no handshake checked it against b, yet
        // b's view may not take it (pre-init on every path).
        let mut f = facts();
        f.get_mut("a").unwrap().product = ProductVersion::new(3, 1, 0);
        assert_eq!(
            self_admitted_a_in_the_view_of_b(f).unwrap().invariant,
            Invariant::AlwaysPhysicalMemberPassedPreInit
        );
    }

    fn init_params(cmg: &[&str]) -> joinsim::InitParams {
        joinsim::InitParams {
            cluster_name: "c".into(),
            ms_nodes: Vec::new(),
            cmg_nodes: cmg.iter().map(|n| n.to_string()).collect(),
        }
    }

    /// `a` creates cluster `tag(1)` with CMG (and so MS) [a, b], joins it, and is then sent
    /// `requested`, which it refuses with `parameters_differ` naming `refuser`.
    fn repeat_refused(requested: &[&str], refuser: &str) -> Option<Violation> {
        feed(vec![
            ("a", init_started_ab()),
            (
                "a",
                Event::JoinAccepted {
                    tag: tag(1),
                    stored_ms_version: None,
                    cluster_ms_version: 1,
                },
            ),
            (
                "a",
                Event::InitReceived {
                    request: joinsim::RequestId(2),
                    params: init_params(requested),
                },
            ),
            (
                "a",
                Event::InitAnswered {
                    request: joinsim::RequestId(2),
                    result: Err(joinsim::InitError::ParametersDiffer {
                        node: refuser.into(),
                        detail: "Meta Storage node names do not match".into(),
                    }),
                },
            ),
        ])
    }

    #[test]
    fn a_repeat_of_the_creating_init_refused_as_parameters_differ_trips() {
        // The same command, lists in another order: a repeat, never "parameters differ".
        assert_eq!(
            repeat_refused(&["b", " a"], "a").unwrap().invariant,
            Invariant::AlwaysInitIdempotent
        );
        // Another command, or a refusal by another node (which may hold another init): fine.
        assert_eq!(repeat_refused(&["a"], "a"), None);
        assert_eq!(repeat_refused(&["a", "b"], "b"), None);
    }

    fn refused_by_tag(held: ClusterTag) -> Event {
        Event::Halted {
            rejection: joinsim::Rejection {
                stage: joinsim::RejectionStage::PreInit,
                by: "c".into(),
                reason: joinsim::RejectionReason::TagMismatch {
                    joiner: held,
                    cluster: tag(2),
                },
            },
        }
    }

    fn initialized(launch: u64) -> Event {
        Event::Started {
            launch: LaunchId(launch),
            tag: Some(tag(1)),
            ms_version: Some(1),
        }
    }

    #[test]
    fn a_refusal_that_halts_a_member_of_a_live_cluster_trips() {
        let trips = |v: Option<Violation>| {
            assert_eq!(v.unwrap().invariant, Invariant::AlwaysRefusalSparesMembers)
        };
        // Accepted by its cluster.
        trips(feed(vec![
            ("b", started(2, None)),
            (
                "b",
                Event::JoinAccepted {
                    tag: tag(1),
                    stored_ms_version: None,
                    cluster_ms_version: 1,
                },
            ),
            ("b", refused_by_tag(tag(1))),
        ]));
        // Hosting a replica that knows a leader.
        let hosting = vec![
            ("b", initialized(2)),
            ("b", cmg_started()),
            (
                "b",
                Event::RoleChanged {
                    group: GroupKind::Cmg,
                    instance: I,
                    role: Role::Follower,
                    term: 2,
                    leader: Some("a".into()),
                },
            ),
            ("b", refused_by_tag(tag(1))),
        ];
        trips(feed(hosting));
        // Within its start grace (4 s) while its cluster has a CMG leader; not after it.
        let live = |halted_at_us: u64| {
            feed_with_timing(vec![
                (1, "a", cmg_started()),
                (2, "a", init_applied(1, 1, 2)),
                (
                    3,
                    "a",
                    Event::RoleChanged {
                        group: GroupKind::Cmg,
                        instance: I,
                        role: Role::Leader,
                        term: 2,
                        leader: Some("a".into()),
                    },
                ),
                (1_000_000, "b", initialized(2)),
                (halted_at_us, "b", refused_by_tag(tag(1))),
            ])
        };
        trips(live(1_010_000));
        assert_eq!(live(5_010_000), None);
        // A node that is none of these (its cluster gone, its grace over) may be halted.
        assert_eq!(
            feed_with_timing(vec![
                (1_000_000, "b", initialized(2)),
                (1_010_000, "b", refused_by_tag(tag(1))),
            ]),
            None
        );
    }

    #[test]
    fn a_first_admitted_wins_refusal_that_halts_a_committed_cmg_voter_trips() {
        // b hosts a CMG replica that applied the cluster-init of tag 1; its grace is over and no
        // leader is in sight (the other voter is down), then an empty node refuses it.
        let halted = |reason: joinsim::RejectionReason, cancelled: bool| {
            let mut events = vec![
                (1_000_000, "b", initialized(2)),
                (1_000_001, "b", cmg_started()),
                (1_000_002, "b", init_applied(1, 1, 2)),
            ];
            if cancelled {
                events.push((
                    1_000_003,
                    "b",
                    Event::InitFateApplied {
                        instance: I,
                        fate: Some(joinsim::InitFate::Cancelled),
                        index: 3,
                    },
                ));
            }
            events.push((
                9_000_000,
                "b",
                Event::Halted {
                    rejection: joinsim::Rejection {
                        stage: joinsim::RejectionStage::PreInit,
                        by: "c".into(),
                        reason,
                    },
                },
            ));
            feed_with_timing(events)
        };
        let conflicting = joinsim::RejectionReason::ConflictingTag {
            joiner: tag(1),
            member: "x".into(),
            member_tag: tag(2),
        };
        assert_eq!(
            halted(conflicting.clone(), false).unwrap().invariant,
            Invariant::AlwaysRefusalSparesMembers
        );
        // A refusal by a node of another cluster still halts it; so does any refusal once its
        // CMG cancelled the init.
        let mismatch = joinsim::RejectionReason::TagMismatch {
            joiner: tag(1),
            cluster: tag(2),
        };
        assert_eq!(halted(mismatch, false), None);
        assert_eq!(halted(conflicting, true), None);
    }

    #[test]
    fn a_refusal_that_halts_a_member_of_a_cancelled_init_trips() {
        let cancelled = |halted_at_us: u64, refused: ClusterTag| {
            feed_with_timing(vec![
                (1, "a", init_started_ab()),
                (
                    2,
                    "a",
                    Event::InitFateApplied {
                        instance: I,
                        fate: Some(joinsim::InitFate::Cancelled),
                        index: 3,
                    },
                ),
                (1_000_000, "b", initialized(2)),
                (halted_at_us, "b", refused_by_tag(refused)),
            ])
        };
        // Back from its vault, refused before the cancel could reach it.
        assert_eq!(
            cancelled(1_010_000, tag(1)).unwrap().invariant,
            Invariant::AlwaysCancelledMemberTold
        );
        // Its start grace over, the cancel had its time.
        assert_eq!(cancelled(5_010_000, tag(1)), None);
        // Refused for a tag it no longer holds (a stale refusal): never final.
        assert_eq!(
            cancelled(5_010_000, tag(3)).unwrap().invariant,
            Invariant::AlwaysCancelledMemberTold
        );
    }
}
