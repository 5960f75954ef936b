//! Experiments given as measurement rows: the negative log-likelihood of each noise model
//! against its closed form, replicates and partial rows, σ as a number, a parameter or a model
//! output, exact gradients against central differences, and bad rows as errors.

use diffid::{
    DiffsolBuilder, Error, Measurement, NoiseDistribution, NoiseScale, Parallelism, Problem, Sigma,
};

/// Two outputs: the decaying amount and, as a noise formula, σ = s0 + s1 * y.
const MODEL: &str = "
in_i { k = 0.5, y0 = 3.0, s0 = 0.1, s1 = 0.05 }
u_i { y = y0 }
F_i { -k * y }
out_i { obs = y, sd = s0 + s1 * y }
";

fn y(k: f64, y0: f64, t: f64) -> f64 {
    y0 * (-k * t).exp()
}

fn rows() -> Vec<Measurement> {
    vec![
        Measurement::new(0.0, "obs", 2.9, Sigma::Value(0.2)),
        Measurement::new(1.0, "obs", 1.9, Sigma::Parameter("sigma".into())),
        // A replicate at the same time.
        Measurement::new(1.0, "obs", 1.7, Sigma::Parameter("sigma".into())),
        Measurement::new(2.5, "obs", 0.9, Sigma::Output("sd".into())),
    ]
}

fn problem(scale: NoiseScale, distribution: NoiseDistribution) -> Problem {
    DiffsolBuilder::new()
        .with_diffsl(MODEL)
        .with_tolerances(1e-10, 1e-12)
        .with_experiment("a", rows(), [("s0", 0.1)])
        .with_noise_model("obs", scale, distribution)
        .with_parameter("k", 0.5, Some((0.01, 5.0)))
        .with_parameter("y0", 3.0, Some((0.1, 10.0)))
        .with_parameter("sigma", 0.3, Some((0.01, 5.0)))
        .with_parameter("s1", 0.05, Some((0.0, 1.0)))
        .with_parallelism(Parallelism::Sequential)
        .build()
        .expect("valid problem")
}

/// The closed forms of the module documentation, written out independently.
fn expected(scale: NoiseScale, distribution: NoiseDistribution, x: &[f64]) -> f64 {
    let (k, y0, sigma, s1) = (x[0], x[1], x[2], x[3]);
    let data = [
        (0.0, 2.9, 0.2),
        (1.0, 1.9, sigma),
        (1.0, 1.7, sigma),
        (2.5, 0.9, 0.1 + s1 * y(k, y0, 2.5)),
    ];
    data.iter()
        .map(|&(t, m, s)| {
            let p = y(k, y0, t);
            let (d, jac) = match scale {
                NoiseScale::Lin => (m - p, 0.0),
                NoiseScale::Log => (m.ln() - p.ln(), m.ln()),
                NoiseScale::Log10 => (m.log10() - p.log10(), (m * std::f64::consts::LN_10).ln()),
            };
            match distribution {
                NoiseDistribution::Normal => {
                    0.5 * (2.0 * std::f64::consts::PI * s * s).ln() + jac + 0.5 * (d / s).powi(2)
                }
                NoiseDistribution::Laplace => (2.0 * s).ln() + jac + d.abs() / s,
            }
        })
        .sum()
}

const ALL: [(NoiseScale, NoiseDistribution); 6] = [
    (NoiseScale::Lin, NoiseDistribution::Normal),
    (NoiseScale::Log, NoiseDistribution::Normal),
    (NoiseScale::Log10, NoiseDistribution::Normal),
    (NoiseScale::Lin, NoiseDistribution::Laplace),
    (NoiseScale::Log, NoiseDistribution::Laplace),
    (NoiseScale::Log10, NoiseDistribution::Laplace),
];

#[test]
fn every_noise_model_matches_its_closed_form() {
    let x = [0.45, 3.1, 0.25, 0.08];
    for (scale, distribution) in ALL {
        let p = problem(scale, distribution);
        let got = p.evaluate(&x).expect("solves");
        let want = expected(scale, distribution, &x);
        assert!(
            (got - want).abs() < 1e-8 * want.abs().max(1.0),
            "{scale:?} {distribution:?}: {got} vs {want}"
        );
    }
}

#[test]
fn gradients_match_central_differences() {
    let x = [0.45, 3.1, 0.25, 0.08];
    for (scale, distribution) in ALL {
        let p = problem(scale, distribution);
        let g = p.evaluate_gradient(&x).expect("gradient");
        for j in 0..4 {
            let h = 1e-6 * x[j].abs().max(1e-3);
            let (mut up, mut down) = (x, x);
            up[j] += h;
            down[j] -= h;
            let fd =
                (p.evaluate(&up).expect("solves") - p.evaluate(&down).expect("solves")) / (2.0 * h);
            assert!(
                (g[j] - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                "{scale:?} {distribution:?} parameter {j}: {} vs {fd}",
                g[j]
            );
        }
    }
}

#[test]
fn predictions_come_one_per_measurement_in_order() {
    let p = problem(NoiseScale::Lin, NoiseDistribution::Normal);
    let x = [0.45, 3.1, 0.25, 0.08];
    let sims = p.simulate_measurements(&x).expect("solves");
    assert_eq!(sims.len(), 1);
    assert_eq!(sims[0].0, "a");
    let want = [
        y(0.45, 3.1, 0.0),
        y(0.45, 3.1, 1.0),
        y(0.45, 3.1, 1.0),
        y(0.45, 3.1, 2.5),
    ];
    for (a, b) in sims[0].1.iter().zip(want) {
        assert!((a - b).abs() < 1e-8, "{a} vs {b}");
    }
    // The distinct times: 0, 1, 2.5.
    let (_, rows) = p.simulate_condition("a", &x, None).expect("solves");
    assert_eq!(rows, 3);
}

#[test]
fn bad_rows_are_errors_naming_the_experiment_and_row() {
    let base = || {
        DiffsolBuilder::new()
            .with_diffsl(MODEL)
            .with_parameter("k", 0.5, None)
    };
    let cases: Vec<(DiffsolBuilder, &str)> = vec![
        (
            base().with_experiment(
                "e",
                vec![Measurement::new(0.0, "z", 1.0, Sigma::Value(1.0))],
                [("y0", 1.0)],
            ),
            "condition 'e': measurement 0 measures 'z'",
        ),
        (
            base().with_experiment(
                "e",
                vec![Measurement::new(0.0, "obs", 1.0, Sigma::Value(-1.0))],
                [("y0", 1.0)],
            ),
            "measurement 0 has σ = -1",
        ),
        (
            base().with_experiment(
                "e",
                vec![Measurement::new(
                    0.0,
                    "obs",
                    1.0,
                    Sigma::Parameter("sd".into()),
                )],
                [("y0", 1.0)],
            ),
            "measurement 0's σ is 'sd', which is not a declared parameter",
        ),
        (
            base()
                .with_experiment(
                    "e",
                    vec![Measurement::new(0.0, "obs", -1.0, Sigma::Value(1.0))],
                    [("y0", 1.0)],
                )
                .with_noise_model("obs", NoiseScale::Log, NoiseDistribution::Normal),
            "is not positive, but its noise acts on a log scale",
        ),
        (
            base().with_experiment("e", Vec::new(), [("y0", 1.0)]),
            "it has no measurements",
        ),
        (
            base()
                .with_experiment("e", rows(), [("y0", 1.0)])
                .with_data(1, 3, &[0.0, 1.0, 1.0]),
            "takes no with_data",
        ),
    ];
    for (builder, message) in cases {
        match builder.build() {
            Err(e @ Error::Condition { .. }) => {
                assert!(e.to_string().contains(message), "{e}\nexpected: {message}");
            }
            Err(e) => panic!("another error: {e}"),
            Ok(_) => panic!("accepted; expected: {message}"),
        }
    }
    let e = base()
        .with_experiment(
            "e",
            vec![Measurement::new(0.0, "z", 1.0, Sigma::Value(1.0))],
            [("y0", 1.0)],
        )
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("measures 'z', which is not an output") && e.contains("[obs, sd]"),
        "{e}"
    );
}

/// Production `p·s` and loss `k·x`: the steady state is `p·s/k`.
const PRODUCTION: &str = "
in_i { p = 2.0, k = 0.5, s = 1.0 }
u_i { x = 0.0 }
F_i { p * s - k * x }
out_i { level = x }
";

#[test]
fn an_experiment_starts_from_its_own_steady_state() {
    let pre = |t: f64| {
        // From the steady state under s = 0.2, relaxing to the one under s = 1.
        let (lo, hi) = (2.0 * 0.2 / 0.5, 2.0 / 0.5);
        hi + (lo - hi) * (-0.5 * t).exp()
    };
    let problem = DiffsolBuilder::new()
        .with_diffsl(PRODUCTION)
        .with_tolerances(1e-10, 1e-12)
        .with_experiment(
            "pre-equilibrated",
            vec![
                Measurement::new(0.0, "level", 0.0, Sigma::Value(1.0)),
                Measurement::new(2.0, "level", 0.0, Sigma::Value(1.0)),
            ],
            Vec::<(&str, f64)>::new(),
        )
        .with_experiment_steady_state("pre-equilibrated", [("s", 0.2)])
        .with_experiment(
            "steady",
            vec![Measurement::new(0.0, "level", 0.0, Sigma::Value(1.0))],
            [("s", 3.0)],
        )
        .with_experiment_steady_state("steady", Vec::<(&str, f64)>::new())
        .with_experiment(
            "plain",
            vec![Measurement::new(2.0, "level", 0.0, Sigma::Value(1.0))],
            Vec::<(&str, f64)>::new(),
        )
        .with_parameter("p", 2.0, Some((0.1, 10.0)))
        .with_parallelism(Parallelism::Sequential)
        .build()
        .expect("valid problem");
    let sims = problem.simulate_measurements(&[2.0]).expect("solves");
    let want = [
        vec![pre(0.0), pre(2.0)],
        vec![2.0 * 3.0 / 0.5],
        vec![4.0 * (1.0 - (-1.0_f64).exp())],
    ];
    for ((name, got), want) in sims.iter().zip(&want) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-8 * w.abs(), "{name}: {g} vs {w}");
        }
    }
}

#[test]
fn a_steady_state_for_an_experiment_not_given_is_an_error_naming_it() {
    let err = DiffsolBuilder::new()
        .with_diffsl(PRODUCTION)
        .with_experiment(
            "a",
            vec![Measurement::new(1.0, "level", 0.0, Sigma::Value(1.0))],
            Vec::<(&str, f64)>::new(),
        )
        .with_experiment_steady_state("b", [("s", 0.0)])
        .with_parameter("p", 2.0, Some((0.1, 10.0)))
        .build()
        .expect_err("no experiment b");
    let msg = err.to_string();
    assert!(
        msg.contains("'b'") && msg.contains("no experiment of that name"),
        "{msg}"
    );
}
