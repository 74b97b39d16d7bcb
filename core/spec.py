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
from core.layers import (  # noqa: F401 - ACTIVATIONS, LAYER_TYPES and the width limits are imported from here too
    ACTIVATIONS,
    LAYER_TYPES,
    MAX_WIDTH,
    MIN_WIDTH,
    Layer,
    layers_from_json,
    validated_layer,
)

ModelKind = Literal["mlp", "autoencoder"]
KINDS: tuple[str, ...] = ("mlp", "autoencoder")

MAX_LAYERS = 16
MAX_PARAMETERS = 30_000_000
MAX_SEED = 2**31 - 1
INPUT_SHAPE: tuple[int, int, int] = (28, 28, 1)
NUM_CLASSES = 10  # the output units of an MLP unless its dataset has another number of classes
MAX_CLASSES = 64  # EMNIST letters has 26


def _as_int(value: Any, field_name: str, low: int, high: int, what: str) -> int:
    """``value`` as an int in [low, high], or a SpecError naming the field."""
    return validate.whole_number(value, field_name, low, high, what, error=SpecError)


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
        object.__setattr__(
            self, "num_classes", _as_int(self.num_classes, "num_classes", 2, MAX_CLASSES, "number of classes")
        )
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
            "num_classes": self.num_classes,
        }
        fields.update(changes)
        return ModelSpec(**fields)

    def for_classes(self, classes: int) -> ModelSpec:
        """This model with one output unit per class of a dataset of ``classes`` classes (an MLP's
        output layer follows its dataset: 10 for digits, 26 for EMNIST letters; an autoencoder has none)."""
        return self.replace(num_classes=classes) if self.kind == "mlp" and classes != self.num_classes else self

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
                kwargs[name] = layers_from_json(name, data[name])
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
        out.append(validated_layer(layer, where, f"{name} layer {i + 1}"))
    return tuple(out)


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


def _layers(name: str, widths: Any, activation: str) -> tuple[Layer, ...]:
    """Parse widths given as a list of numbers or a comma-separated string like ``"512,256"``."""
    if isinstance(widths, str):
        parts = [p.strip() for p in widths.split(",")]
        widths = [p for p in parts if p] if any(parts) else []
    if not isinstance(widths, (list, tuple)):
        raise SpecError(name, f"widths must be a list of whole numbers, got {widths!r}")
    return tuple(Layer(w, activation) for w in widths)


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
