//! CMA-ES bookkeeping of one generation (ask + tell, no objective), for n = 4 (the seed fit)
//! and n = 20. Compare with one population evaluation (`--bench population`).
//!
//! `cargo bench -p diffid-benches --bench cmaes`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, Criterion};
use diffid::{Ask, Bounds, CmaEs, Optimiser, Outcome};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("cmaes_generation");
    for n in [4usize, 20] {
        let opt = CmaEs::new()
            .with_seed(1)
            .with_max_iter(usize::MAX)
            .with_threshold(f64::NEG_INFINITY)
            .with_function_tolerance(0.0)
            .with_position_tolerance(0.0);
        let start = || {
            opt.init(&vec![1.0; n], &vec![Bounds::unbounded(); n])
                .expect("starts")
        };
        let mut state = start();
        let mut k = 0u64;
        group.bench_function(format!("ask_tell_n{n}"), |b| {
            b.iter(|| {
                // Random values make σ drift over millions of generations until a numerical
                // safeguard stops the state; start afresh then (rarely).
                let points = loop {
                    match state.ask() {
                        Ask::Evaluate(points) => break points,
                        Ask::EvaluateWithGradient(_) => unreachable!("CMA-ES asks for values"),
                        Ask::Done(_) => state = start(),
                    }
                };
                // Cheap, varied values so the ranking changes every generation.
                let outcomes: Vec<Outcome> = points
                    .iter()
                    .map(|p| {
                        k = k.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        Outcome::Value(p[0] + (k >> 40) as f64)
                    })
                    .collect();
                state.tell(black_box(&outcomes)).expect("tell");
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
