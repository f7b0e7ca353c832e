//! The properties checked on every state of a small world (docs/explore.md lists them with their
//! spec sources). They are stated on the model's state, independently of the model's rules: a
//! wrong rule that lets a move through shows up as a state that breaks one of them.
//!
//! - `always`: safety invariants of spec §3 (and §5's "no cancel of an answered cluster");
//! - `eventually`: liveness at quiescence (spec §3, "Liveness"): each condition holds only in a
//!   state where no move is left, so a path satisfies it exactly when it ends in a state where
//!   the goal holds (the world's move graph is a DAG: every path ends);
//! - `sometimes`: interesting states, each of which the explorer must reach.

use joinsim_model::{Cluster, Mark, Tag, WorldState};
use stateright::Property;

use super::model::WorldModel;

/// Every property, in report order.
pub fn all() -> Vec<Property<WorldModel>> {
    vec![
        Property::always("one_tag_per_cmg", one_tag_per_cmg),
        Property::always(
            "lt_members_validated_and_ready",
            lt_members_validated_and_ready,
        ),
        Property::always("lt_members_hold_the_tag", lt_members_hold_the_tag),
        Property::always("validated_only_compatible", validated_only_compatible),
        Property::always("answered_never_cancelled", answered_never_cancelled),
        Property::always("names_unique_in_lt", names_unique_in_lt),
        Property::always("ms_version_never_decreases", ms_version_never_decreases),
        Property::always(
            "ms_version_within_the_clusters",
            ms_version_within_the_clusters,
        ),
        Property::eventually("quiescent_nodes_settled", quiescent_nodes_settled),
        Property::eventually("quiescent_inits_decided", quiescent_inits_decided),
        Property::sometimes("node_joined", node_joined),
        Property::sometimes("init_answered", init_answered),
        Property::sometimes("init_cancelled", init_cancelled),
        Property::sometimes("stale_node_caught_up", stale_node_caught_up),
        Property::sometimes("join_rejected_by_tag", join_rejected_by_tag),
        Property::sometimes("rejoin_replaced_lt_entry", rejoin_replaced_lt_entry),
        Property::sometimes("dead_node_left_lt", dead_node_left_lt),
        Property::sometimes("ms_reconfigured", ms_reconfigured),
    ]
}

/// The spec sentence each property is stated from (docs/explore.md prints the same table).
pub fn source(name: &str) -> &'static str {
    match name {
        "one_tag_per_cmg" => "§3: one tag per CMG, never changed once committed",
        "lt_members_validated_and_ready" => {
            "§3: every LT member was validated and sent join ready, for that launch, to that cluster"
        }
        "lt_members_hold_the_tag" => {
            "§3: every LT member holds the cluster's tag (or was empty) and MS version ≤ the cluster's"
        }
        "validated_only_compatible" => {
            "step 4: stored tag differs → reject; X > Y → reject (the validated set holds only compatible launches)"
        }
        "answered_never_cancelled" => {
            "§5: once any user got the tag of a cluster as the answer to an init, no cancel clears it"
        }
        "names_unique_in_lt" => "§5: names are unique among live nodes (one LT entry per name)",
        "ms_version_never_decreases" => "§3: each node's MS version never decreases",
        "ms_version_within_the_clusters" => {
            "§3: MS version ≤ the cluster's (a node never stores a version its CMG did not commit)"
        }
        "quiescent_nodes_settled" => {
            "§3 liveness: every live, compatible node is in the LT, every incompatible one holds a final rejection"
        }
        "quiescent_inits_decided" => "§3 liveness: every init has answered (or was cancelled)",
        "node_joined" => "step 4: join ready moves the node into the LT",
        "init_answered" => "step 2: the user gets success, with the tag",
        "init_cancelled" => "step 2: the initiator cancels",
        "stale_node_caught_up" => "scenario 4: X < Y is a stale node that catches up to Y",
        "join_rejected_by_tag" => "scenario 3: its join is rejected (tag mismatch)",
        "rejoin_replaced_lt_entry" => {
            "step 4: a same-name node with a new launch id replaces the old LT entry"
        }
        "dead_node_left_lt" => "also: a member declared dead is removed from the LT",
        "ms_reconfigured" => {
            "also: an admin command changes the MS node list through the CMG (MS version+1)"
        }
        _ => "",
    }
}

/// The committed tag and Meta Storage version of a cluster.
fn committed(c: &Cluster) -> Option<(&Tag, u64)> {
    c.committed.as_ref().map(|(t, _)| (t, c.ms_version))
}

/// What each request of `launch` presented (any node: a launch belongs to one).
fn presented(s: &WorldState, launch: u64) -> Vec<Option<(Tag, u64)>> {
    s.model()
        .nodes()
        .values()
        .flat_map(|n| n.requests.iter())
        .filter(|(l, _)| *l == launch)
        .map(|(_, p)| p.clone())
        .collect()
}

/// True when a request presenting `p` may join a cluster of tag `tag` at version `y`.
fn compatible(p: &Option<(Tag, u64)>, tag: &Tag, y: u64) -> bool {
    p.as_ref().is_none_or(|(t, x)| t == tag && *x <= y)
}

fn one_tag_per_cmg(_: &WorldModel, s: &WorldState) -> bool {
    let m = s.model();
    let mut seen = std::collections::BTreeSet::new();
    m.clusters().iter().all(|(init, c)| {
        let Some((tag, _)) = committed(c) else {
            return true;
        };
        let sent_ok = m.inits().get(init).is_none_or(|sent| &sent.tag == tag);
        sent_ok && seen.insert(tag.clone())
    })
}

fn lt_members_validated_and_ready(_: &WorldModel, s: &WorldState) -> bool {
    let m = s.model();
    m.clusters().values().all(|c| {
        let tag = c.committed.as_ref().map(|(t, _)| t);
        c.lt.iter().all(|(name, launch)| {
            c.ever_validated.contains(&(name.clone(), *launch))
                && m.nodes()
                    .get(name)
                    .is_some_and(|n| n.ready.iter().any(|(l, t)| l == launch && Some(t) == tag))
        })
    })
}

fn lt_members_hold_the_tag(_: &WorldModel, s: &WorldState) -> bool {
    let m = s.model();
    s.live_clusters().iter().all(|(_, c)| {
        let Some((tag, y)) = committed(c) else {
            return true;
        };
        c.lt.iter().all(|(name, launch)| {
            let requests_ok = presented(s, *launch).iter().all(|p| compatible(p, tag, y));
            let n = &m.nodes()[name.as_str()];
            let current = n.running && n.launch == Some(*launch);
            let vault_ok = !current
                || n.vault
                    .as_ref()
                    .is_some_and(|v| &v.tag == tag && v.ms_version.is_none_or(|x| x <= y));
            requests_ok && vault_ok
        })
    })
}

fn validated_only_compatible(_: &WorldModel, s: &WorldState) -> bool {
    s.model().clusters().values().all(|c| {
        let Some((tag, y)) = committed(c) else {
            return true;
        };
        c.validated
            .values()
            .all(|launch| presented(s, *launch).iter().all(|p| compatible(p, tag, y)))
    })
}

fn answered_never_cancelled(_: &WorldModel, s: &WorldState) -> bool {
    let m = s.model();
    m.answered().iter().all(|tag| {
        !m.cancelled().contains(tag)
            && m.clusters()
                .values()
                .filter(|c| committed(c).is_some_and(|(t, _)| t == tag))
                .all(|c| c.fate != Some(joinsim_model::Fate::Cancelled))
    })
}

fn names_unique_in_lt(_: &WorldModel, s: &WorldState) -> bool {
    s.model().clusters().values().all(|c| {
        c.lt_history.values().all(|members| {
            let names: std::collections::BTreeSet<&String> =
                members.iter().map(|(n, _)| n).collect();
            names.len() == members.len()
        })
    })
}

fn ms_version_never_decreases(_: &WorldModel, s: &WorldState) -> bool {
    s.model().nodes().values().all(|n| {
        let Some((tag, Some(v))) = n.vault.as_ref().map(|v| (&v.tag, v.ms_version)) else {
            return true;
        };
        n.held
            .iter()
            .flatten()
            .all(|h| &h.tag != tag || h.ms_version.is_none_or(|x| x <= v))
    })
}

fn ms_version_within_the_clusters(_: &WorldModel, s: &WorldState) -> bool {
    let m = s.model();
    m.nodes().values().all(|n| {
        let Some(v) = &n.vault else {
            return true;
        };
        m.clusters()
            .values()
            .filter_map(committed)
            .filter(|(t, _)| *t == &v.tag)
            .all(|(_, y)| v.ms_version.is_none_or(|x| x <= y))
    })
}

/// True when no move is left: the world is quiescent.
fn quiescent(model: &WorldModel, s: &WorldState) -> bool {
    model.world.enabled(s).is_empty()
}

fn nodes_settled(model: &WorldModel, s: &WorldState) -> bool {
    let live = s.live_clusters();
    let Some((_, c)) = live.first() else {
        return true;
    };
    let Some((tag, y)) = committed(c) else {
        return true;
    };
    model.world.nodes().iter().all(|node| {
        let n = &s.model().nodes()[node.as_str()];
        if s.halted().contains(node) {
            // A rejection must be true to its facts: the node held another tag or a newer
            // Meta Storage version.
            n.launch
                .is_some_and(|l| presented(s, l).iter().any(|p| !compatible(p, tag, y)))
        } else {
            n.running && n.launch.is_some_and(|l| c.lt.get(node) == Some(&l))
        }
    })
}

fn quiescent_nodes_settled(model: &WorldModel, s: &WorldState) -> bool {
    nodes_settled(model, s) && quiescent(model, s)
}

fn inits_decided(s: &WorldState) -> bool {
    let m = s.model();
    m.inits()
        .iter()
        .all(|(init, sent)| m.answered().contains(&sent.tag) || s.cancelled_inits().contains(init))
}

fn quiescent_inits_decided(model: &WorldModel, s: &WorldState) -> bool {
    inits_decided(s) && quiescent(model, s)
}

fn node_joined(_: &WorldModel, s: &WorldState) -> bool {
    s.model().clusters().values().any(|c| !c.lt.is_empty())
}

fn init_answered(_: &WorldModel, s: &WorldState) -> bool {
    !s.model().answered().is_empty()
}

fn init_cancelled(_: &WorldModel, s: &WorldState) -> bool {
    !s.cancelled_inits().is_empty()
}

fn stale_node_caught_up(_: &WorldModel, s: &WorldState) -> bool {
    let m = s.model();
    m.clusters().values().any(|c| {
        c.lt.iter().any(|(name, launch)| {
            let n = &m.nodes()[name.as_str()];
            let Some((_, tag, y)) = n.accepted.as_ref().filter(|(l, _, _)| l == launch) else {
                return false;
            };
            n.requests
                .iter()
                .any(|(l, p)| l == launch && p.as_ref().is_some_and(|(t, x)| t == tag && x < y))
                && n.vault.as_ref().and_then(|v| v.ms_version) >= Some(*y)
        })
    })
}

fn join_rejected_by_tag(_: &WorldModel, s: &WorldState) -> bool {
    let m = s.model();
    s.halted().iter().any(|node| {
        let n = &m.nodes()[node.as_str()];
        n.requests.iter().any(|(l, p)| {
            Some(*l) == n.launch
                && p.as_ref().is_some_and(|(t, _)| {
                    m.clusters()
                        .values()
                        .filter_map(committed)
                        .any(|(tag, _)| tag != t)
                })
        })
    })
}

fn rejoin_replaced_lt_entry(_: &WorldModel, s: &WorldState) -> bool {
    s.marks().contains(&Mark::RejoinReplacedLtEntry)
}

fn dead_node_left_lt(_: &WorldModel, s: &WorldState) -> bool {
    s.marks().contains(&Mark::DeadLeftLt)
}

fn ms_reconfigured(_: &WorldModel, s: &WorldState) -> bool {
    // A version above the one the cluster was committed with, applied by the Meta Storage.
    s.model().clusters().iter().any(|(init, c)| {
        let first = if s.model().inits().contains_key(init) {
            1
        } else {
            joinsim_model::RESTORED_MS_VERSION
        };
        c.ms_version > first && c.ms_applied == c.ms_version
    })
}
