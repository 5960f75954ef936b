//! L-BFGS-B: limited-memory BFGS with box bounds (Byrd, Lu, Nocedal & Zhu 1995, "A limited
//! memory algorithm for bound constrained optimization"; with the subspace step of Morales &
//! Nocedal 2011, "Remark on Algorithm 778").
//!
//! Each iteration, at the current point `x` with gradient `g`:
//!
//! 1. the limited-memory model `B = θI − W M Wᵀ` (compact form, `W = [Y θS]`) is minimised
//!    along the projected steepest-descent path `P(x − t g)`: the generalised Cauchy point
//!    `x_c`, found by walking the path's breakpoints in order;
//! 2. the model is then minimised over the variables still free at `x_c` (direct primal
//!    method, with the Sherman–Morrison–Woodbury form of the reduced inverse), the result
//!    projected into the box, and truncated to the box instead when the projection is not a
//!    descent direction; this gives `x̄`;
//! 3. a line search along `d = x̄ − x` (never beyond the box) finds a step satisfying the
//!    strong Wolfe conditions (sufficient decrease `c₁ = 10⁻³`, curvature `c₂ = 0.9`), by
//!    bracketing and safeguarded cubic interpolation;
//! 4. the pair `s = Δx`, `y = Δg` joins the memory when `sᵀy > ε yᵀy`, and `θ = yᵀy / sᵀy`.
//!
//! A failed evaluation during the line search counts as an overshoot (the step shrinks), so a
//! model that cannot be solved at a trial point does not end the run. When the line search
//! fails, the memory is dropped and the search retried along the projected steepest descent;
//! only when that fails too does the run stall.

use crate::gradient::{projected_gradient_norm, GradientTrial};
use crate::settings::{check_stopping, invalid};
use diffid_core::{
    check_init, Ask, AskTell, Bounds, CoreError, GradientOutcome, LimitTracker, Limits, Optimiser,
    OptimiserState, Outcome, TellError, Termination,
};
use nalgebra::{DMatrix, DVector};
use std::collections::VecDeque;

/// Sufficient-decrease constant of the line search.
const C1: f64 = 1e-3;
/// Curvature constant of the line search.
const C2: f64 = 0.9;

/// L-BFGS-B, configured by builder methods.
///
/// A run stops at the first of: the best value reaching [`threshold`](Self::threshold); the
/// projected gradient's largest component falling to
/// [`gradient_tolerance`](Self::gradient_tolerance), or the relative reduction of the value in
/// an iteration falling to [`function_tolerance`](Self::function_tolerance) (both successes);
/// [`max_iter`](Self::max_iter) iterations; [`max_evaluations`](Self::max_evaluations)
/// evaluations; the patience or the time limit; a line search that fails even along the
/// steepest descent ([`Termination::Stalled`]).
///
/// The defaults are those of `scipy.optimize.minimize(method="L-BFGS-B")`: memory 10,
/// gradient tolerance 1e-5, function tolerance 2.2e-9.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lbfgsb {
    max_iter: usize,
    max_evaluations: Option<usize>,
    threshold: f64,
    memory: usize,
    gradient_tolerance: f64,
    function_tolerance: f64,
    max_line_search: usize,
    limits: Limits,
}

impl Default for Lbfgsb {
    fn default() -> Self {
        Self {
            max_iter: 1000,
            max_evaluations: None,
            threshold: f64::NEG_INFINITY,
            memory: 10,
            gradient_tolerance: 1e-5,
            function_tolerance: 2.220_446_049_250_313e-9,
            max_line_search: 20,
            limits: Limits::default(),
        }
    }
}

impl Lbfgsb {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    crate::settings::stopping_methods!(
        "iterations (accepted steps)",
        "Finite-difference gradients count `2n + 1` each; the run stops once the budget is spent, even in the middle of a line search."
    );

    /// The number of correction pairs kept (default 10); at least 1.
    #[must_use]
    pub fn with_memory(mut self, memory: usize) -> Self {
        self.memory = memory;
        self
    }

    /// Stop (a success) when every component of the projected gradient `P(x − g) − x` is at
    /// most this in magnitude (default `1e-5`; 0 disables).
    #[must_use]
    pub fn with_gradient_tolerance(mut self, gradient_tolerance: f64) -> Self {
        self.gradient_tolerance = gradient_tolerance;
        self
    }

    /// Stop (a success) when an iteration reduces the value by at most this, relative to
    /// `max(|f_k|, |f_k+1|, 1)` (default `2.2e-9`; 0 disables).
    #[must_use]
    pub fn with_function_tolerance(mut self, function_tolerance: f64) -> Self {
        self.function_tolerance = function_tolerance;
        self
    }

    /// The most trial points of one line search (default 20); at least 1.
    #[must_use]
    pub fn with_max_line_search(mut self, max_line_search: usize) -> Self {
        self.max_line_search = max_line_search;
        self
    }

    /// The number of correction pairs kept.
    pub fn memory(&self) -> usize {
        self.memory
    }

    /// The projected-gradient tolerance.
    pub fn gradient_tolerance(&self) -> f64 {
        self.gradient_tolerance
    }

    /// The relative function-reduction tolerance.
    pub fn function_tolerance(&self) -> f64 {
        self.function_tolerance
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`CoreError::InvalidSetting`] naming the first invalid setting.
    pub fn validate(&self) -> Result<(), CoreError> {
        check_stopping(
            self.max_evaluations,
            self.threshold,
            self.function_tolerance,
            0.0,
        )?;
        if self.memory == 0 {
            return Err(invalid(
                "memory",
                &self.memory,
                "memory must be at least 1 correction pair (10 is usual)",
            ));
        }
        if self.gradient_tolerance.is_nan() || self.gradient_tolerance < 0.0 {
            return Err(invalid(
                "gradient_tolerance",
                &self.gradient_tolerance,
                "gradient_tolerance must be a number >= 0 (0 disables it)",
            ));
        }
        if self.max_line_search == 0 {
            return Err(invalid(
                "max_line_search",
                &self.max_line_search,
                "max_line_search must be at least 1",
            ));
        }
        self.limits.validate()
    }

    /// Starts a run at `initial` within `bounds`; the concrete form of [`Optimiser::init`].
    ///
    /// # Errors
    /// As [`check_init`] and [`validate`](Self::validate).
    pub fn start(&self, initial: &[f64], bounds: &[Bounds]) -> Result<LbfgsbState, CoreError> {
        check_init(initial, bounds)?;
        self.validate()?;
        let n = initial.len();
        Ok(LbfgsbState {
            config: self.clone(),
            bounds: bounds.to_vec(),
            x: DVector::from_column_slice(initial),
            f: f64::INFINITY,
            g: DVector::zeros(n),
            s: VecDeque::new(),
            y: VecDeque::new(),
            theta: 1.0,
            phase: Phase::Start,
            converged: None,
            trial: GradientTrial::default(),
            iterations: 0,
            evaluations: 0,
            failed: 0,
            best: None,
            history: Vec::new(),
            termination: None,
            limits: LimitTracker::new(self.limits),
        })
    }
}

impl Optimiser for Lbfgsb {
    fn name(&self) -> &'static str {
        "lbfgsb"
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

/// One evaluated trial of a line search. A failed evaluation has `phi = +inf`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Sample {
    alpha: f64,
    phi: f64,
    dphi: f64,
    x: DVector<f64>,
    g: DVector<f64>,
}

impl Sample {
    fn failed(&self) -> bool {
        !self.phi.is_finite()
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct LineSearch {
    d: DVector<f64>,
    phi0: f64,
    dphi0: f64,
    alpha_max: f64,
    /// The step being tried.
    alpha: f64,
    /// Bracketing: the previous trial (the start at α = 0 at first).
    prev: Sample,
    /// Zooming: the bracket's best end and its other end.
    zoom: Option<(Sample, Sample)>,
    trials: usize,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Phase {
    /// The value and gradient at the start are needed.
    Start,
    /// At an accepted point: the next direction is to be computed.
    Direction,
    /// A line search is under way.
    Search(Box<LineSearch>),
}

/// A running L-BFGS-B search. Each ask is [`Ask::EvaluateWithGradient`] of one point; tell it
/// with [`tell_gradients`](AskTell::tell_gradients).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LbfgsbState {
    config: Lbfgsb,
    bounds: Vec<Bounds>,
    x: DVector<f64>,
    f: f64,
    g: DVector<f64>,
    s: VecDeque<DVector<f64>>,
    y: VecDeque<DVector<f64>>,
    theta: f64,
    phase: Phase,
    /// A convergence criterion met by the last accepted step.
    converged: Option<Termination>,
    trial: GradientTrial,
    iterations: usize,
    evaluations: usize,
    failed: usize,
    best: Option<(Vec<f64>, f64)>,
    history: Vec<f64>,
    termination: Option<Termination>,
    limits: LimitTracker,
}

impl LbfgsbState {
    /// Why the run stopped, once [`ask`](AskTell::ask) has returned [`Ask::Done`].
    pub fn termination(&self) -> Option<&Termination> {
        self.termination.as_ref()
    }

    /// The number of correction pairs currently in memory.
    pub fn memory_used(&self) -> usize {
        self.s.len()
    }

    /// The largest component of the projected gradient at the current point.
    pub fn projected_gradient(&self) -> f64 {
        projected_gradient_norm(self.x.as_slice(), self.g.as_slice(), &self.bounds)
    }

    fn finish(&mut self, reason: Termination) -> Ask {
        self.termination = Some(reason.clone());
        Ask::Done(reason)
    }

    /// Limits that apply at any ask, even in the middle of a line search.
    fn hard_stop(&self) -> Option<Termination> {
        if let Some((_, best)) = &self.best {
            if *best <= self.config.threshold {
                return Some(Termination::ThresholdReached);
            }
        }
        if self
            .config
            .max_evaluations
            .is_some_and(|max| self.evaluations >= max)
        {
            return Some(Termination::MaxEvaluations);
        }
        match self.limits.reached(self.iterations) {
            Some(Termination::TimeLimit) => Some(Termination::TimeLimit),
            _ => None,
        }
    }

    /// Criteria checked between iterations.
    fn iteration_stop(&self) -> Option<Termination> {
        if let Some(reason) = &self.converged {
            return Some(reason.clone());
        }
        let tol = self.config.gradient_tolerance;
        if tol > 0.0 && self.projected_gradient() <= tol {
            return Some(Termination::GradientTolerance);
        }
        if self.iterations >= self.config.max_iter {
            return Some(Termination::MaxIterations);
        }
        self.limits.reached(self.iterations)
    }

    /// Plans the line search from the current point; `Err` with a reason when no descent
    /// direction can be found.
    fn plan_search(&mut self) -> Result<(), String> {
        for attempt in 0..2 {
            let d = self.direction();
            let dphi0 = self.g.dot(&d);
            if d.iter().all(|v| v.is_finite()) && dphi0 < 0.0 {
                let alpha_max = self.max_step(&d);
                let alpha = if self.s.is_empty() {
                    (1.0 / d.norm()).min(alpha_max)
                } else {
                    alpha_max.min(1.0)
                };
                let start = Sample {
                    alpha: 0.0,
                    phi: self.f,
                    dphi: dphi0,
                    x: self.x.clone(),
                    g: self.g.clone(),
                };
                self.phase = Phase::Search(Box::new(LineSearch {
                    d,
                    phi0: self.f,
                    dphi0,
                    alpha_max,
                    alpha,
                    prev: start,
                    zoom: None,
                    trials: 0,
                }));
                return Ok(());
            }
            if attempt == 0 && !self.s.is_empty() {
                self.reset_memory();
            } else {
                break;
            }
        }
        Err("no descent direction could be found from the current point (the gradient may be inaccurate)".to_owned())
    }

    fn reset_memory(&mut self) {
        self.s.clear();
        self.y.clear();
        self.theta = 1.0;
    }

    /// The largest step along `d` that stays in the box.
    fn max_step(&self, d: &DVector<f64>) -> f64 {
        let mut alpha = f64::INFINITY;
        for (i, b) in self.bounds.iter().enumerate() {
            let (xi, di) = (self.x[i], d[i]);
            let room = if di > 0.0 {
                (b.upper() - xi) / di
            } else if di < 0.0 {
                (b.lower() - xi) / di
            } else {
                f64::INFINITY
            };
            alpha = alpha.min(room.max(0.0));
        }
        alpha
    }

    /// `W = [Y θS]` and `M`, the compact representation of the model; `None` when the memory is
    /// empty or its middle matrix is singular.
    fn compact(&self) -> Option<(DMatrix<f64>, DMatrix<f64>)> {
        let k = self.s.len();
        if k == 0 {
            return None;
        }
        let n = self.x.len();
        let theta = self.theta;
        let mut w = DMatrix::zeros(n, 2 * k);
        for j in 0..k {
            w.set_column(j, &self.y[j]);
            w.set_column(k + j, &(&self.s[j] * theta));
        }
        let mut middle = DMatrix::zeros(2 * k, 2 * k);
        for i in 0..k {
            for j in 0..k {
                let sy = self.s[i].dot(&self.y[j]);
                if i == j {
                    middle[(i, i)] = -sy;
                } else if i > j {
                    // L (lower-left block) and its transpose (upper-right block).
                    middle[(k + i, j)] = sy;
                    middle[(j, k + i)] = sy;
                }
                middle[(k + i, k + j)] = theta * self.s[i].dot(&self.s[j]);
            }
        }
        let m = middle.try_inverse()?;
        m.iter().all(|v| v.is_finite()).then_some((w, m))
    }

    /// The search direction `x̄ − x`: the generalised Cauchy point, then subspace minimisation.
    fn direction(&mut self) -> DVector<f64> {
        let compact = self.compact();
        if compact.is_none() && !self.s.is_empty() {
            self.reset_memory();
        }
        let (xc, c) = self.cauchy_point(compact.as_ref());
        let xbar = self.subspace_minimum(&xc, &c, compact.as_ref());
        xbar - &self.x
    }

    /// The generalised Cauchy point and `c = Wᵀ (x_c − x)`.
    fn cauchy_point(
        &self,
        compact: Option<&(DMatrix<f64>, DMatrix<f64>)>,
    ) -> (DVector<f64>, DVector<f64>) {
        let n = self.x.len();
        let x = &self.x;
        let g = &self.g;
        let theta = self.theta;
        let k2 = compact.map_or(0, |(w, _)| w.ncols());
        let row = |b: usize| -> DVector<f64> {
            compact.map_or_else(|| DVector::zeros(0), |(w, _)| w.row(b).transpose())
        };
        let m_mul = |v: &DVector<f64>| -> DVector<f64> {
            compact.map_or_else(|| DVector::zeros(0), |(_, m)| m * v)
        };

        let mut xc = x.clone();
        let mut d = -g;
        let mut breaks: Vec<(f64, usize)> = Vec::new();
        for i in 0..n {
            let b = self.bounds[i];
            let t = if g[i] < 0.0 {
                (x[i] - b.upper()) / g[i]
            } else if g[i] > 0.0 {
                (x[i] - b.lower()) / g[i]
            } else {
                f64::INFINITY
            };
            if t <= 0.0 {
                d[i] = 0.0;
            } else if t.is_finite() {
                breaks.push((t, i));
            }
        }
        breaks.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

        let mut p = compact.map_or_else(|| DVector::zeros(0), |(w, _)| w.transpose() * &d);
        let mut c = DVector::zeros(k2);
        let mut fp = -d.dot(&d);
        let mut fpp = -theta * fp - if k2 > 0 { p.dot(&m_mul(&p)) } else { 0.0 };
        let fpp0 = fpp.abs().max(f64::MIN_POSITIVE);
        let mut dt_min = if fpp > 0.0 { -fp / fpp } else { f64::INFINITY };
        let mut t_old = 0.0;
        let mut next = 0;
        while next < breaks.len() {
            let (t, b) = breaks[next];
            let dt = t - t_old;
            if dt_min < dt {
                break;
            }
            let bound = self.bounds[b];
            xc[b] = if d[b] > 0.0 {
                bound.upper()
            } else {
                bound.lower()
            };
            let zb = xc[b] - x[b];
            if k2 > 0 {
                c += &p * dt;
            }
            let gb = g[b];
            let wb = row(b);
            let (wmc, wmp, wmw) = if k2 > 0 {
                let mw = m_mul(&wb);
                (mw.dot(&c), mw.dot(&p), mw.dot(&wb))
            } else {
                (0.0, 0.0, 0.0)
            };
            fp += dt * fpp + gb * gb + theta * gb * zb - gb * wmc;
            fpp -= theta * gb * gb + 2.0 * gb * wmp + gb * gb * wmw;
            // Guard against a model curvature lost to rounding.
            fpp = fpp.max(f64::EPSILON * fpp0);
            if k2 > 0 {
                p += &wb * gb;
            }
            d[b] = 0.0;
            dt_min = -fp / fpp;
            t_old = t;
            next += 1;
        }
        let dt_min = if dt_min.is_finite() {
            dt_min.max(0.0)
        } else {
            0.0
        };
        let t_final = t_old + dt_min;
        for i in 0..n {
            if d[i] != 0.0 {
                xc[i] =
                    (x[i] + t_final * d[i]).clamp(self.bounds[i].lower(), self.bounds[i].upper());
            }
        }
        if k2 > 0 {
            c += &p * dt_min;
        }
        (xc, c)
    }

    /// Minimises the model over the variables free at the Cauchy point.
    fn subspace_minimum(
        &self,
        xc: &DVector<f64>,
        c: &DVector<f64>,
        compact: Option<&(DMatrix<f64>, DMatrix<f64>)>,
    ) -> DVector<f64> {
        let free: Vec<usize> = (0..self.x.len())
            .filter(|&i| {
                let b = self.bounds[i];
                xc[i] > b.lower() && xc[i] < b.upper()
            })
            .collect();
        if free.is_empty() {
            return xc.clone();
        }
        let theta = self.theta;
        // Reduced gradient r = Zᵀ (g + θ (x_c − x) − W M c).
        let mut full = &self.g + (xc - &self.x) * theta;
        if let Some((w, m)) = compact {
            full -= w * (m * c);
        }
        let r = DVector::from_iterator(free.len(), free.iter().map(|&i| full[i]));
        let du = match compact {
            None => -&r / theta,
            Some((w, m)) => {
                let wf = DMatrix::from_fn(free.len(), w.ncols(), |a, j| w[(free[a], j)]);
                let v = m * (wf.transpose() * &r);
                let nmat = DMatrix::<f64>::identity(w.ncols(), w.ncols())
                    - (m * (wf.transpose() * &wf)) / theta;
                match nmat.lu().solve(&v) {
                    Some(v) => -&r / theta - (&wf * v) / (theta * theta),
                    None => -&r / theta,
                }
            }
        };
        // Projection (Morales & Nocedal), kept when it is a descent direction.
        let mut projected = xc.clone();
        for (a, &i) in free.iter().enumerate() {
            let b = self.bounds[i];
            projected[i] = (xc[i] + du[a]).clamp(b.lower(), b.upper());
        }
        if (&projected - &self.x).dot(&self.g) < 0.0 {
            return projected;
        }
        // Otherwise truncate the step to the box (Byrd et al.).
        let mut alpha: f64 = 1.0;
        for (a, &i) in free.iter().enumerate() {
            let b = self.bounds[i];
            if du[a] > 0.0 {
                alpha = alpha.min((b.upper() - xc[i]) / du[a]);
            } else if du[a] < 0.0 {
                alpha = alpha.min((b.lower() - xc[i]) / du[a]);
            }
        }
        let mut truncated = xc.clone();
        for (a, &i) in free.iter().enumerate() {
            let b = self.bounds[i];
            truncated[i] = (xc[i] + alpha.max(0.0) * du[a]).clamp(b.lower(), b.upper());
        }
        truncated
    }

    /// The point of the line search's current step.
    fn trial_point(&self, ls: &LineSearch) -> Vec<f64> {
        self.x
            .iter()
            .zip(&ls.d)
            .zip(&self.bounds)
            .map(|((x, d), b)| (x + ls.alpha * d).clamp(b.lower(), b.upper()))
            .collect()
    }

    /// Moves to `sample`, updating the memory.
    fn accept(&mut self, sample: Sample) {
        let s = &sample.x - &self.x;
        let y = &sample.g - &self.g;
        let sy = s.dot(&y);
        let yy = y.dot(&y);
        if sy > f64::EPSILON * yy && sy.is_finite() && yy > 0.0 {
            if self.s.len() == self.config.memory {
                self.s.pop_front();
                self.y.pop_front();
            }
            self.s.push_back(s);
            self.y.push_back(y);
            self.theta = yy / sy;
        }
        let f_old = self.f;
        self.x = sample.x;
        self.f = sample.phi;
        self.g = sample.g;
        self.iterations += 1;
        self.phase = Phase::Direction;
        let scale = f_old.abs().max(self.f.abs()).max(1.0);
        let ftol = self.config.function_tolerance;
        if ftol > 0.0 && f_old - self.f <= ftol * scale {
            self.converged = Some(Termination::FunctionTolerance);
        }
        self.history
            .push(self.best.as_ref().map_or(f64::INFINITY, |(_, b)| *b));
        self.limits
            .record(self.iterations, self.best.as_ref().map(|(_, b)| *b));
    }

    /// Advances the line search after its trial was evaluated to `sample`.
    fn advance(&mut self, mut ls: Box<LineSearch>, sample: Sample) {
        ls.trials += 1;
        let (phi0, dphi0) = (ls.phi0, ls.dphi0);
        let armijo = |s: &Sample| s.phi <= phi0 + C1 * s.alpha * dphi0;
        let curvature = |s: &Sample| s.dphi.abs() <= -C2 * dphi0;
        match ls.zoom.take() {
            None => {
                if sample.failed()
                    || !armijo(&sample)
                    || (ls.prev.alpha > 0.0 && sample.phi >= ls.prev.phi)
                {
                    let lo = ls.prev.clone();
                    ls.zoom = Some((lo, sample));
                } else if curvature(&sample) {
                    return self.accept(sample);
                } else if sample.dphi >= 0.0 {
                    let hi = ls.prev.clone();
                    ls.zoom = Some((sample, hi));
                } else if ls.alpha >= ls.alpha_max {
                    // The box stops the step while the value still decreases: take it.
                    return self.accept(sample);
                } else {
                    let grown = extrapolate(&ls.prev, &sample);
                    ls.alpha = grown.min(ls.alpha_max);
                    ls.prev = sample;
                }
            }
            Some((mut lo, mut hi)) => {
                if sample.failed() || !armijo(&sample) || sample.phi >= lo.phi {
                    hi = sample;
                } else {
                    if curvature(&sample) {
                        return self.accept(sample);
                    }
                    if sample.dphi * (hi.alpha - lo.alpha) >= 0.0 {
                        hi = lo;
                    }
                    lo = sample;
                }
                ls.zoom = Some((lo, hi));
            }
        }
        if let Some((lo, hi)) = &ls.zoom {
            let width = (hi.alpha - lo.alpha).abs();
            let exhausted = ls.trials >= self.config.max_line_search
                || width <= f64::EPSILON * lo.alpha.abs().max(hi.alpha.abs()).max(1e-300);
            if exhausted {
                if lo.alpha > 0.0 && lo.phi < self.f {
                    let lo = lo.clone();
                    return self.accept(lo);
                }
                return self.line_search_failed();
            }
            ls.alpha = interpolate(lo, hi);
        } else if ls.trials >= self.config.max_line_search {
            // Still bracketing after the last trial: the previous trial decreased the value.
            let prev = ls.prev.clone();
            if prev.alpha > 0.0 {
                return self.accept(prev);
            }
            return self.line_search_failed();
        }
        self.phase = Phase::Search(ls);
    }

    fn line_search_failed(&mut self) {
        if self.s.is_empty() {
            self.phase = Phase::Direction;
            self.termination = Some(Termination::Stalled(
                "the line search found no acceptable step even along the steepest descent: the gradient may be inaccurate or the objective noisy (for ODE models, tighter solver tolerances help)".to_owned(),
            ));
        } else {
            self.reset_memory();
            self.phase = Phase::Direction;
        }
    }
}

/// A larger trial step while the value still decreases: the cubic's minimiser through the last
/// two trials, kept within `[1.1 α, 4 α]`.
fn extrapolate(prev: &Sample, cur: &Sample) -> f64 {
    let lo = 1.1 * cur.alpha;
    let hi = 4.0 * cur.alpha;
    match cubic_minimiser(prev, cur) {
        Some(a) if a > lo && a < hi => a,
        Some(a) if a >= hi => hi,
        _ => hi,
    }
}

/// The next trial inside the bracket `[lo, hi]` (in either order): the cubic's minimiser when
/// both ends are finite and it lies well inside, the midpoint otherwise, and a tenth of the way
/// from `lo` when `hi` failed to evaluate.
fn interpolate(lo: &Sample, hi: &Sample) -> f64 {
    let (a, b) = (lo.alpha, hi.alpha);
    if hi.failed() {
        return a + 0.1 * (b - a);
    }
    let (left, right) = if a < b { (a, b) } else { (b, a) };
    let margin = 0.1 * (right - left);
    match cubic_minimiser(lo, hi) {
        Some(t) if t > left + margin && t < right - margin => t,
        _ => 0.5 * (a + b),
    }
}

/// The minimiser of the cubic interpolating the values and slopes at two trials.
fn cubic_minimiser(p: &Sample, q: &Sample) -> Option<f64> {
    let (a, b) = (p.alpha, q.alpha);
    if a == b || !p.phi.is_finite() || !q.phi.is_finite() {
        return None;
    }
    let d1 = p.dphi + q.dphi - 3.0 * (p.phi - q.phi) / (a - b);
    let disc = d1 * d1 - p.dphi * q.dphi;
    if disc < 0.0 {
        return None;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    let denom = q.dphi - p.dphi + 2.0 * d2;
    if denom == 0.0 {
        return None;
    }
    let t = b - (b - a) * (q.dphi + d2 - d1) / denom;
    t.is_finite().then_some(t)
}

impl AskTell for LbfgsbState {
    fn ask(&mut self) -> Ask {
        if let Some(reason) = &self.termination {
            return Ask::Done(reason.clone());
        }
        if self.trial.asked {
            return Ask::EvaluateWithGradient(vec![self.trial.ask(&[])]);
        }
        if let Some(reason) = self.hard_stop() {
            return self.finish(reason);
        }
        let point = match &self.phase {
            Phase::Start => self.x.as_slice().to_vec(),
            Phase::Direction => {
                if let Some(reason) = self.iteration_stop() {
                    return self.finish(reason);
                }
                if let Err(why) = self.plan_search() {
                    return self.finish(Termination::Stalled(why));
                }
                match &self.phase {
                    Phase::Search(ls) => self.trial_point(ls),
                    _ => unreachable!("plan_search sets a line search"),
                }
            }
            Phase::Search(ls) => self.trial_point(ls),
        };
        Ask::EvaluateWithGradient(vec![self.trial.ask(&point)])
    }

    fn tell(&mut self, _outcomes: &[Outcome]) -> Result<(), TellError> {
        if self.termination.is_some() {
            return Err(TellError::AlreadyTerminated);
        }
        Err(TellError::GradientsRequired)
    }

    fn tell_gradients(
        &mut self,
        outcomes: &[GradientOutcome],
        evaluations: usize,
    ) -> Result<(), TellError> {
        if self.termination.is_some() {
            return Err(TellError::AlreadyTerminated);
        }
        let n = self.x.len();
        let point = self.trial.point().to_vec();
        let outcome = self.trial.take(outcomes, n)?;
        self.evaluations += evaluations.max(1);
        if outcome.is_failed() {
            self.failed += 1;
        }
        if let GradientOutcome::Value { value, .. } = &outcome {
            if self.best.as_ref().is_none_or(|(_, b)| value < b) {
                self.best = Some((point.clone(), *value));
            }
        }
        match std::mem::replace(&mut self.phase, Phase::Direction) {
            Phase::Start => match outcome {
                GradientOutcome::Value { value, gradient } => {
                    self.f = value;
                    self.g = DVector::from_vec(gradient);
                    self.history.push(value);
                    self.limits.record(0, Some(value));
                }
                GradientOutcome::Failed(reason) => {
                    self.termination = Some(Termination::Stalled(format!(
                        "the starting point failed to evaluate: {reason}"
                    )));
                }
            },
            Phase::Direction => unreachable!("a told point belongs to the start or a line search"),
            Phase::Search(ls) => {
                let sample = match outcome {
                    GradientOutcome::Value { value, gradient } => {
                        let g = DVector::from_vec(gradient);
                        Sample {
                            alpha: ls.alpha,
                            phi: value,
                            dphi: g.dot(&ls.d),
                            x: DVector::from_vec(point),
                            g,
                        }
                    }
                    GradientOutcome::Failed(_) => Sample {
                        alpha: ls.alpha,
                        phi: f64::INFINITY,
                        dphi: f64::NAN,
                        x: DVector::from_vec(point),
                        g: DVector::zeros(n),
                    },
                };
                self.advance(ls, sample);
            }
        }
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

impl OptimiserState for LbfgsbState {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn best(&self) -> Option<(Vec<f64>, f64)> {
        self.best.clone()
    }

    fn history(&self) -> &[f64] {
        &self.history
    }

    fn bounds(&self) -> Option<&[Bounds]> {
        Some(&self.bounds)
    }
}
