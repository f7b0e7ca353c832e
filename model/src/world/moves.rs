//! The moves of a small world: the protocol's next steps and the faults the budgets allow.

use std::fmt;

use super::{World, WorldState, CLUSTER_NAME};
use crate::action::Action;
use crate::ids::{Fate, Group, Init, JoinRejection, Launch, Name, Tag};

/// One move: what happened ([`MoveKind`]) and the model actions it is made of, taken together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Move {
    /// What happened.
    pub kind: MoveKind,
    /// The model's actions, in order.
    pub actions: Vec<Action>,
}

/// What a move does. The first six are the environment's (faults and user commands, each
/// spending a budget, except a restart); the others are the protocol's own steps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MoveKind {
    /// A running node is killed (budget `kills`).
    Kill {
        /// The node.
        node: Name,
    },
    /// A stopped node starts again from its vault, with a new launch, and reopens the replicas
    /// its vault holds.
    Restart {
        /// The node.
        node: Name,
    },
    /// A node is killed (if it runs) and its vault wiped (budget `wipes`); it stays down.
    Wipe {
        /// The node.
        node: Name,
    },
    /// A user sends init to `via`, naming `voters` as CMG and Meta Storage (budget `inits`).
    Init {
        /// The attempt.
        init: Init,
        /// The node the user sends it to.
        via: Name,
        /// CMG and Meta Storage voters.
        voters: Vec<Name>,
    },
    /// The init is cancelled (budget `cancels`): its fate in the CMG log if the cluster-init is
    /// committed, its replicas destroyed and its vault state cleared on the running nodes.
    Cancel {
        /// The attempt.
        init: Init,
    },
    /// An admin asks `via` (a member of the LT) to make `nodes` the Meta Storage voters (budget
    /// `reconfigurations`): the CMG commits them with the next Meta Storage version.
    Reconfigure {
        /// The incarnation.
        init: Init,
        /// The node the admin asks.
        via: Name,
        /// The new voters.
        nodes: Vec<Name>,
    },
    /// A named node starts its CMG and Meta Storage replicas of the init.
    StartReplicas {
        /// The node.
        node: Name,
        /// The attempt.
        init: Init,
    },
    /// The CMG commits the cluster-init command, and the Meta Storage (the same voters) applies
    /// its first configuration and has a leader.
    Commit {
        /// The incarnation.
        init: Init,
    },
    /// The CMG commits the init's fate `Answered` and a user gets the tag.
    Answer {
        /// The attempt.
        init: Init,
    },
    /// The Meta Storage applies the configuration the CMG committed last.
    MsApply {
        /// The incarnation.
        init: Init,
        /// The configuration's version.
        version: u64,
    },
    /// The node sends a join request (its CMG leader sent it the cluster state) and the CMG
    /// validates it.
    Validate {
        /// The joiner.
        node: Name,
        /// The incarnation.
        init: Init,
    },
    /// The node sends a join request and the CMG rejects it; the node halts.
    Reject {
        /// The joiner.
        node: Name,
        /// The incarnation.
        init: Init,
        /// Why.
        reason: JoinRejection,
    },
    /// The validated node learns it was accepted and stores the cluster's tag, catches up to
    /// the cluster's Meta Storage version, finishes its recovery and sends join ready.
    Ready {
        /// The node.
        node: Name,
        /// The incarnation.
        init: Init,
    },
    /// A member that sent join ready stores the Meta Storage version the CMG committed since.
    CatchUp {
        /// The node.
        node: Name,
        /// The version stored.
        to: u64,
    },
    /// The CMG moves the node's validated, ready launch into the LT (replacing an older launch
    /// of its name) and the node learns it joined.
    EnterLt {
        /// The node.
        node: Name,
        /// The incarnation.
        init: Init,
    },
    /// The CMG removes a dead launch (its node down, or started again since) from the LT.
    LeaveDead {
        /// The node.
        node: Name,
        /// The dead launch.
        launch: Launch,
        /// The incarnation.
        init: Init,
    },
    /// A running node that holds state of a cancelled init learns of the cancel: its replicas
    /// are destroyed and its vault cleared.
    Cleanup {
        /// The node.
        node: Name,
    },
}

impl MoveKind {
    /// True for the environment's moves (faults and user commands): the ones a scenario file
    /// writes as steps.
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            MoveKind::Kill { .. }
                | MoveKind::Restart { .. }
                | MoveKind::Wipe { .. }
                | MoveKind::Init { .. }
                | MoveKind::Cancel { .. }
                | MoveKind::Reconfigure { .. }
        )
    }

    /// Updates what the world keeps beside the model after the move.
    pub(crate) fn book(&self, _world: &World, s: &mut WorldState) {
        match self {
            MoveKind::Kill { .. } => s.spent.kills += 1,
            MoveKind::Wipe { node } => {
                s.spent.wipes += 1;
                s.replicas.retain(|(n, _)| n != node);
            }
            MoveKind::Init { init, via, voters } => {
                s.spent.inits += 1;
                s.initiators.insert(*init, via.clone());
                for v in voters {
                    s.replicas.insert((v.clone(), *init));
                }
            }
            MoveKind::Cancel { init } => {
                s.spent.cancels += 1;
                s.cancelled.insert(*init);
                let running: Vec<Name> = s
                    .model
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.running)
                    .map(|(name, _)| name.clone())
                    .collect();
                s.replicas
                    .retain(|(n, i)| i != init || !running.contains(n));
            }
            MoveKind::Reconfigure { .. } => s.spent.reconfigurations += 1,
            MoveKind::StartReplicas { node, init } => {
                s.replicas.insert((node.clone(), *init));
            }
            MoveKind::Reject { node, .. } => {
                s.halted.insert(node.clone());
            }
            MoveKind::Cleanup { node } => {
                let cancelled = s.cancelled.clone();
                s.replicas
                    .retain(|(n, i)| n != node || !cancelled.contains(i));
            }
            _ => {}
        }
    }
}

impl fmt::Display for MoveKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveKind::Kill { node } => write!(f, "kill {node}"),
            MoveKind::Restart { node } => write!(f, "restart {node}"),
            MoveKind::Wipe { node } => write!(f, "wipe {node}"),
            MoveKind::Init { init, via, voters } => {
                write!(f, "init {init} via {via}, voters {}", voters.join(","))
            }
            MoveKind::Cancel { init } => write!(f, "cancel init {init}"),
            MoveKind::Reconfigure { via, nodes, .. } => {
                write!(
                    f,
                    "reconfigure the Meta Storage via {via} to {}",
                    nodes.join(",")
                )
            }
            MoveKind::StartReplicas { node, init } => {
                write!(f, "{node} starts its replicas of init {init}")
            }
            MoveKind::Commit { init } => write!(
                f,
                "the CMG of {init} commits the cluster-init; its Meta Storage has a leader"
            ),
            MoveKind::Answer { init } => write!(f, "init {init} is answered"),
            MoveKind::MsApply { version, .. } => {
                write!(f, "the Meta Storage applies version {version}")
            }
            MoveKind::Validate { node, .. } => {
                write!(f, "{node} sends a join request; the CMG validates it")
            }
            MoveKind::Reject { node, reason, .. } => {
                write!(
                    f,
                    "{node} sends a join request; the CMG rejects it ({reason:?})"
                )
            }
            MoveKind::CatchUp { node, to } => write!(f, "{node} stores MS version {to}"),
            MoveKind::Ready { node, .. } => {
                write!(
                    f,
                    "{node} is accepted, catches up, recovers and sends join ready"
                )
            }
            MoveKind::EnterLt { node, .. } => write!(f, "{node} enters the LT"),
            MoveKind::LeaveDead { node, launch, .. } => {
                write!(
                    f,
                    "the CMG removes {node}'s dead launch {launch} from the LT"
                )
            }
            MoveKind::Cleanup { node } => write!(f, "{node} learns of the cancel"),
        }
    }
}

fn mv(kind: MoveKind, actions: Vec<Action>) -> Move {
    Move { kind, actions }
}

/// The node's CMG and Meta Storage replicas of `init` start (the worlds' inits name the same
/// voters for both groups).
fn replicas_of(node: &str, init: Init, from_vault: bool) -> Vec<Action> {
    [Group::Cmg, Group::Ms]
        .into_iter()
        .map(|group| Action::GroupStarted {
            node: node.to_string(),
            group,
            init,
            from_vault,
        })
        .collect()
}

impl World {
    /// Every move worth trying from `s`, in a fixed order: the protocol's steps first, then the
    /// environment's. [`World::apply`] (the model) decides which are taken.
    pub fn moves(&self, s: &WorldState, out: &mut Vec<Move>) {
        self.protocol_moves(s, out);
        self.environment_moves(s, out);
    }

    fn protocol_moves(&self, s: &WorldState, out: &mut Vec<Move>) {
        let m = &s.model;
        // A named node without its replicas starts them (the init starts them on every named
        // node at once; this is for one wiped or down at the time); the cluster-init commits and
        // the Meta Storage leads; the user is answered.
        for (&init, sent) in &m.inits {
            if s.cancelled.contains(&init) {
                continue;
            }
            for node in &sent.cmg {
                if s.is_live(node) && !s.replicas.contains(&(node.clone(), init)) {
                    out.push(mv(
                        MoveKind::StartReplicas {
                            node: node.clone(),
                            init,
                        },
                        replicas_of(node, init, false),
                    ));
                }
            }
            let cluster = m.clusters.get(&init);
            let committed = cluster.is_some_and(|c| c.committed.is_some());
            let Some(leader) = s.leader(init, Group::Cmg) else {
                continue;
            };
            if !committed {
                out.push(mv(
                    MoveKind::Commit { init },
                    vec![
                        Action::ClusterInit {
                            node: leader.clone(),
                            init,
                            tag: sent.tag.clone(),
                            cmg: sent.cmg.clone(),
                            ms_version: 1,
                            index: s.next_index(init),
                        },
                        Action::MsConfigApplied {
                            node: leader.clone(),
                            version: 1,
                            nodes: sent.ms.clone(),
                            index: s.next_ms_index(init),
                        },
                        Action::MsLeader {
                            node: leader.clone(),
                            init,
                        },
                    ],
                ));
                continue;
            }
            let undecided = cluster.is_some_and(|c| c.fate.is_none());
            let answerer = s
                .initiators
                .get(&init)
                .filter(|n| s.is_live(n))
                .cloned()
                .or_else(|| self.nodes.iter().find(|n| s.is_live(n)).cloned());
            if let (true, Some(answerer)) = (undecided, answerer) {
                out.push(mv(
                    MoveKind::Answer { init },
                    vec![
                        Action::FateApplied {
                            node: leader,
                            init,
                            fate: Fate::Answered,
                            index: s.next_index(init),
                        },
                        Action::InitAnswered {
                            node: answerer,
                            tag: sent.tag.clone(),
                        },
                    ],
                ));
            }
        }
        for (init, c) in s.live_clusters() {
            let Some((tag, _)) = c.committed.clone() else {
                continue;
            };
            if let (true, Some(leader)) = (c.ms_applied < c.ms_version, s.leader(init, Group::Ms)) {
                let nodes = c
                    .ms_configs
                    .get(&c.ms_version)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| s.voters(init));
                out.push(mv(
                    MoveKind::MsApply {
                        init,
                        version: c.ms_version,
                    },
                    vec![Action::MsConfigApplied {
                        node: leader,
                        version: c.ms_version,
                        nodes,
                        index: s.next_ms_index(init),
                    }],
                ));
            }
            let Some(leader) = s.leader(init, Group::Cmg) else {
                continue;
            };
            let index = s.next_index(init);
            // Join requests, judged: every outcome is proposed, the model keeps the ones its
            // validation allows.
            for node in &self.nodes {
                let Some(launch) = s.launch(node).filter(|_| s.is_live(node)) else {
                    continue;
                };
                if c.ever_validated.iter().any(|(_, l)| *l == launch) {
                    continue;
                }
                let request = Action::JoinRequest {
                    node: node.clone(),
                    stored: s
                        .vault(node)
                        .map(|v| (v.tag.clone(), v.ms_version.unwrap_or(0))),
                };
                out.push(mv(
                    MoveKind::Validate {
                        node: node.clone(),
                        init,
                    },
                    vec![
                        request.clone(),
                        Action::Validated {
                            node: leader.clone(),
                            joiner: node.clone(),
                            launch,
                            index,
                        },
                    ],
                ));
                for reason in [JoinRejection::TagMismatch, JoinRejection::MsVersionAhead] {
                    out.push(mv(
                        MoveKind::Reject {
                            node: node.clone(),
                            init,
                            reason: reason.clone(),
                        },
                        vec![
                            request.clone(),
                            Action::Rejected {
                                node: leader.clone(),
                                joiner: node.clone(),
                                launch,
                                reason,
                                index,
                            },
                            Action::Halt { node: node.clone() },
                        ],
                    ));
                }
            }
            // Validated ready launches enter the LT; dead ones leave it.
            for (name, &launch) in &c.validated {
                // Join ready of this launch, sent to this cluster: a node whose vault a cancel
                // cleared sends it again after its next acceptance.
                let ready = m
                    .nodes
                    .get(name)
                    .is_some_and(|n| n.ready.contains(&(launch, tag.clone())));
                if !ready || c.lt.get(name) == Some(&launch) {
                    continue;
                }
                let mut lt = c.lt.clone();
                lt.insert(name.clone(), launch);
                let version = c.lt_version + 1;
                let mut actions = vec![Action::LtChanged {
                    node: leader.clone(),
                    version,
                    members: lt.into_iter().collect(),
                    index,
                }];
                if s.is_live(name) && s.launch(name) == Some(launch) {
                    actions.push(Action::Joined {
                        node: name.clone(),
                        lt_version: version,
                    });
                }
                out.push(mv(
                    MoveKind::EnterLt {
                        node: name.clone(),
                        init,
                    },
                    actions,
                ));
            }
            for (name, &launch) in &c.lt {
                if s.is_live(name) && s.launch(name) == Some(launch) {
                    continue;
                }
                let mut lt = c.lt.clone();
                lt.remove(name);
                out.push(mv(
                    MoveKind::LeaveDead {
                        node: name.clone(),
                        launch,
                        init,
                    },
                    vec![
                        Action::NodesLeft {
                            node: leader.clone(),
                            nodes: vec![(name.clone(), launch)],
                            index,
                        },
                        Action::LtChanged {
                            node: leader.clone(),
                            version: c.lt_version + 1,
                            members: lt.into_iter().collect(),
                            index,
                        },
                    ],
                ));
            }
            // The joiner's side: acceptance, catch-up, recovery and join ready; later catch-ups.
            for node in &self.nodes {
                let Some(launch) = s.launch(node).filter(|_| s.is_live(node)) else {
                    continue;
                };
                let n = &m.nodes[node.as_str()];
                let accepted_here = n
                    .accepted
                    .as_ref()
                    .is_some_and(|(l, t, _)| *l == launch && *t == tag);
                let held = n.vault.as_ref().and_then(|v| v.ms_version);
                let behind = held.is_none_or(|x| x < c.ms_version);
                let catch_up = Action::MsVersionStored {
                    node: node.clone(),
                    from: held,
                    to: c.ms_version,
                };
                if accepted_here {
                    if behind && n.ready.contains(&(launch, tag.clone())) {
                        out.push(mv(
                            MoveKind::CatchUp {
                                node: node.clone(),
                                to: c.ms_version,
                            },
                            vec![catch_up],
                        ));
                    }
                    continue;
                }
                if c.validated.get(node) != Some(&launch) {
                    continue;
                }
                let mut actions = vec![Action::JoinAccepted {
                    node: node.clone(),
                    tag: tag.clone(),
                    stored_ms: held,
                    cluster_ms: c.ms_version,
                }];
                if behind {
                    actions.push(catch_up);
                }
                actions.push(Action::RecoveryFinished {
                    node: node.clone(),
                    ms_version: if behind {
                        c.ms_version
                    } else {
                        held.unwrap_or_default()
                    },
                });
                actions.push(Action::JoinReady { node: node.clone() });
                out.push(mv(
                    MoveKind::Ready {
                        node: node.clone(),
                        init,
                    },
                    actions,
                ));
            }
        }
        // Nodes that hold state of a cancelled init learn of the cancel.
        for node in &self.nodes {
            if !s.is_live(node) {
                continue;
            }
            let actions = self.clearing(s, node, &s.cancelled.iter().copied().collect::<Vec<_>>());
            if !actions.is_empty() {
                out.push(mv(MoveKind::Cleanup { node: node.clone() }, actions));
            }
        }
    }

    /// The actions that clear `node` of the state of `inits`: its replicas destroyed, its vault
    /// cleared of their tags.
    fn clearing(&self, s: &WorldState, node: &str, inits: &[Init]) -> Vec<Action> {
        let n = &s.model.nodes[node];
        let mut actions = Vec::new();
        for &init in inits {
            for group in [Group::Cmg, Group::Ms] {
                if n.hosts.get(&group) == Some(&init) {
                    actions.push(Action::GroupDestroyed {
                        node: node.to_string(),
                        group,
                        init,
                    });
                }
            }
            let tag = s.tag_of(init);
            if tag.is_some() && n.vault.as_ref().map(|v| &v.tag) == tag.as_ref() {
                actions.push(Action::VaultCleared {
                    node: node.to_string(),
                    init,
                });
            }
        }
        actions
    }

    fn environment_moves(&self, s: &WorldState, out: &mut Vec<Move>) {
        let m = &s.model;
        let budget = self.budgets;
        let live = s.live_clusters();
        let voter_of_live = |node: &Name| live.iter().any(|(i, _)| s.voters(*i).contains(node));
        for node in &self.nodes {
            if s.halted.contains(node) {
                continue;
            }
            let n = &m.nodes[node.as_str()];
            if n.running && s.spent.kills < budget.kills {
                out.push(mv(
                    MoveKind::Kill { node: node.clone() },
                    vec![Action::Kill { node: node.clone() }],
                ));
            }
            if !n.running {
                let mut actions = vec![Action::Start {
                    node: node.clone(),
                    name: node.clone(),
                    launch: n.launch.map_or_else(|| self.launch_id(node, 1), |l| l + 1),
                    stored: n.vault.clone(),
                }];
                for (_, init) in s.replicas.iter().filter(|(r, _)| r == node) {
                    actions.extend(replicas_of(node, *init, true));
                }
                out.push(mv(MoveKind::Restart { node: node.clone() }, actions));
            }
            if s.spent.wipes < budget.wipes && !voter_of_live(node) {
                let mut actions = Vec::new();
                if n.running {
                    actions.push(Action::Kill { node: node.clone() });
                }
                actions.push(Action::Wipe { node: node.clone() });
                out.push(mv(MoveKind::Wipe { node: node.clone() }, actions));
            }
        }
        // A user's init: only once every earlier one was cancelled and no cluster lives.
        let all_cancelled = m.inits.keys().all(|i| s.cancelled.contains(i));
        if s.spent.inits < budget.inits && all_cancelled && live.is_empty() {
            let init = m.inits.len() as Init + 1;
            let eligible: Vec<Name> = self
                .nodes
                .iter()
                .filter(|n| s.is_live(n) && s.vault(n).is_none())
                .cloned()
                .collect();
            // Two inits: a CMG of the first eligible node alone, and one of every eligible
            // node; each sent to its first voter.
            if let Some(first) = eligible.first() {
                let via = first;
                let mut lists = vec![vec![via.clone()]];
                if eligible.len() > 1 {
                    lists.push(eligible.clone());
                }
                for voters in lists {
                    let mut actions = vec![Action::InitSent {
                        node: via.clone(),
                        init,
                        tag: Tag {
                            name: CLUSTER_NAME.into(),
                            id: init as u128,
                        },
                        cmg: voters.clone(),
                        ms: voters.clone(),
                    }];
                    for v in &voters {
                        actions.extend(replicas_of(v, init, false));
                    }
                    out.push(mv(
                        MoveKind::Init {
                            init,
                            via: via.clone(),
                            voters,
                        },
                        actions,
                    ));
                }
            }
        }
        // A cancel of an init that no cancel ended yet (answered or not: the model judges).
        if s.spent.cancels < budget.cancels {
            for &init in m.inits.keys() {
                if s.cancelled.contains(&init) {
                    continue;
                }
                let mut actions = Vec::new();
                if m.clusters.get(&init).is_some_and(|c| c.committed.is_some()) {
                    let Some(leader) = s.leader(init, Group::Cmg) else {
                        continue;
                    };
                    actions.push(Action::FateApplied {
                        node: leader,
                        init,
                        fate: Fate::Cancelled,
                        index: s.next_index(init),
                    });
                }
                for node in &self.nodes {
                    if s.is_live(node) {
                        actions.extend(self.clearing(s, node, &[init]));
                    }
                }
                out.push(mv(MoveKind::Cancel { init }, actions));
            }
        }
        // An admin's Meta Storage reconfiguration, through a member of the LT.
        if s.spent.reconfigurations < budget.reconfigurations {
            for (init, c) in &live {
                let answered = c
                    .committed
                    .as_ref()
                    .is_some_and(|(t, _)| m.answered.contains(t))
                    || !m.inits.contains_key(init);
                let via =
                    c.lt.iter()
                        .find(|(n, l)| s.is_live(n) && s.launch(n) == Some(**l))
                        .map(|(n, _)| n.clone());
                let (true, Some(via), Some(leader)) = (answered, via, s.leader(*init, Group::Cmg))
                else {
                    continue;
                };
                let current = c
                    .ms_configs
                    .get(&c.ms_version)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| s.voters(*init));
                let mut nodes = current.clone();
                match c.lt.keys().find(|n| !current.contains(n)) {
                    Some(added) => nodes.push(added.clone()),
                    None if nodes.len() > 1 => {
                        nodes.pop();
                    }
                    None => continue,
                }
                nodes.sort();
                out.push(mv(
                    MoveKind::Reconfigure {
                        init: *init,
                        via,
                        nodes: nodes.clone(),
                    },
                    vec![Action::MsNodesChanged {
                        node: leader,
                        version: c.ms_version + 1,
                        nodes,
                        index: s.next_index(*init),
                    }],
                ));
            }
        }
    }
}
