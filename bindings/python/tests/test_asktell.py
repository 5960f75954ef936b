"""Ask/tell from Python: drive an optimiser by hand."""

import numpy as np
import pytest

import diffid


def sphere(x):
    return float(np.sum(np.asarray(x) ** 2))


def drive(state, f):
    while True:
        step = state.ask()
        if isinstance(step, diffid.Done):
            return step.result
        state.tell([f(p) for p in step.points])


def test_cmaes_by_hand_converges_and_reports_its_state():
    state = diffid.CMAES().with_seed(3).with_threshold(1e-10).init([1.0, -2.0, 0.5])
    first = state.ask()
    assert isinstance(first, diffid.Evaluate)
    assert first.points.shape == (7, 3)  # λ = 4 + ⌊3 ln 3⌋
    assert len(first) == 7
    assert state.sigma() == pytest.approx(0.5)
    np.testing.assert_array_equal(state.mean(), [1.0, -2.0, 0.5])
    state.tell([sphere(p) for p in first.points])
    result = drive(state, sphere)
    assert result.value <= 1e-10
    assert result.termination_reason == "threshold_reached"
    assert state.evaluations() == result.evaluations
    assert state.best()[1] == result.value


def test_ask_tell_equals_the_same_seed_driven_twice():
    a = drive(diffid.CMAES().with_seed(9).with_max_iter(30).init([2.0, 2.0]), sphere)
    b = drive(diffid.CMAES().with_seed(9).with_max_iter(30).init([2.0, 2.0]), sphere)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.value == b.value


def test_nelder_mead_by_hand_accepts_single_floats():
    state = diffid.NelderMead().with_threshold(1e-12).init([1.0, 1.0])
    step = state.ask()
    assert step.points.shape == (3, 2)  # the initial simplex
    state.tell([sphere(p) for p in step.points])
    step = state.ask()
    assert step.points.shape == (1, 2)
    state.tell(sphere(step.points[0]))  # one point: a bare float is fine
    result = drive(state, sphere)
    assert result.value <= 1e-12
    assert result.final_simplex.shape == (3, 2)
    with pytest.raises(TypeError):
        state.mean()


def test_bounds_are_respected_by_asked_points():
    state = diffid.CMAES().with_seed(1).with_step_size(2.0).with_max_iter(20).init(
        [0.5, 0.5], bounds=[(0.0, 1.0), (0.25, 0.75)]
    )
    while isinstance(step := state.ask(), diffid.Evaluate):
        pts = step.points
        assert np.all((pts[:, 0] >= 0.0) & (pts[:, 0] <= 1.0))
        assert np.all((pts[:, 1] >= 0.25) & (pts[:, 1] <= 0.75))
        state.tell([sphere(p) for p in pts])


def test_failed_values_rank_worst():
    state = diffid.CMAES().with_seed(2).with_max_iter(60).init([1.0, 1.0])
    result = drive(state, lambda p: None if p[0] < 0 else sphere(p))
    assert result.failed_evaluations > 0
    assert result.x[0] >= 0.0


def test_tell_errors():
    state = diffid.CMAES().with_seed(1).with_max_iter(1).init([1.0, 1.0])
    step = state.ask()
    with pytest.raises(diffid.ResultCountMismatch, match="expected 6"):
        state.tell([1.0, 2.0])
    state.tell([sphere(p) for p in step.points])
    assert isinstance(state.ask(), diffid.Done)
    with pytest.raises(diffid.AlreadyTerminated):
        state.tell([1.0] * 6)
    with pytest.raises(TypeError, match="float or a list"):
        diffid.NelderMead().init([1.0]).tell("nope")


def test_bad_init_arguments():
    with pytest.raises(ValueError, match=r"bounds\[0\]"):
        diffid.CMAES().init([0.5], bounds=[(1.0, 0.0)])
    with pytest.raises(diffid.DiffidError):
        diffid.CMAES().init([5.0], bounds=[(0.0, 1.0)])
    with pytest.raises(diffid.DiffidError):
        diffid.NelderMead().init([])


def rastrigin(x):
    x = np.asarray(x)
    return float(10 * len(x) + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


def test_ipop_restarts_escape_local_minima_where_plain_cmaes_stalls():
    bounds = [(-5.12, 5.12)] * 4
    start = [3.0] * 4
    plain = drive(diffid.CMAES().with_seed(3).with_step_size(2.0).with_threshold(1e-8).init(start, bounds), rastrigin)
    assert plain.value > 0.5, "plain CMA-ES is expected to stop in a local minimum here"
    ipop = (
        diffid.CMAES()
        .with_seed(3)
        .with_step_size(2.0)
        .with_threshold(1e-8)
        .with_max_evaluations(200_000)
        .with_restarts("ipop")
    )
    result = drive(ipop.init(start, bounds), rastrigin)
    assert result.value <= 1e-8
    assert result.evaluations <= 200_000


def test_restart_settings_are_checked():
    with pytest.raises(ValueError, match="restart strategy 'sometimes'"):
        diffid.CMAES().with_restarts("sometimes")
    with pytest.raises(ValueError, match="increase"):
        diffid.CMAES().with_restarts("ipop", increase=1.0)
    assert diffid.CMAES().with_restarts(None) is not None
