"""Arrays from Python are read as they are: non-contiguous views, Fortran order, read-only
arrays, lists and integer arrays give exactly what the contiguous float64 array gives."""

import numpy as np
import pytest

import diffid
from support import DECAY_MODEL, DECAY_TIMES, decay_solution


def data():
    return np.column_stack([DECAY_TIMES, decay_solution(0.7, 3.0)])


def build(table):
    return (
        diffid.DiffsolBuilder()
        .with_diffsl(DECAY_MODEL)
        .with_data(table)
        .with_parameter("k", 0.5, bounds=(0.01, 5.0))
        .with_parameter("y0", 2.0, bounds=(0.1, 10.0))
        .with_parallel(False)
        .build()
    )


def read_only(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize(
    "make",
    [
        lambda d: np.asfortranarray(d),
        lambda d: np.ascontiguousarray(d[:, ::-1])[:, ::-1],  # negative strides
        lambda d: np.repeat(d, 2, axis=0)[::2],  # every other row of a bigger array
        read_only,
        lambda d: d.tolist(),
    ],
    ids=["fortran", "reversed", "strided", "read-only", "list"],
)
def test_data_in_any_layout_builds_the_same_problem(make):
    reference = build(data())
    other = build(make(data()))
    x = [0.6, 2.5]
    assert other.evaluate(x) == reference.evaluate(x)
    np.testing.assert_array_equal(other.data(), reference.data())


@pytest.mark.parametrize(
    "make",
    [
        lambda x: np.array([9.0, x[0], 9.0, x[1]])[1::2],
        read_only,
        lambda x: list(x),
        lambda x: np.array([[x[0], x[1]]]).T[:, 0],  # a column of a transposed array
    ],
    ids=["strided", "read-only", "list", "column"],
)
def test_points_in_any_layout_evaluate_the_same(make):
    problem = build(data())
    x = np.array([0.6, 2.5])
    assert problem.evaluate(make(x)) == problem.evaluate(x)
    np.testing.assert_array_equal(problem.evaluate_gradient(make(x)), problem.evaluate_gradient(x))


def test_integer_arrays_are_read_as_floats():
    problem = build(data())
    assert problem.evaluate(np.array([1, 3])) == problem.evaluate([1.0, 3.0])


def test_a_python_model_may_return_a_strided_or_read_only_array():
    t = DECAY_TIMES

    def strided(p):
        y = decay_solution(p[0], p[1], t)
        return np.column_stack([y, y])[:, 0]  # a non-contiguous column

    def frozen(p):
        return read_only(decay_solution(p[0], p[1], t))

    def build_vector(f):
        return (
            diffid.VectorBuilder()
            .with_objective(f)
            .with_data(data())
            .with_parameter("k", 0.5, bounds=(0.01, 5.0))
            .with_parameter("y0", 2.0, bounds=(0.1, 10.0))
            .build()
        )

    x = [0.6, 2.5]
    assert build_vector(strided).evaluate(x) == build_vector(frozen).evaluate(x)


def test_schedule_times_take_a_number_or_a_flat_list_and_name_the_argument():
    b = diffid.DiffsolBuilder()
    for ok in (1.0, [1.0, 2.0], np.arange(1, 3), np.array([0.5, 9.0, 1.5])[::2]):
        b.with_breakpoints(ok)
    with pytest.raises(ValueError, match=r"with_breakpoints expects .* 1-D .* shape \[1, 2\]"):
        b.with_breakpoints(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"non-empty"):
        b.with_breakpoints([])
    with pytest.raises(TypeError, match="with_breakpoints expects a number or a list"):
        b.with_breakpoints("soon")
