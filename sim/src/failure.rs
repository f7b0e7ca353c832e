//! How a run failed: one classification of a run's result ([`classify`], with [`diverged`] for
//! a repeat that gave another trace and [`invalid_case`] for a case that could not be built), and
//! one way a campaign counts a failure ([`Tally`]), used by the fuzzer's campaign, its progress
//! line, its summary, its shrinking and its replay check (and by `tests/fuzz.rs`, which checks a
//! finding's file with it).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use strum::{EnumDiscriminants, IntoStaticStr, VariantNames};

use crate::checkers::HazardKind;
use crate::scenario::SeedResult;

/// How a run failed; two failures are "the same" when their kinds are equal.
///
/// Its names come from one table, [`FailureKindName`] (strum: the snake_case of the variant,
/// `liveness_after_two_clusters` for [`FailureKind::LivenessAfterHazard`]); `Display` writes the
/// name, and `invariant:<name>` for an invariant. docs/json.md lists exactly these names (a test
/// here checks it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, EnumDiscriminants)]
#[strum_discriminants(
    name(FailureKindName),
    doc = "The name of a [`FailureKind`], as the JSON outputs and file names spell it.",
    derive(IntoStaticStr, VariantNames),
    strum(serialize_all = "snake_case")
)]
pub enum FailureKind {
    /// A safety invariant broke (named).
    Invariant(String),
    /// A trace entry the reference model of the protocol could not explain (trace validation,
    /// `crate::model_check`; the rule it broke is in the message).
    ModelDivergence,
    /// The liveness phase did not converge.
    Liveness,
    /// The liveness phase did not converge in a run where two clusters formed (the two_clusters
    /// hazard): reported, not counted as a failure — docs/spec.md asks the testbed to report that
    /// hazard, not the protocol to survive it.
    #[strum_discriminants(strum(serialize = "liveness_after_two_clusters"))]
    LivenessAfterHazard,
    /// Another expectation failed (a step could not act, a step's condition never came).
    Expectation,
    /// The same seed gave two different traces.
    Determinism,
    /// The simulation panicked (a node's assertion, raft-rs, the simulator's time limit).
    Panic,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FailureKindName::from(self).into())?;
        if let FailureKind::Invariant(name) = self {
            write!(f, ":{name}")?;
        }
        Ok(())
    }
}

impl FailureKind {
    /// The kind as a file-name part: `invariant-always-init-idempotent`, `liveness`, ...
    pub fn slug(&self) -> String {
        self.to_string().replace([':', '_'], "-")
    }

    /// True for the kinds a campaign counts as failures (everything but liveness after the
    /// two-cluster hazard, which it reports separately).
    pub fn counts(&self) -> bool {
        *self != FailureKind::LivenessAfterHazard
    }
}

/// How a seed's run failed, with the first failure message; `None` when it passed. In order: a
/// panic, a broken invariant (the first violation), liveness (after the two-cluster hazard or
/// not), any other expectation.
pub fn classify(result: &SeedResult) -> Option<(FailureKind, String)> {
    if let Some(panic) = &result.panic {
        return Some((FailureKind::Panic, panic.clone()));
    }
    if let Some(v) = result.violations.first() {
        return Some((
            FailureKind::Invariant(v.invariant.to_string()),
            v.to_string(),
        ));
    }
    if let Some(d) = &result.divergence {
        return Some((FailureKind::ModelDivergence, d.to_string()));
    }
    if let Some(f) = result.failures.iter().find(|f| f.starts_with("liveness")) {
        let kind = if result
            .hazards
            .iter()
            .any(|h| h.kind == HazardKind::TwoClusters)
        {
            FailureKind::LivenessAfterHazard
        } else {
            FailureKind::Liveness
        };
        return Some((kind, f.clone()));
    }
    result
        .failures
        .first()
        .map(|f| (FailureKind::Expectation, f.clone()))
}

/// The failure of a seed whose repeat gave another trace: `divergence` says where the two traces
/// first differ (or why the repeat could not run); `None` when they were the same.
pub fn diverged(seed: u64, divergence: Option<String>) -> Option<(FailureKind, String)> {
    divergence.map(|d| {
        (
            FailureKind::Determinism,
            format!("seed {seed} gave two different traces: {d}"),
        )
    })
}

/// The failure of a case whose generated scenario does not parse (a fuzzer bug, counted as a
/// panic): `error` says why.
pub fn invalid_case(error: impl fmt::Display) -> (FailureKind, String) {
    (
        FailureKind::Panic,
        format!("the generated scenario is invalid (a fuzzer bug): {error}"),
    )
}

/// Where a campaign counts a failed run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// A failure (`failures` in the summary, `failed` in the progress line).
    Failure,
    /// Liveness after the two-cluster hazard: counted apart, not a failure.
    LivenessAfterHazard,
    /// In a planted-bug hunt, a failure the case has without the bug too: not the bug's, counted
    /// apart.
    WithoutBug,
}

/// What a campaign counted so far: the progress line and the summary both read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Failed runs, by kind (`invariant:<name>`, `liveness`, ...).
    pub failures: BTreeMap<String, u64>,
    /// Runs whose liveness failed after two clusters formed.
    pub liveness_after_hazard: u64,
    /// Runs of a planted-bug hunt that fail the same way without the bug.
    pub without_bug: u64,
}

impl Tally {
    /// Counts a run that failed with `kind`; `needs_the_bug` is false when, in a planted-bug
    /// hunt, the same case fails that way without the bug too (always true outside a hunt).
    /// Returns where it was counted.
    pub fn count(&mut self, kind: &FailureKind, needs_the_bug: bool) -> Counted {
        if !needs_the_bug {
            self.without_bug += 1;
            Counted::WithoutBug
        } else if kind.counts() {
            *self.failures.entry(kind.to_string()).or_default() += 1;
            Counted::Failure
        } else {
            self.liveness_after_hazard += 1;
            Counted::LivenessAfterHazard
        }
    }

    /// The number of failed runs (of every kind).
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::checkers::{Hazard, Invariant, Violation};

    fn result() -> SeedResult {
        SeedResult {
            scenario: "s".into(),
            file: "s.toml".into(),
            seed: 1,
            passed: true,
            trace_hash: "0".repeat(16),
            sim_time_ms: 0,
            wall_ms: 0.0,
            events: 0,
            nodes: BTreeMap::new(),
            lt: Vec::new(),
            violations: Vec::new(),
            divergence: None,
            hazards: Vec::new(),
            failures: Vec::new(),
            stall: Vec::new(),
            panic: None,
            replay: String::new(),
            timeline: String::new(),
            last_events: Vec::new(),
            trace: Vec::new(),
            hash_after: Vec::new(),
            trace_hash_u64: 0,
            views: BTreeMap::new(),
        }
    }

    fn violation(invariant: Invariant) -> Violation {
        Violation {
            invariant,
            time_us: 1,
            nodes: vec!["a".into()],
            detail: "broken".into(),
        }
    }

    fn two_clusters() -> Hazard {
        Hazard {
            kind: HazardKind::TwoClusters,
            at_ms: 1,
            detail: "two".into(),
        }
    }

    fn kind_of(result: &SeedResult) -> Option<FailureKind> {
        classify(result).map(|(kind, _)| kind)
    }

    #[test]
    fn every_kind_is_classified_in_order() {
        assert_eq!(kind_of(&result()), None, "a passed run");
        let mut expectation = result();
        expectation.failures = vec!["step 1 (line 3): never happened".into()];
        assert_eq!(kind_of(&expectation), Some(FailureKind::Expectation));
        let mut liveness = expectation.clone();
        liveness.failures.push("liveness: no CMG leader".into());
        let (kind, detail) = classify(&liveness).unwrap();
        assert_eq!(kind, FailureKind::Liveness, "liveness before expectations");
        assert!(detail.starts_with("liveness"));
        let mut after_hazard = liveness.clone();
        after_hazard.hazards = vec![two_clusters()];
        assert_eq!(
            kind_of(&after_hazard),
            Some(FailureKind::LivenessAfterHazard)
        );
        let mut invariant = after_hazard.clone();
        invariant.violations = vec![
            violation(Invariant::AlwaysOneTagPerCmg),
            violation(Invariant::AlwaysOneLeaderPerTerm),
        ];
        assert_eq!(
            kind_of(&invariant),
            Some(FailureKind::Invariant("always_one_tag_per_cmg".into())),
            "the first violation, before liveness"
        );
        let mut panic = invariant.clone();
        panic.panic = Some("raft-rs panicked".into());
        assert_eq!(kind_of(&panic), Some(FailureKind::Panic), "a panic first");
        assert_eq!(
            diverged(7, Some("entry 3 differs".into())),
            Some((
                FailureKind::Determinism,
                "seed 7 gave two different traces: entry 3 differs".into()
            ))
        );
        assert_eq!(diverged(7, None), None);
        assert_eq!(invalid_case("bad").0, FailureKind::Panic);
    }

    #[test]
    fn the_docs_list_exactly_the_failure_kinds() {
        let doc = include_str!("../../docs/json.md");
        let names: Vec<&str> = doc
            .lines()
            .skip_while(|l| *l != "| kind | meaning |")
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|row| {
                let name = row.split('`').nth(1).expect("a row without a name");
                name.split(':').next().unwrap_or(name)
            })
            .collect();
        assert_eq!(names, FailureKindName::VARIANTS);
    }

    #[test]
    fn kinds_are_spelled_for_files_and_summaries() {
        let spelled: Vec<(FailureKind, &str)> = vec![
            (
                FailureKind::Invariant("always_init_idempotent".into()),
                "invariant:always_init_idempotent",
            ),
            (FailureKind::Liveness, "liveness"),
            (
                FailureKind::LivenessAfterHazard,
                "liveness_after_two_clusters",
            ),
            (FailureKind::Expectation, "expectation"),
            (FailureKind::Determinism, "determinism"),
            (FailureKind::Panic, "panic"),
        ];
        for (kind, text) in spelled {
            assert_eq!(kind.to_string(), text);
            assert_eq!(kind.slug(), text.replace([':', '_'], "-"));
            assert_eq!(kind.counts(), kind != FailureKind::LivenessAfterHazard);
        }
    }

    #[test]
    fn a_tally_counts_each_run_once_where_the_summary_and_progress_line_read_it() {
        let mut tally = Tally::default();
        let invariant = FailureKind::Invariant("always_one_tag_per_cmg".into());
        assert_eq!(tally.count(&invariant, true), Counted::Failure);
        assert_eq!(tally.count(&FailureKind::Liveness, true), Counted::Failure);
        assert_eq!(tally.count(&invariant, true), Counted::Failure);
        assert_eq!(
            tally.count(&FailureKind::LivenessAfterHazard, true),
            Counted::LivenessAfterHazard
        );
        assert_eq!(tally.count(&invariant, false), Counted::WithoutBug);
        assert_eq!(tally.failed(), 3);
        assert_eq!(tally.failures["invariant:always_one_tag_per_cmg"], 2);
        assert_eq!(tally.failures["liveness"], 1);
        assert_eq!(tally.liveness_after_hazard, 1);
        assert_eq!(tally.without_bug, 1);
    }
}
