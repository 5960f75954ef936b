"""The record ``Problem.parameters()`` returns for each fitted parameter."""

from __future__ import annotations

from typing import NamedTuple


class ParameterSpec(NamedTuple):
    """A fitted parameter as it was declared: ``(name, initial, bounds)``.

    A plain tuple too, as the earlier release returned it; ``bounds`` is ``(lower, upper)``,
    or ``None`` for a parameter declared without bounds.
    """

    name: str
    initial: float
    bounds: tuple[float, float] | None


ParameterSpec.__module__ = "diffid"
