//! Running scenarios over many seeds in parallel, and the `check` report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::scenario::{load_scenario, run_scenario, Scenario, ScenarioError, SeedResult};

/// The version of the JSON documents of `run --json` and `check --json` (`docs/json.md`).
pub const SCHEMA_VERSION: u32 = 1;

/// `run --json`: one document (`docs/json.md`).
#[derive(Debug, serde::Serialize)]
pub struct RunDocument<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always `"run"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The joinsim version.
    pub joinsim: &'static str,
    /// The git commit of the build.
    pub commit: &'static str,
    /// The scenario's name.
    pub scenario: &'a str,
    /// Its file.
    pub file: &'a str,
    /// True when every seed passed.
    pub passed: bool,
    /// One result per seed, in seed order.
    pub results: &'a [SeedResult],
}

/// One scenario of `check --json`: its table row and its seeds' results.
#[derive(Debug, serde::Serialize)]
pub struct CheckedScenario {
    /// The table row.
    #[serde(flatten)]
    pub row: ScenarioSummary,
    /// One result per seed, in seed order.
    pub results: Vec<SeedResult>,
}

/// `check --json`: one document (`docs/json.md`).
#[derive(Debug, serde::Serialize)]
pub struct CheckDocument<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always `"check"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The joinsim version.
    pub joinsim: &'static str,
    /// The git commit of the build.
    pub commit: &'static str,
    /// The directory checked.
    pub dir: String,
    /// True when every seed of every scenario passed.
    pub passed: bool,
    /// Wall seconds.
    pub wall_s: f64,
    /// The process's peak resident set at the end, MiB (`null` where `/proc` is missing).
    pub peak_memory_mib: Option<f64>,
    /// Every scenario, in file-name order.
    pub scenarios: &'a [CheckedScenario],
}

/// How many runs go at once by default: one per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `seeds` of `scenario` on `jobs` threads; results come back in seed order.
pub fn run_seeds(
    scenario: &Scenario,
    seeds: &[u64],
    jobs: usize,
    keep_trace: bool,
) -> Vec<SeedResult> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<SeedResult>> = Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, seeds.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(seed) = seeds.get(i) else { return };
                let result = run_scenario(scenario, *seed, keep_trace);
                results.lock().expect("results lock").push(result);
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    results.sort_by_key(|r| r.seed);
    results
}

/// The scenario files of a directory (`*.toml`), sorted by name.
pub fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ScenarioError {
        file: dir.display().to_string(),
        line: 1,
        column: 1,
        message: format!("cannot read the directory: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Loads every scenario of a directory; all the errors if any file is bad.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, Vec<ScenarioError>> {
    let files = scenario_files(dir).map_err(|e| vec![e])?;
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match load_scenario(&file) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors)
    }
}

/// The human report of one seed.
pub fn format_result(result: &SeedResult) -> String {
    let mut out = String::new();
    let verdict = if result.passed { "PASS" } else { "FAIL" };
    let _ = writeln!(
        out,
        "{verdict} {} seed {}  trace-hash {}  {} ms simulated  {} events  {:.1} ms wall",
        result.scenario,
        result.seed,
        result.trace_hash,
        result.sim_time_ms,
        result.events,
        result.wall_ms
    );
    if result.passed {
        return out;
    }
    for v in &result.violations {
        let _ = writeln!(out, "  invariant {v}");
    }
    // Trace validation: the first event the reference model could not explain (docs/model.md).
    if let Some(d) = &result.divergence {
        let _ = writeln!(out, "  {d}");
    }
    for f in &result.failures {
        let _ = writeln!(out, "  {f}");
    }
    if !result.stall.is_empty() {
        let at_ms = result.stall[0].at_ms;
        let _ = writeln!(
            out,
            "  stall report at {at_ms} ms (every node outside the LT: what it waits for):"
        );
        for report in &result.stall {
            for line in report.to_string().lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    for h in &result.hazards {
        let _ = writeln!(out, "  hazard {} at {} ms: {}", h.kind, h.at_ms, h.detail);
    }
    let _ = writeln!(out, "  nodes: {:?}", result.nodes);
    for (leader, version, members) in &result.lt {
        let _ = writeln!(
            out,
            "  LT of CMG leader {leader}: version {version} {members:?}"
        );
    }
    let _ = writeln!(out, "  last events:");
    for e in &result.last_events {
        let _ = writeln!(out, "    {e}");
    }
    let _ = writeln!(out, "  replay: {}", result.replay);
    let _ = writeln!(out, "  picture: {}", result.timeline);
    out
}

/// One row of the `check` table.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ScenarioSummary {
    /// Scenario name.
    pub scenario: String,
    /// File.
    pub file: String,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds passed.
    pub passed: usize,
    /// Replay commands of the failed seeds.
    pub failures: Vec<String>,
    /// For each failed seed, in the same order, the replay command that draws its timeline.
    pub timelines: Vec<String>,
}

/// The final table of `check`.
pub fn format_table(rows: &[ScenarioSummary]) -> String {
    let width = rows
        .iter()
        .map(|r| r.scenario.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>5}  {:>6}",
        "scenario", "seeds", "passed"
    );
    let _ = writeln!(out, "{}", "-".repeat(width + 15));
    for r in rows {
        let mark = if r.passed == r.seeds { "" } else { "  FAILED" };
        let _ = writeln!(
            out,
            "{:<width$}  {:>5}  {:>6}{mark}",
            r.scenario, r.seeds, r.passed
        );
    }
    let total: usize = rows.iter().map(|r| r.seeds).sum();
    let passed: usize = rows.iter().map(|r| r.passed).sum();
    let _ = writeln!(out, "{}", "-".repeat(width + 15));
    let _ = writeln!(
        out,
        "{:<width$}  {total:>5}  {passed:>6}",
        format!("{} scenarios", rows.len())
    );
    let failed: Vec<&ScenarioSummary> = rows.iter().filter(|r| !r.failures.is_empty()).collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\nreplay the failures (and draw each one's timeline):");
        for r in failed {
            for (i, command) in r.failures.iter().enumerate() {
                let _ = writeln!(out, "  {command}");
                if let Some(picture) = r.timelines.get(i) {
                    let _ = writeln!(out, "    {picture}");
                }
            }
        }
    }
    out
}
