"""The kinds of layer that work on images: Conv, MaxPool, AvgPool and ConvTranspose.

An image keeps its shape (height, width, channels), flax's NHWC without the batch axis, through these
layers until the first Dense layer, which flattens it. Each kind says its output shape and refuses an
input it cannot take (a SpecError naming the item): a convolution after the first Dense layer, a kernel
larger than the image, pooling an image below 1x1. Costs are exact by these conventions, for one image:
a convolution does ``C_in*C_out`` multiply-adds (2 operations each) for every tap of its kernel that
meets a real pixel, summed over the output positions (at the border, SAME padding puts zeros under part
of the kernel: those are not counted, as XLA's cost analysis does not count them; ``K*K`` taps inside);
a transposed convolution likewise counts the taps that meet a real value of its input spread out with
stride 2, which is each input value times each of the K*K taps that land inside the output; plus one
addition of its bias and one activation per output value. A 2x2 max pool does 3 comparisons per output
value, an average pool 3 additions and a division. They are registered in ``core.layer_kinds.LAYER_KINDS``;
their flax calls are in ``core.flax_layers`` (each kind's ``flax_call``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from core.errors import SpecError
from core.i18n import N_, Phrase
from core.layers import ACTIVATIONS, Layer, Shape, activated, as_int, as_shape, shape_text

MAX_CHANNELS = 1024
MAX_KERNEL = 28
DEFAULT_KERNEL = 3


def _image(shape: Shape, where: str, what: str) -> tuple[int, int, int]:
    """``shape`` as (height, width, channels), or a SpecError saying that a Dense layer flattened it."""
    if len(shape) != 3:
        raise SpecError(
            where,
            N_(
                "{what} needs an image, but a Dense layer before it has flattened the image into "
                "{prod:,} values; put convolution and pooling layers before the first Dense layer"
            ),
            what=what,
            prod=math.prod(shape),
        )
    height, width, channels = shape
    return height, width, channels


def real_taps(size: int, kernel: int, stride: int) -> int:
    """Along one axis of ``size`` input values: how many (output position, kernel tap) pairs meet a real
    input value (not the padding, nor the holes between the values spread out by a transposed
    convolution's ``stride``), with SAME padding placed as ``jax.lax`` places it."""
    spread = (size - 1) * stride + 1
    before = (
        (kernel - 1) // 2 if stride == 1 else (kernel - 1 if stride > kernel - 1 else -(-(kernel + stride - 2) // 2))
    )
    return sum(
        1
        for out in range(size * stride)
        for tap in range(kernel)
        if 0 <= out + tap - before < spread and (out + tap - before) % stride == 0
    )


@dataclass(frozen=True)
class Conv(Layer):
    """``features`` filters of ``kernel`` x ``kernel`` pixels slid over the image (SAME padding, stride 1):
    the height and width stay, the channels become ``features``; then ``activation``."""

    features: int = 0
    kernel: int = DEFAULT_KERNEL
    activation: str = "relu"

    name: ClassVar[str] = "conv"
    title: ClassVar[str] = "Conv"
    description: ClassVar[str] = N_(
        "Conv: slides small filters (kernel x kernel pixels) over the image; each filter makes one channel "
        "of a new image of the same size, then its activation"
    )
    item_syntax: ClassVar[str] = "conv:FEATURES[:KERNEL[:ACTIVATION]]"
    json_example: ClassVar[str] = '{"type": "conv", "features": 32, "kernel": 3, "activation": "relu"}'
    image_layer: ClassVar[bool] = True
    verb: ClassVar[str] = "a convolution"
    linen_name: ClassVar[str] = "Conv"
    nnx_class: ClassVar[str] = "nnx.Conv"

    def describe(self) -> str:
        return f"{self.name} {self.features} {self.kernel}x{self.kernel} {self.activation}"

    def short(self) -> str:
        return f"{self.name}{self.features}"

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        height, width, _ = _image(shape, where, self.verb)
        if self.kernel > min(height, width):
            raise SpecError(
                f"{where}.kernel",
                N_(
                    "its {kernel}x{kernel} kernel is larger than the {height}x{width} image it gets; "
                    "use a kernel of at most {min}"
                ),
                kernel=self.kernel,
                height=height,
                width=width,
                min=min(height, width),
            )
        return (int(height * self.growth), int(width * self.growth), self.features)

    def parameter_count(self, inputs: int | Shape) -> int:
        return (self.kernel * self.kernel * as_shape(inputs)[-1] + 1) * self.features

    def matrix_flops(self, shape: Shape) -> int:
        height, width, channels = shape
        stride = int(self.growth)
        taps = real_taps(height, self.kernel, stride) * real_taps(width, self.kernel, stride)
        return 2 * taps * channels * self.features

    def bias_flops(self, shape: Shape) -> int:
        return math.prod(self.output_shape(shape))

    def activation_flops(self, shape: Shape) -> int:
        return 0 if self.activation == "linear" else math.prod(self.output_shape(shape))

    def image_channels(self) -> int | None:
        return self.features

    #: channels cost every pixel of the image: 1,024 channels of 28x28 would train for minutes per epoch here
    sweep_widths: ClassVar[tuple[int, ...]] = (4, 8, 16, 32, 64, 128)

    def units(self) -> int | None:
        return self.features

    def resized(self, units: int) -> Layer:
        return type(self)(units, self.kernel, self.activation)

    def code_settings(self) -> str:
        """Its settings in the code of both APIs: ``32, kernel_size=(3, 3), padding="SAME"``."""
        stride = f"strides=({int(self.growth)}, {int(self.growth)}), " if self.growth != 1 else ""
        return f'{self.features}, kernel_size=({self.kernel}, {self.kernel}), {stride}padding="SAME"'

    def nnx_code(self, inputs: Shape) -> str:
        return f"{self.nnx_class}({inputs[-1]}, {self.code_settings()}, rngs=rngs)"

    def nnx_call_code(self, module: str, inputs: Shape) -> str:
        return activated(f"{module}(x)", self.activation)

    def linen_call_code(self, inputs: Shape) -> str:
        return activated(f"nn.{self.linen_name}({self.code_settings()})(x)", self.activation, "nn")

    def validated(self, where: str, what: str) -> Layer:
        features = as_int(
            self.features, f"{where}.features", 1, MAX_CHANNELS, Phrase(N_("channels of {layer}"), layer=what)
        )
        kernel = as_int(self.kernel, f"{where}.kernel", 1, MAX_KERNEL, Phrase(N_("kernel size of {layer}"), layer=what))
        if self.activation not in ACTIVATIONS:
            raise SpecError(
                f"{where}.activation",
                N_("unknown activation {activation!r}; choose one of {activations}"),
                activation=self.activation,
                activations=", ".join(ACTIVATIONS),
            )
        return type(self)(features, kernel, self.activation)

    def flax_call(self) -> Callable[..., Any]:
        from core.flax_layers import conv

        return conv

    def settings(self) -> tuple:
        return (self.features, self.kernel, self.activation)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "features": self.features, "kernel": self.kernel, "activation": self.activation}

    @classmethod
    def from_dict(cls, item: dict) -> Layer | None:
        if set(item) - {"type", "features", "kernel", "activation"} or "features" not in item:
            return None
        return cls(item["features"], item.get("kernel", DEFAULT_KERNEL), item.get("activation", "relu"))

    def item(self, usual_activation: str) -> str:
        parts = [self.name, str(self.features), str(self.kernel), self.activation]
        if self.activation == usual_activation:
            parts.pop()
            if self.kernel == DEFAULT_KERNEL:
                parts.pop()
        return ":".join(parts)

    @classmethod
    def from_item(cls, head: str, tail: str, activation: str) -> Layer:
        parts = [part.strip() for part in tail.split(":")] if tail else []
        if not parts or len(parts) > 3:
            raise SpecError("", N_("give the channels, e.g. {name}:32 or {name}:32:3:relu"), name=cls.name)
        features, kernel, chosen = [*parts, *(DEFAULT_KERNEL, activation)[len(parts) - 1 :]]
        return cls(features, kernel, chosen)

    def link_item(self) -> str:
        return f"{self.name}.{self.features}.{self.kernel}.{self.activation}"

    @classmethod
    def from_link(cls, head: str, tail: str) -> Layer:
        parts = tail.split(".")
        return cls(*parts[:3]) if 1 <= len(parts) <= 3 else cls(tail)  # ModelSpec validates them

    @classmethod
    def for_editor(cls) -> Layer:
        return cls(32)


@dataclass(frozen=True)
class ConvTranspose(Conv):
    """The decoder's way up: each value of the image is spread over a ``kernel`` x ``kernel`` patch of an
    image twice as tall and wide (stride 2, SAME padding) with ``features`` channels; then ``activation``."""

    name: ClassVar[str] = "convt"
    title: ClassVar[str] = "ConvTranspose"
    description: ClassVar[str] = N_(
        "ConvTranspose: the way back up in a decoder; spreads each value over a kernel x kernel patch of an "
        "image twice as tall and wide, with its own number of channels, then its activation"
    )
    item_syntax: ClassVar[str] = "convt:FEATURES[:KERNEL[:ACTIVATION]]"
    json_example: ClassVar[str] = '{"type": "convt", "features": 32, "kernel": 3, "activation": "relu"}'
    decoder_only: ClassVar[bool] = True
    verb: ClassVar[str] = "a transposed convolution"
    growth: ClassVar[float] = 2
    linen_name: ClassVar[str] = "ConvTranspose"
    nnx_class: ClassVar[str] = "nnx.ConvTranspose"

    def flax_call(self) -> Callable[..., Any]:
        from core.flax_layers import convt

        return convt


@dataclass(frozen=True)
class MaxPool(Layer):
    """Keeps the largest value of each 2x2 block of each channel: half the height and width."""

    name: ClassVar[str] = "maxpool"
    title: ClassVar[str] = "MaxPool"
    description: ClassVar[str] = N_(
        "MaxPool: keeps the largest value of each 2x2 block of pixels, channel by channel: the image becomes "
        "half as tall and half as wide"
    )
    item_syntax: ClassVar[str] = "maxpool"
    json_example: ClassVar[str] = '{"type": "maxpool"}'
    image_layer: ClassVar[bool] = True
    operations: ClassVar[int] = 3  # per output value: 3 comparisons of 4 values
    growth: ClassVar[float] = 0.5
    has_module: ClassVar[bool] = False  # nn.max_pool / nn.avg_pool are functions
    function: ClassVar[str] = "max_pool"  # nnx.max_pool, nn.max_pool

    def flax_call(self) -> Callable[..., Any]:
        from core.flax_layers import maxpool

        return maxpool

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        height, width, channels = _image(shape, where, "pooling")
        if min(height, width) < 2:
            raise SpecError(
                where,
                N_(
                    "pooling halves the image, but it is already {shape_text}: it would be smaller "
                    "than 1x1; remove this pooling layer"
                ),
                shape_text=shape_text(shape),
            )
        return (height // 2, width // 2, channels)

    def elementwise_flops(self, inputs: int | Shape, training: bool) -> int:
        shape = as_shape(inputs)
        return self.operations * math.prod(self.output_shape(shape)) if len(shape) == 3 else 0

    def nnx_code(self, inputs: Shape) -> None:
        return None  # a function, not a module

    def nnx_call_code(self, module: str, inputs: Shape) -> str:
        return f"nnx.{self.function}(x, window_shape=(2, 2), strides=(2, 2))"

    def linen_call_code(self, inputs: Shape) -> str:
        return f"nn.{self.function}(x, window_shape=(2, 2), strides=(2, 2))"


@dataclass(frozen=True)
class AvgPool(MaxPool):
    """Averages each 2x2 block of each channel: half the height and width."""

    name: ClassVar[str] = "avgpool"
    title: ClassVar[str] = "AvgPool"
    description: ClassVar[str] = N_(
        "AvgPool: averages each 2x2 block of pixels, channel by channel: the image becomes half as tall and "
        "half as wide"
    )
    item_syntax: ClassVar[str] = "avgpool"
    json_example: ClassVar[str] = '{"type": "avgpool"}'
    operations: ClassVar[int] = 4  # per output value: 3 additions and a division
    function: ClassVar[str] = "avg_pool"

    def flax_call(self) -> Callable[..., Any]:
        from core.flax_layers import avgpool

        return avgpool
