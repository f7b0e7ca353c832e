//! A state of a small world: the model's state, and what the world keeps beside it (spent
//! budgets, halted nodes, cancelled inits, the replicas each vault holds, each init's initiator).

use std::collections::{BTreeMap, BTreeSet};

use super::{Budgets, Move, World, WorldKind, RESTORED_INIT, RESTORED_MS_VERSION, RESTORED_VOTERS};
use crate::action::Action;
use crate::ids::{Group, Init, Launch, Name, Stored, Tag};
use crate::rule::Refusal;
use crate::state::{Cluster, State};

/// One state of a small world. Equal states are one state for the explorer: the model's step
/// counter is kept at 0 (it would make every state unique), and launch ids and log indexes are
/// dense (a node's k-th launch, the next index), so two orders of the same steps meet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorldState {
    pub(crate) model: State,
    pub(crate) spent: Budgets,
    pub(crate) halted: BTreeSet<Name>,
    pub(crate) cancelled: BTreeSet<Init>,
    /// The replicas each vault holds: (node, incarnation), CMG and Meta Storage alike (the
    /// worlds' inits name the same voters for both).
    pub(crate) replicas: BTreeSet<(Name, Init)>,
    pub(crate) initiators: BTreeMap<Init, Name>,
    pub(crate) marks: BTreeSet<Mark>,
}

impl WorldState {
    /// The model's state.
    pub fn model(&self) -> &State {
        &self.model
    }

    /// The budgets spent so far.
    pub fn spent(&self) -> Budgets {
        self.spent
    }

    /// Nodes that stopped for good with a final rejection.
    pub fn halted(&self) -> &BTreeSet<Name> {
        &self.halted
    }

    /// Inits a cancel ended.
    pub fn cancelled_inits(&self) -> &BTreeSet<Init> {
        &self.cancelled
    }

    /// True when the node runs and did not halt.
    pub fn is_live(&self, node: &str) -> bool {
        !self.halted.contains(node) && self.model.nodes.get(node).is_some_and(|n| n.running)
    }

    /// The node's current launch.
    pub fn launch(&self, node: &str) -> Option<Launch> {
        self.model.nodes.get(node).and_then(|n| n.launch)
    }

    /// The vault of the node.
    pub fn vault(&self, node: &str) -> Option<&Stored> {
        self.model.nodes.get(node).and_then(|n| n.vault.as_ref())
    }

    /// The incarnations whose cluster lives: its cluster-init committed, and no cancel ended it.
    pub fn live_clusters(&self) -> Vec<(Init, &Cluster)> {
        self.model
            .clusters
            .iter()
            .filter(|(i, c)| {
                c.committed.is_some()
                    && !self.cancelled.contains(i)
                    && c.fate != Some(crate::Fate::Cancelled)
            })
            .map(|(i, c)| (*i, c))
            .collect()
    }

    /// The CMG (and Meta Storage) voters of incarnation `init`.
    pub fn voters(&self, init: Init) -> Vec<Name> {
        if let Some(sent) = self.model.inits.get(&init) {
            return sent.cmg.clone();
        }
        if init == RESTORED_INIT {
            return RESTORED_VOTERS.iter().map(|s| s.to_string()).collect();
        }
        Vec::new()
    }

    /// The replica of `group` of `init` that applies the next entry: the lowest-named running
    /// voter hosting it, when a majority of the voters host it and run (Raft commits only with a
    /// quorum).
    pub fn leader(&self, init: Init, group: Group) -> Option<Name> {
        let voters = self.voters(init);
        let up: Vec<&Name> = voters
            .iter()
            .filter(|v| {
                self.is_live(v) && self.model.nodes[v.as_str()].hosts.get(&group) == Some(&init)
            })
            .collect();
        (!voters.is_empty() && up.len() * 2 > voters.len()).then(|| up[0].clone())
    }

    /// The next index of the CMG log of `init`.
    pub fn next_index(&self, init: Init) -> u64 {
        self.model
            .clusters
            .get(&init)
            .and_then(|c| c.log.keys().next_back().copied())
            .unwrap_or(0)
            + 1
    }

    /// The next index of the Meta Storage log of `init`.
    pub fn next_ms_index(&self, init: Init) -> u64 {
        self.model
            .clusters
            .get(&init)
            .and_then(|c| c.ms_log.keys().next_back().copied())
            .unwrap_or(0)
            + 1
    }

    /// The tag of init `init`.
    pub fn tag_of(&self, init: Init) -> Option<Tag> {
        self.model.tag_of(init)
    }
}

impl WorldState {
    /// Drops what the model keeps of the past but never consults again in a small world, so
    /// that two orders of the same steps meet in one state: the step counter; dead launches'
    /// requests, join ready and validation (once no validated set or LT holds them); of the
    /// vault states held since the last wipe, all but the highest version of each tag; each log's
    /// entries (only the last index is kept, empty, for the next index: one replica applies
    /// each entry, all of a move's entries at once, so no replica of a small world compares
    /// with an entry of an earlier move); each replica's place in its log; the LT of earlier
    /// versions; the launches the last node-leave command named. What an earlier state showed
    /// and a `sometimes` property needs is kept in [`WorldState::marks`].
    fn compact(&mut self) {
        let m = &mut self.model;
        m.steps = 0;
        m.cursors.clear();
        // Launches that still matter: each node's current one, and any a validated set or an
        // LT holds. The others are dead and judged: their requests, join ready and validation
        // are forgotten (launch ids are dense, so a new one is new without the old ones).
        let mut alive: BTreeSet<(Name, Launch)> = BTreeSet::new();
        for (name, n) in &m.nodes {
            if let Some(l) = n.launch {
                alive.insert((name.clone(), l));
            }
        }
        for c in m.clusters.values() {
            for (name, l) in c.validated.iter().chain(c.lt.iter()) {
                alive.insert((name.clone(), *l));
            }
        }
        for (name, n) in m.nodes.iter_mut() {
            let keeps = |l: &Launch| alive.contains(&(name.clone(), *l));
            n.requests.retain(|(l, _)| keeps(l));
            n.ready.retain(|(l, _)| keeps(l));
            n.launches = n.launch.into_iter().collect();
            // Of the vault states held since the last wipe, the highest Meta Storage version
            // of each tag (and the empty vault), which is all an invariant compares with.
            let mut highest: BTreeMap<Option<Tag>, Option<Stored>> = BTreeMap::new();
            for h in &n.held {
                let key = h.as_ref().map(|v| v.tag.clone());
                let entry = highest.entry(key).or_insert_with(|| h.clone());
                if h.as_ref().map(|v| v.ms_version) > entry.as_ref().map(|v| v.ms_version) {
                    *entry = h.clone();
                }
            }
            n.held = highest.into_values().collect();
        }
        for c in m.clusters.values_mut() {
            c.ever_validated.retain(|nl| alive.contains(nl));
        }
        for c in m.clusters.values_mut() {
            if c.log
                .values()
                .flatten()
                .any(|e| matches!(e, Action::NodesLeft { .. }))
            {
                self.marks.insert(Mark::DeadLeftLt);
            }
            c.log.clear();
            c.ms_log.clear();
            let versions: Vec<_> = c.lt_history.values().collect();
            let replaced = versions.windows(2).any(|w| {
                w[1].iter()
                    .any(|(n, l)| w[0].iter().any(|(o, k)| o == n && k != l))
            });
            if replaced {
                self.marks.insert(Mark::RejoinReplacedLtEntry);
            }
            if let Some((&version, members)) = c.lt_history.iter().next_back() {
                c.lt_history = BTreeMap::from([(version, members.clone())]);
            }
            c.left = None;
        }
    }

    /// Interesting things that happened on the way to this state.
    pub fn marks(&self) -> &BTreeSet<Mark> {
        &self.marks
    }
}

/// Something a `sometimes` property asks for that the state alone no longer shows once it is
/// compacted (see [`WorldState::marks`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mark {
    /// A node-leave command removed a dead launch from an LT.
    DeadLeftLt,
    /// A new launch of a name replaced its older launch in an LT.
    RejoinReplacedLtEntry,
}

impl World {
    /// The state every exploration starts from: every node started once from its initial
    /// vault, in name order, and the replicas of a cluster from before the run reopened from
    /// their vaults, their logs applied (as `restore.rs` of the protocol builds them: the Meta
    /// Storage configuration at index 1, the cluster-init with version Y at index 2).
    pub fn initial(&self) -> WorldState {
        let mut s = WorldState {
            model: State::default().with_flaw(self.flaw),
            spent: Budgets::default(),
            halted: BTreeSet::new(),
            cancelled: BTreeSet::new(),
            replicas: BTreeSet::new(),
            initiators: BTreeMap::new(),
            marks: BTreeSet::new(),
        };
        let mut prefix = Vec::new();
        for node in &self.nodes {
            prefix.push(Action::Start {
                node: node.clone(),
                name: node.clone(),
                launch: self.launch_id(node, 1),
                stored: self.initial_vault(node),
            });
        }
        if self.kind == WorldKind::Stale {
            let voters: Vec<Name> = RESTORED_VOTERS.iter().map(|v| v.to_string()).collect();
            for v in &voters {
                s.replicas.insert((v.clone(), RESTORED_INIT));
                for group in [Group::Cmg, Group::Ms] {
                    prefix.push(Action::GroupStarted {
                        node: v.clone(),
                        group,
                        init: RESTORED_INIT,
                        from_vault: true,
                    });
                }
                prefix.push(Action::MsConfigApplied {
                    node: v.clone(),
                    version: RESTORED_MS_VERSION,
                    nodes: voters.clone(),
                    index: 1,
                });
                prefix.push(Action::ClusterInit {
                    node: v.clone(),
                    init: RESTORED_INIT,
                    tag: World::restored_tag(),
                    cmg: voters.clone(),
                    ms_version: RESTORED_MS_VERSION,
                    index: 2,
                });
            }
        }
        for action in &prefix {
            if let Err(refusal) = s.model.step(action) {
                panic!("the model refuses the world's initial state at {action:?}: {refusal}");
            }
        }
        s.compact();
        s
    }

    /// The launch id of `node`'s `k`-th launch (1-based): dense, so that it does not depend on
    /// the order in which nodes started.
    pub(crate) fn launch_id(&self, node: &str, k: u64) -> Launch {
        let index = self.nodes.iter().position(|n| n == node).unwrap_or(0) as u64;
        (index + 1) * 100 + k
    }

    /// The state after `m`, or the model's refusal of one of its actions. The model's step
    /// counter is reset (see [`WorldState`]).
    ///
    /// # Errors
    /// The [`Refusal`] of the first action the model does not allow.
    pub fn apply(&self, s: &WorldState, m: &Move) -> Result<WorldState, Refusal> {
        let mut next = s.clone();
        for action in &m.actions {
            next.model.step(action)?;
        }
        m.kind.book(self, &mut next);
        next.compact();
        Ok(next)
    }

    /// The moves [`World::apply`] takes from `s`, in a fixed order.
    pub fn enabled(&self, s: &WorldState) -> Vec<(Move, WorldState)> {
        let mut out = Vec::new();
        self.moves(s, &mut out);
        out.into_iter()
            .filter_map(|m| self.apply(s, &m).ok().map(|next| (m, next)))
            .collect()
    }
}
