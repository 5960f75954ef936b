"""Multi-start optimisation: every run kept best first, the global minimum of a multimodal
fit found, the same result at any thread count, Ctrl-C-safe partial results, the waterfall
plot, and specific errors for what cannot be combined."""

import numpy as np
import pytest

import diffid

# y = sin(w t): the SSE in w has a local minimum wherever a frequency matches part of the data.
SINE = "in_i { w = 1.0 } u_i { y = 0.0, v = 1.0 } F_i { v * w, -w * y } out_i { y }"


def sine(threads=None, bounds=(0.1, 5.0), transform=None):
    t = np.linspace(0.0, 10.0, 101)
    b = (
        diffid.DiffsolBuilder()
        .with_diffsl(SINE)
        .with_data(np.column_stack([t, np.sin(2.0 * t)]))
        .with_parameter("w", 1.0, bounds=bounds, transform=transform)
    )
    if threads is not None:
        b = b.with_max_threads(threads)
    return b.build()


def test_every_run_is_kept_best_first_and_the_best_is_global():
    runs = sine().optimise(starts=16, seed=2)
    assert isinstance(runs, diffid.MultiStartResults)
    assert len(runs) == 16 and len(runs.results) == 16 and runs.failures == []
    assert np.all(np.diff(runs.values) >= 0)
    assert runs.x[0] == pytest.approx(2.0, abs=1e-4)
    assert runs.value == runs.values[0] == runs.best.value == runs[0].value
    assert 1 <= runs.converged(1e-6) < 16  # multimodal: some runs end elsewhere
    assert runs.converged(np.inf) == 16
    assert sorted(runs.indices) == list(range(16))
    assert runs.initial.shape == (16, 1)
    assert np.all((runs.initial > 0.1) & (runs.initial < 5.0))
    assert [r.value for r in runs] == list(runs.values)
    assert "16" in repr(runs) and runs.time.total_seconds() >= 0.0


def test_the_result_does_not_depend_on_the_thread_count():
    one = sine(threads=1).optimise(starts=10, seed=5)
    two = sine(threads=2).optimise(starts=10, seed=5)
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.initial, two.initial)
    assert one.indices == two.indices
    other = sine(threads=2).optimise(starts=10, seed=6)
    assert not np.array_equal(other.initial, one.initial)


def test_starts_are_log_uniform_under_a_log_transform():
    runs = sine(bounds=(1e-3, 1e3), transform="log").optimise(starts=200, seed=0,
                                                              optimiser=diffid.NelderMead().with_max_iter(1))
    logs = np.log10(runs.initial[:, 0])
    # Log-uniform on [-3, 3]: about half below 0 (uniform in natural units: almost none).
    assert 0.35 < np.mean(logs < 0.0) < 0.65


def test_a_run_with_every_evaluation_failing_is_kept_as_a_failure():
    # x' = k x blows up for large k before t = 50: starts there fail entirely.
    model = "in_i { k = 0.1 } u_i { x = 1.0 } F_i { k * x * x }"
    t = np.linspace(0.0, 2.0, 5)
    p = (
        diffid.DiffsolBuilder()
        .with_diffsl(model)
        .with_data(np.column_stack([t, 1.0 / (1.0 - 0.1 * t)]))
        .with_parameter("k", 0.1, bounds=(0.01, 5.0))
        .build()
    )
    runs = p.optimise(starts=8, seed=1, optimiser=diffid.NelderMead().with_max_iter(20))
    assert len(runs) == 8
    assert len(runs.results) + len(runs.failures) == 8
    assert np.all(np.isinf(runs.values[len(runs.results):]))
    assert runs.x[0] == pytest.approx(0.1, rel=1e-2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial": [1.0]}, "initial= cannot be combined"),
        ({"callback": lambda p: None}, "callback= cannot be combined"),
        ({"checkpoint": "x.ckpt"}, "checkpoint= cannot be combined"),
    ],
)
def test_what_cannot_be_combined_with_starts_is_a_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sine().optimise(starts=2, **kwargs)


def test_starts_need_bounds_and_at_least_one_start():
    with pytest.raises(diffid.DiffidError, match="'w' has no finite bounds"):
        sine(bounds=None).optimise(starts=3)
    with pytest.raises(diffid.DiffidError, match="at least 1"):
        sine().optimise(starts=0)


def test_the_waterfall_plot_marks_the_converged_runs(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from diffid import plotting

    runs = sine().optimise(starts=12, seed=3)
    fig, ax = plotting.waterfall(runs, tolerance=1e-6, reference=0.0)
    assert ax.get_title() == f"{runs.converged(1e-6)} of 12 runs converged"
    filled, hollow = ax.collections[:2]
    assert len(filled.get_offsets()) == runs.converged(1e-6)
    assert len(filled.get_offsets()) + len(hollow.get_offsets()) == 12
    fig.savefig(tmp_path / "waterfall.png")
    fig2, ax2 = plotting.waterfall([3.0, np.inf, 1.0, 1.05])
    assert ax2.get_title() == "2 of 4 runs converged, 1 failed"
