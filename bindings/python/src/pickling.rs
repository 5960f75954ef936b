//! Pickling and copying.
//!
//! Settings objects (optimisers, samplers) and optimisation results travel as their Rust
//! configuration turned into plain Python data by serde (`pythonize`), so every field goes
//! with them and infinities survive; `diffid._diffid._restore(class, state)` rebuilds them.
//! Builders travel as the recipe of `with_*` calls that made them (see [`Recipe`]), so a
//! restored builder has been through the same checks; a problem travels as its builder and is
//! built again, lazily, where it is used (`PyProblem`).

use crate::cost::{PyGaussianNll, PyRmse, PySse};
use crate::errors::BuildError;
use crate::optimiser::{PyAdam, PyCmaEs, PyLbfgsb, PyNelderMead};
use crate::results::PyOptimisationResults;
use crate::sampler::{PyDynamicNestedSampler, PyEnsembleSampler, PyMetropolisHastings};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a settings object's `__reduce__` returns: `(restore, (class, state))`.
pub type Reduced<'py> = (Bound<'py, PyAny>, (&'static str, Bound<'py, PyAny>));

/// What a builder's `__reduce__` returns: `(replay, (class, steps, origin))`.
pub type Replayed<'py> = (
    Bound<'py, PyAny>,
    (
        Bound<'py, PyAny>,
        Bound<'py, PyList>,
        (&'static str, &'static str),
    ),
);

/// The JIT backend this extension compiles DiffSL with (the bindings enable Cranelift only).
const JIT: &str = "cranelift";

/// Where a pickled builder was made: this diffid's version and JIT backend. A process with
/// another refuses to rebuild it, rather than compute something else.
fn origin() -> (&'static str, &'static str) {
    (env!("CARGO_PKG_VERSION"), JIT)
}

/// `(diffid._diffid._restore, (class, state))`: what `__reduce__` returns for a settings object
/// whose Rust value is `value`.
pub fn reduce<'py, T: Serialize>(
    py: Python<'py>,
    class: &'static str,
    value: &T,
) -> PyResult<crate::pickling::Reduced<'py>> {
    let state = pythonize::pythonize(py, value)
        .map_err(|e| PyValueError::new_err(format!("cannot pickle {class}: {e}")))?;
    Ok((
        py.import("diffid._diffid")?.getattr("_restore")?,
        (class, state),
    ))
}

fn state<T: DeserializeOwned>(class: &str, state: &Bound<'_, PyAny>) -> PyResult<T> {
    pythonize::depythonize(state).map_err(|e| {
        PyValueError::new_err(format!(
            "cannot unpickle {class}: the saved state does not match this version of diffid ({e})"
        ))
    })
}

/// Rebuilds a pickled settings object or result (the inverse of [`reduce`]).
#[pyfunction]
#[pyo3(name = "_restore")]
pub fn restore(py: Python<'_>, class: &str, saved: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let obj = match class {
        "NelderMead" => Py::new(py, PyNelderMead::checked(state(class, saved)?)?)?.into_any(),
        "CMAES" => Py::new(py, PyCmaEs::checked(state(class, saved)?)?)?.into_any(),
        "Adam" => Py::new(py, PyAdam::checked(state(class, saved)?)?)?.into_any(),
        "LBFGSB" => Py::new(py, PyLbfgsb::checked(state(class, saved)?)?)?.into_any(),
        "MetropolisHastings" => {
            Py::new(py, PyMetropolisHastings::from_config(state(class, saved)?))?.into_any()
        }
        "EnsembleSampler" => {
            Py::new(py, PyEnsembleSampler::from_config(state(class, saved)?))?.into_any()
        }
        "DynamicNestedSampler" => Py::new(
            py,
            PyDynamicNestedSampler::from_config(state(class, saved)?),
        )?
        .into_any(),
        "SSE" => Py::new(py, PySse(state(class, saved)?))?.into_any(),
        "RMSE" => Py::new(py, PyRmse(state(class, saved)?))?.into_any(),
        "GaussianNLL" => Py::new(py, PyGaussianNll(state(class, saved)?))?.into_any(),
        "OptimisationResults" => {
            let (inner, names, solvers) = state(class, saved)?;
            Py::new(
                py,
                PyOptimisationResults {
                    inner,
                    names,
                    solvers,
                },
            )?
            .into_any()
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "cannot unpickle: diffid has no class {other:?}"
            )))
        }
    };
    Ok(obj)
}

/// One `with_*` call of a builder: the method's name, its positional and keyword arguments.
type Step = (&'static str, Py<PyTuple>, Option<Py<PyDict>>);

/// The calls that made a builder, in order, replayed by `diffid._diffid._replay` to rebuild
/// it. Shared, so a `with_*` copies one `Arc`, not the steps.
#[derive(Clone, Default)]
pub struct Recipe(std::sync::Arc<Vec<Step>>);

impl Recipe {
    /// This recipe followed by `method(*args, **kwargs)`.
    pub fn then(
        &self,
        method: &'static str,
        args: Bound<'_, PyTuple>,
        kwargs: Option<Bound<'_, PyDict>>,
    ) -> Self {
        let py = args.py();
        let mut steps: Vec<Step> = self
            .0
            .iter()
            .map(|(m, a, k)| (*m, a.clone_ref(py), k.as_ref().map(|k| k.clone_ref(py))))
            .collect();
        steps.push((method, args.unbind(), kwargs.map(Bound::unbind)));
        Self(std::sync::Arc::new(steps))
    }

    /// `(diffid._diffid._replay, (class, steps))`: what a builder's `__reduce__` returns.
    pub fn reduce<'py>(
        &self,
        py: Python<'py>,
        class: Bound<'py, PyAny>,
    ) -> PyResult<crate::pickling::Replayed<'py>> {
        let steps = PyList::empty(py);
        for (m, a, k) in self.0.iter() {
            let kwargs: Bound<'py, PyAny> = match k {
                Some(k) => k.bind(py).clone().into_any(),
                None => py.None().into_bound(py),
            };
            steps.append((*m, a.bind(py), kwargs))?;
        }
        Ok((
            py.import("diffid._diffid")?.getattr("_replay")?,
            (class, steps, origin()),
        ))
    }
}

/// Rebuilds a pickled builder: `class()` followed by each `(method, args, kwargs)` step,
/// after checking that it was pickled by this diffid version with the same JIT backend.
#[pyfunction]
#[pyo3(name = "_replay", signature = (class, steps, made_by = None))]
pub fn replay<'py>(
    class: &Bound<'py, PyAny>,
    steps: &Bound<'py, PyList>,
    made_by: Option<(String, String)>,
) -> PyResult<Bound<'py, PyAny>> {
    if let Some((version, jit)) = made_by {
        let (here, here_jit) = origin();
        if jit != here_jit {
            return Err(BuildError::new_err(format!(
                "this problem was built where DiffSL compiles with the {jit} JIT, and this process's diffid has {here_jit} only; install the same diffid build on every worker"
            )));
        }
        if version != here {
            return Err(BuildError::new_err(format!(
                "this problem was pickled by diffid {version} and this process has diffid {here}; install the same version on every worker"
            )));
        }
    }
    let mut obj = class.call0()?;
    for step in steps.iter() {
        let (method, args, kwargs): (String, Bound<'py, PyTuple>, Option<Bound<'py, PyDict>>) =
            step.extract()?;
        obj = obj.call_method(method.as_str(), args, kwargs.as_ref())?;
    }
    Ok(obj)
}
