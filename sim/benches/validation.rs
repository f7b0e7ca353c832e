//! The cost of trace validation (`joinsim_sim::model_check`): the scenario library's runs, each
//! once more validated against the reference model from its recorded trace, with the share of a
//! run's wall time that validation takes.
//!
//! `cargo bench -p joinsim-sim --bench validation [-- SEEDS]` (release build; SEEDS per scenario,
//! 1..=32, default 4). Prints figures; asserts nothing about time. A run's own wall time already
//! includes its validation (it is on in every run), so the share is validation / run.

use std::path::Path;
use std::time::Instant;

use joinsim_sim::model_check::TraceValidator;
use joinsim_sim::scenario::load_scenario;
use joinsim_sim::scenario::runner::{run_scenario_keeping, Kept};

fn main() {
    let seeds: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("SEEDS: a number"))
        .unwrap_or(4);
    assert!((1..=32).contains(&seeds), "SEEDS: 1..=32");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the scenario library")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let (mut runs, mut entries, mut actions, mut diverged) = (0u64, 0u64, 0u64, 0u64);
    let (mut run_ms, mut validate_ms) = (0.0f64, 0.0f64);
    let mut shares = Vec::new();
    for file in &files {
        let scenario = load_scenario(file).expect("a valid scenario");
        for seed in 0..seeds {
            let result = run_scenario_keeping(&scenario, seed, Kept::Events);
            let started = Instant::now();
            let mut validator = TraceValidator::default();
            for spec in &scenario.nodes {
                validator.name_node(&spec.label, &spec.name);
            }
            for entry in &result.trace {
                validator.observe(entry);
            }
            let ms = started.elapsed().as_secs_f64() * 1e3;
            let (seen, taken) = validator.counts();
            runs += 1;
            entries += seen;
            actions += taken;
            diverged += u64::from(validator.divergence().is_some());
            run_ms += result.wall_ms;
            validate_ms += ms;
            if result.wall_ms > 0.0 {
                shares.push(ms / result.wall_ms);
            }
        }
    }
    shares.sort_by(|a, b| a.total_cmp(b));
    let median = shares.get(shares.len() / 2).copied().unwrap_or(0.0);
    println!(
        "trace validation over {} scenarios x {seeds} seeds = {runs} runs",
        files.len()
    );
    println!(
        "  entries validated (messages left out): {entries}, of them model actions: {actions}"
    );
    println!("  runs the model could not explain: {diverged}");
    println!("  wall: runs {run_ms:.0} ms, validation {validate_ms:.1} ms");
    println!(
        "  share of a run's wall time: {:.2}% overall, median {:.2}% per run",
        100.0 * validate_ms / run_ms.max(f64::MIN_POSITIVE),
        100.0 * median
    );
    println!(
        "  per model action: {:.2} µs",
        1e3 * validate_ms / (actions.max(1) as f64)
    );
}
