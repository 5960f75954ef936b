//! Why a run stopped.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The reason an optimisation run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Termination {
    /// The best value reached the configured threshold.
    ThresholdReached,
    /// The function values of recent iterations are all within tolerance of each other.
    FunctionTolerance,
    /// The search distribution or simplex has shrunk below the position tolerance.
    PositionTolerance,
    /// The (projected) gradient is below the gradient tolerance: a stationary point.
    GradientTolerance,
    /// The iteration limit was reached.
    MaxIterations,
    /// The evaluation limit was reached.
    MaxEvaluations,
    /// No improvement for the configured patience.
    Patience,
    /// The wall-clock limit was reached.
    TimeLimit,
    /// The run was cancelled (Ctrl-C, or a cancellation flag set from elsewhere).
    Cancelled,
    /// The user's callback asked the run to stop.
    Callback,
    /// A sampler completed the iterations it was set to run.
    Completed,
    /// The algorithm can make no further progress (a numerical breakdown, or every candidate of
    /// an iteration failed to evaluate); the message says why.
    Stalled(String),
}

impl Termination {
    /// Whether this ending is a convergence criterion (not a limit or an interruption).
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            Self::ThresholdReached
                | Self::Completed
                | Self::FunctionTolerance
                | Self::PositionTolerance
                | Self::GradientTolerance
        )
    }

    /// A short machine-friendly name (`"max_iterations"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::ThresholdReached => "threshold_reached",
            Self::FunctionTolerance => "function_tolerance",
            Self::PositionTolerance => "position_tolerance",
            Self::GradientTolerance => "gradient_tolerance",
            Self::MaxIterations => "max_iterations",
            Self::MaxEvaluations => "max_evaluations",
            Self::Patience => "patience",
            Self::TimeLimit => "time_limit",
            Self::Cancelled => "cancelled",
            Self::Callback => "callback",
            Self::Completed => "completed",
            Self::Stalled(_) => "stalled",
        }
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ThresholdReached => write!(f, "the objective reached the threshold"),
            Self::FunctionTolerance => write!(f, "converged: function values within tolerance"),
            Self::PositionTolerance => write!(f, "converged: step size below position tolerance"),
            Self::GradientTolerance => write!(f, "converged: gradient below gradient tolerance"),
            Self::MaxIterations => write!(f, "stopped at the iteration limit"),
            Self::MaxEvaluations => write!(f, "stopped at the evaluation limit"),
            Self::Patience => write!(f, "stopped: no improvement within the patience"),
            Self::TimeLimit => write!(f, "stopped at the time limit"),
            Self::Cancelled => write!(f, "cancelled"),
            Self::Callback => write!(f, "stopped by the callback"),
            Self::Completed => write!(f, "completed the planned iterations"),
            Self::Stalled(why) => write!(f, "stalled: {why}"),
        }
    }
}
