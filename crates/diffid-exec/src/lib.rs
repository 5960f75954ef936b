//! The one run loop and the batch evaluators.
//!
//! - [`Evaluator`]: evaluates a batch of points of an [`Objective`], returning the outcomes in the
//!   order of the points. [`Sequential`] evaluates on the calling thread; [`RayonEvaluator`]
//!   evaluates on the calling thread and a private rayon pool of helpers (never the global
//!   pool). Both isolate every
//!   single evaluation: a panic, or a point of the wrong dimension, becomes
//!   [`Outcome::Failed`] and never aborts the batch.
//! - [`run`]: drives an [`OptimiserState`] to the end (ask, evaluate, tell), honouring a time limit,
//!   a cancellation flag and an [`Observer`] that may stop the run, and assembles the
//!   [`OptimisationResult`].
//!
//! ```
//! use diffid_core::{FnObjective, Outcome};
//! use diffid_exec::{Evaluator, RayonEvaluator, Sequential};
//!
//! let f = FnObjective::new(2, |x: &[f64]| x[0] * x[0] + (x[1] - 1.0).powi(2));
//! // A batch on a private pool of two threads: the outcomes come back in order.
//! let pool = RayonEvaluator::new(2)?;
//! let points: Vec<Vec<f64>> = (0..16).map(|i| vec![f64::from(i) / 4.0, 1.0]).collect();
//! let outcomes = pool.evaluate_batch(&f, &points);
//! assert_eq!(outcomes[4], Outcome::Value(1.0));
//! // The same as on the calling thread, bit for bit.
//! assert_eq!(outcomes, Sequential.evaluate_batch(&f, &points));
//! // A wrong-length point, or a panic, fails that point only.
//! let odd = pool.evaluate_batch(&f, &[vec![1.0], vec![0.0, 1.0]]);
//! assert!(matches!(odd[0], Outcome::Failed(_)));
//! assert_eq!(odd[1], Outcome::Value(0.0));
//! # Ok::<(), diffid_exec::ExecError>(())
//! ```

use diffid_core::{
    fd, panic_message, Ask, AskTell, Bounds, GradientOutcome, Objective, OptimisationResult,
    OptimiserState, Outcome, RunEach, TellError, Termination,
};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Errors of the evaluators and the run loop.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ExecError {
    /// A thread pool of zero threads was requested.
    #[error(
        "the number of threads must be at least 1, got {threads}; use 1 for sequential evaluation"
    )]
    InvalidThreads {
        /// The number requested.
        threads: usize,
    },
    /// The operating system refused to start the worker threads.
    #[error("could not start the evaluation thread pool: {message}; try fewer threads")]
    Pool {
        /// Why, as reported by rayon.
        message: String,
    },
    /// Every evaluation of the run failed, so there is no best point to report.
    #[error("every evaluation failed ({evaluations} of {evaluations}), so there is no best point; the last failure was: {last_failure}. Check that the model can be evaluated at the initial point and within the bounds")]
    NoSuccessfulEvaluation {
        /// Evaluations made (all failed).
        evaluations: usize,
        /// The reason the last failed evaluation gave.
        last_failure: String,
    },
    /// The run ended before any point was evaluated, so there is no best point to report.
    #[error("the run ended before any point was evaluated ({termination}), so there is no result; allow at least one iteration and do not cancel before the run starts")]
    NothingEvaluated {
        /// Why the run ended.
        termination: Termination,
    },
    /// The state refused the outcomes it was told.
    #[error(transparent)]
    Tell(#[from] TellError),
}

/// Evaluates batches of points of an objective.
pub trait Evaluator: Send + Sync {
    /// Evaluates `objective` at every point; the outcomes are in the order of `points`, always.
    ///
    /// Never panics because of the objective: a panicking evaluation, or a point whose length
    /// differs from `objective.dim()`, gives [`Outcome::Failed`] for that point only.
    fn evaluate_batch(&self, objective: &dyn Objective, points: &[Vec<f64>]) -> Vec<Outcome>;

    /// Evaluates the value and the objective's own gradient at every point (see
    /// [`Objective::has_gradient`]), in the order of `points`, each in isolation as
    /// [`evaluate_one_with_gradient`] does.
    fn evaluate_gradient_batch(
        &self,
        objective: &dyn Objective,
        points: &[Vec<f64>],
    ) -> Vec<GradientOutcome>;

    /// The number of threads evaluations run on.
    fn threads(&self) -> usize;

    /// Runs `task(i)` for every `i` below `n` — whole independent jobs, such as the runs of a
    /// multi-start optimisation — on this evaluator's threads (each task on one thread), and
    /// returns when all are done. The default runs them in order on the calling thread.
    fn run_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        for i in 0..n {
            task(i);
        }
    }
}

/// Values and gradients at `points`, and the number of objective evaluations they took.
///
/// Objectives with a gradient of their own are asked for it (one evaluation per point).
/// Otherwise the gradients come from finite differences ([`diffid_core::fd`], `2n + 1`
/// evaluations per point): the stencils of all points are evaluated as one batch, so a parallel
/// evaluator spreads them over its threads. With `bounds`, no stencil point leaves them.
pub fn evaluate_gradients(
    evaluator: &dyn Evaluator,
    objective: &dyn Objective,
    points: &[Vec<f64>],
    bounds: Option<&[Bounds]>,
) -> (Vec<GradientOutcome>, usize) {
    if objective.has_gradient() {
        return (
            evaluator.evaluate_gradient_batch(objective, points),
            points.len(),
        );
    }
    let dim = objective.dim();
    let mut all = Vec::new();
    let mut stencils = Vec::with_capacity(points.len());
    for x in points {
        if x.len() == dim {
            let (p, st) = fd::stencil_with_step(x, bounds, objective.fd_step());
            all.extend(p);
            stencils.push(Some(st));
        } else {
            stencils.push(None);
        }
    }
    let outcomes = evaluator.evaluate_batch(objective, &all);
    if outcomes.len() != all.len() {
        let reason = format!(
            "the evaluator returned {} outcomes for {} finite-difference points",
            outcomes.len(),
            all.len()
        );
        return (
            vec![GradientOutcome::Failed(reason); points.len()],
            all.len(),
        );
    }
    let mut at = 0;
    let gradients = stencils
        .iter()
        .zip(points)
        .map(|(st, x)| match st {
            Some(st) => {
                let g = st.assemble(&outcomes[at..at + st.len()]);
                at += st.len();
                g
            }
            None => GradientOutcome::Failed(wrong_dimension(x.len(), dim)),
        })
        .collect();
    (gradients, all.len().max(points.len()))
}

fn wrong_dimension(got: usize, dim: usize) -> String {
    format!("point has {got} coordinates, but the objective has {dim} parameters")
}

/// Evaluates the value and the gradient at one point in isolation: a wrong dimension, a panic,
/// a non-finite value or gradient entry, or a gradient of the wrong length becomes
/// [`GradientOutcome::Failed`].
pub fn evaluate_one_with_gradient(objective: &dyn Objective, x: &[f64]) -> GradientOutcome {
    checked_gradient(objective, x, || objective.evaluate_with_gradient(x))
}

/// [`evaluate_one_with_gradient`], the objective's parts run by `run_each` (see
/// [`Objective::evaluate_with_gradient_parts`]).
pub fn evaluate_one_with_gradient_parts(
    objective: &dyn Objective,
    x: &[f64],
    run_each: RunEach<'_>,
) -> GradientOutcome {
    checked_gradient(objective, x, || {
        objective.evaluate_with_gradient_parts(x, run_each)
    })
}

fn checked_gradient(
    objective: &dyn Objective,
    x: &[f64],
    eval: impl FnOnce() -> GradientOutcome,
) -> GradientOutcome {
    let dim = objective.dim();
    if x.len() != dim {
        return GradientOutcome::Failed(wrong_dimension(x.len(), dim));
    }
    match catch_unwind(AssertUnwindSafe(eval)) {
        Ok(GradientOutcome::Value { value, gradient }) if gradient.len() == dim => {
            GradientOutcome::from_parts(value, gradient)
        }
        Ok(GradientOutcome::Value { gradient, .. }) => GradientOutcome::Failed(format!(
            "the gradient has {} entries, but the objective has {dim} parameters",
            gradient.len()
        )),
        Ok(failed) => failed,
        Err(payload) => GradientOutcome::Failed(format!(
            "evaluation panicked: {}",
            panic_message(payload.as_ref())
        )),
    }
}

/// Evaluates one point in isolation: a wrong dimension, a panic or a non-finite value becomes
/// [`Outcome::Failed`].
pub fn evaluate_one(objective: &dyn Objective, x: &[f64]) -> Outcome {
    checked(objective, x, || objective.evaluate(x))
}

/// [`evaluate_one`], the objective's parts run by `run_each` (see
/// [`Objective::evaluate_parts`]).
pub fn evaluate_one_parts(objective: &dyn Objective, x: &[f64], run_each: RunEach<'_>) -> Outcome {
    checked(objective, x, || objective.evaluate_parts(x, run_each))
}

fn checked(objective: &dyn Objective, x: &[f64], eval: impl FnOnce() -> Outcome) -> Outcome {
    let dim = objective.dim();
    if x.len() != dim {
        return Outcome::Failed(wrong_dimension(x.len(), dim));
    }
    match catch_unwind(AssertUnwindSafe(eval)) {
        Ok(Outcome::Value(v)) => Outcome::from_value(v),
        Ok(failed) => failed,
        Err(payload) => Outcome::Failed(format!(
            "evaluation panicked: {}",
            panic_message(payload.as_ref())
        )),
    }
}

/// Evaluates every point in turn on the calling thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sequential;

impl Evaluator for Sequential {
    fn evaluate_batch(&self, objective: &dyn Objective, points: &[Vec<f64>]) -> Vec<Outcome> {
        points.iter().map(|x| evaluate_one(objective, x)).collect()
    }

    fn evaluate_gradient_batch(
        &self,
        objective: &dyn Objective,
        points: &[Vec<f64>],
    ) -> Vec<GradientOutcome> {
        points
            .iter()
            .map(|x| evaluate_one_with_gradient(objective, x))
            .collect()
    }

    fn threads(&self) -> usize {
        1
    }
}

/// Hands each batch whole to the objective ([`Objective::evaluate_batch`]), for objectives
/// that parallelise by themselves, such as a Python callable evaluated by a process pool.
///
/// The batch is evaluated on the calling thread. A point of the wrong dimension is failed on
/// its own (the others are evaluated one by one); a panic, or a batch answer of the wrong
/// length, fails every point of the batch; non-finite values become failures. Either way the
/// run goes on. Gradients are evaluated one point after another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delegated;

impl Evaluator for Delegated {
    fn evaluate_batch(&self, objective: &dyn Objective, points: &[Vec<f64>]) -> Vec<Outcome> {
        let dim = objective.dim();
        if let Some(bad) = points.iter().find(|x| x.len() != dim) {
            let reason = wrong_dimension(bad.len(), dim);
            return points
                .iter()
                .map(|x| {
                    if x.len() == dim {
                        evaluate_one(objective, x)
                    } else {
                        Outcome::Failed(reason.clone())
                    }
                })
                .collect();
        }
        match catch_unwind(AssertUnwindSafe(|| objective.evaluate_batch(points))) {
            Ok(outcomes) if outcomes.len() == points.len() => outcomes
                .into_iter()
                .map(|o| match o {
                    Outcome::Value(v) => Outcome::from_value(v),
                    failed @ Outcome::Failed(_) => failed,
                })
                .collect(),
            Ok(outcomes) => {
                let reason = format!(
                    "the batch evaluation returned {} outcomes for {} points",
                    outcomes.len(),
                    points.len()
                );
                vec![Outcome::Failed(reason); points.len()]
            }
            Err(payload) => {
                let reason = format!(
                    "batch evaluation panicked: {}",
                    panic_message(payload.as_ref())
                );
                vec![Outcome::Failed(reason); points.len()]
            }
        }
    }

    fn evaluate_gradient_batch(
        &self,
        objective: &dyn Objective,
        points: &[Vec<f64>],
    ) -> Vec<GradientOutcome> {
        Sequential.evaluate_gradient_batch(objective, points)
    }

    fn threads(&self) -> usize {
        1
    }
}

/// Evaluates the points of a batch concurrently: on the calling thread and `threads − 1`
/// helper threads of a private rayon pool, each taking the next point from a shared counter.
///
/// The pool belongs to this evaluator: it never initialises or uses rayon's global pool, so it
/// coexists with other rayon users in the same process (numpy, other libraries, other runs).
/// The pool's threads stop when the evaluator is dropped.
pub struct RayonEvaluator {
    /// `threads − 1` helper threads: the calling thread is the other worker (`None` for one
    /// thread, which evaluates on the calling thread alone).
    pool: Option<rayon::ThreadPool>,
    threads: usize,
}

impl RayonEvaluator {
    /// An evaluator on `threads` threads: the calling one and `threads − 1` private helpers.
    ///
    /// # Errors
    /// [`ExecError::InvalidThreads`] when `threads` is 0; [`ExecError::Pool`] when the
    /// threads cannot be started.
    pub fn new(threads: usize) -> Result<Self, ExecError> {
        if threads == 0 {
            return Err(ExecError::InvalidThreads { threads });
        }
        let pool = if threads == 1 {
            None
        } else {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads - 1)
                    .thread_name(|i| format!("diffid-eval-{i}"))
                    .build()
                    .map_err(|e| ExecError::Pool {
                        message: e.to_string(),
                    })?,
            )
        };
        Ok(Self { pool, threads })
    }

    /// An evaluator with [`default_threads`] threads.
    ///
    /// # Errors
    /// As [`default_threads`]; [`ExecError::Pool`] when the threads cannot be started.
    pub fn with_available_parallelism() -> Result<Self, ExecError> {
        Self::new(default_threads()?)
    }
}

/// The environment variable that sets the default thread count.
pub const THREADS_VARIABLE: &str = "DIFFID_NUM_THREADS";

/// The default number of evaluation threads: `DIFFID_NUM_THREADS` when set, else the CPUs this
/// process may use (its CPU affinity and cgroup quota, as the operating system reports them;
/// 1 when that cannot be determined), so that several processes on one machine (the workers
/// of a cluster, say) need not oversubscribe it.
///
/// # Errors
/// [`ExecError::Pool`] when `DIFFID_NUM_THREADS` is set to anything but a positive integer.
pub fn default_threads() -> Result<usize, ExecError> {
    match std::env::var(THREADS_VARIABLE) {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ExecError::Pool {
                message: format!(
                    "{THREADS_VARIABLE} must be a positive integer (a thread count), got {v:?}"
                ),
            }),
        },
        Err(_) => Ok(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)),
    }
}

impl fmt::Debug for RayonEvaluator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RayonEvaluator")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl RayonEvaluator {
    /// Evaluates `eval` at every index below `n`: the calling thread and the pool's helpers
    /// take the next index from a shared counter until none is left (so a slow point does not
    /// hold up a fixed share), and each result lands in its own slot, in order.
    fn share<T: Send + Sync>(&self, n: usize, eval: impl Fn(usize) -> T + Sync) -> Vec<T> {
        let slots: Vec<std::sync::OnceLock<T>> =
            (0..n).map(|_| std::sync::OnceLock::new()).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let _ = slots[i].set(eval(i));
        };
        match &self.pool {
            Some(pool) if n > 1 => pool.in_place_scope(|scope| {
                for _ in 0..(self.threads - 1).min(n - 1) {
                    scope.spawn(|_| work());
                }
                work();
            }),
            _ => work(),
        }
        slots
            .into_iter()
            .enumerate()
            .map(|(i, slot)| slot.into_inner().unwrap_or_else(|| eval(i)))
            .collect()
    }
}

impl Evaluator for RayonEvaluator {
    /// The calling thread evaluates alongside `threads − 1` helpers (a batch of one point on
    /// the calling thread alone): no hand-off to the pool and back, and the calling thread
    /// already holds the model compiled at build time.
    /// A lone point of an objective with parts (several experimental conditions) has its
    /// parts shared over the threads instead.
    fn evaluate_batch(&self, objective: &dyn Objective, points: &[Vec<f64>]) -> Vec<Outcome> {
        if let [x] = points {
            if self.pool.is_some() && objective.has_parts() {
                let run_each = |n: usize, task: &(dyn Fn(usize) + Sync)| {
                    self.share(n, task);
                };
                return vec![evaluate_one_parts(objective, x, &run_each)];
            }
        }
        self.share(points.len(), |i| evaluate_one(objective, &points[i]))
    }

    fn evaluate_gradient_batch(
        &self,
        objective: &dyn Objective,
        points: &[Vec<f64>],
    ) -> Vec<GradientOutcome> {
        if let [x] = points {
            if self.pool.is_some() && objective.has_parts() {
                let run_each = |n: usize, task: &(dyn Fn(usize) + Sync)| {
                    self.share(n, task);
                };
                return vec![evaluate_one_with_gradient_parts(objective, x, &run_each)];
            }
        }
        self.share(points.len(), |i| {
            evaluate_one_with_gradient(objective, &points[i])
        })
    }

    fn threads(&self) -> usize {
        self.threads
    }

    /// The tasks are shared as the points of a batch are: each thread takes the next task
    /// from a shared counter.
    fn run_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        self.share(n, task);
    }
}

/// A snapshot of a run, given to the [`Observer`] after every batch.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Iterations completed.
    pub iteration: usize,
    /// Evaluations made, failed ones included.
    pub evaluations: usize,
    /// The best value so far, if any evaluation succeeded.
    pub best_value: Option<f64>,
    /// The best point so far (in the coordinates the state searches), if any.
    pub best_x: Option<Vec<f64>>,
    /// For samplers: the acceptance rate so far.
    pub acceptance_rate: Option<f64>,
    /// Wall-clock time since the run started.
    pub elapsed: Duration,
}

/// An observer's verdict: go on, or stop the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop the run now because the user's callback asked to ([`Termination::Callback`]).
    Stop,
    /// Stop the run now because it was interrupted, e.g. by Ctrl-C
    /// ([`Termination::Cancelled`]).
    Cancel,
}

/// Watches a run after every batch and may stop it.
pub trait Observer {
    /// Called after every told batch.
    fn observe(&mut self, progress: &Progress) -> Control;
}

/// No observer: always continue.
impl Observer for () {
    fn observe(&mut self, _progress: &Progress) -> Control {
        Control::Continue
    }
}

impl<F: FnMut(&Progress) -> Control> Observer for F {
    fn observe(&mut self, progress: &Progress) -> Control {
        self(progress)
    }
}

/// Limits on a run beyond those of the algorithm.
///
/// Built from the default with its `with_*` methods (it may gain fields):
/// `RunOptions::default().with_cancel(flag)`.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// Stop (as [`Termination::TimeLimit`]) once this much wall-clock time has passed. It is
    /// checked after every batch, so at least one batch is always evaluated.
    pub time_limit: Option<Duration>,
    /// Stop (as [`Termination::Cancelled`]) once this flag is set, e.g. from a Ctrl-C handler or
    /// another thread. It is checked before every batch.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl RunOptions {
    /// The same options with a wall-clock `time_limit`.
    #[must_use]
    pub fn with_time_limit(mut self, time_limit: Duration) -> Self {
        self.time_limit = Some(time_limit);
        self
    }

    /// The same options with no time limit, or `time_limit` when given.
    #[must_use]
    pub fn with_optional_time_limit(mut self, time_limit: Option<Duration>) -> Self {
        self.time_limit = time_limit;
        self
    }

    /// The same options cancelled when `cancel` is set.
    #[must_use]
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Self {
        self.cancel = Some(cancel);
        self
    }
}

/// How a driven run ended: why, after how long, and the last failure reason seen.
#[derive(Clone, Debug, PartialEq)]
pub struct Drive {
    /// Why the run ended.
    pub termination: Termination,
    /// Wall-clock time of the run.
    pub time: Duration,
    /// The reason of the last failed evaluation, if any failed.
    pub last_failure: Option<String>,
}

/// Runs `state` on `objective` to the end: asks for batches, evaluates them with `evaluator`,
/// tells the outcomes, and reports progress to `observer` after every batch.
///
/// Batches asked with [`Ask::EvaluateWithGradient`] are evaluated by [`evaluate_gradients`]
/// (the objective's own gradient, else finite differences inside the state's bounds).
///
/// The run ends when the state is done, the cancellation flag is set or the observer returns
/// [`Control::Cancel`] ([`Termination::Cancelled`]), the observer returns [`Control::Stop`]
/// ([`Termination::Callback`]), or the time limit has passed ([`Termination::TimeLimit`]).
///
/// # Errors
/// [`ExecError::Tell`] when the state refuses the outcomes;
/// [`ExecError::NoSuccessfulEvaluation`] when every evaluation failed;
/// [`ExecError::NothingEvaluated`] when the run ended before any evaluation.
pub fn run(
    state: &mut dyn OptimiserState,
    objective: &dyn Objective,
    evaluator: &dyn Evaluator,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<OptimisationResult, ExecError> {
    let bounds = state.bounds().map(<[Bounds]>::to_vec);
    let ended = drive(
        state,
        objective,
        evaluator,
        options,
        observer,
        bounds.as_deref(),
        |s, p| {
            if let Some((x, v)) = s.best() {
                p.best_value = Some(v);
                p.best_x = Some(x);
            }
        },
    )?;
    result_of(state, ended.termination, ended.time, ended.last_failure)
}

/// The loop behind [`run`], for any ask/tell state (optimisers and samplers): ask, evaluate,
/// tell, observe, until the state is done or the run is stopped (see [`run`]). `bounds` keeps
/// finite-difference points inside the box; `summary` fills in the state-specific parts of
/// the [`Progress`] (best point, acceptance rate) after every batch.
///
/// # Errors
/// [`ExecError::Tell`] when the state refuses the outcomes.
pub fn drive<S: AskTell + ?Sized>(
    state: &mut S,
    objective: &dyn Objective,
    evaluator: &dyn Evaluator,
    options: &RunOptions,
    observer: &mut dyn Observer,
    bounds: Option<&[Bounds]>,
    mut summary: impl FnMut(&S, &mut Progress),
) -> Result<Drive, ExecError> {
    let start = Instant::now();
    let cancelled = || {
        options
            .cancel
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    };
    // With a cancellation flag, each point of a batch checks it before it is evaluated, so a
    // cancellation stops a long batch within one evaluation per thread; that batch is then
    // not told (the state stays as it was after the last whole batch).
    let guarded = Guarded {
        inner: objective,
        flag: options.cancel.as_deref(),
        cap: None,
    };
    let mut last_failure: Option<String> = None;

    let termination = loop {
        if cancelled() {
            break Termination::Cancelled;
        }
        match state.ask() {
            Ask::Done(termination) => break termination,
            Ask::Evaluate(points) => {
                let capped = Guarded {
                    cap: state.value_cap(),
                    ..guarded
                };
                let outcomes = evaluator.evaluate_batch(&capped, &points);
                if cancelled() {
                    break Termination::Cancelled;
                }
                note_failure(&mut last_failure, outcomes.iter().map(Outcome::clone));
                state.tell(&outcomes)?;
            }
            Ask::EvaluateWithGradient(points) => {
                let (outcomes, evaluations) =
                    evaluate_gradients(evaluator, &guarded, &points, bounds);
                if cancelled() {
                    break Termination::Cancelled;
                }
                note_failure(
                    &mut last_failure,
                    outcomes.iter().map(GradientOutcome::outcome),
                );
                state.tell_gradients(&outcomes, evaluations)?;
            }
        }
        let mut progress = Progress {
            iteration: state.iterations(),
            evaluations: state.evaluations(),
            best_value: None,
            best_x: None,
            acceptance_rate: None,
            elapsed: start.elapsed(),
        };
        summary(state, &mut progress);
        match observer.observe(&progress) {
            Control::Continue => {}
            Control::Stop => break Termination::Callback,
            Control::Cancel => break Termination::Cancelled,
        }
        if options
            .time_limit
            .is_some_and(|limit| start.elapsed() >= limit)
        {
            break Termination::TimeLimit;
        }
    };
    Ok(Drive {
        termination,
        time: start.elapsed(),
        last_failure,
    })
}

/// The objective as `drive` evaluates it: every evaluation fails at once, unevaluated, after
/// the cancellation `flag` is set (what lets a cancellation stop inside a batch), and with a
/// `cap` (see [`AskTell::value_cap`]) values are [`Objective::evaluate_below`] it.
#[derive(Clone, Copy)]
struct Guarded<'a> {
    inner: &'a dyn Objective,
    flag: Option<&'a AtomicBool>,
    cap: Option<f64>,
}

const CANCELLED: &str = "the run was cancelled before this point was evaluated";

impl Guarded<'_> {
    fn stopped(&self) -> bool {
        self.flag.is_some_and(|f| f.load(Ordering::Relaxed))
    }
}

impl Objective for Guarded<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        if self.stopped() {
            return Outcome::Failed(CANCELLED.to_owned());
        }
        match self.cap {
            Some(cap) => self.inner.evaluate_below(x, cap),
            None => self.inner.evaluate(x),
        }
    }

    fn evaluate_below(&self, x: &[f64], cap: f64) -> Outcome {
        if self.stopped() {
            return Outcome::Failed(CANCELLED.to_owned());
        }
        self.inner
            .evaluate_below(x, self.cap.map_or(cap, |c| c.min(cap)))
    }

    fn has_gradient(&self) -> bool {
        self.inner.has_gradient()
    }

    fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
        if self.stopped() {
            return GradientOutcome::Failed(CANCELLED.to_owned());
        }
        self.inner.evaluate_with_gradient(x)
    }

    fn fd_step(&self) -> f64 {
        self.inner.fd_step()
    }

    fn evaluate_batch(&self, points: &[Vec<f64>]) -> Vec<Outcome> {
        // A self-parallelising objective takes the batch whole (it cannot be interrupted).
        if self.stopped() {
            return vec![Outcome::Failed(CANCELLED.to_owned()); points.len()];
        }
        self.inner.evaluate_batch(points)
    }

    fn has_parts(&self) -> bool {
        self.inner.has_parts()
    }

    fn evaluate_parts(&self, x: &[f64], run_each: RunEach<'_>) -> Outcome {
        if self.stopped() {
            return Outcome::Failed(CANCELLED.to_owned());
        }
        self.inner.evaluate_parts(x, run_each)
    }

    fn evaluate_with_gradient_parts(&self, x: &[f64], run_each: RunEach<'_>) -> GradientOutcome {
        if self.stopped() {
            return GradientOutcome::Failed(CANCELLED.to_owned());
        }
        self.inner.evaluate_with_gradient_parts(x, run_each)
    }
}

/// Keeps the reason of the last failed outcome of a batch, for the error of a run in which
/// every evaluation failed.
fn note_failure(last: &mut Option<String>, outcomes: impl DoubleEndedIterator<Item = Outcome>) {
    if let Some(reason) = outcomes.rev().find_map(|o| match o {
        Outcome::Failed(reason) => Some(reason),
        Outcome::Value(_) => None,
    }) {
        *last = Some(reason);
    }
}

/// The result of a state that has stopped for `termination` after `time`, in the state's own
/// coordinates. Used by [`run`] and by hand-driven ask/tell loops.
///
/// # Errors
/// [`ExecError::NoSuccessfulEvaluation`] (with `last_failure`, when known) when every
/// evaluation failed; [`ExecError::NothingEvaluated`] when nothing was evaluated.
pub fn result_of(
    state: &dyn OptimiserState,
    termination: Termination,
    time: Duration,
    last_failure: Option<String>,
) -> Result<OptimisationResult, ExecError> {
    let evaluations = state.evaluations();
    let Some((x, value)) = state.best() else {
        return Err(if evaluations == 0 {
            ExecError::NothingEvaluated { termination }
        } else {
            ExecError::NoSuccessfulEvaluation {
                evaluations,
                last_failure: last_failure
                    .unwrap_or_else(|| "no failure reason was recorded".to_owned()),
            }
        });
    };
    Ok(OptimisationResult::from_state(
        state,
        (x, value),
        termination,
        time,
    ))
}

#[cfg(test)]
mod tests;
