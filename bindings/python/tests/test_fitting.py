"""Fitting behaviour: determinism, recovering known parameters, name matching, builder immutability."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import diffid
from support import (
    DECAY_DEFAULTS,
    DECAY_TIMES,
    DECAY_TRUE,
    SEED_DEFAULTS,
    SEED_TRUE,
    decay_solution,
)

# ---------------------------------------------------------------------------------------------
# Determinism across thread counts
# ---------------------------------------------------------------------------------------------


def _seeded_cmaes(seed: int = 7) -> diffid.CMAES:
    return diffid.CMAES().with_max_iter(40).with_step_size(0.3).with_seed(seed)


def test_same_seed_is_bit_identical_at_any_thread_count(seed_base):
    variants = {
        "sequential": seed_base.with_parallel(False),
        "parallel(True)": seed_base.with_parallel(True),
        "parallel(2)": seed_base.with_parallel(2),
        "max_threads(1)": seed_base.with_max_threads(1),
        "parallel()": seed_base.with_parallel(),
    }
    results = {
        name: b.build().optimise(optimiser=_seeded_cmaes()) for name, b in variants.items()
    }
    ref = results["sequential"]
    for name, r in results.items():
        assert r.x.tobytes() == ref.x.tobytes(), name
        assert r.value == ref.value, name
        assert r.iterations == ref.iterations, name
        assert r.evaluations == ref.evaluations, name
        np.testing.assert_array_equal(r.history, ref.history, err_msg=name)


def test_same_seed_repeats_and_seed_in_builder_optimiser_matches(seed_base):
    problem = seed_base.with_parallel(False).build()
    a = problem.optimise(optimiser=_seeded_cmaes())
    b = problem.optimise(optimiser=_seeded_cmaes())
    c = seed_base.with_optimiser(_seeded_cmaes()).build().optimise()
    for r in (b, c):
        assert r.x.tobytes() == a.x.tobytes()
        assert r.value == a.value


def test_different_seeds_differ(seed_base):
    problem = seed_base.with_parallel(False).build()
    a = problem.optimise(optimiser=_seeded_cmaes(1))
    b = problem.optimise(optimiser=_seeded_cmaes(2))
    assert a.x.tobytes() != b.x.tobytes()


# ---------------------------------------------------------------------------------------------
# Recovering known parameters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("parallel", [False, True])
def test_recovers_decay_parameters(decay_builder, parallel):
    problem = (
        decay_builder.with_parameter("k", 0.2)
        .with_parameter("y0", 1.0)
        .with_tolerances(1e-10, 1e-12)
        .with_parallel(parallel)
        .build()
    )
    r = problem.optimise(optimiser=diffid.CMAES().with_seed(11).with_threshold(1e-14))
    np.testing.assert_allclose(r.x, [DECAY_TRUE["k"], DECAY_TRUE["y0"]], rtol=1e-4)
    assert r.value < 1e-10
    assert r.value == pytest.approx(problem.evaluate(r.x), rel=1e-7, abs=1e-12)


def test_recovers_decay_parameters_with_bounds_and_explicit_initial(decay_builder):
    problem = (
        decay_builder.with_parameter("k", 0.2, (0.0, 2.0))
        .with_parameter("y0", 1.0, (0.5, 10.0))
        .with_tolerances(1e-10, 1e-12)
        .build()
    )
    assert problem.bounds() == [(0.0, 2.0), (0.5, 10.0)]
    r = problem.optimise(
        initial=[1.5, 6.0], optimiser=diffid.CMAES().with_seed(5).with_threshold(1e-14)
    )
    np.testing.assert_allclose(r.x, [DECAY_TRUE["k"], DECAY_TRUE["y0"]], rtol=1e-4)
    assert r.value < 1e-10


def test_objective_is_tiny_at_truth_and_matches_numpy_elsewhere(decay_problem, decay_data):
    assert decay_problem.evaluate([0.7, 3.0]) < 1e-9
    x = [0.4, 2.5]
    expected = np.sum((decay_solution(*x) - decay_data[:, 1]) ** 2)
    assert decay_problem.evaluate(x) == pytest.approx(expected, rel=1e-5)
    assert decay_problem(x) == decay_problem.evaluate(x)
    assert decay_problem(np.array(x)) == decay_problem.evaluate(tuple(x))


def test_simulate_decay_matches_exact_solution(decay_problem):
    sim = decay_problem.simulate([0.7, 3.0])
    assert isinstance(sim, np.ndarray)
    assert sim.shape == (len(DECAY_TIMES), 1)
    np.testing.assert_allclose(sim[:, 0], decay_solution(0.7, 3.0), rtol=1e-5, atol=1e-8)


def test_simulate_seed_matches_scipy(seed_base, seed_data):
    problem = seed_base.build()
    x = list(SEED_TRUE.values())
    sim = problem.simulate(x)
    assert sim.shape == (500, 2)

    def rhs(t, s, a, b, d, g):
        prey, pred = s
        return [a * prey - b * prey * pred, d * prey * pred - g * pred]

    t = seed_data[:, 0]
    ref = solve_ivp(rhs, [t[0], t[-1]], [10.0, 5.0], args=tuple(x), t_eval=t,
                    method="DOP853", rtol=1e-11, atol=1e-11).y.T
    # Column 0 is prey, column 1 is predator, as in the data.
    np.testing.assert_allclose(sim, ref, rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# Parameters are matched to DiffSL inputs by name
# ---------------------------------------------------------------------------------------------


def test_unfitted_input_keeps_its_diffsl_default(decay_builder, decay_data):
    problem = decay_builder.with_parameter("y0", 1.0).build()
    assert problem.dimension() == 1
    assert problem.parameter_names() == ["y0"]
    sim = problem.simulate([3.0])
    # k stays at its DiffSL default 0.5, not the data's 0.7 and not the value 3.0.
    np.testing.assert_allclose(
        sim[:, 0], decay_solution(DECAY_DEFAULTS["k"], 3.0), rtol=1e-5, atol=1e-8
    )
    expected = np.sum((decay_solution(DECAY_DEFAULTS["k"], 3.0) - decay_data[:, 1]) ** 2)
    assert problem.evaluate([3.0]) == pytest.approx(expected, rel=1e-4)


def test_fitting_only_k_keeps_y0_default(decay_builder):
    problem = decay_builder.with_parameter("k", 0.1).build()
    sim = problem.simulate([0.7])
    np.testing.assert_allclose(
        sim[:, 0], decay_solution(0.7, DECAY_DEFAULTS["y0"]), rtol=1e-5, atol=1e-8
    )


def test_fit_of_one_parameter_with_the_other_at_default(decay_builder):
    """Data made with k at its default: fitting y0 alone recovers y0."""
    data = np.column_stack((DECAY_TIMES, decay_solution(DECAY_DEFAULTS["k"], 4.0)))
    problem = (
        decay_builder.with_data(data)
        .with_parameter("y0", 1.0)
        .with_tolerances(1e-10, 1e-12)
        .build()
    )
    r = problem.optimise(optimiser=diffid.CMAES().with_seed(3).with_threshold(1e-14))
    np.testing.assert_allclose(r.x, [4.0], rtol=1e-4)


def test_order_of_with_parameter_calls_does_not_matter(decay_builder):
    kb = decay_builder.with_parameter("k", 0.2).with_parameter("y0", 1.0).build()
    yk = decay_builder.with_parameter("y0", 1.0).with_parameter("k", 0.2).build()
    assert kb.parameter_names() == ["k", "y0"]
    assert yk.parameter_names() == ["y0", "k"]
    np.testing.assert_array_equal(yk.initial_values(), [1.0, 0.2])
    np.testing.assert_array_equal(kb.simulate([0.7, 3.0]), yk.simulate([3.0, 0.7]))
    assert kb.evaluate([0.7, 3.0]) == yk.evaluate([3.0, 0.7])
    np.testing.assert_allclose(
        yk.simulate([3.0, 0.7])[:, 0], decay_solution(0.7, 3.0), rtol=1e-5, atol=1e-8
    )
    opt = diffid.CMAES().with_seed(4).with_threshold(1e-12)
    r = yk.optimise(optimiser=opt)
    assert r.parameter_names == ["y0", "k"]
    np.testing.assert_allclose(r.x, [3.0, 0.7], rtol=1e-3)


def test_seed_subset_in_any_order_matches_full_problem(seed_model, seed_data):
    base = diffid.DiffsolBuilder().with_diffsl(seed_model).with_data(seed_data)
    full = (
        base.with_parameter("alpha", 1.0)
        .with_parameter("beta", 1.0)
        .with_parameter("delta", 1.0)
        .with_parameter("gamma", 1.0)
        .build()
    )
    subset = base.with_parameter("gamma", 0.3).with_parameter("alpha", 0.8).build()
    g, a = 0.45, 1.2
    np.testing.assert_allclose(
        subset.simulate([g, a]),
        full.simulate([a, SEED_DEFAULTS["beta"], SEED_DEFAULTS["delta"], g]),
        rtol=1e-12,
    )


# ---------------------------------------------------------------------------------------------
# Builders and optimiser configurations are immutable
# ---------------------------------------------------------------------------------------------


def test_with_parameter_returns_new_builder(decay_model, decay_data):
    b = diffid.DiffsolBuilder().with_diffsl(decay_model).with_data(decay_data)
    b2 = b.with_parameter("k", 1.0)
    assert b2 is not b
    p = b.with_parameter("y0", 1.0).build()
    assert p.dimension() == 1
    assert p.parameter_names() == ["y0"]
    assert b2.build().parameter_names() == ["k"]


def test_every_with_method_leaves_the_builder_unchanged(decay_model, decay_data):
    b = (
        diffid.DiffsolBuilder()
        .with_diffsl(decay_model)
        .with_data(decay_data)
        .with_parameter("k", 0.3)
    )
    before = b.build()
    x = [0.4]
    ref = before.evaluate(x)
    b.with_cost(diffid.RMSE())
    b.with_cost(diffid.GaussianNLL(0.5))
    b.with_data(decay_data * 2.0)
    b.with_diffsl("in_i { k = 1.0 } u_i { y = 1 } F_i { k }")
    b.with_parameter("y0", 9.0)
    b.clear_parameters()
    b.remove_data()
    b.remove_cost()
    b.with_parallel(False)
    b.with_tolerances(1e-3, 1e-3)
    b.with_optimiser(diffid.CMAES().with_max_iter(1))
    after = b.build()
    assert after.parameter_names() == ["k"]
    assert after.evaluate(x) == ref
    # No optimiser with max_iter 1 was attached to b.
    r = after.optimise(optimiser=None)
    assert r.iterations > 1


def test_with_data_copies_the_array(decay_builder, decay_data):
    data = decay_data.copy()
    b = decay_builder.with_data(data).with_parameter("k", 0.3)
    ref = b.build().evaluate([0.5])
    data[:, 1] = 0.0
    assert b.build().evaluate([0.5]) == ref


def test_cmaes_configuration_is_immutable(decay_problem):
    base = diffid.CMAES().with_seed(1).with_threshold(-1.0)
    limited = base.with_max_iter(3)
    assert limited is not base
    assert decay_problem.optimise(optimiser=limited).iterations == 3
    assert decay_problem.optimise(optimiser=base.with_max_iter(7)).iterations == 7
    base.with_population_size(20)
    r = decay_problem.optimise(optimiser=base.with_max_iter(2))
    assert r.evaluations == 2 * (4 + 2)  # default population for n = 2: 4 + floor(3 ln 2)


def test_clear_and_remove_methods(decay_builder):
    b = decay_builder.with_parameter("k", 0.3).with_parameter("y0", 1.0)
    assert b.clear_parameters().with_parameter("y0", 2.0).build().parameter_names() == ["y0"]
    with pytest.raises(diffid.BuildError):
        b.remove_data().build()


def test_optimiser_argument_overrides_builders_optimiser(decay_builder):
    p = (
        decay_builder.with_parameter("k", 0.2)
        .with_optimiser(diffid.CMAES().with_max_iter(3).with_threshold(-1.0))
        .build()
    )
    assert p.optimise().iterations == 3
    assert p.optimise(optimiser=diffid.CMAES().with_max_iter(5).with_threshold(-1.0)).iterations == 5


def test_problem_repr_is_readable(decay_problem):
    text = repr(decay_problem)
    assert "Problem" in text
    assert "k" in text and "y0" in text
    assert len(text) < 500
