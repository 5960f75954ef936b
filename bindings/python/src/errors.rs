//! The Python exception hierarchy and the one place Rust errors are mapped onto it.

use diffid::{CoreError, Error, ExecError, SampleError, TellError as RustTellError};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

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
