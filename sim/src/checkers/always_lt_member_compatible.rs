//! `always_lt_member_compatible`: a member entering the LT of a committed cluster holds the
//! cluster's tag (or none) in its vault, has the cluster's protocol version and a compatible
//! product version, and its last join request stored the cluster's tag (or none) and a Meta
//! Storage version no higher than the cluster's.

use super::{Check, History, Invariant, LtEntrant, Violation};
use crate::trace::TraceEntry;

/// Compares each LT entrant with the cluster it enters.
#[derive(Debug, Default)]
pub struct AlwaysLtMemberCompatible;

impl Check for AlwaysLtMemberCompatible {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysLtMemberCompatible
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
        let cluster = history.clusters.get(instance)?;
        let violation = |detail: String| {
            Some(Violation::at(
                entry,
                Invariant::AlwaysLtMemberCompatible,
                vec![name.clone()],
                detail,
            ))
        };
        let member_label = history.label_of(name, *launch);
        // The node holds another cluster's tag (two clusters at once: the hazard).
        if let Some(Some(Some(held))) = member_label.map(|l| history.tag_of.get(l)) {
            if held != &cluster.tag {
                return violation(format!(
                    "{name} entered the LT of {} while it holds the tag {held}",
                    cluster.tag
                ));
            }
        }
        if let Some(facts) = member_label.and_then(|l| history.nodes.get(l)) {
            if facts.protocol != cluster.protocol
                || !facts.product.compatible_with(&cluster.product)
            {
                return violation(format!(
                    "{name} ({} / protocol {}) entered the LT of a {} / protocol {} cluster",
                    facts.product, facts.protocol, cluster.product, cluster.protocol
                ));
            }
        }
        if let Some(Some((tag, ms_version))) = history.join_requests.get(&(name.clone(), *launch))
        {
            if tag != &cluster.tag || *ms_version > cluster.ms_version {
                return violation(format!(
                    "{name} asked to join with tag {tag} and MS version {ms_version}, and entered the LT of {} at MS version {}",
                    cluster.tag, cluster.ms_version
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn lt_member_with_foreign_tag_or_newer_ms_version_trips() {
        for stored in [Some((tag(9), 1)), Some((tag(1), 5))] {
            let mut history = sound_join();
            history[4].1 = Event::JoinRequestSent {
                leader: "a".into(),
                stored,
            };
            assert_eq!(
                feed(history).unwrap().invariant,
                Invariant::AlwaysLtMemberCompatible
            );
        }
        // An incompatible product version.
        let mut f = facts();
        f.get_mut("b").unwrap().product = ProductVersion::new(4, 0, 0);
        let mut checker = Checker::new(f);
        let v = sound_join()
            .into_iter()
            .find_map(|(n, e)| checker.observe(&entry(n, e)));
        assert_eq!(v.unwrap().invariant, Invariant::AlwaysLtMemberCompatible);
    }
}
