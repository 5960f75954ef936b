//! The facade from Rust, end to end: fit a DiffSL model to data, then sample its posterior
//! with a noise level estimated alongside, and save the run to a checkpoint.
//!
//! `cargo run --release -p diffid --example fit_and_sample`
#![allow(clippy::print_stdout)]

use diffid::{
    Checkpoint, CmaEs, DiffsolBuilder, Distribution, GaussianNll, MetropolisHastings, RunOptions,
};

const MODEL: &str = "in_i { k = 0.5, y0 = 2.0 } u_i { y = y0 } F_i { -k * y }";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Data from k = 0.7, y0 = 3, with a small deterministic wiggle standing in for noise.
    let mut data = Vec::new();
    for i in 0..21 {
        let t = f64::from(i) * 0.25;
        let wiggle = 0.02 * (7.0 * t).sin();
        data.extend([t, 3.0 * (-0.7 * t).exp() + wiggle]);
    }
    let problem = DiffsolBuilder::new()
        .with_diffsl(MODEL)
        .with_data(21, 2, &data)
        .with_parameter("k", 0.3, Some((0.01, 5.0)))
        .with_parameter("y0", 1.0, Some((0.1, 10.0)))
        .with_parameter("sigma", 0.1, Some((1e-4, 1.0)))
        .with_prior("sigma", Distribution::HalfNormal { sd: 0.5 })
        .with_cost(GaussianNll::with_sigma(vec!["sigma".into()], 1.0)?)
        .build()?;

    let fit = problem.optimise(
        None,
        Some(&CmaEs::new().with_seed(1)),
        &RunOptions::default(),
    )?;
    println!(
        "maximum likelihood: k, y0, sigma = {:?} ({})",
        fit.x,
        fit.message()
    );

    let sampler = MetropolisHastings::new()
        .with_num_chains(4)?
        .with_iterations(2000)?
        .with_seed(2);
    let checkpoint = std::env::temp_dir().join("diffid-fit-and-sample.ckpt");
    let samples = problem.sample_checkpointed(
        Some(&fit.x),
        Some(&sampler),
        &RunOptions::default(),
        &mut (),
        Some(&Checkpoint::new(&checkpoint).with_resume(true)),
    )?;
    let chains = &samples.chains;
    for (j, name) in ["k", "y0", "sigma"].iter().enumerate() {
        let per_chain: Vec<Vec<f64>> = (0..chains.n_chains)
            .map(|c| chains.parameter(c, j))
            .collect();
        let slices: Vec<&[f64]> = per_chain.iter().map(Vec::as_slice).collect();
        let s = diffid::diagnostics::summarise(&slices);
        println!(
            "{name:>6}: mean {:.4}, sd {:.4}, R-hat {:.3}, ESS {:.0}",
            s.mean, s.sd, s.rhat, s.ess_bulk
        );
    }
    Ok(())
}
