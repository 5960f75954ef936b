"""Effective samples per second on the seed posterior: diffid's samplers against emcee.

The posterior is the sampling tutorial's (``docs/tutorials/sampling.py``): the seed's
Lotka–Volterra model and bundled data, the four rates with uniform priors on (0, 5), the
noise σ with a half-normal prior of scale 1, and the Gaussian likelihood with σ estimated.
Every sampler starts at the maximum-likelihood fit (found once, untimed), with its walkers or
chains dispersed by 1e-3 of each prior's spread.

Measured, in interleaved rounds (every configuration once per round, the order alternating
between rounds, so that a slow spell on a shared machine hits all of them):

- diffid ``MetropolisHastings``, 4 chains, at 1 thread and at 2 threads (``with_parallel``);
- diffid ``EnsembleSampler``, at 1 and 2 threads;
- emcee's ``EnsembleSampler`` with the same number of walkers and iterations as diffid's
  ensemble, ``vectorize=False``, no pool, around the function a user would write::

      def log_prob(x):
          lp = log_prior(x)                  # written in Python, checked against diffid's
          if not np.isfinite(lp):
              return -np.inf
          try:
              return lp - problem.evaluate(x)    # evaluate = the negative log-likelihood
          except diffid.EvaluationError:
              return -np.inf

For each run: the smallest bulk ESS over the parameters (ArviZ's ``az.ess``, on the draws
after warm-up, chains or walkers as ArviZ chains) divided by the wall time of the run. For
each round the ratio to emcee's ESS/s; the table reports the medians over rounds.

    pip install emcee arviz        # emcee is needed by this script only
    python benches/sampling_vs_emcee.py [--rounds 3]

About 3-4 minutes on 2 cores with the defaults (100 000 likelihood evaluations per run).
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import statistics
import time

import arviz as az
import diffid
import emcee
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
NAMES = ["alpha", "beta", "delta", "gamma", "sigma"]
RATE_BOUNDS = (0.0, 5.0)
SIGMA_PRIOR_SD = 1.0
STEP = 1e-3  # starts' dispersion, relative to each prior's spread

# The same budget for every sampler: 100 000 likelihood evaluations.
MH_CHAINS, MH_ITERATIONS, MH_WARMUP = 4, 25_000, 5_000
WALKERS, ENS_ITERATIONS, ENS_WARMUP = 20, 5_000, 1_000


def build(parallel) -> diffid.Problem:
    model = (REPO / "data" / "lotka_volterra_seed.ds").read_text()
    data = np.loadtxt(REPO / "data" / "lotka_volterra_seed.csv", delimiter=",", skiprows=1)
    b = diffid.DiffsolBuilder().with_diffsl(model).with_data(data)
    for name, start in zip(NAMES[:4], (0.8, 0.3, 0.05, 0.3)):
        b = b.with_parameter(name, start, bounds=RATE_BOUNDS)
    return (
        b.with_parameter("sigma", 1.0, prior=diffid.HalfNormal(SIGMA_PRIOR_SD))
        .with_cost(diffid.GaussianNLL(sigma="sigma"))
        .with_parallel(parallel)
        .build()
    )


_LOG_UNIFORM = -4 * math.log(RATE_BOUNDS[1] - RATE_BOUNDS[0])
_LOG_HALF_NORMAL = math.log(2.0) - 0.5 * math.log(2.0 * math.pi * SIGMA_PRIOR_SD**2)


def log_prior(x) -> float:
    """The same prior, in plain Python: uniform rates on (0, 5), half-normal σ."""
    a, b, d, g, s = x
    lo, hi = RATE_BOUNDS
    if not (lo <= a <= hi and lo <= b <= hi and lo <= d <= hi and lo <= g <= hi) or s < 0.0:
        return -math.inf
    return _LOG_UNIFORM + _LOG_HALF_NORMAL - 0.5 * (s / SIGMA_PRIOR_SD) ** 2


def min_bulk_ess(chains: np.ndarray) -> float:
    """The smallest ArviZ bulk ESS over the parameters of draws ``(chains, draws, dim)``."""
    idata = az.from_dict(posterior={n: chains[:, :, j] for j, n in enumerate(NAMES)})
    ess = az.ess(idata, method="bulk")
    return min(float(ess[n]) for n in NAMES)


def run_diffid(problem, sampler, x0):
    start = time.perf_counter()
    samples = problem.sample(x0, sampler=sampler)
    wall = time.perf_counter() - start
    assert samples.termination_reason == "completed"
    return min_bulk_ess(samples.chains), wall, samples.evaluations


def run_emcee(problem, x0, spread, seed):
    def log_prob(x):
        lp = log_prior(x)
        if not np.isfinite(lp):
            return -np.inf
        try:
            return lp - problem.evaluate(x)
        except diffid.EvaluationError:
            return -np.inf

    rng = np.random.default_rng(seed)
    p0 = np.empty((WALKERS, len(x0)))
    for k in range(WALKERS):  # dispersed as diffid's starts: redrawn until inside the support
        while True:
            p0[k] = x0 + spread * rng.standard_normal(len(x0))
            if np.isfinite(log_prior(p0[k])):
                break
    calls = [0]

    def counted(x):
        calls[0] += 1
        return log_prob(x)

    sampler = emcee.EnsembleSampler(WALKERS, len(x0), counted, vectorize=False)
    sampler.random_state = np.random.RandomState(seed).get_state()
    start = time.perf_counter()
    sampler.run_mcmc(p0, ENS_ITERATIONS, progress=False)
    wall = time.perf_counter() - start
    chain = sampler.get_chain(discard=ENS_WARMUP)  # (draws, walkers, dim)
    return min_bulk_ess(np.transpose(chain, (1, 0, 2))), wall, calls[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args()

    problems = {1: build(False), 2: build(2)}
    # The start: the maximum-likelihood fit (untimed), and the spread of each prior.
    x0 = problems[1].optimise(optimiser=diffid.NelderMead().with_max_iter(3000)).x
    spread = STEP * np.array(
        [0.5 * (p.quantile(0.841344746) - p.quantile(0.158655254)) for p in problems[1].priors()]
    )
    # The Python prior is diffid's, to rounding.
    for x in (x0, x0 * 1.1, np.array([4.9, 0.1, 2.0, 0.01, 3.0])):
        assert abs(log_prior(x) - problems[1].log_prior(x)) < 1e-9, x
    # Warm the per-thread model caches outside the measurements.
    for problem in problems.values():
        problem.sample(x0, sampler=diffid.MetropolisHastings().with_num_chains(4)
                       .with_iterations(20).with_step_size(STEP).with_seed(0))

    def mh(seed):
        return (diffid.MetropolisHastings().with_num_chains(MH_CHAINS)
                .with_iterations(MH_ITERATIONS).with_warmup(MH_WARMUP)
                .with_step_size(STEP).with_seed(seed))

    def ensemble(seed):
        return (diffid.EnsembleSampler().with_walkers(WALKERS)
                .with_iterations(ENS_ITERATIONS).with_warmup(ENS_WARMUP)
                .with_step_size(STEP).with_seed(seed))

    configs = {
        "diffid MH, 4 chains, 1 thread": lambda s: run_diffid(problems[1], mh(s), x0),
        "diffid MH, 4 chains, 2 threads": lambda s: run_diffid(problems[2], mh(s), x0),
        "diffid ensemble, 1 thread": lambda s: run_diffid(problems[1], ensemble(s), x0),
        "diffid ensemble, 2 threads": lambda s: run_diffid(problems[2], ensemble(s), x0),
        "emcee (problem.evaluate)": lambda s: run_emcee(problems[1], x0, spread, s),
    }
    emcee_key = "emcee (problem.evaluate)"
    print(f"load average at start: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    print(f"MH: {MH_CHAINS} chains × {MH_ITERATIONS} iterations ({MH_WARMUP} warm-up); "
          f"ensembles: {WALKERS} walkers × {ENS_ITERATIONS} iterations ({ENS_WARMUP} warm-up)")
    results: dict[str, list[tuple[float, float, int]]] = {k: [] for k in configs}
    ratios: dict[str, list[float]] = {k: [] for k in configs}
    t_all = time.perf_counter()
    for r in range(args.rounds):
        order = list(configs) if r % 2 == 0 else list(reversed(configs))
        this_round = {}
        for key in order:
            ess, wall, evaluations = configs[key](r + 1)
            this_round[key] = ess / wall
            results[key].append((ess, wall, evaluations))
            print(f"round {r + 1}: {key:<32} min bulk ESS {ess:7.0f}  {wall:6.2f} s  "
                  f"{evaluations:>6} evaluations  {ess / wall:8.1f} ESS/s", flush=True)
        for key in configs:
            ratios[key].append(this_round[key] / this_round[emcee_key])
    total = time.perf_counter() - t_all
    print(f"load average at end: {os.getloadavg()[0]:.2f}; total {total:.0f} s\n")

    print(f"| sampler | min bulk ESS | wall time | µs per evaluation | ESS/s | "
          f"ESS/s ÷ emcee's (median of {args.rounds} rounds; range) |")
    print("|---|---:|---:|---:|---:|---:|")
    for key in configs:
        ess = statistics.median(e for e, _, _ in results[key])
        wall = statistics.median(w for _, w, _ in results[key])
        evaluations = results[key][0][2]
        rate = statistics.median(e / w for e, w, _ in results[key])
        ratio = statistics.median(ratios[key])
        low, high = min(ratios[key]), max(ratios[key])
        spread_text = "" if key == emcee_key else f" ({low:.1f}–{high:.1f})"
        print(f"| {key} | {ess:.0f} | {wall:.2f} s | {1e6 * wall / evaluations:.0f} | "
              f"{rate:.1f} | {ratio:.1f}×{spread_text} |")
    mh_evaluations = results[next(iter(configs))][0][2]
    print(f"\n(medians over rounds; evaluations per run: {mh_evaluations} for MH, "
          f"{results[emcee_key][0][2]} for the ensembles)")


if __name__ == "__main__":
    main()
