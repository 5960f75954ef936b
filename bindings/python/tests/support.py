"""Constants and helpers shared by the tests (the fixtures live in conftest.py)."""

from __future__ import annotations

import pathlib

import numpy as np

import diffid

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
SEED_CSV = REPO_ROOT / "data" / "lotka_volterra_seed.csv"

# The DiffSL model of the seed tutorial, verbatim (shared with the Rust tests and benches).
SEED_MODEL = (REPO_ROOT / "data" / "lotka_volterra_seed.ds").read_text()
SEED_DEFAULTS = {"alpha": 1.0, "beta": 0.5, "delta": 0.1, "gamma": 0.5}
SEED_INITIAL = {"alpha": 0.8, "beta": 0.3, "delta": 0.05, "gamma": 0.3}
SEED_TRUE = {"alpha": 1.1, "beta": 0.4, "delta": 0.1, "gamma": 0.4}

DECAY_MODEL = "in_i { k = 0.5, y0 = 2.0 } u_i { y = y0 } F_i { -k * y }"
DECAY_DEFAULTS = {"k": 0.5, "y0": 2.0}
DECAY_TRUE = {"k": 0.7, "y0": 3.0}
DECAY_TIMES = np.linspace(0.0, 5.0, 21)

# y' = c y^2, y(0) = 1  =>  y = 1 / (1 - c t), which blows up at t = 1/c.
BLOWUP_MODEL = "in_i { c = 1.0 } u_i { y = 1.0 } F_i { c * y * y }"
BLOWUP_TRUE_C = 0.5
BLOWUP_TIMES = np.linspace(0.0, 0.9, 10)


def decay_solution(k: float, y0: float, t: np.ndarray = DECAY_TIMES) -> np.ndarray:
    """The exact solution of the decay model."""
    return y0 * np.exp(-k * np.asarray(t))


_SEED_DATA_CACHE: np.ndarray | None = None


def load_seed_data() -> np.ndarray:
    """The seed data as a fresh ``(500, 3)`` float array (t, prey, predator)."""
    global _SEED_DATA_CACHE
    if _SEED_DATA_CACHE is None:
        _SEED_DATA_CACHE = np.loadtxt(SEED_CSV, delimiter=",", skiprows=1)
    return _SEED_DATA_CACHE.copy()


def seed_builder(model: str, data: np.ndarray) -> diffid.DiffsolBuilder:
    """The seed tutorial's builder chain up to (not including) with_parallel/with_optimiser."""
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(model)
        .with_data(data)
        .with_parameter("alpha", SEED_INITIAL["alpha"])
        .with_parameter("beta", SEED_INITIAL["beta"])
        .with_parameter("delta", SEED_INITIAL["delta"])
        .with_parameter("gamma", SEED_INITIAL["gamma"])
        .with_cost(diffid.SSE())
    )


def shifted_sphere(x) -> float:
    """A module-level objective (picklable, so process pools can run it)."""
    return float(np.sum((np.asarray(x) - 1.5) ** 2))


def decay_predictions(params) -> np.ndarray:
    """The decay model's exact solution at DECAY_TIMES (picklable, for process pools)."""
    return decay_solution(params[0], params[1])


def fails_above_two(x) -> float:
    """Raises for x[0] > 2 (picklable, to test errors raised inside a process pool)."""
    if x[0] > 2.0:
        raise RuntimeError(f"refusing x = {x[0]}")
    return float(np.sum(np.asarray(x) ** 2))


def interrupt_script(script: pathlib.Path, wait: float) -> list[str]:
    """Runs ``script`` in a subprocess, sends SIGINT ``wait`` seconds after it prints READY,
    and returns the fields of the ``RESULT`` line it prints after catching the
    ``KeyboardInterrupt``; fails the test when the run ends by itself, ignores SIGINT for 30 s,
    exits with an error, or catches the interrupt without a ``.result`` (``NO RESULT``)."""
    import signal
    import subprocess
    import sys
    import time

    import pytest

    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(wait)
        assert proc.poll() is None, "the run ended before it was interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the run did not stop within 30 s of SIGINT\nstdout:\n{out}\nstderr:\n{err}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    assert "CAUGHT KeyboardInterrupt" in out, out + err
    assert "NO RESULT" not in out, out
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    return line.split()
