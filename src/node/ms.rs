//! The node's routing of its Meta Storage replica: committed entries, learner and
//! reconfiguration requests and the tick's duties go to the
//! [`MsReplica`](crate::metastorage::MsReplica) component, and what it returns — events, the
//! Meta Storage configuration stored in the vault, the confirmation to the CMG leader, a failed
//! replica — is done here.

use crate::event::Event;
use crate::message::Message;
use crate::metastorage::MsApplied;
use crate::node::Node;
use crate::raft_group::Applied;
use crate::types::{Addr, GroupKind, InstanceId, NodeName};
use crate::vault::VaultWrite;
use std::sync::Arc;

impl Node {
    /// Applies committed Meta Storage entries to the local state machine.
    pub(crate) fn apply_ms(&mut self, applied: Vec<Applied>) {
        let Some(ms) = self.ms.as_mut() else { return };
        for effect in ms.apply(applied, self.cfg.bug) {
            match effect {
                MsApplied::State { index, digest } => self.emit(Event::ReplicaState {
                    group: GroupKind::Ms,
                    index,
                    digest,
                }),
                MsApplied::ConfigApplied {
                    version,
                    nodes,
                    index,
                } => {
                    self.emit(Event::MsConfigApplied {
                        version,
                        nodes: nodes.clone(),
                        index,
                    });
                    self.store_ms_config(version, nodes);
                }
                MsApplied::Failed { index, detail } => {
                    self.fail_replica(GroupKind::Ms, index, detail)
                }
            }
        }
    }

    /// Records a newer Meta Storage version in the vault, if the node is initialized.
    pub(crate) fn store_ms_config(&mut self, version: u64, nodes: Vec<NodeName>) {
        let Some(local) = self.local.as_mut().map(Arc::make_mut) else {
            return;
        };
        if version <= local.config.ms_version {
            return;
        }
        let from = local.config.ms_version;
        local.config.ms_version = version;
        local.config.ms_nodes = nodes.clone();
        self.write(VaultWrite::SetMsConfig { version, nodes });
        self.emit(Event::MsVersionStored {
            from: Some(from),
            to: version,
        });
    }

    /// The Meta Storage leader adds a learner. **Decision (Meta Storage requests name their
    /// incarnation, issue 11, fuzz seed 23001311):** only a replica of `instance` acts; two
    /// clusters may share a physical topology (the two-cluster hazard), and the request goes
    /// to every member.
    /// The learner asks from its own address: the group's messages to it go there
    /// (`peer_seen`).
    pub(crate) fn on_ms_add_learner(&mut self, from: Addr, name: NodeName, instance: InstanceId) {
        if let Some(ms) = self.ms.as_mut().filter(|m| m.instance() == instance) {
            ms.add_learner(name.clone());
            self.peer_seen(instance, &name, from);
        }
    }

    /// A Meta Storage replica of `instance` answers or acts on a reconfiguration request from
    /// the CMG leader; a replica of another incarnation ignores it (see `on_ms_add_learner`:
    /// fuzz seed 23001311, where one cluster's Meta Storage adopted the other cluster's voter
    /// list and never had a leader again).
    pub(crate) fn on_ms_reconfigure(
        &mut self,
        from: Addr,
        version: u64,
        nodes: Vec<NodeName>,
        instance: InstanceId,
    ) {
        let Some(ms) = self.ms.as_mut().filter(|m| m.instance() == instance) else {
            return;
        };
        if let Some(applied) = ms.reconfigure(version, nodes, self.cfg.bug) {
            self.send(
                from,
                Message::MsReconfigured {
                    version: applied,
                    instance,
                },
            );
        }
    }

    /// The Meta Storage replica's duties on every tick ([`MsReplica::tick_duties`]).
    ///
    /// [`MsReplica::tick_duties`]: crate::metastorage::MsReplica::tick_duties
    pub(crate) fn ms_tick(&mut self) {
        if let Some(ms) = self.ms.as_mut() {
            ms.tick_duties();
        }
    }
}

#[cfg(test)]
mod tests;
