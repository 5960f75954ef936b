"""Python callables evaluated by concurrent.futures executors."""

import concurrent.futures as cf

import numpy as np
import pytest

import diffid
from support import DECAY_TIMES, decay_predictions, decay_solution, fails_above_two, shifted_sphere


def scalar(executor=None, objective=shifted_sphere):
    b = diffid.ScalarBuilder().with_objective(objective)
    if executor is not None:
        b = b.with_executor(executor)
    return b.with_parameter("a", 0.0).with_parameter("b", 3.0).with_parameter("c", -1.0).build()


def test_thread_and_process_pools_give_the_sequential_result():
    opt = diffid.CMAES().with_seed(5).with_max_iter(60)
    reference = scalar().optimise(optimiser=opt)
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        threaded = scalar(pool).optimise(optimiser=opt)
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        processes = scalar(pool).optimise(optimiser=opt)
    for r in (threaded, processes):
        np.testing.assert_array_equal(r.x, reference.x)
        assert r.evaluations == reference.evaluations


class MapOnly:
    """An executor with map but no submit, counting the batches it is given."""

    def __init__(self):
        self.batches = []

    def map(self, f, xs):
        xs = list(xs)
        self.batches.append(len(xs))
        return map(f, xs)


def test_an_executor_with_only_map_gets_whole_populations():
    ex = MapOnly()
    opt = diffid.CMAES().with_seed(1).with_max_iter(5).with_population_size(6)
    scalar(ex).optimise(optimiser=opt)
    assert ex.batches == [6] * 5


def test_a_vector_model_in_a_process_pool():
    data = np.column_stack((DECAY_TIMES, decay_solution(0.7, 3.0)))
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        problem = (
            diffid.VectorBuilder()
            .with_objective(decay_predictions)
            .with_executor(pool)
            .with_data(data)
            .with_parameter("k", 0.3)
            .with_parameter("y0", 1.0)
            .build()
        )
        r = problem.optimise(optimiser=diffid.CMAES().with_seed(3).with_threshold(1e-12))
    np.testing.assert_allclose(r.x, [0.7, 3.0], rtol=1e-4)


@pytest.mark.parametrize("kind", ["process", "map"])
def test_an_exception_inside_the_executor_becomes_evaluation_error(kind):
    opt = diffid.CMAES().with_seed(2).with_step_size(2.0).with_max_iter(50)
    if kind == "process":
        with cf.ProcessPoolExecutor(max_workers=2) as pool:
            with pytest.raises(diffid.EvaluationError) as info:
                scalar(pool, fails_above_two).optimise(optimiser=opt)
    else:
        with pytest.raises(diffid.EvaluationError) as info:
            scalar(MapOnly(), fails_above_two).optimise(optimiser=opt)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "refusing" in str(info.value.__cause__)
    assert info.value.point[0] > 2.0


def test_something_that_is_not_an_executor_is_refused():
    with pytest.raises(diffid.ExecutorError, match="concurrent.futures.*got object"):
        diffid.ScalarBuilder().with_executor(object())
    with pytest.raises(diffid.ExecutorError, match="neither submit nor map"):
        diffid.VectorBuilder().with_executor(42)
    with pytest.raises(diffid.ExecutorError, match="got str"):
        diffid.DiffsolBuilder().with_executor("localhost:8786")
    for sampler in (diffid.MetropolisHastings(), diffid.EnsembleSampler(), diffid.DynamicNestedSampler()):
        with pytest.raises(diffid.ExecutorError):
            sampler.with_executor(None)
    with pytest.raises(ValueError, match="threads_per_worker"):
        diffid.DiffsolBuilder().with_executor(cf.ThreadPoolExecutor(1), threads_per_worker=0)


def test_gradients_of_an_executor_problem_still_work():
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        p = scalar(pool)
        np.testing.assert_allclose(p.evaluate_gradient([0.0, 0.0, 0.0]), [-3.0, -3.0, -3.0], rtol=1e-6)
        r = p.optimise(optimiser=diffid.LBFGSB().with_threshold(1e-14))
    np.testing.assert_allclose(r.x, [1.5, 1.5, 1.5], atol=1e-5)


class Interrupting:
    """An executor whose futures raise KeyboardInterrupt from the third one on."""

    def __init__(self):
        self.calls = 0
        self.cancelled = 0

    def submit(self, f, x):
        me = self
        me.calls += 1
        n = me.calls

        class Future:
            def result(self):
                if n >= 3:
                    raise KeyboardInterrupt
                return f(x)

            def cancel(self):
                me.cancelled += 1
                return True

        return Future()


def test_ctrl_c_inside_an_executor_batch_is_a_keyboard_interrupt():
    ex = Interrupting()
    with pytest.raises(KeyboardInterrupt):
        scalar(ex).optimise(optimiser=diffid.CMAES().with_seed(1).with_population_size(6))
    # The futures after the interrupted one were cancelled, not waited for.
    assert ex.cancelled == 3
