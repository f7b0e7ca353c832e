//! `always_one_cmg_replica_per_name`: no CMG replica ever runs under another live node's Raft id.
//! A node's Raft id is derived from its name (docs/protocol.md), so two running nodes of one name
//! that both host a replica of one CMG incarnation share a Raft id in that group: Raft's messages
//! for that id reach either, and a replica with another log can vote in its place (issue
//! "Protocol and checker faults", kind 1: an empty namesake of a CMG voter started a replica
//! under the voter's id, fuzz seed 9100015).

use std::collections::BTreeSet;

use joinsim::{Event, GroupKind};

use super::{Check, History, Invariant, Violation};
use crate::trace::{HarnessEvent, TraceEntry, TraceKind};

/// Looks at every CMG replica that starts.
#[derive(Debug, Default)]
pub struct AlwaysOneCmgReplicaPerName {
    /// Labels stopped by a final rejection since they last started: their replicas no longer
    /// run.
    halted: BTreeSet<String>,
}

impl Check for AlwaysOneCmgReplicaPerName {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysOneCmgReplicaPerName
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let label = entry.node.as_str();
        let instance = match &entry.kind {
            TraceKind::Harness(HarnessEvent::NodeStarted) => {
                self.halted.remove(label);
                return None;
            }
            TraceKind::Protocol(Event::Halted { .. }) => {
                self.halted.insert(label.to_string());
                return None;
            }
            TraceKind::Protocol(Event::GroupStarted {
                group: GroupKind::Cmg,
                instance,
                ..
            }) => *instance,
            _ => return None,
        };
        let name = history.name_of(label)?;
        let other = history.cmg_of.iter().find(|(l, i)| {
            l.as_str() != label
                && **i == instance
                && !self.halted.contains(l.as_str())
                && history.name_of(l) == Some(name)
        });
        other.map(|(other, _)| {
            Violation::at(
                entry,
                Invariant::AlwaysOneCmgReplicaPerName,
                vec![other.clone(), label.to_string()],
                format!(
                    "{label} started a replica of CMG {instance:?} under the name {name} (its Raft id), while {other}, of the same name, runs one"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    fn two_named_a() -> BTreeMap<String, NodeFacts> {
        let mut nodes = facts();
        let mut twin = nodes["a"].clone();
        twin.name = "a".into();
        nodes.insert("d".into(), twin);
        nodes
    }

    fn cmg_started() -> Event {
        Event::GroupStarted {
            group: GroupKind::Cmg,
            instance: I,
            from_vault: false,
        }
    }

    #[test]
    fn a_namesake_starting_a_replica_of_a_live_voters_group_trips() {
        let mut checker = Checker::new(two_named_a());
        assert_eq!(checker.observe(&entry("a", cmg_started())), None);
        assert_eq!(
            checker
                .observe(&entry("d", cmg_started()))
                .unwrap()
                .invariant,
            Invariant::AlwaysOneCmgReplicaPerName
        );
    }

    #[test]
    fn a_namesake_of_a_dead_or_halted_voter_or_of_another_group_passes() {
        // The voter was killed: its replica no longer runs.
        let mut checker = Checker::new(two_named_a());
        assert_eq!(checker.observe(&entry("a", cmg_started())), None);
        let killed = TraceEntry {
            time_us: 2,
            node: "a".into(),
            kind: TraceKind::Harness(HarnessEvent::NodeKilled),
        };
        assert_eq!(checker.observe(&killed), None);
        assert_eq!(checker.observe(&entry("d", cmg_started())), None);
        // The voter halted on a final rejection.
        let mut checker = Checker::new(two_named_a());
        assert_eq!(checker.observe(&entry("a", cmg_started())), None);
        let halted = Event::Halted {
            rejection: joinsim::Rejection {
                stage: joinsim::RejectionStage::Join,
                by: "b".into(),
                reason: joinsim::RejectionReason::TagMismatch {
                    joiner: tag(1),
                    cluster: tag(2),
                },
            },
        };
        assert_eq!(checker.observe(&entry("a", halted)), None);
        assert_eq!(checker.observe(&entry("d", cmg_started())), None);
        // Another node of another name: fine.
        assert_eq!(
            feed(vec![("a", cmg_started()), ("b", cmg_started())]),
            None
        );
    }
}
