//! The vocabulary of diffid: the small types and traits every other crate speaks.
//!
//! - [`Bounds`] and [`Parameter`]/[`Parameters`]: what is being fitted, and where it may go.
//! - [`Objective`]: a scalar function of the parameters, evaluated to an [`Outcome`]. A failed
//!   evaluation (an ODE solve that diverges at an extreme candidate) is a value, not an error.
//! - [`AskTell`] and [`OptimiserState`]: the ask/tell state machines that optimisers (and, later,
//!   samplers) implement. They never evaluate anything themselves; an executor does.
//! - [`Termination`] and [`OptimisationResult`]: why a run stopped and what it found.
//! - [`CoreError`]: the typed errors of this vocabulary.
//!
//! This crate has no dependency on any sibling, on diffsol, on rayon or on Python.
//!
//! ```
//! use diffid_core::{Bounds, FnObjective, Objective, Outcome, Parameter, Parameters, Transform};
//!
//! // Two parameters: a positive rate searched on a log scale, and a free offset.
//! let mut params = Parameters::new();
//! params.push(Parameter::new("k", 0.5, Some((1e-3, 10.0)))?.with_transform(Transform::Log)?)?;
//! params.push(Parameter::new("c", 0.0, None)?)?;
//! assert_eq!(params.names(), ["k", "c"]);
//! assert!(params.check_point(&[20.0, 0.0], "x").is_err()); // k outside its bounds
//!
//! // An objective; a failed evaluation is a value, not an error.
//! let f = FnObjective::new(2, |x: &[f64]| (x[0] - 1.0).powi(2) + x[1].ln());
//! assert_eq!(f.evaluate(&[1.0, 1.0]), Outcome::Value(0.0));
//! assert!(matches!(f.evaluate(&[1.0, -1.0]), Outcome::Failed(_))); // ln of a negative: NaN
//! assert!(Bounds::new(0.0, 1.0)?.contains(0.5));
//! # Ok::<(), diffid_core::CoreError>(())
//! ```

mod asktell;
mod bounds;
mod data;
mod error;
pub mod fd;
mod objective;
mod parameter;
mod result;
mod stopping;
mod termination;
pub mod testkit;

pub use asktell::{check_gradients, check_init, Ask, AskTell, Optimiser, OptimiserState};
pub use bounds::Bounds;
pub use data::TimeSeries;
pub use error::{CoreError, TellError};
pub use objective::{
    simulate_each, FnGradObjective, FnObjective, GradientOutcome, Objective, Outcome, RunEach,
    SimulationError, Simulator,
};
pub use parameter::{Parameter, Parameters, Transform};
pub use result::OptimisationResult;
pub use stopping::{LimitTracker, Limits, Patience};
pub use termination::Termination;

/// The message of a caught panic's payload (`panic!` with a string literal or a formatted
/// message), for reporting it as an error.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned())
}
