//! Steady states: pre-equilibration before the experiment starts.
//!
//! With a steady state declared ([`OdeSimulator::with_steady_state`]), the state at the start
//! time is not the model's `u_i` but the steady state `y*` of the right-hand side, `f(y*) = 0`,
//! under the pre-equilibration inputs (the model's inputs with the declared overrides, e.g. a
//! stimulus at 0), with `u_i` as the starting guess. As AMICI does, it is found by Newton's
//! method on `f` (damped: a step that does not reduce `‖f‖` is halved), falling back to
//! integration with BDF until the state stops moving when Newton fails (a singular Jacobian,
//! as with conservation laws, or no convergence from the guess).
//!
//! Its sensitivities come from the implicit function theorem: `f(y*(p), p) = 0` gives
//! `J s* = −∂f/∂p`, solved with the LU factors of the Jacobian Newton ends with. When the
//! Jacobian is singular there, the state and its sensitivities are integrated together to
//! steady state instead (the sensitivities then keep the dependence on the initial state that
//! conservation laws carry).
//!
//! **Converged** means the state would move by less than the tolerances over the experiment:
//! `wrms(f(y)) · T ≤ 1` with weights `atol + rtol |y|` and `T` the experiment's span (last
//! output time − start, at least 1). An integration that has not converged within the step
//! budget, or by `t0 + 10⁴ · T`, fails with [`SolveError::SteadyState`] for that candidate:
//! a model without a steady state is a failed evaluation with its reason, never a hang.
//!
//! Newton evaluates the right-hand side at the start time, and the integration runs on from
//! it: a model whose right-hand side depends on time has no steady state in general; switch the
//! input that drives it with the overrides instead.

use crate::{OdeError, SolveError};
use diffsol::{NonLinearOp, OdeEquations, OdeSolverMethod, OdeSolverStopReason, Vector};
use nalgebra::{DMatrix, DVector};

/// A declared steady state: the inputs overridden while pre-equilibrating.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SteadySpec {
    /// As given: input name and value.
    pub overrides: Vec<(String, f64)>,
    /// The same as `(input index, value)`.
    pub indices: Vec<(usize, f64)>,
}

impl SteadySpec {
    /// Checks `overrides` against the model's input names.
    pub fn new(overrides: &[(String, f64)], inputs: &[crate::Input]) -> Result<Self, OdeError> {
        let mut indices = Vec::with_capacity(overrides.len());
        for (k, (name, value)) in overrides.iter().enumerate() {
            let index =
                inputs
                    .iter()
                    .position(|i| &i.name == name)
                    .ok_or_else(|| OdeError::Schedule {
                        reason: format!(
                        "the steady state's override {k} names input '{name}', which the model \
                         does not have; its inputs (in_i) are [{}]",
                        inputs
                            .iter()
                            .map(|i| i.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    })?;
            if overrides[..k].iter().any(|(n, _)| n == name) {
                return Err(OdeError::Schedule {
                    reason: format!("the steady state overrides input '{name}' twice"),
                });
            }
            if !value.is_finite() {
                return Err(OdeError::Schedule {
                    reason: format!(
                        "the steady state's override of '{name}' is {value}; it must be finite"
                    ),
                });
            }
            indices.push((index, *value));
        }
        Ok(Self {
            overrides: overrides.to_vec(),
            indices,
        })
    }

    /// `inputs` with the overrides applied.
    pub fn apply(&self, inputs: &mut [f64]) {
        for &(i, v) in &self.indices {
            inputs[i] = v;
        }
    }

    /// Whether the input at `index` is overridden.
    pub fn overrides_input(&self, index: usize) -> bool {
        self.indices.iter().any(|&(i, _)| i == index)
    }
}

/// Steps `s` (started at the pre-equilibration state) until its whole state is steady by
/// `tol`, up to `max_steps` steps or `t0 + MAX_SPANS · span`; returns that state.
pub(crate) fn settle<'a, E, S>(
    mut s: S,
    tol: Tolerances,
    max_steps: usize,
) -> Result<Vec<f64>, SolveError>
where
    E: OdeEquations<T = f64> + 'a,
    S: OdeSolverMethod<'a, E>,
{
    let problem = s.problem();
    let rhs = problem.eqn.rhs();
    let t0 = s.state().t;
    let limit = t0 + MAX_SPANS * tol.span;
    let mut f = s.state().y.clone();
    let check = |y: &E::V, t: f64, f: &mut E::V| -> Option<Vec<f64>> {
        rhs.call_inplace(y, t, f);
        let yv = y.clone_as_vec();
        (tol.measure(&yv, &f.clone_as_vec()) <= 1.0).then_some(yv)
    };
    if let Some(y) = check(s.state().y, t0, &mut f) {
        return Ok(y);
    }
    let fail = |e: diffsol::DiffsolError| failed(format!("integrating to it failed: {e}"));
    s.set_stop_time(limit).map_err(fail)?;
    for _ in 0..max_steps {
        let reason = s.step().map_err(fail)?;
        let t = s.state().t;
        if !t.is_finite() || (0..s.state().y.len()).any(|i| !s.state().y.get_index(i).is_finite()) {
            return Err(failed(format!("the state became non-finite at t = {t}")));
        }
        if let Some(y) = check(s.state().y, t, &mut f) {
            return Ok(y);
        }
        if matches!(reason, OdeSolverStopReason::TstopReached) {
            return Err(failed(format!(
                "the state was still moving at t = {limit:e} ({MAX_SPANS:e} experiment spans)"
            )));
        }
    }
    Err(failed(format!(
        "the state was still moving after {max_steps} steps (t = {:e})",
        s.state().t
    )))
}

/// Newton iterations before giving up.
const MAX_NEWTON: usize = 50;
/// Step halvings per Newton iteration before giving up.
const MAX_HALVINGS: usize = 20;
/// Integration time limit of the fallback, in experiment spans: long enough for time
/// constants hundreds of times the experiment's, short enough that a state drifting without
/// end (`y' = a`) is not taken as steady for having become large.
pub(crate) const MAX_SPANS: f64 = 1e4;

/// The tolerances a steady state is judged by.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tolerances {
    pub rtol: f64,
    pub atol: f64,
    /// The experiment's span (at least 1).
    pub span: f64,
}

impl Tolerances {
    /// `wrms(f) · span` with weights `atol + rtol |y|`: at most 1 means steady.
    pub fn measure(&self, y: &[f64], f: &[f64]) -> f64 {
        let n = y.len().max(1) as f64;
        let sum: f64 = y
            .iter()
            .zip(f)
            .map(|(yi, fi)| {
                let r = fi / (self.atol + self.rtol * yi.abs());
                r * r
            })
            .sum();
        (sum / n).sqrt() * self.span
    }

    /// The weighted RMS of a Newton step, without the span.
    fn step_norm(&self, y: &[f64], dy: &[f64]) -> f64 {
        let n = y.len().max(1) as f64;
        let sum: f64 = y
            .iter()
            .zip(dy)
            .map(|(yi, di)| {
                let r = di / (self.atol + self.rtol * yi.abs());
                r * r
            })
            .sum();
        (sum / n).sqrt()
    }
}

/// The dense Jacobian `J` of `f` at `y` from `n` Jacobian-vector products.
pub(crate) fn jacobian(y: &[f64], jv: &mut impl FnMut(&[f64], &[f64], &mut [f64])) -> DMatrix<f64> {
    let n = y.len();
    let mut j = DMatrix::zeros(n, n);
    let mut e = vec![0.0; n];
    let mut col = vec![0.0; n];
    for k in 0..n {
        e[k] = 1.0;
        jv(y, &e, &mut col);
        e[k] = 0.0;
        for (i, v) in col.iter().enumerate() {
            j[(i, k)] = *v;
        }
    }
    j
}

/// LU factors of `j`, or why they are of no use (singular or badly conditioned).
pub(crate) fn factor(
    j: DMatrix<f64>,
) -> Result<nalgebra::LU<f64, nalgebra::Dyn, nalgebra::Dyn>, String> {
    let lu = j.lu();
    let u = lu.u();
    let diag: Vec<f64> = u.diagonal().iter().map(|v| v.abs()).collect();
    let max = diag.iter().copied().fold(0.0, f64::max);
    let min = diag.iter().copied().fold(f64::INFINITY, f64::min);
    if !(max.is_finite() && max > 0.0 && min > 1e-12 * max) {
        return Err(format!(
            "the Jacobian is singular (LU pivots from {min:e} to {max:e}): a conservation \
             law, or no isolated steady state"
        ));
    }
    Ok(lu)
}

/// Newton's method on `f(y) = 0` from `y` (in place), damped by step halving. Returns the LU
/// factors of the Jacobian at the solution (for the sensitivities).
pub(crate) fn newton(
    y: &mut [f64],
    tol: Tolerances,
    f: &mut impl FnMut(&[f64], &mut [f64]),
    jv: &mut impl FnMut(&[f64], &[f64], &mut [f64]),
) -> Result<nalgebra::LU<f64, nalgebra::Dyn, nalgebra::Dyn>, String> {
    let n = y.len();
    let mut fy = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut ft = vec![0.0; n];
    f(y, &mut fy);
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _ in 0..MAX_NEWTON {
        if fy.iter().any(|v| !v.is_finite()) {
            return Err("the right-hand side is not finite".to_owned());
        }
        let lu = factor(jacobian(y, jv))?;
        let step = lu
            .solve(&DVector::from_iterator(n, fy.iter().map(|v| -v)))
            .ok_or_else(|| "the Newton system could not be solved".to_owned())?;
        let f0 = norm(&fy);
        let mut lambda = 1.0;
        let mut accepted = false;
        for _ in 0..MAX_HALVINGS {
            for i in 0..n {
                trial[i] = y[i] + lambda * step[i];
            }
            f(&trial, &mut ft);
            let f1 = norm(&ft);
            if f1.is_finite() && (f1 < f0 || f1 == 0.0) {
                accepted = true;
                break;
            }
            lambda *= 0.5;
        }
        let small = tol.step_norm(y, step.as_slice()) * lambda < 1e-6;
        if !accepted {
            // No decrease: converged to rounding if the step was already negligible.
            if small && tol.measure(y, &fy) <= 1.0 {
                return factor(jacobian(y, jv));
            }
            return Err("Newton's method stalled (no step reduces the residual)".to_owned());
        }
        y.copy_from_slice(&trial);
        fy.copy_from_slice(&ft);
        if small && tol.measure(y, &fy) <= 1.0 {
            return factor(jacobian(y, jv));
        }
    }
    Err(format!(
        "Newton's method did not converge in {MAX_NEWTON} iterations"
    ))
}

/// The steady-state sensitivities `s_j = −J⁻¹ ∂f/∂p_j` (column `j` of `fp`, `n × np`
/// column-major), written into `s` in the same layout.
pub(crate) fn implicit_sensitivities(
    lu: &nalgebra::LU<f64, nalgebra::Dyn, nalgebra::Dyn>,
    fp: &[f64],
    s: &mut [f64],
) -> Result<(), SolveError> {
    let n = lu.l().nrows();
    for (col, out) in fp.chunks_exact(n).zip(s.chunks_exact_mut(n)) {
        let x = lu
            .solve(&DVector::from_iterator(n, col.iter().map(|v| -v)))
            .ok_or_else(|| failed("the sensitivity system could not be solved"))?;
        if x.iter().any(|v| !v.is_finite()) {
            return Err(failed("the steady-state sensitivities are not finite"));
        }
        out.copy_from_slice(x.as_slice());
    }
    Ok(())
}

/// A [`SolveError::SteadyState`] with `reason`.
pub(crate) fn failed(reason: impl Into<String>) -> SolveError {
    SolveError::SteadyState {
        reason: reason.into(),
    }
}
