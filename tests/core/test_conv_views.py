"""The maths behind the conv views: a width sweep resizes a Conv layer's channels, and the Inside page's
feature maps, channel strengths and conv activations come from flax's captured values."""

import jax
import numpy as np
import pytest

from core import inside, models
from core.conv_layers import Conv
from core.layer_items import parse_layers
from core.spec import ModelSpec
from core.training.config import TrainConfig
from core.training.sweep import ALL_LAYERS, SweepPlan, scalable_layers, spec_with_width

CNN = ModelSpec(kind="mlp", hidden=parse_layers("conv:8:3:relu, maxpool, conv:16:5:relu, maxpool, 32", "hidden"))


def test_a_width_sweep_resizes_a_conv_layers_channels():
    assert scalable_layers(CNN) == (0, 2, 4)
    wider = spec_with_width(CNN, 2, 64)
    assert wider.layers[2] == Conv(64, 5, "relu")
    # (5*5*8 + 1) * 64 conv parameters, and the Dense layer now takes 7*7*64 values
    assert wider.parameter_count == 80 + (25 * 8 + 1) * 64 + (7 * 7 * 64 + 1) * 32 + 33 * 10
    scaled = spec_with_width(CNN, ALL_LAYERS, 64)  # the widest (32 units) becomes 64: everything doubles
    assert [one.units() for one in scaled.layers if one.units()] == [16, 32, 64]
    with pytest.raises(Exception, match="has no width"):
        SweepPlan(CNN, 1, (8, 16), (0,), TrainConfig(epochs=1))
    assert "layer 3 of 5 (16 units)" in SweepPlan(CNN, 2, (8, 16), (0,), TrainConfig(epochs=1)).describe()


def test_feature_maps_and_channel_strength_come_from_the_captured_conv_outputs():
    variables = models.init_variables(CNN)
    images = np.random.default_rng(0).random((3, 28, 28), np.float32)
    rows, _ = inside.layer_outputs(CNN, variables, images)
    assert [row.path for row in rows][:2] == ["Conv_0", "Conv_1"]
    assert inside.image_shape(CNN, "Conv_0") == (28, 28, 8) and inside.image_shape(CNN, "Conv_1") == (14, 14, 16)
    assert inside.image_shape(CNN, "Dense_0") is None
    # flax captured the convolution; the row passes on its relu, as the next layer receives it
    conv = jax.lax.conv_general_dilated(
        images[..., None], variables["params"]["Conv_0"]["kernel"], (1, 1), "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    ) + variables["params"]["Conv_0"]["bias"]  # fmt: skip
    maps = inside.feature_maps(rows[0].values[1], (28, 28, 8))
    assert maps.shape == (8, 28, 28)
    np.testing.assert_allclose(maps[5], np.maximum(np.asarray(conv)[1, :, :, 5], 0), atol=1e-5)
    strength = inside.channel_strength(rows[0].values, (28, 28, 8))
    np.testing.assert_allclose(strength[2, 5], np.maximum(np.asarray(conv)[2, :, :, 5], 0).mean(), rtol=1e-5)
    assert inside.conv_activations(CNN) == {"Conv_0": "relu", "Conv_1": "relu"}
