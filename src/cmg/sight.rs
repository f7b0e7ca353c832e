//! What the CMG leader sees of the nodes around it ([`LeaderSight`]): plain facts the node
//! gathers from its physical topology for the leader's rules that judge by sight — LT hygiene
//! (`src/cmg/hygiene.rs`) and the namesake check of a join request (`src/cmg/namesake.rs`).

use std::collections::{BTreeMap, BTreeSet};

use crate::types::{Addr, LaunchId, NodeInfo};

/// The CMG leader's physical topology, as plain values (gathered by `src/node/cmg.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LeaderSight<'a> {
    /// The leader's own address.
    pub me: Addr,
    /// The leader's own launch.
    pub launch: LaunchId,
    /// When the leader was admitted to its physical topology (`None`: not yet), in ms.
    pub admitted_at_ms: Option<u64>,
    /// The other members of its physical topology: address → (name, launch).
    pub members: BTreeMap<Addr, (&'a str, LaunchId)>,
    /// The (address, launch) pairs its failure detection removed from its view (tombstones).
    pub buried: &'a BTreeSet<(Addr, LaunchId)>,
    /// Members its failure detector finds silent for `failure_timeout_ms` now, not swept yet
    /// (its next tick removes them): not alive in its eyes. Filled where a judgement is made on
    /// a message (a join request); empty where it follows a tick's sweep. **Decision (a leader
    /// judges a join on what its failure detector says now, fuzz seed 50037096):** a node back
    /// from a pause handles its inbox before its first tick; a leader that judged a moved
    /// voter's join then still saw the voter's old instance, silent through the pause, as a
    /// live holder of the name, and refused the voter for good.
    pub silent: BTreeSet<Addr>,
}

impl LeaderSight<'_> {
    /// Whether the LT (or validated-set) entry `info` is a node in sight: the leader itself, or
    /// a member at its address — of that launch, or of a newer one (a restart, whose join will
    /// replace the entry).
    pub fn present(&self, info: &NodeInfo) -> bool {
        info.addr == self.me || self.members.contains_key(&info.addr)
    }

    /// Whether the node at `addr` is alive under `name` in the leader's eyes: the leader's own
    /// address, or a member there of that name, not [`silent`](Self::silent).
    pub fn alive_named(&self, addr: Addr, name: &str) -> bool {
        addr == self.me
            || (!self.silent.contains(&addr)
                && self.members.get(&addr).is_some_and(|(n, _)| *n == name))
    }

    /// Whether the launch `launch` at `addr` is alive in the leader's eyes: the leader itself,
    /// or a member there of that launch (not declared dead, not replaced by a restart, not
    /// [`silent`](Self::silent)).
    pub fn alive_launch(&self, addr: Addr, launch: LaunchId) -> bool {
        (addr == self.me && launch == self.launch)
            || (!self.silent.contains(&addr)
                && self.members.get(&addr).is_some_and(|(_, l)| *l == launch))
    }

    /// True when failure detection removed `launch` at `addr` from the leader's view.
    pub fn is_buried(&self, addr: Addr, launch: LaunchId) -> bool {
        self.buried.contains(&(addr, launch))
    }
}
