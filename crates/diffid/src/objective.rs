//! A simulator compared with data by a cost: the objective of a fit.

use diffid_core::{Objective, Outcome, Simulator};
use diffid_cost::CostSum;
use std::sync::Arc;

/// `cost(simulate(x), data)`: a simulator's predictions scored against observations.
#[derive(Clone)]
pub struct FitObjective {
    simulator: Arc<dyn Simulator>,
    cost: CostSum,
    observations: Arc<[f64]>,
}

impl FitObjective {
    /// Scores `simulator` against `observations` (flattened like its predictions) with `cost`.
    pub fn new(simulator: Arc<dyn Simulator>, cost: CostSum, observations: Arc<[f64]>) -> Self {
        Self {
            simulator,
            cost,
            observations,
        }
    }

    /// The simulator.
    pub fn simulator(&self) -> &Arc<dyn Simulator> {
        &self.simulator
    }
}

impl Objective for FitObjective {
    fn dim(&self) -> usize {
        self.simulator.n_params()
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        let mut predictions = vec![0.0; self.simulator.n_predictions()];
        match self.simulator.simulate(x, &mut predictions) {
            Ok(()) => Outcome::from_value(self.cost.cost(&predictions, &self.observations)),
            Err(reason) => Outcome::Failed(reason),
        }
    }
}
