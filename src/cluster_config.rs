//! The cluster configuration: a cluster's tag, its two voter lists and its Meta Storage version —
//! the one shape that the CMG's cluster state, a join acceptance, an init plan, a restored cluster
//! and a node's vault ([`LocalState`](crate::vault::LocalState)) all carry.
//!
//! **Wire form.** bincode writes a nested struct's fields inline, in declaration order, with no
//! marker of its own. A struct that holds a `ClusterConfig` where it used to hold these four
//! fields in this order (the init plan, the vault's local state) therefore encodes exactly as it
//! did. Structs whose older field order interleaves other fields (the CMG's cluster state, the
//! join acceptance) keep that order through a private wire struct of their own; the tests of each
//! pin the bytes. Log entries, vault records, messages and the `ReplicaState` digest (hashed into
//! the trace) all depend on these bytes: never reorder the fields.

use serde::{Deserialize, Serialize};

use crate::types::{ClusterTag, NodeName};

/// A cluster's configuration: who it is, who votes in its groups, and which Meta Storage version
/// it is at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// The cluster's tag. Never changes once committed.
    pub tag: ClusterTag,
    /// CMG voters, sorted.
    pub cmg_nodes: Vec<NodeName>,
    /// Meta Storage voters, sorted (the current list: an admin reconfiguration changes it).
    pub ms_nodes: Vec<NodeName>,
    /// Meta Storage version: 1 at init, +1 at every committed change of the Meta Storage list
    /// (a node's stored one, in its vault, never decreases).
    pub ms_version: u64,
}

impl ClusterConfig {
    /// True when `name` is a voter of the CMG or of the Meta Storage.
    pub fn is_voter(&self, name: &str) -> bool {
        self.cmg_nodes
            .iter()
            .chain(&self.ms_nodes)
            .any(|n| n == name)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::ClusterId;

    /// A configuration for tests: cluster `c/1`, the same CMG and Meta Storage voters, version 1.
    pub(crate) fn config(voters: &[&str]) -> ClusterConfig {
        let voters: Vec<NodeName> = voters.iter().map(|s| s.to_string()).collect();
        ClusterConfig {
            tag: ClusterTag {
                name: "c".into(),
                id: ClusterId(1),
            },
            cmg_nodes: voters.clone(),
            ms_nodes: voters,
            ms_version: 1,
        }
    }

    #[test]
    fn voters_of_either_group_count() {
        let mut c = config(&["a", "b"]);
        c.ms_nodes = vec!["d".into()];
        assert!(c.is_voter("a") && c.is_voter("d"));
        assert!(!c.is_voter("e"));
    }

    #[test]
    fn a_nested_configuration_encodes_as_its_fields_inline() {
        #[derive(Serialize)]
        struct Flat {
            before: u64,
            tag: ClusterTag,
            cmg_nodes: Vec<NodeName>,
            ms_nodes: Vec<NodeName>,
            ms_version: u64,
            after: u8,
        }
        #[derive(Serialize)]
        struct Nested {
            before: u64,
            config: ClusterConfig,
            after: u8,
        }
        let c = config(&["a", "b"]);
        let flat = Flat {
            before: 7,
            tag: c.tag.clone(),
            cmg_nodes: c.cmg_nodes.clone(),
            ms_nodes: c.ms_nodes.clone(),
            ms_version: c.ms_version,
            after: 9,
        };
        let nested = Nested {
            before: 7,
            config: c,
            after: 9,
        };
        assert_eq!(crate::codec::encode(&flat), crate::codec::encode(&nested));
    }
}
