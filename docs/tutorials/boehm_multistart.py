"""A published model from the field's benchmark collection, loaded from PEtab and fitted
from 100 starts.

Boehm et al. (2014, J. Proteome Res.) measured how the transcription factors STAT5A and STAT5B
are phosphorylated, pair up and move into the nucleus after a pulse of the hormone Epo. Their
model — eight states, a stiff nuclear import (rate ~1e5) and a decaying input — is the first
problem of the Benchmark-Models-PEtab collection that the systems-biology community uses to
compare fitting tools (Hass et al. 2019). Its likelihood has many local optima, so the field fits
it from many random starts and reports how many runs reach the best value: *converged starts
per CPU-minute*.

The steps:

1. load the PEtab problem (SBML model, conditions, measurements, observables, parameters) from
   ``data/petab/Boehm_JProteomeRes2014``: ``diffid.petab.load`` translates the SBML model to
   DiffSL and builds the negative log-likelihood with PEtab's conventions — six rates on a
   log10 scale within [1e-5, 1e5] and three noise levels σ, estimated together;
2. check the log-likelihood at the collection's nominal parameters against AMICI's reference;
3. run L-BFGS-B (exact gradients from forward sensitivities) from 100 starts drawn
   log-uniformly within the bounds, in parallel: ``problem.optimise(starts=100, seed=0)``;
4. report the best value, the converged starts and converged starts per CPU-minute, and draw
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
import diffid.petab
import numpy as np
from diffid import plotting

ROOT = _pathlib.Path(__file__).resolve().parents[2] / "data" / "petab" / "Boehm_JProteomeRes2014"
STARTS = int(_os.environ.get("DIFFID_TUTORIAL_STARTS", "100"))

# ------------------------------------------------------------------------------------------
# 1. The PEtab problem
# ------------------------------------------------------------------------------------------
petab_problem = diffid.petab.load(ROOT / "Boehm_JProteomeRes2014.yaml")
print(petab_problem)
print("Estimated parameters:", ", ".join(petab_problem.parameters()))
print("Their scales:", ", ".join(petab_problem.scales()))
# The diffid problem underneath takes parameters in natural units.
problem = petab_problem.problem

# ------------------------------------------------------------------------------------------
# 2. The nominal parameters against AMICI's reference
# ------------------------------------------------------------------------------------------
reference = -138.22199693517703  # AMICI's log-likelihood at the nominal parameters
llh = petab_problem.log_likelihood(petab_problem.nominal())
print(f"Log-likelihood at the nominal parameters: {llh:.6f} (AMICI: {reference:.6f})")
print("Solver chosen for the model:", problem.solver_counts()["choice"])

# The measurements as a table for the plot: one row per time, one column per observable.
observables = ["pSTAT5A_rel", "pSTAT5B_rel", "rSTAT5A_rel"]
with open(ROOT / "measurementData_Boehm_JProteomeRes2014.tsv") as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
times = sorted({float(r["time"]) for r in rows})
data = np.full((len(times), 1 + len(observables)), np.nan)
data[:, 0] = times
for r in rows:
    data[times.index(float(r["time"])), 1 + observables.index(r["observableId"])] = float(r["measurement"])

# ------------------------------------------------------------------------------------------
# 3. 100 starts of L-BFGS-B, in parallel
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
print("Best parameters (PEtab scale):")
for name, value in zip(petab_problem.parameters(), petab_problem.to_scale(runs.x)):
    print(f"  {name:>22} = {value:.6g}")

# ------------------------------------------------------------------------------------------
# 4. The waterfall and the fit
# ------------------------------------------------------------------------------------------
fig, ax = plotting.waterfall(runs, reference=-reference)
_save(fig, "waterfall")

fine = np.linspace(times[0], times[-1], 481)
experiment = problem.conditions()[0]
curves = problem.simulate(runs.x, times=fine, condition=experiment)
fig, ax = _plt.subplots(figsize=(8, 4.5))
for k, name in enumerate(observables):
    ax.plot(data[:, 0], data[:, k + 1], "o", color=f"C{k}", markersize=4, label=f"{name} (data)")
    ax.plot(fine, curves[:, k], "-", color=f"C{k}", label=f"{name} (best fit)")
ax.set_xlabel("time (min)")
ax.set_ylabel("relative signal (%)")
ax.set_title(f"Boehm et al. 2014: best of {len(runs)} starts")
ax.legend(fontsize=8)
_save(fig, "fit")
