"""What the live views of a training show: a model's answers on a few test images, its map of
latent codes and its first layer's weights, from one set of parameters (a job's latest report)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core import inside, models, predict
from core.data import Dataset
from core.spec import MLPSpec, ModelSpec

LIVE_IMAGES = 8
MAP_IMAGES = 500
WEIGHT_UNITS = 16


@dataclass(frozen=True)
class LiveViews:
    """What the views show, computed from one set of parameters (plain arrays, no streamlit)."""

    images: np.ndarray  # (LIVE_IMAGES, 28, 28, 1) uint8
    labels: np.ndarray
    answers: np.ndarray | None  # MLP: predicted class per image
    confidence: np.ndarray | None
    rebuilt: np.ndarray | None  # autoencoder: reconstructions in 0..1
    map_points: np.ndarray | None  # autoencoder: (MAP_IMAGES, 2)
    map_labels: np.ndarray | None
    map_share: tuple[float, float] | None
    weights: np.ndarray  # (WEIGHT_UNITS, 28, 28) in 0..1, 0.5 = a weight of 0


def compute_live_views(spec: ModelSpec, variables: Any, dataset: Dataset) -> LiveViews:
    """Everything the live views draw for these parameters: a few small jitted calls (the benchmark times it)."""
    images, labels = dataset.test_images[:LIVE_IMAGES], dataset.test_labels[:LIVE_IMAGES]
    weights = first_layer_images(spec, variables)
    if isinstance(spec, MLPSpec):
        chances = predict.predict_probabilities(spec, variables, images)
        return LiveViews(images, labels, chances.argmax(1), chances.max(1), None, None, None, None, weights)
    rebuilt = predict.reconstruct(spec, variables, images)
    codes = predict.encode(spec, variables, dataset.test_images[:MAP_IMAGES])
    if np.all(np.isfinite(codes)) and len(codes) >= 2:
        points, share = predict.project_2d(codes)
    else:  # a diverged model: no map rather than an error
        points, share = None, None
    return LiveViews(images, labels, None, None, rebuilt, points, dataset.test_labels[:MAP_IMAGES], share, weights)


def first_layer_images(spec: ModelSpec, variables: Any) -> np.ndarray:
    """The first layer's weights as (WEIGHT_UNITS, 28, 28) images in 0..1: a Dense layer's incoming
    weights per unit, or a convolution's KxK filters (one per channel) enlarged to 28x28."""
    placed = zip(models.layer_paths(spec), spec.layer_shapes(), strict=True)
    path = next(path for path, one in placed if one.layer.matrix_flops(one.input_shape))  # the first with a kernel
    kernel = inside.kernel_of(variables, path)
    height, width = spec.input_shape[:2]
    if kernel.ndim == 2:
        return inside.weight_images(kernel, (height, width), WEIGHT_UNITS)
    filters = kernel.reshape(-1, kernel.shape[-1])  # (K * K * channels, filters)
    small = inside.weight_images(filters, (kernel.shape[0], kernel.shape[1] * kernel.shape[2]), WEIGHT_UNITS)
    rows = np.arange(height) * small.shape[1] // height
    cols = np.arange(width) * small.shape[2] // width
    return small[:, rows][:, :, cols]
