//! Unit tests of `src/topology/swim.rs`: one probe per period, indirect probes at half the
//! period, suspicion at its end, removal after `failure_timeout_ms`, and what clears a suspicion.

use super::*;
use crate::config::{FailureDetector, Timing};
use crate::topology::{Identity, MemberRecord};
use crate::types::{NodeInfo, ProductVersion, ProtocolVersion};

fn addr(n: u8) -> Addr {
    Addr::new([10, 0, 0, n], 7000)
}

fn record(n: u8) -> MemberRecord {
    MemberRecord {
        identity: Identity {
            info: NodeInfo {
                name: format!("n{n}"),
                addr: addr(n),
                launch: LaunchId(1),
                protocol: ProtocolVersion(1),
                product: ProductVersion::new(3, 0, 0),
            },
            tag: None,
            init: None,
            replica_of: None,
            incarnation: 1,
        },
        admitted_tag: None,
        admitted_at_ms: 0,
        admitted_by: "n1".into(),
        admitter_tag: None,
    }
}

fn timing() -> Timing {
    Timing {
        failure_detector: FailureDetector::Swim,
        ..Timing::default()
    }
}

/// A view of members 2..=n, all met at time 0.
fn view(n: u8) -> PhysicalTopology {
    let mut t = PhysicalTopology::new();
    for i in 2..=n {
        t.merge(record(i), true, 0);
    }
    t
}

#[test]
fn one_probe_per_period_and_every_member_once_per_round() {
    let timing = timing();
    let mut t = view(6);
    let mut rng = Rng::new(7);
    let mut probed = Vec::new();
    let period = timing.probe_interval_ms;
    for tick in 0..50u64 {
        let now = tick * 100;
        let out = t.swim_tick(now, &timing, &mut rng);
        if let Some(target) = out.probe {
            probed.push((now, target));
            // The target answers at once.
            t.heard_from(target, LaunchId(1), now + 1);
        }
        assert!(out.suspected.is_none() && out.dead.is_empty());
    }
    assert_eq!(probed.len(), 10, "one probe per period: {probed:?}");
    for pair in probed.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= period);
    }
    // A round covers every member once.
    let mut first: Vec<Addr> = probed[..5].iter().map(|p| p.1).collect();
    first.sort();
    assert_eq!(first, (2..=6).map(addr).collect::<Vec<_>>());
}

#[test]
fn a_silent_target_gets_indirect_probes_then_suspicion_then_removal() {
    let timing = timing();
    let mut t = view(5);
    let mut rng = Rng::new(1);
    let first = t.swim_tick(0, &timing, &mut rng);
    let target = first.probe.expect("a probe at once");
    // Half a period without an answer: three others are asked.
    let half = t.swim_tick(timing.probe_interval_ms / 2, &timing, &mut rng);
    let (asked_about, helpers) = half.indirect.expect("indirect probes");
    assert_eq!(asked_about, target);
    assert_eq!(helpers.len(), SWIM_INDIRECT_PROBES);
    assert!(!helpers.contains(&target));
    // A period without an answer: suspected, and the next probe goes out.
    let end = t.swim_tick(timing.probe_interval_ms, &timing, &mut rng);
    assert_eq!(end.suspected, Some(target));
    assert!(t.is_suspected(target));
    assert!(end.probe.is_some());
    // The others answer every probe; the suspect stays silent and is removed once the
    // suspicion is `failure_timeout_ms` old.
    let mut now = timing.probe_interval_ms;
    let mut dead = Vec::new();
    while dead.is_empty() && now < 10 * timing.failure_timeout_ms {
        now += timing.tick_ms;
        for i in 2..=5 {
            if addr(i) != target {
                t.heard_from(addr(i), LaunchId(1), now);
            }
        }
        dead = t.swim_tick(now, &timing, &mut rng).dead;
    }
    assert_eq!(dead, vec![target]);
    assert_eq!(now, timing.probe_interval_ms + timing.failure_timeout_ms);
}

#[test]
fn a_word_from_the_suspect_or_a_newer_incarnation_clears_the_suspicion() {
    let mut t = view(3);
    assert!(t.suspect(addr(2), LaunchId(1), Some(1), 100));
    assert!(
        !t.suspect(addr(2), LaunchId(1), Some(1), 200),
        "already suspected"
    );
    t.heard_from(addr(2), LaunchId(1), 300);
    assert!(!t.is_suspected(addr(2)));
    // A rumor about an older incarnation than the one held, or another launch, is ignored.
    let mut newer = record(2);
    newer.identity.incarnation = 4;
    t.merge(newer.clone(), false, 400);
    assert!(!t.suspect(addr(2), LaunchId(1), Some(3), 500));
    assert!(!t.suspect(addr(2), LaunchId(9), Some(9), 500));
    assert!(t.suspect(addr(2), LaunchId(1), Some(4), 500));
    newer.identity.incarnation = 5;
    assert_eq!(
        t.merge(newer, false, 600),
        crate::topology::Merged::Refreshed
    );
    assert!(!t.is_suspected(addr(2)), "refuted");
}

#[test]
fn a_refutation_raises_the_incarnation_the_next_record_carries() {
    let mut t = PhysicalTopology::new();
    t.enter(record(1));
    let before = t
        .current_me(record(1).identity)
        .unwrap()
        .identity
        .incarnation;
    t.refute();
    let after = t
        .current_me(record(1).identity)
        .unwrap()
        .identity
        .incarnation;
    assert!(after > before, "{before} -> {after}");
}
