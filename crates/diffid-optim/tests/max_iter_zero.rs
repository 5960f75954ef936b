//! `with_max_iter(0)` on every optimiser: the start is evaluated once and returned.

use diffid_core::testkit::sphere;
use diffid_core::{Ask, Bounds, CoreError, Optimiser, Outcome, Termination};
use diffid_optim::{Adam, CmaEs, Lbfgsb, NelderMead};

fn all_with_zero_iterations() -> Vec<Box<dyn Optimiser>> {
    vec![
        Box::new(NelderMead::new().with_max_iter(0)),
        Box::new(CmaEs::new().with_max_iter(0)),
        Box::new(Adam::new().with_max_iter(0)),
        Box::new(Lbfgsb::new().with_max_iter(0)),
    ]
}

#[test]
fn zero_iterations_evaluate_the_start_and_return_it() {
    for opt in all_with_zero_iterations() {
        let mut state = opt.init(&[1.0, -2.0], &[Bounds::unbounded(); 2]).unwrap();
        let Ask::Evaluate(points) = state.ask() else {
            panic!("{}: expected one point to evaluate", opt.name());
        };
        assert_eq!(points, vec![vec![1.0, -2.0]], "{}", opt.name());
        state.tell(&[Outcome::Value(sphere(&points[0]))]).unwrap();
        assert_eq!(
            state.ask(),
            Ask::Done(Termination::MaxIterations),
            "{}",
            opt.name()
        );
        assert_eq!(state.best(), Some((vec![1.0, -2.0], 5.0)), "{}", opt.name());
        assert_eq!(state.evaluations(), 1);
        assert_eq!(state.iterations(), 0);
    }
}

#[test]
fn zero_iterations_still_check_the_start_and_the_settings() {
    for opt in all_with_zero_iterations() {
        let outside = opt.init(&[2.0], &[Bounds::new(0.0, 1.0).unwrap()]).err();
        assert!(
            matches!(outside, Some(CoreError::InitialOutOfBounds { .. })),
            "{}: {outside:?}",
            opt.name()
        );
    }
    let bad = NelderMead::new().with_max_iter(0).with_step_size(-1.0);
    assert!(matches!(
        bad.init(&[1.0], &[Bounds::unbounded()]).err(),
        Some(CoreError::InvalidSetting { setting, .. }) if setting == "step_size"
    ));
}
