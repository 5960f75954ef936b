//! Ask/tell from Python: `optimiser.init(initial, bounds=None)` → a state to drive by hand.

use crate::errors::{tell_to_py, to_py};
use crate::results::PyOptimisationResults;
use diffid::{
    result_of, AdamState, Ask, Bounds, CmaEsState, Error, GradientOutcome, LbfgsbState,
    NelderMeadState, OptimiserState, Outcome, StartOnly, Termination,
};
use numpy::PyArray2;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::time::Instant;

/// Evaluate these points (rows of `points`) and `tell` the values in the same order; when
/// `needs_gradient` is true, tell `(value, gradient)` pairs.
#[pyclass(module = "diffid._diffid", name = "Evaluate", frozen)]
pub struct PyEvaluate {
    points: Vec<Vec<f64>>,
    gradient: bool,
}

impl PyEvaluate {
    /// Points whose values (no gradients) are wanted.
    pub fn values(points: Vec<Vec<f64>>) -> Self {
        Self {
            points,
            gradient: false,
        }
    }
}

#[pymethods]
impl PyEvaluate {
    /// The points to evaluate, one per row.
    #[getter]
    fn points<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        PyArray2::from_vec2(py, &self.points).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Whether the optimiser wants the gradient at each point as well (Adam, L-BFGS-B).
    #[getter]
    fn needs_gradient(&self) -> bool {
        self.gradient
    }

    fn __len__(&self) -> usize {
        self.points.len()
    }

    fn __repr__(&self) -> String {
        if self.gradient {
            format!(
                "Evaluate({} point(s), needs_gradient=True)",
                self.points.len()
            )
        } else {
            format!("Evaluate({} point(s))", self.points.len())
        }
    }
}

/// The optimiser or sampler has stopped; `result` is the final result
/// (`OptimisationResults` or `Samples`).
#[pyclass(module = "diffid._diffid", name = "Done", frozen)]
pub struct PyDone {
    result: Py<PyAny>,
}

impl PyDone {
    /// Wraps a final result.
    pub fn new(result: Py<PyAny>) -> Self {
        Self { result }
    }
}

#[pymethods]
impl PyDone {
    /// The final result.
    #[getter]
    fn result(&self, py: Python<'_>) -> Py<PyAny> {
        self.result.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Done({})", self.result.bind(py).repr()?))
    }
}

/// The concrete states, so that algorithm-specific accessors stay reachable.
pub enum Kind {
    /// A CMA-ES state.
    CmaEs(Box<CmaEsState>),
    /// A Nelder–Mead state.
    NelderMead(Box<NelderMeadState>),
    /// An Adam state.
    Adam(Box<AdamState>),
    /// An L-BFGS-B state.
    Lbfgsb(Box<LbfgsbState>),
    /// Any optimiser with `max_iter` 0: the start is evaluated once and returned.
    Start(Box<StartOnly>),
}

impl Kind {
    /// Whether the state is told `(value, gradient)` pairs.
    fn wants_gradients(&self) -> bool {
        matches!(self, Self::Adam(_) | Self::Lbfgsb(_))
    }

    fn state(&self) -> &dyn OptimiserState {
        match self {
            Self::CmaEs(s) => s.as_ref(),
            Self::NelderMead(s) => s.as_ref(),
            Self::Adam(s) => s.as_ref(),
            Self::Lbfgsb(s) => s.as_ref(),
            Self::Start(s) => s.as_ref(),
        }
    }

    fn state_mut(&mut self) -> &mut dyn OptimiserState {
        match self {
            Self::CmaEs(s) => s.as_mut(),
            Self::NelderMead(s) => s.as_mut(),
            Self::Adam(s) => s.as_mut(),
            Self::Lbfgsb(s) => s.as_mut(),
            Self::Start(s) => s.as_mut(),
        }
    }
}

/// A running optimiser driven by hand: `ask()`, evaluate, `tell(values)`, until `Done`.
#[pyclass(module = "diffid._diffid", name = "OptimiserState")]
pub struct PyOptimiserState {
    kind: Kind,
    started: Instant,
    /// The number of points of the ask awaiting its tell.
    pending: Option<usize>,
    names: Vec<String>,
}

impl PyOptimiserState {
    /// Wraps a freshly started state.
    pub fn new(kind: Kind, dim: usize) -> Self {
        Self {
            kind,
            started: Instant::now(),
            pending: None,
            names: (0..dim).map(|i| format!("x{i}")).collect(),
        }
    }

    fn done(&self, py: Python<'_>, termination: Termination) -> PyResult<PyDone> {
        let inner = result_of(self.kind.state(), termination, self.started.elapsed(), None)
            .map_err(|e| to_py(Error::Exec(e)))?;
        Ok(PyDone {
            result: Py::new(
                py,
                PyOptimisationResults {
                    inner,
                    names: self.names.clone(),
                    solvers: None,
                },
            )?
            .into_any(),
        })
    }
}

/// Starts a state from a Python `initial` vector and optional `[(lower, upper), ...]` bounds.
pub fn bounds_for(dim: usize, bounds: Option<Vec<(f64, f64)>>) -> PyResult<Vec<Bounds>> {
    match bounds {
        None => Ok(vec![Bounds::unbounded(); dim]),
        Some(b) => b
            .into_iter()
            .enumerate()
            .map(|(i, (lo, hi))| {
                Bounds::new(lo, hi).map_err(|_| {
                    PyValueError::new_err(format!(
                        "bounds[{i}] = ({lo}, {hi}) is invalid: the lower bound must be below the upper bound"
                    ))
                })
            })
            .collect(),
    }
}

#[pymethods]
impl PyOptimiserState {
    /// The next step: `Evaluate(points)` to evaluate, or `Done(result)` once stopped.
    fn ask(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.kind.state_mut().ask() {
            Ask::Evaluate(points) => {
                self.pending = Some(points.len());
                Ok(Py::new(
                    py,
                    PyEvaluate {
                        points,
                        gradient: false,
                    },
                )?
                .into_any())
            }
            Ask::EvaluateWithGradient(points) => {
                self.pending = Some(points.len());
                Ok(Py::new(
                    py,
                    PyEvaluate {
                        points,
                        gradient: true,
                    },
                )?
                .into_any())
            }
            Ask::Done(termination) => {
                self.pending = None;
                Ok(Py::new(py, self.done(py, termination)?)?.into_any())
            }
        }
    }

    /// The results of the points last asked for, in order. For value asks: a list of floats
    /// (or a single float when one point was asked). For gradient asks (`needs_gradient`):
    /// a `(value, gradient)` pair, or a list of them. `None`, NaN or inf as a value mark a
    /// failed evaluation (ranked worst; the run goes on).
    fn tell(&mut self, values: &Bound<'_, PyAny>) -> PyResult<()> {
        let gradient = self.kind.wants_gradients();
        let state = self.kind.state_mut();
        let told = if gradient {
            let outcomes = gradient_outcomes(values)?;
            let n = outcomes.len();
            state.tell_gradients(&outcomes, n)
        } else {
            state.tell(&value_outcomes(values)?)
        };
        told.map_err(|e| tell_to_py(&e))?;
        self.pending = None;
        Ok(())
    }

    /// Completed iterations.
    fn iterations(&self) -> usize {
        self.kind.state().iterations()
    }

    /// Values told so far.
    fn evaluations(&self) -> usize {
        self.kind.state().evaluations()
    }

    /// The best `(x, value)` so far, or None before any successful evaluation.
    fn best(&self) -> Option<(Vec<f64>, f64)> {
        self.kind.state().best()
    }

    /// CMA-ES only: the distribution's mean.
    fn mean(&self) -> PyResult<Vec<f64>> {
        match &self.kind {
            Kind::CmaEs(s) => Ok(s.mean().to_vec()),
            _ => Err(PyTypeError::new_err("mean() is a CMA-ES accessor")),
        }
    }

    /// CMA-ES only: the step size σ.
    fn sigma(&self) -> PyResult<f64> {
        match &self.kind {
            Kind::CmaEs(s) => Ok(s.sigma()),
            _ => Err(PyTypeError::new_err("sigma() is a CMA-ES accessor")),
        }
    }

    fn __repr__(&self) -> String {
        let s = self.kind.state();
        format!(
            "OptimiserState(iterations={}, evaluations={}, best={:?}, pending={:?})",
            s.iterations(),
            s.evaluations(),
            s.best().map(|(_, v)| v),
            self.pending
        )
    }
}

/// Told values: a float, or a list of floats; `None` marks a failure.
pub fn value_outcomes(values: &Bound<'_, PyAny>) -> PyResult<Vec<Outcome>> {
    let values: Vec<Option<f64>> = if let Ok(v) = values.extract::<Option<f64>>() {
        vec![v]
    } else {
        values.extract::<Vec<Option<f64>>>().map_err(|_| {
            PyTypeError::new_err("tell expects a float or a list of floats, one per asked point")
        })?
    };
    Ok(values
        .into_iter()
        .map(|v| {
            v.map_or_else(
                || Outcome::Failed("told as None".to_owned()),
                Outcome::from_value,
            )
        })
        .collect())
}

/// Told `(value, gradient)` pairs: one pair, or a list of them; a `None` value marks a failure.
fn gradient_outcomes(values: &Bound<'_, PyAny>) -> PyResult<Vec<GradientOutcome>> {
    type Pair = (Option<f64>, Option<Vec<f64>>);
    let pairs: Vec<Pair> = if let Ok(p) = values.extract::<Pair>() {
        vec![p]
    } else {
        values.extract::<Vec<Pair>>().map_err(|_| {
            PyTypeError::new_err(
                "this optimiser asked for gradients: tell a (value, gradient) pair, or a list of them, one per asked point",
            )
        })?
    };
    Ok(pairs
        .into_iter()
        .map(|(v, g)| match (v, g) {
            (Some(v), Some(g)) => GradientOutcome::from_parts(v, g),
            _ => GradientOutcome::Failed("told as None".to_owned()),
        })
        .collect())
}
