//! One evaluation of the seed objective through the whole diffid stack, side by side with a
//! bare diffsol solve of the same model at the same times (the overhead budget is 10 %).
//!
//! `cargo bench -p diffid-benches --bench evaluation`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, Criterion};
use diffid::{DiffsolBuilder, Parallelism, SolverKind};
use diffid_benches::{load_seed_data, SEED_MODEL, SEED_PARAMETERS};
use diffsol::{
    NalgebraLU, NalgebraMat, NalgebraVec, OdeBuilder, OdeEquations, OdeSolverMethod, Vector,
};
use std::hint::black_box;

type Mat = NalgebraMat<f64>;

fn bench(c: &mut Criterion) {
    let data = load_seed_data().expect("bundled seed data");
    let times: Vec<f64> = data.values.chunks(data.columns).map(|r| r[0]).collect();
    let x = [1.1, 0.4, 0.1, 0.4];

    let mut group = c.benchmark_group("seed_evaluation");
    for (solver, name) in [(SolverKind::Tsit45, "tsit45"), (SolverKind::Bdf, "bdf")] {
        // The whole stack: parameters by name -> cached compiled problem -> solve -> SSE.
        let mut builder = DiffsolBuilder::new()
            .with_diffsl(SEED_MODEL)
            .with_data(data.rows, data.columns, &data.values)
            .with_solver(solver)
            .with_parallelism(Parallelism::Sequential);
        for (p, v) in SEED_PARAMETERS {
            builder = builder.with_parameter(p, v, None);
        }
        let problem = builder.build().expect("builds");
        group.bench_function(format!("diffid_{name}"), |b| {
            b.iter(|| problem.evaluate(black_box(&x)).expect("solves"));
        });

        // Bare diffsol: set the parameters, build the solver, solve at the data times.
        let mut bare = OdeBuilder::<Mat>::new()
            .rtol(1e-6)
            .atol([1e-8])
            .build_from_diffsl::<diffsol::CraneliftJitModule>(SEED_MODEL)
            .expect("compiles");
        let ctx = *bare.context();
        group.bench_function(format!("bare_diffsol_{name}"), |b| {
            b.iter(|| {
                let p = NalgebraVec::from_vec(black_box(x.to_vec()), ctx);
                bare.eqn.set_params(&p);
                let (y, _) = match solver {
                    SolverKind::Bdf => bare
                        .bdf::<NalgebraLU<f64>>()
                        .expect("solver")
                        .solve_dense(&times)
                        .expect("solves"),
                    _ => bare
                        .tsit45()
                        .expect("solver")
                        .solve_dense(&times)
                        .expect("solves"),
                };
                black_box(y)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
