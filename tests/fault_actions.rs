//! The fault model's scenario actions at run time (issue 11): each shipped `fault-*` scenario
//! passes seed 0, and a copy of it with its fault action removed (or wrong) fails — the step
//! that needs the fault's effect says so — or, where the outcome is the same without the fault
//! (a duplicate, a delay, a link's latency, a clock), the trace shows the fault's effect and the
//! copy's trace does not.

use joinsim::MessageKind;
use joinsim_sim::trace::MessageFate;
use joinsim_sim::{parse_scenario, run_scenario, HarnessEvent, SeedResult, TraceKind};

fn shipped(file: &str) -> String {
    let path = format!("{}/../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Seed 0 of scenario text, keeping its trace (messages included).
fn run_text(file: &str, text: &str) -> SeedResult {
    let scenario = parse_scenario(file, text).unwrap_or_else(|e| panic!("{e}"));
    run_scenario(&scenario, 0, true)
}

/// The shipped file passes seed 0; returns its run.
fn passes(file: &str) -> SeedResult {
    let right = run_text(file, &shipped(file));
    assert!(right.passed, "{file} as shipped: {:?}", right.failures);
    right
}

/// `file` with `from` replaced by `to` (which must occur in it) runs seed 0.
fn copy(file: &str, from: &str, to: &str) -> SeedResult {
    let text = shipped(file);
    assert!(text.contains(from), "{file} has no {from:?}");
    run_text(file, &text.replacen(from, to, 1))
}

/// The copy fails with a failure that contains `why`.
fn fails(result: &SeedResult, why: &str) {
    assert!(!result.passed, "the copy passed");
    assert!(
        result.failures.iter().any(|f| f.contains(why)),
        "expected a failure containing {why:?}, got {:?}",
        result.failures
    );
}

fn harness(result: &SeedResult, wanted: impl Fn(&HarnessEvent) -> bool) -> usize {
    result
        .trace
        .iter()
        .filter(|e| matches!(&e.kind, TraceKind::Harness(h) if wanted(h)))
        .count()
}

fn messages(result: &SeedResult, kind: Option<MessageKind>, fate: MessageFate) -> usize {
    result
        .trace
        .iter()
        .filter(|e| {
            matches!(&e.kind, TraceKind::Message(m)
                if m.fate == fate && kind.is_none_or(|k| m.kind == k))
        })
        .count()
}

#[test]
fn storage_faults_and_leave_take_the_node_down() {
    for (file, step, why) in [
        (
            "fault-torn-write-of-a-cmg-voter-during-joins.toml",
            "action = \"storage_fault\"\nnode = \"n1\"\nfault = \"torn_write\"",
            "is already running",
        ),
        (
            "fault-crash-after-write-of-a-validating-leader.toml",
            "action = \"storage_fault\"\nnode = \"n1\"\nfault = \"crash_after_write\"",
            "is already running",
        ),
        (
            "fault-power-loss-of-the-initiator-during-a-cancel.toml",
            "action = \"storage_fault\"\nnode = \"n1\"\nfault = \"power_loss\"",
            "is already running",
        ),
        (
            "fault-graceful-leave-of-a-validated-joiner.toml",
            "action = \"leave\"\nnode = \"n4\"",
            // Without the leave nobody revokes n4's validation.
            "ValidationRevoked(\"n4\") did not happen by the deadline",
        ),
    ] {
        passes(file);
        fails(&copy(file, step, "action = \"wait\""), why);
    }
}

#[test]
fn a_torn_record_is_refused_at_the_restart() {
    let run = passes("fault-torn-write-of-a-cmg-voter-during-joins.toml");
    assert_eq!(
        harness(
            &run,
            |h| matches!(h, HarnessEvent::VaultRecordRefused { detail } if detail.contains("torn"))
        ),
        1
    );
}

#[test]
fn a_graceful_leave_revokes_the_validation_of_the_joiner() {
    let run = passes("fault-graceful-leave-of-a-validated-joiner.toml");
    assert_eq!(harness(&run, |h| *h == HarnessEvent::Left), 1);
}

#[test]
fn a_pause_past_the_failure_timeout_gets_the_node_declared_dead() {
    let file = "fault-member-paused-past-the-failure-timeout-comes-back.toml";
    passes(file);
    let unpaused = copy(file, "for_ms = 6000", "for_ms = 500");
    fails(&unpaused, "did not happen by the deadline");
}

#[test]
fn links_default_gives_the_seed_link_back() {
    let file = "fault-links-default-gives-back-a-lossless-seed-link.toml";
    passes(file);
    fails(
        &copy(file, "action = \"links_default\"", "action = \"wait\""),
        "Joined(\"n4\") did not happen by the deadline",
    );
}

#[test]
fn duplicated_messages_arrive_twice_and_make_one_lt_entry() {
    let file = "fault-duplicated-join-traffic-makes-one-lt-entry.toml";
    let run = passes(file);
    assert!(
        messages(
            &run,
            Some(MessageKind::JoinRequest),
            MessageFate::Duplicated
        ) >= 1
    );
    assert!(messages(&run, Some(MessageKind::JoinReady), MessageFate::Duplicated) >= 1);
    let plain = copy(
        file,
        "action = \"duplicate\"\nid = \"from_n4\"",
        "action = \"hold\"\nid = \"from_n4\"\nkind = \"admin_request\"",
    );
    assert!(plain.passed, "{:?}", plain.failures);
    assert_eq!(
        messages(
            &plain,
            Some(MessageKind::JoinRequest),
            MessageFate::Duplicated
        ),
        0
    );
}

/// The microseconds from each message's send to its first arrival, of the messages from `from`
/// (to `to`, if given; never the user's) sent before `until_us`.
fn latencies_us(run: &SeedResult, from: &str, to: Option<&str>, until_us: u64) -> Vec<u64> {
    let mut sent = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for e in &run.trace {
        if let TraceKind::Message(m) = &e.kind {
            if m.from != from || m.to == "user" || to.is_some_and(|t| m.to != t) {
                continue;
            }
            match m.fate {
                MessageFate::Sent if e.time_us < until_us => {
                    sent.insert(m.id, e.time_us);
                }
                MessageFate::Delivered | MessageFate::Held | MessageFate::Dropped => {
                    if let Some(at) = sent.remove(&m.id) {
                        out.push(e.time_us - at);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn asymmetric_links_have_their_own_latency() {
    let file = "fault-asymmetric-links-slow-one-way.toml";
    let run = passes(file);
    // Until `links_default`, n4's messages took 400-600 ms and the answers to it at most 1 ms.
    let cleared = run
        .trace
        .iter()
        .find(|e| matches!(e.kind, TraceKind::Harness(HarnessEvent::LinksCleared)))
        .map(|e| e.time_us)
        .expect("links_default ran");
    let out = latencies_us(&run, "n4", None, cleared);
    assert!(!out.is_empty());
    assert!(
        out.iter().all(|us| (400_000..=600_000).contains(us)),
        "{out:?}"
    );
    for n in ["n1", "n2", "n3"] {
        let back = latencies_us(&run, n, Some("n4"), cleared);
        assert!(!back.is_empty());
        // Drawn in 0..=1 ms; madsim wakes the arrival at its next millisecond (measured
        // 1.000-1.001 ms), far below the 400 ms of the other way.
        assert!(back.iter().all(|us| *us <= 2_000), "{n} -> n4: {back:?}");
    }
    // Without its own settings the link n4 -> n1 has the default latency.
    let plain = copy(
        file,
        "latency_ms = [400, 600]\nloss = 0.3",
        "latency_ms = [1, 10]",
    );
    assert!(plain.passed, "{:?}", plain.failures);
    let default = latencies_us(&plain, "n4", Some("n1"), u64::MAX);
    assert!(!default.is_empty());
    assert!(
        default.iter().all(|us| (1_000..=10_000).contains(us)),
        "{default:?}"
    );
}

#[test]
fn a_delayed_join_ready_arrives_late() {
    let file = "fault-delayed-join-ready-outlives-a-leader-change.toml";
    let run = passes(file);
    let delays: Vec<u64> = latencies_us(&run, "n4", None, u64::MAX);
    assert!(
        delays.iter().any(|us| *us >= 2_500_000),
        "no message of n4 took the delay: {delays:?}"
    );
    let undelayed = copy(file, "delay_ms = [2500, 2500]", "delay_ms = [0, 0]");
    assert!(latencies_us(&undelayed, "n4", None, u64::MAX)
        .iter()
        .all(|us| *us <= 10_000));
}

#[test]
fn drifting_clocks_are_the_machines_and_the_lt_stays() {
    let file = "fault-drifting-clocks-join-and-the-lt-stays-stable.toml";
    let run = passes(file);
    assert_eq!(
        harness(&run, |h| matches!(h, HarnessEvent::ClockAdjusted { .. })),
        3
    );
    // A drift beyond the bound is refused when the file is read.
    let text = shipped(file).replacen("drift_ppm = 100000", "drift_ppm = 100001", 1);
    let e = parse_scenario(file, &text).expect_err("out of bounds");
    assert!(
        e.message.contains("drift_ppm = 100001 is out of range"),
        "{e}"
    );
}
