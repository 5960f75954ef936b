"""Prints pycma's CMA-ES constants for the (n, λ) pairs pinned in
``crates/diffid-optim/src/state.rs`` (test ``every_constant_equals_pycmas``).

    pip install cma==4.5.0     # needed by this script only
    python benches/pycma_constants.py
"""

import numpy as np

import cma

PAIRS = [(2, None), (5, None), (10, None), (40, None), (5, 3), (10, 50), (3, 2)]

for n, lam in PAIRS:
    opts = {"verbose": -9}
    if lam:
        opts["popsize"] = lam
    es = cma.CMAEvolutionStrategy(np.zeros(n), 0.5, opts)
    w = es.sp.weights
    values = [w.mueff, es.sp.cc, es.sp.c1, es.sp.cmu, es.adapt_sigma.cs, es.adapt_sigma.damps,
              sum(w[w.mu:])]
    print(f"({n}, {es.sp.popsize}, [{', '.join(repr(float(v)) for v in values)}]),")
