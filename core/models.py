"""flax.linen modules of the classic flax introduction, generalised to per-layer activations.

The code between the ``# --- model source`` markers is also what ``core.inspect.flax_source``
shows to a person, so it must stay self-contained: it uses only ``nn``, ``jnp``, ``np``
and ``Sequence``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.core.scope import _fold_in_static
from jax.extend.random import threefry2x32_p

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


def init_variables(spec: ModelSpec) -> dict:
    """``model.init(jax.random.key(spec.seed), batch)``: the freshly initialised variables tree.

    Cached per spec; each call returns a fresh dict over the same (immutable) arrays.
    """
    return jax.tree_util.tree_map(lambda leaf: leaf, _init_cached(spec))


@lru_cache(maxsize=16)
def _init_cached(spec: ModelSpec) -> dict:
    model = build_model(spec)
    return jax.jit(model.init)(jax.random.key(spec.seed), example_batch(spec))


# ----- the same values, without compiling a program per shape ------------------------------

_LECUN_TRUNCATION = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]
PREVIEW_CHUNK = 1 << 16  # values drawn per call of the one compiled draw program


@jax.jit
def _truncated_normal_chunk(key_data: jax.Array, offset: jax.Array) -> jax.Array:
    """Values ``offset .. offset + PREVIEW_CHUNK`` (flat index) of
    ``jax.random.truncated_normal(key, -2, 2, shape, float32)`` for any shape that long.

    With JAX's default partitionable threefry, flat element i of a draw is
    ``threefry2x32(key, (0, i))`` whatever the shape, so one program of a fixed length
    serves every layer size: the steps below are those of ``jax.random.uniform`` and
    ``jax.random.truncated_normal``, counted from ``offset``. A test compares the result
    with ``model.init`` for several models.
    """
    counts = offset + jax.lax.iota(jnp.uint32, PREVIEW_CHUNK)
    hi, lo = threefry2x32_p.bind(key_data[0], key_data[1], jnp.zeros_like(counts), counts)
    bits = hi ^ lo
    sqrt2 = np.array(np.sqrt(2), np.float32)
    lower, upper = jnp.float32(-2.0), jnp.float32(2.0)
    a, b = jax.lax.erf(lower / sqrt2), jax.lax.erf(upper / sqrt2)
    floats = jax.lax.bitcast_convert_type((bits >> 9) | np.uint32(0x3F800000), jnp.float32) - jnp.float32(1.0)
    u = jax.lax.max(a, floats * (b - a) + a)
    out = sqrt2 * jax.lax.erf_inv(u)
    return jnp.clip(out, jax.lax.nextafter(lower, jnp.float32(np.inf)), jax.lax.nextafter(upper, jnp.float32(-np.inf)))


def _unit_truncated_normal(key: jax.Array, size: int) -> np.ndarray:
    """The first ``size`` values of ``jax.random.truncated_normal(key, -2, 2, (size,))``."""
    if not jax.config.jax_threefry_partitionable:  # the old scheme depends on the shape: draw it whole
        return np.asarray(jax.random.truncated_normal(key, -2.0, 2.0, (size,), jnp.float32))
    data = jax.random.key_data(key)
    chunks = [_truncated_normal_chunk(data, np.uint32(start)) for start in range(0, size, PREVIEW_CHUNK)]
    return np.concatenate([np.asarray(chunk) for chunk in chunks])[:size]


def warm_up_preview() -> None:
    """Compile the one draw program (a fraction of a second, or read from the persistent
    compilation cache); after that every layer width initialises without compiling."""
    _truncated_normal_chunk.lower(jax.random.key_data(jax.random.key(0)), np.uint32(0)).compile()


def init_params(spec: ModelSpec) -> dict:
    """The parameters training starts from: ``preview_variables(spec)["params"]``.

    The values of ``model.init(jax.random.key(spec.seed), x)`` to float32 rounding, without
    compiling an init program for every new width (compiling ``model.init`` took ~1.4 s of
    the ~4 s a fresh process needed before its first training step).
    """
    return preview_variables(spec)["params"]


def preview_variables(spec: ModelSpec) -> dict:
    """What ``model.init(jax.random.key(spec.seed), x)`` returns (equal up to float32 rounding),
    as numpy arrays, in milliseconds instead of a fresh compile for every new layer width.

    flax's default Dense init is ``lecun_normal`` for the kernel and zeros for the bias;
    the kernel's key is the root key folded with its module path and the param counter
    (flax's ``_fold_in_static``). One compiled program draws those values for every
    layer shape (``_truncated_normal_chunk``). A test checks this against ``model.init``.
    """
    root = jax.random.key(spec.seed)
    params: dict = {}
    for dense in spec.dense_layers:
        *parents, name = dense.path.split("/")
        size = dense.inputs * dense.outputs
        unit = _unit_truncated_normal(_fold_in_static(root, (*parents, name, 1)), size)
        scale = np.float32(np.sqrt(np.float32(1.0 / dense.inputs)) / np.float32(_LECUN_TRUNCATION))
        node = params
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = {
            "kernel": unit[:size].reshape(dense.inputs, dense.outputs) * scale,
            "bias": np.zeros((dense.outputs,), np.float32),
        }
    return {"params": params}
