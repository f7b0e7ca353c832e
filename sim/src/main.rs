//! `joinsim`: the command-line tool of the IEP-77 join protocol simulator.
//!
//! Exit codes everywhere: 0 passed, 1 an expectation or invariant failed, 2 bad input.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use joinsim_sim::campaign::{self, ScenarioSummary};
use joinsim_sim::fuzz::campaign as fuzz_campaign;
use joinsim_sim::limits;

/// Deterministic simulation of the Apache Ignite 3 cluster join and initialization protocol.
#[derive(Parser, Debug)]
#[command(name = "joinsim", version = joinsim_sim::LONG_VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--seeds`: a count within [`limits::SEEDS`].
fn seed_count(text: &str) -> Result<u64, String> {
    let n: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a count"))?;
    limits::check("the seed count", n, &limits::SEEDS)
}

/// `demo --seeds`: a seed list ([`joinsim_sim::seed_list`]) of [`limits::DEMO_RUNS`] seeds.
fn demo_seed_list(text: &str) -> Result<joinsim_sim::seed_list::SeedList, String> {
    joinsim_sim::seed_list::SeedList::parse(text, &limits::DEMO_RUNS)
}

/// `--time`: whole or fractional seconds within [`limits::FUZZ_TIME_S`].
fn fuzz_time(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    let (min, max) = (
        *limits::FUZZ_TIME_S.start() as f64,
        *limits::FUZZ_TIME_S.end() as f64,
    );
    if !(min..=max).contains(&seconds) {
        return Err(format!(
            "{text} seconds is out of range: expected {min}..={max} (one second to one week)"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// Files a run is written to (docs/trace.md, docs/debugging.md); each draws one run.
#[derive(clap::Args, Debug, Default)]
struct FileArgs {
    /// Write the run's trace file (JSON Lines, docs/trace.md) here.
    #[arg(long, value_name = "FILE")]
    trace_out: Option<PathBuf>,
    /// Write the run's timeline picture (one self-contained HTML page) here.
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// Write a Mermaid sequence diagram of the protocol messages (Markdown) here.
    #[arg(long, value_name = "FILE")]
    mermaid: Option<PathBuf>,
    /// In the Mermaid diagram, draw Raft traffic and probes too.
    #[arg(long, requires = "mermaid")]
    mermaid_all: bool,
    /// Write a Chrome Trace Event file (for ui.perfetto.dev or chrome://tracing) here.
    #[arg(long, value_name = "FILE")]
    chrome_trace: Option<PathBuf>,
}

impl FileArgs {
    fn files(&self) -> joinsim_sim::artifacts::RunFiles {
        joinsim_sim::artifacts::RunFiles {
            trace_out: self.trace_out.clone(),
            timeline: self.timeline.clone(),
            mermaid: self.mermaid.clone(),
            mermaid_all: self.mermaid_all,
            chrome_trace: self.chrome_trace.clone(),
        }
    }
}

/// Writes the files asked for, naming each on stderr; a file that cannot be written is exit 2.
fn write_files(
    files: &joinsim_sim::artifacts::RunFiles,
    record: &joinsim_sim::record::RunRecord,
) -> Result<(), ExitCode> {
    match files.write(record) {
        Ok(paths) => {
            for path in paths {
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
        Err(e) => Err(bad_input(e)),
    }
}

/// `--detector`'s values (`joinsim::FailureDetector`).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum DetectorArg {
    AllPairs,
    Swim,
}

impl From<DetectorArg> for joinsim::FailureDetector {
    fn from(arg: DetectorArg) -> Self {
        match arg {
            DetectorArg::AllPairs => joinsim::FailureDetector::AllPairs,
            DetectorArg::Swim => joinsim::FailureDetector::Swim,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The canonical run: K empty nodes start, init goes to the first, all join, then one more
    /// empty node joins. Exit 0 when every node joined.
    Demo {
        /// The seed of the run (with --runs: the first seed).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many nodes start before init (1..=1000).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(limits::NODES))]
        nodes: u64,
        /// Run seeds SEED..SEED+N, one after another in this process, and print runs/s, the
        /// median run and totals instead of one run's outcome (1..=1000000).
        #[arg(long, value_parser = clap::value_parser!(u64).range(limits::DEMO_RUNS))]
        runs: Option<u64>,
        /// Like --runs, for a list of seeds: N (seeds 0..N), A..B (half-open) or a comma list
        /// of seeds and ranges such as 3,7,19 or 0..10,15 (each seed once, run in ascending
        /// order; 1..=1000000 seeds).
        #[arg(long, value_name = "SPEC", value_parser = demo_seed_list, conflicts_with_all = ["runs", "seed"])]
        seeds: Option<joinsim_sim::seed_list::SeedList>,
        /// The physical topology's failure detector: all-pairs (the protocol's default) or swim
        /// (opt-in; docs/protocol.md, "Failure detection").
        #[arg(long, value_enum, default_value_t = DetectorArg::AllPairs)]
        detector: DetectorArg,
        #[command(flatten)]
        files: FileArgs,
    },
    /// Run one scenario file over its seeds (a fuzzer finding: its one seed), or the given ones.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// Run only this seed.
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// Run seeds 0..N (1..=10000), then the file's own seeds, instead of the file's count.
        #[arg(long, value_parser = seed_count)]
        seeds: Option<u64>,
        /// Print one JSON document (schema: docs/json.md).
        #[arg(long)]
        json: bool,
        /// Print the event timeline of each seed (in the JSON too, with --json).
        #[arg(long)]
        trace: bool,
        /// Files of the run (they need one seed: --seed N, or a file with one seed).
        #[command(flatten)]
        files: FileArgs,
    },
    /// Search random runs for invariant or liveness violations; shrink each failure to a scenario
    /// file that `joinsim run FILE` replays alone.
    Fuzz {
        /// Runs of this shard, 1..=1000000000 (default 1000, or 2000 with --bug).
        #[arg(long, conflicts_with = "time", value_parser = clap::value_parser!(u64).range(limits::FUZZ_RUNS))]
        runs: Option<u64>,
        /// Run for this many wall seconds instead (1..=604800).
        #[arg(long, value_parser = fuzz_time)]
        time: Option<std::time::Duration>,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        seed_start: u64,
        /// Runs in parallel, 1..=256 (default: one per core).
        #[arg(long, value_parser = clap::value_parser!(u64).range(limits::JOBS))]
        jobs: Option<u64>,
        /// This machine's share of the seeds, I/N: seeds seed_start + I + k*N.
        #[arg(long, default_value = "0/1")]
        shard: String,
        /// Where findings, the campaign log and the summary are written (checked first).
        #[arg(long, default_value = "fuzz-out")]
        out: PathBuf,
        /// Print the summary as one JSON document (schema: docs/json.md).
        #[arg(long)]
        json: bool,
        /// Run with a planted bug (see --list-bugs); stops at the first failure that needs the
        /// bug (a failure the same case has without it is counted apart).
        #[arg(long)]
        bug: Option<String>,
        /// Run every seed twice and compare the traces.
        #[arg(long)]
        check_determinism: bool,
        /// Print the planted bugs' names, one a line.
        #[arg(long)]
        list_bugs: bool,
        /// How runs draw their weather: `guided` (the default: chances steered, batch by batch,
        /// towards the coverage marks hit least; docs/fuzzing.md, "Guided search") or `swarm`
        /// (every kind on with chance 0.4).
        #[arg(long, value_enum, default_value_t = Search::Guided)]
        search: Search,
        /// Shrink attempts per finding, 0..=10000 (each one run; 0 writes the finding as drawn).
        #[arg(long, default_value_t = joinsim_sim::fuzz::DEFAULT_SHRINK_BUDGET as u64, value_parser = clap::value_parser!(u64).range(limits::SHRINK_BUDGET))]
        shrink_budget: u64,
    },
    /// Explore every interleaving of small worlds of the reference model (docs/explore.md):
    /// safety on every state, liveness at quiescence, interesting states reached; a broken
    /// property's shortest path is written as a scenario file.
    Explore {
        /// Nodes per world (2..=3).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(limits::EXPLORE_NODES))]
        nodes: u64,
        /// One world (empty, stale, foreign) instead of all three.
        #[arg(long)]
        world: Option<String>,
        /// The bound on a path's length, in moves (1..=200).
        #[arg(long, default_value_t = joinsim_sim::explore::DEFAULT_DEPTH as u64, value_parser = clap::value_parser!(u64).range(limits::EXPLORE_DEPTH))]
        depth: u64,
        /// Explore with a planted model error (see --list-model-bugs): a counterexample must
        /// be found.
        #[arg(long)]
        model_bug: Option<String>,
        /// Print the planted model errors' names, one a line.
        #[arg(long)]
        list_model_bugs: bool,
        /// Where a counterexample's scenario file is written.
        #[arg(long, default_value = "explore-out")]
        out: PathBuf,
    },
    /// Run every scenario of a directory over its seeds: the main job.
    Check {
        /// The directory (default: scenarios/).
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
        /// Run seeds 0..N (1..=10000) of every scenario, then its own seeds, instead of each
        /// file's count.
        #[arg(long, value_parser = seed_count)]
        seeds: Option<u64>,
        /// Print one JSON document (schema: docs/json.md).
        #[arg(long)]
        json: bool,
    },
}

/// How a campaign draws its runs' weather (`fuzz --search`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Search {
    /// Every kind on with chance 0.4.
    Swarm,
    /// Chances steered towards the marks hit least.
    Guided,
}

fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .without_time()
            .try_init();
    }
}

/// Bad input: the message on stderr, exit 2.
fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Demo {
            seed,
            nodes,
            runs,
            seeds,
            detector,
            files,
        } => {
            let detector = joinsim::FailureDetector::from(detector);
            let batch_seeds = match (runs, seeds) {
                (Some(runs), _) => {
                    if !files.files().is_empty() {
                        return bad_input("--runs makes many runs: it takes no file of a run");
                    }
                    match joinsim_sim::seed_list::SeedList::range(seed, runs) {
                        Ok(list) => Some(list),
                        Err(_) => {
                            return bad_input(format!(
                                "--seed {seed} --runs {runs} passes the largest seed"
                            ))
                        }
                    }
                }
                (None, Some(list)) => {
                    if !files.files().is_empty() {
                        return bad_input("--seeds makes many runs: it takes no file of a run");
                    }
                    Some(list)
                }
                (None, None) => None,
            };
            if let Some(batch_seeds) = batch_seeds {
                let batch =
                    joinsim_sim::run_demos_detecting(&batch_seeds, nodes as usize, detector);
                print!("{}", joinsim_sim::format_demo_batch(&batch));
                return if batch.failed_seeds.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                };
            }
            let report = joinsim_sim::run_demo_detecting(seed, nodes as usize, detector);
            print!("{}", joinsim_sim::format_demo(&report));
            let files = files.files();
            if !files.is_empty() {
                let record = joinsim_sim::record::RunRecord::from_demo(&report);
                if let Err(code) = write_files(&files, &record) {
                    return code;
                }
            }
            if report.value.all_joined && report.value.init.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Run {
            file,
            seed,
            seeds,
            json,
            trace,
            files,
        } => run(file, seed, seeds, json, trace, files.files()),
        Command::Check { dir, seeds, json } => check(dir, seeds, json),
        Command::Explore {
            nodes,
            world,
            depth,
            model_bug,
            list_model_bugs,
            out,
        } => explore(nodes, world, depth, model_bug, list_model_bugs, out),
        Command::Fuzz {
            runs,
            time,
            seed_start,
            jobs,
            shard,
            out,
            json,
            bug,
            check_determinism,
            list_bugs,
            search,
            shrink_budget,
        } => {
            if list_bugs {
                for bug in <joinsim::PlantedBug as strum::IntoEnumIterator>::iter() {
                    println!("{bug}");
                }
                return ExitCode::SUCCESS;
            }
            let bug = match bug
                .as_deref()
                .map(|b| (b, joinsim::PlantedBug::from_name(b)))
            {
                None => None,
                Some((_, Some(bug))) => Some(bug),
                Some((name, None)) => {
                    return bad_input(format!(
                        "unknown planted bug {name:?}; see joinsim fuzz --list-bugs"
                    ))
                }
            };
            let shard = match fuzz_campaign::parse_shard(&shard) {
                Ok(s) => s,
                Err(e) => return bad_input(e),
            };
            let runs = runs.unwrap_or(if bug.is_some() { 2_000 } else { 1_000 });
            // A campaign of runs must fit below the largest seed; a timed one needs one seed.
            let needed = if time.is_none() { runs } else { 1 };
            if let Err(e) = fuzz_campaign::last_seed(seed_start, shard, needed) {
                return bad_input(e);
            }
            if let Err(e) = fuzz_campaign::check_out_dir(&out) {
                return bad_input(e);
            }
            let options = joinsim_sim::fuzz::FuzzOptions {
                runs,
                time,
                seed_start,
                jobs: jobs.map_or_else(campaign::default_jobs, |j| j as usize),
                shard,
                out,
                bug,
                check_determinism,
                stop_at_first: bug.is_some(),
                shrink_budget: shrink_budget as usize,
                max_findings: 3,
                progress: true,
                guided: search == Search::Guided,
            };
            let summary = joinsim_sim::fuzz::fuzz(&options);
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&summary).expect("summary serializes")
                );
            } else {
                print!("{}", fuzz_campaign::format_summary(&summary, &options));
            }
            if let Some(failure) = summary.marks.verdict() {
                eprintln!("error: {failure}");
            }
            ExitCode::from(fuzz_campaign::exit_code(&summary))
        }
    }
}

/// Notes on stderr when a fuzzer finding is replayed on another build, or its trace differs.
fn origin_notes(scenario: &joinsim_sim::Scenario, results: &[joinsim_sim::SeedResult]) {
    let Some(origin) = &scenario.origin else {
        return;
    };
    if let Some(commit) = origin.commit.as_deref() {
        if commit != joinsim_sim::COMMIT {
            eprintln!(
                "note: {} was found on commit {commit}; this build is commit {}: the replay may differ",
                scenario.path,
                joinsim_sim::COMMIT
            );
        }
    }
    let (Some(seed), Some(hash)) = (scenario.seed, origin.trace_hash.as_deref()) else {
        return;
    };
    if let Some(result) = results.iter().find(|r| r.seed == seed) {
        if result.trace_hash != hash {
            eprintln!(
                "note: seed {seed} gave trace hash {}, not the {hash} recorded when it was found",
                result.trace_hash
            );
        }
    }
}

fn run(
    file: PathBuf,
    seed: Option<u64>,
    seeds: Option<u64>,
    json: bool,
    trace: bool,
    files: joinsim_sim::artifacts::RunFiles,
) -> ExitCode {
    let scenario = match joinsim_sim::load_scenario(&file) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let list: Vec<u64> = match (seed, seeds) {
        (Some(s), _) => vec![s],
        (None, count) => scenario.seed_list(count),
    };
    if !files.is_empty() && list.len() != 1 {
        return bad_input(format!(
            "{}: the files of a run (--trace-out, --timeline, --mermaid, --chrome-trace) draw one \
             run, and this would run {} seeds: give --seed N",
            scenario.path,
            list.len()
        ));
    }
    let keep = trace || !files.is_empty();
    let mut results = campaign::run_seeds(&scenario, &list, campaign::default_jobs(), keep);
    if let Some(result) = results.first().filter(|_| !files.is_empty()) {
        let record = joinsim_sim::record::RunRecord::from_result(result);
        if let Err(code) = write_files(&files, &record) {
            return code;
        }
    }
    if !trace {
        // Kept for the files only: the report prints the trace only with --trace.
        for result in &mut results {
            result.trace.clear();
        }
    }
    origin_notes(&scenario, &results);
    let passed = results.iter().filter(|r| r.passed).count();
    let mut stdout = std::io::stdout().lock();
    if json {
        let document = campaign::RunDocument {
            schema_version: campaign::SCHEMA_VERSION,
            kind: "run",
            joinsim: joinsim_sim::VERSION,
            commit: joinsim_sim::COMMIT,
            scenario: &scenario.name,
            file: &scenario.path,
            passed: passed == results.len(),
            results: &results,
        };
        print_document(&mut stdout, &document);
    } else {
        for result in &results {
            if trace {
                let _ = writeln!(stdout, "timeline of seed {}:", result.seed);
                for entry in &result.trace {
                    let _ = writeln!(stdout, "  {entry}");
                }
                let _ = writeln!(stdout, "final state of seed {}:", result.seed);
                for (label, view) in &result.views {
                    let _ = writeln!(
                        stdout,
                        "  {label}: {:?}; cmg {:?}; ms {:?}; ms state {:?}",
                        view.join, view.cmg, view.ms, view.ms_state
                    );
                }
            }
            let _ = write!(stdout, "{}", campaign::format_result(result));
        }
        let _ = writeln!(
            stdout,
            "{}: {passed}/{} seeds passed",
            scenario.name,
            results.len()
        );
    }
    if passed == results.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check(dir: PathBuf, seeds: Option<u64>, json: bool) -> ExitCode {
    let scenarios = match campaign::load_dir(&dir) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            return ExitCode::from(2);
        }
    };
    if scenarios.is_empty() {
        return bad_input(format!("no scenario files (*.toml) in {}", dir.display()));
    }
    let jobs = campaign::default_jobs();
    let mut rows = Vec::new();
    let mut documents = Vec::new();
    let started = std::time::Instant::now();
    for (i, scenario) in scenarios.iter().enumerate() {
        let list: Vec<u64> = scenario.seed_list(seeds);
        eprint!(
            "[{:>2}/{}] {} ({} seeds) ... ",
            i + 1,
            scenarios.len(),
            scenario.name,
            list.len()
        );
        let results = campaign::run_seeds(scenario, &list, jobs, false);
        let passed = results.iter().filter(|r| r.passed).count();
        eprintln!("{passed}/{} passed", results.len());
        for result in results.iter().filter(|r| !r.passed && !json) {
            eprint!("{}", campaign::format_result(result));
        }
        let row = ScenarioSummary {
            scenario: scenario.name.clone(),
            file: scenario.path.clone(),
            seeds: results.len(),
            passed,
            failures: results
                .iter()
                .filter(|r| !r.passed)
                .map(|r| r.replay.clone())
                .collect(),
            timelines: results
                .iter()
                .filter(|r| !r.passed)
                .map(|r| r.timeline.clone())
                .collect(),
        };
        if json {
            documents.push(campaign::CheckedScenario {
                row: row.clone(),
                results,
            });
        }
        rows.push(row);
    }
    let all_passed = rows.iter().all(|r| r.passed == r.seeds);
    let mut stdout = std::io::stdout().lock();
    if json {
        let document = campaign::CheckDocument {
            schema_version: campaign::SCHEMA_VERSION,
            kind: "check",
            joinsim: joinsim_sim::VERSION,
            commit: joinsim_sim::COMMIT,
            dir: dir.display().to_string(),
            passed: all_passed,
            wall_s: started.elapsed().as_secs_f64(),
            peak_memory_mib: joinsim_sim::memory::peak_resident_mib(),
            scenarios: &documents,
        };
        print_document(&mut stdout, &document);
    } else {
        let _ = write!(stdout, "{}", campaign::format_table(&rows));
        let _ = writeln!(
            stdout,
            "wall time: {:.1} s, peak memory: {:.1} MiB",
            started.elapsed().as_secs_f64(),
            joinsim_sim::memory::peak_resident_mib().unwrap_or(f64::NAN)
        );
    }
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn explore(
    nodes: u64,
    world: Option<String>,
    depth: u64,
    model_bug: Option<String>,
    list_model_bugs: bool,
    out: PathBuf,
) -> ExitCode {
    use joinsim_model::{ModelFlaw, WorldKind};
    if list_model_bugs {
        for flaw in ModelFlaw::ALL {
            println!("{flaw}");
        }
        return ExitCode::SUCCESS;
    }
    let worlds = match world.as_deref() {
        None => WorldKind::ALL.to_vec(),
        Some(name) => match WorldKind::from_name(name) {
            Some(kind) => vec![kind],
            None => {
                return bad_input(format!(
                    "unknown world {name:?}: expected one of empty, stale, foreign"
                ))
            }
        },
    };
    let flaw = match model_bug.as_deref() {
        None => None,
        Some(name) => match ModelFlaw::from_name(name) {
            Some(flaw) => Some(flaw),
            None => {
                return bad_input(format!(
                    "unknown planted model error {name:?}; see joinsim explore --list-model-bugs"
                ))
            }
        },
    };
    let options = joinsim_sim::explore::ExploreOptions {
        nodes: nodes as usize,
        worlds,
        depth: depth as usize,
        flaw,
        out,
    };
    let results = match joinsim_sim::explore::explore(&options) {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    print!(
        "{}",
        joinsim_sim::explore::format_exploration(&options, &results)
    );
    if results.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// One JSON document (docs/json.md) as one line of stdout.
fn print_document(out: &mut impl std::io::Write, document: &impl serde::Serialize) {
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string(document).expect("results serialize")
    );
}

/// A reader that goes away (`joinsim fuzz --json | head`) ends the process quietly, as it does
/// any Unix tool, instead of `println!` panicking on the broken pipe: Rust starts programs with
/// SIGPIPE ignored, and this puts back its default action.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists; `signal` with
    // `SIG_DFL` installs no handler of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
