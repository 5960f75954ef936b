//! Properties every optimiser must have through the facade: a hand-driven ask/tell loop gives
//! the run's result bit for bit; the same seed gives the same result at any thread count; no
//! point outside the bounds is ever evaluated, whatever the transform.

use diffid::{
    evaluate_gradients, run, testkit, Adam, Ask, Bounds, CmaEs, FnGradObjective, FnObjective,
    Lbfgsb, NelderMead, Objective, OptimisationResult, Optimiser, Outcome, Parameter, Parameters,
    RayonEvaluator, RunOptions, SearchSpace, Sequential, Transform,
};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

fn optimisers(seed: u64) -> Vec<Box<dyn Optimiser>> {
    vec![
        Box::new(NelderMead::new().with_max_iter(150)),
        Box::new(CmaEs::new().with_seed(seed).with_max_iter(40)),
        Box::new(Adam::new().with_step_size(0.05).with_max_iter(150)),
        Box::new(Lbfgsb::new().with_max_iter(60)),
    ]
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Drives `opt` by hand: ask, evaluate each point in turn (gradients by `evaluate_gradients`),
/// tell, until done.
fn by_hand(
    opt: &dyn Optimiser,
    objective: &dyn Objective,
    x0: &[f64],
    b: &[Bounds],
) -> OptimisationResult {
    let mut state = opt.init(x0, b).expect("valid start");
    let start = std::time::Instant::now();
    let termination = loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                let outcomes: Vec<Outcome> = points.iter().map(|x| objective.evaluate(x)).collect();
                state.tell(&outcomes).expect("tell");
            }
            Ask::EvaluateWithGradient(points) => {
                let (outcomes, n) = evaluate_gradients(&Sequential, objective, &points, Some(b));
                state.tell_gradients(&outcomes, n).expect("tell");
            }
            Ask::Done(t) => break t,
        }
    };
    diffid::result_of(state.as_ref(), termination, start.elapsed(), None).expect("result")
}

#[test]
fn ask_tell_by_hand_equals_run_for_every_optimiser() {
    let exact = FnGradObjective::new(3, testkit::rosenbrock, testkit::rosenbrock_gradient);
    let fd_only = FnObjective::new(3, testkit::rosenbrock);
    let b = vec![Bounds::new(-2.0, 2.0).unwrap(); 3];
    let x0 = [-1.0, 1.5, 0.5];
    for objective in [&exact as &dyn Objective, &fd_only] {
        for opt in optimisers(3) {
            let mut state = opt.init(&x0, &b).expect("valid start");
            let ran = run(
                state.as_mut(),
                objective,
                &Sequential,
                &RunOptions::default(),
                &mut (),
            )
            .expect("runs");
            let hand = by_hand(opt.as_ref(), objective, &x0, &b);
            assert_eq!(bits(&ran.x), bits(&hand.x), "{}", opt.name());
            assert_eq!(ran.value.to_bits(), hand.value.to_bits(), "{}", opt.name());
            assert_eq!(ran.evaluations, hand.evaluations, "{}", opt.name());
            assert_eq!(ran.iterations, hand.iterations, "{}", opt.name());
            assert_eq!(ran.termination, hand.termination, "{}", opt.name());
        }
    }
}

#[test]
fn same_seed_same_result_at_any_thread_count_for_every_optimiser() {
    // Without a gradient of its own, the gradient optimisers' finite-difference stencils are
    // spread over the threads; CMA-ES's populations too.
    let objective = FnObjective::new(4, testkit::rosenbrock);
    let b = vec![Bounds::unbounded(); 4];
    let x0 = [0.5, -0.5, 1.5, 0.0];
    let pools: Vec<RayonEvaluator> = [1, 2, 3]
        .iter()
        .map(|&n| RayonEvaluator::new(n).unwrap())
        .collect();
    for opt in optimisers(11) {
        let mut state = opt.init(&x0, &b).unwrap();
        let reference = run(
            state.as_mut(),
            &objective,
            &Sequential,
            &RunOptions::default(),
            &mut (),
        )
        .unwrap();
        for pool in &pools {
            let mut state = opt.init(&x0, &b).unwrap();
            let r = run(
                state.as_mut(),
                &objective,
                pool,
                &RunOptions::default(),
                &mut (),
            )
            .unwrap();
            assert_eq!(bits(&r.x), bits(&reference.x), "{} on {pool:?}", opt.name());
            assert_eq!(r.evaluations, reference.evaluations, "{}", opt.name());
        }
    }
}

/// Records every point the optimiser asks to evaluate (in its search coordinates), then
/// evaluates it through the search space.
struct Recorder {
    inner: Box<dyn Objective>,
    seen: Mutex<Vec<Vec<f64>>>,
}

impl Objective for Recorder {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn evaluate(&self, z: &[f64]) -> Outcome {
        self.seen.lock().expect("not poisoned").push(z.to_vec());
        self.inner.evaluate(z)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn no_optimiser_evaluates_outside_the_bounds_whatever_the_transform(
        lo in 0.05f64..2.0,
        width in 0.1f64..3.0,
        frac in proptest::collection::vec(0.05f64..0.95, 3),
        transform in 0usize..3,
        which in 0usize..4,
        seed in 0u64..1000,
    ) {
        let hi = lo + width;
        let transform = [Transform::Identity, Transform::Log, Transform::Logit][transform];
        let mut params = Parameters::new();
        for (i, f) in frac.iter().enumerate() {
            let p = Parameter::new(format!("p{i}"), lo + f * width, Some((lo, hi)))
                .unwrap()
                .with_transform(transform)
                .unwrap();
            params.push(p).unwrap();
        }
        // Shifted Rosenbrock: its minimum (3, 3, 3) usually lies outside the box, so the
        // optimisers press against the bounds.
        let shifted = |x: &[f64]| {
            let y: Vec<f64> = x.iter().map(|v| v - 2.0).collect();
            testkit::rosenbrock(&y)
        };
        let space = SearchSpace::new(&params);
        let recorder = Recorder {
            inner: Box::new(space.wrap(Arc::new(FnObjective::new(3, shifted)))),
            seen: Mutex::new(Vec::new()),
        };
        let search_bounds = space.bounds();
        let opt = optimisers(seed).remove(which);
        let mut state = opt
            .init(&space.to_search(&params.initial()), &search_bounds)
            .expect("valid start");
        let pool = RayonEvaluator::new(2).unwrap();
        run(state.as_mut(), &recorder, &pool, &RunOptions::default(), &mut ()).expect("runs");
        let seen = recorder.seen.lock().unwrap();
        prop_assert!(!seen.is_empty());
        // The search bounds are the natural bounds mapped through the transform (finite for the
        // identity and log transforms here; logit maps the box onto the whole real line, so
        // there every finite point is inside). `to_natural` only guards against rounding, so
        // the check is made on what the optimiser asked for.
        for z in seen.iter() {
            for (v, b) in z.iter().zip(&search_bounds) {
                prop_assert!(
                    v.is_finite() && b.contains(*v),
                    "{} asked for {:?} outside the search bounds {:?} ({:?})",
                    opt.name(), z, search_bounds, transform
                );
            }
        }
    }
}
