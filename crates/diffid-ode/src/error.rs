//! Errors of the ODE layer.

use thiserror::Error;

/// Errors found while building an ODE problem: bad DiffSL, bad parameter names, bad shapes.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum OdeError {
    /// The DiffSL source does not parse.
    #[error("DiffSL syntax error: {message}")]
    Syntax {
        /// The parser's message, with line and column.
        message: String,
    },
    /// The DiffSL source parses but is not a valid model.
    #[error("DiffSL model error: {message}")]
    Semantic {
        /// The DiffSL compiler's message, pointing at the offending line.
        message: String,
    },
    /// The JIT compilation failed.
    #[error("DiffSL compilation failed: {message}")]
    Compile {
        /// The compiler's message.
        message: String,
    },
    /// A fitted parameter with no matching `in_i` input.
    #[error("unknown parameter '{name}': the model's inputs (in_i) are [{}]; rename the parameter or add it to in_i", known.join(", "))]
    UnknownParameter {
        /// The name given.
        name: String,
        /// The model's input names.
        known: Vec<String>,
    },
    /// A parameter given twice.
    #[error("parameter '{name}' is given twice; each input may be fitted once")]
    DuplicateParameter {
        /// The repeated name.
        name: String,
    },
    /// An input that is not fitted and whose DiffSL default is not a number.
    #[error("input '{name}' (line {line}) is not fitted and its default is not a plain number; fit it with with_parameter(\"{name}\", ...) or give it a numeric default")]
    NoDefault {
        /// The input name.
        name: String,
        /// Its line in the DiffSL source (1-based).
        line: usize,
    },
    /// Data whose observation columns do not match the model's outputs.
    #[error("data has {got} observation column(s) but the model has {expected} output(s) ({}); give one data column per output after the time column", names.join(", "))]
    OutputMismatch {
        /// Number of model outputs.
        expected: usize,
        /// Observation columns given.
        got: usize,
        /// The outputs' names, in order.
        names: Vec<String>,
    },
    /// A data time before the model's start time.
    #[error(
        "data time {time} (row {row}) is before the model's start time {t0}; times must be >= {t0}"
    )]
    TimeBeforeStart {
        /// Row index.
        row: usize,
        /// The offending time.
        time: f64,
        /// The model's start time.
        t0: f64,
    },
    /// An unknown solver name.
    #[error("unknown solver '{name}'; choose one of: auto, tsit45, bdf, esdirk34, tr_bdf2")]
    UnknownSolver {
        /// The name given.
        name: String,
    },
    /// An unknown linear-algebra backend name.
    #[error("unknown backend '{name}'; choose \"dense\" or \"sparse\"")]
    UnknownBackend {
        /// The name given.
        name: String,
    },
    /// Output times that are not finite or not increasing.
    #[error("invalid output times: {reason}")]
    Times {
        /// What is wrong, naming the time.
        reason: String,
    },
    /// A dose into a state the model does not have.
    #[error("unknown state '{name}' for a dose: the model's states (u_i) are [{}]", known.join(", "))]
    UnknownState {
        /// The name given.
        name: String,
        /// The model's state names.
        known: Vec<String>,
    },
    /// A dose or breakpoint that cannot be applied (its time, its amount, the model).
    #[error("invalid dosing schedule: {reason}")]
    Schedule {
        /// What is wrong, naming the dose or breakpoint.
        reason: String,
    },
    /// Invalid tolerances.
    #[error("invalid tolerances rtol = {rtol}, atol = {atol}: both must be finite and > 0")]
    InvalidTolerances {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
}

/// Why one solve failed. A failed solve is data for the optimiser, not a fatal error.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SolveError {
    /// diffsol reported an error (step size underflow, nonlinear solver failure, ...).
    #[error("ODE solve failed at t = {t}: {message}")]
    Solver {
        /// Time reached.
        t: f64,
        /// diffsol's message.
        message: String,
    },
    /// The step budget ran out before the last data time.
    #[error("ODE solve exceeded {max_steps} steps at t = {t} (the model may be stiff at these parameters; try the 'bdf' solver)")]
    TooManySteps {
        /// The budget.
        max_steps: usize,
        /// Time reached.
        t: f64,
    },
    /// A non-finite prediction.
    #[error("ODE solution became non-finite at t = {t}")]
    NonFinite {
        /// Time of the first non-finite prediction.
        t: f64,
    },
    /// The model's `stop` condition ended the solve before the last data time.
    #[error("the model's stop condition fired at t = {t}, before the last data time")]
    StoppedEarly {
        /// Time of the root (plain solves), or the end of the step in which a `stop`
        /// component changed sign (sensitivity solves).
        t: f64,
    },
    /// The caller stopped the solve at `t`: the predictions so far told it what it needed
    /// (see [`OdeSimulator::solve_watched`](crate::OdeSimulator::solve_watched)). Not a failure
    /// of the model.
    #[error("the solve was stopped by its caller at t = {t}")]
    Cut {
        /// Time of the last prediction written.
        t: f64,
    },
    /// No steady state was found for pre-equilibration.
    #[error("no steady state found for pre-equilibration: {reason}")]
    SteadyState {
        /// Why: Newton's failure and the integration's.
        reason: String,
    },
    /// diffsol panicked; caught at the boundary.
    #[error("ODE solver panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
}
