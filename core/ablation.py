"""Switching units of a trained network off, and what that does to its test score.

A switched-off unit outputs 0 after its activation, whatever the activation (``relu``, ``tanh``,
``sigmoid``, ``gelu``...): a flax interceptor (``nn.intercept_methods``) around the model's own
``model.apply`` multiplies what the layer passes on by an on/off mask, on the last axis. The
activation is a plain function after the layer's module (``core.flax_layers.dense``), so the mask
is applied where the layer's activated values next enter a flax call: the first argument of the
next module method called (the next Dense, a BatchNorm, a Dropout, the decoder), or, when none is
called (the code of ``model.encode``), the value that the enclosing call returns. A conv layer's
channels are its last axis too; a layer that flattens them first (channels last) sees the mask
repeated over the positions.

Scores come from the model's task (``core.tasks``: accuracy, reconstruction error) over held-out
images, for many masks at once: ``jax.vmap`` over the masks inside one compiled call, the images
in a ``lax.scan`` over batches, so ranking every unit of a layer is one call, not a loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from core import models
from core.conv_layers import Conv
from core.errors import CoreError
from core.i18n import N_
from core.layers import Dense, Layer
from core.spec import ModelSpec
from core.tasks import task_of

#: {layer path: (units,) mask, 1 = on, 0 = off}, or with a leading axis of masks (M, units)
Masks = Mapping[str, Any]

#: most (masks x images) evaluated together in one step of the scan: bounds the memory of a vmapped call
_VALUES_PER_STEP = 1 << 16
_BATCH = 256


def mask_values(values: jax.Array, mask: jax.Array) -> jax.Array:
    """``values`` with the units that ``mask`` switches off set to exactly 0 (even a NaN or an infinity),
    on the last axis; a longer last axis (channels flattened with their positions, channels last) takes
    the mask repeated; values reshaped from a layer's units (a Dense layer's 3,136 units made a 7x7x64
    image) take it over all but their first axis."""
    size = values.shape[-1]
    if size % mask.shape[-1] == 0:
        on = jnp.tile(mask, size // mask.shape[-1]) > 0
        return jnp.where(on, values, jnp.zeros((), values.dtype))
    flat = values.reshape(values.shape[0], -1)
    if flat.shape[-1] % mask.shape[-1]:
        raise CoreError(
            N_("a mask of {mask_shape} units does not fit values of {size} on their last axis"),
            mask_shape=mask.shape[-1],
            size=size,
        )
    return mask_values(flat, mask).reshape(values.shape)


def _is_array(value: Any) -> bool:
    return isinstance(value, jax.Array | np.ndarray)


@contextmanager
def switched_off(masks: Masks) -> Iterator[None]:
    """Within it, every ``model.apply`` traced passes zeros on for the units that ``masks`` switch off.

    Used inside the traced function (a jitted function traced before would not run flax's Python)."""
    waiting: list[Any] = []  # the mask of the layer whose activated values have not entered a call yet

    def switch(next_fun, args, kwargs, context):
        if waiting and args and _is_array(args[0]):
            args = (mask_values(args[0], waiting.pop()), *args[1:])
        output = next_fun(*args, **kwargs)
        if waiting and _is_array(output):  # nothing took the layer's values in: the enclosing call returns them
            output = mask_values(output, waiting.pop())
        path = "/".join(context.module.path)
        if path in masks and context.method_name == "__call__":
            waiting.append(jnp.asarray(masks[path]))
        return output

    with nn.intercept_methods(switch):
        yield


@dataclass(frozen=True)
class UnitLayer:
    """A layer whose units can be switched off: its flax path, its units on the last axis (a Dense layer's
    units, a conv layer's channels) and how many values each unit gives for one image (a conv channel's
    positions, 1 for a Dense unit), and the layer itself (its kind says what its units are)."""

    path: str
    units: int
    role: str  # "hidden" or "code"
    positions: int
    layer: Layer

    @property
    def of_channels(self) -> bool:
        """Whether its units are the channels of an image (a conv layer's), which a page calls channels."""
        return self.layer.image_layer


def switchable_layers(spec: ModelSpec) -> tuple[UnitLayer, ...]:
    """The layers whose units can be switched off, in the order the model applies them: every Dense and
    conv layer of the spec's stacks (not the output layer the model adds)."""
    return _switchable_layers(spec.replace(seed=0))


@lru_cache(maxsize=64)
def _switchable_layers(shape: ModelSpec) -> tuple[UnitLayer, ...]:
    placed = zip(models.layer_paths(shape), shape.layer_shapes(), strict=True)
    return tuple(
        UnitLayer(path, one.output_shape[-1], one.role, math.prod(one.output_shape[:-1]), one.layer)
        for path, one in placed
        if isinstance(one.layer, Dense | Conv) and one.role in ("hidden", "code")
    )


def _kernel_layers(spec: ModelSpec) -> list[str]:
    """The paths of every layer with a kernel (Dense, conv, the output layer), in the order they are applied."""
    placed = zip(models.layer_paths(spec), spec.layer_shapes(), strict=True)
    return [path for path, one in placed if isinstance(one.layer, Dense | Conv)]


def masks_for(spec: ModelSpec, off: Mapping[str, Iterable[int]]) -> dict[str, np.ndarray]:
    """On/off masks (1 on, 0 off) of the layers in ``off`` ({layer path: units switched off})."""
    widths = {layer.path: layer.units for layer in switchable_layers(spec)}
    masks = {}
    for path, units in off.items():
        if path not in widths:
            raise CoreError(N_("{path!r} is not a layer whose units can be switched off"), path=path)
        mask = np.ones(widths[path], np.float32)
        units = np.asarray(sorted(set(units)), np.int64)
        if units.size and (units.min() < 0 or units.max() >= mask.size):
            raise CoreError(
                N_("units of {path} are numbered 0 to {mask_size}, got {units}"),
                path=path,
                mask_size=mask.size - 1,
                units=units.tolist(),
            )
        mask[units] = 0.0
        if units.size:
            masks[path] = mask
    return masks


@partial(jax.jit, static_argnums=0)
def _switched_outputs(spec: ModelSpec, variables: dict, masks: Masks, x: jax.Array) -> jax.Array:
    with switched_off(masks):
        return models.forward(models.build_model(spec), variables, x)[0]


def switched_outputs(spec: ModelSpec, variables: Any, inputs: np.ndarray, masks: Masks) -> np.ndarray:
    """The model's output (class scores, or reconstructions) for float ``inputs`` (N, 28, 28, 1) with
    ``masks``' units switched off, in evaluation mode."""
    return np.asarray(_switched_outputs(spec, models.as_variables(variables), dict(masks), jnp.asarray(inputs)))


@dataclass(frozen=True)
class HeldOut:
    """Images the model did not train on, as floats (N, 28, 28, 1) in 0..1, and their labels (N,)."""

    inputs: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if len(self.inputs) == 0 or len(self.inputs) != len(self.labels):
            raise CoreError(
                N_("{inputs_count} held-out images with {labels_count} labels"),
                inputs_count=len(self.inputs),
                labels_count=len(self.labels),
            )

    def batches(self, masks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The images, labels and a 1/0 weight (0 for padding) in equal batches (steps, B, ...), B so that
        ``masks`` x B values of a layer stay within the scan's memory bound."""
        batch = max(1, min(_BATCH, _VALUES_PER_STEP // max(masks, 1)))
        steps = -(-len(self.inputs) // batch)
        pad = steps * batch - len(self.inputs)
        inputs = np.concatenate([self.inputs, np.zeros((pad, *self.inputs.shape[1:]), np.float32)])
        labels = np.concatenate([self.labels, np.zeros(pad, self.labels.dtype)])
        weights = np.concatenate([np.ones(len(self.labels), np.float32), np.zeros(pad, np.float32)])
        return (
            inputs.reshape(steps, batch, *inputs.shape[1:]),
            labels.reshape(steps, batch),
            weights.reshape(steps, batch),
        )


@partial(jax.jit, static_argnums=0)
def _score_sums(spec: ModelSpec, variables: dict, stacked: Masks, inputs, labels, weights) -> dict:
    model, task = models.build_model(spec), task_of(spec)

    def sums_for(masks):
        def add_batch(sums, batch):
            x, y, w = batch
            with switched_off(masks):
                found = task.eval_sums(model, variables, x, y, w, "mse")
            return jax.tree_util.tree_map(jnp.add, sums, found), None

        return jax.lax.scan(add_batch, task.zero_sums(spec), (inputs, labels, weights))[0]

    return jax.vmap(sums_for)(stacked)


def metric_table(spec: ModelSpec, variables: Any, held_out: HeldOut, stacked: Masks) -> dict[str, np.ndarray]:
    """The task's metrics (``loss`` and the score's key: accuracy, or reconstruction error) over ``held_out``
    for each of M sets of masks, ``stacked`` {layer path: (M, units)}: one compiled call, vmapped over M."""
    count = len(next(iter(stacked.values())))
    inputs, labels, weights = held_out.batches(count)
    sums = _score_sums(spec.replace(seed=0), models.as_variables(variables), dict(stacked), inputs, labels, weights)
    sums = jax.device_get(sums)
    task = task_of(spec)
    found = [task.metrics({k: v[i] for k, v in sums.items()}, len(held_out.labels)) for i in range(count)]
    return {key: np.asarray([f[key] for f in found]) for key in found[0]}


def scores(spec: ModelSpec, variables: Any, held_out: HeldOut, stacked: Masks) -> np.ndarray:
    """The test score (``task_of(spec).score``) for each of M sets of masks (``metric_table``)."""
    return metric_table(spec, variables, held_out, stacked)[task_of(spec).score.key]


def score(spec: ModelSpec, variables: Any, held_out: HeldOut, masks: Masks) -> float:
    """The test score with ``masks``' units switched off (none: the unchanged model)."""
    if not masks:  # nothing off: a mask of all ones on the first switchable layer, the same program
        if not switchable_layers(spec):
            raise CoreError(N_("this model has no hidden units to switch off"))
        layer = switchable_layers(spec)[0]
        masks = {layer.path: np.ones(layer.units, np.float32)}
    return float(scores(spec, variables, held_out, {path: np.asarray(m)[None] for path, m in masks.items()})[0])


def worse_by(spec: ModelSpec, baseline: float, switched: np.ndarray) -> np.ndarray:
    """How much worse each score is than ``baseline``: a fall in accuracy, a rise in reconstruction error."""
    switched = np.asarray(switched, np.float64)
    return baseline - switched if task_of(spec).score.higher_is_better else switched - baseline


@dataclass(frozen=True)
class UnitImportance:
    """Each unit of one layer switched off alone: the test score without it, and how much worse that is."""

    path: str
    baseline: float  # every unit on
    scores: np.ndarray  # (units,): the score with only that unit off
    drops: np.ndarray  # (units,): how much worse than the baseline (positive: the unit mattered)
    loss_rises: np.ndarray  # (units,): how much the test loss rose: breaks ties of a score counted in images

    def ranked(self) -> np.ndarray:
        """Units from the one that matters most (largest drop, then largest rise of the loss) down."""
        return np.lexsort((-self.loss_rises, -self.drops))


def one_off_masks(units: int) -> np.ndarray:
    """(units + 1, units): every unit switched off alone, then all on (the baseline, in the same call)."""
    return np.vstack([1.0 - np.eye(units, dtype=np.float32), np.ones((1, units), np.float32)])


def unit_importance(spec: ModelSpec, variables: Any, held_out: HeldOut, path: str) -> UnitImportance:
    """Every unit of the layer at ``path`` switched off alone and scored, all in one vmapped call."""
    table = metric_table(spec, variables, held_out, {path: one_off_masks(_width(spec, path))})
    found, loss = table[task_of(spec).score.key], table["loss"]
    baseline = float(found[-1])
    return UnitImportance(path, baseline, found[:-1], worse_by(spec, baseline, found[:-1]), loss[:-1] - loss[-1])


def _width(spec: ModelSpec, path: str) -> int:
    widths = {layer.path: layer.units for layer in switchable_layers(spec)}
    if path not in widths:
        raise CoreError(N_("{path!r} is not a layer whose units can be switched off"), path=path)
    return widths[path]


def outgoing_strength(spec: ModelSpec, variables: Any, path: str) -> np.ndarray:
    """How strongly each unit of the layer at ``path`` feeds the next layer: the length (L2 norm) of its
    outgoing weights, the row of the next kernel it multiplies (its channel's rows, when flattened)."""
    units = _width(spec, path)
    layers = _kernel_layers(spec)
    following = layers[layers.index(path) + 1]
    node = models.as_variables(variables)["params"]
    for key in following.split("/"):
        node = node[key]
    kernel = np.asarray(node["kernel"], np.float64)
    if kernel.ndim > 2:  # a conv kernel (..., in channels, out channels)
        kernel = np.moveaxis(kernel, -2, 0)
    else:  # (inputs, outputs); inputs = positions x channels (channels last) after a flatten
        kernel = kernel.reshape(-1, units, kernel.shape[-1]).swapaxes(0, 1)
    return np.sqrt((kernel.reshape(units, -1) ** 2).sum(axis=1))


def pruning_sizes(units: int, most: int = 16) -> np.ndarray:
    """How many units to keep, from all down to 1: every count for a narrow layer, else ``most`` counts
    spread evenly on a log scale."""
    if units <= most:
        return np.arange(units, 0, -1)
    return np.unique(np.round(np.geomspace(units, 1, most)).astype(int))[::-1]


@dataclass(frozen=True)
class PruningCurve:
    """Scores keeping k units of a layer: the k with the largest outgoing weights, or k chosen at random."""

    path: str
    kept: np.ndarray  # (K,) the numbers of units kept, all first
    largest: np.ndarray  # (K,) score keeping the k strongest
    random: np.ndarray  # (K,) mean score over ``draws`` random choices of k units
    draws: int


def keep_masks(order: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(K, units): mask ``i`` keeps the first ``sizes[i]`` units of ``order`` on."""
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    return (rank[None, :] < np.asarray(sizes)[:, None]).astype(np.float32)


def pruning_curve(
    spec: ModelSpec, variables: Any, held_out: HeldOut, path: str, seed: int = 0, draws: int = 4
) -> PruningCurve:
    """Score against the number of units kept in one layer, the strongest (``outgoing_strength``) against
    random ones (``draws`` random choices per count, averaged), all masks in one vmapped call."""
    strength = outgoing_strength(spec, variables, path)
    sizes = pruning_sizes(strength.size)
    rng = np.random.default_rng(seed)
    chosen = [keep_masks(np.argsort(-strength, kind="stable"), sizes)]
    chosen += [keep_masks(rng.permutation(strength.size), sizes) for _ in range(draws)]
    found = scores(spec, variables, held_out, {path: np.vstack(chosen)}).reshape(1 + draws, len(sizes))
    return PruningCurve(path, sizes, found[0], found[1:].mean(axis=0), draws)


def pruning_summary(spec: ModelSpec, curve: PruningCurve) -> str:
    """One sentence in plain words on what the curve shows."""
    metric = task_of(spec).score
    between = slice(1, len(curve.kept) - 1) if len(curve.kept) > 2 else slice(None)
    gaps = worse_by(spec, 0.0, curve.largest[between] - curve.random[between])  # < 0: the strongest do better
    ahead, behind = int(np.sum(gaps < -1e-9)), int(np.sum(gaps > 1e-9))
    middle = len(curve.kept) // 2
    k = int(curve.kept[middle])
    sentence = (
        f"Keeping {k:,} of {int(curve.kept[0]):,} units, the {k:,} with the largest outgoing weights give a "
        f"{metric.label} of {metric.format(curve.largest[middle])}, {k:,} random ones "
        f"{metric.format(curve.random[middle])}: "
    )
    if ahead >= 2 * max(behind, 1):
        return sentence + (
            "keeping the units that push the next layer hardest works better than chance, so the size of a "
            "unit's outgoing weights is a fair guide to how much the network needs it."
        )
    if behind >= 2 * max(ahead, 1):
        return sentence + (
            "random units do better, so large outgoing weights alone do not make a unit important (such units "
            "may rarely be active, or repeat each other)."
        )
    return (
        sentence
        + "neither is clearly better: the size of a unit's outgoing weights says little about how much it matters."
    )
