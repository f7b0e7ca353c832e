//! The safety invariants by name, and a broken one.

use std::fmt;

use serde::Serialize;
use strum::{EnumIter, EnumString, IntoStaticStr};

use crate::trace::TraceEntry;

/// The safety invariants of docs/spec.md §3, by name. The names (`always_one_tag_per_cmg`, ...)
/// are derived from the variants (snake_case): they are what docs/invariants.md, the reports and
/// the failure kinds (`invariant:<name>`) spell. `Invariant::iter()` lists every one,
/// `<&str>::from(invariant)` gives its name and `name.parse::<Invariant>()` reads one back.
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
    EnumIter,
    IntoStaticStr,
    EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Invariant {
    /// One tag per CMG incarnation, never changed once committed.
    AlwaysOneTagPerCmg,
    /// Every LT member was validated and then sent join ready, for that launch.
    AlwaysLtMemberValidatedThenReady,
    /// Every LT member holds the cluster's tag (or was empty), has compatible versions, and an MS
    /// version no higher than the cluster's.
    AlwaysLtMemberCompatible,
    /// All CMG replicas agree on the LT at each LT version.
    AlwaysReplicasAgreeOnLt,
    /// Every member of any physical-topology view passed pre-init validation.
    AlwaysPhysicalMemberPassedPreInit,
    /// A node's stored Meta Storage version never decreases.
    AlwaysMsVersionMonotonic,
    /// At most one Raft leader per term per group.
    AlwaysOneLeaderPerTerm,
    /// Replicas apply the same command at the same log index, and committed logs agree.
    AlwaysCommittedLogsAgree,
    /// Two successful answers to inits with the same parameters carry the same tag, within one
    /// cluster incarnation (a cluster whose every CMG replica was wiped is gone); and a node of
    /// a cluster never answers a repeat of the command its cluster was created with by saying
    /// that its own cluster's parameters differ.
    AlwaysInitIdempotent,
    /// No cancel destroys a replica of, or clears the vault of, a cluster whose tag a user got as
    /// the answer to an init.
    AlwaysAnsweredClusterNeverCancelled,
    /// A replica's durable commit index never goes down.
    AlwaysCommitIndexMonotonic,
    /// A committed entry stays in the durable log of at least one replica of its incarnation.
    AlwaysCommittedEntriesDurable,
    /// Each LT change (a member in, out, or replaced) raises the LT version by exactly one.
    AlwaysLtVersionStepsByOne,
    /// A node enters the LT only after its Meta Storage applied the version it was validated at.
    AlwaysLtMemberMsCaughtUp,
    /// A member leaves the LT only by a leave that names its launch.
    AlwaysLtMemberRemovedOnlyByItsLeave,
    /// A node entering the LT hosts replicas of that cluster's incarnation only.
    AlwaysOneGroupIncarnationPerNode,
    /// A pre-init refusal by tag never halts a member of a cluster: a node its cluster accepted
    /// (validated, and not sent back to join since) keeps running (docs/spec.md §5).
    AlwaysRefusalSparesMembers,
    /// A node holding an init whose cancel its CMG decided is told of the cancel and goes on as
    /// an empty node: a pre-init refusal of that init's tag never halts it (docs/spec.md §5).
    AlwaysCancelledMemberTold,
    /// No CMG replica runs under another live node's Raft id: two running nodes of one name
    /// never both host a replica of one CMG incarnation.
    AlwaysOneCmgReplicaPerName,
    /// A node answers an init with success and a tag only after a CMG committed that cluster and
    /// recorded the answer (docs/spec.md Step 2; IGNITE-17067).
    AlwaysInitAnsweredAfterCommit,
    /// A Meta Storage replica installs configurations in version order: never an older one after
    /// a newer one (IGNITE-22818).
    AlwaysMsConfigAppliedInVersionOrder,
    /// A launch sends at most 50 join requests and join readies in any second of simulated time:
    /// no join path loops at network speed (TIGER_STYLE: every loop bounded).
    AlwaysJoinSendsPaced,
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.into())
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which.
    pub invariant: Invariant,
    /// Simulated time of the entry that broke it, in microseconds.
    pub time_us: u64,
    /// Nodes involved (labels or names).
    pub nodes: Vec<String>,
    /// What exactly.
    pub detail: String,
}

impl Violation {
    /// `invariant`, broken by the trace entry `entry`.
    pub fn at(
        entry: &TraceEntry,
        invariant: Invariant,
        nodes: Vec<String>,
        detail: String,
    ) -> Self {
        Violation {
            invariant,
            time_us: entry.time_us,
            nodes,
            detail,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated at {:.3} ms (nodes {:?}): {}",
            self.invariant,
            self.time_us as f64 / 1e3,
            self.nodes,
            self.detail
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn names_are_snake_case_and_read_back() {
        assert_eq!(
            Invariant::AlwaysPhysicalMemberPassedPreInit.to_string(),
            "always_physical_member_passed_pre_init"
        );
        for invariant in Invariant::iter() {
            let name: &str = invariant.into();
            assert_eq!(name.parse::<Invariant>(), Ok(invariant));
            let json = serde_json::to_string(&invariant).unwrap();
            assert_eq!(
                json,
                format!("\"{name}\""),
                "serde and strum spell it alike"
            );
        }
        assert!("always_nothing".parse::<Invariant>().is_err());
    }

    /// The names in the first column of the safety table of docs/invariants.md.
    fn documented() -> BTreeSet<String> {
        let doc = include_str!("../../../docs/invariants.md");
        let table = doc
            .split("## Safety (always)")
            .nth(1)
            .expect("docs/invariants.md has a safety section")
            .split("\n## ")
            .next()
            .unwrap();
        table
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn docs_list_exactly_the_invariants() {
        let documented = documented();
        assert!(documented.iter().all(|n| n.starts_with("always_")));
        let ours: BTreeSet<String> = Invariant::iter().map(|i| i.to_string()).collect();
        assert_eq!(
            documented, ours,
            "the safety table of docs/invariants.md and the Invariant enum differ"
        );
        assert_eq!(ours.len(), Invariant::iter().count(), "names are distinct");
    }
}
