"""A stack of layers as text and back: the items of the typed editor and the command line
(``"512:relu, batchnorm, dropout:0.2"``), the parts of a link, and the JSON of a spec. Each kind of layer
(``core.layer_kinds.LAYER_KINDS``) says its own item, link and JSON form; this module reads a whole stack.
"""

from __future__ import annotations

from typing import Any

from core.errors import SpecError
from core.i18n import N_, Phrase
from core.layer_kinds import LAYER_KINDS
from core.layers import Dense, Layer

MAX_LAYERS = 16


#: "hidden layer 2": a layer in words, by its stack (a Phrase: a page shows it in its visitor's language)
STACK_LAYER_WORDS = {
    "hidden": N_("hidden layer {number}"),
    "encoder": N_("encoder layer {number}"),
    "decoder": N_("decoder layer {number}"),
}


def layer_words(stack: str, number: int) -> Phrase:
    return Phrase(STACK_LAYER_WORDS.get(stack, N_("{stack} layer {number}")), stack=stack, number=number)


def _kind_of_item(head: str) -> type[Layer] | None:
    """The kind an item's head names: a number is a Dense layer's width, other kinds are typed by name."""
    if _is_number(head):
        return Dense
    kind = LAYER_KINDS.get(head.lower())
    return None if kind is Dense else kind


def parse_layers(
    text: Any, name: str, activation: str = "relu", code_activation: str | None = None
) -> tuple[Layer, ...]:
    """Layers from items like ``"512:relu, batchnorm, dropout:0.2, 256"`` (the command line's
    ``--layers`` and the typed editor): ``WIDTH[:ACTIVATION]`` (``activation`` when none is
    given, ``code_activation`` for a last bare width: an encoder's code), ``dropout:RATE``,
    ``batchnorm``, ``layernorm``. A SpecError names a bad item."""
    if not isinstance(text, str):
        raise SpecError(name, N_("layers must be text like 512:relu,dropout:0.2, got {text!r}"), text=text)
    items = [item for item in (part.strip() for part in text.split(",")) if item]
    layers = []
    for i, item in enumerate(items):
        where = f"{name}[{i}]"
        head, _, tail = (part.strip() for part in item.partition(":"))
        kind = _kind_of_item(head)
        if kind is None:
            syntaxes = [one.item_syntax for one in LAYER_KINDS.values()]
            raise SpecError(
                where,
                N_("{item!r} is not a layer; use {syntaxes} or {last}"),
                item=item,
                syntaxes=", ".join(syntaxes[:-1]),
                last=syntaxes[-1],
            )
        usual = code_activation if code_activation and i == len(items) - 1 else activation
        try:
            layers.append(kind.from_item(head, tail, usual).validated(where, layer_words(name, i + 1)))
        except SpecError as err:
            raise SpecError(
                err.field or where, N_("{item!r}: {reason}"), item=item, reason=err.reason_error()
            ) from None
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
    last = len(layers) - 1
    return ", ".join(
        layer.item(code_activation if code_activation and i == last else activation) for i, layer in enumerate(layers)
    )


def layer_from_link(part: str) -> Layer:
    """A layer from a link's item ``HEAD[.TAIL]`` (``core.links``); ModelSpec validates it."""
    head, _, tail = part.partition(".")
    return LAYER_KINDS.get(head, Dense).from_link(head, tail)


def layers_from_json(name: str, items: Any) -> tuple[Layer, ...]:
    """A layer without a "type" key is Dense (the JSON of earlier versions)."""
    if not isinstance(items, list):
        raise SpecError(
            name, N_("{name} must be a list of layers, got {items_type}"), name=name, items_type=type(items).__name__
        )
    layers = []
    for i, item in enumerate(items):
        named = item.get("type", "dense") if isinstance(item, dict) else "dense"
        kind = LAYER_KINDS.get(named) if isinstance(named, str) else None
        if kind is None:
            raise SpecError(
                f"{name}[{i}].type",
                N_("unknown kind of layer {named!r}; choose one of {layer_kinds}"),
                named=named,
                layer_kinds=", ".join(LAYER_KINDS),
            )
        layer = kind.from_dict(item) if isinstance(item, dict) else None
        if layer is None:
            examples = [one.json_example for one in LAYER_KINDS.values()]
            raise SpecError(
                f"{name}[{i}]",
                N_("each layer must look like {examples} or {examples2}"),
                examples=", ".join(examples[:-1]),
                examples2=examples[-1],
            )
        layers.append(layer)
    return tuple(layers)


def validated_stack(name: str, layers: Any, allow_empty: bool) -> tuple[Layer, ...]:
    if not isinstance(layers, (tuple, list)):
        raise SpecError(
            name, N_("{name} layers must be a list, got {layers_type}"), name=name, layers_type=type(layers).__name__
        )
    if not layers and not allow_empty:
        raise SpecError(name, N_("add at least one layer"))
    if len(layers) > MAX_LAYERS:
        raise SpecError(
            name,
            N_("at most {max_layers} layers are allowed, got {layers_count}"),
            max_layers=MAX_LAYERS,
            layers_count=len(layers),
        )
    out = []
    for i, layer in enumerate(layers):
        where = f"{name}[{i}]"
        if not isinstance(layer, Layer):
            raise SpecError(where, N_("expected a Layer, got {layer_type}"), layer_type=type(layer).__name__)
        out.append(layer.validated(where, layer_words(name, i + 1)))
    return tuple(out)


def widths_to_layers(name: str, widths: Any, activation: str) -> tuple[Layer, ...]:
    """Parse widths given as a list of numbers or a comma-separated string like ``"512,256"``."""
    if isinstance(widths, str):
        parts = [p.strip() for p in widths.split(",")]
        widths = [p for p in parts if p] if any(parts) else []
    if not isinstance(widths, (list, tuple)):
        raise SpecError(name, N_("widths must be a list of whole numbers, got {widths!r}"), widths=widths)
    return tuple(Layer(w, activation) for w in widths)


def check_encoder_ends_with_code(encoder: tuple[Layer, ...]) -> None:
    """The code is the last Dense layer of the encoder, so the encoder must end with it."""
    if not any(layer.is_dense for layer in encoder):
        raise SpecError("encoder", N_("the encoder needs at least one Dense layer: its last one is the code"))
    if not encoder[-1].is_dense:
        last = len(encoder) - 1
        raise SpecError(
            f"encoder[{last}]",
            N_(
                "the encoder must end with its code (a Dense layer), not {encoder}; move it "
                "before the code or to the start of the decoder"
            ),
            encoder=encoder[-1].describe(),
        )
