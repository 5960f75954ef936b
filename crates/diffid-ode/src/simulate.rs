//! Solving a compiled model at the data times, with a per-thread cache of compiled problems.

use crate::model::ModelInner;
use crate::{DiffslModel, OdeError, SolveError};
use diffid_core::Simulator;
use diffsol::{
    NalgebraLU, NalgebraMat, NalgebraVec, NonLinearOp, OdeBuilder, OdeEquations, OdeSolverMethod,
    OdeSolverProblem, OdeSolverStopReason, Op, Vector,
};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;
use std::sync::Weak;

#[cfg(not(feature = "diffsl-llvm"))]
type Codegen = diffsol::CraneliftJitModule;
#[cfg(feature = "diffsl-llvm")]
type Codegen = diffsol::LlvmModule;

type Mat = NalgebraMat<f64>;
type Vect = NalgebraVec<f64>;
type Eqn = diffsol::DiffSl<Mat, Codegen>;
type Problem = OdeSolverProblem<Eqn>;

/// The diffsol integration method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SolverKind {
    /// Tsitouras 5(4) explicit Runge–Kutta: the fastest for non-stiff models (the default).
    #[default]
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
            "tsit45" => Ok(Self::Tsit45),
            "bdf" => Ok(Self::Bdf),
            "esdirk34" => Ok(Self::Esdirk34),
            "tr_bdf2" | "trbdf2" => Ok(Self::TrBdf2),
            _ => Err(OdeError::UnknownSolver { name: s.to_owned() }),
        }
    }
}

/// Solver settings for one simulator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SolveOptions {
    /// Integration method.
    pub solver: SolverKind,
    /// Relative tolerance (default 1e-6).
    pub rtol: f64,
    /// Absolute tolerance (default 1e-8).
    pub atol: f64,
    /// Step budget per solve (default 100 000); a solve that needs more fails.
    pub max_steps: usize,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            solver: SolverKind::default(),
            rtol: 1e-6,
            atol: 1e-8,
            max_steps: 100_000,
        }
    }
}

impl SolveOptions {
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

/// A compiled problem owned by one thread, with its scratch vectors.
struct Compiled {
    problem: Problem,
    inputs: Vect,
    y: Vect,
    out: Vect,
    atol: f64,
}

struct Slot {
    id: u64,
    alive: Weak<ModelInner>,
    compiled: Option<Box<Compiled>>,
}

thread_local! {
    /// Compiled problems of this thread, one per live model. Entries of dropped models are
    /// purged whenever the cache is consulted.
    static CACHE: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

fn compile(model: &DiffslModel) -> Result<Box<Compiled>, OdeError> {
    let inner = &model.inner;
    let compiled = catch_unwind(AssertUnwindSafe(|| {
        OdeBuilder::<Mat>::new().build_from_diffsl::<Codegen>(&inner.code)
    }))
    .map_err(|p| OdeError::Compile {
        message: panic_message(&p),
    })?
    .map_err(|e| OdeError::Compile {
        message: e.to_string(),
    })?;
    let ctx = *compiled.context();
    let nstates = compiled.eqn.rhs().nstates();
    let nout = compiled.eqn.out().map_or(nstates, |o| o.nout());
    Ok(Box::new(Compiled {
        inputs: Vect::zeros(inner.inputs.len(), ctx),
        y: Vect::zeros(nstates, ctx),
        out: Vect::zeros(nout, ctx),
        atol: f64::NAN,
        problem: compiled,
    }))
}

/// Takes this thread's compiled problem for `model` out of the cache (compiling it when absent).
fn take(model: &DiffslModel) -> Result<Box<Compiled>, OdeError> {
    let cached = CACHE.with_borrow_mut(|cache| {
        cache.retain(|s| s.alive.strong_count() > 0);
        cache
            .iter_mut()
            .find(|s| s.id == model.inner.id)
            .and_then(|s| s.compiled.take())
    });
    match cached {
        Some(c) => Ok(c),
        None => compile(model),
    }
}

/// Returns a compiled problem to this thread's cache.
fn put_back(model: &DiffslModel, compiled: Box<Compiled>) {
    CACHE.with_borrow_mut(|cache| {
        if let Some(slot) = cache.iter_mut().find(|s| s.id == model.inner.id) {
            slot.compiled = Some(compiled);
        } else {
            cache.push(Slot {
                id: model.inner.id,
                alive: std::sync::Arc::downgrade(&model.inner),
                compiled: Some(compiled),
            });
        }
    });
}

/// Compiles `model` on this thread and keeps it cached.
pub(crate) fn warm(model: &DiffslModel) -> Result<(), OdeError> {
    let c = take(model)?;
    put_back(model, c);
    Ok(())
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// A model bound to data times and fitted parameters: parameters in, predictions out.
#[derive(Clone, Debug)]
pub struct OdeSimulator {
    model: DiffslModel,
    times: Vec<f64>,
    /// For each fitted parameter, the index of the input it sets.
    param_index: Vec<usize>,
    /// The full input vector with defaults; fitted entries are overwritten per evaluation.
    base_inputs: Vec<f64>,
    options: SolveOptions,
}

impl OdeSimulator {
    /// Binds `model` to the output `times` (>= 0, increasing) and to the fitted `params`, each
    /// matched by name to an `in_i` input.
    ///
    /// # Errors
    /// [`OdeError::UnknownParameter`], [`OdeError::DuplicateParameter`], [`OdeError::NoDefault`]
    /// for an unfitted input without a numeric default, [`OdeError::TimeBeforeStart`],
    /// [`OdeError::InvalidTolerances`].
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
            let idx = inputs
                .iter()
                .position(|inp| &inp.name == name)
                .ok_or_else(|| OdeError::UnknownParameter {
                    name: name.clone(),
                    known: inputs.iter().map(|inp| inp.name.clone()).collect(),
                })?;
            param_index.push(idx);
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
        if let Some((row, &time)) = times.iter().enumerate().find(|(_, &t)| t < t0) {
            return Err(OdeError::TimeBeforeStart { row, time, t0 });
        }
        Ok(Self {
            model,
            times,
            param_index,
            base_inputs,
            options,
        })
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
    /// [`OdeError::InvalidTolerances`].
    pub fn with_options(&self, options: SolveOptions) -> Result<Self, OdeError> {
        options.validate()?;
        Ok(Self {
            options,
            ..self.clone()
        })
    }

    /// The full `in_i` vector for fitted parameter values `params`.
    pub fn full_inputs(&self, params: &[f64]) -> Vec<f64> {
        let mut full = self.base_inputs.clone();
        for (&i, &v) in self.param_index.iter().zip(params) {
            full[i] = v;
        }
        full
    }

    /// Solves at `params`, writing predictions time-major into `out`.
    ///
    /// # Errors
    /// A [`SolveError`] saying why the solve failed; never panics.
    pub fn solve(&self, params: &[f64], out: &mut [f64]) -> Result<(), SolveError> {
        let mut compiled = take(&self.model).map_err(|e| SolveError::Panicked {
            message: e.to_string(),
        })?;
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.solve_with(&mut compiled, params, out)
        }));
        match result {
            Ok(r) => {
                put_back(&self.model, compiled);
                r
            }
            // The compiled problem may be inconsistent after a panic: drop it; the next
            // evaluation on this thread recompiles.
            Err(p) => Err(SolveError::Panicked {
                message: panic_message(&p),
            }),
        }
    }

    fn solve_with(
        &self,
        c: &mut Compiled,
        params: &[f64],
        out: &mut [f64],
    ) -> Result<(), SolveError> {
        let ctx = *c.problem.context();
        for (k, &v) in self.base_inputs.iter().enumerate() {
            c.inputs.set_index(k, v);
        }
        for (&i, &v) in self.param_index.iter().zip(params) {
            c.inputs.set_index(i, v);
        }
        c.problem.eqn.set_params(&c.inputs);
        c.problem.rtol = self.options.rtol;
        if c.atol.to_bits() != self.options.atol.to_bits() {
            c.problem.atol = Vect::from_element(c.y.len(), self.options.atol, ctx);
            c.atol = self.options.atol;
        }
        let Compiled {
            problem, y, out: o, ..
        } = c;
        let problem: &Problem = problem;
        let err = |e: diffsol::DiffsolError| SolveError::Solver {
            t: f64::NAN,
            message: e.to_string(),
        };
        let mut sink = Sink {
            times: &self.times,
            y,
            o,
            out,
            max_steps: self.options.max_steps,
        };
        match self.options.solver {
            SolverKind::Tsit45 => sink.drive(problem.tsit45().map_err(err)?),
            SolverKind::Bdf => sink.drive(problem.bdf::<NalgebraLU<f64>>().map_err(err)?),
            SolverKind::Esdirk34 => sink.drive(problem.esdirk34::<NalgebraLU<f64>>().map_err(err)?),
            SolverKind::TrBdf2 => sink.drive(problem.tr_bdf2::<NalgebraLU<f64>>().map_err(err)?),
        }
    }
}

/// Steps a solver and writes the outputs at the requested times.
struct Sink<'s> {
    times: &'s [f64],
    y: &'s mut Vect,
    o: &'s mut Vect,
    out: &'s mut [f64],
    max_steps: usize,
}

impl Sink<'_> {
    fn drive<'a, S: OdeSolverMethod<'a, Eqn>>(&mut self, mut s: S) -> Result<(), SolveError> {
        let n = self.times.len();
        let Some(&t_end) = self.times.last() else {
            return Ok(());
        };
        let mut col = 0;
        while col < n && self.times[col] <= s.state().t {
            self.write(&s, col)?;
            col += 1;
        }
        if col == n {
            return Ok(());
        }
        let fail = |t: f64, e: diffsol::DiffsolError| SolveError::Solver {
            t,
            message: e.to_string(),
        };
        s.set_stop_time(t_end).map_err(|e| fail(s.state().t, e))?;
        let mut steps = 0usize;
        loop {
            let reason = s.step().map_err(|e| fail(s.state().t, e))?;
            steps += 1;
            let t = s.state().t;
            match reason {
                OdeSolverStopReason::RootFound(t_root, _) => {
                    return Err(SolveError::StoppedEarly { t: t_root })
                }
                OdeSolverStopReason::InternalTimestep | OdeSolverStopReason::TstopReached => {
                    while col < n && self.times[col] <= t {
                        self.write(&s, col)?;
                        col += 1;
                    }
                }
            }
            if col == n || matches!(reason, OdeSolverStopReason::TstopReached) {
                break;
            }
            if !t.is_finite() {
                return Err(SolveError::NonFinite { t });
            }
            if steps >= self.max_steps {
                return Err(SolveError::TooManySteps {
                    max_steps: self.max_steps,
                    t,
                });
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

    fn write<'a, S: OdeSolverMethod<'a, Eqn>>(
        &mut self,
        s: &S,
        col: usize,
    ) -> Result<(), SolveError> {
        let t = self.times[col];
        // Exactly at the current state (e.g. t0): copy it, no interpolation needed.
        if t == s.state().t {
            self.y.copy_from(s.state().y);
        } else {
            s.interpolate_inplace(t, self.y)
                .map_err(|e| SolveError::Solver {
                    t,
                    message: e.to_string(),
                })?;
        }
        let values: &Vect = match s.problem().eqn.out() {
            Some(out) => {
                out.call_inplace(self.y, t, self.o);
                self.o
            }
            None => self.y,
        };
        let k = values.len();
        let row = &mut self.out[col * k..(col + 1) * k];
        for (j, r) in row.iter_mut().enumerate() {
            let v = values.get_index(j);
            if !v.is_finite() {
                return Err(SolveError::NonFinite { t });
            }
            *r = v;
        }
        Ok(())
    }
}

impl Simulator for OdeSimulator {
    fn n_params(&self) -> usize {
        self.param_index.len()
    }

    fn n_predictions(&self) -> usize {
        self.times.len() * self.model.n_outputs()
    }

    fn simulate(&self, params: &[f64], out: &mut [f64]) -> Result<(), String> {
        self.solve(params, out).map_err(|e| e.to_string())
    }
}
