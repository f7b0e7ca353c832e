//! `joinsim explore`: exhaustive exploration of small worlds of the reference model
//! (`joinsim-model`) with the stateright model checker. Every interleaving of the protocol's
//! steps and of the faults the budgets allow is explored breadth-first on one thread (so counts
//! and counterexamples are the same on every run), every state is checked against the safety
//! invariants, every quiescent state against the liveness properties, and every interesting
//! state must be reached once. A broken property's shortest path is written as a scenario file.
//! See docs/explore.md.
//!
//! Runs outside any madsim runtime (stateright spawns OS threads, which madsim forbids inside a
//! simulation): from the command line's `main`, or from a plain `#[test]`.

pub mod model;
pub mod properties;
pub mod report;
pub mod scenario;

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

use joinsim_model::{ModelFlaw, MoveKind, World, WorldKind, WorldState};
use stateright::{Checker, Expectation, Model};

pub use model::WorldModel;
pub use report::format_exploration;

/// The default bound on a path's length (moves). The default worlds' longest paths stay below
/// it (the report says when a world reached it: states at the bound are not expanded, so
/// liveness is not judged beyond it).
pub const DEFAULT_DEPTH: usize = 60;

/// What to explore.
#[derive(Clone, Debug)]
pub struct ExploreOptions {
    /// Nodes per world (within [`joinsim_model::NODES`]).
    pub nodes: usize,
    /// The worlds, in order.
    pub worlds: Vec<WorldKind>,
    /// The bound on a path's length, in moves.
    pub depth: usize,
    /// The planted model error every world's model runs with, if any.
    pub flaw: Option<ModelFlaw>,
    /// Where counterexample scenario files are written.
    pub out: PathBuf,
}

/// A property's outcome in one world.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The property's name.
    pub name: &'static str,
    /// `always`, `eventually` or `sometimes`.
    pub expectation: Expectation,
    /// For `always`/`eventually`: a counterexample; for `sometimes`: an example. The moves of
    /// its shortest path.
    pub path: Option<Vec<MoveKind>>,
    /// For `sometimes`: the world must reach it (its budgets and vaults allow it).
    pub required: bool,
}

impl Verdict {
    /// True when the property is as it must be: no counterexample of an `always` or an
    /// `eventually`; an example of a required `sometimes`.
    pub fn passed(&self) -> bool {
        match self.expectation {
            Expectation::Sometimes => !self.required || self.path.is_some(),
            _ => self.path.is_none(),
        }
    }
}

/// One world's exploration.
#[derive(Clone, Debug)]
pub struct WorldExploration {
    /// The world.
    pub world: World,
    /// States generated, counting repeats.
    pub states: usize,
    /// Distinct states.
    pub unique_states: usize,
    /// The longest path explored, in moves.
    pub max_depth: usize,
    /// The depth bound it ran with.
    pub depth_bound: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Each property's verdict, in [`properties::all`]'s order.
    pub verdicts: Vec<Verdict>,
    /// The scenario file written for the first broken property, if any.
    pub counterexample: Option<PathBuf>,
}

impl WorldExploration {
    /// True when every verdict passed.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(Verdict::passed)
    }

    /// True when some path reached the depth bound (its last state was not expanded).
    pub fn hit_depth_bound(&self) -> bool {
        self.max_depth >= self.depth_bound
    }
}

/// Explores one world to the depth bound. Deterministic: one checker thread, breadth first.
pub fn explore_world(world: World, depth: usize) -> WorldExploration {
    let started = Instant::now();
    let model = WorldModel {
        world: world.clone(),
    };
    let properties = model.properties();
    let checker = model
        .checker()
        .threads(1)
        .target_max_depth(depth)
        .spawn_bfs()
        .join();
    let required = world.expected_examples();
    let discovered: BTreeSet<&'static str> = checker.discoveries().into_keys().collect();
    let model = WorldModel {
        world: world.clone(),
    };
    let mut paths = shortest_paths(&model, &discovered, depth);
    let verdicts = properties
        .iter()
        .map(|p| Verdict {
            name: p.name,
            expectation: p.expectation.clone(),
            path: paths.remove(p.name),
            required: required.contains(p.name),
        })
        .collect();
    WorldExploration {
        world,
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        depth_bound: depth,
        seconds: started.elapsed().as_secs_f64(),
        verdicts,
        counterexample: None,
    }
}

/// The shortest path to a discovery of each property in `wanted`, by a breadth-first search in
/// the checker's move order, stopped once each has one. (stateright 0.31 reports, of the states
/// of one block that discover a property, the last it checked, not the first; so the checker
/// says which properties have a discovery and this search finds the shortest.) A discovery is
/// what the checker's is: a state that breaks an `always` condition, one that meets a
/// `sometimes` condition, or a state with no move whose `eventually` condition fails (the
/// conditions hold only in states with no move, see [`properties`]).
fn shortest_paths(
    model: &WorldModel,
    wanted: &BTreeSet<&'static str>,
    depth: usize,
) -> BTreeMap<&'static str, Vec<MoveKind>> {
    let properties = model.properties();
    let mut found = BTreeMap::new();
    let initial = model.world.initial();
    // Each state reached: its parent's number and the move from it.
    let mut tree: Vec<(usize, Option<MoveKind>)> = vec![(0, None)];
    let mut seen: HashSet<WorldState> = HashSet::from([initial.clone()]);
    let mut queue = VecDeque::from([(initial, 0usize, 1usize)]);
    let path_to = |tree: &[(usize, Option<MoveKind>)], mut i: usize| {
        let mut moves = Vec::new();
        while let (parent, Some(m)) = &tree[i] {
            moves.push(m.clone());
            i = *parent;
        }
        moves.reverse();
        moves
    };
    while let Some((state, number, level)) = queue.pop_front() {
        if found.len() == wanted.len() || level >= depth {
            break;
        }
        let enabled = model.world.enabled(&state);
        for p in &properties {
            if !wanted.contains(p.name) || found.contains_key(p.name) {
                continue;
            }
            let holds = (p.condition)(model, &state);
            let discovered = match p.expectation {
                Expectation::Always => !holds,
                Expectation::Sometimes => holds,
                Expectation::Eventually => enabled.is_empty() && !holds,
            };
            if discovered {
                found.insert(p.name, path_to(&tree, number));
            }
        }
        for (m, next) in enabled {
            if seen.insert(next.clone()) {
                tree.push((number, Some(m.kind)));
                queue.push_back((next, tree.len() - 1, level + 1));
            }
        }
    }
    found
}

/// Explores every world of `options`, writing a scenario file into `options.out` for the first
/// broken `always`/`eventually` property of each world.
///
/// # Errors
/// A message when a world cannot be built or a counterexample file cannot be written.
pub fn explore(options: &ExploreOptions) -> Result<Vec<WorldExploration>, String> {
    let mut results = Vec::new();
    for kind in &options.worlds {
        let world = World::new(
            *kind,
            options.nodes,
            World::default_budgets(*kind),
            options.flaw,
        )?;
        let mut result = explore_world(world, options.depth);
        let broken = result
            .verdicts
            .iter()
            .find(|v| v.expectation != Expectation::Sometimes && v.path.is_some());
        if let Some(v) = broken {
            let text = scenario::counterexample(
                &result.world,
                v.name,
                v.path.as_deref().unwrap_or_default(),
            );
            let file = options.out.join(format!(
                "explore-{}-{}-{}.toml",
                kind.name(),
                options.nodes,
                v.name.replace('_', "-")
            ));
            std::fs::create_dir_all(&options.out)
                .and_then(|()| std::fs::write(&file, text))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            result.counterexample = Some(file);
        }
        results.push(result);
    }
    Ok(results)
}
