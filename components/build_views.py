"""Parts of the Build page: a convolutional model's diagram and table (each layer's output shape), and the
links to the next pages."""

from __future__ import annotations

import streamlit as st

from components import conv_figures
from components.frame import page
from components.i18n import _
from components.ui import explain, height
from core import models
from core.layers import shape_text
from core.spec import ModelSpec


def conv_view(spec: ModelSpec) -> None:
    """Every layer with the shape of its output for one image (28x28x32 -> 14x14x32 -> ...) and its
    parameters, from the spec's placed layers (the same numbers ``model.init`` gives)."""
    st.plotly_chart(conv_figures.shape_figure(spec, height=height(340)), key="build.shapes",
                    config={"displayModeBar": False})  # fmt: skip
    placed = spec.layer_shapes()
    shapes = " → ".join(["28x28x1", *(shape_text(one.output_shape) for one in placed)])
    st.caption(_("Shapes: {shapes}").format(shapes=shapes))
    explain(_(
        "An image keeps its height x width x channels shape through the conv and pooling layers: a Conv layer "
        "makes one channel per filter, a 2x2 pool halves the height and width. The first Dense layer flattens "
        "the image into one long row of values. Bars: the number of values each layer gives (log scale)."
    ))  # fmt: skip
    rows = [
        {
            _("layer"): path or one.layer.title,
            _("kind"): one.layer.describe(),
            _("shape"): f"{shape_text(one.input_shape)} → {shape_text(one.output_shape)}",
            _("parameters"): one.parameters,
        }
        for path, one in zip(models.layer_paths(spec), placed, strict=True)
    ]
    st.dataframe(rows, hide_index=True, key="build.table", column_config={
        _("parameters"): st.column_config.ProgressColumn(
            help=_("weights + biases (a Conv layer: kernel x kernel x input channels x filters, plus one bias per "
                   "filter)"), format="localized", min_value=0,
            max_value=max(1, *(row[_("parameters")] for row in rows))),
    })  # fmt: skip


def next_steps() -> None:
    st.divider()
    nav = st.columns(3)
    nav[0].page_link(page("pages/variables.py"), label=_("Look inside the variables →"), icon=":material/account_tree:")
    nav[1].page_link(page("pages/train.py"), label=_("Train this model →"), icon=":material/show_chart:")
