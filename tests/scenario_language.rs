//! The scenario language of issue 11 at run time: roles, the new events and the new
//! expectations. Each shipped scenario that uses them passes (its own test in `--test scenarios`);
//! here a deliberately wrong copy of it, parsed from text, must fail, with the failure naming what
//! did not hold; and the conditions that must *not* fire (`left_lt` of a node that never joined,
//! `node_declared_dead` of a live node) do not.

use joinsim_sim::{parse_scenario, run_scenario, HarnessEvent, SeedResult, TraceKind};

fn shipped(file: &str) -> String {
    let path = format!("{}/../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Seed 0 of scenario text (named `file` in errors), keeping its trace.
fn run_text(file: &str, text: &str) -> SeedResult {
    let scenario = parse_scenario(file, text).unwrap_or_else(|e| panic!("{e}"));
    run_scenario(&scenario, 0, true)
}

/// `file` with `from` replaced by `to` (which must occur in it) fails seed 0, with a failure that
/// contains `why`; the file as shipped passes that seed.
fn wrong_copy_fails(file: &str, from: &str, to: &str, why: &str) {
    let text = shipped(file);
    assert!(text.contains(from), "{file} has no {from:?}");
    let right = run_text(file, &text);
    assert!(right.passed, "{file} as shipped: {:?}", right.failures);
    let wrong = run_text(file, &text.replacen(from, to, 1));
    assert!(!wrong.passed, "{file} with {to:?} passed");
    assert!(
        wrong.failures.iter().any(|f| f.contains(why)),
        "{file} with {to:?}: expected a failure containing {why:?}, got {:?}",
        wrong.failures
    );
}

const MS: &str = "ms-leader-cut-off-while-its-voters-are-replaced.toml";
const TWO: &str = "two-clusters-each-hold-their-own-lt.toml";
const REVOKED: &str = "validated-joiner-declared-dead-is-refused-its-stale-join-ready.toml";
const SKIPPED: &str = "roles-that-name-nobody-skip-their-steps.toml";

#[test]
fn scenario_expectations_of_the_meta_storage_fail_when_wrong() {
    let who = "expected a Meta Storage leader with";
    wrong_copy_fails(MS, "ms_version = 2", "ms_version = 3", who);
    wrong_copy_fails(
        MS,
        "ms_learners = [\"n1\", \"n2\"]",
        "ms_learners = []",
        who,
    );
    wrong_copy_fails(
        MS,
        "ms_voters = [\"n3\", \"n4\", \"n5\"]",
        "ms_voters = [\"n1\", \"n2\", \"n3\"]",
        who,
    );
}

#[test]
fn scenario_expectations_of_the_lt_fail_when_wrong() {
    wrong_copy_fails(MS, "lt_version = 5", "lt_version = 4", "LT version 4");
    wrong_copy_fails(SKIPPED, "lt_version = 5", "lt_version = 6", "LT version 6");
    wrong_copy_fails(
        TWO,
        "lts = [[\"n1\", \"n2\", \"n3\"], [\"n4\", \"n5\", \"n6\"]]",
        "lts = [[\"n1\", \"n2\", \"n3\"]]",
        "expected one LT per cluster",
    );
    wrong_copy_fails(
        TWO,
        "lts = [[\"n1\", \"n2\", \"n3\"], [\"n4\", \"n5\", \"n6\"]]",
        "lts = [[\"n1\", \"n2\"], [\"n3\", \"n4\", \"n5\", \"n6\"]]",
        "expected one LT per cluster",
    );
}

#[test]
fn scenario_answers_of_another_tag_and_of_a_skipped_init_fail_when_wrong() {
    wrong_copy_fails(
        TWO,
        "expect = \"other_tag:a\"",
        "expect = \"same_tag:a\"",
        "expected SameTagAs(\"a\")",
    );
    wrong_copy_fails(
        SKIPPED,
        "id = \"never\"\nvia = \"ms_leader\"\ncluster = \"c0\"\ncmg = [\"n1\"]\nexpect = \"any\"",
        "id = \"never\"\nvia = \"ms_leader\"\ncluster = \"c0\"\ncmg = [\"n1\"]\nexpect = \"ok\"",
        "the step did nothing (ms_leader: no node leads)",
    );
    wrong_copy_fails(
        "duplicate-name-refused-while-original-lives.toml",
        "n4b = \"rejected:join:duplicate_name\"",
        "n4b = \"rejected:join:tag_mismatch\"",
        "n4b: expected rejected:join:tag_mismatch, got rejected:join:duplicate_name",
    );
}

#[test]
fn scenario_order_expectations_fail_when_reversed() {
    wrong_copy_fails(
        TWO,
        "first = { event = \"cluster_initialized\" }\nthen = { event = \"init_answered\", id = \"a\" }",
        "first = { event = \"init_answered\", id = \"a\" }\nthen = { event = \"cluster_initialized\" }",
        "the second happened first",
    );
    wrong_copy_fails(
        REVOKED,
        "first = { event = \"node_declared_dead\", node = \"n4\" }\nthen = { event = \"validation_revoked\", node = \"n4\" }",
        "first = { event = \"validation_revoked\", node = \"n4\" }\nthen = { event = \"node_declared_dead\", node = \"n4\" }",
        "the second happened first",
    );
    wrong_copy_fails(
        MS,
        "then = { event = \"ms_version_applied\", version = 2 }",
        "then = { event = \"ms_version_applied\", version = 3 }",
        "the second never happened",
    );
}

#[test]
fn scenario_events_with_a_wrong_version_or_group_never_happen() {
    let missed = "did not happen by the deadline";
    wrong_copy_fails(
        MS,
        "after = { event = \"ms_version_applied\", version = 2, node = \"n5\" }",
        "after = { event = \"ms_version_applied\", version = 3, node = \"n5\" }",
        missed,
    );
    wrong_copy_fails(
        MS,
        "after = { event = \"lt_version_reached\", version = 5 }",
        "after = { event = \"lt_version_reached\", version = 6 }",
        missed,
    );
    // n2 is a CMG voter: its CMG replica started with the init, before the step that waits.
    wrong_copy_fails(
        MS,
        "after = { event = \"group_started\", node = \"n2\", group = \"ms\" }\naction = \"wait\"\n\n[[step]]\nafter = { event = \"cluster_state_received\", node = \"n5\" }",
        "after = { event = \"group_started\", node = \"n2\", group = \"ms\" }\naction = \"wait\"\n\n[[step]]\nafter = { event = \"group_started\", node = \"n5\", group = \"cmg\" }",
        missed,
    );
}

/// A small file: n1..n3 form the CMG, n4 does what `steps` say; the liveness phase is off.
fn small(steps: &str, expect: &str) -> String {
    format!(
        "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \"n1\"\n[[node]]\nname = \"n2\"\n[[node]]\nname = \"n3\"\n[[node]]\nname = \"n4\"\nstart = false\n[[step]]\nat_ms = 1000\naction = \"init\"\nvia = \"n1\"\ncluster = \"c\"\ncmg = [\"n1\", \"n2\", \"n3\"]\nexpect = \"ok\"\n{steps}\n[liveness]\nenabled = false\nreason = \"a test\"\n[expect]\ndeadline_ms = 15000\n{expect}\n"
    )
}

#[test]
fn scenario_left_lt_never_fires_for_a_node_that_was_never_in_the_lt() {
    let text = small(
        "[[step]]\nafter = { event = \"joined\", node = \"n3\" }\naction = \"wait\"\n[[step]]\nafter = { event = \"left_lt\", node = \"n4\" }\naction = \"wait\"",
        "",
    );
    let result = run_text("left.toml", &text);
    assert!(!result.passed);
    assert!(
        result.failures[0].contains("LeftLt(\"n4\") did not happen by the deadline"),
        "{:?}",
        result.failures
    );
}

#[test]
fn scenario_node_declared_dead_needs_a_death_seen_by_the_cmg_leader() {
    let steps = "[[step]]\nafter = { event = \"joined\", node = \"n3\" }\naction = \"start\"\nnode = \"n4\"\n[[step]]\nafter = { event = \"joined\", node = \"n4\" }\naction = \"wait\"\n[[step]]\nafter = { event = \"node_declared_dead\", node = \"n4\" }\naction = \"wait\"";
    let alive = run_text("alive.toml", &small(steps, ""));
    assert!(
        alive
            .failures
            .iter()
            .any(|f| f.contains("NodeDeclaredDead(\"n4\") did not happen")),
        "{:?}",
        alive.failures
    );
    let killed = steps.replace(
        "node = \"n4\" }\naction = \"wait\"\n[[step]]\nafter = { event = \"node_declared_dead\"",
        "node = \"n4\" }\naction = \"kill\"\nnode = \"n4\"\n[[step]]\nafter = { event = \"node_declared_dead\"",
    );
    let dead = run_text("dead.toml", &small(&killed, ""));
    assert!(dead.passed, "{:?}", dead.failures);
}

#[test]
fn scenario_cmg_lts_agree_fails_while_a_replica_is_cut_off() {
    // n3's CMG replica is cut off before n4 joins: its LT stays behind the others'.
    let steps = "[[step]]\nafter = { event = \"joined\", node = \"n3\" }\naction = \"partition\"\ngroups = [[\"n3\"], [\"n1\", \"n2\", \"n4\"]]\n[[step]]\naction = \"start\"\nnode = \"n4\"\n[[step]]\nafter = { event = \"joined\", node = \"n4\" }\naction = \"wait\"";
    let apart = run_text("apart.toml", &small(steps, "cmg_lts_agree = true"));
    assert!(
        apart
            .failures
            .iter()
            .any(|f| f.contains("the CMG replicas of cluster c disagree on the LT")),
        "{:?}",
        apart.failures
    );
    let healed = steps.to_string()
        + "\n[[step]]\naction = \"heal\"\n[[step]]\nat_ms = 12000\naction = \"wait\"";
    let together = run_text("together.toml", &small(&healed, "cmg_lts_agree = true"));
    assert!(together.passed, "{:?}", together.failures);
}

#[test]
fn scenario_roles_that_name_nobody_leave_a_note_per_skipped_step() {
    let result = run_text(SKIPPED, &shipped(SKIPPED));
    assert!(result.passed, "{:?}", result.failures);
    let skipped: Vec<u64> = result
        .trace
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Harness(HarnessEvent::StepSkipped { step, .. }) => Some(*step),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, vec![1, 2, 3, 4]);
}

#[test]
fn scenario_roles_resolve_to_the_node_that_holds_them() {
    // The validator of n6 is killed and started again: the kill's target is the node whose
    // Validated event for n6 came last before it.
    let file = "validator-killed-and-restarted-before-the-join-ready.toml";
    let result = run_text(file, &shipped(file));
    assert!(result.passed, "{:?}", result.failures);
    let trace = &result.trace;
    let killed = trace
        .iter()
        .position(|e| matches!(e.kind, TraceKind::Harness(HarnessEvent::NodeKilled)))
        .expect("a kill");
    let validator = trace[..killed]
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            TraceKind::Protocol(joinsim::Event::Validated { node, .. }) if node == "n6" => {
                Some(e.node.clone())
            }
            _ => None,
        })
        .expect("a validation of n6 before the kill");
    assert_eq!(trace[killed].node, validator);
    assert!(matches!(
        trace[killed + 1].kind,
        TraceKind::Harness(HarnessEvent::NodeStarted)
    ));
    assert_eq!(trace[killed + 1].node, validator);
}

/// A step `after` an event with no delay acts at the event itself: in
/// `race-leader-killed-the-instant-it-validates`, the leader whose replica records n4's
/// validation is killed at that instant, and nothing of that output — no later event, no
/// message, in particular no join response to n4 — happens after it. (A step that only polled
/// the trace would let the leader answer first.)
#[test]
fn a_step_after_an_event_acts_before_anything_else_of_that_output() {
    let file = "race-leader-killed-the-instant-it-validates.toml";
    let text = shipped(file);
    let scenario = parse_scenario(file, &text).unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..8 {
        let result = run_scenario(&scenario, seed, true);
        assert!(result.passed, "seed {seed}: {:?}", result.failures);
        let trace = &result.trace;
        let validated = trace
            .iter()
            .position(|e| {
                matches!(&e.kind, TraceKind::Protocol(joinsim::Event::Validated { node, .. }) if node == "n4")
            })
            .expect("n4 was validated");
        let (leader, at) = (&trace[validated].node, trace[validated].time_us);
        let rest = &trace[validated + 1..];
        let killed = rest
            .iter()
            .position(|e| {
                &e.node == leader && matches!(e.kind, TraceKind::Harness(HarnessEvent::NodeKilled))
            })
            .unwrap_or_else(|| panic!("seed {seed}: {leader} was not killed"));
        assert_eq!(
            rest[killed].time_us, at,
            "seed {seed}: killed at the event's instant"
        );
        let before_kill = rest[..killed].iter().filter(|e| &e.node == leader).count();
        assert_eq!(
            before_kill,
            0,
            "seed {seed}: {leader} went on after its validation of n4: {:?}",
            &rest[..killed]
        );
        let answered = rest.iter().any(|e| {
            matches!(&e.kind, TraceKind::Message(m) if &m.from == leader && m.kind == joinsim::MessageKind::JoinResponse)
        });
        assert!(!answered, "seed {seed}: the killed leader answered n4");
    }
}
