//! Same seed, same trace — in one process and across processes; different seeds, different
//! traces.

use std::collections::BTreeSet;
use std::process::Command;

use joinsim_sim::run_demo;

#[test]
fn same_seed_twice_gives_the_same_trace() {
    for seed in [1, 7, 42, 1_000_003] {
        let a = run_demo(seed, 5);
        let b = run_demo(seed, 5);
        assert!(a.value.all_joined, "seed {seed}");
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.trace, b.trace, "seed {seed}");
        assert_eq!(a.sim_time, b.sim_time, "seed {seed}");
    }
}

#[test]
fn same_seed_in_two_processes_gives_the_same_trace_hash() {
    let binary = env!("CARGO_BIN_EXE_joinsim");
    let hash_of = |seed: u64| -> String {
        let out = Command::new(binary)
            .args(["demo", "--seed", &seed.to_string(), "--nodes", "4"])
            .output()
            .expect("run joinsim");
        assert!(out.status.success(), "joinsim demo failed: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("trace-hash: "))
            .expect("a trace-hash line")
            .to_string()
    };
    for seed in [3, 99] {
        let first = hash_of(seed);
        assert_eq!(first.len(), 16);
        assert_eq!(first, hash_of(seed), "seed {seed} differs across processes");
        assert_eq!(
            first,
            format!("{:016x}", run_demo(seed, 4).trace_hash),
            "seed {seed}: the test process and the tool disagree"
        );
    }
}

#[test]
fn a_hundred_seeds_give_a_hundred_hashes() {
    let hashes: BTreeSet<u64> = (0..100).map(|seed| run_demo(seed, 3).trace_hash).collect();
    assert_eq!(hashes.len(), 100);
}

#[test]
fn madsim_determinism_checker_passes() {
    // madsim runs the body twice and compares every draw of its RNG and the time of each draw:
    // raft-rs's election timeouts included, which is what the getrandom shim makes deterministic.
    for seed in [5, 6] {
        let report = madsim::runtime::Runtime::check_determinism(
            seed,
            madsim::Config::default(),
            || async { joinsim_sim::run_demo_inside(4).await },
        );
        assert!(report.value.all_joined, "seed {seed}");
    }
}
