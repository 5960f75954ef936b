"""Parallel gain on short fits, and the cost of with_parallel(True) for one-point batches.

- 30-generation CMA-ES seed fits (seed 1, σ 0.3) on 100 and 500 data rows, sequential against
  2 threads: interleaved pairs, the median of the per-pair ratios.
- A 300-iteration Nelder–Mead seed fit (one-point batches after the initial simplex) with
  ``with_parallel(True)`` against ``with_parallel(False)``.

    python benches/short_runs.py
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python" / "tests"))

import diffid  # noqa: E402
from support import SEED_MODEL, load_seed_data, seed_builder  # noqa: E402


def timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def paired(a, b, repeats):
    """Median times of `a` and `b` and the median of the ratios a/b over interleaved pairs."""
    a(), b()  # warm
    ta, tb, ratio = [], [], []
    for _ in range(repeats):
        x, y = timed(a), timed(b)
        ta.append(x)
        tb.append(y)
        ratio.append(x / y)
    return statistics.median(ta), statistics.median(tb), statistics.median(ratio)


def main() -> None:
    data = load_seed_data()
    cmaes = diffid.CMAES().with_seed(1).with_max_iter(30).with_step_size(0.3)
    for rows in (100, 500):
        sub = data[np.linspace(0, len(data) - 1, rows).astype(int)]
        b = diffid.DiffsolBuilder().with_diffsl(SEED_MODEL).with_data(sub)
        for name, v in (("alpha", 0.8), ("beta", 0.3), ("delta", 0.05), ("gamma", 0.3)):
            b = b.with_parameter(name, v)
        seq, par = b.with_parallel(False).build(), b.with_parallel(2).build()
        ts, tp, r = paired(lambda: seq.optimise(optimiser=cmaes), lambda: par.optimise(optimiser=cmaes), 15)
        print(f"30-generation CMA-ES, {rows} rows: sequential {ts * 1e3:.1f} ms, 2 threads "
              f"{tp * 1e3:.1f} ms, speedup {r:.2f}x")
    b = seed_builder(SEED_MODEL, data)
    nm = diffid.NelderMead().with_max_iter(300)
    par, seq = b.with_parallel(True).build(), b.with_parallel(False).build()
    tp, ts, r = paired(lambda: par.optimise(optimiser=nm), lambda: seq.optimise(optimiser=nm), 7)
    print(f"300-iteration Nelder-Mead: with_parallel(True) {tp * 1e3:.1f} ms, "
          f"with_parallel(False) {ts * 1e3:.1f} ms, ratio {r:.2f}")


if __name__ == "__main__":
    main()
