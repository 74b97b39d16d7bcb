"""Where training runs: the dataset on the device(s), and how several local devices share the work.

With one device everything lives there. With several (GPUs, or CPU devices forced with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``) the engine shards one axis of the
work with ``jax.sharding``: a stack of several models is split along its *model* axis (8
seeds on 8 devices: one seed each), a single model along its *batch* axis (each device
computes part of every batch and XLA sums the gradients). The data is replicated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from core.data import Dataset

EVAL_BATCH = 1000
MODELS, BATCH = "models", "batch"  # the axis a Layout splits over its devices


@dataclass(frozen=True)
class Layout:
    """How a stack of ``models`` models trained at ``batch_size`` uses the local devices."""

    devices: int = 1
    split: str | None = None  # MODELS, BATCH, or None on one device

    @classmethod
    def choose(cls, models: int, batch_size: int) -> Layout:
        """Split the models when they divide evenly over the devices, else each batch when it does,
        else use one device."""
        count = jax.local_device_count()
        if count > 1 and models > 1 and models % count == 0:
            return cls(count, MODELS)
        if count > 1 and models == 1 and batch_size % count == 0:
            return cls(count, BATCH)
        return cls()

    @property
    def replicated(self) -> NamedSharding | None:
        """Every device holds the whole array (the dataset; parameters when the batch is split)."""
        return NamedSharding(_mesh(self.devices), PartitionSpec()) if self.devices > 1 else None

    @property
    def per_model(self) -> NamedSharding | None:
        """Placement of arrays with a leading model axis (states, epoch plans)."""
        if self.split == MODELS:
            return NamedSharding(_mesh(self.devices), PartitionSpec("devices"))
        return self.replicated

    @property
    def batch(self) -> NamedSharding | None:
        """Placement of a batch inside the step: split over the devices when the batch is split."""
        return NamedSharding(_mesh(self.devices), PartitionSpec("devices")) if self.split == BATCH else None

    def describe(self) -> str:
        if self.split is None:
            return "1 device"
        return f"{self.devices} devices, each with 1/{self.devices} of the {self.split}"


ONE_DEVICE = Layout()


@cache
def _mesh(devices: int) -> Mesh:
    return Mesh(np.array(jax.local_devices()[:devices]), ("devices",))


@dataclass(frozen=True, eq=False)
class DeviceData:
    """A dataset's arrays on the device(s): the training images and labels and the padded test set."""

    train_images: jax.Array
    train_labels: jax.Array
    test_images: jax.Array  # (batches, EVAL_BATCH, 28, 28, 1)
    test_labels: jax.Array
    test_mask: jax.Array  # 1 for a real image, 0 for padding
    num_test: int


def batched_for_eval(images: np.ndarray, labels: np.ndarray, batch: int = EVAL_BATCH):
    """Pad to a multiple of ``batch`` and reshape to (batches, batch, ...), with a 0/1 mask."""
    n = len(labels)
    batch = max(1, min(batch, n))
    pad = math.ceil(n / batch) * batch - n
    images = np.concatenate([images, np.zeros((pad, *images.shape[1:]), images.dtype)])
    labels = np.concatenate([labels, np.zeros(pad, labels.dtype)])
    mask = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
    return images.reshape(-1, batch, *images.shape[1:]), labels.reshape(-1, batch), mask.reshape(-1, batch)


@lru_cache(maxsize=4)
def device_data(dataset: Dataset, layout: Layout = ONE_DEVICE) -> DeviceData:
    """Put a dataset on the device(s) once (cached per dataset object and layout), on every
    device when there are several, so each gathers its batches locally."""
    test_images, test_labels, mask = batched_for_eval(dataset.test_images, dataset.test_labels)
    where = layout.replicated
    return DeviceData(
        jax.device_put(dataset.train_images, where),
        jax.device_put(dataset.train_labels, where),
        jax.device_put(test_images, where),
        jax.device_put(test_labels, where),
        jax.device_put(mask, where),
        dataset.num_test,
    )
