//! The pinned wire forms of [`ClusterState`](super::ClusterState) and
//! [`JoinAccept`](super::JoinAccept): their fields in the order they were encoded before the
//! [`ClusterConfig`] was drawn out of them. bincode encodes a struct as its fields in order, so
//! these keep log entries, `JoinResponse` messages and the CMG's `ReplicaState` digest (hashed
//! into the trace) byte for byte as they were. Never reorder them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::cluster_config::ClusterConfig;
use crate::types::{Addr, ClusterTag, InstanceId, NodeName, ProductVersion, ProtocolVersion};

/// [`super::ClusterState`] as encoded.
#[derive(Clone, Serialize, Deserialize)]
pub struct ClusterState {
    tag: ClusterTag,
    product: ProductVersion,
    protocol: ProtocolVersion,
    cmg_nodes: Vec<NodeName>,
    ms_nodes: Vec<NodeName>,
    initial_ms_nodes: Vec<NodeName>,
    ms_version: u64,
    instance: InstanceId,
    addrs: BTreeMap<NodeName, Addr>,
}

impl From<super::ClusterState> for ClusterState {
    fn from(s: super::ClusterState) -> Self {
        ClusterState {
            tag: s.config.tag,
            product: s.product,
            protocol: s.protocol,
            cmg_nodes: s.config.cmg_nodes,
            ms_nodes: s.config.ms_nodes,
            initial_ms_nodes: s.initial_ms_nodes,
            ms_version: s.config.ms_version,
            instance: s.instance,
            addrs: s.addrs,
        }
    }
}

impl From<ClusterState> for super::ClusterState {
    fn from(w: ClusterState) -> Self {
        super::ClusterState {
            config: ClusterConfig {
                tag: w.tag,
                cmg_nodes: w.cmg_nodes,
                ms_nodes: w.ms_nodes,
                ms_version: w.ms_version,
            },
            product: w.product,
            protocol: w.protocol,
            initial_ms_nodes: w.initial_ms_nodes,
            instance: w.instance,
            addrs: w.addrs,
        }
    }
}

/// [`super::JoinAccept`] as encoded.
#[derive(Clone, Serialize, Deserialize)]
pub struct JoinAccept {
    tag: ClusterTag,
    cmg_nodes: Vec<NodeName>,
    ms_nodes: Vec<NodeName>,
    initial_ms_nodes: Vec<NodeName>,
    ms_version: u64,
    instance: InstanceId,
    addrs: BTreeMap<NodeName, Addr>,
}

impl From<super::JoinAccept> for JoinAccept {
    fn from(a: super::JoinAccept) -> Self {
        JoinAccept {
            tag: a.config.tag,
            cmg_nodes: a.config.cmg_nodes,
            ms_nodes: a.config.ms_nodes,
            initial_ms_nodes: a.initial_ms_nodes,
            ms_version: a.config.ms_version,
            instance: a.instance,
            addrs: a.addrs,
        }
    }
}

impl From<JoinAccept> for super::JoinAccept {
    fn from(w: JoinAccept) -> Self {
        super::JoinAccept {
            config: ClusterConfig {
                tag: w.tag,
                cmg_nodes: w.cmg_nodes,
                ms_nodes: w.ms_nodes,
                ms_version: w.ms_version,
            },
            initial_ms_nodes: w.initial_ms_nodes,
            instance: w.instance,
            addrs: w.addrs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::types::ClusterId;

    fn config() -> ClusterConfig {
        ClusterConfig {
            tag: ClusterTag {
                name: "c".into(),
                id: ClusterId(0xabcdef),
            },
            cmg_nodes: vec!["a".into(), "b".into()],
            ms_nodes: vec!["b".into(), "d".into()],
            ms_version: 3,
        }
    }

    fn addrs() -> BTreeMap<NodeName, Addr> {
        [("a".to_string(), Addr::new([10, 0, 0, 1], 7000))].into()
    }

    #[test]
    fn the_cluster_state_encodes_in_its_original_field_order() {
        #[derive(Serialize)]
        struct Original {
            tag: ClusterTag,
            product: ProductVersion,
            protocol: ProtocolVersion,
            cmg_nodes: Vec<NodeName>,
            ms_nodes: Vec<NodeName>,
            initial_ms_nodes: Vec<NodeName>,
            ms_version: u64,
            instance: InstanceId,
            addrs: BTreeMap<NodeName, Addr>,
        }
        let c = config();
        let state = super::super::ClusterState {
            config: c.clone(),
            product: ProductVersion::new(3, 1, 2),
            protocol: ProtocolVersion(4),
            initial_ms_nodes: vec!["a".into()],
            instance: InstanceId(77),
            addrs: addrs(),
        };
        let original = Original {
            tag: c.tag,
            product: ProductVersion::new(3, 1, 2),
            protocol: ProtocolVersion(4),
            cmg_nodes: c.cmg_nodes,
            ms_nodes: c.ms_nodes,
            initial_ms_nodes: vec!["a".into()],
            ms_version: 3,
            instance: InstanceId(77),
            addrs: addrs(),
        };
        let bytes = encode(&state);
        assert_eq!(bytes, encode(&original));
        let back: super::super::ClusterState = crate::codec::decode(&bytes).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn the_join_acceptance_encodes_in_its_original_field_order() {
        #[derive(Serialize)]
        struct Original {
            tag: ClusterTag,
            cmg_nodes: Vec<NodeName>,
            ms_nodes: Vec<NodeName>,
            initial_ms_nodes: Vec<NodeName>,
            ms_version: u64,
            instance: InstanceId,
            addrs: BTreeMap<NodeName, Addr>,
        }
        let c = config();
        let accept = super::super::JoinAccept {
            config: c.clone(),
            initial_ms_nodes: vec!["a".into()],
            instance: InstanceId(77),
            addrs: addrs(),
        };
        let original = Original {
            tag: c.tag,
            cmg_nodes: c.cmg_nodes,
            ms_nodes: c.ms_nodes,
            initial_ms_nodes: vec!["a".into()],
            ms_version: 3,
            instance: InstanceId(77),
            addrs: addrs(),
        };
        let bytes = encode(&accept);
        assert_eq!(bytes, encode(&original));
        let back: super::super::JoinAccept = crate::codec::decode(&bytes).unwrap();
        assert_eq!(back, accept);
    }
}
