//! `DiffsolBuilder` and `Problem`.

use crate::cluster::{distribute, Remote};
use crate::convert::{
    checked_prior, diffid_ode_check, parameter, rows, same_recipe, schedule_times, table, vector,
};
use crate::cost::extract_metric;
use crate::errors::CallbackError;
use crate::errors::{to_py, BuildError};
use crate::optimiser::extract_optimiser;
use crate::pickling::Recipe;
use crate::run::{summed_counts, RunControls};
use crate::sampler::extract_sampler;
use diffid::{Backend, DiffsolBuilder, Dose, Parallelism, Problem, SolverKind, TimeSeries};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::BoundObject;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

/// The keys `DiffsolBuilder.with_config` accepts.
const CONFIG_KEYS: [&str; 7] = [
    "rtol",
    "atol",
    "solver",
    "backend",
    "max_steps",
    "parallel",
    "max_threads",
];

/// Builds a problem that fits a DiffSL ODE model to time-series data.
///
/// Each `with_*` returns a new builder; the original is unchanged, so a base builder can be
/// reused safely.
#[pyclass(module = "diffid._diffid", name = "DiffsolBuilder", frozen)]
#[derive(Clone, Default)]
pub struct PyDiffsolBuilder {
    inner: DiffsolBuilder,
    /// The calls that made this builder, for pickling.
    recipe: Recipe,
    /// Where batches are evaluated, if not here.
    remote: Option<Remote>,
}

impl PyDiffsolBuilder {
    /// This builder changed by `f`, recording the call `method(*args)` that did it.
    fn map<'py>(
        &self,
        py: Python<'py>,
        method: &'static str,
        args: impl IntoPyObject<'py, Target = PyTuple>,
        f: impl FnOnce(DiffsolBuilder) -> DiffsolBuilder,
    ) -> PyResult<Self> {
        let args = args.into_pyobject(py).map_err(Into::into)?.into_bound();
        Ok(Self {
            inner: f(self.inner.clone()),
            recipe: self.recipe.then(method, args, None),
            remote: self.remote.clone(),
        })
    }
}

/// A steady state's overrides given to `method` as a dict of input name to number.
fn steady_overrides(
    method: &str,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<(String, f64)>> {
    let mut pairs: Vec<(String, f64)> = Vec::new();
    if let Some(d) = overrides {
        for (k, v) in d.iter() {
            let name: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{method}: a steady state's overrides are a dict of input name to number"
                ))
            })?;
            let value: f64 = v.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{method}: the steady state's override of '{name}' must be a number"
                ))
            })?;
            pairs.push((name, value));
        }
    }
    Ok(pairs)
}

#[pymethods]
impl PyDiffsolBuilder {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// The model, in DiffSL.
    fn with_diffsl(&self, py: Python<'_>, code: String) -> PyResult<Self> {
        self.map(py, "with_diffsl", (code.clone(),), |b| b.with_diffsl(code))
    }

    /// The data: a 2-D array, column 0 = time, then one column per model output.
    fn with_data(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (rows, columns, values) = table(data)?;
        // Validate now, so a bad table is reported where it is given.
        TimeSeries::from_row_major(rows, columns, &values)
            .map_err(|e| BuildError::new_err(e.to_string()))?;
        // A copy, so later changes to the caller's array do not change the recipe.
        let copy = PyArray1::from_slice(py, &values).reshape([rows, columns])?;
        self.map(py, "with_data", (copy,), |b| {
            b.with_data(rows, columns, &values)
        })
    }

    /// Removes the data.
    fn remove_data(&self, py: Python<'_>) -> PyResult<Self> {
        self.map(py, "remove_data", (), DiffsolBuilder::remove_data)
    }

    /// Fits the DiffSL input `name` (an `in_i` entry), starting at `initial`, optionally
    /// within `bounds=(lower, upper)` and searched through `transform` (`"log"` for positive
    /// parameters spanning orders of magnitude, `"logit"` for bounded ones), with `prior`
    /// (a diffid prior, truncated to the bounds) for sampling. Bad bounds, a start outside
    /// them, a transform that does not fit or a prior with zero density at the start raise
    /// `BuildError` at once.
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
        let args = (name.clone(), initial, bounds, transform, prior);
        let p = parameter(name, initial, bounds, transform)?;
        let prior = checked_prior(&p, prior)?;
        let name = p.name().to_owned();
        self.map(py, "with_parameter", args, |b| {
            let b = b.with_parameter_spec(p);
            match prior {
                Some(d) => b.with_prior(name, d),
                None => b,
            }
        })
    }

    /// Removes every fitted parameter.
    fn clear_parameters(&self, py: Python<'_>) -> PyResult<Self> {
        self.map(py, "clear_parameters", (), DiffsolBuilder::clear_parameters)
    }

    /// Adds a cost metric (several are summed; the default is SSE).
    fn with_cost(&self, py: Python<'_>, metric: &Bound<'_, PyAny>) -> PyResult<Self> {
        let cost = extract_metric(metric)?;
        self.map(py, "with_cost", (metric,), |b| b.with_cost(cost))
    }

    /// Removes every cost metric.
    fn remove_cost(&self, py: Python<'_>) -> PyResult<Self> {
        self.map(py, "remove_cost", (), DiffsolBuilder::remove_cost)
    }

    /// `True` (also when called with no argument): evaluate populations on all cores;
    /// `False`: sequentially; an int: on that many threads.
    #[pyo3(signature = (flag = None))]
    fn with_parallel(&self, py: Python<'_>, flag: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let p = match flag {
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
        self.map(py, "with_parallel", (flag,), |b| b.with_parallelism(p))
    }

    /// Evaluates populations on at most `n` threads.
    fn with_max_threads(&self, py: Python<'_>, n: usize) -> PyResult<Self> {
        if n == 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "with_max_threads expects a thread count >= 1, got 0",
            ));
        }
        self.map(py, "with_max_threads", (n,), |b| {
            b.with_parallelism(Parallelism::Threads(n))
        })
    }

    /// The integration method: `"auto"` (default: a probe solve at the initial parameters
    /// picks BDF for a stiff model, else Tsit45 with BDF redoing any candidate it fails at),
    /// `"tsit45"`, `"bdf"`, `"esdirk34"` or `"tr_bdf2"`.
    fn with_solver(&self, py: Python<'_>, solver: &str) -> PyResult<Self> {
        let kind: SolverKind = solver.parse().map_err(|e: diffid::OdeError| {
            pyo3::exceptions::PyValueError::new_err(e.to_string())
        })?;
        self.map(py, "with_solver", (solver,), |b| b.with_solver(kind))
    }

    /// The linear algebra of the implicit solvers: `"dense"` (default) or `"sparse"` (for
    /// large systems whose states interact locally).
    fn with_backend(&self, py: Python<'_>, backend: &str) -> PyResult<Self> {
        let b: Backend = backend.parse().map_err(|e: diffid::OdeError| {
            pyo3::exceptions::PyValueError::new_err(e.to_string())
        })?;
        self.map(py, "with_backend", (backend,), |x| x.with_backend(b))
    }

    /// Relative and absolute tolerances (default 1e-6, 1e-8).
    fn with_tolerances(&self, py: Python<'_>, rtol: f64, atol: f64) -> PyResult<Self> {
        let next = self.map(py, "with_tolerances", (rtol, atol), |b| {
            b.with_tolerances(rtol, atol)
        })?;
        next.inner
            .solve_options()
            .validate()
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        Ok(next)
    }

    /// The optimiser `Problem.optimise()` uses by default.
    fn with_optimiser(&self, py: Python<'_>, optimiser: &Bound<'_, PyAny>) -> PyResult<Self> {
        let opt = extract_optimiser(optimiser)?;
        self.map(py, "with_optimiser", (optimiser,), |b| {
            b.with_optimiser(opt)
        })
    }

    /// The time the model's initial conditions (`u_i`) hold at, when not 0: the model starts
    /// there. Data times before it raise `BuildError` at build.
    fn with_t0(&self, py: Python<'_>, t0: f64) -> PyResult<Self> {
        self.map(py, "with_t0", (t0,), |b| b.with_t0(t0))
    }

    /// A bolus of `amount` added to state `state` (a `u_i` name) at `time`. `time` may be a
    /// list of increasing times (a repeated dosing schedule), with `amount` one number or one
    /// per time. The integration stops exactly at each dose and restarts; a prediction at the
    /// dose's own time is taken just before the dose. An unknown state, or a time before the
    /// start or after the last data time, raises `BuildError` at build.
    fn with_dose(
        &self,
        py: Python<'_>,
        time: &Bound<'_, PyAny>,
        state: &str,
        amount: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let times = schedule_times(time, "with_dose time")?;
        diffid_ode_check("dose", &times)?;
        let amounts = schedule_times(amount, "with_dose amount")?;
        let amounts = match amounts.len() {
            1 => vec![amounts[0]; times.len()],
            n if n == times.len() => amounts,
            n => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "with_dose got {} time(s) and {n} amounts; give one amount, or one per time",
                    times.len()
                )))
            }
        };
        let doses: Vec<Dose> = times
            .iter()
            .zip(&amounts)
            .map(|(&t, &a)| Dose::new(t, state, a))
            .collect();
        self.map(py, "with_dose", (time, state, amount), |b| {
            b.with_doses(doses)
        })
    }

    /// An experimental condition: its own `data` (a 2-D array, column 0 = time, then one
    /// column per model output) and the values its inputs take in it, `overrides` — a dict of
    /// input name to a number, or to the name of a declared parameter (fitted). Parameters
    /// named like inputs set them in every condition that does not override them. One
    /// compiled model serves every condition; the objective is the sum of the conditions'
    /// costs, with exact gradients. Use conditions instead of `with_data`.
    #[pyo3(signature = (name, data, overrides = None))]
    fn with_condition(
        &self,
        py: Python<'_>,
        name: &str,
        data: &Bound<'_, PyAny>,
        overrides: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let (rows, columns, values) = table(data)?;
        TimeSeries::from_row_major(rows, columns, &values)
            .map_err(|e| BuildError::new_err(format!("condition '{name}': {e}")))?;
        let pairs = input_overrides(name, overrides)?;
        let copy = PyArray1::from_slice(py, &values).reshape([rows, columns])?;
        self.map(py, "with_condition", (name, copy, overrides), |b| {
            b.with_condition(name, rows, columns, &values, pairs)
        })
    }

    /// An experiment given as measurement rows: `measurements` is a sequence of
    /// `(time, output, value, sigma)` — `output` a model output's name, `sigma` the noise's
    /// σ: a number, or a name (a declared parameter, else a model output computing it).
    /// Rows may repeat a time and measure any subset of the outputs; each is scored by its
    /// output's noise model (`with_noise_model`; default normal on the linear scale), so the
    /// objective is the negative log-likelihood. `overrides` as in `with_condition`. Use
    /// experiments instead of `with_data`, `with_condition` and `with_cost`.
    /// `steady_state` (a dict of input overrides, as `with_steady_state`; `{}` for none)
    /// starts this experiment from the steady state under its inputs with those overrides:
    /// a pre-equilibration of its own. Measurements at the start time of an experiment
    /// with `steady_state={}` measure the steady state itself.
    #[pyo3(signature = (name, measurements, overrides = None, steady_state = None))]
    fn with_experiment(
        &self,
        py: Python<'_>,
        name: &str,
        measurements: &Bound<'_, PyAny>,
        overrides: Option<&Bound<'_, PyDict>>,
        steady_state: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let pairs = input_overrides(name, overrides)?;
        let steady = match steady_state {
            None => None,
            Some(d) => Some(steady_overrides("with_experiment", Some(d))?),
        };
        let items: Vec<Bound<'_, PyAny>> = measurements.try_iter()?.collect::<PyResult<_>>()?;
        let mut rows = Vec::with_capacity(items.len());
        for (n, item) in items.iter().enumerate() {
            let bad = || {
                PyTypeError::new_err(format!(
                    "experiment '{name}': measurement {n} must be (time, output, value, sigma) with sigma a number or a name"
                ))
            };
            let (time, output, value, sigma): (f64, String, f64, Bound<'_, PyAny>) =
                item.extract().map_err(|_| bad())?;
            let sigma = if let Ok(v) = sigma.extract::<f64>() {
                diffid::Sigma::Value(v)
            } else if let Ok(s) = sigma.extract::<String>() {
                diffid::Sigma::Named(s)
            } else {
                return Err(bad());
            };
            rows.push(diffid::Measurement::new(time, output, value, sigma));
        }
        let stored = pyo3::types::PyList::new(py, items)?;
        self.map(
            py,
            "with_experiment",
            (name, stored, overrides, steady_state),
            |b| {
                let b = b.with_experiment(name, rows, pairs);
                match steady {
                    None => b,
                    Some(s) => b.with_experiment_steady_state(name, s),
                }
            },
        )
    }

    /// The noise model of `output`'s measurements in experiments: `transform` the scale the
    /// noise acts on (`"lin"`, `"log"`, `"log10"`: the observable's transformation) and
    /// `distribution` (`"normal"` or `"laplace"`), with `PEtab`'s conventions.
    #[pyo3(signature = (output, transform = "lin", distribution = "normal"))]
    fn with_noise_model(
        &self,
        py: Python<'_>,
        output: &str,
        transform: &str,
        distribution: &str,
    ) -> PyResult<Self> {
        let scale: diffid::NoiseScale = transform
            .parse()
            .map_err(pyo3::exceptions::PyValueError::new_err)?;
        let dist: diffid::NoiseDistribution = distribution
            .parse()
            .map_err(pyo3::exceptions::PyValueError::new_err)?;
        self.map(
            py,
            "with_noise_model",
            (output, transform, distribution),
            |b| b.with_noise_model(output, scale, dist),
        )
    }

    /// Times at which the model's right-hand side switches (an input written with
    /// `heaviside(t - t_s)`, an infusion that ends): the integration stops exactly at each
    /// and restarts there instead of stepping over the switch.
    fn with_breakpoints(&self, py: Python<'_>, times: &Bound<'_, PyAny>) -> PyResult<Self> {
        let t = schedule_times(times, "with_breakpoints")?;
        diffid_ode_check("breakpoint", &t)?;
        self.map(py, "with_breakpoints", (times,), |b| b.with_breakpoints(t))
    }

    /// Start from a steady state (pre-equilibration): before the experiment the state is
    /// brought to the model's steady state under its inputs with `overrides` (a dict of
    /// input name to value, e.g. `{"stimulus": 0.0}`) applied, from `u_i` as the guess —
    /// Newton's method, with integration as the fallback — and the experiment starts there
    /// under the model's own inputs. Gradients stay exact. A candidate without a reachable
    /// steady state is a failed evaluation with the reason; an unknown input name raises
    /// `BuildError` at build.
    #[pyo3(signature = (overrides = None))]
    fn with_steady_state(
        &self,
        py: Python<'_>,
        overrides: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let pairs = steady_overrides("with_steady_state", overrides)?;
        self.map(py, "with_steady_state", (overrides,), |b| {
            b.with_steady_state(pairs)
        })
    }

    /// The step budget of one solve (default 100 000); a solve that needs more fails.
    fn with_max_steps(&self, py: Python<'_>, max_steps: usize) -> PyResult<Self> {
        if max_steps == 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "with_max_steps expects a step budget >= 1, got 0",
            ));
        }
        self.map(py, "with_max_steps", (max_steps,), |b| {
            b.with_max_steps(max_steps)
        })
    }

    /// Several settings at once from a dict: `rtol`, `atol`, `solver`, `backend`,
    /// `max_steps`, `parallel` and `max_threads`, each as its `with_*` method takes it.
    /// An unknown key raises `ValueError` listing the known ones.
    fn with_config(&self, py: Python<'_>, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut next = self.clone();
        for (k, v) in config.iter() {
            let key: String = k
                .extract()
                .map_err(|_| PyTypeError::new_err("with_config expects a dict with string keys"))?;
            next = match key.as_str() {
                "rtol" => {
                    let atol = next.inner.solve_options().atol;
                    next.with_tolerances(py, v.extract()?, atol)?
                }
                "atol" => {
                    let rtol = next.inner.solve_options().rtol;
                    next.with_tolerances(py, rtol, v.extract()?)?
                }
                "solver" => next.with_solver(py, &v.extract::<String>()?)?,
                "backend" => next.with_backend(py, &v.extract::<String>()?)?,
                "max_steps" => next.with_max_steps(py, v.extract()?)?,
                "parallel" => next.with_parallel(py, Some(&v))?,
                "max_threads" => next.with_max_threads(py, v.extract()?)?,
                other => {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "unknown config key '{other}'; the known keys are {}",
                        CONFIG_KEYS.join(", ")
                    )))
                }
            };
        }
        Ok(next)
    }

    /// Evaluates each batch (a CMA-ES generation, an ensemble half, a nested-sampling batch)
    /// through `executor`: a `concurrent.futures` executor (`ProcessPoolExecutor`, mpi4py's
    /// `MPIPoolExecutor`), a `dask.distributed.Client` or a pool with `map` (multiprocessing,
    /// Ray). The batch is split into one chunk per worker; each worker builds the problem once
    /// (compiling the model) and evaluates its chunk in Rust on `threads_per_worker` threads.
    /// Results are bit-identical to a local run.
    #[pyo3(signature = (executor, *, threads_per_worker = 1))]
    fn with_executor(
        &self,
        executor: &Bound<'_, PyAny>,
        threads_per_worker: usize,
    ) -> PyResult<Self> {
        Ok(Self {
            remote: Some(Remote::new(executor, threads_per_worker)?),
            ..self.clone()
        })
    }

    /// Compiles the model, checks data and parameters, and returns the `Problem`.
    fn build(slf: &Bound<'_, Self>) -> PyResult<PyProblem> {
        let py = slf.py();
        let this = slf.get();
        let builder = this.inner.clone();
        let problem = py.detach(|| builder.build()).map_err(to_py)?;
        // The problem pickles as this builder, less the executor.
        let plain = Self {
            remote: None,
            ..this.clone()
        };
        let problem =
            PyProblem::built(Arc::new(problem)).with_builder(Py::new(py, plain)?.into_any());
        match &this.remote {
            Some(remote) => distribute(py, &problem, remote),
            None => Ok(problem),
        }
    }

    fn __repr__(&self) -> String {
        let repr = format!("{:?}", self.inner);
        match &self.remote {
            Some(_) => format!("{}, executor=set)", repr.trim_end_matches(')')),
            None => repr,
        }
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
}

/// A condition's or experiment's `overrides` dict: input name to a number or a parameter
/// name.
fn input_overrides(
    name: &str,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<(String, diffid::Override)>> {
    let mut pairs = Vec::new();
    if let Some(d) = overrides {
        for (k, v) in d.iter() {
            let input: String = k.extract().map_err(|_| {
                PyTypeError::new_err("overrides must be a dict with string keys (input names)")
            })?;
            let o = if let Ok(p) = v.extract::<String>() {
                diffid::Override::Parameter(p)
            } else if let Ok(x) = v.extract::<f64>() {
                diffid::Override::Value(x)
            } else {
                return Err(PyTypeError::new_err(format!(
                    "condition '{name}': the override of '{input}' must be a number or a parameter name"
                )));
            };
            pairs.push((input, o));
        }
    }
    Ok(pairs)
}

/// A built problem: evaluate it, or optimise it.
///
/// A problem made by a builder remembers the builder (less its executor): it pickles as that
/// builder and, unpickled, is built again at its first use (never while unpickling, since
/// Dask unpickles to hash), DiffSL models from a per-process cache so that a worker compiles
/// each model once.
#[pyclass(module = "diffid._diffid", name = "Problem", frozen)]
pub struct PyProblem {
    pub(crate) built: OnceLock<Built>,
    /// The builder that made the problem, without its executor; `None` for problems made
    /// another way (which do not pickle).
    pub(crate) builder: Option<Py<PyAny>>,
}

/// What a built problem holds.
#[derive(Clone)]
pub struct Built {
    /// The problem.
    pub inner: Arc<Problem>,
    /// For Python objectives: where an exception raised inside a run is kept.
    pub errors: Option<Arc<CallbackError>>,
    /// Settings recorded with the problem by `VectorBuilder.with_config`.
    pub extra: Vec<(String, Arc<Py<PyAny>>)>,
}

/// The most DiffSL problems the per-process cache of unpickled problems keeps.
const CACHE_SIZE: usize = 16;

/// Unpickled DiffSL problems, keyed by their builder's pickle: a worker that receives the
/// same problem with every task compiles its model once.
static COMPILED: Mutex<VecDeque<(Vec<u8>, Built)>> = Mutex::new(VecDeque::new());

impl PyProblem {
    /// A problem built now.
    pub fn built(inner: Arc<Problem>) -> Self {
        Self::from_built(
            Built {
                inner,
                errors: None,
                extra: Vec::new(),
            },
            None,
        )
    }

    /// A problem whose objective calls Python and may record an exception.
    pub fn with_callback(inner: Arc<Problem>, callback: Arc<CallbackError>) -> Self {
        Self::from_built(
            Built {
                inner,
                errors: Some(callback),
                extra: Vec::new(),
            },
            None,
        )
    }

    fn from_built(built: Built, builder: Option<Py<PyAny>>) -> Self {
        Self {
            built: OnceLock::from(built),
            builder,
        }
    }

    /// The same problem with user settings recorded (returned by `Problem.config()`).
    #[must_use]
    pub fn with_extra(self, extra: Vec<(String, Arc<Py<PyAny>>)>) -> Self {
        let mut built = self.built.into_inner();
        if let Some(b) = built.as_mut() {
            b.extra = extra;
        }
        Self {
            built: built.map_or_else(OnceLock::new, OnceLock::from),
            builder: self.builder,
        }
    }

    /// The same problem, remembering `builder` (without its executor) for pickling.
    #[must_use]
    pub fn with_builder(mut self, builder: Py<PyAny>) -> Self {
        self.builder = Some(builder);
        self
    }

    /// A problem to be built from `builder` at its first use.
    pub fn lazy(builder: Py<PyAny>) -> Self {
        Self {
            built: OnceLock::new(),
            builder: Some(builder),
        }
    }

    /// The builder this problem pickles as, if any.
    pub fn builder(&self) -> Option<&Py<PyAny>> {
        self.builder.as_ref()
    }

    /// The problem, built now if it was unpickled and not used yet.
    pub fn get(&self, py: Python<'_>) -> PyResult<&Built> {
        if let Some(b) = self.built.get() {
            return Ok(b);
        }
        let builder = self.builder.as_ref().ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("this problem has no builder to build it")
        })?;
        let b = builder.bind(py);
        let cacheable = b.downcast::<PyDiffsolBuilder>().is_ok();
        let key: Option<Vec<u8>> = if cacheable {
            Some(
                py.import("pickle")?
                    .call_method1("dumps", (b,))?
                    .extract()?,
            )
        } else {
            None
        };
        let cached = key.as_ref().and_then(|k| {
            COMPILED
                .lock()
                .ok()
                .and_then(|c| c.iter().find(|(ck, _)| ck == k).map(|(_, v)| v.clone()))
        });
        let made = if let Some(made) = cached {
            made
        } else {
            let problem = b.call_method0("build")?;
            let problem = problem.downcast::<PyProblem>()?;
            let made = problem.get().get(py)?.clone();
            if let (Some(k), Ok(mut cache)) = (key, COMPILED.lock()) {
                if cache.len() >= CACHE_SIZE {
                    cache.pop_front();
                }
                cache.push_back((k, made.clone()));
            }
            made
        };
        let _ = self.built.set(made);
        self.built.get().ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("the problem could not be built")
        })
    }

    /// The Rust problem (built now if needed).
    pub fn inner(&self, py: Python<'_>) -> PyResult<Arc<Problem>> {
        Ok(self.get(py)?.inner.clone())
    }

    /// The exception a Python objective raised during the last call, if any.
    pub(crate) fn callback_error(&self, py: Python<'_>) -> Option<PyErr> {
        self.built
            .get()
            .and_then(|b| b.errors.as_ref())
            .and_then(|c| c.take(py))
    }
}

#[pymethods]
impl PyProblem {
    /// The objective at `x`.
    fn evaluate(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        let x = vector(x)?;
        let p = self.inner(py)?;
        let value = py.detach(|| p.evaluate(&x));
        if let Some(err) = self.callback_error(py) {
            return Err(err);
        }
        value.map_err(to_py)
    }

    fn __call__(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        self.evaluate(py, x)
    }

    /// The gradient of the objective at `x`: exact for DiffSL problems (forward
    /// sensitivities) and for callables given `with_gradient`, central finite differences
    /// otherwise.
    fn evaluate_gradient<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = vector(x)?;
        let p = self.inner(py)?;
        let g = py.detach(|| p.evaluate_gradient(&x));
        if let Some(err) = self.callback_error(py) {
            return Err(err);
        }
        Ok(PyArray1::from_vec(py, g.map_err(to_py)?))
    }

    /// Whether `evaluate_gradient` (and the gradient optimisers) get exact gradients rather
    /// than finite differences.
    fn has_exact_gradient(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.inner(py)?.has_exact_gradient())
    }

    /// Minimises the objective. `initial` defaults to the parameters' initial values;
    /// `optimiser` defaults to the builder's, else Nelder–Mead. `callback(progress)` is
    /// called after every iteration (a `Progress`: `iteration`, `evaluations`, `best_value`,
    /// `best_x`, `elapsed`) and stops the run by returning True; `progress=True` prints a live
    /// line (iteration, evaluations, best value, evaluation rate) to stderr.
    /// `checkpoint=path` saves the optimiser's state there every `checkpoint_interval`
    /// seconds (0: after every batch) and when the run ends; `resume=True` goes on from the
    /// file's state when the file exists, to the result the uninterrupted run would give, bit
    /// for bit. A checkpoint of another run, or a damaged one, raises `CheckpointError`.
    ///
    /// `starts=N` runs a multi-start optimisation instead: N runs of the optimiser, each from
    /// a point drawn at random within the bounds (log-uniformly for a log-transformed
    /// parameter), seeded by `seed`, spread over the problem's threads one run per thread
    /// (the result does not depend on the thread count); it returns a `MultiStartResults`
    /// with every run, best first. `progress=True` prints a line as runs end; Ctrl-C stops
    /// every run and raises `KeyboardInterrupt` with the runs so far on `.result`. Every
    /// parameter needs finite bounds; `initial`, `callback` and `checkpoint` do not apply.
    #[pyo3(signature = (
        initial = None, optimiser = None, *, callback = None, progress = false,
        checkpoint = None, checkpoint_interval = 60.0, resume = false, starts = None, seed = 0
    ))]
    #[allow(clippy::too_many_arguments)] // the keyword arguments of one Python method
    fn optimise(
        &self,
        py: Python<'_>,
        initial: Option<&Bound<'_, PyAny>>,
        optimiser: Option<&Bound<'_, PyAny>>,
        callback: Option<Py<PyAny>>,
        progress: bool,
        checkpoint: Option<std::path::PathBuf>,
        checkpoint_interval: f64,
        resume: bool,
        starts: Option<usize>,
        seed: u64,
    ) -> PyResult<Py<PyAny>> {
        let optimiser = optimiser.map(extract_optimiser).transpose()?;
        if let Some(starts) = starts {
            let clash = [
                (initial.is_some(), "initial"),
                (callback.is_some(), "callback"),
                (checkpoint.is_some(), "checkpoint"),
            ];
            if let Some((_, name)) = clash.iter().find(|(given, _)| *given) {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "optimise(starts=...) draws its own starting points and runs in parallel; \
                     {name}= cannot be combined with it"
                )));
            }
            return self
                .run_starts(py, optimiser.as_ref(), starts, seed, progress)
                .map(Py::into_any);
        }
        self.run_optimiser(
            py,
            initial,
            optimiser.as_ref(),
            RunControls::new(callback, progress, checkpoint, checkpoint_interval, resume)?,
        )
    }

    /// Samples the posterior: the objective is the negative log-likelihood (use
    /// `GaussianNLL`), the priors are the parameters' (`prior=`, else uniform on finite
    /// bounds). `initial` defaults to the parameters' initial values, `sampler` to
    /// `MetropolisHastings()`. `callback` and `progress` work as in `optimise`; Ctrl-C stops
    /// the run and raises `KeyboardInterrupt` with the draws so far on `.result`.
    /// `checkpoint`, `checkpoint_interval` and `resume` work as in `optimise`.
    #[pyo3(signature = (
        initial = None, sampler = None, *, callback = None, progress = false,
        checkpoint = None, checkpoint_interval = 60.0, resume = false
    ))]
    #[allow(clippy::too_many_arguments)] // the keyword arguments of one Python method
    fn sample(
        &self,
        py: Python<'_>,
        initial: Option<&Bound<'_, PyAny>>,
        sampler: Option<&Bound<'_, PyAny>>,
        callback: Option<Py<PyAny>>,
        progress: bool,
        checkpoint: Option<std::path::PathBuf>,
        checkpoint_interval: f64,
        resume: bool,
    ) -> PyResult<Py<PyAny>> {
        let sampler = sampler.map(extract_sampler).transpose()?;
        let (choice, remote) = match sampler {
            Some((c, r)) => (Some(c), r),
            None => (None, None),
        };
        self.run_sampler(
            py,
            initial,
            choice.as_ref(),
            remote.as_ref(),
            RunControls::new(callback, progress, checkpoint, checkpoint_interval, resume)?,
        )
    }

    /// The log-prior density at `x` (`-inf` outside the prior's support).
    fn log_prior(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        self.inner(py)?.log_prior(&vector(x)?).map_err(to_py)
    }

    /// The log-likelihood at `x`: minus the objective, for likelihood costs.
    fn log_likelihood(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        let x = vector(x)?;
        let p = self.inner(py)?;
        let v = py.detach(|| p.log_likelihood(&x));
        if let Some(err) = self.callback_error(py) {
            return Err(err);
        }
        v.map_err(to_py)
    }

    /// The unnormalised log-posterior at `x` (log-likelihood + log-prior; `-inf` outside the
    /// prior's support, where the likelihood is not evaluated).
    fn log_posterior(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        let x = vector(x)?;
        let p = self.inner(py)?;
        let v = py.detach(|| p.log_posterior(&x));
        if let Some(err) = self.callback_error(py) {
            return Err(err);
        }
        v.map_err(to_py)
    }

    /// The parameters' priors (a diffid prior each, or None where a parameter has neither a
    /// prior nor finite bounds; bounds alone mean a uniform prior). Truncation to the bounds is
    /// applied when sampling.
    fn priors(&self, py: Python<'_>) -> PyResult<Vec<Option<Py<PyAny>>>> {
        self.inner(py)?
            .priors()
            .into_iter()
            .map(|p| {
                p.map(|p| crate::sampler::prior_object(py, p.distribution()))
                    .transpose()
            })
            .collect()
    }

    /// The data (DiffSL problems): a `(times, 1 + outputs)` array, column 0 = time; for a
    /// problem of several conditions, `condition` names whose.
    #[pyo3(signature = (condition = None))]
    fn data<'py>(
        &self,
        py: Python<'py>,
        condition: Option<&str>,
    ) -> PyResult<Option<Bound<'py, PyArray2<f64>>>> {
        let inner = self.inner(py)?;
        let Some(d) = inner.condition_data(condition).map_err(to_py)? else {
            return Ok(None);
        };
        let cols = d.n_outputs() + 1;
        let mut table = Vec::with_capacity(d.len() * cols);
        for (i, t) in d.times().iter().enumerate() {
            table.push(*t);
            table.extend_from_slice(&d.observations()[i * d.n_outputs()..(i + 1) * d.n_outputs()]);
        }
        Ok(Some(
            PyArray1::from_vec(py, table).reshape([d.len(), cols])?,
        ))
    }

    /// The model's outputs for parameters `x` (DiffSL problems), as a `(times, outputs)`
    /// array: at the data times, or at any `times` (increasing, not before the model's start;
    /// by the solver's dense output). For a problem of several conditions, `condition` names
    /// the one to simulate (its data times, its inputs).
    #[pyo3(signature = (x, times = None, condition = None))]
    fn simulate<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'_, PyAny>,
        times: Option<&Bound<'_, PyAny>>,
        condition: Option<&str>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = vector(x)?;
        let p = self.inner(py)?;
        let cols = p
            .simulators()
            .first()
            .map_or(1, |sim| sim.model().n_outputs());
        if let Some(name) = condition {
            let t = times.map(vector).transpose()?;
            let (out, rows) = py
                .detach(|| p.simulate_condition(name, &x, t.as_deref()))
                .map_err(to_py)?;
            return PyArray1::from_vec(py, out).reshape([rows, cols]);
        }
        match times {
            None => {
                let out = py.detach(|| p.simulate(&x)).map_err(to_py)?;
                PyArray1::from_vec(py, out).reshape([out_rows(&p), cols])
            }
            Some(t) => {
                let t = vector(t)?;
                let rows = t.len();
                let out = py.detach(|| p.simulate_at(&x, &t)).map_err(to_py)?;
                PyArray1::from_vec(py, out).reshape([rows, cols])
            }
        }
    }

    /// The problem's settings as a dict: for DiffSL problems `rtol`, `atol`, `solver`,
    /// `backend`, `max_steps`, `t0`, `doses` (a list of `(time, state, amount)`),
    /// `breakpoints` and `steady_state` (the overrides dict, or None); for every problem `parallel` (True: all cores, False:
    /// sequential, an int: that many threads, "executor": a `concurrent.futures` executor);
    /// plus what `VectorBuilder.with_config` recorded.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let inner = self.inner(py)?;
        if let Some(sim) = inner.simulators().first() {
            let o = sim.options();
            d.set_item("rtol", o.rtol)?;
            d.set_item("atol", o.atol)?;
            d.set_item("solver", o.solver.name())?;
            d.set_item("backend", o.backend.name())?;
            d.set_item("max_steps", o.max_steps)?;
            d.set_item("t0", sim.start())?;
            let doses: Vec<(f64, String, f64)> = sim
                .doses()
                .iter()
                .map(|d| (d.time, d.state.clone(), d.amount))
                .collect();
            d.set_item("doses", doses)?;
            d.set_item("breakpoints", sim.breakpoints().to_vec())?;
            match sim.steady_state() {
                None => d.set_item("steady_state", py.None())?,
                Some(o) => {
                    let overrides = PyDict::new(py);
                    for (k, v) in o {
                        overrides.set_item(k, v)?;
                    }
                    d.set_item("steady_state", overrides)?;
                }
            }
        }
        match self.inner(py)?.parallelism() {
            Parallelism::Sequential => d.set_item("parallel", false)?,
            Parallelism::Available => d.set_item("parallel", true)?,
            Parallelism::Threads(n) => d.set_item("parallel", n)?,
            Parallelism::Delegated => d.set_item("parallel", "executor")?,
        }
        for (k, v) in &self.get(py)?.extra {
            d.set_item(k, v.bind(py))?;
        }
        Ok(d)
    }

    /// For a problem of experiments (`with_experiment`): the model's prediction for every
    /// measurement at `x`, as a dict of experiment name to a 1-D array in the order the
    /// measurements were given.
    fn simulate_measurements<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let x = vector(x)?;
        let p = self.inner(py)?;
        let sims = py.detach(|| p.simulate_measurements(&x)).map_err(to_py)?;
        let d = PyDict::new(py);
        for (name, values) in sims {
            d.set_item(name, PyArray1::from_vec(py, values))?;
        }
        Ok(d)
    }

    /// The names of the experimental conditions (`with_condition`), in the order given;
    /// empty for a problem of one data set.
    fn conditions(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        Ok(self
            .inner(py)?
            .conditions()
            .into_iter()
            .map(str::to_owned)
            .collect())
    }

    /// DiffSL problems under `solver="auto"`: the method the probe at the initial parameters
    /// chose (`"bdf"` for a stiff model, else `"tsit45"`), and how many solves used each
    /// method so far (`fallbacks`: Tsit45 solves that failed and were redone with BDF). None
    /// for a named solver or a Python objective.
    fn solver_counts<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let inner = self.inner(py)?;
        let sims = inner.simulators();
        let Some(choice) = sims.first().and_then(|s| s.auto_choice()) else {
            return Ok(None);
        };
        let c = summed_counts(&sims);
        let d = PyDict::new(py);
        d.set_item("choice", choice.name())?;
        d.set_item("tsit45", c.explicit)?;
        d.set_item("bdf", c.implicit)?;
        d.set_item("fallbacks", c.fallbacks)?;
        Ok(Some(d))
    }

    /// Number of fitted parameters.
    fn dimension(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.inner(py)?.dimension())
    }

    /// The fitted parameters as `(name, initial, bounds)` tuples (`diffid.ParameterSpec`,
    /// with those fields), in order; `bounds` is `None` for a parameter without bounds.
    fn parameters<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let spec = py.import("diffid._parameters")?.getattr("ParameterSpec")?;
        self.inner(py)?
            .parameters()
            .iter()
            .map(|p| {
                let b = p.bounds();
                let bounds = (b.lower().is_finite() || b.upper().is_finite())
                    .then(|| (b.lower(), b.upper()));
                spec.call1((p.name(), p.initial(), bounds))
            })
            .collect()
    }

    /// The fitted parameters' names, in order.
    fn parameter_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        Ok(self.inner(py)?.parameters().names())
    }

    /// The bounds as a list of `(lower, upper)` (infinite where unbounded).
    fn bounds(&self, py: Python<'_>) -> PyResult<Vec<(f64, f64)>> {
        Ok(self
            .inner(py)?
            .parameters()
            .bounds()
            .iter()
            .map(|b| (b.lower(), b.upper()))
            .collect())
    }

    /// The parameters' initial values.
    fn initial_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(PyArray1::from_vec(
            py,
            self.inner(py)?.parameters().initial(),
        ))
    }

    /// The data times (DiffSL problems); for a problem of several conditions, `condition`
    /// names whose.
    #[pyo3(signature = (condition = None))]
    fn times<'py>(
        &self,
        py: Python<'py>,
        condition: Option<&str>,
    ) -> PyResult<Option<Bound<'py, PyArray1<f64>>>> {
        let inner = self.inner(py)?;
        Ok(inner
            .condition_data(condition)
            .map_err(to_py)?
            .map(|d| PyArray1::from_slice(py, d.times())))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let inner = self.inner(py)?;
        let parts: Vec<String> = inner.parameters().iter().map(ToString::to_string).collect();
        Ok(format!(
            "Problem(parameters=[{}], parallelism={:?})",
            parts.join(", "),
            inner.parallelism()
        ))
    }

    /// Pickles as the builder that made the problem (without its executor); the receiving
    /// process builds it again at its first use.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyAny>,))> {
        let builder = self.builder.as_ref().ok_or_else(|| {
            pyo3::exceptions::PyTypeError::new_err(
                "this problem cannot be pickled: it was not made by a diffid builder",
            )
        })?;
        Ok((
            py.import("diffid._diffid")?.getattr("_lazy_problem")?,
            (builder.bind(py).clone(),),
        ))
    }

    fn __copy__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __deepcopy__(slf: Py<Self>, _memo: &Bound<'_, PyAny>) -> Py<Self> {
        slf
    }

    /// Whether the problem has been built in this process (an unpickled problem is built at
    /// its first use).
    fn _is_built(&self) -> bool {
        self.built.get().is_some()
    }

    /// Evaluates the objective at each row of `points` with the GIL released, on this
    /// problem's own threads: a float per point, or the reason its evaluation failed (a
    /// string). What an executor's worker runs.
    fn _evaluate_batch<'py>(
        &self,
        py: Python<'py>,
        points: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let points = rows(points)?;
        let p = self.inner(py)?;
        let outcomes = py.detach(|| p.evaluate_batch(&points)).map_err(to_py)?;
        if let Some(err) = self.callback_error(py) {
            return Err(err);
        }
        outcomes
            .into_iter()
            .map(|o| match o {
                diffid::Outcome::Value(v) => Ok(pyo3::types::PyFloat::new(py, v).into_any()),
                diffid::Outcome::Failed(reason) => {
                    Ok(pyo3::types::PyString::new(py, &reason).into_any())
                }
            })
            .collect()
    }
}

/// Rebuilds a pickled problem lazily: built from `builder` at its first use.
#[pyfunction]
#[pyo3(name = "_lazy_problem")]
pub fn lazy_problem(builder: Py<PyAny>) -> PyProblem {
    PyProblem::lazy(builder)
}

fn out_rows(p: &Problem) -> usize {
    p.ode().map_or(0, |(_, d)| d.len())
}
