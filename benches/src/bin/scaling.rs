//! The scaling study of the seed fit: the Lotka–Volterra model fitted to the bundled data with
//! SSE and CMA-ES (100 generations, σ 0.3, seed 1), over a grid of thread counts × population
//! sizes × data sizes × ODE solvers — the study the founding tutorial teaches — plus the
//! distribution of per-evaluation times, which is what limits a generation's parallel speedup
//! (a generation waits for its slowest candidate).
//!
//! `cargo xtask bench [--threads 1,2,4] [--population 8,32] [--data 100,500]
//! [--solvers tsit45,bdf] [--repeats R] [--json PATH] [--plot PATH]`, or `cargo run --release
//! -p diffid-benches --bin scaling -- ...`. Writes a markdown report to stdout, and optionally
//! JSON and an SVG figure of the speedup against the thread count, one line per cell, with the
//! ideal line ([`diffid_benches::plot`]).
//!
//! For each cell (population, data size, solver) and thread count the problem is built once (a
//! private pool of that many threads), fitted once untimed (the warm-up, which also compiles the
//! model on each pool thread; its time is the "first run" column) and then fitted `R` times;
//! the table reports the median and the minimum, the speedup of the median over the same
//! cell's one-thread median and the parallel efficiency (speedup ÷ threads). A data size of `n`
//! keeps `n` rows evenly spaced over the whole data set (the same time span, fewer output
//! times). Every run's final value and x must be bit-identical to the cell's one-thread result
//! (invariant 5); the last column says whether they are, and the program exits with status 1
//! if any differ.
//!
//! Per-evaluation times: for each data size and solver, 400 candidates drawn as CMA-ES draws
//! its first generation (each parameter's start plus σ = 0.3 times its scale — the start's
//! magnitude — times a standard normal), each evaluated and timed alone on one thread; the table gives the mean, quantiles, the maximum and the share of
//! the total time spent on the slowest 1 %.
#![allow(clippy::print_stdout)]

use diffid::{
    CmaEs, DiffsolBuilder, OptimisationResult, Parallelism, Problem, RunOptions, SolverKind, Sse,
};
use diffid_benches::plot::{speedup_svg, Series};
use diffid_benches::{load_seed_data, seed_data_path, Table, SEED_MODEL, SEED_PARAMETERS};
use serde::{Deserialize, Serialize};
use std::error::Error;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const GENERATIONS: usize = 100;
const STEP_SIZE: f64 = 0.3;
const SEED: u64 = 1;
/// Candidates timed one by one per data size and solver.
const TIMED_CANDIDATES: usize = 400;

const USAGE: &str = "\
usage: scaling [--threads 1,2,4] [--population 8,32] [--data 100,500] [--solvers tsit45,bdf]
               [--repeats R] [--json PATH] [--plot PATH]

  --threads LIST     comma-separated thread counts; 1 is always added as the baseline
                     (default: powers of two up to the available cores, and the cores)
  --population LIST  CMA-ES population sizes (default: CMA-ES's default for 4 parameters, 8,
                     and 32); larger populations expose more parallelism
  --data LIST        data sizes in rows, evenly spaced over the bundled 500 (default 100,500)
  --solvers LIST     ODE solvers: auto, tsit45, bdf, esdirk34, tr_bdf2 (default tsit45,bdf)
  --repeats R        timed runs per cell and thread count, after one warm-up run (default 5)
  --json PATH        also write the rows as JSON to PATH
  --plot PATH        also plot the speedup against the thread count to PATH, an SVG file";

/// Command-line options.
#[derive(Debug, PartialEq)]
struct Options {
    threads: Vec<usize>,
    repeats: usize,
    /// Population sizes; `None` is CMA-ES's default.
    populations: Vec<Option<usize>>,
    /// Data sizes in rows; `None` is the whole data set.
    data: Vec<Option<usize>>,
    solvers: Vec<SolverKind>,
    json: Option<PathBuf>,
    plot: Option<PathBuf>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Run(Options),
    Help,
}

/// One cell of the grid, less the thread count.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Cell {
    population: usize,
    data_rows: usize,
    solver: SolverKind,
}

impl Cell {
    fn label(&self) -> String {
        format!(
            "population {}, {} rows, {}",
            self.population,
            self.data_rows,
            self.solver.name()
        )
    }
}

/// One row of the table: one cell at one thread count.
#[derive(Debug)]
struct Row {
    cell: Cell,
    threads: usize,
    /// Median and minimum of the timed runs.
    median: Duration,
    min: Duration,
    /// The warm-up run.
    first: Duration,
    speedup: f64,
    efficiency: f64,
    /// Whether every run matched the cell's one-thread result bit for bit.
    identical: bool,
    result: OptimisationResult,
}

/// The distribution of single-evaluation times for one data size and solver.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct EvaluationTimes {
    data_rows: usize,
    solver: String,
    candidates: usize,
    failed: usize,
    mean_us: f64,
    median_us: f64,
    p90_us: f64,
    p99_us: f64,
    max_us: f64,
    /// Share of the total time spent on the slowest 1 % of the candidates.
    slowest_percent_share: f64,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("scaling: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!(
                "scaling: results differ across thread counts (✗ above): the fit must be \
bit-identical for any thread count (invariant 5)"
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("scaling: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Powers of two up to `max`, and `max`.
fn default_threads(max: usize) -> Vec<usize> {
    let mut out: Vec<usize> = std::iter::successors(Some(1usize), |&n| n.checked_mul(2))
        .take_while(|&n| n <= max)
        .collect();
    if out.last() != Some(&max) && max > 1 {
        out.push(max);
    }
    out
}

/// A comma-separated list of positive integers for `flag`, in order, without repeats.
fn positive_list(list: &str, flag: &str) -> Result<Vec<usize>, lexopt::Error> {
    let mut out: Vec<usize> = Vec::new();
    for s in list.split(',') {
        let n = positive(s, flag)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Parses the arguments after the program name (`--flag value` or `--flag=value`);
/// `-h`/`--help` asks for the usage.
fn parse_args<I>(args: I) -> Result<Command, lexopt::Error>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;

    let mut threads = None;
    let mut repeats = 5;
    let mut populations = vec![None, Some(32)];
    let mut data = vec![Some(100), None];
    let mut solvers = vec![SolverKind::Tsit45, SolverKind::Bdf];
    let mut json = None;
    let mut plot = None;
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("threads") => {
                threads = Some(positive_list(&parser.value()?.string()?, "--threads")?);
            }
            Long("repeats") => repeats = positive(&parser.value()?.string()?, "--repeats")?,
            Long("population") => {
                populations = positive_list(&parser.value()?.string()?, "--population")?
                    .into_iter()
                    .map(Some)
                    .collect();
            }
            Long("data") => {
                data = positive_list(&parser.value()?.string()?, "--data")?
                    .into_iter()
                    .map(Some)
                    .collect();
            }
            Long("solvers") => {
                let list = parser.value()?.string()?;
                solvers = Vec::new();
                for name in list.split(',') {
                    let kind: SolverKind = name
                        .trim()
                        .parse()
                        .map_err(|e: diffid::OdeError| format!("--solvers: {e}"))?;
                    if !solvers.contains(&kind) {
                        solvers.push(kind);
                    }
                }
            }
            Long("json") => json = Some(PathBuf::from(parser.value()?)),
            Long("plot") => plot = Some(svg_path(PathBuf::from(parser.value()?))?),
            Long("png") => {
                return Err("`--png` is gone: `--plot PATH` writes the plot as SVG".into());
            }
            Short('h') | Long("help") => return Ok(Command::Help),
            other => return Err(other.unexpected()),
        }
    }
    let mut threads = threads.unwrap_or_else(|| {
        default_threads(std::thread::available_parallelism().map_or(1, usize::from))
    });
    threads.push(1);
    threads.sort_unstable();
    threads.dedup();
    Ok(Command::Run(Options {
        threads,
        repeats,
        populations,
        data,
        solvers,
        json,
        plot,
    }))
}

fn positive(s: &str, flag: &str) -> Result<usize, lexopt::Error> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag}: `{s}` is not a positive integer").into()),
    }
}

/// The plot is SVG: a path with another extension (`.png`) would hold a file that is not what
/// its name says.
fn svg_path(path: PathBuf) -> Result<PathBuf, lexopt::Error> {
    match path.extension() {
        Some(ext) if !ext.eq_ignore_ascii_case("svg") => Err(format!(
            "--plot: `{}` does not end in .svg: the plot is an SVG file",
            path.display()
        )
        .into()),
        _ => Ok(path),
    }
}

/// `rows` rows of `table` evenly spaced over it, the first and the last included (all of it
/// when `rows` is `None`).
fn subsample(table: &Table, rows: Option<usize>) -> Result<Table, String> {
    let Some(n) = rows else {
        return Ok(table.clone());
    };
    if n > table.rows {
        return Err(format!(
            "--data: {n} rows asked for, but the data set has {}",
            table.rows
        ));
    }
    let pick = |i: usize| {
        if n == 1 {
            0
        } else {
            i * (table.rows - 1) / (n - 1)
        }
    };
    let values = (0..n)
        .flat_map(|i| {
            let r = pick(i);
            table.values[r * table.columns..(r + 1) * table.columns].to_vec()
        })
        .collect();
    Ok(Table {
        rows: n,
        columns: table.columns,
        values,
    })
}

fn build(table: &Table, threads: usize, solver: SolverKind) -> Result<Problem, Box<dyn Error>> {
    let mut builder = DiffsolBuilder::new()
        .with_diffsl(SEED_MODEL)
        .with_data(table.rows, table.columns, &table.values)
        .with_cost(Sse::new(1.0)?)
        .with_solver(solver)
        .with_parallelism(Parallelism::Threads(threads));
    for (name, initial) in SEED_PARAMETERS {
        builder = builder.with_parameter(name, initial, None);
    }
    Ok(builder.build()?)
}

fn optimiser(population: Option<usize>) -> CmaEs {
    let cmaes = CmaEs::new()
        .with_max_iter(GENERATIONS)
        .with_step_size(STEP_SIZE)
        .with_seed(SEED);
    match population {
        Some(p) => cmaes.with_population_size(p),
        None => cmaes,
    }
}

/// The bit patterns of a final value and point: equal exactly when the results are
/// bit-identical (unlike `==`, this tells 0.0 from -0.0 and finds NaN equal to itself).
fn bits(value: f64, x: &[f64]) -> Vec<u64> {
    std::iter::once(value)
        .chain(x.iter().copied())
        .map(f64::to_bits)
        .collect()
}

fn same_bits(a: &OptimisationResult, b: &OptimisationResult) -> bool {
    bits(a.value, &a.x) == bits(b.value, &b.x)
}

fn median(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

/// Standard normal draws from a seeded splitmix64 stream (Box–Muller): the benchmark's
/// candidates, the same on every machine.
struct Normals(u64);

impl Normals {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits in (0, 1].
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    fn next(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The `q` quantile of sorted times (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Times [`TIMED_CANDIDATES`] single evaluations of `problem` (one thread).
fn evaluation_times(problem: &Problem, data_rows: usize, solver: SolverKind) -> EvaluationTimes {
    let mut normals = Normals(SEED);
    let mut times = Vec::with_capacity(TIMED_CANDIDATES);
    let mut failed = 0;
    for _ in 0..TIMED_CANDIDATES {
        let x: Vec<f64> = SEED_PARAMETERS
            .iter()
            // The search space scales each unbounded parameter by its start's magnitude.
            .map(|&(_, x0)| x0 + STEP_SIZE * x0.abs() * normals.next())
            .collect();
        let start = Instant::now();
        let value = problem.evaluate(&x);
        times.push(start.elapsed());
        if !value.is_ok_and(f64::is_finite) {
            failed += 1;
        }
    }
    times.sort_unstable();
    let total: Duration = times.iter().sum();
    let slowest = TIMED_CANDIDATES.div_ceil(100);
    let tail: Duration = times[times.len() - slowest..].iter().sum();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    EvaluationTimes {
        data_rows,
        solver: solver.name().to_owned(),
        candidates: TIMED_CANDIDATES,
        failed,
        mean_us: us(total) / TIMED_CANDIDATES as f64,
        median_us: us(quantile(&times, 0.5)),
        p90_us: us(quantile(&times, 0.9)),
        p99_us: us(quantile(&times, 0.99)),
        max_us: us(times[times.len() - 1]),
        slowest_percent_share: tail.as_secs_f64() / total.as_secs_f64(),
    }
}

/// Times one cell at every thread count; its rows, the one-thread row first.
fn measure_cell(
    options: &Options,
    table: &Table,
    population: Option<usize>,
    solver: SolverKind,
) -> Result<Vec<Row>, Box<dyn Error>> {
    let cmaes = optimiser(population);
    let cell = Cell {
        population: cmaes.population_size_for(SEED_PARAMETERS.len()),
        data_rows: table.rows,
        solver,
    };
    let run_options = RunOptions::default();
    let mut rows: Vec<Row> = Vec::new();
    for &threads in &options.threads {
        let problem = build(table, threads, solver)?;
        eprint!("{}, threads {threads:>3}: warm-up", cell.label());
        let start = Instant::now();
        let reference = problem.optimise(None, Some(&cmaes), &run_options)?;
        let first = start.elapsed();
        // The cell's first row (one thread) is the reference for the others.
        let mut identical = match rows.first() {
            Some(base) => same_bits(&base.result, &reference),
            None => true,
        };
        let mut times = Vec::with_capacity(options.repeats);
        for i in 0..options.repeats {
            eprint!(", run {}", i + 1);
            let start = Instant::now();
            let result = problem.optimise(None, Some(&cmaes), &run_options)?;
            times.push(start.elapsed());
            identical &= same_bits(&reference, &result);
        }
        eprintln!();
        times.sort_unstable();
        rows.push(Row {
            cell,
            threads,
            median: median(&times),
            min: times[0],
            first,
            speedup: 0.0,
            efficiency: 0.0,
            identical,
            result: reference,
        });
    }
    let base = rows[0].median.as_secs_f64();
    for row in &mut rows {
        row.speedup = base / row.median.as_secs_f64();
        row.efficiency = row.speedup / row.threads as f64;
    }
    Ok(rows)
}

/// Measures every cell at every thread count; `Ok(false)` when some result was not
/// bit-identical.
fn run(options: &Options) -> Result<bool, Box<dyn Error>> {
    let full = load_seed_data()?;
    let mut rows: Vec<Row> = Vec::new();
    let mut evaluations: Vec<EvaluationTimes> = Vec::new();
    for &data in &options.data {
        let table = subsample(&full, data)?;
        for &solver in &options.solvers {
            let single = build(&table, 1, solver)?;
            evaluations.push(evaluation_times(&single, table.rows, solver));
            for &population in &options.populations {
                rows.extend(measure_cell(options, &table, population, solver)?);
            }
        }
    }
    print!("{}", markdown(&rows, &evaluations, options));
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&report(&rows, evaluations, options))?;
        write(path, &(text + "\n"))?;
    }
    if let Some(path) = &options.plot {
        write(path, &plot(&rows)?)?;
    }
    Ok(rows.iter().all(|r| r.identical))
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The speedup figure: one series per cell and the ideal line.
fn plot(rows: &[Row]) -> Result<String, diffid_benches::plot::PlotError> {
    let mut series: Vec<Series> = Vec::new();
    for row in rows {
        let label = row.cell.label();
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push((row.threads, row.speedup)),
            None => series.push(Series {
                label,
                points: vec![(row.threads, row.speedup)],
            }),
        }
    }
    speedup_svg(
        "Thread scaling of the seed fit (Lotka–Volterra, SSE, CMA-ES)",
        &series,
    )
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn markdown(rows: &[Row], evaluations: &[EvaluationTimes], options: &Options) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Scaling study of the seed fit\n\n\
Lotka–Volterra (DiffSL, 4 parameters), SSE; CMA-ES, {GENERATIONS} generations max, σ \
{STEP_SIZE}, seed {SEED}. Median of {} timed fits after one warm-up fit per cell and thread \
count; speedup against the same cell on one thread; {} cores available.\n",
        options.repeats,
        cores(),
    );
    let _ = writeln!(
        s,
        "| population | data rows | solver | threads | evaluations | median (ms) | min (ms) | first run (ms) | speedup | efficiency | bit-identical |"
    );
    let _ = writeln!(s, "|--:|--:|:--|--:|--:|--:|--:|--:|--:|--:|:-:|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.2}× | {:.0}% | {} |",
            r.cell.population,
            r.cell.data_rows,
            r.cell.solver.name(),
            r.threads,
            r.result.evaluations,
            ms(r.median),
            ms(r.min),
            ms(r.first),
            r.speedup,
            r.efficiency * 100.0,
            if r.identical { "✓" } else { "✗" },
        );
    }
    let _ = writeln!(
        s,
        "\n### Per-evaluation times\n\n{TIMED_CANDIDATES} candidates drawn as CMA-ES draws its \
first generation (start × (1 + {STEP_SIZE} × standard normal)), each timed alone on one thread. A \
generation on several threads waits for its slowest candidate: a heavy tail caps the \
speedup.\n"
    );
    let _ = writeln!(
        s,
        "| data rows | solver | failed | mean (µs) | median (µs) | p90 (µs) | p99 (µs) | max (µs) | slowest 1 % share |"
    );
    let _ = writeln!(s, "|--:|:--|--:|--:|--:|--:|--:|--:|--:|");
    for e in evaluations {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1}% |",
            e.data_rows,
            e.solver,
            e.failed,
            e.mean_us,
            e.median_us,
            e.p90_us,
            e.p99_us,
            e.max_us,
            e.slowest_percent_share * 100.0
        );
    }
    for r in rows.iter().filter(|r| !r.identical) {
        let _ = writeln!(
            s,
            "\n✗ {} at {} threads: final value {} at x = {:?}",
            r.cell.label(),
            r.threads,
            r.result.value,
            r.result.x
        );
    }
    s
}

/// The JSON report (`--json`). Non-finite numbers are written as `null`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Report {
    benchmark: String,
    data: String,
    generations: usize,
    step_size: f64,
    seed: u64,
    repeats: usize,
    available_parallelism: usize,
    rows: Vec<ReportRow>,
    evaluation_times: Vec<EvaluationTimes>,
}

/// One cell at one thread count in the JSON report; times in seconds.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct ReportRow {
    population: usize,
    data_rows: usize,
    solver: String,
    threads: usize,
    median_s: f64,
    min_s: f64,
    first_run_s: f64,
    speedup: f64,
    efficiency: f64,
    iterations: usize,
    evaluations: usize,
    value: f64,
    x: Vec<f64>,
    identical: bool,
}

fn report(rows: &[Row], evaluation_times: Vec<EvaluationTimes>, options: &Options) -> Report {
    Report {
        benchmark: "seed-fit-scaling-study".to_owned(),
        data: seed_data_path().display().to_string(),
        generations: GENERATIONS,
        step_size: STEP_SIZE,
        seed: SEED,
        repeats: options.repeats,
        available_parallelism: cores(),
        rows: rows
            .iter()
            .map(|r| ReportRow {
                population: r.cell.population,
                data_rows: r.cell.data_rows,
                solver: r.cell.solver.name().to_owned(),
                threads: r.threads,
                median_s: r.median.as_secs_f64(),
                min_s: r.min.as_secs_f64(),
                first_run_s: r.first.as_secs_f64(),
                speedup: r.speedup,
                efficiency: r.efficiency,
                iterations: r.result.iterations,
                evaluations: r.result.evaluations,
                value: r.result.value,
                x: r.result.x.clone(),
                identical: r.identical,
            })
            .collect(),
        evaluation_times,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, String> {
        parse_args(line.split_whitespace()).map_err(|e| e.to_string())
    }

    fn options(line: &str) -> Options {
        match parse(line) {
            Ok(Command::Run(o)) => o,
            other => panic!("`{line}`: {other:?}"),
        }
    }

    #[test]
    fn default_threads_are_powers_of_two_and_the_maximum() {
        assert_eq!(default_threads(1), [1]);
        assert_eq!(default_threads(2), [1, 2]);
        assert_eq!(default_threads(6), [1, 2, 4, 6]);
        assert_eq!(default_threads(16), [1, 2, 4, 8, 16]);
    }

    #[test]
    fn parses_options() {
        assert_eq!(
            options(
                "--threads 4,2 --repeats=3 --population 32,8,32 --data 50 --solvers bdf,auto \
                 --json out.json --plot out.svg"
            ),
            Options {
                threads: vec![1, 2, 4],
                repeats: 3,
                populations: vec![Some(32), Some(8)],
                data: vec![Some(50)],
                solvers: vec![SolverKind::Bdf, SolverKind::Auto],
                json: Some("out.json".into()),
                plot: Some("out.svg".into()),
            }
        );
        // As xtask passes them on: `--flag value`; and the defaults.
        let o = options("--threads=2,2,1 --json=a/b.json --plot=fig.SVG");
        assert_eq!(o.threads, [1, 2]);
        assert_eq!(o.repeats, 5);
        assert_eq!(o.populations, [None, Some(32)]);
        assert_eq!(o.data, [Some(100), None]);
        assert_eq!(o.solvers, [SolverKind::Tsit45, SolverKind::Bdf]);
        assert_eq!(o.json.as_deref(), Some(Path::new("a/b.json")));
        assert_eq!(o.plot.as_deref(), Some(Path::new("fig.SVG")));
        let o = options("");
        assert_eq!((o.repeats, o.json, o.plot), (5, None, None));
        assert_eq!(o.threads.first(), Some(&1));
        assert!(o.threads.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn help_anywhere_asks_for_the_usage() {
        assert_eq!(parse("--help"), Ok(Command::Help));
        assert_eq!(parse("-h"), Ok(Command::Help));
        assert_eq!(parse("--repeats 3 --help"), Ok(Command::Help));
    }

    #[test]
    fn bad_arguments_are_errors() {
        let err = |line: &str| parse(line).expect_err(line);
        assert!(err("--threads 0").contains("--threads: `0` is not a positive integer"));
        assert!(err("--threads 1,x").contains("`x` is not a positive integer"));
        assert!(err("--threads").contains("--threads"));
        assert!(err("--repeats").contains("--repeats"));
        assert!(err("--repeats -1").contains("`-1` is not a positive integer"));
        assert!(err("--population many").contains("--population: `many`"));
        assert!(err("--data 0").contains("--data: `0`"));
        assert!(err("--solvers rk4").contains("--solvers"));
        assert!(err("--json").contains("--json"));
        assert!(err("--frobnicate 1").contains("--frobnicate"));
        assert!(err("stray").contains("stray"));
        assert!(err("--plot out.png").contains("does not end in .svg"));
        assert!(err("--png out.png").contains("--plot PATH"));
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let d = |ms| Duration::from_millis(ms);
        assert_eq!(median(&[d(1), d(2), d(9)]), d(2));
        assert_eq!(median(&[d(1), d(3)]), d(2));
    }

    #[test]
    fn bit_identity_is_exact() {
        let x = [0.1, 0.2];
        assert_eq!(bits(1.0, &x), bits(1.0, &[0.1, 0.2]));
        assert_ne!(
            bits(1.0, &x),
            bits(1.0, &[0.1, f64::from_bits(0.2f64.to_bits() + 1)])
        );
        assert_ne!(bits(0.0, &x), bits(-0.0, &x));
        assert_ne!(bits(1.0, &x), bits(1.0, &[0.1]));
        assert_eq!(bits(f64::NAN, &x), bits(f64::NAN, &x));
    }

    #[test]
    fn subsampling_keeps_evenly_spaced_rows_with_both_ends() {
        let table = Table {
            rows: 5,
            columns: 2,
            values: (0..10).map(f64::from).collect(),
        };
        let t = subsample(&table, Some(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rows, t.columns), (3, 2));
        assert_eq!(t.values, [0.0, 1.0, 4.0, 5.0, 8.0, 9.0]);
        assert_eq!(
            subsample(&table, None).map(|t| t.values),
            Ok(table.values.clone())
        );
        assert!(subsample(&table, Some(6)).is_err_and(|e| e.contains("has 5")));
    }

    #[test]
    fn quantiles_are_nearest_rank_and_normals_are_standard() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(quantile(&d, 0.5), Duration::from_micros(50));
        assert_eq!(quantile(&d, 0.99), Duration::from_micros(99));
        assert_eq!(quantile(&d, 1.0), Duration::from_micros(100));
        let mut n = Normals(7);
        let xs: Vec<f64> = (0..20_000).map(|_| n.next()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }

    fn sample_report(value: f64) -> Report {
        Report {
            benchmark: "seed-fit-scaling-study".into(),
            data: "data/\"seed\".csv".into(),
            generations: GENERATIONS,
            step_size: STEP_SIZE,
            seed: SEED,
            repeats: 3,
            available_parallelism: 2,
            evaluation_times: vec![EvaluationTimes {
                data_rows: 100,
                solver: "bdf".into(),
                candidates: 400,
                failed: 0,
                mean_us: 80.0,
                median_us: 70.0,
                p90_us: 120.0,
                p99_us: 300.0,
                max_us: 900.0,
                slowest_percent_share: 0.05,
            }],
            rows: vec![ReportRow {
                population: 8,
                data_rows: 100,
                solver: "bdf".into(),
                threads: 2,
                median_s: 0.1,
                min_s: 0.098_765_432_1,
                first_run_s: 1.5,
                speedup: 1.98,
                efficiency: 0.99,
                iterations: 100,
                evaluations: 800,
                value,
                x: vec![1.1, 0.4, 0.1, 0.4],
                identical: true,
            }],
        }
    }

    #[test]
    fn the_json_report_round_trips_with_its_field_names() {
        let report = sample_report(1.234_567_890_123_456_7e-3);
        let text = serde_json::to_string_pretty(&report).unwrap_or_else(|e| panic!("{e}"));
        let back: Report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, report);
        // The field names consumers read.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v
                .as_object()
                .unwrap_or_else(|| panic!("{v}"))
                .keys()
                .cloned()
                .collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(&v),
            [
                "available_parallelism",
                "benchmark",
                "data",
                "evaluation_times",
                "generations",
                "repeats",
                "rows",
                "seed",
                "step_size"
            ]
        );
        assert_eq!(
            keys(&v["rows"][0]),
            [
                "data_rows",
                "efficiency",
                "evaluations",
                "first_run_s",
                "identical",
                "iterations",
                "median_s",
                "min_s",
                "population",
                "solver",
                "speedup",
                "threads",
                "value",
                "x"
            ]
        );
        assert_eq!(v["data"], "data/\"seed\".csv");
        assert_eq!(v["rows"][0]["x"][1], 0.4);
        assert_eq!(v["rows"][0]["identical"], true);
    }

    #[test]
    fn non_finite_values_are_written_as_null() {
        let text =
            serde_json::to_string(&sample_report(f64::NAN)).unwrap_or_else(|e| panic!("{e}"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert!(v["rows"][0]["value"].is_null(), "{text}");
        assert_eq!(v["rows"][0]["speedup"], 1.98);
    }
}
