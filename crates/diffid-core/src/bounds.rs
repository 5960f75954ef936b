//! Box bounds on one parameter.

use crate::CoreError;
use serde::{Deserialize, Serialize};

/// A closed interval `[lower, upper]` for one parameter; either end may be infinite.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    lower: f64,
    upper: f64,
}

impl Bounds {
    /// Bounds `[lower, upper]`.
    ///
    /// # Errors
    /// [`CoreError::InvalidBounds`] when either end is NaN or `lower >= upper`.
    pub fn new(lower: f64, upper: f64) -> Result<Self, CoreError> {
        if lower.is_nan() || upper.is_nan() || lower >= upper {
            return Err(CoreError::InvalidBounds {
                name: String::new(),
                lower,
                upper,
            });
        }
        Ok(Self { lower, upper })
    }

    /// The whole real line.
    pub const fn unbounded() -> Self {
        Self {
            lower: f64::NEG_INFINITY,
            upper: f64::INFINITY,
        }
    }

    /// The lower end.
    pub fn lower(&self) -> f64 {
        self.lower
    }

    /// The upper end.
    pub fn upper(&self) -> f64 {
        self.upper
    }

    /// Whether both ends are finite.
    pub fn is_finite(&self) -> bool {
        self.lower.is_finite() && self.upper.is_finite()
    }

    /// Whether neither end is finite.
    pub fn is_unbounded(&self) -> bool {
        self.lower == f64::NEG_INFINITY && self.upper == f64::INFINITY
    }

    /// Whether `x` lies in the closed interval.
    pub fn contains(&self, x: f64) -> bool {
        x >= self.lower && x <= self.upper
    }

    /// `upper - lower` (infinite when either end is).
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }

    /// Folds `x` back into the interval by mirroring it at the ends (no mass piles up on a
    /// bound, unlike clamping). A non-finite `x` goes to the centre of a finite interval.
    pub fn reflect(&self, x: f64) -> f64 {
        if self.contains(x) {
            return x;
        }
        if !x.is_finite() {
            return if self.is_finite() {
                0.5 * (self.lower + self.upper)
            } else if x > 0.0 {
                self.upper
            } else {
                self.lower
            };
        }
        if !self.is_finite() {
            // One-sided: mirror once.
            return if x < self.lower {
                2.0 * self.lower - x
            } else {
                2.0 * self.upper - x
            };
        }
        let w = self.width();
        let period = 2.0 * w;
        let mut r = (x - self.lower).rem_euclid(period);
        if r > w {
            r = period - r;
        }
        (self.lower + r).clamp(self.lower, self.upper)
    }
}

impl Default for Bounds {
    fn default() -> Self {
        Self::unbounded()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_and_nan_intervals() {
        assert!(Bounds::new(1.0, 1.0).is_err());
        assert!(Bounds::new(2.0, 1.0).is_err());
        assert!(Bounds::new(f64::NAN, 1.0).is_err());
        assert!(Bounds::new(0.0, 1.0).is_ok());
    }

    #[test]
    fn reflect_mirrors_at_the_ends() {
        let b = Bounds::new(0.0, 1.0).unwrap();
        assert!((b.reflect(1.25) - 0.75).abs() < 1e-12);
        assert!((b.reflect(-0.25) - 0.25).abs() < 1e-12);
        assert!((b.reflect(2.25) - 0.25).abs() < 1e-12);
        assert_eq!(b.reflect(0.5), 0.5);
        let half = Bounds::new(0.0, f64::INFINITY).unwrap();
        assert_eq!(half.reflect(-3.0), 3.0);
    }

    proptest::proptest! {
        #[test]
        fn reflect_always_lands_inside(lo in -1e3f64..1e3, w in 1e-3f64..1e3, x in -1e6f64..1e6) {
            let b = Bounds::new(lo, lo + w).unwrap();
            let r = b.reflect(x);
            proptest::prop_assert!(b.contains(r), "{r} not in [{lo}, {}]", lo + w);
        }
    }
}
