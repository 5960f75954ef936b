"""solver="auto" against the named solver, per evaluation: the stiff Robertson kinetics model
and the Boehm_JProteomeRes2014 model of the PEtab benchmark collection (translated by hand to
DiffSL in data/petab/Boehm_JProteomeRes2014/, with its measurements) against "bdf", the
seed model against "tsit45" (9 interleaved pairs of 30 evaluations, sequential; the median of
the per-pair ratios), and whether "tsit45" alone solves each.

    python benches/auto_solver.py
"""
import sys, time, statistics
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "bindings" / "python" / "tests"))
import numpy as np, diffid
from support import SEED_MODEL, load_seed_data, seed_builder
ROB = """
in_i { k1 = 0.04, k2 = 30000000.0, k3 = 10000.0 }
u_i { x = 1.0, y = 0.0, z = 0.0 }
F_i { -k1 * x + k3 * y * z, k1 * x - k3 * y * z - k2 * y * y, k2 * y * y }
"""
t = np.geomspace(1e-4, 1e5, 40); t = np.concatenate([[0.0], t])
# data from a BDF solve at the true parameters
truth = diffid.DiffsolBuilder().with_diffsl(ROB).with_data(np.column_stack([t, np.zeros((len(t), 3))])).with_parameter("k1", 0.04).with_solver("bdf").with_tolerances(1e-8, 1e-12).build()
data = np.column_stack([t, truth.simulate([0.04])])
def boehm_data():
    import csv
    root = pathlib.Path(__file__).resolve().parents[1] / "data" / "petab" / "Boehm_JProteomeRes2014"
    rows = list(csv.DictReader(open(root / "measurementData_Boehm_JProteomeRes2014.tsv"), delimiter="\t"))
    obs = ["pSTAT5A_rel", "pSTAT5B_rel", "rSTAT5A_rel"]
    times = sorted({float(r["time"]) for r in rows})
    d = np.full((len(times), 4), np.nan); d[:, 0] = times
    for r in rows:
        d[times.index(float(r["time"])), 1 + obs.index(r["observableId"])] = float(r["measurement"])
    return d
BOEHM = (pathlib.Path(__file__).resolve().parents[1] / "data" / "petab" / "Boehm_JProteomeRes2014" / "model.ds").read_text()
def problem(model, d, solver, params):
    b = diffid.DiffsolBuilder().with_diffsl(model).with_data(d).with_parallel(False)
    for n, v in params: b = b.with_parameter(n, v)
    if solver: b = b.with_solver(solver)
    return b.build()
def bench(p, x, reps=30):
    p.evaluate(x)
    t0 = time.perf_counter()
    for _ in range(reps): p.evaluate(x)
    return (time.perf_counter() - t0) / reps
cases = [("robertson", ROB, data, [("k1", 0.05), ("k3", 9000.0)], "bdf", [0.05, 9000.0]),
         ("boehm", BOEHM, boehm_data(), [("epodeg", 0.02698), ("kphos", 15766.5), ("kimphomo", 97749.4)], "bdf", [0.02698, 15766.5, 97749.4]),
         ("seed", SEED_MODEL, load_seed_data(), [("alpha", 0.8), ("beta", 0.3), ("delta", 0.05), ("gamma", 0.3)], "tsit45", [1.0, 0.4, 0.1, 0.4])]
for name, model, d, params, named, x in cases:
    auto = problem(model, d, None, params); ref = problem(model, d, named, params)
    print(name, "auto config", auto.config()["solver"], "value", auto.evaluate(x), "named", ref.evaluate(x))
    ratios = []; ta = []; tr = []
    for _ in range(9):
        a = bench(auto, x); r = bench(ref, x); ratios.append(a / r); ta.append(a); tr.append(r)
    print(f"  auto {statistics.median(ta)*1e3:.3f} ms, {named} {statistics.median(tr)*1e3:.3f} ms, median ratio {statistics.median(ratios):.3f}")
    try:
        tsit = problem(model, d, "tsit45", params); t0 = time.perf_counter(); tsit.evaluate(x); print("  tsit45 named:", f"{(time.perf_counter()-t0)*1e3:.1f} ms")
    except Exception as e:
        print("  tsit45 named fails:", type(e).__name__, str(e)[:100])
