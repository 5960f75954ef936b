//! Doses and breakpoints: what happens to a solve at known times.
//!
//! A [`Dose`] adds an amount to one state at a known time (a bolus). A breakpoint is a known
//! time at which the right-hand side changes discontinuously (an input written with
//! `heaviside(t - t_s)`, an infusion that stops). The integration is stopped exactly at each
//! such time — never stepped over — the dose is added, the state's derivative is computed
//! afresh, and the method restarts from there (BDF from first order). Sensitivities carry
//! across the jump unchanged: a bolus of a fixed amount at a fixed time adds a constant, whose
//! derivative with respect to every parameter is zero.
//!
//! **Convention at a dose time:** a prediction at the exact time of a dose is the state just
//! *before* the dose (the trough, as a sample drawn before the dose is given); the dose shows
//! from the first time after it. A dose at the start time therefore shows from the first time
//! after the start.

use crate::OdeError;

/// A bolus: `amount` added to state `state` at `time`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Dose {
    /// When it is given.
    pub time: f64,
    /// The state it is added to (a name in `u_i`).
    pub state: String,
    /// How much is added (in the state's units).
    pub amount: f64,
}

impl Dose {
    /// A dose of `amount` into `state` at `time`.
    pub fn new(time: f64, state: impl Into<String>, amount: f64) -> Self {
        Self {
            time,
            state: state.into(),
            amount,
        }
    }

    /// `count` doses of `amount` into `state`, the first at `first` and then every
    /// `interval`: a repeated dosing schedule.
    pub fn repeated(
        state: impl Into<String>,
        amount: f64,
        first: f64,
        interval: f64,
        count: usize,
    ) -> Vec<Self> {
        let state = state.into();
        (0..count)
            .map(|k| Self::new(first + k as f64 * interval, state.clone(), amount))
            .collect()
    }
}

/// One stop of the integration: the jumps it applies to the state (none at a breakpoint).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Event {
    pub time: f64,
    /// `(state index, amount)`; several doses at one time are applied together.
    pub jumps: Vec<(usize, f64)>,
}

/// The doses and breakpoints of a simulator, checked, and the stops they make.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Schedule {
    pub doses: Vec<Dose>,
    pub breakpoints: Vec<f64>,
    /// Sorted by time, one per distinct time.
    pub events: Vec<Event>,
}

impl Schedule {
    /// Checks `doses` and `breakpoints` against the model's `states`, the start `t0` and the
    /// last output time `end` (`None`: no horizon check), and merges them into stops.
    pub fn new(
        doses: Vec<Dose>,
        breakpoints: Vec<f64>,
        states: &[String],
        has_mass: bool,
        t0: f64,
        end: Option<f64>,
    ) -> Result<Self, OdeError> {
        if has_mass && !(doses.is_empty() && breakpoints.is_empty()) {
            return Err(OdeError::Schedule {
                reason: "doses and breakpoints are not supported for models with a mass \
                         matrix (M_i): restarting a differential-algebraic system needs a \
                         consistent re-initialisation"
                    .to_owned(),
            });
        }
        let check_time = |what: String, time: f64| -> Result<(), OdeError> {
            let reason = if !time.is_finite() {
                format!("{what} is at t = {time}; times must be finite")
            } else if time < t0 {
                format!("{what} is at t = {time}, before the model's start time {t0}")
            } else if let Some(end) = end.filter(|&e| time > e) {
                format!(
                    "{what} is at t = {time}, after the last output time {end}; it would never act"
                )
            } else {
                return Ok(());
            };
            Err(OdeError::Schedule { reason })
        };
        let mut events: Vec<Event> = Vec::new();
        for (k, d) in doses.iter().enumerate() {
            let what = format!("dose {k} (into '{}')", d.state);
            check_time(what.clone(), d.time)?;
            let index = states.iter().position(|s| *s == d.state).ok_or_else(|| {
                OdeError::UnknownState {
                    name: d.state.clone(),
                    known: states.to_vec(),
                }
            })?;
            if !d.amount.is_finite() {
                return Err(OdeError::Schedule {
                    reason: format!("{what} has amount {}; it must be finite", d.amount),
                });
            }
            events.push(Event {
                time: d.time,
                jumps: vec![(index, d.amount)],
            });
        }
        for (k, &b) in breakpoints.iter().enumerate() {
            check_time(format!("breakpoint {k}"), b)?;
            events.push(Event {
                time: b,
                jumps: Vec::new(),
            });
        }
        // Stable: doses at one time are applied in the order given.
        events.sort_by(|a, b| a.time.total_cmp(&b.time));
        let mut merged: Vec<Event> = Vec::with_capacity(events.len());
        for e in events {
            match merged.last_mut() {
                Some(last) if last.time == e.time => last.jumps.extend(e.jumps),
                _ => merged.push(e),
            }
        }
        Ok(Self {
            doses,
            breakpoints,
            events: merged,
        })
    }

    /// The same doses and breakpoints checked against a new start and horizon.
    pub fn recheck(
        &self,
        states: &[String],
        has_mass: bool,
        t0: f64,
        end: Option<f64>,
    ) -> Result<Self, OdeError> {
        Self::new(
            self.doses.clone(),
            self.breakpoints.clone(),
            states,
            has_mass,
            t0,
            end,
        )
    }
}

/// Checks that a schedule's times increase strictly (a dosing schedule given as a list).
///
/// # Errors
/// [`OdeError::Schedule`] naming the first time that does not.
pub fn check_increasing(what: &str, times: &[f64]) -> Result<(), OdeError> {
    match (1..times.len()).find(|&i| times[i].is_nan() || times[i] <= times[i - 1]) {
        None => Ok(()),
        Some(i) => Err(OdeError::Schedule {
            reason: format!(
                "{what} times must increase: time {i} ({}) is not after time {} ({})",
                times[i],
                i - 1,
                times[i - 1]
            ),
        }),
    }
}
