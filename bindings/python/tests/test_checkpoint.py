"""Checkpoint and resume from Python: a run killed with SIGKILL part-way and resumed from its
checkpoint ends exactly as the run that was never interrupted; another run's or a damaged
checkpoint raises CheckpointError."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import diffid
from support import REPO_ROOT, SEED_MODEL, load_seed_data, seed_builder

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = """
import sys, time
sys.path.insert(0, {here!r})
import diffid
from support import SEED_MODEL, load_seed_data, seed_builder

def seed_problem():
    return seed_builder(SEED_MODEL, load_seed_data()).with_parallel(False).build()

def posterior():
    b = (diffid.DiffsolBuilder().with_diffsl(SEED_MODEL).with_data(load_seed_data())
         .with_parameter("alpha", 1.1, bounds=(0.5, 2.0)).with_parameter("beta", 0.4, bounds=(0.1, 1.0))
         .with_parameter("delta", 0.1, bounds=(0.01, 0.5)).with_parameter("gamma", 0.4, bounds=(0.1, 1.0))
         .with_cost(diffid.GaussianNLL(variance=0.25)).with_parallel(False))
    return b.build()

RUNS = {{
    "cmaes": lambda p, **kw: seed_problem().optimise(
        optimiser=diffid.CMAES().with_seed(7).with_max_iter(150), **kw),
    "mh": lambda p, **kw: posterior().sample(
        sampler=diffid.MetropolisHastings().with_seed(3).with_num_chains(4).with_iterations(400), **kw),
}}
"""


def _child_script(kind: str, path: str) -> str:
    return SETUP.format(here=HERE) + textwrap.dedent(f"""
        def slow(progress):
            time.sleep(0.004)   # slows the run down, changes nothing in it
        print("READY", flush=True)
        RUNS[{kind!r}](None, callback=slow, checkpoint={path!r}, checkpoint_interval=0)
        print("FINISHED", flush=True)
    """)


def _runs():
    namespace: dict = {}
    exec(SETUP.format(here=HERE), namespace)
    return namespace["RUNS"]


@pytest.mark.parametrize("kind", ["cmaes", "mh"])
def test_a_run_killed_with_sigkill_resumes_to_the_uninterrupted_result(kind, tmp_path):
    path = str(tmp_path / f"{kind}.ckpt")
    child = subprocess.Popen(
        [sys.executable, "-c", _child_script(kind, path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )
    assert child.stdout.readline().strip() == "READY"
    deadline = time.monotonic() + 60
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err
    assert "FINISHED" not in out, "the run ended before it was killed; make it longer"

    runs = _runs()
    whole = runs[kind](None)
    seen = []
    resumed = runs[kind](None, callback=lambda p: seen.append(p.evaluations),
                         checkpoint=path, resume=True)
    assert seen and seen[0] > 0, "the resumed run started from the beginning"
    if kind == "cmaes":
        assert resumed.x.tolist() == whole.x.tolist()
        assert resumed.value == whole.value
        assert resumed.evaluations == whole.evaluations
        assert resumed.history.tolist() == whole.history.tolist()
    else:
        assert np.array_equal(resumed.chains, whole.chains)
        assert resumed.evaluations == whole.evaluations


def test_another_runs_or_a_damaged_checkpoint_raises_checkpoint_error(tmp_path, decay_builder):
    path = tmp_path / "run.ckpt"
    problem = decay_builder.with_parameter("k", 0.3).build()
    cmaes = diffid.CMAES().with_seed(1).with_max_iter(5)
    problem.optimise(optimiser=cmaes, checkpoint=path)
    assert path.exists()
    # The same problem and settings resume (to the same, finished, result).
    again = problem.optimise(optimiser=cmaes, checkpoint=path, resume=True)
    assert again.evaluations == problem.optimise(optimiser=cmaes).evaluations
    other = decay_builder.with_parameter("k", 0.3).with_tolerances(1e-8, 1e-10).build()
    with pytest.raises(diffid.CheckpointError, match="different run"):
        other.optimise(optimiser=cmaes, checkpoint=path, resume=True)
    with pytest.raises(diffid.CheckpointError, match="different run"):
        problem.optimise(optimiser=cmaes.with_seed(2), checkpoint=path, resume=True)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(diffid.CheckpointError, match="damaged"):
        problem.optimise(optimiser=cmaes, checkpoint=path, resume=True)
    path.write_text("not a checkpoint")
    with pytest.raises(diffid.CheckpointError, match="not a diffid checkpoint"):
        problem.optimise(optimiser=cmaes, checkpoint=path, resume=True)
    with pytest.raises(ValueError, match="checkpoint=path"):
        problem.optimise(optimiser=cmaes, resume=True)
    with pytest.raises(ValueError, match="checkpoint_interval"):
        problem.optimise(optimiser=cmaes, checkpoint=path, checkpoint_interval=-1.0)
    with pytest.raises(diffid.CheckpointError, match="cannot write"):
        problem.optimise(optimiser=cmaes, checkpoint=tmp_path / "missing" / "x.ckpt")


def test_nested_sampling_resumes_too(tmp_path, decay_builder):
    problem = (
        decay_builder.with_parameter("k", 0.5, bounds=(0.05, 3.0))
        .with_parameter("y0", 2.0, bounds=(0.5, 5.0))
        .with_cost(diffid.GaussianNLL(variance=0.01))
        .build()
    )
    sampler = diffid.DynamicNestedSampler().with_seed(4).with_live_points(50).with_max_batches(1)
    whole = problem.sample(sampler=sampler)
    path = tmp_path / "nested.ckpt"
    problem.sample(sampler=sampler, callback=lambda p: p.iteration >= 30, checkpoint=path,
                   checkpoint_interval=0)
    resumed = sampler.run(problem, checkpoint=path, resume=True)
    assert resumed.log_evidence == whole.log_evidence
    assert np.array_equal(resumed.positions, whole.positions)
