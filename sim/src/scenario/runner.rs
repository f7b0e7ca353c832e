//! Runs a scenario for one seed: the timeline, then the liveness phase, then the expectations,
//! with every safety invariant checked after every event.
//!
//! Each step waits for its [`Trigger`] (`condition_met`: one arm per [`Condition`]), then
//! `perform` does its [`Action`] (one arm per action).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use joinsim::{Event, JoinPhase, NodeView};
use serde::Serialize;

use crate::checkers::{Hazard, HazardKind, Violation};
use crate::network::{LinkSettings, MessageFilter, RuleAction, RuleId, ALWAYS_PPM};
use crate::scenario::at_event::{Armed, Fired, StepAction};
use crate::scenario::init_ledger::InitLedger;
use crate::scenario::liveness_facts::{live_nodes, LiveNode};
use crate::scenario::model::{
    Action, AnswerExpectation, Condition, NodeOutcome, Scenario, Target, Trigger,
};
use crate::sim::Sim;
use crate::stall::{stall_reports, StallReport};
use crate::trace::{HarnessEvent, TraceEntry, TraceKind};
use crate::user::{AdminAnswer, InitAnswer};
use crate::world::{UserError, World};

/// How many trace entries a failure report shows.
pub const REPORT_LAST_EVENTS: usize = 25;

/// The result of one seed of one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct SeedResult {
    /// Scenario name.
    pub scenario: String,
    /// Its file.
    pub file: String,
    /// The seed.
    pub seed: u64,
    /// True when no invariant broke, liveness held, and every expectation held.
    pub passed: bool,
    /// The trace hash, 16 hex digits.
    pub trace_hash: String,
    /// Simulated time at the end.
    pub sim_time_ms: u64,
    /// Wall time of the run.
    pub wall_ms: f64,
    /// Trace entries.
    pub events: usize,
    /// Each node's outcome, by label.
    pub nodes: BTreeMap<String, String>,
    /// The LT held by each CMG leader at the end: (leader, version, members).
    pub lt: Vec<(String, u64, Vec<String>)>,
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// The first trace entry the reference model could not explain (trace validation,
    /// `crate::model_check`): a failure of its own kind, `model_divergence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<crate::model_check::Divergence>,
    /// Hazards reported.
    pub hazards: Vec<Hazard>,
    /// Expectations and liveness conditions that did not hold.
    pub failures: Vec<String>,
    /// When liveness failed or a node's expected outcome was not reached: every node outside
    /// the LT, what it waits for and since when (`crate::stall`); taken when the failure was
    /// seen. Empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stall: Vec<StallReport>,
    /// The panic that ended the run early (a node's assertion, raft-rs, the simulator), if any.
    pub panic: Option<String>,
    /// The command that replays this run.
    pub replay: String,
    /// The command that replays it and draws its timeline picture (docs/debugging.md).
    pub timeline: String,
    /// The last events before the end (on failure).
    pub last_events: Vec<String>,
    /// The whole trace, when asked for (`run --trace`; in JSON only then).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<TraceEntry>,
    /// The trace hash right after each entry of `trace`, when the trace is asked for.
    #[serde(skip)]
    pub hash_after: Vec<u64>,
    /// The trace hash as a number.
    #[serde(skip)]
    pub trace_hash_u64: u64,
    /// Every running node's final state (the god's-eye view), when the trace is asked for.
    #[serde(skip)]
    pub views: BTreeMap<String, NodeView>,
}

/// Init parameters normalized for comparison: name, sorted CMG list, sorted MS list.
type InitKey = (String, Vec<String>, Vec<String>);

/// Init is idempotent (docs/spec.md §1, step 2): successful answers to inits with the same parameters
/// carry the same tag. Checked on every run over the user's answers, within one cluster
/// incarnation: two answers may differ only when the cluster of one of them was gone (every
/// vault that held a replica of its CMG wiped) before the other was answered — a wiped cluster's
/// tag cannot be returned again.
fn check_idempotent(
    world: &World,
    scenario: &Scenario,
    answers: &Arc<Mutex<BTreeMap<String, Answer>>>,
) {
    let key = |p: &joinsim::InitParams| {
        let mut cmg: Vec<String> = p.cmg_nodes.iter().map(|n| n.trim().to_string()).collect();
        let mut ms: Vec<String> = p.ms_nodes.iter().map(|n| n.trim().to_string()).collect();
        cmg.sort();
        ms.sort();
        (p.cluster_name.trim().to_string(), cmg, ms)
    };
    let answers = answers.lock().expect("answers");
    let mut seen: BTreeMap<InitKey, Vec<(String, joinsim::ClusterTag, u64)>> = BTreeMap::new();
    for step in &scenario.steps {
        let Action::Init { id, params, .. } = &step.action else {
            continue;
        };
        let Some(Answer::Init(Ok(tag), at_us, _)) = answers.get(id) else {
            continue;
        };
        let earlier = seen.entry(key(params)).or_default();
        for (first, first_tag, first_at) in earlier.iter() {
            if first_tag == tag {
                continue;
            }
            let gone_before =
                |gone: Option<u64>, answered: u64| gone.is_some_and(|g| g <= answered);
            if gone_before(world.cluster_gone_since(first_tag), *at_us)
                || gone_before(world.cluster_gone_since(tag), *first_at)
            {
                continue;
            }
            world.report_violation(
                crate::checkers::Invariant::AlwaysInitIdempotent,
                Vec::new(),
                format!(
                    "init {first} answered {first_tag}; init {id}, with the same parameters, answered {tag} while that cluster still existed"
                ),
            );
            return;
        }
        earlier.push((id.clone(), tag.clone(), *at_us));
    }
}

/// A user command's answer, and where in the trace the user got it (the trace's length then:
/// the answer comes after every entry before that index).
#[derive(Clone, Debug)]
enum Answer {
    /// An init's answer, when the user got it (simulated microseconds), and where.
    Init(InitAnswer, u64, usize),
    /// An admin command's answer, and where.
    Admin(AdminAnswer, usize),
}

impl Answer {
    /// The trace's length when the user got it.
    fn position(&self) -> usize {
        match self {
            Answer::Init(_, _, at) | Answer::Admin(_, at) => *at,
        }
    }
}

struct Outcome {
    failures: Vec<String>,
    stall: Vec<StallReport>,
    nodes: BTreeMap<String, String>,
    lt: Vec<(String, u64, Vec<String>)>,
}

/// The command that replays `seed` of the scenario at `path`.
pub fn replay_command(path: &str, seed: u64) -> String {
    format!(
        "cargo run --release -- run {} --seed {seed}",
        crate::shell::shell_word(path)
    )
}

/// The command that replays `seed` of `scenario` and writes its timeline picture to
/// `<scenario name>-seed-<seed>.html` in the current directory (the name made one safe path
/// component: [`crate::shell::file_name_of`]).
pub fn timeline_command_of(scenario: &Scenario, seed: u64) -> String {
    let file = format!(
        "{}-seed-{seed}.html",
        crate::shell::file_name_of(&scenario.name)
    );
    format!(
        "{} --timeline {}",
        replay_command_of(scenario, seed),
        crate::shell::shell_word(&file)
    )
}

/// The command that replays `seed` of `scenario`: the file alone when `seed` is the one seed it
/// names, with `--seed` otherwise.
pub fn replay_command_of(scenario: &Scenario, seed: u64) -> String {
    if scenario.seed == Some(seed) {
        format!(
            "cargo run --release -- run {}",
            crate::shell::shell_word(&scenario.path)
        )
    } else {
        replay_command(&scenario.path, seed)
    }
}

/// How much of a run's trace its result keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// No trace (the hash and counts only).
    Nothing,
    /// Every entry but the messages' (what a campaign reads: coverage, divergence reports), so
    /// that memory stays flat over many runs.
    Events,
    /// Every entry: what the trace file and the pictures need.
    Everything,
}

/// Runs one seed of a scenario. `keep_trace` keeps the whole trace in the result.
pub fn run_scenario(scenario: &Scenario, seed: u64, keep_trace: bool) -> SeedResult {
    let kept = if keep_trace {
        Kept::Everything
    } else {
        Kept::Nothing
    };
    run_scenario_keeping(scenario, seed, kept)
}

/// Runs one seed of a scenario, keeping `kept` of its trace in the result.
pub fn run_scenario_keeping(scenario: &Scenario, seed: u64, kept: Kept) -> SeedResult {
    let keep_trace = kept != Kept::Nothing;
    let mut sim = Sim::new(seed)
        .latency_ms(
            scenario.network.latency_min_ms,
            scenario.network.latency_max_ms,
        )
        .loss(scenario.network.loss)
        .allow_violations()
        .keep_messages(kept == Kept::Everything)
        .time_limit_s(
            (scenario.expect.deadline_ms + scenario.liveness.timeout_ms) as f64 / 1e3 + 120.0,
        );
    if let Some(bug) = scenario.bug {
        sim = sim.planted_bug(bug);
    }
    for spec in &scenario.nodes {
        sim = sim.node(spec.clone());
    }
    let shared = Arc::new(scenario.clone());
    let wall_start = std::time::Instant::now();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sim.run(move |world| execute(world, shared))
    }));
    let report = match ran {
        Ok(report) => report,
        Err(panic) => return panicked(scenario, seed, panic_message(&*panic), wall_start),
    };
    let passed = report.violations.is_empty()
        && report.divergence.is_none()
        && report.value.failures.is_empty();
    let last_events = if passed {
        Vec::new()
    } else {
        // Protocol events, harness actions and verdicts: the messages are in the trace file.
        let mut last: Vec<String> = report
            .trace
            .iter()
            .rev()
            .filter(|e| !matches!(e.kind, TraceKind::Message(_)))
            .take(REPORT_LAST_EVENTS)
            .map(|e| e.to_string())
            .collect();
        last.reverse();
        last
    };
    SeedResult {
        scenario: scenario.name.clone(),
        file: scenario.path.clone(),
        seed,
        passed,
        trace_hash: format!("{:016x}", report.trace_hash),
        sim_time_ms: report.sim_time.as_millis() as u64,
        wall_ms: report.wall_time.as_secs_f64() * 1e3,
        events: report.entries as usize,
        nodes: report.value.nodes,
        lt: report.value.lt,
        violations: report.violations,
        divergence: report.divergence,
        hazards: report.hazards,
        failures: report.value.failures,
        stall: report.value.stall,
        panic: None,
        replay: replay_command_of(scenario, seed),
        timeline: timeline_command_of(scenario, seed),
        last_events,
        trace: if keep_trace { report.trace } else { Vec::new() },
        hash_after: if keep_trace {
            report.hash_after
        } else {
            Vec::new()
        },
        trace_hash_u64: report.trace_hash,
        views: if keep_trace {
            report.final_views
        } else {
            BTreeMap::new()
        },
    }
}

/// The text of a panic payload.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The result of a seed whose run panicked: a failure of that seed, with its replay command.
fn panicked(
    scenario: &Scenario,
    seed: u64,
    message: String,
    wall_start: std::time::Instant,
) -> SeedResult {
    SeedResult {
        scenario: scenario.name.clone(),
        file: scenario.path.clone(),
        seed,
        passed: false,
        trace_hash: "-".into(),
        sim_time_ms: 0,
        wall_ms: wall_start.elapsed().as_secs_f64() * 1e3,
        events: 0,
        nodes: BTreeMap::new(),
        lt: Vec::new(),
        violations: Vec::new(),
        divergence: None,
        hazards: Vec::new(),
        failures: vec![format!("panic: {message}")],
        stall: Vec::new(),
        panic: Some(message),
        replay: replay_command_of(scenario, seed),
        timeline: timeline_command_of(scenario, seed),
        last_events: Vec::new(),
        trace: Vec::new(),
        hash_after: Vec::new(),
        trace_hash_u64: 0,
        views: BTreeMap::new(),
    }
}

async fn execute(world: World, scenario: Arc<Scenario>) -> Outcome {
    let answers: Arc<Mutex<BTreeMap<String, Answer>>> = Arc::new(Mutex::new(BTreeMap::new()));
    // Shared with the hooks that do a step at its event.
    let sent: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let rules: Arc<Mutex<BTreeMap<String, RuleId>>> = Arc::default();
    // Steps with an id (init, reconfigure_ms, hold, drop) that did nothing because a role they
    // name named no node: id -> why.
    let skipped: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let mut failures = Vec::new();
    // Taken when liveness fails or a node's expected outcome is not reached (the first of the
    // two): what every node outside the LT waits for.
    let mut stall = Vec::new();
    let deadline = scenario.expect.deadline_ms;
    for label in &scenario.start {
        world.start(label);
    }
    let mut mark = world.with_trace(|t| t.len());
    let mut completed = true;
    for (index, step) in scenario.steps.iter().enumerate() {
        let number = index + 1;
        match &step.trigger {
            Trigger::Immediately => {}
            Trigger::At(at_ms) => {
                let wait_us = (*at_ms * 1_000).saturating_sub(world.now_us());
                madsim::time::sleep(std::time::Duration::from_micros(wait_us)).await;
            }
            Trigger::After {
                condition,
                delay_ms,
            } => {
                let left = deadline.saturating_sub(world.now_ms());
                // A step with no delay acts in the hook, at the event itself.
                let act: Option<StepAction> = (*delay_ms == 0).then(|| {
                    let (action, answers, sent, rules, skipped) = (
                        step.action.clone(),
                        answers.clone(),
                        sent.clone(),
                        rules.clone(),
                        skipped.clone(),
                    );
                    Box::new(move |w: &World| {
                        let ledger = (&sent, &rules, &skipped);
                        perform_shared(w, number, &action, &answers, ledger)
                    }) as StepAction
                });
                let met = {
                    let (condition, answers) = (condition.clone(), answers.clone());
                    move |w: &World, since: usize| condition_met(w, &condition, since, &answers)
                };
                let armed = Armed::arm(&world, mark, met, act);
                let timeout = std::time::Duration::from_millis(left);
                let fired = madsim::time::timeout(timeout, armed.fired()).await;
                armed.cancel();
                match fired {
                    Err(_) => {
                        failures.push(format!(
                            "step {number} (line {}): {condition:?} did not happen by the deadline ({deadline} ms)",
                            step.line
                        ));
                        completed = false;
                        break;
                    }
                    Ok(Fired::Violated) => {
                        completed = false;
                        break;
                    }
                    Ok(Fired::Met {
                        acted: Some(result),
                        ..
                    }) => {
                        if let Err(problem) = result {
                            failures.push(format!("step {number} (line {}): {problem}", step.line));
                        }
                        mark = world.with_trace(|t| t.len());
                        world.check_hazards();
                        continue;
                    }
                    Ok(Fired::Met { at_us, acted: None }) => {
                        let due_us = at_us + delay_ms * 1_000;
                        if due_us > deadline * 1_000 {
                            failures.push(format!(
                                "step {number} (line {}): delay_ms {delay_ms} goes past the deadline ({deadline} ms)",
                                step.line
                            ));
                            completed = false;
                            break;
                        }
                        let wait_us = due_us.saturating_sub(world.now_us());
                        madsim::time::sleep(std::time::Duration::from_micros(wait_us)).await;
                    }
                }
            }
        }
        if world.violated() {
            completed = false;
            break;
        }
        let problem = perform_shared(
            &world,
            number,
            &step.action,
            &answers,
            (&sent, &rules, &skipped),
        );
        if let Err(problem) = problem {
            failures.push(format!("step {number} (line {}): {problem}", step.line));
        }
        mark = world.with_trace(|t| t.len());
        world.check_hazards();
    }
    if completed && !world.violated() && scenario.liveness.enabled {
        let network = &scenario.network;
        // Links take the default settings again (a file without `link` steps has none to
        // forget, and its trace no `links_cleared`); clocks keep their skew and drift: a
        // machine's clock is not a fault that ends. A pause ends by itself.
        world.heal();
        if scenario
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Link { .. }))
        {
            world.clear_links();
        }
        world.release_all();
        world.set_network(network.latency_min_ms, network.latency_max_ms, 0.0);
        let answers_now = answers.clone();
        let sent_now = sent.lock().expect("sent").clone();
        // LT hygiene is checked at its bound, not only when the liveness timeout runs out: a
        // member still in a leader's LT, down, once the bound has passed fails the run then.
        let faults_stopped_ms = world.now_ms();
        let hygiene_due_ms = faults_stopped_ms + lt_hygiene_bound_ms(world.timing());
        let late_hygiene: Arc<Mutex<Vec<String>>> = Arc::default();
        let late = late_hygiene.clone();
        let mut inits = InitLedger::default();
        let converged = world
            .wait_until("liveness", scenario.liveness.timeout_ms, |w| {
                w.check_hazards();
                // One reading of the nodes per poll serves both judgments.
                let nodes = live_nodes(w);
                if w.now_ms() >= hygiene_due_ms {
                    let problems = lt_hygiene_problems(&nodes);
                    if !problems.is_empty() {
                        *late.lock().expect("hygiene") = problems;
                        return true;
                    }
                }
                w.violated()
                    || liveness_problems(w, &nodes, &mut inits, &sent_now, &answers_now).is_empty()
            })
            .await;
        let late_hygiene = std::mem::take(&mut *late_hygiene.lock().expect("hygiene"));
        let before = failures.len();
        for problem in &late_hygiene {
            failures.push(format!(
                "liveness: {problem} ({} ms after faults stopped, past the LT-hygiene bound of {} ms)",
                world.now_ms() - faults_stopped_ms,
                lt_hygiene_bound_ms(world.timing())
            ));
        }
        if converged.is_err() && late_hygiene.is_empty() {
            let nodes = live_nodes(&world);
            for problem in liveness_problems(&world, &nodes, &mut inits, &sent_now, &answers) {
                failures.push(format!(
                    "liveness: {problem} ({} ms after faults stopped)",
                    scenario.liveness.timeout_ms
                ));
            }
        }
        if failures.len() > before {
            stall = stall_reports(&world);
        }
    }
    let skipped_now = skipped.lock().expect("skipped").clone();
    if !world.violated() {
        let left = deadline.saturating_sub(world.now_ms()).max(1);
        let _ = world
            .wait_until("expectations", left, |w| {
                w.check_hazards();
                w.violated()
                    || (answers.lock().expect("answers").len() == sent.lock().expect("sent").len()
                        && expectation_failures(w, &scenario, &answers, &skipped_now).is_empty())
            })
            .await;
        failures.extend(expectation_failures(
            &world,
            &scenario,
            &answers,
            &skipped_now,
        ));
        if stall.is_empty() && !node_outcome_failures(&world.views(), &scenario).is_empty() {
            stall = stall_reports(&world);
        }
    }
    check_idempotent(&world, &scenario, &answers);
    let hazards = world.check_hazards();
    let reported: BTreeSet<HazardKind> = hazards.iter().map(|h| h.kind).collect();
    let expected: BTreeSet<HazardKind> = scenario.expect.hazards.iter().copied().collect();
    for missing in expected.difference(&reported) {
        failures.push(format!("expected hazard {missing} was not reported"));
    }
    for extra in reported
        .difference(&expected)
        .filter(|_| !scenario.expect.allow_hazards)
    {
        let detail = hazards
            .iter()
            .find(|h| h.kind == *extra)
            .map(|h| h.detail.clone());
        failures.push(format!(
            "unexpected hazard {extra}: {}",
            detail.unwrap_or_default()
        ));
    }
    let views = world.views();
    let nodes = world
        .labels()
        .into_iter()
        .map(|l| {
            let outcome = describe(views.get(&l));
            (l, outcome)
        })
        .collect();
    Outcome {
        failures,
        stall,
        nodes,
        lt: leader_lts(&views),
    }
}

/// The shared ledger of a run (see [`Ledger`]): the hooks that do a step at its event hold it too.
type SharedLedger<'a> = (
    &'a Arc<Mutex<BTreeSet<String>>>,
    &'a Arc<Mutex<BTreeMap<String, RuleId>>>,
    &'a Arc<Mutex<BTreeMap<String, String>>>,
);

/// [`perform`] on the shared ledger.
fn perform_shared(
    world: &World,
    number: usize,
    action: &Action,
    answers: &Arc<Mutex<BTreeMap<String, Answer>>>,
    (sent, rules, skipped): SharedLedger<'_>,
) -> Result<(), String> {
    let mut sent = sent.lock().expect("sent");
    let mut rules = rules.lock().expect("rules");
    let mut skipped = skipped.lock().expect("skipped");
    let mut ledger = Ledger {
        sent: &mut sent,
        rules: &mut rules,
        skipped: &mut skipped,
    };
    perform(world, number, action, answers, &mut ledger)
}

/// What the steps so far left behind, which later steps and the expectations read.
struct Ledger<'a> {
    /// Ids of the user commands sent.
    sent: &'a mut BTreeSet<String>,
    /// The rule each hold or drop step added, by step id.
    rules: &'a mut BTreeMap<String, RuleId>,
    /// Ids of init, reconfigure_ms, hold and drop steps that did nothing (a role named no
    /// node), and why.
    skipped: &'a mut BTreeMap<String, String>,
}

/// The label a step's target names now: a label names itself, a role the node that holds it
/// (docs/scenarios.md, "Roles"); `Err` says why a role names nobody.
fn resolve(world: &World, target: &Target) -> Result<String, String> {
    let found = match target {
        Target::Node(label) => return Ok(label.clone()),
        Target::CmgLeader => group_leader(world, |v| v.cmg.as_ref()),
        Target::MsLeader => group_leader(world, |v| v.ms.as_ref()),
        Target::ValidatorOf(label) => validator_of(world, label),
    };
    found.ok_or_else(|| match target {
        Target::ValidatorOf(label) => format!("{target}: no CMG replica has validated {label}"),
        _ => format!("{target}: no node leads"),
    })
}

/// The label of the running node whose replica (`group` picks it from the view) leads with the
/// highest term; of several, the first label.
fn group_leader(
    world: &World,
    group: impl Fn(&NodeView) -> Option<&joinsim::GroupView>,
) -> Option<String> {
    let mut best: Option<(u64, String)> = None;
    for (label, view) in world.views() {
        let Some(g) = group(&view).filter(|g| g.role == joinsim::Role::Leader) else {
            continue;
        };
        if best.as_ref().is_none_or(|(term, _)| g.term > *term) {
            best = Some((g.term, label));
        }
    }
    best.map(|(_, label)| label)
}

/// The label of the node whose CMG replica emitted the most recent `Validated` event for the
/// node labelled `label`.
///
/// The node that validated `label` most recently: of the CMG replicas that applied the latest
/// validation of it (every replica emits `Validated` as it applies the entry), the one that led
/// its CMG when it applied it, else the first to apply it. Not the last replica to apply it: a
/// step a while after the validation must name the validating leader, not the slowest follower.
fn validator_of(world: &World, label: &str) -> Option<String> {
    let name = world.name_of(label);
    world.with_trace(|trace| {
        // Whether each label's CMG replica leads, as its role changes say.
        let mut leads: BTreeMap<&str, bool> = BTreeMap::new();
        // The latest validation: (CMG incarnation, log index), its first applier, its leader.
        let mut latest: Option<((joinsim::InstanceId, u64), String, Option<String>)> = None;
        let mut cmg_of: BTreeMap<&str, joinsim::InstanceId> = BTreeMap::new();
        for entry in trace {
            let TraceKind::Protocol(event) = &entry.kind else {
                continue;
            };
            match event {
                Event::RoleChanged {
                    group: joinsim::GroupKind::Cmg,
                    instance,
                    role,
                    ..
                } => {
                    leads.insert(&entry.node, *role == joinsim::Role::Leader);
                    cmg_of.insert(&entry.node, *instance);
                }
                Event::Started { .. } => {
                    leads.insert(&entry.node, false);
                }
                Event::Validated { node, index, .. } if *node == name => {
                    let instance = cmg_of.get(entry.node.as_str()).copied();
                    let key = (instance.unwrap_or(joinsim::InstanceId(0)), *index);
                    let leader = leads.get(entry.node.as_str()).copied().unwrap_or(false);
                    match &mut latest {
                        Some((k, _, led)) if *k == key => {
                            if leader && led.is_none() {
                                *led = Some(entry.node.clone());
                            }
                        }
                        // An older validation applied late by a slow replica is not the latest.
                        Some((k, _, _)) if k.0 == key.0 && k.1 > key.1 => {}
                        _ => {
                            let led = leader.then(|| entry.node.clone());
                            latest = Some((key, entry.node.clone(), led));
                        }
                    }
                }
                _ => {}
            }
        }
        latest.map(|(_, first, leader)| leader.unwrap_or(first))
    })
}

/// Does step `number`'s action; `Err` is a problem the run reports (a node already running,
/// ...). A role that names no node makes the step do nothing, with a `StepSkipped` note in the
/// trace.
fn perform(
    world: &World,
    number: usize,
    action: &Action,
    answers: &Arc<Mutex<BTreeMap<String, Answer>>>,
    ledger: &mut Ledger<'_>,
) -> Result<(), String> {
    let skip = |reason: String| {
        world.record(
            "-",
            TraceKind::Harness(HarnessEvent::StepSkipped {
                step: number as u64,
                reason,
            }),
        );
    };
    // Every target of the step, resolved; the first role that names nobody skips the step.
    let targets: Vec<&Target> = match action {
        Action::Start(t)
        | Action::Kill(t)
        | Action::Restart(t)
        | Action::Wipe(t)
        | Action::Leave(t)
        | Action::Move(t)
        | Action::Clock { node: t, .. }
        | Action::Pause { node: t, .. }
        | Action::StorageFault { node: t, .. } => vec![t],
        Action::Init { via, .. } | Action::ReconfigureMs { via, .. } => vec![via],
        Action::Partition(groups) => groups.iter().flatten().collect(),
        Action::PartitionOneway { from, to } | Action::Link { from, to, .. } => vec![from, to],
        Action::Hold { filter, .. }
        | Action::Drop { filter, .. }
        | Action::Duplicate { filter, .. }
        | Action::Delay { filter, .. } => filter.from.iter().chain(filter.to.iter()).collect(),
        Action::Heal
        | Action::Network { .. }
        | Action::LinksDefault
        | Action::Release(_)
        | Action::Wait => Vec::new(),
    };
    let mut resolved: BTreeMap<&Target, String> = BTreeMap::new();
    for target in targets {
        match resolve(world, target) {
            Ok(label) => {
                resolved.insert(target, label);
            }
            Err(reason) => {
                if let Action::Init { id, .. }
                | Action::ReconfigureMs { id, .. }
                | Action::Hold { id, .. }
                | Action::Drop { id, .. }
                | Action::Duplicate { id, .. }
                | Action::Delay { id, .. } = action
                {
                    ledger.skipped.insert(id.clone(), reason.clone());
                }
                skip(reason);
                return Ok(());
            }
        }
    }
    let label = |t: &Target| resolved[t].clone();
    let running = |label: &str| -> Result<(), String> {
        if world.is_running(label) {
            Ok(())
        } else {
            Err(format!("{label} is not running"))
        }
    };
    let rule_filter = |filter: &crate::scenario::model::TargetFilter| MessageFilter {
        kind: filter.kind,
        from: filter.from.as_ref().map(&label),
        to: filter.to.as_ref().map(&label),
    };
    match action {
        Action::Start(target) => {
            let label = label(target);
            if world.is_running(&label) {
                return Err(format!("{label} is already running"));
            }
            world.start(&label);
        }
        Action::Kill(target) => {
            let label = label(target);
            if !world.is_running(&label) {
                return Err(format!("{label} is not running"));
            }
            world.kill(&label);
        }
        Action::Restart(target) => world.restart(&label(target)),
        Action::Wipe(target) => world.wipe(&label(target)),
        Action::Init {
            id, via, params, ..
        } => {
            ledger.sent.insert(id.clone());
            let (world, answers, id, via, params) = (
                world.clone(),
                answers.clone(),
                id.clone(),
                label(via),
                params.clone(),
            );
            world.clone().spawn_user_task(async move {
                let answer = world.init(&via, params).await;
                let at_us = world.now_us();
                let at = world.with_trace(|t| t.len());
                answers
                    .lock()
                    .expect("answers")
                    .insert(id, Answer::Init(answer, at_us, at));
                world.run_hooks();
            });
        }
        Action::ReconfigureMs { id, via, nodes, .. } => {
            ledger.sent.insert(id.clone());
            let (world, answers, id, via, nodes) = (
                world.clone(),
                answers.clone(),
                id.clone(),
                label(via),
                nodes.clone(),
            );
            world.clone().spawn_user_task(async move {
                let refs: Vec<&str> = nodes.iter().map(|s| s.as_str()).collect();
                let answer = world.reconfigure_ms(&via, &refs).await;
                let at = world.with_trace(|t| t.len());
                answers
                    .lock()
                    .expect("answers")
                    .insert(id, Answer::Admin(answer, at));
                world.run_hooks();
            });
        }
        Action::Partition(groups) => {
            let labels: Vec<Vec<String>> = groups
                .iter()
                .map(|g| g.iter().map(&label).collect())
                .collect();
            let mut seen = BTreeSet::new();
            for (target, name) in groups.iter().flatten().zip(labels.iter().flatten()) {
                if !seen.insert(name) {
                    return Err(format!(
                        "partition: {name} is in two groups ({target} names it)"
                    ));
                }
            }
            let refs: Vec<Vec<&str>> = labels
                .iter()
                .map(|g| g.iter().map(|s| s.as_str()).collect())
                .collect();
            let refs: Vec<&[&str]> = refs.iter().map(|g| g.as_slice()).collect();
            world.partition(&refs);
        }
        Action::PartitionOneway { from, to } => world.partition_oneway(&label(from), &label(to)),
        Action::Heal => world.heal(),
        Action::Network { latency_ms, loss } => {
            world.set_network(latency_ms.0, latency_ms.1, *loss)
        }
        Action::Hold { id, filter, for_ms } | Action::Drop { id, filter, for_ms } => {
            let filter = rule_filter(filter);
            let rule = if matches!(action, Action::Hold { .. }) {
                world.hold(filter, *for_ms)
            } else {
                world.drop_messages(filter, *for_ms)
            };
            ledger.rules.insert(id.clone(), rule);
        }
        Action::Release(id) => {
            if let Some(why) = ledger.skipped.get(id) {
                skip(format!("rule {id} was never added ({why})"));
                return Ok(());
            }
            let rule = ledger
                .rules
                .get(id)
                .ok_or_else(|| format!("rule {id} was never added"))?;
            world.release(*rule);
        }
        Action::Link {
            from,
            to,
            latency_ms,
            loss,
        } => world.set_link(
            &label(from),
            &label(to),
            LinkSettings {
                latency_min_ms: latency_ms.0,
                latency_max_ms: latency_ms.1,
                loss_ppm: (loss * f64::from(ALWAYS_PPM)) as u32,
            },
        ),
        Action::LinksDefault => world.clear_links(),
        Action::Duplicate {
            id,
            filter,
            for_ms,
            chance_ppm,
        } => {
            let rule = world.add_message_rule(
                rule_filter(filter),
                RuleAction::Duplicate,
                *for_ms,
                *chance_ppm,
            );
            ledger.rules.insert(id.clone(), rule);
        }
        Action::Delay {
            id,
            filter,
            for_ms,
            chance_ppm,
            delay_ms: (min_ms, max_ms),
        } => {
            let rule = world.add_message_rule(
                rule_filter(filter),
                RuleAction::Delay {
                    min_ms: *min_ms,
                    max_ms: *max_ms,
                },
                *for_ms,
                *chance_ppm,
            );
            ledger.rules.insert(id.clone(), rule);
        }
        Action::Clock {
            node,
            skew_ms,
            drift_ppm,
        } => world.adjust_clock(&label(node), *skew_ms, *drift_ppm)?,
        Action::Pause { node, for_ms } => {
            let label = label(node);
            running(&label)?;
            world.pause(&label, *for_ms);
        }
        Action::StorageFault { node, fault } => {
            let label = label(node);
            running(&label)?;
            world.storage_fault(&label, *fault);
        }
        Action::Leave(node) => {
            let label = label(node);
            running(&label)?;
            world.leave(&label);
        }
        Action::Move(node) => {
            world.move_node(&label(node));
        }
        Action::Wait => {}
    }
    Ok(())
}

/// The protocol events that are occurrences of `condition`, as a test of one event and the label
/// of the node that logged it; `None` for the conditions that are not one event (answers,
/// `left_lt`). `node_declared_dead` matches the removal here; [`led_cmg_at`] judges its logger.
#[allow(clippy::type_complexity)]
fn event_test(world: &World, condition: &Condition) -> Option<Box<dyn Fn(&str, &Event) -> bool>> {
    let by = |label: &String| {
        let label = label.clone();
        move |node: &str| node == label
    };
    Some(match condition {
        Condition::InitAnswered(_) | Condition::AdminAnswered(_) | Condition::LeftLt(_) => {
            return None
        }
        Condition::InTopology(l) => {
            let by = by(l);
            Box::new(move |node, e| matches!(e, Event::EnteredTopology { .. }) && by(node))
        }
        Condition::JoinReadySent(l) => {
            let by = by(l);
            Box::new(move |node, e| matches!(e, Event::JoinReadySent { .. }) && by(node))
        }
        Condition::Joined(l) => {
            let by = by(l);
            Box::new(move |node, e| matches!(e, Event::Joined { .. }) && by(node))
        }
        Condition::Rejected(l) => {
            let by = by(l);
            Box::new(move |node, e| matches!(e, Event::Halted { .. }) && by(node))
        }
        Condition::Validated(l) => {
            let name = world.name_of(l);
            Box::new(move |_, e| matches!(e, Event::Validated { node, .. } if *node == name))
        }
        Condition::ValidationRevoked(l) => {
            let name = world.name_of(l);
            Box::new(
                move |_, e| matches!(e, Event::ValidationRevoked { node, .. } if *node == name),
            )
        }
        Condition::CmgLeaderElected(who) => {
            let who = who.clone();
            Box::new(move |node, e| {
                matches!(
                    e,
                    Event::RoleChanged {
                        group: joinsim::GroupKind::Cmg,
                        role: joinsim::Role::Leader,
                        ..
                    }
                ) && who.as_ref().is_none_or(|w| w == node)
            })
        }
        Condition::ClusterInitialized => {
            Box::new(|_, e| matches!(e, Event::ClusterInitApplied { .. }))
        }
        Condition::GroupStarted { node: l, group } => {
            let (by, group) = (by(l), *group);
            Box::new(move |node, e| {
                matches!(e, Event::GroupStarted { group: g, .. } if *g == group) && by(node)
            })
        }
        Condition::CancelReceived(l) => {
            let by = by(l);
            Box::new(move |node, e| matches!(e, Event::CancelReceived { .. }) && by(node))
        }
        Condition::JoinReadyRefused(l) => {
            let by = by(l);
            Box::new(move |node, e| matches!(e, Event::JoinReadyRefused { .. }) && by(node))
        }
        Condition::JoinAttemptStale(l) => {
            let by = by(l);
            Box::new(move |node, e| matches!(e, Event::JoinAttemptStale { .. }) && by(node))
        }
        Condition::ClusterStateReceived(l) => {
            let by = by(l);
            Box::new(move |node, e| matches!(e, Event::ClusterStateReceived { .. }) && by(node))
        }
        Condition::MsVersionApplied { version, node: who } => {
            let (version, who) = (*version, who.clone());
            Box::new(move |node, e| {
                matches!(e, Event::MsConfigApplied { version: v, .. } if *v >= version)
                    && who.as_ref().is_none_or(|w| w == node)
            })
        }
        Condition::LtVersionReached { version, node: who } => {
            let (version, who) = (*version, who.clone());
            Box::new(move |node, e| {
                matches!(e, Event::LtChanged { version: v, .. } if *v >= version)
                    && who.as_ref().is_none_or(|w| w == node)
            })
        }
        Condition::NodeDeclaredDead(l) => {
            let name = world.name_of(l);
            Box::new(move |_, e| {
                matches!(
                    e,
                    Event::MemberRemoved { member, cause: joinsim::RemovalCause::Dead, .. }
                        if *member == name
                )
            })
        }
    })
}

/// Whether the node labelled `node` led the CMG when trace entry `index` was logged: its last
/// CMG role change before it made it leader, with no restart, kill or destroyed CMG replica
/// since. Reads back from `index` to that node's last such entry.
fn led_cmg_at(trace: &[TraceEntry], index: usize, node: &str) -> bool {
    for entry in trace[..index.min(trace.len())].iter().rev() {
        if entry.node != node {
            continue;
        }
        match &entry.kind {
            TraceKind::Protocol(Event::RoleChanged {
                group: joinsim::GroupKind::Cmg,
                role,
                ..
            }) => return *role == joinsim::Role::Leader,
            TraceKind::Protocol(
                Event::Started { .. }
                | Event::Halted { .. }
                | Event::GroupDestroyed {
                    group: joinsim::GroupKind::Cmg,
                    ..
                },
            )
            | TraceKind::Harness(HarnessEvent::NodeKilled) => return false,
            _ => {}
        }
    }
    false
}

/// The index of the first trace entry at or after `from` that is an occurrence of `condition`
/// (for a condition that is one event: [`event_test`]).
fn first_event(
    world: &World,
    condition: &Condition,
    test: &dyn Fn(&str, &Event) -> bool,
    from: usize,
) -> Option<usize> {
    world.with_trace(|trace| {
        let start = from.min(trace.len());
        trace[start..]
            .iter()
            .enumerate()
            .find(|(offset, entry)| {
                let TraceKind::Protocol(event) = &entry.kind else {
                    return false;
                };
                test(&entry.node, event)
                    && (!matches!(condition, Condition::NodeDeclaredDead(_))
                        || led_cmg_at(trace, start + offset, &entry.node))
            })
            .map(|(offset, _)| start + offset)
    })
}

/// Whether a step's condition has happened since the previous step ran (`from`: the trace's
/// length then). Reads the trace from `from` and the views, never waits: cheap enough to ask
/// after every event. Two conditions are states rather than events: an answer (the user got it,
/// whenever) and `left_lt` (a CMG leader's LT does not hold the node now, and a CMG replica's LT
/// held it once: read back from the end of the trace to the last LT that held it).
fn condition_met(
    world: &World,
    condition: &Condition,
    from: usize,
    answers: &Arc<Mutex<BTreeMap<String, Answer>>>,
) -> bool {
    match condition {
        Condition::InitAnswered(id) | Condition::AdminAnswered(id) => {
            answers.lock().expect("answers").contains_key(id)
        }
        Condition::LeftLt(label) => {
            let name = world.name_of(label);
            world
                .views()
                .values()
                .filter(|v| v.is_cmg_leader())
                .filter_map(|v| v.lt())
                .any(|lt| !lt.members.contains_key(&name))
                && was_in_an_lt(world, &name)
        }
        _ => match event_test(world, condition) {
            Some(test) => first_event(world, condition, &*test, from).is_some(),
            None => false,
        },
    }
}

/// Whether some CMG replica's LT ever held a node of this name (an `LtChanged` that lists it).
fn was_in_an_lt(world: &World, name: &str) -> bool {
    world.with_trace(|trace| {
        trace.iter().rev().any(|entry| {
            matches!(&entry.kind, TraceKind::Protocol(Event::LtChanged { members, .. })
                if members.iter().any(|(n, _)| n == name))
        })
    })
}

/// Where in the trace `condition` first happened since the start of the run (an
/// `[[expect.order]]`'s sides): the index of its first event; for an answer, the trace's length
/// when the user got it; for `left_lt`, the first `LtChanged` of a CMG replica whose previous
/// LT held the node and whose new one does not.
fn first_position(
    world: &World,
    condition: &Condition,
    answers: &BTreeMap<String, Answer>,
) -> Option<usize> {
    match condition {
        Condition::InitAnswered(id) | Condition::AdminAnswered(id) => {
            answers.get(id).map(Answer::position)
        }
        Condition::LeftLt(label) => {
            let name = world.name_of(label);
            world.with_trace(|trace| {
                let mut held: BTreeSet<&str> = BTreeSet::new();
                trace.iter().position(|entry| {
                    let TraceKind::Protocol(Event::LtChanged { members, .. }) = &entry.kind else {
                        return false;
                    };
                    let holds = members.iter().any(|(n, _)| *n == name);
                    let left = !holds && held.contains(entry.node.as_str());
                    if holds {
                        held.insert(&entry.node);
                    } else {
                        held.remove(entry.node.as_str());
                    }
                    left
                })
            })
        }
        _ => {
            let test = event_test(world, condition)?;
            first_event(world, condition, &*test, 0)
        }
    }
}

/// The LT-hygiene bound of docs/protocol.md ("LT hygiene"), counted from the moment faults stop:
/// `E + 2 × failure_timeout_ms + 2 × tick_ms + C`, with E two election rounds
/// (`2 × 2 × election_ticks × tick_ms`: the leader may be elected only after the heal) and C the
/// leader's retry of the removal (`cluster_state_retry_ms`) plus one commit round (`tick_ms ×
/// heartbeat_ticks`). With the default timing, about 10 s.
pub fn lt_hygiene_bound_ms(timing: &joinsim::Timing) -> u64 {
    let election_round_ms = 2 * timing.election_ticks as u64 * timing.tick_ms;
    2 * election_round_ms
        + 2 * timing.failure_timeout_ms
        + 2 * timing.tick_ms
        + timing.cluster_state_retry_ms
        + timing.heartbeat_ticks as u64 * timing.tick_ms
}

/// Every (member, launch) that is down (not running, or halted) but still in the LT of a node
/// whose CMG replica leads.
fn lt_hygiene_problems(nodes: &BTreeMap<String, LiveNode>) -> Vec<String> {
    let live: BTreeSet<(&str, joinsim::LaunchId)> = nodes
        .values()
        .filter(|v| v.halted.is_none())
        .map(|v| (v.name.as_str(), v.launch))
        .collect();
    let mut problems = Vec::new();
    for (leader, node) in nodes.iter().filter(|(_, v)| v.cmg_leader) {
        let Some(lt) = node.lt() else { continue };
        for (name, member) in &lt.members {
            if !live.contains(&(name.as_str(), member.launch)) {
                problems.push(format!(
                    "{name} (launch {:?}) is down but still in the LT of CMG leader {leader}",
                    member.launch
                ));
            }
        }
    }
    problems
}

/// What keeps the liveness property from holding now, judged on `views` (what every running
/// node says of itself at this moment, [`live_nodes`]).
fn liveness_problems(
    world: &World,
    views: &BTreeMap<String, LiveNode>,
    inits: &mut InitLedger,
    sent: &BTreeSet<String>,
    answers: &Arc<Mutex<BTreeMap<String, Answer>>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let waiting = sent.len() - answers.lock().expect("answers").len();
    if waiting > 0 {
        problems.push(format!(
            "{waiting} user command(s) still wait for an answer"
        ));
    }
    inits.advance(world);
    problems.extend(inits.unanswered_inits(world));
    problems.extend(inits.state_left_by_cancelled_inits(world));
    // A node started a moment ago has no state machine until its task first runs: it is not
    // joined yet, and the phase must wait for it rather than pass without judging it.
    for label in world.labels() {
        if world.is_running(&label) && !views.contains_key(&label) {
            problems.push(format!("{label} was started and has not run yet"));
        }
    }
    // A committed cluster counts when a majority of its CMG nodes runs (halted or not): an old
    // cluster's lone replica (a node restored from a cluster that is gone) does not, nor does a
    // cluster whose CMG majority was killed and, as the liveness phase restarts nothing, stays
    // dead.
    let running: BTreeSet<&str> = views.values().map(|v| v.name.as_str()).collect();
    let committed = views
        .values()
        .filter_map(|v| v.cmg_state.as_ref().and_then(|s| s.cluster.as_ref()))
        .any(|cluster| {
            let up = cluster
                .config
                .cmg_nodes
                .iter()
                .filter(|n| running.contains(n.as_str()))
                .count();
            up > cluster.config.cmg_nodes.len() / 2
        });
    let lts: Vec<&joinsim::LogicalTopology> = views
        .values()
        .filter(|v| v.cmg_leader)
        .filter_map(|v| v.lt())
        .collect();
    if committed && lts.is_empty() {
        problems.push("a cluster was initialized but no CMG leader is elected".into());
    }
    // LT hygiene (docs/spec.md §5): a member that is down leaves the LT within a bound that the
    // liveness timeout exceeds (docs/protocol.md, "LT hygiene"), whoever leads.
    problems.extend(lt_hygiene_problems(views));
    for (label, view) in views {
        if let Some(rejection) = &view.halted {
            if !rejection.reason.is_consistent() {
                problems.push(format!("{label} was falsely rejected: {rejection}"));
            }
            continue;
        }
        if !committed {
            continue;
        }
        // A node outside the physical topology whose every seed has stopped for good (refused,
        // e.g. the loser of a duplicate name) has nobody to ask: as in Ignite, it needs a seed
        // that runs. Not a protocol failure (fuzz seed 14000134).
        let seeds = world.seeds_of(label);
        let no_live_seed = !seeds.is_empty()
            && seeds
                .iter()
                .all(|s| views.get(s).is_none_or(|v| v.halted.is_some()));
        if !view.in_topology && no_live_seed {
            continue;
        }
        // Likewise an empty node alone in a topology of its own (it and its own launch only),
        // whose seeds (if any) have all stopped, that no running node names as a seed, and that
        // some node naming it as a seed refused (it halted): nobody will ever contact it (fuzz
        // seed 21007575: a seedless node refused the only node that named it, for its version).
        // Kept narrow on purpose: a member, a replica holder or a node nobody ever sought is
        // still judged, so a protocol that evicts or loses a node is not excused.
        let alone = view.in_topology && view.alone();
        let empty = view.local.is_none() && !view.hosts_cmg() && !view.hosts_ms;
        let own_seeds_stopped = seeds
            .iter()
            .all(|s| views.get(s).is_none_or(|v| v.halted.is_some()));
        // The seekers are looked for only when the cheap conditions hold: this loop runs for
        // every node at every poll of the liveness phase.
        if alone && empty && own_seeds_stopped {
            let seekers: Vec<String> = world
                .labels()
                .into_iter()
                .filter(|other| other != label && world.seeds_of(other).contains(label))
                .collect();
            let sought = seekers
                .iter()
                .any(|other| views.get(other).is_some_and(|v| v.halted.is_none()));
            let refused_a_seeker = seekers
                .iter()
                .any(|other| views.get(other).is_some_and(|v| v.halted.is_some()));
            if !sought && refused_a_seeker {
                continue;
            }
        }
        // A CMG voter of an answered cluster waits for that cluster for good (docs/protocol.md,
        // "a voter of an answered cluster is held by it"): when a majority of its CMG does not
        // run (the liveness phase restarts nothing), it has nothing to join.
        let waits_for_its_cluster = view.local.as_ref().is_some_and(|local| {
            view.cmg_state.as_ref().is_some_and(|state| {
                state.init_fate == Some(joinsim::InitFate::Answered)
                    && state.cluster.as_ref().is_some_and(|c| {
                        c.config.tag == local.config.tag
                            && c.config
                                .cmg_nodes
                                .iter()
                                .filter(|n| running.contains(n.as_str()))
                                .count()
                                <= c.config.cmg_nodes.len() / 2
                    })
            })
        });
        if waits_for_its_cluster {
            continue;
        }
        if !view.is_joined() {
            problems.push(format!("{label} is not in the LT ({:?})", view.join));
        } else if !lts.iter().any(|lt| lt.contains(&view.name, view.launch)) {
            problems.push(format!(
                "{label} believes it joined, but no CMG leader has it in the LT"
            ));
        }
    }
    problems
}

/// A node's outcome at the end, spelled as `[expect] nodes` spells it ([`NodeOutcome`]); a
/// waiting node's join phase follows in parentheses.
pub(crate) fn describe(view: Option<&NodeView>) -> String {
    let Some(view) = view else {
        return NodeOutcome::Down.to_string();
    };
    if let Some(r) = &view.halted {
        return NodeOutcome::Rejected {
            stage: Some(r.stage),
            reason: Some(r.reason.kind().to_string()),
        }
        .to_string();
    }
    match &view.join {
        JoinPhase::Joined { .. } => NodeOutcome::Joined.to_string(),
        other => format!("{} ({other:?})", NodeOutcome::Waiting),
    }
}

fn leader_lts(views: &BTreeMap<String, NodeView>) -> Vec<(String, u64, Vec<String>)> {
    views
        .iter()
        .filter(|(_, v)| v.is_cmg_leader())
        .filter_map(|(l, v)| {
            v.lt()
                .map(|lt| (l.clone(), lt.version, lt.members.keys().cloned().collect()))
        })
        .collect()
}

/// The nodes whose outcome is not the one `[expect] nodes` names, one line each.
fn node_outcome_failures(views: &BTreeMap<String, NodeView>, scenario: &Scenario) -> Vec<String> {
    let mut failures = Vec::new();
    for (label, expected) in &scenario.expect.nodes {
        let view = views.get(label);
        let ok = match expected {
            NodeOutcome::Any => true,
            NodeOutcome::Joined => view.is_some_and(|v| v.is_joined() && v.halted.is_none()),
            NodeOutcome::Waiting => view.is_some_and(|v| !v.is_joined() && v.halted.is_none()),
            NodeOutcome::Down => view.is_none(),
            NodeOutcome::Rejected { stage, reason } => {
                view.and_then(|v| v.halted.as_ref()).is_some_and(|r| {
                    stage.is_none_or(|s| s == r.stage)
                        && reason.as_deref().is_none_or(|k| k == r.reason.kind())
                })
            }
        };
        if !ok {
            failures.push(format!(
                "{label}: expected {expected}, got {}",
                describe(view)
            ));
        }
    }
    failures
}

fn expectation_failures(
    world: &World,
    scenario: &Scenario,
    answers: &Arc<Mutex<BTreeMap<String, Answer>>>,
    skipped: &BTreeMap<String, String>,
) -> Vec<String> {
    let views = world.views();
    let expect = &scenario.expect;
    let mut failures = node_outcome_failures(&views, scenario);
    let names = |labels: &[String]| -> Vec<String> {
        let mut names: Vec<String> = labels.iter().map(|l| world.name_of(l)).collect();
        names.sort();
        names
    };
    let lts = leader_lts(&views);
    if expect.lt.is_some() || expect.lt_version.is_some() {
        let want = expect.lt.as_deref().map(names);
        let held = lts.iter().any(|(_, version, members)| {
            want.as_ref().is_none_or(|w| w == members)
                && expect.lt_version.is_none_or(|v| v == *version)
        });
        if !held {
            let mut what = Vec::new();
            if let Some(w) = &want {
                what.push(format!("the LT {w:?}"));
            }
            if let Some(v) = expect.lt_version {
                what.push(format!("LT version {v}"));
            }
            failures.push(format!(
                "expected {}, CMG leaders hold (leader, version, members) {lts:?}",
                what.join(" at ")
            ));
        }
    }
    if let Some(expected) = &expect.lts {
        let mut want: Vec<Vec<String>> = expected.iter().map(|l| names(l)).collect();
        want.sort();
        let mut held: Vec<Vec<String>> = cluster_lts(&views).into_values().collect();
        held.sort();
        if held != want {
            failures.push(format!(
                "expected one LT per cluster {want:?}, the clusters' CMG leaders hold {held:?}"
            ));
        }
    }
    if expect.cmg_lts_agree {
        failures.extend(lt_disagreements(&views));
    }
    if expect.ms_voters.is_some() || expect.ms_learners.is_some() || expect.ms_version.is_some() {
        let voters = expect.ms_voters.as_deref().map(names);
        let learners = expect.ms_learners.as_deref().map(names);
        let leaders: Vec<(String, u64, Vec<String>, Vec<String>)> = views
            .iter()
            .filter(|(_, v)| {
                v.ms.as_ref()
                    .is_some_and(|g| g.role == joinsim::Role::Leader)
            })
            .filter_map(|(l, v)| {
                v.ms_state.as_ref().map(|m| {
                    let mut nodes = m.nodes.clone();
                    nodes.sort();
                    (
                        l.clone(),
                        m.version,
                        nodes,
                        m.learners.iter().cloned().collect(),
                    )
                })
            })
            .collect();
        let held = leaders.iter().any(|(_, version, nodes, learning)| {
            voters.as_ref().is_none_or(|w| w == nodes)
                && learners.as_ref().is_none_or(|w| w == learning)
                && expect.ms_version.is_none_or(|w| w == *version)
        });
        if !held {
            failures.push(format!(
                "expected a Meta Storage leader with{}{}{}; Meta Storage leaders hold (leader, version, voters, learners) {leaders:?}",
                voters.map(|v| format!(" voters {v:?}")).unwrap_or_default(),
                learners.map(|v| format!(" learners {v:?}")).unwrap_or_default(),
                expect.ms_version.map(|v| format!(" version {v}")).unwrap_or_default(),
            ));
        }
    }
    let answers = answers.lock().expect("answers");
    for order in &expect.order {
        let first = first_position(world, &order.first, &answers);
        let then = first_position(world, &order.then, &answers);
        let problem = match (first, then) {
            (_, None) => Some("the second never happened".to_string()),
            (None, Some(_)) => Some("the second happened, the first never did".to_string()),
            (Some(a), Some(b)) if b <= a => Some(format!(
                "the second happened first (trace entry {b}, the first at {a})"
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "order at line {}: expected {:?} before {:?}: {problem}",
                order.line, order.first, order.then
            ));
        }
    }
    for step in &scenario.steps {
        let Some((id, expect)) = expected_answer(&step.action) else {
            continue;
        };
        let problem = match skipped.get(id) {
            Some(why) if *expect != AnswerExpectation::Any => Some(format!(
                "{id}: expected {expect:?}, the step did nothing ({why})"
            )),
            Some(_) => None,
            None => answer_mismatch(id, expect, answers.get(id), &answers),
        };
        if let Some(problem) = problem {
            failures.push(format!("step at line {}: {problem}", step.line));
        }
    }
    failures
}

/// The LT of each cluster (by tag) that has a CMG leader: its leader's of the highest term
/// (sorted names).
fn cluster_lts(views: &BTreeMap<String, NodeView>) -> BTreeMap<joinsim::ClusterTag, Vec<String>> {
    let mut best: BTreeMap<joinsim::ClusterTag, (u64, Vec<String>)> = BTreeMap::new();
    for view in views.values().filter(|v| v.is_cmg_leader()) {
        let (Some(state), Some(group)) = (&view.cmg_state, &view.cmg) else {
            continue;
        };
        let Some(cluster) = &state.cluster else {
            continue;
        };
        let members: Vec<String> = state.lt.members.keys().cloned().collect();
        let tag = cluster.config.tag.clone();
        if best.get(&tag).is_none_or(|(term, _)| group.term > *term) {
            best.insert(tag, (group.term, members));
        }
    }
    best.into_iter().map(|(tag, (_, lt))| (tag, lt)).collect()
}

/// Every running CMG replica (of a node that has not halted) whose LT differs from another
/// replica's of the same cluster: version and members with their launches (Ignite's
/// LT-version test asserts that every CMG node's topology agrees at the end).
fn lt_disagreements(views: &BTreeMap<String, NodeView>) -> Vec<String> {
    type Held = (u64, Vec<(String, joinsim::LaunchId)>);
    let mut by_cluster: BTreeMap<joinsim::ClusterTag, BTreeMap<Held, Vec<String>>> =
        BTreeMap::new();
    for (label, view) in views.iter().filter(|(_, v)| v.halted.is_none()) {
        let Some(state) = &view.cmg_state else {
            continue;
        };
        let Some(cluster) = &state.cluster else {
            continue;
        };
        by_cluster
            .entry(cluster.config.tag.clone())
            .or_default()
            .entry((state.lt.version, state.lt.pairs()))
            .or_default()
            .push(label.clone());
    }
    by_cluster
        .into_iter()
        .filter(|(_, held)| held.len() > 1)
        .map(|(tag, held)| {
            let each: Vec<String> = held
                .iter()
                .map(|((version, members), replicas)| {
                    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
                    format!("{replicas:?} hold version {version} {names:?}")
                })
                .collect();
            format!(
                "the CMG replicas of cluster {} disagree on the LT: {}",
                tag.name,
                each.join("; ")
            )
        })
        .collect()
}

/// The id and the expected answer of a step that sends a user command; none for other steps.
fn expected_answer(action: &Action) -> Option<(&String, &AnswerExpectation)> {
    match action {
        Action::Init { id, expect, .. } | Action::ReconfigureMs { id, expect, .. } => {
            Some((id, expect))
        }
        Action::Start(_)
        | Action::Kill(_)
        | Action::Restart(_)
        | Action::Wipe(_)
        | Action::Partition(_)
        | Action::PartitionOneway { .. }
        | Action::Heal
        | Action::Network { .. }
        | Action::Link { .. }
        | Action::LinksDefault
        | Action::Hold { .. }
        | Action::Drop { .. }
        | Action::Duplicate { .. }
        | Action::Delay { .. }
        | Action::Release(_)
        | Action::Clock { .. }
        | Action::Pause { .. }
        | Action::StorageFault { .. }
        | Action::Leave(_)
        | Action::Move(_)
        | Action::Wait => None,
    }
}

fn answer_mismatch(
    id: &str,
    expect: &AnswerExpectation,
    answer: Option<&Answer>,
    all: &BTreeMap<String, Answer>,
) -> Option<String> {
    if *expect == AnswerExpectation::Any {
        return None;
    }
    let Some(answer) = answer else {
        return Some(format!(
            "{id}: expected {expect:?}, the user is still waiting"
        ));
    };
    let (ok, no_answer, kind) = match answer {
        Answer::Init(a, _, _) => (
            a.is_ok(),
            matches!(a, Err(UserError::NoAnswer)),
            match a {
                Err(UserError::Refused(e)) => Some(e.kind()),
                _ => None,
            },
        ),
        Answer::Admin(a, _) => (
            a.is_ok(),
            matches!(a, Err(UserError::NoAnswer)),
            match a {
                Err(UserError::Refused(e)) => Some(e.kind()),
                _ => None,
            },
        ),
    };
    let good = match expect {
        AnswerExpectation::Any => true,
        AnswerExpectation::Ok => ok,
        AnswerExpectation::NoAnswer => no_answer,
        AnswerExpectation::AnyError => kind.is_some(),
        AnswerExpectation::Error(k) => kind == Some(k.as_str()),
        AnswerExpectation::SameTagAs(other) => match (answer, all.get(other)) {
            (Answer::Init(Ok(a), _, _), Some(Answer::Init(Ok(b), _, _))) => a == b,
            _ => false,
        },
        AnswerExpectation::OtherTagThan(other) => match (answer, all.get(other)) {
            (Answer::Init(Ok(a), _, _), Some(Answer::Init(Ok(b), _, _))) => a != b,
            _ => false,
        },
    };
    (!good).then(|| format!("{id}: expected {expect:?}, got {answer:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outcomes a run reports are spelled as `[expect] nodes` spells them: where a file
    /// expects a fully named outcome and the run passes, the report says the same words.
    #[test]
    fn reported_outcomes_are_spelled_as_expected_outcomes() {
        for file in [
            "join-4c-version-ahead.toml",
            "duplicate-name-after-original-died-joins.toml",
        ] {
            let path = format!("{}/../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
            let scenario = crate::scenario::load_scenario(std::path::Path::new(&path))
                .unwrap_or_else(|e| panic!("{e}"));
            let result = run_scenario(&scenario, 0, false);
            assert!(result.passed, "{file}: {:?}", result.failures);
            for (label, expected) in &scenario.expect.nodes {
                assert_eq!(result.nodes[label], expected.to_string(), "{file}: {label}");
            }
        }
    }
}
