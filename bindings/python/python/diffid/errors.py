"""The diffid exception hierarchy.

``DiffidError`` is the base of ``BuildError`` (bad model, data, parameters or settings),
``EvaluationError`` (an evaluation failed where a value was required), ``ExecutorError`` (an
executor failed on a batch, or is not an executor), ``CheckpointError`` (a checkpoint that
cannot be written, read or used for this run) and ``TellError``
(with ``ResultCountMismatch`` and ``AlreadyTerminated``) for ask/tell misuse. Invalid optimiser
or metric settings raise ``ValueError`` when they are given.
"""

from ._diffid import (
    AlreadyTerminated,
    BuildError,
    CheckpointError,
    DiffidError,
    EvaluationError,
    ExecutorError,
    ResultCountMismatch,
    TellError,
)

__all__ = [
    "AlreadyTerminated",
    "BuildError",
    "CheckpointError",
    "DiffidError",
    "EvaluationError",
    "ExecutorError",
    "ResultCountMismatch",
    "TellError",
]
