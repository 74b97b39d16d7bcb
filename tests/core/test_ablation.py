"""Switching units off (``core.ablation``): a switched-off unit passes on exactly 0 after its activation,
checked against the network computed by hand in numpy, for BatchNorm / Dropout models in evaluation
mode and for autoencoders; every unit ranked in one vmapped call gives the scores of one call per unit;
the pruning curve keeps the units it says it keeps."""

from __future__ import annotations

import itertools

import flax.linen as nn
import jax
import numpy as np
import pytest

from core import ablation, inside, models
from core.errors import CoreError
from core.layers import Dense
from core.norm_layers import BatchNorm, Dropout
from core.presets import PRESETS
from core.spec import AutoEncoderSpec, MLPSpec

ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    # flax's nn.gelu: the tanh approximation
    "gelu": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
}


def _images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (count, 28, 28, 1)).astype(np.float32)


def _set_params(spec, seed: int = 1) -> dict:
    """The model's variables with every parameter drawn anew, large enough that no unit is near 0."""
    variables = models.init_variables(spec)
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda a: rng.normal(0, 0.5, a.shape).astype(np.float32), variables)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_a_switched_off_unit_passes_on_zero_after_any_activation_as_computed_by_hand(activation):
    spec = MLPSpec(hidden=(Dense(4, activation),), num_classes=3)
    variables = _set_params(spec)
    p = variables["params"]
    x = _images(5)
    hidden = ACTIVATIONS[activation](x.reshape(5, -1) @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
    hidden[:, [1, 3]] = 0.0  # units 1 and 3 off: they output 0 whatever their activation
    expected = hidden @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]
    masks = ablation.masks_for(spec, {"Dense_0": [1, 3]})
    np.testing.assert_array_equal(masks["Dense_0"], [1, 0, 1, 0])
    got = ablation.switched_outputs(spec, variables, x, masks)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    unchanged = models.build_model(spec).apply(variables, x)
    assert np.abs(got - np.asarray(unchanged)).max() > 0.05  # the two units did matter
    rows, output = inside.layer_outputs(spec, variables, x, masks)
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(rows[0].values[:, [1, 3]], 0.0)  # the layer grid shows them at 0


def test_nothing_switched_off_gives_exactly_the_unchanged_model():
    spec = MLPSpec(hidden=(Dense(16, "sigmoid"), Dense(8, "gelu")), num_classes=10)
    variables = _set_params(spec)
    x = _images(7)
    all_on = {"Dense_0": np.ones(16, np.float32), "Dense_1": np.ones(8, np.float32)}
    unchanged = np.asarray(jax.jit(models.build_model(spec).apply)(variables, x))
    np.testing.assert_array_equal(ablation.switched_outputs(spec, variables, x, {}), unchanged)
    # all ones: the same numbers, up to how the compiler orders the sums of another program
    np.testing.assert_allclose(ablation.switched_outputs(spec, variables, x, all_on), unchanged, rtol=1e-6, atol=1e-6)


def test_batchnorm_and_dropout_models_switch_off_in_evaluation_mode_as_computed_by_hand():
    spec = MLPSpec(hidden=(Dense(6, "tanh"), BatchNorm(), Dropout(0.5), Dense(5, "sigmoid")), num_classes=4)
    variables = _set_params(spec)
    stats = variables["batch_stats"]["BatchNorm_0"]
    stats["var"] = np.abs(stats["var"]) + 0.5
    p = variables["params"]
    x = _images(6)
    hidden = np.tanh(x.reshape(6, -1) @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
    hidden[:, 2] = 0.0
    # BatchNorm on its running averages (evaluation mode) sees the 0, and gives it its own shift
    normed = (hidden - stats["mean"]) / np.sqrt(stats["var"] + 1e-5) * p["BatchNorm_0"]["scale"]
    normed += p["BatchNorm_0"]["bias"]
    second = 1 / (1 + np.exp(-(normed @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"])))  # Dropout: off
    second[:, [0, 4]] = 0.0
    expected = second @ p["Dense_2"]["kernel"] + p["Dense_2"]["bias"]
    masks = ablation.masks_for(spec, {"Dense_0": [2], "Dense_1": [0, 4]})
    np.testing.assert_allclose(ablation.switched_outputs(spec, variables, x, masks), expected, rtol=1e-4, atol=1e-4)
    labels = np.argmax(expected, axis=1)
    labels[:2] = (labels[:2] + 1) % 4  # two of six answers wrong
    held_out = ablation.HeldOut(x, labels)
    assert ablation.score(spec, variables, held_out, masks) == pytest.approx(4 / 6)


def test_an_autoencoder_with_code_units_off_reconstructs_as_if_the_decoder_never_saw_them():
    spec = AutoEncoderSpec(encoder=(Dense(32, "relu"), Dense(6, "linear")), decoder=(Dense(32, "relu"),))
    variables = _set_params(spec)
    x = _images(8)
    masks = ablation.masks_for(spec, {"encoder/Dense_1": [0, 5]})
    got = ablation.switched_outputs(spec, variables, x, masks)
    # the same as a decoder whose weights from code units 0 and 5 are 0
    cut = jax.tree_util.tree_map(np.array, variables)
    cut["params"]["decoder"]["Dense_0"]["kernel"][[0, 5]] = 0.0
    expected = np.asarray(models.build_model(spec).apply(cut, x))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    rows, _ = inside.layer_outputs(spec, variables, x, masks)
    code = next(row for row in rows if row.role == "code")
    np.testing.assert_array_equal(code.values[:, [0, 5]], 0.0)
    held_out = ablation.HeldOut(x, np.zeros(8, np.int64))
    error = float(np.mean((got - x) ** 2))
    assert ablation.score(spec, variables, held_out, masks) == pytest.approx(error, rel=1e-5)
    assert abs(error - ablation.score(spec, variables, held_out, {})) > 1e-3  # switching the code off changed it


def test_ranking_every_unit_in_one_call_gives_the_score_of_each_unit_switched_off_alone(sample):
    spec = MLPSpec(hidden=(Dense(24, "relu"), Dense(12, "tanh")), num_classes=10)
    variables = _set_params(spec, seed=3)
    held_out = ablation.HeldOut(inside.as_inputs(sample.test_images[:300]), sample.test_labels[:300])
    ranking = ablation.unit_importance(spec, variables, held_out, "Dense_1")
    one_by_one = [
        ablation.score(spec, variables, held_out, ablation.masks_for(spec, {"Dense_1": [unit]})) for unit in range(12)
    ]
    np.testing.assert_allclose(ranking.scores, one_by_one, atol=1e-6)
    assert ranking.baseline == pytest.approx(ablation.score(spec, variables, held_out, {}))
    np.testing.assert_allclose(ranking.drops, ranking.baseline - np.asarray(one_by_one), atol=1e-6)
    top = ranking.ranked()
    assert ranking.drops[top[0]] == ranking.drops.max() > 0  # some unit matters to these random weights
    assert list(ranking.drops[top]) == sorted(ranking.drops, reverse=True)
    losses = [
        ablation.metric_table(
            spec, variables, held_out, {"Dense_1": ablation.masks_for(spec, {"Dense_1": [u]})["Dense_1"][None]}
        )["loss"][0]
        for u in range(12)
    ]
    base_loss = ablation.metric_table(spec, variables, held_out, {"Dense_1": np.ones((1, 12), np.float32)})["loss"][0]
    np.testing.assert_allclose(ranking.loss_rises, np.asarray(losses) - base_loss, atol=1e-5)
    # equal drops (a score counted in images): the larger rise of the loss first
    for better, worse in itertools.pairwise(top):
        if ranking.drops[better] == ranking.drops[worse]:
            assert ranking.loss_rises[better] >= ranking.loss_rises[worse]


def test_the_pruning_curve_keeps_the_units_with_the_largest_outgoing_weights(sample):
    spec = MLPSpec(hidden=(Dense(12, "relu"),), num_classes=10)
    variables = _set_params(spec, seed=4)
    kernel = variables["params"]["Dense_1"]["kernel"]
    strength = ablation.outgoing_strength(spec, variables, "Dense_0")
    np.testing.assert_allclose(strength, np.linalg.norm(kernel, axis=1), rtol=1e-6)
    masks = ablation.keep_masks(np.argsort(-strength), np.array([12, 3, 1]))
    assert masks.sum(axis=1).tolist() == [12, 3, 1]
    assert set(np.flatnonzero(masks[1])) == set(np.argsort(-strength)[:3])
    held_out = ablation.HeldOut(inside.as_inputs(sample.test_images[:200]), sample.test_labels[:200])
    curve = ablation.pruning_curve(spec, variables, held_out, "Dense_0", draws=3)
    assert curve.kept.tolist() == list(range(12, 0, -1))
    baseline = ablation.score(spec, variables, held_out, {})
    assert curve.largest[0] == pytest.approx(baseline) and curve.random[0] == pytest.approx(baseline)
    strongest_three = np.argsort(-strength)[:3]
    off = [u for u in range(12) if u not in strongest_three]
    three = ablation.score(spec, variables, held_out, ablation.masks_for(spec, {"Dense_0": off}))
    assert curve.largest[curve.kept.tolist().index(3)] == pytest.approx(three)
    assert "units" in ablation.pruning_summary(spec, curve)


def test_pruning_sizes_go_from_all_units_down_to_one():
    assert ablation.pruning_sizes(5).tolist() == [5, 4, 3, 2, 1]
    sizes = ablation.pruning_sizes(512)
    assert sizes[0] == 512 and sizes[-1] == 1 and len(sizes) <= 16 and np.all(np.diff(sizes) < 0)


def test_a_mask_zeroes_even_nan_and_repeats_over_flattened_positions_for_channels():
    values = np.array([[np.nan, np.inf, 2.0, -3.0, 5.0, 6.0]], np.float32)  # 3 positions x 2 channels
    got = np.asarray(ablation.mask_values(values, np.array([0.0, 1.0], np.float32)))
    np.testing.assert_array_equal(got, [[0.0, np.inf, 0.0, -3.0, 0.0, 6.0]])
    image = np.arange(1, 13, dtype=np.float32).reshape(1, 2, 2, 3)  # 12 units of a Dense layer made an image
    mask = np.ones(12, np.float32)
    mask[[0, 4, 11]] = 0.0
    np.testing.assert_array_equal(
        np.asarray(ablation.mask_values(image, mask)).ravel(), [0, 2, 3, 4, 0, 6, 7, 8, 9, 10, 11, 0]
    )
    with pytest.raises(CoreError, match="does not fit"):
        ablation.mask_values(values, np.ones(5, np.float32))


def test_bad_switches_are_refused_with_a_clear_message():
    spec = MLPSpec(hidden=(Dense(4, "relu"),), num_classes=3)
    with pytest.raises(CoreError, match="numbered 0 to 3"):
        ablation.masks_for(spec, {"Dense_0": [4]})
    with pytest.raises(CoreError, match="not a layer whose units can be switched off"):
        ablation.masks_for(spec, {"Dense_1": [0]})  # the output layer


def test_the_pruning_sentence_says_which_choice_of_units_kept_the_score_better():
    spec = MLPSpec(hidden=(Dense(8, "relu"),), num_classes=10)
    kept = np.array([8, 4, 2, 1])

    def sentence(largest, random):
        return ablation.pruning_summary(
            spec, ablation.PruningCurve("Dense_0", kept, np.array(largest), np.array(random), 4)
        )

    strongest = sentence([0.9, 0.8, 0.6, 0.3], [0.9, 0.5, 0.3, 0.2])
    assert strongest.startswith(
        "Keeping 2 of 8 units, the 2 with the largest outgoing weights give a test accuracy of 60.0%, "
        "2 random ones 30.0%"
    )
    assert "works better than chance" in strongest
    assert "random units do better" in sentence([0.9, 0.5, 0.3, 0.2], [0.9, 0.8, 0.6, 0.3])
    assert "neither is clearly better" in sentence([0.9, 0.8, 0.3, 0.2], [0.9, 0.5, 0.6, 0.3])


class _ConvNet(nn.Module):
    """A conv layer (4 channels, relu), flattened channels last into a Dense layer: the shape of the conv
    layer kinds to come, written in flax here."""

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(4, (3, 3), padding="VALID")(x))
        return nn.Dense(3)(x.reshape((x.shape[0], -1)))


def test_conv_channels_switch_off_with_the_same_mask_on_the_last_axis():
    model, x = _ConvNet(), _images(2)[:, :6, :6]  # 6x6 images: 4x4 positions of 4 channels
    variables = jax.tree_util.tree_map(np.asarray, model.init(jax.random.key(0), x))
    conv = np.asarray(model.apply(variables, x, capture_intermediates=True, mutable=["intermediates"])[1][
        "intermediates"]["Conv_0"]["__call__"][0])  # fmt: skip
    channels = np.maximum(conv, 0)  # (2, 4, 4, 4)
    channels[..., [1, 2]] = 0.0  # channels 1 and 2 off at every position
    dense = variables["params"]["Dense_0"]
    expected = channels.reshape(2, -1) @ dense["kernel"] + dense["bias"]
    with ablation.switched_off({"Conv_0": np.array([1, 0, 0, 1], np.float32)}):
        got = model.apply(variables, x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_cnn_of_the_registry_switches_channels_off_as_if_the_next_layer_never_saw_them(sample):
    spec = PRESETS["flax MNIST example (CNN)"][1]
    layers = {layer.path: layer for layer in ablation.switchable_layers(spec)}
    assert (layers["Conv_1"].units, layers["Conv_1"].positions) == (64, 196)  # channels, on a 14x14 image
    assert [layer.of_channels for layer in layers.values()] == [True, True, False]  # Conv_0, Conv_1, Dense_0
    variables = jax.tree_util.tree_map(np.array, models.init_variables(spec))
    x = inside.as_inputs(sample.test_images[:4])
    got = ablation.switched_outputs(spec, variables, x, ablation.masks_for(spec, {"Conv_1": [5, 60]}))
    # Conv_1, relu, a 2x2 pool, then Dense_0 on the 7x7x64 values flattened channels last: its rows from
    # channels 5 and 60 set to 0 give the same answers
    kernel = variables["params"]["Dense_0"]["kernel"]
    kernel[np.isin(np.arange(kernel.shape[0]) % 64, [5, 60])] = 0.0
    np.testing.assert_allclose(got, models.build_model(spec).apply(variables, x), rtol=1e-4, atol=1e-5)
    next_kernel = variables["params"]["Conv_1"]["kernel"]  # (3, 3, 32 in, 64 out)
    np.testing.assert_allclose(
        ablation.outgoing_strength(spec, variables, "Conv_0"),
        np.sqrt((next_kernel**2).sum(axis=(0, 1, 3))),
        rtol=1e-5,
    )
    held_out = ablation.HeldOut(x, sample.test_labels[:4])
    ranking = ablation.unit_importance(spec, variables, held_out, "Conv_0")
    assert ranking.scores.shape == (32,)
    one = ablation.score(spec, variables, held_out, ablation.masks_for(spec, {"Conv_0": [7]}))
    assert ranking.scores[7] == pytest.approx(one)
