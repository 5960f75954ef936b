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
"""

from ._diffid import (
    CMAES,
    RMSE,
    SSE,
    AlreadyTerminated,
    BuildError,
    DiffidError,
    DiffsolBuilder,
    Done,
    Evaluate,
    EvaluationError,
    GaussianNLL,
    NelderMead,
    OptimisationResults,
    OptimiserState,
    Problem,
    ResultCountMismatch,
    ScalarBuilder,
    TellError,
    VectorBuilder,
    __version__,
)
from . import errors

__all__ = [
    "CMAES",
    "RMSE",
    "SSE",
    "AlreadyTerminated",
    "BuildError",
    "DiffidError",
    "DiffsolBuilder",
    "Done",
    "Evaluate",
    "EvaluationError",
    "GaussianNLL",
    "NelderMead",
    "OptimisationResults",
    "OptimiserState",
    "Problem",
    "ResultCountMismatch",
    "ScalarBuilder",
    "TellError",
    "VectorBuilder",
    "errors",
    "__version__",
]
