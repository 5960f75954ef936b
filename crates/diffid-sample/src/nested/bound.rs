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

    /// A random direction scaled to the ellipsoid's extent along it, times `scale` (the unit
    /// interval of a slice sampler).
    pub fn direction(&self, rng: &mut ChaCha8Rng, scale: f64) -> Vec<f64> {
        let d = self.centre.len();
        let z: DVector<f64> = DVector::from_fn(d, |_, _| rng.sample::<f64, _>(StandardNormal));
        let norm = z.norm().max(f64::MIN_POSITIVE);
        (&self.factor * z * (scale / norm))
            .iter()
            .copied()
            .collect()
    }

    /// This ellipsoid's shape moved to the mean of `points` and scaled to just contain them
    /// (a point for a single one): the bound of a group too small to fit a shape of its own.
    fn borrowed_by(&self, points: &[&[f64]]) -> Self {
        let d = self.centre.len();
        let mut centre = DVector::zeros(d);
        for p in points {
            centre += DVector::from_column_slice(p);
        }
        centre /= points.len().max(1) as f64;
        let moved = Self {
            centre,
            ..self.clone()
        };
        let far = points
            .iter()
            .map(|p| moved.distance(p))
            .fold(0.0f64, f64::max);
        // Volume scales as the d-th power of the linear factor; a zero-size group is sized by
        // the caller's expected-volume floor.
        moved.scaled(d as f64 * far.max(1e-12).ln())
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

/// The `MLFriends` region (Buchner 2016, 2019): the union of balls of one radius around the live
/// points, in the metric that whitens them, with the radius the largest distance from a point
/// left out of a bootstrap resample to its nearest neighbour in the resample. It follows curved
/// and multimodal regions that ellipsoids cut, and its radius is estimated rather than chosen.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Friends {
    /// Whitening: `u = centre + factor · y`.
    centre: DVector<f64>,
    factor: DMatrix<f64>,
    /// The live points in whitened coordinates, one after another.
    points: Vec<f64>,
    dim: usize,
    radius: f64,
    /// `ln` of one ball's volume in unit-cube coordinates.
    log_ball: f64,
}

/// Bootstrap resamples behind the balls' radius when none is set.
pub(crate) const FRIENDS_BOOTSTRAPS: usize = 30;

impl Friends {
    /// The region around `points` (unit-cube coordinates); `None` for too few or degenerate
    /// points.
    pub fn build(
        points: &[&[f64]],
        settings: &BoundSettings,
        rng: &mut ChaCha8Rng,
    ) -> Option<Self> {
        let d = points.first()?.len();
        let n = points.len();
        if n <= d {
            return None;
        }
        let rounds = if settings.bootstraps == 0 {
            FRIENDS_BOOTSTRAPS
        } else {
            settings.bootstraps
        };
        // First the metric of all the points; then, if the balls fall into several groups,
        // the pooled metric within the groups, so that separated modes do not stretch it.
        let labels = vec![0usize; n];
        let (centre, factor) = metric(points, &labels, 1)?;
        let white = whiten(points, &centre, &factor)?;
        let radius = bootstrap_radius(&white, d, rounds, rng);
        let (groups, labels) = groups(&white, d, radius);
        let (centre, factor, white, radius) = if groups > 1 {
            match metric(points, &labels, groups).and_then(|(c, f)| {
                let w = whiten(points, &c, &f)?;
                Some((c, f, w))
            }) {
                Some((c, f, w)) => {
                    let r = bootstrap_radius(&w, d, rounds, rng);
                    (c, f, w, r)
                }
                None => (centre, factor, white, radius),
            }
        } else {
            (centre, factor, white, radius)
        };
        let radius = radius * (settings.log_enlarge / d as f64).exp();
        if !(radius.is_finite() && radius > 0.0) {
            return None;
        }
        let log_det: f64 = factor.diagonal().iter().map(|v| v.abs().ln()).sum();
        let log_ball = log_unit_ball(d) + d as f64 * radius.ln() + log_det;
        Some(Self {
            centre,
            factor,
            points: white,
            dim: d,
            radius,
            log_ball,
        })
    }

    fn whitened(&self, k: usize) -> &[f64] {
        &self.points[k * self.dim..(k + 1) * self.dim]
    }

    fn count(&self) -> usize {
        self.points.len() / self.dim
    }

    /// How many balls contain `y` (whitened), stopping at `limit`.
    fn covering(&self, y: &[f64], limit: usize) -> usize {
        let r2 = self.radius * self.radius;
        let mut k = 0;
        for j in 0..self.count() {
            if squared_distance(self.whitened(j), y) <= r2 {
                k += 1;
                if k >= limit {
                    break;
                }
            }
        }
        k
    }

    /// A point drawn uniformly from the balls ∩ `ellipsoid` ∩ the unit cube, or `None` after
    /// `tries` rejections. Draws come from whichever of the two is smaller — all the balls
    /// (counted with overlaps) or the ellipsoid — and are accepted by the other.
    fn sample(
        &self,
        ellipsoid: &Ellipsoid,
        rng: &mut ChaCha8Rng,
        tries: usize,
    ) -> Option<Vec<f64>> {
        let d = self.dim;
        let n = self.count();
        let from_balls = self.log_ball + (n as f64).ln() < ellipsoid.log_volume();
        for _ in 0..tries {
            let u: Vec<f64> = if from_balls {
                let k = rng.random_range(0..n);
                let z = unit_ball(rng, d) * self.radius;
                let y: Vec<f64> = self
                    .whitened(k)
                    .iter()
                    .zip(z.iter())
                    .map(|(a, b)| a + b)
                    .collect();
                // Overlaps: accept with probability 1 / (number of balls containing y).
                let q = self.covering(&y, usize::MAX).max(1);
                if q > 1 && rng.random::<f64>() * (q as f64) >= 1.0 {
                    continue;
                }
                let u = &self.centre + &self.factor * DVector::from_vec(y);
                let u: Vec<f64> = u.iter().copied().collect();
                if !ellipsoid.contains(&u) {
                    continue;
                }
                u
            } else {
                let u = ellipsoid.sample(rng);
                let r = DVector::from_column_slice(&u) - &self.centre;
                let y = self.factor.solve_lower_triangular(&r)?;
                if self.covering(y.as_slice(), 1) == 0 {
                    continue;
                }
                u
            };
            if u.iter().all(|v| (0.0..=1.0).contains(v)) {
                return Some(u);
            }
        }
        None
    }
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The mean of `points` and the Cholesky factor of their covariance about their groups'
/// means (`labels`, `groups` of them), with a small ridge.
fn metric(
    points: &[&[f64]],
    labels: &[usize],
    groups: usize,
) -> Option<(DVector<f64>, DMatrix<f64>)> {
    let d = points.first()?.len();
    let n = points.len();
    let mut means = vec![DVector::<f64>::zeros(d); groups];
    let mut sizes = vec![0usize; groups];
    let mut centre = DVector::zeros(d);
    for (p, &l) in points.iter().zip(labels) {
        let v = DVector::from_column_slice(p);
        centre += &v;
        means[l] += v;
        sizes[l] += 1;
    }
    centre /= n as f64;
    for (m, &s) in means.iter_mut().zip(&sizes) {
        *m /= s.max(1) as f64;
    }
    let mut cov = DMatrix::zeros(d, d);
    for (p, &l) in points.iter().zip(labels) {
        let r = DVector::from_column_slice(p) - &means[l];
        cov += &r * r.transpose();
    }
    let dof = n.saturating_sub(groups).max(1);
    cov /= dof as f64;
    let ridge = 1e-12 * cov.trace().max(1e-300) / d as f64;
    for i in 0..d {
        cov[(i, i)] += ridge;
    }
    let factor = cov.cholesky()?.l();
    Some((centre, factor))
}

/// `points` in the coordinates `y = factor⁻¹ (u − centre)`, one after another.
fn whiten(points: &[&[f64]], centre: &DVector<f64>, factor: &DMatrix<f64>) -> Option<Vec<f64>> {
    let mut out = Vec::with_capacity(points.len() * centre.len());
    for p in points {
        let r = DVector::from_column_slice(p) - centre;
        let y = factor.solve_lower_triangular(&r)?;
        if !y.iter().all(|v| v.is_finite()) {
            return None;
        }
        out.extend(y.iter());
    }
    Some(out)
}

/// The balls' radius: over `rounds` bootstrap resamples, the largest distance from a point
/// left out of a resample to its nearest neighbour in it.
fn bootstrap_radius(white: &[f64], d: usize, rounds: usize, rng: &mut ChaCha8Rng) -> f64 {
    let n = white.len() / d;
    let at = |k: usize| &white[k * d..(k + 1) * d];
    // Pairwise squared distances, once.
    let mut dist = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..i {
            let v = squared_distance(at(i), at(j));
            dist[i * n + j] = v;
            dist[j * n + i] = v;
        }
    }
    let mut worst = 0.0f64;
    let mut chosen = vec![false; n];
    for _ in 0..rounds {
        chosen.fill(false);
        for _ in 0..n {
            chosen[rng.random_range(0..n)] = true;
        }
        let inside: Vec<usize> = (0..n).filter(|&k| chosen[k]).collect();
        for out in (0..n).filter(|&k| !chosen[k]) {
            let row = &dist[out * n..(out + 1) * n];
            let nearest = inside.iter().map(|&k| row[k]).fold(f64::INFINITY, f64::min);
            if nearest.is_finite() {
                worst = worst.max(nearest);
            }
        }
    }
    worst.sqrt()
}

/// The connected groups of points whose balls of `radius` overlap: how many, and each
/// point's group.
fn groups(white: &[f64], d: usize, radius: f64) -> (usize, Vec<usize>) {
    let n = white.len() / d;
    let at = |k: usize| &white[k * d..(k + 1) * d];
    let reach = 4.0 * radius * radius; // balls overlap when centres are within 2r
    let mut label = vec![usize::MAX; n];
    let mut groups = 0;
    let mut stack = Vec::new();
    for start in 0..n {
        if label[start] != usize::MAX {
            continue;
        }
        label[start] = groups;
        stack.push(start);
        while let Some(i) = stack.pop() {
            for (j, l) in label.iter_mut().enumerate() {
                if *l == usize::MAX && squared_distance(at(i), at(j)) <= reach {
                    *l = groups;
                    stack.push(j);
                }
            }
        }
        groups += 1;
    }
    (groups, label)
}

/// How the bound is built.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct BoundSettings {
    /// `ln` of the volume enlargement applied to every ellipsoid.
    pub log_enlarge: f64,
    /// Bootstrap resamples for the expansion estimate (0: none).
    pub bootstraps: usize,
    /// Several ellipsoids (true) or one.
    pub multi: bool,
    /// Balls around the live points (`MLFriends`), intersected with the ellipsoid bound.
    pub balls: bool,
}

/// A union of ellipsoids (possibly overlapping) bounding the live points.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Bound {
    ellipsoids: Vec<Ellipsoid>,
    /// Cumulative volume fractions, for picking an ellipsoid in proportion to its volume.
    cumulative: Vec<f64>,
    /// The union of balls the draws must also lie in (`balls` bounds).
    friends: Option<Friends>,
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
        let friends = if settings.balls {
            Some(Friends::build(points, settings, rng)?)
        } else {
            None
        };
        // With balls, one ellipsoid, always expanded by its bootstrap estimate (the balls do the
        // fitting; the ellipsoid only trims their outside).
        let settings = &if settings.balls {
            BoundSettings {
                multi: false,
                bootstraps: if settings.bootstraps == 0 {
                    FRIENDS_BOOTSTRAPS
                } else {
                    settings.bootstraps
                },
                ..*settings
            }
        } else {
            *settings
        };
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
            friends,
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
        if let Some(f) = &self.friends {
            return f.sample(&self.ellipsoids[0], rng, tries);
        }
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
        split(points, root, point_log_volume, &spread(points), &mut out, 0);
        out
    } else {
        vec![root]
    })
}

/// Each coordinate's standard deviation over `points` (1 where it does not vary).
fn spread(points: &[&[f64]]) -> Vec<f64> {
    let d = points.first().map_or(0, |p| p.len());
    let n = points.len().max(1) as f64;
    (0..d)
        .map(|j| {
            let m = points.iter().map(|p| p[j]).sum::<f64>() / n;
            let v = points.iter().map(|p| (p[j] - m).powi(2)).sum::<f64>() / n;
            if v > 0.0 && v.is_finite() {
                v.sqrt()
            } else {
                1.0
            }
        })
        .collect()
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
///
/// The points are split in two by 2-means (started at the ends of the parent's longest axis,
/// in coordinates scaled by each axis's spread), and each half is split again. A split is kept
/// when its pieces (each at least the prior volume its points are expected to fill) hold less
/// volume than the parent (the rule of `MultiNest`, Feroz, Hobson & Bridges 2009), and a piece
/// needs `p = d(d + 3)/2` points — as many as an ellipsoid has numbers — to have a shape of
/// its own. A side of fewer points split off a larger one takes the parent's shape, moved to
/// its points and scaled to contain them (a few points on a separate peak would otherwise keep
/// one ellipsoid over both peaks and the gap); it is not split further.
fn split(
    points: &[&[f64]],
    parent: Ellipsoid,
    point_log_volume: f64,
    scale: &[f64],
    out: &mut Vec<Ellipsoid>,
    depth: usize,
) {
    let d = points.first().map_or(0, |p| p.len());
    let n = points.len();
    let min_size = (d * (d + 3) / 2).max(d + 1);
    if n < 2 * min_size || depth > 40 {
        out.push(parent);
        return;
    }
    let scaled = |p: &[f64]| DVector::from_iterator(d, p.iter().zip(scale).map(|(v, s)| v / s));
    let (a0, b0) = parent.major_axis_ends();
    let mut a = DVector::from_iterator(d, a0.iter().zip(scale).map(|(v, s)| v / s));
    let mut b = DVector::from_iterator(d, b0.iter().zip(scale).map(|(v, s)| v / s));
    let xs: Vec<DVector<f64>> = points.iter().map(|p| scaled(p)).collect();
    let mut labels = vec![false; n];
    for _ in 0..20 {
        let mut changed = false;
        for (l, x) in labels.iter_mut().zip(&xs) {
            let to_b = (x - &b).norm_squared() < (x - &a).norm_squared();
            changed |= *l != to_b;
            *l = to_b;
        }
        let mean = |side: bool| {
            let mut m = DVector::zeros(d);
            let mut k = 0usize;
            for (x, _) in xs.iter().zip(&labels).filter(|(_, &l)| l == side) {
                m += x;
                k += 1;
            }
            (k > 0).then(|| m / k as f64)
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
    let side = |want: bool| -> Vec<&[f64]> {
        points
            .iter()
            .zip(&labels)
            .filter(|(_, &l)| l == want)
            .map(|(p, _)| *p)
            .collect()
    };
    let (first, second) = (side(false), side(true));
    if first.is_empty() || second.is_empty() || (first.len() < min_size && second.len() < min_size)
    {
        out.push(parent);
        return;
    }
    // A group too small for a shape of its own (a few points on a separate peak) borrows the
    // parent's, so that it does not force one ellipsoid over both groups and the gap between.
    let fitted = |pts: &[&[f64]]| {
        if pts.len() < min_size {
            Some(parent.borrowed_by(pts))
        } else {
            Ellipsoid::bounding(pts)
        }
    };
    let (Some(e1), Some(e2)) = (fitted(&first), fitted(&second)) else {
        out.push(parent);
        return;
    };
    let e1 = at_least(e1, point_log_volume + (first.len() as f64).ln());
    let e2 = at_least(e2, point_log_volume + (second.len() as f64).ln());
    let children = log_add(e1.log_volume(), e2.log_volume());
    // Split the halves either way: a ring's halves bound no less than the ring, but its
    // quarters and eighths do.
    let mut pieces = Vec::new();
    split(&first, e1, point_log_volume, scale, &mut pieces, depth + 1);
    split(&second, e2, point_log_volume, scale, &mut pieces, depth + 1);
    let total = pieces
        .iter()
        .map(Ellipsoid::log_volume)
        .fold(f64::NEG_INFINITY, log_add);
    if children < parent.log_volume() || total < parent.log_volume() {
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
    fn a_group_too_small_for_its_own_shape_still_gets_its_own_ellipsoid() {
        // 200 points around (0.3, 0.3) and 3 around (0.8, 0.8): one ellipsoid over both would
        // hold the whole gap between them.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut pts: Vec<Vec<f64>> = (0..200)
            .map(|_| {
                vec![
                    0.3 + 0.02 * rng.sample::<f64, _>(StandardNormal),
                    0.3 + 0.02 * rng.sample::<f64, _>(StandardNormal),
                ]
            })
            .collect();
        pts.extend([vec![0.8, 0.8], vec![0.81, 0.79], vec![0.79, 0.805]]);
        let refs: Vec<&[f64]> = pts.iter().map(Vec::as_slice).collect();
        let settings = BoundSettings {
            log_enlarge: 0.5f64.ln_1p(),
            multi: true,
            balls: false,
            bootstraps: 0,
        };
        let b = Bound::build(&refs, (0.01f64).ln(), &settings, &mut rng).expect("fits");
        assert!(b.len() >= 2, "{} ellipsoids", b.len());
        assert!(refs
            .iter()
            .all(|p| b.ellipsoids.iter().any(|e| e.contains(p))));
        let draws: Vec<Vec<f64>> = (0..4000)
            .map(|_| b.sample(&mut rng, 1000).expect("draws"))
            .collect();
        let gap = draws
            .iter()
            .filter(|x| (0.45..0.7).contains(&x[0]) && (0.45..0.7).contains(&x[1]))
            .count();
        let near_small = draws.iter().filter(|x| x[0] > 0.7 && x[1] > 0.7).count();
        assert!(gap < 40, "{gap} of 4000 draws in the gap");
        assert!(near_small > 0, "the small group is still covered");
    }

    #[test]
    fn two_separated_clusters_are_bounded_apart() {
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
            log_enlarge: 0.25f64.ln_1p(),
            multi: true,
            balls: false,
            bootstraps: 0,
        };
        let b = Bound::build(&refs, (0.01f64).ln(), &settings, &mut rng).expect("fits");
        assert!(b.len() >= 2, "{} ellipsoids", b.len());
        let mut gap = 0;
        for _ in 0..2000 {
            let x = b.sample(&mut rng, 1000).expect("draws");
            if !((x[0] - 0.2).abs() < 0.15 || (x[0] - 0.8).abs() < 0.15) {
                gap += 1;
            }
        }
        assert_eq!(gap, 0, "{gap} of 2000 draws in the gap");
    }

    #[test]
    fn a_thin_arc_is_cut_into_pieces_of_at_least_an_ellipsoids_numbers_of_points() {
        // 500 points on a thin quarter circle: one ellipsoid holds the arc's whole chord
        // region; the pieces follow the arc, each fitted to at least d(d + 3)/2 = 5 points.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let pts: Vec<Vec<f64>> = (0..500)
            .map(|_| {
                let a = rng.random::<f64>() * std::f64::consts::FRAC_PI_2;
                let r = 0.6 + 0.01 * (rng.random::<f64>() - 0.5);
                vec![0.2 + r * a.cos(), 0.2 + r * a.sin()]
            })
            .collect();
        let refs: Vec<&[f64]> = pts.iter().map(Vec::as_slice).collect();
        let settings = |multi| BoundSettings {
            log_enlarge: 0.0,
            multi,
            balls: false,
            bootstraps: 0,
        };
        // The arc's area, 0.01 × 0.6 × π/2 ≈ 0.0094, as the expected volume.
        let log_volume = (0.0094f64).ln();
        let single = Bound::build(&refs, log_volume, &settings(false), &mut rng).expect("fits");
        let multi = Bound::build(&refs, log_volume, &settings(true), &mut rng).expect("fits");
        let volume = |b: &Bound| {
            b.ellipsoids
                .iter()
                .map(Ellipsoid::log_volume)
                .fold(f64::NEG_INFINITY, log_add)
        };
        assert!(
            volume(&multi) < volume(&single) - 2.0f64.ln() * 3.0,
            "pieces {:.3} against one ellipsoid {:.3}",
            volume(&multi).exp(),
            volume(&single).exp()
        );
        // Pieces of at least 5 points: at most 100 of them (48 here, each near the floor).
        assert!(multi.len() <= 500 / 5, "{} pieces", multi.len());
        // No less volume than the points are expected to fill, and every point inside (the
        // farthest points of a piece lie on its surface, to rounding).
        assert!(volume(&multi) >= log_volume - 1e-9);
        assert!(refs
            .iter()
            .all(|p| multi.ellipsoids.iter().any(|e| e.distance(p) <= 1.0 + 1e-9)));
    }

    #[test]
    fn balls_follow_a_ring_that_one_ellipsoid_would_fill() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let pts: Vec<Vec<f64>> = (0..400)
            .map(|_| {
                let a = rng.random::<f64>() * std::f64::consts::TAU;
                let r = 0.3 + 0.01 * (rng.random::<f64>() - 0.5);
                vec![0.5 + r * a.cos(), 0.5 + r * a.sin()]
            })
            .collect();
        let refs: Vec<&[f64]> = pts.iter().map(Vec::as_slice).collect();
        let settings = BoundSettings {
            log_enlarge: 0.0,
            multi: false,
            balls: true,
            bootstraps: 0,
        };
        let b = Bound::build(&refs, (0.02f64).ln(), &settings, &mut rng).expect("fits");
        let mut octants = [0usize; 8];
        for _ in 0..4000 {
            let x = b.sample(&mut rng, 10_000).expect("draws");
            let (dx, dy) = (x[0] - 0.5, x[1] - 0.5);
            // Near the ring (the balls' radius is a few point spacings), never at the centre
            // that an ellipsoid around the ring would cover.
            let r = (dx * dx + dy * dy).sqrt();
            assert!((r - 0.3).abs() < 0.08, "{x:?}");
            let k = ((dy.atan2(dx) + std::f64::consts::PI) / std::f64::consts::TAU * 8.0) as usize;
            octants[k.min(7)] += 1;
        }
        // The whole ring is covered, evenly.
        assert!(
            octants.iter().all(|&c| (350..650).contains(&c)),
            "{octants:?}"
        );
    }
}
