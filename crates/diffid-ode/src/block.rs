//! A linear solver for the Newton systems of the augmented sensitivity system.
//!
//! An implicit method's Newton matrix for the state and its `P` sensitivities is block lower
//! triangular, with one `n × n` block `A = M − cJ` repeated on the diagonal and the coupling
//! blocks `C_j` (the sensitivity equations' dependence on the state) in the first block
//! column:
//!
//! ```text
//! | A             |   | x_0 |   | b_0 |
//! | C_1  A        | · | x_1 | = | b_1 |
//! | …         ⋱   |   |  …  |   |  …  |
//! | C_P        A  |   | x_P |   | b_P |
//! ```
//!
//! so `x_0 = A⁻¹ b_0` and `x_j = A⁻¹ (b_j − C_j x_0)`: one LU of `n × n` instead of
//! `n(1+P) × n(1+P)` (for 9 states and 19 parameters, 9³ against 180³ operations), the
//! staggered direct method of CVODES in one factorisation. The block size is set per thread
//! by the augmented solve ([`with_blocks`]); without it the solver factorises the whole
//! matrix, as diffsol's own LU does.

use diffsol::{LaError, LaLinearOp, Matrix, MatrixCommon, NalgebraLU, Vector};
use diffsol_la::LinearSolver;
use nalgebra::{DMatrix, Dyn, LU};
use std::cell::Cell;

type M = diffsol::NalgebraMat<f64>;
type V = diffsol::NalgebraVec<f64>;

thread_local! {
    /// The state count of the augmented system being solved on this thread (0: none).
    static BLOCK: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with the augmented system's block size `n` set for the solvers it creates.
pub(crate) fn with_blocks<R>(n: usize, f: impl FnOnce() -> R) -> R {
    let before = BLOCK.with(|b| b.replace(n));
    let out = f();
    BLOCK.with(|b| b.set(before));
    out
}

/// See the module documentation.
pub(crate) struct BlockLu {
    /// The block size, fixed when the solver was made.
    n: usize,
    /// The whole Newton matrix, as the operator writes it.
    a: Option<M>,
    lu: Option<LU<f64, Dyn, Dyn>>,
    /// The LU of `Aᵀ`, for transposed solves.
    lu_t: Option<LU<f64, Dyn, Dyn>>,
    /// `C_1 … C_P`.
    coupling: Vec<DMatrix<f64>>,
    /// The plain LU, when the matrix has no block structure of size `n`.
    plain: Option<NalgebraLU<f64>>,
}

impl Default for BlockLu {
    fn default() -> Self {
        Self {
            n: BLOCK.with(Cell::get),
            a: None,
            lu: None,
            lu_t: None,
            coupling: Vec::new(),
            plain: None,
        }
    }
}

fn error(message: &str) -> LaError {
    LaError::Other(message.to_owned())
}

impl LinearSolver<M> for BlockLu {
    fn set_sparsity<C: LaLinearOp<T = f64, V = V, M = M, C = <M as MatrixCommon>::C>>(
        &mut self,
        op: &C,
    ) {
        let (rows, cols) = (op.nrows(), op.ncols());
        let blocked = self.n > 0 && rows == cols && rows % self.n == 0 && rows > self.n;
        if blocked {
            self.a = Some(M::new_from_sparsity(
                rows,
                cols,
                op.sparsity(),
                *op.context(),
            ));
            self.plain = None;
        } else {
            let mut plain = NalgebraLU::default();
            plain.set_sparsity(op);
            self.plain = Some(plain);
        }
    }

    fn set_linearisation<C: LaLinearOp<T = f64, V = V, M = M, C = <M as MatrixCommon>::C>>(
        &mut self,
        op: &C,
    ) {
        if let Some(plain) = self.plain.as_mut() {
            plain.set_linearisation(op);
            return;
        }
        let Some(a) = self.a.as_mut() else {
            return;
        };
        op.matrix_inplace(a);
        let full = a.inner();
        let n = self.n;
        let blocks = full.nrows() / n;
        let block = |row: usize| DMatrix::from_fn(n, n, |i, j| full[(row * n + i, j)]);
        let a0 = block(0);
        self.lu_t = Some(a0.transpose().lu());
        self.lu = Some(a0.lu());
        self.coupling = (1..blocks).map(block).collect();
    }

    fn solve_in_place(&self, b: &mut V) -> Result<(), LaError> {
        if let Some(plain) = self.plain.as_ref() {
            return plain.solve_in_place(b);
        }
        let lu = self
            .lu
            .as_ref()
            .ok_or_else(|| error("the LU is not initialised"))?;
        let n = self.n;
        let solve = |rhs: DMatrix<f64>| {
            lu.solve(&rhs)
                .ok_or_else(|| error("the Newton matrix is singular"))
        };
        let x0 = solve(DMatrix::from_fn(n, 1, |i, _| b.get_index(i)))?;
        for (j, c) in self.coupling.iter().enumerate() {
            let start = (j + 1) * n;
            let rhs = DMatrix::from_fn(n, 1, |i, _| b.get_index(start + i)) - c * &x0;
            let xj = solve(rhs)?;
            for i in 0..n {
                b.set_index(start + i, xj[i]);
            }
        }
        for i in 0..n {
            b.set_index(i, x0[i]);
        }
        Ok(())
    }

    /// `Aᵀ` is block upper triangular: the sensitivity blocks first, then the state's.
    fn solve_transpose_in_place(&self, b: &mut V) -> Result<(), LaError> {
        if let Some(plain) = self.plain.as_ref() {
            return plain.solve_transpose_in_place(b);
        }
        let lu_t = self
            .lu_t
            .as_ref()
            .ok_or_else(|| error("the LU is not initialised"))?;
        let n = self.n;
        let solve_t = |rhs: DMatrix<f64>| {
            lu_t.solve(&rhs)
                .ok_or_else(|| error("the Newton matrix is singular"))
        };
        let mut rhs0 = DMatrix::from_fn(n, 1, |i, _| b.get_index(i));
        for (j, c) in self.coupling.iter().enumerate() {
            let start = (j + 1) * n;
            let xj = solve_t(DMatrix::from_fn(n, 1, |i, _| b.get_index(start + i)))?;
            rhs0 -= c.transpose() * &xj;
            for i in 0..n {
                b.set_index(start + i, xj[i]);
            }
        }
        let x0 = solve_t(rhs0)?;
        for i in 0..n {
            b.set_index(i, x0[i]);
        }
        Ok(())
    }
}
