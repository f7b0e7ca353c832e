//! Building and running one seeded simulation.
//!
//! ```no_run
//! use joinsim_sim::{Sim, NodeSpec};
//!
//! let report = Sim::new(7).nodes(3).run(|world| async move {
//!     world.start_all();
//!     let tag = world.init_default("n1", "demo").await.expect("init succeeds");
//!     world.wait_until("all joined", 30_000, |w| w.all_joined()).await.unwrap();
//!     tag
//! });
//! println!("{} trace-hash: {:016x}", report.value, report.trace_hash);
//! ```
//!
//! Every run happens on a fresh OS thread with a fresh madsim runtime (see `docs/determinism.md`),
//! so that per-thread random state never leaks from one run into the next, and ends every task
//! it started (see `World::shutdown`), so that nothing of it outlives it.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use joinsim::{NodeView, PlantedBug, Timing};

use crate::checkers::{Hazard, Violation};
use crate::trace::TraceEntry;
use crate::world::{NodeSpec, World};

/// Network settings at the start of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct NetSettings {
    /// Minimum one-way latency.
    pub latency_min_ms: u64,
    /// Maximum one-way latency.
    pub latency_max_ms: u64,
    /// Probability that a message is lost.
    pub loss: f64,
}

impl Default for NetSettings {
    fn default() -> Self {
        NetSettings {
            latency_min_ms: 1,
            latency_max_ms: 10,
            loss: 0.0,
        }
    }
}

/// A simulation to run: seed, nodes, network, timers.
#[derive(Clone, Debug)]
pub struct Sim {
    seed: u64,
    specs: Vec<NodeSpec>,
    timing: Timing,
    net: NetSettings,
    time_limit_s: f64,
    user_patience_ms: u64,
    allow_violations: bool,
    keep_messages: bool,
    summary_only: bool,
    bug: Option<PlantedBug>,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunReport<R> {
    /// The seed.
    pub seed: u64,
    /// What the test body returned.
    pub value: R,
    /// The trace hash.
    pub trace_hash: u64,
    /// The trace entries.
    pub trace: Vec<TraceEntry>,
    /// The trace hash right after each entry (same length as `trace`): where two runs of one
    /// seed first differ (see [`crate::trace::first_divergence`]).
    pub hash_after: Vec<u64>,
    /// Messages delivered.
    pub deliveries: u64,
    /// Trace entries recorded (kept in `trace` or not: see [`Sim::keep_messages`]).
    pub entries: u64,
    /// Simulated time at the end.
    pub sim_time: Duration,
    /// Wall time of the run (runtime creation included).
    pub wall_time: Duration,
    /// Every node's final state (running nodes only), by label.
    pub final_views: std::collections::BTreeMap<String, NodeView>,
    /// Invariant violations (empty for a good run).
    pub violations: Vec<Violation>,
    /// The first trace entry the reference model could not explain (`crate::model_check`).
    pub divergence: Option<crate::model_check::Divergence>,
    /// Hazards reported.
    pub hazards: Vec<Hazard>,
}

impl Sim {
    /// A simulation with this seed and no nodes.
    pub fn new(seed: u64) -> Sim {
        Sim {
            seed,
            specs: Vec::new(),
            timing: Timing::default(),
            net: NetSettings::default(),
            time_limit_s: 3_600.0,
            user_patience_ms: 30_000,
            allow_violations: false,
            keep_messages: true,
            summary_only: false,
            bug: None,
        }
    }

    /// Adds a node.
    pub fn node(mut self, spec: NodeSpec) -> Sim {
        assert!(
            self.specs.iter().all(|s| s.label != spec.label),
            "two nodes labelled {}",
            spec.label
        );
        self.specs.push(spec);
        self
    }

    /// Adds `count` empty nodes `n1`, `n2`, … that all use `n1` as their seed member.
    pub fn nodes(mut self, count: usize) -> Sim {
        let first = self.specs.len() + 1;
        for i in first..first + count {
            let name = format!("n{i}");
            self = self.node(NodeSpec::new(&name).seeds(&["n1"]));
        }
        self
    }

    /// Sets the latency range.
    pub fn latency_ms(mut self, min: u64, max: u64) -> Sim {
        assert!(min <= max, "latency range is reversed");
        self.net.latency_min_ms = min;
        self.net.latency_max_ms = max;
        self
    }

    /// Sets the loss rate.
    pub fn loss(mut self, loss: f64) -> Sim {
        assert!((0.0..=1.0).contains(&loss), "loss must be within 0..=1");
        self.net.loss = loss;
        self
    }

    /// Sets the protocol timers.
    pub fn timing(mut self, timing: Timing) -> Sim {
        self.timing = timing;
        self
    }

    /// Sets how long the user waits for an answer.
    pub fn user_patience_ms(mut self, ms: u64) -> Sim {
        self.user_patience_ms = ms;
        self
    }

    /// Sets the limit of simulated time; exceeding it fails the run.
    pub fn time_limit_s(mut self, seconds: f64) -> Sim {
        self.time_limit_s = seconds;
        self
    }

    /// Whether the report's trace keeps message entries (sends, deliveries, holds, drops). They
    /// are hashed and counted either way; without them a run's trace is a fraction of its size,
    /// which campaigns of many runs need to keep memory flat. Default: kept.
    pub fn keep_messages(mut self, keep: bool) -> Sim {
        self.keep_messages = keep;
        self
    }

    /// The report keeps no trace entry and no final view: only the hash, the counts, the
    /// violations, the divergence and the hazards (every entry is still hashed, counted and
    /// judged). For batches of runs that read nothing else (`joinsim demo --runs`): keeping and
    /// then dropping a run's entries and views was about 4% of a demo run. Default: off.
    pub fn summary_only(mut self) -> Sim {
        self.keep_messages = false;
        self.summary_only = true;
        self
    }

    /// Reports invariant violations in the report instead of failing the run (for runners that
    /// report them themselves).
    pub fn allow_violations(mut self) -> Sim {
        self.allow_violations = true;
        self
    }

    /// Runs every node with a planted bug (to measure the testbed, never in normal runs).
    pub fn planted_bug(mut self, bug: PlantedBug) -> Sim {
        self.bug = Some(bug);
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs `body` against a fresh world on a fresh OS thread. A panic in the body (a failed
    /// assertion) is re-raised here with the seed in its message.
    pub fn run<F, Fut, R>(self, body: F) -> RunReport<R>
    where
        F: FnOnce(World) -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
        R: Send + 'static,
    {
        let seed = self.seed;
        let thread = std::thread::Builder::new()
            .name(format!("sim-seed-{seed}"))
            .spawn(move || self.run_here(body))
            .expect("spawn a simulation thread");
        match thread.join() {
            Ok(report) => report,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "non-string panic".into());
                panic!("simulation with seed {seed} failed: {message}");
            }
        }
    }

    fn run_here<F, Fut, R>(self, body: F) -> RunReport<R>
    where
        F: FnOnce(World) -> Fut,
        Fut: Future<Output = R>,
    {
        let wall_start = Instant::now();
        let mut runtime =
            madsim::runtime::Runtime::with_seed_and_config(self.seed, madsim::Config::default());
        runtime.set_time_limit(Duration::from_secs_f64(self.time_limit_s));
        let world_of_run: Arc<Mutex<Option<World>>> = Arc::new(Mutex::new(None));
        let registered = world_of_run.clone();
        let ran = catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(self.run_world(body, move |world| {
                *registered.lock().expect("world cell") = Some(world.clone());
            }))
        }));
        let mut report = match ran {
            Ok(report) => report,
            Err(panic) => {
                // The run panicked (a node's assertion, raft-rs, the time limit): end its tasks
                // all the same, so that nothing of it outlives the runtime (see World::shutdown).
                let world = world_of_run.lock().expect("world cell").take();
                if let Some(world) = world {
                    runtime.block_on(async move { world.shutdown() });
                }
                drop(runtime);
                resume_unwind(panic);
            }
        };
        drop(runtime);
        report.wall_time = wall_start.elapsed();
        report
    }

    /// Runs `body` inside the current madsim runtime (for example one made by madsim's
    /// `Runtime::check_determinism`). The seed is the runtime's; `wall_time` is left zero. Every
    /// task of the run is ended before it returns.
    pub async fn run_inside<F, Fut, R>(self, body: F) -> RunReport<R>
    where
        F: FnOnce(World) -> Fut,
        Fut: Future<Output = R>,
    {
        self.run_world(body, |_| {}).await
    }

    async fn run_world<F, Fut, R>(self, body: F, on_world: impl FnOnce(&World)) -> RunReport<R>
    where
        F: FnOnce(World) -> Fut,
        Fut: Future<Output = R>,
    {
        let start = madsim::time::Instant::now();
        let world = World::setup(
            self.specs,
            self.timing,
            self.user_patience_ms,
            self.bug,
            self.keep_messages,
            &self.net,
        );
        if self.summary_only {
            world.keep_no_events();
        }
        on_world(&world);
        let value = body(world.clone()).await;
        let final_views = if self.summary_only {
            std::collections::BTreeMap::new()
        } else {
            world.views()
        };
        world.check_committed_logs();
        let hazards = world.check_hazards();
        let violations = world.violations();
        let divergence = world.divergence();
        let (trace_hash, trace, hash_after, deliveries, entries) = world.finish();
        let sim_time = start.elapsed();
        world.shutdown();
        if !self.allow_violations {
            if let Some(first) = violations.first() {
                panic!("invariant violated: {first}");
            }
            if let Some(divergence) = &divergence {
                panic!("{divergence}");
            }
        }
        RunReport {
            seed: madsim::runtime::Handle::current().seed(),
            value,
            trace_hash,
            trace,
            hash_after,
            deliveries,
            entries,
            sim_time,
            wall_time: Duration::ZERO,
            final_views,
            violations,
            divergence,
            hazards,
        }
    }
}

impl World {
    /// True when every running node is in the logical topology by its own account.
    pub fn all_joined(&self) -> bool {
        let joined: Vec<bool> = self
            .labels()
            .iter()
            .filter_map(|l| self.with_node(l, |n| n.is_joined()))
            .collect();
        !joined.is_empty() && joined.iter().all(|j| *j)
    }

    /// True when each of these nodes runs and is joined.
    pub fn joined(&self, labels: &[&str]) -> bool {
        labels
            .iter()
            .all(|l| self.with_node(l, |n| n.is_joined()).unwrap_or(false))
    }

    /// True when each of these nodes has stopped with a rejection.
    pub fn halted(&self, labels: &[&str]) -> bool {
        labels
            .iter()
            .all(|l| self.with_node(l, |n| n.is_halted()).unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type WeakWorld = std::sync::Weak<crate::world::WorldInner>;

    #[test]
    fn a_run_leaves_nothing_of_its_world_alive() {
        let report = Sim::new(3).nodes(3).run(|world| async move {
            world.start_all();
            world.init_default("n1", "t").await.expect("init succeeds");
            // A request still in flight and a node's timers are parked at the end.
            let pending = world.clone();
            world.spawn_user_task(async move {
                let _ = pending.init_default("n2", "other").await;
            });
            world.sleep_ms(5).await;
            world.downgrade()
        });
        assert!(
            report.value.upgrade().is_none(),
            "the world outlived its run (tasks leaked)"
        );
    }

    /// What `joined`, `halted`, `all_joined` and the demo read in place is what a view says,
    /// at every moment of a run that forms, inits, joins and halts a node.
    #[test]
    fn reads_in_place_agree_with_the_views() {
        let report = Sim::new(8).nodes(3).run(|world| async move {
            let agree = |w: &World| {
                for label in w.labels() {
                    let view = w.view(&label);
                    let read =
                        w.with_node(&label, |n| (n.is_joined(), n.is_halted(), n.physical_len()));
                    let seen = view.map(|v| (v.is_joined(), v.halted.is_some(), v.physical.len()));
                    assert_eq!(read, seen, "{label}");
                }
            };
            agree(&world);
            world.start_all();
            let mut states = std::collections::BTreeSet::new();
            let mut inited = false;
            for _ in 0..200 {
                agree(&world);
                states.insert((world.joined(&["n1", "n2", "n3"]), world.all_joined()));
                if world.labels().len() == 3 && world.all_joined() {
                    break;
                }
                if !inited && world.view("n1").is_some_and(|v| v.physical.len() == 3) {
                    inited = world.init_default("n1", "t").await.is_ok();
                }
                world.sleep_ms(20).await;
            }
            // A node with a version nobody accepts halts.
            world.add_node(
                crate::world::NodeSpec::new("n4")
                    .seeds(&["n1"])
                    .product(joinsim::ProductVersion::new(9, 0, 0)),
            );
            world.start("n4");
            let halted = world
                .wait_until("n4 halted", 30_000, |w| w.halted(&["n4"]))
                .await;
            agree(&world);
            (states, halted.is_ok(), world.all_joined())
        });
        let (states, halted, all_joined) = report.value;
        assert!(
            states.contains(&(false, false)),
            "seen before the join: {states:?}"
        );
        assert!(states.contains(&(true, true)), "seen joined: {states:?}");
        assert!(halted, "the incompatible node halted");
        assert!(!all_joined, "a halted node is not joined");
    }

    #[test]
    fn the_checker_sees_every_vault_write_and_every_wipe() {
        let report = Sim::new(5).nodes(3).run(|world| async move {
            world.start_all();
            let tag = world.init_default("n1", "t").await.expect("init succeeds");
            world
                .wait_until("all joined", 30_000, |w| w.all_joined())
                .await
                .expect("all join");
            // Bootstrap, cluster init, three validations and three join readies at least.
            let cmg = world.committed_prefix_len(joinsim::GroupKind::Cmg);
            let ms = world.committed_prefix_len(joinsim::GroupKind::Ms);
            let alive = world.cluster_gone_since(&tag);
            for label in ["n1", "n2", "n3"] {
                world.wipe(label);
            }
            (cmg, ms, alive, world.cluster_gone_since(&tag))
        });
        let (cmg, ms, alive, gone) = report.value;
        assert!(cmg >= 8, "the checker saw {cmg} committed CMG entries");
        assert!(ms >= 1, "the checker saw {ms} committed MS entries");
        assert_eq!(alive, None);
        assert!(gone.is_some(), "every CMG vault wiped: the cluster is gone");
    }

    #[test]
    fn a_panicking_run_leaves_nothing_of_its_world_alive() {
        let cell: Arc<Mutex<Option<WeakWorld>>> = Arc::new(Mutex::new(None));
        let inside = cell.clone();
        let ran = catch_unwind(AssertUnwindSafe(|| {
            Sim::new(4).nodes(2).run(move |world| async move {
                world.start_all();
                world.sleep_ms(300).await;
                *inside.lock().expect("cell") = Some(world.downgrade());
                panic!("the body fails");
            })
        }));
        assert!(ran.is_err(), "the body's panic reaches the caller");
        let weak = cell.lock().expect("cell").take().expect("the body ran");
        assert!(weak.upgrade().is_none(), "the world outlived its run");
    }
}
