//! Exact gradients through the facade: DiffSL problems with several outputs and several cost
//! metrics against central finite differences; the finite-difference fallback; gradient-based
//! fits against Nelder–Mead.

use diffid::{
    Adam, CostMetric, DiffsolBuilder, Error, FnObjective, GaussianNll, Lbfgsb, NelderMead,
    Optimiser, Parallelism, Parameter, Parameters, Problem, Rmse, RunOptions, Sse, Transform,
};
use std::sync::Arc;

/// Three outputs (one a combination of the states) and three fitted inputs, one setting an
/// initial state.
const PREDATOR_PREY: &str = "
in_i { a = 1.0, b = 0.5, c = 0.2, x0 = 1.0 }
u_i { x = x0, y = 0.5 }
F_i { a * x - c * x * y, c * x * y - b * y }
out_i { x, y, x + 2 * y }
";

fn data() -> Vec<f64> {
    // Smooth data with a deterministic wobble, so the residuals do not vanish anywhere.
    (0..41)
        .flat_map(|i| {
            let t = f64::from(i) * 0.25;
            let w = (1.7 * t).sin();
            [t, 1.0 + 0.3 * w, 0.6 - 0.2 * w, 2.2 + 0.1 * (0.5 * t).cos()]
        })
        .collect()
}

fn problem(costs: Vec<Box<dyn CostMetric>>) -> Problem {
    let d = data();
    costs
        .into_iter()
        .fold(
            DiffsolBuilder::new()
                .with_diffsl(PREDATOR_PREY)
                .with_data(d.len() / 4, 4, &d)
                .with_parameter("a", 0.9, None)
                .with_parameter("c", 0.25, None)
                .with_parameter("x0", 1.2, None)
                .with_tolerances(1e-10, 1e-12),
            DiffsolBuilder::with_cost,
        )
        .build()
        .expect("builds")
}

fn central_differences(p: &Problem, x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|j| {
            let h = 1e-5 * x[j].abs().max(1.0);
            let (mut up, mut down) = (x.to_vec(), x.to_vec());
            up[j] += h;
            down[j] -= h;
            (p.evaluate(&up).expect("solves") - p.evaluate(&down).expect("solves")) / (2.0 * h)
        })
        .collect()
}

fn assert_relative(got: &[f64], want: &[f64], rel: f64, what: &str) {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= rel * scale, "{what}: {got:?} vs {want:?}");
    }
}

#[test]
fn multi_output_gradients_match_central_differences_for_every_metric() {
    let metrics: Vec<(&str, Vec<Box<dyn CostMetric>>)> = vec![
        ("sse", vec![Box::new(Sse::new(1.0).unwrap())]),
        ("rmse", vec![Box::new(Rmse::new(2.0).unwrap())]),
        (
            "gaussian_nll",
            vec![Box::new(GaussianNll::new(0.3, 1.0).unwrap())],
        ),
        (
            "sse + gaussian_nll",
            vec![
                Box::new(Sse::new(0.5).unwrap()),
                Box::new(GaussianNll::new(0.05, 1.0).unwrap()),
            ],
        ),
    ];
    for (name, costs) in metrics {
        let p = problem(costs);
        assert!(p.has_exact_gradient());
        for x in [[0.9, 0.25, 1.2], [1.1, 0.15, 0.8]] {
            let g = p.evaluate_gradient(&x).expect("gradient");
            let fd = central_differences(&p, &x);
            assert_relative(&g, &fd, 1e-5, name);
            let (value, g2) = p.value_and_gradient(&x).expect("gradient");
            // The value comes from the augmented solve: equal to the plain solve's within the
            // tolerances.
            let plain = p.evaluate(&x).expect("value");
            assert!(
                (value - plain).abs() < 1e-8 * plain,
                "{name}: {value} vs {plain}"
            );
            assert_eq!(g, g2);
        }
    }
}

#[test]
fn callables_without_a_gradient_fall_back_to_finite_differences() {
    let mut params = Parameters::new();
    params
        .push(Parameter::new("u", 0.5, Some((0.0, 2.0))).unwrap())
        .unwrap();
    params
        .push(
            Parameter::new("v", 3.0, None)
                .unwrap()
                .with_transform(Transform::Log)
                .unwrap(),
        )
        .unwrap();
    let f = |x: &[f64]| x[0].powi(3) + x[0] * x[1] + (x[1] / 4.0).exp();
    let p = Problem::new(
        Arc::new(FnObjective::new(2, f)),
        params,
        Parallelism::Sequential,
    );
    assert!(!p.has_exact_gradient());
    // A smooth closure: the objective's own step (here ∛ε) is the most accurate; the default
    // (3e-5, which tolerates noisy values) is accurate to about 1e-6.
    let fine = Problem::new(
        Arc::new(FnObjective::new(2, f).with_fd_step(6.055e-6)),
        p.parameters().clone(),
        Parallelism::Sequential,
    );
    for x in [[0.5_f64, 3.0], [0.0, 1e-3], [2.0, 40.0]] {
        let want = [3.0 * x[0] * x[0] + x[1], x[0] + (x[1] / 4.0).exp() / 4.0];
        let g = p.evaluate_gradient(&x).expect("gradient");
        assert_relative(&g, &want, 2e-6, &format!("{x:?}"));
        let g = fine.evaluate_gradient(&x).expect("gradient");
        assert_relative(&g, &want, 1e-7, &format!("{x:?}, fine step"));
    }
    let err = p.evaluate_gradient(&[1.0]).unwrap_err();
    assert!(matches!(err, Error::Core(_)), "{err}");
    // Outside the bounds, or where a transform is infinite: an error naming the parameter,
    // not a gradient of points clamped onto the bound.
    let err = p.evaluate_gradient(&[2.5, 3.0]).unwrap_err();
    assert!(
        err.to_string().contains("'u'") && err.to_string().contains("outside"),
        "{err}"
    );
    let err = p.evaluate_gradient(&[0.5, 0.0]).unwrap_err();
    assert!(err.to_string().contains("'v'"), "{err}");
    // A panicking objective is an evaluation error, not a crash.
    let mut params = Parameters::new();
    params
        .push(Parameter::new("w", 0.5, None).unwrap())
        .unwrap();
    let boom = Problem::new(
        Arc::new(FnObjective::new(1, |_: &[f64]| -> f64 { panic!("boom") })),
        params,
        Parallelism::Sequential,
    );
    let err = boom.evaluate_gradient(&[0.5]).unwrap_err();
    assert!(
        matches!(err, Error::Evaluation { .. }) && err.to_string().contains("boom"),
        "{err}"
    );
}

/// A closed chain of five compartments with six rates and two initial amounts: eight
/// parameters, where Nelder–Mead's cost grows quickly.
const CHAIN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/compartment_chain.ds"
));

/// The chain's problem: data from its defaults with a 2 % deterministic distortion, fitted
/// from a start away from them.
fn chain_problem() -> Problem {
    let t: Vec<f64> = (0..41).map(|i| f64::from(i) * 0.5).collect();
    let sim = diffid::OdeSimulator::new(
        diffid::DiffslModel::new(CHAIN).expect("the chain model builds and solves"),
        t.clone(),
        &[],
        diffid::SolveOptions::default(),
    )
    .expect("the chain model builds and solves");
    let mut y = vec![0.0; t.len() * 5];
    sim.solve(&[], &mut y)
        .expect("the chain model builds and solves");
    let mut d = Vec::new();
    for (i, ti) in t.iter().enumerate() {
        d.push(*ti);
        for k in 0..5 {
            d.push(y[i * 5 + k] * (1.0 + 0.02 * ((i * 5 + k) as f64 * 1.3).sin()));
        }
    }
    let start = [
        ("k1", 0.6),
        ("k2", 1.0),
        ("k3", 0.3),
        ("k4", 0.5),
        ("k5", 0.35),
        ("k6", 0.05),
        ("a0", 1.5),
        ("b0", 1.4),
    ];
    start
        .iter()
        .fold(
            DiffsolBuilder::new()
                .with_diffsl(CHAIN)
                .with_data(t.len(), 6, &d)
                .with_tolerances(1e-8, 1e-10),
            |b, (n, v)| b.with_parameter(*n, *v, None),
        )
        .build()
        .expect("the chain model builds and solves")
}

#[test]
fn gradient_optimisers_fit_a_diffsl_model_in_far_fewer_evaluations_than_nelder_mead() {
    let p = chain_problem();
    let go = |opt: &dyn Optimiser| {
        p.optimise(None, Some(opt), &RunOptions::default())
            .expect("fit runs")
    };
    let nm = go(&NelderMead::new()
        .with_max_iter(20_000)
        .with_threshold(f64::NEG_INFINITY));
    let lbfgsb = go(&Lbfgsb::new());
    let adam = go(&Adam::new().with_max_iter(1000));
    eprintln!(
        "evaluations: nelder-mead {} ({}), l-bfgs-b {} ({}), adam {} ({})",
        nm.evaluations, nm.value, lbfgsb.evaluations, lbfgsb.value, adam.evaluations, adam.value
    );
    assert!(nm.success() && lbfgsb.success() && adam.success());
    for (name, r) in [("L-BFGS-B", &lbfgsb), ("Adam", &adam)] {
        assert!(
            r.value <= nm.value * (1.0 + 1e-6),
            "{name} {} vs Nelder–Mead {}",
            r.value,
            nm.value
        );
    }
    assert!(
        10 * lbfgsb.evaluations < nm.evaluations,
        "L-BFGS-B {} evaluations vs Nelder–Mead {}",
        lbfgsb.evaluations,
        nm.evaluations
    );
    assert!(
        2 * adam.evaluations < nm.evaluations,
        "Adam {} evaluations vs Nelder–Mead {}",
        adam.evaluations,
        nm.evaluations
    );

    // The three-parameter predator–prey fit: L-BFGS-B still needs a fraction of Nelder–Mead's.
    let p = problem(vec![Box::new(Sse::new(1.0).unwrap())]);
    let nm = p
        .optimise(
            None,
            Some(
                &NelderMead::new()
                    .with_max_iter(5000)
                    .with_threshold(f64::NEG_INFINITY),
            ),
            &RunOptions::default(),
        )
        .unwrap();
    let lbfgsb = p
        .optimise(None, Some(&Lbfgsb::new()), &RunOptions::default())
        .unwrap();
    assert!(lbfgsb.value <= nm.value * (1.0 + 1e-6));
    assert!(
        3 * lbfgsb.evaluations < nm.evaluations,
        "{} vs {}",
        lbfgsb.evaluations,
        nm.evaluations
    );
}

#[test]
fn transformed_parameters_fit_in_natural_units() {
    let d = data();
    let base = DiffsolBuilder::new()
        .with_diffsl(PREDATOR_PREY)
        .with_data(d.len() / 4, 4, &d)
        .with_tolerances(1e-9, 1e-11);
    let plain = base
        .clone()
        .with_parameter("a", 0.9, None)
        .with_parameter("c", 0.25, None)
        .build()
        .unwrap()
        .optimise(None, Some(&Lbfgsb::new()), &RunOptions::default())
        .unwrap();
    let transformed = base
        .with_transformed_parameter("a", 0.9, None, Transform::Log)
        .with_transformed_parameter("c", 0.25, Some((0.01, 1.0)), Transform::Logit)
        .build()
        .unwrap()
        .optimise(None, Some(&Lbfgsb::new()), &RunOptions::default())
        .unwrap();
    assert!(transformed.success(), "{}", transformed.message());
    for (a, b) in plain.x.iter().zip(&transformed.x) {
        assert!(
            (a - b).abs() < 1e-4 * a.abs(),
            "{:?} vs {:?}",
            plain.x,
            transformed.x
        );
    }
    assert!(transformed.x[1] > 0.01 && transformed.x[1] < 1.0);
}

#[test]
fn invalid_transforms_are_reported_at_build_naming_the_parameter() {
    let d = data();
    let err = DiffsolBuilder::new()
        .with_diffsl(PREDATOR_PREY)
        .with_data(d.len() / 4, 4, &d)
        .with_transformed_parameter("a", 0.9, Some((-1.0, 2.0)), Transform::Log)
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("'a'") && err.to_string().contains("log"),
        "{err}"
    );
}
