//! The same canonical run — 5 empty nodes start, init goes to n1, every node joins — on the
//! synchronous test network of the core crate (`joinsim::testing`) and on the madsim world,
//! with runs per second for each and their ratio.
//!
//! `cargo bench -p joinsim-sim --bench harness [-- RUNS [NODES]]` (release build). Prints
//! figures; asserts nothing about time. Three rows (issue 13's table):
//!
//! - the synchronous network alone (the protocol and raft-rs on a plain event queue);
//! - the synchronous network doing the madsim world's host work besides, on every node output
//!   (`Network::observe_outputs`): vault writes through the invariant checkers; protocol events
//!   through the checkers, the reference model's validator and into the trace hash; every
//!   message's size bound checked and its two moments (sent, delivered) hashed;
//! - the madsim world, which also makes a fresh thread and runtime per run and runs every node
//!   and every message as a madsim task with its own timer.
//!
//! The ratio the goal names (within 1.5×) is the madsim world's against the second row.

use std::time::Instant;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use joinsim::testing::{node_addr, Network, StepKind};
use joinsim::{Addr, Output, ProductVersion, ProtocolVersion};
use joinsim_sim::checkers::NodeFacts;
use joinsim_sim::model_check::TraceValidator;
use joinsim_sim::trace::{MessageFate, MessageParts, Trace};
use joinsim_sim::{Checker, Sim, TraceEntry, TraceKind};

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

/// The madsim world's host work, done beside the synchronous network on every node output
/// ([`Network::observe_outputs`]) as `joinsim_sim::host::apply_output` does it: vault writes
/// through the checkers, events through the checkers, the model's validator and the trace
/// hash, every message's size bound checked and its sending moment hashed; and every delivery's
/// moment hashed ([`step_until`]).
struct HostWork {
    checker: Checker,
    validator: TraceValidator,
    trace: Trace,
    /// Node labels by address.
    labels: BTreeMap<Addr, String>,
    /// Violations and model divergences found (none in a sound run).
    findings: u64,
    /// Message ids handed out, as the madsim world numbers its messages.
    next_message_id: u64,
}

impl HostWork {
    /// The host work of `nodes` nodes named `n1`… with the default versions (what
    /// `NetworkBuilder::nodes` builds).
    fn new(nodes: usize) -> HostWork {
        let facts = (1..=nodes)
            .map(|i| {
                let name = format!("n{i}");
                let facts = NodeFacts {
                    name: name.clone(),
                    product: ProductVersion::default(),
                    protocol: ProtocolVersion::default(),
                };
                (name, facts)
            })
            .collect();
        HostWork {
            checker: Checker::new(facts),
            validator: TraceValidator::default(),
            trace: Trace::new(false),
            labels: (0..nodes)
                .map(|i| (node_addr(i), format!("n{}", i + 1)))
                .collect(),
            findings: 0,
            next_message_id: 1,
        }
    }

    /// One node output, before the network applies it.
    fn output(&mut self, label: &str, at_us: u64, output: &Output) {
        for write in &output.writes {
            let violation = self.checker.observe_write(label, at_us, write);
            self.findings += u64::from(violation.is_some());
        }
        for event in &output.events {
            let entry = TraceEntry {
                time_us: at_us,
                node: label.to_string(),
                kind: TraceKind::Protocol(event.clone()),
            };
            let violation = self.checker.observe(&entry);
            let divergence = self.validator.observe(&entry);
            self.findings += u64::from(violation.is_some()) + u64::from(divergence.is_some());
            self.trace.record(entry);
        }
        for (to, envelope) in &output.messages {
            assert!(envelope.wire_len().is_some(), "an envelope over the bound");
            let to = self.labels.get(to).map_or("user", String::as_str);
            let parts = MessageParts {
                id: self.next_message_id,
                from: label,
                to,
                kind: envelope.msg.kind(),
                fate: MessageFate::Sent,
            };
            self.next_message_id += 1;
            self.trace.record_message(at_us, label, parts);
        }
    }

    /// Hashes a delivery's moment.
    fn delivered(&mut self, at_us: u64, from: &str, to: &str, kind: joinsim::message::MessageKind) {
        let parts = MessageParts {
            id: self.next_message_id,
            from,
            to,
            kind,
            fate: MessageFate::Delivered,
        };
        self.next_message_id += 1;
        self.trace.record_message(at_us, to, parts);
    }
}

/// Steps `net` until `done` holds or `timeout_ms` of simulated time pass, hashing every
/// delivery (what [`Network::wait_until`] does, plus that part of the host work).
fn step_until(
    net: &mut Network,
    host: &Mutex<HostWork>,
    done: impl Fn(&Network) -> bool,
    timeout_ms: u64,
) -> bool {
    let deadline_us = (net.now_ms() + timeout_ms) * 1_000;
    while !done(net) {
        if net.now_us() > deadline_us {
            return false;
        }
        let Some(step) = net.step() else {
            return false;
        };
        if let StepKind::Delivered { from, to, kind } = &step.what {
            host.lock()
                .expect("host work")
                .delivered(step.at_us, from, to, *kind);
        }
    }
    true
}

/// The canonical run on the synchronous network with the madsim world's host work besides.
fn on_harness_with_host_work(seed: u64, nodes: usize) -> (bool, u64, u64) {
    let mut net = Network::builder().seed(seed).nodes(nodes).build();
    let host = Arc::new(Mutex::new(HostWork::new(nodes)));
    let observer = host.clone();
    net.observe_outputs(move |label, at_us, output| {
        observer
            .lock()
            .expect("host work")
            .output(label, at_us, output)
    });
    net.start_all();
    let formed = step_until(
        &mut net,
        &host,
        |n| n.view("n1").is_some_and(|v| v.physical.len() == nodes),
        PATIENCE_MS,
    );
    let init = formed && net.init_default("n1", "demo").is_ok();
    let joined = init && step_until(&mut net, &host, |n| n.all_joined(), PATIENCE_MS);
    let host = host.lock().expect("host work");
    assert_eq!(
        host.findings, 0,
        "seed {seed}: the host work found a violation or a model divergence in a sound run"
    );
    // Keep the hash from being optimized away.
    std::hint::black_box(host.trace.hash());
    (joined, net.now_ms(), net.deliveries())
}

/// The same run on the madsim world.
fn on_madsim(seed: u64, nodes: usize) -> (bool, u64, u64) {
    // Message moments are hashed, not kept, as in the demo and in campaigns (and as the host
    // work of the synchronous row does).
    let report = Sim::new(seed)
        .nodes(nodes)
        .keep_messages(false)
        .run(move |w| async move {
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

/// One variant of the run.
type Variant = fn(u64, usize) -> (bool, u64, u64);

/// Runs every variant on seeds `0..runs`, interleaved (seed 0 on each, then seed 1 on each, …)
/// so that a shared machine's changing load falls on all of them alike; each variant's wall
/// time is its own runs' sum.
fn measure(runs: u64, nodes: usize, variants: &[Variant]) -> Vec<Figures> {
    // Warm up (page in code, allocator).
    for run in variants {
        for seed in 0..5 {
            run(seed, nodes);
        }
    }
    let mut wall_s = vec![0.0f64; variants.len()];
    let mut totals = vec![(0u64, 0u64, 0u64); variants.len()];
    for seed in 0..runs {
        for (i, run) in variants.iter().enumerate() {
            let start = Instant::now();
            let (joined, ms, delivered) = run(seed, nodes);
            wall_s[i] += start.elapsed().as_secs_f64();
            let (sim_ms, deliveries, failed) = &mut totals[i];
            *sim_ms += ms;
            *deliveries += delivered;
            *failed += u64::from(!joined);
        }
    }
    wall_s
        .iter()
        .zip(totals)
        .map(|(wall, (sim_ms, deliveries, failed))| Figures {
            runs_per_s: runs as f64 / wall,
            sim_ms: sim_ms as f64 / runs as f64,
            deliveries: deliveries as f64 / runs as f64,
            failed,
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(200);
    let nodes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let figures = measure(
        runs,
        nodes,
        &[on_harness, on_harness_with_host_work, on_madsim],
    );
    let [harness, hosted, madsim] = &figures[..] else {
        unreachable!("three variants measured");
    };
    println!("canonical run ({nodes} nodes, init, all join), {runs} runs each, release build");
    for (name, f) in [
        ("synchronous harness", harness),
        ("synchronous + host work", hosted),
        ("madsim world", madsim),
    ] {
        println!(
            "  {name:<24} {:>9.0} runs/s   {:>6.0} simulated ms/run   {:>6.0} deliveries/run   {} runs not all joined",
            f.runs_per_s, f.sim_ms, f.deliveries, f.failed
        );
    }
    println!(
        "  ratio: the synchronous harness runs {:.2}x as many runs per second",
        harness.runs_per_s / madsim.runs_per_s
    );
    println!(
        "  ratio: with the same host work, {:.2}x (issue 13's goal: within 1.5x)",
        hosted.runs_per_s / madsim.runs_per_s
    );
}
