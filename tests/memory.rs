//! Memory stays flat over many runs in one process: a run leaves nothing behind (see
//! `World::shutdown`). A test binary of its own, so that no other test shares the process while
//! the resident set is read. A memory bound is a correctness check here, not a timing.

#![cfg(madsim)]

use joinsim_sim::fuzz::{fuzz, FuzzOptions};
use joinsim_sim::run_demo;

fn resident_mib() -> f64 {
    joinsim_sim::memory::resident_mib().expect("/proc/self/status is readable")
}

/// The most the resident set may grow over the measured runs. A leak of one run's world costs
/// 0.25–0.45 MiB, so a few hundred runs that leaked would grow it by 75 MiB or more; a flat
/// process grows by one or two (allocator arenas of the campaign's threads).
const MAX_GROWTH_MIB: f64 = 8.0;

#[test]
fn memory_stays_flat_over_hundreds_of_runs() {
    // Warm up: allocator arenas, thread stacks, lazy statics.
    for seed in 0..20 {
        assert!(run_demo(seed, 3).value.all_joined);
    }
    let before = resident_mib();
    for seed in 20..320 {
        assert!(run_demo(seed, 3).value.all_joined, "seed {seed}");
    }
    let after_demos = resident_mib();
    let out = std::env::temp_dir().join(format!("joinsim-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let summary = fuzz(&FuzzOptions {
        runs: 300,
        time: None,
        seed_start: 0,
        jobs: 2,
        shard: (0, 1),
        out: out.clone(),
        bug: None,
        check_determinism: false,
        stop_at_first: false,
        shrink_budget: 0,
        max_findings: 0,
        progress: false,
        guided: false,
    });
    assert_eq!(summary.runs, 300);
    let after_fuzz = resident_mib();
    println!(
        "resident set: {before:.1} MiB after warm-up, {after_demos:.1} MiB after 300 demo runs, {after_fuzz:.1} MiB after 300 fuzz runs"
    );
    assert!(
        after_demos - before < MAX_GROWTH_MIB,
        "300 demo runs grew the resident set from {before:.1} to {after_demos:.1} MiB"
    );
    assert!(
        after_fuzz - before < MAX_GROWTH_MIB,
        "300 fuzz runs grew the resident set from {before:.1} to {after_fuzz:.1} MiB"
    );
    let _ = std::fs::remove_dir_all(&out);
}
