"""Dynamic nested sampling from Python: DynamicNestedSampler, NestedSamples, bayes_factor, run_plot.

The checks are statistical where they must be (an evidence known in closed form, a posterior
known in closed form, an evidence computed by quadrature), always with a fixed seed so that
each run of the suite sees the same points, and exact where the library promises exactness
(bit-identical runs at any thread count, ask/tell equal to ``problem.sample``, the same draws
from the same seed).
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import math
import pickle
import textwrap

import numpy as np
import pytest

import diffid
from diffid import plotting
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

DNS = diffid.DynamicNestedSampler

# --------------------------------------------------------------------------------------------
# Shared problems
# --------------------------------------------------------------------------------------------

# A correlated 2-D Gaussian likelihood, normalised (so the evidence is known exactly), under
# uniform priors on a box that holds all but ~1e-9 of its mass: Z = 1 / (box area).
MU = np.array([1.0, -0.5])
SD = np.array([0.5, 1.0])
RHO = 0.6
COV = np.array([[SD[0] ** 2, RHO * SD[0] * SD[1]], [RHO * SD[0] * SD[1], SD[1] ** 2]])
PRECISION = np.linalg.inv(COV)
LOG_NORMALISER = 0.5 * np.log(np.linalg.det(2.0 * np.pi * COV))
A_PRIOR = (-4.0, 6.0)
B_PRIOR = (-6.0, 4.0)
GAUSSIAN_LOG_Z = -np.log((A_PRIOR[1] - A_PRIOR[0]) * (B_PRIOR[1] - B_PRIOR[0]))


def gaussian_nll(x) -> float:
    """The normalised negative log-density of N(MU, COV)."""
    r = np.asarray(x) - MU
    return 0.5 * float(r @ PRECISION @ r) + LOG_NORMALISER


def gaussian_problem(objective=gaussian_nll) -> diffid.Problem:
    return (
        diffid.ScalarBuilder()
        .with_objective(objective)
        .with_parameter("a", 0.0, prior=diffid.Uniform(*A_PRIOR))
        .with_parameter("b", 0.0, prior=diffid.Uniform(*B_PRIOR))
        .build()
    )


def standard_normal_nll(x) -> float:
    """The normalised negative log-density of a 2-D standard normal."""
    x = np.asarray(x)
    return 0.5 * float(x @ x) + math.log(2.0 * math.pi)


def phi(z: float) -> float:
    """The standard normal CDF."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


# Noisy decay data: the exact solution at k = 0.7, y0 = 3.0 plus N(0, 0.1²) noise (fixed draw).
NOISE_SD = 0.1
_rng = np.random.default_rng(20240601)
NOISY_Y = decay_solution(DECAY_TRUE["k"], DECAY_TRUE["y0"]) + NOISE_SD * _rng.standard_normal(
    DECAY_TIMES.size
)
NOISY_DATA = np.column_stack((DECAY_TIMES, NOISY_Y))
K_PRIOR = (0.1, 2.0)
Y0_PRIOR = (1.0, 5.0)
# The same inputs, but a straight line: y' = -k, so y = y0 - k t (a wrong model of the data).
LINEAR_MODEL = "in_i { k = 0.5, y0 = 2.0 } u_i { y = y0 } F_i { -k }"


def decay_problem(model=DECAY_MODEL, parallel=None) -> diffid.Problem:
    """A DiffSL model of the noisy decay data with the known noise and uniform priors."""
    b = (
        diffid.DiffsolBuilder()
        .with_diffsl(model)
        .with_data(NOISY_DATA)
        .with_parameter("k", 0.6, prior=diffid.Uniform(*K_PRIOR))
        .with_parameter("y0", 2.8, prior=diffid.Uniform(*Y0_PRIOR))
        .with_cost(diffid.GaussianNLL(variance=NOISE_SD**2))
    )
    if parallel is not None:
        b = b.with_parallel(parallel)
    return b.build()


def blowup_problem(c_prior=(0.0, 3.0)) -> diffid.Problem:
    """y' = c y², y(0) = 1: the solve fails for c > 1/0.9 (it blows up before t = 0.9)."""
    data = np.column_stack((BLOWUP_TIMES, 1.0 / (1.0 - BLOWUP_TRUE_C * BLOWUP_TIMES)))
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(BLOWUP_MODEL)
        .with_data(data)
        .with_parameter("c", sum(c_prior) / 2, prior=diffid.Uniform(*c_prior))
        .with_cost(diffid.GaussianNLL(variance=0.01))
        .build()
    )


def drive(state, nll):
    """Runs a hand-driven state to the end, telling ``nll`` at every point."""
    while True:
        step = state.ask()
        if isinstance(step, diffid.Done):
            return step.result
        assert isinstance(step, diffid.Evaluate)
        state.tell([nll(x) for x in step.points])


def assert_same_run(a: diffid.NestedSamples, b: diffid.NestedSamples) -> None:
    """Bit-identical points, likelihoods, weights, volumes and evidence."""
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.log_likelihoods, b.log_likelihoods)
    np.testing.assert_array_equal(a.log_weights, b.log_weights)
    np.testing.assert_array_equal(a.log_volumes, b.log_volumes)
    np.testing.assert_array_equal(a.n_live, b.n_live)
    assert a.log_evidence == b.log_evidence
    assert a.log_evidence_error == b.log_evidence_error
    assert a.evaluations == b.evaluations
    assert a.batches == b.batches


@pytest.fixture(scope="module")
def gaussian_run() -> diffid.NestedSamples:
    """One default run on the Gaussian (about 0.1 s), shared by the read-only checks."""
    return gaussian_problem().sample(sampler=DNS().with_seed(1))


# --------------------------------------------------------------------------------------------
# Evidence and posterior known in closed form
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed, bound", [(0, "multi"), (1, "multi"), (2, "balls")])
def test_evidence_and_posterior_of_a_gaussian(seed, bound):
    r = gaussian_problem().sample(sampler=DNS().with_seed(seed).with_bound(bound))
    assert isinstance(r, diffid.NestedSamples)
    assert r.termination_reason == "completed"
    assert r.parameter_names == ["a", "b"]
    # ln Z within 4 of its reported errors, and the error itself sensible: for 64 live points
    # it is about sqrt(H / 64) with H ≈ 3 nats (0.2), not vanishingly small.
    assert 0.05 < r.log_evidence_error < 0.5, r.log_evidence_error
    z = (r.log_evidence - GAUSSIAN_LOG_Z) / r.log_evidence_error
    assert abs(z) < 4, (r.log_evidence, GAUSSIAN_LOG_Z, r.log_evidence_error)
    # The information: the KL divergence of the posterior from the prior, in closed form
    # ln(box area) - ln(2πe sqrt(det COV)) for a Gaussian well inside the box.
    h = -GAUSSIAN_LOG_Z - (1.0 + LOG_NORMALISER)
    assert r.information == pytest.approx(h, abs=0.3)
    assert r.ess > 400
    assert r.batches >= 1  # dynamic batches were added after the baseline
    # The weighted posterior: mean within 4 standard errors (sd / sqrt(ESS)), sd within 10 %,
    # the correlation within 0.05.
    assert np.all(np.abs(r.mean - MU) < 4 * SD / np.sqrt(r.ess)), (r.mean, MU)
    w = r.weights
    centred = r.positions - r.mean
    cov = (w[:, None] * centred).T @ centred
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), SD, rtol=0.1)
    assert cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]) == pytest.approx(RHO, abs=0.05)
    summary = r.summary()
    for j, name in enumerate(["a", "b"]):
        s = summary[name]
        assert s["mean"] == pytest.approx(r.mean[j], rel=1e-12)
        assert s["sd"] == pytest.approx(np.sqrt(cov[j, j]), rel=1e-9)
        assert s["q5"] < s["q50"] < s["q95"]
        assert s["q50"] == pytest.approx(MU[j], abs=4 * SD[j] / np.sqrt(r.ess) * 1.5)
        # 5 % and 95 % quantiles of a normal: mean ∓ 1.645 sd.
        assert s["q95"] - s["q5"] == pytest.approx(2 * 1.6449 * SD[j], rel=0.1)
        assert s["ess_bulk"] == r.ess
        assert np.isnan(s["rhat"]) and np.isnan(s["ess_tail"]) and np.isnan(s["mcse_sd"])


def test_walk_length_sets_the_cost_of_each_random_walk_point():
    # Random-walk sampling spends `walks` evaluations on each new point (fewer only where a
    # walk's step leaves the cube), so a static run's evaluations scale with it, and both
    # lengths still find the closed-form evidence.
    runs = {
        w: gaussian_problem().sample(
            sampler=DNS().with_seed(3).with_sampling("rwalk").with_walks(w).with_max_batches(0).with_live_points(100)
        )
        for w in (5, 20)
    }
    per_point = {w: r.evaluations / len(r) for w, r in runs.items()}
    assert 2.5 < per_point[20] / per_point[5] < 4.5, per_point
    for r in runs.values():
        assert abs(r.log_evidence - GAUSSIAN_LOG_Z) < 4 * r.log_evidence_error, r.log_evidence


def test_weights_volumes_and_live_points_are_consistent(gaussian_run):
    r = gaussian_run
    n = len(r)
    assert r.positions.shape == (n, 2)
    for attr in ("log_likelihoods", "log_weights", "log_volumes", "n_live"):
        assert getattr(r, attr).shape == (n,), attr
    # In increasing likelihood, with the prior volume shrinking from ln X = 0 onwards.
    assert np.all(np.diff(r.log_likelihoods) >= 0)
    assert np.all(np.diff(r.log_volumes) < 0)
    assert -0.1 < r.log_volumes[0] < 0
    # Normalised weights: w_i / Z, summing to 1.
    assert r.weights.sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(r.weights, np.exp(r.log_weights), rtol=1e-9, atol=1e-300)
    assert np.exp(r.log_weights).sum() == pytest.approx(1.0, rel=1e-9)
    # Kish's effective sample size of those weights.
    assert r.ess == pytest.approx(1.0 / np.sum(r.weights**2), rel=1e-9)
    # A dynamic run: 64 live points in the baseline, more where batches overlap.
    assert r.n_live[0] == 64
    assert r.n_live.max() > 64
    assert r.evaluations >= n
    assert r.failed_evaluations == 0
    assert r.time.total_seconds() > 0
    assert "log_evidence" in repr(r) and "a" in str(r)


# --------------------------------------------------------------------------------------------
# NestedSamples: draws, conversions, containers, pickling
# --------------------------------------------------------------------------------------------


def test_equal_weight_draws_are_reproducible(gaussian_run):
    r = gaussian_run
    draws = r.samples()
    assert draws.shape == (math.ceil(r.ess), 2)
    assert r.samples(500).shape == (500, 2)
    # The same seed (by default the run's) gives the same draws; another seed others.
    np.testing.assert_array_equal(r.samples(), draws)
    np.testing.assert_array_equal(r.samples(300, seed=7), r.samples(300, seed=7))
    np.testing.assert_array_equal(r.samples(seed=r.seed), draws)
    assert not np.array_equal(r.samples(300, seed=7), r.samples(300, seed=8))
    # Every draw is one of the run's points, and the draws follow the weighted posterior.
    points = {tuple(p) for p in r.positions}
    assert all(tuple(d) in points for d in draws)
    assert np.all(np.abs(draws.mean(axis=0) - r.mean) < 4 * SD / np.sqrt(len(draws)))
    # Systematic resampling keeps likelihood order; the draws are shuffled.
    ll = dict(zip(map(tuple, r.positions), r.log_likelihoods))
    assert not np.all(np.diff([ll[tuple(d)] for d in draws]) >= 0)
    with pytest.raises(ValueError, match="n must be at least 1"):
        r.samples(0)


def test_to_samples_summary_and_arviz(gaussian_run):
    r = gaussian_run
    s = r.to_samples()
    assert isinstance(s, diffid.Samples)
    assert s.chains.shape == (1, math.ceil(r.ess), 2)
    np.testing.assert_array_equal(s.samples, r.samples())
    assert s.parameter_names == ["a", "b"]
    assert s.sampler == "dynamic_nested"
    assert s.evaluations == r.evaluations
    assert s.termination_reason == r.termination_reason
    assert r.to_samples(200).chains.shape == (1, 200, 2)

    summary = r.summary()
    assert isinstance(summary, diffid.Summary)
    assert set(summary) == {"a", "b"}
    assert set(summary["a"]) == {
        "mean", "sd", "q5", "q50", "q95", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "rhat"
    }
    assert summary["a"]["mcse_mean"] == pytest.approx(summary["a"]["sd"] / np.sqrt(r.ess))
    table = str(summary)
    assert "parameter" in table and "a" in table and "b" in table

    idata = r.to_arviz()
    post = idata.posterior
    assert set(post.data_vars) == {"a", "b"}
    for j, name in enumerate(["a", "b"]):
        assert post[name].dims == ("chain", "draw")
        assert post[name].shape == (1, math.ceil(r.ess))
        np.testing.assert_array_equal(post[name].values[0], r.samples()[:, j])
    assert post.attrs["log_evidence"] == r.log_evidence
    assert post.attrs["log_evidence_error"] == r.log_evidence_error


def test_containers_and_posterior_tuples(gaussian_run):
    r = gaussian_run
    n = len(r)
    assert n == r.draws == r.positions.shape[0]
    post = r.posterior
    assert isinstance(post, list) and len(post) == n
    x, ll, lw = post[10]
    np.testing.assert_array_equal(x, r.positions[10])
    assert ll == r.log_likelihoods[10] and lw == r.log_weights[10]
    assert isinstance(ll, float) and isinstance(lw, float)
    items = list(r)
    assert len(items) == n
    np.testing.assert_array_equal(items[-1][0], r.positions[-1])
    assert items[-1][1] == r.log_likelihoods.max()
    first = r[0]
    np.testing.assert_array_equal(first[0], r.positions[0])
    assert first[1:] == (r.log_likelihoods[0], r.log_weights[0])
    assert len(r[5:8]) == 3
    np.testing.assert_array_equal(r["b"], r.positions[:, 1])
    with pytest.raises(KeyError, match="nope"):
        r["nope"]


def test_nested_samples_pickle_and_copy(gaussian_run):
    r = gaussian_run
    for other in (pickle.loads(pickle.dumps(r)), copy.deepcopy(r)):
        assert isinstance(other, diffid.NestedSamples)
        for attr in ("positions", "log_likelihoods", "log_weights", "log_volumes", "n_live"):
            np.testing.assert_array_equal(getattr(other, attr), getattr(r, attr))
        for attr in ("parameter_names", "log_evidence", "log_evidence_error", "information",
                     "ess", "evaluations", "failed_evaluations", "batches",
                     "termination_reason", "time", "seed"):
            assert getattr(other, attr) == getattr(r, attr), attr
        np.testing.assert_array_equal(other.samples(), r.samples())
        # NaN (R-hat, tail ESS) compares unequal to itself: compare with numpy's rules.
        np.testing.assert_equal(dict(other.summary()), dict(r.summary()))


# --------------------------------------------------------------------------------------------
# Determinism and ask/tell
# --------------------------------------------------------------------------------------------


def test_same_seed_bit_identical_at_any_thread_count():
    sampler = DNS().with_live_points(16).with_max_batches(2).with_seed(3)
    runs = [decay_problem(parallel=n).sample(sampler=sampler) for n in (1, 2, 3)]
    assert runs[0].batches == 2
    for r in runs[1:]:
        assert_same_run(runs[0], r)
    # sampler.run(problem) is the same run again.
    assert_same_run(sampler.run(decay_problem(parallel=2)), runs[0])
    # And a different seed gives a different run (the comparison is not vacuous).
    other = decay_problem(parallel=2).sample(sampler=sampler.with_seed(4))
    assert other.log_evidence != runs[0].log_evidence
    assert not np.array_equal(other.positions[:100], runs[0].positions[:100])


def test_thread_pool_executor_gives_the_same_run():
    sampler = DNS().with_max_batches(2).with_seed(2)
    reference = gaussian_problem().sample(sampler=sampler)
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        problem = (
            diffid.ScalarBuilder()
            .with_objective(gaussian_nll)
            .with_executor(pool)
            .with_parameter("a", 0.0, prior=diffid.Uniform(*A_PRIOR))
            .with_parameter("b", 0.0, prior=diffid.Uniform(*B_PRIOR))
            .build()
        )
        pooled = problem.sample(sampler=sampler)
    assert_same_run(reference, pooled)


@pytest.mark.parametrize("priors", ["bounds", "priors"])
def test_ask_tell_equals_problem_sample(priors):
    # The same likelihood on both paths: a ScalarBuilder problem around the callable that is
    # told by hand, with the same priors.
    sampler = DNS().with_live_points(32).with_max_batches(2).with_seed(21)
    if priors == "bounds":
        problem = gaussian_problem()
        state = sampler.init([0.0, 0.0], bounds=[A_PRIOR, B_PRIOR])
    else:
        problem = (
            diffid.ScalarBuilder()
            .with_objective(gaussian_nll)
            .with_parameter("a", 0.0, prior=diffid.Normal(1.0, 2.0))
            .with_parameter("b", 0.0, prior=diffid.Uniform(*B_PRIOR))
            .build()
        )
        state = sampler.init([0.0, 0.0], priors=[diffid.Normal(1.0, 2.0), diffid.Uniform(*B_PRIOR)])
    by_hand = drive(state, gaussian_nll)
    run = problem.sample(sampler=sampler)
    assert isinstance(by_hand, diffid.NestedSamples)
    assert by_hand.log_evidence == run.log_evidence
    np.testing.assert_array_equal(by_hand.positions, run.positions)
    np.testing.assert_array_equal(by_hand.log_weights, run.log_weights)
    assert by_hand.evaluations == run.evaluations
    assert by_hand.termination_reason == run.termination_reason == "completed"
    assert by_hand.parameter_names == ["x0", "x1"]
    assert state.evaluations() == run.evaluations
    assert state.iterations() == len(run)
    assert np.isnan(state.acceptance_rate())


def test_telling_inf_above_the_value_cap_gives_the_same_run():
    # A hand-driven likelihood that stops at the cap: every value at or above it is told as
    # inf (a rejection). The points, weights and evidence are those of the exact run; the
    # cap is there once the live points are drawn, never before.
    sampler = DNS().with_live_points(32).with_max_batches(1).with_seed(4)
    runs = []
    for use_cap in (False, True):
        state = sampler.init([0.0, 0.0], bounds=[A_PRIOR, B_PRIOR])
        caps = []
        while isinstance(step := state.ask(), diffid.Evaluate):
            cap = state.value_cap()
            caps.append(cap)
            values = [gaussian_nll(x) for x in step.points]
            if use_cap and cap is not None:
                values = [v if v < cap else math.inf for v in values]
            state.tell(values)
        runs.append(step.result)
        assert caps[0] is None  # the first draw from the prior uses every value
        assert sum(c is not None for c in caps) > len(caps) / 2
    exact, capped = runs
    assert capped.log_evidence == exact.log_evidence
    np.testing.assert_array_equal(capped.positions, exact.positions)
    np.testing.assert_array_equal(capped.log_weights, exact.log_weights)
    assert capped.evaluations == exact.evaluations
    assert capped.failed_evaluations > exact.failed_evaluations == 0


def test_tell_with_the_wrong_count_and_after_the_end():
    state = DNS().with_live_points(8).with_max_batches(0).with_seed(0).init(
        [0.0, 0.0], bounds=[(-5.0, 5.0), (-5.0, 5.0)]
    )
    step = state.ask()
    assert isinstance(step, diffid.Evaluate)
    n = len(step.points)
    assert n >= 8  # the initial live points (at least)
    with pytest.raises(diffid.ResultCountMismatch, match=rf"expected {n}.*received 1"):
        state.tell([1.0])
    with pytest.raises(diffid.ResultCountMismatch):
        state.tell([1.0] * (n + 1))
    # The refused tells left the state as it was: the right count goes through.
    state.tell([standard_normal_nll(x) for x in step.points])
    partial = state.samples()
    assert isinstance(partial, diffid.NestedSamples)
    assert partial.termination_reason == "cancelled"
    result = drive(state, standard_normal_nll)
    assert isinstance(result, diffid.NestedSamples)
    assert result.batches == 0
    done = state.ask()
    assert isinstance(done, diffid.Done) and isinstance(done.result, diffid.NestedSamples)
    with pytest.raises(diffid.AlreadyTerminated, match="terminated"):
        state.tell([1.0])


# --------------------------------------------------------------------------------------------
# Model comparison
# --------------------------------------------------------------------------------------------


def test_bayes_factor_prefers_the_true_model():
    sampler = DNS().with_live_points(32).with_max_batches(2).with_seed(5)
    true = decay_problem().sample(sampler=sampler)
    wrong = decay_problem(LINEAR_MODEL).sample(sampler=sampler)
    log_b, error = diffid.bayes_factor(true, wrong)
    assert log_b == true.log_evidence - wrong.log_evidence
    assert error == pytest.approx(math.hypot(true.log_evidence_error, wrong.log_evidence_error),
                                  rel=1e-12)
    # A straight line through exponential decay data with sd 0.1 noise is decisively worse:
    # ln B is hundreds of nats, far beyond both its error and the usual "decisive" 5.
    assert log_b > 50, (true, wrong)
    assert log_b > 20 * error
    # Reversed, the sign flips and the error stays.
    back, back_error = diffid.bayes_factor(wrong, true)
    assert back == -log_b and back_error == error
    # The true model's posterior covers the generating values.
    assert abs(true.mean[0] - DECAY_TRUE["k"]) < 0.1
    assert abs(true.mean[1] - DECAY_TRUE["y0"]) < 0.2


def test_bayes_factor_needs_nested_samples(gaussian_run):
    mcmc = gaussian_problem().sample(
        sampler=diffid.MetropolisHastings().with_iterations(20).with_seed(0)
    )
    with pytest.raises(TypeError, match="NestedSamples.*Samples"):
        diffid.bayes_factor(gaussian_run, mcmc)
    with pytest.raises(TypeError, match="float"):
        diffid.bayes_factor(1.0, gaussian_run)
    assert diffid.bayes_factor(gaussian_run, gaussian_run) == (
        0.0, pytest.approx(math.sqrt(2) * gaussian_run.log_evidence_error)
    )


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: DNS().with_termination_tolerance(0.0), ["dlogz", "0"]),
        (lambda: DNS().with_termination_tolerance(-1.0), ["dlogz", "-1"]),
        (lambda: DNS().with_termination_tolerance(float("nan")), ["dlogz"]),
        (lambda: DNS().with_termination_tolerance(float("inf")), ["dlogz"]),
        (lambda: DNS().with_bound("ellipse"), ["bound", "ellipse", "multi"]),
        (lambda: DNS().with_sampling("nuts"), ["sampling", "nuts", "slice"]),
        (lambda: DNS().with_live_points(1), ["live_points", "1"]),
        (lambda: DNS().with_batch_size(1), ["batch_size", "1"]),
        (lambda: DNS().with_posterior_fraction(1.5), ["posterior fraction", "1.5"]),
        (lambda: DNS().with_posterior_fraction(-0.1), ["posterior fraction"]),
        (lambda: DNS().with_queue_size(0), ["queue_size"]),
        (lambda: DNS().with_walks(0), ["walks"]),
        (lambda: DNS().with_max_evaluations(0), ["max_evaluations"]),
        (lambda: DNS().with_expansion_factor(-0.1), ["expansion factor"]),
        (lambda: DNS().with_target_ess(-1.0), ["effective sample size"]),
        (lambda: DNS().with_target_error(float("nan")), ["error"]),
    ],
)
def test_invalid_settings_raise_value_error(make, words):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value).lower()
    for w in words:
        assert w in message, message


def test_valid_bound_and_sampling_settings_are_accepted():
    for bound in ("balls", "multi", "single", "none"):
        assert f"bound={bound.capitalize()}" in repr(DNS().with_bound(bound))
    sampling = {"auto": "Auto", "uniform": "Uniform", "rwalk": "RandomWalk", "slice": "Slice"}
    for name, shown in sampling.items():
        assert f"sampling={shown}" in repr(DNS().with_sampling(name))


def test_too_few_live_points_raise_at_sample():
    problem = (
        diffid.ScalarBuilder()
        .with_objective(lambda x: 0.5 * float(np.dot(x, x)))
        .with_parameter("a", 0.0, bounds=(-1.0, 1.0))
        .with_parameter("b", 0.0, bounds=(-1.0, 1.0))
        .with_parameter("c", 0.0, bounds=(-1.0, 1.0))
        .build()
    )
    sampler = DNS().with_live_points(3).with_seed(0)  # valid on its own; 3 parameters need 4
    for start in (
        lambda: problem.sample(sampler=sampler),
        lambda: sampler.run(problem),
        lambda: sampler.init([0.0, 0.0, 0.0], bounds=[(-1.0, 1.0)] * 3),
    ):
        with pytest.raises(ValueError, match="live_points") as info:
            start()
        assert "d = 3" in str(info.value)
    with pytest.raises(ValueError, match="batch_size"):
        problem.sample(sampler=DNS().with_batch_size(3))
    # Four live points are enough.
    r = problem.sample(sampler=DNS().with_live_points(4).with_max_batches(0).with_seed(0))
    assert r.termination_reason == "completed"


def test_parameter_without_prior_or_bounds_is_a_build_error_naming_it():
    problem = (
        diffid.ScalarBuilder()
        .with_objective(standard_normal_nll)
        .with_parameter("a", 0.5, prior=diffid.Normal(0.0, 3.0))
        .with_parameter("unbounded_b", 0.1)
        .build()
    )
    with pytest.raises(diffid.BuildError, match=r"'unbounded_b'.*no prior"):
        problem.sample(sampler=DNS().with_seed(0))


def test_least_squares_cost_is_a_build_error():
    problem = (
        diffid.DiffsolBuilder()
        .with_diffsl(DECAY_MODEL)
        .with_data(NOISY_DATA)
        .with_parameter("k", 0.6, prior=diffid.Uniform(*K_PRIOR))
        .with_parameter("y0", 2.8, prior=diffid.Uniform(*Y0_PRIOR))
        .build()
    )
    with pytest.raises(diffid.BuildError, match="GaussianNLL"):
        problem.sample(sampler=DNS().with_seed(0))


def test_likelihood_zero_everywhere_is_an_evaluation_error():
    # A callable returning inf (zero likelihood) at every point.
    problem = gaussian_problem(lambda x: float("inf"))
    with pytest.raises(diffid.EvaluationError, match="all") as info:
        problem.sample(sampler=DNS().with_live_points(20).with_seed(0))
    message = str(info.value)
    assert "-inf or fails at all 20 points" in message
    assert "prior" in message


def test_ode_solve_failing_everywhere_is_an_evaluation_error():
    # c in (2, 3): every solve blows up before the last data time.
    problem = blowup_problem(c_prior=(2.0, 3.0))
    with pytest.raises(diffid.EvaluationError, match="all 10 points"):
        problem.sample(sampler=DNS().with_live_points(10).with_seed(0))


def test_hand_driven_failure_everywhere_is_an_evaluation_error():
    state = DNS().with_live_points(12).with_seed(0).init([0.0, 0.0], bounds=[(-5.0, 5.0)] * 2)
    step = state.ask()
    assert len(step.points) >= 12
    state.tell([None] * len(step.points))
    with pytest.raises(diffid.EvaluationError, match="all") as info:
        state.ask()
    # The message counts the points drawn from the prior (12), as problem.sample's does.
    assert "all 12 points" in str(info.value), str(info.value)


@pytest.mark.parametrize("bad", [float("nan"), None, float("inf")], ids=["nan", "none", "inf"])
def test_failed_likelihoods_on_part_of_the_prior_are_counted_rejections(bad):
    told_bad = 0

    def nll(x):
        nonlocal told_bad
        if x[0] > 1.0:
            told_bad += 1
            return bad
        return standard_normal_nll(x)

    state = DNS().with_seed(4).init([0.0, 0.0], bounds=[(-5.0, 5.0), (-5.0, 5.0)])
    r = drive(state, nll)
    assert r.termination_reason == "completed"
    assert told_bad > 50
    assert r.failed_evaluations == told_bad
    # The points that count lie where the likelihood is defined: a failure is zero likelihood
    # (initial live points where it failed are kept with ln L = -inf and zero weight).
    assert np.all(r.positions[r.weights > 0, 0] <= 1.0)
    assert np.all(np.isneginf(r.log_likelihoods[r.positions[:, 0] > 1.0]))
    # So the evidence is that of the normal cut at x0 = 1: Φ(1) of its mass, over the box.
    truth = math.log((phi(1.0) - phi(-5.0)) * (phi(5.0) - phi(-5.0)) / 100.0)
    assert abs(r.log_evidence - truth) < 4 * r.log_evidence_error, (r.log_evidence, truth)


def test_failed_ode_solves_on_part_of_the_prior_are_counted_rejections():
    problem = blowup_problem()
    r = problem.sample(sampler=DNS().with_live_points(32).with_max_batches(1).with_seed(0))
    assert r.termination_reason == "completed"
    assert 0 < r.failed_evaluations < r.evaluations
    assert r.positions[r.weights > 0, 0].max() < 1.0 / 0.9
    # The evidence by quadrature: the likelihood is defined (and all its mass lies) below
    # c = 1, the prior is uniform on (0, 3).
    cs = np.linspace(0.05, 1.0, 2001)
    ll = np.array([problem.log_likelihood([c]) for c in cs])
    peak = ll.max()
    log_z = peak + np.log(np.trapezoid(np.exp(ll - peak), cs) / 3.0)
    assert np.exp(ll[[0, -1]] - peak).max() < 1e-12  # the grid holds all the mass
    assert abs(r.log_evidence - log_z) < 4 * r.log_evidence_error, (r.log_evidence, log_z)


# --------------------------------------------------------------------------------------------
# Callback, progress, budget, Ctrl-C
# --------------------------------------------------------------------------------------------


def test_callback_stops_the_run_with_the_points_so_far():
    seen = []

    def callback(progress):
        seen.append((progress.iteration, progress.evaluations))
        return progress.iteration >= 300

    r = gaussian_problem().sample(sampler=DNS().with_seed(0), callback=callback)
    assert isinstance(r, diffid.NestedSamples)
    assert r.termination_reason == "callback"
    assert seen[-1][0] >= 300 and all(i < 300 for i, _ in seen[:-1])
    assert [e for _, e in seen] == sorted(e for _, e in seen)
    assert r.evaluations == seen[-1][1]
    # The partial run counts its live points too: its evidence is finite.
    assert len(r) >= seen[-1][0]
    assert np.isfinite(r.log_evidence)


def test_callback_exception_propagates_with_the_points_so_far():
    def callback(progress):
        if progress.iteration >= 100:
            raise LookupError("stop here")

    with pytest.raises(LookupError, match="stop here") as info:
        gaussian_problem().sample(sampler=DNS().with_seed(0), callback=callback)
    partial = info.value.result
    assert isinstance(partial, diffid.NestedSamples)
    assert len(partial) >= 100
    assert partial.parameter_names == ["a", "b"]


def test_progress_writes_to_stderr(capsys):
    gaussian_problem().sample(sampler=DNS().with_max_batches(0).with_seed(0), progress=True)
    captured = capsys.readouterr()
    assert "evaluations" in captured.err
    assert captured.out == ""


def test_evaluation_budget_and_static_runs():
    r = gaussian_problem().sample(sampler=DNS().with_max_evaluations(1000).with_seed(1))
    assert r.termination_reason == "max_evaluations"
    assert r.evaluations <= 1000 + 16  # at most one batch of candidates over
    static = gaussian_problem().sample(sampler=DNS().with_max_batches(0).with_seed(1))
    assert static.termination_reason == "completed"
    assert static.batches == 0
    assert np.all(static.n_live <= 64)


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
    # Targets that are never met: dynamic batches until Ctrl-C.
    sampler = (
        diffid.DynamicNestedSampler().with_live_points(20).with_target_ess(1e15)
        .with_target_error(0.0).with_seed(0)
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
            print("RESULT", type(r).__name__, len(r), r.positions.shape[1], r.batches,
                  r.termination_reason, bool(np.isfinite(r.log_evidence)),
                  bool(np.isfinite(r.positions).all()), flush=True)
        sys.exit(0)
    print("FINISHED WITHOUT INTERRUPT", flush=True)
    sys.exit(3)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["diffsl", "callable"])
def test_ctrl_c_interrupts_nested_sampling_with_the_points_so_far(tmp_path, kind):
    script = tmp_path / "interrupt_nested.py"
    tests = str(REPO_ROOT / "bindings" / "python" / "tests")
    script.write_text(INTERRUPT_SCRIPT.format(tests=tests, kind=kind))
    _, type_name, n_points, dim, batches, reason, finite_z, finite_x = interrupt_script(script, 1.0)
    assert type_name == "NestedSamples"
    assert int(dim) == 2
    assert int(n_points) > 20
    assert int(batches) >= 1  # the baseline had finished: it was adding batches
    assert reason == "cancelled"
    assert finite_z == "True" and finite_x == "True"


# --------------------------------------------------------------------------------------------
# run_plot
# --------------------------------------------------------------------------------------------


def test_run_plot_draws_the_likelihood_and_the_cumulative_evidence(gaussian_run, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = gaussian_run
    try:
        fig, axes = plotting.run_plot(r)
        assert axes.shape == (2,)
        ax_l, ax_z = axes
        assert fig is ax_l.figure is ax_z.figure
        (line_l,) = ax_l.get_lines()
        np.testing.assert_array_equal(line_l.get_xdata(), r.log_volumes)
        np.testing.assert_array_equal(line_l.get_ydata(), r.log_likelihoods)
        (line_z,) = ax_z.get_lines()
        np.testing.assert_array_equal(line_z.get_xdata(), r.log_volumes)
        cumulative = np.asarray(line_z.get_ydata())
        np.testing.assert_allclose(cumulative, np.cumsum(r.weights) / r.weights.sum(), rtol=1e-12)
        assert cumulative[-1] == pytest.approx(1.0)
        assert np.all(np.diff(cumulative) >= 0)
        # The final ln Z ± error in the title; ln X axes read from 0 (the whole prior) on.
        title = ax_z.get_title()
        assert f"{r.log_evidence:.3f}" in title and f"{r.log_evidence_error:.3f}" in title
        assert "ln Z" in title
        assert ax_l.xaxis_inverted() and ax_z.xaxis_inverted()
        assert "ln X" in ax_l.get_xlabel() and "ln L" in ax_l.get_ylabel()
        assert "evidence" in ax_z.get_ylabel()

        # Into given axes; initial points with ln L = -inf are left out of the left panel.
        fig2, given = plt.subplots(2, 2)
        r2 = pickle.loads(pickle.dumps(r))
        r2.log_likelihoods[:3] = -np.inf
        _, drawn = plotting.run_plot(r2, axes=given)
        assert drawn[0] is given[0, 0] and drawn[1] is given[0, 1]
        assert len(given[0, 0].get_lines()[0].get_xdata()) == len(r) - 3
        assert not given[1, 0].get_lines()

        calls = []
        monkeypatch.setattr(plt, "show", lambda *a, **k: calls.append(1))
        plotting.run_plot(r, show=True)
        assert calls == [1]
        assert "run_plot" in plotting.__all__

        with pytest.raises(TypeError, match="NestedSamples"):
            plotting.run_plot(r.to_samples())
        with pytest.raises(ValueError, match="2 axes"):
            plotting.run_plot(r, axes=[ax_l])
        # A nested result is also a weighted corner plot.
        _, grid = plotting.corner(r)
        assert grid.shape == (2, 2)
    finally:
        plt.close("all")
