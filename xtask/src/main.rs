//! Workspace automation for diffid, run as `cargo xtask <command>` (the alias lives in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask tidy`: checks the crate layering of house-style §2, `publish = false` and the
//!   crate-level docs (see [`tidy`](mod@tidy)); also run by `cargo test -p xtask`.
//! - `cargo xtask bench [--threads 1,2,4] [--repeats R] [--population P] [--json PATH]
//!   [--png PATH]`: builds and runs the thread-scaling study (`benches/src/bin/scaling.rs`) in
//!   release mode: a markdown table, optionally JSON and a PNG plot of the speedup.
#![allow(clippy::print_stdout)]

mod tidy;

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  tidy    check the workspace's dependency rules, publish = false and crate docs
  bench   run the thread-scaling study of the seed fit (release build); options:
            --threads 1,2,4   thread counts (default: powers of two up to the cores, and the cores)
            --repeats R       timed runs per thread count (default 5)
            --population P    CMA-ES population (default: CMA-ES's default for 4 parameters)
            --json PATH       also write the rows as JSON
            --png PATH        also plot the speedup against the threads as a PNG
  help    print this message";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("tidy") if args.len() == 1 => tidy(),
        Some("bench") => bench(&args[1..]),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(_) => {
            eprintln!(
                "xtask: unknown command or arguments `{}`\n\n{USAGE}",
                args.join(" ")
            );
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
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
fn bench(args: &[String]) -> ExitCode {
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
