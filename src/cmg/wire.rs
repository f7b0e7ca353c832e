//! The pinned wire forms of [`ClusterState`](super::ClusterState) and
//! [`JoinAccept`](super::JoinAccept): their fields in the order they were encoded before the
//! [`ClusterConfig`] was drawn out of them (decoded into an owned form, encoded from a borrowed
//! one). bincode encodes a struct as its fields in order, so
//! these keep log entries, `JoinResponse` messages and the CMG's `ReplicaState` digest (hashed
//! into the trace) byte for byte as they were. Never reorder them.

use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

use crate::cluster_config::ClusterConfig;
use crate::types::{Addr, ClusterTag, InstanceId, NodeName, ProductVersion, ProtocolVersion};

/// [`super::ClusterState`] as encoded.
#[derive(Deserialize)]
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
#[derive(Deserialize)]
pub struct JoinAccept {
    tag: ClusterTag,
    cmg_nodes: Vec<NodeName>,
    ms_nodes: Vec<NodeName>,
    initial_ms_nodes: Vec<NodeName>,
    ms_version: u64,
    instance: InstanceId,
    addrs: BTreeMap<NodeName, Addr>,
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

/// [`super::ClusterState`] as encoded, borrowed: encoding it copies nothing (a `serde(into)`
/// copied the whole state at every `ReplicaState` digest, 3% of a demo run).
#[derive(Serialize)]
#[serde(rename = "ClusterState")]
struct ClusterStateRef<'a> {
    tag: &'a ClusterTag,
    product: &'a ProductVersion,
    protocol: &'a ProtocolVersion,
    cmg_nodes: &'a [NodeName],
    ms_nodes: &'a [NodeName],
    initial_ms_nodes: &'a [NodeName],
    ms_version: u64,
    instance: InstanceId,
    addrs: &'a BTreeMap<NodeName, Addr>,
}

impl Serialize for super::ClusterState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ClusterStateRef {
            tag: &self.config.tag,
            product: &self.product,
            protocol: &self.protocol,
            cmg_nodes: &self.config.cmg_nodes,
            ms_nodes: &self.config.ms_nodes,
            initial_ms_nodes: &self.initial_ms_nodes,
            ms_version: self.config.ms_version,
            instance: self.instance,
            addrs: &self.addrs,
        }
        .serialize(serializer)
    }
}

/// [`super::JoinAccept`] as encoded, borrowed (see [`ClusterStateRef`]).
#[derive(Serialize)]
#[serde(rename = "JoinAccept")]
struct JoinAcceptRef<'a> {
    tag: &'a ClusterTag,
    cmg_nodes: &'a [NodeName],
    ms_nodes: &'a [NodeName],
    initial_ms_nodes: &'a [NodeName],
    ms_version: u64,
    instance: InstanceId,
    addrs: &'a BTreeMap<NodeName, Addr>,
}

impl Serialize for super::JoinAccept {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        JoinAcceptRef {
            tag: &self.config.tag,
            cmg_nodes: &self.config.cmg_nodes,
            ms_nodes: &self.config.ms_nodes,
            initial_ms_nodes: &self.initial_ms_nodes,
            ms_version: self.config.ms_version,
            instance: self.instance,
            addrs: &self.addrs,
        }
        .serialize(serializer)
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
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json, serde_json::to_value(&original).unwrap(), "JSON");
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
        let json = serde_json::to_value(&accept).unwrap();
        assert_eq!(json, serde_json::to_value(&original).unwrap(), "JSON");
        let back: super::super::JoinAccept = crate::codec::decode(&bytes).unwrap();
        assert_eq!(back, accept);
    }
}
