"""Sending batches to an executor's workers (the Python half of ``with_executor``).

A batch of points is split into chunks, one per worker slot; each worker evaluates its chunk in
Rust with the GIL released, using a copy of the problem it received once (Dask: an actor per
worker process holding the problem, called directly for each batch; ``submit``/``map``
executors: pickled bytes that each worker process unpickles and builds once, then keeps). The results come back in order, so a run is bit-identical to the
same run evaluated locally.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from ._diffid import ExecutorError

# Worker side -----------------------------------------------------------------------------

#: Problems this worker process has received, by their pickle: each is built once.
_PROBLEMS: dict[bytes, Any] = {}
#: Points this process has evaluated for an executor (tests read it to see where work ran).
evaluated_points = 0


def _problem(blob: bytes):
    problem = _PROBLEMS.get(blob)
    if problem is None:
        if len(_PROBLEMS) >= 16:
            _PROBLEMS.pop(next(iter(_PROBLEMS)))
        problem = _PROBLEMS[blob] = pickle.loads(blob)
    return problem


def _evaluate(problem, points) -> tuple[int, list]:
    global evaluated_points
    values = problem._evaluate_batch(points)
    evaluated_points += len(values)
    return os.getpid(), values


def evaluate_chunk(problem_or_blob, points) -> tuple[int, list]:
    """Evaluates ``points`` (rows) in this worker: ``(pid, [float or failure reason, ...])``."""
    problem = _problem(problem_or_blob) if isinstance(problem_or_blob, bytes) else problem_or_blob
    return _evaluate(problem, points)


def evaluate_task(task) -> tuple[int, list]:
    """``evaluate_chunk`` for executors whose ``map`` passes one argument."""
    return evaluate_chunk(*task)


class Holder:
    """A Dask actor holding the problem in one worker: batches are sent to it directly,
    worker to client, without a round trip through the scheduler for each task."""

    def __init__(self, problem):
        self.problem = problem

    def evaluate(self, points) -> tuple[int, list]:
        return _evaluate(self.problem, points)


# Caller side -----------------------------------------------------------------------------


def _is_dask(executor) -> bool:
    return all(callable(getattr(executor, a, None)) for a in ("scatter", "gather", "submit")) and (
        type(executor).__module__.split(".")[0] == "distributed"
    )


def _slots(executor) -> int:
    """How many chunks a batch is split into: the executor's worker slots (for Dask, its
    worker processes, each evaluating its chunk on ``threads_per_worker`` threads)."""
    if _is_dask(executor):
        try:
            return max(len(executor.scheduler_info()["workers"]), 1)
        except Exception:
            pass
    for attr in ("_max_workers", "_processes", "num_workers", "max_workers"):
        n = getattr(executor, attr, None)
        if isinstance(n, int) and n > 0:
            return n
    return os.cpu_count() or 1


class Dispatcher:
    """Evaluates batches of one problem through one executor."""

    def __init__(self, executor, problem):
        self.executor = executor
        self.problem = problem
        self.batches = 0
        #: The worker processes that evaluated points.
        self.pids: set[int] = set()
        self._shared = None
        self._blob = None
        self._is_dask = _is_dask(executor)
        #: Chunks per batch: the executor's worker slots, asked once (for Dask, a round trip
        #: to the scheduler).
        self.slots = _slots(executor)

    def _dask(self, chunks):
        client = self.executor
        if self._shared is None:
            # One actor per worker process, each holding the problem: sent once, built once.
            workers = sorted(client.scheduler_info()["workers"])
            futures = [
                client.submit(Holder, self.problem, workers=[w], actor=True, pure=False)
                for w in workers
            ]
            self._shared = [f.result() for f in futures]
        actors = self._shared
        calls = [actors[i % len(actors)].evaluate(c) for i, c in enumerate(chunks)]
        return [c.result() for c in calls]

    def _pickled(self) -> bytes:
        if self._blob is None:
            self._blob = pickle.dumps(self.problem)
        return self._blob

    def _submit(self, chunks):
        blob = self._pickled()
        futures = [self.executor.submit(evaluate_chunk, blob, c) for c in chunks]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def _map(self, chunks):
        blob = self._pickled()
        return list(self.executor.map(evaluate_task, [(blob, c) for c in chunks]))

    def evaluate(self, points) -> list:
        """The values (or failure reasons) at the rows of ``points``, in order."""
        self.batches += 1
        points = np.asarray(points, dtype=float)
        n_chunks = max(1, min(len(points), self.slots))
        chunks = np.array_split(points, n_chunks)
        try:
            if self._is_dask:
                results = self._dask(chunks)
            elif callable(getattr(self.executor, "submit", None)):
                results = self._submit(chunks)
            else:
                results = self._map(chunks)
        except Exception as e:
            raise ExecutorError(
                f"the executor failed on batch {self.batches} ({len(points)} points in "
                f"{n_chunks} chunks): {type(e).__name__}: {e}"
            ) from e
        out: list = []
        for pid, values in results:
            self.pids.add(pid)
            out.extend(values)
        return out
