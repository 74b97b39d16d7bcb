"""The CNN of flax's MNIST example trained by the engine scores as well as the same CNN trained by a plain
flax/optax loop on the same batches, and clearly above the default MLP (issue 26). Prints the numbers."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from core import models
from core.presets import PRESETS
from core.spec import ModelSpec
from core.training import TrainConfig, train
from core.training.programs import epoch_plan

pytestmark = pytest.mark.slow

CNN = PRESETS["flax MNIST example (CNN)"][1]
CONFIG = TrainConfig(epochs=10, batch_size=128, learning_rate=1e-3, optimizer="adam", seed=0, augment=False)


class CNNByHand(nn.Module):
    """flax's examples/mnist CNN, as flax writes it."""

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(features=32, kernel_size=(3, 3))(x))
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.relu(nn.Conv(features=64, kernel_size=(3, 3))(x))
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))
        x = nn.relu(nn.Dense(features=256)(x))
        return nn.Dense(features=10)(x)


def plain_flax_accuracy(dataset) -> float:
    """flax's example loop (a jitted apply_model + update per batch, optax.adam), from the same starting
    weights, over the same batches in the same order as the engine (its epoch plans, last partial batch
    dropped), then the accuracy on the held-out digits."""
    model, tx = CNNByHand(), optax.adam(CONFIG.learning_rate)
    params = models.init_variables(CNN)["params"]
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, images, labels):
        def loss_fn(params):
            logits = model.apply({"params": params}, images)
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

        grads = jax.grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    steps = dataset.num_train // CONFIG.batch_size
    for epoch in range(CONFIG.epochs):
        order = epoch_plan(CONFIG.seed, epoch, dataset.num_train)[0]
        for i in range(steps):
            rows = order[i * CONFIG.batch_size : (i + 1) * CONFIG.batch_size]
            images = jnp.asarray(dataset.train_images[rows], jnp.float32) / 255.0
            params, opt_state = step(params, opt_state, images, jnp.asarray(dataset.train_labels[rows]))
    test = jnp.asarray(dataset.test_images, jnp.float32) / 255.0
    predicted = np.asarray(jax.jit(model.apply)({"params": params}, test).argmax(-1))
    return float((predicted == dataset.test_labels).mean())


def test_the_flax_example_cnn_scores_as_well_as_a_plain_flax_loop_and_above_the_mlp(sample):
    engine = train(CNN, CONFIG, sample)
    plain = plain_flax_accuracy(sample)
    mlp = train(ModelSpec.mlp(), CONFIG, sample)
    cnn_accuracy, mlp_accuracy = engine.test_metrics["accuracy"], mlp.test_metrics["accuracy"]
    print(
        f"\n{sample.num_test} held-out digits of the sample after {CONFIG.epochs} epochs (adam 1e-3, batch 128, "
        f"no augmentation): CNN in the engine {cnn_accuracy:.1%}, the same CNN in a plain flax/optax loop "
        f"{plain:.1%}, default MLP in the engine {mlp_accuracy:.1%}"
    )
    assert engine.status == "finished" and engine.steps == CONFIG.epochs * (sample.num_train // 128)
    assert cnn_accuracy >= plain - 1 / sample.num_test  # the same batches: at most one digit of rounding apart
    assert cnn_accuracy >= mlp_accuracy + 0.01  # clearly above: at least 5 more of the 500 digits right
