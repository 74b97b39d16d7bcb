"""Latent-space exploration maths: axes, slider ranges, PCA round trips, interpolation, and a
decode that does not compile again when a slider moves."""

from __future__ import annotations

import numpy as np
import pytest

from core import predict
from core.errors import CoreError
from core.latent import interpolate, latent_axes, pca_axes, slider_ranges
from core.models import init_variables
from core.spec import ModelSpec


def correlated_codes(n: int = 400, size: int = 16, seed: int = 0) -> np.ndarray:
    """Codes that mostly vary along two directions, plus a little noise, around a non-zero mean."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(size, size)))[0][:2]
    coords = rng.normal(size=(n, 2)) * np.array([5.0, 2.0])
    return (3.0 + coords @ basis + 0.05 * rng.normal(size=(n, size))).astype(np.float32)


def test_a_small_code_gets_one_axis_per_number():
    codes = np.random.default_rng(0).normal(size=(100, 3)) * np.array([1.0, 2.0, 0.0])
    axes = latent_axes(codes)
    assert not axes.principal and axes.count == 3
    assert axes.names() == ["code number 1", "code number 2", "code number 3"]
    np.testing.assert_allclose(axes.coordinates(codes), codes, atol=1e-6)
    np.testing.assert_allclose(axes.codes_at([0.5, -1.0, 2.0]), [[0.5, -1.0, 2.0]])
    assert sum(axes.variance_share) == pytest.approx(1.0) and axes.variance_share[2] == 0.0


def test_a_wide_code_gets_its_two_main_directions():
    codes = correlated_codes()
    axes = latent_axes(codes)
    assert axes.principal and axes.count == 2 and axes.code_size == 16
    np.testing.assert_allclose(axes.directions @ axes.directions.T, np.eye(2), atol=1e-6)
    assert axes.variance_share[0] > 0.8 and sum(axes.variance_share) > 0.99
    assert axes.names()[0].startswith("main direction 1 (")


def test_pca_point_maps_back_to_a_full_code_that_lies_on_the_plane():
    codes = correlated_codes()
    axes = pca_axes(codes)
    coords = axes.coordinates(codes)
    rebuilt = axes.codes_at(coords)
    # the two directions hold almost all of the spread: the round trip loses only the noise
    assert np.sqrt(np.mean((rebuilt - codes) ** 2)) < 0.1
    # and a point of the plane round-trips exactly
    np.testing.assert_allclose(axes.coordinates(axes.codes_at([1.5, -2.0])), [[1.5, -2.0]], atol=1e-5)
    np.testing.assert_allclose(axes.codes_at([0.0, 0.0])[0], codes.mean(axis=0), atol=1e-5)


def test_pca_coordinates_are_the_points_of_the_results_map():
    codes = correlated_codes()
    points, share = predict.project_2d(codes)
    axes = pca_axes(codes)
    np.testing.assert_allclose(axes.coordinates(codes), points, atol=1e-4)
    assert axes.variance_share == pytest.approx(share)


def test_slider_ranges_cover_the_codes_with_a_margin_and_ignore_outliers():
    coords = np.concatenate([np.linspace(-1.0, 1.0, 999)[:, None], [[1000.0]]])
    low, high = slider_ranges(coords)
    assert low[0] == pytest.approx(-1.0 - 0.25 * 2.0, abs=0.05)
    assert high[0] == pytest.approx(1.0 + 0.25 * 2.0, abs=0.1)  # the outlier at 1000 does not stretch it


def test_a_dead_unit_still_gets_a_usable_slider():
    coords = np.zeros((50, 2))
    coords[:, 1] = np.linspace(0, 4, 50)
    low, high = slider_ranges(coords)
    assert (low[0], high[0]) == (-1.0, 1.0)
    assert low[1] < 0.1 and high[1] > 3.9


@pytest.mark.parametrize("value", [1e8, -1e8, 3e38, 3.4e38], ids=["1e8", "-1e8", "3e38", "float32-max"])
def test_a_constant_enormous_code_still_gets_a_slider_of_distinct_finite_ends(value):
    coords = np.full((50, 2), value, np.float32)
    low, high = slider_ranges(coords)
    assert low.dtype == np.float32 and np.all(np.isfinite(low)) and np.all(np.isfinite(high))
    assert np.all(low < high)
    assert np.all(high - low.astype(np.float64) >= abs(value) * 1e-3)  # a step of a 200th of it is no zero


def test_codes_spread_over_all_of_float32_get_finite_slider_ends():
    coords = np.array([[-3e38], [3e38]], np.float32)
    low, high = slider_ranges(coords)
    limit = np.finfo(np.float32).max
    assert (low[0], high[0]) == (-limit, limit)


def test_interpolation_is_a_straight_line_including_both_ends():
    start, end = np.array([0.0, 10.0]), np.array([4.0, -10.0])
    path = interpolate(start, end, 5)
    np.testing.assert_allclose(path, [[0, 10], [1, 5], [2, 0], [3, -5], [4, -10]])
    with pytest.raises(CoreError, match="at least 2 steps"):
        interpolate(start, end, 1)
    with pytest.raises(CoreError, match="same size"):
        interpolate(start, np.zeros(3), 4)


def test_bad_codes_are_refused_with_a_message():
    with pytest.raises(CoreError, match="shape"):
        latent_axes(np.zeros(5))
    with pytest.raises(CoreError, match="not a number"):
        latent_axes(np.full((3, 2), np.nan))
    with pytest.raises(CoreError, match="at least 2 codes"):
        pca_axes(np.zeros((1, 8)))
    with pytest.raises(CoreError, match="2 coordinates"):
        pca_axes(correlated_codes()).codes_at([1.0, 2.0, 3.0])


def test_decoding_slider_moves_compiles_once():
    spec = ModelSpec.autoencoder((32, 8), (32,))
    params = init_variables(spec)["params"]
    axes = latent_axes(predict.encode(spec, params, np.zeros((4, 28, 28, 1), np.uint8)))
    predict.decode(spec, params, axes.codes_at([0.0] * axes.count))  # first call compiles
    before = predict._decode._cache_size()
    for value in np.linspace(-3, 3, 20):
        image = predict.decode(spec, params, axes.codes_at([value] * axes.count))
        assert image.shape == (1, 28, 28, 1)
    assert predict._decode._cache_size() == before
