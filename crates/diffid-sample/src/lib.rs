//! Ask/tell samplers for diffid: priors, MCMC samplers and their diagnostics.
//!
//! - [`Prior`] / [`Distribution`]: a proper prior per parameter (uniform, normal, log-normal,
//!   half-normal, gamma, beta), truncated to the parameter's bounds, with log-densities and
//!   quantile functions from `statrs`.
//! - [`MetropolisHastings`]: random-walk Metropolis–Hastings whose proposal covariance adapts
//!   during warm-up, several independent chains advanced as one batch per iteration.
//! - [`EnsembleSampler`]: the affine-invariant stretch-move ensemble (Goodman & Weare), each
//!   half of the ensemble one batch.
//! - [`diagnostics`]: rank-normalised split R-hat, bulk and tail effective sample sizes and
//!   Monte Carlo standard errors (Vehtari et al. 2021), equal to ArviZ's.
//!
//! Samplers are ask/tell states like the optimisers ([`diffid_core::AskTell`]): they never
//! evaluate anything. They ask for points and are told the **negative log-likelihood** at each
//! (a failed evaluation is a rejection); they add the log-prior themselves and never ask for a
//! point outside the prior's support. All random numbers are drawn in `ask`, so chains are
//! bit-identical however the batches are evaluated.
//!
//! ```
//! use diffid_core::{Ask, AskTell, Outcome};
//! use diffid_sample::{Distribution, MetropolisHastings, Prior};
//!
//! let priors = vec![Prior::new(Distribution::Normal { mean: 0.0, sd: 10.0 }).unwrap(); 2];
//! let sampler = MetropolisHastings::new()
//!     .with_num_chains(4).unwrap()
//!     .with_iterations(2000).unwrap()
//!     .with_seed(1);
//! let mut state = sampler.start(&[1.0, -1.0], &priors).unwrap();
//! // The negative log-likelihood of a standard normal.
//! let nll = |x: &[f64]| 0.5 * x.iter().map(|v| v * v).sum::<f64>();
//! while let Ask::Evaluate(points) = state.ask() {
//!     let outcomes: Vec<Outcome> = points.iter().map(|x| Outcome::Value(nll(x))).collect();
//!     state.tell(&outcomes).unwrap();
//! }
//! let chains = diffid_sample::SamplerState::chains(&state);
//! assert_eq!(chains.n_draws(), 1000);
//! ```

mod chains;
pub mod diagnostics;
mod ensemble;
mod error;
mod mh;
pub mod nested;
mod prior;

pub use chains::{log_prior, Chains, Sampler, SamplerState};
pub use ensemble::{EnsembleSampler, EnsembleState};
pub use error::SampleError;
pub use mh::{MetropolisHastings, MhState};
pub use nested::{
    BoundKind, DynamicNestedSampler, NestedPoint, NestedResult, NestedState, Sampling,
};
pub use prior::{Distribution, Prior};
