//! Markov chain Monte Carlo convergence diagnostics.
//!
//! Rank-normalised split R-hat, bulk and tail effective sample sizes (ESS),
//! Monte Carlo standard errors (MCSE) and a one-line posterior [`Summary`],
//! following Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021),
//! "Rank-normalization, folding, and localization: an improved R-hat for
//! assessing convergence of MCMC", *Bayesian Analysis* 16(2).
//!
//! The conventions (how chains are split, how ties are ranked, the Blom
//! offset of the normal scores, Geyer's truncation and the clamp on the
//! integrated autocorrelation time) are those of `ArviZ` 0.23, so the values
//! agree with `az.rhat`, `az.ess`, `az.mcse` and `az.summary` to rounding
//! error.
//!
//! Every function takes the draws of **one scalar quantity** as a slice of
//! chains, each chain a slice of draws in sampling order. All chains must have
//! the same length. Functions return `NaN` where `ArviZ` does: when any draw is
//! `NaN`, when there are fewer than four draws per chain, and (for
//! [`rhat`]) when there is only one chain. Chains of unequal length (or no
//! chains at all) also give `NaN`.
//!
//! ```
//! use diffid_sample::diagnostics::{ess_bulk, rhat, summarise};
//!
//! // Two well-mixed chains of 200 draws each.
//! let a: Vec<f64> = (0..200).map(|i| f64::from((i * 37) % 101)).collect();
//! let b: Vec<f64> = (0..200).map(|i| f64::from((i * 53 + 11) % 101)).collect();
//! let chains: [&[f64]; 2] = [&a, &b];
//! assert!((rhat(&chains) - 0.995_028_754).abs() < 1e-8); // as az.rhat
//! assert!((ess_bulk(&chains) - 558.828_198_6).abs() < 1e-6); // as az.ess
//!
//! let summary = summarise(&chains);
//! assert!(summary.rhat < 1.01 && summary.ess_bulk > 400.0);
//!
//! // A second chain stuck elsewhere is flagged, and one chain has no R-hat.
//! let shifted: Vec<f64> = b.iter().map(|x| x + 60.0).collect();
//! assert!(rhat(&[&a, &shifted]) > 1.4);
//! assert!(rhat(&chains[..1]).is_nan());
//! ```

use statrs::distribution::{ContinuousCDF, Normal};

/// The fewest draws per chain for which a diagnostic is computed.
const MIN_DRAWS: usize = 4;

/// Blom's fractional offset for normal scores of ranks.
const BLOM_OFFSET: f64 = 3.0 / 8.0;

/// Below this range (`max - min`) a set of draws is treated as constant.
const CONSTANT_RESOLUTION: f64 = 1e-15;

/// A posterior summary of one scalar quantity: the `mean`, `sd`, `mcse_mean`,
/// `mcse_sd`, `ess_bulk`, `ess_tail` and `r_hat` columns of `az.summary`,
/// with three quantiles (`numpy.quantile`) in place of its HDI.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// Mean over all draws of all chains.
    pub mean: f64,
    /// Standard deviation over all draws (divisor `n - 1`).
    pub sd: f64,
    /// 5 % quantile of all draws (linear interpolation).
    pub q5: f64,
    /// Median of all draws (linear interpolation).
    pub q50: f64,
    /// 95 % quantile of all draws (linear interpolation).
    pub q95: f64,
    /// Monte Carlo standard error of the mean.
    pub mcse_mean: f64,
    /// Monte Carlo standard error of the standard deviation.
    pub mcse_sd: f64,
    /// Bulk effective sample size (rank-normalised split chains).
    pub ess_bulk: f64,
    /// Tail effective sample size (minimum over the 5 % and 95 % quantiles).
    pub ess_tail: f64,
    /// Rank-normalised split R-hat (`NaN` with fewer than two chains).
    pub rhat: f64,
}

impl Summary {
    /// A summary whose every field is `NaN`.
    const NAN: Self = Self {
        mean: f64::NAN,
        sd: f64::NAN,
        q5: f64::NAN,
        q50: f64::NAN,
        q95: f64::NAN,
        mcse_mean: f64::NAN,
        mcse_sd: f64::NAN,
        ess_bulk: f64::NAN,
        ess_tail: f64::NAN,
        rhat: f64::NAN,
    };
}

/// Rank-normalised split R-hat: the larger of the bulk R-hat (split chains,
/// rank-normalised) and the tail R-hat (split chains folded about their
/// median, then rank-normalised). Matches `az.rhat(..., method="rank")`.
///
/// Returns `NaN` with fewer than two chains, fewer than four draws per chain,
/// any `NaN` draw or chains of unequal length. Values near 1 indicate
/// convergence; 1.01 is the customary threshold.
pub fn rhat(chains: &[&[f64]]) -> f64 {
    let Some(draws) = DrawMatrix::validated(chains, 2) else {
        return f64::NAN;
    };
    let split = draws.split();
    let bulk = rhat_basic(&split.with_values(z_scale(&split.values)));
    let centre = median(&split.values);
    let folded = split.map(|x| (x - centre).abs());
    let tail = rhat_basic(&folded.with_values(z_scale(&folded.values)));
    python_max(bulk, tail)
}

/// Bulk effective sample size: the ESS of the rank-normalised split chains.
/// Matches `az.ess(..., method="bulk")`.
///
/// Returns `NaN` with fewer than four draws per chain, any `NaN` draw or
/// chains of unequal length.
pub fn ess_bulk(chains: &[&[f64]]) -> f64 {
    let Some(draws) = DrawMatrix::validated(chains, 1) else {
        return f64::NAN;
    };
    let split = draws.split();
    ess_basic(&split.with_values(z_scale(&split.values)))
}

/// Tail effective sample size: the smaller of the ESS of the indicator
/// `draw <= q` at the 5 % and at the 95 % quantile `q`.
/// Matches `az.ess(..., method="tail")`.
///
/// Returns `NaN` with fewer than four draws per chain, any `NaN` draw or
/// chains of unequal length.
pub fn ess_tail(chains: &[&[f64]]) -> f64 {
    let Some(draws) = DrawMatrix::validated(chains, 1) else {
        return f64::NAN;
    };
    ess_tail_of(&draws)
}

/// Effective sample size of the mean: the ESS of the split chains without
/// rank normalisation. Matches `az.ess(..., method="mean")`.
///
/// Returns `NaN` with fewer than four draws per chain, any `NaN` draw or
/// chains of unequal length.
pub fn ess_mean(chains: &[&[f64]]) -> f64 {
    let Some(draws) = DrawMatrix::validated(chains, 1) else {
        return f64::NAN;
    };
    ess_basic(&draws.split())
}

/// Monte Carlo standard error of the mean: the standard deviation of all
/// draws divided by the square root of [`ess_mean`].
/// Matches `az.mcse(..., method="mean")`.
///
/// Returns `NaN` with fewer than four draws per chain, any `NaN` draw or
/// chains of unequal length.
pub fn mcse_mean(chains: &[&[f64]]) -> f64 {
    let Some(draws) = DrawMatrix::validated(chains, 1) else {
        return f64::NAN;
    };
    let ess = ess_basic(&draws.split());
    let sd = sample_variance(&draws.values).sqrt();
    sd / ess.sqrt()
}

/// Monte Carlo standard error of the standard deviation, from the ESS of the
/// squared deviations from the mean and the delta method.
/// Matches `az.mcse(..., method="sd")`.
///
/// Returns `NaN` with fewer than four draws per chain, any `NaN` draw or
/// chains of unequal length (and for constant draws, where it is `0 / 0`).
pub fn mcse_sd(chains: &[&[f64]]) -> f64 {
    let Some(draws) = DrawMatrix::validated(chains, 1) else {
        return f64::NAN;
    };
    let squared = squared_deviations(&draws);
    let ess = ess_basic(&squared.split());
    let evar = mean(&squared.values);
    mcse_sd_from(&squared, evar, ess)
}

/// The `p`-quantile of `values` with linear interpolation between order
/// statistics (type 7 of Hyndman and Fan; `numpy.quantile`'s default).
///
/// Returns `NaN` when `values` is empty or holds a `NaN`, or when `p` is not in
/// `[0, 1]`.
pub fn quantile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() || !(0.0..=1.0).contains(&p) || values.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    linear_quantile(&sorted(values), p)
}

/// Posterior summary of one scalar quantity: mean, standard deviation,
/// 5 %, 50 % and 95 % quantiles and the convergence diagnostics, as the
/// `mean`, `sd`, `mcse_mean`, `mcse_sd`, `ess_bulk`, `ess_tail` and `r_hat`
/// columns of `az.summary`.
///
/// The mean, standard deviation and quantiles are computed whatever the
/// number of draws (`NaN` if any draw is `NaN`); the diagnostics are `NaN`
/// with fewer than four draws per chain, and `rhat` also with one chain.
///
/// `rhat` here follows `az.summary`, which folds the draws about the median
/// of *all* draws before splitting; [`rhat`] follows `az.rhat`, which splits
/// first. The two differ only when the number of draws per chain is odd.
pub fn summarise(chains: &[&[f64]]) -> Summary {
    let Some(draws) = DrawMatrix::from_chains(chains) else {
        return Summary::NAN;
    };
    let all = &draws.values;
    let (q5, q50, q95) = if all.is_empty() || all.iter().any(|x| x.is_nan()) {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        let s = sorted(all);
        (
            linear_quantile(&s, 0.05),
            linear_quantile(&s, 0.5),
            linear_quantile(&s, 0.95),
        )
    };
    let mut summary = Summary {
        mean: mean(all),
        sd: sample_variance(all).sqrt(),
        q5,
        q50,
        q95,
        ..Summary::NAN
    };
    let Some(draws) = DrawMatrix::validated(chains, 1) else {
        return summary;
    };

    let split = draws.split();
    let z_split = split.with_values(z_scale(&split.values));
    summary.ess_tail = ess_tail_of(&draws);
    if draws.n_chains >= 2 {
        let bulk = rhat_basic(&z_split);
        let centre = median(&draws.values);
        let folded = draws.map(|x| (x - centre).abs()).split();
        let tail = rhat_basic(&folded.with_values(z_scale(&folded.values)));
        summary.rhat = python_max(bulk, tail);
    }

    let ess_of_mean = ess_basic(&split);
    let squared = squared_deviations(&draws);
    let sum_squared = pairwise_sum(&squared.values);
    let size = squared.values.len() as f64;
    summary.mcse_mean = (sum_squared / (size - 1.0) / ess_of_mean).sqrt();
    summary.ess_bulk = ess_basic(&z_split);
    let ess_of_squared = ess_basic(&squared.split());
    summary.mcse_sd = mcse_sd_from(&squared, sum_squared / size, ess_of_squared);
    summary
}

/// Draws of one quantity, stored chain after chain.
#[derive(Clone, Debug)]
struct DrawMatrix {
    n_chains: usize,
    n_draws: usize,
    values: Vec<f64>,
}

impl DrawMatrix {
    /// Copies equal-length chains; `None` for no chains or unequal lengths.
    fn from_chains(chains: &[&[f64]]) -> Option<Self> {
        let n_draws = chains.first()?.len();
        if chains.iter().any(|c| c.len() != n_draws) {
            return None;
        }
        Some(Self {
            n_chains: chains.len(),
            n_draws,
            values: chains.iter().flat_map(|c| c.iter().copied()).collect(),
        })
    }

    /// As [`DrawMatrix::from_chains`], also refusing `NaN` draws, fewer than
    /// [`MIN_DRAWS`] draws per chain or fewer than `min_chains` chains.
    fn validated(chains: &[&[f64]], min_chains: usize) -> Option<Self> {
        let draws = Self::from_chains(chains)?;
        let valid = draws.n_chains >= min_chains
            && draws.n_draws >= MIN_DRAWS
            && !draws.values.iter().any(|x| x.is_nan());
        valid.then_some(draws)
    }

    /// Chain `c`.
    fn chain(&self, c: usize) -> &[f64] {
        &self.values[c * self.n_draws..(c + 1) * self.n_draws]
    }

    /// The same shape holding `values`.
    fn with_values(&self, values: Vec<f64>) -> Self {
        debug_assert_eq!(values.len(), self.values.len());
        Self { values, ..*self }
    }

    /// Each draw mapped through `f`.
    fn map(&self, f: impl Fn(f64) -> f64) -> Self {
        self.with_values(self.values.iter().map(|&x| f(x)).collect())
    }

    /// Splits every chain into its first `n / 2` and its last `n / 2` draws
    /// (dropping the middle draw of an odd-length chain), all first halves
    /// before all second halves.
    fn split(&self) -> Self {
        let half = self.n_draws / 2;
        let mut values = Vec::with_capacity(2 * self.n_chains * half);
        for c in 0..self.n_chains {
            values.extend_from_slice(&self.chain(c)[..half]);
        }
        for c in 0..self.n_chains {
            values.extend_from_slice(&self.chain(c)[self.n_draws - half..]);
        }
        Self {
            n_chains: 2 * self.n_chains,
            n_draws: half,
            values,
        }
    }

    /// Mean of each chain.
    fn chain_means(&self) -> Vec<f64> {
        (0..self.n_chains).map(|c| mean(self.chain(c))).collect()
    }
}

/// Python's `max(a, b)`: `a` unless `b > a` (so a `NaN` first argument wins).
fn python_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)`: `a` unless `b < a`.
fn python_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// Sum in `numpy`'s order: blocks of at most 128 values, each summed with
/// eight interleaved accumulators, combined pairwise. Matching the order
/// keeps means and variances bit-identical to `ArviZ`'s, which matters where
/// its formulas cancel (the MCSE of the standard deviation).
fn pairwise_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        values.iter().fold(0.0, |acc, x| acc + x)
    } else if n <= BLOCK {
        let mut r = [0.0; 8];
        r.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        for chunk in values[8..whole].chunks_exact(8) {
            for (acc, x) in r.iter_mut().zip(chunk) {
                *acc += x;
            }
        }
        let mut total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &values[whole..] {
            total += x;
        }
        total
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
    }
}

fn mean(values: &[f64]) -> f64 {
    pairwise_sum(values) / values.len() as f64
}

/// Variance with divisor `n - 1`.
fn sample_variance(values: &[f64]) -> f64 {
    let m = mean(values);
    let squares: Vec<f64> = values.iter().map(|x| (x - m) * (x - m)).collect();
    let ss = pairwise_sum(&squares);
    ss / (values.len() as f64 - 1.0)
}

/// Squared deviations of every draw from the mean of all draws.
fn squared_deviations(draws: &DrawMatrix) -> DrawMatrix {
    let m = mean(&draws.values);
    draws.map(|x| (x - m) * (x - m))
}

/// The delta-method MCSE of the standard deviation, given the squared
/// deviations, their mean `evar` and their ESS.
fn mcse_sd_from(squared: &DrawMatrix, evar: f64, ess: f64) -> f64 {
    let fourth: Vec<f64> = squared.values.iter().map(|s| s * s).collect();
    let mean_fourth = mean(&fourth);
    let varvar = (mean_fourth - evar * evar) / ess;
    (varvar / evar / 4.0).sqrt()
}

/// A sorted copy (no `NaN` expected).
fn sorted(values: &[f64]) -> Vec<f64> {
    let mut s = values.to_vec();
    s.sort_unstable_by(f64::total_cmp);
    s
}

/// Median of `values` (no `NaN` expected): the middle order statistic, or the
/// mean of the two middle ones.
fn median(values: &[f64]) -> f64 {
    let s = sorted(values);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Type-7 quantile of sorted, non-empty data, interpolated as `numpy` does:
/// from the lower neighbour when the weight is below one half and from the
/// upper neighbour otherwise.
fn linear_quantile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let last = n - 1;
    let virtual_index = last as f64 * p;
    let (lower, upper, gamma) = if virtual_index >= last as f64 {
        // Both neighbours are the maximum; the weight is then irrelevant.
        (sorted[last], sorted[last], virtual_index + 1.0)
    } else {
        let below = virtual_index.floor();
        let i = below as usize;
        (sorted[i], sorted[i + 1], virtual_index - below)
    };
    let diff = upper - lower;
    if gamma >= 0.5 {
        upper - diff * (1.0 - gamma)
    } else {
        lower + diff * gamma
    }
}

/// Type-7 quantile of sorted, non-empty data in the form `ArviZ` uses for
/// the tail ESS (`scipy.stats.mstats.mquantiles` with `alphap = betap = 1`):
/// `(1 - g) x[k-1] + g x[k]` with `k = floor(n p + 1 - p)`.
fn tail_quantile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let aleph = n as f64 * p + (1.0 - p);
    let k = aleph.clamp(1.0, (n - 1) as f64).floor();
    let gamma = (aleph - k).clamp(0.0, 1.0);
    let k = k as usize;
    (1.0 - gamma) * sorted[k - 1] + gamma * sorted[k]
}

/// Ranks of `values` from 1, ties sharing the mean of the ranks they span.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let value = values[order[start]];
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == value {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1 ..= end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Rank normalisation: normal scores `Φ⁻¹((r - 3/8) / (S + 1/4))` of the
/// average ranks `r` over all `S` values.
fn z_scale(values: &[f64]) -> Vec<f64> {
    let normal = Normal::standard();
    let denominator = values.len() as f64 - 2.0 * BLOM_OFFSET + 1.0;
    average_ranks(values)
        .into_iter()
        .map(|r| {
            let p = (r - BLOM_OFFSET) / denominator;
            if p > 0.0 && p < 1.0 {
                normal.inverse_cdf(p)
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// The tail ESS of validated (unsplit) draws.
fn ess_tail_of(draws: &DrawMatrix) -> f64 {
    let s = sorted(&draws.values);
    let low = ess_quantile(draws, tail_quantile(&s, 0.05));
    let high = ess_quantile(draws, tail_quantile(&s, 0.95));
    python_min(low, high)
}

/// ESS of the indicator `draw <= q` on split chains.
fn ess_quantile(draws: &DrawMatrix, q: f64) -> f64 {
    ess_basic(&draws.map(|x| f64::from(u8::from(x <= q))).split())
}

/// Potential scale reduction of (already split and possibly normalised)
/// chains: `sqrt(((n - 1) / n W + B / n) / W)`.
fn rhat_basic(draws: &DrawMatrix) -> f64 {
    if draws.values.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    let n = draws.n_draws as f64;
    let means = draws.chain_means();
    let variances: Vec<f64> = (0..draws.n_chains)
        .map(|c| sample_variance(draws.chain(c)))
        .collect();
    let within = mean(&variances);
    let between = n * sample_variance(&means);
    ((between / within + n - 1.0) / n).sqrt()
}

/// Lags up to this are summed directly; past it every lag is computed at once
/// with a fast Fourier transform, so slowly mixing chains cost `O(n log n)`
/// rather than `O(n^2)`.
const DIRECT_LAGS: usize = 32;

/// Mean over chains of the biased (divisor `n`) autocovariance at a lag.
///
/// Geyer's sequence usually stops after a few lags, which are summed
/// directly as they are asked for; a long sequence switches to the
/// transform, which gives every lag.
struct Autocovariance {
    /// Chains centred on their own means, chain after chain.
    centred: Vec<f64>,
    n_chains: usize,
    n_draws: usize,
    /// Every lag's mean autocovariance, once the transform has been used.
    all_lags: Option<Vec<f64>>,
}

impl Autocovariance {
    fn new(draws: &DrawMatrix) -> Self {
        let means = draws.chain_means();
        let centred = (0..draws.n_chains)
            .flat_map(|c| {
                let m = means[c];
                draws.chain(c).iter().map(move |x| x - m)
            })
            .collect();
        Self {
            centred,
            n_chains: draws.n_chains,
            n_draws: draws.n_draws,
            all_lags: None,
        }
    }

    fn mean_at(&mut self, lag: usize) -> f64 {
        if self.all_lags.is_none() && lag > DIRECT_LAGS {
            self.all_lags = Some(self.by_transform());
        }
        match &self.all_lags {
            Some(all) => all.get(lag).copied().unwrap_or(0.0),
            None => self.direct(lag),
        }
    }

    /// One lag, summed directly.
    fn direct(&self, lag: usize) -> f64 {
        let n = self.n_draws;
        let per_chain: Vec<f64> = self
            .centred
            .chunks_exact(n)
            .map(|chain| lagged_dot(chain, lag) / n as f64)
            .collect();
        mean(&per_chain)
    }

    /// Every lag, from the inverse transform of each chain's zero-padded
    /// power spectrum (padding to at least `2n` removes the circular wrap).
    fn by_transform(&self) -> Vec<f64> {
        let n = self.n_draws;
        let fft = Fft::new((2 * n).next_power_of_two());
        let size = fft.size as f64;
        // Lag-major: the chains' autocovariances at lag 0, then at lag 1, ...
        let mut by_lag = vec![0.0; n * self.n_chains];
        let mut re = vec![0.0; fft.size];
        let mut im = vec![0.0; fft.size];
        for (c, chain) in self.centred.chunks_exact(n).enumerate() {
            re.fill(0.0);
            im.fill(0.0);
            re[..n].copy_from_slice(chain);
            fft.transform(&mut re, &mut im, false);
            for (r, i) in re.iter_mut().zip(im.iter_mut()) {
                *r = *r * *r + *i * *i;
                *i = 0.0;
            }
            fft.transform(&mut re, &mut im, true);
            for (lag, r) in re[..n].iter().enumerate() {
                by_lag[lag * self.n_chains + c] = r / size / n as f64;
            }
        }
        by_lag.chunks_exact(self.n_chains).map(mean).collect()
    }
}

/// An iterative radix-2 complex fast Fourier transform of one power-of-two
/// size (unnormalised in both directions).
struct Fft {
    size: usize,
    /// `cos(2 pi k / size)` and `sin(2 pi k / size)` for `k < size / 2`.
    twiddles: Vec<(f64, f64)>,
}

impl Fft {
    fn new(size: usize) -> Self {
        debug_assert!(size.is_power_of_two());
        let twiddles = (0..size / 2)
            .map(|k| {
                let (sin, cos) = (std::f64::consts::TAU * k as f64 / size as f64).sin_cos();
                (cos, sin)
            })
            .collect();
        Self { size, twiddles }
    }

    /// In place: `X[k] = sum_j x[j] exp(-+ 2 pi i j k / size)`, with the
    /// plus sign when `inverse`.
    fn transform(&self, re: &mut [f64], im: &mut [f64], inverse: bool) {
        let n = self.size;
        // Bit-reversal permutation.
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let sign = if inverse { 1.0 } else { -1.0 };
        let mut len = 2;
        while len <= n {
            let half = len / 2;
            let stride = n / len;
            for start in (0..n).step_by(len) {
                for k in 0..half {
                    let (wr, wi) = self.twiddles[k * stride];
                    let wi = sign * wi;
                    let (a, b) = (start + k, start + k + half);
                    let vr = re[b] * wr - im[b] * wi;
                    let vi = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - vr;
                    im[b] = im[a] - vi;
                    re[a] += vr;
                    im[a] += vi;
                }
            }
            len *= 2;
        }
    }
}

/// `sum_i x[i] x[i + lag]`, with four partial sums for speed.
fn lagged_dot(x: &[f64], lag: usize) -> f64 {
    if lag >= x.len() {
        return 0.0;
    }
    let a = &x[..x.len() - lag];
    let b = &x[lag..];
    let mut partial = [0.0; 4];
    let mut a_chunks = a.chunks_exact(4);
    let mut b_chunks = b.chunks_exact(4);
    for (ca, cb) in (&mut a_chunks).zip(&mut b_chunks) {
        for k in 0..4 {
            partial[k] += ca[k] * cb[k];
        }
    }
    let tail: f64 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(p, q)| p * q)
        .sum();
    (partial[0] + partial[1]) + (partial[2] + partial[3]) + tail
}

/// Effective sample size of (already split and possibly transformed) chains,
/// with Geyer's initial positive and initial monotone sequences and the
/// autocorrelation time clamped below by `1 / log10(size)`.
fn ess_basic(draws: &DrawMatrix) -> f64 {
    let values = &draws.values;
    if values.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    let size = values.len();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    if hi - lo < CONSTANT_RESOLUTION {
        return size as f64;
    }
    let n_draws = draws.n_draws;
    if n_draws < 2 {
        return f64::NAN;
    }
    let n = n_draws as f64;
    let mut acov = Autocovariance::new(draws);
    let mean_var = acov.mean_at(0) * n / (n - 1.0);
    let mut var_plus = mean_var * (n - 1.0) / n;
    if draws.n_chains > 1 {
        var_plus += sample_variance(&draws.chain_means());
    }
    let mut rho = |lag: usize| 1.0 - (mean_var - acov.mean_at(lag)) / var_plus;

    let mut rho_hat = vec![0.0; n_draws];
    let mut rho_even = 1.0;
    let mut rho_odd = rho(1);
    rho_hat[0] = rho_even;
    rho_hat[1] = rho_odd;

    // Geyer's initial positive sequence: sum pairs while they stay positive.
    let mut t = 1;
    while t + 3 < n_draws && rho_even + rho_odd > 0.0 {
        rho_even = rho(t + 1);
        rho_odd = rho(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho_hat[t + 1] = rho_even;
            rho_hat[t + 2] = rho_odd;
        }
        t += 2;
    }
    // `max_t + 1` in ArviZ's indexing; `max_t` itself may be -1.
    let max_t_plus_1 = t - 1;
    if rho_even > 0.0 {
        rho_hat[max_t_plus_1] = rho_even;
    }

    // Geyer's initial monotone sequence: pair sums may not increase.
    let mut t = 1;
    while t + 3 <= max_t_plus_1 {
        let previous = rho_hat[t - 1] + rho_hat[t];
        if rho_hat[t + 1] + rho_hat[t + 2] > previous {
            rho_hat[t + 1] = previous / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }

    let head = pairwise_sum(&rho_hat[..max_t_plus_1]);
    let next = pairwise_sum(&rho_hat[max_t_plus_1..(max_t_plus_1 + 1).min(n_draws)]);
    let tau = python_max(-1.0 + 2.0 * head + next, 1.0 / (size as f64).log10());
    if rho_hat.iter().any(|r| r.is_nan()) {
        return f64::NAN;
    }
    size as f64 / tau
}

#[cfg(test)]
#[allow(clippy::unreadable_literal)]
mod tests {
    //! Reference values come from `ArviZ` 0.23.4 (numpy 2.4.6, scipy 1.17.1)
    //! on chains that both Python and this module generate bit-for-bit:
    //!
    //! ```python
    //! import numpy as np, arviz as az
    //! from arviz.stats.diagnostics import _multichain_statistics
    //!
    //! def make_chains(seed, n_chains, n_draws, phi, shift):
    //!     """AR(1) chains driven by a 64-bit LCG; chain c is offset by shift * c."""
    //!     s = seed
    //!     out = []
    //!     for c in range(n_chains):
    //!         x, row = 0.0, []
    //!         for _ in range(n_draws):
    //!             e = 0.0
    //!             for _ in range(4):
    //!                 s = (s * 6364136223846793005 + 1442695040888963407) % 2**64
    //!                 e += (s >> 11) * 2.0**-53
    //!             x = phi * x + (e - 2.0)
    //!             row.append(x + shift * c)
    //!         out.append(row)
    //!     return np.array(out)
    //!
    //! def report(a):
    //!     mc = _multichain_statistics(a)  # the diagnostics of az.summary
    //!     for k, x in dict(
    //!         rhat=az.rhat(a, method="rank"), ess_bulk=az.ess(a, method="bulk"),
    //!         ess_tail=az.ess(a, method="tail"), ess_mean=az.ess(a, method="mean"),
    //!         mcse_mean=az.mcse(a, method="mean"), mcse_sd=az.mcse(a, method="sd"),
    //!         q5=np.quantile(a, 0.05), q50=np.quantile(a, 0.5), q95=np.quantile(a, 0.95),
    //!         mean=a.mean(), sd=a.std(ddof=1), summary_rhat=mc[4],
    //!     ).items():
    //!         print(f"{k}: {float(x)!r},")
    //! ```
    //!
    //! Each case below names the array `a` it was given.

    use super::*;

    /// Mirror of the Python `make_chains` above.
    fn make_chains(
        seed: u64,
        n_chains: usize,
        n_draws: usize,
        phi: f64,
        shift: f64,
    ) -> Vec<Vec<f64>> {
        let mut s = seed;
        let mut uniform = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 * 2f64.powi(-53)
        };
        (0..n_chains)
            .map(|c| {
                let mut x = 0.0;
                (0..n_draws)
                    .map(|_| {
                        let mut e = 0.0;
                        for _ in 0..4 {
                            e += uniform();
                        }
                        x = phi * x + (e - 2.0);
                        x + shift * c as f64
                    })
                    .collect()
            })
            .collect()
    }

    fn slices(chains: &[Vec<f64>]) -> Vec<&[f64]> {
        chains.iter().map(Vec::as_slice).collect()
    }

    /// Everything `report` prints.
    struct Expected {
        rhat: f64,
        ess_bulk: f64,
        ess_tail: f64,
        ess_mean: f64,
        mcse_mean: f64,
        mcse_sd: f64,
        q5: f64,
        q50: f64,
        q95: f64,
        mean: f64,
        sd: f64,
        summary_rhat: f64,
    }

    const TOLERANCE: f64 = 1e-9;

    fn assert_close(name: &str, actual: f64, expected: f64) {
        let ok = if expected.is_nan() {
            actual.is_nan()
        } else if expected.is_infinite() || expected == 0.0 {
            actual == expected
        } else {
            ((actual - expected) / expected).abs() <= TOLERANCE
        };
        assert!(ok, "{name}: got {actual:e}, ArviZ gives {expected:e}");
    }

    fn check(chains: &[Vec<f64>], e: &Expected) {
        let c = slices(chains);
        assert_close("rhat", rhat(&c), e.rhat);
        assert_close("ess_bulk", ess_bulk(&c), e.ess_bulk);
        assert_close("ess_tail", ess_tail(&c), e.ess_tail);
        assert_close("ess_mean", ess_mean(&c), e.ess_mean);
        assert_close("mcse_mean", mcse_mean(&c), e.mcse_mean);
        assert_close("mcse_sd", mcse_sd(&c), e.mcse_sd);
        let all: Vec<f64> = chains.iter().flatten().copied().collect();
        assert_close("quantile 0.05", quantile(&all, 0.05), e.q5);
        assert_close("quantile 0.5", quantile(&all, 0.5), e.q50);
        assert_close("quantile 0.95", quantile(&all, 0.95), e.q95);
        let s = summarise(&c);
        assert_close("summary mean", s.mean, e.mean);
        assert_close("summary sd", s.sd, e.sd);
        assert_close("summary q5", s.q5, e.q5);
        assert_close("summary q50", s.q50, e.q50);
        assert_close("summary q95", s.q95, e.q95);
        assert_close("summary mcse_mean", s.mcse_mean, e.mcse_mean);
        assert_close("summary mcse_sd", s.mcse_sd, e.mcse_sd);
        assert_close("summary ess_bulk", s.ess_bulk, e.ess_bulk);
        assert_close("summary ess_tail", s.ess_tail, e.ess_tail);
        assert_close("summary rhat", s.rhat, e.summary_rhat);
    }

    #[test]
    fn iid_like_chains() {
        // a = make_chains(1, 4, 200, 0.0, 0.0)
        check(
            &make_chains(1, 4, 200, 0.0, 0.0),
            &Expected {
                rhat: 0.9999308871492298,
                ess_bulk: 890.4273768290791,
                ess_tail: 816.3588020030686,
                ess_mean: 896.3510009676514,
                mcse_mean: 0.018993362882123957,
                mcse_sd: 0.012286575195552095,
                q5: -0.9067570914494224,
                q50: 0.004281022119750455,
                q95: 0.9595107823079033,
                mean: 0.022000161281771936,
                sd: 0.5686446005364101,
                summary_rhat: 0.9999308871492298,
            },
        );
    }

    #[test]
    fn strongly_autocorrelated_chains() {
        // a = make_chains(2, 4, 1000, 0.95, 0.0)
        check(
            &make_chains(2, 4, 1000, 0.95, 0.0),
            &Expected {
                rhat: 1.0439829115179455,
                ess_bulk: 105.1591047876462,
                ess_tail: 234.96202751337842,
                ess_mean: 105.02662915136162,
                mcse_mean: 0.18273344893505622,
                mcse_sd: 0.08303398478934838,
                q5: -3.0515811370954795,
                q50: 0.09125890451067237,
                q95: 3.0800336549076786,
                mean: 0.08724539826517275,
                sd: 1.872698077756271,
                summary_rhat: 1.0439829115179455,
            },
        );
    }

    #[test]
    fn chains_with_different_means() {
        // a = make_chains(3, 4, 100, 0.3, 1.0)
        check(
            &make_chains(3, 4, 100, 0.3, 1.0),
            &Expected {
                rhat: 2.0578965933639535,
                ess_bulk: 5.792601656481298,
                ess_tail: 47.43960725975241,
                ess_mean: 5.487602313603205,
                mcse_mean: 0.5501445191416579,
                mcse_sd: 0.18136708966243476,
                q5: -0.5121952527389675,
                q50: 1.5893640980932948,
                q95: 3.477097670210525,
                mean: 1.5362821465558303,
                sd: 1.2887483014194705,
                summary_rhat: 2.0578965933639535,
            },
        );
    }

    #[test]
    fn odd_number_of_draws() {
        // a = make_chains(4, 3, 101, 0.5, 0.0)
        check(
            &make_chains(4, 3, 101, 0.5, 0.0),
            &Expected {
                rhat: 1.0423860576670543,
                ess_bulk: 65.26752406370224,
                ess_tail: 71.15630533149717,
                ess_mean: 62.54787762545472,
                mcse_mean: 0.09352061632318061,
                mcse_sd: 0.054847714360194734,
                q5: -1.2537908092292156,
                q50: 0.019709164371257637,
                q95: 1.1728559109790055,
                mean: -0.010079088378923498,
                sd: 0.7396285200109142,
                summary_rhat: 1.0423860576670543,
            },
        );
    }

    #[test]
    fn odd_draws_with_different_scales_fold_differently_in_summary() {
        // a = make_chains(10, 3, 51, 0.2, 0.0) * np.array([[1.0], [2.0], [4.0]])
        let mut chains = make_chains(10, 3, 51, 0.2, 0.0);
        for (chain, scale) in chains.iter_mut().zip([1.0, 2.0, 4.0]) {
            for x in chain.iter_mut() {
                *x *= scale;
            }
        }
        check(
            &chains,
            &Expected {
                rhat: 1.2047316454138168,
                ess_bulk: 116.009735046799,
                ess_tail: 46.436878832734294,
                ess_mean: 56.958075537643666,
                mcse_mean: 0.22720364541610738,
                mcse_sd: 0.34291429679110524,
                q5: -2.137525089106524,
                q50: -0.04810102091816594,
                q95: 3.5802194735260335,
                mean: 0.19233737029742212,
                sd: 1.7147189555331226,
                summary_rhat: 1.2073546819570824,
            },
        );
    }

    #[test]
    fn tied_values_get_average_ranks() {
        // a = np.floor(make_chains(5, 2, 50, 0.0, 0.0) * 2.0) / 2.0
        let chains: Vec<Vec<f64>> = make_chains(5, 2, 50, 0.0, 0.0)
            .into_iter()
            .map(|c| c.into_iter().map(|x| (x * 2.0).floor() / 2.0).collect())
            .collect();
        check(
            &chains,
            &Expected {
                rhat: 0.9935186281568695,
                ess_bulk: 117.76002058504193,
                ess_tail: 109.07504363001742,
                ess_mean: 109.84588573558622,
                mcse_mean: 0.05306965684209723,
                mcse_sd: 0.030008286774772925,
                q5: -1.025,
                q50: -0.25,
                q95: 0.5,
                mean: -0.285,
                sd: 0.5562092114202055,
                summary_rhat: 0.9935186281568695,
            },
        );
    }

    #[test]
    fn single_chain_has_no_rhat() {
        // a = make_chains(6, 1, 200, 0.6, 0.0)
        check(
            &make_chains(6, 1, 200, 0.6, 0.0),
            &Expected {
                rhat: f64::NAN,
                ess_bulk: 38.99900193312166,
                ess_tail: 54.2947761006479,
                ess_mean: 38.05217786243146,
                mcse_mean: 0.12016517538096247,
                mcse_sd: 0.07335649412885202,
                q5: -1.075854943384211,
                q50: 0.18944519848364197,
                q95: 1.1974584281717149,
                mean: 0.1379053095821347,
                sd: 0.7412562764031032,
                summary_rhat: f64::NAN,
            },
        );
    }

    #[test]
    fn constant_chains() {
        // a = np.full((2, 10), 1.5)
        check(
            &[vec![1.5; 10], vec![1.5; 10]],
            &Expected {
                rhat: f64::NAN,
                ess_bulk: 20.0,
                ess_tail: 20.0,
                ess_mean: 20.0,
                mcse_mean: 0.0,
                mcse_sd: f64::NAN,
                q5: 1.5,
                q50: 1.5,
                q95: 1.5,
                mean: 1.5,
                sd: 0.0,
                summary_rhat: f64::NAN,
            },
        );
    }

    #[test]
    fn two_different_constant_chains() {
        // a = np.array([[1.0] * 8, [2.0] * 8])
        check(
            &[vec![1.0; 8], vec![2.0; 8]],
            &Expected {
                rhat: f64::INFINITY,
                ess_bulk: 19.265919722494797,
                ess_tail: 16.0,
                ess_mean: 19.265919722494797,
                mcse_mean: 0.11764933940329063,
                mcse_sd: 0.0,
                q5: 1.0,
                q50: 1.5,
                q95: 2.0,
                mean: 1.5,
                sd: 0.5163977794943222,
                summary_rhat: f64::INFINITY,
            },
        );
    }

    #[test]
    fn four_draws_is_the_minimum() {
        // a = make_chains(8, 2, 4, 0.0, 0.0)
        check(
            &make_chains(8, 2, 4, 0.0, 0.0),
            &Expected {
                rhat: 0.9056943685617872,
                ess_bulk: 7.224719895935548,
                ess_tail: 7.224719895935548,
                ess_mean: 7.224719895935548,
                mcse_mean: 0.18810653395346388,
                mcse_sd: 0.07715742869654336,
                q5: -0.3260244146002715,
                q50: 0.057050694085298836,
                q95: 0.9026100500252722,
                mean: 0.16883393088856335,
                sd: 0.5056085253599867,
                summary_rhat: 0.9056943685617872,
            },
        );
    }

    #[test]
    fn fewer_than_four_draws_gives_nan_diagnostics() {
        // a = make_chains(7, 2, 3, 0.0, 0.0)
        check(
            &make_chains(7, 2, 3, 0.0, 0.0),
            &Expected {
                rhat: f64::NAN,
                ess_bulk: f64::NAN,
                ess_tail: f64::NAN,
                ess_mean: f64::NAN,
                mcse_mean: f64::NAN,
                mcse_sd: f64::NAN,
                q5: -0.8779165001879589,
                q50: 0.12761516119029603,
                q95: 0.6600169979522017,
                mean: -0.03277940272186871,
                sd: 0.6936662446793089,
                summary_rhat: f64::NAN,
            },
        );
    }

    #[test]
    fn long_autocorrelated_chains() {
        // a = make_chains(9, 8, 10000, 0.99, 0.0)
        check(
            &make_chains(9, 8, 10_000, 0.99, 0.0),
            &Expected {
                rhat: 1.0217971764869893,
                ess_bulk: 476.9776009347914,
                ess_tail: 858.1987638354627,
                ess_mean: 474.08117793239137,
                mcse_mean: 0.18286062583182414,
                mcse_sd: 0.08723229101720811,
                q5: -6.452087352419603,
                q50: 0.35803085199932205,
                q95: 6.52593646976851,
                mean: 0.2299122150635024,
                sd: 3.9814985178604663,
                summary_rhat: 1.0217971764869893,
            },
        );
    }

    #[test]
    fn nan_draws_give_nan() {
        let mut chains = make_chains(11, 2, 20, 0.0, 0.0);
        chains[1][7] = f64::NAN;
        let c = slices(&chains);
        for value in [
            rhat(&c),
            ess_bulk(&c),
            ess_tail(&c),
            ess_mean(&c),
            mcse_mean(&c),
            mcse_sd(&c),
            quantile(&chains[1], 0.5),
        ] {
            assert!(value.is_nan());
        }
        let s = summarise(&c);
        for value in [
            s.mean,
            s.sd,
            s.q5,
            s.q50,
            s.q95,
            s.mcse_mean,
            s.mcse_sd,
            s.ess_bulk,
            s.ess_tail,
            s.rhat,
        ] {
            assert!(value.is_nan());
        }
    }

    #[test]
    fn malformed_input_gives_nan() {
        let short = [1.0, 2.0, 3.0, 4.0];
        let long = [1.0, 2.0, 3.0, 4.0, 5.0];
        let unequal: [&[f64]; 2] = [&short, &long];
        assert!(rhat(&unequal).is_nan());
        assert!(ess_bulk(&unequal).is_nan());
        assert!(summarise(&unequal).mean.is_nan());
        assert!(ess_mean(&[]).is_nan());
        assert!(summarise(&[]).sd.is_nan());
        assert!(quantile(&[], 0.5).is_nan());
        assert!(quantile(&short, 1.5).is_nan());
        assert!(quantile(&short, f64::NAN).is_nan());
    }

    #[test]
    fn quantile_matches_numpy() {
        // np.quantile([3.0, 1.0, 4.0, 1.5, 9.0, 2.6], p) for each p below
        let values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6];
        for (p, expected) in [
            (0.0, 1.0),
            (0.05, 1.125),
            (0.3, 2.05),
            (0.5, 2.8),
            (0.95, 7.75),
            (1.0, 9.0),
        ] {
            assert_close("quantile", quantile(&values, p), expected);
        }
    }

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(
            average_ranks(&[2.0, 1.0, 2.0, 0.0, -0.0, 5.0]),
            vec![4.5, 3.0, 4.5, 1.5, 1.5, 6.0]
        );
    }

    #[test]
    fn transform_and_direct_autocovariances_agree() {
        let chains = make_chains(12, 3, 777, 0.9, 0.0);
        let draws = DrawMatrix::validated(&slices(&chains), 1).unwrap();
        let acov = Autocovariance::new(&draws);
        let all = acov.by_transform();
        assert_eq!(all.len(), 777);
        for lag in [0, 1, 2, 33, 100, 400, 776] {
            let direct = acov.direct(lag);
            assert!(
                (all[lag] - direct).abs() <= 1e-13 * all[0],
                "lag {lag}: transform {} direct {direct}",
                all[lag]
            );
        }
    }

    #[test]
    fn sums_follow_numpy_order() {
        // np.sum(np.array([1e16] + [1.0] * 200 + [-1e16])) == 188.0
        let mut values = vec![1e16];
        values.extend([1.0; 200]);
        values.push(-1e16);
        assert_eq!(pairwise_sum(&values), 188.0);
        // np.sum(np.array([1.0] * 9 + [1e16] + [1.0] * 9)) == 1.0000000000000016e16
        let mut values = vec![1.0; 9];
        values.push(1e16);
        values.extend([1.0; 9]);
        assert_eq!(pairwise_sum(&values), 1.0000000000000016e16);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.5]), 6.5);
        assert_eq!(pairwise_sum(&[]), 0.0);
    }

    #[test]
    fn split_drops_the_middle_draw() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let draws = DrawMatrix::validated(&[&a, &b], 1).map(|d| d.split());
        let draws = draws
            .as_ref()
            .map(|d| (d.n_chains, d.n_draws, d.values.clone()));
        assert_eq!(
            draws,
            Some((4, 2, vec![1.0, 2.0, 6.0, 7.0, 4.0, 5.0, 9.0, 10.0]))
        );
    }
}
