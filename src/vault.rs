//! The vault: a node's durable state, the only thing that survives a kill and a restart.
//!
//! The state machine never writes the vault itself. It emits [`VaultWrite`]s in its output, and
//! the host applies them with [`Vault::apply`] before it sends any message of the same step (Raft
//! requires entries and hard state to be durable before the messages that depend on them). On
//! start, the node is rebuilt from the vault alone.
//!
//! Which writes must be durable before the messages that follow them: [`Durability`] (some may
//! be lost by a crash). How a host frames one write as bytes, and detects a record torn by a
//! crash: [`record`]. How a node starts from a vault whose last record may be torn:
//! [`Vault::recover`].

use serde::{Deserialize, Serialize};

mod durability;
pub mod record;
mod recovery;
#[cfg(test)]
pub(crate) mod samples;

pub use durability::Durability;
pub use record::VaultRecordError;
pub use recovery::Recovered;

use crate::cluster_config::ClusterConfig;
use crate::error::{Error, Result};
use crate::init_command::{InitCommand, InitPlan};
use crate::types::{ClusterTag, GroupKind, InstanceId, NodeName};

/// What an initialized node knows about its cluster. Present exactly when the node is initialized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    /// The cluster's configuration as this node last saw it: its Meta Storage version never
    /// decreases. Encoded inline, as its four fields were before it.
    pub config: ClusterConfig,
    /// The CMG incarnation.
    pub cmg_instance: InstanceId,
    /// The Meta Storage incarnation.
    pub ms_instance: InstanceId,
    /// The init command the cluster was created with (docs/spec.md §5: an init is identified by
    /// it). Never changes: a Meta Storage reconfiguration changes `config.ms_nodes`, not this.
    pub init: InitCommand,
}

/// Durable Raft hard state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardStateRecord {
    /// Current term.
    pub term: u64,
    /// Vote in the current term (Raft id, 0 for none).
    pub vote: u64,
    /// Commit index.
    pub commit: u64,
}

/// The type of a Raft log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// An application command.
    Normal,
    /// A membership change (raft-rs `ConfChangeV2`).
    ConfChange,
}

/// A durable Raft log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// Log index.
    pub index: u64,
    /// Term it was proposed in.
    pub term: u64,
    /// Type.
    pub kind: EntryKind,
    /// Payload.
    pub data: Vec<u8>,
    /// Context (for membership changes: what the change means to the Meta Storage).
    pub context: Vec<u8>,
}

/// The durable state of one Raft replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The incarnation.
    pub instance: InstanceId,
    /// The init this replica was started by, if any: a CMG leader proposes its cluster-init.
    pub plan: Option<std::sync::Arc<InitPlan>>,
    /// Voters of the group when it was created. The log's membership changes apply on top.
    pub initial_voters: Vec<NodeName>,
    /// Hard state.
    pub hard_state: HardStateRecord,
    /// The log, contiguous, starting at index 1 (logs are never compacted).
    pub entries: Vec<EntryRecord>,
}

/// The largest log a replica may hold. Logs are never compacted; a run that needs more is a bug.
pub const MAX_LOG_ENTRIES: usize = 1_000_000;

/// One change to the vault. Whether the protocol syncs it: [`VaultWrite::durability`]; its bytes
/// on a medium: [`record`]. The variant names (strum) are the names docs/protocol.md's durability
/// table uses.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum VaultWrite {
    /// The node is now initialized with this state.
    SetLocal(LocalState),
    /// The node is empty again (its init was cancelled).
    ClearLocal,
    /// The node saw a newer Meta Storage version and node list.
    SetMsConfig {
        /// Version.
        version: u64,
        /// Voters.
        nodes: Vec<NodeName>,
    },
    /// A replica was created.
    CreateGroup(GroupKind, Box<GroupRecord>),
    /// A replica was destroyed.
    DestroyGroup(GroupKind, InstanceId),
    /// New hard state.
    HardState(GroupKind, HardStateRecord),
    /// Entries appended; any existing entry at or after the first new index is replaced.
    Append(GroupKind, Vec<EntryRecord>),
    /// This node, as initiator, started cancelling an init: it resumes telling others after a
    /// restart until the cancel ends.
    RecordCancel(InstanceId),
    /// The cancel ended (everyone told acknowledged it, or it ran out of time).
    ForgetCancel(InstanceId),
    /// The CMG replica of this incarnation promised a canceller never to help commit an answer
    /// until the cancel's fate is known (`Some`), or learned that fate (`None`): docs/protocol.md
    /// Step 2.6, "the fence".
    FenceCmg(Option<InstanceId>),
    /// This node cleared what it held of an init on a decided cancel: it remembers that across
    /// restarts, to tell a member of that init that comes back later (`CancelQuery`).
    RecordCleared(InstanceId, Option<ClusterTag>),
}

/// How many cancels one node records (the oldest is forgotten first).
pub const MAX_RECORDED_CANCELS: usize = 16;

/// A node's durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vault {
    /// Present when the node is initialized.
    pub local: Option<LocalState>,
    /// The CMG replica, if the node hosts one.
    pub cmg: Option<GroupRecord>,
    /// The Meta Storage replica, if the node hosts one.
    pub ms: Option<GroupRecord>,
    /// Inits this node cancelled, as initiator, whose cancel is still being told to others.
    #[serde(default)]
    pub cancels: Vec<InstanceId>,
    /// The CMG incarnation whose replica is fenced by an undecided cancel, if any: on a restart
    /// the replica stays out of its group until it learns the cancel's fate.
    #[serde(default)]
    pub cmg_fenced: Option<InstanceId>,
    /// Inits whose state this node cleared on a decided cancel, oldest first (at most
    /// `MAX_RECORDED_CANCELS`).
    #[serde(default)]
    pub cleared: Vec<(InstanceId, Option<ClusterTag>)>,
}

impl Vault {
    /// An empty vault: a node that never received init.
    pub fn empty() -> Vault {
        Vault::default()
    }

    /// True when the node holds a cluster tag.
    pub fn is_initialized(&self) -> bool {
        self.local.is_some()
    }

    /// The replica record of a group.
    pub fn group(&self, kind: GroupKind) -> Option<&GroupRecord> {
        match kind {
            GroupKind::Cmg => self.cmg.as_ref(),
            GroupKind::Ms => self.ms.as_ref(),
        }
    }

    fn group_mut(&mut self, kind: GroupKind) -> &mut Option<GroupRecord> {
        match kind {
            GroupKind::Cmg => &mut self.cmg,
            GroupKind::Ms => &mut self.ms,
        }
    }

    /// Applies one write. A write that contradicts the vault (entries for a group it does not
    /// hold, a gap in the log) is a bug of the state machine and is reported as an error.
    pub fn apply(&mut self, write: &VaultWrite) -> Result<()> {
        match write {
            VaultWrite::SetLocal(local) => {
                if let Some(old) = &self.local {
                    if old.config.tag == local.config.tag
                        && local.config.ms_version < old.config.ms_version
                    {
                        return Err(corrupt(format!(
                            "Meta Storage version would decrease from {} to {}",
                            old.config.ms_version, local.config.ms_version
                        )));
                    }
                }
                self.local = Some(local.clone());
            }
            VaultWrite::ClearLocal => self.local = None,
            VaultWrite::RecordCancel(init) => {
                if !self.cancels.contains(init) {
                    if self.cancels.len() >= MAX_RECORDED_CANCELS {
                        self.cancels.remove(0);
                    }
                    self.cancels.push(*init);
                }
            }
            VaultWrite::ForgetCancel(init) => self.cancels.retain(|c| c != init),
            VaultWrite::FenceCmg(fenced) => self.cmg_fenced = *fenced,
            VaultWrite::RecordCleared(init, tag) => {
                if !self.cleared.iter().any(|(i, _)| i == init) {
                    if self.cleared.len() >= MAX_RECORDED_CANCELS {
                        self.cleared.remove(0);
                    }
                    self.cleared.push((*init, tag.clone()));
                }
            }
            VaultWrite::SetMsConfig { version, nodes } => {
                let local = self
                    .local
                    .as_mut()
                    .ok_or_else(|| corrupt("Meta Storage version set on an empty node".into()))?;
                if *version < local.config.ms_version {
                    return Err(corrupt(format!(
                        "Meta Storage version would decrease from {} to {version}",
                        local.config.ms_version
                    )));
                }
                local.config.ms_version = *version;
                local.config.ms_nodes = nodes.clone();
            }
            VaultWrite::CreateGroup(kind, record) => {
                *self.group_mut(*kind) = Some((**record).clone());
            }
            VaultWrite::DestroyGroup(kind, instance) => {
                let slot = self.group_mut(*kind);
                if slot.as_ref().map(|g| g.instance) == Some(*instance) {
                    *slot = None;
                }
                if *kind == GroupKind::Cmg && self.cmg_fenced == Some(*instance) {
                    self.cmg_fenced = None;
                }
            }
            VaultWrite::HardState(kind, hs) => {
                let group = self
                    .group_mut(*kind)
                    .as_mut()
                    .ok_or_else(|| corrupt(format!("hard state for absent {kind} group")))?;
                group.hard_state = *hs;
            }
            VaultWrite::Append(kind, entries) => {
                let group = self
                    .group_mut(*kind)
                    .as_mut()
                    .ok_or_else(|| corrupt(format!("entries for absent {kind} group")))?;
                append_entries(&mut group.entries, entries)?;
            }
        }
        Ok(())
    }
}

fn corrupt(detail: String) -> Error {
    Error::CorruptVault { detail }
}

/// Appends `new` to `log`, replacing any suffix that starts at `new`'s first index.
fn append_entries(log: &mut Vec<EntryRecord>, new: &[EntryRecord]) -> Result<()> {
    let Some(first) = new.first() else {
        return Ok(());
    };
    let next_index = log.len() as u64 + 1;
    if first.index == 0 || first.index > next_index {
        return Err(corrupt(format!(
            "log gap: appending index {} to a log ending at {}",
            first.index,
            next_index - 1
        )));
    }
    log.truncate((first.index - 1) as usize);
    for (offset, entry) in new.iter().enumerate() {
        if entry.index != first.index + offset as u64 {
            return Err(corrupt(format!(
                "entries not contiguous at index {}",
                entry.index
            )));
        }
        log.push(entry.clone());
    }
    if log.len() > MAX_LOG_ENTRIES {
        return Err(corrupt(format!("log exceeds {MAX_LOG_ENTRIES} entries")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ClusterId;

    fn entry(index: u64, term: u64) -> EntryRecord {
        EntryRecord {
            index,
            term,
            kind: EntryKind::Normal,
            data: vec![],
            context: vec![],
        }
    }

    fn record() -> GroupRecord {
        GroupRecord {
            instance: InstanceId(1),
            plan: None,
            initial_voters: vec!["a".into()],
            hard_state: HardStateRecord::default(),
            entries: vec![],
        }
    }

    #[test]
    fn append_replaces_conflicting_suffix() {
        let mut v = Vault::empty();
        v.apply(&VaultWrite::CreateGroup(GroupKind::Cmg, Box::new(record())))
            .unwrap();
        v.apply(&VaultWrite::Append(
            GroupKind::Cmg,
            vec![entry(1, 1), entry(2, 1), entry(3, 1)],
        ))
        .unwrap();
        v.apply(&VaultWrite::Append(GroupKind::Cmg, vec![entry(2, 2)]))
            .unwrap();
        let terms: Vec<u64> = v
            .cmg
            .as_ref()
            .unwrap()
            .entries
            .iter()
            .map(|e| e.term)
            .collect();
        assert_eq!(terms, vec![1, 2]);
        let gap = v.apply(&VaultWrite::Append(GroupKind::Cmg, vec![entry(9, 2)]));
        assert!(matches!(gap, Err(Error::CorruptVault { .. })));
    }

    #[test]
    fn writes_to_absent_groups_and_decreasing_versions_are_errors() {
        let mut v = Vault::empty();
        assert!(v
            .apply(&VaultWrite::Append(GroupKind::Ms, vec![entry(1, 1)]))
            .is_err());
        assert!(v
            .apply(&VaultWrite::SetMsConfig {
                version: 2,
                nodes: vec![]
            })
            .is_err());
        let local = LocalState {
            config: ClusterConfig {
                tag: ClusterTag {
                    name: "c".into(),
                    id: ClusterId(1),
                },
                cmg_nodes: vec![],
                ms_nodes: vec![],
                ms_version: 3,
            },
            cmg_instance: InstanceId(1),
            ms_instance: InstanceId(1),
            init: InitCommand::default(),
        };
        v.apply(&VaultWrite::SetLocal(local)).unwrap();
        assert!(v
            .apply(&VaultWrite::SetMsConfig {
                version: 2,
                nodes: vec![]
            })
            .is_err());
        v.apply(&VaultWrite::SetMsConfig {
            version: 4,
            nodes: vec!["x".into()],
        })
        .unwrap();
        assert_eq!(v.local.as_ref().unwrap().config.ms_version, 4);
    }

    #[test]
    fn destroy_only_matching_instance() {
        let mut v = Vault::empty();
        v.apply(&VaultWrite::CreateGroup(GroupKind::Cmg, Box::new(record())))
            .unwrap();
        v.apply(&VaultWrite::DestroyGroup(GroupKind::Cmg, InstanceId(2)))
            .unwrap();
        assert!(v.cmg.is_some());
        v.apply(&VaultWrite::DestroyGroup(GroupKind::Cmg, InstanceId(1)))
            .unwrap();
        assert!(v.cmg.is_none());
    }

    #[test]
    fn recorded_cancels_are_bounded_and_forgotten() {
        let mut v = Vault::empty();
        for i in 0..(MAX_RECORDED_CANCELS as u64 + 3) {
            v.apply(&VaultWrite::RecordCancel(InstanceId(i))).unwrap();
        }
        // Recording twice keeps one entry; the oldest are dropped first.
        v.apply(&VaultWrite::RecordCancel(InstanceId(5))).unwrap();
        assert_eq!(v.cancels.len(), MAX_RECORDED_CANCELS);
        assert_eq!(v.cancels.first(), Some(&InstanceId(3)));
        v.apply(&VaultWrite::ForgetCancel(InstanceId(5))).unwrap();
        assert!(!v.cancels.contains(&InstanceId(5)));
        assert_eq!(v.cancels.len(), MAX_RECORDED_CANCELS - 1);
    }
}
