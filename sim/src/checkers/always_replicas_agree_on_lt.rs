//! `always_replicas_agree_on_lt`: every CMG replica's `LtChanged` for one (incarnation, version)
//! lists the members the first replica to report that version listed.

use joinsim::Event;

use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Compares each replica's LT at a version with the first report of that version.
#[derive(Debug, Default)]
pub struct AlwaysReplicasAgreeOnLt;

impl Check for AlwaysReplicasAgreeOnLt {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysReplicasAgreeOnLt
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let TraceKind::Protocol(Event::LtChanged {
            version, members, ..
        }) = &entry.kind
        else {
            return None;
        };
        let label = entry.node.as_str();
        let instance = history.cmg_of.get(label)?;
        let seen = history.lt_versions.get(&(*instance, *version))?;
        (seen != members).then(|| {
            Violation::at(
                entry,
                Invariant::AlwaysReplicasAgreeOnLt,
                vec![label.into()],
                format!(
                    "LT version {version}: {label} has {members:?}, another replica had {seen:?}"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn replicas_disagreeing_on_an_lt_version_trips() {
        let mut history = sound_join();
        history.push(("c", started(3, None)));
        history.push(("c", cmg_started()));
        history.push((
            "c",
            Event::LtChanged {
                version: 1,
                members: vec![("c".into(), LaunchId(3))],
                index: 9,
            },
        ));
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysReplicasAgreeOnLt
        );
    }
}
