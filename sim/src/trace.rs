//! The run's trace: every protocol event, harness action, message send and delivery, and checker
//! verdict, stamped with simulated time and node, folded into a trace hash that identifies the run.
//!
//! **The trace hash** is FNV-1a (64 bits, [`joinsim::hash::Fnv64`], the one stable hasher) over a
//! stable encoding of every entry but the checkers' verdicts ([`TraceKind::Verdict`]: a verdict is
//! what a checker said of the run, not what the run did, so a new checker never moves a hash): the
//! entry's bincode 1 bytes (little-endian fixed-width integers, `u64` lengths before strings and
//! sequences, an `u32` variant index before each enum variant; bincode's documented format, pinned
//! in `Cargo.lock`), never `#[derive(Hash)]`, whose input std does not promise to keep across
//! compilers or platforms. A test pins the hash of one fixed run; `docs/determinism.md` records
//! every change to it.
//!
//! **Messages** are entries of their own ([`MessageRecord`]): one `sent` when a node (or the user)
//! hands a message to the network, with an id unique in the run, and then, at the receiver, one
//! entry per thing that happened to it with the same id — `delivered`, `held` by a rule and later
//! `released` (a delivery), or `dropped` by a rule; a `duplicated` entry at the sender says two
//! copies travel, each with its own arrival entries. A message sent and never seen again was lost on
//! the way (network loss, a cut link, or a receiver that was down); `docs/trace.md` is the schema
//! of the trace file written from these entries ([`crate::trace_file`]).

use std::fmt;
use std::hash::Hasher;

use joinsim::hash::Fnv64;
use joinsim::{Event, MessageKind, NodeName};
use serde::Serialize;

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
    /// One link (one direction) got latency and loss of its own.
    LinkChanged {
        /// Sender's label.
        from: NodeName,
        /// Receiver's label.
        to: NodeName,
        /// Minimum latency.
        latency_min_ms: u64,
        /// Maximum latency.
        latency_max_ms: u64,
        /// Loss rate in parts per million.
        loss_ppm: u64,
    },
    /// Every link took the default settings again.
    LinksCleared,
    /// The node was paused: it processes nothing (messages wait) but keeps its state.
    Paused {
        /// For how long, milliseconds.
        for_ms: u64,
    },
    /// A paused node goes on: what arrived meanwhile is given to it now, in arrival order.
    Resumed,
    /// A storage fault struck the node's vault (`crate::storage`).
    StorageFault {
        /// `crash_after_write`, `torn_write` or `power_loss`; `armed:<name>` when a fault was
        /// set to strike at the node's next write.
        fault: String,
        /// What it did.
        detail: String,
    },
    /// At a start, the vault's last record was torn or corrupt and was refused (not used): the
    /// node starts from the records before it.
    VaultRecordRefused {
        /// The record's error.
        detail: String,
    },
    /// The node moved to another address, with its vault (it restarts there).
    AddressChanged {
        /// The old address.
        from: String,
        /// The new address.
        to: String,
    },
    /// The node's machine clock was skewed ahead and given a drift.
    ClockAdjusted {
        /// How far ahead it was put, milliseconds.
        skew_ms: u64,
        /// Its drift from now on, parts per million (positive: fast).
        drift_ppm: i64,
    },
    /// The node left gracefully (`World::leave`): it told its members; its process exits next
    /// (`node_killed` follows).
    Left,
    /// A scenario step did nothing: a role it names (`cmg_leader`, `ms_leader`,
    /// `validator_of:<label>`) named no node when it ran (docs/scenarios.md, "Roles").
    StepSkipped {
        /// The step's number (1-based, in file order).
        step: u64,
        /// Why, e.g. `ms_leader names no node`.
        reason: String,
    },
}

impl fmt::Display for HarnessEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What happened to a message at one moment ([`MessageRecord`]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, strum::IntoStaticStr, strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum MessageFate {
    /// Handed to the network by its sender (the entry's node is the sender).
    Sent,
    /// Given to the receiver's state machine on arrival (the entry's node is the receiver).
    Delivered,
    /// Kept back on arrival by a hold rule (a scenario's `hold`); a `released` or `dropped`
    /// entry of the same id follows unless the run ends or the receiver stops first.
    Held,
    /// Given to the receiver after a hold: the hold ended (a delivery).
    Released,
    /// Thrown away on arrival by a drop rule (a scenario's `drop`), or after a hold by a drop
    /// rule that matched it at release, or on arrival at a paused node whose inbox is full.
    Dropped,
    /// Sent twice by a `duplicate` rule (the entry's node is the sender): each copy travels with
    /// its own latency, so up to two arrival entries of this id follow.
    Duplicated,
}

impl MessageFate {
    /// True for the fates that give the message to the receiver's state machine.
    pub fn is_delivery(self) -> bool {
        matches!(self, MessageFate::Delivered | MessageFate::Released)
    }

    /// The snake_case name the trace file uses (`sent`, `delivered`, ...).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One moment in a message's life: its id links the `sent` entry at the sender with what
/// happened at the receiver.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct MessageRecord {
    /// The message's id: unique in the run, counted from 1 in the order of sends.
    pub id: u64,
    /// Sender (label; `user` for the simulated user).
    pub from: NodeName,
    /// Receiver (label; `user` for the simulated user; an address when no node has it).
    pub to: NodeName,
    /// The message kind.
    pub kind: MessageKind,
    /// What happened now.
    pub fate: MessageFate,
}

/// A checker's verdict: an invariant violated (with the nodes it concerns), recorded at the
/// moment the checker found it. Not part of the trace hash (see the module's documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct VerdictRecord {
    /// The invariant's name (`always_...`, `eventually_...`).
    pub invariant: String,
    /// The nodes it concerns.
    pub nodes: Vec<NodeName>,
    /// What was seen.
    pub detail: String,
}

/// What a trace entry records.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TraceKind {
    /// A protocol event of the node.
    Protocol(Event),
    /// A harness action on the node (or on the world, with node `-`).
    Harness(HarnessEvent),
    /// A message sent by the node, or arriving at it.
    Message(MessageRecord),
    /// A checker's verdict (node `-`); not hashed.
    Verdict(VerdictRecord),
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
            TraceKind::Message(m) => write!(
                f,
                "[message #{}] {} {} -> {} {}",
                m.id,
                m.kind.name(),
                m.from,
                m.to,
                m.fate.name()
            ),
            TraceKind::Verdict(v) => {
                write!(f, "[verdict] {} {:?}: {}", v.invariant, v.nodes, v.detail)
            }
        }
    }
}

/// The parts of a [`MessageRecord`], borrowed ([`Trace::record_message`]), hashed exactly as
/// the record would be ([`feed_message`]).
#[derive(Clone, Copy, Debug)]
pub struct MessageParts<'a> {
    /// [`MessageRecord::id`].
    pub id: u64,
    /// [`MessageRecord::from`].
    pub from: &'a str,
    /// [`MessageRecord::to`].
    pub to: &'a str,
    /// [`MessageRecord::kind`].
    pub kind: MessageKind,
    /// [`MessageRecord::fate`].
    pub fate: MessageFate,
}

/// Folds the stable encoding of `value` into `hasher`.
fn feed(hasher: &mut Fnv64, value: &impl Serialize) {
    /// Hands bincode's output straight to the hasher (no buffer per entry).
    struct Feed<'a>(&'a mut Fnv64);
    impl std::io::Write for Feed<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    bincode::serialize_into(Feed(hasher), value).expect("trace records always encode");
}

/// Folds into `hasher` exactly the bytes [`feed`] gives the [`TraceEntry`] of a message's
/// moment ([`TraceKind::Message`] of the [`MessageRecord`] of `message`) — bincode's encoding: integers fixed-width little-endian, a string as its
/// `u64` length and its bytes, an enum's variant as its `u32` index — written directly instead
/// of through serde, since a message's moments are most of a run's trace (issue 13). Unit test
/// `the_direct_message_feed_is_serdes`: the same hash for every kind and fate.
fn feed_message(hasher: &mut Fnv64, time_us: u64, node: &str, message: &MessageParts<'_>) {
    /// [`TraceKind::Message`]'s variant index.
    const MESSAGE_VARIANT: u32 = 2;
    let feed_str = |hasher: &mut Fnv64, text: &str| {
        hasher.write(&(text.len() as u64).to_le_bytes());
        hasher.write(text.as_bytes());
    };
    hasher.write(&time_us.to_le_bytes());
    feed_str(hasher, node);
    hasher.write(&MESSAGE_VARIANT.to_le_bytes());
    hasher.write(&message.id.to_le_bytes());
    feed_str(hasher, message.from);
    feed_str(hasher, message.to);
    hasher.write(&(message.kind as u32).to_le_bytes());
    hasher.write(&(message.fate as u32).to_le_bytes());
}

/// The recorded trace of a run.
#[derive(Debug)]
pub struct Trace {
    /// Whether message entries are kept (they are hashed either way): off for campaign runs,
    /// whose memory must stay flat (a run's messages are most of its entries).
    keep_messages: bool,
    /// Whether the other entries (events, harness actions, verdicts) are kept: off only for a
    /// run whose report keeps nothing but its summary (`Sim::summary_only`).
    keep_events: bool,
    /// Entries recorded (kept or not), verdicts included.
    recorded: u64,
    entries: Vec<TraceEntry>,
    /// The hash right after each kept entry: two runs' first difference is the first index
    /// where these differ.
    hash_after: Vec<u64>,
    hasher: Fnv64,
    deliveries: u64,
    deliveries_by_kind: std::collections::BTreeMap<MessageKind, u64>,
}

/// The most entries a trace keeps (the hash covers all of them regardless).
pub const MAX_TRACE_ENTRIES: usize = 1_000_000;

impl Default for Trace {
    /// A trace that keeps every entry.
    fn default() -> Self {
        Trace::new(true)
    }
}

impl Trace {
    /// An empty trace; `keep_messages` false keeps only the entries that are not messages (all
    /// are hashed and counted).
    pub fn new(keep_messages: bool) -> Trace {
        Trace {
            keep_messages,
            keep_events: true,
            recorded: 0,
            entries: Vec::new(),
            hash_after: Vec::new(),
            hasher: Fnv64::default(),
            deliveries: 0,
            deliveries_by_kind: std::collections::BTreeMap::new(),
        }
    }

    /// From now on keeps no entry that is not a message either (they are still hashed and
    /// counted): for a run whose report is its summary only.
    pub fn keep_no_events(&mut self) {
        self.keep_events = false;
    }

    /// Entries recorded so far, kept or not.
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Records an entry (a message's delivery is counted too).
    pub fn record(&mut self, entry: TraceEntry) {
        self.recorded += 1;
        let mut keep = self.keep_events;
        match &entry.kind {
            TraceKind::Verdict(_) => {}
            TraceKind::Message(m) => {
                self.count_delivery(m.kind, m.fate);
                feed(&mut self.hasher, &entry);
                keep = self.keep_messages;
            }
            _ => feed(&mut self.hasher, &entry),
        }
        if tracing::enabled!(target: "joinsim::trace", tracing::Level::INFO) {
            tracing::info!(target: "joinsim::trace", "{entry}");
        }
        if keep && self.entries.len() < MAX_TRACE_ENTRIES {
            self.entries.push(entry);
            self.hash_after.push(self.hasher.finish());
        }
    }

    /// Records one moment of a message's life at `node` (the sender for `sent`, the receiver
    /// otherwise), exactly as [`Trace::record`] would record the [`TraceEntry`] of a
    /// [`TraceKind::Message`] made of these parts (same hash, same counts), but builds that entry
    /// only when it is kept or logged: a campaign run, which keeps no message, copies no name.
    pub fn record_message(&mut self, time_us: u64, node: &str, message: MessageParts<'_>) {
        let keep = self.keep_messages && self.entries.len() < MAX_TRACE_ENTRIES;
        if keep || tracing::enabled!(target: "joinsim::trace", tracing::Level::INFO) {
            self.record(TraceEntry {
                time_us,
                node: node.to_string(),
                kind: TraceKind::Message(MessageRecord {
                    id: message.id,
                    from: message.from.to_string(),
                    to: message.to.to_string(),
                    kind: message.kind,
                    fate: message.fate,
                }),
            });
            return;
        }
        self.recorded += 1;
        self.count_delivery(message.kind, message.fate);
        feed_message(&mut self.hasher, time_us, node, &message);
    }

    /// Counts a message's moment of `fate` if it is a delivery (in all and by `kind`).
    fn count_delivery(&mut self, kind: MessageKind, fate: MessageFate) {
        if fate.is_delivery() {
            self.deliveries += 1;
            *self.deliveries_by_kind.entry(kind).or_default() += 1;
        }
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

    /// Takes the entries out, each with the trace hash right after it.
    pub fn take_entries(&mut self) -> (Vec<TraceEntry>, Vec<u64>) {
        (
            std::mem::take(&mut self.entries),
            std::mem::take(&mut self.hash_after),
        )
    }
}

/// How many entries before the first difference a divergence report shows.
pub const DIVERGENCE_CONTEXT: usize = 8;

/// Where two runs of one seed first differ, for a determinism failure: the first entry whose
/// running hash differs, both versions of it, and the entries before it. `None` when the two
/// recordings agree. Each side is (entries, hash after each entry, final hash).
pub fn first_divergence(
    a: (&[TraceEntry], &[u64], u64),
    b: (&[TraceEntry], &[u64], u64),
) -> Option<String> {
    use std::fmt::Write as _;
    let (a_entries, a_hashes, a_final) = a;
    let (b_entries, b_hashes, b_final) = b;
    let shared = a_hashes.len().min(b_hashes.len());
    let index = (0..shared).find(|&i| a_hashes[i] != b_hashes[i]);
    let index = match index {
        Some(i) => i,
        None if a_hashes.len() != b_hashes.len() => shared,
        None if a_final != b_final => shared,
        None => return None,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "the runs first differ at trace entry {index} (final hashes {a_final:016x} and {b_final:016x})"
    );
    let entry = |entries: &[TraceEntry], i: usize| {
        entries
            .get(i)
            .map_or("(no entry: the trace ends here)".to_string(), |e| {
                e.to_string()
            })
    };
    if a_entries.get(index) == b_entries.get(index) {
        let _ = writeln!(
            out,
            "  the entries are equal: the runs differ in the message deliveries just before it"
        );
    }
    let _ = writeln!(out, "  first run:  {}", entry(a_entries, index));
    let _ = writeln!(out, "  second run: {}", entry(b_entries, index));
    let _ = writeln!(out, "  the events before it (the same in both runs):");
    for e in &a_entries[index.saturating_sub(DIVERGENCE_CONTEXT)..index.min(a_entries.len())] {
        let _ = writeln!(out, "    {e}");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_message_feed_is_serdes() {
        use strum::IntoEnumIterator;
        let names = ["", "n1", "a-much-longer-node-name-0123456789", "n\u{e9}"];
        for kind in MessageKind::iter() {
            for fate in MessageFate::iter() {
                for (i, node) in names.iter().enumerate() {
                    let parts = MessageParts {
                        id: u64::MAX - i as u64,
                        from: names[(i + 1) % names.len()],
                        to: node,
                        kind,
                        fate,
                    };
                    let time_us = 1 << (8 * i);
                    let mut direct = Fnv64::default();
                    feed_message(&mut direct, time_us, node, &parts);
                    let mut serde = Fnv64::default();
                    let entry = TraceEntry {
                        time_us,
                        node: node.to_string(),
                        kind: TraceKind::Message(MessageRecord {
                            id: parts.id,
                            from: parts.from.into(),
                            to: parts.to.into(),
                            kind,
                            fate,
                        }),
                    };
                    feed(&mut serde, &entry);
                    assert_eq!(
                        direct.finish(),
                        serde.finish(),
                        "{kind:?} {fate:?} {node:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_message_recorded_by_parts_hashes_and_counts_as_its_entry() {
        let fates = [
            MessageFate::Sent,
            MessageFate::Delivered,
            MessageFate::Dropped,
        ];
        let mut by_entry = Trace::new(false);
        let mut by_parts = Trace::new(false);
        let mut kept = Trace::new(true);
        for (i, fate) in fates.into_iter().enumerate() {
            let parts = MessageParts {
                id: 7 + i as u64,
                from: "n1",
                to: "n22",
                kind: MessageKind::Probe,
                fate,
            };
            by_entry.record(TraceEntry {
                time_us: 100 * i as u64,
                node: "n1".into(),
                kind: TraceKind::Message(MessageRecord {
                    id: parts.id,
                    from: parts.from.into(),
                    to: parts.to.into(),
                    kind: parts.kind,
                    fate,
                }),
            });
            by_parts.record_message(100 * i as u64, "n1", parts);
            kept.record_message(100 * i as u64, "n1", parts);
            assert_eq!(by_parts.hash(), by_entry.hash());
        }
        assert_eq!(kept.hash(), by_entry.hash());
        assert_eq!(by_parts.recorded(), 3);
        assert_eq!(by_parts.deliveries(), 1);
        assert_eq!(by_parts.deliveries_by_kind(), by_entry.deliveries_by_kind());
        assert!(by_parts.entries().is_empty());
        assert_eq!(kept.entries(), by_entry_kept(&fates).as_slice());
    }

    /// The entries [`a_message_recorded_by_parts_hashes_and_counts_as_its_entry`] keeps.
    fn by_entry_kept(fates: &[MessageFate]) -> Vec<TraceEntry> {
        fates
            .iter()
            .enumerate()
            .map(|(i, fate)| TraceEntry {
                time_us: 100 * i as u64,
                node: "n1".into(),
                kind: TraceKind::Message(MessageRecord {
                    id: 7 + i as u64,
                    from: "n1".into(),
                    to: "n22".into(),
                    kind: MessageKind::Probe,
                    fate: *fate,
                }),
            })
            .collect()
    }

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
        let message = |fate| TraceEntry {
            time_us: 3,
            node: "n2".into(),
            kind: TraceKind::Message(MessageRecord {
                id: 1,
                from: "n1".into(),
                to: "n2".into(),
                kind: MessageKind::Probe,
                fate,
            }),
        };
        let mut delivered = base();
        delivered.record(message(MessageFate::Delivered));
        assert_ne!(base().hash(), delivered.hash());
        assert_eq!(delivered.deliveries(), 1);
        let mut held = base();
        held.record(message(MessageFate::Held));
        assert_ne!(delivered.hash(), held.hash());
        assert_eq!(held.deliveries(), 0);
        // A verdict is kept but not hashed.
        let mut judged = base();
        judged.record(TraceEntry {
            time_us: 4,
            node: "-".into(),
            kind: TraceKind::Verdict(VerdictRecord {
                invariant: "always_x".into(),
                nodes: vec!["n1".into()],
                detail: "seen".into(),
            }),
        });
        assert_eq!(judged.hash(), base().hash());
        assert_eq!(judged.entries().len(), 2);
        // A campaign's trace hashes and counts messages but does not keep them.
        let mut lean = Trace::new(false);
        lean.record(entry(1, "n1", HarnessEvent::NodeStarted));
        lean.record(message(MessageFate::Delivered));
        assert_eq!(lean.hash(), delivered.hash());
        assert_eq!(
            (lean.entries().len(), lean.recorded(), lean.deliveries()),
            (1, 2, 1)
        );
        // A summary-only run's trace keeps nothing and hashes and counts alike.
        let mut summary = Trace::new(false);
        summary.keep_no_events();
        summary.record(entry(1, "n1", HarnessEvent::NodeStarted));
        summary.record(message(MessageFate::Delivered));
        assert_eq!(summary.hash(), delivered.hash());
        assert_eq!(
            (
                summary.entries().len(),
                summary.recorded(),
                summary.deliveries()
            ),
            (0, 2, 1)
        );
    }
}
