"""Property-based fuzzing of what a user can type: data arrays (shapes, NaN/inf, unsorted
times), parameters with bounds, transforms and priors, optimiser and sampler settings, and
points to evaluate. Each either works or raises one of diffid's errors (a ``DiffidError``, or
``ValueError``/``TypeError`` for a setting given the wrong value or type); never another
exception, a crash or a hang. (An integer too large for a count raises Python's own
``OverflowError`` while the argument is converted.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diffid

DECAY = "in_i { k = 0.5, y0 = 2.0 } u_i { y = y0 } F_i { -k * y }"
EXPECTED = (diffid.DiffidError, ValueError, TypeError, OverflowError)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1e-300, -1e300, 1.0, 5.0]),
)


def expect_diffid_error(call):
    """Runs `call`; returns its value or None, and fails on an unexpected exception type."""
    try:
        return call()
    except EXPECTED:
        return None


@FAST
@given(
    rows=st.integers(0, 6),
    cols=st.integers(0, 4),
    values=st.lists(floats, min_size=24, max_size=24),
    ndim=st.sampled_from([1, 2, 3]),
)
def test_any_data_array_builds_or_raises_a_build_error(rows, cols, values, ndim):
    data = np.array(values[: rows * cols] or [0.0], dtype=float)
    shape = {1: (data.size,), 2: (rows, cols) if rows * cols else (1, 1), 3: (1, 1, data.size)}[ndim]
    data = data.reshape(shape) if data.size == math.prod(shape) else data
    builder = diffid.DiffsolBuilder().with_diffsl(DECAY).with_parameter("k", 0.5)
    problem = expect_diffid_error(lambda: builder.with_data(data).build())
    if problem is not None:
        value = expect_diffid_error(lambda: problem.evaluate([0.5]))
        assert value is None or not math.isnan(value)


@FAST
@given(
    initial=floats,
    lower=floats,
    upper=floats,
    transform=st.sampled_from([None, "log", "logit", "nonsense"]),
    prior=st.sampled_from(
        [None, ("Normal", 0.0, 1.0), ("Uniform", 0.0, 1.0), ("LogNormal", 0.0, 1.0), ("Beta", 2.0, 2.0)]
    ),
    use_bounds=st.booleans(),
)
def test_any_parameter_declaration_works_or_raises_a_specific_error(
    initial, lower, upper, transform, prior, use_bounds
):
    def declare():
        p = None if prior is None else getattr(diffid, prior[0])(prior[1], prior[2])
        b = (lower, upper) if use_bounds else None
        return (
            diffid.DiffsolBuilder()
            .with_diffsl(DECAY)
            .with_data(np.column_stack([np.linspace(0, 1, 5), np.linspace(2, 1, 5)]))
            .with_parameter("k", initial, bounds=b, transform=transform, prior=p)
            .with_cost(diffid.GaussianNLL(variance=0.1))
            .build()
        )

    problem = expect_diffid_error(declare)
    if problem is not None:
        expect_diffid_error(lambda: problem.log_posterior([initial]))
        expect_diffid_error(lambda: problem.evaluate([initial]))


SETTERS = {
    diffid.NelderMead: ["with_step_size", "with_position_tolerance", "with_function_tolerance",
                        "with_threshold", "with_max_iter", "with_max_evaluations", "with_patience",
                        "with_time_limit"],
    diffid.CMAES: ["with_step_size", "with_population_size", "with_seed", "with_max_iter",
                   "with_function_tolerance", "with_threshold"],
    diffid.Adam: ["with_step_size", "with_eps", "with_gradient_tolerance", "with_max_iter"],
    diffid.LBFGSB: ["with_memory", "with_gradient_tolerance", "with_max_line_search"],
    diffid.MetropolisHastings: ["with_num_chains", "with_iterations", "with_warmup", "with_thin",
                                "with_step_size"],
    diffid.EnsembleSampler: ["with_walkers", "with_iterations", "with_stretch", "with_step_size"],
    diffid.DynamicNestedSampler: ["with_live_points", "with_termination_tolerance",
                                  "with_posterior_fraction", "with_batch_size", "with_target_ess"],
}

setting_values = st.one_of(
    floats,
    st.integers(-5, 10**6),
    st.sampled_from([True, "3", None, [1.0], 2**70]),
)


@FAST
@given(
    cls=st.sampled_from(sorted(SETTERS, key=lambda c: c.__name__)),
    choices=st.lists(st.tuples(st.integers(0, 20), setting_values), min_size=1, max_size=3),
)
def test_any_setting_is_kept_or_refused_when_given(cls, choices):
    config = cls()
    for index, value in choices:
        setter = SETTERS[cls][index % len(SETTERS[cls])]
        nxt = expect_diffid_error(lambda: getattr(config, setter)(value))
        if nxt is not None:
            config = nxt
    repr(config)  # a kept setting is always printable


@FAST
@given(point=st.lists(floats, min_size=0, max_size=3))
def test_any_point_evaluates_or_raises(point):
    problem = (
        diffid.DiffsolBuilder()
        .with_diffsl(DECAY)
        .with_data(np.column_stack([np.linspace(0, 2, 6), 2 * np.exp(-0.5 * np.linspace(0, 2, 6))]))
        .with_parameter("k", 0.5)
        .with_parameter("y0", 2.0)
        .build()
    )
    for call in (problem.evaluate, problem.evaluate_gradient, problem.simulate):
        out = expect_diffid_error(lambda: call(point))
        if out is not None:
            assert np.all(np.isfinite(out))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**64 - 1),
    lam=st.integers(2, 12),
    start=st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2),
)
def test_runs_from_any_start_and_seed_end_with_a_result_or_an_error(seed, lam, start):
    problem = (
        diffid.DiffsolBuilder()
        .with_diffsl(DECAY)
        .with_data(np.column_stack([np.linspace(0, 2, 6), 2 * np.exp(-0.5 * np.linspace(0, 2, 6))]))
        .with_parameter("k", 0.5)
        .with_parameter("y0", 2.0)
        .with_parallel(False)
        .build()
    )
    opt = diffid.CMAES().with_seed(seed).with_population_size(lam).with_max_iter(15)
    r = expect_diffid_error(lambda: problem.optimise(initial=start, optimiser=opt))
    if r is not None:
        assert r.evaluations > 0 and (math.isfinite(r.value))
