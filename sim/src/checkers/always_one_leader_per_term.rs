//! `always_one_leader_per_term`: at most one Raft leader per term per (group, incarnation).

use std::collections::BTreeMap;

use joinsim::{Event, GroupKind, InstanceId, Role};

use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Remembers the first leader of every term.
#[derive(Debug, Default)]
pub struct AlwaysOneLeaderPerTerm {
    /// The label that led each (group, incarnation, term) first.
    leaders: BTreeMap<(GroupKind, InstanceId, u64), String>,
}

impl Check for AlwaysOneLeaderPerTerm {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysOneLeaderPerTerm
    }

    fn observe(&mut self, entry: &TraceEntry, _history: &History) -> Option<Violation> {
        let TraceKind::Protocol(Event::RoleChanged {
            group,
            instance,
            role: Role::Leader,
            term,
            ..
        }) = &entry.kind
        else {
            return None;
        };
        let label = entry.node.as_str();
        match self.leaders.get(&(*group, *instance, *term)) {
            Some(other) if other != label => Some(Violation::at(
                entry,
                Invariant::AlwaysOneLeaderPerTerm,
                vec![other.clone(), label.into()],
                format!("{other} and {label} both led {group} {instance:?} in term {term}"),
            )),
            _ => {
                self.leaders
                    .insert((*group, *instance, *term), label.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn two_leaders_in_one_term_trips() {
        let leader = |term| Event::RoleChanged {
            group: GroupKind::Ms,
            instance: I,
            role: Role::Leader,
            term,
            leader: None,
        };
        assert_eq!(feed(vec![("a", leader(2)), ("b", leader(3))]), None);
        let v = feed(vec![("a", leader(2)), ("b", leader(2))]);
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysOneLeaderPerTerm);
    }
}
