//! Throughput of the canonical run: runs per second and simulated seconds per wall second.
//!
//! `cargo bench -p joinsim-sim --bench demo [-- RUNS [NODES]]` (release build). Prints figures;
//! asserts nothing about time.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(500);
    let nodes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    // Warm up (page in code, allocator).
    for seed in 0..10 {
        joinsim_sim::run_demo(seed, nodes);
    }
    let start = Instant::now();
    let mut sim_s = 0.0;
    let mut inner_wall_s = 0.0;
    let mut events = 0usize;
    let mut deliveries = 0u64;
    let mut failed = 0u64;
    for seed in 0..runs {
        let report = joinsim_sim::run_demo(seed, nodes);
        sim_s += report.sim_time.as_secs_f64();
        inner_wall_s += report.wall_time.as_secs_f64();
        events += report.trace.len();
        deliveries += report.deliveries;
        if !report.value.all_joined {
            failed += 1;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    println!("demo benchmark: {runs} runs of {nodes}+1 nodes, release build");
    println!(
        "  wall time per run:        {:.3} ms (thread + runtime included)",
        wall / runs as f64 * 1e3
    );
    println!("  runs per second:          {:.0}", runs as f64 / wall);
    println!("  simulated time per run:   {:.3} s", sim_s / runs as f64);
    println!("  simulated s per wall s:   {:.0}", sim_s / wall);
    println!(
        "  events per run:           {:.0}",
        events as f64 / runs as f64
    );
    println!(
        "  deliveries per run:       {:.0}",
        deliveries as f64 / runs as f64
    );
    println!(
        "  in-runtime wall per run:  {:.3} ms",
        inner_wall_s / runs as f64 * 1e3
    );
    println!("  runs where not every node joined: {failed}");
    println!(
        "  peak memory:              {:.1} MiB (the whole process, all {runs} runs)",
        joinsim_sim::memory::peak_resident_mib().unwrap_or(f64::NAN)
    );
}
