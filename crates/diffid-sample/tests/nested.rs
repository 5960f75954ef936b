//! Dynamic nested sampling on problems with analytic evidence (those dynesty's own tests
//! use): ln Z within 4 reported errors, calibrated errors over 10 seeds, evaluation counts,
//! and bad input.

mod common;

use common::{correlated_3d, eggbox, loggamma_2d, run, shells, CORRELATED_3D_LOG_Z};
use diffid_core::{Ask, AskTell, Outcome};
use diffid_sample::{BoundKind, DynamicNestedSampler, NestedResult, Prior, SampleError, Sampling};
use std::f64::consts::PI;

fn within_4_errors(r: &NestedResult, truth: f64, what: &str) {
    let z = (r.log_evidence - truth) / r.log_evidence_error;
    assert!(
        z.abs() <= 4.0,
        "{what}: ln Z = {} ± {} vs {truth} ({z:.2} errors)",
        r.log_evidence,
        r.log_evidence_error
    );
    assert!(
        r.log_evidence_error > 0.0 && r.log_evidence_error < 1.0,
        "{what}"
    );
}

fn static_run(live: usize, dlogz: f64, seed: u64) -> DynamicNestedSampler {
    DynamicNestedSampler::new()
        .with_live_points(live)
        .and_then(|s| s.with_termination_tolerance(dlogz))
        .expect("valid")
        .with_max_batches(0)
        .with_seed(seed)
}

#[test]
fn analytic_evidences_are_recovered_within_four_errors() {
    let dynamic = DynamicNestedSampler::new()
        .with_live_points(200)
        .expect("valid")
        .with_seed(1);
    within_4_errors(
        &run(&dynamic, 3, -10.0, 10.0, &correlated_3d),
        CORRELATED_3D_LOG_Z,
        "3-D correlated Gaussian (dynamic)",
    );
    within_4_errors(
        &run(&dynamic, 2, -6.0, 6.0, &shells),
        -1.75,
        "2-D shells (dynamic)",
    );
    within_4_errors(
        &run(&static_run(500, 0.1, 2), 5, -6.0, 6.0, &shells),
        -5.67,
        "5-D shells",
    );
    within_4_errors(
        &run(&dynamic, 2, 0.0, 1.0, &loggamma_2d),
        0.0,
        "2-D LogGamma (dynamic)",
    );
    let evidence = DynamicNestedSampler::new()
        .with_live_points(500)
        .and_then(|s| s.with_posterior_fraction(0.0))
        .expect("valid")
        .with_seed(3);
    let egg = run(&evidence, 2, 0.0, 10.0 * PI, &eggbox);
    within_4_errors(&egg, 235.856, "eggbox (dynamic, evidence-weighted)");
}

/// The balls bound (`MLFriends`) on the same problems: a curved correlated Gaussian, two thin
/// shells and the eggbox's 18 modes, each within 4 reported errors.
#[test]
fn the_balls_bound_recovers_analytic_evidences() {
    let balls = |live, seed| static_run(live, 0.1, seed).with_bound(BoundKind::Balls);
    within_4_errors(
        &run(&balls(200, 11), 3, -10.0, 10.0, &correlated_3d),
        CORRELATED_3D_LOG_Z,
        "3-D correlated Gaussian (balls)",
    );
    within_4_errors(
        &run(&balls(500, 12), 2, -6.0, 6.0, &shells),
        -1.75,
        "2-D shells (balls)",
    );
    within_4_errors(
        &run(&balls(500, 13), 2, 0.0, 10.0 * PI, &eggbox),
        235.856,
        "eggbox (balls)",
    );
}

/// Moves from live points instead of uniform draws: random walks and slices recover the
/// correlated Gaussian's ln Z and, for slices, the thin shells'.
#[test]
fn walks_and_slices_recover_analytic_evidences() {
    for (sampling, seed) in [(Sampling::RandomWalk, 21), (Sampling::Slice, 22)] {
        let r = run(
            &static_run(200, 0.1, seed).with_sampling(sampling),
            3,
            -10.0,
            10.0,
            &correlated_3d,
        );
        within_4_errors(&r, CORRELATED_3D_LOG_Z, &format!("{sampling:?}"));
    }
    let r = run(
        &static_run(500, 0.1, 23).with_sampling(Sampling::Slice),
        2,
        -6.0,
        6.0,
        &shells,
    );
    within_4_errors(&r, -1.75, "2-D shells (slice)");
}

/// Over 10 seeds, the spread of ln Z matches the mean reported error within a factor 1.5.
#[test]
fn reported_errors_are_calibrated() {
    let problems: [common::Problem; 2] = [
        (
            "3-D correlated",
            3,
            -10.0,
            10.0,
            correlated_3d,
            CORRELATED_3D_LOG_Z,
        ),
        ("2-D shells", 2, -6.0, 6.0, shells, -1.75),
    ];
    for (name, d, lo, hi, f, truth) in problems {
        let runs: Vec<NestedResult> = (0..10)
            .map(|seed| run(&static_run(200, 0.01, seed), d, lo, hi, &f))
            .collect();
        let z: Vec<f64> = runs.iter().map(|r| r.log_evidence).collect();
        let mean = z.iter().sum::<f64>() / 10.0;
        let sd = (z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 9.0).sqrt();
        let reported = runs.iter().map(|r| r.log_evidence_error).sum::<f64>() / 10.0;
        let ratio = sd / reported;
        assert!(
            (1.0 / 1.5..=1.5).contains(&ratio),
            "{name}: sd of ln Z {sd:.3} vs mean error {reported:.3} (ratio {ratio:.2})"
        );
        assert!(
            (mean - truth).abs() < 4.0 * reported / 10f64.sqrt() + 4.0 * sd / 10f64.sqrt(),
            "{name}: mean ln Z {mean} vs {truth}"
        );
    }
}

#[test]
fn same_seed_same_run_and_equal_weight_draws_follow_the_posterior() {
    let s = DynamicNestedSampler::new()
        .with_live_points(100)
        .expect("valid")
        .with_seed(5);
    let a = run(&s, 3, -10.0, 10.0, &correlated_3d);
    let b = run(&s, 3, -10.0, 10.0, &correlated_3d);
    assert_eq!(a.points, b.points);
    assert_eq!(a.log_evidence.to_bits(), b.log_evidence.to_bits());
    // The posterior mean is linspace(−1, 1, 3).
    let mean = a.mean();
    for (m, t) in mean.iter().zip([-1.0, 0.0, 1.0]) {
        assert!((m - t).abs() < 0.1, "{mean:?}");
    }
    let draws = a.resample(Some(2000), 1);
    assert_eq!(draws.len(), 2000);
    let m0 = draws.iter().map(|x| x[0]).sum::<f64>() / 2000.0;
    assert!((m0 + 1.0).abs() < 0.15, "{m0}");
    assert!(a.ess > 1000.0, "{}", a.ess);
}

/// dynesty's published counts (multi-ellipsoid, uniform, 2 000 live points, dlogz 0.5): 2-D
/// shells 15 730, 5-D shells 35 647. Printed for the record with ours (`cargo test --release
/// -p diffid-sample --test nested -- --nocapture counts`): 28 976 and 59 616 for this seed.
/// The assertion guards the runs' accuracy and the counts (at most 3 times dynesty's).
#[test]
fn evaluation_counts_next_to_dynestys() {
    for (d, truth, dynesty) in [(2, -1.75, 15_730usize), (5, -5.67, 35_647)] {
        let r = run(&static_run(2000, 0.5, 7), d, -6.0, 6.0, &shells);
        eprintln!(
            "{d}-D shells, 2000 live points, dlogz 0.5: {} evaluations (dynesty {dynesty}), ln Z {:.3} ± {:.3}, {} points, H {:.2}",
            r.evaluations, r.log_evidence, r.log_evidence_error, r.points.len(), r.information
        );
        within_4_errors(&r, truth, "shells");
        assert!(
            r.evaluations <= 3 * dynesty,
            "{} evaluations",
            r.evaluations
        );
    }
}

#[test]
fn eggbox_evaluation_counts_stay_below_dynestys() {
    // Dynamic, evidence-weighted, 500 live points: dynesty publishes 57 080 evaluations. Near
    // the top the live points sit on dozens of small peaks, a few on each of those cut by the
    // prior's edges; a bound that lumps such a group with a neighbour's costs hundreds of
    // evaluations per point (this once took 64 000–155 000).
    for seed in 1..=3 {
        let s = DynamicNestedSampler::new()
            .with_live_points(500)
            .and_then(|s| s.with_posterior_fraction(0.0))
            .and_then(|s| s.with_queue_size(16))
            .expect("valid")
            .with_seed(seed);
        let r = run(&s, 2, 0.0, 10.0 * std::f64::consts::PI, &eggbox);
        eprintln!(
            "eggbox, seed {seed}: {} evaluations (dynesty 57 080), ln Z {:.3} ± {:.3}",
            r.evaluations, r.log_evidence, r.log_evidence_error
        );
        within_4_errors(&r, 235.856, "eggbox");
        assert!(r.evaluations <= 57_080, "{} evaluations", r.evaluations);
    }
}

#[test]
fn failed_and_nan_likelihoods_are_rejected_and_counted() {
    // NaN on a strip of the prior where the Gaussian below is negligible anyway: the evidence
    // is unchanged and the run completes.
    let f = |x: &[f64]| {
        if x[0] > 8.0 {
            f64::NAN
        } else {
            correlated_3d(x)
        }
    };
    let r = run(&static_run(200, 0.01, 4), 3, -10.0, 10.0, &f);
    assert!(r.failed_evaluations > 0);
    within_4_errors(&r, CORRELATED_3D_LOG_Z, "with NaN strip");
}

#[test]
fn a_likelihood_that_fails_everywhere_is_reported() {
    let s = static_run(20, 0.1, 1);
    let priors = vec![Prior::uniform(0.0, 1.0).expect("valid"); 2];
    let mut state = s.start(&[0.5, 0.5], &priors).expect("starts");
    let Ask::Evaluate(points) = state.ask() else {
        panic!("asks the initial points")
    };
    assert_eq!(points.len(), 20);
    let outcomes = vec![Outcome::Failed("nope".into()); 20];
    state.tell(&outcomes).expect("told");
    assert!(matches!(state.ask(), Ask::Done(_)));
    assert!(state.failed_everywhere());
    let err = state.tell(&outcomes).expect_err("after the end");
    assert!(err.to_string().contains("already terminated"), "{err}");
}

#[test]
fn bad_settings_name_the_setting() {
    let msg = |e: SampleError| e.to_string();
    assert!(msg(DynamicNestedSampler::new()
        .with_termination_tolerance(0.0)
        .expect_err("0"))
    .contains("dlogz"));
    assert!(msg(DynamicNestedSampler::new()
        .with_live_points(1)
        .expect_err("1"))
    .contains("live_points"));
    assert!(msg(DynamicNestedSampler::new()
        .with_posterior_fraction(1.5)
        .expect_err("1.5"))
    .contains("posterior fraction"));
    let priors = vec![Prior::uniform(0.0, 1.0).expect("valid"); 4];
    let e = DynamicNestedSampler::new()
        .with_live_points(4)
        .expect("valid")
        .start(&[0.5; 4], &priors)
        .expect_err("4 live points for 4 parameters");
    assert!(msg(e).contains("d = 4"));
    let mut state = static_run(20, 0.1, 1)
        .start(&[0.5, 0.5], &priors[..2])
        .expect("starts");
    let Ask::Evaluate(_) = state.ask() else {
        panic!("asks")
    };
    let err = state.tell(&[Outcome::Value(1.0)]).expect_err("wrong count");
    assert!(err.to_string().contains("expected 20"), "{err}");
}
