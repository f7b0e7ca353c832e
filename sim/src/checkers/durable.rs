//! The checkers' copy of every replica's durable Raft log, kept from the vault writes the host
//! shows them (commit indexes and log entries are not trace events), and the committed prefix of
//! each group incarnation.

use std::collections::BTreeMap;

use joinsim::vault::{EntryRecord, GroupRecord, VaultWrite};
use joinsim::{GroupKind, InstanceId, Vault};

/// One log entry as the checkers compare it: (term, digest of kind, data and context).
pub type EntryDigest = (u64, u64);

/// The digest of one log entry.
pub fn entry_digest(entry: &EntryRecord) -> EntryDigest {
    use std::hash::Hasher;
    let mut hasher = joinsim::hash::Fnv64::default();
    hasher.write_u8(match entry.kind {
        joinsim::vault::EntryKind::Normal => 0,
        joinsim::vault::EntryKind::ConfChange => 1,
    });
    hasher.write_u64(entry.data.len() as u64);
    hasher.write(&entry.data);
    hasher.write(&entry.context);
    (entry.term, hasher.finish())
}

/// One replica's durable Raft state (from the vault writes).
#[derive(Clone, Debug)]
pub struct DurableReplica {
    /// The group incarnation it is a replica of.
    pub instance: InstanceId,
    /// Its durable commit index.
    pub commit: u64,
    /// Each entry from index 1.
    pub entries: Vec<EntryDigest>,
    /// How much of this replica's committed prefix was already merged into the committed log.
    merged: usize,
}

impl DurableReplica {
    fn of(record: &GroupRecord) -> DurableReplica {
        DurableReplica {
            instance: record.instance,
            commit: record.hard_state.commit,
            entries: record.entries.iter().map(entry_digest).collect(),
            merged: 0,
        }
    }
}

/// Every replica's durable log, by label and group, and the committed prefix of each group
/// incarnation.
#[derive(Clone, Debug, Default)]
pub struct DurableLogs {
    /// By label: the CMG replica's log, then the Meta Storage replica's ([`slot`]). Looked up by
    /// a borrowed label: a vault write costs no copy of its node's name.
    replicas: BTreeMap<String, [Option<DurableReplica>; 2]>,
    /// The committed prefix of each group incarnation: each entry from index 1.
    committed: BTreeMap<(GroupKind, InstanceId), Vec<EntryDigest>>,
}

/// Where a group's replica sits in a label's pair.
fn slot(kind: GroupKind) -> usize {
    match kind {
        GroupKind::Cmg => 0,
        GroupKind::Ms => 1,
    }
}

impl DurableLogs {
    /// The durable replica of `group` in `label`'s vault, if it holds one.
    pub fn replica(&self, label: &str, group: GroupKind) -> Option<&DurableReplica> {
        self.replicas.get(label)?[slot(group)].as_ref()
    }

    /// The committed prefix of this group incarnation, as far as any replica committed it.
    pub fn committed(&self, group: GroupKind, instance: InstanceId) -> &[EntryDigest] {
        self.committed
            .get(&(group, instance))
            .map_or(&[], Vec::as_slice)
    }

    /// The longest committed prefix of any incarnation of `group`.
    pub fn committed_prefix_len(&self, group: GroupKind) -> usize {
        self.committed
            .iter()
            .filter(|((k, _), _)| *k == group)
            .map(|(_, c)| c.len())
            .max()
            .unwrap_or(0)
    }

    /// True when a replica other than `label`'s holds `entry` at `at` (0-based) of this
    /// incarnation.
    pub fn held_elsewhere(
        &self,
        label: &str,
        group: GroupKind,
        instance: InstanceId,
        at: usize,
        entry: EntryDigest,
    ) -> bool {
        self.replicas.iter().any(|(l, pair)| {
            l != label
                && pair[slot(group)]
                    .as_ref()
                    .is_some_and(|r| r.instance == instance && r.entries.get(at) == Some(&entry))
        })
    }

    /// Learns the durable state a node starts the run with (a restored cluster's vault).
    pub fn load_vault(&mut self, label: &str, vault: &Vault) {
        for kind in [GroupKind::Cmg, GroupKind::Ms] {
            if let Some(record) = vault.group(kind) {
                let mut replica = DurableReplica::of(record);
                self.merge_committed(kind, &mut replica);
                self.put(label, kind, replica);
            }
        }
    }

    /// Forgets everything `label`'s vault held (a wipe).
    pub fn wipe(&mut self, label: &str) {
        self.replicas.remove(label);
    }

    /// `label`'s replica of `kind` is `replica` now.
    fn put(&mut self, label: &str, kind: GroupKind, replica: DurableReplica) {
        if let Some(pair) = self.replicas.get_mut(label) {
            pair[slot(kind)] = Some(replica);
            return;
        }
        let mut pair = [None, None];
        pair[slot(kind)] = Some(replica);
        self.replicas.insert(label.to_string(), pair);
    }

    /// Takes `label`'s replica of `kind` out (while its write is merged; [`DurableLogs::put`]
    /// returns it).
    fn take(&mut self, label: &str, kind: GroupKind) -> Option<DurableReplica> {
        self.replicas.get_mut(label)?[slot(kind)].take()
    }

    /// Applies one vault write of `label`.
    pub fn record(&mut self, label: &str, write: &VaultWrite) {
        match write {
            VaultWrite::CreateGroup(kind, record) => {
                let mut replica = DurableReplica::of(record);
                self.merge_committed(*kind, &mut replica);
                self.put(label, *kind, replica);
            }
            VaultWrite::DestroyGroup(kind, instance) => {
                if let Some(pair) = self.replicas.get_mut(label) {
                    let held = &mut pair[slot(*kind)];
                    if held.as_ref().is_some_and(|r| r.instance == *instance) {
                        *held = None;
                    }
                }
            }
            VaultWrite::HardState(kind, hard_state) => {
                let Some(mut replica) = self.take(label, *kind) else {
                    return;
                };
                replica.commit = hard_state.commit;
                self.merge_committed(*kind, &mut replica);
                self.put(label, *kind, replica);
            }
            VaultWrite::Append(kind, new) => {
                let Some(first) = new.first().map(|e| e.index) else {
                    return;
                };
                let Some(mut replica) = self.take(label, *kind) else {
                    return;
                };
                replica.entries.truncate((first - 1) as usize);
                replica.entries.extend(new.iter().map(entry_digest));
                replica.merged = replica.merged.min(replica.entries.len());
                self.merge_committed(*kind, &mut replica);
                self.put(label, *kind, replica);
            }
            _ => {}
        }
    }

    /// Extends the committed prefix of the replica's incarnation with what it has committed.
    /// Where it committed another entry than the one recorded, and no replica holds the recorded
    /// one any more (all that did were wiped: the loss was legitimate or already reported), the
    /// replica's entry is recorded instead; a live disagreement is `always_committed_logs_agree`'s.
    fn merge_committed(&mut self, kind: GroupKind, replica: &mut DurableReplica) {
        let upto = (replica.commit as usize).min(replica.entries.len());
        if upto <= replica.merged {
            return;
        }
        let instance = replica.instance;
        let recorded = self.committed.entry((kind, instance)).or_default();
        for at in replica.merged..upto {
            let mine = replica.entries[at];
            match recorded.get(at).copied() {
                None => recorded.push(mine),
                Some(theirs) if theirs != mine => {
                    if !self.replicas.values().any(|pair| {
                        pair[slot(kind)].as_ref().is_some_and(|r| {
                            r.instance == instance && r.entries.get(at) == Some(&theirs)
                        })
                    }) {
                        recorded[at] = mine;
                    }
                }
                Some(_) => {}
            }
        }
        replica.merged = upto;
    }
}
