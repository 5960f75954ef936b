//! Cost metrics and likelihoods comparing model predictions with data.
//!
//! A [`CostMetric`] turns a vector of predictions and a vector of observations of the same
//! length (all observations of all outputs, flattened) into one scalar cost, and gives the exact
//! derivative of that cost with respect to every prediction. Chained with the forward
//! sensitivities of a model (`d prediction_k / d θ_j`), that derivative gives the exact gradient
//! of the cost with respect to the parameters.
//!
//! - [`Sse`]: the weighted sum of squared residuals.
//! - [`Rmse`]: the weighted root-mean-square residual.
//! - [`GaussianNll`]: the weighted negative log-likelihood of independent Gaussian noise of known
//!   variance, normalising constant included.
//! - [`CostSum`]: a sum of metrics.
//!
//! Residuals are `r_k = prediction_k − data_k`.
//!
//! ```
//! use diffid_cost::{CostMetric, CostSum, GaussianNll, Sse};
//!
//! let predictions = [1.0, 2.0, 3.0];
//! let data = [1.1, 1.9, 3.2];
//! let sse = Sse::new(1.0)?;
//! assert!((sse.cost(&predictions, &data) - 0.06).abs() < 1e-12);
//!
//! // The exact derivative of the cost with respect to each prediction: 2 r_k for the SSE.
//! let mut d = [0.0; 3];
//! sse.gradient(&predictions, &data, &mut d);
//! assert!((d[2] - 2.0 * (3.0 - 3.2)).abs() < 1e-12);
//!
//! // A Gaussian likelihood with noise variance 0.01, normalising constant included.
//! let nll = GaussianNll::new(0.01, 1.0)?;
//! let want = 0.5 * (0.06 / 0.01 + 3.0 * (2.0 * std::f64::consts::PI * 0.01).ln());
//! assert!((nll.cost(&predictions, &data) - want).abs() < 1e-12);
//! assert!(nll.is_likelihood() && !sse.is_likelihood());
//!
//! // Several metrics, summed.
//! let both = CostSum::new(vec![Box::new(sse), Box::new(nll)]);
//! assert!((both.cost(&predictions, &data) - (0.06 + want)).abs() < 1e-12);
//! # Ok::<(), diffid_cost::CostError>(())
//! ```

use std::f64::consts::PI;
use std::fmt;
use thiserror::Error;

/// Errors raised when a cost metric is built with invalid settings or given mismatched data.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum CostError {
    /// A noise variance that is not finite and positive.
    #[error("gaussian_nll variance must be finite and > 0, got {variance}; pass the noise variance (the squared standard deviation) of the data")]
    InvalidVariance {
        /// The variance given.
        variance: f64,
    },
    /// A weight that is negative or not finite.
    #[error("{metric} weight must be finite and >= 0, got {weight}; use a non-negative finite weight (1.0 for an unweighted cost)")]
    InvalidWeight {
        /// The metric's name (`"sse"`, `"rmse"`, `"gaussian_nll"`).
        metric: &'static str,
        /// The weight given.
        weight: f64,
    },
    /// Per-output settings whose count does not match the data's outputs.
    #[error("{metric} has {got} {what}, but the data have {expected} outputs; give one value shared by all outputs or one per output")]
    OutputCount {
        /// The metric's name.
        metric: &'static str,
        /// What is per output (`"variances"`, `"sigma parameters"`).
        what: &'static str,
        /// Outputs in the data.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A metric with no noise values, or a σ parameter named twice or left empty.
    #[error("invalid gaussian_nll noise: {reason}")]
    InvalidNoise {
        /// What is wrong.
        reason: String,
    },
    /// Predictions and data of different lengths.
    #[error("there are {predictions} predictions but {data} data points; predictions and data must have one value per observation, in the same order")]
    LengthMismatch {
        /// Number of predictions.
        predictions: usize,
        /// Number of data points.
        data: usize,
    },
}

/// Checks that `predictions` and `data` have the same length, as every [`CostMetric`] method
/// requires.
///
/// # Errors
/// [`CostError::LengthMismatch`] when they differ.
pub fn check_lengths(predictions: &[f64], data: &[f64]) -> Result<(), CostError> {
    if predictions.len() == data.len() {
        Ok(())
    } else {
        Err(CostError::LengthMismatch {
            predictions: predictions.len(),
            data: data.len(),
        })
    }
}

/// A scalar cost comparing predictions with data, with its derivative in the predictions.
///
/// `predictions`, `data` (and `out` for [`CostMetric::gradient`]) all have the same length: one
/// value per observation, flattened over outputs and times. Callers check this once with
/// [`check_lengths`]; the metrics themselves only look at the common prefix if it is violated.
pub trait CostMetric: Send + Sync + fmt::Debug {
    /// The metric's name: `"sse"`, `"rmse"` or `"gaussian_nll"`.
    fn name(&self) -> &'static str;

    /// The weight multiplying the cost (and its gradient).
    fn weight(&self) -> f64;

    /// The weighted cost.
    fn cost(&self, predictions: &[f64], data: &[f64]) -> f64;

    /// Writes `d cost / d prediction_k` (weighted) into `out[k]` for every observation `k`.
    fn gradient(&self, predictions: &[f64], data: &[f64], out: &mut [f64]);

    /// A boxed copy of this metric.
    fn clone_box(&self) -> Box<dyn CostMetric>;

    /// Whether the metric is a negative log-likelihood (samplers need one).
    fn is_likelihood(&self) -> bool {
        false
    }

    /// The names of the parameters this metric reads (an estimated noise σ), in the order
    /// [`cost_with`](Self::cost_with) expects their values.
    fn noise_parameters(&self) -> &[String] {
        &[]
    }

    /// Checks that the metric fits data of `n_outputs` outputs (one variance or σ per
    /// output, or a single one shared by all).
    ///
    /// # Errors
    /// [`CostError::OutputCount`] when the metric has per-output settings of another count.
    fn check_outputs(&self, n_outputs: usize) -> Result<(), CostError> {
        let _ = n_outputs;
        Ok(())
    }

    /// The weighted cost given the values of its [`noise_parameters`](Self::noise_parameters)
    /// and the number of outputs (observations are time-major: observation `k` belongs to
    /// output `k % n_outputs`). The default ignores both.
    fn cost_with(&self, predictions: &[f64], data: &[f64], n_outputs: usize, noise: &[f64]) -> f64 {
        let _ = (n_outputs, noise);
        self.cost(predictions, data)
    }

    /// A lower bound of [`cost_with`](Self::cost_with) over every prediction vector that
    /// begins with `known` (the first `known.len()` predictions; the rest, up to `data.len()`,
    /// not computed yet): the cost of the known part plus the least the rest can add. It lets
    /// an evaluation that only needs to know whether the cost is below a cap stop its
    /// simulation early. The default, `-inf`, is no bound.
    fn cost_lower_bound(
        &self,
        known: &[f64],
        data: &[f64],
        n_outputs: usize,
        noise: &[f64],
    ) -> f64 {
        let _ = (known, data, n_outputs, noise);
        f64::NEG_INFINITY
    }

    /// As [`gradient`](Self::gradient), given noise values as [`cost_with`](Self::cost_with);
    /// also writes `d cost / d noise_m` into `noise_out[m]` (the default writes zeros there).
    fn gradient_with(
        &self,
        predictions: &[f64],
        data: &[f64],
        n_outputs: usize,
        noise: &[f64],
        out: &mut [f64],
        noise_out: &mut [f64],
    ) {
        let _ = (n_outputs, noise);
        noise_out.fill(0.0);
        self.gradient(predictions, data, out);
    }
}

impl Clone for Box<dyn CostMetric> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// A boxed metric is a metric, so that APIs taking `impl CostMetric` accept one chosen at run
/// time as well.
impl CostMetric for Box<dyn CostMetric> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn weight(&self) -> f64 {
        (**self).weight()
    }
    fn cost(&self, predictions: &[f64], data: &[f64]) -> f64 {
        (**self).cost(predictions, data)
    }
    fn gradient(&self, predictions: &[f64], data: &[f64], out: &mut [f64]) {
        (**self).gradient(predictions, data, out);
    }
    fn clone_box(&self) -> Box<dyn CostMetric> {
        (**self).clone_box()
    }
    fn is_likelihood(&self) -> bool {
        (**self).is_likelihood()
    }
    fn noise_parameters(&self) -> &[String] {
        (**self).noise_parameters()
    }
    fn check_outputs(&self, n_outputs: usize) -> Result<(), CostError> {
        (**self).check_outputs(n_outputs)
    }
    fn cost_with(&self, predictions: &[f64], data: &[f64], n_outputs: usize, noise: &[f64]) -> f64 {
        (**self).cost_with(predictions, data, n_outputs, noise)
    }
    fn cost_lower_bound(
        &self,
        known: &[f64],
        data: &[f64],
        n_outputs: usize,
        noise: &[f64],
    ) -> f64 {
        (**self).cost_lower_bound(known, data, n_outputs, noise)
    }
    fn gradient_with(
        &self,
        predictions: &[f64],
        data: &[f64],
        n_outputs: usize,
        noise: &[f64],
        out: &mut [f64],
        noise_out: &mut [f64],
    ) {
        (**self).gradient_with(predictions, data, n_outputs, noise, out, noise_out);
    }
}

fn check_weight(metric: &'static str, weight: f64) -> Result<(), CostError> {
    if weight.is_finite() && weight >= 0.0 {
        Ok(())
    } else {
        Err(CostError::InvalidWeight { metric, weight })
    }
}

fn residuals<'a>(predictions: &'a [f64], data: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
    debug_assert_eq!(predictions.len(), data.len());
    predictions.iter().zip(data).map(|(p, d)| p - d)
}

fn sum_of_squares(predictions: &[f64], data: &[f64]) -> f64 {
    residuals(predictions, data).map(|r| r * r).sum()
}

/// Sum of squared errors: `w · Σ r²`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sse {
    weight: f64,
}

impl Sse {
    /// The sum of squared errors with weight `weight`.
    ///
    /// # Errors
    /// [`CostError::InvalidWeight`] when `weight` is negative or not finite.
    pub fn new(weight: f64) -> Result<Self, CostError> {
        check_weight("sse", weight)?;
        Ok(Self { weight })
    }
}

impl CostMetric for Sse {
    fn name(&self) -> &'static str {
        "sse"
    }

    fn weight(&self) -> f64 {
        self.weight
    }

    fn cost(&self, predictions: &[f64], data: &[f64]) -> f64 {
        self.weight * sum_of_squares(predictions, data)
    }

    /// The known residuals' squares: the rest add at least zero.
    fn cost_lower_bound(&self, known: &[f64], data: &[f64], _: usize, _: &[f64]) -> f64 {
        let k = known.len().min(data.len());
        self.weight * sum_of_squares(&known[..k], &data[..k])
    }

    fn gradient(&self, predictions: &[f64], data: &[f64], out: &mut [f64]) {
        for (o, r) in out.iter_mut().zip(residuals(predictions, data)) {
            *o = 2.0 * self.weight * r;
        }
    }

    fn clone_box(&self) -> Box<dyn CostMetric> {
        Box::new(*self)
    }
}

/// Root-mean-square error: `w · sqrt(Σ r² / N)`.
///
/// At a perfect fit (every residual zero) the cost is not differentiable; the gradient reported
/// there is zero. With no observations the cost is zero.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rmse {
    weight: f64,
}

impl Rmse {
    /// The root-mean-square error with weight `weight`.
    ///
    /// # Errors
    /// [`CostError::InvalidWeight`] when `weight` is negative or not finite.
    pub fn new(weight: f64) -> Result<Self, CostError> {
        check_weight("rmse", weight)?;
        Ok(Self { weight })
    }
}

impl CostMetric for Rmse {
    fn name(&self) -> &'static str {
        "rmse"
    }

    fn weight(&self) -> f64 {
        self.weight
    }

    fn cost(&self, predictions: &[f64], data: &[f64]) -> f64 {
        let n = predictions.len().min(data.len());
        if n == 0 {
            return 0.0;
        }
        self.weight * (sum_of_squares(predictions, data) / n as f64).sqrt()
    }

    /// The known residuals' squares over all `N` observations: the rest add at least zero.
    fn cost_lower_bound(&self, known: &[f64], data: &[f64], _: usize, _: &[f64]) -> f64 {
        let n = data.len();
        if n == 0 {
            return 0.0;
        }
        let k = known.len().min(n);
        self.weight * (sum_of_squares(&known[..k], &data[..k]) / n as f64).sqrt()
    }

    fn gradient(&self, predictions: &[f64], data: &[f64], out: &mut [f64]) {
        // d/dp_k w·sqrt(S/N) = w · r_k / (N · sqrt(S/N)) = w · r_k / sqrt(N · S).
        let n = predictions.len().min(data.len());
        let denom = (n as f64 * sum_of_squares(predictions, data)).sqrt();
        if denom > 0.0 {
            for (o, r) in out.iter_mut().zip(residuals(predictions, data)) {
                *o = self.weight * r / denom;
            }
        } else {
            out.iter_mut().take(n).for_each(|o| *o = 0.0);
        }
    }

    fn clone_box(&self) -> Box<dyn CostMetric> {
        Box::new(*self)
    }
}

/// Gaussian negative log-likelihood of independent noise,
/// `w · ½ · Σ_k (r_k²/σ_k² + ln(2πσ_k²))`, normalising constant included.
///
/// The noise is either known (one variance for every observation, or one per output) or
/// estimated: σ given by parameters of the problem, named here and fitted or sampled with the
/// model's parameters (one σ shared by all outputs, or one per output). A σ that is not
/// positive makes the likelihood undefined: the cost is NaN, a failed evaluation.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GaussianNll {
    noise: Noise,
    weight: f64,
}

/// The noise of a [`GaussianNll`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Noise {
    /// Known variances: one for all observations, or one per output.
    Variance(Vec<f64>),
    /// σ from the named parameters: one for all observations, or one per output.
    Sigma(Vec<String>),
}

impl GaussianNll {
    /// The Gaussian negative log-likelihood for noise of variance `variance`, with weight
    /// `weight`.
    ///
    /// # Errors
    /// [`CostError::InvalidVariance`] when `variance` is not finite and positive;
    /// [`CostError::InvalidWeight`] when `weight` is negative or not finite.
    pub fn new(variance: f64, weight: f64) -> Result<Self, CostError> {
        Self::with_variances(vec![variance], weight)
    }

    /// Known variances, one per output (or a single one for all).
    ///
    /// # Errors
    /// As [`new`](Self::new) for any variance; [`CostError::InvalidNoise`] for none.
    pub fn with_variances(variances: Vec<f64>, weight: f64) -> Result<Self, CostError> {
        if variances.is_empty() {
            return Err(CostError::InvalidNoise {
                reason: "no variance given; pass one variance or one per output".to_owned(),
            });
        }
        if let Some(&variance) = variances.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return Err(CostError::InvalidVariance { variance });
        }
        check_weight("gaussian_nll", weight)?;
        Ok(Self {
            noise: Noise::Variance(variances),
            weight,
        })
    }

    /// Estimated noise: σ is the value of the named parameter(s), one shared by all outputs or
    /// one per output.
    ///
    /// # Errors
    /// [`CostError::InvalidNoise`] for no name, an empty name or a name given twice;
    /// [`CostError::InvalidWeight`] as [`new`](Self::new).
    pub fn with_sigma(names: Vec<String>, weight: f64) -> Result<Self, CostError> {
        if names.is_empty() || names.iter().any(String::is_empty) {
            return Err(CostError::InvalidNoise {
                reason: "sigma must name one parameter, or one per output".to_owned(),
            });
        }
        if let Some(dup) = names
            .iter()
            .enumerate()
            .find_map(|(i, n)| names[..i].contains(n).then_some(n))
        {
            return Err(CostError::InvalidNoise {
                reason: format!("sigma parameter '{dup}' is named twice"),
            });
        }
        check_weight("gaussian_nll", weight)?;
        Ok(Self {
            noise: Noise::Sigma(names),
            weight,
        })
    }

    /// The noise variance `σ²` when one known variance is shared by every observation, else
    /// NaN.
    pub fn variance(&self) -> f64 {
        match &self.noise {
            Noise::Variance(v) if v.len() == 1 => v[0],
            _ => f64::NAN,
        }
    }

    /// The noise model.
    pub fn noise(&self) -> &Noise {
        &self.noise
    }

    /// σ² of observation `k`, given the noise values; `None` when σ is not positive.
    fn variance_of(&self, k: usize, n_outputs: usize, noise: &[f64]) -> Option<f64> {
        let pick = |len: usize| if len == 1 { 0 } else { k % n_outputs.max(1) };
        match &self.noise {
            Noise::Variance(v) => v.get(pick(v.len())).copied(),
            Noise::Sigma(names) => noise
                .get(pick(names.len()))
                .filter(|s| **s > 0.0)
                .map(|s| s * s),
        }
    }
}

impl CostMetric for GaussianNll {
    fn name(&self) -> &'static str {
        "gaussian_nll"
    }

    fn weight(&self) -> f64 {
        self.weight
    }

    fn cost(&self, predictions: &[f64], data: &[f64]) -> f64 {
        self.cost_with(predictions, data, 1, &[])
    }

    fn gradient(&self, predictions: &[f64], data: &[f64], out: &mut [f64]) {
        self.gradient_with(predictions, data, 1, &[], out, &mut []);
    }

    fn clone_box(&self) -> Box<dyn CostMetric> {
        Box::new(self.clone())
    }

    fn is_likelihood(&self) -> bool {
        true
    }

    fn noise_parameters(&self) -> &[String] {
        match &self.noise {
            Noise::Sigma(names) => names,
            Noise::Variance(_) => &[],
        }
    }

    fn check_outputs(&self, n_outputs: usize) -> Result<(), CostError> {
        let (got, what) = match &self.noise {
            Noise::Variance(v) => (v.len(), "variances"),
            Noise::Sigma(s) => (s.len(), "sigma parameters"),
        };
        if got == 1 || got == n_outputs {
            Ok(())
        } else {
            Err(CostError::OutputCount {
                metric: "gaussian_nll",
                what,
                expected: n_outputs,
                got,
            })
        }
    }

    fn cost_with(&self, predictions: &[f64], data: &[f64], n_outputs: usize, noise: &[f64]) -> f64 {
        let n = predictions.len().min(data.len());
        self.cost_lower_bound(&predictions[..n], &data[..n], n_outputs, noise)
    }

    /// The known observations' terms, and `ln(2πσ²)` for each of the rest (their least,
    /// at a zero residual). NaN where σ is not positive (the cost is NaN there too).
    fn cost_lower_bound(
        &self,
        known: &[f64],
        data: &[f64],
        n_outputs: usize,
        noise: &[f64],
    ) -> f64 {
        // Observation k has the variance of output k % m: ln(2πσ²) once per output (n_j
        // observations of output j add n_j of them, known or not), not once per observation.
        let shared = matches!(&self.noise, Noise::Variance(v) if v.len() == 1)
            || matches!(&self.noise, Noise::Sigma(s) if s.len() == 1);
        let n = data.len();
        let mut sum = 0.0;
        if shared || n_outputs <= 1 {
            let Some(var) = self.variance_of(0, 1, noise) else {
                return f64::NAN;
            };
            for (p, d) in known.iter().zip(data) {
                let r = p - d;
                sum += r * r / var;
            }
            sum += n as f64 * (2.0 * PI * var).ln();
        } else {
            let m = n_outputs;
            let mut vars = Vec::with_capacity(m);
            for j in 0..m.min(n) {
                let Some(var) = self.variance_of(j, m, noise) else {
                    return f64::NAN;
                };
                vars.push(var);
            }
            for (k, (p, d)) in known.iter().zip(data).enumerate() {
                let r = p - d;
                sum += r * r / vars[k % m];
            }
            for (j, var) in vars.iter().enumerate() {
                let count = n / m + usize::from(j < n % m);
                sum += count as f64 * (2.0 * PI * var).ln();
            }
        }
        self.weight * 0.5 * sum
    }

    fn gradient_with(
        &self,
        predictions: &[f64],
        data: &[f64],
        n_outputs: usize,
        noise: &[f64],
        out: &mut [f64],
        noise_out: &mut [f64],
    ) {
        noise_out.fill(0.0);
        let per_output = noise_out.len() > 1;
        for (k, (o, r)) in out.iter_mut().zip(residuals(predictions, data)).enumerate() {
            let Some(var) = self.variance_of(k, n_outputs, noise) else {
                *o = f64::NAN;
                noise_out.fill(f64::NAN);
                continue;
            };
            *o = self.weight * r / var;
            if !noise_out.is_empty() {
                // d/dσ ½ (r²/σ² + ln 2πσ²) = (1 − r²/σ²) / σ.
                let sigma = var.sqrt();
                let m = if per_output { k % n_outputs.max(1) } else { 0 };
                noise_out[m] += self.weight * (1.0 - r * r / var) / sigma;
            }
        }
    }
}

/// A sum of cost metrics: its cost and gradient are the sums of its members'.
///
/// An empty sum has cost zero and gradient zero.
#[derive(Clone, Debug, Default)]
pub struct CostSum {
    metrics: Vec<Box<dyn CostMetric>>,
}

impl CostSum {
    /// The sum of `metrics`.
    pub fn new(metrics: Vec<Box<dyn CostMetric>>) -> Self {
        Self { metrics }
    }

    /// Adds `metric` to the sum.
    pub fn push(&mut self, metric: Box<dyn CostMetric>) {
        self.metrics.push(metric);
    }

    /// Whether the sum has no members.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// The members, in the order added.
    pub fn metrics(&self) -> &[Box<dyn CostMetric>] {
        &self.metrics
    }

    /// The sum of the members' weighted costs.
    pub fn cost(&self, predictions: &[f64], data: &[f64]) -> f64 {
        self.metrics.iter().map(|m| m.cost(predictions, data)).sum()
    }

    /// Whether every member is a negative log-likelihood.
    ///
    /// # Errors
    /// The name of the first member that is not (or "an empty cost").
    pub fn likelihood(&self) -> Result<(), &'static str> {
        match self.metrics.iter().find(|m| !m.is_likelihood()) {
            Some(m) => Err(m.name()),
            None if self.metrics.is_empty() => Err("an empty cost"),
            None => Ok(()),
        }
    }

    /// The noise parameters the members read, each name once, in order of first use.
    pub fn noise_parameters(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for n in self.metrics.iter().flat_map(CostMetric::noise_parameters) {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        names
    }

    /// Checks every member against the data's number of outputs.
    ///
    /// # Errors
    /// The first member's [`CostError::OutputCount`].
    pub fn check_outputs(&self, n_outputs: usize) -> Result<(), CostError> {
        self.metrics
            .iter()
            .try_for_each(|m| m.check_outputs(n_outputs))
    }

    /// A member's noise values picked from `noise` (ordered as
    /// [`noise_parameters`](Self::noise_parameters)), and where each sits in `noise`.
    fn member_noise(
        names: &[String],
        metric: &dyn CostMetric,
        noise: &[f64],
    ) -> (Vec<f64>, Vec<usize>) {
        let index: Vec<usize> = metric
            .noise_parameters()
            .iter()
            .map(|n| names.iter().position(|m| m == n).unwrap_or(usize::MAX))
            .collect();
        let values = index
            .iter()
            .map(|&i| noise.get(i).copied().unwrap_or(f64::NAN))
            .collect();
        (values, index)
    }

    /// The sum of the members' costs given the values of
    /// [`noise_parameters`](Self::noise_parameters), in that order.
    pub fn cost_with(
        &self,
        predictions: &[f64],
        data: &[f64],
        n_outputs: usize,
        noise: &[f64],
    ) -> f64 {
        self.sum_over_members(noise, |m, values| {
            m.cost_with(predictions, data, n_outputs, values)
        })
    }

    /// `Σ f(member, its noise values)`, the values picked from `noise` (ordered as
    /// [`noise_parameters`](Self::noise_parameters)).
    fn sum_over_members(&self, noise: &[f64], f: impl Fn(&dyn CostMetric, &[f64]) -> f64) -> f64 {
        if noise.is_empty() {
            return self.metrics.iter().map(|m| f(m.as_ref(), &[])).sum();
        }
        if let [only] = self.metrics.as_slice() {
            // One member: its noise parameters are the sum's, in the same order.
            return f(only.as_ref(), noise);
        }
        let names = self.noise_parameters();
        self.metrics
            .iter()
            .map(|m| {
                let (values, _) = Self::member_noise(&names, m.as_ref(), noise);
                f(m.as_ref(), &values)
            })
            .sum()
    }

    /// The sum of the members' [`CostMetric::cost_lower_bound`]s, given noise values as
    /// [`cost_with`](Self::cost_with).
    pub fn cost_lower_bound(
        &self,
        known: &[f64],
        data: &[f64],
        n_outputs: usize,
        noise: &[f64],
    ) -> f64 {
        self.sum_over_members(noise, |m, values| {
            m.cost_lower_bound(known, data, n_outputs, values)
        })
    }

    /// The sum of the members' gradients in the predictions (into `out`) and in the noise
    /// values (into `noise_out`, ordered as [`noise_parameters`](Self::noise_parameters)).
    pub fn gradient_with(
        &self,
        predictions: &[f64],
        data: &[f64],
        n_outputs: usize,
        noise: &[f64],
        out: &mut [f64],
        noise_out: &mut [f64],
    ) {
        out.fill(0.0);
        noise_out.fill(0.0);
        let names = self.noise_parameters();
        if let [only] = self.metrics.as_slice() {
            // One member (the usual case): its gradient is the sum's, written in place.
            let (values, index) = Self::member_noise(&names, only.as_ref(), noise);
            let mut noise_part = vec![0.0; values.len()];
            only.gradient_with(predictions, data, n_outputs, &values, out, &mut noise_part);
            for (&i, g) in index.iter().zip(noise_part) {
                if let Some(slot) = noise_out.get_mut(i) {
                    *slot += g;
                }
            }
            return;
        }
        let mut part = vec![0.0; out.len()];
        for m in &self.metrics {
            let (values, index) = Self::member_noise(&names, m.as_ref(), noise);
            let mut noise_part = vec![0.0; values.len()];
            m.gradient_with(
                predictions,
                data,
                n_outputs,
                &values,
                &mut part,
                &mut noise_part,
            );
            for (o, p) in out.iter_mut().zip(&part) {
                *o += p;
            }
            for (&i, g) in index.iter().zip(noise_part) {
                if let Some(slot) = noise_out.get_mut(i) {
                    *slot += g;
                }
            }
        }
    }

    /// Writes the sum of the members' gradients (`d cost / d prediction_k`) into `out`.
    pub fn gradient(&self, predictions: &[f64], data: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        match self.metrics.as_slice() {
            [] => {}
            [only] => only.gradient(predictions, data, out),
            many => {
                let mut part = vec![0.0; out.len()];
                for m in many {
                    m.gradient(predictions, data, &mut part);
                    for (o, p) in out.iter_mut().zip(&part) {
                        *o += p;
                    }
                }
            }
        }
    }
}

impl From<Vec<Box<dyn CostMetric>>> for CostSum {
    fn from(metrics: Vec<Box<dyn CostMetric>>) -> Self {
        Self::new(metrics)
    }
}

impl FromIterator<Box<dyn CostMetric>> for CostSum {
    fn from_iter<I: IntoIterator<Item = Box<dyn CostMetric>>>(iter: I) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

impl Extend<Box<dyn CostMetric>> for CostSum {
    fn extend<I: IntoIterator<Item = Box<dyn CostMetric>>>(&mut self, iter: I) {
        self.metrics.extend(iter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: [f64; 4] = [1.0, 2.5, -0.5, 4.0];
    const D: [f64; 4] = [0.5, 3.0, -0.5, 2.0];
    // Residuals: 0.5, -0.5, 0.0, 2.0; sum of squares 4.5.

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    /// Element-wise exact equality (the hand values are exactly representable).
    fn assert_exact(got: &[f64], want: &[f64]) {
        let g: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
        let w: Vec<u64> = want.iter().map(|v| v.to_bits()).collect();
        assert_eq!(g, w, "{got:?} vs {want:?}");
    }

    fn all_metrics() -> Vec<Box<dyn CostMetric>> {
        vec![
            Box::new(Sse::new(1.5).expect("valid")),
            Box::new(Rmse::new(0.7).expect("valid")),
            Box::new(GaussianNll::new(0.3, 2.0).expect("valid")),
        ]
    }

    #[test]
    fn names_are_stable() {
        let names: Vec<_> = all_metrics().iter().map(CostMetric::name).collect();
        assert_eq!(names, ["sse", "rmse", "gaussian_nll"]);
    }

    #[test]
    fn sse_matches_hand_computation() {
        let m = Sse::new(2.0).expect("valid");
        assert!(close(m.cost(&P, &D), 2.0 * 4.5, 1e-15));
        let mut g = [0.0; 4];
        m.gradient(&P, &D, &mut g);
        assert_exact(&g, &[2.0, -2.0, 0.0, 8.0]);
        assert!(close(m.weight(), 2.0, 0.0));
    }

    #[test]
    fn rmse_matches_hand_computation() {
        let m = Rmse::new(3.0).expect("valid");
        let expected = 3.0 * (4.5f64 / 4.0).sqrt();
        assert!(close(m.cost(&P, &D), expected, 1e-15));
        let mut g = [0.0; 4];
        m.gradient(&P, &D, &mut g);
        let denom = (4.0f64 * 4.5).sqrt();
        let want = [
            3.0 * 0.5 / denom,
            -3.0 * 0.5 / denom,
            0.0,
            3.0 * 2.0 / denom,
        ];
        for (a, b) in g.iter().zip(want) {
            assert!(close(*a, b, 1e-15), "{g:?} vs {want:?}");
        }
    }

    #[test]
    fn rmse_at_a_perfect_fit_has_zero_gradient_not_nan() {
        let m = Rmse::new(1.0).expect("valid");
        assert!(close(m.cost(&D, &D), 0.0, 0.0));
        let mut g = [f64::NAN; 4];
        m.gradient(&D, &D, &mut g);
        assert_exact(&g, &[0.0; 4]);
        assert!(close(m.cost(&[], &[]), 0.0, 0.0));
        m.gradient(&[], &[], &mut []);
    }

    #[test]
    fn gaussian_nll_matches_hand_computation() {
        let var = 0.25;
        let m = GaussianNll::new(var, 1.5).expect("valid");
        assert!(close(m.variance(), var, 0.0));
        // Sum of per-point log-densities of N(data, σ²) at the predictions.
        let log_density: f64 = P
            .iter()
            .zip(D)
            .map(|(p, d)| -0.5 * (2.0 * PI * var).ln() - (p - d) * (p - d) / (2.0 * var))
            .sum();
        assert!(close(m.cost(&P, &D), -1.5 * log_density, 1e-14));
        let mut g = [0.0; 4];
        m.gradient(&P, &D, &mut g);
        assert_exact(&g, &[3.0, -3.0, 0.0, 12.0]);
    }

    #[test]
    fn gaussian_nll_includes_the_normalising_constant() {
        let m = GaussianNll::new(1.0, 1.0).expect("valid");
        let expected = 0.5 * 3.0 * (2.0 * PI).ln();
        assert!(close(m.cost(&[1.0; 3], &[1.0; 3]), expected, 1e-15));
    }

    #[test]
    fn per_output_variances_score_each_output_with_its_own() {
        // Two outputs, time-major: observations 0, 2 are output 0; 1, 3 output 1.
        let m = GaussianNll::with_variances(vec![0.5, 2.0], 1.5).expect("valid");
        m.check_outputs(2).expect("two variances for two outputs");
        assert!(matches!(
            m.check_outputs(3),
            Err(CostError::OutputCount {
                expected: 3,
                got: 2,
                ..
            })
        ));
        let want: f64 = P
            .iter()
            .zip(D)
            .enumerate()
            .map(|(k, (p, d))| {
                let var = if k % 2 == 0 { 0.5 } else { 2.0 };
                1.5 * 0.5 * ((p - d) * (p - d) / var + (2.0 * PI * var).ln())
            })
            .sum();
        assert!(close(m.cost_with(&P, &D, 2, &[]), want, 1e-14));
    }

    #[test]
    fn estimated_sigma_matches_a_known_variance_and_has_exact_noise_gradients() {
        let est = GaussianNll::with_sigma(vec!["s".to_owned()], 1.0).expect("valid");
        let known = GaussianNll::new(0.7 * 0.7, 1.0).expect("valid");
        assert!(est.is_likelihood());
        assert_eq!(est.noise_parameters(), ["s".to_owned()]);
        assert!(close(
            est.cost_with(&P, &D, 1, &[0.7]),
            known.cost(&P, &D),
            1e-14
        ));
        // Per-output sigmas: the noise gradient against central differences.
        let two =
            GaussianNll::with_sigma(vec!["a".to_owned(), "b".to_owned()], 2.0).expect("valid");
        let noise = [0.6, 1.3];
        let mut g = [0.0; 4];
        let mut gn = [0.0; 2];
        two.gradient_with(&P, &D, 2, &noise, &mut g, &mut gn);
        for m in 0..2 {
            let h = 1e-6;
            let mut up = noise;
            let mut down = noise;
            up[m] += h;
            down[m] -= h;
            let fd = (two.cost_with(&P, &D, 2, &up) - two.cost_with(&P, &D, 2, &down)) / (2.0 * h);
            assert!(
                (gn[m] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                "{m}: {} vs {fd}",
                gn[m]
            );
        }
        // A sigma that is not positive leaves the likelihood undefined.
        assert!(est.cost_with(&P, &D, 1, &[0.0]).is_nan());
        assert!(est.cost_with(&P, &D, 1, &[-1.0]).is_nan());
    }

    #[test]
    fn sums_report_likelihoods_and_their_noise_parameters() {
        let lik: CostSum = vec![
            Box::new(GaussianNll::with_sigma(vec!["s".to_owned()], 1.0).expect("valid"))
                as Box<dyn CostMetric>,
            Box::new(GaussianNll::with_sigma(vec!["s".to_owned()], 0.5).expect("valid")),
        ]
        .into();
        assert_eq!(lik.likelihood(), Ok(()));
        assert_eq!(lik.noise_parameters(), ["s".to_owned()]);
        let mut g = [0.0; 4];
        let mut gn = [0.0; 1];
        lik.gradient_with(&P, &D, 1, &[0.9], &mut g, &mut gn);
        let single = GaussianNll::with_sigma(vec!["s".to_owned()], 1.5).expect("valid");
        let mut g1 = [0.0; 4];
        let mut gn1 = [0.0; 1];
        single.gradient_with(&P, &D, 1, &[0.9], &mut g1, &mut gn1);
        assert!(close(gn[0], gn1[0], 1e-13));
        assert!(close(
            lik.cost_with(&P, &D, 1, &[0.9]),
            single.cost_with(&P, &D, 1, &[0.9]),
            1e-13
        ));
        let mixed = CostSum::new(all_metrics());
        assert_eq!(mixed.likelihood(), Err("sse"));
        assert!(GaussianNll::with_sigma(vec![], 1.0).is_err());
        assert!(GaussianNll::with_sigma(vec!["a".into(), "a".into()], 1.0).is_err());
    }

    #[test]
    fn zero_weight_is_allowed() {
        let m = Sse::new(0.0).expect("zero weight is valid");
        assert!(close(m.cost(&P, &D), 0.0, 0.0));
    }

    #[test]
    fn invalid_weights_name_the_metric() {
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let errs = [
                Sse::new(bad).expect_err("rejected"),
                Rmse::new(bad).expect_err("rejected"),
                GaussianNll::new(1.0, bad).expect_err("rejected"),
            ];
            for (err, name) in errs.iter().zip(["sse", "rmse", "gaussian_nll"]) {
                assert!(
                    matches!(err, CostError::InvalidWeight { metric, .. } if *metric == name),
                    "{err:?}"
                );
                let msg = err.to_string();
                assert!(msg.starts_with(name) && msg.contains(">= 0"), "{msg}");
            }
        }
    }

    #[test]
    fn invalid_variances_are_rejected() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = GaussianNll::new(bad, 1.0).expect_err("rejected");
            assert!(matches!(err, CostError::InvalidVariance { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(
                msg.contains("gaussian_nll variance must be finite and > 0"),
                "{msg}"
            );
        }
    }

    #[test]
    fn length_mismatch_is_reported() {
        assert!(check_lengths(&P, &D).is_ok());
        let err = check_lengths(&P, &D[..3]).expect_err("mismatch");
        assert_eq!(
            err,
            CostError::LengthMismatch {
                predictions: 4,
                data: 3
            }
        );
        assert!(
            err.to_string().contains("4 predictions but 3 data"),
            "{err}"
        );
    }

    #[test]
    fn sum_is_the_sum_of_its_parts() {
        let sum = CostSum::new(all_metrics());
        assert_eq!(sum.len(), 3);
        assert!(!sum.is_empty());
        let parts: f64 = all_metrics().iter().map(|m| m.cost(&P, &D)).sum();
        assert!(close(sum.cost(&P, &D), parts, 1e-15));

        let mut g = [0.0; 4];
        sum.gradient(&P, &D, &mut g);
        let mut want = [0.0; 4];
        for m in all_metrics() {
            let mut part = [0.0; 4];
            m.gradient(&P, &D, &mut part);
            for (w, p) in want.iter_mut().zip(part) {
                *w += p;
            }
        }
        for (a, b) in g.iter().zip(want) {
            assert!(close(*a, b, 1e-15), "{g:?} vs {want:?}");
        }

        let cloned = sum.clone();
        let names: Vec<_> = cloned.metrics().iter().map(CostMetric::name).collect();
        assert_eq!(names, ["sse", "rmse", "gaussian_nll"]);
        assert!(close(cloned.cost(&P, &D), sum.cost(&P, &D), 0.0));
    }

    #[test]
    fn empty_sum_is_zero_and_push_adds() {
        let mut sum = CostSum::default();
        assert!(sum.is_empty());
        assert!(close(sum.cost(&P, &D), 0.0, 0.0));
        let mut g = [1.0; 4];
        sum.gradient(&P, &D, &mut g);
        assert_exact(&g, &[0.0; 4]);
        sum.push(Box::new(Sse::new(1.0).expect("valid")));
        assert!(close(sum.cost(&P, &D), 4.5, 1e-15));
        sum.gradient(&P, &D, &mut g);
        assert_exact(&g, &[1.0, -1.0, 0.0, 4.0]);
    }

    fn finite_difference(m: &dyn CostMetric, p: &[f64], d: &[f64], k: usize) -> f64 {
        let h = 1e-6 * (1.0 + p[k].abs());
        let mut plus = p.to_vec();
        let mut minus = p.to_vec();
        plus[k] += h;
        minus[k] -= h;
        (m.cost(&plus, d) - m.cost(&minus, d)) / (2.0 * h)
    }

    fn pairs() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        (1usize..12).prop_flat_map(|n| {
            (
                proptest::collection::vec(-10.0f64..10.0, n),
                proptest::collection::vec(-10.0f64..10.0, n),
            )
        })
    }

    proptest! {
        #[test]
        fn gradients_match_central_differences(
            (p, d) in pairs(),
            weight in 0.0f64..5.0,
            variance in 0.05f64..5.0,
        ) {
            let metrics: Vec<Box<dyn CostMetric>> = vec![
                Box::new(Sse::new(weight).expect("valid")),
                Box::new(Rmse::new(weight).expect("valid")),
                Box::new(GaussianNll::new(variance, weight).expect("valid")),
            ];
            let sum = CostSum::new(metrics.clone());
            let mut g = vec![0.0; p.len()];
            for m in &metrics {
                m.gradient(&p, &d, &mut g);
                for (k, gk) in g.iter().enumerate() {
                    let fd = finite_difference(m.as_ref(), &p, &d, k);
                    let scale = 1.0 + m.cost(&p, &d).abs();
                    prop_assert!(
                        (gk - fd).abs() <= 1e-5 * scale,
                        "{} gradient {} vs finite difference {} at {}", m.name(), gk, fd, k
                    );
                }
            }
            let mut gs = vec![0.0; p.len()];
            sum.gradient(&p, &d, &mut gs);
            let mut parts = vec![0.0; p.len()];
            for m in &metrics {
                let mut part = vec![0.0; p.len()];
                m.gradient(&p, &d, &mut part);
                for (s, q) in parts.iter_mut().zip(part) {
                    *s += q;
                }
            }
            for (a, b) in gs.iter().zip(&parts) {
                prop_assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{} vs {}", a, b);
            }
        }
    }

    proptest! {
        #[test]
        fn lower_bounds_never_exceed_the_cost_of_any_completion(
            (p, d) in pairs(),
            rest in proptest::collection::vec(-10.0f64..10.0, 12),
            known_fraction in 0.0f64..1.0,
            weight in 0.0f64..5.0,
            sigma in 0.05f64..3.0,
        ) {
            let n = p.len();
            let known = ((known_fraction * n as f64) as usize).min(n);
            let sigma_nll = GaussianNll::with_sigma(vec!["s".into()], weight).expect("valid");
            let metrics: Vec<Box<dyn CostMetric>> = vec![
                Box::new(Sse::new(weight).expect("valid")),
                Box::new(Rmse::new(weight).expect("valid")),
                Box::new(GaussianNll::new(sigma * sigma, weight).expect("valid")),
                Box::new(sigma_nll),
            ];
            // Any values after the known ones: the bound is below the cost.
            let mut completed = p.clone();
            completed[known..].copy_from_slice(&rest[..n - known]);
            let noise = [sigma];
            for m in &metrics {
                let noise: &[f64] = if m.noise_parameters().is_empty() { &[] } else { &noise };
                let bound = m.cost_lower_bound(&p[..known], &d, 1, noise);
                let cost = m.cost_with(&completed, &d, 1, noise);
                prop_assert!(bound <= cost + 1e-9 * (1.0 + cost.abs()), "{}: {} > {}", m.name(), bound, cost);
                // Everything known: the bound is the cost.
                let all = m.cost_lower_bound(&completed, &d, 1, noise);
                prop_assert!((all - cost).abs() <= 1e-12 * (1.0 + cost.abs()), "{}: {} vs {}", m.name(), all, cost);
            }
            // Two outputs with their own variances: observation k belongs to output k % 2.
            let two = GaussianNll::with_variances(vec![sigma * sigma, 0.5 + sigma], weight)
                .expect("valid");
            let by_hand: f64 = completed
                .iter()
                .zip(&d)
                .enumerate()
                .map(|(k, (p, q))| {
                    let var = if k % 2 == 0 { sigma * sigma } else { 0.5 + sigma };
                    (p - q).powi(2) / var + (2.0 * std::f64::consts::PI * var).ln()
                })
                .sum::<f64>()
                * 0.5
                * weight;
            let cost = two.cost_with(&completed, &d, 2, &[]);
            prop_assert!((cost - by_hand).abs() <= 1e-12 * (1.0 + by_hand.abs()), "{} vs {}", cost, by_hand);
            let bound = two.cost_lower_bound(&p[..known], &d, 2, &[]);
            prop_assert!(bound <= cost + 1e-9 * (1.0 + cost.abs()), "{} > {}", bound, cost);
            let sum = CostSum::new(metrics[..3].to_vec());
            let bound = sum.cost_lower_bound(&p[..known], &d, 1, &[]);
            prop_assert!(bound <= sum.cost_with(&completed, &d, 1, &[]) + 1e-9 * (1.0 + bound.abs()));
        }
    }
}
