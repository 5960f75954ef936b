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

/// The stopping settings: at least one iteration, a non-zero evaluation budget, a threshold
/// that is a number, and non-negative tolerances.
pub(crate) fn check_stopping(
    max_iter: usize,
    max_evaluations: Option<usize>,
    threshold: f64,
    function_tolerance: f64,
    position_tolerance: f64,
) -> Result<(), CoreError> {
    if max_iter == 0 {
        return Err(invalid(
            "max_iter",
            &max_iter,
            "max_iter must be at least 1",
        ));
    }
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
