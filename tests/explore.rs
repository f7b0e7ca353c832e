//! `joinsim explore`: the reference model as written passes every property of every small world
//! and reaches every interesting state; each planted model error is caught with a counterexample
//! written as a scenario file that parses; two explorations agree to the last count. Plain
//! tests, outside any madsim runtime (stateright spawns OS threads).

use std::path::PathBuf;

use joinsim_model::{ModelFlaw, WorldKind};
use joinsim_sim::explore::{explore, ExploreOptions, DEFAULT_DEPTH};

use crate::support::joinsim;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("joinsim-explore-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(
    nodes: usize,
    worlds: Vec<WorldKind>,
    flaw: Option<ModelFlaw>,
    out: PathBuf,
) -> ExploreOptions {
    ExploreOptions {
        nodes,
        worlds,
        depth: DEFAULT_DEPTH,
        flaw,
        out,
    }
}

#[test]
fn the_model_as_written_passes_every_property_and_reaches_every_example() {
    let out = scratch("passes");
    // The default size of `joinsim explore`: three nodes, every world.
    let results = explore(&options(3, WorldKind::ALL.to_vec(), None, out.clone())).unwrap();
    assert_eq!(results.len(), 3);
    for r in &results {
        for v in &r.verdicts {
            assert!(v.passed(), "{}: {} {:?}", r.world.kind(), v.name, v.path);
        }
        assert!(
            !r.hit_depth_bound(),
            "{} reached the depth bound",
            r.world.kind()
        );
        assert!(r.counterexample.is_none());
    }
    // Every `sometimes` property is required by some world, and reached there.
    for name in [
        "node_joined",
        "init_answered",
        "init_cancelled",
        "stale_node_caught_up",
        "join_rejected_by_tag",
        "rejoin_replaced_lt_entry",
        "dead_node_left_lt",
        "ms_reconfigured",
    ] {
        assert!(
            results.iter().any(|r| r
                .verdicts
                .iter()
                .any(|v| v.name == name && v.required && v.path.is_some())),
            "{name} is reached in no world"
        );
    }
    assert!(!out.exists(), "no counterexample, no file");
}

#[test]
fn each_planted_model_error_is_caught_and_its_scenario_file_parses() {
    for (flaw, world, property) in [
        (
            ModelFlaw::ValidationIgnoresTag,
            WorldKind::Foreign,
            "validated_only_compatible",
        ),
        (
            ModelFlaw::CancelIgnoresAnswer,
            WorldKind::Empty,
            "answered_never_cancelled",
        ),
    ] {
        let out = scratch(flaw.name());
        let results = explore(&options(2, vec![world], Some(flaw), out.clone())).unwrap();
        let r = &results[0];
        assert!(!r.passed(), "{flaw}");
        let broken = r
            .verdicts
            .iter()
            .find(|v| v.name == property)
            .expect("the property exists");
        assert!(broken.path.is_some(), "{flaw}: {property} holds");
        let file = r.counterexample.clone().expect("a scenario file");
        assert!(file.starts_with(&out));
        let scenario = joinsim_sim::load_scenario(&file)
            .unwrap_or_else(|e| panic!("{flaw}: {} does not parse: {e}", file.display()));
        assert_eq!(scenario.nodes.len(), 2);
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn two_explorations_give_identical_counts_and_counterexamples() {
    let run = |name: &str| {
        let out = scratch(name);
        let results = explore(&options(
            2,
            vec![WorldKind::Empty],
            Some(ModelFlaw::CancelIgnoresAnswer),
            out.clone(),
        ))
        .unwrap();
        let r = results.into_iter().next().unwrap();
        let text = std::fs::read_to_string(r.counterexample.as_ref().unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&out);
        let paths: Vec<_> = r.verdicts.iter().map(|v| v.path.clone()).collect();
        (r.states, r.unique_states, r.max_depth, paths, text)
    };
    assert_eq!(run("first"), run("second"));
}

#[test]
fn explore_bad_input_is_exit_2_and_a_planted_error_exit_1() {
    for args in [
        &["explore", "--nodes", "4"][..],
        &["explore", "--nodes", "1"],
        &["explore", "--world", "nope"],
        &["explore", "--model-bug", "nope"],
        &["explore", "--depth", "0"],
    ] {
        let out = joinsim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
    let dir = scratch("cli");
    let out = joinsim(&[
        "explore",
        "--nodes",
        "2",
        "--world",
        "foreign",
        "--model-bug",
        "validation-ignores-tag",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BROKEN"), "{text}");
    assert!(text.contains("scenario file:"), "{text}");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let run = joinsim(&["run", file.to_str().unwrap(), "--seed", "0"]);
    assert_ne!(run.status.code(), Some(2), "the file parses: {run:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
