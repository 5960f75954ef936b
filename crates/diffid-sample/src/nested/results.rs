//! What a nested-sampling run produced.

use super::{ess, simulated_error, NestedPoint, NestedState};
use diffid_core::Termination;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Re-drawings of the volume shrinkages behind the `ln Z` error.
const ERROR_DRAWS: usize = 100;

/// The result of a nested-sampling run: every point in likelihood order with its weight, the
/// evidence and its error.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct NestedResult {
    /// The points, natural units, in increasing likelihood.
    pub points: Vec<Vec<f64>>,
    /// Their log-likelihoods.
    pub log_likelihood: Vec<f64>,
    /// Their normalised log-weights (`ln(w_i / Z)`): the posterior weight of each point.
    pub log_weight: Vec<f64>,
    /// `ln X` after each point (expected).
    pub log_volume: Vec<f64>,
    /// Live points when each point died.
    pub n_live: Vec<usize>,
    /// `ln Z`.
    pub log_evidence: f64,
    /// The standard deviation of `ln Z` (re-drawn volume shrinkages).
    pub log_evidence_error: f64,
    /// The information `H` in nats.
    pub information: f64,
    /// Kish's effective sample size of the weights.
    pub ess: f64,
    /// Likelihood evaluations, failed ones included.
    pub evaluations: usize,
    /// Evaluations that failed (rejected candidates).
    pub failed_evaluations: usize,
    /// Dynamic batches run after the baseline.
    pub batches: usize,
    /// Why the run ended.
    pub termination: Termination,
    /// Wall-clock time.
    pub time: Duration,
    /// The seed the run drew from (also seeds the equal-weight resampling by default).
    pub seed: u64,
}

impl NestedResult {
    /// The result of `state` so far (its live points included).
    pub fn of(state: &NestedState, termination: Termination, time: Duration) -> Self {
        use diffid_core::AskTell;
        let (all, integrals) = state.integrals();
        let raw: Vec<f64> = all.iter().map(|p| p.log_likelihood).collect();
        let error = if raw.len() > 1 {
            simulated_error(&integrals, &raw, ERROR_DRAWS, state.seed())
        } else {
            f64::NAN
        };
        let z = integrals.log_evidence;
        let ordered: Vec<&NestedPoint> = integrals.order.iter().map(|&i| &all[i]).collect();
        Self {
            points: ordered.iter().map(|p| p.x.clone()).collect(),
            log_likelihood: ordered.iter().map(|p| p.log_likelihood).collect(),
            log_weight: integrals.log_weight.iter().map(|w| w - z).collect(),
            log_volume: integrals.log_volume.clone(),
            n_live: integrals.n_live.clone(),
            log_evidence: z,
            log_evidence_error: error,
            information: integrals.information,
            ess: ess(&integrals.log_weight, z),
            evaluations: state.evaluations(),
            failed_evaluations: state.failed_evaluations(),
            batches: state.batches(),
            termination,
            time,
            seed: state.seed(),
        }
    }

    /// `n` equally weighted posterior draws by systematic resampling (seeded), or as many as
    /// the effective sample size suggests (`⌈ess⌉`) when `n` is `None`.
    pub fn resample(&self, n: Option<usize>, seed: u64) -> Vec<Vec<f64>> {
        let n = n.unwrap_or(self.ess.ceil() as usize).max(1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let start: f64 = rng.random();
        let mut out = Vec::with_capacity(n);
        let mut cumulative = 0.0;
        let mut k = 0;
        let total: f64 = self.log_weight.iter().map(|w| w.exp()).sum();
        for (i, w) in self.log_weight.iter().enumerate() {
            cumulative += w.exp() / total;
            while k < n && (start + k as f64) / n as f64 <= cumulative {
                out.push(self.points[i].clone());
                k += 1;
            }
        }
        while out.len() < n {
            if let Some(last) = self.points.last() {
                out.push(last.clone());
            } else {
                break;
            }
        }
        // Systematic resampling keeps likelihood order; shuffle so draws look independent.
        for i in (1..out.len()).rev() {
            let j = rng.random_range(0..=i);
            out.swap(i, j);
        }
        out
    }

    /// The posterior mean of each parameter.
    pub fn mean(&self) -> Vec<f64> {
        let d = self.points.first().map_or(0, Vec::len);
        let mut m = vec![0.0; d];
        for (p, w) in self.points.iter().zip(&self.log_weight) {
            let w = w.exp();
            for (a, v) in m.iter_mut().zip(p) {
                *a += w * v;
            }
        }
        m
    }
}
