//! The private pool must leave rayon's global pool untouched. This runs in its own process so
//! that nothing else can have initialised the global pool first.

use diffid_core::{FnObjective, Outcome};
use diffid_exec::{Evaluator, RayonEvaluator};

#[test]
fn evaluating_on_a_private_pool_does_not_initialise_the_global_pool() {
    let evaluator = RayonEvaluator::new(2).expect("pool starts");
    let objective = FnObjective::new(1, |x: &[f64]| {
        // Inside the private pool rayon reports the private pool's size.
        assert_eq!(rayon::current_num_threads(), 2);
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
