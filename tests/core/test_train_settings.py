"""Training settings (core/train.py): TrainConfig keeps every valid value and refuses, by name, every bad
one; and each setting takes effect in the compiled training step."""

import json
import math
from dataclasses import fields

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import models
from core.data import make_dataset
from core.errors import ConfigError
from core.spec import MAX_SEED, ModelSpec
from core.tasks import RECONSTRUCTION_LOSSES
from core.training import MAX_BATCH_SIZE, MAX_EPOCHS, OPTIMIZERS, TrainConfig, fit_batch_size, steps_per_epoch, train
from core.training.config import MAX_L2, MAX_LEARNING_RATE, MAX_NOISE
from core.training.programs import epoch_plan
from testkit.support import is_number_text
from testkit.trees import assert_leaves_close

# ----- TrainConfig: round trip -------------------------------------------------------------

configs = st.builds(
    TrainConfig,
    optimizer=st.sampled_from(sorted(OPTIMIZERS)),
    learning_rate=st.floats(0, MAX_LEARNING_RATE, exclude_min=True),
    batch_size=st.integers(1, MAX_BATCH_SIZE),
    epochs=st.integers(1, MAX_EPOCHS),
    seed=st.integers(0, MAX_SEED),
    momentum=st.floats(0, 1, exclude_max=True),
    weight_decay=st.floats(0, 1),
    reconstruction_loss=st.sampled_from(sorted(RECONSTRUCTION_LOSSES)),
    augment=st.booleans(),
    l2=st.floats(0, MAX_L2),
    noise=st.floats(0, MAX_NOISE),
    train_fraction=st.floats(0, 1, exclude_min=True),
)


@settings(max_examples=200, deadline=None)
@given(config=configs)
def test_every_training_setting_survives_to_dict_and_json(config):
    data = config.to_dict()
    assert set(data) == {f.name for f in fields(TrainConfig)}  # no setting left out of saved runs
    back = TrainConfig.from_dict(data)
    for name in data:
        assert getattr(back, name) == getattr(config, name), name
    assert back == config
    assert TrainConfig.from_dict(json.loads(json.dumps(data))) == config


def test_boundary_values_and_numeric_text_are_accepted():
    config = TrainConfig(
        learning_rate="1e6", batch_size="8192", epochs=1000.0, seed=2**31 - 1, momentum=0, weight_decay=1
    )
    assert (config.learning_rate, config.batch_size, config.epochs, config.seed) == (1e6, 8192, 1000, 2147483647)
    assert type(config.batch_size) is int and type(config.epochs) is int and type(config.learning_rate) is float
    assert (config.momentum, config.weight_decay) == (0.0, 1.0)
    assert TrainConfig(batch_size=1, epochs=1, seed=0, weight_decay=0).batch_size == 1


# ----- TrainConfig: refusal, naming the field ----------------------------------------------

WORDS = {
    "learning_rate": "learning rate",
    "batch_size": "batch size",
    "epochs": "number of epochs",
    "seed": "seed",
    "momentum": "momentum",
    "weight_decay": "weight decay",
    "l2": "L2 penalty",
    "noise": "input noise",
    "train_fraction": "training fraction",
}
WHOLE = ("batch_size", "epochs", "seed")


finite = st.floats(allow_nan=False, allow_infinity=False)
not_numbers = st.one_of(
    st.booleans(),  # True is an int to Python, never a batch size of 1
    st.sampled_from([math.nan, math.inf, -math.inf, "nan", "inf", "-Infinity"]),
    st.text(max_size=8).filter(lambda t: not is_number_text(t)),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
HUGE = 2**63  # ints past the float range are left out: float(10**400) raises OverflowError, not ConfigError
OUT_OF_RANGE = {
    "learning_rate": st.floats(max_value=0, allow_infinity=False) | st.floats(min_value=1e6, exclude_min=True,
                                                                              allow_infinity=False),
    "batch_size": st.integers(-HUGE, 0) | st.integers(MAX_BATCH_SIZE + 1, HUGE),
    "epochs": st.integers(-HUGE, 0) | st.integers(MAX_EPOCHS + 1, HUGE),
    "seed": st.integers(-HUGE, -1) | st.integers(MAX_SEED + 1, HUGE),
    "momentum": st.floats(max_value=0, exclude_max=True, allow_infinity=False) | st.floats(min_value=1,
                                                                                          allow_infinity=False),
    "weight_decay": st.floats(max_value=0, exclude_max=True, allow_infinity=False) | st.floats(min_value=1,
                                                                                              exclude_min=True,
                                                                                              allow_infinity=False),
    "l2": st.floats(max_value=0, exclude_max=True, allow_infinity=False) | st.floats(min_value=MAX_L2,
                                                                                    exclude_min=True,
                                                                                    allow_infinity=False),
    "noise": st.floats(max_value=0, exclude_max=True, allow_infinity=False) | st.floats(min_value=MAX_NOISE,
                                                                                       exclude_min=True,
                                                                                       allow_infinity=False),
    "train_fraction": st.floats(max_value=0, allow_infinity=False) | st.floats(min_value=1, exclude_min=True,
                                                                               allow_infinity=False),
}  # fmt: skip
not_whole = finite.filter(lambda x: x != int(x)) | st.sampled_from(["2.5", "0.1", "1e-3"])


def _refused(name, value, via_dict: bool) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        if via_dict:
            TrainConfig.from_dict({name: value})
        else:
            TrainConfig(**{name: value})
    assert info.value.field == name, info.value
    return info.value


@pytest.mark.parametrize("via_dict", [False, True], ids=["constructor", "from_dict"])
@pytest.mark.parametrize("name", sorted(WORDS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_number_setting_refuses_what_is_not_a_number_in_range(name, via_dict, data):
    bad = data.draw(not_numbers | OUT_OF_RANGE[name] | (not_whole if name in WHOLE else st.nothing()))
    err = _refused(name, bad, via_dict)
    assert str(err).startswith(f"{name}: {WORDS[name]} must be")


@pytest.mark.parametrize(("name", "value", "words"), [
    ("batch_size", True, "batch size must be a whole number, got True"),
    ("epochs", False, "number of epochs must be a whole number, got False"),
    ("seed", True, "seed must be a whole number, got True"),
    ("learning_rate", True, "learning rate must be a number, got True"),
    ("learning_rate", math.inf, "learning rate must be a finite number, got inf"),
    ("batch_size", 2.5, "batch size must be a whole number, got 2.5"),
    ("epochs", 1001, "number of epochs must be between 1 and 1,000, got 1,001"),
    ("learning_rate", 2e6, "learning rate must be above 0 and at most 1e+06, got 2e+06"),
    ("momentum", 1, "momentum must be at least 0 and below 1, got 1"),
    ("weight_decay", -0.5, "weight decay must be between 0 and 1, got -0.5"),
    ("l2", 2, "L2 penalty must be between 0 and 1, got 2"),
    ("noise", -0.1, "input noise must be between 0 and 1, got -0.1"),
    ("train_fraction", 0, "training fraction must be above 0 and at most 1 (100%), got 0"),
    ("train_fraction", 5, "training fraction must be above 0 and at most 1 (100%), got 5"),
])  # fmt: skip
def test_refusals_say_what_was_given_and_what_is_accepted(name, value, words):
    assert _refused(name, value, via_dict=False).reason == words


@pytest.mark.parametrize("via_dict", [False, True], ids=["constructor", "from_dict"])
@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["optimizer", "reconstruction_loss"]), data=st.data())
def test_unknown_optimizer_or_loss_is_refused(name, via_dict, data):
    known = OPTIMIZERS if name == "optimizer" else RECONSTRUCTION_LOSSES
    bad = data.draw(st.text(max_size=8).filter(lambda t: t not in known) | st.none() | st.integers())
    err = _refused(name, bad, via_dict)
    assert "unknown" in err.reason and ", ".join(known) in err.reason


@pytest.mark.parametrize("via_dict", [False, True], ids=["constructor", "from_dict"])
@settings(max_examples=60, deadline=None)
@given(bad=st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.none(), st.just(np.True_)))
def test_augment_must_be_true_or_false(bad, via_dict):
    assert "augment must be true or false" in _refused("augment", bad, via_dict).reason


@settings(max_examples=60, deadline=None)
@given(key=st.text(max_size=12).filter(lambda k: k not in {f.name for f in fields(TrainConfig)}))
def test_an_unknown_setting_is_refused_by_name(key):
    err = _refused(key, 1, via_dict=True)
    assert err.reason == "unknown training setting"


@pytest.mark.parametrize("data", [[], "adam", None, 3])
def test_settings_that_are_not_an_object_are_refused(data):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict(data)
    assert info.value.field == "config"


# ----- every setting reaches the compiled step ---------------------------------------------
# ``train`` runs two steps (64 images, batches of 32); the same two steps are written out here
# with plain jnp maths and the optax optimiser the settings name, from the same starting values
# and the same epoch plan. Equal parameters mean the setting took effect; the other value of the
# setting gives parameters a hundred times further away than the tolerance.

TINY = ModelSpec.mlp((8,), seed=2)
TINY_AE = ModelSpec.autoencoder((8,), (), seed=2)  # 784-[8]-784
TOLERANCE = {"rtol": 1e-4, "atol": 2e-5}  # float32 rounding, compiled vs eager: differences seen ~1e-6


@pytest.fixture(scope="module")
def two_batches(sample):
    """64 training digits (two batches of 32), 16 test digits."""
    return make_dataset(
        "two batches",
        "first 64 train / 16 test digits of the sample",
        sample.class_names,
        (sample.train_images[:64], sample.train_labels[:64]),
        (sample.test_images[:16], sample.test_labels[:16]),
    )


def _dense(params, x):
    return x @ params["kernel"] + params["bias"]


def _mlp_loss(params, x, y):
    """Cross-entropy of the 784-8-10 ReLU MLP, by hand."""
    logits = _dense(params["Dense_1"], jax.nn.relu(_dense(params["Dense_0"], x.reshape(len(x), -1))))
    log_p = logits - jax.scipy.special.logsumexp(logits, axis=1, keepdims=True)
    return -jnp.mean(log_p[jnp.arange(len(y)), y])


def _autoencoder_logits(params, x):
    code = _dense(params["encoder"]["Dense_0"], x.reshape(len(x), -1))  # the code layer is linear
    return _dense(params["decoder"]["Dense_0"], code)


def _bce_loss(params, x, _):
    z, pixels = _autoencoder_logits(params, x), x.reshape(len(x), -1)
    return jnp.mean(jnp.logaddexp(0.0, z) - pixels * z)  # -log sigmoid(z)*p - log(1-sigmoid(z))*(1-p)


def _mse_loss(params, x, _):
    return jnp.mean((jax.nn.sigmoid(_autoencoder_logits(params, x)) - x.reshape(len(x), -1)) ** 2)


def _shifted(image: np.ndarray, down: int, right: int) -> np.ndarray:
    """The 28x28x1 image moved ``down`` and ``right`` pixels (-1, 0 or 1), filled with 0."""
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    return padded[1 - down : 29 - down, 1 - right : 29 - right]


def _reference_run(spec, dataset, seed, tx, loss, augment: bool, batch: int = 32, plan_epochs=(0,), start=None):
    """Epochs of ``tx`` on ``loss``, written out: (params, per-step losses, optimizer state). Epoch ``e``
    of ``plan_epochs`` follows ``epoch_plan(seed, e)``; ``start`` (params, optimizer state) goes on from
    an earlier reference run instead of ``model.init`` and ``tx.init``."""

    @jax.jit  # one small compile instead of many op-by-op ones
    def step(params, opt_state, images, labels):
        value, grads = jax.value_and_grad(loss)(params, images, labels)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    params = models.init_params(spec) if start is None else start[0]
    opt_state = tx.init(params) if start is None else start[1]
    losses = []
    for epoch in plan_epochs:
        plan = epoch_plan(seed, epoch, dataset.num_train)  # rows: image order, shift down, shift right
        for first in range(0, dataset.num_train - batch + 1, batch):
            at = plan[:, first : first + batch]
            images = dataset.train_images[at[0]].astype(np.float32) / 255
            if augment:
                images = np.stack([_shifted(im, d, r) for im, d, r in zip(images, at[1], at[2], strict=True)])
            params, opt_state, value = step(params, opt_state, images, dataset.train_labels[at[0]])
            losses.append(float(value))
    return params, losses, opt_state


def _largest_difference(a, b) -> float:
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in pairs)


def _check_matches(result, expected, other):
    """``result`` equals the ``expected`` reference (params, losses), and is far from the ``other`` one."""
    assert result.status == "finished" and result.steps == len(expected[1])
    np.testing.assert_allclose(result.history.step_losses, expected[1], rtol=1e-5)
    assert_leaves_close(result.params, expected[0], **TOLERANCE)
    assert _largest_difference(expected[0], other[0]) > 1e-3  # (3e-3 to 4e-2 for the settings below)


@pytest.mark.parametrize("augment", [False, True])
def test_augment_shifts_the_training_images_only_when_asked(two_batches, augment):
    config = TrainConfig(learning_rate=0.01, batch_size=32, epochs=1, seed=3, augment=augment)
    result = train(TINY, config, two_batches)
    plain = _reference_run(TINY, two_batches, 3, optax.adam(0.01), _mlp_loss, augment=False)
    shifted = _reference_run(TINY, two_batches, 3, optax.adam(0.01), _mlp_loss, augment=True)
    _check_matches(result, *((shifted, plain) if augment else (plain, shifted)))


def test_sgd_momentum_reaches_the_optimizer(two_batches):
    # the first step of momentum SGD is plain SGD; the second adds momentum times the first gradient
    config = TrainConfig(optimizer="sgd", learning_rate=0.1, momentum=0.5, batch_size=32, epochs=1, augment=False)
    result = train(TINY, config, two_batches)
    assert result.opt_state.hyperparams["momentum"] == np.float32(0.5)
    assert result.opt_state.hyperparams["learning_rate"] == np.float32(0.1)
    expected = _reference_run(TINY, two_batches, 0, optax.sgd(0.1, momentum=0.5), _mlp_loss, augment=False)
    default = _reference_run(TINY, two_batches, 0, optax.sgd(0.1, momentum=0.9), _mlp_loss, augment=False)
    _check_matches(result, expected, default)


def test_adamw_weight_decay_reaches_the_optimizer(two_batches):
    config = TrainConfig(optimizer="adamw", learning_rate=0.01, weight_decay=0.5, batch_size=32, epochs=1,
                         augment=False)  # fmt: skip
    result = train(TINY, config, two_batches)
    assert result.opt_state.hyperparams["weight_decay"] == np.float32(0.5)
    expected = _reference_run(TINY, two_batches, 0, optax.adamw(0.01, weight_decay=0.5), _mlp_loss, augment=False)
    default = _reference_run(TINY, two_batches, 0, optax.adamw(0.01, weight_decay=1e-4), _mlp_loss, augment=False)
    _check_matches(result, expected, default)


def test_every_epoch_trains_on_its_own_shuffle(two_batches):
    """Epoch e draws its batches from ``epoch_plan(seed, e)``: a run that reused the first epoch's order
    would see the same two batches of 32 in the same order every epoch."""
    config = TrainConfig(learning_rate=0.01, batch_size=32, epochs=3, seed=3, augment=False)
    result = train(TINY, config, two_batches)
    own = _reference_run(TINY, two_batches, 3, optax.adam(0.01), _mlp_loss, augment=False, plan_epochs=(0, 1, 2))
    first = _reference_run(TINY, two_batches, 3, optax.adam(0.01), _mlp_loss, augment=False, plan_epochs=(0, 0, 0))
    _check_matches(result, own, first)


#: optimizer: (the setting changed when the run is continued, its first value, its new value)
CONTINUED = {"sgd": ("momentum", 0.9, 0.2), "adamw": ("weight_decay", 1e-4, 0.5)}


@pytest.mark.parametrize("name", sorted(CONTINUED))
def test_a_continued_run_trains_with_its_changed_momentum_or_weight_decay(two_batches, name):
    """Continuing a run (the Train page's Continue, a resumed job) with another momentum (sgd) or weight
    decay (adamw) trains its new epochs with the new value, not the one saved in its optimizer state."""
    setting, old, value = CONTINUED[name]
    base = {"optimizer": name, "learning_rate": 0.1, "batch_size": 32, "augment": False}
    first = train(TINY, TrainConfig(**base, **{setting: old}, epochs=1), two_batches)
    more = train(TINY, TrainConfig(**base, **{setting: value}, epochs=2), two_batches, resume=first)
    assert more.opt_state.hyperparams[setting] == np.float32(value)

    def transform(setting_value):
        return getattr(optax, name)(0.1, **{setting: setting_value})

    start = _reference_run(TINY, two_batches, 0, transform(old), _mlp_loss, augment=False)

    def second_epoch(setting_value):
        params, losses, _ = _reference_run(
            TINY, two_batches, 0, transform(setting_value), _mlp_loss, augment=False, plan_epochs=(1,),
            start=(start[0], start[2]),
        )  # fmt: skip
        return params, start[1] + losses

    _check_matches(more, second_epoch(value), second_epoch(old))


def _kernels_only(params):
    return jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "kernel", params)


def test_l2_penalty_is_the_gradient_of_half_the_squared_kernels(two_batches):
    # loss + l2 * sum(w**2) / 2 has the gradient g + l2 * w: optax.add_decayed_weights before adam,
    # on the kernels only (biases are not penalised). AdamW's decay is another thing: it shrinks
    # the weights after adam's scaling, so it is not this reference.
    config = TrainConfig(learning_rate=0.01, l2=0.5, batch_size=32, epochs=1, augment=False)
    result = train(TINY, config, two_batches)

    def with_l2(l2):
        return optax.chain(optax.add_decayed_weights(l2, mask=_kernels_only), optax.adam(0.01))

    expected = _reference_run(TINY, two_batches, 0, with_l2(0.5), _mlp_loss, augment=False)
    decayed = _reference_run(TINY, two_batches, 0, optax.adamw(0.01, weight_decay=0.5), _mlp_loss, augment=False)
    _check_matches(result, expected, _reference_run(TINY, two_batches, 0, with_l2(0.0), _mlp_loss, augment=False))
    assert _largest_difference(expected[0], decayed[0]) > 1e-3


def test_binary_cross_entropy_is_the_loss_an_autoencoder_trains_on_when_chosen(two_batches):
    config = TrainConfig(optimizer="sgd", learning_rate=1.0, momentum=0, batch_size=32, epochs=1,
                         reconstruction_loss="bce", augment=False)  # fmt: skip
    result = train(TINY_AE, config, two_batches)
    expected = _reference_run(TINY_AE, two_batches, 0, optax.sgd(1.0), _bce_loss, augment=False)
    mse = _reference_run(TINY_AE, two_batches, 0, optax.sgd(1.0), _mse_loss, augment=False)
    _check_matches(result, expected, mse)


# ----- a batch size that follows a small dataset ---------------------------------------------


@pytest.mark.parametrize(("images", "size"), [(72, 16), (100, 16), (127, 16), (3, 1), (1, 1), (8, 2)])
def test_a_batch_larger_than_the_data_becomes_a_power_of_two_with_four_steps_an_epoch(images, size):
    config, note = fit_batch_size(TrainConfig(batch_size=128), images)
    assert config.batch_size == size
    assert images // size >= 4 or size == 1
    assert f"Batch size {size} instead of 128: there are only {images} training images" in note
    assert steps_per_epoch(config, images) == images // size  # trains, where 128 was refused


def test_a_batch_the_data_fills_is_kept_and_nothing_is_said():
    config = TrainConfig(batch_size=128)
    assert fit_batch_size(config, 128) == (config, "")
    assert fit_batch_size(config, 60_000) == (config, "")


def test_the_smallest_training_fraction_decides():
    config = TrainConfig(batch_size=128, train_fraction=0.5)
    fitted, note = fit_batch_size(config, 1_000, fractions=(0.05,))  # 50 images at 5%
    assert fitted.batch_size == 8 and "only 50 training images" in note
    assert fitted.train_fraction == 0.5 and fitted.learning_rate == config.learning_rate
