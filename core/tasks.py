"""What a kind of model is trained to do: its loss, its evaluation metrics and its score.

In the spirit of flax's examples (``loss_fn`` / ``compute_metrics``): one small object per
kind of model, so the engine, the evaluation and the pages never branch on a kind's name.

- ``Classification`` (the MLP): softmax cross-entropy; metrics ``loss`` and ``accuracy``
  (share of images classified right) and a confusion matrix ``[true class, predicted class]``.
- ``Reconstruction`` (the autoencoder): per-pixel MSE or binary cross-entropy of the
  reconstruction; metrics ``loss`` and ``mse`` (mean squared error per pixel, whatever loss
  it trained with).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from core.i18n import N_
from core.models import forward
from core.spec import AutoEncoderSpec, MLPSpec, ModelSpec

Sums = dict[str, jax.Array]

#: How an autoencoder's reconstruction can be scored while it trains, in words.
RECONSTRUCTION_LOSSES: dict[str, str] = {
    "mse": N_("mean squared error per pixel"),
    "bce": N_("binary cross-entropy per pixel (treats each pixel as ink / no ink)"),
}


@dataclass(frozen=True)
class Metric:
    """A number evaluation reports: its key, its name in words, and whether higher is better."""

    key: str
    label: str
    higher_is_better: bool

    def format(self, value: float) -> str:
        return f"{value:.1%}" if self.key == "accuracy" else f"{value:.4f}"


class Task:
    """The interface of a kind of model; see the module docstring."""

    model_kind: type[ModelSpec]  # the kind of model trained for it
    score: Metric  # the one number the pages compare models by
    sums: tuple[str, ...]  # what ``eval_sums`` adds up over the test set

    def outputs(self, model: nn.Module, variables: Any, x: jax.Array, train: bool, rngs: Any) -> tuple[Any, dict]:
        """What the loss is computed from, and the batch_stats after the call (``models.forward``)."""
        raise NotImplementedError

    def losses(self, outputs: Any, x: jax.Array, y: jax.Array, loss: str) -> jax.Array:
        """The training loss of each image, shape (B,), from ``outputs``."""
        raise NotImplementedError

    def per_example_loss(self, model: nn.Module, variables: Any, x: jax.Array, y: jax.Array, loss: str) -> jax.Array:
        """The loss of each image of a float batch ``x`` (B, 28, 28, 1) in 0..1, shape (B,), in evaluation
        mode; ``variables`` may be a bare params tree."""
        return self.losses(self.outputs(model, variables, x, False, None)[0], x, y, loss)

    def train_loss(self, model: nn.Module, variables: Any, x: jax.Array, y: jax.Array, loss: str, rngs: Any):
        """The mean training loss in training mode (dropout on, batch statistics) and the updated
        batch_stats: ``(loss, batch_stats)``, for ``jax.value_and_grad(..., has_aux=True)``."""
        outputs, stats = self.outputs(model, variables, x, True, rngs)
        return self.losses(outputs, x, y, loss).mean(), stats

    def eval_sums(
        self, model: nn.Module, variables: Any, x: jax.Array, y: jax.Array, mask: jax.Array, loss: str
    ) -> Sums:
        """Sums over one batch of the test set (evaluation mode); ``mask`` (B,) is 0 for padding images."""
        raise NotImplementedError

    def metrics(self, sums: dict[str, Any], n: int) -> dict[str, float]:
        """Named metrics from the sums over ``n`` images: ``loss`` and the score's key."""
        raise NotImplementedError

    def loss_label(self, loss: str) -> str:
        """The training loss in words, for axis titles."""
        raise NotImplementedError

    def mean_loss(self, model: nn.Module, variables: Any, x: jax.Array, y: jax.Array, loss: str) -> jax.Array:
        return self.per_example_loss(model, variables, x, y, loss).mean()

    def zero_sums(self, spec: ModelSpec) -> Sums:
        """Zeros shaped like ``eval_sums``' results (the confusion matrix has a row and a column per class)."""
        classes = spec.num_classes
        return {name: jnp.zeros((classes, classes) if name == "confusion" else (), jnp.float32)
                for name in self.sums}  # fmt: skip


class Classification(Task):
    model_kind = MLPSpec
    score = Metric("accuracy", N_("test accuracy"), higher_is_better=True)
    sums = ("loss", "correct", "confusion")

    def outputs(self, model, variables, x, train, rngs):
        return forward(model, variables, x, train=train, rngs=rngs)

    def losses(self, outputs, x, y, loss):
        return optax.softmax_cross_entropy_with_integer_labels(outputs, y)

    def eval_sums(self, model, variables, x, y, mask, loss):
        logits, _ = self.outputs(model, variables, x, False, None)
        predicted = jnp.argmax(logits, axis=-1)
        return {
            "loss": jnp.sum(optax.softmax_cross_entropy_with_integer_labels(logits, y) * mask),
            "correct": jnp.sum((predicted == y) * mask),
            # row = the true class, column = the class the model predicted
            "confusion": jnp.zeros((logits.shape[-1],) * 2, jnp.float32).at[y, predicted].add(mask),
        }

    def metrics(self, sums, n):
        return {"loss": float(sums["loss"]) / n, "accuracy": float(sums["correct"]) / n}

    def loss_label(self, loss):
        return "cross-entropy"


class Reconstruction(Task):
    model_kind = AutoEncoderSpec
    score = Metric("mse", N_("reconstruction error (test)"), higher_is_better=False)
    sums = ("loss", "squared_error")

    def outputs(self, model, variables, x, train, rngs):
        """The decoder's logits (before the sigmoid)."""
        return forward(model, variables, x, train=train, rngs=rngs, method=_logits)

    def losses(self, outputs, x, y, loss):
        pixels = x.reshape(x.shape[0], -1)
        if loss == "bce":
            return optax.sigmoid_binary_cross_entropy(outputs, pixels).mean(axis=1)
        return jnp.mean((jax.nn.sigmoid(outputs) - pixels) ** 2, axis=1)

    def eval_sums(self, model, variables, x, y, mask, loss):
        logits, _ = self.outputs(model, variables, x, False, None)
        pixels = x.reshape(x.shape[0], -1)
        squared = jnp.mean((jax.nn.sigmoid(logits) - pixels) ** 2, axis=1)
        per_image = optax.sigmoid_binary_cross_entropy(logits, pixels).mean(axis=1) if loss == "bce" else squared
        return {"loss": jnp.sum(per_image * mask), "squared_error": jnp.sum(squared * mask)}

    def metrics(self, sums, n):
        return {"loss": float(sums["loss"]) / n, "mse": float(sums["squared_error"]) / n}

    def loss_label(self, loss):
        return RECONSTRUCTION_LOSSES[loss]


def _logits(model: nn.Module, x: jax.Array, train: bool = False) -> jax.Array:
    return model.decode_logits(model.encode(x, train), train)


#: The task of each kind of model, by its type.
TASKS: dict[type[ModelSpec], Task] = {task.model_kind: task for task in (Classification(), Reconstruction())}


def task_of(spec: ModelSpec) -> Task:
    """The task a model of this kind is trained for."""
    return TASKS[type(spec)]
