"""Gradients from Python: exact ones for DiffSL models and for callables given with_gradient,
finite differences otherwise; Adam and L-BFGS-B on them; bad gradients reported."""

import numpy as np
import pytest

import diffid

THREE_OUT = """
in_i { a = 1.0, b = 0.5, c = 0.2, x0 = 1.0 }
u_i { x = x0, y = 0.5 }
F_i { a * x - c * x * y, c * x * y - b * y }
out_i { x, y, x + 2 * y }
"""


def three_out_data():
    t = np.linspace(0.0, 10.0, 41)
    w = np.sin(1.7 * t)
    return np.column_stack((t, 1.0 + 0.3 * w, 0.6 - 0.2 * w, 2.2 + 0.1 * np.cos(0.5 * t)))


def three_out_problem(metric):
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(THREE_OUT)
        .with_data(three_out_data())
        .with_parameter("a", 0.9)
        .with_parameter("c", 0.25)
        .with_parameter("x0", 1.2)
        .with_cost(metric)
        .with_tolerances(1e-10, 1e-12)
        .build()
    )


def central_differences(problem, x, rel=1e-5):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for j in range(len(x)):
        h = rel * max(abs(x[j]), 1.0)
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        g[j] = (problem.evaluate(up) - problem.evaluate(down)) / (2 * h)
    return g


@pytest.mark.parametrize(
    "metric", [diffid.SSE(), diffid.RMSE(weight=2.0), diffid.GaussianNLL(variance=0.3)]
)
def test_diffsl_gradients_with_three_outputs_match_central_differences(metric):
    problem = three_out_problem(metric)
    assert problem.has_exact_gradient()
    for x in ([0.9, 0.25, 1.2], [1.1, 0.15, 0.8]):
        g = problem.evaluate_gradient(x)
        assert g.shape == (3,) and g.dtype == np.float64
        fd = central_differences(problem, x)
        np.testing.assert_allclose(g, fd, rtol=0, atol=1e-5 * np.max(np.abs(fd)))


def test_lbfgsb_and_adam_recover_the_decay_truth_with_exact_gradients(decay_problem):
    lbfgsb = decay_problem.optimise(optimiser=diffid.LBFGSB())
    assert lbfgsb.success, lbfgsb.message
    # No threshold by default: the fit ends on a convergence criterion of its own.
    assert lbfgsb.termination_reason in {"function_tolerance", "gradient_tolerance"}
    np.testing.assert_allclose(lbfgsb.x, [0.7, 3.0], rtol=1e-3)
    tight = decay_problem.optimise(
        optimiser=diffid.LBFGSB()
        .with_threshold(-np.inf)
        .with_function_tolerance(0.0)
        .with_gradient_tolerance(1e-9)
    )
    assert tight.termination_reason == "gradient_tolerance"
    np.testing.assert_allclose(tight.x, [0.7, 3.0], rtol=1e-6)
    nm = decay_problem.optimise(optimiser=diffid.NelderMead())
    assert lbfgsb.evaluations < nm.evaluations / 3
    adam = decay_problem.optimise(
        optimiser=diffid.Adam().with_step_size(0.05).with_max_iter(3000)
    )
    np.testing.assert_allclose(adam.x, [0.7, 3.0], rtol=1e-3)


def quadratic(x):
    return float((x[0] - 1.0) ** 2 + 10.0 * (x[1] + 2.0) ** 2)


def quadratic_gradient(x):
    return np.array([2.0 * (x[0] - 1.0), 20.0 * (x[1] + 2.0)])


def test_a_callables_gradient_is_used_and_each_gradient_counts_once():
    calls = {"f": 0, "g": 0}

    def f(x):
        calls["f"] += 1
        return quadratic(x)

    def g(x):
        calls["g"] += 1
        return quadratic_gradient(x)

    problem = (
        diffid.ScalarBuilder()
        .with_objective(f)
        .with_gradient(g)
        .with_parameter("u", 0.0)
        .with_parameter("v", 0.0)
        .build()
    )
    assert problem.has_exact_gradient()
    np.testing.assert_array_equal(problem.evaluate_gradient([0.0, 0.0]), [-2.0, 40.0])
    calls.update(f=0, g=0)
    result = problem.optimise(optimiser=diffid.LBFGSB())
    assert result.success
    np.testing.assert_allclose(result.x, [1.0, -2.0], atol=1e-6)
    assert result.evaluations == calls["g"] == calls["f"]


def test_without_a_gradient_finite_differences_are_used_and_counted():
    calls = {"f": 0}

    def f(x):
        calls["f"] += 1
        return quadratic(x)

    problem = (
        diffid.ScalarBuilder().with_objective(f).with_parameter("u", 0.0).with_parameter("v", 0.0).build()
    )
    assert not problem.has_exact_gradient()
    np.testing.assert_allclose(problem.evaluate_gradient([0.0, 0.0]), [-2.0, 40.0], rtol=1e-7)
    calls["f"] = 0
    result = problem.optimise(optimiser=diffid.LBFGSB())
    np.testing.assert_allclose(result.x, [1.0, -2.0], atol=1e-5)
    # Every finite-difference point is an evaluation: 2n + 1 = 5 per gradient.
    assert result.evaluations == calls["f"]
    assert result.evaluations % 5 == 0


@pytest.mark.parametrize(
    "gradient, cause, words",
    [
        (lambda x: np.zeros(3), ValueError, "shape (2,)"),
        (lambda x: "steep", TypeError, "gradient"),
        (lambda x: np.array([np.nan, 0.0]), ValueError, "NaN"),
        (lambda x: 1 / 0, ZeroDivisionError, "division"),
    ],
)
def test_a_bad_gradient_stops_the_run_with_evaluation_error(gradient, cause, words):
    problem = (
        diffid.ScalarBuilder()
        .with_objective(quadratic)
        .with_gradient(gradient)
        .with_parameter("u", 0.5)
        .with_parameter("v", 0.5)
        .build()
    )
    for run in (
        lambda: problem.optimise(optimiser=diffid.LBFGSB()),
        lambda: problem.evaluate_gradient([0.5, 0.5]),
    ):
        with pytest.raises(diffid.EvaluationError) as info:
            run()
        assert isinstance(info.value.__cause__, cause)
        assert words in str(info.value.__cause__) or words in str(info.value)
        np.testing.assert_array_equal(info.value.point, [0.5, 0.5])


def test_with_gradient_needs_a_callable():
    with pytest.raises(diffid.BuildError, match="with_gradient expects a callable"):
        diffid.ScalarBuilder().with_gradient(3.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: diffid.Adam().with_step_size(0.0),
        lambda: diffid.Adam().with_step_size(float("nan")),
        lambda: diffid.Adam().with_betas(1.0, 0.999),
        lambda: diffid.Adam().with_betas(0.9, -0.1),
        lambda: diffid.Adam().with_eps(0.0),
        lambda: diffid.LBFGSB().with_memory(0),
        lambda: diffid.LBFGSB().with_gradient_tolerance(-1.0),
        lambda: diffid.LBFGSB().with_max_line_search(0),
    ],
)
def test_invalid_gradient_optimiser_settings_raise_value_error_at_once(make):
    with pytest.raises(ValueError):
        make()


def test_gradient_optimisers_respect_bounds_and_report_their_defaults(decay_builder):
    problem = (
        decay_builder.with_parameter("k", 0.2, bounds=(0.05, 0.5))
        .with_parameter("y0", 1.0, bounds=(0.5, 5.0))
        .build()
    )
    for opt in (diffid.LBFGSB(), diffid.Adam().with_step_size(0.05).with_max_iter(500)):
        r = problem.optimise(optimiser=opt)
        # The truth k = 0.7 is outside: the fit presses against k's upper bound.
        assert r.x[0] <= 0.5 and r.x[0] == pytest.approx(0.5, abs=1e-6)
    assert "memory=10" in repr(diffid.LBFGSB())
    assert "betas=(0.9, 0.999)" in repr(diffid.Adam())
    assert "step_size=0.01" in repr(diffid.Adam())


def test_the_finite_difference_step_is_the_users_to_set():
    """A callable without a gradient is differentiated with the builder's step: the default
    (3e-5, which tolerates noisy values), or a finer one for an exact, smooth function."""
    import math

    def f(x):
        return x[0] ** 3 + math.exp(x[1] / 4.0)

    want = [3 * 0.7**2, math.exp(2.0 / 4.0) / 4.0]
    base = diffid.ScalarBuilder().with_objective(f).with_parameter("a", 0.7).with_parameter("b", 2.0)
    coarse = base.with_fd_step(1e-2).build().evaluate_gradient([0.7, 2.0])
    default = base.build().evaluate_gradient([0.7, 2.0])
    fine = base.with_fd_step(6e-6).build().evaluate_gradient([0.7, 2.0])
    err = [max(abs(g - w) / abs(w) for g, w in zip(v, want)) for v in (coarse, default, fine)]
    assert err[0] > 1e-5 > err[1] and err[2] < 1e-8, err
    for bad in (0.0, -1e-3, 0.5, float("nan")):
        with pytest.raises(ValueError, match="with_fd_step"):
            base.with_fd_step(bad)
    assert "with_fd_step" in repr(pickle_steps(base.with_fd_step(1e-3)))


def pickle_steps(builder):
    return builder.__reduce__()[1][1]
