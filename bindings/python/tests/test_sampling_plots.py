"""diffid.plotting for Bayesian sampling results: trace, corner and posterior_predictive."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.path import Path  # noqa: E402

import diffid  # noqa: E402
from diffid import plotting  # noqa: E402
from diffid._samples import Samples  # noqa: E402
from support import DECAY_TIMES, DECAY_TRUE, SEED_TRUE, decay_solution  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _samples(chains, names, *, warmup_chains=None, warmup=0, thin=1):
    chains = np.asarray(chains, dtype=float)
    n_chains, n_draws, _ = chains.shape
    return Samples(
        chains=chains,
        log_posterior=np.zeros((n_chains, n_draws)),
        log_likelihood=np.zeros((n_chains, n_draws)),
        parameter_names=names,
        acceptance_rate=np.full(n_chains, 0.3),
        warmup=warmup,
        warmup_chains=warmup_chains,
        thin=thin,
    )


def _marker_lines(ax):
    return [ln for ln in ax.get_lines() if ln.get_linestyle() in ("None", "none", "")]


def _solid_lines(ax):
    return [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]


def _stairs(ax):
    """(heights, edges) of the one step histogram drawn with ax.stairs."""
    (patch,) = ax.patches
    values, edges, _ = patch.get_data()
    return np.asarray(values), np.asarray(edges)


def _contour_segments(ax) -> list[list[np.ndarray]]:
    """The polygons of each contour level drawn on ax, levels in increasing order."""
    sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    if sets:
        (cs,) = sets
        return cs.allsegs
    # matplotlib < 3.8: one collection per level instead of a ContourSet artist.
    return [
        [poly for path in c.get_paths() for poly in path.to_polygons(closed_only=False)]
        for c in ax.collections
        if isinstance(c, (LineCollection, PathCollection))
    ]


def _inside(segments, points):
    """Which points lie inside any of the closed polygons ``segments``."""
    inside = np.zeros(len(points), dtype=bool)
    for seg in segments:
        if len(seg) >= 3:
            inside |= Path(seg).contains_points(points)
    return inside


def _band(ax, k=0):
    """(x, lower, upper) of the k-th fill_between band."""
    bands = [c for c in ax.collections if len(c.get_paths()) == 1]
    verts = bands[k].get_paths()[0].vertices
    xs = np.unique(verts[:, 0])
    lower = np.array([verts[verts[:, 0] == x, 1].min() for x in xs])
    upper = np.array([verts[verts[:, 0] == x, 1].max() for x in xs])
    return xs, lower, upper


# ---------------------------------------------------------------------------------------------
# trace


def test_trace_draws_every_chain_against_the_iteration_with_a_histogram_each():
    rng = np.random.default_rng(0)
    chains = rng.normal(loc=[1.0, -2.0], size=(3, 40, 2))
    samples = _samples(chains, ["k", "y0"], warmup=10, thin=2,
                       warmup_chains=rng.normal(size=(3, 10, 2)))
    fig, axes = plotting.trace(samples)
    assert axes.shape == (2, 2)
    for d, name in enumerate(["k", "y0"]):
        ax_trace, ax_hist = axes[d]
        lines = ax_trace.get_lines()
        assert len(lines) == 3  # one per chain, no warm-up by default
        for c, line in enumerate(lines):
            np.testing.assert_array_equal(line.get_ydata(), chains[c, :, d])
            # Iterations count from the start of the run: warm-up + thin * (i + 1).
            np.testing.assert_array_equal(line.get_xdata(), 10 + 2 * np.arange(1, 41))
        assert ax_trace.get_ylabel() == name and ax_hist.get_xlabel() == name
        # One step histogram per chain, in the chain's colour.
        assert len(ax_hist.patches) == 3
        for line, patch in zip(lines, ax_hist.patches):
            assert not patch.get_fill()
            assert to_rgb(patch.get_edgecolor()) == to_rgb(line.get_color())
    assert len({ln.get_color() for ln in axes[0, 0].get_lines()}) == 3
    assert axes[-1, 0].get_xlabel() == "iteration"
    texts = [t.get_text() for t in axes[0, 0].get_legend().get_texts()]
    assert texts == ["chain 0", "chain 1", "chain 2"]


def test_trace_histograms_separate_chains_that_have_not_mixed():
    rng = np.random.default_rng(1)
    chains = np.concatenate(
        [rng.normal(0.0, 1.0, size=(1, 300, 1)), rng.normal(20.0, 1.0, size=(1, 300, 1))]
    )
    _, axes = plotting.trace(_samples(chains, ["a"]))
    first, second = axes[0, 1].patches
    x0 = first.get_path().vertices[:, 0]
    x1 = second.get_path().vertices[:, 0]
    # Each chain's histogram covers only its own draws (shared bins, but empty bins are flat).
    heights0 = first.get_path().vertices[:, 1]
    heights1 = second.get_path().vertices[:, 1]
    assert x0[heights0 > 0].max() < 10.0 < x1[heights1 > 0].min()
    # Both are densities: unit area.
    for patch in (first, second):
        v = patch.get_path().vertices
        widths = np.diff(v[:, 0])
        assert np.sum(widths * v[:-1, 1]) == pytest.approx(1.0)


def test_trace_include_warmup_prepends_the_warmup_in_a_lighter_shade_and_marks_its_end():
    rng = np.random.default_rng(2)
    warm = rng.normal(5.0, 2.0, size=(2, 25, 1))
    chains = rng.normal(size=(2, 50, 1))
    samples = _samples(chains, ["theta"], warmup=25, warmup_chains=warm)
    _, axes = plotting.trace(samples, include_warmup=True)
    ax = axes[0, 0]
    lines = ax.get_lines()
    assert len(lines) == 2 * 2 + 1  # warm-up and kept draws per chain, and the boundary
    boundary = lines[-1]
    np.testing.assert_array_equal(boundary.get_xdata(), [25, 25])
    assert boundary.get_linestyle() == "--"
    for c in range(2):
        warm_line, kept_line = lines[2 * c], lines[2 * c + 1]
        np.testing.assert_array_equal(warm_line.get_xdata(), np.arange(1, 26))
        np.testing.assert_array_equal(warm_line.get_ydata(), warm[c, :, 0])
        np.testing.assert_array_equal(kept_line.get_xdata(), np.arange(26, 76))
        np.testing.assert_array_equal(kept_line.get_ydata(), chains[c, :, 0])
        assert warm_line.get_color() == kept_line.get_color()
        assert warm_line.get_alpha() < kept_line.get_alpha()
    # The histograms hold the kept draws only.
    hist = axes[0, 1].patches[0].get_path().vertices
    assert hist[:, 0].max() == pytest.approx(chains[:, :, 0].max())
    assert "end of warm-up" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_trace_include_warmup_without_warmup_draws():
    chains = np.arange(20.0).reshape(2, 10, 1)
    _, axes = plotting.trace(_samples(chains, ["a"]), include_warmup=True)
    assert len(axes[0, 0].get_lines()) == 2  # nothing to prepend and no boundary
    with pytest.raises(ValueError, match="warm-up"):
        plotting.trace(_samples(chains, ["a"], warmup=5), include_warmup=True)
    with pytest.raises(ValueError, match="warm-up"):
        plotting.trace(chains, include_warmup=True)


def test_trace_names_select_parameters_in_the_order_given():
    rng = np.random.default_rng(3)
    chains = rng.normal(size=(2, 30, 3))
    _, axes = plotting.trace(_samples(chains, ["a", "b", "c"]), ["c", "a"])
    assert axes.shape == (2, 2)
    assert [axes[r, 0].get_ylabel() for r in range(2)] == ["c", "a"]
    np.testing.assert_array_equal(axes[0, 0].get_lines()[1].get_ydata(), chains[1, :, 2])
    np.testing.assert_array_equal(axes[1, 0].get_lines()[0].get_ydata(), chains[0, :, 0])
    _, axes = plotting.trace(_samples(chains, ["a", "b", "c"]), "b")
    assert axes.shape == (1, 2) and axes[0, 0].get_ylabel() == "b"


def test_trace_rejects_unknown_repeated_and_too_many_names():
    samples = _samples(np.zeros((2, 10, 2)), ["k", "y0"])
    with pytest.raises(ValueError, match=r"no parameter named 'z'.*\['k', 'y0'\]"):
        plotting.trace(samples, ["k", "z"])
    with pytest.raises(ValueError, match="only 2 parameters"):
        plotting.trace(samples, ["k", "y0", "k"])
    with pytest.raises(ValueError, match="more than once"):
        plotting.trace(samples, ["k", "k"])
    with pytest.raises(ValueError, match="expected 2 parameter names"):
        plotting.trace(np.zeros((2, 10, 2)), ["a", "b", "c"])


def test_trace_of_an_array_into_given_axes():
    rng = np.random.default_rng(4)
    chains = rng.normal(size=(4, 20, 2))
    fig, given = plt.subplots(2, 2)
    out_fig, axes = plotting.trace(chains, axes=given)
    assert out_fig is fig and all(a is b for a, b in zip(axes.ravel(), given.ravel()))
    assert axes[0, 0].get_ylabel() == "x[0]" and axes[1, 0].get_ylabel() == "x[1]"
    assert len(given[1, 0].get_lines()) == 4 and len(given[1, 1].patches) == 4
    np.testing.assert_array_equal(given[1, 0].get_lines()[3].get_xdata(), np.arange(1, 21))
    with pytest.raises(ValueError, match="need 4 axes"):
        plotting.trace(chains, axes=plt.subplots(1, 3)[1])


def test_trace_of_many_walkers_has_no_legend():
    _, axes = plotting.trace(np.zeros((32, 5, 1)))
    assert len(axes[0, 0].get_lines()) == 32
    assert axes[0, 0].get_legend() is None


# ---------------------------------------------------------------------------------------------
# corner


def test_corner_is_lower_triangular_with_labels():
    rng = np.random.default_rng(5)
    samples = _samples(rng.normal(size=(2, 200, 3)), ["a", "b", "c"])
    fig, axes = plotting.corner(samples, bins=12)
    assert axes.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            assert axes[i, j].get_visible() == (j <= i)
            assert axes[i, j].figure is fig
    assert [axes[2, j].get_xlabel() for j in range(3)] == ["a", "b", "c"]
    assert [axes[i, 0].get_ylabel() for i in (1, 2)] == ["b", "c"]
    for i in range(3):
        heights, edges = _stairs(axes[i, i])
        assert heights.size == 12 and edges.size == 13
    for i, j in [(1, 0), (2, 0), (2, 1)]:
        assert len(_contour_segments(axes[i, j])) == 2  # the default levels, 0.5 and 0.9


def test_corner_diagonal_is_the_histogram_of_the_pooled_draws():
    rng = np.random.default_rng(6)
    chains = rng.normal(loc=[0.0, 10.0], scale=[1.0, 3.0], size=(3, 300, 2))
    _, axes = plotting.corner(_samples(chains, ["a", "b"]), bins=20)
    pooled = chains.reshape(-1, 2)
    for d in range(2):
        heights, edges = _stairs(axes[d, d])
        expected, expected_edges = np.histogram(pooled[:, d], bins=20, density=True)
        np.testing.assert_allclose(edges, expected_edges)
        np.testing.assert_allclose(heights, expected)


def test_corner_weights_concentrated_on_half_the_draws_give_that_half():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(0.0, 1.0, size=(500, 2)), rng.normal(4.0, 0.5, size=(500, 2))])
    weights = np.r_[np.full(500, 2.5), np.zeros(500)]
    _, weighted = plotting.corner(x, weights=weights, bins=15)
    _, half = plotting.corner(x[:500], bins=15)
    _, unweighted = plotting.corner(x, bins=15)
    for d in range(2):
        h_w, e_w = _stairs(weighted[d, d])
        h_h, e_h = _stairs(half[d, d])
        np.testing.assert_allclose(e_w, e_h)
        np.testing.assert_allclose(h_w, h_h)
        assert not np.allclose(h_w, _stairs(unweighted[d, d])[0])
    mesh_w = weighted[1, 0].collections[0].get_array()
    mesh_h = half[1, 0].collections[0].get_array()
    np.testing.assert_allclose(np.asarray(mesh_w), 2.5 * np.asarray(mesh_h))


def test_corner_contours_enclose_the_requested_mass_of_a_gaussian():
    rng = np.random.default_rng(8)
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    x = rng.multivariate_normal([1.0, -1.0], cov, size=60_000)
    _, axes = plotting.corner(x, levels=(0.5, 0.9), bins=40)
    contours = _contour_segments(axes[1, 0])
    assert len(contours) == 2
    # Levels are increasing heights, so the widest region (0.9) comes first.
    prec = np.linalg.inv(cov)
    for segments, mass in zip(contours, (0.9, 0.5)):
        inside = _inside(segments, x)
        assert inside.mean() == pytest.approx(mass, abs=0.02)
        # The region is the Gaussian's: an ellipse of Mahalanobis radius sqrt(-2 log(1 - p)).
        verts = np.concatenate(segments) - [1.0, -1.0]
        radius = np.sqrt(np.einsum("ni,ij,nj->n", verts, prec, verts))
        assert np.median(radius) == pytest.approx(np.sqrt(-2 * np.log(1 - mass)), rel=0.06)


def test_corner_contours_use_the_weights():
    # Uniform draws importance-weighted to a standard normal: the weighted contours are the
    # normal's circles, not the square the draws fill.
    rng = np.random.default_rng(9)
    x = rng.uniform(-5.0, 5.0, size=(200_000, 2))
    weights = np.exp(-0.5 * np.sum(x**2, axis=1))
    _, axes = plotting.corner(x, weights=weights, levels=(0.5, 0.9), bins=40)
    contours = _contour_segments(axes[1, 0])
    assert len(contours) == 2
    for segments, mass in zip(contours, (0.9, 0.5)):
        inside = _inside(segments, x)
        assert np.sum(weights[inside]) / np.sum(weights) == pytest.approx(mass, abs=0.02)
        radius = np.hypot(*np.concatenate(segments).T)
        assert np.median(radius) == pytest.approx(np.sqrt(-2 * np.log(1 - mass)), rel=0.06)


class _NestedLike:
    """What a nested-sampling result exposes: weighted positions, and equal-weight draws."""

    def __init__(self, positions, weights, names):
        self.positions = positions
        self.weights = weights
        self.parameter_names = names

    def samples(self):
        return self.positions[:10]  # deliberately different: positions/weights are preferred


class _EqualWeight:
    def __init__(self, draws, names):
        self._draws = draws
        self.parameter_names = names

    def samples(self):
        return self._draws


def test_corner_takes_weighted_positions_of_nested_sampling_results():
    rng = np.random.default_rng(10)
    positions = rng.normal(size=(400, 2))
    weights = rng.uniform(0.0, 1.0, size=400) * np.exp(-positions[:, 0])
    result = _NestedLike(positions, weights, ["m", "c"])
    _, axes = plotting.corner(result, bins=10)
    _, reference = plotting.corner(positions, weights=weights, bins=10)
    for d in range(2):
        np.testing.assert_allclose(_stairs(axes[d, d])[0], _stairs(reference[d, d])[0])
    assert axes[1, 0].get_xlabel() == "m" and axes[1, 0].get_ylabel() == "c"
    # Explicit weights override the result's own.
    _, equal = plotting.corner(result, weights=np.ones(400), bins=10)
    _, plain = plotting.corner(positions, bins=10)
    np.testing.assert_allclose(_stairs(equal[0, 0])[0], _stairs(plain[0, 0])[0])


def test_corner_takes_a_samples_method_and_selects_names():
    rng = np.random.default_rng(11)
    draws = rng.normal(loc=[0.0, 5.0, -5.0], size=(300, 3))
    _, axes = plotting.corner(_EqualWeight(draws, ["a", "b", "c"]), ["c", "a"], bins=8)
    assert axes.shape == (2, 2)
    assert axes[1, 0].get_xlabel() == "c" and axes[1, 0].get_ylabel() == "a"
    heights, edges = _stairs(axes[0, 0])
    expected, expected_edges = np.histogram(draws[:, 2], bins=8, density=True)
    np.testing.assert_allclose(heights, expected)
    np.testing.assert_allclose(edges, expected_edges)


def test_corner_draws_truths_as_lines():
    rng = np.random.default_rng(12)
    samples = _samples(rng.normal(size=(2, 100, 2)), ["k", "y0"])

    def verticals(ax):
        return sorted(ln.get_xdata()[0] for ln in ax.get_lines()
                      if ln.get_xdata()[0] == ln.get_xdata()[1])

    def horizontals(ax):
        return sorted(ln.get_ydata()[0] for ln in ax.get_lines()
                      if ln.get_ydata()[0] == ln.get_ydata()[1])

    _, axes = plotting.corner(samples, truths=[0.7, 3.0])
    assert verticals(axes[0, 0]) == [0.7] and verticals(axes[1, 1]) == [3.0]
    assert verticals(axes[1, 0]) == [0.7] and horizontals(axes[1, 0]) == [3.0]
    # A truth outside the draws is still in view.
    assert axes[1, 1].get_xlim()[1] > 3.0
    _, axes = plotting.corner(samples, truths={"y0": 0.25})
    assert verticals(axes[0, 0]) == [] and verticals(axes[1, 1]) == [0.25]
    _, axes = plotting.corner(samples, ["y0"], truths=[0.7, 3.0])  # one per parameter
    assert verticals(axes[0, 0]) == [3.0]
    _, axes = plotting.corner(samples, ["y0"], truths={"k": 0.7, "y0": 3.0})
    assert verticals(axes[0, 0]) == [3.0]
    _, axes = plotting.corner(samples, truths=[None, np.nan])
    assert verticals(axes[0, 0]) == verticals(axes[1, 1]) == []
    with pytest.raises(ValueError, match="truths"):
        plotting.corner(samples, truths=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="'z'"):
        plotting.corner(samples, truths={"z": 1.0})


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.ones(99), "one weight per draw"),
        (np.ones((100, 1)), "one weight per draw"),
        (np.r_[np.ones(99), -1.0], "non-negative"),
        (np.zeros(100), "all zero"),
        (np.r_[np.ones(99), np.nan], "finite"),
    ],
)
def test_corner_rejects_invalid_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        plotting.corner(np.zeros((100, 2)), weights=weights)


def test_corner_rejects_bad_names_levels_and_bins():
    samples = _samples(np.zeros((1, 20, 2)), ["k", "y0"])
    with pytest.raises(ValueError, match="no parameter named 'q'"):
        plotting.corner(samples, ["q"])
    with pytest.raises(ValueError, match="only 2 parameters"):
        plotting.corner(samples, ["k", "y0", "k"])
    with pytest.raises(ValueError, match="expected 2 parameter names"):
        plotting.corner(np.zeros((20, 2)), ["a"])
    with pytest.raises(ValueError, match="levels"):
        plotting.corner(samples, levels=(0.5, 1.0))
    with pytest.raises(ValueError, match="bins"):
        plotting.corner(samples, bins=0)


def test_corner_draws_into_a_given_figure_and_one_parameter():
    rng = np.random.default_rng(13)
    given = plt.figure()
    fig, axes = plotting.corner(rng.normal(size=(50, 2)), fig=given)
    assert fig is given and set(fig.axes) == set(axes.ravel())
    _, axes = plotting.corner(rng.normal(size=50))
    assert axes.shape == (1, 1) and axes[0, 0].get_xlabel() == "x[0]"


# ---------------------------------------------------------------------------------------------
# posterior_predictive


def _decay_samples(spread, n=100, seed=0):
    rng = np.random.default_rng(seed)
    draws = np.column_stack(
        (rng.normal(DECAY_TRUE["k"], spread * 0.1, n), rng.normal(DECAY_TRUE["y0"], spread, n))
    )
    return _samples(draws[None], ["k", "y0"])


def test_posterior_predictive_median_and_band_are_those_of_the_simulations(decay_problem):
    samples = _decay_samples(0.05)
    fig, ax = plotting.posterior_predictive(decay_problem, samples, level=0.8, data=False)
    # 100 draws <= n_draws: every draw is simulated once.
    sims = np.stack([decay_problem.simulate(x)[:, 0] for x in samples.samples])
    (median,) = _solid_lines(ax)
    np.testing.assert_array_equal(median.get_xdata(), DECAY_TIMES)
    np.testing.assert_allclose(median.get_ydata(), np.median(sims, axis=0))
    t, lower, upper = _band(ax)
    np.testing.assert_allclose(t, DECAY_TIMES)
    np.testing.assert_allclose(lower, np.quantile(sims, 0.1, axis=0))
    np.testing.assert_allclose(upper, np.quantile(sims, 0.9, axis=0))
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "output (80% band)" in texts and "output (median)" in texts


def test_posterior_predictive_band_contains_the_truth_and_widens_with_the_spread(decay_problem):
    truth = decay_solution(DECAY_TRUE["k"], DECAY_TRUE["y0"])
    widths = []
    for spread in (0.02, 0.2):
        _, ax = plotting.posterior_predictive(decay_problem, _decay_samples(spread), data=False)
        _, lower, upper = _band(ax)
        assert np.all(lower <= truth) and np.all(truth <= upper)
        widths.append(upper - lower)
    assert np.all(widths[1] > 2 * widths[0])


def test_posterior_predictive_draws_the_problems_data(decay_problem, decay_data):
    _, ax = plotting.posterior_predictive(decay_problem, _decay_samples(0.05), n_draws=20)
    (markers,) = _marker_lines(ax)
    np.testing.assert_array_equal(markers.get_xdata(), decay_data[:, 0])
    np.testing.assert_array_equal(markers.get_ydata(), decay_data[:, 1])
    assert markers.get_color() == _solid_lines(ax)[0].get_color()


class _Wrapped:
    """A problem without ``data()``, counting the points it simulates."""

    def __init__(self, problem):
        self._problem = problem
        self.simulated = []

    def times(self):
        return self._problem.times()

    def simulate(self, x):
        self.simulated.append(np.array(x))
        return self._problem.simulate(x)


def test_posterior_predictive_without_data_and_with_an_explicit_array(decay_problem, decay_data):
    wrapped = _Wrapped(decay_problem)
    _, ax = plotting.posterior_predictive(wrapped, _decay_samples(0.05), n_draws=5)
    assert _marker_lines(ax) == []
    _, ax = plotting.posterior_predictive(wrapped, _decay_samples(0.05), n_draws=5,
                                          data=decay_data[::2])
    (markers,) = _marker_lines(ax)
    np.testing.assert_array_equal(markers.get_ydata(), decay_data[::2, 1])


def test_posterior_predictive_picks_n_distinct_draws_by_seed(decay_problem):
    samples = _decay_samples(0.1, n=500)
    runs = []
    for seed in (1, 1, 2):
        wrapped = _Wrapped(decay_problem)
        _, ax = plotting.posterior_predictive(wrapped, samples, n_draws=25, seed=seed)
        assert len(wrapped.simulated) == 25
        picked = np.array(wrapped.simulated)
        assert len(np.unique(picked, axis=0)) == 25  # without replacement
        # Each picked point is one of the draws.
        assert all(np.any(np.all(samples.samples == p, axis=1)) for p in picked)
        runs.append(_solid_lines(ax)[0].get_ydata())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_posterior_predictive_skips_failed_simulations(blowup_builder):
    problem = blowup_builder.with_parameter("c", 0.5).build()
    with pytest.raises(diffid.EvaluationError):
        problem.simulate([2.0])  # blows up before the last data time
    draws = np.r_[np.full(20, 0.5), np.full(20, 2.0)][:, None]
    _, ax = plotting.posterior_predictive(problem, draws, data=False)
    (median,) = _solid_lines(ax)
    np.testing.assert_allclose(median.get_ydata(), problem.simulate([0.5])[:, 0])
    _, lower, upper = _band(ax)
    np.testing.assert_allclose(lower, upper)  # only the c = 0.5 draws survive
    with pytest.raises(ValueError, match="every one of the 20 simulations failed") as info:
        plotting.posterior_predictive(problem, np.full((20, 1), 2.0))
    assert isinstance(info.value.__cause__, diffid.EvaluationError)


def test_posterior_predictive_two_outputs_on_one_axes(seed_base, seed_data):
    problem = seed_base.build()
    rng = np.random.default_rng(14)
    truth = np.array([SEED_TRUE[n] for n in ("alpha", "beta", "delta", "gamma")])
    draws = truth * (1 + 0.01 * rng.standard_normal((15, 4)))
    fig, given = plt.subplots()
    out_fig, ax = plotting.posterior_predictive(
        problem, _samples(draws[None], ["alpha", "beta", "delta", "gamma"]),
        ax=given, names=["prey", "predator"],
    )
    assert out_fig is fig and ax is given
    sims = np.stack([problem.simulate(x) for x in draws])
    medians, markers = _solid_lines(ax), _marker_lines(ax)
    assert len(medians) == 2 and len(markers) == 2
    for k in range(2):
        np.testing.assert_allclose(medians[k].get_ydata(), np.median(sims[:, :, k], axis=0))
        np.testing.assert_array_equal(markers[k].get_ydata(), seed_data[:, k + 1])
        assert medians[k].get_color() == markers[k].get_color()
    assert medians[0].get_color() != medians[1].get_color()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "prey (90% band)" in texts and "predator (data)" in texts


def test_posterior_predictive_needs_a_model():
    problem = (
        diffid.ScalarBuilder()
        .with_objective(lambda x: float(x[0] ** 2))
        .with_parameter("x", 1.0)
        .build()
    )
    with pytest.raises(TypeError, match="model"):
        plotting.posterior_predictive(problem, np.zeros((10, 1)))


def test_posterior_predictive_rejects_bad_settings(decay_problem):
    samples = _decay_samples(0.05)
    with pytest.raises(ValueError, match="level"):
        plotting.posterior_predictive(decay_problem, samples, level=1.5)
    with pytest.raises(ValueError, match="n_draws"):
        plotting.posterior_predictive(decay_problem, samples, n_draws=0)


def test_sampling_plots_show_and_all(monkeypatch, decay_problem):
    calls = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: calls.append(1))
    samples = _decay_samples(0.05)
    plotting.trace(samples, show=True)
    plotting.corner(samples, show=True)
    plotting.posterior_predictive(decay_problem, samples, n_draws=3, show=True)
    assert len(calls) == 3
    assert {"trace", "corner", "posterior_predictive"} <= set(plotting.__all__)
