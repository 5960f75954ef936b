//! The affine-invariant ensemble sampler (Goodman & Weare 2010) with the stretch move.

use crate::chains::{
    candidate, check_schedule, check_start, check_step, log_prior, mcmc_state, Mcmc, Moves,
    Proposed, Starts,
};
use crate::{Chains, Prior, SampleError, Sampler, SamplerState};
use diffid_core::{Outcome, Termination};
use rand::Rng;

/// The affine-invariant ensemble sampler with the stretch move of Goodman & Weare (2010), in
/// the parallel red/blue form of Foreman-Mackey et al. (2013, emcee).
///
/// The walkers are split into two halves. Each iteration updates the first half, then the
/// second: walker `k` of the half being moved picks a walker `j` of the other half uniformly,
/// draws `z` from `g(z) ∝ 1/√z` on `[1/a, a]`, proposes `y = x_j + z (x_k − x_j)` and accepts
/// with probability `min(1, z^{d−1} p(y) / p(x_k))`. Each half's proposals are one batch, so
/// a parallel evaluator evaluates half the ensemble at once. Walkers start dispersed around the
/// initial point as the Metropolis–Hastings chains do; proposals outside the prior's support
/// are rejected without evaluation, failed likelihoods are counted rejections. The first
/// `warmup` iterations are discarded (the stretch move needs no tuning).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnsembleSampler {
    walkers: Option<usize>,
    iterations: usize,
    warmup: Option<usize>,
    thin: usize,
    stretch: f64,
    step_size: f64,
    seed: Option<u64>,
}

impl Default for EnsembleSampler {
    fn default() -> Self {
        Self {
            walkers: None,
            iterations: 1000,
            warmup: None,
            thin: 1,
            stretch: 2.0,
            step_size: 0.1,
            seed: None,
        }
    }
}

impl EnsembleSampler {
    /// The defaults: `max(4·d, 8)` walkers, 1000 iterations of which half are warm-up, stretch
    /// scale `a = 2`, initial spread 0.1 of each prior's spread, a seed from OS entropy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of walkers (at least `2·d`, checked when a state starts).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] for fewer than 2.
    pub fn with_walkers(mut self, walkers: usize) -> Result<Self, SampleError> {
        if walkers < 2 {
            return Err(crate::error::invalid(
                "walkers",
                walkers,
                "walkers must be at least 2 (and at least twice the number of parameters)",
            ));
        }
        self.walkers = Some(walkers);
        Ok(self)
    }

    /// Iterations, warm-up included (default 1000). Each iteration moves every walker once.
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] for 0 or a warm-up that is not shorter.
    pub fn with_iterations(mut self, iterations: usize) -> Result<Self, SampleError> {
        check_schedule(iterations, self.warmup.unwrap_or(0), self.thin)?;
        self.iterations = iterations;
        Ok(self)
    }

    /// Warm-up iterations to discard (default: half the iterations).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] unless shorter than the iterations.
    pub fn with_warmup(mut self, warmup: usize) -> Result<Self, SampleError> {
        check_schedule(self.iterations, warmup, self.thin)?;
        self.warmup = Some(warmup);
        Ok(self)
    }

    /// Keep every `thin`-th iteration after warm-up (default 1).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] for 0.
    pub fn with_thin(mut self, thin: usize) -> Result<Self, SampleError> {
        check_schedule(self.iterations, self.warmup(), thin)?;
        self.thin = thin;
        Ok(self)
    }

    /// The stretch scale `a` (default 2).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] unless finite and > 1.
    pub fn with_stretch(mut self, a: f64) -> Result<Self, SampleError> {
        if !(a.is_finite() && a > 1.0) {
            return Err(crate::error::invalid(
                "stretch",
                a,
                "the stretch scale a must be a finite number > 1 (2 is the usual choice)",
            ));
        }
        self.stretch = a;
        Ok(self)
    }

    /// How far the walkers' starts spread around the initial point, relative to each prior's
    /// spread (default 0.1).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] unless finite and > 0.
    pub fn with_step_size(mut self, step_size: f64) -> Result<Self, SampleError> {
        check_step(step_size)?;
        self.step_size = step_size;
        Ok(self)
    }

    /// The random seed (default: drawn from OS entropy when a state starts).
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The number of walkers set, or `None` for the default `max(4·d, 8)`.
    pub fn walkers(&self) -> Option<usize> {
        self.walkers
    }

    /// Iterations, warm-up included.
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

    /// The stretch scale `a`.
    pub fn stretch(&self) -> f64 {
        self.stretch
    }

    /// The relative spread of the starts.
    pub fn step_size(&self) -> f64 {
        self.step_size
    }

    /// The seed, if set.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// Starts a state (see [`Sampler::init`]).
    ///
    /// # Errors
    /// As [`Sampler::init`]; also fewer walkers than twice the dimension.
    pub fn start(&self, initial: &[f64], priors: &[Prior]) -> Result<EnsembleState, SampleError> {
        check_start(initial, priors)?;
        check_schedule(self.iterations, self.warmup(), self.thin)?;
        let d = initial.len();
        let n = self.walkers.unwrap_or_else(|| (4 * d).max(8));
        if n < 2 * d {
            return Err(crate::error::invalid(
                "walkers",
                n,
                format!("the ensemble needs at least 2·d = {} walkers for {d} parameters, so that the walkers span the parameter space", 2 * d),
            ));
        }
        let seed = self.seed.unwrap_or_else(rand::random);
        Ok(EnsembleState {
            config: self.clone(),
            core: Mcmc::new(
                priors,
                seed,
                Starts::new(initial, priors, self.step_size, n),
                Chains::new(n, d, self.warmup(), self.thin),
            ),
            half: 0,
            pending: None,
        })
    }
}

impl Sampler for EnsembleSampler {
    fn name(&self) -> &'static str {
        "ensemble"
    }

    fn init(
        &self,
        initial: &[f64],
        priors: &[Prior],
    ) -> Result<Box<dyn SamplerState>, SampleError> {
        Ok(Box::new(self.start(initial, priors)?))
    }
}

/// One half-step's proposals: per walker of the half, its proposal (or `None` outside the
/// support), `z` and the uniform that decides acceptance.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Stretch {
    walkers: Vec<usize>,
    points: Vec<Option<Vec<f64>>>,
    z: Vec<f64>,
    uniforms: Vec<f64>,
}

/// A running [`EnsembleSampler`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EnsembleState {
    config: EnsembleSampler,
    core: Mcmc,
    /// The half moved next (0: the first, 1: the second).
    half: usize,
    pending: Option<Stretch>,
}

impl EnsembleState {
    /// The seed this state draws from.
    pub fn seed(&self) -> u64 {
        self.core.seed
    }

    /// The walkers of half `h`.
    fn half_range(&self, h: usize) -> std::ops::Range<usize> {
        let n = self.core.walkers.len();
        let mid = n / 2;
        if h == 0 {
            0..mid
        } else {
            mid..n
        }
    }

    fn draw(&mut self) -> Stretch {
        let a = self.config.stretch;
        let moving = self.half_range(self.half);
        let others = self.half_range(1 - self.half);
        let mut m = Stretch {
            walkers: moving.clone().collect(),
            points: Vec::with_capacity(moving.len()),
            z: Vec::with_capacity(moving.len()),
            uniforms: Vec::with_capacity(moving.len()),
        };
        for k in moving {
            let j = others.start + self.core.rng.random_range(0..others.len());
            // Inverse-CDF draw from g(z) ∝ 1/√z on [1/a, a].
            let u: f64 = self.core.rng.random();
            let z = ((a - 1.0) * u + 1.0).powi(2) / a;
            let accept_u: f64 = self.core.rng.random();
            let (xk, xj) = (&self.core.walkers[k].x, &self.core.walkers[j].x);
            let y: Vec<f64> = xk.iter().zip(xj).map(|(k, j)| j + z * (k - j)).collect();
            let inside = log_prior(&self.core.priors, &y) > f64::NEG_INFINITY;
            m.points.push(inside.then_some(y));
            m.z.push(z);
            m.uniforms.push(accept_u);
        }
        m
    }

    fn apply(&mut self, moves: Stretch, outcomes: &[Outcome]) {
        let d = self.core.chains.dim as f64;
        let t = self.core.iteration + 1;
        let mut told = outcomes.iter();
        for (((k, point), z), u) in moves
            .walkers
            .into_iter()
            .zip(moves.points)
            .zip(moves.z)
            .zip(moves.uniforms)
        {
            let accepted =
                match candidate(&mut self.core.chains, &self.core.priors, point, &mut told) {
                    Some(c) => {
                        let log_ratio = (d - 1.0) * z.ln() + c.log_posterior()
                            - self.core.walkers[k].log_posterior();
                        let accept = u.ln() < log_ratio;
                        if accept {
                            self.core.walkers[k] = c;
                        }
                        accept
                    }
                    None => false,
                };
            self.core.chains.count(t, k, accepted);
            self.core.tally(accepted);
        }
        if self.half == 0 {
            self.half = 1;
        } else {
            self.half = 0;
            self.core.iteration = t;
            self.core.chains.record(t, &self.core.walkers);
            if t >= self.config.iterations {
                self.core.done = Some(Termination::Completed);
            }
        }
    }
}

impl Proposed for Stretch {
    fn points(&self) -> &[Option<Vec<f64>>] {
        &self.points
    }
}

impl Moves for EnsembleState {
    type Batch = Stretch;

    fn core(&self) -> &Mcmc {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Mcmc {
        &mut self.core
    }

    fn pending(&mut self) -> &mut Option<Stretch> {
        &mut self.pending
    }

    fn propose(&mut self) -> Stretch {
        self.draw()
    }

    fn settle(&mut self, batch: Stretch, outcomes: &[Outcome]) {
        self.apply(batch, outcomes);
    }
}

mcmc_state!(EnsembleState);
