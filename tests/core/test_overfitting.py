"""The overfitting lab (core/training/overfitting.py): training on part of the images, input noise,
and the train curve; with real digits of the bundled sample."""

import threading

import jax
import numpy as np
import pytest

from core.data import make_dataset
from core.errors import ConfigError
from core.spec import ModelSpec
from core.training import TrainConfig, train
from core.training.history import History
from core.training.overfitting import (
    describe_subset,
    l2_penalty,
    subset_size,
    train_eval_data,
    training_indices,
)
from testkit.trees import assert_leaves_close

TINY_MLP = ModelSpec.mlp((64,))


def test_a_fraction_keeps_each_class_share_and_the_same_images_every_time(sample):
    labels = sample.train_labels
    five, twenty = training_indices(labels, 0.05), training_indices(labels, 0.2)
    assert len(five) == subset_size(4_500, 0.05) == 225 and len(twenty) == 900
    np.testing.assert_array_equal(five, training_indices(labels, 0.05))  # fixed, whatever the run's seed
    assert set(five.tolist()) < set(twenty.tolist())  # nested: more data adds images, keeps the others
    share = np.bincount(labels, minlength=10) / len(labels)
    assert np.all(np.abs(np.bincount(labels[five], minlength=10) - 225 * share) < 1)  # stratified
    assert len(np.unique(five)) == 225
    np.testing.assert_array_equal(training_indices(labels, 1.0), np.arange(4_500))


def test_the_fraction_is_said_in_plain_words():
    assert describe_subset(60_000, 0.05) == "training on 3,000 of 60,000 images (5%)"
    assert describe_subset(4_500, 1.0) == "training on 4,500 of 4,500 images (100%)"
    assert subset_size(10, 0.001) == 1  # never nothing


def test_a_fraction_trains_exactly_as_the_subset_alone_would(small):
    # the epoch plan of a fraction is a plan over the subset pointing at its images, so a run on
    # 25% of ``small`` equals a run on a dataset made of those images only
    indices = training_indices(small.train_labels, 0.25)
    alone = make_dataset("subset", "the 25%", small.class_names,
                         (small.train_images[indices], small.train_labels[indices]),
                         (small.test_images, small.test_labels))  # fmt: skip
    config = TrainConfig(epochs=2, batch_size=32, seed=4)
    part = train(TINY_MLP, TrainConfig(epochs=2, batch_size=32, seed=4, train_fraction=0.25), small)
    whole = train(TINY_MLP, config, alone)
    assert part.steps == whole.steps == 2 * (256 // 32)
    np.testing.assert_allclose(part.history.step_losses, whole.history.step_losses, rtol=1e-6)
    assert_leaves_close(part.params, whole.params, rtol=1e-5, atol=1e-7)
    assert [e.train_eval_loss for e in part.history.epochs] == pytest.approx(
        [e.train_eval_loss for e in whole.history.epochs], rel=1e-5
    )


def test_with_five_percent_of_the_sample_the_train_test_gap_is_larger(sample):
    # issue 14 part 6: fixed seeds, real digits; the same model and number of steps for both
    spec = ModelSpec.mlp((256,), seed=0)
    gaps = {}
    for fraction, epochs in ((0.05, 40), (1.0, 2)):  # 7 batches of 32 per epoch at 5%, 140 at 100%
        config = TrainConfig(epochs=epochs, batch_size=32, seed=0, augment=False, train_fraction=fraction)
        last = train(spec, config, sample).history.epochs[-1]
        gaps[fraction] = last
    few, all_ = gaps[0.05], gaps[1.0]
    assert few.step == 280 and all_.step == 280
    # seen: 5% fits its 225 images (train 100%, test 84.8%, loss gap 0.57); all: 94.6% / 91.6% (gap 0.07)
    assert few.accuracy_gap > all_.accuracy_gap + 0.05
    assert few.loss_gap > all_.loss_gap + 0.2
    assert few.train_eval_accuracy > 0.98 and all_.test_accuracy > few.test_accuracy


def test_the_train_curve_is_measured_on_the_training_images_in_evaluation_mode(small):
    config = TrainConfig(epochs=1, batch_size=32, train_fraction=0.5, noise=0.3)
    result = train(TINY_MLP, config, small)
    data = train_eval_data(small, 0.5)
    assert data.count == 200 and data.images.shape == (1, 200, 28, 28, 1)  # one batch of the test set's size
    chosen = set(np.asarray(data.labels).ravel().tolist())
    assert chosen == set(range(10))
    # the same number from flax's apply on those images, clean (no noise at evaluation)
    from core import models
    from core.tasks import task_of

    x = np.asarray(data.images[0], np.float32) / 255
    logits = models.build_model(TINY_MLP).apply({"params": result.params}, x)
    expected = float(np.mean(-jax.nn.log_softmax(logits)[np.arange(200), np.asarray(data.labels[0])]))
    epoch = result.history.epochs[-1]
    assert epoch.train_eval_loss == pytest.approx(expected, rel=1e-5)
    assert task_of(TINY_MLP).score.key == "accuracy" and 0 <= epoch.train_eval_accuracy <= 1


def test_input_noise_changes_the_curve_and_same_seed_gives_the_same_one(small):
    noisy = TrainConfig(epochs=1, batch_size=64, seed=2, noise=0.3)
    a, b = train(TINY_MLP, noisy, small), train(TINY_MLP, noisy, small)
    assert a.history.step_losses == b.history.step_losses
    plain = train(TINY_MLP, TrainConfig(epochs=1, batch_size=64, seed=2), small)
    assert a.history.step_losses[0] != plain.history.step_losses[0]  # the very first batch is noisy
    other = train(TINY_MLP, TrainConfig(epochs=1, batch_size=64, seed=3, noise=0.3), small)
    assert other.history.step_losses != a.history.step_losses


def test_a_resumed_noisy_l2_run_on_part_of_the_data_equals_an_uninterrupted_one(small):
    config = TrainConfig(epochs=2, batch_size=32, seed=1, noise=0.2, l2=1e-3, train_fraction=0.5)
    full = train(TINY_MLP, config, small)
    stop = threading.Event()

    def stop_mid_epoch(p):
        if p.step >= 10:
            stop.set()

    part = train(TINY_MLP, config, small, on_progress=stop_mid_epoch, stop=stop, chunk_seconds=1e-4)
    assert part.status == "stopped" and 10 <= part.steps < 16
    resumed = train(TINY_MLP, config, small, resume=part)
    assert resumed.steps == full.steps == 2 * 16
    np.testing.assert_allclose(resumed.history.step_losses, full.history.step_losses, rtol=1e-6)
    assert_leaves_close(resumed.params, full.params, rtol=1e-5, atol=1e-7)
    with pytest.raises(ConfigError, match="same share of the training images"):
        train(TINY_MLP, TrainConfig(epochs=2, batch_size=32, seed=1, train_fraction=1.0), small, resume=part)


def test_l2_keeps_the_weights_smaller(small):
    plain = train(TINY_MLP, TrainConfig(epochs=2, batch_size=64), small)
    penalised = train(TINY_MLP, TrainConfig(epochs=2, batch_size=64, l2=0.01), small)
    assert float(l2_penalty(penalised.params)) < 0.8 * float(l2_penalty(plain.params))
    kernels = [np.asarray(p["kernel"]) for p in plain.params.values()]
    assert float(l2_penalty(plain.params)) == pytest.approx(sum(0.5 * np.sum(k**2) for k in kernels), rel=1e-5)


def test_a_batch_larger_than_the_images_a_fraction_keeps_is_refused_in_words(small):
    with pytest.raises(ConfigError) as info:
        train(TINY_MLP, TrainConfig(batch_size=128, train_fraction=0.1), small)
    assert info.value.field == "batch_size"
    assert info.value.reason == (
        "batch size 128 is larger than the 102 training images (10% of 1,024); use at most 102"
    )


def test_histories_saved_before_the_train_curve_still_load():
    old = {"epoch": 1, "step": 8, "train_loss": 0.5, "test_loss": 0.4, "test_accuracy": 0.9, "elapsed_s": 1.0}
    history = History.from_dict({"step_losses": [0.5] * 8, "epochs": [old]})
    assert history.epochs[0].train_eval_loss is None and history.epochs[0].loss_gap is None
    new = History.from_dict(history.to_dict())
    assert new.epochs == history.epochs
    with pytest.raises(ValueError, match="epoch 1"):
        History.from_dict({"epochs": [{**old, "train_eval_loss": "x"}]})
