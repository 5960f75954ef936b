//! Optimiser configuration objects (`CMAES`).

use crate::asktell::{bounds_for, Kind, PyOptimiserState};
use crate::errors::setting_to_py;
use crate::errors::to_py;
use diffid::{Bounds, CmaEs, CoreError, Error, NelderMead, Optimiser, Restarts};
use pyo3::prelude::*;
use std::sync::Arc;

/// Starts an ask/tell state with `make`, after turning Python bounds into [`Bounds`].
fn start(
    initial: &[f64],
    bounds: Option<Vec<(f64, f64)>>,
    make: impl FnOnce(&[f64], &[Bounds]) -> Result<Kind, CoreError>,
) -> PyResult<PyOptimiserState> {
    let bounds = bounds_for(initial.len(), bounds)?;
    let kind = make(initial, &bounds).map_err(|e| to_py(Error::Core(e)))?;
    Ok(PyOptimiserState::new(kind, initial.len()))
}

/// Covariance Matrix Adaptation Evolution Strategy.
///
/// Every `with_*` returns a new configuration; invalid values raise `ValueError` at once.
#[pyclass(module = "diffid._diffid", name = "CMAES", frozen)]
#[derive(Clone)]
pub struct PyCmaEs(pub CmaEs);

impl PyCmaEs {
    fn set(&self, f: impl FnOnce(CmaEs) -> CmaEs) -> PyResult<Self> {
        let next = f(self.0.clone());
        next.validate().map_err(|e| setting_to_py(&e))?;
        Ok(Self(next))
    }

    /// The configuration as a shareable Rust optimiser.
    pub fn optimiser(&self) -> Arc<dyn Optimiser> {
        Arc::new(self.0.clone())
    }
}

#[pymethods]
impl PyCmaEs {
    #[new]
    fn new() -> Self {
        Self(CmaEs::new())
    }

    /// Starts an ask/tell state at `initial`, optionally within `[(lower, upper), ...]`.
    #[pyo3(signature = (initial, bounds = None))]
    #[allow(clippy::needless_pass_by_value)] // extracted from Python by value
    fn init(
        &self,
        initial: Vec<f64>,
        bounds: Option<Vec<(f64, f64)>>,
    ) -> PyResult<PyOptimiserState> {
        start(&initial, bounds, |x, b| {
            self.0.start(x, b).map(|s| Kind::CmaEs(Box::new(s)))
        })
    }

    /// Maximum number of generations (default 1000).
    fn with_max_iter(&self, max_iter: usize) -> PyResult<Self> {
        self.set(|c| c.with_max_iter(max_iter))
    }

    /// Maximum number of evaluations (default: none).
    fn with_max_evaluations(&self, max_evaluations: usize) -> PyResult<Self> {
        self.set(|c| c.with_max_evaluations(Some(max_evaluations)))
    }

    /// Initial step size σ, relative to each parameter's scale (default 0.5).
    fn with_step_size(&self, step_size: f64) -> PyResult<Self> {
        self.set(|c| c.with_step_size(step_size))
    }

    /// Population size λ (default 4 + ⌊3 ln n⌋).
    fn with_population_size(&self, population_size: usize) -> PyResult<Self> {
        self.set(|c| c.with_population_size(population_size))
    }

    /// Seed of the random generator; the same seed gives the same result at any thread count.
    fn with_seed(&self, seed: u64) -> PyResult<Self> {
        self.set(|c| c.with_seed(seed))
    }

    /// Stop when the best value is at or below this (default 1e-6).
    fn with_threshold(&self, threshold: f64) -> PyResult<Self> {
        self.set(|c| c.with_threshold(threshold))
    }

    /// Restarts after a local convergence: `"ipop"` (population × `increase` each time),
    /// `"bipop"` (alternating large and small populations) or `None` (the default). The
    /// iteration and evaluation limits apply to the whole run.
    #[pyo3(signature = (strategy, max_restarts = 9, increase = 2.0))]
    fn with_restarts(
        &self,
        strategy: Option<&str>,
        max_restarts: usize,
        increase: f64,
    ) -> PyResult<Self> {
        let restarts = match strategy.map(str::to_ascii_lowercase).as_deref() {
            None | Some("none") => Restarts::None,
            Some("ipop") => Restarts::Ipop {
                max_restarts,
                increase,
            },
            Some("bipop") => Restarts::Bipop { max_restarts },
            Some(other) => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "unknown restart strategy '{other}'; choose \"ipop\", \"bipop\" or None"
                )))
            }
        };
        self.set(|c| c.with_restarts(restarts))
    }

    /// Stop when recent function values span less than this (default 1e-12).
    fn with_function_tolerance(&self, tolerance: f64) -> PyResult<Self> {
        self.set(|c| c.with_function_tolerance(tolerance))
    }

    /// Stop when the search distribution is narrower than this (default 1e-12).
    fn with_position_tolerance(&self, tolerance: f64) -> PyResult<Self> {
        self.set(|c| c.with_position_tolerance(tolerance))
    }

    fn __repr__(&self) -> String {
        let c = &self.0;
        format!(
            "CMAES(max_iter={}, step_size={}, population_size={}, seed={}, threshold={})",
            c.max_iter(),
            c.step_size(),
            c.population_size()
                .map_or_else(|| "default".to_owned(), |p| p.to_string()),
            c.seed()
                .map_or_else(|| "None".to_owned(), |s| s.to_string()),
            c.threshold(),
        )
    }
}

/// Nelder–Mead simplex search (the default optimiser of `Problem.optimise`).
///
/// Every `with_*` returns a new configuration; invalid values raise `ValueError` at once.
#[pyclass(module = "diffid._diffid", name = "NelderMead", frozen)]
#[derive(Clone)]
pub struct PyNelderMead(pub NelderMead);

impl PyNelderMead {
    fn set(&self, f: impl FnOnce(NelderMead) -> NelderMead) -> PyResult<Self> {
        let next = f(self.0.clone());
        next.validate().map_err(|e| setting_to_py(&e))?;
        Ok(Self(next))
    }

    /// The configuration as a shareable Rust optimiser.
    pub fn optimiser(&self) -> Arc<dyn Optimiser> {
        Arc::new(self.0.clone())
    }
}

#[pymethods]
impl PyNelderMead {
    #[new]
    fn new() -> Self {
        Self(NelderMead::new())
    }

    /// Starts an ask/tell state at `initial`, optionally within `[(lower, upper), ...]`.
    #[pyo3(signature = (initial, bounds = None))]
    #[allow(clippy::needless_pass_by_value)] // extracted from Python by value
    fn init(
        &self,
        initial: Vec<f64>,
        bounds: Option<Vec<(f64, f64)>>,
    ) -> PyResult<PyOptimiserState> {
        start(&initial, bounds, |x, b| {
            self.0.start(x, b).map(|s| Kind::NelderMead(Box::new(s)))
        })
    }

    /// Maximum number of iterations (default 1000).
    fn with_max_iter(&self, max_iter: usize) -> PyResult<Self> {
        self.set(|c| c.with_max_iter(max_iter))
    }

    /// Maximum number of evaluations (default: none).
    fn with_max_evaluations(&self, max_evaluations: usize) -> PyResult<Self> {
        self.set(|c| c.with_max_evaluations(Some(max_evaluations)))
    }

    /// Initial simplex size, relative to each parameter's scale (default 0.1).
    fn with_step_size(&self, step_size: f64) -> PyResult<Self> {
        self.set(|c| c.with_step_size(step_size))
    }

    /// Stop when the best value is at or below this (default 1e-6).
    fn with_threshold(&self, threshold: f64) -> PyResult<Self> {
        self.set(|c| c.with_threshold(threshold))
    }

    /// Stop when the simplex is smaller than this (default 1e-8).
    fn with_position_tolerance(&self, tolerance: f64) -> PyResult<Self> {
        self.set(|c| c.with_position_tolerance(tolerance))
    }

    /// Stop when the simplex's values span less than this (default 1e-12).
    fn with_function_tolerance(&self, tolerance: f64) -> PyResult<Self> {
        self.set(|c| c.with_function_tolerance(tolerance))
    }

    /// Reflection, expansion, contraction and shrink coefficients (default 1, 2, 0.5, 0.5).
    fn with_coefficients(&self, alpha: f64, gamma: f64, rho: f64, sigma: f64) -> PyResult<Self> {
        self.set(|c| c.with_coefficients(alpha, gamma, rho, sigma))
    }

    fn __repr__(&self) -> String {
        let c = &self.0;
        let (a, g, r, s) = c.coefficients();
        format!(
            "NelderMead(max_iter={}, step_size={}, threshold={}, coefficients=({a}, {g}, {r}, {s}))",
            c.max_iter(),
            c.step_size(),
            c.threshold(),
        )
    }
}
