//! Sampling through the facade: priors, likelihoods with estimated noise, determinism across
//! thread counts, and the errors of problems that cannot be sampled.

use diffid::{
    DiffsolBuilder, Distribution, EnsembleSampler, Error, GaussianNll, MetropolisHastings,
    Parallelism, Problem, RunOptions, Sampler, Sse,
};

const SEED_MODEL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/lotka_volterra_seed.ds"
));

const DECAY: &str = "in_i { k = 0.5, y0 = 2.0 } u_i { y = y0 } F_i { -k * y }";

fn seed_data() -> Vec<f64> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/lotka_volterra_seed.csv"
    );
    std::fs::read_to_string(path)
        .expect("bundled data")
        .lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',')
                .map(|v| v.trim().parse::<f64>().expect("number"))
        })
        .collect()
}

/// The seed's Lotka–Volterra fit with an unknown noise σ, sampled.
fn seed_posterior(parallelism: Parallelism) -> Problem {
    let data = seed_data();
    let positive = Distribution::LogNormal {
        mu: -1.0,
        sigma: 1.0,
    };
    DiffsolBuilder::new()
        .with_diffsl(SEED_MODEL)
        .with_data(data.len() / 3, 3, &data)
        .with_parameter("alpha", 1.1, Some((0.0, 5.0)))
        .with_parameter("beta", 0.4, Some((0.0, 5.0)))
        .with_parameter("delta", 0.1, Some((0.0, 5.0)))
        .with_parameter("gamma", 0.4, Some((0.0, 5.0)))
        .with_parameter("sigma", 1.0, None)
        .with_prior("sigma", Distribution::HalfNormal { sd: 5.0 })
        .with_prior("delta", positive)
        .with_cost(GaussianNll::with_sigma(vec!["sigma".into()], 1.0).expect("valid"))
        .with_parallelism(parallelism)
        .build()
        .expect("builds")
}

#[test]
fn chains_are_bit_identical_at_one_two_and_three_threads() {
    let samplers: Vec<Box<dyn Sampler>> = vec![
        Box::new(
            MetropolisHastings::new()
                .with_num_chains(4)
                .and_then(|m| m.with_iterations(60))
                .expect("valid")
                .with_seed(3),
        ),
        Box::new(
            EnsembleSampler::new()
                .with_iterations(20)
                .expect("valid")
                .with_seed(3),
        ),
    ];
    for sampler in &samplers {
        let runs: Vec<_> = [
            Parallelism::Sequential,
            Parallelism::Threads(2),
            Parallelism::Threads(3),
        ]
        .into_iter()
        .map(|p| {
            seed_posterior(p)
                .sample(None, Some(sampler.as_ref()), &RunOptions::default())
                .expect("samples")
        })
        .collect();
        for r in &runs[1..] {
            assert_eq!(r.chains, runs[0].chains, "{}", sampler.name());
            assert_eq!(r.evaluations, runs[0].evaluations);
        }
        assert!(runs[0].chains.n_draws() > 0);
    }
}

#[test]
fn log_densities_add_up_and_noise_parameters_stay_out_of_the_model() {
    let p = seed_posterior(Parallelism::Sequential);
    let x = [1.1, 0.4, 0.1, 0.4, 2.0];
    let lp = p.log_prior(&x).expect("prior");
    let ll = p.log_likelihood(&x).expect("likelihood");
    assert!((p.log_posterior(&x).expect("posterior") - (lp + ll)).abs() < 1e-9);
    // The likelihood with σ = 2 against the SSE at the model parameters.
    let predictions = p.simulate(&x).expect("simulates");
    let data = seed_data();
    let sse: f64 = data
        .chunks_exact(3)
        .zip(predictions.chunks_exact(2))
        .map(|(row, pred)| (row[1] - pred[0]).powi(2) + (row[2] - pred[1]).powi(2))
        .sum();
    let n = predictions.len() as f64;
    let expected = -0.5 * (sse / 4.0 + n * (2.0 * std::f64::consts::PI * 4.0).ln());
    assert!(
        (ll - expected).abs() < 1e-8 * expected.abs(),
        "{ll} vs {expected}"
    );
    // Outside the prior's support the posterior is -inf without a solve.
    assert_eq!(
        p.log_posterior(&[1.1, 0.4, 0.1, 0.4, -1.0])
            .expect("defined"),
        f64::NEG_INFINITY
    );
}

#[test]
fn exact_gradients_cover_the_noise_parameter() {
    let p = seed_posterior(Parallelism::Sequential);
    let x = [1.1, 0.4, 0.1, 0.4, 7.0];
    let g = p.evaluate_gradient(&x).expect("gradient");
    assert!(p.has_exact_gradient());
    for (i, gi) in g.iter().enumerate() {
        let h = 1e-6 * x[i].abs().max(1e-3);
        let mut up = x;
        let mut down = x;
        up[i] += h;
        down[i] -= h;
        let fd = (p.evaluate(&up).expect("up") - p.evaluate(&down).expect("down")) / (2.0 * h);
        assert!(
            (gi - fd).abs() <= 1e-4 * (1.0 + fd.abs()),
            "∂/∂x{i}: exact {gi} vs central difference {fd}"
        );
    }
}

fn decay(cost: Box<dyn diffid::CostMetric>) -> DiffsolBuilder {
    let data: Vec<f64> = (0..26)
        .flat_map(|i| {
            let t = f64::from(i) * 0.2;
            [t, 3.0 * (-0.7 * t).exp()]
        })
        .collect();
    DiffsolBuilder::new()
        .with_diffsl(DECAY)
        .with_data(data.len() / 2, 2, &data)
        .with_cost(cost)
}

#[test]
fn problems_that_cannot_be_sampled_say_why() {
    let sse = decay(Box::new(Sse::new(1.0).expect("valid")))
        .with_parameter("k", 0.5, Some((0.0, 2.0)))
        .build()
        .expect("builds");
    let err = sse
        .sample(None, None, &RunOptions::default())
        .expect_err("not a likelihood");
    assert!(matches!(err, Error::NotALikelihood { .. }), "{err}");
    assert!(err.to_string().contains("GaussianNLL"), "{err}");

    let lik = || Box::new(GaussianNll::new(0.01, 1.0).expect("valid"));
    let improper = decay(lik())
        .with_parameter("k", 0.5, None)
        .build()
        .expect("builds");
    let err = improper
        .sample(None, None, &RunOptions::default())
        .expect_err("no prior");
    assert!(
        err.to_string().contains("parameter 'k' has no prior"),
        "{err}"
    );

    let zero = decay(lik())
        .with_parameter("k", 0.5, None)
        .with_prior(
            "k",
            Distribution::Gamma {
                shape: 2.0,
                rate: 1.0,
            },
        )
        .with_parameter("y0", -1.0, None)
        .with_prior("y0", Distribution::HalfNormal { sd: 1.0 })
        .build()
        .expect_err("zero density at y0 = -1");
    assert!(
        matches!(zero, Error::PriorZeroAtStart { ref name, .. } if name == "y0"),
        "{zero}"
    );

    let unknown = decay(lik())
        .with_parameter("k", 0.5, None)
        .with_prior("kk", Distribution::Normal { mean: 0.0, sd: 1.0 })
        .build()
        .expect_err("unknown name");
    assert!(unknown.to_string().contains("'kk'"), "{unknown}");

    let noise = decay(Box::new(
        GaussianNll::with_sigma(vec!["s".into()], 1.0).expect("valid"),
    ))
    .with_parameter("k", 0.5, None)
    .build()
    .expect_err("s is not declared");
    assert!(
        matches!(noise, Error::UnknownNoiseParameter { ref name, .. } if name == "s"),
        "{noise}"
    );
}

#[test]
fn a_failed_solve_at_the_start_is_an_error_naming_the_point() {
    // y' = c y² blows up at t = 1/(c y0): beyond the data's horizon for large c.
    let blowup = "in_i { c = 0.1 } u_i { y = 1.0 } F_i { c * y * y }";
    let data: Vec<f64> = (0..11).flat_map(|i| [f64::from(i) * 0.5, 1.0]).collect();
    let p = DiffsolBuilder::new()
        .with_diffsl(blowup)
        .with_data(11, 2, &data)
        .with_parameter("c", 0.5, Some((0.0, 1.0)))
        .with_cost(GaussianNll::new(1.0, 1.0).expect("valid"))
        .build()
        .expect("builds");
    let err = p
        .sample(None, None, &RunOptions::default())
        .expect_err("fails at the start");
    assert!(
        matches!(err, Error::Evaluation { ref point, .. } if point == &vec![0.5]),
        "{err}"
    );
}

#[test]
fn nested_runs_are_bit_identical_at_one_two_and_three_threads() {
    let sampler = diffid::DynamicNestedSampler::new()
        .with_live_points(30)
        .and_then(|s| s.with_termination_tolerance(0.5))
        .expect("valid")
        .with_max_batches(1)
        .with_seed(2);
    let runs: Vec<_> = [
        Parallelism::Sequential,
        Parallelism::Threads(2),
        Parallelism::Threads(3),
    ]
    .into_iter()
    .map(|p| {
        decay(Box::new(GaussianNll::new(0.01, 1.0).expect("valid")))
            .with_parameter("k", 0.5, Some((0.0, 2.0)))
            .with_parameter("y0", 2.0, Some((0.0, 5.0)))
            .with_parallelism(p)
            .build()
            .expect("builds")
            .nested_sample_observed(None, &sampler, &RunOptions::default(), &mut ())
            .expect("runs")
    })
    .collect();
    for r in &runs[1..] {
        assert_eq!(r.points, runs[0].points);
        assert_eq!(r.log_evidence.to_bits(), runs[0].log_evidence.to_bits());
        assert_eq!(r.evaluations, runs[0].evaluations);
    }
    // The posterior sits at the generating values.
    let mean = runs[0].mean();
    assert!(
        (mean[0] - 0.7).abs() < 0.01 && (mean[1] - 3.0).abs() < 0.05,
        "{mean:?}"
    );
}

#[test]
fn a_likelihood_failing_everywhere_is_an_error() {
    let blowup = "in_i { c = 0.1 } u_i { y = 1.0 } F_i { c * y * y }";
    let data: Vec<f64> = (0..11).flat_map(|i| [f64::from(i) * 0.5, 1.0]).collect();
    let p = DiffsolBuilder::new()
        .with_diffsl(blowup)
        .with_data(11, 2, &data)
        // The solution blows up before t = 5 for every c in the prior.
        .with_parameter("c", 0.5, Some((0.3, 1.0)))
        .with_cost(GaussianNll::new(1.0, 1.0).expect("valid"))
        .build()
        .expect("builds");
    let sampler = diffid::DynamicNestedSampler::new()
        .with_live_points(10)
        .expect("valid")
        .with_seed(1);
    let err = p
        .nested_sample_observed(None, &sampler, &RunOptions::default(), &mut ())
        .expect_err("no mass");
    assert!(
        matches!(err, Error::NoLikelihoodMass { points: 10 }),
        "{err}"
    );
}

/// An objective that answers capped evaluations both ways, checks the contract of
/// [`Objective::evaluate_below`] on every one (keeping the violations: a panic here would be
/// caught by the evaluator as a failed point), and counts those stopped early.
struct Checked {
    inner: std::sync::Arc<dyn diffid::Objective>,
    capped: std::sync::atomic::AtomicUsize,
    cut: std::sync::atomic::AtomicUsize,
    violations: std::sync::Mutex<Vec<String>>,
}

impl diffid::Objective for Checked {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn evaluate(&self, x: &[f64]) -> diffid::Outcome {
        self.inner.evaluate(x)
    }
    fn evaluate_below(&self, x: &[f64], cap: f64) -> diffid::Outcome {
        use std::sync::atomic::Ordering::Relaxed;
        let exact = self.inner.evaluate(x);
        let capped = self.inner.evaluate_below(x, cap);
        self.capped.fetch_add(1, Relaxed);
        let violation = match (&exact, &capped) {
            (diffid::Outcome::Value(e), diffid::Outcome::Value(c)) if *e < cap => {
                (e.to_bits() != c.to_bits()).then(|| format!("below the cap {cap}: {e} vs {c}"))
            }
            (diffid::Outcome::Value(e), diffid::Outcome::Value(c)) => {
                if c < e {
                    self.cut.fetch_add(1, Relaxed);
                }
                (*c < cap || c > e).then(|| format!("at or above the cap {cap}: {c} (exact {e})"))
            }
            (diffid::Outcome::Failed(_), diffid::Outcome::Failed(_)) => None,
            // A solve that would fail later (zero likelihood) may be stopped above the cap.
            (diffid::Outcome::Failed(_), diffid::Outcome::Value(c)) => {
                self.cut.fetch_add(1, Relaxed);
                (*c < cap).then(|| format!("{c} below the cap {cap} for a failing point"))
            }
            _ => Some(format!("{exact:?} vs {capped:?}")),
        };
        if let Some(v) = violation {
            self.violations.lock().expect("not poisoned").push(v);
        }
        capped
    }
}

/// Evaluates exactly: no `evaluate_below` of its own.
struct Exact(std::sync::Arc<dyn diffid::Objective>);

impl diffid::Objective for Exact {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn evaluate(&self, x: &[f64]) -> diffid::Outcome {
        self.0.evaluate(x)
    }
}

#[test]
fn capped_evaluations_stop_solves_early_and_leave_nested_runs_unchanged() {
    use diffid::{AskTell, Objective};
    use std::sync::atomic::Ordering::Relaxed;
    // The seed's oscillating model over its 500 times, σ estimated, on the benchmark's prior
    // (where some solves fail): a candidate that misses the oscillation is known to be
    // rejected long before the end of its solve.
    let data = seed_data();
    let problem = DiffsolBuilder::new()
        .with_diffsl(SEED_MODEL)
        .with_data(data.len() / 3, 3, &data)
        .with_parameter("alpha", 1.1, Some((0.0, 2.0)))
        .with_parameter("beta", 0.4, Some((0.0, 2.0)))
        .with_parameter("delta", 0.1, Some((0.0, 2.0)))
        .with_parameter("gamma", 0.4, Some((0.0, 2.0)))
        .with_parameter("sigma", 0.5, Some((0.05, 3.0)))
        .with_cost(GaussianNll::with_sigma(vec!["sigma".into()], 1.0).expect("valid"))
        .with_solver(diffid::SolverKind::Tsit45)
        .build()
        .expect("builds");
    let priors: Vec<diffid::Prior> = [(0.0, 2.0), (0.0, 2.0), (0.0, 2.0), (0.0, 2.0), (0.05, 3.0)]
        .iter()
        .map(|&(a, b)| diffid::Prior::uniform(a, b).expect("valid"))
        .collect();
    let x0 = [1.1, 0.4, 0.1, 0.4, 0.5];
    let sampler = diffid::DynamicNestedSampler::new()
        .with_live_points(40)
        .and_then(|s| s.with_termination_tolerance(1.0))
        .expect("valid")
        .with_max_batches(0)
        .with_seed(5);
    let checked = Checked {
        inner: problem.objective().clone(),
        capped: 0.into(),
        cut: 0.into(),
        violations: std::sync::Mutex::default(),
    };
    let exact = Exact(problem.objective().clone());
    let mut runs = Vec::new();
    for objective in [&checked as &dyn Objective, &exact] {
        let mut state = sampler.start(&x0, &priors).expect("starts");
        diffid::drive(
            &mut state,
            objective,
            &diffid::Sequential,
            &RunOptions::default(),
            &mut (),
            None,
            |_, _| {},
        )
        .expect("runs");
        runs.push((
            state.all_points(),
            state.evaluations(),
            state.failed_evaluations(),
        ));
    }
    let violations = checked.violations.lock().expect("not poisoned");
    assert!(
        violations.is_empty(),
        "{:?}",
        &violations[..violations.len().min(5)]
    );
    assert_eq!(
        runs[0].0, runs[1].0,
        "the capped run differs from the exact one"
    );
    assert_eq!(runs[0].1, runs[1].1);
    // Some candidates failed; capped, some of them stopped before their failure.
    assert!(
        runs[1].2 > 0 && runs[0].2 <= runs[1].2,
        "{} {}",
        runs[0].2,
        runs[1].2
    );
    let (capped, cut) = (checked.capped.load(Relaxed), checked.cut.load(Relaxed));
    // Most rejected candidates were known to be rejected before the end of their solve.
    assert!(
        capped > runs[0].1 / 2,
        "{capped} of {} evaluations capped",
        runs[0].1
    );
    assert!(
        cut > capped / 4,
        "{cut} of {capped} capped evaluations stopped early"
    );
}
