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
    /// Invalid priors or sampler settings.
    #[error(transparent)]
    Sample(#[from] diffid_sample::SampleError),
    /// A prior whose density is zero at the parameter's initial value.
    #[error("the prior {prior} of parameter '{name}' has zero density at its initial value {value}; start inside the prior's support")]
    PriorZeroAtStart {
        /// The parameter.
        name: String,
        /// Its initial value.
        value: f64,
        /// The prior, formatted.
        prior: String,
    },
    /// Sampling a parameter that has neither a prior nor finite bounds.
    #[error("parameter '{name}' has no prior and no finite bounds, so its prior is improper; give it prior=... (e.g. diffid.Normal(0, 10)) or bounds=(lower, upper)")]
    NoPrior {
        /// The parameter.
        name: String,
    },
    /// Sampling a problem whose cost is not a likelihood.
    #[error("cannot sample this problem: {reason}")]
    NotALikelihood {
        /// Why, and what to use instead.
        reason: String,
    },
    /// A checkpoint that cannot be written, read or used for this run.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A likelihood that failed (or was `-inf`) at every point drawn from the prior.
    #[error("the likelihood is -inf or fails at all {points} points drawn from the prior, so the evidence is zero or undefined; check the model, the data and the priors' ranges")]
    NoLikelihoodMass {
        /// Points drawn.
        points: usize,
    },
    /// A cost naming a noise parameter that is not declared.
    #[error("the cost names the noise parameter '{name}', which is not a declared parameter (known: {known:?}); declare it with with_parameter('{name}', initial, bounds, prior)")]
    UnknownNoiseParameter {
        /// The name.
        name: String,
        /// The declared parameters.
        known: Vec<String>,
    },
    /// A prior attached to a parameter that is not declared.
    #[error("a prior is given for '{name}', which is not a declared parameter (known: {known:?})")]
    UnknownPriorParameter {
        /// The name.
        name: String,
        /// The declared parameters.
        known: Vec<String>,
    },
    /// An experimental condition that cannot be used.
    #[error("condition '{condition}': {reason}")]
    Condition {
        /// The condition's name.
        condition: String,
        /// What is wrong, naming the input, parameter or data column.
        reason: String,
    },
    /// Multi-start settings that cannot be used.
    #[error("multi-start optimisation: {reason}")]
    MultiStart {
        /// What is wrong, naming the parameter or setting.
        reason: String,
    },
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
