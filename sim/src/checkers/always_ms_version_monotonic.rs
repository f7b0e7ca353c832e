//! `always_ms_version_monotonic`: a node's stored Meta Storage version never decreases, across
//! restarts too; only a wipe or a cancelled init (a cleared vault) resets it.

use std::collections::BTreeMap;

use joinsim::Event;

use super::{Check, History, Invariant, Violation};
use crate::trace::{HarnessEvent, TraceEntry, TraceKind};

/// Follows each node's stored Meta Storage version.
#[derive(Debug, Default)]
pub struct AlwaysMsVersionMonotonic {
    /// Each label's stored Meta Storage version (`None`: none stored).
    stored: BTreeMap<String, Option<u64>>,
}

impl Check for AlwaysMsVersionMonotonic {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysMsVersionMonotonic
    }

    fn observe(&mut self, entry: &TraceEntry, _history: &History) -> Option<Violation> {
        let label = entry.node.as_str();
        let violation = |detail: String| {
            Some(Violation::at(
                entry,
                Invariant::AlwaysMsVersionMonotonic,
                vec![label.into()],
                detail,
            ))
        };
        let before = self.stored.get(label).copied().flatten();
        match &entry.kind {
            TraceKind::Harness(HarnessEvent::VaultWiped)
            | TraceKind::Protocol(Event::VaultCleared { .. }) => {
                self.stored.insert(label.to_string(), None);
            }
            TraceKind::Protocol(Event::Started { ms_version, .. }) => {
                self.stored.insert(label.to_string(), *ms_version);
                if let (Some(before), after) = (before, ms_version) {
                    if after.is_none_or(|a| a < before) {
                        return violation(format!(
                            "restarted with Meta Storage version {after:?} after storing {before}, without a wipe"
                        ));
                    }
                }
            }
            TraceKind::Protocol(Event::MsVersionStored { from, to }) => {
                self.stored.insert(label.to_string(), Some(*to));
                if let Some(before) = before.or(*from) {
                    if *to < before {
                        return violation(format!(
                            "Meta Storage version went from {before} down to {to}"
                        ));
                    }
                }
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn ms_version_going_down_trips() {
        let v = feed(vec![
            ("a", started(1, Some(3))),
            (
                "a",
                Event::MsVersionStored {
                    from: Some(3),
                    to: 2,
                },
            ),
        ]);
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysMsVersionMonotonic);
        // A restart that lost the version without a wipe.
        let v = feed(vec![("a", started(1, Some(3))), ("a", started(2, Some(1)))]);
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysMsVersionMonotonic);
        // After a wipe, starting empty is fine.
        let mut checker = Checker::new(facts());
        assert!(checker.observe(&entry("a", started(1, Some(3)))).is_none());
        let wipe = TraceEntry {
            time_us: 2,
            node: "a".into(),
            kind: TraceKind::Harness(HarnessEvent::VaultWiped),
        };
        assert!(checker.observe(&wipe).is_none());
        assert!(checker.observe(&entry("a", started(2, None))).is_none());
    }
}
