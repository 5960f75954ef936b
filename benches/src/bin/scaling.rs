//! Thread scaling of the seed fit: the Lotka–Volterra model fitted to the bundled data with SSE
//! and CMA-ES (100 generations, σ 0.3, seed 1), timed at several thread counts.
//!
//! `cargo xtask bench [--threads 1,2,4] [--repeats R] [--population P] [--json PATH]
//! [--png PATH]`, or `cargo run --release -p diffid-benches --bin scaling -- ...`. The PNG is
//! a plot of the speedup against the thread count, with the ideal line.
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
use diffid_benches::{load_seed_data, seed_data_path, Table, SEED_MODEL, SEED_PARAMETERS};
use std::error::Error;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const GENERATIONS: usize = 100;
const STEP_SIZE: f64 = 0.3;
const SEED: u64 = 1;

const USAGE: &str = "\
usage: scaling [--threads 1,2,4] [--repeats R] [--population P] [--json PATH] [--png PATH]

  --threads LIST    comma-separated thread counts; 1 is always added as the baseline
                    (default: powers of two up to the available cores, and the cores)
  --repeats R       timed runs per thread count, after one warm-up run (default 5)
  --population P    CMA-ES population size (default: CMA-ES's default for 4 parameters);
                    larger populations expose more parallelism
  --json PATH       also write the rows as JSON to PATH
  --png PATH        also plot the speedup against the thread count to PATH";

/// Command-line options.
#[derive(Debug, PartialEq)]
struct Options {
    threads: Vec<usize>,
    repeats: usize,
    population: Option<usize>,
    json: Option<String>,
    png: Option<String>,
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse_args(&args) {
        Ok(o) => o,
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

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut threads = None;
    let mut repeats = 5;
    let mut population = None;
    let mut json = None;
    let mut png = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        // Both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--threads" => {
                let list = value()?;
                let parsed = list
                    .split(',')
                    .map(|s| positive(s, "--threads"))
                    .collect::<Result<Vec<_>, _>>()?;
                threads = Some(parsed);
            }
            "--repeats" => repeats = positive(&value()?, "--repeats")?,
            "--population" => population = Some(positive(&value()?, "--population")?),
            "--json" => json = Some(value()?),
            "--png" => png = Some(value()?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let mut threads = threads.unwrap_or_else(|| {
        default_threads(std::thread::available_parallelism().map_or(1, usize::from))
    });
    threads.push(1);
    threads.sort_unstable();
    threads.dedup();
    Ok(Options {
        threads,
        repeats,
        population,
        json,
        png,
    })
}

fn positive(s: &str, flag: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag}: `{s}` is not a positive integer")),
    }
}

fn build(table: &Table, threads: usize) -> Result<Problem, Box<dyn Error>> {
    let mut builder = DiffsolBuilder::new()
        .with_diffsl(SEED_MODEL)
        .with_data(table.rows, table.columns, &table.values)
        .with_cost(Box::new(Sse::new(1.0)?))
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
        std::fs::write(path, json(&rows, options, population))
            .map_err(|e| format!("cannot write {path}: {e}"))?;
        eprintln!("wrote {path}");
    }
    if let Some(path) = &options.png {
        let points: Vec<(usize, f64)> = rows.iter().map(|r| (r.threads, r.speedup)).collect();
        std::fs::write(path, diffid_benches::plot::speedup_png(&points))
            .map_err(|e| format!("cannot write {path}: {e}"))?;
        eprintln!("wrote {path}");
    }
    Ok(rows.iter().all(|r| r.identical))
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

/// A JSON number; non-finite values become `null`. Rust prints the shortest representation
/// that reads back to the same f64, so values round-trip exactly.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".to_owned()
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json(rows: &[Row], options: &Options, population: usize) -> String {
    let mut s = String::from("{\n");
    let _ = writeln!(s, "  \"benchmark\": \"seed-fit-thread-scaling\",");
    let data = seed_data_path();
    let _ = writeln!(
        s,
        "  \"data\": {},",
        json_string(&data.display().to_string())
    );
    let _ = writeln!(s, "  \"generations\": {GENERATIONS},");
    let _ = writeln!(s, "  \"step_size\": {},", num(STEP_SIZE));
    let _ = writeln!(s, "  \"seed\": {SEED},");
    let _ = writeln!(s, "  \"population\": {population},");
    let _ = writeln!(s, "  \"repeats\": {},", options.repeats);
    let _ = writeln!(s, "  \"available_parallelism\": {},", cores());
    let _ = writeln!(s, "  \"rows\": [");
    for (i, r) in rows.iter().enumerate() {
        let x: Vec<String> = r.result.x.iter().map(|&v| num(v)).collect();
        let _ = writeln!(
            s,
            "    {{\"threads\": {}, \"median_s\": {}, \"min_s\": {}, \"first_run_s\": {}, \
\"speedup\": {}, \"efficiency\": {}, \"iterations\": {}, \"evaluations\": {}, \"value\": {}, \
\"x\": [{}], \"identical\": {}}}{}",
            r.threads,
            num(r.median.as_secs_f64()),
            num(r.min.as_secs_f64()),
            num(r.first.as_secs_f64()),
            num(r.speedup),
            num(r.efficiency),
            r.result.iterations,
            r.result.evaluations,
            num(r.result.value),
            x.join(", "),
            r.identical,
            if i + 1 < rows.len() { "," } else { "" },
        );
    }
    s.push_str("  ]\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
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
        let o = parse_args(&args(
            "--threads 4,2 --repeats=3 --population 32 --json out.json --png out.png",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            o,
            Options {
                threads: vec![1, 2, 4],
                repeats: 3,
                population: Some(32),
                json: Some("out.json".into()),
                png: Some("out.png".into()),
            }
        );
        assert!(parse_args(&args("--threads 0")).is_err());
        assert!(parse_args(&args("--repeats")).is_err());
        assert!(parse_args(&args("--frobnicate 1")).is_err());
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
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
        assert_eq!(num(f64::NAN), "null");
        assert_eq!(num(0.1), "0.1");
    }
}
