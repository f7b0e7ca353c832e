//! Coverage marks: the protocol's decision points, each declared once here, as FoundationDB
//! declares its code probes (`CODE_PROBE(cond, "comment", probe::decoration::rare)`).
//!
//! A node reports a mark as an output, [`Event::Mark`](crate::Event::Mark), pushed by
//! `Node::mark` right beside the code that takes the decision — the one way a protocol mark is
//! reported (a mark is never derived from another event afterwards, even where an event pins the
//! same point: a mark is one line at the decision, and a test checks that every variant has one).
//! Marks are per run and deterministic: they travel in the node's output like any event, so a
//! run's trace holds its marks, and no global counter is shared by the runs of a campaign.
//!
//! Every mark has a [`Rarity`] ([`Mark::rarity`], an exhaustive match): a fuzzing campaign of
//! the default size or larger that leaves a [`Rarity::Common`] mark unhit fails
//! (docs/fuzzing.md, "Coverage marks"), so a regression that makes a common path unreachable
//! fails CI. A [`Rarity::Rare`] mark is not expected in every campaign; its comment says why
//! (measured: how many runs of the default campaign, seeds 0..1000, and of the 6,000-run smoke,
//! seeds 0..6000, hit it). The harness's own marks (a leader change during each join phase, a
//! restart during each phase, hazards, faults) need the whole world's view and are declared in
//! `joinsim-sim` (`sim/src/fuzz/marks.rs`).

use serde::{Deserialize, Serialize};

use crate::error::{InitError, RejectionReason};

/// Whether a fuzzing campaign of the default size is expected to reach a mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rarity {
    /// Reached by the default campaign (`joinsim fuzz`, seeds 0..1000) in at least ten runs:
    /// a campaign of that size that misses it fails.
    Common,
    /// Not expected in every campaign of the default size (reported, never a failure).
    Rare,
}

/// A decision point of the protocol (docs/fuzzing.md, "Coverage marks", lists each with where
/// it is reported and how often campaigns reach it). Its name is the snake_case of the variant
/// (strum: `<&str>::from`, `Mark::iter`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Mark {
    // --- Pre-init validation (docs/protocol.md Step 1) ---
    /// A node refused a joiner at pre-init: protocol versions differ.
    PreInitRefusedProtocolMismatch,
    /// A node refused a joiner at pre-init: product versions differ in major.minor.
    PreInitRefusedProductMismatch,
    /// A node refused a joiner at pre-init: the joiner holds another cluster's tag.
    PreInitRefusedTagMismatch,
    /// A node refused a joiner at pre-init: a member admitted earlier holds another tag (first
    /// admitted wins).
    PreInitRefusedConflictingTag,
    /// A member met outside a handshake (an announce, a probe, a merge) failed the version check.
    EntryRefusedOutsideHandshake,
    /// A node found itself the newcomer of two nodes of different versions that met outside a
    /// handshake, and stopped.
    NewcomerStoppedOutsideHandshake,
    /// An empty node evicted the later of two members admitted with different tags.
    ConflictingAdmissionEvicted,
    /// A node took a pre-init refusal as final and stopped.
    HaltedAtPreInit,
    /// A node ignored a pre-init refusal of a tag it no longer holds (its vault was cleared).
    RefusalIgnoredStale,
    /// A member of a live cluster ignored a pre-init refusal by tag (a refusal never halts a
    /// live cluster).
    RefusalIgnoredLiveMember,
    /// A live member refused at its handshake formed a topology of its own.
    RefusedMemberFormedOwnTopology,

    // --- Init (Step 2) ---
    /// A node started an init attempt as initiator.
    InitStarted,
    /// A user's init was answered with the cluster tag.
    InitAnsweredOk,
    /// An init was answered `blank_cluster_name`.
    InitErrorBlankClusterName,
    /// An init was answered `blank_node_name`.
    InitErrorBlankNodeName,
    /// An init was answered `duplicate_node_name`.
    InitErrorDuplicateNodeName,
    /// An init was answered `not_in_physical_topology`.
    InitErrorNotInPhysicalTopology,
    /// An init was answered `duplicate_member`.
    InitErrorDuplicateMember,
    /// An init was answered `foreign_tag`.
    InitErrorForeignTag,
    /// An init was answered `parameters_differ`.
    InitErrorParametersDiffer,
    /// An init was answered `node_failed`.
    InitErrorNodeFailed,
    /// An init was answered `timeout`.
    InitErrorTimeout,
    /// An init was answered `node_stopped`.
    InitErrorNodeStopped,
    /// An init was answered `busy`.
    InitErrorBusy,
    /// An init request was held back while a cancel of the node's cluster is under way.
    InitDeferred,

    // --- Cancel (Step 2.6) ---
    /// An initiator cancelled its init: a named node did not answer in time.
    InitCancelledOnTimeout,
    /// An initiator cancelled its init: a named node failed to start its groups.
    InitCancelledOnNodeFailed,
    /// An initiator cancelled its init: a named node holds another init.
    InitCancelledOnParametersDiffer,
    /// A node refused a cancel: its CMG replica holds the init's answer.
    CancelRefusedAsAnswered,
    /// A node proposed the cancel to its CMG (the log decides the init's fate).
    CancelProposedToCmg,
    /// A leaderless CMG replica holding no answer fenced itself on a cancel.
    CmgFenced,
    /// A fenced CMG replica learned its init was answered and took part again.
    CmgUnfenced,
    /// A node waits for a cancel's fate before it clears anything.
    CancelWaitsForFate,
    /// A node cleared what it held of an init on a decided cancel.
    CancelClearedDecided,
    /// A node cleared what it held of an init on an undecided cancel (nothing it held could
    /// have helped commit an answer).
    CancelClearedUndecided,
    /// A node's vault was cleared by a cancel: it is empty again.
    VaultClearedByCancel,
    /// A CMG replica applied the init's fate: answered.
    InitFateAnswered,
    /// A CMG replica applied the init's fate: cancelled.
    InitFateCancelled,
    /// An initiator learned that its cancel was refused (the init was answered).
    CancelRefusalReachedInitiator,
    /// The user of a cancelled init was answered with the tag: the cancel was refused.
    CancelledInitAnsweredWithTag,
    /// A node that cancelled an init on its side told a leader of that cluster's CMG.
    CancelToldToLeaderOfCancelledCluster,
    /// A cancelled member was told the decided cancel at its handshake, rather than refused.
    CancelledMemberToldAtPreInit,
    /// A node asked its view whether its init was cancelled.
    CancelQuerySent,
    /// A node answered a cancel query with the decided cancel.
    CancelQueryAnswered,
    /// A replica of a cancelled incarnation was told the decided cancel when its traffic
    /// arrived.
    CancelledReplicaToldByItsTraffic,
    /// A fenced CMG replica carried its init's cancel on itself.
    FencedReplicaCarriesCancel,
    /// A cancel recorded in the vault resumed at a start.
    CancelResumedAtStart,

    // --- Join (Steps 3 and 4) ---
    /// A node ignored a cluster state of an older term.
    ClusterStateStale,
    /// A node ignored a cluster state of a cluster it must not follow.
    ClusterStateForeign,
    /// A node followed a redirect to the CMG leader.
    JoinRedirected,
    /// The CMG validated a node at join.
    JoinValidated,
    /// The CMG rejected a node at join: protocol versions differ.
    JoinRejectedProtocolMismatch,
    /// The CMG rejected a node at join: product versions differ in major.minor.
    JoinRejectedProductMismatch,
    /// The CMG rejected a node at join: it holds another cluster's tag.
    JoinRejectedTagMismatch,
    /// The CMG rejected a node at join: its Meta Storage version is ahead of the cluster's.
    JoinRejectedMsVersionAhead,
    /// The CMG leader refused a join: another live node holds the name.
    DuplicateNameRefused,
    /// The CMG leader held a join back: a node it cannot see may still hold the name.
    DuplicateNameWaitsForHolder,
    /// A node took a join rejection as final and stopped.
    HaltedAtJoin,
    /// A node's join attempt was answered stale (its validation was revoked): it asked again.
    JoinAttemptStale,
    /// A node was accepted by the CMG with a Meta Storage version behind the cluster's: it
    /// catches up (stale MS catch-up).
    StaleMsCatchUp,
    /// A node ignored an acceptance into an init it cancelled.
    AcceptanceOfCancelledInitIgnored,
    /// A recovering node not in the Meta Storage's configuration asked to be a learner.
    RecoveryAskedForLearner,
    /// A recovering node's Meta Storage caught up: it sends join ready.
    RecoveryFinished,
    /// The CMG refused a join ready: the node starts its join again.
    JoinReadyRefused,
    /// A node learned it is in the LT from a cluster state (its join ready's answer was lost).
    JoinedViaClusterState,
    /// A node learned it is in the LT from its join ready's answer.
    JoinedViaJoinReady,

    // --- The CMG's duties, leave, reconfiguration ---
    /// A CMG replica applied a command that revoked a validation before its join ready.
    ValidationRevoked,
    /// The CMG leader proposed removing members absent from its physical topology.
    AbsentMembersRemoved,
    /// A CMG replica applied a node-leave command.
    NodesLeftLt,
    /// A CMG replica committed a new Meta Storage node list.
    MsReconfigured,
    /// A node left the cluster on purpose.
    GracefulLeave,
    /// A replica met a committed entry it cannot decode and stopped.
    ReplicaFailed,
    /// A node received bytes that did not decode.
    CorruptMessage,

    // --- Added later, last so that the marks above keep their encoding (trace hashes) ---
    /// An initialized node took an init for a repeat of its own cluster's init command and
    /// watches that cluster instead of starting one (Step 2.1).
    InitRepeatOfOwnCluster,
    /// A repeat of a node's own cluster's init was answered `repeat_unconfirmed`.
    InitErrorRepeatUnconfirmed,
    /// A node withheld a pre-init refusal by tag that cited its own cluster while a cancel of
    /// that cluster was under way (Step 2.6, "a cancel under way is no ground for a refusal").
    PreInitRefusalWithheldCancelUnderWay,
}

impl Mark {
    /// The mark's snake_case name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether a campaign of the default size is expected to reach it. Exhaustive (no
    /// wildcard): a new mark must be declared one or the other. Measured on seeds 0..1000 (the
    /// default campaign) and 0..6000 (the smoke of `.ci/run`); "N/1000, M/6000" are runs that
    /// hit it.
    pub fn rarity(self) -> Rarity {
        use Rarity::{Common, Rare};
        match self {
            // Races that fewer than ten runs of the default campaign hit: too few to expect in
            // every 1000-run window of other seeds. Runs that hit each, of seeds 0..1000 and
            // 0..6000:
            // 1/1000, 10/6000.
            Mark::ClusterStateStale => Rare,
            // 1/1000, 20/6000.
            Mark::JoinRedirected => Rare,
            // 1/1000, 4/6000.
            Mark::RefusalIgnoredStale => Rare,
            // 2/1000, 8/6000: the init's answer must reach a fenced replica.
            Mark::CmgUnfenced => Rare,
            // 3/1000, 25/6000.
            Mark::InitDeferred => Rare,
            // 2/1000, 10/6000: a repeat at an initialized node whose named nodes do not answer.
            Mark::InitErrorRepeatUnconfirmed => Rare,
            // 0/1000, 4/6000: a joiner of another tag hand-shaking with a node whose own
            // cluster's cancel is under way; scenario
            // `cmg-voter-not-halted-by-a-refusal-citing-a-cluster-being-cancelled`.
            Mark::PreInitRefusalWithheldCancelUnderWay => Rare,
            // 6/1000, 37/6000.
            Mark::CancelQueryAnswered => Rare,
            // 6/1000, 29/6000.
            Mark::InitErrorNodeStopped => Rare,
            // 7/1000, 53/6000.
            Mark::CancelToldToLeaderOfCancelledCluster => Rare,
            // Hit by the smoke but not by the default campaign: 0/1000, 9/6000.
            Mark::InitErrorForeignTag => Rare,
            // 0/1000, 4/6000; scenario join-attempt-revoked-while-paused-asks-again.
            Mark::JoinAttemptStale => Rare,
            // 0/1000, 17/6000; scenario
            // validated-joiner-declared-dead-is-refused-its-stale-join-ready.
            Mark::JoinReadyRefused => Rare,
            // 0/1000, 12/6000; scenario race-paused-joiner-revalidated-by-a-stale-join-request.
            Mark::JoinedViaClusterState => Rare,
            // Never drawn by the fuzzer (0/6000), reached by a scenario: the fuzzer sends only
            // valid init parameters, and its incompatible node is refused at pre-init before it
            // could reach join validation.
            // Scenario init-invalid-parameters.
            Mark::InitErrorBlankClusterName
            | Mark::InitErrorBlankNodeName
            | Mark::InitErrorDuplicateNodeName => Rare,
            // Scenario join-refuses-other-protocol-admitted-by-an-upgraded-cmg-node.
            Mark::JoinRejectedProtocolMismatch => Rare,
            // Scenario join-refuses-other-product-admitted-by-an-upgraded-cmg-node.
            Mark::JoinRejectedProductMismatch => Rare,
            // Never reached by a campaign or a scenario (0/6000): more than
            // `MAX_INITS_IN_FLIGHT` inits at one node (the synchronous network's test
            // `more_inits_in_flight_than_the_bound_are_refused_busy` reaches it); a named node
            // that fails to start its groups (no fault of the model makes it fail:
            // `src/init/coordinator/tests.rs` reaches the coordinator's side); an acceptance
            // into an init this node cancelled arriving after the cancel (a narrow race); a
            // corrupt committed entry or message (no fault of the model corrupts bytes in
            // flight, and a torn vault record is refused at the start, before any replica).
            Mark::InitErrorBusy
            | Mark::InitErrorNodeFailed
            | Mark::InitCancelledOnNodeFailed
            | Mark::AcceptanceOfCancelledInitIgnored
            | Mark::ReplicaFailed
            | Mark::CorruptMessage => Rare,
            // Hit by at least ten runs of the default campaign (docs/fuzzing.md lists each
            // mark's runs).
            Mark::PreInitRefusedProtocolMismatch
            | Mark::PreInitRefusedProductMismatch
            | Mark::PreInitRefusedTagMismatch
            | Mark::PreInitRefusedConflictingTag
            | Mark::EntryRefusedOutsideHandshake
            | Mark::NewcomerStoppedOutsideHandshake
            | Mark::ConflictingAdmissionEvicted
            | Mark::HaltedAtPreInit
            | Mark::RefusalIgnoredLiveMember
            | Mark::RefusedMemberFormedOwnTopology
            | Mark::InitStarted
            | Mark::InitRepeatOfOwnCluster
            | Mark::InitAnsweredOk
            | Mark::InitErrorNotInPhysicalTopology
            | Mark::InitErrorDuplicateMember
            | Mark::InitErrorParametersDiffer
            | Mark::InitErrorTimeout
            | Mark::InitCancelledOnTimeout
            | Mark::InitCancelledOnParametersDiffer
            | Mark::CancelRefusedAsAnswered
            | Mark::CancelProposedToCmg
            | Mark::CmgFenced
            | Mark::CancelWaitsForFate
            | Mark::CancelClearedDecided
            | Mark::CancelClearedUndecided
            | Mark::VaultClearedByCancel
            | Mark::InitFateAnswered
            | Mark::InitFateCancelled
            | Mark::CancelRefusalReachedInitiator
            | Mark::CancelledInitAnsweredWithTag
            | Mark::CancelledMemberToldAtPreInit
            | Mark::CancelQuerySent
            | Mark::CancelledReplicaToldByItsTraffic
            | Mark::FencedReplicaCarriesCancel
            | Mark::CancelResumedAtStart
            | Mark::ClusterStateForeign
            | Mark::JoinValidated
            | Mark::JoinRejectedTagMismatch
            | Mark::JoinRejectedMsVersionAhead
            | Mark::DuplicateNameRefused
            | Mark::DuplicateNameWaitsForHolder
            | Mark::HaltedAtJoin
            | Mark::StaleMsCatchUp
            | Mark::RecoveryAskedForLearner
            | Mark::RecoveryFinished
            | Mark::JoinedViaJoinReady
            | Mark::ValidationRevoked
            | Mark::AbsentMembersRemoved
            | Mark::NodesLeftLt
            | Mark::MsReconfigured
            | Mark::GracefulLeave => Common,
        }
    }

    /// The mark of a pre-init refusal for `reason`; `None` for the reasons pre-init never gives
    /// (`ms_version_ahead` and `duplicate_name` are the CMG's, at join).
    pub fn of_pre_init_refusal(reason: &RejectionReason) -> Option<Mark> {
        match reason {
            RejectionReason::ProtocolMismatch { .. } => Some(Mark::PreInitRefusedProtocolMismatch),
            RejectionReason::ProductMismatch { .. } => Some(Mark::PreInitRefusedProductMismatch),
            RejectionReason::TagMismatch { .. } => Some(Mark::PreInitRefusedTagMismatch),
            RejectionReason::ConflictingTag { .. } => Some(Mark::PreInitRefusedConflictingTag),
            RejectionReason::MsVersionAhead { .. } | RejectionReason::DuplicateName { .. } => None,
        }
    }

    /// The mark of a join rejection the CMG applied for `reason`; `None` for the reasons join
    /// validation never gives (`conflicting_tag` is pre-init's; `duplicate_name` is the leader's
    /// refusal without a CMG command, [`Mark::DuplicateNameRefused`]).
    pub fn of_join_rejection(reason: &RejectionReason) -> Option<Mark> {
        match reason {
            RejectionReason::ProtocolMismatch { .. } => Some(Mark::JoinRejectedProtocolMismatch),
            RejectionReason::ProductMismatch { .. } => Some(Mark::JoinRejectedProductMismatch),
            RejectionReason::TagMismatch { .. } => Some(Mark::JoinRejectedTagMismatch),
            RejectionReason::MsVersionAhead { .. } => Some(Mark::JoinRejectedMsVersionAhead),
            RejectionReason::ConflictingTag { .. } | RejectionReason::DuplicateName { .. } => None,
        }
    }

    /// The mark of an init answered with `error`.
    pub fn of_init_error(error: &InitError) -> Mark {
        match error {
            InitError::BlankClusterName => Mark::InitErrorBlankClusterName,
            InitError::BlankNodeName { .. } => Mark::InitErrorBlankNodeName,
            InitError::DuplicateNodeName { .. } => Mark::InitErrorDuplicateNodeName,
            InitError::NotInPhysicalTopology { .. } => Mark::InitErrorNotInPhysicalTopology,
            InitError::DuplicateMember { .. } => Mark::InitErrorDuplicateMember,
            InitError::ForeignTag { .. } => Mark::InitErrorForeignTag,
            InitError::ParametersDiffer { .. } => Mark::InitErrorParametersDiffer,
            InitError::NodeFailed { .. } => Mark::InitErrorNodeFailed,
            InitError::Timeout { .. } => Mark::InitErrorTimeout,
            InitError::NodeStopped { .. } => Mark::InitErrorNodeStopped,
            InitError::Busy { .. } => Mark::InitErrorBusy,
            InitError::RepeatUnconfirmed { .. } => Mark::InitErrorRepeatUnconfirmed,
        }
    }

    /// The mark of an initiator's cancel of its init on `error`; `None` for the errors that
    /// never cancel (refusals before anything is sent).
    pub fn of_init_cancel(error: &InitError) -> Option<Mark> {
        match error {
            InitError::Timeout { .. } => Some(Mark::InitCancelledOnTimeout),
            InitError::NodeFailed { .. } => Some(Mark::InitCancelledOnNodeFailed),
            InitError::ParametersDiffer { .. } => Some(Mark::InitCancelledOnParametersDiffer),
            InitError::BlankClusterName
            | InitError::BlankNodeName { .. }
            | InitError::DuplicateNodeName { .. }
            | InitError::NotInPhysicalTopology { .. }
            | InitError::DuplicateMember { .. }
            | InitError::ForeignTag { .. }
            | InitError::NodeStopped { .. }
            | InitError::Busy { .. }
            | InitError::RepeatUnconfirmed { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests;
