//! Objectives and the outcome of one evaluation.

use std::fmt;

/// The outcome of evaluating an objective at one point.
///
/// A failed evaluation is a value, not an error: optimisers rank it worst and go on.
#[derive(Clone, Debug, PartialEq)]
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
    /// A human-readable reason when the simulation fails at these parameters; the caller turns it
    /// into a failed [`Outcome`].
    fn simulate(&self, params: &[f64], out: &mut [f64]) -> Result<(), String>;
}

/// An [`Objective`] from a closure; handy in tests and benchmarks.
pub struct FnObjective<F> {
    dim: usize,
    f: F,
}

impl<F: Fn(&[f64]) -> f64 + Send + Sync> FnObjective<F> {
    /// Wraps `f`, a function of `dim` parameters.
    pub fn new(dim: usize, f: F) -> Self {
        Self { dim, f }
    }
}

impl<F: Fn(&[f64]) -> f64 + Send + Sync> Objective for FnObjective<F> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        Outcome::from_value((self.f)(x))
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
