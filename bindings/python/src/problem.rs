//! `DiffsolBuilder` and `Problem`.

use crate::callables::CallbackError;
use crate::cost::extract_metric;
use crate::errors::{to_py, BuildError};
use crate::optimiser::{PyCmaEs, PyNelderMead};
use crate::results::PyOptimisationResults;
use diffid::{
    Control, DiffsolBuilder, Optimiser, Parallelism, Problem, Progress, RunOptions, SolverKind,
    TimeSeries,
};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use std::sync::Arc;

/// How often a running optimisation checks for Ctrl-C.
const SIGNAL_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

/// Builds a problem that fits a DiffSL ODE model to time-series data.
///
/// Each `with_*` returns a new builder; the original is unchanged, so a base builder can be
/// reused safely.
#[pyclass(module = "diffid._diffid", name = "DiffsolBuilder", frozen)]
#[derive(Clone, Default)]
pub struct PyDiffsolBuilder {
    inner: DiffsolBuilder,
}

impl PyDiffsolBuilder {
    fn map(&self, f: impl FnOnce(DiffsolBuilder) -> DiffsolBuilder) -> Self {
        Self {
            inner: f(self.inner.clone()),
        }
    }
}

/// Converts an array-like to a contiguous row-major `(rows, columns, values)` table.
pub fn table(data: &Bound<'_, PyAny>) -> PyResult<(usize, usize, Vec<f64>)> {
    let np = data.py().import("numpy")?;
    let arr = np
        .call_method1("ascontiguousarray", (data, "float64"))
        .map_err(|e| BuildError::new_err(format!("data must be a numeric 2-D array: {e}")))?;
    let arr = arr.downcast::<numpy::PyArrayDyn<f64>>()?;
    let shape = arr.shape().to_vec();
    if shape.len() != 2 {
        return Err(BuildError::new_err(format!(
            "data must be a 2-D array (column 0 = time, then one column per model output), got a {}-D array of shape {shape:?}",
            shape.len()
        )));
    }
    let values = arr.readonly().as_slice()?.to_vec();
    Ok((shape[0], shape[1], values))
}

#[pymethods]
impl PyDiffsolBuilder {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// The model, in DiffSL.
    fn with_diffsl(&self, code: String) -> Self {
        self.map(|b| b.with_diffsl(code))
    }

    /// The data: a 2-D array, column 0 = time, then one column per model output.
    fn with_data(&self, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (rows, columns, values) = table(data)?;
        // Validate now, so a bad table is reported where it is given.
        TimeSeries::from_row_major(rows, columns, &values)
            .map_err(|e| BuildError::new_err(e.to_string()))?;
        Ok(self.map(|b| b.with_data(rows, columns, &values)))
    }

    /// Removes the data.
    fn remove_data(&self) -> Self {
        self.map(DiffsolBuilder::remove_data)
    }

    /// Fits the DiffSL input `name` (an `in_i` entry), starting at `initial`.
    #[pyo3(signature = (name, initial, bounds = None))]
    fn with_parameter(&self, name: String, initial: f64, bounds: Option<(f64, f64)>) -> Self {
        self.map(|b| b.with_parameter(name, initial, bounds))
    }

    /// Removes every fitted parameter.
    fn clear_parameters(&self) -> Self {
        self.map(DiffsolBuilder::clear_parameters)
    }

    /// Adds a cost metric (several are summed; the default is SSE).
    fn with_cost(&self, metric: &Bound<'_, PyAny>) -> PyResult<Self> {
        let metric = extract_metric(metric)?;
        Ok(self.map(|b| b.with_cost(metric)))
    }

    /// Removes every cost metric.
    fn remove_cost(&self) -> Self {
        self.map(DiffsolBuilder::remove_cost)
    }

    /// `True` (default): evaluate populations on all cores; `False`: sequentially; an int:
    /// on that many threads.
    #[pyo3(signature = (parallel = None))]
    fn with_parallel(&self, parallel: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let p = match parallel {
            None => Parallelism::Available,
            Some(v) if v.is_instance_of::<pyo3::types::PyBool>() => {
                if v.extract::<bool>()? {
                    Parallelism::Available
                } else {
                    Parallelism::Sequential
                }
            }
            Some(v) => match v.extract::<i64>() {
                Ok(n) if n >= 1 => Parallelism::Threads(n as usize),
                Ok(n) => {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "with_parallel expects True, False or a thread count >= 1, got {n}"
                    )))
                }
                Err(_) => {
                    return Err(PyTypeError::new_err(
                        "with_parallel expects True, False or a thread count",
                    ))
                }
            },
        };
        Ok(self.map(|b| b.with_parallelism(p)))
    }

    /// Evaluates populations on at most `n` threads.
    fn with_max_threads(&self, n: usize) -> PyResult<Self> {
        if n == 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "with_max_threads expects a thread count >= 1, got 0",
            ));
        }
        Ok(self.map(|b| b.with_parallelism(Parallelism::Threads(n))))
    }

    /// The integration method: `"tsit45"` (default), `"bdf"`, `"esdirk34"` or `"tr_bdf2"`.
    fn with_solver(&self, solver: &str) -> PyResult<Self> {
        let kind: SolverKind = solver.parse().map_err(|e: diffid::OdeError| {
            pyo3::exceptions::PyValueError::new_err(e.to_string())
        })?;
        Ok(self.map(|b| b.with_solver(kind)))
    }

    /// Relative and absolute tolerances (default 1e-6, 1e-8).
    fn with_tolerances(&self, rtol: f64, atol: f64) -> PyResult<Self> {
        let next = self.map(|b| b.with_tolerances(rtol, atol));
        next.inner
            .solve_options()
            .validate()
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        Ok(next)
    }

    /// The optimiser `Problem.optimise()` uses by default.
    fn with_optimiser(&self, optimiser: &Bound<'_, PyAny>) -> PyResult<Self> {
        let opt = extract_optimiser(optimiser)?;
        Ok(self.map(|b| b.with_optimiser(opt)))
    }

    /// Compiles the model, checks data and parameters, and returns the `Problem`.
    fn build(&self, py: Python<'_>) -> PyResult<PyProblem> {
        let builder = self.inner.clone();
        let problem = py.detach(|| builder.build()).map_err(to_py)?;
        Ok(PyProblem {
            inner: Arc::new(problem),
            callback: None,
        })
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}

pub fn extract_optimiser(obj: &Bound<'_, PyAny>) -> PyResult<Arc<dyn Optimiser>> {
    if let Ok(c) = obj.downcast::<PyCmaEs>() {
        return Ok(c.get().optimiser());
    }
    if let Ok(c) = obj.downcast::<PyNelderMead>() {
        return Ok(c.get().optimiser());
    }
    Err(PyTypeError::new_err(format!(
        "expected an optimiser (diffid.CMAES() or diffid.NelderMead()), got {}",
        obj.get_type().name()?
    )))
}

fn vector(x: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    let np = x.py().import("numpy")?;
    let arr = np.call_method1("ascontiguousarray", (x, "float64"))?;
    let arr = arr.downcast::<numpy::PyArrayDyn<f64>>()?;
    if arr.ndim() != 1 {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "expected a 1-D vector of parameter values, got shape {:?}",
            arr.shape()
        )));
    }
    Ok(arr.readonly().as_slice()?.to_vec())
}

/// A built problem: evaluate it, or optimise it.
#[pyclass(module = "diffid._diffid", name = "Problem", frozen)]
pub struct PyProblem {
    inner: Arc<Problem>,
    /// For Python objectives: where an exception raised inside a run is kept.
    callback: Option<Arc<CallbackError>>,
}

impl PyProblem {
    /// A problem whose objective calls Python and may record an exception.
    pub fn with_callback(inner: Arc<Problem>, callback: Arc<CallbackError>) -> Self {
        Self {
            inner,
            callback: Some(callback),
        }
    }

    /// The exception a Python objective raised during the last call, if any.
    fn callback_error(&self, py: Python<'_>) -> Option<PyErr> {
        self.callback.as_ref().and_then(|c| c.take(py))
    }
}

#[pymethods]
impl PyProblem {
    /// The objective at `x`.
    fn evaluate(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        let x = vector(x)?;
        let p = self.inner.clone();
        let value = py.detach(|| p.evaluate(&x));
        if let Some(err) = self.callback_error(py) {
            return Err(err);
        }
        value.map_err(to_py)
    }

    fn __call__(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        self.evaluate(py, x)
    }

    /// Minimises the objective. `initial` defaults to the parameters' initial values;
    /// `optimiser` defaults to the builder's, else Nelder–Mead.
    #[pyo3(signature = (initial = None, optimiser = None))]
    fn optimise(
        &self,
        py: Python<'_>,
        initial: Option<&Bound<'_, PyAny>>,
        optimiser: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyOptimisationResults> {
        let initial = initial.map(vector).transpose()?;
        let optimiser = optimiser.map(extract_optimiser).transpose()?;
        let problem = self.inner.clone();
        let names = problem.parameters().names();
        let options = RunOptions {
            cancel: self.callback.as_ref().map(|c| c.cancel.clone()),
            ..RunOptions::default()
        };
        let mut interrupt: Option<PyErr> = None;
        let result = py.detach(|| {
            // Ctrl-C is noticed by taking the GIL briefly; do it at most every 50 ms so that a
            // busy Python thread elsewhere does not slow every generation down.
            let mut last_check = std::time::Duration::ZERO;
            let mut observer = |p: &Progress| {
                if p.elapsed < last_check + SIGNAL_CHECK_INTERVAL {
                    return Control::Continue;
                }
                last_check = p.elapsed;
                #[allow(clippy::redundant_closure_for_method_calls)]
                // the closure fixes the lifetime
                let signals = Python::attach(|py| py.check_signals());
                if let Err(e) = signals {
                    interrupt = Some(e);
                    return Control::Stop;
                }
                Control::Continue
            };
            problem.optimise_observed(
                initial.as_deref(),
                optimiser.as_deref(),
                &options,
                &mut observer,
            )
        });
        if let Some(err) = self.callback_error(py) {
            return Err(err);
        }
        if let Some(err) = interrupt {
            // Keep the best result so far on the KeyboardInterrupt.
            if let Ok(r) = &result {
                let partial = Py::new(
                    py,
                    PyOptimisationResults {
                        inner: r.clone(),
                        names,
                    },
                )?;
                err.value(py).setattr("result", partial)?;
            }
            return Err(err);
        }
        let inner = result.map_err(to_py)?;
        Ok(PyOptimisationResults { inner, names })
    }

    /// The model's predictions at the data times for parameters `x` (DiffSL problems), as a
    /// `(times, outputs)` array.
    fn simulate<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = vector(x)?;
        let p = self.inner.clone();
        let out = py.detach(|| p.simulate(&x)).map_err(to_py)?;
        let cols = self.inner.ode().map_or(1, |(_, d)| d.n_outputs());
        PyArray1::from_vec(py, out).reshape([out_rows(&self.inner), cols])
    }

    /// Number of fitted parameters.
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    /// The fitted parameters' names, in order.
    fn parameters(&self) -> Vec<String> {
        self.inner.parameters().names()
    }

    /// The bounds as a list of `(lower, upper)` (infinite where unbounded).
    fn bounds(&self) -> Vec<(f64, f64)> {
        self.inner
            .parameters()
            .bounds()
            .iter()
            .map(|b| (b.lower(), b.upper()))
            .collect()
    }

    /// The parameters' initial values.
    fn initial_values<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.inner.parameters().initial())
    }

    /// The data times (DiffSL problems).
    fn times<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.inner
            .ode()
            .map(|(_, d)| PyArray1::from_slice(py, d.times()))
    }

    fn __repr__(&self) -> String {
        let p = self.inner.parameters();
        let parts: Vec<String> = p
            .iter()
            .map(|q| format!("{}={}", q.name(), q.initial()))
            .collect();
        format!(
            "Problem(parameters=[{}], parallelism={:?})",
            parts.join(", "),
            self.inner.parallelism()
        )
    }
}

fn out_rows(p: &Problem) -> usize {
    p.ode().map_or(0, |(_, d)| d.len())
}
