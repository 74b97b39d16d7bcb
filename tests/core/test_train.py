import threading

import jax
import numpy as np
import pytest

from core import models
from core.errors import ConfigError
from core.predict import evaluate, mean_image_mse
from core.spec import ModelSpec
from core.training import TrainConfig, train
from core.training.config import SHIFT_PIXELS
from core.training.optimizer import fresh_state, optimizer
from core.training.programs import epoch_plan, shift_images
from core.training.stack import fresh_model_state
from testkit.trees import assert_leaves_close

TINY_MLP = ModelSpec.mlp((64,))


def _leaves_equal(a, b) -> bool:
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return all(np.array_equal(x, y) for x, y in pairs)


def test_mlp_learns_on_real_digits(small):
    events = []
    result = train(TINY_MLP, TrainConfig(epochs=4, batch_size=64), small, on_progress=events.append)
    assert result.status == "finished"
    assert result.steps == 4 * (1024 // 64)
    first, last = result.history.epochs[0], result.history.epochs[-1]
    assert last.train_loss < 0.6 * first.train_loss
    assert last.test_accuracy > 0.75 > first.test_accuracy - 0.1
    assert result.samples_per_s > 0 and result.train_s > 0
    # the stream: compiling first, done last, steps never go backwards, every epoch reported once
    assert events[0].phase == "compiling" and events[-1].phase == "done"
    steps = [e.step for e in events]
    assert steps == sorted(steps) and steps[-1] == result.steps
    assert all(len(e.new_losses) == 1 for e in events)  # one model
    assert sum(len(e.new_losses[0]) for e in events) == result.steps
    assert [e.epoch_metrics[0].epoch for e in events if e.epoch_metrics] == [1, 2, 3, 4]
    assert events[-1].eta_s == 0.0


def test_same_seed_same_history_and_params(small):
    config = TrainConfig(epochs=2, batch_size=128, seed=5)
    a = train(TINY_MLP, config, small)
    b = train(TINY_MLP, config, small)
    assert a.history.step_losses == b.history.step_losses
    assert _leaves_equal(a.params, b.params)
    c = train(TINY_MLP, TrainConfig(epochs=2, batch_size=128, seed=6), small)
    assert c.history.step_losses != a.history.step_losses


def test_learning_rate_change_reuses_the_compiled_step_and_takes_effect(small):
    slow = train(TINY_MLP, TrainConfig(epochs=1, learning_rate=1e-3), small)
    fast = train(TINY_MLP, TrainConfig(epochs=1, learning_rate=3e-3), small)
    assert fast.compile_s == 0.0
    assert slow.steps == fast.steps == 1024 // 128
    assert fast.opt_state.hyperparams["learning_rate"] == np.float32(3e-3)
    # the same start and first batch give the same first loss; three times longer steps then descend faster
    assert fast.history.step_losses[0] == slow.history.step_losses[0]
    assert np.mean(fast.history.step_losses[-4:]) < np.mean(slow.history.step_losses[-4:]) - 0.2


def test_stop_from_another_thread_ends_training_after_the_current_chunk(sample):
    stop = threading.Event()
    reported: list[int] = []  # the step count after each chunk, in order
    chunks: list[int] = []
    at_stop: list[int] = []

    def stop_now() -> None:
        stop.set()
        at_stop.append(reported[-1])  # read after setting: the chunk running then is the last one

    def on_progress(p):
        if p.new_losses[0]:
            chunks.append(len(p.new_losses[0]))
        reported.append(p.step)
        if p.step >= 40 and not stop.is_set():  # inside the second epoch of 35 steps (4,500 // 128)
            threading.Thread(target=stop_now).start()  # the stop arrives while the next chunks run

    spec = ModelSpec.mlp((256,))
    # chunks of one step (after the first two, which measure): a stop that waited for the epoch's end would show
    result = train(spec, TrainConfig(epochs=200), sample, on_progress=on_progress, stop=stop, chunk_seconds=1e-6)
    assert result.status == "stopped"
    assert "stopped by request" in result.reason
    assert max(chunks) <= 2 and at_stop[0] >= 40
    assert at_stop[0] <= result.steps <= at_stop[0] + max(chunks)
    assert len(result.history.step_losses) == result.steps
    assert result.history.epochs[0].epoch == 1
    evaluation = evaluate(spec, result.params, sample.test_images, sample.test_labels)
    assert evaluation.accuracy > 0.5  # the partial model is a trained model


def test_divergence_stops_with_reason_and_finite_params(small):
    result = train(TINY_MLP, TrainConfig(optimizer="sgd", learning_rate=1e6, epochs=3), small)
    assert result.status == "diverged"
    assert "learning rate" in result.reason and "1e+06" in result.reason
    assert result.steps < 3 * 8
    assert all(np.isfinite(result.history.step_losses))
    assert all(bool(np.all(np.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(result.params))


def _trained_for(steps: int, config: TrainConfig, dataset):
    """The run of ``config`` stopped after exactly ``steps`` steps (chunks of one step after the first two)."""
    stop = threading.Event()

    def stop_there(p):
        if p.step >= steps:
            stop.set()

    return train(TINY_MLP, config, dataset, on_progress=stop_there, stop=stop, chunk_seconds=1e-9)


def test_a_loss_exploding_in_the_middle_of_a_chunk_keeps_neither_that_step_nor_its_update(small):
    """SGD at a learning rate of 12 explodes at step 5 (loss ~6,000, over 1,000 times the first 2.36),
    the third step of the second chunk (steps 3 to 32: chunks of 0.2 s are the rest of the epoch here).
    The engine rolls that chunk back: the history and the parameters are those of the run stopped after
    its last good step, with no loss of the exploded step and no update from it."""
    config = TrainConfig(optimizer="sgd", learning_rate=12, momentum=0, batch_size=32, epochs=2, augment=False)
    chunks = []
    result = train(TINY_MLP, config, small, chunk_seconds=1e9, on_progress=lambda p: chunks.append(p.new_losses[0]))
    assert result.status == "diverged" and "at step 5" in result.reason and "after step 3" in result.reason
    assert [len(c) for c in chunks if c] == [2, 1]  # the second chunk ran 3 steps and kept 1 of them
    first = result.history.step_losses[0]
    assert result.steps == len(result.history.step_losses) == 3
    assert all(np.isfinite(loss) and loss <= 1000 * first for loss in result.history.step_losses)
    good = _trained_for(3, config, small)
    assert good.status == "stopped" and good.steps == 3
    assert result.history.step_losses == good.history.step_losses
    assert_leaves_close(result.params, good.params, rtol=1e-6, atol=1e-7)


def test_resumed_run_equals_uninterrupted_run(small):
    config = TrainConfig(epochs=3, batch_size=64, seed=1)
    full = train(TINY_MLP, config, small)
    stop = threading.Event()

    def stop_mid_epoch(p):
        if p.step >= 20:
            stop.set()

    part = train(TINY_MLP, config, small, on_progress=stop_mid_epoch, stop=stop, chunk_seconds=1e-4)
    assert part.status == "stopped" and 20 <= part.steps < 32
    resumed = train(TINY_MLP, config, small, resume=part)
    assert resumed.steps == full.steps
    np.testing.assert_allclose(resumed.history.step_losses, full.history.step_losses, rtol=1e-6)
    assert_leaves_close(resumed.params, full.params, rtol=1e-5, atol=1e-7)
    assert [e.epoch for e in resumed.history.epochs] == [1, 2, 3]


def test_resume_for_more_epochs_continues_the_curve(small):
    first = train(TINY_MLP, TrainConfig(epochs=1), small)
    more = train(TINY_MLP, TrainConfig(epochs=2), small, resume=first)
    assert more.history.step_losses[: first.steps] == first.history.step_losses
    assert more.steps == 2 * first.steps


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(optimizer="adam", learning_rate=1e-3),
        TrainConfig(optimizer="adamw", learning_rate=1e-3, weight_decay=1e-2),
        TrainConfig(optimizer="sgd", learning_rate=0.05, momentum=0.9),
    ],
    ids=["adam", "adamw", "sgd"],
)
def test_every_optimizer_reduces_the_loss(small, config):
    result = train(
        TINY_MLP, TrainConfig(**{**config.to_dict(), "epochs": 3, "batch_size": 32, "augment": False}), small
    )
    losses = result.history.step_losses
    assert len(losses) == 96
    assert np.mean(losses[-16:]) < 0.5 * np.mean(losses[:16])


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_autoencoder_beats_the_mean_image(small, loss):
    spec = ModelSpec.autoencoder((128, 16), (128,))
    result = train(spec, TrainConfig(epochs=4, batch_size=32, reconstruction_loss=loss, augment=False), small)
    assert result.history.epochs[0].test_accuracy is None
    mse = evaluate(spec, result.params, small.test_images, small.test_labels).mse
    baseline = mean_image_mse(small.train_images, small.test_images)
    assert mse < 0.75 * baseline


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**40}, "seed"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"momentum": 1.0}, "momentum"),
        ({"reconstruction_loss": "l1"}, "reconstruction_loss"),
    ],
)
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        TrainConfig(**kwargs)
    assert info.value.field == field


def test_batch_larger_than_dataset(small):
    with pytest.raises(ConfigError, match="batch size 2,048 is larger than the 1,024 training images"):
        train(TINY_MLP, TrainConfig(batch_size=2048), small)


def test_shift_images_moves_digits_without_losing_ink(sample):
    raw = sample.train_images[:200]
    border = raw.copy()
    border[:, 1:-1, 1:-1] = 0
    images = jax.numpy.asarray(raw[border.sum(axis=(1, 2, 3)) == 0][:64], dtype=np.float32)
    assert images.shape[0] == 64  # nearly every MNIST digit leaves the outer pixels empty
    shifts = epoch_plan(0, 0, 64)[1:]
    shifted = np.asarray(shift_images(images, jax.numpy.asarray(shifts)))
    assert shifted.shape == images.shape
    # with an empty 1-pixel border a 1-pixel shift keeps all the ink
    np.testing.assert_allclose(shifted.sum(axis=(1, 2, 3)), np.asarray(images).sum(axis=(1, 2, 3)))
    moved = (np.abs(shifted - np.asarray(images)).sum(axis=(1, 2, 3)) > 0).mean()
    assert 0.75 < moved < 1.0  # 8 of the 9 (dx, dy) choices move the digit
    # each image is its original moved by exactly the planned shift
    padded = np.pad(np.asarray(images), ((0, 0), (1, 1), (1, 1), (0, 0)))
    for image, original, dy, dx in zip(shifted, padded, shifts[0], shifts[1], strict=True):
        np.testing.assert_array_equal(image, original[1 - dy : 29 - dy, 1 - dx : 29 - dx])


@pytest.mark.slow
def test_default_mlp_reaches_94_percent_on_held_out_digits(sample):
    """The acceptance target: the default MLP, trained on the 4,500 sample digits, on 500 it never saw."""
    result = train(ModelSpec.mlp((512, 256)), TrainConfig(epochs=10), sample)
    assert result.final_metrics.test_accuracy >= 0.94


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_fresh_optimizer_state_equals_tx_init(name):
    params = models.init_params(ModelSpec.autoencoder((64, 8), (64,)))
    config = TrainConfig(optimizer=name, learning_rate=0.25, momentum=0.5, weight_decay=0.125)
    expected = optimizer(config).init(params)
    ours = fresh_state(config, params)
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(expected)
    assert_leaves_close(ours, expected, same_dtype=True)


def test_training_starts_from_the_values_of_model_init(small):
    """Training starts from exactly what flax's model.init returns."""
    spec = ModelSpec.mlp((64,), seed=4)
    exact = models.build_model(spec).init(jax.random.key(4), models.example_batch(spec))["params"]
    state = fresh_model_state(spec, TrainConfig())
    assert_leaves_close(state.params, exact, same_dtype=True)


def test_epoch_plan_is_fixed_by_seed_and_epoch():
    a = epoch_plan(3, 0, 1000)
    assert a.shape == (3, 1000) and a.dtype == np.int32
    assert sorted(a[0].tolist()) == list(range(1000))  # every image once
    assert set(np.unique(a[1:]).tolist()) == set(range(-SHIFT_PIXELS, SHIFT_PIXELS + 1))
    np.testing.assert_array_equal(a, epoch_plan(3, 0, 1000))
    assert not np.array_equal(a[0], epoch_plan(3, 1, 1000)[0])
    assert not np.array_equal(a[0], epoch_plan(4, 0, 1000)[0])
