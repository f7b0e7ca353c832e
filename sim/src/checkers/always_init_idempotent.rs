//! `always_init_idempotent`, the part checked after every event: a node of cluster T (the tag it
//! holds) that answers an init with `parameters_differ` naming itself was not asked for the very
//! command T was created with (its `InitStarted`: name, CMG and MS lists; the request trimmed,
//! sorted, and defaulted CMG ↔ MS). The other part — two successful answers to one command
//! carry one tag — is checked over the user's answers at the end of every scenario run
//! (`scenario::runner`).

use joinsim::{Event, InitError};

use super::history::requested_command;
use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Compares each `parameters_differ` refusal with the command the refuser's cluster was created
/// with.
#[derive(Debug, Default)]
pub struct AlwaysInitIdempotent;

impl Check for AlwaysInitIdempotent {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysInitIdempotent
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let TraceKind::Protocol(Event::InitAnswered {
            request,
            result: Err(InitError::ParametersDiffer { node, detail }),
        }) = &entry.kind
        else {
            return None;
        };
        // A node of a cluster compares an init with the command its cluster was created with
        // (docs/spec.md §5): a repeat of that command is never "its parameters differ" by the
        // node's own word.
        let label = entry.node.as_str();
        let params = history.init_requests.get(&(label.to_string(), request.0));
        let own = history.tag_of.get(label).cloned().flatten();
        let created = own.as_ref().and_then(|t| history.commands.get(t));
        if Some(node.as_str()) == history.name_of(label)
            && created.is_some()
            && params.and_then(requested_command).as_ref() == created
        {
            let tag = own.expect("a created command has a tag");
            return Some(Violation::at(
                entry,
                Invariant::AlwaysInitIdempotent,
                vec![label.into()],
                format!(
                    "{label}, a node of cluster {tag}, refused a repeat of the init command {tag} was created with as parameters_differ: {detail}"
                ),
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    fn init_params(cmg: &[&str]) -> joinsim::InitParams {
        joinsim::InitParams {
            cluster_name: "c".into(),
            ms_nodes: Vec::new(),
            cmg_nodes: cmg.iter().map(|n| n.to_string()).collect(),
        }
    }

    /// `a` creates cluster `tag(1)` with CMG (and so MS) [a, b], joins it, and is then sent
    /// `requested`, which it refuses with `parameters_differ` naming `refuser`.
    fn repeat_refused(requested: &[&str], refuser: &str) -> Option<Violation> {
        feed(vec![
            ("a", init_started_ab()),
            (
                "a",
                Event::JoinAccepted {
                    tag: tag(1),
                    stored_ms_version: None,
                    cluster_ms_version: 1,
                },
            ),
            (
                "a",
                Event::InitReceived {
                    request: joinsim::RequestId(2),
                    params: init_params(requested),
                },
            ),
            (
                "a",
                Event::InitAnswered {
                    request: joinsim::RequestId(2),
                    result: Err(joinsim::InitError::ParametersDiffer {
                        node: refuser.into(),
                        detail: "Meta Storage node names do not match".into(),
                    }),
                },
            ),
        ])
    }

    #[test]
    fn a_repeat_of_the_creating_init_refused_as_parameters_differ_trips() {
        // The same command, lists in another order: a repeat, never "parameters differ".
        assert_eq!(
            repeat_refused(&["b", " a"], "a").unwrap().invariant,
            Invariant::AlwaysInitIdempotent
        );
        // Another command, or a refusal by another node (which may hold another init): fine.
        assert_eq!(repeat_refused(&["a"], "a"), None);
        assert_eq!(repeat_refused(&["a", "b"], "b"), None);
    }
}
