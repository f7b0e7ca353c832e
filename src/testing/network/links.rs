//! The test network's links: partitions (both ways or one way), healing, and the latency and
//! loss of messages sent from now on.

use std::collections::BTreeSet;

use super::Network;
use crate::testing::log::{HarnessAction, LogKind};

impl Network {
    pub(super) fn set_latency(&mut self, min_ms: u64, max_ms: u64, loss: f64) {
        assert!(min_ms <= max_ms, "latency range is reversed");
        assert!((0.0..=1.0).contains(&loss), "loss must be within 0..=1");
        self.latency_us = (min_ms * 1_000, max_ms.max(min_ms + 1) * 1_000);
        self.loss = loss;
    }

    fn cut_link(&mut self, from: &str, to: &str) -> bool {
        let pair = (self.index(from), self.index(to));
        self.cut.insert(pair)
    }

    /// Splits the nodes into groups that cannot reach each other, both ways. Nodes in no group
    /// keep their links. A cut link loses the messages sent over it while it is cut (as madsim's
    /// clogged links do); messages already on their way arrive.
    pub fn partition(&mut self, groups: &[&[&str]]) {
        let mut links = Vec::new();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i == j {
                    continue;
                }
                for from in a.iter() {
                    for to in b.iter() {
                        if self.cut_link(from, to) {
                            links.push((from.to_string(), to.to_string()));
                        }
                    }
                }
            }
        }
        self.record("-", LogKind::Harness(HarnessAction::Partitioned { links }));
    }

    /// Cuts the messages from `from` to `to` only.
    pub fn partition_oneway(&mut self, from: &str, to: &str) {
        let mut links = Vec::new();
        if self.cut_link(from, to) {
            links.push((from.to_string(), to.to_string()));
        }
        self.record("-", LogKind::Harness(HarnessAction::Partitioned { links }));
    }

    /// Restores every cut link.
    pub fn heal(&mut self) {
        self.cut.clear();
        self.record("-", LogKind::Harness(HarnessAction::Healed));
    }

    /// The links currently cut, as (from, to) labels.
    pub fn cut_links(&self) -> BTreeSet<(String, String)> {
        self.cut
            .iter()
            .map(|&(a, b)| (self.slots[a].label.clone(), self.slots[b].label.clone()))
            .collect()
    }

    /// Sets the latency range (milliseconds) and loss rate of the messages sent from now on.
    ///
    /// # Panics
    /// When `min > max` or `loss` is outside `0..=1`.
    pub fn set_network(&mut self, latency_min_ms: u64, latency_max_ms: u64, loss: f64) {
        self.set_latency(latency_min_ms, latency_max_ms, loss);
        self.record(
            "-",
            LogKind::Harness(HarnessAction::NetworkChanged {
                latency_min_ms,
                latency_max_ms,
                loss_ppm: (loss * 1e6) as u64,
            }),
        );
    }
}
