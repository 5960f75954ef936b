"""Ask/tell with the gradient optimisers: Evaluate.needs_gradient, (value, gradient) tells."""

import numpy as np
import pytest

import diffid


def f(x):
    return float((x[0] - 1.0) ** 2 + 10.0 * (x[1] + 2.0) ** 2)


def g(x):
    return [2.0 * (x[0] - 1.0), 20.0 * (x[1] + 2.0)]


def drive(state):
    asked = 0
    while True:
        step = state.ask()
        if isinstance(step, diffid.Done):
            return step.result, asked
        assert step.needs_gradient
        asked += len(step)
        state.tell([(f(p), g(p)) for p in step.points])


@pytest.mark.parametrize(
    "opt",
    [
        diffid.LBFGSB().with_threshold(1e-14),
        diffid.Adam().with_step_size(0.1).with_max_iter(3000).with_threshold(1e-14),
    ],
    ids=["lbfgsb", "adam"],
)
def test_gradient_optimisers_by_hand(opt):
    state = opt.init([0.0, 0.0])
    first = state.ask()
    assert isinstance(first, diffid.Evaluate) and first.needs_gradient
    assert first.points.shape == (1, 2)
    assert "needs_gradient=True" in repr(first)
    # A single pair may be told without the list.
    state.tell((f(first.points[0]), g(first.points[0])))
    result, asked = drive(state)
    np.testing.assert_allclose(result.x, [1.0, -2.0], atol=1e-4)
    assert result.evaluations == asked + 1 == state.evaluations()


def test_value_optimisers_do_not_ask_for_gradients():
    step = diffid.NelderMead().init([0.0, 0.0]).ask()
    assert not step.needs_gradient


def test_wrong_tells_raise_tell_errors_and_keep_the_ask():
    state = diffid.LBFGSB().init([0.0, 0.0])
    step = state.ask()
    with pytest.raises(TypeError, match=r"\(value, gradient\) pair"):
        state.tell(1.0)
    with pytest.raises(diffid.TellError, match="length 1"):
        state.tell((1.0, [0.5]))
    with pytest.raises(diffid.ResultCountMismatch):
        state.tell([(1.0, [0.0, 0.0]), (1.0, [0.0, 0.0])])
    again = state.ask()
    np.testing.assert_array_equal(again.points, step.points)
    state.tell((f(step.points[0]), g(step.points[0])))


def test_a_failed_start_ends_in_a_stall_and_then_refuses_tells():
    state = diffid.Adam().init([0.0])
    state.ask()
    state.tell((None, None))
    # Stopped with nothing evaluated successfully: there is no result to give.
    with pytest.raises(diffid.EvaluationError, match="every evaluation failed"):
        state.ask()
    with pytest.raises(diffid.AlreadyTerminated):
        state.tell((1.0, [0.0]))


def test_a_failed_trial_is_stepped_around():
    state = diffid.LBFGSB().init([-1.0])
    failures = 0
    while True:
        step = state.ask()
        if isinstance(step, diffid.Done):
            break
        x = step.points[0][0]
        if x > 3.0:
            failures += 1
            state.tell((None, None))
        else:
            state.tell(((x - 2.0) ** 2, [2.0 * (x - 2.0)]))
    assert state.best()[0][0] == pytest.approx(2.0, abs=1e-6)
