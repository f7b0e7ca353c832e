//! The node's address book: where each name listens (learned from the physical topology, init
//! plans and Raft messages, under the rule that names are unique among live nodes), and the name
//! behind each Raft id and address.

use crate::node::Node;
use crate::types::{raft_id, Addr, InstanceId, NodeName};

/// Bound on the peer addresses a node remembers (`Node::peer_addrs`): a group's voters and
/// learners, for the (at most two) groups it hosts. Past it, entries of incarnations it no
/// longer hosts are dropped, and a peer that still finds no room is addressed through the
/// address book.
pub(crate) const MAX_PEER_ADDRS: usize = 4096;

impl Node {
    /// Records where `name` listens. **Decision (names are unique among live nodes):** the
    /// address of a name changes only once the node at the old address no longer holds it (it
    /// is this node, or a member of its physical topology under that name, until failure
    /// detection removes it or a restart replaces it): a second live node with the name (a
    /// duplicate, refused at join) never draws the name's messages, Raft's included.
    ///
    /// **Decision (the CMG says who a name is in its cluster):** names are unique within a
    /// cluster, not across two clusters that share a physical topology (the two-cluster hazard).
    /// A CMG replica's node gives the name to the node its cluster validated or holds in its LT
    /// under it (`CmgState::member_addr`) while that node is in its view, whoever held the name
    /// before — a node of another cluster that the view met first never draws the cluster's
    /// Raft messages for that name (scenario
    /// `cmg-voter-away-past-its-start-grace-outlives-first-admitted-wins-refusals` seed 3: the
    /// Meta Storage leader sent a validated namesake's learner traffic to a CMG voter of the
    /// other cluster, and the namesake never caught up).
    pub(crate) fn learn_addr(&mut self, name: &str, addr: Addr) {
        // Already known there, with its Raft id: whatever the rules below decide, nothing
        // changes (they only ever write these two entries), so they are not evaluated — a
        // group's every message comes here.
        if self.addrs.get(name) == Some(&addr) && self.names_by_raft_id.contains_key(&raft_id(name))
        {
            return;
        }
        // This node's own name is at its own address, whatever a plan or a cluster state
        // recorded for it (an address it had before it moved: docs/protocol.md, "Restart at
        // another address").
        if name == self.cfg.name && addr != self.cfg.addr {
            return;
        }
        // The address a CMG replica's cluster state records for a group voter (docs/protocol.md,
        // "names are unique among live nodes").
        let group_addr = self
            .cmg
            .as_ref()
            .and_then(|c| c.state().cluster.as_ref())
            .and_then(|c| c.addrs.get(name).copied());
        let holds = |node: &Node, at: Addr| {
            (at == node.cfg.addr && name == node.cfg.name)
                || node
                    .topo
                    .member(at)
                    .is_some_and(|m| m.identity.info.name == name)
        };
        // Empty: no cluster in its vault, and no replica of a group this node hosts or belongs
        // to. **Decision (a moved voter is known by its replica, issue 11, fuzz seed 4545 at
        // seed 0):** a CMG voter of an init that moved before that init committed has no cluster
        // in its vault but hosts the group's replica; it is that voter, not an empty namesake,
        // and its name moves to its new address once the old one left the view. Before, two
        // such voters wrote to each other's old addresses for ever and never elected a leader.
        let ours = [
            self.cmg.as_ref().map(|c| c.group().instance()),
            self.ms.as_ref().map(|m| m.instance()),
            self.local.as_ref().map(|l| l.cmg_instance),
        ];
        let empty = self.topo.member(addr).is_some_and(|m| {
            m.identity.tag.is_none()
                && !m
                    .identity
                    .replica_of
                    .is_some_and(|i| ours.contains(&Some(i)))
        });
        // The node this cluster's CMG knows under the name, alive in this node's view (a
        // delayed message from an instance that has left the view never takes the name back).
        let member_owner = self.cmg.as_ref().and_then(|c| c.state().member_addr(name))
            == Some(addr)
            && holds(self, addr);
        // The voter at the group's address takes its name back from a namesake; so does the
        // cluster's member of that name.
        let group_owner = group_addr == Some(addr) || member_owner;
        // A voter's name is never given to an empty member at another address while the voter
        // lives at the group's address (fuzz seed 13024810); once it is gone, the name may go to
        // the node that took it (fuzz seed 15006630).
        // Planted bug: a name's address moves even while its holder lives.
        let moves_held = self.cfg.bug == Some(crate::bugs::PlantedBug::AcceptDuplicateName);
        if !moves_held
            && !group_owner
            && empty
            && group_addr.is_some_and(|a| a != addr && holds(self, a))
        {
            return;
        }
        if let Some(old) = self.addrs.get(name).copied().filter(|old| *old != addr) {
            if !moves_held && !group_owner && holds(self, old) {
                return;
            }
            // A group voter's name never moves to a node with an empty vault: its Raft id
            // belongs to the node that hosts its replica, which may come back at its address
            // (fuzz seed 9101866: a namesake that appeared while a CMG voter was down drew the
            // group's messages, and no leader was elected again).
            let voter = self.local.as_ref().is_some_and(|l| l.config.is_voter(name))
                || self
                    .cmg
                    .as_ref()
                    .is_some_and(|c| c.plan().is_some_and(|p| p.config.is_voter(name)));
            if voter && empty {
                return;
            }
        }
        if self.addrs.get(name) != Some(&addr) {
            self.addrs.insert(name.to_string(), addr);
            // The joiner follows its leader's name only to a node of the cluster it follows.
            if self
                .topo
                .member(addr)
                .is_some_and(|r| self.of_followed_cluster(r))
            {
                self.joiner.leader_moved(name, addr);
            }
        }
        self.names_by_raft_id
            .entry(raft_id(name))
            .or_insert_with(|| name.to_string());
    }

    pub(crate) fn addr_of(&self, name: &str) -> Option<Addr> {
        self.addrs.get(name).copied()
    }

    /// The incarnation of the CMG (else Meta Storage) replica this node hosts, if any: what its
    /// identity and its join requests say of its vault (docs/protocol.md, "a moved voter is
    /// known by its replica").
    pub(crate) fn hosted_replica(&self) -> Option<InstanceId> {
        self.cmg
            .as_ref()
            .map(|c| c.group().instance())
            .or_else(|| self.ms.as_ref().map(|m| m.instance()))
    }

    /// True when this node hosts a replica of incarnation `instance`.
    fn hosts(&self, instance: InstanceId) -> bool {
        self.cmg
            .as_ref()
            .is_some_and(|c| c.group().instance() == instance)
            || self.ms.as_ref().is_some_and(|m| m.instance() == instance)
    }

    /// A message of the group of incarnation `instance` (Raft traffic, a learner request, an
    /// empty replica's ask) came from `name` at `from`. **Decision (a group's peers are where
    /// its own messages come from, issue 11, fuzz seed 23000234):** the group's messages to
    /// `name` go there, whatever the address book says. The address book has one address per
    /// name, and two clusters sharing a physical topology may each have a node of one name
    /// (the two-cluster hazard); only the group's own member sends the group's messages, since
    /// a namesake of another cluster runs another incarnation. Before, a learner whose book
    /// held its Meta Storage leader's name at the other cluster's namesake sent every answer
    /// there, and never caught up. Learnt only from a sender that is this node or a member of
    /// its view under that name, so a delayed message from an instance that has left the view
    /// never moves it.
    pub(crate) fn peer_seen(&mut self, instance: InstanceId, name: &str, from: Addr) {
        let alive = (from == self.cfg.addr && name == self.cfg.name)
            || self
                .topo
                .member(from)
                .is_some_and(|m| m.identity.info.name == name);
        if alive {
            self.set_peer_addr(instance, name, from);
        }
    }

    /// The cluster says where a group's voter listens (an init plan's or a join acceptance's
    /// addresses): the group's messages to it go there until its own messages say otherwise.
    pub(crate) fn peer_named(&mut self, instance: InstanceId, name: &str, addr: Addr) {
        self.set_peer_addr(instance, name, addr);
    }

    fn set_peer_addr(&mut self, instance: InstanceId, name: &str, addr: Addr) {
        if !self.hosts(instance) {
            return;
        }
        // Looked up by the borrowed name; the name is copied only into a new entry.
        let known = self.peer_addrs.get(&instance).and_then(|m| m.get(name));
        if known == Some(&addr) {
            return;
        }
        if known.is_none() && self.peer_addr_count() >= MAX_PEER_ADDRS {
            let (cmg, ms) = (
                self.cmg.as_ref().map(|c| c.group().instance()),
                self.ms.as_ref().map(|m| m.instance()),
            );
            self.peer_addrs
                .retain(|i, _| Some(*i) == cmg || Some(*i) == ms);
            if self.peer_addr_count() >= MAX_PEER_ADDRS {
                return;
            }
        }
        self.peer_addrs
            .entry(instance)
            .or_default()
            .insert(name.to_string(), addr);
    }

    /// Peer addresses remembered, over every incarnation.
    fn peer_addr_count(&self) -> usize {
        self.peer_addrs.values().map(|m| m.len()).sum()
    }

    /// Where the group of incarnation `instance` sends its messages to `name`: where that
    /// peer's own messages came from ([`Node::peer_seen`]) while a node of that name is a member
    /// of the view there, else the address book's address. (A peer that left the view — dead,
    /// or moved to another address — is reached where the address book says; issue 11: a moved
    /// node's old address was written to for ever.)
    pub(crate) fn peer_addr(&self, instance: InstanceId, name: &str) -> Option<Addr> {
        self.peer_addrs
            .get(&instance)
            .and_then(|m| m.get(name))
            .copied()
            .filter(|addr| {
                (*addr == self.cfg.addr && name == self.cfg.name)
                    || self
                        .topo
                        .member(*addr)
                        .is_some_and(|m| m.identity.info.name == name)
            })
            .or_else(|| self.addr_of(name))
    }

    /// The name of the node at `addr`, if known.
    pub(crate) fn name_of_addr(&self, addr: Addr) -> Option<NodeName> {
        if addr == self.cfg.addr {
            return Some(self.cfg.name.clone());
        }
        if let Some(m) = self.topo.member(addr) {
            return Some(m.identity.info.name.clone());
        }
        self.addrs
            .iter()
            .find(|(_, a)| **a == addr)
            .map(|(n, _)| n.clone())
    }

    pub(crate) fn name_of_raft_id(&self, id: u64) -> Option<NodeName> {
        if id == 0 {
            return None;
        }
        self.names_by_raft_id.get(&id).cloned()
    }
}
