//! `always_ms_config_applied_in_version_order`: a Meta Storage replica installs configurations in
//! version order — no `MsConfigApplied` of a replica carries a lower version than one before it,
//! from the replica's (re)start (a restart replays its log from index 1). The CMG
//! commits every change of the Meta Storage list under the next version and the Meta Storage
//! applies it with that version, so the configuration a replica holds never goes back to an
//! older one (docs/protocol.md, Meta Storage; IGNITE-22818: reconfigurations applied out of order
//! left nodes with different learner sets, fixed by serialized, tagged updates).

use std::collections::BTreeMap;

use joinsim::{Event, GroupKind, InstanceId};

use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// The last configuration version each running Meta Storage replica installed.
#[derive(Debug, Default)]
pub struct AlwaysMsConfigAppliedInVersionOrder {
    /// By node label: the replica's incarnation and the last version it installed.
    installed: BTreeMap<String, (InstanceId, u64)>,
}

impl Check for AlwaysMsConfigAppliedInVersionOrder {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysMsConfigAppliedInVersionOrder
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let label = entry.node.as_str();
        match &entry.kind {
            TraceKind::Protocol(Event::GroupStarted {
                group: GroupKind::Ms,
                ..
            }) => {
                // A (re)started replica replays its log from index 1.
                self.installed.remove(label);
                None
            }
            TraceKind::Protocol(Event::MsConfigApplied {
                version,
                nodes,
                index,
            }) => {
                let instance = history.ms_of.get(label).copied()?;
                let before = self.installed.insert(label.to_string(), (instance, *version));
                match before {
                    Some((i, last)) if i == instance && last > *version => Some(Violation::at(
                        entry,
                        Invariant::AlwaysMsConfigAppliedInVersionOrder,
                        vec![label.into()],
                        format!(
                            "{label}'s Meta Storage replica (init {instance:?}) installed version {version} ({nodes:?}) at index {index} after version {last}"
                        ),
                    )),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    fn applied(version: u64, index: u64) -> (&'static str, Event) {
        ("a", ms_applied(version, index))
    }

    #[test]
    fn an_older_configuration_after_a_newer_one_trips() {
        let v = feed(vec![("a", ms_started()), applied(1, 1), applied(3, 4), applied(2, 5)]);
        let v = v.expect("version 2 after 3");
        assert_eq!(v.invariant, Invariant::AlwaysMsConfigAppliedInVersionOrder);
    }

    #[test]
    fn a_restart_replays_from_the_first_version() {
        let sound = feed(vec![
            ("a", ms_started()),
            applied(1, 1),
            applied(2, 4),
            ("a", ms_started()),
            applied(1, 1),
            applied(2, 4),
        ]);
        assert_eq!(sound, None);
    }
}
