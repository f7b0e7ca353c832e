//! Every error and refusal of the protocol, each kind its own variant.
//!
//! [`Error`] is the crate's error for bad input handed to its API (a malformed version, a corrupt
//! message or vault). The other enums are protocol outcomes that travel in messages and are
//! reported to users and to the test harness: [`InitError`] for the init command, [`Rejection`] for
//! a node that may not join, [`AdminError`] for admin commands, [`JoinReadyRefusal`] for a join
//! ready that the CMG does not accept.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

use crate::types::{Addr, ClusterTag, GroupKind, NodeName, ProductVersion, ProtocolVersion};

/// The crate's error: bad input given to its API.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// A product version that is not `major.minor.patch`.
    #[error("invalid product version {text:?}: expected major.minor.patch, e.g. 3.0.0")]
    InvalidVersion {
        /// The text that failed to parse.
        text: String,
    },
    /// A cluster id that is not 1 to 32 hexadecimal digits.
    #[error("invalid cluster id {text:?}: expected 1 to 32 hexadecimal digits")]
    InvalidClusterId {
        /// The text that failed to parse.
        text: String,
    },
    /// Bytes received from the network that do not decode as a message.
    #[error("corrupt message from {from}: {detail}")]
    CorruptMessage {
        /// Sender address as given by the network.
        from: String,
        /// What the decoder said.
        detail: String,
    },
    /// A Raft message of a group that does not decode.
    #[error("corrupt {group} raft message: {detail}")]
    CorruptRaftMessage {
        /// The group it was addressed to.
        group: GroupKind,
        /// What the decoder said.
        detail: String,
    },
    /// A committed log entry that does not decode: the replica cannot go on safely.
    #[error("corrupt {group} log entry at index {index}: {detail}")]
    CorruptEntry {
        /// The group whose log holds it.
        group: GroupKind,
        /// Log index.
        index: u64,
        /// What the decoder said.
        detail: String,
    },
    /// A vault whose contents contradict each other.
    #[error("corrupt vault: {detail}")]
    CorruptVault {
        /// What is wrong.
        detail: String,
    },
    /// A configuration value out of range.
    #[error("invalid configuration: {detail}")]
    InvalidConfig {
        /// What is wrong.
        detail: String,
    },
    /// raft-rs refused an operation.
    #[error("raft error in {group}: {detail}")]
    Raft {
        /// The group.
        group: GroupKind,
        /// raft-rs's message.
        detail: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One of the two node lists of an init command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeList {
    /// The CMG node list.
    Cmg,
    /// The Meta Storage node list.
    Ms,
}

impl fmt::Display for NodeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeList::Cmg => "CMG",
            NodeList::Ms => "Meta Storage",
        })
    }
}

/// Why an init command failed. The first six are refusals at once, before anything is sent;
/// `ParametersDiffer` is a refusal by a node that already holds another init (no cancel);
/// `NodeFailed` and `Timeout` come with a cancel of everything the init started.
///
/// Each kind's name is the snake_case of its variant ([`InitError::kind`]; every name in
/// `InitError::VARIANTS`, [`strum::VariantNames`]), derived once by strum: what scenario files
/// and JSON reports spell, and what docs/scenarios.md lists (a test checks it).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Error,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum InitError {
    /// The cluster name is empty or only whitespace.
    #[error("cluster name must not be blank")]
    BlankClusterName,
    /// A node name in one of the lists is empty or only whitespace.
    #[error("{list} node names must not contain blank names")]
    BlankNodeName {
        /// The list that holds it.
        list: NodeList,
    },
    /// A node name appears twice in one list.
    #[error("{list} node names must not contain duplicates: {name:?} appears twice")]
    DuplicateNodeName {
        /// The list.
        list: NodeList,
        /// The repeated name.
        name: NodeName,
    },
    /// A named node is not in the receiving node's physical topology.
    #[error("node {name:?} is not present in the physical topology")]
    NotInPhysicalTopology {
        /// The missing name.
        name: NodeName,
    },
    /// Two live members of the physical topology carry the same name.
    #[error(
        "two live members of the physical topology are named {name:?} (at {first} and {second})"
    )]
    DuplicateMember {
        /// The shared name.
        name: NodeName,
        /// One address.
        first: Addr,
        /// The other address.
        second: Addr,
    },
    /// A named node is initialized with another cluster's tag.
    #[error("node {name:?} is initialized with another cluster's tag {tag}{}", expected.as_ref().map(|t| format!(" (expected {t})")).unwrap_or_default())]
    ForeignTag {
        /// The node.
        name: NodeName,
        /// Its tag.
        tag: ClusterTag,
        /// The tag it conflicts with, when one is known.
        expected: Option<ClusterTag>,
    },
    /// A node already holds an init with other parameters. Nothing is cancelled.
    #[error("init refused by {node:?}: {detail}")]
    ParametersDiffer {
        /// The node that refused.
        node: NodeName,
        /// Which list or name differs, with both values.
        detail: String,
    },
    /// A named node failed to start its groups; the init was cancelled.
    #[error("init failed on node {node:?} and was cancelled: {detail}")]
    NodeFailed {
        /// The failing node.
        node: NodeName,
        /// What it reported.
        detail: String,
    },
    /// A named node did not answer in time; the init was cancelled.
    #[error("init timed out waiting for node {node:?} ({waiting_for}) and was cancelled")]
    Timeout {
        /// The node that did not answer.
        node: NodeName,
        /// What was awaited.
        waiting_for: String,
    },
    /// The receiving node has stopped (it was refused or rejected) and takes no commands.
    #[error("node has stopped: {reason}")]
    NodeStopped {
        /// Why it stopped.
        reason: String,
    },
    /// The receiving node already runs its maximum number of concurrent init commands.
    #[error("too many init commands in flight on this node (at most {max})")]
    Busy {
        /// The bound.
        max: usize,
    },
    /// A repeat of the command the receiving node's own cluster was created with, whose answer
    /// the node could not confirm in time (a named node did not answer): the node started
    /// nothing and cancels nothing (docs/protocol.md Step 2.1, "an initialized initiator answers
    /// a repeat with its own cluster"). Last of the variants, so that the others keep their
    /// encoding.
    #[error(
        "init repeats the command this node's cluster was created with, and its answer could not \
         be confirmed: node {node:?} did not answer ({waiting_for}); nothing was started or cancelled"
    )]
    RepeatUnconfirmed {
        /// The node that did not answer.
        node: NodeName,
        /// What was awaited.
        waiting_for: String,
    },
}

/// Where a node was turned away. Its name ([`RejectionStage::kind`]: `pre_init`, `join`; read
/// back by `str::parse`) is the snake_case of the variant, derived by strum; its `Display` is a
/// phrase for messages.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum RejectionStage {
    /// In the handshake, before entering the physical topology.
    PreInit,
    /// By the CMG's join validation.
    Join,
}

impl fmt::Display for RejectionStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectionStage::PreInit => "pre-init validation",
            RejectionStage::Join => "join validation",
        })
    }
}

/// A final refusal of a node: it stops and leaves the physical topology.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Rejection {
    /// Where it happened.
    pub stage: RejectionStage,
    /// The node that decided (the contacted node, or the CMG leader).
    pub by: NodeName,
    /// Why.
    pub reason: RejectionReason,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rejected by {} of {}: {}",
            self.stage, self.by, self.reason
        )
    }
}

/// Why a node may not enter the cluster.
///
/// Each reason's name is the snake_case of its variant ([`RejectionReason::kind`]; every name in
/// `RejectionReason::VARIANTS`, [`strum::VariantNames`]), derived once by strum: what scenario
/// files (`rejected:<reason>`) and reports spell, and what docs/scenarios.md lists (a test checks
/// it).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Error,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum RejectionReason {
    /// Protocol versions differ.
    #[error("protocol version {joiner} differs from {cluster}")]
    ProtocolMismatch {
        /// The joining node's.
        joiner: ProtocolVersion,
        /// The other side's.
        cluster: ProtocolVersion,
    },
    /// Product versions differ in major or minor.
    #[error("product version {joiner} is incompatible with {cluster} (major.minor must match)")]
    ProductMismatch {
        /// The joining node's.
        joiner: ProductVersion,
        /// The other side's.
        cluster: ProductVersion,
    },
    /// The joining node belongs to another cluster.
    #[error("cluster tag {joiner} differs from the cluster's {cluster}")]
    TagMismatch {
        /// The joining node's stored tag.
        joiner: ClusterTag,
        /// The cluster's tag.
        cluster: ClusterTag,
    },
    /// Pre-init: a member admitted earlier holds another tag (first admitted wins).
    #[error("member {member:?} admitted earlier holds tag {member_tag}, not {joiner}")]
    ConflictingTag {
        /// The joining node's tag.
        joiner: ClusterTag,
        /// The earlier member.
        member: NodeName,
        /// Its tag.
        member_tag: ClusterTag,
    },
    /// Join: the node saw a newer Meta Storage configuration than the cluster holds.
    #[error("Meta Storage version {joiner} is ahead of the cluster's {cluster}: admitting it would roll metadata back; an operator must decide")]
    MsVersionAhead {
        /// The node's stored version.
        joiner: u64,
        /// The cluster's version.
        cluster: u64,
    },
    /// Another live node holds this name (docs/spec.md §5, "names are unique among live nodes";
    /// Ignite's refusal of a duplicate node name, IGNITE-23934).
    #[error("node name {name:?} is held by a live node at {holder}; this node is at {joiner}")]
    DuplicateName {
        /// The name.
        name: NodeName,
        /// The address of the live node that holds it.
        holder: Addr,
        /// The refused node's address.
        joiner: Addr,
    },
}

/// Why the CMG refused a join ready. Not final: the node starts its join again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Error)]
pub enum JoinReadyRefusal {
    /// The node (this launch) is neither validated nor in the LT.
    #[error("node {name:?} has not passed the validation step")]
    NotValidated {
        /// The node.
        name: NodeName,
    },
}

/// Why an admin command failed.
///
/// Each kind's name is the snake_case of its variant ([`AdminError::kind`]; every name in
/// `AdminError::VARIANTS`, [`strum::VariantNames`]), derived once by strum: what scenario files
/// and JSON reports spell, and what docs/scenarios.md lists (a test checks it).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Error,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum AdminError {
    /// The receiving node has not joined a cluster, so it cannot reach the CMG.
    #[error("node has not joined a cluster")]
    NotJoined,
    /// The new Meta Storage node list is empty.
    #[error("Meta Storage node list must not be empty")]
    EmptyList,
    /// A blank name in the list.
    #[error("Meta Storage node names must not contain blank names")]
    BlankNodeName,
    /// A name appears twice.
    #[error("Meta Storage node names must not contain duplicates: {name:?} appears twice")]
    DuplicateNodeName {
        /// The repeated name.
        name: NodeName,
    },
    /// A named node is not in the logical topology.
    #[error("node {name:?} is not in the logical topology")]
    NotInLogicalTopology {
        /// The missing name.
        name: NodeName,
    },
    /// No answer from the CMG leader in time.
    #[error("no answer from the CMG leader in time")]
    Timeout,
    /// The receiving node has stopped.
    #[error("node has stopped")]
    NodeStopped,
}

impl InitError {
    /// The kind's snake_case name, as scenario files and JSON reports spell it.
    pub fn kind(&self) -> &'static str {
        self.into()
    }
}

impl RejectionReason {
    /// The reason's snake_case name.
    pub fn kind(&self) -> &'static str {
        self.into()
    }

    /// True when the reason is consistent with its own facts (a rejection that names equal tags,
    /// or a version that is not ahead, is a false rejection).
    pub fn is_consistent(&self) -> bool {
        match self {
            RejectionReason::ProtocolMismatch { joiner, cluster } => joiner != cluster,
            RejectionReason::ProductMismatch { joiner, cluster } => {
                !joiner.compatible_with(cluster)
            }
            RejectionReason::TagMismatch { joiner, cluster } => joiner != cluster,
            RejectionReason::ConflictingTag {
                joiner, member_tag, ..
            } => joiner != member_tag,
            RejectionReason::MsVersionAhead { joiner, cluster } => joiner > cluster,
            RejectionReason::DuplicateName { holder, joiner, .. } => holder != joiner,
        }
    }
}

impl RejectionStage {
    /// The stage's snake_case name.
    pub fn kind(&self) -> &'static str {
        self.into()
    }
}

impl AdminError {
    /// The kind's snake_case name.
    pub fn kind(&self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests;
