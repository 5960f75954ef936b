"""Experimental conditions from Python: one model, several experiments that share parameters
and set some inputs (numbers or parameters) each; fitted together with exact gradients."""

import pickle

import numpy as np
import pytest

import diffid

# Michaelis–Menten elimination of a dose: x' = -vmax x / (km + x), x(0) = dose.
MODEL = "in_i { vmax = 1.0, km = 1.0, dose = 1.0 } u_i { x = dose } F_i { -vmax * x / (km + x) }"
TRUE = {"vmax": 0.8, "km": 2.5}


def experiment(dose, times):
    """Noise-free data of one dose, from the model with that dose as its default."""
    sim = (
        diffid.DiffsolBuilder()
        .with_diffsl(MODEL.replace("dose = 1.0", f"dose = {dose}"))
        .with_data(np.column_stack([times, np.zeros_like(times)]))
        .with_parameter("vmax", TRUE["vmax"])
        .with_parameter("km", TRUE["km"])
        .with_tolerances(1e-10, 1e-12)
        .build()
    )
    return np.column_stack([times, sim.simulate([TRUE["vmax"], TRUE["km"]])])


LOW = experiment(0.5, np.linspace(0.0, 6.0, 13))
HIGH = experiment(8.0, np.linspace(0.0, 12.0, 25))


def builder():
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(MODEL)
        .with_condition("low", LOW, {"dose": 0.5})
        .with_condition("high", HIGH, {"dose": "dose_high"})
        .with_parameter("vmax", 0.3, bounds=(0.01, 10.0), transform="log")
        .with_parameter("km", 0.5, bounds=(0.01, 50.0), transform="log")
        .with_parameter("dose_high", 5.0, bounds=(1.0, 20.0))
    )


def test_two_doses_identify_both_rates_and_the_unknown_dose():
    problem = builder().build()
    assert problem.conditions() == ["low", "high"]
    x_true = [TRUE["vmax"], TRUE["km"], 8.0]
    assert problem.evaluate(x_true) < 1e-8  # solver tolerance (rtol 1e-6) only
    assert problem.has_exact_gradient()
    result = problem.optimise(optimiser=diffid.LBFGSB())
    np.testing.assert_allclose(result.x, x_true, rtol=1e-3)


def test_each_condition_simulates_with_its_own_inputs_and_data():
    problem = builder().build()
    x = [TRUE["vmax"], TRUE["km"], 8.0]
    y_low = problem.simulate(x, condition="low")
    np.testing.assert_allclose(y_low[:, 0], LOW[:, 1], rtol=1e-5)
    y_high = problem.simulate(x, times=[0.0, 1.0], condition="high")
    assert y_high.shape == (2, 1) and y_high[0, 0] == pytest.approx(8.0)
    np.testing.assert_array_equal(problem.data(condition="high"), HIGH)
    np.testing.assert_array_equal(problem.times(condition="low"), LOW[:, 0])
    with pytest.raises(diffid.DiffidError, match=r"2 conditions \[low, high\]; name the one"):
        problem.simulate(x)
    with pytest.raises(diffid.DiffidError, match=r"no such condition.*\[low, high\]"):
        problem.simulate(x, condition="medium")


def test_gradients_sum_over_the_conditions():
    problem = builder().build()
    x = np.array([0.5, 1.5, 6.0])
    grad = problem.evaluate_gradient(x)
    for j in range(3):
        h = 1e-6 * x[j]
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        fd = (problem.evaluate(up) - problem.evaluate(down)) / (2 * h)
        assert grad[j] == pytest.approx(fd, rel=1e-4, abs=1e-8)


def test_conditions_travel_with_a_pickle():
    problem = builder().build()
    again = pickle.loads(pickle.dumps(problem))
    x = [0.5, 1.5, 6.0]
    assert again.evaluate(x) == problem.evaluate(x)
    assert again.conditions() == ["low", "high"]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda b: b.with_condition("mid", LOW, {"rate": 1.0}), diffid.BuildError,
         "condition 'mid': it sets 'rate', which is not an input"),
        (lambda b: b.with_condition("mid", LOW, {"dose": "dose_mid"}), diffid.BuildError,
         "'dose_mid', which is not a declared model parameter"),
        (lambda b: b.with_condition("low", LOW, {"dose": 1.0}), diffid.BuildError,
         "two conditions have this name"),
        (lambda b: b.with_data(LOW), diffid.BuildError, "either data .* or conditions"),
        (lambda b: b.with_condition("mid", LOW, {"dose": [1.0]}), TypeError,
         "must be a number or a parameter name"),
        (lambda b: b.with_condition("mid", np.array([[0.0, 1.0], [0.0, 2.0]])), diffid.BuildError,
         "condition 'mid'"),
    ],
)
def test_bad_conditions_are_specific_errors(change, error, message):
    with pytest.raises(error, match=message):
        change(builder()).build()
