"""Stopping from Python: patience (iterations or seconds), a wall-clock limit, a callback that
stops the run, and the live progress line; each says which criterion fired."""

import datetime
import time

import numpy as np
import pytest

import diffid

ALL = [diffid.NelderMead, diffid.CMAES, diffid.Adam, diffid.LBFGSB]


def plateau_problem():
    # Constant everywhere, with a (false) constant gradient: nothing ever improves, but no
    # tolerance fires either.
    return (
        diffid.ScalarBuilder()
        .with_objective(lambda x: 1.0)
        .with_gradient(lambda x: [1.0, 1.0])
        .with_parameter("a", 0.3)
        .with_parameter("b", -0.2)
        .build()
    )


def slow_problem(delay=0.002):
    def f(x):
        time.sleep(delay)
        return float(np.sum(np.asarray(x) ** 2)) + 1.0

    return diffid.ScalarBuilder().with_objective(f).with_parameter("a", 2.0).with_parameter("b", -1.0).build()


@pytest.mark.parametrize("cls", [diffid.NelderMead, diffid.CMAES, diffid.Adam])
def test_iteration_patience_stops_a_run_that_does_not_improve(cls):
    opt = cls().with_patience(iterations=5).with_max_iter(10_000)
    if cls is diffid.NelderMead:
        opt = opt.with_function_tolerance(0.0).with_position_tolerance(0.0)
    if cls is diffid.CMAES:
        opt = opt.with_seed(1).with_function_tolerance(0.0).with_position_tolerance(0.0)
    if cls is diffid.Adam:
        opt = opt.with_gradient_tolerance(0.0)
    r = plateau_problem().optimise(optimiser=opt)
    assert r.termination_reason == "patience"
    assert not r.success
    assert r.iterations <= 6
    assert "patience" in r.message


def test_time_patience_and_time_limit():
    r = slow_problem().optimise(
        optimiser=diffid.CMAES().with_seed(2).with_patience(seconds=0.05).with_max_iter(100_000)
        .with_function_tolerance(0.0).with_position_tolerance(0.0).with_threshold(-np.inf)
    )
    assert r.termination_reason in ("patience",)
    start = time.perf_counter()
    r = slow_problem().optimise(
        optimiser=diffid.NelderMead().with_time_limit(0.2).with_max_iter(10**9)
        .with_function_tolerance(0.0).with_position_tolerance(0.0).with_threshold(-np.inf)
    )
    elapsed = time.perf_counter() - start
    assert r.termination_reason == "time_limit"
    assert not r.success
    assert r.time.total_seconds() >= 0.2
    assert elapsed < 5.0


@pytest.mark.parametrize("cls", ALL)
def test_patience_and_time_limit_settings_are_checked_when_given(cls):
    with pytest.raises(TypeError, match="iterations"):
        cls().with_patience(iterations=2.5)
    with pytest.raises(TypeError):
        cls().with_patience(True)
    with pytest.raises(TypeError, match="timedelta"):
        cls().with_patience("5")
    with pytest.raises(ValueError):
        cls().with_patience(iterations=0)
    with pytest.raises(ValueError):
        cls().with_patience(0)
    with pytest.raises(ValueError):
        cls().with_patience(seconds=-1.0)
    with pytest.raises(ValueError, match="not several"):
        cls().with_patience(iterations=3, seconds=1.0)
    with pytest.raises(ValueError, match="not several"):
        cls().with_patience(3, seconds=1.0)
    with pytest.raises(ValueError):
        cls().with_time_limit(0.0)
    with pytest.raises(ValueError):
        cls().with_time_limit(float("nan"))
    assert "patience=3 iterations" in repr(cls().with_patience(iterations=3))
    assert "time_limit=2 s" in repr(cls().with_time_limit(2.0))
    assert "time_limit=90 s" in repr(cls().with_time_limit(datetime.timedelta(minutes=1.5)))
    assert "patience=None" in repr(cls().with_patience(iterations=3).with_patience())


@pytest.mark.parametrize("cls", ALL)
def test_patience_as_a_number_or_timedelta_is_seconds_as_in_the_earlier_release(cls):
    assert "patience=3 s" in repr(cls().with_patience(3))
    assert "patience=2.5 s" in repr(cls().with_patience(2.5))
    assert "patience=2.5 s" in repr(cls().with_patience(seconds=2.5))
    assert "patience=90 s" in repr(cls().with_patience(datetime.timedelta(seconds=90)))


def test_a_callback_sees_progress_and_can_stop_the_run(seed_base):
    seen = []

    def callback(p):
        seen.append((p.iteration, p.evaluations, p.best_value, p.best_x.copy(), p.elapsed))
        return p.iteration >= 7

    problem = seed_base.with_parallel(True).build()
    r = problem.optimise(
        optimiser=diffid.CMAES().with_seed(4).with_step_size(0.3), callback=callback
    )
    assert r.termination_reason == "callback"
    assert not r.success
    assert r.iterations == 7
    assert [s[0] for s in seen] == list(range(1, 8))
    # Natural units: the best point is the parameters themselves, and its value matches.
    assert seen[-1][2] == pytest.approx(problem.evaluate(seen[-1][3]))
    assert all(a[1] < b[1] for a, b in zip(seen, seen[1:]))
    assert all(b[2] <= a[2] for a, b in zip(seen, seen[1:]))
    np.testing.assert_allclose(r.x, seen[-1][3])


def test_an_exception_in_the_callback_stops_the_run_and_keeps_the_best_result(decay_problem):
    def callback(p):
        if p.iteration == 3:
            raise LookupError("stop here")

    with pytest.raises(LookupError, match="stop here") as info:
        decay_problem.optimise(optimiser=diffid.NelderMead(), callback=callback)
    assert isinstance(info.value.result, diffid.OptimisationResults)
    assert info.value.result.iterations == 3


def test_optimiser_run_takes_a_problem_and_the_same_controls(decay_problem):
    a = diffid.NelderMead().run(decay_problem)
    b = decay_problem.optimise(optimiser=diffid.NelderMead())
    np.testing.assert_array_equal(a.x, b.x)
    c = diffid.LBFGSB().run(decay_problem, [0.5, 2.0], callback=lambda p: True)
    # The callback runs once per completed iteration (not per line-search trial).
    assert c.termination_reason == "callback" and c.iterations == 1


def test_the_progress_line_reports_iterations_evaluations_best_and_rate(decay_problem, capsys):
    decay_problem.optimise(optimiser=diffid.NelderMead(), progress=True)
    err = capsys.readouterr().err
    assert "diffid: iteration" in err
    assert "evaluations" in err and "best" in err and "eval/s" in err
    # Without progress=True nothing is printed.
    decay_problem.optimise(optimiser=diffid.NelderMead())
    assert capsys.readouterr().err == ""


def test_limits_are_not_success_and_convergence_is():
    p = slow_problem(0.0)
    limited = p.optimise(optimiser=diffid.NelderMead().with_max_iter(3))
    assert limited.termination_reason == "max_iterations" and not limited.success
    converged = p.optimise(optimiser=diffid.LBFGSB())
    assert converged.success and converged.termination_reason in (
        "gradient_tolerance",
        "function_tolerance",
    )


@pytest.mark.parametrize("cls", ALL)
def test_absurd_durations_are_value_errors_not_panics(cls):
    with pytest.raises(ValueError, match="seconds"):
        cls().with_time_limit(1e300)
    with pytest.raises(ValueError, match="seconds"):
        cls().with_patience(seconds=float("inf"))


LONG_BATCH_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
import diffid
from support import SEED_MODEL, SEED_INITIAL, load_seed_data

builder = diffid.DiffsolBuilder().with_diffsl(SEED_MODEL).with_data(load_seed_data())
for name, value in SEED_INITIAL.items():
    builder = builder.with_parameter(name, value, bounds=(0.01, 5.0))
problem = builder.with_parallel(False).build()
# One batch of about 20 s: the population sized from the time of one evaluation.
x = list(SEED_INITIAL.values())
start = time.perf_counter()
for _ in range(200):
    problem.evaluate(x)
per_eval = (time.perf_counter() - start) / 200
population = int(20.0 / per_eval)
optimiser = diffid.CMAES().with_population_size(population).with_max_iter(2).with_seed(0)
print("READY", flush=True)
ready = time.perf_counter()
try:
    problem.optimise(optimiser=optimiser)
except KeyboardInterrupt:
    print("CAUGHT", time.perf_counter() - ready, flush=True)
    sys.exit(0)
print("FINISHED", time.perf_counter() - ready, flush=True)
"""


def test_ctrl_c_stops_inside_a_long_batch(tmp_path):
    import signal
    import subprocess
    import sys

    from support import REPO_ROOT

    script = tmp_path / "long_batch.py"
    script.write_text(LONG_BATCH_SCRIPT.format(tests=str(REPO_ROOT / "bindings" / "python" / "tests")))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    fields = out.split()
    assert fields[0] == "CAUGHT", out + err
    # The batch would take about 20 s; the interrupt ends it within a few evaluations.
    assert float(fields[1]) < 5.0, out
