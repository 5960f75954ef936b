//! A built problem: an objective over named parameters, ready to evaluate or optimise.

use crate::bayes::require_priors;
use crate::checkpoint::{Checkpoint, Saved, Session};
use crate::{Error, Parallelism, SearchSpace};
use diffid_core::{
    Bounds, GradientOutcome, Objective, OptimisationResult, Optimiser, Outcome, Parameters,
    TimeSeries,
};
use diffid_exec::{
    default_threads, drive, evaluate_gradients, evaluate_one_with_gradient, result_of, Delegated,
    Evaluator, Observer, Progress, RayonEvaluator, RunOptions, Sequential,
};
use diffid_ode::OdeSimulator;
use diffid_optim::NelderMead;
use diffid_sample::{
    log_prior, Chains, DynamicNestedSampler, MetropolisHastings, NestedResult, Prior, Sampler,
};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `options` for the rest of a run resumed after `earlier` (its time limit counts from the
/// run's start).
fn continued(options: &RunOptions, earlier: Duration) -> RunOptions {
    options.clone().with_optional_time_limit(
        options
            .time_limit
            .map(|limit| limit.saturating_sub(earlier)),
    )
}

/// An evaluator, or why it could not be made.
type MadeEvaluator = Result<Arc<dyn Evaluator>, String>;

/// An objective over named parameters with an evaluation strategy and a default optimiser.
pub struct Problem {
    objective: Arc<dyn Objective>,
    params: Parameters,
    parallelism: Parallelism,
    optimiser: Option<Arc<dyn Optimiser>>,
    /// The evaluator and the process that made it.
    evaluator: Mutex<Option<(u32, MadeEvaluator)>>,
    ode: Option<(Arc<OdeSimulator>, TimeSeries)>,
    priors: Vec<Option<Prior>>,
    likelihood: Result<(), String>,
    /// Positions of the model's parameters within a point (the rest are noise parameters);
    /// `None` when every coordinate is a model parameter.
    model_index: Option<Vec<usize>>,
    /// Experimental conditions (empty for a problem of one data set).
    conditions: Arc<[Condition]>,
    /// Experiments given as measurement rows, by name.
    experiments: Arc<[Experiment]>,
}

/// An experiment given as measurement rows, by name.
type Experiment = (String, Arc<crate::ExperimentObjective>);

/// One experimental condition of a problem: its simulator (its times, its inputs), its data,
/// and the positions in a point of the simulator's parameters.
#[derive(Clone, Debug)]
pub(crate) struct Condition {
    pub name: String,
    pub simulator: Arc<OdeSimulator>,
    /// Its data as a table (`None` for an experiment given as measurement rows).
    pub data: Option<TimeSeries>,
    pub index: Vec<usize>,
}

/// One run of a multi-start optimisation ([`Problem::optimise_starts`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Start {
    /// Its place in the order the starts were drawn.
    pub index: usize,
    /// Where it started, in natural units.
    pub initial: Vec<f64>,
    /// Its result, or why it has none (e.g. every evaluation failed).
    pub result: Result<OptimisationResult, String>,
}

impl Start {
    /// The best value it reached (`+inf` without a result; NaN is ordered last).
    pub fn value(&self) -> f64 {
        match &self.result {
            Ok(r) if !r.value.is_nan() => r.value,
            _ => f64::INFINITY,
        }
    }
}

/// Every start of a multi-start optimisation, best first.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MultiStart {
    /// The runs, sorted by their best value (failed runs last; ties by start index).
    pub starts: Vec<Start>,
    /// Wall-clock time of the whole multi-start run.
    pub time: Duration,
}

impl MultiStart {
    /// The best run's result (`None` when every run failed).
    pub fn best(&self) -> Option<&OptimisationResult> {
        self.starts.first().and_then(|s| s.result.as_ref().ok())
    }

    /// How many runs ended within `tolerance` of the best value (the field's "converged
    /// starts"; the best run counts).
    pub fn converged(&self, tolerance: f64) -> usize {
        let Some(best) = self.best().map(|r| r.value) else {
            return 0;
        };
        self.starts
            .iter()
            .filter(|s| s.value() <= best + tolerance)
            .count()
    }
}

/// What a sampling run produced.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SamplingResult {
    /// The draws, in natural units.
    pub chains: Chains,
    /// Why the run ended ([`Termination::Completed`](diffid_core::Termination::Completed)
    /// unless it was stopped early).
    pub termination: diffid_core::Termination,
    /// Wall-clock time.
    pub time: std::time::Duration,
    /// Likelihood evaluations made, failed ones included.
    pub evaluations: usize,
    /// Evaluations that failed (each a rejected proposal).
    pub failed_evaluations: usize,
    /// Iterations completed, warm-up included.
    pub iterations: usize,
}

impl SamplingResult {
    /// What `state` produced, stopped for `termination` after `time`.
    pub fn from_state(
        state: &(impl diffid_sample::SamplerState + ?Sized),
        termination: diffid_core::Termination,
        time: std::time::Duration,
    ) -> Self {
        Self {
            chains: state.chains().clone(),
            termination,
            time,
            evaluations: state.evaluations(),
            failed_evaluations: state.failed_evaluations(),
            iterations: state.iterations(),
        }
    }
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
            evaluator: Mutex::new(None),
            ode: None,
            priors: Vec::new(),
            likelihood: Ok(()),
            model_index: None,
            conditions: Arc::from(Vec::new()),
            experiments: Arc::from(Vec::new()),
        }
    }

    /// Sets the parameters' priors (one entry per parameter; `None` where a parameter has
    /// neither a prior nor finite bounds).
    #[must_use]
    pub fn with_priors(mut self, priors: Vec<Option<Prior>>) -> Self {
        self.priors = priors;
        self
    }

    /// Declares whether the objective is a negative log-likelihood (`Err` says why not and
    /// what to use). A problem is assumed to be one unless told otherwise.
    #[must_use]
    pub fn with_likelihood(mut self, likelihood: Result<(), String>) -> Self {
        self.likelihood = likelihood;
        self
    }

    /// Declares which coordinates of a point are the model's parameters (the rest are noise
    /// parameters of the cost).
    #[must_use]
    pub fn with_model_index(mut self, model_index: Vec<usize>) -> Self {
        let identity = model_index.len() == self.params.len()
            && model_index.iter().enumerate().all(|(i, &j)| i == j);
        self.model_index = (!identity).then_some(model_index);
        self
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

    /// A problem of several conditions: `(name, simulator, data, positions of the
    /// simulator's parameters in a point)`; the first also serves [`Problem::ode`].
    pub(crate) fn with_conditions(mut self, conditions: Vec<Condition>) -> Self {
        self.ode = conditions
            .first()
            .and_then(|c| c.data.as_ref().map(|d| (c.simulator.clone(), d.clone())));
        self.conditions = conditions.into();
        self
    }

    pub(crate) fn with_experiments(mut self, experiments: Vec<Experiment>) -> Self {
        self.experiments = experiments.into();
        self
    }

    /// For a problem of experiments given as measurement rows: every experiment's
    /// predictions at `x`, one per measurement in the order given, by experiment.
    ///
    /// # Errors
    /// [`Error::Incomplete`] for another kind of problem; [`Error::Evaluation`] when a solve
    /// fails (naming the experiment).
    pub fn simulate_measurements(&self, x: &[f64]) -> Result<Vec<(String, Vec<f64>)>, Error> {
        self.check_len(x, "point")?;
        if self.experiments.is_empty() {
            return Err(Error::Incomplete {
                what: "this problem has no experiments given as measurements (with_experiment)",
            });
        }
        self.experiments
            .iter()
            .map(|(name, e)| {
                e.predictions(x)
                    .map(|p| (name.clone(), p))
                    .map_err(|reason| Error::Evaluation {
                        point: x.to_vec(),
                        reason: format!("experiment '{name}': {reason}"),
                    })
            })
            .collect()
    }

    /// The names of the experimental conditions, in the order given (empty for a problem of
    /// one data set).
    pub fn conditions(&self) -> Vec<&str> {
        self.conditions.iter().map(|c| c.name.as_str()).collect()
    }

    /// Every condition's simulator (for a problem of one data set, its simulator).
    pub fn simulators(&self) -> Vec<&OdeSimulator> {
        if self.conditions.is_empty() {
            self.ode.iter().map(|(s, _)| s.as_ref()).collect()
        } else {
            self.conditions
                .iter()
                .map(|c| c.simulator.as_ref())
                .collect()
        }
    }

    /// For a problem of several conditions: condition `name`'s outputs for parameters `x` at
    /// its data times (`times = None`; an experiment's distinct measurement times) or at
    /// `times`, row-major `times × outputs`; also the number of rows.
    ///
    /// # Errors
    /// [`Error::Condition`] for an unknown name (listing the known ones); as
    /// [`Problem::simulate_at`].
    pub fn simulate_condition(
        &self,
        name: &str,
        x: &[f64],
        times: Option<&[f64]>,
    ) -> Result<(Vec<f64>, usize), Error> {
        self.check_len(x, "point")?;
        let c = self.condition(name)?;
        let sim = match times {
            Some(t) => std::borrow::Cow::Owned(c.simulator.with_times(t.to_vec())?),
            None => std::borrow::Cow::Borrowed(c.simulator.as_ref()),
        };
        let params: Vec<f64> = c.index.iter().map(|&i| x[i]).collect();
        let mut out = vec![0.0; sim.times().len() * sim.model().n_outputs()];
        sim.solve(&params, &mut out)
            .map_err(|e| Error::Evaluation {
                point: x.to_vec(),
                reason: format!("condition '{name}': {e}"),
            })?;
        Ok((out, sim.times().len()))
    }

    /// The data of condition `name`, or, with `None`, of the problem's only data set or
    /// condition (`None` for a problem without an ODE model).
    ///
    /// # Errors
    /// [`Error::Condition`] for an unknown name, or for `None` when there are several
    /// conditions.
    pub fn condition_data(&self, name: Option<&str>) -> Result<Option<&TimeSeries>, Error> {
        let name = match name {
            Some(n) => Some(n),
            None => self.sole_condition()?,
        };
        let Some(name) = name else {
            return Ok(self.ode.as_ref().map(|(_, d)| d));
        };
        self.condition(name).map(|c| c.data.as_ref())
    }

    /// Condition `name`.
    fn condition(&self, name: &str) -> Result<&Condition, Error> {
        self.conditions
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::Condition {
                condition: name.to_owned(),
                reason: format!(
                    "no such condition; the problem's conditions are [{}]",
                    self.conditions().join(", ")
                ),
            })
    }

    /// The one condition to simulate when none is named.
    fn sole_condition(&self) -> Result<Option<&str>, Error> {
        match self.conditions.len() {
            0 => Ok(None),
            1 => Ok(Some(self.conditions[0].name.as_str())),
            n => Err(Error::Condition {
                condition: String::new(),
                reason: format!(
                    "the problem has {n} conditions [{}]; name the one to simulate",
                    self.conditions().join(", ")
                ),
            }),
        }
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

    /// The gradient of the objective at `x`, in natural units: exact where the objective has
    /// a gradient of its own (forward sensitivities for DiffSL models, the user's gradient for
    /// callables), otherwise second-order finite differences taken in the search space (steps
    /// relative to each parameter's scale, never leaving the bounds). `x` must lie within the
    /// bounds.
    ///
    /// # Errors
    /// [`Error::Core`] for a wrong length or a point outside the bounds;
    /// [`Error::Evaluation`] when the evaluation fails.
    pub fn evaluate_gradient(&self, x: &[f64]) -> Result<Vec<f64>, Error> {
        self.value_and_gradient(x).map(|(_, g)| g)
    }

    /// The value and the gradient at `x` (see [`evaluate_gradient`](Self::evaluate_gradient)).
    ///
    /// # Errors
    /// As [`evaluate_gradient`](Self::evaluate_gradient).
    pub fn value_and_gradient(&self, x: &[f64]) -> Result<(f64, Vec<f64>), Error> {
        self.params.check_inside(x, "the gradient's point")?;
        let outcome = if self.objective.has_gradient() {
            evaluate_one_with_gradient(self.objective.as_ref(), x)
        } else {
            // Finite differences in the search space (steps relative to each parameter's
            // scale, inside the bounds), then the chain rule's factor divided out.
            let space = SearchSpace::new(&self.params);
            let z = space.to_search(x);
            let scaled = space.wrap(self.objective.clone());
            let (mut outcomes, _) = evaluate_gradients(
                &Sequential,
                &scaled,
                std::slice::from_ref(&z),
                Some(&space.bounds()),
            );
            match outcomes.pop() {
                Some(GradientOutcome::Value { value, gradient }) => {
                    let d = space.derivatives(&z);
                    GradientOutcome::from_parts(
                        value,
                        gradient.iter().zip(d).map(|(g, d)| g / d).collect(),
                    )
                }
                Some(failed) => failed,
                None => unreachable!("one point asked, one outcome"),
            }
        };
        match outcome {
            GradientOutcome::Value { value, gradient } => Ok((value, gradient)),
            GradientOutcome::Failed(reason) => Err(Error::Evaluation {
                point: x.to_vec(),
                reason,
            }),
        }
    }

    /// Whether [`evaluate_gradient`](Self::evaluate_gradient) is exact (not finite
    /// differences).
    pub fn has_exact_gradient(&self) -> bool {
        self.objective.has_gradient()
    }

    /// The evaluator this problem uses, created once per process: a problem inherited by a
    /// forked process (whose copy of the parent's pool has no threads) makes its own there
    /// rather than wait on threads that do not exist.
    ///
    /// # Errors
    /// [`Error::Exec`] when a thread pool cannot be created.
    pub fn evaluator(&self) -> Result<Arc<dyn Evaluator>, Error> {
        let pid = std::process::id();
        let mut slot = self
            .evaluator
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let made = match &*slot {
            Some((owner, made)) if *owner == pid => made.clone(),
            _ => {
                let made = self.make_evaluator();
                *slot = Some((pid, made.clone()));
                made
            }
        };
        made.map_err(|e| Error::Exec(diffid_exec::ExecError::Pool { message: e }))
    }

    fn make_evaluator(&self) -> MadeEvaluator {
        let threads = match self.parallelism {
            Parallelism::Sequential => return Ok(Arc::new(Sequential) as Arc<dyn Evaluator>),
            Parallelism::Delegated => return Ok(Arc::new(Delegated) as Arc<dyn Evaluator>),
            Parallelism::Threads(n) => n,
            Parallelism::Available => default_threads().map_err(|e| e.to_string())?,
        };
        RayonEvaluator::new(threads)
            .map(|e| Arc::new(e) as Arc<dyn Evaluator>)
            .map_err(|e| e.to_string())
    }

    /// Evaluates the objective at every point on this problem's evaluator, in order (a failed
    /// evaluation is an [`Outcome::Failed`] at its place).
    ///
    /// # Errors
    /// [`Error::Exec`] when a thread pool cannot be created.
    pub fn evaluate_batch(&self, points: &[Vec<f64>]) -> Result<Vec<Outcome>, Error> {
        Ok(self
            .evaluator()?
            .evaluate_batch(self.objective.as_ref(), points))
    }

    /// The same problem (parameters, priors, model, default optimiser) evaluated through
    /// `objective`, which must compute the same function (a proxy that evaluates elsewhere),
    /// with `parallelism`.
    #[must_use]
    pub fn with_objective(&self, objective: Arc<dyn Objective>, parallelism: Parallelism) -> Self {
        Self {
            objective,
            params: self.params.clone(),
            parallelism,
            optimiser: self.optimiser.clone(),
            evaluator: Mutex::new(None),
            ode: self.ode.clone(),
            priors: self.priors.clone(),
            likelihood: self.likelihood.clone(),
            model_index: self.model_index.clone(),
            conditions: self.conditions.clone(),
            experiments: self.experiments.clone(),
        }
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
        self.optimise_checkpointed(initial, optimiser, options, observer, None)
    }

    /// As [`Problem::optimise_observed`], saving the optimiser's state to `checkpoint` every so
    /// often and, when it says so, resuming from it: a resumed run gives the result of the
    /// uninterrupted run, bit for bit (only `time` differs).
    ///
    /// # Errors
    /// As [`Problem::optimise`]; [`Error::Checkpoint`] for a checkpoint that cannot be
    /// written, read or used (another problem's, another optimiser's, damaged).
    pub fn optimise_checkpointed(
        &self,
        initial: Option<&[f64]>,
        optimiser: Option<&dyn Optimiser>,
        options: &RunOptions,
        observer: &mut dyn Observer,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<OptimisationResult, Error> {
        self.optimise_on(initial, optimiser, options, observer, checkpoint, None)
    }

    /// The run behind [`Problem::optimise_checkpointed`], on `evaluator` (`None`: the
    /// problem's own).
    fn optimise_on(
        &self,
        initial: Option<&[f64]>,
        optimiser: Option<&dyn Optimiser>,
        options: &RunOptions,
        observer: &mut dyn Observer,
        checkpoint: Option<&Checkpoint>,
        evaluator: Option<&dyn Evaluator>,
    ) -> Result<OptimisationResult, Error> {
        if self.params.is_empty() {
            return Err(diffid_core::CoreError::NoParameters.into());
        }
        let x0 = initial.map_or_else(|| self.params.initial(), <[f64]>::to_vec);
        self.params.check_point(&x0, "initial vector")?;
        let default = NelderMead::new();
        let optimiser: &dyn Optimiser = optimiser.or(self.optimiser.as_deref()).unwrap_or(&default);
        let space = SearchSpace::new(&self.params);
        let z0 = space.to_search(&x0);
        if let Some((p, &v)) = self
            .params
            .iter()
            .zip(&x0)
            .zip(&z0)
            .find_map(|((p, v), z)| (!z.is_finite()).then_some((p, v)))
        {
            return Err(diffid_core::CoreError::InvalidTransform {
                name: p.name().to_owned(),
                transform: p.transform().name(),
                reason: format!(
                    "the initial value {v} maps to infinity in the search space; start strictly inside the bounds"
                ),
            }
            .into());
        }
        // The run's time counts from before the optimiser's state (and its limit tracker)
        // exists, so a run its own time limit stopped never reports less than that limit.
        let began = std::time::Instant::now();
        let (session, resumed) = Session::start(
            checkpoint,
            || format!("optimise|{optimiser:?}|{:?}|{x0:?}", self.params),
            "an optimiser",
            Saved::into_optimiser,
        )?;
        let mut state = match resumed {
            Some(state) => state,
            None => optimiser.init(&z0, &space.bounds())?,
        };
        let scaled = space.wrap(self.objective.clone());
        let own;
        let evaluator: &dyn Evaluator = if let Some(e) = evaluator {
            e
        } else {
            own = self.evaluator()?;
            own.as_ref()
        };
        let earlier = session.earlier;
        let options = continued(options, earlier);
        // The observer sees natural units, like the result; a failed save stops the run.
        let mut natural = session.watch(observer, |q: &mut Progress| {
            q.best_x = q.best_x.take().map(|z| space.to_natural(&z));
        });
        let bounds = state.bounds().map(<[Bounds]>::to_vec);
        let ended = drive(
            state.as_mut(),
            &scaled,
            evaluator,
            &options,
            &mut natural,
            bounds.as_deref(),
            |s, p| {
                if let Some((x, v)) = s.best() {
                    p.best_value = Some(v);
                    p.best_x = Some(x);
                }
                session.save(p.elapsed, || Saved::of_optimiser(s));
            },
        )?;
        let time = began.elapsed().max(ended.time);
        session.finish(time, || Saved::of_optimiser(state.as_ref()))?;
        let mut result = result_of(
            state.as_ref(),
            ended.termination,
            earlier + time,
            ended.last_failure,
        )?;
        let z_best = result.x.clone();
        result.x = space.to_natural(&z_best);
        result.covariance = result
            .covariance
            .map(|c| space.covariance_to_natural(&c, &z_best));
        result.simplex = result.simplex.map(|(vertices, values)| {
            (
                vertices.iter().map(|v| space.to_natural(v)).collect(),
                values,
            )
        });
        Ok(result)
    }

    /// Multi-start optimisation: `starts` runs of `optimiser` (default as in
    /// [`Problem::optimise`]), each from a point drawn at random within the bounds — uniformly
    /// in the search space, so log-uniformly for a log-transformed parameter, and uniformly in
    /// natural units where the search space is unbounded (a logit transform) — seeded by
    /// `seed`. The runs are spread over the problem's threads, one run per thread at a time
    /// (each run evaluates sequentially on its thread), so the result is the same at any
    /// thread count. `on_done` is called as each run ends (from the thread that ran it).
    /// Every start is kept, best first; `options` (time limit, cancellation) apply to each
    /// run.
    ///
    /// # Errors
    /// [`Error::MultiStart`] for `starts == 0` or a parameter without finite bounds to draw
    /// from; [`diffid_core::CoreError::NoParameters`].
    pub fn optimise_starts(
        &self,
        starts: usize,
        seed: u64,
        optimiser: Option<&dyn Optimiser>,
        options: &RunOptions,
        on_done: &(dyn Fn(&Start) + Sync),
    ) -> Result<MultiStart, Error> {
        use rand::{Rng, SeedableRng};
        if self.params.is_empty() {
            return Err(diffid_core::CoreError::NoParameters.into());
        }
        if starts == 0 {
            return Err(Error::MultiStart {
                reason: "starts must be at least 1".to_owned(),
            });
        }
        for p in self.params.iter() {
            if !p.bounds().is_finite() {
                return Err(Error::MultiStart {
                    reason: format!(
                        "parameter '{}' has no finite bounds to draw starts from; give it bounds=(lower, upper)",
                        p.name()
                    ),
                });
            }
        }
        let began = std::time::Instant::now();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        // A uniform draw in the open interval (0, 1): never a bound, where a transform is
        // infinite.
        let mut open = || loop {
            let u: f64 = rng.random();
            if u > 0.0 {
                return u;
            }
        };
        let points: Vec<Vec<f64>> = (0..starts)
            .map(|_| {
                self.params
                    .iter()
                    .map(|p| {
                        let sb = p.search_bounds();
                        if sb.is_finite() {
                            let z = sb.lower() + open() * (sb.upper() - sb.lower());
                            p.to_natural(z)
                                .clamp(p.bounds().lower(), p.bounds().upper())
                        } else {
                            let b = p.bounds();
                            b.lower() + open() * (b.upper() - b.lower())
                        }
                    })
                    .collect()
            })
            .collect();
        let slots: Vec<std::sync::OnceLock<Start>> =
            (0..starts).map(|_| std::sync::OnceLock::new()).collect();
        let delegated = matches!(self.parallelism, Parallelism::Delegated);
        let own = if delegated {
            Some(self.evaluator()?)
        } else {
            None
        };
        let task = |i: usize| {
            let on: &dyn Evaluator = own.as_deref().unwrap_or(&Sequential);
            let result = self
                .optimise_on(
                    Some(&points[i]),
                    optimiser,
                    options,
                    &mut (),
                    None,
                    Some(on),
                )
                .map_err(|e| e.to_string());
            let start = Start {
                index: i,
                initial: points[i].clone(),
                result,
            };
            on_done(&start);
            let _ = slots[i].set(start);
        };
        if delegated {
            // The executor parallelises each run's batches; the runs go one after another.
            (0..starts).for_each(task);
        } else {
            self.evaluator()?.run_each(starts, &task);
        }
        let mut all: Vec<Start> = slots
            .into_iter()
            .filter_map(std::sync::OnceLock::into_inner)
            .collect();
        all.sort_by(|a, b| a.value().total_cmp(&b.value()).then(a.index.cmp(&b.index)));
        Ok(MultiStart {
            starts: all,
            time: began.elapsed(),
        })
    }

    /// The parameters' priors (`None` where a parameter has neither a prior nor finite
    /// bounds).
    pub fn priors(&self) -> Vec<Option<Prior>> {
        if self.priors.len() == self.params.len() {
            self.priors.clone()
        } else {
            // Problems built without priors: uniform on finite bounds.
            self.params
                .iter()
                .map(|p| crate::bayes::resolve_prior(p, None).ok().flatten())
                .collect()
        }
    }

    /// Every parameter's prior, as sampling needs them.
    ///
    /// # Errors
    /// [`Error::NoPrior`] naming a parameter with neither a prior nor finite bounds.
    pub fn require_priors(&self) -> Result<Vec<Prior>, Error> {
        require_priors(&self.params, &self.priors())
    }

    /// Whether the objective is a negative log-likelihood.
    ///
    /// # Errors
    /// Why it is not.
    pub fn likelihood(&self) -> Result<(), &str> {
        self.likelihood.as_ref().copied().map_err(String::as_str)
    }

    /// The log-prior density at `x` (`-inf` outside the prior's support).
    ///
    /// # Errors
    /// [`Error::Core`] for a wrong length; [`Error::NoPrior`] as
    /// [`require_priors`](Self::require_priors).
    pub fn log_prior(&self, x: &[f64]) -> Result<f64, Error> {
        self.check_len(x, "point")?;
        Ok(log_prior(&self.require_priors()?, x))
    }

    /// The log-likelihood at `x`: minus the objective.
    ///
    /// # Errors
    /// [`Error::NotALikelihood`] when the cost is not a likelihood; as
    /// [`evaluate`](Self::evaluate).
    pub fn log_likelihood(&self, x: &[f64]) -> Result<f64, Error> {
        self.check_likelihood()?;
        Ok(-self.evaluate(x)?)
    }

    /// The unnormalised log-posterior at `x`: log-likelihood plus log-prior (`-inf` outside
    /// the prior's support, where the likelihood is not evaluated).
    ///
    /// # Errors
    /// As [`log_prior`](Self::log_prior) and [`log_likelihood`](Self::log_likelihood).
    pub fn log_posterior(&self, x: &[f64]) -> Result<f64, Error> {
        self.check_likelihood()?;
        let lp = self.log_prior(x)?;
        if lp == f64::NEG_INFINITY {
            return Ok(lp);
        }
        Ok(lp + self.log_likelihood(x)?)
    }

    /// What every sampler starts from: the priors and the start point, checked.
    fn sampling_start(&self, initial: Option<&[f64]>) -> Result<(Vec<Prior>, Vec<f64>), Error> {
        if self.params.is_empty() {
            return Err(diffid_core::CoreError::NoParameters.into());
        }
        self.check_likelihood()?;
        let priors = self.require_priors()?;
        let x0 = initial.map_or_else(|| self.params.initial(), <[f64]>::to_vec);
        self.check_len(&x0, "initial vector")?;
        Ok((priors, x0))
    }

    fn check_likelihood(&self) -> Result<(), Error> {
        self.likelihood
            .clone()
            .map_err(|reason| Error::NotALikelihood { reason })
    }

    /// Samples the posterior from `initial` (default: the parameters' initial values) with
    /// `sampler` (default: [`MetropolisHastings`] with its default settings). The objective
    /// is the negative log-likelihood; the priors are the parameters'.
    ///
    /// # Errors
    /// [`Error::NotALikelihood`], [`Error::NoPrior`], invalid starts or settings
    /// ([`Error::Sample`]), or [`Error::Evaluation`] when the likelihood fails at the initial
    /// point.
    pub fn sample(
        &self,
        initial: Option<&[f64]>,
        sampler: Option<&dyn Sampler>,
        options: &RunOptions,
    ) -> Result<SamplingResult, Error> {
        self.sample_observed(initial, sampler, options, &mut ())
    }

    /// As [`Problem::sample`], reporting progress to `observer` after every batch.
    ///
    /// # Errors
    /// As [`Problem::sample`].
    pub fn sample_observed(
        &self,
        initial: Option<&[f64]>,
        sampler: Option<&dyn Sampler>,
        options: &RunOptions,
        observer: &mut dyn Observer,
    ) -> Result<SamplingResult, Error> {
        self.sample_checkpointed(initial, sampler, options, observer, None)
    }

    /// As [`Problem::sample_observed`], with a checkpoint (see
    /// [`Problem::optimise_checkpointed`]).
    ///
    /// # Errors
    /// As [`Problem::sample`]; [`Error::Checkpoint`] as for
    /// [`Problem::optimise_checkpointed`].
    pub fn sample_checkpointed(
        &self,
        initial: Option<&[f64]>,
        sampler: Option<&dyn Sampler>,
        options: &RunOptions,
        observer: &mut dyn Observer,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<SamplingResult, Error> {
        let (priors, x0) = self.sampling_start(initial)?;
        let default = MetropolisHastings::new();
        let sampler: &dyn Sampler = sampler.unwrap_or(&default);
        let (session, resumed) = Session::start(
            checkpoint,
            || format!("sample|{sampler:?}|{:?}|{priors:?}|{x0:?}", self.params),
            "an MCMC sampler",
            Saved::into_sampler,
        )?;
        let mut state = match resumed {
            Some(state) => state,
            None => sampler.init(&x0, &priors)?,
        };
        let evaluator = self.evaluator()?;
        let earlier = session.earlier;
        let options = continued(options, earlier);
        let mut observe = session.watch(observer, |_: &mut Progress| {});
        let ended = drive(
            state.as_mut(),
            self.objective.as_ref(),
            evaluator.as_ref(),
            &options,
            &mut observe,
            None,
            |s, p| {
                p.acceptance_rate = Some(s.acceptance_rate());
                session.save(p.elapsed, || Saved::of_sampler(s));
            },
        )?;
        session.finish(ended.time, || Saved::of_sampler(state.as_ref()))?;
        if let Some((point, reason)) = state.start_failure() {
            return Err(Error::Evaluation { point, reason });
        }
        Ok(SamplingResult::from_state(
            state.as_ref(),
            ended.termination,
            earlier + ended.time,
        ))
    }

    /// Nested sampling of the posterior and the evidence with `sampler`. `initial` (default:
    /// the parameters' initial values) is only checked against the priors.
    ///
    /// # Errors
    /// As [`Problem::sample`]; [`Error::NoLikelihoodMass`] when the likelihood fails (or is
    /// `-inf`) at every initial point drawn from the prior.
    pub fn nested_sample_observed(
        &self,
        initial: Option<&[f64]>,
        sampler: &DynamicNestedSampler,
        options: &RunOptions,
        observer: &mut dyn Observer,
    ) -> Result<NestedResult, Error> {
        self.nested_sample_checkpointed(initial, sampler, options, observer, None)
    }

    /// As [`Problem::nested_sample_observed`], with a checkpoint (see
    /// [`Problem::optimise_checkpointed`]).
    ///
    /// # Errors
    /// As [`Problem::nested_sample_observed`]; [`Error::Checkpoint`] as for
    /// [`Problem::optimise_checkpointed`].
    pub fn nested_sample_checkpointed(
        &self,
        initial: Option<&[f64]>,
        sampler: &DynamicNestedSampler,
        options: &RunOptions,
        observer: &mut dyn Observer,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<NestedResult, Error> {
        let (priors, x0) = self.sampling_start(initial)?;
        let (session, resumed) = Session::start(
            checkpoint,
            || format!("nested|{sampler:?}|{:?}|{priors:?}|{x0:?}", self.params),
            "a nested-sampling",
            Saved::into_nested,
        )?;
        let mut state = match resumed {
            Some(state) => state,
            None => sampler.start(&x0, &priors)?,
        };
        let evaluator = self.evaluator()?;
        let earlier = session.earlier;
        let options = continued(options, earlier);
        let mut observe = session.watch(observer, |_: &mut Progress| {});
        let ended = drive(
            &mut state,
            self.objective.as_ref(),
            evaluator.as_ref(),
            &options,
            &mut observe,
            None,
            |s, p| {
                session.save(p.elapsed, || Some(Saved::Nested(Box::new(s.clone()))));
            },
        )?;
        session.finish(ended.time, || Some(Saved::Nested(Box::new(state.clone()))))?;
        if state.failed_everywhere() {
            return Err(Error::NoLikelihoodMass {
                points: sampler.live_points(),
            });
        }
        Ok(NestedResult::of(
            &state,
            ended.termination,
            earlier + ended.time,
        ))
    }

    /// The model's parameters within a full point (noise parameters dropped).
    pub fn model_parameters(&self, x: &[f64]) -> Vec<f64> {
        match &self.model_index {
            None => x.to_vec(),
            Some(index) => index.iter().map(|&i| x[i]).collect(),
        }
    }

    /// For DiffSL problems: the model's predictions at the data times for parameters `x`,
    /// row-major `times × outputs`.
    ///
    /// # Errors
    /// [`Error::Incomplete`] for a problem without a model; [`Error::Evaluation`] when the solve
    /// fails.
    pub fn simulate(&self, x: &[f64]) -> Result<Vec<f64>, Error> {
        self.check_len(x, "point")?;
        if let Some(name) = self.sole_condition()? {
            return self.simulate_condition(name, x, None).map(|(y, _)| y);
        }
        let (sim, data) = self.ode.as_ref().ok_or(Error::Incomplete {
            what: "this problem has no ODE model to simulate",
        })?;
        let mut out = vec![0.0; data.observations().len()];
        sim.solve(&self.model_parameters(x), &mut out)
            .map_err(|e| Error::Evaluation {
                point: x.to_vec(),
                reason: e.to_string(),
            })?;
        Ok(out)
    }

    /// For DiffSL problems: the model's outputs for parameters `x` at any `times` (increasing,
    /// not before the model's start), by the solver's dense output; row-major
    /// `times × outputs`.
    ///
    /// # Errors
    /// As [`Problem::simulate`]; [`Error::Ode`] for times before the start, not finite or not
    /// increasing.
    pub fn simulate_at(&self, x: &[f64], times: &[f64]) -> Result<Vec<f64>, Error> {
        self.check_len(x, "point")?;
        if let Some(name) = self.sole_condition()? {
            return self
                .simulate_condition(name, x, Some(times))
                .map(|(y, _)| y);
        }
        let (sim, _) = self.ode.as_ref().ok_or(Error::Incomplete {
            what: "this problem has no ODE model to simulate",
        })?;
        let sim = sim.with_times(times.to_vec())?;
        let mut out = vec![0.0; times.len() * sim.model().n_outputs()];
        sim.solve(&self.model_parameters(x), &mut out)
            .map_err(|e| Error::Evaluation {
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
