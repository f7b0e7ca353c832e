//! `always_committed_logs_agree`: replicas report the same applied command at the same (group,
//! incarnation, log index); and at the end of a run the durable logs' committed prefixes agree
//! entry by entry ([`committed_logs_agree`]).

use std::collections::BTreeMap;

use joinsim::{Event, GroupKind, InstanceId, Vault};

use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Compares what each replica reports it applied with what the first replica to report that
/// (group, incarnation, index) applied there.
#[derive(Debug, Default)]
pub struct AlwaysCommittedLogsAgree {
    /// Per (group, incarnation, log index, kind of outcome): who reported it first, and a digest
    /// of the event.
    applied: BTreeMap<(GroupKind, InstanceId, u64, u8), (String, u64)>,
}

impl Check for AlwaysCommittedLogsAgree {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysCommittedLogsAgree
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let TraceKind::Protocol(event) = &entry.kind else {
            return None;
        };
        let label = entry.node.as_str();
        // The group incarnation and log index of an applied command; a replica's events are
        // those of the incarnation it hosts, except the cluster-init, which names its own.
        let (group, instance, index) = match event {
            Event::ClusterInitApplied {
                instance, index, ..
            } => (GroupKind::Cmg, *instance, *index),
            Event::NodesLeft { index, .. }
            | Event::Validated { index, .. }
            | Event::JoinRejected { index, .. }
            | Event::MsNodesChanged { index, .. }
            | Event::LtChanged { index, .. } => {
                (GroupKind::Cmg, history.hosted(label, GroupKind::Cmg)?, *index)
            }
            Event::ReplicaState { group, index, .. } => {
                (*group, history.hosted(label, *group)?, *index)
            }
            Event::MsConfigApplied { index, .. } => {
                (GroupKind::Ms, history.hosted(label, GroupKind::Ms)?, *index)
            }
            _ => return None,
        };
        let digest = {
            let mut hasher = joinsim::hash::Fnv64::default();
            std::hash::Hash::hash(event, &mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        // Events that are alternative outcomes of one command share a slot.
        let slot = match event {
            Event::Validated { .. } | Event::JoinRejected { .. } => 0u8,
            Event::LtChanged { .. } => 1,
            Event::NodesLeft { .. } => 2,
            Event::ClusterInitApplied { .. } => 3,
            Event::MsNodesChanged { .. } => 4,
            Event::ReplicaState { .. } => 5,
            _ => 6,
        };
        let key = (group, instance, index, slot);
        match self.applied.get(&key) {
            Some((other, seen)) if *seen != digest => Some(Violation::at(
                entry,
                Invariant::AlwaysCommittedLogsAgree,
                vec![other.clone(), label.to_string()],
                format!(
                    "{group} {instance:?} index {index}: {label} applied {event:?}, which differs from what {other} applied there"
                ),
            )),
            Some(_) => None,
            None => {
                self.applied.insert(key, (label.to_string(), digest));
                None
            }
        }
    }
}

/// Compares the committed prefixes of every replica's durable log, group by group and
/// incarnation by incarnation; the error says where two differ.
pub fn committed_logs_agree(vaults: &BTreeMap<String, Vault>) -> Result<(), String> {
    for kind in [GroupKind::Cmg, GroupKind::Ms] {
        let mut by_instance: BTreeMap<InstanceId, Vec<(&String, &joinsim::vault::GroupRecord)>> =
            BTreeMap::new();
        for (label, vault) in vaults {
            if let Some(record) = vault.group(kind) {
                by_instance
                    .entry(record.instance)
                    .or_default()
                    .push((label, record));
            }
        }
        for (instance, replicas) in by_instance {
            for (i, (a_label, a)) in replicas.iter().enumerate() {
                for (b_label, b) in replicas.iter().skip(i + 1) {
                    let common = a.hard_state.commit.min(b.hard_state.commit) as usize;
                    for index in 0..common.min(a.entries.len()).min(b.entries.len()) {
                        let (x, y) = (&a.entries[index], &b.entries[index]);
                        if x.term != y.term || x.data != y.data || x.context != y.context {
                            return Err(format!(
                                "{kind} {instance:?}: committed entry {} differs between {a_label} (term {}) and {b_label} (term {})",
                                index + 1,
                                x.term,
                                y.term
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn replicas_applying_different_commands_at_one_index_trips() {
        let mut history = sound_join();
        history.push(("c", started(3, None)));
        history.push(("c", cmg_started()));
        history.push((
            "c",
            Event::JoinRejected {
                node: "b".into(),
                launch: LaunchId(2),
                reason: joinsim::RejectionReason::MsVersionAhead {
                    joiner: 2,
                    cluster: 1,
                },
                index: 3,
            },
        ));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysCommittedLogsAgree
        );
    }

    #[test]
    fn diverging_durable_logs_are_found() {
        use joinsim::vault::{EntryKind, EntryRecord, GroupRecord, HardStateRecord};
        let record = |term| GroupRecord {
            instance: I,
            plan: None,
            initial_voters: vec!["a".into()],
            hard_state: HardStateRecord {
                term,
                vote: 0,
                commit: 1,
            },
            entries: vec![EntryRecord {
                index: 1,
                term,
                kind: EntryKind::Normal,
                data: vec![1],
                context: vec![],
            }],
        };
        let vault = |term| Vault {
            local: None,
            cmg: Some(record(term)),
            ms: None,
            cancels: Vec::new(),
            cmg_fenced: None,
            cleared: Vec::new(),
        };
        let mut vaults = BTreeMap::new();
        vaults.insert("a".to_string(), vault(1));
        vaults.insert("b".to_string(), vault(1));
        assert!(committed_logs_agree(&vaults).is_ok());
        vaults.insert("c".to_string(), vault(2));
        assert!(committed_logs_agree(&vaults).is_err());
    }

    #[test]
    fn replica_state_digests_must_agree() {
        let digest = |node: &'static str, d| {
            (
                node,
                Event::ReplicaState {
                    group: GroupKind::Cmg,
                    index: 4,
                    digest: d,
                },
            )
        };
        let base = vec![("a", cmg_started()), ("b", cmg_started()), digest("a", 1)];
        let mut same = base.clone();
        same.push(digest("b", 1));
        assert_eq!(feed(same), None);
        let mut differ = base;
        differ.push(digest("b", 2));
        assert_eq!(
            feed(differ).unwrap().invariant,
            Invariant::AlwaysCommittedLogsAgree
        );
    }
}
