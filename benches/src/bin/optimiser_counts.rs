//! How many evaluations each optimiser needs: the standard test functions (with their analytic
//! gradients for Adam and L-BFGS-B) and two DiffSL fits (exact gradients from forward
//! sensitivities). Evaluation counts are deterministic, so one run is the measurement.
//!
//! `cargo run --release -p diffid-benches --bin optimiser_counts` prints a markdown table;
//! `python benches/compare_scipy.py` prints scipy's counts for the same starts.

use diffid::testkit::{
    ellipsoid, ellipsoid_gradient, rastrigin, rosenbrock, rosenbrock_gradient, sphere,
    sphere_gradient,
};
use diffid::{
    run, Adam, Bounds, CmaEs, FnGradObjective, Lbfgsb, NelderMead, Optimiser, Parallelism, Problem,
    Restarts, RunOptions, Sequential,
};
use diffid_benches::{chain_problem, seed_problem};
use std::fmt::Write as _;

type F = fn(&[f64]) -> f64;
type G = fn(&[f64]) -> Vec<f64>;

struct Case {
    name: &'static str,
    f: F,
    g: G,
    x0: Vec<f64>,
    target: f64,
}

/// A test function stopped at f <= 1e-8.
fn case(name: &'static str, f: F, g: G, x0: Vec<f64>) -> Case {
    Case {
        name,
        f,
        g,
        x0,
        target: 1e-8,
    }
}

fn rastrigin_gradient(x: &[f64]) -> Vec<f64> {
    diffid::testkit::rastrigin_gradient(x)
}

fn row(out: &mut String, problem: &str, optimiser: &str, r: &diffid::OptimisationResult) {
    let _ = writeln!(
        out,
        "| {problem} | {optimiser} | {} | {} | {:.3e} | {} |",
        r.evaluations,
        r.iterations,
        r.value,
        r.termination.name()
    );
}

fn main() {
    let mut out = String::new();
    out.push_str("| problem | optimiser | evaluations | iterations | final value | stopped by |\n");
    out.push_str("|---|---|---:|---:|---:|---|\n");
    test_functions(&mut out);
    fits(&mut out);
    #[allow(clippy::print_stdout)] // a binary's report
    {
        print!("{out}");
    }
}

/// The standard test functions, stopped at f <= 1e-8, with analytic gradients.
fn test_functions(out: &mut String) {
    let cases = [
        case("sphere 10-D", sphere, sphere_gradient, vec![1.0; 10]),
        case(
            "ellipsoid 10-D",
            ellipsoid,
            ellipsoid_gradient,
            (0..10).map(|i| 1.0 + 0.1 * f64::from(i)).collect(),
        ),
        case(
            "Rosenbrock 2-D",
            rosenbrock,
            rosenbrock_gradient,
            vec![-1.2, 1.0],
        ),
        case(
            "Rosenbrock 10-D",
            rosenbrock,
            rosenbrock_gradient,
            vec![0.0; 10],
        ),
        case("Rastrigin 5-D", rastrigin, rastrigin_gradient, vec![3.0; 5]),
    ];
    for case in &cases {
        let n = case.x0.len();
        let optimisers: Vec<(&str, Box<dyn Optimiser>)> = vec![
            (
                "Nelder–Mead",
                Box::new(
                    NelderMead::new()
                        .with_threshold(case.target)
                        .with_max_evaluations(Some(200_000))
                        .with_max_iter(200_000),
                ),
            ),
            (
                "CMA-ES (σ 0.5)",
                Box::new(
                    CmaEs::new()
                        .with_seed(1)
                        .with_threshold(case.target)
                        .with_max_iter(100_000),
                ),
            ),
            (
                "CMA-ES IPOP",
                Box::new(
                    CmaEs::new()
                        .with_seed(1)
                        .with_threshold(case.target)
                        .with_max_iter(100_000)
                        .with_max_evaluations(Some(200_000))
                        .with_restarts(Restarts::ipop()),
                ),
            ),
            (
                "Adam (α 0.01)",
                Box::new(
                    Adam::new()
                        .with_threshold(case.target)
                        .with_max_iter(100_000),
                ),
            ),
            (
                "L-BFGS-B",
                Box::new(
                    Lbfgsb::new()
                        .with_threshold(case.target)
                        .with_max_iter(10_000),
                ),
            ),
        ];
        let objective = FnGradObjective::new(n, case.f, case.g);
        let bounds = if case.name.starts_with("Rastrigin") {
            vec![Bounds::new(-5.12, 5.12).expect("valid"); n]
        } else {
            vec![Bounds::unbounded(); n]
        };
        for (name, opt) in optimisers {
            let mut state = opt.init(&case.x0, &bounds).expect("valid start");
            let r = run(
                state.as_mut(),
                &objective,
                &Sequential,
                &RunOptions::default(),
                &mut (),
            )
            .expect("runs");
            row(out, case.name, name, &r);
        }
    }
}

/// The seed fit and the compartment chain, with exact gradients.
fn fits(out: &mut String) {
    let fits: [(&str, Problem); 2] = [
        (
            "seed Lotka–Volterra (4)",
            seed_problem(Parallelism::Sequential),
        ),
        ("compartment chain (8)", chain_problem()),
    ];
    for (name, problem) in &fits {
        let optimisers: Vec<(&str, Box<dyn Optimiser>)> = vec![
            (
                "Nelder–Mead",
                Box::new(NelderMead::new().with_max_iter(20_000)),
            ),
            (
                "CMA-ES (σ 0.3)",
                Box::new(
                    CmaEs::new()
                        .with_seed(1)
                        .with_step_size(0.3)
                        .with_max_iter(5000),
                ),
            ),
            ("Adam (α 0.01)", Box::new(Adam::new().with_max_iter(5000))),
            (
                "Adam (α 0.05)",
                Box::new(Adam::new().with_step_size(0.05).with_max_iter(5000)),
            ),
            ("L-BFGS-B", Box::new(Lbfgsb::new())),
        ];
        for (opt_name, opt) in optimisers {
            let r = problem
                .optimise(None, Some(opt.as_ref()), &RunOptions::default())
                .expect("fit runs");
            row(out, name, opt_name, &r);
        }
    }
}
