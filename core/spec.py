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
from typing import Any, ClassVar

from core import shapes
from core.data.dataset import MAX_CLASSES, NUM_CLASSES
from core.errors import SpecError
from core.i18n import N_
from core.layer_items import check_encoder_ends_with_code, layers_from_json, validated_stack, widths_to_layers
from core.layers import (  # noqa: F401 - ACTIVATIONS and the width limits are imported from here too
    ACTIVATIONS,
    MAX_WIDTH,
    MIN_WIDTH,
    Dense,
    Layer,
    as_int,
)
from core.shapes import PlacedLayer

MAX_PARAMETERS = 30_000_000
MAX_SEED = 2**31 - 1
INPUT_SHAPE: tuple[int, int, int] = (28, 28, 1)
STACKS = ("hidden", "encoder", "decoder")


@dataclass(frozen=True)
class ModelSpec:
    """A model built from stacks of layers; each kind of model is a subclass (``MLPSpec``,
    ``AutoEncoderSpec``, registered by name in ``MODEL_KINDS``) that owns what differs about it.
    ``ModelSpec(kind="mlp", hidden=...)`` is an ``MLPSpec`` (the JSON and the code of earlier versions
    name the kind). ``seed`` seeds the parameter initialisation.
    """

    kind: str = "mlp"
    hidden: tuple[Layer, ...] = ()
    encoder: tuple[Layer, ...] = ()
    decoder: tuple[Layer, ...] = ()
    seed: int = 0
    input_shape: tuple[int, int, int] = INPUT_SHAPE
    num_classes: int = NUM_CLASSES

    name: ClassVar[str]  # "mlp": its JSON "kind"
    title: ClassVar[str]  # "MLP classifier" (marked for the catalogue: a page shows it through ``_()``)
    stacks: ClassVar[tuple[str, ...]]  # the stacks of layers a person edits, in order
    optional_stacks: ClassVar[tuple[str, ...]] = ()  # those that may be empty
    link_name: ClassVar[str]  # ``model=`` in links
    cli_options: ClassVar[tuple[str, ...]]  # the command line's options for its layers (``python -m core``)
    a_title: ClassVar[str]  # "an MLP": in a sentence
    output_activation: ClassVar[str]  # after the fixed last Dense layer
    output_role: ClassVar[str]  # what that layer gives, in words

    def __new__(cls, *args: Any, **kwargs: Any) -> ModelSpec:
        if cls is not ModelSpec:
            return super().__new__(cls)
        kind = kwargs.get("kind", args[0] if args else "mlp")
        kind_class = MODEL_KINDS.get(kind) if isinstance(kind, str) else None
        if kind_class is None:
            raise SpecError(
                "kind",
                N_("model kind must be one of {model_kinds}, got {kind!r}"),
                model_kinds=", ".join(MODEL_KINDS),
                kind=kind,
            )
        return super().__new__(kind_class)

    def __post_init__(self) -> None:
        if self.kind != self.name:
            raise SpecError(
                "kind",
                N_("a {self_type} is of kind {name!r}, got {kind!r}"),
                self_type=type(self).__name__,
                name=self.name,
                kind=self.kind,
            )
        if tuple(self.input_shape) != INPUT_SHAPE:
            raise SpecError(
                "input_shape",
                N_("input shape must be {input_shape} (28x28 grey images), got {given!r}"),
                input_shape=INPUT_SHAPE,
                given=self.input_shape,
            )
        object.__setattr__(
            self, "num_classes", as_int(self.num_classes, "num_classes", 2, MAX_CLASSES, "number of classes")
        )
        object.__setattr__(self, "input_shape", INPUT_SHAPE)
        object.__setattr__(self, "seed", as_int(self.seed, "seed", 0, MAX_SEED, "seed"))
        for name in STACKS:
            layers = getattr(self, name)
            if name in self.stacks:
                object.__setattr__(self, name, validated_stack(name, layers, name in self.optional_stacks))
            elif layers:
                raise SpecError(name, N_("a {kind} has no {name} layers; remove them"), kind=self.kind, name=name)
        self.check_stacks()
        self.layer_shapes()  # refuses a stack it cannot place, naming the item
        total = self.parameter_count
        if total > MAX_PARAMETERS:
            raise SpecError(
                "layers",
                N_(
                    "this model would have {total:,} parameters, more than the limit of "
                    "{max_parameters:,}; use fewer or narrower layers"
                ),
                total=total,
                max_parameters=MAX_PARAMETERS,
            )

    # ----- what a kind of model says about itself ------------------------------------
    @classmethod
    def default(cls) -> ModelSpec:
        """The model of this kind a person starts from."""
        raise NotImplementedError

    def check_stacks(self) -> None:
        """Refuse stacks this kind cannot build (SpecError naming the field)."""

    @property
    def output_size(self) -> int:
        """Values the model's fixed last Dense layer gives."""
        raise NotImplementedError

    def layer_shapes(self) -> tuple[PlacedLayer, ...]:
        """Every layer the model applies, in order, with the shapes it takes and gives for one image
        (``core.shapes``): the layers of ``layers`` (``index`` says where) and the ones the model adds
        (the output layer; an autoencoder's Dense layer that makes its decoder's first image).
        E.g. ``conv 32 3x3 relu: 28x28x1 -> 28x28x32``, ``avgpool: 28x28x32 -> 14x14x32``."""
        raise NotImplementedError

    @property
    def code_size(self) -> int | None:
        """The size of an autoencoder's code; None for a model without one."""
        return None

    def describe(self) -> str:
        """A one-line summary such as ``MLP 784-512-256-10``, ``MLP 784-512-batchnorm-dropout 0.2-10``
        or ``AutoEncoder 784-256-[16]-256-784``."""
        raise NotImplementedError

    @property
    def code_index(self) -> int | None:
        """Where an autoencoder's code sits in ``layers``; None for a model without one."""
        return None

    def with_layers(self, layers: tuple[Layer, ...]) -> ModelSpec:
        """This model with ``layers`` (as many as ``self.layers``) cut into its stacks as before."""
        changes, start = {}, 0
        for name in self.stacks:
            count = len(getattr(self, name))
            changes[name], start = tuple(layers[start : start + count]), start + count
        return self.replace(**changes)

    def for_classes(self, classes: int) -> ModelSpec:
        """This model for a dataset of ``classes`` classes (an MLP's output layer follows its dataset:
        10 for digits, 26 for EMNIST letters; an autoencoder has none)."""
        return self

    # ----- derived views -------------------------------------------------------------
    @property
    def input_size(self) -> int:
        return math.prod(self.input_shape)

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers a person edits, in order (hidden, or encoder then decoder)."""
        return tuple(itertools.chain.from_iterable(getattr(self, name) for name in self.stacks))

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
        """Whether training draws "dropout" random keys."""
        return any("dropout" in layer.rngs for layer in self.layers)

    @property
    def has_batchnorm(self) -> bool:
        """Whether the model's variables hold ``batch_stats``."""
        return any("batch_stats" in layer.collections for layer in self.layers)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Units from the input to the output, ``(784, 512, 256, 10)``: the model's Dense layers
        map ``layer_sizes[i]`` to ``layer_sizes[i + 1]`` values (``core.models.dense_layers``
        names them). Dropout and normalisation layers keep the number of values."""
        return (self.input_size, *(layer.width for layer in self.dense_layers), self.output_size)

    @property
    def layer_inputs(self) -> tuple[int, ...]:
        """How many values each layer of ``layers`` receives (an image's 784 pixels for the first)."""
        return tuple(math.prod(one.input_shape) for one in self.layer_shapes() if one.index is not None)

    @property
    def norm_parameter_count(self) -> int:
        """A BatchNorm or LayerNorm layer learns a scale and a bias per value (per channel of an image)."""
        return sum(one.parameters for one in self.layer_shapes() if one.index is not None and not one.layer.is_dense)

    @property
    def batch_stats_count(self) -> int:
        """Numbers in ``batch_stats``: a BatchNorm layer keeps a running mean and variance per value
        (per channel of an image; updated while training, not learned by the optimizer)."""
        return sum(one.batch_stats for one in self.layer_shapes())

    @property
    def parameter_count(self) -> int:
        """Weights and biases of every layer the model applies: ``(inputs + 1) * outputs`` for a Dense
        layer, ``(K * K * C_in + 1) * C_out`` for a KxK convolution, a scale and a bias per value (per
        channel) for BatchNorm and LayerNorm (``batch_stats`` are not parameters)."""
        return sum(one.parameters for one in self.layer_shapes())

    # ----- construction helpers ------------------------------------------------------
    @classmethod
    def mlp(cls, widths: Any = (512, 256), activation: str = "relu", seed: int = 0) -> ModelSpec:
        """An MLP classifier with the given hidden widths, all using ``activation``."""
        return MLPSpec(hidden=widths_to_layers("hidden", widths, activation), seed=seed)

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
        enc = widths_to_layers("encoder", encoder, activation)
        if enc:
            enc = enc[:-1] + (Dense(enc[-1].width, code_activation),)
        return AutoEncoderSpec(encoder=enc, decoder=widths_to_layers("decoder", decoder, activation), seed=seed)

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated like any new spec; ``kind=`` changes its class)."""
        fields = {"kind": self.kind, **{name: getattr(self, name) for name in STACKS}}
        fields.update(seed=self.seed, num_classes=self.num_classes)
        fields.update(changes)
        return ModelSpec(**fields)

    # ----- JSON ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        data.update({name: [layer.to_dict() for layer in getattr(self, name)] for name in self.stacks})
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
            raise SpecError(
                "spec", N_("a model spec must be a JSON object, got {data_type}"), data_type=type(data).__name__
            )
        allowed = {"kind", *STACKS, "seed", "input_shape", "num_classes"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(
                unknown[0], N_("unknown field in model spec (allowed: {allowed})"), allowed=", ".join(sorted(allowed))
            )
        kwargs: dict[str, Any] = {"kind": data.get("kind", "mlp"), "seed": data.get("seed", 0)}
        for name in STACKS:
            if name in data:
                kwargs[name] = layers_from_json(name, data[name])
        if "input_shape" in data:
            shape = data["input_shape"]
            kwargs["input_shape"] = tuple(shape) if isinstance(shape, list) else shape
        if "num_classes" in data:
            kwargs["num_classes"] = data["num_classes"]
        return ModelSpec(**kwargs)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelSpec:
        try:
            data = json.loads(text)
        except RecursionError:
            raise SpecError("spec", N_("not valid JSON: it is nested too deeply")) from None
        except (ValueError, TypeError) as err:
            raise SpecError("spec", N_("not valid JSON ({err})"), err=err) from None
        return cls.from_dict(data)


@dataclass(frozen=True)
class MLPSpec(ModelSpec):
    """An MLP classifier: ``hidden`` layers, then a linear Dense layer with ``num_classes`` outputs."""

    kind: str = "mlp"
    name: ClassVar[str] = "mlp"
    title: ClassVar[str] = N_("MLP classifier")
    stacks: ClassVar[tuple[str, ...]] = ("hidden",)
    link_name: ClassVar[str] = "mlp"
    cli_options: ClassVar[tuple[str, ...]] = ("--widths", "--layers")
    a_title: ClassVar[str] = "an MLP"
    output_activation: ClassVar[str] = "linear"
    output_role: ClassVar[str] = N_("output")

    @classmethod
    def default(cls) -> ModelSpec:
        return ModelSpec.mlp()

    @property
    def output_size(self) -> int:
        return self.num_classes

    def describe(self) -> str:
        return "MLP " + "-".join(
            [str(self.input_size), *(layer.short() for layer in self.hidden), str(self.num_classes)]
        )

    def for_classes(self, classes: int) -> ModelSpec:
        return self.replace(num_classes=classes) if classes != self.num_classes else self

    def layer_shapes(self) -> tuple[PlacedLayer, ...]:
        placed, shape = shapes.place_stack("hidden", self.hidden, self.input_shape, 0)
        return (*placed, shapes.place_output("hidden", Dense(self.num_classes, "linear"), shape, "output"))


@dataclass(frozen=True)
class AutoEncoderSpec(ModelSpec):
    """An AutoEncoder: ``encoder`` layers (the last one is the code), then ``decoder`` layers, then a
    Dense layer back to the input size followed by a sigmoid."""

    kind: str = "autoencoder"
    name: ClassVar[str] = "autoencoder"
    title: ClassVar[str] = N_("autoencoder")
    stacks: ClassVar[tuple[str, ...]] = ("encoder", "decoder")
    optional_stacks: ClassVar[tuple[str, ...]] = ("decoder",)
    link_name: ClassVar[str] = "ae"
    cli_options: ClassVar[tuple[str, ...]] = ("--encoder", "--decoder")
    a_title: ClassVar[str] = "an autoencoder"
    output_activation: ClassVar[str] = "sigmoid"
    output_role: ClassVar[str] = N_("reconstruction")

    def check_stacks(self) -> None:
        check_encoder_ends_with_code(self.encoder)
        code = self.encoder[-1].width
        if code > self.input_size:
            raise SpecError(
                f"encoder[{len(self.encoder) - 1}].width",
                N_(
                    "the code layer ({code:,} units) is wider than the input it compresses "
                    "({input_size:,} pixels); make it at most {input_size:,}"
                ),
                code=code,
                input_size=self.input_size,
            )

    @classmethod
    def default(cls) -> ModelSpec:
        return ModelSpec.autoencoder()

    @property
    def output_size(self) -> int:
        return self.input_size

    @property
    def code_size(self) -> int | None:
        return self.encoder[-1].width

    @property
    def code_index(self) -> int | None:
        return len(self.encoder) - 1

    def layer_shapes(self) -> tuple[PlacedLayer, ...]:
        code = self.code_index
        encoder, shape = shapes.place_stack("encoder", self.encoder, self.input_shape, 0, code)
        decoder, shape = shapes.place_stack("decoder", self.decoder, shape, len(self.encoder))
        last = shapes.reconstruction_layer(shape, self.input_size)
        return (*encoder, *decoder, shapes.place_output("decoder", last, shape, "reconstruction"))

    def describe(self) -> str:
        enc = [layer.short() for layer in self.encoder]
        enc[-1] = f"[{enc[-1]}]"
        widths = [str(self.input_size), *enc, *(layer.short() for layer in self.decoder), str(self.input_size)]
        return "AutoEncoder " + "-".join(widths)


#: The one registry of the kinds of model, by the name their JSON, links and the command line use.
MODEL_KINDS: dict[str, type[ModelSpec]] = {kind.name: kind for kind in (MLPSpec, AutoEncoderSpec)}
