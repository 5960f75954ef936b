//! One CMA-ES population of the seed objective (λ = 8 and λ = 32), evaluated sequentially and
//! on a private rayon pool with 2 threads, side by side.
//!
//! `cargo bench -p diffid-benches --bench population`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, Criterion};
use diffid::{DiffsolBuilder, Evaluator, Parallelism, RayonEvaluator, Sequential};
use diffid_benches::{load_seed_data, SEED_MODEL, SEED_PARAMETERS};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let data = load_seed_data().expect("bundled seed data");
    let mut builder = DiffsolBuilder::new()
        .with_diffsl(SEED_MODEL)
        .with_data(data.rows, data.columns, &data.values)
        .with_parallelism(Parallelism::Sequential);
    for (p, v) in SEED_PARAMETERS {
        builder = builder.with_parameter(p, v, None);
    }
    let problem = builder.build().expect("builds");
    let objective = problem.objective().clone();
    let rayon = RayonEvaluator::new(2).expect("pool");

    let mut group = c.benchmark_group("seed_population");
    for lambda in [8usize, 32] {
        // A spread of candidates around the truth, as in a mid-run generation.
        let points: Vec<Vec<f64>> = (0..lambda)
            .map(|i| {
                let s = 1.0 + 0.05 * ((i as f64) - lambda as f64 / 2.0) / lambda as f64;
                vec![1.1 * s, 0.4 / s, 0.1 * s, 0.4 * s]
            })
            .collect();
        group.bench_function(format!("sequential_lambda{lambda}"), |b| {
            b.iter(|| Sequential.evaluate_batch(objective.as_ref(), black_box(&points)));
        });
        group.bench_function(format!("rayon2_lambda{lambda}"), |b| {
            b.iter(|| rayon.evaluate_batch(objective.as_ref(), black_box(&points)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
