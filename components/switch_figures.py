"""Figures for switching units off on the Inside page: plain data in, ``go.Figure`` out (no streamlit).

A clickable grid of one layer's units (a click toggles a unit), crosses over switched-off units in
the layer grids and the network diagram of ``components.inside_figures``, the "Which units matter"
bars and the pruning curve.
"""

from __future__ import annotations

from collections.abc import Iterable
from unicodedata import east_asian_width

import numpy as np
import plotly.graph_objects as go

from components.conv_figures import map_corners, maps_columns
from components.i18n import _
from core.ablation import PruningCurve, UnitImportance
from core.inside import grid_shape
from core.tasks import Metric

OFF_COLOUR = "#555555"
_CROSS = {"symbol": "x-thin", "line": {"width": 2, "color": OFF_COLOUR}, "color": OFF_COLOUR}


def _cells(units: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    rows, cols = grid_shape(units)
    unit = np.arange(units)
    return unit % cols, unit // cols, rows, cols


def _colours(values: np.ndarray) -> dict:
    """As the layer grids: light to dark blue for values >= 0 (ReLU), red-white-blue around 0 otherwise."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if low < 0:
        bound = max(-low, high, 1e-6)
        return {"colorscale": "RdBu_r", "cmin": -bound, "cmax": bound}
    return {"colorscale": "Blues", "cmin": 0.0, "cmax": max(high, 1e-6)}


def grid_cell(units: int) -> float:
    """The pixels between two units of ``switch_grid_figure``: the grid fits a phone's width (about 340 px)."""
    _, cols = grid_shape(units)
    return float(np.clip(340 / cols, 8, 26))


def switch_grid_figure(values: np.ndarray, off: Iterable[int], title: str) -> go.Figure:
    """One layer's units as clickable squares in the layout of its layer grid, lit by their value for the
    chosen input; switched-off units are grey crosses. ``customdata`` of a point is its unit. Square cells
    ``grid_cell`` pixels apart, in presenter mode too, so that the grid fits a phone."""
    values = np.asarray(values, np.float32).ravel()
    x, y, rows, cols = _cells(values.size)
    off = np.asarray(sorted(off), np.int64)
    on = np.setdiff1d(np.arange(values.size), off)
    cell = grid_cell(values.size)
    size = 0.8 * cell
    extra_lines = title.count("<br>")  # a title too wide for a phone in a language is broken by its translation
    traces = [
        go.Scatter(
            x=x[on], y=y[on], mode="markers", customdata=on, name="on",
            marker={"symbol": "square", "size": size, "color": values[on], **_colours(values),
                    "line": {"width": 0.5, "color": "#999"}},
            selected={"marker": {"opacity": 1.0}}, unselected={"marker": {"opacity": 1.0}},
            hovertemplate=_("unit {unit}: {value} (click to switch it off)").format(
                unit="%{customdata}", value="%{marker.color:.2f}") + "<extra></extra>",
        ),
        go.Scatter(
            x=x[off], y=y[off], mode="markers", customdata=off, name="off",
            marker={"size": size, **_CROSS},
            selected={"marker": {"opacity": 1.0}}, unselected={"marker": {"opacity": 1.0}},
            hovertemplate=_("unit {unit}: switched off (click to switch it on)").format(unit="%{customdata}")
            + "<extra></extra>",
        ),
    ]  # fmt: skip
    layout = {
        "title": title, "height": int(50 + extra_lines * 20 + rows * cell), "showlegend": False,
        "margin": {"l": 10, "r": 10, "t": 40 + extra_lines * 20, "b": 10},
        # square cells: the axis with room to spare gets a narrower domain, the ranges stay as given
        "xaxis": {"visible": False, "range": [-0.5, cols - 0.5], "fixedrange": True, "constrain": "domain"},
        "yaxis": {"visible": False, "range": [rows - 0.5, -0.5], "scaleanchor": "x", "fixedrange": True,
                  "constrain": "domain"},
        "clickmode": "event+select", "dragmode": False, "hovermode": "closest",
    }  # fmt: skip
    return go.Figure(data=traces, layout=layout)


def clicked_unit(points: list[dict]) -> int | None:
    """The unit of a click on ``switch_grid_figure`` (None for anything else)."""
    if not points:
        return None
    data = points[0].get("customdata")
    if isinstance(data, list | tuple):
        data = data[0] if data else None
    return int(data) if isinstance(data, int | float) else None


def mark_grid(figure: go.Figure, off: Iterable[int], cells: int, units: int) -> go.Figure:
    """Crosses over the switched-off units of a layer grid of ``cells`` squares
    (``inside_figures.unit_grid_figure``); a conv layer's grid has a square per position and channel
    (channels last), so each of its ``units`` channels switched off is crossed at every position."""
    off = np.asarray(sorted(off), np.int64)
    if off.size:
        x, y, _rows, _cols = _cells(cells)
        chosen = (np.arange(cells // units)[:, None] * units + off[None, :]).ravel()
        figure.add_trace(
            go.Scatter(x=x[chosen], y=y[chosen], mode="markers", customdata=chosen % units,
                       marker={"size": 9 if units == cells else 5, **_CROSS}, showlegend=False,
                       hovertemplate=_("unit {unit}: switched off").format(unit="%{customdata}")
                       + "<extra></extra>")
        )  # fmt: skip
    return figure


def mark_maps(figure: go.Figure, off: Iterable[int], shape: tuple[int, int, int]) -> go.Figure:
    """Each switched-off channel's map in ``conv_figures.maps_figure`` (a conv layer's maps, ``shape``: height,
    width, channels) dimmed, crossed out corner to corner and labelled "off", as ``mark_grid`` crosses out
    Dense units; hovering the label says which channel it is. Shapes and labels, drawn above the maps in
    that order (a trace would be under the dimming)."""
    h, w, channels = shape
    cross = {"type": "line", "layer": "above", "line": {"width": 2, "color": OFF_COLOUR}}
    for channel in sorted(off):
        left, top = (float(corner[0]) for corner in map_corners([channel], maps_columns(channels), h, w))
        right, bottom = left + w, top + h
        figure.add_shape(type="rect", x0=left, y0=top, x1=right, y1=bottom, layer="above", line={"width": 0},
                         fillcolor="rgba(255, 255, 255, 0.6)")  # fmt: skip
        figure.add_shape(x0=left, y0=top, x1=right, y1=bottom, **cross)
        figure.add_shape(x0=left, y0=bottom, x1=right, y1=top, **cross)
        figure.add_annotation(x=(left + right) / 2, y=top + h / 4, text=_("off"), showarrow=False,
                              font={"color": OFF_COLOUR, "size": 13}, bgcolor="white",
                              hovertext=_("channel {channel}: switched off").format(channel=channel))  # fmt: skip
    return figure


def mark_diagram(figure: go.Figure, column: int, off: Iterable[int]) -> go.Figure:
    """Crosses over the switched-off units of one column of ``inside_figures.network_figure`` (column 0 is
    the input's pixels, an image, 1 the first layer): found by the ``[column, unit]`` customdata of its dots."""
    off = np.asarray(sorted(off), np.int64)
    for trace in [t for t in figure.data if t.type == "scatter" and t.mode == "markers"]:  # not the input's image
        data = np.asarray(trace.customdata) if trace.customdata is not None else None
        if off.size and data is not None and data.ndim == 2 and data[0, 0] == column:
            x, y = np.asarray(trace.x)[off], np.asarray(trace.y)[off]
            figure.add_trace(
                go.Scatter(x=x, y=y, mode="markers", marker={"size": 10, **_CROSS}, showlegend=False,
                           hovertemplate=_("switched off") + "<extra></extra>")
            )  # fmt: skip
    return figure


def importance_figure(ranking: UnitImportance, metric: Metric, top: int, height: int) -> go.Figure:
    """The ``top`` units that matter most as bars: how much worse the score gets with each one off alone, in
    accuracy points, or for an error in percent of the unchanged model's error (its raw rise is tiny)."""
    chosen = ranking.ranked()[:top]
    if metric.higher_is_better:
        scale, what = 100.0, _("accuracy points lost")
        shown = _("accuracy {score}%, {drop} points lower").format(score="%{customdata[1]:.1f}", drop="%{x:.2f}")
    else:
        scale = 100.0 / max(abs(ranking.baseline), 1e-12)
        what = _("error larger by (%)")
        shown = _("error {score}, {drop}% larger").format(score="%{customdata[1]:.5f}", drop="%{x:.2f}")
    scores = ranking.scores[chosen] * (100.0 if metric.higher_is_better else 1.0)
    figure = go.Figure(
        go.Bar(
            x=ranking.drops[chosen] * scale, y=[_("unit {unit}").format(unit=u) for u in chosen], orientation="h",
            marker={"color": "#2f6db3"}, customdata=np.column_stack([chosen, scores]),
            hovertemplate=_("unit {unit} off: {change}").format(unit="%{customdata[0]}", change=shown)
            + "<extra></extra>",
        )
    )  # fmt: skip
    # room for the longest label ("unit 4095", wider in kana) in presenter mode's larger tick labels, which plotly
    # does not measure: about 9 pixels per Latin letter or digit, twice that per wide (CJK) character
    labels = figure.data[0].y
    widest = max((sum(2 if east_asian_width(c) in "WF" else 1 for c in label) for label in labels), default=0)
    figure.update_layout(
        height=height, margin={"l": max(90, 9 * widest + 10), "r": 10, "t": 30, "b": 40},
        xaxis={"title": what}, yaxis={"autorange": "reversed", "type": "category"},
        title=_("The {count} units of {total:,} that matter most").format(count=len(chosen), total=ranking.drops.size),
    )  # fmt: skip
    return figure


def pruning_figure(curve: PruningCurve, metric: Metric, height: int) -> go.Figure:
    """Score against the number of units kept: the strongest (largest outgoing weights) and random ones."""
    scale = 100.0 if metric.higher_is_better else 1.0
    suffix = "%" if metric.higher_is_better else ""
    figure = go.Figure(
        [
            go.Scatter(x=curve.kept, y=curve.largest * scale, mode="lines+markers", name=_("the strongest k"),
                       line={"color": "#2f6db3"}),
            go.Scatter(x=curve.kept, y=curve.random * scale, mode="lines+markers",
                       name=_("k random (mean of {draws})").format(draws=curve.draws),
                       line={"color": "#d1453b", "dash": "dot"}),
        ]
    )  # fmt: skip
    figure.update_traces(hovertemplate=_("{kept} units kept: {score}").format(kept="%{x}", score="%{y:.2f}" + suffix))
    ticks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096) if k < curve.kept[0] / 1.4]
    ticks.append(int(curve.kept[0]))
    figure.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis={"title": _("units kept (the others switched off)"), "type": "log", "autorange": "reversed",
               "tickvals": ticks, "ticktext": [str(k) for k in ticks]},
        yaxis={"title": _(metric.label) + (" (%)" if suffix else "")},
        legend={"orientation": "h", "y": -0.3},
    )  # fmt: skip
    return figure
