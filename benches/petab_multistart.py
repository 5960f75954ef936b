"""Multi-start L-BFGS-B on the PEtab benchmark problems (../shared/data/petab): the best
negative log-likelihood of N starts (seed 0) against the value at the collection's nominal
(published) parameters, how many runs converged within 0.1 of the best, and converged starts
per CPU-minute (wall time × threads), the field's figure of merit.

    python benches/petab_multistart.py [starts] [problem ...]
"""
import multiprocessing
import pathlib
import sys
import warnings

warnings.filterwarnings("ignore")
import diffid  # noqa: E402
import diffid.petab as dp  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "petab"
PROBLEMS = ["Boehm_JProteomeRes2014", "Bruno_JExpBot2016", "Crauste_CellSystems2017",
            "Fujita_SciSignal2010", "Sneyd_PNAS2002"]

starts = int(sys.argv[1]) if len(sys.argv) > 1 else 100
names = sys.argv[2:] or PROBLEMS
threads = multiprocessing.cpu_count()
print(f"{starts} starts, seed 0, L-BFGS-B, {threads} threads")
print("| problem | best | at nominal | converged (0.1) | failed runs | wall (s) | converged per CPU-minute |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name in names:
    p = dp.load(ROOT / name / f"{name}.yaml")
    nominal = p.evaluate(p.nominal())
    runs = p.problem.optimise(starts=starts, seed=0, optimiser=diffid.LBFGSB())
    wall = runs.time.total_seconds()
    conv = runs.converged(0.1)
    print(f"| {name} | {runs.value:.4f} | {nominal:.4f} | {conv}/{len(runs)} | {len(runs.failures)} | "
          f"{wall:.1f} | {conv / (wall * threads / 60.0):.1f} |", flush=True)
