"""Runtime behaviour around the interpreter: Ctrl-C stops a run, the GIL is released."""

from __future__ import annotations

import sys
import textwrap
import threading

import pytest

import diffid
from support import SEED_CSV, SEED_MODEL, interrupt_script

INTERRUPT_SCRIPT = textwrap.dedent(
    """
    import math, sys, time
    import numpy as np
    import diffid

    MODEL = {model!r}
    data = np.loadtxt({csv!r}, delimiter=",", skiprows=1)
    problem = (
        diffid.DiffsolBuilder()
        .with_diffsl(MODEL)
        .with_data(data)
        .with_parameter("alpha", 0.8)
        .with_parameter("beta", 0.3)
        .with_parameter("delta", 0.05)
        .with_parameter("gamma", 0.3)
        .with_cost(diffid.SSE())
        .with_parallel({parallel!r})
        .build()
    )
    # A run that would not stop by itself for minutes: without restarts this run stalls on
    # an ill-conditioned covariance after about 1.5 s, so restart it (almost) forever.
    optimiser = (
        diffid.CMAES()
        .with_max_iter(100000)
        .with_threshold(-1)
        .with_function_tolerance(0)
        .with_position_tolerance(0)
        .with_restarts("ipop", max_restarts=1000000, increase=1.01)
        .with_seed(0)
    )
    print("READY", flush=True)
    try:
        result = problem.optimise(optimiser=optimiser)
    except KeyboardInterrupt as exc:
        r = getattr(exc, "result", None)
        print("CAUGHT KeyboardInterrupt", flush=True)
        if r is None:
            print("NO RESULT", flush=True)
        else:
            print("RESULT", type(r).__name__, repr(float(r.value)), r.iterations,
                  len(r.x), bool(all(math.isfinite(v) for v in r.x)), flush=True)
        sys.exit(0)
    print("FINISHED WITHOUT INTERRUPT", result.iterations, flush=True)
    sys.exit(3)
    """
)


@pytest.mark.parametrize("parallel", [False, True])
def test_ctrl_c_interrupts_a_run_with_best_result(tmp_path, parallel):
    script = tmp_path / "interrupt.py"
    script.write_text(
        INTERRUPT_SCRIPT.format(model=SEED_MODEL, csv=str(SEED_CSV), parallel=parallel)
    )
    _, type_name, value, iterations, n, finite = interrupt_script(script, 1.5)
    assert type_name == "OptimisationResults"
    assert float(value) < float("inf") and float(value) == float(value)
    assert int(iterations) > 0
    assert int(n) == 4
    assert finite == "True"


def test_gil_is_released_during_optimise(seed_base):
    """A Python thread keeps running while optimise() works in Rust.

    With a short switch interval, a native call that kept the GIL would let the other thread
    run only in the few slices around the call (hundreds of increments at most); with the GIL
    released it spins freely for the whole run (hundreds of thousands or more)."""
    problem = seed_base.with_parallel(False).build()
    optimiser = (
        diffid.CMAES()
        .with_max_iter(100)
        .with_threshold(-1)
        .with_function_tolerance(0)
        .with_position_tolerance(0)
        .with_seed(0)
    )
    counter = 0
    stop = threading.Event()
    started = threading.Event()

    def spin():
        nonlocal counter
        started.set()
        while not stop.is_set():
            counter += 1

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    thread = threading.Thread(target=spin, daemon=True)
    try:
        thread.start()
        started.wait()
        before = counter
        result = problem.optimise(optimiser=optimiser)
        during = counter - before
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
    assert result.iterations == 100
    assert during > 20_000, f"the other thread advanced only {during} times"


def test_concurrent_evaluate_from_threads(seed_base):
    """Problems can be evaluated from several Python threads at once, with equal results."""
    problem = seed_base.build()
    x = [1.0, 0.45, 0.09, 0.42]
    expected = problem.evaluate(x)
    results: list[float] = []
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(20):
                results.append(problem.evaluate(x))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [expected] * 80
