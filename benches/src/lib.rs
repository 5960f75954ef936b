//! Shared fixtures of diffid's benchmarks: the seed tutorial's Lotka–Volterra model and data,
//! and an eight-parameter compartment chain.
//!
//! The `scaling` binary (`cargo xtask bench`) times the seed fit at several thread counts; the
//! `optimiser_counts` binary counts the evaluations each optimiser needs on the standard test
//! functions and on these fits; criterion benches reuse the same fixtures. Unlike the library
//! crates, this crate reads files (the bundled data set).

pub mod plot;

use std::fmt;
use std::path::{Path, PathBuf};

/// The seed tutorial's Lotka–Volterra model, in `DiffSL`.
pub const SEED_MODEL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/lotka_volterra_seed.ds"
));

/// The fitted parameters of the seed fit and their starting values.
pub const SEED_PARAMETERS: [(&str, f64); 4] = [
    ("alpha", 0.8),
    ("beta", 0.3),
    ("delta", 0.05),
    ("gamma", 0.3),
];

/// A closed chain of five compartments with six rates and two initial amounts (eight
/// parameters), in `DiffSL`.
pub const CHAIN_MODEL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/compartment_chain.ds"
));

/// The chain's starting values, away from its defaults (which generate its data).
pub const CHAIN_START: [(&str, f64); 8] = [
    ("k1", 0.6),
    ("k2", 1.0),
    ("k3", 0.3),
    ("k4", 0.5),
    ("k5", 0.35),
    ("k6", 0.05),
    ("a0", 1.5),
    ("b0", 1.4),
];

/// The seed fit as the tutorial builds it (SSE; the parallelism given).
///
/// # Panics
/// When the bundled data cannot be read or the model does not build (a broken checkout).
pub fn seed_problem(parallelism: diffid::Parallelism) -> diffid::Problem {
    let data = load_seed_data().unwrap_or_else(|e| panic!("{e}"));
    SEED_PARAMETERS
        .iter()
        .fold(
            diffid::DiffsolBuilder::new()
                .with_diffsl(SEED_MODEL)
                .with_data(data.rows, data.columns, &data.values)
                .with_parallelism(parallelism),
            |b, (n, v)| b.with_parameter(*n, *v, None),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The chain fit: data from the model's defaults at t = 0, 0.5, …, 20 with a 2 % deterministic
/// distortion, fitted from [`CHAIN_START`] (rtol 1e-8, atol 1e-10).
///
/// # Panics
/// When the bundled model does not build (a broken checkout).
pub fn chain_problem() -> diffid::Problem {
    let t: Vec<f64> = (0..41).map(|i| f64::from(i) * 0.5).collect();
    let model = diffid::DiffslModel::new(CHAIN_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let sim = diffid::OdeSimulator::new(model, t.clone(), &[], diffid::SolveOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut y = vec![0.0; t.len() * 5];
    sim.solve(&[], &mut y).unwrap_or_else(|e| panic!("{e}"));
    let mut data = Vec::with_capacity(t.len() * 6);
    for (i, ti) in t.iter().enumerate() {
        data.push(*ti);
        for k in 0..5 {
            data.push(y[i * 5 + k] * (1.0 + 0.02 * ((i * 5 + k) as f64 * 1.3).sin()));
        }
    }
    CHAIN_START
        .iter()
        .fold(
            diffid::DiffsolBuilder::new()
                .with_diffsl(CHAIN_MODEL)
                .with_data(t.len(), 6, &data)
                .with_tolerances(1e-8, 1e-10),
            |b, (n, v)| b.with_parameter(*n, *v, None),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The expected header of the seed data.
pub const SEED_HEADER: &str = "t,prey,predator";

/// `data/lotka_volterra_seed.csv` in the workspace.
pub fn seed_data_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/lotka_volterra_seed.csv")
}

/// A row-major table read from a CSV file.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Number of data rows (the header excluded).
    pub rows: usize,
    /// Number of columns.
    pub columns: usize,
    /// `rows × columns` values, row after row.
    pub values: Vec<f64>,
}

/// Why a CSV file could not be read.
#[derive(Debug)]
pub enum DataError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The header is not the expected one.
    Header {
        /// What was expected.
        expected: String,
        /// What the file has.
        got: String,
    },
    /// A row has the wrong number of fields or a field is not a number.
    Row {
        /// 1-based line number in the file.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Header { expected, got } => {
                write!(f, "unexpected csv header `{got}`: expected `{expected}`")
            }
            Self::Row { line, reason } => write!(f, "csv line {line}: {reason}"),
        }
    }
}

impl std::error::Error for DataError {}

/// Parses CSV text with the header `header` (comma-separated numbers, no quoting).
///
/// # Errors
/// [`DataError::Header`] for another header, [`DataError::Row`] for a short/long row or a field
/// that is not a number.
pub fn parse_csv(text: &str, header: &str) -> Result<Table, DataError> {
    let mut lines = text.lines().enumerate();
    let got = lines.next().map_or("", |(_, l)| l.trim());
    if got != header {
        return Err(DataError::Header {
            expected: header.to_owned(),
            got: got.to_owned(),
        });
    }
    let columns = header.split(',').count();
    let mut values = Vec::new();
    let mut rows = 0;
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != columns {
            return Err(DataError::Row {
                line: i + 1,
                reason: format!("{} fields, expected {columns}", fields.len()),
            });
        }
        for field in fields {
            let v = field.trim().parse::<f64>().map_err(|e| DataError::Row {
                line: i + 1,
                reason: format!("`{field}` is not a number ({e})"),
            })?;
            values.push(v);
        }
        rows += 1;
    }
    Ok(Table {
        rows,
        columns,
        values,
    })
}

/// Reads the seed data (`t,prey,predator`, 500 rows).
///
/// # Errors
/// As [`parse_csv`], or [`DataError::Io`] when the file cannot be read.
pub fn load_seed_data() -> Result<Table, DataError> {
    let path = seed_data_path();
    let text = std::fs::read_to_string(&path).map_err(|source| DataError::Io { path, source })?;
    parse_csv(&text, SEED_HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_rejects_bad_input() {
        let t = parse_csv("t,a\n0,1\n0.5, 2e-1\n\n", "t,a").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rows, t.columns), (2, 2));
        assert_eq!(t.values, [0.0, 1.0, 0.5, 0.2]);
        assert!(matches!(
            parse_csv("x,a\n", "t,a"),
            Err(DataError::Header { .. })
        ));
        assert!(matches!(
            parse_csv("t,a\n0,1,2\n", "t,a"),
            Err(DataError::Row { line: 2, .. })
        ));
        assert!(matches!(
            parse_csv("t,a\n0,q\n", "t,a"),
            Err(DataError::Row { line: 2, .. })
        ));
    }

    #[test]
    fn seed_data_is_bundled() {
        let t = load_seed_data().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rows, t.columns), (500, 3));
    }
}
