"""Bad input in the pages: a clear message, no traceback, and nothing already trained is lost."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from core.data import tfds as tfds_source
from core.data.idx import export_idx, write_idx
from core.spec import ModelSpec
from testkit.support import button, open_variables, shown, state, text_input, wait_for_training


@pytest.fixture
def trained(app):
    """A session that already has a finished run: every bad input below must leave it alone."""
    app.switch_page("pages/train.py").run()
    app.number_input(key="train.epochs").set_value(1)
    button(app, "Start training").click().run()
    wait_for_training(app)
    run = state(app).runs[0]
    assert run.status == "finished"
    return app, run


def _start(app, **fields) -> None:
    for key, value in fields.items():
        widget = app.text_input(key=f"train.{key}") if key == "learning_rate" else app.number_input(key=f"train.{key}")
        widget.set_value(value)
    button(app, "Start training").click().run()
    assert not app.exception


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"learning_rate": "0"}, "learning rate must be above 0"),
        ({"learning_rate": "-0.1"}, "learning rate must be above 0"),
        ({"learning_rate": "nan"}, "finite number"),
        ({"learning_rate": ""}, "must be a number"),
        ({"batch_size": 0}, "batch size must be between 1"),
        ({"epochs": 0}, "number of epochs must be between 1"),
        ({"seed": -1}, "seed must be between 0"),
        ({"seed": 2**40}, "seed must be between 0"),
    ],
)
def test_bad_settings_are_refused_and_the_trained_run_kept(trained, fields, words):
    app, run = trained
    _start(app, **fields)
    messages = [shown(e.value) for e in app.error]
    assert any(words in m for m in messages), messages
    assert state(app).runs == [run] and run.status == "finished"


def test_a_learning_rate_of_a_million_diverges_and_says_why(app):
    app.switch_page("pages/train.py").run()
    app.selectbox(key="train.optimizer").set_value("sgd")
    _start(app, learning_rate="1e6", epochs=2)
    wait_for_training(app)
    run = state(app).runs[0]
    assert run.status == "diverged"
    assert any("learning rate (1e+06) is probably too high" in shown(e.value) for e in app.error)
    leaves = [np.asarray(x) for x in __import__("jax").tree_util.tree_leaves(run.result.params)]
    assert all(np.all(np.isfinite(leaf)) for leaf in leaves)  # last good parameters kept


def _idx_folder(tmp_path, sample, damage: str):
    folder = tmp_path / damage
    if damage == "empty":
        folder.mkdir()
        return folder
    export_idx(folder, "train", sample.train_images[:50], sample.train_labels[:50])
    export_idx(folder, "t10k", sample.test_images[:20], sample.test_labels[:20])
    images = folder / "t10k-images-idx3-ubyte"
    if damage == "partial":
        (folder / "t10k-labels-idx1-ubyte").unlink()
    elif damage == "truncated":
        images.write_bytes(images.read_bytes()[:-500])
    elif damage == "mismatch":
        write_idx(folder / "t10k-labels-idx1-ubyte", sample.test_labels[:19])
    elif damage == "magic":
        images.write_bytes(b"\x00\x00\x0b\x03" + images.read_bytes()[4:])
    elif damage == "huge":
        with open(images, "r+b") as f:
            f.truncate(2 * 1024**3)  # sparse: 2 GB on paper, nothing written
    return folder


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("missing", "does not exist"),
        ("empty", "holds: nothing"),
        ("partial", "no t10k-labels file"),
        ("truncated", "is truncated"),
        ("mismatch", "has 20 images but t10k-labels-idx1-ubyte has 19 labels"),
        ("magic", "magic number 0x00000b03"),
        ("huge", "larger than"),
    ],
)
def test_bad_data_folders_are_explained(trained, tmp_path, sample, damage, words):
    app, run = trained
    folder = tmp_path / "missing" if damage == "missing" else _idx_folder(tmp_path, sample, damage)
    app.radio(key="train.dataset").set_value("idx").run()
    text_input(app, "Folder").set_value(str(folder)).run()
    assert not app.exception
    messages = [shown(e.value) for e in app.error]
    assert any(words in m for m in messages), messages
    assert button(app, "Start training").disabled
    assert state(app).runs == [run]


def test_a_tfds_dataset_without_network_is_explained_and_cannot_be_trained_on(app, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    base = f"http://127.0.0.1:{closed}/mnist/"
    urls = {k: base + k for k in ("train_images", "train_labels", "test_images", "test_labels")}
    monkeypatch.setattr(tfds_source, "registered_resources", lambda name: (urls, {u: None for u in urls.values()}))
    tfds_source._load_cached.cache_clear()
    app.switch_page("pages/train.py").run()
    app.radio(key="train.dataset").set_value("mnist").run()  # how fast it fails: tests/core/test_tfds_source.py
    assert not app.exception
    assert any(
        "no network: cannot reach the download server (127.0.0.1)" in shown(e.value)
        and "bundled sample" in shown(e.value)
        for e in app.error
    )
    assert button(app, "Start training").disabled


def test_two_start_clicks_start_one_run(app):
    app.switch_page("pages/train.py").run()
    _start(app, epochs=200)
    assert len(state(app).runs) == 1
    assert button(app, "Start training").disabled  # a second click cannot reach the page
    assert len(state(app).runs) == 1
    state(app).runs[0].job.stop()
    wait_for_training(app)
    run = state(app).runs[0]
    assert run.status == "stopped" and run.result.steps < 200 * 35  # what it trained before the stop is kept


def test_changing_the_model_while_training_trains_the_original(app):
    app.switch_page("pages/train.py").run()
    _start(app, epochs=3)
    job = state(app).runs[0].job
    app.switch_page("pages/build.py").run()
    v = state(app).build.editor_version
    app.number_input(key=f"build.hidden.0.width.v{v}").set_value(64).run()
    assert state(app).spec == ModelSpec.mlp((64, 256))
    wait_for_training(app)
    assert job.result.spec == ModelSpec.mlp((512, 256)) and job.result.status == "finished"
    open_variables(app)  # the edited model is untrained: fresh values
    assert "starting" in app.info[0].value


@pytest.mark.parametrize(
    ("text", "words"),
    [(",".join(["8"] * 50), "at most 16 layers"), ("0, 5", "got 0"), ("-3", "got -3")],
)
def test_bad_typed_widths(app, text, words):
    text_input(app, "Hidden widths").set_value(text)
    button(app, "Apply widths").click().run()
    assert any(words in e.value for e in app.error)
    assert state(app).spec == ModelSpec.mlp((512, 256))


def test_autoencoder_code_wider_than_the_input(app):
    app.get("button_group")[0].set_value("autoencoder").run()
    text_input(app, "Encoder widths (last = code size)").set_value("1000")
    button(app, "Apply widths").click().run()
    assert any("wider than the input" in e.value for e in app.error)
    assert state(app).spec == ModelSpec.autoencoder()
