"""The sparse linear-algebra backend."""

import pickle

import numpy as np
import pytest

import diffid


def chain_model(n):
    states = ", ".join(f"y{i} = {1.0 if i == 0 else 0.0}" for i in range(n))
    rhs = ", ".join("-k * y0" if i == 0 else f"k * y{i - 1} - k * y{i}" for i in range(n))
    return f"in_i {{ k = 1.0 }}\nu_i {{ {states} }}\nF_i {{ {rhs} }}\nout_i {{ y{n - 1} }}"


def test_sparse_and_dense_fits_agree_on_a_large_chain():
    model = chain_model(40)
    t = np.linspace(0.0, 30.0, 31)
    truth = (
        diffid.DiffsolBuilder()
        .with_diffsl(model)
        .with_data(np.column_stack((t, np.zeros_like(t))))
        .with_parameter("k", 1.6)
        .with_solver("bdf")
        .with_tolerances(1e-10, 1e-12)
        .build()
    )
    data = np.column_stack((t, truth.simulate([1.6])[:, 0]))
    results = {}
    for backend in ("dense", "sparse"):
        p = (
            diffid.DiffsolBuilder()
            .with_diffsl(model)
            .with_data(data)
            .with_parameter("k", 1.0)
            .with_solver("bdf")
            .with_backend(backend)
            .with_tolerances(1e-10, 1e-12)
            .build()
        )
        g = p.evaluate_gradient([1.2])
        assert g.shape == (1,) and g[0] < 0.0  # increasing k towards 1.6 lowers the SSE
        results[backend] = p.optimise(optimiser=diffid.LBFGSB().with_threshold(-np.inf))
    for r in results.values():
        assert r.x[0] == pytest.approx(1.6, rel=1e-4)
    assert results["sparse"].x[0] == pytest.approx(results["dense"].x[0], rel=1e-6)


def test_an_unknown_backend_is_a_value_error():
    with pytest.raises(ValueError, match='"dense" or "sparse"'):
        diffid.DiffsolBuilder().with_backend("gpu")
    assert "backend=sparse" in repr(diffid.DiffsolBuilder().with_backend("sparse"))


def test_with_config_sets_several_options_and_config_reports_them(decay_builder):
    p = (
        decay_builder.with_parameter("k", 0.2)
        .with_config(
            {"rtol": 1e-9, "atol": 1e-11, "solver": "bdf", "backend": "sparse", "max_steps": 5000, "parallel": 2}
        )
        .build()
    )
    assert p.config() == {
        "rtol": 1e-9,
        "atol": 1e-11,
        "solver": "bdf",
        "backend": "sparse",
        "t0": 0.0,
        "max_steps": 5000,
        "parallel": 2,
        "doses": [],
        "breakpoints": [],
        "steady_state": None,
    }
    defaults = decay_builder.with_parameter("k", 0.2).build().config()
    assert defaults["rtol"] == 1e-6 and defaults["solver"] == "auto" and defaults["parallel"] is True
    with pytest.raises(ValueError, match="unknown config key 'tolerance'.*rtol, atol"):
        decay_builder.with_config({"tolerance": 1e-3})
    with pytest.raises(ValueError):
        decay_builder.with_config({"rtol": -1.0})
    with pytest.raises(ValueError):
        decay_builder.with_config({"solver": "euler"})
    with pytest.raises(ValueError):
        decay_builder.with_max_steps(0)


def test_vector_builder_config_is_carried_to_the_problem():
    t = np.linspace(0, 1, 5)
    b = (
        diffid.VectorBuilder()
        .with_objective(lambda p: p[0] * t)
        .with_data(np.column_stack((t, 2 * t)))
        .with_parameter("a", 1.0)
        .with_config("units", "mM")
        .with_config("units", "µM")
    )
    assert b.build().config() == {"parallel": False, "units": "µM"}


def test_with_parallel_takes_the_spec_keyword(decay_builder):
    assert decay_builder.with_parameter("k", 0.2).with_parallel(flag=False).build().config()["parallel"] is False
    assert decay_builder.with_parameter("k", 0.2).with_parallel().build().config()["parallel"] is True


ROBERTSON = """
in_i { k1 = 0.04, k2 = 30000000.0, k3 = 10000.0 }
u_i { x = 1.0, y = 0.0, z = 0.0 }
F_i { -k1 * x + k3 * y * z, k1 * x - k3 * y * z - k2 * y * y, k2 * y * y }
"""


def test_a_stiff_model_solves_without_naming_a_solver():
    t = np.concatenate([[0.0], np.geomspace(1e-4, 1e5, 30)])
    data = np.column_stack([t, np.zeros((len(t), 3))])
    base = diffid.DiffsolBuilder().with_diffsl(ROBERTSON).with_data(data).with_parameter("k1", 0.04)
    auto = base.build()
    assert auto.config()["solver"] == "auto"
    counts = auto.solver_counts()
    assert counts["choice"] == "bdf"
    bdf = base.with_solver("bdf").build()
    assert np.array_equal(auto.simulate([0.05]), bdf.simulate([0.05]))
    assert auto.solver_counts()["bdf"] == counts["bdf"] + 1
    with pytest.raises(diffid.EvaluationError, match="bdf"):
        base.with_solver("tsit45").build().simulate([0.05])
    assert base.with_solver("tsit45").build().solver_counts() is None


def test_a_non_stiff_model_keeps_the_explicit_method_under_auto(decay_builder):
    p = decay_builder.with_parameter("k", 0.5).build()
    assert p.solver_counts()["choice"] == "tsit45"
    tsit = decay_builder.with_parameter("k", 0.5).with_solver("tsit45").build()
    assert p.evaluate([0.7]) == tsit.evaluate([0.7])
    assert p.solver_counts()["tsit45"] >= 1 and p.solver_counts()["fallbacks"] == 0


def test_results_count_each_runs_solves_by_method(decay_builder, capsys):
    p = (
        decay_builder.with_parameter("k", 0.5, bounds=(0.01, 5.0))
        .with_cost(diffid.GaussianNLL(variance=0.01))
        .build()
    )
    p.evaluate([0.7])  # before the run: not counted in it
    r = p.optimise(optimiser=diffid.NelderMead().with_max_iter(20))
    c = r.solver_counts
    assert c["choice"] == "tsit45" and c["bdf"] == 0 and c["fallbacks"] == 0
    # Every evaluation of the run is one solve (the probe and the earlier one are not counted).
    assert c["tsit45"] == r.evaluations
    assert pickle.loads(pickle.dumps(r)).solver_counts == c
    # The progress line reports them too (its last line: the whole run).
    r = p.optimise(optimiser=diffid.NelderMead().with_max_iter(20), progress=True)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"tsit45 {r.evaluations}, bdf 0 (0 fallbacks)" in last, last
    s = p.sample(sampler=diffid.MetropolisHastings().with_num_chains(2).with_iterations(30).with_seed(1), initial=[0.5])
    assert s.solver_counts["tsit45"] == s.evaluations
    n = p.sample(sampler=diffid.DynamicNestedSampler().with_live_points(20).with_max_batches(0).with_seed(1))
    assert n.solver_counts["tsit45"] == n.evaluations
    # A named solver, or a Python objective: nothing to count.
    named = decay_builder.with_parameter("k", 0.5).with_solver("bdf").build()
    assert named.optimise(optimiser=diffid.NelderMead().with_max_iter(5)).solver_counts is None
    scalar = diffid.ScalarBuilder().with_objective(lambda x: float(x[0] ** 2)).with_parameter("a", 1.0).build()
    assert scalar.optimise().solver_counts is None


def test_simulate_anywhere_from_any_start(decay_model):
    t = np.linspace(1.0, 3.0, 5)
    data = np.column_stack([t, 2.0 * np.exp(-0.7 * (t + 1.0))])
    p = (
        diffid.DiffsolBuilder()
        .with_diffsl(decay_model)
        .with_data(data)
        .with_t0(-1.0)
        .with_parameter("k", 0.5)
        .build()
    )
    assert p.config()["t0"] == -1.0
    fine = np.linspace(-1.0, 4.0, 51)
    y = p.simulate([0.7], times=fine)
    assert y.shape == (51, 1)
    np.testing.assert_allclose(y[:, 0], 2.0 * np.exp(-0.7 * (fine + 1.0)), rtol=1e-5)
    assert p.simulate([0.7]).shape == (5, 1)
    assert p.evaluate([0.7]) < 1e-9
    with pytest.raises(diffid.BuildError, match="before the model's start"):
        p.simulate([0.7], times=[-2.0, 0.0])
    with pytest.raises(diffid.BuildError, match="increase"):
        p.simulate([0.7], times=[1.0, 0.5])
    with pytest.raises(diffid.BuildError, match="before the model's start"):
        diffid.DiffsolBuilder().with_diffsl(decay_model).with_data(data).with_t0(2.0).with_parameter(
            "k", 0.5).build()
    # The start travels with a pickled problem.
    import pickle

    assert pickle.loads(pickle.dumps(p)).config()["t0"] == -1.0


def boehm_problem(repo_root, solver=None):
    """Boehm_JProteomeRes2014 of the PEtab benchmark collection, translated by hand to DiffSL
    (data/petab/Boehm_JProteomeRes2014/model.ds), with its measurements (one row per time, one
    column per observable)."""
    import csv

    root = repo_root / "data" / "petab" / "Boehm_JProteomeRes2014"
    with open(root / "measurementData_Boehm_JProteomeRes2014.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    obs = ["pSTAT5A_rel", "pSTAT5B_rel", "rSTAT5A_rel"]
    times = sorted({float(r["time"]) for r in rows})
    data = np.full((len(times), 4), np.nan)
    data[:, 0] = times
    for r in rows:
        data[times.index(float(r["time"])), 1 + obs.index(r["observableId"])] = float(r["measurement"])
    assert not np.isnan(data).any()
    b = (
        diffid.DiffsolBuilder()
        .with_diffsl((root / "model.ds").read_text())
        .with_data(data)
        .with_parameter("epodeg", 0.026982514033029)
    )
    if solver:
        b = b.with_solver(solver)
    return b.build(), data


def test_the_boehm_benchmark_model_solves_without_naming_a_solver(repo_root):
    problem, data = boehm_problem(repo_root)
    # Stiff (k_imp_homo ~ 1e5): the probe picks BDF.
    assert problem.solver_counts()["choice"] == "bdf"
    y = problem.simulate([0.026982514033029])
    sd = np.array([3.85261197844677, 6.59147818673419, 3.15271275648527])  # nominal noise
    r = data[:, 1:] - y
    llh = -np.sum(0.5 * np.log(2 * np.pi * sd**2) + 0.5 * r**2 / sd**2)
    # AMICI's reference log-likelihood at the nominal parameters (benchmark collection).
    assert llh == pytest.approx(-138.221997, abs=1e-3)
    tsit, _ = boehm_problem(repo_root, "tsit45")
    with pytest.raises(diffid.EvaluationError, match="exceeded 100000 steps"):
        tsit.evaluate([0.026982514033029])
