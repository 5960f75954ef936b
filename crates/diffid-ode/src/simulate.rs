//! Solving a compiled model at the data times.

use crate::schedule::{Event, Schedule};
use crate::steady::{SteadySpec, Tolerances};
use crate::Dose;
use crate::{DiffslModel, OdeError, SolveError};
use diffid_core::{SimulationError, Simulator};
use diffsol::{NonLinearOp, OdeEquations, OdeSolverMethod, OdeSolverStopReason, Vector};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

#[cfg(all(feature = "diffsl-cranelift", feature = "diffsl-llvm"))]
compile_error!(
    "diffid-ode: the features `diffsl-cranelift` (a default) and `diffsl-llvm` both choose the \
     DiffSL JIT backend; pick one: `--no-default-features --features diffsl-llvm` for LLVM"
);

#[cfg(not(feature = "diffsl-llvm"))]
pub(crate) type Codegen = diffsol::CraneliftJitModule;
#[cfg(feature = "diffsl-llvm")]
pub(crate) type Codegen = diffsol::LlvmModule;

/// The diffsol integration method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SolverKind {
    /// Chosen for the model (the default): a probe solve at the initial parameters
    /// ([`OdeSimulator::probe`]) picks BDF when the explicit method fails within a step budget
    /// tied to the data (stiffness), else Tsit45; and a Tsit45 solve that fails at a candidate
    /// (step budget, step size, non-finite state) is redone with BDF at that candidate. The
    /// choice depends only on the point, so runs stay bit-identical at any thread count.
    #[default]
    Auto,
    /// Tsitouras 5(4) explicit Runge–Kutta: the fastest for non-stiff models.
    Tsit45,
    /// Variable-order BDF: robust for stiff models.
    Bdf,
    /// ESDIRK 3(4), a singly diagonally implicit Runge–Kutta method: stiff models, moderate
    /// accuracy.
    Esdirk34,
    /// TR-BDF2, an implicit method for stiff models at loose tolerances.
    TrBdf2,
}

impl SolverKind {
    /// The method's name as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Tsit45 => "tsit45",
            Self::Bdf => "bdf",
            Self::Esdirk34 => "esdirk34",
            Self::TrBdf2 => "tr_bdf2",
        }
    }
}

impl FromStr for SolverKind {
    type Err = OdeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "tsit45" => Ok(Self::Tsit45),
            "bdf" => Ok(Self::Bdf),
            "esdirk34" => Ok(Self::Esdirk34),
            "tr_bdf2" | "trbdf2" => Ok(Self::TrBdf2),
            _ => Err(OdeError::UnknownSolver { name: s.to_owned() }),
        }
    }
}

/// The linear algebra behind the implicit solvers' Newton iterations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Dense matrices and LU (nalgebra): the fastest for small systems (the default).
    #[default]
    Dense,
    /// Sparse matrices and sparse LU (faer), with the Jacobian's sparsity taken from the
    /// compiled model: for large systems whose states interact locally.
    Sparse,
}

impl Backend {
    /// The backend's name as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Dense => "dense",
            Self::Sparse => "sparse",
        }
    }
}

impl FromStr for Backend {
    type Err = OdeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "dense" => Ok(Self::Dense),
            "sparse" => Ok(Self::Sparse),
            _ => Err(OdeError::UnknownBackend { name: s.to_owned() }),
        }
    }
}

/// Solver settings for one simulator.
///
/// Built from the default with its `with_*` methods (it may gain fields):
/// `SolveOptions::default().with_solver(SolverKind::Bdf).with_tolerances(1e-8, 1e-10)`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SolveOptions {
    /// Integration method.
    pub solver: SolverKind,
    /// Relative tolerance (default 1e-6).
    pub rtol: f64,
    /// Absolute tolerance (default 1e-8).
    pub atol: f64,
    /// Step budget per solve (default 100 000); a solve that needs more fails.
    pub max_steps: usize,
    /// Linear algebra (default dense).
    pub backend: Backend,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            solver: SolverKind::default(),
            rtol: 1e-6,
            atol: 1e-8,
            max_steps: 100_000,
            backend: Backend::default(),
        }
    }
}

impl SolveOptions {
    /// The same options with the integration method `solver`.
    #[must_use]
    pub fn with_solver(mut self, solver: SolverKind) -> Self {
        self.solver = solver;
        self
    }

    /// The same options with relative and absolute tolerances `rtol` and `atol` (checked by
    /// [`validate`](Self::validate) and wherever the options are used).
    #[must_use]
    pub fn with_tolerances(mut self, rtol: f64, atol: f64) -> Self {
        self.rtol = rtol;
        self.atol = atol;
        self
    }

    /// The same options with a step budget of `max_steps` per solve.
    #[must_use]
    pub fn with_max_steps(mut self, max_steps: usize) -> Self {
        self.max_steps = max_steps;
        self
    }

    /// The same options with the linear-algebra `backend`.
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Checks the tolerances.
    ///
    /// # Errors
    /// [`OdeError::InvalidTolerances`] unless both are finite and positive.
    pub fn validate(&self) -> Result<(), OdeError> {
        if self.rtol.is_finite() && self.rtol > 0.0 && self.atol.is_finite() && self.atol > 0.0 {
            Ok(())
        } else {
            Err(OdeError::InvalidTolerances {
                rtol: self.rtol,
                atol: self.atol,
            })
        }
    }
}

/// The explicit budget under `SolverKind::Auto`, in multiples of the probe's steps, and its
/// floor (see `OdeSimulator::explicit_budget`).
const PROBE_STEP_FACTOR: usize = 20;
const PROBE_STEP_FLOOR: usize = 1000;

/// What one solve uses: a concrete method and a step budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub kind: SolverKind,
    pub max_steps: usize,
    /// Give up early once the steps so far, extrapolated over the horizon, exceed the budget
    /// (checked after a tenth of it): the explicit attempt of `SolverKind::Auto`, whose
    /// failure only sends the solve to BDF, so a stiff or exploding candidate costs a tenth
    /// of the budget instead of all of it.
    pub project: bool,
}

/// The automatic solver's state: the probe's decision and how many solves used each method.
#[derive(Debug, Default)]
struct Auto {
    /// Set by the probe when the model is stiff at the initial parameters: BDF throughout.
    stiff: AtomicBool,
    explicit: AtomicUsize,
    implicit: AtomicUsize,
    /// Explicit solves that failed and were redone with BDF.
    fallbacks: AtomicUsize,
    /// Steps the probe's explicit solve took at the initial parameters (0: no probe yet).
    probe_steps: AtomicUsize,
}

/// How many solves used which method (see [`OdeSimulator::solver_counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SolverCounts {
    /// Solves by Tsit45.
    pub explicit: usize,
    /// Solves by BDF (including redone explicit ones).
    pub implicit: usize,
    /// Tsit45 solves that failed and were redone with BDF.
    pub fallbacks: usize,
}

/// Checks output times against the start `t0`: finite, increasing, none before `t0`.
fn check_times(times: &[f64], t0: f64) -> Result<(), OdeError> {
    if !t0.is_finite() {
        return Err(OdeError::TimeBeforeStart {
            row: 0,
            time: times.first().copied().unwrap_or(f64::NAN),
            t0,
        });
    }
    if let Some((row, &time)) = times
        .iter()
        .enumerate()
        .find(|(_, &t)| t.is_nan() || t < t0)
    {
        if time.is_nan() {
            return Err(OdeError::Times {
                reason: format!("time {row} is NaN"),
            });
        }
        return Err(OdeError::TimeBeforeStart { row, time, t0 });
    }
    if let Some(row) = (1..times.len()).find(|&i| times[i] <= times[i - 1]) {
        return Err(OdeError::Times {
            reason: format!(
                "times must increase: time {row} ({}) is not after time {} ({})",
                times[row],
                row - 1,
                times[row - 1]
            ),
        });
    }
    if let Some(row) = times.iter().position(|t| !t.is_finite()) {
        return Err(OdeError::Times {
            reason: format!("time {row} is not finite ({})", times[row]),
        });
    }
    Ok(())
}

/// Whether a failed explicit solve looks like stiffness (or any failure BDF may survive).
fn retry_with_bdf(e: &SolveError) -> bool {
    matches!(
        e,
        SolveError::TooManySteps { .. } | SolveError::Solver { .. } | SolveError::NonFinite { .. }
    )
}

/// Runs `$body` with `$s` bound to a fresh solver of kind `$kind` for `$problem` (a macro,
/// since each method is its own type).
macro_rules! with_solver {
    ($problem:expr, $kind:expr, $ls:ty, |$s:ident| $body:expr) => {{
        let problem = $problem;
        let err = |e: diffsol::DiffsolError| $crate::SolveError::Solver {
            t: f64::NAN,
            message: e.to_string(),
        };
        match $kind {
            $crate::SolverKind::Tsit45 => {
                let $s = problem.tsit45().map_err(err)?;
                $body
            }
            $crate::SolverKind::Bdf => {
                let $s = problem.bdf::<$ls>().map_err(err)?;
                $body
            }
            $crate::SolverKind::Esdirk34 => {
                let $s = problem.esdirk34::<$ls>().map_err(err)?;
                $body
            }
            $crate::SolverKind::TrBdf2 => {
                let $s = problem.tr_bdf2::<$ls>().map_err(err)?;
                $body
            }
            $crate::SolverKind::Auto => Err($crate::SolveError::Solver {
                t: f64::NAN,
                message: "internal: the automatic choice was not resolved to a method".to_owned(),
            }),
        }
    }};
}
pub(crate) use with_solver;

/// Steps `s` to the last of `times`, calling `at(col, t, y)` with the state at each time in
/// turn, and `after_step(t)` after every step (which may end the solve with an error). Stops
/// exactly at each of `events` (sorted) and applies its jumps there, after the outputs at that
/// time (see the `schedule` module). Enforces the step budget and finiteness; a `stop` root
/// ends the solve as [`SolveError::StoppedEarly`].
pub(crate) fn drive<'a, E, S>(
    s: S,
    times: &[f64],
    events: &[Event],
    plan: Plan,
    y: &mut E::V,
    at: impl FnMut(usize, f64, &E::V) -> Result<(), SolveError>,
    after_step: impl FnMut(f64, &E::V) -> Result<(), SolveError>,
) -> Result<(), SolveError>
where
    E: OdeEquations<T = f64> + 'a,
    S: OdeSolverMethod<'a, E>,
{
    let mut steps = 0;
    let result = drive_counted(s, times, events, plan, y, at, after_step, &mut steps);
    LAST_STEPS.with(|c| c.set(steps));
    result
}

thread_local! {
    /// Steps taken by the last [`drive`] on this thread (the probe reads its own).
    static LAST_STEPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The solve behind [`drive`], counting its steps into `steps`.
#[allow(clippy::too_many_arguments)] // the pieces of one solve
fn drive_counted<'a, E, S>(
    mut s: S,
    times: &[f64],
    events: &[Event],
    plan: Plan,
    y: &mut E::V,
    mut at: impl FnMut(usize, f64, &E::V) -> Result<(), SolveError>,
    mut after_step: impl FnMut(f64, &E::V) -> Result<(), SolveError>,
    steps: &mut usize,
) -> Result<(), SolveError>
where
    E: OdeEquations<T = f64> + 'a,
    S: OdeSolverMethod<'a, E>,
{
    let n = times.len();
    let Some(&t_end) = times.last() else {
        return Ok(());
    };
    let mut col = 0;
    let mut write = |s: &S, col: usize, y: &mut E::V| -> Result<(), SolveError> {
        let t = times[col];
        // Exactly at the current state (e.g. t0): copy it, no interpolation needed.
        if t == s.state().t {
            y.copy_from(s.state().y);
        } else {
            s.interpolate_inplace(t, y)
                .map_err(|e| SolveError::Solver {
                    t,
                    message: e.to_string(),
                })?;
        }
        at(col, t, y)
    };
    while col < n && times[col] <= s.state().t {
        write(&s, col, y)?;
        col += 1;
    }
    if col == n {
        return Ok(());
    }
    let fail = |t: f64, e: diffsol::DiffsolError| SolveError::Solver {
        t,
        message: e.to_string(),
    };
    let max_steps = plan.max_steps;
    let t_start = s.state().t;
    let mut next_event = 0;
    'segments: loop {
        // Apply the events at the current time (the outputs there are written already).
        while let Some(e) = events.get(next_event).filter(|e| e.time <= s.state().t) {
            // A breakpoint has no jumps: the solve restarts with the derivative after it.
            apply_jumps(&mut s, &e.jumps);
            next_event += 1;
        }
        let stop = events.get(next_event).map_or(t_end, |e| e.time.min(t_end));
        s.set_stop_time(stop).map_err(|e| fail(s.state().t, e))?;
        loop {
            let reason = s.step().map_err(|e| fail(s.state().t, e))?;
            *steps += 1;
            let t = s.state().t;
            match reason {
                OdeSolverStopReason::RootFound(t_root, _) => {
                    return Err(SolveError::StoppedEarly { t: t_root })
                }
                OdeSolverStopReason::InternalTimestep | OdeSolverStopReason::TstopReached => {
                    after_step(t, s.state().y)?;
                    while col < n && times[col] <= t {
                        write(&s, col, y)?;
                        col += 1;
                    }
                }
            }
            if col == n {
                break 'segments;
            }
            if matches!(reason, OdeSolverStopReason::TstopReached) {
                if stop < t_end {
                    continue 'segments;
                }
                break 'segments;
            }
            if !t.is_finite() {
                return Err(SolveError::NonFinite { t });
            }
            if *steps >= max_steps {
                return Err(SolveError::TooManySteps { max_steps, t });
            }
            if plan.project && *steps >= max_steps / 10 && t > t_start {
                // At this pace the budget would not reach the last time: stop now.
                let projected = *steps as f64 * (t_end - t_start) / (t - t_start);
                if projected > max_steps as f64 {
                    return Err(SolveError::TooManySteps { max_steps, t });
                }
            }
        }
    }
    if col < n {
        return Err(SolveError::Solver {
            t: s.state().t,
            message: "the solver stopped before the last data time".to_owned(),
        });
    }
    Ok(())
}

/// Adds each `(index, amount)` of `jumps` to the solver's state at its current time and
/// recomputes the state's derivative there, so the method restarts from the new state (and,
/// at a breakpoint with no jumps, from the right-hand side after the switch). The first
/// `index` entries of an augmented state are the model's states, so this serves both solves.
fn apply_jumps<'a, E, S>(s: &mut S, jumps: &[(usize, f64)])
where
    E: OdeEquations<T = f64> + 'a,
    S: OdeSolverMethod<'a, E>,
{
    restart(s, |y| {
        for &(i, amount) in jumps {
            let v = y.get_index(i);
            y.set_index(i, v + amount);
        }
    });
}

/// Replaces the solver's state at its current time by `y` (a steady state) and recomputes
/// the derivative there.
pub(crate) fn set_start<'a, E, S>(s: &mut S, y: &[f64])
where
    E: OdeEquations<T = f64> + 'a,
    S: OdeSolverMethod<'a, E>,
{
    restart(s, |state| {
        for (i, v) in y.iter().enumerate() {
            state.set_index(i, *v);
        }
    });
}

/// Changes the solver's state at its current time by `edit` and recomputes the derivative
/// there, so the method restarts from the changed state.
fn restart<'a, E, S>(s: &mut S, edit: impl FnOnce(&mut E::V))
where
    E: OdeEquations<T = f64> + 'a,
    S: OdeSolverMethod<'a, E>,
{
    let problem = s.problem();
    let state = s.state_mut();
    edit(state.y);
    problem.eqn.rhs().call_inplace(state.y, *state.t, state.dy);
}

pub(crate) use diffid_core::panic_message;

/// Compiles `model` for plain dense solves on this thread and keeps it cached.
pub(crate) fn warm_dense(model: &DiffslModel) -> Result<(), OdeError> {
    crate::dense::warm(model)
}

/// A model bound to data times and fitted parameters: parameters in, predictions out.
#[derive(Clone, Debug)]
pub struct OdeSimulator {
    pub(crate) model: DiffslModel,
    pub(crate) times: Vec<f64>,
    /// For each fitted parameter, the index of the input it sets.
    pub(crate) param_index: Vec<usize>,
    /// The full input vector with defaults; fitted entries are overwritten per evaluation.
    pub(crate) base_inputs: Vec<f64>,
    pub(crate) options: SolveOptions,
    /// The time the initial conditions hold at (default 0).
    pub(crate) t0: f64,
    /// Doses and breakpoints: where the integration stops and restarts.
    pub(crate) schedule: Arc<Schedule>,
    /// Pre-equilibration: the state at the start is the steady state under these inputs.
    pub(crate) steady: Option<Arc<SteadySpec>>,
    /// The automatic choice of method ([`SolverKind::Auto`]); shared by clones.
    auto: Arc<Auto>,
}

impl OdeSimulator {
    /// Binds `model` to the output `times` (>= 0, increasing) and to the fitted `params`, each
    /// matched by name to an `in_i` input, and compiles it for the chosen backend on this
    /// thread.
    ///
    /// # Errors
    /// [`OdeError::UnknownParameter`], [`OdeError::DuplicateParameter`], [`OdeError::NoDefault`]
    /// for an unfitted input without a numeric default, [`OdeError::TimeBeforeStart`],
    /// [`OdeError::InvalidTolerances`], [`OdeError::Compile`] when the backend cannot compile
    /// the model.
    pub fn new(
        model: DiffslModel,
        times: Vec<f64>,
        params: &[String],
        options: SolveOptions,
    ) -> Result<Self, OdeError> {
        options.validate()?;
        let inputs = model.inputs();
        let mut param_index = Vec::with_capacity(params.len());
        for (i, name) in params.iter().enumerate() {
            if params[..i].contains(name) {
                return Err(OdeError::DuplicateParameter { name: name.clone() });
            }
            param_index.push(model.input_index(name)?);
        }
        let mut base_inputs = Vec::with_capacity(inputs.len());
        for (k, inp) in inputs.iter().enumerate() {
            match inp.default {
                Some(v) => base_inputs.push(v),
                None if param_index.contains(&k) => base_inputs.push(0.0),
                None => {
                    return Err(OdeError::NoDefault {
                        name: inp.name.clone(),
                        line: inp.line,
                    })
                }
            }
        }
        let t0 = 0.0;
        check_times(&times, t0)?;
        let sim = Self {
            model,
            times,
            param_index,
            base_inputs,
            options,
            t0,
            schedule: Arc::default(),
            steady: None,
            auto: Arc::default(),
        };
        // Compile for the chosen backend now, so that its errors surface at build time.
        sim.warm()?;
        Ok(sim)
    }

    /// The same simulator with the initial conditions holding at `t0` instead of 0 (the model
    /// then starts there; every output time must be `>= t0`).
    ///
    /// # Errors
    /// [`OdeError::TimeBeforeStart`] for an output time before `t0`, or a `t0` that is not
    /// finite (reported as the first time).
    pub fn with_start(&self, t0: f64) -> Result<Self, OdeError> {
        check_times(&self.times, t0)?;
        let schedule = self.schedule.recheck(
            self.model.state_names(),
            self.model.has_mass(),
            t0,
            self.times.last().copied(),
        )?;
        Ok(Self {
            t0,
            schedule: Arc::new(schedule),
            ..self.clone()
        })
    }

    /// The same simulator with inputs that are not fitted set to other values (an
    /// experimental condition: a dose level, a knockout): `(input name, value)` pairs.
    ///
    /// # Errors
    /// [`OdeError::UnknownParameter`] for a name that is not an input; [`OdeError::Schedule`]
    /// for an input this simulator fits (its value comes from the parameters) or a value that
    /// is not finite.
    pub fn with_input_values(&self, values: &[(String, f64)]) -> Result<Self, OdeError> {
        let mut base = self.base_inputs.clone();
        for (name, value) in values {
            let idx = self.model.input_index(name)?;
            if self.param_index.contains(&idx) {
                return Err(OdeError::Schedule {
                    reason: format!(
                        "input '{name}' is fitted, so it cannot also be set to {value}"
                    ),
                });
            }
            if !value.is_finite() {
                return Err(OdeError::Schedule {
                    reason: format!("input '{name}' is set to {value}; it must be finite"),
                });
            }
            base[idx] = *value;
        }
        Ok(Self {
            base_inputs: base,
            ..self.clone()
        })
    }

    /// The same simulator with `doses` (in addition to any it has): each adds its amount to a
    /// state at its time; the integration stops exactly there and restarts. A prediction at
    /// the exact time of a dose is the state just *before* the dose. Sensitivities carry
    /// across each dose (the amounts and times are fixed, not fitted).
    ///
    /// # Errors
    /// [`OdeError::UnknownState`] for a dose into a state the model does not have;
    /// [`OdeError::Schedule`] for a dose time that is not finite, before the start or after
    /// the last output time, an amount that is not finite, or a model with a mass matrix.
    pub fn with_doses(&self, doses: &[Dose]) -> Result<Self, OdeError> {
        let mut all = self.schedule.doses.clone();
        all.extend_from_slice(doses);
        self.scheduled(all, self.schedule.breakpoints.clone())
    }

    /// The same simulator with `breakpoints` (in addition to any it has): times at which the
    /// model's right-hand side switches (an input written with `heaviside(t - t_s)`, an
    /// infusion that ends). The integration stops exactly at each and restarts from there,
    /// instead of stepping over the switch.
    ///
    /// # Errors
    /// [`OdeError::Schedule`] for a time that is not finite, before the start or after the
    /// last output time, or a model with a mass matrix.
    pub fn with_breakpoints(&self, breakpoints: &[f64]) -> Result<Self, OdeError> {
        let mut all = self.schedule.breakpoints.clone();
        all.extend_from_slice(breakpoints);
        self.scheduled(self.schedule.doses.clone(), all)
    }

    fn scheduled(&self, doses: Vec<Dose>, breakpoints: Vec<f64>) -> Result<Self, OdeError> {
        let schedule = Schedule::new(
            doses,
            breakpoints,
            self.model.state_names(),
            self.model.has_mass(),
            self.t0,
            self.times.last().copied(),
        )?;
        Ok(Self {
            schedule: Arc::new(schedule),
            ..self.clone()
        })
    }

    /// The same simulator starting from a steady state (pre-equilibration): before the
    /// experiment, the state is brought to the steady state `f(y*) = 0` of the model under
    /// its inputs with `overrides` (input name, value) applied — e.g. a stimulus at 0 — from
    /// `u_i` as the guess, by Newton's method with integration as the fallback; the experiment
    /// then starts from `y*` at the start time under the model's own inputs. Sensitivities
    /// follow from the implicit function theorem, so exact gradients keep working. A
    /// candidate without a reachable steady state fails with [`SolveError::SteadyState`].
    /// See the `steady` module for the convergence criterion.
    ///
    /// # Errors
    /// [`OdeError::Schedule`] for an override naming an input the model does not have, named
    /// twice, or not finite.
    pub fn with_steady_state(&self, overrides: &[(String, f64)]) -> Result<Self, OdeError> {
        let spec = SteadySpec::new(overrides, self.model.inputs())?;
        Ok(Self {
            steady: Some(Arc::new(spec)),
            ..self.clone()
        })
    }

    /// The pre-equilibration overrides, when the simulator starts from a steady state.
    pub fn steady_state(&self) -> Option<&[(String, f64)]> {
        self.steady.as_deref().map(|s| s.overrides.as_slice())
    }

    /// The tolerances a steady state is judged by: the solver's, over the experiment's span.
    pub(crate) fn steady_tolerances(&self) -> Tolerances {
        let end = self.times.last().copied().unwrap_or(self.t0);
        Tolerances {
            rtol: self.options.rtol,
            atol: self.options.atol,
            span: (end - self.t0).max(1.0),
        }
    }

    /// The doses, as given.
    pub fn doses(&self) -> &[Dose] {
        &self.schedule.doses
    }

    /// The breakpoints, as given.
    pub fn breakpoints(&self) -> &[f64] {
        &self.schedule.breakpoints
    }

    /// The stops of the integration, sorted by time.
    pub(crate) fn events(&self) -> &[Event] {
        &self.schedule.events
    }

    /// The same model, parameters, options and start, predicting at `times` (increasing,
    /// `>= t0`): simulation anywhere, by the solver's dense output. The compiled model is
    /// shared, and so is the automatic solver's choice.
    ///
    /// # Errors
    /// [`OdeError::TimeBeforeStart`] for a time before the start; [`OdeError::Times`] for
    /// times that are not finite or not increasing.
    pub fn with_times(&self, times: Vec<f64>) -> Result<Self, OdeError> {
        check_times(&times, self.t0)?;
        Ok(Self {
            times,
            ..self.clone()
        })
    }

    /// The time the initial conditions hold at.
    pub fn start(&self) -> f64 {
        self.t0
    }

    /// The model.
    pub fn model(&self) -> &DiffslModel {
        &self.model
    }

    /// The output times.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// The solver settings.
    pub fn options(&self) -> &SolveOptions {
        &self.options
    }

    /// A copy with other solver settings.
    ///
    /// # Errors
    /// [`OdeError::InvalidTolerances`]; [`OdeError::Compile`] when a new backend cannot
    /// compile the model.
    pub fn with_options(&self, options: SolveOptions) -> Result<Self, OdeError> {
        options.validate()?;
        let sim = Self {
            options,
            auto: Arc::default(),
            ..self.clone()
        };
        sim.warm()?;
        Ok(sim)
    }

    fn warm(&self) -> Result<(), OdeError> {
        match self.options.backend {
            Backend::Dense => crate::dense::warm(&self.model),
            Backend::Sparse => crate::sparse::warm(&self.model),
        }
    }

    /// The full `in_i` vector for fitted parameter values `params`.
    pub fn full_inputs(&self, params: &[f64]) -> Vec<f64> {
        let mut full = vec![0.0; self.base_inputs.len()];
        self.each_input(params, |i, v| full[i] = v);
        full
    }

    /// Calls `set(i, value)` for every model input: its fixed value, then the fitted ones
    /// from `params` (what [`full_inputs`](Self::full_inputs) collects, for writing in place).
    pub(crate) fn each_input(&self, params: &[f64], mut set: impl FnMut(usize, f64)) {
        for (i, &v) in self.base_inputs.iter().enumerate() {
            set(i, v);
        }
        for (&i, &v) in self.param_index.iter().zip(params) {
            set(i, v);
        }
    }

    /// Solves at `params`, writing predictions time-major into `out`.
    ///
    /// # Errors
    /// A [`SolveError`] saying why the solve failed; never panics.
    pub fn solve(&self, params: &[f64], out: &mut [f64]) -> Result<(), SolveError> {
        self.solve_watched(params, out, &mut |_| true)
    }

    /// As [`solve`](Self::solve), showing `watch` the predictions written so far after each
    /// output time (the first rows, time-major); when it returns `false` the solve stops
    /// there with [`SolveError::Cut`].
    ///
    /// # Errors
    /// As [`solve`](Self::solve), and [`SolveError::Cut`] when `watch` stopped it.
    pub fn solve_watched(
        &self,
        params: &[f64],
        out: &mut [f64],
        watch: &mut dyn FnMut(&[f64]) -> bool,
    ) -> Result<(), SolveError> {
        self.planned(|plan| match self.options.backend {
            Backend::Dense => crate::dense::solve(self, plan, params, out, watch),
            Backend::Sparse => crate::sparse::solve(self, plan, params, out, watch),
        })
    }

    /// The step budget of an explicit attempt under [`SolverKind::Auto`]: tied to the data
    /// (10 000 steps plus 100 per output time), never above the solve's own budget, and,
    /// once the probe has solved the initial parameters explicitly in `n` steps, at most
    /// `max(1000, 20 n)`: a candidate that needs twenty times the steps of the initial
    /// parameters is stiff (or exploding) there, and goes to BDF before wasting the rest. A
    /// solve also gives up early once its pace projects past the budget (see [`Plan`]). The
    /// budget depends on the model, the times, the options and the initial parameters only,
    /// so the choice of method stays a function of the point.
    fn explicit_budget(&self) -> usize {
        self.auto_budget().unwrap_or(self.options.max_steps)
    }

    /// Under [`SolverKind::Auto`], the step budget of an explicit attempt now (see
    /// `explicit_budget`); `None` for a named method.
    pub fn auto_budget(&self) -> Option<usize> {
        if self.options.solver != SolverKind::Auto {
            return None;
        }
        let horizon = (10_000 + 100 * self.times.len()).min(self.options.max_steps);
        Some(match self.auto.probe_steps.load(Ordering::Relaxed) {
            0 => horizon,
            n => horizon.min(PROBE_STEP_FLOOR.max(PROBE_STEP_FACTOR * n)),
        })
    }

    /// Runs `solve` with the method the options name, or the automatic choice.
    fn planned(
        &self,
        mut solve: impl FnMut(Plan) -> Result<(), SolveError>,
    ) -> Result<(), SolveError> {
        let max_steps = self.options.max_steps;
        if self.options.solver != SolverKind::Auto {
            return solve(Plan {
                kind: self.options.solver,
                max_steps,
                project: false,
            });
        }
        let auto = &self.auto;
        let bdf = Plan {
            kind: SolverKind::Bdf,
            max_steps,
            project: false,
        };
        if auto.stiff.load(Ordering::Relaxed) {
            auto.implicit.fetch_add(1, Ordering::Relaxed);
            return solve(bdf);
        }
        match solve(Plan {
            kind: SolverKind::Tsit45,
            max_steps: self.explicit_budget(),
            project: true,
        }) {
            Err(e) if retry_with_bdf(&e) => {
                auto.fallbacks.fetch_add(1, Ordering::Relaxed);
                auto.implicit.fetch_add(1, Ordering::Relaxed);
                solve(bdf)
            }
            other => {
                auto.explicit.fetch_add(1, Ordering::Relaxed);
                other
            }
        }
    }

    /// Under [`SolverKind::Auto`], decides the method from a solve at `params` (the initial
    /// parameters): BDF for every later solve when the explicit method fails there and BDF
    /// succeeds (the model is stiff), else Tsit45 first with BDF as a per-candidate fallback.
    /// Returns the method chosen (`None` when the options name one, or when both fail at
    /// `params`, which leaves the per-candidate rule). Deterministic: it depends on the model,
    /// the times, the options and `params` only. The probe's solves are not counted.
    pub fn probe(&self, params: &[f64]) -> Option<SolverKind> {
        if self.options.solver != SolverKind::Auto {
            return None;
        }
        let mut out = vec![0.0; self.times.len() * self.model.n_outputs()];
        let mut attempt = |kind, max_steps| {
            let plan = Plan {
                kind,
                max_steps,
                project: kind == SolverKind::Tsit45,
            };
            match self.options.backend {
                Backend::Dense => crate::dense::solve(self, plan, params, &mut out, &mut |_| true),
                Backend::Sparse => {
                    crate::sparse::solve(self, plan, params, &mut out, &mut |_| true)
                }
            }
        };
        self.auto.probe_steps.store(0, Ordering::Relaxed);
        match attempt(SolverKind::Tsit45, self.explicit_budget()) {
            Ok(()) => {
                let steps = LAST_STEPS.with(std::cell::Cell::get);
                self.auto.probe_steps.store(steps.max(1), Ordering::Relaxed);
                Some(SolverKind::Tsit45)
            }
            Err(e) if retry_with_bdf(&e) => {
                if attempt(SolverKind::Bdf, self.options.max_steps).is_ok() {
                    self.auto.stiff.store(true, Ordering::Relaxed);
                    Some(SolverKind::Bdf)
                } else {
                    None
                }
            }
            Err(_) => None,
        }
    }

    /// Under [`SolverKind::Auto`], the method the probe chose (`None` before a probe, or with a
    /// named method).
    pub fn auto_choice(&self) -> Option<SolverKind> {
        (self.options.solver == SolverKind::Auto).then(|| {
            if self.auto.stiff.load(Ordering::Relaxed) {
                SolverKind::Bdf
            } else {
                SolverKind::Tsit45
            }
        })
    }

    /// How many solves (plain and with sensitivities) used each method under
    /// [`SolverKind::Auto`], over this simulator's life.
    pub fn solver_counts(&self) -> SolverCounts {
        SolverCounts {
            explicit: self.auto.explicit.load(Ordering::Relaxed),
            implicit: self.auto.implicit.load(Ordering::Relaxed),
            fallbacks: self.auto.fallbacks.load(Ordering::Relaxed),
        }
    }

    /// Solves at `params`, writing the predictions time-major into `out` and their exact
    /// sensitivities into `sensitivities` (`out.len() × params.len()`, row-major:
    /// `sensitivities[k * P + j] = ∂ out[k] / ∂ params[j]`). See the crate documentation for
    /// how they are computed.
    ///
    /// # Errors
    /// A [`SolveError`] saying why the solve failed (as [`solve`](Self::solve)); never
    /// panics.
    pub fn solve_with_sensitivities(
        &self,
        params: &[f64],
        out: &mut [f64],
        sensitivities: &mut [f64],
    ) -> Result<(), SolveError> {
        self.planned(|plan| match self.options.backend {
            Backend::Dense => {
                crate::dense::solve_with_sensitivities(self, plan, params, out, sensitivities)
            }
            Backend::Sparse => {
                crate::sparse::solve_with_sensitivities(self, plan, params, out, sensitivities)
            }
        })
    }
}

impl Simulator for OdeSimulator {
    fn n_params(&self) -> usize {
        self.param_index.len()
    }

    fn n_predictions(&self) -> usize {
        self.times.len() * self.model.n_outputs()
    }

    fn simulate(&self, params: &[f64], out: &mut [f64]) -> Result<(), SimulationError> {
        self.solve(params, out).map_err(SimulationError::new)
    }

    fn simulate_watched(
        &self,
        params: &[f64],
        out: &mut [f64],
        watch: &mut dyn FnMut(&[f64]) -> bool,
    ) -> Result<bool, SimulationError> {
        match self.solve_watched(params, out, watch) {
            Ok(()) => Ok(true),
            Err(SolveError::Cut { .. }) => Ok(false),
            Err(e) => Err(SimulationError::new(e)),
        }
    }

    fn has_sensitivities(&self) -> bool {
        true
    }

    fn simulate_with_sensitivities(
        &self,
        params: &[f64],
        out: &mut [f64],
        sensitivities: &mut [f64],
    ) -> Result<(), SimulationError> {
        self.solve_with_sensitivities(params, out, sensitivities)
            .map_err(SimulationError::new)
    }
}
