//! Adam and L-BFGS-B through their public ask/tell interface: convergence on the standard test
//! functions (with evaluation counts next to published figures), bounds, failed evaluations,
//! stopping and errors.

use diffid_core::testkit::{
    ellipsoid, ellipsoid_gradient, rosenbrock, rosenbrock_gradient, sphere, sphere_gradient,
};
use diffid_core::{
    Ask, AskTell, Bounds, CoreError, GradientOutcome, Optimiser, OptimiserState, Outcome, Patience,
    TellError, Termination,
};
use diffid_optim::{Adam, Lbfgsb};
use proptest::prelude::*;

mod common;
use common::{bounds, drive_gradient, free};

fn lbfgsb() -> Lbfgsb {
    Lbfgsb::new()
        .with_threshold(f64::NEG_INFINITY)
        .with_gradient_tolerance(1e-8)
        .with_function_tolerance(0.0)
}

fn run(
    opt: &dyn Optimiser,
    f: fn(&[f64]) -> f64,
    g: fn(&[f64]) -> Vec<f64>,
    x0: &[f64],
    b: &[Bounds],
) -> (Vec<f64>, f64, usize, Termination, Vec<Vec<f64>>) {
    let mut state = opt.init(x0, b).expect("valid start");
    let (reason, asked) = drive_gradient(state.as_mut(), &f, &g);
    let (x, fx) = state.best().expect("evaluated");
    (x, fx, state.evaluations(), reason, asked)
}

#[test]
fn lbfgsb_solves_rosenbrock_2d_in_a_scipy_like_budget() {
    let (x, fx, evals, reason, _) = run(
        &lbfgsb(),
        rosenbrock,
        rosenbrock_gradient,
        &[-1.2, 1.0],
        &free(2),
    );
    assert_eq!(reason, Termination::GradientTolerance);
    assert!(fx < 1e-14, "{fx}");
    assert!(
        (x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6,
        "{x:?}"
    );
    // scipy 1.x L-BFGS-B (the Fortran code) needs 40-45 evaluations here to gtol 1e-8.
    assert!(evals <= 60, "{evals} evaluations");
}

#[test]
fn lbfgsb_solves_rosenbrock_10d_and_the_ill_conditioned_ellipsoid() {
    let (x, fx, evals, reason, _) = run(
        &lbfgsb(),
        rosenbrock,
        rosenbrock_gradient,
        &[0.0; 10],
        &free(10),
    );
    assert!(reason.is_success(), "{reason}");
    assert!(fx < 1e-12, "{fx}");
    assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-5), "{x:?}");
    // scipy's L-BFGS-B: 85 evaluations to gtol 1e-8 from the origin.
    assert!(evals <= 150, "{evals} evaluations");

    let x0: Vec<f64> = (0..10).map(|i| 1.0 + 0.1 * f64::from(i)).collect();
    let (_, fx, evals, reason, _) = run(&lbfgsb(), ellipsoid, ellipsoid_gradient, &x0, &free(10));
    assert!(reason.is_success(), "{reason}");
    assert!(fx < 1e-10, "{fx}");
    // scipy's L-BFGS-B needs 634 evaluations on this ellipsoid to gtol 1e-8.
    assert!(evals <= 800, "{evals} evaluations");
}

#[test]
fn lbfgsb_finds_a_minimum_on_the_boundary() {
    // Rosenbrock restricted to [-2, 0.5]²: the minimum is at x = (0.5, 0.25), f = 0.25.
    let b = bounds(-2.0, 0.5, 2);
    let (x, fx, _, reason, asked) = run(
        &lbfgsb(),
        rosenbrock,
        rosenbrock_gradient,
        &[-1.0, -1.0],
        &b,
    );
    assert!(reason.is_success(), "{reason}");
    assert!((fx - 0.25).abs() < 1e-10, "{fx}");
    assert!(
        (x[0] - 0.5).abs() < 1e-8 && (x[1] - 0.25).abs() < 1e-6,
        "{x:?}"
    );
    for p in asked {
        assert!(p.iter().all(|v| (-2.0..=0.5).contains(v)), "{p:?}");
    }
}

#[test]
fn lbfgsb_steps_around_points_that_fail_to_evaluate() {
    // Failures beyond x0 = 1.5: the line search shrinks its step instead of stopping.
    let mut state = lbfgsb().start(&[-1.2, 1.0], &free(2)).expect("start");
    let mut failures = 0;
    let reason = loop {
        match state.ask() {
            Ask::EvaluateWithGradient(points) => {
                let x = &points[0];
                let o = if x[0] > 1.5 {
                    failures += 1;
                    GradientOutcome::Failed("solver diverged".to_owned())
                } else {
                    GradientOutcome::from_parts(rosenbrock(x), rosenbrock_gradient(x))
                };
                state.tell_gradients(&[o], 1).expect("tell");
            }
            Ask::Evaluate(_) => unreachable!(),
            Ask::Done(r) => break r,
        }
    };
    assert!(reason.is_success(), "{reason}");
    assert!(
        failures > 0,
        "the path must cross the failing region for this test to mean anything"
    );
    let (x, _) = state.best().expect("evaluated");
    assert!((x[0] - 1.0).abs() < 1e-5, "{x:?}");
    assert_eq!(state.failed_evaluations(), failures);
}

#[test]
fn adam_converges_on_the_sphere_and_respects_bounds() {
    let opt = Adam::new()
        .with_step_size(0.05)
        .with_max_iter(5000)
        .with_threshold(1e-10);
    let (x, fx, evals, reason, _) = run(&opt, sphere, sphere_gradient, &[1.0, -0.5, 0.8], &free(3));
    assert_eq!(reason, Termination::ThresholdReached);
    assert!(
        fx <= 1e-10 && x.iter().all(|v| v.abs() < 1e-4),
        "{fx} {x:?}"
    );
    assert!(evals < 5000);

    // The minimum of the sphere over [0.5, 2]³ is the corner (0.5, 0.5, 0.5).
    let opt = Adam::new().with_step_size(0.05).with_max_iter(2000);
    let (x, _, _, reason, asked) = run(
        &opt,
        sphere,
        sphere_gradient,
        &[1.5, 1.0, 2.0],
        &bounds(0.5, 2.0, 3),
    );
    assert_eq!(
        reason,
        Termination::GradientTolerance,
        "a corner is stationary"
    );
    assert!(x.iter().all(|v| (v - 0.5).abs() < 1e-12), "{x:?}");
    assert!(asked.iter().flatten().all(|v| (0.5..=2.0).contains(v)));
}

#[test]
fn adam_halves_steps_into_failures_and_stalls_on_a_failed_start() {
    let opt = Adam::new().with_step_size(0.5).with_max_iter(400);
    let mut state = opt.start(&[3.0], &free(1)).expect("start");
    // Fails for x < 0.25: Adam's first steps overshoot there and must back off.
    let mut failures = 0;
    let (reason, _) = {
        let mut asked = Vec::new();
        let reason = loop {
            match state.ask() {
                Ask::EvaluateWithGradient(points) => {
                    let x = points[0][0];
                    let o = if x < 0.25 {
                        failures += 1;
                        GradientOutcome::Failed("out of range".to_owned())
                    } else {
                        GradientOutcome::from_parts((x - 1.0).powi(2), vec![2.0 * (x - 1.0)])
                    };
                    asked.push(points);
                    state.tell_gradients(&[o], 1).expect("tell");
                }
                Ask::Evaluate(_) => unreachable!(),
                Ask::Done(r) => break r,
            }
        };
        (reason, asked)
    };
    assert!(!matches!(reason, Termination::Stalled(_)), "{reason}");
    assert!(
        failures > 0,
        "Adam's first steps must overshoot into the failing region"
    );
    let (x, _) = state.best().expect("evaluated");
    assert!((x[0] - 1.0).abs() < 1e-3, "{x:?}");

    let mut state = opt.start(&[0.0], &free(1)).expect("start");
    let Ask::EvaluateWithGradient(_) = state.ask() else {
        panic!("expected a gradient ask")
    };
    state
        .tell_gradients(&[GradientOutcome::Failed("bad start".to_owned())], 1)
        .expect("tell");
    match state.ask() {
        Ask::Done(Termination::Stalled(why)) => assert!(why.contains("bad start"), "{why}"),
        other => panic!("expected a stall, got {other:?}"),
    }
}

#[test]
fn gradient_states_refuse_values_wrong_lengths_and_late_tells() {
    for opt in [
        Box::new(Adam::new().with_max_iter(1)) as Box<dyn Optimiser>,
        Box::new(Lbfgsb::new().with_max_iter(1)),
    ] {
        let mut state = opt.init(&[1.0, 2.0], &free(2)).expect("start");
        assert_eq!(
            state.tell_gradients(&[], 0),
            Err(TellError::NothingAsked),
            "{}",
            opt.name()
        );
        let Ask::EvaluateWithGradient(points) = state.ask() else {
            panic!("expected a gradient ask")
        };
        assert_eq!(points.len(), 1);
        assert_eq!(
            state.tell(&[Outcome::Value(1.0)]),
            Err(TellError::GradientsRequired)
        );
        let short = GradientOutcome::Value {
            value: 1.0,
            gradient: vec![1.0],
        };
        assert_eq!(
            state.tell_gradients(&[short], 1),
            Err(TellError::GradientLength {
                index: 0,
                expected: 2,
                got: 1
            })
        );
        let two = GradientOutcome::from_parts(sphere(&[1.0, 2.0]), sphere_gradient(&[1.0, 2.0]));
        assert_eq!(
            state.tell_gradients(&[two.clone(), two.clone()], 2),
            Err(TellError::ResultCountMismatch {
                expected: 2 - 1,
                received: 2
            })
        );
        // The ask is still pending and is asked again unchanged.
        assert_eq!(state.ask(), Ask::EvaluateWithGradient(points));
        state
            .tell_gradients(std::slice::from_ref(&two), 1)
            .expect("valid tell");
        // Drive to the end (max_iter 1), then every tell is refused.
        let (reason, _) = drive_gradient(state.as_mut(), &sphere, &sphere_gradient);
        assert!(
            matches!(
                reason,
                Termination::MaxIterations
                    | Termination::GradientTolerance
                    | Termination::FunctionTolerance
            ),
            "{reason}"
        );
        assert_eq!(
            state.tell_gradients(&[two], 1),
            Err(TellError::AlreadyTerminated)
        );
    }
}

#[test]
fn non_finite_told_values_and_gradients_are_failures_not_poison() {
    let mut state = Adam::new().start(&[1.0], &free(1)).expect("start");
    let Ask::EvaluateWithGradient(_) = state.ask() else {
        panic!("expected a gradient ask")
    };
    state
        .tell_gradients(&[GradientOutcome::from_parts(1.0, vec![1.0])], 1)
        .expect("tell");
    let Ask::EvaluateWithGradient(points) = state.ask() else {
        panic!("expected a gradient ask")
    };
    // A hand-built outcome bypassing from_parts: NaN in the gradient.
    let poisoned = GradientOutcome::Value {
        value: 0.5,
        gradient: vec![f64::NAN],
    };
    state.tell_gradients(&[poisoned], 1).expect("tell");
    assert_eq!(state.failed_evaluations(), 1);
    let Ask::EvaluateWithGradient(next) = state.ask() else {
        panic!("expected a gradient ask")
    };
    assert!(next[0][0].is_finite(), "{next:?}");
    assert!(next[0][0] != points[0][0], "the failed step is halved back");
}

#[test]
fn invalid_settings_name_the_setting() {
    let cases: Vec<(Box<dyn Optimiser>, &str)> = vec![
        (Box::new(Adam::new().with_step_size(0.0)), "step_size"),
        (Box::new(Adam::new().with_betas(1.0, 0.9)), "beta1"),
        (Box::new(Adam::new().with_betas(0.9, -0.1)), "beta2"),
        (Box::new(Adam::new().with_eps(0.0)), "eps"),
        (
            Box::new(Adam::new().with_patience(Some(Patience::Iterations(0)))),
            "patience",
        ),
        (Box::new(Lbfgsb::new().with_memory(0)), "memory"),
        (
            Box::new(Lbfgsb::new().with_gradient_tolerance(f64::NAN)),
            "gradient_tolerance",
        ),
        (
            Box::new(Lbfgsb::new().with_max_line_search(0)),
            "max_line_search",
        ),
    ];
    for (opt, name) in cases {
        match opt.init(&[1.0], &free(1)) {
            Err(CoreError::InvalidSetting { setting, .. }) => assert_eq!(setting, name),
            Err(other) => panic!("{name}: unexpected error {other}"),
            Ok(_) => panic!("{name}: accepted an invalid setting"),
        }
    }
}

#[test]
fn patience_stops_a_run_that_no_longer_improves() {
    // A plateau: f = 1 everywhere but the gradient is not zero, so only patience stops it.
    let opt = Adam::new().with_patience(Some(Patience::Iterations(7)));
    let mut state = opt.start(&[0.0], &free(1)).expect("start");
    let (reason, asked) = drive_gradient(&mut state, &|_| 1.0, &|_| vec![1.0]);
    assert_eq!(reason, Termination::Patience);
    assert_eq!(
        asked.len(),
        8,
        "the first value, then 7 iterations without improvement"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gradient_optimisers_never_ask_outside_the_bounds(
        lo in -3.0f64..0.0,
        width in 0.1f64..4.0,
        start in 0.0f64..1.0,
        which in 0usize..2,
    ) {
        let b = bounds(lo, lo + width, 3);
        let x0 = vec![lo + start * width; 3];
        let opt: Box<dyn Optimiser> = if which == 0 {
            Box::new(Adam::new().with_step_size(0.3).with_max_iter(60))
        } else {
            Box::new(Lbfgsb::new().with_max_iter(60))
        };
        let mut state = opt.init(&x0, &b).expect("start");
        let (_, asked) = drive_gradient(state.as_mut(), &rosenbrock, &rosenbrock_gradient);
        for p in asked {
            prop_assert!(p.iter().all(|v| b[0].contains(*v)), "{:?} outside [{}, {}]", p, lo, lo + width);
        }
    }

    #[test]
    fn lbfgsb_minimises_random_convex_quadratics(
        diag in proptest::collection::vec(0.01f64..100.0, 2..8),
        x0 in proptest::collection::vec(-5.0f64..5.0, 8),
    ) {
        let n = diag.len();
        let d2 = diag.clone();
        let f = move |x: &[f64]| x.iter().zip(&diag).map(|(v, d)| d * (v - 1.0) * (v - 1.0)).sum::<f64>();
        let g = move |x: &[f64]| x.iter().zip(&d2).map(|(v, d)| 2.0 * d * (v - 1.0)).collect::<Vec<f64>>();
        let mut state = lbfgsb().start(&x0[..n], &free(n)).expect("start");
        let (reason, _) = drive_gradient(&mut state, &f, &g);
        prop_assert!(reason.is_success(), "{}", reason);
        let (x, _) = state.best().expect("evaluated");
        prop_assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-6), "{:?}", x);
    }
}
