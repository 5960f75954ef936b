//! Dynamic nested sampling (Skilling 2006; Higson, Handley, Hobson & Lasenby 2019): the
//! evidence `Z`, its error, and posterior samples.

mod bound;
mod integrate;

use crate::chains::check_start;
use crate::error::invalid;
use crate::{Prior, SampleError};
use bound::{Bound, BoundSettings};
use diffid_core::{Ask, AskTell, Outcome, TellError, Termination};
pub use integrate::{ess, integrate, simulated_error, Integrals};
pub use results::NestedResult;

mod results;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// How the constrained prior is bounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BoundKind {
    /// Balls of one bootstrap-estimated radius around the live points, in the metric that
    /// whitens them (`MLFriends`; Buchner 2016, 2019), trimmed by their bounding ellipsoid.
    Balls,
    /// Several ellipsoids, split by 2-means (the default).
    #[default]
    Multi,
    /// One ellipsoid.
    Single,
    /// The whole unit cube.
    None,
}

/// How new points are drawn from the constrained prior.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Sampling {
    /// Uniform inside the bound up to 10 parameters, random walks above.
    #[default]
    Auto,
    /// Uniform inside the bound (rejection).
    Uniform,
    /// Random walks from live points, shaped by the bound, scale adapted.
    RandomWalk,
    /// Slice sampling from live points along random directions shaped by the bound, with
    /// stepping out and shrinkage (Neal 2003), width adapted.
    Slice,
}

impl std::str::FromStr for BoundKind {
    type Err = SampleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "balls" => Ok(Self::Balls),
            "multi" => Ok(Self::Multi),
            "single" => Ok(Self::Single),
            "none" => Ok(Self::None),
            _ => Err(invalid(
                "bound",
                s,
                "bound must be \"balls\", \"multi\", \"single\" or \"none\"",
            )),
        }
    }
}

impl std::str::FromStr for Sampling {
    type Err = SampleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "uniform" => Ok(Self::Uniform),
            "rwalk" => Ok(Self::RandomWalk),
            "slice" => Ok(Self::Slice),
            _ => Err(invalid(
                "sampling",
                s,
                "sampling must be \"auto\", \"uniform\", \"rwalk\" or \"slice\"",
            )),
        }
    }
}

/// Dynamic nested sampling.
///
/// **Prior.** The unit cube is mapped onto the prior through each parameter's quantile
/// function ([`Prior::quantile`]); every prior must be proper.
///
/// **Baseline run.** `live_points` points are drawn from the prior; then, repeatedly, the
/// lowest-likelihood live point dies and is replaced by a draw from the prior restricted to
/// higher likelihood, until the evidence the live points could still add is below
/// `termination_tolerance` (`ln(Z + L_max X) − ln Z < dlogz`).
///
/// **New points.** Up to 10 parameters (`sampling = "auto"`), candidates are drawn uniformly
/// inside a bound of the live points: one ellipsoid, or several split by 2-means while the
/// pieces hold less volume than what they split (`bound = "multi"`; a piece needs
/// `p = d(d+3)/2` points, as many as an ellipsoid has numbers, for a shape of its own, and a
/// group of fewer split off a larger one takes the parent's shape), each kept at
/// least as large as the prior volume its points are expected to fill, expanded by a bootstrap
/// estimate of how far the region reaches beyond the live points (`bootstraps` resamples) and
/// enlarged in volume by `1 + expansion_factor`; or (`bound = "balls"`) balls around the live
/// points in the metric that whitens them, their radius the largest distance from a point left
/// out of a bootstrap resample to the resample (Buchner 2016, 2019), enlarged likewise and
/// trimmed by the bootstrap-expanded ellipsoid of all the points. Above 10 parameters, random walks of `walks` steps from live
/// points, shaped by the bound and with their scale adapted towards half the steps accepted,
/// replace uniform draws. Until fewer than 10 % of the uniform draws from the whole cube are
/// accepted over the last `live_points` evaluations (and for at least `2 · live_points`
/// evaluations), candidates come from the whole cube.
///
/// **Parallel and deterministic.** Every ask is a fixed batch of `queue_size` candidates
/// (uniform draws or one step of each of `queue_size` walks), independent of the thread
/// count. Candidates are then used in order: a candidate replaces the current worst live point
/// if its likelihood is above the current threshold and is discarded otherwise, exactly as
/// sequential rejection sampling would; so results are bit-identical for any evaluator.
/// Since a candidate at or below the threshold is rejected whatever its value, the state
/// offers the threshold as a [`value_cap`](AskTell::value_cap): an objective may stop
/// evaluating once it knows its value is above the cap (an ODE fit ends its solve there).
///
/// **Dynamic batches.** After the baseline, batches of `batch_size` live points are added
/// where they matter most: each dead point's importance is
/// `f · w_i / max w + (1 − f) · z_i / max z` with `f = posterior_fraction`, `w_i` its
/// posterior weight and `z_i` the evidence still to come beyond it divided by its live-point
/// count; a batch runs between the likelihoods of the first and last points whose importance
/// exceeds 0.8 of the maximum, and is merged into the run (Higson et al. 2019). Batches stop
/// once `f · target_ess / ESS + (1 − f) · σ(ln Z) / target_error ≤ 1` — the posterior's
/// effective sample size and the simulated `ln Z` error blended as the batches are — or at
/// `max_batches` or `max_evaluations`.
///
/// **Error.** `ln Z`'s error is the standard deviation over 100 re-drawings of the merged
/// run's volume shrinkages `t_i ~ Beta(n_i, 1)`; the information `H` is reported too
/// (`√(H / n)` is the static-run approximation).
///
/// A failed or NaN likelihood is a rejected candidate (counted); an initial point where it
/// fails counts as zero likelihood. A likelihood that fails everywhere is an error.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DynamicNestedSampler {
    live_points: usize,
    dlogz: f64,
    expansion_factor: f64,
    bound: BoundKind,
    sampling: Sampling,
    posterior_fraction: f64,
    batch_size: Option<usize>,
    max_evaluations: Option<usize>,
    max_batches: Option<usize>,
    target_ess: f64,
    target_error: f64,
    queue_size: usize,
    walks: usize,
    bootstraps: usize,
    seed: Option<u64>,
}

impl Default for DynamicNestedSampler {
    fn default() -> Self {
        Self {
            live_points: 64,
            dlogz: 1e-3,
            expansion_factor: 1.0,
            bound: BoundKind::Multi,
            sampling: Sampling::Auto,
            posterior_fraction: 0.8,
            batch_size: None,
            max_evaluations: None,
            max_batches: None,
            target_ess: 1000.0,
            target_error: 0.1,
            queue_size: 64,
            walks: 25,
            bootstraps: 0,
            seed: None,
        }
    }
}

macro_rules! checked_setter {
    ($(#[$doc:meta])* $name:ident, $field:ident, $ty:ty, $ok:expr, $req:literal) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// [`SampleError::InvalidSetting`] for an invalid value.
        pub fn $name(mut self, value: $ty) -> Result<Self, SampleError> {
            #[allow(clippy::redundant_closure_call)]
            if !($ok)(value) {
                return Err(invalid(stringify!($field), value, $req));
            }
            self.$field = value;
            Ok(self)
        }
    };
}

impl DynamicNestedSampler {
    /// The defaults: 64 live points, `dlogz` 1e-3, multi-ellipsoid bound enlarged to twice its volume,
    /// automatic sampling, posterior fraction 0.8, batches of 64 live points up to an
    /// effective sample size of 1000 and a `ln Z` error of 0.1, 64 candidates per batch, a seed
    /// from OS entropy.
    pub fn new() -> Self {
        Self::default()
    }

    checked_setter!(
        /// Live points of the baseline run (at least `d + 1`, checked when a state starts).
        with_live_points, live_points, usize, |v: usize| v >= 2,
        "live_points must be at least 2 (and more than the number of parameters)"
    );
    checked_setter!(
        /// The baseline's stopping rule `dlogz`: the evidence the live points could still add.
        with_termination_tolerance, dlogz, f64, |v: f64| v.is_finite() && v > 0.0,
        "the termination tolerance (dlogz) must be a finite number > 0"
    );
    checked_setter!(
        /// The fractional volume enlargement of every bounding ellipsoid (default 1: twice the
        /// volume). The earlier release's "expansion factor" scaled its heuristic proposal.
        with_expansion_factor, expansion_factor, f64, |v: f64| v.is_finite() && v >= 0.0,
        "the expansion factor must be a finite number >= 0"
    );
    checked_setter!(
        /// How the dynamic batches split their effort: 1 for the posterior only, 0 for the
        /// evidence only (default 0.8).
        with_posterior_fraction, posterior_fraction, f64, |v: f64| (0.0..=1.0).contains(&v),
        "the posterior fraction must lie in [0, 1]"
    );
    checked_setter!(
        /// Stop the dynamic batches once the posterior's effective sample size reaches this
        /// (default 1000; used when the posterior fraction is above 0).
        with_target_ess, target_ess, f64, |v: f64| v.is_finite() && v >= 0.0,
        "the target effective sample size must be a finite number >= 0"
    );
    checked_setter!(
        /// Stop the dynamic batches once the simulated `ln Z` error is below this (default
        /// 0.1; used when the posterior fraction is below 1).
        with_target_error, target_error, f64, |v: f64| v.is_finite() && v >= 0.0,
        "the target ln Z error must be a finite number >= 0"
    );
    checked_setter!(
        /// Candidates per batch of evaluations (default 64): the parallel width, independent
        /// of the thread count. Each batch waits for its slowest evaluation, so a few
        /// evaluations per thread are needed to keep the threads busy: on the seed posterior
        /// (1 vs 2 threads) 16 gave 1.65×, 64 gave 1.86×, at the same number of evaluations.
        with_queue_size, queue_size, usize, |v: usize| v >= 1,
        "queue_size must be at least 1"
    );
    checked_setter!(
        /// Steps of each random walk (default 25).
        with_walks, walks, usize, |v: usize| v >= 1,
        "walks must be at least 1"
    );

    /// Bootstrap resamples behind the bound's expansion estimate for uniform sampling
    /// (default 0: only the fixed enlargement; for the balls bound, the resamples behind
    /// its radius and its ellipsoid's expansion, default 30). The estimate is the largest distance of a
    /// left-out point, which is safe for curved regions but can grow large (thin shells in
    /// 5-D needed 30 times more evaluations with 20 resamples).
    #[must_use]
    pub fn with_bootstraps(mut self, n: usize) -> Self {
        self.bootstraps = n;
        self
    }

    /// Live points of each dynamic batch (default: the baseline's).
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] for fewer than 2.
    pub fn with_batch_size(mut self, n: usize) -> Result<Self, SampleError> {
        if n < 2 {
            return Err(invalid("batch_size", n, "batch_size must be at least 2"));
        }
        self.batch_size = Some(n);
        Ok(self)
    }

    /// A budget of likelihood evaluations for the whole run.
    ///
    /// # Errors
    /// [`SampleError::InvalidSetting`] for 0.
    pub fn with_max_evaluations(mut self, n: usize) -> Result<Self, SampleError> {
        if n == 0 {
            return Err(invalid(
                "max_evaluations",
                n,
                "max_evaluations must be at least 1",
            ));
        }
        self.max_evaluations = Some(n);
        Ok(self)
    }

    /// At most this many dynamic batches (0: the baseline run alone, a static run).
    #[must_use]
    pub fn with_max_batches(mut self, n: usize) -> Self {
        self.max_batches = Some(n);
        self
    }

    /// The bound of the constrained prior.
    #[must_use]
    pub fn with_bound(mut self, bound: BoundKind) -> Self {
        self.bound = bound;
        self
    }

    /// How new points are drawn.
    #[must_use]
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// The random seed (default: drawn from OS entropy when a state starts).
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Live points of the baseline run.
    pub fn live_points(&self) -> usize {
        self.live_points
    }
    /// The baseline's `dlogz`.
    pub fn termination_tolerance(&self) -> f64 {
        self.dlogz
    }
    /// The ellipsoids' fractional volume enlargement.
    pub fn expansion_factor(&self) -> f64 {
        self.expansion_factor
    }
    /// The bound.
    pub fn bound(&self) -> BoundKind {
        self.bound
    }
    /// The sampling method.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }
    /// The posterior fraction.
    pub fn posterior_fraction(&self) -> f64 {
        self.posterior_fraction
    }
    /// Live points per dynamic batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size.unwrap_or(self.live_points)
    }
    /// The evaluation budget.
    pub fn max_evaluations(&self) -> Option<usize> {
        self.max_evaluations
    }
    /// The batch limit.
    pub fn max_batches(&self) -> Option<usize> {
        self.max_batches
    }
    /// The effective-sample-size target.
    pub fn target_ess(&self) -> f64 {
        self.target_ess
    }
    /// The `ln Z` error target.
    pub fn target_error(&self) -> f64 {
        self.target_error
    }
    /// Candidates per evaluation batch.
    pub fn queue_size(&self) -> usize {
        self.queue_size
    }
    /// Steps per random walk.
    pub fn walks(&self) -> usize {
        self.walks
    }
    /// Bootstrap resamples for the bound's expansion.
    pub fn bootstraps(&self) -> usize {
        self.bootstraps
    }
    /// The seed, if set.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// Starts a state. `initial` is only checked against the priors (nested sampling starts
    /// from the whole prior).
    ///
    /// # Errors
    /// [`SampleError::DimensionMismatch`], [`SampleError::StartOutsidePrior`], or
    /// [`SampleError::InvalidSetting`] for fewer live points than `d + 1`.
    pub fn start(&self, initial: &[f64], priors: &[Prior]) -> Result<NestedState, SampleError> {
        check_start(initial, priors)?;
        let d = priors.len();
        for (what, n) in [
            ("live_points", self.live_points),
            ("batch_size", self.batch_size()),
        ] {
            if n <= d {
                return Err(invalid(
                    what,
                    n,
                    format!("nested sampling needs more than d = {d} live points (d + 1 at least) to bound them"),
                ));
            }
        }
        let seed = self.seed.unwrap_or_else(rand::random);
        let sampling = match self.sampling {
            Sampling::Auto if d > 10 => Sampling::RandomWalk,
            Sampling::Auto => Sampling::Uniform,
            s => s,
        };
        let state = NestedState {
            config: self.clone(),
            sampling,
            priors: priors.to_vec(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            points: Vec::new(),
            run: Run::new(
                self.live_points,
                f64::NEG_INFINITY,
                f64::INFINITY,
                0.0,
                true,
            ),
            queue: VecDeque::new(),
            pending: Pending::None,
            walk_scale: 1.0,
            evaluations: 0,
            failed: 0,
            batches: 0,
            failed_everywhere: false,
            done: None,
        };
        Ok(state)
    }
}

/// One point of the run: unit-cube and natural coordinates, log-likelihood, and the
/// likelihood it was born above.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct NestedPoint {
    /// Unit-cube coordinates.
    pub u: Vec<f64>,
    /// Natural coordinates.
    pub x: Vec<f64>,
    /// Log-likelihood (`-inf` where it failed at an initial point).
    pub log_likelihood: f64,
    /// The threshold it was drawn above (`-inf` for points drawn from the whole prior).
    pub birth: f64,
}

/// One nested-sampling run (the baseline or a dynamic batch) in progress.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Run {
    size: usize,
    live: Vec<NestedPoint>,
    /// Drawn above this likelihood.
    floor: f64,
    /// Stop once every live point is above this.
    ceiling: f64,
    /// `ln X` at the floor (0 for the baseline).
    log_x0: f64,
    /// Deaths so far.
    deaths: usize,
    /// The run's own evidence so far (static estimate), for the `dlogz` rule.
    log_z: f64,
    /// Whether this is the baseline run (its initial points decide whether the likelihood
    /// fails everywhere).
    baseline: bool,
    /// Evaluations made by this run, and at the last bound update.
    evaluations: usize,
    accepted: usize,
    bound_at: usize,
    bound: Option<Bound>,
    /// Whether the bound is in use (after the first efficiency drop).
    bounded: bool,
    /// Evaluations and acceptances at the start of the current window of `size` evaluations,
    /// and the acceptance rate of the last full window (for the first bound).
    window_start: (usize, usize),
    recent_efficiency: f64,
    /// The worst live point (index, log-likelihood) and the best log-likelihood, refreshed at
    /// each change to `live` (most candidates are rejected and leave both as they were); `None`
    /// in a state read back from a checkpoint until its first change.
    #[serde(skip)]
    extremes: Option<(usize, f64, f64)>,
}

impl Run {
    fn new(size: usize, floor: f64, ceiling: f64, log_x0: f64, baseline: bool) -> Self {
        Self {
            size,
            live: Vec::with_capacity(size),
            floor,
            ceiling,
            log_x0,
            deaths: 0,
            log_z: f64::NEG_INFINITY,
            baseline,
            evaluations: 0,
            accepted: 0,
            bound_at: 0,
            bound: None,
            bounded: false,
            window_start: (0, 0),
            recent_efficiency: 1.0,
            extremes: None,
        }
    }

    fn filled(&self) -> bool {
        self.live.len() >= self.size
    }

    /// The worst live point (the first of equals) and the best log-likelihood.
    fn extremes(&self) -> Option<(usize, f64, f64)> {
        self.extremes.or_else(|| self.scan())
    }

    fn scan(&self) -> Option<(usize, f64, f64)> {
        let (worst, low) = self
            .live
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.log_likelihood))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))?;
        let high = self
            .live
            .iter()
            .map(|p| p.log_likelihood)
            .fold(f64::NEG_INFINITY, f64::max);
        Some((worst, low, high))
    }

    /// The worst live point.
    fn worst(&self) -> Option<(usize, f64)> {
        self.extremes().map(|(i, low, _)| (i, low))
    }

    /// Adds a live point while the run fills.
    fn push(&mut self, p: NestedPoint) {
        let (k, l) = (self.live.len(), p.log_likelihood);
        let before = self.extremes();
        self.live.push(p);
        // As `scan` would find: a later point is the worst only if strictly lower (the first
        // of equals stays).
        self.extremes = Some(match before {
            Some((w, low, high)) if l.total_cmp(&low).is_ge() => (w, low, high.max(l)),
            Some((_, _, high)) => (k, l, high.max(l)),
            None => (k, l, f64::NEG_INFINITY.max(l)),
        });
    }

    /// Puts `p` in place of live point `k`, returning the point it replaces.
    fn replace(&mut self, k: usize, p: NestedPoint) -> NestedPoint {
        let old = std::mem::replace(&mut self.live[k], p);
        self.extremes = self.scan();
        old
    }

    /// `ln X` now (expected).
    fn log_x(&self) -> f64 {
        self.log_x0 - self.deaths as f64 / self.size as f64
    }

    fn finished(&self, dlogz: f64) -> bool {
        if !self.filled() {
            return false;
        }
        let Some((_, worst, max)) = self.extremes() else {
            return true;
        };
        if self.ceiling == f64::INFINITY {
            let remaining = max + self.log_x();
            let total = bound::log_add(self.log_z, remaining);
            self.log_z.is_finite() && total - self.log_z < dlogz
        } else {
            worst >= self.ceiling
        }
    }
}

/// What the last ask asked for.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Pending {
    None,
    /// Unit-cube candidates (uniform draws, or the whole cube).
    Candidates(Vec<Vec<f64>>),
    /// One step of each walk: the walks and, per walk, the proposal (`None` outside the cube).
    Walks(Vec<Walk>, Vec<Option<Vec<f64>>>),
    /// One proposal of each unfinished slice sampler (`None` for finished ones).
    Slices(Vec<SliceWalk>, Vec<Option<Vec<f64>>>),
}

/// Where a slice sampler is in its current slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum SlicePhase {
    /// Stepping the interval's left end out while it lies inside the slice.
    Left,
    /// Stepping the right end out.
    Right,
    /// Drawing inside the interval, shrinking it towards the current point on each miss.
    Shrink,
    /// All slices done.
    Done,
}

/// A slice sampler from a live point, constrained above `threshold`: `slices_left` slices
/// along random directions, each one interval `[left, right]` (in units of `direction`)
/// stepped out and then shrunk.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct SliceWalk {
    u: Vec<f64>,
    log_likelihood: f64,
    threshold: f64,
    slices_left: usize,
    direction: Vec<f64>,
    phase: SlicePhase,
    left: f64,
    right: f64,
    /// The offset of the pending proposal along `direction`.
    at: f64,
    /// Step-outs and shrinks of the current slice (capped), and of the whole walk.
    steps_this_slice: usize,
    expansions: usize,
    contractions: usize,
    moved: bool,
}

/// Step-outs plus shrinks after which a slice gives up (keeping its point).
const SLICE_STEP_CAP: usize = 200;

/// A random walk from a live point, constrained above `threshold`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Walk {
    u: Vec<f64>,
    log_likelihood: f64,
    threshold: f64,
    steps: usize,
    accepted: usize,
}

/// A running [`DynamicNestedSampler`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NestedState {
    config: DynamicNestedSampler,
    sampling: Sampling,
    priors: Vec<Prior>,
    rng: ChaCha8Rng,
    seed: u64,
    /// Dead points of finished runs and of the current one.
    points: Vec<NestedPoint>,
    run: Run,
    /// Evaluated candidates awaiting their turn: unit-cube point and log-likelihood.
    queue: VecDeque<(Vec<f64>, f64)>,
    pending: Pending,
    walk_scale: f64,
    evaluations: usize,
    failed: usize,
    batches: usize,
    failed_everywhere: bool,
    done: Option<Termination>,
}

/// Likelihood evaluations before the first bound, in units of live points.
const FIRST_UPDATE_CALLS: usize = 2;
/// The uniform efficiency below which the first bound is built.
const FIRST_UPDATE_EFFICIENCY: f64 = 0.1;
/// Rebuild the bound every this many evaluations, in units of live points.
const UPDATE_INTERVAL: f64 = 1.5;

impl NestedState {
    /// The seed this state draws from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn settings(&self) -> BoundSettings {
        BoundSettings {
            log_enlarge: self.config.expansion_factor.ln_1p(),
            multi: self.config.bound == BoundKind::Multi,
            balls: self.config.bound == BoundKind::Balls && self.sampling == Sampling::Uniform,
            bootstraps: if self.sampling == Sampling::Uniform {
                self.config.bootstraps
            } else {
                0
            },
        }
    }

    fn to_natural(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(&self.priors)
            .map(|(&v, p)| p.quantile(v))
            .collect()
    }

    /// Every point of the run so far: the dead, then the current run's live points.
    pub fn all_points(&self) -> Vec<NestedPoint> {
        let mut all = self.points.clone();
        all.extend(self.run.live.iter().cloned());
        all
    }

    /// Live points of the baseline run.
    pub fn live_points(&self) -> usize {
        self.config.live_points
    }

    /// Dynamic batches run so far.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// The integrals of every point so far (the current run's live points included).
    pub fn integrals(&self) -> (Vec<NestedPoint>, Integrals) {
        let all = self.all_points();
        let logl: Vec<f64> = all.iter().map(|p| p.log_likelihood).collect();
        let birth: Vec<f64> = all.iter().map(|p| p.birth).collect();
        let i = integrate(&logl, &birth);
        (all, i)
    }

    /// Whether the likelihood failed (or was `-inf`) at every initial point of the baseline:
    /// there is nothing to integrate.
    pub fn failed_everywhere(&self) -> bool {
        self.failed_everywhere
    }

    fn budget_left(&self) -> bool {
        self.config
            .max_evaluations
            .is_none_or(|m| self.evaluations < m)
    }

    /// Sets the candidates of the next ask.
    fn next_ask(&mut self) {
        let d = self.priors.len();
        let remaining = self
            .config
            .max_evaluations
            .map_or(usize::MAX, |m| m.saturating_sub(self.evaluations));
        let width = self.config.queue_size.min(remaining).max(1);
        // Filling a run whose floor is -inf: whole-cube draws, all kept.
        if !self.run.filled() && self.run.floor == f64::NEG_INFINITY {
            let n = (self.run.size - self.run.live.len()).min(remaining.max(1));
            let c: Vec<Vec<f64>> = (0..n)
                .map(|_| (0..d).map(|_| self.rng.random::<f64>()).collect())
                .collect();
            self.pending = Pending::Candidates(c);
            return;
        }
        if self.sampling == Sampling::Slice && self.run.bound.is_some() {
            let starts: Vec<Walk> = (0..width).filter_map(|_| self.start_walk()).collect();
            let walks: Vec<SliceWalk> = starts.into_iter().map(|w| self.start_slice(w)).collect();
            if !walks.is_empty() {
                self.propose_slices(walks);
                return;
            }
        }
        if self.sampling == Sampling::RandomWalk && self.run.bound.is_some() {
            let walks: Vec<Walk> = (0..width).filter_map(|_| self.start_walk()).collect();
            if !walks.is_empty() {
                self.step_walks(walks);
                return;
            }
        }
        let c: Vec<Vec<f64>> = (0..width).map(|_| self.uniform_candidate()).collect();
        self.pending = Pending::Candidates(c);
    }

    fn uniform_candidate(&mut self) -> Vec<f64> {
        let d = self.priors.len();
        if self.run.bounded {
            if let Some(b) = &self.run.bound {
                if let Some(x) = b.sample(&mut self.rng, 10_000) {
                    return x;
                }
            }
        }
        (0..d).map(|_| self.rng.random::<f64>()).collect()
    }

    /// A walk from a random point above the current threshold.
    fn start_walk(&mut self) -> Option<Walk> {
        let threshold = self.threshold();
        let pool: Vec<&NestedPoint> = if self.run.filled() {
            self.run.live.iter().collect()
        } else {
            self.points
                .iter()
                .chain(self.run.live.iter())
                .filter(|p| p.log_likelihood > threshold)
                .collect()
        };
        if pool.is_empty() {
            return None;
        }
        let p = pool[self.rng.random_range(0..pool.len())];
        Some(Walk {
            u: p.u.clone(),
            log_likelihood: p.log_likelihood,
            threshold,
            steps: 0,
            accepted: 0,
        })
    }

    fn step_walks(&mut self, walks: Vec<Walk>) {
        let Some(bound) = self.run.bound.clone() else {
            return;
        };
        let proposals: Vec<Option<Vec<f64>>> = walks
            .iter()
            .map(|w| {
                let y = bound
                    .around(&w.u)
                    .step(&mut self.rng, &w.u, self.walk_scale);
                y.iter().all(|v| (0.0..=1.0).contains(v)).then_some(y)
            })
            .collect();
        self.pending = Pending::Walks(walks, proposals);
    }

    /// The current run's threshold: its worst live point once full, else its floor.
    fn threshold(&self) -> f64 {
        if self.run.filled() {
            self.run.worst().map_or(self.run.floor, |(_, l)| l)
        } else {
            self.run.floor
        }
    }

    /// Uses queued candidates until the queue is empty or the run is finished.
    fn process(&mut self) {
        while !self.run.finished(self.config.dlogz) {
            let Some((u, logl)) = self.queue.pop_front() else {
                break;
            };
            self.run.evaluations += 1;
            if !self.run.filled() {
                if logl > self.run.floor || self.run.floor == f64::NEG_INFINITY {
                    let x = self.to_natural(&u);
                    self.run.push(NestedPoint {
                        u,
                        x,
                        log_likelihood: logl,
                        birth: self.run.floor,
                    });
                    self.run.accepted += 1;
                }
                continue;
            }
            let Some((worst, threshold)) = self.run.worst() else {
                break;
            };
            if logl > threshold {
                let x = self.to_natural(&u);
                let dead = self.run.replace(
                    worst,
                    NestedPoint {
                        u,
                        x,
                        log_likelihood: logl,
                        birth: threshold,
                    },
                );
                // The run's own static evidence, for its dlogz rule.
                let log_x = self.run.log_x();
                let log_dx = log_x + (-(-1.0 / self.run.size as f64).exp_m1()).ln();
                self.run.log_z = bound::log_add(self.run.log_z, dead.log_likelihood + log_dx);
                self.run.deaths += 1;
                self.run.accepted += 1;
                self.points.push(dead);
            }
            self.maybe_update_bound();
        }
    }

    fn maybe_update_bound(&mut self) {
        if !self.run.filled() || self.config.bound == BoundKind::None {
            return;
        }
        let k = self.run.size;
        let r = &self.run;
        if !r.bounded {
            // The whole cube is used until uniform draws from it have become rare: over the
            // last window of `live_points` evaluations, fewer than 10 % accepted.
            if r.evaluations - r.window_start.0 >= k {
                let (e0, a0) = r.window_start;
                let rate = (r.accepted - a0) as f64 / (r.evaluations - e0) as f64;
                self.run.recent_efficiency = rate;
                self.run.window_start = (self.run.evaluations, self.run.accepted);
            }
            let r = &self.run;
            let first = r.evaluations >= FIRST_UPDATE_CALLS * k
                && (r.recent_efficiency < FIRST_UPDATE_EFFICIENCY
                    || matches!(self.sampling, Sampling::RandomWalk | Sampling::Slice));
            if !first {
                return;
            }
        } else if (r.evaluations - r.bound_at) as f64 <= UPDATE_INTERVAL * k as f64 {
            return;
        }
        self.rebuild_bound();
    }

    fn rebuild_bound(&mut self) {
        let settings = self.settings();
        let us: Vec<&[f64]> = self.run.live.iter().map(|p| p.u.as_slice()).collect();
        if let Some(b) = Bound::build(&us, self.run.log_x(), &settings, &mut self.rng) {
            self.run.bound = Some(b);
            self.run.bounded = true;
        }
        self.run.bound_at = self.run.evaluations;
    }

    /// Moves the finished run's live points to the dead and starts the next dynamic batch,
    /// or ends.
    fn next_run(&mut self) {
        let finished = std::mem::replace(&mut self.run, Run::new(2, 0.0, 0.0, 0.0, false));
        self.points.extend(finished.live);
        self.queue.clear();
        if let Some(t) = self.limit_reached() {
            self.done = Some(t);
            return;
        }
        let (all, integrals) = self.integrals();
        if self.targets_met(&all, &integrals) {
            self.done = Some(Termination::Completed);
            return;
        }
        let Some((floor, ceiling, log_x0)) =
            batch_bounds(&all, &integrals, self.config.posterior_fraction)
        else {
            self.done = Some(Termination::Completed);
            return;
        };
        self.batches += 1;
        let mut run = Run::new(self.config.batch_size(), floor, ceiling, log_x0, false);
        // A bound from the points above the floor, for drawing the batch's first points: at
        // most a few batches' worth, spread evenly over the likelihood levels.
        if floor > f64::NEG_INFINITY {
            let above: Vec<&[f64]> = integrals
                .order
                .iter()
                .map(|&i| &all[i])
                .filter(|p| p.log_likelihood > floor)
                .map(|p| p.u.as_slice())
                .collect();
            let cap = 4 * self.config.batch_size();
            let step = above.len().div_ceil(cap).max(1);
            let above: Vec<&[f64]> = above.into_iter().step_by(step).collect();
            if self.config.bound != BoundKind::None {
                run.bound = Bound::build(&above, log_x0, &self.settings(), &mut self.rng);
                run.bounded = run.bound.is_some();
            }
        }
        self.run = run;
    }

    /// Why the whole run should stop now regardless of its targets (budget, batch limit).
    fn limit_reached(&self) -> Option<Termination> {
        if !self.budget_left() {
            return Some(Termination::MaxEvaluations);
        }
        self.config
            .max_batches
            .is_some_and(|m| self.batches >= m)
            .then_some(Termination::Completed)
    }

    /// Whether the merged run meets the dynamic stage's targets (see the type's docs).
    fn targets_met(&self, all: &[NestedPoint], integrals: &Integrals) -> bool {
        let f = self.config.posterior_fraction;
        // The blend of the two targets, weighted as the batches are: done when ≤ 1.
        let mut score = 0.0;
        if f > 0.0 {
            let e = ess(&integrals.log_weight, integrals.log_evidence);
            score += f * self.config.target_ess / e.max(f64::MIN_POSITIVE);
        }
        if f < 1.0 {
            let logl: Vec<f64> = all.iter().map(|p| p.log_likelihood).collect();
            let err = simulated_error(integrals, &logl, 100, self.seed);
            score += (1.0 - f) * err / self.config.target_error.max(f64::MIN_POSITIVE);
        }
        score <= 1.0
    }
}

/// The likelihood range of the next batch (floor, ceiling) and `ln X` at the floor, from the
/// importance of the points so far; `None` when there are no points.
fn batch_bounds(
    all: &[NestedPoint],
    integrals: &Integrals,
    posterior_fraction: f64,
) -> Option<(f64, f64, f64)> {
    let n = integrals.order.len();
    if n == 0 || !integrals.log_evidence.is_finite() {
        return None;
    }
    let z = integrals.log_evidence;
    // Posterior importance: the weight; evidence importance: the evidence still to come
    // beyond the point, per live point.
    let post: Vec<f64> = integrals.log_weight.iter().map(|w| (w - z).exp()).collect();
    let mut cumulative = 0.0f64;
    let evid: Vec<f64> = post
        .iter()
        .zip(&integrals.n_live)
        .map(|(p, &nl)| {
            let remaining = (1.0 - cumulative).max(0.0);
            cumulative += p;
            remaining / nl as f64
        })
        .collect();
    let pmax = post.iter().copied().fold(0.0, f64::max);
    let emax = evid.iter().copied().fold(0.0, f64::max);
    let importance: Vec<f64> = post
        .iter()
        .zip(&evid)
        .map(|(p, e)| {
            posterior_fraction * if pmax > 0.0 { p / pmax } else { 0.0 }
                + (1.0 - posterior_fraction) * if emax > 0.0 { e / emax } else { 0.0 }
        })
        .collect();
    let max = importance.iter().copied().fold(0.0, f64::max);
    let above: Vec<usize> = (0..n).filter(|&k| importance[k] > 0.8 * max).collect();
    let first = above.first().copied()?.saturating_sub(1);
    let last = (above.last().copied()? + 1).min(n - 1);
    let logl = |k: usize| all[integrals.order[k]].log_likelihood;
    let floor = if first == 0 {
        f64::NEG_INFINITY
    } else {
        logl(first)
    };
    let ceiling = if last == n - 1 {
        f64::INFINITY
    } else {
        logl(last)
    };
    let log_x0 = if first == 0 {
        0.0
    } else {
        integrals.log_volume[first]
    };
    Some((floor, ceiling, log_x0))
}

impl AskTell for NestedState {
    fn ask(&mut self) -> Ask {
        loop {
            if let Some(done) = &self.done {
                return Ask::Done(done.clone());
            }
            match &self.pending {
                Pending::Candidates(c) => {
                    return Ask::Evaluate(c.iter().map(|u| self.to_natural(u)).collect())
                }
                Pending::Walks(_, proposals) | Pending::Slices(_, proposals) => {
                    let points: Vec<Vec<f64>> = proposals
                        .iter()
                        .flatten()
                        .map(|u| self.to_natural(u))
                        .collect();
                    if !points.is_empty() {
                        return Ask::Evaluate(points);
                    }
                    // Every walk's step left the cube: all rejected, no evaluation. (Slices
                    // are only pending with a proposal to evaluate.)
                    self.settle_walks(&[]);
                    continue;
                }
                Pending::None => {}
            }
            if self.run.finished(self.config.dlogz) {
                self.next_run();
                continue;
            }
            if !self.budget_left() {
                self.done = Some(Termination::MaxEvaluations);
                continue;
            }
            self.next_ask();
        }
    }

    fn tell(&mut self, outcomes: &[Outcome]) -> Result<(), TellError> {
        if self.done.is_some() {
            return Err(TellError::AlreadyTerminated);
        }
        let expected = match &self.pending {
            Pending::None => return Err(TellError::NothingAsked),
            Pending::Candidates(c) => c.len(),
            Pending::Walks(_, p) | Pending::Slices(_, p) => p.iter().flatten().count(),
        };
        if outcomes.len() != expected {
            return Err(TellError::ResultCountMismatch {
                expected,
                received: outcomes.len(),
            });
        }
        self.evaluations += outcomes.len();
        self.failed += outcomes.iter().filter(|o| o.is_failed()).count();
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Candidates(c) => {
                let initial = !self.run.filled() && self.run.floor == f64::NEG_INFINITY;
                for (u, o) in c.into_iter().zip(outcomes) {
                    // A failed candidate has zero likelihood: a rejection in its turn (so a
                    // capped evaluation that stopped before the failure gives the same run),
                    // except at an initial point drawn from the whole prior, which it fills.
                    let logl = o.value().map_or(f64::NEG_INFINITY, |v| -v);
                    self.queue.push_back((u, logl));
                }
                if initial
                    && self.run.baseline
                    && self.run.live.is_empty()
                    && self.queue.len() >= self.run.size
                    && self.queue.iter().all(|(_, l)| *l == f64::NEG_INFINITY)
                {
                    self.failed_everywhere = true;
                    self.done = Some(Termination::Stalled(format!(
                        "the likelihood is -inf or fails everywhere: at all {} points drawn from the prior",
                        self.queue.len()
                    )));
                    return Ok(());
                }
            }
            Pending::Walks(walks, proposals) => {
                self.pending = Pending::Walks(walks, proposals);
                self.settle_walks(outcomes);
            }
            Pending::Slices(walks, proposals) => {
                self.settle_slices(walks, proposals, outcomes);
            }
            Pending::None => {}
        }
        self.process();
        Ok(())
    }

    /// Uniform candidates and random-walk steps are only compared with the current threshold
    /// (a candidate at or below it is rejected, whatever its likelihood), so their negative
    /// log-likelihoods are needed only below `−threshold`; the initial draws from the whole
    /// prior and slice steps use their values as they are.
    fn value_cap(&self) -> Option<f64> {
        let threshold = match &self.pending {
            Pending::Candidates(_) => self.threshold(),
            Pending::Walks(walks, _) => walks
                .iter()
                .map(|w| w.threshold)
                .fold(f64::INFINITY, f64::min),
            Pending::Slices(..) | Pending::None => return None,
        };
        (threshold > f64::NEG_INFINITY && threshold < f64::INFINITY).then_some(-threshold)
    }

    fn iterations(&self) -> usize {
        self.points.len()
    }

    fn evaluations(&self) -> usize {
        self.evaluations
    }

    fn failed_evaluations(&self) -> usize {
        self.failed
    }
}

impl NestedState {
    /// Applies one step's outcomes to the walks; finished walks queue their point.
    fn settle_walks(&mut self, outcomes: &[Outcome]) {
        let Pending::Walks(mut walks, proposals) =
            std::mem::replace(&mut self.pending, Pending::None)
        else {
            return;
        };
        let mut told = outcomes.iter();
        for (w, p) in walks.iter_mut().zip(proposals) {
            w.steps += 1;
            if let Some(y) = p {
                if let Some(Outcome::Value(nll)) = told.next() {
                    if -nll > w.threshold {
                        w.u = y;
                        w.log_likelihood = -nll;
                        w.accepted += 1;
                    }
                }
            }
        }
        if walks[0].steps < self.config.walks {
            self.step_walks(walks);
            return;
        }
        // Adapt the scale towards half the steps accepted.
        let d = self.priors.len() as f64;
        let total: usize = walks.iter().map(|w| w.accepted).sum();
        let rate = total as f64 / (walks.len() * self.config.walks) as f64;
        self.walk_scale *= ((rate - 0.5) / (0.5 * d)).exp();
        self.walk_scale = self.walk_scale.clamp(1e-6, 10.0);
        for w in walks {
            if w.accepted > 0 {
                self.queue.push_back((w.u, w.log_likelihood));
            } else {
                // A walk that never moved returns a copy of a live point: not a new draw.
                self.run.evaluations += 1;
            }
        }
    }

    /// A slice sampler from `w`'s point: `3 + d` slices (as dynesty's random slices).
    fn start_slice(&mut self, w: Walk) -> SliceWalk {
        let mut s = SliceWalk {
            u: w.u,
            log_likelihood: w.log_likelihood,
            threshold: w.threshold,
            slices_left: 3 + self.priors.len(),
            direction: Vec::new(),
            phase: SlicePhase::Left,
            left: 0.0,
            right: 0.0,
            at: 0.0,
            steps_this_slice: 0,
            expansions: 0,
            contractions: 0,
            moved: false,
        };
        self.new_slice(&mut s);
        s
    }

    /// Starts a slice along a random direction shaped by the bound's ellipsoid around the
    /// point, the unit interval placed at random around it.
    fn new_slice(&mut self, s: &mut SliceWalk) {
        let Some(bound) = &self.run.bound else {
            s.phase = SlicePhase::Done;
            return;
        };
        s.direction = bound.around(&s.u).direction(&mut self.rng, self.walk_scale);
        let r: f64 = self.rng.random();
        s.left = -r;
        s.right = 1.0 - r;
        s.at = s.left;
        s.phase = SlicePhase::Left;
        s.steps_this_slice = 0;
    }

    fn slice_point(s: &SliceWalk) -> Vec<f64> {
        s.u.iter()
            .zip(&s.direction)
            .map(|(u, v)| u + s.at * v)
            .collect()
    }

    /// The next point each unfinished sampler needs evaluated (points outside the cube are
    /// outside the slice, settled without an evaluation).
    fn propose_slices(&mut self, mut walks: Vec<SliceWalk>) {
        let mut proposals = Vec::with_capacity(walks.len());
        for s in &mut walks {
            proposals.push(loop {
                match s.phase {
                    SlicePhase::Done => break None,
                    SlicePhase::Shrink => s.at = self.rng.random_range(s.left..=s.right),
                    SlicePhase::Left | SlicePhase::Right => {}
                }
                let y = Self::slice_point(s);
                if y.iter().all(|v| (0.0..=1.0).contains(v)) {
                    break Some(y);
                }
                self.slice_outside(s);
            });
        }
        if proposals.iter().all(Option::is_none) {
            self.finish_slices(walks);
        } else {
            self.pending = Pending::Slices(walks, proposals);
        }
    }

    /// The proposal of `s` is outside the slice.
    fn slice_outside(&mut self, s: &mut SliceWalk) {
        s.steps_this_slice += 1;
        match s.phase {
            SlicePhase::Left => {
                s.phase = SlicePhase::Right;
                s.at = s.right;
            }
            SlicePhase::Right => s.phase = SlicePhase::Shrink,
            SlicePhase::Shrink => {
                if s.at < 0.0 {
                    s.left = s.at;
                } else {
                    s.right = s.at;
                }
                s.contractions += 1;
            }
            SlicePhase::Done => {}
        }
        if s.steps_this_slice >= SLICE_STEP_CAP && s.phase != SlicePhase::Done {
            // A slice that neither closes nor hits: give it up, keep the point.
            self.end_slice(s);
        }
    }

    /// The proposal `y` of `s` is inside the slice, with log-likelihood `logl`.
    fn slice_inside(&mut self, s: &mut SliceWalk, y: Vec<f64>, logl: f64) {
        s.steps_this_slice += 1;
        match s.phase {
            SlicePhase::Left => {
                s.left -= 1.0;
                s.at = s.left;
                s.expansions += 1;
            }
            SlicePhase::Right => {
                s.right += 1.0;
                s.at = s.right;
                s.expansions += 1;
            }
            SlicePhase::Shrink => {
                s.u = y;
                s.log_likelihood = logl;
                s.moved = true;
                self.end_slice(s);
                return;
            }
            SlicePhase::Done => return,
        }
        if s.steps_this_slice >= SLICE_STEP_CAP {
            // Stepping out without end: shrink within what was found.
            s.phase = SlicePhase::Shrink;
        }
    }

    fn end_slice(&mut self, s: &mut SliceWalk) {
        s.slices_left = s.slices_left.saturating_sub(1);
        if s.slices_left == 0 {
            s.phase = SlicePhase::Done;
        } else {
            self.new_slice(s);
        }
    }

    /// Applies one round of outcomes; finished samplers wait for the rest.
    fn settle_slices(
        &mut self,
        mut walks: Vec<SliceWalk>,
        proposals: Vec<Option<Vec<f64>>>,
        outcomes: &[Outcome],
    ) {
        let mut told = outcomes.iter();
        for (s, p) in walks.iter_mut().zip(proposals) {
            let Some(y) = p else { continue };
            match told.next() {
                Some(Outcome::Value(nll)) if -nll > s.threshold => self.slice_inside(s, y, -nll),
                _ => self.slice_outside(s),
            }
        }
        self.propose_slices(walks);
    }

    /// All samplers done: adapt the width (towards as many step-outs as shrinks, so the
    /// interval starts about the slice's size) and queue the moved points.
    fn finish_slices(&mut self, walks: Vec<SliceWalk>) {
        let expansions: usize = walks.iter().map(|w| w.expansions).sum();
        let contractions: usize = walks.iter().map(|w| w.contractions).sum();
        let total = (expansions + contractions).max(1) as f64;
        let balance = (expansions as f64 - contractions as f64) / total;
        self.walk_scale = (self.walk_scale * balance.exp()).clamp(1e-6, 10.0);
        for w in walks {
            if w.moved {
                self.queue.push_back((w.u, w.log_likelihood));
            } else {
                self.run.evaluations += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn point(log_likelihood: f64) -> NestedPoint {
        NestedPoint {
            u: vec![0.5],
            x: vec![0.5],
            log_likelihood,
            birth: f64::NEG_INFINITY,
        }
    }

    proptest! {
        /// The extremes kept through pushes and replacements are those a scan of the live
        /// points finds, ties (the first of equals is the worst), -inf and NaN included.
        #[test]
        fn kept_extremes_are_the_scanned_ones(
            values in prop::collection::vec(
                prop_oneof![
                    (-3i32..3).prop_map(f64::from),
                    Just(f64::NEG_INFINITY),
                    Just(f64::NAN),
                ],
                1..40,
            ),
            replacements in prop::collection::vec((0usize..40, -3i32..4), 0..20),
        ) {
            let mut run = Run::new(values.len(), f64::NEG_INFINITY, f64::INFINITY, 0.0, true);
            for &v in &values {
                run.push(point(v));
                prop_assert_eq!(format!("{:?}", run.extremes), format!("{:?}", run.scan()));
            }
            for (k, v) in replacements {
                run.replace(k % values.len(), point(f64::from(v)));
                prop_assert_eq!(format!("{:?}", run.extremes), format!("{:?}", run.scan()));
            }
        }
    }
}
