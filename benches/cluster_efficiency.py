"""Parallel efficiency of ``with_executor`` on a Dask cluster of 2 worker processes, against
the same runs in one process.

The work: Metropolis–Hastings with ``population`` chains on a 2-parameter problem whose
objective costs ``ms`` milliseconds of CPU per evaluation (``benches/cluster/busy.py``); each
iteration is one batch of ``population`` proposals, split into one chunk per worker. One
process: the same sampler without an executor (a Python objective runs on the calling thread).
Two workers: ``sampler.with_executor(client)`` on a ``LocalCluster(n_workers=2,
threads_per_worker=1)`` on 127.0.0.1; the problem is scattered to the workers once.

Parallel efficiency = t(one process) / (2 · t(two workers)); 1 is perfect. The runs are
bit-identical (checked). Interleaved rounds (one process, cluster, one process, cluster, …);
the table reports the median over rounds of each round's efficiency, with the per-iteration
overhead the cluster adds, ``t(two workers)/iterations − population·ms/2`` (the run's fixed
costs, such as evaluating the start locally, spread over its iterations, included).

    pip install dask distributed     # in scripts/setup-venv.sh already
    python benches/cluster_efficiency.py [--rounds 3] [--seconds 2]

About 3 minutes on 2 cores with the defaults. On a 2-core machine the client, the scheduler
and the two workers share the cores, so this is a lower bound on what a real cluster gives.
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "cluster"))

import diffid  # noqa: E402
from busy import busy  # noqa: E402


def problem(ms: float):
    return (
        diffid.ScalarBuilder()
        .with_objective(functools.partial(busy, ms=ms))
        .with_parameter("a", 0.1, bounds=(-5.0, 5.0))
        .with_parameter("b", -0.1, bounds=(-5.0, 5.0))
        .build()
    )


def timed(run):
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="target length of the one-process run")
    parser.add_argument("--ms", type=float, nargs="*", default=[1.0, 10.0, 100.0])
    parser.add_argument("--population", type=int, nargs="*", default=[8, 16, 32])
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    print(f"{'ms/eval':>8} {'population':>10} {'iterations':>10} {'t one (s)':>10} "
          f"{'t two (s)':>10} {'overhead/iter (ms)':>18} {'efficiency':>10}")
    rows = []
    for ms in args.ms:
        p = problem(ms)
        for pop in args.population:
            iterations = max(3, round(args.seconds / (pop * ms / 1000.0)))
            sampler = (diffid.MetropolisHastings().with_seed(1).with_num_chains(pop)
                       .with_iterations(iterations))
            # Warm-up: the workers receive and build the problem once.
            p.sample(sampler=sampler.with_iterations(2).with_warmup(1).with_executor(client))
            eff, t1s, t2s = [], [], []
            for _ in range(args.rounds):
                t1, a = timed(lambda: p.sample(sampler=sampler))
                t2, b = timed(lambda: p.sample(sampler=sampler.with_executor(client)))
                assert np.array_equal(a.chains, b.chains), "the cluster run differs"
                eff.append(t1 / (2 * t2))
                t1s.append(t1)
                t2s.append(t2)
            t1, t2 = statistics.median(t1s), statistics.median(t2s)
            overhead = (t2 / iterations - pop * ms / 2000.0) * 1000.0
            rows.append((ms, pop, iterations, t1, t2, overhead, statistics.median(eff)))
            print(f"{ms:>8g} {pop:>10} {iterations:>10} {t1:>10.2f} {t2:>10.2f} "
                  f"{overhead:>18.1f} {statistics.median(eff):>10.2f}", flush=True)
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
