"""Plots for diffid problems, optimisation results and samples.

matplotlib is optional (``pip install matplotlib``, or ``pip install "diffid[plot]"``) and is
imported only when a plotting function is called: ``import diffid.plotting`` alone does not
import it.

Every function takes ``ax=`` (or ``axes=``) to draw into existing matplotlib axes — a new
figure is created when it is ``None`` — and ``show=`` to call ``plt.show()`` at the end, and
returns the matplotlib objects it drew on: ``(fig, ax)``, or ``(fig, axes)`` for the
functions with one subplot per parameter. (:func:`corner` takes ``fig=`` instead, as it lays
out a whole grid of subplots.)

* :func:`contour` — an objective over a grid of two parameters (failed evaluations are left
  blank), optionally with an optimisation path on top;
* :func:`convergence` — the best value after each iteration (``result.history``);
* :func:`waterfall` — the final values of a multi-start optimisation, sorted, with the
  converged runs marked;
* :func:`ode_fit` — the data against ``problem.simulate(x)``;
* :func:`compare_models` — several parameter vectors against the same data;
* :func:`parameter_traces` / :func:`parameter_distributions` — samples, one subplot per
  parameter, one trace per chain;
* :func:`trace` — a ``diffid.Samples``: per parameter, every chain's draws against the
  iteration (optionally with the warm-up) beside each chain's histogram;
* :func:`corner` — the one- and two-parameter marginals of (weighted) posterior draws, with
  credible-region contours and optional true values;
* :func:`posterior_predictive` — the median and credible band of the model's outputs over
  posterior draws, against the data;
* :func:`run_plot` — a nested-sampling run (``diffid.NestedSamples``): the log-likelihood and
  the evidence accumulated against the prior volume ``ln X``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "compare_models",
    "contour",
    "convergence",
    "corner",
    "evaluate_grid",
    "ode_fit",
    "parameter_distributions",
    "parameter_traces",
    "posterior_predictive",
    "run_plot",
    "trace",
    "waterfall",
]

_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")


# --------------------------------------------------------------------------------------------
# helpers


def _pyplot():
    """matplotlib.pyplot, imported on first use, with a helpful message when it is missing."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(
            "diffid.plotting needs matplotlib, which is not installed: "
            "run `pip install matplotlib` (or `pip install \"diffid[plot]\"`)"
        ) from exc
    return plt


def _figure_and_axes(plt, ax):
    if ax is None:
        fig, ax = plt.subplots(layout="constrained")
    else:
        fig = ax.figure
    return fig, ax


def _finish(plt, show: bool) -> None:
    if show:
        plt.show()


def _vector(x) -> np.ndarray:
    """A parameter vector: an array-like, or anything with ``.x`` (e.g. OptimisationResults)."""
    if hasattr(x, "x") and not isinstance(x, np.ndarray):
        x = x.x
    return np.asarray(x, dtype=float).ravel()


def _parameter_names(obj, n: int) -> list[str] | None:
    """``obj.parameter_names()`` (a Problem) or ``obj.parameter_names`` (Samples), if it has n
    of them."""
    names = getattr(obj, "parameter_names", None)
    if callable(names):
        try:
            names = names()
        except Exception:
            names = None
    if names is not None and len(names) >= n:
        return [str(s) for s in names]
    return None


def _evaluator(objective) -> Callable[[np.ndarray], Any]:
    evaluate = getattr(objective, "evaluate", None)
    if callable(evaluate):
        return evaluate
    if callable(objective):
        return objective
    raise TypeError(
        "objective must be a diffid.Problem or a callable f(x) -> float, "
        f"not {type(objective).__name__}"
    )


def _simulate(problem, x) -> np.ndarray:
    y = np.asarray(problem.simulate(_vector(x)), dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    return y


def _model_times(problem, data: np.ndarray | None, n_rows: int) -> np.ndarray:
    times = problem.times() if callable(getattr(problem, "times", None)) else None
    if times is not None:
        times = np.asarray(times, dtype=float)
        if times.shape == (n_rows,):
            return times
    if data is not None and data.shape[0] == n_rows:
        return data[:, 0]
    return np.arange(n_rows, dtype=float)


def _data_array(data, what: str) -> np.ndarray:
    if data is None:
        raise ValueError(
            f"{what} needs `data`: the 2-D array given to with_data (column 0 = time, then one "
            "column per output); a Problem does not expose its observations"
        )
    data = np.asarray(data, dtype=float)
    if data.ndim != 2 or data.shape[1] < 2:
        raise ValueError(
            "data must be a 2-D array with column 0 = time and at least one output column, "
            f"got shape {data.shape}"
        )
    return data


def _output_names(names, n: int) -> list[str]:
    if names is None:
        return ["output"] if n == 1 else [f"output {j}" for j in range(n)]
    names = [str(s) for s in names]
    if len(names) != n:
        raise ValueError(f"expected {n} output names, got {len(names)}")
    return names


def _samples_array(samples) -> np.ndarray:
    """Samples as a 3-D array (chains, draws, dim)."""
    arr = np.asarray(samples, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :, None]
    elif arr.ndim == 2:
        arr = arr[None, :, :]
    elif arr.ndim != 3:
        raise ValueError(
            "samples must be a 2-D array (draws, dim) or a 3-D array (chains, draws, dim), "
            f"got shape {arr.shape}"
        )
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"samples are empty: shape {arr.shape}")
    return arr


def _sample_names(names, dim: int) -> list[str]:
    if names is None:
        return [f"x[{i}]" for i in range(dim)]
    # Names, or the (name, initial, bounds) records of Problem.parameters().
    names = [str(getattr(s, "name", s)) for s in names]
    if len(names) != dim:
        raise ValueError(f"expected {dim} parameter names, got {len(names)}")
    return names


def _subplot_axes(plt, axes, dim: int):
    if axes is None:
        fig, grid = plt.subplots(
            dim, 1, squeeze=False, figsize=(6.4, 1.2 + 1.8 * dim), layout="constrained"
        )
        return fig, grid[:, 0]
    flat = np.asarray(axes, dtype=object).ravel()
    if flat.size < dim:
        raise ValueError(f"need {dim} axes (one per parameter), got {flat.size}")
    flat = flat[:dim]
    return flat[0].figure, flat


# --------------------------------------------------------------------------------------------
# objective landscapes


def evaluate_grid(
    objective,
    x_bounds: tuple[float, float],
    y_bounds: tuple[float, float],
    *,
    resolution: int | tuple[int, int] = 60,
    fixed: Sequence[float] | None = None,
    dims: tuple[int, int] = (0, 1),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate ``objective`` over a grid of two parameters; the data behind :func:`contour`.

    Returns ``(X, Y, Z)`` as from ``np.meshgrid`` (shape ``(ny, nx)``). Parameter ``dims[0]``
    runs over ``x_bounds`` and ``dims[1]`` over ``y_bounds``; the others stay at ``fixed`` (by
    default the problem's ``initial_values()``, or zeros for a plain callable). A point whose
    evaluation raises (e.g. ``diffid.EvaluationError`` when the ODE solve fails) or returns a
    non-finite value is NaN in ``Z``. If every point fails, the first error is raised.
    """
    f = _evaluator(objective)
    i, j = (int(d) for d in dims)
    if i == j or i < 0 or j < 0:
        raise ValueError(f"dims must be two different parameter indices, got {tuple(dims)}")
    if fixed is None:
        initial = getattr(objective, "initial_values", None)
        base = (
            np.asarray(initial(), dtype=float)
            if callable(initial)
            else np.zeros(max(i, j) + 1)
        )
    else:
        base = np.asarray(fixed, dtype=float).ravel().copy()
    if max(i, j) >= base.size:
        raise ValueError(
            f"dims {tuple(dims)} out of range for a parameter vector of length {base.size}"
        )
    if np.ndim(resolution) == 0:
        nx = ny = int(resolution)
    else:
        nx, ny = (int(r) for r in resolution)
    if nx < 2 or ny < 2:
        raise ValueError(f"resolution must be at least 2 points per axis, got {resolution}")

    xs = np.linspace(float(x_bounds[0]), float(x_bounds[1]), nx)
    ys = np.linspace(float(y_bounds[0]), float(y_bounds[1]), ny)
    X, Y = np.meshgrid(xs, ys)
    Z = np.full(X.shape, np.nan)
    first_error: BaseException | None = None
    for r in range(ny):
        for c in range(nx):
            point = base.copy()
            point[i] = X[r, c]
            point[j] = Y[r, c]
            try:
                value = float(f(point))
            except Exception as exc:  # failed evaluations are left blank, not raised
                if first_error is None:
                    first_error = exc
                continue
            if np.isfinite(value):
                Z[r, c] = value
    if first_error is not None and np.all(np.isnan(Z)):
        raise RuntimeError("every evaluation on the grid failed") from first_error
    return X, Y, Z


def contour(
    objective,
    x_bounds: tuple[float, float],
    y_bounds: tuple[float, float],
    *,
    levels: int | Sequence[float] = 30,
    resolution: int | tuple[int, int] = 60,
    fixed: Sequence[float] | None = None,
    dims: tuple[int, int] = (0, 1),
    log: bool = False,
    ax=None,
    show: bool = False,
    points=None,
    colorbar: bool = True,
):
    """Filled contours of an objective over two of its parameters.

    ``objective`` is a ``diffid.Problem`` (its ``evaluate`` is used) or any callable
    ``f(x) -> float`` of the full parameter vector. Parameters ``dims`` vary over ``x_bounds``
    and ``y_bounds``; the others are held at ``fixed`` (default: the problem's initial values).
    Points whose evaluation fails are masked (left blank) rather than raised. ``log=True``
    contours ``log10`` of the objective (non-positive values masked), which shows the floor
    of a sum of squares far better; explicit ``levels`` are then in ``log10`` units.
    ``points`` — an array ``(k, 2)`` of (x, y), or ``(k, dim)`` full parameter vectors — is
    drawn on top, e.g. an optimisation path. Axis labels are the problem's parameter names.

    Returns ``(fig, ax)``.
    """
    plt = _pyplot()

    X, Y, Z = evaluate_grid(
        objective, x_bounds, y_bounds, resolution=resolution, fixed=fixed, dims=dims
    )
    i, j = (int(d) for d in dims)
    if log:
        Z = np.where(Z > 0, Z, np.nan)
    Zm = np.ma.masked_invalid(Z)
    if Zm.count() == 0:
        raise ValueError("no positive values to draw on a log scale" if log else "no values")

    fig, ax = _figure_and_axes(plt, ax)
    if log:
        Zm = np.ma.log10(Zm)
    cs = ax.contourf(X, Y, Zm, levels=levels)
    if colorbar:
        fig.colorbar(cs, ax=ax, label="log10(objective)" if log else "objective")

    names = _parameter_names(objective, max(i, j) + 1)
    ax.set_xlabel(names[i] if names else f"x[{i}]")
    ax.set_ylabel(names[j] if names else f"x[{j}]")

    if points is not None:
        pts = np.atleast_2d(np.asarray(points, dtype=float))
        if pts.shape[1] != 2:
            if pts.shape[1] <= max(i, j):
                raise ValueError(
                    f"points must have shape (k, 2) or (k, dim), got {pts.shape}"
                )
            pts = pts[:, [i, j]]
        ax.plot(pts[:, 0], pts[:, 1], "o-", color="red", markersize=4, linewidth=1.2,
                markeredgecolor="black", label="path")
        ax.plot(pts[-1, 0], pts[-1, 1], "*", color="red", markersize=12,
                markeredgecolor="black", label="final")
    _finish(plt, show)
    return fig, ax


# --------------------------------------------------------------------------------------------
# optimisation progress


def convergence(values, *, ax=None, show: bool = False, log: bool = True, label: str | None = None):
    """The best objective value after each iteration.

    ``values`` is a sequence of values or an ``OptimisationResults`` (its ``history``).
    Entries that are not finite (``inf`` before any evaluation succeeded) are skipped; the
    x axis is the iteration number (1-based). The y axis is logarithmic when ``log`` is true
    and every drawn value is positive.

    Returns ``(fig, ax)``.
    """
    plt = _pyplot()
    if hasattr(values, "history"):
        values = values.history
    y = np.asarray(values, dtype=float).ravel()
    it = np.arange(1, y.size + 1)
    keep = np.isfinite(y)
    fig, ax = _figure_and_axes(plt, ax)
    ax.plot(it[keep], y[keep], "-", marker="." if keep.sum() < 50 else None, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("best value")
    if log and keep.any() and np.all(y[keep] > 0):
        ax.set_yscale("log")
    if label is not None:
        ax.legend()
    _finish(plt, show)
    return fig, ax


def waterfall(results, *, tolerance: float = 0.1, reference: float | None = None, ax=None,
              show: bool = False):
    """The waterfall plot of a multi-start optimisation: every run's final value against its
    rank, best first.

    ``results`` is a ``MultiStartResults`` (``problem.optimise(starts=N)``) or a sequence of
    final values. Runs within ``tolerance`` of the best are drawn as converged (filled);
    runs without a result (``inf``) are counted in the title but not drawn. ``reference``
    draws a horizontal line at a known optimum. The y axis shows ``value − best + 1`` on a
    log scale when the values span several orders of magnitude, as is usual in this field;
    otherwise the values themselves.

    Returns ``(fig, ax)``.
    """
    plt = _pyplot()
    values = np.asarray(getattr(results, "values", results), dtype=float).ravel()
    order = np.argsort(values, kind="stable")
    values = values[order]
    finite = np.isfinite(values)
    fig, ax = _figure_and_axes(plt, ax)
    if not finite.any():
        ax.set_title(f"no run of {values.size} produced a value")
        _finish(plt, show)
        return fig, ax
    best = values[finite][0]
    shown = values[finite]
    rank = np.arange(1, shown.size + 1)
    converged = shown <= best + tolerance
    spread = shown[-1] - best
    offset = spread > 100.0
    y = shown - best + 1.0 if offset else shown
    ax.plot(rank, y, "-", color="0.6", linewidth=0.8, zorder=1)
    ax.scatter(rank[converged], y[converged], color="C0", s=18, zorder=2,
               label=f"converged (within {tolerance:g} of the best)")
    ax.scatter(rank[~converged], y[~converged], facecolors="none", edgecolors="C1", s=18,
               zorder=2, label="other runs")
    if reference is not None:
        ax.axhline(reference - best + 1.0 if offset else reference, color="C2", linestyle="--",
                   label="reference")
    if offset:
        ax.set_yscale("log")
        ax.set_ylabel("final value − best + 1")
    else:
        ax.set_ylabel("final value")
    ax.set_xlabel("run (sorted by final value)")
    failed = values.size - shown.size
    title = f"{int(converged.sum())} of {values.size} runs converged"
    if failed:
        title += f", {failed} failed"
    ax.set_title(title)
    ax.legend()
    _finish(plt, show)
    return fig, ax


# --------------------------------------------------------------------------------------------
# model fits


def ode_fit(problem, x, data=None, *, ax=None, show: bool = False, names: Sequence[str] | None = None):
    """The data (markers) against ``problem.simulate(x)`` (lines), one colour per output.

    ``x`` is a parameter vector or an ``OptimisationResults``. ``data`` is required — a
    Problem does not expose its observations — and is the 2-D array given to ``with_data``
    (column 0 = time, then one column per output). ``names`` label the outputs in the legend.

    Returns ``(fig, ax)``.
    """
    plt = _pyplot()
    data = _data_array(data, "ode_fit")
    y = _simulate(problem, x)
    n_out = data.shape[1] - 1
    if y.shape[1] != n_out:
        raise ValueError(
            f"the model has {y.shape[1]} outputs but data has {n_out} output columns"
        )
    t = _model_times(problem, data, y.shape[0])
    labels = _output_names(names, n_out)

    fig, ax = _figure_and_axes(plt, ax)
    for k in range(n_out):
        colour = f"C{k}"
        ax.plot(data[:, 0], data[:, k + 1], linestyle="none", marker="o", markersize=3,
                alpha=0.6, color=colour, label=f"{labels[k]} (data)")
        ax.plot(t, y[:, k], "-", color=colour, label=f"{labels[k]} (model)")
    ax.set_xlabel("time")
    ax.set_ylabel("output")
    ax.legend()
    _finish(plt, show)
    return fig, ax


def compare_models(problem, xs, data, *, labels: Sequence[str] | None = None, ax=None,
                   show: bool = False):
    """Overlay ``problem.simulate(x)`` for several parameter vectors against the data.

    ``xs`` is a sequence of parameter vectors (or ``OptimisationResults``); ``data`` is the
    2-D array given to ``with_data``. The data are black markers (one marker shape per
    output); each model has its own colour, with one line style per output.

    Returns ``(fig, ax)``.
    """
    plt = _pyplot()
    data = _data_array(data, "compare_models")
    if hasattr(xs, "x"):
        xs = [xs]
    else:
        xs = list(xs)
        if xs and all(np.ndim(e) == 0 and not hasattr(e, "x") for e in xs):
            xs = [xs]  # a single parameter vector
    if not xs:
        raise ValueError("compare_models needs at least one parameter vector")
    if labels is None:
        labels = [f"model {m}" for m in range(len(xs))]
    labels = [str(s) for s in labels]
    if len(labels) != len(xs):
        raise ValueError(f"expected {len(xs)} labels, got {len(labels)}")
    n_out = data.shape[1] - 1

    fig, ax = _figure_and_axes(plt, ax)
    for k in range(n_out):
        ax.plot(data[:, 0], data[:, k + 1], linestyle="none",
                marker=_MARKERS[k % len(_MARKERS)], markersize=3, color="black", alpha=0.5,
                label="data" if n_out == 1 else f"data, output {k}")
    for m, x in enumerate(xs):
        y = _simulate(problem, x)
        if y.shape[1] != n_out:
            raise ValueError(
                f"the model has {y.shape[1]} outputs but data has {n_out} output columns"
            )
        t = _model_times(problem, data, y.shape[0])
        for k in range(n_out):
            ax.plot(t, y[:, k], linestyle=_LINESTYLES[k % len(_LINESTYLES)], color=f"C{m}",
                    label=labels[m] if k == 0 else None)
    ax.set_xlabel("time")
    ax.set_ylabel("output")
    ax.legend()
    _finish(plt, show)
    return fig, ax


# --------------------------------------------------------------------------------------------
# samples


def parameter_traces(samples, names: Sequence[str] | None = None, *, axes=None, show: bool = False):
    """Trace plots: one subplot per parameter, one line per chain.

    ``samples`` is a 2-D array ``(draws, dim)`` or a 3-D array ``(chains, draws, dim)``.
    ``axes`` may be any sequence (or array) of at least ``dim`` axes.

    Returns ``(fig, axes)`` with ``axes`` a 1-D array of the ``dim`` axes drawn on.
    """
    plt = _pyplot()
    arr = _samples_array(samples)
    n_chains, n_draws, dim = arr.shape
    labels = _sample_names(names, dim)
    fig, axs = _subplot_axes(plt, axes, dim)
    steps = np.arange(n_draws)
    for d, ax in enumerate(axs):
        for c in range(n_chains):
            ax.plot(steps, arr[c, :, d], linewidth=0.8, alpha=0.8 if n_chains > 1 else 1.0,
                    label=f"chain {c}" if n_chains > 1 else None)
        ax.set_ylabel(labels[d])
    axs[-1].set_xlabel("draw")
    if n_chains > 1:
        axs[0].legend(fontsize="small")
    _finish(plt, show)
    return fig, axs


def parameter_distributions(samples, names: Sequence[str] | None = None, *, axes=None,
                            show: bool = False, bins: int | Sequence[float] = 30):
    """Histograms of the samples, one subplot per parameter (all chains pooled).

    ``samples`` is a 2-D array ``(draws, dim)`` or a 3-D array ``(chains, draws, dim)``.

    Returns ``(fig, axes)`` with ``axes`` a 1-D array of the ``dim`` axes drawn on.
    """
    plt = _pyplot()
    arr = _samples_array(samples)
    dim = arr.shape[2]
    pooled = arr.reshape(-1, dim)
    labels = _sample_names(names, dim)
    fig, axs = _subplot_axes(plt, axes, dim)
    for d, ax in enumerate(axs):
        column = pooled[:, d]
        ax.hist(column[np.isfinite(column)], bins=bins, density=True, alpha=0.7,
                color=f"C{d % 10}")
        ax.set_xlabel(labels[d])
        ax.set_ylabel("density")
    _finish(plt, show)
    return fig, axs


# --------------------------------------------------------------------------------------------
# Bayesian sampling results


def _chains_and_names(samples) -> tuple[np.ndarray, list[str] | None, int, int]:
    """``(chains, names, warmup, thin)`` of a ``diffid.Samples`` (anything with ``.chains``)
    or of a plain 2-D ``(draws, dim)`` / 3-D ``(chains, draws, dim)`` array."""
    if hasattr(samples, "chains") and not isinstance(samples, np.ndarray):
        arr = _samples_array(samples.chains)
        names = getattr(samples, "parameter_names", None)
        names = [str(s) for s in names] if names is not None else None
        if names is not None and len(names) != arr.shape[2]:
            names = None
        warmup = int(getattr(samples, "warmup", 0) or 0)
        thin = max(int(getattr(samples, "thin", 1) or 1), 1)
        return arr, names, warmup, thin
    return _samples_array(samples), None, 0, 1


def _draws_and_weights(samples) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """``(draws (N, dim), weights (N,) or None, names or None)`` of a sampling result.

    In order of preference: ``.positions`` and ``.weights`` (nested-sampling results, whose
    draws carry importance weights); ``.samples``, an array of equal-weight draws (a
    ``diffid.Samples``) or a method returning one; otherwise the object itself as an array,
    2-D ``(N, dim)``, 3-D ``(chains, draws, dim)`` (chains pooled) or 1-D (one parameter).
    """
    weights = None
    names = None
    if isinstance(samples, np.ndarray):
        draws = samples
    elif hasattr(samples, "positions") and hasattr(samples, "weights"):
        draws, weights = samples.positions, samples.weights
        names = getattr(samples, "parameter_names", None)
    elif hasattr(samples, "samples"):
        draws = samples.samples
        if callable(draws):
            draws = draws()
        names = getattr(samples, "parameter_names", None)
    else:
        draws = samples
    arr = np.asarray(draws, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim == 3:
        arr = arr.reshape(-1, arr.shape[2])
    elif arr.ndim != 2:
        raise ValueError(
            "samples must be a 2-D array (draws, dim), a 3-D array (chains, draws, dim) or a "
            f"diffid sampling result, got an array of shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"samples are empty: shape {arr.shape}")
    if names is not None:
        names = [str(s) for s in names]
        if len(names) != arr.shape[1]:
            names = None
    if weights is not None:
        weights = _check_weights(weights, arr.shape[0])
    return arr, weights, names


def _check_weights(weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(
            f"weights must be a 1-D array with one weight per draw ({n}), got shape {w.shape}"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite (no NaN or inf)")
    if np.any(w < 0):
        raise ValueError(f"weights must be non-negative, got a minimum of {w.min():g}")
    if not np.any(w > 0):
        raise ValueError("weights are all zero: at least one draw needs a positive weight")
    return w


def _select_parameters(
    all_names: list[str] | None, names, dim: int
) -> tuple[list[int], list[str]]:
    """Indices and labels of the parameters to plot.

    With parameter names (a ``diffid.Samples``), ``names`` selects parameters by name, in the
    order given; for a plain array, which has no names, ``names`` labels all its columns.
    """
    if isinstance(names, str):
        names = [names]
    if all_names is None:
        return list(range(dim)), _sample_names(names, dim)
    if names is None:
        return list(range(dim)), list(all_names)
    names = [str(s) for s in names]
    if not names:
        raise ValueError("names is empty: give at least one parameter name (or None for all)")
    if len(names) > dim:
        raise ValueError(
            f"{len(names)} names given, but the samples have only {dim} parameters: {all_names}"
        )
    unknown = [s for s in names if s not in all_names]
    if unknown:
        raise ValueError(
            f"no parameter named {', '.join(map(repr, unknown))}; the parameters are {all_names}"
        )
    repeated = sorted({s for s in names if names.count(s) > 1})
    if repeated:
        raise ValueError(f"parameter {', '.join(map(repr, repeated))} named more than once")
    return [all_names.index(s) for s in names], names


def _truth_values(truths, idx: list[int], labels: list[str], dim: int,
                  all_names: list[str] | None) -> list[float | None]:
    """One truth (or ``None``) per plotted parameter."""
    if truths is None:
        return [None] * len(idx)
    if isinstance(truths, Mapping):
        known = all_names if all_names is not None else labels
        unknown = [k for k in truths if str(k) not in known]
        if unknown:
            raise ValueError(
                f"truths for {', '.join(map(repr, unknown))}, which is not a parameter; "
                f"the parameters are {known}"
            )
        values = [truths.get(name) for name in labels]
    else:
        if hasattr(truths, "x") and not isinstance(truths, np.ndarray):
            truths = truths.x
        given = [None if v is None else float(v)
                 for v in np.ravel(np.asarray(truths, dtype=object))]
        if len(given) == len(idx):
            values = given
        elif len(given) == dim:
            values = [given[i] for i in idx]
        else:
            raise ValueError(
                f"expected {len(idx)} truths (one per plotted parameter) or {dim} (one per "
                f"parameter), got {len(given)}"
            )
    return [None if v is None or not np.isfinite(float(v)) else float(v) for v in values]


def _bin_edges(x: np.ndarray, bins: int) -> np.ndarray:
    lo, hi = float(np.min(x)), float(np.max(x))
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def _credible_thresholds(hist: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """The histogram heights whose super-level sets hold the given fractions of the mass.

    For each fraction ``p`` this is the largest ``t`` such that the cells with
    ``hist >= t`` hold at least ``p`` of the total: the highest-density region of ``hist``.
    Returned in increasing order (the largest mass first), without repeats.
    """
    flat = np.sort(hist.ravel())[::-1]
    flat = flat[flat > 0]
    if flat.size == 0:
        return np.array([])
    cumulative = np.cumsum(flat) / flat.sum()
    idx = np.minimum(np.searchsorted(cumulative, np.asarray(levels, dtype=float)), flat.size - 1)
    return np.unique(flat[idx])


def trace(samples, names: Sequence[str] | None = None, *, include_warmup: bool = False,
          axes=None, show: bool = False):
    """Trace plots with per-chain densities: one row per parameter.

    Left, the draws of every chain against the iteration, one line (and colour) per chain, so
    that chains which have not mixed stand apart. Right, a histogram of each chain's draws
    (``histtype="step"``, normalised to unit area, the same bins for all chains), which should
    agree when the chains have converged.

    ``samples`` is a ``diffid.Samples`` or an array, 2-D ``(draws, dim)`` or 3-D ``(chains,
    draws, dim)``. For a ``Samples``, ``names`` selects the parameters to plot, by name and in
    that order (default: all); for an array it labels every column (default ``x[0]``, ...).
    The iteration counts from the start of the run, warm-up included (kept draw ``i`` of a
    ``Samples`` is iteration ``warmup + thin * (i + 1)``; for an array, draw ``i`` is iteration
    ``i + 1``). ``include_warmup=True`` also draws ``samples.warmup_chains`` — iterations
    ``1 ... warmup``, in a lighter shade of each chain's colour — and marks the end of warm-up
    with a dashed vertical line at iteration ``warmup``; the histograms hold the kept draws
    only. Chains are named in a legend when there are 2 to 10 of them.

    ``axes`` may be an array ``(n, 2)``, or any sequence of at least ``2 * n`` axes taken row
    by row, for ``n`` plotted parameters.

    Returns ``(fig, axes)`` with ``axes`` an array of shape ``(n, 2)``: column 0 the traces,
    column 1 the histograms.
    """
    plt = _pyplot()
    arr, all_names, warmup, thin = _chains_and_names(samples)
    n_chains, n_draws, dim = arr.shape
    idx, labels = _select_parameters(all_names, names, dim)
    n = len(idx)

    warm = None
    if include_warmup:
        if not hasattr(samples, "chains") or isinstance(samples, np.ndarray):
            raise ValueError(
                "include_warmup=True needs a diffid.Samples: a plain array holds no warm-up draws"
            )
        warm = np.asarray(getattr(samples, "warmup_chains", np.empty((n_chains, 0, dim))),
                          dtype=float)
        if warm.ndim != 3 or warm.shape[0] != n_chains or warm.shape[2] != dim:
            raise ValueError(
                f"samples.warmup_chains has shape {warm.shape}, "
                f"expected ({n_chains}, warmup, {dim})"
            )
        if warm.shape[1] == 0:
            if warmup > 0:
                raise ValueError(
                    f"samples had {warmup} warm-up iterations but kept none of their draws "
                    "(warmup_chains is empty)"
                )
            warm = None
        else:
            warmup = warm.shape[1]

    if axes is None:
        fig, grid = plt.subplots(n, 2, squeeze=False, figsize=(9.0, 1.2 + 1.8 * n),
                                 layout="constrained", width_ratios=(3, 1))
    else:
        flat = np.asarray(axes, dtype=object).ravel()
        if flat.size < 2 * n:
            raise ValueError(f"need {2 * n} axes (two per parameter), got {flat.size}")
        grid = flat[: 2 * n].reshape(n, 2)
        fig = grid[0, 0].figure

    iterations = warmup + thin * np.arange(1, n_draws + 1)
    warm_iterations = None if warm is None else np.arange(1, warm.shape[1] + 1)
    alpha = 0.8 if n_chains > 1 else 1.0
    label_chains = 1 < n_chains <= 10
    for row, (d, label) in enumerate(zip(idx, labels)):
        ax_trace, ax_hist = grid[row]
        for c in range(n_chains):
            colour = f"C{c % 10}"
            if warm is not None:
                ax_trace.plot(warm_iterations, warm[c, :, d], color=colour, linewidth=0.8,
                              alpha=0.3)
            ax_trace.plot(iterations, arr[c, :, d], color=colour, linewidth=0.8, alpha=alpha,
                          label=f"chain {c}" if label_chains else None)
        if warm is not None:
            ax_trace.axvline(warmup, color="black", linestyle="--", linewidth=1.0,
                             label="end of warm-up" if row == 0 else None)
        ax_trace.set_ylabel(label)

        values = arr[:, :, d]
        finite = values[np.isfinite(values)]
        if finite.size:
            edges = np.histogram_bin_edges(finite, bins="auto")
            if edges.size > 51:
                edges = np.linspace(edges[0], edges[-1], 51)
            for c in range(n_chains):
                column = values[c][np.isfinite(values[c])]
                if column.size:
                    ax_hist.hist(column, bins=edges, density=True, histtype="step",
                                 color=f"C{c % 10}", alpha=alpha)
        ax_hist.set_xlabel(label)
        ax_hist.set_ylabel("density")
    grid[-1, 0].set_xlabel("iteration")
    if label_chains or warm is not None:
        grid[0, 0].legend(fontsize="small")
    _finish(plt, show)
    return fig, grid


def corner(samples, names: Sequence[str] | None = None, *, weights=None, truths=None,
           bins: int = 30, levels: Sequence[float] = (0.5, 0.9), fig=None, show: bool = False):
    """A corner plot: every one- and two-parameter marginal of the posterior.

    A lower-triangular matrix of subplots: on the diagonal, the weighted histogram (density)
    of each parameter; below it, the weighted 2-D histogram of each pair (grey shading) with
    contours of the credible regions holding the fractions ``levels`` of the posterior mass.
    Each region is the highest-density region of the 2-D histogram: its cells, taken from the
    highest down, until they hold that fraction of the total weight. The upper triangle is
    hidden. ``bins`` is the number of bins per parameter, spanning the draws with positive
    weight.

    ``samples`` is one of:

    * a ``diffid.Samples`` (its pooled ``.samples``, ``(N, dim)``, and ``.parameter_names``);
    * a result with ``.positions`` ``(N, dim)`` and ``.weights`` ``(N,)``, such as nested
      sampling gives: the positions are weighted by those weights;
    * a result with a ``.samples()`` method returning equal-weight draws (and
      ``.parameter_names``);
    * a plain array ``(N, dim)`` (or ``(chains, draws, dim)``, pooled).

    ``weights`` — ``N`` non-negative numbers, not all zero — overrides the result's own
    weights. ``names`` selects parameters by name as in :func:`trace` (for a plain array it
    labels the columns; default ``x[0]``, ...). ``truths`` — one value per plotted parameter,
    one per parameter, a mapping from name to value, or an ``OptimisationResults`` (its ``x``)
    — are drawn as lines; ``None`` or NaN entries are skipped. Draws with a non-finite value
    are dropped. ``fig`` is a matplotlib Figure to draw in (a new one by default).

    Returns ``(fig, axes)`` with ``axes`` an array ``(n, n)`` of axes for ``n`` plotted
    parameters; those above the diagonal are hidden.
    """
    plt = _pyplot()
    draws, own_weights, all_names = _draws_and_weights(samples)
    n_all, dim = draws.shape
    w = own_weights if weights is None else _check_weights(weights, n_all)
    if w is None:
        w = np.ones(n_all)
    idx, labels = _select_parameters(all_names, names, dim)
    true_values = _truth_values(truths, idx, labels, dim, all_names)
    if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    levels = [float(p) for p in np.atleast_1d(np.asarray(levels, dtype=float))]
    if any(not 0.0 < p < 1.0 for p in levels):
        raise ValueError(
            f"levels are fractions of the posterior mass, each in (0, 1), got {levels}"
        )

    x = draws[:, idx]
    keep = np.all(np.isfinite(x), axis=1) & (w > 0)
    if not keep.any():
        raise ValueError("no draw with finite values and a positive weight to plot")
    x, w = x[keep], w[keep]
    n = len(idx)
    edges = [_bin_edges(x[:, k], bins) for k in range(n)]

    if fig is None:
        size = 1.2 + 2.0 * n
        fig, grid = plt.subplots(n, n, squeeze=False, figsize=(size, size), layout="constrained")
    else:
        grid = fig.subplots(n, n, squeeze=False)

    def limits(k):
        lo, hi = edges[k][0], edges[k][-1]
        if true_values[k] is not None:
            pad = 0.02 * (hi - lo)
            lo, hi = min(lo, true_values[k] - pad), max(hi, true_values[k] + pad)
        return lo, hi

    for i in range(n):
        for j in range(n):
            ax = grid[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                heights, _ = np.histogram(x[:, i], bins=edges[i], weights=w, density=True)
                ax.stairs(heights, edges[i], color="C0", linewidth=1.2)
                if true_values[i] is not None:
                    ax.axvline(true_values[i], color="C1", linewidth=1.2)
                ax.set_yticks([])
                ax.set_ylim(bottom=0)
            else:
                hist, xe, ye = np.histogram2d(x[:, j], x[:, i], bins=[edges[j], edges[i]],
                                              weights=w)
                ax.pcolormesh(xe, ye, hist.T, cmap="Greys", shading="flat")
                thresholds = _credible_thresholds(hist, levels)
                if thresholds.size:
                    centres_x = 0.5 * (xe[:-1] + xe[1:])
                    centres_y = 0.5 * (ye[:-1] + ye[1:])
                    ax.contour(centres_x, centres_y, hist.T, levels=thresholds, colors="C0",
                               linewidths=1.0)
                if true_values[j] is not None:
                    ax.axvline(true_values[j], color="C1", linewidth=1.2)
                if true_values[i] is not None:
                    ax.axhline(true_values[i], color="C1", linewidth=1.2)
                ax.set_ylim(*limits(i))
            ax.set_xlim(*limits(j))
            if i == n - 1:
                ax.set_xlabel(labels[j])
            else:
                ax.tick_params(labelbottom=False)
            if j == 0 and i > 0:
                ax.set_ylabel(labels[i])
            elif j > 0:
                ax.tick_params(labelleft=False)
    _finish(plt, show)
    return fig, grid


def posterior_predictive(problem, samples, *, n_draws: int = 200, level: float = 0.9,
                         seed: int | None = 0, data=True, ax=None, show: bool = False,
                         names: Sequence[str] | None = None):
    """The model's predictions over the posterior: median and credible band, per output.

    ``n_draws`` posterior draws are picked at random (``numpy.random.default_rng(seed)``;
    without replacement, so every draw is used once when there are no more than
    ``n_draws``) and each is simulated with ``problem.simulate(x)`` at the data times
    ``problem.times()``. For every output the median over the simulations is drawn as a line
    and the central ``level`` band (from the ``(1 - level) / 2`` to the ``(1 + level) / 2``
    quantile) is shaded, in that output's colour. This is the spread of the model curves: it
    adds no observation noise. A draw whose simulation fails (``diffid.EvaluationError``) or
    gives a non-finite value is skipped; if every one fails, ``ValueError`` is raised.

    ``problem`` is a problem with a model (built with ``DiffsolBuilder``); ``TypeError`` is
    raised for one without (``problem.times()`` is ``None``). ``samples`` is a
    ``diffid.Samples``, an array of draws ``(N, dim)``, or any result :func:`corner` takes —
    the draws of one carrying ``.weights`` are picked with replacement, in proportion to
    their weights. ``data=True`` draws the observations (markers) when the problem gives them
    (``problem.data()``: column 0 = time, then one column per output); ``data`` may also be
    such an array, or ``False`` for none. ``names`` label the outputs in the legend.

    Returns ``(fig, ax)``: all outputs on the one axes, one colour each, as :func:`ode_fit`.
    """
    plt = _pyplot()
    from .errors import EvaluationError

    times = problem.times() if callable(getattr(problem, "times", None)) else None
    if times is None:
        raise TypeError(
            "posterior_predictive needs a problem with a model to simulate (built with "
            "DiffsolBuilder): this problem has none (problem.times() is None)"
        )
    if isinstance(n_draws, (bool, np.bool_)) or not isinstance(n_draws, (int, np.integer)) \
            or n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer, got {n_draws!r}")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")

    draws, weights, _ = _draws_and_weights(samples)
    rng = np.random.default_rng(seed)
    n_all = draws.shape[0]
    if weights is None:
        chosen = rng.choice(n_all, size=min(n_draws, n_all), replace=False)
    else:
        chosen = rng.choice(n_all, size=n_draws, replace=True, p=weights / weights.sum())

    sims = []
    first_error: BaseException | None = None
    for i in chosen:
        try:
            y = _simulate(problem, draws[i])
        except EvaluationError as exc:
            if first_error is None:
                first_error = exc
            continue
        if sims and y.shape != sims[0].shape:
            raise ValueError(
                f"simulations of different shapes: {sims[0].shape} and {y.shape}"
            )
        if np.all(np.isfinite(y)):
            sims.append(y)
    if not sims:
        raise ValueError(
            f"every one of the {len(chosen)} simulations failed (diffid.EvaluationError or "
            "non-finite values): nothing to plot"
        ) from first_error
    sims = np.stack(sims)  # (simulations, times, outputs)
    n_out = sims.shape[2]
    t = _model_times(problem, None, sims.shape[1])
    median = np.median(sims, axis=0)
    lower, upper = np.quantile(sims, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
    labels = _output_names(names, n_out)

    observed = None
    if data is True:
        try:
            observed = problem.data()
        except AttributeError:
            observed = None
    elif data is not None and data is not False:
        observed = data
    if observed is not None:
        observed = _data_array(observed, "posterior_predictive")
        if observed.shape[1] - 1 != n_out:
            raise ValueError(
                f"the model has {n_out} outputs but data has {observed.shape[1] - 1} "
                "output columns"
            )

    fig, ax = _figure_and_axes(plt, ax)
    for k in range(n_out):
        colour = f"C{k}"
        ax.fill_between(t, lower[:, k], upper[:, k], color=colour, alpha=0.25, linewidth=0,
                        label=f"{labels[k]} ({level:.0%} band)")
        ax.plot(t, median[:, k], "-", color=colour, label=f"{labels[k]} (median)")
        if observed is not None:
            ax.plot(observed[:, 0], observed[:, k + 1], linestyle="none", marker="o",
                    markersize=3, alpha=0.6, color=colour, label=f"{labels[k]} (data)")
    ax.set_xlabel("time")
    ax.set_ylabel("output")
    ax.legend()
    _finish(plt, show)
    return fig, ax


# --------------------------------------------------------------------------------------------
# nested sampling


def run_plot(nested, *, axes=None, show: bool = False):
    """A nested-sampling run against the prior volume: where the likelihood and the evidence
    come from.

    ``nested`` is a ``diffid.NestedSamples`` (anything with ``log_volumes``,
    ``log_likelihoods`` and ``weights``; ``log_evidence`` and ``log_evidence_error`` for the
    title). The horizontal axis of both panels is ``ln X``, the expected log prior volume
    above each point, inverted so that the run reads from left (``ln X = 0``, the whole prior)
    to right (the posterior's peak):

    * left, the log-likelihood ``ln L`` of each point against ``ln X`` — it rises as the run
      climbs into the posterior (points whose likelihood failed, ``-inf``, are left out);
    * right, the cumulative evidence fraction: the running sum of the normalised posterior
      weights, from 0 to 1, against ``ln X``. The steep part is where the posterior mass lies;
      a curve that is still rising at the right-hand end means the run stopped early. Its
      title is the final ``ln Z ± error``.

    ``axes`` is a sequence (or array) of two axes to draw into; by default a new figure with
    two side-by-side panels is created.

    Returns ``(fig, axes)`` with ``axes`` a 1-D array of the two axes.
    """
    plt = _pyplot()
    missing = [a for a in ("log_volumes", "log_likelihoods", "weights") if not hasattr(nested, a)]
    if missing:
        raise TypeError(
            "run_plot needs a nested-sampling result (diffid.NestedSamples, from "
            f"DynamicNestedSampler), got {type(nested).__name__} without {', '.join(missing)}"
        )
    log_x = np.asarray(nested.log_volumes, dtype=float).ravel()
    log_l = np.asarray(nested.log_likelihoods, dtype=float).ravel()
    weights = np.asarray(nested.weights, dtype=float).ravel()
    n = log_x.size
    if n == 0:
        raise ValueError("the nested-sampling result holds no points: nothing to plot")
    if log_l.size != n or weights.size != n:
        raise ValueError(
            f"log_volumes, log_likelihoods and weights differ in length: {n}, {log_l.size} "
            f"and {weights.size}"
        )

    if axes is None:
        fig, axs = plt.subplots(1, 2, squeeze=False, figsize=(10.0, 4.0), layout="constrained")
        axs = axs[0]
    else:
        axs = np.asarray(axes, dtype=object).ravel()
        if axs.size < 2:
            raise ValueError(f"need 2 axes (log-likelihood, cumulative evidence), got {axs.size}")
        axs = axs[:2]
        fig = axs[0].figure
    ax_l, ax_z = axs

    keep = np.isfinite(log_x) & np.isfinite(log_l)
    ax_l.plot(log_x[keep], log_l[keep], "-", color="C0", linewidth=1.2)
    ax_l.set_xlabel("ln X (prior volume)")
    ax_l.set_ylabel("ln L")
    ax_l.set_title("log-likelihood")

    cumulative = np.cumsum(np.where(np.isfinite(weights), weights, 0.0))
    total = cumulative[-1] if cumulative.size else 0.0
    if total > 0:
        cumulative = cumulative / total
    finite_x = np.isfinite(log_x)
    ax_z.plot(log_x[finite_x], cumulative[finite_x], "-", color="C1", linewidth=1.2)
    ax_z.set_ylim(-0.02, 1.02)
    ax_z.set_xlabel("ln X (prior volume)")
    ax_z.set_ylabel("cumulative evidence fraction")
    log_z = float(getattr(nested, "log_evidence", np.nan))
    error = float(getattr(nested, "log_evidence_error", np.nan))
    ax_z.set_title(f"ln Z = {log_z:.3f} ± {error:.3f}")

    for ax in (ax_l, ax_z):
        if finite_x.any() and not ax.xaxis_inverted():
            ax.invert_xaxis()
    _finish(plt, show)
    return fig, axs
