"""Likelihood evaluations of diffid's nested sampler next to dynesty's, run here on the
problems and settings of the counts dynesty publishes (issue 8):

- Gaussian shells (radius 2, width 0.1, centres ±3.5 on the first axis, prior U(−6, 6)^d) in
  2-D and 5-D: static, 2 000 live points, multi-ellipsoid bound, uniform sampling, dlogz 0.5.
  Published: 15 730 and 35 647 evaluations.
- Eggbox ((2 + cos(x/2) cos(y/2))^5 on U(0, 10π)^2): dynamic, evidence-weighted, 500 live
  points. Published: 57 080.

dynesty runs twice: at its own defaults for those options, and with no bootstrap and ellipsoid
volumes enlarged by 1.5 (our earlier default bound; ours now doubles them). diffid runs at its
defaults, hand-driven from Python (`init`, `ask`, `tell`: the same sampler as the Rust
tests). The script reports the evaluations and ln Z ± its reported error of each run, and the
medians over the seeds. dynesty takes about 40 minutes here; ``--diffid-only`` skips it;
``--bootstraps=N`` runs ours with N bootstrap resamples behind the bound's expansion.

Needs ``pip install dynesty`` in the environment that runs it (dynesty is not a dependency of
diffid or of its tests). Run from the repository root::

    python benches/nested_counts_vs_dynesty.py [seeds] [--diffid-only] [--bootstraps=N]
"""

from __future__ import annotations

import math
import statistics
import sys
import warnings

import numpy as np

import diffid

PUBLISHED = {"shells 2-D": 15_730, "shells 5-D": 35_647, "eggbox": 57_080}
TRUTH = {"shells 2-D": -1.75, "shells 5-D": -5.67, "eggbox": 235.856}


def shells_log_likelihood(d: int):
    centres = np.zeros((2, d))
    centres[:, 0] = (-3.5, 3.5)
    radius, width = 2.0, 0.1
    norm = -0.5 * math.log(2.0 * math.pi * width**2)

    def logl(x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        r = np.linalg.norm(x[:, None, :] - centres[None, :, :], axis=2)
        return np.logaddexp.reduce(norm - (r - radius) ** 2 / (2.0 * width**2), axis=1)

    return logl


def eggbox_log_likelihood(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(x)
    return (2.0 + np.cos(x[:, 0] / 2.0) * np.cos(x[:, 1] / 2.0)) ** 5


PROBLEMS = {
    # name: (log-likelihood, dimension, prior bounds, live points, dynamic)
    "shells 2-D": (shells_log_likelihood(2), 2, (-6.0, 6.0), 2000, False),
    "shells 5-D": (shells_log_likelihood(5), 5, (-6.0, 6.0), 2000, False),
    "eggbox": (eggbox_log_likelihood, 2, (0.0, 10.0 * math.pi), 500, True),
}


def ours(name: str, seed: int, bootstraps: int = 0) -> tuple[int, float, float]:
    logl, d, (lo, hi), live, dynamic = PROBLEMS[name]
    sampler = (
        diffid.DynamicNestedSampler().with_live_points(live).with_seed(seed).with_bootstraps(bootstraps)
    )
    if dynamic:
        sampler = sampler.with_posterior_fraction(0.0)
    else:
        sampler = sampler.with_termination_tolerance(0.5).with_max_batches(0)
    state = sampler.init([(lo + hi) / 2] * d, bounds=[(lo, hi)] * d)
    while isinstance(step := state.ask(), diffid.Evaluate):
        state.tell(list(-logl(np.asarray(step.points))))
    r = step.result
    return r.evaluations, r.log_evidence, r.log_evidence_error


def theirs(name: str, seed: int, ours_settings: bool) -> tuple[int, float, float]:
    import dynesty

    logl, d, (lo, hi), live, dynamic = PROBLEMS[name]
    options = {"bootstrap": 0, "enlarge": 1.5} if ours_settings else {}
    common = dict(
        loglikelihood=lambda x: float(logl(x)[0]),
        prior_transform=lambda u: lo + (hi - lo) * u,
        ndim=d,
        bound="multi",
        sample="unif",
        rstate=np.random.default_rng(seed),
        **options,
    )
    if dynamic:
        s = dynesty.DynamicNestedSampler(**common)
        s.run_nested(nlive_init=live, nlive_batch=live, wt_kwargs={"pfrac": 0.0}, print_progress=False)
    else:
        s = dynesty.NestedSampler(nlive=live, **common)
        s.run_nested(dlogz=0.5, print_progress=False)
    res = s.results
    return int(np.sum(res.ncall)), float(res.logz[-1]), float(res.logzerr[-1])


def thousands(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module="dynesty")
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seeds = int(args[0]) if args else 3
    boot = [int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--bootstraps=")]
    runners = {
        "diffid (defaults)" if not boot else f"diffid ({boot[0]} bootstraps)": lambda n, s: ours(n, s, *boot),
        "dynesty (its defaults)": lambda n, s: theirs(n, s, False),
        "dynesty (bootstrap 0, enlargement 1.5)": lambda n, s: theirs(n, s, True),
    }
    if "--diffid-only" in sys.argv:
        runners = {k: v for k, v in runners.items() if k.startswith("diffid")}
    print(f"| problem | run | evaluations, seeds 0–{seeds - 1} | median | ln Z ± reported error (truth) |")
    print("|---|---|---|---:|---|")
    for name in PROBLEMS:
        for label, runner in runners.items():
            rows = [runner(name, seed) for seed in range(seeds)]
            counts = ", ".join(thousands(r[0]) for r in rows)
            lnz = ", ".join(f"{r[1]:.2f} ± {r[2]:.2f}" for r in rows)
            median = thousands(round(statistics.median(r[0] for r in rows)))
            published = thousands(PUBLISHED[name])
            print(f"| {name} (published {published}) | {label} | {counts} | {median} | {lnz} ({TRUTH[name]}) |", flush=True)


if __name__ == "__main__":
    main()
