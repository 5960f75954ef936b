//! The numbers behind the guide's tables on nested sampling: over 10 seeds, the spread of
//! ln Z against the mean reported error (static runs of 200 live points to dlogz 0.01) on the
//! four analytic problems, and the eggbox's evaluation counts (dynamic, evidence-weighted, 500
//! live points, seeds 1–3).
//!
//! ```text
//! cargo run --release -p diffid-sample --example nested_calibration
//! ```

#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{correlated_3d, eggbox, loggamma_2d, run, shells, CORRELATED_3D_LOG_Z};
use diffid_sample::DynamicNestedSampler;
use std::f64::consts::PI;

fn main() -> Result<(), diffid_sample::SampleError> {
    let problems: [common::Problem; 4] = [
        (
            "3-D correlated Gaussian",
            3,
            -10.0,
            10.0,
            correlated_3d,
            CORRELATED_3D_LOG_Z,
        ),
        ("2-D shells", 2, -6.0, 6.0, shells, -1.75),
        ("2-D LogGamma", 2, 0.0, 1.0, loggamma_2d, 0.0),
        ("eggbox", 2, 0.0, 10.0 * PI, eggbox, 235.856),
    ];
    println!("| problem | sd of ln Z / mean reported error | mean ln Z − truth |");
    println!("|---|---:|---:|");
    for (name, d, lo, hi, f, truth) in problems {
        let mut z = Vec::new();
        let mut errors = Vec::new();
        for seed in 0..10 {
            let s = DynamicNestedSampler::new()
                .with_live_points(200)?
                .with_termination_tolerance(0.01)?
                .with_max_batches(0)
                .with_seed(seed);
            let r = run(&s, d, lo, hi, &f);
            z.push(r.log_evidence);
            errors.push(r.log_evidence_error);
        }
        let mean = z.iter().sum::<f64>() / 10.0;
        let sd = (z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 9.0).sqrt();
        let reported = errors.iter().sum::<f64>() / 10.0;
        println!("| {name} | {:.2} | {:+.3} |", sd / reported, mean - truth);
    }
    for seed in 1..=3 {
        let s = DynamicNestedSampler::new()
            .with_live_points(500)?
            .with_posterior_fraction(0.0)?
            .with_seed(seed);
        let r = run(&s, 2, 0.0, 10.0 * PI, &eggbox);
        println!(
            "eggbox, dynamic, evidence-weighted, 500 live points, seed {seed}: {} evaluations, ln Z {:.3} ± {:.3}",
            r.evaluations, r.log_evidence, r.log_evidence_error
        );
    }
    Ok(())
}
