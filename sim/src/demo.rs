//! The canonical run: K empty nodes start, init goes to the first, all join, then one more empty
//! node joins.

use std::fmt::Write as _;

use joinsim::{ClusterTag, JoinPhase};

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
    assert!(nodes >= 1, "the demo needs at least one node");
    Sim::new(seed)
        .nodes(nodes)
        .run(move |world| demo_body(world, nodes))
}

/// Runs the canonical demo inside the current madsim runtime.
pub async fn run_demo_inside(nodes: usize) -> RunReport<DemoOutcome> {
    Sim::new(0)
        .nodes(nodes)
        .run_inside(move |world| demo_body(world, nodes))
        .await
}

async fn demo_body(world: crate::World, nodes: usize) -> DemoOutcome {
    {
        world.start_all();
        // Wait until every node is in the first node's physical topology.
        let everyone = nodes;
        let _ = world
            .wait_until("physical topology formed", 30_000, |w| {
                w.view("n1").is_some_and(|v| v.physical.len() == everyone)
            })
            .await;
        let init = world
            .init_default("n1", "demo")
            .await
            .map_err(|e| e.to_string());
        let initial: Vec<String> = world.labels();
        let _ = world
            .wait_until("all nodes joined", 60_000, |w| {
                initial.iter().all(|l| w.joined(&[l.as_str()]))
            })
            .await;
        let extra = format!("n{}", nodes + 1);
        world.add_node(NodeSpec::new(&extra).seeds(&["n1"]));
        world.start(&extra);
        let _ = world
            .wait_until("the extra node joined", 60_000, |w| {
                w.joined(&[extra.as_str()])
            })
            .await;
        let views = world.views();
        let lt = views
            .values()
            .find(|v| v.is_cmg_leader())
            .and_then(|v| v.lt())
            .map(|lt| (lt.version, lt.members.keys().cloned().collect()));
        let labels = world.labels();
        let nodes = labels
            .iter()
            .map(|l| {
                let view = views.get(l);
                (
                    l.clone(),
                    view.map(|v| v.join.clone()),
                    view.and_then(|v| v.halted.as_ref().map(|r| r.to_string())),
                )
            })
            .collect();
        DemoOutcome {
            init,
            nodes,
            lt,
            all_joined: world.all_joined() && views.len() == labels.len(),
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
