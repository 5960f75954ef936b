//! Objectives and the outcome of one evaluation.

use std::fmt;

/// The outcome of evaluating an objective at one point.
///
/// A failed evaluation is a value, not an error: optimisers rank it worst and go on.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// A finite objective value.
    Value(f64),
    /// The evaluation failed (a diverging solve, a non-finite result, ...); the reason says why.
    Failed(String),
}

impl Outcome {
    /// Wraps a raw value: a NaN or infinite value becomes [`Outcome::Failed`].
    pub fn from_value(v: f64) -> Self {
        if v.is_finite() {
            Self::Value(v)
        } else {
            Self::Failed(format!("objective returned a non-finite value ({v})"))
        }
    }

    /// The value when the evaluation succeeded.
    pub fn value(&self) -> Option<f64> {
        match self {
            Self::Value(v) => Some(*v),
            Self::Failed(_) => None,
        }
    }

    /// The value used for ranking: failures rank worst (`+inf`).
    pub fn rank_value(&self) -> f64 {
        self.value().unwrap_or(f64::INFINITY)
    }

    /// Whether the evaluation failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(v) => write!(f, "{v}"),
            Self::Failed(r) => write!(f, "failed: {r}"),
        }
    }
}

/// A scalar function of `dim()` parameters, to be minimised (or, for samplers, a negative
/// log-likelihood).
///
/// Implementations must be thread-safe: an executor may evaluate a population concurrently.
pub trait Objective: Send + Sync {
    /// Number of parameters.
    fn dim(&self) -> usize;

    /// Evaluates at `x` (length `dim()`).
    fn evaluate(&self, x: &[f64]) -> Outcome;

    /// Evaluates at `x` for a caller that only needs to know whether the value is below
    /// `cap`: a value below `cap` is returned exactly, and one at or above it may be reported
    /// as any value at or above `cap`, which lets an objective stop computing once it knows
    /// (a nested sampler rejects every candidate whose negative log-likelihood reaches the
    /// current threshold). Failures are reported as by [`evaluate`](Self::evaluate). The
    /// default evaluates exactly.
    fn evaluate_below(&self, x: &[f64], cap: f64) -> Outcome {
        let _ = cap;
        self.evaluate(x)
    }

    /// Whether [`evaluate_with_gradient`](Self::evaluate_with_gradient) gives a gradient of its
    /// own (exact, or the user's). When it does not, executors fall back to finite differences
    /// of [`evaluate`](Self::evaluate) (see [`crate::fd`]).
    fn has_gradient(&self) -> bool {
        false
    }

    /// The value and the gradient at `x`. Only called when
    /// [`has_gradient`](Self::has_gradient) is true; the default reports a failure.
    fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
        let _ = x;
        GradientOutcome::Failed("this objective has no gradient of its own".to_owned())
    }

    /// The relative step of this objective's finite-difference gradients ([`crate::fd`]): the
    /// step along coordinate `i` is `fd_step() · max(1, |xᵢ|)`. The default,
    /// [`fd::RELATIVE_STEP`](crate::fd::RELATIVE_STEP), suits values accurate to about 1e-13
    /// relative; an objective computed by an adaptive solver of relative tolerance `rtol` is
    /// differentiated more accurately with about `0.03·√rtol`.
    fn fd_step(&self) -> f64 {
        crate::fd::RELATIVE_STEP
    }

    /// Evaluates a whole batch, for objectives that parallelise by themselves (a Python
    /// callable handed to a process pool). Only the batch-delegating evaluator calls it; the
    /// default evaluates the points in turn. The outcomes must be in the order of `points`.
    fn evaluate_batch(&self, points: &[Vec<f64>]) -> Vec<Outcome> {
        points.iter().map(|x| self.evaluate(x)).collect()
    }

    /// Whether one evaluation splits into independent parts (the experimental conditions of a
    /// problem) that [`evaluate_parts`](Self::evaluate_parts) can run in parallel. A parallel
    /// evaluator then spreads a lone point's parts over its threads.
    fn has_parts(&self) -> bool {
        false
    }

    /// [`evaluate`](Self::evaluate), with the independent parts run by `run_each` (which runs
    /// `task(i)` for every `i < n`, possibly in parallel, and returns when all are done). The
    /// result must not depend on how `run_each` runs them. The default ignores it.
    fn evaluate_parts(&self, x: &[f64], run_each: RunEach<'_>) -> Outcome {
        let _ = run_each;
        self.evaluate(x)
    }

    /// [`evaluate_with_gradient`](Self::evaluate_with_gradient) with the parts run by
    /// `run_each` (see [`evaluate_parts`](Self::evaluate_parts)).
    fn evaluate_with_gradient_parts(&self, x: &[f64], run_each: RunEach<'_>) -> GradientOutcome {
        let _ = run_each;
        self.evaluate_with_gradient(x)
    }
}

/// Runs `task(i)` for every `i < n`, possibly in parallel, returning when all are done (see
/// [`Objective::evaluate_parts`]).
pub type RunEach<'a> = &'a dyn Fn(usize, &(dyn Fn(usize) + Sync));

/// The outcome of evaluating an objective and its gradient at one point.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum GradientOutcome {
    /// A finite value and a finite gradient of the objective's dimension.
    Value {
        /// The objective's value.
        value: f64,
        /// `∂f/∂xᵢ` for every coordinate.
        gradient: Vec<f64>,
    },
    /// The evaluation failed; the reason says why.
    Failed(String),
}

impl GradientOutcome {
    /// Wraps a raw value and gradient: a non-finite value or gradient entry becomes
    /// [`GradientOutcome::Failed`], naming the entry.
    pub fn from_parts(value: f64, gradient: Vec<f64>) -> Self {
        if !value.is_finite() {
            return Self::Failed(format!("objective returned a non-finite value ({value})"));
        }
        if let Some(i) = gradient.iter().position(|g| !g.is_finite()) {
            return Self::Failed(format!(
                "gradient entry {i} is not finite ({})",
                gradient[i]
            ));
        }
        Self::Value { value, gradient }
    }

    /// The value when the evaluation succeeded.
    pub fn value(&self) -> Option<f64> {
        match self {
            Self::Value { value, .. } => Some(*value),
            Self::Failed(_) => None,
        }
    }

    /// The gradient when the evaluation succeeded.
    pub fn gradient(&self) -> Option<&[f64]> {
        match self {
            Self::Value { gradient, .. } => Some(gradient),
            Self::Failed(_) => None,
        }
    }

    /// The value part as an [`Outcome`].
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Value { value, .. } => Outcome::Value(*value),
            Self::Failed(r) => Outcome::Failed(r.clone()),
        }
    }

    /// Whether the evaluation failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

/// Why a simulation failed at a point: the simulator's own typed error — downcast it with
/// [`downcast_ref`](Self::downcast_ref) (an ODE simulator's is `diffid_ode::SolveError`) — or
/// a message. A failed simulation is data, not a crash: objectives turn it into a failed
/// [`Outcome`] with this error's text as the reason.
#[derive(Clone, Debug)]
pub struct SimulationError {
    source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
}

/// A [`SimulationError`] given as a message.
#[derive(Debug)]
struct Message(String);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl SimulationError {
    /// The simulator's own error `error`.
    pub fn new<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        Self {
            source: std::sync::Arc::new(error),
        }
    }

    /// A failure described by `message` alone.
    pub fn msg(message: impl Into<String>) -> Self {
        Self::new(Message(message.into()))
    }

    /// The simulator's error as `E`, when it is one.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.downcast_ref::<E>()
    }
}

impl std::fmt::Display for SimulationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}

impl std::error::Error for SimulationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.source()
    }
}

/// A model that maps parameters to predictions at fixed times (a compiled ODE, or a Python
/// callable), to be compared with data by a cost metric.
pub trait Simulator: Send + Sync {
    /// Number of parameters it takes.
    fn n_params(&self) -> usize;

    /// Number of predictions it writes (time points × outputs, time-major).
    fn n_predictions(&self) -> usize;

    /// Writes the predictions for `params` into `out` (length `n_predictions()`).
    ///
    /// # Errors
    /// A [`SimulationError`] when the simulation fails at these parameters; the caller turns
    /// it into a failed [`Outcome`].
    fn simulate(&self, params: &[f64], out: &mut [f64]) -> Result<(), SimulationError>;

    /// As [`simulate`](Self::simulate), showing `watch` the predictions written so far (the
    /// first time points' rows, time-major) as the simulation goes; when `watch` returns
    /// `false` the simulation may stop there. Returns whether it ran to the end (`false`: it
    /// stopped early, and `out` holds only the part `watch` last saw). The default simulates
    /// to the end without showing anything.
    ///
    /// # Errors
    /// As [`simulate`](Self::simulate).
    fn simulate_watched(
        &self,
        params: &[f64],
        out: &mut [f64],
        watch: &mut dyn FnMut(&[f64]) -> bool,
    ) -> Result<bool, SimulationError> {
        let _ = watch;
        self.simulate(params, out).map(|()| true)
    }

    /// Whether [`simulate_with_sensitivities`](Self::simulate_with_sensitivities) is available.
    fn has_sensitivities(&self) -> bool {
        false
    }

    /// Writes the predictions into `out` and their sensitivities into `sensitivities`
    /// (length `n_predictions() × n_params()`): `sensitivities[k * n_params() + j]` is
    /// `∂ prediction_k / ∂ params_j`, with `k` in the same time-major order as `out`. Only called
    /// when [`has_sensitivities`](Self::has_sensitivities) is true.
    ///
    /// # Errors
    /// A [`SimulationError`] when the simulation fails at these parameters.
    fn simulate_with_sensitivities(
        &self,
        params: &[f64],
        out: &mut [f64],
        sensitivities: &mut [f64],
    ) -> Result<(), SimulationError> {
        let _ = (params, out, sensitivities);
        Err(SimulationError::msg("this model has no sensitivities"))
    }

    /// Simulates a whole batch of parameter vectors, for simulators that parallelise by
    /// themselves; the default simulates them in turn. Results are in the order of `params`.
    fn simulate_batch(&self, params: &[Vec<f64>]) -> Vec<Result<Vec<f64>, SimulationError>> {
        simulate_each(self, params)
    }
}

/// Simulates each parameter vector in turn: [`Simulator::simulate_batch`]'s default, for
/// implementations that override it only sometimes.
pub fn simulate_each<S: Simulator + ?Sized>(
    simulator: &S,
    params: &[Vec<f64>],
) -> Vec<Result<Vec<f64>, SimulationError>> {
    params
        .iter()
        .map(|p| {
            let mut out = vec![0.0; simulator.n_predictions()];
            simulator.simulate(p, &mut out).map(|()| out)
        })
        .collect()
}

/// An [`Objective`] from a closure; handy in tests and benchmarks.
pub struct FnObjective<F> {
    dim: usize,
    f: F,
    fd_step: f64,
}

impl<F: Fn(&[f64]) -> f64 + Send + Sync> FnObjective<F> {
    /// Wraps `f`, a function of `dim` parameters.
    pub fn new(dim: usize, f: F) -> Self {
        Self {
            dim,
            f,
            fd_step: crate::fd::RELATIVE_STEP,
        }
    }

    /// The relative step of its finite-difference gradients (see [`Objective::fd_step`]).
    #[must_use]
    pub fn with_fd_step(mut self, step: f64) -> Self {
        self.fd_step = step;
        self
    }
}

impl<F: Fn(&[f64]) -> f64 + Send + Sync> Objective for FnObjective<F> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn fd_step(&self) -> f64 {
        self.fd_step
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        Outcome::from_value((self.f)(x))
    }
}

/// An [`Objective`] with an analytic gradient, from two closures; handy in tests and benchmarks.
pub struct FnGradObjective<F, G> {
    dim: usize,
    f: F,
    g: G,
}

impl<F, G> FnGradObjective<F, G>
where
    F: Fn(&[f64]) -> f64 + Send + Sync,
    G: Fn(&[f64]) -> Vec<f64> + Send + Sync,
{
    /// Wraps `f` and its gradient `g`, functions of `dim` parameters.
    pub fn new(dim: usize, f: F, g: G) -> Self {
        Self { dim, f, g }
    }
}

impl<F, G> Objective for FnGradObjective<F, G>
where
    F: Fn(&[f64]) -> f64 + Send + Sync,
    G: Fn(&[f64]) -> Vec<f64> + Send + Sync,
{
    fn dim(&self) -> usize {
        self.dim
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        Outcome::from_value((self.f)(x))
    }

    fn has_gradient(&self) -> bool {
        true
    }

    fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
        GradientOutcome::from_parts((self.f)(x), (self.g)(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_are_failures_that_rank_worst() {
        assert!(Outcome::from_value(f64::NAN).is_failed());
        assert!(Outcome::from_value(f64::INFINITY).is_failed());
        assert_eq!(Outcome::from_value(f64::NAN).rank_value(), f64::INFINITY);
        assert_eq!(Outcome::from_value(2.5).value(), Some(2.5));
    }
}
