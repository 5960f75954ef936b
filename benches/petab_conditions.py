"""A problem's experimental conditions shared over threads: one L-BFGS-B fit of a PEtab
problem (default Bruno_JExpBot2016, six conditions) from 1.3x its nominal parameters, on one
thread and on two, interleaved (7 pairs, median of the ratios); the results must be identical.

    python benches/petab_conditions.py [problem] [max iterations]
"""
import time, statistics, warnings, sys
warnings.filterwarnings("ignore")
import pathlib
import diffid, diffid.petab as dp
ROOT = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "petab"
n = sys.argv[1] if len(sys.argv) > 1 else "Bruno_JExpBot2016"
path = f"{ROOT}/{n}/{n}.yaml"
one, two = dp.load(path, parallel=False), dp.load(path, parallel=2)
x0 = list(one.to_natural(one.nominal()) * 1.3)
def run(p):
    t = time.perf_counter()
    r = p.problem.optimise(initial=x0, optimiser=diffid.LBFGSB().with_max_iter(int(sys.argv[2]) if len(sys.argv) > 2 else 60))
    return time.perf_counter() - t, r
ratios = []
for _ in range(7):
    a, ra = run(one); b, rb = run(two); ratios.append(a / b)
    assert ra.value == rb.value and ra.evaluations == rb.evaluations
print(n, f"1 thread / 2 threads, median of 7 interleaved pairs: {statistics.median(ratios):.2f}x ({ra.evaluations} evaluations, identical results)")
