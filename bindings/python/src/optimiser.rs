//! Optimiser configuration objects: `NelderMead`, `CMAES`, `Adam`, `LBFGSB`.
//!
//! The four share their stopping setters, `init` and `run`; one macro writes those for each
//! class (PyO3 allows one `#[pymethods]` block per class), and each class adds its own.

use crate::asktell::{bounds_for, Kind, PyOptimiserState};
use crate::errors::{setting_to_py, to_py};
use crate::problem::PyProblem;
use crate::run::RunControls;
use diffid::{
    Adam, Bounds, CmaEs, CoreError, Error, Lbfgsb, NelderMead, Optimiser, Patience, Restarts,
    StartOnly,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat};
use std::sync::Arc;
use std::time::Duration;

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

/// `with_patience(value=None, *, iterations=None, seconds=None)`: `value` (a number or a
/// `datetime.timedelta`) and `seconds=` are wall-clock seconds without improvement, as the
/// earlier release spells it; `iterations=` counts iterations; none of them turns it off.
fn patience(
    value: Option<&Bound<'_, PyAny>>,
    iterations: Option<&Bound<'_, PyAny>>,
    seconds: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Patience>> {
    let given = [value, iterations, seconds].iter().flatten().count();
    if given > 1 {
        return Err(PyValueError::new_err(
            "with_patience takes one of: seconds (positionally or seconds=...) or iterations=..., not several",
        ));
    }
    if let Some(v) = iterations {
        if v.is_instance_of::<PyBool>() || v.is_instance_of::<PyFloat>() {
            return Err(PyTypeError::new_err(format!(
                "with_patience(iterations=...) expects an int, got {} {}",
                v.get_type().name()?,
                v.repr()?
            )));
        }
        let n: i64 = v.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "with_patience(iterations=...) expects an int, got {}",
                v.get_type()
                    .name()
                    .map_or_else(|_| "?".to_owned(), |n| n.to_string())
            ))
        })?;
        if n < 1 {
            return Err(PyValueError::new_err(format!(
                "patience must be at least 1 iteration, got {n}"
            )));
        }
        return Ok(Some(Patience::Iterations(n as usize)));
    }
    match value.or(seconds) {
        Some(v) => Ok(Some(Patience::Time(positive_duration(
            "patience",
            seconds_of(v, "with_patience")?,
        )?))),
        None => Ok(None),
    }
}

/// A number of seconds given as a number or a `datetime.timedelta` (`what` names the method
/// in the error); `True`/`False` are refused.
fn seconds_of(v: &Bound<'_, PyAny>, what: &str) -> PyResult<f64> {
    let py = v.py();
    let timedelta = py.import("datetime")?.getattr("timedelta")?;
    if v.is_instance(&timedelta)? {
        return v.call_method0("total_seconds")?.extract();
    }
    if v.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{what} expects seconds (a number or a datetime.timedelta), got a bool"
        )));
    }
    v.extract::<f64>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} expects seconds (a number or a datetime.timedelta), got {}",
            v.get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string())
        ))
    })
}

/// A positive, finite number of seconds as a [`Duration`].
fn positive_duration(what: &str, seconds: f64) -> PyResult<Duration> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if seconds > 0.0 => Ok(d),
        _ => Err(PyValueError::new_err(format!(
            "{what} must be a positive, finite number of seconds (at most about 1.8e19), got {seconds}"
        ))),
    }
}

/// Declares a Python optimiser class wrapping the Rust configuration `$rust`, with the shared
/// methods and the class's own `{ ... }`.
macro_rules! optimiser_class {
    (
        $(#[$doc:meta])*
        $py:ident($rust:ty), $pyname:literal, $kind:ident,
        { $($extra:tt)* }
    ) => {
        $(#[$doc])*
        #[pyclass(module = "diffid._diffid", name = $pyname, frozen)]
        #[derive(Clone)]
        pub struct $py(pub $rust);

        impl $py {
            fn set(&self, f: impl FnOnce($rust) -> $rust) -> PyResult<Self> {
                let next = f(self.0.clone());
                next.validate().map_err(|e| setting_to_py(&e))?;
                Ok(Self(next))
            }

            /// The configuration as a shareable Rust optimiser.
            pub fn optimiser(&self) -> Arc<dyn Optimiser> {
                Arc::new(self.0.clone())
            }

            /// A configuration restored from a pickle, checked as the setters check it.
            pub fn checked(config: $rust) -> PyResult<Self> {
                config.validate().map_err(|e| setting_to_py(&e))?;
                Ok(Self(config))
            }
        }

        #[pymethods]
        impl $py {
            #[new]
            fn new() -> Self {
                Self(<$rust>::new())
            }

            /// Starts an ask/tell state at `initial`, optionally within
            /// `[(lower, upper), ...]`.
            #[pyo3(signature = (initial, bounds = None))]
            #[allow(clippy::needless_pass_by_value)] // extracted from Python by value
            fn init(
                &self,
                initial: Vec<f64>,
                bounds: Option<Vec<(f64, f64)>>,
            ) -> PyResult<PyOptimiserState> {
                start(&initial, bounds, |x, b| {
                    if self.0.max_iter() == 0 {
                        // The same checks of the start and the settings as a run's.
                        return Optimiser::init(&self.0, x, b)
                            .map(|_| Kind::Start(Box::new(StartOnly::new(x, b))));
                    }
                    self.0.start(x, b).map(|s| Kind::$kind(Box::new(s)))
                })
            }

            /// Minimises `problem` from `initial` (default: its parameters' initial values)
            /// with this optimiser: the same as `problem.optimise(initial, self, ...)`.
            #[pyo3(signature = (
                problem, initial = None, *, callback = None, progress = false,
                checkpoint = None, checkpoint_interval = 60.0, resume = false
            ))]
            #[allow(clippy::too_many_arguments)] // the keyword arguments of one Python method
            fn run(
                &self,
                py: Python<'_>,
                problem: &PyProblem,
                initial: Option<&Bound<'_, PyAny>>,
                callback: Option<Py<PyAny>>,
                progress: bool,
                checkpoint: Option<std::path::PathBuf>,
                checkpoint_interval: f64,
                resume: bool,
            ) -> PyResult<Py<PyAny>> {
                problem.run_optimiser(
                    py,
                    initial,
                    Some(&self.optimiser()),
                    RunControls::new(callback, progress, checkpoint, checkpoint_interval, resume)?,
                )
            }

            fn __reduce__<'py>(
                &self,
                py: Python<'py>,
            ) -> PyResult<crate::pickling::Reduced<'py>> {
                crate::pickling::reduce(py, $pyname, &self.0)
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other.downcast::<Self>().is_ok_and(|o| o.get().0 == self.0)
            }

            fn __copy__(&self) -> Self {
                self.clone()
            }

            fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
                self.clone()
            }

            /// Maximum number of iterations (default 1000); 0 evaluates the start and returns
            /// it.
            fn with_max_iter(&self, max_iter: usize) -> PyResult<Self> {
                self.set(|c| c.with_max_iter(max_iter))
            }

            /// Maximum number of objective evaluations (default: none).
            fn with_max_evaluations(&self, max_evaluations: usize) -> PyResult<Self> {
                self.set(|c| c.with_max_evaluations(Some(max_evaluations)))
            }

            /// Stop when the best value is at or below this (default -inf: no threshold).
            fn with_threshold(&self, threshold: f64) -> PyResult<Self> {
                self.set(|c| c.with_threshold(threshold))
            }

            /// Stop after this long without a strictly lower best value: seconds (a number or
            /// a `datetime.timedelta`, positionally or `seconds=`, as in the earlier release),
            /// or `iterations=n`; `with_patience()` turns it off.
            #[pyo3(signature = (value = None, *, iterations = None, seconds = None))]
            fn with_patience(
                &self,
                value: Option<&Bound<'_, PyAny>>,
                iterations: Option<&Bound<'_, PyAny>>,
                seconds: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<Self> {
                let p = patience(value, iterations, seconds)?;
                self.set(|c| c.with_patience(p))
            }

            /// Stop once this many seconds (a number or a `datetime.timedelta`) of wall-clock
            /// time have passed; `None` turns it off.
            #[pyo3(signature = (seconds))]
            fn with_time_limit(&self, seconds: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
                let limit = seconds
                    .map(|s| positive_duration("time_limit", seconds_of(s, "with_time_limit")?))
                    .transpose()?;
                self.set(|c| c.with_time_limit(limit))
            }

            $($extra)*
        }
    };
}

fn limits_repr(limits: diffid::Limits) -> String {
    let patience = match limits.patience {
        None => "None".to_owned(),
        Some(Patience::Iterations(n)) => format!("{n} iterations"),
        Some(Patience::Time(d)) => format!("{} s", d.as_secs_f64()),
    };
    let time = limits
        .time_limit
        .map_or_else(|| "None".to_owned(), |d| format!("{} s", d.as_secs_f64()));
    format!("patience={patience}, time_limit={time}")
}

optimiser_class! {
    /// Nelder–Mead simplex search (the default optimiser of `Problem.optimise`).
    ///
    /// Every `with_*` returns a new configuration; invalid values raise `ValueError` at once.
    PyNelderMead(NelderMead), "NelderMead", NelderMead,
    {
        /// Initial simplex size, relative to each parameter's scale (default 0.1).
        fn with_step_size(&self, step_size: f64) -> PyResult<Self> {
            self.set(|c| c.with_step_size(step_size))
        }

        /// Stop when the simplex is smaller than this (default 1e-8).
        fn with_position_tolerance(&self, tolerance: f64) -> PyResult<Self> {
            self.set(|c| c.with_position_tolerance(tolerance))
        }

        /// Stop when the simplex's values span less than this (default 1e-12).
        fn with_function_tolerance(&self, tolerance: f64) -> PyResult<Self> {
            self.set(|c| c.with_function_tolerance(tolerance))
        }

        /// Reflection, expansion, contraction and shrink coefficients (default 1, 2, 0.5, 0.5);
        /// turns the adaptive ones off.
        fn with_coefficients(&self, alpha: f64, gamma: f64, rho: f64, sigma: f64) -> PyResult<Self> {
            self.set(|c| c.with_coefficients(alpha, gamma, rho, sigma))
        }

        /// Gao and Han's coefficients for n parameters, as scipy's `adaptive=True`:
        /// expansion 1 + 2/n, contraction 0.75 − 1/(2n), shrink 1 − 1/n (the standard ones
        /// for n = 2). Recommended above about five parameters.
        #[pyo3(signature = (adaptive = true))]
        fn with_adaptive(&self, adaptive: bool) -> PyResult<Self> {
            self.set(|c| c.with_adaptive(adaptive))
        }

        fn __repr__(&self) -> String {
            let c = &self.0;
            let (a, g, r, s) = c.coefficients();
            let coefficients = if c.adaptive() {
                "coefficients=adaptive".to_owned()
            } else {
                format!("coefficients=({a}, {g}, {r}, {s})")
            };
            format!(
                "NelderMead(max_iter={}, step_size={}, threshold={}, {coefficients}, {})",
                c.max_iter(),
                c.step_size(),
                c.threshold(),
                limits_repr(c.limits()),
            )
        }
    }
}

optimiser_class! {
    /// Covariance Matrix Adaptation Evolution Strategy.
    ///
    /// Every `with_*` returns a new configuration; invalid values raise `ValueError` at once.
    PyCmaEs(CmaEs), "CMAES", CmaEs,
    {
        /// Initial step size σ, relative to each parameter's scale (default 0.5).
        fn with_step_size(&self, step_size: f64) -> PyResult<Self> {
            self.set(|c| c.with_step_size(step_size))
        }

        /// Population size λ (default 4 + ⌊3 ln n⌋).
        fn with_population_size(&self, population_size: usize) -> PyResult<Self> {
            self.set(|c| c.with_population_size(population_size))
        }

        /// Seed of the random generator; the same seed gives the same result at any thread
        /// count.
        fn with_seed(&self, seed: u64) -> PyResult<Self> {
            self.set(|c| c.with_seed(seed))
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
                    return Err(PyValueError::new_err(format!(
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
                "CMAES(max_iter={}, step_size={}, population_size={}, seed={}, threshold={}, {})",
                c.max_iter(),
                c.step_size(),
                c.population_size()
                    .map_or_else(|| "default".to_owned(), |p| p.to_string()),
                c.seed()
                    .map_or_else(|| "None".to_owned(), |s| s.to_string()),
                c.threshold(),
                limits_repr(c.limits()),
            )
        }
    }
}

optimiser_class! {
    /// Adam on the objective's gradient (exact for DiffSL problems and for callables given
    /// `with_gradient`, finite differences otherwise), projected onto the bounds.
    ///
    /// Every `with_*` returns a new configuration; invalid values raise `ValueError` at once.
    PyAdam(Adam), "Adam", Adam,
    {
        /// The learning rate, in units of each parameter's scale (default 0.01).
        fn with_step_size(&self, step_size: f64) -> PyResult<Self> {
            self.set(|c| c.with_step_size(step_size))
        }

        /// The decay rates of the first and second moment estimates (default 0.9, 0.999).
        fn with_betas(&self, beta1: f64, beta2: f64) -> PyResult<Self> {
            self.set(|c| c.with_betas(beta1, beta2))
        }

        /// The term added to the root of the second moment (default 1e-8).
        fn with_eps(&self, eps: f64) -> PyResult<Self> {
            self.set(|c| c.with_eps(eps))
        }

        /// Stop when every component of the projected gradient is at most this (default 1e-6).
        fn with_gradient_tolerance(&self, tolerance: f64) -> PyResult<Self> {
            self.set(|c| c.with_gradient_tolerance(tolerance))
        }

        fn __repr__(&self) -> String {
            let c = &self.0;
            let (b1, b2) = c.betas();
            format!(
                "Adam(max_iter={}, step_size={}, betas=({b1}, {b2}), eps={}, threshold={}, {})",
                c.max_iter(),
                c.step_size(),
                c.eps(),
                c.threshold(),
                limits_repr(c.limits()),
            )
        }
    }
}

optimiser_class! {
    /// L-BFGS-B: limited-memory quasi-Newton with box bounds, on the objective's gradient
    /// (exact for DiffSL problems and for callables given `with_gradient`, finite
    /// differences otherwise). The defaults are scipy's.
    ///
    /// Every `with_*` returns a new configuration; invalid values raise `ValueError` at once.
    PyLbfgsb(Lbfgsb), "LBFGSB", Lbfgsb,
    {
        /// The number of correction pairs kept (default 10).
        fn with_memory(&self, memory: usize) -> PyResult<Self> {
            self.set(|c| c.with_memory(memory))
        }

        /// Stop when every component of the projected gradient is at most this (default 1e-5).
        fn with_gradient_tolerance(&self, tolerance: f64) -> PyResult<Self> {
            self.set(|c| c.with_gradient_tolerance(tolerance))
        }

        /// Stop when an iteration lowers the value by at most this, relative (default 2.2e-9).
        fn with_function_tolerance(&self, tolerance: f64) -> PyResult<Self> {
            self.set(|c| c.with_function_tolerance(tolerance))
        }

        /// The most trial points of one line search (default 20).
        fn with_max_line_search(&self, trials: usize) -> PyResult<Self> {
            self.set(|c| c.with_max_line_search(trials))
        }

        fn __repr__(&self) -> String {
            let c = &self.0;
            format!(
                "LBFGSB(max_iter={}, memory={}, gradient_tolerance={}, function_tolerance={}, threshold={}, {})",
                c.max_iter(),
                c.memory(),
                c.gradient_tolerance(),
                c.function_tolerance(),
                c.threshold(),
                limits_repr(c.limits()),
            )
        }
    }
}

/// The optimiser an optimiser object from Python stands for.
pub fn extract_optimiser(obj: &Bound<'_, PyAny>) -> PyResult<Arc<dyn Optimiser>> {
    if let Ok(c) = obj.downcast::<PyCmaEs>() {
        return Ok(c.get().optimiser());
    }
    if let Ok(c) = obj.downcast::<PyNelderMead>() {
        return Ok(c.get().optimiser());
    }
    if let Ok(c) = obj.downcast::<PyAdam>() {
        return Ok(c.get().optimiser());
    }
    if let Ok(c) = obj.downcast::<PyLbfgsb>() {
        return Ok(c.get().optimiser());
    }
    Err(PyTypeError::new_err(format!(
        "expected an optimiser (diffid.NelderMead(), diffid.CMAES(), diffid.Adam() or diffid.LBFGSB()), got {}",
        obj.get_type().name()?
    )))
}
