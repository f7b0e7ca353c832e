//! Trace validation: every run's trace checked against the reference model of IEP-77
//! (`joinsim-model`, written from the spec, not from the code), as etcd-raft and CCF check their
//! implementations' traces against a TLA+ specification.
//!
//! Each trace entry that is a step of the protocol at the IEP's level is mapped onto one model
//! [`Action`] (the mapping is [`action_of`]; the entries it leaves out — messages, Raft roles
//! other than a Meta Storage leader, views, probes, digests — are steps the model does not
//! describe). The model takes the action or refuses it; the first refusal is the run's
//! [`Divergence`], a failure of its own kind (`model_divergence`), reported with the entry that
//! the model could not explain. Every choice is fixed by the trace (the model needs no search),
//! so validation is one pass over the run, entry by entry, as it is recorded.

use std::collections::BTreeMap;
use std::fmt;

use joinsim::event::Event;
use joinsim::{ClusterTag, GroupKind, InitFate, RejectionReason, Role};
use joinsim_model::{Action, Fate, Group, JoinRejection, Refusal, State, Stored, Tag};
use serde::Serialize;

use crate::trace::{HarnessEvent, TraceEntry, TraceKind};

/// The first trace entry the model could not explain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// The entry's number among the run's validated entries (0-based).
    pub entry: u64,
    /// Its simulated time, microseconds.
    pub time_us: u64,
    /// The node it concerns.
    pub node: String,
    /// The entry, as the trace prints it.
    pub event: String,
    /// The model rule it breaks (`answer_after_commit`, ...: docs/model.md).
    pub rule: String,
    /// What the model saw, and the spec sentence of the rule.
    pub detail: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "model_divergence at {}.{:03} ms on {}: the reference model cannot explain `{}`: rule {}: {}",
            self.time_us / 1000,
            self.time_us % 1000,
            self.node,
            self.event,
            self.rule,
            self.detail
        )
    }
}

/// The validator of one run: the model's state after the entries so far, and the first
/// divergence (after which it stops judging).
#[derive(Debug, Default)]
pub struct TraceValidator {
    /// Each node's name, by label (a node may run under another node's name).
    names: BTreeMap<String, String>,
    model: State,
    entries: u64,
    actions: u64,
    divergence: Option<Divergence>,
}

impl TraceValidator {
    /// Learns that the node `label` runs under `name` (every node of the world, before it starts).
    pub fn name_node(&mut self, label: &str, name: &str) {
        self.names.insert(label.to_string(), name.to_string());
    }

    /// Judges one trace entry. Returns the divergence when this entry is the first the model
    /// cannot explain; `None` otherwise (also for every entry after the first divergence).
    pub fn observe(&mut self, entry: &TraceEntry) -> Option<Divergence> {
        let number = self.entries;
        self.entries += 1;
        if self.divergence.is_some() {
            return None;
        }
        let mut action = action_of(entry)?;
        if let Action::Start { node, name, .. } = &mut action {
            if let Some(known) = self.names.get(node.as_str()) {
                *name = known.clone();
            }
        }
        self.actions += 1;
        let refusal: Refusal = self.model.step(&action).err()?;
        let divergence = Divergence {
            entry: number,
            time_us: entry.time_us,
            node: entry.node.clone(),
            event: entry.to_string().trim().to_string(),
            rule: refusal.rule.name().to_string(),
            detail: format!("{} (spec {})", refusal.detail, refusal.rule.source()),
        };
        self.divergence = Some(divergence.clone());
        Some(divergence)
    }

    /// The first divergence, if any.
    pub fn divergence(&self) -> Option<&Divergence> {
        self.divergence.as_ref()
    }

    /// How many entries it saw, and how many of them were model actions.
    pub fn counts(&self) -> (u64, u64) {
        (self.entries, self.actions)
    }
}

/// The model's tag for a cluster tag.
fn tag(t: &ClusterTag) -> Tag {
    Tag {
        name: t.name.clone(),
        id: t.id.0,
    }
}

fn group(kind: GroupKind) -> Group {
    match kind {
        GroupKind::Cmg => Group::Cmg,
        GroupKind::Ms => Group::Ms,
    }
}

fn rejection(reason: &RejectionReason) -> JoinRejection {
    match reason {
        RejectionReason::TagMismatch { .. } => JoinRejection::TagMismatch,
        RejectionReason::MsVersionAhead { .. } => JoinRejection::MsVersionAhead,
        other => JoinRejection::Other(format!("{other:?}")),
    }
}

/// The model action a trace entry is, or `None` for an entry the model does not describe.
pub fn action_of(entry: &TraceEntry) -> Option<Action> {
    let node = entry.node.clone();
    match &entry.kind {
        TraceKind::Harness(h) => match h {
            HarnessEvent::NodeKilled => Some(Action::Kill { node }),
            HarnessEvent::VaultWiped => Some(Action::Wipe { node }),
            HarnessEvent::StorageFault { .. } | HarnessEvent::VaultRecordRefused { .. } => {
                Some(Action::StorageFault { node })
            }
            _ => None,
        },
        TraceKind::Protocol(e) => protocol_action(node, e),
        TraceKind::Message(_) | TraceKind::Verdict(_) => None,
    }
}

fn protocol_action(node: String, event: &Event) -> Option<Action> {
    Some(match event {
        Event::Started {
            launch,
            tag: t,
            ms_version,
        } => Action::Start {
            // The name is the label's until the validator, which knows the world's names,
            // sets it.
            name: node.clone(),
            node,
            launch: launch.0,
            stored: t.as_ref().map(|t| Stored {
                tag: tag(t),
                ms_version: *ms_version,
            }),
        },
        Event::Halted { .. } => Action::Halt { node },
        Event::LeftGracefully { .. } => Action::Leave { node },
        Event::Admitted {
            member,
            launch,
            tag: t,
        } => Action::Admit {
            by: node,
            member: member.clone(),
            launch: launch.0,
            tag: t.as_ref().map(tag),
        },
        Event::InitStarted {
            init,
            tag: t,
            cmg_nodes,
            ms_nodes,
            ..
        } => Action::InitSent {
            node,
            init: init.0,
            tag: tag(t),
            cmg: cmg_nodes.clone(),
            ms: ms_nodes.clone(),
        },
        Event::GroupStarted {
            group: g,
            instance,
            from_vault,
        } => Action::GroupStarted {
            node,
            group: group(*g),
            init: instance.0,
            from_vault: *from_vault,
        },
        Event::GroupDestroyed { group: g, instance } => Action::GroupDestroyed {
            node,
            group: group(*g),
            init: instance.0,
        },
        Event::RoleChanged {
            group: GroupKind::Ms,
            instance,
            role: Role::Leader,
            ..
        } => Action::MsLeader {
            node,
            init: instance.0,
        },
        Event::ClusterInitApplied {
            instance,
            tag: t,
            ms_version,
            cmg_nodes,
            index,
            ..
        } => Action::ClusterInit {
            node,
            init: instance.0,
            tag: tag(t),
            cmg: cmg_nodes.clone(),
            ms_version: *ms_version,
            index: *index,
        },
        Event::InitAnswered { result: Ok(t), .. } => Action::InitAnswered { node, tag: tag(t) },
        Event::InitFateApplied {
            instance,
            fate: Some(fate),
            index,
        } => Action::FateApplied {
            node,
            init: instance.0,
            fate: match fate {
                InitFate::Answered => Fate::Answered,
                InitFate::Cancelled => Fate::Cancelled,
            },
            index: *index,
        },
        Event::VaultCleared { init } => Action::VaultCleared { node, init: init.0 },
        Event::JoinRequestSent { stored, .. } => Action::JoinRequest {
            node,
            stored: stored.as_ref().map(|(t, v)| (tag(t), *v)),
        },
        Event::Validated {
            node: joiner,
            launch,
            index,
        } => Action::Validated {
            node,
            joiner: joiner.clone(),
            launch: launch.0,
            index: *index,
        },
        Event::JoinRejected {
            node: joiner,
            launch,
            reason,
            index,
        } => Action::Rejected {
            node,
            joiner: joiner.clone(),
            launch: launch.0,
            reason: rejection(reason),
            index: *index,
        },
        Event::JoinAccepted {
            tag: t,
            stored_ms_version,
            cluster_ms_version,
        } => Action::JoinAccepted {
            node,
            tag: tag(t),
            stored_ms: *stored_ms_version,
            cluster_ms: *cluster_ms_version,
        },
        Event::MsVersionStored { from, to } => Action::MsVersionStored {
            node,
            from: *from,
            to: *to,
        },
        Event::RecoveryFinished { ms_version } => Action::RecoveryFinished {
            node,
            ms_version: *ms_version,
        },
        Event::JoinReadySent { .. } => Action::JoinReady { node },
        Event::Joined { lt_version } => Action::Joined {
            node,
            lt_version: *lt_version,
        },
        Event::LtChanged {
            version,
            members,
            index,
        } => Action::LtChanged {
            node,
            version: *version,
            members: members.iter().map(|(n, l)| (n.clone(), l.0)).collect(),
            index: *index,
        },
        Event::NodesLeft { nodes, index } => Action::NodesLeft {
            node,
            nodes: nodes.iter().map(|(n, l)| (n.clone(), l.0)).collect(),
            index: *index,
        },
        Event::MsNodesChanged {
            version,
            nodes,
            index,
        } => Action::MsNodesChanged {
            node,
            version: *version,
            nodes: nodes.clone(),
            index: *index,
        },
        Event::MsConfigApplied {
            version,
            nodes,
            index,
        } => Action::MsConfigApplied {
            node,
            version: *version,
            nodes: nodes.clone(),
            index: *index,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use joinsim::{ClusterId, InstanceId, LaunchId};

    fn entry(node: &str, event: Event) -> TraceEntry {
        TraceEntry {
            time_us: 1_000,
            node: node.into(),
            kind: TraceKind::Protocol(event),
        }
    }

    fn started(node: &str, launch: u64) -> TraceEntry {
        entry(
            node,
            Event::Started {
                launch: LaunchId(launch),
                tag: None,
                ms_version: None,
            },
        )
    }

    #[test]
    fn entries_map_to_actions_and_others_are_left_out() {
        let t = ClusterTag {
            name: "c1".into(),
            id: ClusterId(7 << 96),
        };
        assert_eq!(
            action_of(&entry(
                "a",
                Event::InitAnswered {
                    request: joinsim::RequestId(1),
                    result: Ok(t.clone()),
                }
            )),
            Some(Action::InitAnswered {
                node: "a".into(),
                tag: Tag {
                    name: "c1".into(),
                    id: 7 << 96
                }
            })
        );
        assert_eq!(
            action_of(&entry(
                "a",
                Event::RoleChanged {
                    group: GroupKind::Cmg,
                    instance: InstanceId(1),
                    role: Role::Leader,
                    term: 2,
                    leader: Some("a".into()),
                }
            )),
            None,
            "a CMG leader is Raft's business"
        );
        assert_eq!(
            action_of(&entry(
                "a",
                Event::RoleChanged {
                    group: GroupKind::Ms,
                    instance: InstanceId(1),
                    role: Role::Leader,
                    term: 2,
                    leader: Some("a".into()),
                }
            )),
            Some(Action::MsLeader {
                node: "a".into(),
                init: 1
            })
        );
        let killed = TraceEntry {
            time_us: 0,
            node: "b".into(),
            kind: TraceKind::Harness(HarnessEvent::NodeKilled),
        };
        assert_eq!(action_of(&killed), Some(Action::Kill { node: "b".into() }));
    }

    #[test]
    fn the_first_divergence_is_kept_and_nothing_after_it_is_judged() {
        let mut v = TraceValidator::default();
        assert_eq!(v.observe(&started("a", 1)), None);
        // The same launch again: the model refuses it.
        let second = v.observe(&started("a", 1)).expect("a divergence");
        assert_eq!(second.rule, "launch_is_new");
        assert_eq!(second.entry, 1);
        assert_eq!(second.node, "a");
        // Nothing more is judged, and the first divergence stays.
        assert_eq!(v.observe(&started("a", 1)), None);
        assert_eq!(v.divergence(), Some(&second));
        assert_eq!(v.counts(), (3, 2));
    }

    #[test]
    fn a_node_runs_under_the_name_the_world_gives_it() {
        // d1 runs as a2: a CMG replica of an init naming a2 is its own.
        let mut v = TraceValidator::default();
        v.name_node("d1", "a2");
        assert_eq!(v.observe(&started("d1", 5)), None);
        let sent = entry(
            "x",
            Event::InitStarted {
                request: joinsim::RequestId(1),
                init: InstanceId(9),
                tag: ClusterTag {
                    name: "c".into(),
                    id: ClusterId(1),
                },
                cmg_nodes: vec!["a2".into()],
                ms_nodes: vec!["a2".into()],
            },
        );
        assert_eq!(v.observe(&started("x", 6)), None);
        assert_eq!(v.observe(&sent), None);
        let group = entry(
            "d1",
            Event::GroupStarted {
                group: GroupKind::Cmg,
                instance: InstanceId(9),
                from_vault: false,
            },
        );
        assert_eq!(v.observe(&group), None);
    }
}
