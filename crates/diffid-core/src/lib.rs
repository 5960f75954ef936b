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
    simulate_each, FnGradObjective, FnObjective, GradientOutcome, Objective, Outcome, Simulator,
};
pub use parameter::{Parameter, Parameters, Transform};
pub use result::OptimisationResult;
pub use stopping::{LimitTracker, Limits, Patience};
pub use termination::Termination;
