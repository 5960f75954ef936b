//! Metropolis–Hastings with 4 chains on the seed posterior (Lotka–Volterra with an unknown
//! noise σ), evaluated sequentially and on a private rayon pool of 2 threads, side by side.
//! Both give bit-identical chains; the pool evaluates the 4 chains' proposals of an
//! iteration at once.
//!
//! `cargo bench -p diffid-benches --bench sampling`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, Criterion};
use diffid::{
    DiffsolBuilder, Distribution, GaussianNll, MetropolisHastings, Parallelism, Problem, RunOptions,
};
use diffid_benches::{load_seed_data, SEED_MODEL, SEED_PARAMETERS};

fn posterior(parallelism: Parallelism) -> Problem {
    let data = load_seed_data().expect("bundled seed data");
    let mut builder = DiffsolBuilder::new()
        .with_diffsl(SEED_MODEL)
        .with_data(data.rows, data.columns, &data.values)
        .with_parallelism(parallelism);
    for (p, v) in SEED_PARAMETERS {
        builder = builder.with_parameter(p, v, Some((0.0, 5.0)));
    }
    builder
        .with_parameter("sigma", 1.0, None)
        .with_prior("sigma", Distribution::HalfNormal { sd: 5.0 })
        .with_cost(GaussianNll::with_sigma(vec!["sigma".into()], 1.0).expect("valid"))
        .build()
        .expect("builds")
}

fn bench(c: &mut Criterion) {
    let sampler = MetropolisHastings::new()
        .with_num_chains(4)
        .and_then(|m| m.with_iterations(200))
        .expect("valid")
        .with_seed(1);
    let mut group = c.benchmark_group("seed_mh_4_chains_200_iterations");
    group.sample_size(10);
    for (name, p) in [
        ("sequential", Parallelism::Sequential),
        ("rayon2", Parallelism::Threads(2)),
    ] {
        let problem = posterior(p);
        // Warm the per-thread model caches outside the measurement.
        problem
            .sample(None, Some(&sampler), &RunOptions::default())
            .expect("samples");
        group.bench_function(name, |b| {
            b.iter(|| {
                problem
                    .sample(None, Some(&sampler), &RunOptions::default())
                    .expect("samples")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
