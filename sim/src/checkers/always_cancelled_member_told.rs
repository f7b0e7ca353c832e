//! `always_cancelled_member_told`: when a node halts on a pre-init refusal by tag, the refused
//! tag is the one it holds (a refusal of a tag a cancel cleared since is stale), and if that
//! tag's init was cancelled for good (its CMG applied the cancel as the init's fate, or some node
//! cleared its vault of it: only a decided cancel does) the node is past its start grace — a node
//! just back from its vault must get the time to learn the cancel (docs/spec.md §5).

use joinsim::Event;

use super::history::refused_tag;
use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Looks at every halt on a pre-init refusal by tag.
#[derive(Debug, Default)]
pub struct AlwaysCancelledMemberTold;

impl Check for AlwaysCancelledMemberTold {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysCancelledMemberTold
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let TraceKind::Protocol(Event::Halted { rejection }) = &entry.kind else {
            return None;
        };
        let refused = refused_tag(rejection)?;
        let label = entry.node.as_str();
        let violation = |detail: String| {
            Some(Violation::at(
                entry,
                Invariant::AlwaysCancelledMemberTold,
                vec![label.to_string(), rejection.by.clone()],
                detail,
            ))
        };
        let held = history.tag_of.get(label).cloned().flatten();
        if held.as_ref() != Some(refused) {
            return violation(format!(
                "{label} was halted by a refusal of tag {refused}, which it no longer holds (it holds {held:?}): {rejection}"
            ));
        }
        let init = history.cancelled_init_of(refused)?;
        if !history.within_start_grace(label, entry.time_us) {
            return None;
        }
        violation(format!(
            "{label} was halted {:.3} ms after it started by a refusal of tag {refused}, whose init {init:?} its CMG had cancelled, before the cancel could reach it: {rejection}",
            (entry.time_us - history.started_us[label]) as f64 / 1e3
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_refusal_that_halts_a_member_of_a_cancelled_init_trips() {
        let cancelled = |halted_at_us: u64, refused: ClusterTag| {
            feed_with_timing(vec![
                (1, "a", init_started_ab()),
                (
                    2,
                    "a",
                    Event::InitFateApplied {
                        instance: I,
                        fate: Some(joinsim::InitFate::Cancelled),
                        index: 3,
                    },
                ),
                (1_000_000, "b", initialized(2)),
                (halted_at_us, "b", refused_by_tag(refused)),
            ])
        };
        // Back from its vault, refused before the cancel could reach it.
        assert_eq!(
            cancelled(1_010_000, tag(1)).unwrap().invariant,
            Invariant::AlwaysCancelledMemberTold
        );
        // Its start grace over, the cancel had its time.
        assert_eq!(cancelled(5_010_000, tag(1)), None);
        // Refused for a tag it no longer holds (a stale refusal): never final.
        assert_eq!(
            cancelled(5_010_000, tag(3)).unwrap().invariant,
            Invariant::AlwaysCancelledMemberTold
        );
    }
}
