//! `joinsim`: the command-line tool of the IEP-77 join protocol simulator.
//!
//! Exit codes everywhere: 0 passed, 1 an expectation or invariant failed, 2 bad input.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use joinsim_sim::campaign::{self, ScenarioSummary};

/// Deterministic simulation of the Apache Ignite 3 cluster join and initialization protocol.
#[derive(Parser, Debug)]
#[command(name = "joinsim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The canonical run: K empty nodes start, init goes to the first, all join, then one more
    /// empty node joins. Exit 0 when every node joined.
    Demo {
        /// The seed of the run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many nodes start before init.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=200))]
        nodes: u64,
    },
    /// Run one scenario file over its seeds (or the given ones).
    Run {
        /// The scenario file.
        file: PathBuf,
        /// Run only this seed.
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// Run seeds 0..N instead of the file's count.
        #[arg(long)]
        seeds: Option<u64>,
        /// Print one JSON object per seed.
        #[arg(long)]
        json: bool,
        /// Print the event timeline of each seed.
        #[arg(long)]
        trace: bool,
    },
    /// Search random runs for invariant or liveness violations; shrink each failure to a scenario
    /// file that `joinsim run` replays.
    Fuzz {
        /// Runs of this shard (default 1000, or 2000 with --bug).
        #[arg(long, conflicts_with = "time")]
        runs: Option<u64>,
        /// Run for this many wall seconds instead.
        #[arg(long)]
        time: Option<f64>,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        seed_start: u64,
        /// Runs in parallel (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
        /// This machine's share of the seeds, I/N: seeds seed_start + I + k*N.
        #[arg(long, default_value = "0/1")]
        shard: String,
        /// Where shrunk scenario files are written.
        #[arg(long, default_value = "fuzz-out")]
        out: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Run with a planted bug (see --list-bugs); stops at the first failure.
        #[arg(long)]
        bug: Option<String>,
        /// Run every seed twice and compare the traces.
        #[arg(long)]
        check_determinism: bool,
        /// Print the planted bugs' names, one a line.
        #[arg(long)]
        list_bugs: bool,
    },
    /// Run every scenario of a directory over its seeds: the main job.
    Check {
        /// The directory (default: scenarios/).
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
        /// Run seeds 0..N of every scenario instead of each file's count.
        #[arg(long)]
        seeds: Option<u64>,
        /// Print one JSON object per seed and a summary object.
        #[arg(long)]
        json: bool,
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Demo { seed, nodes } => {
            let report = joinsim_sim::run_demo(seed, nodes as usize);
            print!("{}", joinsim_sim::format_demo(&report));
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
        } => run(file, seed, seeds, json, trace),
        Command::Check { dir, seeds, json } => check(dir, seeds, json),
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
        } => {
            if list_bugs {
                for bug in joinsim::PlantedBug::ALL {
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
                    eprintln!("error: unknown planted bug {name:?}; see joinsim fuzz --list-bugs");
                    return ExitCode::from(2);
                }
            };
            let shard = match campaign_shard(&shard) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            if time.is_some_and(|t| !(t > 0.0 && t.is_finite())) {
                eprintln!("error: --time must be a positive number of seconds");
                return ExitCode::from(2);
            }
            let options = joinsim_sim::fuzz::FuzzOptions {
                runs: runs.unwrap_or(if bug.is_some() { 2_000 } else { 1_000 }),
                time: time.map(std::time::Duration::from_secs_f64),
                seed_start,
                jobs: jobs.unwrap_or_else(campaign::default_jobs).max(1),
                shard,
                out,
                bug,
                check_determinism,
                stop_at_first: bug.is_some(),
                shrink_budget: 150,
                max_findings: 3,
                progress: true,
            };
            let summary = joinsim_sim::fuzz::fuzz(&options);
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&summary).expect("summary serializes")
                );
            } else {
                print!(
                    "{}",
                    joinsim_sim::fuzz::campaign::format_summary(&summary, &options)
                );
            }
            if summary.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn campaign_shard(text: &str) -> Result<(u64, u64), String> {
    joinsim_sim::fuzz::campaign::parse_shard(text)
}

fn run(file: PathBuf, seed: Option<u64>, seeds: Option<u64>, json: bool, trace: bool) -> ExitCode {
    let scenario = match joinsim_sim::load_scenario(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let list: Vec<u64> = match (seed, seeds) {
        (Some(s), _) => vec![s],
        (None, count) => scenario.seed_list(count),
    };
    let results = campaign::run_seeds(&scenario, &list, campaign::default_jobs(), trace);
    let mut stdout = std::io::stdout().lock();
    for result in &results {
        if json {
            print_json(&mut stdout, result);
        } else {
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
    }
    let passed = results.iter().filter(|r| r.passed).count();
    if !json {
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
            for e in errors {
                eprintln!("error: {e}");
            }
            return ExitCode::from(2);
        }
    };
    if scenarios.is_empty() {
        eprintln!("error: no scenario files (*.toml) in {}", dir.display());
        return ExitCode::from(2);
    }
    let jobs = campaign::default_jobs();
    let mut rows = Vec::new();
    let started = std::time::Instant::now();
    let mut stdout = std::io::stdout().lock();
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
        for result in &results {
            if json {
                print_json(&mut stdout, result);
            } else if !result.passed {
                eprint!("{}", campaign::format_result(result));
            }
        }
        rows.push(ScenarioSummary {
            scenario: scenario.name.clone(),
            file: scenario.path.clone(),
            seeds: results.len(),
            passed,
            failures: results
                .iter()
                .filter(|r| !r.passed)
                .map(|r| r.replay.clone())
                .collect(),
        });
    }
    let all_passed = rows.iter().all(|r| r.passed == r.seeds);
    if json {
        let summary = serde_json::json!({
            "summary": rows,
            "passed": all_passed,
            "wall_s": started.elapsed().as_secs_f64(),
        });
        let _ = writeln!(stdout, "{summary}");
    } else {
        let _ = write!(stdout, "{}", campaign::format_table(&rows));
        let _ = writeln!(
            stdout,
            "wall time: {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// One seed's result as a line of JSON.
fn print_json(out: &mut impl std::io::Write, result: &joinsim_sim::SeedResult) {
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string(result).expect("results serialize")
    );
}
