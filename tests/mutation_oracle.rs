//! The product's own oracle as one test target, for mutation testing (`cargo mutants`,
//! docs/fuzzing.md "Mutation score"): the scenario library (the first `JOINSIM_ORACLE_SEEDS`
//! seeds of every scenario, default 8, and each file's own and regression seeds) and a campaign
//! of the default weather (`JOINSIM_ORACLE_RUNS` runs from seed 0, default 1000: the default campaign), each run with
//! every invariant, the liveness phase and trace validation against the reference model. It fails
//! at the first run that fails, without shrinking: a mutant of the protocol that changes a
//! behaviour some run meets is caught here.
//!
//! `cargo test --release -p joinsim-sim --test mutation_oracle` runs it; on main it passes (it
//! is part of the README's test command).

#![cfg(madsim)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use joinsim_sim::campaign::load_dir;
use joinsim_sim::failure::classify;
use joinsim_sim::fuzz::campaign::draw;
use joinsim_sim::scenario::{parse_scenario, run_scenario};

/// Threads the oracle runs on.
const JOBS: usize = 2;

fn env_number(name: &str, default: u64, max: u64) -> u64 {
    let value = std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: a number")))
        .unwrap_or(default);
    assert!((1..=max).contains(&value), "{name}: 1..={max}");
    value
}

/// Runs `jobs` workers over `0..count` until one returns a failure; the first failure (by the
/// order they were found).
fn first_failure(count: u64, work: impl Fn(u64) -> Option<String> + Sync) -> Option<String> {
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let found = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..JOBS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(failure) = work(i) {
                    stop.store(true, Ordering::Relaxed);
                    found.lock().expect("found lock").get_or_insert(failure);
                    return;
                }
            });
        }
    });
    found.into_inner().expect("found lock")
}

#[test]
fn mutation_oracle_library_and_default_campaign_pass() {
    let seeds = env_number("JOINSIM_ORACLE_SEEDS", 8, 32);
    let runs = env_number("JOINSIM_ORACLE_RUNS", 1_000, 100_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let scenarios = load_dir(&dir).unwrap_or_else(|e| panic!("the scenario library: {e:?}"));
    let work: Vec<(usize, u64)> = scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.seed_list(Some(seeds.min(s.seeds)))
                .into_iter()
                .map(move |seed| (i, seed))
        })
        .collect();
    let library = first_failure(work.len() as u64, |k| {
        let (i, seed) = work[k as usize];
        let result = run_scenario(&scenarios[i], seed, false);
        classify(&result)
            .map(|(kind, detail)| format!("{} seed {seed}: {kind}: {detail}", scenarios[i].name))
    });
    assert_eq!(library, None, "the scenario library failed");
    let campaign = first_failure(runs, |seed| {
        let (_, case) = draw(seed);
        let text = case.to_toml(seed, None, &[], None);
        let scenario = match parse_scenario(&format!("<fuzz seed {seed}>"), &text) {
            Ok(s) => s,
            Err(e) => return Some(format!("fuzz seed {seed}: the case does not parse: {e}")),
        };
        let result = run_scenario(&scenario, seed, false);
        classify(&result).map(|(kind, detail)| format!("fuzz seed {seed}: {kind}: {detail}"))
    });
    assert_eq!(campaign, None, "the default campaign failed");
}
