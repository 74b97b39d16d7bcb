"""Figures of the Inside page: plain data in, ``go.Figure`` out (no streamlit, so tests read the traces).

A layer is a compact grid of cells, one per unit; the network is a diagram of unit dots joined
by the strongest weights. Unit dots carry ``customdata = [layer number, unit]`` so a click on
one (``st.plotly_chart(on_select="rerun")``) says which unit was chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from components.i18n import _
from core.inside import Connections, grid_shape

POSITIVE, NEGATIVE = "#2f6db3", "#d1453b"
#: line widths of the diagram's weights, from the weakest quarter of those drawn to the strongest
WIDTHS = (0.6, 1.2, 2.2, 3.6)


def colour_scale(values: np.ndarray) -> dict:
    """Blue-white-red around 0 when values go negative; light to dark for values that are all >= 0."""
    finite = np.asarray(values, np.float64)[np.isfinite(values)]
    if finite.size == 0:  # a diverged model's NaNs: an empty grid rather than an error
        return {"colorscale": "Blues", "cmin": 0.0, "cmax": 1.0}
    low, high = float(finite.min()), float(finite.max())
    if low < 0:
        bound = max(abs(low), abs(high), 1e-6)
        return {"colorscale": "RdBu_r", "cmin": -bound, "cmax": bound, "cmid": 0.0}
    return {"colorscale": "Blues", "cmin": 0.0, "cmax": max(high, 1e-6)}


def grid_layout(title: str, height: int) -> dict:
    """Square cells, no axes, the first row on top (one layout dict: building a figure once is faster)."""
    return {
        "title": title, "height": height, "margin": {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        "xaxis": {"visible": False}, "yaxis": {"visible": False, "autorange": "reversed", "scaleanchor": "x"},
    }  # fmt: skip


def unit_grid_figure(values: np.ndarray, title: str, height: int = 220, what: str | None = None) -> go.Figure:
    """One layer's units as a compact grid (512 units: 16 rows of 32), coloured by value;
    hovering a cell says ``unit 37: 0.82`` (units are counted from 0, as in the kernel's columns)."""
    values = np.asarray(values, np.float32).ravel()
    rows, cols = grid_shape(values.size)
    grid = np.full(rows * cols, np.nan, np.float32)
    grid[: values.size] = values
    numbers = np.arange(rows * cols).reshape(rows, cols)
    scale = colour_scale(values)
    fig = go.Figure(
        go.Heatmap(
            z=grid.reshape(rows, cols),
            customdata=numbers,
            colorscale=scale["colorscale"],
            zmin=scale["cmin"],
            zmax=scale["cmax"],
            xgap=1,
            ygap=1,
            hovertemplate=(what or _("unit")) + " %{customdata}: %{z:.2f}<extra></extra>",
            colorbar={"thickness": 10, "len": 0.9},
        ),
        layout=grid_layout(title, height),
    )
    return fig


def image_figure(image: np.ndarray, title: str, height: int = 260, what: str | None = None) -> go.Figure:
    """A 2-D array (a unit's 28x28 incoming weights) as a heatmap, 0 in white; hover gives row, column, value."""
    image = np.asarray(image, np.float32)
    scale = colour_scale(image)
    fig = go.Figure(
        go.Heatmap(
            z=image,
            colorscale=scale["colorscale"],
            zmin=scale["cmin"],
            zmax=scale["cmax"],
            hovertemplate=_("row {row}, column {column}: {what} {value}").format(
                row="%{y}", column="%{x}", what=what or _("weight"), value="%{z:.3f}"
            )
            + "<extra></extra>",
            colorbar={"thickness": 10, "len": 0.9},
        ),
        layout=grid_layout(title, height),
    )
    return fig


@dataclass(frozen=True)
class DiagramLayer:
    """One column of the diagram: its name, and the value of each unit for the chosen input."""

    name: str  # "layer 1 · relu"
    values: np.ndarray  # (units,)


def _positions(units: int, column: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a layer's units sit: a tall block of its compact grid (512: 16 wide, 32 tall) centred
    on x = 2 * column, scaled into a height of 1."""
    rows, cols = grid_shape(units)
    wide, tall = rows, cols  # the grid turned on its side: a column of units
    spacing = min(1.0 / max(tall, 1), 0.09)
    x_spacing = 1.2 / wide if wide > 1 else 0.0  # blocks 1.2 wide between columns 2 apart
    unit = np.arange(units)
    x = 2.0 * column + (unit // tall - (wide - 1) / 2) * x_spacing
    y = 0.5 - (unit % tall - (tall - 1) / 2) * spacing
    return x, y


def network_figure(
    layers: Sequence[DiagramLayer], connections: Sequence[Connections], height: int = 560, width: int = 1000
) -> go.Figure:
    """The network as a diagram: one column of unit dots per layer (the input's pixels first), lit by
    their values, and between two columns the strongest weights as lines, blue for positive and red
    for negative, thicker for larger magnitude. ``connections[i]`` joins ``layers[i]`` to ``layers[i + 1]``.
    ``width``: about how wide the chart is drawn, in pixels, to size the dots so that they do not overlap."""
    positions = [_positions(layer.values.size, i) for i, layer in enumerate(layers)]
    traces, notes = _weight_traces(connections, positions)
    dots, labels = _unit_traces(layers, positions, height, width)
    traces += dots
    notes += labels
    layout = {
        "height": height, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "showlegend": False, "annotations": notes,
        "xaxis": {"visible": False}, "yaxis": {"visible": False, "range": [-0.16, 1.16]},
        "clickmode": "event+select", "dragmode": False, "hovermode": "closest",
    }  # fmt: skip
    return go.Figure(data=traces, layout=layout)


def _weight_traces(
    connections: Sequence[Connections], positions: Sequence[tuple[np.ndarray, np.ndarray]]
) -> tuple[list[go.Scatter], list[dict]]:
    """The lines of ``network_figure``'s strongest weights, and the note under each pair of columns."""
    # one trace per sign and thickness for all the layers' lines (a trace per layer pair is slower to build)
    segments: dict[tuple[bool, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    notes = []
    for i, links in enumerate(connections):
        (x0, y0), (x1, y1) = positions[i], positions[i + 1]
        magnitude = np.abs(links.weights)
        edges = np.quantile(magnitude, [0.25, 0.5, 0.75]) if magnitude.size else np.zeros(3)
        band = np.searchsorted(edges, magnitude, side="right")
        for positive in (True, False):
            for b in range(len(WIDTHS)):
                chosen = np.flatnonzero((band == b) & ((links.weights > 0) == positive))
                s, t = links.sources[chosen], links.targets[chosen]
                gap = np.full(chosen.size, np.nan)
                xs = np.column_stack([x0[s], x1[t], gap]).ravel()
                segments.setdefault((positive, b), []).append((xs, np.column_stack([y0[s], y1[t], gap]).ravel()))
        notes.append(
            {
                "x": 2 * i + 1,
                "y": -0.08,
                "showarrow": False,
                "font": {"size": 11},
                "text": _("showing the {count:,} strongest<br>of {total:,} weights").format(
                    count=len(links.weights), total=links.total
                ),
            }
        )
    traces = [
        go.Scatter(
            x=np.concatenate([xs for xs, _ in parts]),
            y=np.concatenate([ys for _, ys in parts]),
            mode="lines",
            line={"color": POSITIVE if positive else NEGATIVE, "width": WIDTHS[b]},
            opacity=0.3,
            hoverinfo="skip",
            showlegend=False,
        )
        for (positive, b), parts in segments.items()
        if sum(len(xs) for xs, _ in parts)
    ]
    return traces, notes


def _unit_traces(
    layers: Sequence[DiagramLayer], positions: Sequence[tuple[np.ndarray, np.ndarray]], height: int, width: int
) -> tuple[list[go.Scatter | go.Heatmap], list[dict]]:
    """The input's pixels of ``network_figure`` as one small image (``_pixel_trace``), then the unit dots,
    one trace per layer, and the name above each column."""
    traces: list[go.Scatter | go.Heatmap] = [_pixel_trace(layers[0], *positions[0])]
    notes = [_column_name(layers[0], 0)]
    pixels_per_y = (height - 20) / 1.32  # the y axis spans 1.32
    pixels_per_x = (width - 20) / (2 * (len(layers) - 1) + 1.4)
    for i, (layer, (x, y)) in enumerate(zip(layers, positions, strict=True)):
        if i == 0:
            continue
        values = np.asarray(layer.values, np.float32).ravel()
        steps = [abs(y[0] - y[1]) * pixels_per_y] if values.size > 1 else [14.0]
        if len(np.unique(x)) > 1:
            steps.append(float(np.diff(np.unique(x)).min()) * pixels_per_x)
        dot = float(np.clip(0.8 * min(steps), 3, 14))
        what = _("unit")
        traces.append(
            go.Scatter(
                x=x,
                y=y,
                mode="markers",
                name=layer.name,
                showlegend=False,
                marker={"size": dot, "color": values, **colour_scale(values), "line": {"width": 0.5, "color": "#777"}},
                # a click selects one unit: the others keep their colour instead of fading out
                selected={"marker": {"opacity": 1.0}},
                unselected={"marker": {"opacity": 1.0}},
                customdata=np.column_stack([np.full(values.size, i), np.arange(values.size)]),
                hovertemplate=f"{layer.name}<br>{what} %{{customdata[1]}}: %{{marker.color:.2f}}<extra></extra>",
            )
        )
        notes.append(_column_name(layer, i))
    return traces, notes


def _column_name(layer: DiagramLayer, column: int) -> dict:
    return {"x": 2 * column, "y": 1.08, "showarrow": False, "text": f"<b>{layer.name}</b><br>{layer.values.size:,}"}


def _pixel_trace(layer: DiagramLayer, x: np.ndarray, y: np.ndarray) -> go.Heatmap:
    """The input's pixels where ``_positions`` puts them, as one heatmap: the browser draws it as one image,
    where 784 dots cost it more than the rest of the diagram (a pixel is never chosen by a click)."""
    values = np.asarray(layer.values, np.float32).ravel()
    tall = int(np.argmax(x != x[0])) if np.any(x != x[0]) else values.size  # pixels per column of the block
    wide = -(-values.size // tall)
    cells = np.full(wide * tall, np.nan, np.float32)
    cells[: values.size] = values
    numbers = np.arange(wide * tall).reshape(wide, tall).T[::-1]  # [row, column], the lowest row first
    scale = colour_scale(values)
    return go.Heatmap(
        x=x[::tall],
        y=y[:tall][::-1],
        z=cells.reshape(wide, tall).T[::-1],
        customdata=numbers,
        name=layer.name,
        colorscale=scale["colorscale"],
        zmin=scale["cmin"],
        zmax=scale["cmax"],
        showscale=False,
        hoverongaps=False,
        hovertemplate=layer.name + "<br>" + _("pixel") + " %{customdata}: %{z:.2f}<extra></extra>",
    )


def clicked_unit(point: dict) -> tuple[int, int] | None:
    """(layer number, unit) of a point of ``network_figure`` in a selection event (0: the input's pixels).

    A numpy ``customdata`` row reaches the event as a list or as ``{"0": layer, "1": unit}``."""
    data = point.get("customdata")
    if isinstance(data, dict):
        data = [data.get("0"), data.get("1")]
    if not isinstance(data, list | tuple) or len(data) != 2 or not all(isinstance(v, int | float) for v in data):
        return None
    return int(data[0]), int(data[1])
