//! How fast the fuzzer finds each planted bug: for every bug, a campaign from seed 0 that stops at
//! the first failure; prints the runs and wall seconds until detection, and the failure kind.
//!
//! `cargo bench -p joinsim-sim --bench bugs` (release build). Prints figures; asserts nothing.

use joinsim::PlantedBug;
use joinsim_sim::fuzz::{fuzz, FuzzOptions};
use strum::IntoEnumIterator;

fn main() {
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("planted bug detection ({jobs} jobs, budget 2000 runs each, release build)");
    println!("{:<36} {:>6} {:>9}  first failure", "bug", "runs", "wall s");
    for bug in PlantedBug::iter() {
        let options = FuzzOptions {
            runs: 2_000,
            time: None,
            seed_start: 0,
            jobs,
            shard: (0, 1),
            out: std::env::temp_dir().join("joinsim-bench-bugs"),
            bug: Some(bug),
            check_determinism: false,
            stop_at_first: true,
            shrink_budget: 0,
            max_findings: 0,
            progress: false,
        };
        let summary = fuzz(&options);
        match (
            summary.runs_to_first_failure,
            summary.wall_s_to_first_failure,
        ) {
            (Some(runs), Some(wall)) => {
                let kind = summary.failures.keys().next().cloned().unwrap_or_default();
                println!("{:<36} {runs:>6} {wall:>9.2}  {kind}", bug.name());
            }
            _ => println!(
                "{:<36} {:>6} {:>9}  NOT FOUND in {} runs",
                bug.name(),
                "-",
                "-",
                summary.runs
            ),
        }
    }
}
