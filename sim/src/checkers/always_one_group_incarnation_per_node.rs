//! `always_one_group_incarnation_per_node`: a member entering the LT of CMG incarnation I hosts
//! CMG and Meta Storage replicas of I only (no stray replica of another init survives its
//! acceptance).

use joinsim::GroupKind;

use super::{Check, History, Invariant, LtEntrant, Violation};
use crate::trace::TraceEntry;

/// Looks at the replicas each LT entrant hosts.
#[derive(Debug, Default)]
pub struct AlwaysOneGroupIncarnationPerNode;

impl Check for AlwaysOneGroupIncarnationPerNode {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysOneGroupIncarnationPerNode
    }

    fn observe_lt_entrant(
        &mut self,
        entrant: &LtEntrant,
        entry: &TraceEntry,
        history: &History,
    ) -> Option<Violation> {
        let LtEntrant {
            instance,
            name,
            launch,
            ..
        } = entrant;
        let member = history.label_of(name, *launch)?;
        [GroupKind::Cmg, GroupKind::Ms]
            .into_iter()
            .find_map(|group| {
                let other = history.hosted(member, group).filter(|i| i != instance)?;
                Some(Violation::at(
                    entry,
                    Invariant::AlwaysOneGroupIncarnationPerNode,
                    vec![name.clone()],
                    format!(
                        "{name} entered the LT of incarnation {instance:?} while it hosts a {group} replica of {other:?}"
                    ),
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_member_hosting_a_replica_of_another_init_trips() {
        let mut history = sound_join();
        let at = history.len() - 1;
        history.insert(
            at,
            (
                "b",
                Event::GroupStarted {
                    group: GroupKind::Cmg,
                    instance: InstanceId(99),
                    from_vault: false,
                },
            ),
        );
        assert_eq!(
            feed(history).unwrap().invariant,
            Invariant::AlwaysOneGroupIncarnationPerNode
        );
    }
}
