"""Views of convolutional layers: a conv kernel as a grid of small filters (Variables page), each conv
layer's feature maps for one input and one channel's filter and the test images that light it up most
(Inside page). The values come from ``core.inside`` (flax's ``capture_intermediates``)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components import figures, resources, switch_figures
from components.conv_figures import maps_columns, maps_figure
from components.i18n import _
from components.images import tile
from components.ui import explain, height, image_scale
from core import inside
from core.data import Dataset
from core.inside import LayerOutput
from core.spec import ModelSpec

MOST_ACTIVE = 12


def conv_kernel(path: str, kernel: np.ndarray) -> None:
    """A conv kernel (K, K, in channels, out channels): each filter's weights on the first input channel
    as a small image (for the first conv layer, whose input is the grey image, that is the whole filter)."""
    size, _width, channels_in, channels_out = kernel.shape
    shape = " x ".join(str(n) for n in kernel.shape)
    left, right = st.columns([3, 2])
    with left:
        if channels_in == 1:
            title = _("{path}: {shape}, the {count} filters").format(path=path, shape=shape, count=channels_out)
        else:
            title = _("{path}: {shape}, the {count} filters on input channel 0 (of {channels})").format(
                path=path, shape=shape, count=channels_out, channels=channels_in
            )
        st.plotly_chart(
            maps_figure(np.moveaxis(kernel[:, :, 0, :], -1, 0), title, height(420), what="filter"),
            key="variables.filters",
        )
        explain(
            _(
                "Each small square is one filter: {size}x{size} weights slid over the image. Blue weights make the "
                "filter's channel light up where the image has ink under them, red ones hold it back: after "
                "training the filters of the first layer look for edges and strokes."
            ).format(size=size)
        )
    with right:
        st.plotly_chart(
            figures.histogram_figure(kernel, _("values of {path}").format(path=path), height=height(300)),
            key="variables.histogram",
        )
        st.caption(_("mean {mean:.4f}, std {std:.4f}").format(mean=float(np.mean(kernel)), std=float(np.std(kernel))))


def map_title(row: LayerOutput, number: int, shape: tuple[int, int, int]) -> str:
    after = "" if row.activation == "linear" else f", {row.activation}"
    return _("layer {number} ({kind}): one map per channel").format(
        number=number, kind=f"{row.kind}, {shape[0]}x{shape[1]}x{shape[2]}{after}"
    )


def feature_maps(
    spec: ModelSpec, number: int, models_shown: list, shape: tuple[int, int, int], off: tuple[int, ...] = ()
) -> None:
    """One image layer's output for the chosen input: a small map per channel, side by side for each model
    shown (trained, untrained); a click on a map chooses that channel below. ``off``: the trained model's
    channels switched off (section 5), their maps crossed out."""
    columns = st.columns(len(models_shown))
    for column, (label, layer_rows, _model) in zip(columns, models_shown, strict=True):
        row = layer_rows[number - 1]
        title = map_title(row, number, shape) + (f" · {_(label)}" if len(models_shown) > 1 else "")
        rows_of_maps = -(-shape[2] // maps_columns(shape[2]))
        figure = maps_figure(inside.feature_maps(row.values[0], shape), title,
                             height(80 + rows_of_maps * min(90, 6 * shape[0])), clickable=True)  # fmt: skip
        if label == "trained":
            switch_figures.mark_maps(figure, off, shape)
        column.plotly_chart(figure, key=f"inside.maps{number}.{label}", on_select="rerun", selection_mode="points")


def _apply_clicks(spec: ModelSpec, rows: list[LayerOutput], conv_paths: list[str]) -> None:
    """A click on a feature map chooses its layer and channel (once: the chart keeps its selection)."""
    for number, row in enumerate(rows, start=1):
        for label in ("trained", "untrained"):
            chart = st.session_state.get(f"inside.maps{number}.{label}")
            points = [p for p in (chart.selection.points if chart else []) if "customdata" in p]
            click = (row.path, int(np.ravel(points[0]["customdata"])[0])) if points else None
            if click and row.path in conv_paths and st.session_state.get("inside.last_map_click") != click:
                st.session_state["inside.last_map_click"] = click
                st.session_state["inside.channel_layer"], st.session_state["inside.channel"] = click


def channel_section(spec: ModelSpec, variables, rows: list[LayerOutput], dataset: Dataset, model_key: tuple) -> None:
    """One channel of a conv layer: its filter (one small image per input channel) and the test images
    whose maps of that channel are brightest on average."""
    conv_paths = [row.path for row in rows if row.path in inside.conv_activations(spec)]
    if not conv_paths:
        return
    st.markdown("### " + _("One channel"))
    _apply_clicks(spec, rows, conv_paths)
    if st.session_state.get("inside.channel_layer") not in conv_paths:
        st.session_state["inside.channel_layer"] = conv_paths[0]
    chosen = st.columns([2, 1])
    path = chosen[0].selectbox(
        _("Conv layer"), conv_paths, key="inside.channel_layer", help=_("Or click a feature map.")
    )
    shape = inside.image_shape(spec, path)
    if st.session_state.get("inside.channel", 0) >= shape[2]:
        st.session_state["inside.channel"] = 0
    channels_help = _("Channels are numbered 0 to {last}.").format(last=shape[2] - 1)
    channel = int(chosen[1].number_input(_("Channel"), min_value=0, max_value=shape[2] - 1, step=1,
                                         key="inside.channel", help=channels_help))  # fmt: skip
    kernel = inside.kernel_of(variables, path)[..., channel]
    left, right = st.columns(2)
    with left:
        title = _("Its filter: {height}x{width} weights on each of {channels} input channels").format(
            height=kernel.shape[0], width=kernel.shape[1], channels=kernel.shape[2]
        )
        st.plotly_chart(maps_figure(np.moveaxis(kernel, -1, 0), title, height(320), what="input channel"),
                        key="inside.filter")  # fmt: skip
        explain(
            _("Blue weights: ink (or a bright input channel) under them lights this channel up; red: holds it back.")
        )
    with right:
        activations = resources.test_activations(model_key, dataset.name, spec, variables, dataset)[path]
        strength = inside.channel_strength(activations, shape)
        top = inside.most_active(strength, channel, MOST_ACTIVE)
        caption = _(
            "The {count} test images (of the first {tested:,}) that light channel {channel} up most (mean of its map)"
        ).format(count=len(top), tested=len(strength), channel=channel)
        st.image(tile(dataset.test_images[top], cols=6, scale=image_scale(2)), output_format="PNG", caption=caption)
        st.caption(_("Mean values: {values}").format(values=", ".join(f"{strength[i, channel]:.2f}" for i in top)))
