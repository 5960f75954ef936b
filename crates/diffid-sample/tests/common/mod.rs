//! Problems with analytic evidence (those dynesty's own tests use), and a sequential driver.
#![allow(dead_code)]

use diffid_core::{Ask, AskTell, Outcome};
use diffid_sample::{DynamicNestedSampler, NestedResult, Prior};
use std::f64::consts::PI;
use std::time::Instant;

/// Runs `sampler` on `nll` under uniform priors on `[lo, hi]^d`, sequentially.
pub fn run(
    sampler: &DynamicNestedSampler,
    d: usize,
    lo: f64,
    hi: f64,
    nll: &dyn Fn(&[f64]) -> f64,
) -> NestedResult {
    let priors = vec![Prior::uniform(lo, hi).expect("valid"); d];
    let start = vec![0.5 * (lo + hi); d];
    let mut s = sampler.start(&start, &priors).expect("starts");
    let t = Instant::now();
    let termination = loop {
        match s.ask() {
            Ask::Evaluate(points) => {
                let o: Vec<Outcome> = points.iter().map(|x| Outcome::from_value(nll(x))).collect();
                s.tell(&o).expect("told");
            }
            Ask::EvaluateWithGradient(_) => unreachable!(),
            Ask::Done(t) => break t,
        }
    };
    NestedResult::of(&s, termination, t.elapsed())
}

/// 3-D Gaussian, correlation 0.95, mean linspace(−1, 1, 3); on U(−10, 10)³, ln Z = −3 ln 20.
pub fn correlated_3d(x: &[f64]) -> f64 {
    let rho = 0.95;
    let d = 3.0;
    let m = [-1.0, 0.0, 1.0];
    let r: Vec<f64> = x.iter().zip(m).map(|(a, b)| a - b).collect();
    // Σ = (1 − ρ) I + ρ 11ᵀ: Σ⁻¹ = (I − ρ/(1 + (d − 1)ρ) 11ᵀ)/(1 − ρ), det = (1 − ρ)^(d−1)(1 + (d − 1)ρ).
    let c = rho / (1.0 + (d - 1.0) * rho);
    let s: f64 = r.iter().sum();
    let q = (r.iter().map(|v| v * v).sum::<f64>() - c * s * s) / (1.0 - rho);
    let log_det = (d - 1.0) * (1.0 - rho).ln() + (1.0 + (d - 1.0) * rho).ln();
    0.5 * q + 0.5 * (d * (2.0 * PI).ln() + log_det)
}
pub const CORRELATED_3D_LOG_Z: f64 = -8.987_196_820_661_973; // −3 ln 20

/// A test problem: `(name, dimension, lower, upper, negative log-likelihood, ln Z)`.
pub type Problem = (&'static str, usize, f64, f64, fn(&[f64]) -> f64, f64);

/// Two Gaussian shells (radius 2, width 0.1, centres ±3.5 on the first axis).
pub fn shells(x: &[f64]) -> f64 {
    let (r, w) = (2.0, 0.1);
    let shell = |c: f64| {
        let dist = x
            .iter()
            .enumerate()
            .map(|(i, v)| if i == 0 { (v - c).powi(2) } else { v * v })
            .sum::<f64>()
            .sqrt();
        -((dist - r).powi(2)) / (2.0 * w * w) - 0.5 * (2.0 * PI * w * w).ln()
    };
    let (a, b) = (shell(-3.5), shell(3.5));
    let m = a.max(b);
    -(m + ((a - m).exp() + (b - m).exp()).ln())
}

/// The eggbox `(2 + cos(x/2) cos(y/2))⁵` on U(0, 10π)², ln Z = 235.856.
pub fn eggbox(x: &[f64]) -> f64 {
    -(2.0 + (x[0] / 2.0).cos() * (x[1] / 2.0).cos()).powi(5)
}

/// The `LogGamma` problem in 2-D on U(0, 1)²: the first coordinate a half–half mixture of log-gamma
/// densities (c = 1, scale 1/30) at 1/3 and 2/3, the second the same mixture of normals
/// (sd 1/30); ln Z = 0 (up to tails outside the cube, ~1e-4).
pub fn loggamma_2d(x: &[f64]) -> f64 {
    let s = 1.0 / 30.0;
    let lg = |v: f64, loc: f64| {
        let z = (v - loc) / s;
        z - z.exp() - s.ln() // ln of (1/s) exp(z − e^z) / Γ(1)
    };
    let ln = |v: f64, loc: f64| -0.5 * ((v - loc) / s).powi(2) - s.ln() - 0.5 * (2.0 * PI).ln();
    let mix = |a: f64, b: f64| {
        let m = a.max(b);
        m + ((a - m).exp() + (b - m).exp()).ln() + 0.5f64.ln()
    };
    -(mix(lg(x[0], 1.0 / 3.0), lg(x[0], 2.0 / 3.0)) + mix(ln(x[1], 1.0 / 3.0), ln(x[1], 2.0 / 3.0)))
}
