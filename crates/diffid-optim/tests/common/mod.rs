//! Helpers shared by the optimiser test files: sequential ask/tell loops and bounds.

use diffid_core::{Ask, Bounds, Optimiser, OptimiserState, Outcome, Termination};

/// Drives `state` sequentially to the end with objective `f`; returns the termination.
#[allow(dead_code)] // not every test file drives derivative-free optimisers
pub fn drive(state: &mut dyn OptimiserState, f: &dyn Fn(&[f64]) -> Outcome) -> Termination {
    loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                let outcomes: Vec<Outcome> = points.iter().map(|x| f(x)).collect();
                state.tell(&outcomes).expect("one outcome per asked point");
            }
            Ask::EvaluateWithGradient(_) => {
                unreachable!("a derivative-free optimiser never asks for gradients")
            }
            Ask::Done(reason) => return reason,
        }
    }
}

#[allow(dead_code)] // not every test file drives derivative-free optimisers
/// Minimises `f` from `x0` within `bounds` by a sequential ask/evaluate/tell loop.
/// Returns (best x, best value, evaluations, termination).
pub fn minimise(
    opt: &dyn Optimiser,
    f: impl Fn(&[f64]) -> f64,
    x0: &[f64],
    bounds: &[Bounds],
) -> (Vec<f64>, f64, usize, Termination) {
    let mut state = opt.init(x0, bounds).expect("valid start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(f(x)));
    let (x, fx) = state.best().expect("some evaluation succeeded");
    (x, fx, state.evaluations(), reason)
}

/// `n` unbounded coordinates.
pub fn free(n: usize) -> Vec<Bounds> {
    vec![Bounds::unbounded(); n]
}

/// `n` copies of `[lower, upper]`.
pub fn bounds(lower: f64, upper: f64, n: usize) -> Vec<Bounds> {
    vec![Bounds::new(lower, upper).expect("valid bounds"); n]
}

/// Drives a gradient-based `state` to the end with `f` and its gradient `g`, recording every
/// asked point; returns the termination and the points.
#[allow(dead_code)] // not every test file drives gradient optimisers
pub fn drive_gradient(
    state: &mut dyn OptimiserState,
    f: &dyn Fn(&[f64]) -> f64,
    g: &dyn Fn(&[f64]) -> Vec<f64>,
) -> (Termination, Vec<Vec<f64>>) {
    let mut asked = Vec::new();
    loop {
        match state.ask() {
            Ask::EvaluateWithGradient(points) => {
                let outcomes: Vec<diffid_core::GradientOutcome> = points
                    .iter()
                    .map(|x| diffid_core::GradientOutcome::from_parts(f(x), g(x)))
                    .collect();
                let n = outcomes.len();
                asked.extend(points);
                state
                    .tell_gradients(&outcomes, n)
                    .expect("one outcome per point");
            }
            Ask::Evaluate(_) => panic!("a gradient optimiser asked for values only"),
            Ask::Done(reason) => return (reason, asked),
        }
    }
}
