//! The run as a Chrome Trace Event file, for long runs: Perfetto (ui.perfetto.dev) and
//! `chrome://tracing` open it, zoom from the whole run to one microsecond, and search it
//! (`--chrome-trace run.json`; docs/debugging.md, "Diagrams: Mermaid and Perfetto").
//!
//! **Format**: the JSON object format of the Trace Event Format (`{"traceEvents": [...],
//! "displayTimeUnit": "ms", "otherData": {...}}`), timestamps `ts` and durations `dur` in
//! simulated microseconds. One process (`pid` 1) is the run; each lane of the run
//! ([`RunRecord::lanes`]: the nodes in label order, then the `user` and any other name) is one
//! thread, `tid` 1, 2, ... in lane order, named by its label (`M` events `process_name`,
//! `thread_name`, `thread_sort_index`). `otherData` holds the scenario, file, seed, trace hash,
//! simulated time, verdict and each node's final outcome.
//!
//! **Phases** (`X` slices, category `phase`) follow the node's join (the core's
//! `joinsim::JoinPhase`), derived from its protocol events:
//! - `handshake`: from `Started` until `EnteredTopology`;
//! - `waiting for init` (an empty node) or `waiting for the leader` (a node with a tag): in the
//!   physical topology, waiting for a CMG leader's cluster state (`JoinPhase::Waiting`); a
//!   `VaultCleared` (a cancelled init) starts it again;
//! - `joining`: from the first `JoinRequestSent` (or `JoinAccepted`, `JoinReadySent`) until
//!   `Joined`, holding the steps `requesting` (join request sent, until `JoinAccepted`),
//!   `recovering` (Meta Storage catching up, until `RecoveryFinished`) and `ready sent` (join
//!   ready sent, until `Joined` or `JoinReadyRefused`);
//! - `in LT`: from `Joined` until the node sends a join request again, stops or the run ends.
//!
//! A phase ends when the next begins, when the node is killed, fails to start or halts
//! (`Halted`), and at the end of the run (the simulated time at the end, or just after the last
//! entry when that is later). A phase that lasts no time is left out.
//!
//! **Messages**: every message entry (every kind, Raft traffic and probes included) is part of a
//! 1 µs `X` slice (category `message`) on its lane at its time, one slice per lane and
//! microsecond, its `args.messages` listing each entry (id, kind, from, to, fate, and `lost` for
//! a send that nothing followed). Each delivered message (`delivered`, or `released` after a
//! hold) is a flow arrow from its send to its delivery: an `s` event at the sender and an `f`
//! event (`bp: "e"`) at the receiver, both with the message id as `id` and its kind as `name`,
//! each inside its message slice so that the viewers bind it. Lost, dropped and still-held
//! messages have no arrow: their slices say what became of them.
//!
//! **Instants** (`i`): every protocol event of a node on its thread (category `milestone` for
//! in topology, validated (by the CMG leader), join ready sent, joined, rejected, leader elected,
//! init answered; `event` for the rest; `ReplicaState` digests are left out), its fields as
//! `args`; the harness's actions on a node (killed, started, restarted, vault wiped, start failed;
//! the user's requests and answers on the `user` thread) on its thread, category `fault` or
//! `user`; the world's faults (partition, heal, network change, message rules) process-wide
//! (`s: "p"`); each checker verdict global (`s: "g"`, category `violation`), the first named
//! `first violation: <invariant>`.
//!
//! Events are written sorted by time; at one time slices come before the flows and instants
//! they hold, longer slices before the shorter ones they enclose. The file grows with the trace:
//! about 200 bytes per trace entry (2 MB for a run of 10,000 entries), which the viewers open
//! in seconds.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use joinsim::{Event, GroupKind, Role};
use serde_json::{json, Value};

use crate::record::RunRecord;
use crate::trace::{HarnessEvent, MessageFate, MessageRecord, TraceKind};

/// Added to a message id for the flow of its second copy (a message a `duplicate` rule sent
/// twice): far above any run's message ids, and below 2^53 so that JSON readers keep it exact.
const SECOND_COPY_FLOW: u64 = 1 << 52;

/// The flow id of copy `copy` (0 or 1) of message `id`.
fn flow_id(id: u64, copy: usize) -> u64 {
    if copy == 0 {
        id
    } else {
        id + SECOND_COPY_FLOW
    }
}

/// The Chrome Trace Event JSON of `record` (see the module's documentation). Never fails: every
/// record draws.
pub fn chrome_trace(record: &RunRecord) -> String {
    let lanes = record.lanes();
    let tids: BTreeMap<&str, u64> = lanes
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i as u64 + 1))
        .collect();
    let last_us = record.entries.iter().map(|e| e.time_us + 1).max();
    let end_us = (record.sim_time_ms * 1000).max(last_us.unwrap_or(0));
    let mut out = Events::default();
    let mut phases: BTreeMap<u64, Phases> = tids.values().map(|&t| (t, Phases::new(t))).collect();
    // Message entries by (lane, time); the ids of messages something happened to after their
    // send, and of those delivered.
    let mut slices: BTreeMap<(u64, u64), Vec<(&MessageRecord, bool)>> = BTreeMap::new();
    let mut followed: BTreeSet<u64> = BTreeSet::new();
    // Deliveries by id: two for a message a `duplicate` rule sent twice and both copies arrived.
    let mut delivered: BTreeMap<u64, usize> = BTreeMap::new();
    for entry in &record.entries {
        if let TraceKind::Message(m) = &entry.kind {
            if m.fate != MessageFate::Sent {
                followed.insert(m.id);
            }
            if m.fate.is_delivery() {
                *delivered.entry(m.id).or_default() += 1;
            }
        }
    }
    // Each delivered copy is its own flow, from the send to its delivery: the second copy's flow
    // id is the message id plus [`SECOND_COPY_FLOW`].
    let mut deliveries_seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut first_violation = true;
    for entry in &record.entries {
        let tid = tids.get(entry.node.as_str()).copied();
        let ts = entry.time_us;
        match (&entry.kind, tid) {
            (TraceKind::Message(m), Some(tid)) => {
                let lost = m.fate == MessageFate::Sent && !followed.contains(&m.id);
                slices.entry((tid, ts)).or_default().push((m, lost));
                let copies = delivered.get(&m.id).copied().unwrap_or(0);
                if m.fate == MessageFate::Sent {
                    for copy in 0..copies.min(2) {
                        out.flow("s", m.kind.name(), flow_id(m.id, copy), tid, ts);
                    }
                } else if m.fate.is_delivery() {
                    let seen = deliveries_seen.entry(m.id).or_default();
                    if *seen < 2 {
                        out.flow("f", m.kind.name(), flow_id(m.id, *seen), tid, ts);
                    }
                    *seen += 1;
                }
            }
            (TraceKind::Protocol(event), Some(tid)) => {
                let lane = phases.get_mut(&tid).expect("every lane has phases");
                let milestone = lane.step(event, ts, &mut out);
                if let Event::ReplicaState { .. } = event {
                    continue;
                }
                let (variant, fields) = variant(event);
                let (name, cat) = match milestone {
                    Some(name) => (name, "milestone"),
                    None => (variant.clone(), "event"),
                };
                out.instant(&name, cat, Some(tid), "t", ts, args(variant, fields));
            }
            (TraceKind::Harness(h), tid) => {
                let (variant, fields) = variant(h);
                let args = args(variant.clone(), fields);
                match tid {
                    Some(tid) => {
                        let lane = phases.get_mut(&tid).expect("every lane has phases");
                        let name = lane.harness(h, ts, &mut out);
                        let cat = match h {
                            HarnessEvent::UserRequest { .. } | HarnessEvent::UserAnswer { .. } => {
                                "user"
                            }
                            _ => "fault",
                        };
                        out.instant(&name.unwrap_or(variant), cat, Some(tid), "t", ts, args);
                    }
                    None => {
                        let name = world_fault(h).unwrap_or(variant);
                        out.instant(&name, "fault", None, "p", ts, args);
                    }
                }
            }
            (TraceKind::Verdict(v), _) => {
                let prefix = if first_violation {
                    "first violation"
                } else {
                    "violation"
                };
                first_violation = false;
                let name = format!("{prefix}: {}", v.invariant);
                let args =
                    json!({ "invariant": v.invariant, "nodes": v.nodes, "detail": v.detail });
                out.instant(&name, "violation", None, "g", ts, args);
            }
            (TraceKind::Message(_) | TraceKind::Protocol(_), None) => {}
        }
    }
    for lane in phases.values_mut() {
        lane.close(end_us, &mut out);
    }
    for ((tid, ts), entries) in slices {
        let name = match entries.as_slice() {
            [(m, lost)] if *lost => format!("{} lost", m.kind.name()),
            [(m, _)] => format!("{} {}", m.kind.name(), m.fate.name()),
            many => format!("{} messages", many.len()),
        };
        let listed: Vec<Value> = entries
            .iter()
            .map(|(m, lost)| {
                let mut v = json!({
                    "id": m.id,
                    "kind": m.kind.name(),
                    "from": m.from,
                    "to": m.to,
                    "fate": m.fate.name(),
                });
                if *lost {
                    v["lost"] = Value::Bool(true);
                }
                v
            })
            .collect();
        out.slice(&name, "message", tid, ts, 1, json!({ "messages": listed }));
    }
    let mut events: Vec<Value> = vec![json!({
        "ph": "M", "name": "process_name", "pid": PID,
        "args": { "name": format!("joinsim {} seed {}", record.scenario, record.seed) },
    })];
    for (lane, tid) in lanes.iter().map(|l| (l, tids[l.as_str()])) {
        events.push(json!({
            "ph": "M", "name": "thread_name", "pid": PID, "tid": tid,
            "args": { "name": lane },
        }));
        events.push(json!({
            "ph": "M", "name": "thread_sort_index", "pid": PID, "tid": tid,
            "args": { "sort_index": tid },
        }));
    }
    out.events.sort_by_key(|(key, _)| *key);
    let other = json!({
        "scenario": record.scenario,
        "file": record.file,
        "seed": record.seed,
        "trace_hash": record.trace_hash,
        "sim_time_ms": record.sim_time_ms,
        "passed": record.passed,
        "outcomes": record.nodes,
    });
    // Each event is written as it is made (a long run holds its text, not a tree of values).
    let mut text = String::from("{\"traceEvents\":[");
    let written = events
        .iter()
        .map(write)
        .chain(out.events.into_iter().map(|(_, e)| e));
    for (i, event) in written.enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&event);
    }
    text.push_str("],\"displayTimeUnit\":\"ms\",\"otherData\":");
    text.push_str(&write(&other));
    text.push('}');
    text
}

/// A JSON value as text.
fn write(value: &Value) -> String {
    serde_json::to_string(value).expect("a JSON value always writes")
}

/// The one process of a trace: the run.
const PID: u64 = 1;

/// The order of events in the file: (time, rank: slices, then flows, then instants; the longer
/// slice first).
type SortKey = (u64, u8, Reverse<u64>);

/// The written events with their sort keys.
#[derive(Default)]
struct Events {
    /// Each event as JSON text.
    events: Vec<(SortKey, String)>,
}

impl Events {
    /// A complete slice (`X`) of `dur` µs.
    fn slice(&mut self, name: &str, cat: &str, tid: u64, ts: u64, dur: u64, args: Value) {
        let event = json!({
            "ph": "X", "name": name, "cat": cat, "pid": PID, "tid": tid,
            "ts": ts, "dur": dur, "args": args,
        });
        self.events.push(((ts, 0, Reverse(dur)), write(&event)));
    }

    /// One end of a message's flow arrow: `s` at the send, `f` at the delivery.
    fn flow(&mut self, ph: &str, name: &str, id: u64, tid: u64, ts: u64) {
        let mut event = json!({
            "ph": ph, "name": name, "cat": "message", "id": id, "pid": PID, "tid": tid, "ts": ts,
        });
        if ph == "f" {
            event["bp"] = json!("e");
        }
        self.events.push(((ts, 1, Reverse(0)), write(&event)));
    }

    /// An instant: scope `t` (on thread `tid`), `p` (the process) or `g` (global).
    fn instant(
        &mut self,
        name: &str,
        cat: &str,
        tid: Option<u64>,
        scope: &str,
        ts: u64,
        args: Value,
    ) {
        let mut event = json!({
            "ph": "i", "name": name, "cat": cat, "pid": PID, "s": scope, "ts": ts, "args": args,
        });
        if let Some(tid) = tid {
            event["tid"] = json!(tid);
        }
        self.events.push(((ts, 2, Reverse(0)), write(&event)));
    }
}

/// A phase of a node's join (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Handshake,
    WaitingForInit,
    WaitingForLeader,
    Joining,
    InLt,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Handshake => "handshake",
            Phase::WaitingForInit => "waiting for init",
            Phase::WaitingForLeader => "waiting for the leader",
            Phase::Joining => "joining",
            Phase::InLt => "in LT",
        }
    }
}

/// A step of the `joining` phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Requesting,
    Recovering,
    ReadySent,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Requesting => "requesting",
            Step::Recovering => "recovering",
            Step::ReadySent => "ready sent",
        }
    }
}

/// One lane's phase, step, and what the phases depend on.
struct Phases {
    tid: u64,
    phase: Option<(Phase, u64)>,
    step: Option<(Step, u64)>,
    /// The node holds a cluster tag (from its vault or a join accepted).
    initialized: bool,
    /// The node's CMG replica is the leader.
    cmg_leader: bool,
    /// The node was started before (a start is then a restart).
    started: bool,
}

impl Phases {
    fn new(tid: u64) -> Self {
        Phases {
            tid,
            phase: None,
            step: None,
            initialized: false,
            cmg_leader: false,
            started: false,
        }
    }

    /// Ends the step at `ts`.
    fn close_step(&mut self, ts: u64, out: &mut Events) {
        if let Some((step, since)) = self.step.take() {
            if ts > since {
                out.slice(step.name(), "phase", self.tid, since, ts - since, json!({}));
            }
        }
    }

    /// Ends the step and the phase at `ts`.
    fn close(&mut self, ts: u64, out: &mut Events) {
        self.close_step(ts, out);
        if let Some((phase, since)) = self.phase.take() {
            if ts > since {
                out.slice(
                    phase.name(),
                    "phase",
                    self.tid,
                    since,
                    ts - since,
                    json!({}),
                );
            }
        }
    }

    /// Enters `phase` at `ts` (nothing when already in it).
    fn enter(&mut self, phase: Phase, ts: u64, out: &mut Events) {
        if self.phase.map(|(p, _)| p) != Some(phase) {
            self.close(ts, out);
            self.phase = Some((phase, ts));
        }
    }

    /// Enters `step` of the joining phase at `ts`.
    fn enter_step(&mut self, step: Step, ts: u64, out: &mut Events) {
        self.enter(Phase::Joining, ts, out);
        if self.step.map(|(s, _)| s) != Some(step) {
            self.close_step(ts, out);
            self.step = Some((step, ts));
        }
    }

    /// The waiting phase for the node as it is.
    fn waiting(&self) -> Phase {
        if self.initialized {
            Phase::WaitingForLeader
        } else {
            Phase::WaitingForInit
        }
    }

    /// Follows a protocol event; returns its milestone name, if it is one.
    fn step(&mut self, event: &Event, ts: u64, out: &mut Events) -> Option<String> {
        match event {
            Event::Started { tag, .. } => {
                self.initialized = tag.is_some();
                self.cmg_leader = false;
                self.close(ts, out);
                self.enter(Phase::Handshake, ts, out);
                None
            }
            Event::EnteredTopology { .. } => {
                if matches!(self.phase, None | Some((Phase::Handshake, _))) {
                    let waiting = self.waiting();
                    self.enter(waiting, ts, out);
                }
                Some("in topology".into())
            }
            Event::JoinRequestSent { .. } => {
                self.enter_step(Step::Requesting, ts, out);
                None
            }
            Event::JoinAccepted { .. } => {
                self.initialized = true;
                self.enter_step(Step::Recovering, ts, out);
                None
            }
            Event::RecoveryFinished { .. } => {
                if matches!(self.step, Some((Step::Recovering, _))) {
                    self.close_step(ts, out);
                }
                None
            }
            Event::JoinReadySent { .. } => {
                self.enter_step(Step::ReadySent, ts, out);
                Some("join ready sent".into())
            }
            Event::JoinReadyRefused { .. } => {
                self.close_step(ts, out);
                None
            }
            Event::Joined { lt_version } => {
                self.enter(Phase::InLt, ts, out);
                Some(format!("joined, LT version {lt_version}"))
            }
            Event::VaultCleared { .. } => {
                self.initialized = false;
                if self.phase.is_some() {
                    self.enter(Phase::WaitingForInit, ts, out);
                }
                None
            }
            Event::Halted { .. } => {
                self.close(ts, out);
                Some("rejected".into())
            }
            Event::RoleChanged {
                group, role, term, ..
            } => {
                if *group == GroupKind::Cmg {
                    self.cmg_leader = *role == Role::Leader;
                }
                (*role == Role::Leader).then(|| format!("{group} leader, term {term}"))
            }
            Event::Validated { node, .. } if self.cmg_leader => Some(format!("validated {node}")),
            Event::InitAnswered { .. } => Some("init answered".into()),
            _ => None,
        }
    }

    /// Follows a harness action on the node; returns its name.
    fn harness(&mut self, h: &HarnessEvent, ts: u64, out: &mut Events) -> Option<String> {
        match h {
            HarnessEvent::NodeStarted => {
                let name = if self.started { "restarted" } else { "started" };
                self.started = true;
                Some(name.into())
            }
            HarnessEvent::NodeKilled => {
                self.close(ts, out);
                self.cmg_leader = false;
                Some("killed".into())
            }
            HarnessEvent::StartFailed { .. } => {
                self.close(ts, out);
                Some("start failed".into())
            }
            HarnessEvent::VaultWiped => Some("vault wiped".into()),
            _ => None,
        }
    }
}

/// The name of a fault of the world (no node's).
fn world_fault(h: &HarnessEvent) -> Option<String> {
    Some(match h {
        HarnessEvent::Partitioned { links } => format!("partition ({} links cut)", links.len()),
        HarnessEvent::Healed => "healed".into(),
        HarnessEvent::NetworkChanged { .. } => "network changed".into(),
        HarnessEvent::RuleAdded { description, .. } => format!("rule: {description}"),
        HarnessEvent::RuleRemoved { rule } => format!("rule {rule} ends"),
        _ => return None,
    })
}

/// An instant's `args`: `{"event": variant, ...fields}`.
fn args(variant: String, fields: Value) -> Value {
    let mut args = serde_json::Map::new();
    args.insert("event".into(), Value::String(variant));
    if let Value::Object(fields) = fields {
        args.extend(fields);
    }
    Value::Object(args)
}

/// An enum value's variant name and fields, as serde writes it (`{"Variant": {fields}}` or
/// `"Variant"`).
fn variant(value: &impl serde::Serialize) -> (String, Value) {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) if map.len() == 1 => {
            let (name, fields) = map.into_iter().next().expect("one entry");
            (name, fields)
        }
        Ok(Value::String(name)) => (name, Value::Null),
        Ok(other) => ("event".into(), other),
        Err(_) => ("event".into(), Value::Null),
    }
}

#[cfg(test)]
mod tests;
