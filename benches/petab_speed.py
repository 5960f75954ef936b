"""Per-evaluation times of the five PEtab benchmark problems (../shared/data/petab), one
thread, at rtol 1e-8, atol 1e-12 (AMICI defaults to rtol 1e-8, atol 1e-16; our sensitivity solve of Fujita fails to start at atol 1e-16): the negative log-likelihood
(one simulation of every experiment) and its exact gradient (forward sensitivities), the median
of 7 repeats of a timed loop; plus the time to load the problem (PEtab tables, SBML to DiffSL,
JIT compilation) and the log-likelihood at the nominal parameters against AMICI's reference.

    python benches/petab_speed.py
"""
import pathlib
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import diffid.petab as dp  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "petab"
REFERENCE = {
    "Boehm_JProteomeRes2014": -138.22199693517703,
    "Bruno_JExpBot2016": 46.688176988431806,
    "Crauste_CellSystems2017": -190.96521897435176,
    "Fujita_SciSignal2010": 53.08377736998929,
    "Sneyd_PNAS2002": 319.79177818768756,
}


def per_call(f, x, budget=0.3):
    f(x)
    n, t = 1, 0.0
    while t < budget:
        start = time.perf_counter()
        for _ in range(n):
            f(x)
        t = time.perf_counter() - start
        n *= 2
    return t / (n // 2)


print("| problem | load (s) | llh at nominal | AMICI | value (ms) | gradient (ms) | parameters |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name in sys.argv[1:] or REFERENCE:
    t0 = time.perf_counter()
    p = dp.load(ROOT / name / f"{name}.yaml", rtol=1e-8, atol=1e-12)
    load = time.perf_counter() - t0
    x = p.nominal()
    value = statistics.median(per_call(p.evaluate, x) for _ in range(7))
    grad = statistics.median(per_call(p.evaluate_gradient, x) for _ in range(7))
    print(f"| {name} | {load:.2f} | {p.log_likelihood(x):.6f} | {REFERENCE[name]:.6f} | "
          f"{value * 1e3:.3f} | {grad * 1e3:.3f} | {len(x)} |")
