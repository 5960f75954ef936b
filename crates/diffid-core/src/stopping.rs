//! Stopping rules every algorithm shares: patience and a wall-clock limit.
//!
//! An algorithm's own criteria (threshold, tolerances, iteration and evaluation limits) live in
//! its state. These two are generic, so they are tracked here, by a [`LimitTracker`] each state
//! owns and updates after every completed iteration; because the state checks them itself, they
//! hold for hand-driven ask/tell loops too.

use crate::{CoreError, Termination};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How long a run may go on without improving its best value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Patience {
    /// This many completed iterations without a strictly lower best value.
    Iterations(usize),
    /// This much wall-clock time without a strictly lower best value.
    Time(Duration),
}

impl Patience {
    /// Checks that the patience is positive.
    ///
    /// # Errors
    /// [`CoreError::InvalidSetting`] for zero iterations or a zero duration.
    pub fn validate(&self) -> Result<(), CoreError> {
        let bad = match self {
            Self::Iterations(n) => (*n == 0).then(|| n.to_string()),
            Self::Time(d) => d.is_zero().then(|| format!("{d:?}")),
        };
        match bad {
            Some(value) => Err(CoreError::InvalidSetting {
                setting: "patience",
                value,
                requirement: "patience must be at least 1 iteration or a positive time",
            }),
            None => Ok(()),
        }
    }
}

/// The generic limits of a run: patience and a wall-clock limit (both off by default).
///
/// Built from the default with its `with_*` methods (it may gain fields):
/// `Limits::default().with_time_limit(Duration::from_secs(10))`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Stop (as [`Termination::Patience`]) after this long without improvement.
    pub patience: Option<Patience>,
    /// Stop (as [`Termination::TimeLimit`]) once this much time has passed since the start.
    pub time_limit: Option<Duration>,
}

impl Limits {
    /// The same limits with `patience`.
    #[must_use]
    pub fn with_patience(mut self, patience: Patience) -> Self {
        self.patience = Some(patience);
        self
    }

    /// The same limits with a wall-clock `time_limit`.
    #[must_use]
    pub fn with_time_limit(mut self, time_limit: Duration) -> Self {
        self.time_limit = Some(time_limit);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`CoreError::InvalidSetting`] for a zero patience or a zero time limit.
    pub fn validate(&self) -> Result<(), CoreError> {
        if let Some(p) = &self.patience {
            p.validate()?;
        }
        if self.time_limit.is_some_and(|d| d.is_zero()) {
            return Err(CoreError::InvalidSetting {
                setting: "time_limit",
                value: "0".to_owned(),
                requirement: "time_limit must be a positive number of seconds",
            });
        }
        Ok(())
    }
}

/// Tracks [`Limits`] over a run; created when a state starts. It serialises its clocks as the
/// time elapsed so far, so a run restored from a checkpoint goes on counting from there.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "SavedTracker", into = "SavedTracker")]
pub struct LimitTracker {
    limits: Limits,
    started: Instant,
    best: f64,
    improved_at_iteration: usize,
    improved_at: Instant,
}

/// A [`LimitTracker`] as saved: its instants as durations before the moment of saving.
#[derive(Serialize, Deserialize)]
struct SavedTracker {
    limits: Limits,
    elapsed: Duration,
    best: f64,
    improved_at_iteration: usize,
    since_improved: Duration,
}

impl From<LimitTracker> for SavedTracker {
    fn from(t: LimitTracker) -> Self {
        Self {
            limits: t.limits,
            elapsed: t.started.elapsed(),
            best: t.best,
            improved_at_iteration: t.improved_at_iteration,
            since_improved: t.improved_at.elapsed(),
        }
    }
}

impl From<SavedTracker> for LimitTracker {
    fn from(s: SavedTracker) -> Self {
        let now = Instant::now();
        let before = |d: Duration| now.checked_sub(d).unwrap_or(now);
        Self {
            limits: s.limits,
            started: before(s.elapsed),
            best: s.best,
            improved_at_iteration: s.improved_at_iteration,
            improved_at: before(s.since_improved),
        }
    }
}

impl LimitTracker {
    /// Starts tracking now.
    pub fn new(limits: Limits) -> Self {
        let now = Instant::now();
        Self {
            limits,
            started: now,
            best: f64::INFINITY,
            improved_at_iteration: 0,
            improved_at: now,
        }
    }

    /// The limits tracked.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Records the best value after `iteration` completed iterations.
    pub fn record(&mut self, iteration: usize, best: Option<f64>) {
        if let Some(b) = best {
            if b < self.best {
                self.best = b;
                self.improved_at_iteration = iteration;
                self.improved_at = Instant::now();
            }
        }
    }

    /// Whether a limit has been reached after `iteration` completed iterations, and which.
    pub fn reached(&self, iteration: usize) -> Option<Termination> {
        if self
            .limits
            .time_limit
            .is_some_and(|limit| self.started.elapsed() >= limit)
        {
            return Some(Termination::TimeLimit);
        }
        match self.limits.patience {
            Some(Patience::Iterations(n))
                if iteration.saturating_sub(self.improved_at_iteration) >= n =>
            {
                Some(Termination::Patience)
            }
            Some(Patience::Time(d)) if self.improved_at.elapsed() >= d => {
                Some(Termination::Patience)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_patience_counts_from_the_last_strict_improvement() {
        let mut t = LimitTracker::new(Limits {
            patience: Some(Patience::Iterations(3)),
            time_limit: None,
        });
        t.record(1, Some(5.0));
        t.record(2, Some(4.0));
        assert_eq!(t.reached(2), None);
        t.record(3, Some(4.0)); // equal is no improvement
        t.record(4, Some(4.5));
        assert_eq!(t.reached(4), None);
        t.record(5, Some(4.0));
        assert_eq!(t.reached(5), Some(Termination::Patience));
    }

    #[test]
    fn time_limits_fire_and_zero_settings_are_rejected() {
        let t = LimitTracker::new(Limits {
            patience: None,
            time_limit: Some(Duration::from_nanos(1)),
        });
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(t.reached(0), Some(Termination::TimeLimit));
        assert!(Patience::Iterations(0).validate().is_err());
        assert!(Limits {
            patience: None,
            time_limit: Some(Duration::ZERO)
        }
        .validate()
        .is_err());
    }
}
