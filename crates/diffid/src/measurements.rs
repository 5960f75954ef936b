//! Measurements one by one: experiments given as rows (time, output, value, noise), each
//! scored by its own noise model, as `PEtab` and the systems-biology field write them.
//!
//! A row compares the model's output `y` at its time with the measured value `m` under a noise
//! model: a distribution (normal or Laplace) on a scale (`lin`, `log`, `log10`: the
//! observable's transformation), with a scale parameter σ that is a number, a fitted parameter
//! or a model output (a noise formula compiled into the model). The negative log-likelihood of
//! a row, with `h` the transformation and `r = (h(m) − h(y)) / σ`:
//!
//! | distribution | `lin` | `log` | `log10` |
//! |---|---|---|---|
//! | normal | `½ ln(2πσ²) + ½ r²` | `… + ln m` | `… + ln(m ln 10)` |
//! | Laplace | `ln(2σ) + |r|` | `… + ln m` | `… + ln(m ln 10)` |
//!
//! (`PEtab`'s conventions: the density of `m`, so a transformed scale adds the Jacobian term.)
//! Rows of one experiment may repeat a time (replicates) and measure any subset of the outputs
//! at each time; the experiment's simulator runs once at the distinct times.

use diffid_core::{GradientOutcome, Objective, Outcome};
use diffid_ode::OdeSimulator;
use std::str::FromStr;
use std::sync::Arc;

/// The observable's transformation: the scale the noise acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NoiseScale {
    /// The measured value itself (default).
    #[default]
    Lin,
    /// Its natural logarithm (log-normal noise, for a normal distribution).
    Log,
    /// Its base-10 logarithm.
    Log10,
}

/// The noise distribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NoiseDistribution {
    /// Normal with standard deviation σ (default).
    #[default]
    Normal,
    /// Laplace with scale σ.
    Laplace,
}

impl FromStr for NoiseScale {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "lin" => Ok(Self::Lin),
            "log" => Ok(Self::Log),
            "log10" => Ok(Self::Log10),
            other => Err(format!(
                "unknown observable transformation '{other}'; choose lin, log or log10"
            )),
        }
    }
}

impl FromStr for NoiseDistribution {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "normal" => Ok(Self::Normal),
            "laplace" => Ok(Self::Laplace),
            other => Err(format!(
                "unknown noise distribution '{other}'; choose normal or laplace"
            )),
        }
    }
}

/// Where a row's σ comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Sigma {
    /// A number.
    Value(f64),
    /// A fitted parameter, by name.
    Parameter(String),
    /// A model output (a noise formula in `out_i`), by name.
    Output(String),
    /// A declared parameter of this name if there is one, else a model output of this name.
    Named(String),
}

/// One measurement.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Measurement {
    /// When it was taken.
    pub time: f64,
    /// The model output it measures, by name.
    pub output: String,
    /// The measured value.
    pub value: f64,
    /// The noise's σ.
    pub sigma: Sigma,
}

impl Measurement {
    /// A measurement of `output` at `time`.
    pub fn new(time: f64, output: impl Into<String>, value: f64, sigma: Sigma) -> Self {
        Self {
            time,
            output: output.into(),
            value,
            sigma,
        }
    }
}

/// A row resolved against the simulator and the point.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// Index of its time among the experiment's distinct times.
    pub time: usize,
    /// Output index.
    pub output: usize,
    pub value: f64,
    pub sigma: RowSigma,
    pub scale: NoiseScale,
    pub distribution: NoiseDistribution,
}

/// A row's σ, resolved.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RowSigma {
    Value(f64),
    /// Position in a point.
    Parameter(usize),
    /// Output index.
    Output(usize),
}

/// The negative log-likelihood of one row with prediction `y` and σ `sigma`, with its
/// derivatives with respect to `y` and `sigma` (NaN where it is undefined: σ ≤ 0, or a
/// non-positive value on a log scale).
pub(crate) fn row_nllh(
    scale: NoiseScale,
    distribution: NoiseDistribution,
    m: f64,
    y: f64,
    sigma: f64,
) -> (f64, f64, f64) {
    if sigma.is_nan() || sigma <= 0.0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let ln10 = std::f64::consts::LN_10;
    let (hm, hy, dh, jac) = match scale {
        NoiseScale::Lin => (m, y, 1.0, 0.0),
        NoiseScale::Log => (m.ln(), y.ln(), 1.0 / y, m.ln()),
        NoiseScale::Log10 => (m.log10(), y.log10(), 1.0 / (y * ln10), (m * ln10).ln()),
    };
    let d = hm - hy;
    match distribution {
        NoiseDistribution::Normal => {
            let r = d / sigma;
            let value = 0.5 * (2.0 * std::f64::consts::PI * sigma * sigma).ln() + jac + 0.5 * r * r;
            (value, -r / sigma * dh, (1.0 - r * r) / sigma)
        }
        NoiseDistribution::Laplace => {
            let value = (2.0 * sigma).ln() + jac + d.abs() / sigma;
            (
                value,
                -d.signum() / sigma * dh,
                (1.0 - d.abs() / sigma) / sigma,
            )
        }
    }
}

/// One experiment scored row by row: its simulator (its distinct times, its inputs), the
/// positions of the simulator's parameters in a point, and the rows.
pub struct ExperimentObjective {
    simulator: Arc<OdeSimulator>,
    index: Vec<usize>,
    rows: Vec<Row>,
    dim: usize,
}

impl ExperimentObjective {
    pub(crate) fn new(
        simulator: Arc<OdeSimulator>,
        index: Vec<usize>,
        rows: Vec<Row>,
        dim: usize,
    ) -> Self {
        Self {
            simulator,
            index,
            rows,
            dim,
        }
    }

    /// The simulator.
    pub fn simulator(&self) -> &Arc<OdeSimulator> {
        &self.simulator
    }

    /// Every row's prediction at `x` (model parameters from `x`), in row order.
    ///
    /// # Errors
    /// The solve's failure.
    pub fn predictions(&self, x: &[f64]) -> Result<Vec<f64>, String> {
        let params: Vec<f64> = self.index.iter().map(|&i| x[i]).collect();
        let k = self.simulator.model().n_outputs();
        let mut out = vec![0.0; self.simulator.times().len() * k];
        self.simulator
            .solve(&params, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(self
            .rows
            .iter()
            .map(|r| out[r.time * k + r.output])
            .collect())
    }

    /// The rows' sum, and where it is undefined, why.
    fn total(&self, x: &[f64], out: &[f64]) -> Result<f64, String> {
        let k = self.simulator.model().n_outputs();
        let mut total = 0.0;
        for (n, row) in self.rows.iter().enumerate() {
            let y = out[row.time * k + row.output];
            let sigma = row_sigma(row, x, out, k);
            let (v, _, _) = row_nllh(row.scale, row.distribution, row.value, y, sigma);
            if !v.is_finite() {
                return Err(undefined(n, row, y, sigma, &self.simulator));
            }
            total += v;
        }
        Ok(total)
    }
}

/// Row `row`'s σ at point `x` with outputs `out` (`k` per time).
fn row_sigma(row: &Row, x: &[f64], out: &[f64], k: usize) -> f64 {
    match row.sigma {
        RowSigma::Value(v) => v,
        RowSigma::Parameter(i) => x[i],
        RowSigma::Output(j) => out[row.time * k + j],
    }
}

/// Why row `n`'s likelihood is undefined.
fn undefined(n: usize, row: &Row, y: f64, sigma: f64, sim: &OdeSimulator) -> String {
    let name = &sim.model().output_names()[row.output];
    let t = sim.times()[row.time];
    if sigma.is_nan() || sigma <= 0.0 {
        format!("measurement {n} ('{name}' at t = {t}): σ = {sigma}, it must be positive")
    } else {
        format!(
            "measurement {n} ('{name}' at t = {t}): the likelihood is undefined at prediction {y} (measured {}; a log scale needs both positive)",
            row.value
        )
    }
}

impl Objective for ExperimentObjective {
    fn dim(&self) -> usize {
        self.dim
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        let params: Vec<f64> = self.index.iter().map(|&i| x[i]).collect();
        let k = self.simulator.model().n_outputs();
        let mut out = vec![0.0; self.simulator.times().len() * k];
        if let Err(e) = self.simulator.solve(&params, &mut out) {
            return Outcome::Failed(e.to_string());
        }
        match self.total(x, &out) {
            Ok(v) => Outcome::from_value(v),
            Err(reason) => Outcome::Failed(reason),
        }
    }

    fn has_gradient(&self) -> bool {
        true
    }

    /// The chain rule through each row's prediction and σ (a σ output has its own
    /// sensitivities; a σ parameter its direct derivative).
    fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
        let params: Vec<f64> = self.index.iter().map(|&i| x[i]).collect();
        let p = params.len();
        let k = self.simulator.model().n_outputs();
        let n = self.simulator.times().len() * k;
        let mut out = vec![0.0; n];
        let mut sens = vec![0.0; n * p];
        if let Err(e) = self
            .simulator
            .solve_with_sensitivities(&params, &mut out, &mut sens)
        {
            return GradientOutcome::Failed(e.to_string());
        }
        let mut total = 0.0;
        let mut dout = vec![0.0; n];
        let mut gradient = vec![0.0; x.len()];
        for (m, row) in self.rows.iter().enumerate() {
            let at = row.time * k + row.output;
            let y = out[at];
            let sigma = row_sigma(row, x, &out, k);
            let (v, dy, ds) = row_nllh(row.scale, row.distribution, row.value, y, sigma);
            if !v.is_finite() {
                return GradientOutcome::Failed(undefined(m, row, y, sigma, &self.simulator));
            }
            total += v;
            dout[at] += dy;
            match row.sigma {
                RowSigma::Value(_) => {}
                RowSigma::Parameter(i) => gradient[i] += ds,
                RowSigma::Output(j) => dout[row.time * k + j] += ds,
            }
        }
        for (row, dc) in sens.chunks_exact(p.max(1)).zip(&dout) {
            if *dc != 0.0 {
                for (&i, s) in self.index.iter().zip(row) {
                    gradient[i] += dc * s;
                }
            }
        }
        GradientOutcome::from_parts(total, gradient)
    }
}
