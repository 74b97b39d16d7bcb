"""The layers of a stack: Dense (width, activation), Dropout (rate), BatchNorm and LayerNorm.

``core.spec`` builds models from them; this module validates one layer, and reads and writes the
text forms a person types (the command line's ``--layers``, the typed editor) and the JSON of a
spec. Each function raises a SpecError naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import validate
from core.errors import SpecError

#: Activation names a layer may use, with the plain-language description shown in the UI.
ACTIVATIONS: dict[str, str] = {
    "relu": "max(0, x): keeps positives, zeroes negatives (the usual default)",
    "gelu": "a smooth ReLU used by transformers",
    "swish": "x * sigmoid(x): smooth, slightly negative for small negatives",
    "tanh": "squashes to -1..1",
    "sigmoid": "squashes to 0..1",
    "elu": "like ReLU but smooth and slightly negative below 0",
    "leaky_relu": "like ReLU but lets 1% of negatives through",
    "linear": "no activation: passes the value through (used for an autoencoder's code)",
}

#: The kinds of layer a stack may hold, in the words the editor and the CLI use.
LAYER_TYPES: dict[str, str] = {
    "dense": "Dense: every unit sums all the values before it with its own weights, then applies its activation",
    "dropout": "Dropout: while training, zeroes each value with probability `rate` (a new random pattern every "
    "step) and scales the rest up; off when evaluating",
    "batchnorm": "BatchNorm: rescales each value to mean 0 and spread 1 using the statistics of the batch while "
    "training, and the running averages it kept (batch_stats) when evaluating",
    "layernorm": "LayerNorm: rescales the values of each image to mean 0 and spread 1 (the same in training and "
    "evaluation)",
}
MIN_WIDTH = 1
MAX_WIDTH = 4096


def _as_int(value: Any, field_name: str, low: int, high: int, what: str) -> int:
    """``value`` as an int in [low, high], or a SpecError naming the field."""
    return validate.whole_number(value, field_name, low, high, what, error=SpecError)


@dataclass(frozen=True)
class Layer:
    """One layer of a stack. ``Layer(512, "relu")`` is a Dense layer: its number of output units and
    the activation applied after it. ``Layer.dropout(0.2)``, ``Layer.batchnorm()`` and
    ``Layer.layernorm()`` keep the number of values; they have no width (0) and no activation ("")."""

    width: int = 0
    activation: str = "relu"
    type: str = "dense"  # one of LAYER_TYPES
    rate: float = 0.0  # dropout only: the share of values zeroed while training

    @classmethod
    def dropout(cls, rate: Any) -> Layer:
        return cls(0, "", "dropout", rate)

    @classmethod
    def batchnorm(cls) -> Layer:
        return cls(0, "", "batchnorm")

    @classmethod
    def layernorm(cls) -> Layer:
        return cls(0, "", "layernorm")

    @property
    def is_dense(self) -> bool:
        return self.type == "dense"

    def describe(self) -> str:
        """``"512 relu"``, ``"dropout 0.2"``, ``"batchnorm"``."""
        if self.is_dense:
            return f"{self.width:,} {self.activation}"
        return f"dropout {self.rate:g}" if self.type == "dropout" else self.type

    def to_dict(self) -> dict[str, Any]:
        """Dense layers keep the JSON of earlier versions (no "type" key)."""
        if self.is_dense:
            return {"width": self.width, "activation": self.activation}
        return {"type": self.type, "rate": self.rate} if self.type == "dropout" else {"type": self.type}


def validated_layer(layer: Layer, where: str, what: str) -> Layer:
    """The layer in its one normal form (so equal layers compare equal), or a SpecError naming the field."""
    if layer.type not in LAYER_TYPES:
        raise SpecError(
            f"{where}.type", f"unknown kind of layer {layer.type!r}; choose one of {', '.join(LAYER_TYPES)}"
        )
    if layer.type == "dropout":
        rate = validate.number(layer.rate, f"{where}.rate", f"dropout rate of {what}", error=SpecError)
        if not 0 <= rate < 1:
            raise SpecError(
                f"{where}.rate", f"a dropout rate is the share of values zeroed: at least 0 and below 1, got {rate:g}"
            )
        return Layer.dropout(rate)
    if layer.type != "dense":
        return Layer(0, "", layer.type)
    width = _as_int(layer.width, f"{where}.width", MIN_WIDTH, MAX_WIDTH, f"width of {what}")
    if layer.activation not in ACTIVATIONS:
        raise SpecError(
            f"{where}.activation",
            f"unknown activation {layer.activation!r}; choose one of {', '.join(ACTIVATIONS)}",
        )
    return Layer(width, layer.activation)


def parse_layers(
    text: Any, name: str, activation: str = "relu", code_activation: str | None = None
) -> tuple[Layer, ...]:
    """Layers from items like ``"512:relu, batchnorm, dropout:0.2, 256"`` (the command line's
    ``--layers`` and the typed editor): ``WIDTH[:ACTIVATION]`` (``activation`` when none is
    given, ``code_activation`` for a last bare width: an encoder's code), ``dropout:RATE``,
    ``batchnorm``, ``layernorm``. A SpecError names a bad item."""
    if not isinstance(text, str):
        raise SpecError(name, f"layers must be text like 512:relu,dropout:0.2, got {text!r}")
    items = [item for item in (part.strip() for part in text.split(",")) if item]
    layers = []
    for i, item in enumerate(items):
        where = f"{name}[{i}]"
        head, _, tail = (part.strip() for part in item.partition(":"))
        kind = head.lower()
        if kind in ("batchnorm", "layernorm"):
            if tail:
                raise SpecError(where, f"{item!r}: {kind} takes no value")
            layer = Layer(0, "", kind)
        elif kind == "dropout":
            if not tail:
                raise SpecError(where, f"{item!r}: give the rate, e.g. dropout:0.2")
            layer = Layer.dropout(tail)
        elif _is_number(head):
            last = i == len(items) - 1
            layer = Layer(head, tail or (code_activation if last and code_activation else activation))
        else:
            raise SpecError(
                where,
                f"{item!r} is not a layer; use a whole number of units (WIDTH[:ACTIVATION]), dropout:RATE, "
                "batchnorm or layernorm",
            )
        try:
            layers.append(validated_layer(layer, where, f"{name} layer {i + 1}"))
        except SpecError as err:
            raise SpecError(err.field, f"{item!r}: {err.reason}") from None
    return tuple(layers)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def layers_text(layers: tuple[Layer, ...], activation: str = "relu", code_activation: str | None = None) -> str:
    """The items ``parse_layers`` reads back, e.g. ``"512, batchnorm, dropout:0.2, 256:gelu"``: a width alone
    when its activation is ``activation`` (``code_activation`` for the last layer)."""
    items = []
    for i, layer in enumerate(layers):
        if not layer.is_dense:
            items.append(f"dropout:{layer.rate:g}" if layer.type == "dropout" else layer.type)
            continue
        usual = code_activation if code_activation and i == len(layers) - 1 else activation
        items.append(str(layer.width) if layer.activation == usual else f"{layer.width}:{layer.activation}")
    return ", ".join(items)


def layers_from_json(name: str, items: Any) -> tuple[Layer, ...]:
    """A layer without a "type" key is Dense (the JSON of earlier versions)."""
    if not isinstance(items, list):
        raise SpecError(name, f"{name} must be a list of layers, got {type(items).__name__}")
    layers = []
    for i, item in enumerate(items):
        kind = item.get("type", "dense") if isinstance(item, dict) else None
        allowed = {"type", "rate"} if kind == "dropout" else {"type"} if kind in ("batchnorm", "layernorm") else None
        if allowed is not None and not set(item) - allowed:
            layers.append(Layer(0, "", kind, item.get("rate", 0.0)) if kind == "dropout" else Layer(0, "", kind))
            continue
        if not isinstance(item, dict) or set(item) - {"width", "activation", "type"} or "width" not in item:
            raise SpecError(
                f"{name}[{i}]",
                'each layer must look like {"width": 64, "activation": "relu"}, {"type": "dropout", "rate": 0.2}, '
                '{"type": "batchnorm"} or {"type": "layernorm"}',
            )
        layers.append(Layer(item["width"], item.get("activation", "relu"), str(kind)))
    return tuple(layers)
