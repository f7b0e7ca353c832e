//! The init command and what the protocol says of it: what the user gives ([`InitParams`]), the
//! command after validation and defaulting that identifies an init ([`InitCommand`]), the attempt
//! as sent to the named nodes ([`InitPlan`]), the cluster a node is known to hold
//! ([`HeldCluster`]), and what the CMG decided of an init ([`InitFate`]). Pure data with the
//! comparisons the protocol makes between them.
//!
//! A type module of its own, below everything that carries these types (the cluster
//! configuration, the CMG, the vault, the Raft groups, the events) and the init sub-protocol
//! (`src/init/`) that acts on them, so that none of those imports another through them
//! (docs/architecture.md, "imports").

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::cluster_config::ClusterConfig;
use crate::types::{Addr, ClusterTag, InstanceId, NodeName, ProductVersion, ProtocolVersion};

/// The init command's parameters, as the user gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InitParams {
    /// Human-readable cluster name.
    pub cluster_name: String,
    /// Meta Storage node names (may be empty: see defaulting).
    pub ms_nodes: Vec<NodeName>,
    /// CMG node names (may be empty: see defaulting).
    pub cmg_nodes: Vec<NodeName>,
}

/// An init attempt as sent to the named nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitPlan {
    /// The attempt's id, also the incarnation of the groups it creates.
    pub init: InstanceId,
    /// The configuration the CMG commits if this attempt wins: its tag, the CMG and Meta
    /// Storage voters (sorted), and the Meta Storage version at init (1; higher only for vaults
    /// restored by a harness). Encoded inline, as its four fields were before it.
    pub config: ClusterConfig,
    /// The initiator's product version.
    pub product: ProductVersion,
    /// The initiator's protocol version.
    pub protocol: ProtocolVersion,
    /// The initiator.
    pub initiator: NodeName,
    /// Addresses of the named nodes.
    pub addrs: BTreeMap<NodeName, Addr>,
}

/// The init command as given at creation: the parameters after validation and defaulting. An
/// init is identified by it (docs/spec.md §5): a node keeps the command its cluster was created
/// with — in its init plan, in the CMG's cluster state, and in its vault ([`LocalState::init`])
/// — and every node compares a requested init with that one thing, never with the current Meta
/// Storage list.
///
/// [`LocalState::init`]: crate::vault::LocalState::init
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InitCommand {
    /// Cluster name, trimmed.
    pub cluster_name: String,
    /// CMG voters, sorted.
    pub cmg_nodes: Vec<NodeName>,
    /// Meta Storage voters at init, sorted.
    pub ms_nodes: Vec<NodeName>,
}

impl InitCommand {
    /// The init command of a cluster with configuration `config` whose Meta Storage voters at
    /// init were `initial_ms_nodes` (an init is identified by its command, docs/spec.md §5).
    pub fn of_cluster(config: &ClusterConfig, initial_ms_nodes: &[NodeName]) -> InitCommand {
        InitCommand {
            cluster_name: config.tag.name.clone(),
            cmg_nodes: config.cmg_nodes.clone(),
            ms_nodes: initial_ms_nodes.to_vec(),
        }
    }

    /// What differs between this (requested) command and a `held` one: every differing part, in
    /// the order CMG list, Meta Storage list, cluster name, each with the requested and the held
    /// value. `None` when they are the same command.
    pub fn difference(&self, held: &InitCommand) -> Option<String> {
        let mut parts = Vec::new();
        if self.cmg_nodes != held.cmg_nodes {
            parts.push(format!(
                "CMG node names do not match: requested {:?}, held {:?}",
                self.cmg_nodes, held.cmg_nodes
            ));
        }
        if self.ms_nodes != held.ms_nodes {
            parts.push(format!(
                "Meta Storage node names do not match: requested {:?}, held {:?}",
                self.ms_nodes, held.ms_nodes
            ));
        }
        if self.cluster_name != held.cluster_name {
            parts.push(format!(
                "cluster names do not match: requested {:?}, held {:?}",
                self.cluster_name, held.cluster_name
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// True when this command shares nothing with `held`: another cluster name, another CMG list
    /// and another Meta Storage list.
    /// A named node holding such a cluster belongs to another cluster (`ForeignTag`); one that
    /// shares the name or the lists is compared with (`ParametersDiffer`).
    pub fn unrelated_to(&self, held: &InitCommand) -> bool {
        self.cluster_name != held.cluster_name
            && self.cmg_nodes != held.cmg_nodes
            && self.ms_nodes != held.ms_nodes
    }
}

impl InitPlan {
    /// The init command this attempt carries.
    pub fn command(&self) -> InitCommand {
        InitCommand::of_cluster(&self.config, &self.config.ms_nodes)
    }
}

/// What became of an init, decided once by the CMG log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum InitFate {
    /// An initiator recorded, before answering, that it answers a user with the tag: the cluster
    /// exists for good; cancels are refused.
    Answered,
    /// A cancel was committed before any answer: the replicas destroy the incarnation.
    Cancelled,
}

/// The cluster a node is known to hold: its tag and, when known, the init command it was
/// created with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCluster {
    /// The cluster's tag.
    pub tag: ClusterTag,
    /// The init command it was created with (`None`: not said).
    pub init: Option<InitCommand>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(name: &str, cmg: &[&str], ms: &[&str]) -> InitCommand {
        InitCommand {
            cluster_name: name.into(),
            cmg_nodes: cmg.iter().map(|s| s.to_string()).collect(),
            ms_nodes: ms.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_difference_names_every_differing_part_requested_and_held() {
        let held = command("c1", &["a", "b"], &["a", "b"]);
        assert_eq!(held.difference(&held.clone()), None);
        assert_eq!(
            command("c2", &["a", "b"], &["a", "b"]).difference(&held),
            Some(r#"cluster names do not match: requested "c2", held "c1""#.into())
        );
        assert_eq!(
            command("c1", &["a", "c"], &["a", "b"]).difference(&held),
            Some(r#"CMG node names do not match: requested ["a", "c"], held ["a", "b"]"#.into())
        );
        let ms_only = command("c1", &["a", "b"], &["a", "c"])
            .difference(&held)
            .unwrap();
        assert!(
            ms_only.starts_with("Meta Storage node names do not match"),
            "{ms_only}"
        );
        let all = command("c2", &["c"], &["c"]).difference(&held).unwrap();
        assert_eq!(all.split("; ").count(), 3, "{all}");
        assert!(command("c2", &["c"], &["c"]).unrelated_to(&held));
        assert!(!command("c2", &["a", "b"], &["c"]).unrelated_to(&held));
        assert!(!command("c1", &["c"], &["c"]).unrelated_to(&held));
    }

    #[test]
    fn the_init_command_of_a_cluster_takes_the_initial_ms_list() {
        let mut c = crate::cluster_config::tests::config(&["a", "b"]);
        c.ms_nodes = vec!["d".into()];
        let command = InitCommand::of_cluster(&c, &["a".to_string()]);
        assert_eq!(command.cluster_name, "c");
        assert_eq!(command.cmg_nodes, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(command.ms_nodes, vec!["a".to_string()]);
    }
}
