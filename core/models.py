"""flax.linen modules of the classic flax introduction, generalised to per-layer activations.

The code between the ``# --- model source`` markers is also what ``core.variables.flax_source``
shows to a person (after the layer calls of ``core.flax_layers``), so it must stay self-contained:
it uses only ``nn``, ``jnp``, ``np``, ``Sequence`` and those calls.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from core.spec import MLPSpec, ModelSpec


# --- model source begin
class MLP(nn.Module):
    """Layers applied in order; each is a layer call above and its settings: (dense, units,
    activation), (conv, features, kernel, activation), (maxpool,), (avgpool,),
    (convt, features, kernel, activation), (dropout, rate), (batchnorm,),
    (layernorm,) or (reshape, *shape). Images (N, 28, 28, 1) keep their shape
    through conv and pooling layers; the first Dense layer flattens them.

    ``train=True`` while training: Dropout zeroes values at random (it needs a "dropout"
    random key: ``rngs={"dropout": key}``) and BatchNorm normalises with the batch's own
    statistics, updating its running averages in the ``batch_stats`` collection
    (``mutable=["batch_stats"]``). ``train=False`` when evaluating: Dropout is off and
    BatchNorm uses those running averages.
    """

    layers: Sequence[tuple]

    @nn.compact
    def __call__(self, x, train: bool = False):
        for layer, *settings in self.layers:
            x = layer(x, train, *settings)
        return x


class AutoEncoder(nn.Module):
    """Encoder layers down to a code (its last Dense layer), decoder layers back up to the
    image's pixels (the last of ``decoder_layers`` gives them), then a sigmoid. ``train`` as in MLP."""

    encoder_layers: Sequence[tuple]
    decoder_layers: Sequence[tuple]
    input_shape: Sequence[int]

    def setup(self):
        self.encoder = MLP(self.encoder_layers)
        self.decoder = MLP(self.decoder_layers)

    def __call__(self, x, train: bool = False):
        return self.decode(self.encode(x, train), train)

    def encode(self, x, train: bool = False):
        assert x.shape[1:] == tuple(self.input_shape), x.shape
        return self.encoder(x, train)

    def decode_logits(self, z, train: bool = False):
        """The decoder's output before the sigmoid, one value per pixel (N, 784) (used by the binary
        cross-entropy loss)."""
        x = self.decoder(z, train)
        return jnp.reshape(x, (x.shape[0], -1))

    def decode(self, z, train: bool = False):
        x = nn.sigmoid(self.decode_logits(z, train))
        return jnp.reshape(x, (x.shape[0],) + tuple(self.input_shape))


# --- model source end


def module_layers(spec: ModelSpec, stack: str) -> tuple[tuple, ...]:
    """The module's tuples for the layers a stack applies (``spec.layer_shapes()``): each layer's flax call
    (``Layer.flax_call``) and settings, ``(dense, 512, "relu")``, ``(conv, 32, 3, "relu")``, ``(dropout, 0.2)``,
    ``(reshape, 7, 7, 64)``..."""
    return tuple(item for one in spec.layer_shapes() if one.stack == stack for item in one.module_items())


@lru_cache(maxsize=64)
def build_model(spec: ModelSpec) -> nn.Module:
    """The flax module a spec describes (cached: equal specs share one module object)."""
    if isinstance(spec, MLPSpec):
        return MLP(layers=module_layers(spec, "hidden"))
    return AutoEncoder(
        encoder_layers=module_layers(spec, "encoder"),
        decoder_layers=module_layers(spec, "decoder"),
        input_shape=tuple(spec.input_shape),
    )


def as_variables(tree: Any) -> dict:
    """A variables dict ``{"params": ..., "batch_stats": ...}`` from itself or from a bare params tree
    (whose top keys are layer names, never "params")."""
    return tree if "params" in tree else {"params": tree}


def forward(model: nn.Module, variables: Any, x, *, train: bool = False, rngs=None, method=None) -> tuple[Any, dict]:
    """``model.apply`` in evaluation mode (``train=False``) or training mode: (output, batch_stats
    after the call). In training mode BatchNorm's running averages are updated
    (``mutable=["batch_stats"]``) and Dropout draws from ``rngs={"dropout": key}``; a model
    without them is applied exactly as before, so its compiled program is unchanged."""
    variables = as_variables(variables)
    stats = variables.get("batch_stats", {})
    if train and stats:
        out, updates = model.apply(variables, x, train=True, rngs=rngs, mutable=["batch_stats"], method=method)
        return out, updates["batch_stats"]
    return model.apply(variables, x, train=train, rngs=rngs, method=method), stats


def example_batch(spec: ModelSpec, batch_size: int = 1) -> jnp.ndarray:
    """A batch of zeros shaped like the model's input, for ``model.init``."""
    return jnp.zeros((batch_size, *spec.input_shape), jnp.float32)


#: Init runs once per model, so its program is compiled with little optimisation: about half
#: the compile time of XLA's default for a new layer width, and (a test checks) the very same
#: values as eager ``model.init``. Level 0 compiles a little faster still but rounds a few
#: values differently and runs several times slower on large models.
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


def init_variables(spec: ModelSpec) -> dict:
    """``model.init(jax.random.key(spec.seed), example_batch(spec))``: the freshly initialised
    variables tree, ``{"params": {"Dense_0": {"kernel": ..., "bias": ...}, ...}}``.

    Computed by flax's ``model.init``, compiled once per model shape: specs that differ only
    in their seed share one program (and the persistent compilation cache keeps it across
    restarts).
    """
    return compiled_init(spec.replace(seed=0))(jax.random.key(spec.seed), example_batch(spec))


def init_batch_stats(spec: ModelSpec) -> dict:
    """The starting running averages of the model's BatchNorm layers (``{}`` without any)."""
    return init_variables(spec).get("batch_stats", {})


def init_params(spec: ModelSpec) -> dict:
    """The parameters training starts from: ``init_variables(spec)["params"]``."""
    return init_variables(spec)["params"]


@lru_cache(maxsize=32)
def compiled_init(shape: ModelSpec) -> jax.stages.Compiled:
    """``jax.jit(model.init)`` compiled for the spec's input batch, taking ``(key, batch)``;
    ``compiled_init.cache_info().misses`` counts the compiles."""
    model = build_model(shape)
    lowered = jax.jit(model.init).lower(jax.random.key(0), example_batch(shape))
    return lowered.compile(compiler_options=INIT_COMPILER_OPTIONS)


_init_lock = threading.Lock()
_init_jobs: dict[ModelSpec, Future] = {}
_init_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="init-compile")


def prepare_init(spec: ModelSpec) -> Future:
    """Start compiling ``model.init`` for the spec's shape in the background (once per shape);
    the future is done when ``init_variables(spec)`` will answer without compiling. The Build
    page calls it on every edit, so a new width's values are ready by the time they are looked at."""
    shape = spec.replace(seed=0)
    with _init_lock:
        job = _init_jobs.get(shape)
        if job is None:
            job = _init_jobs[shape] = _init_pool.submit(compiled_init, shape)
            while len(_init_jobs) > 64:
                _init_jobs.pop(next(iter(_init_jobs)))
        return job


# ----- the layers as flax builds them ---------------------------------------------------------


@dataclass(frozen=True)
class DenseLayer:
    """One Dense layer of the built model: its place in the variables tree and its matrix size."""

    path: str  # "Dense_0", "encoder/Dense_2": flax's names, as in variables["params"]
    inputs: int
    outputs: int
    activation: str  # applied to its outputs
    role: str  # "hidden", "output", "code" or "reconstruction"

    @property
    def parameters(self) -> int:
        return (self.inputs + 1) * self.outputs


def dense_layers(spec: ModelSpec) -> tuple[DenseLayer, ...]:
    """Every Dense layer of the spec's model, including the fixed output layer, in the order the
    model applies them. Paths and sizes are those of ``jax.eval_shape(model.init, ...)``: flax's
    own names and kernel shapes, in milliseconds and without compiling (cached per shape)."""
    return _dense_layers(spec.replace(seed=0))


@lru_cache(maxsize=64)
def _dense_layers(shape: ModelSpec) -> tuple[DenseLayer, ...]:
    variables = jax.eval_shape(build_model(shape).init, jax.random.key(0), example_batch(shape))
    leaves, _ = jax.tree_util.tree_flatten_with_path(variables["params"])
    kernels = {"/".join(key.key for key in path[:-1]): leaf.shape for path, leaf in leaves if path[-1].key == "kernel"}
    placed = shape.layer_shapes()
    dense = [(path, one) for path, one in zip(layer_paths(shape), placed, strict=True) if one.layer.is_dense]
    last = len(placed) - 1  # the model's output layer is followed by the model's output activation
    return tuple(
        DenseLayer(
            path, *kernels[path], shape.output_activation if one is placed[last] else one.layer.activation, one.role
        )
        for path, one in dense
    )


def layer_paths(spec: ModelSpec) -> tuple[str | None, ...]:
    """The flax path of each of ``spec.layer_shapes()`` (``"Conv_0"``, ``"encoder/Dense_2"``, as in
    ``variables["params"]`` and ``capture_intermediates``); None for a layer without a flax module
    (pooling is a function). From a flax interceptor that notes each layer module's call in order
    (the variables tree's keys are sorted: ``decoder`` before ``encoder``)."""
    return _layer_paths(spec.replace(seed=0))


@lru_cache(maxsize=64)
def _layer_paths(shape: ModelSpec) -> tuple[str | None, ...]:
    applied: list[str] = []

    def record_calls(next_fun, args, kwargs, context):
        if not isinstance(context.module, (MLP, AutoEncoder)) and context.method_name == "__call__":
            applied.append("/".join(context.module.path))
        return next_fun(*args, **kwargs)

    # A new function: jax could reuse a cached trace of ``model.init`` without running flax's
    # Python, and the interceptor would see no call.
    def init(key, x):
        return build_model(shape).init(key, x)

    with nn.intercept_methods(record_calls):
        jax.eval_shape(init, jax.random.key(0), example_batch(shape))
    calls = iter(applied)
    return tuple(next(calls) if one.layer.has_module else None for one in shape.layer_shapes())
