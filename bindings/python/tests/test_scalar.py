"""ScalarBuilder: minimising Python callables, and what happens when they misbehave."""

import numpy as np
import pytest

import diffid


def rosenbrock(x):
    return float(100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2)


def rosenbrock_problem(objective=rosenbrock):
    return (
        diffid.ScalarBuilder()
        .with_objective(objective)
        .with_parameter("a", -1.2)
        .with_parameter("b", 1.0)
        .build()
    )


def test_minimises_a_python_callable_with_nelder_mead_and_cmaes():
    problem = rosenbrock_problem()
    assert problem.dimension() == 2
    assert problem.parameter_names() == ["a", "b"]
    assert problem.evaluate([1.0, 1.0]) == 0.0
    nm = problem.optimise(optimiser=diffid.NelderMead().with_threshold(1e-12))
    np.testing.assert_allclose(nm.x, [1.0, 1.0], atol=1e-4)
    cma = problem.optimise(optimiser=diffid.CMAES().with_seed(2).with_threshold(1e-12))
    np.testing.assert_allclose(cma.x, [1.0, 1.0], atol=1e-4)


def test_the_callable_receives_a_float_array_in_parameter_order():
    seen = []

    def f(x):
        seen.append(x.copy())
        return float(np.sum((x - np.array([3.0, -2.0])) ** 2))

    problem = (
        diffid.ScalarBuilder().with_objective(f).with_parameter("p", 0.0).with_parameter("q", 0.0).build()
    )
    problem.evaluate([1.5, 2.5])
    assert seen[0].dtype == np.float64 and seen[0].tolist() == [1.5, 2.5]
    result = problem.optimise(optimiser=diffid.NelderMead().with_threshold(1e-12))
    np.testing.assert_allclose(result.x, [3.0, -2.0], atol=1e-4)


def test_bounds_hold_for_callables():
    problem = (
        diffid.ScalarBuilder()
        .with_objective(lambda x: float((x[0] - 5.0) ** 2))
        .with_parameter("x", 0.5, bounds=(0.0, 1.0))
        .build()
    )
    result = problem.optimise(optimiser=diffid.CMAES().with_seed(1).with_max_iter(100))
    assert 0.0 <= result.x[0] <= 1.0 and result.x[0] > 0.99


def test_an_exception_stops_the_run_with_evaluation_error_chained():
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("model exploded")
        return rosenbrock(x)

    problem = rosenbrock_problem(f)
    with pytest.raises(diffid.EvaluationError) as info:
        problem.optimise(optimiser=diffid.CMAES().with_seed(1).with_max_iter(100))
    err = info.value
    assert isinstance(err.__cause__, RuntimeError)
    assert "model exploded" in str(err)
    assert len(err.point) == 2
    # The run stopped at once: not 100 generations' worth of calls.
    assert len(calls) < 20
    # The problem is usable again afterwards.
    calls.clear()
    assert problem.evaluate([1.0, 1.0]) == 0.0


def test_evaluate_reraises_the_callables_exception():
    problem = rosenbrock_problem(lambda x: 1 / 0)
    with pytest.raises(diffid.EvaluationError) as info:
        problem.evaluate([0.0, 0.0])
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert list(info.value.point) == [0.0, 0.0]


@pytest.mark.parametrize(
    "bad, cause",
    [(lambda x: "1.0", TypeError), (lambda x: [1.0, 2.0], TypeError), (lambda x: float("nan"), ValueError)],
)
def test_wrong_return_values_are_errors_not_silent_inf(bad, cause):
    problem = rosenbrock_problem(bad)
    with pytest.raises(diffid.EvaluationError) as info:
        problem.optimise(optimiser=diffid.NelderMead())
    assert isinstance(info.value.__cause__, cause)


def test_build_errors_name_what_is_wrong():
    with pytest.raises(diffid.BuildError, match="with_objective"):
        diffid.ScalarBuilder().with_parameter("a", 1.0).build()
    with pytest.raises(diffid.BuildError, match="callable"):
        diffid.ScalarBuilder().with_objective(3.0)
    with pytest.raises(diffid.BuildError, match="'a'"):
        diffid.ScalarBuilder().with_objective(rosenbrock).with_parameter("a", 1.0).with_parameter("a", 2.0).build()
    with pytest.raises(diffid.BuildError, match="'a'"):
        diffid.ScalarBuilder().with_objective(rosenbrock).with_parameter("a", 5.0, bounds=(0.0, 1.0)).build()
    with pytest.raises(diffid.BuildError, match="'a'"):
        diffid.ScalarBuilder().with_objective(rosenbrock).with_parameter("a", 0.5, bounds=(1.0, 0.0)).build()


def test_builder_is_immutable():
    base = diffid.ScalarBuilder().with_objective(rosenbrock)
    base.with_parameter("a", 1.0)
    assert base.with_parameter("b", 1.0).build().dimension() == 1
