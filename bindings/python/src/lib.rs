//! Python bindings of diffid (`diffid._diffid`).
//!
//! Thin by design: each method converts its arguments, calls the `diffid` facade and converts
//! the result. Long calls release the GIL (`py.detach`); a running optimisation checks for
//! Ctrl-C between iterations and raises `KeyboardInterrupt` with the best result so far attached.

mod asktell;
mod callables;
mod cluster;
mod convert;
mod cost;
mod errors;
mod optimiser;
mod pickling;
mod problem;
mod results;
mod run;
mod sampler;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _diffid(m: &Bound<'_, PyModule>) -> PyResult<()> {
    quiet_panics();
    errors::register(m)?;
    m.add_class::<cost::PySse>()?;
    m.add_class::<cost::PyRmse>()?;
    m.add_class::<cost::PyGaussianNll>()?;
    m.add_class::<optimiser::PyCmaEs>()?;
    m.add_class::<optimiser::PyNelderMead>()?;
    m.add_class::<optimiser::PyAdam>()?;
    m.add_class::<optimiser::PyLbfgsb>()?;
    m.add_class::<run::PyProgress>()?;
    m.add_class::<problem::PyDiffsolBuilder>()?;
    m.add_class::<problem::PyProblem>()?;
    m.add_class::<callables::PyScalarBuilder>()?;
    m.add_class::<callables::PyVectorBuilder>()?;
    m.add_class::<results::PyOptimisationResults>()?;
    m.add_class::<results::PyMultiStart>()?;
    m.add_class::<asktell::PyEvaluate>()?;
    m.add_class::<asktell::PyDone>()?;
    m.add_class::<asktell::PyOptimiserState>()?;
    sampler::register(m)?;
    m.add_function(wrap_pyfunction!(pickling::restore, m)?)?;
    m.add_function(wrap_pyfunction!(pickling::replay, m)?)?;
    m.add_function(wrap_pyfunction!(problem::lazy_problem, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// Keeps Rust panic messages off the user's terminal.
///
/// Every panic in this library is either caught at an evaluation boundary (and reported as a
/// failed evaluation with the panic's message) or reaches Python as an exception carrying the
/// message, so printing it as well only adds noise. The hook belongs to this extension's own
/// copy of the Rust runtime and affects nothing else in the process. Set
/// `DIFFID_SHOW_PANICS=1` to see them anyway.
fn quiet_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::env::var_os("DIFFID_SHOW_PANICS").is_some() {
            default(info);
        }
    }));
}
