//! The small world as a stateright [`Model`]: its states are [`WorldState`]s, its actions the
//! world's [`Move`]s, and the reference model (`joinsim-model`) decides which moves are taken.

use joinsim_model::{Move, World, WorldState};
use stateright::{Model, Property};

use super::properties;

/// A small world under exploration. Runs outside any madsim runtime: stateright spawns OS
/// threads, which madsim forbids inside a simulation.
#[derive(Clone, Debug)]
pub struct WorldModel {
    /// The world: nodes, initial vaults, budgets, planted model error.
    pub world: World,
}

impl Model for WorldModel {
    type State = WorldState;
    type Action = Move;

    fn init_states(&self) -> Vec<WorldState> {
        vec![self.world.initial()]
    }

    /// Every candidate move, in the world's fixed order; [`WorldModel::next_state`] drops the
    /// ones the model refuses.
    fn actions(&self, state: &WorldState, actions: &mut Vec<Move>) {
        self.world.moves(state, actions);
    }

    fn next_state(&self, state: &WorldState, action: Move) -> Option<WorldState> {
        self.world.apply(state, &action).ok()
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all()
    }
}
