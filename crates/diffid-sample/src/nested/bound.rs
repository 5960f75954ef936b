//! Bounds of the constrained prior in the unit cube: ellipsoids and unions of them.
//!
//! A bounding ellipsoid of a set of points is their covariance ellipsoid scaled until it
//! contains the farthest point (Mukherjee, Parkinson & Liddle 2006). A multi-ellipsoid bound
//! splits a set recursively with 2-means while the children's volumes add up to much less
//! than the parent's (Feroz, Hobson & Bridges 2009; the splitting and volume rules of Speagle
//! 2020, dynesty). Every ellipsoid is kept at least as large as the prior volume its points are
//! expected to fill, and enlarged by a safety factor.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use statrs::function::gamma::ln_gamma;

/// `ln` of the volume of the unit ball in `d` dimensions.
fn log_unit_ball(d: usize) -> f64 {
    let h = d as f64 / 2.0;
    h * std::f64::consts::PI.ln() - ln_gamma(h + 1.0)
}

/// An ellipsoid `{x : (x − c)ᵀ A⁻¹ (x − c) ≤ 1}`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Ellipsoid {
    centre: DVector<f64>,
    /// `A⁻¹`.
    precision: DMatrix<f64>,
    /// Lower Cholesky factor of `A` (maps the unit ball onto the ellipsoid).
    factor: DMatrix<f64>,
    log_volume: f64,
}

impl Ellipsoid {
    fn from_shape(centre: DVector<f64>, shape: &DMatrix<f64>) -> Option<Self> {
        let d = centre.len();
        let chol = shape.clone().cholesky()?;
        let factor = chol.l();
        let log_det: f64 = factor.diagonal().iter().map(|v| 2.0 * v.ln()).sum();
        let precision = chol.inverse();
        let log_volume = log_unit_ball(d) + 0.5 * log_det;
        log_volume.is_finite().then_some(Self {
            centre,
            precision,
            factor,
            log_volume,
        })
    }

    /// The covariance ellipsoid of `points`, scaled to contain them all; `None` for too few
    /// points or a degenerate set.
    pub fn bounding(points: &[&[f64]]) -> Option<Self> {
        let d = points.first()?.len();
        let n = points.len();
        if n <= d {
            return None;
        }
        let mut centre = DVector::zeros(d);
        for p in points {
            centre += DVector::from_column_slice(p);
        }
        centre /= n as f64;
        let mut cov = DMatrix::zeros(d, d);
        for p in points {
            let r = DVector::from_column_slice(p) - &centre;
            cov += &r * r.transpose();
        }
        cov /= (n - 1) as f64;
        // A small ridge keeps nearly flat sets invertible.
        let ridge = 1e-12 * cov.trace().max(1e-300) / d as f64;
        for i in 0..d {
            cov[(i, i)] += ridge;
        }
        let inv = cov.clone().cholesky()?.inverse();
        let far = points
            .iter()
            .map(|p| {
                let r = DVector::from_column_slice(p) - &centre;
                (r.transpose() * &inv * &r)[(0, 0)]
            })
            .fold(0.0f64, f64::max);
        if !(far.is_finite() && far > 0.0) {
            return None;
        }
        Self::from_shape(centre, &(cov * far))
    }

    pub fn log_volume(&self) -> f64 {
        self.log_volume
    }

    /// The same ellipsoid with its volume multiplied by `e^{log_factor}`.
    pub fn scaled(&self, log_factor: f64) -> Self {
        let d = self.centre.len() as f64;
        let s = (log_factor / d).exp(); // linear factor
        Self {
            centre: self.centre.clone(),
            precision: &self.precision / (s * s),
            factor: &self.factor * s,
            log_volume: self.log_volume + log_factor,
        }
    }

    pub fn contains(&self, x: &[f64]) -> bool {
        self.distance(x) <= 1.0
    }

    /// `√((x − c)ᵀ A⁻¹ (x − c))`: 1 on the surface.
    pub fn distance(&self, x: &[f64]) -> f64 {
        let r = DVector::from_column_slice(x) - &self.centre;
        (r.transpose() * &self.precision * &r)[(0, 0)]
            .max(0.0)
            .sqrt()
    }

    /// A point drawn uniformly inside.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let d = self.centre.len();
        let z = unit_ball(rng, d);
        (&self.centre + &self.factor * z).iter().copied().collect()
    }

    /// A point drawn uniformly inside the ellipsoid's shape, scaled by `scale` and centred
    /// at `x` (a random-walk proposal).
    pub fn step(&self, rng: &mut ChaCha8Rng, x: &[f64], scale: f64) -> Vec<f64> {
        let d = self.centre.len();
        let z = unit_ball(rng, d);
        let dz = &self.factor * z * scale;
        x.iter().zip(dz.iter()).map(|(a, b)| a + b).collect()
    }

    /// The two ends of the longest axis.
    fn major_axis_ends(&self) -> (DVector<f64>, DVector<f64>) {
        let shape = &self.factor * self.factor.transpose();
        let eig = shape.symmetric_eigen();
        let (k, _) = eig
            .eigenvalues
            .iter()
            .enumerate()
            .fold(
                (0, f64::MIN),
                |best, (i, &v)| if v > best.1 { (i, v) } else { best },
            );
        let axis = eig.eigenvectors.column(k) * eig.eigenvalues[k].max(0.0).sqrt();
        (&self.centre + &axis, &self.centre - &axis)
    }
}

/// A point drawn uniformly in the unit ball.
fn unit_ball(rng: &mut ChaCha8Rng, d: usize) -> DVector<f64> {
    let z: DVector<f64> = DVector::from_fn(d, |_, _| rng.sample::<f64, _>(StandardNormal));
    let norm = z.norm();
    let r = rng.random::<f64>().powf(1.0 / d as f64);
    if norm > 0.0 {
        z * (r / norm)
    } else {
        z
    }
}

/// How the bound is built.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct BoundSettings {
    /// Keep a split when the pieces' volumes add up to less than this fraction of the
    /// parent's.
    pub vol_dec: f64,
    /// `ln` of the volume enlargement applied to every ellipsoid.
    pub log_enlarge: f64,
    /// Bootstrap resamples for the expansion estimate (0: none).
    pub bootstraps: usize,
    /// Several ellipsoids (true) or one.
    pub multi: bool,
}

/// A union of ellipsoids (possibly overlapping) bounding the live points.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Bound {
    ellipsoids: Vec<Ellipsoid>,
    /// Cumulative volume fractions, for picking an ellipsoid in proportion to its volume.
    cumulative: Vec<f64>,
}

impl Bound {
    /// Builds a bound around `points` (unit-cube coordinates), which are expected to fill a
    /// prior volume `e^{log_volume}`; `None` when no ellipsoid can be fitted.
    ///
    /// With `settings.bootstraps > 0` the ellipsoids are also expanded by a bootstrap estimate
    /// of how far the true region reaches beyond the points (Buchner 2016; as dynesty): the
    /// bound is refitted on `bootstraps` resamples (with replacement) of the points, and the
    /// ellipsoids are scaled by the largest distance (in units of the nearest ellipsoid) of a
    /// point left out of a resample.
    pub fn build(
        points: &[&[f64]],
        log_volume: f64,
        settings: &BoundSettings,
        rng: &mut ChaCha8Rng,
    ) -> Option<Self> {
        let mut ellipsoids = fit(points, log_volume, settings)?;
        let n = points.len();
        let d = points.first().map_or(0, |p| p.len());
        let mut reach = 1.0f64;
        for _ in 0..settings.bootstraps {
            let mut chosen = vec![false; n];
            let resample: Vec<&[f64]> = (0..n)
                .map(|_| {
                    let k = rng.random_range(0..n);
                    chosen[k] = true;
                    points[k]
                })
                .collect();
            let Some(fitted) = fit(&resample, log_volume, settings) else {
                continue;
            };
            for (p, _) in points.iter().zip(&chosen).filter(|(_, &c)| !c) {
                let r = fitted
                    .iter()
                    .map(|e| e.distance(p))
                    .fold(f64::INFINITY, f64::min);
                if r.is_finite() {
                    reach = reach.max(r);
                }
            }
        }
        let log_expand = d as f64 * reach.ln() + settings.log_enlarge;
        for e in &mut ellipsoids {
            *e = e.scaled(log_expand);
        }
        let max = ellipsoids
            .iter()
            .map(Ellipsoid::log_volume)
            .fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = ellipsoids
            .iter()
            .map(|e| (e.log_volume() - max).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Some(Self {
            ellipsoids,
            cumulative,
        })
    }

    /// Number of ellipsoids.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ellipsoids.len()
    }

    /// A point drawn uniformly from the union of the ellipsoids intersected with the unit
    /// cube, or `None` after `tries` geometric rejections.
    pub fn sample(&self, rng: &mut ChaCha8Rng, tries: usize) -> Option<Vec<f64>> {
        for _ in 0..tries {
            let u: f64 = rng.random();
            let k = self
                .cumulative
                .iter()
                .position(|&c| u <= c)
                .unwrap_or(self.ellipsoids.len() - 1);
            let x = self.ellipsoids[k].sample(rng);
            // Overlaps: accept with probability 1 / (number of ellipsoids containing x).
            let q = if self.ellipsoids.len() == 1 {
                1
            } else {
                self.ellipsoids
                    .iter()
                    .filter(|e| e.contains(&x))
                    .count()
                    .max(1)
            };
            let keep = q == 1 || rng.random::<f64>() * (q as f64) < 1.0;
            if keep && x.iter().all(|v| (0.0..=1.0).contains(v)) {
                return Some(x);
            }
        }
        None
    }

    /// The ellipsoid whose shape guides a random walk from `x`: one that contains it, else
    /// the first.
    pub fn around(&self, x: &[f64]) -> &Ellipsoid {
        self.ellipsoids
            .iter()
            .find(|e| e.contains(x))
            .unwrap_or(&self.ellipsoids[0])
    }
}

/// The ellipsoids bounding `points` (one, or several split by 2-means), each at least the
/// prior volume its points are expected to fill, before any enlargement.
fn fit(points: &[&[f64]], log_volume: f64, settings: &BoundSettings) -> Option<Vec<Ellipsoid>> {
    let root = Ellipsoid::bounding(points)?;
    let n = points.len() as f64;
    let point_log_volume = log_volume - n.ln();
    let root = at_least(root, point_log_volume + n.ln());
    Some(if settings.multi {
        let mut out = Vec::new();
        split(points, root, point_log_volume, settings, &mut out, 0);
        out
    } else {
        vec![root]
    })
}

/// `e` enlarged (if needed) to at least volume `e^{log_min}`.
fn at_least(e: Ellipsoid, log_min: f64) -> Ellipsoid {
    if e.log_volume() < log_min {
        let grow = log_min - e.log_volume();
        e.scaled(grow)
    } else {
        e
    }
}

/// Splits `parent` (bounding `points`) recursively into `out`.
fn split(
    points: &[&[f64]],
    parent: Ellipsoid,
    point_log_volume: f64,
    settings: &BoundSettings,
    out: &mut Vec<Ellipsoid>,
    depth: usize,
) {
    let d = points.first().map_or(0, |p| p.len());
    let n = points.len();
    if n < 2 * (d + 1) || depth > 40 {
        out.push(parent);
        return;
    }
    let (mut a, mut b) = parent.major_axis_ends();
    let mut labels = vec![false; n];
    for _ in 0..20 {
        let mut changed = false;
        for (l, p) in labels.iter_mut().zip(points) {
            let x = DVector::from_column_slice(p);
            let to_b = (&x - &b).norm_squared() < (&x - &a).norm_squared();
            changed |= *l != to_b;
            *l = to_b;
        }
        let mean = |side: bool| {
            let members: Vec<&&[f64]> = points
                .iter()
                .zip(&labels)
                .filter(|(_, &l)| l == side)
                .map(|(p, _)| p)
                .collect();
            if members.is_empty() {
                return None;
            }
            let mut m = DVector::zeros(d);
            for p in &members {
                m += DVector::from_column_slice(p);
            }
            Some(m / members.len() as f64)
        };
        match (mean(false), mean(true)) {
            (Some(ma), Some(mb)) => {
                a = ma;
                b = mb;
            }
            _ => break,
        }
        if !changed {
            break;
        }
    }
    let first: Vec<&[f64]> = points
        .iter()
        .zip(&labels)
        .filter(|(_, &l)| !l)
        .map(|(p, _)| *p)
        .collect();
    let second: Vec<&[f64]> = points
        .iter()
        .zip(&labels)
        .filter(|(_, &l)| l)
        .map(|(p, _)| *p)
        .collect();
    if first.len() <= d || second.len() <= d {
        out.push(parent);
        return;
    }
    let (Some(e1), Some(e2)) = (Ellipsoid::bounding(&first), Ellipsoid::bounding(&second)) else {
        out.push(parent);
        return;
    };
    let e1 = at_least(e1, point_log_volume + (first.len() as f64).ln());
    let e2 = at_least(e2, point_log_volume + (second.len() as f64).ln());
    let children = log_add(e1.log_volume(), e2.log_volume());
    let threshold = settings.vol_dec.ln() + parent.log_volume();
    // Split further either way: a ring's halves bound no less than the ring, but its
    // quarters and eighths do. Keep the split when the final pieces are small enough.
    let mut pieces = Vec::new();
    split(
        &first,
        e1,
        point_log_volume,
        settings,
        &mut pieces,
        depth + 1,
    );
    split(
        &second,
        e2,
        point_log_volume,
        settings,
        &mut pieces,
        depth + 1,
    );
    let total = pieces
        .iter()
        .map(Ellipsoid::log_volume)
        .fold(f64::NEG_INFINITY, log_add);
    if children < threshold || total < threshold {
        out.extend(pieces);
    } else {
        out.push(parent);
    }
}

/// `ln(e^a + e^b)`.
pub(crate) fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn bounding_ellipsoids_contain_their_points_and_have_the_right_volume() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let pts: Vec<Vec<f64>> = (0..200)
            .map(|_| vec![rng.random::<f64>(), 0.5 * rng.random::<f64>()])
            .collect();
        let refs: Vec<&[f64]> = pts.iter().map(Vec::as_slice).collect();
        let e = Ellipsoid::bounding(&refs).expect("fits");
        assert!(refs.iter().all(|p| e.contains(p)));
        // A uniform rectangle of area 0.5: its enclosing ellipse is larger, but not wildly.
        let v = e.log_volume().exp();
        assert!(v > 0.5 && v < 2.0, "{v}");
        // Uniform draws: the fraction inside the half-size ellipsoid is 2^-d.
        let half = e.scaled(-(2.0f64).ln() * 2.0);
        let inside = (0..20_000)
            .filter(|_| half.contains(&e.sample(&mut rng)))
            .count() as f64
            / 20_000.0;
        assert!((inside - 0.25).abs() < 0.02, "{inside}");
    }

    #[test]
    fn two_separated_clusters_get_two_ellipsoids() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut pts = Vec::new();
        for c in [0.2, 0.8] {
            for _ in 0..200 {
                pts.push(vec![
                    c + 0.02 * rng.sample::<f64, _>(StandardNormal),
                    0.5 + 0.02 * rng.sample::<f64, _>(StandardNormal),
                ]);
            }
        }
        let refs: Vec<&[f64]> = pts.iter().map(Vec::as_slice).collect();
        let settings = BoundSettings {
            vol_dec: 0.5,
            log_enlarge: 0.25f64.ln_1p(),
            multi: true,
            bootstraps: 5,
        };
        let b = Bound::build(&refs, (0.01f64).ln(), &settings, &mut rng).expect("fits");
        assert_eq!(b.len(), 2);
        let x = b.sample(&mut rng, 1000).expect("draws");
        assert!(
            (x[0] - 0.2).abs() < 0.15 || (x[0] - 0.8).abs() < 0.15,
            "{x:?}"
        );
    }
}
