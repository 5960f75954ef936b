"""Where the time of evaluations drawn from a wide prior goes: the seed posterior of
``nested_vs_dynesty.py`` evaluated at points drawn uniformly from its prior (what a nested
sampler's first live points are), on one thread. Prints the total, the median, the slowest
evaluations and how the solves split between the methods of ``solver="auto"``.

Run from the repository root::

    python benches/evaluation_tail.py [points]
"""

from __future__ import annotations

import sys
import time

import numpy as np

import diffid
from nested_vs_dynesty import BOUNDS, problem


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    p = problem(1)
    lo = np.array([b[0] for b in BOUNDS])
    width = np.array([b[1] - b[0] for b in BOUNDS])
    rng = np.random.default_rng(0)
    times = []
    for _ in range(n):
        x = lo + width * rng.random(len(BOUNDS))
        start = time.perf_counter()
        try:
            p.evaluate(x)
        except diffid.EvaluationError:
            pass
        times.append(time.perf_counter() - start)
    t = np.sort(np.array(times))[::-1]
    print(f"{n} points: {t.sum():.3f} s in all, median {1e3 * np.median(t):.3f} ms")
    print("slowest: " + ", ".join(f"{1e3 * v:.2f} ms" for v in t[:5]))
    print(f"the slowest 1 % take {t[: max(1, n // 100)].sum() / t.sum():.0%} of the time")
    print(f"solves by method: {p.solver_counts()}")


if __name__ == "__main__":
    main()
