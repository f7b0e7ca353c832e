//! The model's state: what the spec says each node and each cluster incarnation holds.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{Fate, Group, Init, Launch, Name, Stored, Tag};

/// The whole model state: every node, every init sent, every CMG incarnation's committed state,
/// and the tags users were told. Start from [`State::default`] (no node, no cluster) and feed
/// actions to [`State::step`](crate::State::step).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct State {
    /// Each node, by name.
    pub(crate) nodes: BTreeMap<Name, NodeState>,
    /// Each init sent in this run, by attempt.
    pub(crate) inits: BTreeMap<Init, InitSent>,
    /// Each CMG incarnation met, by its init attempt.
    pub(crate) clusters: BTreeMap<Init, Cluster>,
    /// Tags a user got as the answer to an init (spec §5).
    pub(crate) answered: BTreeSet<Tag>,
    /// Tags whose init a cancel cleared somewhere, or whose CMG committed a cancel.
    pub(crate) cancelled: BTreeSet<Tag>,
    /// Each replica's place in its log: (node, group) → (the last index applied, how many
    /// effects of that index it reported). Forgotten when the replica starts or stops.
    pub(crate) cursors: BTreeMap<(Name, Group), (u64, usize)>,
    /// Actions taken so far.
    pub(crate) steps: u64,
    /// The planted model error the rules run with (`None`: the model as written).
    pub(crate) flaw: Option<crate::ModelFlaw>,
}

/// An init as its initiator sent it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InitSent {
    /// The tag drawn.
    pub tag: Tag,
    /// CMG voters.
    pub cmg: Vec<Name>,
    /// MS voters.
    pub ms: Vec<Name>,
}

/// One node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeState {
    /// The name it runs under (set at its start).
    pub name: Name,
    /// Its process runs.
    pub running: bool,
    /// Its current (or last) launch.
    pub launch: Option<Launch>,
    /// Every launch it had.
    pub launches: BTreeSet<Launch>,
    /// Whether it started at least once (before, its vault is whatever the run gave it).
    pub started: bool,
    /// What its vault holds (`None`: empty).
    pub vault: Option<Stored>,
    /// False after a storage fault, until the next start: the vault may then hold any state it
    /// held since its last wipe ([`NodeState::held`]).
    pub vault_known: bool,
    /// Every state the vault held since its last wipe.
    pub held: BTreeSet<Option<Stored>>,
    /// The replicas it hosts: group → incarnation.
    pub hosts: BTreeMap<Group, Init>,
    /// Join requests sent: (launch, what it presented).
    pub requests: BTreeSet<(Launch, Option<(Tag, u64)>)>,
    /// The latest acceptance of its current launch: (launch, tag, the cluster's MS version).
    pub accepted: Option<(Launch, Tag, u64)>,
    /// The launch whose recovery finished after its latest acceptance.
    pub recovered: Option<Launch>,
    /// Join ready sent: (launch, the tag of the cluster whose acceptance it answered). Join
    /// ready belongs to one cluster: after a cancel cleared the node, the next cluster takes it
    /// into its LT only on join ready sent after that cluster accepted it (spec step 4: join
    /// ready follows the acceptance it answers).
    pub ready: BTreeSet<(Launch, Tag)>,
}

/// A CMG incarnation's committed state, as its log defines it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cluster {
    /// The committed cluster-init: (tag, CMG voters), once applied.
    pub committed: Option<(Tag, Vec<Name>)>,
    /// The init's fate, once applied.
    pub fate: Option<Fate>,
    /// The effects of each CMG log index, as the first replica to apply it reported them (with
    /// the node left out).
    pub log: BTreeMap<u64, Vec<crate::Action>>,
    /// The effects of each MS log index, likewise.
    pub ms_log: BTreeMap<u64, Vec<crate::Action>>,
    /// The validated set: name → launch.
    pub validated: BTreeMap<Name, Launch>,
    /// Every (name, launch) ever validated.
    pub ever_validated: BTreeSet<(Name, Launch)>,
    /// The LT: name → launch.
    pub lt: BTreeMap<Name, Launch>,
    /// The LT version.
    pub lt_version: u64,
    /// The LT at each version.
    pub lt_history: BTreeMap<u64, BTreeSet<(Name, Launch)>>,
    /// The launches the node-leave command at this index named: (index, launches).
    pub left: Option<(u64, BTreeSet<(Name, Launch)>)>,
    /// The committed MS version.
    pub ms_version: u64,
    /// The committed MS voter list of each version (`None` when the run did not show it).
    pub ms_configs: BTreeMap<u64, Option<Vec<Name>>>,
    /// The highest MS configuration version applied by the Meta Storage.
    pub ms_applied: u64,
    /// The Meta Storage of this incarnation had a leader.
    pub ms_led: bool,
}

impl State {
    /// This state with the planted model error `flaw` switched on (`None`: off). For the
    /// explorer's self-test only (docs/explore.md); trace validation never sets one.
    pub fn with_flaw(mut self, flaw: Option<crate::ModelFlaw>) -> State {
        self.flaw = flaw;
        self
    }

    /// True when the planted model error `flaw` is on.
    pub(crate) fn flawed(&self, flaw: crate::ModelFlaw) -> bool {
        self.flaw == Some(flaw)
    }

    /// Each node, by name (read only: the explorer's properties judge states by it).
    pub fn nodes(&self) -> &BTreeMap<Name, NodeState> {
        &self.nodes
    }

    /// Each init sent, by attempt.
    pub fn inits(&self) -> &BTreeMap<Init, InitSent> {
        &self.inits
    }

    /// Each CMG incarnation met, by its init attempt.
    pub fn clusters(&self) -> &BTreeMap<Init, Cluster> {
        &self.clusters
    }

    /// Tags whose init a cancel cleared somewhere, or whose CMG committed a cancel.
    pub fn cancelled(&self) -> &BTreeSet<Tag> {
        &self.cancelled
    }

    /// How many actions the model took.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The committed tag of each CMG incarnation, by init attempt.
    pub fn committed_tags(&self) -> BTreeMap<Init, Tag> {
        self.clusters
            .iter()
            .filter_map(|(i, c)| c.committed.as_ref().map(|(t, _)| (*i, t.clone())))
            .collect()
    }

    /// The LT (name, launch) of the incarnation `init` and its version.
    pub fn lt(&self, init: Init) -> Option<(u64, Vec<(Name, Launch)>)> {
        self.clusters.get(&init).map(|c| {
            (
                c.lt_version,
                c.lt.iter().map(|(n, l)| (n.clone(), *l)).collect(),
            )
        })
    }

    /// The tags users were told.
    pub fn answered(&self) -> &BTreeSet<Tag> {
        &self.answered
    }

    /// The committed incarnation whose tag is `tag`, if any.
    pub(crate) fn cluster_of_tag(&self, tag: &Tag) -> Option<(Init, &Cluster)> {
        self.clusters
            .iter()
            .find(|(_, c)| c.committed.as_ref().is_some_and(|(t, _)| t == tag))
            .map(|(i, c)| (*i, c))
    }

    /// The tag of init attempt `init`, if the model knows it.
    pub(crate) fn tag_of(&self, init: Init) -> Option<Tag> {
        self.inits.get(&init).map(|i| i.tag.clone()).or_else(|| {
            self.clusters
                .get(&init)
                .and_then(|c| c.committed.as_ref().map(|(t, _)| t.clone()))
        })
    }
}
