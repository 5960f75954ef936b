//! CMA-ES with IPOP and BIPOP restarts: global search on Rastrigin, determinism, the global
//! limits, the restart schedule, and settings.

use diffid_core::testkit::rastrigin;
use diffid_core::{Ask, AskTell, Bounds, CoreError, Optimiser, OptimiserState, Outcome};
use diffid_core::{TellError, Termination};
use diffid_optim::{CmaEs, CmaEsState, Restarts};

mod common;
use common::{bounds, drive, free, minimise};

/// Rastrigin 5-D in [−5.12, 5.12]^5 from (3, …, 3), with Hansen's BBOB step size σ0 = 2.
fn rastrigin_opt(seed: u64, restarts: Restarts) -> CmaEs {
    CmaEs::new()
        .with_seed(seed)
        .with_step_size(2.0)
        .with_threshold(1e-8)
        .with_max_iter(1_000_000)
        .with_max_evaluations(Some(200_000))
        .with_restarts(restarts)
}

fn run_opt(opt: &CmaEs) -> (CmaEsState, Termination) {
    let mut state = opt
        .start(&[3.0; 5], &bounds(-5.12, 5.12, 5))
        .expect("valid start");
    let reason = drive(&mut state, &|x| Outcome::from_value(rastrigin(x)));
    (state, reason)
}

fn run_rastrigin(seed: u64, restarts: Restarts) -> (CmaEsState, Termination) {
    run_opt(&rastrigin_opt(seed, restarts))
}

fn best_value(state: &CmaEsState) -> f64 {
    state.best().expect("some evaluation succeeded").1
}

// ---------------------------------------------------------------- global search

#[test]
fn plain_cmaes_ends_in_a_local_minimum_of_rastrigin() {
    // Measured over seeds 1..=10: every run stops on the function tolerance after 1584–1992
    // evaluations, at f between 0.995 and 23.9 (a local minimum).
    for seed in [1, 2] {
        let (state, reason) = run_rastrigin(seed, Restarts::None);
        assert_eq!(reason, Termination::FunctionTolerance, "seed {seed}");
        assert!(
            best_value(&state) > 0.5,
            "seed {seed}: {}",
            best_value(&state)
        );
        assert_eq!(state.restarts(), 0);
    }
}

#[test]
fn ipop_finds_the_global_minimum_of_rastrigin() {
    // Measured (evaluations, restarts) for seeds 1..=10: (21544, 4), (22456, 4), (12912, 3),
    // (36488, 5), (21720, 4), (13088, 3), (22392, 4), (13456, 3), (12912, 3), (14808, 3); all
    // reach f < 1e-8 (Auger & Hansen 2005 report ~1e4–1e5 on low-dimensional Rastrigin).
    let mut successes = 0;
    for seed in 1..=4 {
        let (state, reason) = run_rastrigin(seed, Restarts::ipop());
        assert!(state.evaluations() <= 200_000);
        if reason == Termination::ThresholdReached {
            assert!(best_value(&state) < 1e-8);
            assert!(state.restarts() >= 1, "seed {seed}");
            let (x, _) = state.best().expect("best");
            assert!(x.iter().all(|v| v.abs() < 1e-3), "seed {seed}: {x:?}");
            successes += 1;
        }
    }
    assert!(successes >= 3, "only {successes} of 4 seeds succeeded");
}

#[test]
fn bipop_finds_the_global_minimum_of_rastrigin() {
    // Measured (evaluations, restarts of both regimes) for seeds 1..=10: (40021, 16),
    // (22877, 10), (62707, 20), (13952, 7), (38078, 14), (20397, 10), (22656, 10), (23485, 10),
    // (22801, 10), (22349, 10); all reach f < 1e-8.
    let mut successes = 0;
    for seed in [2, 4, 6, 7] {
        let (state, reason) = run_rastrigin(seed, Restarts::bipop());
        assert!(state.evaluations() <= 200_000);
        if reason == Termination::ThresholdReached {
            assert!(best_value(&state) < 1e-8);
            assert!(state.restarts() >= 1, "seed {seed}");
            successes += 1;
        }
    }
    assert!(successes >= 3, "only {successes} of 4 seeds succeeded");
}

#[test]
fn threshold_stops_at_once_in_the_middle_of_the_restarts() {
    // Seeds for which the global minimum is found after a few restarts (see above).
    for (restarts, seed) in [(Restarts::ipop(), 3), (Restarts::bipop(), 4)] {
        let (state, reason) = run_rastrigin(seed, restarts);
        assert_eq!(reason, Termination::ThresholdReached);
        assert!(state.restarts() >= 1, "{restarts:?}");
        let h = state.history();
        assert!(h[h.len() - 1] <= 1e-8);
        assert!(
            h[h.len() - 2] > 1e-8,
            "should have stopped a generation earlier"
        );
        assert_eq!(h.len(), state.iterations());
        assert!(h.windows(2).all(|w| w[1] <= w[0]), "history not monotone");
    }
}

// ---------------------------------------------------------------- determinism

fn history_bits(state: &CmaEsState) -> Vec<u64> {
    state.history().iter().map(|v| v.to_bits()).collect()
}

/// Runs with restarts, evaluating each batch on threads that finish in any order.
fn run_concurrently(opt: &CmaEs, x0: &[f64], b: &[Bounds]) -> CmaEsState {
    let mut state = opt.start(x0, b).expect("valid start");
    loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                let mut outcomes: Vec<Option<Outcome>> = vec![None; points.len()];
                std::thread::scope(|s| {
                    for (slot, x) in outcomes.iter_mut().zip(&points).rev() {
                        s.spawn(move || *slot = Some(Outcome::from_value(rastrigin(x))));
                    }
                });
                assert_eq!(state.ask(), Ask::Evaluate(points.clone()));
                let outcomes: Vec<Outcome> =
                    outcomes.into_iter().map(|o| o.expect("done")).collect();
                state.tell(&outcomes).expect("one outcome per point");
            }
            Ask::EvaluateWithGradient(_) => {
                unreachable!("a derivative-free optimiser never asks for gradients")
            }
            Ask::Done(_) => return state,
        }
    }
}

#[test]
fn the_same_seed_replays_the_whole_restart_sequence() {
    for restarts in [Restarts::ipop(), Restarts::bipop()] {
        let opt = CmaEs::new()
            .with_seed(21)
            .with_step_size(2.0)
            .with_function_tolerance(1e-6)
            .with_threshold(f64::NEG_INFINITY)
            .with_max_evaluations(Some(6000))
            .with_restarts(restarts);
        let b = bounds(-5.12, 5.12, 5);
        let mut a = opt.start(&[3.0; 5], &b).expect("start");
        drive(&mut a, &|x| Outcome::from_value(rastrigin(x)));
        let c = run_concurrently(&opt, &[3.0; 5], &b);
        assert!(a.restarts() >= 2, "{restarts:?}: {} restarts", a.restarts());
        assert_eq!(history_bits(&a), history_bits(&c));
        assert_eq!(a.best(), c.best());
        assert_eq!(
            (a.evaluations(), a.restarts(), a.population_size()),
            (c.evaluations(), c.restarts(), c.population_size())
        );
        assert_eq!(a.mean(), c.mean());
        assert_eq!(a.covariance(), c.covariance());

        let mut other = opt
            .clone()
            .with_seed(22)
            .start(&[3.0; 5], &b)
            .expect("start");
        drive(&mut other, &|x| Outcome::from_value(rastrigin(x)));
        assert_ne!(history_bits(&a), history_bits(&other));
    }
}

#[test]
fn the_first_run_is_the_plain_cmaes_run() {
    let (plain, reason) = run_rastrigin(5, Restarts::None);
    assert_eq!(reason, Termination::FunctionTolerance);
    for restarts in [Restarts::ipop(), Restarts::bipop()] {
        let opt = rastrigin_opt(5, restarts).with_max_evaluations(Some(5000));
        let (state, _) = run_opt(&opt);
        let g = plain.iterations();
        assert!(state.iterations() > g);
        assert_eq!(history_bits(&plain), history_bits(&state)[..g].to_vec());
    }
}

// ---------------------------------------------------------------- global limits

fn quick_restarts(restarts: Restarts) -> CmaEs {
    CmaEs::new()
        .with_seed(4)
        .with_step_size(2.0)
        .with_function_tolerance(1e-6)
        .with_threshold(f64::NEG_INFINITY)
        .with_restarts(restarts)
}

#[test]
fn max_evaluations_limits_all_runs_together() {
    for restarts in [Restarts::ipop(), Restarts::bipop()] {
        for max in [2500, 4321, 7000] {
            let mut state = quick_restarts(restarts)
                .with_max_evaluations(Some(max))
                .start(&[3.0; 5], &bounds(-5.12, 5.12, 5))
                .expect("start");
            let reason = drive(&mut state, &|x| Outcome::from_value(rastrigin(x)));
            assert_eq!(reason, Termination::MaxEvaluations, "{restarts:?} {max}");
            assert!(
                state.evaluations() <= max,
                "{} > {max}",
                state.evaluations()
            );
            assert!(state.restarts() >= 1, "{restarts:?} {max}");
            assert_eq!(state.history().len(), state.iterations());
        }
    }
}

#[test]
fn max_iter_limits_all_runs_together() {
    for restarts in [Restarts::ipop(), Restarts::bipop()] {
        let mut state = quick_restarts(restarts)
            .with_max_iter(300)
            .start(&[3.0; 5], &bounds(-5.12, 5.12, 5))
            .expect("start");
        let reason = drive(&mut state, &|x| Outcome::from_value(rastrigin(x)));
        assert_eq!(reason, Termination::MaxIterations, "{restarts:?}");
        assert_eq!(state.iterations(), 300);
        assert_eq!(state.history().len(), 300);
        assert!(state.restarts() >= 1, "{restarts:?}");
        assert!(state.history().windows(2).all(|w| w[1] <= w[0]));
    }
}

// ---------------------------------------------------------------- the restart schedule

/// One inner run as seen from outside: its population, initial σ and start, and its size.
#[derive(Debug)]
struct SeenRun {
    lambda: usize,
    sigma0: f64,
    start: Vec<f64>,
    generations: usize,
    evaluations: usize,
}

/// Drives `state` on `f`, recording each inner run (a new run starts when `restarts()` grows).
fn record_runs(
    state: &mut CmaEsState,
    f: impl Fn(&[f64]) -> Outcome,
) -> (Vec<SeenRun>, Termination) {
    let mut runs: Vec<SeenRun> = Vec::new();
    let mut seen_restarts = usize::MAX;
    loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                if state.restarts() != seen_restarts {
                    assert_eq!(state.restarts(), seen_restarts.wrapping_add(1));
                    seen_restarts = state.restarts();
                    runs.push(SeenRun {
                        lambda: state.population_size(),
                        sigma0: state.sigma(),
                        start: state.mean().to_vec(),
                        generations: 0,
                        evaluations: 0,
                    });
                }
                let run = runs.last_mut().expect("a run");
                assert_eq!(points.len(), run.lambda);
                run.generations += 1;
                run.evaluations += points.len();
                let outcomes: Vec<Outcome> = points.iter().map(|x| f(x)).collect();
                state.tell(&outcomes).expect("tell");
            }
            Ask::EvaluateWithGradient(_) => {
                unreachable!("a derivative-free optimiser never asks for gradients")
            }
            Ask::Done(reason) => return (runs, reason),
        }
    }
}

#[test]
fn ipop_restarts_are_counted_and_the_population_grows_by_the_factor() {
    // A flat objective stops every run on the function tolerance after 10 + ⌈30 n/λ⌉
    // generations: for n = 4, 25 at λ = 8, 18 at 16, 14 at 32 and 12 at 64.
    let b = bounds(-1.0, 1.0, 4);
    let mut state = CmaEs::new()
        .with_seed(1)
        .with_step_size(0.3)
        .with_restarts(Restarts::Ipop {
            max_restarts: 3,
            increase: 2.0,
        })
        .start(&[0.5; 4], &b)
        .expect("start");
    let (runs, reason) = record_runs(&mut state, |_| Outcome::Value(3.0));
    assert_eq!(reason, Termination::FunctionTolerance);
    assert_eq!(state.restarts(), 3);
    let shape: Vec<(usize, usize)> = runs.iter().map(|r| (r.lambda, r.generations)).collect();
    assert_eq!(shape, vec![(8, 25), (16, 18), (32, 14), (64, 12)]);
    assert_eq!(state.iterations(), 69);
    assert_eq!(state.evaluations(), 25 * 8 + 18 * 16 + 14 * 32 + 12 * 64);
    assert_eq!(runs[0].start, vec![0.5; 4]);
    for run in &runs {
        assert_eq!(run.sigma0, 0.3);
        assert!(run.start.iter().zip(&b).all(|(x, b)| b.contains(*x)));
    }
    // Restarts start at fresh random points in the box.
    assert_ne!(runs[1].start, runs[0].start);
    assert_ne!(runs[2].start, runs[1].start);

    let mut state = CmaEs::new()
        .with_seed(1)
        .with_restarts(Restarts::Ipop {
            max_restarts: 4,
            increase: 1.5,
        })
        .start(&[0.5; 4], &b)
        .expect("start");
    let (runs, _) = record_runs(&mut state, |_| Outcome::Value(3.0));
    let lambdas: Vec<usize> = runs.iter().map(|r| r.lambda).collect();
    assert_eq!(lambdas, vec![8, 12, 18, 27, 41]);
}

#[test]
fn unbounded_coordinates_restart_from_the_original_start() {
    let b = vec![
        Bounds::unbounded(),
        Bounds::new(-2.0, 2.0).expect("bounds"),
        Bounds::new(0.0, f64::INFINITY).expect("bounds"),
    ];
    let mut state = CmaEs::new()
        .with_seed(3)
        .with_restarts(Restarts::ipop())
        .start(&[7.0, 1.0, 5.0], &b)
        .expect("start");
    let (runs, _) = record_runs(&mut state, |_| Outcome::Value(0.5));
    assert_eq!(runs.len(), 10);
    for run in &runs[1..] {
        assert_eq!((run.start[0], run.start[2]), (7.0, 5.0));
        assert!((-2.0..=2.0).contains(&run.start[1]));
    }
}

#[test]
fn bipop_alternates_regimes_by_budget() {
    let sigma0 = 0.4;
    let b = bounds(-1.0, 1.0, 4);
    for seed in 1..=3 {
        let mut state = CmaEs::new()
            .with_seed(seed)
            .with_step_size(sigma0)
            .with_restarts(Restarts::Bipop { max_restarts: 3 })
            .start(&[0.5; 4], &b)
            .expect("start");
        let (runs, reason) = record_runs(&mut state, |_| Outcome::Value(3.0));
        assert_eq!(state.restarts(), runs.len() - 1);

        // Replay the schedule: large runs use σ0 and λ = 8·2^k, small runs a smaller σ, a
        // population between 8 and half the next large one, and at most half the evaluations
        // of the latest large run; the regime that has spent less goes next.
        let (mut large_spent, mut small_spent, mut last_large, mut k) = (0, 0, 0, 0);
        let mut smalls = 0;
        for (i, run) in runs.iter().enumerate() {
            let large = run.sigma0 == sigma0;
            if i > 0 {
                assert_eq!(large, large_spent <= small_spent, "seed {seed}, run {i}");
            }
            if large {
                assert_eq!(run.lambda, 8 << k, "seed {seed}, run {i}");
                k += 1;
                large_spent += run.evaluations;
                last_large = run.evaluations;
            } else {
                smalls += 1;
                assert!(
                    run.sigma0 < sigma0 && run.sigma0 > sigma0 / 100.0,
                    "{run:?}"
                );
                assert!(run.lambda >= 8 && run.lambda <= (8 << k) / 2, "{run:?}");
                assert!(
                    run.evaluations <= (last_large / 2).max(run.lambda),
                    "{run:?}"
                );
                small_spent += run.evaluations;
            }
        }
        // Three large restarts after the first run; the fourth is due but not allowed.
        assert_eq!(k, 4, "seed {seed}");
        assert!(large_spent <= small_spent, "seed {seed}");
        assert!(smalls >= 3, "seed {seed}: {smalls} small runs");
        assert!(matches!(
            reason,
            Termination::FunctionTolerance | Termination::MaxEvaluations
        ));
    }
}

#[test]
fn stalls_restart_too() {
    let mut state = CmaEs::new()
        .with_seed(2)
        .with_restarts(Restarts::Ipop {
            max_restarts: 2,
            increase: 2.0,
        })
        .start(&[1.0, 2.0], &free(2))
        .expect("start");
    let reason = drive(&mut state, &|_| Outcome::Failed("solver failed".into()));
    assert!(matches!(reason, Termination::Stalled(_)), "{reason:?}");
    assert_eq!(state.restarts(), 2);
    assert_eq!(state.iterations(), 30);
    assert_eq!(state.evaluations(), 10 * (6 + 12 + 24));
    assert_eq!(state.failed_evaluations(), state.evaluations());
    assert!(state.best().is_none());
    // Without finite bounds every run restarts from the original start.
    assert_eq!(state.mean(), &[1.0, 2.0]);
    assert_eq!(state.population_size(), 24);
}

#[test]
fn no_restarts_or_zero_restarts_is_plain_cmaes() {
    let (plain, _) = run_rastrigin(8, Restarts::None);
    // (BIPOP's limit counts large-population restarts only, so its zero still allows small runs.)
    let zero_restarts = [Restarts::Ipop {
        max_restarts: 0,
        increase: 2.0,
    }];
    for restarts in zero_restarts {
        let (zero, _) = run_rastrigin(8, restarts);
        assert_eq!(history_bits(&plain), history_bits(&zero));
        assert_eq!(plain.termination(), zero.termination());
        assert_eq!(zero.restarts(), 0);
    }
    // The common helper drives any optimiser the same way.
    let (x, fx, evals, reason) = minimise(
        &rastrigin_opt(8, Restarts::None),
        rastrigin,
        &[3.0; 5],
        &bounds(-5.12, 5.12, 5),
    );
    assert_eq!((Some((x, fx)), evals), (plain.best(), plain.evaluations()));
    assert_eq!(Some(&reason), plain.termination());
}

#[test]
fn a_terminated_restarting_state_rejects_tells() {
    let mut state = quick_restarts(Restarts::ipop())
        .with_max_iter(50)
        .start(&[3.0; 2], &bounds(-5.12, 5.12, 2))
        .expect("start");
    let reason = drive(&mut state, &|x| Outcome::from_value(rastrigin(x)));
    assert_eq!(reason, Termination::MaxIterations);
    assert_eq!(state.ask(), Ask::Done(Termination::MaxIterations));
    assert_eq!(
        state.tell(&[Outcome::Value(1.0)]),
        Err(TellError::AlreadyTerminated)
    );
}

// ---------------------------------------------------------------- settings

#[test]
fn restart_settings_are_validated_and_read_back() {
    for increase in [1.0, 0.5, -2.0, f64::NAN, f64::INFINITY] {
        let opt = CmaEs::new().with_restarts(Restarts::Ipop {
            max_restarts: 3,
            increase,
        });
        let err = opt.validate().expect_err("invalid increase");
        match &err {
            CoreError::InvalidSetting { setting, .. } => assert_eq!(*setting, "restarts"),
            other => panic!("expected InvalidSetting, got {other:?}"),
        }
        assert!(
            err.to_string()
                .contains("IPOP population increase must be a finite number > 1"),
            "{err}"
        );
        assert!(opt.init(&[1.0], &free(1)).is_err());
    }
    assert_eq!(CmaEs::new().restarts(), Restarts::None);
    assert_eq!(Restarts::default(), Restarts::None);
    assert_eq!(
        Restarts::ipop(),
        Restarts::Ipop {
            max_restarts: 9,
            increase: 2.0
        }
    );
    assert_eq!(Restarts::bipop(), Restarts::Bipop { max_restarts: 9 });
    for r in [
        Restarts::ipop(),
        Restarts::bipop(),
        Restarts::Bipop { max_restarts: 0 },
    ] {
        let opt = CmaEs::new().with_restarts(r);
        opt.validate().expect("valid");
        assert_eq!(opt.restarts(), r);
    }
}
