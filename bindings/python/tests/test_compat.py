"""The earlier release's API where ours used to differ without a reason (docs/compat.md):
1-D data for VectorBuilder, numpy scalars from callables, patience in seconds, max_iter 0,
parameters() as (name, initial, bounds) tuples, copying builders."""

from __future__ import annotations

import copy
import datetime

import numpy as np
import pytest

import diffid
from support import DECAY_TIMES, decay_solution

OPTIMISERS = [diffid.NelderMead, diffid.CMAES, diffid.Adam, diffid.LBFGSB]


def test_vector_builder_accepts_a_1d_array_of_observations():
    observed = decay_solution(0.7, 3.0)
    one_d = (
        diffid.VectorBuilder()
        .with_objective(lambda p: decay_solution(p[0], p[1]))
        .with_data(observed)
        .with_parameter("k", 0.5, bounds=(0.1, 2.0))
        .with_parameter("y0", 2.0, bounds=(0.5, 5.0))
        .build()
    )
    # The same fit as with a time column.
    two_d = (
        diffid.VectorBuilder()
        .with_objective(lambda p: decay_solution(p[0], p[1]))
        .with_data(np.column_stack([np.arange(len(observed)), observed]))
        .with_parameter("k", 0.5, bounds=(0.1, 2.0))
        .with_parameter("y0", 2.0, bounds=(0.5, 5.0))
        .build()
    )
    assert one_d.evaluate([0.6, 2.5]) == two_d.evaluate([0.6, 2.5])
    r = one_d.optimise(optimiser=diffid.CMAES().with_seed(2).with_threshold(1e-18))
    np.testing.assert_allclose(r.x, [0.7, 3.0], rtol=1e-5)


def test_vector_builder_1d_data_with_wrong_length_predictions_is_named():
    p = (
        diffid.VectorBuilder()
        .with_objective(lambda q: np.zeros(3))
        .with_data(np.ones(5))
        .with_parameter("a", 1.0)
        .build()
    )
    with pytest.raises(diffid.EvaluationError, match=r"shape \(5, 1\).*got shape \[3\]"):
        p.evaluate([1.0])


@pytest.mark.parametrize(
    "wrap",
    [np.float64, np.float32, np.array, lambda v: np.array([v]), lambda v: np.array([[v]])],
    ids=["float64", "float32", "0-d array", "size-1 array", "1x1 array"],
)
def test_callables_may_return_numpy_scalars_and_size_1_arrays(wrap):
    def f(x):
        return wrap((x[0] - 1.25) ** 2 + 0.5)

    problem = diffid.ScalarBuilder().with_objective(f).with_parameter("a", 0.0).build()
    assert problem.evaluate([1.25]) == pytest.approx(0.5)
    r = problem.optimise(optimiser=diffid.CMAES().with_seed(1))
    assert r.x[0] == pytest.approx(1.25, abs=1e-4)


@pytest.mark.parametrize(
    "value, shown",
    [(np.array([1.0, 2.0]), "shape [2]"), (True, "bool"), ("1.0", "str")],
)
def test_a_return_value_that_is_not_one_number_is_refused_by_name(value, shown):
    problem = diffid.ScalarBuilder().with_objective(lambda x: value).with_parameter("a", 0.0).build()
    with pytest.raises(diffid.EvaluationError, match="must return a float") as info:
        problem.evaluate([0.0])
    assert shown in str(info.value)


def test_patience_in_seconds_stops_a_run_that_does_not_improve():
    import time

    def flat(x):
        time.sleep(0.002)
        return 1.0

    problem = diffid.ScalarBuilder().with_objective(flat).with_parameter("a", 0.0).build()
    for patience in (0.05, datetime.timedelta(milliseconds=50)):
        opt = (
            diffid.NelderMead()
            .with_patience(patience)
            .with_max_iter(10**6)
            .with_function_tolerance(0.0)
            .with_position_tolerance(0.0)
        )
        r = problem.optimise(optimiser=opt)
        assert r.termination_reason == "patience"
        assert r.time.total_seconds() >= 0.05


@pytest.mark.parametrize("cls", OPTIMISERS)
def test_max_iter_zero_evaluates_the_start_and_returns_it(cls):
    calls = []

    def f(x):
        calls.append(np.array(x))
        return float(np.sum((np.asarray(x) - 3.0) ** 2))

    problem = (
        diffid.ScalarBuilder()
        .with_objective(f)
        .with_parameter("a", 1.0, bounds=(0.0, 5.0))
        .with_parameter("b", 2.0, bounds=(0.0, 5.0))
        .build()
    )
    r = problem.optimise(optimiser=cls().with_max_iter(0))
    assert r.x.tolist() == [1.0, 2.0]
    assert r.value == 5.0
    assert (r.iterations, r.evaluations) == (0, 1)
    assert r.termination_reason == "max_iterations"
    assert [c.tolist() for c in calls] == [[1.0, 2.0]]
    # By hand as well.
    state = cls().with_max_iter(0).init([1.0, 2.0])
    asked = state.ask()
    assert asked.points.tolist() == [[1.0, 2.0]]
    state.tell([5.0])
    done = state.ask()
    assert isinstance(done, diffid.Done)
    assert done.result.x.tolist() == [1.0, 2.0]


def test_max_iter_zero_with_a_failing_start_says_so():
    problem = diffid.ScalarBuilder().with_objective(lambda x: np.inf).with_parameter("a", 1.0).build()
    with pytest.raises(diffid.EvaluationError, match="every evaluation failed"):
        problem.optimise(optimiser=diffid.CMAES().with_max_iter(0))


def test_parameters_are_name_initial_bounds_tuples(decay_builder):
    problem = (
        decay_builder.with_parameter("k", 0.4, bounds=(0.1, 2.0)).with_parameter("y0", 2.5).build()
    )
    params = problem.parameters()
    assert params == [("k", 0.4, (0.1, 2.0)), ("y0", 2.5, None)]
    name, initial, bounds = params[0]
    assert (name, initial, bounds) == (params[0].name, params[0].initial, params[0].bounds)
    assert problem.parameter_names() == ["k", "y0"]
    assert problem([0.4, 2.5]) == problem.evaluate([0.4, 2.5])


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_builders_copy_to_equal_independent_builders(decay_builder, how):
    base = decay_builder.with_parameter("k", 0.4)
    twin = how(base)
    assert twin == base
    assert twin is not base
    longer = twin.with_parameter("y0", 2.0)
    assert longer != base
    assert base.build().parameter_names() == ["k"]
    assert longer.build().parameter_names() == ["k", "y0"]
    scalar = diffid.ScalarBuilder().with_objective(abs).with_parameter("a", 1.0)
    assert how(scalar) == scalar
    vector = diffid.VectorBuilder().with_objective(abs).with_data(np.ones(3)).with_parameter("a", 1.0)
    assert how(vector) == vector
