//! Behaviour of CMA-ES through its public ask/tell interface: convergence on the standard test
//! functions within pycma-like budgets, determinism, bounds, failures, stopping and errors.

// Exact float comparisons are the point here: runs must be bit-for-bit reproducible, and
// settings must read back exactly as set.
#![allow(clippy::float_cmp)]

use diffid_core::testkit::{ellipsoid, rastrigin, rosenbrock, sphere};
use diffid_core::{Ask, AskTell, Bounds, CoreError, Optimiser, OptimiserState, Outcome};
use diffid_core::{TellError, Termination};
use diffid_optim::{CmaEs, CmaEsState};
use proptest::prelude::*;

mod common;
use common::{bounds, drive, free, minimise};

fn tight(seed: u64) -> CmaEs {
    CmaEs::new()
        .with_seed(seed)
        .with_threshold(1e-8)
        .with_max_iter(100_000)
}

fn batch(state: &mut CmaEsState) -> Vec<Vec<f64>> {
    match state.ask() {
        Ask::Evaluate(points) => points,
        Ask::EvaluateWithGradient(_) => {
            unreachable!("a derivative-free optimiser never asks for gradients")
        }
        Ask::Done(reason) => panic!("unexpectedly done: {reason}"),
    }
}

fn tell_values(state: &mut CmaEsState, points: &[Vec<f64>], f: impl Fn(&[f64]) -> f64) {
    let outcomes: Vec<Outcome> = points.iter().map(|x| Outcome::from_value(f(x))).collect();
    state.tell(&outcomes).expect("one outcome per point");
}

// ---------------------------------------------------------------- convergence within budgets

#[test]
fn sphere_10d_converges_within_a_pycma_like_budget() {
    // Measured: 1190–1490 evaluations over seeds 1..=20 (pycma: ~1500–2000).
    for seed in 1..=5 {
        let (x, fx, evals, reason) = minimise(&tight(seed), sphere, &[1.0; 10], &free(10));
        assert_eq!(reason, Termination::ThresholdReached, "seed {seed}");
        assert!(fx <= 1e-8, "seed {seed}: f = {fx}");
        assert!(evals < 2000, "seed {seed}: {evals} evaluations");
        assert!(x.iter().all(|v| v.abs() < 1e-3), "seed {seed}: {x:?}");
    }
}

#[test]
fn ellipsoid_10d_converges_within_a_pycma_like_budget() {
    // Condition number 1e6: needs the covariance to adapt. Measured: 5320–6290 evaluations over
    // seeds 1..=20 (pycma: ~6000–7000). Without the rank-μ update it takes ~7500–8200, so the
    // budget also checks that update.
    for seed in 1..=3 {
        let (_, fx, evals, reason) = minimise(&tight(seed), ellipsoid, &[1.0; 10], &free(10));
        assert_eq!(reason, Termination::ThresholdReached, "seed {seed}");
        assert!(fx <= 1e-8);
        assert!(evals < 7000, "seed {seed}: {evals} evaluations");
    }
}

#[test]
fn rosenbrock_2d_reaches_the_optimum() {
    for seed in 1..=5 {
        let (x, fx, evals, reason) = minimise(&tight(seed), rosenbrock, &[-1.2, 1.0], &free(2));
        assert_eq!(reason, Termination::ThresholdReached, "seed {seed}");
        assert!(fx <= 1e-8);
        assert!(evals < 2000, "seed {seed}: {evals} evaluations");
        assert!(
            x.iter().all(|v| (v - 1.0).abs() < 1e-3),
            "seed {seed}: {x:?}"
        );
    }
}

#[test]
fn rosenbrock_10d_reaches_the_optimum_for_most_seeds() {
    // A run occasionally ends in the local minimum near x0 = -1 (seed 1 does, at f ≈ 3.99);
    // the others need 5490–7680 evaluations (pycma: ~6000–8000).
    let mut successes = 0;
    for seed in 1..=8 {
        let opt = tight(seed).with_max_evaluations(Some(15_000));
        let (x, fx, _, reason) = minimise(&opt, rosenbrock, &[0.0; 10], &free(10));
        if reason == Termination::ThresholdReached {
            assert!(fx <= 1e-8);
            assert!(
                x.iter().all(|v| (v - 1.0).abs() < 1e-3),
                "seed {seed}: {x:?}"
            );
            successes += 1;
        }
    }
    assert!(
        successes >= 6,
        "only {successes} of 8 seeds reached the optimum"
    );
}

#[test]
fn rastrigin_runs_end_on_a_convergence_criterion() {
    // Many local minima: no promise of the global one, but the run must converge somewhere
    // (function or position tolerance) rather than run into a limit.
    let opt = CmaEs::new()
        .with_seed(3)
        .with_threshold(f64::NEG_INFINITY)
        .with_function_tolerance(1e-10)
        .with_max_iter(20_000);
    let start = [2.0; 5];
    let (x, fx, _, reason) = minimise(&opt, rastrigin, &start, &free(5));
    assert!(reason.is_success(), "{reason:?}");
    // It converged to a local minimum: the gradient 2x + 20π sin(2πx) vanishes in every
    // coordinate, each near an integer, and it is no worse than the start.
    let tau = std::f64::consts::TAU;
    for &xi in &x {
        let g = 2.0 * xi + 10.0 * tau * (tau * xi).sin();
        assert!(g.abs() < 1e-3, "gradient {g} at {x:?}");
        assert!((xi - xi.round()).abs() < 0.1, "{x:?}");
    }
    assert!(fx <= rastrigin(&start), "f = {fx}");
}

// ---------------------------------------------------------------- ask/tell and determinism

#[test]
fn hand_driven_out_of_order_evaluation_equals_the_helper_loop() {
    let opt = CmaEs::new().with_seed(42).with_threshold(1e-10);
    let (hx, hf, hevals, hreason) = minimise(&opt, ellipsoid, &[1.0; 6], &free(6));

    let mut state = opt.start(&[1.0; 6], &free(6)).expect("valid start");
    let reason = loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                // Evaluate concurrently, finishing in any order, then tell in asked order.
                let mut outcomes: Vec<Option<Outcome>> = vec![None; points.len()];
                std::thread::scope(|s| {
                    for (slot, x) in outcomes.iter_mut().zip(&points).rev() {
                        s.spawn(move || *slot = Some(Outcome::from_value(ellipsoid(x))));
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

fn asked_sequence(seed: u64, generations: usize) -> Vec<Vec<Vec<f64>>> {
    let mut state = CmaEs::new()
        .with_seed(seed)
        .start(&[0.5, -0.3, 2.0], &bounds(-1.0, 2.5, 3))
        .expect("valid start");
    (0..generations)
        .map(|_| {
            let points = batch(&mut state);
            tell_values(&mut state, &points, rosenbrock);
            points
        })
        .collect()
}

fn bits(seq: &[Vec<Vec<f64>>]) -> Vec<u64> {
    seq.iter()
        .flatten()
        .flatten()
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn same_seed_gives_bit_identical_points_and_different_seeds_differ() {
    let a = asked_sequence(7, 30);
    let b = asked_sequence(7, 30);
    assert_eq!(bits(&a), bits(&b));
    let c = asked_sequence(8, 30);
    assert_ne!(a[0], c[0]);
}

#[test]
fn unseeded_states_draw_their_own_seed_and_replay_with_it() {
    let opt = CmaEs::new();
    let mut s1 = opt.start(&[1.0, 1.0], &free(2)).expect("start");
    let s2 = opt.start(&[1.0, 1.0], &free(2)).expect("start");
    assert_ne!(s1.seed(), s2.seed());
    let mut replay = opt
        .clone()
        .with_seed(s1.seed())
        .start(&[1.0, 1.0], &free(2))
        .expect("start");
    assert_eq!(batch(&mut s1), batch(&mut replay));
}

#[test]
fn batches_have_the_default_population_size() {
    let opt = CmaEs::new().with_seed(1);
    assert_eq!(opt.population_size_for(10), 10);
    assert_eq!(opt.population_size_for(2), 6);
    let mut state = opt.start(&[0.0; 10], &free(10)).expect("start");
    assert_eq!(state.population_size(), 10);
    assert_eq!(batch(&mut state).len(), 10);
    let mut state = opt
        .with_population_size(17)
        .start(&[0.0; 10], &free(10))
        .expect("start");
    let points = batch(&mut state);
    assert_eq!(points.len(), 17);
    assert!(points.iter().all(|x| x.len() == 10));
}

#[test]
fn history_is_the_best_so_far_after_each_generation() {
    let mut state = CmaEs::new()
        .with_seed(5)
        .with_max_iter(40)
        .init(&[1.0; 4], &free(4))
        .expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(sphere(x)));
    assert_eq!(reason, Termination::MaxIterations);
    let h = state.history();
    assert_eq!(h.len(), 40);
    assert_eq!(state.iterations(), 40);
    assert!(h.windows(2).all(|w| w[1] <= w[0]));
    assert_eq!(h[39], state.best().expect("best").1);
    assert!(h[39] < h[0]);
}

// ---------------------------------------------------------------- covariance

fn is_symmetric(c: &[f64], n: usize) -> bool {
    (0..n).all(|i| (0..n).all(|j| c[i * n + j] == c[j * n + i]))
}

#[test]
fn covariance_is_sigma_squared_times_c() {
    let n = 4;
    // At the start C = I, so the covariance is σ0² I.
    let state = CmaEs::new()
        .with_step_size(0.3)
        .start(&[1.0; 4], &free(4))
        .expect("start");
    let cov = state.covariance().expect("CMA-ES has a covariance");
    for i in 0..n {
        for j in 0..n {
            let expected = if i == j { 0.09 } else { 0.0 };
            assert!((cov[i * n + j] - expected).abs() < 1e-15);
        }
    }

    // The sphere centred on the start is scale invariant: starting with 2σ draws the same steps
    // y, ranks them the same, and so learns the same C and paths, with σ exactly twice as large.
    // The covariance must therefore be 4 times as large, generation after generation.
    let mut small = CmaEs::new()
        .with_seed(11)
        .with_step_size(0.25)
        .start(&[0.0; 4], &free(4))
        .expect("start");
    let mut large = CmaEs::new()
        .with_seed(11)
        .with_step_size(0.5)
        .start(&[0.0; 4], &free(4))
        .expect("start");
    let stretched = |x: &[f64]| sphere(x) + 9.0 * x[0] * x[0] + 3.0 * x[0] * x[1];
    for generation in 0..25 {
        let ps = batch(&mut small);
        let pl = batch(&mut large);
        tell_values(&mut small, &ps, stretched);
        tell_values(&mut large, &pl, stretched);
        let cs = small.covariance().expect("cov");
        let cl = large.covariance().expect("cov");
        assert!(is_symmetric(&cs, n) && is_symmetric(&cl, n));
        assert!((large.sigma() / small.sigma() - 2.0).abs() < 1e-9);
        for (a, b) in cs.iter().zip(&cl) {
            assert!(
                (b - 4.0 * a).abs() <= 1e-9 * b.abs().max(1e-300),
                "generation {generation}: {b} vs 4 × {a}"
            );
        }
        // σ² C differs from C alone once σ has moved away from 1.
        let c_diag = cs[0] / (small.sigma() * small.sigma());
        assert!(c_diag.is_finite() && c_diag > 0.0);
    }
    // The learned shape follows the objective: x0 is the steep coordinate, and the x0–x1
    // coupling 3 x0 x1 makes them negatively correlated in the search distribution.
    let c = small.covariance().expect("cov");
    assert!(
        c[0] < c[2 * n + 2],
        "var x0 {} vs var x2 {}",
        c[0],
        c[2 * n + 2]
    );
    assert!(c[1] < 0.0, "cov(x0, x1) = {}", c[1]);
}

#[test]
fn covariance_shrinks_as_the_run_converges() {
    let mut state = CmaEs::new()
        .with_seed(2)
        .with_threshold(1e-12)
        .init(&[1.0; 3], &free(3))
        .expect("start");
    let before = state.covariance().expect("cov")[0];
    drive(state.as_mut(), &|x| Outcome::from_value(sphere(x)));
    let after = state.covariance().expect("cov");
    assert!(after[0] < 1e-6 * before, "{} vs {before}", after[0]);
    assert!(is_symmetric(&after, 3));
}

// ---------------------------------------------------------------- bounds

#[test]
fn bounded_optimum_on_the_boundary_is_found() {
    // Unconstrained minimum at 0 lies outside [0.5, 3]^4: the answer is the corner 0.5.
    let opt = CmaEs::new()
        .with_seed(4)
        .with_threshold(f64::NEG_INFINITY)
        .with_step_size(1.0);
    let (x, fx, _, reason) = minimise(&opt, sphere, &[2.0; 4], &bounds(0.5, 3.0, 4));
    assert!(reason.is_success(), "{reason:?} {x:?} {fx}");
    assert!(x.iter().all(|v| (v - 0.5).abs() < 1e-4), "{x:?}");
    assert!((fx - 1.0).abs() < 1e-3);
}

fn assert_all_asked_points_inside(
    lower: &[f64],
    width: &[f64],
    start: &[f64],
    step: f64,
    seed: u64,
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
    let mut state = CmaEs::new()
        .with_seed(seed)
        .with_step_size(step)
        .with_max_iter(15)
        .start(&x0, &bs)
        .expect("start inside the box");
    // The minimum lies outside the box, pulling the search against the bounds.
    let f = |x: &[f64]| x.iter().map(|v| (v - target).powi(2)).sum::<f64>();
    loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                for x in &points {
                    for (v, b) in x.iter().zip(&bs) {
                        prop_assert!(b.contains(*v), "{v} outside {b:?}");
                    }
                }
                tell_values(&mut state, &points, f);
                prop_assert!(state.mean().iter().zip(&bs).all(|(m, b)| b.contains(*m)));
            }
            Ask::EvaluateWithGradient(_) => {
                unreachable!("a derivative-free optimiser never asks for gradients")
            }
            Ask::Done(_) => return Ok(()),
        }
    }
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
        seed in any::<u64>(),
        target in -1e3f64..1e3,
    ) {
        assert_all_asked_points_inside(
            &lower[..n], &width[..n], &start[..n], step, seed, target,
        )?;
    }
}

// ---------------------------------------------------------------- failed evaluations

#[test]
fn failures_on_half_the_space_do_not_abort_the_run() {
    // Undefined for x0 < 0; the minimum (0.1, 0, 0, 0, 0) is close to the failing half.
    let f = |x: &[f64]| -> Outcome {
        if x[0] < 0.0 {
            Outcome::Failed("model diverged".into())
        } else {
            Outcome::Value((x[0] - 0.1).powi(2) + x[1..].iter().map(|v| v * v).sum::<f64>())
        }
    };
    let mut state = CmaEs::new()
        .with_seed(9)
        .with_step_size(1.0)
        .with_threshold(1e-8)
        .init(&[1.0; 5], &free(5))
        .expect("start");
    let reason = drive(state.as_mut(), &f);
    assert_eq!(reason, Termination::ThresholdReached);
    assert!(
        state.failed_evaluations() > 0,
        "the test never hit the failing half"
    );
    let (x, _) = state.best().expect("best");
    assert!((x[0] - 0.1).abs() < 1e-3, "{x:?}");
}

#[test]
fn non_finite_values_rank_worst_and_count_as_failures() {
    let mut state = CmaEs::new()
        .with_seed(1)
        .start(&[1.0; 3], &free(3))
        .expect("start");
    let points = batch(&mut state);
    let outcomes: Vec<Outcome> = points
        .iter()
        .enumerate()
        .map(|(i, x)| match i {
            0 => Outcome::Value(f64::NAN),
            1 => Outcome::Value(f64::NEG_INFINITY),
            2 => Outcome::Failed("nope".into()),
            _ => Outcome::Value(sphere(x)),
        })
        .collect();
    state.tell(&outcomes).expect("tell");
    assert_eq!(state.failed_evaluations(), 3);
    assert_eq!(state.evaluations(), points.len());
    let (bx, bf) = state.best().expect("best");
    assert!(bf.is_finite());
    let expected = points[3..]
        .iter()
        .map(|x| sphere(x))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(bf, expected);
    assert_eq!(sphere(&bx), bf);
}

#[test]
fn every_candidate_failing_stalls_after_ten_generations() {
    let opt = CmaEs::new().with_seed(3).with_step_size(0.8);
    let mut state = opt.start(&[1.0, 2.0], &free(2)).expect("start");
    let lambda = state.population_size();
    let reason = drive(&mut state, &|_| Outcome::Failed("solver failed".into()));
    assert_eq!(
        reason,
        Termination::Stalled(
            "every candidate failed to evaluate for 10 consecutive generations; check the \
             model and the starting point"
                .into()
        )
    );
    assert_eq!(state.iterations(), 10);
    assert_eq!(state.evaluations(), 10 * lambda);
    assert_eq!(state.failed_evaluations(), 10 * lambda);
    assert!(state.best().is_none());
    assert_eq!(state.history(), &[f64::INFINITY; 10]);
    // Mean and C untouched; σ halved each generation.
    assert_eq!(state.mean(), &[1.0, 2.0]);
    assert!((state.sigma() - 0.8 / 1024.0).abs() < 1e-15);
    let cov = state.covariance().expect("cov");
    let s2 = state.sigma() * state.sigma();
    assert_eq!(cov, vec![s2, 0.0, 0.0, s2]);
}

#[test]
fn a_success_resets_the_all_failed_count() {
    let mut state = CmaEs::new()
        .with_seed(3)
        .with_max_iter(25)
        .start(&[1.0, 2.0], &free(2))
        .expect("start");
    let mut generation = 0;
    let reason = loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                generation += 1;
                // Nine failed generations, one with a single success, nine failed again, ...
                let outcomes: Vec<Outcome> = points
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        if generation % 10 == 0 && i == 0 {
                            Outcome::Value(sphere(x))
                        } else {
                            Outcome::Failed("solver failed".into())
                        }
                    })
                    .collect();
                state.tell(&outcomes).expect("tell");
            }
            Ask::EvaluateWithGradient(_) => {
                unreachable!("a derivative-free optimiser never asks for gradients")
            }
            Ask::Done(reason) => break reason,
        }
    };
    assert_eq!(reason, Termination::MaxIterations);
}

// ---------------------------------------------------------------- stopping criteria

#[test]
fn max_iter_and_max_evaluations_stop_the_run() {
    let mut state = CmaEs::new()
        .with_seed(1)
        .with_max_iter(7)
        .init(&[3.0; 5], &free(5))
        .expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(rosenbrock(x)));
    assert_eq!(reason, Termination::MaxIterations);
    assert_eq!(state.iterations(), 7);

    // λ = 8 for n = 5: with 30 evaluations allowed, three generations (24) fit, a fourth not.
    let mut state = CmaEs::new()
        .with_seed(1)
        .with_max_evaluations(Some(30))
        .init(&[3.0; 5], &free(5))
        .expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(rosenbrock(x)));
    assert_eq!(reason, Termination::MaxEvaluations);
    assert_eq!(state.evaluations(), 24);
    assert_eq!(state.iterations(), 3);
}

#[test]
fn threshold_stops_at_the_first_good_enough_value() {
    let opt = CmaEs::new().with_seed(1).with_threshold(1e-2);
    let mut state = opt.init(&[1.0; 3], &free(3)).expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(sphere(x)));
    assert_eq!(reason, Termination::ThresholdReached);
    let h = state.history();
    assert!(h[h.len() - 1] <= 1e-2);
    assert!(
        h[h.len() - 2] > 1e-2,
        "should have stopped a generation earlier"
    );
}

#[test]
fn flat_objective_stops_on_function_tolerance() {
    let mut state = CmaEs::new()
        .with_seed(1)
        .init(&[1.0; 4], &free(4))
        .expect("start");
    let reason = drive(state.as_mut(), &|_| Outcome::Value(3.0));
    assert_eq!(reason, Termination::FunctionTolerance);
    // λ = 8 for n = 4: the window is 10 + ⌈30·4/8⌉ = 25 generations.
    assert_eq!(state.iterations(), 25);
}

#[test]
fn shrinking_distribution_stops_on_position_tolerance() {
    let opt = CmaEs::new()
        .with_seed(1)
        .with_threshold(f64::NEG_INFINITY)
        .with_function_tolerance(0.0)
        .with_position_tolerance(1e-9);
    let mut state = opt.init(&[1.0; 3], &free(3)).expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(sphere(x).sqrt()));
    assert_eq!(reason, Termination::PositionTolerance);
    let cov = state.covariance().expect("cov");
    assert!((0..3).all(|i| cov[i * 4].sqrt() < 1e-9));
}

#[test]
fn ill_conditioned_search_stalls_with_a_message() {
    // Only x0 matters: the distribution shrinks along x0 while x1 stays free, so the
    // condition number of C grows without bound until the breakdown check stops the run.
    let opt = CmaEs::new()
        .with_seed(1)
        .with_threshold(f64::NEG_INFINITY)
        .with_function_tolerance(0.0)
        .with_position_tolerance(0.0)
        .with_max_iter(100_000);
    let mut state = opt.init(&[1.0, 1.0], &free(2)).expect("start");
    let reason = drive(state.as_mut(), &|x| Outcome::from_value(x[0].abs()));
    match reason {
        Termination::Stalled(why) => assert!(why.contains("condition number"), "{why}"),
        other => panic!("expected a stall, got {other:?}"),
    }
    assert!(state.iterations() < 100_000);
}

// ---------------------------------------------------------------- settings and errors

fn setting_of(err: &CoreError) -> &'static str {
    match err {
        CoreError::InvalidSetting { setting, .. } => setting,
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
}

#[test]
fn every_invalid_setting_is_named() {
    let cases: Vec<(CmaEs, &str)> = vec![
        (CmaEs::new().with_step_size(0.0), "step_size"),
        (CmaEs::new().with_step_size(-1.0), "step_size"),
        (CmaEs::new().with_step_size(f64::NAN), "step_size"),
        (CmaEs::new().with_step_size(f64::INFINITY), "step_size"),
        (CmaEs::new().with_population_size(1), "population_size"),
        (CmaEs::new().with_population_size(0), "population_size"),
        (CmaEs::new().with_threshold(f64::NAN), "threshold"),
        (
            CmaEs::new().with_function_tolerance(-1e-3),
            "function_tolerance",
        ),
        (
            CmaEs::new().with_function_tolerance(f64::NAN),
            "function_tolerance",
        ),
        (
            CmaEs::new().with_position_tolerance(-1e-3),
            "position_tolerance",
        ),
        (
            CmaEs::new().with_position_tolerance(f64::NAN),
            "position_tolerance",
        ),
        (
            CmaEs::new().with_max_evaluations(Some(0)),
            "max_evaluations",
        ),
    ];
    for (opt, name) in cases {
        let err = opt.validate().expect_err(name);
        assert_eq!(setting_of(&err), name);
        assert!(err.to_string().contains(name), "{err}");
        let Err(err) = opt.init(&[1.0], &free(1)) else {
            panic!("init accepted an invalid {name}");
        };
        assert_eq!(setting_of(&err), name);
    }
    let err = CmaEs::new()
        .with_step_size(-1.0)
        .validate()
        .expect_err("invalid");
    assert!(
        err.to_string()
            .contains("step_size must be a finite number > 0"),
        "{err}"
    );
}

#[test]
fn valid_settings_are_accepted_and_read_back() {
    let opt = CmaEs::new()
        .with_max_iter(1)
        .with_max_evaluations(Some(1))
        .with_threshold(f64::NEG_INFINITY)
        .with_step_size(1e-300)
        .with_population_size(2)
        .with_seed(0)
        .with_function_tolerance(0.0)
        .with_position_tolerance(0.0);
    opt.validate().expect("valid");
    assert_eq!(opt.max_iter(), 1);
    assert_eq!(opt.max_evaluations(), Some(1));
    assert_eq!(opt.threshold(), f64::NEG_INFINITY);
    assert_eq!(opt.step_size(), 1e-300);
    assert_eq!(opt.population_size(), Some(2));
    assert_eq!(opt.seed(), Some(0));
    assert_eq!(opt.function_tolerance(), 0.0);
    assert_eq!(opt.position_tolerance(), 0.0);
    let d = CmaEs::default();
    assert_eq!(
        (
            d.max_iter(),
            d.max_evaluations(),
            d.threshold(),
            d.step_size()
        ),
        (1000, None, f64::NEG_INFINITY, 0.5)
    );
    assert_eq!((d.population_size(), d.seed()), (None, None));
    assert_eq!(
        (d.function_tolerance(), d.position_tolerance()),
        (1e-12, 1e-12)
    );
    assert_eq!(d.name(), "cmaes");
}

#[test]
fn bad_starts_are_rejected() {
    let opt = CmaEs::new();
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
    let mut state = CmaEs::new()
        .with_seed(1)
        .with_max_iter(1)
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
            expected: points.len(),
            received: 1
        })
    );
    // A rejected tell leaves the batch pending.
    assert_eq!(batch(&mut state), points);
    tell_values(&mut state, &points, sphere);
    assert_eq!(
        state.tell(&[Outcome::Value(1.0)]),
        Err(TellError::NothingAsked)
    );
    assert_eq!(state.ask(), Ask::Done(Termination::MaxIterations));
    assert_eq!(state.ask(), Ask::Done(Termination::MaxIterations));
    let outcomes = vec![Outcome::Value(1.0); points.len()];
    assert_eq!(state.tell(&outcomes), Err(TellError::AlreadyTerminated));
    assert_eq!(state.termination(), Some(&Termination::MaxIterations));
}

#[test]
fn failed_candidates_never_pull_the_mean() {
    // λ = 8, μ = 4: one success among the candidates. Its weight is renormalised to 1, so the
    // new mean is that candidate (c_m = 1); the failures, ranked behind it within the μ best,
    // contribute nothing.
    let opt = CmaEs::new().with_seed(5).with_population_size(8);
    let mut state = opt.start(&[0.0, 0.0], &free(2)).expect("valid start");
    let points = batch(&mut state);
    let outcomes: Vec<Outcome> = (0..8)
        .map(|i| {
            if i == 5 {
                Outcome::Value(1.0)
            } else {
                Outcome::Failed("diverged".into())
            }
        })
        .collect();
    state.tell(&outcomes).expect("told");
    for (m, x) in state.mean().iter().zip(&points[5]) {
        assert!(
            (m - x).abs() < 1e-12,
            "mean {:?}, success {:?}",
            state.mean(),
            points[5]
        );
    }
    // Two successes: the mean is their weighted combination with weights w1/(w1+w2), w2/(w1+w2).
    let mut state = opt.start(&[0.0, 0.0], &free(2)).expect("valid start");
    let points = batch(&mut state);
    let outcomes: Vec<Outcome> = (0..8)
        .map(|i| match i {
            2 => Outcome::Value(1.0),
            6 => Outcome::Value(2.0),
            _ => Outcome::Failed("diverged".into()),
        })
        .collect();
    state.tell(&outcomes).expect("told");
    let (l1, l2) = (4.5_f64.ln(), 4.5_f64.ln() - 2.0_f64.ln());
    let (w1, w2) = (l1 / (l1 + l2), l2 / (l1 + l2));
    for (d, m) in state.mean().iter().enumerate() {
        let want = w1 * points[2][d] + w2 * points[6][d];
        assert!((m - want).abs() < 1e-12, "{m} vs {want}");
    }
}

#[test]
fn a_step_that_no_longer_moves_the_mean_stops_the_run() {
    // At 1e20 a step of 0.2 σ √C_ii (σ = 1) is below the spacing of doubles: NoEffectCoord.
    let opt = CmaEs::new()
        .with_seed(1)
        .with_step_size(1.0)
        .with_threshold(f64::NEG_INFINITY)
        .with_function_tolerance(0.0)
        .with_position_tolerance(0.0);
    let (_, _, evals, reason) = minimise(&opt, sphere, &[1e20, 0.0], &free(2));
    assert_eq!(reason, Termination::PositionTolerance);
    assert!(evals <= 2 * 6, "{evals}");
}

#[test]
fn an_objective_unbounded_below_stops_on_tol_up_sigma() {
    let opt = CmaEs::new()
        .with_seed(2)
        .with_threshold(f64::NEG_INFINITY)
        .with_max_iter(100_000);
    let (_, fx, _, reason) = minimise(&opt, |x: &[f64]| -x[0] - x[1], &[0.0, 0.0], &free(2));
    match reason {
        Termination::Stalled(why) => assert!(why.contains("TolUpSigma"), "{why}"),
        other => panic!("expected TolUpSigma, got {other:?} (f = {fx})"),
    }
}

#[test]
fn a_run_on_pure_noise_stops_on_stagnation() {
    // Values that do not depend on the position in any useful way: no progress is possible.
    let noise = |x: &[f64]| {
        let h =
            (x[0].to_bits() ^ x[1].to_bits().rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 11) as f64 / (1u64 << 53) as f64
    };
    let opt = CmaEs::new()
        .with_seed(3)
        .with_threshold(f64::NEG_INFINITY)
        .with_function_tolerance(0.0)
        .with_position_tolerance(0.0)
        .with_max_iter(100_000);
    let (_, _, evals, reason) = minimise(&opt, noise, &[0.0, 0.0], &free(2));
    match reason {
        Termination::Stalled(why) => assert!(why.contains("stagnation"), "{why}"),
        other => panic!("expected stagnation, got {other:?} after {evals} evaluations"),
    }
}
