"""An objective that costs a set number of milliseconds of CPU per evaluation (for
``benches/cluster_efficiency.py``; a module of its own so that worker processes import it)."""

from __future__ import annotations

import time

import numpy as np

#: Milliseconds of busy work per evaluation, set by the benchmark (and sent with the problem:
#: the objective is a ``functools.partial`` of ``busy`` with it).


def busy(x, ms: float) -> float:
    """``sum(x**2)`` after ``ms`` milliseconds of busy work (not sleeping: a real CPU cost)."""
    end = time.perf_counter() + ms / 1000.0
    while time.perf_counter() < end:
        pass
    return float(np.sum(np.asarray(x) ** 2))
