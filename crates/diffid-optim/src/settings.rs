//! Checks of the settings every optimiser shares (step size, limits, tolerances).

use diffid_core::CoreError;

/// An [`CoreError::InvalidSetting`] for `setting = value`, with what a valid value looks like.
pub(crate) fn invalid(
    setting: &'static str,
    value: &dyn std::fmt::Display,
    requirement: &'static str,
) -> CoreError {
    CoreError::InvalidSetting {
        setting,
        value: value.to_string(),
        requirement,
    }
}

/// The initial step size must be finite and positive.
pub(crate) fn check_step_size(step_size: f64) -> Result<(), CoreError> {
    if !step_size.is_finite() || step_size <= 0.0 {
        return Err(invalid(
            "step_size",
            &step_size,
            "step_size must be a finite number > 0",
        ));
    }
    Ok(())
}

/// The stopping settings: a non-zero evaluation budget, a threshold
/// that is a number, and non-negative tolerances.
pub(crate) fn check_stopping(
    max_evaluations: Option<usize>,
    threshold: f64,
    function_tolerance: f64,
    position_tolerance: f64,
) -> Result<(), CoreError> {
    if max_evaluations == Some(0) {
        return Err(invalid(
            "max_evaluations",
            &0,
            "max_evaluations must be at least 1, or None for no limit",
        ));
    }
    if threshold.is_nan() {
        return Err(invalid(
            "threshold",
            &threshold,
            "threshold must be a number (use -inf to disable it), not NaN",
        ));
    }
    if function_tolerance.is_nan() || function_tolerance < 0.0 {
        return Err(invalid(
            "function_tolerance",
            &function_tolerance,
            "function_tolerance must be a number >= 0 (0 disables it)",
        ));
    }
    if position_tolerance.is_nan() || position_tolerance < 0.0 {
        return Err(invalid(
            "position_tolerance",
            &position_tolerance,
            "position_tolerance must be a number >= 0 (0 disables it)",
        ));
    }
    Ok(())
}

/// Writes the builder methods and getters of the stopping settings every optimiser shares:
/// `with_max_iter`, `with_max_evaluations`, `with_threshold`, `with_patience`,
/// `with_time_limit` and their getters, over the fields `max_iter`, `max_evaluations`,
/// `threshold` and `limits`. `$iterations` names what one iteration is in the docs, and
/// `$budget` says how the evaluation budget is applied.
macro_rules! stopping_methods {
    ($iterations:literal, $budget:literal) => {
        #[doc = concat!("The maximum number of ", $iterations, " (default 1000). Must be at least 1.")]
        #[must_use]
        pub fn with_max_iter(mut self, max_iter: usize) -> Self {
            self.max_iter = max_iter;
            self
        }

        #[doc = concat!(
            "The maximum number of objective evaluations, failed ones included (default `None`: ",
            "no limit). ", $budget, " Must not be `Some(0)`."
        )]
        #[must_use]
        pub fn with_max_evaluations(mut self, max_evaluations: Option<usize>) -> Self {
            self.max_evaluations = max_evaluations;
            self
        }

        /// Stop once the best value is `<= threshold`. Off by default (`-inf`): a likelihood or a tiny-scale objective must not stop at an arbitrary value. Use
        /// `f64::NEG_INFINITY` to disable. Must not be NaN.
        #[must_use]
        pub fn with_threshold(mut self, threshold: f64) -> Self {
            self.threshold = threshold;
            self
        }

        #[doc = concat!(
            "Stop (as [`Termination::Patience`](diffid_core::Termination::Patience)) after this ",
            "many ", $iterations, ", or this much time, without a strictly lower best value ",
            "(default `None`)."
        )]
        #[must_use]
        pub fn with_patience(mut self, patience: Option<diffid_core::Patience>) -> Self {
            self.limits.patience = patience;
            self
        }

        /// Stop (as [`Termination::TimeLimit`](diffid_core::Termination::TimeLimit)) once this
        /// much wall-clock time has passed since the start (default `None`).
        #[must_use]
        pub fn with_time_limit(mut self, time_limit: Option<std::time::Duration>) -> Self {
            self.limits.time_limit = time_limit;
            self
        }

        #[doc = concat!("The maximum number of ", $iterations, ".")]
        pub fn max_iter(&self) -> usize {
            self.max_iter
        }

        /// The maximum number of evaluations, if any.
        pub fn max_evaluations(&self) -> Option<usize> {
            self.max_evaluations
        }

        /// The value at or below which the run stops.
        pub fn threshold(&self) -> f64 {
            self.threshold
        }

        /// Patience and time limit.
        pub fn limits(&self) -> diffid_core::Limits {
            self.limits
        }
    };
}
pub(crate) use stopping_methods;
