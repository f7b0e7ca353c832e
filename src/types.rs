//! Identities and versions: node names, addresses, launch ids, product and protocol versions,
//! cluster tags, and the ids of Raft groups.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A node's unique, human-chosen name (for example `n1`). Logical identity: the CMG and the logical
/// topology know nodes by name.
pub type NodeName = String;

/// A node's name shared rather than copied: the sender's name on every Raft message, which a
/// copy per message made a tenth of a run's allocations (issue 13). Serialized as a string,
/// exactly as a [`NodeName`] (serde's `rc` feature), so the wire bytes are the same.
pub type SharedName = std::sync::Arc<str>;

/// A network address (IPv4 and port). Physical identity: the physical topology knows nodes by
/// address, and every message is sent to one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Addr {
    /// IPv4 address octets.
    pub ip: [u8; 4],
    /// Port.
    pub port: u16,
}

impl Addr {
    /// Builds an address from its parts.
    pub const fn new(ip: [u8; 4], port: u16) -> Addr {
        Addr { ip, port }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.ip;
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Identifies one start of one node: a new launch id is drawn at every start, so a restarted node
/// is told apart from its previous instance.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LaunchId(pub u64);

impl fmt::Display for LaunchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for LaunchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{:08x}", self.0 >> 32)
    }
}

/// A product version, `major.minor.patch`. Two nodes are compatible when major and minor agree.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProductVersion {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Patch version (ignored by compatibility checks).
    pub patch: u16,
}

impl ProductVersion {
    /// Builds a version.
    pub const fn new(major: u16, minor: u16, patch: u16) -> ProductVersion {
        ProductVersion {
            major,
            minor,
            patch,
        }
    }

    /// True when the two versions may be in one cluster: same major and minor.
    pub fn compatible_with(&self, other: &ProductVersion) -> bool {
        self.major == other.major && self.minor == other.minor
    }
}

impl Default for ProductVersion {
    fn default() -> Self {
        ProductVersion::new(3, 0, 0)
    }
}

impl fmt::Display for ProductVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl fmt::Debug for ProductVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ProductVersion {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidVersion {
            text: s.to_string(),
        };
        let mut parts = s.trim().split('.');
        let mut next = || -> Result<u16, Error> {
            parts
                .next()
                .ok_or_else(bad)?
                .parse::<u16>()
                .map_err(|_| bad())
        };
        let version = ProductVersion::new(next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(version)
    }
}

/// The version of the join protocol a node speaks. Must be equal for two nodes to talk.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Debug)]
pub struct ProtocolVersion(pub u32);

impl Default for ProtocolVersion {
    fn default() -> Self {
        ProtocolVersion(1)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The unique, generated part of a cluster tag: 128 bits drawn from the seeded RNG.
///
/// Encoded as the 16-byte integer in binary formats (bincode: the wire, the vault, the trace
/// hash) and as its 32 hex digits (as `Display` writes it) in human-readable ones (JSON, TOML),
/// where a 128-bit number would not survive a reader such as JavaScript.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterId(pub u128);

impl Serialize for ClusterId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_u128(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for ClusterId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(serde::de::Error::custom)
        } else {
            u128::deserialize(deserializer).map(ClusterId)
        }
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", (self.0 >> 96) as u32)
    }
}

impl FromStr for ClusterId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let text = s.trim();
        let valid = !text.is_empty() && text.len() <= 32;
        u128::from_str_radix(text, 16)
            .ok()
            .filter(|_| valid)
            .map(ClusterId)
            .ok_or_else(|| Error::InvalidClusterId {
                text: s.to_string(),
            })
    }
}

/// Identifies a cluster: the human-readable name given at init plus the unique generated id.
/// Two tags are equal only when both parts are.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClusterTag {
    /// Human-readable name, given by the user at init.
    pub name: String,
    /// Unique id, drawn by the node that received the init.
    pub id: ClusterId,
}

impl fmt::Display for ClusterTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.id)
    }
}

impl fmt::Debug for ClusterTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:?}", self.name, self.id)
    }
}

/// What a node tells others about itself: who it is, where, and what it speaks.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Debug)]
pub struct NodeInfo {
    /// Unique name.
    pub name: NodeName,
    /// Network address.
    pub addr: Addr,
    /// This start's launch id.
    pub launch: LaunchId,
    /// Join protocol version.
    pub protocol: ProtocolVersion,
    /// Product version.
    pub product: ProductVersion,
}

/// The two Raft groups of the protocol.
///
/// Its names (`cmg`, `ms`) come from one table, strum's derives: `Display`, `str::parse`,
/// `<&str>::from` and `GroupKind::VARIANTS`. Its serde and bincode encodings are serde's own
/// (bincode writes the variant index, hashed into traces): unchanged.
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
#[strum(serialize_all = "snake_case")]
pub enum GroupKind {
    /// Cluster Management Group: holds the cluster state, the validated set and the LT.
    Cmg,
    /// Meta Storage: holds the cluster metadata, here its own configuration and version.
    Ms,
}

/// Identifies one incarnation of a Raft group: the id of the init attempt that created it.
/// Messages of another incarnation (for example of a group destroyed by a cancelled init) are
/// ignored, so a re-initialized group never sees a stale log entry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InstanceId(pub u64);

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "I{:08x}", self.0 >> 32)
    }
}

/// The Raft id of a node, derived from its name (FNV-1a, 64 bits, of the name's UTF-8 bytes,
/// [`crate::hash`]; never zero: a zero hash becomes 1), so that every node computes the same id
/// for a name without coordination.
pub fn raft_id(name: &str) -> u64 {
    match crate::hash::fnv1a_64(name.as_bytes()) {
        0 => 1,
        hash => hash,
    }
}

/// Identifies one user request (init or admin command) so its answer can be matched.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Debug)]
pub struct RequestId(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_kinds_are_named_by_one_table_and_encoded_by_index() {
        use strum::VariantNames;
        assert_eq!(GroupKind::VARIANTS, ["cmg", "ms"]);
        assert_eq!(GroupKind::Ms.to_string(), "ms");
        assert_eq!("cmg".parse::<GroupKind>(), Ok(GroupKind::Cmg));
        assert_eq!(bincode::serialize(&GroupKind::Ms).unwrap(), [1, 0, 0, 0]);
    }

    #[test]
    fn product_version_parses_and_compares() {
        let v: ProductVersion = "3.1.4".parse().unwrap();
        assert_eq!(v, ProductVersion::new(3, 1, 4));
        assert!(v.compatible_with(&ProductVersion::new(3, 1, 0)));
        assert!(!v.compatible_with(&ProductVersion::new(3, 2, 4)));
        assert!(!v.compatible_with(&ProductVersion::new(4, 1, 4)));
        for bad in ["", "3", "3.1", "3.1.4.1", "a.b.c", "3.1.-1", "70000.0.0"] {
            assert!(bad.parse::<ProductVersion>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn cluster_id_parses_hex() {
        assert_eq!("ff".parse::<ClusterId>().unwrap(), ClusterId(255));
        assert!("".parse::<ClusterId>().is_err());
        assert!("xyz".parse::<ClusterId>().is_err());
        assert!("1".repeat(33).parse::<ClusterId>().is_err());
    }

    #[test]
    fn cluster_id_is_sixteen_bytes_in_bincode_and_hex_in_json() {
        let id = ClusterId(u128::MAX - 1);
        let bytes = bincode::serialize(&id).unwrap();
        assert_eq!(bytes, (u128::MAX - 1).to_le_bytes());
        assert_eq!(bincode::deserialize::<ClusterId>(&bytes).unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(json.len(), 34);
        assert_eq!(serde_json::from_str::<ClusterId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<ClusterId>("\"xyz\"").is_err());
    }

    #[test]
    fn raft_ids_are_stable_and_nonzero() {
        assert_eq!(raft_id("n1"), raft_id("n1"));
        assert_ne!(raft_id("n1"), raft_id("n2"));
        assert_ne!(raft_id(""), 0);
        // Raft ids are in every vault: they never move.
        assert_eq!(raft_id("n1"), 0x08b3_7b07_b558_d4c0);
    }
}
