//! The run's trace: every protocol event and harness action, stamped with simulated time and node,
//! folded into a trace hash that identifies the run.
//!
//! The hash is FNV-1a (64 bits) over each entry's fields, written here so that it cannot change
//! with a dependency upgrade. Message deliveries feed the hash too (sender, receiver, kind), but
//! are not kept as entries.

use std::fmt;
use std::hash::{Hash, Hasher};

use joinsim::{Event, MessageKind, NodeName};
use serde::Serialize;

/// FNV-1a, 64 bits: a stable hasher for trace hashes.
#[derive(Clone, Debug)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Something the harness did to the world.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum HarnessEvent {
    /// A node was started (first start or restart).
    NodeStarted,
    /// A node was killed.
    NodeKilled,
    /// A node's vault was wiped.
    VaultWiped,
    /// A node could not start: its vault did not load.
    StartFailed {
        /// Why.
        detail: String,
    },
    /// Links were cut: (from, to) pairs, one-way each.
    Partitioned {
        /// Cut links.
        links: Vec<(NodeName, NodeName)>,
    },
    /// Every cut link was restored.
    Healed,
    /// Network latency and loss changed.
    NetworkChanged {
        /// Minimum latency.
        latency_min_ms: u64,
        /// Maximum latency.
        latency_max_ms: u64,
        /// Loss rate in parts per million.
        loss_ppm: u64,
    },
    /// A message rule (hold or drop) was added.
    RuleAdded {
        /// Rule id.
        rule: u64,
        /// Description.
        description: String,
    },
    /// A message rule ended.
    RuleRemoved {
        /// Rule id.
        rule: u64,
    },
    /// A message was dropped by a rule.
    MessageDropped {
        /// Sender.
        from: NodeName,
        /// Kind.
        kind: MessageKind,
    },
    /// The user sent a request to a node.
    UserRequest {
        /// Request id.
        request: u64,
        /// What.
        what: String,
    },
    /// The user got an answer, or gave up waiting.
    UserAnswer {
        /// Request id.
        request: u64,
        /// The answer, as text.
        answer: String,
    },
}

impl fmt::Display for HarnessEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What a trace entry records.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TraceKind {
    /// A protocol event of the node.
    Protocol(Event),
    /// A harness action on the node (or on the world, with node `-`).
    Harness(HarnessEvent),
}

/// One trace entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceEntry {
    /// Simulated time, microseconds since the start of the run.
    pub time_us: u64,
    /// The node (label) it concerns, or `-` for the world.
    pub node: NodeName,
    /// What happened.
    pub kind: TraceKind,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.time_us / 1000;
        let frac = self.time_us % 1000;
        write!(f, "{ms:>7}.{frac:03}ms {:<6} ", self.node)?;
        match &self.kind {
            TraceKind::Protocol(e) => write!(f, "{e:?}"),
            TraceKind::Harness(h) => write!(f, "[harness] {h}"),
        }
    }
}

/// The recorded trace of a run.
#[derive(Debug, Default)]
pub struct Trace {
    entries: Vec<TraceEntry>,
    hasher: Fnv64,
    deliveries: u64,
    deliveries_by_kind: std::collections::BTreeMap<MessageKind, u64>,
}

/// The most entries a trace keeps (the hash covers all of them regardless).
pub const MAX_TRACE_ENTRIES: usize = 1_000_000;

impl Trace {
    /// Records an entry.
    pub fn record(&mut self, entry: TraceEntry) {
        entry.time_us.hash(&mut self.hasher);
        entry.node.hash(&mut self.hasher);
        entry.kind.hash(&mut self.hasher);
        if tracing::enabled!(target: "joinsim::trace", tracing::Level::INFO) {
            tracing::info!(target: "joinsim::trace", "{entry}");
        }
        if self.entries.len() < MAX_TRACE_ENTRIES {
            self.entries.push(entry);
        }
    }

    /// Folds a message delivery into the hash.
    pub fn delivery(&mut self, time_us: u64, from: &str, to: &str, kind: MessageKind) {
        self.deliveries += 1;
        *self.deliveries_by_kind.entry(kind).or_default() += 1;
        0xde11_u64.hash(&mut self.hasher);
        time_us.hash(&mut self.hasher);
        from.hash(&mut self.hasher);
        to.hash(&mut self.hasher);
        kind.hash(&mut self.hasher);
    }

    /// The trace hash so far.
    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }

    /// Entries so far.
    pub fn entries(&self) -> &[TraceEntry] {
        &self.entries
    }

    /// Messages delivered so far.
    pub fn deliveries(&self) -> u64 {
        self.deliveries
    }

    /// Messages delivered so far, by kind.
    pub fn deliveries_by_kind(&self) -> &std::collections::BTreeMap<MessageKind, u64> {
        &self.deliveries_by_kind
    }

    /// Takes the entries out.
    pub fn take_entries(&mut self) -> Vec<TraceEntry> {
        std::mem::take(&mut self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_field() {
        let entry = |time_us, node: &str, kind| TraceEntry {
            time_us,
            node: node.to_string(),
            kind: TraceKind::Harness(kind),
        };
        let base = || {
            let mut t = Trace::default();
            t.record(entry(1, "n1", HarnessEvent::NodeStarted));
            t
        };
        let mut other_time = Trace::default();
        other_time.record(entry(2, "n1", HarnessEvent::NodeStarted));
        let mut other_node = Trace::default();
        other_node.record(entry(1, "n2", HarnessEvent::NodeStarted));
        let mut other_kind = Trace::default();
        other_kind.record(entry(1, "n1", HarnessEvent::NodeKilled));
        assert_eq!(base().hash(), base().hash());
        for other in [other_time, other_node, other_kind] {
            assert_ne!(base().hash(), other.hash());
        }
        let mut delivered = base();
        delivered.delivery(3, "n1", "n2", MessageKind::Probe);
        assert_ne!(base().hash(), delivered.hash());
    }
}
