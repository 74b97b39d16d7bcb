"""The Train page's ONNX download: prepared on a click, checked, offered with the check in words; refused
with the reason when it cannot be checked."""

from __future__ import annotations

import io
import zipfile

import pytest

from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.support import button, select_trained, state


def _prepare(app, result, dataset: str = "sample"):
    select_trained(app, result)
    if dataset != "sample":
        state(app).runs[-1].dataset = dataset
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert not app.get("download_button") or all(
        b.proto.label != "Download ONNX" for b in app.get("download_button")
    )  # built only on request
    button(app, "Prepare ONNX").click().run()
    assert not app.exception


@pytest.mark.parametrize(
    ("spec", "file_name", "words"),
    [
        (ModelSpec.mlp("32"), "run1.onnx", "and it predicts the same class for every image."),
        (ModelSpec.autoencoder((32, 4), (32,)), "run1-onnx.zip", "(allowed: 0.0001)."),
    ],
    ids=["classifier", "autoencoder"],
)
def test_prepare_onnx_offers_the_checked_file(app, sample, spec, file_name, words):
    result = train(spec, TrainConfig(epochs=1), sample)
    _prepare(app, result)
    labels = [b.proto.label for b in app.get("download_button")]
    assert {"Download checkpoint", "Download ONNX"} <= set(labels)
    check = next(c.value for c in app.caption if c.value.startswith("Checked with onnxruntime"))
    assert "on 500 test images" in check and check.endswith(words)
    kept = state(app).train.onnx[1]
    assert kept.check.passed and kept.check.max_abs_difference < 1e-4
    name, data, _ = kept.download("run1")
    assert name == file_name
    if name.endswith(".zip"):
        assert sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()) == ["run1.decode.onnx", "run1.encode.onnx",
                                                                       "run1.onnx"]  # fmt: skip
    app.run()  # prepared once: a rerun offers the same file without converting again
    assert state(app).train.onnx[1] is kept and [b.proto.label for b in app.get("download_button")] == labels


def test_a_run_whose_test_images_are_gone_gets_no_file_and_the_reason(app, sample):
    result = train(ModelSpec.mlp("16"), TrainConfig(epochs=1), sample)
    _prepare(app, result, dataset="idx:/nonexistent-onnx-check-folder")
    assert not app.exception
    [warning] = [w.value for w in app.warning if w.value.startswith("No ONNX file")]
    assert "test images" in warning and "cannot be loaded" in warning
    labels = [b.proto.label for b in app.get("download_button")]
    assert "Download checkpoint" in labels and "Download ONNX" not in labels
