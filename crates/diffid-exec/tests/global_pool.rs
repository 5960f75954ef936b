//! The private pool must leave rayon's global pool untouched. This runs in its own process so
//! that nothing else can have initialised the global pool first.

use diffid_core::{FnObjective, Outcome};
use diffid_exec::{Evaluator, RayonEvaluator};

#[test]
fn evaluating_on_a_private_pool_does_not_initialise_the_global_pool() {
    // Three threads: the calling one and two helpers in the private pool.
    let evaluator = RayonEvaluator::new(3).expect("pool starts");
    let caller = std::thread::current().id();
    let objective = FnObjective::new(1, move |x: &[f64]| {
        // The calling thread, or one of the private pool's helpers. (Asking rayon here would
        // itself start the global pool on the calling thread.)
        let me = std::thread::current();
        assert!(
            me.id() == caller || me.name().is_some_and(|n| n.starts_with("diffid-eval-")),
            "{:?}",
            me.name()
        );
        x[0] * 2.0
    });
    let points: Vec<Vec<f64>> = (0..16).map(|i| vec![f64::from(i)]).collect();
    let out = evaluator.evaluate_batch(&objective, &points);
    assert!(out.iter().all(|o| !o.is_failed()), "{out:?}");
    assert_eq!(out[5], Outcome::Value(10.0));
    drop(evaluator);
    // Building the global pool only succeeds if nothing has initialised it yet.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .expect("the global pool was not initialised by the evaluator");
    assert_eq!(rayon::current_num_threads(), 1);
}
