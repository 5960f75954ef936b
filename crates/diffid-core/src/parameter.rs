//! Named parameters with initial values and bounds.

use crate::{Bounds, CoreError};
use serde::{Deserialize, Serialize};

/// How a parameter is mapped between its natural units and the space an optimiser searches.
///
/// - `Identity` (the default): `z = x / s`, with `s` the parameter's natural scale
///   ([`Parameter::scale`]), so that step sizes are relative to each parameter's magnitude.
/// - `Log`: `z = ln x`, for positive parameters spanning orders of magnitude; steps are
///   multiplicative. Bounds `(lo, hi)` with `lo >= 0` become `(ln lo, ln hi)`.
/// - `Logit`: `z = ln((x − lo) / (hi − x))`, for parameters with finite bounds; the search
///   space is unbounded and never reaches the bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transform {
    /// Scaled by the natural scale.
    #[default]
    Identity,
    /// Natural logarithm (positive parameters).
    Log,
    /// Logit of the position within finite bounds.
    Logit,
}

impl Transform {
    /// The transform's name: `"identity"`, `"log"` or `"logit"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Log => "log",
            Self::Logit => "logit",
        }
    }
}

impl std::str::FromStr for Transform {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "identity" | "none" | "linear" => Ok(Self::Identity),
            "log" => Ok(Self::Log),
            "logit" => Ok(Self::Logit),
            _ => Err(CoreError::InvalidSetting {
                setting: "transform",
                value: s.to_owned(),
                requirement: "transform must be \"identity\", \"log\" or \"logit\"",
            }),
        }
    }
}

fn logistic(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// One fitted parameter: a name, a starting value, optional bounds and a transform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    name: String,
    initial: f64,
    bounds: Bounds,
    #[serde(default)]
    transform: Transform,
}

impl Parameter {
    /// A parameter named `name` starting at `initial`, optionally bounded.
    ///
    /// # Errors
    /// [`CoreError::InvalidBounds`] for bounds with `lower >= upper`;
    /// [`CoreError::InitialOutOfBounds`] for a start outside the bounds or not finite.
    pub fn new(
        name: impl Into<String>,
        initial: f64,
        bounds: Option<(f64, f64)>,
    ) -> Result<Self, CoreError> {
        let name = name.into();
        let bounds = match bounds {
            None => Bounds::unbounded(),
            Some((lower, upper)) => {
                Bounds::new(lower, upper).map_err(|_| CoreError::InvalidBounds {
                    name: name.clone(),
                    lower,
                    upper,
                })?
            }
        };
        if !initial.is_finite() || !bounds.contains(initial) {
            return Err(CoreError::InitialOutOfBounds {
                name,
                value: initial,
                lower: bounds.lower(),
                upper: bounds.upper(),
            });
        }
        Ok(Self {
            name,
            initial,
            bounds,
            transform: Transform::Identity,
        })
    }

    /// The same parameter searched through `transform`.
    ///
    /// A log transform needs a positive parameter: a missing lower bound becomes 0, a negative
    /// lower bound or a start `<= 0` is an error. A logit transform needs finite bounds and a
    /// start strictly inside them.
    ///
    /// # Errors
    /// [`CoreError::InvalidTransform`] naming the parameter and what does not fit.
    pub fn with_transform(mut self, transform: Transform) -> Result<Self, CoreError> {
        let err = |reason: String| CoreError::InvalidTransform {
            name: self.name.clone(),
            transform: transform.name(),
            reason,
        };
        let (lo, hi) = (self.bounds.lower(), self.bounds.upper());
        match transform {
            Transform::Identity => {}
            Transform::Log => {
                if lo.is_finite() && lo < 0.0 {
                    return Err(err(format!(
                        "its range [{lo}, {hi}] includes values <= 0, where the logarithm is undefined; use bounds with lower >= 0, or the logit transform"
                    )));
                }
                if self.initial <= 0.0 {
                    return Err(err(format!(
                        "its initial value {} is not > 0; the logarithm needs a positive start",
                        self.initial
                    )));
                }
                if lo == f64::NEG_INFINITY {
                    self.bounds = Bounds::new(0.0, hi).map_err(|_| {
                        err(format!(
                            "its upper bound {hi} leaves no positive values; use an upper bound > 0"
                        ))
                    })?;
                }
            }
            Transform::Logit => {
                if !self.bounds.is_finite() {
                    return Err(err(format!(
                        "its bounds [{lo}, {hi}] are not both finite; logit maps a finite interval onto the real line, so give bounds=(lower, upper)"
                    )));
                }
                if self.initial <= lo || self.initial >= hi {
                    return Err(err(format!(
                        "its initial value {} lies on a bound of [{lo}, {hi}], which logit maps to infinity; start strictly inside",
                        self.initial
                    )));
                }
            }
        }
        self.transform = transform;
        Ok(self)
    }

    /// The transform.
    pub fn transform(&self) -> Transform {
        self.transform
    }

    /// Natural units → search space (see [`Transform`]).
    pub fn to_search(&self, x: f64) -> f64 {
        match self.transform {
            Transform::Identity => x / self.scale(),
            Transform::Log => x.ln(),
            Transform::Logit => {
                let (lo, hi) = (self.bounds.lower(), self.bounds.upper());
                ((x - lo) / (hi - x)).ln()
            }
        }
    }

    /// Search space → natural units (the inverse of [`to_search`](Self::to_search)); the
    /// result always lies within the bounds.
    pub fn to_natural(&self, z: f64) -> f64 {
        let x = match self.transform {
            Transform::Identity => z * self.scale(),
            Transform::Log => z.exp(),
            Transform::Logit => {
                let (lo, hi) = (self.bounds.lower(), self.bounds.upper());
                lo + (hi - lo) * logistic(z)
            }
        };
        if x.is_nan() {
            x
        } else {
            x.clamp(self.bounds.lower(), self.bounds.upper())
        }
    }

    /// `dx/dz` at search coordinate `z`, for the chain rule of gradients.
    pub fn natural_derivative(&self, z: f64) -> f64 {
        match self.transform {
            Transform::Identity => self.scale(),
            Transform::Log => z.exp(),
            Transform::Logit => {
                let p = logistic(z);
                (self.bounds.upper() - self.bounds.lower()) * p * (1.0 - p)
            }
        }
    }

    /// The bounds in the search space.
    pub fn search_bounds(&self) -> Bounds {
        let b = self.bounds;
        let mapped = match self.transform {
            Transform::Identity if b.is_unbounded() => return b,
            Transform::Identity => Bounds::new(b.lower() / self.scale(), b.upper() / self.scale()),
            Transform::Log => Bounds::new(
                if b.lower() > 0.0 {
                    b.lower().ln()
                } else {
                    f64::NEG_INFINITY
                },
                b.upper().ln(),
            ),
            Transform::Logit => return Bounds::unbounded(),
        };
        // The maps are increasing, so the interval stays valid; fall back to the real line.
        mapped.unwrap_or_default()
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The starting value.
    pub fn initial(&self) -> f64 {
        self.initial
    }

    /// The bounds (unbounded when none were given).
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// The parameter's natural scale, used to make a search well conditioned when parameters
    /// differ in magnitude: the width of finite bounds, else the magnitude of the start, else 1.
    pub fn scale(&self) -> f64 {
        if self.bounds.is_finite() {
            self.bounds.width()
        } else if self.initial != 0.0 {
            self.initial.abs()
        } else {
            1.0
        }
    }
}

impl std::fmt::Display for Parameter {
    /// `name=initial`, then ` in [lower, upper]` when bounded and ` (transform)` when not the
    /// identity.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.initial)?;
        if !self.bounds.is_unbounded() {
            write!(f, " in [{}, {}]", self.bounds.lower(), self.bounds.upper())?;
        }
        if self.transform != Transform::Identity {
            write!(f, " ({})", self.transform.name())?;
        }
        Ok(())
    }
}

/// An ordered set of uniquely named parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    items: Vec<Parameter>,
}

impl Parameters {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `p` at the end.
    ///
    /// # Errors
    /// [`CoreError::DuplicateParameter`] when a parameter of that name is already present.
    pub fn push(&mut self, p: Parameter) -> Result<(), CoreError> {
        if self.items.iter().any(|q| q.name == p.name) {
            return Err(CoreError::DuplicateParameter { name: p.name });
        }
        self.items.push(p);
        Ok(())
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = &Parameter> {
        self.items.iter()
    }

    /// Their names in order.
    pub fn names(&self) -> Vec<String> {
        self.items.iter().map(|p| p.name.clone()).collect()
    }

    /// Their starting values in order.
    pub fn initial(&self) -> Vec<f64> {
        self.items.iter().map(|p| p.initial).collect()
    }

    /// Their bounds in order.
    pub fn bounds(&self) -> Vec<Bounds> {
        self.items.iter().map(|p| p.bounds).collect()
    }

    /// Their transforms in order.
    pub fn transforms(&self) -> Vec<Transform> {
        self.items.iter().map(|p| p.transform).collect()
    }

    /// Their natural scales in order (see [`Parameter::scale`]).
    pub fn scales(&self) -> Vec<f64> {
        self.items.iter().map(Parameter::scale).collect()
    }

    /// Checks that `x` has one finite value per parameter, inside the bounds.
    ///
    /// # Errors
    /// [`CoreError::DimensionMismatch`] or [`CoreError::InitialOutOfBounds`].
    pub fn check_point(&self, x: &[f64], what: &'static str) -> Result<(), CoreError> {
        if x.len() != self.items.len() {
            return Err(CoreError::DimensionMismatch {
                what,
                expected: self.items.len(),
                got: x.len(),
            });
        }
        for (p, &v) in self.items.iter().zip(x) {
            if !v.is_finite() || !p.bounds.contains(v) {
                return Err(CoreError::InitialOutOfBounds {
                    name: p.name.clone(),
                    value: v,
                    lower: p.bounds.lower(),
                    upper: p.bounds.upper(),
                });
            }
        }
        Ok(())
    }

    /// Checks that `x` (a point of `what`, not a start) has one finite value per parameter,
    /// inside the bounds and where every transform is finite.
    ///
    /// # Errors
    /// [`CoreError::DimensionMismatch`] or [`CoreError::OutOfBounds`] naming the parameter.
    pub fn check_inside(&self, x: &[f64], what: &'static str) -> Result<(), CoreError> {
        if x.len() != self.items.len() {
            return Err(CoreError::DimensionMismatch {
                what,
                expected: self.items.len(),
                got: x.len(),
            });
        }
        for (p, &v) in self.items.iter().zip(x) {
            if !v.is_finite() || !p.bounds.contains(v) || !p.to_search(v).is_finite() {
                return Err(CoreError::OutOfBounds {
                    what,
                    name: p.name.clone(),
                    value: v,
                    lower: p.bounds.lower(),
                    upper: p.bounds.upper(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_names_are_rejected_by_name() {
        let mut ps = Parameters::new();
        ps.push(Parameter::new("a", 1.0, None).unwrap()).unwrap();
        let err = ps
            .push(Parameter::new("a", 2.0, None).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("'a'"), "{err}");
    }

    #[test]
    fn initial_outside_bounds_names_the_parameter() {
        let err = Parameter::new("k", 5.0, Some((0.0, 1.0))).unwrap_err();
        assert!(matches!(err, CoreError::InitialOutOfBounds { ref name, .. } if name == "k"));
        let err = Parameter::new("k", 0.5, Some((1.0, 0.0))).unwrap_err();
        assert!(err.to_string().contains("'k'"), "{err}");
    }

    #[test]
    fn scale_prefers_bounds_then_magnitude() {
        assert_eq!(
            Parameter::new("a", 0.5, Some((0.0, 4.0))).unwrap().scale(),
            4.0
        );
        assert_eq!(Parameter::new("a", -0.05, None).unwrap().scale(), 0.05);
        assert_eq!(Parameter::new("a", 0.0, None).unwrap().scale(), 1.0);
    }

    #[test]
    fn transforms_round_trip_and_differentiate() {
        let params = [
            Parameter::new("a", 0.3, Some((0.0, 4.0))).unwrap(),
            Parameter::new("b", 0.05, None)
                .unwrap()
                .with_transform(Transform::Log)
                .unwrap(),
            Parameter::new("c", 2.5, Some((1.0, 3.0)))
                .unwrap()
                .with_transform(Transform::Logit)
                .unwrap(),
        ];
        for p in &params {
            let x = p.initial();
            let z = p.to_search(x);
            assert!(
                (p.to_natural(z) - x).abs() < 1e-12 * (1.0 + x.abs()),
                "{}",
                p.name()
            );
            let h = 1e-6;
            let fd = (p.to_natural(z + h) - p.to_natural(z - h)) / (2.0 * h);
            assert!((fd - p.natural_derivative(z)).abs() < 1e-6, "{}", p.name());
            assert!(p.search_bounds().contains(z));
        }
        assert_eq!(params[1].bounds().lower(), 0.0);
        assert!(params[2].search_bounds().is_unbounded());
        // Logit never leaves the box, even far out.
        assert!(params[2].to_natural(1e3) <= 3.0 && params[2].to_natural(-1e3) >= 1.0);
    }

    #[test]
    fn transforms_that_do_not_fit_are_rejected_by_name() {
        let neg = Parameter::new("k", 0.5, Some((-1.0, 1.0))).unwrap();
        let err = neg.with_transform(Transform::Log).unwrap_err();
        assert!(
            matches!(err, CoreError::InvalidTransform { ref name, transform: "log", .. } if name == "k"),
            "{err}"
        );
        let zero = Parameter::new("k", 0.0, None).unwrap();
        assert!(zero.with_transform(Transform::Log).is_err());
        let open = Parameter::new("k", 0.5, Some((0.0, f64::INFINITY))).unwrap();
        let err = open.with_transform(Transform::Logit).unwrap_err();
        assert!(err.to_string().contains("finite"), "{err}");
        let edge = Parameter::new("k", 0.0, Some((0.0, 1.0))).unwrap();
        assert!(edge.with_transform(Transform::Logit).is_err());
        assert!("cube".parse::<Transform>().is_err());
        assert_eq!("LOG".parse::<Transform>().unwrap(), Transform::Log);
    }

    #[test]
    fn check_point_reports_length_and_bounds() {
        let mut ps = Parameters::new();
        ps.push(Parameter::new("a", 0.5, Some((0.0, 1.0))).unwrap())
            .unwrap();
        assert!(matches!(
            ps.check_point(&[0.5, 1.0], "initial vector"),
            Err(CoreError::DimensionMismatch {
                expected: 1,
                got: 2,
                ..
            })
        ));
        assert!(ps.check_point(&[2.0], "initial vector").is_err());
        assert!(ps.check_point(&[0.25], "initial vector").is_ok());
    }
}
