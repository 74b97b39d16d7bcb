"""The Inside page's section 4 for the chosen unit: its incoming weights, and the test images that light
it up most (or why none does)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components import inside_figures, resources
from components.i18n import N_, _, ngettext
from components.images import tile
from components.ui import explain, height, image_scale
from core import inside
from core.data import Dataset
from core.inside import LayerOutput
from core.spec import ModelSpec

MOST_ACTIVE = 12
#: how the page calls a layer with a role of its own (the others are "layer 1", "layer 2"...)
ROLE_WORDS = {"code": N_("code"), "output": N_("output"), "reconstruction": N_("reconstruction")}


def layer_label(row: LayerOutput, number: int) -> str:
    """A layer's short name in the visitor's language: ``"layer 1"``, ``"code"``, ``"output"``."""
    return _(ROLE_WORDS[row.role]) if row.role in ROLE_WORDS else _("layer {number}").format(number=number)


def layer_name(row: LayerOutput, number: int, channels: int | None = None) -> str:
    """``LayerOutput.name`` in the visitor's language: ``"layer 1 (Dense, 512 units, relu)"``; a conv layer,
    given its ``channels``, is counted in them: ``"layer 1 (Conv, 16 channels, relu)"``."""
    if channels is not None:
        size = ngettext("{count:,} channel", "{count:,} channels", channels).format(count=channels)
        if row.activation == "linear":
            return _("{layer} ({kind}, {size})").format(layer=layer_label(row, number), kind=row.kind, size=size)
        return _("{layer} ({kind}, {size}, {activation})").format(
            layer=layer_label(row, number), kind=row.kind, size=size, activation=row.activation
        )
    if row.activation == "linear":
        return _("{layer} ({kind}, {units:,} units)").format(
            layer=layer_label(row, number), kind=row.kind, units=row.units
        )
    return _("{layer} ({kind}, {units:,} units, {activation})").format(
        layer=layer_label(row, number), kind=row.kind, units=row.units, activation=row.activation
    )


def unit_panels(
    spec: ModelSpec, dataset: Dataset, model_key: tuple, variables, row: LayerOutput, unit: int,
    incoming: np.ndarray, first_layer: bool,
) -> None:  # fmt: skip
    """Side by side: ``incoming`` (the unit's weights, as an image for the first layer, whose inputs are
    pixels) and the test images whose value of ``unit`` in ``row``'s layer is highest."""
    weights_column, images_column = st.columns(2)
    with weights_column:
        if first_layer:
            figure = inside_figures.image_figure(
                incoming.reshape(spec.input_shape[:2]), _("Its incoming weights, one per pixel"), height=height(320)
            )
            words = _(
                "Blue pixels push this unit up when they are inked, red ones push it down: the blue shape is what "
                "the unit looks for."
            )
        else:
            figure = inside_figures.unit_grid_figure(
                incoming,
                _("Its {count:,} incoming weights, one per unit of the layer before").format(count=incoming.size),
                height=height(320), what=_("weight from unit"),
            )  # fmt: skip
            words = _("Blue: units of the layer before that push this unit up; red: those that push it down.")
        st.plotly_chart(figure, key="inside.incoming")
        explain(words)
    with images_column:
        activations = resources.test_activations(model_key, dataset.name, spec, variables, dataset)[row.path]
        top = inside.most_active(activations, unit, MOST_ACTIVE)
        if len(top):
            st.image(
                tile(dataset.test_images[top], cols=6, scale=image_scale(2)), output_format="PNG",
                caption=_("The {count} test images (of the first {first:,}) that light it up most").format(
                    count=len(top), first=len(activations)
                ),
            )  # fmt: skip
            st.caption(_("Values: {values}").format(values=", ".join(f"{activations[i, unit]:.2f}" for i in top)))
        else:
            value_words = f"{float(activations[0, unit]):.2f}"
            st.info(
                _(
                    "No test image lights this unit up: it gives {value} for each of the first "
                    "{count:,}, so it never fires on them (a 'dead' unit)."
                ).format(value=value_words, count=len(activations)),
                icon=":material/power_off:",
            )
