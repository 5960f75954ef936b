"""The seed model's evidence: diffid's dynamic nested sampler (Rust, 1 and 2 threads) next to
dynesty wrapping the same problem's ``evaluate`` from Python, in one run.

Both sample the seed's Lotka–Volterra posterior with an unknown noise σ (rates uniform on
[0, 2], σ uniform on [0.05, 3]) from 500 live points with a static run to dlogz 0.5 (multi-ellipsoid
bound enlarged by 1.5 in volume, no bootstrap — our defaults —, uniform sampling), so the work
is comparable (with its own default bootstrap expansion dynesty took 767 s for one run here); the runs are interleaved (ours on 1 thread,
ours on 2 threads, dynesty; repeated) and the script reports the medians and the ratios of the
rounds.

Accuracy is judged against a reference ln Z computed independently of nested sampling: importance
sampling of the posterior with a heavy-tailed proposal (a multivariate t with 3 degrees of
freedom, centred on the first run's posterior mean, its scale four times that run's posterior
covariance), 40 000 draws, with its standard error.

Needs ``pip install dynesty`` in the environment that runs it (dynesty is not a dependency of
diffid or of its tests). Run from the repository root::

    python benches/nested_vs_dynesty.py [rounds] [--threads-only]

``--threads-only`` times ours alone, on 1 and then 2 threads per round (seed k in round k), for
the scaling, and reports each seed's ln Z (the guide's twelve seeds: ``12 --threads-only``).
"""

from __future__ import annotations

import math
import pathlib
import statistics
import sys
import time
import warnings

import numpy as np

import diffid

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIVE = 500
DLOGZ = 0.5
RATES = ("alpha", "beta", "delta", "gamma")
BOUNDS = [(0.0, 2.0)] * 4 + [(0.05, 3.0)]


def problem(threads: int) -> diffid.Problem:
    data = np.loadtxt(ROOT / "data" / "lotka_volterra_seed.csv", delimiter=",", skiprows=1)
    builder = (
        diffid.DiffsolBuilder()
        .with_diffsl((ROOT / "data" / "lotka_volterra_seed.ds").read_text())
        .with_data(data)
        .with_parallel(threads)
        .with_cost(diffid.GaussianNLL(sigma="sigma"))
    )
    for name, start, b in zip((*RATES, "sigma"), (1.1, 0.4, 0.1, 0.4, 0.6), BOUNDS):
        builder = builder.with_parameter(name, start, bounds=b)
    return builder.build()


def ours(threads: int, seed: int, keep: list | None = None) -> tuple[float, float, float, int]:
    p = problem(threads)
    sampler = (
        diffid.DynamicNestedSampler()
        .with_live_points(LIVE)
        .with_termination_tolerance(DLOGZ)
        .with_max_batches(0)
        .with_seed(seed)
    )
    t = time.perf_counter()
    r = p.sample(sampler=sampler)
    elapsed = time.perf_counter() - t
    if keep is not None:
        keep.append(r)
    return elapsed, r.log_evidence, r.log_evidence_error, r.evaluations


def importance_log_evidence(
    p: diffid.Problem, log_prior, run: diffid.NestedSamples, draws: int = 40_000, seed: int = 0
) -> tuple[float, float]:
    """ln Z of ``p`` by importance sampling from a multivariate t (3 degrees of freedom) fitted
    to ``run``'s posterior, its scale four times the posterior covariance, and its standard
    error (delta method). ``log_prior(theta)`` is the log prior density, -inf outside the
    support."""
    w = np.asarray(run.weights)
    x = np.asarray(run.positions)
    mean = w @ x
    shape = 4.0 * ((w[:, None] * (x - mean)).T @ (x - mean))
    d, df = len(mean), 3.0
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(shape)
    z = rng.standard_normal((draws, d))
    scale = np.sqrt(rng.chisquare(df, draws) / df)
    theta = mean + (z @ chol.T) / scale[:, None]
    # The t density: log Γ((ν+d)/2) − log Γ(ν/2) − d/2 log(νπ) − ½ log|Σ| − (ν+d)/2 log(1 + m/ν).
    m = np.sum(np.linalg.solve(chol, (theta - mean).T) ** 2, axis=0)
    log_q = (
        math.lgamma((df + d) / 2)
        - math.lgamma(df / 2)
        - d / 2 * math.log(df * math.pi)
        - np.sum(np.log(np.diag(chol)))
        - (df + d) / 2 * np.log1p(m / df)
    )
    log_w = np.full(draws, -np.inf)
    for i in range(draws):
        lp = log_prior(theta[i])
        if not math.isfinite(lp):
            continue
        try:
            log_w[i] = -p.evaluate(theta[i]) + lp - log_q[i]
        except diffid.EvaluationError:
            pass
    top = log_w.max()
    v = np.exp(log_w - top)
    return top + math.log(v.mean()), float(v.std() / math.sqrt(draws) / v.mean())


def reference(run: diffid.NestedSamples, draws: int = 40_000, seed: int = 0) -> tuple[float, float]:
    """The seed posterior's ln Z by importance sampling (``importance_log_evidence``)."""
    lo = np.array([b[0] for b in BOUNDS])
    hi = np.array([b[1] for b in BOUNDS])
    inside = -float(np.sum(np.log(hi - lo)))

    def log_prior(theta: np.ndarray) -> float:
        return inside if np.all((theta > lo) & (theta < hi)) else -math.inf

    return importance_log_evidence(problem(1), log_prior, run, draws, seed)


def theirs(seed: int) -> tuple[float, float, float, int]:
    import dynesty

    p = problem(1)
    lo = np.array([b[0] for b in BOUNDS])
    width = np.array([b[1] - b[0] for b in BOUNDS])

    def loglike(x: np.ndarray) -> float:
        try:
            return -p.evaluate(x)
        except diffid.EvaluationError:
            return -np.inf

    sampler = dynesty.NestedSampler(
        loglike,
        lambda u: lo + width * u,
        len(BOUNDS),
        nlive=LIVE,
        bound="multi",
        sample="unif",
        # The same bound as ours: no bootstrap, ellipsoid volumes enlarged by 1.5.
        bootstrap=0,
        enlarge=1.5,
        rstate=np.random.default_rng(seed),
    )
    t = time.perf_counter()
    sampler.run_nested(dlogz=DLOGZ, print_progress=False)
    elapsed = time.perf_counter() - t
    res = sampler.results
    return elapsed, float(res.logz[-1]), float(res.logzerr[-1]), int(np.sum(res.ncall))


def main() -> None:
    # dynesty warns at every bound update when its bootstrap expansion grows large.
    warnings.filterwarnings("ignore", category=UserWarning, module="dynesty")
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rounds = int(args[0]) if args else 3
    if "--threads-only" in sys.argv:
        # 1 against 2 threads alone, paired rounds (seed k in round k).
        ratios, lnz = [], []
        for k in range(rounds):
            one, (two, z, err, n) = ours(1, k)[0], ours(2, k)
            ratios.append(one / two)
            lnz.append(z)
            print(
                f"round {k + 1} (seed {k}): 1 thread {one:.2f} s, 2 threads {two:.2f} s: {one / two:.2f}x; "
                f"ln Z {z:.3f} ± {err:.3f}, {n} evaluations",
                flush=True,
            )
        print(f"diffid 1 thread / 2 threads, median of rounds: {statistics.median(ratios):.2f}x")
        if rounds > 1:
            print(f"ln Z over the seeds: mean {statistics.mean(lnz):.3f}, sd {statistics.stdev(lnz):.3f}")
        return
    rows: dict[str, list[tuple[float, float, float, int]]] = {"diffid, 1 thread": [], "diffid, 2 threads": [], "dynesty": []}
    runs: list[diffid.NestedSamples] = []
    for k in range(rounds):
        rows["diffid, 1 thread"].append(ours(1, k, runs))
        rows["diffid, 2 threads"].append(ours(2, k))
        rows["dynesty"].append(theirs(k))
        print(
            f"round {k + 1}: "
            + ", ".join(f"{n} {v[-1][0]:.2f} s (ln Z {v[-1][1]:.3f} ± {v[-1][2]:.3f}, {v[-1][3]} evaluations)" for n, v in rows.items()),
            flush=True,
        )
    ref, ref_err = reference(runs[0])
    print()
    print(f"Seed posterior (5 parameters), {LIVE} live points, static to dlogz {DLOGZ}, {rounds} interleaved rounds")
    print(f"Reference ln Z (importance sampling, 40 000 draws): {ref:.3f} ± {ref_err:.3f}")
    print()
    print("| run | median time | ln Z per round | mean |ln Z − reference| / reported error | evaluations (median) | time per evaluation |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, v in rows.items():
        t = statistics.median(r[0] for r in v)
        n = statistics.median(r[3] for r in v)
        lnz = ", ".join(f"{r[1]:.3f}" for r in v)
        dev = statistics.mean(abs(r[1] - ref) / r[2] for r in v)
        print(f"| {name} | {t:.2f} s | {lnz} (± {v[0][2]:.2f}) | {dev:.2f} | {n:.0f} | {1e6 * t / n:.0f} µs |")
    speed = [d[0] / o[0] for o, d in zip(rows["diffid, 1 thread"], rows["dynesty"])]
    speed2 = [d[0] / o[0] for o, d in zip(rows["diffid, 2 threads"], rows["dynesty"])]
    threads = [a[0] / b[0] for a, b in zip(rows["diffid, 1 thread"], rows["diffid, 2 threads"])]
    print()
    print(f"dynesty time / diffid time, median of rounds: 1 thread {statistics.median(speed):.2f}x, 2 threads {statistics.median(speed2):.2f}x")
    print(f"diffid 1 thread / 2 threads, median of rounds: {statistics.median(threads):.2f}x")


if __name__ == "__main__":
    main()
