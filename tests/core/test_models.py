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
        ModelSpec.mlp((256, 256), seed=5),  # a 256 x 256 kernel is exactly one PREVIEW_CHUNK
    ],
    ids=["default-mlp", "odd-mlp", "autoencoder", "smallest-ae", "chunk-boundary"],
)
def test_preview_equals_model_init(spec):
    """The fast preview must be the very values flax's model.init produces."""
    exact = models.build_model(spec).init(jax.random.key(spec.seed), models.example_batch(spec))
    preview = models.preview_variables(spec)
    assert jax.tree_util.tree_structure(preview) == jax.tree_util.tree_structure(exact)
    assert_leaves_close(preview, exact, rtol=1e-6, atol=1e-7, same_dtype=True)
