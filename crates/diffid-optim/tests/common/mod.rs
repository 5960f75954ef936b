//! Helpers shared by the optimiser test files: sequential ask/tell loops and bounds.

use diffid_core::{Ask, Bounds, Optimiser, OptimiserState, Outcome, Termination};

/// Drives `state` sequentially to the end with objective `f`; returns the termination.
pub fn drive(state: &mut dyn OptimiserState, f: &dyn Fn(&[f64]) -> Outcome) -> Termination {
    loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                let outcomes: Vec<Outcome> = points.iter().map(|x| f(x)).collect();
                state.tell(&outcomes).expect("one outcome per asked point");
            }
            Ask::Done(reason) => return reason,
        }
    }
}

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
