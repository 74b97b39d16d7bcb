import jax
import jax.numpy as jnp
import numpy as np
import pytest

from core import models
from core.presets import PRESETS
from core.spec import ModelSpec
from core.variables import (
    HISTOGRAM_BINS,
    flax_source,
    get_leaf,
    layer_rows,
    total_parameters,
    tree_outline,
    variable_rows,
)
from testkit.trees import assert_leaves_close


@pytest.mark.parametrize("spec", [ModelSpec.mlp(), ModelSpec.autoencoder()], ids=["mlp", "autoencoder"])
def test_rows_match_jax_leaf_sizes_exactly(spec):
    variables = models.init_variables(spec)
    rows = variable_rows(variables)
    leaves = jax.tree_util.tree_leaves(variables)
    assert len(rows) == len(leaves)
    assert sum(r.size for r in rows) == sum(leaf.size for leaf in leaves) == spec.parameter_count
    assert total_parameters(variables) == spec.parameter_count
    layers = layer_rows(rows)
    assert [layer.module for layer in layers] == [d.path for d in models.dense_layers(spec)]
    assert [layer.parameters for layer in layers] == [d.parameters for d in models.dense_layers(spec)]


def test_row_statistics_are_those_of_the_array():
    variables = models.init_variables(ModelSpec.mlp((512, 256)))
    row = next(r for r in variable_rows(variables) if r.path == "params/Dense_0/kernel")
    kernel = np.asarray(variables["params"]["Dense_0"]["kernel"])
    assert row.shape == (784, 512) and row.dtype == "float32" and row.size == 401_408
    assert row.module == "Dense_0" and row.name == "kernel"
    assert row.mean == pytest.approx(kernel.mean(), abs=1e-7)
    assert row.std == pytest.approx(kernel.std(), rel=1e-5)
    assert (row.min, row.max) == (pytest.approx(kernel.min()), pytest.approx(kernel.max()))
    assert sum(row.histogram) == kernel.size
    # lecun-normal init: std close to 1/sqrt(fan_in)
    assert row.std == pytest.approx(1 / np.sqrt(784), rel=0.05)
    bias = next(r for r in variable_rows(variables) if r.path == "params/Dense_0/bias")
    assert bias.min == bias.max == 0.0


def test_rows_sort_layers_naturally():
    spec = ModelSpec.mlp([8] * 12)
    modules = [layer.module for layer in layer_rows(variable_rows(models.init_variables(spec)))]
    assert modules[:3] == ["Dense_0", "Dense_1", "Dense_2"]
    assert modules[-3:] == ["Dense_10", "Dense_11", "Dense_12"]


def test_outline_and_leaf_lookup():
    variables = models.init_variables(ModelSpec.autoencoder((32, 4), (32,)))
    outline = tree_outline(variables)
    assert outline["params"]["encoder"]["Dense_1"]["kernel"] == "float32[32,4] (128 values)"
    assert get_leaf(variables, "params/decoder/Dense_1/kernel").shape == (32, 784)
    with pytest.raises(KeyError, match="params/encoder/Dense_0/bias"):
        get_leaf(variables, "params/nope")


@pytest.mark.parametrize("name", list(PRESETS))
def test_generated_flax_code_builds_the_same_shapes(name):
    spec = PRESETS[name][1].replace(seed=3)
    namespace: dict = {"print": lambda *a, **k: None}
    exec(compile(flax_source(spec), "<generated>", "exec"), namespace)
    generated = namespace["variables"]
    ours = models.init_variables(spec)
    assert jax.tree_util.tree_map(jnp.shape, generated) == jax.tree_util.tree_map(jnp.shape, ours)
    # same seed, same module structure -> the very same initial values
    assert_leaves_close(generated, ours)


def test_generated_code_mentions_encode_for_autoencoders():
    code = flax_source(ModelSpec.autoencoder())
    assert "method=model.encode" in code and "AutoEncoder(" in code
    assert "import streamlit" not in code and "core" not in code.split("import")[1]


@pytest.mark.parametrize(
    "values",
    [np.full(7, 1e30), np.full(7, -3e38), np.full(7, 1e-40), np.array([1e30, np.nextafter(np.float32(1e30), np.inf)])],
    ids=["1e30", "-3e38", "denormal", "one-step-apart"],
)
def test_extreme_values_get_a_histogram_of_every_value(values):
    (row,) = variable_rows({"kernel": np.asarray(values, np.float32)})
    assert sum(row.histogram) == len(values) and len(row.histogram) == HISTOGRAM_BINS
    assert np.isfinite([row.mean, row.std, row.min, row.max]).all()
