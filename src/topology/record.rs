//! A member record of the physical topology: what a node says about itself ([`Identity`]),
//! how it was admitted ([`MemberRecord`]), and the digest a view digest sums
//! ([`record_digest`]).

use serde::{Deserialize, Serialize};

use crate::init::InitCommand;
use crate::types::{Addr, ClusterTag, InstanceId, LaunchId, NodeInfo, NodeName};

/// What a node says about itself in a handshake or probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Name, address, launch, versions.
    pub info: NodeInfo,
    /// Its cluster tag, if it is initialized.
    pub tag: Option<ClusterTag>,
    /// The init command its cluster was created with, if it is initialized.
    pub init: Option<InitCommand>,
    /// The incarnation of the CMG (else Meta Storage) replica its vault hosts, if any: a named
    /// node of an init that is not initialized yet still holds that group's replica, and its
    /// group's peers know it by it (docs/protocol.md, "Restart at another address": a moved
    /// voter is known by its replica).
    #[serde(default)]
    pub replica_of: Option<InstanceId>,
    /// How many times this launch has changed what it says about itself (SWIM's incarnation
    /// number): 1 at its first handshake, one more at every handshake and every change of the
    /// fields above. Of two records of one launch the one with the higher incarnation is the
    /// newer; gossip never brings an older identity back (docs/protocol.md, "identities carry
    /// an incarnation"; issue 13).
    #[serde(default)]
    pub incarnation: u64,
}

/// A member of the physical topology: its identity and how it was admitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// The member as last heard of.
    pub identity: Identity,
    /// The tag it presented when it was admitted (fixed for this launch).
    pub admitted_tag: Option<ClusterTag>,
    /// When it was admitted (milliseconds of the admitting node's clock).
    pub admitted_at_ms: u64,
    /// Who admitted it (itself, for a node that formed its own topology).
    pub admitted_by: NodeName,
    /// The admitter's tag at admission (`None`: an empty node admitted it).
    pub admitter_tag: Option<ClusterTag>,
}

impl MemberRecord {
    /// An initialized node that an empty node let in: the only kind of member that can conflict
    /// with another one (the race "initialized nodes of different clusters entering an empty
    /// cluster"). A node that admitted itself, or that an initialized node admitted (with the
    /// same tag, by pre-init), is not such a member.
    pub(super) fn entered_empty_topology(&self) -> bool {
        self.admitted_tag.is_some()
            && self.admitter_tag.is_none()
            && self.admitted_by != self.identity.info.name
    }

    pub(super) fn admission_key(&self) -> (u64, &str) {
        (self.admitted_at_ms, self.identity.info.name.as_str())
    }

    /// The member's address.
    pub fn addr(&self) -> Addr {
        self.identity.info.addr
    }

    /// The member's launch.
    pub fn launch(&self) -> LaunchId {
        self.identity.info.launch
    }
}

/// A record's digest, as a view digest sums it: FNV-1a of its wire encoding
/// (`crate::codec::digest`), mixed (SplitMix64's finalizer) so that a sum of digests has no
/// structure an accidental cancellation could follow.
pub(crate) fn record_digest(record: &MemberRecord) -> u64 {
    let mut z = crate::codec::digest(record);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
