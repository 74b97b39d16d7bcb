"""The same model in flax NNX: built from the layer types, holding linen's values, giving linen's outputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from core import code_export, models, nnx_models
from core.layer_items import parse_layers
from core.layer_kinds import LAYER_KINDS
from core.spec import ModelSpec
from core.training import TrainConfig, train
from core.training.programs import to_float

TOLERANCE = 1e-5


def spec_with(kind_name: str, model: str) -> ModelSpec | None:
    """A model of kind ``model`` holding a layer of the kind ``kind_name`` where such a layer may go: image
    layers before the first Dense layer (a ConvTranspose in a decoder only), the others between Dense layers.
    None where the kind cannot go (a ConvTranspose in a classifier)."""
    layer = LAYER_KINDS[kind_name].for_editor()
    item = layer.item("relu")
    if model == "mlp":
        if layer.decoder_only:
            return None
        hidden = f"{item}, 24" if layer.image_layer else f"48:tanh, {item}, 24"
        return ModelSpec(kind="mlp", hidden=parse_layers(hidden, "hidden"), seed=3)
    if layer.decoder_only:
        encoder, decoder = "40, 8", f"{item}, conv:4"
    elif layer.image_layer:
        encoder, decoder = f"conv:4, {item}, 40, 8", "40:gelu"
    else:
        encoder, decoder = f"40, {item}, 8", f"{item}, 40:gelu"
    return ModelSpec(kind="autoencoder", encoder=parse_layers(encoder, "e", code_activation="linear"),
                     decoder=parse_layers(decoder, "d"), seed=3)  # fmt: skip


def scrambled(variables, seed: int = 0):
    """Every array replaced by random values (variances positive): values neither init nor NNX would give."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(variables)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    values = []
    for key, (path, leaf) in zip(keys, leaves, strict=True):
        value = jax.random.normal(key, leaf.shape) * 0.5
        values.append(jnp.abs(value) + 0.5 if jax.tree_util.keystr(path).endswith("['var']") else value)
    return jax.tree_util.tree_unflatten(treedef, values)


def max_difference(spec: ModelSpec, variables, images) -> float:
    linen = models.build_model(spec).apply(models.as_variables(variables), images, train=False)
    twin = nnx_models.with_linen_values(spec, variables)
    return float(jnp.max(jnp.abs(twin(images) - linen)))


#: every (layer kind, model) pair where such a layer can go (a ConvTranspose only in a decoder)
PLACES = [(k, m) for k in sorted(LAYER_KINDS) for m in ("mlp", "autoencoder") if spec_with(k, m) is not None]


@pytest.mark.parametrize(("kind_name", "model"), PLACES, ids=[f"{k}-{m}" for k, m in PLACES])
def test_every_layer_kind_gives_linens_outputs_and_parameter_count_in_nnx(kind_name, model, small):
    spec = spec_with(kind_name, model)
    variables = scrambled(models.init_variables(spec))
    images = to_float(jnp.asarray(small.test_images[:64]))
    assert max_difference(spec, variables, images) <= TOLERANCE
    twin = nnx_models.build_nnx_model(spec)
    assert nnx_models.parameter_count(twin) == spec.parameter_count
    # the table maps every linen array to one NNX variable of the same shape, and back
    rows = nnx_models.path_rows(spec)
    linen = {"/".join(map(str, (k.key for k in p))): leaf.shape
             for p, leaf in jax.tree_util.tree_flatten_with_path(variables)[0]}  # fmt: skip
    assert {row.linen: row.shape for row in rows if row.linen} == linen
    assert sum(row.count for row in rows if row.variable_type == "nnx.Param") == spec.parameter_count


@pytest.fixture(scope="module")
def trained(small):
    """An MLP and autoencoders with every kind of layer but AvgPool, trained for two epochs in linen."""
    mlp = ModelSpec(kind="mlp", hidden=parse_layers("64, batchnorm, dropout:0.3, 32:tanh, layernorm", "h"), seed=7)
    autoencoder = ModelSpec(
        kind="autoencoder",
        encoder=parse_layers("64, layernorm, dropout:0.1, 16", "e", code_activation="linear"),
        decoder=parse_layers("batchnorm, 64:gelu", "d"),
        seed=5,
    )
    convolutional = ModelSpec(
        kind="autoencoder",
        encoder=parse_layers("conv:4, batchnorm, maxpool, 32, 8", "e", code_activation="linear"),
        decoder=parse_layers("convt:4, layernorm", "d"),
        seed=2,
    )
    config = TrainConfig(batch_size=64, epochs=2, seed=11)
    return [train(spec, config, small) for spec in (mlp, autoencoder, convolutional)]


def test_nnx_models_with_trained_linen_values_give_linens_outputs_on_test_images(trained, small):
    images = to_float(jnp.asarray(small.test_images))
    for result in trained:
        stats = jax.tree_util.tree_leaves(result.batch_stats)
        assert stats and any(float(jnp.abs(leaf).max()) > 0.05 for leaf in stats)  # trained running averages
        assert max_difference(result.spec, result.variables, images) <= TOLERANCE
        twin = nnx_models.with_linen_values(result.spec, result.variables)
        assert nnx_models.parameter_count(twin) == result.spec.parameter_count


def test_the_nnx_code_shown_builds_the_model_that_gives_linens_outputs(trained, small):
    images = to_float(jnp.asarray(small.test_images[:50]))
    for result in trained:
        namespace: dict = {}
        exec(compile(code_export.nnx_source(result.spec), "<nnx code>", "exec"), namespace)
        shown = type(namespace["model"])(nnx.Rngs(0))
        assert nnx_models.parameter_count(shown) == result.spec.parameter_count
        twin = nnx_models.with_linen_values(result.spec, result.variables, model=shown)
        linen = models.build_model(result.spec).apply(result.variables, images, train=False)
        assert float(jnp.max(jnp.abs(twin(images) - linen))) <= TOLERANCE


def test_the_table_maps_linen_paths_to_nnx_paths_with_their_variable_types():
    spec = ModelSpec(kind="autoencoder", encoder=parse_layers("32, batchnorm, dropout:0.2, 8", "e",
                     code_activation="linear"), decoder=parse_layers("layernorm, 32", "d"))  # fmt: skip
    rows = {row.nnx: row for row in nnx_models.path_rows(spec)}
    assert rows["encoder.dense_0.kernel"].linen == "params/encoder/Dense_0/kernel"
    assert rows["encoder.dense_0.kernel"].shape == (784, 32)
    assert rows["encoder.batchnorm_0.mean"].linen == "batch_stats/encoder/BatchNorm_0/mean"
    assert rows["encoder.batchnorm_0.mean"].variable_type == "nnx.BatchStat"
    assert rows["decoder.layernorm_0.scale"].variable_type == "nnx.Param"
    assert rows["decoder.dense_1.bias"].count == 784  # the fixed layer back to the image
    # Dropout's random stream lives in the NNX model; linen takes a key at each call instead
    assert rows["encoder.dropout_0.rngs.key"].linen == "" and rows["encoder.dropout_0.rngs.key"].variable_type == (
        "nnx.RngKey"
    )


def test_to_nnx_bridge_wraps_the_linen_model_with_its_values(trained, small):
    images = to_float(jnp.asarray(small.test_images[:50]))
    for result in trained:
        bridged = nnx_models.bridged(result.spec, result.variables)
        linen = models.build_model(result.spec).apply(result.variables, images, train=False)
        assert float(jnp.max(jnp.abs(bridged(images, train=False) - linen))) == 0.0
        params = nnx.state(bridged, nnx.Param)
        assert sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(params)) == result.spec.parameter_count
        # the code the NNX tab shows runs as it reads, and gets the trained values in
        shown = {"linen_model": models.build_model(result.spec), "x": images, "variables": result.variables}
        exec(nnx_models.TONNX_CODE, shown)
        assert float(jnp.max(jnp.abs(shown["y"] - linen))) == 0.0
