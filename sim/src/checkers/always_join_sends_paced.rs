//! `always_join_sends_paced`: a node's join requests and join readies are paced. In any window
//! of [`WINDOW_MS`] simulated milliseconds one launch sends at most [`MAX_SENDS_PER_WINDOW`] of
//! them. Every path that sends one is driven by the clock (`join_retry_ms`), by a cluster-state
//! notice (a leader resends those every `cluster_state_retry_ms`) or by one answer of the node it
//! asked; a joiner that answers an answer at once, again and again (a redirect to the node that
//! redirected it, a refusal it retries on the spot), loops at network speed. TIGER_STYLE: every
//! loop is bounded; docs/invariants.md.

use std::collections::{BTreeMap, VecDeque};

use joinsim::Event;

use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// The window, simulated milliseconds.
pub const WINDOW_MS: u64 = 1_000;
/// The most join requests and join readies one launch sends within [`WINDOW_MS`]. The paced
/// paths send a few a second (a retry a second, a notice a second from each leader in sight,
/// doubled by message duplication); a loop at network speed sends hundreds.
pub const MAX_SENDS_PER_WINDOW: usize = 50;

/// Each label's latest sends, simulated microseconds (at most [`MAX_SENDS_PER_WINDOW`] kept).
#[derive(Debug, Default)]
pub struct AlwaysJoinSendsPaced {
    sent_us: BTreeMap<String, VecDeque<u64>>,
}

impl Check for AlwaysJoinSendsPaced {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysJoinSendsPaced
    }

    fn observe(&mut self, entry: &TraceEntry, _history: &History) -> Option<Violation> {
        let label = entry.node.as_str();
        match &entry.kind {
            // A new launch starts afresh.
            TraceKind::Protocol(Event::Started { .. }) => {
                self.sent_us.remove(label);
                None
            }
            TraceKind::Protocol(Event::JoinRequestSent { .. } | Event::JoinReadySent { .. }) => {
                let sent = self.sent_us.entry(label.to_string()).or_default();
                // Sends of the last WINDOW_MS only (those at or before now − window fell out).
                while sent
                    .front()
                    .is_some_and(|t| t + WINDOW_MS * 1_000 <= entry.time_us)
                {
                    sent.pop_front();
                }
                if sent.len() >= MAX_SENDS_PER_WINDOW {
                    let first = sent.front().copied().unwrap_or(entry.time_us);
                    return Some(Violation::at(
                        entry,
                        Invariant::AlwaysJoinSendsPaced,
                        vec![label.into()],
                        format!(
                            "{} join requests and join readies within {} ms (since {} ms): more than {MAX_SENDS_PER_WINDOW} in {WINDOW_MS} ms",
                            sent.len() + 1,
                            (entry.time_us - first) / 1_000,
                            first / 1_000
                        ),
                    ));
                }
                sent.push_back(entry.time_us);
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn request() -> Event {
        Event::JoinRequestSent {
            leader: "b".into(),
            stored: None,
        }
    }

    #[test]
    fn a_join_request_every_ten_ms_trips_and_one_a_second_never_does() {
        let storm = (0..=MAX_SENDS_PER_WINDOW as u64)
            .map(|i| (i * 10_000, "a", request()))
            .collect();
        let v = feed_timed(storm).expect("a storm trips");
        assert_eq!(v.invariant, Invariant::AlwaysJoinSendsPaced);
        assert_eq!(v.time_us, MAX_SENDS_PER_WINDOW as u64 * 10_000);
        let paced = (0..500u64).map(|i| (i * 1_000_000, "a", request())).collect();
        assert_eq!(feed_timed(paced), None);
    }

    #[test]
    fn a_restart_starts_the_count_afresh() {
        let mut events: Vec<(u64, &str, Event)> = (0..MAX_SENDS_PER_WINDOW as u64)
            .map(|i| (i, "a", request()))
            .collect();
        events.push((100, "a", started(2, None)));
        events.push((101, "a", request()));
        assert_eq!(feed_timed(events), None);
    }
}
