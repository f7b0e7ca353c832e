//! The trace hashes of a fixed set of runs, recorded in `tests/data/trace-hashes.txt`: every
//! shipped scenario at seeds 0..SEEDS_PER_SCENARIO, and the demo at a few seeds and sizes. A
//! refactor must leave every one of them as it was; a change that moves them on purpose records
//! them again and says why in `docs/determinism.md`:
//!
//! ```text
//! JOINSIM_RECORD_HASHES=1 cargo test --release -p joinsim-sim --test joinsim trace_hashes
//! ```
//!
//! The record is plain text, one run per line: `scenario-name seed hash` or `demo:NODES seed hash`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use joinsim_sim::run_demo;

/// Seeds of each scenario that are recorded (0..this).
const SEEDS_PER_SCENARIO: u64 = 3;
/// The demo runs that are recorded: (seed, nodes).
const DEMO_RUNS: [(u64, usize); 4] = [(0, 3), (7, 3), (7, 5), (1234, 9)];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sim/ has a parent")
        .to_path_buf()
}

/// Every recorded run's key and its hash, computed now.
fn compute() -> BTreeMap<String, String> {
    let mut hashes = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("scenarios"))
        .expect("scenarios/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for file in files {
        let scenario = joinsim_sim::load_scenario(&file).unwrap_or_else(|e| panic!("{e}"));
        let seeds: Vec<u64> = (0..SEEDS_PER_SCENARIO).collect();
        let results = joinsim_sim::campaign::run_seeds(
            &scenario,
            &seeds,
            joinsim_sim::campaign::default_jobs(),
            false,
        );
        for result in results {
            hashes.insert(
                format!("{} {}", scenario.name, result.seed),
                result.trace_hash,
            );
        }
    }
    for (seed, nodes) in DEMO_RUNS {
        hashes.insert(
            format!("demo:{nodes} {seed}"),
            format!("{:016x}", run_demo(seed, nodes).trace_hash),
        );
    }
    hashes
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, hash) = l.rsplit_once(' ').expect("a line is `name seed hash`");
            (key.to_string(), hash.to_string())
        })
        .collect()
}

#[test]
fn trace_hashes_of_the_recorded_runs_are_unchanged() {
    let path = repo().join("tests/data/trace-hashes.txt");
    let now = compute();
    if std::env::var_os("JOINSIM_RECORD_HASHES").is_some() {
        let mut text = String::from(
            "# Trace hashes of fixed runs (tests/trace_hashes.rs): `name seed hash`.\n\
             # Record again only for a deliberate change, listed in docs/determinism.md.\n",
        );
        for (key, hash) in &now {
            text.push_str(&format!("{key} {hash}\n"));
        }
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create tests/data");
        std::fs::write(&path, text).expect("write the record");
        println!("recorded {} runs in {}", now.len(), path.display());
        return;
    }
    let recorded = parse(&std::fs::read_to_string(&path).expect("tests/data/trace-hashes.txt"));
    assert!(
        recorded.len() >= 100,
        "the record holds only {} runs",
        recorded.len()
    );
    let mut differences = Vec::new();
    for (key, hash) in &recorded {
        match now.get(key) {
            Some(h) if h == hash => {}
            Some(h) => differences.push(format!("{key}: recorded {hash}, now {h}")),
            None => differences.push(format!("{key}: recorded {hash}, no longer run")),
        }
    }
    for key in now.keys().filter(|k| !recorded.contains_key(*k)) {
        differences.push(format!(
            "{key}: not recorded (a new scenario? record again)"
        ));
    }
    assert!(
        differences.is_empty(),
        "{} of {} recorded runs differ (a behaviour change; if deliberate, record again with \
         JOINSIM_RECORD_HASHES=1 and list it in docs/determinism.md):\n{}",
        differences.len(),
        recorded.len(),
        differences.join("\n")
    );
}
