"""Every public object pickles and copies: settings, metrics, priors, builders, problems and
results round-trip to equal objects that evaluate the same; a problem unpickles without
compiling and is built at its first use."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import numpy as np
import pytest

import diffid
from support import REPO_ROOT, decay_predictions, decay_solution, shifted_sphere

SETTINGS = [
    diffid.NelderMead().with_max_iter(7).with_patience(2.5).with_coefficients(1.0, 2.5, 0.4, 0.6),
    diffid.CMAES().with_seed(4).with_population_size(9).with_restarts("bipop"),
    diffid.Adam().with_betas(0.8, 0.99).with_time_limit(3.0),
    diffid.LBFGSB().with_memory(4).with_threshold(-1.0),
    diffid.MetropolisHastings().with_num_chains(3).with_iterations(50).with_seed(8),
    diffid.EnsembleSampler().with_walkers(12).with_stretch(2.5),
    diffid.DynamicNestedSampler().with_live_points(80).with_bound("single").with_sampling("rwalk"),
    diffid.SSE(2.0),
    diffid.RMSE(0.5),
    diffid.GaussianNLL(variance=[0.1, 0.2]),
    diffid.GaussianNLL(sigma="s", weight=3.0),
    diffid.Normal(1.0, 2.0),
    diffid.Uniform(-1.0, 4.0),
]


@pytest.mark.parametrize("obj", SETTINGS, ids=lambda o: type(o).__name__)
def test_settings_round_trip_equal(obj):
    back = pickle.loads(pickle.dumps(obj))
    assert type(back) is type(obj)
    assert back == obj
    assert repr(back) == repr(obj)
    assert copy.copy(obj) == obj
    assert copy.deepcopy(obj) == obj
    # The class says where it lives, so pickle finds it.
    assert type(obj).__module__ == "diffid._diffid"


def test_settings_differing_in_one_field_are_not_equal():
    assert diffid.CMAES().with_seed(1) != diffid.CMAES().with_seed(2)
    assert diffid.NelderMead() != diffid.CMAES()
    assert diffid.SSE(1.0) != diffid.SSE(2.0)


def test_a_corrupt_settings_pickle_is_refused_clearly():
    with pytest.raises(ValueError, match="cannot unpickle CMAES"):
        diffid._diffid._restore("CMAES", {"not": "a cmaes"})
    with pytest.raises(ValueError, match="no class"):
        diffid._diffid._restore("Nonsense", {})


def _diffsol(decay_model, decay_data):
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(decay_model)
        .with_data(decay_data)
        .with_parameter("k", 0.3, bounds=(0.01, 3.0), prior=diffid.Uniform(0.01, 3.0))
        .with_parameter("y0", 2.0, bounds=(0.5, 5.0), transform="log")
        .with_cost(diffid.GaussianNLL(variance=1e-2))
        .with_tolerances(1e-8, 1e-10)
        .with_optimiser(diffid.CMAES().with_seed(5).with_max_iter(30))
    )


def test_builders_and_problems_round_trip_and_evaluate_the_same(decay_model, decay_data):
    scalar = diffid.ScalarBuilder().with_objective(shifted_sphere).with_parameter("a", 0.0)
    vector = (
        diffid.VectorBuilder()
        .with_objective(decay_predictions)
        .with_data(np.column_stack([np.linspace(0, 5, 21), decay_solution(0.7, 3.0)]))
        .with_parameter("k", 0.5)
        .with_parameter("y0", 2.0)
        .with_config("units", "hours")
    )
    x = {0: [0.9, 2.5], 1: [0.4], 2: [0.6, 2.8]}
    for i, builder in enumerate([_diffsol(decay_model, decay_data), scalar, vector]):
        back = pickle.loads(pickle.dumps(builder))
        assert back == builder
        assert repr(back) == repr(builder)
        problem = builder.build()
        again = pickle.loads(pickle.dumps(problem))
        assert again.evaluate(x[i]) == problem.evaluate(x[i])
        assert again.parameters() == problem.parameters()
        assert again.config() == problem.config()
        assert again.dimension() == problem.dimension()
    # A later change to the caller's data array does not leak into the pickled builder.
    data = decay_data.copy()
    b = diffid.DiffsolBuilder().with_diffsl(decay_model).with_data(data).with_parameter("k", 0.3)
    before = b.build().evaluate([0.4])
    data[:, 1] += 1.0
    assert pickle.loads(pickle.dumps(b)).build().evaluate([0.4]) == before


def test_an_unpickled_problem_is_built_at_its_first_use(decay_model, decay_data):
    problem = _diffsol(decay_model, decay_data).build()
    assert problem._is_built()
    back = pickle.loads(pickle.dumps(problem))
    assert not back._is_built()
    value = back.evaluate([0.5, 2.0])
    assert back._is_built()
    assert value == problem.evaluate([0.5, 2.0])
    # It fits the same, with the builder's optimiser.
    assert back.optimise().x.tolist() == problem.optimise().x.tolist()


def test_a_problem_made_by_hand_from_a_builder_keeps_its_executor_out_of_the_pickle(
    decay_model, decay_data
):
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(1) as pool:
        builder = _diffsol(decay_model, decay_data).with_executor(pool)
        problem = builder.build()
        back = pickle.loads(pickle.dumps(problem))
    assert "executor" not in repr(pickle.loads(pickle.dumps(builder)))
    assert back.evaluate([0.5, 2.0]) == problem.evaluate([0.5, 2.0])
    assert back.config()["parallel"] is True


def test_results_round_trip(decay_model, decay_data):
    problem = _diffsol(decay_model, decay_data).build()
    r = problem.optimise()
    back = pickle.loads(pickle.dumps(r))
    assert back == r
    assert back.x.tolist() == r.x.tolist() and back.history.tolist() == r.history.tolist()
    assert str(back) == str(r)
    samples = problem.sample(
        sampler=diffid.MetropolisHastings().with_seed(1).with_num_chains(2).with_iterations(60)
    )
    s2 = pickle.loads(pickle.dumps(samples))
    assert np.array_equal(s2.chains, samples.chains)
    assert s2.parameter_names == samples.parameter_names
    assert s2.summary() == samples.summary()
    nested = problem.sample(sampler=diffid.DynamicNestedSampler().with_seed(2).with_max_batches(0))
    n2 = pickle.loads(pickle.dumps(nested))
    assert n2.log_evidence == nested.log_evidence
    assert np.array_equal(n2.positions, nested.positions)
    assert np.array_equal(n2.samples(), nested.samples())


def test_a_pickled_problem_runs_in_a_fresh_interpreter(decay_model, decay_data, tmp_path):
    """Nothing but the pickle crosses over: the new process compiles the model itself."""
    problem = _diffsol(decay_model, decay_data).build()
    path = tmp_path / "problem.pkl"
    path.write_bytes(pickle.dumps(problem))
    code = (
        "import pickle, sys; p = pickle.loads(open(sys.argv[1], 'rb').read()); "
        "print(repr(p.evaluate([0.5, 2.0])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
        cwd=REPO_ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == problem.evaluate([0.5, 2.0])


def test_a_builder_pickled_by_another_diffid_build_is_refused_by_name(decay_model, decay_data):
    builder = _diffsol(decay_model, decay_data)
    replay, (cls, steps, made_by) = builder.__reduce__()
    assert made_by == (diffid.__version__, "cranelift")
    assert replay(cls, steps, made_by) == builder
    with pytest.raises(diffid.BuildError, match="llvm JIT.*cranelift only"):
        replay(cls, steps, (diffid.__version__, "llvm"))
    with pytest.raises(diffid.BuildError, match="pickled by diffid 0.0.1"):
        replay(cls, steps, ("0.0.1", "cranelift"))
