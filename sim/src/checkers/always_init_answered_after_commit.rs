//! `always_init_answered_after_commit`: a node answers an init with success and tag T only after
//! a CMG incarnation committed the cluster state of T (its `ClusterInitApplied`) and recorded the
//! answer (a replica of it applied `InitFateApplied` with `Answered`). docs/spec.md Step 2: "the
//! user gets success, with the tag, only after that commit"; §5: the answer is recorded in the
//! CMG before it is given, so that no cancel can then destroy the cluster (IGNITE-17067: Ignite
//! replied before a CMG leader existed and before the state was committed).

use std::collections::BTreeSet;

use joinsim::{Event, InitFate, InstanceId};

use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Remembers every incarnation whose answer a replica recorded; checks every successful answer.
#[derive(Debug, Default)]
pub struct AlwaysInitAnsweredAfterCommit {
    /// CMG incarnations a replica of which applied `InitAnswered` as the init's fate.
    recorded: BTreeSet<InstanceId>,
}

impl Check for AlwaysInitAnsweredAfterCommit {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysInitAnsweredAfterCommit
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        match &entry.kind {
            TraceKind::Protocol(Event::InitFateApplied {
                instance,
                fate: Some(InitFate::Answered),
                ..
            }) => {
                self.recorded.insert(*instance);
                None
            }
            TraceKind::Protocol(Event::InitAnswered {
                request,
                result: Ok(tag),
            }) => {
                let committed = |i: &InstanceId| {
                    history
                        .clusters
                        .get(i)
                        .is_some_and(|cluster| &cluster.tag == tag)
                };
                if self.recorded.iter().any(committed) {
                    return None;
                }
                let what = if history.clusters.values().any(|c| &c.tag == tag) {
                    "committed, but no CMG replica recorded the answer"
                } else {
                    "never committed by any CMG"
                };
                Some(Violation::at(
                    entry,
                    Invariant::AlwaysInitAnsweredAfterCommit,
                    vec![entry.node.clone()],
                    format!(
                        "{} answered init request {request:?} with tag {tag}, {what}",
                        entry.node
                    ),
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    fn answered(time: u64) -> (u64, &'static str, Event) {
        (
            time,
            "a",
            Event::InitAnswered {
                request: joinsim::RequestId(1),
                result: Ok(tag(1)),
            },
        )
    }

    fn recorded(time: u64, node: &'static str) -> (u64, &'static str, Event) {
        (
            time,
            node,
            Event::InitFateApplied {
                instance: I,
                fate: Some(joinsim::InitFate::Answered),
                index: 3,
            },
        )
    }

    #[test]
    fn an_answer_before_the_commit_or_before_it_is_recorded_trips() {
        let started = vec![
            (1, "a", init_started_ab()),
            (2, "a", cmg_started()),
            (2, "b", cmg_started()),
        ];
        let before_commit = feed_timed([started.clone(), vec![answered(3)]].concat());
        let v = before_commit.expect("answered before any commit");
        assert_eq!(v.invariant, Invariant::AlwaysInitAnsweredAfterCommit);
        assert!(v.detail.contains("never committed"), "{}", v.detail);
        let unrecorded = feed_timed(
            [
                started.clone(),
                vec![(3, "b", init_applied(1, 1, 2)), answered(4)],
            ]
            .concat(),
        );
        let v = unrecorded.expect("committed, answer not recorded");
        assert!(v.detail.contains("no CMG replica recorded"), "{}", v.detail);
        // Committed, recorded by a replica, then answered: sound.
        let sound = feed_timed(
            [
                started.clone(),
                vec![
                    (3, "b", init_applied(1, 1, 2)),
                    recorded(4, "b"),
                    answered(5),
                ],
            ]
            .concat(),
        );
        assert_eq!(sound, None);
        // An error answer says nothing.
        let error = (
            3,
            "a",
            Event::InitAnswered {
                request: joinsim::RequestId(1),
                result: Err(joinsim::InitError::Timeout {
                    node: "b".into(),
                    waiting_for: "x".into(),
                }),
            },
        );
        assert_eq!(feed_timed([started, vec![error]].concat()), None);
    }
}
