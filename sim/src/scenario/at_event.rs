//! Steps that act exactly at an event (docs/scenarios.md, "When a step runs"): a step whose
//! trigger is `after = { event = ... }` is armed as a hook on the trace ([`World::on_entry`]), so
//! its condition is judged right after each event is recorded, and a step with no delay acts
//! there and then — before the node that logged the event does anything more (a node the step
//! kills makes nothing more of that output real). A delay is counted from the event's instant.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::world::World;

/// A step's action, done by the hook at the event: `Err` is a problem the run reports.
pub type StepAction = Box<dyn FnOnce(&World) -> Result<(), String> + Send>;

/// What became of an armed step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fired {
    /// Its condition held at this simulated microsecond; `acted` when the hook already did the
    /// step's action (no delay), with the problem the action reported, if any.
    Met {
        /// When the condition came true.
        at_us: u64,
        /// `Some` when the hook did the action: `Err` carries the problem it reported.
        acted: Option<Result<(), String>>,
    },
    /// An invariant broke before the condition held.
    Violated,
}

#[derive(Default)]
struct State {
    fired: Option<Fired>,
    cancelled: bool,
    waker: Option<Waker>,
}

/// A step armed on the world's trace; await [`Armed::fired`] with a timeout.
pub struct Armed {
    state: Arc<Mutex<State>>,
}

impl Armed {
    /// Arms a step: `met` says whether its condition holds now (it is given the trace length at
    /// its previous call, so it need only look at entries since); `act` does the step's action
    /// (called at most once, from the hook, only when `act_at_event`).
    pub fn arm(
        world: &World,
        from: usize,
        mut met: impl FnMut(&World, usize) -> bool + Send + 'static,
        act: Option<StepAction>,
    ) -> Armed {
        let state = Arc::new(Mutex::new(State::default()));
        let mut act = act;
        let mut cursor = from;
        let mut judge = {
            let state = state.clone();
            move |w: &World| -> bool {
                if state.lock().expect("armed lock").cancelled {
                    return true;
                }
                let fired = if w.violated() {
                    Fired::Violated
                } else if met(w, cursor) {
                    Fired::Met {
                        at_us: w.now_us(),
                        acted: act.take().map(|act| act(w)),
                    }
                } else {
                    cursor = w.with_trace(|t| t.len());
                    return false;
                };
                let mut s = state.lock().expect("armed lock");
                s.fired = Some(fired);
                if let Some(waker) = s.waker.take() {
                    waker.wake();
                }
                true
            }
        };
        if !judge(world) {
            world.on_entry(Box::new(judge));
        }
        Armed { state }
    }

    /// Waits until the step fired (pair it with a timeout).
    pub fn fired(&self) -> impl Future<Output = Fired> + '_ {
        FiredFuture { armed: self }
    }

    /// Stops judging (the hook removes itself at the next entry). Called on a timeout.
    pub fn cancel(&self) {
        self.state.lock().expect("armed lock").cancelled = true;
    }
}

struct FiredFuture<'a> {
    armed: &'a Armed,
}

impl Future for FiredFuture<'_> {
    type Output = Fired;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fired> {
        let mut s = self.armed.state.lock().expect("armed lock");
        match &s.fired {
            Some(fired) => Poll::Ready(fired.clone()),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
