"""diffid: parameter inference for differential-equation models, with a Rust core.

Describe an ODE in DiffSL (or hand over a Python callable), give time-series data, and get back
fitted parameters. The optimisation loop runs in Rust, in parallel; Python only declares the
problem::

    import diffid
    result = (
        diffid.DiffsolBuilder()
        .with_diffsl(model)
        .with_data(data)               # column 0 = time
        .with_parameter("k", 0.5)
        .with_optimiser(diffid.CMAES().with_seed(1))
        .build()
        .optimise()
    )
    print(result.x, result.value)

Bayesian inference: give parameters priors (``with_parameter(..., prior=diffid.Normal(0, 1))``),
use a likelihood cost (``GaussianNLL``, with ``sigma="..."`` naming an estimated noise parameter)
and call ``problem.sample(sampler=diffid.MetropolisHastings()...)`` for ``Samples`` with R-hat,
ESS and ``to_arviz()``.

Plots are in ``diffid.plotting``: ``contour``, ``convergence``, ``ode_fit``,
``compare_models``, ``parameter_traces`` and ``parameter_distributions``. The submodule is
loaded on first access (``diffid.plotting`` or ``import diffid.plotting``) and matplotlib only
when a plot is drawn, so neither ``import diffid`` nor ``import diffid.plotting`` imports it.

PEtab problems load with ``diffid.petab.load(yaml)`` (needs ``pip install petab
python-libsbml``; also loaded on first access).
"""

from ._diffid import (
    CMAES,
    Beta,
    EnsembleSampler,
    Gamma,
    HalfNormal,
    Laplace,
    LogLaplace,
    LogNormal,
    LogUniform,
    MetropolisHastings,
    Normal,
    Prior,
    SamplerState,
    Uniform,
    LBFGSB,
    RMSE,
    SSE,
    Adam,
    AlreadyTerminated,
    BuildError,
    CheckpointError,
    DiffidError,
    DiffsolBuilder,
    Done,
    DynamicNestedSampler,
    Evaluate,
    EvaluationError,
    ExecutorError,
    GaussianNLL,
    MultiStartResults,
    NelderMead,
    OptimisationResults,
    OptimiserState,
    Problem,
    Progress,
    ResultCountMismatch,
    ScalarBuilder,
    TellError,
    VectorBuilder,
    __version__,
)
from . import errors
from ._parameters import ParameterSpec
from ._samples import NestedSamples, Samples, Summary, bayes_factor

_LAZY_SUBMODULES = ("petab", "plotting")


def __getattr__(name: str):
    # PEP 562: load diffid.plotting and diffid.petab on first access, keeping `import diffid`
    # light.
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))

__all__ = [
    "ParameterSpec",
    "Beta",
    "EnsembleSampler",
    "Gamma",
    "HalfNormal",
    "Laplace",
    "LogLaplace",
    "LogNormal",
    "LogUniform",
    "MetropolisHastings",
    "Normal",
    "Prior",
    "Samples",
    "SamplerState",
    "NestedSamples",
    "DynamicNestedSampler",
    "bayes_factor",
    "Summary",
    "Uniform",
    "CMAES",
    "LBFGSB",
    "RMSE",
    "SSE",
    "Adam",
    "AlreadyTerminated",
    "BuildError",
    "CheckpointError",
    "DiffidError",
    "DiffsolBuilder",
    "Done",
    "Evaluate",
    "EvaluationError",
    "ExecutorError",
    "GaussianNLL",
    "MultiStartResults",
    "NelderMead",
    "OptimisationResults",
    "OptimiserState",
    "Problem",
    "Progress",
    "ResultCountMismatch",
    "ScalarBuilder",
    "TellError",
    "VectorBuilder",
    "errors",
    "petab",
    "plotting",
    "__version__",
]
