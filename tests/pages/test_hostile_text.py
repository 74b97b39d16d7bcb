"""Strangers' text (a shared link's values, an uploaded checkpoint's name and contents) is shown as text:
rendered as markdown it must give no link and no image, and it is cut short."""

from __future__ import annotations

import dataclasses

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from tests.pages.conftest import ROOT
from tests.support import state

LINK = "[Log in again](http://evil)"
IMAGE = "![x](http://evil/x.png)"
RENDER = MarkdownIt("commonmark")


def _rendered(at) -> list[str]:
    """The HTML a browser would get from every markdown-bearing element on the page."""
    bodies = []
    for kind in ("markdown", "info", "warning", "error", "caption", "success"):
        bodies += [element.value for element in at.get(kind)]
    # GitHub-style markdown also turns a bare address into a link: none may stay unescaped
    assert not any("http://evil" in body for body in bodies), bodies
    return [RENDER.render(body) for body in bodies]


def _assert_no_link_or_image(at) -> None:
    pages = _rendered(at)
    assert any("evil" in html for html in pages), "the hostile value should be echoed, as text"
    for html in pages:
        assert "<a " not in html and "<img" not in html, html


@pytest.mark.parametrize("value", [LINK, IMAGE, f"64.relu-{LINK}", f"{IMAGE} {LINK} <b>x</b>"])
@pytest.mark.parametrize("key", ["layers", "data", "opt"])
def test_a_hostile_link_value_is_echoed_as_text(key, value):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params[key] = value
    at.run()
    assert not at.exception
    assert any("not valid" in i.value for i in at.info)
    _assert_no_link_or_image(at)


def test_a_long_link_value_is_not_echoed_whole():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["data"] = "A" * 50_000
    at.run()
    assert not at.exception
    notice = next(i.value for i in at.info if "not valid" in i.value)
    assert len(notice) < 400 and "50,000 characters" in notice


def test_a_link_with_one_setting_uses_defaults_for_the_rest():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["lr"] = "0.01"
    at.run()
    assert not at.exception
    assert state(at).config.learning_rate == 0.01
    assert [layer.width for layer in state(at).spec.hidden] == [512, 256]


@pytest.fixture(scope="module")
def hostile_checkpoint(small) -> bytes:
    """A real checkpoint whose dataset name is a stranger's markdown."""
    result = train(ModelSpec.mlp((16,)), TrainConfig(epochs=1, batch_size=64), small)
    return checkpoint.to_bytes(dataclasses.replace(result, dataset=IMAGE + " " + LINK))


def test_an_uploaded_checkpoint_with_hostile_names_is_shown_as_text(app, hostile_checkpoint):
    app.switch_page("pages/train.py").run()
    name = f"{LINK}{IMAGE}.msgpack"
    app.get("file_uploader")[0].set_value((name, hostile_checkpoint, "application/octet-stream")).run()
    assert not app.exception
    assert state(app).runs and state(app).runs[-1].dataset.startswith("![x]")
    _assert_no_link_or_image(app)
    app.switch_page("pages/results.py").run()  # the run's data is not here: a warning names it
    assert not app.exception
    assert any("not available here" in w.value for w in app.warning)
    _assert_no_link_or_image(app)


def test_a_refused_upload_names_the_file_as_text(app):
    app.switch_page("pages/train.py").run()
    name = f"{'A' * 200}{LINK}.msgpack"
    app.get("file_uploader")[0].set_value((name, b"not a checkpoint", "application/octet-stream")).run()
    assert not app.exception
    message = next(e.value for e in app.error if "Could not load" in e.value)
    assert "A" * 200 not in message and "…" in message
    for html in _rendered(app):
        assert "<a " not in html and "<img" not in html, html


def test_a_refused_checkpoint_leaves_the_uploader_and_its_reason_stays_until_the_next_upload(app, hostile_checkpoint):
    app.switch_page("pages/train.py").run()
    app.file_uploader(key="train.upload.0").set_value(("bad.msgpack", b"not a checkpoint", "x/y")).run()
    assert not app.exception
    # a fresh uploader without the file (the old widget and its file are gone), the reason under it
    assert [u.key for u in app.file_uploader] == ["train.upload.1"] and app.file_uploader[0].value is None
    assert "train.upload.0" not in app.session_state
    [reason] = [e.value for e in app.error if "Could not load" in e.value]
    assert reason.startswith(r"Could not load bad\.msgpack: bad\.msgpack is not a checkpoint of this tool")
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
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()  # the process set-up runs here (caches are cleared before each test)
    assert not leftover.exists()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("Saved runs on this computer (1)" in e.label for e in at.get("expander"))
