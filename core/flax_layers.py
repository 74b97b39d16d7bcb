"""The flax call of each kind of layer: what ``MLP`` (``core.models``) does with one layer.

Each kind of layer names its own call (``Layer.flax_call``: ``Dense.flax_call()`` is ``dense``), and
``core.models.module_layers`` gives ``MLP`` the call itself with its settings, ``(dense, 512, "relu")``;
``reshape`` is put where the shape of the values changes between layers (``core.shapes``).
The code between the ``# --- model source`` markers is shown to a person before the models of
``core.models`` (``core.variables.flax_source``), so it uses only ``nn`` and ``jax``.
"""

from __future__ import annotations

import flax.linen as nn
import jax

# --- model source begin


def dense(x, train: bool, units: int, activation: str):
    """``units`` outputs, each a weighted sum of every input plus a bias, then the activation
    (``nn.relu``, ``nn.gelu``...; "linear" keeps the sums)."""
    x = nn.Dense(units)(x.reshape((x.shape[0], -1)))  # an image is flattened first
    return x if activation == "linear" else getattr(nn, activation)(x)


def conv(x, train: bool, features: int, kernel: int, activation: str):
    """``features`` filters of ``kernel`` x ``kernel`` pixels slid over images (N, H, W, C): (N, H, W, features)."""
    x = nn.Conv(features, kernel_size=(kernel, kernel), padding="SAME", conv_general_dilated=same_conv)(x)
    return x if activation == "linear" else getattr(nn, activation)(x)


NHWC = ("NHWC", "HWIO", "NHWC")  # images (N, H, W, C), kernels (K, K, C_in, C_out)


@jax.custom_vjp
def same_conv_nhwc(x, kernel):
    """``jax.lax.conv_general_dilated`` of images (N, H, W, C) with a kernel (K, K, C, F), stride 1, SAME
    padding: what ``nn.Conv`` computes. Its gradients below are the usual ones, written as convolutions
    in the same layout: XLA's CPU backend runs those fast inside a training loop (``lax.while_loop``),
    where it runs the ones JAX derives itself about 20 times slower."""
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=NHWC)


def _same_conv_forward(x, kernel):
    return same_conv_nhwc(x, kernel), (x, kernel)


def _same_conv_gradients(saved, grad):
    x, kernel = saved
    before = (kernel.shape[0] - 1) // 2
    after = kernel.shape[0] - 1 - before
    flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2)  # (K, K, F, C)
    dx = jax.lax.conv_general_dilated(grad, flipped, (1, 1), [(after, before)] * 2, dimension_numbers=NHWC)
    # the batch is summed over: images as (C, H, W, N) slid against the gradients as a (H, W, N, F) "kernel"
    dkernel = jax.lax.conv_general_dilated(
        x.transpose(3, 1, 2, 0), grad.transpose(1, 2, 0, 3), (1, 1), [(before, after)] * 2, dimension_numbers=NHWC
    )
    return dx, dkernel.transpose(1, 2, 0, 3)


same_conv_nhwc.defvjp(_same_conv_forward, _same_conv_gradients)


def same_conv(lhs, rhs, window_strides, padding, **unused):
    """``nn.Conv``'s call of ``lax.conv_general_dilated`` (stride 1, SAME, NHWC), as ``same_conv_nhwc``."""
    return same_conv_nhwc(lhs, rhs)


def convt(x, train: bool, features: int, kernel: int, activation: str):
    """The way back up: images (N, H, W, C) to (N, 2H, 2W, features)."""
    x = nn.ConvTranspose(features, kernel_size=(kernel, kernel), strides=(2, 2), padding="SAME")(x)
    return x if activation == "linear" else getattr(nn, activation)(x)


def maxpool(x, train: bool):
    """The largest value of each 2x2 block of each channel: (N, H, W, C) to (N, H/2, W/2, C)."""
    return nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))


def avgpool(x, train: bool):
    """The mean of each 2x2 block of each channel: (N, H, W, C) to (N, H/2, W/2, C)."""
    return nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))


def reshape(x, train: bool, *shape: int):
    """Each example of the batch in ``shape``: ``(784,)`` flattens an image, ``(7, 7, 64)`` makes
    an autoencoder's code, mapped by a Dense layer to 7*7*64 values, an image for its decoder."""
    return x.reshape((x.shape[0], *shape))


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


# --- model source end
