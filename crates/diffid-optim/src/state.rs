//! The running CMA-ES state: sampling in `ask`, the distribution update in `tell`.
//!
//! Notation and default constants follow Hansen, "The CMA Evolution Strategy: A Tutorial":
//! `m` the mean, `σ` the step size, `C = B D² Bᵀ` the covariance, `p_σ`/`p_c` the evolution
//! paths, `y = (x − m)/σ` the step of a candidate.

use crate::{CmaEs, Restarts};
use diffid_core::{
    Ask, AskTell, Bounds, LimitTracker, OptimiserState, Outcome, TellError, Termination,
};
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::collections::VecDeque;

/// Draws per candidate (the first plus resamples) before an out-of-bounds one is reflected.
const MAX_DRAWS: usize = 10;
/// Consecutive all-failed generations after which the run stalls.
const MAX_ALL_FAILED: usize = 10;
/// `TolUpSigma`: the run stops when `σ/σ₀` exceeds this times the largest standard deviation
/// of `C` (pycma's `tolupsigma`).
const TOL_UP_SIGMA: f64 = 1e20;
/// The longest history the stagnation criterion compares (generations).
const STAGNATION_MAX: usize = 20_000;
/// Largest condition number of `C` tolerated before the run stalls.
const MAX_CONDITION: f64 = 1e14;

const ALL_FAILED_MESSAGE: &str = "every candidate failed to evaluate for 10 consecutive \
                                  generations; check the model and the starting point";

/// The strategy constants, fixed by `n` and `λ`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Constants {
    lambda: usize,
    /// Recombination weights of the `μ` best, positive, summing to 1.
    weights: Vec<f64>,
    /// Active-CMA weights of the `λ − μ` worst, negative (Hansen 2016, "The CMA Evolution
    /// Strategy: A Tutorial", default weights): they shrink the covariance along unpromising
    /// directions, which speeds up adaptation on ridges and curved valleys.
    neg_weights: Vec<f64>,
    mu_eff: f64,
    c_sigma: f64,
    d_sigma: f64,
    c_c: f64,
    c_1: f64,
    c_mu: f64,
    /// `E‖N(0, I)‖`.
    chi_n: f64,
    /// Generations between eigendecompositions of `C`.
    eigen_gap: usize,
    /// Generations of best values compared by the function tolerance.
    tolfun_window: usize,
    /// Largest Mahalanobis norm `‖C^{-1/2} y‖` a reflected candidate's step may have.
    max_step_norm: f64,
}

impl Constants {
    fn new(n: usize, lambda: usize) -> Self {
        let nf = n as f64;
        let mu = (lambda / 2).max(1);
        let raw: Vec<f64> = (1..=mu)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
            .collect();
        let sum: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / sum).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();

        // The learning rates and damping of pycma 4 (`cma.options_parameters`,
        // `cma.sigma_adaptation.CMAAdaptSigmaCSA`), pinned by a test for several n and λ:
        // Hansen's tutorial values, with c_σ capped at 1/2 and its +3, c_1 scaled down for
        // λ < 6, a rank-μ offset of 1/4 (so that c_μ > 0, and active updates stay on, even
        // for μ = 1), and a damping that grows for μ_eff ≫ n only when n is not small.
        let c_sigma = ((mu_eff + 2.0) / (nf + mu_eff + 3.0)).min(0.5);
        let damp_inner = (3.0 * (1.0 - 0.5_f64.powf(nf / 9.0))).max(1.0);
        let d_sigma = 1.0
            + 2.0 * (damp_inner * ((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0)
            + c_sigma;
        let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
        let c_1 = (lambda as f64 / 6.0).min(1.0) * 2.0 / ((nf + 1.3).powi(2) + mu_eff);
        let c_mu = (1.0 - c_1)
            .min(2.0 * (0.25 + mu_eff + 1.0 / mu_eff - 2.0) / ((nf + 2.0).powi(2) + mu_eff));
        let raw_neg: Vec<f64> = (mu + 1..=lambda)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
            .collect();
        let neg_weights = if raw_neg.is_empty() || c_mu <= 0.0 {
            Vec::new()
        } else {
            let neg_sum: f64 = raw_neg.iter().map(|w| w.abs()).sum();
            let neg_sq: f64 = raw_neg.iter().map(|w| w * w).sum();
            let mu_eff_neg = neg_sum * neg_sum / neg_sq;
            let alpha_mu = 1.0 + c_1 / c_mu;
            let alpha_mu_eff = 1.0 + 2.0 * mu_eff_neg / (mu_eff + 2.0);
            let alpha_posdef = (1.0 - c_1 - c_mu) / (nf * c_mu);
            let scale = alpha_mu.min(alpha_mu_eff).min(alpha_posdef);
            raw_neg.iter().map(|w| scale * w / neg_sum).collect()
        };
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        let eigen_gap = (1.0 / ((c_1 + c_mu) * nf * 10.0)).floor() as usize + 1;
        let tolfun_window = 10 + (30.0 * nf / lambda as f64).ceil() as usize;
        let max_step_norm = nf.sqrt() + 2.0 * nf / (nf + 2.0);
        Self {
            lambda,
            weights,
            neg_weights,
            mu_eff,
            c_sigma,
            d_sigma,
            c_c,
            c_1,
            c_mu,
            chi_n,
            eigen_gap,
            tolfun_window,
            max_step_norm,
        }
    }
}

/// A generation asked for and not yet told.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Batch {
    points: Vec<Vec<f64>>,
    /// The step `y = (x − m)/σ` of each point used by the update.
    steps: Vec<DVector<f64>>,
    /// Whether each point is a plain draw (not resampled or reflected to meet the bounds):
    /// only plain draws take part in the active (negative) covariance update, whose
    /// assumptions a truncated or repaired sample breaks.
    plain: Vec<bool>,
}

/// One inner CMA-ES run: the search distribution and its local stopping criteria. Without
/// restarts a state has exactly one; with restarts each restart starts a fresh one.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Run {
    consts: Constants,
    bounds: Vec<Bounds>,
    /// Whether any coordinate has a finite bound (otherwise no bounds check is needed).
    bounded: bool,
    rng: ChaCha8Rng,
    function_tolerance: f64,
    position_tolerance: f64,
    /// An evaluation budget of this run alone (the small-population runs of BIPOP).
    budget: Option<usize>,

    mean: DVector<f64>,
    sigma: f64,
    /// The step size the run started with (for `TolUpSigma`).
    sigma0: f64,
    cov: DMatrix<f64>,
    /// Eigenvectors of `cov` at the last decomposition (columns).
    b: DMatrix<f64>,
    /// Square roots of the eigenvalues of `cov` at the last decomposition.
    d: DVector<f64>,
    p_sigma: DVector<f64>,
    p_c: DVector<f64>,
    /// Distribution updates made (generations with at least one success).
    updates: usize,
    updates_since_eigen: usize,

    pending: Option<Batch>,
    /// Generations and evaluations of this run.
    generations: usize,
    evaluations: usize,
    /// Best value of each of the last `tolfun_window` generations (`+inf` when all failed).
    recent_best: VecDeque<f64>,
    /// Ranking values of the last generation (`+inf` for failures).
    last_values: Vec<f64>,
    /// The best and the median value of every generation of this run, for the stagnation
    /// criterion (the most recent [`STAGNATION_MAX`] kept).
    best_history: VecDeque<f64>,
    median_history: VecDeque<f64>,
    all_failed_streak: usize,
    breakdown: Option<String>,
}

/// How an inner run is started.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct RunSpec {
    start: Vec<f64>,
    sigma: f64,
    lambda: usize,
    seed: u64,
    budget: Option<usize>,
}

/// The restart bookkeeping of IPOP and BIPOP (Auger & Hansen 2005; Hansen 2009).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Schedule {
    /// Draws the seed, start point and (BIPOP) population and step size of each restart.
    rng: ChaCha8Rng,
    restarts: usize,
    /// λ of the first run.
    default_lambda: usize,
    /// Restarts made in the large-population (IPOP) regime, and the λ of the latest one.
    large_restarts: usize,
    large_lambda: usize,
    /// Whether the current run belongs to the large-population regime (the first run does).
    run_is_large: bool,
    /// Global evaluations when the current run started.
    run_start: usize,
    /// Evaluations spent in each regime, and by the latest large-population run.
    large_spent: usize,
    small_spent: usize,
    last_large: usize,
}

/// A running CMA-ES: an ask/tell state started by [`CmaEs::start`] or [`Optimiser::init`].
///
/// All random numbers are drawn in [`ask`](AskTell::ask), in a fixed order, from `ChaCha8`
/// generators derived from [`seed`](Self::seed); the run therefore depends only on the seed and
/// the outcomes told, not on how or in which order the points were evaluated.
///
/// With [`Restarts`](crate::Restarts) enabled the state runs a sequence of inner CMA-ES runs;
/// [`mean`](Self::mean), [`sigma`](Self::sigma), [`population_size`](Self::population_size) and
/// the covariance describe the current one, while the best point, history and counts cover
/// them all.
///
/// [`Optimiser::init`]: diffid_core::Optimiser::init
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CmaEsState {
    config: CmaEs,
    seed: u64,
    initial: Vec<f64>,
    run: Run,
    schedule: Schedule,

    generations: usize,
    evaluations: usize,
    failed: usize,
    best: Option<(Vec<f64>, f64)>,
    history: Vec<f64>,
    termination: Option<Termination>,
    limits: LimitTracker,
}

/// Why the run should stop before the next generation.
enum Stop {
    /// A limit of the whole run (threshold, `max_iter`, `max_evaluations`).
    Global(Termination),
    /// A criterion of the inner run, after which a restart may follow.
    Local(Termination),
}

/// Largest population a restart grows to.
const MAX_POPULATION: usize = 1 << 20;

impl CmaEsState {
    /// Starts at `initial`; the arguments have been checked by [`CmaEs::start`].
    pub(crate) fn new(config: CmaEs, initial: &[f64], bounds: &[Bounds], seed: u64) -> Self {
        let n = initial.len();
        let lambda = config.population_size_for(n);
        let spec = RunSpec {
            start: initial.to_vec(),
            sigma: config.step_size(),
            lambda,
            seed,
            budget: None,
        };
        let run = Run::new(&config, bounds, &spec);
        let config_limits = config.limits();
        let mut master = ChaCha8Rng::seed_from_u64(seed);
        master.set_stream(1);
        Self {
            config,
            seed,
            initial: initial.to_vec(),
            run,
            schedule: Schedule {
                rng: master,
                restarts: 0,
                default_lambda: lambda,
                large_restarts: 0,
                large_lambda: lambda,
                run_is_large: true,
                run_start: 0,
                large_spent: 0,
                small_spent: 0,
                last_large: 0,
            },
            generations: 0,
            evaluations: 0,
            failed: 0,
            best: None,
            history: Vec::new(),
            termination: None,
            limits: LimitTracker::new(config_limits),
        }
    }

    /// The mean of the current search distribution.
    pub fn mean(&self) -> &[f64] {
        self.run.mean.as_slice()
    }

    /// The current step size σ.
    pub fn sigma(&self) -> f64 {
        self.run.sigma
    }

    /// Why the run stopped, once [`ask`](AskTell::ask) has returned [`Ask::Done`].
    pub fn termination(&self) -> Option<&Termination> {
        self.termination.as_ref()
    }

    /// The seed of the random number generator (drawn from OS entropy when none was set);
    /// starting again with [`CmaEs::with_seed`] and this seed replays the run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The population size λ of the current inner run: the number of points in every batch it
    /// asks for.
    pub fn population_size(&self) -> usize {
        self.run.consts.lambda
    }

    /// The number of restarts made so far (0 without [`Restarts`](crate::Restarts)).
    pub fn restarts(&self) -> usize {
        self.schedule.restarts
    }

    /// The configuration this state was started with.
    pub fn config(&self) -> &CmaEs {
        &self.config
    }

    /// The reason to stop before sampling the next generation, if any.
    fn stop_reason(&self) -> Option<Stop> {
        if let Some((_, best)) = &self.best {
            if *best <= self.config.threshold() {
                return Some(Stop::Global(Termination::ThresholdReached));
            }
        }
        if let Some(reason) = self.run.local_stop() {
            return Some(Stop::Local(reason));
        }
        if self.generations >= self.config.max_iter() {
            return Some(Stop::Global(Termination::MaxIterations));
        }
        if let Some(reason) = self.limits.reached(self.generations) {
            return Some(Stop::Global(reason));
        }
        if !self.fits(self.run.consts.lambda) {
            return Some(Stop::Global(Termination::MaxEvaluations));
        }
        None
    }

    /// Whether a generation of `lambda` points fits in the evaluation budget.
    fn fits(&self, lambda: usize) -> bool {
        match self.config.max_evaluations() {
            Some(max) => self.evaluations + lambda <= max,
            None => true,
        }
    }

    /// After the current run stopped locally: starts the next one and returns `None`, or
    /// returns why the whole run ends instead.
    fn restart(&mut self, local: Termination) -> Option<Termination> {
        if self.config.restarts() == Restarts::None || self.generations >= self.config.max_iter() {
            return Some(local);
        }
        let mut schedule = self.schedule.clone();
        let spent = self.evaluations - schedule.run_start;
        if schedule.run_is_large {
            schedule.large_spent += spent;
            schedule.last_large = spent;
        } else {
            schedule.small_spent += spent;
        }
        let used_up = match self.config.restarts() {
            Restarts::None => true,
            Restarts::Ipop { max_restarts, .. } => schedule.restarts >= max_restarts,
            // As in Hansen 2009, the limit counts the large-population restarts; small runs
            // go on only while their regime has used fewer evaluations.
            Restarts::Bipop { max_restarts } => {
                schedule.next_is_large() && schedule.large_restarts >= max_restarts
            }
        };
        if used_up {
            return Some(local);
        }
        let spec = schedule.next_run(&self.config, &self.initial, &self.run.bounds);
        if !self.fits(spec.lambda) {
            return Some(Termination::MaxEvaluations);
        }
        schedule.restarts += 1;
        schedule.run_start = self.evaluations;
        self.run = Run::new(&self.config, &self.run.bounds, &spec);
        self.schedule = schedule;
        None
    }
}

impl Schedule {
    /// BIPOP: the regime that has used fewer evaluations so far goes next.
    fn next_is_large(&self) -> bool {
        self.large_spent <= self.small_spent
    }

    /// Chooses the regime, population, step size, seed and start of the next run, drawing in a
    /// fixed order: the run's seed, then (small-population runs) two uniforms, then the start.
    fn next_run(&mut self, config: &CmaEs, initial: &[f64], bounds: &[Bounds]) -> RunSpec {
        let seed: u64 = self.rng.random();
        let sigma0 = config.step_size();
        let (large, increase) = match config.restarts() {
            Restarts::Ipop { increase, .. } => (true, increase),
            _ => (self.next_is_large(), 2.0),
        };
        let (lambda, sigma, budget) = if large {
            self.large_restarts += 1;
            self.large_lambda = self.grow(self.large_lambda, self.large_restarts, increase);
            (self.large_lambda, sigma0, None)
        } else {
            // Hansen 2009: λ_s = ⌊λ_def (λ_l / (2 λ_def))^(u²)⌋ with λ_l the population of the
            // next large run, σ_s = σ0 · 10^(−2 u'), and at most half the evaluations of the
            // latest large run.
            let u: f64 = self.rng.random();
            let v: f64 = self.rng.random();
            let next_large = self.grow(self.large_lambda, self.large_restarts + 1, increase);
            let def = self.default_lambda as f64;
            let ratio = next_large as f64 / (2.0 * def);
            let lambda = ((def * ratio.powf(u * u)).floor() as usize).max(self.default_lambda);
            let sigma = sigma0 * 10f64.powf(-2.0 * v);
            (lambda, sigma, Some((self.last_large / 2).max(lambda)))
        };
        self.run_is_large = large;
        let start = initial
            .iter()
            .zip(bounds)
            .map(|(&x, b)| {
                if b.is_finite() {
                    let u: f64 = self.rng.random();
                    (b.lower() + u * b.width()).clamp(b.lower(), b.upper())
                } else {
                    x
                }
            })
            .collect();
        RunSpec {
            start,
            sigma,
            lambda,
            seed,
            budget,
        }
    }

    /// The population of the `k`-th large run after one of `previous`: `λ_def · increase^k`
    /// rounded, at least one more than before, at most [`MAX_POPULATION`].
    fn grow(&self, previous: usize, k: usize, increase: f64) -> usize {
        let target = (self.default_lambda as f64 * increase.powf(k as f64)).round();
        let target = if target.is_finite() && target < MAX_POPULATION as f64 {
            target as usize
        } else {
            MAX_POPULATION
        };
        target.max(previous + 1).min(MAX_POPULATION)
    }
}

impl Run {
    fn new(config: &CmaEs, bounds: &[Bounds], spec: &RunSpec) -> Self {
        let n = spec.start.len();
        Self {
            consts: Constants::new(n, spec.lambda),
            bounds: bounds.to_vec(),
            bounded: bounds.iter().any(|b| !b.is_unbounded()),
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
            function_tolerance: config.function_tolerance(),
            position_tolerance: config.position_tolerance(),
            budget: spec.budget,
            mean: DVector::from_column_slice(&spec.start),
            sigma: spec.sigma,
            sigma0: spec.sigma,
            cov: DMatrix::identity(n, n),
            b: DMatrix::identity(n, n),
            d: DVector::from_element(n, 1.0),
            p_sigma: DVector::zeros(n),
            p_c: DVector::zeros(n),
            updates: 0,
            updates_since_eigen: 0,
            pending: None,
            generations: 0,
            evaluations: 0,
            recent_best: VecDeque::new(),
            last_values: Vec::new(),
            best_history: VecDeque::new(),
            median_history: VecDeque::new(),
            all_failed_streak: 0,
            breakdown: None,
        }
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The local criterion that ends this run, if any.
    fn local_stop(&self) -> Option<Termination> {
        if self.all_failed_streak >= MAX_ALL_FAILED {
            return Some(Termination::Stalled(ALL_FAILED_MESSAGE.to_owned()));
        }
        if let Some(why) = &self.breakdown {
            return Some(Termination::Stalled(why.clone()));
        }
        if self.generations > 0 {
            if self.recent_best.len() >= self.consts.tolfun_window {
                let tol = self.function_tolerance;
                if range(self.recent_best.iter().copied()) < tol
                    && range(self.last_values.iter().copied()) < tol
                {
                    return Some(Termination::FunctionTolerance);
                }
            }
            let tol = self.position_tolerance;
            let max_sd = self
                .cov
                .diagonal()
                .iter()
                .fold(0.0_f64, |acc, v| acc.max(v.sqrt()));
            let max_pc = self.p_c.iter().fold(0.0_f64, |acc, v| acc.max(v.abs()));
            if self.sigma * max_sd < tol && self.sigma * max_pc < tol {
                return Some(Termination::PositionTolerance);
            }
            if let Some(stop) = self.no_effect().or_else(|| self.diverging_or_stagnant()) {
                return Some(stop);
            }
        }
        if let Some(budget) = self.budget {
            if self.evaluations + self.consts.lambda > budget {
                return Some(Termination::MaxEvaluations);
            }
        }
        None
    }

    /// `NoEffectAxis` and `NoEffectCoord` (Hansen's tutorial, appendix B.3): a tenth of a standard
    /// deviation along the principal axis of this generation, or a fifth along any coordinate,
    /// no longer changes the mean in floating point. The distribution has converged to machine
    /// precision; reported as the position tolerance.
    fn no_effect(&self) -> Option<Termination> {
        let n = self.dim();
        let axis = self.generations % n;
        let moved = self
            .mean
            .iter()
            .zip(self.b.column(axis).iter())
            .any(|(m, b)| m + 0.1 * self.sigma * self.d[axis] * b != *m);
        let coord_stuck = self
            .mean
            .iter()
            .zip(self.cov.diagonal().iter())
            .any(|(m, c)| m + 0.2 * self.sigma * c.sqrt() == *m);
        (!moved || coord_stuck).then_some(Termination::PositionTolerance)
    }

    /// `TolUpSigma` (σ grew by 1e20 over the largest standard deviation: the objective is
    /// probably unbounded below, or the step size far too small) and stagnation (Hansen's
    /// tutorial: over the last 20% of the run, at least `120 + 30n/λ` generations, the median
    /// of the most recent 30% of both the best and the median values is no better than that
    /// of the first 30%).
    fn diverging_or_stagnant(&self) -> Option<Termination> {
        let max_d = self.d.iter().copied().fold(0.0_f64, f64::max);
        if self.sigma / self.sigma0 > TOL_UP_SIGMA * max_d {
            return Some(Termination::Stalled(format!(
                "the step size grew {:.1e}-fold (TolUpSigma): the objective may be unbounded below, or the initial step size far too small",
                self.sigma / self.sigma0
            )));
        }
        let n = self.dim() as f64;
        let least = 120 + (30.0 * n / self.consts.lambda as f64).ceil() as usize;
        let window = ((self.generations as f64 * 0.2).ceil() as usize)
            .max(least)
            .min(STAGNATION_MAX);
        if self.best_history.len() < window {
            return None;
        }
        let stagnant = |history: &VecDeque<f64>| {
            let recent: Vec<f64> = history.iter().rev().take(window).copied().collect();
            let part = (window as f64 * 0.3).ceil() as usize;
            // `recent` runs newest first: its head is the newest 30%, its tail the oldest.
            median(&recent[..part]) >= median(&recent[window - part..])
        };
        (stagnant(&self.best_history) && stagnant(&self.median_history)).then(|| {
            Termination::Stalled(format!(
                "stagnation: over the last {window} generations the best and the median values stopped improving"
            ))
        })
    }

    /// Learns from a told generation; `values` are the ranking values (`+inf` for failures).
    fn learn(&mut self, batch: &Batch, values: Vec<f64>) {
        self.generations += 1;
        self.evaluations += values.len();
        let generation_best = values.iter().copied().fold(f64::INFINITY, f64::min);
        self.recent_best.push_back(generation_best);
        while self.recent_best.len() > self.consts.tolfun_window {
            self.recent_best.pop_front();
        }
        self.best_history.push_back(generation_best);
        self.median_history.push_back(median(&values));
        if self.best_history.len() > STAGNATION_MAX {
            self.best_history.pop_front();
            self.median_history.pop_front();
        }
        if values.iter().all(|v| v.is_infinite()) {
            // Nothing to learn from: keep mean and C, search closer to the mean.
            self.all_failed_streak += 1;
            self.sigma *= 0.5;
            self.check_numerics();
        } else {
            self.all_failed_streak = 0;
            self.update(batch, &values);
        }
        self.last_values = values;
    }

    /// Samples a generation of `λ` candidates inside the bounds.
    fn sample(&mut self) -> Batch {
        let n = self.dim();
        let lambda = self.consts.lambda;
        let mut points = Vec::with_capacity(lambda);
        let mut steps = Vec::with_capacity(lambda);
        let mut plain = Vec::with_capacity(lambda);
        for _ in 0..lambda {
            let mut draws = 0;
            let (x, y) = loop {
                draws += 1;
                let z = DVector::from_iterator(
                    n,
                    (0..n).map(|_| self.rng.sample::<f64, _>(StandardNormal)),
                );
                let y = &self.b * self.d.component_mul(&z);
                let x: Vec<f64> = self
                    .mean
                    .iter()
                    .zip(y.iter())
                    .map(|(m, yi)| m + self.sigma * yi)
                    .collect();
                if !self.bounded || self.inside(&x) {
                    break (x, y);
                }
                if draws >= MAX_DRAWS {
                    let x: Vec<f64> = x
                        .iter()
                        .zip(&self.bounds)
                        .map(|(xi, b)| b.reflect(*xi))
                        .collect();
                    let y = self.reflected_step(&x);
                    break (x, y);
                }
            };
            points.push(x);
            steps.push(y);
            plain.push(draws == 1);
        }
        Batch {
            points,
            steps,
            plain,
        }
    }

    fn inside(&self, x: &[f64]) -> bool {
        x.iter().zip(&self.bounds).all(|(xi, b)| b.contains(*xi))
    }

    /// The step `(x − m)/σ` to a reflected point, its Mahalanobis norm limited as for injected
    /// solutions in the tutorial, so that a reflection cannot blow up the paths and `σ`.
    fn reflected_step(&self, x: &[f64]) -> DVector<f64> {
        let y = DVector::from_iterator(
            x.len(),
            x.iter()
                .zip(self.mean.iter())
                .map(|(xi, mi)| (xi - mi) / self.sigma),
        );
        let norm = self.inv_sqrt_c(&y).norm();
        if norm > self.consts.max_step_norm {
            y * (self.consts.max_step_norm / norm)
        } else {
            y
        }
    }

    /// `C^{-1/2} v = B D⁻¹ Bᵀ v`, with `B` and `D` from the last decomposition.
    fn inv_sqrt_c(&self, v: &DVector<f64>) -> DVector<f64> {
        &self.b * self.b.tr_mul(v).component_div(&self.d)
    }

    /// Updates mean, paths, covariance and step size from a generation with at least one
    /// success. `values` are the ranking values (`+inf` for failures).
    fn update(&mut self, batch: &Batch, values: &[f64]) {
        let n = self.dim();
        let nf = n as f64;
        let k = self.consts.clone();

        let mut order: Vec<usize> = (0..values.len()).collect();
        // Stable: ties (in particular failures, all +inf) keep their asked order.
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        // The parents are the μ best that succeeded: a failed candidate never pulls the mean.
        // With fewer than μ successes their weights are renormalised to sum to 1, and μ_eff
        // (which scales the paths' updates) is that of the weights used.
        let parents: Vec<&DVector<f64>> = order
            .iter()
            .take(k.weights.len())
            .filter(|&&i| values[i].is_finite())
            .map(|&i| &batch.steps[i])
            .collect();
        let used: f64 = k.weights[..parents.len()].iter().sum();
        let weights: Vec<f64> = k.weights[..parents.len()]
            .iter()
            .map(|w| w / used)
            .collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();

        // Recombination (c_m = 1).
        let mut y_w = DVector::zeros(n);
        for (w, y) in weights.iter().zip(&parents) {
            y_w.axpy(*w, *y, 1.0);
        }
        self.mean.axpy(self.sigma, &y_w, 1.0);
        if self.bounded {
            // The new mean is a convex combination of points in the box; only rounding can
            // put it outside, by an ulp or so.
            for (m, b) in self.mean.iter_mut().zip(&self.bounds) {
                *m = m.clamp(b.lower(), b.upper());
            }
        }

        // Step-size path and the h_σ stall of the covariance path.
        self.updates += 1;
        let cs = k.c_sigma;
        let z_w = self.inv_sqrt_c(&y_w);
        self.p_sigma
            .axpy((cs * (2.0 - cs) * mu_eff).sqrt(), &z_w, 1.0 - cs);
        let ps_norm = self.p_sigma.norm();
        let correction = (1.0 - (1.0 - cs).powf(2.0 * self.updates as f64)).sqrt();
        let h_sigma = ps_norm / correction < (1.4 + 2.0 / (nf + 1.0)) * k.chi_n;

        let cc = k.c_c;
        let pc_gain = if h_sigma {
            (cc * (2.0 - cc) * mu_eff).sqrt()
        } else {
            0.0
        };
        self.p_c.axpy(pc_gain, &y_w, 1.0 - cc);
        let delta_h = if h_sigma { 0.0 } else { cc * (2.0 - cc) };

        // Covariance: decay, rank-one, rank-μ and active (negative) updates. The positive
        // weights sum to 1; the negative ones are rescaled per candidate by n/‖C^{-1/2} y‖²
        // so the update stays positive definite. Candidates left out of the active update
        // (failed, or reflected into the bounds) are left out of the decay too.
        let mut rank_mu = DMatrix::zeros(n, n);
        for (w, y) in weights.iter().zip(&parents) {
            rank_mu.ger(*w, *y, *y, 1.0);
        }
        let mut neg_sum = 0.0;
        let worst = order.iter().skip(k.weights.len());
        for (w, &i) in k.neg_weights.iter().zip(worst) {
            if !batch.plain[i] || !values[i].is_finite() {
                continue;
            }
            let y = &batch.steps[i];
            let norm2 = self.inv_sqrt_c(y).norm_squared();
            if norm2 > 0.0 && norm2.is_finite() {
                rank_mu.ger(w * nf / norm2, y, y, 1.0);
                neg_sum += w;
            }
        }
        let decay = 1.0 + k.c_1 * delta_h - k.c_1 - k.c_mu * (1.0 + neg_sum);
        let mut cov = self.cov.clone() * decay;
        cov.ger(k.c_1, &self.p_c, &self.p_c, 1.0);
        cov += rank_mu * k.c_mu;
        // Enforce exact symmetry against rounding.
        for i in 0..n {
            for j in 0..i {
                let s = 0.5 * (cov[(i, j)] + cov[(j, i)]);
                cov[(i, j)] = s;
                cov[(j, i)] = s;
            }
        }
        self.cov = cov;

        // Cumulative step-size adaptation (the exponent capped at 1, a factor e at most).
        self.sigma *= ((cs / k.d_sigma) * (ps_norm / k.chi_n - 1.0))
            .min(1.0)
            .exp();

        self.updates_since_eigen += 1;
        if self.updates_since_eigen >= k.eigen_gap {
            self.decompose();
        }
        self.check_numerics();
    }

    /// Recomputes `B` and `D` from `C`, or records a breakdown.
    fn decompose(&mut self) {
        self.updates_since_eigen = 0;
        if self.cov.iter().any(|v| !v.is_finite()) {
            self.breakdown = Some(
                "the covariance matrix became non-finite (numerical breakdown); try a smaller \
                 step size or rescale the parameters"
                    .to_owned(),
            );
            return;
        }
        let n = self.dim();
        let Some(eig) = SymmetricEigen::try_new(self.cov.clone(), f64::EPSILON, 1000 * n + 1000)
        else {
            self.breakdown = Some(
                "the eigendecomposition of the covariance matrix did not converge (numerical \
                 breakdown); try rescaling the parameters"
                    .to_owned(),
            );
            return;
        };
        let min = eig.eigenvalues.min();
        let max = eig.eigenvalues.max();
        if min <= 0.0 || max / min > MAX_CONDITION {
            self.breakdown = Some(format!(
                "the covariance matrix became ill-conditioned (condition number {:.3e} > {MAX_CONDITION:e}, \
                 smallest eigenvalue {min:.3e}); the parameters are probably not identifiable \
                 or differ greatly in scale",
                max / min
            ));
            return;
        }
        self.d = eig.eigenvalues.map(f64::sqrt);
        self.b = eig.eigenvectors;
    }

    fn check_numerics(&mut self) {
        if self.breakdown.is_some() {
            return;
        }
        if !self.sigma.is_finite() || self.sigma <= 0.0 {
            self.breakdown = Some(format!(
                "the step size became {} (numerical breakdown); try a different step size",
                self.sigma
            ));
        } else if self.mean.iter().any(|v| !v.is_finite()) {
            self.breakdown = Some(
                "the mean of the search distribution became non-finite (numerical breakdown)"
                    .to_owned(),
            );
        }
    }
}

/// `max − min` of the values; `+inf` or NaN when any is infinite, so never below a tolerance.
/// The median of `values` (`+inf` counts as larger than any number).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let k = v.len();
    if k == 0 {
        return f64::INFINITY;
    }
    if k % 2 == 1 {
        v[k / 2]
    } else {
        0.5 * (v[k / 2 - 1] + v[k / 2])
    }
}

fn range(values: impl Iterator<Item = f64>) -> f64 {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    hi - lo
}

impl AskTell for CmaEsState {
    fn ask(&mut self) -> Ask {
        if let Some(reason) = &self.termination {
            return Ask::Done(reason.clone());
        }
        loop {
            if let Some(batch) = &self.run.pending {
                return Ask::Evaluate(batch.points.clone());
            }
            let end = match self.stop_reason() {
                None => {
                    let batch = self.run.sample();
                    self.run.pending = Some(batch);
                    continue;
                }
                Some(Stop::Global(reason)) => reason,
                // A fresh run cannot stop locally before its first generation, so this loops
                // at most once more.
                Some(Stop::Local(reason)) => match self.restart(reason) {
                    Some(reason) => reason,
                    None => continue,
                },
            };
            self.termination = Some(end.clone());
            return Ask::Done(end);
        }
    }

    fn tell(&mut self, outcomes: &[Outcome]) -> Result<(), TellError> {
        if self.termination.is_some() {
            return Err(TellError::AlreadyTerminated);
        }
        let Some(batch) = self.run.pending.take() else {
            return Err(TellError::NothingAsked);
        };
        if outcomes.len() != batch.points.len() {
            let expected = batch.points.len();
            self.run.pending = Some(batch);
            return Err(TellError::ResultCountMismatch {
                expected,
                received: outcomes.len(),
            });
        }

        let values: Vec<f64> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Value(v) if v.is_finite() => *v,
                _ => f64::INFINITY,
            })
            .collect();
        self.evaluations += values.len();
        self.failed += values.iter().filter(|v| v.is_infinite()).count();
        self.generations += 1;

        for (x, &v) in batch.points.iter().zip(&values) {
            let improves = match &self.best {
                Some((_, b)) => v < *b,
                None => v.is_finite(),
            };
            if improves {
                self.best = Some((x.clone(), v));
            }
        }
        self.run.learn(&batch, values);
        self.history
            .push(self.best.as_ref().map_or(f64::INFINITY, |(_, b)| *b));
        self.limits
            .record(self.generations, self.best.as_ref().map(|(_, b)| *b));
        Ok(())
    }

    fn iterations(&self) -> usize {
        self.generations
    }

    fn evaluations(&self) -> usize {
        self.evaluations
    }

    fn failed_evaluations(&self) -> usize {
        self.failed
    }
}

impl OptimiserState for CmaEsState {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn best(&self) -> Option<(Vec<f64>, f64)> {
        self.best.clone()
    }

    /// `σ² C`, row-major.
    fn covariance(&self) -> Option<Vec<f64>> {
        let run = &self.run;
        let n = run.dim();
        let s2 = run.sigma * run.sigma;
        Some(
            (0..n)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .map(|(i, j)| s2 * run.cov[(i, j)])
                .collect(),
        )
    }

    fn history(&self) -> &[f64] {
        self.history.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::Constants;

    /// pycma 4.5.0's values, printed by
    /// `python benches/pycma_constants.py` (`pip install cma==4.5.0`): for each (n, λ),
    /// `mu_eff`, `c_c`, `c_1`, `c_mu`, `c_sigma`, `d_sigma` and the sum of the negative weights.
    #[allow(clippy::unreadable_literal, clippy::excessive_precision)] // as pycma prints them
    const PYCMA: [(usize, usize, [f64; 7]); 7] = [
        (
            2,
            6,
            [
                2.0286114646100617,
                0.6245545390268264,
                0.1548153998964136,
                0.08559277942666424,
                0.5,
                1.5,
                -2.207323654840602,
            ],
        ),
        (
            5,
            8,
            [
                2.60017882611318,
                0.45019955799280803,
                0.047292304159400896,
                0.04785904960298248,
                0.43397181326609285,
                1.4339718132660928,
                -1.988158029708424,
            ],
        ),
        (
            10,
            10,
            [
                3.1672992814107017,
                0.29499038303562225,
                0.015283824524751714,
                0.02355177665041747,
                0.3196142529106334,
                1.3196142529106334,
                -1.648945714440647,
            ],
        ),
        (
            40,
            15,
            [
                4.5409152090759575,
                0.09300921663424917,
                0.0011694327252618397,
                0.003405219643706347,
                0.13758496613517535,
                1.1375849661351753,
                -1.3434235813314506,
            ],
        ),
        (
            5,
            3,
            [
                1.0,
                0.44680851063829785,
                0.024576062914721062,
                0.01,
                0.3333333333333333,
                1.3333333333333333,
                -1.6666666666666665,
            ],
        ),
        (
            10,
            50,
            [
                13.951320940285154,
                0.3213250270276325,
                0.014120173313288879,
                0.15540229315957138,
                0.5,
                2.996526998830074,
                -0.5344049412928433,
            ],
        ),
        (
            3,
            2,
            [
                1.0,
                0.5652173913043478,
                0.034205575508807935,
                0.019230769230769232,
                0.42857142857142855,
                1.4285714285714286,
                -1.6666666666666665,
            ],
        ),
    ];

    #[test]
    fn every_constant_equals_pycmas() {
        for (n, lambda, want) in PYCMA {
            let k = Constants::new(n, lambda);
            let got = [
                k.mu_eff,
                k.c_c,
                k.c_1,
                k.c_mu,
                k.c_sigma,
                k.d_sigma,
                k.neg_weights.iter().sum(),
            ];
            let names = [
                "mu_eff", "c_c", "c_1", "c_mu", "c_sigma", "d_sigma", "sum w-",
            ];
            for ((g, w), name) in got.iter().zip(want).zip(names) {
                assert!(
                    (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "n {n}, λ {lambda}: {name} = {g}, pycma {w}"
                );
            }
            assert_eq!(k.weights.len(), lambda / 2);
            assert!((k.weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
            assert!(k.weights.windows(2).all(|w| w[0] > w[1]));
        }
    }

    #[test]
    fn other_constants_match_the_tutorial() {
        let k = Constants::new(10, 10);
        assert!((k.chi_n - 3.084_727).abs() < 1e-6, "chi_n {}", k.chi_n);
        assert_eq!(k.tolfun_window, 40);
        assert_eq!(k.eigen_gap, 1);
    }
}
