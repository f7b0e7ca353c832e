//! The harness's record of a run: every node's protocol events and every harness action, in the
//! order they happened, each with its simulated time.

use crate::error::InitError;
use crate::event::Event;
use crate::init::InitParams;
use crate::types::RequestId;
use crate::types::{Addr, ClusterTag, LaunchId};

/// The most entries one run's log holds. A run that logs more is a runaway: the harness panics
/// rather than eat the machine's memory.
pub const MAX_LOG_ENTRIES: usize = 2_000_000;

/// One entry of the run's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Simulated time, in microseconds since the network was built.
    pub at_us: u64,
    /// The node's label, `"user"` for the user, `"-"` for the network.
    pub node: String,
    /// What happened.
    pub kind: LogKind,
}

impl LogEntry {
    /// Simulated time in whole milliseconds (what the node saw as `now_ms`).
    pub fn at_ms(&self) -> u64 {
        self.at_us / 1_000
    }

    /// The protocol event, if this entry is one.
    pub fn event(&self) -> Option<&Event> {
        match &self.kind {
            LogKind::Protocol { event, .. } => Some(event),
            LogKind::Harness(_) => None,
        }
    }
}

/// What a log entry records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogKind {
    /// An event the node emitted, during the start `launch`.
    Protocol {
        /// The node's launch when it emitted the event.
        launch: LaunchId,
        /// The event.
        event: Event,
    },
    /// Something the harness did.
    Harness(HarnessAction),
}

/// An action of the harness (the test), as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HarnessAction {
    /// The node was started with this launch and fixed election timeout (in ticks).
    Started {
        /// The new launch.
        launch: LaunchId,
        /// Its Raft election timeout, in ticks.
        election_ticks: usize,
    },
    /// `Node::new` refused to start the node; it stays down.
    StartFailed {
        /// The error.
        detail: String,
    },
    /// The node was killed (its vault stays).
    Killed,
    /// The node was asked to leave the cluster (`Node::leave`); it stops for good but stays
    /// up (its vault stays).
    Left,
    /// The node's vault was wiped (the node is down).
    Wiped,
    /// The node (down) moved to another address (`Network::restart_at_new_addr`).
    Moved {
        /// Its old address.
        from: Addr,
        /// Its new address.
        to: Addr,
    },
    /// The node's vault was replaced (`Network::set_vault`; the node is down).
    VaultReplaced,
    /// Links were cut, as (from, to) labels.
    Partitioned {
        /// The links newly cut.
        links: Vec<(String, String)>,
    },
    /// Every cut link was restored.
    Healed,
    /// The latency range or loss rate changed.
    NetworkChanged {
        /// Minimum one-way latency.
        latency_min_ms: u64,
        /// Maximum one-way latency.
        latency_max_ms: u64,
        /// Loss rate in parts per million.
        loss_ppm: u64,
    },
    /// The user sent an init request.
    InitSent {
        /// Its id.
        request: RequestId,
        /// The node it went to.
        via: String,
        /// The parameters.
        params: InitParams,
    },
    /// The user got the answer to an init request.
    InitAnswered {
        /// The request.
        request: RequestId,
        /// The answer.
        answer: Result<ClusterTag, InitError>,
    },
}
