"""Figure builders are pure: check the traces they produce from real model data."""

import numpy as np
import pytest

from components import figures
from components.images import tile, to_uint8
from core import models
from core.spec import ModelSpec
from core.training.history import downsample_curve
from core.variables import variable_rows


def test_stack_is_drawn_to_scale():
    spec = ModelSpec.autoencoder((256, 64, 16), (64, 256))
    bar = figures.stack_figure(spec).data[0]
    assert list(bar.y) == [784, 256, 64, 16, 64, 256, 784]
    assert list(bar.base) == [-w / 2 for w in bar.y]  # centred: heights are the widths
    assert bar.marker.color[3] == figures.ROLE_COLOURS["code"]


def test_parameter_bars_match_the_spec():
    spec = ModelSpec.mlp((512, 256))
    bar = figures.parameter_figure(spec).data[0]
    assert list(bar.y) == [401_920, 131_328, 2_570]


def test_treemap_totals_add_up():
    spec = ModelSpec.autoencoder((64, 8), (64,))
    rows = variable_rows(models.init_variables(spec))
    tree = figures.treemap_figure(rows).data[0]
    values = dict(zip(tree.ids, tree.values, strict=True))
    assert values["params"] == spec.parameter_count
    assert values["params/encoder"] + values["params/decoder"] == spec.parameter_count
    assert values["params/encoder/Dense_0/kernel"] == 784 * 64


def test_kernel_heatmap_shrinks_big_kernels_and_centres_colours():
    kernel = np.random.default_rng(0).normal(size=(784, 1000)).astype(np.float32)
    heat = figures.kernel_heatmap(kernel, "k").data[0]
    assert np.asarray(heat.z).shape[0] <= 200 and np.asarray(heat.z).shape[1] <= 200
    assert heat.zmid == 0 and heat.zmin == -heat.zmax
    small = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(figures.kernel_heatmap(small, "s").data[0].z, small)


def test_a_pooled_kernel_heatmap_keeps_the_real_input_and_unit_numbers():
    kernel = np.random.default_rng(2).normal(size=(784, 256)).astype(np.float32)
    heat = figures.kernel_heatmap(kernel, "k").data[0]
    z = np.asarray(heat.z)
    assert z.shape == (196, 128)  # 4 inputs x 2 units per square
    assert float(heat.y[0]) == 1.5 and float(heat.y[-1]) == 781.5  # centres of inputs 0-3 ... 780-783
    assert float(heat.x[0]) == 0.5 and float(heat.x[-1]) == 254.5  # centres of units 0-1 ... 254-255
    custom = np.asarray(heat.customdata)
    assert custom[-1, -1].tolist() == [780, 783, 254, 255]
    assert z[-1, -1] == pytest.approx(kernel[780:, 254:].mean(), rel=1e-5)
    assert "average of 8 weights" in heat.hovertemplate


def test_receptive_fields_are_28x28_tiles():
    kernel = np.random.default_rng(1).normal(size=(784, 20)).astype(np.float32)
    grid = figures.receptive_fields(kernel, units=16)
    assert grid.shape == (4 * 29 - 1, 4 * 29 - 1)
    np.testing.assert_array_equal(grid[:28, :28], kernel[:, 0].reshape(28, 28))
    np.testing.assert_array_equal(grid[29:57, :28], kernel[:, 4].reshape(28, 28))


def test_loss_curves_are_downsampled_but_keep_the_mean():
    losses = np.linspace(2.0, 0.1, 100_000).astype(np.float32)
    curve = figures.Curve("run 1", losses, [50_000, 100_000], [0.9, 0.2], [0.8, 0.95])
    fig = figures.loss_figure([curve], "cross-entropy")
    train, test = fig.data
    assert len(train.x) <= figures.MAX_CURVE_POINTS and train.x[-1] == 100_000
    assert np.mean(train.y) == pytest.approx(losses.mean(), rel=1e-3)
    assert list(test.y) == [0.9, 0.2]
    accuracy = figures.accuracy_figure([curve]).data[0]
    assert list(accuracy.y) == [80.0, 95.0]


def test_downsample_is_exact_for_short_curves():
    steps, values = downsample_curve([3.0, 2.0, 1.0], 10)
    assert list(steps) == [1, 2, 3] and list(values) == [3.0, 2.0, 1.0]
    steps, values = downsample_curve(np.arange(10.0), 4)
    assert list(steps) == [3, 6, 9, 10] and list(values) == [1.0, 4.0, 7.0, 9.0]


def test_confusion_heatmap_rows_are_the_true_class_and_columns_the_prediction():
    names = ["cat", "dog", "owl"]
    # 4 cats called dog, no dog called cat; 1 owl called cat
    confusion = np.array([[6, 4, 0], [0, 9, 2], [1, 0, 7]])
    fig = figures.confusion_figure(confusion, names)
    heat, clicks = fig.data
    assert heat.z[0][1] == 4 and heat.z[1][0] == 0 and heat.z[2][0] == 1 and heat.z[1][2] == 2
    assert heat.text[0][1] == 4 and heat.text[1][0] == 0  # the number written in each cell
    assert list(heat.x) == names and list(heat.y) == names  # x: columns, y: rows
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"
    assert heat.hovertemplate.startswith("true %{y}, predicted %{x}")
    assert fig.layout.yaxis.autorange == "reversed"  # first class on top, like a printed table
    # the click targets: a marker drawn at (x=predicted, y=true) reports [true, predicted]
    cells = {(y, x): tuple(data) for x, y, data in zip(clicks.x, clicks.y, clicks.customdata, strict=True)}
    assert len(cells) == 9
    assert cells[("cat", "dog")] == (0, 1) and cells[("owl", "cat")] == (2, 0)


def test_latent_and_probabilities():
    points = np.random.default_rng(2).normal(size=(30, 2))
    labels = np.repeat(np.arange(3), 10)
    latent = figures.latent_figure(points, labels, ["a", "b", "c"] + list("defghij"), ("x", "y"))
    assert [t.name for t in latent.data] == ["a", "b", "c"]
    assert sum(len(t.x) for t in latent.data) == 30
    probs = figures.probability_figure(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"]).data[0]
    assert list(probs.y) == pytest.approx([10, 70, 20])


def test_tile_makes_one_crisp_picture(sample):
    picture = tile(sample.test_images[:10], cols=4, scale=2, pad=1)
    assert picture.dtype == np.uint8 and picture.shape == (3 * 57 - 1, 4 * 57 - 1)
    np.testing.assert_array_equal(picture[:56:2, :56:2], sample.test_images[0, :, :, 0])
    floats = to_uint8(np.full((1, 28, 28, 1), 0.5, np.float32))
    assert floats.dtype == np.uint8 and floats[0, 0, 0] == 128


def test_a_histogram_sends_its_counts_not_the_values_of_a_huge_kernel():
    from components.figures import histogram_figure
    from core.variables import value_histogram

    kernel = np.random.default_rng(0).normal(0.0, 0.02, (4096, 4096)).astype(np.float32)
    kernel[0, :3] = [np.inf, -np.inf, np.nan]  # a broken model's values are left out, not drawn
    fig = histogram_figure(kernel, "values")
    assert len(fig.to_json()) < 20_000  # 16.8 million values would be about 94 MB of JSON
    hist = value_histogram(kernel)
    assert hist.total == kernel.size - 3 and len(hist.counts) == 60
    assert list(fig.data[0].y) == hist.counts.tolist()
    # each bar counts the values between its edges (np.histogram's rule: the last bin includes its end)
    small = np.array([0.0, 0.1, 0.1, 0.5, 0.9, 1.0])
    assert value_histogram(small, bins=2).counts.tolist() == [3, 3]
    assert value_histogram(small, bins=4).counts.tolist() == [3, 0, 1, 2]
