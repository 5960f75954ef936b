//! Behaviour of Nelder–Mead through its public ask/tell interface: the position of every kind of
//! trial point, convergence on standard test functions, determinism, bounds, failures, stopping
//! and errors.

// Exact float comparisons are the point here: trial points are pinned to their formulas, runs
// must be reproducible bit for bit, and settings must read back exactly as set.
#![allow(clippy::float_cmp)]

use diffid_core::testkit::{ellipsoid, rosenbrock, sphere};
use diffid_core::{Ask, AskTell, Bounds, CoreError, Optimiser, OptimiserState, Outcome};
use diffid_core::{TellError, Termination};
use diffid_optim::{NelderMead, NelderMeadState};
use proptest::prelude::*;

mod common;
use common::{bounds, drive, free, minimise};

fn batch(state: &mut NelderMeadState) -> Vec<Vec<f64>> {
    match state.ask() {
        Ask::Evaluate(points) => points,
        Ask::EvaluateWithGradient(_) => {
            unreachable!("a derivative-free optimiser never asks for gradients")
        }
        Ask::Done(reason) => panic!("unexpectedly done: {reason}"),
    }
}

/// Asks for a single trial point.
fn point(state: &mut NelderMeadState) -> Vec<f64> {
    let mut points = batch(state);
    assert_eq!(points.len(), 1, "expected a single trial point");
    points.remove(0)
}

fn tell(state: &mut NelderMeadState, values: &[f64]) {
    let outcomes: Vec<Outcome> = values.iter().map(|&v| Outcome::Value(v)).collect();
    state.tell(&outcomes).expect("one outcome per point");
}

/// `a + t (b − a)`.
fn towards(a: &[f64], b: &[f64], t: f64) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
}

// ---------------------------------------------------------------- the steps, pinned

/// Non-default coefficients, all exact in binary, so that every expected point is exact and a
/// mix-up between coefficients shows.
const COEFFS: (f64, f64, f64, f64) = (1.5, 3.0, 0.25, 0.375);

/// A 2-D state after the initial simplex (0,0), (1,0), (0,1) was told values 0, 1, 2 and the
/// reflection was asked for. Returns (state, centroid `c`, worst vertex `x_h`, reflection `x_r`).
fn reflected(coeffs: (f64, f64, f64, f64)) -> (NelderMeadState, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (alpha, gamma, rho, sigma) = coeffs;
    let mut state = NelderMead::new()
        .with_step_size(1.0)
        .with_threshold(f64::NEG_INFINITY)
        .with_coefficients(alpha, gamma, rho, sigma)
        .start(&[0.0, 0.0], &free(2))
        .expect("start");
    let initial = batch(&mut state);
    assert_eq!(
        initial,
        vec![vec![0.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0]]
    );
    // Told out of order of value on purpose: the state must sort.
    tell(&mut state, &[1.0, 0.0, 2.0]);
    let (vertices, values) = state.simplex();
    assert_eq!(
        vertices,
        vec![vec![1.0, 0.0], vec![0.0, 0.0], vec![0.0, 1.0]]
    );
    assert_eq!(values, vec![0.0, 1.0, 2.0]);
    assert_eq!(state.iterations(), 0);

    let c = vec![0.5, 0.0];
    let xh = vec![0.0, 1.0];
    let xr: Vec<f64> = c
        .iter()
        .zip(&xh)
        .map(|(c, h)| c + alpha * (c - h))
        .collect();
    assert_eq!(point(&mut state), xr);
    (state, c, xh, xr)
}

#[test]
fn reflection_is_the_worst_vertex_mirrored_through_the_centroid() {
    let (_, _, _, xr) = reflected((1.0, 2.0, 0.5, 0.5));
    assert_eq!(xr, vec![1.0, -1.0]);
    let (_, _, _, xr) = reflected(COEFFS);
    assert_eq!(xr, vec![1.25, -1.5]);
}

#[test]
fn a_reflection_between_best_and_second_worst_is_accepted() {
    let (mut state, _, _, xr) = reflected(COEFFS);
    tell(&mut state, &[0.5]);
    assert_eq!(state.iterations(), 1);
    assert_eq!(state.evaluations(), 4);
    let (vertices, values) = state.simplex();
    assert_eq!(vertices, vec![vec![1.0, 0.0], xr.clone(), vec![0.0, 0.0]]);
    assert_eq!(values, vec![0.0, 0.5, 1.0]);
    // The next ask starts a new step: the reflection of the new worst vertex (0,0).
    let c = [(1.0 + xr[0]) / 2.0, xr[1] / 2.0];
    let expected: Vec<f64> = c.iter().map(|c| c + 1.5 * c).collect();
    assert_eq!(point(&mut state), expected);
}

#[test]
fn a_reflection_tying_the_best_is_ranked_after_it() {
    let (mut state, _, _, xr) = reflected(COEFFS);
    tell(&mut state, &[0.0]);
    let (vertices, values) = state.simplex();
    assert_eq!(vertices, vec![vec![1.0, 0.0], xr, vec![0.0, 0.0]]);
    assert_eq!(values, vec![0.0, 0.0, 1.0]);
    assert_eq!(state.best(), Some((vec![1.0, 0.0], 0.0)));
}

#[test]
fn expansion_goes_gamma_along_the_reflection_and_keeps_the_better_point() {
    let (_, gamma, _, _) = COEFFS;
    // Accepted: f_e < f_r.
    let (mut state, c, _, xr) = reflected(COEFFS);
    tell(&mut state, &[-1.0]);
    let xe = point(&mut state);
    assert_eq!(xe, towards(&c, &xr, gamma));
    assert_eq!(xe, vec![2.75, -4.5]);
    assert_eq!(state.iterations(), 0, "the step is not over yet");
    tell(&mut state, &[-2.0]);
    assert_eq!(state.iterations(), 1);
    let (vertices, values) = state.simplex();
    assert_eq!(vertices, vec![xe.clone(), vec![1.0, 0.0], vec![0.0, 0.0]]);
    assert_eq!(values, vec![-2.0, 0.0, 1.0]);
    assert_eq!(state.best(), Some((xe, -2.0)));

    // Rejected: f_e >= f_r keeps the reflection.
    let (mut state, _, _, xr) = reflected(COEFFS);
    tell(&mut state, &[-1.0]);
    point(&mut state);
    tell(&mut state, &[-1.0]);
    let (vertices, values) = state.simplex();
    assert_eq!(vertices[0], xr);
    assert_eq!(values, vec![-1.0, 0.0, 1.0]);
    assert_eq!(state.best(), Some((xr, -1.0)));
    assert_eq!(state.history(), &[-1.0]);
}

#[test]
fn outside_contraction_lies_between_the_centroid_and_the_reflection() {
    let (_, _, rho, sigma) = COEFFS;
    // Accepted: f_oc <= f_r.
    let (mut state, c, xh, xr) = reflected(COEFFS);
    tell(&mut state, &[1.5]); // f_second_worst = 1 <= f_r < f_h = 2
    let xoc = point(&mut state);
    assert_eq!(xoc, towards(&c, &xr, rho));
    assert_eq!(xoc, vec![0.6875, -0.375]);
    tell(&mut state, &[1.5]);
    assert_eq!(state.iterations(), 1);
    let (vertices, values) = state.simplex();
    assert_eq!(vertices, vec![vec![1.0, 0.0], vec![0.0, 0.0], xoc]);
    assert_eq!(values, vec![0.0, 1.0, 1.5]);
    assert!(!vertices.contains(&xh));

    // Rejected: f_oc > f_r shrinks towards the best vertex.
    let (mut state, _, _, _) = reflected(COEFFS);
    tell(&mut state, &[1.5]);
    point(&mut state);
    tell(&mut state, &[1.75]);
    assert_eq!(state.iterations(), 0, "the shrink is part of the step");
    let best = [1.0, 0.0];
    let shrunk = batch(&mut state);
    assert_eq!(
        shrunk,
        vec![
            towards(&best, &[0.0, 0.0], sigma),
            towards(&best, &xh, sigma)
        ]
    );
    assert_eq!(shrunk, vec![vec![0.625, 0.0], vec![0.625, 0.375]]);
}

#[test]
fn inside_contraction_lies_between_the_centroid_and_the_worst_vertex() {
    let (_, _, rho, _) = COEFFS;
    let (mut state, c, xh, xr) = reflected(COEFFS);
    tell(&mut state, &[3.0]); // f_r >= f_h = 2
    let xic = point(&mut state);
    // x_ic = c − ρ (c − x_h) = c + ρ (x_h − c), on the worst vertex's side of the centroid.
    let expected: Vec<f64> = c.iter().zip(&xh).map(|(c, h)| c - rho * (c - h)).collect();
    assert_eq!(xic, expected);
    assert_eq!(xic, towards(&c, &xh, rho));
    assert_eq!(xic, vec![0.375, 0.25]);
    // Not on the reflection's side (the bug of the earlier release).
    assert_ne!(xic, towards(&c, &xr, rho));
    for ((x, c), h) in xic.iter().zip(&c).zip(&xh) {
        assert!((c.min(*h)..=c.max(*h)).contains(x));
    }
    // Accepted when strictly better than the worst vertex.
    tell(&mut state, &[1.5]);
    assert_eq!(state.iterations(), 1);
    let (vertices, values) = state.simplex();
    assert_eq!(vertices, vec![vec![1.0, 0.0], vec![0.0, 0.0], xic]);
    assert_eq!(values, vec![0.0, 1.0, 1.5]);

    // With the default coefficients.
    let (mut state, _, _, _) = reflected((1.0, 2.0, 0.5, 0.5));
    tell(&mut state, &[2.0]); // f_r = f_h is no better than the worst
    assert_eq!(point(&mut state), vec![0.25, 0.5]);
}

#[test]
fn a_failed_inside_contraction_shrinks_every_vertex_towards_the_best() {
    let (_, _, _, sigma) = COEFFS;
    let (mut state, _, xh, _) = reflected(COEFFS);
    tell(&mut state, &[3.0]);
    point(&mut state);
    tell(&mut state, &[2.0]); // f_ic = f_h: not accepted
    let best = [1.0, 0.0];
    let shrunk = batch(&mut state);
    assert_eq!(
        shrunk,
        vec![
            towards(&best, &[0.0, 0.0], sigma),
            towards(&best, &xh, sigma)
        ]
    );
    assert_eq!(state.iterations(), 0);
    // A shrunk vertex better than the old best becomes the best.
    tell(&mut state, &[0.5, -0.5]);
    assert_eq!(state.iterations(), 1);
    assert_eq!(state.evaluations(), 3 + 1 + 1 + 2);
    let (vertices, values) = state.simplex();
    assert_eq!(
        vertices,
        vec![shrunk[1].clone(), vec![1.0, 0.0], shrunk[0].clone()]
    );
    assert_eq!(values, vec![-0.5, 0.0, 0.5]);
    assert_eq!(state.history(), &[-0.5]);
}

#[test]
fn a_shrink_keeps_the_best_vertex_first_among_equals() {
    let (mut state, _, _, _) = reflected(COEFFS);
    tell(&mut state, &[3.0]);
    point(&mut state);
    tell(&mut state, &[5.0]);
    let shrunk = batch(&mut state);
    tell(&mut state, &[0.0, 0.0]);
    let (vertices, values) = state.simplex();
    assert_eq!(vertices[0], vec![1.0, 0.0]);
    assert_eq!(vertices[1..], shrunk[..]);
    assert_eq!(values, vec![0.0; 3]);
}

#[test]
fn every_batch_is_the_initial_simplex_one_trial_point_or_a_shrink() {
    let n = 4;
    let mut state = NelderMead::new()
        .with_threshold(1e-10)
        .start(&[1.0, -0.5, 0.3, 2.0], &free(n))
        .expect("start");
    let mut sizes = Vec::new();
    let reason = loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                sizes.push(points.len());
                let outcomes: Vec<Outcome> =
                    points.iter().map(|x| Outcome::Value(sphere(x))).collect();
                state.tell(&outcomes).expect("tell");
            }
            Ask::EvaluateWithGradient(_) => {
                unreachable!("a derivative-free optimiser never asks for gradients")
            }
            Ask::Done(reason) => break reason,
        }
    };
    assert_eq!(reason, Termination::ThresholdReached);
    assert_eq!(sizes[0], n + 1);
    assert!(sizes[1..].iter().all(|&s| s == 1 || s == n), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), state.evaluations());
}

// ---------------------------------------------------------------- the initial simplex

#[test]
fn initial_simplex_steps_along_each_coordinate_and_turns_back_at_bounds() {
    let h = 0.2;
    let x0 = [0.9, 0.0, 0.1, 0.05, 0.02];
    let bs = vec![
        Bounds::new(0.0, 1.0).expect("bounds"), // x0 + h outside: step down
        Bounds::new(f64::NEG_INFINITY, 0.1).expect("bounds"), // one-sided: step down
        Bounds::new(0.0, 0.15).expect("bounds"), // neither fits: the farther end, 0
        Bounds::new(0.0, 0.3).expect("bounds"), // x0 + h fits
        Bounds::new(0.0, 0.15).expect("bounds"), // neither fits: the farther end, 0.15
    ];
    let mut state = NelderMead::new()
        .with_step_size(h)
        .start(&x0, &bs)
        .expect("start");
    let points = batch(&mut state);
    let moved = [x0[0] - h, x0[1] - h, 0.0, x0[3] + h, 0.15];
    assert_eq!(points.len(), 6);
    assert_eq!(points[0], x0.to_vec());
    for i in 0..5 {
        let mut expected = x0.to_vec();
        expected[i] = moved[i];
        assert_eq!(points[i + 1], expected, "vertex {}", i + 1);
    }
    // Before it is told, the simplex is the initial one, unevaluated.
    let (vertices, values) = state.simplex();
    assert_eq!(vertices, points);
    assert!(values.iter().all(|v| *v == f64::INFINITY));

    let mut state = NelderMead::new()
        .start(&[3.0, -2.0], &free(2))
        .expect("start");
    assert_eq!(
        batch(&mut state),
        vec![vec![3.0, -2.0], vec![3.1, -2.0], vec![3.0, -1.9]]
    );
}

// ---------------------------------------------------------------- convergence

#[test]
fn rosenbrock_2d_from_the_classic_start_reaches_the_optimum() {
    // Measured: 183 evaluations (100 steps) to f <= 1e-10; 199 (108 steps) to the default
    // function tolerance. Published Nelder–Mead runs from (−1.2, 1) take a few hundred.
    let opt = NelderMead::new().with_threshold(1e-10);
    let (x, fx, evals, reason) = minimise(&opt, rosenbrock, &[-1.2, 1.0], &free(2));
    assert_eq!(reason, Termination::ThresholdReached);
    assert!(fx <= 1e-10);
    assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-4), "{x:?}");
    assert!(evals < 250, "{evals} evaluations");

    let opt = NelderMead::new().with_threshold(f64::NEG_INFINITY);
    let (x, _, evals, reason) = minimise(&opt, rosenbrock, &[-1.2, 1.0], &free(2));
    assert!(reason.is_success(), "{reason:?}");
    assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-4), "{x:?}");
    assert!(evals < 250, "{evals} evaluations");
}

#[test]
fn the_trajectory_matches_an_independent_implementation() {
    // Reference: scipy 1.17.1 `minimize(method="Nelder-Mead")` (non-adaptive: the same
    // coefficients and acceptance rules) on Rosenbrock from the same initial simplex
    // (−1.2, 1), (−1.1, 1), (−1.2, 1.1); scipy's `maxiter = k + 1` is k steps here. Any change
    // to a step (say, a contraction on the wrong side) sends the trajectory elsewhere.
    let reference: [(usize, usize, [f64; 2], f64); 3] = [
        (
            10,
            21,
            [-0.982_812_5, 0.969_531_25],
            3.932_849_226_593_971_6,
        ),
        (
            50,
            89,
            [0.575_889_095_663_999_5, 0.342_222_847_044_450_7],
            0.191_052_268_374_552_77,
        ),
        (
            100,
            183,
            [0.999_995_140_952_99, 0.999_990_277_592_352_2],
            2.361_221_900_869_977_3e-11,
        ),
    ];
    for (steps, evals, x, fx) in reference {
        let mut state = NelderMead::new()
            .with_threshold(f64::NEG_INFINITY)
            .with_function_tolerance(0.0)
            .with_position_tolerance(0.0)
            .with_max_iter(steps)
            .start(&[-1.2, 1.0], &free(2))
            .expect("start");
        let reason = drive(&mut state, &|x| Outcome::Value(rosenbrock(x)));
        assert_eq!(reason, Termination::MaxIterations);
        assert_eq!(state.evaluations(), evals, "after {steps} steps");
        let (vertices, values) = state.simplex();
        for (a, b) in vertices[0].iter().zip(&x) {
            assert!(
                (a - b).abs() < 1e-9,
                "after {steps} steps: {:?}",
                vertices[0]
            );
        }
        assert!(
            (values[0] - fx).abs() <= 1e-6 * fx,
            "after {steps} steps: {}",
            values[0]
        );
    }
}

#[test]
fn sphere_3d_and_5d_converge() {
    // Measured: 3-D 162 evaluations, 5-D 397 evaluations to f <= 1e-10.
    for (n, budget) in [(3, 200), (5, 450)] {
        let opt = NelderMead::new().with_threshold(1e-10);
        let (x, fx, evals, reason) = minimise(&opt, sphere, &vec![1.0; n], &free(n));
        assert_eq!(reason, Termination::ThresholdReached, "n = {n}");
        assert!(fx <= 1e-10);
        assert!(x.iter().all(|v| v.abs() < 1e-4), "n = {n}: {x:?}");
        assert!(evals < budget, "n = {n}: {evals} evaluations");
    }
}

#[test]
fn a_quadratic_with_its_optimum_on_a_bound_is_solved_inside_the_box() {
    // Minimum of Σ (x_i − t_i)² over [0, 2]³ with t = (−1, 1, 3): the point (0, 1, 2), on two
    // faces of the box. Measured: 793 evaluations to the function tolerance (the simplex has to
    // flatten onto the faces, which Nelder–Mead does slowly).
    let target = [-1.0, 1.0, 3.0];
    let f = |x: &[f64]| {
        x.iter()
            .zip(&target)
            .map(|(v, t)| (v - t).powi(2))
            .sum::<f64>()
    };
    let bs = bounds(0.0, 2.0, 3);
    let opt = NelderMead::new()
        .with_threshold(f64::NEG_INFINITY)
        .with_step_size(0.5);
    let mut state = opt.start(&[1.5, 0.5, 0.5], &bs).expect("start");
    let reason = loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                for x in &points {
                    assert!(x.iter().zip(&bs).all(|(v, b)| b.contains(*v)), "{x:?}");
                }
                let outcomes: Vec<Outcome> = points.iter().map(|x| Outcome::Value(f(x))).collect();
                state.tell(&outcomes).expect("tell");
            }
            Ask::EvaluateWithGradient(_) => {
                unreachable!("a derivative-free optimiser never asks for gradients")
            }
            Ask::Done(reason) => break reason,
        }
    };
    assert!(reason.is_success(), "{reason:?}");
    let (x, fx) = state.best().expect("best");
    let optimum = [0.0, 1.0, 2.0];
    assert!(
        x.iter().zip(&optimum).all(|(v, o)| (v - o).abs() < 1e-4),
        "{x:?} after {} evaluations",
        state.evaluations()
    );
    assert!((fx - 2.0).abs() < 1e-6, "f = {fx}");
}

fn assert_all_asked_points_inside(
    lower: &[f64],
    width: &[f64],
    start: &[f64],
    step: f64,
    target: f64,
) -> Result<(), TestCaseError> {
    let n = lower.len();
    let bs: Vec<Bounds> = (0..n)
        .map(|i| {
            // Every third coordinate is bounded on one side only.
            match i % 3 {
                0 | 1 => Bounds::new(lower[i], lower[i] + width[i]),
                _ => Bounds::new(lower[i], f64::INFINITY),
            }
            .expect("valid bounds")
        })
        .collect();
    let x0: Vec<f64> = (0..n).map(|i| lower[i] + start[i] * width[i]).collect();
    let mut state = NelderMead::new()
        .with_step_size(step)
        .with_threshold(f64::NEG_INFINITY)
        .with_max_iter(60)
        .start(&x0, &bs)
        .expect("start inside the box");
    // The minimum lies outside the box, pulling the search against the bounds.
    let f = |x: &[f64]| x.iter().map(|v| (v - target).powi(2)).sum::<f64>();
    while let Ask::Evaluate(points) = state.ask() {
        for x in &points {
            for (v, b) in x.iter().zip(&bs) {
                prop_assert!(b.contains(*v), "{v} outside {b:?}");
            }
        }
        let outcomes: Vec<Outcome> = points.iter().map(|x| Outcome::from_value(f(x))).collect();
        state.tell(&outcomes).expect("tell");
    }
    let (vertices, _) = state.simplex();
    for x in &vertices {
        prop_assert!(x.iter().zip(&bs).all(|(v, b)| b.contains(*v)));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn asked_points_never_leave_the_bounds(
        n in 1usize..6,
        lower in prop::collection::vec(-100.0f64..100.0, 6),
        width in prop::collection::vec(1e-3f64..50.0, 6),
        start in prop::collection::vec(0.0f64..=1.0, 6),
        step in 1e-3f64..100.0,
        target in -1e3f64..1e3,
    ) {
        assert_all_asked_points_inside(&lower[..n], &width[..n], &start[..n], step, target)?;
    }

    #[test]
    fn the_evaluation_budget_is_never_exceeded(
        n in 1usize..5,
        max in 1usize..150,
        step in 1e-2f64..2.0,
    ) {
        let mut state = NelderMead::new()
            .with_threshold(f64::NEG_INFINITY)
            .with_function_tolerance(0.0)
            .with_position_tolerance(0.0)
            .with_step_size(step)
            .with_max_evaluations(Some(max))
            .start(&vec![0.5; n], &free(n))
            .expect("start");
        let reason = drive(&mut state, &|x| Outcome::Value(rosenbrock(x) + sphere(x)));
        prop_assert_eq!(&reason, &Termination::MaxEvaluations);
        prop_assert!(state.evaluations() <= max);
        if max > n {
            // Stopped only because the next batch (one point, or n for a shrink) did not fit.
            prop_assert!(state.evaluations() + n > max, "{} of {max}", state.evaluations());
            // A step cut short keeps its best point: the simplex agrees with best().
            let (vertices, values) = state.simplex();
            let (bx, bf) = state.best().expect("best");
            prop_assert_eq!(&vertices[0], &bx);
            prop_assert_eq!(values[0], bf);
        } else {
            prop_assert_eq!(state.evaluations(), 0);
            prop_assert!(state.best().is_none());
        }
        prop_assert_eq!(state.history().len(), state.iterations());
    }
}

// ---------------------------------------------------------------- bounds

#[test]
fn out_of_bounds_trial_points_are_folded_in_by_reflection() {
    let by = Bounds::new(-0.75, 2.0).expect("bounds");
    let bs = vec![Bounds::new(-10.0, 10.0).expect("bounds"), by];
    let mut state = NelderMead::new()
        .with_step_size(1.0)
        .with_threshold(f64::NEG_INFINITY)
        .start(&[0.0, 0.0], &bs)
        .expect("start");
    batch(&mut state);
    tell(&mut state, &[0.0, 1.0, 2.0]);
    // x_r = (1, −1) leaves the box; it is mirrored at −0.75 to −0.5, not clamped.
    let xr = point(&mut state);
    assert_eq!(xr, vec![1.0, -0.5]);
    tell(&mut state, &[-1.0]);
    // Expansion along the unfolded reflection: c + 2 ((1, −1) − c) = (1.5, −2), folded.
    let xe = point(&mut state);
    assert_eq!(xe, vec![1.5, by.reflect(-2.0)]);
    assert_eq!(xe, vec![1.5, 0.5]);
    // The folded points are what the algorithm goes on with.
    tell(&mut state, &[-0.5]);
    let (vertices, _) = state.simplex();
    assert_eq!(vertices[0], xr);
}

// ---------------------------------------------------------------- ask/tell and determinism

#[test]
fn hand_driven_out_of_order_evaluation_equals_the_helper_loop() {
    let opt = NelderMead::new().with_threshold(1e-10);
    let x0 = [-1.2, 1.0, 0.5, 0.0];
    let (hx, hf, hevals, hreason) = minimise(&opt, rosenbrock, &x0, &free(4));

    let mut state = opt.start(&x0, &free(4)).expect("valid start");
    let reason = loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                // Evaluate concurrently, finishing in any order, then tell in asked order.
                let mut outcomes: Vec<Option<Outcome>> = vec![None; points.len()];
                std::thread::scope(|s| {
                    for (slot, x) in outcomes.iter_mut().zip(&points).rev() {
                        s.spawn(move || *slot = Some(Outcome::from_value(rosenbrock(x))));
                    }
                });
                let outcomes: Vec<Outcome> = outcomes
                    .into_iter()
                    .map(|o| o.expect("evaluated"))
                    .collect();
                // Asking again before telling must not change the batch.
                assert_eq!(state.ask(), Ask::Evaluate(points.clone()));
                state.tell(&outcomes).expect("one outcome per point");
            }
            Ask::EvaluateWithGradient(_) => {
                unreachable!("a derivative-free optimiser never asks for gradients")
            }
            Ask::Done(reason) => break reason,
        }
    };
    let (x, f) = state.best().expect("best");
    assert_eq!(reason, hreason);
    assert_eq!(f.to_bits(), hf.to_bits());
    assert_eq!(x, hx);
    assert_eq!(state.evaluations(), hevals);
    assert_eq!(state.termination(), Some(&hreason));
}

fn asked_sequence(step_size: f64) -> (Vec<u64>, NelderMeadState) {
    let mut state = NelderMead::new()
        .with_step_size(step_size)
        .with_max_iter(200)
        .start(&[0.5, -0.3, 2.0], &bounds(-1.0, 2.5, 3))
        .expect("valid start");
    let mut bits = Vec::new();
    while let Ask::Evaluate(points) = state.ask() {
        bits.extend(points.iter().flatten().map(|v| v.to_bits()));
        let outcomes: Vec<Outcome> = points
            .iter()
            .map(|x| Outcome::Value(rosenbrock(x)))
            .collect();
        state.tell(&outcomes).expect("tell");
    }
    (bits, state)
}

#[test]
fn runs_are_deterministic_bit_for_bit() {
    let (a, sa) = asked_sequence(0.3);
    let (b, sb) = asked_sequence(0.3);
    assert!(a.len() > 100);
    assert_eq!(a, b);
    assert_eq!(sa.simplex(), sb.simplex());
    assert_eq!(sa.history(), sb.history());
    assert_eq!(sa.termination(), sb.termination());
    let (c, _) = asked_sequence(0.31);
    assert_ne!(a, c);
}

#[test]
fn history_is_the_best_value_after_each_step() {
    let mut state = NelderMead::new()
        .with_max_iter(40)
        .init(&[-1.0, 0.5, 2.0, 1.5], &free(4))
        .expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(rosenbrock(x)));
    assert_eq!(reason, Termination::MaxIterations);
    let h = state.history();
    assert_eq!(h.len(), 40);
    assert_eq!(state.iterations(), 40);
    assert!(h.windows(2).all(|w| w[1] <= w[0]));
    assert_eq!(h[39], state.best().expect("best").1);
    assert!(h[39] < h[0]);
    assert!(state.covariance().is_none());
}

#[test]
fn the_final_simplex_is_sorted_and_starts_with_the_best_point() {
    let opt = NelderMead::new().with_threshold(f64::NEG_INFINITY);
    let mut state = opt.start(&[2.0, 2.0, 2.0], &free(3)).expect("start");
    let reason = drive(&mut state, &|x| Outcome::Value(sphere(x)));
    assert!(reason.is_success(), "{reason:?}");
    let (vertices, values) = state.simplex();
    assert_eq!(vertices.len(), 4);
    assert!(values.windows(2).all(|w| w[0] <= w[1]));
    for (x, v) in vertices.iter().zip(&values) {
        assert_eq!(sphere(x), *v);
    }
    assert_eq!(state.best(), Some((vertices[0].clone(), values[0])));
}

// ---------------------------------------------------------------- failed evaluations

#[test]
fn failures_on_part_of_the_space_do_not_abort_the_run() {
    // Undefined for x0 < 0; the minimum (0.1, 0, 0) is close to the failing half.
    let f = |x: &[f64]| -> Outcome {
        if x[0] < 0.0 {
            Outcome::Failed("model diverged".into())
        } else {
            Outcome::Value((x[0] - 0.1).powi(2) + x[1..].iter().map(|v| v * v).sum::<f64>())
        }
    };
    let mut state = NelderMead::new()
        .with_step_size(1.0)
        .with_threshold(1e-10)
        .init(&[1.0; 3], &free(3))
        .expect("start");
    let reason = drive(state.as_mut(), &f);
    assert_eq!(reason, Termination::ThresholdReached);
    assert!(
        state.failed_evaluations() > 0,
        "the test never hit the failing half"
    );
    let (x, _) = state.best().expect("best");
    assert!((x[0] - 0.1).abs() < 1e-4, "{x:?}");
}

#[test]
fn failed_initial_vertices_rank_worst_and_are_replaced() {
    // The vertex (0, 0.55) of the initial simplex fails; the run goes on and converges.
    let f = |x: &[f64]| -> Outcome {
        if x[1] > 0.5 {
            Outcome::Failed("no solution".into())
        } else {
            Outcome::Value(sphere(x))
        }
    };
    let mut state = NelderMead::new()
        .with_threshold(1e-10)
        .start(&[0.2, 0.45], &free(2))
        .expect("start");
    let points = batch(&mut state);
    let outcomes: Vec<Outcome> = points.iter().map(|x| f(x)).collect();
    assert!(outcomes[2].is_failed());
    state.tell(&outcomes).expect("tell");
    assert_eq!(state.failed_evaluations(), 1);
    let (vertices, values) = state.simplex();
    assert_eq!(vertices[2], points[2]);
    assert_eq!(values[2], f64::INFINITY);
    let reason = drive(&mut state, &f);
    assert_eq!(reason, Termination::ThresholdReached);
    let (_, values) = state.simplex();
    assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
}

#[test]
fn non_finite_values_rank_worst_and_count_as_failures() {
    let mut state = NelderMead::new()
        .with_step_size(1.0)
        .start(&[0.0; 3], &free(3))
        .expect("start");
    batch(&mut state);
    let outcomes = vec![
        Outcome::Value(f64::NAN),
        Outcome::Value(f64::NEG_INFINITY),
        Outcome::Failed("nope".into()),
        Outcome::Value(4.0),
    ];
    state.tell(&outcomes).expect("tell");
    assert_eq!(state.failed_evaluations(), 3);
    assert_eq!(state.evaluations(), 4);
    assert_eq!(state.best(), Some((vec![0.0, 0.0, 1.0], 4.0)));
    let (vertices, values) = state.simplex();
    assert_eq!(vertices[0], vec![0.0, 0.0, 1.0]);
    // Failures keep their asked order among themselves (a stable sort).
    assert_eq!(
        vertices[1..],
        [vec![0.0; 3], vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]]
    );
    assert_eq!(
        values,
        vec![4.0, f64::INFINITY, f64::INFINITY, f64::INFINITY]
    );
    // The worst vertex (a failure) is reflected through the centroid of the others.
    let c = [1.0 / 3.0, 0.0, 1.0 / 3.0];
    let xh = [0.0, 1.0, 0.0];
    let expected: Vec<f64> = c.iter().zip(&xh).map(|(c, h)| c + (c - h)).collect();
    assert_eq!(point(&mut state), expected);
}

#[test]
fn a_wholly_failed_initial_simplex_stalls() {
    let mut state = NelderMead::new()
        .start(&[1.0, 2.0], &free(2))
        .expect("start");
    let reason = drive(&mut state, &|_| Outcome::Failed("solver failed".into()));
    assert_eq!(
        reason,
        Termination::Stalled(
            "every vertex of the initial simplex failed to evaluate; check the model, the \
             starting point and the step size"
                .into()
        )
    );
    assert_eq!(state.evaluations(), 3);
    assert_eq!(state.failed_evaluations(), 3);
    assert_eq!(state.iterations(), 0);
    assert!(state.best().is_none());
    assert!(state.history().is_empty());
}

#[test]
fn a_trial_point_overflowing_stalls_instead_of_asking_for_it() {
    // Values falling without bound make every step an expansion, doubling the simplex until a
    // trial point overflows to infinity.
    let mut state = NelderMead::new()
        .with_step_size(1e300)
        .with_threshold(f64::NEG_INFINITY)
        .with_max_iter(100_000)
        .start(&[0.0], &free(1))
        .expect("start");
    let reason = loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                assert!(points.iter().flatten().all(|v| v.is_finite()));
                let outcomes: Vec<Outcome> = points.iter().map(|x| Outcome::Value(-x[0])).collect();
                state.tell(&outcomes).expect("tell");
            }
            Ask::EvaluateWithGradient(_) => {
                unreachable!("a derivative-free optimiser never asks for gradients")
            }
            Ask::Done(reason) => break reason,
        }
    };
    match reason {
        Termination::Stalled(why) => assert!(why.contains("non-finite"), "{why}"),
        other => panic!("expected a stall, got {other:?}"),
    }
}

// ---------------------------------------------------------------- stopping criteria

#[test]
fn max_iter_and_max_evaluations_stop_the_run() {
    let mut state = NelderMead::new()
        .with_max_iter(7)
        .init(&[3.0; 5], &free(5))
        .expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(rosenbrock(x)));
    assert_eq!(reason, Termination::MaxIterations);
    assert_eq!(state.iterations(), 7);
    assert_eq!(state.history().len(), 7);

    // Fewer evaluations allowed than the initial simplex has vertices: nothing is asked.
    let mut state = NelderMead::new()
        .with_max_evaluations(Some(5))
        .init(&[3.0; 5], &free(5))
        .expect("start");
    assert_eq!(state.ask(), Ask::Done(Termination::MaxEvaluations));
    assert_eq!(state.evaluations(), 0);

    // Exactly the initial simplex.
    let mut state = NelderMead::new()
        .with_max_evaluations(Some(6))
        .init(&[3.0; 5], &free(5))
        .expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(rosenbrock(x)));
    assert_eq!(reason, Termination::MaxEvaluations);
    assert_eq!(state.evaluations(), 6);
    assert_eq!(state.iterations(), 0);
}

#[test]
fn a_step_cut_short_by_the_budget_keeps_its_reflection() {
    // The reflection is better than the best vertex, so an expansion is due, but the budget
    // (initial simplex + 1) is spent: the run stops and the reflection joins the simplex.
    let mut state = NelderMead::new()
        .with_step_size(1.0)
        .with_threshold(f64::NEG_INFINITY)
        .with_max_evaluations(Some(4))
        .start(&[0.0, 0.0], &free(2))
        .expect("start");
    batch(&mut state);
    tell(&mut state, &[0.0, 1.0, 2.0]);
    let xr = point(&mut state);
    tell(&mut state, &[-1.0]);
    assert_eq!(state.ask(), Ask::Done(Termination::MaxEvaluations));
    assert_eq!(state.evaluations(), 4);
    assert_eq!(state.iterations(), 0);
    let (vertices, values) = state.simplex();
    assert_eq!(vertices, vec![xr.clone(), vec![0.0, 0.0], vec![1.0, 0.0]]);
    assert_eq!(values, vec![-1.0, 0.0, 1.0]);
    assert_eq!(state.best(), Some((xr, -1.0)));
}

#[test]
fn threshold_stops_at_the_first_step_good_enough() {
    let opt = NelderMead::new().with_threshold(1e-2);
    let mut state = opt.init(&[1.0; 3], &free(3)).expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(sphere(x)));
    assert_eq!(reason, Termination::ThresholdReached);
    let h = state.history();
    assert!(h[h.len() - 1] <= 1e-2);
    assert!(h[h.len() - 2] > 1e-2, "should have stopped a step earlier");

    // A start already good enough stops after the initial simplex.
    let mut state = opt.init(&[0.01; 3], &free(3)).expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(sphere(x)));
    assert_eq!(reason, Termination::ThresholdReached);
    assert_eq!((state.iterations(), state.evaluations()), (0, 4));
}

/// The largest distance of a vertex from the best one, and the spread of the values.
fn size_and_spread(state: &NelderMeadState) -> (f64, f64) {
    let (vertices, values) = state.simplex();
    let size = vertices[1..]
        .iter()
        .map(|x| {
            x.iter()
                .zip(&vertices[0])
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        })
        .fold(0.0, f64::max);
    (size, values[values.len() - 1] - values[0])
}

#[test]
fn convergence_needs_both_tolerances_as_in_scipy() {
    // A flat objective: the values agree at once, the simplex must still shrink.
    let opt = NelderMead::new().with_threshold(f64::NEG_INFINITY);
    let mut state = opt.start(&[1.0; 4], &free(4)).expect("start");
    let reason = drive(&mut state, &|_| Outcome::Value(3.0));
    assert_eq!(reason, Termination::FunctionTolerance);
    let (size, spread) = size_and_spread(&state);
    assert!(size <= 1e-8 && spread == 0.0, "{size} {spread}");
    assert!(state.iterations() > 0);

    // Values still differing when the simplex has collapsed: the position tolerance.
    let opt = NelderMead::new()
        .with_threshold(f64::NEG_INFINITY)
        .with_function_tolerance(0.0)
        .with_position_tolerance(1e-9);
    let mut state = opt.start(&[1.0; 3], &free(3)).expect("start");
    let reason = drive(&mut state, &|x| Outcome::from_value(sphere(x).sqrt()));
    assert_eq!(reason, Termination::PositionTolerance);
    let (size, spread) = size_and_spread(&state);
    assert!(size <= 1e-9 && spread > 0.0, "{size} {spread}");
}

#[test]
fn equal_values_either_side_of_the_minimum_do_not_stop_the_run() {
    // From 0 with the default step, two vertices land at 1.2 and 1.3, whose values are equal;
    // stopping on the values alone would report 1.2.
    let f = |x: &[f64]| (x[0] - 1.25).powi(2) + 0.5;
    let mut state = NelderMead::new().start(&[0.0], &free(1)).expect("start");
    let reason = drive(&mut state, &|x| Outcome::from_value(f(x)));
    assert_eq!(reason, Termination::FunctionTolerance);
    let (x, v) = state.best().expect("evaluated");
    assert!((x[0] - 1.25).abs() < 1e-6, "{x:?}");
    assert!((v - 0.5).abs() < 1e-12);
}

// ---------------------------------------------------------------- settings and errors

fn setting_of(err: &CoreError) -> &'static str {
    match err {
        CoreError::InvalidSetting { setting, .. } => setting,
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
}

/// Checks that `opt` is rejected, by `validate` and by `init`, naming `name` in a message that
/// contains `requirement`.
fn assert_invalid(opt: &NelderMead, name: &str, requirement: &str) {
    let err = opt.validate().expect_err(name);
    assert_eq!(setting_of(&err), name, "{err}");
    let message = err.to_string();
    assert!(message.contains(name), "{message}");
    assert!(message.contains(requirement), "{message}");
    let Err(err) = opt.init(&[1.0], &free(1)) else {
        panic!("init accepted an invalid {name}");
    };
    assert_eq!(setting_of(&err), name);
}

#[test]
fn every_invalid_setting_is_named() {
    let nm = NelderMead::new;
    let positive = "finite number > 0";
    let cases = [
        (nm().with_step_size(0.0), "step_size", positive),
        (nm().with_step_size(-1.0), "step_size", positive),
        (nm().with_step_size(f64::NAN), "step_size", positive),
        (nm().with_step_size(f64::INFINITY), "step_size", positive),
        (
            nm().with_max_evaluations(Some(0)),
            "max_evaluations",
            "None",
        ),
        (nm().with_threshold(f64::NAN), "threshold", "not NaN"),
        (
            nm().with_function_tolerance(-1e-3),
            "function_tolerance",
            ">= 0",
        ),
        (
            nm().with_function_tolerance(f64::NAN),
            "function_tolerance",
            ">= 0",
        ),
        (
            nm().with_position_tolerance(-1e-3),
            "position_tolerance",
            ">= 0",
        ),
        (
            nm().with_position_tolerance(f64::NAN),
            "position_tolerance",
            ">= 0",
        ),
    ];
    for (opt, name, requirement) in &cases {
        assert_invalid(opt, name, requirement);
    }
    let err = nm().with_step_size(-1.0).validate().expect_err("invalid");
    assert_eq!(
        err,
        CoreError::InvalidSetting {
            setting: "step_size",
            value: "-1".into(),
            requirement: "step_size must be a finite number > 0",
        }
    );
}

#[test]
fn every_invalid_coefficient_is_named() {
    let (nan, inf) = (f64::NAN, f64::INFINITY);
    let within = "strictly between 0 and 1";
    let cases = [
        (
            [0.0, 2.0, 0.5, 0.5],
            "alpha",
            "reflection coefficient) must be a finite number > 0",
        ),
        ([-1.0, 2.0, 0.5, 0.5], "alpha", "> 0"),
        ([nan, 2.0, 0.5, 0.5], "alpha", "> 0"),
        ([inf, 2.0, 0.5, 0.5], "alpha", "finite"),
        (
            [0.5, 1.0, 0.5, 0.5],
            "gamma",
            "expansion coefficient) must be a finite number > 1",
        ),
        ([0.5, 0.9, 0.5, 0.5], "gamma", "> 1"),
        ([1.0, nan, 0.5, 0.5], "gamma", "> 1"),
        ([1.0, inf, 0.5, 0.5], "gamma", "finite"),
        ([2.0, 1.5, 0.5, 0.5], "gamma", "must be greater than alpha"),
        ([2.0, 2.0, 0.5, 0.5], "gamma", "must be greater than alpha"),
        (
            [1.0, 2.0, 0.0, 0.5],
            "rho",
            "contraction coefficient) must lie strictly",
        ),
        ([1.0, 2.0, 1.0, 0.5], "rho", within),
        ([1.0, 2.0, -0.5, 0.5], "rho", within),
        ([1.0, 2.0, nan, 0.5], "rho", within),
        (
            [1.0, 2.0, 0.5, 0.0],
            "sigma",
            "shrink coefficient) must lie strictly",
        ),
        ([1.0, 2.0, 0.5, 1.0], "sigma", within),
        ([1.0, 2.0, 0.5, 1.5], "sigma", within),
        ([1.0, 2.0, 0.5, nan], "sigma", within),
    ];
    for ([alpha, gamma, rho, sigma], name, requirement) in cases {
        let opt = NelderMead::new().with_coefficients(alpha, gamma, rho, sigma);
        assert_invalid(&opt, name, requirement);
    }
}

#[test]
fn valid_settings_are_accepted_and_read_back() {
    let opt = NelderMead::new()
        .with_max_iter(1)
        .with_max_evaluations(Some(1))
        .with_threshold(f64::NEG_INFINITY)
        .with_step_size(1e-300)
        .with_function_tolerance(0.0)
        .with_position_tolerance(0.0)
        .with_coefficients(1e-3, 1.0 + 1e-12, 0.99, 1e-6);
    opt.validate().expect("valid");
    assert_eq!(opt.max_iter(), 1);
    assert_eq!(opt.max_evaluations(), Some(1));
    assert_eq!(opt.threshold(), f64::NEG_INFINITY);
    assert_eq!(opt.step_size(), 1e-300);
    assert_eq!(opt.function_tolerance(), 0.0);
    assert_eq!(opt.position_tolerance(), 0.0);
    assert_eq!(opt.coefficients(), (1e-3, 1.0 + 1e-12, 0.99, 1e-6));
    // Expansion may be weaker than 2, as long as it beats the reflection.
    NelderMead::new()
        .with_coefficients(1.2, 1.5, 0.75, 0.9)
        .validate()
        .expect("valid");

    let d = NelderMead::default();
    assert_eq!(
        (
            d.max_iter(),
            d.max_evaluations(),
            d.threshold(),
            d.step_size()
        ),
        (1000, None, f64::NEG_INFINITY, 0.1)
    );
    assert_eq!(
        (d.position_tolerance(), d.function_tolerance()),
        (1e-8, 1e-12)
    );
    assert_eq!(d.coefficients(), (1.0, 2.0, 0.5, 0.5));
    assert_eq!(d.name(), "nelder_mead");
    let state = d.start(&[1.0], &free(1)).expect("start");
    assert_eq!(state.config().step_size(), 0.1);
    assert_eq!(state.termination(), None);
}

#[test]
fn bad_starts_are_rejected() {
    let opt = NelderMead::new();
    assert!(matches!(
        opt.init(&[1.0, 2.0], &free(3)),
        Err(CoreError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        opt.init(&[5.0], &bounds(0.0, 1.0, 1)),
        Err(CoreError::InitialOutOfBounds { .. })
    ));
    assert!(matches!(opt.init(&[], &[]), Err(CoreError::NoParameters)));
}

#[test]
fn tell_errors() {
    let mut state = NelderMead::new()
        .with_max_iter(1)
        .with_threshold(f64::NEG_INFINITY)
        .start(&[1.0; 2], &free(2))
        .expect("start");
    assert_eq!(
        state.tell(&[Outcome::Value(1.0)]),
        Err(TellError::NothingAsked)
    );
    let points = batch(&mut state);
    assert_eq!(
        state.tell(&[Outcome::Value(1.0)]),
        Err(TellError::ResultCountMismatch {
            expected: 3,
            received: 1
        })
    );
    // A rejected tell leaves the batch pending and counts nothing.
    assert_eq!(batch(&mut state), points);
    assert_eq!(state.evaluations(), 0);
    tell(&mut state, &[2.0, 1.0, 3.0]);
    assert_eq!(
        state.tell(&[Outcome::Value(1.0)]),
        Err(TellError::NothingAsked)
    );
    // Mid-step: one point asked; two results are a mismatch.
    let xr = point(&mut state);
    assert_eq!(
        state.tell(&[Outcome::Value(1.0), Outcome::Value(1.0)]),
        Err(TellError::ResultCountMismatch {
            expected: 1,
            received: 2
        })
    );
    assert_eq!(point(&mut state), xr);
    tell(&mut state, &[1.5]); // accepted: one step done
    assert_eq!(state.ask(), Ask::Done(Termination::MaxIterations));
    assert_eq!(state.ask(), Ask::Done(Termination::MaxIterations));
    assert_eq!(
        state.tell(&[Outcome::Value(1.0)]),
        Err(TellError::AlreadyTerminated)
    );
    assert_eq!(state.termination(), Some(&Termination::MaxIterations));
}

#[test]
fn adaptive_coefficients_are_gao_and_hans_and_help_in_more_dimensions() {
    let opt = NelderMead::new().with_adaptive(true);
    assert_eq!(opt.coefficients_for(2), (1.0, 2.0, 0.5, 0.5));
    assert_eq!(opt.coefficients_for(10), (1.0, 1.2, 0.7, 0.9));
    assert_eq!(
        opt.clone()
            .with_coefficients(1.0, 2.0, 0.5, 0.5)
            .coefficients_for(10),
        (1.0, 2.0, 0.5, 0.5)
    );
    // A 12-D ill-conditioned quadratic: the standard coefficients stall far from the
    // minimum, the adaptive ones reach it (Gao and Han's motivating case).
    let n = 12;
    let run = |opt: NelderMead| {
        let opt = opt
            .with_threshold(1e-8)
            .with_max_iter(40_000)
            .with_function_tolerance(0.0)
            .with_position_tolerance(0.0);
        let mut state = opt.start(&vec![1.0; n], &free(n)).expect("start");
        drive(&mut state, &|x| Outcome::from_value(ellipsoid(x)));
        (state.best().expect("evaluated").1, state.evaluations())
    };
    let (standard, _) = run(NelderMead::new());
    let (adaptive, evals) = run(NelderMead::new().with_adaptive(true));
    assert!(
        adaptive <= 1e-8,
        "adaptive reached {adaptive} in {evals} evaluations"
    );
    assert!(
        standard > 1e3 * adaptive,
        "standard {standard}, adaptive {adaptive}"
    );
}
