//! Python bindings of diffid (`diffid._diffid`).
//!
//! Thin by design: each method converts its arguments, calls the `diffid` facade and converts
//! the result. Long calls release the GIL through [`run_detached`], which also turns Ctrl-C into
//! `KeyboardInterrupt` with the best result so far attached.

mod cost;
mod errors;
mod optimiser;
mod problem;
mod results;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _diffid(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<cost::PySse>()?;
    m.add_class::<cost::PyRmse>()?;
    m.add_class::<cost::PyGaussianNll>()?;
    m.add_class::<optimiser::PyCmaEs>()?;
    m.add_class::<problem::PyDiffsolBuilder>()?;
    m.add_class::<problem::PyProblem>()?;
    m.add_class::<results::PyOptimisationResults>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
