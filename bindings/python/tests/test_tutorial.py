"""The seed tutorial, as its runnable script, completes and produces its figures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_parallel_optimisation_tutorial_runs(repo_root, tmp_path):
    script = repo_root / "docs" / "tutorials" / "parallel_optimisation.py"
    assert script.is_file()
    env = dict(os.environ, DIFFID_TUTORIAL_OUT=str(tmp_path), MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(script.relative_to(repo_root))],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-5000:]}\nstderr:\n{proc.stderr[-5000:]}"
    assert "Final SSE" in proc.stdout
    assert "Traceback" not in proc.stderr
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 2, pngs
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert png.stat().st_size > 1000


def run_tutorial(repo_root, tmp_path, name, **env):
    """Runs docs/tutorials/<name> with its figures going to tmp_path; returns its stdout."""
    script = repo_root / "docs" / "tutorials" / name
    proc = subprocess.run(
        [sys.executable, str(script.relative_to(repo_root))],
        cwd=repo_root,
        env=dict(os.environ, DIFFID_TUTORIAL_OUT=str(tmp_path), MPLBACKEND="Agg", **env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-5000:]}\nstderr:\n{proc.stderr[-5000:]}"
    return proc.stdout


def test_pharmacokinetics_tutorial_recovers_the_patient(repo_root, tmp_path):
    stdout = run_tutorial(repo_root, tmp_path, "pharmacokinetics.py")
    fitted = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=" and "(generating value" in line:
            fitted[parts[0]] = (float(parts[2]), float(parts[-1].rstrip(")")))
    assert set(fitted) == {"ka", "ke", "v", "sigma"}, stdout
    for name in ("ka", "ke", "v"):
        value, true = fitted[name]
        assert abs(value - true) < 0.1 * true, (name, value, true)
    png = tmp_path / "pharmacokinetics_fit.png"
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_boehm_multistart_tutorial_reaches_the_reference(repo_root, tmp_path):
    stdout = run_tutorial(repo_root, tmp_path, "boehm_multistart.py", DIFFID_TUTORIAL_STARTS="20")
    lines = {line.split(":")[0]: line for line in stdout.splitlines() if ":" in line}
    nominal = float(lines["Log-likelihood at the nominal parameters"].split()[5])
    # AMICI's test tolerance: |Δ| <= 1e-3 + 1e-3 |ref|.
    assert abs(nominal - (-138.22199693517703)) <= 1e-3 + 1e-3 * 138.222
    best = float(lines["Best negative log-likelihood"].split()[3])
    assert best < 138.222 + 0.1
    assert "of 20" in lines["Converged starts (within 0.1 of the best)"]
    for name in ("waterfall", "fit"):
        assert (tmp_path / f"boehm_{name}.png").read_bytes()[:8] == PNG_MAGIC
