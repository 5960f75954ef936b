"""Bayesian sampling from Python: priors, MetropolisHastings, EnsembleSampler, Samples.

The checks are statistical where they must be (known posteriors, a posterior computed by
quadrature), always with a fixed seed so that each run of the suite sees the same draws, and
exact where the library promises exactness (ArviZ-equal diagnostics, bit-identical chains at
any thread count, ask/tell equal to ``problem.sample``).
"""

from __future__ import annotations

import math
import concurrent.futures as cf
import copy
import pickle
import textwrap

import arviz as az
import numpy as np
import pytest
from scipy.optimize import least_squares

import diffid
from support import (
    interrupt_script,
    BLOWUP_MODEL,
    BLOWUP_TIMES,
    BLOWUP_TRUE_C,
    DECAY_MODEL,
    DECAY_TIMES,
    DECAY_TRUE,
    REPO_ROOT,
    decay_solution,
)

# --------------------------------------------------------------------------------------------
# Shared problems
# --------------------------------------------------------------------------------------------

# Noisy decay data: the exact solution at k = 0.7, y0 = 3.0 plus N(0, 0.1²) noise (fixed draw).
NOISE_SD = 0.1
_rng = np.random.default_rng(20240601)
NOISY_Y = decay_solution(DECAY_TRUE["k"], DECAY_TRUE["y0"]) + NOISE_SD * _rng.standard_normal(
    DECAY_TIMES.size
)
NOISY_DATA = np.column_stack((DECAY_TIMES, NOISY_Y))
K_PRIOR = (0.1, 2.0)
Y0_PRIOR = (1.0, 5.0)


def standard_normal_nll(x) -> float:
    """Negative log-likelihood of a 2-D standard normal (up to a constant)."""
    x = np.asarray(x)
    return 0.5 * float(x @ x)


def normal_problem(objective=standard_normal_nll, executor=None) -> diffid.Problem:
    """A 2-D standard normal posterior: ScalarBuilder NLL with wide uniform priors."""
    b = diffid.ScalarBuilder().with_objective(objective)
    if executor is not None:
        b = b.with_executor(executor)
    return (
        b.with_parameter("a", 0.5, prior=diffid.Uniform(-10.0, 10.0))
        .with_parameter("b", -0.5, prior=diffid.Uniform(-10.0, 10.0))
        .build()
    )


def decay_builder(y=NOISY_Y) -> diffid.DiffsolBuilder:
    """The decay model on noisy data with uniform priors on k and y0, no cost yet."""
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(DECAY_MODEL)
        .with_data(np.column_stack((DECAY_TIMES, y)))
        .with_parameter("k", 0.6, prior=diffid.Uniform(*K_PRIOR))
        .with_parameter("y0", 2.8, prior=diffid.Uniform(*Y0_PRIOR))
    )


def decay_posterior(parallel=None) -> diffid.Problem:
    """The decay posterior with the known noise variance."""
    b = decay_builder().with_cost(diffid.GaussianNLL(variance=NOISE_SD**2))
    if parallel is not None:
        b = b.with_parallel(parallel)
    return b.build()


def decay_least_squares(y=NOISY_Y):
    """The least-squares fit of y0·exp(-k t) to ``y`` (scipy), with its Jacobian."""

    def residuals(theta):
        return decay_solution(theta[0], theta[1]) - y

    def jacobian(theta):
        e = np.exp(-theta[0] * DECAY_TIMES)
        return np.column_stack((-theta[1] * DECAY_TIMES * e, e))

    return least_squares(residuals, [0.6, 2.8], jac=jacobian, xtol=1e-15, ftol=1e-15, gtol=1e-15)


def mh(chains=4, iterations=1000, warmup=None, seed=0) -> diffid.MetropolisHastings:
    s = diffid.MetropolisHastings().with_num_chains(chains).with_iterations(iterations)
    if warmup is not None:
        s = s.with_warmup(warmup)
    return s.with_seed(seed)


def ensemble(walkers=8, iterations=1000, warmup=None, seed=0) -> diffid.EnsembleSampler:
    s = diffid.EnsembleSampler().with_walkers(walkers).with_iterations(iterations)
    if warmup is not None:
        s = s.with_warmup(warmup)
    return s.with_seed(seed)


def assert_same_samples(a: diffid.Samples, b: diffid.Samples) -> None:
    """Bit-identical draws, log-densities, warm-up draws and acceptance rates."""
    np.testing.assert_array_equal(a.chains, b.chains)
    np.testing.assert_array_equal(a.log_posterior, b.log_posterior)
    np.testing.assert_array_equal(a.log_likelihood, b.log_likelihood)
    np.testing.assert_array_equal(a.warmup_chains, b.warmup_chains)
    np.testing.assert_array_equal(a.acceptance_rate, b.acceptance_rate)


# --------------------------------------------------------------------------------------------
# Diagnostics equal ArviZ; to_arviz
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sampler",
    [
        mh(chains=4, iterations=2000, warmup=1000, seed=4),
        ensemble(walkers=8, iterations=1200, warmup=200, seed=4),
    ],
    ids=["mh", "ensemble"],
)
def test_summary_diagnostics_equal_arviz(sampler):
    # Three parameters (k, y0 and the noise sigma) of a real posterior; 1000 draws per chain
    # (even, where Samples.summary()'s rank R-hat and az.rhat coincide).
    problem = (
        decay_builder()
        .with_parameter("sigma", 0.2, bounds=(1e-3, 2.0), prior=diffid.HalfNormal(1.0))
        .with_cost(diffid.GaussianNLL(sigma="sigma"))
        .build()
    )
    samples = problem.sample(sampler=sampler)
    assert samples.n_draws == 1000
    idata = samples.to_arviz()
    summary = samples.summary()
    expected = {
        "rhat": az.rhat(idata),
        "ess_bulk": az.ess(idata, method="bulk"),
        "ess_tail": az.ess(idata, method="tail"),
        "mcse_mean": az.mcse(idata, method="mean"),
        "mcse_sd": az.mcse(idata, method="sd"),
    }
    for name in ["k", "y0", "sigma"]:
        for stat, ds in expected.items():
            assert summary[name][stat] == pytest.approx(float(ds[name]), rel=1e-6), (name, stat)
        draws = samples[name]
        assert summary[name]["mean"] == pytest.approx(draws.mean(), rel=1e-12)
        assert summary[name]["sd"] == pytest.approx(draws.std(ddof=1), rel=1e-10)
        for q in (5, 50, 95):
            assert summary[name][f"q{q}"] == pytest.approx(np.quantile(draws, q / 100), rel=1e-12)
    # The array accessors are the summary's columns, in parameter order.
    for stat, method in [
        ("rhat", samples.rhat),
        ("ess_bulk", samples.ess_bulk),
        ("ess_tail", samples.ess_tail),
        ("mcse_mean", samples.mcse_mean),
        ("mcse_sd", samples.mcse_sd),
    ]:
        np.testing.assert_array_equal(method(), [summary[n][stat] for n in ["k", "y0", "sigma"]])
    # az.summary (which folds about the median of all draws before splitting) agrees too.
    table = az.summary(idata, round_to="none")
    for name in ["k", "y0", "sigma"]:
        assert summary[name]["rhat"] == pytest.approx(table.loc[name, "r_hat"], rel=1e-6)
        assert summary[name]["ess_bulk"] == pytest.approx(table.loc[name, "ess_bulk"], rel=1e-6)


def test_to_arviz_structure():
    problem = decay_posterior()
    samples = problem.sample(sampler=mh(chains=3, iterations=400, seed=1))
    idata = samples.to_arviz()
    post = idata.posterior
    assert set(post.data_vars) == {"k", "y0"}
    for j, name in enumerate(["k", "y0"]):
        assert post[name].dims == ("chain", "draw")
        assert post[name].shape == (3, 200)
        np.testing.assert_array_equal(post[name].values, samples.chains[:, :, j])
    stats = idata.sample_stats
    assert {"lp", "acceptance_rate"} <= set(stats.data_vars)
    np.testing.assert_array_equal(stats["lp"].values, samples.log_posterior)
    assert stats["lp"].dims == ("chain", "draw")
    rate = stats["acceptance_rate"].values
    assert rate.shape == (3, 200)
    np.testing.assert_array_equal(rate, np.repeat(samples.acceptance_rate[:, None], 200, axis=1))
    assert np.all((samples.acceptance_rate > 0) & (samples.acceptance_rate < 1))
    # lp is the log-posterior of the draw: log-likelihood + log-prior.
    x = samples.chains[1, 17]
    assert samples.log_posterior[1, 17] == pytest.approx(problem.log_posterior(x), rel=1e-9)
    assert samples.log_likelihood[1, 17] == pytest.approx(problem.log_likelihood(x), rel=1e-9)


def test_samples_accessors():
    samples = normal_problem().sample(sampler=mh(chains=3, iterations=300, warmup=100, seed=2))
    assert samples.chains.shape == (3, 200, 2)
    assert samples.warmup == 100 and samples.warmup_chains.shape == (3, 100, 2)
    assert samples.samples.shape == (600, 2)
    np.testing.assert_array_equal(samples.samples[:200], samples.chains[0])
    assert len(samples) == samples.draws == 600
    np.testing.assert_array_equal(samples.mean_x, samples.samples.mean(axis=0))
    np.testing.assert_array_equal(samples["b"], samples.chains[:, :, 1])
    np.testing.assert_array_equal(samples[5], samples.samples[5])
    np.testing.assert_array_equal(np.array(list(samples)), samples.samples)
    with pytest.raises(KeyError, match="nope"):
        samples["nope"]
    assert samples.parameter_names == ["a", "b"]
    assert samples.termination_reason == "completed"
    assert samples.iterations == 300
    assert samples.acceptance_rate.shape == (3,)


# --------------------------------------------------------------------------------------------
# Known posteriors
# --------------------------------------------------------------------------------------------


def assert_standard_normal(samples: diffid.Samples) -> None:
    assert samples.termination_reason == "completed"
    z = np.abs(samples.mean_x) / samples.mcse_mean()
    assert np.all(z < 4), f"means {samples.mean_x} are {z} MCSE from 0"
    sd = samples.samples.std(axis=0, ddof=1)
    assert np.all(np.abs(sd - 1) < 4 * samples.mcse_sd()), f"sds {sd}, mcse {samples.mcse_sd()}"
    assert np.all(samples.rhat() < 1.01), samples.rhat()
    assert np.all(samples.ess_bulk() >= 400), samples.ess_bulk()
    assert np.all(samples.ess_tail() >= 400), samples.ess_tail()


@pytest.mark.parametrize("seed", [0, 1])
def test_metropolis_hastings_samples_a_standard_normal(seed):
    samples = normal_problem().sample(sampler=mh(chains=4, iterations=5000, warmup=1000, seed=seed))
    assert samples.chains.shape == (4, 4000, 2)
    assert_standard_normal(samples)
    # The adaptation tunes towards 0.234; each chain ends up in a sensible range.
    assert np.all((samples.acceptance_rate > 0.1) & (samples.acceptance_rate < 0.5))


@pytest.mark.parametrize("seed", [0, 1])
def test_ensemble_samples_a_standard_normal(seed):
    # The stretch move's walkers are strongly autocorrelated; 8 walkers × 15000 kept
    # iterations give rank R-hat < 1.005 and ESS > 2500 over 20 seeds tried.
    samples = normal_problem().sample(
        sampler=ensemble(walkers=8, iterations=16000, warmup=1000, seed=seed)
    )
    assert samples.chains.shape == (8, 15000, 2)
    assert_standard_normal(samples)


def test_decay_posterior_matches_quadrature():
    problem = decay_posterior()
    # The grid: ±8 Laplace standard deviations about the least-squares fit (the priors are
    # flat there), 161 points a side, the posterior from problem.log_posterior itself.
    fit = decay_least_squares()
    laplace_sd = np.sqrt(np.diag(NOISE_SD**2 * np.linalg.inv(fit.jac.T @ fit.jac)))
    ks = fit.x[0] + np.linspace(-8, 8, 161) * laplace_sd[0]
    y0s = fit.x[1] + np.linspace(-8, 8, 161) * laplace_sd[1]
    log_post = np.array([[problem.log_posterior([k, y0]) for y0 in y0s] for k in ks])
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    # The grid holds all the mass: the edges are negligible.
    assert max(w[0].max(), w[-1].max(), w[:, 0].max(), w[:, -1].max()) < 1e-12
    # Sanity: the log-posterior is the Gaussian log-likelihood of the closed form (plus the
    # constant log-prior), to the ODE solver's accuracy.
    exact = np.array(
        [[-0.5 * np.sum((decay_solution(k, y0) - NOISY_Y) ** 2) / NOISE_SD**2 for y0 in y0s] for k in ks]
    )
    assert np.abs((log_post - log_post.max()) - (exact - exact.max())).max() < 1e-3
    wk, wy = w.sum(axis=1), w.sum(axis=0)
    mean = np.array([wk @ ks, wy @ y0s])
    sd = np.sqrt([wk @ (ks - mean[0]) ** 2, wy @ (y0s - mean[1]) ** 2])

    samples = problem.sample(sampler=mh(chains=4, iterations=5000, warmup=1000, seed=5))
    assert samples.termination_reason == "completed"
    assert np.all(samples.rhat() < 1.01)
    assert np.all(samples.ess_bulk() >= 400)
    summary = samples.summary()
    mc_mean = np.array([summary["k"]["mean"], summary["y0"]["mean"]])
    mc_sd = np.array([summary["k"]["sd"], summary["y0"]["sd"]])
    assert np.all(np.abs(mc_mean - mean) < 4 * samples.mcse_mean()), (mc_mean, mean, samples.mcse_mean())
    # The sd's tolerance is 4 MCSE of the sd: a relative tolerance of 4·mcse_sd/sd, a few
    # per cent here (checked, so that the comparison cannot become vacuous).
    assert np.all(4 * samples.mcse_sd() / sd < 0.1)
    assert np.all(np.abs(mc_sd - sd) < 4 * samples.mcse_sd()), (mc_sd, sd, samples.mcse_sd())


# --------------------------------------------------------------------------------------------
# Reproducibility
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sampler",
    [mh(chains=4, iterations=400, seed=11), ensemble(walkers=8, iterations=200, seed=11)],
    ids=["mh", "ensemble"],
)
def test_same_seed_same_chains_at_any_thread_count(sampler):
    runs = [decay_posterior(parallel=n).sample(sampler=sampler) for n in (1, 2, 3)]
    for r in runs[1:]:
        assert_same_samples(runs[0], r)
    # And a different seed gives different chains (the comparison is not vacuous).
    other = decay_posterior(parallel=2).sample(sampler=sampler.with_seed(12))
    assert not np.array_equal(other.chains, runs[0].chains)


def drive(sampler, initial, priors, nll):
    """Runs a hand-driven sampler state to the end, telling ``nll`` at every point."""
    state = sampler.init(initial, priors=priors)
    while True:
        step = state.ask()
        if isinstance(step, diffid.Done):
            return step.result
        assert isinstance(step, diffid.Evaluate)
        state.tell([nll(x) for x in step.points])


@pytest.mark.parametrize(
    "sampler",
    [mh(chains=4, iterations=400, seed=21), ensemble(walkers=8, iterations=200, seed=21)],
    ids=["mh", "ensemble"],
)
def test_ask_tell_equals_problem_sample(sampler):
    problem = decay_posterior()
    priors = [diffid.Uniform(*K_PRIOR), diffid.Uniform(*Y0_PRIOR)]
    by_hand = drive(sampler, problem.initial_values(), priors, problem.evaluate)
    run = problem.sample(sampler=sampler)
    assert isinstance(by_hand, diffid.Samples)
    assert_same_samples(by_hand, run)
    assert by_hand.evaluations == run.evaluations
    assert by_hand.termination_reason == run.termination_reason == "completed"
    # sampler.run(problem) is the same run again.
    assert_same_samples(sampler.run(problem), run)


@pytest.mark.parametrize(
    "sampler",
    [mh(chains=4, iterations=500, seed=2), ensemble(walkers=8, iterations=300, seed=2)],
    ids=["mh", "ensemble"],
)
def test_thread_pool_executor_gives_the_same_chains(sampler):
    reference = normal_problem().sample(sampler=sampler)
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        pooled = normal_problem(executor=pool).sample(sampler=sampler)
    assert_same_samples(reference, pooled)
    assert pooled.evaluations == reference.evaluations


# --------------------------------------------------------------------------------------------
# Estimated noise
# --------------------------------------------------------------------------------------------


def noise_problem() -> diffid.Problem:
    return (
        decay_builder()
        .with_parameter("sigma", 0.3, bounds=(1e-3, 2.0), prior=diffid.HalfNormal(1.0))
        .with_cost(diffid.GaussianNLL(sigma="sigma"))
        .build()
    )


def test_estimated_noise_posterior_covers_the_true_sigma():
    problem = noise_problem()
    assert problem.parameter_names() == ["k", "y0", "sigma"]
    # sigma is the noise sd, not a model input: the model still simulates from (k, y0).
    np.testing.assert_allclose(
        problem.simulate([0.7, 3.0, 0.5])[:, 0], decay_solution(0.7, 3.0), rtol=1e-4, atol=1e-6
    )
    samples = problem.sample(sampler=mh(chains=4, iterations=6000, warmup=1000, seed=3))
    assert samples.termination_reason == "completed"
    assert np.all(samples.rhat() < 1.01)
    sigma = samples["sigma"]
    lo, hi = np.quantile(sigma, [0.025, 0.975])
    assert lo < NOISE_SD < hi, (lo, hi)
    assert sigma.min() > 0
    # The likelihood is GaussianNLL with sd = sigma: check one draw against the closed form.
    k, y0, s = samples.chains[2, 100]
    r = decay_solution(k, y0) - NOISY_Y
    expected = -0.5 * np.sum(r**2 / s**2 + np.log(2 * np.pi * s**2))
    assert samples.log_likelihood[2, 100] == pytest.approx(expected, rel=1e-4)


def test_optimise_recovers_the_noise_mle():
    problem = noise_problem()
    fit = decay_least_squares()
    sigma_mle = np.sqrt(np.mean(fit.fun**2))  # sqrt(SSE/N) at the least-squares fit
    result = problem.optimise()
    assert result.termination_reason != "threshold_reached"
    np.testing.assert_allclose(result.x[:2], fit.x, rtol=1e-5)
    assert result.x[2] == pytest.approx(sigma_mle, rel=1e-5)
    # ... which is sqrt(SSE/N) at the optimiser's own fit as well.
    at_fit = decay_solution(result.x[0], result.x[1]) - NOISY_Y
    assert result.x[2] == pytest.approx(np.sqrt(np.mean(at_fit**2)), rel=1e-5)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

MH = diffid.MetropolisHastings
ES = diffid.EnsembleSampler


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: MH().with_iterations(0), ["iterations", "0"]),
        (lambda: ES().with_iterations(0), ["iterations", "0"]),
        (lambda: MH().with_num_chains(0), ["num_chains", "0"]),
        (lambda: MH().with_iterations(100).with_warmup(100), ["warm", "100"]),
        (lambda: MH().with_iterations(100).with_warmup(150), ["warm", "150"]),
        (lambda: MH().with_warmup(1000), ["warm", "1000"]),  # default iterations 1000
        (lambda: MH().with_warmup(50).with_iterations(50), ["warm"]),
        (lambda: ES().with_iterations(10).with_warmup(10), ["warm"]),
        (lambda: MH().with_thin(0), ["thin"]),
        (lambda: ES().with_thin(0), ["thin"]),
        (lambda: MH().with_step_size(0.0), ["step_size"]),
        (lambda: MH().with_step_size(-0.5), ["step_size"]),
        (lambda: MH().with_step_size(float("nan")), ["step_size"]),
        (lambda: ES().with_step_size(0.0), ["step_size"]),
        (lambda: ES().with_walkers(1), ["walkers"]),
        (lambda: ES().with_stretch(1.0), ["stretch"]),
        (lambda: diffid.Normal(0.0, 0.0), ["normal", "sd"]),
        (lambda: diffid.Normal(0.0, -1.0), ["normal", "sd"]),
        (lambda: diffid.HalfNormal(0.0), ["halfnormal", "sd"]),
        (lambda: diffid.LogNormal(0.0, -2.0), ["lognormal", "sigma"]),
        (lambda: diffid.Gamma(0.0, 1.0), ["gamma", "shape"]),
        (lambda: diffid.Gamma(2.0, 0.0), ["gamma", "rate"]),
        (lambda: diffid.Beta(1.0, 0.0), ["beta"]),
        (lambda: diffid.Uniform(1.0, 1.0), ["uniform", "upper"]),
        (lambda: diffid.Uniform(2.0, 1.0), ["uniform", "upper"]),
        (lambda: diffid.Laplace(0.0, 0.0), ["laplace", "scale"]),
        (lambda: diffid.LogLaplace(0.0, -1.0), ["loglaplace", "scale"]),
        (lambda: diffid.LogUniform(0.0, 1.0), ["loguniform", "lower"]),
    ],
)
def test_invalid_settings_and_priors_raise_value_error(make, words):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value).lower()
    for w in words:
        assert w in message, message


def test_too_few_walkers_raise_at_run():
    # with_walkers(3) is a valid setting on its own; for 2 parameters the ensemble needs 4.
    sampler = ES().with_walkers(3).with_iterations(10).with_seed(0)
    for start in (
        lambda: normal_problem().sample(sampler=sampler),
        lambda: sampler.run(normal_problem()),
        lambda: sampler.init([0.0, 0.0], bounds=[(-1.0, 1.0), (-1.0, 1.0)]),
    ):
        # An invalid setting, like every other sampler setting: ValueError.
        with pytest.raises(ValueError, match=r"walkers") as info:
            start()
        assert "4" in str(info.value)
    # Four walkers are enough.
    assert ES().with_walkers(4).with_iterations(10).with_seed(0).run(normal_problem()).n_chains == 4


@pytest.mark.parametrize(
    "add",
    [
        lambda b: b.with_parameter("a", -1.0, prior=diffid.HalfNormal(1.0)),
        lambda b: b.with_parameter("a", 5.0, prior=diffid.Uniform(0.0, 1.0)),
        lambda b: b.with_parameter("a", 0.0, prior=diffid.Gamma(2.0, 1.0)),
        lambda b: b.with_parameter("a", 1.5, prior=diffid.Beta(2.0, 2.0)),
        lambda b: b.with_parameter("a", 0.0, prior=diffid.LogNormal(0.0, 1.0)),
    ],
)
@pytest.mark.parametrize("builder", ["scalar", "vector", "diffsol"])
def test_prior_with_zero_density_at_the_start_is_a_build_error(add, builder):
    b = {
        "scalar": diffid.ScalarBuilder(),
        "vector": diffid.VectorBuilder(),
        "diffsol": diffid.DiffsolBuilder(),
    }[builder]
    with pytest.raises(diffid.BuildError, match=r"'a'.*zero density"):
        add(b)


def test_parameter_without_prior_or_bounds_is_a_build_error_naming_it():
    problem = (
        diffid.ScalarBuilder()
        .with_objective(standard_normal_nll)
        .with_parameter("a", 0.5, prior=diffid.Normal(0.0, 3.0))
        .with_parameter("unbounded_b", 0.1)
        .build()
    )
    with pytest.raises(diffid.BuildError, match=r"'unbounded_b'.*no prior") as info:
        problem.sample(sampler=mh(chains=1, iterations=10))
    assert "unbounded_b" in str(info.value)
    # Finite bounds alone are a uniform prior.
    bounded = (
        diffid.ScalarBuilder()
        .with_objective(standard_normal_nll)
        .with_parameter("a", 0.5, prior=diffid.Normal(0.0, 3.0))
        .with_parameter("b", 0.1, bounds=(-5.0, 5.0))
        .build()
    )
    assert bounded.sample(sampler=mh(chains=1, iterations=10)).termination_reason == "completed"
    expected = diffid.Normal(0.0, 3.0).log_pdf(0.0) - np.log(10.0)
    assert bounded.log_prior([0.0, 0.0]) == pytest.approx(expected)


@pytest.mark.parametrize("cost", [None, diffid.SSE(), diffid.RMSE()], ids=["default", "sse", "rmse"])
def test_sampling_a_least_squares_problem_is_a_build_error(cost):
    b = decay_builder()
    if cost is not None:
        b = b.with_cost(cost)
    problem = b.build()
    with pytest.raises(diffid.BuildError, match="GaussianNLL"):
        problem.sample(sampler=mh(chains=1, iterations=10))
    with pytest.raises(diffid.BuildError, match="GaussianNLL"):
        problem.log_likelihood([0.7, 3.0])


def test_tell_with_the_wrong_count_and_after_the_end():
    state = mh(chains=2, iterations=4, seed=0).init([0.0, 0.0], bounds=[(-5.0, 5.0), (-5.0, 5.0)])
    step = state.ask()
    assert isinstance(step, diffid.Evaluate)
    assert len(step.points) == 2
    with pytest.raises(diffid.ResultCountMismatch, match=r"expected 2.*received 1"):
        state.tell([1.0])
    with pytest.raises(diffid.ResultCountMismatch):
        state.tell([1.0, 2.0, 3.0])
    assert issubclass(diffid.ResultCountMismatch, diffid.TellError)
    # The refused tell left the state as it was: the right count goes through.
    state.tell([standard_normal_nll(x) for x in step.points])
    while not isinstance(step := state.ask(), diffid.Done):
        state.tell([standard_normal_nll(x) for x in step.points])
    assert step.result.iterations == 4
    with pytest.raises(diffid.AlreadyTerminated, match="terminated"):
        state.tell([1.0, 1.0])
    assert isinstance(state.ask(), diffid.Done)


def raises_at_start(x):
    if x[0] == 0.5 and x[1] == -0.5:
        raise RuntimeError("cannot evaluate the start")
    return standard_normal_nll(x)


def nan_at_start(x):
    return float("nan") if (x[0] == 0.5 and x[1] == -0.5) else standard_normal_nll(x)


@pytest.mark.parametrize("objective", [raises_at_start, nan_at_start], ids=["raises", "nan"])
@pytest.mark.parametrize(
    "sampler", [mh(chains=4, iterations=50), ensemble(iterations=50)], ids=["mh", "ensemble"]
)
def test_likelihood_failing_at_the_initial_point_is_an_evaluation_error(objective, sampler):
    with pytest.raises(diffid.EvaluationError) as info:
        normal_problem(objective).sample(sampler=sampler)
    assert list(info.value.point) == [0.5, -0.5]
    assert "[0.5, -0.5]" in str(info.value)
    if objective is raises_at_start:
        assert isinstance(info.value.__cause__, RuntimeError)


def test_diffsl_solve_failing_at_the_initial_point_is_an_evaluation_error():
    data = np.column_stack((BLOWUP_TIMES, 1.0 / (1.0 - BLOWUP_TRUE_C * BLOWUP_TIMES)))
    problem = (
        diffid.DiffsolBuilder()
        .with_diffsl(BLOWUP_MODEL)
        .with_data(data)
        .with_parameter("c", 2.0, prior=diffid.Uniform(0.0, 3.0))  # blows up at t = 0.5 < 0.9
        .with_cost(diffid.GaussianNLL(variance=1.0))
        .build()
    )
    with pytest.raises(diffid.EvaluationError) as info:
        problem.sample(sampler=mh(chains=2, iterations=20))
    assert list(info.value.point) == [2.0]
    assert "[2.0]" in str(info.value)


def test_hand_driven_failure_at_the_initial_point():
    state = mh(chains=3, iterations=10).init([0.5, -0.5], bounds=[(-5.0, 5.0), (-5.0, 5.0)])
    step = state.ask()
    assert list(step.points[0]) == [0.5, -0.5]
    state.tell([float("nan")] + [1.0] * (len(step.points) - 1))
    with pytest.raises(diffid.EvaluationError, match=r"\[0.5, -0.5\]") as info:
        state.ask()
    assert list(info.value.point) == [0.5, -0.5]


@pytest.mark.parametrize("bad", [float("nan"), None, float("inf")], ids=["nan", "none", "inf"])
@pytest.mark.parametrize(
    "sampler",
    [mh(chains=3, iterations=600, seed=8), ensemble(walkers=6, iterations=300, seed=8)],
    ids=["mh", "ensemble"],
)
def test_failed_likelihoods_at_some_proposals_are_counted_rejections(bad, sampler):
    told_bad = 0

    def nll(x):
        nonlocal told_bad
        if x[0] > 1.0:
            told_bad += 1
            return bad
        return standard_normal_nll(x)

    samples = drive(sampler, [0.5, -0.5], [diffid.Uniform(-10.0, 10.0)] * 2, nll)
    assert told_bad > 20
    assert samples.termination_reason == "completed"
    assert samples.failed_evaluations == told_bad
    assert samples.chains[:, :, 0].max() <= 1.0
    assert samples.warmup_chains[:, :, 0].max() <= 1.0
    assert np.all(np.isfinite(samples.log_posterior))


def test_failed_ode_solves_at_some_proposals_are_counted_rejections():
    # y' = c y², y(0) = 1 blows up at t = 1/c: every proposal with c > 1/0.9 fails to solve.
    data = np.column_stack((BLOWUP_TIMES, 1.0 / (1.0 - BLOWUP_TRUE_C * BLOWUP_TIMES)))
    problem = (
        diffid.DiffsolBuilder()
        .with_diffsl(BLOWUP_MODEL)
        .with_data(data)
        .with_parameter("c", 0.5, prior=diffid.Uniform(0.0, 3.0))
        .with_cost(diffid.GaussianNLL(variance=1.0))
        .build()
    )
    samples = problem.sample(sampler=mh(chains=4, iterations=400, seed=0).with_step_size(0.5))
    assert samples.termination_reason == "completed"
    assert samples.failed_evaluations > 10
    assert samples.failed_evaluations < samples.evaluations
    assert samples.samples.max() < 1.0 / 0.9
    assert np.all(np.isfinite(samples.log_posterior))


def test_infinite_likelihood_from_a_callable_is_a_counted_rejection():
    def nll(x):
        return float("inf") if x[0] > 1.0 else standard_normal_nll(x)

    samples = normal_problem(nll).sample(sampler=mh(chains=2, iterations=400, seed=0))
    assert samples.termination_reason == "completed"
    assert samples.failed_evaluations > 10
    assert samples.chains[:, :, 0].max() <= 1.0


# --------------------------------------------------------------------------------------------
# Callback, progress, Ctrl-C
# --------------------------------------------------------------------------------------------


def test_callback_stops_the_run():
    seen = []

    def callback(progress):
        seen.append((progress.iteration, progress.acceptance_rate))
        return progress.iteration >= 600

    sampler = mh(chains=2, iterations=1000, warmup=500, seed=1)
    samples = normal_problem().sample(sampler=sampler, callback=callback)
    assert samples.termination_reason == "callback"
    assert samples.iterations == 600
    assert samples.chains.shape == (2, 100, 2)
    assert samples.warmup_chains.shape == (2, 500, 2)
    assert [i for i, _ in seen] == list(range(1, 601))
    assert all(0.0 <= a <= 1.0 for _, a in seen)


def test_callback_exception_propagates_with_the_draws_so_far():
    def callback(progress):
        if progress.iteration == 30:
            raise LookupError("stop here")

    with pytest.raises(LookupError, match="stop here") as info:
        normal_problem().sample(sampler=mh(chains=2, iterations=100, seed=1), callback=callback)
    partial = info.value.result
    assert isinstance(partial, diffid.Samples)
    assert partial.iterations == 30
    assert partial.warmup_chains.shape == (2, 30, 2)


def test_progress_writes_the_acceptance_rate_to_stderr(capsys):
    normal_problem().sample(sampler=mh(chains=2, iterations=300, seed=1), progress=True)
    captured = capsys.readouterr()
    assert "acceptance" in captured.err
    assert captured.out == ""
    # Without progress, nothing.
    normal_problem().sample(sampler=mh(chains=2, iterations=300, seed=1))
    assert capsys.readouterr().err == ""


INTERRUPT_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import diffid

    sys.path.insert(0, {tests!r})
    from support import DECAY_MODEL, DECAY_TIMES, decay_solution

    data = np.column_stack((DECAY_TIMES, decay_solution(0.7, 3.0)))
    if {kind!r} == "diffsl":
        problem = (
            diffid.DiffsolBuilder()
            .with_diffsl(DECAY_MODEL)
            .with_data(data)
            .with_parameter("k", 0.6, prior=diffid.Uniform(0.1, 2.0))
            .with_parameter("y0", 2.8, prior=diffid.Uniform(1.0, 5.0))
            .with_cost(diffid.GaussianNLL(variance=0.01))
            .build()
        )
    else:
        problem = (
            diffid.ScalarBuilder()
            .with_objective(lambda x: 0.5 * float(x[0] ** 2 + x[1] ** 2))
            .with_parameter("a", 0.5, prior=diffid.Uniform(-10, 10))
            .with_parameter("b", -0.5, prior=diffid.Uniform(-10, 10))
            .build()
        )
    # Hours of sampling: it only ends by Ctrl-C.
    sampler = (
        diffid.MetropolisHastings().with_num_chains(4).with_iterations(10**10)
        .with_warmup(100).with_seed(0)
    )
    print("READY", flush=True)
    try:
        problem.sample(sampler=sampler)
    except KeyboardInterrupt as exc:
        r = getattr(exc, "result", None)
        print("CAUGHT KeyboardInterrupt", flush=True)
        if r is None:
            print("NO RESULT", flush=True)
        else:
            print("RESULT", type(r).__name__, r.n_chains, r.n_draws, r.chains.shape[2],
                  r.iterations, r.termination_reason, bool(np.isfinite(r.chains).all()), flush=True)
        sys.exit(0)
    print("FINISHED WITHOUT INTERRUPT", flush=True)
    sys.exit(3)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["diffsl", "callable"])
def test_ctrl_c_interrupts_sampling_with_the_draws_so_far(tmp_path, kind):
    script = tmp_path / "interrupt_sampling.py"
    tests = str(REPO_ROOT / "bindings" / "python" / "tests")
    script.write_text(INTERRUPT_SCRIPT.format(tests=tests, kind=kind))
    _, type_name, n_chains, n_draws, dim, iterations, reason, finite = interrupt_script(script, 1.0)
    assert type_name == "Samples"
    assert int(n_chains) == 4 and int(dim) == 2
    assert int(n_draws) > 0
    assert int(iterations) == int(n_draws) + 100
    assert reason == "cancelled"
    assert finite == "True"


# --------------------------------------------------------------------------------------------
# Pickling
# --------------------------------------------------------------------------------------------


def test_samples_pickle_and_copy():
    samples = decay_posterior().sample(sampler=mh(chains=2, iterations=200, seed=1))
    for other in (pickle.loads(pickle.dumps(samples)), copy.deepcopy(samples)):
        assert isinstance(other, diffid.Samples)
        for attr in ("chains", "log_posterior", "log_likelihood", "acceptance_rate", "warmup_chains"):
            np.testing.assert_array_equal(getattr(other, attr), getattr(samples, attr))
        assert other.parameter_names == samples.parameter_names
        for attr in ("warmup", "thin", "iterations", "evaluations", "failed_evaluations",
                     "outside_support", "termination_reason", "sampler", "time"):
            assert getattr(other, attr) == getattr(samples, attr), attr
        assert other.summary() == samples.summary()


@pytest.mark.parametrize(
    "prior",
    [
        diffid.Uniform(-1.0, 2.5),
        diffid.Normal(0.5, 2.0),
        diffid.LogNormal(0.1, 0.7),
        diffid.HalfNormal(1.5),
        diffid.Gamma(2.0, 3.0),
        diffid.Beta(2.0, 5.0),
        diffid.Laplace(0.2, 0.5),
        diffid.LogLaplace(-0.1, 0.4),
        diffid.LogUniform(0.01, 3.0),
    ],
    ids=lambda p: repr(p),
)
def test_priors_pickle(prior):
    other = pickle.loads(pickle.dumps(prior))
    assert other == prior
    assert repr(other) == repr(prior)
    for x in (0.05, 0.3, 1.2):
        assert other.log_pdf(x) == prior.log_pdf(x)
        assert other.cdf(x) == prior.cdf(x)
    assert other.quantile(0.3) == prior.quantile(0.3)
    assert copy.deepcopy(prior) == prior


def test_laplace_and_log_priors_match_their_closed_forms():
    lap = diffid.Laplace(1.0, 2.0)
    assert lap.log_pdf(-2.0) == pytest.approx(-1.5 - math.log(4.0), rel=1e-14)
    assert lap.quantile(0.75) == pytest.approx(1.0 + 2.0 * math.log(2.0), rel=1e-14)
    loglap = diffid.LogLaplace(0.3, 0.5)
    x = 2.0
    assert loglap.log_pdf(x) == pytest.approx(
        -abs(math.log(x) - 0.3) / 0.5 - math.log(1.0) - math.log(x), rel=1e-14)
    logu = diffid.LogUniform(0.01, 100.0)
    assert logu.log_pdf(5.0) == pytest.approx(-math.log(5.0 * math.log(1e4)), rel=1e-14)
    assert logu.cdf(1.0) == pytest.approx(0.5, rel=1e-14)
    assert logu.quantile(0.75) == pytest.approx(10.0, rel=1e-12)
