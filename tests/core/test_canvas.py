"""Preparing a drawing like MNIST: real sample digits, drawn big and off-centre, come back as themselves."""

from __future__ import annotations

import numpy as np
import pytest

from core.canvas import (
    BOX,
    EmptyDrawingError,
    area_resize,
    centre_of_mass,
    ink_intensity,
    prepare_drawing,
)
from core.data import load_dataset
from core.errors import CoreError

CANVAS = 280


def sample_digits(count: int = 20) -> np.ndarray:
    """The first ``count`` test digits of the bundled sample, float 0..1, (N, 28, 28)."""
    return load_dataset("sample").test_images[:count, ..., 0].astype(np.float32) / 255.0


def drawn_on_canvas(digit: np.ndarray, factor: int, top: int, left: int) -> np.ndarray:
    """The digit as a person would draw it on a white 280x280 canvas: dark ink, ``factor`` times
    bigger, with its 28x28 field's corner at (top, left). RGBA uint8 like the canvas sends."""
    big = np.kron(digit, np.ones((factor, factor), np.float32))
    ink = np.zeros((CANVAS, CANVAS), np.float32)
    ink[top : top + big.shape[0], left : left + big.shape[1]] = big
    grey = np.round((1.0 - ink) * 255).astype(np.uint8)
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_a_sample_digit_drawn_three_times_bigger_off_centre_comes_back_as_itself():
    digits = sample_digits()
    scores, errors = [], []
    for i, digit in enumerate(digits):
        drawing = drawn_on_canvas(digit, factor=3, top=10 + 7 * (i % 5), left=150 - 11 * (i % 7))
        prepared = prepare_drawing(drawing).image[..., 0]
        scores.append(correlation(prepared, digit))
        errors.append(float(np.mean((prepared - digit) ** 2)))
    assert min(scores) > 0.9, scores
    assert np.mean(scores) > 0.97
    assert max(errors) < 0.02


def test_a_digit_drawn_at_a_size_that_is_not_a_whole_multiple_still_matches():
    scores, best_within_a_pixel = [], []
    for digit in sample_digits(50):
        canvas = np.zeros((CANVAS, CANVAS), np.float32)
        canvas[60:250, 5:195] = area_resize(digit, 190, 190)  # 6.8 times bigger: pixels do not line up
        prepared = prepare_drawing(canvas).image[..., 0]
        scores.append(correlation(prepared, digit))
        # the centre of mass is rounded to a whole pixel, as MNIST did: a digit whose mass sat
        # near a half pixel may land one pixel over, which thin strokes punish
        best_within_a_pixel.append(
            max(correlation(np.roll(prepared, (dy, dx), (0, 1)), digit) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
        )
    assert np.median(scores) > 0.99
    assert min(best_within_a_pixel) > 0.95


def test_every_polarity_and_format_gives_the_same_digit():
    digit = sample_digits(1)[0]
    dark_on_white = drawn_on_canvas(digit, 3, 40, 40)
    ink = 255 - dark_on_white[..., 0]
    white_on_black = ink
    transparent = np.dstack([np.zeros_like(ink)] * 3 + [ink])  # black strokes on a transparent canvas
    rgb = dark_on_white[..., :3]
    float_grey = ink.astype(np.float32) / 255.0
    expected = prepare_drawing(dark_on_white).image
    for drawing in (white_on_black, transparent, rgb, float_grey, white_on_black[..., None]):
        np.testing.assert_allclose(prepare_drawing(drawing).image, expected, atol=1e-5)


def test_the_prepared_digit_is_twenty_pixels_long_and_centred_by_mass():
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    canvas[20:200, 230:260] = 255  # a tall bar, like a "1", near the right edge
    prepared = prepare_drawing(canvas)
    image = prepared.image[..., 0]
    assert image.shape == (28, 28) and image.dtype == np.float32
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    assert rows[-1] - rows[0] + 1 == BOX
    assert cols[-1] - cols[0] + 1 <= 5  # 30 px wide * 20/180
    row, col = centre_of_mass(image)
    assert abs(row - 14.0) <= 0.5 and abs(col - 14.0) <= 0.5
    assert prepared.box == (20, 230, 200, 260)
    assert prepared.scale == pytest.approx(20 / 180)
    assert image.max() == pytest.approx(1.0)


def test_a_blank_canvas_says_draw_something_first():
    for blank in (
        np.full((CANVAS, CANVAS, 4), 255, np.uint8),  # white paper
        np.zeros((CANVAS, CANVAS, 4), np.uint8),  # the canvas before any stroke: transparent
        np.zeros((CANVAS, CANVAS), np.float32),
    ):
        with pytest.raises(EmptyDrawingError, match="draw a digit first"):
            prepare_drawing(blank)


def test_a_speck_of_ink_is_not_a_digit_but_a_dot_is_scaled_up():
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    canvas[100, 100] = 0.01
    with pytest.raises(EmptyDrawingError):
        prepare_drawing(canvas)
    canvas[100:104, 100:104] = 1.0
    prepared = prepare_drawing(canvas)
    # the 4x4 dot grows 5 times to a solid 20x20 square (every output pixel lies inside one inked
    # pixel); its centre of mass (9.5, 9.5) moves to 14 by round(4.5) = 4 pixels
    expected = np.zeros((28, 28), np.float32)
    expected[4:24, 4:24] = 1.0
    np.testing.assert_allclose(prepared.image[..., 0], expected, atol=1e-6)
    assert prepared.scale == 5.0 and prepared.box == (100, 100, 104, 104) and prepared.corner == (4, 4)


def test_a_short_stroke_grows_to_twenty_pixels_keeping_its_aspect():
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    canvas[50:52, 200:206] = 0.6  # 2 rows x 6 columns of faint ink (scaled to 1 like any drawing)
    prepared = prepare_drawing(canvas)
    # scale 20/6: 6 columns -> 20, 2 rows -> round(6.67) = 7; a solid 7x20 bar with its centre of
    # mass at (3, 9.5), moved by (round(11), round(4.5)) = (11, 4)
    expected = np.zeros((28, 28), np.float32)
    expected[11:18, 4:24] = 1.0
    np.testing.assert_allclose(prepared.image[..., 0], expected, atol=1e-6)
    assert prepared.scale == pytest.approx(20 / 6) and prepared.corner == (11, 4)


def test_a_digit_with_its_mass_far_off_centre_is_clipped_not_an_error():
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    canvas[0:200, 0:4] = 1.0  # a long bar ...
    canvas[190:200, 0:200] = 1.0  # ... and a heavy foot pull the centre of mass into a corner
    canvas[150:200, 150:200] = 1.0
    image = prepare_drawing(canvas).image
    assert image.shape == (28, 28, 1) and np.isfinite(image).all()


def test_a_wrong_shape_is_refused_with_a_clear_message():
    with pytest.raises(CoreError, match="grey, RGB or RGBA"):
        prepare_drawing(np.zeros((5, 5, 2)))
    with pytest.raises(CoreError, match="not numbers"):
        prepare_drawing(np.full((5, 5), np.nan))


def test_area_resize_keeps_the_mean_and_averages_blocks():
    image = np.arange(36, dtype=np.float32).reshape(6, 6)
    halved = area_resize(image, 3, 3)
    np.testing.assert_allclose(halved, image.reshape(3, 2, 3, 2).mean(axis=(1, 3)))
    odd = area_resize(image, 4, 5)
    assert odd.mean() == pytest.approx(image.mean(), rel=1e-5)


def test_ink_on_a_transparent_canvas_is_its_opacity():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[1, 1] = (255, 255, 255, 255)  # white ink counts as ink too
    rgba[2, 2] = (0, 0, 0, 128)
    ink = ink_intensity(rgba)
    assert ink[1, 1] == 1.0 and ink[2, 2] == pytest.approx(128 / 255) and ink[0, 0] == 0.0
