//! A built problem: an objective over named parameters, ready to evaluate or optimise.

use crate::{Error, Parallelism, SearchSpace};
use diffid_core::{Objective, OptimisationResult, Optimiser, Outcome, Parameters, TimeSeries};
use diffid_exec::{run, Evaluator, Observer, RayonEvaluator, RunOptions, Sequential};
use diffid_ode::OdeSimulator;
use diffid_optim::NelderMead;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// An objective over named parameters with an evaluation strategy and a default optimiser.
pub struct Problem {
    objective: Arc<dyn Objective>,
    params: Parameters,
    parallelism: Parallelism,
    optimiser: Option<Arc<dyn Optimiser>>,
    evaluator: OnceLock<Result<Arc<dyn Evaluator>, String>>,
    ode: Option<(Arc<OdeSimulator>, TimeSeries)>,
}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problem")
            .field("parameters", &self.params.names())
            .field("parallelism", &self.parallelism)
            .field("optimiser", &self.optimiser)
            .finish_non_exhaustive()
    }
}

impl Problem {
    /// A problem minimising `objective` over `params`.
    pub fn new(
        objective: Arc<dyn Objective>,
        params: Parameters,
        parallelism: Parallelism,
    ) -> Self {
        Self {
            objective,
            params,
            parallelism,
            optimiser: None,
            evaluator: OnceLock::new(),
            ode: None,
        }
    }

    /// Sets the default optimiser.
    #[must_use]
    pub fn with_optimiser(mut self, optimiser: Option<Arc<dyn Optimiser>>) -> Self {
        self.optimiser = optimiser;
        self
    }

    pub(crate) fn with_ode(mut self, simulator: Arc<OdeSimulator>, data: TimeSeries) -> Self {
        self.ode = Some((simulator, data));
        self
    }

    /// Number of fitted parameters.
    pub fn dimension(&self) -> usize {
        self.params.len()
    }

    /// The fitted parameters.
    pub fn parameters(&self) -> &Parameters {
        &self.params
    }

    /// The objective in natural units.
    pub fn objective(&self) -> &Arc<dyn Objective> {
        &self.objective
    }

    /// The evaluation strategy.
    pub fn parallelism(&self) -> Parallelism {
        self.parallelism
    }

    /// The default optimiser, if the builder set one.
    pub fn optimiser(&self) -> Option<&Arc<dyn Optimiser>> {
        self.optimiser.as_ref()
    }

    /// For DiffSL problems: the simulator and the data.
    pub fn ode(&self) -> Option<(&OdeSimulator, &TimeSeries)> {
        self.ode.as_ref().map(|(s, d)| (s.as_ref(), d))
    }

    /// The objective at `x`.
    ///
    /// # Errors
    /// [`Error::Core`] for a wrong length; [`Error::Evaluation`] when the evaluation fails.
    pub fn evaluate(&self, x: &[f64]) -> Result<f64, Error> {
        self.check_len(x, "point")?;
        match self.objective.evaluate(x) {
            Outcome::Value(v) => Ok(v),
            Outcome::Failed(reason) => Err(Error::Evaluation {
                point: x.to_vec(),
                reason,
            }),
        }
    }

    /// The evaluator this problem uses, created once.
    ///
    /// # Errors
    /// [`Error::Exec`] when a thread pool cannot be created.
    pub fn evaluator(&self) -> Result<Arc<dyn Evaluator>, Error> {
        let made = self.evaluator.get_or_init(|| {
            let threads = match self.parallelism {
                Parallelism::Sequential => return Ok(Arc::new(Sequential) as Arc<dyn Evaluator>),
                Parallelism::Threads(n) => n,
                Parallelism::Available => {
                    std::thread::available_parallelism().map_or(1, usize::from)
                }
            };
            RayonEvaluator::new(threads)
                .map(|e| Arc::new(e) as Arc<dyn Evaluator>)
                .map_err(|e| e.to_string())
        });
        made.clone()
            .map_err(|e| Error::Exec(diffid_exec::ExecError::Pool { message: e }))
    }

    /// Minimises the objective from `initial` (default: the parameters' initial values) with
    /// `optimiser` (default: the builder's, else Nelder–Mead with default settings).
    ///
    /// # Errors
    /// Invalid starting points or settings, or a run in which every evaluation failed.
    pub fn optimise(
        &self,
        initial: Option<&[f64]>,
        optimiser: Option<&dyn Optimiser>,
        options: &RunOptions,
    ) -> Result<OptimisationResult, Error> {
        self.optimise_observed(initial, optimiser, options, &mut ())
    }

    /// As [`Problem::optimise`], reporting progress to `observer` after every iteration.
    ///
    /// # Errors
    /// As [`Problem::optimise`].
    pub fn optimise_observed(
        &self,
        initial: Option<&[f64]>,
        optimiser: Option<&dyn Optimiser>,
        options: &RunOptions,
        observer: &mut dyn Observer,
    ) -> Result<OptimisationResult, Error> {
        if self.params.is_empty() {
            return Err(diffid_core::CoreError::NoParameters.into());
        }
        let x0 = initial.map_or_else(|| self.params.initial(), <[f64]>::to_vec);
        self.params.check_point(&x0, "initial vector")?;
        let default = NelderMead::new();
        let optimiser: &dyn Optimiser = optimiser.or(self.optimiser.as_deref()).unwrap_or(&default);
        let space = SearchSpace::new(&self.params);
        let mut state =
            optimiser.init(&space.to_search(&x0), &space.bounds(&self.params.bounds()))?;
        let scaled = space.wrap(self.objective.clone());
        let evaluator = self.evaluator()?;
        let mut result = run(
            state.as_mut(),
            &scaled,
            evaluator.as_ref(),
            options,
            observer,
        )?;
        result.x = space.to_natural(&result.x);
        result.covariance = result.covariance.map(|c| space.covariance_to_natural(&c));
        result.simplex = result.simplex.map(|(vertices, values)| {
            (
                vertices.iter().map(|v| space.to_natural(v)).collect(),
                values,
            )
        });
        Ok(result)
    }

    /// For DiffSL problems: the model's predictions at the data times for parameters `x`,
    /// row-major `times × outputs`.
    ///
    /// # Errors
    /// [`Error::Incomplete`] for a problem without a model; [`Error::Evaluation`] when the solve
    /// fails.
    pub fn simulate(&self, x: &[f64]) -> Result<Vec<f64>, Error> {
        self.check_len(x, "point")?;
        let (sim, data) = self.ode.as_ref().ok_or(Error::Incomplete {
            what: "this problem has no ODE model to simulate",
        })?;
        let mut out = vec![0.0; data.observations().len()];
        sim.solve(x, &mut out).map_err(|e| Error::Evaluation {
            point: x.to_vec(),
            reason: e.to_string(),
        })?;
        Ok(out)
    }

    fn check_len(&self, x: &[f64], what: &'static str) -> Result<(), Error> {
        if x.len() == self.params.len() {
            Ok(())
        } else {
            Err(diffid_core::CoreError::DimensionMismatch {
                what,
                expected: self.params.len(),
                got: x.len(),
            }
            .into())
        }
    }
}
