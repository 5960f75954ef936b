"""Pre-equilibration from Python: a fit that starts from a steady state recovers known
parameters from noise-free data with exact gradients, the steady state itself matches its
analytic value, a candidate without a steady state is a failed evaluation (with the reason)
and not a crash, and bad overrides are specific errors."""

import pickle

import numpy as np
import pytest

import diffid

# A stimulus s drives the production of x, which drives y. Before the experiment the system
# rests at the steady state for a basal stimulus s = 0.4; at t = 0 the stimulus is 5.
CASCADE = """
in_i { k1 = 2.0, k2 = 0.5, k3 = 1.5, k4 = 0.8, s = 5.0 }
u_i { x = 0.0, y = 0.0 }
F_i { k1 * s - k2 * x, k3 * x - k4 * y }
"""
TRUE = [1.7, 0.45, 1.2, 0.9]
BASAL = 0.4


def builder(data):
    b = diffid.DiffsolBuilder().with_diffsl(CASCADE).with_data(data)
    for name, start in zip(["k1", "k2", "k3", "k4"], [1.0, 1.0, 1.0, 1.0]):
        b = b.with_parameter(name, start, bounds=(0.05, 10.0), transform="log")
    return b.with_steady_state({"s": BASAL})


def noise_free_data():
    t = np.linspace(0.0, 8.0, 33)
    truth = builder(np.column_stack([t, np.zeros((t.size, 2))])).build()
    return np.column_stack([t, truth.simulate(TRUE)])


def test_the_experiment_starts_at_the_analytic_steady_state():
    data = noise_free_data()
    k1, k2, k3, k4 = TRUE
    x_star = k1 * BASAL / k2
    np.testing.assert_allclose(data[0, 1:], [x_star, k3 * x_star / k4], rtol=1e-7)
    # Without pre-equilibration the model starts from u_i = 0 instead.
    plain = diffid.DiffsolBuilder().with_diffsl(CASCADE).with_data(data).with_parameter("k1", 1.7).build()
    assert plain.simulate([1.7])[0, 0] == 0.0


def test_a_fit_that_pre_equilibrates_recovers_the_parameters():
    data = noise_free_data()
    problem = builder(data).build()
    assert problem.has_exact_gradient()
    assert problem.config()["steady_state"] == {"s": BASAL}
    result = problem.optimise(optimiser=diffid.LBFGSB())
    np.testing.assert_allclose(result.x, TRUE, rtol=1e-4)
    assert result.value < 1e-8
    # Gradients through the steady state match finite differences.
    x = np.array([1.3, 0.6, 1.0, 1.1])
    grad = problem.evaluate_gradient(x)
    for j in range(4):
        h = 1e-6 * x[j]
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        fd = (problem.evaluate(up) - problem.evaluate(down)) / (2 * h)
        assert grad[j] == pytest.approx(fd, rel=1e-4)
    # The declaration travels with a pickle.
    again = pickle.loads(pickle.dumps(problem))
    assert again.evaluate(x) == problem.evaluate(x)


def test_a_candidate_without_a_steady_state_is_a_failed_evaluation():
    # x' = a - b x has the steady state a / b for b > 0 and none for b = 0 (x' = a drifts).
    model = "in_i { a = 1.0, b = 0.5 } u_i { x = 0.0 } F_i { a - b * x }"
    data = np.column_stack([np.linspace(0, 4, 5), np.full(5, 2.0)])
    problem = (
        diffid.DiffsolBuilder()
        .with_diffsl(model)
        .with_data(data)
        .with_parameter("a", 1.0)
        .with_parameter("b", 0.5)
        .with_steady_state()
        .build()
    )
    assert problem.evaluate([1.0, 0.5]) < 1e-12
    with pytest.raises(diffid.EvaluationError, match="no steady state.*still moving"):
        problem.evaluate([1.0, 0.0])
    # In a run, such candidates are counted as failed and the run goes on.
    result = problem.optimise(optimiser=diffid.CMAES().with_max_iter(30).with_seed(1),
                              initial=[1.0, 0.05])
    assert np.isfinite(result.value)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"stimulus": 0.0}, diffid.BuildError, "'stimulus'.*k1, k2, k3, k4, s"),
        ({"s": float("inf")}, diffid.BuildError, "must be finite"),
        ({"s": "low"}, TypeError, "must be a number"),
    ],
)
def test_bad_overrides_are_specific_errors(overrides, error, message):
    data = np.column_stack([np.linspace(0, 1, 3), np.zeros((3, 2))])
    with pytest.raises(error, match=message):
        diffid.DiffsolBuilder().with_diffsl(CASCADE).with_data(data).with_steady_state(overrides).build()
