//! The messages in flight, by arrival time, and the one task that hands them over (issue 13:
//! "one timer per delivery").
//!
//! A message on its way used to be a madsim task of its own: spawned at the send, asleep for its
//! latency, then handing the packet over — an allocation, a spawn, a schedule and two polls per
//! message, a quarter of a fuzz run's allocations. Now a sent message is pushed on a
//! [`DeliveryQueue`] ordered by (arrival time, send order), and one task of the network's machine
//! (the *pump*, `World::pump`) sleeps until the earliest arrival, hands over every message due
//! by then in that order, and sleeps again. There is one madsim timer per distinct arrival time
//! that was ever the earliest, each waking the pump once: a send that arrives before every timer
//! set sets its own at once, with the waiting pump's waker (the pump is not polled for it), and
//! the pump sets a timer only for an earliest arrival that has none ([`DeliveryQueue::pending`]).
//!
//! Two messages that arrive at the same instant are handed over in the order they were sent
//! (docs/network.md, "A message's life").

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};
use std::task::Waker;

/// At most this many messages are in flight at once in one world; one more is lost at its send
/// (recorded `dropped`). Far beyond any run's need — 1,000 nodes probing all pairs keep about
/// 10⁵ in flight — it bounds the queue's memory (TIGER_STYLE: every queue has a bound).
pub const MAX_IN_FLIGHT: usize = 1 << 22;

/// One message on its way: what [`DeliveryQueue::pop_due`] gives back at its arrival.
struct InFlight<T> {
    /// Simulated microseconds of the arrival.
    arrival_us: u64,
    /// The send's place among all sends of the world: the tie-breaker of equal arrivals.
    sent: u64,
    item: T,
}

impl<T> PartialEq for InFlight<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.arrival_us, self.sent) == (other.arrival_us, other.sent)
    }
}

impl<T> Eq for InFlight<T> {}

impl<T> PartialOrd for InFlight<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for InFlight<T> {
    /// Reversed, so that the max-heap's top is the earliest arrival, then the earliest send.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.arrival_us, other.sent).cmp(&(self.arrival_us, self.sent))
    }
}

/// The messages in flight of one world (`T`: what is handed over — the packet and its
/// destination), with the pump's wake-up state.
pub struct DeliveryQueue<T> {
    heap: BinaryHeap<InFlight<T>>,
    /// How many sends the queue has taken: the next send's place.
    sends: u64,
    /// The arrivals (simulated µs) a timer is set for that has not fired yet. Each is the
    /// arrival of a message in flight, so there are at most [`MAX_IN_FLIGHT`].
    pending: BTreeSet<u64>,
    /// The pump's waker while it waits (none while it hands messages over).
    waker: Option<Waker>,
}

impl<T> Default for DeliveryQueue<T> {
    fn default() -> Self {
        DeliveryQueue {
            heap: BinaryHeap::new(),
            sends: 0,
            pending: BTreeSet::new(),
            waker: None,
        }
    }
}

/// What the pump does next ([`DeliveryQueue::next_wait`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    /// A message is due now: hand it over.
    Due,
    /// Set a timer for this arrival (simulated µs) and wait.
    Arm(u64),
    /// A timer for the earliest arrival is set, or nothing is in flight: wait.
    Idle,
}

impl<T> DeliveryQueue<T> {
    /// Messages in flight.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Puts `item` on its way to arrive at `arrival_us`. Gives back the waiting pump's waker
    /// when a timer must be set for this arrival — it is earlier than every timer set — which
    /// the caller sets at once with that waker (the queue counts it as set); `Err` with the item
    /// when [`MAX_IN_FLIGHT`] messages are already in flight.
    pub fn push(&mut self, arrival_us: u64, item: T) -> Result<Option<Waker>, T> {
        if self.heap.len() >= MAX_IN_FLIGHT {
            return Err(item);
        }
        let sent = self.sends;
        self.sends += 1;
        self.heap.push(InFlight {
            arrival_us,
            sent,
            item,
        });
        let Some(waker) = self.waker.as_ref() else {
            // The pump hands messages over now and looks at the queue before it waits again.
            return Ok(None);
        };
        if self
            .pending
            .first()
            .is_some_and(|first| *first <= arrival_us)
        {
            return Ok(None);
        }
        self.pending.insert(arrival_us);
        Ok(Some(waker.clone()))
    }

    /// The arrivals a timer is set for that has not fired yet, earliest first.
    pub fn pending(&self) -> impl Iterator<Item = u64> + '_ {
        self.pending.iter().copied()
    }

    /// The earliest message if it arrives at or before `now_us`.
    pub fn pop_due(&mut self, now_us: u64) -> Option<T> {
        if self.heap.peek()?.arrival_us > now_us {
            return None;
        }
        self.heap.pop().map(|m| m.item)
    }

    /// What the pump does at `now_us`, about to wait; it keeps `waker` for the timers a send
    /// sets. [`Wait::Arm`] records the timer as set. Timers of arrivals up to `now_us` have
    /// fired (madsim fires every timer up to its clock before it polls a task).
    pub fn next_wait(&mut self, now_us: u64, waker: &Waker) -> Wait {
        while self.pending.first().is_some_and(|first| *first <= now_us) {
            self.pending.pop_first();
        }
        let Some(head_us) = self.heap.peek().map(|m| m.arrival_us) else {
            self.waker = Some(waker.clone());
            return Wait::Idle;
        };
        if head_us <= now_us {
            self.waker = None;
            return Wait::Due;
        }
        self.waker = Some(waker.clone());
        if self.pending.insert(head_us) {
            Wait::Arm(head_us)
        } else {
            Wait::Idle
        }
    }

    /// Forgets every message in flight and the pump's waker (the world's end).
    pub fn clear(&mut self) {
        self.heap.clear();
        self.pending.clear();
        self.waker = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waker that does nothing: the queue only stores and hands it back.
    fn waker() -> Waker {
        Waker::noop().clone()
    }

    #[test]
    fn messages_arrive_by_time_then_by_send_order() {
        let mut q = DeliveryQueue::default();
        for (arrival_us, name) in [(30, "c"), (10, "a1"), (20, "b"), (10, "a2"), (10, "a3")] {
            q.push(arrival_us, name).expect("room");
        }
        assert_eq!(
            q.pop_due(5),
            None,
            "nothing is due before the first arrival"
        );
        let mut order = Vec::new();
        while let Some(name) = q.pop_due(25) {
            order.push(name);
        }
        assert_eq!(order, ["a1", "a2", "a3", "b"]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_due(30), Some("c"));
        assert!(q.is_empty());
    }

    #[test]
    fn one_timer_per_arrival_set_by_the_send_or_by_the_pump() {
        let w = waker();
        let mut q = DeliveryQueue::default();
        assert!(
            q.push(5, "early").expect("room").is_none(),
            "a handing-over pump sets none"
        );
        assert_eq!(
            q.next_wait(0, &w),
            Wait::Arm(5),
            "the pump sets it before it waits"
        );
        assert_eq!(q.next_wait(0, &w), Wait::Idle, "once");
        assert_eq!(q.next_wait(5, &w), Wait::Due);
        assert_eq!(q.pop_due(5), Some("early"));
        assert_eq!(q.next_wait(5, &w), Wait::Idle, "nothing in flight");
        assert!(
            q.push(50, "x").expect("room").is_some(),
            "the send sets the first timer"
        );
        assert_eq!(q.next_wait(5, &w), Wait::Idle, "its timer is set");
        assert!(
            q.push(70, "y").expect("room").is_none(),
            "a later arrival waits its turn"
        );
        assert!(
            q.push(50, "x2").expect("room").is_none(),
            "an arrival with a timer"
        );
        assert!(
            q.push(20, "z").expect("room").is_some(),
            "an earlier arrival sets its own"
        );
        assert_eq!(q.pending().collect::<Vec<_>>(), [20, 50]);
        assert_eq!(q.next_wait(20, &w), Wait::Due);
        assert_eq!(q.pop_due(20), Some("z"));
        assert!(
            q.push(10, "late").expect("room").is_none(),
            "a handing-over pump: no timer from the send"
        );
        assert_eq!(
            q.next_wait(20, &w),
            Wait::Due,
            "a send due by now is handed over"
        );
        assert_eq!(q.pop_due(20), Some("late"));
        assert_eq!(q.next_wait(20, &w), Wait::Idle, "50 still has its timer");
        assert_eq!(
            q.pending().collect::<Vec<_>>(),
            [50],
            "20's timer has fired"
        );
        assert_eq!(q.next_wait(50, &w), Wait::Due);
        assert_eq!((q.pop_due(50), q.pop_due(50)), (Some("x"), Some("x2")));
        assert_eq!(
            q.next_wait(50, &w),
            Wait::Arm(70),
            "70 never was the earliest"
        );
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.pending().count(), 0);
        assert_eq!(q.next_wait(70, &w), Wait::Idle);
    }

    #[test]
    fn a_full_queue_gives_the_message_back() {
        let mut q = DeliveryQueue::default();
        q.heap.reserve(MAX_IN_FLIGHT);
        for i in 0..MAX_IN_FLIGHT {
            q.push(i as u64, ()).expect("room");
        }
        assert!(matches!(q.push(0, ()), Err(())), "one more is refused");
        assert_eq!(q.len(), MAX_IN_FLIGHT);
    }
}
