"""Strangers' text (a shared link's values, an uploaded checkpoint's name and contents, the folder and class
names of an uploaded zip, a typed folder) is shown as typed: rendered as GitHub-flavoured markdown, as
Streamlit renders it, it gives no link, image, HTML or formatting on any page, and it is cut short."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.data import load_dataset
from core.data.archive import unpack_upload
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.support import HOSTILE, assert_shown_as_typed, select_trained, shown, state
from testkit.waits import HANG_S
from tests.pages.conftest import ROOT

LINK = HOSTILE["link"]
IMAGE = HOSTILE["image"]
#: the same kinds of text as folder names (which hold no "/")
FOLDER_NAMES = {
    "link": "[Log in](http:h)",
    "image": "![x](b.png)",
    "url": "http:h.com",
    "www": "www.h.com",
    "email": "someone@h.com",
    "html": "<b>x<img src=x>",
    "long": "# " + ("**bold** _slanted_ ~~gone~~ " * 9)[:248],
}


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("key", ["model", "layers", "data", "opt"])
def test_a_hostile_link_value_is_shown_as_typed(key, value):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_S)
    at.query_params[key] = value
    at.run()
    assert not at.exception
    assert any("not valid" in i.value for i in at.info)
    # layers are items split at dots: the refusal quotes the first item that is not a layer
    assert_shown_as_typed(at, value, shown=value.split(".")[0] if key == "layers" else value)


def test_a_long_link_value_is_not_echoed_whole():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_S)
    at.query_params["data"] = "A" * 50_000
    at.run()
    assert not at.exception
    notice = next(i.value for i in at.info if "not valid" in i.value)
    assert len(notice) < 400 and "50,000 characters" in notice


def test_a_link_with_one_setting_uses_defaults_for_the_rest():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_S)
    at.query_params["lr"] = "0.01"
    at.run()
    assert not at.exception
    assert state(at).config.learning_rate == 0.01
    assert [layer.width for layer in state(at).spec.hidden] == [512, 256]


@pytest.fixture(scope="module")
def trained(small):
    return train(ModelSpec.mlp((16,)), TrainConfig(epochs=1, batch_size=64), small)


@pytest.fixture(scope="module")
def hostile_checkpoint(trained) -> bytes:
    """A real checkpoint whose dataset name is a stranger's markdown."""
    return checkpoint.to_bytes(dataclasses.replace(trained, dataset=IMAGE + " " + LINK))


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_an_uploaded_checkpoint_with_hostile_names_is_shown_as_typed(app, trained, value):
    """Its file name (in the run's label) and its dataset name, on the Train, Results and Variables pages."""
    app.switch_page("pages/train.py").run()
    upload = checkpoint.to_bytes(dataclasses.replace(trained, dataset=value))
    app.get("file_uploader")[0].set_value((f"{value}.msgpack", upload, "application/octet-stream")).run()
    assert not app.exception
    assert state(app).runs and state(app).runs[-1].dataset == value
    assert_shown_as_typed(app, value)
    app.switch_page("pages/results.py").run()  # the run's data is not here: a warning names it
    assert not app.exception
    assert any("not available here" in w.value for w in app.warning)
    assert_shown_as_typed(app, value)
    app.switch_page("pages/variables.py").run()
    assert not app.exception
    assert_shown_as_typed(app, value)


def test_a_refused_upload_names_the_file_as_text(app):
    app.switch_page("pages/train.py").run()
    name = f"{'A' * 200}{LINK}.msgpack"
    app.get("file_uploader")[0].set_value((name, b"not a checkpoint", "application/octet-stream")).run()
    assert not app.exception
    message = next(e.value for e in app.error if "Could not load" in e.value)
    assert "A" * 200 not in message and "…" in message
    assert_shown_as_typed(app, "A" * 60)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_typed_folder_is_quoted_as_typed(app, value):
    app.switch_page("pages/train.py").run()
    app.radio(key="train.dataset").set_value("idx").run()
    app.text_input(key="train.idx_folder").set_value(value).run()
    assert not app.exception
    assert any("Could not load this data" in e.value for e in app.error)
    assert_shown_as_typed(app, value, shown=str(Path(value)))  # quoted as a path: "//" is "/"


@pytest.fixture(scope="module")
def hostile_folder(sample) -> str:
    """An unpacked zip whose five class folders are named like ``FOLDER_NAMES``, and a plain sixth."""
    names = [*FOLDER_NAMES.values(), "plain"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i in range(120):
            png = io.BytesIO()
            Image.fromarray(sample.train_images[i, :, :, 0]).save(png, format="PNG")
            z.writestr(f"train/{names[i % len(names)]}/{i:03d}.png", png.getvalue())
    return f"folder:{unpack_upload(buffer.getvalue())}"


def test_hostile_class_names_are_shown_as_typed_on_every_page(app, hostile_folder):
    dataset = load_dataset(hostile_folder)
    assert set(FOLDER_NAMES.values()) < set(dataset.class_names)
    select_trained(
        app,
        train(
            ModelSpec.mlp((16,)).for_classes(len(dataset.class_names)), TrainConfig(epochs=1, batch_size=32), dataset
        ),
    )
    state(app).dataset_name = hostile_folder
    state(app).runs[-1].dataset = hostile_folder
    app.switch_page("pages/train.py").run()
    app.radio(key="train.dataset").set_value("folder").run()
    state(app).train.image_folder = hostile_folder.removeprefix("folder:")
    for page in ("pages/train.py", "pages/results.py", "pages/inside.py", "pages/draw.py"):
        app.switch_page(page).run()
        assert not app.exception, page
        for name in FOLDER_NAMES.values():  # every page lists them all in a selectbox but Train and Draw
            assert_shown_as_typed(app, name, echoed=page in ("pages/results.py", "pages/inside.py"))


def test_a_refused_checkpoint_leaves_the_uploader_and_its_reason_stays_until_the_next_upload(app, hostile_checkpoint):
    app.switch_page("pages/train.py").run()
    app.file_uploader(key="train.upload.0").set_value(("bad.msgpack", b"not a checkpoint", "x/y")).run()
    assert not app.exception
    # a fresh uploader without the file (the old widget and its file are gone), the reason under it
    assert [u.key for u in app.file_uploader] == ["train.upload.1"] and app.file_uploader[0].value is None
    assert "train.upload.0" not in app.session_state
    [reason] = [e.value for e in app.error if "Could not load" in e.value]
    assert reason.startswith(r"Could not load bad\.msgpack: bad\.msgpack is not a checkpoint of this tool")
    assert "'Download checkpoint' button" in shown(reason) and "*" not in shown(reason)  # no literal markup
    app.run()  # still there on the next rerun
    assert [e.value for e in app.error if "Could not load" in e.value] == [reason]
    app.file_uploader(key="train.upload.1").set_value(("good.msgpack", hostile_checkpoint, "x/y")).run()
    assert not app.exception
    assert not any("Could not load" in e.value for e in app.error)
    assert state(app).runs[-1].label.endswith("loaded from good.msgpack")


def test_the_train_page_lists_damaged_runs_and_start_up_removes_leftovers(tmp_path, monkeypatch, small):
    import json
    import os
    import time

    from core.runs import store

    monkeypatch.setenv(store.ENV_VAR, str(tmp_path))
    run = store.save_run(train(ModelSpec.mlp((8,)), TrainConfig(epochs=1, batch_size=64), small), tmp_path)
    summary_path = tmp_path / f"{run.run_id}.json"
    summary = json.loads(summary_path.read_text())
    summary.update(created="yesterday", epochs_done=10**30, dataset=LINK)
    summary_path.write_text(json.dumps(summary))
    leftover = tmp_path / f".{run.run_id}.msgpack.x7y8z9.tmp"
    leftover.write_bytes(b"\0" * 4096)
    os.utime(leftover, (time.time() - 3600, time.time() - 3600))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_S)
    at.run()  # the process set-up runs here (caches are cleared before each test)
    assert not leftover.exists()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("Saved runs on this computer (1)" in e.label for e in at.get("expander"))
