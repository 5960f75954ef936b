//! Time-series data: column 0 is time, the other columns are observations.

use crate::CoreError;

/// A validated time series: strictly increasing finite times and finite observations.
///
/// Stored row-major: row `i` is `[t_i, y_i1, …, y_ik]`. The observations, flattened row by row,
/// line up with a simulator's predictions (time-major: all outputs at `t_0`, then at `t_1`, …).
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSeries {
    times: Vec<f64>,
    observations: Vec<f64>,
    n_outputs: usize,
}

impl TimeSeries {
    /// Validates a row-major `rows × columns` table whose column 0 is time.
    ///
    /// # Errors
    /// [`CoreError::DataShape`] for fewer than 2 columns, no rows or a length that is not
    /// `rows × columns`; [`CoreError::DataNotFinite`] for a NaN or infinite entry (naming its row
    /// and column); [`CoreError::TimesNotIncreasing`] when a time does not exceed the one before.
    pub fn from_row_major(rows: usize, columns: usize, values: &[f64]) -> Result<Self, CoreError> {
        if columns < 2 || rows == 0 || values.len() != rows * columns {
            return Err(CoreError::DataShape {
                reason: if columns < 2 {
                    format!(
                        "data has {columns} column(s); it needs column 0 = time plus at least one observation column"
                    )
                } else if rows == 0 {
                    "data has no rows".to_owned()
                } else {
                    format!(
                        "{} values cannot form {rows} rows of {columns} columns",
                        values.len()
                    )
                },
            });
        }
        let mut times = Vec::with_capacity(rows);
        let mut observations = Vec::with_capacity(rows * (columns - 1));
        for (r, row) in values.chunks_exact(columns).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                if !v.is_finite() {
                    return Err(CoreError::DataNotFinite {
                        row: r,
                        column: c,
                        value: v,
                    });
                }
            }
            let t = row[0];
            if let Some(&prev) = times.last() {
                if t <= prev {
                    return Err(CoreError::TimesNotIncreasing {
                        row: r,
                        previous: prev,
                        value: t,
                    });
                }
            }
            times.push(t);
            observations.extend_from_slice(&row[1..]);
        }
        Ok(Self {
            times,
            observations,
            n_outputs: columns - 1,
        })
    }

    /// The times (column 0).
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// The observations flattened time-major (row by row, without the time column).
    pub fn observations(&self) -> &[f64] {
        &self.observations
    }

    /// Number of observation columns.
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Number of rows (time points).
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether there are no rows (never true for a validated series).
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// A copy with the observations replaced (same times and shape), e.g. for synthetic data.
    ///
    /// # Errors
    /// [`CoreError::DataShape`] when the length differs; [`CoreError::DataNotFinite`] for a
    /// non-finite value.
    pub fn with_observations(&self, observations: Vec<f64>) -> Result<Self, CoreError> {
        if observations.len() != self.observations.len() {
            return Err(CoreError::DataShape {
                reason: format!(
                    "{} observations given, {} expected",
                    observations.len(),
                    self.observations.len()
                ),
            });
        }
        if let Some(i) = observations.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::DataNotFinite {
                row: i / self.n_outputs,
                column: 1 + i % self.n_outputs,
                value: observations[i],
            });
        }
        Ok(Self {
            observations,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_shape_finiteness_and_order() {
        assert!(matches!(
            TimeSeries::from_row_major(3, 1, &[0.0, 1.0, 2.0]),
            Err(CoreError::DataShape { .. })
        ));
        let err = TimeSeries::from_row_major(2, 2, &[0.0, 1.0, 1.0, f64::NAN]).unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::DataNotFinite {
                    row: 1,
                    column: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = TimeSeries::from_row_major(2, 2, &[1.0, 1.0, 1.0, 2.0]).unwrap_err();
        assert!(
            matches!(err, CoreError::TimesNotIncreasing { row: 1, .. }),
            "{err}"
        );
        let ok = TimeSeries::from_row_major(2, 3, &[0.0, 1.0, 2.0, 1.0, 3.0, 4.0]).unwrap();
        assert_eq!(ok.times(), &[0.0, 1.0]);
        assert_eq!(ok.observations(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(ok.n_outputs(), 2);
    }
}
