//! Step 1: the physical topology — seed-based discovery, pre-init validation in the handshake,
//! announcement to members, failure detection by probes, restarts replacing old entries.
//!
//! Rules as implemented (the decisions docs/spec.md leaves open are in `docs/protocol.md`):
//! - A node with no other seed admits itself. Otherwise it sends a handshake to a random seed and
//!   tries another one every `handshake_retry_ms` until it is admitted or refused.
//! - Only an admitted node admits others. An unadmitted node contacted by an unadmitted node with
//!   a higher address admits itself first (so nodes that seed each other cannot wait forever).
//! - Pre-init validation at the contacted node: equal protocol versions; equal product
//!   major.minor; if both are initialized, equal tags; if the contacted node is empty, the joiner's
//!   tag must be one its members already hold, when any member holds one ("first admitted wins").
//! - The admitting node sends the new member's record to every member. Records carry the time and
//!   node of admission, so all nodes order conflicting admissions the same way: an empty node that
//!   learns of members that empty nodes admitted with different tags, while no cluster has been
//!   initialized among its members, evicts every such member whose tag differs from the
//!   earliest-admitted one — except members it has known as empty (a cluster formed among its
//!   members initialized them).
//! - A member not heard from for `probe_interval_ms` is probed; one not heard from for
//!   `failure_timeout_ms` is removed. Probe answers carry the responder's view (anti-entropy).
//!   Removed (address, launch) pairs are remembered so that gossip does not bring them back; a
//!   message from the member itself does.
//! - Every `rejoin_probe_ms` a node also probes its seeds and the removed members that are not in
//!   its view, so that the two sides of a healed partition find each other again — but not a
//!   removed member whose name lives elsewhere (in its view at another address, or its own).
//! - A record with a newer admission for the same address (a restart: new launch id) replaces the
//!   old entry.

//!
//! This module is the component: [`PhysicalTopology`] owns a node's view (its own admission, the
//! members with their failure-detection clocks, the tombstones of removed members, the names seen
//! empty) and decides what only that view decides — failure detection, the merge of a record,
//! the "first admitted wins" checks. What follows from a decision (events, messages, the address
//! book, the CMG leader's reaction to a member that came or went) the node routes:
//! `src/node/physical.rs` (the handshake: `src/node/handshake.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod admission;
mod record;
mod rumor;
mod swim;
mod tombstones;

pub(crate) use admission::entry_check;
pub(crate) use record::record_digest;
pub use record::{Identity, MemberRecord};
pub use rumor::Rumor;
pub(crate) use swim::SwimTick;

use crate::config::Timing;
use crate::types::{Addr, LaunchId, NodeName};

/// How many names of empty members a node remembers.
const MAX_SEEN_EMPTY: usize = 4096;
/// How many absent seeds and removed members a node probes per round.
const MAX_REJOIN_PROBES: usize = 16;

/// One member in a node's view: its record and its failure-detection clocks (milliseconds of
/// this node's clock).
#[derive(Clone, Debug)]
struct Member {
    /// Shared with the messages that carry it and the views that hold it: a record is copied
    /// only when its identity changes.
    record: Arc<MemberRecord>,
    /// [`record_digest`] of `record`.
    digest: u64,
    last_heard_ms: u64,
    last_probe_ms: u64,
    /// When this node last sent the member a sync probe (one carrying its view digest).
    last_sync_ms: u64,
}

impl Member {
    fn new(record: Arc<MemberRecord>, now_ms: u64) -> Member {
        Member {
            digest: record_digest(&record),
            record,
            last_heard_ms: now_ms,
            last_probe_ms: now_ms,
            last_sync_ms: now_ms,
        }
    }
}

/// Whether the node itself has entered the physical topology.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// Waiting for an answer from `target`, sent at `sent_ms`.
    Handshaking { target: Addr, sent_ms: u64 },
    /// Admitted (or not yet hand-shaking: a node starts here and either admits itself or sends
    /// its first handshake at once).
    Admitted,
}

/// What [`PhysicalTopology::merge`] did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Merged {
    /// The view's membership is unchanged: the record was of a known launch (its identity is
    /// refreshed), or an older admission than the entry at its address (ignored).
    Kept,
    /// A newer launch at a known address replaced the old one, which is buried.
    Replaced {
        /// The buried launch.
        old: LaunchId,
    },
    /// A new member.
    Added,
    /// A known launch's record at a higher incarnation took the old one's place (its identity
    /// changed, or it refuted a suspicion).
    Refreshed,
}

/// What failure detection found at one tick ([`PhysicalTopology::sweep`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sweep {
    /// Members silent for `failure_timeout_ms`: to remove, in address order.
    pub dead: Vec<Addr>,
    /// Members to probe, in address order.
    pub probe: Vec<Addr>,
}

/// A node's view of the physical topology.
#[derive(Clone, Debug)]
pub(crate) struct PhysicalTopology {
    entry: Entry,
    /// The node's own admission record, once admitted.
    me: Option<MemberRecord>,
    /// The node's own record with its identity as last refreshed ([`current_me`]), shared by
    /// the probes and acks that carry it.
    ///
    /// [`current_me`]: PhysicalTopology::current_me
    me_now: Option<Arc<MemberRecord>>,
    /// This launch's incarnation: the one its identity carries (raised by each handshake and
    /// each change of the identity, [`Identity::incarnation`]).
    incarnation: u64,
    /// Other members, by address.
    members: BTreeMap<Addr, Member>,
    /// The wrapping sum of the members' digests ([`Member::digest`]), kept with every change:
    /// half of [`PhysicalTopology::view_digest`].
    members_digest: u64,
    /// The removed members.
    tombstones: tombstones::Tombstones,
    last_rejoin_probe_ms: u64,
    /// SWIM's state (`FailureDetector::Swim`; idle otherwise).
    swim: swim::Swim,
    /// Names this node has known as empty members: when such a name comes back with a tag, it is
    /// a member of this topology that a cluster formed among us initialized, not an intruder.
    seen_empty: BTreeSet<NodeName>,
}

impl PhysicalTopology {
    /// An empty view: not admitted, no member.
    pub fn new() -> PhysicalTopology {
        PhysicalTopology {
            entry: Entry::Admitted,
            me: None,
            me_now: None,
            incarnation: 0,
            members: BTreeMap::new(),
            members_digest: 0,
            tombstones: tombstones::Tombstones::default(),
            last_rejoin_probe_ms: 0,
            swim: swim::Swim::default(),
            seen_empty: BTreeSet::new(),
        }
    }

    // --- The node's own entry ---

    /// True once this node was admitted (by a member, or by itself).
    pub fn is_admitted(&self) -> bool {
        self.me.is_some()
    }

    /// This node's admission record, once admitted (its identity as at admission).
    pub fn me(&self) -> Option<&MemberRecord> {
        self.me.as_ref()
    }

    /// This launch's incarnation ([`Identity::incarnation`]).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// This node's record with `identity` (its identity as it stands now, at any incarnation),
    /// once admitted: the record a probe or an ack carries. When the identity differs from the
    /// one last published, the incarnation rises by one and the record carries it; otherwise
    /// the same shared record comes back.
    pub fn current_me(&mut self, mut identity: Identity) -> Option<Arc<MemberRecord>> {
        let me = self.me.as_ref()?;
        identity.incarnation = self.incarnation;
        let published = self.me_now.as_ref().map_or(&me.identity, |r| &r.identity);
        if self.me_now.is_none() || *published != identity {
            if *published != identity {
                self.incarnation += 1;
                identity.incarnation = self.incarnation;
            }
            let mut record = me.clone();
            record.identity = identity;
            self.me_now = Some(Arc::new(record));
        }
        self.me_now.clone()
    }

    /// The record [`PhysicalTopology::current_me`] last handed out, if the node is admitted and
    /// one was: `current_me` with an equal identity returns it unchanged.
    pub fn published_me(&self) -> Option<&Arc<MemberRecord>> {
        self.me.as_ref()?;
        self.me_now.as_ref()
    }

    /// This node entered the topology with `record` (its identity at the incarnation it was
    /// admitted with).
    pub fn enter(&mut self, record: MemberRecord) {
        self.incarnation = self.incarnation.max(record.identity.incarnation);
        self.me_now = None;
        self.me = Some(record);
        self.entry = Entry::Admitted;
    }

    /// A handshake goes to `target` at `now_ms` (call before building the handshake's
    /// identity: it raises the incarnation).
    pub fn handshaking(&mut self, target: Addr, now_ms: u64) {
        // Each handshake offers a new incarnation: two seeds that admit one launch from two
        // handshakes (its identity changed between them) hand out records gossip can order.
        self.incarnation += 1;
        self.entry = Entry::Handshaking {
            target,
            sent_ms: now_ms,
        };
    }

    /// True when the handshake in flight is `retry_ms` old: time to try another seed.
    pub fn handshake_due(&self, now_ms: u64, retry_ms: u64) -> bool {
        matches!(self.entry, Entry::Handshaking { sent_ms, .. } if now_ms >= sent_ms + retry_ms)
    }

    /// True when the handshake in flight went to `addr`.
    pub fn is_handshaking_with(&self, addr: Addr) -> bool {
        matches!(self.entry, Entry::Handshaking { target, .. } if target == addr)
    }

    // --- Members ---

    /// True when a member is at `addr`.
    pub fn contains(&self, addr: Addr) -> bool {
        self.members.contains_key(&addr)
    }

    /// The record of the member at `addr`.
    pub fn member(&self, addr: Addr) -> Option<&MemberRecord> {
        self.members.get(&addr).map(|m| &*m.record)
    }

    /// Members' records, in address order.
    pub fn records(&self) -> impl Iterator<Item = &MemberRecord> {
        self.members.values().map(|m| &*m.record)
    }

    /// Members' records, shared (for a message that carries the view), in address order.
    pub fn shared_records(&self) -> impl Iterator<Item = Arc<MemberRecord>> + '_ {
        self.members.values().map(|m| Arc::clone(&m.record))
    }

    /// The digest of the view this node would send in a probe ack — `me` (this node's own
    /// record, its identity refreshed) and every member's record — whatever their order: two
    /// nodes with equal digests hold the same records (but for a 64-bit collision). **Decision
    /// (probe acks carry only a differing view, issue 13):** a probe carries the prober's
    /// digest, and a responder whose view has the same digest answers without its members —
    /// merging them would change nothing. Before, every ack carried the whole view: n² acks of
    /// n records each per probe interval, most of the cost of a cluster of 50 nodes.
    pub fn view_digest(&self, me: &MemberRecord) -> u64 {
        self.members_digest.wrapping_add(record_digest(me))
    }

    /// Members' addresses, in order.
    pub fn addrs(&self) -> Vec<Addr> {
        self.members.keys().copied().collect()
    }

    /// The address of the first member (in address order) named `name`.
    pub fn addr_named(&self, name: &str) -> Option<Addr> {
        self.records()
            .map(|r| &r.identity.info)
            .find(|info| info.name == name)
            .map(|info| info.addr)
    }

    /// Every (address, launch) removed from the view and still remembered (at most
    /// `tombstones::MAX_TOMBSTONES`): the facts the CMG leader's LT hygiene judges by.
    pub fn tombstones(&self) -> &BTreeSet<(Addr, LaunchId)> {
        self.tombstones.set()
    }

    fn bury(&mut self, addr: Addr, launch: LaunchId, name: NodeName) {
        self.tombstones.bury(addr, launch, name);
    }

    // --- Failure detection ---

    /// A message from `addr` of `launch` arrived: that member is alive.
    pub fn heard_from(&mut self, addr: Addr, launch: LaunchId, now_ms: u64) {
        if let Some(m) = self.members.get_mut(&addr) {
            if m.record.launch() == launch {
                m.last_heard_ms = now_ms;
                self.swim.suspects.remove(&addr);
                self.swim_heard(addr, launch);
            }
        }
    }

    /// Which members are dead and which to probe now. A member not heard from for
    /// `failure_timeout_ms` is dead. A silent member is probed every `probe_interval_ms`; every
    /// member is probed at least every `rejoin_probe_ms` even when other traffic (Raft) keeps it
    /// heard, so that views keep being exchanged (anti-entropy) and the member learns of this
    /// node.
    pub fn sweep(&self, now_ms: u64, timing: &Timing) -> Sweep {
        let mut sweep = Sweep::default();
        for (addr, member) in &self.members {
            let silent_ms = now_ms.saturating_sub(member.last_heard_ms);
            if silent_ms >= timing.failure_timeout_ms {
                sweep.dead.push(*addr);
            } else {
                let since_probe_ms = now_ms.saturating_sub(member.last_probe_ms);
                if (silent_ms >= timing.probe_interval_ms
                    && since_probe_ms >= timing.probe_interval_ms)
                    || since_probe_ms >= timing.rejoin_probe_ms
                {
                    sweep.probe.push(*addr);
                }
            }
        }
        sweep
    }

    /// True (and the round is started) when a rejoin round is due: every `rejoin_probe_ms`.
    pub fn rejoin_round_due(&mut self, now_ms: u64, rejoin_probe_ms: u64) -> bool {
        if now_ms >= self.last_rejoin_probe_ms + rejoin_probe_ms {
            self.last_rejoin_probe_ms = now_ms;
            return true;
        }
        false
    }

    /// The addresses a rejoin round probes: `wanted` (seeds, known addresses of the node's own
    /// CMG voters) and the removed members, most recently removed first, that are not in the
    /// view and are not `own` — at most `MAX_REJOIN_PROBES`, in address order. Probing them is
    /// how the two sides of a healed partition, a restarted member, or voters of one cluster
    /// that each formed a topology of their own after their seeds refused them, are found again.
    ///
    /// Which removed members are looked for: [`tombstones::Tombstones::looked_for`] (decision
    /// "a name that lives elsewhere is not looked for"; a namesake of this node only while
    /// gossip reported it alive within `reported_within_ms` of `now_ms`).
    pub fn rejoin_targets(
        &self,
        mut wanted: BTreeSet<Addr>,
        own: Addr,
        now_ms: u64,
        reported_within_ms: u64,
    ) -> Vec<Addr> {
        let own_name = self.me.as_ref().map(|m| m.identity.info.name.as_str());
        let live_names: BTreeSet<&str> = self
            .records()
            .map(|r| r.identity.info.name.as_str())
            .collect();
        let namesake_window = (now_ms, reported_within_ms);
        wanted.extend(
            self.tombstones
                .looked_for(own_name, &live_names, namesake_window),
        );
        wanted
            .into_iter()
            .filter(|a| *a != own && !self.members.contains_key(a))
            .take(MAX_REJOIN_PROBES)
            .collect()
    }

    /// A probe goes to the member at `addr`: true when it is a sync probe, the first in
    /// `rejoin_probe_ms` — it carries this node's view digest, and the answer brings the
    /// member's view when the two differ. **Decision (views are compared once per
    /// `rejoin_probe_ms`, issue 13):** every probe used to carry the digest, and while nodes
    /// join the views of any two members almost always differ somewhere, so nearly every ack
    /// carried the whole view: n² acks of n records per probe interval. What a member says of
    /// itself travels in every probe and ack anyway, and a new member's record in the
    /// admitter's announcement and its own probes; the view exchange is the backstop (a healed
    /// partition, a restarted member that knows nobody), and once per `rejoin_probe_ms` serves it.
    /// A node that is not a member (a rejoin round's target) always gets a sync probe.
    pub fn probed(&mut self, addr: Addr, now_ms: u64, rejoin_probe_ms: u64) -> bool {
        let Some(m) = self.members.get_mut(&addr) else {
            return true;
        };
        m.last_probe_ms = now_ms;
        if now_ms.saturating_sub(m.last_sync_ms) >= rejoin_probe_ms {
            m.last_sync_ms = now_ms;
            return true;
        }
        false
    }

    // --- Membership changes ---

    /// The fast path of a merge: true when the view already holds this launch at `record`'s
    /// incarnation or a higher one, so that neither [`admit_check`](Self::admit_check) nor
    /// [`merge`](Self::merge) would change anything but the liveness a `direct` record proves
    /// (refreshed here). Most records of a probe ack are such. False sends the record down the
    /// full path: an unknown launch, a newer incarnation, or an empty record whose name
    /// `admit_check` might still have to remember.
    pub fn refresh_if_current(&mut self, record: &MemberRecord, direct: bool, now_ms: u64) -> bool {
        let Some(held) = self.members.get_mut(&record.addr()) else {
            return false;
        };
        let current = held.record.launch() == record.launch()
            && held.record.identity.incarnation >= record.identity.incarnation
            && (record.identity.tag.is_some()
                || (held.record.identity.tag.is_none() && self.seen_empty.len() < MAX_SEEN_EMPTY));
        if current && direct {
            held.last_heard_ms = now_ms;
        }
        current
    }

    /// The first look at a record on its way in: remembers an empty member's name, and says
    /// whether the record may enter (`Some`, with whether its launch is already a member) or is
    /// gossip about a removed launch (`None`; when the launch is named like this node, the
    /// report is remembered at `now_ms` for [`rejoin_targets`](Self::rejoin_targets)). A
    /// `direct` record (from the member itself or its admitter) lifts the tombstone.
    pub fn admit_check(
        &mut self,
        record: &MemberRecord,
        direct: bool,
        now_ms: u64,
    ) -> Option<bool> {
        let (addr, launch) = (record.addr(), record.launch());
        if record.identity.tag.is_none()
            && self.seen_empty.len() < MAX_SEEN_EMPTY
            && !self.seen_empty.contains(&record.identity.info.name)
        {
            self.seen_empty.insert(record.identity.info.name.clone());
        }
        if self.tombstones.contains(addr, launch) {
            if !direct {
                let name = &record.identity.info.name;
                if self
                    .me
                    .as_ref()
                    .is_some_and(|m| m.identity.info.name == *name)
                {
                    self.tombstones.report(addr, launch, now_ms);
                }
                return None;
            }
            self.tombstones.lift(addr, launch);
        }
        Some(
            self.members
                .get(&addr)
                .is_some_and(|m| m.record.launch() == launch),
        )
    }

    /// Adds or refreshes a member (after [`admit_check`](Self::admit_check) let it in). A
    /// `direct` record refreshes a known launch's liveness too. A record of another launch at a
    /// known address replaces the entry only when admitted later (a restart).
    pub fn merge(
        &mut self,
        record: impl Into<Arc<MemberRecord>>,
        direct: bool,
        now_ms: u64,
    ) -> Merged {
        let record: Arc<MemberRecord> = record.into();
        let addr = record.addr();
        match self.members.get_mut(&addr) {
            Some(existing) if existing.record.launch() == record.launch() => {
                if record.identity.incarnation > existing.record.identity.incarnation {
                    if same_admission(&existing.record, &record) {
                        existing.record = record;
                    } else {
                        Arc::make_mut(&mut existing.record).identity = record.identity.clone();
                    }
                    let digest = record_digest(&existing.record);
                    self.members_digest = self
                        .members_digest
                        .wrapping_sub(existing.digest)
                        .wrapping_add(digest);
                    existing.digest = digest;
                    self.swim.suspects.remove(&addr);
                    if direct {
                        existing.last_heard_ms = now_ms;
                    }
                    return Merged::Refreshed;
                }
                if direct {
                    existing.last_heard_ms = now_ms;
                }
                Merged::Kept
            }
            Some(existing) => {
                if record.admitted_at_ms <= existing.record.admitted_at_ms {
                    return Merged::Kept;
                }
                let old = existing.record.launch();
                let old_name = existing.record.identity.info.name.clone();
                let old_digest = existing.digest;
                *existing = Member::new(record, now_ms);
                self.members_digest = self
                    .members_digest
                    .wrapping_sub(old_digest)
                    .wrapping_add(existing.digest);
                self.bury(addr, old, old_name);
                self.swim.suspects.remove(&addr);
                Merged::Replaced { old }
            }
            None => {
                let member = Member::new(record, now_ms);
                self.members_digest = self.members_digest.wrapping_add(member.digest);
                self.members.insert(addr, member);
                Merged::Added
            }
        }
    }

    /// Removes the member at `addr` and buries its launch, so that gossip does not bring it back.
    pub fn remove(&mut self, addr: Addr) -> Option<Arc<MemberRecord>> {
        let member = self.members.remove(&addr)?;
        self.swim.suspects.remove(&addr);
        self.members_digest = self.members_digest.wrapping_sub(member.digest);
        let name = member.record.identity.info.name.clone();
        self.bury(addr, member.record.launch(), name);
        Some(member.record)
    }
}

/// True when two records of one launch tell the same admission (time, admitter, tags): a merge
/// then takes the newer record whole instead of copying its identity into the old one.
fn same_admission(a: &MemberRecord, b: &MemberRecord) -> bool {
    a.admitted_at_ms == b.admitted_at_ms
        && a.admitted_by == b.admitted_by
        && a.admitted_tag == b.admitted_tag
        && a.admitter_tag == b.admitter_tag
}

#[cfg(test)]
mod tests;
