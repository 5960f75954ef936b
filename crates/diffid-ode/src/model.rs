//! Parsing a DiffSL model and reading what it declares.

use crate::OdeError;
use diffsl::ast::{Ast, AstKind};
use diffsl::discretise::DiscreteModel;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One scalar `in_i` input of a DiffSL model.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// Its name; an element of a vector input `p` of length > 1 is named `p[k]`.
    pub name: String,
    /// Its DiffSL default, when that is a plain number.
    pub default: Option<f64>,
    /// Its line in the source (1-based).
    pub line: usize,
}

/// A parsed and validated DiffSL model. Cheap to clone; compiled lazily per thread.
#[derive(Clone, Debug)]
pub struct DiffslModel {
    pub(crate) inner: Arc<ModelInner>,
}

#[derive(Debug)]
pub(crate) struct ModelInner {
    pub(crate) id: u64,
    pub(crate) code: String,
    pub(crate) inputs: Vec<Input>,
    pub(crate) state_names: Vec<String>,
    pub(crate) output_names: Vec<String>,
    pub(crate) has_out: bool,
    pub(crate) has_mass: bool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl DiffslModel {
    /// Parses and checks DiffSL source, then JIT-compiles it once on this thread so that any
    /// compiler error surfaces here rather than at the first evaluation.
    ///
    /// # Errors
    /// [`OdeError::Syntax`] / [`OdeError::Semantic`] with the DiffSL message and line;
    /// [`OdeError::Compile`] when code generation fails.
    pub fn new(code: &str) -> Result<Self, OdeError> {
        // The parser and the checks are run inside `catch_unwind`, like compilation: a panic
        // on some input is that input's error, never the caller's crash.
        let model =
            std::panic::catch_unwind(|| Self::parse(code)).map_err(|p| OdeError::Syntax {
                message: format!(
                "the DiffSL parser failed on this source ({}); please report it with the source",
                crate::simulate::panic_message(p.as_ref())
            ),
            })??;
        // Compile now: this surfaces code-generation errors at build time and warms this
        // thread's cache.
        crate::simulate::warm_dense(&model)?;
        Ok(model)
    }

    /// Parses and checks `code` and reads its inputs, states and outputs.
    fn parse(code: &str) -> Result<Self, OdeError> {
        let ast = diffsl::parser::parse_ds_string(code).map_err(|e| OdeError::Syntax {
            message: e.to_string(),
        })?;
        let model = DiscreteModel::build("diffid", &ast).map_err(|e| OdeError::Semantic {
            message: e.as_error_message(code).trim().to_owned(),
        })?;
        let line_of = |ast: &Ast| {
            ast.span.map_or(0, |s| {
                code[..s.pos_start.min(code.len())].lines().count().max(1)
            })
        };
        let mut inputs = Vec::new();
        if let Some(input) = model.input() {
            for block in input.elmts() {
                let base = block.name().unwrap_or(input.name()).to_owned();
                let n = block.nnz().max(1);
                let default = literal(block.expr());
                let line = line_of(block.expr());
                for k in 0..n {
                    let name = if n == 1 {
                        base.clone()
                    } else {
                        format!("{base}[{k}]")
                    };
                    inputs.push(Input {
                        name,
                        default,
                        line,
                    });
                }
            }
        }
        let names_of = |t: &diffsl::discretise::Tensor, prefix: &str| -> Vec<String> {
            let mut names = Vec::new();
            for block in t.elmts() {
                let n = block.nnz().max(1);
                for k in 0..n {
                    let base = block
                        .name()
                        .map_or_else(|| format!("{prefix}[{}]", names.len()), str::to_owned);
                    names.push(if n == 1 { base } else { format!("{base}[{k}]") });
                }
            }
            names
        };
        let state_names = names_of(model.state(), "u");
        let (has_out, output_names) = match model.out() {
            Some(out) => (true, names_of(out, "out")),
            None => (false, state_names.clone()),
        };
        let has_mass = model.lhs().is_some();
        let inner = ModelInner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            code: code.to_owned(),
            inputs,
            state_names,
            output_names,
            has_out,
            has_mass,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The DiffSL source.
    pub fn code(&self) -> &str {
        &self.inner.code
    }

    /// The scalar `in_i` inputs in declaration order.
    pub fn inputs(&self) -> &[Input] {
        &self.inner.inputs
    }

    /// The position of input `name` among [`inputs`](Self::inputs).
    ///
    /// # Errors
    /// [`OdeError::UnknownParameter`] listing the model's inputs.
    pub fn input_index(&self, name: &str) -> Result<usize, OdeError> {
        self.inner
            .inputs
            .iter()
            .position(|inp| inp.name == name)
            .ok_or_else(|| OdeError::UnknownParameter {
                name: name.to_owned(),
                known: self
                    .inner
                    .inputs
                    .iter()
                    .map(|inp| inp.name.clone())
                    .collect(),
            })
    }

    /// The state names in order.
    pub fn state_names(&self) -> &[String] {
        &self.inner.state_names
    }

    /// The names of the outputs compared with data: `out_i` when defined, else the states.
    pub fn output_names(&self) -> &[String] {
        &self.inner.output_names
    }

    /// Number of outputs compared with data.
    pub fn n_outputs(&self) -> usize {
        self.inner.output_names.len()
    }

    /// Whether the model has a mass matrix (`M_i`): a differential-algebraic system, which
    /// needs an implicit solver.
    pub fn has_mass(&self) -> bool {
        self.inner.has_mass
    }

    /// Whether the model defines `out_i`.
    pub fn has_out(&self) -> bool {
        self.inner.has_out
    }
}

/// The value of a constant expression made of numbers and unary minus, if it is one.
fn literal(ast: &Ast) -> Option<f64> {
    match &ast.kind {
        AstKind::Number(v) => Some(*v),
        AstKind::Integer(i) => Some(*i as f64),
        AstKind::Monop(m) if m.op == '-' => literal(&m.child).map(|v| -v),
        AstKind::Monop(m) if m.op == '+' => literal(&m.child),
        _ => None,
    }
}
