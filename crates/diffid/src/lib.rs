//! diffid: parameter inference for differential-equation models and black-box objectives.
//!
//! This is the thin facade over the workspace's crates: it re-exports their vocabulary and adds
//! the builders that turn a model, data, parameters and a cost into a [`Problem`], and
//! [`Problem::optimise`], which runs an ask/tell optimiser through an evaluator.
//!
//! ```no_run
//! use diffid::{CmaEs, DiffsolBuilder, Sse};
//!
//! let data: Vec<f64> = vec![/* rows of [t, prey, predator] */];
//! let problem = DiffsolBuilder::new()
//!     .with_diffsl("in_i { k = 1.0 } u_i { y = 1.0 } F_i { -k * y }")
//!     .with_data(data.len() / 2, 2, &data)
//!     .with_parameter("k", 0.5, None)
//!     .with_cost(Sse::new(1.0).unwrap())
//!     .build()
//!     .unwrap();
//! let result = problem.optimise(None, Some(&CmaEs::new().with_seed(1)), &Default::default()).unwrap();
//! println!("{:?} {}", result.x, result.value);
//! ```

mod bayes;
mod builder;
mod checkpoint;
mod error;
mod measurements;
mod objective;
mod problem;
mod space;

pub use bayes::{
    attach_priors, likelihood_of, require_priors, resolve_prior, split_noise, NoiseLayout,
};
pub use builder::{DiffsolBuilder, Override, Parallelism};
pub use checkpoint::Checkpoint;
pub use error::Error;
pub use measurements::{ExperimentObjective, Measurement, NoiseDistribution, NoiseScale, Sigma};
pub use objective::{ConditionsObjective, FitObjective};
pub use problem::{MultiStart, Problem, SamplingResult, Start};
pub use space::SearchSpace;

pub use diffid_core::{
    check_gradients, fd, panic_message, simulate_each, testkit, Ask, AskTell, Bounds, CoreError,
    FnGradObjective, FnObjective, GradientOutcome, Limits, Objective, OptimisationResult,
    Optimiser, OptimiserState, Outcome, Parameter, Parameters, Patience, SimulationError,
    Simulator, TellError, Termination, TimeSeries, Transform,
};
pub use diffid_cost::{CostError, CostMetric, CostSum, GaussianNll, Noise, Rmse, Sse};
pub use diffid_exec::{
    default_threads, drive, evaluate_gradients, evaluate_one, evaluate_one_with_gradient,
    result_of, run, Control, Delegated, Drive, Evaluator, ExecError, Observer, Progress,
    RayonEvaluator, RunOptions, Sequential,
};
pub use diffid_ode::{
    check_increasing, Backend, DiffslModel, Dose, Input, OdeError, OdeSimulator, SolveError,
    SolveOptions, SolverCounts, SolverKind,
};
pub use diffid_optim::{
    Adam, AdamState, CmaEs, CmaEsState, Lbfgsb, LbfgsbState, NelderMead, NelderMeadState, Restarts,
    StartOnly,
};
pub use diffid_sample::{
    diagnostics, log_prior, nested, BoundKind, Chains, Distribution, DynamicNestedSampler,
    EnsembleSampler, EnsembleState, MetropolisHastings, MhState, NestedPoint, NestedResult,
    NestedState, Prior, SampleError, Sampler, SamplerState, Sampling,
};
