"""Looking inside a variables tree (``model.init(...)`` -> ``{'params': {...}}``).

Everything here walks the tree with ``jax.tree_util.tree_flatten_with_path`` so that the
counts shown to a person are exactly the sizes of the leaves JAX holds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from core import flax_layers, models
from core.i18n import N_
from core.spec import MLPSpec, ModelSpec

HISTOGRAM_BINS = 20


@dataclass(frozen=True)
class VariableRow:
    """One leaf of the variables tree with its size and value statistics."""

    path: str  # "params/Dense_0/kernel"
    shape: tuple[int, ...]
    dtype: str
    size: int
    mean: float
    std: float
    min: float
    max: float
    histogram: tuple[int, ...]  # counts over HISTOGRAM_BINS equal bins from min to max

    @property
    def module(self) -> str:
        """The path without the collection and leaf name: "Dense_0", "encoder/Dense_1"."""
        return "/".join(self.path.split("/")[1:-1])

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class LayerRow:
    """Parameter counts of one module (a Dense layer): kernel + bias."""

    module: str
    shapes: dict[str, tuple[int, ...]]
    parameters: int


def path_to_str(path: tuple) -> str:
    """``(DictKey('params'), DictKey('Dense_0'), DictKey('kernel'))`` -> ``params/Dense_0/kernel``."""
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


_DISPLAY_RANK = {"encoder": 0, "decoder": 1, "kernel": 0, "bias": 1}


def _display_key(path: str) -> list:
    """Data-flow order: encoder before decoder, ``Dense_9`` before ``Dense_10``, kernel before bias."""
    return [
        (_DISPLAY_RANK.get(part, 2), [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", part)])
        for part in path.split("/")
    ]


EXTREME_WEIGHT = 1e6  # weights beyond this make activations overflow float32 after a few layers


def extreme_values_note(params: Any) -> str | None:
    """A sentence for a person when a model's weights are extreme (beyond ``EXTREME_WEIGHT``, or denormal:
    nonzero but below float32's smallest normal number), saying what that does to what the pages draw;
    None for ordinary weights. Non-finite weights never get here: checkpoints refuse them."""
    magnitudes = [np.abs(np.asarray(leaf, np.float64)).ravel() for leaf in jax.tree_util.tree_leaves(params)]
    values = np.concatenate(magnitudes) if magnitudes else np.zeros(0)
    if values.size and (largest := float(values.max())) > EXTREME_WEIGHT:
        return (
            f"Some of this model's weights are enormous (up to {largest:.3g}): its outputs can overflow to "
            "infinity or stop being numbers, so some pictures, maps and scores of it cannot be drawn or mean little."
        )
    tiny = float(np.finfo(np.float32).tiny)
    if np.any((values > 0) & (values < tiny)):
        return (
            f"Some of this model's weights are denormal (nonzero but below {tiny:.3g}): they act as zero, "
            "and computing with them can be slow."
        )
    return None


def histogram_range(lo: float, hi: float) -> tuple[float, float]:
    """The range of a histogram of values from ``lo`` to ``hi``: itself, or widened around them where its bins
    would be too narrow for float64 to tell apart (all values equal, or 1e30 apart by one float32 step)."""
    size = max(abs(lo), abs(hi))
    if hi - lo > size * 1e-9:
        return lo, hi
    middle = lo / 2 + hi / 2
    pad = max(0.5, size * 1e-6)
    return middle - pad, middle + pad


def variable_rows(variables: Any) -> list[VariableRow]:
    """A flat table of every leaf: path, shape, dtype, parameter count and value statistics."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(variables)
    rows = []
    for path, leaf in leaves:
        values = np.asarray(leaf)
        flat = values.astype(np.float64).ravel()
        if flat.size:
            lo, hi = float(flat.min()), float(flat.max())
            counts, _ = np.histogram(flat, bins=HISTOGRAM_BINS, range=histogram_range(lo, hi))
            mean, std = float(flat.mean()), float(flat.std())
        else:
            lo = hi = mean = std = math.nan
            counts = np.zeros(HISTOGRAM_BINS, int)
        rows.append(
            VariableRow(
                path=path_to_str(path),
                shape=tuple(values.shape),
                dtype=str(values.dtype),
                size=int(values.size),
                mean=mean,
                std=std,
                min=lo,
                max=hi,
                histogram=tuple(int(c) for c in counts),
            )
        )
    return sorted(rows, key=lambda row: _display_key(row.path))


def layer_rows(rows: list[VariableRow]) -> list[LayerRow]:
    """Group leaves by module: one row per Dense layer with its kernel/bias shapes and total."""
    grouped: dict[str, dict[str, tuple[int, ...]]] = {}
    counts: dict[str, int] = {}
    for row in rows:
        grouped.setdefault(row.module, {})[row.name] = row.shape
        counts[row.module] = counts.get(row.module, 0) + row.size
    return [LayerRow(module, grouped[module], counts[module]) for module in grouped]


#: What each collection of a variables tree holds, in words.
COLLECTIONS: dict[str, str] = {
    "params": N_(
        "the numbers the optimizer learns: Dense kernels and biases, BatchNorm and LayerNorm scales and biases"
    ),
    "batch_stats": N_(
        "BatchNorm's running mean and variance of each value it normalises: updated by every training "
        "step (model.apply(..., mutable=['batch_stats'])), not by the optimizer, and used when evaluating"
    ),
}


@dataclass(frozen=True)
class Collection:
    """One top-level entry of a variables tree: its name, how many arrays and numbers it holds, what it is."""

    name: str
    arrays: int
    numbers: int
    meaning: str


def collections(rows: list[VariableRow]) -> list[Collection]:
    """The collections of ``variable_rows(variables)``, ``params`` first."""
    grouped: dict[str, list[VariableRow]] = {}
    for row in rows:
        grouped.setdefault(row.path.split("/", 1)[0], []).append(row)
    names = sorted(grouped, key=lambda name: (name != "params", name))
    return [
        Collection(name, len(grouped[name]), sum(r.size for r in grouped[name]), COLLECTIONS.get(name, ""))
        for name in names
    ]


@dataclass(frozen=True)
class BatchStatsRow:
    """The running statistics one BatchNorm layer keeps: over its units, the average of the running means
    and of the running variances (0 and 1 before training)."""

    module: str  # "BatchNorm_0", "decoder/BatchNorm_0"
    units: int
    mean_of_means: float
    mean_of_variances: float
    min_variance: float
    max_variance: float


def batch_stats_rows(variables: Any) -> list[BatchStatsRow]:
    """One row per BatchNorm layer of ``variables["batch_stats"]`` (none for a model without BatchNorm)."""
    stats = variables.get("batch_stats", {}) if hasattr(variables, "get") else {}
    found: dict[str, dict[str, np.ndarray]] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(stats)[0]:
        parts = path_to_str(path).split("/")
        found.setdefault("/".join(parts[:-1]), {})[parts[-1]] = np.asarray(leaf, np.float64)
    return [
        BatchStatsRow(
            module,
            int(arrays["mean"].size),
            float(arrays["mean"].mean()),
            float(arrays["var"].mean()),
            float(arrays["var"].min()),
            float(arrays["var"].max()),
        )
        for module, arrays in sorted(found.items(), key=lambda item: _display_key(item[0]))
    ]


def total_parameters(variables: Any) -> int:
    """Number of scalars in the tree: the sum of every leaf's size."""
    return sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(variables))


def tree_outline(variables: Any) -> dict:
    """The nested tree with each leaf replaced by ``"float32[784,512] (401,408)"`` for a tree view."""

    def describe(leaf: Any) -> str:
        shape = ",".join(str(d) for d in np.shape(leaf))
        return f"{np.asarray(leaf).dtype}[{shape}] ({int(np.size(leaf)):,} values)"

    return jax.tree_util.tree_map(describe, _plain(variables))


def _plain(tree: Any) -> Any:
    """Flax may hand out FrozenDicts; turn mappings into plain dicts for display."""
    if hasattr(tree, "items"):
        return {str(k): _plain(v) for k, v in tree.items()}
    return tree


@dataclass(frozen=True)
class Histogram:
    """How many values fall in each of ``len(counts)`` equal bins from ``edges[0]`` to ``edges[-1]``."""

    edges: np.ndarray  # (bins + 1,)
    counts: np.ndarray  # (bins,) int64

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def value_histogram(values: Any, bins: int = 60) -> Histogram:
    """The histogram of an array's finite values: what a chart of a 4096 x 4096 kernel sends to the
    browser is these 60 counts, not its 16.8 million numbers. Values that are not finite are left out."""
    flat = np.asarray(values, np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return Histogram(np.array([0.0, 1.0]), np.zeros(1, np.int64))
    counts, edges = np.histogram(flat, bins=bins)
    return Histogram(edges, counts.astype(np.int64))


def get_leaf(variables: Any, path: str) -> np.ndarray:
    """The array at ``params/Dense_0/kernel`` as numpy; KeyError with the known paths if absent."""
    node = variables
    for part in path.split("/"):
        try:
            node = node[part]
        except (KeyError, TypeError):
            known = ", ".join(row.path for row in variable_rows(variables))
            raise KeyError(f"no variable {path!r}; the tree has: {known}") from None
    return np.asarray(node)


# ----- the flax code of a spec ----------------------------------------------------------

_SOURCE_HEADER = """\
# flax.linen model generated by the flax model dashboard.
# pip install jax flax  -- then run this file or paste it into a notebook.
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

"""


def _model_source(module: Any) -> str:
    text = Path(module.__file__).read_text()
    begin = text.index("# --- model source begin\n") + len("# --- model source begin\n")
    end = text.index("# --- model source end")
    return text[begin:end].strip() + "\n"


def _value(value: Any) -> str:
    """A value of a layer tuple as Python: a layer call by its name (``dense``), a string quoted."""
    if callable(value):
        return value.__name__
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _tuple(values: Any) -> str:
    items = [_value(v) for v in values]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _layers(layers: Any) -> str:
    """The module's layer tuples, one per line."""
    if not layers:
        return "()"
    return "(\n" + "".join(f"        {_tuple(layer)},\n" for layer in layers) + "    )"


def linen_definitions() -> str:
    """The flax.linen code of every model: the layer calls, then ``MLP`` and ``AutoEncoder``."""
    return _model_source(flax_layers) + "\n\n" + _model_source(models)


def linen_construction(spec: ModelSpec) -> str:
    """The line(s) ``model = MLP(layers=(...))`` that build the spec's model from ``linen_definitions``."""
    model = models.build_model(spec)
    if isinstance(spec, MLPSpec):
        return f"model = MLP(\n    layers={_layers(model.layers)},\n)\n"
    return (
        "model = AutoEncoder(\n"
        f"    encoder_layers={_layers(model.encoder_layers)},\n"
        f"    decoder_layers={_layers(model.decoder_layers)},\n"
        f"    input_shape={_tuple(model.input_shape)},\n"
        ")\n"
    )


def flax_source(spec: ModelSpec) -> str:
    """Runnable flax.linen code that builds the model ``spec`` describes, with the same shapes."""
    batch = f"jnp.ones((1, {', '.join(str(d) for d in spec.input_shape)}))"
    if isinstance(spec, MLPSpec):
        usage = "logits = model.apply(variables, x)  # one score per class, shape (1, 10)\n"
    else:
        usage = (
            f"code = model.apply(variables, x, method=model.encode)  # shape (1, {spec.code_size})\n"
            "reconstruction = model.apply(variables, code, method=model.decode)  # shape (1, 28, 28, 1)\n"
        )
    return (
        _SOURCE_HEADER
        + "\n"
        + linen_definitions()
        + "\n\n"
        + linen_construction(spec)
        + f"x = {batch}\n"
        + f"variables = model.init(jax.random.key({spec.seed}), x)\n"
        + "print(jax.tree_util.tree_map(jnp.shape, variables))\n"
        + usage
    )
