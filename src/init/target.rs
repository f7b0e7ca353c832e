//! The init target's rules: what a node named in an init answers (docs/protocol.md Step 2). A
//! target compares a requested init with what it holds ([`held_outcome`]: `StartGroups` is
//! answered with a [`StartOutcome`]), reports its groups ([`GroupStatus`]), and decides how a
//! cancel that reaches it is handled ([`cancel_step`], Step 2.6: refuse, let the CMG log decide,
//! fence, wait, or clear).
//!
//! The target owns no state of its own — what it compares with is the node's replicas, vault
//! state and join progress — so these are pure functions of facts the node gathers
//! (`src/node/target.rs`), and their results are applied there.

use serde::{Deserialize, Serialize};

use crate::bugs::PlantedBug;
use crate::cmg::ClusterState;
use crate::init::{InitCommand, InitPlan};
use crate::init_command::InitFate;
use crate::types::{ClusterTag, InstanceId, NodeName};
use crate::vault::LocalState;

/// A named node's answer to [`Message::StartGroups`](crate::message::Message::StartGroups).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartOutcome {
    /// The node runs the groups of this init.
    Started,
    /// The node already holds an init with equal parameters (another attempt).
    Existing {
        /// That attempt.
        init: InstanceId,
        /// Its tag.
        tag: ClusterTag,
    },
    /// The node already holds an init with other parameters.
    Mismatch {
        /// What differs.
        detail: String,
    },
    /// The node cannot start the groups.
    Failed {
        /// Why.
        detail: String,
    },
}

/// What a named node reports about its groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The CMG incarnation it hosts.
    pub cmg_instance: Option<InstanceId>,
    /// The cluster state its CMG replica has applied.
    pub cluster: Option<ClusterState>,
    /// The Meta Storage incarnation it hosts.
    pub ms_instance: Option<InstanceId>,
    /// The Meta Storage leader it knows.
    pub ms_leader: Option<NodeName>,
    /// The fate its CMG replica applied: answered to a user, or cancelled.
    pub init_fate: Option<InitFate>,
}

/// What a named node holds that a requested init is compared with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Holdings<'a> {
    /// The node cancelled the requested init on its side.
    pub cancelled: bool,
    /// Its replicas, CMG first then Meta Storage: incarnation and the plan it was created from
    /// (`None`: a replica of a restored cluster).
    pub hosted: [Option<(InstanceId, Option<&'a InitPlan>)>; 2],
    /// Not initialized, but asking this cluster (tag, CMG incarnation) to let it in.
    pub joining: Option<(&'a ClusterTag, InstanceId)>,
    /// Its vault's cluster, if initialized.
    pub local: Option<&'a LocalState>,
    /// The inits whose fate it does not know yet: a cancel of each is under way here
    /// (`CancelsUnderWay`), or its CMG replica of it is fenced.
    pub undecided: &'a [InstanceId],
}

/// What a named node's holdings say about a requested init ([`held_outcome`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeldOutcome {
    /// It holds nothing the init is compared with: it starts the groups.
    Nothing,
    /// Its answer.
    Answer(StartOutcome),
    /// It would compare the init with `held`, an init whose fate it does not know yet (a cancel
    /// of it is under way here, or its replica of it is fenced): it does not answer until it
    /// knows (docs/protocol.md Step 2.6, "a cancel under way is no ground for a refusal").
    Undecided {
        /// The init it would compare with.
        held: InstanceId,
    },
}

/// The init command a node compares a requested init with: the one its cluster was created with
/// (`LocalState::init`, docs/spec.md §5). `bug` may plant `InitComparesCurrentMsList`.
pub(crate) fn held_init_command(local: &LocalState, bug: Option<PlantedBug>) -> InitCommand {
    if bug == Some(PlantedBug::InitComparesCurrentMsList) {
        // Planted bug: the current Meta Storage list instead of the one given at init.
        let mut ms_nodes = local.config.ms_nodes.clone();
        ms_nodes.sort();
        return InitCommand {
            ms_nodes,
            ..local.init.clone()
        };
    }
    local.init.clone()
}

/// How a requested init (`plan`) compares with what a named node holds. In order: a cancelled
/// init is `Failed`; a replica of this init is `Started`; a replica of another init is compared
/// with that init's command (`Existing` for a repeat, `Mismatch` naming what differs); a node
/// joining another cluster is `Mismatch`; an initialized node compares with its vault's init
/// command; a node that holds nothing starts the groups ([`HeldOutcome::Nothing`]). An init held
/// whose fate the node does not know yet (`Holdings::undecided`) is not compared with:
/// [`HeldOutcome::Undecided`]. `bug` may plant `InitNotIdempotent` (a repeat taken for a new
/// init) or `InitComparesCurrentMsList`.
pub(crate) fn held_outcome(
    plan: &InitPlan,
    holdings: Holdings<'_>,
    bug: Option<PlantedBug>,
) -> HeldOutcome {
    if holdings.cancelled {
        return HeldOutcome::Answer(StartOutcome::Failed {
            detail: "this init was cancelled".into(),
        });
    }
    let undecided = |held: InstanceId| {
        holdings
            .undecided
            .contains(&held)
            .then_some(HeldOutcome::Undecided { held })
    };
    for (instance, held_plan) in holdings.hosted.into_iter().flatten() {
        if instance == plan.init {
            return HeldOutcome::Answer(StartOutcome::Started);
        }
        if let Some(held) = held_plan {
            if let Some(wait) = undecided(held.init) {
                return wait;
            }
            let outcome = compare(plan, &held.command(), &held.config.tag, held.init);
            let repeat = matches!(outcome, StartOutcome::Existing { .. });
            if repeat && bug == Some(PlantedBug::InitNotIdempotent) {
                // Planted bug: a repeat is taken for a new init.
                return HeldOutcome::Nothing;
            }
            return HeldOutcome::Answer(outcome);
        }
    }
    if let Some((tag, instance)) = holdings.joining {
        if instance != plan.init {
            return HeldOutcome::Answer(StartOutcome::Mismatch {
                detail: format!("node is joining cluster {tag}"),
            });
        }
    }
    let Some(local) = holdings.local else {
        return HeldOutcome::Nothing;
    };
    if let Some(wait) = undecided(local.cmg_instance) {
        return wait;
    }
    let held = held_init_command(local, bug);
    HeldOutcome::Answer(compare(plan, &held, &local.config.tag, local.cmg_instance))
}

/// How a requested init compares with the init command a node holds.
fn compare(
    plan: &InitPlan,
    held: &InitCommand,
    held_tag: &ClusterTag,
    held_init: InstanceId,
) -> StartOutcome {
    match plan.command().difference(held) {
        None => StartOutcome::Existing {
            init: held_init,
            tag: held_tag.clone(),
        },
        Some(detail) => StartOutcome::Mismatch { detail },
    }
}

/// A node's CMG replica of the init a cancel names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReplicaFacts {
    /// The fate its state machine applied.
    pub fate: Option<InitFate>,
    /// The tag of the cluster state it applied.
    pub tag: Option<ClusterTag>,
    /// Its group has a leader, or its log holds an answer (`InitAnswered`) that may be committed.
    pub led_or_answering: bool,
    /// Its group's voters.
    pub voters: Vec<NodeName>,
}

/// How a node handles a cancel that reaches it ([`cancel_step`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CancelStep {
    /// The init was answered to a user: the cancel is refused with its tag.
    Refuse(ClusterTag),
    /// The CMG log decides: the replica proposes the cancel; the canceller is answered when it
    /// applies.
    Propose,
    /// The replica fences itself and acknowledges undecided, naming its group's voters.
    Fence(Vec<NodeName>),
    /// A joined node or a Meta Storage replica waits for the CMG's decision.
    Wait,
    /// The node clears what it holds of the init and acknowledges (`unanswered`: the voters of
    /// its replica when the cancel is not decided).
    Clear {
        /// The cancel is decided.
        decided: bool,
        /// The voters it names in an undecided acknowledgement.
        unanswered: Option<Vec<NodeName>>,
    },
}

/// A cancel reaches a node (docs/protocol.md Step 2.6). The CMG log decides between a cancel and
/// an answer to a user (`InitFate`, first applied wins): a replica of an answered init refuses;
/// a replica of a committed or led group acts only once the cancel is committed (its leader
/// proposes it); a replica that has neither applied a cluster state nor known a leader (its
/// group could not have answered anyone) fences itself. Other nodes clear what they hold of the
/// init (`holds`) only on a cancel the CMG decided (`decided`: the message says so, or this node
/// remembers it decided). `bug` may plant `CancelDestroysLeaderlessReplica`.
pub(crate) fn cancel_step(
    replica: Option<ReplicaFacts>,
    decided: bool,
    holds: bool,
    bug: Option<PlantedBug>,
) -> CancelStep {
    let decided = match &replica {
        Some(ReplicaFacts {
            fate: Some(InitFate::Answered),
            tag,
            ..
        }) => {
            let tag = tag.clone().expect("an answered init has a cluster state");
            return CancelStep::Refuse(tag);
        }
        Some(ReplicaFacts {
            fate: Some(InitFate::Cancelled),
            ..
        }) => true,
        Some(ReplicaFacts { fate: None, .. }) if decided => true,
        Some(ReplicaFacts {
            fate: None,
            led_or_answering,
            voters,
            ..
        }) => {
            if *led_or_answering {
                // Its group has a leader, or its log holds an answer that may be committed:
                // the log decides. The leader proposes the cancel and acknowledges when it
                // applies it; the initiator resends until the decision is known.
                return CancelStep::Propose;
            }
            // No leader, and no answer in its log: this replica fences itself — it keeps
            // its replica (an answer may have been committed by a majority it cannot
            // hear) but takes no part in its group until it learns the init's fate, so it
            // can never help commit an answer. Once enough voters are fenced that no
            // majority is left without them, the canceller takes the cancel as decided
            // and they destroy their replicas; a refusal lifts the fence.
            if bug == Some(PlantedBug::CancelDestroysLeaderlessReplica) {
                false
            } else {
                return CancelStep::Fence(voters.clone());
            }
        }
        None => {
            if holds && !decided {
                // A joined node or a Meta Storage replica cannot tell whether a user was
                // answered: it waits for the CMG's decision.
                return CancelStep::Wait;
            }
            decided
        }
    };
    let unanswered = (!decided).then(|| replica.map(|r| r.voters).unwrap_or_default());
    CancelStep::Clear {
        decided,
        unanswered,
    }
}

#[cfg(test)]
mod tests;
