//! Same seed, same run; another seed, another run.

use super::*;
use crate::testing::LogEntry;

/// The canonical run: five empty nodes, init through n1, all join.
fn canonical(seed: u64) -> (Vec<LogEntry>, u64) {
    let mut net = Network::builder().seed(seed).nodes(5).build();
    let labels = ["n1", "n2", "n3", "n4", "n5"];
    form_cluster(&mut net, &labels, &[]);
    (net.log().to_vec(), net.now_us())
}

#[test]
fn the_same_seed_gives_the_same_event_log() {
    for seed in [1, 2, 3] {
        let (first, first_end) = canonical(seed);
        let (second, second_end) = canonical(seed);
        assert!(first.len() > 100, "a real run: {} entries", first.len());
        assert_eq!(first_end, second_end, "seed {seed}: the runs end apart");
        if let Some(i) = (0..first.len().min(second.len())).find(|&i| first[i] != second[i]) {
            panic!(
                "seed {seed}: entry {i} differs:\n{:?}\n{:?}",
                first[i], second[i]
            );
        }
        assert_eq!(first.len(), second.len(), "seed {seed}");
    }
}

#[test]
fn different_seeds_give_different_event_logs() {
    let logs: Vec<Vec<LogEntry>> = (10..14).map(|seed| canonical(seed).0).collect();
    for i in 0..logs.len() {
        for j in i + 1..logs.len() {
            assert_ne!(
                logs[i],
                logs[j],
                "seeds {} and {} ran alike",
                10 + i,
                10 + j
            );
        }
    }
}

#[test]
fn each_node_gets_its_own_fixed_election_timeout_from_the_seed() {
    let ticks = |seed: u64| -> Vec<usize> {
        let net = Network::builder().seed(seed).nodes(5).build();
        net.labels()
            .iter()
            .map(|l| net.election_ticks_of(l))
            .collect()
    };
    let election = crate::Timing::default().election_ticks;
    let a = ticks(4);
    assert_eq!(a, ticks(4));
    assert!(
        a.iter().all(|t| (election..2 * election).contains(t)),
        "{a:?}"
    );
    let mut distinct = a.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        a.len(),
        "five nodes, ten values: all differ"
    );
    assert!((0..20).any(|seed| ticks(seed) != a), "the seed decides");
}
