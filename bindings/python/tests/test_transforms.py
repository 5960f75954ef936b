"""Parameter transforms: log and logit searches in natural units, checked when given."""

import numpy as np
import pytest

import diffid


@pytest.mark.parametrize(
    "builder",
    [
        lambda: diffid.DiffsolBuilder(),
        lambda: diffid.ScalarBuilder(),
        lambda: diffid.VectorBuilder(),
    ],
    ids=["diffsol", "scalar", "vector"],
)
def test_bad_parameters_raise_build_error_when_given(builder):
    b = builder()
    cases = [
        (("k", 0.5), {"bounds": (2.0, 1.0)}, "bound"),
        (("k", 5.0), {"bounds": (0.0, 1.0)}, "outside"),
        (("k", 0.5), {"bounds": (-1.0, 1.0), "transform": "log"}, "log"),
        (("k", -0.5), {"transform": "log"}, "log"),
        (("k", 0.5), {"transform": "logit"}, "finite"),
        (("k", 0.0), {"bounds": (0.0, 1.0), "transform": "logit"}, "bound"),
        (("k", 0.5), {"transform": "cube"}, "transform"),
    ]
    for args, kwargs, word in cases:
        with pytest.raises(diffid.BuildError) as info:
            b.with_parameter(*args, **kwargs)
        assert word in str(info.value), str(info.value)
        assert "'k'" in str(info.value) or "transform" in str(info.value)


def test_log_and_logit_fits_agree_with_the_plain_fit(decay_builder):
    plain = decay_builder.with_parameter("k", 0.2).with_parameter("y0", 1.0).build()
    transformed = (
        decay_builder.with_parameter("k", 0.2, transform="log")
        .with_parameter("y0", 1.0, bounds=(0.1, 10.0), transform="logit")
        .build()
    )
    # A log transform with no lower bound implies positivity.
    assert transformed.bounds()[0] == (0.0, float("inf"))
    for opt in (diffid.LBFGSB(), diffid.NelderMead()):
        a = plain.optimise(optimiser=opt)
        b = transformed.optimise(optimiser=opt)
        np.testing.assert_allclose(b.x, [0.7, 3.0], rtol=1e-3)
        np.testing.assert_allclose(a.x, b.x, rtol=1e-3)
    assert "(log)" in repr(transformed) and "(logit)" in repr(transformed)


def test_a_log_search_reaches_rates_orders_of_magnitude_away():
    # f is minimal at k = 1e-3; the start is 1000 times larger.
    problem = (
        diffid.ScalarBuilder()
        .with_objective(lambda x: float(np.log10(x[0] / 1e-3) ** 2))
        .with_parameter("k", 1.0, transform="log")
        .build()
    )
    r = problem.optimise(optimiser=diffid.NelderMead().with_threshold(1e-12))
    assert r.x[0] == pytest.approx(1e-3, rel=1e-4)
    assert r.x[0] > 0.0


def test_every_evaluated_point_lies_inside_the_bounds_with_logit():
    seen = []

    def f(x):
        seen.append(x.copy())
        return float((x[0] - 5.0) ** 2)  # the minimum lies outside the box

    problem = (
        diffid.ScalarBuilder()
        .with_objective(f)
        .with_parameter("x", 0.5, bounds=(0.0, 1.0), transform="logit")
        .build()
    )
    for opt in (diffid.CMAES().with_seed(1).with_max_iter(50), diffid.Adam().with_step_size(0.5).with_max_iter(200)):
        r = problem.optimise(optimiser=opt)
        assert r.x[0] > 0.99
    assert seen and all(0.0 <= p[0] <= 1.0 for p in seen)
