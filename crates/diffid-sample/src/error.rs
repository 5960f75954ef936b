//! Errors of the samplers and priors.

use thiserror::Error;

/// Errors raised for invalid priors, sampler settings or starting points.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SampleError {
    /// A prior whose parameter is out of its valid range.
    #[error("invalid {distribution} prior: {parameter} = {value} {requirement}")]
    InvalidPrior {
        /// The family (`"normal"`, ...).
        distribution: &'static str,
        /// The offending parameter of the distribution (`"sd"`, ...).
        parameter: &'static str,
        /// The value given.
        value: f64,
        /// What a valid value looks like.
        requirement: &'static str,
    },
    /// Bounds that leave a prior no mass to truncate to.
    #[error("the prior {distribution} has no mass within the bounds [{lower}, {upper}]; choose bounds that overlap the prior's support")]
    EmptyTruncation {
        /// The prior, formatted.
        distribution: String,
        /// Lower bound given.
        lower: f64,
        /// Upper bound given.
        upper: f64,
    },
    /// A sampler setting outside its valid range.
    #[error("invalid setting {setting} = {value}: {requirement}")]
    InvalidSetting {
        /// The setting, as in the builder method (`iterations`, `warmup`, ...).
        setting: &'static str,
        /// The value given, formatted.
        value: String,
        /// What a valid value looks like.
        requirement: String,
    },
    /// A start point where the prior density is zero.
    #[error("the initial value {value} of parameter {index} lies outside the support [{lower}, {upper}] of its prior; start where the prior density is positive")]
    StartOutsidePrior {
        /// Coordinate (0-based).
        index: usize,
        /// The value given.
        value: f64,
        /// Lower end of the prior's support.
        lower: f64,
        /// Upper end of the prior's support.
        upper: f64,
    },
    /// Vectors of different lengths.
    #[error("{what} has length {got}, but the problem has {expected} parameters")]
    DimensionMismatch {
        /// What the vector is.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Length given.
        got: usize,
    },
}

pub(crate) fn invalid(
    setting: &'static str,
    value: impl std::fmt::Display,
    requirement: impl Into<String>,
) -> SampleError {
    SampleError::InvalidSetting {
        setting,
        value: value.to_string(),
        requirement: requirement.into(),
    }
}
