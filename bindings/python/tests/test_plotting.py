"""diffid.plotting: what each plot draws, failed evaluations, ``ax=``, and lazy matplotlib."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import diffid  # noqa: E402
from diffid import plotting  # noqa: E402
from support import SEED_TRUE  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _marker_lines(ax):
    return [ln for ln in ax.get_lines() if ln.get_linestyle() in ("None", "none", "")]


def _solid_lines(ax):
    return [ln for ln in ax.get_lines() if ln.get_linestyle() not in ("None", "none", "")]


# ---------------------------------------------------------------------------------------------
# import behaviour


def test_importing_plotting_does_not_import_matplotlib():
    code = (
        "import sys, diffid, diffid.plotting\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'\n"
        "from diffid import *\n"
        "assert plotting is diffid.plotting\n"
        "assert 'matplotlib' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_diffid_does_not_load_plotting_until_accessed():
    code = (
        "import sys, diffid\n"
        "assert 'diffid.plotting' not in sys.modules\n"
        "assert 'plotting' in dir(diffid)\n"
        "assert diffid.plotting.contour is not None\n"
        "assert 'matplotlib' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_gives_a_clear_import_error():
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "sys.modules['matplotlib.pyplot'] = None\n"
        "import diffid.plotting as p\n"
        "try:\n"
        "    p.convergence([3.0, 2.0, 1.0])\n"
        "except ImportError as e:\n"
        "    assert 'pip install matplotlib' in str(e), str(e)\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plotting_is_listed_in_all():
    assert "plotting" in diffid.__all__
    assert diffid.plotting is plotting


# ---------------------------------------------------------------------------------------------
# contour


def test_contour_of_a_problem_labels_axes_with_parameter_names(decay_problem):
    fig, ax = plotting.contour(decay_problem, (0.3, 1.2), (2.0, 4.0), resolution=12, levels=8)
    assert ax.figure is fig
    assert ax.get_xlabel() == "k"
    assert ax.get_ylabel() == "y0"
    assert len(ax.collections) >= 1
    cs = ax.collections[0]
    assert len(cs.levels) >= 2
    # The levels span the objective's values on the grid.
    X, Y, Z = plotting.evaluate_grid(decay_problem, (0.3, 1.2), (2.0, 4.0), resolution=12)
    assert cs.levels[0] <= np.nanmin(Z) and cs.levels[-1] >= np.nanmax(Z)


def test_evaluate_grid_matches_problem_evaluate(decay_problem):
    X, Y, Z = plotting.evaluate_grid(decay_problem, (0.3, 1.2), (2.0, 4.0), resolution=(5, 4))
    assert X.shape == Y.shape == Z.shape == (4, 5)
    np.testing.assert_allclose(X[0], np.linspace(0.3, 1.2, 5))
    np.testing.assert_allclose(Y[:, 0], np.linspace(2.0, 4.0, 4))
    for r, c in [(0, 0), (3, 4), (2, 1)]:
        assert Z[r, c] == pytest.approx(decay_problem.evaluate([X[r, c], Y[r, c]]))


def test_contour_dims_and_fixed_select_the_plane(seed_base):
    problem = seed_base.build()
    fixed = [SEED_TRUE[n] for n in ("alpha", "beta", "delta", "gamma")]
    X, Y, Z = plotting.evaluate_grid(
        problem, (0.9, 1.3), (0.3, 0.5), resolution=3, fixed=fixed, dims=(0, 3)
    )
    point = np.array(fixed)
    point[0], point[3] = X[1, 2], Y[1, 2]
    assert Z[1, 2] == pytest.approx(problem.evaluate(point))
    fig, ax = plotting.contour(
        problem, (0.9, 1.3), (0.3, 0.5), resolution=3, fixed=fixed, dims=(0, 3), levels=5
    )
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("alpha", "gamma")


def test_contour_masks_failed_evaluations_of_the_blowup_model(blowup_builder):
    problem = blowup_builder.with_parameter("c", 0.5).build()
    with pytest.raises(diffid.EvaluationError):
        problem.evaluate([2.0])  # the solution blows up before the last data time

    def objective(x):
        return problem.evaluate([x[0]]) + x[1] ** 2

    X, Y, Z = plotting.evaluate_grid(objective, (0.1, 2.0), (-1.0, 1.0), resolution=(20, 5))
    failed = np.isnan(Z)
    assert failed.any() and not failed.all()
    # Exactly the columns with c beyond the blow-up (1/c < 0.9) fail.
    assert np.all(failed[:, X[0] > 1.2])
    assert not np.any(failed[:, X[0] < 1.0])

    fig, ax = plotting.contour(objective, (0.1, 2.0), (-1.0, 1.0), resolution=(20, 5))
    assert len(ax.collections) >= 1
    assert ax.get_xlabel() == "x[0]" and ax.get_ylabel() == "x[1]"


def test_contour_masks_errors_from_python_callables_and_inf():
    def objective(x):
        if x[0] < 0:
            raise ValueError("negative")
        if x[1] > 0.5:
            return float("inf")
        return x[0] + x[1] ** 2

    X, Y, Z = plotting.evaluate_grid(objective, (-1, 1), (-1, 1), resolution=9)
    assert np.all(np.isnan(Z[:, X[0] < 0]))
    assert np.all(np.isnan(Z[Y[:, 0] > 0.5, :]))
    ok = (X >= 0) & (Y <= 0.5)
    np.testing.assert_allclose(Z[ok], X[ok] + Y[ok] ** 2)
    plotting.contour(objective, (-1, 1), (-1, 1), resolution=9)


def test_contour_raises_when_every_point_fails():
    def objective(x):
        raise ValueError("boom")

    with pytest.raises(RuntimeError, match="every evaluation") as info:
        plotting.evaluate_grid(objective, (0, 1), (0, 1), resolution=3)
    assert isinstance(info.value.__cause__, ValueError)


def test_contour_log_scale_and_points_overlay(decay_problem):
    result = decay_problem.optimise()
    path = np.array([[0.2, 1.0], [0.5, 2.0], list(result.x)])
    fig, ax = plotting.contour(
        decay_problem, (0.1, 1.5), (0.5, 4.0), resolution=15, log=True, points=path
    )
    cs = ax.collections[0]
    # log=True contours log10 of the objective: the levels span log10 of the grid values.
    _, _, Z = plotting.evaluate_grid(decay_problem, (0.1, 1.5), (0.5, 4.0), resolution=15)
    assert cs.levels[0] <= np.log10(np.nanmin(Z)) and cs.levels[-1] >= np.log10(np.nanmax(Z))
    assert cs.levels[-1] < np.nanmax(Z)  # not the raw values
    lines = ax.get_lines()
    assert any(
        np.array_equal(ln.get_xdata(), path[:, 0]) and np.array_equal(ln.get_ydata(), path[:, 1])
        for ln in lines
    )


def test_contour_accepts_full_parameter_vectors_as_points(seed_base):
    problem = seed_base.build()
    pts = np.array([[0.8, 0.3, 0.05, 0.3], [1.1, 0.4, 0.1, 0.4]])
    _, ax = plotting.contour(problem, (0.7, 1.2), (0.2, 0.5), resolution=4, points=pts)
    path = ax.get_lines()[0]
    np.testing.assert_array_equal(path.get_xdata(), pts[:, 0])
    np.testing.assert_array_equal(path.get_ydata(), pts[:, 1])


def test_contour_honours_ax(decay_problem):
    fig, given = plt.subplots()
    out_fig, out_ax = plotting.contour(decay_problem, (0.3, 1.2), (2, 4), resolution=8, ax=given)
    assert out_ax is given and out_fig is fig
    assert len(given.collections) >= 1


def test_contour_rejects_bad_dims(decay_problem):
    with pytest.raises(ValueError):
        plotting.contour(decay_problem, (0, 1), (0, 1), dims=(0, 0))
    with pytest.raises(ValueError):
        plotting.contour(decay_problem, (0, 1), (0, 1), dims=(0, 5))


# ---------------------------------------------------------------------------------------------
# convergence


def test_convergence_plots_the_history_of_a_result(decay_problem):
    result = decay_problem.optimise()
    fig, ax = plotting.convergence(result)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), result.history)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, len(result.history) + 1))
    assert ax.get_yscale() == "log"


def test_convergence_skips_inf_and_keeps_iteration_numbers():
    values = [np.inf, np.inf, 5.0, 3.0, 3.0, 0.5]
    _, ax = plotting.convergence(values, label="run")
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), [5.0, 3.0, 3.0, 0.5])
    np.testing.assert_array_equal(line.get_xdata(), [3, 4, 5, 6])
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["run"]


def test_convergence_uses_linear_scale_for_non_positive_values():
    _, ax = plotting.convergence([2.0, 0.0, -1.0])
    assert ax.get_yscale() == "linear"
    _, ax = plotting.convergence([2.0, 1.0], log=False)
    assert ax.get_yscale() == "linear"


def test_convergence_honours_ax():
    fig, given = plt.subplots()
    out_fig, out_ax = plotting.convergence([3.0, 2.0], ax=given)
    assert out_ax is given and out_fig is fig and len(given.get_lines()) == 1


# ---------------------------------------------------------------------------------------------
# ode_fit / compare_models


def test_ode_fit_draws_one_line_per_output_and_one_marker_series_per_column(
    seed_base, seed_data
):
    problem = seed_base.build()
    x = np.array([SEED_TRUE[n] for n in ("alpha", "beta", "delta", "gamma")])
    fig, ax = plotting.ode_fit(problem, x, seed_data, names=["prey", "predator"])
    sim = problem.simulate(x)
    lines, markers = _solid_lines(ax), _marker_lines(ax)
    assert len(lines) == 2 and len(markers) == 2
    for j in range(2):
        np.testing.assert_array_equal(lines[j].get_xdata(), problem.times())
        np.testing.assert_array_equal(lines[j].get_ydata(), sim[:, j])
        np.testing.assert_array_equal(markers[j].get_xdata(), seed_data[:, 0])
        np.testing.assert_array_equal(markers[j].get_ydata(), seed_data[:, j + 1])
        assert lines[j].get_color() == markers[j].get_color()
    assert lines[0].get_color() != lines[1].get_color()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("prey" in t for t in texts) and any("predator" in t for t in texts)


def test_ode_fit_accepts_a_result_and_honours_ax(decay_problem, decay_data):
    result = decay_problem.optimise()
    fig, given = plt.subplots()
    out_fig, out_ax = plotting.ode_fit(decay_problem, result, decay_data, ax=given)
    assert out_ax is given and out_fig is fig
    (line,) = _solid_lines(given)
    np.testing.assert_array_equal(line.get_ydata(), decay_problem.simulate(result.x)[:, 0])


def test_ode_fit_requires_matching_data(decay_problem, decay_data, seed_data):
    with pytest.raises(ValueError, match="data"):
        plotting.ode_fit(decay_problem, [0.7, 3.0])
    with pytest.raises(ValueError, match="outputs"):
        plotting.ode_fit(decay_problem, [0.7, 3.0], seed_data)
    with pytest.raises(ValueError):
        plotting.ode_fit(decay_problem, [0.7, 3.0], decay_data, names=["a", "b"])


def test_compare_models_overlays_each_parameter_vector(decay_problem, decay_data):
    xs = [[0.7, 3.0], [0.3, 2.0], [1.0, 1.0]]
    fig, ax = plotting.compare_models(decay_problem, xs, decay_data, labels=["true", "b", "c"])
    lines, markers = _solid_lines(ax), _marker_lines(ax)
    assert len(markers) == 1 and len(lines) == 3
    np.testing.assert_array_equal(markers[0].get_ydata(), decay_data[:, 1])
    for line, x in zip(lines, xs):
        np.testing.assert_array_equal(line.get_ydata(), decay_problem.simulate(x)[:, 0])
    assert len({ln.get_color() for ln in lines}) == 3
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"true", "b", "c"} <= set(texts)


def test_compare_models_two_outputs_and_ax(seed_base, seed_data):
    problem = seed_base.build()
    xs = [problem.initial_values(), [SEED_TRUE[n] for n in ("alpha", "beta", "delta", "gamma")]]
    fig, given = plt.subplots()
    _, out_ax = plotting.compare_models(problem, xs, seed_data, ax=given)
    assert out_ax is given
    assert len(_solid_lines(given)) == 4 and len(_marker_lines(given)) == 2


def test_compare_models_accepts_a_single_vector(decay_problem, decay_data):
    _, ax = plotting.compare_models(decay_problem, [0.7, 3.0], decay_data)
    assert len(_solid_lines(ax)) == 1


# ---------------------------------------------------------------------------------------------
# samples


def test_parameter_traces_three_dimensional_samples_draw_one_line_per_chain():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(3, 50, 2))
    fig, axes = plotting.parameter_traces(samples, ["k", "y0"])
    assert len(axes) == 2
    for d, ax in enumerate(axes):
        lines = ax.get_lines()
        assert len(lines) == 3
        for c, line in enumerate(lines):
            np.testing.assert_array_equal(line.get_ydata(), samples[c, :, d])
        assert ax.get_ylabel() == ["k", "y0"][d]


def test_parameter_traces_two_dimensional_samples_and_axes():
    samples = np.arange(40.0).reshape(20, 2)
    fig, given = plt.subplots(2, 1)
    out_fig, axes = plotting.parameter_traces(samples, axes=given)
    assert out_fig is fig and list(axes) == list(given)
    for d in range(2):
        (line,) = given[d].get_lines()
        np.testing.assert_array_equal(line.get_ydata(), samples[:, d])
    assert given[0].get_ylabel() == "x[0]"


def test_parameter_distributions_histograms_pool_chains():
    rng = np.random.default_rng(1)
    samples = rng.normal(loc=[0.0, 5.0], size=(2, 400, 2))
    fig, axes = plotting.parameter_distributions(samples, ["a", "b"], bins=10)
    assert len(axes) == 2
    for d, ax in enumerate(axes):
        assert len(ax.patches) == 10
        heights = np.array([p.get_height() for p in ax.patches])
        widths = np.array([p.get_width() for p in ax.patches])
        assert np.sum(heights * widths) == pytest.approx(1.0)  # density over all 800 draws
        lefts = [p.get_x() for p in ax.patches]
        assert min(lefts) == pytest.approx(samples[:, :, d].min())
        assert ax.get_xlabel() == ["a", "b"][d]


def test_parameter_distributions_honour_axes():
    fig, given = plt.subplots(1, 3)
    out_fig, axes = plotting.parameter_distributions(np.ones((10, 3)) * [1, 2, 3], axes=given)
    assert out_fig is fig and all(a is b for a, b in zip(axes, given))
    assert all(len(ax.patches) > 0 for ax in given)


def test_samples_shape_and_names_are_checked():
    with pytest.raises(ValueError):
        plotting.parameter_traces(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError):
        plotting.parameter_traces(np.zeros((10, 2)), ["only one"])
    with pytest.raises(ValueError):
        plotting.parameter_distributions(np.zeros((10, 3)), axes=plt.subplots(1, 2)[1])


def test_show_calls_pyplot_show(monkeypatch):
    calls = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: calls.append(1))
    plotting.convergence([2.0, 1.0], show=True)
    plotting.parameter_traces(np.zeros((5, 1)), show=True)
    assert len(calls) == 2
