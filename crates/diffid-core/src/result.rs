//! What an optimisation run found.

use crate::{OptimiserState, Termination};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The result of an optimisation run, in the user's parameter units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OptimisationResult {
    /// The best point found.
    pub x: Vec<f64>,
    /// The objective at `x`.
    pub value: f64,
    /// Iterations (generations for CMA-ES) completed.
    pub iterations: usize,
    /// Objective evaluations made, failed ones included.
    pub evaluations: usize,
    /// Evaluations that failed (ranked worst, the run went on).
    pub failed_evaluations: usize,
    /// Wall-clock time of the run.
    pub time: Duration,
    /// Why the run stopped.
    pub termination: Termination,
    /// The final search covariance (CMA-ES: σ²C), row-major `n × n`, in parameter units.
    pub covariance: Option<Vec<f64>>,
    /// The best value after each iteration, for convergence plots.
    pub history: Vec<f64>,
    /// For simplex methods: the final simplex's vertices (best first) and their values.
    pub simplex: Option<(Vec<Vec<f64>>, Vec<f64>)>,
}

impl OptimisationResult {
    /// The result of `state`, stopped for `termination` after `time`, whose best point is
    /// `x` with value `value`: its counts, covariance, history and simplex as it reports them.
    pub fn from_state(
        state: &(impl OptimiserState + ?Sized),
        (x, value): (Vec<f64>, f64),
        termination: Termination,
        time: Duration,
    ) -> Self {
        Self {
            x,
            value,
            iterations: state.iterations(),
            evaluations: state.evaluations(),
            failed_evaluations: state.failed_evaluations(),
            time,
            termination,
            covariance: state.covariance(),
            history: state.history().to_vec(),
            simplex: state.simplex(),
        }
    }

    /// Whether the run ended on a convergence criterion rather than a limit.
    pub fn success(&self) -> bool {
        self.termination.is_success()
    }

    /// A human-readable sentence on why the run stopped.
    pub fn message(&self) -> String {
        let mut m = self.termination.to_string();
        if self.failed_evaluations > 0 {
            m = format!(
                "{m} ({} of {} evaluations failed and were ranked worst)",
                self.failed_evaluations, self.evaluations
            );
        }
        m
    }
}
