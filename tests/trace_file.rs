//! The trace file (`--trace-out`, docs/trace.md) of real runs: every entry of the run is in it,
//! it reads back against the schema, each delivery pairs with its send, and the CLI writes it
//! for `run` and `demo` (and refuses to guess a seed).

use std::collections::{BTreeMap, BTreeSet};

use joinsim_sim::record::RunRecord;
use joinsim_sim::scenario::runner::run_scenario;
use joinsim_sim::trace::{MessageFate, TraceKind};
use joinsim_sim::trace_file;

use crate::support::joinsim;

/// A shipped scenario with a hold rule, a kill and a restart: every message fate shows.
const SHIPPED: &str = "scenarios/leader-change-after-join-ready.toml";

fn shipped_record(seed: u64) -> RunRecord {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(SHIPPED);
    let scenario = joinsim_sim::load_scenario(&path).expect("shipped scenario loads");
    RunRecord::from_result(&run_scenario(&scenario, seed, true))
}

#[test]
fn the_trace_file_holds_every_entry_and_pairs_each_delivery_with_its_send() {
    let record = shipped_record(1);
    let text = trace_file::to_jsonl(&record);
    let file = trace_file::read(&text).expect("the file reads back against its schema");
    assert_eq!(file.header["trace_hash"], record.trace_hash.as_str());
    assert_eq!(file.entries.len(), record.entries.len());
    for (written, entry) in file.entries.iter().zip(&record.entries) {
        assert_eq!(
            serde_json::Value::Object(written.clone()),
            trace_file::entry_json(entry)
        );
    }
    // Every protocol event and harness action of the run is there, in order.
    let events = |kinds: &[&str]| {
        file.entries
            .iter()
            .filter(|e| kinds.contains(&e["category"].as_str().unwrap()))
            .count()
    };
    let in_trace = record
        .entries
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Protocol(_) | TraceKind::Harness(_)))
        .count();
    assert_eq!(events(&["event", "harness"]), in_trace);
    assert!(in_trace > 50);
    // Sends and their fates: ids unique per send, every other fate after its send.
    let mut sent: BTreeMap<u64, u64> = BTreeMap::new();
    let mut fates: BTreeSet<&str> = BTreeSet::new();
    for entry in &record.entries {
        let TraceKind::Message(m) = &entry.kind else {
            continue;
        };
        fates.insert(m.fate.name());
        if m.fate == MessageFate::Sent {
            assert!(
                sent.insert(m.id, entry.time_us).is_none(),
                "id {} twice",
                m.id
            );
            assert_eq!(entry.node, m.from);
        } else {
            let at = sent.get(&m.id).expect("a fate follows its send");
            assert!(entry.time_us >= *at);
            assert_eq!(entry.node, m.to);
        }
    }
    for fate in ["sent", "delivered", "held"] {
        assert!(fates.contains(fate), "{fate} missing: {fates:?}");
    }
    assert!(sent.len() > 100);
}

#[test]
fn the_cli_writes_the_trace_file_of_one_run_and_refuses_to_guess_a_seed() {
    let dir = std::env::temp_dir().join(format!("joinsim-trace-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("run.jsonl");
    let out = joinsim(&[
        "run",
        SHIPPED,
        "--seed",
        "1",
        "--trace-out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    let file = trace_file::read(&text).unwrap();
    assert_eq!(file.header["seed"], 1);
    assert_eq!(file.header["schema_version"], trace_file::SCHEMA_VERSION);
    // The same run through the library gives the same entries (the header names the file as
    // it was given).
    let library = trace_file::to_jsonl(&shipped_record(1));
    let same = text.lines().skip(1).eq(library.lines().skip(1));
    assert!(same, "the CLI's file and the library's differ");
    assert_eq!(file.entries.len(), library.lines().count() - 1);

    let out = joinsim(&["run", SHIPPED, "--trace-out", out_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --seed N"));

    let demo_file = dir.join("demo.jsonl");
    let out = joinsim(&[
        "demo",
        "--seed",
        "3",
        "--trace-out",
        demo_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let file = trace_file::read(&std::fs::read_to_string(&demo_file).unwrap()).unwrap();
    assert_eq!(file.header["scenario"], "demo");
    assert_eq!(file.header["nodes"]["n6"], "joined");

    let out = joinsim(&["demo", "--trace-out", "/nonexistent-dir/x.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write /nonexistent-dir/x.jsonl"));
}

#[test]
fn the_cli_writes_the_mermaid_diagram_and_the_chrome_trace() {
    let dir = std::env::temp_dir().join(format!("joinsim-diagrams-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (md, all, chrome) = (dir.join("run.md"), dir.join("all.md"), dir.join("run.json"));
    let out = joinsim(&[
        "run",
        SHIPPED,
        "--seed",
        "1",
        "--mermaid",
        md.to_str().unwrap(),
        "--chrome-trace",
        chrome.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let diagram = std::fs::read_to_string(&md).unwrap();
    assert!(diagram.contains("```mermaid\nsequenceDiagram"), "{diagram}");
    assert!(diagram.contains("join_request"), "{diagram}");
    assert!(
        !diagram.contains(": raft_cmg ["),
        "Raft traffic is left out by default"
    );
    let out = joinsim(&[
        "run",
        SHIPPED,
        "--seed",
        "1",
        "--mermaid",
        all.to_str().unwrap(),
        "--mermaid-all",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(std::fs::read_to_string(&all)
        .unwrap()
        .contains(": raft_cmg ["));
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&chrome).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    assert!(events.iter().any(|e| e["ph"] == "s") && events.iter().any(|e| e["ph"] == "f"));
    // --mermaid-all alone is a usage error.
    let out = joinsim(&["run", SHIPPED, "--seed", "1", "--mermaid-all"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// A run with duplicated messages reads back: each `duplicated` entry follows its send at the
/// sender, and a copy's arrival entries pair with the one send.
#[test]
fn a_trace_file_with_duplicated_messages_reads_back() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/fault-duplicated-join-traffic-makes-one-lt-entry.toml");
    let scenario = joinsim_sim::load_scenario(&path).expect("shipped scenario loads");
    let record = RunRecord::from_result(&run_scenario(&scenario, 0, true));
    let text = trace_file::to_jsonl(&record);
    let file = trace_file::read(&text).expect("the file reads back against its schema");
    let fate_of = |e: &serde_json::Map<String, serde_json::Value>| {
        e.get("fields")
            .and_then(|f| f.get("fate"))
            .and_then(|f| f.as_str())
            .map(str::to_string)
    };
    let duplicated: BTreeSet<u64> = file
        .entries
        .iter()
        .filter(|e| fate_of(e).as_deref() == Some("duplicated"))
        .map(|e| e["fields"]["id"].as_u64().unwrap())
        .collect();
    assert!(!duplicated.is_empty(), "the scenario duplicates messages");
    let mut arrivals: BTreeMap<u64, usize> = BTreeMap::new();
    for e in &file.entries {
        let Some(fate) = fate_of(e) else { continue };
        if fate == "delivered" || fate == "held" || fate == "dropped" {
            *arrivals
                .entry(e["fields"]["id"].as_u64().unwrap())
                .or_default() += 1;
        }
    }
    assert!(
        duplicated.iter().any(|id| arrivals.get(id) == Some(&2)),
        "some duplicated message arrived twice"
    );
}
