//! What every MCMC state shares: the sampler traits, the draws kept, and the dispersed starts.

use crate::{Prior, SampleError};
use diffid_core::{Ask, AskTell, Outcome, TellError, Termination};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::fmt;

/// A sampler's configuration: it starts states.
pub trait Sampler: Send + Sync + fmt::Debug {
    /// A short name (`"metropolis_hastings"`, ...).
    fn name(&self) -> &'static str;

    /// Starts a state at `initial` under `priors` (one per coordinate). The states are told
    /// negative log-likelihoods and add the log-prior themselves.
    ///
    /// # Errors
    /// [`SampleError::DimensionMismatch`] when the lengths differ,
    /// [`SampleError::StartOutsidePrior`] when the prior density is zero at `initial`, and
    /// [`SampleError::InvalidSetting`] for settings that do not fit the problem (too few
    /// walkers for its dimension, ...).
    fn init(&self, initial: &[f64], priors: &[Prior])
        -> Result<Box<dyn SamplerState>, SampleError>;
}

/// The state of a running MCMC sampler.
pub trait SamplerState: AskTell + Sync {
    /// The draws so far.
    fn chains(&self) -> &Chains;

    /// Set when the likelihood could not be evaluated at the initial point: the point and
    /// the reason. The state has then stopped; there is nothing to sample from.
    fn start_failure(&self) -> Option<(Vec<f64>, String)>;

    /// The overall acceptance rate of the iterations so far (warm-up included), for
    /// progress displays.
    fn acceptance_rate(&self) -> f64;

    /// The concrete state, for saving it in a checkpoint; `None` (the default) for a state
    /// that cannot be saved.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// The draws of a set of chains (or ensemble walkers), all of the same length.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Chains {
    /// Number of chains (walkers).
    pub n_chains: usize,
    /// Number of parameters.
    pub dim: usize,
    /// Warm-up iterations discarded before the kept draws.
    pub warmup: usize,
    /// Thinning: every `thin`-th iteration after warm-up is kept.
    pub thin: usize,
    /// Kept draws, per chain: `draws[c]` holds `n_draws × dim` values, draw-major.
    pub draws: Vec<Vec<f64>>,
    /// The log-posterior (log-likelihood + log-prior) of each kept draw, per chain.
    pub log_posterior: Vec<Vec<f64>>,
    /// The log-likelihood of each kept draw, per chain.
    pub log_likelihood: Vec<Vec<f64>>,
    /// The warm-up draws, per chain, `warmup × dim`, draw-major (for trace plots).
    pub warmup_draws: Vec<Vec<f64>>,
    /// Accepted proposals after warm-up, per chain.
    pub accepted: Vec<usize>,
    /// Proposals made after warm-up, per chain.
    pub proposed: Vec<usize>,
    /// Proposals rejected because the likelihood evaluation failed (NaN, a failed solve).
    pub failed: usize,
    /// Proposals rejected without evaluation because they left the prior's support.
    pub outside_support: usize,
}

impl Chains {
    pub(crate) fn new(n_chains: usize, dim: usize, warmup: usize, thin: usize) -> Self {
        Self {
            n_chains,
            dim,
            warmup,
            thin,
            draws: vec![Vec::new(); n_chains],
            log_posterior: vec![Vec::new(); n_chains],
            log_likelihood: vec![Vec::new(); n_chains],
            warmup_draws: vec![Vec::new(); n_chains],
            accepted: vec![0; n_chains],
            proposed: vec![0; n_chains],
            failed: 0,
            outside_support: 0,
        }
    }

    /// Kept draws per chain.
    pub fn n_draws(&self) -> usize {
        self.log_posterior.first().map_or(0, Vec::len)
    }

    /// Acceptance rate after warm-up, per chain (NaN before any post-warm-up proposal).
    pub fn acceptance_rates(&self) -> Vec<f64> {
        self.accepted
            .iter()
            .zip(&self.proposed)
            .map(|(&a, &p)| {
                if p == 0 {
                    f64::NAN
                } else {
                    a as f64 / p as f64
                }
            })
            .collect()
    }

    /// The draws of parameter `j` in chain `c`.
    pub fn parameter(&self, c: usize, j: usize) -> Vec<f64> {
        self.draws[c].chunks_exact(self.dim).map(|x| x[j]).collect()
    }

    /// Records the positions after `iteration` (1-based) completed iterations: warm-up
    /// draws are kept apart, later ones every `thin`-th.
    pub(crate) fn record(&mut self, iteration: usize, walkers: &[Walker]) {
        if iteration <= self.warmup {
            for (store, w) in self.warmup_draws.iter_mut().zip(walkers) {
                store.extend_from_slice(&w.x);
            }
        } else if (iteration - self.warmup) % self.thin == 0 {
            for (c, w) in walkers.iter().enumerate() {
                self.draws[c].extend_from_slice(&w.x);
                self.log_posterior[c].push(w.log_posterior());
                self.log_likelihood[c].push(w.log_likelihood);
            }
        }
    }

    /// Counts one proposal of chain `c` at `iteration` (1-based).
    pub(crate) fn count(&mut self, iteration: usize, c: usize, accepted: bool) {
        if iteration > self.warmup {
            self.proposed[c] += 1;
            if accepted {
                self.accepted[c] += 1;
            }
        }
    }
}

/// One chain's (or walker's) current position.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Walker {
    pub x: Vec<f64>,
    pub log_likelihood: f64,
    pub log_prior: f64,
}

impl Walker {
    pub fn log_posterior(&self) -> f64 {
        self.log_likelihood + self.log_prior
    }
}

/// The walker a proposal would become: `None` when it left the prior's support (no
/// evaluation was asked) or when its evaluation, the next of `told`, failed; both are counted
/// in `chains`.
pub(crate) fn candidate<'a>(
    chains: &mut Chains,
    priors: &[Prior],
    point: Option<Vec<f64>>,
    told: &mut impl Iterator<Item = &'a Outcome>,
) -> Option<Walker> {
    let Some(x) = point else {
        chains.outside_support += 1;
        return None;
    };
    if let Some(Outcome::Value(nll)) = told.next() {
        Some(Walker {
            log_prior: log_prior(priors, &x),
            log_likelihood: -nll,
            x,
        })
    } else {
        chains.failed += 1;
        None
    }
}

/// The log-prior of `x`: the sum of the coordinates' log-densities (`-inf` outside the
/// support).
pub fn log_prior(priors: &[Prior], x: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (p, &v) in priors.iter().zip(x) {
        let l = p.log_density(v);
        if l == f64::NEG_INFINITY {
            return l;
        }
        sum += l;
    }
    sum
}

/// Checks a start point against the priors.
pub(crate) fn check_start(initial: &[f64], priors: &[Prior]) -> Result<(), SampleError> {
    if priors.len() != initial.len() {
        return Err(SampleError::DimensionMismatch {
            what: "priors",
            expected: initial.len(),
            got: priors.len(),
        });
    }
    for (index, (p, &value)) in priors.iter().zip(initial).enumerate() {
        if !value.is_finite() || p.log_density(value) == f64::NEG_INFINITY {
            let (lower, upper) = p.support();
            return Err(SampleError::StartOutsidePrior {
                index,
                value,
                lower,
                upper,
            });
        }
    }
    Ok(())
}

/// How many rounds of redrawing a dispersed start whose likelihood failed before that chain
/// starts at the initial point instead.
const START_ROUNDS: usize = 20;

/// Dispersed starting points, evaluated in batches.
///
/// Chain 0 starts at the initial point. Every other chain starts at
/// `initial + step_size · scale ⊙ z`, `z ~ N(0, I)`, where `scale` is each prior's spread
/// ([`Prior::scale`]); a draw outside the prior's support is redrawn at once (up to 100
/// times, then the initial point is used), and a draw whose likelihood fails is redrawn in
/// the next round (up to 20 rounds, then the initial point is used). The initial point must
/// evaluate: when it fails, the run cannot start.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Starts {
    initial: Vec<f64>,
    spread: Vec<f64>,
    /// Per chain: the settled walker, once its start has evaluated.
    settled: Vec<Option<Walker>>,
    /// Chains whose current candidate is asked, and the candidates.
    pending: Vec<(usize, Vec<f64>)>,
    round: usize,
    failure: Option<(Vec<f64>, String)>,
}

impl Starts {
    pub fn new(initial: &[f64], priors: &[Prior], step_size: f64, n_chains: usize) -> Self {
        Self {
            initial: initial.to_vec(),
            spread: priors.iter().map(|p| step_size * p.scale()).collect(),
            settled: vec![None; n_chains],
            pending: Vec::new(),
            round: 0,
            failure: None,
        }
    }

    /// The failure at the initial point, if any.
    pub fn failure(&self) -> Option<&(Vec<f64>, String)> {
        self.failure.as_ref()
    }

    /// The candidates to evaluate next (drawing new ones for unsettled chains), or `None`
    /// when every chain has a start.
    pub fn ask(&mut self, rng: &mut ChaCha8Rng, priors: &[Prior]) -> Option<Vec<Vec<f64>>> {
        if self.pending.is_empty() {
            if self.settled.iter().all(Option::is_some) {
                return None;
            }
            let last_round = self.round >= START_ROUNDS;
            for c in 0..self.settled.len() {
                if self.settled[c].is_some() {
                    continue;
                }
                let x = if c == 0 || last_round {
                    self.initial.clone()
                } else {
                    self.draw(rng, priors)
                };
                self.pending.push((c, x));
            }
            self.round += 1;
        }
        Some(self.pending.iter().map(|(_, x)| x.clone()).collect())
    }

    fn draw(&self, rng: &mut ChaCha8Rng, priors: &[Prior]) -> Vec<f64> {
        for _ in 0..100 {
            let x: Vec<f64> = self
                .initial
                .iter()
                .zip(&self.spread)
                .map(|(&m, &s)| m + s * rng.sample::<f64, _>(StandardNormal))
                .collect();
            if log_prior(priors, &x) > f64::NEG_INFINITY {
                return x;
            }
        }
        self.initial.clone()
    }

    /// The outcomes of the candidates asked. Failed candidates are redrawn in the next round;
    /// a failure at the initial point itself stops the starts (see [`failure`](Self::failure)).
    pub fn tell(&mut self, outcomes: &[Outcome], priors: &[Prior]) {
        let pending = std::mem::take(&mut self.pending);
        for ((c, x), o) in pending.into_iter().zip(outcomes) {
            match o {
                Outcome::Value(nll) => {
                    self.settled[c] = Some(Walker {
                        log_prior: log_prior(priors, &x),
                        log_likelihood: -nll,
                        x,
                    });
                }
                Outcome::Failed(reason) => {
                    if x == self.initial && self.failure.is_none() {
                        self.failure = Some((x, reason.clone()));
                    }
                }
            }
        }
    }

    /// The settled walkers (once [`ask`](Self::ask) returned `None`).
    pub fn walkers(&self) -> Vec<Walker> {
        self.settled.iter().flatten().cloned().collect()
    }

    /// Number of candidates asked and not yet told.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// Checks the settings every MCMC sampler shares.
pub(crate) fn check_schedule(
    iterations: usize,
    warmup: usize,
    thin: usize,
) -> Result<(), SampleError> {
    use crate::error::invalid;
    if iterations == 0 {
        return Err(invalid(
            "iterations",
            iterations,
            "iterations must be at least 1",
        ));
    }
    if warmup >= iterations {
        return Err(invalid(
            "warmup",
            warmup,
            format!("warm-up must be shorter than the {iterations} iterations, which include it"),
        ));
    }
    if thin == 0 {
        return Err(invalid("thin", thin, "thin must be at least 1"));
    }
    Ok(())
}

/// Checks a step size.
pub(crate) fn check_step(step_size: f64) -> Result<(), SampleError> {
    if step_size.is_finite() && step_size > 0.0 {
        Ok(())
    } else {
        Err(crate::error::invalid(
            "step_size",
            step_size,
            "step_size must be a finite number > 0",
        ))
    }
}

/// What every MCMC state keeps: priors, the random stream, the starts, the walkers (chains),
/// the draws and the counts.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Mcmc {
    pub priors: Vec<Prior>,
    pub rng: ChaCha8Rng,
    pub seed: u64,
    pub starts: Starts,
    pub walkers: Vec<Walker>,
    pub chains: Chains,
    pub iteration: usize,
    pub evaluations: usize,
    pub failed: usize,
    pub accepted_all: usize,
    pub proposed_all: usize,
    pub done: Option<Termination>,
}

impl Mcmc {
    pub fn new(priors: &[Prior], seed: u64, starts: Starts, chains: Chains) -> Self {
        Self {
            priors: priors.to_vec(),
            rng: <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed),
            seed,
            starts,
            walkers: Vec::new(),
            chains,
            iteration: 0,
            evaluations: 0,
            failed: 0,
            accepted_all: 0,
            proposed_all: 0,
            done: None,
        }
    }

    /// Counts one settled proposal.
    pub fn tally(&mut self, accepted: bool) {
        self.proposed_all += 1;
        self.accepted_all += usize::from(accepted);
    }

    fn count(&mut self, outcomes: &[Outcome]) {
        self.evaluations += outcomes.len();
        self.failed += outcomes.iter().filter(|o| o.is_failed()).count();
    }

    pub fn acceptance_rate(&self) -> f64 {
        if self.proposed_all == 0 {
            f64::NAN
        } else {
            self.accepted_all as f64 / self.proposed_all as f64
        }
    }
}

/// A batch of proposals: per walker, the point (`None` outside the prior's support).
pub(crate) trait Proposed {
    fn points(&self) -> &[Option<Vec<f64>>];
}

/// The part of an MCMC state that differs between samplers: proposing a batch and settling
/// it. The ask/tell protocol around it ([`ask`], [`tell`]) is shared.
pub(crate) trait Moves {
    type Batch: Proposed;
    fn core(&self) -> &Mcmc;
    fn core_mut(&mut self) -> &mut Mcmc;
    fn pending(&mut self) -> &mut Option<Self::Batch>;
    /// Draws the next batch (all random numbers of an iteration are drawn here).
    fn propose(&mut self) -> Self::Batch;
    /// Accepts or rejects the batch given the outcomes of its points inside the support.
    fn settle(&mut self, batch: Self::Batch, outcomes: &[Outcome]);
}

/// [`AskTell::ask`] of an MCMC state: the starts first, then batches of proposals (a batch
/// entirely outside the support is settled at once, without evaluation).
pub(crate) fn ask<M: Moves>(m: &mut M) -> Ask {
    let core = m.core_mut();
    if let Some(done) = &core.done {
        return Ask::Done(done.clone());
    }
    if core.walkers.is_empty() {
        if let Some(points) = core.starts.ask(&mut core.rng, &core.priors) {
            return Ask::Evaluate(points);
        }
        core.walkers = core.starts.walkers();
    }
    loop {
        if let Some(b) = m.pending() {
            return Ask::Evaluate(b.points().iter().flatten().cloned().collect());
        }
        let batch = m.propose();
        if batch.points().iter().any(Option::is_some) {
            *m.pending() = Some(batch);
        } else {
            m.settle(batch, &[]);
            if let Some(done) = &m.core().done {
                return Ask::Done(done.clone());
            }
        }
    }
}

/// [`AskTell::tell`] of an MCMC state.
pub(crate) fn tell<M: Moves>(m: &mut M, outcomes: &[Outcome]) -> Result<(), TellError> {
    let core = m.core_mut();
    if core.done.is_some() {
        return Err(TellError::AlreadyTerminated);
    }
    if core.walkers.is_empty() {
        let expected = core.starts.pending();
        if expected == 0 {
            return Err(TellError::NothingAsked);
        }
        check_count(expected, outcomes.len())?;
        core.count(outcomes);
        core.starts.tell(outcomes, &core.priors);
        if let Some((x, reason)) = core.starts.failure() {
            core.done = Some(Termination::Stalled(format!(
                "the log-likelihood failed at the initial point {x:?}: {reason}"
            )));
        }
        return Ok(());
    }
    let Some(batch) = m.pending().take() else {
        return Err(TellError::NothingAsked);
    };
    let expected = batch.points().iter().flatten().count();
    if let Err(e) = check_count(expected, outcomes.len()) {
        *m.pending() = Some(batch);
        return Err(e);
    }
    m.core_mut().count(outcomes);
    m.settle(batch, outcomes);
    Ok(())
}

pub(crate) fn check_count(expected: usize, received: usize) -> Result<(), TellError> {
    if expected == received {
        Ok(())
    } else {
        Err(TellError::ResultCountMismatch { expected, received })
    }
}

/// Implements [`AskTell`] and [`SamplerState`] for an MCMC state through its [`Moves`].
macro_rules! mcmc_state {
    ($state:ty) => {
        impl diffid_core::AskTell for $state {
            fn ask(&mut self) -> diffid_core::Ask {
                crate::chains::ask(self)
            }

            fn tell(
                &mut self,
                outcomes: &[diffid_core::Outcome],
            ) -> Result<(), diffid_core::TellError> {
                crate::chains::tell(self, outcomes)
            }

            fn iterations(&self) -> usize {
                crate::chains::Moves::core(self).iteration
            }

            fn evaluations(&self) -> usize {
                crate::chains::Moves::core(self).evaluations
            }

            fn failed_evaluations(&self) -> usize {
                crate::chains::Moves::core(self).failed
            }
        }

        impl crate::SamplerState for $state {
            fn chains(&self) -> &crate::Chains {
                &crate::chains::Moves::core(self).chains
            }

            fn start_failure(&self) -> Option<(Vec<f64>, String)> {
                crate::chains::Moves::core(self).starts.failure().cloned()
            }

            fn acceptance_rate(&self) -> f64 {
                crate::chains::Moves::core(self).acceptance_rate()
            }

            fn as_any(&self) -> Option<&dyn std::any::Any> {
                Some(self)
            }
        }
    };
}
pub(crate) use mcmc_state;
