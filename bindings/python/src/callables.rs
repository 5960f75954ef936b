//! Python callables as objectives: `ScalarBuilder` (`f(x) -> float`) and `VectorBuilder`
//! (`f(params) -> predictions`, compared with data by cost metrics).

use crate::cost::extract_metric;
use crate::errors::{BuildError, EvaluationError};
use crate::problem::{extract_optimiser, table, PyProblem};
use diffid::{
    CostMetric, CostSum, FitObjective, Objective, Optimiser, Outcome, Parallelism, Parameter,
    Parameters, Problem, Simulator, Sse, TimeSeries,
};
use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What a Python objective raised, kept so the run can stop and re-raise it.
#[derive(Default)]
pub struct CallbackError {
    /// The first exception raised (or the first bad return value), with the point.
    error: Mutex<Option<(PyErr, Vec<f64>)>>,
    /// Set when an error is recorded: the run loop stops at the next iteration.
    pub cancel: Arc<AtomicBool>,
}

impl CallbackError {
    fn record(&self, err: PyErr, x: &[f64]) {
        if let Ok(mut slot) = self.error.lock() {
            if slot.is_none() {
                *slot = Some((err, x.to_vec()));
            }
        }
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// Takes the recorded error as an `EvaluationError` with the original exception as its
    /// cause and the offending point on `.point`; resets the state for the next run.
    pub fn take(&self, py: Python<'_>) -> Option<PyErr> {
        self.cancel.store(false, Ordering::SeqCst);
        let (cause, point) = self.error.lock().ok()?.take()?;
        let err = EvaluationError::new_err(format!(
            "the objective failed at {point:?}: {}",
            cause.value(py)
        ));
        err.set_cause(py, Some(cause));
        // A fresh exception instance accepts attributes; if it did not, the message still
        // carries the point.
        let _ = err.value(py).setattr("point", point);
        Some(err)
    }
}

/// Checks that `f` is callable (`shape` describes the expected signature in the error).
fn callable(f: &Bound<'_, PyAny>, shape: &str) -> PyResult<Arc<Py<PyAny>>> {
    if !f.is_callable() {
        return Err(BuildError::new_err(format!(
            "with_objective expects a callable {shape}, got {}",
            f.get_type().name()?
        )));
    }
    Ok(Arc::new(f.clone().unbind()))
}

/// `params` plus a new parameter; bad bounds, a start outside them or a repeated name raise
/// `BuildError` at once.
fn with_parameter(
    params: &Parameters,
    name: String,
    initial: f64,
    bounds: Option<(f64, f64)>,
) -> PyResult<Parameters> {
    let mut next = params.clone();
    Parameter::new(name, initial, bounds)
        .and_then(|p| next.push(p))
        .map_err(|e| BuildError::new_err(e.to_string()))?;
    Ok(next)
}

/// A Python callable as an [`Objective`]. Each evaluation takes the GIL.
struct PyObjective {
    f: Py<PyAny>,
    dim: usize,
    errors: Arc<CallbackError>,
}

impl Objective for PyObjective {
    fn dim(&self) -> usize {
        self.dim
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        if self.errors.cancel.load(Ordering::SeqCst) {
            return Outcome::Failed("the run is stopping after an objective error".to_owned());
        }
        Python::attach(|py| {
            let arg = PyArray1::from_slice(py, x);
            let value = self.f.call1(py, (arg,)).and_then(|v| {
                v.extract::<f64>(py).map_err(|_| {
                    let type_name = v
                        .bind(py)
                        .get_type()
                        .name()
                        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
                    pyo3::exceptions::PyTypeError::new_err(format!(
                        "the objective must return a float, got {type_name}"
                    ))
                })
            });
            match value {
                Ok(v) if v.is_nan() => {
                    self.errors.record(
                        pyo3::exceptions::PyValueError::new_err(
                            "the objective returned NaN; return a finite number (or inf for an infeasible point)",
                        ),
                        x,
                    );
                    Outcome::Failed("objective returned NaN".to_owned())
                }
                Ok(v) => Outcome::from_value(v),
                Err(e) => {
                    self.errors.record(e, x);
                    Outcome::Failed("the objective raised an exception".to_owned())
                }
            }
        })
    }
}

/// Builds a problem that minimises a Python callable `f(x) -> float`.
///
/// Each `with_*` returns a new builder.
#[pyclass(module = "diffid._diffid", name = "ScalarBuilder", frozen)]
#[derive(Clone, Default)]
pub struct PyScalarBuilder {
    f: Option<Arc<Py<PyAny>>>,
    params: Parameters,
    optimiser: Option<Arc<dyn Optimiser>>,
}

#[pymethods]
impl PyScalarBuilder {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// The objective: a callable taking a 1-D numpy array and returning a float.
    fn with_objective(&self, f: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            f: Some(callable(f, "f(x) -> float")?),
            ..self.clone()
        })
    }

    /// A parameter, in the order the callable's `x` receives them. Bad bounds, a start
    /// outside them or a repeated name raise `BuildError` here.
    #[pyo3(signature = (name, initial, bounds = None))]
    fn with_parameter(
        &self,
        name: String,
        initial: f64,
        bounds: Option<(f64, f64)>,
    ) -> PyResult<Self> {
        Ok(Self {
            params: with_parameter(&self.params, name, initial, bounds)?,
            ..self.clone()
        })
    }

    /// The optimiser `Problem.optimise()` uses by default.
    fn with_optimiser(&self, optimiser: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            optimiser: Some(extract_optimiser(optimiser)?),
            ..self.clone()
        })
    }

    /// Checks the parameters and returns the `Problem`.
    fn build(&self, py: Python<'_>) -> PyResult<PyProblem> {
        let f = self
            .f
            .as_ref()
            .ok_or_else(|| BuildError::new_err("no objective: add one with with_objective(f)"))?;
        let params = self.params.clone();
        let errors = Arc::new(CallbackError::default());
        let objective = PyObjective {
            f: f.clone_ref(py),
            dim: params.len(),
            errors: errors.clone(),
        };
        // Python code holds the GIL: threads would only queue for it.
        let problem = Problem::new(Arc::new(objective), params, Parallelism::Sequential)
            .with_optimiser(self.optimiser.clone());
        Ok(PyProblem::with_callback(Arc::new(problem), errors))
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}={}", p.name(), p.initial()))
            .collect();
        format!(
            "ScalarBuilder(objective={}, parameters=[{}])",
            if self.f.is_some() { "set" } else { "None" },
            parts.join(", ")
        )
    }
}

/// A Python model `f(params) -> predictions` as a [`Simulator`].
struct PySimulator {
    f: Py<PyAny>,
    n_params: usize,
    n_times: usize,
    n_outputs: usize,
    errors: Arc<CallbackError>,
}

impl Simulator for PySimulator {
    fn n_params(&self) -> usize {
        self.n_params
    }

    fn n_predictions(&self) -> usize {
        self.n_times * self.n_outputs
    }

    fn simulate(&self, params: &[f64], out: &mut [f64]) -> Result<(), String> {
        if self.errors.cancel.load(Ordering::SeqCst) {
            return Err("the run is stopping after a model error".to_owned());
        }
        Python::attach(|py| {
            let predictions = self
                .f
                .call1(py, (PyArray1::from_slice(py, params),))
                .and_then(|v| {
                    let np = py.import("numpy")?;
                    let arr = np.call_method1("ascontiguousarray", (v, "float64"))?;
                    let arr = arr.downcast::<numpy::PyArrayDyn<f64>>()?.readonly();
                    let shape = arr.shape().to_vec();
                    let fits = match shape.as_slice() {
                        [n] => *n == self.n_times && self.n_outputs == 1,
                        [n, k] => *n == self.n_times && *k == self.n_outputs,
                        _ => false,
                    };
                    if !fits {
                        return Err(pyo3::exceptions::PyValueError::new_err(format!(
                            "the model must return predictions of shape ({}, {}) (one row per data time, one column per observed output), got shape {shape:?}",
                            self.n_times, self.n_outputs
                        )));
                    }
                    Ok(arr.as_slice()?.to_vec())
                });
            match predictions {
                Ok(p) if p.iter().any(|v| v.is_nan()) => {
                    self.errors.record(
                        pyo3::exceptions::PyValueError::new_err(
                            "the model returned NaN predictions",
                        ),
                        params,
                    );
                    Err("model returned NaN".to_owned())
                }
                Ok(p) => {
                    out.copy_from_slice(&p);
                    Ok(())
                }
                Err(e) => {
                    self.errors.record(e, params);
                    Err("the model raised an exception".to_owned())
                }
            }
        })
    }
}

/// Builds a problem that fits a Python model `f(params) -> predictions` to data.
///
/// Each `with_*` returns a new builder.
#[pyclass(module = "diffid._diffid", name = "VectorBuilder", frozen)]
#[derive(Clone, Default)]
pub struct PyVectorBuilder {
    f: Option<Arc<Py<PyAny>>>,
    data: Option<Arc<TimeSeries>>,
    params: Parameters,
    costs: Vec<Box<dyn CostMetric>>,
    optimiser: Option<Arc<dyn Optimiser>>,
}

#[pymethods]
impl PyVectorBuilder {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// The model: a callable taking a 1-D numpy array of parameters and returning the
    /// predictions at the data times, shape `(times,)` or `(times, outputs)`.
    fn with_objective(&self, f: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            f: Some(callable(f, "f(params) -> predictions")?),
            ..self.clone()
        })
    }

    /// The data: a 2-D array, column 0 = time, then one column per predicted output.
    fn with_data(&self, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (rows, columns, values) = table(data)?;
        let series = TimeSeries::from_row_major(rows, columns, &values)
            .map_err(|e| BuildError::new_err(e.to_string()))?;
        Ok(Self {
            data: Some(Arc::new(series)),
            ..self.clone()
        })
    }

    /// A parameter, in the order the model's `params` receives them.
    #[pyo3(signature = (name, initial, bounds = None))]
    fn with_parameter(
        &self,
        name: String,
        initial: f64,
        bounds: Option<(f64, f64)>,
    ) -> PyResult<Self> {
        Ok(Self {
            params: with_parameter(&self.params, name, initial, bounds)?,
            ..self.clone()
        })
    }

    /// Adds a cost metric (several are summed; the default is SSE).
    fn with_cost(&self, metric: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut next = self.clone();
        next.costs.push(extract_metric(metric)?);
        Ok(next)
    }

    /// Removes every cost metric.
    fn remove_cost(&self) -> Self {
        Self {
            costs: Vec::new(),
            ..self.clone()
        }
    }

    /// The optimiser `Problem.optimise()` uses by default.
    fn with_optimiser(&self, optimiser: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            optimiser: Some(extract_optimiser(optimiser)?),
            ..self.clone()
        })
    }

    /// Checks the pieces and returns the `Problem`.
    fn build(&self, py: Python<'_>) -> PyResult<PyProblem> {
        let f = self
            .f
            .as_ref()
            .ok_or_else(|| BuildError::new_err("no model: add one with with_objective(f)"))?;
        let data = self.data.as_ref().ok_or_else(|| {
            BuildError::new_err("no data: add a 2-D array (column 0 = time) with with_data")
        })?;
        let errors = Arc::new(CallbackError::default());
        let simulator = PySimulator {
            f: f.clone_ref(py),
            n_params: self.params.len(),
            n_times: data.len(),
            n_outputs: data.n_outputs(),
            errors: errors.clone(),
        };
        let cost = if self.costs.is_empty() {
            CostSum::new(vec![Box::new(
                Sse::new(1.0).map_err(|e| BuildError::new_err(e.to_string()))?,
            )])
        } else {
            CostSum::new(self.costs.clone())
        };
        let objective = FitObjective::new(Arc::new(simulator), cost, data.observations().into());
        let problem = Problem::new(
            Arc::new(objective),
            self.params.clone(),
            Parallelism::Sequential,
        )
        .with_optimiser(self.optimiser.clone());
        Ok(PyProblem::with_callback(Arc::new(problem), errors))
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}={}", p.name(), p.initial()))
            .collect();
        format!(
            "VectorBuilder(model={}, data={}, parameters=[{}])",
            if self.f.is_some() { "set" } else { "None" },
            self.data.as_ref().map_or_else(
                || "None".to_owned(),
                |d| format!("<{} rows × {} outputs>", d.len(), d.n_outputs())
            ),
            parts.join(", ")
        )
    }
}
