//! The network is the one docs/network.md describes, measured on whole runs: latency uniform in
//! the configured range (default 1–10 ms, inclusive), per-link ranges one way only, a broadcast
//! leaving at one instant, a node answering at the instant a message arrives, duplication,
//! delay beyond latency, pauses, and clocks that drift.

use std::collections::BTreeMap;

use joinsim::MessageKind;
use joinsim_sim::network::{LinkSettings, MessageFilter, RuleAction};
use joinsim_sim::trace::{MessageFate, TraceEntry, TraceKind};
use joinsim_sim::Sim;

use crate::support::*;

/// (sender, receiver, kind, sent at, arrivals) of every message in a trace, by id.
type Flights = BTreeMap<u64, (String, String, MessageKind, u64, Vec<(u64, MessageFate)>)>;

fn flights(trace: &[TraceEntry]) -> Flights {
    let mut out = Flights::new();
    for e in trace {
        let TraceKind::Message(m) = &e.kind else {
            continue;
        };
        match m.fate {
            MessageFate::Sent => {
                out.insert(
                    m.id,
                    (m.from.clone(), m.to.clone(), m.kind, e.time_us, Vec::new()),
                );
            }
            MessageFate::Duplicated => {}
            fate => {
                if let Some(f) = out.get_mut(&m.id) {
                    f.4.push((e.time_us, fate));
                }
            }
        }
    }
    out
}

/// The one-way latency of every message that arrived (first arrival), microseconds.
fn latencies(trace: &[TraceEntry], link: Option<(&str, &str)>) -> Vec<u64> {
    flights(trace)
        .values()
        .filter(|f| link.is_none_or(|(a, b)| f.0 == a && f.1 == b))
        .filter_map(|f| f.4.first().map(|(t, _)| t - f.3))
        .collect()
}

#[test]
fn latency_is_uniform_in_the_default_range() {
    let report = Sim::new(11).nodes(5).run(|w| async move {
        form_cluster(&w, &["n1", "n2", "n3", "n4", "n5"], &["n1", "n2", "n3"]).await;
        w.sleep_ms(40_000).await;
    });
    let all = latencies(&report.trace, None);
    assert!(all.len() > 3_000, "only {} messages", all.len());
    let (min, max) = (all.iter().min().unwrap(), all.iter().max().unwrap());
    // madsim moves its clock on by a fraction of a microsecond as it polls tasks.
    assert!(
        *min >= 1_000 && *max <= 10_001,
        "latencies in {min}..={max} us"
    );
    let mean = all.iter().sum::<u64>() as f64 / all.len() as f64;
    assert!(
        (mean - 5_500.0).abs() < 200.0,
        "mean latency {mean} us, expected 5500"
    );
    // Nine buckets of 1 ms: each should hold a ninth of the messages.
    let mut buckets = [0usize; 9];
    for l in &all {
        buckets[((l - 1_000) / 1_000).min(8) as usize] += 1;
    }
    for (i, n) in buckets.iter().enumerate() {
        let share = *n as f64 / all.len() as f64;
        assert!(
            (0.08..0.145).contains(&share),
            "bucket {}-{} ms holds {share:.3} of the messages: {buckets:?}",
            i + 1,
            i + 2
        );
    }
}

#[test]
fn a_link_of_its_own_is_one_way_and_the_default_changes_the_rest() {
    let report = Sim::new(12).nodes(3).run(|w| async move {
        form_cluster(&w, &["n1", "n2", "n3"], &["n1", "n2", "n3"]).await;
        w.set_network(20, 30, 0.0);
        let slow = LinkSettings {
            latency_min_ms: 50,
            latency_max_ms: 50,
            loss_ppm: 0,
        };
        w.set_link("n1", "n2", slow);
        w.sleep_ms(10_000).await;
    });
    let after = report
        .trace
        .iter()
        .position(|e| {
            matches!(&e.kind, TraceKind::Harness(h) if format!("{h:?}").starts_with("LinkChanged"))
        })
        .expect("the link change is in the trace");
    let later = &report.trace[after + 1..];
    let slow = latencies(later, Some(("n1", "n2")));
    assert!(slow.len() > 20);
    assert!(
        slow.iter().all(|l| (50_000..=50_001).contains(l)),
        "n1 -> n2: {slow:?}"
    );
    let back = latencies(later, Some(("n2", "n1")));
    assert!(back.len() > 20);
    assert!(
        back.iter().all(|l| (20_000..=30_001).contains(l)),
        "n2 -> n1 keeps the default: {back:?}"
    );
}

#[test]
fn an_output_leaves_at_one_instant_and_answers_take_no_time() {
    let report = Sim::new(13).nodes(5).run(|w| async move {
        form_cluster(&w, &["n1", "n2", "n3", "n4", "n5"], &["n1", "n2", "n3"]).await;
        w.sleep_ms(5_000).await;
    });
    let f = flights(&report.trace);
    // A node's sends at one instant: some instant carries four or more (a broadcast).
    let mut per_instant: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for (from, _, _, at, _) in f.values() {
        *per_instant.entry((from.clone(), *at)).or_default() += 1;
    }
    assert!(
        per_instant.values().any(|n| *n >= 4),
        "no broadcast left at one instant"
    );
    // Every probe answer leaves at the instant its probe arrived.
    let arrivals: Vec<(String, String, u64)> = f
        .values()
        .filter(|x| x.2 == MessageKind::Probe)
        .filter_map(|x| x.4.first().map(|(t, _)| (x.0.clone(), x.1.clone(), *t)))
        .collect();
    let acks: Vec<(String, String, u64)> = f
        .values()
        .filter(|x| x.2 == MessageKind::ProbeAck)
        .map(|x| (x.1.clone(), x.0.clone(), x.3))
        .collect();
    assert!(acks.len() > 50);
    for ack in &acks {
        assert!(
            arrivals.contains(ack),
            "ack {ack:?} left at no probe's arrival"
        );
    }
}

#[test]
fn duplicated_messages_travel_twice_and_delayed_ones_are_overtaken() {
    let report = Sim::new(14).nodes(3).run(|w| async move {
        form_cluster(&w, &["n1", "n2", "n3"], &["n1", "n2", "n3"]).await;
        w.add_message_rule(
            MessageFilter::kind(MessageKind::Probe).from("n2"),
            RuleAction::Duplicate,
            Some(20_000),
            1_000_000,
        );
        w.add_message_rule(
            MessageFilter::kind(MessageKind::Probe).from("n3"),
            RuleAction::Delay {
                min_ms: 200,
                max_ms: 300,
            },
            Some(20_000),
            1_000_000,
        );
        w.sleep_ms(20_000).await;
    });
    let duplicated: Vec<u64> = report
        .trace
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Message(m) if m.fate == MessageFate::Duplicated => Some(m.id),
            _ => None,
        })
        .collect();
    assert!(duplicated.len() > 10);
    let f = flights(&report.trace);
    let rules_at = report
        .trace
        .iter()
        .find(|e| matches!(&e.kind, TraceKind::Harness(h) if format!("{h:?}").starts_with("RuleAdded")))
        .map(|e| e.time_us)
        .expect("the rules are in the trace");
    let twice = duplicated.iter().filter(|id| f[id].4.len() == 2).count();
    assert!(
        twice * 10 >= duplicated.len() * 9,
        "{twice} of {} arrived twice",
        duplicated.len()
    );
    let delayed: Vec<u64> = f
        .values()
        .filter(|x| x.0 == "n3" && x.2 == MessageKind::Probe && x.3 >= rules_at)
        .filter_map(|x| x.4.first().map(|(t, _)| t - x.3))
        .collect();
    assert!(delayed.len() > 10);
    assert!(
        delayed.iter().all(|l| (201_000..=310_001).contains(l)),
        "delayed probes: {delayed:?}"
    );
}

#[test]
fn a_paused_node_handles_nothing_then_everything_in_arrival_order() {
    let report = Sim::new(15).nodes(3).run(|w| async move {
        form_cluster(&w, &["n1", "n2", "n3"], &["n1", "n2", "n3"]).await;
        w.pause("n3", 1_000);
        assert!(w.is_paused("n3"));
        w.sleep_ms(1_001).await;
        assert!(!w.is_paused("n3"));
        w.sleep_ms(2_000).await;
    });
    let paused_at = report
        .trace
        .iter()
        .find(
            |e| matches!(&e.kind, TraceKind::Harness(h) if format!("{h:?}").starts_with("Paused")),
        )
        .map(|e| e.time_us)
        .expect("a pause");
    let resumed_at = report
        .trace
        .iter()
        .find(|e| matches!(&e.kind, TraceKind::Harness(h) if format!("{h:?}") == "Resumed"))
        .map(|e| e.time_us)
        .expect("a resume");
    assert_eq!(
        resumed_at,
        paused_at + 1_000_000,
        "resumed exactly at the pause's end"
    );
    let n3_deliveries: Vec<u64> = report
        .trace
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Message(m) if m.to == "n3" && m.fate == MessageFate::Delivered => {
                Some(e.time_us)
            }
            _ => None,
        })
        .collect();
    assert!(n3_deliveries
        .iter()
        .all(|t| *t < paused_at || *t >= resumed_at));
    let at_resume = n3_deliveries.iter().filter(|t| **t == resumed_at).count();
    assert!(
        at_resume > 5,
        "what waited is given at the resume: {at_resume}"
    );
}

#[test]
fn a_drifting_clock_reads_and_ticks_at_its_rate() {
    Sim::new(16).nodes(2).run(|w| async move {
        form_cluster(&w, &["n1", "n2"], &["n1"]).await;
        let (world0, local0) = (w.now_ms(), w.local_ms("n2"));
        w.adjust_clock("n2", 1_000, 100_000).unwrap();
        w.sleep_ms(10_000).await;
        let local = w.local_ms("n2") - local0;
        let world = w.now_ms() - world0;
        let expected = 1_000 + world * 11 / 10;
        assert!(
            local.abs_diff(expected) <= 2,
            "skewed 1 s ahead, then 10% fast: read {local} ms over {world} ms, expected {expected}"
        );
        assert!(w.adjust_clock("n2", 0, 100_001).is_err());
        assert!(w.adjust_clock("n2", 600_001, 0).is_err());
    });
}
