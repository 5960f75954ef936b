"""VectorBuilder: fitting a Python model's predictions to data with the cost metrics."""

import numpy as np
import pytest

import diffid

T = np.linspace(0.0, 4.0, 21)


def model(p):
    k, y0 = p
    return y0 * np.exp(-k * T)


def two_outputs(p):
    k, y0 = p
    y = y0 * np.exp(-k * T)
    return np.column_stack((y, 2.0 * y))


def problem(f=model, data=None, **kw):
    data = np.column_stack((T, model([0.7, 3.0]))) if data is None else data
    b = diffid.VectorBuilder().with_objective(f).with_data(data)
    b = b.with_parameter("k", 0.2).with_parameter("y0", 1.0)
    for metric in kw.get("costs", []):
        b = b.with_cost(metric)
    return b.build()


def test_fits_a_python_model_to_data():
    result = problem().optimise(optimiser=diffid.NelderMead().with_threshold(1e-14))
    np.testing.assert_allclose(result.x, [0.7, 3.0], rtol=1e-5)


def test_multi_output_models_match_the_data_columns():
    data = np.column_stack((T, two_outputs([0.7, 3.0])))
    p = problem(two_outputs, data)
    assert p.evaluate([0.7, 3.0]) == pytest.approx(0.0, abs=1e-20)
    residual = two_outputs([0.5, 3.0]) - data[:, 1:]
    assert p.evaluate([0.5, 3.0]) == pytest.approx(np.sum(residual**2))


def test_cost_metrics_apply_to_the_predictions():
    p = problem(costs=[diffid.GaussianNLL(variance=0.5), diffid.SSE(weight=2.0)])
    r = model([0.5, 2.0]) - model([0.7, 3.0])
    expected = 0.5 * np.sum(r**2 / 0.5 + np.log(2 * np.pi * 0.5)) + 2.0 * np.sum(r**2)
    assert p.evaluate([0.5, 2.0]) == pytest.approx(expected, rel=1e-12)


def test_wrong_prediction_shape_is_an_evaluation_error_naming_the_shape():
    p = problem(lambda q: np.ones(5))
    with pytest.raises(diffid.EvaluationError) as info:
        p.optimise()
    assert isinstance(info.value.__cause__, ValueError)
    assert "(21, 1)" in str(info.value)


def test_model_exceptions_are_chained():
    def broken(q):
        raise KeyError("missing state")

    with pytest.raises(diffid.EvaluationError) as info:
        problem(broken).evaluate([0.1, 0.2])
    assert isinstance(info.value.__cause__, KeyError)


def test_build_needs_model_and_data():
    with pytest.raises(diffid.BuildError, match="with_objective"):
        diffid.VectorBuilder().with_data(np.column_stack((T, T))).build()
    with pytest.raises(diffid.BuildError, match="with_data"):
        diffid.VectorBuilder().with_objective(model).build()
    with pytest.raises(diffid.BuildError, match="row 1"):
        diffid.VectorBuilder().with_data(np.array([[0.0, 1.0], [0.0, 2.0]]))
