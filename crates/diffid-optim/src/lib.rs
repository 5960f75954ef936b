//! Ask/tell optimisers for diffid.
//!
//! The shortest use: minimise a closure with [`minimise`].
//!
//! ```
//! use diffid_optim::{minimise, Bounds, CmaEs};
//!
//! let f = |x: &[f64]| (x[0] - 3.0).powi(2) + (x[1] + 1.0).powi(2);
//! let box2 = [Bounds::new(-10.0, 10.0).expect("valid"); 2];
//! let r = minimise(&CmaEs::new().with_seed(7), f, &[0.0, 0.0], Some(&box2)).expect("runs");
//! assert!((r.x[0] - 3.0).abs() < 1e-5 && (r.x[1] + 1.0).abs() < 1e-5);
//! assert!(r.success(), "{}", r.message());
//! ```
//!
//! This crate holds the optimisers that fit a model's parameters: derivative-free (CMA-ES,
//! Nelder–Mead) and gradient-based (Adam, L-BFGS-B). Each one is a
//! configuration implementing [`diffid_core::Optimiser`] that starts an ask/tell state
//! ([`diffid_core::OptimiserState`]); the state never evaluates anything itself, so the same run
//! can be driven sequentially, on a thread pool, from Python or by hand, with bit-identical
//! results (for a given seed, where the optimiser draws random numbers).
//!
//! - [`CmaEs`] / [`CmaEsState`]: the covariance matrix adaptation evolution strategy (CMA-ES)
//!   with the default settings of Hansen's tutorial ("The CMA Evolution Strategy: A Tutorial"):
//!   weighted recombination, cumulative step-size adaptation and rank-one plus rank-μ covariance
//!   updates. Box bounds are handled by resampling and then reflecting; failed evaluations rank
//!   worst and the run goes on. Opt-in IPOP and BIPOP restarts ([`Restarts`]) help on
//!   multimodal objectives.
//! - [`NelderMead`] / [`NelderMeadState`]: the Nelder–Mead downhill simplex method (Nelder and
//!   Mead 1965, with the step and tie rules of Lagarias et al. 1998, "Convergence properties of
//!   the Nelder–Mead simplex method in low dimensions"). Deterministic; it asks for the initial
//!   simplex as one batch, then one trial point at a time (a shrink as one batch). Points
//!   outside the bounds are folded back in by reflection; failed evaluations rank worst.
//! - [`Adam`] / [`AdamState`]: Adam (Kingma & Ba 2015) on the gradient, projected onto the
//!   bounds.
//! - [`Lbfgsb`] / [`LbfgsbState`]: L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995): limited-memory
//!   quasi-Newton with box bounds, generalised Cauchy point, subspace minimisation and a strong
//!   Wolfe line search.
//!
//! The gradient-based states ask [`Ask::EvaluateWithGradient`](diffid_core::Ask) for one
//! point at a time and are told values with gradients
//! ([`tell_gradients`](diffid_core::AskTell::tell_gradients)).
//!
//! ```
//! use diffid_core::{testkit::sphere, Ask, AskTell, Bounds, Optimiser, Outcome};
//! use diffid_optim::CmaEs;
//!
//! let opt = CmaEs::default().with_seed(1).with_threshold(1e-10);
//! let mut state = opt.init(&[1.0, -1.0], &[Bounds::unbounded(); 2]).expect("valid start");
//! let reason = loop {
//!     match state.ask() {
//!         Ask::Evaluate(points) => {
//!             let outcomes: Vec<Outcome> =
//!                 points.iter().map(|x| Outcome::from_value(sphere(x))).collect();
//!             state.tell(&outcomes).expect("one outcome per point");
//!         }
//!         Ask::EvaluateWithGradient(_) => unreachable!("CMA-ES asks for values only"),
//!         Ask::Done(reason) => break reason,
//!     }
//! };
//! assert!(reason.is_success());
//! let (_, best) = state.best().expect("some evaluation succeeded");
//! assert!(best <= 1e-10);
//! ```

mod adam;
mod cmaes;
mod gradient;
mod lbfgsb;
mod minimise;
mod nelder_mead;
mod settings;
mod start_only;
mod state;

pub use adam::{Adam, AdamState};
pub use cmaes::{CmaEs, Restarts};
pub use lbfgsb::{Lbfgsb, LbfgsbState};
pub use minimise::{minimise, MinimiseError};

// The vocabulary a user of this crate needs, so that it can be used on its own.
pub use diffid_core::{
    Ask, AskTell, Bounds, CoreError, GradientOutcome, Limits, OptimisationResult, Optimiser,
    OptimiserState, Outcome, Patience, TellError, Termination,
};
pub use nelder_mead::{NelderMead, NelderMeadState};
pub use start_only::StartOnly;
pub use state::CmaEsState;
