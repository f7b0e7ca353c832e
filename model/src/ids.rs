//! The model's own names for the protocol's identities (docs/spec.md §1, "Node identity and
//! durable state"). Nothing here is shared with the protocol crate: the model is written from the
//! spec, so that it can disagree with the code.

use std::fmt;

/// A node's name, unique among live nodes (spec §5).
pub type Name = String;

/// A launch id: new at every start of a node (spec §1).
pub type Launch = u64;

/// An init attempt, which is also the incarnation of the CMG and MS groups it creates.
pub type Init = u64;

/// A cluster tag: the human-readable name given at init and the unique id drawn for it (spec §1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// The cluster name given by the user.
    pub name: String,
    /// The 128-bit id drawn by the node that received the init.
    pub id: u128,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:08x}", self.name, (self.id >> 96) as u32)
    }
}

/// What an initialized node's vault holds of its cluster: the tag and the Meta Storage version it
/// last saw (spec §1). `ms_version` is `None` between the acceptance that stored the tag and the
/// first version stored.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stored {
    /// The cluster tag.
    pub tag: Tag,
    /// The Meta Storage version last stored, if any.
    pub ms_version: Option<u64>,
}

/// A Raft group of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// The Cluster Management Group.
    Cmg,
    /// The Meta Storage.
    Ms,
}

/// The fate of an init, decided once by the CMG log (the first applied wins): answered to a user,
/// or cancelled (spec step 2 and §5, "no cancel destroys a cluster that a user was told exists").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fate {
    /// A user is told the cluster exists: cancels are refused from now on.
    Answered,
    /// The init was cancelled before any answer: its state is cleared everywhere.
    Cancelled,
}

/// Why the CMG rejected a join (spec step 4): the two reasons the model judges, and the others.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JoinRejection {
    /// The joiner's stored tag differs from the cluster's.
    TagMismatch,
    /// The joiner's stored Meta Storage version is ahead of the cluster's.
    MsVersionAhead,
    /// Another reason (versions, a duplicate name, ...), by name: the model does not judge it.
    Other(String),
}
