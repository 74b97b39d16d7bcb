import pickle

import msgpack
import numpy as np
import pytest
from flax import serialization

from core import files
from core.errors import CheckpointError
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from tests.trees import assert_leaves_close


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
