"""What every kind of layer is (``Layer``), and the first kind: Dense (width, activation).

Each kind is a frozen dataclass that owns everything that differs about it: the settings of its
flax call (``flax_call``: its function in ``core.flax_layers``, shown to a person with the model),
its output size, its parameter, ``batch_stats`` and operation counts, its words, its JSON form, its
item in the typed editor and the command line (``512:gelu``, ``dropout:0.2``, ``batchnorm``) and in
links (``512.gelu``, ``dropout.0.2``), what the editor adds, and the random keys and collections it
adds to a model (what a checkpoint must hold), and its flax NNX twin (``nnx_module``, ``nnx_code``: see
``core.nnx_models``). The other kinds: ``core.norm_layers`` (Dropout, BatchNorm, LayerNorm) and
``core.conv_layers`` (Conv, MaxPool, AvgPool, ConvTranspose); ``core.layer_kinds.LAYER_KINDS``
registers every kind by name; nothing else compares a layer's name. ``core.spec`` stacks them into
models and ``core.models`` gives them to flax; ``core.layer_items`` reads and writes a stack of them as
items, link parts and JSON.
Errors are SpecErrors naming the field.

To add a kind: a subclass of ``Layer`` added to ``core.layer_kinds.KINDS``, its flax call written in
``core.flax_layers`` and returned by its ``flax_call``, plus its tests (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from core import validate
from core.errors import SpecError
from core.i18n import N_, Phrase

#: Activation names a layer may use, with the plain-language description shown in the UI (``_()`` it).
ACTIVATIONS: dict[str, str] = {
    "relu": N_("max(0, x): keeps positives, zeroes negatives (the usual default)"),
    "gelu": N_("a smooth ReLU used by transformers"),
    "swish": N_("x * sigmoid(x): smooth, slightly negative for small negatives"),
    "tanh": N_("squashes to -1..1"),
    "sigmoid": N_("squashes to 0..1"),
    "elu": N_("like ReLU but smooth and slightly negative below 0"),
    "leaky_relu": N_("like ReLU but keeps negatives at a hundredth of their size"),
    "linear": N_("no activation: passes the value through (used for an autoencoder's code)"),
}
#: activation names that are words, not a function's name: a page shows them through ``_()``
ACTIVATION_WORDS = {"linear": N_("linear")}
MIN_WIDTH = 1
MAX_WIDTH = 4096

#: The shape of what a layer takes or gives for one image, without the batch axis: ``(28, 28, 32)``
#: for an image of 32 channels (height, width, channels: flax's NHWC), ``(512,)`` for flat values.
Shape = tuple[int, ...]


def activated(call: str, activation: str, api: str = "nnx") -> str:
    """``call`` followed by ``activation`` as NNX code (``nnx.relu(self.dense_0(x))``) or linen code
    (``api="nn"``: ``nn.relu(nn.Dense(512)(x))``); "linear" keeps it."""
    return call if activation == "linear" else f"{api}.{activation}({call})"


def flattened(inputs: Shape) -> str:
    """``x`` as a Dense layer takes it: an image is flattened first."""
    return "x.reshape((x.shape[0], -1))" if len(inputs) > 1 else "x"


def as_shape(inputs: int | Shape) -> Shape:
    """A shape from itself or from a number of flat values (the counts of earlier versions took numbers)."""
    return (inputs,) if isinstance(inputs, int) else tuple(inputs)


def shape_text(shape: Shape) -> str:
    """``"28x28x32"`` for an image, ``"512"`` for flat values."""
    return "x".join(str(size) for size in shape)


def as_int(value: Any, field_name: str, low: int, high: int, what: str) -> int:
    """``value`` as an int in [low, high], or a SpecError naming the field."""
    return validate.whole_number(value, field_name, low, high, what, error=SpecError)


@dataclass(frozen=True)
class Layer:
    """One layer of a stack; each kind of layer is a subclass. ``Layer(512, "relu")`` is
    ``Dense(512, "relu")`` (as earlier versions wrote it); ``Layer.dropout(0.2)``, ``Layer.batchnorm()``
    and ``Layer.layernorm()`` keep the number of values."""

    name: ClassVar[str]  # the JSON "type", the editor's and the command line's word
    title: ClassVar[str]  # the name in the editor: "BatchNorm"
    description: ClassVar[str]  # what it does, in words
    item_syntax: ClassVar[str]  # how a person types it
    json_example: ClassVar[str]
    rngs: ClassVar[tuple[str, ...]] = ()  # random keys it draws from while training
    collections: ClassVar[tuple[str, ...]] = ()  # variable collections it adds (besides what it learns)
    linen_name: ClassVar[str]  # the class flax.linen names it by: ``Dense`` gives ``Dense_0``, ``Dense_1``...
    image_layer: ClassVar[bool] = False  # works on images (height, width, channels) and gives images
    decoder_only: ClassVar[bool] = False  # only an autoencoder's decoder may hold it (ConvTranspose)
    has_module: ClassVar[bool] = True  # its flax call makes a module (pooling is a plain function)
    growth: ClassVar[float] = 1  # how many times taller and wider an image comes out (pooling 0.5)

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        return super().__new__(Dense if cls is Layer else cls)

    # ----- factories of earlier versions, kept for the callers and tests that use them ----------
    @staticmethod
    def dropout(rate: Any) -> Layer:
        from core.norm_layers import Dropout

        return Dropout(rate)

    @staticmethod
    def batchnorm() -> Layer:
        from core.norm_layers import BatchNorm

        return BatchNorm()

    @staticmethod
    def layernorm() -> Layer:
        from core.norm_layers import LayerNorm

        return LayerNorm()

    # ----- what a kind says about itself (Dense overrides most) -----------------------------
    @property
    def is_dense(self) -> bool:
        return False

    def describe(self) -> str:
        """``"512 relu"``, ``"dropout 0.2"``, ``"batchnorm"``."""
        return self.name

    def short(self) -> str:
        """The layer in a model's one-line summary: ``"512"``, ``"dropout 0.2"``."""
        return self.describe()

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        """The shape of its output for one input of ``shape``, or a SpecError naming ``where`` when it
        cannot take that shape (a convolution after the first Dense layer, pooling a 1x1 image)."""
        return shape

    def output_size(self, inputs: int | Shape) -> int:
        """How many values the layer gives for ``inputs`` values (or an input of that shape)."""
        return math.prod(self.output_shape(as_shape(inputs)))

    def parameter_count(self, inputs: int | Shape) -> int:
        """Numbers the optimizer learns in this layer, for ``inputs`` values in (or an input of that shape)."""
        return 0

    def batch_stats_count(self, inputs: int | Shape) -> int:
        """Numbers it keeps in ``batch_stats`` (updated while training, not learned)."""
        return 0

    def matrix_flops(self, shape: Shape) -> int:
        """Operations of its weights for one input of ``shape``: 2 per multiply-add (0 without weights)."""
        return 0

    def bias_flops(self, shape: Shape) -> int:
        """Additions of its biases for one input: one per output value of a layer with biases."""
        return 0

    def activation_flops(self, shape: Shape) -> int:
        """About one operation per output value of a layer with an activation (0 for "linear")."""
        return 0

    def elementwise_flops(self, inputs: int | Shape, training: bool) -> int:
        """Operations per example besides its weights (evaluation or training forward pass)."""
        return 0

    def units(self) -> int | None:
        """Its size that a width sweep varies: a Dense layer's units, a convolution's channels; None
        for a layer without one."""
        return None

    def resized(self, units: int) -> Layer:
        """The same layer with ``units`` units (channels); only for a layer whose ``units()`` is not None."""
        raise TypeError(f"{self.describe()} has no width")

    #: the widths a width sweep of this kind of layer tries unless told otherwise (a layer with ``units()``)
    sweep_widths: ClassVar[tuple[int, ...]] = ()

    def image_channels(self) -> int | None:
        """The channels of the image it is given, when it says (an autoencoder's decoder maps its code to
        an image of that many channels before its first such layer); None for the others."""
        return None

    def validated(self, where: str, what: str) -> Layer:
        """The layer in its one normal form (so equal layers compare equal), or a SpecError naming the field."""
        return self

    def flax_call(self) -> Callable[..., Any]:
        """Its function in ``core.flax_layers`` (``dense``, ``conv``...), called ``(x, train, *settings())``
        by ``core.models.MLP``. Imported when asked: describing a model does not import flax."""
        raise NotImplementedError

    def settings(self) -> tuple:
        """The arguments of its flax call (``flax_call()``) after ``(x, train)``."""
        return ()

    def module_item(self) -> tuple:
        """The layer as ``core.models.MLP`` takes it: ``(dense, 512, "relu")``, its flax call and settings."""
        return (self.flax_call(), *self.settings())

    # ----- the same layer in flax NNX (``core.nnx_models``) ------------------------------------
    def nnx_code(self, inputs: Shape) -> str | None:
        """The Python that builds its flax NNX module for one image of shape ``inputs`` (``rngs``: the
        ``nnx.Rngs`` in scope), ``nnx.Linear(784, 512, rngs=rngs)``; None for a layer without one (pooling)."""
        raise NotImplementedError

    def nnx_call_code(self, module: str, inputs: Shape) -> str:
        """The Python expression of what the NNX model does with ``x`` through its ``module`` (an expression:
        ``self.dense_0``): ``nnx.relu(self.dense_0(x))``."""
        return f"{module}(x)"

    def linen_call_code(self, inputs: Shape) -> str:
        """The same layer in flax.linen, as the expression an ``@nn.compact`` method applies to ``x`` (``train``:
        its training flag in scope): ``nn.relu(nn.Dense(512)(x))``, its module created where it is used."""
        raise NotImplementedError

    def nnx_module(self, inputs: Shape, rngs: Any) -> Any:
        """The module ``nnx_code`` builds: the code a person reads is the code that runs."""
        from flax import nnx

        return eval(self.nnx_code(inputs), {"nnx": nnx, "rngs": rngs})  # our own text, from validated numbers

    def nnx_apply(self, module: Any, x: Any, inputs: Shape) -> Any:
        """What ``nnx_call_code`` does, on ``x``."""
        from flax import nnx

        return eval(self.nnx_call_code("layer", inputs), {"nnx": nnx, "layer": module, "x": x})

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name}

    @classmethod
    def from_dict(cls, item: dict) -> Layer | None:
        """The layer a JSON object describes, None when the object has other keys."""
        return cls() if set(item) == {"type"} else None

    def item(self, usual_activation: str) -> str:
        """Its typed item (``parse_layers`` reads it back)."""
        return self.name

    @classmethod
    def from_item(cls, head: str, tail: str, activation: str) -> Layer:
        """The layer of an item ``HEAD[:TAIL]`` whose head named this kind (SpecError without field)."""
        if tail:
            raise SpecError("", N_("{name} takes no value"), name=cls.name)
        return cls()

    def link_item(self) -> str:
        """Its item in a link (``core.links``): ``512.relu``, ``dropout.0.2``, ``batchnorm``."""
        return self.name

    @classmethod
    def from_link(cls, head: str, tail: str) -> Layer:
        return cls()

    @classmethod
    def for_editor(cls) -> Layer:
        """The layer the editor adds when a person picks this kind."""
        return cls()


@dataclass(frozen=True)
class Dense(Layer):
    """``width`` output units, each summing every value before it with its own weights, then ``activation``."""

    width: int = 0
    activation: str = "relu"

    name: ClassVar[str] = "dense"
    title: ClassVar[str] = "Dense"
    description: ClassVar[str] = N_(
        "Dense: every unit sums all the values before it with its own weights, then applies its activation"
    )
    item_syntax: ClassVar[str] = "a whole number of units (WIDTH[:ACTIVATION])"
    json_example: ClassVar[str] = '{"width": 64, "activation": "relu"}'
    linen_name: ClassVar[str] = "Dense"

    @property
    def is_dense(self) -> bool:
        return True

    def nnx_code(self, inputs: Shape) -> str:
        return f"nnx.Linear({math.prod(inputs)}, {self.width}, rngs=rngs)"

    def nnx_call_code(self, module: str, inputs: Shape) -> str:
        return activated(f"{module}({flattened(inputs)})", self.activation)

    def linen_call_code(self, inputs: Shape) -> str:
        return activated(f"nn.Dense({self.width})({flattened(inputs)})", self.activation, "nn")

    def describe(self) -> str:
        return f"{self.width:,} {self.activation}"

    def short(self) -> str:
        return str(self.width)

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        return (self.width,)  # an image is flattened first

    sweep_widths: ClassVar[tuple[int, ...]] = (8, 16, 32, 64, 128, 256, 512, 1024)

    def units(self) -> int | None:
        return self.width

    def resized(self, units: int) -> Layer:
        return Dense(units, self.activation)

    def parameter_count(self, inputs: int | Shape) -> int:
        return (math.prod(as_shape(inputs)) + 1) * self.width

    def matrix_flops(self, shape: Shape) -> int:
        return 2 * math.prod(shape) * self.width

    def bias_flops(self, shape: Shape) -> int:
        return self.width

    def activation_flops(self, shape: Shape) -> int:
        return 0 if self.activation == "linear" else self.width

    def validated(self, where: str, what: str) -> Layer:
        width = as_int(self.width, f"{where}.width", MIN_WIDTH, MAX_WIDTH, Phrase(N_("width of {layer}"), layer=what))
        if self.activation not in ACTIVATIONS:
            raise SpecError(
                f"{where}.activation",
                N_("unknown activation {activation!r}; choose one of {activations}"),
                activation=self.activation,
                activations=", ".join(ACTIVATIONS),
            )
        return Dense(width, self.activation)

    def flax_call(self) -> Callable[..., Any]:
        from core.flax_layers import dense

        return dense

    def settings(self) -> tuple:
        return (self.width, self.activation)

    def to_dict(self) -> dict[str, Any]:
        """Dense layers keep the JSON of earlier versions (no "type" key)."""
        return {"width": self.width, "activation": self.activation}

    @classmethod
    def from_dict(cls, item: dict) -> Layer | None:
        if set(item) - {"width", "activation", "type"} or "width" not in item:
            return None
        return cls(item["width"], item.get("activation", "relu"))

    def item(self, usual_activation: str) -> str:
        return str(self.width) if self.activation == usual_activation else f"{self.width}:{self.activation}"

    @classmethod
    def from_item(cls, head: str, tail: str, activation: str) -> Layer:
        return cls(head, tail or activation)

    def link_item(self) -> str:
        return f"{self.width}.{self.activation}"

    @classmethod
    def from_link(cls, head: str, tail: str) -> Layer:
        return cls(head, tail or "relu")  # ModelSpec validates both

    @classmethod
    def for_editor(cls) -> Layer:
        return cls(64)


def width_of(layer: Layer) -> int:
    """A Dense layer's units; 0 for the kinds without a width (as earlier versions stored them)."""
    return layer.width if layer.is_dense else 0
