//! The shortest way to use this crate: minimise a closure.

use diffid_core::{
    check_init, fd, Ask, Bounds, CoreError, OptimisationResult, Optimiser, Outcome, TellError,
    Termination,
};
use std::time::Instant;
use thiserror::Error;

/// Why [`minimise`] returned no result.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum MinimiseError {
    /// Invalid settings, or a start of the wrong length or outside the bounds.
    #[error(transparent)]
    Invalid(#[from] CoreError),
    /// Every evaluation failed (NaN or infinite), so there is no best point.
    #[error("every evaluation failed ({evaluations} of {evaluations}: NaN or infinite values), so there is no best point; check the objective at the start")]
    NoSuccessfulEvaluation {
        /// Evaluations made.
        evaluations: usize,
    },
    /// The optimiser refused the outcomes of its own batch (a bug in the optimiser).
    #[error(transparent)]
    Tell(#[from] TellError),
}

/// Minimises `f` from `x0` with `optimiser`, evaluating on the calling thread: unbounded when
/// `bounds` is `None`, else within one [`Bounds`] per coordinate. A value that is NaN or
/// infinite counts as a failed evaluation (ranked worst; the run goes on). Gradient-based
/// optimisers get second-order finite-difference gradients ([`fd`]).
///
/// For parallel evaluation, a Python objective, an ODE model or progress reports, use the
/// `diffid` facade (or drive the state by hand, see the crate's example).
///
/// # Errors
/// [`MinimiseError::Invalid`] for the optimiser's invalid settings or a start of the wrong
/// length or outside the bounds; [`MinimiseError::NoSuccessfulEvaluation`] when no evaluation
/// succeeded.
///
/// ```
/// use diffid_optim::{minimise, CmaEs, NelderMead};
///
/// let rosenbrock = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
/// let r = minimise(&NelderMead::new(), rosenbrock, &[-1.2, 1.0], None).expect("runs");
/// assert!((r.x[0] - 1.0).abs() < 1e-4 && (r.x[1] - 1.0).abs() < 1e-4);
///
/// let bounded = diffid_optim::Bounds::new(-2.0, 2.0).expect("valid");
/// let r = minimise(&CmaEs::new().with_seed(1), rosenbrock, &[0.5, 0.5], Some(&[bounded; 2]))
///     .expect("runs");
/// assert!(r.value < 1e-8, "{}", r.value);
/// ```
pub fn minimise(
    optimiser: &dyn Optimiser,
    f: impl Fn(&[f64]) -> f64,
    x0: &[f64],
    bounds: Option<&[Bounds]>,
) -> Result<OptimisationResult, MinimiseError> {
    let free = vec![Bounds::unbounded(); x0.len()];
    let bounds = bounds.unwrap_or(&free);
    check_init(x0, bounds)?;
    let started = Instant::now();
    let mut state = optimiser.init(x0, bounds)?;
    let termination: Termination = loop {
        match state.ask() {
            Ask::Done(t) => break t,
            Ask::Evaluate(points) => {
                let outcomes: Vec<Outcome> =
                    points.iter().map(|x| Outcome::from_value(f(x))).collect();
                state.tell(&outcomes)?;
            }
            Ask::EvaluateWithGradient(points) => {
                let mut evaluations = 0;
                let outcomes: Vec<_> = points
                    .iter()
                    .map(|x| {
                        let (stencil_points, stencil) = fd::stencil(x, Some(bounds));
                        evaluations += stencil_points.len();
                        let values: Vec<Outcome> = stencil_points
                            .iter()
                            .map(|p| Outcome::from_value(f(p)))
                            .collect();
                        stencil.assemble(&values)
                    })
                    .collect();
                state.tell_gradients(&outcomes, evaluations)?;
            }
        }
    };
    let best = state.best().ok_or(MinimiseError::NoSuccessfulEvaluation {
        evaluations: state.evaluations(),
    })?;
    Ok(OptimisationResult::from_state(
        &*state,
        best,
        termination,
        started.elapsed(),
    ))
}
