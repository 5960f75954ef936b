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

/// The gradient of [`sphere`].
pub fn sphere_gradient(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| 2.0 * v).collect()
}

/// The gradient of [`ellipsoid`].
pub fn ellipsoid_gradient(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    if n == 1 {
        return vec![2.0 * x[0]];
    }
    x.iter()
        .enumerate()
        .map(|(i, v)| 2.0 * 10f64.powf(6.0 * i as f64 / (n - 1) as f64) * v)
        .collect()
}

/// The gradient of [`rosenbrock`].
pub fn rosenbrock_gradient(x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    for i in 0..x.len().saturating_sub(1) {
        let t = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * t;
    }
    g
}

/// The gradient of [`rastrigin`].
pub fn rastrigin_gradient(x: &[f64]) -> Vec<f64> {
    let tau = 2.0 * std::f64::consts::PI;
    x.iter()
        .map(|v| 2.0 * v + 10.0 * tau * (tau * v).sin())
        .collect()
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

    #[test]
    fn gradients_match_central_differences() {
        type Pair = (fn(&[f64]) -> f64, fn(&[f64]) -> Vec<f64>);
        let pairs: [Pair; 4] = [
            (sphere, sphere_gradient),
            (ellipsoid, ellipsoid_gradient),
            (rosenbrock, rosenbrock_gradient),
            (rastrigin, rastrigin_gradient),
        ];
        let x = [0.3, -0.7, 1.1];
        for (f, g) in pairs {
            let want = g(&x);
            for i in 0..x.len() {
                let h = 1e-6;
                let mut a = x;
                let mut b = x;
                a[i] += h;
                b[i] -= h;
                let fd = (f(&a) - f(&b)) / (2.0 * h);
                assert!(
                    (fd - want[i]).abs() < 1e-4 * (1.0 + fd.abs()),
                    "{fd} vs {}",
                    want[i]
                );
            }
        }
    }
}
