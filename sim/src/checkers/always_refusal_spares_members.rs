//! `always_refusal_spares_members`: a pre-init refusal by tag of the tag a node holds (of an init
//! not cancelled) never halts a member of a live cluster of its own (docs/spec.md §5;
//! docs/protocol.md, "a refusal never halts a live cluster"): a node accepted by its cluster
//! (not sent back to join since, nor cleared by a cancel), hosting a replica that knows a leader,
//! or within its start grace while a CMG incarnation that committed its tag has a leader; nor,
//! from a "first admitted wins" refusal (`conflicting_tag`, by an empty node), a CMG voter whose
//! replica applied its cluster's init since it started, no cancel of that init decided (fuzz
//! seeds 17009011, 17011047). A member that is none of these — its cluster out of sight — may be
//! refused.

use joinsim::{Event, GroupKind, RejectionReason};

use super::history::refused_tag;
use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Looks at every halt on a pre-init refusal by tag.
#[derive(Debug, Default)]
pub struct AlwaysRefusalSparesMembers;

impl Check for AlwaysRefusalSparesMembers {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysRefusalSparesMembers
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let TraceKind::Protocol(Event::Halted { rejection }) = &entry.kind else {
            return None;
        };
        let refused = refused_tag(rejection)?;
        let label = entry.node.as_str();
        // A refusal of a tag the node no longer holds, or of a cancelled init's, is
        // `always_cancelled_member_told`'s.
        if history.tag_of.get(label).cloned().flatten().as_ref() != Some(refused)
            || history.cancelled_init_of(refused).is_some()
        {
            return None;
        }
        let hosted_leader = if history.cmg_of.contains_key(label) {
            history.knows_leader.get(&(label.to_string(), GroupKind::Cmg))
        } else {
            history.knows_leader.get(&(label.to_string(), GroupKind::Ms))
        };
        let live = history
            .cmg_leader_now
            .keys()
            .any(|i| history.clusters.get(i).is_some_and(|c| &c.tag == refused));
        let voter_of_committed = matches!(rejection.reason, RejectionReason::ConflictingTag { .. })
            && history
                .cluster_in_log
                .get(label)
                .is_some_and(|(i, t)| t == refused && !history.fate_cancelled.contains(i));
        let why = if history.accepted.contains(label) {
            "accepted by its cluster"
        } else if hosted_leader == Some(&true) {
            "hosting a replica that knows a leader"
        } else if history.within_start_grace(label, entry.time_us) && live {
            "within its start grace while its cluster has a CMG leader"
        } else if voter_of_committed {
            "a CMG voter whose replica committed its cluster, refused by an empty node (\"first admitted wins\" is for newcomers)"
        } else {
            return None;
        };
        Some(Violation::at(
            entry,
            Invariant::AlwaysRefusalSparesMembers,
            vec![label.to_string(), rejection.by.clone()],
            format!("{label}, a member of a live cluster ({why}), was halted: {rejection}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_refusal_that_halts_a_member_of_a_live_cluster_trips() {
        let trips = |v: Option<Violation>| {
            assert_eq!(v.unwrap().invariant, Invariant::AlwaysRefusalSparesMembers)
        };
        // Accepted by its cluster.
        trips(feed(vec![
            ("b", started(2, None)),
            (
                "b",
                Event::JoinAccepted {
                    tag: tag(1),
                    stored_ms_version: None,
                    cluster_ms_version: 1,
                },
            ),
            ("b", refused_by_tag(tag(1))),
        ]));
        // Hosting a replica that knows a leader.
        let hosting = vec![
            ("b", initialized(2)),
            ("b", cmg_started()),
            (
                "b",
                Event::RoleChanged {
                    group: GroupKind::Cmg,
                    instance: I,
                    role: Role::Follower,
                    term: 2,
                    leader: Some("a".into()),
                },
            ),
            ("b", refused_by_tag(tag(1))),
        ];
        trips(feed(hosting));
        // Within its start grace (4 s) while its cluster has a CMG leader; not after it.
        let live = |halted_at_us: u64| {
            feed_with_timing(vec![
                (1, "a", cmg_started()),
                (2, "a", init_applied(1, 1, 2)),
                (
                    3,
                    "a",
                    Event::RoleChanged {
                        group: GroupKind::Cmg,
                        instance: I,
                        role: Role::Leader,
                        term: 2,
                        leader: Some("a".into()),
                    },
                ),
                (1_000_000, "b", initialized(2)),
                (halted_at_us, "b", refused_by_tag(tag(1))),
            ])
        };
        trips(live(1_010_000));
        assert_eq!(live(5_010_000), None);
        // A node that is none of these (its cluster gone, its grace over) may be halted.
        assert_eq!(
            feed_with_timing(vec![
                (1_000_000, "b", initialized(2)),
                (1_010_000, "b", refused_by_tag(tag(1))),
            ]),
            None
        );
    }

    #[test]
    fn a_first_admitted_wins_refusal_that_halts_a_committed_cmg_voter_trips() {
        // b hosts a CMG replica that applied the cluster-init of tag 1; its grace is over and no
        // leader is in sight (the other voter is down), then an empty node refuses it.
        let halted = |reason: joinsim::RejectionReason, cancelled: bool| {
            let mut events = vec![
                (1_000_000, "b", initialized(2)),
                (1_000_001, "b", cmg_started()),
                (1_000_002, "b", init_applied(1, 1, 2)),
            ];
            if cancelled {
                events.push((
                    1_000_003,
                    "b",
                    Event::InitFateApplied {
                        instance: I,
                        fate: Some(joinsim::InitFate::Cancelled),
                        index: 3,
                    },
                ));
            }
            events.push((
                9_000_000,
                "b",
                Event::Halted {
                    rejection: joinsim::Rejection {
                        stage: joinsim::RejectionStage::PreInit,
                        by: "c".into(),
                        reason,
                    },
                },
            ));
            feed_with_timing(events)
        };
        let conflicting = joinsim::RejectionReason::ConflictingTag {
            joiner: tag(1),
            member: "x".into(),
            member_tag: tag(2),
        };
        assert_eq!(
            halted(conflicting.clone(), false).unwrap().invariant,
            Invariant::AlwaysRefusalSparesMembers
        );
        // A refusal by a node of another cluster still halts it; so does any refusal once its
        // CMG cancelled the init.
        let mismatch = joinsim::RejectionReason::TagMismatch {
            joiner: tag(1),
            cluster: tag(2),
        };
        assert_eq!(halted(mismatch, false), None);
        assert_eq!(halted(conflicting, true), None);
    }
}
