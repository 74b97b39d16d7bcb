"""Inside the network: what every layer of a model outputs for an input, as flax computes it.

The values come from ``model.apply(..., capture_intermediates=True)``: flax records the output
of every submodule it calls, so a new kind of layer (a norm, a dropout) shows up as one more row
without code here. A Dense layer's row holds its units after the activation that follows it (the
numbers the next layer receives); ``before`` keeps what flax captured, the Dense output itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from core import models
from core.ablation import Masks, mask_values, switched_off
from core.conv_layers import Conv
from core.errors import CoreError
from core.i18n import N_
from core.spec import ModelSpec

_CHUNK = 1024


@dataclass(frozen=True)
class LayerOutput:
    """One captured layer: its flax path, kind and the values of its units for each input (N, units)."""

    path: str  # "Dense_0", "encoder/Dense_1": the module's path in the variables tree
    kind: str  # the flax module class: "Dense", "LayerNorm", ...
    role: str  # "hidden", "code", "output", "reconstruction" (Dense layers) or "other"
    activation: str  # applied to ``before`` to give ``values`` ("linear": nothing)
    before: np.ndarray  # what flax captured: the module's output
    values: np.ndarray  # what the layer passes on: the activation of ``before``

    @property
    def units(self) -> int:
        return int(self.values.shape[-1])

    def name(self, number: int) -> str:
        """How the page calls the layer: ``"layer 1 (Dense, 512 units, relu)"``."""
        label = {"code": "code", "output": "output", "reconstruction": "reconstruction"}.get(self.role)
        label = label or f"layer {number}"
        after = "" if self.activation == "linear" else f", {self.activation}"
        return f"{label} ({self.kind}, {self.units:,} units{after})"


@lru_cache(maxsize=32)
def captured_modules(shape: ModelSpec) -> tuple[tuple[str, str], ...]:
    """(path, class name) of every leaf module the model calls, in the order it calls them.

    Found once per shape by tracing ``model.apply`` with a capture filter that notes each call
    (a jitted function returns dicts with sorted keys, which would put ``decoder`` first)."""
    model = models.build_model(shape)
    calls: list[tuple[tuple[str, ...], str]] = []

    def note(module: nn.Module, method_name: str) -> bool:
        if method_name == "__call__" and module.path:
            calls.append((tuple(module.path), type(module).__name__))
        return False

    variables = jax.eval_shape(model.init, jax.random.key(0), models.example_batch(shape))
    jax.eval_shape(lambda v, x: model.apply(v, x, capture_intermediates=note), variables, models.example_batch(shape))
    paths = [path for path, _ in calls]
    leaves = [(path, kind) for path, kind in calls if not any(p[: len(path)] == path and p != path for p in paths)]
    return tuple(("/".join(path), kind) for path, kind in dict.fromkeys(leaves))


@partial(jax.jit, static_argnums=0)
def _outputs_and_intermediates(spec: ModelSpec, variables: dict, x: jax.Array, masks: dict):
    # evaluation mode (train=False): Dropout off, BatchNorm on its running averages, as the model is scored
    with switched_off(masks):
        return models.build_model(spec).apply(variables, x, capture_intermediates=True, mutable=["intermediates"])


def _captured(
    spec: ModelSpec, variables: dict, images: np.ndarray, masks: dict
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The model's output and every module's captured output, over ``images`` in padded chunks."""
    outputs, captured = [], []
    for start in range(0, len(images), _CHUNK):
        chunk = images[start : start + _CHUNK]
        size = min(_CHUNK, 1 << max(0, len(chunk) - 1).bit_length())
        padded = np.concatenate([chunk, np.zeros((size - len(chunk), *chunk.shape[1:]), chunk.dtype)])
        output, state = _outputs_and_intermediates(spec, variables, jnp.asarray(padded), masks)
        leaves, _ = jax.tree_util.tree_flatten_with_path(state["intermediates"])
        # a path is ("encoder", "Dense_0", "__call__", 0): the module, the method, the call
        found = {"/".join(k.key for k in path[:-2]): np.asarray(leaf)[: len(chunk)] for path, leaf in leaves}
        outputs.append(np.asarray(output)[: len(chunk)])
        captured.append(found)
    return np.concatenate(outputs), {key: np.concatenate([c[key] for c in captured]) for key in captured[0]}


def as_inputs(images: np.ndarray) -> np.ndarray:
    """Float images in 0..1 shaped (N, 28, 28, 1) from uint8 or float images (one or many)."""
    images = np.asarray(images)
    images = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    if images.ndim == 3 and images.shape[-1] != 1:
        images = images[..., None]
    if images.ndim == 3:
        images = images[None]
    return images


def layer_outputs(
    spec: ModelSpec, variables: Any, images: np.ndarray, masks: Masks | None = None
) -> tuple[list[LayerOutput], np.ndarray]:
    """Every layer's output for each of ``images`` (N, 28, 28[, 1]), and the model's output
    (MLP: class scores (N, classes); autoencoder: reconstructions (N, 28, 28, 1)), in evaluation
    mode. ``variables``: ``{"params": ..., "batch_stats": ...}`` or a bare params tree. ``masks``
    ({layer path: (units,) 1 on / 0 off}, ``core.ablation``) switches units off: they pass on 0."""
    inputs = as_inputs(images)
    if len(inputs) == 0:
        raise CoreError(N_("no image to look inside the network with"))
    if inputs.shape[1:] != tuple(spec.input_shape):
        raise CoreError(
            N_("the model takes images of {spec_input_shape}, got {inputs_shape}"),
            spec_input_shape=spec.input_shape,
            inputs_shape=inputs.shape[1:],
        )
    masks = {path: jnp.asarray(mask, jnp.float32) for path, mask in (masks or {}).items()}
    output, captured = _captured(spec, models.as_variables(variables), inputs, masks)
    dense = {layer.path: layer for layer in models.dense_layers(spec)}
    convs = conv_activations(spec)
    rows = []
    for path, kind in captured_modules(spec.replace(seed=0)):
        before = captured[path].reshape(len(inputs), -1)
        layer = dense.get(path)
        activation = layer.activation if layer is not None else convs.get(path, "linear")
        values = np.asarray(getattr(nn, activation)(before)) if activation != "linear" else before
        if path in masks:  # flax captured the layer itself; what it passes on has the switched units at 0
            values = np.asarray(mask_values(values, masks[path]))
        rows.append(LayerOutput(path, kind, layer.role if layer else "other", activation, before, values))
    return rows, output


def conv_activations(spec: ModelSpec) -> dict[str, str]:
    """{flax path: activation} of the model's Conv and ConvTranspose layers (flax captures the convolution;
    its activation follows as a plain function, as for a Dense layer)."""
    return {
        path: placed.layer.activation
        for path, placed in zip(models.layer_paths(spec), spec.layer_shapes(), strict=True)
        if isinstance(placed.layer, Conv)
    }


def image_shape(spec: ModelSpec, path: str) -> tuple[int, int, int] | None:
    """(height, width, channels) of what the captured module at ``path`` gives for one input, or None
    when it gives flat values (a Dense layer, or a norm after one)."""
    shape = _captured_shapes(spec.replace(seed=0)).get(path)
    return shape if shape is not None and len(shape) == 3 else None


def feature_maps(values: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """One input's flat values (H*W*C,) of an image layer as its channels' maps (C, H, W)."""
    return np.asarray(values).reshape(shape).transpose(2, 0, 1)


def channel_strength(values: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """How much each channel lights up for each input: the mean of its map, (N, H*W*C) -> (N, C)."""
    values = np.asarray(values)
    return values.reshape(len(values), -1, shape[-1]).mean(axis=1)


def probabilities(scores: np.ndarray) -> np.ndarray:
    """Class probabilities from an MLP's output scores (softmax, as ``core.predict`` does)."""
    return np.asarray(jax.nn.softmax(jnp.asarray(scores), axis=-1))


def for_one(rows: list[LayerOutput], index: int = 0) -> list[LayerOutput]:
    """The rows of one input among many (a unit's values (units,) become (1, units))."""
    return [
        LayerOutput(r.path, r.kind, r.role, r.activation, r.before[index : index + 1], r.values[index : index + 1])
        for r in rows
    ]


# ----- the network as a diagram ----------------------------------------------------------------


@dataclass(frozen=True)
class Connections:
    """The strongest weights between two layers: ``sources[i] -> targets[i]`` with ``weights[i]``."""

    sources: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    total: int  # how many weights the kernel has


def strongest_connections(kernel: np.ndarray, count: int) -> Connections:
    """The ``count`` weights of a kernel (inputs, outputs) largest in magnitude, strongest first."""
    kernel = np.asarray(kernel)
    flat = np.abs(kernel).ravel()
    count = min(count, flat.size)
    chosen = np.argpartition(-flat, count - 1)[:count] if count < flat.size else np.arange(flat.size)
    chosen = chosen[np.argsort(-flat[chosen], kind="stable")]
    sources, targets = np.unravel_index(chosen, kernel.shape)
    return Connections(sources, targets, kernel.ravel()[chosen], int(flat.size))


def kernel_of(variables: Any, path: str) -> np.ndarray:
    """The kernel of the layer at ``path``: (inputs, outputs) for a Dense layer ("encoder/Dense_0"),
    (K, K, in channels, out channels) for a Conv layer ("Conv_0")."""
    node = models.as_variables(variables)["params"]
    for key in path.split("/"):
        node = node[key]
    return np.asarray(node["kernel"])


def units_per_input(shape: ModelSpec) -> int:
    """How many numbers ``layer_outputs`` gives for one input: the units of every captured layer."""
    return sum(math.prod(shape_) for shape_ in _captured_shapes(shape.replace(seed=0)).values())


@lru_cache(maxsize=32)
def _captured_shapes(shape: ModelSpec) -> dict[str, tuple[int, ...]]:
    model = models.build_model(shape)
    x = models.example_batch(shape)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    _, state = jax.eval_shape(
        lambda v, x: model.apply(v, x, capture_intermediates=True, mutable=["intermediates"]), variables, x
    )
    leaves, _ = jax.tree_util.tree_flatten_with_path(state["intermediates"])
    found = {"/".join(k.key for k in path[:-2]): tuple(leaf.shape[1:]) for path, leaf in leaves}
    return {path: found[path] for path, _ in captured_modules(shape)}


def activation_pool(spec: ModelSpec, budget_bytes: int, most: int) -> int:
    """How many inputs' every-unit values (float32) fit in ``budget_bytes``: at most ``most``, at least 1.
    Bounds what a page keeps to find the inputs that light a unit up, however wide the model."""
    return max(1, min(most, budget_bytes // (4 * units_per_input(spec))))


def most_active(values: np.ndarray, unit: int, count: int) -> np.ndarray:
    """Indices of the inputs (rows of ``values`` (N, units)) on which ``unit`` is highest, highest first;
    none when every input gives it the same value (a unit that never fires, 0 for every image: no image
    lights it up more than another)."""
    column = np.asarray(values)[:, unit]
    if column.size == 0 or np.ptp(column) == 0:
        return np.zeros(0, dtype=np.int64)
    count = min(count, len(column))
    chosen = np.argpartition(-column, count - 1)[:count] if count < len(column) else np.arange(len(column))
    return chosen[np.argsort(-column[chosen], kind="stable")]


def grid_shape(units: int) -> tuple[int, int]:
    """Rows and columns of a compact grid for a layer of ``units`` (512 -> 16 x 32, 784 -> 28 x 28,
    10 -> 1 x 10): a row up to 16 units, a square when the width is one, else about twice as wide as tall."""
    if units <= 16:
        return 1, units
    side = int(np.sqrt(units))
    if side * side == units:
        return side, side
    rows = int(np.floor(np.sqrt(units / 2)))
    while rows > 1 and units % rows:
        rows -= 1
    if rows == 1 or units // rows > 4 * rows:  # a prime width: a near-square grid with a short last row
        rows = int(np.ceil(np.sqrt(units / 2)))
    return rows, -(-units // rows)


def weight_images(kernel: np.ndarray, image_shape: tuple[int, int], count: int) -> np.ndarray:
    """The incoming weights of the first ``count`` units of a first layer (pixels, units) as images
    (count, H, W) in 0..1: 0.5 is a weight of 0, lighter is positive, darker negative, each unit
    scaled by its own largest weight so a unit with small weights still shows its pattern."""
    kernel = np.asarray(kernel, np.float32)
    if kernel.shape[0] != int(np.prod(image_shape)):
        raise CoreError(
            N_("a kernel of {kernel_shape} inputs is not an image of {image_shape}"),
            kernel_shape=kernel.shape[0],
            image_shape=image_shape,
        )
    chosen = kernel[:, : min(count, kernel.shape[1])].T
    largest = np.maximum(np.abs(chosen).max(axis=1, keepdims=True), 1e-12)
    return (0.5 + 0.5 * chosen / largest).reshape(-1, *image_shape)
