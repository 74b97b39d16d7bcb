"""flax.linen modules of the classic flax introduction, generalised to per-layer activations.

The code between the ``# --- model source`` markers is also what ``core.inspect.flax_source``
shows to a person, so it must stay self-contained: it uses only ``nn``, ``jnp``, ``np``
and ``Sequence``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache, partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.core.scope import _fold_in_static

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


@partial(jax.jit, static_argnums=1)
def _unit_truncated_normal(key: jax.Array, size: int) -> jax.Array:
    return jax.random.truncated_normal(key, -2.0, 2.0, (size,), jnp.float32)


MAX_PREVIEW_BUCKET = 1 << 24  # 4096 x 4096, the largest layer a spec allows


def _bucket(size: int) -> int:
    return max(1024, 1 << (size - 1).bit_length())


def warm_up_preview() -> None:
    """Compile the random draw for every bucket size once, without running it (a few seconds,
    mostly read from the persistent compilation cache; then every width is instant)."""
    key = jax.random.key(0)
    size = 1024
    while size <= MAX_PREVIEW_BUCKET:
        _unit_truncated_normal.lower(key, size).compile()
        size *= 2


def init_params(spec: ModelSpec) -> dict:
    """The parameters training starts from: ``preview_variables(spec)["params"]``.

    The values of ``model.init(jax.random.key(spec.seed), x)`` to float32 rounding, without
    compiling an init program for every new width (that compile took ~1.4 s of the ~4 s a
    fresh process needed before its first training step).
    """
    return preview_variables(spec)["params"]


def preview_variables(spec: ModelSpec) -> dict:
    """What ``model.init(jax.random.key(spec.seed), x)`` returns (equal up to float32 rounding),
    as numpy arrays, in milliseconds instead of a fresh compile for every new layer width.

    flax's default Dense init is ``lecun_normal`` for the kernel and zeros for the bias;
    the kernel's key is the root key folded with its module path and the param counter
    (flax's ``_fold_in_static``). JAX's threefry bits for shape (a, b) are the first a*b
    of any longer draw from the same key, so one compiled draw per power-of-two size
    serves every layer shape. A test checks this against ``model.init``.
    """
    root = jax.random.key(spec.seed)
    params: dict = {}
    for dense in spec.dense_layers:
        *parents, name = dense.path.split("/")
        size = dense.inputs * dense.outputs
        unit = np.asarray(_unit_truncated_normal(_fold_in_static(root, (*parents, name, 1)), _bucket(size)))
        # slicing in numpy: a jax slice of a new shape would compile again
        scale = np.float32(np.sqrt(np.float32(1.0 / dense.inputs)) / np.float32(_LECUN_TRUNCATION))
        node = params
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = {
            "kernel": unit[:size].reshape(dense.inputs, dense.outputs) * scale,
            "bias": np.zeros((dense.outputs,), np.float32),
        }
    return {"params": params}
