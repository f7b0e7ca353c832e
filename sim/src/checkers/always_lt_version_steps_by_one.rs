//! `always_lt_version_steps_by_one`: per CMG replica, each `LtChanged` raises the LT version by
//! the number of members added, removed or replaced by a new launch since that replica's
//! previous LT (a replica that (re)starts replays from version 0).

use super::lt_step::LtStep;
use super::{Check, History, Invariant, Violation};
use crate::trace::TraceEntry;

/// Compares each replica's LT version step with the number of changes.
#[derive(Debug, Default)]
pub struct AlwaysLtVersionStepsByOne;

impl Check for AlwaysLtVersionStepsByOne {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysLtVersionStepsByOne
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let step = LtStep::of(entry, history)?;
        let changes = step.changes();
        (step.version != step.before + changes).then(|| {
            Violation::at(
                entry,
                Invariant::AlwaysLtVersionStepsByOne,
                vec![entry.node.clone()],
                format!(
                    "{}'s LT went from version {} to {} (index {}) with {changes} change(s): {:?} -> {:?}",
                    entry.node, step.before, step.version, step.index, step.old, step.members
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn an_lt_version_that_skips_or_stalls_trips() {
        let with_c = |version, index| {
            let mut history = sound_join();
            history.push(("c", started(3, None)));
            history.push((
                "a",
                Event::Validated {
                    node: "c".into(),
                    launch: LaunchId(3),
                    index: index - 1,
                },
            ));
            history.push(("c", Event::JoinReadySent { leader: "a".into() }));
            history.push(("c", ms_started()));
            history.push(("c", ms_applied(1, 1)));
            history.push(("a", lt(version, &[("b", 2), ("c", 3)], index)));
            history
        };
        assert_eq!(feed(with_c(2, 6)), None);
        assert_eq!(
            feed(with_c(3, 6)).unwrap().invariant,
            Invariant::AlwaysLtVersionStepsByOne
        );
        // Two members leave in one command: two changes, two versions.
        let mut history = with_c(2, 6);
        history.push(("a", left(&[("b", 2), ("c", 3)], 7)));
        history.push(("a", lt(4, &[], 7)));
        assert_eq!(feed(history), None);
        let mut history = with_c(2, 6);
        history.push(("a", left(&[("b", 2), ("c", 3)], 7)));
        history.push(("a", lt(3, &[], 7)));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtVersionStepsByOne
        );
        // A restarted replica replays from version 0.
        let mut history = with_c(2, 6);
        history.push(("a", cmg_started()));
        history.push(("a", lt(1, &[("b", 2)], 4)));
        history.push(("a", lt(2, &[("b", 2), ("c", 3)], 6)));
        assert_eq!(feed(history), None);
    }
}
