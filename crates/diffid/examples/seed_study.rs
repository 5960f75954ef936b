//! How often the seed tutorial's CMA-ES fit reaches the global basin, over many seeds.
//!
//! `cargo run --release -p diffid --example seed_study -- [n_seeds] [max_iter] [ipop|bipop]`
//!
//! Uses the seed's exact settings (start 0.8/0.3/0.05/0.3, σ 0.3, default population, 100
//! generations) on the bundled data (`data/lotka_volterra_seed.csv`, made by the seed's code).
#![allow(clippy::print_stdout)]

use diffid::{CmaEs, DiffsolBuilder, Parallelism, Restarts, RunOptions};

const MODEL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/lotka_volterra_seed.ds"
));

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).map_or(Ok(20), |s| s.parse())?;
    let max_iter: usize = args.get(2).map_or(Ok(100), |s| s.parse())?;
    let restarts = match args.get(3).map(String::as_str) {
        Some("ipop") => Restarts::ipop(),
        Some("bipop") => Restarts::bipop(),
        _ => Restarts::None,
    };
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/lotka_volterra_seed.csv"
    );
    let text = std::fs::read_to_string(path)?;
    let values: Vec<f64> = text
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').map(|v| v.trim().parse::<f64>()))
        .collect::<Result<_, _>>()?;
    let problem = DiffsolBuilder::new()
        .with_diffsl(MODEL)
        .with_data(values.len() / 3, 3, &values)
        .with_parameter("alpha", 0.8, None)
        .with_parameter("beta", 0.3, None)
        .with_parameter("delta", 0.05, None)
        .with_parameter("gamma", 0.3, None)
        .with_parallelism(Parallelism::Available)
        .build()?;
    let mut hits = 0;
    let mut sum_evals = 0;
    for seed in 0..n {
        let opt = CmaEs::new()
            .with_max_iter(max_iter)
            .with_step_size(0.3)
            .with_seed(seed)
            .with_restarts(restarts);
        let r = problem.optimise(None, Some(&opt), &RunOptions::default())?;
        sum_evals += r.evaluations;
        if r.value < 400.0 {
            hits += 1;
        }
        println!("seed {seed:3}: SSE {:10.3} x = {:.4?}", r.value, r.x);
    }
    println!(
        "reached the basin (SSE < 400): {hits}/{n}; mean evaluations {}",
        sum_evals as u64 / n
    );
    Ok(())
}
