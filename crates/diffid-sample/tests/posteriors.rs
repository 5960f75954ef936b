//! Known posteriors: 4 chains × 4 000 draws after 1 000 warm-up iterations must give sample
//! means and covariances within 4 Monte Carlo standard errors of the truth, rank R-hat below
//! 1.01, and bulk and tail effective sample sizes of at least 400.

use diffid_core::{Ask, AskTell, Outcome};
use diffid_sample::diagnostics::{ess_bulk, ess_mean, ess_tail, rhat};
use diffid_sample::{
    Chains, EnsembleSampler, MetropolisHastings, Prior, SampleError, SamplerState,
};

/// Drives a state to the end with `nll`, sequentially.
fn drive(state: &mut dyn SamplerState, nll: &dyn Fn(&[f64]) -> f64) -> Chains {
    loop {
        match state.ask() {
            Ask::Evaluate(points) => {
                let o: Vec<Outcome> = points.iter().map(|x| Outcome::from_value(nll(x))).collect();
                state.tell(&o).expect("one outcome per point");
            }
            Ask::EvaluateWithGradient(_) => unreachable!("samplers ask for values"),
            Ask::Done(_) => return state.chains().clone(),
        }
    }
}

fn wide_priors(d: usize, half_width: f64) -> Vec<Prior> {
    vec![Prior::uniform(-half_width, half_width).expect("valid"); d]
}

/// The draws of `f(x)` per chain.
fn quantity(chains: &Chains, f: &dyn Fn(&[f64]) -> f64) -> Vec<Vec<f64>> {
    chains
        .draws
        .iter()
        .map(|c| c.chunks_exact(chains.dim).map(f).collect())
        .collect()
}

fn refs(v: &[Vec<f64>]) -> Vec<&[f64]> {
    v.iter().map(Vec::as_slice).collect()
}

/// Asserts that the mean of `f` is within 4 MCSE of `truth`.
fn assert_mean_within_4_mcse(chains: &Chains, f: &dyn Fn(&[f64]) -> f64, truth: f64, what: &str) {
    let q = quantity(chains, f);
    let all: Vec<f64> = q.concat();
    let n = all.len() as f64;
    let mean = all.iter().sum::<f64>() / n;
    let sd = (all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let mcse = sd / ess_mean(&refs(&q)).sqrt();
    assert!(
        (mean - truth).abs() <= 4.0 * mcse,
        "{what}: estimate {mean} vs truth {truth}, 4·MCSE = {}",
        4.0 * mcse
    );
}

/// Checks means, covariances, R-hat and ESS of every coordinate against the truth.
fn check(chains: &Chains, mean: &[f64], cov: &[f64], label: &str) {
    let d = chains.dim;
    assert_eq!(chains.n_chains * chains.n_draws(), 16_000, "{label}");
    for i in 0..d {
        let xi = quantity(chains, &|x| x[i]);
        let r = rhat(&refs(&xi));
        let (bulk, tail) = (ess_bulk(&refs(&xi)), ess_tail(&refs(&xi)));
        assert!(r < 1.01, "{label}: R-hat of x{i} = {r}");
        assert!(
            bulk >= 400.0 && tail >= 400.0,
            "{label}: ESS of x{i}: bulk {bulk}, tail {tail}"
        );
        assert_mean_within_4_mcse(chains, &|x| x[i], mean[i], &format!("{label} mean x{i}"));
        for j in 0..=i {
            assert_mean_within_4_mcse(
                chains,
                &|x| (x[i] - mean[i]) * (x[j] - mean[j]),
                cov[i * d + j],
                &format!("{label} cov x{i} x{j}"),
            );
        }
    }
}

fn mh() -> MetropolisHastings {
    MetropolisHastings::new()
        .with_num_chains(4)
        .and_then(|m| m.with_iterations(5000))
        .and_then(|m| m.with_warmup(1000))
        .expect("valid settings")
}

/// The ensemble's walkers are its "chains": 16 walkers × 1 000 kept draws are the same
/// 16 000 draws as 4 chains × 4 000. Walkers move together, so successive iterations are
/// strongly correlated; the draws are thinned (every `thin`-th iteration kept) to reach the
/// same effective sample sizes.
fn ensemble(thin: usize) -> EnsembleSampler {
    EnsembleSampler::new()
        .with_walkers(16)
        .and_then(|e| e.with_iterations(1000 + 1000 * thin))
        .and_then(|e| e.with_warmup(1000))
        .and_then(|e| e.with_thin(thin))
        .expect("valid settings")
}

fn std_normal_nll(x: &[f64]) -> f64 {
    0.5 * x.iter().map(|v| v * v).sum::<f64>()
}

#[test]
fn metropolis_hastings_samples_a_standard_normal() {
    for seed in [1, 2] {
        let mut s = mh()
            .with_seed(seed)
            .start(&[0.5, -0.5], &wide_priors(2, 50.0))
            .expect("start");
        let chains = drive(&mut s, &std_normal_nll);
        check(
            &chains,
            &[0.0, 0.0],
            &[1.0, 0.0, 0.0, 1.0],
            &format!("mh 2-D normal seed {seed}"),
        );
    }
}

#[test]
fn ensemble_samples_a_standard_normal() {
    let mut s = ensemble(5)
        .with_seed(3)
        .start(&[0.5, -0.5], &wide_priors(2, 50.0))
        .expect("start");
    let chains = drive(&mut s, &std_normal_nll);
    check(
        &chains,
        &[0.0, 0.0],
        &[1.0, 0.0, 0.0, 1.0],
        "ensemble 2-D normal",
    );
}

/// The 6-D Gaussian with unit variances and correlation 0.8 between every pair.
fn correlated() -> (Vec<f64>, impl Fn(&[f64]) -> f64) {
    let d = 6;
    let rho = 0.8;
    let cov: Vec<f64> = (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { rho })
        .collect();
    // Σ = (1 − ρ) I + ρ 11ᵀ, so Σ⁻¹ = (I − ρ/(1 + (d − 1)ρ) 11ᵀ) / (1 − ρ).
    let c = rho / (1.0 + (f64::from(d) - 1.0) * rho);
    let nll = move |x: &[f64]| {
        let s: f64 = x.iter().sum();
        let q = x.iter().map(|v| v * v).sum::<f64>() - c * s * s;
        0.5 * q / (1.0 - rho)
    };
    (cov, nll)
}

#[test]
fn metropolis_hastings_samples_a_correlated_six_dimensional_gaussian() {
    let (cov, nll) = correlated();
    let mut s = mh()
        .with_seed(5)
        .start(&[0.3; 6], &wide_priors(6, 50.0))
        .expect("start");
    let chains = drive(&mut s, &nll);
    check(&chains, &[0.0; 6], &cov, "mh 6-D correlated");
}

#[test]
fn ensemble_samples_a_correlated_six_dimensional_gaussian() {
    let (cov, nll) = correlated();
    let mut s = ensemble(10)
        .with_seed(7)
        .start(&[0.3; 6], &wide_priors(6, 50.0))
        .expect("start");
    let chains = drive(&mut s, &nll);
    check(&chains, &[0.0; 6], &cov, "ensemble 6-D correlated");
}

/// Haario's twisted Gaussian ("banana"), b = 0.1: `(x₁, x₂ + b x₁² − 100 b)` is normal with
/// variances 100 and 1. Its mean is 0; Var x₁ = 100, Var x₂ = 1 + 2 b² 100² = 201, and the
/// covariance is 0.
fn banana_nll(x: &[f64]) -> f64 {
    let b = 0.1;
    let y2 = x[1] + b * x[0] * x[0] - 100.0 * b;
    0.5 * (x[0] * x[0] / 100.0 + y2 * y2)
}

/// A random walk crawls along the banana's thin, curved ridge: the 4 000 draws per chain are
/// every 100th of 400 000 iterations (the ensemble, whose moves are affine, does no better on
/// this non-affine target).
#[test]
fn metropolis_hastings_samples_the_banana() {
    let mut s = MetropolisHastings::new()
        .with_num_chains(4)
        .and_then(|m| m.with_iterations(1000 + 4000 * 100))
        .and_then(|m| m.with_warmup(1000))
        .and_then(|m| m.with_thin(100))
        .expect("valid")
        .with_seed(11)
        .start(&[0.0, 0.0], &wide_priors(2, 200.0))
        .expect("start");
    let chains = drive(&mut s, &banana_nll);
    check(&chains, &[0.0, 0.0], &[100.0, 0.0, 0.0, 201.0], "mh banana");
}

#[test]
fn chains_are_reproducible_and_ask_tell_counts_are_checked() {
    let run = |seed| {
        let mut s = mh()
            .with_seed(seed)
            .start(&[0.5, -0.5], &wide_priors(2, 50.0))
            .expect("start");
        drive(&mut s, &std_normal_nll)
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9).draws, run(10).draws);

    let mut s = mh()
        .with_seed(1)
        .start(&[0.5, -0.5], &wide_priors(2, 50.0))
        .expect("start");
    let Ask::Evaluate(points) = s.ask() else {
        panic!("the starts are asked first")
    };
    assert_eq!(points.len(), 4);
    assert_eq!(
        points[0],
        vec![0.5, -0.5],
        "chain 0 starts at the initial point"
    );
    let err = s.tell(&[Outcome::Value(1.0)]).expect_err("wrong count");
    assert!(err.to_string().contains("expected 4"), "{err}");
}

#[test]
fn proposals_outside_the_prior_are_rejected_without_evaluation() {
    // A target piled against the prior's edge at 0: many proposals fall below 0.
    let priors = vec![Prior::uniform(0.0, 10.0).expect("valid")];
    let mut s = MetropolisHastings::new()
        .with_num_chains(2)
        .and_then(|m| m.with_iterations(2000))
        .expect("valid")
        .with_seed(2)
        .start(&[0.5], &priors)
        .expect("start");
    let asked = std::cell::Cell::new(0usize);
    let chains = drive(&mut s, &|x: &[f64]| {
        asked.set(asked.get() + 1);
        assert!(
            (0.0..=10.0).contains(&x[0]),
            "asked outside the support: {x:?}"
        );
        x[0] // an exponential(1) target truncated to [0, 10]
    });
    assert!(chains.outside_support > 100, "{}", chains.outside_support);
    assert!(chains
        .draws
        .iter()
        .flatten()
        .all(|&v| (0.0..=10.0).contains(&v)));
    // The posterior mean of the truncated exponential (≈ 1 − 10 e⁻¹⁰/(1 − e⁻¹⁰)).
    let mean =
        chains.draws.concat().iter().sum::<f64>() / (chains.n_chains * chains.n_draws()) as f64;
    assert!((mean - 1.0).abs() < 0.15, "{mean}");
    assert_eq!(
        asked.get() + chains.outside_support,
        2 * 2000 + 2,
        "every proposal is evaluated or rejected outside"
    );
}

#[test]
fn failed_likelihoods_are_counted_rejections_and_a_failed_start_stops_the_run() {
    let priors = wide_priors(1, 10.0);
    let mut s = mh().with_seed(4).start(&[0.1], &priors).expect("start");
    // NaN for x > 1: those proposals are failures, never accepted.
    let chains = drive(&mut s, &|x: &[f64]| {
        if x[0] > 1.0 {
            f64::NAN
        } else {
            0.5 * x[0] * x[0]
        }
    });
    assert!(chains.failed > 0);
    assert!(chains.draws.iter().flatten().all(|&v| v <= 1.0));

    let mut s = mh().with_seed(4).start(&[0.1], &priors).expect("start");
    let Ask::Evaluate(points) = s.ask() else {
        panic!("starts")
    };
    let outcomes: Vec<Outcome> = points
        .iter()
        .map(|_| Outcome::Failed("boom".into()))
        .collect();
    s.tell(&outcomes).expect("told");
    assert!(matches!(s.ask(), Ask::Done(_)));
    let (x, reason) = s.start_failure().expect("the initial point failed");
    assert_eq!(x, vec![0.1]);
    assert_eq!(reason, "boom");
}

#[test]
fn bad_settings_and_starts_name_the_problem() {
    let msg = |e: SampleError| e.to_string();
    assert!(
        msg(MetropolisHastings::new().with_num_chains(0).expect_err("0")).contains("num_chains")
    );
    assert!(
        msg(MetropolisHastings::new().with_iterations(0).expect_err("0")).contains("iterations")
    );
    assert!(msg(MetropolisHastings::new().with_warmup(1000).expect_err(">=")).contains("warm-up"));
    assert!(msg(MetropolisHastings::new().with_thin(0).expect_err("0")).contains("thin"));
    assert!(msg(MetropolisHastings::new()
        .with_step_size(0.0)
        .expect_err("0"))
    .contains("step_size"));
    assert!(msg(EnsembleSampler::new().with_stretch(1.0).expect_err("1")).contains("stretch"));
    let e = EnsembleSampler::new()
        .with_walkers(4)
        .expect("4 is allowed in general")
        .start(&[0.0; 3], &wide_priors(3, 1.0))
        .expect_err("4 < 2·3");
    assert!(msg(e).contains("at least 2·d = 6"));
    let e = MetropolisHastings::new()
        .start(&[20.0], &wide_priors(1, 1.0))
        .expect_err("outside");
    assert!(
        matches!(e, SampleError::StartOutsidePrior { index: 0, .. }),
        "{e}"
    );
}
