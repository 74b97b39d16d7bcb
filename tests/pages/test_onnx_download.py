"""The Train page's ONNX download: prepared on a click, checked, offered with the check in words; refused
with the reason when it cannot be checked or fails the check. Every kind of run gets it: finished, stopped,
loaded, or a width sweep's model made current (which keeps no optimizer state)."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import zipfile

import pytest

from components.i18n import speaking
from components.sweep_views import make_current
from core import models, onnx_export
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from core.training.sweep import SweepPlan, run_sweep
from testkit.support import select_trained, state


@pytest.fixture
def converter_in_this_process(monkeypatch):
    """The child process's conversion (``convert_checkpoint``) done in this one: each child imports jax and
    jax2onnx anew (some seconds), and nothing trains meanwhile here. Only the first case below converts in
    a child process, as the page does."""
    monkeypatch.setattr(onnx_export, "run_converter", onnx_export.convert_checkpoint)


def _prepare(app, result=None, dataset: str = "sample"):
    """Open the Train page on ``result`` (or on the run already selected) and click *Prepare ONNX*."""
    if result is not None:
        select_trained(app, result)
    state(app).runs[-1].dataset = dataset  # a run trained on the tests' "small" is checked on the sample's images
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert _onnx_downloads(app) == []  # built only on request
    app.button(key="train.prepare_onnx").click().run()
    assert not app.exception


def _onnx_downloads(app) -> list:
    return [b for b in app.get("download_button") if b.key == "train.download_onnx"]


def _check_caption(app) -> str:
    return next(c.value for c in app.caption if c.value.startswith("Checked with onnxruntime"))


@pytest.mark.parametrize(
    ("spec", "file_name", "words", "child_process"),
    [
        (ModelSpec.mlp("32"), "run1.onnx", "and it predicts the same class for every image.", True),
        (ModelSpec.autoencoder((32, 4), (32,)), "run1-onnx.zip", "(allowed: 0.0001).", False),
    ],
    ids=["classifier", "autoencoder"],
)
def test_prepare_onnx_offers_the_checked_file(app, small, request, spec, file_name, words, child_process):
    if not child_process:
        request.getfixturevalue("converter_in_this_process")
    result = train(spec, TrainConfig(epochs=1), small)
    _prepare(app, result)
    labels = [b.proto.label for b in app.get("download_button")]
    assert {"Download checkpoint", "Download ONNX"} <= set(labels)
    check = _check_caption(app)
    assert "on 500 test images" in check and check.endswith(words)
    kept = state(app).train.onnx[1]
    assert kept.check.passed and kept.check.max_abs_difference < 1e-4
    name, data, _ = kept.download("run1")
    assert name == file_name
    if name.endswith(".zip"):
        archive = zipfile.ZipFile(io.BytesIO(data))
        assert sorted(archive.namelist()) == ["check.json", "run1.decode.onnx", "run1.encode.onnx", "run1.onnx"]
        assert json.loads(archive.read("check.json"))["images"] == 500
    app.run()  # prepared once: a rerun offers the same file without converting again
    assert state(app).train.onnx[1] is kept and [b.proto.label for b in app.get("download_button")] == labels


def test_a_stopped_run_gets_its_checked_file(app, small, converter_in_this_process):
    stop = threading.Event()

    def stop_after_the_first_steps(progress) -> None:
        if progress.step:
            stop.set()

    result = train(ModelSpec.mlp("16"), TrainConfig(epochs=3), small, on_progress=stop_after_the_first_steps, stop=stop)
    assert result.status == "stopped" and 0 < result.steps < 3 * 8
    _prepare(app, result)
    assert state(app).runs[-1].status == "stopped"
    assert len(_onnx_downloads(app)) == 1 and state(app).train.onnx[1].check.passed
    assert _check_caption(app).endswith("and it predicts the same class for every image.")


def test_a_sweep_model_made_current_gets_its_checked_file(app, small, converter_in_this_process):
    [point] = run_sweep(SweepPlan(ModelSpec.mlp("16"), 0, (8,), (0,), TrainConfig(epochs=1)), small)
    assert point.kept and point.result.opt_state is None
    with speaking("en"):  # as the Width sweep page's "Use this model" does
        run = make_current(state(app), state(app).sweep, 1, point)
    assert state(app).selected_run_id == run.run_id and not run.can_continue
    _prepare(app)
    assert len(_onnx_downloads(app)) == 1 and state(app).train.onnx[1].check.passed
    assert state(app).train.onnx[1].spec == ModelSpec.mlp("8")
    assert _check_caption(app).endswith("and it predicts the same class for every image.")


def test_an_export_that_fails_the_check_is_refused_in_the_visitors_words(app, small, monkeypatch):
    spec = ModelSpec.mlp("16")
    result = train(spec, TrainConfig(epochs=1), small)
    other = dataclasses.replace(result, params=models.init_variables(spec.replace(seed=7))["params"], opt_state=None)
    other_weights = checkpoint.to_bytes(other)
    monkeypatch.setattr(onnx_export, "run_converter", lambda _: onnx_export.convert_checkpoint(other_weights))
    app.session_state["i18n.language"] = "ja"
    _prepare(app, result)
    [refused] = [w.value for w in app.warning if w.value.startswith("この学習の ONNX ファイルはありません")]
    assert "書き出したモデルは使えません。flax のモデルと一致しません。onnxruntime でテスト画像 500 枚" in refused
    assert "枚で別のクラスを予測します" in refused and "Checked" not in refused
    assert _onnx_downloads(app) == [] and "train.download" in [b.key for b in app.get("download_button")]
    assert isinstance(state(app).train.onnx[1], str)


def test_a_run_whose_test_images_are_gone_gets_no_file_and_the_reason(app, small):
    result = train(ModelSpec.mlp("16"), TrainConfig(epochs=1), small)
    _prepare(app, result, dataset="idx:/nonexistent-onnx-check-folder")
    [warning] = [w.value for w in app.warning if w.value.startswith("No ONNX file")]
    assert "test images" in warning and "cannot be loaded" in warning
    labels = [b.proto.label for b in app.get("download_button")]
    assert "Download checkpoint" in labels and "Download ONNX" not in labels
