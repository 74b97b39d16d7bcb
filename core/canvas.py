"""A digit drawn by hand -> a 28x28 image prepared the way MNIST digits were.

MNIST (LeCun et al.) took each scanned digit, fitted it into a 20x20 box keeping its
aspect ratio (anti-aliasing gives the grey edges), and placed it in a 28x28 field so that
its centre of mass sits at the centre. A model trained on MNIST expects exactly that:
white ink on black, about 20 pixels tall, centred by mass. A drawing that skips these
steps (a small digit in a corner, dark ink on white) looks like nothing the model has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import CoreError
from core.i18n import N_

FIELD = 28  # MNIST images are 28x28
BOX = 20  # the longer side of every MNIST digit's bounding box
#: Where the centre of mass of MNIST digits lies (row, column); measured on the bundled
#: sample: 13.99 +- 0.29 in both directions, i.e. the centre of pixel 14.
CENTRE_OF_MASS = (14.0, 14.0)
#: Pixels with less ink than this (0..1, after scaling the strongest ink to 1) do not count
#: towards the bounding box: it ignores specks and the faint edge of an anti-aliased stroke.
INK_THRESHOLD = 0.05


class EmptyDrawingError(CoreError):
    """The drawing holds no ink, so there is no digit to prepare."""


@dataclass(frozen=True)
class PreparedDigit:
    """A drawing turned into an MNIST-style digit, and how it got there."""

    image: np.ndarray  # float32 (28, 28, 1), white ink on black, 0..1
    box: tuple[int, int, int, int]  # the ink's bounding box in the drawing: top, left, bottom, right (exclusive)
    scale: float  # how much the box was shrunk (or grown) to make its longer side 20 pixels
    corner: tuple[int, int]  # where the scaled digit's top-left pixel landed in the 28x28 field (row, column)


def ink_intensity(drawing: np.ndarray) -> np.ndarray:
    """How much ink each pixel holds, 0..1 (float32, shape (H, W)), whatever the colours.

    Accepts grey (H, W), (H, W, 1), RGB or RGBA arrays, uint8 (0..255) or float (0..1).
    A transparent background (a drawing canvas's default) counts the opaque strokes as ink;
    an opaque one is read as paper, light or dark, from the border pixels, and ink is
    whatever differs from it. So black on white, white on black and MNIST itself all work.
    """
    array = np.asarray(drawing)
    array = array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or min(array.shape[:2]) < 1:
        raise CoreError(
            N_("a drawing must be a grey, RGB or RGBA image, got an array of shape {shape}"), shape=np.shape(drawing)
        )
    if not np.all(np.isfinite(array)):
        raise CoreError(N_("the drawing holds values that are not numbers"))
    array = np.clip(array, 0.0, 1.0)
    luminance = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, as Pillow's convert("L")
    grey = array[..., :3] @ luminance if array.shape[2] >= 3 else array[..., 0]
    alpha = array[..., 3] if array.shape[2] == 4 else np.ones_like(grey)
    if np.median(_border(alpha)) < 0.5:
        return alpha
    paper_is_light = np.median(_border(grey)) >= 0.5
    ink = 1.0 - grey if paper_is_light else grey
    return ink * alpha


def _border(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])


def area_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a 2-D image by area averaging: each output pixel is the mean of the input area it
    covers (fractional pixels weighted by overlap). Anti-aliased like MNIST's grey edges."""
    image = np.asarray(image, np.float32)
    return _area_weights(image.shape[0], height) @ image @ _area_weights(image.shape[1], width).T


def _area_weights(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) matrix: the share of each output pixel covered by each input pixel."""
    edges = np.linspace(0.0, size_in, size_out + 1)
    starts, ends = edges[:-1, None], edges[1:, None]
    pixels = np.arange(size_in)[None, :]
    overlap = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0.0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the ink's centre of mass of a 2-D image with some ink."""
    rows, cols = np.indices(image.shape)
    total = float(image.sum())
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def prepare_drawing(drawing: np.ndarray) -> PreparedDigit:
    """Crop the ink, scale its longer side to 20 pixels, and centre it by mass in 28x28.

    Raises EmptyDrawingError for a blank drawing (nothing to classify yet).
    """
    ink = ink_intensity(drawing)
    strongest = float(ink.max())
    if strongest <= INK_THRESHOLD:
        raise EmptyDrawingError(N_("the canvas is empty: draw a digit first"))
    ink = ink / strongest
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    cropped = ink[top:bottom, left:right]
    scale = BOX / max(cropped.shape)
    height = max(1, round(cropped.shape[0] * scale))
    width = max(1, round(cropped.shape[1] * scale))
    digit = area_resize(cropped, height, width)

    centre_row, centre_col = centre_of_mass(digit)
    offset_row = round(CENTRE_OF_MASS[0] - centre_row)
    offset_col = round(CENTRE_OF_MASS[1] - centre_col)
    field = np.zeros((FIELD, FIELD), np.float32)
    _paste(field, digit, offset_row, offset_col)
    return PreparedDigit(
        image=np.clip(field, 0.0, 1.0)[..., None],
        box=(top, left, bottom, right),
        scale=scale,
        corner=(offset_row, offset_col),
    )


def _paste(field: np.ndarray, digit: np.ndarray, row: int, col: int) -> None:
    """Copy ``digit`` into ``field`` with its top-left corner at (row, col), clipped at the edges
    (a lopsided digit whose centre of mass is far from its middle may stick out a little)."""
    top, left = max(row, 0), max(col, 0)
    bottom = min(row + digit.shape[0], field.shape[0])
    right = min(col + digit.shape[1], field.shape[1])
    if bottom > top and right > left:
        field[top:bottom, left:right] = digit[top - row : bottom - row, left - col : right - col]
