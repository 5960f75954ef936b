"""A published model from the field's benchmark collection, fitted from 100 starts.

Boehm et al. (2014, J. Proteome Res.) measured how the transcription factors STAT5A and STAT5B
are phosphorylated, pair up and move into the nucleus after a pulse of the hormone Epo. Their
model — eight states, a stiff nuclear import (rate ~1e5) and a decaying input — is the first
problem of the Benchmark-Models-PEtab collection that the systems-biology community uses to
compare fitting tools (Hass et al. 2019). Its likelihood has many local optima, so the field fits
it from many random starts and reports how many runs reach the best value: *converged starts
per CPU-minute*.

The steps:

1. load the measurements (three observables at 16 times) from ``data/petab/Boehm_JProteomeRes2014``;
2. build the problem on our DiffSL translation of the SBML model (``model.ds`` there): six
   rates searched on a log scale within the collection's bounds [1e-5, 1e5], and the three noise
   levels σ estimated with them (``GaussianNLL`` with one σ per observable);
3. check the log-likelihood at the collection's nominal parameters against AMICI's reference;
4. run L-BFGS-B (exact gradients from forward sensitivities) from 100 starts drawn
   log-uniformly within the bounds, in parallel: ``problem.optimise(starts=100, seed=0)``;
5. report the best value, the converged starts and converged starts per CPU-minute, and draw
   the waterfall plot and the fit.

The solver is not named: the automatic choice detects the stiffness and uses BDF.

Run it with ``python docs/tutorials/boehm_multistart.py`` (about 10 s on 2 cores; set
``DIFFID_TUTORIAL_STARTS`` for another number of starts). Figures are written to
``$DIFFID_TUTORIAL_OUT`` (default ``docs/output``).
"""

# [runner] save figures to files; show them only in an interactive session
import os as _os
import pathlib as _pathlib
import sys as _sys

import matplotlib as _mpl

if "DIFFID_TUTORIAL_OUT" in _os.environ or not _sys.stdout.isatty():
    _mpl.use("Agg")
import matplotlib.pyplot as _plt  # noqa: E402

_OUT = _pathlib.Path(_os.environ.get("DIFFID_TUTORIAL_OUT", "docs/output"))
_OUT.mkdir(parents=True, exist_ok=True)
_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}
_SHOW = ("DIFFID_TUTORIAL_OUT" not in _os.environ
         and _mpl.get_backend().lower() not in _NON_INTERACTIVE)


def _save(fig, name):
    path = _OUT / f"boehm_{name}.png"
    fig.savefig(path, dpi=100)
    print(f"[figure saved to {path}]")
    if _SHOW:
        _plt.show()
    else:
        _plt.close(fig)


# [runner] end

import csv
import multiprocessing

import diffid
import numpy as np
from diffid import plotting

ROOT = _pathlib.Path(__file__).resolve().parents[2] / "data" / "petab" / "Boehm_JProteomeRes2014"
STARTS = int(_os.environ.get("DIFFID_TUTORIAL_STARTS", "100"))

# ------------------------------------------------------------------------------------------
# 1. The measurements: one row per time, one column per observable
# ------------------------------------------------------------------------------------------
observables = ["pSTAT5A_rel", "pSTAT5B_rel", "rSTAT5A_rel"]
with open(ROOT / "measurementData_Boehm_JProteomeRes2014.tsv") as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
times = sorted({float(r["time"]) for r in rows})
data = np.full((len(times), 1 + len(observables)), np.nan)
data[:, 0] = times
for r in rows:
    data[times.index(float(r["time"])), 1 + observables.index(r["observableId"])] = float(r["measurement"])
print(f"{len(rows)} measurements: {len(observables)} observables at {len(times)} times "
      f"on [{times[0]:g}, {times[-1]:g}] min")

# ------------------------------------------------------------------------------------------
# 2. The problem: the collection's estimated parameters, bounds and nominal values
# ------------------------------------------------------------------------------------------
# PEtab ids -> our DiffSL names (DiffSL reads "_" as index notation, so names lose them).
names = {
    "Epo_degradation_BaF3": "epodeg", "k_exp_hetero": "kexphetero", "k_exp_homo": "kexphomo",
    "k_imp_hetero": "kimphetero", "k_imp_homo": "kimphomo", "k_phos": "kphos",
    "sd_pSTAT5A_rel": "sd1", "sd_pSTAT5B_rel": "sd2", "sd_rSTAT5A_rel": "sd3",
}
with open(ROOT / "parameters_Boehm_JProteomeRes2014.tsv") as f:
    table = [r for r in csv.DictReader(f, delimiter="\t") if r["estimate"] == "1"]
builder = diffid.DiffsolBuilder().with_diffsl((ROOT / "model.ds").read_text()).with_data(data)
nominal = []
for r in table:
    lower, upper, value = float(r["lowerBound"]), float(r["upperBound"]), float(r["nominalValue"])
    # log10 in the table: we search ln(x), the same scale up to a constant factor.
    builder = builder.with_parameter(names[r["parameterId"]], value, bounds=(lower, upper),
                                     transform="log")
    nominal.append(value)
problem = builder.with_cost(diffid.GaussianNLL(sigma=["sd1", "sd2", "sd3"])).build()
print("Estimated parameters:", ", ".join(problem.parameter_names()))

# ------------------------------------------------------------------------------------------
# 3. The nominal parameters against AMICI's reference
# ------------------------------------------------------------------------------------------
reference = -138.22199693517703  # AMICI's log-likelihood at the nominal parameters
llh = -problem.evaluate(nominal)
print(f"Log-likelihood at the nominal parameters: {llh:.6f} (AMICI: {reference:.6f})")
print("Solver chosen for the model:", problem.solver_counts()["choice"])

# ------------------------------------------------------------------------------------------
# 4. 100 starts of L-BFGS-B, in parallel
# ------------------------------------------------------------------------------------------
runs = problem.optimise(starts=STARTS, seed=0, optimiser=diffid.LBFGSB())
print(runs)
threads = problem.config()["parallel"]
threads = multiprocessing.cpu_count() if threads is True else int(threads or 1)
cpu_minutes = runs.time.total_seconds() * threads / 60.0
converged = runs.converged(0.1)
print(f"Best negative log-likelihood: {runs.value:.6f} (reference {-reference:.6f})")
print(f"Converged starts (within 0.1 of the best): {converged} of {len(runs)}, "
      f"{converged / cpu_minutes:.1f} per CPU-minute ({threads} threads, {runs.time.total_seconds():.1f} s)")
print("Best parameters:")
for name, value in zip(problem.parameter_names(), runs.x):
    print(f"  {name:>10} = {value:.6g}")

# ------------------------------------------------------------------------------------------
# 5. The waterfall and the fit
# ------------------------------------------------------------------------------------------
fig, ax = plotting.waterfall(runs, reference=-reference)
_save(fig, "waterfall")

fine = np.linspace(times[0], times[-1], 481)
curves = problem.simulate(runs.x, times=fine)
fig, ax = _plt.subplots(figsize=(8, 4.5))
for k, name in enumerate(observables):
    ax.plot(data[:, 0], data[:, k + 1], "o", color=f"C{k}", markersize=4, label=f"{name} (data)")
    ax.plot(fine, curves[:, k], "-", color=f"C{k}", label=f"{name} (best fit)")
ax.set_xlabel("time (min)")
ax.set_ylabel("relative signal (%)")
ax.set_title(f"Boehm et al. 2014: best of {len(runs)} starts")
ax.legend(fontsize=8)
_save(fig, "fit")
