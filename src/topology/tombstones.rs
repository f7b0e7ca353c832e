//! The tombstones of a node's view: the members it removed, remembered (at most
//! [`MAX_TOMBSTONES`]) so that gossip does not bring a removed launch back, and probed at rejoin
//! rounds so that the two sides of a healed partition meet again (docs/protocol.md Step 1,
//! "rejoin probes").

use std::collections::{BTreeSet, VecDeque};

use crate::types::{Addr, LaunchId, NodeName};

/// How many removed members a node remembers; the oldest is forgotten first.
pub(super) const MAX_TOMBSTONES: usize = 1024;

/// A removed member.
#[derive(Clone, Debug)]
struct Tombstone {
    addr: Addr,
    launch: LaunchId,
    name: NodeName,
    /// When gossip last carried this launch as a member of someone's view (recorded only for a
    /// launch named like the node itself: [`Tombstones::looked_for`]).
    reported_ms: Option<u64>,
}

/// The removed members: the set gossip is judged by, and the same launches in the order they
/// were removed (an entry stays in the order when a direct record lifts its tombstone: a rejoin
/// round skips addresses that are members again).
#[derive(Clone, Debug, Default)]
pub(super) struct Tombstones {
    set: BTreeSet<(Addr, LaunchId)>,
    order: VecDeque<Tombstone>,
}

impl Tombstones {
    /// Every (address, launch) buried and not lifted.
    pub(super) fn set(&self) -> &BTreeSet<(Addr, LaunchId)> {
        &self.set
    }

    /// Whether `launch` at `addr` is buried.
    pub(super) fn contains(&self, addr: Addr, launch: LaunchId) -> bool {
        self.set.contains(&(addr, launch))
    }

    /// Buries `launch` at `addr` (named `name`), forgetting the oldest past [`MAX_TOMBSTONES`].
    pub(super) fn bury(&mut self, addr: Addr, launch: LaunchId, name: NodeName) {
        if self.set.insert((addr, launch)) {
            // A launch buried again after a direct record lifted its tombstone keeps one entry
            // (moved to the back): else the older entry's eviction would forget the live
            // tombstone.
            self.order
                .retain(|t| !(t.addr == addr && t.launch == launch));
            self.order.push_back(Tombstone {
                addr,
                launch,
                name,
                reported_ms: None,
            });
            if self.order.len() > MAX_TOMBSTONES {
                if let Some(oldest) = self.order.pop_front() {
                    self.set.remove(&(oldest.addr, oldest.launch));
                }
            }
        }
        debug_assert!(self.order.len() <= MAX_TOMBSTONES);
    }

    /// A direct record of `launch` at `addr` came: gossip about it is believed again.
    pub(super) fn lift(&mut self, addr: Addr, launch: LaunchId) {
        self.set.remove(&(addr, launch));
    }

    /// Gossip carried the buried `launch` at `addr` as alive at `now_ms`.
    pub(super) fn report(&mut self, addr: Addr, launch: LaunchId, now_ms: u64) {
        if let Some(t) = self
            .order
            .iter_mut()
            .find(|t| t.addr == addr && t.launch == launch)
        {
            t.reported_ms = Some(now_ms);
        }
    }

    /// The addresses of the removed members a rejoin round probes, most recently removed first.
    ///
    /// **Decision (a name that lives elsewhere is not looked for, docs/protocol.md "Restart at
    /// another address"):** a removed member whose name is in `live_names` (the names of the
    /// view's members: the node moved to another host, or restarted elsewhere) is not probed:
    /// the name is found, and every member probing its old address would go on for ever. A
    /// removed member named `own_name` (like the node itself) is probed only while gossip
    /// reports it alive (`reported_ms` within `window.1` of `window.0`, the time now): it is
    /// then a live namesake that others still hear (a duplicate name), not the node's own
    /// instance before a move, which every view drops within a failure timeout and whose
    /// address falls silent. Two namesakes that removed each other during a partition would
    /// otherwise never meet again — the duplicate, out of its CMG leader's view, never hearing
    /// a cluster state (fuzz seeds 40003492, 60013849).
    pub(super) fn looked_for<'a>(
        &'a self,
        own_name: Option<&'a str>,
        live_names: &'a BTreeSet<&str>,
        (now_ms, window_ms): (u64, u64),
    ) -> impl Iterator<Item = Addr> + 'a {
        self.order
            .iter()
            .rev()
            .filter(move |t| {
                let reported = t
                    .reported_ms
                    .is_some_and(|at| now_ms.saturating_sub(at) <= window_ms);
                (Some(t.name.as_str()) != own_name || reported)
                    && !live_names.contains(t.name.as_str())
            })
            .map(|t| t.addr)
    }
}
