"""Image tiling: many small images -> one uint8 picture, sent to the browser as one PNG.

One ``st.image`` of a tiled grid is one encode and one request; 64 separate images would
be 64 (and the default JPEG encoding smears digits, so callers pass ``output_format="PNG"``).
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
    """uint8 pixels from uint8 or float-in-0..1 images, dropping a trailing channel of 1 (a pixel
    that is not a number, from a broken model, is drawn black)."""
    images = np.asarray(images)
    if images.ndim >= 3 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.dtype != np.uint8:
        images = np.clip(np.round(np.nan_to_num(images * 255.0, nan=0.0)), 0, 255).astype(np.uint8)
    return images


#: The scale of one image shown alone (a drawn digit, a decoded one): 28x28 pixels shown 224 wide.
BIG = 8


def tile(images: np.ndarray, cols: int, scale: int = 3, pad: int = 2, background: int = 255) -> np.ndarray:
    """Arrange (N, H, W[, 1]) images in rows of ``cols``, each upscaled ``scale`` times by
    repeating pixels (crisp, no blur), separated by ``pad`` pixels of ``background``."""
    images = to_uint8(images)
    n, h, w = images.shape
    rows = max(1, -(-n // cols))
    big_h, big_w = h * scale, w * scale
    canvas = np.full((rows * (big_h + pad) - pad, cols * (big_w + pad) - pad), background, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        canvas[r * (big_h + pad) : r * (big_h + pad) + big_h, c * (big_w + pad) : c * (big_w + pad) + big_w] = np.kron(
            image, np.ones((scale, scale), np.uint8)
        )
    return canvas


def invert(picture: np.ndarray) -> np.ndarray:
    """Dark ink on white paper, as people write digits (MNIST stores white ink on black)."""
    return 255 - picture


def png_data_url(picture: np.ndarray) -> str:
    """A uint8 picture as a ``data:image/png`` URL, which ``st.image`` sends inside the page's own message:
    no ``/media`` file for the browser to fetch, so a picture redrawn every second is never one that the
    next redraw has already removed from the server (a 404 and a broken image)."""
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
