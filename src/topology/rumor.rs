//! SWIM's dissemination (`FailureDetector::Swim`): the membership changes a node passes on,
//! piggybacked on its probes and acks ([`Rumor`]), and the queue that bounds how often each is
//! passed on ([`Rumors`]).

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::MemberRecord;
use crate::types::{Addr, LaunchId};

/// At most this many rumors wait to be passed on; when more arrive, the one passed on most
/// often already is dropped.
pub(crate) const MAX_RUMORS: usize = 256;
/// At most this many rumors ride on one probe or ack.
pub(crate) const MAX_PIGGYBACK: usize = 6;
/// SWIM's λ: each rumor is passed on `λ × ⌈log₂(n + 1)⌉` times, n the members in view.
const RETRANSMIT_FACTOR: u32 = 3;

/// A membership change, as a node passes it on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rumor {
    /// A member's record: a new member, or a newer incarnation of one.
    Alive(Arc<MemberRecord>),
    /// The member at `addr` (launch `launch`, at `incarnation`) did not answer a probe.
    Suspect {
        /// Its address.
        addr: Addr,
        /// Its launch.
        launch: LaunchId,
        /// The incarnation suspected: a record with a higher one refutes it.
        incarnation: u64,
    },
    /// The member at `addr` (launch `launch`) was suspected for `failure_timeout_ms` and removed.
    Dead {
        /// Its address.
        addr: Addr,
        /// Its launch.
        launch: LaunchId,
    },
}

impl Rumor {
    /// The member the rumor is about.
    pub fn addr(&self) -> Addr {
        match self {
            Rumor::Alive(record) => record.addr(),
            Rumor::Suspect { addr, .. } | Rumor::Dead { addr, .. } => *addr,
        }
    }
}

/// The rumors a node passes on, newest first, each with how often it was passed on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rumors {
    queue: VecDeque<(Rumor, u32)>,
}

impl Rumors {
    /// Starts passing on `rumor`: it replaces any older rumor about the same member and goes
    /// first. At most [`MAX_RUMORS`] wait; past that, the rumor passed on most often already
    /// (the last of them in the queue) is dropped.
    pub fn spread(&mut self, rumor: Rumor) {
        let addr = rumor.addr();
        self.queue.retain(|(r, _)| r.addr() != addr);
        self.queue.push_front((rumor, 0));
        if self.queue.len() > MAX_RUMORS {
            let most_sent = self
                .queue
                .iter()
                .enumerate()
                .max_by_key(|(i, (_, sent))| (*sent, *i))
                .map(|(i, _)| i);
            if let Some(i) = most_sent {
                self.queue.remove(i);
            }
        }
    }

    /// The rumors for one message: the first [`MAX_PIGGYBACK`] of the queue. Each counts one
    /// more passing-on and goes to the back, or leaves the queue once it was passed on as often
    /// as [`retransmit_limit`] allows for a view of `members`.
    pub fn take(&mut self, members: usize) -> Vec<Rumor> {
        let limit = retransmit_limit(members);
        let count = self.queue.len().min(MAX_PIGGYBACK);
        let mut taken = Vec::with_capacity(count);
        for _ in 0..count {
            let Some((rumor, sent)) = self.queue.pop_front() else {
                break;
            };
            taken.push(rumor.clone());
            if sent + 1 < limit {
                self.queue.push_back((rumor, sent + 1));
            }
        }
        taken
    }

    /// How many rumors wait.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }
}

/// How often a rumor is passed on in a view of `members` members: `λ × ⌈log₂(members + 1)⌉`
/// (SWIM §4.1: enough for it to reach every member with high probability), at least λ.
pub(crate) fn retransmit_limit(members: usize) -> u32 {
    let n = members as u64 + 1;
    let log2_ceil = 64 - (n - 1).leading_zeros();
    RETRANSMIT_FACTOR * log2_ceil.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead(n: u8) -> Rumor {
        Rumor::Dead {
            addr: Addr::new([10, 0, 0, n], 7000),
            launch: LaunchId(1),
        }
    }

    #[test]
    fn the_limit_grows_as_the_log_of_the_view() {
        assert_eq!(retransmit_limit(0), 3);
        assert_eq!(retransmit_limit(1), 3);
        assert_eq!(retransmit_limit(3), 6);
        assert_eq!(retransmit_limit(7), 9);
        assert_eq!(retransmit_limit(1000), 30);
    }

    #[test]
    fn a_rumor_is_passed_on_as_often_as_the_limit_then_dropped() {
        let mut rumors = Rumors::default();
        rumors.spread(dead(1));
        for _ in 0..retransmit_limit(1) {
            assert_eq!(rumors.take(1), vec![dead(1)]);
        }
        assert!(rumors.take(1).is_empty());
        assert_eq!(rumors.len(), 0);
    }

    #[test]
    fn newer_rumors_go_first_and_replace_older_ones_about_the_same_member() {
        let mut rumors = Rumors::default();
        for n in 1..=8 {
            rumors.spread(dead(n));
        }
        let first = rumors.take(100);
        assert_eq!(first.len(), MAX_PIGGYBACK);
        assert_eq!(first[0], dead(8), "newest first");
        // A suspicion of member 2 replaces the removal rumored before and goes first.
        let suspect = Rumor::Suspect {
            addr: Addr::new([10, 0, 0, 2], 7000),
            launch: LaunchId(1),
            incarnation: 3,
        };
        rumors.spread(suspect.clone());
        assert_eq!(rumors.len(), 8);
        assert_eq!(rumors.take(100)[0], suspect);
        for n in 0..=u8::MAX / 2 {
            rumors.spread(dead(n));
            rumors.spread(Rumor::Dead {
                addr: Addr::new([10, 0, 1, n], 7000),
                launch: LaunchId(1),
            });
        }
        rumors.spread(dead(200));
        assert_eq!(rumors.len(), MAX_RUMORS, "bounded");
    }

    #[test]
    fn past_the_bound_the_rumor_passed_on_most_is_dropped_not_a_fresh_one() {
        let mut rumors = Rumors::default();
        for n in 0..=u8::MAX {
            rumors.spread(dead(n));
        }
        let sent = rumors.take(1000);
        assert_eq!(sent.len(), MAX_PIGGYBACK);
        rumors.spread(Rumor::Dead {
            addr: Addr::new([10, 0, 9, 9], 7000),
            launch: LaunchId(1),
        });
        assert_eq!(rumors.len(), MAX_RUMORS);
        let held = |r: &Rumor| rumors.queue.iter().any(|(q, _)| q == r);
        assert!(held(&dead(0)), "the oldest, never sent, stays");
        let dropped: Vec<&Rumor> = sent.iter().filter(|r| !held(r)).collect();
        assert_eq!(dropped.len(), 1, "one of those sent once is dropped");
    }
}
