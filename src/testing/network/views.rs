//! Reading the test network's nodes without changing them: whether they run, their views (cached
//! until the node next changes), vaults and addresses, and whether they joined.

use std::collections::BTreeMap;

use super::Network;
use crate::types::Addr;
use crate::vault::Vault;
use crate::view::NodeView;
use crate::Node;

impl Network {
    /// True while the node runs.
    pub fn is_running(&self, label: &str) -> bool {
        self.slots[self.index(label)].node.is_some()
    }

    /// The running node, read-only (its [`Node::info`], [`Node::launch`]…). `None` while down.
    pub fn node(&self, label: &str) -> Option<&Node> {
        self.slots[self.index(label)].node.as_ref()
    }

    /// The node's state as [`Node::view`] gives it; `None` while it is down. Cached until the
    /// node next changes, so a predicate may read it after every step cheaply.
    pub fn view(&self, label: &str) -> Option<&NodeView> {
        let slot = &self.slots[self.index(label)];
        let node = slot.node.as_ref()?;
        Some(slot.view.get_or_init(|| node.view()))
    }

    /// Every running node's view, by label.
    pub fn views(&self) -> BTreeMap<String, &NodeView> {
        self.slots
            .iter()
            .filter_map(|s| self.view(&s.label).map(|v| (s.label.clone(), v)))
            .collect()
    }

    /// The node's vault (durable state, kept while the node is down).
    pub fn vault(&self, label: &str) -> &Vault {
        &self.slots[self.index(label)].vault
    }

    /// The node's address.
    pub fn addr(&self, label: &str) -> Addr {
        self.slots[self.index(label)].config.addr
    }

    /// The node's fixed Raft election timeout, in ticks, drawn from the seed when the node was
    /// added, in `[election_ticks, 2 * election_ticks)`.
    pub fn election_ticks_of(&self, label: &str) -> usize {
        self.slots[self.index(label)].election_ticks
    }

    /// True when each of these nodes runs and is joined (by its own account).
    pub fn joined(&self, labels: &[&str]) -> bool {
        labels
            .iter()
            .all(|l| self.view(l).is_some_and(|v| v.is_joined()))
    }

    /// True when each of these nodes runs and has stopped with a rejection.
    pub fn halted(&self, labels: &[&str]) -> bool {
        labels
            .iter()
            .all(|l| self.view(l).is_some_and(|v| v.halted.is_some()))
    }

    /// True when some node runs and every node runs and is joined.
    pub fn all_joined(&self) -> bool {
        !self.slots.is_empty()
            && self
                .slots
                .iter()
                .all(|s| self.view(&s.label).is_some_and(|v| v.is_joined()))
    }

    /// The label of a running node whose CMG replica leads (the first one, by insertion order).
    pub fn cmg_leader(&self) -> Option<String> {
        self.slots
            .iter()
            .find(|s| self.view(&s.label).is_some_and(|v| v.is_cmg_leader()))
            .map(|s| s.label.clone())
    }

    /// The logical topology the CMG leader holds: version and member names, sorted.
    pub fn leader_lt(&self) -> Option<(u64, Vec<String>)> {
        let leader = self.cmg_leader()?;
        let lt = self.view(&leader)?.lt()?;
        Some((lt.version, lt.members.keys().cloned().collect()))
    }
}
