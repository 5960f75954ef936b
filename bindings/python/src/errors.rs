//! The Python exception hierarchy and the one place Rust errors are mapped onto it.

use diffid::{CoreError, Error, ExecError, SampleError, TellError as RustTellError};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

create_exception!(
    diffid.errors,
    DiffidError,
    PyException,
    "Base class of every diffid error."
);
create_exception!(
    diffid.errors,
    BuildError,
    DiffidError,
    "A problem could not be built: bad model, data, parameters or settings."
);
create_exception!(
    diffid.errors,
    EvaluationError,
    DiffidError,
    "An objective evaluation failed where a value was required."
);
create_exception!(
    diffid.errors,
    ExecutorError,
    DiffidError,
    "An executor (Dask, Ray, MPI, a process pool) failed to evaluate a batch, or is not an executor."
);
create_exception!(
    diffid.errors,
    CheckpointError,
    DiffidError,
    "A checkpoint cannot be written, read, or used for this run (another run's, or damaged)."
);
create_exception!(
    diffid.errors,
    TellError,
    DiffidError,
    "An ask/tell state refused the results it was told."
);
create_exception!(
    diffid.errors,
    ResultCountMismatch,
    TellError,
    "The number of results told differs from the points asked."
);
create_exception!(
    diffid.errors,
    AlreadyTerminated,
    TellError,
    "The optimiser has already terminated."
);

/// Maps a facade error onto the Python exception a user should catch.
pub fn to_py(err: Error) -> PyErr {
    let msg = err.to_string();
    match err {
        Error::Evaluation { point, .. } => evaluation_error(msg, Some(point)),
        Error::Tell(t) | Error::Exec(ExecError::Tell(t)) => tell_to_py(&t),
        Error::Checkpoint { .. } => CheckpointError::new_err(msg),
        Error::Exec(ExecError::NoSuccessfulEvaluation { .. }) | Error::NoLikelihoodMass { .. } => {
            evaluation_error(msg, None)
        }
        Error::Core(CoreError::InvalidSetting { .. } | CoreError::DimensionMismatch { .. })
        | Error::Sample(
            SampleError::InvalidSetting { .. }
            | SampleError::DimensionMismatch { .. }
            | SampleError::InvalidPrior { .. },
        ) => PyValueError::new_err(msg),
        _ => BuildError::new_err(msg),
    }
}

/// An `EvaluationError` carrying the offending `point` (None when no single point is to blame).
fn evaluation_error(msg: String, point: Option<Vec<f64>>) -> PyErr {
    let err = EvaluationError::new_err(msg);
    Python::attach(|py| {
        // Setting an attribute on a fresh exception instance cannot fail in practice; if it
        // did, the error would still carry its message.
        let _ = err.value(py).setattr("point", point);
    });
    err
}

/// Maps a tell refusal.
pub fn tell_to_py(err: &RustTellError) -> PyErr {
    let msg = err.to_string();
    match err {
        RustTellError::AlreadyTerminated => AlreadyTerminated::new_err(msg),
        RustTellError::ResultCountMismatch { .. } => ResultCountMismatch::new_err(msg),
        _ => TellError::new_err(msg),
    }
}

/// Maps an invalid setting (raised when the setting is given) to `ValueError`.
pub fn setting_to_py(err: &CoreError) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// Registers the exception types on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("DiffidError", py.get_type::<DiffidError>())?;
    m.add("BuildError", py.get_type::<BuildError>())?;
    m.add("EvaluationError", py.get_type::<EvaluationError>())?;
    m.add("ExecutorError", py.get_type::<ExecutorError>())?;
    m.add("CheckpointError", py.get_type::<CheckpointError>())?;
    m.add("TellError", py.get_type::<TellError>())?;
    m.add("ResultCountMismatch", py.get_type::<ResultCountMismatch>())?;
    m.add("AlreadyTerminated", py.get_type::<AlreadyTerminated>())?;
    Ok(())
}

/// What a Python objective (or an executor) raised, kept so the run can stop and re-raise it.
#[derive(Default)]
pub struct CallbackError {
    /// The first exception raised (or the first bad return value), with the point, if one
    /// point is to blame.
    error: Mutex<Option<(PyErr, Option<Vec<f64>>)>>,
    /// Set when an error is recorded, or by Ctrl-C during a run: the run's cancellation flag,
    /// so the run stops inside the batch in flight.
    pub cancel: Arc<AtomicBool>,
}

impl CallbackError {
    fn keep(&self, err: PyErr, x: Option<&[f64]>) {
        if let Ok(mut slot) = self.error.lock() {
            if slot.is_none() {
                *slot = Some((err, x.map(<[f64]>::to_vec)));
            }
        }
        self.cancel.store(true, Ordering::SeqCst);
    }

    pub fn record(&self, err: PyErr, x: &[f64]) {
        self.keep(err, Some(x));
    }

    /// Records an error raised as it is (an executor's failure, already worded).
    pub fn record_raw(&self, err: PyErr) {
        self.keep(err, None);
    }

    /// Whether the run is stopping (an error recorded, or Ctrl-C).
    pub fn stopping(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Takes the recorded error as an `EvaluationError` with the original exception as its
    /// cause and the offending point on `.point` (one recorded without a point as it is);
    /// resets the state for the next run. An interruption (`KeyboardInterrupt`, `SystemExit`:
    /// anything not an `Exception`) is returned as it is.
    pub fn take(&self, py: Python<'_>) -> Option<PyErr> {
        self.cancel.store(false, Ordering::SeqCst);
        let (cause, point) = self.error.lock().ok()?.take()?;
        let Some(point) = point else {
            return Some(cause);
        };
        if !cause.is_instance_of::<pyo3::exceptions::PyException>(py) {
            return Some(cause);
        }
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
