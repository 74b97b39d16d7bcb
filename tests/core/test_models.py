import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from core import models
from core.flax_layers import dense
from core.spec import ModelSpec
from testkit.trees import assert_leaves_close


def test_mlp_maps_images_to_class_scores():
    spec = ModelSpec.mlp((12, 8, 4))
    model = models.build_model(spec)
    variables = models.init_variables(spec)
    logits = model.apply(variables, jnp.ones((3, 28, 28, 1)))
    assert logits.shape == (3, 10)
    assert model.layers == ((dense, 12, "relu"), (dense, 8, "relu"), (dense, 4, "relu"), (dense, 10, "linear"))


def test_autoencoder_encode_decode_through_apply_method():
    spec = ModelSpec.autoencoder((20, 10, 5), (5, 10, 20))
    model = models.build_model(spec)
    variables = model.init(jax.random.key(0), jnp.ones((1, 28, 28, 1)))
    x = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
    code = model.apply(variables, x, method=model.encode)
    assert code.shape == (4, 5)
    out = model.apply(variables, code, method=model.decode)
    assert out.shape == (4, 28, 28, 1)
    # the decoder ends in a sigmoid, so every pixel is strictly between 0 and 1
    assert float(out.min()) > 0.0 and float(out.max()) < 1.0
    np.testing.assert_allclose(model.apply(variables, x), out, rtol=1e-6)


def test_code_layer_is_linear_so_codes_can_be_negative():
    spec = ModelSpec.autoencoder((64, 2), ())
    variables = models.init_variables(spec)
    model = models.build_model(spec)
    x = jax.random.uniform(jax.random.key(3), (64, 28, 28, 1))
    codes = model.apply(variables, x, method=model.encode)
    assert float(codes.min()) < 0 < float(codes.max())


def test_init_is_seeded():
    a = models.init_variables(ModelSpec.mlp((16,), seed=1))["params"]["Dense_0"]["kernel"]
    b = models.init_variables(ModelSpec.mlp((16,), seed=1))["params"]["Dense_0"]["kernel"]
    c = models.init_variables(ModelSpec.mlp((16,), seed=2))["params"]["Dense_0"]["kernel"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec.mlp((512, 256)),
        ModelSpec.mlp((3, 4095, 7), activation="tanh", seed=11),
        ModelSpec.autoencoder((300, 64, 16), (64, 256), seed=3),
        ModelSpec.autoencoder((2,), ()),
    ],
    ids=["default-mlp", "odd-mlp", "autoencoder", "smallest-ae"],
)
def test_init_variables_are_exactly_those_of_eager_model_init(spec):
    """The init program is compiled with little optimisation (INIT_COMPILER_OPTIONS), yet its
    values are bit for bit those of flax's model.init run op by op."""
    eager = models.build_model(spec).init(jax.random.key(spec.seed), models.example_batch(spec))
    ours = models.init_variables(spec)
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(eager)
    assert_leaves_close(ours, eager, same_dtype=True)
    assert models.init_params(spec).keys() == eager["params"].keys()


def test_seeds_of_one_shape_share_one_compiled_init():
    before = models.compiled_init.cache_info()
    first = models.init_params(ModelSpec.mlp((123, 45), seed=1))
    second = models.init_params(ModelSpec.mlp((123, 45), seed=2))
    after = models.compiled_init.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert not np.array_equal(first["Dense_0"]["kernel"], second["Dense_0"]["kernel"])


@pytest.mark.parametrize(
    ("spec", "paths"),
    [
        (ModelSpec.mlp([8] * 11, seed=5), [f"Dense_{i}" for i in range(12)]),
        (
            ModelSpec.autoencoder((256, 64, 16), (64, 256)),
            [f"{part}/Dense_{i}" for part in ("encoder", "decoder") for i in range(3)],
        ),
    ],
    ids=["mlp", "autoencoder"],
)
def test_dense_layers_are_those_of_model_init_in_the_order_applied(spec, paths):
    layers = models.dense_layers(spec)
    assert [layer.path for layer in layers] == paths  # data-flow order: Dense_2 before Dense_10
    params = models.build_model(spec).init(jax.random.key(spec.seed), models.example_batch(spec))["params"]
    for layer in layers:
        node = params
        for part in layer.path.split("/"):
            node = node[part]
        assert node["kernel"].shape == (layer.inputs, layer.outputs)
        assert node["bias"].shape == (layer.outputs,)
    assert len(jax.tree_util.tree_leaves(params)) == 2 * len(layers)  # a kernel and a bias each, nothing else
    assert sum(layer.parameters for layer in layers) == spec.parameter_count
    assert [(layer.inputs, layer.outputs) for layer in layers] == list(itertools.pairwise(spec.layer_sizes))


def test_dense_layers_know_each_layers_activation_and_role():
    spec = ModelSpec.autoencoder((32, 4), (32,), activation="tanh")
    layers = models.dense_layers(spec)
    assert [(layer.activation, layer.role) for layer in layers] == [
        ("tanh", "hidden"), ("linear", "code"), ("tanh", "hidden"), ("sigmoid", "reconstruction"),
    ]  # fmt: skip
    mlp = models.dense_layers(ModelSpec.mlp((16,), activation="gelu"))
    assert [(layer.activation, layer.role) for layer in mlp] == [("gelu", "hidden"), ("linear", "output")]


def test_dense_layers_even_when_jax_already_traced_model_init():
    """jax reuses its trace of a function it has seen (here a bound ``model.init`` still alive),
    without running flax's Python again: that must not hide the layers."""
    spec = ModelSpec.mlp((37, 41))
    init = models.build_model(spec).init
    jax.eval_shape(init, jax.random.key(0), models.example_batch(spec))
    assert [layer.path for layer in models.dense_layers(spec)] == ["Dense_0", "Dense_1", "Dense_2"]
