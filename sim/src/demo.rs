//! The canonical run: K empty nodes start, init goes to the first, all join, then one more empty
//! node joins.

use std::fmt::Write as _;

use joinsim::{ClusterTag, FailureDetector, JoinPhase, Timing};

use crate::seed_list::SeedList;
use crate::sim::{RunReport, Sim};
use crate::world::NodeSpec;

/// The outcome of the canonical run.
#[derive(Clone, Debug)]
pub struct DemoOutcome {
    /// The init answer.
    pub init: Result<ClusterTag, String>,
    /// Each node's final join phase, by label (`None` when it is not running).
    pub nodes: Vec<(String, Option<JoinPhase>, Option<String>)>,
    /// The final LT as the CMG leader holds it: version and members.
    pub lt: Option<(u64, Vec<String>)>,
    /// True when every node joined.
    pub all_joined: bool,
}

/// Runs the canonical demo with `nodes` initial nodes.
pub fn run_demo(seed: u64, nodes: usize) -> RunReport<DemoOutcome> {
    run_demo_detecting(seed, nodes, FailureDetector::AllPairs)
}

/// [`run_demo`] with the physical topology's failure detector `detector` (`joinsim demo
/// --detector`).
pub fn run_demo_detecting(
    seed: u64,
    nodes: usize,
    detector: FailureDetector,
) -> RunReport<DemoOutcome> {
    assert!(nodes >= 1, "the demo needs at least one node");
    with_detector(Sim::new(seed).nodes(nodes), detector).run(move |world| demo_body(world, nodes))
}

/// The builder with `detector`: the default timing is left untouched for the all-pairs one.
fn with_detector(sim: Sim, detector: FailureDetector) -> Sim {
    match detector {
        FailureDetector::AllPairs => sim,
        FailureDetector::Swim => sim.timing(Timing {
            failure_detector: detector,
            ..Timing::default()
        }),
    }
}

/// Runs the canonical demo inside the current madsim runtime.
pub async fn run_demo_inside(nodes: usize) -> RunReport<DemoOutcome> {
    Sim::new(0)
        .nodes(nodes)
        .run_inside(move |world| demo_body(world, nodes))
        .await
}

/// Simulated time a demo step may take with `nodes` nodes: `base_ms`, or 100 ms per node when
/// that is more (a cluster of 1,000 nodes forms and joins in more than a minute of simulated
/// time; issue 13). The runs of up to 300 nodes keep the base.
pub fn demo_patience_ms(base_ms: u64, nodes: usize) -> u64 {
    base_ms.max(nodes as u64 * 100)
}

async fn demo_body(world: crate::World, nodes: usize) -> DemoOutcome {
    {
        world.start_all();
        // Wait until every node is in the first node's physical topology.
        let everyone = nodes;
        let _ = world
            .wait_until(
                "physical topology formed",
                demo_patience_ms(30_000, nodes),
                |w| w.with_node("n1", |n| n.physical_len() == everyone) == Some(true),
            )
            .await;
        let init = world
            .init_default("n1", "demo")
            .await
            .map_err(|e| e.to_string());
        let initial: Vec<String> = world.labels();
        let _ = world
            .wait_until("all nodes joined", demo_patience_ms(60_000, nodes), |w| {
                initial.iter().all(|l| w.joined(&[l.as_str()]))
            })
            .await;
        let extra = format!("n{}", nodes + 1);
        world.add_node(NodeSpec::new(&extra).seeds(&["n1"]));
        world.start(&extra);
        let _ = world
            .wait_until(
                "the extra node joined",
                demo_patience_ms(60_000, nodes),
                |w| w.joined(&[extra.as_str()]),
            )
            .await;
        // Read in place (building every node's whole view was about 1% of a demo run).
        let labels = world.labels();
        let lt = labels.iter().find_map(|l| {
            world
                .with_node(l, |n| {
                    let cmg = n.cmg_state().filter(|_| n.is_cmg_leader())?;
                    let lt = cmg.committed_lt()?;
                    Some((lt.version, lt.members.keys().cloned().collect()))
                })
                .flatten()
        });
        let nodes: Vec<_> = labels
            .iter()
            .map(|l| {
                let facts = world.with_node(l, |n| {
                    (n.join_phase().clone(), n.rejection().map(|r| r.to_string()))
                });
                let (phase, halted) = facts.unzip();
                (l.clone(), phase, halted.flatten())
            })
            .collect();
        let running = nodes.iter().filter(|(_, phase, _)| phase.is_some()).count();
        DemoOutcome {
            init,
            nodes,
            lt,
            all_joined: world.all_joined() && running == labels.len(),
        }
    }
}

/// The human-readable report of a demo run.
pub fn format_demo(report: &RunReport<DemoOutcome>) -> String {
    let mut out = String::new();
    let o = &report.value;
    let _ = writeln!(out, "seed: {}", report.seed);
    match &o.init {
        Ok(tag) => {
            let _ = writeln!(out, "init: ok, cluster tag {tag}");
        }
        Err(e) => {
            let _ = writeln!(out, "init: failed: {e}");
        }
    }
    for (label, phase, halted) in &o.nodes {
        let state = match (phase, halted) {
            (_, Some(reason)) => format!("stopped: {reason}"),
            (Some(JoinPhase::Joined { lt_version }), _) => {
                format!("joined (LT version {lt_version})")
            }
            (Some(other), _) => format!("not joined: {other:?}"),
            (None, _) => "down".to_string(),
        };
        let _ = writeln!(out, "  {label:<6} {state}");
    }
    match &o.lt {
        Some((version, members)) => {
            let _ = writeln!(
                out,
                "logical topology: version {version}, members {members:?}"
            );
        }
        None => {
            let _ = writeln!(out, "logical topology: none (no CMG leader)");
        }
    }
    let _ = writeln!(
        out,
        "simulated time: {:.3} s",
        report.sim_time.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "wall time: {:.3} ms",
        report.wall_time.as_secs_f64() * 1e3
    );
    let _ = writeln!(
        out,
        "events: {} (messages delivered: {})",
        report.entries, report.deliveries
    );
    let _ = writeln!(out, "trace-hash: {:016x}", report.trace_hash);
    out
}

/// What `joinsim demo --runs N` or `demo --seeds SPEC` measured: the canonical run for each seed
/// of a list, one after another in ascending seed order on one core, in one process.
#[derive(Clone, Debug)]
pub struct DemoBatch {
    /// The seeds run (`--runs N --seed S`: the range `S..S+N`).
    pub seeds: SeedList,
    /// Initial nodes of each run.
    pub nodes: usize,
    /// Runs made: one per seed of [`DemoBatch::seeds`].
    pub runs: u64,
    /// Seeds whose run did not end with the init answered and every node joined.
    pub failed_seeds: Vec<u64>,
    /// Wall time of the whole batch (every run's runtime creation included).
    pub wall: std::time::Duration,
    /// Median wall time of one run, milliseconds.
    pub median_wall_ms: f64,
    /// Median simulated time of one run, seconds.
    pub median_sim_s: f64,
    /// Simulated seconds of all runs.
    pub total_sim_s: f64,
    /// Trace entries recorded, all runs.
    pub events: u64,
    /// Messages delivered, all runs.
    pub deliveries: u64,
    /// The runs' trace hashes folded in ascending seed order (FNV-1a over each hash's bytes):
    /// equal in every process for one build, set of seeds and node count.
    pub hashes: u64,
}

/// Runs the canonical demo for every seed of `seeds`, in ascending order, with `nodes` initial
/// nodes, one after another (issue "Speed and scale": a user measures runs/s without `cargo
/// bench`). A [`SeedList`] holds at least one seed; `nodes` is at least 1 ([`run_demo`]).
pub fn run_demos(seeds: &SeedList, nodes: usize) -> DemoBatch {
    run_demos_detecting(seeds, nodes, FailureDetector::AllPairs)
}

/// [`run_demos`] with the physical topology's failure detector `detector`.
pub fn run_demos_detecting(seeds: &SeedList, nodes: usize, detector: FailureDetector) -> DemoBatch {
    let runs = seeds.len();
    let started = std::time::Instant::now();
    let mut walls_ms = Vec::with_capacity(runs.min(1 << 20) as usize);
    let mut sims_s = Vec::with_capacity(walls_ms.capacity());
    let mut batch = DemoBatch {
        seeds: seeds.clone(),
        nodes,
        runs,
        failed_seeds: Vec::new(),
        wall: std::time::Duration::ZERO,
        median_wall_ms: 0.0,
        median_sim_s: 0.0,
        total_sim_s: 0.0,
        events: 0,
        deliveries: 0,
        hashes: 0xcbf2_9ce4_8422_2325,
    };
    for seed in seeds.iter() {
        let report = with_detector(Sim::new(seed).nodes(nodes).summary_only(), detector)
            .run(move |world| demo_body(world, nodes));
        if !(report.value.all_joined && report.value.init.is_ok()) {
            batch.failed_seeds.push(seed);
        }
        walls_ms.push(report.wall_time.as_secs_f64() * 1e3);
        sims_s.push(report.sim_time.as_secs_f64());
        batch.events += report.entries;
        batch.deliveries += report.deliveries;
        for byte in report.trace_hash.to_le_bytes() {
            batch.hashes = (batch.hashes ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    batch.wall = started.elapsed();
    batch.total_sim_s = sims_s.iter().sum();
    batch.median_wall_ms = crate::stats::median(&mut walls_ms).unwrap_or(0.0);
    batch.median_sim_s = crate::stats::median(&mut sims_s).unwrap_or(0.0);
    batch
}

/// The most parts (single seeds or ranges) of a batch's seed list its report's header names.
const SHOWN_SEED_PARTS: usize = 10;

/// The batch's report: runs, failures, runs per second of wall time, medians, totals. The header
/// names the seeds (at most ten parts of a list, then how many more).
pub fn format_demo_batch(batch: &DemoBatch) -> String {
    let mut out = String::new();
    let wall_s = batch.wall.as_secs_f64();
    let _ = writeln!(
        out,
        "demo: {} runs of {} + 1 nodes (seeds {}), {} failed",
        batch.runs,
        batch.nodes,
        batch.seeds.abbreviated(SHOWN_SEED_PARTS),
        batch.failed_seeds.len()
    );
    if !batch.failed_seeds.is_empty() {
        let shown: Vec<String> = batch
            .failed_seeds
            .iter()
            .take(20)
            .map(u64::to_string)
            .collect();
        let _ = writeln!(out, "failed seeds: {}", shown.join(", "));
    }
    let _ = writeln!(
        out,
        "wall time: {wall_s:.3} s, {:.1} runs/s on one core; one run: median {:.3} ms wall, {:.3} s simulated",
        batch.runs as f64 / wall_s.max(1e-9),
        batch.median_wall_ms,
        batch.median_sim_s
    );
    let _ = writeln!(
        out,
        "simulated: {:.1} s in all, {:.1} simulated s per wall s; {} events, {} deliveries",
        batch.total_sim_s,
        batch.total_sim_s / wall_s.max(1e-9),
        batch.events,
        batch.deliveries
    );
    if let Some(peak) = crate::memory::peak_resident_mib() {
        let _ = writeln!(out, "peak memory: {peak:.1} MiB");
    }
    let _ = writeln!(out, "trace hashes (folded): {:016x}", batch.hashes);
    out
}

#[cfg(test)]
mod tests {
    use super::demo_patience_ms;

    #[test]
    fn the_demo_waits_longer_only_for_clusters_past_its_base() {
        assert_eq!(demo_patience_ms(60_000, 5), 60_000);
        assert_eq!(demo_patience_ms(60_000, 600), 60_000);
        assert_eq!(demo_patience_ms(60_000, 1_000), 100_000);
        assert_eq!(demo_patience_ms(30_000, 1_000), 100_000);
    }
}
