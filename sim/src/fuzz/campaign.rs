//! A fuzzing campaign: many seeds in parallel, each a random case with every invariant and the
//! liveness phase; failures shrunk to minimal scenario files; a share of runs repeated on fresh
//! threads to check determinism; coverage counters of the protocol paths reached.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use joinsim::{Event, PlantedBug};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;

use crate::fuzz::case::{fuzz_case, FuzzCase};
use crate::scenario::{parse_scenario, run_scenario, SeedResult};
use crate::trace::{HarnessEvent, TraceEntry, TraceKind};

/// How a run failed; two failures are "the same" when their kinds are equal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum FailureKind {
    /// A safety invariant broke (named).
    Invariant(String),
    /// The liveness phase did not converge.
    Liveness,
    /// The liveness phase did not converge in a run where two clusters formed (the two_clusters
    /// hazard): reported, not counted as a failure — SPEC.md asks the testbed to report that
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

/// What to run.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    /// Runs of this shard (when no time budget).
    pub runs: u64,
    /// Wall-time budget, instead of a run count.
    pub time: Option<Duration>,
    /// First seed.
    pub seed_start: u64,
    /// Parallel runs.
    pub jobs: usize,
    /// This shard and the number of shards: seeds `seed_start + shard + k * shards`.
    pub shard: (u64, u64),
    /// Where shrunk scenario files go.
    pub out: PathBuf,
    /// Planted bug.
    pub bug: Option<PlantedBug>,
    /// Run every seed twice (otherwise one run in 8).
    pub check_determinism: bool,
    /// Stop at the first failure (planted-bug hunts).
    pub stop_at_first: bool,
    /// Most shrink attempts per failure.
    pub shrink_budget: usize,
    /// Most failures shrunk and written.
    pub max_findings: usize,
    /// Print progress lines on stderr.
    pub progress: bool,
}

/// One failure, shrunk and written.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The seed.
    pub seed: u64,
    /// How it failed.
    pub kind: String,
    /// The first failure message.
    pub detail: String,
    /// The scenario file written.
    pub file: String,
    /// The command that replays it.
    pub replay: String,
    /// Faults in the case as drawn, and after shrinking.
    pub faults: (usize, usize),
    /// Nodes in the case as drawn, and after shrinking.
    pub nodes: (usize, usize),
    /// Shrink attempts made.
    pub shrink_runs: usize,
    /// True when rerunning the written file reproduced the failure with the same trace hash.
    pub replayed: bool,
}

/// The campaign's summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Runs made (determinism repeats not counted).
    pub runs: u64,
    /// Runs repeated to check determinism.
    pub determinism_checks: u64,
    /// Failed runs, by kind.
    pub failures: BTreeMap<String, u64>,
    /// Runs whose liveness failed after two clusters formed (reported, not failures).
    pub liveness_after_hazard: u64,
    /// Runs per wall second.
    pub runs_per_s: f64,
    /// Simulated seconds per wall second.
    pub sim_s_per_wall_s: f64,
    /// Wall time.
    pub wall_s: f64,
    /// How many runs reached each protocol path.
    pub coverage: BTreeMap<String, u64>,
    /// The failures written as scenario files.
    pub findings: Vec<Finding>,
    /// The seed of the first failure, if any.
    pub first_failure_seed: Option<u64>,
    /// Runs made until the first failure (inclusive), if any.
    pub runs_to_first_failure: Option<u64>,
    /// Wall seconds until the first failure, if any.
    pub wall_s_to_first_failure: Option<f64>,
}

/// A failed run: seed, runs done when it failed, kind, detail, wall seconds when it failed.
type Failed = (u64, u64, FailureKind, String, f64);

/// The outcome of running one case.
struct Verdict {
    kind: Option<FailureKind>,
    detail: String,
    result: Option<SeedResult>,
}

/// The case drawn from a seed, with its shrinkable tree.
pub fn draw(seed: u64) -> (Box<dyn ValueTree<Value = FuzzCase>>, FuzzCase) {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&0x6a6f_696e_7369_6d00u64.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let tree = fuzz_case()
        .new_tree(&mut runner)
        .expect("the fuzz strategy always produces a case");
    let case = tree.current();
    (Box::new(tree), case)
}

fn run_case(case: &FuzzCase, seed: u64, bug: Option<PlantedBug>, keep_trace: bool) -> Verdict {
    let text = case.to_toml(seed, bug.map(|b| b.name()), &[]);
    let scenario = match parse_scenario(&format!("<fuzz seed {seed}>"), &text) {
        Ok(s) => s,
        Err(e) => {
            return Verdict {
                kind: Some(FailureKind::Panic),
                detail: format!("the generated scenario is invalid (a fuzzer bug): {e}"),
                result: None,
            }
        }
    };
    let ran = catch_unwind(AssertUnwindSafe(|| {
        run_scenario(&scenario, seed, keep_trace)
    }));
    match ran {
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Verdict {
                kind: Some(FailureKind::Panic),
                detail: message,
                result: None,
            }
        }
        Ok(result) => {
            let (kind, detail) = if let Some(v) = result.violations.first() {
                (
                    Some(FailureKind::Invariant(v.invariant.name().to_string())),
                    v.to_string(),
                )
            } else if let Some(f) = result.failures.iter().find(|f| f.starts_with("liveness")) {
                if result.hazards.iter().any(|h| h.kind == "two_clusters") {
                    (Some(FailureKind::LivenessAfterHazard), f.clone())
                } else {
                    (Some(FailureKind::Liveness), f.clone())
                }
            } else if let Some(f) = result.failures.first() {
                (Some(FailureKind::Expectation), f.clone())
            } else {
                (None, String::new())
            };
            Verdict {
                kind,
                detail,
                result: Some(result),
            }
        }
    }
}

/// The protocol paths a run reached, from its trace.
pub fn coverage_of(trace: &[TraceEntry], hazards: usize) -> Vec<String> {
    let mut reached: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut joining: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for entry in trace {
        match &entry.kind {
            TraceKind::Harness(HarnessEvent::NodeKilled | HarnessEvent::NodeStarted) => {
                if joining.remove(&entry.node) {
                    reached.insert("restart_during_join".into());
                }
            }
            TraceKind::Harness(HarnessEvent::Partitioned { .. }) => {
                reached.insert("partition".into());
            }
            TraceKind::Harness(HarnessEvent::VaultWiped) => {
                reached.insert("wipe".into());
            }
            TraceKind::Harness(_) => {}
            TraceKind::Protocol(event) => match event {
                Event::JoinRequestSent { .. } => {
                    joining.insert(entry.node.clone());
                }
                Event::Joined { .. } | Event::Halted { .. } => {
                    joining.remove(&entry.node);
                }
                Event::RoleChanged {
                    group: joinsim::GroupKind::Cmg,
                    role: joinsim::Role::Leader,
                    ..
                } if !joining.is_empty() => {
                    reached.insert("leader_change_during_join".into());
                }
                Event::JoinRejected { reason, .. } => {
                    reached.insert(format!("rejected:join:{}", reason.kind()));
                }
                Event::PreInitRefused { reason, .. } => {
                    reached.insert(format!("rejected:pre_init:{}", reason.kind()));
                }
                Event::InitCancelled { .. } => {
                    reached.insert("init_cancel".into());
                }
                Event::InitAnswered { result, .. } => {
                    reached.insert(match result {
                        Ok(_) => "init_ok".into(),
                        Err(e) => format!("init_error:{}", e.kind()),
                    });
                }
                Event::JoinAccepted {
                    stored_ms_version: Some(x),
                    cluster_ms_version,
                    ..
                } if x < cluster_ms_version => {
                    reached.insert("stale_ms_catch_up".into());
                }
                Event::MsNodesChanged { .. } => {
                    reached.insert("ms_reconfigured".into());
                }
                Event::NodesLeft { .. } => {
                    reached.insert("node_left_lt".into());
                }
                Event::JoinReadyRefused { .. } => {
                    reached.insert("join_ready_refused".into());
                }
                Event::VaultCleared { .. } => {
                    reached.insert("vault_cleared_by_cancel".into());
                }
                _ => {}
            },
        }
    }
    if hazards > 0 {
        reached.insert("hazard:two_clusters".into());
    }
    reached.into_iter().collect()
}

fn shrink_and_write(seed: u64, kind: &FailureKind, detail: &str, options: &FuzzOptions) -> Finding {
    let (mut tree, original) = draw(seed);
    let mut best = original.clone();
    let mut attempts = 0;
    if *kind != FailureKind::Determinism && tree.simplify() {
        loop {
            attempts += 1;
            if attempts > options.shrink_budget {
                break;
            }
            let candidate = tree.current();
            let verdict = run_case(&candidate, seed, options.bug, false);
            if verdict.kind.as_ref() == Some(kind) {
                best = candidate;
                if !tree.simplify() {
                    break;
                }
            } else if !tree.complicate() {
                break;
            }
        }
    }
    let slug = kind.to_string().replace([':', '_'], "-");
    let file = options.out.join(format!("fuzz-{seed}-{slug}.toml"));
    let header = vec![
        format!(
            "Found by `joinsim fuzz --seed-start {seed} --runs 1{}`: {kind}.",
            options.bug.map(|b| format!(" --bug {b}")).unwrap_or_default()
        ),
        format!("First failure: {}", detail.lines().next().unwrap_or_default()),
        format!(
            "Shrunk from {} faults and {} late joiners to {} faults and {} late joiners ({attempts} attempts).",
            original.faults.len(),
            original.joiners,
            best.faults.len(),
            best.joiners
        ),
        "Keep it as a regression scenario: give it a name and a header saying what it pins,".into(),
        "move it to scenarios/, and replace `allow_hazards` with the expected outcome.".into(),
    ];
    let text = best.to_toml(seed, options.bug.map(|b| b.name()), &header);
    let _ = std::fs::create_dir_all(&options.out);
    let written = std::fs::write(&file, &text).is_ok();
    // Replay the written file exactly as `joinsim run FILE --seed S` would.
    let replayed = written
        && crate::scenario::load_scenario(&file).is_ok_and(|scenario| {
            let first = run_case(&best, seed, options.bug, false);
            let again = run_scenario(&scenario, seed, false);
            let again_kind = if let Some(v) = again.violations.first() {
                Some(FailureKind::Invariant(v.invariant.name().to_string()))
            } else if again.failures.iter().any(|f| f.starts_with("liveness")) {
                Some(FailureKind::Liveness)
            } else if !again.failures.is_empty() {
                Some(FailureKind::Expectation)
            } else {
                None
            };
            *kind == FailureKind::Determinism
                || (again_kind.as_ref() == Some(kind)
                    && first
                        .result
                        .is_some_and(|r| r.trace_hash == again.trace_hash))
        });
    let nodes = |c: &FuzzCase| c.core + c.joiners;
    Finding {
        seed,
        kind: kind.to_string(),
        detail: detail.to_string(),
        file: file.display().to_string(),
        replay: format!(
            "cargo run --release -- run {} --seed {seed}",
            file.display()
        ),
        faults: (original.faults.len(), best.faults.len()),
        nodes: (nodes(&original), nodes(&best)),
        shrink_runs: attempts,
        replayed,
    }
}

/// Runs a campaign.
pub fn fuzz(options: &FuzzOptions) -> Summary {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let runs = AtomicU64::new(0);
    let checks = AtomicU64::new(0);
    let sim_ms = AtomicU64::new(0);
    let failed: Mutex<Vec<Failed>> = Mutex::new(Vec::new());
    let coverage: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let (shard, shards) = options.shard;
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(limit) = options.time {
                    if started.elapsed() >= limit {
                        return;
                    }
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                if options.time.is_none() && k >= options.runs {
                    return;
                }
                let seed = shard_seed(options.seed_start, (shard, shards), k);
                let (_, case) = draw(seed);
                let verdict = run_case(&case, seed, options.bug, true);
                let mut kind = verdict.kind.clone();
                let mut detail = verdict.detail.clone();
                if let Some(result) = &verdict.result {
                    sim_ms.fetch_add(result.sim_time_ms, Ordering::Relaxed);
                    let reached = coverage_of(&result.trace, result.hazards.len());
                    let mut cov = coverage.lock().expect("coverage lock");
                    for path in reached {
                        *cov.entry(path).or_default() += 1;
                    }
                    if kind.is_none() && (options.check_determinism || k.is_multiple_of(8)) {
                        checks.fetch_add(1, Ordering::Relaxed);
                        let again = run_case(&case, seed, options.bug, false);
                        let same = again
                            .result
                            .as_ref()
                            .is_some_and(|r| r.trace_hash == result.trace_hash);
                        if !same {
                            kind = Some(FailureKind::Determinism);
                            detail = format!(
                                "seed {seed} gave trace hash {} and then {:?}",
                                result.trace_hash,
                                again.result.map(|r| r.trace_hash)
                            );
                        }
                    }
                }
                let done = runs.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(kind) = kind {
                    let stops = kind != FailureKind::LivenessAfterHazard;
                    failed.lock().expect("failed lock").push((
                        seed,
                        done,
                        kind,
                        detail,
                        started.elapsed().as_secs_f64(),
                    ));
                    if options.stop_at_first && stops {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
        if options.progress {
            scope.spawn(|| {
                let mut last = Instant::now();
                while runs.load(Ordering::Relaxed) < options.runs || options.time.is_some() {
                    if stop.load(Ordering::Relaxed)
                        || options.time.is_some_and(|t| started.elapsed() >= t)
                    {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                    if last.elapsed() >= Duration::from_secs(2) {
                        last = Instant::now();
                        let done = runs.load(Ordering::Relaxed);
                        let wall = started.elapsed().as_secs_f64();
                        eprintln!(
                            "fuzz: {done} runs, {} failed, {:.0} runs/s",
                            failed.lock().expect("failed lock").len(),
                            done as f64 / wall
                        );
                    }
                    if options.time.is_none() && next.load(Ordering::Relaxed) >= options.runs {
                        break;
                    }
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let mut failed = failed.into_inner().expect("failed lock");
    failed.sort_by_key(|(seed, ..)| *seed);
    let mut summary = Summary {
        runs: runs.load(Ordering::Relaxed),
        determinism_checks: checks.load(Ordering::Relaxed),
        wall_s: wall,
        runs_per_s: runs.load(Ordering::Relaxed) as f64 / wall.max(1e-9),
        sim_s_per_wall_s: sim_ms.load(Ordering::Relaxed) as f64 / 1e3 / wall.max(1e-9),
        coverage: coverage.into_inner().expect("coverage lock"),
        ..Default::default()
    };
    let (after_hazard, failed): (Vec<Failed>, Vec<Failed>) = failed
        .into_iter()
        .partition(|(_, _, kind, _, _)| *kind == FailureKind::LivenessAfterHazard);
    summary.liveness_after_hazard = after_hazard.len() as u64;
    if let Some((seed, done, _, _, at)) = failed.iter().min_by(|a, b| a.4.total_cmp(&b.4)) {
        summary.first_failure_seed = Some(*seed);
        summary.runs_to_first_failure = Some(*done);
        summary.wall_s_to_first_failure = Some(*at);
    }
    for (_, _, kind, _, _) in &failed {
        *summary.failures.entry(kind.to_string()).or_default() += 1;
    }
    for (seed, _, kind, detail, _) in failed.iter().take(options.max_findings) {
        if options.progress {
            eprintln!("fuzz: shrinking seed {seed} ({kind}) ...");
        }
        summary
            .findings
            .push(shrink_and_write(*seed, kind, detail, options));
    }
    summary
}

/// The human summary of a campaign.
pub fn format_summary(summary: &Summary, options: &FuzzOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fuzz summary: {} runs ({} repeated for determinism) in {:.1} s{}",
        summary.runs,
        summary.determinism_checks,
        summary.wall_s,
        options
            .bug
            .map(|b| format!(", planted bug {b}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "  runs per second:        {:.0}", summary.runs_per_s);
    let _ = writeln!(
        out,
        "  simulated s per wall s: {:.0}",
        summary.sim_s_per_wall_s
    );
    if summary.failures.is_empty() {
        let _ = writeln!(out, "  failures:               none");
    } else {
        let _ = writeln!(out, "  failures by kind:");
        for (kind, count) in &summary.failures {
            let _ = writeln!(out, "    {kind:<40} {count}");
        }
    }
    if summary.liveness_after_hazard > 0 {
        let _ = writeln!(
            out,
            "  runs where two clusters formed and liveness then failed (reported, not failures): {}",
            summary.liveness_after_hazard
        );
    }
    if let (Some(runs), Some(wall)) = (
        summary.runs_to_first_failure,
        summary.wall_s_to_first_failure,
    ) {
        let _ = writeln!(out, "  first failure after {runs} runs, {wall:.2} s");
    }
    let _ = writeln!(out, "  coverage (runs that reached each path):");
    for (path, count) in &summary.coverage {
        let _ = writeln!(out, "    {path:<40} {count}");
    }
    for f in &summary.findings {
        let _ = writeln!(
            out,
            "  finding: seed {} {}: {}",
            f.seed,
            f.kind,
            f.detail.lines().next().unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "    shrunk {} -> {} faults, {} -> {} nodes in {} attempts; replays exactly: {}",
            f.faults.0, f.faults.1, f.nodes.0, f.nodes.1, f.shrink_runs, f.replayed
        );
        let _ = writeln!(out, "    replay: {}", f.replay);
    }
    out
}

/// The `k`-th seed of a shard: `seed_start + I + k * N`, so shards never share a seed.
pub fn shard_seed(seed_start: u64, (shard, shards): (u64, u64), k: u64) -> u64 {
    seed_start + shard + k * shards
}

/// Parses `I/N`.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("--shard {text:?}: expected I/N, e.g. 0/4"))?;
    let i: u64 = i
        .trim()
        .parse()
        .map_err(|_| format!("--shard {text:?}: I is not a number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("--shard {text:?}: N is not a number"))?;
    if n == 0 || i >= n {
        return Err(format!("--shard {text:?}: need 0 <= I < N"));
    }
    Ok((i, n))
}

/// The default output directory.
pub fn default_out() -> PathBuf {
    Path::new("fuzz-out").to_path_buf()
}
