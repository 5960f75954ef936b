//! Errors of the core vocabulary.

use thiserror::Error;

/// Errors raised when parameters, bounds or optimiser settings are invalid.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum CoreError {
    /// Bounds whose lower end is not below the upper end.
    #[error("invalid bounds{} [{lower}, {upper}]: the lower bound must be finite-or-infinite, not NaN, and strictly below the upper bound", if name.is_empty() { String::new() } else { format!(" for parameter '{name}'") })]
    InvalidBounds {
        /// Parameter name (empty when not yet attached to a parameter).
        name: String,
        /// Lower end given.
        lower: f64,
        /// Upper end given.
        upper: f64,
    },
    /// An initial value outside its parameter's bounds, or not finite.
    #[error("initial value {value} for parameter '{name}' is outside its bounds [{lower}, {upper}] or not finite; choose a starting value inside the bounds")]
    InitialOutOfBounds {
        /// Parameter name.
        name: String,
        /// The initial value.
        value: f64,
        /// Lower bound.
        lower: f64,
        /// Upper bound.
        upper: f64,
    },
    /// A point (other than a start) outside a parameter's bounds, or not finite.
    #[error("{what} has {value} for parameter '{name}', outside its bounds [{lower}, {upper}] or not finite; give a point inside the bounds")]
    OutOfBounds {
        /// What the point is (e.g. "gradient point").
        what: &'static str,
        /// Parameter name.
        name: String,
        /// The value.
        value: f64,
        /// Lower bound.
        lower: f64,
        /// Upper bound.
        upper: f64,
    },
    /// Two parameters with the same name.
    #[error("parameter '{name}' is given twice; each parameter name may appear once")]
    DuplicateParameter {
        /// The repeated name.
        name: String,
    },
    /// A vector whose length does not match the problem's dimension.
    #[error("{what} has length {got}, but the problem has {expected} parameters")]
    DimensionMismatch {
        /// What the vector is (e.g. "initial vector").
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// An optimiser setting outside its valid range.
    #[error("invalid setting {setting} = {value}: {requirement}")]
    InvalidSetting {
        /// The setting's name, as in the builder method (e.g. `step_size`).
        setting: &'static str,
        /// The value given, formatted.
        value: String,
        /// What a valid value looks like.
        requirement: &'static str,
    },
    /// Data that is not a table of time plus observation columns.
    #[error("invalid data shape: {reason}")]
    DataShape {
        /// What is wrong with the shape.
        reason: String,
    },
    /// A NaN or infinite data entry.
    #[error("data row {row}, column {column} is {value}; every time and observation must be finite (drop or impute missing values first)")]
    DataNotFinite {
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based; 0 is time).
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// Times that do not strictly increase.
    #[error("data times must strictly increase: row {row} has time {value} after {previous}; sort the rows by time and merge duplicates")]
    TimesNotIncreasing {
        /// Row index (0-based) of the offending time.
        row: usize,
        /// The time in the row before.
        previous: f64,
        /// The offending time.
        value: f64,
    },
    /// A transform that does not fit the parameter's range or start.
    #[error("parameter '{name}' cannot use the {transform} transform: {reason}")]
    InvalidTransform {
        /// Parameter name.
        name: String,
        /// The transform's name (`log`, `logit`).
        transform: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A problem with no parameters to fit.
    #[error("the problem has no parameters to fit; add at least one with with_parameter")]
    NoParameters,
}

/// Errors from telling an ask/tell state results it cannot accept.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TellError {
    /// The state has already terminated; it accepts no more results.
    #[error("the optimiser or sampler has already terminated; start a new state to continue")]
    AlreadyTerminated,
    /// A number of results that does not match the points asked for.
    #[error("expected {expected} results (one per asked point), received {received}")]
    ResultCountMismatch {
        /// Points asked for.
        expected: usize,
        /// Results received.
        received: usize,
    },
    /// `tell` without a pending `ask`.
    #[error("tell was called without a pending ask; call ask first")]
    NothingAsked,
    /// Values told to a state that asked for values and gradients.
    #[error("this optimiser asked for values and gradients; tell (value, gradient) pairs")]
    GradientsRequired,
    /// Gradients told to a state that asked for values only.
    #[error("this optimiser asked for values only; tell values, not (value, gradient) pairs")]
    GradientsNotExpected,
    /// A gradient whose length differs from the problem's dimension.
    #[error("gradient {index} has length {got}, but the problem has {expected} parameters")]
    GradientLength {
        /// Which told result (0-based).
        index: usize,
        /// The problem's dimension.
        expected: usize,
        /// The gradient's length.
        got: usize,
    },
}
