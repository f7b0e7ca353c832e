//! Small worlds for exhaustive exploration: two or three nodes, the vaults they start from, and
//! budgets for the faults; [`World::moves`] lists, for a [`WorldState`], the steps of the
//! protocol a correct implementation could take next at the IEP's level and the faults the
//! budgets still allow, each as a [`Move`] (one or a few model [`Action`]s taken together). The
//! model stays the judge: [`World::apply`] takes a move only if [`State::step`] allows each of
//! its actions. Where the protocol leaves an outcome open (validate or reject a join; whether a
//! cancel may still clear an init) the world proposes every outcome and the model's rules keep
//! the ones they allow, so a wrong rule shows up as a state that breaks an invariant.
//!
//! Every bound is here, and docs/explore.md lists them: the node count ([`NODES`]), each fault
//! budget ([`Budgets`]), one replica applying each log entry (the lowest-named running replica
//! of a quorum: followers' applies add nothing the model judges), Meta Storage voters that stay
//! the init's (a reconfiguration changes the committed list and version, not the replicas), at
//! most one live cluster at a time (a new init only after every earlier one was cancelled),
//! wipes only of nodes that are no CMG voter of a live cluster (a wiped sole voter loses its
//! cluster for good, which no liveness property can ask to recover), and each protocol step at
//! most once per launch. With these the move graph is a DAG, so every path ends in a state with
//! no move: a quiescent state, where the explorer checks liveness.

mod moves;
mod state;

use std::collections::BTreeSet;
use std::fmt;
use std::ops::RangeInclusive;

use crate::ids::{Init, Name, Stored, Tag};
use crate::ModelFlaw;

pub use moves::{Move, MoveKind};
pub use state::{Mark, WorldState};

/// The node counts a small world may have.
pub const NODES: RangeInclusive<usize> = 2..=3;

/// The incarnation of the cluster that existed before the run (worlds `stale`).
pub const RESTORED_INIT: Init = 0xC0;

/// The CMG and Meta Storage voters of the cluster that existed before the run: the first node.
pub const RESTORED_VOTERS: [&str; 1] = ["n1"];

/// The Meta Storage version (Y) of the cluster that existed before the run.
pub const RESTORED_MS_VERSION: u64 = 2;

/// The name every init of a run gives its cluster (a retry after a cancel uses it again).
pub const CLUSTER_NAME: &str = "c1";

/// Which vaults the nodes start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorldKind {
    /// Every node empty (IEP scenario 1, then 2 for a late or restarted node).
    Empty,
    /// A cluster existed: `n1`, its only CMG and Meta Storage voter, holds its tag at the
    /// cluster's Meta Storage version Y = 2; `n2` holds the same tag at the older version 1
    /// (a stale node, IEP scenario 4, X < Y); `n3`, if any, is empty (scenario 2).
    Stale,
    /// `n1` holds the tag of another cluster, whose voters are gone; the others are empty and a
    /// user initializes them (IEP scenario 3; scenario 4's "another tag").
    Foreign,
}

impl WorldKind {
    /// Every kind, in the order the explorer runs them.
    pub const ALL: [WorldKind; 3] = [WorldKind::Empty, WorldKind::Stale, WorldKind::Foreign];

    /// Its name on the command line (`--world NAME`).
    pub fn name(self) -> &'static str {
        match self {
            WorldKind::Empty => "empty",
            WorldKind::Stale => "stale",
            WorldKind::Foreign => "foreign",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<WorldKind> {
        WorldKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for WorldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many faults and user commands of each kind one path of the exploration may take. Each is
/// spent for good, which (with each protocol step taken at most once per launch) keeps every
/// path finite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Budgets {
    /// Kills of a running node (each killed node may start again, with a new launch).
    pub kills: u32,
    /// Wipes of a node's vault (the node is killed first; it may start again, empty).
    pub wipes: u32,
    /// Cancels of an init.
    pub cancels: u32,
    /// Inits a user sends (a new one only after every earlier one was cancelled).
    pub inits: u32,
    /// Meta Storage reconfigurations an admin asks for.
    pub reconfigurations: u32,
}

impl fmt::Display for Budgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kills {}, wipes {}, cancels {}, inits {}, MS reconfigurations {}",
            self.kills, self.wipes, self.cancels, self.inits, self.reconfigurations
        )
    }
}

/// A small world: its nodes, what their vaults hold at the start, the fault budgets, and the
/// planted model error its model runs with (none: the model as written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct World {
    kind: WorldKind,
    nodes: Vec<Name>,
    budgets: Budgets,
    flaw: Option<ModelFlaw>,
}

impl World {
    /// The world of `kind` with `nodes` nodes, named `n1`, `n2`, ...
    ///
    /// # Errors
    /// A message naming the bound when `nodes` is outside [`NODES`].
    pub fn new(
        kind: WorldKind,
        nodes: usize,
        budgets: Budgets,
        flaw: Option<ModelFlaw>,
    ) -> Result<World, String> {
        if !NODES.contains(&nodes) {
            return Err(format!(
                "a small world has {}..={} nodes, not {nodes}",
                NODES.start(),
                NODES.end()
            ));
        }
        Ok(World {
            kind,
            nodes: (1..=nodes).map(|i| format!("n{i}")).collect(),
            budgets,
            flaw,
        })
    }

    /// The default budgets of a world of `kind`: what `joinsim explore` runs without flags.
    /// A world with a cluster from before the run sends no init.
    pub fn default_budgets(kind: WorldKind) -> Budgets {
        match kind {
            WorldKind::Empty => Budgets {
                kills: 0,
                wipes: 0,
                cancels: 1,
                inits: 2,
                reconfigurations: 0,
            },
            WorldKind::Stale => Budgets {
                kills: 1,
                wipes: 1,
                cancels: 0,
                inits: 0,
                reconfigurations: 1,
            },
            WorldKind::Foreign => Budgets {
                kills: 1,
                wipes: 0,
                cancels: 0,
                inits: 1,
                reconfigurations: 0,
            },
        }
    }

    /// The kind.
    pub fn kind(&self) -> WorldKind {
        self.kind
    }

    /// The nodes' names, in start order.
    pub fn nodes(&self) -> &[Name] {
        &self.nodes
    }

    /// The budgets.
    pub fn budgets(&self) -> Budgets {
        self.budgets
    }

    /// The planted model error, if any.
    pub fn flaw(&self) -> Option<ModelFlaw> {
        self.flaw
    }

    /// The tag of the cluster that existed before the run (world `stale`).
    pub fn restored_tag() -> Tag {
        Tag {
            name: "c0".into(),
            id: RESTORED_INIT as u128,
        }
    }

    /// The tag `n1` holds in world `foreign`: a cluster whose voters are gone.
    pub fn foreign_tag() -> Tag {
        Tag {
            name: "other".into(),
            id: 0xF0,
        }
    }

    /// What `node`'s vault holds at the start (`None`: empty).
    pub fn initial_vault(&self, node: &str) -> Option<Stored> {
        let at = |ms_version| {
            Some(Stored {
                tag: World::restored_tag(),
                ms_version: Some(ms_version),
            })
        };
        match (self.kind, node) {
            (WorldKind::Stale, "n1") => at(RESTORED_MS_VERSION),
            (WorldKind::Stale, "n2") => at(1),
            (WorldKind::Foreign, "n1") => Some(Stored {
                tag: World::foreign_tag(),
                ms_version: Some(1),
            }),
            _ => None,
        }
    }

    /// The names of the `sometimes` properties a world of this kind with these budgets must
    /// reach (docs/explore.md): the explorer fails when one of them has no example.
    pub fn expected_examples(&self) -> BTreeSet<&'static str> {
        let b = self.budgets;
        let mut names = BTreeSet::from(["node_joined"]);
        match self.kind {
            WorldKind::Empty => {
                names.insert("init_answered");
                if b.cancels > 0 {
                    names.insert("init_cancelled");
                }
            }
            WorldKind::Stale => {
                names.insert("stale_node_caught_up");
            }
            WorldKind::Foreign => {
                names.insert("init_answered");
                names.insert("join_rejected_by_tag");
            }
        }
        if b.kills > 0 && self.kind != WorldKind::Foreign {
            names.insert("rejoin_replaced_lt_entry");
            names.insert("dead_node_left_lt");
        }
        if b.reconfigurations > 0 {
            names.insert("ms_reconfigured");
        }
        names
    }
}
