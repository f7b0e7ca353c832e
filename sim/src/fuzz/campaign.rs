//! A fuzzing campaign: many seeds in parallel, each a random case with every invariant and the
//! liveness phase; failures shrunk to minimal scenario files; a share of runs repeated on fresh
//! threads to check determinism; the coverage marks hit, judged in a campaign of the default
//! size or larger (`crate::fuzz::marks`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use joinsim::PlantedBug;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;

use crate::artifacts::RunFiles;
use crate::failure::{classify, diverged, invalid_case, Counted, FailureKind, Tally};
use crate::fuzz::case::{fuzz_case_with, FuzzCase};
use crate::fuzz::guide::{kinds_on, Guide, Outcome, WeatherBias};
use crate::fuzz::marks::{marks_of, MarksReport};
use crate::record::RunRecord;
use crate::scenario::runner::{run_scenario_keeping, Kept};
use crate::scenario::{parse_scenario, run_scenario, SeedResult};

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
    /// Steer the weather's chances towards the marks hit least (`crate::fuzz::guide`; docs/fuzzing.md,
    /// "Guided search"); false: the swarm.
    pub guided: bool,
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
    /// The files of its replay written beside it ([`RunFiles::beside`]: the trace file and the
    /// timeline picture).
    pub files_beside: Vec<String>,
    /// The command that replays it.
    pub replay: String,
    /// Faults in the case as drawn, and after shrinking.
    pub faults: (usize, usize),
    /// Nodes in the case as drawn, and after shrinking.
    pub nodes: (usize, usize),
    /// Shrink attempts made.
    pub shrink_runs: usize,
    /// True when `joinsim run FILE`, with no flags, reproduced the failure with the same trace
    /// hash.
    pub replayed: bool,
    /// The trace hash of the shrunk case's failing run (recorded in the file's `[origin]`).
    pub trace_hash: String,
    /// Why the file, or a file beside it, could not be written, if one could not.
    pub write_error: Option<String>,
}

/// A run counted apart from failures (liveness after the two-cluster hazard): its seed, and the
/// file (unshrunk) and command that replay it.
#[derive(Clone, Debug, Serialize)]
pub struct Reported {
    /// The seed.
    pub seed: u64,
    /// How it failed.
    pub kind: String,
    /// The first failure message.
    pub detail: String,
    /// The scenario file written (empty past [`MAX_REPORTED_FILES`] or if it could not be).
    pub file: String,
    /// The command that replays it.
    pub replay: String,
}

/// The campaign's summary (`fuzz --json`, and `summary.json` in `--out`; `docs/json.md`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// The version of this shape ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The joinsim version that ran the campaign.
    pub joinsim: String,
    /// The git commit it was built from.
    pub commit: String,
    /// The first seed.
    pub seed_start: u64,
    /// The shard, `I/N`.
    pub shard: String,
    /// The planted bug, if any.
    pub bug: Option<String>,
    /// Runs made (determinism repeats not counted).
    pub runs: u64,
    /// Runs repeated to check determinism.
    pub determinism_checks: u64,
    /// Failed runs, by kind.
    pub failures: BTreeMap<String, u64>,
    /// Runs whose liveness failed after two clusters formed (reported, not failures).
    pub liveness_after_hazard: u64,
    /// Those runs, each with its seed and replay command.
    pub reported: Vec<Reported>,
    /// Runs of a planted-bug hunt that fail the same way without the bug (not the bug's: an
    /// open fault; counted apart, and the hunt goes on), each with the command that replays it
    /// without the bug.
    pub without_bug: Vec<Reported>,
    /// Runs per wall second.
    pub runs_per_s: f64,
    /// Simulated seconds per wall second.
    pub sim_s_per_wall_s: f64,
    /// Wall time.
    pub wall_s: f64,
    /// The process's peak resident set at the end, MiB (`null` where `/proc` is missing).
    pub peak_memory_mib: Option<f64>,
    /// True when a timed campaign stopped early because its shard ran past the largest seed.
    pub seeds_exhausted: bool,
    /// How many runs hit each coverage mark (by name), and drew each fault-model kind
    /// (`fault:<kind>:drawn`).
    pub coverage: BTreeMap<String, u64>,
    /// The coverage marks hit and unhit, by rarity, and whether the campaign is judged by them.
    pub marks: MarksReport,
    /// How the runs drew their weather: `swarm` or `guided` (`fuzz --search`).
    pub search: String,
    /// A guided campaign's chances at its end, per mille, of the weather kinds steered away
    /// from the swarm's 400 (empty for the swarm).
    pub weather_chances: BTreeMap<String, u16>,
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

/// The case drawn from a seed with the swarm's chances, with its shrinkable tree.
pub fn draw(seed: u64) -> (Box<dyn ValueTree<Value = FuzzCase>>, FuzzCase) {
    draw_with(seed, WeatherBias::SWARM)
}

/// The case drawn from a seed with the weather's chances `bias` (guided search), with its
/// shrinkable tree.
pub fn draw_with(seed: u64, bias: WeatherBias) -> (Box<dyn ValueTree<Value = FuzzCase>>, FuzzCase) {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&0x6a6f_696e_7369_6d00u64.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let tree = fuzz_case_with(bias)
        .new_tree(&mut runner)
        .expect("the fuzz strategy always produces a case");
    let case = tree.current();
    (Box::new(tree), case)
}

fn run_case(case: &FuzzCase, seed: u64, bug: Option<PlantedBug>, keep_trace: bool) -> Verdict {
    let text = case.to_toml(seed, bug.map(|b| b.name()), &[], None);
    let scenario = match parse_scenario(&format!("<fuzz seed {seed}>"), &text) {
        Ok(s) => s,
        Err(e) => {
            let (kind, detail) = invalid_case(e);
            return Verdict {
                kind: Some(kind),
                detail,
                result: None,
            };
        }
    };
    // A campaign reads the events of its runs' traces (coverage, divergence reports), never
    // their messages: keeping those would grow memory with the runs in flight.
    let kept = if keep_trace {
        Kept::Events
    } else {
        Kept::Nothing
    };
    let result = run_scenario_keeping(&scenario, seed, kept);
    let (kind, detail) = match classify(&result) {
        Some((kind, detail)) => (Some(kind), detail),
        None => (None, String::new()),
    };
    Verdict {
        kind,
        detail,
        result: Some(result),
    }
}

/// The size of a case, for shrinking: (nodes, faults). A shrink step is taken only when neither
/// grows, so a shrunk case is never larger than the case as drawn.
fn size(case: &FuzzCase) -> (usize, usize) {
    (case.core + case.joiners, case.faults.len())
}

/// A file name under `out` for `stem` that no earlier finding holds: `stem.toml`, else
/// `stem-2.toml`, `stem-3.toml`, ... Created empty at once, so that two writers never pick one
/// name.
fn fresh_file(out: &Path, stem: &str) -> std::io::Result<PathBuf> {
    for n in 1..=10_000u32 {
        let name = if n == 1 {
            format!("{stem}.toml")
        } else {
            format!("{stem}-{n}.toml")
        };
        let path = out.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: 10000 files named {stem}-N.toml already exist",
        out.display()
    )))
}

/// The stem of a finding's file: `fuzz-<seed>-<kind>[-bug-<name>]`.
fn file_stem(prefix: &str, seed: u64, kind: &FailureKind, bug: Option<PlantedBug>) -> String {
    let bug = bug.map(|b| format!("-bug-{}", b.name().replace('_', "-")));
    format!("{prefix}-{seed}-{}{}", kind.slug(), bug.unwrap_or_default())
}

/// Where a run's case comes from: its seed, its index in the campaign's shard and the weather's
/// chances it was drawn with.
#[derive(Clone, Copy, Debug)]
struct Drawn {
    seed: u64,
    k: u64,
    bias: WeatherBias,
}

/// The shrink attempts per finding of `joinsim fuzz` when `--shrink-budget` is not given.
pub const DEFAULT_SHRINK_BUDGET: usize = 150;

/// The command a finding came from: the seed's one run for the swarm; for a guided campaign,
/// whose chances depend on the runs before, the campaign up to that run.
fn hunt_command(drawn: Drawn, options: &FuzzOptions) -> String {
    let mut flags = options
        .bug
        .map(|b| format!(" --bug {b}"))
        .unwrap_or_default();
    // The budget decides how far the written file was shrunk: the command says it when it is
    // not the CLI's default.
    if options.shrink_budget != DEFAULT_SHRINK_BUDGET {
        flags.push_str(&format!(" --shrink-budget {}", options.shrink_budget));
    }
    if options.guided {
        let (shard, shards) = options.shard;
        format!(
            "joinsim fuzz --search guided --seed-start {} --shard {shard}/{shards} --runs {}{flags}",
            options.seed_start,
            drawn.k + 1
        )
    } else {
        format!("joinsim fuzz --seed-start {} --runs 1{flags}", drawn.seed)
    }
}

/// Runs the file at `path` exactly as `joinsim run FILE` does (its own seeds, no flags), keeping
/// the trace; `None` when it does not load or does not hold exactly one seed.
fn replay_alone(path: &Path) -> Option<SeedResult> {
    let scenario = crate::scenario::load_scenario(path).ok()?;
    let seeds = scenario.seed_list(None);
    let [seed] = seeds.as_slice() else {
        return None;
    };
    Some(run_scenario(&scenario, *seed, true))
}

/// Writes the files of a finding's replay beside its scenario file ([`RunFiles::beside`]) and
/// returns their paths; an error is returned as text.
fn write_files_beside(file: &Path, replay: &SeedResult) -> Result<Vec<String>, String> {
    let record = RunRecord::from_result(replay);
    let written = RunFiles::beside(file).write(&record)?;
    Ok(written.iter().map(|p| p.display().to_string()).collect())
}

/// Writes a case as a scenario file that replays alone: its `seed`, its planted bug and its
/// `[origin]` (version, commit, command, failure, trace hash).
#[allow(clippy::too_many_arguments)]
fn write_case(
    case: &FuzzCase,
    drawn: Drawn,
    kind: &FailureKind,
    trace_hash: &str,
    header: &[String],
    prefix: &str,
    options: &FuzzOptions,
) -> std::io::Result<PathBuf> {
    let origin = crate::scenario::Origin {
        joinsim: Some(crate::VERSION.to_string()),
        commit: Some(crate::COMMIT.to_string()),
        command: Some(hunt_command(drawn, options)),
        failure: Some(kind.to_string()),
        trace_hash: Some(trace_hash.to_string()),
    };
    let seed = drawn.seed;
    let text = case.to_toml(seed, options.bug.map(|b| b.name()), header, Some(&origin));
    let file = fresh_file(&options.out, &file_stem(prefix, seed, kind, options.bug))?;
    std::fs::write(&file, text)?;
    Ok(file)
}

/// Whether a failure of `kind` that `case` has in a planted-bug hunt is the bug's: the same
/// case without the bug does not fail that way. A failure the case has without the bug too is an
/// open fault of the protocol (or of the weather), not a detection of the bug. True outside a
/// hunt, and for kinds the comparison cannot tell (determinism, runs counted apart).
fn fails_by_the_bug(case: &FuzzCase, seed: u64, kind: &FailureKind, options: &FuzzOptions) -> bool {
    if options.bug.is_none() || !kind.counts() || *kind == FailureKind::Determinism {
        return true;
    }
    run_case(case, seed, None, false).kind.as_ref() != Some(kind)
}

/// Shrinks the failing case of `seed` and writes it. In a planted-bug hunt a smaller case is
/// kept only while it still needs the bug to fail. Shrinking stops after
/// `options.shrink_budget` attempts, or at `deadline` (the end of a timed campaign), keeping the
/// smallest failing case so far.
fn shrink_and_write(
    drawn: Drawn,
    kind: &FailureKind,
    detail: &str,
    options: &FuzzOptions,
    deadline: Option<Instant>,
) -> Finding {
    let seed = drawn.seed;
    let (mut tree, original) = draw_with(seed, drawn.bias);
    let mut best = original.clone();
    let mut best_hash = None;
    let mut attempts = 0;
    if *kind != FailureKind::Determinism && tree.simplify() {
        loop {
            attempts += 1;
            if attempts > options.shrink_budget || deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let candidate = tree.current();
            let smaller =
                size(&candidate).0 <= size(&best).0 && size(&candidate).1 <= size(&best).1;
            let verdict = run_case(&candidate, seed, options.bug, false);
            if smaller
                && verdict.kind.as_ref() == Some(kind)
                && fails_by_the_bug(&candidate, seed, kind, options)
            {
                best_hash = verdict.result.map(|r| r.trace_hash);
                best = candidate;
                if !tree.simplify() {
                    break;
                }
            } else if !tree.complicate() {
                break;
            }
        }
    }
    let best_hash = match best_hash {
        Some(hash) => hash,
        None => run_case(&best, seed, options.bug, false)
            .result
            .map_or_else(|| "-".into(), |r| r.trace_hash),
    };
    let header = vec![
        format!("Found by `{}`: {kind}.", hunt_command(drawn, options)),
        format!(
            "First failure: {}",
            detail.lines().next().unwrap_or_default()
        ),
        format!(
            "Shrunk from {} nodes and {} faults to {} nodes and {} faults ({attempts} attempts).",
            size(&original).0,
            size(&original).1,
            size(&best).0,
            size(&best).1,
        ),
        "Keep it as a regression scenario: give it a name and a header saying what it pins,".into(),
        "move it to scenarios/, and replace `allow_hazards` with the expected outcome.".into(),
    ];
    let written = write_case(&best, drawn, kind, &best_hash, &header, "fuzz", options);
    let mut files_beside = Vec::new();
    let (file, replayed, error) = match written {
        Ok(file) => {
            let replay = replay_alone(&file);
            let same = replay.as_ref().is_some_and(|r| {
                classify(r).is_some_and(|(k, _)| k == *kind) && r.trace_hash == best_hash
            });
            let mut error = None;
            if let Some(replay) = &replay {
                match write_files_beside(&file, replay) {
                    Ok(paths) => files_beside = paths,
                    Err(e) => error = Some(e),
                }
            }
            let replayed = *kind == FailureKind::Determinism || same;
            (file.display().to_string(), replayed, error)
        }
        Err(e) => (String::new(), false, Some(e.to_string())),
    };
    Finding {
        seed,
        kind: kind.to_string(),
        detail: detail.to_string(),
        replay: if file.is_empty() {
            hunt_command(drawn, options)
        } else {
            format!(
                "cargo run --release -- run {}",
                crate::shell::shell_word(&file)
            )
        },
        file,
        files_beside,
        write_error: error,
        trace_hash: best_hash,
        faults: (size(&original).1, size(&best).1),
        nodes: (size(&original).0, size(&best).0),
        shrink_runs: attempts,
        replayed,
    }
}

/// A run counted apart from failures (liveness after the two-cluster hazard), written unshrunk.
fn write_reported(
    drawn: Drawn,
    kind: &FailureKind,
    detail: &str,
    options: &FuzzOptions,
) -> Reported {
    let seed = drawn.seed;
    let (_, case) = draw_with(seed, drawn.bias);
    let hash = run_case(&case, seed, options.bug, false)
        .result
        .map_or_else(|| "-".into(), |r| r.trace_hash);
    let header = vec![
        format!(
            "Reported by `{}`: {kind} (counted apart from failures).",
            hunt_command(drawn, options)
        ),
        format!(
            "First failure: {}",
            detail.lines().next().unwrap_or_default()
        ),
    ];
    match write_case(&case, drawn, kind, &hash, &header, "reported", options) {
        Ok(file) => Reported {
            seed,
            kind: kind.to_string(),
            detail: detail.to_string(),
            replay: format!(
                "cargo run --release -- run {}",
                crate::shell::shell_word(&file.display().to_string())
            ),
            file: file.display().to_string(),
        },
        Err(e) => Reported {
            seed,
            kind: kind.to_string(),
            detail: format!("{detail} (its file could not be written: {e})"),
            replay: hunt_command(drawn, options),
            file: String::new(),
        },
    }
}

/// The campaign's log, `<out>/campaign.jsonl`: one JSON object a line, written as the campaign
/// goes (start, each failure, each finding, progress, summary), so that a campaign stopped from
/// outside leaves everything it found. Schema: `docs/json.md`.
struct CampaignLog {
    file: Mutex<Option<std::fs::File>>,
}

impl CampaignLog {
    fn open(out: &Path) -> CampaignLog {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out.join(CAMPAIGN_LOG))
            .ok();
        CampaignLog {
            file: Mutex::new(file),
        }
    }

    fn write(&self, record: serde_json::Value) {
        use std::io::Write as _;
        if let Some(file) = self.file.lock().expect("log lock").as_mut() {
            let _ = writeln!(file, "{record}");
            let _ = file.flush();
        }
    }
}

/// The campaign log's file name in `--out`.
pub const CAMPAIGN_LOG: &str = "campaign.jsonl";
/// The summary's file name in `--out`, written at the end.
pub const SUMMARY_FILE: &str = "summary.json";
/// The version of the JSON shapes of `fuzz --json`, the campaign log and the summary file.
pub const SCHEMA_VERSION: u32 = 1;
/// The most runs counted apart (liveness after the hazard) that get a file of their own.
pub const MAX_REPORTED_FILES: usize = 100;

/// Checks that `out` can hold findings: creates it and writes a probe file. Run before a
/// campaign starts, so that a campaign never runs for hours to lose what it finds.
pub fn check_out_dir(out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out)
        .map_err(|e| format!("--out {}: cannot create the directory: {e}", out.display()))?;
    let probe = out.join(".joinsim-write-probe");
    std::fs::write(&probe, b"probe")
        .map_err(|e| format!("--out {}: cannot write there: {e}", out.display()))?;
    let _ = std::fs::remove_file(&probe);
    for name in [CAMPAIGN_LOG, SUMMARY_FILE] {
        let path = out.join(name);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("--out {}: cannot write {name}: {e}", out.display()))?;
    }
    Ok(())
}

/// The last seed a campaign of `runs` runs would use, or an error if it passes u64::MAX.
pub fn last_seed(seed_start: u64, shard: (u64, u64), runs: u64) -> Result<u64, String> {
    runs.checked_sub(1)
        .and_then(|k| k.checked_mul(shard.1))
        .and_then(|x| x.checked_add(shard.0))
        .and_then(|x| x.checked_add(seed_start))
        .ok_or_else(|| {
            format!(
                "--seed-start {seed_start} with {runs} runs of shard {}/{} passes the largest seed ({})",
                shard.0,
                shard.1,
                u64::MAX
            )
        })
}

/// Runs a campaign. The caller checks `options.out` first ([`check_out_dir`]).
pub fn fuzz(options: &FuzzOptions) -> Summary {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let exhausted = AtomicBool::new(false);
    let runs = AtomicU64::new(0);
    let checks = AtomicU64::new(0);
    let sim_ms = AtomicU64::new(0);
    let tally: Mutex<Tally> = Mutex::new(Tally::default());
    let claimed = AtomicU64::new(0);
    let failed: Mutex<Vec<Failed>> = Mutex::new(Vec::new());
    let findings: Mutex<Vec<Finding>> = Mutex::new(Vec::new());
    let reported: Mutex<Vec<Reported>> = Mutex::new(Vec::new());
    let without_bug: Mutex<Vec<Reported>> = Mutex::new(Vec::new());
    let coverage: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let guide = Guide::new(options.guided);
    let (shard, shards) = options.shard;
    let _ = std::fs::create_dir_all(&options.out);
    let log = CampaignLog::open(&options.out);
    log.write(serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "type": "start",
        "joinsim": crate::VERSION,
        "commit": crate::COMMIT,
        "seed_start": options.seed_start,
        "shard": format!("{shard}/{shards}"),
        "runs": options.time.is_none().then_some(options.runs),
        "time_s": options.time.map(|t| t.as_secs_f64()),
        "bug": options.bug.map(|b| b.name()),
    }));
    let progress_line = || {
        let done = runs.load(Ordering::Relaxed);
        let wall = started.elapsed().as_secs_f64();
        let (failed, apart) = {
            let tally = tally.lock().expect("tally lock");
            (tally.failed(), tally.liveness_after_hazard)
        };
        let line = format!(
            "fuzz: {done} runs, {failed} failed, {apart} liveness after two clusters (counted apart), {:.0} runs/s",
            done as f64 / wall.max(1e-9)
        );
        log.write(serde_json::json!({
            "type": "progress",
            "runs": done,
            "failed": failed,
            "liveness_after_hazard": apart,
            "wall_s": wall,
        }));
        line
    };
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
                let Some(seed) = shard_seed(options.seed_start, (shard, shards), k) else {
                    // Past the largest seed: a timed campaign ends here, and says so.
                    exhausted.store(true, Ordering::Relaxed);
                    stop.store(true, Ordering::Relaxed);
                    return;
                };
                let give_up = || {
                    stop.load(Ordering::Relaxed)
                        || options.time.is_some_and(|t| started.elapsed() >= t)
                };
                let Some(bias) = guide.bias_for(k, give_up) else {
                    return;
                };
                let drawn = Drawn { seed, k, bias };
                let (_, case) = draw_with(seed, bias);
                let verdict = run_case(&case, seed, options.bug, true);
                let mut kind = verdict.kind.clone();
                let mut detail = verdict.detail.clone();
                let hit = verdict
                    .result
                    .as_ref()
                    .map(|r| marks_of(&r.trace, &r.hazards))
                    .unwrap_or_default();
                // Before anything that may stop this worker: the next batch waits for it.
                guide.record(
                    k,
                    Outcome {
                        kinds: kinds_on(&case.weather),
                        marks: hit.iter().copied().collect(),
                    },
                );
                if let Some(result) = &verdict.result {
                    sim_ms.fetch_add(result.sim_time_ms, Ordering::Relaxed);
                    let reached = hit.into_iter().map(str::to_string);
                    let drawn = case
                        .fault_model_kinds()
                        .into_iter()
                        .map(|kind| format!("fault:{kind}:drawn"));
                    let mut cov = coverage.lock().expect("coverage lock");
                    for path in reached.into_iter().chain(drawn) {
                        *cov.entry(path).or_default() += 1;
                    }
                    drop(cov);
                    if kind.is_none() && (options.check_determinism || k.is_multiple_of(8)) {
                        checks.fetch_add(1, Ordering::Relaxed);
                        let again = run_case(&case, seed, options.bug, true);
                        let divergence = match &again.result {
                            Some(r) => crate::trace::first_divergence(
                                (&result.trace, &result.hash_after, result.trace_hash_u64),
                                (&r.trace, &r.hash_after, r.trace_hash_u64),
                            ),
                            None => Some(format!("the second run failed: {}", again.detail)),
                        };
                        if let Some((diverged_kind, why)) = diverged(seed, divergence) {
                            kind = Some(diverged_kind);
                            detail = why;
                        }
                    }
                }
                let done = runs.fetch_add(1, Ordering::Relaxed) + 1;
                let Some(kind) = kind else { continue };
                let needs_the_bug = fails_by_the_bug(&case, seed, &kind, options);
                let counted = tally
                    .lock()
                    .expect("tally lock")
                    .count(&kind, needs_the_bug);
                if counted == Counted::WithoutBug {
                    log.write(serde_json::json!({
                        "type": "failure",
                        "seed": seed,
                        "kind": kind.to_string(),
                        "counted": false,
                        "without_bug": true,
                        "detail": detail,
                        "runs": done,
                        "wall_s": started.elapsed().as_secs_f64(),
                    }));
                    without_bug
                        .lock()
                        .expect("without-bug lock")
                        .push(Reported {
                            seed,
                            kind: kind.to_string(),
                            detail,
                            file: String::new(),
                            replay: hunt_command(
                                drawn,
                                &FuzzOptions {
                                    bug: None,
                                    ..options.clone()
                                },
                            ),
                        });
                    continue;
                }
                let at_s = started.elapsed().as_secs_f64();
                log.write(serde_json::json!({
                    "type": "failure",
                    "seed": seed,
                    "kind": kind.to_string(),
                    "counted": counted == Counted::Failure,
                    "detail": detail,
                    "runs": done,
                    "wall_s": at_s,
                }));
                failed.lock().expect("failed lock").push((
                    seed,
                    done,
                    kind.clone(),
                    detail.clone(),
                    at_s,
                ));
                if counted == Counted::LivenessAfterHazard {
                    let mut list = reported.lock().expect("reported lock");
                    if list.len() < MAX_REPORTED_FILES {
                        drop(list);
                        let r = write_reported(drawn, &kind, &detail, options);
                        log.write(serde_json::json!({"type": "reported", "record": &r}));
                        list = reported.lock().expect("reported lock");
                        list.push(r);
                    } else {
                        list.push(Reported {
                            seed,
                            kind: kind.to_string(),
                            detail,
                            file: String::new(),
                            replay: hunt_command(drawn, options),
                        });
                    }
                    continue;
                }
                // A hunt that stops at the first failure shrinks exactly one: a second worker
                // that failed before it saw the stop does not write a second file.
                if options.stop_at_first && stop.swap(true, Ordering::Relaxed) {
                    return;
                }
                if claimed.fetch_add(1, Ordering::Relaxed) < options.max_findings as u64 {
                    if options.progress {
                        eprintln!("fuzz: shrinking seed {seed} ({kind}) ...");
                    }
                    let deadline = options.time.map(|t| started + t);
                    let finding = shrink_and_write(drawn, &kind, &detail, options, deadline);
                    if options.progress {
                        eprintln!("fuzz: wrote {} (replay: {})", finding.file, finding.replay);
                    }
                    log.write(serde_json::json!({"type": "finding", "finding": &finding}));
                    findings.lock().expect("findings lock").push(finding);
                }
            });
        }
        if options.progress {
            scope.spawn(|| {
                let mut last = Instant::now();
                loop {
                    if stop.load(Ordering::Relaxed)
                        || options.time.is_some_and(|t| started.elapsed() >= t)
                        || (options.time.is_none() && runs.load(Ordering::Relaxed) >= options.runs)
                    {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    if last.elapsed() >= Duration::from_secs(2) {
                        last = Instant::now();
                        eprintln!("{}", progress_line());
                    }
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let mut failed = failed.into_inner().expect("failed lock");
    failed.sort_by_key(|(seed, ..)| *seed);
    let mut summary = Summary {
        schema_version: SCHEMA_VERSION,
        joinsim: crate::VERSION.to_string(),
        commit: crate::COMMIT.to_string(),
        seed_start: options.seed_start,
        shard: format!("{shard}/{shards}"),
        bug: options.bug.map(|b| b.name().to_string()),
        runs: runs.load(Ordering::Relaxed),
        determinism_checks: checks.load(Ordering::Relaxed),
        wall_s: wall,
        runs_per_s: runs.load(Ordering::Relaxed) as f64 / wall.max(1e-9),
        sim_s_per_wall_s: sim_ms.load(Ordering::Relaxed) as f64 / 1e3 / wall.max(1e-9),
        peak_memory_mib: crate::memory::peak_resident_mib(),
        seeds_exhausted: exhausted.load(Ordering::Relaxed),
        coverage: coverage.into_inner().expect("coverage lock"),
        search: if options.guided { "guided" } else { "swarm" }.to_string(),
        weather_chances: guide
            .current()
            .steered()
            .into_iter()
            .map(|(k, p)| (k.to_string(), p))
            .collect(),
        ..Default::default()
    };
    let mut reported = reported.into_inner().expect("reported lock");
    reported.sort_by_key(|r| r.seed);
    let tally = tally.into_inner().expect("tally lock");
    summary.failures = tally.failures;
    summary.liveness_after_hazard = tally.liveness_after_hazard;
    summary.reported = reported;
    let mut without_bug = without_bug.into_inner().expect("without-bug lock");
    without_bug.sort_by_key(|r| r.seed);
    summary.without_bug = without_bug;
    let failed: Vec<Failed> = failed.into_iter().filter(|f| f.2.counts()).collect();
    if let Some((seed, done, _, _, at)) = failed.iter().min_by(|a, b| a.4.total_cmp(&b.4)) {
        summary.first_failure_seed = Some(*seed);
        summary.runs_to_first_failure = Some(*done);
        summary.wall_s_to_first_failure = Some(*at);
    }
    let mut findings = findings.into_inner().expect("findings lock");
    findings.sort_by_key(|f| f.seed);
    summary.findings = findings;
    let judged = crate::fuzz::marks::judged(summary.runs, options.bug.is_some(), shards);
    summary.marks = crate::fuzz::marks::report(&summary.coverage, judged);
    let record = serde_json::to_value(&summary).expect("the summary serializes");
    log.write(serde_json::json!({"type": "summary", "summary": record}));
    let _ = std::fs::write(
        options.out.join(SUMMARY_FILE),
        serde_json::to_string_pretty(&summary).expect("the summary serializes"),
    );
    summary
}

/// The exit code of a campaign (docs/fuzzing.md, "Exit codes"): 1 when a run failed, else 3
/// when the campaign is judged by its coverage marks and left a common one unhit, else 0. (Bad
/// input, 2, never reaches a campaign.)
pub fn exit_code(summary: &Summary) -> u8 {
    if !summary.failures.is_empty() {
        1
    } else if summary.marks.verdict().is_some() {
        3
    } else {
        0
    }
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
    let _ = writeln!(
        out,
        "  seeds:                  from {}, shard {}; joinsim {} (commit {})",
        summary.seed_start, summary.shard, summary.joinsim, summary.commit
    );
    if !summary.weather_chances.is_empty() {
        let chances: Vec<String> = summary
            .weather_chances
            .iter()
            .map(|(k, p)| format!("{k} {:.2}", f64::from(*p) / 1000.0))
            .collect();
        let _ = writeln!(out, "  guided weather chances: {}", chances.join(", "));
    }
    let _ = writeln!(out, "  runs per second:        {:.0}", summary.runs_per_s);
    let _ = writeln!(
        out,
        "  simulated s per wall s: {:.0}",
        summary.sim_s_per_wall_s
    );
    if let Some(peak) = summary.peak_memory_mib {
        let _ = writeln!(out, "  peak memory:            {peak:.1} MiB");
    }
    if summary.seeds_exhausted {
        let _ = writeln!(
            out,
            "  stopped early: the shard ran past the largest seed ({})",
            u64::MAX
        );
    }
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
            "  liveness after two clusters (counted apart, not failures): {}",
            summary.liveness_after_hazard
        );
        for r in &summary.reported {
            let _ = writeln!(out, "    seed {}: {}", r.seed, r.replay);
        }
    }
    if !summary.without_bug.is_empty() {
        let _ = writeln!(
            out,
            "  failing without the planted bug too (not the bug's; counted apart): {}",
            summary.without_bug.len()
        );
        for r in &summary.without_bug {
            let _ = writeln!(out, "    seed {} ({}): {}", r.seed, r.kind, r.replay);
        }
    }
    if let (Some(runs), Some(wall)) = (
        summary.runs_to_first_failure,
        summary.wall_s_to_first_failure,
    ) {
        let _ = writeln!(out, "  first failure after {runs} runs, {wall:.2} s");
    }
    format_marks(&mut out, summary);
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
        if !f.files_beside.is_empty() {
            let _ = writeln!(out, "    beside it: {}", f.files_beside.join(", "));
        }
    }
    out
}

/// The summary's coverage marks: hit (with the runs that hit each) and unhit, common and rare,
/// the fault-model kinds drawn, and the verdict.
fn format_marks(out: &mut String, summary: &Summary) {
    let marks = &summary.marks;
    let judged = match &marks.not_judged {
        None => "judged: a common mark unhit fails the campaign".to_string(),
        Some(why) => format!("not judged ({why}): reported only"),
    };
    let _ = writeln!(out, "  coverage marks (runs that hit each; {judged}):");
    for (title, hit) in [("common", &marks.hit_common), ("rare", &marks.hit_rare)] {
        let _ = writeln!(out, "    {title}, hit: {}", hit.len());
        for (name, count) in hit {
            let _ = writeln!(out, "      {name:<46} {count}");
        }
    }
    for (title, unhit) in [("common", &marks.unhit_common), ("rare", &marks.unhit_rare)] {
        if unhit.is_empty() {
            let _ = writeln!(out, "    {title}, unhit: none");
            continue;
        }
        let _ = writeln!(out, "    {title}, unhit: {}", unhit.len());
        // A few names a line, so that a long list stays readable.
        for names in unhit.chunks(3) {
            let _ = writeln!(out, "      {}", names.join(", "));
        }
    }
    let drawn: Vec<String> = summary
        .coverage
        .iter()
        .filter(|(name, _)| name.starts_with("fault:"))
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    if !drawn.is_empty() {
        let _ = writeln!(
            out,
            "    fault-model kinds drawn (runs): {}",
            drawn.join(", ")
        );
    }
    if let Some(failure) = marks.verdict() {
        let _ = writeln!(out, "  FAILED {failure}");
    }
}

/// The `k`-th seed of a shard: `seed_start + I + k * N`, so shards never share a seed; `None`
/// past the largest seed.
pub fn shard_seed(seed_start: u64, (shard, shards): (u64, u64), k: u64) -> Option<u64> {
    k.checked_mul(shards)?
        .checked_add(shard)?
        .checked_add(seed_start)
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
    crate::limits::check("--shard N", n, &crate::limits::SHARDS)
        .map_err(|e| format!("--shard {text:?}: {e}"))?;
    Ok((i, n))
}

/// The default output directory.
pub fn default_out() -> PathBuf {
    Path::new("fuzz-out").to_path_buf()
}
