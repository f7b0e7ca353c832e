//! `always_lt_member_validated_then_ready`: a member entering an LT version was validated by a
//! replica of that CMG incarnation, and sent join ready after that validation, with the launch it
//! enters with. (A join ready counts for the validations of the sender's current launch; a leave
//! at log index i revokes that launch's validations and join readies made before i.)

use super::{Check, History, Invariant, LtEntrant, Violation};
use crate::trace::TraceEntry;

/// Looks up each LT entrant's validation and join ready.
#[derive(Debug, Default)]
pub struct AlwaysLtMemberValidatedThenReady;

impl Check for AlwaysLtMemberValidatedThenReady {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysLtMemberValidatedThenReady
    }

    fn observe_lt_entrant(
        &mut self,
        entrant: &LtEntrant,
        entry: &TraceEntry,
        history: &History,
    ) -> Option<Violation> {
        let key = entrant.launch_key();
        let LtEntrant {
            version,
            name,
            launch,
            ..
        } = entrant;
        let validated = history.validated.contains_key(&key);
        let ready = history.ready_after_validation.contains_key(&key);
        (!validated || !ready).then(|| {
            Violation::at(
                entry,
                Invariant::AlwaysLtMemberValidatedThenReady,
                vec![name.clone()],
                format!(
                    "{name} (launch {launch:?}) entered LT version {version} (validated: {validated}, join ready after validation: {ready})"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn lt_member_without_validation_or_ready_trips() {
        let mut history = sound_join();
        history.retain(|(_, e)| !matches!(e, Event::JoinReadySent { .. }));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
        let mut history = sound_join();
        history.retain(|(_, e)| !matches!(e, Event::Validated { .. }));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
        // Join ready before validation does not count.
        let mut history = sound_join();
        history.swap(5, 6);
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
    }

    #[test]
    fn a_leave_revokes_only_earlier_validations() {
        let leave = |index| {
            (
                "a",
                Event::NodesLeft {
                    nodes: vec![("b".into(), LaunchId(2))],
                    index,
                },
            )
        };
        // A lagging replica reports a leave at index 2 after the validation at index 3: no effect.
        let mut history = sound_join();
        history.insert(6, leave(2));
        assert_eq!(feed(history), None);
        // A leave at index 4, after validation and join ready, revokes both: the LT entry at
        // index 5 breaks the rule.
        let mut history = sound_join();
        history.insert(7, leave(4));
        for (_, e) in history.iter_mut() {
            if let Event::LtChanged { index, .. } = e {
                *index = 5;
            }
        }
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
    }

    #[test]
    fn a_join_ready_of_another_launch_does_not_count() {
        // b restarted (launch 5) after launch 2 was validated: launch 5's join ready does not
        // make launch 2 ready, nor is launch 5 validated.
        let mut history = sound_join();
        history.insert(6, ("b", started(5, None)));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
        let mut history = sound_join();
        let last = history.len() - 1;
        history[last].1 = lt(1, &[("b", 5)], 4);
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberValidatedThenReady
        );
    }
}
