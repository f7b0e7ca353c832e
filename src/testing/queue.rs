//! The harness's event queue: everything that will happen, keyed by (time, sequence).
//!
//! Two items due at the same microsecond run in the order they were scheduled (the sequence
//! number breaks the tie), so a run never depends on anything but its seed and its inputs.

use std::collections::BTreeMap;

use crate::message::Envelope;
use crate::types::RequestId;

/// The most items the queue holds at once. A protocol that floods the network past this is a
/// bug worth a loud stop: [`Queue::push`] panics.
pub const MAX_QUEUED: usize = 1_000_000;

/// Where a scheduled message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A node, by index.
    Node(usize),
    /// The simulated user.
    User,
}

/// One thing that will happen.
#[derive(Debug)]
pub(crate) enum Scheduled {
    /// A node's timer: `Node::tick`, if the node still runs the start (`generation`) that
    /// scheduled it.
    Tick { node: usize, generation: u64 },
    /// A message arrives (boxed: an envelope is large, and the queue moves its items).
    Deliver { to: Target, envelope: Box<Envelope> },
    /// The user sends an unanswered request again.
    UserResend { request: RequestId },
}

/// Scheduled items by (time in microseconds, sequence).
#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: BTreeMap<(u64, u64), Scheduled>,
    next_seq: u64,
}

impl Queue {
    /// Schedules `item` at `at_us`.
    ///
    /// # Panics
    /// When [`MAX_QUEUED`] items are already waiting.
    pub fn push(&mut self, at_us: u64, item: Scheduled) {
        assert!(
            self.items.len() < MAX_QUEUED,
            "the test network's queue holds {MAX_QUEUED} items: a message flood?"
        );
        self.next_seq += 1;
        self.items.insert((at_us, self.next_seq), item);
    }

    /// The earliest item, removed, with its time.
    pub fn pop(&mut self) -> Option<(u64, Scheduled)> {
        self.items.pop_first().map(|((at, _), item)| (at, item))
    }

    /// When the earliest item is due.
    pub fn next_time(&self) -> Option<u64> {
        self.items.first_key_value().map(|((at, _), _)| *at)
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_by_time_then_by_scheduling_order() {
        let mut q = Queue::default();
        q.push(
            5,
            Scheduled::Tick {
                node: 0,
                generation: 1,
            },
        );
        q.push(
            3,
            Scheduled::Tick {
                node: 1,
                generation: 1,
            },
        );
        q.push(
            5,
            Scheduled::Tick {
                node: 2,
                generation: 1,
            },
        );
        assert_eq!(q.next_time(), Some(3));
        let order: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop())
            .map(|(at, item)| match item {
                Scheduled::Tick { node, .. } => (at, node),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(order, vec![(3, 1), (5, 0), (5, 2)]);
        assert_eq!(q.len(), 0);
    }
}
