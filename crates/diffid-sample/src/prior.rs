//! Priors: a proper distribution per parameter, optionally truncated to the parameter's bounds.
//!
//! Log-densities and quantile functions come from `statrs`. The MCMC samplers use the
//! log-density (a proposal where it is `-inf` is rejected without evaluating the model); the
//! nested sampler maps the unit cube through the quantiles.

use crate::SampleError;
use serde::{Deserialize, Serialize};
use statrs::distribution::{
    Beta, Continuous, ContinuousCDF, Gamma, Laplace, LogNormal, Normal, Uniform,
};
use std::fmt;

/// A prior distribution family with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Distribution {
    /// Uniform on `[lower, upper]`.
    Uniform {
        /// Lower end (finite).
        lower: f64,
        /// Upper end (finite, above `lower`).
        upper: f64,
    },
    /// Normal with mean `mean` and standard deviation `sd`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (> 0).
        sd: f64,
    },
    /// Log-normal: `ln x` is normal with mean `mu` and standard deviation `sigma`.
    LogNormal {
        /// Mean of `ln x`.
        mu: f64,
        /// Standard deviation of `ln x` (> 0).
        sigma: f64,
    },
    /// Half-normal on `[0, ∞)`: `|y|` for `y` normal with mean 0 and standard deviation `sd`.
    HalfNormal {
        /// Standard deviation of the underlying normal (> 0).
        sd: f64,
    },
    /// Gamma with shape `shape` and rate `rate` (mean `shape / rate`).
    Gamma {
        /// Shape (> 0).
        shape: f64,
        /// Rate (> 0), the inverse of the scale.
        rate: f64,
    },
    /// Beta on `[0, 1]` with shapes `alpha` and `beta`.
    Beta {
        /// First shape (> 0).
        alpha: f64,
        /// Second shape (> 0).
        beta: f64,
    },
    /// Laplace (double exponential) with location `location` and scale `scale`: density
    /// `exp(−|x − location| / scale) / (2 scale)`.
    Laplace {
        /// Location (the median).
        location: f64,
        /// Scale (> 0).
        scale: f64,
    },
    /// Log-Laplace: `ln x` is Laplace with location `mu` and scale `scale`.
    LogLaplace {
        /// Location of `ln x`.
        mu: f64,
        /// Scale of `ln x` (> 0).
        scale: f64,
    },
    /// Log-uniform (reciprocal) on `[lower, upper]`: `ln x` is uniform on
    /// `[ln lower, ln upper]`, the same mass in every decade.
    LogUniform {
        /// Lower end (finite, > 0).
        lower: f64,
        /// Upper end (finite, above `lower`).
        upper: f64,
    },
}

impl Distribution {
    /// The family's name (`"uniform"`, `"normal"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Uniform { .. } => "uniform",
            Self::Normal { .. } => "normal",
            Self::LogNormal { .. } => "lognormal",
            Self::HalfNormal { .. } => "halfnormal",
            Self::Gamma { .. } => "gamma",
            Self::Beta { .. } => "beta",
            Self::Laplace { .. } => "laplace",
            Self::LogLaplace { .. } => "loglaplace",
            Self::LogUniform { .. } => "loguniform",
        }
    }

    /// The support of the untruncated distribution.
    fn support(&self) -> (f64, f64) {
        match *self {
            Self::Uniform { lower, upper } | Self::LogUniform { lower, upper } => (lower, upper),
            Self::Normal { .. } | Self::Laplace { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Self::LogNormal { .. }
            | Self::HalfNormal { .. }
            | Self::Gamma { .. }
            | Self::LogLaplace { .. } => (0.0, f64::INFINITY),
            Self::Beta { .. } => (0.0, 1.0),
        }
    }

    fn check(&self) -> Result<Kernel, SampleError> {
        let bad = |parameter: &'static str, value: f64, requirement: &'static str| {
            SampleError::InvalidPrior {
                distribution: self.name(),
                parameter,
                value,
                requirement,
            }
        };
        let positive = |parameter, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(bad(parameter, value, "must be finite and > 0"))
            }
        };
        let finite = |parameter, value: f64| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(bad(parameter, value, "must be finite"))
            }
        };
        // statrs rejects the same values; the checks above name the parameter first.
        let kernel = match *self {
            Self::Uniform { lower, upper } => {
                finite("lower", lower)?;
                finite("upper", upper)?;
                if lower >= upper {
                    return Err(bad("upper", upper, "must be above the lower end"));
                }
                Uniform::new(lower, upper).map(Kernel::Uniform).ok()
            }
            Self::Normal { mean, sd } => {
                finite("mean", mean)?;
                positive("sd", sd)?;
                Normal::new(mean, sd).map(Kernel::Normal).ok()
            }
            Self::LogNormal { mu, sigma } => {
                finite("mu", mu)?;
                positive("sigma", sigma)?;
                LogNormal::new(mu, sigma).map(Kernel::LogNormal).ok()
            }
            Self::HalfNormal { sd } => {
                positive("sd", sd)?;
                Normal::new(0.0, sd).map(Kernel::HalfNormal).ok()
            }
            Self::Gamma { shape, rate } => {
                positive("shape", shape)?;
                positive("rate", rate)?;
                Gamma::new(shape, rate).map(Kernel::Gamma).ok()
            }
            Self::Beta { alpha, beta } => {
                positive("alpha", alpha)?;
                positive("beta", beta)?;
                Beta::new(alpha, beta).map(Kernel::Beta).ok()
            }
            Self::Laplace { location, scale } => {
                finite("location", location)?;
                positive("scale", scale)?;
                Laplace::new(location, scale).map(Kernel::Laplace).ok()
            }
            Self::LogLaplace { mu, scale } => {
                finite("mu", mu)?;
                positive("scale", scale)?;
                Laplace::new(mu, scale).map(Kernel::LogLaplace).ok()
            }
            Self::LogUniform { lower, upper } => {
                positive("lower", lower)?;
                positive("upper", upper)?;
                if lower >= upper {
                    return Err(bad("upper", upper, "must be above the lower end"));
                }
                Uniform::new(lower.ln(), upper.ln())
                    .map(Kernel::LogUniform)
                    .ok()
            }
        };
        kernel.ok_or(SampleError::InvalidPrior {
            distribution: self.name(),
            parameter: "parameters",
            value: f64::NAN,
            requirement: "were refused by statrs",
        })
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uniform { lower, upper } => write!(f, "Uniform({lower}, {upper})"),
            Self::Normal { mean, sd } => write!(f, "Normal({mean}, {sd})"),
            Self::LogNormal { mu, sigma } => write!(f, "LogNormal({mu}, {sigma})"),
            Self::HalfNormal { sd } => write!(f, "HalfNormal({sd})"),
            Self::Gamma { shape, rate } => write!(f, "Gamma({shape}, {rate})"),
            Self::Beta { alpha, beta } => write!(f, "Beta({alpha}, {beta})"),
            Self::Laplace { location, scale } => write!(f, "Laplace({location}, {scale})"),
            Self::LogLaplace { mu, scale } => write!(f, "LogLaplace({mu}, {scale})"),
            Self::LogUniform { lower, upper } => write!(f, "LogUniform({lower}, {upper})"),
        }
    }
}

/// The statrs distribution behind a [`Distribution`].
#[derive(Clone, Debug)]
enum Kernel {
    Uniform(Uniform),
    Normal(Normal),
    LogNormal(LogNormal),
    /// The normal whose absolute value is half-normal.
    HalfNormal(Normal),
    Gamma(Gamma),
    Beta(Beta),
    Laplace(Laplace),
    /// The Laplace of `ln x`.
    LogLaplace(Laplace),
    /// The uniform of `ln x`.
    LogUniform(Uniform),
}

impl Kernel {
    fn ln_pdf(&self, x: f64) -> f64 {
        match self {
            Self::Uniform(d) => d.ln_pdf(x),
            Self::Normal(d) => d.ln_pdf(x),
            Self::LogNormal(d) => d.ln_pdf(x),
            Self::HalfNormal(d) => {
                if x < 0.0 {
                    f64::NEG_INFINITY
                } else {
                    std::f64::consts::LN_2 + d.ln_pdf(x)
                }
            }
            Self::Gamma(d) => d.ln_pdf(x),
            Self::Beta(d) => d.ln_pdf(x),
            Self::Laplace(d) => d.ln_pdf(x),
            // The density of ln x times its Jacobian 1/x.
            Self::LogLaplace(d) => of_log(x, f64::NEG_INFINITY, |l| d.ln_pdf(l) - l),
            Self::LogUniform(d) => of_log(x, f64::NEG_INFINITY, |l| d.ln_pdf(l) - l),
        }
    }

    fn cdf(&self, x: f64) -> f64 {
        match self {
            Self::Uniform(d) => d.cdf(x),
            Self::Normal(d) => d.cdf(x),
            Self::LogNormal(d) => d.cdf(x),
            Self::HalfNormal(d) => {
                if x <= 0.0 {
                    0.0
                } else {
                    2.0 * d.cdf(x) - 1.0
                }
            }
            Self::Gamma(d) => d.cdf(x),
            Self::Beta(d) => d.cdf(x),
            Self::Laplace(d) => d.cdf(x),
            Self::LogLaplace(d) => of_log(x, 0.0, |l| d.cdf(l)),
            Self::LogUniform(d) => of_log(x, 0.0, |l| d.cdf(l)),
        }
    }

    fn inverse_cdf(&self, p: f64) -> f64 {
        match self {
            Self::Uniform(d) => d.inverse_cdf(p),
            Self::Normal(d) => d.inverse_cdf(p),
            Self::LogNormal(d) => d.inverse_cdf(p),
            Self::HalfNormal(d) => d.inverse_cdf(0.5 + 0.5 * p),
            Self::Gamma(d) => d.inverse_cdf(p),
            Self::Beta(d) => d.inverse_cdf(p),
            Self::Laplace(d) => laplace_quantile(d, p),
            Self::LogLaplace(d) => laplace_quantile(d, p).exp(),
            Self::LogUniform(d) => d.inverse_cdf(p).exp(),
        }
    }
}

/// `f(ln x)` for `x > 0`, else `outside` (the value below a log-distribution's support).
fn of_log(x: f64, outside: f64, f: impl Fn(f64) -> f64) -> f64 {
    if x > 0.0 {
        f(x.ln())
    } else {
        outside
    }
}

/// The Laplace quantile in closed form (statrs' is a numerical search): `μ − b sgn(p − ½)
/// ln(1 − 2|p − ½|)`.
fn laplace_quantile(d: &Laplace, p: f64) -> f64 {
    let q = p - 0.5;
    d.location() - d.scale() * q.signum() * (-2.0 * q.abs()).ln_1p()
}

/// A prior for one parameter: a [`Distribution`], truncated to `[lower, upper]` when the
/// parameter has bounds.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "SavedPrior", into = "SavedPrior")]
pub struct Prior {
    distribution: Distribution,
    kernel: Kernel,
    lower: f64,
    upper: f64,
    /// `F(lower)` and `F(upper)` of the untruncated distribution.
    cdf_lower: f64,
    cdf_upper: f64,
    /// `ln(F(upper) − F(lower))`, the log of the mass kept by the truncation.
    log_mass: f64,
}

impl PartialEq for Prior {
    fn eq(&self, other: &Self) -> bool {
        self.distribution == other.distribution
            && self.lower.to_bits() == other.lower.to_bits()
            && self.upper.to_bits() == other.upper.to_bits()
    }
}

/// A [`Prior`] as saved: every number as it was, the statrs kernel rebuilt on loading.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedPrior {
    distribution: Distribution,
    lower: f64,
    upper: f64,
    cdf_lower: f64,
    cdf_upper: f64,
    log_mass: f64,
}

impl From<Prior> for SavedPrior {
    fn from(p: Prior) -> Self {
        Self {
            distribution: p.distribution,
            lower: p.lower,
            upper: p.upper,
            cdf_lower: p.cdf_lower,
            cdf_upper: p.cdf_upper,
            log_mass: p.log_mass,
        }
    }
}

impl TryFrom<SavedPrior> for Prior {
    type Error = SampleError;

    fn try_from(s: SavedPrior) -> Result<Self, SampleError> {
        Ok(Self {
            kernel: s.distribution.check()?,
            distribution: s.distribution,
            lower: s.lower,
            upper: s.upper,
            cdf_lower: s.cdf_lower,
            cdf_upper: s.cdf_upper,
            log_mass: s.log_mass,
        })
    }
}

impl Prior {
    /// The untruncated prior `distribution`.
    ///
    /// # Errors
    /// [`SampleError::InvalidPrior`] naming the distribution's invalid parameter (a standard
    /// deviation ≤ 0, a uniform with `lower ≥ upper`, ...).
    pub fn new(distribution: Distribution) -> Result<Self, SampleError> {
        let kernel = distribution.check()?;
        let (lower, upper) = distribution.support();
        Ok(Self {
            distribution,
            kernel,
            lower,
            upper,
            cdf_lower: 0.0,
            cdf_upper: 1.0,
            log_mass: 0.0,
        })
    }

    /// A uniform prior on `[lower, upper]`: what bounds alone mean.
    ///
    /// # Errors
    /// [`SampleError::InvalidPrior`] unless both ends are finite and `lower < upper`.
    pub fn uniform(lower: f64, upper: f64) -> Result<Self, SampleError> {
        Self::new(Distribution::Uniform { lower, upper })
    }

    /// The same prior truncated to `[lower, upper]` (intersected with its support) and
    /// renormalised. Infinite ends leave that side as it is.
    ///
    /// # Errors
    /// [`SampleError::EmptyTruncation`] when the interval holds no prior mass.
    pub fn truncated(mut self, lower: f64, upper: f64) -> Result<Self, SampleError> {
        let lo = lower.max(self.lower);
        let hi = upper.min(self.upper);
        let empty = || SampleError::EmptyTruncation {
            distribution: self.distribution.to_string(),
            lower,
            upper,
        };
        if lo.is_nan() || hi.is_nan() || lo >= hi {
            return Err(empty());
        }
        let cdf_lower = if lo == f64::NEG_INFINITY {
            0.0
        } else {
            self.kernel.cdf(lo)
        };
        let cdf_upper = if hi == f64::INFINITY {
            1.0
        } else {
            self.kernel.cdf(hi)
        };
        let mass = cdf_upper - cdf_lower;
        if mass.is_nan() || mass <= 0.0 {
            return Err(empty());
        }
        self.lower = lo;
        self.upper = hi;
        self.cdf_lower = cdf_lower;
        self.cdf_upper = cdf_upper;
        self.log_mass = mass.ln();
        Ok(self)
    }

    /// The distribution family and its parameters.
    pub fn distribution(&self) -> Distribution {
        self.distribution
    }

    /// The support `(lower, upper)` after truncation.
    pub fn support(&self) -> (f64, f64) {
        (self.lower, self.upper)
    }

    /// Whether `x` lies in the support (where the density may be positive).
    pub fn contains(&self, x: f64) -> bool {
        x >= self.lower && x <= self.upper
    }

    /// The log-density at `x`, normalised (truncation included); `-inf` outside the support.
    pub fn log_density(&self, x: f64) -> f64 {
        if x.is_nan() || !self.contains(x) {
            return f64::NEG_INFINITY;
        }
        self.kernel.ln_pdf(x) - self.log_mass
    }

    /// The cumulative distribution function of the (truncated) prior.
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= self.lower {
            return 0.0;
        }
        if x >= self.upper {
            return 1.0;
        }
        ((self.kernel.cdf(x) - self.cdf_lower) / (self.cdf_upper - self.cdf_lower)).clamp(0.0, 1.0)
    }

    /// The quantile function of the (truncated) prior: maps `u ∈ [0, 1]` to the point below
    /// which the prior holds mass `u`. This is how the unit cube maps onto the prior.
    pub fn quantile(&self, u: f64) -> f64 {
        let p = self.cdf_lower + u.clamp(0.0, 1.0) * (self.cdf_upper - self.cdf_lower);
        let x = self.kernel.inverse_cdf(p);
        if x.is_nan() {
            x
        } else {
            x.clamp(self.lower, self.upper)
        }
    }

    /// A typical spread of the prior: half the distance between its 15.87 % and 84.13 %
    /// quantiles (one standard deviation for a normal). Used to size initial proposals.
    pub fn scale(&self) -> f64 {
        0.5 * (self.quantile(0.841_344_746) - self.quantile(0.158_655_254))
    }
}

impl fmt::Display for Prior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lo, hi) = self.distribution.support();
        if self.lower.to_bits() == lo.to_bits() && self.upper.to_bits() == hi.to_bits() {
            write!(f, "{}", self.distribution)
        } else {
            write!(
                f,
                "{} truncated to [{}, {}]",
                self.distribution, self.lower, self.upper
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    fn all() -> Vec<Prior> {
        [
            Distribution::Uniform {
                lower: -1.0,
                upper: 3.0,
            },
            Distribution::Normal { mean: 1.0, sd: 2.0 },
            Distribution::LogNormal {
                mu: 0.5,
                sigma: 0.7,
            },
            Distribution::HalfNormal { sd: 1.5 },
            Distribution::Gamma {
                shape: 2.5,
                rate: 1.5,
            },
            Distribution::Beta {
                alpha: 2.0,
                beta: 5.0,
            },
            Distribution::Laplace {
                location: 0.5,
                scale: 0.8,
            },
            Distribution::LogLaplace {
                mu: -0.3,
                scale: 0.6,
            },
            Distribution::LogUniform {
                lower: 0.01,
                upper: 2.0,
            },
        ]
        .into_iter()
        .map(|d| Prior::new(d).expect("valid"))
        .collect()
    }

    /// ∫ `exp(log_density)` over the support by the trapezoid rule on the quantile grid.
    fn mass(p: &Prior) -> f64 {
        let n = 20_000;
        let xs: Vec<f64> = (0..=n)
            .map(|i| p.quantile((f64::from(i) + 0.5) / (f64::from(n) + 1.0)))
            .collect();
        xs.windows(2)
            .map(|w| 0.5 * (w[1] - w[0]) * (p.log_density(w[0]).exp() + p.log_density(w[1]).exp()))
            .sum()
    }

    #[test]
    fn quantile_inverts_the_cdf_for_every_family_truncated_or_not() {
        for p in all() {
            let t = p.clone().truncated(0.2, 0.9).expect("mass in [0.2, 0.9]");
            for prior in [p, t] {
                for u in [0.01, 0.2, 0.5, 0.77, 0.99] {
                    let x = prior.quantile(u);
                    assert!(prior.contains(x), "{prior}: {x}");
                    assert!(close(prior.cdf(x), u, 1e-8), "{prior}: cdf({x}) vs {u}");
                }
            }
        }
    }

    #[test]
    fn densities_are_normalised_also_when_truncated() {
        for p in all() {
            let t = p.clone().truncated(0.2, 0.9).expect("mass");
            // The central 1 - 2/(n+1) of the mass is integrated.
            assert!(close(mass(&t), 1.0, 2e-3), "{t}: {}", mass(&t));
        }
    }

    #[test]
    fn half_normal_is_twice_the_normal_on_the_positive_axis() {
        let h = Prior::new(Distribution::HalfNormal { sd: 2.0 }).expect("valid");
        let n = Prior::new(Distribution::Normal { mean: 0.0, sd: 2.0 }).expect("valid");
        assert!(close(
            h.log_density(1.3),
            n.log_density(1.3) + std::f64::consts::LN_2,
            1e-14
        ));
        assert_eq!(h.log_density(-0.1), f64::NEG_INFINITY);
        assert!(close(h.quantile(0.5), n.quantile(0.75), 1e-12));
    }

    #[test]
    fn log_families_are_their_linear_families_of_ln_x() {
        // The density of x is the density of ln x over x; the cdfs agree at ln x.
        let pairs = [
            (
                Distribution::LogLaplace {
                    mu: 0.4,
                    scale: 0.3,
                },
                Distribution::Laplace {
                    location: 0.4,
                    scale: 0.3,
                },
            ),
            (
                Distribution::LogUniform {
                    lower: 0.1,
                    upper: 10.0,
                },
                Distribution::Uniform {
                    lower: 0.1_f64.ln(),
                    upper: 10.0_f64.ln(),
                },
            ),
        ];
        for (log, lin) in pairs {
            let (log, lin) = (
                Prior::new(log).expect("valid"),
                Prior::new(lin).expect("valid"),
            );
            for x in [0.2, 1.0, 1.7, 6.0] {
                let l = f64::ln(x);
                assert!(
                    close(log.log_density(x), lin.log_density(l) - l, 1e-12),
                    "{log}"
                );
                assert!(close(log.cdf(x), lin.cdf(l), 1e-12), "{log}");
            }
            assert_eq!(log.log_density(-1.0), f64::NEG_INFINITY);
            assert_eq!(log.cdf(-1.0), 0.0);
        }
        // Log-uniform: one decade holds the same mass as any other.
        let r = Prior::new(Distribution::LogUniform {
            lower: 1e-3,
            upper: 1e3,
        })
        .expect("valid");
        assert!(close(r.cdf(1e-2) - r.cdf(1e-3), 1.0 / 6.0, 1e-12));
        assert!(close(r.cdf(1e3) - r.cdf(1e2), 1.0 / 6.0, 1e-12));
    }

    #[test]
    fn laplace_matches_its_closed_form() {
        let p = Prior::new(Distribution::Laplace {
            location: 1.0,
            scale: 2.0,
        })
        .expect("valid");
        for x in [-3.0, 0.0, 1.0, 2.5] {
            let want = -(f64::abs(x - 1.0)) / 2.0 - f64::ln(4.0);
            assert!(close(p.log_density(x), want, 1e-14), "{x}");
        }
        // The quartiles sit at location ± scale · ln 2.
        assert!(close(
            p.quantile(0.25),
            1.0 - 2.0 * std::f64::consts::LN_2,
            1e-14
        ));
        assert!(close(
            p.quantile(0.75),
            1.0 + 2.0 * std::f64::consts::LN_2,
            1e-14
        ));
        assert!(close(p.quantile(0.5), 1.0, 1e-14));
    }

    #[test]
    fn normal_scale_is_its_standard_deviation() {
        let n = Prior::new(Distribution::Normal { mean: 3.0, sd: 0.4 }).expect("valid");
        assert!(close(n.scale(), 0.4, 1e-6));
    }

    #[test]
    fn invalid_parameters_name_the_distribution_and_parameter() {
        let cases = [
            (Distribution::Normal { mean: 0.0, sd: 0.0 }, "sd"),
            (
                Distribution::Normal {
                    mean: 0.0,
                    sd: -1.0,
                },
                "sd",
            ),
            (
                Distribution::Uniform {
                    lower: 2.0,
                    upper: 1.0,
                },
                "upper",
            ),
            (
                Distribution::Uniform {
                    lower: f64::NEG_INFINITY,
                    upper: 1.0,
                },
                "lower",
            ),
            (
                Distribution::Gamma {
                    shape: 0.0,
                    rate: 1.0,
                },
                "shape",
            ),
            (
                Distribution::Beta {
                    alpha: 1.0,
                    beta: f64::NAN,
                },
                "beta",
            ),
            (
                Distribution::LogNormal {
                    mu: 0.0,
                    sigma: -2.0,
                },
                "sigma",
            ),
            (Distribution::HalfNormal { sd: 0.0 }, "sd"),
            (
                Distribution::Laplace {
                    location: 0.0,
                    scale: 0.0,
                },
                "scale",
            ),
            (
                Distribution::LogLaplace {
                    mu: f64::INFINITY,
                    scale: 1.0,
                },
                "mu",
            ),
            (
                Distribution::LogUniform {
                    lower: 0.0,
                    upper: 1.0,
                },
                "lower",
            ),
            (
                Distribution::LogUniform {
                    lower: 2.0,
                    upper: 1.0,
                },
                "upper",
            ),
        ];
        for (d, param) in cases {
            let err = Prior::new(d).expect_err("invalid");
            let msg = err.to_string();
            assert!(
                msg.contains(d.name()) && msg.contains(param),
                "{d:?}: {msg}"
            );
        }
    }

    #[test]
    fn truncation_outside_the_support_is_an_error() {
        let g = Prior::new(Distribution::Gamma {
            shape: 2.0,
            rate: 1.0,
        })
        .expect("valid");
        let err = g.truncated(-5.0, -1.0).expect_err("no mass");
        assert!(matches!(err, SampleError::EmptyTruncation { .. }), "{err}");
    }
}
