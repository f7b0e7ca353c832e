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
/// incarnation by incarnation; the error says where two differ. `vaults`: (label, vault) in
/// label order, read in place (the world lends its vaults locked, without copies).
pub fn committed_logs_agree(vaults: &[(&str, &Vault)]) -> Result<(), String> {
    for kind in [GroupKind::Cmg, GroupKind::Ms] {
        let mut by_instance: BTreeMap<InstanceId, Vec<(&str, &joinsim::vault::GroupRecord)>> =
            BTreeMap::new();
        for &(label, vault) in vaults {
            if let Some(record) = vault.group(kind) {
                by_instance
                    .entry(record.instance)
                    .or_default()
                    .push((label, record));
            }
        }
        for (instance, replicas) in by_instance {
            // Each replica is compared with the one that committed most (its log covers every
            // other committed prefix): two replicas that agree with it agree with each other on
            // their common committed prefix. A reference whose log is shorter than its commit
            // index (a vault the rules refuse) falls back to every pair.
            let reference = replicas
                .iter()
                .max_by_key(|(_, r)| r.hard_state.commit)
                .filter(|(_, r)| r.entries.len() as u64 >= r.hard_state.commit);
            let pairs: Vec<(usize, usize)> = match reference {
                Some(reference) => {
                    let r = replicas
                        .iter()
                        .position(|x| std::ptr::eq(x, reference))
                        .expect("the reference is a replica");
                    (0..replicas.len()).filter(|i| *i != r).map(|i| (i, r)).collect()
                }
                None => (0..replicas.len())
                    .flat_map(|i| (i + 1..replicas.len()).map(move |j| (i, j)))
                    .collect(),
            };
            for (i, j) in pairs {
                let ((a_label, a), (b_label, b)) = (replicas[i], replicas[j]);
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
        let (one, two) = (vault(1), vault(1));
        assert!(committed_logs_agree(&[("a", &one), ("b", &two)]).is_ok());
        let other = vault(2);
        assert!(committed_logs_agree(&[("a", &one), ("b", &two), ("c", &other)]).is_err());
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

    #[test]
    fn a_divergence_below_the_longest_commit_is_found_by_its_reference_or_by_pairs() {
        use joinsim::vault::{EntryKind, EntryRecord, GroupRecord, HardStateRecord};
        // A replica whose log holds `terms` (entry i at index i + 1) and commits `commit`.
        let vault = |terms: &[u64], commit: u64| Vault {
            local: None,
            cmg: Some(GroupRecord {
                instance: I,
                plan: None,
                initial_voters: vec!["a".into()],
                hard_state: HardStateRecord {
                    term: 1,
                    vote: 0,
                    commit,
                },
                entries: terms
                    .iter()
                    .enumerate()
                    .map(|(i, term)| EntryRecord {
                        index: i as u64 + 1,
                        term: *term,
                        kind: EntryKind::Normal,
                        data: vec![1],
                        context: vec![],
                    })
                    .collect(),
            }),
            ms: None,
            cancels: Vec::new(),
            cmg_fenced: None,
            cleared: Vec::new(),
        };
        let (a, b, c) = (vault(&[1, 1], 2), vault(&[1, 2], 2), vault(&[1, 1, 1], 3));
        assert!(committed_logs_agree(&[("a", &a), ("c", &c)]).is_ok());
        let found = committed_logs_agree(&[("a", &a), ("b", &b), ("c", &c)]);
        assert!(found.unwrap_err().contains("committed entry 2"));
        // The replica that commits most holds fewer entries than its commit index: every pair.
        let short = vault(&[1], 3);
        let found = committed_logs_agree(&[("a", &a), ("b", &b), ("s", &short)]);
        assert!(found.unwrap_err().contains("between a (term 1) and b (term 2)"));
        // Entries past a commit index are not compared.
        let (x, y) = (vault(&[1, 1], 1), vault(&[1, 2], 1));
        assert!(committed_logs_agree(&[("x", &x), ("y", &y)]).is_ok());
    }
}
