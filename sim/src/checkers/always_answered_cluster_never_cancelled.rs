//! `always_answered_cluster_never_cancelled`: once a node answered an init with success and tag
//! T, no replica of an incarnation with tag T (the tag its init proposed or its CMG committed) is
//! destroyed by a cancel (a `GroupDestroyed` of an incarnation an initiator cancelled, outside a
//! join acceptance's step, which drops stray replicas of other inits), and no vault of it is
//! cleared (`VaultCleared`, which only a cancel does). A cluster committed but never answered may
//! still be cleared.

use joinsim::Event;

use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Looks at every destroyed replica and cleared vault of an answered cluster.
#[derive(Debug, Default)]
pub struct AlwaysAnsweredClusterNeverCancelled;

impl Check for AlwaysAnsweredClusterNeverCancelled {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysAnsweredClusterNeverCancelled
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let label = entry.node.as_str();
        let violation = |detail: String| {
            Some(Violation::at(
                entry,
                Invariant::AlwaysAnsweredClusterNeverCancelled,
                vec![label.into()],
                detail,
            ))
        };
        match &entry.kind {
            TraceKind::Protocol(Event::VaultCleared { init }) => {
                // Only a cancel clears a vault.
                let (tag, at) = history.answered_tag_of(*init)?;
                violation(format!(
                    "a cancel cleared {label}'s vault of cluster {tag} (init {init:?}), whose tag a user got as an init's answer at {:.3} ms",
                    at as f64 / 1e3
                ))
            }
            TraceKind::Protocol(Event::GroupDestroyed { group, instance }) => {
                // Outside a join acceptance (which drops a stray replica of another init), only
                // a cancel destroys a replica.
                if history.in_acceptance_step(entry) || !history.cancelled.contains(instance) {
                    return None;
                }
                let (tag, at) = history.answered_tag_of(*instance)?;
                violation(format!(
                    "a cancel destroyed {label}'s {group} replica of cluster {tag} (init {instance:?}), whose tag a user got as an init's answer at {:.3} ms",
                    at as f64 / 1e3
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    fn answered_then(destroy: Vec<(u64, &'static str, Event)>) -> Option<Violation> {
        let mut history = vec![
            (1, "a", init_started_ab()),
            (2, "a", cmg_started()),
            (2, "b", cmg_started()),
            (3, "a", init_applied(1, 1, 2)),
            // The CMG records the answer before any user gets it (always_init_answered_after_commit).
            (
                3,
                "a",
                Event::InitFateApplied {
                    instance: I,
                    fate: Some(joinsim::InitFate::Answered),
                    index: 3,
                },
            ),
        ];
        history.extend(destroy);
        feed_timed(history)
    }

    fn answered(time: u64, node: &'static str) -> (u64, &'static str, Event) {
        (
            time,
            node,
            Event::InitAnswered {
                request: joinsim::RequestId(2),
                result: Ok(tag(1)),
            },
        )
    }

    fn cancelled(time: u64) -> (u64, &'static str, Event) {
        (
            time,
            "a",
            Event::InitCancelled {
                init: I,
                reason: "timeout".into(),
            },
        )
    }

    fn destroyed(time: u64, node: &'static str) -> (u64, &'static str, Event) {
        (
            time,
            node,
            Event::GroupDestroyed {
                group: GroupKind::Cmg,
                instance: I,
            },
        )
    }

    #[test]
    fn a_cancel_that_destroys_an_answered_cluster_trips() {
        // A retry through b answered the tag; then a's own attempt timed out and cancelled.
        let v = answered_then(vec![answered(4, "b"), cancelled(5), destroyed(6, "b")]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysAnsweredClusterNeverCancelled
        );
        let v = answered_then(vec![
            answered(4, "b"),
            cancelled(5),
            (6, "c", Event::VaultCleared { init: I }),
        ]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysAnsweredClusterNeverCancelled
        );
        // A cluster committed but never answered is cleared by a cancel.
        let ok = answered_then(vec![
            cancelled(5),
            destroyed(6, "b"),
            (6, "c", Event::VaultCleared { init: I }),
            answered(7, "b"),
        ]);
        assert_eq!(ok, None);
        // A join acceptance into another cluster drops a stray replica: not a cancel.
        let accepted = Event::JoinAccepted {
            tag: tag(2),
            stored_ms_version: None,
            cluster_ms_version: 1,
        };
        let ok = answered_then(vec![
            answered(4, "b"),
            cancelled(5),
            (8, "b", accepted.clone()),
            destroyed(8, "b"),
        ]);
        assert_eq!(ok, None);
        // ... but the same destroy in a later step is a cancel's.
        let v = answered_then(vec![
            answered(4, "b"),
            cancelled(5),
            (8, "b", accepted),
            destroyed(9, "b"),
        ]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysAnsweredClusterNeverCancelled
        );
    }
}
