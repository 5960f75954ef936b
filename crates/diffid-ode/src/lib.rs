//! DiffSL models solved with diffsol, as diffid simulators.
//!
//! - [`DiffslModel`] parses and JIT-compiles DiffSL source once (Cranelift by default, so no LLVM
//!   is needed), and knows the model's inputs (`in_i`, with their defaults), states and outputs.
//! - [`OdeSimulator`] binds a model to the data times and to the fitted parameters, matched to
//!   the `in_i` inputs **by name**; inputs not fitted keep their DiffSL defaults. It implements
//!   [`diffid_core::Simulator`]: parameters in, predictions at the data times out.
//! - [`SolverKind`] and [`SolveOptions`]: which diffsol method, tolerances and step budget.
//!
//! Compiled models and their solver problems are cached per worker thread and reused across
//! evaluations: each thread compiles a model at most once. A solve that fails (too many steps, a
//! step size that underflows, a non-finite state, even a panic inside diffsol) is reported as a
//! [`SolveError`], never a panic, so one bad candidate does not end a fit.
//!
//! This is the only crate that knows diffsol and DiffSL.

mod error;
mod model;
mod simulate;

pub use error::{OdeError, SolveError};
pub use model::{DiffslModel, Input};
pub use simulate::{OdeSimulator, SolveOptions, SolverKind};
