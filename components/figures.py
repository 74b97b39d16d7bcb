"""Figure builders: plain data in, ``plotly.graph_objects.Figure`` out. No streamlit here,
so tests can check the traces and the benchmark can time them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from components.i18n import N_, _, ngettext
from components.words import activation_name, figure_text
from core import models
from core.spec import ModelSpec
from core.training.history import EpochMetrics, downsample_curve
from core.training.sweep_results import SweepRun, WidthSummary
from core.training.sweep_settings import SETTINGS, WIDTH, SweptSetting
from core.variables import VariableRow, value_histogram

ROLE_COLOURS = {
    "input": "#9e9e9e",
    "hidden": "#4c78a8",
    "code": "#f58518",
    "output": "#54a24b",
    "reconstruction": "#54a24b",
}
QUALITATIVE = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
]
#: Chart text: the dashboard's own font, then fonts with kana and kanji for Japanese (Debian's
#: fonts-noto-cjk, macOS, Windows), then any sans-serif: a browser takes each character from the first
#: font that has it, so Latin text keeps its look and Japanese never shows as empty boxes.
FONT_FAMILY = (
    '"Source Sans", "Source Sans Pro", "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", '
    '"Hiragino Kaku Gothic ProN", "Yu Gothic", Meiryo, sans-serif'
)
pio.templates["dashboard"] = go.layout.Template(layout={"font": {"family": FONT_FAMILY}})
pio.templates.default = "plotly+dashboard"  # every figure made from now on, whichever module builds it
MAX_CURVE_POINTS = 1500
#: margins of the curves a live run panel draws anew every second, fixed at what plotly's automatic
#: margins came to for them (tick labels, axis titles, the legend below) with room to spare: automatic
#: margins draw a figure, measure it and draw it again, about a third of each redraw in the browser
LIVE_MARGINS = {
    "loss": {"l": 76, "r": 10, "t": 10, "b": 96, "autoexpand": False},
    "accuracy": {"l": 76, "r": 10, "t": 18, "b": 68, "autoexpand": False},
    "generalisation": {"l": 48, "r": 10, "t": 24, "b": 88, "autoexpand": False},
}


def _layout(fig: go.Figure, title: str | None = None, height: int = 360, **kwargs) -> go.Figure:
    settings = {
        "title": title,
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        "legend": {"orientation": "h", "y": -0.2},
    }
    fig.update_layout(**{**settings, **kwargs})
    return fig


def _live_layout(fig: go.Figure, kind: str, height: int) -> go.Figure:
    """The layout of a curve redrawn every second: fixed margins (``LIVE_MARGINS``), and tick labels that
    are never measured to hide those past the figure's edge (plotly measures every label of an axis for
    each label it places, a quarter of a live panel's plotly time in Chromium's profiler; inside the
    fixed margins none pass the edge)."""
    fig.update_xaxes(ticklabeloverflow="allow")
    fig.update_yaxes(ticklabeloverflow="allow")
    return _layout(fig, height=height, margin=LIVE_MARGINS[kind])


# ----- the model ------------------------------------------------------------------------


def stack_figure(spec: ModelSpec, height: int = 340) -> go.Figure:
    """The layer stack drawn to scale: one bar per layer, its height the number of units."""
    names, widths, colours = [_("input") + "<br>28x28"], [spec.input_size], [ROLE_COLOURS["input"]]
    hovers = [_("input: {pixels} pixels (28x28 image, flattened)").format(pixels=spec.input_size)]
    for i, dense in enumerate(models.dense_layers(spec)):
        role = dense.role
        label = {"code": _("code"), "output": _("output"), "reconstruction": _("output")}.get(role)
        label = label or _("layer {number}").format(number=i + 1)
        names.append(f"{label}<br>{activation_name(dense.activation)}")
        widths.append(dense.outputs)
        colours.append(ROLE_COLOURS[role])
        hovers.append(
            _(
                "{path}: {inputs:,} -> {outputs:,} units, {activation}<br>"
                "{parameters:,} parameters = {inputs:,} x {outputs:,} weights + {outputs:,} biases"
            ).format(
                path=dense.path,
                inputs=dense.inputs,
                outputs=dense.outputs,
                activation=dense.activation,
                parameters=dense.parameters,
            )
        )
    fig = go.Figure(
        go.Bar(
            x=list(range(len(widths))),
            y=widths,
            base=[-w / 2 for w in widths],
            marker_color=colours,
            text=[f"{w:,}" for w in widths],
            textposition="outside",
            hovertext=hovers,
            hoverinfo="text",
            width=0.6,
        )
    )
    fig.update_xaxes(tickvals=list(range(len(widths))), ticktext=names)
    top = max(widths) / 2
    fig.update_yaxes(visible=False, range=[-top * 1.15, top * 1.25])
    return _layout(fig, height=height, showlegend=False, bargap=0.3)


def parameter_figure(spec: ModelSpec, height: int = 260) -> go.Figure:
    """Parameters per Dense layer (weights + biases)."""
    dense = models.dense_layers(spec)
    fig = go.Figure(
        go.Bar(
            x=[d.path for d in dense],
            y=[d.parameters for d in dense],
            marker_color=[ROLE_COLOURS[d.role] for d in dense],
            text=[f"{d.parameters:,}" for d in dense],
            textposition="auto",
            hovertemplate=_("{layer}: {count} parameters").format(layer="%{x}", count="%{y:,}") + "<extra></extra>",
        )
    )
    fig.update_yaxes(title=_("parameters"))
    return _layout(fig, height=height, showlegend=False)


def treemap_figure(rows: Sequence[VariableRow], height: int = 420) -> go.Figure:
    """Parameter counts as nested boxes: collection -> module(s) -> kernel/bias."""
    ids, labels, parents, values = [], [], [], []
    totals: dict[str, int] = {}
    for row in rows:
        parts = row.path.split("/")
        for depth in range(1, len(parts)):
            totals["/".join(parts[:depth])] = totals.get("/".join(parts[:depth]), 0) + row.size
    for node, total in totals.items():
        ids.append(node)
        labels.append(node.rsplit("/", 1)[-1])
        parents.append(node.rsplit("/", 1)[0] if "/" in node else "")
        values.append(total)
    for row in rows:
        ids.append(row.path)
        labels.append(f"{row.name} {'x'.join(map(str, row.shape))}")
        parents.append(row.path.rsplit("/", 1)[0])
        values.append(row.size)
    fig = go.Figure(
        go.Treemap(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="total",
            texttemplate="%{label}<br>%{value:,}",
            hovertemplate=_("{name}<br>{count} parameters ({share} of all)").format(
                name="%{id}", count="%{value:,}", share="%{percentRoot:.1%}"
            )
            + "<extra></extra>",
        )
    )
    return _layout(fig, height=height)


def _block_sizes(shape: tuple[int, int], max_side: int = 200) -> tuple[int, int]:
    """How many rows and columns of a matrix each heatmap cell averages (1 x 1 when it is small enough)."""
    return -(-shape[0] // max_side), -(-shape[1] // max_side)


def _shrink(matrix: np.ndarray, max_side: int = 200) -> np.ndarray:
    """Average-pool a big matrix so a heatmap stays light (784x4096 -> about 200x200)."""
    rows, cols = _block_sizes(matrix.shape, max_side)
    if rows == 1 and cols == 1:
        return matrix
    padded = np.pad(matrix, ((0, (-matrix.shape[0]) % rows), (0, (-matrix.shape[1]) % cols)), constant_values=np.nan)
    return np.nanmean(padded.reshape(padded.shape[0] // rows, rows, padded.shape[1] // cols, cols), axis=(1, 3))


def kernel_heatmap(kernel: np.ndarray, title: str, height: int = 420) -> go.Figure:
    """A weight matrix as colours: red positive, blue negative (inputs down, units across).

    A big matrix is averaged in blocks; each cell then sits at the real input and unit numbers it
    covers, and its hover names that range, so the axes end at the matrix's true size."""
    kernel = np.asarray(kernel, np.float32)
    shown = _shrink(kernel)
    rows, cols = _block_sizes(kernel.shape)
    limit = float(np.nanmax(np.abs(shown))) or 1.0
    first_input = np.arange(shown.shape[0]) * rows
    first_unit = np.arange(shown.shape[1]) * cols
    if rows == 1 and cols == 1:
        hover = _("input {input}, unit {unit}: {value}").format(input="%{y}", unit="%{x}", value="%{z:.4f}")
        hover, customdata = hover + "<extra></extra>", None
    else:
        last_input = np.minimum(first_input + rows, kernel.shape[0]) - 1
        last_unit = np.minimum(first_unit + cols, kernel.shape[1]) - 1
        customdata = np.stack(
            np.broadcast_arrays(first_input[:, None], last_input[:, None], first_unit[None, :], last_unit[None, :]),
            axis=-1,
        )
        hover = _("inputs {inputs}, units {units}: average of {count} weights {value}").format(
            inputs="%{customdata[0]}-%{customdata[1]}", units="%{customdata[2]}-%{customdata[3]}",
            count=rows * cols, value="%{z:.4f}",
        ) + "<extra></extra>"  # fmt: skip
    fig = go.Figure(
        go.Heatmap(
            z=shown,
            x=first_unit + (cols - 1) / 2,
            y=first_input + (rows - 1) / 2,
            customdata=customdata,
            colorscale="RdBu_r",
            zmid=0,
            zmin=-limit,
            zmax=limit,
            hovertemplate=hover,
        )
    )
    if rows == 1 and cols == 1:
        y_title = _("input (0 to {last:,})").format(last=kernel.shape[0] - 1)
    else:
        y_title = _("input (0 to {last:,}) (each square: {rows} x {cols} weights averaged)").format(
            last=kernel.shape[0] - 1, rows=rows, cols=cols
        )
    fig.update_yaxes(autorange="reversed", title=y_title)
    fig.update_xaxes(title=_("unit (0 to {last:,})").format(last=kernel.shape[1] - 1))
    return _layout(fig, title, height=height)


def receptive_fields(kernel: np.ndarray, units: int = 16) -> np.ndarray:
    """The first layer's weights into each of ``units`` units, as 28x28 images tiled in a grid."""
    count = min(units, kernel.shape[1])
    cols = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / cols))
    grid = np.full((rows * 29 - 1, cols * 29 - 1), np.nan, np.float32)
    for unit in range(count):
        r, c = divmod(unit, cols)
        grid[r * 29 : r * 29 + 28, c * 29 : c * 29 + 28] = kernel[:, unit].reshape(28, 28)
    return grid


def receptive_field_figure(kernel: np.ndarray, units: int = 16, height: int = 420) -> go.Figure:
    grid = receptive_fields(np.asarray(kernel, np.float32), units)
    limit = float(np.nanmax(np.abs(grid))) or 1.0
    fig = go.Figure(
        go.Heatmap(z=grid, colorscale="RdBu_r", zmid=0, zmin=-limit, zmax=limit, hoverinfo="skip", showscale=True)
    )
    fig.update_yaxes(autorange="reversed", visible=False, scaleanchor="x")
    fig.update_xaxes(visible=False)
    return _layout(fig, height=height)


def histogram_figure(values: np.ndarray, title: str, height: int = 300) -> go.Figure:
    """Bars of ``core.variables.value_histogram``: the counts are computed here, so the chart carries
    60 numbers whatever the size of the array (plotly's own histogram would send every value)."""
    hist = value_histogram(values)
    centres, widths = (hist.edges[:-1] + hist.edges[1:]) / 2, np.diff(hist.edges)
    fig = go.Figure(go.Bar(
        x=centres, y=hist.counts, width=widths, marker_color=ROLE_COLOURS["hidden"],
        customdata=np.stack([hist.edges[:-1], hist.edges[1:]], axis=1),
        hovertemplate=_("{count} values from {low} to {high}").format(
            count="%{y:,}", low="%{customdata[0]:.4f}", high="%{customdata[1]:.4f}") + "<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(bargap=0)
    fig.update_xaxes(title=_("value"))
    fig.update_yaxes(title=_("how many"))
    return _layout(fig, title, height=height, showlegend=False)


# ----- training curves ------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """One run's curves: per-step train loss and per-epoch test metrics."""

    name: str
    step_losses: np.ndarray
    epoch_steps: Sequence[int]
    test_losses: Sequence[float]
    test_accuracies: Sequence[float | None]
    #: (step, new learning rate) where a presenter changed the rate while it trained
    rate_changes: Sequence[tuple[int, float]] = ()


def loss_figure(curves: Sequence[Curve], y_title: str, height: int = 380) -> go.Figure:
    """Train loss per step (averaged into at most 1,500 points) and test loss per epoch, per run."""
    fig = go.Figure()
    for i, curve in enumerate(curves):
        colour = QUALITATIVE[i % len(QUALITATIVE)]
        steps, losses = downsample_curve(curve.step_losses, MAX_CURVE_POINTS)
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=losses,
                mode="lines",
                name=_("{run}: train").format(run=curve.name),
                line={"color": colour, "width": 1.5},
                hovertemplate=_("step {step}: train loss {loss}").format(step="%{x:,}", loss="%{y:.4f}")
                + "<extra></extra>",
            )
        )
        if len(curve.epoch_steps):
            fig.add_trace(
                go.Scatter(
                    x=list(curve.epoch_steps),
                    y=list(curve.test_losses),
                    mode="lines+markers",
                    name=_("{run}: test").format(run=curve.name),
                    line={"color": colour, "dash": "dash"},
                    marker={"size": 7},
                    hovertemplate=_("step {step}: test loss {loss}").format(step="%{x:,}", loss="%{y:.4f}")
                    + "<extra></extra>",
                )
            )
        for step, rate in curve.rate_changes:
            fig.add_vline(
                x=step, line={"color": colour, "dash": "dot", "width": 1},
                annotation={"text": _("learning rate {rate:g}").format(rate=rate), "textangle": -90,
                            "font": {"size": 11}},
            )  # fmt: skip
    fig.update_xaxes(title=_("training step (one batch each)"))
    fig.update_yaxes(title=y_title, rangemode="tozero")
    return _live_layout(fig, "loss", height)


def accuracy_figure(curves: Sequence[Curve], height: int = 300) -> go.Figure:
    fig = go.Figure()
    for i, curve in enumerate(curves):
        points = [(s, a) for s, a in zip(curve.epoch_steps, curve.test_accuracies, strict=True) if a is not None]
        steps, accuracies = [s for s, _a in points], [a * 100 for _s, a in points]
        if not points:
            continue
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=accuracies,
                mode="lines+markers",
                name=curve.name,
                line={"color": QUALITATIVE[i % len(QUALITATIVE)]},
                hovertemplate=_("step {step}: {accuracy} correct").format(step="%{x:,}", accuracy="%{y:.1f}%")
                + "<extra></extra>",
            )
        )
    fig.update_xaxes(title=_("training step"))
    fig.update_yaxes(title=_("test accuracy (%)"), range=[0, 100])
    return _live_layout(fig, "accuracy", height)


GAP_FILL = "rgba(228, 87, 86, 0.18)"


def generalisation_figure(epochs: Sequence[EpochMetrics], loss_title: str, height: int = 340) -> go.Figure:
    """Train and test per epoch side by side (loss; and accuracy for a classifier), the gap between
    them shaded. Epochs without a train measurement (runs saved before it existed) are left out."""
    measured = [e for e in epochs if e.train_eval_loss is not None]
    accuracy = bool(measured) and measured[0].test_accuracy is not None
    panels = [(loss_title, "train_eval_loss", "test_loss", 1.0, ".4f")]
    if accuracy:
        panels.append((_("accuracy (%)"), "train_eval_accuracy", "test_accuracy", 100.0, ".1f"))
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for title, *_ in panels])
    x = [e.epoch for e in measured]
    for col, (title, train_key, test_key, scale, fmt) in enumerate(panels, start=1):
        what = title.split(" (")[0]
        lines = (
            (N_("train images"), N_("epoch {epoch}: {what} on the train images {value}"), train_key, "solid", None),
            (N_("test images"), N_("epoch {epoch}: {what} on the test images {value}"), test_key, "dash", "tonexty"),
        )
        for name, hover, key, dash, fill in lines:
            fig.add_trace(
                go.Scatter(
                    x=x, y=[getattr(e, key) * scale for e in measured], mode="lines+markers", name=_(name),
                    line={"color": QUALITATIVE[0 if key == train_key else 1], "dash": dash}, fill=fill,
                    fillcolor=GAP_FILL, legendgroup=name, showlegend=col == 1,
                    hovertemplate=_(hover).format(epoch="%{x}", what=what, value=f"%{{y:{fmt}}}") + "<extra></extra>",
                ),
                row=1, col=col,
            )  # fmt: skip
        fig.update_xaxes(title=_("epoch"), row=1, col=col, dtick=max(1, len(x) // 10) if x else 1)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    if accuracy:
        fig.update_yaxes(range=[0, 100], row=1, col=2)
    return _live_layout(fig, "generalisation", height)


# ----- results --------------------------------------------------------------------------


def shown_names(class_names: Sequence[str]) -> list[str]:
    """Class names (a visitor's folder names, maybe) as a figure shows them: as typed (``figure_text``), one
    category each even where two are cut to the same text (a zero-width space keeps them apart)."""
    shown: list[str] = []
    for name in class_names:
        text = figure_text(name)
        while text in shown:
            text += "\u200b"
        shown.append(text)
    return shown


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str], height: int = 460) -> go.Figure:
    """Rows: the true class; columns: what the model said. The diagonal is right."""
    confusion = np.asarray(confusion)
    names = shown_names(class_names)
    fig = go.Figure(
        go.Heatmap(
            z=confusion,
            x=names,
            y=names,
            colorscale="Blues",
            text=confusion,
            texttemplate="%{text}",
            hovertemplate=_("true {true}, predicted {predicted}: {count} images").format(
                true="%{y}", predicted="%{x}", count="%{z}"
            )
            + "<extra></extra>",
            showscale=False,
        )
    )
    # invisible markers on every cell: plotly selects points, not heatmap cells, so clicks land here
    fig.add_trace(
        go.Scatter(
            x=[p for _ in names for p in names],
            y=[t for t in names for _ in names],
            customdata=[[t, p] for t in range(len(names)) for p in range(len(names))],
            mode="markers",
            marker={"size": 28, "opacity": 0.01, "color": "#000000"},
            hoverinfo="none",  # "skip" would also swallow the clicks
            showlegend=False,
        )
    )
    fig.update_xaxes(title=_("predicted"), type="category")
    fig.update_yaxes(title=_("true"), autorange="reversed", type="category")
    return _layout(fig, height=height, clickmode="event+select")


def probability_figure(probabilities: np.ndarray, class_names: Sequence[str], height: int = 260) -> go.Figure:
    probabilities = np.asarray(probabilities, np.float64)
    best = int(np.argmax(probabilities))
    fig = go.Figure(
        go.Bar(
            x=shown_names(class_names),
            y=probabilities * 100,
            marker_color=[
                ROLE_COLOURS["output"] if i == best else ROLE_COLOURS["input"] for i in range(len(class_names))
            ],
            text=[f"{p:.0%}" for p in probabilities],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1f}%<extra></extra>",
        )
    )
    fig.update_yaxes(title=_("probability (%)"), range=[0, 110])
    fig.update_xaxes(type="category")
    return _layout(fig, height=height, showlegend=False)


def latent_figure(
    points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], axis_titles: tuple[str, str], height: int = 480
) -> go.Figure:
    """Test images as points in the 2-D code space, coloured by their true class."""
    fig = go.Figure()
    for cls, name in enumerate(shown_names(class_names)):
        mask = labels == cls
        if not mask.any():
            continue
        fig.add_trace(
            go.Scatter(
                x=points[mask, 0],
                y=points[mask, 1],
                mode="markers",
                name=name,
                marker={"size": 6, "color": QUALITATIVE[cls % len(QUALITATIVE)], "opacity": 0.75},
                customdata=np.flatnonzero(mask),
                hovertemplate="%{fullData.name}<br>(%{x:.2f}, %{y:.2f})<extra></extra>",
            )
        )
    fig.update_xaxes(title=axis_titles[0])
    fig.update_yaxes(title=axis_titles[1])
    return _layout(fig, height=height, legend={"orientation": "v"})


# ----- width sweeps ---------------------------------------------------------------------------


def _width_colours(widths: Sequence[int]) -> dict[int, str]:
    """One colour per width along a sequential scale: the wider the model, the darker."""
    from plotly.colors import sample_colorscale

    ordered = sorted(set(widths))
    positions = [0.5] if len(ordered) == 1 else list(np.linspace(0.85, 0.0, len(ordered)))
    return dict(zip(ordered, sample_colorscale("Viridis", positions), strict=True))


def swept_value(swept: SweptSetting, value: float) -> str:
    """``"width 64"``, ``"share of the training images 5%"``, ``"L2 penalty 0.001"``."""
    return _("{setting} {value}").format(setting=_(swept.label), value=swept.format(value))


def sweep_figure(
    runs: Sequence[SweepRun], summaries: Sequence[WidthSummary], score_title: str, height: int = 420,
    swept: SweptSetting = SETTINGS[WIDTH],
) -> go.Figure:  # fmt: skip
    """Width sweep: test score (left) and final training loss (right) against parameter count, on
    a log axis. A training setting (share of the images, L2): test score (left) and the gap between
    training and test images (right) against the setting's values, in order.

    Per value: the mean over seeds with an error bar of one standard deviation. Every run is
    also a point whose ``customdata`` is its index in ``runs``, so clicking it can pick its value's kept model.
    """
    accuracy = bool(runs) and runs[0].test_accuracy is not None
    by_size = swept.changes_model
    gap_title = _("gap: training images − test images") if accuracy else _("gap: test loss − training-images loss")
    right = _("final training loss") if by_size else gap_title
    fig = make_subplots(rows=1, cols=2, subplot_titles=(score_title, right), horizontal_spacing=0.1)
    fmt = ".1%" if accuracy else ".4f"
    second = (
        ([s.train_loss_mean for s in summaries], [s.train_loss_std for s in summaries], [r.train_loss for r in runs])
        if by_size
        else ([s.gap_mean for s in summaries], [s.gap_std for s in summaries], [r.gap for r in runs])
    )
    panels = (
        ([s.score_mean for s in summaries], [s.score_std for s in summaries], [r.score for r in runs], fmt),
        (*second, ".4f" if by_size or not accuracy else ".1%"),
    )
    for col, panel in enumerate(panels, start=1):
        _sweep_panel(fig, col, panel, runs, summaries, swept)
    if by_size:
        fig.update_xaxes(type="log", title=_("parameters (log scale)"))
    else:
        fig.update_xaxes(type="category", title=_(swept.label))
    if accuracy:
        fig.update_yaxes(tickformat=".0%", row=1, col=1)
        if not by_size:
            fig.update_yaxes(tickformat=".0%", row=1, col=2)
    margin = {"l": 10, "r": 10, "t": 40, "b": 10}  # room for the panel titles
    return _layout(fig, height=height, clickmode="event+select", margin=margin)


def _sweep_panel(
    fig: go.Figure, col: int, panel: tuple, runs: Sequence[SweepRun], summaries: Sequence[WidthSummary],
    swept: SweptSetting,
) -> None:  # fmt: skip
    """One panel of ``sweep_figure``: the mean over seeds per value with its error bar, and every run as a point."""
    means, stds, values, number = panel
    by_size = swept.changes_model
    x = [s.parameter_count if by_size else swept.format(s.value) for s in summaries]
    run_x = [r.parameter_count if by_size else swept.format(r.value) for r in runs]
    run_names = [_("{value}, seed {seed}").format(value=swept_value(swept, r.value), seed=r.seed) for r in runs]
    hover = [
        ngettext(
            "{value} ({parameters:,} parameters)<br>mean of {seeds} seed: {mean} ± {std}",
            "{value} ({parameters:,} parameters)<br>mean of {seeds} seeds: {mean} ± {std}",
            len(s.seeds),
        ).format(
            value=swept_value(swept, s.value),
            parameters=s.parameter_count,
            seeds=len(s.seeds),
            mean=f"{m:{number}}",
            std=f"{d:{number}}",
        )
        for s, m, d in zip(summaries, means, stds, strict=True)
    ]
    fig.add_trace(
        go.Scatter(
            x=x, y=means, error_y={"type": "data", "array": stds, "visible": True}, mode="lines+markers",
            name=_("mean over seeds (bar: ± 1 std)"), legendgroup="mean", showlegend=col == 1,
            line={"color": QUALITATIVE[0]}, marker={"size": 8}, text=hover, hovertemplate="%{text}<extra></extra>",
        ),
        row=1, col=col,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=run_x, y=values, mode="markers", name=_("one model (click to use its best seed)"), legendgroup="runs",
            showlegend=col == 1, customdata=list(range(len(runs))), text=run_names,
            marker={"size": 10, "color": QUALITATIVE[1], "opacity": 0.55, "line": {"width": 1, "color": "white"}},
            hovertemplate="%{text}" + (_("<br>{count} parameters: {score}").format(
                count="%{x:,}", score=f"%{{y:{number}}}") if by_size else f": %{{y:{number}}}") + "<extra></extra>",
        ),
        row=1, col=col,
    )  # fmt: skip


def sweep_curves_figure(
    runs: Sequence[SweepRun],
    y_title: str,
    live: dict[int, np.ndarray] | None = None,
    live_width: float | None = None,
    height: int = 380,
    swept: SweptSetting = SETTINGS[WIDTH],
) -> go.Figure:
    """The training loss of every model of a sweep overlaid (log scale), coloured by the swept value
    (a width: the wider, the darker); ``live`` holds the curves of the value being trained (seed ->
    step losses), drawn dashed."""
    live = live or {}
    widths = [r.width for r in runs] + ([live_width] if live_width is not None and live else [])
    colours = _width_colours(widths)
    per_curve = max(100, MAX_CURVE_POINTS // max(len(runs) + len(live), 1))
    curves = [(r.width, r.seed, r.result.history.step_losses, False) for r in runs]
    curves += [(live_width, seed, losses, True) for seed, losses in live.items()]
    fig, named = go.Figure(), set()
    for width, seed, losses, training in curves:
        steps, values = downsample_curve(losses, per_curve)
        fig.add_trace(
            go.Scatter(
                x=steps, y=values, mode="lines", name=_("{value} (training)").format(value=swept_value(swept, width))
                if training else swept_value(swept, width),
                legendgroup=f"{width}", showlegend=(width, training) not in named,
                line={"color": colours[width], "width": 1.3, "dash": "dash" if training else "solid"},
                hovertemplate=_("{value}, seed {seed}<br>step {step}: loss {loss}").format(
                    value=swept_value(swept, width), seed=seed, step="%{x:,}", loss="%{y:.4f}") + "<extra></extra>",
            )
        )  # fmt: skip
        named.add((width, training))
    fig.update_xaxes(title=_("training step"))
    fig.update_yaxes(title=_("training loss ({loss}, log scale)").format(loss=y_title), type="log")
    return _layout(fig, height=height, legend={"orientation": "v"})
