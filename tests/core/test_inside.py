"""Inside the network: every layer's output as flax computes it, for both kinds of model, and the
pieces of the diagram (strongest weights, most active inputs, compact grids)."""

from __future__ import annotations

import itertools

import flax.linen as nn
import jax
import numpy as np
import pytest

from core import inside, models, predict
from core.errors import CoreError
from core.presets import PRESETS
from core.spec import Layer, ModelSpec
from core.training import TrainConfig, train

MLP = PRESETS["MNIST classifier (default)"][1]
AUTOENCODER = PRESETS["MNIST autoencoder (default)"][1]


def dense_inputs(spec: ModelSpec, params, images: np.ndarray) -> dict[str, np.ndarray]:
    """What each Dense layer receives, recorded by a flax interceptor around a plain ``model.apply``."""
    received: dict[str, np.ndarray] = {}

    def record(next_fun, args, kwargs, context):
        if isinstance(context.module, nn.Dense) and context.method_name == "__call__":
            received["/".join(context.module.path)] = np.asarray(args[0])
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):
        models.build_model(spec).apply({"params": params}, inside.as_inputs(images))
    return received


@pytest.mark.parametrize("spec", [MLP, AUTOENCODER], ids=["mlp", "autoencoder"])
def test_every_layer_shows_what_flax_captured_and_passes_on_what_the_next_layer_receives(spec, sample):
    params = models.init_params(spec)
    images = sample.test_images[:5]
    rows, output = inside.layer_outputs(spec, params, images)
    _, state = models.build_model(spec).apply(
        {"params": params}, inside.as_inputs(images), capture_intermediates=True, mutable=["intermediates"]
    )
    layers = models.dense_layers(spec)
    assert [r.path for r in rows] == [layer.path for layer in layers]  # in the order the model calls them
    assert [r.units for r in rows] == [layer.outputs for layer in layers]
    for row in rows:
        node = state["intermediates"]
        for key in row.path.split("/"):
            node = node[key]
        np.testing.assert_allclose(row.before, np.asarray(node["__call__"][0]), rtol=1e-5, atol=1e-6)
    received = dense_inputs(spec, params, images)
    for row, following in itertools.pairwise(rows):
        np.testing.assert_allclose(row.values, received[following.path], rtol=1e-5, atol=1e-6)
    first = params["Dense_0"] if spec.kind == "mlp" else params["encoder"]["Dense_0"]
    expected = inside.as_inputs(images).reshape(5, -1) @ np.asarray(first["kernel"]) + np.asarray(first["bias"])
    np.testing.assert_allclose(rows[0].before, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(inside.kernel_of(params, rows[0].path), np.asarray(first["kernel"]))
    assert np.all(rows[0].values >= 0) and (rows[0].values == 0).any()  # relu
    assert output.shape == ((5, 10) if spec.kind == "mlp" else (5, 28, 28, 1))


def test_the_classifiers_last_row_is_its_output_and_gives_its_probabilities(sample):
    params = models.init_params(MLP)
    rows, scores = inside.layer_outputs(MLP, params, sample.test_images[:7])
    np.testing.assert_allclose(rows[-1].values, scores, rtol=1e-5, atol=1e-6)
    expected = predict.predict_probabilities(MLP, params, sample.test_images[:7])
    np.testing.assert_allclose(inside.probabilities(scores), expected, rtol=1e-5, atol=1e-6)
    assert rows[-1].role == "output" and rows[-1].name(3) == "output (Dense, 10 units)"
    assert rows[0].name(1) == "layer 1 (Dense, 512 units, relu)"


def test_the_autoencoders_code_and_reconstruction_rows_equal_encode_and_reconstruct(sample):
    params = models.init_params(AUTOENCODER)
    images = sample.test_images[:6]
    rows, rebuilt = inside.layer_outputs(AUTOENCODER, params, images)
    (code,) = [r for r in rows if r.role == "code"]
    np.testing.assert_allclose(code.values, predict.encode(AUTOENCODER, params, images), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rebuilt, predict.reconstruct(AUTOENCODER, params, images), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rows[-1].values, rebuilt.reshape(6, -1), rtol=1e-5, atol=1e-6)
    assert rows[-1].activation == "sigmoid" and rows[-1].role == "reconstruction"


def test_one_image_many_images_and_chunks_give_the_same_values(sample):
    params = models.init_params(MLP)
    many, _ = inside.layer_outputs(MLP, params, sample.test_images)  # 500 images: one padded chunk of 512
    one, _ = inside.layer_outputs(MLP, params, sample.test_images[42])
    np.testing.assert_allclose(one[1].values[0], many[1].values[42], rtol=1e-5, atol=1e-6)
    picked = inside.for_one(many, 42)
    np.testing.assert_allclose(picked[1].values, one[1].values, rtol=1e-5, atol=1e-6)


def test_trained_and_untrained_parameters_give_each_their_own_values(small):
    """The rows are computed from the parameters given: a trained model's and its untrained start's (the
    Inside page shows them side by side) each equal flax's own forward pass, and differ in every layer."""
    spec = ModelSpec.mlp((32, 16))
    trained = train(spec, TrainConfig(epochs=2), small).params
    untrained = models.init_params(spec)
    images = small.test_images[:8]
    shown = {}
    for name, params in (("trained", trained), ("untrained", untrained)):
        rows, output = inside.layer_outputs(spec, params, images)
        flax_output = models.build_model(spec).apply({"params": params}, inside.as_inputs(images))
        np.testing.assert_allclose(output, flax_output, rtol=1e-5, atol=1e-5)
        received = dense_inputs(spec, params, images)  # what Dense_1 and Dense_2 receive: rows 0 and 1
        for row, path in zip(rows[:2], ("Dense_1", "Dense_2"), strict=True):
            np.testing.assert_allclose(row.values, received[path].reshape(len(images), -1), rtol=1e-5, atol=1e-5)
        shown[name] = rows
    for after, before in zip(shown["trained"], shown["untrained"], strict=True):
        assert np.abs(after.values - before.values).max() > 0.1, after.path


def test_doubling_the_parameters_doubles_the_first_dense_layers_output(sample):
    untrained = models.init_params(MLP)
    moved = jax.tree_util.tree_map(lambda leaf: leaf * 2.0, untrained)
    before, _ = inside.layer_outputs(MLP, untrained, sample.test_images[:1])
    after, _ = inside.layer_outputs(MLP, moved, sample.test_images[:1])
    np.testing.assert_allclose(after[0].before, 2.0 * before[0].before, rtol=1e-5, atol=1e-5)


def test_bad_inputs_are_refused_with_a_message():
    with pytest.raises(CoreError, match="no image"):
        inside.layer_outputs(MLP, models.init_params(MLP), np.zeros((0, 28, 28, 1), np.uint8))
    with pytest.raises(CoreError, match="takes images of"):
        inside.layer_outputs(MLP, models.init_params(MLP), np.zeros((1, 14, 14, 1), np.uint8))


def test_the_strongest_connections_are_the_largest_weights_in_magnitude():
    kernel = np.array([[0.1, -0.9, 0.0], [0.5, 0.2, -0.3]], np.float32)
    found = inside.strongest_connections(kernel, 3)
    assert found.total == 6
    assert found.weights.tolist() == pytest.approx([-0.9, 0.5, -0.3])
    assert found.sources.tolist() == [0, 1, 1] and found.targets.tolist() == [1, 0, 2]
    assert len(inside.strongest_connections(kernel, 100).weights) == 6


def test_the_most_active_inputs_of_a_unit_come_highest_first():
    values = np.array([[0.0, 1.0], [3.0, 0.5], [2.0, 4.0], [-1.0, 0.0]], np.float32)
    assert inside.most_active(values, 0, 2).tolist() == [1, 2]
    assert inside.most_active(values, 1, 10).tolist() == [2, 0, 1, 3]


@pytest.mark.parametrize(
    ("units", "shape"), [(10, (1, 10)), (16, (1, 16)), (512, (16, 32)), (784, (28, 28)), (256, (16, 16)), (97, (7, 14))]
)
def test_wide_layers_get_a_compact_grid(units, shape):
    rows, cols = inside.grid_shape(units)
    assert (rows, cols) == shape
    assert rows * cols >= units and (rows - 1) * cols < units


def test_first_layer_weights_become_images_with_grey_for_zero():
    kernel = np.zeros((4, 3), np.float32)
    kernel[:, 0] = [1.0, -1.0, 0.0, 0.5]
    kernel[:, 1] = [0.01, 0.0, 0.0, -0.02]
    images = inside.weight_images(kernel, (2, 2), 2)
    assert images.shape == (2, 2, 2)
    np.testing.assert_allclose(images[0], [[1.0, 0.0], [0.5, 0.75]])
    np.testing.assert_allclose(images[1], [[0.75, 0.5], [0.5, 0.0]])  # scaled by its own largest weight
    with pytest.raises(CoreError, match="not an image"):
        inside.weight_images(kernel, (3, 3), 2)


def module_inputs(spec: ModelSpec, variables, images: np.ndarray) -> dict[str, np.ndarray]:
    """What every leaf module receives in evaluation mode, recorded by a flax interceptor."""
    received: dict[str, np.ndarray] = {}

    def record(next_fun, args, kwargs, context):
        leaf = type(context.module).__name__ not in ("MLP", "AutoEncoder")
        if context.method_name == "__call__" and context.module.path and leaf:
            received["/".join(context.module.path)] = np.asarray(args[0])
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):
        models.build_model(spec).apply(variables, inside.as_inputs(images))
    return received


@pytest.mark.parametrize("kind", ["mlp", "autoencoder"])
def test_new_layer_kinds_appear_as_rows_and_use_the_trained_running_averages(kind, small):
    """Dropout, BatchNorm and LayerNorm come from flax's capture like Dense: one row each, in order,
    and what each row passes on is what the next module receives, in evaluation mode."""
    extra = (Layer.batchnorm(), Layer.dropout(0.2), Layer.layernorm())
    if kind == "mlp":
        spec = ModelSpec(kind="mlp", hidden=(Layer(32), *extra, Layer(16)))
    else:
        spec = ModelSpec(kind="autoencoder", encoder=(Layer(32), *extra, Layer(4, "linear")), decoder=(Layer(32),))
    result = train(spec, TrainConfig(epochs=1), small)  # BatchNorm's running averages move away from 0 and 1
    rows, _ = inside.layer_outputs(spec, result.variables, small.test_images[:4])
    kinds = [r.kind for r in rows]
    assert kinds[:5] == ["Dense", "BatchNorm", "Dropout", "LayerNorm", "Dense"]
    assert [r.path for r in rows][:2] == (
        ["Dense_0", "BatchNorm_0"] if kind == "mlp" else ["encoder/Dense_0", "encoder/BatchNorm_0"]
    )
    received = module_inputs(spec, result.variables, small.test_images[:4])
    for row, following in itertools.pairwise(rows):
        np.testing.assert_allclose(row.values, received[following.path].reshape(4, -1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rows[2].values, rows[1].values)  # Dropout is off when looking inside


def test_the_pool_of_inputs_kept_for_most_active_fits_its_memory_budget_however_wide_the_model():
    # the default MLP: 512 + 256 + 10 captured units, every one of 5,000 images fits in 64 MB (15.56 MB)
    assert inside.units_per_input(MLP) == 512 + 256 + 10
    assert inside.activation_pool(MLP, 64_000_000, 5_000) == 5_000
    # two 4,096-unit layers: 8,202 numbers per image, 32,808 bytes: 1,950 images fit in 64 MB
    wide = ModelSpec.mlp((4096, 4096))
    assert inside.units_per_input(wide) == 4096 + 4096 + 10
    assert inside.activation_pool(wide, 64_000_000, 5_000) == 64_000_000 // (4 * 8_202) == 1_950
    # a norm layer is captured too, and counts; and the pool never drops below one image
    normed = ModelSpec(kind="mlp", hidden=(Layer(64), Layer.batchnorm(), Layer.layernorm(), Layer(16)))
    rows, _ = inside.layer_outputs(normed, models.init_variables(normed), np.zeros((2, 28, 28, 1), np.uint8))
    assert inside.units_per_input(normed) == sum(row.units for row in rows)
    assert inside.activation_pool(wide, 10, 5_000) == 1
