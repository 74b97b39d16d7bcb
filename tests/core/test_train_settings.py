"""Training settings (core/train.py): TrainConfig keeps every valid value and refuses, by name, every bad one."""

import json
import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.spec import MAX_SEED
from core.train import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_LEARNING_RATE,
    OPTIMIZERS,
    RECONSTRUCTION_LOSSES,
    TrainConfig,
)

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
}
WHOLE = ("batch_size", "epochs", "seed")


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


finite = st.floats(allow_nan=False, allow_infinity=False)
not_numbers = st.one_of(
    st.booleans(),  # True is an int to Python, never a batch size of 1
    st.sampled_from([math.nan, math.inf, -math.inf, "nan", "inf", "-Infinity"]),
    st.text(max_size=8).filter(lambda t: not _is_number_text(t)),
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
    ("batch_size", True, "batch size must be a number, got True"),
    ("epochs", False, "number of epochs must be a number, got False"),
    ("seed", True, "seed must be a number, got True"),
    ("learning_rate", True, "learning rate must be a number, got True"),
    ("learning_rate", math.inf, "learning rate must be a finite number, got inf"),
    ("batch_size", 2.5, "batch size must be a whole number, got 2.5"),
    ("epochs", 1001, "number of epochs must be between 1 and 1,000, got 1,001"),
    ("learning_rate", 2e6, "learning rate must be above 0 and at most 1e+06, got 2e+06"),
    ("momentum", 1, "momentum must be at least 0 and below 1, got 1"),
    ("weight_decay", -0.5, "weight decay must be between 0 and 1, got -0.5"),
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
