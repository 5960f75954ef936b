"""Problems and samplers on executors' workers: a Dask LocalCluster of two worker processes,
process pools and map-only pools give results bit-identical to local runs, with the work done
in the workers; an executor that fails mid-run raises ExecutorError naming the batch, with the
best result so far on it; a forked worker runs a problem that already ran in its parent."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os

import numpy as np
import pytest

import diffid
import diffid._cluster
from support import SEED_INITIAL, load_seed_data, seed_builder, SEED_MODEL

distributed = pytest.importorskip("distributed")


def seed_problem_builder():
    return seed_builder(SEED_MODEL, load_seed_data()).with_optimiser(
        diffid.CMAES().with_seed(11).with_max_iter(12).with_population_size(8)
    )


def decay_posterior(decay_model, decay_data):
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(decay_model)
        .with_data(decay_data)
        .with_parameter("k", 0.5, bounds=(0.05, 3.0))
        .with_parameter("y0", 2.5, bounds=(0.5, 6.0))
        .with_cost(diffid.GaussianNLL(variance=1e-2))
    )


def same_result(a, b):
    assert a.x.tolist() == b.x.tolist()
    assert a.value == b.value
    assert (a.iterations, a.evaluations) == (b.iterations, b.evaluations)
    assert a.history.tolist() == b.history.tolist()


@pytest.fixture(scope="module")
def dask_client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def worker_points(client) -> int:
    counts = client.run(lambda: diffid._cluster.evaluated_points)
    assert len(counts) == 2
    return sum(counts.values())


def test_a_diffsl_fit_on_a_dask_cluster_equals_the_local_fit(dask_client):
    local = seed_problem_builder().build().optimise()
    before = worker_points(dask_client)
    remote = seed_problem_builder().with_executor(dask_client).build().optimise()
    same_result(remote, local)
    # Every population member was evaluated in the workers' processes, none here.
    assert worker_points(dask_client) - before == local.evaluations
    assert diffid._cluster.evaluated_points == 0
    pids = dask_client.run(os.getpid)
    assert os.getpid() not in pids.values()


def test_samplers_on_a_dask_cluster_equal_local_runs(dask_client, decay_model, decay_data):
    problem = decay_posterior(decay_model, decay_data).build()
    mh = diffid.MetropolisHastings().with_seed(3).with_num_chains(4).with_iterations(60)
    local = problem.sample(sampler=mh)
    before = worker_points(dask_client)
    remote = problem.sample(sampler=mh.with_executor(dask_client))
    assert np.array_equal(remote.chains, local.chains)
    assert worker_points(dask_client) - before > 0
    nested = diffid.DynamicNestedSampler().with_seed(4).with_live_points(40).with_max_batches(1)
    a = problem.sample(sampler=nested)
    b = nested.with_executor(dask_client).run(problem)
    assert b.log_evidence == a.log_evidence
    assert np.array_equal(b.positions, a.positions)


def test_process_and_map_only_pools_equal_local_runs(decay_model, decay_data):
    problem = decay_posterior(decay_model, decay_data).build()
    ensemble = diffid.EnsembleSampler().with_seed(5).with_walkers(8).with_iterations(30)
    local = problem.sample(sampler=ensemble)
    with cf.ProcessPoolExecutor(2) as pool:
        via_pool = problem.sample(sampler=ensemble.with_executor(pool))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:  # map only, as Ray's pool
        via_map = ensemble.with_executor(pool).run(problem)
    assert np.array_equal(via_pool.chains, local.chains)
    assert np.array_equal(via_map.chains, local.chains)


class FailsAfter:
    """An executor whose submit starts raising after `n` batches' worth of calls."""

    def __init__(self, inner, n_calls):
        self.inner = inner
        self.left = n_calls

    def submit(self, f, *args):
        self.left -= 1
        if self.left < 0:
            raise ConnectionError("lost the worker")
        return self.inner.submit(f, *args)


def test_an_executor_failing_mid_run_names_the_batch_and_keeps_the_best_so_far():
    with cf.ThreadPoolExecutor(2) as pool:
        flaky = FailsAfter(pool, 2 * 5)  # two chunks per batch: five batches, then a failure
        problem = seed_problem_builder().with_executor(flaky).build()
        with pytest.raises(diffid.ExecutorError, match="batch 6") as info:
            problem.optimise()
    assert isinstance(info.value.__cause__, ConnectionError)
    partial = info.value.result
    # Five good batches; the sixth, cut short by the failure, is not told: the result is the
    # run as it stood after the fifth.
    assert (partial.evaluations, partial.failed_evaluations) == (5 * 8, 0)
    assert partial.termination_reason == "cancelled"
    local = seed_problem_builder().build()
    assert partial.value == local.evaluate(partial.x)


def _run_in_child(problem, queue):
    r = problem.optimise()
    queue.put((r.x.tolist(), r.evaluations))


def test_a_forked_worker_runs_a_problem_its_parent_already_ran():
    problem = seed_problem_builder().with_parallel(2).build()
    here = problem.optimise()  # the parent's thread pool now exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_run_in_child, args=(problem, queue))
    child.start()
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung on the parent's thread pool")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == (here.x.tolist(), here.evaluations)


def test_the_default_thread_count_honours_diffid_num_threads(tmp_path):
    import subprocess
    import sys

    code = (
        "import diffid\n"
        "p = diffid.ScalarBuilder().with_objective(lambda x: float(x[0]**2)).with_parameter('a', 1.0).build()\n"
        "from support import SEED_MODEL, load_seed_data, seed_builder\n"
        "q = seed_builder(SEED_MODEL, load_seed_data()).build()\n"
        "q.optimise(optimiser=diffid.CMAES().with_max_iter(1))\n"
    )
    env = dict(os.environ, DIFFID_NUM_THREADS="lots", PYTHONPATH=os.path.dirname(__file__))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0
    assert "DIFFID_NUM_THREADS must be a positive integer" in out.stderr
    env["DIFFID_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
