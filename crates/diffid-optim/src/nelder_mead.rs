//! The Nelder–Mead simplex method: settings, their validation, and the ask/tell state.
//!
//! Notation follows Lagarias, Reeds, Wright and Wright (1998), "Convergence properties of the
//! Nelder–Mead simplex method in low dimensions": the `n + 1` vertices are kept ordered by
//! value, best first, `x_h` is the worst vertex and `c` the centroid of the other `n`; the
//! coefficients are α (reflection), γ (expansion), ρ (contraction) and σ (shrink). One step
//! (an iteration) is
//!
//! - reflection `x_r = c + α (c − x_h)`; then
//! - if `f_r < f_best`: expansion `x_e = c + γ (x_r − c)`, accepting `x_e` if `f_e < f_r`, else
//!   `x_r`;
//! - else if `f_r < f_second_worst`: accept `x_r`;
//! - else if `f_r < f_h`: outside contraction `x_oc = c + ρ (x_r − c)`, accepted if
//!   `f_oc ≤ f_r`, otherwise shrink;
//! - else: inside contraction `x_ic = c + ρ (x_h − c)` (between `c` and `x_h`), accepted if
//!   `f_ic < f_h`, otherwise shrink;
//! - shrink: every vertex but the best moves to `x_best + σ (x_i − x_best)`.
//!
//! An accepted point replaces `x_h` and is ranked after the vertices of equal value (the tie
//! rule of Lagarias et al.).

use crate::settings::{check_step_size, check_stopping, invalid};
use diffid_core::{
    check_init, Ask, AskTell, Bounds, CoreError, LimitTracker, Limits, Optimiser, OptimiserState,
    Outcome, TellError, Termination,
};

const ALL_FAILED_MESSAGE: &str = "every vertex of the initial simplex failed to evaluate; check \
                                  the model, the starting point and the step size";

const NON_FINITE_MESSAGE: &str = "a trial point of the simplex became non-finite (numerical \
                                  breakdown); try a smaller step size or rescale the parameters";

/// The Nelder–Mead downhill simplex method, configured by builder methods.
///
/// The initial simplex is the start `x0` plus [`step_size`](Self::step_size) along each
/// coordinate (in parameter units). A run stops at the first of, checked between steps: the best
/// value reaching [`threshold`](Self::threshold); the simplex's size falling to
/// [`position_tolerance`](Self::position_tolerance) (reported as the function tolerance when
/// the spread of its values is within [`function_tolerance`](Self::function_tolerance) too, as
/// scipy requires both, else as the position tolerance: a collapsed simplex makes no more
/// progress); [`max_iter`](Self::max_iter) steps; or [`max_evaluations`](Self::max_evaluations)
/// (checked before every ask). Values that agree while the vertices are far apart (either side
/// of a minimum) never stop the run.
///
/// Setters do not check their argument; call [`validate`](Self::validate) (as
/// [`Optimiser::init`] does) to get a typed error naming the offending setting.
///
/// ```
/// use diffid_core::{testkit::rosenbrock, Ask, AskTell, Bounds, OptimiserState, Outcome};
/// use diffid_optim::NelderMead;
///
/// let opt = NelderMead::new().with_threshold(1e-10);
/// let mut state = opt.start(&[-1.2, 1.0], &[Bounds::unbounded(); 2]).expect("valid start");
/// while let Ask::Evaluate(points) = state.ask() {
///     let outcomes: Vec<Outcome> =
///         points.iter().map(|x| Outcome::from_value(rosenbrock(x))).collect();
///     state.tell(&outcomes).expect("one outcome per point");
/// }
/// let (x, _) = state.best().expect("some evaluation succeeded");
/// assert!((x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4);
/// let (vertices, values) = state.simplex(); // best first
/// assert_eq!((vertices.len(), values.len()), (3, 3));
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NelderMead {
    max_iter: usize,
    max_evaluations: Option<usize>,
    threshold: f64,
    step_size: f64,
    position_tolerance: f64,
    function_tolerance: f64,
    alpha: f64,
    gamma: f64,
    rho: f64,
    sigma: f64,
    /// Gao and Han's coefficients, set by the dimension (see [`NelderMead::with_adaptive`]).
    #[serde(default)]
    adaptive: bool,
    limits: Limits,
}

impl Default for NelderMead {
    fn default() -> Self {
        Self {
            max_iter: 1000,
            max_evaluations: None,
            threshold: f64::NEG_INFINITY,
            step_size: 0.1,
            position_tolerance: 1e-8,
            function_tolerance: 1e-12,
            alpha: 1.0,
            gamma: 2.0,
            rho: 0.5,
            sigma: 0.5,
            adaptive: false,
            limits: Limits::default(),
        }
    }
}

impl NelderMead {
    /// The default configuration (see the field getters for the values).
    pub fn new() -> Self {
        Self::default()
    }

    crate::settings::stopping_methods!(
        "simplex steps",
        "No point is asked for beyond this budget: the run stops as soon as the next batch (the `n + 1` initial vertices, one trial point, or the `n` points of a shrink) would exceed it, even in the middle of a step."
    );

    /// The offset of the initial simplex's vertices from the start along each coordinate, in
    /// parameter units (default 0.1). A vertex that would leave the bounds steps the other way
    /// instead, or, when neither fits, goes to the farther end of the interval. Must be finite
    /// and `> 0`.
    #[must_use]
    pub fn with_step_size(mut self, step_size: f64) -> Self {
        self.step_size = step_size;
        self
    }

    /// Stop when every vertex lies within this Euclidean distance of the best one (default
    /// `1e-8`, in parameter units). Must be `>= 0`.
    #[must_use]
    pub fn with_position_tolerance(mut self, position_tolerance: f64) -> Self {
        self.position_tolerance = position_tolerance;
        self
    }

    /// Converged when, with the simplex within the position tolerance, every vertex's value is
    /// within this of the best value: `max |f_i − f_best| <= function_tolerance` (default
    /// `1e-12`). A failed vertex is never within tolerance. Must be `>= 0`.
    #[must_use]
    pub fn with_function_tolerance(mut self, function_tolerance: f64) -> Self {
        self.function_tolerance = function_tolerance;
        self
    }

    /// The coefficients of reflection `alpha`, expansion `gamma`, contraction `rho` and shrink
    /// `sigma` (default `(1, 2, 0.5, 0.5)`, those of Nelder and Mead). Must satisfy
    /// `alpha > 0`, `gamma > 1`, `gamma > alpha`, `0 < rho < 1` (`rho <= 0.5` is conventional)
    /// and `0 < sigma < 1`, all finite.
    #[must_use]
    pub fn with_coefficients(mut self, alpha: f64, gamma: f64, rho: f64, sigma: f64) -> Self {
        self.alpha = alpha;
        self.gamma = gamma;
        self.rho = rho;
        self.sigma = sigma;
        self.adaptive = false;
        self
    }

    /// Use the adaptive coefficients of Gao and Han (2012, "Implementing the Nelder–Mead
    /// simplex algorithm with adaptive parameters", as scipy's `adaptive=True`) for `n`
    /// parameters: reflection 1, expansion `1 + 2/n`, contraction `0.75 − 1/(2n)`, shrink
    /// `1 − 1/n` — the standard ones for `n = 2`, and steps that keep the simplex from
    /// collapsing in more dimensions (measured in `tests/nelder_mead.rs`). Giving
    /// [`with_coefficients`](Self::with_coefficients) afterwards turns it off.
    #[must_use]
    pub fn with_adaptive(mut self, adaptive: bool) -> Self {
        self.adaptive = adaptive;
        self
    }

    /// Whether the coefficients adapt to the dimension.
    pub fn adaptive(&self) -> bool {
        self.adaptive
    }

    /// The coefficients `(alpha, gamma, rho, sigma)` used for `n` parameters.
    pub fn coefficients_for(&self, n: usize) -> (f64, f64, f64, f64) {
        if self.adaptive {
            let nf = n.max(1) as f64;
            (1.0, 1.0 + 2.0 / nf, 0.75 - 0.5 / nf, 1.0 - 1.0 / nf)
        } else {
            (self.alpha, self.gamma, self.rho, self.sigma)
        }
    }

    /// The offset of the initial simplex's vertices from the start.
    pub fn step_size(&self) -> f64 {
        self.step_size
    }

    /// The position tolerance.
    pub fn position_tolerance(&self) -> f64 {
        self.position_tolerance
    }

    /// The function-value tolerance.
    pub fn function_tolerance(&self) -> f64 {
        self.function_tolerance
    }

    /// The coefficients `(alpha, gamma, rho, sigma)`: reflection, expansion, contraction,
    /// shrink.
    pub fn coefficients(&self) -> (f64, f64, f64, f64) {
        (self.alpha, self.gamma, self.rho, self.sigma)
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`CoreError::InvalidSetting`] naming the first invalid setting: `step_size` not finite or
    /// `<= 0`; `max_evaluations == Some(0)`; `threshold` NaN;
    /// `function_tolerance` or `position_tolerance` negative or NaN; `alpha` not finite or
    /// `<= 0`; `gamma` not finite, `<= 1` or `<= alpha`; `rho` or `sigma` outside `(0, 1)`.
    pub fn validate(&self) -> Result<(), CoreError> {
        check_step_size(self.step_size)?;
        check_stopping(
            self.max_evaluations,
            self.threshold,
            self.function_tolerance,
            self.position_tolerance,
        )?;
        self.limits.validate()?;
        if !self.alpha.is_finite() || self.alpha <= 0.0 {
            return Err(invalid(
                "alpha",
                &self.alpha,
                "alpha (the reflection coefficient) must be a finite number > 0",
            ));
        }
        if !self.gamma.is_finite() || self.gamma <= 1.0 {
            return Err(invalid(
                "gamma",
                &self.gamma,
                "gamma (the expansion coefficient) must be a finite number > 1",
            ));
        }
        if self.gamma <= self.alpha {
            return Err(invalid(
                "gamma",
                &self.gamma,
                "gamma (the expansion coefficient) must be greater than alpha (the reflection \
                 coefficient)",
            ));
        }
        if !(self.rho > 0.0 && self.rho < 1.0) {
            return Err(invalid(
                "rho",
                &self.rho,
                "rho (the contraction coefficient) must lie strictly between 0 and 1 (0.5 is \
                 conventional)",
            ));
        }
        if !(self.sigma > 0.0 && self.sigma < 1.0) {
            return Err(invalid(
                "sigma",
                &self.sigma,
                "sigma (the shrink coefficient) must lie strictly between 0 and 1",
            ));
        }
        Ok(())
    }

    /// Starts a run at `initial` within `bounds` (one per coordinate); the concrete form of
    /// [`Optimiser::init`].
    ///
    /// # Errors
    /// As [`check_init`] (empty, mismatched or out-of-bounds start) and [`validate`](Self::validate).
    pub fn start(&self, initial: &[f64], bounds: &[Bounds]) -> Result<NelderMeadState, CoreError> {
        check_init(initial, bounds)?;
        self.validate()?;
        Ok(NelderMeadState::new(self.clone(), initial, bounds))
    }
}

impl Optimiser for NelderMead {
    fn name(&self) -> &'static str {
        "nelder_mead"
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

/// A vertex of the simplex, or an evaluated trial point: its position and ranking value
/// (`+inf` for a failed or not yet evaluated point).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Vertex {
    x: Vec<f64>,
    f: f64,
}

/// Which part of a step the pending trial points belong to.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Stage {
    /// The `n + 1` vertices of the initial simplex.
    Initial,
    /// The reflection of the worst vertex through the centroid of the others.
    Reflection {
        centroid: Vec<f64>,
        /// `c + α (c − x_h)` before folding into the bounds: expansion and outside contraction
        /// go along this direction.
        unfolded: Vec<f64>,
    },
    /// The expansion point, after a reflection better than the best vertex.
    Expansion { reflected: Vertex },
    /// The outside contraction point, after a reflection between the second worst and the worst.
    OutsideContraction { reflected: Vertex },
    /// The inside contraction point, after a reflection no better than the worst.
    InsideContraction,
    /// The `n` shrunk vertices; `fallback` is the best point evaluated in this step when it
    /// beats the worst vertex.
    Shrink { fallback: Option<Vertex> },
}

impl Stage {
    /// The best point evaluated so far in the unfinished step, when it beats the worst vertex.
    fn fallback(self) -> Option<Vertex> {
        match self {
            Self::Expansion { reflected } | Self::OutsideContraction { reflected } => {
                Some(reflected)
            }
            Self::Shrink { fallback } => fallback,
            Self::Initial | Self::Reflection { .. } | Self::InsideContraction => None,
        }
    }
}

/// The next batch of a step: planned after a `tell`, asked for by the next `ask`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Trial {
    stage: Stage,
    points: Vec<Vec<f64>>,
    asked: bool,
}

/// A running Nelder–Mead search, driven by [`ask`](AskTell::ask) and [`tell`](AskTell::tell).
///
/// Started by [`NelderMead::start`] (or [`Optimiser::init`]). The first ask is the initial
/// simplex, a batch of `n + 1` points (the start first); every later step asks for one point at a
/// time (the reflection, then possibly an expansion or a contraction), and a shrink asks for the
/// `n` moved vertices as one batch. Failed outcomes and non-finite values rank worst (`+inf`)
/// and the run goes on; only a wholly failed initial simplex stops it
/// ([`Termination::Stalled`]).
///
/// With bounds, every asked point outside the box is folded back in with [`Bounds::reflect`]
/// and the algorithm goes on with the folded point. Expansion and outside contraction still go
/// along the direction of the unfolded reflection.
///
/// The method is deterministic: the run depends only on the outcomes told, not on how or in
/// which order the points were evaluated.
///
/// [`Optimiser::init`]: diffid_core::Optimiser::init
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NelderMeadState {
    config: NelderMead,
    bounds: Vec<Bounds>,
    /// Whether any coordinate has a finite bound (otherwise no folding is needed).
    bounded: bool,
    /// The `n + 1` vertices, best first (ties in the order of Lagarias et al.).
    simplex: Vec<Vertex>,
    trial: Option<Trial>,
    iterations: usize,
    evaluations: usize,
    failed: usize,
    best: Option<(Vec<f64>, f64)>,
    history: Vec<f64>,
    termination: Option<Termination>,
    limits: LimitTracker,
}

impl NelderMeadState {
    /// Starts at `initial`; the arguments have been checked by [`NelderMead::start`].
    fn new(config: NelderMead, initial: &[f64], bounds: &[Bounds]) -> Self {
        let simplex: Vec<Vertex> = initial_simplex(initial, bounds, config.step_size())
            .into_iter()
            .map(|x| Vertex {
                x,
                f: f64::INFINITY,
            })
            .collect();
        let points = simplex.iter().map(|v| v.x.clone()).collect();
        let limits = LimitTracker::new(config.limits());
        Self {
            limits,
            config,
            bounds: bounds.to_vec(),
            bounded: bounds.iter().any(|b| !b.is_unbounded()),
            simplex,
            trial: Some(Trial {
                stage: Stage::Initial,
                points,
                asked: false,
            }),
            iterations: 0,
            evaluations: 0,
            failed: 0,
            best: None,
            history: Vec::new(),
            termination: None,
        }
    }

    /// Why the run stopped, once [`ask`](AskTell::ask) has returned [`Ask::Done`].
    pub fn termination(&self) -> Option<&Termination> {
        self.termination.as_ref()
    }

    /// The configuration this state was started with.
    pub fn config(&self) -> &NelderMead {
        &self.config
    }

    /// The current simplex: its `n + 1` vertices, best first, and their values (`+inf` for a
    /// failed vertex, and for every vertex before the initial simplex has been told).
    pub fn simplex(&self) -> (Vec<Vec<f64>>, Vec<f64>) {
        (
            self.simplex.iter().map(|v| v.x.clone()).collect(),
            self.simplex.iter().map(|v| v.f).collect(),
        )
    }

    fn dim(&self) -> usize {
        self.simplex.len() - 1
    }

    /// The reason to stop between steps, if any.
    fn stop_reason(&self) -> Option<Termination> {
        let best = &self.simplex[0];
        if best.f == f64::INFINITY {
            // Only possible right after the initial simplex: later steps keep the best vertex.
            return Some(Termination::Stalled(ALL_FAILED_MESSAGE.to_owned()));
        }
        if best.f <= self.config.threshold() {
            return Some(Termination::ThresholdReached);
        }
        // Values that agree are not enough, as in scipy: two vertices either side of a
        // minimum have equal values far from it. The values count only once the simplex is
        // small too; a simplex that has collapsed stops even if its values still differ (an
        // ODE objective's solver noise can exceed any absolute function tolerance, and a
        // collapsed simplex makes no more progress).
        // Sorted, so the spread of the values is worst − best (`+inf` with a failed vertex).
        let spread = self.simplex[self.dim()].f - best.f;
        let size = self.simplex[1..]
            .iter()
            .map(|v| distance(&v.x, &best.x))
            .fold(0.0_f64, f64::max);
        if size <= self.config.position_tolerance() {
            return Some(if spread <= self.config.function_tolerance() {
                Termination::FunctionTolerance
            } else {
                Termination::PositionTolerance
            });
        }
        if self.iterations >= self.config.max_iter() {
            return Some(Termination::MaxIterations);
        }
        self.limits.reached(self.iterations)
    }

    /// Folds `x` into the bounds.
    fn fold(&self, mut x: Vec<f64>) -> Vec<f64> {
        if self.bounded {
            for (xi, b) in x.iter_mut().zip(&self.bounds) {
                *xi = b.reflect(*xi);
            }
        }
        x
    }

    fn plan(&mut self, stage: Stage, points: Vec<Vec<f64>>) {
        self.trial = Some(Trial {
            stage,
            points,
            asked: false,
        });
    }

    /// Plans the reflection that starts a step.
    fn plan_reflection(&mut self) {
        let n = self.dim();
        let (alpha, _, _, _) = self.config.coefficients_for(n);
        let mut centroid = vec![0.0; n];
        for v in &self.simplex[..n] {
            for (c, xi) in centroid.iter_mut().zip(&v.x) {
                *c += xi;
            }
        }
        for c in &mut centroid {
            *c /= n as f64;
        }
        let worst = &self.simplex[n].x;
        let unfolded: Vec<f64> = centroid
            .iter()
            .zip(worst)
            .map(|(c, h)| c + alpha * (c - h))
            .collect();
        let point = self.fold(unfolded.clone());
        self.plan(Stage::Reflection { centroid, unfolded }, vec![point]);
    }

    /// Plans the shrink of every vertex towards the best one.
    fn plan_shrink(&mut self, fallback: Option<Vertex>) {
        let (_, _, _, sigma) = self.config.coefficients_for(self.dim());
        let best = &self.simplex[0].x;
        let points = self.simplex[1..]
            .iter()
            .map(|v| self.fold(towards(best, &v.x, sigma)))
            .collect();
        self.plan(Stage::Shrink { fallback }, points);
    }

    /// Replaces the worst vertex by `v`, ranked after the vertices of equal value.
    fn replace_worst(&mut self, v: Vertex) {
        self.simplex.pop();
        let at = self.simplex.partition_point(|u| u.f <= v.f);
        self.simplex.insert(at, v);
    }

    /// Ends a step.
    fn complete_step(&mut self) {
        self.trial = None;
        self.iterations += 1;
        self.history.push(self.simplex[0].f);
        self.limits.record(
            self.iterations,
            Some(self.simplex[0].f).filter(|f| f.is_finite()),
        );
    }

    /// Moves the run on after the trial of `stage` was evaluated to `told`.
    fn advance(&mut self, stage: Stage, told: Vec<Vertex>) {
        let n = self.dim();
        let (_, gamma, rho, _) = self.config.coefficients_for(n);
        match stage {
            Stage::Initial => {
                self.simplex = told;
                // Stable: ties keep the asked order, the start first.
                self.simplex.sort_by(|a, b| a.f.total_cmp(&b.f));
                self.trial = None;
            }
            Stage::Reflection { centroid, unfolded } => {
                let reflected = first(told);
                if reflected.f < self.simplex[0].f {
                    let point = self.fold(towards(&centroid, &unfolded, gamma));
                    self.plan(Stage::Expansion { reflected }, vec![point]);
                } else if reflected.f < self.simplex[n - 1].f {
                    self.replace_worst(reflected);
                    self.complete_step();
                } else if reflected.f < self.simplex[n].f {
                    let point = self.fold(towards(&centroid, &unfolded, rho));
                    self.plan(Stage::OutsideContraction { reflected }, vec![point]);
                } else {
                    let point = self.fold(towards(&centroid, &self.simplex[n].x, rho));
                    self.plan(Stage::InsideContraction, vec![point]);
                }
            }
            Stage::Expansion { reflected } => {
                let expanded = first(told);
                self.replace_worst(if expanded.f < reflected.f {
                    expanded
                } else {
                    reflected
                });
                self.complete_step();
            }
            Stage::OutsideContraction { reflected } => {
                let contracted = first(told);
                if contracted.f <= reflected.f {
                    self.replace_worst(contracted);
                    self.complete_step();
                } else {
                    // f_oc > f_r and f_r < f_h: the reflection is the step's best point.
                    self.plan_shrink(Some(reflected));
                }
            }
            Stage::InsideContraction => {
                let contracted = first(told);
                if contracted.f < self.simplex[n].f {
                    self.replace_worst(contracted);
                    self.complete_step();
                } else {
                    // Both the reflection and the contraction are no better than the worst.
                    self.plan_shrink(None);
                }
            }
            Stage::Shrink { .. } => {
                for (slot, v) in self.simplex[1..].iter_mut().zip(told) {
                    *slot = v;
                }
                // Stable: the best vertex stays first among equals.
                self.simplex.sort_by(|a, b| a.f.total_cmp(&b.f));
                self.complete_step();
            }
        }
    }

    /// Stops the run. A step cut short (by the evaluation budget or a breakdown) keeps its best
    /// point evaluated so far when that beats the worst vertex, so that the simplex's best
    /// vertex is [`best`](OptimiserState::best); it does not count as an iteration.
    fn finish(&mut self, reason: Termination) -> Ask {
        if let Some(trial) = self.trial.take() {
            if let Some(v) = trial.stage.fallback() {
                if v.f < self.simplex[self.dim()].f {
                    self.replace_worst(v);
                }
            }
        }
        self.termination = Some(reason.clone());
        Ask::Done(reason)
    }
}

/// The initial simplex: `x0`, then `x0 + h e_i` for each coordinate `i`, stepping to
/// `x0 − h e_i` when the former leaves the bounds, and to the farther end of the interval when
/// both do (so no vertex coincides with `x0`).
fn initial_simplex(x0: &[f64], bounds: &[Bounds], h: f64) -> Vec<Vec<f64>> {
    let mut points = Vec::with_capacity(x0.len() + 1);
    points.push(x0.to_vec());
    for (i, (&xi, b)) in x0.iter().zip(bounds).enumerate() {
        let up = xi + h;
        let down = xi - h;
        let moved = if b.contains(up) {
            up
        } else if b.contains(down) {
            down
        } else if b.upper() - xi >= xi - b.lower() {
            b.upper()
        } else {
            b.lower()
        };
        let mut p = x0.to_vec();
        p[i] = moved;
        points.push(p);
    }
    points
}

/// `from + t (to − from)`, coordinate by coordinate.
fn towards(from: &[f64], to: &[f64], t: f64) -> Vec<f64> {
    from.iter().zip(to).map(|(a, b)| a + t * (b - a)).collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// The single evaluated point of a one-point trial.
fn first(told: Vec<Vertex>) -> Vertex {
    let mut told = told.into_iter();
    match told.next() {
        Some(v) => v,
        None => unreachable!("a one-point trial was told one outcome"),
    }
}

impl AskTell for NelderMeadState {
    fn ask(&mut self) -> Ask {
        if let Some(reason) = &self.termination {
            return Ask::Done(reason.clone());
        }
        if self.trial.is_none() {
            if let Some(reason) = self.stop_reason() {
                return self.finish(reason);
            }
            self.plan_reflection();
        }
        let (size, finite) = match &self.trial {
            Some(trial) if trial.asked => return Ask::Evaluate(trial.points.clone()),
            Some(trial) => (
                trial.points.len(),
                trial.points.iter().flatten().all(|v| v.is_finite()),
            ),
            None => unreachable!("a trial is planned between steps"),
        };
        if !finite {
            return self.finish(Termination::Stalled(NON_FINITE_MESSAGE.to_owned()));
        }
        if let Some(max) = self.config.max_evaluations() {
            if self.evaluations + size > max {
                return self.finish(Termination::MaxEvaluations);
            }
        }
        match &mut self.trial {
            Some(trial) => {
                trial.asked = true;
                Ask::Evaluate(trial.points.clone())
            }
            None => unreachable!("a trial is planned between steps"),
        }
    }

    fn tell(&mut self, outcomes: &[Outcome]) -> Result<(), TellError> {
        if self.termination.is_some() {
            return Err(TellError::AlreadyTerminated);
        }
        let Some(trial) = self.trial.take() else {
            return Err(TellError::NothingAsked);
        };
        if !trial.asked {
            self.trial = Some(trial);
            return Err(TellError::NothingAsked);
        }
        if outcomes.len() != trial.points.len() {
            let expected = trial.points.len();
            self.trial = Some(trial);
            return Err(TellError::ResultCountMismatch {
                expected,
                received: outcomes.len(),
            });
        }

        let told: Vec<Vertex> = trial
            .points
            .into_iter()
            .zip(outcomes)
            .map(|(x, o)| {
                let f = match o {
                    Outcome::Value(v) if v.is_finite() => *v,
                    _ => f64::INFINITY,
                };
                Vertex { x, f }
            })
            .collect();
        self.evaluations += told.len();
        self.failed += told.iter().filter(|v| v.f == f64::INFINITY).count();
        for v in &told {
            let improves = match &self.best {
                Some((_, b)) => v.f < *b,
                None => v.f.is_finite(),
            };
            if improves {
                self.best = Some((v.x.clone(), v.f));
            }
        }
        self.advance(trial.stage, told);
        Ok(())
    }

    fn iterations(&self) -> usize {
        self.iterations
    }

    fn evaluations(&self) -> usize {
        self.evaluations
    }

    fn failed_evaluations(&self) -> usize {
        self.failed
    }
}

impl OptimiserState for NelderMeadState {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn best(&self) -> Option<(Vec<f64>, f64)> {
        self.best.clone()
    }

    fn simplex(&self) -> Option<(Vec<Vec<f64>>, Vec<f64>)> {
        Some(NelderMeadState::simplex(self))
    }

    fn history(&self) -> &[f64] {
        self.history.as_slice()
    }
}
