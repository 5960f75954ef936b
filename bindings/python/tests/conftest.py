"""Shared fixtures for the diffid Python test-suite.

Two models are used throughout:

* the seed tutorial's Lotka–Volterra model, fitted to ``data/lotka_volterra_seed.csv``
  (columns ``t, prey, predator``), exactly as the tutorial builds it;
* a small exponential-decay model ``y' = -k y, y(0) = y0`` whose noise-free data comes from
  the exact solution ``y0 * exp(-k t)``, so known parameters can be recovered precisely.

Constants and plain helpers are in ``support.py``.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import diffid
from support import (
    BLOWUP_MODEL,
    BLOWUP_TIMES,
    BLOWUP_TRUE_C,
    DECAY_MODEL,
    DECAY_TIMES,
    DECAY_TRUE,
    REPO_ROOT,
    SEED_MODEL,
    decay_solution,
    load_seed_data,
    seed_builder,
)


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def seed_model() -> str:
    return SEED_MODEL


@pytest.fixture
def seed_data() -> np.ndarray:
    data = load_seed_data()
    assert data.shape == (500, 3)
    return data


@pytest.fixture
def seed_base(seed_model, seed_data) -> diffid.DiffsolBuilder:
    """The seed's builder with model, data, the four parameters and SSE."""
    return seed_builder(seed_model, seed_data)


@pytest.fixture(scope="session")
def decay_model() -> str:
    return DECAY_MODEL


@pytest.fixture
def decay_data() -> np.ndarray:
    """Noise-free data of the decay model at k = 0.7, y0 = 3.0."""
    return np.column_stack(
        (DECAY_TIMES, decay_solution(DECAY_TRUE["k"], DECAY_TRUE["y0"]))
    )


@pytest.fixture
def decay_builder(decay_model, decay_data) -> diffid.DiffsolBuilder:
    """The decay model with its data, no parameters yet."""
    return diffid.DiffsolBuilder().with_diffsl(decay_model).with_data(decay_data)


@pytest.fixture
def decay_problem(decay_builder) -> diffid.Problem:
    """The decay model fitting both k and y0, started far from the truth."""
    return decay_builder.with_parameter("k", 0.2).with_parameter("y0", 1.0).build()


@pytest.fixture
def blowup_builder() -> diffid.DiffsolBuilder:
    data = np.column_stack((BLOWUP_TIMES, 1.0 / (1.0 - BLOWUP_TRUE_C * BLOWUP_TIMES)))
    return diffid.DiffsolBuilder().with_diffsl(BLOWUP_MODEL).with_data(data)
