//! Planted bugs: deliberate protocol defects, each switched on by name, to measure whether the
//! testbed finds what it should. Off unless a host sets one with `NodeConfig::with_planted_bug`,
//! which exists only with this crate's cargo feature `planted-bugs` (the testbed, `joinsim-sim`,
//! turns it on); without the feature no public API can switch one on, and the default
//! configuration and every normal path run the correct protocol.

use serde::{Deserialize, Serialize};

/// A deliberate defect of the protocol.
///
/// Its names are the kebab-case of the variants (`skip-join-tag-check`, ...), derived once by
/// strum: [`PlantedBug::name`] (or `<&str>::from`, or `Display`) spells one, `str::parse` reads
/// one back, `PlantedBug::iter()` ([`strum::IntoEnumIterator`]) lists every bug in declaration
/// order and `PlantedBug::VARIANTS` ([`strum::VariantNames`]) every name. The planted-bug table
/// of docs/fuzzing.md lists exactly these names (a test checks it).
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
    strum::Display,
    strum::EnumIter,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "kebab-case")]
pub enum PlantedBug {
    /// Join validation does not compare the joiner's stored tag with the cluster's.
    SkipJoinTagCheck,
    /// Join validation accepts a node whose Meta Storage version is ahead of the cluster's.
    AcceptMsVersionAhead,
    /// Pre-init validation does not compare tags.
    SkipPreInitTagCheck,
    /// Join ready moves a node into the LT even if it is not validated.
    LtWithoutValidation,
    /// A replica that becomes CMG leader forgets its validated set.
    ForgetValidatedOnLeaderChange,
    /// A named node takes a repeat of the init it holds (same parameters, another attempt) for a
    /// new init, and a second cluster-init command replaces the committed cluster state.
    InitNotIdempotent,
    /// A cancel is acknowledged but destroys nothing and clears nothing.
    CancelLeavesVault,
    /// The CMG leader sends the cluster state only when the cluster-init is applied, never to
    /// members that appear later nor again at an election.
    LeaderStopsClusterState,
    /// A CMG replica with no leader and no answer in its log destroys itself (and clears the
    /// vault) on an undecided cancel instead of fencing itself: a replica of a cluster that a
    /// majority answered is lost (fuzz seeds 12035143, 12017086; docs/protocol.md "the fence").
    CancelDestroysLeaderlessReplica,
    /// Twin of issue 8, kind 1 (names are unique among live nodes): the CMG leader does not
    /// refuse a join under the name of a live LT member or validated node at another address
    /// (`cmg::namesake` is not asked), and `learn_addr` moves a name's address even while the
    /// node at the old address still holds it.
    AcceptDuplicateName,
    /// Twin of issue 8, kind 2 (LT hygiene): the CMG leader never removes LT members and
    /// validated nodes absent from its physical topology (`cmg::absent_members` names nobody).
    KeepAbsentMembers,
    /// Twin of issue 8, kind 4 (a cancelled member that comes back): a node that saw the cancel
    /// refuses the member at pre-init instead of telling it the cancel, a node just started from
    /// its vault gets no grace for the cancel of its init to reach it, and a refusal of a tag it
    /// no longer holds (cleared by a cancel since) is not taken as stale: a pre-init tag refusal
    /// by a node of the next cluster halts it.
    CancelledMemberHalts,
    /// Twin of issue 8, kind 5 (a refusal never halts a live cluster): a member of a live cluster
    /// takes a pre-init refusal by tag (`TagMismatch`, `ConflictingTag`) as final and halts.
    RefusalHaltsMember,
    /// Twin of issue 8, kind 6 (an init is identified by the command given at creation): a node
    /// compares a requested init with its cluster's *current* Meta Storage list instead of the
    /// one given at init, so after a reconfiguration a repeat of the original init is refused
    /// with `parameters_differ`.
    InitComparesCurrentMsList,
    /// Twin of issue 8, kind 9 (pre-init on every path): a member that enters a view through an
    /// announce, a probe, a probe ack or a merge of views is not pre-init validated
    /// (`entry_check`); only the handshake checks versions.
    SkipPreInitOnMerge,
    /// IGNITE-19179 (a rejoin was not idempotent: a node that re-sent its join request after a
    /// leader change got its own LT entry removed; fixed by answering the same name with the same
    /// launch at once): join validation (`CmgState::apply_join`) takes a join request of a launch
    /// that is already an LT member for a new launch of that name — it removes the member's own
    /// LT entry and validates it again, so a late or repeated join request of a joined node
    /// (a duplicated or delayed copy, a resend after a leader change) takes it out of the LT.
    RejoinRemovesOwnLtEntry,
    /// IGNITE-17067 (init was answered before a CMG leader existed and before the cluster state
    /// was committed; fixed by replying only after the commit): the initiator answers the user
    /// with the attempt's tag as soon as every named node runs its groups
    /// (`InitCoordinator::on_start_ack`), without waiting for a replica to show the committed
    /// cluster state and without the CMG recording the answer (`InitAnswered`), so a cluster
    /// that is never committed, or one a cancel later destroys, was announced to a user.
    InitAnsweredBeforeCommit,
    /// IGNITE-21588 (CMG commands were re-applied on restart on top of the persisted state
    /// machine, which is not idempotent: LT versions drifted between nodes; fixed by wiping the
    /// CMG store at start and relying on log replay alone): a CMG replica opened from the vault
    /// starts from the state its committed log already produced (joinsim keeps no state-machine
    /// store; this is the nearest equivalent of Ignite's persisted one) and the group replays the
    /// log from index 1 on top of it, so every committed command is applied twice.
    CmgCommandAppliedTwiceOnRestart,
    /// IGNITE-23934 (duplicate node names corrupted the topology; the fix has the leader refuse,
    /// while sending the cluster state, a newcomer whose name is already in the LT): the CMG
    /// leader judges whether a physical member is in the LT by its name alone
    /// (`ClusterStateNotice::member`), not by its launch, so a second live node under an LT
    /// member's name — a namesake at another address, or a new launch of the member — is taken
    /// for the member: it gets cluster states only as a member does (at an election, when it
    /// appears), each saying it is a member, so one that already follows the cluster takes itself
    /// for joined and one that missed the first is never courted again; either way its join is
    /// never judged. The join path's namesake check (`accept-duplicate-name`) is untouched.
    AcceptLtMemberName,
    /// IGNITE-22818 (CMG learner reconfigurations were applied out of order and left nodes with
    /// different learner sets; fixed by serialized, term-tagged updates): the Meta Storage
    /// carries out a reconfiguration request whatever its version (`MsReplica::reconfigure`,
    /// `MsState::set_config`), so a request older than the configuration applied — delayed, or
    /// sent by a CMG leader that has since lost its place — turns the newer voters back into
    /// learners and installs the older list with its older version. (joinsim's Meta Storage is
    /// the group whose learner set follows reconfigurations; its version is the updates' tag.)
    LearnerChangesOutOfOrder,
    /// The cancel hazard of the protocol issue (no cancel destroys a cluster that a user was told
    /// exists, docs/spec.md §5): the canceller takes its cancel as decided as soon as one CMG
    /// voter acknowledged it fenced (`CancelTracker::on_ack`), instead of once the fenced voters
    /// leave no majority without them; it then tells every holder the cancel is decided, and
    /// the holders of a cluster that the other voters committed and answered clear it.
    CancelDestroysAnsweredCluster,
    /// Raft's "one membership change at a time" rule (Ongaro's dissertation §4.1; raft-rs's
    /// `pending_conf_index`): the Meta Storage leader proposes a reconfiguration while the
    /// previous membership change is not yet applied, or while it is still in a joint
    /// configuration (`MsReplica::reconfigure`, `RaftGroup::propose_conf_change_overlapping`:
    /// neither the replica's nor raft-rs's pending-change guard is asked). The later of two
    /// overlapping changes fails every replica that applies it (raft-rs refuses it then, e.g.
    /// "can't leave a non-joint config"), and the Meta Storage stops.
    MsReconfigurationOverlaps,
    /// The election-time duty of a new CMG leader (Ignite's `onLeaderElected` removes LT members
    /// missing from the physical topology): a newly elected leader does not remove the LT
    /// members and validated nodes its failure detection declared dead before it was elected
    /// (`cmg::dead_members` names nobody), and the absent rule leaves those to that duty
    /// (`cmg::absent_members` skips them), so a node that died while another node led stays in
    /// the LT for good. Members that die during its term still leave (`leaves_on_failure`);
    /// `keep-absent-members` instead switches the absent rule off for everyone.
    NewLeaderKeepsDeadMembers,
    /// The planted divergence (issue 12): the initiator answers the user as soon as the CMG
    /// committed the cluster-init, without waiting for the Meta Storage to have a leader (spec
    /// step 2: "only after that commit and after the MS group has a leader"). No invariant of
    /// docs/invariants.md reads the Meta Storage's leadership; the reference model's rule
    /// `answer_after_commit` does, so only trace validation (`model_divergence`) finds it.
    AnswerBeforeMsLeader,
}

impl PlantedBug {
    /// The kebab-case name used on the command line and in scenario files
    /// (`skip-join-tag-check`, ...): derived from the variant by strum.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The bug with this name, or `None` for a name no bug has.
    pub fn from_name(name: &str) -> Option<PlantedBug> {
        name.parse().ok()
    }

    /// Where the defect comes from, as the planted-bug table of docs/fuzzing.md says it: the
    /// testbed's first planted bugs (`testbed`), a twin of a fix of the protocol-faults issue
    /// (`issue-8 kind K`, the kind it switches off), an Apache Ignite 3 bug (`IGNITE-N`), a rule
    /// of the spec or of Raft (`spec §5 ...`, `Raft ...`), or the reference model's planted
    /// divergence (`model`).
    pub fn source(self) -> &'static str {
        use PlantedBug::*;
        match self {
            SkipJoinTagCheck
            | AcceptMsVersionAhead
            | SkipPreInitTagCheck
            | LtWithoutValidation
            | ForgetValidatedOnLeaderChange
            | InitNotIdempotent
            | CancelLeavesVault
            | LeaderStopsClusterState
            | CancelDestroysLeaderlessReplica => "testbed",
            AcceptDuplicateName => "issue-8 kind 1",
            KeepAbsentMembers => "issue-8 kind 2",
            CancelledMemberHalts => "issue-8 kind 4",
            RefusalHaltsMember => "issue-8 kind 5",
            InitComparesCurrentMsList => "issue-8 kind 6",
            SkipPreInitOnMerge => "issue-8 kind 9",
            RejoinRemovesOwnLtEntry => "IGNITE-19179",
            InitAnsweredBeforeCommit => "IGNITE-17067",
            CmgCommandAppliedTwiceOnRestart => "IGNITE-21588",
            AcceptLtMemberName => "IGNITE-23934",
            LearnerChangesOutOfOrder => "IGNITE-22818",
            CancelDestroysAnsweredCluster => "spec §5 cancel hazard",
            MsReconfigurationOverlaps => "Raft: one membership change at a time",
            NewLeaderKeepsDeadMembers => "Ignite onLeaderElected",
            AnswerBeforeMsLeader => "model (planted divergence)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use strum::{IntoEnumIterator, VariantNames};

    #[test]
    fn names_round_trip_and_are_distinct() {
        assert_eq!(
            PlantedBug::ForgetValidatedOnLeaderChange.name(),
            "forget-validated-on-leader-change"
        );
        assert_eq!(
            PlantedBug::InitComparesCurrentMsList.to_string(),
            "init-compares-current-ms-list"
        );
        for bug in PlantedBug::iter() {
            assert_eq!(PlantedBug::from_name(bug.name()), Some(bug));
        }
        let mut names = PlantedBug::VARIANTS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PlantedBug::iter().count());
        assert_eq!(PlantedBug::from_name("nope"), None);
        assert_eq!(PlantedBug::from_name("SkipJoinTagCheck"), None);
    }

    /// The first column of docs/fuzzing.md's planted-bug table (the table headed
    /// `| bug | source | ...`, between the markers the bench `bugs` writes): each row's first
    /// `code` span, in order, and its second cell is the bug's [`PlantedBug::source`].
    fn documented() -> Vec<(&'static str, &'static str)> {
        let doc = include_str!("../docs/fuzzing.md");
        let mut lines = doc
            .lines()
            .skip_while(|l| !l.starts_with("<!-- planted-bug-table:start -->"))
            .skip(1);
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with("| bug | source |")),
            "docs/fuzzing.md has the planted-bug table"
        );
        lines
            .skip(1)
            .take_while(|l| l.starts_with('|'))
            .map(|row| {
                let name = row
                    .split('`')
                    .nth(1)
                    .unwrap_or_else(|| panic!("a row without a name: {row}"));
                let source = row.split('|').nth(2).map_or("", str::trim);
                (name, source)
            })
            .collect()
    }

    #[test]
    fn the_docs_list_exactly_the_planted_bugs() {
        let expected: Vec<(&str, &str)> =
            PlantedBug::iter().map(|b| (b.name(), b.source())).collect();
        assert_eq!(
            documented(),
            expected,
            "docs/fuzzing.md's planted-bug table and PlantedBug differ (same order)"
        );
    }
}
