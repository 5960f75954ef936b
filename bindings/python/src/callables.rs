//! Python callables as objectives: `ScalarBuilder` (`f(x) -> float`) and `VectorBuilder`
//! (`f(params) -> predictions`, compared with data by cost metrics).

use crate::cluster::check_executor;
use crate::convert::{checked_prior, parameter, same_recipe, table};
use crate::cost::extract_metric;
use crate::errors::to_py;
use crate::errors::BuildError;
use crate::errors::CallbackError;
use crate::optimiser::extract_optimiser;
use crate::pickling::Recipe;
use crate::problem::PyProblem;
use diffid::{
    attach_priors, likelihood_of, split_noise, CostMetric, CostSum, Distribution, FitObjective,
    GradientOutcome, Objective, Optimiser, Outcome, Parallelism, Parameters, Problem,
    SimulationError, Simulator, Sse, TimeSeries,
};
use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::BoundObject;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `recipe` followed by `method(*args)`.
fn step<'py>(
    recipe: &Recipe,
    py: Python<'py>,
    method: &'static str,
    args: impl IntoPyObject<'py, Target = PyTuple>,
) -> PyResult<Recipe> {
    let args = args.into_pyobject(py).map_err(Into::into)?.into_bound();
    Ok(recipe.then(method, args, None))
}

/// A finite-difference step, checked.
fn fd_step(step: f64) -> PyResult<f64> {
    if step.is_finite() && step > 0.0 && step <= 0.1 {
        Ok(step)
    } else {
        Err(pyo3::exceptions::PyValueError::new_err(format!(
            "with_fd_step expects a relative step in (0, 0.1], got {step}"
        )))
    }
}

/// Checks that `f` is callable (`what` names the builder method and `shape` describes the
/// expected signature in the error).
fn callable(f: &Bound<'_, PyAny>, what: &str, shape: &str) -> PyResult<Arc<Py<PyAny>>> {
    if !f.is_callable() {
        return Err(BuildError::new_err(format!(
            "{what} expects a callable {shape}, got {}",
            f.get_type().name()?
        )));
    }
    Ok(Arc::new(f.clone().unbind()))
}

/// `params` plus a new parameter; bad bounds, a start outside them, a transform that does
/// not fit or a repeated name raise `BuildError` at once.
fn with_parameter(
    params: &Parameters,
    priors: &[(String, Distribution)],
    name: String,
    initial: f64,
    bounds: Option<(f64, f64)>,
    transform: Option<&str>,
    prior: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Parameters, Vec<(String, Distribution)>)> {
    let mut next = params.clone();
    let p = parameter(name, initial, bounds, transform)?;
    let prior = checked_prior(&p, prior)?;
    let name = p.name().to_owned();
    next.push(p)
        .map_err(|e| BuildError::new_err(e.to_string()))?;
    let mut priors = priors.to_vec();
    if let Some(d) = prior {
        priors.push((name, d));
    }
    Ok((next, priors))
}

/// The evaluation strategy of a callable problem: the executor's, or the calling thread (the
/// Python code holds the GIL, so threads would only queue for it).
fn parallelism(executor: Option<&Arc<Py<PyAny>>>) -> Parallelism {
    if executor.is_some() {
        Parallelism::Delegated
    } else {
        Parallelism::Sequential
    }
}

/// Calls `f` on every point through `executor`, in order: with `submit` when it has one
/// (each failure stays with its point), else with `map` (points after a failure are not
/// evaluated).
fn executor_map(
    py: Python<'_>,
    executor: &Py<PyAny>,
    f: &Py<PyAny>,
    points: &[Vec<f64>],
) -> Vec<PyResult<Py<PyAny>>> {
    let not_run = || {
        Err(pyo3::exceptions::PyRuntimeError::new_err(
            "not evaluated: the executor stopped at an earlier failure",
        ))
    };
    let ex = executor.bind(py);
    let args: Vec<Bound<'_, PyArray1<f64>>> =
        points.iter().map(|x| PyArray1::from_slice(py, x)).collect();
    if ex.getattr("submit").is_ok_and(|a| a.is_callable()) {
        let futures: Vec<PyResult<Bound<'_, PyAny>>> = args
            .iter()
            .map(|a| ex.call_method1("submit", (f.bind(py), a)))
            .collect();
        let mut out = Vec::with_capacity(futures.len());
        let mut interrupted = false;
        for fut in &futures {
            if interrupted {
                // Ctrl-C while waiting: cancel what has not started and stop waiting.
                if let Ok(fut) = fut {
                    let _ = fut.call_method0("cancel");
                }
                out.push(not_run());
                continue;
            }
            let r = match fut {
                Ok(fut) => fut.call_method0("result").map(Bound::unbind),
                Err(e) => Err(e.clone_ref(py)),
            };
            if let Err(e) = &r {
                interrupted = !e.is_instance_of::<pyo3::exceptions::PyException>(py);
            }
            out.push(r);
        }
        return out;
    }
    let list = pyo3::types::PyList::new(py, &args);
    let iter = list
        .and_then(|l| ex.call_method1("map", (f.bind(py), l)))
        .and_then(|it| it.try_iter());
    match iter {
        Err(e) => {
            let mut out = vec![Err(e)];
            out.extend((1..points.len()).map(|_| not_run()));
            out
        }
        Ok(mut it) => {
            let mut out = Vec::with_capacity(points.len());
            let mut failed = false;
            for _ in points {
                if failed {
                    out.push(not_run());
                    continue;
                }
                match it.next() {
                    Some(Ok(v)) => out.push(Ok(v.unbind())),
                    Some(Err(e)) => {
                        failed = true;
                        out.push(Err(e));
                    }
                    None => {
                        failed = true;
                        out.push(Err(pyo3::exceptions::PyRuntimeError::new_err(
                            "the executor's map returned fewer results than points",
                        )));
                    }
                }
            }
            out
        }
    }
}

/// A float from what a callable returned: a Python or numpy number, or a 0-d or size-1
/// numpy array (as the earlier release accepted).
fn scalar(v: &Bound<'_, PyAny>) -> PyResult<f64> {
    let not_a_number = || pyo3::exceptions::PyTypeError::new_err("not a number");
    if let Ok(arr) = v.downcast::<numpy::PyUntypedArray>() {
        // Asked before `float(v)`, which numpy deprecates for arrays of one or more dimensions.
        if arr.len() != 1 {
            return Err(not_a_number());
        }
        return scalar(&v.call_method0("item")?);
    }
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Err(not_a_number());
    }
    v.extract::<f64>().map_err(|_| not_a_number())
}

/// The type of `v`, with the shape for an array.
fn describe(v: &Bound<'_, PyAny>) -> String {
    match v.downcast::<numpy::PyUntypedArray>() {
        Ok(arr) => format!("a numpy array of shape {:?}", arr.shape()),
        Err(_) => type_name(v),
    }
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// A Python callable as an [`Objective`], with its gradient when given. Each evaluation
/// takes the GIL; with an executor, whole batches go to it.
struct PyObjective {
    f: Py<PyAny>,
    g: Option<Py<PyAny>>,
    executor: Option<Arc<Py<PyAny>>>,
    dim: usize,
    errors: Arc<CallbackError>,
    fd_step: f64,
}

impl PyObjective {
    /// The outcome of the objective's return value `value` at `x`: a float, or else an error
    /// recorded for the run to re-raise.
    fn outcome(&self, py: Python<'_>, value: PyResult<Py<PyAny>>, x: &[f64]) -> Outcome {
        let value = value.and_then(|v| {
            scalar(v.bind(py)).map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "the objective must return a float (or a numpy scalar, 0-d or size-1 array), got {}",
                    describe(v.bind(py))
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
    }

    fn stopping(&self) -> bool {
        self.errors.cancel.load(Ordering::SeqCst)
    }
}

const STOPPING: &str = "the run is stopping after an objective error";

impl Objective for PyObjective {
    fn dim(&self) -> usize {
        self.dim
    }

    fn fd_step(&self) -> f64 {
        self.fd_step
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        if self.stopping() {
            return Outcome::Failed(STOPPING.to_owned());
        }
        Python::attach(|py| {
            let value = self.f.call1(py, (PyArray1::from_slice(py, x),));
            self.outcome(py, value, x)
        })
    }

    fn evaluate_batch(&self, points: &[Vec<f64>]) -> Vec<Outcome> {
        let Some(executor) = &self.executor else {
            return points.iter().map(|x| self.evaluate(x)).collect();
        };
        if self.stopping() {
            return vec![Outcome::Failed(STOPPING.to_owned()); points.len()];
        }
        Python::attach(|py| {
            executor_map(py, executor, &self.f, points)
                .into_iter()
                .zip(points)
                .map(|(v, x)| self.outcome(py, v, x))
                .collect()
        })
    }

    fn has_gradient(&self) -> bool {
        self.g.is_some()
    }

    fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
        let Some(g) = &self.g else {
            return GradientOutcome::Failed("no gradient was given".to_owned());
        };
        if self.stopping() {
            return GradientOutcome::Failed(STOPPING.to_owned());
        }
        Python::attach(|py| {
            let arg = PyArray1::from_slice(py, x);
            let value = match self.outcome(py, self.f.call1(py, (&arg,)), x) {
                Outcome::Value(v) => v,
                Outcome::Failed(reason) => return GradientOutcome::Failed(reason),
            };
            let gradient = g.call1(py, (&arg,)).and_then(|v| {
                let (shape, g) = crate::convert::floats(v.bind(py)).map_err(|_| {
                    pyo3::exceptions::PyTypeError::new_err(format!(
                        "the gradient must be a 1-D array of {} floats, got {}",
                        self.dim,
                        type_name(v.bind(py))
                    ))
                })?;
                if shape != [self.dim] {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "the gradient must have shape ({},) (one entry per parameter), got shape {shape:?}",
                        self.dim,
                    )));
                }
                if let Some(i) = g.iter().position(|v| v.is_nan()) {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "the gradient returned NaN in entry {i}"
                    )));
                }
                Ok(g)
            });
            match gradient {
                Ok(g) => GradientOutcome::from_parts(value, g),
                Err(e) => {
                    self.errors.record(e, x);
                    GradientOutcome::Failed("the gradient raised an exception".to_owned())
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
    recipe: Recipe,
    /// The relative finite-difference step, when set.
    fd_step: Option<f64>,
    f: Option<Arc<Py<PyAny>>>,
    g: Option<Arc<Py<PyAny>>>,
    executor: Option<Arc<Py<PyAny>>>,
    params: Parameters,
    priors: Vec<(String, Distribution)>,
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
            f: Some(callable(f, "with_objective", "f(x) -> float")?),
            recipe: step(&self.recipe, f.py(), "with_objective", (f,))?,
            ..self.clone()
        })
    }

    /// The objective's gradient: a callable taking the same 1-D array and returning an array
    /// of one derivative per parameter. Gradient optimisers (Adam, L-BFGS-B) and
    /// `Problem.evaluate_gradient` use it instead of finite differences.
    fn with_gradient(&self, g: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            g: Some(callable(g, "with_gradient", "g(x) -> array")?),
            recipe: step(&self.recipe, g.py(), "with_gradient", (g,))?,
            ..self.clone()
        })
    }

    /// Evaluates each population through `executor`, any `concurrent.futures`-style
    /// executor (`ProcessPoolExecutor`, `ThreadPoolExecutor`, or anything with `submit` or
    /// `map`), so an expensive objective runs on all cores. With a process pool the objective
    /// must be picklable (a module-level function).
    fn with_executor(&self, executor: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            executor: Some(check_executor(executor)?),
            ..self.clone()
        })
    }

    /// A parameter, in the order the callable's `x` receives them, optionally within
    /// `bounds=(lower, upper)` and searched through `transform` (`"log"`, `"logit"`). Bad
    /// bounds, a start outside them, a transform that does not fit or a repeated name raise
    /// `BuildError` here. `prior` (a diffid prior, truncated to the bounds) is for sampling:
    /// the callable then returns a negative log-likelihood.
    #[pyo3(signature = (name, initial, bounds = None, transform = None, prior = None))]
    fn with_parameter(
        &self,
        py: Python<'_>,
        name: String,
        initial: f64,
        bounds: Option<(f64, f64)>,
        transform: Option<&str>,
        prior: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let recipe = step(
            &self.recipe,
            py,
            "with_parameter",
            (name.clone(), initial, bounds, transform, prior),
        )?;
        let (params, priors) = with_parameter(
            &self.params,
            &self.priors,
            name,
            initial,
            bounds,
            transform,
            prior,
        )?;
        Ok(Self {
            recipe,
            params,
            priors,
            ..self.clone()
        })
    }

    /// The relative step of finite-difference gradients (default 3e-5): the step along a
    /// parameter is `step · max(1, |value|)`, in the search space. For an objective computed
    /// by an adaptive solver of relative tolerance `rtol`, about `0.03 * sqrt(rtol)` is more
    /// accurate. Must be in (0, 0.1].
    fn with_fd_step(&self, py: Python<'_>, step: f64) -> PyResult<Self> {
        Ok(Self {
            fd_step: Some(fd_step(step)?),
            recipe: self::step(&self.recipe, py, "with_fd_step", (step,))?,
            ..self.clone()
        })
    }

    /// The optimiser `Problem.optimise()` uses by default.
    fn with_optimiser(&self, optimiser: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            optimiser: Some(extract_optimiser(optimiser)?),
            recipe: step(&self.recipe, optimiser.py(), "with_optimiser", (optimiser,))?,
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
            g: self.g.as_ref().map(|g| g.clone_ref(py)),
            executor: self.executor.clone(),
            dim: params.len(),
            errors: errors.clone(),
            fd_step: self.fd_step.unwrap_or(diffid::fd::RELATIVE_STEP),
        };
        let priors = attach_priors(&params, &self.priors).map_err(to_py)?;
        let problem = Problem::new(
            Arc::new(objective),
            params,
            parallelism(self.executor.as_ref()),
        )
        .with_optimiser(self.optimiser.clone())
        .with_priors(priors);
        let plain = Self {
            executor: None,
            ..self.clone()
        };
        Ok(PyProblem::with_callback(Arc::new(problem), errors)
            .with_builder(Py::new(py, plain)?.into_any()))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<crate::pickling::Replayed<'py>> {
        slf.get().recipe.reduce(slf.py(), slf.get_type().into_any())
    }

    fn __copy__(&self) -> Self {
        self.clone()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.clone()
    }

    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        same_recipe(slf.as_any(), other)
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = self.params.iter().map(ToString::to_string).collect();
        format!(
            "ScalarBuilder(objective={}, gradient={}, executor={}, parameters=[{}])",
            if self.f.is_some() { "set" } else { "None" },
            if self.g.is_some() { "set" } else { "None" },
            if self.executor.is_some() {
                "set"
            } else {
                "None"
            },
            parts.join(", ")
        )
    }
}

/// A Python model `f(params) -> predictions` as a [`Simulator`].
struct PySimulator {
    f: Py<PyAny>,
    executor: Option<Arc<Py<PyAny>>>,
    n_params: usize,
    n_times: usize,
    n_outputs: usize,
    errors: Arc<CallbackError>,
}

impl PySimulator {
    /// The predictions in the model's return value `value` at `params`, or an error
    /// recorded for the run to re-raise.
    fn predictions(
        &self,
        py: Python<'_>,
        value: PyResult<Py<PyAny>>,
        params: &[f64],
    ) -> Result<Vec<f64>, SimulationError> {
        let predictions = value.and_then(|v| {
            let (shape, values) = crate::convert::floats(v.bind(py))?;
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
            Ok(values)
        });
        match predictions {
            Ok(p) if p.iter().any(|v| v.is_nan()) => {
                self.errors.record(
                    pyo3::exceptions::PyValueError::new_err("the model returned NaN predictions"),
                    params,
                );
                Err(SimulationError::msg("model returned NaN"))
            }
            Ok(p) => Ok(p),
            Err(e) => {
                self.errors.record(e, params);
                Err(SimulationError::msg("the model raised an exception"))
            }
        }
    }
}

impl Simulator for PySimulator {
    fn n_params(&self) -> usize {
        self.n_params
    }

    fn n_predictions(&self) -> usize {
        self.n_times * self.n_outputs
    }

    fn simulate(&self, params: &[f64], out: &mut [f64]) -> Result<(), SimulationError> {
        if self.errors.cancel.load(Ordering::SeqCst) {
            return Err(SimulationError::msg(
                "the run is stopping (a model error, or Ctrl-C)",
            ));
        }
        Python::attach(|py| {
            let value = self.f.call1(py, (PyArray1::from_slice(py, params),));
            let p = self.predictions(py, value, params)?;
            out.copy_from_slice(&p);
            Ok(())
        })
    }

    fn simulate_batch(&self, params: &[Vec<f64>]) -> Vec<Result<Vec<f64>, SimulationError>> {
        let Some(executor) = &self.executor else {
            return diffid::simulate_each(self, params);
        };
        if self.errors.cancel.load(Ordering::SeqCst) {
            return vec![
                Err(SimulationError::msg(
                    "the run is stopping (a model error, or Ctrl-C)"
                ));
                params.len()
            ];
        }
        Python::attach(|py| {
            executor_map(py, executor, &self.f, params)
                .into_iter()
                .zip(params)
                .map(|(v, p)| self.predictions(py, v, p))
                .collect()
        })
    }
}

/// Builds a problem that fits a Python model `f(params) -> predictions` to data.
///
/// Each `with_*` returns a new builder.
#[pyclass(module = "diffid._diffid", name = "VectorBuilder", frozen)]
#[derive(Clone, Default)]
pub struct PyVectorBuilder {
    recipe: Recipe,
    /// The relative finite-difference step, when set.
    fd_step: Option<f64>,
    f: Option<Arc<Py<PyAny>>>,
    executor: Option<Arc<Py<PyAny>>>,
    config: Vec<(String, Arc<Py<PyAny>>)>,
    data: Option<Arc<TimeSeries>>,
    params: Parameters,
    priors: Vec<(String, Distribution)>,
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
            f: Some(callable(f, "with_objective", "f(params) -> predictions")?),
            recipe: step(&self.recipe, f.py(), "with_objective", (f,))?,
            ..self.clone()
        })
    }

    /// Simulates each population through `executor`, any `concurrent.futures`-style
    /// executor (`ProcessPoolExecutor`, `ThreadPoolExecutor`, or anything with `submit` or
    /// `map`). With a process pool the model must be picklable (a module-level function).
    fn with_executor(&self, executor: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            executor: Some(check_executor(executor)?),
            ..self.clone()
        })
    }

    /// The data: a 2-D array, column 0 = time, then one column per predicted output; or a
    /// 1-D array of observations of one output (the model returns predictions of the same
    /// length; their times are taken as 0, 1, 2, …).
    fn with_data(&self, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let np = data.py().import("numpy")?;
        let arr = np.call_method1("asarray", (data,))?;
        let (rows, columns, values) = if arr.getattr("ndim")?.extract::<usize>()? == 1 {
            table(&np.call_method1(
                "column_stack",
                ((np.call_method1("arange", (arr.len()?,))?, &arr),),
            )?)?
        } else {
            table(data)?
        };
        let series = TimeSeries::from_row_major(rows, columns, &values)
            .map_err(|e| BuildError::new_err(e.to_string()))?;
        // A copy of the table, so later changes to the caller's array do not change the recipe.
        let copy = PyArray1::from_slice(data.py(), &values).reshape([rows, columns])?;
        Ok(Self {
            data: Some(Arc::new(series)),
            recipe: step(&self.recipe, data.py(), "with_data", (copy,))?,
            ..self.clone()
        })
    }

    /// A parameter, in the order the model's `params` receives them, optionally within
    /// `bounds=(lower, upper)` and searched through `transform` (`"log"`, `"logit"`), with
    /// `prior` for sampling. A parameter named as a `GaussianNLL(sigma=...)` noise σ is not
    /// passed to the model.
    #[pyo3(signature = (name, initial, bounds = None, transform = None, prior = None))]
    fn with_parameter(
        &self,
        py: Python<'_>,
        name: String,
        initial: f64,
        bounds: Option<(f64, f64)>,
        transform: Option<&str>,
        prior: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let recipe = step(
            &self.recipe,
            py,
            "with_parameter",
            (name.clone(), initial, bounds, transform, prior),
        )?;
        let (params, priors) = with_parameter(
            &self.params,
            &self.priors,
            name,
            initial,
            bounds,
            transform,
            prior,
        )?;
        Ok(Self {
            recipe,
            params,
            priors,
            ..self.clone()
        })
    }

    /// Adds a cost metric (several are summed; the default is SSE).
    fn with_cost(&self, metric: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut next = self.clone();
        next.costs.push(extract_metric(metric)?);
        next.recipe = step(&self.recipe, metric.py(), "with_cost", (metric,))?;
        Ok(next)
    }

    /// Removes every cost metric.
    fn remove_cost(&self, py: Python<'_>) -> PyResult<Self> {
        Ok(Self {
            costs: Vec::new(),
            recipe: step(&self.recipe, py, "remove_cost", ())?,
            ..self.clone()
        })
    }

    /// Records a setting `key = value` with the problem (a later value for the same key
    /// replaces the earlier); `Problem.config()` returns them, e.g. for the model's own
    /// bookkeeping.
    fn with_config(&self, key: String, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut next = self.clone();
        next.recipe = step(
            &self.recipe,
            value.py(),
            "with_config",
            (key.clone(), value),
        )?;
        next.config.retain(|(k, _)| *k != key);
        next.config.push((key, Arc::new(value.clone().unbind())));
        Ok(next)
    }

    /// The relative step of finite-difference gradients (default 3e-5): the step along a
    /// parameter is `step · max(1, |value|)`, in the search space. For an objective computed
    /// by an adaptive solver of relative tolerance `rtol`, about `0.03 * sqrt(rtol)` is more
    /// accurate. Must be in (0, 0.1].
    fn with_fd_step(&self, py: Python<'_>, step: f64) -> PyResult<Self> {
        Ok(Self {
            fd_step: Some(fd_step(step)?),
            recipe: self::step(&self.recipe, py, "with_fd_step", (step,))?,
            ..self.clone()
        })
    }

    /// The optimiser `Problem.optimise()` uses by default.
    fn with_optimiser(&self, optimiser: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            optimiser: Some(extract_optimiser(optimiser)?),
            recipe: step(&self.recipe, optimiser.py(), "with_optimiser", (optimiser,))?,
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
        let cost = if self.costs.is_empty() {
            CostSum::new(vec![Box::new(
                Sse::new(1.0).map_err(|e| BuildError::new_err(e.to_string()))?,
            )])
        } else {
            CostSum::new(self.costs.clone())
        };
        cost.check_outputs(data.n_outputs())
            .map_err(|e| BuildError::new_err(e.to_string()))?;
        let layout = split_noise(&self.params, &cost).map_err(to_py)?;
        let priors = attach_priors(&self.params, &self.priors).map_err(to_py)?;
        let likelihood = likelihood_of(&cost);
        let errors = Arc::new(CallbackError::default());
        let simulator = PySimulator {
            f: f.clone_ref(py),
            executor: self.executor.clone(),
            n_params: layout.model_names.len(),
            n_times: data.len(),
            n_outputs: data.n_outputs(),
            errors: errors.clone(),
        };
        let objective = FitObjective::new(Arc::new(simulator), cost, data.observations().into())
            .with_noise(
                data.n_outputs(),
                layout.model_index.clone(),
                layout.noise_index,
            )
            .with_fd_step(self.fd_step.unwrap_or(diffid::fd::RELATIVE_STEP));
        let problem = Problem::new(
            Arc::new(objective),
            self.params.clone(),
            parallelism(self.executor.as_ref()),
        )
        .with_optimiser(self.optimiser.clone())
        .with_priors(priors)
        .with_likelihood(likelihood)
        .with_model_index(layout.model_index);
        let plain = Self {
            executor: None,
            ..self.clone()
        };
        Ok(PyProblem::with_callback(Arc::new(problem), errors)
            .with_extra(self.config.clone())
            .with_builder(Py::new(py, plain)?.into_any()))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<crate::pickling::Replayed<'py>> {
        slf.get().recipe.reduce(slf.py(), slf.get_type().into_any())
    }

    fn __copy__(&self) -> Self {
        self.clone()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.clone()
    }

    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        same_recipe(slf.as_any(), other)
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = self.params.iter().map(ToString::to_string).collect();
        format!(
            "VectorBuilder(model={}, executor={}, data={}, parameters=[{}])",
            if self.f.is_some() { "set" } else { "None" },
            if self.executor.is_some() {
                "set"
            } else {
                "None"
            },
            self.data.as_ref().map_or_else(
                || "None".to_owned(),
                |d| format!("<{} rows × {} outputs>", d.len(), d.n_outputs())
            ),
            parts.join(", ")
        )
    }
}
