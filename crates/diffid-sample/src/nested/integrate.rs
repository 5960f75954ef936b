//! The evidence of a (possibly merged) nested-sampling run, from its points' birth and death
//! likelihoods.
//!
//! Every point is a "thread" alive between the likelihood it was born above (`−∞` for an
//! initial live point, the threshold of the step that drew it otherwise) and its own
//! likelihood, at which it dies. When point `i` dies, the number of live points is
//! `n_i = #{j : birth_j < L_i ≤ L_j}`; the prior volume shrinks by a factor `t_i` with
//! `E[ln t_i] = −1/n_i` (and `t_i ~ Beta(n_i, 1)`). This handles a static run, the final
//! "live points as dead" phase and merged dynamic batches alike (Higson et al. 2019).

use super::bound::log_add;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The integrals of a run: evidence, information, per-point weights.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Integrals {
    /// Indices of the points in likelihood order (the order of the other vectors).
    pub order: Vec<usize>,
    /// Live points when each point died.
    pub n_live: Vec<usize>,
    /// `ln X` after each death (expected shrinkage).
    pub log_volume: Vec<f64>,
    /// `ln w_i`: trapezoid weights `½ (L_{i−1} + L_i)(X_{i−1} − X_i)`.
    pub log_weight: Vec<f64>,
    /// `ln Z`.
    pub log_evidence: f64,
    /// The information `H = ∫ p ln(p/π)` in nats.
    pub information: f64,
}

/// Live-point counts at each death, in likelihood order.
fn live_counts(logl: &[f64], birth: &[f64]) -> (Vec<usize>, Vec<usize>) {
    let n = logl.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| logl[a].total_cmp(&logl[b]).then(a.cmp(&b)));
    let mut births: Vec<f64> = birth.to_vec();
    births.sort_by(f64::total_cmp);
    let mut born = 0; // births strictly below the current death
    let counts = order
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            // Points drawn from the whole prior are alive from the start, also when their
            // own likelihood is -inf (an initial point where it failed).
            while born < n && (births[born] < logl[i] || births[born] == f64::NEG_INFINITY) {
                born += 1;
            }
            born.saturating_sub(k).max(1)
        })
        .collect();
    (order, counts)
}

/// `ln X` after each death for the shrinkages `ln t_i`, and the trapezoid log-weights.
fn weights(sorted_logl: &[f64], log_t: &[f64]) -> (Vec<f64>, Vec<f64>, f64) {
    let mut log_x = 0.0;
    let mut prev_l = f64::NEG_INFINITY;
    let mut log_z = f64::NEG_INFINITY;
    let mut log_vol = Vec::with_capacity(sorted_logl.len());
    let mut log_w = Vec::with_capacity(sorted_logl.len());
    for (&l, &lt) in sorted_logl.iter().zip(log_t) {
        let next = log_x + lt;
        // X_{i−1} − X_i = X_{i−1} (1 − t_i).
        let log_dx = log_x + (-(lt.exp_m1())).ln();
        let log_mid = if prev_l == f64::NEG_INFINITY {
            l - std::f64::consts::LN_2
        } else {
            log_add(prev_l, l) - std::f64::consts::LN_2
        };
        let w = if l == f64::NEG_INFINITY {
            f64::NEG_INFINITY
        } else {
            log_mid + log_dx
        };
        log_z = log_add(log_z, w);
        log_w.push(w);
        log_vol.push(next);
        log_x = next;
        prev_l = l;
    }
    (log_vol, log_w, log_z)
}

/// The integrals of the points with likelihoods `logl` born above `birth`.
pub fn integrate(logl: &[f64], birth: &[f64]) -> Integrals {
    let (order, n_live) = live_counts(logl, birth);
    let sorted: Vec<f64> = order.iter().map(|&i| logl[i]).collect();
    let log_t: Vec<f64> = n_live.iter().map(|&n| -1.0 / n as f64).collect();
    let (log_volume, log_weight, log_evidence) = weights(&sorted, &log_t);
    let information = if log_evidence.is_finite() {
        sorted
            .iter()
            .zip(&log_weight)
            .filter(|(l, w)| l.is_finite() && w.is_finite())
            .map(|(l, w)| (w - log_evidence).exp() * (l - log_evidence))
            .sum::<f64>()
            .max(0.0)
    } else {
        0.0
    };
    Integrals {
        order,
        n_live,
        log_volume,
        log_weight,
        log_evidence,
        information,
    }
}

/// The standard deviation of `ln Z` over `draws` re-drawings of the shrinkages
/// `t_i ~ Beta(n_i, 1)` of the run (deterministic for a seed).
pub fn simulated_error(integrals: &Integrals, logl: &[f64], draws: usize, seed: u64) -> f64 {
    let sorted: Vec<f64> = integrals.order.iter().map(|&i| logl[i]).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let zs: Vec<f64> = (0..draws)
        .map(|_| {
            let log_t: Vec<f64> = integrals
                .n_live
                .iter()
                .map(|&n| {
                    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                    u.ln() / n as f64
                })
                .collect();
            weights(&sorted, &log_t).2
        })
        .collect();
    let m = zs.iter().sum::<f64>() / draws as f64;
    (zs.iter().map(|z| (z - m).powi(2)).sum::<f64>() / (draws as f64 - 1.0)).sqrt()
}

/// Kish's effective sample size of normalised log-weights.
pub fn ess(log_weight: &[f64], log_evidence: f64) -> f64 {
    let (s1, s2) = log_weight.iter().fold((0.0, 0.0), |(a, b), w| {
        let p = (w - log_evidence).exp();
        (a + p, b + p * p)
    });
    if s2 > 0.0 {
        s1 * s1 / s2
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_run_has_constant_then_decreasing_live_counts() {
        // 3 live points: initial births at -inf; replacements born at the dead point's L.
        let logl = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        // Deaths 1, 2, 3 replaced by points 4, 5, 6 born at 1, 2, 3; the last three end live.
        let birth = [
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
            1.0,
            2.0,
            3.0,
        ];
        let (_, n) = live_counts(&logl, &birth);
        assert_eq!(n, vec![3, 3, 3, 3, 2, 1]);
    }

    #[test]
    fn the_evidence_of_a_flat_likelihood_is_its_value() {
        // L = 1 everywhere (ln L = 0): Z = 1 whatever the shrinkage, up to the trapezoid's
        // first half-step and the final volume left over.
        let k = 50;
        let n = 2000;
        let logl: Vec<f64> = (0..n).map(|i| 1e-9 * f64::from(i)).collect();
        let birth: Vec<f64> = (0..n)
            .map(|i| {
                if i < k {
                    f64::NEG_INFINITY
                } else {
                    logl[(i - k) as usize]
                }
            })
            .collect();
        let r = integrate(&logl, &birth);
        assert!(r.log_evidence.abs() < 0.02, "{}", r.log_evidence);
        // H = Σ p (ln L − ln Z) = −ln Z when ln L ≈ 0 everywhere: the trapezoid's first
        // half-step is all the information there is.
        assert!(
            (r.information + r.log_evidence).abs() < 1e-5,
            "{}",
            r.information
        );
    }
}
