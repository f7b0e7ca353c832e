//! Every message nodes (and the user) exchange, and their wire encoding.
//!
//! A message travels inside an [`Envelope`] that names the sender's address and launch. Envelopes
//! are encoded with bincode, with a size limit, so that corrupt bytes give an
//! [`Error::CorruptMessage`] instead of a panic or a huge allocation.

use bincode::Options;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

use crate::admin::{AdminCommand, AdminOutcome};
use crate::cmg::JoinResult;
use crate::codec::options as codec;
use crate::error::{AdminError, Error, InitError, JoinReadyRefusal, Rejection, Result};
use crate::init::{GroupStatus, InitParams, InitPlan, StartOutcome};
use crate::topology::{Identity, MemberRecord, Rumor};
use crate::types::{
    Addr, ClusterTag, GroupKind, InstanceId, LaunchId, NodeInfo, NodeName, SharedName,
};

pub use crate::codec::MAX_MESSAGE_BYTES;
pub use crate::raft_payload::RaftPayload;
pub use crate::types::RequestId;

/// A message with its sender.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sender's address (where answers go).
    pub from: Addr,
    /// The sender's launch id (zero for the user, who is not a node).
    pub from_launch: LaunchId,
    /// The message.
    pub msg: Message,
}

impl Envelope {
    /// Encodes the envelope for the wire.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing our own types into a Vec cannot fail except by exceeding the limit, which
        // a message of this protocol never does: treat it as a programming error.
        codec()
            .serialize(self)
            .expect("envelope exceeds MAX_MESSAGE_BYTES")
    }

    /// The envelope's size on the wire, in bytes, counted without encoding it; `None` when it
    /// exceeds [`MAX_MESSAGE_BYTES`](crate::codec::MAX_MESSAGE_BYTES), which no receiver would
    /// accept. The madsim world hands envelopes over as values (nothing leaves the process) and
    /// checks this instead of encoding each one.
    pub fn wire_len(&self) -> Option<u64> {
        if let Message::Raft {
            group,
            instance,
            from_name,
            payload: payload @ RaftPayload::Message(_),
        } = &self.msg
        {
            return crate::raft_payload::raft_envelope_len(
                self.from,
                self.from_launch,
                *group,
                *instance,
                from_name,
                payload,
            );
        }
        codec().serialized_size(self).ok()
    }

    /// Decodes bytes received from `from` (formatted only into the error).
    pub fn decode(bytes: &[u8], from: &dyn fmt::Display) -> Result<Envelope> {
        codec()
            .deserialize(bytes)
            .map_err(|e| Error::CorruptMessage {
                from: from.to_string(),
                detail: e.to_string(),
            })
    }
}

/// The cluster state the CMG leader sends to members outside the logical topology (step 3): where
/// the CMG is, who leads it, and the cluster's tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStateNotice {
    /// The leader's Raft term; receivers ignore a notice older than one they have seen.
    pub term: u64,
    /// The leader.
    pub leader: NodeInfo,
    /// The CMG incarnation.
    pub cmg_instance: InstanceId,
    /// The CMG's voters.
    pub cmg_nodes: Vec<NodeName>,
    /// The cluster's tag.
    pub tag: ClusterTag,
    /// The leader's LT version when it sent the notice. A joined node ignores a notice older
    /// than the LT version it joined at: it was sent before it joined, and reached it late
    /// (docs/protocol.md Step 4, "a notice says whether its receiver is a member").
    pub lt_version: u64,
    /// Whether the receiver (its name and launch) is in the leader's LT. A node that never got
    /// the answer to its join ready (its leader moved or died) learns from it that it joined.
    pub member: bool,
    /// The receiver's launch the leader judged `member` for (the launch its physical topology
    /// had at the receiver's address). Decision (fuzz seed 2087, found by guided search): a
    /// notice sent to an earlier launch at that address — overtaken by a restart — says
    /// nothing of the new launch's membership; the receiver takes `member` only for its own
    /// launch (spec step 4: a restarted node is validated again).
    pub receiver_launch: LaunchId,
}

/// Everything that travels between nodes and between the user and a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    // --- Physical topology (step 1) ---
    /// A starting node asks a seed member to admit it (pre-init validation).
    Handshake {
        /// Who is asking, with its tag and MS version if it is initialized.
        joiner: Identity,
    },
    /// Admitted: the joiner's own record and the members the contacted node knows.
    HandshakeAccepted {
        /// The joiner's admission record.
        you: MemberRecord,
        /// The contacted node's view (records shared, not copied: `Arc`).
        members: Vec<Arc<MemberRecord>>,
    },
    /// Refused at pre-init validation, or evicted because a conflicting member was admitted first.
    HandshakeRefused {
        /// Why.
        rejection: Rejection,
    },
    /// The admitting node tells the other members about a new member.
    Announce {
        /// The new member.
        member: Arc<MemberRecord>,
    },
    /// Failure-detection probe.
    Probe {
        /// The prober's own record.
        sender: Arc<MemberRecord>,
        /// The digest of the prober's view (`PhysicalTopology::view_digest`) on a sync probe
        /// (at most one per member every `rejoin_probe_ms`), `None` on the others: only a sync
        /// probe may get the responder's view back.
        view: Option<u64>,
        /// SWIM's piggybacked rumors (empty with the all-pairs detector).
        #[serde(default)]
        rumors: Vec<Rumor>,
        /// SWIM: the member that asked this node to probe (an indirect probe); the ack says so,
        /// and the prober relays it.
        #[serde(default)]
        relay_for: Option<Addr>,
    },
    /// Answer to a probe, with the responder's view (anti-entropy).
    ProbeAck {
        /// The responder's own record.
        sender: Arc<MemberRecord>,
        /// The responder's view (itself included) when the probe was a sync probe with another
        /// digest than the responder's view has; empty otherwise.
        members: Vec<Arc<MemberRecord>>,
        /// SWIM's piggybacked rumors (empty with the all-pairs detector).
        #[serde(default)]
        rumors: Vec<Rumor>,
        /// The probe's `relay_for`, echoed.
        #[serde(default)]
        relay_for: Option<Addr>,
    },
    /// SWIM's indirect probe request (ping-req): probe `target` for the sender, which has had no
    /// answer from it for half a period.
    ProbeRequest {
        /// The member to probe.
        target: Addr,
    },
    /// SWIM: `target` (launch `launch`) answered the probe this node made for the receiver.
    ProbeRelay {
        /// The member that answered.
        target: Addr,
        /// Its launch.
        launch: LaunchId,
    },
    /// A stopping node leaves the physical topology.
    Leaving,

    // --- Init command (step 2) ---
    /// The user asks a node to initialize the cluster.
    InitRequest {
        /// Request id.
        request: RequestId,
        /// Parameters as the user gave them.
        params: InitParams,
    },
    /// The answer to the user: the cluster tag, or why not.
    InitResponse {
        /// Request id.
        request: RequestId,
        /// Outcome.
        result: std::result::Result<ClusterTag, InitError>,
    },
    /// The initiator asks a CMG or MS node to start its Raft groups.
    StartGroups {
        /// The init attempt.
        plan: InitPlan,
    },
    /// A named node's answer to `StartGroups`.
    StartGroupsAck {
        /// The init attempt.
        init: InstanceId,
        /// What it did.
        outcome: StartOutcome,
    },
    /// The initiator asks a named node for the state of its groups.
    StatusQuery {
        /// The init attempt.
        init: InstanceId,
        /// Set once the initiator saw the commit and a Meta Storage leader of this incarnation:
        /// it is about to answer the user with the tag, and the CMG leader records that first
        /// (`CmgCommand::InitAnswered`).
        answering: Option<InstanceId>,
    },
    /// Answer to `StatusQuery`.
    StatusReply {
        /// The init attempt.
        init: InstanceId,
        /// The node's groups.
        status: GroupStatus,
    },
    /// The initiator cancels an init: groups of this instance are destroyed, and vault state
    /// holding its tag is cleared.
    CancelInit {
        /// The init attempt.
        init: InstanceId,
        /// Why (for the trace).
        reason: String,
        /// The CMG committed the cancel (`InitFate::Cancelled`), so no user was answered: every
        /// holder may clear. Undecided, only a CMG replica that cannot have committed anything
        /// destroys its replica.
        decided: bool,
    },
    /// A node confirms a cancel: it holds nothing of that init any more.
    CancelAck {
        /// The init attempt.
        init: InstanceId,
        /// Nodes that a CMG replica of the cancelled cluster knew as joined or validated: they
        /// must be told too.
        members: Vec<Addr>,
        /// It acted on a cancel the CMG committed.
        decided: bool,
        /// Undecided, this node hosts no replica of that incarnation's CMG that could help
        /// commit an answer (it had none, or destroyed its own with no `InitAnswered` in its
        /// log), and will not start one: with the group's voters when it had a replica.
        unanswered: Option<Vec<NodeName>>,
    },
    /// A CMG replica refuses a cancel: the init was answered to a user with this tag.
    CancelRefused {
        /// The init attempt.
        init: InstanceId,
        /// The cluster's tag.
        tag: ClusterTag,
    },

    // --- Raft groups ---
    /// A raft-rs message for a group incarnation (protobuf bytes on the wire).
    Raft {
        /// The group.
        group: GroupKind,
        /// The incarnation.
        instance: InstanceId,
        /// The sender's name, so the receiver learns where to answer (shared, not copied: it
        /// rides on every Raft message).
        from_name: SharedName,
        /// The `eraftpb::Message`: a value in the process, protobuf-encoded on the wire.
        payload: RaftPayload,
    },

    /// A node's replica of a group started with an empty log (its vault was wiped or it is new);
    /// the leader must replicate to it from the first entry.
    ReplicaEmpty {
        /// The group.
        group: GroupKind,
        /// The incarnation.
        instance: InstanceId,
        /// The node.
        name: NodeName,
    },

    // --- CMG leader discovery and join (steps 3 and 4) ---
    /// The CMG leader tells a member outside the LT where the CMG is.
    ClusterState(ClusterStateNotice),
    /// A node asks the CMG leader to validate it.
    JoinRequest {
        /// Who.
        info: NodeInfo,
        /// Its stored tag and MS version, only if it is initialized.
        stored: Option<(ClusterTag, u64)>,
        /// The incarnation of a CMG or Meta Storage replica the node hosts (its vault's), if
        /// any: a named node of an init that restarted at another address before it was ever
        /// validated stores no cluster, yet holds the group's replica — the CMG leader then knows
        /// it for that voter, not an empty namesake (src/cmg/namesake.rs).
        replica_of: Option<InstanceId>,
        /// The node's join attempt (per launch): a join ready counts only for the attempt that
        /// was validated, so a stale one from before a removal and revalidation is refused.
        attempt: u64,
    },
    /// The CMG's answer to a join request.
    JoinResponse {
        /// The launch it answers.
        launch: LaunchId,
        /// The join attempt it answers.
        attempt: u64,
        /// Outcome.
        result: JoinResult,
    },
    /// A validated node that finished local recovery asks to enter the LT.
    JoinReady {
        /// Who.
        info: NodeInfo,
        /// The node's join attempt (per launch): a join ready counts only for the attempt that
        /// was validated, so a stale one from before a removal and revalidation is refused.
        attempt: u64,
    },
    /// The CMG's answer to a join ready: the LT version that includes the node.
    JoinReadyResponse {
        /// The launch it answers.
        launch: LaunchId,
        /// The join attempt it answers.
        attempt: u64,
        /// Outcome.
        result: std::result::Result<u64, JoinReadyRefusal>,
    },
    /// The receiver is not the CMG leader; here is who it believes is.
    NotLeader {
        /// The leader's name and address, if known.
        leader: Option<(NodeName, Addr)>,
    },

    // --- Meta Storage ---
    /// A node catching up asks the Meta Storage leader to add it as a learner.
    MsAddLearner {
        /// Who.
        name: NodeName,
        /// The Meta Storage incarnation it asks to learn (its cluster's init id, from its join
        /// acceptance): a replica of another incarnation ignores the request (docs/protocol.md,
        /// "Meta Storage requests name their incarnation").
        instance: InstanceId,
    },
    /// The CMG leader asks the Meta Storage to adopt a committed node list.
    MsReconfigure {
        /// The MS version the CMG committed for it.
        version: u64,
        /// The new voters.
        nodes: Vec<NodeName>,
        /// The Meta Storage incarnation meant (the CMG's cluster state's): a replica of
        /// another incarnation — another cluster sharing the physical topology — ignores it.
        instance: InstanceId,
    },
    /// A Meta Storage replica reports it has applied this version.
    MsReconfigured {
        /// Applied version.
        version: u64,
        /// The incarnation of the replica that applied it: the CMG leader counts only its own.
        instance: InstanceId,
    },

    // --- Admin commands ---
    /// The user sends an admin command to a node.
    AdminRequest {
        /// Request id.
        request: RequestId,
        /// The command.
        command: AdminCommand,
    },
    /// The answer to the user.
    AdminResponse {
        /// Request id.
        request: RequestId,
        /// Outcome.
        result: std::result::Result<AdminOutcome, AdminError>,
    },
    /// The receiving node forwards an admin command to the CMG leader.
    AdminForward {
        /// Request id (unique per origin).
        request: RequestId,
        /// The command.
        command: AdminCommand,
    },
    /// The CMG leader's answer to a forwarded command.
    AdminForwardResult {
        /// Request id.
        request: RequestId,
        /// Outcome.
        result: std::result::Result<AdminOutcome, AdminError>,
    },
    /// A node initialized in a cluster that another cluster's leader reaches asks the members of
    /// its view that hold another tag whether its own init was cancelled; a node that remembers
    /// that init as cancelled by a decided cancel answers `CancelInit { decided: true }`.
    CancelQuery {
        /// The asking node's CMG incarnation.
        init: InstanceId,
    },
}

/// The kind of a message, without its contents: what holds, drops and traces refer to.
///
/// Its names are the snake_case of the variants (`join_ready`, `raft_cmg`, ...), derived once by
/// strum and by serde alike: [`MessageKind::name`] (or `<&str>::from`, or `Display`) spells one,
/// `str::parse` reads one back, `MessageKind::iter()` ([`strum::IntoEnumIterator`]) lists every
/// kind in declaration order and `MessageKind::VARIANTS` ([`strum::VariantNames`]) every name.
/// docs/scenarios.md lists exactly these names (a test checks it).
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Debug,
    strum::Display,
    strum::EnumIter,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[allow(missing_docs)]
pub enum MessageKind {
    Handshake,
    HandshakeAccepted,
    HandshakeRefused,
    Announce,
    Probe,
    ProbeAck,
    Leaving,
    InitRequest,
    InitResponse,
    StartGroups,
    StartGroupsAck,
    StatusQuery,
    StatusReply,
    CancelInit,
    CancelAck,
    CancelRefused,
    RaftCmg,
    RaftMs,
    ReplicaEmpty,
    ClusterState,
    JoinRequest,
    JoinResponse,
    JoinReady,
    JoinReadyResponse,
    NotLeader,
    MsAddLearner,
    MsReconfigure,
    MsReconfigured,
    AdminRequest,
    AdminResponse,
    AdminForward,
    AdminForwardResult,
    CancelQuery,
    ProbeRequest,
    ProbeRelay,
}

impl MessageKind {
    /// The snake_case name used in scenario files and traces (`join_ready`, `raft_cmg`, ...):
    /// derived from the variant by strum, spelled as serde spells it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The kind with this snake_case name, or `None` for a name no kind has.
    pub fn from_name(name: &str) -> Option<MessageKind> {
        name.parse().ok()
    }
}

impl Message {
    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Handshake { .. } => MessageKind::Handshake,
            Message::HandshakeAccepted { .. } => MessageKind::HandshakeAccepted,
            Message::HandshakeRefused { .. } => MessageKind::HandshakeRefused,
            Message::Announce { .. } => MessageKind::Announce,
            Message::Probe { .. } => MessageKind::Probe,
            Message::ProbeAck { .. } => MessageKind::ProbeAck,
            Message::ProbeRequest { .. } => MessageKind::ProbeRequest,
            Message::ProbeRelay { .. } => MessageKind::ProbeRelay,
            Message::Leaving => MessageKind::Leaving,
            Message::InitRequest { .. } => MessageKind::InitRequest,
            Message::InitResponse { .. } => MessageKind::InitResponse,
            Message::StartGroups { .. } => MessageKind::StartGroups,
            Message::StartGroupsAck { .. } => MessageKind::StartGroupsAck,
            Message::StatusQuery { .. } => MessageKind::StatusQuery,
            Message::StatusReply { .. } => MessageKind::StatusReply,
            Message::CancelInit { .. } => MessageKind::CancelInit,
            Message::CancelAck { .. } => MessageKind::CancelAck,
            Message::CancelRefused { .. } => MessageKind::CancelRefused,
            Message::Raft {
                group: GroupKind::Cmg,
                ..
            } => MessageKind::RaftCmg,
            Message::Raft {
                group: GroupKind::Ms,
                ..
            } => MessageKind::RaftMs,
            Message::ReplicaEmpty { .. } => MessageKind::ReplicaEmpty,
            Message::ClusterState(_) => MessageKind::ClusterState,
            Message::JoinRequest { .. } => MessageKind::JoinRequest,
            Message::JoinResponse { .. } => MessageKind::JoinResponse,
            Message::JoinReady { .. } => MessageKind::JoinReady,
            Message::JoinReadyResponse { .. } => MessageKind::JoinReadyResponse,
            Message::NotLeader { .. } => MessageKind::NotLeader,
            Message::MsAddLearner { .. } => MessageKind::MsAddLearner,
            Message::MsReconfigure { .. } => MessageKind::MsReconfigure,
            Message::MsReconfigured { .. } => MessageKind::MsReconfigured,
            Message::AdminRequest { .. } => MessageKind::AdminRequest,
            Message::AdminResponse { .. } => MessageKind::AdminResponse,
            Message::AdminForward { .. } => MessageKind::AdminForward,
            Message::AdminForwardResult { .. } => MessageKind::AdminForwardResult,
            Message::CancelQuery { .. } => MessageKind::CancelQuery,
        }
    }
}

#[cfg(test)]
mod tests;
