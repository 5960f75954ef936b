//! The cost of a gradient, side by side: one plain solve, one solve with exact forward
//! sensitivities, and a central finite-difference gradient (2n + 1 plain solves); and whole
//! fits of the eight-parameter chain with Nelder–Mead, Adam and L-BFGS-B.
//!
//! `cargo bench -p diffid-benches --bench gradient`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, Criterion};
use diffid::{fd, Adam, Lbfgsb, NelderMead, Optimiser, Parallelism, Problem, RunOptions};
use diffid_benches::{chain_problem, seed_problem};
use std::hint::black_box;

fn gradients(c: &mut Criterion, name: &str, problem: &Problem, x: &[f64]) {
    let mut group = c.benchmark_group(format!("gradient_{name}"));
    group.bench_function("value", |b| {
        b.iter(|| problem.evaluate(black_box(x)).expect("solves"));
    });
    group.bench_function("exact_gradient", |b| {
        b.iter(|| problem.value_and_gradient(black_box(x)).expect("solves"));
    });
    group.bench_function("finite_differences", |b| {
        b.iter(|| fd::gradient(problem.objective().as_ref(), black_box(x), None));
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let seed = seed_problem(Parallelism::Sequential);
    gradients(c, "seed", &seed, &[1.1, 0.4, 0.1, 0.4]);
    let chain = chain_problem();
    gradients(
        c,
        "chain",
        &chain,
        &[0.6, 1.0, 0.3, 0.5, 0.35, 0.05, 1.5, 1.4],
    );

    let mut group = c.benchmark_group("fit_chain");
    group.sample_size(10);
    let optimisers: [(&str, Box<dyn Optimiser>); 3] = [
        (
            "nelder_mead",
            Box::new(NelderMead::new().with_max_iter(20_000)),
        ),
        ("adam", Box::new(Adam::new().with_max_iter(5000))),
        ("lbfgsb", Box::new(Lbfgsb::new())),
    ];
    for (name, opt) in &optimisers {
        group.bench_function(*name, |b| {
            b.iter(|| {
                chain
                    .optimise(None, Some(opt.as_ref()), &RunOptions::default())
                    .expect("fit runs")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
