//! The Rust builder for DiffSL fitting problems.

use crate::bayes::{likelihood_of, split_noise};
use crate::measurements::{
    ExperimentObjective, Measurement, NoiseDistribution, NoiseScale, Row, RowSigma, Sigma,
};
use crate::objective::ConditionsObjective;
use crate::problem::Condition;
use crate::{Error, FitObjective, Problem};
use diffid_core::{CoreError, Optimiser, Parameter, Parameters, TimeSeries, Transform};
use diffid_cost::{CostMetric, CostSum, Sse};
use diffid_ode::{Backend, DiffslModel, Dose, OdeError, OdeSimulator, SolveOptions, SolverKind};
use diffid_sample::Distribution;
use std::fmt;
use std::sync::Arc;

/// How a problem evaluates a population.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parallelism {
    /// One candidate after another, on the calling thread.
    Sequential,
    /// On a private rayon pool of this many threads.
    Threads(usize),
    /// On a private rayon pool with one thread per available core (the default).
    #[default]
    Available,
    /// Each batch handed whole to the objective, which parallelises it by itself (a Python
    /// callable with an executor).
    Delegated,
}

/// The value an input takes in one experimental condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Override {
    /// A fixed number.
    Value(f64),
    /// A declared parameter (fitted), by name.
    Parameter(String),
}

impl From<f64> for Override {
    fn from(v: f64) -> Self {
        Self::Value(v)
    }
}

impl From<&str> for Override {
    fn from(name: &str) -> Self {
        Self::Parameter(name.to_owned())
    }
}

impl From<String> for Override {
    fn from(name: String) -> Self {
        Self::Parameter(name)
    }
}

/// One experiment given as measurement rows.
#[derive(Clone, Debug)]
struct ExperimentSpec {
    name: String,
    measurements: Vec<Measurement>,
    overrides: Vec<(String, Override)>,
    /// This experiment's own pre-equilibration (instead of the builder's).
    steady: Option<Vec<(String, f64)>>,
    /// False for a steady state given for an experiment never declared.
    declared: bool,
}

/// One experimental condition as given.
#[derive(Clone, Debug)]
struct ConditionSpec {
    name: String,
    data: (usize, usize, Vec<f64>),
    overrides: Vec<(String, Override)>,
}

/// A fitted parameter as given, checked when it was given; an invalid one is reported by
/// [`DiffsolBuilder::build`].
type ParamSpec = Result<Parameter, CoreError>;

/// Builds a [`Problem`] that fits a DiffSL model to time-series data.
///
/// Every `with_*` consumes and returns the builder; clone it to branch.
#[derive(Clone, Default)]
pub struct DiffsolBuilder {
    code: Option<String>,
    data: Option<(usize, usize, Vec<f64>)>,
    params: Vec<ParamSpec>,
    priors: Vec<(String, Distribution)>,
    costs: Vec<Box<dyn CostMetric>>,
    parallelism: Parallelism,
    options: SolveOptions,
    optimiser: Option<Arc<dyn Optimiser>>,
    /// The time the model's initial conditions hold at (default 0).
    t0: Option<f64>,
    /// Boluses at known times.
    doses: Vec<Dose>,
    /// Times at which the right-hand side switches.
    breakpoints: Vec<f64>,
    /// Pre-equilibration: the input overrides under which the steady state is found.
    steady: Option<Vec<(String, f64)>>,
    /// Experimental conditions (instead of `data`).
    conditions: Vec<ConditionSpec>,
    /// Experiments as measurement rows (instead of `data` and `conditions`).
    experiments: Vec<ExperimentSpec>,
    /// Per output: the noise's scale and distribution (for experiments).
    noise_models: Vec<(String, NoiseScale, NoiseDistribution)>,
}

impl fmt::Debug for DiffsolBuilder {
    /// A summary: the model's size, the data's shape, the parameters and settings (not the
    /// data themselves).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let model = self.code.as_ref().map_or_else(
            || "None".to_owned(),
            |c| format!("<{} lines of DiffSL>", c.lines().count()),
        );
        let data = self
            .data
            .as_ref()
            .map_or_else(|| "None".to_owned(), |(r, c, _)| format!("<{r}×{c} array>"));
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match p {
                Ok(p) => p.to_string(),
                Err(e) => format!("<invalid: {e}>"),
            })
            .collect();
        let costs: Vec<&str> = self.costs.iter().map(CostMetric::name).collect();
        write!(
            f,
            "DiffsolBuilder(model={model}, data={data}, parameters=[{}], costs=[{}], parallelism={:?}, solver={}, backend={}, rtol={}, atol={}, optimiser={})",
            params.join(", "),
            if costs.is_empty() { "sse (default)".to_owned() } else { costs.join(", ") },
            self.parallelism,
            self.options.solver.name(),
            self.options.backend.name(),
            self.options.rtol,
            self.options.atol,
            self.optimiser.as_ref().map_or("None", |o| o.name()),
        )
    }
}

impl DiffsolBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The model, in DiffSL.
    #[must_use]
    pub fn with_diffsl(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The data: a row-major `rows × columns` table, column 0 time, then one column per output.
    #[must_use]
    pub fn with_data(mut self, rows: usize, columns: usize, values: &[f64]) -> Self {
        self.data = Some((rows, columns, values.to_vec()));
        self
    }

    /// Removes the data.
    #[must_use]
    pub fn remove_data(mut self) -> Self {
        self.data = None;
        self
    }

    /// Fits the `in_i` input `name`, starting at `initial`, optionally within `bounds`. The
    /// parameter is checked now ([`Parameter::new`]); [`build`](Self::build) reports an
    /// invalid one.
    #[must_use]
    pub fn with_parameter(
        mut self,
        name: impl Into<String>,
        initial: f64,
        bounds: Option<(f64, f64)>,
    ) -> Self {
        self.params.push(Parameter::new(name, initial, bounds));
        self
    }

    /// As [`with_parameter`](Self::with_parameter), searched through `transform` (log for
    /// positive parameters spanning orders of magnitude, logit for bounded ones).
    #[must_use]
    pub fn with_transformed_parameter(
        mut self,
        name: impl Into<String>,
        initial: f64,
        bounds: Option<(f64, f64)>,
        transform: Transform,
    ) -> Self {
        self.params
            .push(Parameter::new(name, initial, bounds).and_then(|p| p.with_transform(transform)));
        self
    }

    /// Fits a parameter built and checked beforehand (its name is the `in_i` input's).
    #[must_use]
    pub fn with_parameter_spec(mut self, parameter: Parameter) -> Self {
        self.params.push(Ok(parameter));
        self
    }

    /// The prior of parameter `name` (declared with a `with_parameter*` method), truncated
    /// to its bounds. Without one, a parameter with finite bounds has a uniform prior; one
    /// without bounds cannot be sampled. Checked by [`build`](Self::build).
    #[must_use]
    pub fn with_prior(mut self, name: impl Into<String>, distribution: Distribution) -> Self {
        self.priors.push((name.into(), distribution));
        self
    }

    /// Removes every fitted parameter (and their priors).
    #[must_use]
    pub fn clear_parameters(mut self) -> Self {
        self.params.clear();
        self.priors.clear();
        self
    }

    /// Adds a cost metric (any [`CostMetric`], or a `Box<dyn CostMetric>` chosen at run
    /// time); several are summed. Without any, the cost is SSE.
    #[must_use]
    pub fn with_cost(mut self, metric: impl CostMetric + 'static) -> Self {
        self.costs.push(Box::new(metric));
        self
    }

    /// Removes every cost metric (back to the SSE default).
    #[must_use]
    pub fn remove_cost(mut self) -> Self {
        self.costs.clear();
        self
    }

    /// How populations are evaluated.
    #[must_use]
    pub fn with_parallelism(mut self, parallelism: Parallelism) -> Self {
        self.parallelism = parallelism;
        self
    }

    /// The integration method.
    #[must_use]
    pub fn with_solver(mut self, solver: SolverKind) -> Self {
        self.options.solver = solver;
        self
    }

    /// The linear algebra of implicit solvers (default dense; sparse for large systems).
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.options.backend = backend;
        self
    }

    /// Relative and absolute tolerances (default 1e-6, 1e-8).
    #[must_use]
    pub fn with_tolerances(mut self, rtol: f64, atol: f64) -> Self {
        self.options.rtol = rtol;
        self.options.atol = atol;
        self
    }

    /// The time the model's initial conditions (`u_i`) hold at, when not 0: the model starts
    /// there, before (or at) the first data time. Data times before it are an error at build.
    #[must_use]
    pub fn with_t0(mut self, t0: f64) -> Self {
        self.t0 = Some(t0);
        self
    }

    /// A bolus of `amount` added to state `state` (a `u_i` name) at `time`; call again, or
    /// pass [`Dose::repeated`] to [`with_doses`](Self::with_doses), for a schedule. The
    /// integration stops exactly at the dose and restarts; a prediction at the dose's own time
    /// is taken just before it. Checked at build: the state must exist and the time lie
    /// between the start and the last data time.
    #[must_use]
    pub fn with_dose(mut self, time: f64, state: impl Into<String>, amount: f64) -> Self {
        self.doses.push(Dose::new(time, state, amount));
        self
    }

    /// Several doses (see [`with_dose`](Self::with_dose)).
    #[must_use]
    pub fn with_doses(mut self, doses: impl IntoIterator<Item = Dose>) -> Self {
        self.doses.extend(doses);
        self
    }

    /// Times at which the model's right-hand side switches (an input written with
    /// `heaviside(t - t_s)`, an infusion that ends): the integration stops exactly at each and
    /// restarts, instead of stepping over the switch.
    #[must_use]
    pub fn with_breakpoints(mut self, times: impl IntoIterator<Item = f64>) -> Self {
        self.breakpoints.extend(times);
        self
    }

    /// Start from a steady state (pre-equilibration): before the experiment, the state is
    /// brought to the steady state of the model under its inputs with `overrides` (input
    /// name, value; e.g. a stimulus at 0) applied, starting from `u_i` — Newton's method, with
    /// integration as the fallback — and the experiment starts from there under the model's
    /// own inputs. Exact gradients keep working (implicit function theorem). A candidate
    /// without a reachable steady state is a failed evaluation, with the reason.
    #[must_use]
    pub fn with_steady_state<S: Into<String>>(
        mut self,
        overrides: impl IntoIterator<Item = (S, f64)>,
    ) -> Self {
        self.steady = Some(overrides.into_iter().map(|(n, v)| (n.into(), v)).collect());
        self
    }

    /// An experimental condition: its own data (`rows × columns`, row-major, column 0 the
    /// times, then one column per model output) and the values its inputs take in it —
    /// `(input name, Override)`, a number (`0.5.into()`) or a declared parameter
    /// (`"k_high".into()`). Fitted parameters named like inputs set them in every condition
    /// that does not override them. One compiled model serves all conditions; the objective
    /// is the sum of the condition's costs. Use conditions instead of
    /// [`with_data`](Self::with_data).
    #[must_use]
    pub fn with_condition<S: Into<String>, O: Into<Override>>(
        mut self,
        name: impl Into<String>,
        rows: usize,
        columns: usize,
        values: &[f64],
        overrides: impl IntoIterator<Item = (S, O)>,
    ) -> Self {
        self.conditions.push(ConditionSpec {
            name: name.into(),
            data: (rows, columns, values.to_vec()),
            overrides: overrides_of(overrides),
        });
        self
    }

    /// An experiment given as measurement rows ([`Measurement`]: time, output, value and the
    /// noise's σ — a number, a fitted parameter or a model output), with the values its
    /// inputs take in it (as [`with_condition`](Self::with_condition)). Rows may repeat a
    /// time and measure any subset of the outputs; each is scored by its output's noise model
    /// ([`with_noise_model`](Self::with_noise_model), default normal on the linear scale),
    /// so the objective is the negative log-likelihood (no cost metric applies). Use
    /// experiments instead of data and conditions.
    #[must_use]
    pub fn with_experiment<S: Into<String>, O: Into<Override>>(
        mut self,
        name: impl Into<String>,
        measurements: Vec<Measurement>,
        overrides: impl IntoIterator<Item = (S, O)>,
    ) -> Self {
        self.experiments.push(ExperimentSpec {
            name: name.into(),
            measurements,
            overrides: overrides_of(overrides),
            steady: None,
            declared: true,
        });
        self
    }

    /// The experiment last given as `name` starts from its own steady state: the steady
    /// state of the model under that experiment's inputs with `overrides` applied (as
    /// [`with_steady_state`](Self::with_steady_state), which sets it for every experiment
    /// without one of its own). An empty `overrides` means the steady state under the
    /// experiment's own inputs; with all its measurements at the start time, that is a
    /// measurement of the steady state itself. A name no experiment has is reported by
    /// [`build`](Self::build).
    #[must_use]
    pub fn with_experiment_steady_state<S: Into<String>>(
        mut self,
        name: &str,
        overrides: impl IntoIterator<Item = (S, f64)>,
    ) -> Self {
        let overrides: Vec<(String, f64)> =
            overrides.into_iter().map(|(n, v)| (n.into(), v)).collect();
        match self.experiments.iter_mut().rev().find(|e| e.name == name) {
            Some(e) => e.steady = Some(overrides),
            None => self.experiments.push(ExperimentSpec {
                // Kept so that `build` reports it: an experiment without measurements.
                name: name.to_owned(),
                measurements: Vec::new(),
                overrides: Vec::new(),
                steady: Some(overrides),
                declared: false,
            }),
        }
        self
    }

    /// The noise model of `output`'s measurements in experiments: the scale the noise acts
    /// on (an observable transformation) and its distribution.
    #[must_use]
    pub fn with_noise_model(
        mut self,
        output: impl Into<String>,
        scale: NoiseScale,
        distribution: NoiseDistribution,
    ) -> Self {
        self.noise_models.push((output.into(), scale, distribution));
        self
    }

    /// The step budget of one solve (default 100 000).
    #[must_use]
    pub fn with_max_steps(mut self, max_steps: usize) -> Self {
        self.options.max_steps = max_steps;
        self
    }

    /// The optimiser [`Problem::optimise`] uses when none is passed (any [`Optimiser`], or an
    /// `Arc<dyn Optimiser>` chosen at run time).
    #[must_use]
    pub fn with_optimiser(mut self, optimiser: impl Optimiser + 'static) -> Self {
        self.optimiser = Some(Arc::new(optimiser));
        self
    }

    /// The solver settings so far.
    pub fn solve_options(&self) -> SolveOptions {
        self.options
    }

    /// Compiles the model, validates the data and parameters, and builds the problem.
    ///
    /// # Errors
    /// [`Error::Incomplete`] without a model or data; [`Error::Ode`] for DiffSL errors, unknown
    /// parameter names, a data column count that does not match the model's outputs, negative
    /// times or bad tolerances; [`Error::Core`] for bad data, bounds or duplicate names.
    pub fn build(mut self) -> Result<Problem, Error> {
        self.options.validate()?;
        let code = self.code.take().ok_or(Error::Incomplete {
            what: "no model: add one with with_diffsl",
        })?;
        if !self.experiments.is_empty() {
            if self.data.is_some() || !self.conditions.is_empty() || !self.costs.is_empty() {
                return Err(Error::Condition {
                    condition: self.experiments[0].name.clone(),
                    reason: "a problem of experiments (with_experiment) scores every \
                             measurement by its noise model: it takes no with_data, \
                             with_condition or with_cost"
                        .to_owned(),
                });
            }
            return self.build_experiments(&code);
        }
        if !self.conditions.is_empty() {
            if self.data.is_some() {
                return Err(Error::Condition {
                    condition: self.conditions[0].name.clone(),
                    reason: "a problem has either data (with_data) or conditions \
                             (with_condition), not both: give the data as a condition"
                        .to_owned(),
                });
            }
            return self.build_conditions(&code);
        }
        let (rows, columns, values) = self.data.take().ok_or(Error::Incomplete {
            what: "no data: add a 2-D array (column 0 = time) with with_data",
        })?;
        let model = DiffslModel::new(&code)?;
        let data = TimeSeries::from_row_major(rows, columns, &values)?;
        if data.n_outputs() != model.n_outputs() {
            return Err(OdeError::OutputMismatch {
                expected: model.n_outputs(),
                got: data.n_outputs(),
                names: model.output_names().to_vec(),
            }
            .into());
        }
        let (params, priors) = self.take_parameters()?;
        let cost = self.take_cost()?;
        cost.check_outputs(data.n_outputs())?;
        let layout = split_noise(&params, &cost)?;
        let simulator = self.simulator(
            model,
            data.times(),
            &layout.model_names,
            &[],
            self.steady.as_deref(),
        )?;
        // Under the automatic solver, a probe at the initial parameters picks the method.
        let initial = params.initial();
        let model_initial: Vec<f64> = layout.model_index.iter().map(|&i| initial[i]).collect();
        simulator.probe(&model_initial);
        let likelihood = likelihood_of(&cost);
        let simulator = Arc::new(simulator);
        let objective = FitObjective::new(simulator.clone(), cost, data.observations().into())
            .with_noise(
                data.n_outputs(),
                layout.model_index.clone(),
                layout.noise_index,
            );
        Ok(Problem::new(Arc::new(objective), params, self.parallelism)
            .with_optimiser(self.optimiser.take())
            .with_priors(priors)
            .with_likelihood(likelihood)
            .with_model_index(layout.model_index)
            .with_ode(simulator, data))
    }
}

impl DiffsolBuilder {
    /// A simulator of `model` at `times`, fitting the inputs `names`, with `fixed` inputs set,
    /// the builder's start, doses and breakpoints, and the steady state `steady`.
    fn simulator(
        &self,
        model: DiffslModel,
        times: &[f64],
        names: &[String],
        fixed: &[(String, f64)],
        steady: Option<&[(String, f64)]>,
    ) -> Result<OdeSimulator, Error> {
        let simulator = match self.t0 {
            None => OdeSimulator::new(model, times.to_vec(), names, self.options)?,
            // Bound without times first, so that the times are checked against t0, not 0.
            Some(t0) => OdeSimulator::new(model, Vec::new(), names, self.options)?
                .with_start(t0)?
                .with_times(times.to_vec())?,
        };
        let simulator = if fixed.is_empty() {
            simulator
        } else {
            simulator.with_input_values(fixed)?
        };
        let simulator = if self.doses.is_empty() && self.breakpoints.is_empty() {
            simulator
        } else {
            simulator
                .with_doses(&self.doses)?
                .with_breakpoints(&self.breakpoints)?
        };
        Ok(match steady {
            None => simulator,
            Some(overrides) => simulator.with_steady_state(overrides)?,
        })
    }

    /// [`build`](Self::build) for a problem of several conditions.
    fn build_conditions(mut self, code: &str) -> Result<Problem, Error> {
        let model = DiffslModel::new(code)?;
        let (params, priors) = self.take_parameters()?;
        let cost = self.take_cost()?;
        cost.check_outputs(model.n_outputs())?;
        let layout = split_noise(&params, &cost)?;
        let inputs: Vec<String> = model.inputs().iter().map(|i| i.name.clone()).collect();
        let used_by_override = |name: &String| {
            self.conditions.iter().any(|c| {
                c.overrides
                    .iter()
                    .any(|(_, o)| matches!(o, Override::Parameter(p) if p == name))
            })
        };
        for name in &layout.model_names {
            if !inputs.contains(name) && !used_by_override(name) {
                return Err(OdeError::UnknownParameter {
                    name: name.clone(),
                    known: inputs.clone(),
                }
                .into());
            }
        }
        let initial = params.initial();
        let mut parts = Vec::with_capacity(self.conditions.len());
        let mut simulators = Vec::with_capacity(self.conditions.len());
        for (k, c) in self.conditions.iter().enumerate() {
            let fail = |reason: String| Error::Condition {
                condition: c.name.clone(),
                reason,
            };
            if self.conditions[..k].iter().any(|d| d.name == c.name) {
                return Err(fail("two conditions have this name".to_owned()));
            }
            let (rows, columns, values) = &c.data;
            let data = TimeSeries::from_row_major(*rows, *columns, values)
                .map_err(|e| fail(e.to_string()))?;
            if data.n_outputs() != model.n_outputs() {
                return Err(fail(format!(
                    "its data has {} observation column(s) but the model has {} output(s) ({})",
                    data.n_outputs(),
                    model.n_outputs(),
                    model.output_names().join(", ")
                )));
            }
            let (bound, fixed) = bind_condition(c, &inputs, &layout)?;
            let names: Vec<String> = bound.iter().map(|(n, _)| n.clone()).collect();
            let index: Vec<usize> = bound.iter().map(|&(_, i)| i).collect();
            let simulator = self
                .simulator(
                    model.clone(),
                    data.times(),
                    &names,
                    &fixed,
                    self.steady.as_deref(),
                )
                .map_err(|e| fail(e.to_string()))?;
            let start: Vec<f64> = index.iter().map(|&i| initial[i]).collect();
            simulator.probe(&start);
            let simulator = Arc::new(simulator);
            let part =
                FitObjective::new(simulator.clone(), cost.clone(), data.observations().into())
                    .with_layout(
                        data.n_outputs(),
                        index.clone(),
                        layout.noise_index.clone(),
                        params.len(),
                    );
            parts.push((
                c.name.clone(),
                Arc::new(part) as Arc<dyn diffid_core::Objective>,
            ));
            simulators.push(Condition {
                name: c.name.clone(),
                simulator,
                data: Some(data),
                index,
            });
        }
        let likelihood = likelihood_of(&cost);
        let objective = ConditionsObjective::new(parts, params.len());
        Ok(Problem::new(Arc::new(objective), params, self.parallelism)
            .with_optimiser(self.optimiser.take())
            .with_priors(priors)
            .with_likelihood(likelihood)
            .with_model_index(layout.model_index)
            .with_conditions(simulators))
    }
}

/// A condition's inputs: those bound to a parameter (input name, position in a point) and
/// those fixed at a number.
type Binding = (Vec<(String, usize)>, Vec<(String, f64)>);

/// Condition `c`'s [`Binding`].
fn bind_condition(
    c: &ConditionSpec,
    inputs: &[String],
    layout: &crate::bayes::NoiseLayout,
) -> Result<Binding, Error> {
    let fail = |reason: String| Error::Condition {
        condition: c.name.clone(),
        reason,
    };
    let mut bound: Vec<(String, usize)> = Vec::new();
    let mut fixed: Vec<(String, f64)> = Vec::new();
    for (j, (input, o)) in c.overrides.iter().enumerate() {
        if !inputs.contains(input) {
            return Err(fail(format!(
                "it sets '{input}', which is not an input of the model; its inputs (in_i) are [{}]",
                inputs.join(", ")
            )));
        }
        if c.overrides[..j].iter().any(|(i, _)| i == input) {
            return Err(fail(format!("it sets input '{input}' twice")));
        }
        match o {
            Override::Value(v) => fixed.push((input.clone(), *v)),
            Override::Parameter(p) => {
                let pos = layout
                    .model_names
                    .iter()
                    .position(|m| m == p)
                    .ok_or_else(|| {
                        fail(format!(
                            "it sets input '{input}' to '{p}', which is not a declared model parameter; declared: [{}]",
                            layout.model_names.join(", ")
                        ))
                    })?;
                bound.push((input.clone(), layout.model_index[pos]));
            }
        }
    }
    for (name, &pos) in layout.model_names.iter().zip(&layout.model_index) {
        let overridden = c.overrides.iter().any(|(i, _)| i == name);
        if inputs.contains(name) && !overridden {
            bound.push((name.clone(), pos));
        }
    }
    Ok((bound, fixed))
}

impl DiffsolBuilder {
    /// [`build`](Self::build) for a problem of experiments given as measurement rows.
    fn build_experiments(mut self, code: &str) -> Result<Problem, Error> {
        let model = DiffslModel::new(code)?;
        let (params, priors) = self.take_parameters()?;
        let names = params.names();
        let layout = crate::bayes::NoiseLayout {
            model_names: names.clone(),
            model_index: (0..names.len()).collect(),
            noise_index: Vec::new(),
        };
        let inputs: Vec<String> = model.inputs().iter().map(|i| i.name.clone()).collect();
        let outputs = model.output_names().to_vec();
        self.check_experiment_names(&names, &inputs, &outputs)?;
        let initial = params.initial();
        let mut parts: Vec<(String, Arc<dyn diffid_core::Objective>)> = Vec::new();
        let mut simulators = Vec::new();
        let mut experiments = Vec::new();
        for (k, e) in self.experiments.iter().enumerate() {
            let fail = |reason: String| Error::Condition {
                condition: e.name.clone(),
                reason,
            };
            if self.experiments[..k].iter().any(|d| d.name == e.name) {
                return Err(fail("two experiments have this name".to_owned()));
            }
            if !e.declared {
                return Err(fail(
                    "a steady state is given for it (with_experiment_steady_state), but no \
                     experiment of that name is"
                        .to_owned(),
                ));
            }
            if e.measurements.is_empty() {
                return Err(fail("it has no measurements".to_owned()));
            }
            let spec = ConditionSpec {
                name: e.name.clone(),
                data: (0, 0, Vec::new()),
                overrides: e.overrides.clone(),
            };
            let (bound, fixed) = bind_condition(&spec, &inputs, &layout)?;
            let mut times: Vec<f64> = e.measurements.iter().map(|m| m.time).collect();
            if let Some(n) = times.iter().position(|t| !t.is_finite()) {
                return Err(fail(format!("measurement {n} is at time {}", times[n])));
            }
            times.sort_by(f64::total_cmp);
            times.dedup();
            let rows = self.rows(e, &times, &outputs, &names).map_err(fail)?;
            let sim_names: Vec<String> = bound.iter().map(|(n, _)| n.clone()).collect();
            let index: Vec<usize> = bound.iter().map(|&(_, i)| i).collect();
            let simulator = self
                .simulator(
                    model.clone(),
                    &times,
                    &sim_names,
                    &fixed,
                    e.steady.as_deref().or(self.steady.as_deref()),
                )
                .map_err(|err| fail(err.to_string()))?;
            let start: Vec<f64> = index.iter().map(|&i| initial[i]).collect();
            simulator.probe(&start);
            let simulator = Arc::new(simulator);
            let objective = Arc::new(ExperimentObjective::new(
                simulator.clone(),
                index.clone(),
                rows,
                params.len(),
            ));
            parts.push((
                e.name.clone(),
                objective.clone() as Arc<dyn diffid_core::Objective>,
            ));
            experiments.push((e.name.clone(), objective));
            simulators.push(Condition {
                name: e.name.clone(),
                simulator,
                data: None,
                index,
            });
        }
        let objective = ConditionsObjective::new(parts, params.len());
        Ok(Problem::new(Arc::new(objective), params, self.parallelism)
            .with_optimiser(self.optimiser.take())
            .with_priors(priors)
            .with_likelihood(Ok(()))
            .with_conditions(simulators)
            .with_experiments(experiments))
    }

    /// Checks the noise models' outputs, and that every parameter is an input, an input's
    /// override or a σ.
    fn check_experiment_names(
        &self,
        names: &[String],
        inputs: &[String],
        outputs: &[String],
    ) -> Result<(), Error> {
        for (o, _, _) in &self.noise_models {
            if !outputs.contains(o) {
                return Err(Error::Condition {
                    condition: String::new(),
                    reason: format!(
                        "a noise model is given for '{o}', which is not an output of the model; its outputs are [{}]",
                        outputs.join(", ")
                    ),
                });
            }
        }
        let used = |name: &String| {
            self.experiments.iter().any(|e| {
                e.overrides
                    .iter()
                    .any(|(_, o)| matches!(o, Override::Parameter(p) if p == name))
                    || e.measurements.iter().any(
                        |m| matches!(&m.sigma, Sigma::Parameter(p) | Sigma::Named(p) if p == name),
                    )
            })
        };
        for name in names {
            if !inputs.contains(name) && !used(name) {
                return Err(OdeError::UnknownParameter {
                    name: name.clone(),
                    known: inputs.to_vec(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Experiment `e`'s rows, resolved against the distinct `times`, the model's `outputs`
    /// and the parameter `names`.
    fn rows(
        &self,
        e: &ExperimentSpec,
        times: &[f64],
        outputs: &[String],
        names: &[String],
    ) -> Result<Vec<Row>, String> {
        let output_index = |n: usize, name: &str| {
            outputs.iter().position(|o| o == name).ok_or_else(|| {
                format!(
                    "measurement {n} measures '{name}', which is not an output of the model; its outputs are [{}]",
                    outputs.join(", ")
                )
            })
        };
        e.measurements
            .iter()
            .enumerate()
            .map(|(n, m)| {
                let output = output_index(n, &m.output)?;
                if !m.value.is_finite() {
                    return Err(format!("measurement {n} has value {}", m.value));
                }
                let sigma = match &m.sigma {
                    Sigma::Value(v) if v.is_finite() && *v > 0.0 => RowSigma::Value(*v),
                    Sigma::Value(v) => {
                        return Err(format!(
                            "measurement {n} has σ = {v}; it must be positive"
                        ))
                    }
                    Sigma::Parameter(p) => RowSigma::Parameter(
                        names.iter().position(|q| q == p).ok_or_else(|| {
                            format!(
                                "measurement {n}'s σ is '{p}', which is not a declared parameter; declared: [{}]",
                                names.join(", ")
                            )
                        })?,
                    ),
                    Sigma::Output(o) => RowSigma::Output(output_index(n, o)?),
                    Sigma::Named(name) => match names.iter().position(|q| q == name) {
                        Some(i) => RowSigma::Parameter(i),
                        None => RowSigma::Output(outputs.iter().position(|o| o == name).ok_or_else(
                            || {
                                format!(
                                    "measurement {n}'s σ is '{name}', which is neither a declared parameter [{}] nor an output of the model [{}]",
                                    names.join(", "),
                                    outputs.join(", ")
                                )
                            },
                        )?),
                    },
                };
                let (scale, distribution) = self
                    .noise_models
                    .iter()
                    .rev()
                    .find(|(o, _, _)| *o == m.output)
                    .map_or((NoiseScale::Lin, NoiseDistribution::Normal), |&(_, s, d)| {
                        (s, d)
                    });
                if scale != NoiseScale::Lin && m.value <= 0.0 {
                    return Err(format!(
                        "measurement {n} ('{}' = {}) is not positive, but its noise acts on a log scale",
                        m.output, m.value
                    ));
                }
                Ok(Row {
                    time: times
                        .iter()
                        .position(|&t| t == m.time)
                        .unwrap_or_default(),
                    output,
                    value: m.value,
                    sigma,
                    scale,
                    distribution,
                })
            })
            .collect()
    }
}

/// `(input, value)` pairs as given to [`DiffsolBuilder::with_condition`] and
/// [`DiffsolBuilder::with_experiment`].
fn overrides_of<S: Into<String>, O: Into<Override>>(
    overrides: impl IntoIterator<Item = (S, O)>,
) -> Vec<(String, Override)> {
    overrides
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

impl DiffsolBuilder {
    /// The declared parameters, checked, and their priors.
    fn take_parameters(
        &mut self,
    ) -> Result<(Parameters, Vec<Option<diffid_sample::Prior>>), Error> {
        let mut params = Parameters::new();
        for p in std::mem::take(&mut self.params) {
            params.push(p?)?;
        }
        let priors = crate::bayes::attach_priors(&params, &self.priors)?;
        Ok((params, priors))
    }

    /// The cost metrics given, summed (SSE when none).
    fn take_cost(&mut self) -> Result<CostSum, Error> {
        Ok(if self.costs.is_empty() {
            CostSum::new(vec![Box::new(Sse::new(1.0)?)])
        } else {
            CostSum::new(std::mem::take(&mut self.costs))
        })
    }
}
