"""The model-comparison tutorial's plain Lotka–Volterra model (rates uniform within ±50 % of the
seed model's defaults, σ half-normal(1)): nested ln Z over several seeds, next to an
importance-sampling reference, to check the default bound for bias at a given number of live
points.

The reference is ``nested_vs_dynesty.py``'s importance sampling: a multivariate t with 3 degrees
of freedom fitted to a nested run's posterior (scale four times its covariance), 40 000 draws.

Run from the repository root::

    python benches/nested_tutorial_seeds.py LIVE EXPANSION SEED [SEED ...] [--reference]

e.g. ``python benches/nested_tutorial_seeds.py 1000 1.0 2 3 4 5 6 7 8 9 --reference``.
"""

from __future__ import annotations

import math
import pathlib
import statistics
import sys

import numpy as np

import diffid
from nested_vs_dynesty import importance_log_evidence

ROOT = pathlib.Path(__file__).resolve().parent.parent
PRIORS = {
    "alpha": diffid.Uniform(0.5, 1.5),
    "beta": diffid.Uniform(0.25, 0.75),
    "delta": diffid.Uniform(0.05, 0.15),
    "gamma": diffid.Uniform(0.25, 0.75),
    "sigma": diffid.HalfNormal(1.0),
}


def problem() -> diffid.Problem:
    data = np.loadtxt(ROOT / "data" / "lotka_volterra_seed.csv", delimiter=",", skiprows=1)
    b = diffid.DiffsolBuilder().with_diffsl((ROOT / "data" / "lotka_volterra_seed.ds").read_text()).with_data(data)
    for name, prior in PRIORS.items():
        b = b.with_parameter(name, prior.quantile(0.5), prior=prior)
    return b.with_cost(diffid.GaussianNLL(sigma="sigma")).with_parallel(True).build()


def log_prior(theta: np.ndarray) -> float:
    return sum(prior.log_pdf(v) for prior, v in zip(PRIORS.values(), theta))


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    live, expansion, seeds = int(args[0]), float(args[1]), [int(a) for a in args[2:]]
    p = problem()
    runs = []
    for seed in seeds:
        sampler = (
            diffid.DynamicNestedSampler().with_live_points(live).with_expansion_factor(expansion).with_seed(seed)
        )
        r = p.sample(sampler=sampler)
        runs.append(r)
        print(f"seed {seed}: ln Z {r.log_evidence:.3f} ± {r.log_evidence_error:.3f}, {r.evaluations} evaluations", flush=True)
    lnz = [r.log_evidence for r in runs]
    if len(lnz) > 1:
        sd = statistics.stdev(lnz)
        print(f"mean {statistics.mean(lnz):.3f}, sd {sd:.3f}, standard error {sd / math.sqrt(len(lnz)):.3f}")
    if "--reference" in sys.argv:
        ref, err = importance_log_evidence(p, log_prior, runs[0], seed=5)
        print(f"reference (importance sampling): {ref:.3f} ± {err:.3f}")


if __name__ == "__main__":
    main()
