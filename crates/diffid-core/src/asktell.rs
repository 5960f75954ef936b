//! Ask/tell state machines: the one interface between algorithms and executors.
//!
//! An algorithm never evaluates anything. It is asked for a batch of points, and told the
//! outcomes in the same order. This keeps every algorithm usable sequentially, on a thread pool,
//! from Python, or by hand, with bit-identical results.

use crate::{Bounds, CoreError, GradientOutcome, Outcome, TellError, Termination};
use std::fmt;

/// What a state asks for next.
#[derive(Clone, Debug, PartialEq)]
pub enum Ask {
    /// Evaluate these points (each of the problem's dimension) and `tell` the outcomes in order.
    Evaluate(Vec<Vec<f64>>),
    /// Evaluate the value and the gradient at these points and
    /// [`tell_gradients`](AskTell::tell_gradients) the outcomes in order (gradient-based
    /// optimisers ask this).
    EvaluateWithGradient(Vec<Vec<f64>>),
    /// The algorithm has stopped.
    Done(Termination),
}

/// A batched ask/tell state machine (optimisers now, samplers later).
pub trait AskTell: Send {
    /// The next batch to evaluate, or the reason the algorithm has stopped. Asking again before
    /// telling returns the same batch.
    fn ask(&mut self) -> Ask;

    /// The outcomes of the last batch asked for, in the same order.
    ///
    /// # Errors
    /// [`TellError::AlreadyTerminated`] after the state stopped;
    /// [`TellError::ResultCountMismatch`] when the count differs from the points asked;
    /// [`TellError::NothingAsked`] without a pending ask.
    fn tell(&mut self, outcomes: &[Outcome]) -> Result<(), TellError>;

    /// The values and gradients of the last batch asked for with
    /// [`Ask::EvaluateWithGradient`], in the same order. `evaluations` is the number of
    /// objective evaluations they cost in all (one per point for exact gradients, `2n + 1` per
    /// point for finite differences); it counts towards the evaluation budget.
    ///
    /// # Errors
    /// As [`tell`](Self::tell); [`TellError::GradientsNotExpected`] for a state that asked for
    /// values only (the default); [`TellError::GradientLength`] for a gradient of the wrong
    /// length.
    fn tell_gradients(
        &mut self,
        outcomes: &[GradientOutcome],
        evaluations: usize,
    ) -> Result<(), TellError> {
        let _ = (outcomes, evaluations);
        Err(TellError::GradientsNotExpected)
    }

    /// For the batch last asked with [`Ask::Evaluate`]: a cap such that every value at or
    /// above it is used only as "at or above the cap" (see [`Objective::evaluate_below`]), so
    /// an executor may evaluate with [`Objective::evaluate_below`] and get the same run.
    /// `None` (the default): every value is used as it is.
    ///
    /// [`Objective::evaluate_below`]: crate::Objective::evaluate_below
    fn value_cap(&self) -> Option<f64> {
        None
    }

    /// Completed iterations.
    fn iterations(&self) -> usize;

    /// Outcomes told so far.
    fn evaluations(&self) -> usize;

    /// Outcomes told so far that were failures.
    fn failed_evaluations(&self) -> usize;
}

/// The state of a running optimiser.
pub trait OptimiserState: AskTell {
    /// The best point and value seen so far, if any evaluation succeeded.
    fn best(&self) -> Option<(Vec<f64>, f64)>;

    /// The current search covariance, row-major `n × n`, where the algorithm has one.
    fn covariance(&self) -> Option<Vec<f64>> {
        None
    }

    /// The best value after each completed iteration.
    fn history(&self) -> &[f64];

    /// For simplex methods: the final simplex's vertices (best first) and their values.
    fn simplex(&self) -> Option<(Vec<Vec<f64>>, Vec<f64>)> {
        None
    }

    /// The bounds the state searches within, where it keeps them (used to keep
    /// finite-difference points inside the box).
    fn bounds(&self) -> Option<&[Bounds]> {
        None
    }

    /// The concrete state, for saving it in a checkpoint; `None` (the default) for a state
    /// that cannot be saved.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// An optimiser's configuration: it starts states.
pub trait Optimiser: Send + Sync + fmt::Debug {
    /// A short name ("cmaes", ...).
    fn name(&self) -> &'static str;

    /// Starts a state at `initial`, searching within `bounds` (one per coordinate).
    ///
    /// # Errors
    /// [`CoreError::DimensionMismatch`] when `bounds` and `initial` differ in length, or
    /// [`CoreError::InitialOutOfBounds`] when the start lies outside the bounds.
    fn init(
        &self,
        initial: &[f64],
        bounds: &[Bounds],
    ) -> Result<Box<dyn OptimiserState>, CoreError>;
}

/// A shared optimiser is an optimiser, so that APIs taking `impl Optimiser` accept one chosen
/// at run time as well.
impl Optimiser for std::sync::Arc<dyn Optimiser> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn init(
        &self,
        initial: &[f64],
        bounds: &[Bounds],
    ) -> Result<Box<dyn OptimiserState>, CoreError> {
        (**self).init(initial, bounds)
    }
}

/// Checks the arguments every [`Optimiser::init`] receives.
///
/// # Errors
/// As [`Optimiser::init`].
pub fn check_init(initial: &[f64], bounds: &[Bounds]) -> Result<(), CoreError> {
    if initial.is_empty() {
        return Err(CoreError::NoParameters);
    }
    if bounds.len() != initial.len() {
        return Err(CoreError::DimensionMismatch {
            what: "bounds",
            expected: initial.len(),
            got: bounds.len(),
        });
    }
    for (i, (&x, b)) in initial.iter().zip(bounds).enumerate() {
        if !x.is_finite() || !b.contains(x) {
            return Err(CoreError::InitialOutOfBounds {
                name: format!("#{i}"),
                value: x,
                lower: b.lower(),
                upper: b.upper(),
            });
        }
    }
    Ok(())
}

/// Checks the gradients told to a state that asked for `expected` points of dimension `dim`.
///
/// # Errors
/// [`TellError::ResultCountMismatch`] or [`TellError::GradientLength`].
pub fn check_gradients(
    outcomes: &[GradientOutcome],
    expected: usize,
    dim: usize,
) -> Result<(), TellError> {
    if outcomes.len() != expected {
        return Err(TellError::ResultCountMismatch {
            expected,
            received: outcomes.len(),
        });
    }
    for (index, o) in outcomes.iter().enumerate() {
        if let Some(g) = o.gradient() {
            if g.len() != dim {
                return Err(TellError::GradientLength {
                    index,
                    expected: dim,
                    got: g.len(),
                });
            }
        }
    }
    Ok(())
}
