//! The command-line tool: exit codes (0 passed, 1 failed, 2 bad input), JSON results, traces,
//! and the `check` table with replay commands.

use crate::support::joinsim;
use std::path::PathBuf;

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("joinsim-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const PASSING: &str = r#"
name = "three-nodes"
description = "Three nodes initialize and join."
seeds = 3
[[node]]
name = "n1"
[[node]]
name = "n2"
[[node]]
name = "n3"
[[step]]
after = { event = "in_topology", node = "n3" }
action = "init"
id = "init"
via = "n1"
cluster = "c"
cmg = ["n1", "n2", "n3"]
expect = "ok"
[expect]
deadline_ms = 60000
lt = ["n1", "n2", "n3"]
nodes = { n1 = "joined", n2 = "joined", n3 = "joined" }
"#;

#[test]
fn run_passes_with_exit_0_and_prints_one_json_document() {
    let dir = scratch("pass");
    let file = dir.join("ok.toml");
    std::fs::write(&file, PASSING).unwrap();
    let out = joinsim(&["run", file.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one document: {text}");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["type"], "run");
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["commit"], joinsim_sim::COMMIT);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for (seed, line) in results.iter().enumerate() {
        assert_eq!(line["seed"], seed as u64);
        assert_eq!(line["passed"], true);
        assert_eq!(line["trace_hash"].as_str().unwrap().len(), 16);
        assert!(line["sim_time_ms"].as_u64().unwrap() > 0);
        assert!(line["events"].as_u64().unwrap() > 10);
        assert_eq!(line["nodes"]["n2"], "joined");
        assert!(line["violations"].as_array().unwrap().is_empty());
        assert!(line.get("trace").is_none(), "no trace unless asked");
        assert!(
            line.get("stall").is_none(),
            "no stall report when it passed"
        );
    }
}

#[test]
fn run_json_with_trace_keeps_the_trace() {
    let dir = scratch("json-trace");
    let file = dir.join("ok.toml");
    std::fs::write(&file, PASSING).unwrap();
    let out = joinsim(&[
        "run",
        file.to_str().unwrap(),
        "--seed",
        "1",
        "--json",
        "--trace",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &doc["results"][0];
    let trace = result["trace"].as_array().expect("the trace is kept");
    assert_eq!(trace.len() as u64, result["events"].as_u64().unwrap());
    assert!(trace[0]["time_us"].is_u64());
    assert!(trace[0]["node"].is_string());
}

#[test]
fn out_of_range_numbers_are_bad_input() {
    let dir = scratch("bounds");
    let file = dir.join("ok.toml");
    std::fs::write(&file, PASSING).unwrap();
    let f = file.to_str().unwrap();
    for args in [
        vec!["run", f, "--seeds", "0"],
        vec!["run", f, "--seeds", "18446744073709551615"],
        vec!["run", f, "--seeds", "100000000000"],
        vec!["check", dir.to_str().unwrap(), "--seeds", "0"],
        vec!["demo", "--nodes", "0"],
        vec!["demo", "--nodes", "1001"],
        vec!["demo", "--nodes", "1001", "--runs", "2"],
    ] {
        let out = joinsim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("--seeds") || err.contains("--nodes"), "{err}");
    }
    for (edit, field) in [
        ("seeds = 3", "seeds = 18446744073709551615"),
        ("deadline_ms = 60000", "deadline_ms = 18446744073709551615"),
        ("deadline_ms = 60000", "deadline_ms = 60000000"),
        ("[expect]", "[network]\nlatency_ms = [18446744073709551615, 18446744073709551615]\n[expect]"),
        ("[expect]", "[liveness]\ntimeout_ms = 18446744073709551615\n[expect]"),
        ("[expect]", "[[step]]\nafter = { event = \"joined\", node = \"n2\" }\ndelay_ms = 300000000\naction = \"wait\"\n[expect]"),
    ] {
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, PASSING.replace(edit, field)).unwrap();
        let out = joinsim(&["run", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{field}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("out of range"), "{field}: {err}");
        assert!(err.contains(&format!("{}:", bad.display())), "{err}");
    }
}

#[test]
fn files_that_are_not_scenarios_are_bad_input() {
    let dir = scratch("not-files");
    let huge = dir.join("huge.toml");
    std::fs::write(&huge, "#".repeat(2_000_000)).unwrap();
    let fifo = dir.join("fifo.toml");
    let made_fifo = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut cases = vec![
        ("/dev/zero".to_string(), "not a regular file"),
        (dir.display().to_string(), "not a regular file"),
        (huge.display().to_string(), "at most 1048576"),
    ];
    if made_fifo {
        cases.push((fifo.display().to_string(), "not a regular file"));
    }
    for (path, message) in cases {
        let out = joinsim(&["run", &path]);
        assert_eq!(out.status.code(), Some(2), "{path}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains(message) && err.contains(&format!("{path}:1:1")),
            "{path}: {err}"
        );
    }
}

#[test]
fn values_the_runner_cannot_honour_are_refused_when_the_file_is_read() {
    let dir = scratch("unhonourable");
    let cluster =
        |name: &str| format!("[[cluster]]\nname = \"{name}\"\nid = \"5\"\ncmg = [\"n1\"]\n");
    let holds: String = (0..300)
        .map(|i| format!("[[step]]\naction = \"hold\"\nid = \"h{i}\"\nkind = \"probe\"\n"))
        .collect();
    for (edit, message) in [
        (
            "[expect]".to_string(),
            "[network]\nlatency_ms = [1, 2, 3]\n[expect]".to_string(),
            "latency_ms must be [min, max]",
        ),
        (
            "[expect]".to_string(),
            format!("{}{}[expect]", cluster("r"), cluster("s")),
            "two clusters have id",
        ),
        (
            "[expect]".to_string(),
            holds + "[expect]",
            "at most 256 hold, drop, duplicate and delay steps",
        ),
    ]
    .into_iter()
    .map(|(from, to, m)| ((from, to), m))
    {
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, PASSING.replace(&edit.0, &edit.1)).unwrap();
        let out = joinsim(&["run", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{message}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(message), "{err}");
        assert!(err.contains(&format!("{}:", bad.display())), "{err}");
    }
}

#[test]
fn a_delay_past_the_deadline_fails_the_seed_and_the_table_still_prints() {
    let dir = scratch("delay");
    let late = PASSING.replace(
        "[expect]",
        "[[step]]\nafter = { event = \"joined\", node = \"n2\" }\ndelay_ms = 300000\naction = \"wait\"\n[expect]",
    );
    std::fs::write(dir.join("late.toml"), late).unwrap();
    std::fs::write(dir.join("ok.toml"), PASSING.replace("three-nodes", "fine")).unwrap();
    let out = joinsim(&["check", dir.to_str().unwrap(), "--seeds", "1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("fine"), "{table}");
    assert!(table.contains("FAILED"), "{table}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("goes past the deadline"), "{err}");
}

#[test]
fn run_with_trace_prints_the_timeline() {
    let dir = scratch("trace");
    let file = dir.join("ok.toml");
    std::fs::write(&file, PASSING).unwrap();
    let out = joinsim(&["run", file.to_str().unwrap(), "--seed", "2", "--trace"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("timeline of seed 2:"));
    assert!(text.contains("ClusterInitApplied"));
    assert!(text.contains("ms n1"));
}

#[test]
fn a_failed_expectation_exits_1_with_a_replay_command() {
    let dir = scratch("fail");
    let file = dir.join("wrong.toml");
    let wrong = PASSING.replace("n3 = \"joined\"", "n3 = \"rejected:join:tag_mismatch\"");
    std::fs::write(&file, wrong).unwrap();
    let out = joinsim(&["run", file.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("n3: expected rejected:join:tag_mismatch, got joined"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "replay: cargo run --release -- run {} --seed 1",
        file.display()
    )));
    assert!(text.contains(&format!(
        "picture: cargo run --release -- run {} --seed 1 --timeline three-nodes-seed-1.html",
        file.display()
    )));
    assert!(text.contains("last events:"));
}

#[test]
fn liveness_failures_are_reported() {
    let dir = scratch("liveness");
    let file = dir.join("stuck.toml");
    // With a planted bug the CMG leader never tells a late node where the CMG is.
    let stuck = r#"
name = "stuck"
description = "The CMG leader stops sending the cluster state; a late node cannot join."
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
via = "n1"
cluster = "c"
cmg = ["n1", "n2", "n3"]
[[step]]
after = { event = "joined", node = "n3" }
action = "start"
node = "n4"
[liveness]
timeout_ms = 5000
[expect]
"#;
    std::fs::write(&file, stuck).unwrap();
    let out = joinsim(&["run", file.to_str().unwrap(), "--seed", "0"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("liveness: n4 is not in the LT"), "{text}");
    // Why: n4 never heard from a leader, though its cluster's CMG is all within reach.
    assert!(text.contains("  stall report at "), "{text}");
    assert!(text.contains("    n4: waiting since "), "{text}");
    assert!(text.contains("      believed CMG leader: none"), "{text}");
    assert!(
        text.contains("      last join message received: none"),
        "{text}"
    );
    assert!(
        text.contains(": CMG majority reachable (3 of 3 reachable, 2 needed)"),
        "{text}"
    );
}

#[test]
fn bad_input_exits_2_with_file_line_and_column() {
    let dir = scratch("bad");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        PASSING.replace("seeds = 3", "seeds = 3\ncolour = \"red\""),
    )
    .unwrap();
    let out = joinsim(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("{}:5:1: unknown field `colour`", file.display())),
        "{err}"
    );
    let missing = joinsim(&["run", dir.join("absent.toml").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    let usage = joinsim(&["run"]);
    assert_eq!(usage.status.code(), Some(2));
    let check = joinsim(&["check", dir.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(2));
}

#[test]
fn check_runs_a_directory_and_prints_the_table() {
    let dir = scratch("check");
    std::fs::write(dir.join("a-ok.toml"), PASSING).unwrap();
    let wrong = PASSING
        .replace("three-nodes", "wrong-lt")
        .replace("lt = [\"n1\", \"n2\", \"n3\"]", "lt = [\"n1\", \"n2\"]");
    std::fs::write(dir.join("b-wrong.toml"), wrong).unwrap();
    let out = joinsim(&["check", dir.to_str().unwrap(), "--seeds", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("three-nodes"), "{table}");
    assert!(table.contains("FAILED"), "{table}");
    assert!(table.contains("replay the failures"), "{table}");
    assert!(table.contains("b-wrong.toml --seed 0"), "{table}");
    // Each failure's picture command follows its replay command.
    let replay = format!("{}/b-wrong.toml --seed 0", dir.display());
    let picture = format!("{replay} --timeline wrong-lt-seed-0.html");
    assert!(table.contains(&picture), "{table}");
    let progress = String::from_utf8(out.stderr).unwrap();
    assert!(
        progress.contains("[ 1/2] three-nodes (2 seeds) ... 2/2 passed"),
        "{progress}"
    );
    std::fs::remove_file(dir.join("b-wrong.toml")).unwrap();
    let out = joinsim(&["check", dir.to_str().unwrap(), "--seeds", "2", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one document: {text}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["type"], "check");
    assert_eq!(doc["passed"], true);
    let scenarios = doc["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 1);
    assert_eq!(scenarios[0]["seeds"], 2);
    assert_eq!(scenarios[0]["results"].as_array().unwrap().len(), 2);
}

/// `demo --runs N` makes N runs in one process and prints runs/s, the median run and totals;
/// the runs' folded trace hashes are the same in every process (issue "Speed and scale").
#[test]
fn demo_runs_many_seeds_and_prints_runs_per_second() {
    let batch = |args: &[&str]| {
        let out = joinsim(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = batch(&["demo", "--runs", "12", "--seed", "3", "--nodes", "3"]);
    assert!(
        text.starts_with("demo: 12 runs of 3 + 1 nodes (seeds 3..15), 0 failed\n"),
        "{text}"
    );
    assert!(
        text.contains(" runs/s on one core; one run: median "),
        "{text}"
    );
    assert!(text.contains(" simulated s per wall s; "), "{text}");
    let hashes = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("trace hashes (folded): "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{text}"))
    };
    let again = batch(&["demo", "--runs", "12", "--seed", "3", "--nodes", "3"]);
    assert_eq!(hashes(&text), hashes(&again));
    let other = batch(&["demo", "--runs", "12", "--seed", "4", "--nodes", "3"]);
    assert_ne!(
        hashes(&text),
        hashes(&other),
        "another seed range, other runs"
    );
    for args in [
        vec!["demo", "--runs", "0"],
        vec!["demo", "--runs", "1000001"],
        vec!["demo", "--runs", "2", "--seed", "18446744073709551615"],
        vec!["demo", "--runs", "2", "--trace-out", "x.jsonl"],
    ] {
        let out = joinsim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("--runs"), "{args:?}: {err}");
    }
}

/// `demo --seeds SPEC` runs a list of seeds as `--runs` runs a range: the same report, the same
/// folded hashes for the same seeds however they are written; every bad list is exit 2 naming
/// its problem.
#[test]
fn demo_seeds_runs_a_seed_list_and_refuses_bad_lists() {
    let batch = |args: &[&str]| {
        let out = joinsim(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let hashes = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("trace hashes (folded): "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{text}"))
    };
    let by_runs = batch(&["demo", "--runs", "4", "--seed", "3", "--nodes", "2"]);
    let by_range = batch(&["demo", "--seeds", "3..7", "--nodes", "2"]);
    let by_list = batch(&["demo", "--seeds", "6,4,3..4,5", "--nodes", "2"]);
    assert!(
        by_range.starts_with("demo: 4 runs of 2 + 1 nodes (seeds 3..7), 0 failed\n"),
        "{by_range}"
    );
    assert!(by_list.starts_with("demo: 4 runs of 2 + 1 nodes (seeds 3..7), 0 failed\n"));
    assert!(
        by_list.contains(" runs/s on one core; one run: median "),
        "{by_list}"
    );
    assert_eq!(hashes(&by_runs), hashes(&by_range));
    assert_eq!(hashes(&by_runs), hashes(&by_list));
    // A count N is seeds 0..N, as for `run --seeds N`.
    let count = batch(&["demo", "--seeds", "3", "--nodes", "2"]);
    assert!(count.starts_with("demo: 3 runs of 2 + 1 nodes (seeds 0..3), 0 failed\n"));
    let scattered = batch(&["demo", "--seeds", "9, 2,5", "--nodes", "2"]);
    assert!(
        scattered.starts_with("demo: 3 runs of 2 + 1 nodes (seeds 2,5,9), 0 failed\n"),
        "{scattered}"
    );
    assert_ne!(
        hashes(&count),
        hashes(&scattered),
        "other seeds, other runs"
    );
    for (args, problem) in [
        (vec!["demo", "--seeds", ""], "empty"),
        (vec!["demo", "--seeds", "0"], "0 seeds"),
        (vec!["demo", "--seeds", "7..3"], "reversed"),
        (vec!["demo", "--seeds", "3..3"], "empty"),
        (vec!["demo", "--seeds", "3,x"], "\"x\" is not a seed"),
        (vec!["demo", "--seeds", "3,,4"], "empty item"),
        (
            vec!["demo", "--seeds", "99999999999999999999"],
            "larger than the largest seed",
        ),
        (vec!["demo", "--seeds", "1000001"], "out of range"),
        (
            vec!["demo", "--seeds", "0..600000,1000000..1400001"],
            "out of range",
        ),
        (vec!["demo", "--seeds", "0..4,2"], "seed 2 is listed twice"),
        (
            vec!["demo", "--seeds", "2", "--runs", "2"],
            "cannot be used with",
        ),
        (
            vec!["demo", "--seeds", "2", "--seed", "4"],
            "cannot be used with",
        ),
        (
            vec!["demo", "--seeds", "2", "--timeline", "x.html"],
            "takes no file",
        ),
        (vec!["demo", "--seeds", "2", "--nodes", "1001"], "--nodes"),
        // --nodes 1000 is accepted: the error is the bad list after it.
        (
            vec!["demo", "--nodes", "1000", "--seeds", "7..3"],
            "reversed",
        ),
    ] {
        let out = joinsim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(problem), "{args:?}: {err}");
        if problem != "--nodes" {
            assert!(err.contains("--seeds"), "{args:?}: {err}");
        }
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// A reader that goes away before the tool writes (`joinsim demo --runs 3 | head -c 0`) ends it
/// quietly by SIGPIPE, as any Unix tool, instead of a panic about a broken pipe.
#[cfg(unix)]
#[test]
fn a_reader_that_goes_away_ends_the_tool_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_joinsim"))
        .args(["demo", "--runs", "3", "--nodes", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{out:?}");
}

/// `demo --detector swim` runs the demo with SWIM (every node joins, another trace than all
/// pairs'); another detector's name is bad input.
#[test]
fn demo_takes_the_failure_detector() {
    let hash = |args: &[&str]| {
        let out = joinsim(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("trace-hash: "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{text}"))
    };
    let swim = hash(&["demo", "--nodes", "4", "--detector", "swim"]);
    let all_pairs = hash(&["demo", "--nodes", "4", "--detector", "all-pairs"]);
    assert_eq!(
        all_pairs,
        hash(&["demo", "--nodes", "4"]),
        "all pairs is the default"
    );
    assert_ne!(swim, all_pairs);
    let out = joinsim(&["demo", "--detector", "gossip"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("--detector"));
}
