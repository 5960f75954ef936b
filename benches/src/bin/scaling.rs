//! Thread scaling of the seed fit: the Lotka–Volterra model fitted to the bundled data with SSE
//! and CMA-ES (100 generations, σ 0.3, seed 1), timed at several thread counts.
//!
//! `cargo xtask bench [--threads 1,2,4] [--repeats R] [--population P] [--json PATH]
//! [--plot PATH]`, or `cargo run --release -p diffid-benches --bin scaling -- ...`. The plot is
//! an SVG figure of the speedup against the thread count, with the ideal line
//! ([`diffid_benches::plot`]).
//!
//! For each thread count the problem is built once (a private pool of that many threads), fitted
//! once untimed (the warm-up, which also compiles the model on each pool thread; its time is the
//! "first run" column) and then fitted `R` times; the table reports the median and the minimum of
//! those, the speedup of the median over one thread and the parallel efficiency (speedup ÷
//! threads). Every run's final value and x must be bit-identical to the one-thread result
//! (invariant 5); the last column says whether they are, and the program exits with status 1
//! if any differ.
#![allow(clippy::print_stdout)]

use diffid::{CmaEs, DiffsolBuilder, OptimisationResult, Parallelism, Problem, RunOptions, Sse};
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

const USAGE: &str = "\
usage: scaling [--threads 1,2,4] [--repeats R] [--population P] [--json PATH] [--plot PATH]

  --threads LIST    comma-separated thread counts; 1 is always added as the baseline
                    (default: powers of two up to the available cores, and the cores)
  --repeats R       timed runs per thread count, after one warm-up run (default 5)
  --population P    CMA-ES population size (default: CMA-ES's default for 4 parameters);
                    larger populations expose more parallelism
  --json PATH       also write the rows as JSON to PATH
  --plot PATH       also plot the speedup against the thread count to PATH, an SVG file";

/// Command-line options.
#[derive(Debug, PartialEq)]
struct Options {
    threads: Vec<usize>,
    repeats: usize,
    population: Option<usize>,
    json: Option<PathBuf>,
    plot: Option<PathBuf>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Run(Options),
    Help,
}

/// One row of the table: one thread count.
#[derive(Debug)]
struct Row {
    threads: usize,
    /// Median and minimum of the timed runs.
    median: Duration,
    min: Duration,
    /// The warm-up run.
    first: Duration,
    speedup: f64,
    efficiency: f64,
    /// Whether every run matched the one-thread result bit for bit.
    identical: bool,
    result: OptimisationResult,
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
    let mut population = None;
    let mut json = None;
    let mut plot = None;
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("threads") => {
                let list = parser.value()?.string()?;
                let parsed = list
                    .split(',')
                    .map(|s| positive(s, "--threads"))
                    .collect::<Result<Vec<_>, _>>()?;
                threads = Some(parsed);
            }
            Long("repeats") => repeats = positive(&parser.value()?.string()?, "--repeats")?,
            Long("population") => {
                population = Some(positive(&parser.value()?.string()?, "--population")?);
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
        population,
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

fn build(table: &Table, threads: usize) -> Result<Problem, Box<dyn Error>> {
    let mut builder = DiffsolBuilder::new()
        .with_diffsl(SEED_MODEL)
        .with_data(table.rows, table.columns, &table.values)
        .with_cost(Sse::new(1.0)?)
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

/// Measures every thread count; `Ok(false)` when some result was not bit-identical.
fn run(options: &Options) -> Result<bool, Box<dyn Error>> {
    let table = load_seed_data()?;
    let cmaes = optimiser(options.population);
    let run_options = RunOptions::default();
    let mut rows: Vec<Row> = Vec::new();
    for &threads in &options.threads {
        let problem = build(&table, threads)?;
        eprint!("threads {threads:>3}: warm-up");
        let start = Instant::now();
        let reference = problem.optimise(None, Some(&cmaes), &run_options)?;
        let first = start.elapsed();
        // The first row (one thread) is the reference for the others.
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
    let population = cmaes.population_size_for(SEED_PARAMETERS.len());
    print!("{}", markdown(&rows, options, population, table.rows));
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&report(&rows, options, population))?;
        write(path, &(text + "\n"))?;
    }
    if let Some(path) = &options.plot {
        write(path, &plot(&rows, population)?)?;
    }
    Ok(rows.iter().all(|r| r.identical))
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The speedup figure: one series (this run's population) and the ideal line.
fn plot(rows: &[Row], population: usize) -> Result<String, diffid_benches::plot::PlotError> {
    let evaluations = rows.first().map_or(0, |r| r.result.evaluations);
    let series = Series {
        label: format!("CMA-ES, population {population} ({evaluations} evaluations)"),
        points: rows.iter().map(|r| (r.threads, r.speedup)).collect(),
    };
    speedup_svg(
        "Thread scaling of the seed fit (Lotka–Volterra, SSE)",
        &[series],
    )
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn markdown(rows: &[Row], options: &Options, population: usize, data_rows: usize) -> String {
    let mut s = String::new();
    let r0 = &rows[0].result;
    let _ = writeln!(
        s,
        "## Thread scaling of the seed fit\n\n\
Lotka–Volterra (DiffSL, 4 parameters), {data_rows} data rows, SSE; CMA-ES, {GENERATIONS} \
generations max, σ {STEP_SIZE}, seed {SEED}, population {population} ({} generations, {} \
evaluations per fit). Median of {} timed fits after one warm-up fit per thread count; {} cores \
available.\n",
        r0.iterations,
        r0.evaluations,
        options.repeats,
        cores(),
    );
    let _ = writeln!(
        s,
        "| threads | median (ms) | min (ms) | first run (ms) | speedup | efficiency | bit-identical |"
    );
    let _ = writeln!(s, "|--:|--:|--:|--:|--:|--:|:-:|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | {:.1} | {:.2}× | {:.0}% | {} |",
            r.threads,
            ms(r.median),
            ms(r.min),
            ms(r.first),
            r.speedup,
            r.efficiency * 100.0,
            if r.identical { "✓" } else { "✗" },
        );
    }
    let _ = writeln!(s, "\nfinal value {} at x = {:?} (1 thread)", r0.value, r0.x);
    for r in rows.iter().filter(|r| !r.identical) {
        let _ = writeln!(
            s,
            "✗ {} threads: final value {} at x = {:?}",
            r.threads, r.result.value, r.result.x
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
    population: usize,
    repeats: usize,
    available_parallelism: usize,
    rows: Vec<ReportRow>,
}

/// One thread count in the JSON report; times in seconds.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct ReportRow {
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

fn report(rows: &[Row], options: &Options, population: usize) -> Report {
    Report {
        benchmark: "seed-fit-thread-scaling".to_owned(),
        data: seed_data_path().display().to_string(),
        generations: GENERATIONS,
        step_size: STEP_SIZE,
        seed: SEED,
        population,
        repeats: options.repeats,
        available_parallelism: cores(),
        rows: rows
            .iter()
            .map(|r| ReportRow {
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
            options("--threads 4,2 --repeats=3 --population 32 --json out.json --plot out.svg"),
            Options {
                threads: vec![1, 2, 4],
                repeats: 3,
                population: Some(32),
                json: Some("out.json".into()),
                plot: Some("out.svg".into()),
            }
        );
        // As xtask passes them on: `--flag value`; and the defaults.
        let o = options("--threads=2,2,1 --json=a/b.json --plot=fig.SVG");
        assert_eq!(o.threads, [1, 2]);
        assert_eq!(o.repeats, 5);
        assert_eq!(o.population, None);
        assert_eq!(o.json.as_deref(), Some(Path::new("a/b.json")));
        assert_eq!(o.plot.as_deref(), Some(Path::new("fig.SVG")));
        let o = options("");
        assert_eq!(
            (o.repeats, o.population, o.json, o.plot),
            (5, None, None, None)
        );
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

    fn sample_report(value: f64) -> Report {
        Report {
            benchmark: "seed-fit-thread-scaling".into(),
            data: "data/\"seed\".csv".into(),
            generations: GENERATIONS,
            step_size: STEP_SIZE,
            seed: SEED,
            population: 8,
            repeats: 3,
            available_parallelism: 2,
            rows: vec![ReportRow {
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
                "generations",
                "population",
                "repeats",
                "rows",
                "seed",
                "step_size"
            ]
        );
        assert_eq!(
            keys(&v["rows"][0]),
            [
                "efficiency",
                "evaluations",
                "first_run_s",
                "identical",
                "iterations",
                "median_s",
                "min_s",
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
