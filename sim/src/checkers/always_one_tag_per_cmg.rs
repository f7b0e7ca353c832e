//! `always_one_tag_per_cmg`: every `ClusterInitApplied` of one CMG incarnation carries the tag
//! its first one committed.

use joinsim::Event;

use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Compares each committed tag with the one the incarnation committed first.
#[derive(Debug, Default)]
pub struct AlwaysOneTagPerCmg;

impl Check for AlwaysOneTagPerCmg {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysOneTagPerCmg
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let TraceKind::Protocol(Event::ClusterInitApplied { instance, tag, .. }) = &entry.kind
        else {
            return None;
        };
        let known = history.clusters.get(instance)?;
        (&known.tag != tag).then(|| {
            Violation::at(
                entry,
                Invariant::AlwaysOneTagPerCmg,
                vec![entry.node.clone()],
                format!("CMG {instance:?} committed {} and then {tag}", known.tag),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn one_tag_per_cmg_trips() {
        let v = feed(vec![
            ("a", started(1, None)),
            ("a", cmg_started()),
            ("a", init_applied(1, 1, 2)),
            ("b", started(2, None)),
            (
                "b",
                Event::GroupStarted {
                    group: GroupKind::Cmg,
                    instance: I,
                    from_vault: false,
                },
            ),
            // Another replica of the same incarnation commits another tag at another index.
            ("b", init_applied(2, 1, 3)),
        ]);
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysOneTagPerCmg);
    }
}
