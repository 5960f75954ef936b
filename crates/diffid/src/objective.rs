//! A simulator compared with data by a cost: the objective of a fit.

use diffid_core::{GradientOutcome, Objective, Outcome, Simulator};
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

    fn has_gradient(&self) -> bool {
        self.simulator.has_sensitivities()
    }

    fn evaluate_batch(&self, points: &[Vec<f64>]) -> Vec<Outcome> {
        self.simulator
            .simulate_batch(points)
            .into_iter()
            .map(|r| match r {
                Ok(predictions) if predictions.len() == self.observations.len() => {
                    Outcome::from_value(self.cost.cost(&predictions, &self.observations))
                }
                Ok(predictions) => Outcome::Failed(format!(
                    "the model returned {} predictions, {} expected",
                    predictions.len(),
                    self.observations.len()
                )),
                Err(reason) => Outcome::Failed(reason),
            })
            .collect()
    }

    /// The exact gradient by the chain rule: `∂C/∂θ_j = Σ_k (∂C/∂ŷ_k) (∂ŷ_k/∂θ_j)`, each
    /// prediction `k` paired with its own sensitivity row.
    fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
        let n = self.simulator.n_predictions();
        let p = x.len();
        let mut predictions = vec![0.0; n];
        let mut sensitivities = vec![0.0; n * p];
        if let Err(reason) =
            self.simulator
                .simulate_with_sensitivities(x, &mut predictions, &mut sensitivities)
        {
            return GradientOutcome::Failed(reason);
        }
        let value = self.cost.cost(&predictions, &self.observations);
        let mut dcost = vec![0.0; n];
        self.cost
            .gradient(&predictions, &self.observations, &mut dcost);
        let mut gradient = vec![0.0; p];
        for (row, dc) in sensitivities.chunks_exact(p).zip(&dcost) {
            for (g, s) in gradient.iter_mut().zip(row) {
                *g += dc * s;
            }
        }
        GradientOutcome::from_parts(value, gradient)
    }
}
