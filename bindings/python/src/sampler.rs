//! Priors, the MCMC samplers and their ask/tell states, and the diagnostics behind `Samples`.

use crate::asktell::{value_outcomes, PyDone, PyEvaluate};
use crate::cluster::Remote;
use crate::errors::{tell_to_py, to_py};
use crate::problem::PyProblem;
use crate::run::RunControls;
use diffid::{
    diagnostics, Ask, AskTell, BoundKind, Distribution, DynamicNestedSampler, EnsembleSampler,
    Error, MetropolisHastings, NestedResult, NestedState, Prior, SampleError, Sampler,
    SamplerState, Sampling, SamplingResult, Termination,
};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::Arc;
use std::time::Instant;

fn value_error(e: &SampleError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A prior distribution for one parameter: `diffid.Uniform`, `Normal`, `LogNormal`,
/// `HalfNormal`, `Gamma`, `Beta`, `Laplace`, `LogLaplace` or `LogUniform`. Given to `with_parameter(..., prior=...)`, it is truncated
/// to the parameter's bounds.
#[pyclass(module = "diffid._diffid", name = "Prior", frozen)]
#[derive(Clone)]
pub struct PyPrior {
    pub distribution: Distribution,
    prior: Prior,
}

impl PyPrior {
    fn make(distribution: Distribution) -> PyResult<Self> {
        let prior = Prior::new(distribution).map_err(|e| value_error(&e))?;
        Ok(Self {
            distribution,
            prior,
        })
    }

    /// The constructor's name and arguments, for `repr` and pickling.
    fn parts(&self) -> (&'static str, Vec<(&'static str, f64)>) {
        match self.distribution {
            Distribution::Uniform { lower, upper } => {
                ("Uniform", vec![("lower", lower), ("upper", upper)])
            }
            Distribution::Normal { mean, sd } => ("Normal", vec![("mean", mean), ("sd", sd)]),
            Distribution::LogNormal { mu, sigma } => {
                ("LogNormal", vec![("mu", mu), ("sigma", sigma)])
            }
            Distribution::HalfNormal { sd } => ("HalfNormal", vec![("sd", sd)]),
            Distribution::Gamma { shape, rate } => {
                ("Gamma", vec![("shape", shape), ("rate", rate)])
            }
            Distribution::Beta { alpha, beta } => ("Beta", vec![("alpha", alpha), ("beta", beta)]),
            Distribution::Laplace { location, scale } => {
                ("Laplace", vec![("location", location), ("scale", scale)])
            }
            Distribution::LogLaplace { mu, scale } => {
                ("LogLaplace", vec![("mu", mu), ("scale", scale)])
            }
            Distribution::LogUniform { lower, upper } => {
                ("LogUniform", vec![("lower", lower), ("upper", upper)])
            }
            // The enum is non-exhaustive; every family above has a constructor.
            _ => ("Prior", Vec::new()),
        }
    }
}

#[pymethods]
impl PyPrior {
    /// The log-density at `x` (untruncated; `-inf` outside the support).
    fn log_pdf(&self, x: f64) -> f64 {
        self.prior.log_density(x)
    }

    /// The cumulative distribution function at `x`.
    fn cdf(&self, x: f64) -> f64 {
        self.prior.cdf(x)
    }

    /// The quantile function: the point below which the prior holds mass `u`.
    fn quantile(&self, u: f64) -> PyResult<f64> {
        if !(0.0..=1.0).contains(&u) {
            return Err(PyValueError::new_err(format!(
                "quantile expects u in [0, 1], got {u}"
            )));
        }
        Ok(self.prior.quantile(u))
    }

    /// The family's name (`"normal"`, ...).
    #[getter]
    fn name(&self) -> &'static str {
        self.distribution.name()
    }

    /// The distribution's parameters as a dict.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.parts().1 {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .downcast::<Self>()
            .is_ok_and(|o| o.get().distribution == self.distribution)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let (name, args) = self.parts();
        name.hash(&mut h);
        for (_, v) in args {
            v.to_bits().hash(&mut h);
        }
        h.finish()
    }

    fn __repr__(&self) -> String {
        let (name, args) = self.parts();
        let a: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{name}({})", a.join(", "))
    }

    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let (name, args) = self.parts();
        let f = py.import("diffid._diffid")?.getattr(name)?;
        Ok((f, PyTuple::new(py, args.into_iter().map(|(_, v)| v))?))
    }
}

/// Uniform prior on `[lower, upper]`.
#[pyfunction]
#[pyo3(name = "Uniform")]
pub fn uniform(lower: f64, upper: f64) -> PyResult<PyPrior> {
    PyPrior::make(Distribution::Uniform { lower, upper })
}

/// Normal prior with mean `mean` and standard deviation `sd`.
#[pyfunction]
#[pyo3(name = "Normal", signature = (mean = 0.0, sd = 1.0))]
pub fn normal(mean: f64, sd: f64) -> PyResult<PyPrior> {
    PyPrior::make(Distribution::Normal { mean, sd })
}

/// Log-normal prior: `ln x` is normal with mean `mu` and standard deviation `sigma`.
#[pyfunction]
#[pyo3(name = "LogNormal", signature = (mu = 0.0, sigma = 1.0))]
pub fn log_normal(mu: f64, sigma: f64) -> PyResult<PyPrior> {
    PyPrior::make(Distribution::LogNormal { mu, sigma })
}

/// Half-normal prior on `[0, ∞)` with scale `sd` (the standard deviation of the normal it
/// folds).
#[pyfunction]
#[pyo3(name = "HalfNormal", signature = (sd = 1.0))]
pub fn half_normal(sd: f64) -> PyResult<PyPrior> {
    PyPrior::make(Distribution::HalfNormal { sd })
}

/// Gamma prior with shape `shape` and rate `rate` (mean `shape / rate`).
#[pyfunction]
#[pyo3(name = "Gamma", signature = (shape, rate = 1.0))]
pub fn gamma(shape: f64, rate: f64) -> PyResult<PyPrior> {
    PyPrior::make(Distribution::Gamma { shape, rate })
}

/// Beta prior on `[0, 1]` with shapes `alpha` and `beta`.
#[pyfunction]
#[pyo3(name = "Beta")]
pub fn beta(alpha: f64, beta: f64) -> PyResult<PyPrior> {
    PyPrior::make(Distribution::Beta { alpha, beta })
}

/// Laplace prior with location `location` (the median) and scale `scale`: density
/// `exp(−|x − location| / scale) / (2 scale)`.
#[pyfunction]
#[pyo3(name = "Laplace", signature = (location = 0.0, scale = 1.0))]
pub fn laplace(location: f64, scale: f64) -> PyResult<PyPrior> {
    PyPrior::make(Distribution::Laplace { location, scale })
}

/// Log-Laplace prior: `ln x` is Laplace with location `mu` and scale `scale`.
#[pyfunction]
#[pyo3(name = "LogLaplace", signature = (mu = 0.0, scale = 1.0))]
pub fn log_laplace(mu: f64, scale: f64) -> PyResult<PyPrior> {
    PyPrior::make(Distribution::LogLaplace { mu, scale })
}

/// Log-uniform (reciprocal) prior on `[lower, upper]`, `0 < lower < upper`: `ln x` is
/// uniform, so every decade holds the same mass.
#[pyfunction]
#[pyo3(name = "LogUniform")]
pub fn log_uniform(lower: f64, upper: f64) -> PyResult<PyPrior> {
    PyPrior::make(Distribution::LogUniform { lower, upper })
}

/// The Python prior object of `distribution`.
pub fn prior_object(py: Python<'_>, distribution: Distribution) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyPrior::make(distribution)?)?.into_any())
}

/// A prior given from Python, checked to be a `diffid` prior.
pub fn extract_prior(obj: &Bound<'_, PyAny>) -> PyResult<Distribution> {
    obj.downcast::<PyPrior>()
        .map(|p| p.get().distribution)
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "prior must be a diffid prior (diffid.Normal(0, 1), diffid.Uniform(0, 1), ...), got {}",
                obj.get_type()
                    .name()
                    .map_or_else(|_| "?".to_owned(), |n| n.to_string())
            ))
        })
}

/// The priors of a hand-driven sampler: `priors`, else uniform priors on `bounds`.
fn hand_priors(
    dim: usize,
    priors: Option<Vec<Bound<'_, PyAny>>>,
    bounds: Option<Vec<(f64, f64)>>,
) -> PyResult<Vec<Prior>> {
    let priors: Vec<Prior> = match (priors, bounds) {
        (Some(p), _) => p
            .iter()
            .map(|o| extract_prior(o).and_then(|d| Prior::new(d).map_err(|e| value_error(&e))))
            .collect::<PyResult<_>>()?,
        (None, Some(b)) => b
            .iter()
            .map(|&(lo, hi)| Prior::uniform(lo, hi).map_err(|e| value_error(&e)))
            .collect::<PyResult<_>>()?,
        (None, None) => {
            return Err(PyValueError::new_err(
                "a sampler needs a prior for every parameter: pass priors=[...] or finite bounds=[(lower, upper), ...]",
            ))
        }
    };
    if priors.len() != dim {
        return Err(PyValueError::new_err(format!(
            "{} priors for {dim} parameters; give one per parameter",
            priors.len()
        )));
    }
    Ok(priors)
}

/// Builds the Python `Samples` of a run.
pub fn samples_to_py(
    py: Python<'_>,
    result: &SamplingResult,
    names: &[String],
    sampler: &str,
) -> PyResult<Py<PyAny>> {
    let c = &result.chains;
    let (n, d, w) = (
        c.n_draws(),
        c.dim,
        c.warmup_draws.first().map_or(0, Vec::len) / c.dim.max(1),
    );
    let flat = |v: &[Vec<f64>]| v.concat();
    let chains = PyArray1::from_vec(py, flat(&c.draws)).reshape([c.n_chains, n, d])?;
    let warmup = PyArray1::from_vec(py, flat(&c.warmup_draws)).reshape([c.n_chains, w, d])?;
    let lp = PyArray1::from_vec(py, flat(&c.log_posterior)).reshape([c.n_chains, n])?;
    let ll = PyArray1::from_vec(py, flat(&c.log_likelihood)).reshape([c.n_chains, n])?;
    let kw = PyDict::new(py);
    kw.set_item("chains", chains)?;
    kw.set_item("log_posterior", lp)?;
    kw.set_item("log_likelihood", ll)?;
    kw.set_item("parameter_names", names.to_vec())?;
    kw.set_item(
        "acceptance_rate",
        PyArray1::from_vec(py, c.acceptance_rates()),
    )?;
    kw.set_item("warmup", c.warmup)?;
    kw.set_item("warmup_chains", warmup)?;
    kw.set_item("thin", c.thin)?;
    kw.set_item("time", result.time)?;
    kw.set_item("iterations", result.iterations)?;
    kw.set_item("evaluations", result.evaluations)?;
    kw.set_item("failed_evaluations", result.failed_evaluations)?;
    kw.set_item("outside_support", c.outside_support)?;
    kw.set_item("termination_reason", result.termination.name())?;
    kw.set_item("sampler", sampler)?;
    let cls = py.import("diffid._samples")?.getattr("Samples")?;
    Ok(cls.call((), Some(&kw))?.unbind())
}

/// The summary statistics of one parameter's draws, `(chains, draws)`: `mean`, `sd`, `q5`,
/// `q50`, `q95`, `mcse_mean`, `mcse_sd`, `ess_bulk`, `ess_tail`, `rhat`.
#[pyfunction]
#[pyo3(name = "_summarise")]
#[allow(clippy::needless_pass_by_value)] // PyO3 hands the array view over by value.
pub fn summarise(values: PyReadonlyArray2<'_, f64>) -> [f64; 10] {
    let a = values.as_array();
    let rows: Vec<Vec<f64>> = a.rows().into_iter().map(|r| r.to_vec()).collect();
    let chains: Vec<&[f64]> = rows.iter().map(Vec::as_slice).collect();
    let s = diagnostics::summarise(&chains);
    [
        s.mean,
        s.sd,
        s.q5,
        s.q50,
        s.q95,
        s.mcse_mean,
        s.mcse_sd,
        s.ess_bulk,
        s.ess_tail,
        s.rhat,
    ]
}

/// Declares a Python sampler class wrapping the Rust configuration `$rust`, with `init`,
/// `run`, `with_seed` and the class's own `{ ... }`.
macro_rules! sampler_class {
    (
        $(#[$doc:meta])*
        $py:ident($rust:ty), $pyname:literal,
        { $($extra:tt)* }
    ) => {
        $(#[$doc])*
        #[pyclass(module = "diffid._diffid", name = $pyname, frozen)]
        #[derive(Clone, Default)]
        pub struct $py(pub $rust, pub Option<Remote>);

        impl $py {
            fn set(&self, f: impl FnOnce($rust) -> Result<$rust, SampleError>) -> PyResult<Self> {
                f(self.0.clone())
                    .map(|c| Self(c, self.1.clone()))
                    .map_err(|e| value_error(&e))
            }

            /// The configuration as a shareable sampler.
            pub fn sampler(&self) -> Arc<dyn Sampler> {
                Arc::new(self.0.clone())
            }

            /// A configuration restored from a pickle.
            pub fn from_config(config: $rust) -> Self {
                Self(config, None)
            }
        }

        #[pymethods]
        impl $py {
            #[new]
            fn new() -> Self {
                Self::default()
            }

            /// The random seed (default: a fresh one per run).
            fn with_seed(&self, seed: u64) -> Self {
                Self(self.0.clone().with_seed(seed), self.1.clone())
            }

            /// Evaluates each batch of proposals through `executor` (see
            /// `DiffsolBuilder.with_executor`): the problem goes to the workers once, each
            /// evaluates its chunk on `threads_per_worker` threads; the draws are bit-identical
            /// to a local run.
            #[pyo3(signature = (executor, *, threads_per_worker = 1))]
            fn with_executor(
                &self,
                executor: &Bound<'_, PyAny>,
                threads_per_worker: usize,
            ) -> PyResult<Self> {
                Ok(Self(self.0.clone(), Some(Remote::new(executor, threads_per_worker)?)))
            }

            fn __reduce__<'py>(
                &self,
                py: Python<'py>,
            ) -> PyResult<crate::pickling::Reduced<'py>> {
                crate::pickling::reduce(py, $pyname, &self.0)
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other.downcast::<Self>().is_ok_and(|o| o.get().0 == self.0)
            }

            fn __copy__(&self) -> Self {
                self.clone()
            }

            fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
                self.clone()
            }

            /// Starts a hand-driven state at `initial`: `ask()` → `Evaluate(points)`, evaluate
            /// the negative log-likelihood at each point, `tell(values)`, until `Done(samples)`.
            /// The priors are `priors` (one diffid prior per parameter), else uniform on
            /// `bounds`.
            #[pyo3(signature = (initial, priors = None, bounds = None))]
            fn init(
                &self,
                initial: Vec<f64>,
                priors: Option<Vec<Bound<'_, PyAny>>>,
                bounds: Option<Vec<(f64, f64)>>,
            ) -> PyResult<PySamplerState> {
                let priors = hand_priors(initial.len(), priors, bounds)?;
                let state = Sampler::init(&self.0, &initial, &priors)
                    .map_err(|e| to_py(Error::Sample(e)))?;
                Ok(PySamplerState {
                    names: (0..initial.len()).map(|i| format!("x{i}")).collect(),
                    state: HandState::Mcmc(state),
                    started: Instant::now(),
                    sampler: Sampler::name(&self.0),
                })
            }

            /// Samples `problem`'s posterior from `initial` (default: its parameters' initial
            /// values): the same as `problem.sample(initial, self, ...)`.
            #[pyo3(signature = (
        problem, initial = None, *, callback = None, progress = false,
        checkpoint = None, checkpoint_interval = 60.0, resume = false
    ))]
    #[allow(clippy::too_many_arguments)] // the keyword arguments of one Python method
            fn run(
                &self,
                py: Python<'_>,
                problem: &PyProblem,
                initial: Option<&Bound<'_, PyAny>>,
                callback: Option<Py<PyAny>>,
                progress: bool,
                checkpoint: Option<std::path::PathBuf>,
                checkpoint_interval: f64,
                resume: bool,
            ) -> PyResult<Py<PyAny>> {
                problem.run_sampler(
                    py,
                    initial,
                    Some(&SamplerChoice::Mcmc(self.sampler())),
                    self.1.as_ref(),
                    RunControls::new(callback, progress, checkpoint, checkpoint_interval, resume)?,
                )
            }

            $($extra)*
        }
    };
}

sampler_class!(
    /// Adaptive random-walk Metropolis–Hastings: independent chains advanced together (one
    /// batch of proposals per iteration, evaluated in parallel), the proposal covariance
    /// adapted during warm-up (Haario–Bardenet, scale 2.38²/d, acceptance tuned towards 0.234)
    /// and frozen after it. Proposals outside the prior's support are rejected, never clamped.
    PyMetropolisHastings(MetropolisHastings), "MetropolisHastings",
    {
        /// Number of independent chains (default 1; use 4 or more for R-hat).
        fn with_num_chains(&self, n: usize) -> PyResult<Self> {
            self.set(|c| c.with_num_chains(n))
        }

        /// Iterations per chain, warm-up included (default 1000).
        fn with_iterations(&self, n: usize) -> PyResult<Self> {
            self.set(|c| c.with_iterations(n))
        }

        /// Warm-up iterations, adapted and discarded (default: half the iterations).
        fn with_warmup(&self, n: usize) -> PyResult<Self> {
            self.set(|c| c.with_warmup(n))
        }

        /// Keep every `n`-th draw after warm-up (default 1).
        fn with_thin(&self, n: usize) -> PyResult<Self> {
            self.set(|c| c.with_thin(n))
        }

        /// The first proposals' standard deviation relative to each prior's spread
        /// (default 0.1); also how far the chains' starts are dispersed.
        fn with_step_size(&self, step: f64) -> PyResult<Self> {
            self.set(|c| c.with_step_size(step))
        }

        /// Whether warm-up adapts the proposal (default True).
        fn with_adaptation(&self, flag: bool) -> Self {
            Self(self.0.clone().with_adaptation(flag), self.1.clone())
        }

        fn __repr__(&self) -> String {
            let c = &self.0;
            format!(
                "MetropolisHastings(num_chains={}, iterations={}, warmup={}, thin={}, step_size={}, adaptation={}, seed={:?})",
                c.num_chains(), c.iterations(), c.warmup(), c.thin(), c.step_size(),
                if c.adaptation() { "True" } else { "False" }, c.seed()
            )
        }
    }
);

sampler_class!(
    /// The affine-invariant ensemble sampler (Goodman & Weare stretch move, as emcee): walkers
    /// in two halves, each half's proposals one parallel batch. Needs at least 2·d walkers
    /// (default max(4·d, 8)); no tuning.
    PyEnsembleSampler(EnsembleSampler), "EnsembleSampler",
    {
        /// Number of walkers (at least twice the number of parameters).
        fn with_walkers(&self, n: usize) -> PyResult<Self> {
            self.set(|c| c.with_walkers(n))
        }

        /// Iterations, warm-up included (default 1000); each moves every walker once.
        fn with_iterations(&self, n: usize) -> PyResult<Self> {
            self.set(|c| c.with_iterations(n))
        }

        /// Warm-up iterations to discard (default: half the iterations).
        fn with_warmup(&self, n: usize) -> PyResult<Self> {
            self.set(|c| c.with_warmup(n))
        }

        /// Keep every `n`-th iteration after warm-up (default 1).
        fn with_thin(&self, n: usize) -> PyResult<Self> {
            self.set(|c| c.with_thin(n))
        }

        /// The stretch scale `a` (default 2).
        fn with_stretch(&self, a: f64) -> PyResult<Self> {
            self.set(|c| c.with_stretch(a))
        }

        /// How far the walkers' starts spread around the initial point, relative to each
        /// prior's spread (default 0.1).
        fn with_step_size(&self, step: f64) -> PyResult<Self> {
            self.set(|c| c.with_step_size(step))
        }

        fn __repr__(&self) -> String {
            let c = &self.0;
            format!(
                "EnsembleSampler(walkers={}, iterations={}, warmup={}, thin={}, stretch={}, step_size={}, seed={:?})",
                c.walkers().map_or_else(|| "max(4·d, 8)".to_owned(), |w| w.to_string()),
                c.iterations(), c.warmup(), c.thin(), c.stretch(), c.step_size(), c.seed()
            )
        }
    }
);

/// A sampler given from Python: an MCMC sampler or the nested sampler.
#[derive(Clone)]
pub enum SamplerChoice {
    /// Metropolis–Hastings or the ensemble.
    Mcmc(Arc<dyn Sampler>),
    /// Dynamic nested sampling.
    Nested(DynamicNestedSampler),
}

/// Extracts a sampler configuration and the executor it was given, if any.
pub fn extract_sampler(obj: &Bound<'_, PyAny>) -> PyResult<(SamplerChoice, Option<Remote>)> {
    if let Ok(s) = obj.downcast::<PyMetropolisHastings>() {
        return Ok((SamplerChoice::Mcmc(s.get().sampler()), s.get().1.clone()));
    }
    if let Ok(s) = obj.downcast::<PyEnsembleSampler>() {
        return Ok((SamplerChoice::Mcmc(s.get().sampler()), s.get().1.clone()));
    }
    if let Ok(s) = obj.downcast::<PyDynamicNestedSampler>() {
        return Ok((SamplerChoice::Nested(s.get().0.clone()), s.get().1.clone()));
    }
    Err(PyTypeError::new_err(format!(
        "expected a sampler (diffid.MetropolisHastings(), diffid.EnsembleSampler() or diffid.DynamicNestedSampler()), got {}",
        obj.get_type().name()?
    )))
}

/// Builds the Python `NestedSamples` of a run.
pub fn nested_to_py(py: Python<'_>, r: &NestedResult, names: &[String]) -> PyResult<Py<PyAny>> {
    let d = names.len();
    let n = r.points.len();
    let kw = PyDict::new(py);
    kw.set_item(
        "positions",
        PyArray1::from_vec(py, r.points.concat()).reshape([n, d])?,
    )?;
    kw.set_item(
        "log_likelihoods",
        PyArray1::from_slice(py, &r.log_likelihood),
    )?;
    kw.set_item("log_weights", PyArray1::from_slice(py, &r.log_weight))?;
    kw.set_item("log_volumes", PyArray1::from_slice(py, &r.log_volume))?;
    kw.set_item(
        "n_live",
        PyArray1::from_vec(py, r.n_live.iter().map(|&v| v as u64).collect()),
    )?;
    kw.set_item("parameter_names", names.to_vec())?;
    kw.set_item("log_evidence", r.log_evidence)?;
    kw.set_item("log_evidence_error", r.log_evidence_error)?;
    kw.set_item("information", r.information)?;
    kw.set_item("ess", r.ess)?;
    kw.set_item("evaluations", r.evaluations)?;
    kw.set_item("failed_evaluations", r.failed_evaluations)?;
    kw.set_item("batches", r.batches)?;
    kw.set_item("termination_reason", r.termination.name())?;
    kw.set_item("time", r.time)?;
    kw.set_item("seed", r.seed)?;
    let cls = py.import("diffid._samples")?.getattr("NestedSamples")?;
    Ok(cls.call((), Some(&kw))?.unbind())
}

/// Dynamic nested sampling: the model evidence `ln Z` with a calibrated error, and weighted
/// posterior samples. Live points replaced by draws from the constrained prior inside
/// multi-ellipsoid bounds (uniform up to 10 parameters, random walks above), evaluated in
/// fixed batches of candidates (bit-identical at any thread count); then dynamic batches of
/// live points where the posterior (or the evidence) needs them.
#[pyclass(module = "diffid._diffid", name = "DynamicNestedSampler", frozen)]
#[derive(Clone, Default)]
pub struct PyDynamicNestedSampler(pub DynamicNestedSampler, pub Option<Remote>);

impl PyDynamicNestedSampler {
    fn set(
        &self,
        f: impl FnOnce(DynamicNestedSampler) -> Result<DynamicNestedSampler, SampleError>,
    ) -> PyResult<Self> {
        f(self.0.clone())
            .map(|c| Self(c, self.1.clone()))
            .map_err(|e| value_error(&e))
    }

    /// A configuration restored from a pickle.
    pub fn from_config(config: DynamicNestedSampler) -> Self {
        Self(config, None)
    }
}

#[pymethods]
impl PyDynamicNestedSampler {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Live points of the baseline run (default 64; more than the number of parameters).
    fn with_live_points(&self, n: usize) -> PyResult<Self> {
        self.set(|c| c.with_live_points(n))
    }

    /// The baseline's stopping rule `dlogz`: stop when the live points could add less than
    /// this to `ln Z` (default 1e-3).
    fn with_termination_tolerance(&self, dlogz: f64) -> PyResult<Self> {
        self.set(|c| c.with_termination_tolerance(dlogz))
    }

    /// The bounding ellipsoids' fractional volume enlargement (default 0.5: 50 % larger);
    /// the earlier release's expansion factor scaled a heuristic proposal instead.
    fn with_expansion_factor(&self, factor: f64) -> PyResult<Self> {
        self.set(|c| c.with_expansion_factor(factor))
    }

    /// `"multi"` (default: ellipsoids split by 2-means while each split pays for itself),
    /// `"balls"` (balls of a bootstrap-estimated radius around the live points, trimmed by an
    /// ellipsoid: follows curved and multimodal regions, at more evaluations), `"single"` or
    /// `"none"` (the whole prior).
    fn with_bound(&self, bound: &str) -> PyResult<Self> {
        let b: BoundKind = bound.parse().map_err(|e: SampleError| value_error(&e))?;
        Ok(Self(self.0.clone().with_bound(b), self.1.clone()))
    }

    /// `"auto"` (default: uniform up to 10 parameters, random walks above), `"uniform"`,
    /// `"rwalk"` or `"slice"` (slice sampling along random directions shaped by the bound).
    fn with_sampling(&self, sampling: &str) -> PyResult<Self> {
        let s: Sampling = sampling.parse().map_err(|e: SampleError| value_error(&e))?;
        Ok(Self(self.0.clone().with_sampling(s), self.1.clone()))
    }

    /// How the dynamic batches split their effort: 1 posterior only, 0 evidence only
    /// (default 0.8).
    fn with_posterior_fraction(&self, f: f64) -> PyResult<Self> {
        self.set(|c| c.with_posterior_fraction(f))
    }

    /// Live points of each dynamic batch (default: the baseline's).
    fn with_batch_size(&self, n: usize) -> PyResult<Self> {
        self.set(|c| c.with_batch_size(n))
    }

    /// A budget of likelihood evaluations for the whole run (default none).
    fn with_max_evaluations(&self, n: usize) -> PyResult<Self> {
        self.set(|c| c.with_max_evaluations(n))
    }

    /// At most this many dynamic batches (0: a static run).
    fn with_max_batches(&self, n: usize) -> Self {
        Self(self.0.clone().with_max_batches(n), self.1.clone())
    }

    /// The posterior effective sample size the batches aim for (default 1000).
    fn with_target_ess(&self, n: f64) -> PyResult<Self> {
        self.set(|c| c.with_target_ess(n))
    }

    /// The `ln Z` error the batches aim for (default 0.1).
    fn with_target_error(&self, e: f64) -> PyResult<Self> {
        self.set(|c| c.with_target_error(e))
    }

    /// Bootstrap resamples behind an expansion estimate of the ellipsoids (default 0: only the
    /// fixed enlargement; safer for curved posteriors, slower for thin ones), and behind the
    /// radius of the `"balls"` bound (default 30 there).
    fn with_bootstraps(&self, n: usize) -> Self {
        Self(self.0.clone().with_bootstraps(n), self.1.clone())
    }

    /// Candidates per batch of evaluations (default 64): the parallel width, the same at
    /// every thread count.
    fn with_queue_size(&self, n: usize) -> PyResult<Self> {
        self.set(|c| c.with_queue_size(n))
    }

    /// Steps of each random walk of `"rwalk"` sampling (and of `"auto"` above 10 parameters;
    /// default 25).
    fn with_walks(&self, n: usize) -> PyResult<Self> {
        self.set(|c| c.with_walks(n))
    }

    /// The random seed (default: a fresh one per run).
    fn with_seed(&self, seed: u64) -> Self {
        Self(self.0.clone().with_seed(seed), self.1.clone())
    }

    /// Evaluates each batch of candidates through `executor` (see
    /// `DiffsolBuilder.with_executor`); the run is bit-identical to a local one.
    #[pyo3(signature = (executor, *, threads_per_worker = 1))]
    fn with_executor(
        &self,
        executor: &Bound<'_, PyAny>,
        threads_per_worker: usize,
    ) -> PyResult<Self> {
        Ok(Self(
            self.0.clone(),
            Some(Remote::new(executor, threads_per_worker)?),
        ))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<crate::pickling::Reduced<'py>> {
        crate::pickling::reduce(py, "DynamicNestedSampler", &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.downcast::<Self>().is_ok_and(|o| o.get().0 == self.0)
    }

    fn __copy__(&self) -> Self {
        self.clone()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.clone()
    }

    /// Samples `problem` (the same as `problem.sample(initial, self, ...)`).
    #[pyo3(signature = (
        problem, initial = None, *, callback = None, progress = false,
        checkpoint = None, checkpoint_interval = 60.0, resume = false
    ))]
    #[allow(clippy::too_many_arguments)] // the keyword arguments of one Python method
    fn run(
        &self,
        py: Python<'_>,
        problem: &PyProblem,
        initial: Option<&Bound<'_, PyAny>>,
        callback: Option<Py<PyAny>>,
        progress: bool,
        checkpoint: Option<std::path::PathBuf>,
        checkpoint_interval: f64,
        resume: bool,
    ) -> PyResult<Py<PyAny>> {
        problem.run_sampler(
            py,
            initial,
            Some(&SamplerChoice::Nested(self.0.clone())),
            self.1.as_ref(),
            RunControls::new(callback, progress, checkpoint, checkpoint_interval, resume)?,
        )
    }

    /// Starts a hand-driven state: `ask()` → `Evaluate(points)`, tell the negative
    /// log-likelihoods, until `Done(nested_samples)`. Priors as for the MCMC samplers.
    #[pyo3(signature = (initial, priors = None, bounds = None))]
    #[allow(clippy::needless_pass_by_value)] // PyO3 extracts the sequence as a Vec.
    fn init(
        &self,
        initial: Vec<f64>,
        priors: Option<Vec<Bound<'_, PyAny>>>,
        bounds: Option<Vec<(f64, f64)>>,
    ) -> PyResult<PySamplerState> {
        let priors = hand_priors(initial.len(), priors, bounds)?;
        let state = self
            .0
            .start(&initial, &priors)
            .map_err(|e| to_py(Error::Sample(e)))?;
        Ok(PySamplerState {
            names: (0..initial.len()).map(|i| format!("x{i}")).collect(),
            state: HandState::Nested(Box::new(state)),
            started: Instant::now(),
            sampler: "dynamic_nested",
        })
    }

    fn __repr__(&self) -> String {
        let c = &self.0;
        format!(
            "DynamicNestedSampler(live_points={}, termination_tolerance={}, expansion_factor={}, bound={:?}, sampling={:?}, posterior_fraction={}, batch_size={}, target_ess={}, target_error={}, max_evaluations={:?}, max_batches={:?}, seed={:?})",
            c.live_points(), c.termination_tolerance(), c.expansion_factor(), c.bound(), c.sampling(),
            c.posterior_fraction(), c.batch_size(), c.target_ess(), c.target_error(),
            c.max_evaluations(), c.max_batches(), c.seed()
        )
    }
}

/// The state behind a hand-driven sampler.
pub enum HandState {
    /// An MCMC state.
    Mcmc(Box<dyn SamplerState>),
    /// A nested-sampling state.
    Nested(Box<NestedState>),
}

impl HandState {
    fn ask_tell(&mut self) -> &mut dyn AskTell {
        match self {
            Self::Mcmc(s) => s.as_mut(),
            Self::Nested(s) => s.as_mut(),
        }
    }

    fn view(&self) -> &dyn AskTell {
        match self {
            Self::Mcmc(s) => s.as_ref(),
            Self::Nested(s) => s.as_ref(),
        }
    }
}

/// A running sampler driven by hand: `ask()`, evaluate the negative log-likelihood,
/// `tell(values)`, until `Done(samples)`.
#[pyclass(module = "diffid._diffid", name = "SamplerState")]
pub struct PySamplerState {
    state: HandState,
    started: Instant,
    names: Vec<String>,
    sampler: &'static str,
}

#[pymethods]
impl PySamplerState {
    /// The next step: `Evaluate(points)` (tell the negative log-likelihood at each), or
    /// `Done(result)` once finished (`Samples`, or `NestedSamples` for nested sampling).
    fn ask(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.state.ask_tell().ask() {
            Ask::Evaluate(points) | Ask::EvaluateWithGradient(points) => {
                Ok(Py::new(py, PyEvaluate::values(points))?.into_any())
            }
            Ask::Done(termination) => {
                let result = self.result(py, termination)?;
                Ok(Py::new(py, PyDone::new(result))?.into_any())
            }
        }
    }

    /// The negative log-likelihoods at the points last asked for, in order: a list of
    /// floats (or one float for one point). `None`, NaN or inf mark a failed evaluation (a
    /// rejected proposal).
    fn tell(&mut self, values: &Bound<'_, PyAny>) -> PyResult<()> {
        self.state
            .ask_tell()
            .tell(&value_outcomes(values)?)
            .map_err(|e| tell_to_py(&e))
    }

    /// For the points last asked: the negative log-likelihood at or above which a point is
    /// rejected whatever its value (nested sampling, once its live points are drawn), or
    /// `None`. An expensive likelihood may stop as soon as it knows it is there and tell any
    /// value at or above the cap (or `inf`, a rejection): the run is the same.
    fn value_cap(&self) -> Option<f64> {
        self.state.view().value_cap()
    }

    /// Completed iterations (MCMC: warm-up included; nested: dead points).
    fn iterations(&self) -> usize {
        self.state.view().iterations()
    }

    /// Values told so far.
    fn evaluations(&self) -> usize {
        self.state.view().evaluations()
    }

    /// MCMC: the acceptance rate so far (NaN for nested sampling).
    fn acceptance_rate(&self) -> f64 {
        match &self.state {
            HandState::Mcmc(s) => s.acceptance_rate(),
            HandState::Nested(_) => f64::NAN,
        }
    }

    /// The result so far (`Samples` or `NestedSamples`).
    fn samples(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.result(py, Termination::Cancelled)
    }

    fn __repr__(&self) -> String {
        let s = self.state.view();
        format!(
            "SamplerState({}, iterations={}, evaluations={})",
            self.sampler,
            s.iterations(),
            s.evaluations(),
        )
    }
}

impl PySamplerState {
    fn result(&self, py: Python<'_>, termination: Termination) -> PyResult<Py<PyAny>> {
        match &self.state {
            HandState::Mcmc(s) => {
                if let Some((point, reason)) = s.start_failure() {
                    return Err(to_py(Error::Evaluation { point, reason }));
                }
                let r = SamplingResult::from_state(s.as_ref(), termination, self.started.elapsed());
                samples_to_py(py, &r, &self.names, self.sampler)
            }
            HandState::Nested(s) => {
                if s.failed_everywhere() {
                    return Err(to_py(Error::NoLikelihoodMass {
                        points: s.live_points(),
                    }));
                }
                let r = NestedResult::of(s, termination, self.started.elapsed());
                nested_to_py(py, &r, &self.names)
            }
        }
    }
}

/// Registers this module's classes and functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPrior>()?;
    m.add_class::<PyMetropolisHastings>()?;
    m.add_class::<PyEnsembleSampler>()?;
    m.add_class::<PySamplerState>()?;
    m.add_class::<PyDynamicNestedSampler>()?;
    m.add_function(wrap_pyfunction!(uniform, m)?)?;
    m.add_function(wrap_pyfunction!(normal, m)?)?;
    m.add_function(wrap_pyfunction!(log_normal, m)?)?;
    m.add_function(wrap_pyfunction!(half_normal, m)?)?;
    m.add_function(wrap_pyfunction!(gamma, m)?)?;
    m.add_function(wrap_pyfunction!(beta, m)?)?;
    m.add_function(wrap_pyfunction!(laplace, m)?)?;
    m.add_function(wrap_pyfunction!(log_laplace, m)?)?;
    m.add_function(wrap_pyfunction!(log_uniform, m)?)?;
    m.add_function(wrap_pyfunction!(summarise, m)?)?;
    Ok(())
}
