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
