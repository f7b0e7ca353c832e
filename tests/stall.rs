//! The stall report of a failed run (sim/src/stall.rs, docs/debugging.md): a node cut off from
//! its whole CMG for the rest of the run, expected joined, is reported with its phase, the leader
//! it believes and the CMG majority it cannot reach — by `run`, by `check`, in the JSON result —
//! while the failure itself still reads and classifies as before.

use crate::support::joinsim;
use joinsim::JoinPhase;
use joinsim_sim::failure::{classify, FailureKind};
use joinsim_sim::scenario::{parse_scenario, run_scenario};
use joinsim_sim::stall::{CmgReach, Situation, VoterReach};

/// n4 is validated, then cut off from n1, n2, n3 (the CMG) until the deadline; liveness is off,
/// so the partition is never healed.
const CUT_OFF: &str = r#"
name = "cut-off-after-validation"
description = "n4 is validated, then cut off from the whole CMG for the rest of the run; it is expected to join."
seeds = 2
[[node]]
name = "n1"
[[node]]
name = "n2"
[[node]]
name = "n3"
[[node]]
name = "n4"
[[step]]
after = { event = "in_topology", node = "n4" }
action = "init"
id = "init"
via = "n1"
cluster = "c"
cmg = ["n1", "n2", "n3"]
[[step]]
after = { event = "validated", node = "n4" }
action = "partition"
groups = [["n1", "n2", "n3"], ["n4"]]
[liveness]
enabled = false
reason = "n4 stays cut off: its stall report is under test"
[expect]
deadline_ms = 20000
nodes = { n4 = "joined" }
"#;

/// A fresh directory for this test's files.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("joinsim-stall-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_node_cut_off_from_its_whole_cmg_is_reported_with_why() {
    let scenario = parse_scenario("cut-off.toml", CUT_OFF).unwrap();
    let result = run_scenario(&scenario, 0, false);
    assert!(!result.passed);
    // The failure reads and classifies as it did before the report existed.
    let (kind, detail) = classify(&result).unwrap();
    assert_eq!(kind, FailureKind::Expectation);
    assert!(
        detail.starts_with("n4: expected joined, got waiting"),
        "{detail}"
    );
    // One report: n1..n3 are in the LT.
    assert_eq!(result.stall.len(), 1, "{:?}", result.stall);
    let report = &result.stall[0];
    assert_eq!(report.label, "n4");
    let Situation::Waiting(waiting) = &report.situation else {
        panic!("{report}");
    };
    let leader = waiting.progress.leader.clone().expect("a believed leader");
    assert!(["n1", "n2", "n3"].contains(&leader.as_str()), "{report}");
    assert_eq!(waiting.cmg.count(), Some((0, 2)), "{report}");
    let CmgReach::Voters { voters, .. } = &waiting.cmg else {
        panic!("{report}");
    };
    assert!(voters.iter().all(|v| v.reach
        == VoterReach::CutOff {
            to: true,
            from: true
        }));
    let phase = match waiting.phase {
        JoinPhase::Requesting => "requesting",
        JoinPhase::Recovering { .. } => "recovering",
        ref other => panic!("validated, then cut off: {other:?}"),
    };
    // The text `run` and `check` print.
    let text = report.to_string();
    assert!(text.starts_with(&format!("n4: {phase} since ")), "{text}");
    assert!(
        text.contains(&format!("believed CMG leader: {leader} (c/")),
        "{text}"
    );
    assert!(
        text.contains("no reachable CMG majority (0 of 3 reachable, 2 needed)"),
        "{text}"
    );
}

#[test]
fn run_check_and_json_print_the_stall_report_with_the_failure() {
    let dir = scratch("cli");
    let file = dir.join("cut-off.toml");
    std::fs::write(&file, CUT_OFF).unwrap();
    let out = joinsim(&["run", file.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let failure = text
        .find("  n4: expected joined, got waiting")
        .expect(&text);
    let stall = text.find("  stall report at ").expect(&text);
    assert!(failure < stall, "the report follows the failure: {text}");
    assert!(text.contains("\n    n4: "), "{text}");
    assert!(text.contains("      believed CMG leader: n"), "{text}");
    assert!(text.contains(": no reachable CMG majority"), "{text}");
    let check = joinsim(&["check", dir.to_str().unwrap(), "--seeds", "1"]);
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    let err = String::from_utf8(check.stderr).unwrap();
    assert!(err.contains("  stall report at "), "{err}");
    assert!(err.contains(": no reachable CMG majority"), "{err}");
    let json = joinsim(&["run", file.to_str().unwrap(), "--seed", "1", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let stall = &doc["results"][0]["stall"];
    assert_eq!(stall.as_array().map(|a| a.len()), Some(1), "{stall}");
    assert_eq!(stall[0]["label"], "n4");
    assert!(
        stall[0]["situation"]["Waiting"]["progress"]["leader"].is_string(),
        "{stall}"
    );
}

/// The last step starts n4 (with a planted bug no leader tells it the cluster state): the
/// liveness phase must judge n4 although its task has not run yet when the phase begins.
const STARTED_LAST: &str = r#"
name = "started-by-the-last-step"
description = "n4 is started by the last step; the CMG leader never sends it the cluster state."
seeds = 1
bug = "leader-stops-cluster-state"
[[node]]
name = "n1"
[[node]]
name = "n2"
[[node]]
name = "n3"
[[node]]
name = "n4"
start = false
[[step]]
after = { event = "in_topology", node = "n3" }
action = "init"
id = "init"
via = "n1"
cluster = "c"
cmg = ["n1", "n2", "n3"]
[[step]]
after = { event = "joined", node = "n3" }
action = "start"
node = "n4"
[expect]
deadline_ms = 60000
"#;

#[test]
fn a_node_started_by_the_last_step_is_judged_by_the_liveness_phase() {
    let scenario = parse_scenario("<started-last>", STARTED_LAST).expect("valid");
    let result = run_scenario(&scenario, 0, false);
    assert!(!result.passed, "a false pass: {:?}", result.failures);
    assert!(
        result
            .failures
            .iter()
            .any(|f| f.starts_with("liveness: n4 is not in the LT")),
        "{:?}",
        result.failures
    );
    assert!(
        result.stall.iter().any(|s| s.label == "n4"),
        "{:?}",
        result.stall
    );
}
