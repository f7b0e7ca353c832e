//! Every bound on a number a user gives joinsim, in one place: scenario files check them at parse
//! time (with file:line:col), the command line checks them by flag name. `docs/scenarios.md` and
//! `joinsim --help` list them.
//!
//! The bounds keep every run finite and small enough to finish on a laptop: no input makes joinsim
//! allocate without bound, overflow a time, or run for hours by accident.

use std::ops::RangeInclusive;

/// Seeds one `run`, `check` or scenario file runs (`seeds`, `--seeds`).
pub const SEEDS: RangeInclusive<u64> = 1..=10_000;
/// Nodes in a scenario file or a demo (`--nodes`): up to the 1,000 of issue "Speed and scale".
/// The bound keeps every address distinct (the world has 62,500) and every allocation small; it
/// does not promise speed: today 100 nodes take 1–6 s of wall time per run and 200 nodes 12–17 s
/// (`cargo bench -p joinsim-sim --bench scale` measures it; docs/performance.md).
pub const NODES: RangeInclusive<u64> = 1..=1_000;
/// Runs of one `demo --runs N` (seeds S..S+N in one process).
pub const DEMO_RUNS: RangeInclusive<u64> = 1..=1_000_000;
/// Steps in a scenario file.
pub const STEPS: RangeInclusive<u64> = 0..=1_000;
/// `[[cluster]]` tables in a scenario file.
pub const CLUSTERS: RangeInclusive<u64> = 0..=16;
/// Simulated milliseconds of a deadline (`expect.deadline_ms`): ten simulated minutes.
pub const DEADLINE_MS: RangeInclusive<u64> = 1..=600_000;
/// Step times and delays (`at_ms`, `delay_ms`, `for_ms`): below the largest deadline.
pub const STEP_TIME_MS: RangeInclusive<u64> = 0..=600_000;
/// The liveness phase (`liveness.timeout_ms`).
pub const LIVENESS_TIMEOUT_MS: RangeInclusive<u64> = 1..=600_000;
/// One-way message latency, milliseconds (`latency_ms`).
pub const LATENCY_MS: RangeInclusive<u64> = 0..=10_000;
/// A Meta Storage version in a vault or a restored cluster (`ms_version`).
pub const MS_VERSION: RangeInclusive<u64> = 1..=1_000_000;
/// An LT version a scenario names (`lt_version_reached`'s `version`, `[expect] lt_version`):
/// one change per join or leave, so a million is far beyond any run's.
pub const LT_VERSION: RangeInclusive<u64> = 0..=1_000_000;
/// Bytes of a scenario file.
pub const FILE_BYTES: u64 = 1 << 20;
/// Runs of one fuzz campaign (`--runs`).
pub const FUZZ_RUNS: RangeInclusive<u64> = 1..=1_000_000_000;
/// Wall seconds of one fuzz campaign (`--time`): one second to one week.
pub const FUZZ_TIME_S: RangeInclusive<u64> = 1..=604_800;
/// Parallel runs (`--jobs`).
pub const JOBS: RangeInclusive<u64> = 1..=256;
/// Shrink attempts per finding (`fuzz --shrink-budget`): none (the finding is written as drawn)
/// to ten thousand runs.
pub const SHRINK_BUDGET: RangeInclusive<u64> = 0..=10_000;
/// Shards of a campaign (`--shard I/N`).
pub const SHARDS: RangeInclusive<u64> = 1..=100_000;

/// Nodes of a small world `joinsim explore` runs (`--nodes`): beyond three the state space
/// outgrows a CI job (docs/explore.md).
pub const EXPLORE_NODES: RangeInclusive<u64> = 2..=3;
/// The bound on a path's length, in moves, of `joinsim explore` (`--depth`).
pub const EXPLORE_DEPTH: RangeInclusive<u64> = 1..=200;

/// `value` if it lies within `range`, else a message naming `what` and the range.
pub fn check(what: &str, value: u64, range: &RangeInclusive<u64>) -> Result<u64, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{what} = {value} is out of range: expected {}..={}",
            range.start(),
            range.end()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_named_with_their_range() {
        assert_eq!(check("--seeds", 5, &SEEDS), Ok(5));
        assert_eq!(
            check("--seeds", 0, &SEEDS),
            Err("--seeds = 0 is out of range: expected 1..=10000".into())
        );
        assert!(check("deadline_ms", u64::MAX, &DEADLINE_MS).is_err());
    }
}
