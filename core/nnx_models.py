"""The spec's model in flax NNX, beside the flax.linen one of ``core.models``.

flax.linen keeps a model's numbers outside it (``variables["params"]["Dense_0"]["kernel"]``, given to
``model.apply``); flax NNX keeps them inside it as attributes (``model.dense_0.kernel``), each a typed
variable: ``nnx.Param`` (learned) or ``nnx.BatchStat`` (BatchNorm's running averages). This module
builds the NNX model of any spec from its layer types (``Layer.nnx_module`` / ``nnx_apply``), writes
it as NNX source code (``Layer.nnx_code`` / ``nnx_call_code``), maps every linen path to its NNX path,
copies trained linen values into it, and shows ``nnx.bridge.ToNNX`` wrapping the linen model as is.

Attribute names follow linen's: the layer linen calls ``Dense_0`` is ``dense_0`` here, so the
mapping reads at a glance; a Dropout layer holds its random stream (``nnx.RngState``), which has no
linen counterpart (linen takes ``rngs={"dropout": key}`` at each call instead).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from core import models
from core.layers import Layer
from core.shapes import PlacedLayer
from core.spec import MLPSpec, ModelSpec

#: The linen collection each NNX variable type is stored in.
COLLECTION_OF = {nnx.Param: "params", nnx.BatchStat: "batch_stats"}


@dataclass(frozen=True)
class NNXLayer:
    """One layer where the model applies it (``core.shapes.PlacedLayer``), with its linen module name and
    its NNX attribute ("" for a layer without a module: pooling is a function)."""

    placed: PlacedLayer
    linen_name: str  # "Dense_0": flax.linen's automatic name inside its stack
    attribute: str  # "dense_0": the NNX model's attribute

    @property
    def layer(self) -> Layer:
        return self.placed.layer

    @property
    def inputs(self) -> tuple[int, ...]:
        return self.placed.input_shape

    def code(self) -> list[str]:
        """Its line in the generated ``__init__`` (none without a module)."""
        built = self.layer.nnx_code(self.inputs)
        return [] if built is None else [f"self.{self.attribute} = {built}"]

    def call_code(self) -> list[str]:
        """Its lines in the generated ``__call__``: a reshape first where the values change shape."""
        return [*self._reshape(), f"x = {self.layer.nnx_call_code(f'self.{self.attribute}', self.inputs)}"]

    def linen_code(self) -> list[str]:
        """Its lines in a flax.linen ``@nn.compact`` ``__call__``, which creates its module where it is used
        (linen names it ``Dense_0``... in that order)."""
        return [*self._reshape(), f"x = {self.layer.linen_call_code(self.inputs)}"]

    def _reshape(self) -> list[str]:
        """A reshape first where the values change shape (an image flattened, or a code made an image)."""
        return [f"x = x.reshape((x.shape[0], {', '.join(map(str, self.inputs))}))"] if self.placed.reshaped else []


@dataclass(frozen=True)
class Stack:
    """The layers one linen ``MLP`` module applies (the classifier, or an autoencoder's encoder or decoder)."""

    attribute: str | None  # "encoder", "decoder"; None for the classifier (the model itself)
    class_name: str  # the NNX class in the generated code: "MLP", "Encoder", "Decoder"
    layers: tuple[NNXLayer, ...]


def name_layers(placed: tuple[PlacedLayer, ...]) -> tuple[NNXLayer, ...]:
    """Each layer with its names, numbered per kind in the order applied, as flax.linen numbers them."""
    counts: Counter = Counter()
    named = []
    for one in placed:
        name = one.layer.linen_name if one.layer.has_module else ""
        index = counts[name]
        counts[name] += 1
        named.append(NNXLayer(one, f"{name}_{index}" if name else "", f"{name.lower()}_{index}" if name else ""))
    return tuple(named)


#: The NNX class of each stack (the classifier's is the model itself), and its attribute in an autoencoder.
STACK_CLASSES = {"hidden": ("MLP", None), "encoder": ("Encoder", "encoder"), "decoder": ("Decoder", "decoder")}


def stacks(spec: ModelSpec) -> tuple[Stack, ...]:
    """The model's stacks as ``spec.layer_shapes()`` places them, with the layers the model adds."""
    placed = spec.layer_shapes()
    found = []
    for stack in dict.fromkeys(one.stack for one in placed):
        class_name, attribute = STACK_CLASSES[stack]
        found.append(Stack(attribute, class_name, name_layers(tuple(one for one in placed if one.stack == stack))))
    return tuple(found)


# ----- the NNX modules ------------------------------------------------------------------------


class StackModule(nnx.Module):
    """The layers of a ``Stack`` as NNX modules (attributes ``dense_0``, ``conv_0``...), applied in order:
    the NNX twin of ``core.models.MLP``."""

    def __init__(self, stack: Stack, rngs: nnx.Rngs):
        self.stack = stack  # plain frozen data: static in the graph, like a linen module's fields
        for one in stack.layers:
            if one.attribute:
                setattr(self, one.attribute, one.layer.nnx_module(one.inputs, rngs))

    def __call__(self, x):
        for one in self.stack.layers:
            if one.placed.reshaped:
                x = x.reshape((x.shape[0], *one.inputs))
            x = one.layer.nnx_apply(getattr(self, one.attribute) if one.attribute else None, x, one.inputs)
        return x


class AutoEncoderModule(nnx.Module):
    """Encoder down to the code, decoder back up to the image, then a sigmoid: the NNX twin of
    ``core.models.AutoEncoder`` (same ``encode`` / ``decode_logits`` / ``decode``)."""

    def __init__(self, encoder: Stack, decoder: Stack, input_shape: tuple[int, ...], rngs: nnx.Rngs):
        self.encoder = StackModule(encoder, rngs)
        self.decoder = StackModule(decoder, rngs)
        self.input_shape = tuple(input_shape)

    def __call__(self, x):
        return self.decode(self.encode(x))

    def encode(self, x):
        return self.encoder(x)

    def decode_logits(self, z):
        x = self.decoder(z)
        return x.reshape((x.shape[0], -1))

    def decode(self, z):
        x = nnx.sigmoid(self.decode_logits(z))
        return x.reshape((x.shape[0], *self.input_shape))


def build_nnx_model(spec: ModelSpec, seed: int | None = None) -> nnx.Module:
    """The NNX model of ``spec``, initialised from ``nnx.Rngs(seed)`` (the spec's seed by default)."""
    rngs = nnx.Rngs(spec.seed if seed is None else seed)
    found = stacks(spec)
    if isinstance(spec, MLPSpec):
        return StackModule(found[0], rngs)
    return AutoEncoderModule(*found, spec.input_shape, rngs)


# ----- linen values into the NNX model ------------------------------------------------------


def module_paths(spec: ModelSpec) -> dict[tuple[str, ...], tuple[str, ...]]:
    """NNX module path -> linen module path: ``("encoder", "dense_0") -> ("encoder", "Dense_0")``."""
    paths = {}
    for stack in stacks(spec):
        prefix = () if stack.attribute is None else (stack.attribute,)
        for one in stack.layers:
            if one.attribute:
                paths[(*prefix, one.attribute)] = (*prefix, one.linen_name)
    return paths


def linen_path(spec: ModelSpec, nnx_path: tuple, variable_type: type) -> tuple[str, ...] | None:
    """The linen path (collection first) of the NNX variable at ``nnx_path``; None when linen has none
    (a Dropout layer's random stream)."""
    collection = next((name for kind, name in COLLECTION_OF.items() if issubclass(variable_type, kind)), None)
    module = module_paths(spec).get(tuple(str(p) for p in nnx_path[:-1]))
    if collection is None or module is None:
        return None
    return (collection, *module, str(nnx_path[-1]))


def with_linen_values(spec: ModelSpec, variables: Any, model: nnx.Module | None = None) -> nnx.Module:
    """An NNX model of ``spec`` holding linen's ``variables`` (``{"params": ..., "batch_stats": ...}``),
    in evaluation mode. Every linen array lands in exactly one NNX variable of the same shape."""
    model = build_nnx_model(spec) if model is None else model
    variables = models.as_variables(variables)
    graphdef, state = nnx.split(model)
    flat = []
    for path, variable in nnx.to_flat_state(state):
        source = linen_path(spec, path, type(variable))
        if source is not None:
            value = np.asarray(_get(variables, source))
            if value.shape != variable.shape:
                raise ValueError(f"{'/'.join(source)} is {value.shape}, its NNX variable {variable.shape}")
            variable = variable.replace(jnp.asarray(value, variable.dtype))
        flat.append((path, variable))
    model = nnx.merge(graphdef, nnx.from_flat_state(flat))
    model.eval()
    return model


def _get(tree: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        tree = tree[part]
    return tree


# ----- what a person reads -------------------------------------------------------------------


@dataclass(frozen=True)
class PathRow:
    """One NNX variable beside the linen array it holds."""

    linen: str  # "params/encoder/Dense_0/kernel"; "" for an NNX-only variable
    nnx: str  # "encoder.dense_0.kernel"
    variable_type: str  # "nnx.Param", "nnx.BatchStat", "nnx.RngKey"
    shape: tuple[int, ...]
    count: int


@lru_cache(maxsize=32)
def path_rows(spec: ModelSpec) -> tuple[PathRow, ...]:
    """Every variable of the NNX model, with its linen path, in the order the model applies its layers
    (shapes from ``nnx.eval_shape``: nothing is computed)."""
    abstract = nnx.eval_shape(lambda: build_nnx_model(spec, 0))
    order = {path: i for i, path in enumerate(module_paths(spec))}
    rows = []
    for path, variable in nnx.to_flat_state(nnx.state(abstract)):
        source = linen_path(spec, path, type(variable))
        shape = tuple(variable.shape)
        rows.append(
            (
                # layer by layer as applied; in a layer, learned values first, kernel before bias
                (
                    order.get(tuple(str(p) for p in path[:-1]), len(order)),
                    not source or source[0] != "params",
                    str(path[-1]) != "kernel",
                ),
                PathRow(
                    "/".join(source) if source else "",
                    ".".join(str(p) for p in path),
                    f"nnx.{type(variable).__name__}",
                    shape,
                    int(np.prod(shape, dtype=np.int64)),
                ),
            )
        )
    return tuple(row for _, row in sorted(rows, key=lambda pair: pair[0]))


def parameter_count(model: nnx.Module) -> int:
    """Numbers in the model's ``nnx.Param`` variables (what the optimizer learns)."""
    return sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param)))


# ----- the one-line alternative: the linen model wrapped as it is ------------------------------

TONNX_CODE = """\
from flax import nnx

model = nnx.bridge.ToNNX(linen_model, rngs=nnx.Rngs(0))  # the linen module, wrapped
nnx.bridge.lazy_init(model, x)  # creates its variables (new starting values), named as linen names them
for collection in variables.values():  # linen's trained values in: "params", then "batch_stats"
    nnx.update(model, collection)  # each array to the variable of the same name, Dense_0.kernel...
y = model(x, train=False)  # the same outputs as linen_model.apply(variables, x, train=False)
"""


def bridged(spec: ModelSpec, variables: Any) -> nnx.Module:
    """``nnx.bridge.ToNNX`` of the linen model holding ``variables``, as ``TONNX_CODE`` does it: the linen
    module as an NNX one, its variables at linen's paths without the collection (``Dense_0.kernel``)."""
    model = nnx.bridge.ToNNX(models.build_model(spec), rngs=nnx.Rngs(0))
    nnx.bridge.lazy_init(model, models.example_batch(spec))
    for collection in models.as_variables(variables).values():
        nnx.update(model, collection)
    return model
