//! Workspace automation for diffid, run as `cargo xtask <command>` (the alias lives in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask tidy`: checks the crate layering of house-style §2 — on the declared and the
//!   resolved (transitive) dependencies, from `cargo metadata` — the publishing metadata
//!   (library crates packageable, the rest `publish = false`) and the crate-level docs (see [`tidy`](mod@tidy)); also run by `cargo test -p xtask`.
//! - `cargo xtask bench [--threads 1,2,4] [--population 8,32] [--data 100,500]
//!   [--solvers tsit45,bdf] [--repeats R] [--json PATH] [--plot PATH]`: builds and runs the
//!   scaling study (`benches/src/bin/scaling.rs`) in release mode: markdown tables (the grid,
//!   and the per-evaluation times), optionally JSON and an SVG plot of the speedup. The options
//!   are checked here, before the release build, and passed on.
#![allow(clippy::print_stdout)]

mod tidy;

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  tidy    check the workspace's dependency rules (direct and transitive), publishing metadata
          and crate docs
  bench   run the scaling study of the seed fit (release build): threads × population ×
          data size × solver, and the per-evaluation times; options:
            --threads 1,2,4       thread counts (default: powers of two up to the cores, and
                                  the cores)
            --population 8,32     CMA-ES populations (default: CMA-ES's default, and 32)
            --data 100,500        data sizes in rows (default 100,500)
            --solvers tsit45,bdf  ODE solvers (default tsit45,bdf)
            --repeats R           timed runs per cell and thread count (default 5)
            --json PATH           also write the rows as JSON
            --plot PATH           also plot the speedup against the threads (SVG)
  help    print this message";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    Tidy,
    /// The scaling study, with the arguments to pass to the scaling binary.
    Bench(Vec<OsString>),
    Help,
}

fn main() -> ExitCode {
    match parse_args(env::args_os().skip(1)) {
        Ok(Task::Tidy) => tidy(),
        Ok(Task::Bench(args)) => bench(&args),
        Ok(Task::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Parses the arguments after the program name. `-h`/`--help` anywhere asks for the usage.
fn parse_args<I>(args: I) -> Result<Task, lexopt::Error>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let command = match parser.next()? {
        None => return Err("no command given".into()),
        Some(Short('h') | Long("help")) => return Ok(Task::Help),
        Some(Value(command)) => command.string()?,
        Some(other) => return Err(other.unexpected()),
    };
    match command.as_str() {
        "help" => Ok(Task::Help),
        "tidy" => match parser.next()? {
            None => Ok(Task::Tidy),
            Some(Short('h') | Long("help")) => Ok(Task::Help),
            Some(other) => Err(other.unexpected()),
        },
        "bench" => {
            let mut forward: Vec<OsString> = Vec::new();
            while let Some(arg) = parser.next()? {
                match arg {
                    Long("threads") => {
                        let list = parser.value()?.string()?;
                        for count in list.split(',') {
                            positive("threads", count)?;
                        }
                        forward.extend(["--threads".into(), list.into()]);
                    }
                    Long("repeats") => {
                        let n = parser.value()?.string()?;
                        positive("--repeats", &n)?;
                        forward.extend(["--repeats".into(), n.into()]);
                    }
                    Long(flag @ ("population" | "data")) => {
                        let flag = format!("--{flag}");
                        let list = parser.value()?.string()?;
                        for n in list.split(',') {
                            positive(&flag, n)?;
                        }
                        forward.extend([flag.into(), list.into()]);
                    }
                    Long("solvers") => {
                        // Checked by the scaling binary, which knows the solvers.
                        forward.extend(["--solvers".into(), parser.value()?]);
                    }
                    Long(flag @ ("json" | "plot")) => {
                        let flag = OsString::from(format!("--{flag}"));
                        forward.extend([flag, parser.value()?]);
                    }
                    Short('h') | Long("help") => return Ok(Task::Help),
                    other => return Err(other.unexpected()),
                }
            }
            Ok(Task::Bench(forward))
        }
        other => Err(format!("unknown command `{other}`").into()),
    }
}

/// Checks that `s` is a positive integer, as the scaling binary wants for `flag`.
fn positive(flag: &str, s: &str) -> Result<usize, lexopt::Error> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag}: `{s}` is not a positive integer").into()),
    }
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), PathBuf::from)
}

fn tidy() -> ExitCode {
    let ws = match tidy::Workspace::load(&workspace_root()) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let violations = ws.violations();
    if violations.is_empty() {
        println!("tidy: ok ({} crates checked)", ws.crate_count());
        ExitCode::SUCCESS
    } else {
        eprint!("{}", tidy::report(&violations));
        eprintln!(
            "tidy: {} violation(s) in {} crates (rules: xtask/src/tidy.rs, house-style §2)",
            violations.len(),
            ws.crate_count()
        );
        ExitCode::FAILURE
    }
}

/// Runs the scaling binary in release mode, passing the options through; its output (the
/// table) goes straight to our stdout. The working directory is left as it is, so a relative
/// `--json` path is relative to where `cargo xtask` was run.
fn bench(args: &[OsString]) -> ExitCode {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let status = Command::new(cargo)
        .arg("run")
        .arg("--release")
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .args(["--package", "diffid-benches", "--bin", "scaling", "--"])
        .args(args)
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("xtask bench: the scaling run failed ({s})");
            ExitCode::from(
                s.code()
                    .and_then(|c| u8::try_from(c).ok())
                    .filter(|&c| c != 0)
                    .unwrap_or(1),
            )
        }
        Err(e) => {
            eprintln!("xtask bench: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Task, String> {
        parse_args(line.split_whitespace()).map_err(|e| e.to_string())
    }

    fn bench_args(line: &str) -> Vec<String> {
        match parse(line) {
            Ok(Task::Bench(args)) => args
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            other => panic!("`{line}`: {other:?}"),
        }
    }

    #[test]
    fn commands() {
        assert_eq!(parse("tidy"), Ok(Task::Tidy));
        assert_eq!(parse("help"), Ok(Task::Help));
        assert_eq!(parse("--help"), Ok(Task::Help));
        assert_eq!(parse("-h"), Ok(Task::Help));
        assert_eq!(parse("tidy --help"), Ok(Task::Help));
        assert_eq!(parse("bench"), Ok(Task::Bench(Vec::new())));
    }

    #[test]
    fn bench_options_are_checked_and_passed_on() {
        assert_eq!(
            bench_args(
                "bench --threads 4,2 --repeats=3 --population 32,8 --data 50 --solvers bdf \
                 --json out.json --plot p.svg"
            ),
            [
                "--threads",
                "4,2",
                "--repeats",
                "3",
                "--population",
                "32,8",
                "--data",
                "50",
                "--solvers",
                "bdf",
                "--json",
                "out.json",
                "--plot",
                "p.svg"
            ]
        );
        assert_eq!(parse("bench --repeats 3 -h"), Ok(Task::Help));
    }

    #[test]
    fn bad_arguments_are_errors() {
        let err = |line: &str| parse(line).expect_err(line);
        assert!(err("").contains("no command"));
        assert!(err("frobnicate").contains("unknown command `frobnicate`"));
        assert!(err("tidy extra").contains("extra"));
        assert!(err("tidy --fix").contains("--fix"));
        assert!(err("bench --frobnicate 1").contains("--frobnicate"));
        assert!(err("bench --repeats").contains("--repeats"));
        assert!(err("bench --repeats 0").contains("`0` is not a positive integer"));
        assert!(err("bench --population many").contains("--population: `many`"));
        assert!(err("bench --data 10,0").contains("--data: `0`"));
        assert!(err("bench --threads 1,x").contains("`x` is not a positive integer"));
        assert!(err("bench --json").contains("--json"));
    }
}
