//! `always_lt_member_ms_caught_up`: a member enters the LT only after its Meta Storage replica
//! of the same incarnation applied the cluster's Meta Storage version at its first standing
//! validation's log index (the cluster-init's version, raised by `MsNodesChanged` at earlier
//! indexes).

use super::{Check, History, Invariant, LtEntrant, Violation};
use crate::trace::TraceEntry;

/// Compares each LT entrant's Meta Storage version with the one it was validated at.
#[derive(Debug, Default)]
pub struct AlwaysLtMemberMsCaughtUp;

impl Check for AlwaysLtMemberMsCaughtUp {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysLtMemberMsCaughtUp
    }

    fn observe_lt_entrant(
        &mut self,
        entrant: &LtEntrant,
        entry: &TraceEntry,
        history: &History,
    ) -> Option<Violation> {
        let LtEntrant {
            instance,
            version,
            name,
            launch,
        } = entrant;
        let key = entrant.launch_key();
        let validated_at = history
            .validation_indexes
            .get(&key)
            .and_then(|indexes| indexes.first().copied())?;
        let needed = history
            .ms_history
            .get(instance)?
            .range(..validated_at)
            .next_back()
            .map(|(_, v)| *v)?;
        let reached = history
            .ms_applied
            .get(&(name.clone(), *launch, *instance))
            .copied()
            .unwrap_or(0);
        (reached < needed).then(|| {
            Violation::at(
                entry,
                Invariant::AlwaysLtMemberMsCaughtUp,
                vec![name.clone()],
                format!(
                    "{name} (launch {launch:?}) entered LT version {version} with its Meta Storage at version {reached}; it was validated (index {validated_at}) at version {needed}"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_member_whose_meta_storage_lags_its_validation_trips() {
        let mut history = sound_join();
        history.retain(|(_, e)| !matches!(e, Event::MsConfigApplied { .. }));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysLtMemberMsCaughtUp
        );
        // The Meta Storage moved to version 2 before b's validation: version 1 is not enough.
        let reconfigured = |applied: u64| {
            let mut history = sound_join();
            history.insert(
                3,
                (
                    "a",
                    Event::MsNodesChanged {
                        version: 2,
                        nodes: vec!["a".into()],
                        index: 3,
                    },
                ),
            );
            for (_, e) in history.iter_mut() {
                match e {
                    Event::Validated { index, .. } => *index = 4,
                    Event::LtChanged { index, .. } => *index = 5,
                    _ => {}
                }
            }
            let at = history.len() - 1;
            history.insert(at, ("b", ms_applied(applied, 2)));
            history
        };
        assert_eq!(feed(reconfigured(2)), None);
        assert_eq!(
            feed(reconfigured(1)).unwrap().invariant,
            Invariant::AlwaysLtMemberMsCaughtUp
        );
    }
}
