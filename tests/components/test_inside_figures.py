"""The Inside page's figures: compact unit grids, the network diagram's dots and weight lines, and
reading a clicked unit back from a selection event."""

from __future__ import annotations

import numpy as np

from components.inside_figures import WIDTHS, DiagramLayer, clicked_unit, network_figure, unit_grid_figure
from core.inside import strongest_connections


def test_a_layer_is_a_compact_grid_with_empty_cells_after_its_last_unit():
    values = np.arange(97, dtype=np.float32) / 10
    trace = unit_grid_figure(values, "layer 1").data[0]
    z = np.asarray(trace.z)
    assert z.shape == (7, 14)
    np.testing.assert_allclose(z.ravel()[:97], values)
    assert np.isnan(z.ravel()[97:]).all()
    assert np.asarray(trace.customdata)[2, 3] == 2 * 14 + 3  # hover: "unit 31: 3.10"
    assert trace.hovertemplate.startswith("unit %{customdata}: %{z:.2f}")
    assert trace.zmin == 0.0 and trace.colorscale[0][1] != trace.colorscale[-1][1]
    signed = unit_grid_figure(np.array([-2.0, 1.0]), "code").data[0]
    assert (signed.zmin, signed.zmax) == (-2.0, 2.0)  # white at 0 for values of both signs


def test_the_diagram_draws_every_unit_and_each_chosen_weight_once_coloured_by_sign():
    rng = np.random.default_rng(0)
    kernels = [rng.normal(size=(16, 8)), rng.normal(size=(8, 3))]
    links = [strongest_connections(k, 20) for k in kernels]
    layers = [
        DiagramLayer("input", rng.random(16)),
        DiagramLayer("layer 1", rng.random(8)),
        DiagramLayer("output", rng.normal(size=3)),
    ]
    figure = network_figure(layers, links)
    pixels = [t for t in figure.data if t.type == "heatmap"]
    assert len(pixels) == 1  # the input is one image: its 16 pixels, each once, where the lines start
    z, numbers = np.asarray(pixels[0].z), np.asarray(pixels[0].customdata)
    np.testing.assert_array_equal(np.sort(numbers.ravel()), np.arange(16))
    np.testing.assert_allclose(z[numbers == 6], layers[0].values[6:7].astype(np.float32))
    dots = [t for t in figure.data if t.type == "scatter" and t.mode == "markers"]
    assert [len(t.x) for t in dots] == [8, 3]
    np.testing.assert_array_equal(np.asarray(dots[0].customdata)[5], [1, 5])
    lines = [t for t in figure.data if t.type == "scatter" and t.mode == "lines"]
    starts = np.concatenate([np.column_stack([t.x, t.y]).astype(np.float64)[::3] for t in lines])
    cells = [np.argwhere(numbers == pixel)[0] for pixel in links[0].sources]
    centres = {(round(pixels[0].x[c], 9), round(pixels[0].y[r], 9)) for r, c in cells}
    assert {(round(x, 9), round(y, 9)) for x, y in starts if x < 1} == centres  # each pixel's lines start on it
    blue = sum(len(t.x) // 3 for t in lines if t.line.color == "#2f6db3")
    red = sum(len(t.x) // 3 for t in lines if t.line.color == "#d1453b")
    chosen = np.concatenate([link.weights for link in links])
    assert (blue, red) == ((chosen > 0).sum(), (chosen < 0).sum())
    assert {t.line.width for t in lines} <= set(WIDTHS) and len({t.line.width for t in lines}) == len(WIDTHS)
    strongest = max(lines, key=lambda t: t.line.width)
    weakest = min(lines, key=lambda t: t.line.width)
    assert strongest.line.width > weakest.line.width
    notes = [a.text for a in figure.layout.annotations]
    assert (
        "showing the 20 strongest<br>of 128 weights" in notes and "showing the 20 strongest<br>of 24 weights" in notes
    )


def test_a_clicked_unit_is_read_from_either_form_of_the_selection_event():
    assert clicked_unit({"customdata": [2, 37]}) == (2, 37)
    assert clicked_unit({"customdata": {"0": 2, "1": 37}}) == (2, 37)
    assert clicked_unit({"customdata": "2,37"}) is None
    assert clicked_unit({}) is None
