"""Doses and breakpoints from Python: a pharmacokinetic fit with repeated oral doses, the
convention at a dose time, exact gradients across doses, and the errors of a bad schedule."""

import pickle

import numpy as np
import pytest

import diffid

PK = """
in_i { ka = 1.0, ke = 0.1, v = 5.0 }
u_i { gut = 0.0, central = 0.0 }
F_i { -ka * gut, ka * gut - ke * central }
out_i { central / v }
"""

DOSE = 100.0
DOSE_TIMES = np.arange(0.0, 48.0, 12.0)


def concentration(t, ka, ke, v):
    """Superposition of the single-dose solution over the doses strictly before t."""
    c = np.zeros_like(t)
    for tau in DOSE_TIMES:
        s = t - tau
        after = s > 0
        c[after] += DOSE * ka / (v * (ka - ke)) * (np.exp(-ke * s[after]) - np.exp(-ka * s[after]))
    return c


TRUE = (1.3, 0.12, 9.0)


def builder(times=None):
    t = np.arange(0.0, 48.5, 1.0) if times is None else times
    data = np.column_stack([t, concentration(t, *TRUE)])
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(PK)
        .with_data(data)
        .with_dose(DOSE_TIMES, "gut", DOSE)
        .with_parameter("ka", 0.8, bounds=(0.05, 5.0))
        .with_parameter("ke", 0.3, bounds=(0.01, 1.0))
        .with_parameter("v", 4.0, bounds=(0.5, 50.0))
    )


def test_repeated_doses_match_the_analytic_solution_and_the_fit_recovers_the_parameters():
    p = builder().build()
    fine = np.linspace(0.0, 48.0, 961)
    y = p.simulate(list(TRUE), times=fine)[:, 0]
    np.testing.assert_allclose(y, concentration(fine, *TRUE), rtol=1e-4, atol=1e-6)
    assert p.evaluate(list(TRUE)) < 1e-8
    r = p.optimise(optimiser=diffid.LBFGSB())
    np.testing.assert_allclose(r.x, TRUE, rtol=1e-3)
    # Without the doses the same data cannot be explained at all.
    plain = (
        diffid.DiffsolBuilder()
        .with_diffsl(PK)
        .with_data(np.column_stack([np.arange(0.0, 48.5), concentration(np.arange(0.0, 48.5), *TRUE)]))
        .with_parameter("ka", 1.3)
        .build()
    )
    assert plain.evaluate([1.3]) > 100.0


def test_a_prediction_at_a_dose_time_is_the_trough_before_the_dose():
    p = builder().build()
    y = p.simulate(list(TRUE), times=[0.0, 12.0, 12.5])[:, 0]
    assert y[0] == 0.0
    trough = concentration(np.array([12.0]), *TRUE)[0]
    assert y[1] == pytest.approx(trough, rel=1e-5)
    assert y[2] > 1.5 * trough


def test_gradients_across_doses_match_finite_differences():
    p = builder().build()
    x = np.array([1.1, 0.2, 7.0])
    assert p.has_exact_gradient()
    grad = p.evaluate_gradient(x)
    for j in range(3):
        h = 1e-6 * x[j]
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        fd = (p.evaluate(up) - p.evaluate(down)) / (2 * h)
        assert grad[j] == pytest.approx(fd, rel=1e-4)


def test_the_schedule_is_reported_and_travels_with_a_pickle():
    p = builder().with_dose(6.0, "central", 10.0).with_breakpoints([30.0]).build()
    config = p.config()
    assert config["doses"][:2] == [(0.0, "gut", 100.0), (12.0, "gut", 100.0)]
    assert (6.0, "central", 10.0) in config["doses"]
    assert config["breakpoints"] == [30.0]
    q = pickle.loads(pickle.dumps(p))
    assert q.config()["doses"] == config["doses"]
    assert q.evaluate(list(TRUE)) == p.evaluate(list(TRUE))


def test_one_amount_per_time():
    p = builder().with_dose([40.0, 44.0], "gut", [5.0, 7.0]).build()
    assert (44.0, "gut", 7.0) in p.config()["doses"]
    with pytest.raises(ValueError, match="2 time.*3 amounts"):
        builder().with_dose([40.0, 44.0], "gut", [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda b: b.with_dose(5.0, "blood", 1.0), diffid.BuildError, "unknown state 'blood'.*gut, central"),
        (lambda b: b.with_dose(-1.0, "gut", 1.0), diffid.BuildError, "before the model's start time 0"),
        (lambda b: b.with_dose(100.0, "gut", 1.0), diffid.BuildError, "after the last output time 48"),
        (lambda b: b.with_dose([0.0, 24.0, 12.0], "gut", 1.0), diffid.BuildError, "time 2 \\(12\\) is not after time 1 \\(24\\)"),
        (lambda b: b.with_dose(1.0, "gut", float("nan")), diffid.BuildError, "amount NaN; it must be finite"),
        (lambda b: b.with_dose([], "gut", 1.0), ValueError, "non-empty"),
        (lambda b: b.with_dose("soon", "gut", 1.0), TypeError, "number or a list"),
        (lambda b: b.with_breakpoints([2.0, 1.0]), diffid.BuildError, "breakpoint times must increase"),
    ],
)
def test_a_bad_schedule_is_a_specific_error(change, error, message):
    with pytest.raises(error, match=message):
        change(builder()).build()
