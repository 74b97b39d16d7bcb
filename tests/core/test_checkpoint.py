import json
import os
import pickle
from pathlib import Path

import msgpack
import numpy as np
import pytest
from flax import serialization

from core import files
from core.errors import CheckpointError
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.trees import assert_leaves_close


@pytest.fixture(scope="module")
def trained(small):
    return train(ModelSpec.autoencoder((64, 8), (64,)), TrainConfig(epochs=2, optimizer="adamw"), small)


def test_round_trip_keeps_everything(tmp_path, trained):
    path = checkpoint.save(tmp_path / "run.msgpack", trained)
    loaded = checkpoint.load(path)
    assert loaded.spec == trained.spec
    assert loaded.config == trained.config
    assert loaded.dataset == "small"
    assert loaded.history.step_losses == trained.history.step_losses
    assert loaded.history.epochs == trained.history.epochs
    assert loaded.status == "finished" and loaded.samples_per_s == pytest.approx(trained.samples_per_s)
    assert_leaves_close(loaded.params, trained.params)
    assert_leaves_close(loaded.opt_state, trained.opt_state)
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed into place


def test_loaded_checkpoint_resumes_like_the_original(small, trained, tmp_path):
    loaded = checkpoint.load(checkpoint.save(tmp_path / "r.msgpack", trained))
    config = TrainConfig(epochs=3, optimizer="adamw")
    a = train(trained.spec, config, small, resume=trained)
    b = train(trained.spec, config, small, resume=loaded)
    assert a.history.step_losses == b.history.step_losses


def _payload(trained) -> dict:
    return serialization.msgpack_restore(checkpoint.to_bytes(trained))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "is empty"),
        (np.random.default_rng(0).bytes(4096), "not a checkpoint"),
        (b"\x93\x01\x02\x03", "no 'flax-dashboard-checkpoint' marker"),
        (msgpack.packb({"format": "something else"}), "no 'flax-dashboard-checkpoint' marker"),
        (msgpack.packb({"format": checkpoint.FORMAT, "version": 99}), "version 99"),
        (msgpack.packb({"format": checkpoint.FORMAT, "version": 1, "spec": 5}), "'spec' is missing or not text"),
        (pickle.dumps({"format": checkpoint.FORMAT}), "not a checkpoint"),
    ],
    ids=["empty", "random", "msgpack-list", "other-format", "version", "spec-not-text", "pickle"],
)
def test_not_a_checkpoint(data, words):
    with pytest.raises(CheckpointError, match=words):
        checkpoint.from_bytes(data, "upload.msgpack")


def test_pickle_is_never_unpickled(tmp_path, monkeypatch):
    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("a pickle was executed",))

    path = tmp_path / "evil.msgpack"
    path.write_bytes(pickle.dumps(Boom()))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("pickle.loads called"))
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        checkpoint.load(path)


def test_spec_that_does_not_match_params(trained):
    payload = _payload(trained)
    payload["spec"] = ModelSpec.autoencoder((64, 9), (64,)).to_json()
    with pytest.raises(
        CheckpointError,
        match=r"upload: params/decoder/Dense_0/kernel is float32\[8, 64\], but its model spec needs float32\[9, 64\]",
    ):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload), "upload")


def test_missing_layer_and_invalid_spec(trained):
    payload = _payload(trained)
    del payload["params"]["decoder"]["Dense_1"]
    with pytest.raises(CheckpointError, match="lacks params/decoder/Dense_1/bias, which its model spec needs"):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload))
    payload = _payload(trained)
    payload["spec"] = '{"kind": "mlp", "hidden": [{"width": 0}]}'
    with pytest.raises(CheckpointError, match="invalid model or settings: hidden"):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload))


def test_nan_params_and_wrong_optimizer_state(trained):
    payload = _payload(trained)
    bias = payload["params"]["encoder"]["Dense_0"]["bias"].copy()
    bias[0] = np.nan
    payload["params"]["encoder"]["Dense_0"]["bias"] = bias
    with pytest.raises(CheckpointError, match="NaN"):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload))
    payload = _payload(trained)
    payload["config"] = payload["config"].replace('"adamw"', '"sgd"')
    with pytest.raises(CheckpointError, match="optimizer state does not match sgd"):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload))


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", 1000)
    path = tmp_path / "big.msgpack"
    with open(path, "wb") as f:
        f.truncate(5000)
    with pytest.raises(CheckpointError, match="larger than any checkpoint"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError, match="cannot open checkpoint"):
        checkpoint.load(tmp_path / "missing.msgpack")


def test_failed_save_leaves_the_old_file_intact(tmp_path, trained, monkeypatch):
    path = checkpoint.save(tmp_path / "keep.msgpack", trained)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, trained)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("field", "text", "words"),
    [
        ("spec", DEEP, "nested too deeply"),
        ("config", DEEP, "nested too deeply"),
        ("history", DEEP, "nested too deeply"),
        ("run", DEEP, "nested too deeply"),
        ("history", "[1, 2, 3]", "history must be a JSON object, got list"),
        ("history", '{"step_losses": "abc"}', "step losses must be a list of numbers"),
        ("history", '{"epochs": {"1": 2}}', "epochs must be a list"),
    ],
)
def test_a_damaged_json_field_is_refused(trained, field, text, words):
    payload = _payload(trained)
    payload[field] = text
    with pytest.raises(CheckpointError, match=words):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload), "upload")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("test_accuracy", "ninety", "has test_accuracy 'ninety', not a number"),
        ("test_loss", None, "has test_loss 'None', not a number"),
        ("epoch", 1.5, "has epoch 1.5, not a count"),
        ("step", 10**30, "has step 1000000000000000000000000000000, not a count"),
    ],
)
def test_text_where_an_epochs_number_should_be_is_refused(small, name, value, words):
    result = train(ModelSpec.mlp((8,)), TrainConfig(epochs=1), small)
    payload = _payload(result)
    history = json.loads(payload["history"])
    history["epochs"][0][name] = value
    payload["history"] = json.dumps(history)
    with pytest.raises(CheckpointError, match=f"epoch 1 of the history {words}"):
        checkpoint.from_bytes(serialization.msgpack_serialize(payload), "upload")


def test_device_files_and_fifos_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.msgpack"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    for path in (Path("/dev/zero"), fifo, tmp_path):
        with pytest.raises(CheckpointError, match="not a regular file"):
            checkpoint.load(path)
    with pytest.raises(CheckpointError, match="cannot open checkpoint"):
        checkpoint.load(str(tmp_path / "a\0b"))


def test_a_checkpoint_saved_before_the_overfitting_lab_loads_and_resumes(small, trained):
    # what the previous version wrote: no l2 / noise / train_fraction, no train-images metrics per epoch
    payload = _payload(trained)
    config = json.loads(payload["config"])
    for name in ("l2", "noise", "train_fraction"):
        del config[name]
    history = json.loads(payload["history"])
    for epoch in history["epochs"]:
        del epoch["train_eval_loss"], epoch["train_eval_accuracy"]
    payload.update(config=json.dumps(config), history=json.dumps(history))
    old = checkpoint.from_bytes(serialization.msgpack_serialize(payload))
    assert old.config == trained.config and old.config.train_fraction == 1.0
    assert [e.test_loss for e in old.history.epochs] == [e.test_loss for e in trained.history.epochs]
    assert all(e.train_eval_loss is None for e in old.history.epochs)
    more = train(old.spec, TrainConfig(epochs=3, optimizer="adamw"), small, resume=old)
    assert more.steps == 3 * (1024 // 128) and more.history.epochs[-1].train_eval_loss is not None


def test_the_overfitting_lab_settings_and_train_curve_survive_a_checkpoint(small):
    lab = train(ModelSpec.mlp((16,)), TrainConfig(epochs=1, l2=1e-3, noise=0.1, train_fraction=0.5), small)
    loaded = checkpoint.from_bytes(checkpoint.to_bytes(lab))
    assert loaded.config == lab.config and loaded.history.epochs == lab.history.epochs
    assert loaded.history.epochs[0].train_eval_accuracy is not None
