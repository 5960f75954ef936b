"""Failed ODE solves during a run, and the cost metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffid
from support import BLOWUP_TRUE_C

# ---------------------------------------------------------------------------------------------
# A failed solve at a candidate is data for the optimiser, not an exception
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("parallel", [False, True])
def test_blowups_during_a_run_do_not_raise(blowup_builder, parallel):
    problem = blowup_builder.with_parameter("c", 0.5).with_parallel(parallel).build()
    # step 3.0 relative to the start's scale 0.5: sigma 1.5, so many candidates have c > 1.11,
    # whose solution blows up before t = 0.9.
    opt = diffid.CMAES().with_step_size(3.0).with_seed(0).with_max_iter(50)
    r = problem.optimise(optimiser=opt)
    assert r.failed_evaluations > 0
    assert r.failed_evaluations < r.evaluations
    assert math.isfinite(r.value)
    assert np.all(np.isfinite(r.x))
    assert r.x[0] == pytest.approx(BLOWUP_TRUE_C, rel=1e-2)
    assert r.value < 1e-4


def test_evaluate_at_a_blowup_raises_evaluation_error(blowup_builder):
    problem = blowup_builder.with_parameter("c", 0.5).build()
    assert problem.evaluate([0.5]) < 1e-8
    with pytest.raises(diffid.EvaluationError) as info:
        problem.evaluate([2.0])
    assert "2" in str(info.value)
    with pytest.raises(diffid.EvaluationError):
        problem([2.0])
    with pytest.raises(diffid.EvaluationError):
        problem.simulate([2.0])


def test_evaluation_error_carries_the_point(blowup_builder):
    """The spec: EvaluationError carries `point`."""
    problem = blowup_builder.with_parameter("c", 0.5).build()
    with pytest.raises(diffid.EvaluationError) as info:
        problem.evaluate([2.0])
    assert hasattr(info.value, "point")
    np.testing.assert_array_equal(np.asarray(info.value.point, dtype=float), [2.0])


def test_run_where_every_evaluation_fails_raises_evaluation_error(blowup_builder):
    problem = blowup_builder.with_parameter("c", 5.0, (4.0, 10.0)).build()
    with pytest.raises(diffid.EvaluationError) as info:
        problem.optimise(optimiser=diffid.CMAES().with_seed(0).with_max_iter(5))
    assert "fail" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Cost metrics
# ---------------------------------------------------------------------------------------------


def test_metric_names_and_attributes():
    assert diffid.SSE().name == "sse"
    assert diffid.RMSE().name == "rmse"
    assert diffid.GaussianNLL().name == "gaussian_nll"
    assert diffid.SSE().weight == 1.0
    assert diffid.RMSE(weight=2.5).weight == 2.5
    nll = diffid.GaussianNLL(variance=0.3, weight=2.0)
    assert nll.variance == 0.3
    assert nll.weight == 2.0
    assert diffid.GaussianNLL().variance == 1.0
    assert diffid.GaussianNLL(0.7).variance == 0.7


X_EVAL = [1.0, 0.45, 0.09, 0.42]


@pytest.fixture
def residuals(seed_model, seed_data):
    problem = (
        diffid.DiffsolBuilder()
        .with_diffsl(seed_model)
        .with_data(seed_data)
        .with_parameter("alpha", 1.0)
        .with_parameter("beta", 0.5)
        .with_parameter("delta", 0.1)
        .with_parameter("gamma", 0.5)
        .build()
    )
    sim = problem.simulate(X_EVAL)
    assert sim.shape == seed_data[:, 1:].shape
    return sim - seed_data[:, 1:]


def _problem(seed_model, seed_data, *metrics):
    b = (
        diffid.DiffsolBuilder()
        .with_diffsl(seed_model)
        .with_data(seed_data)
        .with_parameter("alpha", 1.0)
        .with_parameter("beta", 0.5)
        .with_parameter("delta", 0.1)
        .with_parameter("gamma", 0.5)
    )
    for m in metrics:
        b = b.with_cost(m)
    return b.build()


def _sse(r):
    return np.sum(r**2)


def _rmse(r):
    return np.sqrt(np.mean(r**2))


def _nll(r, var):
    return 0.5 * np.sum(r**2 / var + np.log(2 * np.pi * var))


@pytest.mark.parametrize(
    "metric, expected",
    [
        (diffid.SSE(), _sse),
        (diffid.SSE(weight=2.5), lambda r: 2.5 * _sse(r)),
        (diffid.RMSE(), _rmse),
        (diffid.RMSE(weight=0.5), lambda r: 0.5 * _rmse(r)),
        (diffid.GaussianNLL(), lambda r: _nll(r, 1.0)),
        (diffid.GaussianNLL(variance=0.09), lambda r: _nll(r, 0.09)),
        (diffid.GaussianNLL(variance=4.0, weight=3.0), lambda r: 3.0 * _nll(r, 4.0)),
    ],
    ids=["sse", "sse_w", "rmse", "rmse_w", "nll", "nll_var", "nll_var_w"],
)
def test_metric_equals_numpy(seed_model, seed_data, residuals, metric, expected):
    problem = _problem(seed_model, seed_data, metric)
    assert problem.evaluate(X_EVAL) == pytest.approx(expected(residuals), rel=1e-10)


def test_gaussian_nll_includes_normalising_constant(seed_model, seed_data, residuals):
    """At a perfect fit the NLL would still be 0.5·N·ln(2πσ²); check the constant part."""
    var = 0.25
    value = _problem(seed_model, seed_data, diffid.GaussianNLL(var)).evaluate(X_EVAL)
    n = residuals.size
    assert value - 0.5 * _sse(residuals) / var == pytest.approx(
        0.5 * n * math.log(2 * math.pi * var), rel=1e-9
    )


def test_default_cost_is_sse(seed_model, seed_data, residuals):
    assert _problem(seed_model, seed_data).evaluate(X_EVAL) == pytest.approx(
        _sse(residuals), rel=1e-10
    )


def test_several_costs_sum(seed_model, seed_data, residuals):
    problem = _problem(
        seed_model, seed_data, diffid.SSE(weight=2.0), diffid.RMSE(0.5), diffid.GaussianNLL(0.3)
    )
    expected = 2.0 * _sse(residuals) + 0.5 * _rmse(residuals) + _nll(residuals, 0.3)
    assert problem.evaluate(X_EVAL) == pytest.approx(expected, rel=1e-10)


def test_same_metric_twice_counts_twice(seed_model, seed_data, residuals):
    problem = _problem(seed_model, seed_data, diffid.SSE(), diffid.SSE())
    assert problem.evaluate(X_EVAL) == pytest.approx(2 * _sse(residuals), rel=1e-10)


def test_remove_cost_goes_back_to_sse(seed_model, seed_data, residuals):
    b = (
        diffid.DiffsolBuilder()
        .with_diffsl(seed_model)
        .with_data(seed_data)
        .with_parameter("alpha", 1.0)
        .with_parameter("beta", 0.5)
        .with_parameter("delta", 0.1)
        .with_parameter("gamma", 0.5)
    )
    p = b.with_cost(diffid.RMSE()).remove_cost().build()
    assert p.evaluate(X_EVAL) == pytest.approx(_sse(residuals), rel=1e-10)
    p = b.with_cost(diffid.SSE()).remove_cost().with_cost(diffid.RMSE()).build()
    assert p.evaluate(X_EVAL) == pytest.approx(_rmse(residuals), rel=1e-10)


def test_metric_reprs():
    assert "SSE" in repr(diffid.SSE())
    assert "RMSE" in repr(diffid.RMSE())
    assert "0.3" in repr(diffid.GaussianNLL(0.3))

