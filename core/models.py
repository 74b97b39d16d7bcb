"""flax.linen modules of the classic flax introduction, generalised to per-layer activations.

The code between the ``# --- model source`` markers is also what ``core.variables.flax_source``
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
