//! How a run failed: one classification, used by `run`, `check`, the fuzzer's campaign, its
//! progress line, its summary and its replay check.

use std::fmt;

use serde::Serialize;

use crate::scenario::SeedResult;

/// How a run failed; two failures are "the same" when their kinds are equal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum FailureKind {
    /// A safety invariant broke (named).
    Invariant(String),
    /// The liveness phase did not converge.
    Liveness,
    /// The liveness phase did not converge in a run where two clusters formed (the two_clusters
    /// hazard): reported, not counted as a failure — docs/spec.md asks the testbed to report that
    /// hazard, not the protocol to survive it.
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
        match self {
            FailureKind::Invariant(name) => write!(f, "invariant:{name}"),
            FailureKind::Liveness => f.write_str("liveness"),
            FailureKind::LivenessAfterHazard => f.write_str("liveness_after_two_clusters"),
            FailureKind::Expectation => f.write_str("expectation"),
            FailureKind::Determinism => f.write_str("determinism"),
            FailureKind::Panic => f.write_str("panic"),
        }
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
/// panic, a broken invariant, liveness (after the two-cluster hazard or not), any other
/// expectation.
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
    if let Some(f) = result.failures.iter().find(|f| f.starts_with("liveness")) {
        let kind = if result.hazards.iter().any(|h| h.kind == "two_clusters") {
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
