"""The settings a sweep can vary (``SETTINGS``) and how a value changes a model or its training.

- ``width``: the width of one layer (``spec_with_width``), or of every hidden layer scaled
  together (``"all"``): each value is then the new width of the widest of them and the others
  keep their proportions (rounded, at least 1); an autoencoder's code layer keeps its size.
- ``train_fraction``: the share of the training images (``TrainConfig.train_fraction``).
- ``l2``: the L2 penalty (``TrainConfig.l2``).
- ``dropout``: the rate of every Dropout layer of the model (``spec_with_dropout``).

A new setting is one more ``SweptSetting``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core import validate
from core.errors import ConfigError, SpecError
from core.i18n import N_, Term
from core.layers import Dense
from core.norm_layers import Dropout
from core.spec import MIN_WIDTH, ModelSpec
from core.training.config import TrainConfig

ALL_LAYERS = "all"
DEFAULT_WIDTHS: tuple[int, ...] = Dense.sweep_widths  # an MLP's


def default_widths(spec: ModelSpec, layer: int | str) -> tuple[int, ...]:
    """The widths a sweep of ``layer`` (or of ``"all"``) tries unless told otherwise: its kind's
    (``Layer.sweep_widths``); for several layers, those of the kind with the smallest (a conv layer's
    channels cost far more than a Dense layer's units)."""
    chosen = scalable_layers(spec) if layer == ALL_LAYERS else (layer,)
    return min((spec.layers[i].sweep_widths for i in chosen), key=max, default=DEFAULT_WIDTHS)


def scalable_layers(spec: ModelSpec) -> tuple[int, ...]:
    """Indices into ``spec.layers`` that ``"all"`` scales: every layer with a width (Dense units, conv
    channels) but an autoencoder's code (Dropout, pooling and normalisation layers have none)."""
    return tuple(i for i in sized_layers(spec) if i != spec.code_index)


def sized_layers(spec: ModelSpec) -> tuple[int, ...]:
    """Indices into ``spec.layers`` of the layers with a width (Dense units, conv channels), the code included:
    the layers the Sweep page offers to resize."""
    return tuple(i for i, layer in enumerate(spec.layers) if layer.units() is not None)


def spec_with_width(spec: ModelSpec, layer: int | str, width: int) -> ModelSpec:
    """``spec`` with layer ``layer`` (0-based in ``spec.layers``) ``width`` units wide, or with all
    hidden layers scaled so that the widest is ``width`` wide (``layer="all"``)."""
    if layer != ALL_LAYERS and spec.layers[layer].units() is None:
        raise SpecError(
            "layer",
            N_("layer {layer} is {spec_layers}, which has no width"),
            layer=layer,
            spec_layers=spec.layers[layer].describe(),
        )
    if layer == ALL_LAYERS:
        scaled = scalable_layers(spec)
        widest = max(spec.layers[i].units() for i in scaled)
        widths = {i: max(MIN_WIDTH, round(spec.layers[i].units() * width / widest)) for i in scaled}
    else:
        widths = {layer: width}
    return spec.with_layers(tuple(one.resized(widths[i]) if i in widths else one for i, one in enumerate(spec.layers)))


@dataclass(frozen=True)
class SweptSetting:
    """A setting a sweep can vary: its words, its values' kind, and what a value changes."""

    key: str  # the command line's --setting, the field of TrainConfig it sets when not the width
    label: str  # "width", "share of the training images", "L2 penalty"
    defaults: tuple[float, ...]
    whole: bool  # values are whole numbers (widths)
    changes_model: bool  # values change the model's shape and parameter count (drawn against parameters)

    def format(self, value: float) -> str:
        if self.key == "train_fraction":
            return f"{value:.0%}"
        return f"{value:,}" if self.whole else f"{value:g}"

    def point(self, spec: ModelSpec, config: TrainConfig, layer: int | str, value: float):
        """(spec, config) of the model trained at ``value``."""
        if self.key == WIDTH:
            return spec_with_width(spec, layer, int(value)), config
        if self.key == DROPOUT:
            return spec_with_dropout(spec, value), config
        return spec, replace(config, **{self.key: value})


def spec_with_dropout(spec: ModelSpec, rate: float) -> ModelSpec:
    """``spec`` with every Dropout layer at ``rate`` (ModelSpec refuses a rate that is not one)."""
    return spec.with_layers(tuple(Dropout(rate) if isinstance(one, Dropout) else one for one in spec.layers))


WIDTH, DROPOUT = "width", "dropout"
#: The settings a sweep can vary (an extensible list: one entry per setting).
SETTINGS: dict[str, SweptSetting] = {
    s.key: s
    for s in (
        SweptSetting(WIDTH, N_("width"), DEFAULT_WIDTHS, whole=True, changes_model=True),
        SweptSetting("train_fraction", N_("share of the training images"), (0.05, 0.1, 0.2, 0.5, 1.0), False, False),
        SweptSetting("l2", N_("L2 penalty"), (0.0, 1e-4, 1e-3, 1e-2, 1e-1), whole=False, changes_model=False),
        SweptSetting(DROPOUT, N_("dropout rate"), (0.0, 0.1, 0.2, 0.3, 0.5), whole=False, changes_model=False),
    )
}


def numbers(text: Any, label: str) -> tuple[float, ...]:
    """``"0.05, 0.2,1"`` (or a list) -> floats; a ConfigError naming ``values`` otherwise."""
    items = text.split(",") if isinstance(text, str) else text
    if not isinstance(items, (list, tuple)):
        raise ConfigError(
            "values",
            N_("the {label} values must be numbers separated by commas, got {text!r}"),
            label=Term(label),
            text=text,
        )
    numbers = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        try:
            numbers.append(validate.number(item, "values", f"each {label}"))
        except ConfigError:
            raise ConfigError(
                "values",
                N_("the {label} values must be numbers separated by commas, got {item!r}"),
                label=Term(label),
                item=item,
            ) from None
    if not numbers:
        raise ConfigError(
            "values",
            N_("give at least one {label}, e.g. {value}"),
            label=Term(label),
            value=", ".join(f"{v:g}" for v in (0, 1e-3)),
        )
    return tuple(numbers)
