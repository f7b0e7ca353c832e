//! Protocol events: what a node reports about each step it takes.
//!
//! Events are data in the node's output. The host stamps them with the simulated time and the
//! node's name, logs them, hashes them into the run's trace hash, and the invariant checkers read
//! them. A node never emits an event for something it did not do.

use serde::{Deserialize, Serialize};

use crate::error::{InitError, Rejection, RejectionReason};
use crate::init_command::{InitFate, InitParams};
use crate::types::RequestId;
use crate::types::{
    Addr, ClusterTag, GroupKind, InstanceId, LaunchId, NodeName, ProductVersion, ProtocolVersion,
};

/// Why a member left a node's view of the physical topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RemovalCause {
    /// It stopped answering probes.
    Dead,
    /// It said it was leaving.
    Left,
    /// A member with a conflicting tag was admitted before it.
    Evicted,
}

/// A Raft role, as events report it.
///
/// Its names (`follower`, `candidate`, `leader`) come from one table, strum's derives:
/// `Display`, `str::parse`, `<&str>::from` and `Role::VARIANTS`. Its serde and bincode
/// encodings are serde's own (bincode writes the variant index, hashed into traces): unchanged.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumIter,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// Follower (or learner).
    Follower,
    /// Pre-candidate or candidate.
    Candidate,
    /// Leader.
    Leader,
}

/// Something a node did.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Event {
    /// The node started (a new launch), from its vault.
    Started {
        /// This launch.
        launch: LaunchId,
        /// The tag in its vault, if initialized.
        tag: Option<ClusterTag>,
        /// The Meta Storage version in its vault, if initialized.
        ms_version: Option<u64>,
    },
    /// The node stopped for good: it was refused or rejected.
    Halted {
        /// Why.
        rejection: Rejection,
    },
    /// A handshake went to a seed member.
    HandshakeSent {
        /// The seed.
        to: Addr,
    },
    /// This node was admitted to the physical topology.
    EnteredTopology {
        /// The node that admitted it (itself when it formed its own topology).
        via: NodeName,
    },
    /// This node admitted a joiner: the joiner passed pre-init validation here.
    Admitted {
        /// The joiner.
        member: NodeName,
        /// Its launch.
        launch: LaunchId,
        /// The tag it presented.
        tag: Option<ClusterTag>,
    },
    /// This node refused (or evicted) a joiner at pre-init validation.
    PreInitRefused {
        /// The joiner.
        joiner: NodeName,
        /// Its launch.
        launch: LaunchId,
        /// Why.
        reason: RejectionReason,
    },
    /// A member entered this node's view.
    MemberAdded {
        /// Member.
        member: NodeName,
        /// Its launch.
        launch: LaunchId,
    },
    /// A restarted member replaced its old entry.
    MemberReplaced {
        /// Member.
        member: NodeName,
        /// Old launch.
        old: LaunchId,
        /// New launch.
        new: LaunchId,
    },
    /// A member left this node's view.
    MemberRemoved {
        /// Member.
        member: NodeName,
        /// Its launch.
        launch: LaunchId,
        /// Why.
        cause: RemovalCause,
    },
    /// The user's init command arrived.
    InitReceived {
        /// Request.
        request: RequestId,
        /// Parameters as given.
        params: InitParams,
    },
    /// This node, as initiator, sent an init to the named nodes.
    InitStarted {
        /// Request.
        request: RequestId,
        /// The init attempt (and group incarnation).
        init: InstanceId,
        /// The tag it proposes.
        tag: ClusterTag,
        /// CMG voters.
        cmg_nodes: Vec<NodeName>,
        /// Meta Storage voters.
        ms_nodes: Vec<NodeName>,
    },
    /// This node answered the user's init.
    InitAnswered {
        /// Request.
        request: RequestId,
        /// Answer.
        result: Result<ClusterTag, InitError>,
    },
    /// This node, as initiator, cancelled an init.
    InitCancelled {
        /// The init attempt.
        init: InstanceId,
        /// Why.
        reason: String,
    },
    /// A Raft replica started on this node.
    GroupStarted {
        /// Group.
        group: GroupKind,
        /// Incarnation.
        instance: InstanceId,
        /// Restarted from the vault (rather than created).
        from_vault: bool,
    },
    /// A Raft replica on this node was destroyed (init cancelled, or replaced).
    GroupDestroyed {
        /// Group.
        group: GroupKind,
        /// Incarnation.
        instance: InstanceId,
    },
    /// The replica's role, term or leader changed.
    RoleChanged {
        /// Group.
        group: GroupKind,
        /// Incarnation.
        instance: InstanceId,
        /// New role.
        role: Role,
        /// Term.
        term: u64,
        /// The leader it knows (by name), if any.
        leader: Option<NodeName>,
    },
    /// A CMG replica applied the cluster-init command that set the cluster state.
    ClusterInitApplied {
        /// Incarnation.
        instance: InstanceId,
        /// The committed tag.
        tag: ClusterTag,
        /// The cluster's product version.
        product: ProductVersion,
        /// The cluster's protocol version.
        protocol: ProtocolVersion,
        /// The cluster's Meta Storage version at init.
        ms_version: u64,
        /// CMG voters.
        cmg_nodes: Vec<NodeName>,
        /// Log index.
        index: u64,
    },
    /// The CMG leader sent the cluster state to a member outside the LT.
    ClusterStateSent {
        /// Member.
        to: NodeName,
        /// Leader term.
        term: u64,
    },
    /// This node received the cluster state.
    ClusterStateReceived {
        /// Leader.
        leader: NodeName,
        /// Its term.
        term: u64,
        /// Ignored because a newer term was seen.
        stale: bool,
        /// Ignored because it comes from a cluster this node must not follow.
        foreign: bool,
    },
    /// This node sent a join request.
    JoinRequestSent {
        /// To this leader.
        leader: NodeName,
        /// With its stored tag and MS version, if initialized.
        stored: Option<(ClusterTag, u64)>,
    },
    /// A CMG replica applied a join request and validated the node.
    Validated {
        /// Node.
        node: NodeName,
        /// Its launch.
        launch: LaunchId,
        /// Log index.
        index: u64,
    },
    /// A CMG replica applied a join request and rejected the node.
    JoinRejected {
        /// Node.
        node: NodeName,
        /// Its launch.
        launch: LaunchId,
        /// Why.
        reason: RejectionReason,
        /// Log index.
        index: u64,
    },
    /// This node was accepted by the CMG: it stored the tag and is now initialized.
    JoinAccepted {
        /// The tag.
        tag: ClusterTag,
        /// The Meta Storage version it stored before (X), if it was initialized.
        stored_ms_version: Option<u64>,
        /// The cluster's Meta Storage version (Y) it must catch up to.
        cluster_ms_version: u64,
    },
    /// This node finished local recovery: its Meta Storage caught up.
    RecoveryFinished {
        /// The Meta Storage version it reached.
        ms_version: u64,
    },
    /// This node sent join ready.
    JoinReadySent {
        /// To this leader.
        leader: NodeName,
    },
    /// The CMG refused this node's join ready; it starts its join again.
    JoinReadyRefused {
        /// Why.
        reason: String,
    },
    /// This node is in the logical topology.
    Joined {
        /// The LT version that includes it.
        lt_version: u64,
    },
    /// A CMG replica's logical topology changed.
    LtChanged {
        /// New version.
        version: u64,
        /// Members (name, launch).
        members: Vec<(NodeName, LaunchId)>,
        /// Log index.
        index: u64,
    },
    /// A replica's state machine after applying the entry at `index`, as a digest: replicas of
    /// one incarnation must agree at every index.
    ReplicaState {
        /// Group.
        group: GroupKind,
        /// Log index.
        index: u64,
        /// FNV-1a of the encoded state.
        digest: u64,
    },
    /// A CMG replica applied a node-leave command: these launches left the LT and the validated
    /// set (those that were in them).
    NodesLeft {
        /// (name, launch) of each.
        nodes: Vec<(NodeName, LaunchId)>,
        /// Log index.
        index: u64,
    },
    /// A CMG replica committed a new Meta Storage node list.
    MsNodesChanged {
        /// New version.
        version: u64,
        /// New voters.
        nodes: Vec<NodeName>,
        /// Log index.
        index: u64,
    },
    /// A Meta Storage replica applied a configuration version.
    MsConfigApplied {
        /// Version.
        version: u64,
        /// Voters.
        nodes: Vec<NodeName>,
        /// Log index.
        index: u64,
    },
    /// This node's stored Meta Storage version changed.
    MsVersionStored {
        /// Before (None when the node was empty).
        from: Option<u64>,
        /// After.
        to: u64,
    },
    /// This node's vault was cleared by a cancelled init: it is empty again.
    VaultCleared {
        /// The cancelled init.
        init: InstanceId,
    },
    /// An admin command was answered.
    AdminAnswered {
        /// Request.
        request: RequestId,
        /// Answer, as text.
        result: String,
    },
    /// A replica met a committed entry it cannot decode and stopped (its vault is kept).
    ReplicaFailed {
        /// Group.
        group: GroupKind,
        /// Log index.
        index: u64,
        /// Decoder error.
        detail: String,
    },
    /// Bytes that did not decode, or a Raft payload that did not.
    CorruptMessage {
        /// Sender.
        from: Addr,
        /// Decoder error.
        detail: String,
    },
    /// A CMG replica applied the init's fate (`InitAnswered` or `InitCancelled`, the first
    /// applied wins): `fate` is the fate it holds afterwards.
    InitFateApplied {
        /// Incarnation.
        instance: InstanceId,
        /// The fate now held.
        fate: Option<InitFate>,
        /// Log index.
        index: u64,
    },
    /// This node refused a cancel: the init it cancels was answered to a user with this tag.
    CancelRefused {
        /// The init.
        init: InstanceId,
        /// The cluster's tag.
        tag: ClusterTag,
    },
    /// A pre-init refusal by tag that this node does not take as final: it is a member of a
    /// live cluster of its own (docs/spec.md §5, "a refusal never halts a live cluster").
    RefusalIgnored {
        /// The node that refused.
        by: NodeName,
        /// Why it refused.
        reason: crate::error::RejectionReason,
    },
    /// The CMG leader refused a join without a CMG command: another live node holds the name.
    JoinRefusedDuplicateName {
        /// The refused node.
        node: NodeName,
        /// Its launch.
        launch: LaunchId,
        /// The address of the live node that holds the name.
        holder: Addr,
    },
    /// The CMG leader proposed removing LT members (or validated nodes) missing from its
    /// physical topology (docs/spec.md §5, "down members leave the LT within a bound").
    AbsentMembersRemoved {
        /// (name, launch) of each.
        nodes: Vec<(NodeName, LaunchId)>,
    },
    /// This node's CMG replica of `init`, leaderless and holding no answer, was asked to cancel
    /// it: it keeps its replica but stays out of its group (no votes, no appends, no ticks)
    /// until it learns whether the init was answered (docs/protocol.md Step 2.6, "the fence").
    CmgFenced {
        /// The init being cancelled.
        init: InstanceId,
    },
    /// A fenced CMG replica learned that its init was answered (the cancel was refused): it
    /// takes part in its group again.
    CmgUnfenced {
        /// The init.
        init: InstanceId,
    },
    /// This node leaves the cluster on purpose (`Node::leave`, docs/protocol.md "Graceful
    /// leave"): it told these members (its physical topology and the CMG leader it follows, by
    /// name, in address order) and stops for good.
    LeftGracefully {
        /// The names told, in address order.
        told: Vec<NodeName>,
    },
    /// A CMG replica applied a command that took a node's validation away before its join ready
    /// moved it into the LT: a node-leave command naming that launch (LT hygiene, failure
    /// detection), or the validation of a new launch of the same name, which replaces it.
    ValidationRevoked {
        /// Node.
        node: NodeName,
        /// The launch whose validation was revoked.
        launch: LaunchId,
        /// Log index of the command.
        index: u64,
    },
    /// A cancel of an init reached this node (`cancel_init`, from its initiator or from a node
    /// that learned the CMG's decision), before the node judged it.
    CancelReceived {
        /// The init to cancel.
        init: InstanceId,
        /// Who sent it.
        from: Addr,
        /// Sent as the CMG's decision (rather than the initiator's request).
        decided: bool,
    },
    /// A user's init reached this node while a cancel of the cluster it holds in its vault
    /// (`held`) is under way here, its fate not yet known: the node holds the request back
    /// and judges it once the fate is known, rather than judge it against a cluster that may
    /// already be cancelled (docs/protocol.md Step 2.6, "a cancel under way is no ground for a
    /// refusal").
    InitDeferred {
        /// The user's request.
        request: RequestId,
        /// The init whose fate the node waits for.
        held: InstanceId,
    },
    /// The CMG answered this node's join request of `attempt` `StaleAttempt`: the validation of
    /// that attempt was revoked (the node was removed as dead after it), so the node asks again
    /// under a new attempt (docs/protocol.md Step 4, "a revoked attempt is never validated
    /// again").
    JoinAttemptStale {
        /// The attempt whose validation was revoked.
        attempt: u64,
    },
    /// The node took the decision this coverage mark names (`src/marks.rs`): reported beside
    /// the code that decides, for a fuzzing campaign to count (docs/fuzzing.md, "Coverage
    /// marks"). It says nothing the other events need; the checkers ignore it.
    Mark(crate::marks::Mark),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_named_by_one_table_and_encoded_by_index() {
        use strum::VariantNames;
        assert_eq!(Role::VARIANTS, ["follower", "candidate", "leader"]);
        assert_eq!(Role::Leader.to_string(), "leader");
        assert_eq!("candidate".parse::<Role>(), Ok(Role::Candidate));
        assert_eq!(bincode::serialize(&Role::Leader).unwrap(), [2, 0, 0, 0]);
    }
}
