//! The facade's error type, wrapping each crate's errors.

use thiserror::Error;

/// Any error diffid reports.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid parameters, bounds, data or settings.
    #[error(transparent)]
    Core(#[from] diffid_core::CoreError),
    /// Invalid DiffSL, parameter names or solver settings.
    #[error(transparent)]
    Ode(#[from] diffid_ode::OdeError),
    /// Invalid cost metric settings.
    #[error(transparent)]
    Cost(#[from] diffid_cost::CostError),
    /// A run that could not proceed.
    #[error(transparent)]
    Exec(#[from] diffid_exec::ExecError),
    /// A tell that the state refused.
    #[error(transparent)]
    Tell(#[from] diffid_core::TellError),
    /// A builder missing a required piece.
    #[error("the problem is incomplete: {what}")]
    Incomplete {
        /// What is missing and how to add it.
        what: &'static str,
    },
    /// A single evaluation that failed where a value was required.
    #[error("evaluation failed at {point:?}: {reason}")]
    Evaluation {
        /// The point.
        point: Vec<f64>,
        /// Why it failed.
        reason: String,
    },
}
