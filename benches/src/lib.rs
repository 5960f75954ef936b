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

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Header { .. } | Self::Row { .. } => None,
        }
    }
}

/// A `csv` error in `text` as [`DataError::Row`], at the line of the record it names (the
/// header's line, 1, when it names none). The line is counted from the byte offset `csv` gives,
/// past the blank lines it skipped before the record (its own line count leaves those out).
fn row_error(text: &str, e: &csv::Error) -> DataError {
    let line = e.position().map_or(1, |p| {
        let bytes = text.as_bytes();
        let mut at = (p.byte() as usize).min(bytes.len());
        while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        // One piece more than there are line ends before the record.
        bytes[..at].split(|&b| b == b'\n').count()
    });
    let reason = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields, expected {expected_len}"),
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!("field {}: {}", field + 1, err.kind()),
            None => err.kind().to_string(),
        },
        _ => e.to_string(),
    };
    DataError::Row { line, reason }
}

/// Parses CSV text with the header `header`: every other record is a row of numbers, as many
/// as the header has names. Fields and names are trimmed of surrounding whitespace; blank lines
/// are skipped.
///
/// # Errors
/// [`DataError::Header`] for another header, [`DataError::Row`] for a short/long row or a field
/// that is not a number.
pub fn parse_csv(text: &str, header: &str) -> Result<Table, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let expected: Vec<&str> = header.split(',').map(str::trim).collect();
    let got = reader.headers().map_err(|e| row_error(text, &e))?;
    if got.iter().ne(expected.iter().copied()) {
        return Err(DataError::Header {
            expected: header.to_owned(),
            got: got.iter().collect::<Vec<_>>().join(","),
        });
    }
    let columns = expected.len();
    let mut values = Vec::new();
    let mut rows = 0;
    for record in reader.deserialize::<Vec<f64>>() {
        values.extend(record.map_err(|e| row_error(text, &e))?);
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

    fn row_error(text: &str) -> (usize, String) {
        match parse_csv(text, "t,a") {
            Err(DataError::Row { line, reason }) => (line, reason),
            other => panic!("`{text}`: {other:?}"),
        }
    }

    #[test]
    fn parses_rows_and_rejects_bad_input() {
        let t = parse_csv("t,a\n0,1\n0.5, 2e-1\n\n", "t,a").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rows, t.columns), (2, 2));
        assert_eq!(t.values, [0.0, 1.0, 0.5, 0.2]);
        // Windows line ends, blank lines between rows, a header without rows.
        let t = parse_csv("t,a\r\n1,2\r\n\r\n3,4\r\n", "t,a").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rows, t.values), (2, vec![1.0, 2.0, 3.0, 4.0]));
        let t = parse_csv("t,a\n", "t,a").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rows, t.columns, t.values.len()), (0, 2, 0));

        match parse_csv("x,a\n", "t,a") {
            Err(DataError::Header { expected, got }) => {
                assert_eq!((expected.as_str(), got.as_str()), ("t,a", "x,a"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_csv("", "t,a"),
            Err(DataError::Header { got, .. }) if got.is_empty()
        ));
        assert!(matches!(
            parse_csv("t,a,b\n", "t,a"),
            Err(DataError::Header { .. })
        ));
        assert_eq!(
            row_error("t,a\n0,1,2\n"),
            (2, "3 fields, expected 2".into())
        );
        assert_eq!(
            row_error("t,a\n0,1\n\n5\n"),
            (4, "1 fields, expected 2".into())
        );
        assert_eq!(
            row_error("t,a\r\n\r\n\r\n0,1\r\n1,2,3\r\n"),
            (5, "3 fields, expected 2".into())
        );
        let (line, reason) = row_error("t,a\n0,1\n0,q\n");
        assert_eq!(line, 3);
        assert!(reason.starts_with("field 2:"), "{reason}");
        let (line, reason) = row_error("t,a\n,1\n");
        assert_eq!(line, 2);
        assert!(reason.starts_with("field 1:"), "{reason}");
    }

    #[test]
    fn errors_say_where() {
        let e = parse_csv("t,a\n0,q\n", "t,a").expect_err("q is not a number");
        assert!(e.to_string().starts_with("csv line 2: field 2"), "{e}");
        let e = parse_csv("x\n", "t,a").expect_err("wrong header");
        assert_eq!(e.to_string(), "unexpected csv header `x`: expected `t,a`");
    }

    #[test]
    fn seed_data_is_bundled() {
        let t = load_seed_data().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rows, t.columns), (500, 3));
    }
}
