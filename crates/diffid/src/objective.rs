//! A simulator compared with data by a cost: the objective of a fit.

use diffid_core::{GradientOutcome, Objective, Outcome, RunEach, Simulator};
use diffid_cost::CostSum;
use std::borrow::Cow;
use std::sync::Arc;

/// `cost(simulate(x), data)`: a simulator's predictions scored against observations.
///
/// The point `x` holds the model's parameters and, where the cost estimates its noise (a
/// [`GaussianNll`](diffid_cost::GaussianNll) with σ parameters), the noise parameters, in the
/// order the user declared them; [`with_noise`](Self::with_noise) says which is which.
#[derive(Clone)]
pub struct FitObjective {
    simulator: Arc<dyn Simulator>,
    cost: CostSum,
    observations: Arc<[f64]>,
    n_outputs: usize,
    /// Positions in `x` of the simulator's parameters, in the simulator's order; `None`
    /// when `x` is exactly the simulator's parameters.
    model_index: Option<Vec<usize>>,
    /// Positions in `x` of the cost's noise parameters, in
    /// [`CostSum::noise_parameters`] order.
    noise_index: Vec<usize>,
    /// The relative step of finite-difference gradients (see [`Objective::fd_step`]).
    fd_step: f64,
}

impl FitObjective {
    /// Scores `simulator` against `observations` (flattened like its predictions) with `cost`;
    /// every coordinate of a point is a simulator parameter.
    pub fn new(simulator: Arc<dyn Simulator>, cost: CostSum, observations: Arc<[f64]>) -> Self {
        Self {
            simulator,
            cost,
            observations,
            n_outputs: 1,
            model_index: None,
            noise_index: Vec::new(),
            fd_step: diffid_core::fd::RELATIVE_STEP,
        }
    }

    /// The relative step of its finite-difference gradients, used when the simulator has no
    /// sensitivities (see [`Objective::fd_step`]).
    #[must_use]
    pub fn with_fd_step(mut self, step: f64) -> Self {
        self.fd_step = step;
        self
    }

    /// The same objective over points that also hold noise parameters: `model_index` gives
    /// the positions of the simulator's parameters, `noise_index` those of the cost's noise
    /// parameters ([`CostSum::noise_parameters`] order); observations belong to `n_outputs`
    /// outputs, time-major.
    #[must_use]
    pub fn with_noise(
        self,
        n_outputs: usize,
        model_index: Vec<usize>,
        noise_index: Vec<usize>,
    ) -> Self {
        let dim = model_index.len() + noise_index.len();
        self.with_layout(n_outputs, model_index, noise_index, dim)
    }

    /// As [`with_noise`](Self::with_noise), over points of `dim` coordinates of which the
    /// simulator's parameters and the noise parameters may be a part (an experimental
    /// condition that uses some of a problem's parameters).
    #[must_use]
    pub fn with_layout(
        mut self,
        n_outputs: usize,
        model_index: Vec<usize>,
        noise_index: Vec<usize>,
        dim: usize,
    ) -> Self {
        self.n_outputs = n_outputs.max(1);
        let identity = noise_index.is_empty()
            && model_index.len() == dim
            && model_index.iter().enumerate().all(|(i, &j)| i == j);
        self.model_index = (!identity).then_some(model_index);
        self.noise_index = noise_index;
        self
    }

    /// The simulator.
    pub fn simulator(&self) -> &Arc<dyn Simulator> {
        &self.simulator
    }

    /// The cost.
    pub fn cost(&self) -> &CostSum {
        &self.cost
    }

    /// The simulator's parameters within `x`.
    fn model_params<'a>(&self, x: &'a [f64]) -> Cow<'a, [f64]> {
        match &self.model_index {
            None => Cow::Borrowed(x),
            Some(index) => Cow::Owned(index.iter().map(|&i| x[i]).collect()),
        }
    }

    fn noise(&self, x: &[f64]) -> Vec<f64> {
        self.noise_index.iter().map(|&i| x[i]).collect()
    }

    fn score(&self, predictions: &[f64], x: &[f64]) -> Outcome {
        if predictions.len() != self.observations.len() {
            return Outcome::Failed(format!(
                "the model returned {} predictions, {} expected",
                predictions.len(),
                self.observations.len()
            ));
        }
        Outcome::from_value(self.cost.cost_with(
            predictions,
            &self.observations,
            self.n_outputs,
            &self.noise(x),
        ))
    }
}

/// How many times, at most, a capped evaluation checks its cost bound during a simulation.
const CAP_CHECKS: usize = 16;

impl Objective for FitObjective {
    fn dim(&self) -> usize {
        self.simulator.n_params() + self.noise_index.len()
    }

    fn fd_step(&self) -> f64 {
        self.fd_step
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        with_scratch(|scratch| {
            let predictions = sized(&mut scratch.predictions, self.simulator.n_predictions());
            match self.simulator.simulate(&self.model_params(x), predictions) {
                Ok(()) => self.score(predictions, x),
                Err(reason) => Outcome::Failed(reason.to_string()),
            }
        })
    }

    /// Stops the simulation once the cost of the predictions so far, with the least the rest
    /// could add ([`CostSum::cost_lower_bound`]), reaches `cap`, and reports that bound; checked
    /// at about 16 points of the simulation.
    fn evaluate_below(&self, x: &[f64], cap: f64) -> Outcome {
        if cap.is_nan() || cap == f64::INFINITY {
            return self.evaluate(x);
        }
        with_scratch(|scratch| {
            let n = self.simulator.n_predictions();
            let predictions = sized(&mut scratch.predictions, n);
            let noise = self.noise(x);
            let every = (n / CAP_CHECKS).max(1);
            let mut next = every;
            let mut reached = f64::NAN;
            let mut watch = |known: &[f64]| {
                if known.len() <= every {
                    // The first rows again: a fallback method restarted the solve.
                    next = every;
                }
                if known.len() < next || known.len() >= n {
                    return true;
                }
                next = known.len() + every;
                let bound =
                    self.cost
                        .cost_lower_bound(known, &self.observations, self.n_outputs, &noise);
                if bound >= cap {
                    reached = bound;
                    return false;
                }
                true
            };
            match self
                .simulator
                .simulate_watched(&self.model_params(x), predictions, &mut watch)
            {
                Ok(true) => self.score(predictions, x),
                Ok(false) => Outcome::Value(reached),
                Err(reason) => Outcome::Failed(reason.to_string()),
            }
        })
    }

    fn has_gradient(&self) -> bool {
        self.simulator.has_sensitivities()
    }

    fn evaluate_batch(&self, points: &[Vec<f64>]) -> Vec<Outcome> {
        let params: Vec<Vec<f64>> = points
            .iter()
            .map(|x| self.model_params(x).into_owned())
            .collect();
        self.simulator
            .simulate_batch(&params)
            .into_iter()
            .zip(points)
            .map(|(r, x)| match r {
                Ok(predictions) => self.score(&predictions, x),
                Err(reason) => Outcome::Failed(reason.to_string()),
            })
            .collect()
    }

    /// The exact gradient by the chain rule: `∂C/∂θ_j = Σ_k (∂C/∂ŷ_k) (∂ŷ_k/∂θ_j)`, each
    /// prediction `k` paired with its own sensitivity row; noise parameters get the cost's own
    /// derivative.
    fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
        with_scratch(|scratch| self.gradient_in(x, scratch))
    }
}

impl FitObjective {
    /// [`Objective::evaluate_with_gradient`] with this thread's buffers.
    fn gradient_in(&self, x: &[f64], scratch: &mut Scratch) -> GradientOutcome {
        let n = self.simulator.n_predictions();
        let params = self.model_params(x);
        let p = params.len();
        let Scratch {
            predictions,
            sensitivities,
            dcost,
        } = scratch;
        let predictions = sized(predictions, n);
        let sensitivities = sized(sensitivities, n * p);
        if let Err(reason) =
            self.simulator
                .simulate_with_sensitivities(&params, predictions, sensitivities)
        {
            return GradientOutcome::Failed(reason.to_string());
        }
        let noise = self.noise(x);
        let value = self
            .cost
            .cost_with(predictions, &self.observations, self.n_outputs, &noise);
        let dcost = sized(dcost, n);
        let mut dnoise = vec![0.0; noise.len()];
        self.cost.gradient_with(
            predictions,
            &self.observations,
            self.n_outputs,
            &noise,
            dcost,
            &mut dnoise,
        );
        let mut model_gradient = vec![0.0; p];
        for (row, dc) in sensitivities.chunks_exact(p.max(1)).zip(dcost.iter()) {
            for (g, s) in model_gradient.iter_mut().zip(row) {
                *g += dc * s;
            }
        }
        let gradient = match &self.model_index {
            None => model_gradient,
            Some(index) => {
                // Summed: one parameter may set several inputs (conditions).
                let mut g = vec![0.0; x.len()];
                for (&i, v) in index.iter().zip(model_gradient) {
                    g[i] += v;
                }
                for (&i, v) in self.noise_index.iter().zip(dnoise) {
                    g[i] += v;
                }
                g
            }
        };
        GradientOutcome::from_parts(value, gradient)
    }
}

/// Per-thread buffers of [`FitObjective`] evaluations, reused from one evaluation to the next
/// so that the hot path allocates nothing of its own (the returned gradient aside).
#[derive(Default)]
struct Scratch {
    predictions: Vec<f64>,
    sensitivities: Vec<f64>,
    dcost: Vec<f64>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// `f` with this thread's [`Scratch`]; fresh buffers for an evaluation nested in another on
/// the same thread (a Python model evaluating another problem).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// `v` as `n` zeros, reusing its allocation.
fn sized(v: &mut Vec<f64>, n: usize) -> &mut [f64] {
    v.clear();
    v.resize(n, 0.0);
    v
}

/// Several experimental conditions of one model scored together: the sum of one objective per
/// condition (its own data, times and inputs), over the same point.
#[derive(Clone)]
pub struct ConditionsObjective {
    parts: Vec<(String, Arc<dyn Objective>)>,
    dim: usize,
}

impl ConditionsObjective {
    /// The sum of `parts` (name, objective: a [`FitObjective`] or an
    /// [`ExperimentObjective`](crate::ExperimentObjective)), over points of `dim` coordinates.
    pub fn new(parts: Vec<(String, Arc<dyn Objective>)>, dim: usize) -> Self {
        Self { parts, dim }
    }

    /// The conditions' names and objectives.
    pub fn parts(&self) -> &[(String, Arc<dyn Objective>)] {
        &self.parts
    }
}

impl ConditionsObjective {
    /// Each part's outcome at `x`, run by `run_each`, in order.
    fn outcomes<T: Send + Sync>(
        &self,
        run_each: RunEach<'_>,
        eval: impl Fn(&dyn Objective) -> T + Sync,
    ) -> Vec<T> {
        let slots: Vec<std::sync::OnceLock<T>> = self
            .parts
            .iter()
            .map(|_| std::sync::OnceLock::new())
            .collect();
        run_each(self.parts.len(), &|i| {
            let _ = slots[i].set(eval(self.parts[i].1.as_ref()));
        });
        slots
            .into_iter()
            .zip(&self.parts)
            .map(|(slot, (_, part))| slot.into_inner().unwrap_or_else(|| eval(part.as_ref())))
            .collect()
    }

    /// The sum of the parts' outcomes, in order; the first failure (its condition named)
    /// fails the point.
    fn total(&self, outcomes: Vec<Outcome>) -> Outcome {
        let mut total = 0.0;
        for ((name, _), o) in self.parts.iter().zip(outcomes) {
            match o {
                Outcome::Value(v) => total += v,
                Outcome::Failed(reason) => {
                    return Outcome::Failed(format!("condition '{name}': {reason}"))
                }
            }
        }
        Outcome::from_value(total)
    }

    /// The sum of the parts' values and gradients, in order.
    fn total_gradient(&self, outcomes: Vec<GradientOutcome>, dim: usize) -> GradientOutcome {
        let mut total = 0.0;
        let mut gradient = vec![0.0; dim];
        for ((name, _), o) in self.parts.iter().zip(outcomes) {
            match o {
                GradientOutcome::Value { value, gradient: g } => {
                    total += value;
                    for (a, b) in gradient.iter_mut().zip(&g) {
                        *a += b;
                    }
                }
                GradientOutcome::Failed(reason) => {
                    return GradientOutcome::Failed(format!("condition '{name}': {reason}"))
                }
            }
        }
        GradientOutcome::from_parts(total, gradient)
    }
}

/// Runs every task in order on the calling thread.
fn in_turn(n: usize, task: &(dyn Fn(usize) + Sync)) {
    for i in 0..n {
        task(i);
    }
}

impl Objective for ConditionsObjective {
    fn dim(&self) -> usize {
        self.dim
    }

    fn fd_step(&self) -> f64 {
        self.parts
            .first()
            .map_or(diffid_core::fd::RELATIVE_STEP, |(_, p)| p.fd_step())
    }

    /// The sum over the conditions; a condition whose solve fails fails the point, its
    /// reason prefixed with the condition's name.
    fn evaluate(&self, x: &[f64]) -> Outcome {
        self.evaluate_parts(x, &in_turn)
    }

    fn has_gradient(&self) -> bool {
        self.parts.iter().all(|(_, p)| p.has_gradient())
    }

    fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
        self.evaluate_with_gradient_parts(x, &in_turn)
    }

    fn has_parts(&self) -> bool {
        self.parts.len() > 1
    }

    /// The conditions run by `run_each` (in parallel under a pool); the sum is taken in the
    /// conditions' order, so the result does not depend on how they ran.
    fn evaluate_parts(&self, x: &[f64], run_each: RunEach<'_>) -> Outcome {
        self.total(self.outcomes(run_each, |p| p.evaluate(x)))
    }

    fn evaluate_with_gradient_parts(&self, x: &[f64], run_each: RunEach<'_>) -> GradientOutcome {
        self.total_gradient(
            self.outcomes(run_each, |p| p.evaluate_with_gradient(x)),
            x.len(),
        )
    }
}
