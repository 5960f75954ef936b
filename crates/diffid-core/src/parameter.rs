//! Named parameters with initial values and bounds.

use crate::{Bounds, CoreError};
use serde::{Deserialize, Serialize};

/// One fitted parameter: a name, a starting value and optional bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    name: String,
    initial: f64,
    bounds: Bounds,
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
        })
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
