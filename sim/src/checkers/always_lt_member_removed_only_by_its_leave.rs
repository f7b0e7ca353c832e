//! `always_lt_member_removed_only_by_its_leave`: per CMG replica, a member that leaves the LT is
//! named, with that launch, by the `NodesLeft` applied at the same log index of the same CMG
//! incarnation; and a leave never replaces a member's launch by another.

use super::lt_step::LtStep;
use super::{Check, History, Invariant, Violation};
use crate::trace::TraceEntry;

/// Compares each LT step's removals with the leave applied at its index.
#[derive(Debug, Default)]
pub struct AlwaysLtMemberRemovedOnlyByItsLeave;

impl Check for AlwaysLtMemberRemovedOnlyByItsLeave {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysLtMemberRemovedOnlyByItsLeave
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let step = LtStep::of(entry, history)?;
        let label = entry.node.as_str();
        let (index, version) = (step.index, step.version);
        let violation = |detail: String| {
            Some(Violation::at(
                entry,
                Invariant::AlwaysLtMemberRemovedOnlyByItsLeave,
                vec![label.to_string()],
                detail,
            ))
        };
        let instance = history.cmg_of.get(label).copied();
        let leave = history
            .last_leave
            .get(label)
            .filter(|(i, at, _)| Some(*i) == instance && *at == index)
            .map(|(_, _, nodes)| nodes);
        for (name, launch) in &step.removed {
            if !leave.is_some_and(|nodes| nodes.contains(&(name.clone(), *launch))) {
                return violation(format!(
                    "{label} removed {name} (launch {launch:?}) from the LT at index {index} (version {version}), {}",
                    match leave {
                        Some(nodes) => format!("by a leave that names {nodes:?}"),
                        None => "without a leave".to_string(),
                    }
                ));
            }
        }
        if let (Some(nodes), Some((name, old, new))) = (leave, step.replaced.first()) {
            return violation(format!(
                "{label} applied a leave of {nodes:?} at index {index} that replaced {name}'s launch {old:?} by {new:?}"
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_member_removed_other_than_by_its_own_leave_trips() {
        let mut history = sound_join();
        history.push(("a", left(&[("b", 2)], 5)));
        history.push(("a", lt(2, &[], 5)));
        assert_eq!(feed(history), None);
        // A leave of an old launch of b removes b's current launch.
        let mut history = sound_join();
        history.push(("a", left(&[("b", 1)], 5)));
        history.push(("a", lt(2, &[], 5)));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberRemovedOnlyByItsLeave
        );
        // A member gone without any leave.
        let mut history = sound_join();
        history.push(("a", lt(2, &[], 5)));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberRemovedOnlyByItsLeave
        );
    }

    /// A leave that a's replica of an earlier incarnation applied at index 5 says nothing about
    /// index 5 of the next incarnation, where a member's new launch replaces its old one (fuzz
    /// seeds 18013773, 18023139: a false alarm before); within one incarnation it still trips.
    #[test]
    fn a_leave_of_an_earlier_incarnation_does_not_count() {
        use super::super::{Check, History};
        use super::AlwaysLtMemberRemovedOnlyByItsLeave;
        use joinsim::{Event, InstanceId, LaunchId};
        const J: InstanceId = InstanceId(8);
        let replaced_at_5 = |leave_of: InstanceId| {
            let mut history = History::default();
            history.cmg_of.insert("a".into(), J);
            history
                .last_leave
                .insert("a".into(), (leave_of, 5, vec![("b".into(), LaunchId(2))]));
            history
                .replica_lt
                .insert("a".into(), (J, 1, vec![("c".into(), LaunchId(3))]));
            let changed = entry(
                "a",
                Event::LtChanged {
                    version: 2,
                    members: vec![("c".into(), LaunchId(4))],
                    index: 5,
                },
            );
            AlwaysLtMemberRemovedOnlyByItsLeave.observe(&changed, &history)
        };
        assert_eq!(replaced_at_5(I), None);
        assert_eq!(
            replaced_at_5(J).unwrap().invariant,
            Invariant::AlwaysLtMemberRemovedOnlyByItsLeave
        );
    }
}
