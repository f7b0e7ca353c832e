//! The rules of the model, by name, each with the line of the spec it comes from; and the
//! refusal of an action that breaks one.

use std::fmt;

/// A rule of IEP-77 that the model enforces. Each names the sentence of docs/spec.md (the
/// product spec, `../shared/SPEC.md` in the project's sources) it is written from: see
/// [`Rule::source`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// A launch id is new at every start.
    LaunchIsNew,
    /// The vault survives kill and restart; only a wipe (or a cancel) clears it.
    VaultSurvivesRestart,
    /// A node that is not running takes no protocol step.
    OnlyRunningNodesAct,
    /// Pre-init validation: if both nodes are initialized their tags must be equal.
    PreInitTagsEqual,
    /// Each init draws a new cluster id: a tag belongs to one init.
    InitDrawsNewTag,
    /// The named nodes start the groups with the init's voters.
    GroupsStartWithTheInitsVoters,
    /// The CMG commits the cluster-init command of its init: its tag, its CMG, MS version 1.
    ClusterInitIsTheInits,
    /// A user gets success, with the tag, only after the cluster-init commit and after the Meta
    /// Storage has a leader.
    AnswerAfterCommit,
    /// No cancel destroys a cluster that a user was told exists (and a cancelled init is never
    /// answered).
    NoCancelOfAnsweredCluster,
    /// Replicas of one incarnation apply the same effects at the same log index.
    ReplicasAgree,
    /// The CMG judges a node's join only from a join request of that launch.
    ValidationFollowsRequest,
    /// The CMG judges joins only once the cluster-init command is applied.
    ValidationAfterClusterInit,
    /// Validation: a stored tag must equal the cluster's and a stored MS version X must not be
    /// ahead of the cluster's Y; a rejection names a reason the request had.
    ValidationJudgesTagAndMsVersion,
    /// A join request carries the node's own stored tag and MS version, only if initialized.
    JoinRequestCarriesTheVault,
    /// Only a validated node is accepted; it stores the cluster's tag (an initialized node keeps
    /// its own) and catches up from its own MS version.
    AcceptanceFollowsValidation,
    /// A node's stored MS version never decreases and never passes the cluster's committed one.
    MsVersionMonotonicAndCommitted,
    /// An accepted node recovers (catches up to the cluster's MS version), then sends join ready.
    JoinReadyAfterRecovery,
    /// Each LT change raises the LT version by one.
    LtVersionStepsByOne,
    /// A node enters the LT only from join ready of a validated launch.
    LtEntryFromValidatedReady,
    /// A member leaves the LT only by a leave command naming it, or replaced by a new launch of
    /// its name.
    LtExitByLeaveOrReplacement,
    /// A node is told it joined only at an LT version that holds its launch.
    JoinedOnlyInTheLt,
    /// The MS version rises by one at every committed change of the MS node list.
    MsVersionStepsByOne,
    /// The Meta Storage applies the configurations the CMG committed, in order.
    MsAppliesCommittedConfigs,
}

impl Rule {
    /// The rule's name in reports (`snake_case`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::LaunchIsNew => "launch_is_new",
            Rule::VaultSurvivesRestart => "vault_survives_restart",
            Rule::OnlyRunningNodesAct => "only_running_nodes_act",
            Rule::PreInitTagsEqual => "pre_init_tags_equal",
            Rule::InitDrawsNewTag => "init_draws_new_tag",
            Rule::GroupsStartWithTheInitsVoters => "groups_start_with_the_inits_voters",
            Rule::ClusterInitIsTheInits => "cluster_init_is_the_inits",
            Rule::AnswerAfterCommit => "answer_after_commit",
            Rule::NoCancelOfAnsweredCluster => "no_cancel_of_answered_cluster",
            Rule::ReplicasAgree => "replicas_agree",
            Rule::ValidationFollowsRequest => "validation_follows_request",
            Rule::ValidationAfterClusterInit => "validation_after_cluster_init",
            Rule::ValidationJudgesTagAndMsVersion => "validation_judges_tag_and_ms_version",
            Rule::JoinRequestCarriesTheVault => "join_request_carries_the_vault",
            Rule::AcceptanceFollowsValidation => "acceptance_follows_validation",
            Rule::MsVersionMonotonicAndCommitted => "ms_version_monotonic_and_committed",
            Rule::JoinReadyAfterRecovery => "join_ready_after_recovery",
            Rule::LtVersionStepsByOne => "lt_version_steps_by_one",
            Rule::LtEntryFromValidatedReady => "lt_entry_from_validated_ready",
            Rule::LtExitByLeaveOrReplacement => "lt_exit_by_leave_or_replacement",
            Rule::JoinedOnlyInTheLt => "joined_only_in_the_lt",
            Rule::MsVersionStepsByOne => "ms_version_steps_by_one",
            Rule::MsAppliesCommittedConfigs => "ms_applies_committed_configs",
        }
    }

    /// The sentence of the spec the rule is written from (section and words).
    pub fn source(self) -> &'static str {
        match self {
            Rule::LaunchIsNew => "§1 identity: a launch id that is new at every start",
            Rule::VaultSurvivesRestart => {
                "§1 identity: its vault survives kill and restart (only an explicit wipe clears it)"
            }
            Rule::OnlyRunningNodesAct => "§1 identity: a killed node does nothing until it starts",
            Rule::PreInitTagsEqual => {
                "step 1: if both are initialized their tags must be equal"
            }
            Rule::InitDrawsNewTag => "step 2: the receiving node draws the cluster id",
            Rule::GroupsStartWithTheInitsVoters => {
                "step 2: they start the Raft groups (raft-rs) with those voters"
            }
            Rule::ClusterInitIsTheInits => {
                "step 2: it commits the cluster-init command (tag, product version, CMG nodes, MS nodes, MS version 1)"
            }
            Rule::AnswerAfterCommit => {
                "step 2: the user gets success, with the tag, only after that commit and after the MS group has a leader"
            }
            Rule::NoCancelOfAnsweredCluster => {
                "§5: once any user got the tag of a cluster as the answer to an init, no cancel clears it"
            }
            Rule::ReplicasAgree => "§3: committed logs agree",
            Rule::ValidationFollowsRequest => {
                "step 4: on receiving the cluster state a node sends a join request; the leader proposes it as a CMG command"
            }
            Rule::ValidationAfterClusterInit => "step 4: not initialized yet → retry later",
            Rule::ValidationJudgesTagAndMsVersion => {
                "step 4: stored tag differs from the cluster's → reject; X ≤ Y accept, X > Y reject"
            }
            Rule::JoinRequestCarriesTheVault => {
                "step 4: only if it is initialized — its own stored tag and MS version"
            }
            Rule::AcceptanceFollowsValidation => {
                "step 4: the accepted node stores the tag, node lists and MS version in its vault"
            }
            Rule::MsVersionMonotonicAndCommitted => {
                "§3: each node's MS version never decreases; §1: raised by one at every committed change"
            }
            Rule::JoinReadyAfterRecovery => {
                "step 4: recovers locally (catches up to the committed MS state), then signals recovery finished and sends join ready"
            }
            Rule::LtVersionStepsByOne => "step 4: moves it into the LT (LT version + 1)",
            Rule::LtEntryFromValidatedReady => {
                "step 4: join ready from a validated node moves it into the LT; from a node that was never validated it is refused"
            }
            Rule::LtExitByLeaveOrReplacement => {
                "step 4: a same-name node with a new launch id replaces the old LT entry; also: a member declared dead is removed from the LT by a CMG command"
            }
            Rule::JoinedOnlyInTheLt => "step 4: join ready from a validated node moves it into the LT",
            Rule::MsVersionStepsByOne => {
                "§1: raised by one at every committed change of the MS node list"
            }
            Rule::MsAppliesCommittedConfigs => {
                "also: an admin command changes the MS node list through the CMG (MS version+1) and reconfigures the MS Raft group"
            }
        }
    }

    /// Every rule, in declaration order.
    pub const ALL: [Rule; 23] = [
        Rule::LaunchIsNew,
        Rule::VaultSurvivesRestart,
        Rule::OnlyRunningNodesAct,
        Rule::PreInitTagsEqual,
        Rule::InitDrawsNewTag,
        Rule::GroupsStartWithTheInitsVoters,
        Rule::ClusterInitIsTheInits,
        Rule::AnswerAfterCommit,
        Rule::NoCancelOfAnsweredCluster,
        Rule::ReplicasAgree,
        Rule::ValidationFollowsRequest,
        Rule::ValidationAfterClusterInit,
        Rule::ValidationJudgesTagAndMsVersion,
        Rule::JoinRequestCarriesTheVault,
        Rule::AcceptanceFollowsValidation,
        Rule::MsVersionMonotonicAndCommitted,
        Rule::JoinReadyAfterRecovery,
        Rule::LtVersionStepsByOne,
        Rule::LtEntryFromValidatedReady,
        Rule::LtExitByLeaveOrReplacement,
        Rule::JoinedOnlyInTheLt,
        Rule::MsVersionStepsByOne,
        Rule::MsAppliesCommittedConfigs,
    ];
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An action the model does not allow: the rule it breaks and what exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The rule.
    pub rule: Rule,
    /// What the action did against it, with the model's state that decided.
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (spec {})",
            self.rule,
            self.detail,
            self.rule.source()
        )
    }
}

/// Refuses with `rule` unless `ok`; `detail` is built only on a refusal.
pub(crate) fn require(
    ok: bool,
    rule: Rule,
    detail: impl FnOnce() -> String,
) -> Result<(), Refusal> {
    if ok {
        Ok(())
    } else {
        Err(Refusal {
            rule,
            detail: detail(),
        })
    }
}
