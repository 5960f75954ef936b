// The solves of one linear-algebra backend. This file is included by the modules `dense` and
// `sparse` (see lib.rs), each of which first defines `M` (the matrix type), `LS` (the linear
// solver of implicit methods) and `BACKEND`; writing the code once over concrete types keeps it
// free of the trait bounds a generic version over diffsol's matrices would need.

use crate::cache::{self, Key};
use crate::sens::{compile_core, Core, InitFn, JacFn, MassFn, RhsFn};
use crate::simulate::{drive, panic_message, set_start, with_solver, Codegen, Plan};
use crate::steady;
use crate::{DiffslModel, OdeError, OdeSimulator, SolveError};
use diffsol::{
    Closure, ConstantClosure, ConstantOp, LinearClosure, MatrixCommon, NonLinearOp,
    NonLinearOpJacobian, OdeBuilder, OdeEquations,
    OdeEquationsImplicit, OdeSolverEquations, OdeSolverProblem, Op, UnitCallable, Vector,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

type V = <M as MatrixCommon>::V;
type Eqn = diffsol::DiffSl<M, Codegen>;
/// The augmented system of an ODE, and of a model with a mass matrix.
type AugEqn<Mass> = OdeSolverEquations<
    M,
    Closure<M, RhsFn, JacFn>,
    ConstantClosure<M, InitFn>,
    Mass,
    UnitCallable<M>,
    UnitCallable<M>,
    UnitCallable<M>,
>;
type OdeAug = AugEqn<UnitCallable<M>>;
type DaeAug = AugEqn<LinearClosure<M, MassFn>>;

/// A compiled problem owned by one thread, with its scratch vectors.
struct Compiled {
    problem: OdeSolverProblem<Eqn>,
    inputs: V,
    y: V,
    out: V,
    atol: f64,
}

fn compile(model: &DiffslModel) -> Result<Box<Compiled>, OdeError> {
    let code = model.code();
    let compiled = catch_unwind(AssertUnwindSafe(|| {
        OdeBuilder::<M>::new().build_from_diffsl::<Codegen>(code)
    }))
    .map_err(|p| OdeError::Compile {
        message: panic_message(p.as_ref()),
    })?
    .map_err(|e| OdeError::Compile {
        message: e.to_string(),
    })?;
    let ctx = *compiled.context();
    let nstates = compiled.eqn.rhs().nstates();
    let nout = compiled.eqn.out().map_or(nstates, |o| o.nout());
    Ok(Box::new(Compiled {
        inputs: V::zeros(model.inputs().len(), ctx),
        y: V::zeros(nstates, ctx),
        out: V::zeros(nout, ctx),
        atol: f64::NAN,
        problem: compiled,
    }))
}

/// Compiles `model` for plain solves on this thread (once) and keeps it cached.
pub(crate) fn warm(model: &DiffslModel) -> Result<(), OdeError> {
    cache::warm(model, Key::Value(BACKEND), || compile(model))
}

/// [`OdeSimulator::solve`] on this backend.
pub(crate) fn solve(
    sim: &OdeSimulator,
    plan: Plan,
    params: &[f64],
    out: &mut [f64],
    watch: &mut dyn FnMut(&[f64]) -> bool,
) -> Result<(), SolveError> {
    cache::with_entry(
        &sim.model,
        Key::Value(BACKEND),
        || compile(&sim.model),
        |c: &mut Compiled| solve_with(sim, plan, c, params, out, watch),
    )
}

fn solve_with(
    sim: &OdeSimulator,
    plan: Plan,
    c: &mut Compiled,
    params: &[f64],
    out: &mut [f64],
    watch: &mut dyn FnMut(&[f64]) -> bool,
) -> Result<(), SolveError> {
    let ctx = *c.problem.context();
    c.problem.t0 = sim.t0;
    c.problem.rtol = sim.options.rtol;
    if c.atol.to_bits() != sim.options.atol.to_bits() {
        c.problem.atol = V::from_element(c.y.len(), sim.options.atol, ctx);
        c.atol = sim.options.atol;
    }
    let start = match sim.steady.as_deref() {
        None => None,
        Some(spec) => {
            let mut inputs = sim.full_inputs(params);
            spec.apply(&mut inputs);
            set_inputs(&mut c.inputs, &inputs);
            c.problem.eqn.set_params(&c.inputs);
            c.problem.ode_options.max_number_timesteps =
                sim.options.max_steps.saturating_add(1);
            Some(steady_plain(sim, &c.problem)?)
        }
    };
    // The model's inputs with the fitted ones set, written in place (no allocation).
    sim.each_input(params, |i, v| c.inputs.set_index(i, v));
    c.problem.eqn.set_params(&c.inputs);
    // Our step budget governs (diffsol's own defaults to 5000); `drive` reports it.
    c.problem.ode_options.max_number_timesteps = plan.max_steps.saturating_add(1);
    let Compiled {
        problem, y, out: o, ..
    } = c;
    let problem: &OdeSolverProblem<Eqn> = problem;
    let times = &sim.times;
    let at = |col: usize, t: f64, y: &V| -> Result<(), SolveError> {
        let values: &V = match problem.eqn.out() {
            Some(op) => {
                op.call_inplace(y, t, o);
                o
            }
            None => y,
        };
        let k = values.len();
        let row = &mut out[col * k..(col + 1) * k];
        for (j, r) in row.iter_mut().enumerate() {
            let v = values.get_index(j);
            if !v.is_finite() {
                return Err(SolveError::NonFinite { t });
            }
            *r = v;
        }
        if watch(&out[..(col + 1) * k]) {
            Ok(())
        } else {
            Err(SolveError::Cut { t })
        }
    };
    let no_check = |_: f64, _: &V| Ok(());
    let events = sim.events();
    with_solver!(problem, plan.kind, LS, |s| {
        let mut s = s;
        if let Some(y0) = &start {
            set_start(&mut s, y0);
        }
        drive(s, times, events, plan, y, at, no_check)
    })
}

fn set_inputs(v: &mut V, values: &[f64]) {
    for (k, &x) in values.iter().enumerate() {
        v.set_index(k, x);
    }
}

/// The steady state of the plain problem under the inputs it holds now (see the `steady`
/// module): Newton from `u_i`, else integration with BDF, polished by Newton when it can.
fn steady_plain(sim: &OdeSimulator, problem: &OdeSolverProblem<Eqn>) -> Result<Vec<f64>, SolveError> {
    let t0 = sim.t0;
    let ctx = *problem.context();
    let rhs = problem.eqn.rhs();
    let n = rhs.nstates();
    let mut y0 = V::zeros(n, ctx);
    problem.eqn.init().call_inplace(t0, &mut y0);
    let tol = sim.steady_tolerances();
    let (mut xa, mut fa) = (V::zeros(n, ctx), V::zeros(n, ctx));
    let mut f = |y: &[f64], out: &mut [f64]| {
        set_inputs(&mut xa, y);
        rhs.call_inplace(&xa, t0, &mut fa);
        for (i, o) in out.iter_mut().enumerate() {
            *o = fa.get_index(i);
        }
    };
    let (mut xb, mut vb, mut fb) = (V::zeros(n, ctx), V::zeros(n, ctx), V::zeros(n, ctx));
    let mut jv = |y: &[f64], v: &[f64], out: &mut [f64]| {
        set_inputs(&mut xb, y);
        set_inputs(&mut vb, v);
        rhs.jac_mul_inplace(&xb, t0, &vb, &mut fb);
        for (i, o) in out.iter_mut().enumerate() {
            *o = fb.get_index(i);
        }
    };
    let mut y = y0.clone_as_vec();
    let Err(newton) = steady::newton(&mut y, tol, &mut f, &mut jv) else {
        return Ok(y);
    };
    let settled = settle_by_bdf::<_, LS>(problem, sim, &newton)?;
    // Polish: Newton from the settled state, kept only when it converges.
    let mut polished = settled.clone();
    Ok(match steady::newton(&mut polished, tol, &mut f, &mut jv) {
        Ok(_) => polished,
        Err(_) => settled,
    })
}

/// The fallback when Newton failed (`newton` says why): `problem` integrated with BDF from
/// its initial state until steady (see `steady::settle`), as one error naming both failures
/// when that fails too.
fn settle_by_bdf<E, L>(
    problem: &OdeSolverProblem<E>,
    sim: &OdeSimulator,
    newton: &str,
) -> Result<Vec<f64>, SolveError>
where
    E: OdeEquationsImplicit<M = M, V = V, T = f64, C = <M as MatrixCommon>::C>,
    L: diffsol::LinearSolver<M>,
{
    let tol = sim.steady_tolerances();
    catch_unwind(AssertUnwindSafe(|| {
        let s = problem
            .bdf::<L>()
            .map_err(|e| steady::failed(format!("BDF could not start: {e}")))?;
        steady::settle(s, tol, sim.options.max_steps)
    }))
    .map_err(|p| SolveError::Panicked {
        message: panic_message(p.as_ref()),
    })?
    .map_err(|e| steady::failed(format!("Newton: {newton}; integration: {}", steady_reason(&e))))
}

/// The reason inside a steady-state error, or the error's text.
fn steady_reason(e: &SolveError) -> String {
    match e {
        SolveError::SteadyState { reason } => reason.clone(),
        other => other.to_string(),
    }
}

/// A compiled augmented (state + sensitivities) problem owned by one thread.
struct SensCompiled {
    core: Rc<Core>,
    problem: Augmented,
    z: V,
    atol: f64,
}

/// The augmented problem: without or with a mass matrix (two types, one per closure set).
enum Augmented {
    Ode(Box<OdeSolverProblem<OdeAug>>),
    Dae(Box<OdeSolverProblem<DaeAug>>),
}

fn compile_sensitivities(model: &DiffslModel, np: usize) -> Result<Box<SensCompiled>, OdeError> {
    let built = catch_unwind(AssertUnwindSafe(|| -> Result<_, OdeError> {
        let core = Rc::new(compile_core(model, np)?);
        let nz = core.n * (1 + np);
        let (c1, c2, c3) = (core.clone(), core.clone(), core.clone());
        let rhs: RhsFn = Box::new(move |z, _p, t, out| c1.rhs(t, z, out));
        let jac: JacFn = Box::new(move |z, _p, t, v, out| c2.jac(t, z, v, out));
        let init: InitFn = Box::new(move |_p, _t, out| out.copy_from_slice(&c3.z0.borrow()));
        let err = |e: diffsol::DiffsolError| OdeError::Compile {
            message: e.to_string(),
        };
        let builder = OdeBuilder::<M>::new().rhs_implicit(rhs, jac).init(init, nz);
        let (problem, ctx) = if core.has_mass {
            let c4 = core.clone();
            let mass: MassFn = Box::new(move |v, _p, t, beta, y| c4.mass(t, v, beta, y));
            let p = builder.mass(mass).build().map_err(err)?;
            let ctx = *p.context();
            (Augmented::Dae(Box::new(p)), ctx)
        } else {
            let p = builder.build().map_err(err)?;
            let ctx = *p.context();
            (Augmented::Ode(Box::new(p)), ctx)
        };
        Ok(Box::new(SensCompiled {
            core,
            problem,
            z: V::zeros(nz, ctx),
            atol: f64::NAN,
        }))
    }));
    match built {
        Ok(r) => r,
        Err(p) => Err(OdeError::Compile {
            message: panic_message(p.as_ref()),
        }),
    }
}

/// [`OdeSimulator::solve_with_sensitivities`] on this backend.
pub(crate) fn solve_with_sensitivities(
    sim: &OdeSimulator,
    plan: Plan,
    params: &[f64],
    out: &mut [f64],
    sensitivities: &mut [f64],
) -> Result<(), SolveError> {
    let np = sim.param_index.len();
    if params.len() != np {
        return Err(SolveError::Solver {
            t: f64::NAN,
            message: format!("{} parameter values given, {np} expected", params.len()),
        });
    }
    if np == 0 {
        // Nothing to differentiate: the predictions alone (no sensitivities to write).
        if !sensitivities.is_empty() {
            return Err(SolveError::Solver {
                t: f64::NAN,
                message: format!(
                    "{} sensitivities given for a model with no fitted parameters",
                    sensitivities.len()
                ),
            });
        }
        return solve(sim, plan, params, out, &mut |_| true);
    }
    cache::with_entry(
        &sim.model,
        Key::Sensitivities(BACKEND, np),
        || compile_sensitivities(&sim.model, np),
        |c: &mut SensCompiled| sensitivities_with(sim, plan, c, params, out, sensitivities),
    )
}

fn sensitivities_with(
    sim: &OdeSimulator,
    plan: Plan,
    c: &mut SensCompiled,
    params: &[f64],
    out: &mut [f64],
    sensitivities: &mut [f64],
) -> Result<(), SolveError> {
    let np = sim.param_index.len();
    let k = sim.model.n_outputs();
    let expected = sim.times.len() * k;
    if out.len() != expected || sensitivities.len() != expected * np {
        return Err(SolveError::Solver {
            t: f64::NAN,
            message: format!(
                "buffers of {} predictions and {} sensitivities given, {expected} and {} needed",
                out.len(),
                sensitivities.len(),
                expected * np
            ),
        });
    }
    let inputs = sim.full_inputs(params);
    let SensCompiled {
        core,
        problem,
        z,
        atol,
    } = c;
    let core: &Core = core;
    match problem {
        Augmented::Ode(p) => {
            augmented_solve(sim, plan, core, &inputs, p, z, atol, out, sensitivities)
        }
        Augmented::Dae(p) => {
            augmented_solve(sim, plan, core, &inputs, p, z, atol, out, sensitivities)
        }
    }
}

/// Integrates the augmented system `problem` (whose closures read `core`) and writes the
/// predictions and their sensitivities.
#[allow(clippy::too_many_arguments)] // the buffers of one solve
fn augmented_solve<E>(
    sim: &OdeSimulator,
    plan: Plan,
    core: &Core,
    inputs: &[f64],
    problem: &mut OdeSolverProblem<E>,
    z: &mut V,
    atol: &mut f64,
    out: &mut [f64],
    sensitivities: &mut [f64],
) -> Result<(), SolveError>
where
    E: OdeEquationsImplicit<M = M, V = V, T = f64, C = <M as MatrixCommon>::C>,
{
    let np = sim.param_index.len();
    let k = sim.model.n_outputs();
    problem.t0 = sim.t0;
    problem.rtol = sim.options.rtol;
    problem.ode_options.max_number_timesteps = plan.max_steps.saturating_add(1);
    if atol.to_bits() != sim.options.atol.to_bits() {
        problem.atol = V::from_element(z.len(), sim.options.atol, *problem.context());
        *atol = sim.options.atol;
    }
    let start = match sim.steady.as_deref() {
        None => {
            core.prepare(inputs, &sim.param_index);
            None
        }
        Some(spec) => {
            let mut pre = inputs.to_vec();
            spec.apply(&mut pre);
            core.prepare_frozen(&pre, &sim.param_index, |i| spec.overrides_input(i));
            problem.ode_options.max_number_timesteps = sim.options.max_steps.saturating_add(1);
            let z = steady_augmented(sim, core, problem)?;
            core.prepare(inputs, &sim.param_index);
            problem.ode_options.max_number_timesteps = plan.max_steps.saturating_add(1);
            Some(z)
        }
    };
    let problem: &OdeSolverProblem<E> = problem;
    let times = &sim.times;
    let mut zbuf = vec![0.0; z.len()];
    let at = |col: usize, t: f64, z: &V| -> Result<(), SolveError> {
        for (i, v) in zbuf.iter_mut().enumerate() {
            *v = z.get_index(i);
        }
        let pred = &mut out[col * k..(col + 1) * k];
        let sens = &mut sensitivities[col * k * np..(col + 1) * k * np];
        core.outputs(t, &zbuf, pred, sens);
        if pred.iter().chain(sens.iter()).any(|v| !v.is_finite()) {
            return Err(SolveError::NonFinite { t });
        }
        Ok(())
    };
    let mut ybuf = vec![0.0; core.n];
    let after_step = |t: f64, z: &V| -> Result<(), SolveError> {
        if core.nstop == 0 {
            return Ok(());
        }
        for (i, v) in ybuf.iter_mut().enumerate() {
            *v = z.get_index(i);
        }
        if core.stopped(t, &ybuf) {
            return Err(SolveError::StoppedEarly { t });
        }
        Ok(())
    };
    let events = sim.events();
    crate::block::with_blocks(core.n, || {
        with_solver!(problem, plan.kind, SensLs, |s| {
            let mut s = s;
            if let Some(z0) = &start {
                set_start(&mut s, z0);
            }
            drive(s, times, events, plan, z, at, after_step)
        })
    })
}

/// The steady state and its sensitivities, as an augmented state `(y*, s*_1, …, s*_P)`, for
/// the inputs `core` holds now: Newton and the implicit function theorem, else integration of
/// the augmented system with BDF (see the `steady` module).
fn steady_augmented<E>(
    sim: &OdeSimulator,
    core: &Core,
    problem: &OdeSolverProblem<E>,
) -> Result<Vec<f64>, SolveError>
where
    E: OdeEquationsImplicit<M = M, V = V, T = f64, C = <M as MatrixCommon>::C>,
{
    let (n, np, t0) = (core.n, core.np, sim.t0);
    let tol = sim.steady_tolerances();
    let mut f = |y: &[f64], out: &mut [f64]| core.state_rhs(t0, y, out);
    let mut jv = |y: &[f64], v: &[f64], out: &mut [f64]| core.state_jv(t0, y, v, out);
    let implicit = |y: &[f64], lu| -> Result<Vec<f64>, SolveError> {
        let mut fp = vec![0.0; n * np];
        core.param_rhs(t0, y, &mut fp);
        let mut z = vec![0.0; n * (1 + np)];
        z[..n].copy_from_slice(y);
        steady::implicit_sensitivities(&lu, &fp, &mut z[n..])?;
        Ok(z)
    };
    let mut y = core.z0.borrow()[..n].to_vec();
    let newton = match steady::newton(&mut y, tol, &mut f, &mut jv) {
        Ok(lu) => return implicit(&y, lu),
        Err(e) => e,
    };
    let settled = crate::block::with_blocks(core.n, || {
        settle_by_bdf::<_, SensLs>(problem, sim, &newton)
    })?;
    // Polish by Newton and the implicit function theorem when the Jacobian allows it; with
    // conservation laws it does not, and the integrated sensitivities stand.
    let mut polished = settled[..n].to_vec();
    match steady::newton(&mut polished, tol, &mut f, &mut jv) {
        Ok(lu) => implicit(&polished, lu),
        Err(_) => Ok(settled),
    }
}
