//! Pieces the gradient-based optimisers share: the one-point ask/tell handshake and the
//! projected gradient.

use diffid_core::{check_gradients, Bounds, GradientOutcome, TellError};

/// The pending one-point gradient ask of a state.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct GradientTrial {
    pub(crate) asked: bool,
    point: Vec<f64>,
}

impl GradientTrial {
    /// Marks `x` as asked and returns it (asking again returns the same point).
    pub(crate) fn ask(&mut self, x: &[f64]) -> Vec<f64> {
        if !self.asked {
            self.point = x.to_vec();
            self.asked = true;
        }
        self.point.clone()
    }

    /// The point last asked for.
    pub(crate) fn point(&self) -> &[f64] {
        &self.point
    }

    /// Checks a tell against the pending ask and returns its one outcome, a gradient of the
    /// wrong length becoming an error (the state is unchanged then) and a non-finite value or
    /// gradient entry a failure.
    pub(crate) fn take(
        &mut self,
        outcomes: &[GradientOutcome],
        dim: usize,
    ) -> Result<GradientOutcome, TellError> {
        if !self.asked {
            return Err(TellError::NothingAsked);
        }
        check_gradients(outcomes, 1, dim)?;
        self.asked = false;
        Ok(match &outcomes[0] {
            GradientOutcome::Value { value, gradient } => {
                GradientOutcome::from_parts(*value, gradient.clone())
            }
            failed @ GradientOutcome::Failed(_) => failed.clone(),
        })
    }
}

/// The largest component of the projected gradient `P(x − g) − x`: zero for components whose
/// descent direction points out of the box at an active bound.
pub(crate) fn projected_gradient_norm(x: &[f64], g: &[f64], bounds: &[Bounds]) -> f64 {
    x.iter()
        .zip(g)
        .zip(bounds)
        .map(|((&xi, &gi), b)| ((xi - gi).clamp(b.lower(), b.upper()) - xi).abs())
        .fold(0.0, f64::max)
}
