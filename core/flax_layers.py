"""The flax call of each kind of layer: what ``MLP`` (``core.models``) does with one layer, by its name.

The code between the ``# --- model source`` markers is shown to a person before the models of
``core.models`` (``core.variables.flax_source``), so it uses only ``nn``.
"""

from __future__ import annotations

import flax.linen as nn

# --- model source begin


def dense(x, train: bool, units: int, activation: str):
    """``units`` outputs, each a weighted sum of every input plus a bias, then the activation
    (``nn.relu``, ``nn.gelu``...; "linear" keeps the sums)."""
    x = nn.Dense(units)(x)
    return x if activation == "linear" else getattr(nn, activation)(x)


def dropout(x, train: bool, rate: float):
    """While training, zeroes each value with probability ``rate`` (it needs a "dropout" random key:
    ``rngs={"dropout": key}``); off when evaluating."""
    return nn.Dropout(rate=rate, deterministic=not train)(x)


def batchnorm(x, train: bool):
    """Normalises with the batch's own statistics while training, updating its running averages in
    the ``batch_stats`` collection (``mutable=["batch_stats"]``); uses those averages when evaluating."""
    return nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)


def layernorm(x, train: bool):
    """Normalises the values of each image (the same in training and evaluation)."""
    return nn.LayerNorm()(x)


#: The call of each kind of layer, by the name a model's layers give it (``core.layers.LAYER_KINDS``).
LAYERS = {"dense": dense, "dropout": dropout, "batchnorm": batchnorm, "layernorm": layernorm}


# --- model source end
