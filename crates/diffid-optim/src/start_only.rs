//! The run of an optimiser allowed no iterations (`max_iter == 0`): the start is evaluated
//! once and returned, as the earlier release did.

use diffid_core::{
    check_init, Ask, AskTell, Bounds, CoreError, OptimiserState, Outcome, TellError, Termination,
};

/// The state every optimiser starts when its `max_iter` is 0: it asks for the initial point
/// alone, is told its value, and stops with [`Termination::MaxIterations`] (or
/// [`Termination::Stalled`] when the start failed to evaluate).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StartOnly {
    x: Vec<f64>,
    bounds: Vec<Bounds>,
    /// `None` before the tell; then the outcome.
    told: Option<Outcome>,
    asked: bool,
}

impl StartOnly {
    /// The state at `initial` (already checked against `bounds` by the optimiser's `start`).
    pub fn new(initial: &[f64], bounds: &[Bounds]) -> Self {
        Self {
            x: initial.to_vec(),
            bounds: bounds.to_vec(),
            told: None,
            asked: false,
        }
    }
}

impl AskTell for StartOnly {
    fn ask(&mut self) -> Ask {
        match &self.told {
            None => {
                self.asked = true;
                Ask::Evaluate(vec![self.x.clone()])
            }
            Some(Outcome::Value(_)) => Ask::Done(Termination::MaxIterations),
            Some(Outcome::Failed(reason)) => Ask::Done(Termination::Stalled(format!(
                "max_iter is 0 and the start failed to evaluate: {reason}"
            ))),
        }
    }

    fn tell(&mut self, outcomes: &[Outcome]) -> Result<(), TellError> {
        if self.told.is_some() {
            return Err(TellError::AlreadyTerminated);
        }
        if !self.asked {
            return Err(TellError::NothingAsked);
        }
        match outcomes {
            [o] => {
                self.told = Some(o.clone());
                Ok(())
            }
            _ => Err(TellError::ResultCountMismatch {
                expected: 1,
                received: outcomes.len(),
            }),
        }
    }

    fn iterations(&self) -> usize {
        0
    }

    fn evaluations(&self) -> usize {
        usize::from(self.told.is_some())
    }

    fn failed_evaluations(&self) -> usize {
        usize::from(matches!(self.told, Some(Outcome::Failed(_))))
    }
}

impl OptimiserState for StartOnly {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn best(&self) -> Option<(Vec<f64>, f64)> {
        match self.told {
            Some(Outcome::Value(v)) => Some((self.x.clone(), v)),
            _ => None,
        }
    }

    fn history(&self) -> &[f64] {
        &[]
    }

    fn bounds(&self) -> Option<&[Bounds]> {
        Some(&self.bounds)
    }
}

/// The state `Optimiser::init` returns for `max_iter == 0`, after the same checks of the start.
pub(crate) fn start_only(
    initial: &[f64],
    bounds: &[Bounds],
) -> Result<Box<dyn OptimiserState>, CoreError> {
    check_init(initial, bounds)?;
    Ok(Box::new(StartOnly::new(initial, bounds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_the_start_once_then_stops() {
        let mut s = StartOnly::new(&[1.0, 2.0], &[Bounds::unbounded(); 2]);
        assert_eq!(s.tell(&[Outcome::Value(1.0)]), Err(TellError::NothingAsked));
        assert_eq!(s.ask(), Ask::Evaluate(vec![vec![1.0, 2.0]]));
        assert!(matches!(
            s.tell(&[]),
            Err(TellError::ResultCountMismatch {
                expected: 1,
                received: 0
            })
        ));
        s.tell(&[Outcome::Value(3.5)]).unwrap();
        assert_eq!(s.ask(), Ask::Done(Termination::MaxIterations));
        assert_eq!(s.best(), Some((vec![1.0, 2.0], 3.5)));
        assert_eq!(
            (s.evaluations(), s.failed_evaluations(), s.iterations()),
            (1, 0, 0)
        );
        assert_eq!(
            s.tell(&[Outcome::Value(1.0)]),
            Err(TellError::AlreadyTerminated)
        );
    }

    #[test]
    fn a_failed_start_stalls_with_the_reason() {
        let mut s = StartOnly::new(&[0.0], &[Bounds::unbounded()]);
        s.ask();
        s.tell(&[Outcome::Failed("solver diverged".into())])
            .unwrap();
        match s.ask() {
            Ask::Done(Termination::Stalled(m)) => assert!(m.contains("solver diverged"), "{m}"),
            other => panic!("expected a stall, got {other:?}"),
        }
        assert_eq!(s.best(), None);
        assert_eq!(s.failed_evaluations(), 1);
    }
}
