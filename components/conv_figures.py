"""Drawings of convolutional models: the stack with each layer's output shape (Build page), and a grid of
small images, one per channel or per filter (Variables and Inside pages)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from components.figures import ROLE_COLOURS
from components.i18n import N_, _
from components.inside_figures import colour_scale, grid_layout
from core import models
from core.layers import shape_text
from core.spec import ModelSpec

IMAGE_COLOUR = "#72b7b2"  # a layer whose output is still an image (height x width x channels)
#: a layer's role as the diagram names it (a hidden layer is named by its kind instead)
ROLE_WORDS = {
    "input": N_("input"),
    "code": N_("code"),
    "output": N_("output"),
    "reconstruction": N_("reconstruction"),
    "image": N_("image"),
}
#: what one small map of ``maps_figure`` is, for its hover text
MAP_WORDS = {"channel": N_("channel"), "filter": N_("filter"), "input channel": N_("input channel")}


def uses_images(spec: ModelSpec) -> bool:
    """Whether the model has a conv or pooling layer, so that its diagram shows images' shapes."""
    return any(layer.image_layer for layer in spec.layers)


def shape_figure(spec: ModelSpec, height: int = 340) -> go.Figure:
    """Every layer the model applies, with the shape of its output for one image (``28x28x32``): bar heights
    are the number of values on a log scale (28x28x32 = 25,088 values and 10 scores in one picture)."""
    names, sizes, colours, texts = [_("input")], [784], [ROLE_COLOURS["input"]], ["28x28x1"]
    hovers = [_("input: {shape}").format(shape="28x28x1")]
    for path, placed in zip(models.layer_paths(spec), spec.layer_shapes(), strict=True):
        out = placed.output_shape
        names.append(_(ROLE_WORDS[placed.role]) if placed.role in ROLE_WORDS else placed.layer.short())
        sizes.append(math.prod(out))
        colours.append(IMAGE_COLOUR if len(out) == 3 else ROLE_COLOURS.get(placed.role, ROLE_COLOURS["hidden"]))
        texts.append(shape_text(out))
        hovers.append(
            f"{path or placed.layer.title}: {placed.describe()}<br>"
            + _("{values:,} values, {parameters:,} parameters").format(
                values=math.prod(out), parameters=placed.parameters
            )
        )
    fig = go.Figure(
        go.Bar(
            x=list(range(len(sizes))),
            y=sizes,
            marker_color=colours,
            text=texts,
            textposition="outside",
            hovertext=hovers,
            hoverinfo="text",
            width=0.6,
            cliponaxis=False,
        )
    )
    fig.update_xaxes(tickvals=list(range(len(sizes))), ticktext=names, tickangle=-45 if len(sizes) > 7 else 0)
    fig.update_yaxes(type="log", title=_("values (log scale)"), range=[0, math.log10(max(sizes)) + 0.5])
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False, bargap=0.3)
    return fig


def maps_columns(count: int) -> int:
    """How many maps ``maps_figure`` puts side by side in a row (about twice as many as rows)."""
    return min(count, max(1, round(math.sqrt(count * 2))))


def map_corners(maps: np.ndarray | list[int], cols: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The top left corners (x, y) of maps numbered ``maps`` of ``h`` x ``w`` pixels in a ``maps_figure`` of
    ``cols`` maps a row, in its data coordinates (a pixel is 1 wide, centred on its column; maps 1 apart)."""
    rows, columns = np.divmod(np.asarray(maps, np.int64), cols)
    return columns * (w + 1) - 0.5, rows * (h + 1) - 0.5


def maps_figure(maps: np.ndarray, title: str, height: int, what: str = "channel", clickable: bool = False) -> go.Figure:
    """Maps (count, H, W), one per channel or filter, as one grid of small heatmaps on one colour scale
    (white is 0); hovering a pixel says its channel, row, column and value. ``clickable``: a dot on each
    map carries its number (``customdata``), so a click with ``on_select`` says which one was chosen."""
    maps = np.asarray(maps, np.float32)
    count, h, w = maps.shape
    cols = maps_columns(count)
    rows = -(-count // cols)
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan, np.float32)
    numbers = np.full(grid.shape, -1)
    for i, one in enumerate(maps):
        r, c = divmod(i, cols)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = one
        numbers[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = i
    scale = colour_scale(maps)
    heat = go.Heatmap(
        z=grid, customdata=numbers, colorscale=scale["colorscale"], zmin=scale["cmin"], zmax=scale["cmax"],
        hovertemplate=_("{what} %{{customdata}}, row %{{y}}, column %{{x}}: %{{z:.3f}}").format(what=_(MAP_WORDS[what]))
        + "<extra></extra>",
        colorbar={"thickness": 10, "len": 0.9}, hoverongaps=False,
    )  # fmt: skip
    fig = go.Figure(heat, layout=grid_layout(title, height))
    if clickable:
        centres = np.arange(count)
        left, top = map_corners(centres, cols, h, w)
        fig.add_trace(go.Scatter(
            x=left + w / 2, y=top + h / 2, mode="markers", customdata=centres,
            marker={"size": 14, "color": "rgba(0,0,0,0.15)", "symbol": "circle-open"},
            hovertemplate=_("{what} %{{customdata}}: click to look at it").format(what=_(MAP_WORDS[what]))
            + "<extra></extra>", showlegend=False,
        ))  # fmt: skip
    return fig
