//! The run driver: what a Python caller adds to a run (callback, progress line, checkpoint,
//! Ctrl-C) and the one path each kind of run takes — `Problem.optimise` and `optimiser.run`,
//! multi-start, `Problem.sample` and `sampler.run` — with the GIL released while Rust runs.

use crate::cluster::{distribute, Remote};
use crate::convert::vector;
use crate::errors::to_py;
use crate::problem::PyProblem;
use crate::results::{PyMultiStart, PyOptimisationResults, SolverUse};
use crate::sampler::{nested_to_py, samples_to_py, SamplerChoice};
use diffid::{Checkpoint, Control, Observer, Optimiser, Problem, Progress, RunOptions, Sampler};
use numpy::PyArray1;
use pyo3::prelude::*;
use std::sync::{Arc, Mutex};

/// How often a running optimisation checks for Ctrl-C.
const SIGNAL_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

/// What a Python caller adds to a run: a callback, a live progress line and a checkpoint.
pub struct RunControls {
    /// Called with a `Progress` after every iteration; a truthy return stops the run.
    pub callback: Option<Py<PyAny>>,
    /// Print a progress line to stderr.
    pub progress: bool,
    /// Where to save the run's state, how often (seconds), and whether to resume from it.
    pub checkpoint: Option<(std::path::PathBuf, f64, bool)>,
}

impl RunControls {
    /// The controls of a run, checked: `checkpoint_interval` a finite number of seconds
    /// ≥ 0; `resume` only with a `checkpoint` path.
    pub fn new(
        callback: Option<Py<PyAny>>,
        progress: bool,
        checkpoint: Option<std::path::PathBuf>,
        checkpoint_interval: f64,
        resume: bool,
    ) -> PyResult<Self> {
        if !(checkpoint_interval.is_finite() && checkpoint_interval >= 0.0) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "checkpoint_interval must be a finite number of seconds >= 0 (0: after every batch), got {checkpoint_interval}"
            )));
        }
        if resume && checkpoint.is_none() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "resume=True needs the checkpoint file to resume from: checkpoint=path",
            ));
        }
        Ok(Self {
            callback,
            progress,
            checkpoint: checkpoint.map(|p| (p, checkpoint_interval, resume)),
        })
    }
}

/// How often the progress line is redrawn.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// A snapshot of a running optimisation, given to `optimise(callback=...)`.
#[pyclass(module = "diffid._diffid", name = "Progress", frozen)]
pub struct PyProgress {
    inner: Progress,
}

#[pymethods]
impl PyProgress {
    /// Iterations completed.
    #[getter]
    fn iteration(&self) -> usize {
        self.inner.iteration
    }
    /// Evaluations made, failed ones included.
    #[getter]
    fn evaluations(&self) -> usize {
        self.inner.evaluations
    }
    /// The best value so far (None before any successful evaluation).
    #[getter]
    fn best_value(&self) -> Option<f64> {
        self.inner.best_value
    }
    /// The best parameters so far, in natural units (None before any successful evaluation).
    #[getter]
    fn best_x<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.inner
            .best_x
            .as_ref()
            .map(|x| PyArray1::from_slice(py, x))
    }
    /// Samplers: the acceptance rate so far (None for optimisers).
    #[getter]
    fn acceptance_rate(&self) -> Option<f64> {
        self.inner.acceptance_rate
    }
    /// Seconds since the run started.
    #[getter]
    fn elapsed(&self) -> f64 {
        self.inner.elapsed.as_secs_f64()
    }

    fn __repr__(&self) -> String {
        format!(
            "Progress(iteration={}, evaluations={}, best_value={}, elapsed={:.3})",
            self.inner.iteration,
            self.inner.evaluations,
            self.inner
                .best_value
                .map_or_else(|| "None".to_owned(), |v| v.to_string()),
            self.inner.elapsed.as_secs_f64()
        )
    }
}

/// A run's view of its simulator under `solver="auto"`: the simulator, the method the probe
/// chose, and its counts when the run started — for the progress line and the result.
struct SolverWatch<'a> {
    /// Every condition's simulator (one for a problem of one data set).
    sims: Vec<&'a diffid::OdeSimulator>,
    choice: diffid::SolverKind,
    before: diffid::SolverCounts,
}

/// The solves of all `sims`, summed.
pub fn summed_counts(sims: &[&diffid::OdeSimulator]) -> diffid::SolverCounts {
    let mut total = diffid::SolverCounts::default();
    for s in sims {
        let c = s.solver_counts();
        total.explicit += c.explicit;
        total.implicit += c.implicit;
        total.fallbacks += c.fallbacks;
    }
    total
}

impl<'a> SolverWatch<'a> {
    /// The watch over `problem`'s simulators, under `solver="auto"`.
    fn of(problem: &'a diffid::Problem) -> Option<Self> {
        let sims = problem.simulators();
        let choice = sims.first()?.auto_choice()?;
        let before = summed_counts(&sims);
        Some(Self {
            sims,
            choice,
            before,
        })
    }

    /// The solves since the run started.
    fn used(&self) -> SolverUse {
        let now = summed_counts(&self.sims);
        SolverUse {
            choice: self.choice.name().to_owned(),
            tsit45: now.explicit - self.before.explicit,
            bdf: now.implicit - self.before.implicit,
            fallbacks: now.fallbacks - self.before.fallbacks,
        }
    }

    /// `| tsit45 N, bdf M (F fallbacks)` over the run so far.
    fn line(&self) -> String {
        let u = self.used();
        format!(
            " | tsit45 {}, bdf {} ({} fallbacks)",
            u.tsit45, u.bdf, u.fallbacks
        )
    }
}

/// The progress line: iteration, evaluations, best value, rate, time, and under
/// `solver="auto"` the solves by method.
fn progress_line(p: &Progress, solvers: Option<&SolverWatch<'_>>) -> String {
    let secs = p.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        p.evaluations as f64 / secs
    } else {
        0.0
    };
    let middle = match (p.best_value, p.acceptance_rate) {
        (_, Some(a)) => format!("acceptance {a:.3}"),
        (Some(v), None) => format!("best {v:.6e}"),
        (None, None) => "best -".to_owned(),
    };
    format!(
        "diffid: iteration {:>6} | evaluations {:>8} | {middle} | {:>9.1} eval/s | {:>7.1} s{}",
        p.iteration,
        p.evaluations,
        rate,
        secs,
        solvers.map(SolverWatch::line).unwrap_or_default()
    )
}

/// Writes `text` to `sys.stderr` (redrawing the line on a terminal) and flushes it.
fn write_stderr(py: Python<'_>, text: &str, last: bool) -> PyResult<()> {
    let stderr = py.import("sys")?.getattr("stderr")?;
    let tty = stderr
        .call_method0("isatty")
        .and_then(|v| v.extract::<bool>())
        .unwrap_or(false);
    let out = match (tty, last) {
        (true, false) => format!("\r{text}"),
        (true, true) => format!("\r{text}\n"),
        (false, _) => format!("{text}\n"),
    };
    stderr.call_method1("write", (out,))?;
    stderr.call_method0("flush")?;
    Ok(())
}

impl PyProblem {
    /// Runs `body` with the GIL released and an observer that takes it back to check for
    /// Ctrl-C (every 50 ms), to call the callback (every iteration) and to draw the progress
    /// line (every 0.5 s). Returns the body's result and the exception that stopped the run
    /// (Ctrl-C, or one raised by the callback), if any.
    ///
    /// While the body runs, SIGINT also sets `options`' cancellation flag (chained after
    /// Python's own handler), so Ctrl-C stops a long batch within one evaluation per thread
    /// rather than at its end; the interrupt is then raised as Python's `KeyboardInterrupt`.
    fn observed<R: Send>(
        py: Python<'_>,
        controls: RunControls,
        solvers: Option<&SolverWatch<'_>>,
        options: &RunOptions,
        body: impl FnOnce(&mut dyn Observer) -> R + Send,
    ) -> (R, Option<PyErr>) {
        let RunControls {
            callback, progress, ..
        } = controls;
        let mut raised: Option<PyErr> = None;
        let mut last_progress: Option<Progress> = None;
        // Without the hook (registration refused), Ctrl-C is still seen between batches.
        let hook = options.cancel.as_ref().and_then(|flag| {
            signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(flag)).ok()
        });
        let result = py.detach(|| {
            let mut last_check = std::time::Duration::ZERO;
            let mut last_draw: Option<std::time::Duration> = None;
            let mut last_iteration = 0;
            let mut observer = |p: &Progress| {
                let due_check = p.elapsed >= last_check + SIGNAL_CHECK_INTERVAL;
                let due_draw =
                    progress && last_draw.is_none_or(|t| p.elapsed >= t + PROGRESS_INTERVAL);
                // The callback runs once per completed iteration, not per batch (a line
                // search, or an ensemble's two halves, take several batches).
                let due_callback = callback.is_some() && p.iteration > last_iteration;
                last_iteration = p.iteration;
                if progress {
                    last_progress = Some(p.clone());
                }
                if !due_callback && !due_check && !due_draw {
                    return Control::Continue;
                }
                Python::attach(|py| {
                    if due_check {
                        last_check = p.elapsed;
                        if let Err(e) = py.check_signals() {
                            raised = Some(e);
                            return Control::Cancel;
                        }
                    }
                    if due_draw {
                        last_draw = Some(p.elapsed);
                        // A broken stderr must not stop the run.
                        let _ = write_stderr(py, &progress_line(p, solvers), false);
                    }
                    if let (true, Some(cb)) = (due_callback, &callback) {
                        let snapshot = PyProgress { inner: p.clone() };
                        match cb.call1(py, (snapshot,)).and_then(|v| v.is_truthy(py)) {
                            Ok(true) => return Control::Stop,
                            Ok(false) => {}
                            Err(e) => {
                                raised = Some(e);
                                return Control::Cancel;
                            }
                        }
                    }
                    Control::Continue
                })
            };
            body(&mut observer)
        });
        if let Some(id) = hook {
            signal_hook::low_level::unregister(id);
            // A Ctrl-C that stopped a batch: Python's handler saw it too.
            if raised.is_none() {
                if let Err(e) = py.check_signals() {
                    raised = Some(e);
                }
            }
        }
        if let Some(p) = &last_progress {
            let _ = write_stderr(py, &progress_line(p, solvers), true);
        }
        (result, raised)
    }

    /// What every run shares: the start point, the problem, its options, checkpoint and
    /// solver watch; `run` under [`observed`](Self::observed); then its result converted by
    /// `convert` — or the exception that stopped the run (the objective's own, or a Ctrl-C it
    /// received, first; then the observer's: Ctrl-C or the callback's), with the result so far
    /// converted on its `.result`.
    fn driven<T: Send>(
        &self,
        py: Python<'_>,
        initial: Option<&Bound<'_, PyAny>>,
        controls: RunControls,
        run: impl FnOnce(
                &Problem,
                Option<&[f64]>,
                &RunOptions,
                &mut dyn Observer,
                Option<&Checkpoint>,
            ) -> Result<T, diffid::Error>
            + Send,
        convert: impl Fn(Python<'_>, &T, &[String], Option<SolverUse>) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let initial = initial.map(vector).transpose()?;
        let problem = self.inner(py)?;
        let names = problem.parameters().names();
        let options = self.run_options();
        let checkpoint = self.checkpoint(py, &controls)?;
        let watch = SolverWatch::of(&problem);
        let (result, raised) = Self::observed(py, controls, watch.as_ref(), &options, |observer| {
            run(
                &problem,
                initial.as_deref(),
                &options,
                observer,
                checkpoint.as_ref(),
            )
        });
        let solvers = watch.as_ref().map(SolverWatch::used);
        if let Some(err) = self.callback_error(py).or(raised) {
            if let Ok(r) = &result {
                let partial = convert(py, r, &names, solvers)?;
                // Some exception types refuse attributes; the exception itself still stands.
                let _ = err.value(py).setattr("result", partial);
            }
            return Err(err);
        }
        let r = result.map_err(to_py)?;
        convert(py, &r, &names, solvers)
    }

    /// The one optimisation path of `Problem.optimise` and `optimiser.run`; returns an
    /// `OptimisationResults`.
    pub fn run_optimiser(
        &self,
        py: Python<'_>,
        initial: Option<&Bound<'_, PyAny>>,
        optimiser: Option<&Arc<dyn Optimiser>>,
        controls: RunControls,
    ) -> PyResult<Py<PyAny>> {
        self.driven(
            py,
            initial,
            controls,
            |problem, initial, options, observer, checkpoint| {
                problem.optimise_checkpointed(
                    initial,
                    optimiser.map(AsRef::as_ref),
                    options,
                    observer,
                    checkpoint,
                )
            },
            |py, r, names, solvers| {
                let results = PyOptimisationResults {
                    inner: r.clone(),
                    names: names.to_vec(),
                    solvers,
                };
                Ok(Py::new(py, results)?.into_any())
            },
        )
    }

    /// A multi-start optimisation (`optimise(starts=...)`): the runs go on a worker thread
    /// while this one watches for Ctrl-C and draws progress.
    pub(crate) fn run_starts(
        &self,
        py: Python<'_>,
        optimiser: Option<&Arc<dyn Optimiser>>,
        starts: usize,
        seed: u64,
        progress: bool,
    ) -> PyResult<Py<PyMultiStart>> {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let problem = self.inner(py)?;
        let names = problem.parameters().names();
        let mut options = self.run_options();
        let cancel = options
            .cancel
            .clone()
            .unwrap_or_else(|| Arc::new(AtomicBool::new(false)));
        options.cancel = Some(cancel.clone());
        let done = AtomicUsize::new(0);
        let best = Mutex::new(f64::INFINITY);
        let on_done = |s: &diffid::Start| {
            done.fetch_add(1, Ordering::Relaxed);
            let mut b = best
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *b = b.min(s.value());
        };
        let (result, raised) = py.detach(|| {
            std::thread::scope(|scope| {
                let handle = scope.spawn(|| {
                    problem.optimise_starts(
                        starts,
                        seed,
                        optimiser.map(AsRef::as_ref),
                        &options,
                        &on_done,
                    )
                });
                let mut raised: Option<PyErr> = None;
                let mut shown = 0;
                loop {
                    let finished = handle.is_finished();
                    Python::attach(|py| {
                        if raised.is_none() {
                            if let Err(e) = py.check_signals() {
                                raised = Some(e);
                                cancel.store(true, Ordering::Relaxed);
                            }
                        }
                        let now = done.load(Ordering::Relaxed);
                        if progress && (now > shown || finished) {
                            shown = now;
                            let b = *best
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            let line = format!(
                                "multi-start: {now}/{starts} runs done, best value {b:.6e}"
                            );
                            // A broken stderr must not stop the run.
                            let _ = write_stderr(py, &line, finished);
                        }
                    });
                    if finished {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                let result = handle.join().unwrap_or_else(|p| {
                    Err(diffid::Error::Evaluation {
                        point: Vec::new(),
                        reason: format!(
                            "the multi-start run panicked: {}",
                            diffid::panic_message(p.as_ref())
                        ),
                    })
                });
                (result, raised)
            })
        });
        if let Some(err) = self.callback_error(py).or(raised) {
            if let Ok(r) = &result {
                let partial = Py::new(py, PyMultiStart::new(py, r, &names)?)?;
                let _ = err.value(py).setattr("result", partial);
            }
            return Err(err);
        }
        let runs = result.map_err(to_py)?;
        Py::new(py, PyMultiStart::new(py, &runs, &names)?)
    }

    /// The one sampling path of `Problem.sample` and `sampler.run` (see
    /// [`observed`](Self::observed)); returns a `Samples`.
    pub fn run_sampler(
        &self,
        py: Python<'_>,
        initial: Option<&Bound<'_, PyAny>>,
        sampler: Option<&SamplerChoice>,
        remote: Option<&Remote>,
        controls: RunControls,
    ) -> PyResult<Py<PyAny>> {
        if let Some(remote) = remote {
            return distribute(py, self, remote)?.run_sampler(py, initial, sampler, None, controls);
        }
        let sampler: Option<&Arc<dyn Sampler>> = match sampler {
            Some(SamplerChoice::Nested(n)) => return self.run_nested(py, initial, n, controls),
            Some(SamplerChoice::Mcmc(s)) => Some(s),
            None => None,
        };
        let name = sampler.map_or("metropolis_hastings", |s| s.name());
        self.driven(
            py,
            initial,
            controls,
            |problem, initial, options, observer, checkpoint| {
                problem.sample_checkpointed(
                    initial,
                    sampler.map(AsRef::as_ref),
                    options,
                    observer,
                    checkpoint,
                )
            },
            |py, r, names, solvers| {
                with_solvers(py, samples_to_py(py, r, names, name)?, solvers.as_ref())
            },
        )
    }

    pub(crate) fn run_nested(
        &self,
        py: Python<'_>,
        initial: Option<&Bound<'_, PyAny>>,
        sampler: &diffid::DynamicNestedSampler,
        controls: RunControls,
    ) -> PyResult<Py<PyAny>> {
        self.driven(
            py,
            initial,
            controls,
            |problem, initial, options, observer, checkpoint| {
                problem.nested_sample_checkpointed(initial, sampler, options, observer, checkpoint)
            },
            |py, r, names, solvers| with_solvers(py, nested_to_py(py, r, names)?, solvers.as_ref()),
        )
    }

    /// The run's checkpoint, with the problem's fingerprint: a digest of the builder's pickle
    /// (its model, data, parameters and settings), or of its `repr` when a Python objective
    /// cannot be pickled.
    pub(crate) fn checkpoint(
        &self,
        py: Python<'_>,
        controls: &RunControls,
    ) -> PyResult<Option<Checkpoint>> {
        let Some((path, interval, resume)) = &controls.checkpoint else {
            return Ok(None);
        };
        let fingerprint: Vec<u8> = match &self.builder {
            Some(b) => {
                let b = b.bind(py);
                let bytes = match py.import("pickle")?.call_method1("dumps", (b,)) {
                    Ok(bytes) => bytes,
                    Err(_) => {
                        pyo3::types::PyBytes::new(py, b.repr()?.to_string().as_bytes()).into_any()
                    }
                };
                py.import("hashlib")?
                    .call_method1("sha256", (bytes,))?
                    .call_method0("digest")?
                    .extract()?
            }
            None => Vec::new(),
        };
        Ok(Some(
            Checkpoint::new(path.clone())
                .with_interval(std::time::Duration::from_secs_f64(*interval))
                .with_resume(*resume)
                .with_fingerprint(fingerprint),
        ))
    }

    /// A run's options: cancelled by the Python objective's error flag when it has one (an
    /// exception it raised stops the run), else by a flag of the run's own; Ctrl-C sets
    /// either (see [`observed`](Self::observed)).
    pub(crate) fn run_options(&self) -> RunOptions {
        let cancel = self
            .built
            .get()
            .and_then(|b| b.errors.as_ref())
            .map_or_else(
                || Arc::new(std::sync::atomic::AtomicBool::new(false)),
                |c| c.cancel.clone(),
            );
        RunOptions::default().with_cancel(cancel)
    }
}

/// `samples` (a `Samples` or `NestedSamples`) with its run's solver counts set.
fn with_solvers(
    py: Python<'_>,
    samples: Py<PyAny>,
    solvers: Option<&SolverUse>,
) -> PyResult<Py<PyAny>> {
    let counts = solvers.map(|s| s.to_dict(py)).transpose()?;
    samples.bind(py).setattr("solver_counts", counts)?;
    Ok(samples)
}
