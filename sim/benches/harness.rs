//! The same canonical run — 5 empty nodes start, init goes to n1, every node joins — on the
//! synchronous test network of the core crate (`joinsim::testing`) and on the madsim world,
//! with runs per second for each and their ratio.
//!
//! `cargo bench -p joinsim-sim --bench harness [-- RUNS [NODES]]` (release build). Prints
//! figures; asserts nothing about time. The madsim figure includes what only the madsim world
//! does: a fresh thread and runtime per run, the invariant checker after every event, and the
//! trace hash.

use std::time::Instant;

use joinsim::testing::Network;
use joinsim_sim::Sim;

/// Simulated time either run may take to form the topology and then to join, in milliseconds.
const PATIENCE_MS: u64 = 60_000;

/// One canonical run on the synchronous network: (all joined, simulated ms, deliveries).
fn on_harness(seed: u64, nodes: usize) -> (bool, u64, u64) {
    let mut net = Network::builder().seed(seed).nodes(nodes).build();
    net.start_all();
    let formed = net.wait_until(
        |n| n.view("n1").is_some_and(|v| v.physical.len() == nodes),
        PATIENCE_MS,
    );
    let init = formed.is_ok() && net.init_default("n1", "demo").is_ok();
    let joined = init && net.wait_until(|n| n.all_joined(), PATIENCE_MS).is_ok();
    (joined, net.now_ms(), net.deliveries())
}

/// The same run on the madsim world.
fn on_madsim(seed: u64, nodes: usize) -> (bool, u64, u64) {
    let report = Sim::new(seed).nodes(nodes).run(move |w| async move {
        w.start_all();
        let formed = w
            .wait_until("physical topology formed", PATIENCE_MS, |w| {
                w.view("n1").is_some_and(|v| v.physical.len() == nodes)
            })
            .await;
        let init = formed.is_ok() && w.init_default("n1", "demo").await.is_ok();
        init && w
            .wait_until("all joined", PATIENCE_MS, |w| w.all_joined())
            .await
            .is_ok()
    });
    (
        report.value,
        report.sim_time.as_millis() as u64,
        report.deliveries,
    )
}

struct Figures {
    runs_per_s: f64,
    sim_ms: f64,
    deliveries: f64,
    failed: u64,
}

fn measure(runs: u64, nodes: usize, run: fn(u64, usize) -> (bool, u64, u64)) -> Figures {
    // Warm up (page in code, allocator).
    for seed in 0..5 {
        run(seed, nodes);
    }
    let start = Instant::now();
    let (mut sim_ms, mut deliveries, mut failed) = (0u64, 0u64, 0u64);
    for seed in 0..runs {
        let (joined, ms, delivered) = run(seed, nodes);
        sim_ms += ms;
        deliveries += delivered;
        failed += u64::from(!joined);
    }
    let wall = start.elapsed().as_secs_f64();
    Figures {
        runs_per_s: runs as f64 / wall,
        sim_ms: sim_ms as f64 / runs as f64,
        deliveries: deliveries as f64 / runs as f64,
        failed,
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(200);
    let nodes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let harness = measure(runs, nodes, on_harness);
    let madsim = measure(runs, nodes, on_madsim);
    println!("canonical run ({nodes} nodes, init, all join), {runs} runs each, release build");
    for (name, f) in [("synchronous harness", &harness), ("madsim world", &madsim)] {
        println!(
            "  {name:<20} {:>9.0} runs/s   {:>6.0} simulated ms/run   {:>6.0} deliveries/run   {} runs not all joined",
            f.runs_per_s, f.sim_ms, f.deliveries, f.failed
        );
    }
    println!(
        "  ratio: the synchronous harness runs {:.1}x as many runs per second",
        harness.runs_per_s / madsim.runs_per_s
    );
}
