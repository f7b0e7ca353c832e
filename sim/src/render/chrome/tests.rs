use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::*;
use crate::render::testing::{sample, shipped_run};

/// A trace file read back and checked against the Trace Event Format's rules that the viewers
/// rely on; panics on the first broken one.
struct Checked {
    /// Thread names by tid.
    threads: BTreeMap<u64, String>,
    /// Every event but the metadata, in file order.
    events: Vec<Value>,
}

impl Checked {
    /// The `X` slices of category `cat` on thread `tid`: (name, ts, dur), in file order.
    fn slices(&self, tid: u64, cat: &str) -> Vec<(String, u64, u64)> {
        self.events
            .iter()
            .filter(|e| e["ph"] == "X" && e["tid"] == tid && e["cat"] == cat)
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_string(),
                    e["ts"].as_u64().unwrap(),
                    e["dur"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// The instants of scope `scope` (and thread `tid` for `t`): (name, cat, ts), in file order.
    fn instants(&self, scope: &str, tid: Option<u64>) -> Vec<(String, String, u64)> {
        self.events
            .iter()
            .filter(|e| e["ph"] == "i" && e["s"] == scope)
            .filter(|e| tid.is_none_or(|t| e["tid"] == t))
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_string(),
                    e["cat"].as_str().unwrap().to_string(),
                    e["ts"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

/// Reads `json` back: valid JSON; one named thread per lane of `record`, in lane order; every
/// event of the run's process, times in order; slices of positive length, properly nested on
/// each thread; exactly one flow start and one flow finish per delivered message, at its sender
/// and receiver, each inside a slice; one global instant per verdict.
fn check(json: &str, record: &RunRecord) -> Checked {
    let doc: Value = serde_json::from_str(json).expect("valid JSON");
    assert_eq!(doc["displayTimeUnit"], "ms");
    assert_eq!(doc["otherData"]["seed"], record.seed);
    let all = doc["traceEvents"].as_array().expect("traceEvents");
    let (meta, events): (Vec<&Value>, Vec<&Value>) = all.iter().partition(|e| e["ph"] == "M");
    assert!(
        all.iter().take(meta.len()).all(|e| e["ph"] == "M"),
        "metadata first"
    );
    let mut threads = BTreeMap::new();
    for m in &meta {
        assert_eq!(m["pid"], PID);
        if m["name"] == "thread_name" {
            let tid = m["tid"].as_u64().unwrap();
            let name = m["args"]["name"].as_str().unwrap().to_string();
            assert!(
                threads.insert(tid, name).is_none(),
                "two names for thread {tid}"
            );
        }
    }
    assert_eq!(
        meta.iter().filter(|m| m["name"] == "process_name").count(),
        1
    );
    let lanes = record.lanes();
    assert_eq!(threads.values().cloned().collect::<Vec<_>>(), lanes);
    let tid_of = |lane: &str| {
        threads
            .iter()
            .find(|(_, n)| n.as_str() == lane)
            .map(|(t, _)| *t)
            .expect("a thread per lane")
    };
    let mut last_ts = 0;
    let mut stacks: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut slices: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    let mut flows: BTreeMap<u64, Vec<(String, u64, u64, String)>> = BTreeMap::new();
    let mut globals = Vec::new();
    for e in &events {
        assert_eq!(e["pid"], PID, "{e}");
        let ts = e["ts"].as_u64().unwrap_or_else(|| panic!("no ts: {e}"));
        assert!(ts >= last_ts, "out of order: {e}");
        last_ts = ts;
        let tid = e["tid"].as_u64();
        if let Some(tid) = tid {
            assert!(threads.contains_key(&tid), "unnamed thread: {e}");
        }
        assert!(e["name"].is_string() && e["cat"].is_string(), "{e}");
        match e["ph"].as_str().unwrap() {
            "X" => {
                let tid = tid.expect("a slice's thread");
                let dur = e["dur"].as_u64().expect("dur");
                assert!(dur > 0, "empty slice: {e}");
                assert!(e["args"].is_object(), "{e}");
                let stack = stacks.entry(tid).or_default();
                while stack.last().is_some_and(|&end| end <= ts) {
                    stack.pop();
                }
                if let Some(&end) = stack.last() {
                    assert!(ts + dur <= end, "slice overlaps its parent: {e}");
                }
                stack.push(ts + dur);
                slices.entry(tid).or_default().push((ts, ts + dur));
            }
            "i" => {
                let scope = e["s"].as_str().unwrap();
                assert!(e["args"].is_object(), "{e}");
                match scope {
                    "t" => assert!(tid.is_some(), "{e}"),
                    "p" => {}
                    "g" => globals.push(e["name"].as_str().unwrap().to_string()),
                    _ => panic!("bad scope: {e}"),
                }
            }
            ph @ ("s" | "f") => {
                let tid = tid.expect("a flow's thread");
                let id = e["id"].as_u64().expect("a flow id");
                assert_eq!(e["cat"], "message");
                if ph == "f" {
                    assert_eq!(e["bp"], "e");
                }
                let name = e["name"].as_str().unwrap().to_string();
                flows
                    .entry(id)
                    .or_default()
                    .push((ph.to_string(), tid, ts, name));
            }
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    // Every flow end lies inside a slice of its thread (the viewers bind it there).
    for ends in flows.values() {
        for (_, tid, ts, _) in ends {
            assert!(
                slices[tid].iter().any(|&(a, b)| a <= *ts && *ts < b),
                "flow end at {ts} on {tid} outside every slice"
            );
        }
    }
    // One arrow per delivered message, from its send at the sender to its delivery.
    let mut expected: BTreeMap<u64, Vec<(String, u64, u64, String)>> = BTreeMap::new();
    let delivered: BTreeSet<u64> = record
        .entries
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Message(m) if m.fate.is_delivery() => Some(m.id),
            _ => None,
        })
        .collect();
    for e in &record.entries {
        if let TraceKind::Message(m) = &e.kind {
            if !delivered.contains(&m.id) {
                continue;
            }
            let end = match m.fate {
                MessageFate::Sent => ("s", &m.from),
                f if f.is_delivery() => ("f", &m.to),
                _ => continue,
            };
            expected.entry(m.id).or_default().push((
                end.0.to_string(),
                tid_of(end.1),
                e.time_us,
                m.kind.name().to_string(),
            ));
        }
    }
    assert_eq!(flows, expected);
    let verdicts = record
        .entries
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Verdict(_)))
        .count();
    assert_eq!(globals.len(), verdicts);
    if let Some(first) = globals.first() {
        assert!(first.starts_with("first violation: "), "{first}");
    }
    Checked {
        threads,
        events: events.into_iter().cloned().collect(),
    }
}

#[test]
fn the_sample_run_has_a_track_per_lane_with_phases_flows_and_instants() {
    let record = sample();
    let checked = check(&chrome_trace(&record), &record);
    assert_eq!(checked.threads.len(), 3);
    let owned = |v: &[(&str, u64, u64)]| -> Vec<(String, u64, u64)> {
        v.iter().map(|&(n, a, b)| (n.to_string(), a, b)).collect()
    };
    // a: empty and waiting from its start (it formed its own topology at once) until it is
    // killed; restarted, it shakes hands until the run ends (700 ms).
    assert_eq!(
        checked.slices(1, "phase"),
        owned(&[
            ("waiting for init", 1_000, 399_000),
            ("handshake", 500_000, 200_000),
        ])
    );
    // b: every phase of a join, the steps inside joining; in the LT until it halts.
    assert_eq!(
        checked.slices(2, "phase"),
        owned(&[
            ("handshake", 1_000, 8_000),
            ("waiting for init", 9_000, 106_000),
            ("joining", 115_000, 50_000),
            ("requesting", 115_000, 20_000),
            ("recovering", 135_000, 5_000),
            ("ready sent", 140_000, 25_000),
            ("in LT", 165_000, 435_000),
        ])
    );
    let owned = |v: &[(&str, &str, u64)]| -> Vec<(String, String, u64)> {
        v.iter()
            .map(|&(n, c, t)| (n.to_string(), c.to_string(), t))
            .collect()
    };
    let a: Vec<_> = checked
        .instants("t", Some(1))
        .into_iter()
        .filter(|(_, c, _)| c != "event")
        .collect();
    assert_eq!(
        a,
        owned(&[
            ("started", "fault", 0),
            ("in topology", "milestone", 1_000),
            ("cmg leader, term 2", "milestone", 106_000),
            ("init answered", "milestone", 170_000),
            ("killed", "fault", 400_000),
            ("restarted", "fault", 500_000),
        ])
    );
    let b_milestones: Vec<_> = checked
        .instants("t", Some(2))
        .into_iter()
        .filter(|(_, c, _)| c == "milestone")
        .collect();
    assert_eq!(
        b_milestones,
        owned(&[
            ("in topology", "milestone", 9_000),
            ("join ready sent", "milestone", 140_000),
            ("joined, LT version 2", "milestone", 165_000),
            ("rejected", "milestone", 600_000),
        ])
    );
    assert_eq!(
        checked.instants("p", None),
        owned(&[
            ("partition (2 links cut)", "fault", 200_000),
            ("healed", "fault", 300_000),
        ])
    );
    assert_eq!(
        checked.instants("g", None),
        owned(&[("first violation: always_x", "violation", 650_000)])
    );
    // The lost join response is in its sender's message slice, marked lost; the dropped and the
    // still-held messages have slices at their receivers and no arrow.
    let slice_at = |tid: u64, ts: u64| {
        checked
            .events
            .iter()
            .find(|e| e["ph"] == "X" && e["cat"] == "message" && e["tid"] == tid && e["ts"] == ts)
            .unwrap_or_else(|| panic!("no message slice at {tid}/{ts}"))
            .clone()
    };
    let lost = slice_at(1, 120_000);
    assert_eq!(lost["name"], "2 messages");
    assert_eq!(lost["args"]["messages"][1]["id"], 8);
    assert_eq!(lost["args"]["messages"][1]["lost"], true);
    assert_eq!(slice_at(2, 215_000)["name"], "cluster_state dropped");
    assert_eq!(slice_at(1, 415_000)["name"], "status_reply held");
    // Protocol events carry their fields.
    let joined = checked
        .events
        .iter()
        .find(|e| e["name"] == "joined, LT version 2")
        .unwrap();
    assert_eq!(joined["args"]["event"], "Joined");
    assert_eq!(joined["args"]["lt_version"], 2);
}

#[test]
fn an_empty_record_is_a_valid_trace() {
    let record = RunRecord::default();
    let checked = check(&chrome_trace(&record), &record);
    assert!(checked.threads.is_empty() && checked.events.is_empty());
}

#[test]
fn shipped_runs_are_valid_traces_with_a_phase_per_join() {
    for (file, seed) in [
        (
            "scenarios/race-leader-crash-between-validation-and-join-ready.toml",
            0,
        ),
        (
            "scenarios/accepted-node-ignores-another-clusters-leader-while-recovering.toml",
            0,
        ),
        ("scenarios/nine-node-cluster.toml", 0),
        ("tests/data/replica-under-a-live-voters-raft-id.toml", 0),
    ] {
        let record = shipped_run(file, seed);
        let json = chrome_trace(&record);
        let checked = check(&json, &record);
        // Every node that joined has an `in LT` slice starting when it did.
        for e in &record.entries {
            if let TraceKind::Protocol(Event::Joined { .. }) = e.kind {
                let tid = checked
                    .threads
                    .iter()
                    .find(|(_, n)| **n == e.node)
                    .map(|(t, _)| *t)
                    .unwrap();
                assert!(
                    checked
                        .slices(tid, "phase")
                        .iter()
                        .any(|(n, ts, _)| n == "in LT" && *ts == e.time_us),
                    "{file}: {} joined at {}",
                    e.node,
                    e.time_us
                );
            }
        }
        // The same record writes the same file.
        assert_eq!(json, chrome_trace(&record), "{file}");
    }
}

#[test]
fn each_delivered_copy_of_a_duplicated_message_is_its_own_flow() {
    let record = crate::render::testing::duplicated();
    let doc: Value = serde_json::from_str(&chrome_trace(&record)).expect("valid JSON");
    let mut flows: BTreeMap<u64, Vec<(String, u64)>> = BTreeMap::new();
    for e in doc["traceEvents"].as_array().expect("traceEvents") {
        if e["ph"] == "s" || e["ph"] == "f" {
            flows
                .entry(e["id"].as_u64().expect("a flow id"))
                .or_default()
                .push((
                    e["ph"].as_str().unwrap().to_string(),
                    e["ts"].as_u64().unwrap(),
                ));
        }
    }
    let second = |id: u64| id + SECOND_COPY_FLOW;
    let flow = |sent: u64, arrived: u64| vec![("s".to_string(), sent), ("f".to_string(), arrived)];
    let expected: BTreeMap<u64, Vec<(String, u64)>> = [
        (1, flow(1_000, 3_000)),
        (second(1), flow(1_000, 5_000)),
        (2, flow(2_000, 4_000)),
        (3, flow(2_200, 2_600)),
        (second(3), flow(2_200, 3_500)),
    ]
    .into_iter()
    .collect();
    assert_eq!(flows, expected);
}
