"""The kinds of layer that regularise and normalise: Dropout (rate), BatchNorm and LayerNorm.

They keep the shape of what they are given (a vector, or an image's channels), so they may follow a
Dense or a conv layer; see ``core.layers.Layer`` for what a kind owns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from core import validate
from core.errors import SpecError
from core.i18n import N_, Phrase
from core.layers import Layer, Shape, as_shape


@dataclass(frozen=True)
class Dropout(Layer):
    """While training, zeroes each value with probability ``rate`` and scales the rest up; off when evaluating."""

    rate: float = 0.0

    name: ClassVar[str] = "dropout"
    title: ClassVar[str] = "Dropout"
    description: ClassVar[str] = N_(
        "Dropout: while training, zeroes each value with probability `rate` (a new random pattern every "
        "step) and scales the rest up; off when evaluating"
    )
    item_syntax: ClassVar[str] = "dropout:RATE"
    json_example: ClassVar[str] = '{"type": "dropout", "rate": 0.2}'
    rngs: ClassVar[tuple[str, ...]] = ("dropout",)
    linen_name: ClassVar[str] = "Dropout"

    def describe(self) -> str:
        return f"dropout {self.rate:g}"

    def nnx_code(self, inputs: Shape) -> str:
        return f"nnx.Dropout({self.rate!r}, rngs=rngs)"

    def linen_call_code(self, inputs: Shape) -> str:
        return f"nn.Dropout(rate={self.rate!r}, deterministic=not train)(x)"  # on only while training

    def elementwise_flops(self, inputs: int | Shape, training: bool) -> int:
        return 2 * math.prod(as_shape(inputs)) if training else 0

    def validated(self, where: str, what: str) -> Layer:
        rate = validate.number(
            self.rate, f"{where}.rate", Phrase(N_("dropout rate of {layer}"), layer=what), error=SpecError
        )
        if not 0 <= rate < 1:
            raise SpecError(
                f"{where}.rate",
                N_("a dropout rate is the share of values zeroed: at least 0 and below 1, got {rate:g}"),
                rate=rate,
            )
        return Dropout(rate)

    def flax_call(self) -> Callable[..., Any]:
        from core.flax_layers import dropout

        return dropout

    def settings(self) -> tuple:
        return (self.rate,)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "rate": self.rate}

    @classmethod
    def from_dict(cls, item: dict) -> Layer | None:
        return None if set(item) - {"type", "rate"} else cls(item.get("rate", 0.0))

    def item(self, usual_activation: str) -> str:
        return f"dropout:{self.rate:g}"

    @classmethod
    def from_item(cls, head: str, tail: str, activation: str) -> Layer:
        if not tail:
            raise SpecError("", N_("give the rate, e.g. dropout:0.2"))
        return cls(tail)

    def link_item(self) -> str:
        return f"dropout.{self.rate:g}"

    @classmethod
    def from_link(cls, head: str, tail: str) -> Layer:
        return cls(tail)  # ModelSpec validates the rate

    @classmethod
    def for_editor(cls) -> Layer:
        return cls(0.2)


@dataclass(frozen=True)
class BatchNorm(Layer):
    """Rescales each value with the batch's statistics while training, its running averages when evaluating."""

    name: ClassVar[str] = "batchnorm"
    title: ClassVar[str] = "BatchNorm"
    description: ClassVar[str] = N_(
        "BatchNorm: rescales each value to mean 0 and spread 1 using the statistics of the batch while "
        "training, and the running averages it kept (batch_stats) when evaluating"
    )
    item_syntax: ClassVar[str] = "batchnorm"
    json_example: ClassVar[str] = '{"type": "batchnorm"}'
    collections: ClassVar[tuple[str, ...]] = ("batch_stats",)
    linen_name: ClassVar[str] = "BatchNorm"

    def flax_call(self) -> Callable[..., Any]:
        from core.flax_layers import batchnorm

        return batchnorm

    def parameter_count(self, inputs: int | Shape) -> int:
        return 2 * as_shape(inputs)[-1]  # a scale and a bias per value (per channel of an image)

    def nnx_code(self, inputs: Shape) -> str:
        return f"nnx.BatchNorm({inputs[-1]}, momentum=0.9, rngs=rngs)"  # per channel; momentum as in linen

    def linen_call_code(self, inputs: Shape) -> str:
        return "nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)"  # the batch's statistics while training

    def batch_stats_count(self, inputs: int | Shape) -> int:
        return 2 * as_shape(inputs)[-1]  # a running mean and variance per value (per channel of an image)

    def elementwise_flops(self, inputs: int | Shape, training: bool) -> int:
        return (7 if training else 4) * math.prod(as_shape(inputs))


@dataclass(frozen=True)
class LayerNorm(Layer):
    """Rescales the values of each image to mean 0 and spread 1."""

    name: ClassVar[str] = "layernorm"
    title: ClassVar[str] = "LayerNorm"
    description: ClassVar[str] = N_(
        "LayerNorm: rescales the values of each image to mean 0 and spread 1 (the same in training and evaluation)"
    )
    item_syntax: ClassVar[str] = "layernorm"
    json_example: ClassVar[str] = '{"type": "layernorm"}'
    linen_name: ClassVar[str] = "LayerNorm"

    def flax_call(self) -> Callable[..., Any]:
        from core.flax_layers import layernorm

        return layernorm

    def parameter_count(self, inputs: int | Shape) -> int:
        return 2 * as_shape(inputs)[-1]  # a scale and a bias per value (per channel: flax normalises the last axis)

    def nnx_code(self, inputs: Shape) -> str:
        return f"nnx.LayerNorm({inputs[-1]}, rngs=rngs)"  # over the last axis, as linen

    def linen_call_code(self, inputs: Shape) -> str:
        return "nn.LayerNorm()(x)"

    def elementwise_flops(self, inputs: int | Shape, training: bool) -> int:
        return 7 * math.prod(as_shape(inputs))
