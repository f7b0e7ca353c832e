//! The inits this node cancelled on its side ([`CancelledInits`]): every node that cleared (or
//! fenced and then destroyed) what it held of an init remembers it, in memory, so that a late
//! start of that init is refused, a cluster state or a join acceptance of it is not acted on, and
//! a replica of it that still sends Raft traffic, or a member of it met at pre-init, is told of
//! the decided cancel (docs/protocol.md Step 2.6). A decided cancel is also recorded in the vault
//! (`VaultWrite::RecordCleared`) and comes back from there at a restart.

use std::collections::BTreeMap;

use crate::types::{Addr, ClusterTag, InstanceId};

/// How many cancelled init ids a node remembers (to refuse their late start messages).
const MAX_CANCELLED_REMEMBERED: usize = 64;

/// Bound of [`CancelledInit::told_ms`]: the replicas of one cancelled incarnation (its CMG and
/// MS voters and learners) a node remembers telling; past it the oldest entry is forgotten.
const MAX_TOLD_REPLICAS: usize = 256;

/// An init this node cancelled on its side (in memory only).
#[derive(Clone, Debug, Default)]
struct CancelledInit {
    /// The CMG committed the cancel (`true`), or this node only destroyed a replica that could
    /// not have committed anything (`false`).
    decided: bool,
    /// The nodes its CMG replica knew as joined, validated or departed: a canceller is told.
    members: Vec<Addr>,
    /// The cancelled cluster's tag, if this node knew it: a member of it met at pre-init is
    /// told of the cancel instead of being refused.
    tag: Option<ClusterTag>,
    /// When each replica of the cancelled incarnation that still sends Raft traffic here was
    /// last told of the decided cancel ([`CancelledInits::tell_replica`]): at most once per
    /// `init_retry_ms` each, and at most `MAX_TOLD_REPLICAS` addresses remembered.
    told_ms: BTreeMap<Addr, u64>,
}

/// What [`CancelledInits::remember`] recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Remembered {
    /// The nodes to tell: the members the clearing replica knew, or (none known now) those
    /// remembered from an earlier clear of the same init.
    pub members: Vec<Addr>,
    /// The cancel became decided on this node with this call: the caller records it in the vault
    /// (`VaultWrite::RecordCleared(init, tag)`).
    pub newly_decided: bool,
    /// The cancelled cluster's tag, as far as known (now or from an earlier clear).
    pub tag: Option<ClusterTag>,
}

/// The init ids this node cancelled on its side, each with whether the CMG committed that cancel
/// (decided), or this node only destroyed a replica that could not have committed anything. At
/// most `MAX_CANCELLED_REMEMBERED` (64) are kept; past that the lowest id is forgotten.
#[derive(Clone, Debug, Default)]
pub(crate) struct CancelledInits {
    inits: BTreeMap<InstanceId, CancelledInit>,
}

impl CancelledInits {
    /// Nothing cancelled.
    pub(crate) fn new() -> CancelledInits {
        CancelledInits::default()
    }

    /// Restores a decided cancel from the vault (`Vault::cleared`) at a start: no members known,
    /// the tag as recorded. Not bounded here (the vault keeps at most `MAX_RECORDED_CANCELS`).
    pub(crate) fn restore_cleared(&mut self, init: InstanceId, tag: Option<ClusterTag>) {
        self.inits.insert(
            init,
            CancelledInit {
                decided: true,
                members: Vec::new(),
                tag,
                told_ms: BTreeMap::new(),
            },
        );
    }

    /// This node cancelled `init` on its side (decided or not).
    pub(crate) fn contains(&self, init: InstanceId) -> bool {
        self.inits.contains_key(&init)
    }

    /// Whether the cancel of `init` is decided; `None` if this node did not cancel it.
    pub(crate) fn decided(&self, init: InstanceId) -> Option<bool> {
        self.inits.get(&init).map(|c| c.decided)
    }

    /// This node cancelled `init` and the cancel is decided.
    pub(crate) fn is_decided(&self, init: InstanceId) -> bool {
        self.decided(init) == Some(true)
    }

    /// The lowest init id whose decided cancel cleared a cluster with this tag, if any: a member
    /// of that cluster met at pre-init is told of the cancel instead of being refused.
    pub(crate) fn decided_with_tag(&self, tag: &ClusterTag) -> Option<InstanceId> {
        self.inits
            .iter()
            .find(|(_, c)| c.decided && c.tag.as_ref() == Some(tag))
            .map(|(init, _)| *init)
    }

    /// Forgets `init`: its cancel was refused (the init was answered to a user).
    pub(crate) fn forget(&mut self, init: InstanceId) {
        self.inits.remove(&init);
    }

    /// Remembers that this node cleared what it held of `init`: `decided` if the CMG committed
    /// the cancel; `members` the nodes its CMG replica knew (empty: keep those of an earlier
    /// clear); `tag` the cluster's tag if known now (else the one remembered). A decided cancel
    /// stays decided. Makes room first by forgetting the lowest id when full.
    pub(crate) fn remember(
        &mut self,
        init: InstanceId,
        decided: bool,
        mut members: Vec<Addr>,
        tag: Option<ClusterTag>,
    ) -> Remembered {
        let earlier = self.inits.remove(&init).unwrap_or_default();
        if members.is_empty() {
            members = earlier.members;
        }
        let tag = tag.or(earlier.tag);
        // A start of this init that arrives after its cancel (delayed or held) must not
        // recreate what the cancel cleared.
        if self.inits.len() >= MAX_CANCELLED_REMEMBERED {
            if let Some(first) = self.inits.keys().next().copied() {
                self.inits.remove(&first);
            }
        }
        let entry = CancelledInit {
            decided: decided || earlier.decided,
            members: members.clone(),
            tag: tag.clone(),
            told_ms: earlier.told_ms,
        };
        let newly_decided = entry.decided && !earlier.decided;
        self.inits.insert(init, entry);
        Remembered {
            members,
            newly_decided,
            tag,
        }
    }

    /// Decision (fuzz seed 20033506): whether to tell the replica at `from`, whose Raft traffic of
    /// incarnation `init` reached this node, that the cancel of `init` is decided — only for a
    /// decided cancel, and at most once per `retry_ms` per sender (at most `MAX_TOLD_REPLICAS`
    /// senders remembered per init, the least recently told forgotten first). `true` records
    /// `now_ms` as the time `from` was told.
    pub(crate) fn tell_replica(
        &mut self,
        init: InstanceId,
        from: Addr,
        now_ms: u64,
        retry_ms: u64,
    ) -> bool {
        let Some(entry) = self.inits.get_mut(&init).filter(|c| c.decided) else {
            return false;
        };
        if entry
            .told_ms
            .get(&from)
            .is_some_and(|&at| now_ms < at + retry_ms)
        {
            return false;
        }
        if entry.told_ms.len() >= MAX_TOLD_REPLICAS && !entry.told_ms.contains_key(&from) {
            let oldest = entry
                .told_ms
                .iter()
                .min_by_key(|(addr, at)| (**at, **addr))
                .map(|(addr, _)| *addr);
            if let Some(oldest) = oldest {
                entry.told_ms.remove(&oldest);
            }
        }
        entry.told_ms.insert(from, now_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ClusterId;

    fn addr(i: u8) -> Addr {
        Addr::new([10, 0, 0, i], 7000)
    }

    fn tag(id: u128) -> ClusterTag {
        ClusterTag {
            name: "c".into(),
            id: ClusterId(id),
        }
    }

    #[test]
    fn a_cancel_once_decided_stays_decided_and_is_recorded_once() {
        let mut c = CancelledInits::new();
        let init = InstanceId(5);
        let first = c.remember(init, false, vec![addr(1)], None);
        assert!(!first.newly_decided);
        assert_eq!(c.decided(init), Some(false));
        let second = c.remember(init, true, Vec::new(), Some(tag(1)));
        assert!(second.newly_decided, "undecided to decided: recorded");
        assert_eq!(second.members, vec![addr(1)], "earlier members kept");
        assert_eq!(second.tag, Some(tag(1)));
        let third = c.remember(init, false, vec![addr(2)], None);
        assert!(!third.newly_decided, "already recorded");
        assert_eq!(third.tag, Some(tag(1)), "the known tag is kept");
        assert!(c.is_decided(init));
        assert_eq!(c.decided_with_tag(&tag(1)), Some(init));
        assert_eq!(c.decided_with_tag(&tag(2)), None);
        c.forget(init);
        assert!(!c.contains(init));
    }

    #[test]
    fn at_most_max_cancelled_remembered_the_lowest_id_forgotten_first() {
        let mut c = CancelledInits::new();
        for i in 1..=MAX_CANCELLED_REMEMBERED as u64 {
            c.remember(InstanceId(i), false, Vec::new(), None);
        }
        assert!(c.contains(InstanceId(1)));
        c.remember(InstanceId(1000), false, Vec::new(), None);
        assert!(!c.contains(InstanceId(1)));
        assert!(c.contains(InstanceId(2)) && c.contains(InstanceId(1000)));
        assert_eq!(c.inits.len(), MAX_CANCELLED_REMEMBERED);
    }

    #[test]
    fn a_replica_is_told_only_of_a_decided_cancel_once_per_retry() {
        let mut c = CancelledInits::new();
        let (undecided, decided) = (InstanceId(1), InstanceId(2));
        c.remember(undecided, false, Vec::new(), None);
        c.restore_cleared(decided, None);
        assert!(!c.tell_replica(undecided, addr(1), 0, 100));
        assert!(!c.tell_replica(InstanceId(3), addr(1), 0, 100));
        assert!(c.tell_replica(decided, addr(1), 10, 100));
        assert!(!c.tell_replica(decided, addr(1), 109, 100));
        assert!(c.tell_replica(decided, addr(2), 109, 100), "per sender");
        assert!(c.tell_replica(decided, addr(1), 110, 100));
    }

    #[test]
    fn the_told_replicas_are_bounded_the_least_recently_told_forgotten() {
        let mut c = CancelledInits::new();
        let init = InstanceId(9);
        c.restore_cleared(init, None);
        let many = |i: usize| Addr::new([10, 1, (i / 256) as u8, (i % 256) as u8], 7000);
        for i in 0..MAX_TOLD_REPLICAS {
            assert!(c.tell_replica(init, many(i), i as u64, 1_000_000));
        }
        assert!(c.tell_replica(init, addr(200), 5_000, 1_000_000));
        let told = &c.inits[&init].told_ms;
        assert_eq!(told.len(), MAX_TOLD_REPLICAS);
        assert!(!told.contains_key(&many(0)), "the oldest is forgotten");
        assert!(told.contains_key(&many(1)));
    }
}
