"""scipy's evaluation counts on the problems of `optimiser_counts`, for the side-by-side table
in docs/guide.md: Nelder–Mead and L-BFGS-B (the same algorithms as ours), from the same
starting points, to the same target value where scipy has a way to stop there.

    python benches/compare_scipy.py

Needs numpy and scipy (both in the project's .venv).
"""

import numpy as np
from scipy.optimize import minimize


def sphere(x):
    return float(np.sum(x * x))


def sphere_g(x):
    return 2 * x


def ellipsoid(x):
    w = 10.0 ** (6 * np.arange(len(x)) / (len(x) - 1))
    return float(np.sum(w * x * x))


def ellipsoid_g(x):
    w = 10.0 ** (6 * np.arange(len(x)) / (len(x) - 1))
    return 2 * w * x


def rosenbrock(x):
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def rosenbrock_g(x):
    g = np.zeros_like(x)
    t = x[1:] - x[:-1] ** 2
    g[:-1] += -400 * x[:-1] * t - 2 * (1 - x[:-1])
    g[1:] += 200 * t
    return g


class Stop(Exception):
    pass


def counted(f, target):
    """f that counts its calls and raises Stop once the value reaches `target`."""
    calls = {"n": 0}

    def wrapped(x):
        calls["n"] += 1
        v = f(x)
        if v <= target:
            raise Stop
        return v

    return wrapped, calls


CASES = [
    ("sphere 10-D", sphere, sphere_g, np.ones(10)),
    ("ellipsoid 10-D", ellipsoid, ellipsoid_g, 1 + 0.1 * np.arange(10)),
    ("Rosenbrock 2-D", rosenbrock, rosenbrock_g, np.array([-1.2, 1.0])),
    ("Rosenbrock 10-D", rosenbrock, rosenbrock_g, np.zeros(10)),
]

print("| problem | scipy method | evaluations | reached 1e-8 |")
print("|---|---|---:|---|")
for name, f, g, x0 in CASES:
    for method in ("Nelder-Mead", "L-BFGS-B"):
        fc, calls = counted(f, 1e-8)
        reached = False
        try:
            kwargs = {"jac": g} if method == "L-BFGS-B" else {}
            options = {"maxiter": 200_000, "maxfev": 200_000} if method == "Nelder-Mead" else {}
            minimize(fc, x0.copy(), method=method, options=options, **kwargs)
        except Stop:
            reached = True
        print(f"| {name} | {method} | {calls['n']} | {'yes' if reached else 'no'} |")
