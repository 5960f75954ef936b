//! DiffSL models solved with diffsol, as diffid simulators.
//!
//! - [`DiffslModel`] parses and JIT-compiles DiffSL source once (Cranelift by default, so no LLVM
//!   is needed), and knows the model's inputs (`in_i`, with their defaults), states and outputs.
//! - [`OdeSimulator`] binds a model to the data times and to the fitted parameters, matched to
//!   the `in_i` inputs **by name**; inputs not fitted keep their DiffSL defaults. It implements
//!   [`diffid_core::Simulator`]: parameters in, predictions at the data times out.
//! - [`SolverKind`], [`Backend`] and [`SolveOptions`]: which diffsol method, dense or sparse
//!   linear algebra, tolerances and step budget.
//! - [`Dose`] and breakpoints ([`OdeSimulator::with_doses`],
//!   [`OdeSimulator::with_breakpoints`]): boluses and switches at known times, where the
//!   integration stops exactly and restarts (see the `schedule` module for the convention at a
//!   dose time: predictions there are taken just before the dose).
//! - [`OdeSimulator::solve_with_sensitivities`]: exact forward sensitivities of the
//!   predictions, assembled from the forward-mode functions the Cranelift JIT compiles (see the
//!   `sens` module), for exact gradients of any cost by the chain rule.
//!
//! Compiled models and their solver problems are cached per worker thread and reused across
//! evaluations: each thread compiles a model at most once. A solve that fails (too many steps, a
//! step size that underflows, a non-finite state, even a panic inside diffsol) is reported as a
//! [`SolveError`], never a panic, so one bad candidate does not end a fit.
//!
//! This is the only crate that knows diffsol and DiffSL.
//!
//! ```
//! use diffid_ode::{DiffslModel, OdeSimulator, SolveOptions};
//!
//! // Exponential decay, y' = -k y, y(0) = y0; fit k, keep y0 at its default.
//! let model = DiffslModel::new("in_i { k = 0.5, y0 = 2.0 } u_i { y = y0 } F_i { -k * y }")?;
//! assert_eq!(model.inputs().len(), 2);
//! let times = vec![0.0, 1.0, 2.0];
//! let sim = OdeSimulator::new(model, times.clone(), &["k".to_owned()], SolveOptions::default())?;
//! let mut y = vec![0.0; times.len()];
//! sim.solve(&[0.7], &mut y)?;
//! for (t, yt) in times.iter().zip(&y) {
//!     assert!((yt - 2.0 * (-0.7 * t).exp()).abs() < 1e-5, "{t}: {yt}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod block;
mod cache;
mod error;
mod model;
mod schedule;
mod sens;
mod simulate;
mod steady;

/// Dense solves: nalgebra matrices and LU.
mod dense {
    type M = diffsol::NalgebraMat<f64>;
    type LS = diffsol::NalgebraLU<f64>;
    /// The Newton systems of sensitivity solves: block lower triangular (see `block`).
    type SensLs = crate::block::BlockLu;
    const BACKEND: crate::Backend = crate::Backend::Dense;
    include!("backend.rs");
}

/// Sparse solves: faer sparse matrices and sparse LU.
mod sparse {
    type M = diffsol::FaerSparseMat<f64>;
    type LS = diffsol::FaerSparseLU<f64>;
    type SensLs = LS;
    const BACKEND: crate::Backend = crate::Backend::Sparse;
    include!("backend.rs");
}

pub use error::{OdeError, SolveError};
pub use model::{DiffslModel, Input};
pub use schedule::{check_increasing, Dose};
pub use simulate::{Backend, OdeSimulator, SolveOptions, SolverCounts, SolverKind};
