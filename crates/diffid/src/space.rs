//! The search space an optimiser sees: each parameter divided by its natural scale.
//!
//! Fitted parameters often differ in magnitude by orders (the seed's Lotka–Volterra rates span
//! 0.05 to 0.8). An isotropic optimiser such as CMA-ES with a single initial step size then
//! explores the small parameters far too coarsely and the large ones too finely. diffid therefore
//! runs every optimiser on `z = x / s`, with `s` the parameter's natural scale
//! ([`diffid_core::Parameter::scale`]: the bounds' width, else the magnitude of the start, else
//! 1). A step size of 0.3 then means "30 % of each parameter's scale". Results, bounds and
//! covariances are mapped back, so users only ever see natural units.

use diffid_core::{Bounds, Objective, Outcome, Parameters};
use std::sync::Arc;

/// The per-parameter scaling between natural units and the optimiser's space.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpace {
    scales: Vec<f64>,
}

impl SearchSpace {
    /// The space of `params`, scaled by their natural scales.
    pub fn new(params: &Parameters) -> Self {
        Self {
            scales: params.scales(),
        }
    }

    /// The identity space of dimension `n`.
    pub fn identity(n: usize) -> Self {
        Self {
            scales: vec![1.0; n],
        }
    }

    /// The scales.
    pub fn scales(&self) -> &[f64] {
        &self.scales
    }

    /// Natural units → search space.
    pub fn to_search(&self, x: &[f64]) -> Vec<f64> {
        x.iter().zip(&self.scales).map(|(v, s)| v / s).collect()
    }

    /// Search space → natural units.
    pub fn to_natural(&self, z: &[f64]) -> Vec<f64> {
        z.iter().zip(&self.scales).map(|(v, s)| v * s).collect()
    }

    /// Bounds in the search space.
    pub fn bounds(&self, bounds: &[Bounds]) -> Vec<Bounds> {
        bounds
            .iter()
            .zip(&self.scales)
            .map(|(b, s)| {
                if b.is_unbounded() {
                    *b
                } else {
                    // Positive scales keep the order; the interval stays valid.
                    Bounds::new(b.lower() / s, b.upper() / s).unwrap_or(*b)
                }
            })
            .collect()
    }

    /// A row-major covariance in the search space, mapped to natural units (`S C S`).
    pub fn covariance_to_natural(&self, c: &[f64]) -> Vec<f64> {
        let n = self.scales.len();
        c.iter()
            .enumerate()
            .map(|(k, v)| v * self.scales[k / n] * self.scales[k % n])
            .collect()
    }

    /// `objective` seen from the search space.
    pub fn wrap(&self, objective: Arc<dyn Objective>) -> Scaled {
        Scaled {
            inner: objective,
            scales: self.scales.clone(),
        }
    }
}

/// An objective evaluated on scaled coordinates.
pub struct Scaled {
    inner: Arc<dyn Objective>,
    scales: Vec<f64>,
}

impl Objective for Scaled {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn evaluate(&self, z: &[f64]) -> Outcome {
        let x: Vec<f64> = z.iter().zip(&self.scales).map(|(v, s)| v * s).collect();
        self.inner.evaluate(&x)
    }
}
