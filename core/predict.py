"""Using a model: class probabilities, reconstructions, latent codes, test-set evaluation.

Inputs are uint8 images (N, 28, 28, 1) as the datasets hold them (or floats in 0..1).
A model's ``variables`` are what ``model.apply`` takes (``TrainResult.variables``: params, and
batch_stats for a BatchNorm model) or a bare params tree; every function applies the model
in evaluation mode (dropout off, BatchNorm's running averages).
Batches are padded to a few fixed sizes so that asking for 8, 9 or 10 images does not
compile three programs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from core import latent, models
from core.errors import CoreError
from core.i18n import N_
from core.spec import AutoEncoderSpec, MLPSpec, ModelSpec
from core.tasks import task_of
from core.training.devices import batched_for_eval
from core.training.programs import compile_once
from core.training.stack import evaluation_program, stack_evaluation_sums

_BUCKET = 1024


def _as_float(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32)


def _padded_size(n: int) -> int:
    """The next power of two up to 1,024 (then multiples of 1,024)."""
    if n <= _BUCKET:
        return max(1, 1 << (n - 1).bit_length())
    return -(-n // _BUCKET) * _BUCKET


def _batched(fn, spec: ModelSpec, variables: Any, inputs: np.ndarray) -> np.ndarray:
    """Apply a jitted ``fn(spec, variables, x)`` over ``inputs`` in padded chunks."""
    variables = models.as_variables(variables)
    n = len(inputs)
    if n == 0:
        raise CoreError(N_("no images to process"))
    outputs = []
    for start in range(0, n, _BUCKET):
        chunk = inputs[start : start + _BUCKET]
        size = _padded_size(len(chunk))
        padded = np.concatenate([chunk, np.zeros((size - len(chunk), *chunk.shape[1:]), chunk.dtype)])
        outputs.append(np.asarray(fn(spec, variables, padded))[: len(chunk)])
    return np.concatenate(outputs)


@partial(jax.jit, static_argnums=0)
def _probabilities(spec: ModelSpec, variables, x):
    return jax.nn.softmax(models.build_model(spec).apply(variables, x), axis=-1)


@partial(jax.jit, static_argnums=0)
def _reconstruct(spec: ModelSpec, variables, x):
    return models.build_model(spec).apply(variables, x)


@partial(jax.jit, static_argnums=0)
def _encode(spec: ModelSpec, variables, x):
    model = models.build_model(spec)
    return model.apply(variables, x, method=model.encode)


@partial(jax.jit, static_argnums=0)
def _decode(spec: ModelSpec, variables, z):
    model = models.build_model(spec)
    return model.apply(variables, z, method=model.decode)


def _require(spec: ModelSpec, kind: type[ModelSpec], what: str) -> None:
    if not isinstance(spec, kind):
        raise CoreError(
            N_("{what} needs an {kind_title}, this is {spec}"), what=what, kind_title=kind.title, spec=spec.describe()
        )


def predict_probabilities(spec: ModelSpec, variables: Any, images: np.ndarray) -> np.ndarray:
    """Class probabilities (N, 10) of an MLP for each image."""
    _require(spec, MLPSpec, "Predicting classes")
    return _batched(_probabilities, spec, variables, _as_float(images))


def reconstruct(spec: ModelSpec, variables: Any, images: np.ndarray) -> np.ndarray:
    """An autoencoder's reconstructions (N, 28, 28, 1), pixel values in 0..1."""
    _require(spec, AutoEncoderSpec, "Reconstructing")
    return _batched(_reconstruct, spec, variables, _as_float(images))


def encode(spec: ModelSpec, variables: Any, images: np.ndarray) -> np.ndarray:
    """Latent codes (N, code size): ``model.apply(variables, x, method=model.encode)``."""
    _require(spec, AutoEncoderSpec, "Encoding")
    return _batched(_encode, spec, variables, _as_float(images))


def decode(spec: ModelSpec, variables: Any, codes: np.ndarray) -> np.ndarray:
    """Images (N, 28, 28, 1) in 0..1 decoded from latent codes (N, code size)."""
    _require(spec, AutoEncoderSpec, "Decoding")
    codes = np.asarray(codes, np.float32)
    if codes.ndim != 2 or codes.shape[1] != spec.code_size:
        raise CoreError(
            N_("codes must have shape (N, {spec_code_size}), got {codes_shape}"),
            spec_code_size=spec.code_size,
            codes_shape=codes.shape,
        )
    return _batched(_decode, spec, variables, codes)


@dataclass(frozen=True)
class Evaluation:
    """A model's score on a set of labelled images: the task's named metrics (``Task.metrics``)."""

    n: int
    metrics: dict[str, float]  # "loss" and "accuracy" (MLP) or "loss" and "mse" (autoencoder)
    confusion: np.ndarray | None = None  # MLP only: confusion[true class, predicted class] counts

    @property
    def loss(self) -> float:
        """Cross-entropy (MLP) or the reconstruction loss it was trained with (autoencoder)."""
        return self.metrics["loss"]

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")

    @property
    def mse(self) -> float | None:
        """Mean squared error per pixel of the reconstructions (autoencoder)."""
        return self.metrics.get("mse")

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, **self.metrics}


def evaluate(
    spec: ModelSpec, variables: Any, images: np.ndarray, labels: np.ndarray, reconstruction_loss: str = "mse"
) -> Evaluation:
    """The task's metrics over all of ``images`` (and the confusion matrix of an MLP)."""
    n = len(labels)
    if n == 0:
        raise CoreError(N_("no images to evaluate"))
    batched = tuple(jnp.asarray(a) for a in batched_for_eval(np.asarray(images), np.asarray(labels, np.int32)))
    # a stack of one model: the very program the engine evaluates a run of the Train page with
    args = (jax.tree_util.tree_map(lambda leaf: np.asarray(leaf)[None], models.as_variables(variables)), *batched)
    fn, _ = compile_once("eval", stack_evaluation_sums, evaluation_program(spec, reconstruction_loss, 1), args)
    sums = {name: np.asarray(value)[0] for name, value in fn(*args).items()}
    confusion = np.rint(sums["confusion"]).astype(np.int64) if "confusion" in sums else None
    return Evaluation(n, task_of(spec).metrics(sums, n), confusion)


def mean_image_mse(train_images: np.ndarray, test_images: np.ndarray) -> float:
    """The baseline an autoencoder must beat: MSE of predicting the mean training image for every test image."""
    mean = _as_float(train_images).mean(axis=0)
    return float(np.mean((_as_float(test_images) - mean) ** 2))


def project_2d(codes: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Points for a 2-D map of latent codes: the codes themselves when they have 2 numbers,
    otherwise their first two principal components (PCA). Also returns the share of the
    codes' variance each axis shows (1.0, 0.0 for a 2-D code)."""
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or codes.shape[0] < 2:
        raise CoreError(N_("need at least 2 codes of shape (N, size), got {codes_shape}"), codes_shape=codes.shape)
    codes = latent.finite_codes(codes)
    if codes.shape[1] == 1:
        return np.stack([codes[:, 0], np.zeros(len(codes))], axis=1), (1.0, 0.0)
    if codes.shape[1] == 2:
        return codes, (1.0, 0.0)
    axes = latent.pca_axes(codes, 2)
    return axes.coordinates(codes).astype(np.float64), (axes.variance_share[0], axes.variance_share[1])
