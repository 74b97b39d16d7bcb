"""What a model costs and what an edit changed: parameters, memory, FLOPs, in numbers and words.

FLOPs count multiply-adds as 2 (the usual convention, and what XLA's cost analysis
reports), per example:
- forward: each Dense layer does ``2 * inputs * outputs`` for the matrix product and
  ``outputs`` for the bias; activations add about one operation per unit (more for
  gelu/sigmoid/tanh, which we still count as one: they are a few percent of the total).
- training step: the forward pass, plus the backward pass, which needs the gradient of
  each weight matrix (``2 * inputs * outputs``) and, except for the first layer, the
  gradient of its input (another ``2 * inputs * outputs``). The optimizer update is
  per parameter, not per example, and is reported separately.
- a convolution with a KxK kernel does ``K*K*C_in*C_out`` multiply-adds at each output position
  (a transposed one at each input position), one bias addition and one activation per output
  value; its backward pass is counted like a Dense layer's (weight gradients, and the gradient of
  its input unless no layer with weights is below it). A 2x2 max pool does 3 comparisons per output
  value, an average pool 4 operations; their backward passes are counted as twice their forward
  pass (``core.conv_layers``).
- the other layers work on each value they receive (n values): Dropout is off when
  evaluating (0) and multiplies by a random mask and a scale while training (2n);
  BatchNorm subtracts a mean, divides by a spread, scales and shifts (4n), and while
  training first computes the batch's mean and variance (3n more); LayerNorm computes
  each image's mean and variance as well (7n). Their backward passes are counted as twice
  their training forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jax
import numpy as np

from core import models
from core.i18n import N_, Phrase
from core.layers import width_of
from core.shapes import PlacedLayer
from core.spec import ModelSpec
from core.training import TrainConfig
from core.training.optimizer import optimizer

BYTES_PER_FLOAT = 4


@dataclass(frozen=True)
class ModelCosts:
    parameters: int
    parameter_bytes: int
    optimizer_state_bytes: int
    forward_flops: int  # per example
    train_flops: int  # per example: forward + backward
    batch_stats_bytes: int = 0  # BatchNorm's running means and variances


def _weighted_flops(placed: PlacedLayer) -> int:
    """Forward operations of a layer's weights, biases and activation, for one image."""
    layer, shape = placed.layer, placed.input_shape
    return layer.matrix_flops(shape) + layer.bias_flops(shape) + layer.activation_flops(shape)


def _output_activation_flops(spec: ModelSpec) -> int:
    """The autoencoder's sigmoid after its last layer: one operation per pixel (0 for the MLP's scores)."""
    return 0 if spec.output_activation == "linear" else math.prod(spec.layer_shapes()[-1].output_shape)


def forward_flops(spec: ModelSpec) -> int:
    """Per example, in evaluation mode (dropout off); every layer counts its own (``core.layers``)."""
    layers = sum(_weighted_flops(one) + one.layer.elementwise_flops(one.input_shape, False)
                 for one in spec.layer_shapes())  # fmt: skip
    return layers + _output_activation_flops(spec)


def train_flops(spec: ModelSpec) -> int:
    """Per example: the forward pass in training mode, the gradients of every weight and bias, the
    gradients flowing to the layer below (not below the first layer with weights), and twice each
    other layer's training forward pass for its backward pass."""
    total, below = _output_activation_flops(spec), False
    for one in spec.layer_shapes():
        layer, shape = one.layer, one.input_shape
        matrix = layer.matrix_flops(shape)
        total += _weighted_flops(one) + matrix + layer.bias_flops(shape)  # forward, weight and bias gradients
        total += matrix if below else 0  # the gradient flowing to the layer below
        below = below or matrix > 0
        total += 3 * layer.elementwise_flops(shape, True)  # forward in training mode, backward twice it
    return total


def optimizer_state_bytes(spec: ModelSpec, config: TrainConfig) -> int:
    """Exact size of the optimizer state optax keeps for these parameters (Adam: two moments)."""
    return _optimizer_state_bytes(spec, config.optimizer)


@lru_cache(maxsize=64)
def _optimizer_state_bytes(spec: ModelSpec, name: str) -> int:
    config = TrainConfig(optimizer=name)  # the state's size does not depend on the values
    model = models.build_model(spec)
    params = jax.eval_shape(model.init, jax.random.key(0), models.example_batch(spec))["params"]
    state = jax.eval_shape(optimizer(config).init, params)
    return int(
        sum(np.prod(leaf.shape, dtype=np.int64) * leaf.dtype.itemsize for leaf in jax.tree_util.tree_leaves(state))
    )


def model_costs(spec: ModelSpec, config: TrainConfig | None = None) -> ModelCosts:
    config = config or TrainConfig()
    return ModelCosts(
        parameters=spec.parameter_count,
        parameter_bytes=spec.parameter_count * BYTES_PER_FLOAT,
        optimizer_state_bytes=optimizer_state_bytes(spec, config),
        forward_flops=forward_flops(spec),
        train_flops=train_flops(spec),
        batch_stats_bytes=spec.batch_stats_count * BYTES_PER_FLOAT,
    )


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def human_count(n: float) -> str:
    """``1_234_567`` -> ``"1.2 million"``: big numbers a newcomer can read."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if n >= size:
            return f"{n / size:,.1f} {word}"
    return f"{n:,.0f}"


# ----- what an edit changed ---------------------------------------------------------------------


@dataclass(frozen=True)
class LayerDiff:
    path: str
    before: int | None  # parameters, None if the layer is new
    after: int | None  # None if the layer was removed

    def in_words(self) -> dict[str, str]:
        """The row of the before/after table as people read it: "401,920", "new layer", "-351,680"."""
        change = (self.after or 0) - (self.before or 0)
        return {
            "layer": self.path,
            "before": "new layer" if self.before is None else f"{self.before:,}",
            "now": "removed" if self.after is None else f"{self.after:,}",
            "change": f"{change:+,}" if change else "same",
        }


def parameter_diff(old: ModelSpec, new: ModelSpec) -> list[LayerDiff]:
    """Parameters per layer with weights (Dense, Conv, BatchNorm...) before and after, matched by their
    place in the variables tree (``models.layer_paths``)."""
    before, after = _parameters_by_path(old), _parameters_by_path(new)
    order = [*after, *(path for path in before if path not in after)]
    return [LayerDiff(path, before.get(path), after.get(path)) for path in order]


def _parameters_by_path(spec: ModelSpec) -> dict[str, int]:
    placed = zip(models.layer_paths(spec), spec.layer_shapes(), strict=True)
    return {path: one.parameters for path, one in placed if path is not None and one.parameters}


def _change(delta: int, total_before: int) -> Phrase:
    """The change in words, e.g. 'adds 1,290 parameters (+0.2%)'; a small real change never reads as 0%."""
    if delta == 0:
        return Phrase(N_("same number of parameters"))
    share = abs(delta) / total_before
    sign = "+" if delta > 0 else "-"
    if share >= 0.01:
        percent: str = f"{sign}{share:.0%}"
    elif share >= 0.001:
        percent = f"{sign}{share:.1%}"
    else:
        percent = Phrase(N_("less than {share}"), share="0.1%")
    template = (
        N_("adds {count:,} parameters ({percent})") if delta > 0 else N_("removes {count:,} parameters ({percent})")
    )
    return Phrase(template, count=abs(delta), percent=percent)


def _inserted_at(shorter: tuple, longer: tuple) -> int | None:
    """Where ``longer`` has one layer that ``shorter`` lacks, everything else equal; None otherwise."""
    for i in range(len(longer)):
        if longer[:i] + longer[i + 1 :] == shorter:
            return i
    return None


def _removed_other(old_layers: tuple, new_layers: tuple) -> tuple[int, Any] | None:
    """(index, layer) when ``new_layers`` is ``old_layers`` less one Dropout or normalisation layer."""
    if len(old_layers) != len(new_layers) + 1:
        return None
    removed = _inserted_at(new_layers, old_layers)
    if removed is None or old_layers[removed].is_dense:
        return None
    return removed, old_layers[removed]


def describe_change(old: ModelSpec, new: ModelSpec) -> str:
    """One sentence about an edit, e.g. "layer 2: 128 -> 256 units adds 33,024 parameters (+6%)", a
    ``Phrase`` that a page shows in its visitor's language."""
    if old == new:
        return ""
    delta = new.parameter_count - old.parameter_count
    change = _change(delta, old.parameter_count)
    if type(old) is not type(new):  # another kind of model
        return Phrase(N_("switched to {model}: {count:,} parameters"), model=new.describe(), count=new.parameter_count)
    return _layer_change(old.layers, new.layers, delta, change) or _other_change(old, new, delta, change)


def _layer_change(old_layers: tuple, new_layers: tuple, delta: int, change: Phrase) -> Phrase | None:
    """The edit of one layer in place (its width, activation or settings), if that is what it was."""
    if len(old_layers) != len(new_layers):
        return None
    pairs = list(zip(old_layers, new_layers, strict=True))
    changed = [i for i, (a, b) in enumerate(pairs) if a != b]
    if len(changed) == 1:
        i = changed[0]
        a, b = old_layers[i], new_layers[i]
        if not all(a.is_dense and b.is_dense for a, b in pairs):  # a model with other layers: say them whole
            if delta:
                return Phrase(N_("layer {number}: {old} → {new} {change}"), number=i + 1, old=a.describe(),
                              new=b.describe(), change=change)  # fmt: skip
            return Phrase(N_("layer {number}: {old} → {new} (same parameters)"), number=i + 1, old=a.describe(),
                          new=b.describe())  # fmt: skip
        if a.width != b.width and a.activation == b.activation:
            return Phrase(N_("layer {number}: {old:,} → {new:,} units {change}"), number=i + 1, old=a.width,
                          new=b.width, change=change)  # fmt: skip
        if a.width == b.width:
            return Phrase(N_("layer {number}: activation {old} → {new} (same parameters)"), number=i + 1,
                          old=a.activation, new=b.activation)  # fmt: skip
    if changed and all(width_of(a) == width_of(b) for a, b in pairs):
        return Phrase(N_("activations changed (same parameters)"))
    return None


def _other_change(old: ModelSpec, new: ModelSpec, delta: int, change: Phrase) -> Phrase:
    """A layer added or removed, another seed, or else the two models side by side."""
    old_layers, new_layers = old.layers, new.layers
    added = _inserted_at(old_layers, new_layers) if len(new_layers) == len(old_layers) + 1 else None
    if added is not None and not new_layers[added].is_dense:
        return Phrase(N_("one more layer ({layer}, layer {number}): {change}"), layer=new_layers[added].describe(),
                      number=added + 1, change=change)  # fmt: skip
    if removed_layer := _removed_other(old_layers, new_layers):
        index, layer = removed_layer
        return Phrase(N_("layer {number} ({layer}) removed: {change}"), number=index + 1, layer=layer.describe(),
                      change=change)  # fmt: skip
    if added is not None:
        template = (
            N_("one more layer ({width:,} units, layer {number}) {change}: the layers around it now connect "
               "through its {width:,} units")
            if delta < 0 else N_("one more layer ({width:,} units, layer {number}) {change}")
        )  # fmt: skip
        return Phrase(template, width=new_layers[added].width, number=added + 1, change=change)
    removed = _inserted_at(new_layers, old_layers) if len(old_layers) == len(new_layers) + 1 else None
    if removed is not None:
        template = (
            N_("layer {number} ({width:,} units) removed: {change}: the layers around it are now connected directly")
            if delta > 0 else N_("layer {number} ({width:,} units) removed: {change}")
        )  # fmt: skip
        return Phrase(template, number=removed + 1, width=old_layers[removed].width, change=change)
    if delta == 0 and old.seed != new.seed:
        return Phrase(N_("seed {old} → {new}: new starting weights (same parameters)"), old=old.seed, new=new.seed)
    return Phrase(N_("{old} → {new}: {change}"), old=old.describe(), new=new.describe(), change=change)
