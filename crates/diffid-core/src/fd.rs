//! Finite-difference gradients: the fallback for objectives without a gradient of their own.
//!
//! Second-order differences with a step `h = s · max(1, |xᵢ|)` per coordinate, `s` the
//! objective's [`fd_step`](crate::Objective::fd_step) (default [`RELATIVE_STEP`]): central
//! (`(f(x + h) − f(x − h)) / 2h`) where both points lie inside the bounds, otherwise the
//! one-sided second-order formula towards the interior (`(−3f(x) + 4f(x ± h) − f(x ± 2h)) / ±2h`),
//! so no stencil point ever leaves the box. A gradient costs `2n + 1` evaluations (the point
//! itself and two per coordinate); the points are laid out so that an executor can evaluate
//! them as one batch, in parallel.

use crate::{Bounds, GradientOutcome, Objective, Outcome};

/// The default relative step, 3e-5: it balances the truncation error of a second-order
/// formula against noise in the values of about 1e-13 relative (`∛ε` ≈ 6e-6 would suit values
/// exact to rounding, which a model computed by an adaptive solver is not). Measured on the
/// seed model's SSE (finite differences against its exact sensitivities, rtol 1e-6), 3e-5 gives
/// a relative gradient error of 6e-5 against 7e-5 for `∛ε`; at rtol 1e-4 1.5e-2 against 9e-2.
pub const RELATIVE_STEP: f64 = 3e-5;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Central,
    Forward,
    Backward,
}

/// How a gradient is assembled from the outcomes at its stencil's points.
#[derive(Clone, Debug, PartialEq)]
pub struct Stencil {
    steps: Vec<(Side, f64)>,
}

impl Stencil {
    /// Number of points (and evaluations): `2n + 1`.
    pub fn len(&self) -> usize {
        1 + 2 * self.steps.len()
    }

    /// Whether the stencil has no points (never: the centre is always one).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The value and gradient from the outcomes at the stencil's points, in the order
    /// [`stencil`] returned them. Any failed point fails the whole gradient, naming it.
    pub fn assemble(&self, outcomes: &[Outcome]) -> GradientOutcome {
        if outcomes.len() != self.len() {
            return GradientOutcome::Failed(format!(
                "finite differences need {} values, got {}",
                self.len(),
                outcomes.len()
            ));
        }
        let value = match &outcomes[0] {
            Outcome::Value(v) if v.is_finite() => *v,
            Outcome::Value(v) => {
                return GradientOutcome::Failed(format!("the objective returned {v}"))
            }
            Outcome::Failed(r) => return GradientOutcome::Failed(r.clone()),
        };
        let mut gradient = Vec::with_capacity(self.steps.len());
        for (i, (side, h)) in self.steps.iter().enumerate() {
            let (a, b) = match (&outcomes[1 + 2 * i], &outcomes[2 + 2 * i]) {
                (Outcome::Value(a), Outcome::Value(b)) if a.is_finite() && b.is_finite() => {
                    (*a, *b)
                }
                (Outcome::Value(a), Outcome::Value(b)) => {
                    return GradientOutcome::Failed(format!(
                        "the finite-difference points for coordinate {i} gave {a} and {b}"
                    ))
                }
                (Outcome::Failed(r), _) | (_, Outcome::Failed(r)) => {
                    return GradientOutcome::Failed(format!(
                        "the finite-difference point for coordinate {i} failed: {r}"
                    ))
                }
            };
            gradient.push(match side {
                Side::Central => (a - b) / (2.0 * h),
                Side::Forward => (-3.0 * value + 4.0 * a - b) / (2.0 * h),
                Side::Backward => (3.0 * value - 4.0 * a + b) / (2.0 * h),
            });
        }
        GradientOutcome::from_parts(value, gradient)
    }
}

/// The points at which to evaluate for the gradient at `x` (the first is `x` itself), and how
/// to assemble them. With `bounds`, every point lies inside them.
pub fn stencil(x: &[f64], bounds: Option<&[Bounds]>) -> (Vec<Vec<f64>>, Stencil) {
    stencil_with_step(x, bounds, RELATIVE_STEP)
}

/// As [`stencil`], with the relative step `step`.
pub fn stencil_with_step(
    x: &[f64],
    bounds: Option<&[Bounds]>,
    step: f64,
) -> (Vec<Vec<f64>>, Stencil) {
    let mut points = Vec::with_capacity(1 + 2 * x.len());
    points.push(x.to_vec());
    let mut steps = Vec::with_capacity(x.len());
    for (i, &xi) in x.iter().enumerate() {
        let b = bounds.and_then(|b| b.get(i)).copied().unwrap_or_default();
        let mut h = step * xi.abs().max(1.0);
        // A box narrower than the stencil: shrink the step so that two steps fit.
        if b.width().is_finite() {
            h = h.min(b.width() / 4.0);
        }
        let side = if b.contains(xi + h) && b.contains(xi - h) {
            Side::Central
        } else if b.contains(xi + 2.0 * h) {
            Side::Forward
        } else {
            Side::Backward
        };
        let (a, c) = match side {
            Side::Central => (xi + h, xi - h),
            Side::Forward => (xi + h, xi + 2.0 * h),
            Side::Backward => (xi - h, xi - 2.0 * h),
        };
        for v in [a, c] {
            let mut p = x.to_vec();
            p[i] = v;
            points.push(p);
        }
        steps.push((side, h));
    }
    (points, Stencil { steps })
}

/// The finite-difference value and gradient of `objective` at `x`, evaluated here in turn, and
/// the number of evaluations it took.
pub fn gradient(
    objective: &dyn Objective,
    x: &[f64],
    bounds: Option<&[Bounds]>,
) -> (GradientOutcome, usize) {
    let (points, stencil) = stencil_with_step(x, bounds, objective.fd_step());
    let outcomes: Vec<Outcome> = points.iter().map(|p| objective.evaluate(p)).collect();
    (stencil.assemble(&outcomes), points.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FnObjective;

    fn cubic(x: &[f64]) -> f64 {
        x[0].powi(3) + 2.0 * x[0] * x[1] + x[1].exp()
    }

    fn cubic_gradient(x: &[f64]) -> [f64; 2] {
        [3.0 * x[0] * x[0] + 2.0 * x[1], 2.0 * x[0] + x[1].exp()]
    }

    #[test]
    fn central_differences_match_the_analytic_gradient() {
        let f = FnObjective::new(2, cubic);
        let x = [0.7, -0.3];
        let (g, n) = gradient(&f, &x, None);
        assert_eq!(n, 5);
        let g = g.gradient().expect("finite").to_vec();
        let want = cubic_gradient(&x);
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-8 * (1.0 + b.abs()), "{g:?} vs {want:?}");
        }
    }

    #[test]
    fn points_at_a_bound_stay_inside_and_stay_accurate() {
        let f = FnObjective::new(2, cubic);
        let bounds = [
            Bounds::new(0.7, 2.0).expect("valid"),
            Bounds::new(-1.0, -0.3).expect("valid"),
        ];
        let x = [0.7, -0.3];
        let (points, st) = stencil(&x, Some(&bounds));
        for p in &points {
            assert!(
                bounds[0].contains(p[0]) && bounds[1].contains(p[1]),
                "{p:?}"
            );
        }
        let outcomes: Vec<Outcome> = points.iter().map(|p| f.evaluate(p)).collect();
        let g = st.assemble(&outcomes);
        let want = cubic_gradient(&x);
        for (a, b) in g.gradient().expect("finite").iter().zip(want) {
            assert!((a - b).abs() < 1e-7 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn a_non_finite_stencil_value_fails_the_gradient_and_names_the_coordinate() {
        let (points, st) = stencil(&[0.0, 0.0], None);
        let mut outcomes: Vec<Outcome> = points.iter().map(|_| Outcome::Value(1.0)).collect();
        outcomes[3] = Outcome::Value(f64::INFINITY);
        match st.assemble(&outcomes) {
            GradientOutcome::Failed(r) => assert!(r.contains("coordinate 1"), "{r}"),
            GradientOutcome::Value { .. } => panic!("expected a failure"),
        }
    }

    #[test]
    fn a_failed_point_fails_the_gradient_and_names_the_coordinate() {
        let f = FnObjective::new(2, |x: &[f64]| if x[1] > 1.0 { f64::NAN } else { x[0] });
        let (g, _) = gradient(&f, &[0.0, 1.0], None);
        match g {
            GradientOutcome::Failed(r) => assert!(r.contains("coordinate 1"), "{r}"),
            GradientOutcome::Value { .. } => panic!("expected a failure"),
        }
    }
}
