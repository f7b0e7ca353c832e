//! How the canonical run scales with the cluster: for each size K (default 1, 3, 5, 9, 20, 50,
//! 100, 200, 500, 1000) the demo of `joinsim demo --nodes K` — K nodes start, init, all join, one
//! more node joins — with runs per second, the median run's wall time, events, deliveries and
//! simulated seconds per run, whether every node joined, and the peak memory of measuring that
//! size; then the growth exponents between successive sizes, to compare with n log n.
//!
//! `cargo bench -p joinsim-sim --bench scale [-- [SIZE ...] [--detector all-pairs|swim] [--budget-s S] [--max-runs N]
//! [--cap-s S]]` (release build). Each size runs seeds 0, 1, 2, ... in a child process of its own
//! (this bench re-executed with `--one-size K`) until `--budget-s` wall seconds have passed
//! (default 2) or `--max-runs` runs are made (default 1000), at least one run. A run that takes
//! longer than `--cap-s` (default 120) is killed: its size prints as over budget and the larger
//! sizes as skipped. Prints figures; asserts nothing about time. See `joinsim_sim::scale`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use joinsim_sim::scale::{
    format_growth, format_table, parse_args, ChildDone, RunFigures, ScaleArgs, SizeFigures,
    SizeOutcome,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match args.one_size {
        Some(nodes) => measure_one_size(nodes, &args),
        None => measure_all(&args),
    }
}

/// The child: runs seeds 0, 1, ... of `nodes` nodes within the budget, one line per run, then
/// the closing line with this process's peak memory.
fn measure_one_size(nodes: usize, args: &ScaleArgs) -> ExitCode {
    let budget = Duration::from_secs_f64(args.budget_s);
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut seed = 0u64;
    loop {
        let report = joinsim_sim::run_demo_detecting(seed, nodes, args.detector);
        let run = RunFigures {
            wall_ms: report.wall_time.as_secs_f64() * 1e3,
            events: report.entries,
            deliveries: report.deliveries,
            sim_s: report.sim_time.as_secs_f64(),
            joined: report.value.all_joined && report.value.init.is_ok(),
        };
        drop(report);
        if writeln!(out, "{}", run.to_line())
            .and_then(|()| out.flush())
            .is_err()
        {
            // The parent is gone.
            return ExitCode::from(1);
        }
        seed += 1;
        if seed >= args.max_runs || started.elapsed() >= budget {
            break;
        }
    }
    let done = ChildDone {
        wall_s: started.elapsed().as_secs_f64(),
        peak_mib: joinsim_sim::memory::peak_resident_mib(),
    };
    let _ = writeln!(out, "{}", done.to_line());
    ExitCode::SUCCESS
}

/// The parent: one child per size, smallest first; the table, then the growth exponents.
fn measure_all(args: &ScaleArgs) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find this bench's own executable: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "scale benchmark: the canonical demo (K nodes + 1 joiner, as `joinsim demo --nodes K`), release build, failure detector {:?}",
        args.detector
    );
    println!(
        "per size: seeds 0.. until {} s of wall time or {} runs (at least one), in a child process; a run over {} s is killed",
        args.budget_s, args.max_runs, args.cap_s
    );
    println!(
        "rate: runs per second of wall time (or seconds per run); events, deliveries and sim s are means per run; peak MiB: the child's peak resident memory"
    );
    let mut rows: Vec<(usize, SizeOutcome)> = Vec::new();
    let mut over = false;
    for &nodes in &args.sizes {
        let outcome = if over {
            SizeOutcome::Skipped
        } else {
            eprintln!("measuring {nodes} nodes ...");
            measure_in_child(&exe, nodes, args)
        };
        over |= matches!(outcome, SizeOutcome::OverBudget { .. });
        rows.push((nodes, outcome));
    }
    print!("{}", format_table(&rows));
    print!("{}", format_growth(&rows));
    ExitCode::SUCCESS
}

/// Runs one size's child and collects its lines; kills it when one run passes the cap.
fn measure_in_child(exe: &std::path::Path, nodes: usize, args: &ScaleArgs) -> SizeOutcome {
    let spawned = Command::new(exe)
        .arg("--one-size")
        .arg(nodes.to_string())
        .arg("--budget-s")
        .arg(args.budget_s.to_string())
        .arg("--max-runs")
        .arg(args.max_runs.to_string())
        .arg("--detector")
        .arg(match args.detector {
            joinsim::FailureDetector::AllPairs => "all-pairs",
            joinsim::FailureDetector::Swim => "swim",
        })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return SizeOutcome::Failed(format!("cannot start the child: {e}")),
    };
    let stdout = child.stdout.take().expect("stdout is piped");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let cap = Duration::from_secs_f64(args.cap_s);
    let mut runs: Vec<RunFigures> = Vec::new();
    let mut done = None;
    // Each line must come within the cap of the one before it (the first, of the start).
    let outcome = loop {
        match lines.recv_timeout(cap) {
            Ok(line) => {
                if let Some(run) = RunFigures::from_line(&line) {
                    runs.push(run);
                } else if let Some(closing) = ChildDone::from_line(&line) {
                    done = Some(closing);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                break Some(SizeOutcome::OverBudget {
                    cap_s: args.cap_s,
                    runs: runs.len() as u64,
                });
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break None,
        }
    };
    let status = child.wait();
    let _ = reader.join();
    if let Some(outcome) = outcome {
        return outcome;
    }
    match (status, done) {
        (Ok(status), Some(done)) if status.success() => SizeFigures::new(&runs, &done).map_or_else(
            || SizeOutcome::Failed("the child made no run".into()),
            SizeOutcome::Measured,
        ),
        (Ok(status), _) => SizeOutcome::Failed(format!(
            "the child ended with {status} after {} runs",
            runs.len()
        )),
        (Err(e), _) => SizeOutcome::Failed(format!("cannot wait for the child: {e}")),
    }
}
