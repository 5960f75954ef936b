//! Adam (Kingma & Ba 2015, "Adam: a method for stochastic optimization"): settings, their
//! validation, and the ask/tell state.
//!
//! One iteration asks for the value and gradient at the current point `x` and, once told,
//! moves it:
//!
//! ```text
//! m ← β₁ m + (1 − β₁) g          v ← β₂ v + (1 − β₂) g²
//! m̂ = m / (1 − β₁ᵗ)              v̂ = v / (1 − β₂ᵗ)
//! x ← P(x − α m̂ / (√v̂ + ε))
//! ```
//!
//! with `P` the projection onto the bounds (projected gradient descent: a step that would leave
//! the box stops at its face, and a gradient component pushing outward at an active bound does
//! not count against convergence).

use crate::gradient::{projected_gradient_norm, GradientTrial};
use crate::settings::{check_step_size, check_stopping, invalid};
use diffid_core::{
    check_init, Ask, AskTell, Bounds, CoreError, GradientOutcome, LimitTracker, Limits, Optimiser,
    OptimiserState, Outcome, TellError, Termination,
};

/// How many times in a row a failed evaluation may halve the last step before the run stalls.
const MAX_BACKTRACKS: usize = 30;

/// The Adam optimiser, configured by builder methods.
///
/// A run stops at the first of, checked before every ask: the best value reaching
/// [`threshold`](Self::threshold), the projected gradient's largest component falling to
/// [`gradient_tolerance`](Self::gradient_tolerance) (a success), [`max_iter`](Self::max_iter)
/// gradient evaluations, [`max_evaluations`](Self::max_evaluations) objective evaluations, the
/// patience or the time limit.
///
/// A failed evaluation (an ODE solve that fails at the new point) halves the last step back
/// towards the previous point, up to 30 times in a row.
///
/// Setters do not check their argument; [`validate`](Self::validate) (called by
/// [`Optimiser::init`]) names the offending setting.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Adam {
    max_iter: usize,
    max_evaluations: Option<usize>,
    threshold: f64,
    step_size: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    gradient_tolerance: f64,
    limits: Limits,
}

impl Default for Adam {
    fn default() -> Self {
        Self {
            max_iter: 1000,
            max_evaluations: None,
            threshold: f64::NEG_INFINITY,
            step_size: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            gradient_tolerance: 1e-6,
            limits: Limits::default(),
        }
    }
}

impl Adam {
    /// The default configuration: learning rate 0.01, betas (0.9, 0.999), eps 1e-8.
    pub fn new() -> Self {
        Self::default()
    }

    crate::settings::stopping_methods!(
        "iterations (gradient evaluations)",
        "Finite-difference gradients count `2n + 1` each; the run stops once the budget is spent."
    );

    /// The learning rate α (default 0.01), in the units of the search space. Must be finite
    /// and `> 0`.
    #[must_use]
    pub fn with_step_size(mut self, step_size: f64) -> Self {
        self.step_size = step_size;
        self
    }

    /// The decay rates of the moment estimates (default `(0.9, 0.999)`); each in `[0, 1)`.
    #[must_use]
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// The term ε added to `√v̂` (default `1e-8`); finite and `> 0`.
    #[must_use]
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Stop (a success) when every component of the projected gradient is at most this in
    /// magnitude (default `1e-6`; 0 disables).
    #[must_use]
    pub fn with_gradient_tolerance(mut self, gradient_tolerance: f64) -> Self {
        self.gradient_tolerance = gradient_tolerance;
        self
    }

    /// The learning rate α.
    pub fn step_size(&self) -> f64 {
        self.step_size
    }

    /// `(β₁, β₂)`.
    pub fn betas(&self) -> (f64, f64) {
        (self.beta1, self.beta2)
    }

    /// ε.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The gradient tolerance.
    pub fn gradient_tolerance(&self) -> f64 {
        self.gradient_tolerance
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`CoreError::InvalidSetting`] naming the first invalid setting.
    pub fn validate(&self) -> Result<(), CoreError> {
        check_step_size(self.step_size)?;
        check_stopping(self.max_evaluations, self.threshold, 0.0, 0.0)?;
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(invalid(
                    name,
                    &beta,
                    "the betas must lie in [0, 1) (the defaults are 0.9 and 0.999)",
                ));
            }
        }
        if !self.eps.is_finite() || self.eps <= 0.0 {
            return Err(invalid(
                "eps",
                &self.eps,
                "eps must be a finite number > 0 (the default is 1e-8)",
            ));
        }
        if self.gradient_tolerance.is_nan() || self.gradient_tolerance < 0.0 {
            return Err(invalid(
                "gradient_tolerance",
                &self.gradient_tolerance,
                "gradient_tolerance must be a number >= 0 (0 disables it)",
            ));
        }
        self.limits.validate()
    }

    /// Starts a run at `initial` within `bounds`; the concrete form of [`Optimiser::init`].
    ///
    /// # Errors
    /// As [`check_init`] and [`validate`](Self::validate).
    pub fn start(&self, initial: &[f64], bounds: &[Bounds]) -> Result<AdamState, CoreError> {
        check_init(initial, bounds)?;
        self.validate()?;
        Ok(AdamState {
            config: self.clone(),
            bounds: bounds.to_vec(),
            x: initial.to_vec(),
            m: vec![0.0; initial.len()],
            v: vec![0.0; initial.len()],
            t: 0,
            last: None,
            backtracks: 0,
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

impl Optimiser for Adam {
    fn name(&self) -> &'static str {
        "adam"
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

/// A running Adam search. Each ask is [`Ask::EvaluateWithGradient`] of one point; tell it with
/// [`tell_gradients`](AskTell::tell_gradients).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AdamState {
    config: Adam,
    bounds: Vec<Bounds>,
    x: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
    /// The last successfully evaluated point and its gradient's projected norm.
    last: Option<(Vec<f64>, f64)>,
    backtracks: usize,
    trial: GradientTrial,
    iterations: usize,
    evaluations: usize,
    failed: usize,
    best: Option<(Vec<f64>, f64)>,
    history: Vec<f64>,
    termination: Option<Termination>,
    limits: LimitTracker,
}

impl AdamState {
    /// The current point (the next to be evaluated).
    pub fn position(&self) -> &[f64] {
        &self.x
    }

    /// Why the run stopped, once [`ask`](AskTell::ask) has returned [`Ask::Done`].
    pub fn termination(&self) -> Option<&Termination> {
        self.termination.as_ref()
    }

    fn stop_reason(&self) -> Option<Termination> {
        if let Some((_, best)) = &self.best {
            if *best <= self.config.threshold {
                return Some(Termination::ThresholdReached);
            }
        }
        if let Some((_, pg)) = &self.last {
            let tol = self.config.gradient_tolerance;
            if tol > 0.0 && *pg <= tol {
                return Some(Termination::GradientTolerance);
            }
        }
        if self.iterations >= self.config.max_iter {
            return Some(Termination::MaxIterations);
        }
        if self
            .config
            .max_evaluations
            .is_some_and(|max| self.evaluations >= max)
        {
            return Some(Termination::MaxEvaluations);
        }
        self.limits.reached(self.iterations)
    }

    fn step(&mut self, value: f64, gradient: &[f64]) {
        if self.best.as_ref().is_none_or(|(_, b)| value < *b) {
            self.best = Some((self.x.clone(), value));
        }
        let pg = projected_gradient_norm(&self.x, gradient, &self.bounds);
        self.last = Some((self.x.clone(), pg));
        self.backtracks = 0;
        self.t += 1;
        let (b1, b2) = (self.config.beta1, self.config.beta2);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        let (alpha, eps) = (self.config.step_size, self.config.eps);
        for (((x, m), v), (&g, b)) in self
            .x
            .iter_mut()
            .zip(&mut self.m)
            .zip(&mut self.v)
            .zip(gradient.iter().zip(&self.bounds))
        {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let step = alpha * (*m / c1) / ((*v / c2).sqrt() + eps);
            *x = (*x - step).clamp(b.lower(), b.upper());
        }
    }
}

impl AskTell for AdamState {
    fn ask(&mut self) -> Ask {
        if let Some(reason) = &self.termination {
            return Ask::Done(reason.clone());
        }
        if !self.trial.asked {
            if let Some(reason) = self.stop_reason() {
                self.termination = Some(reason.clone());
                return Ask::Done(reason);
            }
        }
        Ask::EvaluateWithGradient(vec![self.trial.ask(&self.x)])
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
        let outcome = self.trial.take(outcomes, self.x.len())?;
        self.evaluations += evaluations.max(1);
        self.iterations += 1;
        match outcome {
            GradientOutcome::Value { value, gradient } => self.step(value, &gradient),
            GradientOutcome::Failed(reason) => {
                self.failed += 1;
                match &self.last {
                    None => {
                        self.termination = Some(Termination::Stalled(format!(
                            "the starting point failed to evaluate: {reason}"
                        )));
                    }
                    Some(_) if self.backtracks >= MAX_BACKTRACKS => {
                        self.termination = Some(Termination::Stalled(format!(
                            "{MAX_BACKTRACKS} halvings of the step all failed to evaluate; the last failure: {reason}"
                        )));
                    }
                    Some((last, _)) => {
                        self.backtracks += 1;
                        for (x, l) in self.x.iter_mut().zip(last) {
                            *x = 0.5 * (*x + l);
                        }
                    }
                }
            }
        }
        self.history
            .push(self.best.as_ref().map_or(f64::INFINITY, |(_, b)| *b));
        self.limits
            .record(self.iterations, self.best.as_ref().map(|(_, b)| *b));
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

impl OptimiserState for AdamState {
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
