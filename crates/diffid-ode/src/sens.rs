//! Exact forward sensitivities of a DiffSL model, assembled under the Cranelift JIT.
//!
//! diffsol's own sensitivity solvers need the Enzyme-generated `*_sgrad` functions, which only
//! the LLVM backend has. The forward-mode functions every backend compiles are enough,
//! though: for fitted parameter `j` (setting input `i`), `set_inputs_grad` with `dinputs = e_i`
//! and `set_u0_grad` give the data tangent `ddata_j` and the initial sensitivity
//! `s_j(0) = ∂y₀/∂p_j`; `rhs_grad(t, y, s_j, data, ddata_j)` then gives `J s_j + ∂F/∂p_j`, the
//! right-hand side of the sensitivity equation; and `calc_out_grad` gives the outputs' tangents.
//!
//! The state and its `P` sensitivities are integrated together as one augmented system of
//! `N (1 + P)` states, so the error control covers the sensitivities too (they are as accurate
//! as the tolerances make the states). Implicit methods get the Jacobian-vector product of the
//! augmented system: the block-diagonal `diag(J, …, J)` plus the coupling of each sensitivity
//! block to the state (second derivatives, as a directional difference: see `Core::jac`);
//! the coupling only speeds the Newton iteration and does not change the solution it
//! converges to. The Newton matrix is then block lower triangular, which `block::BlockLu`
//! solves with one LU of the state's size.
//!
//! Models with a mass matrix (`M_i`, differential-algebraic systems) get `diag(M, …, M)`; an
//! implicit solver's consistent initialisation then also makes the algebraic components of
//! the sensitivities consistent, since their equations are linear given the state.
//!
//! Predictions at the data times are the outputs (`out_i`, else the states) and their
//! sensitivities `∂ prediction_k / ∂ p_j`, laid out time-major like the predictions, so the
//! chain rule with a cost's derivative pairs every residual with its own sensitivity whatever
//! the number of outputs.

use crate::simulate::Codegen;
use crate::{DiffslModel, OdeError};
use diffsl::discretise::DiscreteModel;
use diffsl::execution::compiler::{CompilerMode, CompilerOptions};
use diffsl::Compiler;
use std::cell::RefCell;

pub(crate) type RhsFn = Box<dyn Fn(&[f64], &[f64], f64, &mut [f64])>;
pub(crate) type JacFn = Box<dyn Fn(&[f64], &[f64], f64, &[f64], &mut [f64])>;
pub(crate) type InitFn = Box<dyn Fn(&[f64], f64, &mut [f64])>;
pub(crate) type MassFn = Box<dyn Fn(&[f64], &[f64], f64, f64, &mut [f64])>;

/// The compiled model and the buffers its functions work on, shared by the augmented
/// system's closures (one thread only).
pub(crate) struct Core {
    compiler: Compiler<Codegen, f64>,
    /// States.
    pub(crate) n: usize,
    /// Outputs (`out_i`); 0 when the model has none and the states are compared with data.
    pub(crate) nout: usize,
    /// Components of `stop`.
    pub(crate) nstop: usize,
    /// Fitted parameters.
    pub(crate) np: usize,
    /// Whether the model has a mass matrix (`M_i`): the augmented system then has
    /// `diag(M, …, M)`.
    pub(crate) has_mass: bool,
    data: RefCell<Vec<f64>>,
    /// A data tangent with zero input tangents: for state-only Jacobian products.
    ddata0: RefCell<Vec<f64>>,
    /// One data tangent per fitted parameter.
    ddata: RefCell<Vec<Vec<f64>>>,
    rr: RefCell<Vec<f64>>,
    tmp: RefCell<Vec<f64>>,
    dout: RefCell<Vec<f64>>,
    /// The augmented initial state `(y₀, s₁(0), …, s_P(0))`.
    pub(crate) z0: RefCell<Vec<f64>>,
    /// The `stop` values after the last step, to detect a sign change.
    stop: RefCell<Vec<f64>>,
}

impl Core {
    pub(crate) fn rhs(&self, t: f64, z: &[f64], out: &mut [f64]) {
        let n = self.n;
        let (y, s) = z.split_at(n);
        let (fy, fs) = out.split_at_mut(n);
        let mut data = self.data.borrow_mut();
        self.compiler.rhs(t, y, &mut data, fy);
        let mut ddata = self.ddata.borrow_mut();
        for ((dd, sj), fj) in ddata
            .iter_mut()
            .zip(s.chunks_exact(n))
            .zip(fs.chunks_exact_mut(n))
        {
            self.compiler.rhs_grad(t, y, sj, &data, dd, fy, fj);
        }
    }

    /// The augmented system's Jacobian times `v`: `diag(J, …, J) v` plus, in each sensitivity
    /// block `j`, the coupling `∂(J s_j + ∂F/∂p_j)/∂y · v_y` (second derivatives, which the
    /// compiled code does not provide, so taken as a directional difference of the
    /// sensitivity right-hand side along `v_y`). Without the coupling an implicit method's
    /// Newton iteration still converges to the same solution, but slowly where the
    /// sensitivities are large, which stiff models with many parameters turned into tiny steps.
    pub(crate) fn jac(&self, t: f64, z: &[f64], v: &[f64], out: &mut [f64]) {
        let n = self.n;
        let (y, s) = z.split_at(n);
        let mut data = self.data.borrow_mut();
        let mut rr = self.rr.borrow_mut();
        // The tangent code reads the primal intermediates at (t, y): compute them first.
        self.compiler.rhs(t, y, &mut data, &mut rr);
        let mut dd0 = self.ddata0.borrow_mut();
        for (vb, ob) in v.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
            if vb.iter().all(|x| *x == 0.0) {
                ob.fill(0.0);
            } else {
                self.compiler.rhs_grad(t, y, vb, &data, &mut dd0, &rr, ob);
            }
        }
        let vy = &v[..n];
        let norm_v = vy.iter().map(|x| x * x).sum::<f64>().sqrt();
        if self.np == 0 || norm_v == 0.0 {
            return;
        }
        let norm_y = y.iter().map(|x| x * x).sum::<f64>().sqrt();
        let eps = f64::EPSILON.sqrt() * (1.0 + norm_y) / norm_v;
        let mut ddata = self.ddata.borrow_mut();
        let mut base = vec![0.0; n * self.np];
        for ((dd, sj), gj) in ddata
            .iter_mut()
            .zip(s.chunks_exact(n))
            .zip(base.chunks_exact_mut(n))
        {
            self.compiler.rhs_grad(t, y, sj, &data, dd, &rr, gj);
        }
        let shifted: Vec<f64> = y.iter().zip(vy).map(|(a, b)| a + eps * b).collect();
        self.compiler.rhs(t, &shifted, &mut data, &mut rr);
        let mut moved = self.tmp.borrow_mut();
        for (((dd, sj), gj), ob) in ddata
            .iter_mut()
            .zip(s.chunks_exact(n))
            .zip(base.chunks_exact(n))
            .zip(out[n..].chunks_exact_mut(n))
        {
            self.compiler
                .rhs_grad(t, &shifted, sj, &data, dd, &rr, &mut moved);
            for ((o, m), g) in ob.iter_mut().zip(moved.iter()).zip(gj) {
                *o += (m - g) / eps;
            }
        }
    }

    /// `y = diag(M, …, M) v + β y`, block by block.
    pub(crate) fn mass(&self, t: f64, v: &[f64], beta: f64, y: &mut [f64]) {
        let n = self.n;
        let mut data = self.data.borrow_mut();
        let mut tmp = self.tmp.borrow_mut();
        for (vb, yb) in v.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
            self.compiler.mass(t, vb, &mut data, &mut tmp);
            for (yi, mi) in yb.iter_mut().zip(tmp.iter()) {
                *yi = mi + beta * *yi;
            }
        }
    }

    /// Sets the inputs and computes the augmented initial state.
    pub(crate) fn prepare(&self, inputs: &[f64], param_index: &[usize]) {
        self.prepare_frozen(inputs, param_index, |_| false);
    }

    /// As [`prepare`](Self::prepare), with the parameters whose input index `frozen` accepts
    /// held fixed (zero tangents): inputs overridden while pre-equilibrating.
    pub(crate) fn prepare_frozen(
        &self,
        inputs: &[f64],
        param_index: &[usize],
        frozen: impl Fn(usize) -> bool,
    ) {
        let n = self.n;
        let mut data = self.data.borrow_mut();
        self.compiler.set_inputs(inputs, &mut data, 0);
        let mut z0 = self.z0.borrow_mut();
        let (y0, s0) = z0.split_at_mut(n);
        self.compiler.set_u0(y0, &mut data);
        let mut ddata = self.ddata.borrow_mut();
        let mut dinputs = vec![0.0; inputs.len()];
        for ((&idx, dd), sj) in param_index
            .iter()
            .zip(ddata.iter_mut())
            .zip(s0.chunks_exact_mut(n))
        {
            dd.fill(0.0);
            dinputs.fill(0.0);
            if !frozen(idx) {
                dinputs[idx] = 1.0;
            }
            self.compiler
                .set_inputs_grad(inputs, &dinputs, &data, dd, 0);
            self.compiler.set_u0_grad(y0, sj, &data, dd);
        }
        self.ddata0.borrow_mut().fill(0.0);
        if self.nstop > 0 {
            let mut stop = self.stop.borrow_mut();
            self.compiler.calc_stop(0.0, y0, &mut data, &mut stop);
        }
    }

    /// The model's right-hand side `f(t, y)` alone (no sensitivities).
    pub(crate) fn state_rhs(&self, t: f64, y: &[f64], out: &mut [f64]) {
        self.compiler.rhs(t, y, &mut self.data.borrow_mut(), out);
    }

    /// The model's Jacobian-vector product `J(t, y) v`.
    pub(crate) fn state_jv(&self, t: f64, y: &[f64], v: &[f64], out: &mut [f64]) {
        let mut data = self.data.borrow_mut();
        let mut rr = self.rr.borrow_mut();
        self.compiler.rhs(t, y, &mut data, &mut rr);
        let mut dd0 = self.ddata0.borrow_mut();
        self.compiler.rhs_grad(t, y, v, &data, &mut dd0, &rr, out);
    }

    /// `∂f/∂p_j` at `(t, y)` for every fitted parameter, column `j` of `out` (`n × np`,
    /// column-major).
    pub(crate) fn param_rhs(&self, t: f64, y: &[f64], out: &mut [f64]) {
        let n = self.n;
        let mut data = self.data.borrow_mut();
        let mut rr = self.rr.borrow_mut();
        self.compiler.rhs(t, y, &mut data, &mut rr);
        let zero = vec![0.0; n];
        let mut ddata = self.ddata.borrow_mut();
        for (dd, col) in ddata.iter_mut().zip(out.chunks_exact_mut(n)) {
            self.compiler.rhs_grad(t, y, &zero, &data, dd, &rr, col);
        }
    }

    /// The predictions at time `t` for augmented state `z` into `pred` (one row), and their
    /// sensitivities into `sens` (`pred.len() × np`, row-major).
    pub(crate) fn outputs(&self, t: f64, z: &[f64], pred: &mut [f64], sens: &mut [f64]) {
        let (n, np) = (self.n, self.np);
        let (y, s) = z.split_at(n);
        if self.nout == 0 {
            pred.copy_from_slice(y);
            for (k, row) in sens.chunks_exact_mut(np).enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = s[j * n + k];
                }
            }
            return;
        }
        let mut data = self.data.borrow_mut();
        let mut rr = self.rr.borrow_mut();
        let mut tmp = self.tmp.borrow_mut();
        let mut dout = self.dout.borrow_mut();
        self.compiler.calc_out(t, y, &mut data, pred);
        // Refresh the intermediates and, per parameter, their tangents at (t, y, s_j): the
        // output's tangent code reads them.
        self.compiler.rhs(t, y, &mut data, &mut rr);
        let mut ddata = self.ddata.borrow_mut();
        for (j, (dd, sj)) in ddata.iter_mut().zip(s.chunks_exact(n)).enumerate() {
            self.compiler.rhs_grad(t, y, sj, &data, dd, &rr, &mut tmp);
            self.compiler
                .calc_out_grad(t, y, sj, &data, dd, pred, &mut dout);
            for (k, v) in dout.iter().enumerate() {
                sens[k * np + j] = *v;
            }
        }
    }

    /// Whether a `stop` component changed sign since the last step.
    pub(crate) fn stopped(&self, t: f64, y: &[f64]) -> bool {
        if self.nstop == 0 {
            return false;
        }
        let mut now = vec![0.0; self.nstop];
        self.compiler
            .calc_stop(t, &y[..self.n], &mut self.data.borrow_mut(), &mut now);
        let mut prev = self.stop.borrow_mut();
        let crossed = prev
            .iter()
            .zip(&now)
            .any(|(a, b)| (*a > 0.0 && *b <= 0.0) || (*a < 0.0 && *b >= 0.0));
        prev.copy_from_slice(&now);
        crossed
    }
}

pub(crate) fn compile_core(model: &DiffslModel, np: usize) -> Result<Core, OdeError> {
    let code = model.code();
    let ast = diffsl::parser::parse_ds_string(code).map_err(|e| OdeError::Syntax {
        message: e.to_string(),
    })?;
    let discrete = DiscreteModel::build("diffid", &ast).map_err(|e| OdeError::Semantic {
        message: e.as_error_message(code).trim().to_owned(),
    })?;
    let options = CompilerOptions {
        mode: CompilerMode::SingleThreaded,
        ..CompilerOptions::default()
    };
    let compiler = Compiler::<Codegen, f64>::from_discrete_model(&discrete, options, Some(code))
        .map_err(|e| OdeError::Compile {
            message: e.to_string(),
        })?;
    let (n, _nin, nout, _ndata, nstop, has_mass, _has_reset) = compiler.get_dims();
    let data = compiler.get_new_data();
    Ok(Core {
        n,
        nout,
        nstop,
        np,
        has_mass,
        ddata0: RefCell::new(data.clone()),
        ddata: RefCell::new(vec![data.clone(); np]),
        data: RefCell::new(data),
        rr: RefCell::new(vec![0.0; n]),
        tmp: RefCell::new(vec![0.0; n]),
        dout: RefCell::new(vec![0.0; nout]),
        z0: RefCell::new(vec![0.0; n * (1 + np)]),
        stop: RefCell::new(vec![0.0; nstop]),
        compiler,
    })
}
