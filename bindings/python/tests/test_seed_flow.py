"""The seed tutorial's flow, built exactly as the tutorial builds it, and the result it returns."""

from __future__ import annotations

import datetime
import math
import multiprocessing
import re

import numpy as np
import pytest

import diffid
from support import SEED_INITIAL, load_seed_data, seed_builder, SEED_MODEL

N_PARAMS = 4
# CMA-ES default population 4 + floor(3 ln n) for n = 4 parameters.
DEFAULT_POPULATION = 4 + math.floor(3 * math.log(N_PARAMS))

_RESULTS: dict[str, diffid.OptimisationResults] = {}


def _seed_result(kind: str) -> diffid.OptimisationResults:
    """Runs each seed configuration once per session (each takes a few hundred ms)."""
    if kind not in _RESULTS:
        base = seed_builder(SEED_MODEL, load_seed_data())
        if kind == "sequential":
            builder = base.with_parallel(False).with_optimiser(
                diffid.CMAES().with_max_iter(100).with_step_size(0.3)
            )
        elif kind == "parallel":
            builder = base.with_parallel(True).with_optimiser(
                diffid.CMAES().with_max_iter(100).with_step_size(0.3)
            )
        elif kind == "parallel_large":
            n_cores = multiprocessing.cpu_count()
            builder = base.with_parallel(True).with_optimiser(
                diffid.CMAES()
                .with_max_iter(50)
                .with_step_size(0.3)
                .with_population_size(2 * n_cores)
            )
        else:  # pragma: no cover
            raise AssertionError(kind)
        _RESULTS[kind] = builder.build().optimise()
    return _RESULTS[kind]


SEED_KINDS = ["sequential", "parallel", "parallel_large"]


@pytest.fixture(params=SEED_KINDS)
def seed_result(request) -> diffid.OptimisationResults:
    return _seed_result(request.param)


def test_seed_builder_chain_returns_builders_and_problem(seed_base):
    b = seed_base.with_parallel(False)
    assert isinstance(b, diffid.DiffsolBuilder)
    b = b.with_optimiser(diffid.CMAES().with_max_iter(100).with_step_size(0.3))
    assert isinstance(b, diffid.DiffsolBuilder)
    problem = b.build()
    assert isinstance(problem, diffid.Problem)
    assert problem.dimension() == N_PARAMS
    assert problem.parameter_names() == ["alpha", "beta", "delta", "gamma"]
    np.testing.assert_array_equal(problem.initial_values(), list(SEED_INITIAL.values()))
    assert problem.bounds() == [(-math.inf, math.inf)] * N_PARAMS
    np.testing.assert_array_equal(problem.times(), load_seed_data()[:, 0])


def test_seed_result_x(seed_result):
    x = seed_result.x
    assert isinstance(x, np.ndarray)
    assert x.dtype == np.float64
    assert x.shape == (N_PARAMS,)
    assert np.all(np.isfinite(x))


def test_seed_result_value_is_finite_float_and_improves_on_start(seed_result):
    value = seed_result.value
    assert type(value) is float
    assert math.isfinite(value)
    start = seed_builder(SEED_MODEL, load_seed_data()).build()
    assert value < start.evaluate(list(SEED_INITIAL.values()))
    # The reported value is the objective at the reported x.
    assert start.evaluate(seed_result.x) == pytest.approx(value, rel=1e-7)


def test_seed_result_iterations_and_evaluations():
    for kind, iters, pop in [
        ("sequential", 100, DEFAULT_POPULATION),
        ("parallel", 100, DEFAULT_POPULATION),
        ("parallel_large", 50, 2 * multiprocessing.cpu_count()),
    ]:
        r = _seed_result(kind)
        assert type(r.iterations) is int
        assert type(r.evaluations) is int
        assert r.iterations == iters, kind
        assert r.evaluations == r.iterations * pop, kind
        assert type(r.failed_evaluations) is int
        assert 0 <= r.failed_evaluations <= r.evaluations


def test_seed_result_time(seed_result):
    assert isinstance(seed_result.time, datetime.timedelta)
    assert seed_result.time > datetime.timedelta(0)
    assert seed_result.time < datetime.timedelta(minutes=5)


def test_seed_result_status_fields(seed_result):
    assert type(seed_result.success) is bool
    # The seed runs hit the iteration limit: that is not convergence.
    assert seed_result.success is False
    assert bool(seed_result) is seed_result.success
    assert isinstance(seed_result.message, str) and seed_result.message
    assert isinstance(seed_result.termination_reason, str)
    assert seed_result.termination_reason == "max_iterations"


def test_seed_result_covariance(seed_result):
    cov = seed_result.covariance
    assert isinstance(cov, np.ndarray)
    assert cov.dtype == np.float64
    assert cov.shape == (N_PARAMS, N_PARAMS)
    assert np.all(np.isfinite(cov))
    np.testing.assert_allclose(cov, cov.T, rtol=1e-12, atol=1e-300)
    assert np.all(np.diag(cov) > 0)
    # A covariance is positive (semi-)definite.
    assert np.linalg.eigvalsh((cov + cov.T) / 2).min() > -1e-12 * np.abs(cov).max()


def test_seed_result_parameter_names(seed_result):
    assert seed_result.parameter_names == ["alpha", "beta", "delta", "gamma"]


def _numbers(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text)]


@pytest.mark.parametrize("render", [str, repr])
def test_seed_result_str_and_repr_mention_value(seed_result, render):
    text = render(seed_result)
    assert isinstance(text, str) and text
    value = seed_result.value
    assert any(n == pytest.approx(value, rel=1e-6) for n in _numbers(text)), text


@pytest.mark.parametrize("render", [str, repr])
def test_str_and_repr_show_a_tiny_value_meaningfully(decay_problem, render):
    """A converged fit's value (around 1e-15) must not be rendered as a bare 0.000000."""
    r = decay_problem.optimise(optimiser=diffid.CMAES().with_seed(1).with_threshold(1e-14))
    assert 0 < r.value < 1e-10
    text = render(r)
    assert any(
        n != 0 and n == pytest.approx(r.value, rel=1e-3) for n in _numbers(text)
    ), text


def test_converged_result_is_success_and_truthy(decay_problem):
    r = decay_problem.optimise(optimiser=diffid.CMAES().with_seed(2).with_threshold(1e-10))
    assert r.success is True
    assert bool(r) is True
    assert r.termination_reason == "threshold_reached"
    assert r.value <= 1e-10


def test_covariance_is_sigma_squared_c_in_natural_units(decay_problem):
    """At convergence the search distribution has collapsed: σ²C is tiny in natural units.

    Reporting C alone (the earlier release's defect) gives entries of order one."""
    r = decay_problem.optimise(optimiser=diffid.CMAES().with_seed(3).with_threshold(1e-14))
    sd = np.sqrt(np.diag(r.covariance))
    assert np.all(sd < 1e-3 * np.abs(r.x))
