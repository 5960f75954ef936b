"""Nelder–Mead from Python: the default optimiser, its settings and its final simplex."""

import numpy as np
import pytest

import diffid

from support import DECAY_MODEL, DECAY_TIMES, DECAY_TRUE


def decay_problem(**bounds):
    t = DECAY_TIMES
    y = DECAY_TRUE["y0"] * np.exp(-DECAY_TRUE["k"] * t)
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(DECAY_MODEL)
        .with_data(np.column_stack((t, y)))
        .with_parameter("k", 0.3, bounds.get("k"))
        .with_parameter("y0", 2.0, bounds.get("y0"))
        .build()
    )


def test_nelder_mead_is_the_default_and_reports_its_simplex():
    result = decay_problem().optimise()
    simplex = result.final_simplex
    values = result.final_simplex_values
    assert simplex is not None and simplex.shape == (3, 2)
    assert values.shape == (3,)
    assert np.all(np.diff(values) >= 0), "vertices are sorted best first"
    np.testing.assert_array_equal(simplex[0], result.x)
    assert values[0] == result.value
    np.testing.assert_allclose(result.x, [DECAY_TRUE["k"], DECAY_TRUE["y0"]], rtol=1e-3)


def test_nelder_mead_recovers_parameters_to_tight_tolerance():
    opt = diffid.NelderMead().with_threshold(1e-14).with_max_iter(2000)
    result = decay_problem().optimise(optimiser=opt)
    np.testing.assert_allclose(result.x, [DECAY_TRUE["k"], DECAY_TRUE["y0"]], rtol=1e-5)
    assert result.success
    assert result.termination_reason in {"threshold_reached", "function_tolerance", "position_tolerance"}
    assert result.covariance is None


def test_cmaes_results_have_no_simplex():
    result = decay_problem().optimise(optimiser=diffid.CMAES().with_seed(1).with_max_iter(20))
    assert result.final_simplex is None and result.final_simplex_values is None


def test_nelder_mead_respects_bounds():
    # The true k = 0.7 lies outside [0.1, 0.5]: the fit ends on the bound, never beyond.
    result = decay_problem(k=(0.1, 0.5), y0=(0.5, 10.0)).optimise(
        optimiser=diffid.NelderMead().with_max_iter(500)
    )
    assert 0.1 <= result.x[0] <= 0.5
    assert result.x[0] > 0.49
    assert np.all(result.final_simplex[:, 0] <= 0.5)


@pytest.mark.parametrize(
    "setter, args, name",
    [
        ("with_step_size", (0.0,), "step_size"),
        ("with_step_size", (float("nan"),), "step_size"),
        ("with_coefficients", (0.0, 2.0, 0.5, 0.5), "alpha"),
        ("with_coefficients", (1.0, 0.5, 0.5, 0.5), "gamma"),
        ("with_coefficients", (1.0, 2.0, 1.5, 0.5), "rho"),
        ("with_coefficients", (1.0, 2.0, 0.5, 1.0), "sigma"),
    ],
)
def test_invalid_settings_raise_value_error_naming_the_setting(setter, args, name):
    with pytest.raises(ValueError, match=name):
        getattr(diffid.NelderMead(), setter)(*args)


def test_settings_return_new_objects():
    base = diffid.NelderMead()
    changed = base.with_max_iter(5)
    assert "max_iter=1000" in repr(base)
    assert "max_iter=5" in repr(changed)


def test_adaptive_coefficients_are_kept_pickled_and_shown():
    import pickle

    nm = diffid.NelderMead().with_adaptive()
    assert "coefficients=adaptive" in repr(nm)
    assert pickle.loads(pickle.dumps(nm)) == nm
    assert "coefficients=(1, 2, 0.5, 0.5)" in repr(nm.with_coefficients(1.0, 2.0, 0.5, 0.5))
    assert "coefficients=(1, 2, 0.5, 0.5)" in repr(nm.with_adaptive(False))
    # On a 10-D quadratic from far away the adaptive run gets much closer than the standard.
    f = lambda x: float(sum((i + 1) * v * v for i, v in enumerate(x)))  # noqa: E731
    b = diffid.ScalarBuilder().with_objective(f)
    for i in range(10):
        b = b.with_parameter(f"x{i}", 1.0)
    problem = b.build()
    base = diffid.NelderMead().with_max_iter(6000).with_position_tolerance(0.0)
    standard = problem.optimise(optimiser=base)
    adaptive = problem.optimise(optimiser=base.with_adaptive())
    assert adaptive.value < 1e-3 * standard.value, (adaptive.value, standard.value)
