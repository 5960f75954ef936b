//! The CMA-ES configuration: settings, their validation, and starting a state.

use crate::settings::{check_step_size, check_stopping, invalid};
use crate::state::CmaEsState;
use diffid_core::{check_init, Bounds, CoreError, Limits, Optimiser, OptimiserState};

/// Covariance matrix adaptation evolution strategy (CMA-ES), configured by builder methods.
///
/// The defaults follow Hansen's tutorial: population size `λ = 4 + ⌊3 ln n⌋`, `μ = ⌊λ/2⌋`
/// log-weighted parents, cumulative step-size adaptation and rank-one plus rank-μ covariance
/// updates. A run stops at the first of: the best value reaching [`threshold`](Self::threshold),
/// the function-value or position tolerance, a numerical breakdown, [`max_iter`](Self::max_iter)
/// generations, or [`max_evaluations`](Self::max_evaluations).
///
/// [`with_restarts`](Self::with_restarts) turns on IPOP or BIPOP restarts (off by default).
///
/// Setters do not check their argument; call [`validate`](Self::validate) (as
/// [`Optimiser::init`] does) to get a typed error naming the offending setting.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CmaEs {
    max_iter: usize,
    max_evaluations: Option<usize>,
    threshold: f64,
    step_size: f64,
    population_size: Option<usize>,
    seed: Option<u64>,
    function_tolerance: f64,
    position_tolerance: f64,
    restarts: Restarts,
    limits: Limits,
}

/// Restart strategies of CMA-ES, for multimodal objectives.
///
/// With restarts on, a state runs CMA-ES; whenever the inner run stops on a *local* criterion
/// (function tolerance, position tolerance, a stall or numerical breakdown, or the budget of a
/// BIPOP small-population run) and restarts remain, it starts a fresh inner run. Each restart
/// starts at a point drawn uniformly in the box for every coordinate with two finite bounds
/// (other coordinates keep the original start), with a fresh covariance `C = I`. The whole run
/// stops at the first of: the threshold (at once, whichever inner run reaches it),
/// [`max_iter`](CmaEs::max_iter) generations or [`max_evaluations`](CmaEs::max_evaluations)
/// evaluations counted over all runs, or the last allowed inner run stopping, whose termination
/// is then reported. The first inner run is the plain CMA-ES run of the same seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Restarts {
    /// No restarts: one CMA-ES run (the default).
    #[default]
    None,
    /// IPOP-CMA-ES (Auger & Hansen 2005, "A restart CMA evolution strategy with increasing
    /// population size"): every restart uses the initial step size and multiplies the
    /// population size by `increase` (rounded; at least one more than before; at most 2²⁰).
    Ipop {
        /// The most restarts made (after the first run).
        max_restarts: usize,
        /// The factor by which λ grows at each restart; finite and `> 1`.
        increase: f64,
    },
    /// BIPOP-CMA-ES (Hansen 2009, "Benchmarking a BI-population CMA-ES on the BBOB-2009
    /// function testbed"): after the first run, each restart goes to whichever regime has used
    /// fewer evaluations so far (the first run counts as large). The large regime is IPOP with
    /// increase 2 and the initial step size; a small-population run draws
    /// `λ = ⌊λ_def (λ_l / (2 λ_def))^(u²)⌋` (`λ_l` the population of the next large run, `u`
    /// uniform in [0, 1)), `σ = σ0 · 10^(−2 u')`, and may use at most half the evaluations of
    /// the latest large run. The run ends when the large regime is due and has used up its
    /// restarts.
    Bipop {
        /// The most restarts in the large-population regime (as in Hansen 2009); small runs
        /// are not counted here, though [`CmaEsState::restarts`](crate::CmaEsState::restarts)
        /// counts them.
        max_restarts: usize,
    },
}

impl Restarts {
    /// IPOP with the published settings: up to 9 restarts, doubling the population.
    pub fn ipop() -> Self {
        Self::Ipop {
            max_restarts: 9,
            increase: 2.0,
        }
    }

    /// BIPOP with up to 9 large-population restarts.
    pub fn bipop() -> Self {
        Self::Bipop { max_restarts: 9 }
    }
}

impl Default for CmaEs {
    fn default() -> Self {
        Self {
            max_iter: 1000,
            max_evaluations: None,
            threshold: f64::NEG_INFINITY,
            step_size: 0.5,
            population_size: None,
            seed: None,
            function_tolerance: 1e-12,
            position_tolerance: 1e-12,
            restarts: Restarts::None,
            limits: Limits::default(),
        }
    }
}

impl CmaEs {
    /// The default configuration (see the field getters for the values).
    pub fn new() -> Self {
        Self::default()
    }

    crate::settings::stopping_methods!(
        "generations",
        "CMA-ES always evaluates whole generations of `λ` points, so the run stops as soon as the next generation would exceed this budget."
    );

    /// The initial step size σ, in parameter units (default 0.5). Must be finite and `> 0`.
    #[must_use]
    pub fn with_step_size(mut self, step_size: f64) -> Self {
        self.step_size = step_size;
        self
    }

    /// The population size λ (default `4 + ⌊3 ln n⌋` for `n` parameters). Must be at least 2.
    #[must_use]
    pub fn with_population_size(mut self, population_size: usize) -> Self {
        self.population_size = Some(population_size);
        self
    }

    /// Seeds the random number generator, making runs reproducible bit for bit (default:
    /// unseeded, a seed is drawn from OS entropy when a state starts; see
    /// [`CmaEsState::seed`]).
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Stop when the best values of the last `10 + ⌈30 n/λ⌉` generations, and all values of the
    /// current generation, each span less than this (default `1e-12`; 0 disables). Must be
    /// `>= 0`.
    #[must_use]
    pub fn with_function_tolerance(mut self, function_tolerance: f64) -> Self {
        self.function_tolerance = function_tolerance;
        self
    }

    /// Stop when the search distribution's standard deviation in every coordinate, and the
    /// evolution path `σ p_c` in every coordinate, fall below this (default `1e-12`, in
    /// parameter units; 0 disables). Must be `>= 0`.
    #[must_use]
    pub fn with_position_tolerance(mut self, position_tolerance: f64) -> Self {
        self.position_tolerance = position_tolerance;
        self
    }

    /// Restarts after local convergence (default [`Restarts::None`]); see [`Restarts`]. With
    /// restarts, [`max_iter`](Self::max_iter) and [`max_evaluations`](Self::max_evaluations)
    /// limit the whole sequence of runs.
    #[must_use]
    pub fn with_restarts(mut self, restarts: Restarts) -> Self {
        self.restarts = restarts;
        self
    }

    /// The initial step size σ.
    pub fn step_size(&self) -> f64 {
        self.step_size
    }

    /// The population size set, or `None` for the default `4 + ⌊3 ln n⌋`.
    pub fn population_size(&self) -> Option<usize> {
        self.population_size
    }

    /// The population size used for a problem of `n` parameters.
    pub fn population_size_for(&self, n: usize) -> usize {
        self.population_size
            .unwrap_or_else(|| 4 + (3.0 * (n.max(1) as f64).ln()).floor() as usize)
    }

    /// The seed set, or `None` for a seed drawn from OS entropy.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// The function-value tolerance.
    pub fn function_tolerance(&self) -> f64 {
        self.function_tolerance
    }

    /// The position tolerance.
    pub fn position_tolerance(&self) -> f64 {
        self.position_tolerance
    }

    /// The restart strategy.
    pub fn restarts(&self) -> Restarts {
        self.restarts
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`CoreError::InvalidSetting`] naming the first invalid setting: `step_size` not finite or
    /// `<= 0`; `population_size < 2`; `threshold` NaN; `function_tolerance` or
    /// `position_tolerance` negative or NaN; `max_evaluations == Some(0)`; `restarts` IPOP with
    /// an `increase` not finite or `<= 1`.
    pub fn validate(&self) -> Result<(), CoreError> {
        check_step_size(self.step_size)?;
        if let Some(lambda) = self.population_size {
            if lambda < 2 {
                return Err(invalid(
                    "population_size",
                    &lambda,
                    "population_size must be at least 2",
                ));
            }
        }
        check_stopping(
            self.max_evaluations,
            self.threshold,
            self.function_tolerance,
            self.position_tolerance,
        )?;
        self.limits.validate()?;
        if let Restarts::Ipop { increase, .. } = self.restarts {
            if !increase.is_finite() || increase <= 1.0 {
                return Err(invalid(
                    "restarts",
                    &format!("{:?}", self.restarts),
                    "the IPOP population increase must be a finite number > 1 (2 is usual)",
                ));
            }
        }
        Ok(())
    }

    /// Starts a run at `initial` within `bounds` (one per coordinate); the concrete form of
    /// [`Optimiser::init`].
    ///
    /// # Errors
    /// As [`check_init`] (empty, mismatched or out-of-bounds start) and [`validate`](Self::validate).
    pub fn start(&self, initial: &[f64], bounds: &[Bounds]) -> Result<CmaEsState, CoreError> {
        check_init(initial, bounds)?;
        self.validate()?;
        let seed = self.seed.unwrap_or_else(rand::random);
        Ok(CmaEsState::new(self.clone(), initial, bounds, seed))
    }
}

impl Optimiser for CmaEs {
    fn name(&self) -> &'static str {
        "cmaes"
    }

    fn init(
        &self,
        initial: &[f64],
        bounds: &[Bounds],
    ) -> Result<Box<dyn OptimiserState>, CoreError> {
        if self.max_iter == 0 {
            self.validate()?;
            return crate::start_only::start_only(initial, bounds);
        }
        Ok(Box::new(self.start(initial, bounds)?))
    }
}
