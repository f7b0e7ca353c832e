//! Vaults of an existing cluster, built without running it: how a harness starts a scenario with
//! initialized nodes (scenarios 3 and 4 of the IEP need nodes that already hold a tag and a Meta
//! Storage version).
//!
//! Every node of one [`RestoredCluster`] gets identical group logs, as if the cluster had been
//! initialized and then stopped: the CMG log holds the cluster-init command with the cluster's
//! Meta Storage version, the Meta Storage log its configuration. Each node may carry its own
//! stored Meta Storage version (X), which is how a node ahead of or behind the cluster (Y) is made.

use std::collections::BTreeMap;

use crate::cluster_config::ClusterConfig;
use crate::cmg::CmgCommand;
use crate::codec::encode;
use crate::init::InitPlan;
use crate::metastorage::MsCommand;
use crate::raft_group::RaftGroup;
use crate::types::{Addr, InstanceId, NodeName, ProductVersion, ProtocolVersion};
use crate::vault::{LocalState, Vault};

/// A cluster that existed before the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoredCluster {
    /// Its configuration: tag, CMG and Meta Storage voters (in any order: sorted for the
    /// vaults), and the cluster's Meta Storage version (Y), as its CMG holds it.
    pub config: ClusterConfig,
    /// Product version it was initialized with.
    pub product: ProductVersion,
    /// Protocol version it was initialized with.
    pub protocol: ProtocolVersion,
    /// Addresses of its CMG and Meta Storage nodes.
    pub addrs: BTreeMap<NodeName, Addr>,
}

impl RestoredCluster {
    /// The incarnation id of its groups, derived from the tag so that every node agrees.
    pub fn instance(&self) -> InstanceId {
        let id = self.config.tag.id.0;
        InstanceId((id as u64) ^ ((id >> 64) as u64) | 1)
    }

    fn plan(&self) -> InitPlan {
        let mut config = self.config.clone();
        config.cmg_nodes.sort();
        config.ms_nodes.sort();
        InitPlan {
            init: self.instance(),
            config,
            product: self.product,
            protocol: self.protocol,
            initiator: String::new(),
            addrs: self.addrs.clone(),
        }
    }

    /// The vault of `node`, which last saw Meta Storage version `stored_ms_version` (X).
    pub fn vault_of(&self, node: &str, stored_ms_version: u64) -> Vault {
        let plan = self.plan();
        let node = node.to_string();
        let cmg = plan.config.cmg_nodes.contains(&node).then(|| {
            RaftGroup::bootstrap_record(
                plan.init,
                plan.config.cmg_nodes.clone(),
                None,
                vec![
                    encode(&CmgCommand::Bootstrap),
                    encode(&CmgCommand::ClusterInit(plan.clone())),
                ],
            )
        });
        let ms = plan.config.ms_nodes.contains(&node).then(|| {
            RaftGroup::bootstrap_record(
                plan.init,
                plan.config.ms_nodes.clone(),
                None,
                vec![encode(&MsCommand::Init {
                    version: plan.config.ms_version,
                    nodes: plan.config.ms_nodes.clone(),
                })],
            )
        });
        Vault {
            local: Some(LocalState {
                config: ClusterConfig {
                    ms_version: stored_ms_version,
                    ..plan.config.clone()
                },
                cmg_instance: plan.init,
                ms_instance: plan.init,
                init: plan.command(),
            }),
            cmg,
            ms,
            cancels: Vec::new(),
            cmg_fenced: None,
            cleared: Vec::new(),
        }
    }
}
