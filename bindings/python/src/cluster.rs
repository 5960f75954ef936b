//! Executors for any problem: each batch (a CMA-ES generation, an ensemble half, all MCMC
//! chains' proposals, a nested-sampling batch) is split into chunks that workers evaluate in
//! Rust, each holding the problem (sent once where the executor allows it). The Python half,
//! which speaks to `concurrent.futures`, Dask, Ray and MPI executors, is `diffid/_cluster.py`.

use crate::errors::CallbackError;
use crate::errors::ExecutorError;
use crate::problem::{PyDiffsolBuilder, PyProblem};
use diffid::{GradientOutcome, Objective, Outcome, Parallelism};
use numpy::PyArray2;
use pyo3::prelude::*;
use std::sync::Arc;

/// An executor given to `with_executor`, and the threads each worker evaluates on.
#[derive(Clone)]
pub struct Remote {
    executor: Arc<Py<PyAny>>,
    threads_per_worker: usize,
}

impl Remote {
    /// Checks `executor` (it needs `submit(f, *args)` or `map(f, iterable)`) and the thread
    /// count.
    pub fn new(executor: &Bound<'_, PyAny>, threads_per_worker: usize) -> PyResult<Self> {
        if threads_per_worker == 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "threads_per_worker must be at least 1, got 0",
            ));
        }
        Ok(Self {
            executor: check_executor(executor)?,
            threads_per_worker,
        })
    }

    /// The executor object.
    pub fn executor(&self) -> &Arc<Py<PyAny>> {
        &self.executor
    }
}

/// Checks that `e` looks like an executor: a `concurrent.futures` executor, a Dask client, an
/// MPI pool (anything with `submit`) or a multiprocessing/Ray pool (anything with `map`).
pub fn check_executor(e: &Bound<'_, PyAny>) -> PyResult<Arc<Py<PyAny>>> {
    let has = |name: &str| e.getattr(name).is_ok_and(|a| a.is_callable());
    if !has("submit") && !has("map") {
        return Err(ExecutorError::new_err(format!(
            "with_executor expects an executor: a concurrent.futures executor (ProcessPoolExecutor, mpi4py's MPIPoolExecutor), a dask.distributed Client or a pool with map (multiprocessing, Ray); got {}, which has neither submit nor map",
            e.get_type().name()?
        )));
    }
    Ok(Arc::new(e.clone().unbind()))
}

/// The problem's objective, with whole batches sent to workers through a
/// `diffid._cluster.Dispatcher`; single evaluations and gradients stay local.
struct ExecutorObjective {
    local: Arc<dyn Objective>,
    dispatcher: Py<PyAny>,
    errors: Arc<CallbackError>,
}

const STOPPING: &str = "the run is stopping after an executor error";

impl ExecutorObjective {
    fn remote_batch(&self, py: Python<'_>, points: &[Vec<f64>]) -> PyResult<Vec<Outcome>> {
        let arr = PyArray2::from_vec2(py, points)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        let values: Vec<Bound<'_, PyAny>> = self
            .dispatcher
            .call_method1(py, "evaluate", (arr,))?
            .extract(py)?;
        if values.len() != points.len() {
            return Err(ExecutorError::new_err(format!(
                "the executor returned {} results for a batch of {} points",
                values.len(),
                points.len()
            )));
        }
        Ok(values
            .iter()
            .map(|v| match v.extract::<f64>() {
                Ok(f) => Outcome::from_value(f),
                Err(_) => Outcome::Failed(
                    v.str()
                        .map_or_else(|_| "failed in a worker".to_owned(), |s| s.to_string()),
                ),
            })
            .collect())
    }
}

impl Objective for ExecutorObjective {
    fn dim(&self) -> usize {
        self.local.dim()
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        self.local.evaluate(x)
    }

    fn evaluate_batch(&self, points: &[Vec<f64>]) -> Vec<Outcome> {
        if self.errors.stopping() {
            return vec![Outcome::Failed(STOPPING.to_owned()); points.len()];
        }
        if points.is_empty() {
            return Vec::new();
        }
        Python::attach(|py| match self.remote_batch(py, points) {
            Ok(outcomes) => outcomes,
            Err(e) => {
                self.errors.record_raw(e);
                vec![Outcome::Failed(STOPPING.to_owned()); points.len()]
            }
        })
    }

    fn has_gradient(&self) -> bool {
        self.local.has_gradient()
    }

    fn fd_step(&self) -> f64 {
        self.local.fd_step()
    }

    fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
        self.local.evaluate_with_gradient(x)
    }
}

/// The builder the workers rebuild the problem from: `builder` evaluating on
/// `threads` threads (DiffSL problems; a Python callable's problem evaluates on the calling
/// thread anyway).
fn worker_builder(py: Python<'_>, builder: &Py<PyAny>, threads: usize) -> PyResult<Py<PyAny>> {
    let b = builder.bind(py);
    if b.downcast::<PyDiffsolBuilder>().is_err() {
        return Ok(builder.clone_ref(py));
    }
    let parallel = if threads == 1 {
        pyo3::types::PyBool::new(py, false).to_owned().into_any()
    } else {
        threads.into_pyobject(py)?.into_any()
    };
    Ok(b.call_method1("with_parallel", (parallel,))?.unbind())
}

/// `problem` with its batches evaluated through `remote`'s executor: the same function, the
/// same results bit for bit, the work done by the workers.
pub fn distribute(py: Python<'_>, problem: &PyProblem, remote: &Remote) -> PyResult<PyProblem> {
    let built = problem.get(py)?.clone();
    let builder = problem.builder().ok_or_else(|| {
        ExecutorError::new_err(
            "this problem cannot be sent to an executor's workers: it was not made by a diffid builder",
        )
    })?;
    let worker = Py::new(
        py,
        PyProblem::lazy(worker_builder(py, builder, remote.threads_per_worker)?),
    )?;
    let dispatcher = py
        .import("diffid._cluster")?
        .getattr("Dispatcher")?
        .call1((remote.executor.bind(py), worker))?
        .unbind();
    let errors = built.errors.clone().unwrap_or_default();
    let objective = ExecutorObjective {
        local: built.inner.objective().clone(),
        dispatcher,
        errors: errors.clone(),
    };
    let inner = built
        .inner
        .with_objective(Arc::new(objective), Parallelism::Delegated);
    Ok(PyProblem::with_callback(Arc::new(inner), errors)
        .with_extra(built.extra)
        .with_builder(builder.clone_ref(py)))
}
