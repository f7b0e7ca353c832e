//! The campaign's marks: derived from traces, listed hit and unhit by rarity, and judged.

use std::collections::BTreeMap;

use joinsim::{Event, GroupKind, Mark, Rarity, Role};
use strum::IntoEnumIterator;

use super::*;
use crate::trace::{HarnessEvent, TraceEntry, TraceKind};

fn entry(time_us: u64, node: &str, kind: TraceKind) -> TraceEntry {
    TraceEntry {
        time_us,
        node: node.into(),
        kind,
    }
}

fn event(time_us: u64, node: &str, event: Event) -> TraceEntry {
    entry(time_us, node, TraceKind::Protocol(event))
}

fn leader(time_us: u64, node: &str) -> TraceEntry {
    event(
        time_us,
        node,
        Event::RoleChanged {
            group: GroupKind::Cmg,
            instance: joinsim::InstanceId(1),
            role: Role::Leader,
            term: 1,
            leader: Some(node.into()),
        },
    )
}

/// Every mark hit `runs` times, but those named in `unhit`.
fn coverage_without(unhit: &[&str], runs: u64) -> BTreeMap<String, u64> {
    registry()
        .into_iter()
        .filter(|(name, ..)| !unhit.contains(name))
        .map(|(name, ..)| (name.to_string(), runs))
        .collect()
}

fn a_common_and_a_rare_mark() -> (&'static str, &'static str) {
    let common = registry()
        .into_iter()
        .find(|(_, _, r)| *r == Rarity::Common)
        .unwrap()
        .0;
    let rare = registry()
        .into_iter()
        .find(|(_, _, r)| *r == Rarity::Rare)
        .unwrap()
        .0;
    (common, rare)
}

/// A judged campaign that leaves a common mark unhit fails, naming it; one that leaves only
/// rare marks unhit passes; a campaign that is not judged only reports.
#[test]
fn a_judged_campaign_missing_a_common_mark_fails() {
    let (common, rare) = a_common_and_a_rare_mark();
    let missing_common = report(
        &coverage_without(&[common, rare], 3),
        judged(1_000, false, 1),
    );
    assert!(missing_common.judged);
    assert_eq!(missing_common.unhit_common, vec![common.to_string()]);
    assert_eq!(missing_common.unhit_rare, vec![rare.to_string()]);
    let failure = missing_common.verdict().expect("a common mark unhit fails");
    assert!(failure.contains(common), "{failure}");
    assert!(!failure.contains(rare), "{failure}");

    let missing_rare = report(&coverage_without(&[rare], 3), judged(6_000, false, 1));
    assert_eq!(missing_rare.verdict(), None);
    assert_eq!(missing_rare.hit_common.get(common), Some(&3));

    for not_judged in [
        judged(999, false, 1),
        judged(5_000, true, 1),
        judged(5_000, false, 8),
    ] {
        let why = not_judged.clone().unwrap_err();
        let small = report(&coverage_without(&[common], 3), not_judged);
        assert!(!small.judged);
        assert_eq!(small.not_judged.as_deref(), Some(why.as_str()));
        assert_eq!(small.unhit_common, vec![common.to_string()]);
        assert_eq!(small.verdict(), None, "{why}");
    }
}

/// The report lists every mark once, hit (with its runs) or unhit, under its own rarity, and
/// ignores counters that are not marks.
#[test]
fn the_report_lists_every_mark_once_by_rarity() {
    let mut coverage = coverage_without(&[], 0);
    coverage.insert(Mark::StaleMsCatchUp.name().into(), 7);
    coverage.insert("fault:clock:drawn".into(), 9);
    let report = report(&coverage, judged(1_000, false, 1));
    let listed = report.hit_common.len()
        + report.hit_rare.len()
        + report.unhit_common.len()
        + report.unhit_rare.len();
    assert_eq!(listed, Mark::iter().count() + WorldMark::iter().count());
    assert_eq!(report.hit_common.get("stale_ms_catch_up"), Some(&7));
    assert!(!report.hit_common.contains_key("fault:clock:drawn"));
    for name in &report.unhit_rare {
        let rarity = registry().into_iter().find(|(n, ..)| n == name).unwrap().2;
        assert_eq!(rarity, Rarity::Rare, "{name}");
    }
}

/// A protocol mark is read from the node's `Event::Mark`; the world's marks from the phases:
/// a leader change while a node waits for validation, and a kill of a node recovering.
#[test]
fn marks_are_derived_from_a_trace() {
    let trace = vec![
        leader(1, "n1"),
        event(2, "n2", Event::EnteredTopology { via: "n1".into() }),
        event(
            3,
            "n2",
            Event::JoinRequestSent {
                leader: "n1".into(),
                stored: None,
            },
        ),
        leader(4, "n3"),
        event(5, "n2", Event::Mark(Mark::StaleMsCatchUp)),
        event(
            6,
            "n4",
            Event::JoinAccepted {
                tag: joinsim::ClusterTag {
                    name: "c".into(),
                    id: joinsim::ClusterId(1),
                },
                stored_ms_version: None,
                cluster_ms_version: 1,
            },
        ),
        entry(7, "n4", TraceKind::Harness(HarnessEvent::NodeKilled)),
    ];
    let hit = marks_of(&trace, &[]);
    assert!(hit.contains("stale_ms_catch_up"), "{hit:?}");
    assert!(hit.contains("leader_change_during_join_request"), "{hit:?}");
    assert!(hit.contains("restart_during_recovery"), "{hit:?}");
    // The first leader is no change; n2 was in a topology then, with no cluster committed.
    assert!(
        !hit.contains("leader_change_while_waiting_for_init"),
        "{hit:?}"
    );
    assert!(!hit.contains("restart_during_join_request"), "{hit:?}");
}

/// Protocol and world marks never share a name.
#[test]
fn mark_names_are_unique_across_protocol_and_world() {
    let names: std::collections::BTreeSet<&str> =
        registry().into_iter().map(|(name, ..)| name).collect();
    assert_eq!(names.len(), registry().len());
}

/// The campaign's exit code: 1 on a failed run (whatever its marks), 3 on a judged campaign
/// that left a common mark unhit, 0 otherwise (a campaign that is not judged included).
#[test]
fn a_judged_campaign_missing_a_common_mark_exits_3() {
    use crate::fuzz::campaign::{exit_code, Summary};
    let (common, _) = a_common_and_a_rare_mark();
    let summary = |unhit: &[&str], runs: u64, failures: u64| {
        let mut summary = Summary {
            runs,
            marks: report(&coverage_without(unhit, 1), judged(runs, false, 1)),
            ..Summary::default()
        };
        if failures > 0 {
            summary.failures.insert("liveness".into(), failures);
        }
        summary
    };
    assert_eq!(exit_code(&summary(&[], 1_000, 0)), 0);
    assert_eq!(exit_code(&summary(&[common], 1_000, 0)), 3);
    assert_eq!(exit_code(&summary(&[common], 999, 0)), 0);
    assert_eq!(exit_code(&summary(&[common], 1_000, 2)), 1);
    assert_eq!(exit_code(&summary(&[], 1_000, 2)), 1);
}

/// docs/fuzzing.md's table of marks has one row per mark, with its rarity, and no other.
#[test]
fn the_docs_table_lists_every_mark_with_its_rarity() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/fuzzing.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let rows: Vec<(&str, &str)> = docs
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let rarity = *cells.get(3)?;
            ["common", "rare"]
                .contains(&rarity)
                .then_some((name, rarity))
        })
        .collect();
    let expected: Vec<(&str, &str)> = registry()
        .into_iter()
        .map(|(name, _, rarity)| {
            let rarity = match rarity {
                Rarity::Common => "common",
                Rarity::Rare => "rare",
            };
            (name, rarity)
        })
        .collect();
    assert_eq!(rows, expected);
}
