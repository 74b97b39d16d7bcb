"""The model description a person edits: validated on construction, JSON round-trippable.

A spec is the single source of truth for a model. Pages edit it, ``core.models`` builds
flax modules from it, checkpoints store it. Construction validates every field, so a
``ModelSpec`` that exists is always buildable.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from core import validate
from core.errors import SpecError

ModelKind = Literal["mlp", "autoencoder"]
KINDS: tuple[str, ...] = ("mlp", "autoencoder")

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

#: The kinds of layer a stack may hold besides Dense, in the words the editor and the CLI use.
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
MAX_LAYERS = 16
MAX_PARAMETERS = 30_000_000
MAX_SEED = 2**31 - 1
INPUT_SHAPE: tuple[int, int, int] = (28, 28, 1)
NUM_CLASSES = 10


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


@dataclass(frozen=True)
class ModelSpec:
    """A model: an MLP classifier or an AutoEncoder built from stacks of Dense layers.

    - ``mlp``: ``hidden`` layers, then a linear Dense layer with ``num_classes`` outputs.
    - ``autoencoder``: ``encoder`` layers (the last one is the code), then ``decoder``
      layers, then a Dense layer back to the input size followed by a sigmoid.
    ``seed`` seeds the parameter initialisation.
    """

    kind: str = "mlp"
    hidden: tuple[Layer, ...] = ()
    encoder: tuple[Layer, ...] = ()
    decoder: tuple[Layer, ...] = ()
    seed: int = 0
    input_shape: tuple[int, int, int] = INPUT_SHAPE
    num_classes: int = NUM_CLASSES

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpecError("kind", f"model kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if tuple(self.input_shape) != INPUT_SHAPE:
            raise SpecError(
                "input_shape", f"input shape must be {INPUT_SHAPE} (28x28 grey images), got {self.input_shape!r}"
            )
        if self.num_classes != NUM_CLASSES:
            raise SpecError("num_classes", f"number of classes must be {NUM_CLASSES}, got {self.num_classes!r}")
        object.__setattr__(self, "input_shape", INPUT_SHAPE)
        object.__setattr__(self, "seed", _as_int(self.seed, "seed", 0, MAX_SEED, "seed"))
        if self.kind == "mlp":
            stacks = {"hidden": self.hidden}
            unused = {"encoder": self.encoder, "decoder": self.decoder}
        else:
            stacks = {"encoder": self.encoder, "decoder": self.decoder}
            unused = {"hidden": self.hidden}
        for name, layers in unused.items():
            if layers:
                raise SpecError(name, f"a {self.kind} has no {name} layers; remove them")
        for name, layers in stacks.items():
            object.__setattr__(self, name, _validated_stack(name, layers, allow_empty=name == "decoder"))
        if self.kind == "autoencoder":
            _check_encoder_ends_with_code(self.encoder)
            code = self.encoder[-1].width
            if code > self.input_size:
                raise SpecError(
                    f"encoder[{len(self.encoder) - 1}].width",
                    f"the code layer ({code:,} units) is wider than the input it compresses "
                    f"({self.input_size:,} pixels); make it at most {self.input_size:,}",
                )
        total = self.parameter_count
        if total > MAX_PARAMETERS:
            raise SpecError(
                "layers",
                f"this model would have {total:,} parameters, more than the limit of {MAX_PARAMETERS:,}; "
                "use fewer or narrower layers",
            )

    # ----- derived views -------------------------------------------------------------
    @property
    def input_size(self) -> int:
        return math.prod(self.input_shape)

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers a person edits, in order (hidden, or encoder then decoder)."""
        return self.hidden if self.kind == "mlp" else self.encoder + self.decoder

    @property
    def dense_layers(self) -> tuple[Layer, ...]:
        """The Dense layers of ``layers``, in order."""
        return tuple(layer for layer in self.layers if layer.is_dense)

    @property
    def dense_indices(self) -> tuple[int, ...]:
        """Where the Dense layers sit in ``layers`` (0-based)."""
        return tuple(i for i, layer in enumerate(self.layers) if layer.is_dense)

    @property
    def has_dropout(self) -> bool:
        return any(layer.type == "dropout" for layer in self.layers)

    @property
    def has_batchnorm(self) -> bool:
        return any(layer.type == "batchnorm" for layer in self.layers)

    @property
    def code_size(self) -> int | None:
        return self.encoder[-1].width if self.kind == "autoencoder" else None

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Units from the input to the output, ``(784, 512, 256, 10)``: the model's Dense layers
        map ``layer_sizes[i]`` to ``layer_sizes[i + 1]`` values (``core.models.dense_layers``
        names them). Dropout and normalisation layers keep the number of values."""
        output = self.num_classes if self.kind == "mlp" else self.input_size
        return (self.input_size, *(layer.width for layer in self.dense_layers), output)

    @property
    def layer_inputs(self) -> tuple[int, ...]:
        """How many values each layer of ``layers`` receives (an image's 784 pixels for the first)."""
        sizes, size = [], self.input_size
        for layer in self.layers:
            sizes.append(size)
            size = layer.width if layer.is_dense else size
        return tuple(sizes)

    @property
    def norm_parameter_count(self) -> int:
        """A BatchNorm or LayerNorm layer learns a scale and a bias per value it normalises."""
        return sum(2 * size for layer, size in zip(self.layers, self.layer_inputs, strict=True)
                   if layer.type in ("batchnorm", "layernorm"))  # fmt: skip

    @property
    def batch_stats_count(self) -> int:
        """Numbers in ``batch_stats``: a BatchNorm layer keeps a running mean and variance per value
        (updated while training, not learned by the optimizer)."""
        return sum(2 * size for layer, size in zip(self.layers, self.layer_inputs, strict=True)
                   if layer.type == "batchnorm")  # fmt: skip

    @property
    def parameter_count(self) -> int:
        """Weights and biases of every Dense layer, ``(inputs + 1) * outputs`` each, plus the scale
        and bias of every BatchNorm and LayerNorm layer (``batch_stats`` are not parameters)."""
        dense = sum((inputs + 1) * outputs for inputs, outputs in itertools.pairwise(self.layer_sizes))
        return dense + self.norm_parameter_count

    def describe(self) -> str:
        """A one-line summary such as ``MLP 784-512-256-10``, ``MLP 784-512-batchnorm-dropout 0.2-10``
        or ``AutoEncoder 784-256-[16]-256-784``."""

        def short(layer: Layer) -> str:
            return str(layer.width) if layer.is_dense else layer.describe()

        if self.kind == "mlp":
            return "MLP " + "-".join([str(self.input_size), *map(short, self.hidden), str(self.num_classes)])
        enc = [short(layer) for layer in self.encoder]
        enc[-1] = f"[{enc[-1]}]"
        widths = [str(self.input_size), *enc, *(short(layer) for layer in self.decoder), str(self.input_size)]
        return "AutoEncoder " + "-".join(widths)

    # ----- construction helpers ------------------------------------------------------
    @classmethod
    def mlp(cls, widths: Any = (512, 256), activation: str = "relu", seed: int = 0) -> ModelSpec:
        """An MLP classifier with the given hidden widths, all using ``activation``."""
        return cls(kind="mlp", hidden=_layers("hidden", widths, activation), seed=seed)

    @classmethod
    def autoencoder(
        cls,
        encoder: Any = (256, 64, 16),
        decoder: Any = (64, 256),
        activation: str = "relu",
        seed: int = 0,
        code_activation: str = "linear",
    ) -> ModelSpec:
        """An AutoEncoder; the last encoder width is the code size, whose activation is ``code_activation``."""
        enc = _layers("encoder", encoder, activation)
        if enc:
            enc = enc[:-1] + (Layer(enc[-1].width, code_activation),)
        return cls(kind="autoencoder", encoder=enc, decoder=_layers("decoder", decoder, activation), seed=seed)

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated like any new spec)."""
        fields = {
            "kind": self.kind,
            "hidden": self.hidden,
            "encoder": self.encoder,
            "decoder": self.decoder,
            "seed": self.seed,
        }
        fields.update(changes)
        return ModelSpec(**fields)

    # ----- JSON ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind == "mlp":
            data["hidden"] = [layer.to_dict() for layer in self.hidden]
        else:
            data["encoder"] = [layer.to_dict() for layer in self.encoder]
            data["decoder"] = [layer.to_dict() for layer in self.decoder]
        data["seed"] = self.seed
        data["input_shape"] = list(self.input_shape)
        data["num_classes"] = self.num_classes
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> ModelSpec:
        """Build a spec from ``to_dict`` output; any other shape raises SpecError."""
        if not isinstance(data, dict):
            raise SpecError("spec", f"a model spec must be a JSON object, got {type(data).__name__}")
        allowed = {"kind", "hidden", "encoder", "decoder", "seed", "input_shape", "num_classes"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(unknown[0], f"unknown field in model spec (allowed: {', '.join(sorted(allowed))})")
        kwargs: dict[str, Any] = {"kind": data.get("kind", "mlp"), "seed": data.get("seed", 0)}
        for name in ("hidden", "encoder", "decoder"):
            if name in data:
                kwargs[name] = _layers_from_json(name, data[name])
        if "input_shape" in data:
            shape = data["input_shape"]
            kwargs["input_shape"] = tuple(shape) if isinstance(shape, list) else shape
        if "num_classes" in data:
            kwargs["num_classes"] = data["num_classes"]
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelSpec:
        try:
            data = json.loads(text)
        except RecursionError:
            raise SpecError("spec", "not valid JSON: it is nested too deeply") from None
        except (ValueError, TypeError) as err:
            raise SpecError("spec", f"not valid JSON ({err})") from None
        return cls.from_dict(data)


def _validated_stack(name: str, layers: Any, allow_empty: bool) -> tuple[Layer, ...]:
    if not isinstance(layers, (tuple, list)):
        raise SpecError(name, f"{name} layers must be a list, got {type(layers).__name__}")
    if not layers and not allow_empty:
        raise SpecError(name, "add at least one layer")
    if len(layers) > MAX_LAYERS:
        raise SpecError(name, f"at most {MAX_LAYERS} layers are allowed, got {len(layers)}")
    out = []
    for i, layer in enumerate(layers):
        where = f"{name}[{i}]"
        if not isinstance(layer, Layer):
            raise SpecError(where, f"expected a Layer, got {type(layer).__name__}")
        out.append(_validated_layer(layer, where, f"{name} layer {i + 1}"))
    return tuple(out)


def _validated_layer(layer: Layer, where: str, what: str) -> Layer:
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


def _check_encoder_ends_with_code(encoder: tuple[Layer, ...]) -> None:
    """The code is the last Dense layer of the encoder, so the encoder must end with it."""
    if not any(layer.is_dense for layer in encoder):
        raise SpecError("encoder", "the encoder needs at least one Dense layer: its last one is the code")
    if not encoder[-1].is_dense:
        last = len(encoder) - 1
        raise SpecError(
            f"encoder[{last}]",
            f"the encoder must end with its code (a Dense layer), not {encoder[-1].describe()}; move it before the "
            "code or to the start of the decoder",
        )


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
            layers.append(_validated_layer(layer, where, f"{name} layer {i + 1}"))
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


def _layers(name: str, widths: Any, activation: str) -> tuple[Layer, ...]:
    """Parse widths given as a list of numbers or a comma-separated string like ``"512,256"``."""
    if isinstance(widths, str):
        parts = [p.strip() for p in widths.split(",")]
        widths = [p for p in parts if p] if any(parts) else []
    if not isinstance(widths, (list, tuple)):
        raise SpecError(name, f"widths must be a list of whole numbers, got {widths!r}")
    return tuple(Layer(w, activation) for w in widths)


def _layers_from_json(name: str, items: Any) -> tuple[Layer, ...]:
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


#: Ready-made models offered in the layer editor: name -> (description, spec).
PRESETS: dict[str, tuple[str, ModelSpec]] = {
    "MNIST classifier (default)": (
        "A two-hidden-layer MLP, 784-512-256-10: about 97% on MNIST test digits.",
        ModelSpec.mlp((512, 256)),
    ),
    "MNIST classifier with batch norm and dropout": (
        "784-512-256-10 with BatchNorm after each hidden layer and Dropout (rate 0.2) before the output: "
        "the two most used controls against overfitting.",
        ModelSpec(
            kind="mlp",
            hidden=(Layer(512), Layer.batchnorm(), Layer(256), Layer.batchnorm(), Layer.dropout(0.2)),
        ),
    ),
    "MNIST autoencoder (default)": (
        "Squeezes each digit through 16 numbers and rebuilds it: 784-256-64-[16]-64-256-784.",
        ModelSpec.autoencoder((256, 64, 16), (64, 256)),
    ),
    "Tiny MLP (flax intro 12-8-4)": (
        "The MLP of the flax.linen introduction, features 12-8-4, with a 10-class output for MNIST.",
        ModelSpec.mlp((12, 8, 4)),
    ),
    "Tiny autoencoder (flax intro 20-10-5)": (
        "The AutoEncoder of the flax.linen introduction: encoder 20-10-5, decoder 5-10-20.",
        ModelSpec.autoencoder((20, 10, 5), (5, 10, 20)),
    ),
    "2-D latent autoencoder": (
        "A code of just 2 numbers, so every digit becomes a point on a map.",
        ModelSpec.autoencoder((256, 64, 2), (64, 256)),
    ),
}
