"""Experiments as measurement rows from Python: noise models, σ as a number, a parameter or
a model output, replicates, the benchmark model's likelihood at its nominal parameters, and
bad rows as specific errors."""

import csv
import math
import pickle

import numpy as np
import pytest

import diffid

MODEL = """
in_i { k = 0.5, y0 = 3.0, s0 = 0.1, s1 = 0.05 }
u_i { y = y0 }
F_i { -k * y }
out_i { obs = y, sd = s0 + s1 * y }
"""

ROWS = [(0.0, "obs", 2.9, 0.2), (1.0, "obs", 1.9, "sigma"), (1.0, "obs", 1.7, "sigma"),
        (2.5, "obs", 0.9, "sd")]


def problem(transform="lin", distribution="normal"):
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(MODEL)
        .with_tolerances(1e-10, 1e-12)
        .with_experiment("a", ROWS)
        .with_noise_model("obs", transform, distribution)
        .with_parameter("k", 0.5, bounds=(0.01, 5.0))
        .with_parameter("sigma", 0.3, bounds=(0.01, 5.0))
        .build()
    )


def test_the_log_normal_likelihood_matches_petab_s_formula():
    p = problem("log")
    k, sigma = 0.45, 0.25
    total = 0.0
    for t, _, m, s in ROWS:
        y = 3.0 * math.exp(-k * t)
        s = {"sigma": sigma, "sd": 0.1 + 0.05 * y}.get(s, s)
        total += 0.5 * math.log(2 * math.pi * s**2 * m**2) + 0.5 * ((math.log(m) - math.log(y)) / s) ** 2
    assert p.evaluate([k, sigma]) == pytest.approx(total, rel=1e-9)
    preds = p.simulate_measurements([k, sigma])["a"]
    np.testing.assert_allclose(preds, [3.0 * math.exp(-k * t) for t, *_ in ROWS], rtol=1e-8)
    assert pickle.loads(pickle.dumps(p)).evaluate([k, sigma]) == p.evaluate([k, sigma])


def test_gradients_match_central_differences_for_laplace_noise():
    p = problem("log10", "laplace")
    x = np.array([0.45, 0.25])
    g = p.evaluate_gradient(x)
    for j in range(2):
        h = 1e-6
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        assert g[j] == pytest.approx((p.evaluate(up) - p.evaluate(down)) / (2 * h), rel=1e-5)


def test_the_benchmark_model_s_nominal_likelihood_matches_amici(repo_root):
    root = repo_root / "data" / "petab" / "Boehm_JProteomeRes2014"
    with open(root / "measurementData_Boehm_JProteomeRes2014.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    outputs = {"pSTAT5A_rel": "out[0]", "pSTAT5B_rel": "out[1]", "rSTAT5A_rel": "out[2]"}
    measurements = [(float(r["time"]), outputs[r["observableId"]], float(r["measurement"]),
                     r["noiseParameters"]) for r in rows]
    sd = {"sd_pSTAT5A_rel": 3.85261197844677, "sd_pSTAT5B_rel": 6.59147818673419,
          "sd_rSTAT5A_rel": 3.15271275648527}
    b = diffid.DiffsolBuilder().with_diffsl((root / "model.ds").read_text())
    b = b.with_experiment("model1_data1", measurements).with_parameter("epodeg", 0.026982514033029)
    for name, value in sd.items():
        b = b.with_parameter(name, value, bounds=(1e-5, 1e5))
    p = b.build()
    llh = -p.evaluate([0.026982514033029, *sd.values()])
    assert abs(llh - (-138.22199693517703)) <= 1e-3 + 1e-3 * 138.222
    assert p.solver_counts()["choice"] == "bdf"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda b: b.with_experiment("a", [(0.0, "obs", 1.0, -1.0)]), diffid.BuildError, "σ = -1"),
        (lambda b: b.with_experiment("a", [(0.0, "obs", 1.0, "noise")]), diffid.BuildError,
         "'noise', which is neither a declared parameter"),
        (lambda b: b.with_experiment("a", [(0.0, "y", 1.0, 1.0)]), diffid.BuildError,
         "measures 'y', which is not an output"),
        (lambda b: b.with_experiment("a", [(0.0, "obs", 1.0)]), TypeError, "measurement 0 must be"),
        (lambda b: b.with_experiment("a", [(0.0, "obs", 1.0, 1.0)]).with_noise_model("obs", "ln"),
         ValueError, "unknown observable transformation 'ln'"),
        (lambda b: b.with_experiment("a", [(0.0, "obs", 1.0, 1.0)]).with_cost(diffid.SSE()),
         diffid.BuildError, "takes no with_data, with_condition or with_cost"),
    ],
)
def test_bad_experiments_are_specific_errors(change, error, message):
    base = diffid.DiffsolBuilder().with_diffsl(MODEL).with_parameter("k", 0.5)
    with pytest.raises(error, match=message):
        change(base).build()
