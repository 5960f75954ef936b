//! The search space an optimiser sees: each parameter mapped through its transform.
//!
//! Fitted parameters often differ in magnitude by orders (the seed's Lotka–Volterra rates span
//! 0.05 to 0.8). An isotropic optimiser such as CMA-ES with a single initial step size then
//! explores the small parameters far too coarsely and the large ones too finely. diffid therefore
//! runs every optimiser on search coordinates `z`, one per parameter, given by the parameter's
//! [`Transform`]: by default `z = x / s` with `s` the natural scale
//! ([`diffid_core::Parameter::scale`]: the bounds' width, else the magnitude of the start, else
//! 1), so a step size of 0.3 means "30 % of each parameter's scale"; `z = ln x` for a log
//! transform; `z = logit` of the position within the bounds for a logit transform. Results,
//! bounds, gradients and covariances are mapped back, so users only ever see natural units.

use diffid_core::{Bounds, GradientOutcome, Objective, Outcome, Parameter, Parameters, RunEach};
use std::sync::Arc;

/// The per-parameter maps between natural units and the optimiser's space.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpace {
    params: Vec<Parameter>,
}

impl SearchSpace {
    /// The space of `params`, through their transforms.
    pub fn new(params: &Parameters) -> Self {
        Self {
            params: params.iter().cloned().collect(),
        }
    }

    /// Natural units → search space.
    pub fn to_search(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(&self.params)
            .map(|(v, p)| p.to_search(*v))
            .collect()
    }

    /// Search space → natural units.
    pub fn to_natural(&self, z: &[f64]) -> Vec<f64> {
        z.iter()
            .zip(&self.params)
            .map(|(v, p)| p.to_natural(*v))
            .collect()
    }

    /// `dx/dz` at search point `z`, coordinate by coordinate.
    pub fn derivatives(&self, z: &[f64]) -> Vec<f64> {
        z.iter()
            .zip(&self.params)
            .map(|(v, p)| p.natural_derivative(*v))
            .collect()
    }

    /// The bounds in the search space.
    pub fn bounds(&self) -> Vec<Bounds> {
        self.params.iter().map(Parameter::search_bounds).collect()
    }

    /// A row-major covariance in the search space at search point `z`, mapped to natural
    /// units to first order (`D C D` with `D = diag(dx/dz)`: exact for the default scaling).
    pub fn covariance_to_natural(&self, c: &[f64], z: &[f64]) -> Vec<f64> {
        let d = self.derivatives(z);
        let n = d.len();
        c.iter()
            .enumerate()
            .map(|(k, v)| v * d[k / n] * d[k % n])
            .collect()
    }

    /// `objective` seen from the search space.
    pub fn wrap(&self, objective: Arc<dyn Objective>) -> Scaled {
        Scaled {
            inner: objective,
            space: self.clone(),
        }
    }
}

/// An objective evaluated on search coordinates.
pub struct Scaled {
    inner: Arc<dyn Objective>,
    space: SearchSpace,
}

impl Objective for Scaled {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn evaluate(&self, z: &[f64]) -> Outcome {
        self.inner.evaluate(&self.space.to_natural(z))
    }

    fn evaluate_below(&self, z: &[f64], cap: f64) -> Outcome {
        self.inner.evaluate_below(&self.space.to_natural(z), cap)
    }

    fn has_gradient(&self) -> bool {
        self.inner.has_gradient()
    }

    fn fd_step(&self) -> f64 {
        self.inner.fd_step()
    }

    fn evaluate_batch(&self, points: &[Vec<f64>]) -> Vec<Outcome> {
        let natural: Vec<Vec<f64>> = points.iter().map(|z| self.space.to_natural(z)).collect();
        self.inner.evaluate_batch(&natural)
    }

    /// The chain rule: `∂f/∂z_i = (∂f/∂x_i) (dx_i/dz_i)`.
    fn evaluate_with_gradient(&self, z: &[f64]) -> GradientOutcome {
        self.to_search(
            z,
            self.inner.evaluate_with_gradient(&self.space.to_natural(z)),
        )
    }

    fn has_parts(&self) -> bool {
        self.inner.has_parts()
    }

    fn evaluate_parts(&self, z: &[f64], run_each: RunEach<'_>) -> Outcome {
        self.inner
            .evaluate_parts(&self.space.to_natural(z), run_each)
    }

    fn evaluate_with_gradient_parts(&self, z: &[f64], run_each: RunEach<'_>) -> GradientOutcome {
        let natural = self.space.to_natural(z);
        self.to_search(
            z,
            self.inner.evaluate_with_gradient_parts(&natural, run_each),
        )
    }
}

impl Scaled {
    /// A natural-units gradient outcome at search point `z`, in search coordinates.
    fn to_search(&self, z: &[f64], outcome: GradientOutcome) -> GradientOutcome {
        match outcome {
            GradientOutcome::Value { gradient, .. } if gradient.len() != z.len() => {
                GradientOutcome::Failed(format!(
                    "the gradient has {} entries, but the objective has {} parameters",
                    gradient.len(),
                    z.len()
                ))
            }
            GradientOutcome::Value { value, gradient } => {
                let d = self.space.derivatives(z);
                GradientOutcome::from_parts(
                    value,
                    gradient.iter().zip(d).map(|(g, d)| g * d).collect(),
                )
            }
            failed @ GradientOutcome::Failed(_) => failed,
        }
    }
}
