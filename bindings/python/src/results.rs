//! `OptimisationResults`.

use diffid::OptimisationResult;
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::fmt::Write as _;
use std::time::Duration;

/// The result of an optimisation run, in the parameters' natural units.
#[pyclass(module = "diffid._diffid", name = "OptimisationResults", frozen)]
pub struct PyOptimisationResults {
    pub inner: OptimisationResult,
    pub names: Vec<String>,
    /// Under `solver="auto"`, how this run's solves split between the methods.
    pub solvers: Option<SolverUse>,
}

/// How one run's ODE solves split between the methods under `solver="auto"`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SolverUse {
    /// The probe's choice (`"tsit45"` or `"bdf"`).
    pub choice: String,
    pub tsit45: usize,
    pub bdf: usize,
    /// Tsit45 solves that failed and were redone with BDF.
    pub fallbacks: usize,
}

impl SolverUse {
    /// As the dict `Problem.solver_counts()` returns.
    pub fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let d = pyo3::types::PyDict::new(py);
        d.set_item("choice", &self.choice)?;
        d.set_item("tsit45", self.tsit45)?;
        d.set_item("bdf", self.bdf)?;
        d.set_item("fallbacks", self.fallbacks)?;
        Ok(d)
    }
}

impl PyOptimisationResults {
    /// A one-line summary, as `repr` shows it.
    pub fn summary(&self) -> String {
        format!(
            "OptimisationResults(x={:?}, value={}, iterations={}, evaluations={}, success={}, termination_reason='{}')",
            self.inner.x,
            self.inner.value,
            self.inner.iterations,
            self.inner.evaluations,
            if self.inner.success() { "True" } else { "False" },
            self.inner.termination.name()
        )
    }
}

#[pymethods]
impl PyOptimisationResults {
    /// The best parameters found.
    #[getter]
    fn x<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.x)
    }
    /// The objective at `x`.
    #[getter]
    fn value(&self) -> f64 {
        self.inner.value
    }
    /// Iterations (generations) completed.
    #[getter]
    fn iterations(&self) -> usize {
        self.inner.iterations
    }
    /// Objective evaluations, failed ones included.
    #[getter]
    fn evaluations(&self) -> usize {
        self.inner.evaluations
    }
    /// Evaluations that failed (ranked worst; the run went on).
    #[getter]
    fn failed_evaluations(&self) -> usize {
        self.inner.failed_evaluations
    }
    /// Wall-clock time of the run.
    #[getter]
    fn time(&self) -> Duration {
        self.inner.time
    }
    /// True only when a convergence criterion ended the run (not a limit).
    #[getter]
    fn success(&self) -> bool {
        self.inner.success()
    }
    /// Why the run stopped, in words.
    #[getter]
    fn message(&self) -> String {
        self.inner.message()
    }
    /// Why the run stopped, as a short name (`"max_iterations"`, ...).
    #[getter]
    fn termination_reason(&self) -> &'static str {
        self.inner.termination.name()
    }
    /// The final search covariance in natural units (CMA-ES: σ²C), or None.
    #[getter]
    fn covariance<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<f64>>>> {
        let n = self.inner.x.len();
        self.inner
            .covariance
            .as_ref()
            .map(|c| PyArray1::from_slice(py, c).reshape([n, n]))
            .transpose()
    }
    /// The best value after each iteration.
    #[getter]
    fn history<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.history)
    }
    /// Nelder–Mead's final simplex, best vertex first, as an `(n+1, n)` array (None for
    /// other optimisers).
    #[getter]
    fn final_simplex<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<f64>>>> {
        self.inner
            .simplex
            .as_ref()
            .map(|(vertices, _)| {
                PyArray2::from_vec2(py, vertices).map_err(|e| PyValueError::new_err(e.to_string()))
            })
            .transpose()
    }
    /// Function values at the final simplex's vertices (None for other optimisers).
    #[getter]
    fn final_simplex_values<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.inner
            .simplex
            .as_ref()
            .map(|(_, values)| PyArray1::from_slice(py, values))
    }
    /// The fitted parameters' names.
    #[getter]
    fn parameter_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn __bool__(&self) -> bool {
        self.inner.success()
    }

    fn __repr__(&self) -> String {
        self.summary()
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<crate::pickling::Reduced<'py>> {
        crate::pickling::reduce(
            py,
            "OptimisationResults",
            &(&self.inner, &self.names, &self.solvers),
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.downcast::<Self>().is_ok_and(|o| {
            let o = o.get();
            o.inner == self.inner && o.names == self.names && o.solvers == self.solvers
        })
    }

    /// Under `solver="auto"` (DiffSL problems), how this run's ODE solves split between the
    /// methods: `{"choice", "tsit45", "bdf", "fallbacks"}` as `Problem.solver_counts()` has
    /// them, counted over this run only. None for a named solver, a Python objective, a run
    /// evaluated by an executor, or ask/tell.
    #[getter]
    fn solver_counts<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, pyo3::types::PyDict>>> {
        self.solvers.as_ref().map(|s| s.to_dict(py)).transpose()
    }

    fn __copy__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __deepcopy__(slf: Py<Self>, _memo: &Bound<'_, PyAny>) -> Py<Self> {
        slf
    }

    fn __str__(&self) -> String {
        let mut s = String::from("Optimisation results\n");
        for (name, v) in self.names.iter().zip(&self.inner.x) {
            let _ = writeln!(s, "  {name:>12} = {}", number(*v));
        }
        let _ = write!(
            s,
            "  value = {}\n  iterations = {}, evaluations = {} ({} failed)\n  time = {:.3} s\n  {}",
            number(self.inner.value),
            self.inner.iterations,
            self.inner.evaluations,
            self.inner.failed_evaluations,
            self.inner.time.as_secs_f64(),
            self.inner.message()
        );
        s
    }
}

/// Six significant digits, in scientific notation when the magnitude calls for it.
fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-3..1e6).contains(&a) || !a.is_finite() {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{v:.5e}")
    }
}
