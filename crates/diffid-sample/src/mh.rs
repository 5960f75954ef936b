//! Adaptive random-walk Metropolis–Hastings, one or more independent chains.

use crate::chains::{
    candidate, check_schedule, check_start, check_step, log_prior, mcmc_state, Mcmc, Moves,
    Proposed, Starts,
};
use crate::{Chains, Prior, SampleError, Sampler, SamplerState};
use diffid_core::{Outcome, Termination};
use rand::Rng;
use rand_distr::StandardNormal;

/// The optimal random-walk scale for a Gaussian target (Roberts, Gelman & Gilks 1997;
/// Gelman, Roberts & Gilks 1996): the proposal covariance is `2.38² / d` times the target's.
const OPTIMAL_SCALE: f64 = 2.38 * 2.38;

/// The acceptance rate the global scale is tuned towards during warm-up.
const TARGET_ACCEPTANCE: f64 = 0.234;

/// The adaptation rate `γ_t = (t + 1)^−0.6`.
const ADAPTATION_EXPONENT: f64 = 0.6;

/// Random-walk Metropolis–Hastings with the covariance adapted during warm-up (Haario, Saksman
/// & Tamminen 2001, with the global scale of Andrieu & Thoms 2008 as in PINTS's
/// Haario–Bardenet sampler), frozen after it.
///
/// Each chain proposes `y = x + L z`, `z ~ N(0, I)`, with `L Lᵀ = λ · (2.38²/d) · Σ`; the
/// adapted `Σ` and `λ` are shared by the chains. `Σ` starts as `diag((step_size · s_i)²) ·
/// d / 2.38²`, so the first proposals have standard deviation `step_size · s_i` with `s_i` the
/// spread of parameter `i`'s prior ([`Prior::scale`]); `λ` starts at 1. Warm-up has two
/// stages, as Stan's windowed adaptation:
/// 1. the first half: after iteration `t`, with `γ = (t + 1)^−0.6`, `x̄` the chains' mean
///    position and `ᾱ` their mean acceptance probability, `μ ← μ + γ (x̄ − μ)`,
///    `Σ ← (1 − γ) Σ + γ · mean_c (x_c − μ)(x_c − μ)ᵀ`, `ln λ ← ln λ + γ (ᾱ − 0.234)`;
/// 2. at the half-way point `Σ` becomes the sample covariance of every chain's draws over the
///    second quarter of warm-up and `λ` restarts at 1; in the second half only `λ` adapts
///    (the same rule, `t` counted from the restart).
///
/// After warm-up the proposal is frozen, so every chain is a plain Metropolis chain with the
/// same kernel and R-hat stays meaningful. Pooling the chains' draws learns a `d`-dimensional
/// covariance several times faster than one chain alone; the second stage tunes the scale
/// for the covariance that is kept (measured on a 6-D Gaussian with correlation 0.8: bulk ESS
/// of 4 chains × 4 000 draws rose from 50–230 with per-chain running adaptation to 690–840).
/// A proposal outside the prior's support is rejected without evaluation (never clamped); a
/// failed or NaN likelihood is a rejection, counted.
///
/// Every iteration asks for one proposal per chain as one batch, so chains run in parallel
/// on a parallel evaluator; all random numbers are drawn in `ask`, in chain order, so the
/// chains are bit-identical for any evaluator.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetropolisHastings {
    chains: usize,
    iterations: usize,
    warmup: Option<usize>,
    thin: usize,
    step_size: f64,
    adapt: bool,
    seed: Option<u64>,
}

impl Default for MetropolisHastings {
    fn default() -> Self {
        Self {
            chains: 1,
            iterations: 1000,
            warmup: None,
            thin: 1,
            step_size: 0.1,
            adapt: true,
            seed: None,
        }
    }
}

impl MetropolisHastings {
    /// The defaults: 1 chain, 1000 iterations of which half are warm-up, no thinning, step
    /// size 0.1, adaptation on, a seed from OS entropy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of independent chains (default 1; use 4 or more for R-hat).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] for 0.
    pub fn with_num_chains(mut self, chains: usize) -> Result<Self, SampleError> {
        if chains == 0 {
            return Err(crate::error::invalid(
                "num_chains",
                chains,
                "num_chains must be at least 1",
            ));
        }
        self.chains = chains;
        Ok(self)
    }

    /// Iterations per chain, warm-up included (default 1000).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] for 0, or when a warm-up set before is not shorter.
    pub fn with_iterations(mut self, iterations: usize) -> Result<Self, SampleError> {
        check_schedule(iterations, self.warmup.unwrap_or(0), self.thin)?;
        self.iterations = iterations;
        Ok(self)
    }

    /// Warm-up iterations, adapted and then discarded (default: half the iterations).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] unless shorter than the iterations.
    pub fn with_warmup(mut self, warmup: usize) -> Result<Self, SampleError> {
        check_schedule(self.iterations, warmup, self.thin)?;
        self.warmup = Some(warmup);
        Ok(self)
    }

    /// Keep every `thin`-th draw after warm-up (default 1: all).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] for 0.
    pub fn with_thin(mut self, thin: usize) -> Result<Self, SampleError> {
        check_schedule(self.iterations, self.warmup(), thin)?;
        self.thin = thin;
        Ok(self)
    }

    /// The initial proposal's standard deviation, relative to each prior's spread (default 0.1).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] unless finite and > 0.
    pub fn with_step_size(mut self, step_size: f64) -> Result<Self, SampleError> {
        check_step(step_size)?;
        self.step_size = step_size;
        Ok(self)
    }

    /// Whether warm-up adapts the proposal (default true; false gives a plain random walk of
    /// the initial proposal).
    #[must_use]
    pub fn with_adaptation(mut self, adapt: bool) -> Self {
        self.adapt = adapt;
        self
    }

    /// The random seed (default: drawn from OS entropy when a state starts).
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Number of chains.
    pub fn num_chains(&self) -> usize {
        self.chains
    }

    /// Iterations per chain, warm-up included.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Warm-up iterations.
    pub fn warmup(&self) -> usize {
        self.warmup.unwrap_or(self.iterations / 2)
    }

    /// Thinning.
    pub fn thin(&self) -> usize {
        self.thin
    }

    /// Initial relative step size.
    pub fn step_size(&self) -> f64 {
        self.step_size
    }

    /// The seed, if set.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// Whether warm-up adapts the proposal.
    pub fn adaptation(&self) -> bool {
        self.adapt
    }

    /// Starts a state (see [`Sampler::init`]).
    ///
    /// # Errors
    /// As [`Sampler::init`].
    pub fn start(&self, initial: &[f64], priors: &[Prior]) -> Result<MhState, SampleError> {
        check_start(initial, priors)?;
        check_schedule(self.iterations, self.warmup(), self.thin)?;
        let d = initial.len();
        let seed = self.seed.unwrap_or_else(rand::random);
        let covariance = priors
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                let s = self.step_size * p.scale();
                (0..d).map(move |j| {
                    if i == j {
                        s * s * d as f64 / OPTIMAL_SCALE
                    } else {
                        0.0
                    }
                })
            })
            .collect::<Vec<f64>>();
        let adaptation = Adaptation::new(initial, covariance);
        Ok(MhState {
            config: self.clone(),
            core: Mcmc::new(
                priors,
                seed,
                Starts::new(initial, priors, self.step_size, self.chains),
                Chains::new(self.chains, d, self.warmup(), self.thin),
            ),
            adaptation,
            pending: None,
        })
    }
}

impl Sampler for MetropolisHastings {
    fn name(&self) -> &'static str {
        "metropolis_hastings"
    }

    fn init(
        &self,
        initial: &[f64],
        priors: &[Prior],
    ) -> Result<Box<dyn SamplerState>, SampleError> {
        Ok(Box::new(self.start(initial, priors)?))
    }
}

/// One chain's adapted proposal.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Adaptation {
    mean: Vec<f64>,
    /// `Σ`, row-major.
    covariance: Vec<f64>,
    log_scale: f64,
    /// The Cholesky factor of the proposal covariance `λ (2.38²/d) Σ`, lower, row-major.
    factor: Vec<f64>,
}

impl Adaptation {
    fn new(mean: &[f64], covariance: Vec<f64>) -> Self {
        let mut a = Self {
            mean: mean.to_vec(),
            factor: vec![0.0; covariance.len()],
            covariance,
            log_scale: 0.0,
        };
        a.refactor();
        a
    }

    /// Recomputes the proposal's Cholesky factor; keeps the previous one when `Σ` has lost
    /// positive definiteness numerically.
    fn refactor(&mut self) {
        let d = self.mean.len();
        let s = self.log_scale.exp() * OPTIMAL_SCALE / d as f64;
        let scaled: Vec<f64> = self.covariance.iter().map(|v| v * s).collect();
        if let Some(l) = cholesky(&scaled, d) {
            self.factor = l;
        }
    }

    fn propose(&self, x: &[f64], z: &[f64]) -> Vec<f64> {
        let d = x.len();
        (0..d)
            .map(|i| {
                x[i] + self.factor[i * d..=i * d + i]
                    .iter()
                    .zip(z)
                    .map(|(l, z)| l * z)
                    .sum::<f64>()
            })
            .collect()
    }

    /// One step of the first warm-up stage from every chain's current state `xs`, pooled,
    /// and their mean acceptance probability.
    fn adapt(&mut self, t: usize, xs: &[&[f64]], acceptance: f64) {
        let gamma = rate(t);
        let d = self.mean.len();
        let n = xs.len() as f64;
        for (i, m) in self.mean.iter_mut().enumerate() {
            let avg = xs.iter().map(|x| x[i]).sum::<f64>() / n;
            *m += gamma * (avg - *m);
        }
        for i in 0..d {
            for j in 0..d {
                let avg = xs
                    .iter()
                    .map(|x| (x[i] - self.mean[i]) * (x[j] - self.mean[j]))
                    .sum::<f64>()
                    / n;
                let c = &mut self.covariance[i * d + j];
                *c = (1.0 - gamma) * *c + gamma * avg;
            }
        }
        self.log_scale += gamma * (acceptance - TARGET_ACCEPTANCE);
        self.refactor();
    }

    /// One step of the second warm-up stage: the global scale only.
    fn tune_scale(&mut self, t: usize, acceptance: f64) {
        self.log_scale += rate(t) * (acceptance - TARGET_ACCEPTANCE);
        self.refactor();
    }

    /// Between the stages: `Σ` becomes the sample covariance of all chains' draws over the
    /// second half of the first stage (iterations `t/2 + 1 ..= t`), and `λ` restarts at 1.
    /// Kept as it is when those draws cannot give a positive-definite covariance.
    fn restart_from(&mut self, chains: &Chains, t: usize) {
        let d = self.mean.len();
        let draws: Vec<&[f64]> = chains
            .warmup_draws
            .iter()
            .flat_map(|c| c.chunks_exact(d).skip(t / 2).take(t - t / 2))
            .collect();
        let n = draws.len() as f64;
        if draws.len() <= d {
            return;
        }
        let mean: Vec<f64> = (0..d)
            .map(|i| draws.iter().map(|x| x[i]).sum::<f64>() / n)
            .collect();
        let mut cov = vec![0.0; d * d];
        for x in &draws {
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += (x[i] - mean[i]) * (x[j] - mean[j]) / (n - 1.0);
                }
            }
        }
        if cholesky(&cov, d).is_some() {
            self.covariance = cov;
            self.mean = mean;
            self.log_scale = 0.0;
            self.refactor();
        }
    }
}

/// The adaptation rate `γ_t = (t + 1)^−0.6`.
fn rate(t: usize) -> f64 {
    ((t + 1) as f64).powf(-ADAPTATION_EXPONENT)
}

/// The lower Cholesky factor of a symmetric `d × d` matrix, or `None` when it is not
/// positive definite.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// One iteration's proposals: per chain, the proposal (or `None` outside the support) and
/// the uniform draw that decides acceptance.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Proposals {
    points: Vec<Option<Vec<f64>>>,
    uniforms: Vec<f64>,
}

/// A running [`MetropolisHastings`] sampler.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MhState {
    config: MetropolisHastings,
    core: Mcmc,
    adaptation: Adaptation,
    pending: Option<Proposals>,
}

impl MhState {
    /// The seed this state draws from.
    pub fn seed(&self) -> u64 {
        self.core.seed
    }

    fn draw(&mut self) -> Proposals {
        let d = self.core.chains.dim;
        let mut points = Vec::with_capacity(self.core.walkers.len());
        let mut uniforms = Vec::with_capacity(self.core.walkers.len());
        let a = &self.adaptation;
        for w in &self.core.walkers {
            let z: Vec<f64> = (0..d)
                .map(|_| self.core.rng.sample::<f64, _>(StandardNormal))
                .collect();
            uniforms.push(self.core.rng.random::<f64>());
            let y = a.propose(&w.x, &z);
            let inside = log_prior(&self.core.priors, &y) > f64::NEG_INFINITY;
            points.push(inside.then_some(y));
        }
        Proposals { points, uniforms }
    }

    /// Accepts or rejects every chain's proposal given the outcomes of those inside the
    /// support, then records the iteration.
    fn apply(&mut self, proposals: Proposals, outcomes: &[Outcome]) {
        self.core.iteration += 1;
        let t = self.core.iteration;
        let adapting = self.config.adapt && t <= self.core.chains.warmup;
        let mut told = outcomes.iter();
        let mut alphas = Vec::with_capacity(self.core.walkers.len());
        for (c, (point, u)) in proposals
            .points
            .into_iter()
            .zip(proposals.uniforms)
            .enumerate()
        {
            let walker = &mut self.core.walkers[c];
            let (accept, alpha) =
                match candidate(&mut self.core.chains, &self.core.priors, point, &mut told) {
                    Some(cand) => {
                        let log_ratio = cand.log_posterior() - walker.log_posterior();
                        let alpha = log_ratio.exp().min(1.0);
                        // u ∈ [0, 1): accept with probability min(1, e^{log_ratio}).
                        (
                            (u.ln() < log_ratio).then_some(cand),
                            if alpha.is_nan() { 0.0 } else { alpha },
                        )
                    }
                    None => (None, 0.0),
                };
            let accepted = accept.is_some();
            if let Some(candidate) = accept {
                *walker = candidate;
            }
            self.core.chains.count(t, c, accepted);
            self.core.tally(accepted);
            alphas.push(alpha);
        }
        if adapting {
            let half = self.core.chains.warmup / 2;
            let acceptance = alphas.iter().sum::<f64>() / alphas.len() as f64;
            if t <= half {
                let xs: Vec<&[f64]> = self.core.walkers.iter().map(|w| w.x.as_slice()).collect();
                self.adaptation.adapt(t, &xs, acceptance);
            } else {
                self.adaptation.tune_scale(t - half, acceptance);
            }
        }
        self.core.chains.record(t, &self.core.walkers);
        if adapting && t == self.core.chains.warmup / 2 {
            self.adaptation.restart_from(&self.core.chains, t);
        }
        if t >= self.config.iterations {
            self.core.done = Some(Termination::Completed);
        }
    }
}

impl Proposed for Proposals {
    fn points(&self) -> &[Option<Vec<f64>>] {
        &self.points
    }
}

impl Moves for MhState {
    type Batch = Proposals;

    fn core(&self) -> &Mcmc {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Mcmc {
        &mut self.core
    }

    fn pending(&mut self) -> &mut Option<Proposals> {
        &mut self.pending
    }

    fn propose(&mut self) -> Proposals {
        self.draw()
    }

    fn settle(&mut self, batch: Proposals, outcomes: &[Outcome]) {
        self.apply(batch, outcomes);
    }
}

mcmc_state!(MhState);
