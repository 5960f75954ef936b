"""Posterior draws from the MCMC samplers, with their diagnostics.

The draws are plain numpy arrays, so a ``Samples`` pickles and copies like any Python object.
The diagnostics (rank-normalised split R-hat, bulk and tail effective sample sizes, Monte Carlo
standard errors; Vehtari et al. 2021) are computed in Rust and equal ArviZ's.
"""

from __future__ import annotations

import datetime
from typing import Any, Iterator

import numpy as np

from . import _diffid

_STATS = ("mean", "sd", "q5", "q50", "q95", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "rhat")


class Summary(dict):
    """Per-parameter posterior summary: ``summary[name][stat]``.

    Statistics: ``mean``, ``sd``, ``q5``, ``q50``, ``q95`` (quantiles), ``mcse_mean``,
    ``mcse_sd``, ``ess_bulk``, ``ess_tail`` and ``rhat``. ``str(summary)`` is a table.
    """

    def __str__(self) -> str:
        head = f"{'parameter':>12} " + " ".join(f"{s:>10}" for s in _STATS)
        rows = [head]
        for name, stats in self.items():
            cells = []
            for s in _STATS:
                v = stats[s]
                if s.startswith("ess"):
                    cells.append(f"{v:>10.0f}" if np.isfinite(v) else f"{'nan':>10}")
                else:
                    cells.append(f"{v:>10.4g}")
            rows.append(f"{name:>12} " + " ".join(cells))
        return "\n".join(rows)

    __repr__ = __str__


class Samples:
    """Draws from the posterior, kept after warm-up (and thinning).

    Attributes
    ----------
    chains : ndarray, shape (n_chains, n_draws, dim)
        The draws of every chain (ensemble walker), in natural units.
    log_posterior, log_likelihood : ndarray, shape (n_chains, n_draws)
        The log-posterior (log-likelihood plus log-prior) and the log-likelihood of each draw.
    parameter_names : list of str
    acceptance_rate : ndarray, shape (n_chains,)
        The fraction of proposals accepted after warm-up, per chain.
    warmup : int
        Warm-up iterations, adapted (Metropolis–Hastings) and discarded.
    warmup_chains : ndarray, shape (n_chains, warmup, dim)
        The discarded warm-up draws, for trace plots.
    thin : int
    time : datetime.timedelta
    iterations, evaluations, failed_evaluations, outside_support : int
        Iterations per chain (warm-up included), likelihood evaluations, evaluations that
        failed (each a rejected proposal) and proposals rejected without evaluation because
        they left the prior's support.
    termination_reason : str
        ``"completed"``, or why the run stopped early (``"cancelled"``, ``"callback"``, ...).
    solver_counts : dict or None
        Under ``solver="auto"`` (DiffSL problems), how this run's ODE solves split between the
        methods (``choice``, ``tsit45``, ``bdf``, ``fallbacks``); None otherwise.
    """

    def __init__(
        self,
        chains: Any,
        log_posterior: Any,
        log_likelihood: Any,
        parameter_names: list[str],
        acceptance_rate: Any,
        warmup: int = 0,
        warmup_chains: Any = None,
        thin: int = 1,
        time: datetime.timedelta | float = 0.0,
        iterations: int = 0,
        evaluations: int = 0,
        failed_evaluations: int = 0,
        outside_support: int = 0,
        termination_reason: str = "completed",
        sampler: str = "",
        solver_counts: dict[str, Any] | None = None,
    ) -> None:
        self.chains = np.asarray(chains, dtype=float)
        if self.chains.ndim != 3:
            raise ValueError(f"chains must have shape (n_chains, n_draws, dim), got {self.chains.shape}")
        self.log_posterior = np.asarray(log_posterior, dtype=float)
        self.log_likelihood = np.asarray(log_likelihood, dtype=float)
        self.parameter_names = list(parameter_names)
        if len(self.parameter_names) != self.chains.shape[2]:
            raise ValueError(
                f"{len(self.parameter_names)} parameter names for {self.chains.shape[2]} parameters"
            )
        self.acceptance_rate = np.asarray(acceptance_rate, dtype=float)
        self.warmup = int(warmup)
        wc = np.empty((self.chains.shape[0], 0, self.chains.shape[2])) if warmup_chains is None else warmup_chains
        self.warmup_chains = np.asarray(wc, dtype=float)
        self.thin = int(thin)
        self.time = time if isinstance(time, datetime.timedelta) else datetime.timedelta(seconds=float(time))
        self.iterations = int(iterations)
        self.evaluations = int(evaluations)
        self.failed_evaluations = int(failed_evaluations)
        self.outside_support = int(outside_support)
        self.termination_reason = termination_reason
        self.sampler = sampler
        self.solver_counts = solver_counts
        self._summary: Summary | None = None

    # -- the earlier release's fields ------------------------------------------------------
    @property
    def samples(self) -> np.ndarray:
        """All draws of all chains, shape (n_chains · n_draws, dim), chain after chain."""
        return self.chains.reshape(-1, self.chains.shape[2])

    @property
    def mean_x(self) -> np.ndarray:
        """The posterior mean of each parameter."""
        return self.samples.mean(axis=0) if self.draws else np.full(self.chains.shape[2], np.nan)

    @property
    def draws(self) -> int:
        """Draws kept in all chains together."""
        return self.chains.shape[0] * self.chains.shape[1]

    @property
    def n_chains(self) -> int:
        return self.chains.shape[0]

    @property
    def n_draws(self) -> int:
        """Draws kept per chain."""
        return self.chains.shape[1]

    def __len__(self) -> int:
        return self.draws

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.samples)

    def __getitem__(self, key: Any) -> np.ndarray:
        """``samples["k"]``: the draws of parameter ``k``, shape (n_chains, n_draws);
        ``samples[i]``: the i-th draw of :attr:`samples`."""
        if isinstance(key, str):
            try:
                j = self.parameter_names.index(key)
            except ValueError:
                raise KeyError(f"no parameter {key!r}; the parameters are {self.parameter_names}") from None
            return self.chains[:, :, j]
        return self.samples[key]

    # -- diagnostics -----------------------------------------------------------------------
    def summary(self) -> Summary:
        """Mean, sd, 5/50/95 % quantiles, MCSE, bulk and tail ESS and rank R-hat per parameter
        (ArviZ's definitions). R-hat needs at least 2 chains (NaN otherwise)."""
        if self._summary is None:
            out = Summary()
            for j, name in enumerate(self.parameter_names):
                values = np.ascontiguousarray(self.chains[:, :, j])
                out[name] = dict(zip(_STATS, _diffid._summarise(values)))
            self._summary = out
        return self._summary

    def _stat(self, key: str) -> np.ndarray:
        s = self.summary()
        return np.array([s[n][key] for n in self.parameter_names])

    def rhat(self) -> np.ndarray:
        """Rank-normalised split R-hat per parameter (the larger of bulk and folded)."""
        return self._stat("rhat")

    def ess_bulk(self) -> np.ndarray:
        """Bulk effective sample size per parameter."""
        return self._stat("ess_bulk")

    def ess_tail(self) -> np.ndarray:
        """Tail effective sample size per parameter (5 % and 95 % quantiles)."""
        return self._stat("ess_tail")

    def mcse_mean(self) -> np.ndarray:
        """Monte Carlo standard error of each posterior mean."""
        return self._stat("mcse_mean")

    def mcse_sd(self) -> np.ndarray:
        """Monte Carlo standard error of each posterior standard deviation."""
        return self._stat("mcse_sd")

    def covariance(self) -> np.ndarray:
        """The posterior covariance of the parameters, from all draws."""
        return np.cov(self.samples, rowvar=False).reshape(self.chains.shape[2], self.chains.shape[2])

    # -- ArviZ -----------------------------------------------------------------------------
    def to_arviz(self) -> Any:
        """The draws as ArviZ data: ``posterior`` with dims ``chain``/``draw`` and one variable
        per parameter, ``sample_stats`` with ``lp`` (log-posterior) and ``acceptance_rate`` (per
        chain, repeated over draws)."""
        try:
            import arviz as az
        except ImportError as e:  # pragma: no cover - exercised only without arviz
            raise ImportError("to_arviz() needs ArviZ: pip install arviz") from e
        posterior = {name: self.chains[:, :, j] for j, name in enumerate(self.parameter_names)}
        rate = np.repeat(self.acceptance_rate[:, None], self.n_draws, axis=1)
        stats = {"lp": self.log_posterior, "acceptance_rate": rate}
        return az.from_dict(posterior=posterior, sample_stats=stats)

    def __repr__(self) -> str:
        return (
            f"Samples({self.sampler or 'mcmc'}: {self.n_chains} chains × {self.n_draws} draws of "
            f"{self.parameter_names}, warmup={self.warmup}, thin={self.thin}, "
            f"acceptance={self._mean_acceptance():.3f}, "
            f"termination={self.termination_reason!r})"
        )

    def _mean_acceptance(self) -> float:
        rates = self.acceptance_rate[np.isfinite(self.acceptance_rate)]
        return float(rates.mean()) if rates.size else float("nan")

    def __str__(self) -> str:
        return repr(self) + "\n" + str(self.summary())


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    c = np.cumsum(w) - 0.5 * w
    c /= w.sum()
    return float(np.interp(q, c, v))


class NestedSamples:
    """The result of dynamic nested sampling: every point with its posterior weight, and the
    model evidence.

    Attributes
    ----------
    positions : ndarray, shape (n, dim)
        Every point of the merged run, in increasing likelihood, natural units.
    log_likelihoods, log_weights : ndarray, shape (n,)
        Each point's log-likelihood and normalised log posterior weight (``ln(w_i / Z)``).
    log_volumes : ndarray, shape (n,)
        ``ln X``, the prior volume left above each point (expected).
    n_live : ndarray, shape (n,)
        Live points when each point died (varies in a dynamic run).
    log_evidence, log_evidence_error : float
        ``ln Z`` and its standard deviation (re-drawn volume shrinkages of the merged run).
    information : float
        ``H``, the information gain from prior to posterior, in nats.
    ess : float
        Kish's effective sample size of the weights.
    evaluations, failed_evaluations, batches : int
    termination_reason : str
    time : datetime.timedelta
    seed : int
        The run's seed; it also seeds :meth:`samples`.
    solver_counts : dict or None
        Under ``solver="auto"`` (DiffSL problems), how this run's ODE solves split between the
        methods (``choice``, ``tsit45``, ``bdf``, ``fallbacks``); None otherwise.
    """

    def __init__(
        self,
        positions: Any,
        log_likelihoods: Any,
        log_weights: Any,
        parameter_names: list[str],
        log_evidence: float,
        log_evidence_error: float,
        information: float = float("nan"),
        ess: float = float("nan"),
        log_volumes: Any = None,
        n_live: Any = None,
        evaluations: int = 0,
        failed_evaluations: int = 0,
        batches: int = 0,
        termination_reason: str = "completed",
        time: datetime.timedelta | float = 0.0,
        seed: int = 0,
        solver_counts: dict[str, Any] | None = None,
    ) -> None:
        self.positions = np.asarray(positions, dtype=float)
        self.log_likelihoods = np.asarray(log_likelihoods, dtype=float)
        self.log_weights = np.asarray(log_weights, dtype=float)
        self.parameter_names = list(parameter_names)
        n = self.positions.shape[0]
        self.log_volumes = np.asarray(log_volumes if log_volumes is not None else np.full(n, np.nan), dtype=float)
        self.n_live = np.asarray(n_live if n_live is not None else np.zeros(n), dtype=np.int64)
        self.log_evidence = float(log_evidence)
        self.log_evidence_error = float(log_evidence_error)
        self.information = float(information)
        self.ess = float(ess)
        self.evaluations = int(evaluations)
        self.failed_evaluations = int(failed_evaluations)
        self.batches = int(batches)
        self.termination_reason = termination_reason
        self.time = time if isinstance(time, datetime.timedelta) else datetime.timedelta(seconds=float(time))
        self.seed = int(seed)
        self.solver_counts = solver_counts

    # -- the earlier release's fields ------------------------------------------------------
    @property
    def posterior(self) -> list[tuple[np.ndarray, float, float]]:
        """``(position, log-likelihood, log-weight)`` of every point."""
        return list(zip(self.positions, self.log_likelihoods.tolist(), self.log_weights.tolist()))

    @property
    def weights(self) -> np.ndarray:
        """The normalised posterior weights (they sum to 1)."""
        w = np.exp(self.log_weights - np.max(self.log_weights)) if self.draws else np.zeros(0)
        return w / w.sum() if w.size else w

    @property
    def mean(self) -> np.ndarray:
        """The posterior mean of each parameter."""
        return self.weights @ self.positions

    @property
    def draws(self) -> int:
        """Points in the run."""
        return self.positions.shape[0]

    def __len__(self) -> int:
        return self.draws

    def __iter__(self) -> Iterator[tuple[np.ndarray, float, float]]:
        return iter(self.posterior)

    def __getitem__(self, key: Any) -> Any:
        """``nested["k"]``: every point's value of parameter ``k``; ``nested[i]``: the i-th
        ``(position, log-likelihood, log-weight)``."""
        if isinstance(key, str):
            try:
                return self.positions[:, self.parameter_names.index(key)]
            except ValueError:
                raise KeyError(f"no parameter {key!r}; the parameters are {self.parameter_names}") from None
        return self.posterior[key]

    # -- posterior draws -------------------------------------------------------------------
    def samples(self, n: int | None = None, seed: int | None = None) -> np.ndarray:
        """Equally weighted posterior draws, shape (n, dim), by systematic resampling of the
        weighted points. ``n`` defaults to the effective sample size, ``seed`` to the run's
        seed (so the same run gives the same draws)."""
        n = int(np.ceil(self.ess)) if n is None else int(n)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        cumulative = np.cumsum(self.weights)
        cumulative[-1] = 1.0
        idx = np.searchsorted(cumulative, (rng.random() + np.arange(n)) / n)
        out = self.positions[idx]
        return out[rng.permutation(n)]

    def to_samples(self, n: int | None = None) -> Samples:
        """The equally weighted draws as a one-chain :class:`Samples`."""
        draws = self.samples(n)
        zeros = np.zeros((1, draws.shape[0]))
        return Samples(
            chains=draws[None, :, :],
            log_posterior=zeros * np.nan,
            log_likelihood=zeros * np.nan,
            parameter_names=self.parameter_names,
            acceptance_rate=np.array([np.nan]),
            time=self.time,
            evaluations=self.evaluations,
            failed_evaluations=self.failed_evaluations,
            termination_reason=self.termination_reason,
            sampler="dynamic_nested",
        )

    def summary(self) -> Summary:
        """Weighted mean, sd and 5/50/95 % quantiles per parameter, with the effective sample
        size of the weights (``ess``); MCMC-only statistics (R-hat, MCSE) are NaN."""
        out = Summary()
        w = self.weights
        for j, name in enumerate(self.parameter_names):
            v = self.positions[:, j]
            m = float(w @ v)
            sd = float(np.sqrt(w @ (v - m) ** 2))
            out[name] = {
                "mean": m,
                "sd": sd,
                "q5": _weighted_quantile(v, w, 0.05),
                "q50": _weighted_quantile(v, w, 0.5),
                "q95": _weighted_quantile(v, w, 0.95),
                "mcse_mean": sd / np.sqrt(self.ess) if self.ess > 0 else float("nan"),
                "mcse_sd": float("nan"),
                "ess_bulk": self.ess,
                "ess_tail": float("nan"),
                "rhat": float("nan"),
            }
        return out

    def to_arviz(self) -> Any:
        """The equally weighted draws as ArviZ data (one chain), with ``log_evidence`` and
        ``log_evidence_error`` in the posterior's attributes (``idata.posterior.attrs``)."""
        try:
            import arviz as az
        except ImportError as e:  # pragma: no cover - exercised only without arviz
            raise ImportError("to_arviz() needs ArviZ: pip install arviz") from e
        draws = self.samples()
        posterior = {name: draws[None, :, j] for j, name in enumerate(self.parameter_names)}
        evidence = {"log_evidence": self.log_evidence, "log_evidence_error": self.log_evidence_error}
        idata = az.from_dict(posterior=posterior, attrs=evidence)
        # ArviZ versions differ in where from_dict puts attrs (each group, or the whole data):
        # set them on the posterior explicitly.
        idata.posterior.attrs.update(evidence)
        return idata

    def __repr__(self) -> str:
        return (
            f"NestedSamples(log_evidence={self.log_evidence:.4f} ± {self.log_evidence_error:.4f}, "
            f"information={self.information:.3f}, points={self.draws}, ess={self.ess:.0f}, "
            f"evaluations={self.evaluations}, batches={self.batches}, "
            f"termination={self.termination_reason!r})"
        )

    def __str__(self) -> str:
        return repr(self) + "\n" + str(self.summary())


def bayes_factor(a: NestedSamples, b: NestedSamples) -> tuple[float, float]:
    """The log Bayes factor ``ln(Z_a / Z_b)`` of model ``a`` over model ``b`` and its error
    (the two runs' ``ln Z`` errors added in quadrature). Positive favours ``a``."""
    for name, r in (("a", a), ("b", b)):
        if not isinstance(r, NestedSamples):
            raise TypeError(f"bayes_factor expects NestedSamples (from DynamicNestedSampler), got {type(r).__name__} for {name}")
    return (a.log_evidence - b.log_evidence, float(np.hypot(a.log_evidence_error, b.log_evidence_error)))
