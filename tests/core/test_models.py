import jax
import jax.numpy as jnp
import numpy as np
import pytest

from core import models
from core.spec import ModelSpec
from tests.trees import assert_leaves_close


def test_mlp_maps_images_to_class_scores():
    spec = ModelSpec.mlp((12, 8, 4))
    model = models.build_model(spec)
    variables = models.init_variables(spec)
    logits = model.apply(variables, jnp.ones((3, 28, 28, 1)))
    assert logits.shape == (3, 10)
    assert model.features == (12, 8, 4, 10)
    assert model.activations == ("relu", "relu", "relu", "linear")


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
