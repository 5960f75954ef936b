"""No default threshold: optimisers run to the optimum whatever the objective's scale or sign.

The earlier release stopped every optimiser as soon as the best value fell below a default
threshold, so a negative log-likelihood (negative at the fit) or a sum of squares of small data
(tiny everywhere) ended at the first batch. Now the default threshold is -inf: the run stops
only on its tolerances and limits, and a threshold stops it only when asked for.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

import diffid
from support import DECAY_MODEL, DECAY_TIMES, DECAY_TRUE, decay_solution

# Noisy decay data, noise sd 0.01 (variance 1e-4), a fixed draw.
_rng = np.random.default_rng(7)
NOISY_Y = decay_solution(DECAY_TRUE["k"], DECAY_TRUE["y0"]) + 0.01 * _rng.standard_normal(
    DECAY_TIMES.size
)
SCALE = 1e-4


def least_squares_optimum(y: np.ndarray) -> np.ndarray:
    """The least-squares (k, y0) of y0·exp(-k t) to ``y``, by scipy on the closed form."""

    def residuals(theta):
        return decay_solution(theta[0], theta[1]) - y

    def jacobian(theta):
        e = np.exp(-theta[0] * DECAY_TIMES)
        return np.column_stack((-theta[1] * DECAY_TIMES * e, e))

    x0 = [0.5, 2.0 * y.max() / 3.0]
    fit = least_squares(
        residuals, x0, jac=jacobian, x_scale=[1.0, y.max()], xtol=1e-15, ftol=1e-15, gtol=1e-15
    )
    assert fit.success
    return fit.x


OPTIMUM = least_squares_optimum(NOISY_Y)
SCALED_OPTIMUM = least_squares_optimum(SCALE * NOISY_Y)


def test_the_reference_optimum_is_consistent():
    # Scaling the data scales y0 and leaves k: the two scipy fits agree.
    np.testing.assert_allclose(SCALED_OPTIMUM, OPTIMUM * [1.0, SCALE], rtol=1e-9)
    np.testing.assert_allclose(OPTIMUM, [DECAY_TRUE["k"], DECAY_TRUE["y0"]], rtol=0.02)


def nll_problem(**tolerances) -> diffid.Problem:
    """The decay model with GaussianNLL(variance=1e-4): about -70 at the fit."""
    b = (
        diffid.DiffsolBuilder()
        .with_diffsl(DECAY_MODEL)
        .with_data(np.column_stack((DECAY_TIMES, NOISY_Y)))
        .with_parameter("k", 0.5)
        .with_parameter("y0", 2.0)
        .with_cost(diffid.GaussianNLL(variance=1e-4))
    )
    if tolerances:
        b = b.with_tolerances(**tolerances)
    return b.build()


def scaled_sse_problem() -> diffid.Problem:
    """SSE on the data scaled by 1e-4: about 1e-11 at the fit, 2e-8 at the start.

    The solver's absolute tolerance is scaled with the data (the default atol, 1e-8, would be
    3e-5 of the solution and move the optimum by about 6e-6 relative)."""
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(DECAY_MODEL)
        .with_data(np.column_stack((DECAY_TIMES, SCALE * NOISY_Y)))
        .with_parameter("k", 0.5)
        .with_parameter("y0", 2.0 * SCALE)
        .with_cost(diffid.SSE())
        .with_tolerances(1e-10, 1e-10 * SCALE)
        .build()
    )


# The default settings (a seed for CMA-ES) for the likelihood, which is of order one.
DEFAULTS = {
    "NelderMead": diffid.NelderMead(),
    "CMAES": diffid.CMAES().with_seed(3),
    "Adam": diffid.Adam(),
    "LBFGSB": diffid.LBFGSB(),
}

# For the tiny SSE, the absolute tolerances (function-value spread, gradient size) must be
# turned down: they are not thresholds and are scale-dependent by design. No threshold is set.
SMALL_SCALE = {
    "NelderMead": (
        diffid.NelderMead()
        .with_function_tolerance(0.0)
        .with_position_tolerance(1e-12)
        .with_max_iter(5000)
    ),
    "CMAES": diffid.CMAES().with_seed(3).with_function_tolerance(0.0),
    "Adam": diffid.Adam().with_gradient_tolerance(0.0).with_max_iter(2000),
    "LBFGSB": diffid.LBFGSB().with_gradient_tolerance(0.0).with_function_tolerance(0.0),
}

# Relative tolerance on (k, y0) against scipy, the same for every optimiser: the ODE solver's
# error sets the floor (about 6e-8 at the default solver tolerances, 1e-9 at the tight ones of
# the scaled problem), and every optimiser gets within 1e-7 of scipy on these problems.
RTOL = 1e-6


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_negative_log_likelihood_fit_reaches_the_least_squares_optimum(name):
    problem = nll_problem()
    start = problem.evaluate(problem.initial_values())
    result = problem.optimise(optimiser=DEFAULTS[name])
    assert result.termination_reason != "threshold_reached"
    assert result.value < -60 < start  # negative at the fit, positive at the start
    assert result.iterations > 5
    np.testing.assert_allclose(result.x, OPTIMUM, rtol=RTOL)


@pytest.mark.parametrize("name", list(SMALL_SCALE))
def test_sse_of_small_data_reaches_the_least_squares_optimum(name):
    problem = scaled_sse_problem()
    start = problem.evaluate(problem.initial_values())
    assert 0 < start < 1e-7
    result = problem.optimise(optimiser=SMALL_SCALE[name])
    assert result.termination_reason != "threshold_reached"
    assert result.iterations > 5
    assert result.value < start / 100
    np.testing.assert_allclose(result.x, SCALED_OPTIMUM, rtol=RTOL)


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_default_threshold_is_minus_infinity(name):
    assert "threshold=-inf" in repr(DEFAULTS[name])
    assert "threshold=-inf" in repr(getattr(diffid, name)())


def shifted_negative_bowl(x) -> float:
    """Minimum -100 at (1, -2): negative everywhere near the start."""
    return float((x[0] - 1.0) ** 2 + (x[1] + 2.0) ** 2) - 100.0


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_negative_objective_is_not_stopped_at_the_first_batch(name):
    problem = (
        diffid.ScalarBuilder()
        .with_objective(shifted_negative_bowl)
        .with_parameter("a", 0.0)
        .with_parameter("b", 0.0)
        .build()
    )
    result = problem.optimise(optimiser=DEFAULTS[name])
    assert result.termination_reason != "threshold_reached"
    assert result.iterations > 1
    np.testing.assert_allclose(result.x, [1.0, -2.0], atol=1e-4)
    assert result.value == pytest.approx(-100.0, abs=1e-7)


def test_problem_optimise_default_optimiser_has_no_threshold():
    result = nll_problem().optimise()
    assert result.termination_reason != "threshold_reached"
    np.testing.assert_allclose(result.x, OPTIMUM, rtol=1e-6)


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_an_explicit_threshold_stops_the_run(name):
    problem = nll_problem()
    optimiser = DEFAULTS[name].with_threshold(-60.0)
    assert "threshold=-60" in repr(optimiser)
    result = problem.optimise(optimiser=optimiser)
    assert result.termination_reason == "threshold_reached"
    assert result.value <= -60.0
    # It stopped there, before the optimum (about -69.6).
    full = problem.optimise(optimiser=DEFAULTS[name])
    assert result.value > full.value
    assert result.iterations < full.iterations
    # A threshold above the starting value stops at the first batch.
    at_once = problem.optimise(optimiser=DEFAULTS[name].with_threshold(1e300))
    assert at_once.termination_reason == "threshold_reached"
    assert at_once.iterations <= 1
