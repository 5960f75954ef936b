"""Plots for diffid problems, optimisation results and samples.

matplotlib is optional (``pip install matplotlib``, or ``pip install "diffid[plot]"``) and is
imported only when a plotting function is called: ``import diffid.plotting`` alone does not
import it.

Every function takes ``ax=`` (or ``axes=``) to draw into existing matplotlib axes — a new
figure is created when it is ``None`` — and ``show=`` to call ``plt.show()`` at the end, and
returns the matplotlib objects it drew on: ``(fig, ax)``, or ``(fig, axes)`` for the
functions with one subplot per parameter.

* :func:`contour` — an objective over a grid of two parameters (failed evaluations are left
  blank), optionally with an optimisation path on top;
* :func:`convergence` — the best value after each iteration (``result.history``);
* :func:`ode_fit` — the data against ``problem.simulate(x)``;
* :func:`compare_models` — several parameter vectors against the same data;
* :func:`parameter_traces` / :func:`parameter_distributions` — samples, one subplot per
  parameter, one trace per chain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "compare_models",
    "contour",
    "convergence",
    "evaluate_grid",
    "ode_fit",
    "parameter_distributions",
    "parameter_traces",
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
    """``obj.parameters()`` (a Problem) or ``obj.parameter_names``, if it has n of them."""
    names = None
    params = getattr(obj, "parameters", None)
    if callable(params):
        try:
            names = list(params())
        except Exception:
            names = None
    elif hasattr(obj, "parameter_names"):
        names = list(obj.parameter_names)
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
    names = [str(s) for s in names]
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
