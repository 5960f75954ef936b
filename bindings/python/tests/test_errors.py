"""Bad input raises the right exception class, with a message naming the offending item."""

from __future__ import annotations

import importlib
import math
import pickle
import re

import numpy as np
import pytest

import diffid
import diffid.errors
from support import DECAY_TIMES, decay_solution

# ---------------------------------------------------------------------------------------------
# The hierarchy
# ---------------------------------------------------------------------------------------------

ERROR_NAMES = [
    "DiffidError",
    "BuildError",
    "CheckpointError",
    "EvaluationError",
    "ExecutorError",
    "TellError",
    "ResultCountMismatch",
    "AlreadyTerminated",
]


def test_error_hierarchy():
    assert issubclass(diffid.DiffidError, Exception)
    for cls in (diffid.BuildError, diffid.CheckpointError, diffid.EvaluationError,
                diffid.ExecutorError, diffid.TellError):
        assert issubclass(cls, diffid.DiffidError)
    for cls in (diffid.ResultCountMismatch, diffid.AlreadyTerminated):
        assert issubclass(cls, diffid.TellError)
        assert issubclass(cls, diffid.DiffidError)
    assert not issubclass(diffid.BuildError, diffid.EvaluationError)
    assert not issubclass(diffid.EvaluationError, diffid.BuildError)
    assert not issubclass(diffid.TellError, diffid.BuildError)
    assert not issubclass(diffid.ResultCountMismatch, diffid.AlreadyTerminated)


@pytest.mark.parametrize("name", ERROR_NAMES)
def test_errors_module_reexports(name):
    assert getattr(diffid.errors, name) is getattr(diffid, name)
    assert name in diffid.errors.__all__
    assert name in diffid.__all__


def test_errors_module_all_is_exactly_the_hierarchy():
    assert sorted(diffid.errors.__all__) == sorted(ERROR_NAMES)


@pytest.mark.parametrize("name", ERROR_NAMES)
def test_errors_pickle_round_trip(name):
    """Exceptions must survive pickling (ProcessPoolExecutor sends worker errors back so):
    their __module__ must be importable."""
    cls = getattr(diffid, name)
    module = importlib.import_module(cls.__module__)
    assert getattr(module, cls.__qualname__) is cls
    err = pickle.loads(pickle.dumps(cls("message")))
    assert type(err) is cls
    assert str(err) == "message"


def test_errors_can_be_raised_and_caught_as_base():
    with pytest.raises(diffid.DiffidError):
        raise diffid.AlreadyTerminated("done")


# ---------------------------------------------------------------------------------------------
# DiffSL errors surface at build()
# ---------------------------------------------------------------------------------------------

SYNTAX_ERROR_MODEL = """in_i { k = 0.5 }
u_i { y = 1.0 }
F_i { -k * * y }"""

SEMANTIC_ERROR_MODEL = """in_i { k = 0.5 }
u_i { y = 1.0 }
F_i { -k * zzz }"""


def _decay_data():
    return np.column_stack((DECAY_TIMES, decay_solution(0.7, 3.0)))


def test_diffsl_syntax_error_is_build_error_at_build():
    b = diffid.DiffsolBuilder().with_diffsl(SYNTAX_ERROR_MODEL).with_data(_decay_data())
    with pytest.raises(diffid.BuildError) as info:
        b.build()
    msg = str(info.value)
    assert "syntax" in msg.lower()
    # The DiffSL message points at line 3 and echoes the offending source.
    assert "3:" in msg
    assert "F_i { -k * * y }" in msg


def test_diffsl_semantic_error_names_the_unknown_variable():
    b = diffid.DiffsolBuilder().with_diffsl(SEMANTIC_ERROR_MODEL).with_data(_decay_data())
    with pytest.raises(diffid.BuildError) as info:
        b.build()
    msg = str(info.value)
    assert "zzz" in msg
    assert re.search(r"[Ll]ine 3", msg), msg


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


def test_unknown_parameter_is_named_and_inputs_listed(decay_builder):
    with pytest.raises(diffid.BuildError) as info:
        decay_builder.with_parameter("kk", 1.0).build()
    msg = str(info.value)
    assert "'kk'" in msg or '"kk"' in msg
    assert "k" in msg and "y0" in msg


def test_unknown_parameter_in_seed_lists_all_inputs(seed_model, seed_data):
    b = diffid.DiffsolBuilder().with_diffsl(seed_model).with_data(seed_data)
    with pytest.raises(diffid.BuildError) as info:
        b.with_parameter("alpha", 1.0).with_parameter("alpah", 1.0).build()
    msg = str(info.value)
    assert "alpah" in msg
    for name in ("alpha", "beta", "delta", "gamma"):
        assert name in msg


def test_duplicate_parameter_is_named(decay_builder):
    with pytest.raises(diffid.BuildError) as info:
        decay_builder.with_parameter("k", 1.0).with_parameter("y0", 1.0).with_parameter(
            "k", 2.0
        ).build()
    msg = str(info.value)
    assert "'k'" in msg
    assert "twice" in msg or "duplicate" in msg.lower()


@pytest.mark.parametrize("bounds", [(2.0, 1.0), (1.0, 1.0), (math.nan, 1.0)])
def test_bounds_lower_not_below_upper(decay_builder, bounds):
    with pytest.raises(diffid.BuildError) as info:
        decay_builder.with_parameter("k", 0.5, bounds).build()
    msg = str(info.value)
    assert "'k'" in msg
    assert "bound" in msg


def test_initial_outside_bounds_at_build(decay_builder):
    with pytest.raises(diffid.BuildError) as info:
        decay_builder.with_parameter("k", 5.0, (0.0, 1.0)).build()
    msg = str(info.value)
    assert "'k'" in msg
    assert "5" in msg


def test_non_finite_initial_at_build(decay_builder):
    with pytest.raises(diffid.BuildError) as info:
        decay_builder.with_parameter("y0", math.nan).build()
    assert "'y0'" in str(info.value)


def test_initial_outside_bounds_at_optimise(decay_builder):
    p = decay_builder.with_parameter("k", 0.5, (0.0, 1.0)).with_parameter("y0", 1.0).build()
    with pytest.raises((ValueError, diffid.DiffidError)) as info:
        p.optimise(initial=[5.0, 1.0])
    msg = str(info.value)
    assert "'k'" in msg
    assert "5" in msg


def test_initial_of_wrong_length(decay_problem):
    for bad in ([1.0], [1.0, 2.0, 3.0]):
        with pytest.raises((ValueError, diffid.DiffidError)) as info:
            decay_problem.optimise(initial=bad)
        msg = str(info.value)
        assert "initial" in msg
        assert str(len(bad)) in msg and "2" in msg


def test_evaluate_point_of_wrong_length(decay_problem):
    for f in (decay_problem.evaluate, decay_problem, decay_problem.simulate):
        with pytest.raises((ValueError, diffid.DiffidError)) as info:
            f([1.0, 2.0, 3.0])
        msg = str(info.value)
        assert "3" in msg and "2" in msg


def test_evaluate_rejects_2d_point(decay_problem):
    with pytest.raises(ValueError):
        decay_problem.evaluate([[0.5, 1.0]])


def test_optimise_without_parameters(decay_builder):
    with pytest.raises(diffid.DiffidError) as info:
        decay_builder.build().optimise()
    assert "parameter" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def _build_with(decay_model, data):
    return diffid.DiffsolBuilder().with_diffsl(decay_model).with_data(data).build()


@pytest.mark.parametrize("shape", [(21,), (2, 3, 4)])
def test_data_must_be_2d(decay_model, shape):
    with pytest.raises(diffid.BuildError) as info:
        _build_with(decay_model, np.ones(shape))
    msg = str(info.value)
    assert "2-D" in msg
    assert f"{len(shape)}-D" in msg


def test_data_needs_two_columns(decay_model):
    with pytest.raises(diffid.BuildError) as info:
        _build_with(decay_model, DECAY_TIMES[:, None])
    msg = str(info.value)
    assert "1 column" in msg


def test_data_without_rows(decay_model):
    with pytest.raises(diffid.BuildError) as info:
        _build_with(decay_model, np.zeros((0, 2)))
    assert "row" in str(info.value)


def test_data_must_be_numeric(decay_model):
    with pytest.raises(diffid.BuildError):
        _build_with(decay_model, [["a", "b"], ["c", "d"]])


def test_data_columns_must_match_outputs(decay_model):
    data = np.column_stack((DECAY_TIMES, DECAY_TIMES, DECAY_TIMES))
    with pytest.raises(diffid.BuildError) as info:
        _build_with(decay_model, data)
    msg = str(info.value)
    assert "2 observation column" in msg
    assert "1 output" in msg
    assert "(y)" in msg


def test_seed_data_columns_must_match_outputs(seed_model, seed_data):
    with pytest.raises(diffid.BuildError) as info:
        _build_with(seed_model, seed_data[:, :2])
    msg = str(info.value)
    assert "prey" in msg and "predator" in msg
    assert "1 observation column" in msg and "2 output" in msg


def test_times_must_increase(decay_model, decay_data):
    data = decay_data.copy()
    data[5, 0] = data[4, 0]
    with pytest.raises(diffid.BuildError) as info:
        _build_with(decay_model, data)
    assert "row 5" in str(info.value)
    data = decay_data.copy()
    data[8, 0] = data[7, 0] - 0.1
    with pytest.raises(diffid.BuildError) as info:
        _build_with(decay_model, data)
    assert "row 8" in str(info.value)


def test_negative_times(decay_model, decay_data):
    data = decay_data.copy()
    data[0, 0] = -0.5
    with pytest.raises(diffid.BuildError) as info:
        _build_with(decay_model, data)
    msg = str(info.value)
    assert "-0.5" in msg
    assert "row 0" in msg


@pytest.mark.parametrize(
    "row, column, value",
    [(7, 1, math.nan), (3, 0, math.inf), (10, 1, -math.inf), (0, 0, math.nan)],
)
def test_non_finite_data_names_row_and_column(decay_model, decay_data, row, column, value):
    data = decay_data.copy()
    data[row, column] = value
    with pytest.raises(diffid.BuildError) as info:
        _build_with(decay_model, data)
    msg = str(info.value)
    assert f"row {row}" in msg
    assert f"column {column}" in msg


def test_missing_model_or_data(decay_model, decay_data):
    with pytest.raises(diffid.BuildError) as info:
        diffid.DiffsolBuilder().with_data(decay_data).with_parameter("k", 1.0).build()
    assert "with_diffsl" in str(info.value)
    with pytest.raises(diffid.BuildError) as info:
        diffid.DiffsolBuilder().with_diffsl(decay_model).with_parameter("k", 1.0).build()
    assert "with_data" in str(info.value)
    with pytest.raises(diffid.BuildError):
        diffid.DiffsolBuilder().build()


# ---------------------------------------------------------------------------------------------
# Settings: ValueError when the setter is called
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [0.0, -0.3, math.nan, math.inf])
def test_cmaes_step_size_invalid(step):
    cfg = diffid.CMAES()
    with pytest.raises(ValueError) as info:
        cfg.with_step_size(step)
    assert "step_size" in str(info.value)


@pytest.mark.parametrize("pop", [0, 1])
def test_cmaes_population_too_small(pop):
    with pytest.raises(ValueError) as info:
        diffid.CMAES().with_population_size(pop)
    assert "population_size" in str(info.value)


def test_cmaes_other_invalid_settings():
    with pytest.raises(ValueError, match="max_evaluations"):
        diffid.CMAES().with_max_evaluations(0)
    with pytest.raises(ValueError, match="threshold"):
        diffid.CMAES().with_threshold(math.nan)
    with pytest.raises(ValueError, match="function_tolerance"):
        diffid.CMAES().with_function_tolerance(-1.0)
    with pytest.raises(ValueError, match="position_tolerance"):
        diffid.CMAES().with_position_tolerance(math.nan)


def test_cmaes_valid_edge_settings():
    """Settings at the edge of their range are accepted and kept, and a run uses them."""
    tiny = diffid.CMAES().with_population_size(2).with_step_size(1e-9).with_max_iter(1)
    assert "population_size=2" in repr(tiny) and "step_size=0.000000001" in repr(tiny)
    problem = diffid.ScalarBuilder().with_objective(lambda x: float(x[0] ** 2)).with_parameter(
        "a", 1.0).build()
    r = problem.optimise(optimiser=tiny.with_seed(1))
    assert (r.iterations, r.evaluations) == (1, 2)
    off = diffid.CMAES().with_threshold(-math.inf).with_function_tolerance(0).with_position_tolerance(0)
    assert "threshold=-inf" in repr(off)
    r = problem.optimise(optimiser=off.with_seed(1).with_max_iter(30))
    assert r.termination_reason == "max_iterations"


@pytest.mark.parametrize("variance", [0.0, -1.0, math.nan, math.inf])
def test_gaussian_nll_variance_invalid(variance):
    with pytest.raises(ValueError) as info:
        diffid.GaussianNLL(variance=variance)
    assert "variance" in str(info.value)


@pytest.mark.parametrize("metric", [diffid.SSE, diffid.RMSE])
@pytest.mark.parametrize("weight", [-1.0, math.nan])
def test_metric_weight_invalid(metric, weight):
    with pytest.raises(ValueError) as info:
        metric(weight=weight)
    assert "weight" in str(info.value)


def test_with_cost_rejects_a_string(decay_builder):
    with pytest.raises(diffid.BuildError) as info:
        decay_builder.with_cost("sse")
    assert "SSE" in str(info.value)


def test_with_parallel_rejects_bad_thread_counts(decay_builder):
    with pytest.raises(ValueError):
        decay_builder.with_parallel(0)
    with pytest.raises(ValueError):
        decay_builder.with_parallel(-2)
    with pytest.raises(ValueError):
        decay_builder.with_max_threads(0)
    with pytest.raises(TypeError):
        decay_builder.with_parallel("four")


def test_with_tolerances_rejects_non_positive(decay_builder):
    with pytest.raises(ValueError):
        decay_builder.with_tolerances(0.0, 1e-8)
    with pytest.raises(ValueError):
        decay_builder.with_tolerances(1e-6, -1.0)


def test_with_optimiser_rejects_non_optimiser(decay_builder):
    with pytest.raises(TypeError):
        decay_builder.with_optimiser("cmaes")
