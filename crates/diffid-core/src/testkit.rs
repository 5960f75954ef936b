//! Test functions with known optima, shared by the tests and benchmarks of every crate.
//!
//! All have their global minimum value 0.

/// Sphere: `Σ xᵢ²`, minimum at 0.
pub fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

/// Ellipsoid: `Σ 10^(6 i/(n-1)) xᵢ²` (condition number 10⁶), minimum at 0.
pub fn ellipsoid(x: &[f64]) -> f64 {
    let n = x.len();
    if n == 1 {
        return x[0] * x[0];
    }
    x.iter()
        .enumerate()
        .map(|(i, v)| 10f64.powf(6.0 * i as f64 / (n - 1) as f64) * v * v)
        .sum()
}

/// Rosenbrock: `Σ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²`, minimum at (1, …, 1).
pub fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

/// Rastrigin: `10 n + Σ xᵢ² − 10 cos(2π xᵢ)`, minimum at 0, many local minima.
pub fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos())
            .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optima_are_zero() {
        assert_eq!(sphere(&[0.0; 5]), 0.0);
        assert_eq!(ellipsoid(&[0.0; 5]), 0.0);
        assert_eq!(rosenbrock(&[1.0; 5]), 0.0);
        assert!(rastrigin(&[0.0; 5]).abs() < 1e-12);
        assert!(rosenbrock(&[0.0; 2]) > 0.0);
        assert!((ellipsoid(&[0.0, 1.0]) - 1e6).abs() < 1e-6);
    }
}
