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

/// Every run of a multi-start optimisation (`Problem.optimise(starts=N)`), best first.
#[pyclass(module = "diffid._diffid", name = "MultiStartResults", frozen)]
pub struct PyMultiStart {
    /// The runs that produced a result, best first.
    pub results: Vec<Py<PyOptimisationResults>>,
    /// Every run's best value, best first (`inf` for a run without a result, last).
    pub values: Vec<f64>,
    /// Every run's start, in the order of `values`.
    pub initial: Vec<Vec<f64>>,
    /// Every run's place in the order the starts were drawn, in the order of `values`.
    pub indices: Vec<usize>,
    /// Runs without a result: start index and reason.
    pub failures: Vec<(usize, String)>,
    pub time: Duration,
}

impl PyMultiStart {
    /// The Python view of `runs`, parameters named `names`.
    pub fn new(py: Python<'_>, runs: &diffid::MultiStart, names: &[String]) -> PyResult<Self> {
        let mut results = Vec::new();
        let mut failures = Vec::new();
        for s in &runs.starts {
            match &s.result {
                Ok(r) => results.push(Py::new(
                    py,
                    PyOptimisationResults {
                        inner: r.clone(),
                        names: names.to_vec(),
                        solvers: None,
                    },
                )?),
                Err(reason) => failures.push((s.index, reason.clone())),
            }
        }
        Ok(Self {
            results,
            values: runs.starts.iter().map(diffid::Start::value).collect(),
            initial: runs.starts.iter().map(|s| s.initial.clone()).collect(),
            indices: runs.starts.iter().map(|s| s.index).collect(),
            failures,
            time: runs.time,
        })
    }

    fn best_result(&self, py: Python<'_>) -> PyResult<Py<PyOptimisationResults>> {
        self.results
            .first()
            .map(|r| r.clone_ref(py))
            .ok_or_else(|| {
                PyValueError::new_err("no run of this multi-start optimisation produced a result")
            })
    }
}

#[pymethods]
impl PyMultiStart {
    /// The runs that produced a result (`OptimisationResults`), best first.
    #[getter]
    fn results(&self, py: Python<'_>) -> Vec<Py<PyOptimisationResults>> {
        self.results.iter().map(|r| r.clone_ref(py)).collect()
    }
    /// The best run's result.
    #[getter]
    fn best(&self, py: Python<'_>) -> PyResult<Py<PyOptimisationResults>> {
        self.best_result(py)
    }
    /// The best run's parameters.
    #[getter]
    fn x<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(PyArray1::from_slice(
            py,
            &self.best_result(py)?.get().inner.x,
        ))
    }
    /// The best run's value.
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<f64> {
        Ok(self.best_result(py)?.get().inner.value)
    }
    /// Every run's best value, best first (`inf` for runs without a result): the waterfall.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.values)
    }
    /// Every run's start (one row each), in the order of `values`.
    #[getter]
    fn initial<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let cols = self.initial.first().map_or(0, Vec::len);
        let flat: Vec<f64> = self.initial.iter().flatten().copied().collect();
        PyArray1::from_vec(py, flat).reshape([self.initial.len(), cols])
    }
    /// Every run's place in the order the starts were drawn, in the order of `values`.
    #[getter]
    fn indices(&self) -> Vec<usize> {
        self.indices.clone()
    }
    /// Runs without a result, as `(start index, reason)`.
    #[getter]
    fn failures(&self) -> Vec<(usize, String)> {
        self.failures.clone()
    }
    /// Wall-clock time of the whole multi-start run.
    #[getter]
    fn time(&self) -> Duration {
        self.time
    }
    /// How many runs ended within `tolerance` of the best value (the best run included): the
    /// field's "converged starts".
    #[pyo3(signature = (tolerance = 0.1))]
    fn converged(&self, tolerance: f64) -> usize {
        let Some(&best) = self.values.first().filter(|v| v.is_finite()) else {
            return 0;
        };
        self.values
            .iter()
            .filter(|&&v| v <= best + tolerance)
            .count()
    }
    /// The number of runs.
    fn __len__(&self) -> usize {
        self.values.len()
    }
    /// The `i`-th best run's result.
    fn __getitem__(&self, py: Python<'_>, i: isize) -> PyResult<Py<PyOptimisationResults>> {
        let n = self.results.len() as isize;
        let k = if i < 0 { i + n } else { i };
        if k < 0 || k >= n {
            return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "run {i} out of range: {n} runs have a result"
            )));
        }
        Ok(self.results[k as usize].clone_ref(py))
    }
    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let list = pyo3::types::PyList::new(py, self.results(py))?;
        Ok(list.call_method0("__iter__")?.unbind())
    }
    fn __repr__(&self) -> String {
        let best = self
            .values
            .first()
            .map_or_else(|| "none".to_owned(), |v| format!("{v}"));
        format!(
            "MultiStartResults(runs={}, best value={best}, converged (within 0.1)={}, failed={}, time={:.3} s)",
            self.values.len(),
            self.converged(0.1),
            self.failures.len(),
            self.time.as_secs_f64()
        )
    }
}
