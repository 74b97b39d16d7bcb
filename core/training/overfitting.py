"""The overfitting lab's maths: training on part of the images, input noise and the L2 penalty.

- ``training_indices(labels, fraction)``: a stratified subset of the training images, fixed
  by ``SUBSET_SEED`` (the same for every run seed, and nested: the 5% subset lies inside the
  20% one). Each class keeps its share; the size is ``subset_size(n, fraction)``, which
  depends only on the number of images, so the batches per epoch are known without labels.
- ``subset_plan``: an epoch plan (programs.epoch_plan) over the subset, padded to every
  training image so that one compiled step serves every fraction.
- ``add_noise``: Gaussian noise on the pixels of a training batch (0 to 1 scale), from a
  key the epoch plan fixes: same seed, same noise, and a resumed run draws what it would have.
- ``l2_penalty``: half the sum of squared kernels, Dense and convolution (biases are not penalised); the
  training step adds ``l2 * l2_penalty(params)`` to the loss it differentiates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from core.data import Dataset
from core.training.devices import EVAL_BATCH, ONE_DEVICE, Layout, batched_for_eval

#: Seeds the choice of the images a fraction keeps (independent of the run's seed).
SUBSET_SEED = 20_141
#: At most this many training images are evaluated after each epoch for the train curve.
TRAIN_EVAL_IMAGES = 1_000


def subset_size(num_train: int, fraction: float) -> int:
    """How many of ``num_train`` images a fraction keeps: the nearest whole number, at least 1."""
    return max(1, min(num_train, round(fraction * num_train)))


def describe_subset(num_train: int, fraction: float) -> str:
    """``"training on 3,000 of 60,000 images (5%)"``."""
    used = subset_size(num_train, fraction)
    return f"training on {used:,} of {num_train:,} images ({used / num_train:.0%})"


def training_indices(labels: np.ndarray, fraction: float) -> np.ndarray:
    """The sorted indices of the training images used at ``fraction``. Each class gets its share
    (largest remainder), taken from the start of a fixed shuffle of that class."""
    labels = np.asarray(labels)
    n = labels.shape[0]
    total = subset_size(n, fraction)
    if total == n:
        return np.arange(n, dtype=np.int32)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * total / n
    take = np.floor(quota).astype(int)
    extra = total - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:extra]] += 1
    rng = np.random.default_rng(SUBSET_SEED)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen)).astype(np.int32)


def train_eval_count(num_train: int, num_test: int, fraction: float) -> int:
    """How many training images the train curve is measured on: ``TRAIN_EVAL_IMAGES``, at most one
    test batch and at most the images the fraction keeps."""
    return min(TRAIN_EVAL_IMAGES, EVAL_BATCH, num_test, subset_size(num_train, fraction))


def describe_train_eval(num_train: int, num_test: int, fraction: float) -> str:
    """The train curve's images in words, for the screen."""
    count, used = train_eval_count(num_train, num_test, fraction), subset_size(num_train, fraction)
    which = f"all {used:,}" if count == used else f"a fixed {count:,} of the {used:,}"
    return f"measured on {which} training images the model learns from"


@lru_cache(maxsize=16)
def dataset_indices(dataset: Dataset, fraction: float) -> np.ndarray:
    """``training_indices`` of a dataset's labels (cached per dataset object and fraction)."""
    return training_indices(dataset.train_labels, float(fraction))


def subset_plan(plan: np.ndarray, indices: np.ndarray, num_train: int) -> np.ndarray:
    """An epoch plan drawn for ``len(indices)`` images, pointing at the subset's images and padded
    (with image 0, never reached) to ``num_train`` positions."""
    if len(indices) == num_train:
        return plan
    padded = np.zeros((plan.shape[0], num_train), np.int32)
    padded[:, : plan.shape[1]] = plan
    padded[0, : plan.shape[1]] = indices[plan[0]]
    return padded


def train_eval_indices(indices: np.ndarray, count: int) -> np.ndarray:
    """``count`` images (or all, if fewer) spread evenly over the subset: the train curve's images."""
    if len(indices) <= count:
        return indices
    return indices[np.linspace(0, len(indices) - 1, count).round().astype(int)]


def add_noise(x: jax.Array, seed: jax.Array, std: jax.Array) -> jax.Array:
    """``x`` (pixels 0 to 1) plus Gaussian noise of standard deviation ``std``, clipped to 0..1;
    the noise is drawn from ``seed`` (a whole number from the epoch plan)."""
    noise = jax.random.normal(jax.random.key(seed), x.shape, x.dtype)
    return jnp.clip(x + std * noise, 0.0, 1.0)


def l2_penalty(params: Any) -> jax.Array:
    """Half the sum of the squares of every kernel in ``params`` (Dense and convolution weights)."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    kernels = [leaf for path, leaf in leaves if getattr(path[-1], "key", None) == "kernel"]
    return 0.5 * sum(jnp.sum(jnp.square(k)) for k in kernels)


@dataclass(frozen=True, eq=False)
class TrainEvalData:
    """The training images the train curve is measured on, batched like the test set, on the device(s)."""

    images: jax.Array  # (1, batch, 28, 28, 1): one batch of the test set's size
    labels: jax.Array
    mask: jax.Array  # 1 for a real image, 0 for padding (a subset smaller than a batch)
    count: int  # real images


@lru_cache(maxsize=8)
def train_eval_data(dataset: Dataset, fraction: float, layout: Layout = ONE_DEVICE) -> TrainEvalData:
    """Up to ``TRAIN_EVAL_IMAGES`` of the images a run trains on (``train_eval_indices``), padded to
    one batch of the test set's batch size: with a test set of one batch the evaluation program
    is the very one of the test set, and the train curve costs one batch per epoch."""
    batch = min(EVAL_BATCH, dataset.num_test)
    count = train_eval_count(dataset.num_train, dataset.num_test, fraction)
    chosen = train_eval_indices(dataset_indices(dataset, fraction), count)
    images, labels, mask = batched_for_eval(dataset.train_images[chosen], dataset.train_labels[chosen], batch)
    pad = batch - images.shape[1]  # fewer images than a batch: pad to the batch size
    if pad:
        images = np.pad(images, ((0, 0), (0, pad), (0, 0), (0, 0), (0, 0)))
        labels, mask = np.pad(labels, ((0, 0), (0, pad))), np.pad(mask, ((0, 0), (0, pad)))
    where = layout.replicated
    return TrainEvalData(*(jax.device_put(a, where) for a in (images, labels, mask)), len(chosen))
