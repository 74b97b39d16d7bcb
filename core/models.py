"""flax.linen modules of the classic flax introduction, generalised to per-layer activations.

The code between the ``# --- model source`` markers is also what ``core.variables.flax_source``
shows to a person, so it must stay self-contained: it uses only ``nn``, ``jnp``, ``np``
and ``Sequence``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from core.spec import ModelSpec

# --- model source begin
ACTIVATIONS = {
    "relu": nn.relu,
    "gelu": nn.gelu,
    "swish": nn.swish,
    "tanh": nn.tanh,
    "sigmoid": nn.sigmoid,
    "elu": nn.elu,
    "leaky_relu": nn.leaky_relu,
    "linear": lambda x: x,
}


class MLP(nn.Module):
    """Dense layers; layer i is followed by activations[i]. Images are flattened first."""

    features: Sequence[int]
    activations: Sequence[str]

    @nn.compact
    def __call__(self, x):
        x = x.reshape((x.shape[0], -1))
        for feat, act in zip(self.features, self.activations, strict=True):
            x = ACTIVATIONS[act](nn.Dense(feat)(x))
        return x


class AutoEncoder(nn.Module):
    """Encoder MLP down to a code, decoder MLP back up to the input size, then a sigmoid."""

    encoder_widths: Sequence[int]
    decoder_widths: Sequence[int]
    input_shape: Sequence[int]
    encoder_activations: Sequence[str]
    decoder_activations: Sequence[str]

    def setup(self):
        input_dim = int(np.prod(self.input_shape))
        self.encoder = MLP(self.encoder_widths, self.encoder_activations)
        self.decoder = MLP(
            tuple(self.decoder_widths) + (input_dim,),
            tuple(self.decoder_activations) + ("linear",),
        )

    def __call__(self, x):
        return self.decode(self.encode(x))

    def encode(self, x):
        assert x.shape[1:] == tuple(self.input_shape), x.shape
        return self.encoder(jnp.reshape(x, (x.shape[0], -1)))

    def decode_logits(self, z):
        """The decoder's output before the sigmoid (used by the binary cross-entropy loss)."""
        return self.decoder(z)

    def decode(self, z):
        x = nn.sigmoid(self.decode_logits(z))
        return jnp.reshape(x, (x.shape[0],) + tuple(self.input_shape))


# --- model source end


@lru_cache(maxsize=64)
def build_model(spec: ModelSpec) -> nn.Module:
    """The flax module a spec describes (cached: equal specs share one module object)."""
    if spec.kind == "mlp":
        features = tuple(layer.width for layer in spec.hidden) + (spec.num_classes,)
        activations = tuple(layer.activation for layer in spec.hidden) + ("linear",)
        return MLP(features=features, activations=activations)
    return AutoEncoder(
        encoder_widths=tuple(layer.width for layer in spec.encoder),
        decoder_widths=tuple(layer.width for layer in spec.decoder),
        input_shape=tuple(spec.input_shape),
        encoder_activations=tuple(layer.activation for layer in spec.encoder),
        decoder_activations=tuple(layer.activation for layer in spec.decoder),
    )


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
    """The kernel shapes come from the variables tree; the order from a flax interceptor that
    notes each Dense call (the tree's keys are sorted: ``decoder`` before ``encoder``)."""
    applied: list[str] = []

    def record_dense_calls(next_fun, args, kwargs, context):
        if isinstance(context.module, nn.Dense) and context.method_name == "__call__":
            applied.append("/".join(context.module.path))
        return next_fun(*args, **kwargs)

    # A new function: jax could reuse a cached trace of ``model.init`` without running flax's
    # Python, and the interceptor would see no call.
    def init(key, x):
        return build_model(shape).init(key, x)

    with nn.intercept_methods(record_dense_calls):
        variables = jax.eval_shape(init, jax.random.key(0), example_batch(shape))
    leaves, _ = jax.tree_util.tree_flatten_with_path(variables["params"])
    kernels = {"/".join(key.key for key in path[:-1]): leaf.shape for path, leaf in leaves if path[-1].key == "kernel"}
    return tuple(
        DenseLayer(path, *kernels[path], activation, role)
        for path, (activation, role) in zip(applied, _activations_and_roles(shape), strict=True)
    )


def _activations_and_roles(spec: ModelSpec) -> list[tuple[str, str]]:
    """What follows each Dense layer, in order, and what the layer is for."""
    if spec.kind == "mlp":
        return [(layer.activation, "hidden") for layer in spec.hidden] + [("linear", "output")]
    encoder = [(layer.activation, "hidden") for layer in spec.encoder[:-1]] + [(spec.encoder[-1].activation, "code")]
    return encoder + [(layer.activation, "hidden") for layer in spec.decoder] + [("sigmoid", "reconstruction")]
